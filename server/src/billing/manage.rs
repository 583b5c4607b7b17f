//! What an owner (and a superadmin) does with a subscription: see it, its invoices, change
//! plan after a proration preview, cancel at the period's end and undo it; a superadmin
//! comps a tenant; the dashboard's monthly recurring revenue and past-due tenants. Plain
//! typed inputs, [`ServiceError`] out; the API and the portals call these.

use super::catalog::{self, Interval};
use super::checkout::service_error;
use super::client::idempotency_key;
use super::objects::{Customer, Invoice, List, PaymentMethod, Subscription};
use super::{dunning, sync};
use crate::audit::{self, Actor};
use crate::platform::Platform;
use crate::service::ServiceError;
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use stripe_client_core::{RequestBuilder, StripeMethod};
use utoipa::ToSchema;
use uuid::Uuid;

/// A tenant's subscription as the owner sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BillingOverview {
    /// Tenant.
    pub tenant_id: Uuid,
    /// Plan key.
    pub plan: String,
    /// Plan name.
    pub plan_name: String,
    /// Whether the plan costs money.
    pub paid_plan: bool,
    /// `none` (never subscribed), `checkout` (waiting for the first payment), or Stripe's
    /// status: trialing, active, past_due, unpaid, canceled, incomplete, ...
    pub status: String,
    /// `month` or `year`.
    pub interval: String,
    /// Price of one period in cents.
    pub amount_cents: i64,
    /// Lowercase ISO code.
    pub currency: String,
    /// End of the free trial.
    pub trial_end: Option<DateTime<Utc>>,
    /// End of the current period (the next invoice's date, unless cancelled).
    pub current_period_end: Option<DateTime<Utc>>,
    /// Ends at the period's end.
    pub cancel_at_period_end: bool,
    /// Past due since.
    pub past_due_since: Option<DateTime<Utc>>,
    /// When the tenant will be suspended unless paid.
    pub grace_ends_at: Option<DateTime<Utc>>,
    /// When the tenant will be deleted (after a cancellation).
    pub delete_after: Option<DateTime<Utc>>,
    /// Offered free of charge by the operator.
    pub comped: bool,
    /// The next invoice (amount and date), when Stripe could tell.
    pub next_invoice: Option<NextInvoice>,
    /// The card that pays, when Stripe could tell.
    pub card: Option<CardSummary>,
    /// Stripe could not be reached for the live parts (next invoice, card): shown as
    /// "we are confirming with our payment provider".
    pub stripe_unreachable: bool,
}

/// The next invoice.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NextInvoice {
    /// Amount due in cents.
    pub amount_due: i64,
    /// Lowercase ISO code.
    pub currency: String,
    /// When it will be charged.
    pub date: Option<DateTime<Utc>>,
}

/// A card, as far as it may be shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CardSummary {
    /// visa, mastercard, ...
    pub brand: String,
    /// Last four digits.
    pub last4: String,
    /// Expiry `MM/YYYY`.
    pub expires: String,
}

/// One invoice as the owner sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvoiceSummary {
    /// `in_…`.
    pub id: String,
    /// Its number.
    pub number: Option<String>,
    /// draft, open, paid, uncollectible, void.
    pub status: String,
    /// Total in cents.
    pub total: i64,
    /// Amount due in cents.
    pub amount_due: i64,
    /// Paid in cents.
    pub amount_paid: i64,
    /// Lowercase ISO code.
    pub currency: String,
    /// Created.
    pub created: Option<DateTime<Utc>>,
    /// Stripe's page for the invoice.
    pub hosted_invoice_url: Option<String>,
    /// Its PDF.
    pub invoice_pdf: Option<String>,
}

/// A page of invoices, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvoicePage {
    /// The invoices.
    pub items: Vec<InvoiceSummary>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// A plan change asked for.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanChange {
    /// The new plan's key.
    pub plan: String,
    /// `month` or `year` (default: the current one).
    #[serde(default)]
    pub interval: Option<Interval>,
    /// The proration date of the preview that was shown (so the charge matches it).
    #[serde(default)]
    pub proration_date: Option<i64>,
}

/// What a plan change will cost.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangePreview {
    /// The new plan's key.
    pub plan: String,
    /// `month` or `year`.
    pub interval: Interval,
    /// The price of one period of the new plan in cents.
    pub new_amount_cents: i64,
    /// What the next invoice will be, prorations included, in cents.
    pub amount_due: i64,
    /// Lowercase ISO code.
    pub currency: String,
    /// When that invoice is charged.
    pub next_invoice_date: Option<DateTime<Utc>>,
    /// Its lines (prorations first).
    pub lines: Vec<PreviewLine>,
    /// Pass back with the confirmation.
    pub proration_date: i64,
}

/// One line of a preview.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PreviewLine {
    /// What it is.
    pub description: String,
    /// Amount in cents (negative: a credit).
    pub amount: i64,
    /// A proration of the current period.
    pub proration: bool,
}

fn ts(secs: Option<i64>) -> Option<DateTime<Utc>> {
    secs.and_then(|s| Utc.timestamp_opt(s, 0).single())
}

#[derive(sqlx::FromRow)]
struct OverviewRow {
    plan_key: String,
    plan_name: String,
    price_cents: i32,
    status: Option<String>,
    plan_interval: Option<String>,
    amount_cents: Option<i64>,
    currency: Option<String>,
    plan_currency: String,
    trial_end: Option<DateTime<Utc>>,
    current_period_end: Option<DateTime<Utc>>,
    cancel_at_period_end: Option<bool>,
    past_due_since: Option<DateTime<Utc>>,
    grace_ends_at: Option<DateTime<Utc>>,
    delete_after: Option<DateTime<Utc>>,
    comped: Option<bool>,
    stripe_subscription_id: Option<String>,
    stripe_customer_id: Option<String>,
    synced_at: Option<DateTime<Utc>>,
}

/// The tenant's subscription; the live parts (next invoice, card) read from Stripe.
pub async fn overview(p: &Platform, tenant_id: Uuid) -> Result<BillingOverview, ServiceError> {
    let row: OverviewRow = sqlx::query_as(
        "SELECT pl.key AS plan_key, pl.name AS plan_name, pl.price_cents, s.status, s.plan_interval, \
         s.amount_cents, s.currency, pl.currency AS plan_currency, s.trial_end, s.current_period_end, \
         s.cancel_at_period_end, s.past_due_since, s.grace_ends_at, s.delete_after, s.comped, \
         s.stripe_subscription_id, s.stripe_customer_id, s.synced_at \
         FROM tenants t JOIN plans pl ON pl.id = t.plan_id \
         LEFT JOIN subscriptions s ON s.tenant_id = t.id WHERE t.id = $1",
    )
    .bind(tenant_id)
    .fetch_optional(&p.pool)
    .await?
    .ok_or(ServiceError::NotFound("tenant"))?;
    let mut o = BillingOverview {
        tenant_id,
        plan: row.plan_key,
        plan_name: row.plan_name,
        paid_plan: row.price_cents > 0,
        status: row.status.unwrap_or_else(|| "none".to_owned()),
        interval: row.plan_interval.unwrap_or_else(|| "month".to_owned()),
        amount_cents: row
            .amount_cents
            .filter(|a| *a > 0)
            .unwrap_or(i64::from(row.price_cents)),
        currency: row
            .currency
            .unwrap_or_else(|| row.plan_currency.to_ascii_lowercase()),
        trial_end: row.trial_end,
        current_period_end: row.current_period_end,
        cancel_at_period_end: row.cancel_at_period_end.unwrap_or(false),
        past_due_since: row.past_due_since,
        grace_ends_at: row.grace_ends_at,
        delete_after: row.delete_after,
        comped: row.comped.unwrap_or(false),
        next_invoice: None,
        card: None,
        stripe_unreachable: false,
    };
    let live = !matches!(
        o.status.as_str(),
        "none" | "checkout" | "canceled" | "incomplete_expired"
    );
    if let (true, Some(sub), Some(customer)) = (
        live && !o.comped,
        row.stripe_subscription_id,
        row.stripe_customer_id,
    ) {
        let version = row.synced_at.map(|t| t.timestamp_micros()).unwrap_or(0);
        match live_parts(p, &sub, &customer, o.cancel_at_period_end, version).await {
            Ok((next, card)) => {
                o.next_invoice = next;
                o.card = card;
            }
            Err(error) if error.is_transient() => {
                tracing::warn!(%tenant_id, %error, "billing overview without Stripe's live parts");
                o.stripe_unreachable = true;
            }
            Err(error) => return Err(service_error(error)),
        }
    }
    Ok(o)
}

#[derive(Serialize)]
struct PreviewParams<'a> {
    customer: &'a str,
    subscription: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscription_details: Option<PreviewDetails<'a>>,
}

#[derive(Serialize)]
struct PreviewDetails<'a> {
    items: Vec<ItemChange<'a>>,
    proration_date: i64,
    proration_behavior: &'static str,
}

#[derive(Serialize)]
struct ItemChange<'a> {
    id: &'a str,
    price: &'a str,
}

async fn live_parts(
    p: &Platform,
    sub: &str,
    customer: &str,
    cancelling: bool,
    version: i64,
) -> Result<(Option<NextInvoice>, Option<CardSummary>), super::StripeCallError> {
    let next = if cancelling {
        None
    } else {
        let preview: Invoice = p
            .stripe
            .send(
                RequestBuilder::new(StripeMethod::Post, "/invoices/create_preview").form(
                    &PreviewParams {
                        customer,
                        subscription: sub,
                        subscription_details: None,
                    },
                ),
                // Per synced state of the subscription: a changed subscription gets a new
                // preview, a reload of the same state the same one.
                Some(&idempotency_key(&[
                    "next-invoice",
                    sub,
                    &version.to_string(),
                ])),
            )
            .await?;
        Some(NextInvoice {
            amount_due: preview.amount_due,
            currency: preview.currency.unwrap_or_default(),
            date: ts(preview
                .next_payment_attempt
                .or(preview.period_end)
                .or(preview.created)),
        })
    };
    let c: Customer = p
        .stripe
        .send(
            RequestBuilder::new(StripeMethod::Get, format!("/customers/{customer}")),
            None,
        )
        .await?;
    let card = match c.invoice_settings.and_then(|s| s.default_payment_method) {
        Some(pm) => {
            let pm: PaymentMethod = p
                .stripe
                .send(
                    RequestBuilder::new(StripeMethod::Get, format!("/payment_methods/{pm}")),
                    None,
                )
                .await?;
            pm.card.map(|c| CardSummary {
                brand: c.brand.unwrap_or_else(|| "card".to_owned()),
                last4: c.last4.unwrap_or_default(),
                expires: format!(
                    "{:02}/{}",
                    c.exp_month.unwrap_or(0),
                    c.exp_year.unwrap_or(0)
                ),
            })
        }
        None => None,
    };
    Ok((next, card))
}

#[derive(Serialize)]
struct InvoiceQuery<'a> {
    subscription: &'a str,
    limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    starting_after: Option<&'a str>,
}

/// The tenant's invoices, newest first, from Stripe.
pub async fn invoices(
    p: &Platform,
    tenant_id: Uuid,
    limit: u32,
    starting_after: Option<&str>,
) -> Result<InvoicePage, ServiceError> {
    if !(1..=100).contains(&limit) {
        return Err(ServiceError::invalid(
            "limit_invalid",
            "limit",
            "limit must be from 1 to 100.",
        ));
    }
    if starting_after.is_some_and(|c| !c.starts_with("in_") || c.len() > 100) {
        return Err(ServiceError::invalid(
            "cursor_invalid",
            "cursor",
            "This cursor was not given by an invoice list.",
        ));
    }
    let sub: Option<Option<String>> =
        sqlx::query_scalar("SELECT stripe_subscription_id FROM subscriptions WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_optional(&p.pool)
            .await?;
    let Some(Some(sub)) = sub else {
        return Ok(InvoicePage {
            items: Vec::new(),
            next_cursor: None,
        });
    };
    let list: List<Invoice> = p
        .stripe
        .send(
            RequestBuilder::new(StripeMethod::Get, "/invoices").query(&InvoiceQuery {
                subscription: &sub,
                limit,
                starting_after,
            }),
            None,
        )
        .await
        .map_err(service_error)?;
    let items: Vec<InvoiceSummary> = list
        .data
        .into_iter()
        .filter_map(|i| {
            Some(InvoiceSummary {
                id: i.id?,
                number: i.number,
                status: i.status.unwrap_or_else(|| "unknown".to_owned()),
                total: i.total,
                amount_due: i.amount_due,
                amount_paid: i.amount_paid,
                currency: i.currency.unwrap_or_default(),
                created: ts(i.created),
                hosted_invoice_url: i.hosted_invoice_url,
                invoice_pdf: i.invoice_pdf,
            })
        })
        .collect();
    let next_cursor = if list.has_more {
        items.last().map(|i| i.id.clone())
    } else {
        None
    };
    Ok(InvoicePage { items, next_cursor })
}

struct Live {
    row: sync::SubRow,
    sub: Subscription,
}

async fn live_subscription(p: &Platform, tenant_id: Uuid) -> Result<Live, ServiceError> {
    let row = sync::row_of_tenant(p, tenant_id).await?.ok_or_else(|| {
        ServiceError::conflict("no_subscription", "This tenant has no subscription.")
    })?;
    if row.comped {
        return Err(ServiceError::conflict(
            "comped",
            "This tenant is offered free of charge: there is no subscription to manage.",
        ));
    }
    let Some(stripe_id) = row.stripe_subscription_id.clone() else {
        return Err(ServiceError::conflict(
            "no_subscription",
            "This tenant has no subscription yet.",
        ));
    };
    let sub = sync::fetch(p, &stripe_id).await.map_err(service_error)?;
    if matches!(
        sub.status,
        super::objects::Status::Canceled | super::objects::Status::IncompleteExpired
    ) {
        return Err(ServiceError::conflict(
            "subscription_ended",
            "This subscription has ended: subscribe again instead.",
        ));
    }
    Ok(Live { row, sub })
}

struct Target {
    plan_id: Uuid,
    plan_key: String,
    interval: Interval,
    price: String,
    amount: i64,
}

async fn target(
    p: &Platform,
    tenant_id: Uuid,
    live: &Live,
    change: &PlanChange,
) -> Result<Target, ServiceError> {
    let plan = crate::plans::get_by_key(p, change.plan.trim())
        .await?
        .filter(|plan| plan.active)
        .ok_or_else(|| {
            ServiceError::invalid(
                "plan_unknown",
                "plan",
                format!("There is no plan '{}'.", change.plan.trim()),
            )
        })?;
    if plan.price_cents == 0 {
        return Err(ServiceError::invalid(
            "plan_free",
            "plan",
            "Moving to a free plan: cancel the subscription instead (the tenant moves to the free plan at the period's end is not offered).",
        ));
    }
    let (companies, current_plan): (i32, Uuid) = sqlx::query_as(
        "SELECT 1 + cardinality(extra_companies), plan_id FROM tenants WHERE id = $1",
    )
    .bind(tenant_id)
    .fetch_one(&p.pool)
    .await?;
    if companies > plan.max_companies {
        return Err(ServiceError::invalid(
            "too_many_companies",
            "plan",
            format!(
                "The plan '{}' allows {} and this tenant has {companies}.",
                plan.key,
                crate::plans::companies(plan.max_companies)
            ),
        ));
    }
    let current_interval = live
        .sub
        .price()
        .and_then(|pr| pr.period())
        .and_then(|(i, _)| Interval::parse(i))
        .unwrap_or(Interval::Month);
    let interval = change.interval.unwrap_or(current_interval);
    if plan.id == current_plan && interval == current_interval {
        return Err(ServiceError::conflict(
            "same_plan",
            "The tenant is already on this plan, billed this way: choose another plan or billing period.",
        ));
    }
    let synced = catalog::ensure_synced(p, plan.id)
        .await
        .map_err(|e| match e {
            catalog::SyncError::Stripe(s) => service_error(s),
            other => ServiceError::internal(other),
        })?;
    let price = synced
        .price_id(interval)
        .ok_or_else(|| ServiceError::internal("the plan has no Stripe price after its sync"))?
        .to_owned();
    Ok(Target {
        plan_id: plan.id,
        plan_key: plan.key,
        interval,
        amount: synced.amount(interval),
        price,
    })
}

/// What changing to `change.plan` will cost (Stripe's invoice preview).
pub async fn preview_change(
    p: &Platform,
    tenant_id: Uuid,
    change: &PlanChange,
) -> Result<ChangePreview, ServiceError> {
    let live = live_subscription(p, tenant_id).await?;
    let target = target(p, tenant_id, &live, change).await?;
    let item = live
        .sub
        .item()
        .ok_or_else(|| ServiceError::internal("a subscription without items"))?;
    let customer = live
        .row
        .stripe_customer_id
        .clone()
        .ok_or_else(|| ServiceError::internal("a subscription without a customer"))?;
    let proration_date = p.clock.now().timestamp().min(Utc::now().timestamp());
    let preview: Invoice = p
        .stripe
        .send(
            RequestBuilder::new(StripeMethod::Post, "/invoices/create_preview").form(
                &PreviewParams {
                    customer: &customer,
                    subscription: &live.sub.id,
                    subscription_details: Some(PreviewDetails {
                        items: vec![ItemChange {
                            id: &item.id,
                            price: &target.price,
                        }],
                        proration_date,
                        proration_behavior: "create_prorations",
                    }),
                },
            ),
            Some(&idempotency_key(&[
                "change-preview",
                &live.sub.id,
                &target.price,
                &proration_date.to_string(),
            ])),
        )
        .await
        .map_err(service_error)?;
    let mut lines: Vec<PreviewLine> = preview
        .lines
        .data
        .iter()
        .map(|l| PreviewLine {
            description: l.description.clone().unwrap_or_default(),
            amount: l.amount,
            proration: l.is_proration(),
        })
        .collect();
    lines.sort_by_key(|l| !l.proration);
    Ok(ChangePreview {
        plan: target.plan_key,
        interval: target.interval,
        new_amount_cents: target.amount,
        amount_due: preview.amount_due,
        currency: preview.currency.unwrap_or_default(),
        next_invoice_date: ts(preview.next_payment_attempt.or(preview.period_end)),
        lines,
        proration_date,
    })
}

#[derive(Serialize)]
struct UpdateItems<'a> {
    items: Vec<ItemChange<'a>>,
    proration_behavior: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    proration_date: Option<i64>,
    metadata: std::collections::BTreeMap<&'static str, String>,
}

/// Changes the tenant's plan (Stripe prorates to the `proration_date` of the preview), then
/// the tenant's plan in the platform.
pub async fn change_plan(
    p: &Platform,
    actor: &Actor,
    tenant_id: Uuid,
    change: &PlanChange,
) -> Result<BillingOverview, ServiceError> {
    let live = live_subscription(p, tenant_id).await?;
    let target = target(p, tenant_id, &live, change).await?;
    let item = live
        .sub
        .item()
        .ok_or_else(|| ServiceError::internal("a subscription without items"))?;
    let now = Utc::now().timestamp();
    let proration_date = change
        .proration_date
        .filter(|d| (now - 3600..=now + 60).contains(d));
    if change.proration_date.is_some() && proration_date.is_none() {
        return Err(ServiceError::invalid(
            "preview_expired",
            "proration_date",
            "This price preview is more than an hour old: preview the change again.",
        ));
    }
    p.stripe
        .send::<Subscription>(
            RequestBuilder::new(
                StripeMethod::Post,
                format!("/subscriptions/{}", live.sub.id),
            )
            .form(&UpdateItems {
                items: vec![ItemChange {
                    id: &item.id,
                    price: &target.price,
                }],
                proration_behavior: "create_prorations",
                proration_date,
                metadata: std::collections::BTreeMap::from([("tenant_id", tenant_id.to_string())]),
            }),
            Some(&idempotency_key(&[
                "change-plan",
                &live.sub.id,
                &target.price,
                &proration_date.unwrap_or(now).to_string(),
            ])),
        )
        .await
        .map_err(service_error)?;
    let mut tx = p.pool.begin().await?;
    sqlx::query("UPDATE tenants SET plan_id = $2, updated_at = now() WHERE id = $1")
        .bind(tenant_id)
        .bind(target.plan_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut *tx,
        actor,
        "billing.plan_changed",
        Some(tenant_id),
        None,
        json!({"plan": target.plan_key, "interval": target.interval.as_str(), "subscription": live.sub.id}),
    )
    .await?;
    tx.commit().await?;
    p.tenant_counts.clear();
    sync::subscription(p, &live.sub.id).await?;
    overview(p, tenant_id).await
}

#[derive(Serialize)]
struct CancelAtPeriodEnd {
    cancel_at_period_end: bool,
}

/// Cancels at the end of the current period (`true`), or undoes that (`false`).
pub async fn set_cancel_at_period_end(
    p: &Platform,
    actor: &Actor,
    tenant_id: Uuid,
    cancel: bool,
) -> Result<BillingOverview, ServiceError> {
    let live = live_subscription(p, tenant_id).await?;
    if live.sub.cancel_at_period_end != cancel {
        p.stripe
            .send::<Subscription>(
                RequestBuilder::new(
                    StripeMethod::Post,
                    format!("/subscriptions/{}", live.sub.id),
                )
                .form(&CancelAtPeriodEnd {
                    cancel_at_period_end: cancel,
                }),
                // Per synced state: a retry replays, the next change (after the sync below)
                // gets its own key.
                Some(&idempotency_key(&[
                    if cancel { "cancel" } else { "uncancel" },
                    &live.sub.id,
                    &live
                        .row
                        .synced_at
                        .map(|t| t.timestamp_micros())
                        .unwrap_or(0)
                        .to_string(),
                ])),
            )
            .await
            .map_err(service_error)?;
        audit::record(
            &p.pool,
            actor,
            if cancel {
                "billing.cancel_requested"
            } else {
                "billing.cancel_undone"
            },
            Some(tenant_id),
            None,
            json!({"subscription": live.sub.id, "period_end": live.sub.current_period_end()}),
        )
        .await?;
    }
    sync::subscription(p, &live.sub.id).await?;
    overview(p, tenant_id).await
}

/// Marks a tenant comped (free of charge) or not, by a superadmin. Comping cancels a
/// live Stripe subscription at once (no more charges) and reopens a tenant billing had
/// suspended; un-comping leaves the tenant running and the owner to subscribe again.
pub async fn set_comped(
    p: &Platform,
    actor: &Actor,
    tenant_id: Uuid,
    comped: bool,
    reason: Option<&str>,
) -> Result<BillingOverview, ServiceError> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if comped && reason.is_none_or(|r| r.chars().count() > 200) {
        return Err(ServiceError::invalid(
            "reason_required",
            "reason",
            "Say why this tenant is free of charge (1 to 200 characters).",
        ));
    }
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1)")
        .bind(tenant_id)
        .fetch_one(&p.pool)
        .await?;
    if !exists {
        return Err(ServiceError::NotFound("tenant"));
    }
    let live = sync::row_of_tenant(p, tenant_id).await?;
    if comped {
        if let Some(row) = &live {
            if let (Some(sub), false) = (
                &row.stripe_subscription_id,
                matches!(row.status.as_str(), "canceled" | "incomplete_expired"),
            ) {
                let cancelled: Result<Subscription, _> = p
                    .stripe
                    .send(
                        RequestBuilder::new(StripeMethod::Delete, format!("/subscriptions/{sub}")),
                        None,
                    )
                    .await;
                match cancelled {
                    Ok(_) => {}
                    Err(e) if e.is_missing() => {}
                    Err(e) => return Err(service_error(e)),
                }
            }
        }
    }
    let mut tx = p.pool.begin().await?;
    sqlx::query(
        "INSERT INTO subscriptions (tenant_id, status, comped, comped_reason) VALUES ($1, 'none', $2, $3) \
         ON CONFLICT (tenant_id) DO UPDATE SET comped = $2, comped_reason = $3, updated_at = now()",
    )
    .bind(tenant_id)
    .bind(comped)
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    if comped {
        // Whatever billing decided before, the tenant is open now (a deletion stays).
        sqlx::query(
            "UPDATE subscriptions SET access = CASE WHEN access = 'deleted' THEN access ELSE 'open' END, \
             past_due_since = NULL, grace_ends_at = NULL, delete_after = NULL WHERE tenant_id = $1",
        )
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?;
    }
    audit::record(
        &mut *tx,
        actor,
        if comped {
            "billing.comped"
        } else {
            "billing.uncomped"
        },
        Some(tenant_id),
        None,
        json!({"reason": reason}),
    )
    .await?;
    tx.commit().await?;
    if comped {
        if let Some(row) = live.and_then(|r| r.stripe_subscription_id) {
            // Record Stripe's final state of the cancelled subscription.
            let _ = sync::subscription(p, &row).await;
        }
    }
    match dunning::enforce(p, tenant_id).await {
        Ok(_) | Err(super::BillingError::Busy(_)) => {}
        Err(e) => return Err(e.into()),
    }
    overview(p, tenant_id).await
}

/// The dashboard's billing figures.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BillingStats {
    /// Monthly recurring revenue per currency (active and past-due subscriptions; yearly
    /// prices divided by 12), in cents.
    pub mrr: Vec<CurrencyAmount>,
    /// Subscriptions per status.
    pub by_status: Vec<StatusCount>,
    /// Tenants whose subscription is past due or unpaid, oldest first.
    pub past_due: Vec<PastDueTenant>,
    /// Comped tenants.
    pub comped: i64,
    /// Whether Stripe is configured (`STRIPE_SECRET_KEY`).
    pub configured: bool,
    /// Active paid plans (not sold while Stripe is not configured).
    pub paid_plans: i64,
}

/// How many subscriptions have a status.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct StatusCount {
    /// The status.
    pub status: String,
    /// How many.
    pub count: i64,
}

/// An amount in one currency.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CurrencyAmount {
    /// Lowercase ISO code.
    pub currency: String,
    /// Cents.
    pub cents: i64,
}

/// A past-due tenant.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct PastDueTenant {
    /// Tenant.
    pub tenant_id: Uuid,
    /// Slug.
    pub slug: String,
    /// past_due or unpaid.
    pub status: String,
    /// Since.
    pub past_due_since: Option<DateTime<Utc>>,
    /// Suspended unless paid by.
    pub grace_ends_at: Option<DateTime<Utc>>,
    /// Amount per period in cents.
    pub amount_cents: i64,
    /// Lowercase ISO code.
    pub currency: String,
}

/// MRR, statuses and past-due tenants.
pub async fn stats(p: &Platform) -> Result<BillingStats, ServiceError> {
    let mrr: Vec<(String, i64)> = sqlx::query_as(
        "SELECT currency, sum(monthly_amount_cents)::bigint FROM subscriptions \
         WHERE status IN ('active', 'past_due') AND NOT comped GROUP BY currency ORDER BY currency",
    )
    .fetch_all(&p.pool)
    .await?;
    let by_status: Vec<StatusCount> = sqlx::query_as(
        "SELECT status, count(*) AS count FROM subscriptions GROUP BY status ORDER BY status",
    )
    .fetch_all(&p.pool)
    .await?;
    let past_due: Vec<PastDueTenant> = sqlx::query_as(
        "SELECT s.tenant_id, t.slug, s.status, s.past_due_since, s.grace_ends_at, s.amount_cents, s.currency \
         FROM subscriptions s JOIN tenants t ON t.id = s.tenant_id \
         WHERE s.status IN ('past_due', 'unpaid') AND NOT s.comped \
         ORDER BY s.past_due_since NULLS LAST LIMIT 50",
    )
    .fetch_all(&p.pool)
    .await?;
    let comped: i64 = sqlx::query_scalar("SELECT count(*) FROM subscriptions WHERE comped")
        .fetch_one(&p.pool)
        .await?;
    let paid_plans: i64 =
        sqlx::query_scalar("SELECT count(*) FROM plans WHERE price_cents > 0 AND active")
            .fetch_one(&p.pool)
            .await?;
    Ok(BillingStats {
        configured: p.stripe.is_configured(),
        paid_plans,
        mrr: mrr
            .into_iter()
            .map(|(currency, cents)| CurrencyAmount { currency, cents })
            .collect(),
        by_status,
        past_due,
        comped,
    })
}
