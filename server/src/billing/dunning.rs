//! Dunning and retention: deadlines checked against the platform's [`Clock`], decisions
//! applied through the tenant lifecycle jobs.
//!
//! - A past-due subscription's tenant keeps running for `BILLING_GRACE_DAYS`, with a
//!   reminder `BILLING_REMINDER_DAYS` before the end; then it is suspended.
//! - An ended subscription's tenant is suspended at once and deleted with a final backup
//!   `BILLING_RETENTION_DAYS` after the end.
//! - Billing writes its decision (`access`) and [`enforce`] asks the lifecycle for the
//!   matching job (deactivate, reactivate, delete), recording what it applied
//!   (`access_applied`). It acts only when its own decision changes, so an operator who
//!   reactivates a tenant by hand is not overruled by the next sweep.
//!
//! The sweep is a job that enqueues the next one (`BILLING_SWEEP_SECONDS`), keyed by its
//! time slot so several server processes schedule one sweep per slot.
//!
//! [`Clock`]: crate::platform::Clock

use super::notices::{self, Notice};
use super::{kinds, BillingError};
use crate::audit::Actor;
use crate::platform::Platform;
use crate::service::ServiceError;
use crate::tenants::service::{self as tenant_service, Operation};
use chrono::{DateTime, Utc};
use job_queue::NewJob;
use serde_json::json;
use uuid::Uuid;

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// Tenants suspended because their grace period ended.
    pub suspended: usize,
    /// Reminders queued.
    pub reminded: usize,
    /// Tenants whose retention period ended (deletion requested).
    pub deleting: usize,
    /// Decisions applied (or re-applied) through the lifecycle.
    pub applied: usize,
    /// Subscriptions re-read from Stripe (safety net for lost events).
    pub resynced: usize,
    /// Abandoned checkouts cleaned up.
    pub abandoned: usize,
}

/// One pass over every deadline. Idempotent: running it twice in a row does nothing more.
pub async fn sweep(p: &Platform) -> Result<SweepReport, BillingError> {
    let now = p.clock.now();
    let mut report = SweepReport {
        suspended: end_grace_periods(p, now).await?,
        reminded: send_reminders(p, now).await?,
        deleting: end_retention_periods(p, now).await?,
        ..SweepReport::default()
    };
    let pending: Vec<Uuid> = sqlx::query_scalar(
        "SELECT tenant_id FROM subscriptions WHERE access <> access_applied ORDER BY updated_at LIMIT 500",
    )
    .fetch_all(&p.pool)
    .await?;
    for tenant in pending {
        match enforce(p, tenant).await {
            Ok(true) => report.applied += 1,
            Ok(false) => {}
            Err(BillingError::Busy(reason)) => {
                tracing::info!(tenant_id = %tenant, %reason, "billing decision waits for the tenant's job")
            }
            Err(e) => return Err(e),
        }
    }
    report.resynced = resync_stale(p, now).await?;
    report.abandoned = super::checkout::expire_stale(p, now).await?;
    resync_plans(p).await?;
    if report != SweepReport::default() {
        tracing::info!(?report, "billing sweep");
    }
    Ok(report)
}

async fn end_grace_periods(p: &Platform, now: DateTime<Utc>) -> Result<usize, BillingError> {
    let mut tx = p.pool.begin().await?;
    let tenants: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE subscriptions SET access = 'suspended', updated_at = now() \
         WHERE status IN ('past_due', 'unpaid', 'paused') AND grace_ends_at <= $1 \
         AND access = 'open' AND NOT comped RETURNING tenant_id",
    )
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    for tenant in &tenants {
        notices::queue(&mut tx, *tenant, &Notice::SuspendedForNonPayment).await?;
    }
    tx.commit().await?;
    Ok(tenants.len())
}

/// Reminder `i` (0-based) is due `reminder_days[i]` days before the grace period ends; the
/// sweep sends the latest one due (never a burst of older ones after downtime).
async fn send_reminders(p: &Platform, now: DateTime<Utc>) -> Result<usize, BillingError> {
    let days = &p.config.billing.reminder_days;
    if days.is_empty() {
        return Ok(0);
    }
    let rows: Vec<(Uuid, DateTime<Utc>, i32)> = sqlx::query_as(
        "SELECT tenant_id, grace_ends_at, reminders_sent FROM subscriptions \
         WHERE status = 'past_due' AND access = 'open' AND NOT comped \
         AND grace_ends_at > $1 AND reminders_sent < $2",
    )
    .bind(now)
    .bind(i32::try_from(days.len()).unwrap_or(i32::MAX))
    .fetch_all(&p.pool)
    .await?;
    let mut sent = 0;
    for (tenant, grace_ends_at, already) in rows {
        let left = grace_ends_at - now;
        // How many reminder thresholds have passed.
        let due = days
            .iter()
            .take_while(|d| left <= chrono::Duration::days(i64::from(**d)))
            .count();
        let due = i32::try_from(due).unwrap_or(0);
        if due <= already {
            continue;
        }
        let mut tx = p.pool.begin().await?;
        let claimed = sqlx::query(
            "UPDATE subscriptions SET reminders_sent = $2, updated_at = now() \
             WHERE tenant_id = $1 AND reminders_sent = $3 AND status = 'past_due'",
        )
        .bind(tenant)
        .bind(due)
        .bind(already)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if claimed {
            let days_left = (left.num_hours() + 23) / 24;
            notices::queue(
                &mut tx,
                tenant,
                &Notice::Reminder {
                    grace_ends_at,
                    days_left,
                },
            )
            .await?;
            sent += 1;
        }
        tx.commit().await?;
    }
    Ok(sent)
}

async fn end_retention_periods(p: &Platform, now: DateTime<Utc>) -> Result<usize, BillingError> {
    let tenants: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE subscriptions SET access = 'deleted', updated_at = now() \
         WHERE delete_after <= $1 AND access <> 'deleted' AND NOT comped \
         AND status IN ('canceled', 'incomplete_expired') RETURNING tenant_id",
    )
    .bind(now)
    .fetch_all(&p.pool)
    .await?;
    Ok(tenants.len())
}

/// Applies billing's decision for a tenant through the lifecycle. True when a job was
/// requested; `Busy` when the tenant is in the middle of another operation.
pub async fn enforce(p: &Platform, tenant_id: Uuid) -> Result<bool, BillingError> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT access, access_applied FROM subscriptions WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_optional(&p.pool)
            .await?;
    let Some((access, applied)) = row else {
        return Ok(false);
    };
    if access == applied {
        return Ok(false);
    }
    let op = match access.as_str() {
        "suspended" => Operation::Deactivate,
        "open" => Operation::Reactivate,
        _ => Operation::Delete { backup: true },
    };
    let id = tenant_id.to_string();
    let outcome = tenant_service::request(p, &Actor::billing(), &id, op).await;
    let requested = match outcome {
        Ok(accepted) => {
            tracing::info!(tenant_id = %tenant_id, job_id = %accepted.job_id, access = %access, "billing decision applied");
            true
        }
        Err(ServiceError::Conflict {
            code: "operation_in_progress",
            message,
            ..
        }) => {
            return Err(BillingError::Busy(message));
        }
        Err(ServiceError::Conflict {
            code: "illegal_transition",
            ..
        }) => {
            // The tenant is already where billing wants it (or somewhere billing cannot
            // move it from, e.g. still provisioning: then wait).
            let state: String = sqlx::query_scalar("SELECT state FROM tenants WHERE id = $1")
                .bind(tenant_id)
                .fetch_one(&p.pool)
                .await?;
            if matches!(state.as_str(), "requested" | "provisioning") {
                return Err(BillingError::Busy(format!("the tenant is {state}")));
            }
            false
        }
        Err(ServiceError::NotFound(_)) => false,
        Err(e) => return Err(BillingError::Permanent(e.to_string())),
    };
    sqlx::query(
        "UPDATE subscriptions SET access_applied = $2, updated_at = now() WHERE tenant_id = $1 AND access = $2",
    )
    .bind(tenant_id)
    .bind(&access)
    .execute(&p.pool)
    .await?;
    Ok(requested)
}

/// Subscriptions not read from Stripe for a day (a lost event would leave them stale).
async fn resync_stale(p: &Platform, now: DateTime<Utc>) -> Result<usize, BillingError> {
    let stale: Vec<String> = sqlx::query_scalar(
        "SELECT stripe_subscription_id FROM subscriptions WHERE stripe_subscription_id IS NOT NULL \
         AND status NOT IN ('canceled', 'incomplete_expired') \
         AND (synced_at IS NULL OR synced_at < $1) ORDER BY synced_at NULLS FIRST LIMIT 100",
    )
    .bind(now - chrono::Duration::days(1))
    .fetch_all(&p.pool)
    .await?;
    for id in &stale {
        p.queue
            .enqueue(
                NewJob::new(kinds::SYNC_SUBSCRIPTION, json!({"subscription": id}))
                    .with_max_attempts(5)
                    .with_dedupe_key(format!("billing:sync_subscription:{id}")),
            )
            .await?;
    }
    Ok(stale.len())
}

/// Paid plans whose Stripe objects were not made for their current version.
async fn resync_plans(p: &Platform) -> Result<(), BillingError> {
    if !p.stripe.is_configured() {
        return Ok(());
    }
    let ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM plans WHERE price_cents > 0")
        .fetch_all(&p.pool)
        .await?;
    let mut tx = p.pool.begin().await?;
    for id in ids {
        let plan = super::catalog::load(p, id).await?;
        if !plan.is_synced() {
            super::enqueue_plan_sync(&mut tx, plan.id, &plan.version()).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Schedules the sweep of the slot after `now` (deduplicated per slot).
pub async fn schedule_next(p: &Platform) -> Result<Uuid, BillingError> {
    let every = i64::try_from(p.config.billing.sweep_interval_secs.max(1)).unwrap_or(600);
    let now = Utc::now().timestamp();
    let slot = now / every + 1;
    let at = DateTime::from_timestamp(slot * every, 0).unwrap_or_else(Utc::now);
    Ok(p.queue
        .enqueue(
            NewJob::new(kinds::SWEEP, json!({}))
                .with_max_attempts(3)
                .run_at(at)
                .with_dedupe_key(format!("billing:sweep:{slot}")),
        )
        .await?)
}
