//! A real worker process, SIGKILLed in the middle of a job: the job is reclaimed once its
//! lease expires and finished by another worker, and its idempotent steps take effect
//! exactly once.
//!
//! The worker process is this test binary run again with `JQ_CHILD_DB` set, running only
//! `child_worker_process` (which does nothing in a normal test run).

mod common;

use std::{process::Stdio, time::Duration};

use common::{eventually, test_config, wait_for_state, TestDb, Workers};
use job_queue::{handler_fn, JobContext, JobError, JobState, NewJob, Registry, WorkerConfig};
use serde_json::json;
use sqlx::postgres::PgPoolOptions;

const CHILD_DB: &str = "JQ_CHILD_DB";

/// Three steps, each idempotent: its effect is keyed by (job, step), so doing a step again
/// after a crash changes nothing. `executions` counts how often a step body ran at all.
async fn three_steps(ctx: JobContext) -> Result<(), JobError> {
    for step in 1..=3 {
        sqlx::query("INSERT INTO executions (job_id, step, attempt) VALUES ($1, $2, $3)")
            .bind(ctx.id)
            .bind(step)
            .bind(ctx.attempt)
            .execute(ctx.pool())
            .await?;
        sqlx::query(
            "INSERT INTO effects (job_id, step) VALUES ($1, $2) ON CONFLICT (job_id, step) DO NOTHING",
        )
        .bind(ctx.id)
        .bind(step)
        .execute(ctx.pool())
        .await?;
        ctx.progress(step, 3, &format!("step {step} done")).await?;
        if step == 2 && ctx.attempt == 1 {
            // The first worker is killed here.
            tokio::time::sleep(Duration::from_secs(120)).await;
        }
    }
    Ok(())
}

fn registry() -> Registry {
    let mut registry = Registry::new();
    registry.register("three-steps", handler_fn(three_steps));
    registry
}

#[tokio::test]
async fn child_worker_process() {
    let Ok(url) = std::env::var(CHILD_DB) else {
        return; // only meaningful when started by the test below
    };
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .connect(&url)
        .await
        .expect("child connects");
    let config = WorkerConfig {
        worker_id: "child-worker".into(),
        lease: Duration::from_millis(1500),
        ..test_config()
    };
    job_queue::run_workers(pool, registry(), config, std::future::pending())
        .await
        .expect("child workers");
}

#[tokio::test]
async fn job_of_a_killed_worker_process_is_completed_once_by_another_worker() {
    let db = TestDb::new().await;
    sqlx::query("CREATE TABLE effects (job_id uuid, step int, PRIMARY KEY (job_id, step))")
        .execute(&db.pool)
        .await
        .expect("effects");
    sqlx::query("CREATE TABLE executions (job_id uuid, step int, attempt int)")
        .execute(&db.pool)
        .await
        .expect("executions");
    let queue = db.queue();
    let id = queue
        .enqueue(NewJob::new("three-steps", json!({})))
        .await
        .expect("enqueue");

    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "child_worker_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DB, &db.url)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start worker process");

    // Wait until the child is in the middle of the job: step 2 done, step 3 not started.
    let job = eventually(
        Duration::from_secs(60),
        "child to finish step 2",
        || async {
            queue
                .get(id)
                .await
                .expect("get")
                .filter(|j| j.progress.step == 2)
        },
    )
    .await;
    assert_eq!(job.state, JobState::Running);
    assert_eq!(job.locked_by.as_deref(), Some("child-worker"));

    child.kill().expect("SIGKILL the worker process");
    child.wait().expect("reap the worker process");

    // Another worker (in this process) takes over once the child's lease expires.
    let workers = Workers::start(&db.pool, registry(), test_config());
    let job = wait_for_state(&queue, id, JobState::Succeeded).await;
    workers.stop().await;

    assert_eq!(job.attempts, 2, "the killed attempt counts");
    assert!(
        job.last_error
            .as_deref()
            .is_some_and(|e| e.contains("lease expired: worker child-worker")),
        "{:?}",
        job.last_error
    );
    let effects: Vec<i32> =
        sqlx::query_scalar("SELECT step FROM effects WHERE job_id = $1 ORDER BY step")
            .bind(id)
            .fetch_all(&db.pool)
            .await
            .expect("effects");
    assert_eq!(effects, vec![1, 2, 3], "each step took effect exactly once");
    let runs: Vec<(i32, i32)> = sqlx::query_as(
        "SELECT step, attempt FROM executions WHERE job_id = $1 ORDER BY attempt, step",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await
    .expect("executions");
    // Steps 1 and 2 ran twice (at-least-once delivery), step 3 once.
    assert_eq!(runs, vec![(1, 1), (2, 1), (1, 2), (2, 2), (3, 2)]);
    db.drop().await;
}
