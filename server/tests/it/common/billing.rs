//! Billing test steps over a [`Platform`] started with `stripe: true`.

use super::harness::Platform;
use serde_json::{json, Value};
use server::audit::Actor;
use server::billing::catalog::Interval;
use server::billing::checkout::{self, ReturnUrls};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Waits until `check` returns `Some`, polling every 50 ms (panics after `secs`).
pub async fn eventually<T, F, Fut>(what: &str, secs: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A plan with a monthly price (and optional trial), its template built.
pub async fn paid_plan(t: &Platform, name: &str, price_cents: i32, trial_days: i32) -> Value {
    let key = t.plan_key(name);
    let (status, plan) = t
        .post(
            "/plans",
            json!({"key": key, "name": name, "modules": ["point_of_sale"], "price_cents": price_cents,
                   "currency": "EUR", "trial_days": trial_days, "max_companies": 3}),
        )
        .await;
    assert_eq!(status, 201, "{plan}");
    let id = plan["id"].as_str().expect("plan id").to_owned();
    let (status, job) = t.post(&format!("/plans/{id}/template"), json!({})).await;
    assert_eq!(status, 202, "{job}");
    t.wait_plan_ready(&id).await;
    // The Stripe mirror (a job enqueued with the plan).
    eventually("the plan's Stripe prices", 30, || async {
        let (_, plan) = t.get(&format!("/plans/{id}")).await;
        plan["stripe_yearly_price_id"].is_string().then_some(plan)
    })
    .await
}

/// An active tenant on `plan_key`; returns its id.
pub async fn active_tenant(t: &Platform, slug: &str, plan_key: &str) -> Uuid {
    let (status, accepted) = t.post("/tenants", t.tenant_body(slug, plan_key)).await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["tenant"]["id"]
        .as_str()
        .expect("tenant id")
        .to_owned();
    t.wait_tenant(&id, "active", Duration::from_secs(60)).await;
    Uuid::parse_str(&id).expect("uuid")
}

/// Return addresses for Checkout (never visited by these tests).
pub fn urls() -> ReturnUrls {
    ReturnUrls {
        success: "http://127.0.0.1:9/billing/return".parse().expect("url"),
        cancel: "http://127.0.0.1:9/billing".parse().expect("url"),
    }
}

/// Starts a subscription checkout for the tenant; returns the session id.
pub async fn start_checkout(t: &Platform, tenant: Uuid, interval: Interval) -> String {
    checkout::start_subscription(
        &t.services,
        &Actor::system(),
        tenant,
        Some(interval),
        &urls(),
    )
    .await
    .expect("checkout session")
    .session_id
}

/// The tenant's subscription row as JSON-ish fields.
pub async fn row(t: &Platform, tenant: Uuid) -> Option<SubState> {
    sqlx::query_as(
        "SELECT status, access, access_applied, stripe_subscription_id, cancel_at_period_end, \
         past_due_since IS NOT NULL AS past_due, delete_after IS NOT NULL AS deleting \
         FROM subscriptions WHERE tenant_id = $1",
    )
    .bind(tenant)
    .fetch_optional(&t.pool)
    .await
    .expect("subscription row")
}

/// The parts of a subscription row tests look at.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SubState {
    pub status: String,
    pub access: String,
    pub access_applied: String,
    pub stripe_subscription_id: Option<String>,
    pub cancel_at_period_end: bool,
    pub past_due: bool,
    pub deleting: bool,
}

/// Waits until the tenant's subscription has `status` (through webhooks and jobs).
pub async fn wait_status(t: &Platform, tenant: Uuid, status: &str) -> SubState {
    eventually(&format!("subscription status {status}"), 30, || async {
        row(t, tenant).await.filter(|r| r.status == status)
    })
    .await
}

/// Subscribes the tenant: Checkout, paid with `pm`, confirmed by the webhook.
pub async fn subscribe(t: &Platform, tenant: Uuid, pm: &str) -> String {
    let session = start_checkout(t, tenant, Interval::Month).await;
    let (status, body) = t.stripe().complete_session(&session, pm).await;
    assert_eq!(status, 200, "{body}");
    let state = eventually("the subscription to be linked", 30, || async {
        row(t, tenant).await.filter(|r| {
            r.stripe_subscription_id.is_some() && r.status != "incomplete" && r.status != "checkout"
        })
    })
    .await;
    state.stripe_subscription_id.expect("subscription")
}

/// Billing notices queued for the tenant (audit `billing.notice.*`), oldest first.
pub async fn notices(t: &Platform, tenant: Uuid) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT substr(action, 16) FROM audit_log WHERE tenant_id = $1 AND action LIKE 'billing.notice.%' ORDER BY id",
    )
    .bind(tenant)
    .fetch_all(&t.pool)
    .await
    .expect("notices")
}

/// The tenant's lifecycle state.
pub async fn tenant_state(t: &Platform, tenant: Uuid) -> String {
    sqlx::query_scalar("SELECT state FROM tenants WHERE id = $1")
        .bind(tenant)
        .fetch_one(&t.pool)
        .await
        .expect("tenant")
}

/// Waits for the tenant's lifecycle state (its job done).
pub async fn wait_tenant_state(t: &Platform, tenant: Uuid, state: &str) {
    t.wait_tenant(&tenant.to_string(), state, Duration::from_secs(60))
        .await;
}

/// Jobs of a kind whose payload has `key` = `value`.
pub async fn jobs_with(t: &Platform, kind: &str, key: &str, value: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = $1 AND payload ->> $2 = $3")
        .bind(kind)
        .bind(key)
        .bind(value)
        .fetch_one(&t.pool)
        .await
        .expect("jobs")
}

/// Waits until no billing job is queued, running or failing (all processed).
pub async fn billing_idle(t: &Platform) {
    eventually("billing jobs to finish", 30, || async {
        let busy: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM jobs WHERE kind LIKE 'billing.%' AND kind <> 'billing.sweep' \
             AND state IN ('queued', 'running', 'failed')",
        )
        .fetch_one(&t.pool)
        .await
        .expect("jobs");
        (busy == 0).then_some(())
    })
    .await;
}
