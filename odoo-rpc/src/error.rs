//! Typed errors: [`OdooError`] for errors Odoo reported, [`RpcError`] for a whole call.

use serde_json::Value;

use crate::wire::ErrorObject;

/// The raw error payload Odoo sent (`error.code`, `error.message`, `error.data.*`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ErrorPayload {
    /// `error.code`: 200 (16–18), 0 (19), 100 session expired, 404 not found.
    pub code: i64,
    /// `error.message`, e.g. `"Odoo Server Error"`.
    pub envelope_message: String,
    /// `error.data.name`, the qualified Python exception class.
    pub name: String,
    /// `error.data.message`, the human message.
    pub message: String,
    /// `error.data.arguments`.
    pub arguments: Vec<Value>,
    /// `error.data.context`.
    pub context: Value,
    /// `error.data.debug` (traceback).
    pub debug: String,
}

impl From<ErrorObject> for ErrorPayload {
    fn from(e: ErrorObject) -> Self {
        let data = e.data.unwrap_or_default();
        ErrorPayload {
            code: e.code,
            envelope_message: e.message,
            name: data.name,
            message: data.message,
            arguments: data.arguments,
            context: data.context,
            debug: data.debug,
        }
    }
}

impl ErrorPayload {
    /// The best human-readable message: `data.message`, else `error.message`.
    pub fn text(&self) -> &str {
        if self.message.is_empty() {
            &self.envelope_message
        } else {
            &self.message
        }
    }
}

/// An error reported by Odoo in the JSON-RPC `error` member, classified by exception class.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OdooError {
    /// `odoo.exceptions.AccessDenied`: bad credentials / master password, not allowed.
    #[error("access denied: {}", .0.text())]
    AccessDenied(Box<ErrorPayload>),
    /// `odoo.exceptions.AccessError`: access rights, private method, database not found.
    #[error("access error: {}", .0.text())]
    AccessError(Box<ErrorPayload>),
    /// `odoo.exceptions.UserError` (and `Warning`/`RedirectWarning`): business error.
    #[error("user error: {}", .0.text())]
    UserError(Box<ErrorPayload>),
    /// `odoo.exceptions.ValidationError`: constraint or missing mandatory field.
    #[error("validation error: {}", .0.text())]
    ValidationError(Box<ErrorPayload>),
    /// `odoo.exceptions.MissingError`: record does not exist or was deleted.
    #[error("missing record: {}", .0.text())]
    MissingError(Box<ErrorPayload>),
    /// Code 100 / `odoo.http.SessionExpiredException`: log in again.
    #[error("session expired: {}", .0.text())]
    SessionExpired(Box<ErrorPayload>),
    /// Code 404 / `werkzeug.exceptions.NotFound` raised inside a JSON route.
    #[error("not found: {}", .0.text())]
    NotFound(Box<ErrorPayload>),
    /// Any other exception (e.g. `builtins.KeyError`, `psycopg2.OperationalError`).
    #[error("odoo server error {name}: {message}")]
    Server {
        /// Qualified exception class.
        name: String,
        /// Human message.
        message: String,
        /// The full payload.
        payload: Box<ErrorPayload>,
    },
}

impl OdooError {
    /// Classifies a payload by `code` and `data.name`.
    pub fn from_payload(p: ErrorPayload) -> Self {
        let b = Box::new(p);
        if b.code == 100 || b.name == "odoo.http.SessionExpiredException" {
            return OdooError::SessionExpired(b);
        }
        match b.name.as_str() {
            "odoo.exceptions.AccessDenied" => OdooError::AccessDenied(b),
            "odoo.exceptions.AccessError" => OdooError::AccessError(b),
            "odoo.exceptions.UserError"
            | "odoo.exceptions.Warning"
            | "odoo.exceptions.RedirectWarning" => OdooError::UserError(b),
            "odoo.exceptions.ValidationError" => OdooError::ValidationError(b),
            "odoo.exceptions.MissingError" => OdooError::MissingError(b),
            "werkzeug.exceptions.NotFound" => OdooError::NotFound(b),
            _ if b.code == 404 => OdooError::NotFound(b),
            _ => OdooError::Server {
                name: b.name.clone(),
                message: b.text().to_owned(),
                payload: b,
            },
        }
    }

    /// The raw payload, whatever the variant.
    pub fn payload(&self) -> &ErrorPayload {
        match self {
            OdooError::AccessDenied(p)
            | OdooError::AccessError(p)
            | OdooError::UserError(p)
            | OdooError::ValidationError(p)
            | OdooError::MissingError(p)
            | OdooError::SessionExpired(p)
            | OdooError::NotFound(p) => p,
            OdooError::Server { payload, .. } => payload,
        }
    }

    /// The human message (`data.message`, else `error.message`).
    pub fn message(&self) -> &str {
        self.payload().text()
    }

    /// The qualified exception class name (`data.name`).
    pub fn name(&self) -> &str {
        &self.payload().name
    }

    /// The JSON-RPC `error.code`.
    pub fn code(&self) -> i64 {
        self.payload().code
    }
}

/// What kind of transport failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// The request or connection timed out.
    Timeout,
    /// The connection could not be established.
    Connect,
    /// Anything else (body read error, TLS, fetch rejected...).
    Other,
}

/// A network-level failure reported by a [`crate::Transport`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct TransportError {
    /// Kind of failure.
    pub kind: TransportErrorKind,
    /// Description from the underlying library.
    pub message: String,
}

impl TransportError {
    /// Builds a transport error.
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        TransportError {
            kind,
            message: message.into(),
        }
    }

    /// True for timeouts.
    pub fn is_timeout(&self) -> bool {
        self.kind == TransportErrorKind::Timeout
    }
}

/// The error of one client call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RpcError {
    /// Network failure or timeout (after retries for idempotent calls).
    #[error("transport error: {0}")]
    Transport(#[from] TransportError),
    /// Non-200 HTTP answer (Odoo: 400 plain text for bad JSON, HTML 404 for unrouted paths).
    #[error("HTTP {status}: {body}")]
    Http {
        /// HTTP status code.
        status: u16,
        /// Start of the body (lossy UTF-8, truncated).
        body: String,
    },
    /// Malformed body or a result of an unexpected shape.
    #[error("decode error: {0}")]
    Decode(String),
    /// Odoo answered with an error envelope.
    #[error(transparent)]
    Odoo(#[from] OdooError),
    /// `install_modules` was given names unknown to `ir.module.module`.
    #[error("unknown Odoo modules: {0:?}")]
    UnknownModules(Vec<String>),
    /// The request could not be built (e.g. a field required by this Odoo version is missing).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Odoo answered successfully but not as the protocol says it should.
    #[error("unexpected answer: {0}")]
    Unexpected(String),
}

impl RpcError {
    /// The Odoo error, if this is one.
    pub fn as_odoo(&self) -> Option<&OdooError> {
        match self {
            RpcError::Odoo(e) => Some(e),
            _ => None,
        }
    }

    /// True when the web session must be re-authenticated.
    pub fn is_session_expired(&self) -> bool {
        matches!(self, RpcError::Odoo(OdooError::SessionExpired(_)))
    }

    /// True when a retry of an idempotent call may succeed (network error, 502/503/504).
    pub fn is_retryable(&self) -> bool {
        match self {
            RpcError::Transport(_) => true,
            RpcError::Http { status, .. } => matches!(status, 502..=504),
            _ => false,
        }
    }
}
