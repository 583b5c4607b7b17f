//! A tenant's custom domains in the operations portal, over HTTP against real PostgreSQL and
//! odoo-sim: add one and see the CNAME to create, its state and why its DNS check failed
//! (a real resolver asking a name server that does not answer), bad input refused with the
//! field named, and removal only with the domain typed again.

use crate::common::billing::eventually;
use crate::common::harness::{Options, Platform};
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

/// The superadmin signed in: session cookie and CSRF token.
async fn superadmin(t: &Platform) -> (String, String) {
    let (email, password) = ("ops@example.com", "a long enough passphrase");
    server::admin::auth::create_superadmin(&t.pool, email, password, false)
        .await
        .expect("superadmin");
    let response = t
        .http
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
    let me: Value = t
        .http
        .post(format!("{}/sfn/admin/me", t.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    (cookie, me["csrf"].as_str().expect("csrf").to_owned())
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_adds_a_domain_shows_its_cname_state_and_failure_and_removes_it_after_confirmation(
) {
    // A name server that does not answer (a port nobody listens on): every check fails, and
    // after the (short) verification period the domain is `failed` with the reason.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free port");
    let t = Platform::start(Options {
        env: vec![
            ("CUSTOM_DOMAIN_NAMESERVERS".into(), silent.to_string()),
            ("CUSTOM_DOMAIN_CHECK_SECONDS".into(), "1".into()),
            ("CUSTOM_DOMAIN_VERIFY_TIMEOUT_SECONDS".into(), "2".into()),
        ],
        ..Options::default()
    })
    .await;
    let plan = t.plan_with_template("shop", &[], 1).await;
    let plan = plan["key"].as_str().expect("key").to_owned();
    let slug = format!("dom-{}", t.id);
    let (status, accepted) = t.post("/tenants", t.tenant_body(&slug, &plan)).await;
    assert_eq!(status, 202, "{accepted}");
    let tenant = accepted["tenant"]["id"].as_str().expect("id").to_owned();
    t.wait_tenant(&tenant, "active", Duration::from_secs(60))
        .await;
    let (cookie, csrf) = superadmin(&t).await;
    let op = |op: &'static str, domain: &'static str, confirm: Option<&'static str>| {
        let mut form = vec![
            ("csrf", csrf.clone()),
            ("slug", slug.clone()),
            ("op", op.to_owned()),
            ("domain", domain.to_owned()),
        ];
        if let Some(c) = confirm {
            form.push(("confirm", c.to_owned()));
        }
        let request = t
            .http
            .post(format!("{}/sfn/admin/domain_op", t.base))
            .header(COOKIE, &cookie)
            .form(&form);
        async move {
            let response = request.send().await.expect("domain op");
            let status = response.status();
            (status, response.json::<Value>().await.unwrap_or_default())
        }
    };

    // None yet; the page offers to add one.
    let (status, list) = sfn(&t, &cookie, "tenant_domains", &[("slug", &slug)]).await;
    assert_eq!(
        (status, list.clone()),
        (StatusCode::OK, serde_json::json!([]))
    );
    let html = page(&t, &cookie, &format!("/admin/tenants/{slug}")).await;
    assert!(html.contains("Custom domains") && html.contains("No custom domain."));

    // Bad input: the field is named, nothing is added.
    for (domain, field) in [
        ("https://shop.customer.test/", "domain"),
        ("shop.saas.test", "domain"),
    ] {
        let (status, body) = op("add", domain, None).await;
        assert_eq!(
            (status, body["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{domain}: {body}"
        );
    }
    let (status, body) = op("explode", "shop.customer.test", None).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("op")),
        "{body}"
    );
    let forged = t
        .http
        .post(format!("{}/sfn/admin/domain_op", t.base))
        .header(COOKIE, &cookie)
        .form(&[
            ("csrf", "forged"),
            ("slug", &slug),
            ("op", "add"),
            ("domain", "shop.customer.test"),
        ])
        .send()
        .await
        .expect("forged");
    assert!(forged.status().is_client_error(), "{}", forged.status());
    let (_, list) = sfn(&t, &cookie, "tenant_domains", &[("slug", &slug)]).await;
    assert_eq!(list, serde_json::json!([]), "nothing was added");

    // Added: the CNAME the owner must create, pending; twice is a conflict.
    let (status, body) = op("add", " Shop.Customer.TEST ", None).await;
    assert!(status.is_success(), "{status} {body}");
    let (_, list) = sfn(&t, &cookie, "tenant_domains", &[("slug", &slug)]).await;
    let d = &list[0];
    assert_eq!(d["domain"], "shop.customer.test", "{list}");
    assert_eq!(
        d["records"][0],
        serde_json::json!(["CNAME", "shop.customer.test", format!("{slug}.saas.test")]),
        "{list}"
    );
    assert!(
        matches!(d["state"].as_str(), Some("pending" | "failed")),
        "{d}"
    );
    let (status, body) = op("add", "shop.customer.test", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let html = page(&t, &cookie, &format!("/admin/tenants/{slug}")).await;
    assert!(html.contains("shop.customer.test"));
    assert!(
        html.contains(&format!("{slug}.saas.test")),
        "the CNAME's target is shown"
    );

    // The check fails: the state and the reason are on the page, with "Check again".
    let failed = eventually("the domain to fail", 30, || async {
        let (_, list) = sfn(&t, &cookie, "tenant_domains", &[("slug", &slug)]).await;
        (list[0]["state"] == "failed").then(|| list[0].clone())
    })
    .await;
    let reason = failed["last_result"].as_str().expect("a reason").to_owned();
    assert!(
        reason.starts_with(&format!(
            "No CNAME from shop.customer.test to {slug}.saas.test was seen"
        )) && reason.contains("the DNS lookup failed"),
        "{reason}"
    );
    let html = page(&t, &cookie, &format!("/admin/tenants/{slug}")).await;
    assert!(html.contains("data-state=\"failed\""));
    assert!(html.contains("No CNAME from shop.customer.test"));
    assert!(html.contains("Check again"));

    // Removal needs the name typed again; then it is gone, and audited.
    let (status, body) = op("remove", "shop.customer.test", Some("shop.customer")).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("confirm")),
        "{body}"
    );
    let (status, body) = op("remove", "shop.customer.test", None).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("confirm")),
        "{body}"
    );
    let (_, list) = sfn(&t, &cookie, "tenant_domains", &[("slug", &slug)]).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "still there");
    let (status, body) = op("remove", "shop.customer.test", Some("shop.customer.test")).await;
    assert!(status.is_success(), "{status} {body}");
    let (_, list) = sfn(&t, &cookie, "tenant_domains", &[("slug", &slug)]).await;
    assert_eq!(list, serde_json::json!([]));
    let actions = t.audit_actions(&tenant).await;
    for action in ["domain.added", "domain.failed", "domain.removed"] {
        assert!(
            actions.contains(&action.to_owned()),
            "{action}: {actions:?}"
        );
    }
    t.cleanup().await;
}
