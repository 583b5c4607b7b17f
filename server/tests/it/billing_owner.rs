//! Paid self-service sign-up and the owner's billing, against real PostgreSQL, odoo-sim and
//! localstripe (Stripe's protocol, webhooks signed with Stripe's official library): a paid
//! plan's tenant waits for its Checkout (no database, no job), is provisioned once when
//! Stripe confirms the subscription (the webhook and the return page racing), and is
//! removed with its name freed when the session expires unpaid; the owner's billing API
//! (subscription, invoices, plan change previewed then confirmed, cancel and undo, card
//! update) reaches only the owner's own tenants.

use crate::common::billing::*;
use crate::common::harness::{Options, Platform};
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::Method;
use serde_json::{json, Value};

const PASSWORD: &str = "a quiet harbour at dawn";

fn with_stripe() -> Options {
    Options {
        stripe: true,
        env: vec![("BILLING_SWEEP_SECONDS".into(), "86400".into())],
        ..Options::default()
    }
}

/// An owner's session: the cookie and its CSRF token.
#[derive(Clone)]
struct Owner {
    cookie: String,
    csrf: String,
}

/// A confirmed owner account, signed in over the API.
async fn owner(t: &Platform, email: &str) -> Owner {
    server::owners::accounts::sign_up(
        &t.services,
        server::owners::accounts::SignUp {
            name: "Paula Payer".into(),
            email: email.into(),
            password: secrecy::SecretString::from(PASSWORD.to_owned()),
        },
    )
    .await
    .expect("account");
    sqlx::query("UPDATE owners SET email_verified_at = now() WHERE email = $1")
        .bind(email)
        .execute(&t.pool)
        .await
        .expect("verify");
    let r = t
        .http
        .post(format!("{}/api/v1/owner/session", t.base))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(r.status(), 200);
    let cookie = r
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("cookie")
        .to_owned();
    let body: Value = r.json().await.expect("json");
    Owner {
        cookie,
        csrf: body["csrf_token"].as_str().expect("csrf").to_owned(),
    }
}

/// Calls `/api/v1{path}` as `who`.
async fn call(
    t: &Platform,
    who: &Owner,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = t
        .http
        .request(method, format!("{}/api/v1{path}", t.base))
        .header(COOKIE, &who.cookie)
        .header("x-csrf-token", &who.csrf);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let response = r.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn signup(plan: &str, slug: &str, key: &str) -> Value {
    json!({"plan": plan, "slug": slug, "company_name": "Paid Ltd",
           "odoo_password": "paid odoo secret", "signup_key": key})
}

/// A paid sign-up as `who`: 201, the waiting tenant's id and its Checkout Session.
async fn waiting_signup(t: &Platform, who: &Owner, body: Value) -> (String, String) {
    let (status, made) = call(t, who, Method::POST, "/owner/tenants", Some(body)).await;
    assert_eq!(status, 201, "{made}");
    let id = made["tenant"]["id"].as_str().expect("id").to_owned();
    let session = made["checkout"]["session_id"]
        .as_str()
        .expect("session")
        .to_owned();
    (id, session)
}

async fn count(t: &Platform, sql: &str, tenant: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(uuid::Uuid::parse_str(tenant).expect("uuid"))
        .fetch_one(&t.pool)
        .await
        .expect("count")
}

async fn provision_jobs(t: &Platform, tenant: &str) -> i64 {
    count(
        t,
        "SELECT count(*) FROM jobs WHERE tenant_id = $1 AND kind = 'tenant.provision'",
        tenant,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paid_signup_is_provisioned_once_after_checkout_and_its_owner_manages_the_subscription() {
    let mut t = Platform::start(with_stripe()).await;
    let plan = paid_plan(&t, "team", 2900, 0).await;
    let key = plan["key"].as_str().expect("key").to_owned();
    let bigger = paid_plan(&t, "business", 4900, 0).await;
    let bigger_key = bigger["key"].as_str().expect("key").to_owned();
    let ann = owner(&t, "ann@paid.example.com").await;
    let bob = owner(&t, "bob@paid.example.com").await;
    let slug = format!("paid{}", t.id);

    // The sign-up answers 201 with the waiting tenant and Stripe Checkout's address.
    let (status, first) = call(
        &t,
        &ann,
        Method::POST,
        "/owner/tenants",
        Some(signup(&key, &slug, "form-1")),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["tenant"]["state"], "awaiting_payment");
    let id = first["tenant"]["id"].as_str().expect("id").to_owned();
    let session = first["checkout"]["session_id"]
        .as_str()
        .expect("session")
        .to_owned();
    assert!(
        first["checkout"]["url"]
            .as_str()
            .is_some_and(|u| u.contains(&format!("/checkout/pay/{session}"))),
        "{first}"
    );
    let ls_session = t
        .stripe()
        .get(&format!("/v1/checkout/sessions/{session}"))
        .await;
    assert_eq!(ls_session["mode"], "subscription", "{ls_session}");
    assert_eq!(ls_session["metadata"]["tenant_id"], id.as_str());
    // The same form again: the same tenant and the same open session, nothing more.
    let (status, again) = call(
        &t,
        &ann,
        Method::POST,
        "/owner/tenants",
        Some(signup(&key, &slug, "form-1")),
    )
    .await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["tenant"]["id"], first["tenant"]["id"]);
    assert_eq!(again["checkout"]["session_id"], session.as_str());
    // Nothing is provisioned while it waits: no job, no database; the name is taken.
    assert_eq!(provision_jobs(&t, &id).await, 0);
    assert!(
        t.databases().await.iter().all(|d| !d.contains(&slug)),
        "no database before the payment"
    );
    let (_, check) = t.get(&format!("/owner/slugs/{slug}")).await;
    assert_eq!(check["available"], false, "{check}");
    let (status, billing) = call(
        &t,
        &ann,
        Method::GET,
        &format!("/owner/tenants/{id}/billing"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{billing}");
    assert_eq!(billing["status"], "checkout");
    // The operators see it waiting too.
    let (_, seen) = t.get(&format!("/tenants/{id}")).await;
    assert_eq!(seen["state"], "awaiting_payment");

    // A declined card: Checkout refuses it and says so; the tenant still waits.
    let (status, declined) = t
        .stripe()
        .complete_session_with_card(&session, "4000000000000002")
        .await;
    assert_eq!(status, 402, "{declined}");
    assert_eq!(declined["error"]["code"], "card_declined");
    assert_eq!(provision_jobs(&t, &id).await, 0);

    // Bob never sees Ann's subscription, nor confirms her session.
    for (method, path, body) in [
        (Method::GET, format!("/owner/tenants/{id}/billing"), None),
        (
            Method::POST,
            format!("/owner/tenants/{id}/billing/return"),
            Some(json!({"session_id": session})),
        ),
        (
            Method::POST,
            format!("/owner/tenants/{id}/billing/checkout"),
            None,
        ),
    ] {
        let (status, body) = call(&t, &bob, method.clone(), &path, body).await;
        assert_eq!(status, 404, "{method} {path}: {body}");
    }

    // Paid: the webhook and five return pages race; the tenant is provisioned once.
    let (status, done) = t.stripe().complete_session(&session, "pm_card_visa").await;
    assert_eq!(status, 200, "{done}");
    let return_path = format!("/owner/tenants/{id}/billing/return");
    let returns = (0..5).map(|_| {
        call(
            &t,
            &ann,
            Method::POST,
            &return_path,
            Some(json!({"session_id": session})),
        )
    });
    for (status, body) in futures::future::join_all(returns).await {
        assert_eq!(status, 200, "{body}");
        assert!(
            ["subscribed", "confirming"].contains(&body["outcome"].as_str().unwrap_or("")),
            "{body}"
        );
    }
    wait_tenant_state(&t, uuid::Uuid::parse_str(&id).expect("uuid"), "active").await;
    billing_idle(&t).await;
    // Once more after the fact: still one.
    let (_, body) = call(
        &t,
        &ann,
        Method::POST,
        &format!("/owner/tenants/{id}/billing/return"),
        Some(json!({"session_id": session})),
    )
    .await;
    assert_eq!(body["outcome"], "subscribed", "{body}");
    assert_eq!(provision_jobs(&t, &id).await, 1, "provisioned exactly once");
    assert_eq!(
        count(
            &t,
            "SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'tenant.payment_confirmed'",
            &id
        )
        .await,
        1
    );
    let sub = wait_status(&t, uuid::Uuid::parse_str(&id).expect("uuid"), "active").await;
    assert_eq!(sub.access, "open");

    // The owner's billing: plan, status, next invoice, card, invoices with their pages.
    let (status, b) = call(
        &t,
        &ann,
        Method::GET,
        &format!("/owner/tenants/{id}/billing"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(
        (
            b["status"].as_str(),
            b["plan"].as_str(),
            b["amount_cents"].as_i64()
        ),
        (Some("active"), Some(key.as_str()), Some(2900)),
        "{b}"
    );
    assert!(b["next_invoice"]["amount_due"].is_i64(), "{b}");
    assert!(b["card"]["last4"].is_string(), "{b}");
    let (status, invoices) = call(
        &t,
        &ann,
        Method::GET,
        &format!("/owner/tenants/{id}/billing/invoices"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{invoices}");
    let first_invoice = &invoices["items"][0];
    assert_eq!(first_invoice["status"], "paid", "{invoices}");
    assert!(
        first_invoice["hosted_invoice_url"].is_string(),
        "{invoices}"
    );
    assert!(first_invoice["invoice_pdf"].is_string(), "{invoices}");
    let (status, _) = call(
        &t,
        &bob,
        Method::GET,
        &format!("/owner/tenants/{id}/billing/invoices"),
        None,
    )
    .await;
    assert_eq!(status, 404, "Bob never sees Ann's invoices");

    // Change plan: the preview first, then the change at the previewed proration date.
    let (status, preview) = call(
        &t,
        &ann,
        Method::POST,
        &format!("/owner/tenants/{id}/billing/preview"),
        Some(json!({"plan": bigger_key})),
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["new_amount_cents"], 4900, "{preview}");
    assert!(
        preview["lines"].as_array().is_some_and(|l| !l.is_empty()),
        "{preview}"
    );
    let (status, changed) = call(
        &t,
        &ann,
        Method::POST,
        &format!("/owner/tenants/{id}/billing/change"),
        Some(json!({"plan": bigger_key, "proration_date": preview["proration_date"]})),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["plan"], bigger_key.as_str(), "{changed}");
    assert_eq!(changed["amount_cents"], 4900, "{changed}");
    // Without the CSRF token, a change is refused and nothing happens.
    let r = t
        .http
        .post(format!(
            "{}/api/v1/owner/tenants/{id}/billing/cancel",
            t.base
        ))
        .header(COOKIE, &ann.cookie)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 403);

    // Cancel at the period's end, and undo it.
    let (status, cancelled) = call(
        &t,
        &ann,
        Method::POST,
        &format!("/owner/tenants/{id}/billing/cancel"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["cancel_at_period_end"], true);
    let (status, resumed) = call(
        &t,
        &ann,
        Method::POST,
        &format!("/owner/tenants/{id}/billing/resume"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{resumed}");
    assert_eq!(resumed["cancel_at_period_end"], false);
    // A card update is a Checkout Session in setup mode.
    let (status, card) = call(
        &t,
        &ann,
        Method::POST,
        &format!("/owner/tenants/{id}/billing/card"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{card}");
    let card_session = t
        .stripe()
        .get(&format!(
            "/v1/checkout/sessions/{}",
            card["session_id"].as_str().expect("session")
        ))
        .await;
    assert_eq!(card_session["mode"], "setup", "{card_session}");
    for (method, path) in [
        (Method::POST, format!("/owner/tenants/{id}/billing/cancel")),
        (Method::POST, format!("/owner/tenants/{id}/billing/card")),
    ] {
        let (status, _) = call(&t, &bob, method, &path, None).await;
        assert_eq!(status, 404, "{path}");
    }
    let sub = row(&t, uuid::Uuid::parse_str(&id).expect("uuid"))
        .await
        .expect("row");
    assert!(!sub.cancel_at_period_end, "Bob's tries changed nothing");

    // Stripe away: the return page says "we are confirming your payment", and the overview
    // still answers, marking Stripe's live parts as unreachable.
    if let Some(stripe) = t.stripe.take() {
        stripe.stop().await;
    }
    let (status, body) = call(
        &t,
        &ann,
        Method::POST,
        &format!("/owner/tenants/{id}/billing/return"),
        Some(json!({"session_id": session})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "confirming", "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("confirming your payment")),
        "{body}"
    );
    let (status, b) = call(
        &t,
        &ann,
        Method::GET,
        &format!("/owner/tenants/{id}/billing"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["stripe_unreachable"], true, "{b}");
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_checkout_leaves_nothing_running_and_frees_the_name() {
    let t = Platform::start(with_stripe()).await;
    let plan = paid_plan(&t, "trial", 1900, 14).await;
    let key = plan["key"].as_str().expect("key").to_owned();
    let ann = owner(&t, "ann@expired.example.com").await;
    let slug = format!("gone{}", t.id);
    let (id, session) = waiting_signup(&t, &ann, signup(&key, &slug, "form-1")).await;

    // The owner never pays; the session expires (Stripe's checkout.session.expired).
    let (status, expired) = t
        .stripe()
        .post(&format!("/v1/checkout/sessions/{session}/expire"), &[])
        .await;
    assert_eq!(status, 200, "{expired}");
    eventually("the awaiting tenant to be removed", 30, || async {
        let (status, _) = call(&t, &ann, Method::GET, &format!("/owner/tenants/{id}"), None).await;
        (status == 404).then_some(())
    })
    .await;
    billing_idle(&t).await;
    assert_eq!(provision_jobs(&t, &id).await, 0, "nothing was provisioned");
    assert!(t.databases().await.iter().all(|d| !d.contains(&slug)));
    let (_, check) = t.get(&format!("/owner/slugs/{slug}")).await;
    assert_eq!(check["available"], true, "the name is free again: {check}");
    assert_eq!(
        count(
            &t,
            "SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'tenant.signup_abandoned'",
            &id
        )
        .await,
        1
    );
    // The return page of the expired session says so (the tenant is gone: 404).
    let (status, _) = call(
        &t,
        &ann,
        Method::POST,
        &format!("/owner/tenants/{id}/billing/return"),
        Some(json!({"session_id": session})),
    )
    .await;
    assert_eq!(status, 404);

    // The name can be signed up for again: a new tenant, a new session with the trial.
    let (status, again) = call(
        &t,
        &ann,
        Method::POST,
        "/owner/tenants",
        Some(signup(&key, &slug, "form-2")),
    )
    .await;
    assert_eq!(status, 201, "{again}");
    assert_ne!(again["tenant"]["id"], id.as_str());
    let new_session = again["checkout"]["session_id"].as_str().expect("session");
    let (status, done) = t
        .stripe()
        .complete_session(new_session, "pm_card_visa")
        .await;
    assert_eq!(status, 200, "{done}");
    let new_id = uuid::Uuid::parse_str(again["tenant"]["id"].as_str().expect("id")).expect("uuid");
    let sub = wait_status(&t, new_id, "trialing").await;
    assert_eq!(sub.access, "open");
    wait_tenant_state(&t, new_id, "active").await;
    let (_, b) = call(
        &t,
        &ann,
        Method::GET,
        &format!("/owner/tenants/{new_id}/billing"),
        None,
    )
    .await;
    assert!(b["trial_end"].is_string(), "{b}");
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_yearly_signup_is_billed_the_plans_yearly_price() {
    let t = Platform::start(with_stripe()).await;
    let plan = paid_plan(&t, "annual", 2900, 0).await;
    let key = plan["key"].as_str().expect("key").to_owned();
    let yearly_price = plan["stripe_yearly_price_id"]
        .as_str()
        .expect("yearly price")
        .to_owned();
    let (_, offers) = t.get("/owner/plans").await;
    let offer = offers
        .as_array()
        .and_then(|all| all.iter().find(|o| o["key"] == key.as_str()))
        .cloned()
        .expect("the plan is on offer");
    assert_eq!(offer["yearly_price_cents"], 2900 * 12, "{offer}");
    let yan = owner(&t, "yan@paid.example.com").await;
    let slug = format!("annual{}", t.id);

    // A billing period that does not exist: refused, naming the field; nothing is made.
    let mut weekly = signup(&key, &slug, "form-y");
    weekly["interval"] = json!("weekly");
    let (status, refused) = call(&t, &yan, Method::POST, "/owner/tenants", Some(weekly)).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "interval_unknown");
    assert_eq!(refused["error"]["field"], "interval");
    let (_, check) = t.get(&format!("/owner/slugs/{slug}")).await;
    assert_eq!(check["available"], true, "the name stays free: {check}");

    // Yearly: Checkout sells the plan's yearly price; the same form again, the same session.
    let mut yearly = signup(&key, &slug, "form-y");
    yearly["interval"] = json!("year");
    let (id, session) = waiting_signup(&t, &yan, yearly.clone()).await;
    let (status, again) = call(&t, &yan, Method::POST, "/owner/tenants", Some(yearly)).await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["checkout"]["session_id"], session.as_str());
    let (_, waiting) = call(
        &t,
        &yan,
        Method::GET,
        &format!("/owner/tenants/{id}/billing"),
        None,
    )
    .await;
    assert_eq!(waiting["status"], "checkout", "{waiting}");
    assert_eq!(waiting["interval"], "year", "{waiting}");

    let (status, done) = t.stripe().complete_session(&session, "pm_card_visa").await;
    assert_eq!(status, 200, "{done}");
    let tenant = uuid::Uuid::parse_str(&id).expect("uuid");
    wait_tenant_state(&t, tenant, "active").await;
    wait_status(&t, tenant, "active").await;
    billing_idle(&t).await;
    let (price, interval): (Option<String>, String) = sqlx::query_as(
        "SELECT stripe_price_id, plan_interval FROM subscriptions WHERE tenant_id = $1",
    )
    .bind(tenant)
    .fetch_one(&t.pool)
    .await
    .expect("subscription");
    assert_eq!(
        (price.as_deref(), interval.as_str()),
        (Some(yearly_price.as_str()), "year")
    );
    let (status, billing) = call(
        &t,
        &yan,
        Method::GET,
        &format!("/owner/tenants/{id}/billing"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{billing}");
    assert_eq!(billing["interval"], "year", "{billing}");
    assert_eq!(billing["amount_cents"], 2900 * 12, "{billing}");
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_owner_cancels_a_paid_signup_before_paying_and_a_paid_one_is_not_cancelled() {
    let t = Platform::start(with_stripe()).await;
    let plan = paid_plan(&t, "quit", 2900, 0).await;
    let key = plan["key"].as_str().expect("key").to_owned();
    let cat = owner(&t, "cat@quit.example.com").await;
    let dan = owner(&t, "dan@quit.example.com").await;
    let slug = format!("quit{}", t.id);
    let (id, session) = waiting_signup(&t, &cat, signup(&key, &slug, "form-q")).await;
    let path = format!("/owner/tenants/{id}/billing/cancel-signup");

    // Another owner cannot cancel it.
    let (status, body) = call(&t, &dan, Method::POST, &path, None).await;
    assert_eq!(status, 404, "{body}");

    // The owner can: the checkout is closed at Stripe, the tenant gone, its name free.
    let (status, body) = call(&t, &cat, Method::POST, &path, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("nothing was charged")),
        "{body}"
    );
    let ls_session = t
        .stripe()
        .get(&format!("/v1/checkout/sessions/{session}"))
        .await;
    assert_eq!(ls_session["status"], "expired", "{ls_session}");
    let (status, _) = call(&t, &cat, Method::GET, &format!("/owner/tenants/{id}"), None).await;
    assert_eq!(status, 404, "the waiting tenant is removed");
    let (_, check) = t.get(&format!("/owner/slugs/{slug}")).await;
    assert_eq!(check["available"], true, "{check}");
    let cancelled: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'tenant.signup_cancelled' \
         AND actor = 'owner:cat@quit.example.com'",
    )
    .bind(uuid::Uuid::parse_str(&id).expect("uuid"))
    .fetch_one(&t.pool)
    .await
    .expect("audit");
    assert_eq!(cancelled, 1);
    // The closed checkout can no longer be paid; nothing is provisioned.
    let (status, paid) = t.stripe().complete_session(&session, "pm_card_visa").await;
    assert_ne!(status, 200, "{paid}");
    assert_eq!(provision_jobs(&t, &id).await, 0);

    // A sign-up whose payment went through is not cancelled: it is being made. (The same
    // name signs up again: it was freed.)
    let (id, session) = waiting_signup(&t, &cat, signup(&key, &slug, "form-q2")).await;
    let (status, done) = t.stripe().complete_session(&session, "pm_card_visa").await;
    assert_eq!(status, 200, "{done}");
    let (status, body) = call(
        &t,
        &cat,
        Method::POST,
        &format!("/owner/tenants/{id}/billing/cancel-signup"),
        None,
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        ["payment_received", "not_awaiting_payment"]
            .contains(&body["error"]["code"].as_str().unwrap_or("")),
        "{body}"
    );
    wait_tenant_state(&t, uuid::Uuid::parse_str(&id).expect("uuid"), "active").await;
    billing_idle(&t).await;
    assert_eq!(provision_jobs(&t, &id).await, 1);
    t.cleanup().await;
}
