//! Billing as the operator manages it, against real PostgreSQL, odoo-sim and localstripe:
//! the `/api/v1` billing endpoints (a tenant's subscription, invoice pages, plan change
//! previewed then confirmed, cancel and undo, comping, the summary, bad input) and the
//! operations portal's billing (the tenant's subscription and invoices, comping, MRR and
//! past-due tenants on the dashboard).

use crate::common::billing::*;
use crate::common::harness::{Options, Platform};
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Stripe on; the recurring sweep at its longest interval (the tests look at states that a
/// scheduled sweep would not change).
fn with_stripe() -> Options {
    Options {
        stripe: true,
        env: vec![("BILLING_SWEEP_SECONDS".into(), "86400".into())],
        ..Options::default()
    }
}

/// A raw API call: status and JSON body.
async fn call(
    t: &Platform,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = t.api(method, path);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("API request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The stored plan key of a tenant (what the platform bills it for).
async fn tenant_plan(t: &Platform, slug: &str) -> String {
    sqlx::query_scalar(
        "SELECT p.key FROM tenants t JOIN plans p ON p.id = t.plan_id WHERE t.slug = $1",
    )
    .bind(slug)
    .fetch_one(&t.pool)
    .await
    .expect("tenant plan")
}

/// The price id on a Stripe subscription's only item.
async fn stripe_price(t: &Platform, sub: &str) -> String {
    let s = t.stripe().get(&format!("/v1/subscriptions/{sub}")).await;
    let item = &s["items"]["data"][0];
    item["price"]["id"]
        .as_str()
        .or_else(|| item["plan"]["id"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The customer's card starts failing and the renewal is refused: the subscription is
/// past due in Stripe and, through its webhook, in the platform.
async fn renewal_fails(t: &Platform, tenant: uuid::Uuid, sub: &str) {
    let ls = t.stripe();
    let customer = ls.get(&format!("/v1/subscriptions/{sub}")).await["customer"]
        .as_str()
        .expect("customer")
        .to_owned();
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
    assert_eq!(ls.renew(sub).await["status"], "past_due");
    wait_status(t, tenant, "past_due").await;
}

fn error_of(body: &Value) -> (&str, &str) {
    (
        body["error"]["code"].as_str().unwrap_or(""),
        body["error"]["field"].as_str().unwrap_or(""),
    )
}

#[tokio::test]
async fn the_billing_api_shows_pages_changes_cancels_and_comps_a_subscription() {
    use reqwest::Method;
    let t = Platform::start(with_stripe()).await;
    let ls = t.stripe();
    let basic = paid_plan(&t, "basic", 2900, 0).await;
    let pro = paid_plan(&t, "pro", 4900, 0).await;
    let basic_key = basic["key"].as_str().expect("key").to_owned();
    let pro_key = pro["key"].as_str().expect("key").to_owned();
    let slug = format!("bill-{}", t.id);
    let tenant = active_tenant(&t, &slug, &basic_key).await;
    let sub = subscribe(&t, tenant, "pm_card_visa").await;
    wait_status(&t, tenant, "active").await;
    let billing = format!("/tenants/{slug}/billing");

    // The subscription, with Stripe's live parts; by slug or by id, the same.
    let (status, o) = t.get(&billing).await;
    assert_eq!(status, 200, "{o}");
    assert_eq!(
        (
            o["status"].as_str(),
            o["plan"].as_str(),
            o["amount_cents"].as_i64()
        ),
        (Some("active"), Some(basic_key.as_str()), Some(2900)),
        "{o}"
    );
    assert_eq!(o["currency"], "eur");
    assert_eq!(o["card"]["last4"], "4242", "{o}");
    assert_eq!(o["next_invoice"]["amount_due"], 2900, "{o}");
    assert_eq!(o["stripe_unreachable"], false);
    let (status, by_id) = t.get(&format!("/tenants/{tenant}/billing")).await;
    assert_eq!(status, 200);
    assert_eq!(by_id["tenant_id"], o["tenant_id"]);
    let (status, missing) = t.get("/tenants/no-such-tenant/billing").await;
    assert_eq!((status, error_of(&missing).0), (404, "not_found"));
    let anonymous = t
        .http
        .get(format!("{}/api/v1{billing}", t.base))
        .send()
        .await
        .expect("GET");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // A renewal makes a second invoice: one per page, then the rest, never twice.
    ls.renew(&sub).await;
    let invoices = format!("/tenants/{slug}/invoices");
    let (status, first) = t.get(&format!("{invoices}?limit=1")).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["items"].as_array().map(Vec::len), Some(1), "{first}");
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let (status, second) = t.get(&format!("{invoices}?limit=1&cursor={cursor}")).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(
        second["items"].as_array().map(Vec::len),
        Some(1),
        "{second}"
    );
    assert!(second["next_cursor"].is_null(), "{second}");
    assert_ne!(first["items"][0]["id"], second["items"][0]["id"]);
    let (_, all) = t.get(&invoices).await;
    let all = all["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(all.len(), 2);
    for i in &all {
        assert_eq!(
            (i["status"].as_str(), i["total"].as_i64()),
            (Some("paid"), Some(2900)),
            "{i}"
        );
        assert!(
            i["hosted_invoice_url"].is_string() && i["invoice_pdf"].is_string(),
            "{i}"
        );
    }
    for (query, code, field) in [
        ("limit=0", "limit_invalid", "limit"),
        ("limit=101", "limit_invalid", "limit"),
        ("cursor=sub_123", "cursor_invalid", "cursor"),
    ] {
        let (status, body) = t.get(&format!("{invoices}?{query}")).await;
        assert_eq!(
            (status, error_of(&body)),
            (422, (code, field)),
            "{query}: {body}"
        );
    }
    let (status, body) = t.get(&format!("{invoices}?limit=many")).await;
    assert_eq!((status, error_of(&body).0), (400, "bad_query"), "{body}");

    // Preview a move to Pro: Stripe's figures, nothing changed yet.
    let preview_path = format!("{billing}/preview");
    let (status, preview) = t.post(&preview_path, json!({"plan": pro_key})).await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(
        (
            preview["plan"].as_str(),
            preview["interval"].as_str(),
            preview["new_amount_cents"].as_i64()
        ),
        (Some(pro_key.as_str()), Some("month"), Some(4900)),
        "{preview}"
    );
    assert_eq!(preview["currency"], "eur");
    // Prorations first (credit for the unused time of Basic), then Pro's period; what is
    // due is their sum, never below zero (a credit is kept for later).
    let lines = preview["lines"].as_array().cloned().unwrap_or_default();
    assert!(
        lines
            .first()
            .is_some_and(|l| l["proration"] == true && l["amount"].as_i64() < Some(0)),
        "{preview}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["proration"] == false && l["amount"] == 4900),
        "{preview}"
    );
    let total: i64 = lines
        .iter()
        .map(|l| l["amount"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(
        preview["amount_due"].as_i64(),
        Some(total.max(0)),
        "{preview}"
    );
    let proration_date = preview["proration_date"].as_i64().expect("proration date");
    let basic_price = stripe_price(&t, &sub).await;
    assert_eq!(
        basic_price,
        basic["stripe_monthly_price_id"].as_str().unwrap_or("")
    );
    assert_eq!(tenant_plan(&t, &slug).await, basic_key);

    // Bad changes: clear errors, nothing changed.
    let bad: Vec<(Value, u16, &str, &str)> = vec![
        (json!({"plan": "no-such-plan"}), 422, "plan_unknown", "plan"),
        (json!({"plan": basic_key}), 409, "same_plan", ""),
        (
            json!({"plan": pro_key, "interval": "fortnight"}),
            422,
            "invalid_body",
            "",
        ),
        (
            json!({"plan": pro_key, "colour": "red"}),
            422,
            "invalid_body",
            "",
        ),
        (
            json!({"plan": pro_key, "proration_date": proration_date - 7200}),
            422,
            "preview_expired",
            "proration_date",
        ),
    ];
    for (body, want_status, code, field) in bad {
        let (status, answer) = t.post(&format!("{billing}/change"), body.clone()).await;
        assert_eq!(
            (status, error_of(&answer)),
            (want_status, (code, field)),
            "{body}: {answer}"
        );
    }
    let malformed = t
        .api(Method::POST, &format!("{billing}/change"))
        .header("Content-Type", "application/json")
        .body("{\"plan\": ")
        .send()
        .await
        .expect("POST");
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(stripe_price(&t, &sub).await, basic_price);
    assert_eq!(tenant_plan(&t, &slug).await, basic_key);

    // Confirmed as previewed: Stripe's subscription and the tenant are on Pro.
    let (status, changed) = t
        .post(
            &format!("{billing}/change"),
            json!({"plan": pro_key, "proration_date": proration_date}),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        (changed["plan"].as_str(), changed["amount_cents"].as_i64()),
        (Some(pro_key.as_str()), Some(4900)),
        "{changed}"
    );
    assert_eq!(
        stripe_price(&t, &sub).await,
        pro["stripe_monthly_price_id"].as_str().unwrap_or("")
    );
    assert_eq!(tenant_plan(&t, &slug).await, pro_key);
    assert!(t
        .audit_actions(&tenant.to_string())
        .await
        .contains(&"billing.plan_changed".to_owned()));

    // Cancel at the period's end, then undo: Stripe says so each time.
    let (status, cancelled) = t.post(&format!("{billing}/cancel"), json!({})).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["cancel_at_period_end"], true);
    assert!(
        cancelled["next_invoice"].is_null(),
        "nothing more to charge: {cancelled}"
    );
    assert_eq!(
        ls.get(&format!("/v1/subscriptions/{sub}")).await["cancel_at_period_end"],
        true
    );
    let (status, resumed) = t.post(&format!("{billing}/resume"), json!({})).await;
    assert_eq!(status, 200, "{resumed}");
    assert_eq!(resumed["cancel_at_period_end"], false);
    assert_eq!(
        ls.get(&format!("/v1/subscriptions/{sub}")).await["cancel_at_period_end"],
        false
    );

    // The summary: Pro's price is the monthly revenue; nobody is past due.
    let (status, summary) = t.get("/billing/summary").await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["mrr"], json!([{"currency": "eur", "cents": 4900}]));
    assert_eq!(summary["past_due"], json!([]));
    assert_eq!(summary["comped"], 0);

    // The renewal fails: the tenant is listed past due, with its grace period.
    renewal_fails(&t, tenant, &sub).await;
    let (_, summary) = t.get("/billing/summary").await;
    let past_due = summary["past_due"].as_array().cloned().unwrap_or_default();
    assert_eq!(past_due.len(), 1, "{summary}");
    assert_eq!(
        (past_due[0]["slug"].as_str(), past_due[0]["status"].as_str()),
        (Some(slug.as_str()), Some("past_due"))
    );
    assert!(past_due[0]["grace_ends_at"].is_string(), "{summary}");

    // Comping needs a reason; then Stripe stops charging and the tenant leaves the list.
    let comp = format!("{billing}/comp");
    for (body, code, field) in [
        (json!({"comped": true}), "reason_required", "reason"),
        (
            json!({"comped": true, "reason": "   "}),
            "reason_required",
            "reason",
        ),
        (
            json!({"comped": true, "reason": "x".repeat(201)}),
            "reason_required",
            "reason",
        ),
        (
            json!({"comped": "yes", "reason": "partner"}),
            "invalid_body",
            "",
        ),
    ] {
        let (status, answer) = t.post(&comp, body.clone()).await;
        assert_eq!(
            (status, error_of(&answer)),
            (422, (code, field)),
            "{body}: {answer}"
        );
    }
    assert_eq!(
        row(&t, tenant).await.map(|r| r.status),
        Some("past_due".into())
    );
    let (status, comped) = t
        .post(&comp, json!({"comped": true, "reason": "Launch partner"}))
        .await;
    assert_eq!(status, 200, "{comped}");
    assert_eq!(comped["comped"], true);
    assert_eq!(
        ls.get(&format!("/v1/subscriptions/{sub}")).await["status"],
        "canceled"
    );
    let (_, summary) = t.get("/billing/summary").await;
    assert_eq!(
        (&summary["comped"], &summary["past_due"], &summary["mrr"]),
        (&json!(1), &json!([]), &json!([])),
        "{summary}"
    );
    // A comped tenant has no subscription to manage.
    let (status, answer) = t.post(&format!("{billing}/cancel"), json!({})).await;
    assert_eq!((status, error_of(&answer).0), (409, "comped"), "{answer}");
    let (status, answer) = t.post(&preview_path, json!({"plan": basic_key})).await;
    assert_eq!((status, error_of(&answer).0), (409, "comped"), "{answer}");
    let (status, uncomped) = t.post(&comp, json!({"comped": false})).await;
    assert_eq!(status, 200, "{uncomped}");
    assert_eq!(uncomped["comped"], false);
    let (_, summary) = t.get("/billing/summary").await;
    assert_eq!(summary["comped"], 0);

    // The OpenAPI document lists the billing endpoints.
    let (_, doc) = call(&t, Method::GET, "/openapi.json", None).await;
    for path in [
        "/tenants/{id}/billing",
        "/tenants/{id}/invoices",
        "/tenants/{id}/billing/preview",
        "/tenants/{id}/billing/change",
        "/tenants/{id}/billing/cancel",
        "/tenants/{id}/billing/resume",
        "/tenants/{id}/billing/comp",
        "/billing/summary",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    t.cleanup().await;
}

/// The superadmin signed in on the test platform: its session cookie and CSRF token.
async fn superadmin(t: &Platform) -> (String, String) {
    let (email, password) = ("ops@example.com", "a long enough passphrase");
    server::admin::auth::create_superadmin(&t.pool, email, password, false)
        .await
        .expect("superadmin");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let response = http
        .post(format!("{}/sfn/auth/sign_in", t.base))
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .expect("sign in");
    let cookie = response
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let me: Value = http
        .post(format!("{}/sfn/admin/me", t.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    let csrf = me["csrf"].as_str().expect("csrf").to_owned();
    (cookie, csrf)
}

/// A portal server function: status and JSON.
async fn sfn(t: &Platform, cookie: &str, name: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = t
        .http
        .post(format!("{}/sfn/admin/{name}", t.base))
        .header(COOKIE, cookie)
        .form(form)
        .send()
        .await
        .expect("server function");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A portal page as served (server-rendered, streamed parts included).
async fn page(t: &Platform, cookie: &str, path: &str) -> String {
    let response = t
        .http
        .get(format!("{}{path}", t.base))
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("page");
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.text().await.expect("body")
}

#[tokio::test]
async fn the_portal_shows_a_tenants_subscription_and_invoices_comps_it_and_sums_up_billing() {
    let t = Platform::start(with_stripe()).await;
    let plan = paid_plan(&t, "portal", 2900, 0).await;
    let slug = format!("ops-{}", t.id);
    let tenant = active_tenant(&t, &slug, plan["key"].as_str().expect("key")).await;
    let sub = subscribe(&t, tenant, "pm_card_visa").await;
    wait_status(&t, tenant, "active").await;
    let (cookie, csrf) = superadmin(&t).await;

    // The tenant's subscription and invoices, with Stripe's documents.
    let (status, b) = sfn(&t, &cookie, "tenant_billing", &[("slug", &slug)]).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(
        (
            b["status"].as_str(),
            b["price"].as_str(),
            b["comped"].as_bool()
        ),
        (Some("active"), Some("EUR 29.00 / month"), Some(false)),
        "{b}"
    );
    assert_eq!(b["subscription"], sub.as_str());
    assert_eq!(b["access"], "open");
    let invoices = b["invoices"].as_array().cloned().unwrap_or_default();
    assert_eq!(invoices.len(), 1, "{b}");
    assert_eq!(
        (
            invoices[0]["total"].as_str(),
            invoices[0]["status"].as_str()
        ),
        (Some("EUR 29.00"), Some("paid"))
    );
    let hosted = invoices[0]["hosted_url"]
        .as_str()
        .expect("invoice page")
        .to_owned();
    let html = page(&t, &cookie, &format!("/admin/tenants/{slug}")).await;
    assert!(html.contains("id=\"billing-facts\""), "the billing section");
    assert!(html.contains(&hosted), "the invoice's page is linked");
    assert!(html.contains("EUR 29.00"));
    assert!(html.contains("Comp this tenant"));

    // The dashboard: the tenant's price is the monthly revenue, nobody past due.
    let (status, s) = sfn(&t, &cookie, "billing_summary", &[]).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(
        (s["mrr"].clone(), s["past_due"].clone()),
        (json!(["EUR 29.00"]), json!([])),
        "{s}"
    );
    let dashboard = page(&t, &cookie, "/admin").await;
    assert!(dashboard.contains("monthly recurring revenue"));
    assert!(dashboard.contains("EUR 29.00"));
    assert!(!dashboard.contains("id=\"past-due\""));

    // The renewal fails: the dashboard lists the tenant as past due.
    renewal_fails(&t, tenant, &sub).await;
    let (_, s) = sfn(&t, &cookie, "billing_summary", &[]).await;
    assert_eq!(s["past_due"][0]["slug"], slug.as_str(), "{s}");
    let dashboard = page(&t, &cookie, "/admin").await;
    assert!(dashboard.contains("id=\"past-due\""));
    assert!(dashboard.contains(&format!("/admin/tenants/{slug}")));

    // Comping: refused without the session's CSRF token or without a reason, then done.
    let (status, _) = sfn(
        &t,
        &cookie,
        "tenant_comp",
        &[
            ("csrf", "forged"),
            ("slug", &slug),
            ("comped", "true"),
            ("reason", "partner"),
        ],
    )
    .await;
    assert!(status.is_client_error(), "{status}");
    let (status, body) = sfn(
        &t,
        &cookie,
        "tenant_comp",
        &[
            ("csrf", &csrf),
            ("slug", &slug),
            ("comped", "true"),
            ("reason", " "),
        ],
    )
    .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")),
        "{body}"
    );
    assert_eq!(
        row(&t, tenant).await.map(|r| r.status),
        Some("past_due".into())
    );
    let (status, body) = sfn(
        &t,
        &cookie,
        "tenant_comp",
        &[
            ("csrf", &csrf),
            ("slug", &slug),
            ("comped", "true"),
            ("reason", "Launch partner"),
        ],
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    let (_, b) = sfn(&t, &cookie, "tenant_billing", &[("slug", &slug)]).await;
    assert_eq!(
        (b["comped"].as_bool(), b["comped_reason"].as_str()),
        (Some(true), Some("Launch partner")),
        "{b}"
    );
    let html = page(&t, &cookie, &format!("/admin/tenants/{slug}")).await;
    assert!(html.contains("Launch partner"));
    assert!(html.contains("End the free of charge offer"));
    let (_, s) = sfn(&t, &cookie, "billing_summary", &[]).await;
    assert_eq!(
        (
            s["comped"].as_i64(),
            s["past_due"].clone(),
            s["mrr"].clone()
        ),
        (Some(1), json!([]), json!([])),
        "{s}"
    );
    assert!(t
        .audit_actions(&tenant.to_string())
        .await
        .contains(&"billing.comped".to_owned()));

    // And back: no longer free of charge.
    let (status, _) = sfn(
        &t,
        &cookie,
        "tenant_comp",
        &[("csrf", &csrf), ("slug", &slug), ("comped", "false")],
    )
    .await;
    assert!(status.is_success(), "{status}");
    let (_, b) = sfn(&t, &cookie, "tenant_billing", &[("slug", &slug)]).await;
    assert_eq!(b["comped"], false);
    let (status, missing) = sfn(&t, &cookie, "tenant_billing", &[("slug", "no-such-tenant")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    t.cleanup().await;
}
