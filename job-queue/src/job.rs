//! The job as stored, as enqueued and as listed.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{postgres::PgRow, FromRow, Row};
use uuid::Uuid;

use crate::error::QueueError;

/// Where a job is in its life. Stored as text in `jobs.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for `run_at`.
    Queued,
    /// Leased by a worker.
    Running,
    /// Finished successfully.
    Succeeded,
    /// The last attempt failed; it will be retried at `run_at`.
    Failed,
    /// Out of attempts, or failed permanently; `last_error` says why.
    Dead,
    /// Cancelled before or while running.
    Cancelled,
}

impl JobState {
    /// All states, in the order the dashboard shows them.
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Dead,
        JobState::Cancelled,
    ];

    /// The name stored in the database and used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Dead => "dead",
            JobState::Cancelled => "cancelled",
        }
    }

    /// Whether the job will never run again on its own.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Dead | JobState::Cancelled
        )
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobState {
    type Err = QueueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| QueueError::Corrupt(format!("unknown job state {s:?}")))
    }
}

/// A job to enqueue; build with [`NewJob::new`] and the `with_*` setters.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// Selects the handler (see `Registry::register`).
    pub kind: String,
    /// The handler's input.
    pub payload: serde_json::Value,
    /// Attempts before the job is `dead` (default 5, at least 1).
    pub max_attempts: i32,
    /// Earliest start; `None` means now.
    pub run_at: Option<DateTime<Utc>>,
    /// The tenant the job works for, for filtering and logs.
    pub tenant_id: Option<Uuid>,
    /// Unique among unfinished jobs: enqueueing a second job with the same key returns
    /// the existing job's id.
    pub dedupe_key: Option<String>,
}

impl NewJob {
    /// A job of `kind` with `payload`, 5 attempts, due now.
    pub fn new(kind: impl Into<String>, payload: serde_json::Value) -> Self {
        Self {
            kind: kind.into(),
            payload,
            max_attempts: 5,
            run_at: None,
            tenant_id: None,
            dedupe_key: None,
        }
    }

    /// Attempts before the job is `dead` (values below 1 count as 1).
    pub fn with_max_attempts(mut self, max_attempts: i32) -> Self {
        self.max_attempts = max_attempts.max(1);
        self
    }

    /// The tenant the job works for.
    pub fn with_tenant(mut self, tenant_id: Uuid) -> Self {
        self.tenant_id = Some(tenant_id);
        self
    }

    /// A key unique among unfinished jobs.
    pub fn with_dedupe_key(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = Some(key.into());
        self
    }

    /// Do not start before `at`.
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = Some(at);
        self
    }
}

/// Per-step progress reported by the handler, shown as a progress bar.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Steps done.
    pub step: i32,
    /// Steps in all (0 when unknown).
    pub total: i32,
    /// What the job is doing now.
    pub label: String,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRecord {
    pub id: Uuid,
    pub kind: String,
    pub payload: serde_json::Value,
    pub state: JobState,
    /// Attempts started so far (including one running now).
    pub attempts: i32,
    pub max_attempts: i32,
    /// When it is due (queued), or retried (failed).
    pub run_at: DateTime<Utc>,
    /// The worker holding the lease, while running.
    pub locked_by: Option<String>,
    /// When the lease expires unless renewed, while running.
    pub locked_until: Option<DateTime<Utc>>,
    /// The error of the latest failed attempt.
    pub last_error: Option<String>,
    pub progress: Progress,
    /// A cancel was requested while running; the handler is expected to stop.
    pub cancel_requested: bool,
    pub tenant_id: Option<Uuid>,
    pub dedupe_key: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Start of the latest attempt.
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Since when a dependency has been unavailable to it (it waits and retries meanwhile).
    pub unavailable_since: Option<DateTime<Utc>>,
}

/// The column list matching `JobRecord`'s `FromRow`.
pub(crate) const JOB_COLUMNS: &str = "id, kind, payload, state, attempts, max_attempts, run_at, \
     locked_by, locked_until, last_error, progress_step, progress_total, progress_label, \
     cancel_requested, tenant_id, dedupe_key, created_at, updated_at, started_at, finished_at, \
     unavailable_since";

impl<'r> FromRow<'r, PgRow> for JobRecord {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        let state: String = row.try_get("state")?;
        let state = state
            .parse::<JobState>()
            .map_err(|e| sqlx::Error::ColumnDecode {
                index: "state".into(),
                source: Box::new(e),
            })?;
        Ok(Self {
            id: row.try_get("id")?,
            kind: row.try_get("kind")?,
            payload: row.try_get("payload")?,
            state,
            attempts: row.try_get("attempts")?,
            max_attempts: row.try_get("max_attempts")?,
            run_at: row.try_get("run_at")?,
            locked_by: row.try_get("locked_by")?,
            locked_until: row.try_get("locked_until")?,
            last_error: row.try_get("last_error")?,
            progress: Progress {
                step: row.try_get("progress_step")?,
                total: row.try_get("progress_total")?,
                label: row.try_get("progress_label")?,
            },
            cancel_requested: row.try_get("cancel_requested")?,
            tenant_id: row.try_get("tenant_id")?,
            dedupe_key: row.try_get("dedupe_key")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            started_at: row.try_get("started_at")?,
            finished_at: row.try_get("finished_at")?,
            unavailable_since: row.try_get("unavailable_since")?,
        })
    }
}

/// Which jobs `Queue::list` returns; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFilter {
    pub state: Option<JobState>,
    pub kind: Option<String>,
    pub tenant_id: Option<Uuid>,
}

/// Where the next page starts: the last job of the previous page (newest-first order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    /// An opaque text form for URLs (`<micros>_<uuid>`).
    pub fn encode(&self) -> String {
        format!("{}_{}", self.created_at.timestamp_micros(), self.id)
    }

    /// Parses [`Cursor::encode`]'s output; `None` if it is not one.
    pub fn decode(s: &str) -> Option<Self> {
        let (micros, id) = s.split_once('_')?;
        Some(Self {
            created_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id: id.parse().ok()?,
        })
    }
}

/// One page of `Queue::list`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobPage {
    pub jobs: Vec<JobRecord>,
    /// Pass to the next `list` call; `None` on the last page.
    pub next_cursor: Option<Cursor>,
    /// Jobs matching the filter, on all pages.
    pub total: i64,
}

/// Jobs per state, for the dashboard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct JobCounts {
    pub queued: i64,
    pub running: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub dead: i64,
    pub cancelled: i64,
}

impl JobCounts {
    /// The count for one state.
    pub fn get(&self, state: JobState) -> i64 {
        match state {
            JobState::Queued => self.queued,
            JobState::Running => self.running,
            JobState::Succeeded => self.succeeded,
            JobState::Failed => self.failed,
            JobState::Dead => self.dead,
            JobState::Cancelled => self.cancelled,
        }
    }

    pub(crate) fn set(&mut self, state: JobState, n: i64) {
        match state {
            JobState::Queued => self.queued = n,
            JobState::Running => self.running = n,
            JobState::Succeeded => self.succeeded = n,
            JobState::Failed => self.failed = n,
            JobState::Dead => self.dead = n,
            JobState::Cancelled => self.cancelled = n,
        }
    }
}
