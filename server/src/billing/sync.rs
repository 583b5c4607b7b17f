//! The job side of webhooks: an event only says *which* object changed. The job re-reads
//! that object from Stripe now and makes our row match it, so a replayed, late, missing or
//! out-of-order event cannot leave a stale state behind: whatever order the events arrive
//! in, the last job to run has read Stripe's latest state. Jobs of one subscription are
//! serialised by a lock on its row, taken *before* Stripe is read.
//!
//! From the subscription's state, billing decides what the tenant gets (`access`):
//! trialing/active → open; past_due → open until the grace period ends (the sweep then
//! suspends); unpaid/paused → suspended; canceled/incomplete_expired → suspended, and deleted
//! after the retention period. [`super::dunning::enforce`] applies a decision through the
//! tenant lifecycle jobs, once, after the transaction commits.

use super::client::StripeCallError;
use super::notices::{self, Notice};
use super::objects::{Invoice, Status, Subscription};
use super::{dunning, BillingError};
use crate::audit::{self, Actor};
use crate::platform::Platform;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
use stripe_client_core::{RequestBuilder, StripeMethod};
use uuid::Uuid;

/// Our subscription row, as billing decisions need it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SubRow {
    /// Row id.
    pub id: Uuid,
    /// Tenant.
    pub tenant_id: Uuid,
    /// The tenant's state.
    pub tenant_state: String,
    /// Stripe customer.
    pub stripe_customer_id: Option<String>,
    /// Stripe subscription.
    pub stripe_subscription_id: Option<String>,
    /// Stripe status, or `checkout`.
    pub status: String,
    /// When it fell past due.
    pub past_due_since: Option<DateTime<Utc>>,
    /// When the grace period ends.
    pub grace_ends_at: Option<DateTime<Utc>>,
    /// Reminders sent in this grace period.
    pub reminders_sent: i32,
    /// When the tenant is deleted.
    pub delete_after: Option<DateTime<Utc>>,
    /// When the subscription ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// Not charged, never suspended by billing.
    pub comped: bool,
    /// Billing's decision.
    pub access: String,
    /// The decision last applied.
    pub access_applied: String,
    /// When the row was last read from Stripe.
    pub synced_at: Option<DateTime<Utc>>,
    /// Last change of the row (a version for idempotency keys).
    pub updated_at: DateTime<Utc>,
}

const ROW: &str = "SELECT s.id, s.tenant_id, t.state AS tenant_state, s.stripe_customer_id, \
     s.stripe_subscription_id, s.status, s.past_due_since, s.grace_ends_at, s.reminders_sent, \
     s.delete_after, s.ended_at, s.comped, s.access, s.access_applied, s.synced_at, s.updated_at \
     FROM subscriptions s JOIN tenants t ON t.id = s.tenant_id";

/// Locks and reads the row of a Stripe subscription.
async fn lock_by_stripe_id(
    tx: &mut sqlx::PgConnection,
    stripe_id: &str,
) -> Result<Option<SubRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{ROW} WHERE s.stripe_subscription_id = $1 FOR UPDATE OF s"
    ))
    .bind(stripe_id)
    .fetch_optional(tx)
    .await
}

/// Locks and reads a tenant's row.
pub async fn lock_by_tenant(
    tx: &mut sqlx::PgConnection,
    tenant_id: Uuid,
) -> Result<Option<SubRow>, sqlx::Error> {
    sqlx::query_as(&format!("{ROW} WHERE s.tenant_id = $1 FOR UPDATE OF s"))
        .bind(tenant_id)
        .fetch_optional(tx)
        .await
}

/// Reads a tenant's row (no lock).
pub async fn row_of_tenant(p: &Platform, tenant_id: Uuid) -> Result<Option<SubRow>, sqlx::Error> {
    sqlx::query_as(&format!("{ROW} WHERE s.tenant_id = $1"))
        .bind(tenant_id)
        .fetch_optional(&p.pool)
        .await
}

fn ts(secs: Option<i64>) -> Option<DateTime<Utc>> {
    secs.and_then(|s| Utc.timestamp_opt(s, 0).single())
}

/// Processes a stored event: re-reads its object's current state.
pub async fn process_event(p: &Platform, event_id: &str) -> Result<(), BillingError> {
    let row: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT type, object_id FROM stripe_events WHERE id = $1")
            .bind(event_id)
            .fetch_optional(&p.pool)
            .await?;
    let Some((event_type, Some(object_id))) = row else {
        return Err(BillingError::Permanent(format!(
            "event {event_id} is not stored or names no object"
        )));
    };
    if event_type.starts_with("checkout.session.") {
        super::checkout::reconcile_session(p, &object_id).await?;
    } else if event_type.starts_with("customer.subscription.") {
        subscription(p, &object_id).await?;
    } else if event_type.starts_with("invoice.") {
        let invoice: Result<Invoice, StripeCallError> = p
            .stripe
            .send(
                RequestBuilder::new(StripeMethod::Get, format!("/invoices/{object_id}")),
                None,
            )
            .await;
        match invoice {
            Ok(invoice) => {
                if let Some(sub) = invoice.subscription_id() {
                    subscription(p, sub).await?;
                }
            }
            // A deleted draft: nothing to follow.
            Err(e) if e.is_missing() => {
                tracing::info!(event_id, invoice = %object_id, "invoice no longer exists at Stripe")
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Reads a subscription from Stripe.
pub async fn fetch(p: &Platform, stripe_id: &str) -> Result<Subscription, StripeCallError> {
    p.stripe
        .send(
            RequestBuilder::new(StripeMethod::Get, format!("/subscriptions/{stripe_id}")),
            None,
        )
        .await
}

/// Makes our row of the Stripe subscription `stripe_id` match Stripe now, then applies the
/// decision. Returns the tenant, or `None` for a subscription that is not ours (ignored).
pub async fn subscription(p: &Platform, stripe_id: &str) -> Result<Option<Uuid>, BillingError> {
    let mut tx = p.pool.begin().await?;
    let locked = lock_by_stripe_id(&mut tx, stripe_id).await?;
    // Read under the lock: a job that waited for it reads what Stripe says after the change
    // that woke it.
    let sub = fetch(p, stripe_id).await?;
    let row = match locked {
        Some(row) => row,
        None => match link(p, &mut tx, &sub).await? {
            Linked::Row(row) => *row,
            Linked::Ignored => return Ok(None),
            Linked::DuplicateCancelled => {
                tx.commit().await?;
                return Ok(None);
            }
        },
    };
    let tenant = row.tenant_id;
    apply(p, &mut tx, &row, &sub).await?;
    // A paid sign-up waiting for this subscription: provisioned now, once (the webhook and
    // the return page may both get here; the conditional update lets one through).
    if row.tenant_state == "awaiting_payment"
        && matches!(sub.status, Status::Active | Status::Trialing)
    {
        if let Some(job_id) =
            crate::tenants::service::start_provisioning(&mut tx, &Actor::billing(), tenant).await?
        {
            tracing::info!(tenant_id = %tenant, %job_id, subscription = %sub.id, "payment confirmed: provisioning");
        }
    }
    tx.commit().await?;
    if row.tenant_state == "awaiting_payment" {
        p.tenant_counts.clear();
    }
    dunning::enforce(p, tenant).await?;
    Ok(Some(tenant))
}

/// What [`link`] made of a subscription we had no row for.
enum Linked {
    /// Ours, now linked (or linked meanwhile by a concurrent job).
    Row(Box<SubRow>),
    /// Not ours.
    Ignored,
    /// A second live subscription of a tenant: cancelled at Stripe (audit written).
    DuplicateCancelled,
}

/// A subscription we have no row for yet: it names its tenant in its metadata (set by our
/// Checkout Session). Links it when that tenant's customer matches; cancels a second live
/// subscription of a tenant that already has one (so nobody pays twice).
async fn link(
    p: &Platform,
    tx: &mut sqlx::PgConnection,
    sub: &Subscription,
) -> Result<Linked, BillingError> {
    let Some(tenant_id) = sub
        .metadata
        .get("tenant_id")
        .and_then(|t| Uuid::parse_str(t).ok())
    else {
        tracing::info!(subscription = %sub.id, "Stripe subscription without our tenant id: ignored");
        return Ok(Linked::Ignored);
    };
    let Some(row) = lock_by_tenant(tx, tenant_id).await? else {
        tracing::info!(subscription = %sub.id, %tenant_id, "Stripe subscription of an unknown tenant: ignored");
        return Ok(Linked::Ignored);
    };
    if row.stripe_customer_id.is_none() || row.stripe_customer_id != sub.customer {
        tracing::warn!(subscription = %sub.id, %tenant_id, "Stripe subscription names a tenant of another customer: ignored");
        return Ok(Linked::Ignored);
    }
    if let Some(current) = &row.stripe_subscription_id {
        if current == &sub.id {
            // A concurrent job linked it while this one waited for the lock.
            return Ok(Linked::Row(Box::new(row)));
        }
        let current_live = !matches!(
            row.status.as_str(),
            "canceled" | "incomplete_expired" | "checkout"
        );
        let new_live = is_live(&sub.status);
        if current_live && new_live {
            cancel_duplicate(p, tx, &row, sub, current).await?;
            return Ok(Linked::DuplicateCancelled);
        }
        if !new_live {
            return Ok(Linked::Ignored);
        }
    }
    sqlx::query(
        "UPDATE subscriptions SET stripe_subscription_id = $2, updated_at = now() WHERE id = $1",
    )
    .bind(row.id)
    .bind(&sub.id)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut *tx,
        &Actor::billing(),
        "billing.subscription_linked",
        Some(tenant_id),
        None,
        json!({"subscription": sub.id, "customer": sub.customer}),
    )
    .await?;
    Ok(Linked::Row(Box::new(SubRow {
        stripe_subscription_id: Some(sub.id.clone()),
        ..row
    })))
}

fn is_live(status: &Status) -> bool {
    matches!(
        status,
        Status::Active | Status::Trialing | Status::PastDue | Status::Incomplete | Status::Unpaid
    )
}

async fn cancel_duplicate(
    p: &Platform,
    tx: &mut sqlx::PgConnection,
    row: &SubRow,
    sub: &Subscription,
    current: &str,
) -> Result<(), BillingError> {
    let cancelled: Result<Subscription, _> = p
        .stripe
        .send(
            RequestBuilder::new(StripeMethod::Delete, format!("/subscriptions/{}", sub.id)),
            None,
        )
        .await;
    match cancelled {
        Ok(_) => {}
        Err(e) if e.is_missing() => {}
        Err(e) => return Err(e.into()),
    }
    tracing::warn!(tenant_id = %row.tenant_id, duplicate = %sub.id, %current, "a second live subscription for one tenant was cancelled");
    audit::record(
        &mut *tx,
        &Actor::billing(),
        "billing.duplicate_subscription_cancelled",
        Some(row.tenant_id),
        None,
        json!({"cancelled": sub.id, "kept": current, "latest_invoice": sub.latest_invoice}),
    )
    .await?;
    Ok(())
}

/// What billing decides from a subscription's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// open, suspended, deleted.
    pub access: &'static str,
    /// Grace period start.
    pub past_due_since: Option<DateTime<Utc>>,
    /// Grace period end.
    pub grace_ends_at: Option<DateTime<Utc>>,
    /// Reminders sent in this grace period.
    pub reminders_sent: i32,
    /// Deletion date.
    pub delete_after: Option<DateTime<Utc>>,
    /// Messages to queue.
    pub notices: Vec<Notice>,
}

/// Billing's rules, as a pure function of our row, Stripe's subscription, now and the
/// settings (unit-tested without Stripe or a database).
pub fn decide(
    row: &SubRow,
    sub: &Subscription,
    now: DateTime<Utc>,
    grace_days: u32,
    retention_days: u32,
    invoice_url: Option<String>,
) -> Decision {
    let mut d = Decision {
        access: match row.access.as_str() {
            "deleted" => "deleted",
            "suspended" => "suspended",
            _ => "open",
        },
        past_due_since: row.past_due_since,
        grace_ends_at: row.grace_ends_at,
        reminders_sent: row.reminders_sent,
        delete_after: row.delete_after,
        notices: Vec::new(),
    };
    if row.comped {
        // A comped tenant is never suspended by billing.
        d.access = if row.access == "deleted" {
            "deleted"
        } else {
            "open"
        };
        return d;
    }
    if row.access == "deleted" {
        return d;
    }
    let was_open = row.access == "open";
    match sub.status {
        Status::Active | Status::Trialing => {
            d.past_due_since = None;
            d.grace_ends_at = None;
            d.reminders_sent = 0;
            d.delete_after = None;
            d.access = "open";
            if !was_open {
                d.notices.push(Notice::Reactivated);
            }
        }
        Status::PastDue => {
            if row.past_due_since.is_none() {
                let grace_ends_at = now + Duration::days(i64::from(grace_days));
                d.past_due_since = Some(now);
                d.grace_ends_at = Some(grace_ends_at);
                d.reminders_sent = 0;
                d.notices.push(Notice::PaymentFailed {
                    grace_ends_at,
                    invoice_url,
                });
            }
            if d.grace_ends_at.is_some_and(|end| end <= now) && was_open {
                d.access = "suspended";
                d.notices.push(Notice::SuspendedForNonPayment);
            }
        }
        Status::Unpaid | Status::Paused => {
            if d.past_due_since.is_none() {
                d.past_due_since = Some(now);
                d.grace_ends_at = Some(now);
            }
            if was_open {
                d.access = "suspended";
                d.notices.push(Notice::SuspendedForNonPayment);
            }
        }
        Status::Canceled | Status::IncompleteExpired => {
            if row.delete_after.is_none() {
                let ended = ts(sub.ended_at).unwrap_or(now);
                let delete_after = ended + Duration::days(i64::from(retention_days));
                d.delete_after = Some(delete_after);
                d.notices
                    .push(Notice::ScheduledForDeletion { delete_after });
            }
            d.access = "suspended";
            d.past_due_since = None;
            d.grace_ends_at = None;
        }
        Status::Incomplete | Status::Other => {}
    }
    d
}

/// Writes Stripe's state and billing's decision into the row, with its notices.
async fn apply(
    p: &Platform,
    tx: &mut sqlx::PgConnection,
    row: &SubRow,
    sub: &Subscription,
) -> Result<(), BillingError> {
    let now = p.clock.now();
    let settings = &p.config.billing;
    let invoice_url = if sub.status == Status::PastDue && row.past_due_since.is_none() {
        latest_invoice_url(p, sub).await
    } else {
        None
    };
    let d = decide(
        row,
        sub,
        now,
        settings.grace_days,
        settings.retention_days,
        invoice_url,
    );
    let price = sub.price();
    let (interval, count) = price
        .and_then(|pr| pr.period())
        .map(|(i, c)| (i.to_owned(), c))
        .unwrap_or_else(|| ("month".to_owned(), 1));
    let amount = price.and_then(|pr| pr.unit_amount).unwrap_or(0)
        * i64::try_from(sub.item().and_then(|i| i.quantity).unwrap_or(1)).unwrap_or(1);
    let months = match interval.as_str() {
        "year" => 12 * i64::from(count),
        "week" | "day" => 1,
        _ => i64::from(count.max(1)),
    };
    sqlx::query(
        "UPDATE subscriptions SET status = $2, stripe_price_id = $3, plan_interval = $4, \
         amount_cents = $5, monthly_amount_cents = $6, currency = COALESCE($7, currency), \
         cancel_at_period_end = $8, current_period_end = $9, trial_end = $10, canceled_at = $11, \
         ended_at = $12, latest_invoice_id = $13, past_due_since = $14, grace_ends_at = $15, \
         reminders_sent = $16, delete_after = $17, access = $18, synced_at = $19, updated_at = now() \
         WHERE id = $1",
    )
    .bind(row.id)
    .bind(sub.status.as_str())
    .bind(price.map(|pr| pr.id.as_str()))
    .bind(if interval == "year" { "year" } else { "month" })
    .bind(amount)
    .bind(amount / months)
    .bind(price.and_then(|pr| pr.currency.as_deref()))
    .bind(sub.cancel_at_period_end)
    .bind(ts(sub.current_period_end()))
    .bind(ts(sub.trial_end))
    .bind(ts(sub.canceled_at))
    .bind(ts(sub.ended_at))
    .bind(sub.latest_invoice.as_deref())
    .bind(d.past_due_since)
    .bind(d.grace_ends_at)
    .bind(d.reminders_sent)
    .bind(d.delete_after)
    .bind(d.access)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if row.status != sub.status.as_str() {
        audit::record(
            &mut *tx,
            &Actor::billing(),
            "billing.status_changed",
            Some(row.tenant_id),
            None,
            json!({"from": row.status, "to": sub.status.as_str(), "subscription": sub.id}),
        )
        .await?;
        tracing::info!(tenant_id = %row.tenant_id, subscription = %sub.id, from = %row.status, to = sub.status.as_str(), access = d.access, "subscription status changed");
    }
    for notice in &d.notices {
        notices::queue(tx, row.tenant_id, notice).await?;
    }
    Ok(())
}

async fn latest_invoice_url(p: &Platform, sub: &Subscription) -> Option<String> {
    let id = sub.latest_invoice.as_deref()?;
    match p
        .stripe
        .send::<Invoice>(
            RequestBuilder::new(StripeMethod::Get, format!("/invoices/{id}")),
            None,
        )
        .await
    {
        Ok(invoice) => invoice.hosted_invoice_url,
        Err(error) => {
            tracing::warn!(invoice = id, %error, "could not read the unpaid invoice's page address");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(access: &str) -> SubRow {
        SubRow {
            id: Uuid::nil(),
            tenant_id: Uuid::nil(),
            tenant_state: "active".into(),
            stripe_customer_id: Some("cus_1".into()),
            stripe_subscription_id: Some("sub_1".into()),
            status: "active".into(),
            past_due_since: None,
            grace_ends_at: None,
            reminders_sent: 0,
            delete_after: None,
            ended_at: None,
            comped: false,
            access: access.into(),
            access_applied: access.into(),
            synced_at: None,
            updated_at: now(),
        }
    }

    fn sub(status: &str) -> Subscription {
        serde_json::from_value(json!({"id": "sub_1", "status": status, "customer": "cus_1"}))
            .expect("subscription")
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0)
            .single()
            .expect("date")
    }

    #[test]
    fn past_due_starts_the_grace_period_once_and_keeps_the_tenant_open() {
        let d = decide(&row("open"), &sub("past_due"), now(), 7, 30, None);
        assert_eq!(d.access, "open");
        assert_eq!(d.grace_ends_at, Some(now() + Duration::days(7)));
        assert!(matches!(d.notices[..], [Notice::PaymentFailed { .. }]));
        // The same state seen again (a replay, a later event): no second mail, same deadline.
        let mut again = row("open");
        again.past_due_since = d.past_due_since;
        again.grace_ends_at = d.grace_ends_at;
        let d2 = decide(
            &again,
            &sub("past_due"),
            now() + Duration::hours(5),
            7,
            30,
            None,
        );
        assert!(d2.notices.is_empty());
        assert_eq!(d2.grace_ends_at, d.grace_ends_at);
    }

    #[test]
    fn a_past_due_event_read_after_the_grace_period_suspends() {
        let mut r = row("open");
        r.past_due_since = Some(now() - Duration::days(8));
        r.grace_ends_at = Some(now() - Duration::days(1));
        let d = decide(&r, &sub("past_due"), now(), 7, 30, None);
        assert_eq!(d.access, "suspended");
        assert_eq!(d.notices, vec![Notice::SuspendedForNonPayment]);
    }

    #[test]
    fn unpaid_suspends_at_once_and_paid_again_reopens_with_a_notice() {
        let d = decide(&row("open"), &sub("unpaid"), now(), 7, 30, None);
        assert_eq!(d.access, "suspended");
        let d = decide(&row("suspended"), &sub("active"), now(), 7, 30, None);
        assert_eq!(d.access, "open");
        assert_eq!(d.notices, vec![Notice::Reactivated]);
        assert_eq!(d.grace_ends_at, None);
    }

    #[test]
    fn canceled_suspends_and_schedules_the_deletion_once() {
        let d = decide(&row("open"), &sub("canceled"), now(), 7, 30, None);
        assert_eq!(d.access, "suspended");
        assert_eq!(d.delete_after, Some(now() + Duration::days(30)));
        let mut r = row("suspended");
        r.delete_after = d.delete_after;
        let d2 = decide(&r, &sub("canceled"), now() + Duration::days(2), 7, 30, None);
        assert!(d2.notices.is_empty());
        assert_eq!(d2.delete_after, d.delete_after);
    }

    #[test]
    fn a_comped_tenant_is_never_suspended_and_a_deleted_one_stays_deleted() {
        let mut r = row("open");
        r.comped = true;
        for status in ["past_due", "unpaid", "canceled"] {
            assert_eq!(decide(&r, &sub(status), now(), 7, 30, None).access, "open");
        }
        let d = decide(&row("deleted"), &sub("active"), now(), 7, 30, None);
        assert_eq!(d.access, "deleted");
        assert!(d.notices.is_empty());
    }
}
