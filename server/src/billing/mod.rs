//! Billing with Stripe.
//!
//! - [`client`]: async-stripe's client with the API version pinned and idempotency keys
//!   derived from our ids; answers read into our lenient [`objects`].
//! - [`catalog`]: plans mirrored to Stripe products and prices (idempotent, repairs drift).
//! - [`webhook`]: `POST /webhooks/stripe`: the signature checked on the raw body, the event
//!   id stored once in the same transaction as the job that processes it, 2xx at once.
//! - [`sync`]: the job side: re-reads the current object from Stripe (never trusting the
//!   event's copy or the order events arrive in) and decides what the tenant gets.
//! - [`dunning`]: grace periods, reminders, suspension, retention and deletion, applied
//!   through the tenant lifecycle jobs; a recurring sweep and the platform's [`Clock`].
//! - [`checkout`]: Checkout Sessions: subscribing a tenant, updating the card.
//!
//! [`Clock`]: crate::platform::Clock

pub mod catalog;
pub mod checkout;
pub mod client;
pub mod dunning;
pub mod manage;
pub mod notices;
pub mod objects;
pub mod sync;
pub mod webhook;

pub use client::{Stripe, StripeCallError, STRIPE_API_VERSION};

use crate::platform::Platform;
use job_queue::{JobContext, JobError, NewJob};
use serde_json::json;
use uuid::Uuid;

/// Job kinds of billing.
pub mod kinds {
    /// Mirror one plan to Stripe.
    pub const SYNC_PLAN: &str = "billing.sync_plan";
    /// Process one stored Stripe event.
    pub const STRIPE_EVENT: &str = "billing.stripe_event";
    /// Re-read one subscription from Stripe (the sweep's safety net).
    pub const SYNC_SUBSCRIPTION: &str = "billing.sync_subscription";
    /// Dunning and retention deadlines, decisions not yet applied, stale checkouts.
    pub const SWEEP: &str = "billing.sweep";
}

/// Why a billing step stopped.
#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    /// Stripe refused or could not be reached.
    #[error(transparent)]
    Stripe(#[from] StripeCallError),
    /// The platform database.
    #[error("platform database: {0}")]
    Db(#[from] sqlx::Error),
    /// The job queue.
    #[error(transparent)]
    Queue(#[from] job_queue::QueueError),
    /// The tenant is busy with another operation: try again soon.
    #[error("waiting: {0}")]
    Busy(String),
    /// Something that retrying will not fix.
    #[error("{0}")]
    Permanent(String),
}

impl From<catalog::SyncError> for BillingError {
    fn from(e: catalog::SyncError) -> Self {
        match e {
            catalog::SyncError::Stripe(e) => BillingError::Stripe(e),
            catalog::SyncError::Db(e) => BillingError::Db(e),
            e @ catalog::SyncError::NoPlan(_) => BillingError::Permanent(e.to_string()),
        }
    }
}

impl From<BillingError> for JobError {
    fn from(e: BillingError) -> Self {
        match e {
            BillingError::Stripe(ref s) if !s.is_transient() => JobError::Permanent(e.to_string()),
            BillingError::Permanent(m) => JobError::Permanent(m),
            BillingError::Busy(m) => JobError::snooze(m, std::time::Duration::from_secs(2)),
            other => JobError::Retry(other.to_string()),
        }
    }
}

/// Runs a billing job.
pub async fn run_job(p: &Platform, ctx: &JobContext) -> Result<(), JobError> {
    #[derive(serde::Deserialize)]
    struct Payload {
        plan_id: Option<Uuid>,
        event_id: Option<String>,
        subscription: Option<String>,
    }
    let payload: Payload = ctx.payload()?;
    let result = match (ctx.kind.as_str(), payload) {
        (
            kinds::SYNC_PLAN,
            Payload {
                plan_id: Some(id), ..
            },
        ) if !p.stripe.is_configured() => not_configured(p, id).await,
        (
            kinds::SYNC_PLAN,
            Payload {
                plan_id: Some(id), ..
            },
        ) => catalog::sync_plan(p, id)
            .await
            .map(|_| ())
            .map_err(BillingError::from),
        (
            kinds::STRIPE_EVENT,
            Payload {
                event_id: Some(id), ..
            },
        ) => sync::process_event(p, &id).await,
        (
            kinds::SYNC_SUBSCRIPTION,
            Payload {
                subscription: Some(id),
                ..
            },
        ) => sync::subscription(p, &id).await.map(|_| ()),
        (kinds::SWEEP, _) => {
            let swept = dunning::sweep(p).await.map(|_| ());
            // The next one, whatever this one's outcome (a failed sweep is retried too).
            dunning::schedule_next(p).await?;
            swept
        }
        (kind, _) => Err(BillingError::Permanent(format!(
            "not a billing job or bad payload: {kind}"
        ))),
    };
    if let Err(error) = &result {
        tracing::warn!(job_id = %ctx.id, kind = %ctx.kind, attempt = ctx.attempt, %error, "billing job step failed");
    }
    result.map_err(JobError::from)
}

/// What a paid plan's sync records when `STRIPE_SECRET_KEY` is unset.
pub const NOT_CONFIGURED: &str = "Billing is not configured (STRIPE_SECRET_KEY is unset): this paid plan is not mirrored to Stripe and cannot be signed up for until it is set.";

/// A paid plan's sync with Stripe not configured: not a failure of the job (retrying cannot
/// help), but said clearly: a warning in the log, the reason on the plan
/// (`stripe_sync_error`), and the dashboard's billing section. The sweep syncs the plan
/// once a key is set.
async fn not_configured(p: &Platform, plan_id: Uuid) -> Result<(), BillingError> {
    let paid: Option<String> = sqlx::query_scalar(
        "UPDATE plans SET stripe_sync_error = $2 WHERE id = $1 AND price_cents > 0 RETURNING key",
    )
    .bind(plan_id)
    .bind(NOT_CONFIGURED)
    .fetch_optional(&p.pool)
    .await?;
    if let Some(plan) = paid {
        tracing::warn!(%plan_id, %plan, "paid plan not mirrored to Stripe: STRIPE_SECRET_KEY is unset");
    }
    Ok(())
}

/// Enqueues a plan's Stripe sync in the caller's transaction (plan created or changed).
/// Deduplicated per billing version of the plan ([`catalog::billing_version`]): a change
/// made while a sync runs gets its own.
pub async fn enqueue_plan_sync(
    tx: &mut sqlx::PgConnection,
    plan_id: Uuid,
    version: &str,
) -> Result<Uuid, job_queue::QueueError> {
    job_queue::enqueue(
        &mut *tx,
        NewJob::new(kinds::SYNC_PLAN, json!({"plan_id": plan_id}))
            .with_max_attempts(10)
            .with_dedupe_key(format!("billing:sync_plan:{plan_id}:{version}")),
    )
    .await
}
