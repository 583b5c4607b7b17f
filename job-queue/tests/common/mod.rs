//! A fresh PostgreSQL database per test, with the platform migrations applied.
#![allow(dead_code)]

use std::{future::Future, time::Duration};

use job_queue::{run_workers, JobRecord, JobState, Queue, Registry, WorkerConfig};
use sqlx::{postgres::PgPoolOptions, Connection, Executor, PgConnection, PgPool};
use tokio::{sync::oneshot, task::JoinHandle};
use uuid::Uuid;

/// The server, without a database name (`TEST_DATABASE_URL`, default local trust auth).
pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

pub struct TestDb {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
}

impl TestDb {
    /// Creates `jq_test_<random>` and migrates it.
    pub async fn new() -> Self {
        // Queue logs go to the test's captured output (shown when a test fails).
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "job_queue=debug".into()),
            )
            .with_test_writer()
            .try_init();
        let name = format!("jq_test_{}", Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&format!("{}/postgres", server_url()))
            .await
            .expect("connect to PostgreSQL (set TEST_DATABASE_URL)");
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create test database");
        admin.close().await.ok();
        let url = format!("{}/{name}", server_url());
        let pool = PgPoolOptions::new()
            .max_connections(20)
            .connect(&url)
            .await
            .expect("connect to test database");
        sqlx::migrate!("../migrations")
            .run(&pool)
            .await
            .expect("apply migrations");
        Self { name, url, pool }
    }

    pub fn queue(&self) -> Queue {
        Queue::new(self.pool.clone())
    }

    /// Closes the pool and drops the database.
    pub async fn drop(self) {
        self.pool.close().await;
        let mut admin = PgConnection::connect(&format!("{}/postgres", server_url()))
            .await
            .expect("connect to PostgreSQL");
        admin
            .execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str())
            .await
            .expect("drop test database");
        admin.close().await.ok();
    }
}

/// Workers tuned for tests: short polls, leases and backoff.
pub fn test_config() -> WorkerConfig {
    WorkerConfig {
        concurrency: 4,
        lease: Duration::from_secs(3),
        poll_interval: Duration::from_millis(250),
        backoff_base: Duration::from_millis(50),
        backoff_max: Duration::from_secs(2),
        batch: 8,
        shutdown_grace: Duration::from_secs(10),
        ..WorkerConfig::default()
    }
}

/// Workers running in the background until `stop`.
pub struct Workers {
    stop: Option<oneshot::Sender<()>>,
    handle: JoinHandle<Result<(), job_queue::QueueError>>,
}

impl Workers {
    pub fn start(pool: &PgPool, registry: Registry, config: WorkerConfig) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(run_workers(pool.clone(), registry, config, async move {
            let _ = stopped.await;
        }));
        Self {
            stop: Some(stop),
            handle,
        }
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.handle)
            .await
            .expect("workers task")
            .expect("workers ran");
    }
}

/// Polls `check` every 20 ms until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = tokio::time::Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until job `id` is in `state`.
pub async fn wait_for_state(queue: &Queue, id: Uuid, state: JobState) -> JobRecord {
    eventually(
        Duration::from_secs(30),
        &format!("job {id} to be {state}"),
        || async {
            queue
                .get(id)
                .await
                .expect("get job")
                .filter(|j| j.state == state)
        },
    )
    .await
}
