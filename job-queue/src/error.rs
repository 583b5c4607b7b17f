//! Errors of the queue (for callers) and of a job (for handlers).

use uuid::Uuid;

use crate::job::JobState;

/// What went wrong talking to the queue.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// No job has this id.
    #[error("job {0} not found")]
    NotFound(Uuid),
    /// The requested action does not apply to the job's current state.
    #[error("cannot {action} job {id}: it is {state}")]
    IllegalTransition {
        /// The job.
        id: Uuid,
        /// Its state when the action was refused.
        state: JobState,
        /// `retry` or `cancel`.
        action: &'static str,
    },
    /// Retrying would make a second unfinished job with the same dedupe key.
    #[error("cannot retry job {id}: another unfinished job has dedupe key {key:?}; cancel or finish that one first")]
    DuplicateKey {
        /// The job that was to be retried.
        id: Uuid,
        /// Its dedupe key.
        key: String,
    },
    /// The worker no longer holds this job's lease (it expired and another worker took
    /// the job, or it was cancelled); the handler should stop.
    #[error("lease on job {0} lost: another worker may have taken it over")]
    LeaseLost(Uuid),
    /// A stored value could not be read (e.g. an unknown state name).
    #[error("corrupt job row: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error("job queue database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// How a handler's attempt ended when it did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// A transient failure: back off and retry (until `max_attempts`, then `dead`).
    #[error("{0}")]
    Retry(String),
    /// A failure retrying cannot fix: the job is `dead` at once.
    #[error("{0}")]
    Permanent(String),
    /// The handler cannot start yet (it waits on other work): the job goes back to
    /// `queued`, runs again after `delay`, and the attempt is not counted. Use it only for
    /// a wait that is known to end (another job that is running), never for a failure.
    #[error("waiting: {reason}")]
    Snooze {
        /// What it waits for, shown as the job's progress label.
        reason: String,
        /// When to look again.
        delay: std::time::Duration,
    },
    /// Something the job needs is unreachable for now (connection refused, a time-out, a
    /// 502/503/504, a database restarting): the job goes back to `queued`, its attempt is
    /// not counted, and it is tried again with capped backoff for as long as
    /// `WorkerConfig::unavailable_window` lasts from the first such failure in a row; its
    /// progress label says `waiting for <dependency>: <error>`. After the window it is `dead`.
    #[error("{dependency} unavailable: {error}")]
    Unavailable {
        /// What is unreachable, as the operator knows it (`Odoo`, `PostgreSQL`).
        dependency: String,
        /// The failure, e.g. `connection refused`.
        error: String,
    },
    /// The handler saw a cancel request and stopped: the job is `cancelled`.
    #[error("cancelled")]
    Cancelled,
}

impl JobError {
    /// A retryable error from anything displayable (e.g. `err.map_err(JobError::retry)`).
    pub fn retry(err: impl std::fmt::Display) -> Self {
        Self::Retry(err.to_string())
    }

    /// Waits `delay` for `reason` without spending an attempt (see [`JobError::Snooze`]).
    pub fn snooze(reason: impl std::fmt::Display, delay: std::time::Duration) -> Self {
        Self::Snooze {
            reason: reason.to_string(),
            delay,
        }
    }

    /// A permanent error from anything displayable.
    pub fn permanent(err: impl std::fmt::Display) -> Self {
        Self::Permanent(err.to_string())
    }

    /// `dependency` is unreachable (see [`JobError::Unavailable`]).
    pub fn unavailable(dependency: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Self::Unavailable {
            dependency: dependency.into(),
            error: err.to_string(),
        }
    }
}

/// Database and lease errors inside a handler are transient: retry.
impl From<QueueError> for JobError {
    fn from(err: QueueError) -> Self {
        Self::Retry(err.to_string())
    }
}

impl From<sqlx::Error> for JobError {
    fn from(err: sqlx::Error) -> Self {
        Self::Retry(err.to_string())
    }
}
