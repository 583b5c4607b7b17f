//! Enqueueing, and what the UI and API do with jobs: list, get, count, retry, cancel.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, QueryBuilder, Row};
use uuid::Uuid;

use crate::{
    error::QueueError,
    job::{Cursor, JobCounts, JobFilter, JobPage, JobRecord, JobState, NewJob, JOB_COLUMNS},
    worker::NOTIFY_CHANNEL,
};

/// Enqueue a job through any executor, in particular the caller's open transaction: the
/// job then exists only if that transaction commits, and workers are woken on commit.
///
/// With a dedupe key that an unfinished job already has, returns that job's id instead.
pub async fn enqueue<'e, E: sqlx::PgExecutor<'e>>(
    executor: E,
    job: NewJob,
) -> Result<Uuid, QueueError> {
    let id = Uuid::new_v4();
    // ON CONFLICT DO UPDATE (a no-op update) rather than DO NOTHING: it returns the
    // existing row's id even when that row was committed by a concurrent transaction.
    let row = sqlx::query(
        "INSERT INTO jobs (id, kind, payload, max_attempts, run_at, tenant_id, dedupe_key) \
         VALUES ($1, $2, $3, $4, COALESCE($5, now()), $6, $7) \
         ON CONFLICT (dedupe_key) \
         WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'running', 'failed') \
         DO UPDATE SET dedupe_key = EXCLUDED.dedupe_key \
         RETURNING id",
    )
    .bind(id)
    .bind(&job.kind)
    .bind(&job.payload)
    .bind(job.max_attempts.max(1))
    .bind(job.run_at)
    .bind(job.tenant_id)
    .bind(&job.dedupe_key)
    .fetch_one(executor)
    .await?;
    let got: Uuid = row.try_get("id")?;
    if got == id {
        tracing::info!(job_id = %id, kind = %job.kind, tenant_id = ?job.tenant_id, attempt = 0, state = "queued", "job enqueued");
    } else {
        tracing::debug!(job_id = %got, kind = %job.kind, tenant_id = ?job.tenant_id, dedupe_key = ?job.dedupe_key, "job already enqueued under this dedupe key");
    }
    Ok(got)
}

/// Makes a queued job due now (one waiting for a later `run_at`, e.g. snoozed, runs at
/// once) and wakes idle workers, through any executor. `false` if the job is not queued.
pub async fn wake<'e, E: sqlx::PgExecutor<'e>>(executor: E, id: Uuid) -> Result<bool, QueueError> {
    let woken: Option<i64> = sqlx::query_scalar(
        "WITH due AS (UPDATE jobs SET run_at = now() WHERE id = $1 AND state = 'queued' RETURNING id) \
         SELECT count(*) FROM due, LATERAL (SELECT pg_notify($2, '')) n",
    )
    .bind(id)
    .bind(NOTIFY_CHANNEL)
    .fetch_optional(executor)
    .await?;
    Ok(woken.unwrap_or(0) > 0)
}

/// The queue as the UI and API see it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Queue {
    pool: PgPool,
}

impl Queue {
    /// A queue over the platform database (migrations applied).
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The pool this queue uses.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Enqueue outside any transaction (see [`enqueue`] to join one).
    pub async fn enqueue(&self, job: NewJob) -> Result<Uuid, QueueError> {
        enqueue(&self.pool, job).await
    }

    /// One job by id.
    pub async fn get(&self, id: Uuid) -> Result<Option<JobRecord>, QueueError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        Ok(sqlx::query_as::<_, JobRecord>(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Jobs matching `filter`, newest first, `limit` (1..=500) per page, from `cursor`.
    pub async fn list(
        &self,
        filter: &JobFilter,
        limit: i64,
        cursor: Option<Cursor>,
    ) -> Result<JobPage, QueueError> {
        let limit = limit.clamp(1, 500);

        let mut count = QueryBuilder::<Postgres>::new("SELECT count(*) FROM jobs WHERE true");
        push_filter(&mut count, filter);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;

        let mut page =
            QueryBuilder::<Postgres>::new(format!("SELECT {JOB_COLUMNS} FROM jobs WHERE true"));
        push_filter(&mut page, filter);
        if let Some(c) = cursor {
            page.push(" AND (created_at, id) < (")
                .push_bind(c.created_at)
                .push(", ")
                .push_bind(c.id)
                .push(")");
        }
        page.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(limit + 1);
        let mut jobs: Vec<JobRecord> = page.build_query_as().fetch_all(&self.pool).await?;

        let next_cursor = if jobs.len() as i64 > limit {
            jobs.truncate(limit as usize);
            jobs.last().map(|j| Cursor {
                created_at: j.created_at,
                id: j.id,
            })
        } else {
            None
        };
        Ok(JobPage {
            jobs,
            next_cursor,
            total,
        })
    }

    /// Run a `failed`, `dead` or `cancelled` job again now, with its attempts reset.
    pub async fn retry(&self, id: Uuid) -> Result<JobRecord, QueueError> {
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "UPDATE jobs SET state = 'queued', attempts = 0, run_at = now(), locked_by = NULL, \
             locked_until = NULL, cancel_requested = false, finished_at = NULL, \
             unavailable_since = NULL, \
             progress_step = 0, progress_total = 0, progress_label = '', updated_at = now() \
             WHERE id = $1 AND state IN ('failed', 'dead', 'cancelled') RETURNING {JOB_COLUMNS}"
        );
        let updated = sqlx::query_as::<_, JobRecord>(&sql)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await;
        let job = match updated {
            Ok(Some(job)) => job,
            Ok(None) => return Err(self.refusal(id, "retry").await),
            Err(sqlx::Error::Database(e)) if e.constraint() == Some("jobs_dedupe_key") => {
                let key = self
                    .get(id)
                    .await?
                    .and_then(|j| j.dedupe_key)
                    .unwrap_or_default();
                return Err(QueueError::DuplicateKey { id, key });
            }
            Err(e) => return Err(e.into()),
        };
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(NOTIFY_CHANNEL)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(job_id = %id, kind = %job.kind, tenant_id = ?job.tenant_id, attempt = 0, state = "queued", "job retried by request");
        Ok(job)
    }

    /// Cancel a job: a `queued` or `failed` job is `cancelled` at once; a `running` job
    /// gets `cancel_requested`, which its handler sees through
    /// [`crate::JobContext::cancel_requested`].
    pub async fn cancel(&self, id: Uuid) -> Result<JobRecord, QueueError> {
        // The CASEs read the row as locked by the UPDATE, so a job that starts running
        // concurrently gets a cancel request rather than a lost cancellation.
        let sql = format!(
            "UPDATE jobs SET \
               state = CASE WHEN state = 'running' THEN state ELSE 'cancelled' END, \
               cancel_requested = (state = 'running'), \
               finished_at = CASE WHEN state = 'running' THEN finished_at ELSE now() END, \
               updated_at = now() \
             WHERE id = $1 AND state IN ('queued', 'failed', 'running') RETURNING {JOB_COLUMNS}"
        );
        let job = sqlx::query_as::<_, JobRecord>(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        match job {
            Some(job) => {
                let what = if job.state == JobState::Cancelled {
                    "job cancelled"
                } else {
                    "cancel requested for running job"
                };
                tracing::info!(job_id = %id, kind = %job.kind, tenant_id = ?job.tenant_id, attempt = job.attempts, state = %job.state, "{what}");
                Ok(job)
            }
            None => Err(self.refusal(id, "cancel").await),
        }
    }

    /// Jobs per state.
    pub async fn counts(&self) -> Result<JobCounts, QueueError> {
        let rows = sqlx::query("SELECT state, count(*) AS n FROM jobs GROUP BY state")
            .fetch_all(&self.pool)
            .await?;
        let mut counts = JobCounts::default();
        for row in rows {
            let state: String = row.try_get("state")?;
            counts.set(state.parse()?, row.try_get("n")?);
        }
        Ok(counts)
    }

    /// Delete `succeeded` and `cancelled` jobs (and `dead` ones if `include_dead`) that
    /// finished before `before`; returns how many were deleted.
    pub async fn prune(
        &self,
        before: DateTime<Utc>,
        include_dead: bool,
    ) -> Result<u64, QueueError> {
        let done = sqlx::query(
            "DELETE FROM jobs WHERE finished_at < $1 \
             AND (state IN ('succeeded', 'cancelled') OR ($2 AND state = 'dead'))",
        )
        .bind(before)
        .bind(include_dead)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Why `action` did not apply to `id`: it does not exist, or its state forbids it.
    async fn refusal(&self, id: Uuid, action: &'static str) -> QueueError {
        match self.get(id).await {
            Ok(Some(job)) => QueueError::IllegalTransition {
                id,
                state: job.state,
                action,
            },
            Ok(None) => QueueError::NotFound(id),
            Err(e) => e,
        }
    }
}

fn push_filter(q: &mut QueryBuilder<'_, Postgres>, filter: &JobFilter) {
    if let Some(state) = filter.state {
        q.push(" AND state = ").push_bind(state.as_str());
    }
    if let Some(kind) = &filter.kind {
        q.push(" AND kind = ").push_bind(kind.clone());
    }
    if let Some(tenant) = filter.tenant_id {
        q.push(" AND tenant_id = ").push_bind(tenant);
    }
}
