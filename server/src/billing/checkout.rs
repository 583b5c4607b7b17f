//! Checkout Sessions: subscribing a tenant (`mode=subscription`, the plan's monthly or
//! yearly price, its trial on a first subscription) and saving a new card (`mode=setup`).
//!
//! The subscription is taken into account when Stripe confirms it: by the
//! `checkout.session.completed` webhook, or by the return page reading the session,
//! whichever comes first ([`reconcile_session`] is idempotent and serialised per tenant).
//! A session that expires unpaid leaves nothing behind ([`expire_stale`] catches the ones
//! whose `checkout.session.expired` event was lost).

use super::catalog::{self, Interval};
use super::client::{idempotency_key, StripeCallError};
use super::objects::{CheckoutSession, Customer, Invoice, List, SetupIntent};
use super::{sync, BillingError};
use crate::audit::{self, Actor};
use crate::platform::Platform;
use crate::service::ServiceError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use stripe_client_core::{RequestBuilder, StripeMethod};
use uuid::Uuid;

/// Where Stripe sends the owner back: `success` gets `?session_id=<id>` appended.
#[derive(Debug, Clone)]
pub struct ReturnUrls {
    /// After paying.
    pub success: url::Url,
    /// After giving up.
    pub cancel: url::Url,
}

/// A Checkout Session to send the owner to.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CheckoutStart {
    /// The session.
    pub session_id: String,
    /// Stripe's page.
    pub url: String,
}

#[derive(Serialize)]
struct LineItem<'a> {
    price: &'a str,
    quantity: u32,
}

#[derive(Serialize)]
struct SubscriptionData {
    metadata: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trial_period_days: Option<i32>,
}

#[derive(Serialize)]
struct SetupIntentData {
    metadata: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
struct SessionParams<'a> {
    mode: &'static str,
    customer: &'a str,
    success_url: String,
    cancel_url: &'a str,
    client_reference_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    line_items: Vec<LineItem<'a>>,
    metadata: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscription_data: Option<SubscriptionData>,
    #[serde(skip_serializing_if = "Option::is_none")]
    setup_intent_data: Option<SetupIntentData>,
    #[serde(skip_serializing_if = "Option::is_none")]
    currency: Option<String>,
}

#[derive(Serialize)]
struct CustomerParams<'a> {
    email: &'a str,
    name: &'a str,
    metadata: BTreeMap<&'static str, String>,
}

impl ReturnUrls {
    /// The owner portal's page of the tenant (`<MAIL_PUBLIC_URL>/my/tenants/<id>`), with
    /// `?checkout=done&session_id=…` after paying and `?checkout=cancelled` after giving up.
    pub fn owner_portal(p: &Platform, tenant_id: Uuid) -> Result<ReturnUrls, ServiceError> {
        let page = p
            .config
            .mail
            .public_url
            .join(&format!("my/tenants/{tenant_id}"))
            .map_err(ServiceError::internal)?;
        let mut success = page.clone();
        success.query_pairs_mut().append_pair("checkout", "done");
        let mut cancel = page;
        cancel
            .query_pairs_mut()
            .append_pair("checkout", "cancelled");
        Ok(ReturnUrls { success, cancel })
    }
}

fn success_url(urls: &ReturnUrls) -> String {
    let mut url = urls.success.clone();
    url.query_pairs_mut()
        .append_pair("session_id", "CHECKOUT_SESSION_ID");
    // Stripe replaces the literal `{CHECKOUT_SESSION_ID}`; braces must not be escaped.
    url.to_string()
        .replace("CHECKOUT_SESSION_ID", "{CHECKOUT_SESSION_ID}")
}

/// Maps a Stripe failure for the owner: card errors and Stripe being away are the owner's
/// business (what to do), anything else is ours.
pub fn service_error(e: StripeCallError) -> ServiceError {
    match &e {
        StripeCallError::Api { message, .. } if e.is_card_error() => ServiceError::invalid(
            "card_declined",
            "card",
            format!("{message} Use another card, or ask your bank."),
        ),
        StripeCallError::NotConfigured => ServiceError::conflict(
            "billing_not_configured",
            "Payments are not set up on this platform: ask its operator.",
        ),
        _ if e.is_transient() => ServiceError::conflict(
            "stripe_unavailable",
            "Our payment provider is not answering right now; nothing was charged. Try again in a minute.",
        ),
        _ => ServiceError::internal(e),
    }
}

impl From<BillingError> for ServiceError {
    fn from(e: BillingError) -> Self {
        match e {
            BillingError::Stripe(s) => service_error(s),
            BillingError::Busy(m) => ServiceError::conflict("operation_in_progress", m),
            other => ServiceError::internal(other),
        }
    }
}

struct TenantFacts {
    plan_id: Uuid,
    owner_email: String,
    owner_name: String,
    slug: String,
}

async fn tenant_facts(p: &Platform, tenant_id: Uuid) -> Result<TenantFacts, ServiceError> {
    let row: Option<(Uuid, String, String, String)> =
        sqlx::query_as("SELECT plan_id, owner_email, owner_name, slug FROM tenants WHERE id = $1")
            .bind(tenant_id)
            .fetch_optional(&p.pool)
            .await?;
    let (plan_id, owner_email, owner_name, slug) = row.ok_or(ServiceError::NotFound("tenant"))?;
    Ok(TenantFacts {
        plan_id,
        owner_email,
        owner_name,
        slug,
    })
}

/// The tenant's subscription row, made when absent, with its Stripe customer.
async fn row_with_customer(
    p: &Platform,
    tenant_id: Uuid,
    facts: &TenantFacts,
) -> Result<(Uuid, String), ServiceError> {
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO subscriptions (tenant_id) VALUES ($1) \
         ON CONFLICT (tenant_id) DO UPDATE SET updated_at = subscriptions.updated_at RETURNING id",
    )
    .bind(tenant_id)
    .fetch_one(&p.pool)
    .await?;
    let existing: Option<String> =
        sqlx::query_scalar("SELECT stripe_customer_id FROM subscriptions WHERE id = $1")
            .bind(id)
            .fetch_one(&p.pool)
            .await?;
    if let Some(customer) = existing {
        return Ok((id, customer));
    }
    let customer: Customer = p
        .stripe
        .send(
            RequestBuilder::new(StripeMethod::Post, "/customers").form(&CustomerParams {
                email: &facts.owner_email,
                name: &facts.owner_name,
                metadata: BTreeMap::from([
                    ("tenant_id", tenant_id.to_string()),
                    ("tenant", facts.slug.clone()),
                ]),
            }),
            Some(&idempotency_key(&["customer", &id.to_string()])),
        )
        .await
        .map_err(service_error)?;
    // A concurrent request may have stored one first: keep the first (the key made Stripe
    // return the same customer to both anyway).
    let stored: String = sqlx::query_scalar(
        "UPDATE subscriptions SET stripe_customer_id = COALESCE(stripe_customer_id, $2), updated_at = now() \
         WHERE id = $1 RETURNING stripe_customer_id",
    )
    .bind(id)
    .bind(&customer.id)
    .fetch_one(&p.pool)
    .await?;
    Ok((id, stored))
}

async fn retrieve_session(p: &Platform, id: &str) -> Result<CheckoutSession, StripeCallError> {
    p.stripe
        .send(
            RequestBuilder::new(StripeMethod::Get, format!("/checkout/sessions/{id}")),
            None,
        )
        .await
}

/// Starts (or resumes) a Checkout Session that subscribes the tenant to its plan, billed
/// each `interval`; `None` keeps the tenant's last one (chosen at sign-up, or its ended
/// subscription's), monthly for a first subscription.
pub async fn start_subscription(
    p: &Platform,
    actor: &Actor,
    tenant_id: Uuid,
    interval: Option<Interval>,
    urls: &ReturnUrls,
) -> Result<CheckoutStart, ServiceError> {
    let facts = tenant_facts(p, tenant_id).await?;
    let plan = catalog::ensure_synced(p, facts.plan_id)
        .await
        .map_err(|e| match e {
            catalog::SyncError::Stripe(s) => service_error(s),
            other => ServiceError::internal(other),
        })?;
    if !plan.is_paid() {
        return Err(ServiceError::conflict(
            "plan_free",
            format!("The plan '{}' is free: there is nothing to pay.", plan.key),
        ));
    }
    let (row_id, customer) = row_with_customer(p, tenant_id, &facts).await?;
    let (status, open_session, had_subscription, comped, version, stored_interval): (
        String,
        Option<String>,
        bool,
        bool,
        DateTime<Utc>,
        String,
    ) = sqlx::query_as(
        "SELECT status, checkout_session_id, stripe_subscription_id IS NOT NULL, comped, updated_at, plan_interval \
             FROM subscriptions WHERE id = $1",
    )
        .bind(row_id)
        .fetch_one(&p.pool)
        .await?;
    if comped {
        return Err(ServiceError::conflict(
            "comped",
            "This tenant is offered free of charge: there is nothing to pay.",
        ));
    }
    if matches!(
        status.as_str(),
        "active" | "trialing" | "past_due" | "unpaid" | "incomplete" | "paused"
    ) {
        return Err(ServiceError::conflict(
            "already_subscribed",
            "This tenant already has a subscription: change or cancel it instead.",
        ));
    }
    let stored_interval = Interval::parse(&stored_interval).unwrap_or(Interval::Month);
    let interval = interval.unwrap_or(stored_interval);
    let price = plan
        .price_id(interval)
        .ok_or_else(|| ServiceError::internal("the plan has no Stripe price after its sync"))?
        .to_owned();
    // A second click finds the session still open: send the owner back to it (if it bills
    // the same interval; another interval gets a session of its own).
    if let Some(open) = open_session.filter(|_| interval == stored_interval) {
        match retrieve_session(p, &open).await {
            Ok(s) if s.status.as_deref() == Some("open") => {
                if let Some(url) = s.url {
                    return Ok(CheckoutStart {
                        session_id: s.id,
                        url,
                    });
                }
            }
            Ok(_) => {}
            Err(e) if e.is_missing() => {}
            Err(e) => return Err(service_error(e)),
        }
    }
    let metadata = BTreeMap::from([
        ("tenant_id", tenant_id.to_string()),
        ("purpose", "subscription".to_owned()),
    ]);
    let trial = (plan.trial_days > 0 && !had_subscription).then_some(plan.trial_days);
    let session: CheckoutSession = p
        .stripe
        .send(
            RequestBuilder::new(StripeMethod::Post, "/checkout/sessions").form(&SessionParams {
                mode: "subscription",
                customer: &customer,
                success_url: success_url(urls),
                cancel_url: urls.cancel.as_str(),
                client_reference_id: tenant_id.to_string(),
                line_items: vec![LineItem {
                    price: &price,
                    quantity: 1,
                }],
                metadata: metadata.clone(),
                subscription_data: Some(SubscriptionData {
                    metadata: BTreeMap::from([("tenant_id", tenant_id.to_string())]),
                    trial_period_days: trial,
                }),
                setup_intent_data: None,
                currency: None,
            }),
            // Per version of the row: a retried request gets the same session back; storing
            // the session changes the version, so the next checkout gets a new one.
            Some(&idempotency_key(&[
                "checkout",
                &row_id.to_string(),
                &version.timestamp_micros().to_string(),
            ])),
        )
        .await
        .map_err(service_error)?;
    let url = session
        .url
        .clone()
        .ok_or_else(|| ServiceError::internal("Stripe gave the Checkout Session no address"))?;
    let mut tx = p.pool.begin().await?;
    sqlx::query(
        "UPDATE subscriptions SET checkout_session_id = $2, plan_interval = $3, updated_at = now() WHERE id = $1",
    )
    .bind(row_id)
    .bind(&session.id)
    .bind(interval.as_str())
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut *tx,
        actor,
        "billing.checkout_started",
        Some(tenant_id),
        None,
        json!({"session": session.id, "interval": interval.as_str(), "trial_days": trial}),
    )
    .await?;
    tx.commit().await?;
    Ok(CheckoutStart {
        session_id: session.id,
        url,
    })
}

/// Starts a Checkout Session in setup mode: the owner saves a new card, which then pays
/// the subscription (and any open invoice) from now on.
pub async fn start_card_update(
    p: &Platform,
    actor: &Actor,
    tenant_id: Uuid,
    urls: &ReturnUrls,
) -> Result<CheckoutStart, ServiceError> {
    let row = sync::row_of_tenant(p, tenant_id)
        .await?
        .filter(|r| r.stripe_subscription_id.is_some())
        .ok_or_else(|| {
            ServiceError::conflict("no_subscription", "This tenant has no subscription yet.")
        })?;
    let customer = row
        .stripe_customer_id
        .clone()
        .ok_or_else(|| ServiceError::internal("a subscription without a customer"))?;
    let currency: String = sqlx::query_scalar("SELECT currency FROM subscriptions WHERE id = $1")
        .bind(row.id)
        .fetch_one(&p.pool)
        .await?;
    let metadata = BTreeMap::from([
        ("tenant_id", tenant_id.to_string()),
        ("purpose", "card".to_owned()),
    ]);
    let session: CheckoutSession = p
        .stripe
        .send(
            RequestBuilder::new(StripeMethod::Post, "/checkout/sessions").form(&SessionParams {
                mode: "setup",
                customer: &customer,
                success_url: success_url(urls),
                cancel_url: urls.cancel.as_str(),
                client_reference_id: tenant_id.to_string(),
                line_items: Vec::new(),
                metadata: metadata.clone(),
                subscription_data: None,
                setup_intent_data: Some(SetupIntentData { metadata }),
                currency: Some(currency.to_ascii_lowercase()),
            }),
            // Per version of the row, bumped below once the session exists.
            Some(&idempotency_key(&[
                "card-update",
                &row.id.to_string(),
                &row.updated_at.timestamp_micros().to_string(),
            ])),
        )
        .await
        .map_err(service_error)?;
    sqlx::query("UPDATE subscriptions SET updated_at = clock_timestamp() WHERE id = $1")
        .bind(row.id)
        .execute(&p.pool)
        .await?;
    audit::record(
        &p.pool,
        actor,
        "billing.card_update_started",
        Some(tenant_id),
        None,
        json!({"session": session.id}),
    )
    .await?;
    Ok(CheckoutStart {
        url: session
            .url
            .clone()
            .ok_or_else(|| ServiceError::internal("Stripe gave the Checkout Session no address"))?,
        session_id: session.id,
    })
}

/// What a session turned out to be, for the return page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionOutcome {
    /// Not paid yet (still open).
    Open,
    /// Paid (or trial started): the subscription is in place.
    Subscribed,
    /// A new card was saved.
    CardSaved,
    /// Expired unpaid.
    Expired,
    /// Not one of ours.
    Unknown,
}

/// Takes a Checkout Session into account: links the subscription it made, saves the card
/// it collected, or cleans up after an expired one. Idempotent.
pub async fn reconcile_session(
    p: &Platform,
    session_id: &str,
) -> Result<SessionOutcome, BillingError> {
    let session = retrieve_session(p, session_id).await?;
    reconcile(p, session).await
}

/// The tenant a session was made for (our metadata, else its `client_reference_id`).
fn session_tenant(session: &CheckoutSession) -> Option<Uuid> {
    session
        .metadata
        .get("tenant_id")
        .or(session.client_reference_id.as_ref())
        .and_then(|t| Uuid::parse_str(t).ok())
}

/// What the owner's return page shows after Stripe Checkout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReturnOutcome {
    /// Paid (or the trial started): the subscription is in place.
    Subscribed,
    /// A new card was saved.
    CardSaved,
    /// Not confirmed yet (Stripe has not finished, or is not answering): nothing to do,
    /// the webhook or the next look confirms it.
    Confirming,
    /// The session expired unpaid: nothing was charged.
    Expired,
}

impl ReturnOutcome {
    /// What the owner is told.
    pub fn message(self) -> &'static str {
        match self {
            ReturnOutcome::Subscribed => {
                "Payment confirmed, thank you. Your subscription is in place."
            }
            ReturnOutcome::CardSaved => {
                "Your new card is saved: it pays your subscription from now on, and any open invoice now."
            }
            ReturnOutcome::Confirming => {
                "We are confirming your payment with our payment provider. Nothing more to do: this page updates when it is confirmed."
            }
            ReturnOutcome::Expired => {
                "This checkout expired before it was paid; nothing was charged. Start again when you are ready."
            }
        }
    }
}

/// The return page of the tenant's Checkout: reads the session from Stripe and takes it into
/// account ([`reconcile`], idempotent, so the webhook arriving too changes nothing). A
/// session of another tenant is `NotFound`; Stripe unreachable is `Confirming`.
pub async fn confirm_return(
    p: &Platform,
    tenant_id: Uuid,
    session_id: &str,
) -> Result<ReturnOutcome, ServiceError> {
    let session_id = session_id.trim();
    if !session_id.starts_with("cs_") || session_id.len() > 200 {
        return Err(ServiceError::NotFound("checkout session"));
    }
    let session = match retrieve_session(p, session_id).await {
        Ok(s) => s,
        Err(e) if e.is_missing() => return Err(ServiceError::NotFound("checkout session")),
        Err(e) if e.is_transient() => {
            tracing::warn!(tenant_id = %tenant_id, error = %e, "checkout return: Stripe not answering");
            return Ok(ReturnOutcome::Confirming);
        }
        Err(e) => return Err(service_error(e)),
    };
    if session_tenant(&session) != Some(tenant_id) {
        return Err(ServiceError::NotFound("checkout session"));
    }
    match reconcile(p, session).await {
        Ok(SessionOutcome::Subscribed) => Ok(ReturnOutcome::Subscribed),
        Ok(SessionOutcome::CardSaved) => Ok(ReturnOutcome::CardSaved),
        Ok(SessionOutcome::Expired) => Ok(ReturnOutcome::Expired),
        Ok(SessionOutcome::Open | SessionOutcome::Unknown) => Ok(ReturnOutcome::Confirming),
        Err(BillingError::Stripe(e)) if e.is_transient() => {
            tracing::warn!(tenant_id = %tenant_id, error = %e, "checkout return: Stripe not answering");
            Ok(ReturnOutcome::Confirming)
        }
        Err(BillingError::Busy(_)) => Ok(ReturnOutcome::Confirming),
        Err(e) => Err(e.into()),
    }
}

/// Takes a session read from Stripe into account (see [`reconcile_session`]).
async fn reconcile(p: &Platform, session: CheckoutSession) -> Result<SessionOutcome, BillingError> {
    let Some(tenant_id) = session_tenant(&session) else {
        return Ok(SessionOutcome::Unknown);
    };
    let mut tx = p.pool.begin().await?;
    let Some(row) = sync::lock_by_tenant(&mut tx, tenant_id).await? else {
        return Ok(SessionOutcome::Unknown);
    };
    if row.stripe_customer_id.is_none() || row.stripe_customer_id != session.customer {
        tracing::warn!(session = %session.id, %tenant_id, "Checkout Session of another customer: ignored");
        return Ok(SessionOutcome::Unknown);
    }
    match (session.mode.as_deref(), session.status.as_deref()) {
        (Some("subscription"), Some("complete")) => {
            let Some(stripe_sub) = session.subscription.clone() else {
                return Err(BillingError::Permanent(format!(
                    "completed session {} made no subscription",
                    session.id
                )));
            };
            let replace = match &row.stripe_subscription_id {
                None => true,
                Some(current) if current == &stripe_sub => false,
                Some(_) => matches!(
                    row.status.as_str(),
                    "canceled" | "incomplete_expired" | "checkout"
                ),
            };
            if replace {
                sqlx::query(
                    "UPDATE subscriptions SET stripe_subscription_id = $2, status = 'incomplete', \
                     delete_after = NULL, updated_at = now() WHERE id = $1",
                )
                .bind(row.id)
                .bind(&stripe_sub)
                .execute(&mut *tx)
                .await?;
                audit::record(
                    &mut *tx,
                    &Actor::billing(),
                    "billing.subscribed",
                    Some(tenant_id),
                    None,
                    json!({"session": session.id, "subscription": stripe_sub}),
                )
                .await?;
            }
            sqlx::query(
                "UPDATE subscriptions SET checkout_session_id = NULL WHERE id = $1 AND checkout_session_id = $2",
            )
            .bind(row.id)
            .bind(&session.id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            sync::subscription(p, &stripe_sub).await?;
            Ok(SessionOutcome::Subscribed)
        }
        (Some("setup"), Some("complete")) => {
            tx.commit().await?;
            save_card(p, &row, &session).await?;
            Ok(SessionOutcome::CardSaved)
        }
        (_, Some("expired")) => {
            abandon(&mut tx, &row, &session.id).await?;
            tx.commit().await?;
            Ok(SessionOutcome::Expired)
        }
        _ => Ok(SessionOutcome::Open),
    }
}

/// An expired sign-up or subscription checkout leaves nothing behind: a tenant that was
/// waiting for this payment (`awaiting_payment`: no database, no job) is removed with its
/// subscription row, so its name is free again; the audit log keeps the story.
async fn abandon(
    tx: &mut sqlx::PgConnection,
    row: &sync::SubRow,
    session_id: &str,
) -> Result<(), BillingError> {
    let cleared = sqlx::query(
        "UPDATE subscriptions SET checkout_session_id = NULL, updated_at = now() \
         WHERE id = $1 AND checkout_session_id = $2",
    )
    .bind(row.id)
    .bind(session_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if cleared == 1 {
        audit::record(
            &mut *tx,
            &Actor::billing(),
            "billing.checkout_expired",
            Some(row.tenant_id),
            None,
            json!({"session": session_id}),
        )
        .await?;
        if row.tenant_state == "awaiting_payment" && row.stripe_subscription_id.is_none() {
            remove_awaiting(tx, row.tenant_id, "checkout_expired").await?;
        }
    }
    Ok(())
}

/// The owner gives up a paid sign-up before its first payment: its Checkout Session is
/// expired at Stripe first (so it can no longer be paid), then the waiting tenant is
/// removed and its name is free again. A session that was paid meanwhile is taken into
/// account instead (the tenant is provisioned) and the owner is told; if Stripe cannot be
/// reached, nothing changes (`stripe_unavailable`: try again).
pub async fn cancel_signup(
    p: &Platform,
    actor: &Actor,
    tenant_id: Uuid,
) -> Result<(), ServiceError> {
    let row: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT t.state, s.checkout_session_id FROM tenants t \
         LEFT JOIN subscriptions s ON s.tenant_id = t.id WHERE t.id = $1",
    )
    .bind(tenant_id)
    .fetch_optional(&p.pool)
    .await?;
    let Some((state, session)) = row else {
        return Err(ServiceError::NotFound("tenant"));
    };
    let not_waiting = || {
        ServiceError::conflict(
            "not_awaiting_payment",
            "This Odoo is not waiting for its first payment any more: delete it from its page instead.",
        )
    };
    if state != "awaiting_payment" {
        return Err(not_waiting());
    }
    if let Some(session) = &session {
        let expired: Result<CheckoutSession, StripeCallError> = p
            .stripe
            .send(
                RequestBuilder::new(
                    StripeMethod::Post,
                    format!("/checkout/sessions/{session}/expire"),
                ),
                Some(&idempotency_key(&["expire", session])),
            )
            .await;
        match expired {
            Ok(_) => {}
            Err(e) if e.is_missing() => {}
            Err(e) if e.is_transient() || matches!(e, StripeCallError::NotConfigured) => {
                return Err(service_error(e))
            }
            // Stripe refuses to expire a session that is no longer open (paid, or expired
            // already): what it became is read next.
            Err(e) => {
                tracing::info!(%tenant_id, %session, error = %e, "checkout session not expired")
            }
        }
        match reconcile_session(p, session).await {
            Ok(SessionOutcome::Subscribed) => {
                return Err(ServiceError::conflict(
                    "payment_received",
                    "Your payment has just gone through, so your Odoo is being made. If you no longer want it, delete it from its page once it is ready.",
                ))
            }
            // Still payable: never remove a tenant its owner could still pay for.
            Ok(SessionOutcome::Open) => {
                return Err(ServiceError::conflict(
                    "stripe_unavailable",
                    "Our payment provider did not close the checkout; nothing was changed. Try again in a minute.",
                ))
            }
            Ok(_) => {}
            Err(BillingError::Stripe(e)) if e.is_missing() => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut tx = p.pool.begin().await?;
    remove_awaiting(&mut tx, tenant_id, "owner_cancelled").await?;
    let left: Option<String> = sqlx::query_scalar("SELECT state FROM tenants WHERE id = $1")
        .bind(tenant_id)
        .fetch_optional(&mut *tx)
        .await?;
    if left.is_some() {
        return Err(not_waiting());
    }
    audit::record(
        &mut *tx,
        actor,
        "tenant.signup_cancelled",
        Some(tenant_id),
        None,
        json!({"session": session}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(%tenant_id, "paid sign-up cancelled by its owner");
    Ok(())
}

/// Removes a tenant still `awaiting_payment` (nothing was ever provisioned for it) and its
/// subscription row, in the caller's transaction; its slug is free again. The Stripe
/// customer stays at Stripe (with no subscription, it costs nothing). True when removed.
pub async fn remove_awaiting(
    tx: &mut sqlx::PgConnection,
    tenant_id: Uuid,
    why: &str,
) -> Result<bool, sqlx::Error> {
    let slug: Option<String> = sqlx::query_scalar(
        "SELECT slug FROM tenants WHERE id = $1 AND state = 'awaiting_payment' FOR UPDATE",
    )
    .bind(tenant_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(slug) = slug else {
        return Ok(false);
    };
    sqlx::query(
        "DELETE FROM subscriptions WHERE tenant_id = $1 AND stripe_subscription_id IS NULL",
    )
    .bind(tenant_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM custom_domains WHERE tenant_id = $1")
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM tenants WHERE id = $1 AND state = 'awaiting_payment'")
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut *tx,
        &Actor::billing(),
        "tenant.signup_abandoned",
        Some(tenant_id),
        None,
        json!({"slug": slug, "why": why}),
    )
    .await?;
    tracing::info!(tenant_id = %tenant_id, %slug, why, "paid sign-up abandoned: the awaiting tenant is removed, its name free");
    Ok(true)
}

#[derive(Serialize)]
struct DefaultPaymentMethod<'a> {
    invoice_settings: InvoiceSettingsParams<'a>,
}

#[derive(Serialize)]
struct InvoiceSettingsParams<'a> {
    default_payment_method: &'a str,
}

#[derive(Serialize)]
struct SubscriptionPaymentMethod<'a> {
    default_payment_method: &'a str,
}

#[derive(Serialize)]
struct InvoiceFilter<'a> {
    subscription: &'a str,
    limit: u32,
}

/// The card from a setup session becomes the customer's and the subscription's default,
/// and pays the subscription's open invoices.
async fn save_card(
    p: &Platform,
    row: &sync::SubRow,
    session: &CheckoutSession,
) -> Result<(), BillingError> {
    let (Some(intent), Some(customer), Some(stripe_sub)) = (
        session.setup_intent.as_deref(),
        row.stripe_customer_id.as_deref(),
        row.stripe_subscription_id.as_deref(),
    ) else {
        return Err(BillingError::Permanent(format!(
            "setup session {} cannot be applied (no intent, customer or subscription)",
            session.id
        )));
    };
    let intent: SetupIntent = p
        .stripe
        .send(
            RequestBuilder::new(StripeMethod::Get, format!("/setup_intents/{intent}")),
            None,
        )
        .await?;
    let Some(pm) = intent.payment_method else {
        return Err(BillingError::Permanent(format!(
            "setup intent {} saved no card",
            intent.id
        )));
    };
    p.stripe
        .send::<Customer>(
            RequestBuilder::new(StripeMethod::Post, format!("/customers/{customer}")).form(
                &DefaultPaymentMethod {
                    invoice_settings: InvoiceSettingsParams {
                        default_payment_method: &pm,
                    },
                },
            ),
            Some(&idempotency_key(&["card-default", customer, &pm])),
        )
        .await?;
    p.stripe
        .send::<super::objects::Subscription>(
            RequestBuilder::new(StripeMethod::Post, format!("/subscriptions/{stripe_sub}")).form(
                &SubscriptionPaymentMethod {
                    default_payment_method: &pm,
                },
            ),
            Some(&idempotency_key(&["card-subscription", stripe_sub, &pm])),
        )
        .await?;
    audit::record(
        &p.pool,
        &Actor::billing(),
        "billing.card_saved",
        Some(row.tenant_id),
        None,
        json!({"session": session.id}),
    )
    .await?;
    pay_open_invoices(p, row.tenant_id, stripe_sub, &pm).await?;
    sync::subscription(p, stripe_sub).await?;
    Ok(())
}

/// Retries the subscription's open invoices with the card `pm`. A refusal is recorded
/// (the owner sees the invoice still open), not an error of the job.
pub async fn pay_open_invoices(
    p: &Platform,
    tenant_id: Uuid,
    stripe_sub: &str,
    pm: &str,
) -> Result<usize, BillingError> {
    let invoices: List<Invoice> = p
        .stripe
        .send(
            RequestBuilder::new(StripeMethod::Get, "/invoices").query(&InvoiceFilter {
                subscription: stripe_sub,
                limit: 20,
            }),
            None,
        )
        .await?;
    let mut paid = 0;
    for invoice in invoices
        .data
        .iter()
        .filter(|i| i.status.as_deref() == Some("open"))
    {
        let Some(id) = invoice.id.as_deref() else {
            continue;
        };
        let result = p
            .stripe
            .send::<Invoice>(
                RequestBuilder::new(StripeMethod::Post, format!("/invoices/{id}/pay")),
                Some(&idempotency_key(&["invoice-pay", id, pm])),
            )
            .await;
        match result {
            Ok(after) if after.status.as_deref() == Some("paid") => paid += 1,
            Ok(_) => {
                tracing::info!(%tenant_id, invoice = id, "open invoice still unpaid with the new card")
            }
            Err(e) if e.is_card_error() => {
                tracing::info!(%tenant_id, invoice = id, error = %e, "the new card was refused")
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(paid)
}

/// Checkouts started more than a day ago that never completed: read again (their expiry
/// event may have been lost) and cleaned up when expired.
pub async fn expire_stale(p: &Platform, now: DateTime<Utc>) -> Result<usize, BillingError> {
    let stale: Vec<String> = sqlx::query_scalar(
        "SELECT checkout_session_id FROM subscriptions WHERE checkout_session_id IS NOT NULL \
         AND updated_at < $1 LIMIT 100",
    )
    .bind(now - chrono::Duration::hours(25))
    .fetch_all(&p.pool)
    .await?;
    let mut abandoned = 0;
    // Paid sign-ups whose checkout never started (Stripe refused or was away, and the owner
    // did not try again) or was lost: removed after an hour.
    let orphans: Vec<Uuid> = sqlx::query_scalar(
        "SELECT t.id FROM tenants t LEFT JOIN subscriptions s ON s.tenant_id = t.id \
         WHERE t.state = 'awaiting_payment' AND t.created_at < $1 \
         AND s.checkout_session_id IS NULL AND s.stripe_subscription_id IS NULL LIMIT 100",
    )
    .bind(now - chrono::Duration::hours(1))
    .fetch_all(&p.pool)
    .await?;
    for tenant in orphans {
        let mut tx = p.pool.begin().await?;
        if remove_awaiting(&mut tx, tenant, "no_checkout").await? {
            abandoned += 1;
        }
        tx.commit().await?;
    }
    for session in stale {
        match reconcile_session(p, &session).await {
            Ok(SessionOutcome::Expired) => abandoned += 1,
            Ok(_) => {}
            Err(BillingError::Stripe(e)) if e.is_missing() => {
                sqlx::query("UPDATE subscriptions SET checkout_session_id = NULL WHERE checkout_session_id = $1")
                    .bind(&session)
                    .execute(&p.pool)
                    .await?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(abandoned)
}
