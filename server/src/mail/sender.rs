//! The `mail.send` job: one outbox row to the SMTP server.
//!
//! At-least-once: a row is marked `sent` after the server accepted it. If the worker dies
//! between the server's answer and that mark, the job's lease runs out and the message is
//! sent again, with the same Message-ID and Date. Nothing else can send it twice: a row
//! already `sent` or `dead` is left alone, and only the row's current job (`outbox.job_id`)
//! may send it, so a job replaced by a retry from the Outbox page does nothing.

use super::smtp::{OutgoingMessage, SendError};
use crate::platform::Platform;
use job_queue::{JobContext, JobError};
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Deserialize)]
struct Payload {
    outbox_id: Uuid,
}

/// Runs one `mail.send` job.
pub async fn run(p: &Platform, ctx: &JobContext) -> Result<(), JobError> {
    let Payload { outbox_id: id } = ctx.payload()?;
    // Count the attempt and read the message in one statement; nothing to do unless the
    // message is still waiting and this job is the one that delivers it.
    let message: Option<OutgoingMessage> = sqlx::query_as(
        "UPDATE outbox SET attempts = attempts + 1, updated_at = now() \
         WHERE id = $1 AND job_id = $2 AND state IN ('queued', 'failed') \
         RETURNING to_address, to_name, subject, body_text, body_html, message_id, created_at",
    )
    .bind(id)
    .bind(ctx.id)
    .fetch_optional(&p.pool)
    .await
    .map_err(JobError::retry)?;
    let Some(message) = message else {
        let row: Option<(String, Option<Uuid>)> =
            sqlx::query_as("SELECT state, job_id FROM outbox WHERE id = $1")
                .bind(id)
                .fetch_optional(&p.pool)
                .await
                .map_err(JobError::retry)?;
        return match row {
            Some((state, job)) => {
                let superseded = job != Some(ctx.id);
                tracing::info!(outbox_id = %id, job_id = %ctx.id, %state, superseded, "nothing to send");
                Ok(())
            }
            None => Err(JobError::permanent(format!(
                "outbox row {id} does not exist"
            ))),
        };
    };
    match p.mailer.send(&message).await {
        Ok(answer) => {
            // Bodies holding one-time links are not kept once delivered.
            sqlx::query(
                "UPDATE outbox SET state = 'sent', sent_at = now(), updated_at = now(), last_error = NULL, \
                 smtp_response = $2, \
                 body_text = CASE WHEN sensitive THEN '' ELSE body_text END, \
                 body_html = CASE WHEN sensitive THEN '' ELSE body_html END \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(truncate(&answer, 500))
            .execute(&p.pool)
            .await
            .map_err(JobError::retry)?;
            tracing::info!(outbox_id = %id, job_id = %ctx.id, attempt = ctx.attempt, "message sent");
            Ok(())
        }
        Err(error) => {
            let last_attempt = match &error {
                SendError::Permanent(_) => true,
                SendError::Transient(_) => {
                    let max: Option<i32> =
                        sqlx::query_scalar("SELECT max_attempts FROM jobs WHERE id = $1")
                            .bind(ctx.id)
                            .fetch_optional(&p.pool)
                            .await
                            .map_err(JobError::retry)?;
                    max.is_some_and(|m| ctx.attempt >= m)
                }
            };
            let state = if last_attempt { "dead" } else { "failed" };
            let text = truncate(&error.to_string(), 1000);
            sqlx::query(
                "UPDATE outbox SET state = $2, last_error = $3, updated_at = now() WHERE id = $1",
            )
            .bind(id)
            .bind(state)
            .bind(&text)
            .execute(&p.pool)
            .await
            .map_err(JobError::retry)?;
            tracing::warn!(outbox_id = %id, job_id = %ctx.id, attempt = ctx.attempt, %state, error = %text, "message not sent");
            Err(match error {
                SendError::Permanent(m) => JobError::permanent(m),
                SendError::Transient(m) => JobError::retry(m),
            })
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}
