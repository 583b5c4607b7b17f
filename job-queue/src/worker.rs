//! Workers: claim due jobs, run their handlers under a renewed lease, record the outcome.

use std::{
    any::Any,
    collections::{HashMap, HashSet},
    future::Future,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use serde::de::DeserializeOwned;
use sqlx::{
    postgres::{PgListener, PgPoolOptions},
    PgPool, Row,
};
use tokio::{
    sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore},
    task::{JoinHandle, JoinSet},
    time::{interval_at, sleep, timeout, Instant, MissedTickBehavior},
};
use uuid::Uuid;

use crate::error::{JobError, QueueError};

/// The LISTEN/NOTIFY channel that wakes idle workers.
pub const NOTIFY_CHANNEL: &str = "job_queue";

/// Runs one kind of job. Must be idempotent step by step: delivery is at least once.
#[async_trait::async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Run one attempt of the job.
    async fn run(&self, job: &JobContext) -> Result<(), JobError>;
}

struct FnHandler<F>(F);

#[async_trait::async_trait]
impl<F, Fut> Handler for FnHandler<F>
where
    F: Fn(JobContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobError>> + Send + 'static,
{
    async fn run(&self, job: &JobContext) -> Result<(), JobError> {
        (self.0)(job.clone()).await
    }
}

/// A handler from an async closure taking an owned [`JobContext`].
pub fn handler_fn<F, Fut>(f: F) -> Arc<dyn Handler>
where
    F: Fn(JobContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobError>> + Send + 'static,
{
    Arc::new(FnHandler(f))
}

/// What a handler knows about the job it runs, and its way to report back.
#[derive(Clone)]
pub struct JobContext {
    /// The job's id.
    pub id: Uuid,
    /// The job's kind.
    pub kind: String,
    /// The job's input.
    pub payload: serde_json::Value,
    /// This attempt's number, from 1.
    pub attempt: i32,
    /// The tenant the job works for.
    pub tenant_id: Option<Uuid>,
    /// Attempts before the job is `dead`.
    pub max_attempts: i32,
    /// How long a dependency had been unavailable to this job when this attempt started
    /// (`None`: it was not waiting on an outage).
    pub unavailable_for: Option<Duration>,
    /// `WorkerConfig::unavailable_window`.
    unavailable_window: Duration,
    /// When this attempt started (the outage clock moves on while the handler runs).
    claimed_at: Instant,
    pool: PgPool,
    /// The queue's bookkeeping pool (`synchronous_commit = off`): progress is display
    /// data, so its writes do not wait for a WAL flush.
    bookkeeping: PgPool,
    worker_id: Arc<str>,
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for JobContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobContext")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("attempt", &self.attempt)
            .field("tenant_id", &self.tenant_id)
            .field("unavailable_for", &self.unavailable_for)
            .finish_non_exhaustive()
    }
}

impl JobContext {
    /// Record progress (`step` of `total`, doing `label`) for the jobs page. Fails with
    /// [`QueueError::LeaseLost`] if this worker no longer owns the job: stop then.
    pub async fn progress(&self, step: i32, total: i32, label: &str) -> Result<(), QueueError> {
        let row = sqlx::query(
            "UPDATE jobs SET progress_step = $3, progress_total = $4, progress_label = $5, \
             updated_at = now() WHERE id = $1 AND locked_by = $2 AND state = 'running' \
             RETURNING cancel_requested",
        )
        .bind(self.id)
        .bind(&*self.worker_id)
        .bind(step)
        .bind(total)
        .bind(label)
        .fetch_optional(&self.bookkeeping)
        .await?;
        match row {
            Some(row) => {
                if row.try_get::<bool, _>("cancel_requested")? {
                    self.stop.store(true, Ordering::Relaxed);
                }
                Ok(())
            }
            None => {
                self.stop.store(true, Ordering::Relaxed);
                Err(QueueError::LeaseLost(self.id))
            }
        }
    }

    /// Whether the handler should stop: a cancel was requested, or this worker lost the
    /// job's lease. Return [`JobError::Cancelled`] then, between steps.
    pub async fn cancel_requested(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return true;
        }
        let row = sqlx::query(
            "SELECT cancel_requested FROM jobs WHERE id = $1 AND locked_by = $2 AND state = 'running'",
        )
        .bind(self.id)
        .bind(&*self.worker_id)
        .fetch_optional(&self.pool)
        .await;
        let stop = match row {
            Ok(Some(row)) => row.try_get::<bool, _>("cancel_requested").unwrap_or(false),
            Ok(None) => true,
            // Keep going; the lease renewal notices a lost job.
            Err(_) => false,
        };
        if stop {
            self.stop.store(true, Ordering::Relaxed);
        }
        stop
    }

    /// The payload as `T`; a payload that does not fit is a permanent error.
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, JobError> {
        serde_json::from_value(self.payload.clone()).map_err(|e| {
            JobError::Permanent(format!("payload of {} job does not fit: {e}", self.kind))
        })
    }

    /// The database, for the handler's own work.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Whether the queue ends the job if this attempt ends with `error`: a permanent error,
    /// a cancellation, a failure on the last attempt, or a dependency unavailable for longer
    /// than the window. Handlers use it to record a final failure on their own records.
    pub fn is_final(&self, error: &JobError) -> bool {
        match error {
            JobError::Permanent(_) | JobError::Cancelled => true,
            JobError::Retry(_) => self.attempt >= self.max_attempts,
            JobError::Snooze { .. } => false,
            JobError::Unavailable { .. } => self.outage_elapsed() >= self.unavailable_window,
        }
    }

    /// How long the current outage has lasted for this job, counting this attempt.
    fn outage_elapsed(&self) -> Duration {
        self.unavailable_for.unwrap_or_default() + self.claimed_at.elapsed()
    }
}

/// The handlers, by job kind.
#[derive(Default, Clone)]
pub struct Registry {
    handlers: HashMap<String, Arc<dyn Handler>>,
}

impl Registry {
    /// No handlers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Run jobs of `kind` with `handler` (replacing any earlier one).
    pub fn register(&mut self, kind: &str, handler: Arc<dyn Handler>) {
        self.handlers.insert(kind.to_owned(), handler);
    }

    /// The kinds with a handler.
    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.handlers.keys().map(String::as_str)
    }
}

/// How workers run.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Jobs run at once (default 4).
    pub concurrency: usize,
    /// How long a claim lasts unless renewed; renewed every `lease / 3` (default 30 s).
    pub lease: Duration,
    /// How often idle workers look for due jobs without a NOTIFY (default 5 s).
    pub poll_interval: Duration,
    /// Names this process in `locked_by` (default `hostname-pid-random`).
    pub worker_id: String,
    /// Delay before the first retry; doubles each attempt, ±20 % jitter (default 1 s).
    pub backoff_base: Duration,
    /// Longest retry delay (default 10 min).
    pub backoff_max: Duration,
    /// Most jobs claimed in one round trip (default 16; never more than free slots).
    pub batch: usize,
    /// On shutdown, how long to wait for running jobs before aborting them and handing
    /// their leases back (default 30 s).
    pub shutdown_grace: Duration,
    /// How long a job keeps retrying while a dependency is unavailable
    /// ([`JobError::Unavailable`]), from the first such failure in a row; such retries
    /// spend no attempts (default 1 h: longer than a real outage or restart).
    pub unavailable_window: Duration,
    /// Longest wait between two tries while a dependency is unavailable; the wait grows
    /// with the outage from `backoff_base` (default 1 min: a job resumes within about a
    /// minute of its dependency coming back).
    pub unavailable_backoff_max: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 4,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(5),
            worker_id: default_worker_id(),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(600),
            batch: 16,
            shutdown_grace: Duration::from_secs(30),
            unavailable_window: Duration::from_secs(3600),
            unavailable_backoff_max: Duration::from_secs(60),
        }
    }
}

fn default_worker_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    format!("{host}-{}-{:08x}", std::process::id(), fastrand::u32(..))
}

/// The retry delay after failed attempt `attempt` (1-based): `base * 2^(attempt-1)`,
/// capped at `max`, times a random factor in [0.8, 1.2] so failed jobs do not retry in
/// lockstep (the ranges of successive attempts never overlap below the cap).
pub(crate) fn backoff(base: Duration, max: Duration, attempt: i32) -> Duration {
    let exp = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let raw = base.saturating_mul(2u32.saturating_pow(exp)).min(max);
    raw.mul_f64(0.8 + 0.4 * fastrand::f64())
}

/// The wait before the next try of a job whose dependency has been unavailable for
/// `down_for`: about as long as the outage so far (so tries thin out as it lasts), at least
/// `base`, at most `max`, times a random factor in [0.8, 1.2].
pub(crate) fn outage_backoff(base: Duration, max: Duration, down_for: Duration) -> Duration {
    down_for
        .max(base)
        .min(max)
        .mul_f64(0.8 + 0.4 * fastrand::f64())
}

/// A claimed job, as the claim query returns it.
struct Claimed {
    id: Uuid,
    kind: String,
    payload: serde_json::Value,
    attempt: i32,
    max_attempts: i32,
    tenant_id: Option<Uuid>,
    /// How long the job had been waiting on an unavailable dependency.
    unavailable_for: Option<Duration>,
}

/// How an attempt ended, as recorded.
enum Outcome {
    Failed {
        error: String,
        retry_in: Duration,
    },
    /// Back to `queued` with its attempt given back, `label` shown as its progress: a
    /// snooze (waiting on other work) or an outage (`outage`: the outage clock starts if it
    /// has not).
    Waiting {
        label: String,
        retry_in: Duration,
        outage: bool,
    },
    Dead(String),
    Cancelled,
}

struct Shared {
    /// The caller's pool, handed to handlers.
    pool: PgPool,
    /// The queue's own bookkeeping connections (claims, leases, outcomes), with
    /// `synchronous_commit = off`: a commit lost in a database crash only makes a job run
    /// again, which at-least-once delivery allows, and it saves a WAL flush per commit.
    db: PgPool,
    registry: Registry,
    config: WorkerConfig,
    /// Wakes the idle dispatcher when a failed job was rescheduled (its retry may be due
    /// before the dispatcher's planned wake-up).
    rescheduled: Notify,
}

impl Shared {
    fn lease_ms(&self) -> i64 {
        i64::try_from(self.config.lease.as_millis()).unwrap_or(i64::MAX)
    }
}

/// Run workers until `shutdown` resolves, then stop claiming, wait up to
/// `shutdown_grace` for running jobs, abort the rest and hand their jobs back to the
/// queue (attempt not counted), and return.
///
/// Works the same inside the web server (spawn it with the server's shutdown signal) or
/// in a process of its own. Fails only if it cannot LISTEN at start; later database
/// errors are logged and retried.
pub async fn run_workers(
    pool: PgPool,
    registry: Registry,
    mut config: WorkerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), QueueError> {
    config.concurrency = config.concurrency.max(1);
    config.batch = config.batch.max(1);
    config.lease = config.lease.max(Duration::from_millis(300));
    config.poll_interval = config.poll_interval.max(Duration::from_millis(10));
    let options = pool
        .connect_options()
        .as_ref()
        .clone()
        .options([("synchronous_commit", "off")]);
    let db = PgPoolOptions::new()
        .max_connections(
            u32::try_from(config.concurrency)
                .unwrap_or(64)
                .saturating_add(3),
        )
        .connect_lazy_with(options);
    let shared = Arc::new(Shared {
        pool,
        db,
        registry,
        config,
        rescheduled: Notify::new(),
    });
    let config = &shared.config;

    let mut listener = PgListener::connect_with(&shared.pool).await?;
    listener.listen(NOTIFY_CHANNEL).await?;
    tracing::info!(worker_id = %config.worker_id, concurrency = config.concurrency, "job workers started");

    let (done_tx, done_rx) = mpsc::channel::<Done>(1024);
    let flusher = tokio::spawn(record_successes(shared.clone(), done_rx));
    let slots = Arc::new(Semaphore::new(config.concurrency));
    let mut running: JoinSet<()> = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    // Expired leases (dead workers) are reaped at start, when idle, and at least this often.
    let reap_every = (config.lease / 3).min(config.poll_interval);
    let mut last_reap: Option<Instant> = None;

    loop {
        while let Some(joined) = running.try_join_next() {
            if let Err(e) = joined {
                tracing::error!(error = %e, "job task failed outside its handler");
            }
        }
        if last_reap.is_none_or(|at| at.elapsed() >= reap_every) {
            reap_expired(&shared).await;
            last_reap = Some(Instant::now());
        }

        let first = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break, // never closed
            },
        };
        let mut permits = vec![first];
        // Short jobs finish together: yield a couple of times so one claim fills every
        // slot that frees up, instead of one round trip per job.
        for round in 0..3 {
            while permits.len() < config.batch {
                match slots.clone().try_acquire_owned() {
                    Ok(p) => permits.push(p),
                    Err(_) => break,
                }
            }
            if round == 2 || permits.len() >= config.batch.min(config.concurrency) {
                break;
            }
            tokio::task::yield_now().await;
        }
        let wanted = permits.len();

        let claimed = match claim(&shared, wanted).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::error!(error = %e, "claiming jobs failed; retrying");
                drop(permits);
                tokio::select! {
                    () = &mut shutdown => break,
                    () = sleep(config.poll_interval.min(Duration::from_secs(1))) => {}
                }
                continue;
            }
        };
        let got = claimed.len();
        for (job, permit) in claimed.into_iter().zip(permits.drain(..)) {
            running.spawn(run_job(shared.clone(), job, permit, done_tx.clone()));
        }
        drop(permits);
        if got == wanted {
            continue;
        }

        // Nothing more is due: sleep until a NOTIFY, the next due job or lease expiry,
        // or the poll interval.
        reap_expired(&shared).await;
        last_reap = Some(Instant::now());
        let wait = match next_due_in(&shared).await {
            Ok(Some(due)) => due.min(config.poll_interval),
            Ok(None) => config.poll_interval,
            Err(e) => {
                tracing::warn!(error = %e, "reading next due time failed");
                config.poll_interval
            }
        };
        if wait.is_zero() {
            continue;
        }
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            note = listener.recv() => {
                if let Err(e) = note {
                    tracing::warn!(error = %e, "job notification listener failed; polling meanwhile");
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = sleep(config.poll_interval.min(Duration::from_secs(1))) => {}
                    }
                }
                // One claim serves every notification received so far.
                while listener.next_buffered().is_some() {}
            }
            () = shared.rescheduled.notified() => {}
            () = sleep(wait) => {}
        }
    }

    tracing::info!(worker_id = %config.worker_id, in_flight = running.len(), "job workers stopping");
    let drained = timeout(config.shutdown_grace, async {
        while running.join_next().await.is_some() {}
    })
    .await;
    let aborted = drained.is_err();
    if aborted {
        tracing::warn!(
            in_flight = running.len(),
            "shutdown grace elapsed; aborting running jobs"
        );
        running.abort_all();
        while running.join_next().await.is_some() {}
    }
    drop(done_tx);
    if let Err(e) = flusher.await {
        tracing::error!(error = %e, "recording successes failed at shutdown");
    }
    if aborted {
        release_leases(&shared).await;
    }
    shared.db.close().await;
    tracing::info!(worker_id = %config.worker_id, "job workers stopped");
    Ok(())
}

async fn claim(shared: &Shared, n: usize) -> Result<Vec<Claimed>, QueueError> {
    let rows = sqlx::query(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_by = $2, \
           locked_until = now() + $3 * interval '1 millisecond', started_at = now(), \
           updated_at = now() \
         WHERE id IN ( \
           SELECT id FROM jobs WHERE state IN ('queued', 'failed') AND run_at <= now() \
           ORDER BY run_at LIMIT $1 FOR UPDATE SKIP LOCKED) \
         RETURNING id, kind, payload, attempts, max_attempts, tenant_id, \
           EXTRACT(EPOCH FROM now() - unavailable_since)::float8 AS unavailable_secs",
    )
    .bind(i64::try_from(n).unwrap_or(i64::MAX))
    .bind(&shared.config.worker_id)
    .bind(shared.lease_ms())
    .fetch_all(&shared.db)
    .await?;
    rows.into_iter()
        .map(|row| {
            let job = Claimed {
                id: row.try_get("id")?,
                kind: row.try_get("kind")?,
                payload: row.try_get("payload")?,
                attempt: row.try_get("attempts")?,
                max_attempts: row.try_get("max_attempts")?,
                tenant_id: row.try_get("tenant_id")?,
                unavailable_for: row
                    .try_get::<Option<f64>, _>("unavailable_secs")?
                    .map(|secs| Duration::from_secs_f64(secs.max(0.0))),
            };
            tracing::info!(job_id = %job.id, kind = %job.kind, tenant_id = ?job.tenant_id, attempt = job.attempt, state = "running", worker_id = %shared.config.worker_id, "job started");
            Ok(job)
        })
        .collect()
}

/// Jobs whose worker stopped renewing the lease (killed, or stalled past the lease): the
/// attempt counts as failed and the job is due again at once; out of attempts it is
/// dead, and with a pending cancel request it is cancelled.
async fn reap_expired(shared: &Shared) {
    let rows = sqlx::query(
        "UPDATE jobs SET \
           state = CASE WHEN cancel_requested THEN 'cancelled' \
                        WHEN attempts >= max_attempts THEN 'dead' ELSE 'failed' END, \
           last_error = format('lease expired: worker %s stopped renewing it during attempt %s \
                                (process killed or stalled)', locked_by, attempts), \
           finished_at = CASE WHEN cancel_requested OR attempts >= max_attempts THEN now() END, \
           locked_by = NULL, locked_until = NULL, run_at = now(), updated_at = now() \
         WHERE id IN (SELECT id FROM jobs WHERE state = 'running' AND locked_until < now() \
                      FOR UPDATE SKIP LOCKED) \
         RETURNING id, kind, tenant_id, attempts, state, last_error",
    )
    .fetch_all(&shared.db)
    .await;
    match rows {
        Ok(rows) => {
            for row in rows {
                let (id, kind, tenant_id, attempt) = job_row_fields(&row);
                let state: Option<String> = row.try_get("state").ok();
                let error: Option<String> = row.try_get("last_error").ok().flatten();
                tracing::warn!(job_id = ?id, kind = ?kind, tenant_id = ?tenant_id, attempt = ?attempt, state = ?state, error = ?error, "job lease expired; reclaimed");
            }
        }
        Err(e) => tracing::warn!(error = %e, "reaping expired job leases failed"),
    }
}

/// The fields every log line about a job row carries (id, kind, tenant, attempt).
fn job_row_fields(
    row: &sqlx::postgres::PgRow,
) -> (Option<Uuid>, Option<String>, Option<Uuid>, Option<i32>) {
    (
        row.try_get("id").ok(),
        row.try_get("kind").ok(),
        row.try_get("tenant_id").ok().flatten(),
        row.try_get("attempts").ok(),
    )
}

/// How long until the next job is due or a lease expires; `None` if neither.
async fn next_due_in(shared: &Shared) -> Result<Option<Duration>, QueueError> {
    let secs: Option<f64> = sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM LEAST( \
           (SELECT min(run_at) FROM jobs WHERE state IN ('queued', 'failed')), \
           (SELECT min(locked_until) FROM jobs WHERE state = 'running')) - now())::float8",
    )
    .fetch_one(&shared.db)
    .await?;
    // A lease expiring "now" is reaped only once it is strictly past: add a little.
    Ok(secs.map(|s| Duration::from_secs_f64(s.max(0.0) + 0.005)))
}

/// Hand back the jobs this worker still holds (after aborting them at shutdown).
async fn release_leases(shared: &Shared) {
    let rows = sqlx::query(
        "UPDATE jobs SET state = 'queued', attempts = greatest(attempts - 1, 0), \
           locked_by = NULL, locked_until = NULL, run_at = now(), updated_at = now() \
         WHERE locked_by = $1 AND state = 'running' RETURNING id, kind, tenant_id, attempts",
    )
    .bind(&shared.config.worker_id)
    .fetch_all(&shared.db)
    .await;
    match rows {
        Ok(rows) => {
            for row in rows {
                let (id, kind, tenant_id, attempt) = job_row_fields(&row);
                tracing::warn!(job_id = ?id, kind = ?kind, tenant_id = ?tenant_id, attempt = ?attempt, state = "queued", "job aborted at shutdown; handed back to the queue");
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "handing back jobs at shutdown failed; they are reclaimed when their leases expire")
        }
    }
}

/// Aborts the handler task when the job task is dropped (shutdown abort).
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A success waiting to be recorded in the next batch.
struct Done {
    id: Uuid,
    kind: String,
    tenant_id: Option<Uuid>,
    attempt: i32,
}

async fn run_job(
    shared: Arc<Shared>,
    job: Claimed,
    permit: OwnedSemaphorePermit,
    done: mpsc::Sender<Done>,
) {
    let _permit = permit;
    let config = &shared.config;
    let Some(handler) = shared.registry.handlers.get(&job.kind).cloned() else {
        let error = format!(
            "no handler registered for job kind {:?}; register one with Registry::register \
             in the workers, then retry this job",
            job.kind
        );
        finish(&shared, &job, Outcome::Dead(error)).await;
        return;
    };

    let stop = Arc::new(AtomicBool::new(false));
    let ctx = JobContext {
        id: job.id,
        kind: job.kind.clone(),
        payload: job.payload.clone(),
        attempt: job.attempt,
        tenant_id: job.tenant_id,
        max_attempts: job.max_attempts,
        unavailable_for: job.unavailable_for,
        unavailable_window: config.unavailable_window,
        claimed_at: Instant::now(),
        pool: shared.pool.clone(),
        bookkeeping: shared.db.clone(),
        worker_id: Arc::from(config.worker_id.as_str()),
        stop: stop.clone(),
    };
    let outage_clock = ctx.clone();
    // Its own task, so a panic is caught as a JoinError instead of unwinding the worker.
    let mut handle = AbortOnDrop(tokio::spawn(async move { handler.run(&ctx).await }));
    let every = config.lease / 3;
    let mut renew = interval_at(Instant::now() + every, every);
    renew.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut lost = false;
    let result = loop {
        tokio::select! {
            joined = &mut handle.0 => break joined,
            _ = renew.tick(), if !lost => {
                match renew_lease(&shared, job.id).await {
                    Ok(Some(cancel)) => if cancel { stop.store(true, Ordering::Relaxed) },
                    Ok(None) => {
                        lost = true;
                        stop.store(true, Ordering::Relaxed);
                        tracing::warn!(job_id = %job.id, kind = %job.kind, tenant_id = ?job.tenant_id, attempt = job.attempt, "job lease lost; its result will be discarded");
                    }
                    Err(e) => tracing::warn!(job_id = %job.id, kind = %job.kind, tenant_id = ?job.tenant_id, attempt = job.attempt, error = %e, "renewing job lease failed; retrying"),
                }
            }
        }
    };

    let outcome = match result {
        Ok(Ok(())) => {
            let success = Done {
                id: job.id,
                kind: job.kind.clone(),
                tenant_id: job.tenant_id,
                attempt: job.attempt,
            };
            if let Err(mpsc::error::SendError(success)) = done.send(success).await {
                record_batch(&shared, vec![success]).await;
            }
            return;
        }
        Ok(Err(JobError::Cancelled)) => Outcome::Cancelled,
        Ok(Err(JobError::Permanent(error))) => Outcome::Dead(error),
        Ok(Err(JobError::Retry(error))) => failed(config, &job, error),
        Ok(Err(JobError::Snooze { reason, delay })) => Outcome::Waiting {
            label: format!("waiting: {reason}"),
            retry_in: delay,
            outage: false,
        },
        Ok(Err(e @ JobError::Unavailable { .. })) => {
            let down_for = outage_clock.outage_elapsed();
            let JobError::Unavailable { dependency, error } = &e else {
                unreachable!("matched above")
            };
            if outage_clock.is_final(&e) {
                Outcome::Dead(format!(
                    "{dependency} was unavailable for {} min, longer than the retry window; gave up: {error}",
                    down_for.as_secs() / 60
                ))
            } else {
                Outcome::Waiting {
                    label: format!("waiting for {dependency}: {error}"),
                    retry_in: outage_backoff(
                        config.backoff_base,
                        config.unavailable_backoff_max,
                        down_for,
                    ),
                    outage: true,
                }
            }
        }
        Err(e) if e.is_panic() => {
            let error = format!("handler panicked: {}", panic_message(e.into_panic()));
            failed(config, &job, error)
        }
        Err(e) => failed(config, &job, format!("handler task ended: {e}")),
    };
    finish(&shared, &job, outcome).await;
}

fn failed(config: &WorkerConfig, job: &Claimed, error: String) -> Outcome {
    if job.attempt >= job.max_attempts {
        Outcome::Dead(format!(
            "{error} (attempt {} of {})",
            job.attempt, job.max_attempts
        ))
    } else {
        Outcome::Failed {
            error,
            retry_in: backoff(config.backoff_base, config.backoff_max, job.attempt),
        }
    }
}

fn panic_message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(s) => (*s).to_owned(),
            Err(_) => "non-text panic payload".to_owned(),
        },
    }
}

/// Extend the lease; `Some(cancel_requested)`, or `None` if this worker lost the job.
async fn renew_lease(shared: &Shared, id: Uuid) -> Result<Option<bool>, QueueError> {
    let row = sqlx::query(
        "UPDATE jobs SET locked_until = now() + $3 * interval '1 millisecond' \
         WHERE id = $1 AND locked_by = $2 AND state = 'running' RETURNING cancel_requested",
    )
    .bind(id)
    .bind(&shared.config.worker_id)
    .bind(shared.lease_ms())
    .fetch_optional(&shared.db)
    .await?;
    Ok(match row {
        Some(row) => Some(row.try_get("cancel_requested")?),
        None => None,
    })
}

/// Record a failed, waiting, dead or cancelled attempt (retrying the write a few times).
async fn finish(shared: &Shared, job: &Claimed, outcome: Outcome) {
    let millis = |d: &Duration| Some(i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    // The outage clock: started by an outage, kept by a snooze, cleared by anything else.
    let (state, error, retry_ms, outage_clock) = match &outcome {
        Outcome::Failed { error, retry_in } => {
            ("failed", Some(error.as_str()), millis(retry_in), "clear")
        }
        Outcome::Waiting {
            label,
            retry_in,
            outage,
        } => (
            "queued",
            Some(label.as_str()),
            millis(retry_in),
            if *outage { "start" } else { "keep" },
        ),
        Outcome::Dead(error) => ("dead", Some(error.as_str()), None, "clear"),
        Outcome::Cancelled => ("cancelled", None, None, "clear"),
    };
    let mut tries = 0u32;
    loop {
        // Only a waiting job goes back to 'queued': it gives its attempt back and shows what
        // it waits for as its progress label; its last error (if any) stays.
        let updated = sqlx::query(
            "UPDATE jobs SET state = $3, \
               last_error = CASE WHEN $3 = 'queued' THEN last_error ELSE COALESCE($4, last_error) END, \
               progress_label = CASE WHEN $3 = 'queued' THEN $4 ELSE progress_label END, \
               attempts = CASE WHEN $3 = 'queued' THEN attempts - 1 ELSE attempts END, \
               run_at = COALESCE(now() + $5 * interval '1 millisecond', run_at), \
               finished_at = CASE WHEN $3 IN ('failed', 'queued') THEN NULL ELSE now() END, \
               unavailable_since = CASE $6 WHEN 'start' THEN COALESCE(unavailable_since, now()) \
                                           WHEN 'keep' THEN unavailable_since END, \
               locked_by = NULL, locked_until = NULL, updated_at = now() \
             WHERE id = $1 AND locked_by = $2 AND state = 'running'",
        )
        .bind(job.id)
        .bind(&shared.config.worker_id)
        .bind(state)
        .bind(error)
        .bind(retry_ms)
        .bind(outage_clock)
        .execute(&shared.db)
        .await;
        match updated {
            Ok(done) if done.rows_affected() == 1 => {
                match &outcome {
                    Outcome::Failed { error, retry_in } => {
                        shared.rescheduled.notify_one();
                        tracing::warn!(job_id = %job.id, kind = %job.kind, tenant_id = ?job.tenant_id, attempt = job.attempt, state, error = %error, retry_in_ms = retry_in.as_millis() as u64, "job attempt failed; will retry")
                    }
                    Outcome::Waiting {
                        label, retry_in, ..
                    } => {
                        shared.rescheduled.notify_one();
                        tracing::info!(job_id = %job.id, kind = %job.kind, tenant_id = ?job.tenant_id, attempt = job.attempt, reason = %label, retry_in_ms = retry_in.as_millis() as u64, "job waiting; the attempt is not counted")
                    }
                    Outcome::Dead(error) => {
                        tracing::error!(job_id = %job.id, kind = %job.kind, tenant_id = ?job.tenant_id, attempt = job.attempt, state, error = %error, "job dead")
                    }
                    Outcome::Cancelled => {
                        tracing::info!(job_id = %job.id, kind = %job.kind, tenant_id = ?job.tenant_id, attempt = job.attempt, state, "job cancelled by its handler")
                    }
                }
                return;
            }
            Ok(_) => {
                tracing::warn!(job_id = %job.id, kind = %job.kind, tenant_id = ?job.tenant_id, attempt = job.attempt, state, "job lease lost before its outcome was recorded; outcome discarded");
                return;
            }
            Err(e) if tries < 5 => {
                tracing::warn!(job_id = %job.id, kind = %job.kind, error = %e, "recording job outcome failed; retrying");
                sleep(Duration::from_millis(200) * 2u32.pow(tries)).await;
                tries += 1;
            }
            Err(e) => {
                tracing::error!(job_id = %job.id, kind = %job.kind, tenant_id = ?job.tenant_id, attempt = job.attempt, error = %e, "recording job outcome failed; the job runs again when its lease expires");
                return;
            }
        }
    }
}

/// Record successes in batches: one round trip (and one commit) for many jobs.
async fn record_successes(shared: Arc<Shared>, mut rx: mpsc::Receiver<Done>) {
    let mut buf = Vec::with_capacity(256);
    while rx.recv_many(&mut buf, 256).await > 0 {
        record_batch(&shared, std::mem::take(&mut buf)).await;
    }
}

async fn record_batch(shared: &Shared, batch: Vec<Done>) {
    let ids: Vec<Uuid> = batch.iter().map(|d| d.id).collect();
    let mut tries = 0u32;
    loop {
        let rows = sqlx::query(
            "UPDATE jobs SET state = 'succeeded', locked_by = NULL, locked_until = NULL, \
               unavailable_since = NULL, finished_at = now(), updated_at = now() \
             WHERE id = ANY($1) AND locked_by = $2 AND state = 'running' RETURNING id",
        )
        .bind(&ids)
        .bind(&shared.config.worker_id)
        .fetch_all(&shared.db)
        .await;
        match rows {
            Ok(rows) => {
                let recorded: HashSet<Uuid> =
                    rows.iter().filter_map(|r| r.try_get("id").ok()).collect();
                for d in &batch {
                    if recorded.contains(&d.id) {
                        tracing::info!(job_id = %d.id, kind = %d.kind, tenant_id = ?d.tenant_id, attempt = d.attempt, state = "succeeded", "job succeeded");
                    } else {
                        tracing::warn!(job_id = %d.id, kind = %d.kind, tenant_id = ?d.tenant_id, attempt = d.attempt, "job lease lost before its success was recorded; another worker may run it again");
                    }
                }
                return;
            }
            Err(e) if tries < 5 => {
                tracing::warn!(error = %e, jobs = ids.len(), "recording job successes failed; retrying");
                sleep(Duration::from_millis(200) * 2u32.pow(tries)).await;
                tries += 1;
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = ids.len(), "recording job successes failed; the jobs run again when their leases expire");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_secs(1);
        let max = Duration::from_secs(600);
        for attempt in 1..8 {
            let this = backoff(base, max, attempt);
            let next = backoff(base, max, attempt + 1);
            assert!(this < next, "attempt {attempt}: {this:?} !< {next:?}");
        }
        assert!(backoff(base, max, 50) <= max.mul_f64(1.2));
        assert!(backoff(base, max, 1) >= Duration::from_millis(800));
    }

    #[test]
    fn waits_during_an_outage_follow_its_length_between_the_base_and_the_cap() {
        let base = Duration::from_secs(2);
        let max = Duration::from_secs(60);
        for (down, low, high) in [(0, 1.6, 2.4), (10, 8.0, 12.0), (3600, 48.0, 72.0)] {
            let wait = outage_backoff(base, max, Duration::from_secs(down)).as_secs_f64();
            assert!((low..=high).contains(&wait), "after {down} s: {wait}");
        }
    }

    #[test]
    fn default_worker_ids_differ() {
        assert_ne!(default_worker_id(), default_worker_id());
    }
}
