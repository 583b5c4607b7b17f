//! Billing against real PostgreSQL, odoo-sim and localstripe (Stripe's protocol, webhooks
//! signed with Stripe's official library): plan mirroring, webhooks that never double-act,
//! convergence whatever the event order, dunning and retention with time moved by the test.

use crate::common::billing::*;
use crate::common::harness::{Options, Platform};
use serde_json::{json, Value};
use server::billing::catalog::{self, Interval};
use server::billing::{checkout, dunning, manage};
use std::time::Duration;

/// Stripe on; the recurring sweep at its longest interval (the tests run sweeps themselves
/// and check states, so a scheduled one landing mid-test changes nothing they assert).
fn with_stripe() -> Options {
    Options {
        stripe: true,
        env: vec![("BILLING_SWEEP_SECONDS".into(), "86400".into())],
        ..Options::default()
    }
}

async fn prices_of(t: &Platform, product: &str) -> Vec<Value> {
    let list = t
        .stripe()
        .get(&format!("/v1/prices?product={product}&limit=100"))
        .await;
    list["data"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_paid_plan_is_mirrored_once_and_repaired_after_drift() {
    let t = Platform::start(with_stripe()).await;
    let plan = paid_plan(&t, "mirror", 2900, 0).await;
    let plan_id = uuid::Uuid::parse_str(plan["id"].as_str().expect("id")).expect("uuid");
    let product = plan["stripe_product_id"]
        .as_str()
        .expect("product")
        .to_owned();
    assert_eq!(product, catalog::product_id(plan_id));
    let monthly = plan["stripe_monthly_price_id"]
        .as_str()
        .expect("monthly")
        .to_owned();
    let ls = t.stripe();
    let p = ls.get(&format!("/v1/products/{product}")).await;
    assert_eq!(p["name"], "mirror");
    assert_eq!(p["metadata"]["plan_id"], plan_id.to_string());
    let prices = prices_of(&t, &product).await;
    let mut amounts: Vec<(i64, String)> = prices
        .iter()
        .map(|p| {
            (
                p["unit_amount"].as_i64().unwrap_or(0),
                p["recurring"]["interval"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    amounts.sort();
    assert_eq!(
        amounts,
        vec![(2900, "month".into()), (34800, "year".into())]
    );
    let m = ls.get(&format!("/v1/prices/{monthly}")).await;
    assert_eq!(
        m["lookup_key"],
        catalog::lookup_key(plan_id, Interval::Month)
    );

    // Again: nothing new in Stripe, the same ids.
    let again = catalog::sync_plan(&t.services, plan_id)
        .await
        .expect("sync");
    assert_eq!(
        again.stripe_monthly_price_id.as_deref(),
        Some(monthly.as_str())
    );
    assert_eq!(prices_of(&t, &product).await.len(), 2);

    // Every request of the platform named our Stripe-Version; every POST carried a key
    // derived from our ids.
    let requests = ls.get("/_test/requests").await;
    let ours: Vec<&Value> = requests["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .filter(|r| {
            r["user_agent"]
                .as_str()
                .is_some_and(|u| u.starts_with("Stripe/v1 RustBindings"))
        })
        .collect();
    assert!(ours.len() >= 6, "{requests}");
    for r in ours {
        assert_eq!(
            r["stripe_version"],
            server::billing::STRIPE_API_VERSION,
            "{r}"
        );
        if r["method"] == "POST" {
            let key = r["idempotency_key"].as_str().unwrap_or("");
            assert!(key.starts_with(&format!("plan:{plan_id}:")), "{r}");
        }
    }

    // A new price: a new Stripe price takes the lookup key, the old one is archived.
    let (status, changed) = t
        .api(reqwest::Method::PATCH, &format!("/plans/{plan_id}"))
        .json(&json!({"price_cents": 3900, "yearly_price_cents": 39000}))
        .send()
        .await
        .map(|r| (r.status().as_u16(), r))
        .expect("PATCH");
    assert_eq!(status, 200, "{:?}", changed.text().await);
    let synced = eventually("the new price in Stripe", 30, || async {
        let (_, plan) = t.get(&format!("/plans/{plan_id}")).await;
        (plan["stripe_monthly_price_id"] != Value::String(monthly.clone())).then_some(plan)
    })
    .await;
    let new_monthly = synced["stripe_monthly_price_id"]
        .as_str()
        .expect("monthly")
        .to_owned();
    let n = ls.get(&format!("/v1/prices/{new_monthly}")).await;
    assert_eq!(
        (n["unit_amount"].as_i64(), n["active"].as_bool()),
        (Some(3900), Some(true))
    );
    assert_eq!(
        n["lookup_key"],
        catalog::lookup_key(plan_id, Interval::Month)
    );
    let old = ls.get(&format!("/v1/prices/{monthly}")).await;
    assert_eq!(
        (old["active"].as_bool(), old["lookup_key"].is_null()),
        (Some(false), true)
    );
    let yearly = ls
        .get(&format!(
            "/v1/prices/{}",
            synced["stripe_yearly_price_id"].as_str().expect("yearly")
        ))
        .await;
    assert_eq!(yearly["unit_amount"].as_i64(), Some(39000));

    // Drift made in Stripe's dashboard: the product renamed, the monthly price archived.
    let (s, _) = ls
        .post(
            &format!("/v1/products/{product}"),
            &[("name", "Renamed by hand")],
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = ls
        .post(&format!("/v1/prices/{new_monthly}"), &[("active", "false")])
        .await;
    assert_eq!(s, 200);
    let repaired = catalog::sync_plan(&t.services, plan_id)
        .await
        .expect("sync");
    assert_eq!(
        ls.get(&format!("/v1/products/{product}")).await["name"],
        "mirror"
    );
    let replaced = repaired.stripe_monthly_price_id.expect("monthly");
    assert_ne!(replaced, new_monthly);
    let r = ls.get(&format!("/v1/prices/{replaced}")).await;
    assert_eq!(
        (r["unit_amount"].as_i64(), r["active"].as_bool()),
        (Some(3900), Some(true))
    );

    // Stripe emptied entirely: everything is made again.
    ls.reset().await;
    let rebuilt = catalog::sync_plan(&t.services, plan_id)
        .await
        .expect("sync");
    assert_eq!(
        ls.get(&format!("/v1/products/{product}")).await["id"],
        product.as_str()
    );
    assert_eq!(prices_of(&t, &product).await.len(), 2);
    assert!(rebuilt.is_synced());

    // A free plan never touches Stripe.
    let (status, free) = t
        .post(
            "/plans",
            json!({"key": t.plan_key("free"), "name": "Free", "modules": []}),
        )
        .await;
    assert_eq!(status, 201, "{free}");
    let free_id = uuid::Uuid::parse_str(free["id"].as_str().expect("id")).expect("uuid");
    let before = ls.get("/_test/requests").await["requests"]
        .as_array()
        .map(Vec::len);
    let f = catalog::sync_plan(&t.services, free_id)
        .await
        .expect("sync");
    assert!(f.stripe_product_id.is_none());
    assert_eq!(
        ls.get("/_test/requests").await["requests"]
            .as_array()
            .map(Vec::len),
        before
    );
    let missing = ls
        .get(&format!("/v1/products/{}", catalog::product_id(free_id)))
        .await;
    assert!(missing.get("error").is_some(), "{missing}");
    t.cleanup().await;
}

async fn post_webhook(t: &Platform, payload: &str, signature: Option<&str>) -> (u16, Value) {
    let mut req = t
        .http
        .post(format!("{}/webhooks/stripe", t.base))
        .header("Content-Type", "application/json")
        .body(payload.to_owned());
    if let Some(sig) = signature {
        req = req.header("Stripe-Signature", sig);
    }
    let r = req.send().await.expect("POST webhook");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn stored_events(t: &Platform) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM stripe_events")
        .fetch_one(&t.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn one_event_delivered_ten_times_even_concurrently_has_one_effect_and_bad_input_changes_nothing(
) {
    let t = Platform::start(with_stripe()).await;
    let plan = paid_plan(&t, "hooks", 1500, 0).await;
    let tenant = active_tenant(
        &t,
        &format!("hooks-{}", t.id),
        plan["key"].as_str().expect("key"),
    )
    .await;
    let sub = subscribe(&t, tenant, "pm_card_visa").await;
    billing_idle(&t).await;
    let ls = t.stripe();

    // The event of the subscription's creation, redelivered 10 times at once, then 10
    // times one after the other: every delivery acknowledged, one stored row, one job.
    let created = ls
        .events()
        .await
        .into_iter()
        .find(|e| {
            e["type"] == "customer.subscription.created"
                && e["data"]["object"]["id"] == sub.as_str()
        })
        .expect("subscription.created event");
    let event_id = created["id"].as_str().expect("id").to_owned();
    let audit_before: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_one(&t.pool)
            .await
            .expect("audit");
    let statuses = ls.deliver(&event_id, 10, true).await;
    assert_eq!(statuses, vec![200; 10]);
    let statuses = ls.deliver(&event_id, 10, false).await;
    assert_eq!(statuses, vec![200; 10]);
    billing_idle(&t).await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM stripe_events WHERE id = $1")
        .bind(&event_id)
        .fetch_one(&t.pool)
        .await
        .expect("rows");
    assert_eq!(rows, 1);
    assert_eq!(
        jobs_with(&t, "billing.stripe_event", "event_id", &event_id).await,
        1
    );
    let audit_after: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_one(&t.pool)
            .await
            .expect("audit");
    assert_eq!(audit_after, audit_before, "a replay changed something");

    // Bad input: each refused or acknowledged-and-ignored, nothing stored.
    let before = stored_events(&t).await;
    let state_before = row(&t, tenant).await;
    let payload = serde_json::to_string(&json!({
        "id": "evt_bad_input", "object": "event", "type": "customer.subscription.updated",
        "created": chrono::Utc::now().timestamp(), "livemode": false,
        "data": {"object": {"id": sub, "object": "subscription", "status": "canceled",
                            "customer": state_before.as_ref().and(Some("x")).map(|_| "")}}}))
    .expect("JSON");
    // (the customer is filled in below for the cases that need a known one)
    let known_customer: String =
        sqlx::query_scalar("SELECT stripe_customer_id FROM subscriptions WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_one(&t.pool)
            .await
            .expect("customer");
    let payload = payload.replace(
        "\"customer\":\"\"",
        &format!("\"customer\":\"{known_customer}\""),
    );
    let good = ls
        .sign(std::slice::from_ref(&payload), &t.webhook_secret, None)
        .await
        .remove(0);
    let wrong_secret = ls
        .sign(std::slice::from_ref(&payload), "whsec_someone_else", None)
        .await
        .remove(0);
    let old = ls
        .sign(
            std::slice::from_ref(&payload),
            &t.webhook_secret,
            Some(chrono::Utc::now().timestamp() - 600),
        )
        .await
        .remove(0);
    assert_eq!(
        post_webhook(&t, &payload, None).await.0,
        400,
        "no signature"
    );
    assert_eq!(
        post_webhook(&t, &payload, Some(&wrong_secret)).await.0,
        400,
        "wrong secret"
    );
    assert_eq!(
        post_webhook(&t, &payload, Some(&old)).await.0,
        400,
        "old timestamp"
    );
    assert_eq!(
        post_webhook(&t, &payload, Some("t=1,v1=deadbeef")).await.0,
        400,
        "garbage signature"
    );
    let tampered = payload.replace("canceled", "active");
    assert_eq!(
        post_webhook(&t, &tampered, Some(&good)).await.0,
        400,
        "tampered body"
    );
    let not_event = "{\"hello\": \"world\"}".to_owned();
    let sig = ls
        .sign(std::slice::from_ref(&not_event), &t.webhook_secret, None)
        .await
        .remove(0);
    let (status, body) = post_webhook(&t, &not_event, Some(&sig)).await;
    assert_eq!(status, 400, "malformed: {body}");
    let unknown_type = payload.replace("customer.subscription.updated", "balance.available");
    let sig = ls
        .sign(std::slice::from_ref(&unknown_type), &t.webhook_secret, None)
        .await
        .remove(0);
    let (status, body) = post_webhook(&t, &unknown_type, Some(&sig)).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("ignored")),
        "unknown type"
    );
    let stranger = payload.replace(&known_customer, "cus_nobody_we_know");
    let sig = ls
        .sign(std::slice::from_ref(&stranger), &t.webhook_secret, None)
        .await
        .remove(0);
    let (status, body) = post_webhook(&t, &stranger, Some(&sig)).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("ignored")),
        "unknown customer"
    );
    assert_eq!(stored_events(&t).await, before);
    assert_eq!(row(&t, tenant).await, state_before);

    // The good one is taken, and its job reads Stripe (the subscription is active there),
    // not the event's "canceled".
    let (status, body) = post_webhook(&t, &payload, Some(&good)).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("accepted")),
        "{body}"
    );
    billing_idle(&t).await;
    assert_eq!(
        row(&t, tenant).await.map(|r| r.status),
        Some("active".to_owned())
    );
    assert_eq!(tenant_state(&t, tenant).await, "active");
    t.cleanup().await;
}

#[tokio::test]
async fn during_a_secret_rotation_both_secrets_are_accepted() {
    let t = Platform::start(Options {
        stripe: true,
        env: vec![(
            "STRIPE_WEBHOOK_SECRET_PREVIOUS".into(),
            "whsec_previous_one".into(),
        )],
        ..Options::default()
    })
    .await;
    let payload = serde_json::to_string(&json!({
        "id": "evt_rotation", "object": "event", "type": "balance.available",
        "created": chrono::Utc::now().timestamp(), "data": {"object": {"id": "txn_1", "object": "balance"}}}))
    .expect("JSON");
    let ls = t.stripe();
    for (secret, expected) in [
        (t.webhook_secret.as_str(), 200),
        ("whsec_previous_one", 200),
        ("whsec_retired_long_ago", 400),
    ] {
        let sig = ls
            .sign(std::slice::from_ref(&payload), secret, None)
            .await
            .remove(0);
        assert_eq!(
            post_webhook(&t, &payload, Some(&sig)).await.0,
            expected,
            "{secret}"
        );
    }
    t.cleanup().await;
}

#[tokio::test]
async fn events_delivered_in_reverse_order_converge_to_stripes_state() {
    let t = Platform::start(with_stripe()).await;
    let ls = t.stripe();
    let plan = paid_plan(&t, "order", 2500, 0).await;
    let tenant = active_tenant(
        &t,
        &format!("order-{}", t.id),
        plan["key"].as_str().expect("key"),
    )
    .await;
    // Stripe's deliveries go nowhere while the story happens...
    ls.register_webhook("http://127.0.0.1:9/nowhere", &t.webhook_secret)
        .await;
    let session = start_checkout(&t, tenant, Interval::Month).await;
    let (status, done) = ls.complete_session(&session, "pm_card_visa").await;
    assert_eq!(status, 200, "{done}");
    let sub = done["subscription"]
        .as_str()
        .expect("subscription")
        .to_owned();
    let customer = done["customer"].as_str().expect("customer").to_owned();
    // ...a renewal fails (past_due), the card is replaced and the invoice paid (active),
    // then the owner cancels at the period's end.
    let (_, failing) = ls
        .post(
            "/v1/payment_methods/pm_card_chargeCustomerFail/attach",
            &[("customer", &customer)],
        )
        .await;
    let failing = failing["id"].as_str().expect("pm").to_owned();
    ls.post(
        &format!("/v1/customers/{customer}"),
        &[("invoice_settings[default_payment_method]", &failing)],
    )
    .await;
    assert_eq!(ls.renew(&sub).await["status"], "past_due");
    let (_, good) = ls
        .post(
            "/v1/payment_methods/pm_card_visa/attach",
            &[("customer", &customer)],
        )
        .await;
    let good = good["id"].as_str().expect("pm").to_owned();
    ls.post(
        &format!("/v1/customers/{customer}"),
        &[("invoice_settings[default_payment_method]", &good)],
    )
    .await;
    let open = ls.get(&format!("/v1/subscriptions/{sub}")).await["latest_invoice"]
        .as_str()
        .expect("invoice")
        .to_owned();
    let (s, paid) = ls.post(&format!("/v1/invoices/{open}/pay"), &[]).await;
    assert_eq!((s, paid["status"].as_str()), (200, Some("paid")), "{paid}");
    let (s, _) = ls
        .post(
            &format!("/v1/subscriptions/{sub}"),
            &[("cancel_at_period_end", "true")],
        )
        .await;
    assert_eq!(s, 200);
    let stripe_now = ls.get(&format!("/v1/subscriptions/{sub}")).await;
    assert_eq!(
        (
            stripe_now["status"].as_str(),
            stripe_now["cancel_at_period_end"].as_bool()
        ),
        (Some("active"), Some(true))
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(row(&t, tenant)
        .await
        .map(|r| r.stripe_subscription_id.is_none())
        .unwrap_or(true));

    // Now every event, newest first.
    let events: Vec<Value> = ls
        .events()
        .await
        .into_iter()
        .filter(|e| {
            let o = &e["data"]["object"];
            o["customer"] == customer.as_str() || o["id"] == customer.as_str()
        })
        .collect();
    let mut by_time: Vec<(i64, usize, String, String)> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            (
                e["created"].as_i64().unwrap_or(0),
                i,
                e["id"].as_str().unwrap_or("").to_owned(),
                e["type"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    by_time.sort();
    let types: Vec<&str> = by_time.iter().map(|(_, _, _, ty)| ty.as_str()).collect();
    for expected in [
        "checkout.session.completed",
        "invoice.payment_failed",
        "customer.subscription.updated",
        "invoice.payment_succeeded",
    ] {
        assert!(
            types.contains(&expected),
            "{expected} missing from {types:?}"
        );
    }
    ls.register_webhook(&format!("{}/webhooks/stripe", t.base), &t.webhook_secret)
        .await;
    for (_, _, id, _) in by_time.iter().rev() {
        assert_eq!(ls.deliver(id, 1, false).await, vec![200]);
    }
    billing_idle(&t).await;
    let converged = row(&t, tenant).await.expect("row");
    assert_eq!(
        converged.stripe_subscription_id.as_deref(),
        Some(sub.as_str())
    );
    assert_eq!(
        (converged.status.as_str(), converged.cancel_at_period_end),
        ("active", true)
    );
    assert_eq!(
        (converged.access.as_str(), converged.past_due),
        ("open", false)
    );
    assert_eq!(tenant_state(&t, tenant).await, "active");
    // Every job read Stripe's present, so the past_due of the past never showed.
    assert!(
        notices(&t, tenant).await.is_empty(),
        "{:?}",
        notices(&t, tenant).await
    );

    // The same events again in the order they happened: the state stays Stripe's.
    for (_, _, id, _) in by_time.iter() {
        ls.deliver(id, 1, false).await;
    }
    billing_idle(&t).await;
    assert_eq!(row(&t, tenant).await, Some(converged));
    t.cleanup().await;
}

#[tokio::test]
async fn dunning_suspends_after_the_grace_period_and_a_fixed_card_reactivates() {
    let t = Platform::start(with_stripe()).await;
    let ls = t.stripe();
    let plan = paid_plan(&t, "dunning", 4900, 0).await;
    let tenant = active_tenant(
        &t,
        &format!("dun-{}", t.id),
        plan["key"].as_str().expect("key"),
    )
    .await;
    let sub = subscribe(&t, tenant, "pm_card_visa").await;
    wait_status(&t, tenant, "active").await;
    let customer = ls.get(&format!("/v1/subscriptions/{sub}")).await["customer"]
        .as_str()
        .expect("customer")
        .to_owned();

    // The card starts failing; the renewal is refused.
    let (_, failing) = ls
        .post(
            "/v1/payment_methods/pm_card_chargeCustomerFail/attach",
            &[("customer", &customer)],
        )
        .await;
    let failing = failing["id"].as_str().expect("pm").to_owned();
    ls.post(
        &format!("/v1/customers/{customer}"),
        &[("invoice_settings[default_payment_method]", &failing)],
    )
    .await;
    ls.post(
        &format!("/v1/subscriptions/{sub}"),
        &[("default_payment_method", &failing)],
    )
    .await;
    assert_eq!(ls.renew(&sub).await["status"], "past_due");
    let state = wait_status(&t, tenant, "past_due").await;
    assert!(state.past_due);
    assert_eq!(state.access, "open");
    assert_eq!(notices(&t, tenant).await, vec!["payment_failed"]);
    assert_eq!(tenant_state(&t, tenant).await, "active");
    let overview = manage::overview(&t.services, tenant)
        .await
        .expect("overview");
    assert_eq!(overview.status, "past_due");
    assert!(overview.grace_ends_at.is_some());

    // Time moves (the test's clock, not a wait): a reminder 3 days before the end...
    t.services.clock.advance(chrono::Duration::days(5));
    dunning::sweep(&t.services).await.expect("sweep");
    assert_eq!(
        notices(&t, tenant).await,
        vec!["payment_failed", "payment_reminder"]
    );
    // ...a sweep again at the same time does nothing more...
    dunning::sweep(&t.services).await.expect("sweep");
    assert_eq!(notices(&t, tenant).await.len(), 2);
    assert_eq!(tenant_state(&t, tenant).await, "active");
    // ...the second one on the last day...
    t.services.clock.advance(chrono::Duration::hours(36));
    dunning::sweep(&t.services).await.expect("sweep");
    assert_eq!(notices(&t, tenant).await.len(), 3);
    assert_eq!(row(&t, tenant).await.map(|r| r.access), Some("open".into()));
    // ...and suspended once the grace period is over.
    t.services.clock.advance(chrono::Duration::days(1));
    dunning::sweep(&t.services).await.expect("sweep");
    assert_eq!(
        row(&t, tenant).await.map(|r| r.access),
        Some("suspended".into())
    );
    wait_tenant_state(&t, tenant, "suspended").await;
    assert_eq!(
        notices(&t, tenant).await,
        vec![
            "payment_failed",
            "payment_reminder",
            "payment_reminder",
            "suspended_for_non_payment"
        ]
    );
    let allowed: bool =
        sqlx::query_scalar("SELECT datallowconn FROM pg_database WHERE datname = $1")
            .bind(format!("t{}_dun-{}", t.id, t.id))
            .fetch_one(&t.pool)
            .await
            .expect("database");
    assert!(
        !allowed,
        "a suspended tenant's database refuses connections"
    );
    assert_eq!(
        row(&t, tenant).await.map(|r| r.access_applied),
        Some("suspended".into())
    );

    // The owner saves a working card (Checkout in setup mode); the open invoice is paid
    // with it, the subscription is active again, and so is the tenant.
    let start = checkout::start_card_update(
        &t.services,
        &server::audit::Actor::system(),
        tenant,
        &urls(),
    )
    .await
    .expect("card update session");
    let (status, body) = ls.complete_session(&start.session_id, "pm_card_visa").await;
    assert_eq!(status, 200, "{body}");
    wait_status(&t, tenant, "active").await;
    wait_tenant_state(&t, tenant, "active").await;
    let after = row(&t, tenant).await.expect("row");
    assert_eq!(
        (
            after.access.as_str(),
            after.access_applied.as_str(),
            after.past_due
        ),
        ("open", "open", false)
    );
    assert_eq!(
        notices(&t, tenant).await.last().map(String::as_str),
        Some("reactivated")
    );
    let invoices = manage::invoices(&t.services, tenant, 10, None)
        .await
        .expect("invoices");
    assert_eq!(invoices.items.len(), 2);
    assert!(
        invoices.items.iter().all(|i| i.status == "paid"),
        "{:?}",
        invoices.items
    );
    assert!(invoices
        .items
        .iter()
        .all(|i| i.hosted_invoice_url.is_some() && i.invoice_pdf.is_some()));
    let overview = manage::overview(&t.services, tenant)
        .await
        .expect("overview");
    assert_eq!(overview.card.map(|c| c.last4), Some("4242".to_owned()));
    t.cleanup().await;
}

#[tokio::test]
async fn a_cancellation_at_period_end_suspends_then_deletes_after_retention_with_a_backup() {
    let t = Platform::start(with_stripe()).await;
    let ls = t.stripe();
    let plan = paid_plan(&t, "retention", 1900, 0).await;
    let slug = format!("ret-{}", t.id);
    let tenant = active_tenant(&t, &slug, plan["key"].as_str().expect("key")).await;
    let sub = subscribe(&t, tenant, "pm_card_visa").await;
    wait_status(&t, tenant, "active").await;
    let owner = server::audit::Actor::system();

    // Cancel, undo, cancel again: each is Stripe's state at once.
    let o = manage::set_cancel_at_period_end(&t.services, &owner, tenant, true)
        .await
        .expect("cancel");
    assert!(o.cancel_at_period_end);
    assert!(
        ls.get(&format!("/v1/subscriptions/{sub}")).await["cancel_at_period_end"].as_bool()
            == Some(true)
    );
    let o = manage::set_cancel_at_period_end(&t.services, &owner, tenant, false)
        .await
        .expect("undo");
    assert!(!o.cancel_at_period_end);
    assert!(
        ls.get(&format!("/v1/subscriptions/{sub}")).await["cancel_at_period_end"].as_bool()
            == Some(false)
    );
    manage::set_cancel_at_period_end(&t.services, &owner, tenant, true)
        .await
        .expect("cancel");
    assert_eq!(
        tenant_state(&t, tenant).await,
        "active",
        "nothing changes before the period ends"
    );

    // The period ends: the subscription is over, the tenant suspended, its deletion dated.
    assert_eq!(ls.renew(&sub).await["status"], "canceled");
    let state = wait_status(&t, tenant, "canceled").await;
    assert!(state.deleting);
    wait_tenant_state(&t, tenant, "suspended").await;
    assert_eq!(notices(&t, tenant).await, vec!["scheduled_for_deletion"]);

    // Before the retention period ends nothing is deleted...
    t.services.clock.advance(chrono::Duration::days(29));
    assert_eq!(
        dunning::sweep(&t.services).await.expect("sweep").deleting,
        0
    );
    assert_eq!(tenant_state(&t, tenant).await, "suspended");
    // ...after it, the tenant is deleted with a final backup.
    t.services.clock.advance(chrono::Duration::days(2));
    assert_eq!(
        dunning::sweep(&t.services).await.expect("sweep").deleting,
        1
    );
    wait_tenant_state(&t, tenant, "deleted").await;
    let backups: Vec<std::path::PathBuf> = std::fs::read_dir(&t.backup_dir)
        .expect("backup dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().contains(&slug))
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert!(std::fs::metadata(&backups[0]).expect("backup").len() > 0);
    let gone: bool =
        sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(format!("t{}_{slug}", t.id))
            .fetch_one(&t.pool)
            .await
            .expect("database");
    assert!(gone);
    let actions = t.audit_actions(&tenant.to_string()).await;
    assert!(
        actions.contains(&"tenant.backed_up".to_owned()),
        "{actions:?}"
    );
    t.cleanup().await;
}
