//! The job queue against a real PostgreSQL: one fresh database per test.

mod common;

use std::{sync::Arc, time::Duration};

use common::{eventually, test_config, wait_for_state, TestDb, Workers};
use job_queue::{
    enqueue, handler_fn, JobContext, JobError, JobFilter, JobState, NewJob, QueueError, Registry,
    WorkerConfig,
};
use serde_json::json;
use sqlx::PgPool;
use tokio::sync::{mpsc, Notify};
use uuid::Uuid;

/// A table the handlers write their side effects to.
async fn create_effects(pool: &PgPool) {
    sqlx::query(
        "CREATE TABLE effects (job_id uuid NOT NULL, step int NOT NULL DEFAULT 0, \
         attempt int NOT NULL DEFAULT 0, at timestamptz NOT NULL DEFAULT clock_timestamp(), \
         ended timestamptz)",
    )
    .execute(pool)
    .await
    .expect("create effects");
}

async fn effects_of(pool: &PgPool, job: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM effects WHERE job_id = $1")
        .bind(job)
        .fetch_one(pool)
        .await
        .expect("count effects")
}

async fn record_effect(ctx: &JobContext) -> Result<(), JobError> {
    sqlx::query("INSERT INTO effects (job_id, attempt) VALUES ($1, $2)")
        .bind(ctx.id)
        .bind(ctx.attempt)
        .execute(ctx.pool())
        .await?;
    Ok(())
}

fn registry_with(kind: &str, handler: Arc<dyn job_queue::Handler>) -> Registry {
    let mut registry = Registry::new();
    registry.register(kind, handler);
    registry
}

#[tokio::test]
async fn enqueue_in_rolled_back_transaction_leaves_no_job_and_committed_leaves_one() {
    let db = TestDb::new().await;
    let queue = db.queue();

    let mut tx = db.pool.begin().await.expect("begin");
    let lost = enqueue(&mut *tx, NewJob::new("provision", json!({"tenant": "a"})))
        .await
        .expect("enqueue");
    tx.rollback().await.expect("rollback");
    assert_eq!(queue.get(lost).await.expect("get"), None);

    let mut tx = db.pool.begin().await.expect("begin");
    let kept = enqueue(&mut *tx, NewJob::new("provision", json!({"tenant": "b"})))
        .await
        .expect("enqueue");
    tx.commit().await.expect("commit");
    let job = queue.get(kept).await.expect("get").expect("job exists");
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(job.payload, json!({"tenant": "b"}));
    assert_eq!(job.max_attempts, 5);
    assert_eq!(queue.counts().await.expect("counts").queued, 1);
    db.drop().await;
}

#[tokio::test]
async fn second_enqueue_with_same_dedupe_key_returns_the_unfinished_job() {
    let db = TestDb::new().await;
    let queue = db.queue();
    let first = queue
        .enqueue(NewJob::new("backup", json!({})).with_dedupe_key("backup:acme"))
        .await
        .expect("enqueue");
    let second = queue
        .enqueue(NewJob::new("backup", json!({"other": 1})).with_dedupe_key("backup:acme"))
        .await
        .expect("enqueue again");
    assert_eq!(first, second);

    // Once the first is finished, the key is free again.
    queue.cancel(first).await.expect("cancel");
    let third = queue
        .enqueue(NewJob::new("backup", json!({})).with_dedupe_key("backup:acme"))
        .await
        .expect("enqueue after finish");
    assert_ne!(third, first);
    // Retrying the cancelled one would make two unfinished jobs with one key.
    assert!(matches!(
        queue.retry(first).await,
        Err(QueueError::DuplicateKey { .. })
    ));
    db.drop().await;
}

#[tokio::test]
async fn many_workers_run_each_job_exactly_once() {
    let db = TestDb::new().await;
    create_effects(&db.pool).await;
    let queue = db.queue();
    let jobs = 400;
    let mut tx = db.pool.begin().await.expect("begin");
    for i in 0..jobs {
        enqueue(&mut *tx, NewJob::new("count", json!({ "i": i })))
            .await
            .expect("enqueue");
    }
    tx.commit().await.expect("commit");

    // Four independent worker groups (four "processes"), four slots each.
    let mut groups = Vec::new();
    for n in 0..4 {
        let registry = registry_with(
            "count",
            handler_fn(|ctx| async move { record_effect(&ctx).await }),
        );
        let config = WorkerConfig {
            worker_id: format!("group-{n}"),
            batch: 3,
            ..test_config()
        };
        groups.push(Workers::start(&db.pool, registry, config));
    }
    eventually(Duration::from_secs(60), "all jobs succeeded", || async {
        let counts = queue.counts().await.expect("counts");
        (counts.succeeded == jobs).then_some(())
    })
    .await;
    for group in groups {
        group.stop().await;
    }

    let (rows, distinct): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT job_id) FROM effects")
            .fetch_one(&db.pool)
            .await
            .expect("effects");
    assert_eq!((rows, distinct), (jobs, jobs), "each job ran exactly once");
    let runners: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE attempts <> 1")
        .fetch_one(&db.pool)
        .await
        .expect("attempts");
    assert_eq!(runners, 0);
    db.drop().await;
}

#[tokio::test]
async fn job_failing_twice_then_succeeding_backs_off_more_each_time() {
    let db = TestDb::new().await;
    create_effects(&db.pool).await;
    let queue = db.queue();
    let registry = registry_with(
        "flaky",
        handler_fn(|ctx| async move {
            // `at` is when this attempt was due (the job's run_at), `ended` when it failed.
            sqlx::query(
                "INSERT INTO effects (job_id, attempt, at) \
                 SELECT id, $2, run_at FROM jobs WHERE id = $1",
            )
            .bind(ctx.id)
            .bind(ctx.attempt)
            .execute(ctx.pool())
            .await?;
            if ctx.attempt < 3 {
                sqlx::query(
                    "UPDATE effects SET ended = clock_timestamp() WHERE job_id = $1 AND attempt = $2",
                )
                .bind(ctx.id)
                .bind(ctx.attempt)
                .execute(ctx.pool())
                .await?;
                return Err(JobError::Retry(format!("flaky failure {}", ctx.attempt)));
            }
            Ok(())
        }),
    );
    let config = WorkerConfig {
        backoff_base: Duration::from_millis(300),
        poll_interval: Duration::from_secs(5),
        ..test_config()
    };
    let workers = Workers::start(&db.pool, registry, config);
    let id = queue
        .enqueue(NewJob::new("flaky", json!({})))
        .await
        .expect("enqueue");
    let job = wait_for_state(&queue, id, JobState::Succeeded).await;
    workers.stop().await;

    assert_eq!(job.attempts, 3);
    assert_eq!(job.last_error.as_deref(), Some("flaky failure 2"));
    // The delay before each retry: its run_at minus the end of the failed attempt.
    let delays: Vec<chrono::Duration> = sqlx::query_scalar(
        "SELECT (next.at - prev.ended) FROM effects prev \
         JOIN effects next ON next.job_id = prev.job_id AND next.attempt = prev.attempt + 1 \
         WHERE prev.job_id = $1 ORDER BY prev.attempt",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await
    .expect("effects")
    .into_iter()
    .map(|d: sqlx::postgres::types::PgInterval| chrono::Duration::microseconds(d.microseconds))
    .collect();
    eprintln!(
        "delays {delays:?} created {} finished {:?}",
        job.created_at, job.finished_at
    );
    assert_eq!(delays.len(), 2);
    // Backoff: 300 ms ±20 %, then 600 ms ±20 % (less the few ms to record the failure).
    assert!(
        delays[0] >= chrono::Duration::milliseconds(200)
            && delays[0] <= chrono::Duration::milliseconds(360),
        "{delays:?}"
    );
    assert!(delays[1] > delays[0], "{delays:?}");
    db.drop().await;
}

#[tokio::test]
async fn a_waiting_job_is_queued_again_without_spending_its_attempts() {
    let db = TestDb::new().await;
    create_effects(&db.pool).await;
    let queue = db.queue();
    sqlx::query("CREATE TABLE gate (open bool NOT NULL)")
        .execute(&db.pool)
        .await
        .expect("gate");
    let registry = registry_with(
        "waits",
        handler_fn(|ctx| async move {
            record_effect(&ctx).await?;
            let open: Option<bool> = sqlx::query_scalar("SELECT open FROM gate")
                .fetch_optional(ctx.pool())
                .await?;
            if open == Some(true) {
                Ok(())
            } else {
                Err(JobError::snooze(
                    "the template is being built",
                    Duration::from_millis(50),
                ))
            }
        }),
    );
    let workers = Workers::start(&db.pool, registry, test_config());
    // Two attempts only: many more runs than that must still not make it dead.
    let id = queue
        .enqueue(NewJob::new("waits", json!({})).with_max_attempts(2))
        .await
        .expect("enqueue");
    eventually(Duration::from_secs(10), "five waiting runs", || async {
        (effects_of(&db.pool, id).await >= 5).then_some(())
    })
    .await;
    let waiting = queue.get(id).await.expect("get").expect("job");
    assert!(
        matches!(waiting.state, JobState::Queued | JobState::Running),
        "{waiting:?}"
    );
    assert!(waiting.attempts <= 1, "{waiting:?}");
    assert_eq!(waiting.last_error, None);
    sqlx::query("INSERT INTO gate VALUES (true)")
        .execute(&db.pool)
        .await
        .expect("open");
    let job = wait_for_state(&queue, id, JobState::Succeeded).await;
    workers.stop().await;
    assert_eq!(job.attempts, 1, "only the run that worked counts");
    assert_eq!(job.last_error, None);
    let attempts: Vec<i32> =
        sqlx::query_scalar("SELECT DISTINCT attempt FROM effects WHERE job_id = $1")
            .bind(id)
            .fetch_all(&db.pool)
            .await
            .expect("effects");
    assert_eq!(attempts, [1], "every run was attempt 1");
    db.drop().await;
}

#[tokio::test]
async fn a_waiting_job_shows_what_it_waits_for() {
    let db = TestDb::new().await;
    let queue = db.queue();
    let registry = registry_with(
        "waits-long",
        handler_fn(|_ctx| async move {
            Err(JobError::snooze(
                "the template is being built",
                Duration::from_secs(60),
            ))
        }),
    );
    let workers = Workers::start(&db.pool, registry, test_config());
    let id = queue
        .enqueue(NewJob::new("waits-long", json!({})))
        .await
        .expect("enqueue");
    let job = eventually(Duration::from_secs(10), "the job waiting", || async {
        queue
            .get(id)
            .await
            .expect("get")
            .filter(|j| j.progress.label.starts_with("waiting:"))
    })
    .await;
    workers.stop().await;
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(job.progress.label, "waiting: the template is being built");
    assert_eq!(job.attempts, 0);
    assert!(job.run_at > chrono::Utc::now() + chrono::Duration::seconds(30));
    assert_eq!(job.locked_by, None);
    assert_eq!(job.finished_at, None);
    db.drop().await;
}

#[tokio::test]
async fn an_outage_longer_than_the_attempts_allow_is_waited_out_without_spending_them() {
    let db = TestDb::new().await;
    create_effects(&db.pool).await;
    let queue = db.queue();
    sqlx::query("CREATE TABLE odoo (up bool NOT NULL)")
        .execute(&db.pool)
        .await
        .expect("odoo");
    let registry = registry_with(
        "needs-odoo",
        handler_fn(|ctx| async move {
            record_effect(&ctx).await?;
            let up: Option<bool> = sqlx::query_scalar("SELECT up FROM odoo")
                .fetch_optional(ctx.pool())
                .await?;
            if up == Some(true) {
                Ok(())
            } else {
                Err(JobError::unavailable("Odoo", "connection refused"))
            }
        }),
    );
    let workers = Workers::start(
        &db.pool,
        registry,
        WorkerConfig {
            unavailable_window: Duration::from_secs(60),
            unavailable_backoff_max: Duration::from_millis(100),
            ..test_config()
        },
    );
    // Two attempts: an outage of many tries must neither spend them nor kill the job.
    let id = queue
        .enqueue(NewJob::new("needs-odoo", json!({})).with_max_attempts(2))
        .await
        .expect("enqueue");
    let waiting = eventually(Duration::from_secs(20), "eight tries", || async {
        if effects_of(&db.pool, id).await < 8 {
            return None;
        }
        queue
            .get(id)
            .await
            .expect("get")
            .filter(|j| j.state == JobState::Queued)
    })
    .await;
    assert_eq!(
        waiting.progress.label,
        "waiting for Odoo: connection refused"
    );
    assert_eq!(waiting.last_error, None, "a wait is not shown as a failure");
    assert_eq!(waiting.attempts, 0);
    assert!(waiting.unavailable_since.is_some());
    sqlx::query("INSERT INTO odoo VALUES (true)")
        .execute(&db.pool)
        .await
        .expect("odoo back");
    let job = wait_for_state(&queue, id, JobState::Succeeded).await;
    workers.stop().await;
    assert_eq!(job.attempts, 1);
    assert_eq!(job.unavailable_since, None, "the outage is over");
    db.drop().await;
}

#[tokio::test]
async fn an_outage_past_the_retry_window_ends_the_job_dead() {
    let db = TestDb::new().await;
    let queue = db.queue();
    let registry = registry_with(
        "needs-odoo",
        handler_fn(|ctx| async move {
            let err = JobError::unavailable("Odoo", "connection refused");
            // The handler knows in advance whether the queue gives up on this error.
            if ctx.is_final(&err) {
                sqlx::query("CREATE TABLE IF NOT EXISTS gave_up (at timestamptz)")
                    .execute(ctx.pool())
                    .await?;
                sqlx::query("INSERT INTO gave_up VALUES (now())")
                    .execute(ctx.pool())
                    .await?;
            }
            Err(err)
        }),
    );
    let workers = Workers::start(
        &db.pool,
        registry,
        WorkerConfig {
            unavailable_window: Duration::from_secs(60),
            unavailable_backoff_max: Duration::from_millis(100),
            ..test_config()
        },
    );
    let id = queue
        .enqueue(NewJob::new("needs-odoo", json!({})))
        .await
        .expect("enqueue");
    eventually(Duration::from_secs(10), "the job waiting", || async {
        queue
            .get(id)
            .await
            .expect("get")
            .filter(|j| j.unavailable_since.is_some())
    })
    .await;
    // An hour of outage, in the database's clock: the next try is past the window.
    sqlx::query("UPDATE jobs SET unavailable_since = now() - interval '61 seconds' WHERE id = $1")
        .bind(id)
        .execute(&db.pool)
        .await
        .expect("move the clock");
    let job = wait_for_state(&queue, id, JobState::Dead).await;
    workers.stop().await;
    let error = job.last_error.unwrap_or_default();
    assert!(
        error.starts_with("Odoo was unavailable for 1 min, longer than the retry window"),
        "{error}"
    );
    assert!(error.ends_with("connection refused"), "{error}");
    let gave_up: i64 = sqlx::query_scalar("SELECT count(*) FROM gave_up")
        .fetch_one(&db.pool)
        .await
        .expect("gave up");
    assert_eq!(gave_up, 1, "is_final said so on the last try only");
    db.drop().await;
}

#[tokio::test]
async fn job_out_of_attempts_is_dead_with_its_last_error() {
    let db = TestDb::new().await;
    let queue = db.queue();
    let registry = registry_with(
        "always-fails",
        handler_fn(|ctx| async move {
            Err(JobError::Retry(format!(
                "Odoo answered 502 (attempt {})",
                ctx.attempt
            )))
        }),
    );
    let workers = Workers::start(&db.pool, registry, test_config());
    let id = queue
        .enqueue(NewJob::new("always-fails", json!({})).with_max_attempts(3))
        .await
        .expect("enqueue");
    let job = wait_for_state(&queue, id, JobState::Dead).await;
    workers.stop().await;
    assert_eq!(job.attempts, 3);
    let error = job.last_error.expect("last error");
    assert!(error.contains("Odoo answered 502 (attempt 3)"), "{error}");
    assert!(job.finished_at.is_some());
    assert_eq!(job.locked_by, None);
    db.drop().await;
}

#[tokio::test]
async fn permanent_error_is_dead_at_once() {
    let db = TestDb::new().await;
    let queue = db.queue();
    let registry = registry_with(
        "bad-input",
        handler_fn(|ctx| async move {
            #[derive(serde::Deserialize)]
            #[allow(dead_code)]
            struct Input {
                tenant_slug: String,
            }
            let _: Input = ctx.payload()?;
            Ok(())
        }),
    );
    let workers = Workers::start(&db.pool, registry, test_config());
    let id = queue
        .enqueue(NewJob::new("bad-input", json!({"wrong": true})))
        .await
        .expect("enqueue");
    let job = wait_for_state(&queue, id, JobState::Dead).await;
    workers.stop().await;
    assert_eq!(job.attempts, 1);
    assert!(job
        .last_error
        .as_deref()
        .is_some_and(|e| e.contains("tenant_slug")));
    db.drop().await;
}

#[tokio::test]
async fn job_of_unknown_kind_is_dead_with_a_clear_error() {
    let db = TestDb::new().await;
    let queue = db.queue();
    let workers = Workers::start(&db.pool, Registry::new(), test_config());
    let id = queue
        .enqueue(NewJob::new("no-such-kind", json!({})))
        .await
        .expect("enqueue");
    let job = wait_for_state(&queue, id, JobState::Dead).await;
    workers.stop().await;
    let error = job.last_error.expect("error");
    assert!(
        error.contains("no handler registered for job kind \"no-such-kind\""),
        "{error}"
    );
    db.drop().await;
}

#[tokio::test]
async fn handler_panic_counts_as_a_failed_attempt_and_the_worker_goes_on() {
    let db = TestDb::new().await;
    let queue = db.queue();
    let registry = registry_with(
        "panics-once",
        handler_fn(|ctx| async move {
            if ctx.attempt == 1 {
                panic!("index out of bounds in step 1");
            }
            Ok(())
        }),
    );
    let workers = Workers::start(&db.pool, registry, test_config());
    let id = queue
        .enqueue(NewJob::new("panics-once", json!({})))
        .await
        .expect("enqueue");
    let job = wait_for_state(&queue, id, JobState::Succeeded).await;
    workers.stop().await;
    assert_eq!(job.attempts, 2);
    let error = job.last_error.expect("error of the first attempt");
    assert!(
        error.contains("handler panicked: index out of bounds"),
        "{error}"
    );
    db.drop().await;
}

#[tokio::test]
async fn cancelling_a_queued_job_cancels_it_and_finished_jobs_refuse() {
    let db = TestDb::new().await;
    let queue = db.queue();
    let id = queue
        .enqueue(
            NewJob::new("later", json!({})).run_at(chrono::Utc::now() + chrono::Duration::hours(1)),
        )
        .await
        .expect("enqueue");
    let job = queue.cancel(id).await.expect("cancel");
    assert_eq!(job.state, JobState::Cancelled);
    assert!(job.finished_at.is_some());
    match queue.cancel(id).await {
        Err(QueueError::IllegalTransition { state, action, .. }) => {
            assert_eq!((state, action), (JobState::Cancelled, "cancel"));
        }
        other => panic!("expected IllegalTransition, got {other:?}"),
    }
    assert!(matches!(
        queue.cancel(Uuid::new_v4()).await,
        Err(QueueError::NotFound(_))
    ));
    // Cancelled jobs never run.
    let ran = Arc::new(Notify::new());
    let seen = ran.clone();
    let registry = registry_with(
        "later",
        handler_fn(move |_| {
            let seen = seen.clone();
            async move {
                seen.notify_one();
                Ok(())
            }
        }),
    );
    sqlx::query("UPDATE jobs SET run_at = now() WHERE id = $1")
        .bind(id)
        .execute(&db.pool)
        .await
        .expect("make due");
    let workers = Workers::start(&db.pool, registry, test_config());
    let ran_anyway = tokio::time::timeout(Duration::from_millis(800), ran.notified()).await;
    workers.stop().await;
    assert!(ran_anyway.is_err(), "a cancelled job ran");
    db.drop().await;
}

#[tokio::test]
async fn cancelling_a_running_job_asks_its_handler_to_stop() {
    let db = TestDb::new().await;
    let queue = db.queue();
    let (started_tx, mut started) = mpsc::channel::<()>(1);
    let registry = registry_with(
        "long",
        handler_fn(move |ctx| {
            let started_tx = started_tx.clone();
            async move {
                let _ = started_tx.send(()).await;
                for step in 1..=600 {
                    if ctx.cancel_requested().await {
                        return Err(JobError::Cancelled);
                    }
                    ctx.progress(step, 600, "copying filestore").await?;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Ok(())
            }
        }),
    );
    let workers = Workers::start(&db.pool, registry, test_config());
    let id = queue
        .enqueue(NewJob::new("long", json!({})))
        .await
        .expect("enqueue");
    started.recv().await.expect("handler started");
    let job = queue.cancel(id).await.expect("cancel");
    assert_eq!(job.state, JobState::Running);
    assert!(job.cancel_requested);
    let job = wait_for_state(&queue, id, JobState::Cancelled).await;
    workers.stop().await;
    assert!(job.progress.step < 600);
    db.drop().await;
}

#[tokio::test]
async fn retrying_a_dead_job_runs_it_again_with_attempts_reset() {
    let db = TestDb::new().await;
    let queue = db.queue();
    let fixed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let is_fixed = fixed.clone();
    let registry = registry_with(
        "needs-fix",
        handler_fn(move |_| {
            let is_fixed = is_fixed.clone();
            async move {
                if is_fixed.load(std::sync::atomic::Ordering::SeqCst) {
                    Ok(())
                } else {
                    Err(JobError::Permanent("plan missing".into()))
                }
            }
        }),
    );
    let workers = Workers::start(&db.pool, registry, test_config());
    let id = queue
        .enqueue(NewJob::new("needs-fix", json!({})))
        .await
        .expect("enqueue");
    wait_for_state(&queue, id, JobState::Dead).await;
    assert!(matches!(
        queue.cancel(id).await,
        Err(QueueError::IllegalTransition { .. })
    ));

    fixed.store(true, std::sync::atomic::Ordering::SeqCst);
    let job = queue.retry(id).await.expect("retry");
    assert_eq!((job.state, job.attempts), (JobState::Queued, 0));
    let job = wait_for_state(&queue, id, JobState::Succeeded).await;
    assert_eq!(job.attempts, 1);
    // A succeeded job cannot be retried.
    assert!(matches!(
        queue.retry(id).await,
        Err(QueueError::IllegalTransition {
            state: JobState::Succeeded,
            ..
        })
    ));
    workers.stop().await;
    db.drop().await;
}

#[tokio::test]
async fn job_of_a_dead_worker_is_finished_by_another_once_its_lease_expires() {
    let db = TestDb::new().await;
    create_effects(&db.pool).await;
    let queue = db.queue();
    let id = queue
        .enqueue(NewJob::new("count", json!({})))
        .await
        .expect("enqueue");
    // A worker claimed it and died: its lease ran out a second ago.
    sqlx::query(
        "UPDATE jobs SET state = 'running', attempts = 1, locked_by = 'ghost-1', \
         locked_until = now() - interval '1 second', started_at = now() - interval '31 seconds' \
         WHERE id = $1",
    )
    .bind(id)
    .execute(&db.pool)
    .await
    .expect("simulate a dead worker");

    let registry = registry_with(
        "count",
        handler_fn(|ctx| async move { record_effect(&ctx).await }),
    );
    let workers = Workers::start(&db.pool, registry, test_config());
    let job = wait_for_state(&queue, id, JobState::Succeeded).await;
    workers.stop().await;
    assert_eq!(job.attempts, 2, "the dead worker's attempt counts");
    assert!(job
        .last_error
        .as_deref()
        .is_some_and(|e| e.contains("lease expired: worker ghost-1")));
    assert_eq!(effects_of(&db.pool, id).await, 1);
    db.drop().await;
}

#[tokio::test]
async fn running_job_keeps_its_lease_while_the_handler_works() {
    let db = TestDb::new().await;
    let queue = db.queue();
    let registry = registry_with(
        "slow",
        handler_fn(|_| async move {
            // Three leases long: renewals must keep it ours.
            tokio::time::sleep(Duration::from_millis(2_400)).await;
            Ok(())
        }),
    );
    let config = WorkerConfig {
        lease: Duration::from_millis(800),
        ..test_config()
    };
    let workers = Workers::start(&db.pool, registry, config.clone());
    let id = queue
        .enqueue(NewJob::new("slow", json!({})))
        .await
        .expect("enqueue");
    let job = wait_for_state(&queue, id, JobState::Succeeded).await;
    workers.stop().await;
    assert_eq!(job.attempts, 1, "the lease never expired");
    assert_eq!(job.last_error, None);
    db.drop().await;
}

#[tokio::test]
async fn idle_workers_wake_on_notify_well_before_the_poll_interval() {
    let db = TestDb::new().await;
    let queue = db.queue();
    let (started_tx, mut started) = mpsc::channel::<()>(1);
    let registry = registry_with(
        "wake",
        handler_fn(move |_| {
            let started_tx = started_tx.clone();
            async move {
                let _ = started_tx.send(()).await;
                Ok(())
            }
        }),
    );
    let poll_interval = Duration::from_secs(10);
    let config = WorkerConfig {
        poll_interval,
        ..test_config()
    };
    let workers = Workers::start(&db.pool, registry, config);
    // Let the workers find nothing and go to sleep.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let enqueued = tokio::time::Instant::now();
    queue
        .enqueue(NewJob::new("wake", json!({})))
        .await
        .expect("enqueue");
    tokio::time::timeout(poll_interval, started.recv())
        .await
        .expect("job started before the poll interval");
    let latency = enqueued.elapsed();
    workers.stop().await;
    eprintln!("NOTIFY wake-up latency: {latency:?}");
    assert!(latency < poll_interval / 2, "{latency:?}");
    db.drop().await;
}

#[tokio::test]
async fn progress_is_visible_to_the_ui_while_the_job_runs() {
    let db = TestDb::new().await;
    let queue = db.queue();
    let release = Arc::new(Notify::new());
    let go = release.clone();
    let registry = registry_with(
        "steps",
        handler_fn(move |ctx| {
            let go = go.clone();
            async move {
                ctx.progress(2, 5, "restoring database").await?;
                go.notified().await;
                ctx.progress(5, 5, "done").await?;
                Ok(())
            }
        }),
    );
    let workers = Workers::start(&db.pool, registry, test_config());
    let id = queue
        .enqueue(NewJob::new("steps", json!({})).with_tenant(Uuid::new_v4()))
        .await
        .expect("enqueue");
    let job = eventually(Duration::from_secs(10), "progress 2/5", || async {
        queue
            .get(id)
            .await
            .expect("get")
            .filter(|j| j.progress.step == 2)
    })
    .await;
    assert_eq!(job.state, JobState::Running);
    assert_eq!(job.progress.total, 5);
    assert_eq!(job.progress.label, "restoring database");
    assert!(job.locked_by.is_some() && job.locked_until.is_some());
    let listed = queue
        .list(
            &JobFilter {
                state: Some(JobState::Running),
                ..JobFilter::default()
            },
            10,
            None,
        )
        .await
        .expect("list");
    assert_eq!(listed.jobs.len(), 1);
    assert_eq!(listed.jobs[0].progress.label, "restoring database");
    let json = serde_json::to_value(&listed.jobs[0]).expect("serialize");
    assert_eq!(json["state"], "running");
    assert_eq!(json["progress"]["step"], 2);

    release.notify_one();
    let job = wait_for_state(&queue, id, JobState::Succeeded).await;
    workers.stop().await;
    assert_eq!(job.progress.step, 5);
    db.drop().await;
}

#[tokio::test]
async fn shutdown_waits_for_the_job_in_flight() {
    let db = TestDb::new().await;
    create_effects(&db.pool).await;
    let queue = db.queue();
    let (started_tx, mut started) = mpsc::channel::<()>(1);
    let registry = registry_with(
        "slow",
        handler_fn(move |ctx| {
            let started_tx = started_tx.clone();
            async move {
                let _ = started_tx.send(()).await;
                tokio::time::sleep(Duration::from_millis(700)).await;
                record_effect(&ctx).await
            }
        }),
    );
    let workers = Workers::start(&db.pool, registry, test_config());
    let id = queue
        .enqueue(NewJob::new("slow", json!({})))
        .await
        .expect("enqueue");
    started.recv().await.expect("started");
    workers.stop().await;
    // By the time run_workers returned, the job had finished and was recorded.
    let job = queue.get(id).await.expect("get").expect("job");
    assert_eq!(job.state, JobState::Succeeded);
    assert_eq!(effects_of(&db.pool, id).await, 1);
    db.drop().await;
}

#[tokio::test]
async fn shutdown_past_its_grace_hands_the_job_back() {
    let db = TestDb::new().await;
    let queue = db.queue();
    let (started_tx, mut started) = mpsc::channel::<()>(1);
    let registry = registry_with(
        "stuck",
        handler_fn(move |_| {
            let started_tx = started_tx.clone();
            async move {
                let _ = started_tx.send(()).await;
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(())
            }
        }),
    );
    let config = WorkerConfig {
        shutdown_grace: Duration::from_millis(300),
        ..test_config()
    };
    let workers = Workers::start(&db.pool, registry, config);
    let id = queue
        .enqueue(NewJob::new("stuck", json!({})))
        .await
        .expect("enqueue");
    started.recv().await.expect("started");
    workers.stop().await;
    let job = queue.get(id).await.expect("get").expect("job");
    assert_eq!((job.state, job.attempts), (JobState::Queued, 0));
    assert_eq!(job.locked_by, None);
    db.drop().await;
}

#[tokio::test]
async fn list_filters_by_state_kind_and_tenant_and_paginates_newest_first() {
    let db = TestDb::new().await;
    let queue = db.queue();
    let acme = Uuid::new_v4();
    let mut ids = Vec::new();
    for i in 0..7 {
        let job = NewJob::new(
            if i % 2 == 0 { "backup" } else { "provision" },
            json!({ "i": i }),
        );
        let job = if i < 5 { job.with_tenant(acme) } else { job };
        ids.push(queue.enqueue(job).await.expect("enqueue"));
    }
    queue.cancel(ids[0]).await.expect("cancel");

    let all = JobFilter::default();
    let first = queue.list(&all, 3, None).await.expect("page 1");
    assert_eq!(first.total, 7);
    assert_eq!(first.jobs.len(), 3);
    assert_eq!(first.jobs[0].id, ids[6], "newest first");
    let cursor = first.next_cursor.expect("more pages");
    let encoded = cursor.encode();
    let cursor = job_queue::Cursor::decode(&encoded).expect("cursor round-trips");
    let second = queue.list(&all, 3, Some(cursor)).await.expect("page 2");
    let third = queue
        .list(&all, 3, second.next_cursor)
        .await
        .expect("page 3");
    assert_eq!(third.jobs.len(), 1);
    assert_eq!(third.next_cursor, None);
    let mut seen: Vec<Uuid> = [first.jobs, second.jobs, third.jobs]
        .concat()
        .iter()
        .map(|j| j.id)
        .collect();
    seen.reverse();
    assert_eq!(seen, ids);

    let acme_backups = JobFilter {
        kind: Some("backup".into()),
        tenant_id: Some(acme),
        state: Some(JobState::Queued),
    };
    let page = queue.list(&acme_backups, 50, None).await.expect("filtered");
    // Backups of acme: i = 0 (cancelled), 2, 4.
    assert_eq!(page.total, 2);
    assert!(page
        .jobs
        .iter()
        .all(|j| j.kind == "backup" && j.tenant_id == Some(acme)));

    let counts = queue.counts().await.expect("counts");
    assert_eq!((counts.queued, counts.cancelled), (6, 1));
    assert_eq!(counts.get(JobState::Running), 0);
    db.drop().await;
}

#[test]
fn job_states_round_trip_through_text_and_json() {
    for state in JobState::ALL {
        assert_eq!(state.as_str().parse::<JobState>().expect("parse"), state);
        assert_eq!(
            serde_json::to_value(state).expect("json"),
            json!(state.as_str())
        );
    }
    assert!("paused".parse::<JobState>().is_err());
}
