//! The outbox as operators see it: counts per state, a page of messages, and retrying a
//! message that failed or died.

use crate::audit::{self, Actor};
use crate::jobs::kinds;
use crate::platform::Platform;
use crate::service::ServiceError;
use job_queue::NewJob;
use serde_json::json;
use uuid::Uuid;

/// The states of an outbox message, in the order a message moves through them.
pub const STATES: &[&str] = &["queued", "failed", "sent", "dead"];

/// One message, without its bodies.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxEntry {
    /// Row id.
    pub id: Uuid,
    /// Template, e.g. `tenant_welcome`.
    pub template: String,
    /// Recipient.
    pub to_address: String,
    /// Subject.
    pub subject: String,
    /// queued, failed, sent, dead.
    pub state: String,
    /// Attempts made.
    pub attempts: i32,
    /// The last failure.
    pub last_error: Option<String>,
    /// The Message-ID header.
    pub message_id: String,
    /// The tenant's slug, if the message is about one.
    pub tenant_slug: Option<String>,
    /// Queued at.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Last change.
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// Accepted by the SMTP server at.
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Messages per state (every state listed).
pub async fn counts(pool: &sqlx::PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, count(*) FROM outbox GROUP BY state")
            .fetch_all(pool)
            .await?;
    Ok(STATES
        .iter()
        .map(|s| {
            let n = rows.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
            ((*s).to_owned(), n)
        })
        .collect())
}

/// Messages newest first, optionally in one state: `limit` after `offset`, and the total.
pub async fn page(
    pool: &sqlx::PgPool,
    state: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<OutboxEntry>, i64), sqlx::Error> {
    let total: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE $1::text IS NULL OR state = $1")
            .bind(state)
            .fetch_one(pool)
            .await?;
    let rows = sqlx::query_as(
        "SELECT o.id, o.template, o.to_address, o.subject, o.state, o.attempts, o.last_error, \
         o.message_id, t.slug AS tenant_slug, o.created_at, o.updated_at, o.sent_at \
         FROM outbox o LEFT JOIN tenants t ON t.id = o.tenant_id \
         WHERE $1::text IS NULL OR o.state = $1 \
         ORDER BY o.created_at DESC, o.id DESC LIMIT $2 OFFSET $3",
    )
    .bind(state)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    Ok((rows, total))
}

/// Sends a `failed` or `dead` message again now, with fresh attempts; audited. A new job
/// takes over the message in the same transaction (the old one, if it is still scheduled,
/// finds itself replaced and does nothing); a message whose attempt is running right now is
/// refused, so the two can never both send it.
pub async fn retry(p: &Platform, actor: &Actor, id: Uuid) -> Result<(), ServiceError> {
    let mut tx = p.pool.begin().await?;
    let row: Option<(String, Option<Uuid>, String)> =
        sqlx::query_as("SELECT state, job_id, to_address FROM outbox WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((state, old_job, to)) = row else {
        return Err(ServiceError::NotFound("message"));
    };
    if !matches!(state.as_str(), "failed" | "dead") {
        return Err(ServiceError::conflict(
            "illegal_transition",
            format!("This message is {state}; only failed or dead messages can be sent again."),
        ));
    }
    if let Some(old_job) = old_job {
        // Locked: no worker can claim it until this transaction ends.
        let running: Option<bool> =
            sqlx::query_scalar("SELECT state = 'running' FROM jobs WHERE id = $1 FOR UPDATE")
                .bind(old_job)
                .fetch_optional(&mut *tx)
                .await?;
        if running == Some(true) {
            return Err(ServiceError::conflict(
                "message_sending",
                "This message is being sent right now; look again in a moment.",
            ));
        }
    }
    let job_id = job_queue::enqueue(
        &mut *tx,
        NewJob::new(kinds::SEND_MAIL, json!({ "outbox_id": id }))
            .with_max_attempts(p.config.mail.max_attempts),
    )
    .await?;
    sqlx::query(
        "UPDATE outbox SET state = 'queued', job_id = $2, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(job_id)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut *tx,
        actor,
        "mail.retried",
        None,
        Some(job_id),
        json!({"outbox_id": id, "to": to, "from_state": state}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
