//! No-op job throughput with 4 workers: `cargo bench -p job-queue --bench throughput`.
//!
//! Enqueues 20,000 no-op jobs (one transaction), runs `run_workers` with concurrency 4
//! until all succeeded, and prints jobs/s against the 2,000 jobs/s target and against a
//! baseline measured in the same run: bare claim-one (`UPDATE … SKIP LOCKED`) plus
//! complete-one round trips on a single connection.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use job_queue::{enqueue, handler_fn, run_workers, NewJob, Queue, Registry, WorkerConfig};
use sqlx::{postgres::PgPoolOptions, Connection, Executor, PgConnection};
use tokio::sync::oneshot;
use uuid::Uuid;

const JOBS: i64 = 20_000;
const BASELINE_JOBS: i64 = 2_000;
const TARGET: f64 = 2_000.0;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let server = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
    let name = format!("jq_bench_{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&format!("{server}/postgres")).await?;
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await?;
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .connect(&format!("{server}/{name}"))
        .await?;
    sqlx::migrate!("../migrations").run(&pool).await?;

    let result = bench(&pool).await;
    pool.close().await;
    admin
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await?;
    result
}

async fn bench(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    // Baseline: the two essential round trips per job, one job at a time, one connection.
    let mut tx = pool.begin().await?;
    for _ in 0..BASELINE_JOBS {
        enqueue(&mut *tx, NewJob::new("baseline", serde_json::json!({}))).await?;
    }
    tx.commit().await?;
    let mut conn = pool.acquire().await?;
    let start = Instant::now();
    for _ in 0..BASELINE_JOBS {
        let id: Uuid = sqlx::query_scalar(
            "UPDATE jobs SET state = 'running', locked_by = 'baseline', attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM jobs WHERE state = 'queued' AND run_at <= now() \
             ORDER BY run_at LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id",
        )
        .fetch_one(&mut *conn)
        .await?;
        sqlx::query("UPDATE jobs SET state = 'succeeded', finished_at = now() WHERE id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    let baseline = BASELINE_JOBS as f64 / start.elapsed().as_secs_f64();
    drop(conn);

    let start = Instant::now();
    let mut tx = pool.begin().await?;
    for i in 0..JOBS {
        enqueue(&mut *tx, NewJob::new("noop", serde_json::json!({ "i": i }))).await?;
    }
    tx.commit().await?;
    let enqueue_rate = JOBS as f64 / start.elapsed().as_secs_f64();

    let mut registry = Registry::new();
    registry.register("noop", handler_fn(|_| async { Ok(()) }));
    let config = WorkerConfig {
        concurrency: 4,
        ..WorkerConfig::default()
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let queue = Queue::new(pool.clone());
    let start = Instant::now();
    let workers = tokio::spawn(run_workers(pool.clone(), registry, config, async move {
        let _ = stopped.await;
    }));
    loop {
        let counts = queue.counts().await?;
        if counts.succeeded >= JOBS + BASELINE_JOBS {
            break;
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(300),
            "not done after 300 s: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = start.elapsed();
    let _ = stop.send(());
    workers.await??;
    let rate = JOBS as f64 / elapsed.as_secs_f64();

    println!("enqueue: {JOBS} jobs in one transaction, {enqueue_rate:.0} jobs/s");
    println!("baseline (claim 1 + complete 1 per round trip, 1 connection): {baseline:.0} jobs/s");
    println!(
        "run_workers, 4 workers, no-op: {JOBS} jobs in {:.2} s = {rate:.0} jobs/s",
        elapsed.as_secs_f64()
    );
    println!(
        "ratio: {:.2}x the {TARGET:.0} jobs/s target, {:.2}x the baseline",
        rate / TARGET,
        rate / baseline
    );
    Ok(())
}
