//! Transactional email that is never lost.
//!
//! A message is rendered from its templates ([`templates`]) and written as a row of
//! `outbox` together with a `mail.send` job, through the caller's transaction: it exists
//! exactly when the change that causes it commits. The job ([`sender`]) hands it to the
//! SMTP server ([`smtp`]); a refusal for now (server down, 4xx) is retried with the queue's
//! exponential backoff and jitter, a refusal for good (5xx on the recipient or the
//! message) makes it `dead` at once, and so does running out of attempts. Every row keeps
//! its last error, and its Message-ID is fixed, so a message sent again after a crash (the
//! worker died between the server's answer and marking the row sent) is recognisable as
//! the same message. The operations portal lists the outbox and retries failed messages
//! ([`outbox`]).

pub mod notices;
pub mod outbox;
pub mod sender;
pub mod smtp;
pub mod templates;

use crate::jobs::kinds;
use job_queue::NewJob;
use serde_json::json;
use uuid::Uuid;

/// A rendered message, ready to be queued.
#[derive(Debug, Clone)]
pub struct Email {
    /// The template that made it (`tenant_welcome`, `verify_email`, ...).
    pub template: &'static str,
    /// Recipient address.
    pub to_address: String,
    /// Recipient name, if known.
    pub to_name: Option<String>,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
    /// Holds a one-time link: the body is blanked once sent and never shown in the portal.
    pub sensitive: bool,
    /// The tenant it is about.
    pub tenant_id: Option<Uuid>,
    /// The owner account it is about (account messages are rate-limited per owner).
    pub owner_id: Option<Uuid>,
}

/// Why a message could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The database refused the row or the job.
    #[error("queueing the message: {0}")]
    Database(#[from] sqlx::Error),
    /// The job queue refused the job.
    #[error("queueing the message's job: {0}")]
    Queue(#[from] job_queue::QueueError),
    /// A template did not render (a bug: templates are checked at compile time).
    #[error("rendering the message: {0}")]
    Render(#[from] askama::Error),
    /// The SMTP settings cannot make a transport.
    #[error("SMTP settings: {0}")]
    Settings(String),
}

impl From<MailError> for crate::service::ServiceError {
    fn from(e: MailError) -> Self {
        crate::service::ServiceError::internal(e)
    }
}

/// The Message-ID of an outbox row: the same on every attempt.
pub fn message_id(id: Uuid, domain: &str) -> String {
    format!("<{}@{domain}>", id.simple())
}

/// Writes `email` into the outbox and enqueues its delivery, through `conn` (the caller's
/// transaction: the message exists only if the change that causes it commits).
pub async fn enqueue(
    conn: &mut sqlx::PgConnection,
    settings: &crate::config::MailSettings,
    email: Email,
) -> Result<Uuid, MailError> {
    let id = Uuid::new_v4();
    let domain = settings
        .from
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>'))
        .unwrap_or("localhost");
    let job_id = job_queue::enqueue(
        &mut *conn,
        NewJob::new(kinds::SEND_MAIL, json!({ "outbox_id": id }))
            .with_max_attempts(settings.max_attempts),
    )
    .await?;
    sqlx::query(
        "INSERT INTO outbox (id, template, to_address, to_name, subject, body_text, body_html, \
         message_id, sensitive, tenant_id, job_id, owner_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(id)
    .bind(email.template)
    .bind(&email.to_address)
    .bind(&email.to_name)
    .bind(&email.subject)
    .bind(&email.text)
    .bind(&email.html)
    .bind(message_id(id, domain))
    .bind(email.sensitive)
    .bind(email.tenant_id)
    .bind(job_id)
    .bind(email.owner_id)
    .execute(&mut *conn)
    .await?;
    tracing::info!(outbox_id = %id, %job_id, template = email.template, tenant_id = ?email.tenant_id, "message queued");
    Ok(id)
}
