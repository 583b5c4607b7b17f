//! The service layer's error: what a caller (API, portal) can be told, and what is ours.

use std::fmt;

/// Why a service call did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input breaks a rule (422): a field and a stable code.
    #[error("{message}")]
    Invalid {
        /// Stable machine code, e.g. `slug_reserved`.
        code: &'static str,
        /// What is wrong and how to fix it.
        message: String,
        /// The field concerned.
        field: Option<&'static str>,
    },
    /// Conflicts with the current state (409): taken names, illegal transitions.
    #[error("{message}")]
    Conflict {
        /// Stable machine code, e.g. `slug_taken`, `illegal_transition`.
        code: &'static str,
        /// What is wrong.
        message: String,
        /// The field concerned.
        field: Option<&'static str>,
    },
    /// Nothing with that id (404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Our fault (500): logged, never shown in detail.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// A validation failure on `field`.
    pub fn invalid(code: &'static str, field: &'static str, message: impl fmt::Display) -> Self {
        ServiceError::Invalid {
            code,
            message: message.to_string(),
            field: Some(field),
        }
    }

    /// A conflict with the current state.
    pub fn conflict(code: &'static str, message: impl fmt::Display) -> Self {
        ServiceError::Conflict {
            code,
            message: message.to_string(),
            field: None,
        }
    }

    /// Wraps an internal failure.
    pub fn internal(error: impl fmt::Display) -> Self {
        ServiceError::Internal(error.to_string())
    }
}

impl From<sqlx::Error> for ServiceError {
    fn from(error: sqlx::Error) -> Self {
        ServiceError::Internal(format!("database: {error}"))
    }
}

impl From<job_queue::QueueError> for ServiceError {
    fn from(error: job_queue::QueueError) -> Self {
        use job_queue::QueueError as Q;
        match error {
            Q::NotFound(_) => ServiceError::NotFound("job"),
            e @ Q::IllegalTransition { .. } => ServiceError::conflict("illegal_transition", e),
            e @ Q::DuplicateKey { .. } => ServiceError::conflict("job_duplicate", e),
            e => ServiceError::Internal(e.to_string()),
        }
    }
}

/// The name of the unique constraint a database error violated, if that is what it is.
pub fn unique_violation(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(e) if e.code().as_deref() == Some("23505") => {
            e.constraint().map(str::to_owned)
        }
        _ => None,
    }
}
