//! Tenant owners through `/api/v1/owner`, against real PostgreSQL, odoo-sim and a real
//! SMTP server (maildev): sign-up with the verification link read from the inbox, sign-in
//! with the session cookie and its CSRF token, password reset, password and email change,
//! sign-out everywhere; self-service tenants and the owner's actions on them; and one owner
//! never reaching another's tenants, whatever route or id.

use crate::common;

use crate::common::harness::{Options, Platform};
use crate::common::maildev::Maildev;
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PASSWORD: &str = "a quiet harbour at dawn";

async fn platform(smtp: &Maildev) -> Platform {
    let mut env = smtp.env();
    env.push(("MAIL_MAX_ATTEMPTS".into(), "20".into()));
    // Custom domains' DNS checks ask a port where nothing answers: no query leaves the
    // machine, and a domain stays pending.
    env.push((
        "CUSTOM_DOMAIN_NAMESERVERS".into(),
        format!("127.0.0.1:{}", common::maildev::free_port()),
    ));
    Platform::start(Options {
        env,
        ..Options::default()
    })
    .await
}

/// An owner's HTTP session: the cookie and its CSRF token, or an owner API token.
#[derive(Clone, Default)]
struct Owner {
    cookie: Option<String>,
    csrf: Option<String>,
    token: Option<String>,
}

/// Calls `/api/v1{path}` as `who` (nobody when `None`).
async fn call(
    p: &Platform,
    who: Option<&Owner>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut r = p.http.request(method, format!("{}/api/v1{path}", p.base));
    if let Some(o) = who {
        if let Some(c) = &o.cookie {
            r = r.header(COOKIE, c);
        }
        if let Some(c) = &o.csrf {
            r = r.header("x-csrf-token", c);
        }
        if let Some(t) = &o.token {
            r = r.bearer_auth(t);
        }
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let response = r.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let value = response.json().await.unwrap_or(Value::Null);
    (status, value, headers)
}

/// The `?token=` of the link in a message's text.
fn link_token(message: &Value) -> String {
    let text = message["text"].as_str().unwrap_or_default();
    let at = text.find("token=").expect("a link with a token") + "token=".len();
    text[at..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect()
}

async fn sign_in(p: &Platform, email: &str, password: &str) -> Owner {
    let (status, body, headers) = call(
        p,
        None,
        Method::POST,
        "/owner/session",
        Some(json!({"email": email, "password": password})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let cookie = headers
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    Owner {
        cookie: Some(cookie.split(';').next().unwrap_or_default().to_owned()),
        csrf: body["csrf_token"].as_str().map(str::to_owned),
        token: None,
    }
}

/// Signs up `email`, follows the verification link from the inbox and signs in.
async fn verified_owner(p: &Platform, smtp: &Maildev, email: &str) -> Owner {
    let (status, body, _) = call(
        p,
        None,
        Method::POST,
        "/owner/signup",
        Some(json!({"name": "Nora Owner", "email": email, "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let mail = smtp.wait_for(email, "Confirm your email address").await;
    let (status, body, _) = call(
        p,
        None,
        Method::POST,
        "/owner/verify",
        Some(json!({"token": link_token(&mail)})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    sign_in(p, email, PASSWORD).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_owner_signs_up_confirms_the_address_from_the_inbox_and_signs_in() {
    let smtp = Maildev::start().await;
    let p = platform(&smtp).await;
    let email = "ann@owners.example.com";

    // Weak and huge passwords are refused with the reason, and nothing is sent.
    for (password, code) in [("short", "password_weak"), ("password123", "password_weak")] {
        let (status, body, _) = call(
            &p,
            None,
            Method::POST,
            "/owner/signup",
            Some(json!({"name": "Ann", "email": email, "password": password})),
        )
        .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["code"], code);
    }
    let huge = "x".repeat(129);
    let (status, body, _) = call(
        &p,
        None,
        Method::POST,
        "/owner/signup",
        Some(json!({"name": "Ann", "email": email, "password": huge})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("password_too_long"))
    );

    let (status, first, _) = call(
        &p,
        None,
        Method::POST,
        "/owner/signup",
        Some(json!({"name": "Ann Lee", "email": email, "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 202, "{first}");
    let mail = smtp.wait_for(email, "Confirm your email address").await;
    let token = link_token(&mail);
    assert_eq!(token.len(), 64, "{mail}");

    // Signed in but unconfirmed: the account works, a tenant cannot be made yet.
    let ann = sign_in(&p, email, PASSWORD).await;
    let (status, me, _) = call(&p, Some(&ann), Method::GET, "/owner/me", None).await;
    assert_eq!(status, 200);
    assert!(me["email_verified_at"].is_null(), "{me}");
    let (status, body, _) = call(
        &p,
        Some(&ann),
        Method::POST,
        "/owner/tenants",
        Some(json!({"plan": "any", "slug": "annco", "company_name": "Ann Co", "odoo_password": "odoo pass 123"})),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "email_unverified");

    // A forged link, then the real one, then the real one again.
    let (status, body, _) = call(
        &p,
        None,
        Method::POST,
        "/owner/verify",
        Some(json!({"token": "0".repeat(64)})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("link_invalid"))
    );
    let (status, body, _) = call(
        &p,
        None,
        Method::POST,
        "/owner/verify",
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["email"], email);
    let (status, body, _) = call(
        &p,
        None,
        Method::POST,
        "/owner/verify",
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("link_used"))
    );
    let (_, me, _) = call(&p, Some(&ann), Method::GET, "/owner/me", None).await;
    assert!(me["email_verified_at"].is_string(), "{me}");

    // The same sign-up again: the same answer, and the address's owner is told by mail.
    let (status, again, _) = call(
        &p,
        None,
        Method::POST,
        "/owner/signup",
        Some(
            json!({"name": "Someone Else", "email": email, "password": "another fine passphrase"}),
        ),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(
        again, first,
        "a taken address answers exactly like a new one"
    );
    smtp.wait_for(email, "You already have").await;
    // ...and the password did not change.
    sign_in(&p, email, PASSWORD).await;

    // Wrong password and unknown address: one answer.
    for (who, password) in [
        (email, "not the password at all"),
        ("nobody@owners.example.com", PASSWORD),
    ] {
        let (status, body, _) = call(
            &p,
            None,
            Method::POST,
            "/owner/session",
            Some(json!({"email": who, "password": password})),
        )
        .await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"]["code"], "wrong_credentials");
    }

    // A change with the cookie but without the session's CSRF token is refused.
    let no_csrf = Owner {
        csrf: None,
        ..ann.clone()
    };
    let (status, body, _) = call(
        &p,
        Some(&no_csrf),
        Method::POST,
        "/owner/tokens",
        Some(json!({"name": "ci"})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "csrf_mismatch");
    // A sign-in posted from another site is refused.
    let r = p
        .http
        .post(format!("{}/api/v1/owner/session", p.base))
        .header("origin", "https://evil.example.net")
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 403);

    // Sign-out ends the session.
    let (status, _, headers) = call(&p, Some(&ann), Method::DELETE, "/owner/session", None).await;
    assert_eq!(status, 204);
    assert!(headers
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.contains("Max-Age=0")));
    let (status, _, _) = call(&p, Some(&ann), Method::GET, "/owner/me", None).await;
    assert_eq!(status, 401);

    // The sign-up's messages hold one-time links: the Outbox never shows their bodies.
    let sensitive: bool = sqlx::query_scalar(
        "SELECT bool_and(sensitive) FROM outbox WHERE template = 'verify_email'",
    )
    .fetch_one(&p.pool)
    .await
    .expect("outbox");
    assert!(sensitive);
    p.cleanup().await;
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_password_reset_link_works_once_for_an_hour_and_ends_every_session() {
    let smtp = Maildev::start().await;
    let p = platform(&smtp).await;
    let email = "ben@owners.example.com";
    let ben = verified_owner(&p, &smtp, email).await;

    // Any address gets the same answer.
    let (status, known, _) = call(
        &p,
        None,
        Method::POST,
        "/owner/password/forgot",
        Some(json!({"email": email})),
    )
    .await;
    assert_eq!(status, 202);
    let (status, unknown, _) = call(
        &p,
        None,
        Method::POST,
        "/owner/password/forgot",
        Some(json!({"email": "ghost@owners.example.com"})),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(
        known["message"].as_str().map(|m| m.replace(email, "X")),
        unknown["message"]
            .as_str()
            .map(|m| m.replace("ghost@owners.example.com", "X"))
    );
    let mail = smtp.wait_for(email, "Reset your").await;
    let token = link_token(&mail);
    assert!(
        mail["text"].as_str().unwrap_or_default().contains("1 hour"),
        "{mail}"
    );

    // A weak new password is refused and the link still works.
    let (status, body, _) = call(
        &p,
        None,
        Method::POST,
        "/owner/password/reset",
        Some(json!({"token": token, "password": "short"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("password_weak"))
    );
    let new_password = "a brand new passphrase";
    let (status, body, _) = call(
        &p,
        None,
        Method::POST,
        "/owner/password/reset",
        Some(json!({"token": token, "password": new_password})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // The session from before the reset has ended; the link is spent.
    let (status, _, _) = call(&p, Some(&ben), Method::GET, "/owner/me", None).await;
    assert_eq!(status, 401);
    let (status, body, _) = call(
        &p,
        None,
        Method::POST,
        "/owner/password/reset",
        Some(json!({"token": token, "password": "yet another passphrase"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("link_used"))
    );
    let (status, _, _) = call(
        &p,
        None,
        Method::POST,
        "/owner/session",
        Some(json!({"email": email, "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 401, "the old password no longer works");
    sign_in(&p, email, new_password).await;

    // A link older than an hour has expired.
    sqlx::query("DELETE FROM outbox WHERE template = 'password_reset'")
        .execute(&p.pool)
        .await
        .expect("forget the message gap");
    let (status, _, _) = call(
        &p,
        None,
        Method::POST,
        "/owner/password/forgot",
        Some(json!({"email": email})),
    )
    .await;
    assert_eq!(status, 202);
    let deadline = Instant::now() + Duration::from_secs(30);
    let second = loop {
        let all = smtp.emails_to(email).await;
        let resets: Vec<&Value> = all
            .iter()
            .filter(|m| m["subject"].as_str().unwrap_or("").contains("Reset your"))
            .collect();
        if resets.len() == 2 {
            break link_token(resets[1]);
        }
        assert!(Instant::now() < deadline, "no second reset message");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    sqlx::query("UPDATE owner_links SET expires_at = now() - interval '1 minute' WHERE purpose = 'reset_password' AND used_at IS NULL")
        .execute(&p.pool)
        .await
        .expect("expire the link");
    let (status, body, _) = call(
        &p,
        None,
        Method::POST,
        "/owner/password/reset",
        Some(json!({"token": second, "password": "one more passphrase"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("link_expired")),
        "{body}"
    );
    p.cleanup().await;
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_owner_changes_password_and_address_and_signs_out_everywhere() {
    let smtp = Maildev::start().await;
    let p = platform(&smtp).await;
    let email = "cleo@owners.example.com";
    let laptop = verified_owner(&p, &smtp, email).await;
    let phone = sign_in(&p, email, PASSWORD).await;

    let (status, body, _) = call(
        &p,
        Some(&laptop),
        Method::POST,
        "/owner/password",
        Some(
            json!({"current_password": "not my password", "new_password": "a changed passphrase"}),
        ),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("password_wrong"))
    );
    let (status, body, _) = call(
        &p,
        Some(&laptop),
        Method::POST,
        "/owner/password",
        Some(json!({"current_password": PASSWORD, "new_password": "a changed passphrase"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // This session goes on; the other one ended.
    assert_eq!(
        call(&p, Some(&laptop), Method::GET, "/owner/me", None)
            .await
            .0,
        200
    );
    assert_eq!(
        call(&p, Some(&phone), Method::GET, "/owner/me", None)
            .await
            .0,
        401
    );

    // A new address: nothing changes until the link sent there is followed.
    let new_email = "cleo.new@owners.example.com";
    let (status, body, _) = call(
        &p,
        Some(&laptop),
        Method::POST,
        "/owner/email",
        Some(json!({"current_password": "a changed passphrase", "new_email": new_email})),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let (_, me, _) = call(&p, Some(&laptop), Method::GET, "/owner/me", None).await;
    assert_eq!(me["email"], email);
    let mail = smtp
        .wait_for(new_email, "Confirm your new email address")
        .await;
    let (status, body, _) = call(
        &p,
        None,
        Method::POST,
        "/owner/email/confirm",
        Some(json!({"token": link_token(&mail)})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["email"], new_email);
    smtp.wait_for(email, "email address was changed").await;
    let (_, me, _) = call(&p, Some(&laptop), Method::GET, "/owner/me", None).await;
    assert_eq!(me["email"], new_email);
    let tablet = sign_in(&p, new_email, "a changed passphrase").await;

    // Sign out everywhere: every session ends, this one too.
    let (status, body, _) =
        call(&p, Some(&tablet), Method::POST, "/owner/sessions/end", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ended"], 2);
    assert_eq!(
        call(&p, Some(&laptop), Method::GET, "/owner/me", None)
            .await
            .0,
        401
    );
    assert_eq!(
        call(&p, Some(&tablet), Method::GET, "/owner/me", None)
            .await
            .0,
        401
    );
    p.cleanup().await;
    smtp.stop().await;
}

/// Waits for an owner's job (through the owner API) to finish; returns it.
async fn wait_owner_job(p: &Platform, who: &Owner, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen_progress = false;
    loop {
        let (status, job, _) = call(
            p,
            Some(who),
            Method::GET,
            &format!("/owner/jobs/{id}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{job}");
        seen_progress |= job["progress_total"].as_i64().unwrap_or(0) > 0;
        match job["state"].as_str() {
            Some("succeeded") => {
                assert!(
                    seen_progress || job["progress_total"].as_i64() > Some(0),
                    "{job}"
                );
                return job;
            }
            Some("dead" | "cancelled") => panic!("owner job ended badly: {job}"),
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "owner job not done in time: {job}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the owner sees their tenant in `state` with nothing pending.
async fn wait_owner_tenant(p: &Platform, who: &Owner, id: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (status, t, _) = call(
            p,
            Some(who),
            Method::GET,
            &format!("/owner/tenants/{id}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{t}");
        if t["state"] == state && t["pending_op"].is_null() {
            return t;
        }
        assert_ne!(t["state"], "failed", "{t}");
        assert!(Instant::now() < deadline, "tenant not {state} in time: {t}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn owners_run_their_own_tenants_and_never_reach_anothers() {
    let smtp = Maildev::start().await;
    let p = platform(&smtp).await;
    let plan = p.plan_with_template("free", &[], 3).await;
    let key = plan["key"].as_str().expect("key").to_owned();
    let ann = verified_owner(&p, &smtp, "ann@iso.example.com").await;
    let bob_email = "bob@iso.example.com";
    let bob = verified_owner(&p, &smtp, bob_email).await;

    // The plans on offer and the subdomain check are public.
    let (status, offers, _) = call(&p, None, Method::GET, "/owner/plans", None).await;
    assert_eq!(status, 200);
    assert!(
        offers
            .as_array()
            .expect("plans")
            .iter()
            .any(|o| o["key"] == key && o["self_service"] == true),
        "{offers}"
    );
    let slug = format!("bob{}", p.id);
    let (_, check, _) = call(&p, None, Method::GET, &format!("/owner/slugs/{slug}"), None).await;
    assert_eq!(check["available"], true, "{check}");
    let (_, check, _) = call(&p, None, Method::GET, "/owner/slugs/admin", None).await;
    assert_eq!(check["available"], false);
    assert!(
        check["message"]
            .as_str()
            .unwrap_or_default()
            .contains("reserved"),
        "{check}"
    );
    let (_, check, _) = call(&p, None, Method::GET, "/owner/slugs/Bad_Name-", None).await;
    assert_eq!(check["available"], false);

    // A paid plan while payments are not set up (no STRIPE_SECRET_KEY): a clear refusal,
    // no tenant, and the plan's sync says why instead of dying.
    let paid_key = p.plan_key("paid");
    let (status, paid) = p
        .post(
            "/plans",
            json!({"key": paid_key, "name": "Paid", "price_cents": 1500}),
        )
        .await;
    assert_eq!(status, 201, "{paid}");
    let (status, body, _) = call(
        &p,
        Some(&bob),
        Method::POST,
        "/owner/tenants",
        Some(json!({"plan": paid_key, "slug": format!("paid{}", p.id), "company_name": "Bob Ltd", "odoo_password": "bob's odoo secret"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("billing_not_configured")),
        "{body}"
    );
    let (_, check, _) = call(
        &p,
        None,
        Method::GET,
        &format!("/owner/slugs/paid{}", p.id),
        None,
    )
    .await;
    assert_eq!(check["available"], true, "nothing was made: {check}");
    let paid_id = paid["id"].as_str().expect("plan id").to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, plan) = p.get(&format!("/plans/{paid_id}")).await;
        if plan["stripe_sync_error"]
            .as_str()
            .is_some_and(|e| e.contains("STRIPE_SECRET_KEY is unset"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "the sync never said why: {plan}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let dead: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobs WHERE kind = 'billing.sync_plan' AND state IN ('dead', 'failed')",
    )
    .fetch_one(&p.pool)
    .await
    .expect("jobs");
    assert_eq!(dead, 0, "no dead sync job while Stripe is not configured");

    // Bob signs up a tenant; the same form sent twice makes one tenant.
    let form = json!({
        "plan": key, "slug": slug, "company_name": "Bob Ltd", "extra_companies": ["Bob Retail"],
        "odoo_password": "bob's odoo secret", "signup_key": "form-1",
    });
    let (status, first, headers) = call(
        &p,
        Some(&bob),
        Method::POST,
        "/owner/tenants",
        Some(form.clone()),
    )
    .await;
    assert_eq!(status, 202, "{first}");
    let job_id = first["job_id"].as_str().expect("job").to_owned();
    assert_eq!(
        headers.get("location").and_then(|v| v.to_str().ok()),
        Some(format!("/api/v1/owner/jobs/{job_id}").as_str())
    );
    let (status, second, _) =
        call(&p, Some(&bob), Method::POST, "/owner/tenants", Some(form)).await;
    assert_eq!(status, 202, "{second}");
    assert_eq!(second["tenant"]["id"], first["tenant"]["id"]);
    assert_eq!(second["job_id"], first["job_id"]);
    let id = first["tenant"]["id"].as_str().expect("id").to_owned();
    let (_, check, _) = call(&p, None, Method::GET, &format!("/owner/slugs/{slug}"), None).await;
    assert_eq!(check["available"], false, "taken now: {check}");
    // The name taken between the check and the submit: a clear conflict.
    let (status, body, _) = call(
        &p,
        Some(&ann),
        Method::POST,
        "/owner/tenants",
        Some(json!({"plan": key, "slug": slug, "company_name": "Ann Co", "odoo_password": "ann's odoo secret"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("slug_taken")),
        "{body}"
    );

    wait_owner_job(&p, &bob, &job_id).await;
    let tenant = wait_owner_tenant(&p, &bob, &id, "active").await;
    assert_eq!(tenant["owner_email"], bob_email);
    assert_eq!(tenant["extra_companies"], json!(["Bob Retail"]));
    let welcome = smtp.wait_for(bob_email, "is ready").await;
    assert!(
        welcome["text"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("https://{slug}.saas.test/pos/")),
        "{welcome}"
    );
    let db = tenant["db_name"].as_str().expect("db").to_owned();
    let odoo = p.odoo();
    assert!(odoo
        .login(&db, bob_email, "bob's odoo secret")
        .await
        .expect("login")
        .is_some());

    // Bob's token, and Ann's session and token, for the walk.
    let (status, made, _) = call(
        &p,
        Some(&bob),
        Method::POST,
        "/owner/tokens",
        Some(json!({"name": "bob-ci"})),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let bob_token = Owner {
        token: made["token"].as_str().map(str::to_owned),
        ..Owner::default()
    };
    let (status, made, _) = call(
        &p,
        Some(&ann),
        Method::POST,
        "/owner/tokens",
        Some(json!({"name": "ann-ci"})),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let ann_token = Owner {
        token: made["token"].as_str().map(str::to_owned),
        ..Owner::default()
    };
    let (status, _, _) = call(
        &p,
        Some(&bob_token),
        Method::GET,
        &format!("/owner/tenants/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "Bob's token reaches Bob's tenant");

    // Bob's custom domain (by his token), for the walk.
    let bob_domain = format!("shop.bob{}.example.org", p.id);
    let (status, added, _) = call(
        &p,
        Some(&bob_token),
        Method::POST,
        &format!("/owner/tenants/{id}/domains"),
        Some(json!({"domain": bob_domain})),
    )
    .await;
    assert_eq!(status, 201, "{added}");
    assert_eq!(added["state"], "pending", "{added}");

    // Ann, by session and by token, through every owner route with Bob's ids: 404, and
    // nothing changes.
    for who in [&ann, &ann_token] {
        let (status, list, _) = call(&p, Some(who), Method::GET, "/owner/tenants", None).await;
        assert_eq!(status, 200);
        assert_eq!(list, json!([]), "Ann sees none of Bob's tenants");
        for (method, path, body) in [
            (Method::GET, format!("/owner/tenants/{id}"), None),
            (Method::GET, format!("/owner/tenants/{slug}"), None),
            (Method::GET, format!("/owner/jobs/{job_id}"), None),
            (
                Method::POST,
                format!("/owner/tenants/{id}/admin-password"),
                Some(json!({"password": "ann was here 123"})),
            ),
            (
                Method::POST,
                format!("/owner/tenants/{id}/companies"),
                Some(json!({"companies": ["Ann Corp"]})),
            ),
            (
                Method::POST,
                format!("/owner/tenants/{id}/delete"),
                Some(json!({"confirm": slug})),
            ),
            (Method::DELETE, "/owner/tokens/bob-ci".to_owned(), None),
            (Method::GET, format!("/owner/tenants/{id}/domains"), None),
            (
                Method::POST,
                format!("/owner/tenants/{id}/domains"),
                Some(json!({"domain": format!("ann{}.example.org", p.id)})),
            ),
            (
                Method::GET,
                format!("/owner/tenants/{id}/domains/{bob_domain}"),
                None,
            ),
            (
                Method::POST,
                format!("/owner/tenants/{id}/domains/{bob_domain}/verify"),
                None,
            ),
            (
                Method::DELETE,
                format!("/owner/tenants/{id}/domains/{bob_domain}"),
                None,
            ),
            (Method::GET, format!("/owner/tenants/{id}/billing"), None),
            (
                Method::GET,
                format!("/owner/tenants/{id}/billing/invoices"),
                None,
            ),
            (
                Method::POST,
                format!("/owner/tenants/{id}/billing/preview"),
                Some(json!({"plan": key})),
            ),
            (
                Method::POST,
                format!("/owner/tenants/{id}/billing/change"),
                Some(json!({"plan": key})),
            ),
            (
                Method::POST,
                format!("/owner/tenants/{id}/billing/cancel"),
                None,
            ),
            (
                Method::POST,
                format!("/owner/tenants/{id}/billing/resume"),
                None,
            ),
            (
                Method::POST,
                format!("/owner/tenants/{id}/billing/card"),
                None,
            ),
            (
                Method::POST,
                format!("/owner/tenants/{id}/billing/checkout"),
                None,
            ),
            (
                Method::POST,
                format!("/owner/tenants/{id}/billing/return"),
                Some(json!({"session_id": "cs_test_not_yours"})),
            ),
        ] {
            let (status, body, _) = call(&p, Some(who), method.clone(), &path, body).await;
            assert_eq!(status, 404, "{method} {path}: {body}");
            assert_eq!(body["error"]["code"], "not_found", "{body}");
            assert!(
                !body.to_string().contains(&slug),
                "a 404 says nothing of the tenant: {body}"
            );
        }
    }
    // An owner token is not a superadmin token.
    let (status, _, _) = call(&p, Some(&ann_token), Method::GET, "/tenants", None).await;
    assert_eq!(status, 401);
    let (status, _, _) = call(&p, Some(&ann_token), Method::GET, "/owners", None).await;
    assert_eq!(status, 401);
    let (_, after, _) = call(
        &p,
        Some(&bob),
        Method::GET,
        &format!("/owner/tenants/{id}"),
        None,
    )
    .await;
    assert_eq!(
        (after["state"].as_str(), after["pending_op"].as_str()),
        (Some("active"), None)
    );
    let (_, tokens, _) = call(&p, Some(&bob), Method::GET, "/owner/tokens", None).await;
    assert_eq!(
        tokens.as_array().map(Vec::len),
        Some(1),
        "Bob's token survived: {tokens}"
    );
    let (status, domains, _) = call(
        &p,
        Some(&bob),
        Method::GET,
        &format!("/owner/tenants/{id}/domains"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{domains}");
    assert_eq!(
        domains
            .as_array()
            .map(|d| d.iter().map(|d| d["domain"].clone()).collect::<Vec<_>>()),
        Some(vec![json!(bob_domain)]),
        "Bob's domain survived, and Ann's was never added: {domains}"
    );
    let (status, d, _) = call(
        &p,
        Some(&bob),
        Method::GET,
        &format!("/owner/tenants/{id}/domains/{bob_domain}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{d}");
    let ann_domains: i64 =
        sqlx::query_scalar("SELECT count(*) FROM custom_domains WHERE domain LIKE 'ann%'")
            .fetch_one(&p.pool)
            .await
            .expect("count");
    assert_eq!(ann_domains, 0);

    // Bob sets the Odoo administrator's password he chose; Odoo takes it.
    let (status, body, _) = call(
        &p,
        Some(&bob),
        Method::POST,
        &format!("/owner/tenants/{id}/admin-password"),
        Some(json!({"password": "short"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("password_weak"))
    );
    let (status, accepted, _) = call(
        &p,
        Some(&bob),
        Method::POST,
        &format!("/owner/tenants/{id}/admin-password"),
        Some(json!({"password": "bob's new odoo secret"})),
    )
    .await;
    assert_eq!(status, 202, "{accepted}");
    wait_owner_job(&p, &bob, accepted["job_id"].as_str().expect("job")).await;
    wait_owner_tenant(&p, &bob, &id, "active").await;
    assert!(odoo
        .login(&db, bob_email, "bob's new odoo secret")
        .await
        .expect("login")
        .is_some());
    assert!(odoo
        .login(&db, bob_email, "bob's odoo secret")
        .await
        .expect("login")
        .is_none());
    let outbox: String =
        sqlx::query_scalar("SELECT string_agg(body_text, ' ') FROM outbox WHERE to_address = $1")
            .bind(bob_email)
            .fetch_one(&p.pool)
            .await
            .expect("outbox");
    assert!(
        !outbox.contains("bob's new odoo secret"),
        "the password is never emailed"
    );

    // Companies: within the plan's three.
    let (status, body, _) = call(
        &p,
        Some(&bob),
        Method::POST,
        &format!("/owner/tenants/{id}/companies"),
        Some(json!({"companies": ["Two", "Three"]})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("too_many_companies")),
        "{body}"
    );
    let (status, accepted, _) = call(
        &p,
        Some(&bob),
        Method::POST,
        &format!("/owner/tenants/{id}/companies"),
        Some(json!({"companies": ["Bob Online"]})),
    )
    .await;
    assert_eq!(status, 202, "{accepted}");
    wait_owner_job(&p, &bob, accepted["job_id"].as_str().expect("job")).await;
    let t = wait_owner_tenant(&p, &bob, &id, "active").await;
    assert_eq!(t["extra_companies"], json!(["Bob Retail", "Bob Online"]));
    assert!(
        odoo.login(&db, bob_email, "bob's new odoo secret")
            .await
            .expect("login")
            .is_some(),
        "the password survives the job"
    );

    // Delete: the typed name must match; then a final backup and the tenant is gone.
    let (status, body, _) = call(
        &p,
        Some(&bob),
        Method::POST,
        &format!("/owner/tenants/{id}/delete"),
        Some(json!({"confirm": "bob"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("confirmation_mismatch"))
    );
    let (status, accepted, _) = call(
        &p,
        Some(&bob),
        Method::POST,
        &format!("/owner/tenants/{id}/delete"),
        Some(json!({"confirm": slug})),
    )
    .await;
    assert_eq!(status, 202, "{accepted}");
    wait_owner_tenant(&p, &bob, &id, "deleted").await;
    let deleted = smtp.wait_for(bob_email, "has been deleted").await;
    assert!(
        deleted["text"]
            .as_str()
            .unwrap_or_default()
            .contains("A final backup"),
        "{deleted}"
    );

    // The superadmin sees both owners.
    let (status, owners) = p.get("/owners").await;
    assert_eq!(status, 200);
    let emails: Vec<&str> = owners
        .as_array()
        .expect("owners")
        .iter()
        .filter_map(|o| o["email"].as_str())
        .collect();
    assert!(
        emails.contains(&bob_email) && emails.contains(&"ann@iso.example.com"),
        "{owners}"
    );
    p.cleanup().await;
    smtp.stop().await;
}

/// Waits until the owner sees their custom domain in `state`; returns it.
async fn wait_owner_domain(
    p: &Platform,
    who: &Owner,
    id: &str,
    domain: &str,
    state: &str,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, d, _) = call(
            p,
            Some(who),
            Method::GET,
            &format!("/owner/tenants/{id}/domains/{domain}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{d}");
        if d["state"] == state {
            return d;
        }
        assert!(Instant::now() < deadline, "domain not {state} in time: {d}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The route table's routers now.
async fn routers(p: &Platform) -> Value {
    let table = p.services.routes.current().await.expect("route table");
    let doc: Value = serde_json::from_slice(&table.document).expect("json");
    doc["http"]["routers"].clone()
}

/// An owner's server function: status and JSON.
async fn owner_sfn(p: &Platform, who: &Owner, name: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let response = p
        .http
        .post(format!("{}/sfn/owner/{name}", p.base))
        .header(COOKIE, who.cookie.as_deref().unwrap_or_default())
        .form(form)
        .send()
        .await
        .expect("server function");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn owners_add_check_and_remove_the_custom_domains_of_their_tenants() {
    // DNS from pebble-challtestsrv: every name is 127.0.0.1 unless told otherwise, and the
    // ingress is another address, so only the CNAME verifies a domain.
    let smtp = Maildev::start().await;
    let dns = common::pebble::Pebble::start_dns_stub().await;
    let mut env = smtp.env();
    env.extend([
        ("MAIL_MAX_ATTEMPTS".to_owned(), "20".to_owned()),
        ("CUSTOM_DOMAIN_NAMESERVERS".to_owned(), dns.dns.to_string()),
        ("CUSTOM_DOMAIN_CHECK_SECONDS".to_owned(), "1".to_owned()),
        (
            "CUSTOM_DOMAIN_VERIFY_TIMEOUT_SECONDS".to_owned(),
            "3".to_owned(),
        ),
        ("INGRESS_IPS".to_owned(), "192.0.2.10".to_owned()),
    ]);
    let p = Platform::start(Options {
        env,
        ..Options::default()
    })
    .await;
    let plan = p.plan_with_template("free", &[], 1).await;
    let key = plan["key"].as_str().expect("key").to_owned();
    let dora = verified_owner(&p, &smtp, "dora@dom.example.com").await;
    let slug = format!("dora{}", p.id);
    let (status, accepted, _) = call(
        &p,
        Some(&dora),
        Method::POST,
        "/owner/tenants",
        Some(json!({"plan": key, "slug": slug, "company_name": "Dora Ltd", "odoo_password": "dora's odoo secret"})),
    )
    .await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["tenant"]["id"].as_str().expect("id").to_owned();
    wait_owner_tenant(&p, &dora, &id, "active").await;
    let domains = format!("/owner/tenants/{id}/domains");

    // A change by session needs the session's CSRF token.
    let no_csrf = Owner {
        cookie: dora.cookie.clone(),
        ..Owner::default()
    };
    let (status, body, _) = call(
        &p,
        Some(&no_csrf),
        Method::POST,
        &domains,
        Some(json!({"domain": "shop.dora.test"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("csrf_mismatch"))
    );
    // Bad names: a clear 422 naming the field.
    for (domain, code) in [
        ("https://shop.dora.test/", "domain_invalid"),
        ("shop", "domain_invalid"),
        (&format!("{slug}.saas.test") as &str, "domain_ours"),
    ] {
        let (status, body, _) = call(
            &p,
            Some(&dora),
            Method::POST,
            &domains,
            Some(json!({"domain": domain})),
        )
        .await;
        assert_eq!(status, 422, "{domain}: {body}");
        assert_eq!(body["error"]["code"], code, "{domain}: {body}");
        assert_eq!(body["error"]["field"], "domain");
    }

    // Added: the CNAME to create, pending; listed.
    let (status, d, headers) = call(
        &p,
        Some(&dora),
        Method::POST,
        &domains,
        Some(json!({"domain": " Shop.Dora.TEST "})),
    )
    .await;
    assert_eq!(status, 201, "{d}");
    assert_eq!(
        headers.get("location").and_then(|v| v.to_str().ok()),
        Some(format!("/api/v1/owner/tenants/{id}/domains/shop.dora.test").as_str())
    );
    assert_eq!(d["state"], "pending");
    assert_eq!(
        d["cname"],
        json!({"type": "CNAME", "name": "shop.dora.test", "value": format!("{slug}.saas.test")})
    );
    let (status, list, _) = call(&p, Some(&dora), Method::GET, &domains, None).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");

    // Without the record the check fails visibly, with what it found and when.
    let failed = wait_owner_domain(&p, &dora, &id, "shop.dora.test", "failed").await;
    assert!(failed["last_checked_at"].is_string(), "{failed}");
    let why = failed["last_result"].as_str().unwrap_or_default();
    assert!(
        why.contains("127.0.0.1"),
        "the reason names what DNS said: {failed}"
    );
    assert!(routers(&p)
        .await
        .as_object()
        .expect("routers")
        .keys()
        .all(|k| !k.starts_with("domain_")));

    // The owner creates the CNAME and checks again: verified, and routed.
    dns.dns(
        "/set-cname",
        json!({"host": "shop.dora.test.", "target": format!("{slug}.saas.test.")}),
    )
    .await;
    let (status, d, _) = call(
        &p,
        Some(&dora),
        Method::POST,
        &format!("{domains}/shop.dora.test/verify"),
        None,
    )
    .await;
    assert_eq!(status, 202, "{d}");
    assert!(
        d["state"] == "pending" || d["state"] == "verified",
        "a new round of checks: {d}"
    );
    let d = wait_owner_domain(&p, &dora, &id, "shop.dora.test", "verified").await;
    assert_eq!(
        d["last_result"],
        format!("CNAME shop.dora.test → {slug}.saas.test")
    );
    assert_eq!(
        routers(&p).await["domain_shop_dora_test"]["rule"],
        "Host(`shop.dora.test`)"
    );
    let (status, body, _) = call(
        &p,
        Some(&dora),
        Method::POST,
        &format!("{domains}/shop.dora.test/verify"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("domain_verified"))
    );

    // A domain another tenant has: a clear conflict, and nothing changes for either.
    let (status, other) = p.post("/tenants", p.tenant_body("other", &key)).await;
    assert_eq!(status, 202, "{other}");
    let other = other["tenant"]["id"].as_str().expect("id").to_owned();
    let (status, body) = p
        .post(
            &format!("/tenants/{other}/domains"),
            json!({"domain": "shop.other.test"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body, _) = call(
        &p,
        Some(&dora),
        Method::POST,
        &domains,
        Some(json!({"domain": "shop.other.test"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("domain_taken")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("one tenant only"),
        "{body}"
    );
    let (_, list, _) = call(&p, Some(&dora), Method::GET, &domains, None).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    // The same from the other side: Dora's domain is not the other tenant's to take.
    let (status, body) = p
        .post(
            &format!("/tenants/{other}/domains"),
            json!({"domain": "shop.dora.test"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("domain_taken"))
    );

    // The owner portal's tenant page shows the section with the domain's state and record.
    let html = p
        .http
        .get(format!("{}/my/tenants/{id}", p.base))
        .header(COOKIE, dora.cookie.as_deref().unwrap_or_default())
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(html.contains("Custom domains"), "{html}");
    assert!(html.contains(r#"data-domain="shop.dora.test""#), "{html}");
    assert!(
        html.contains(r#"data-state="verified""#) || html.contains(r#"data-state="active""#),
        "{html}"
    );
    assert!(
        html.contains(&format!("shop.dora.test  CNAME  {slug}.saas.test")),
        "the record to create: {html}"
    );

    // The portal adds a domain, and removes one only with its name typed.
    let csrf = dora.csrf.clone().unwrap_or_default();
    let (status, body) = owner_sfn(
        &p,
        &dora,
        "domain_op",
        &[
            ("csrf", &csrf),
            ("id", &id),
            ("op", "add"),
            ("domain", "www.dora.test"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = owner_sfn(
        &p,
        &dora,
        "domain_op",
        &[
            ("csrf", &csrf),
            ("id", &id),
            ("op", "remove"),
            ("domain", "www.dora.test"),
            ("confirm", "www.dora"),
        ],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "confirm", "{body}");
    let (_, list, _) = call(&p, Some(&dora), Method::GET, &domains, None).await;
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
    let (status, body) = owner_sfn(
        &p,
        &dora,
        "domain_op",
        &[
            ("csrf", &csrf),
            ("id", &id),
            ("op", "remove"),
            ("domain", "www.dora.test"),
            ("confirm", "www.dora.test"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Another tenant's id through the portal: no such tenant.
    let (status, _) = owner_sfn(
        &p,
        &dora,
        "domain_op",
        &[
            ("csrf", &csrf),
            ("id", &other),
            ("op", "add"),
            ("domain", "x.dora.test"),
        ],
    )
    .await;
    assert_eq!(status, 404);

    // Removed through the API: gone, and its route with it.
    let (status, _, _) = call(
        &p,
        Some(&dora),
        Method::DELETE,
        &format!("{domains}/shop.dora.test"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _, _) = call(
        &p,
        Some(&dora),
        Method::GET,
        &format!("{domains}/shop.dora.test"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (_, list, _) = call(&p, Some(&dora), Method::GET, &domains, None).await;
    assert_eq!(list, json!([]));
    assert!(routers(&p)
        .await
        .as_object()
        .expect("routers")
        .keys()
        .all(|k| !k.starts_with("domain_shop_dora")));
    let actions = p.audit_actions(&id).await;
    for action in ["domain.added", "domain.verify_requested", "domain.removed"] {
        assert!(
            actions.contains(&action.to_owned()),
            "{action}: {actions:?}"
        );
    }
    let actor: String = sqlx::query_scalar(
        "SELECT actor FROM audit_log WHERE action = 'domain.removed' AND tenant_id = $1::uuid LIMIT 1",
    )
    .bind(&id)
    .fetch_one(&p.pool)
    .await
    .expect("actor");
    assert!(actor.contains("dora@dom.example.com"), "{actor}");
    p.cleanup().await;
    dns.stop().await;
    smtp.stop().await;
}

/// The superadmin signed in on the test platform: session cookie and CSRF token.
async fn superadmin(p: &Platform) -> (String, String) {
    let (email, password) = ("ops@example.com", "a long enough passphrase");
    server::admin::auth::create_superadmin(&p.pool, email, password, false)
        .await
        .expect("superadmin");
    let response = p
        .http
        .post(format!("{}/sfn/auth/sign_in", p.base))
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
    let me: Value = p
        .http
        .post(format!("{}/sfn/admin/me", p.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    (cookie, me["csrf"].as_str().expect("csrf").to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_disabled_owner_is_shut_out_at_once_and_let_back_in_when_enabled() {
    let smtp = Maildev::start().await;
    let p = platform(&smtp).await;
    let email = "eve@off.example.com";
    let eve = verified_owner(&p, &smtp, email).await;
    let (status, made, _) = call(
        &p,
        Some(&eve),
        Method::POST,
        "/owner/tokens",
        Some(json!({"name": "eve-ci"})),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let token = Owner {
        token: made["token"].as_str().map(str::to_owned),
        ..Owner::default()
    };
    let (status, me, _) = call(&p, Some(&eve), Method::GET, "/owner/me", None).await;
    assert_eq!(status, 200);
    let owner_id = me["id"].as_str().expect("id").to_owned();
    assert!(me["disabled_at"].is_null());

    // Only a superadmin token disables an owner.
    let (status, _, _) = call(
        &p,
        Some(&token),
        Method::POST,
        &format!("/owners/{owner_id}/disable"),
        None,
    )
    .await;
    assert_eq!(status, 401);
    let (status, body) = p
        .post(
            &format!("/owners/{}/disable", uuid::Uuid::new_v4()),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );

    // Disabled through the API: the session, the token and a new sign-in all refused at once.
    let (status, body) = p
        .post(&format!("/owners/{owner_id}/disable"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["disabled_at"].is_string(), "{body}");
    for who in [&eve, &token] {
        let (status, body, _) = call(&p, Some(who), Method::GET, "/owner/me", None).await;
        assert_eq!(status, 401, "{body}");
        let (status, _, _) = call(&p, Some(who), Method::GET, "/owner/tenants", None).await;
        assert_eq!(status, 401);
    }
    let portal = p
        .http
        .get(format!("{}/my", p.base))
        .header(COOKIE, eve.cookie.as_deref().unwrap_or_default())
        .send()
        .await
        .expect("portal");
    assert!(
        portal.url().path().starts_with("/signin") || portal.status().is_redirection(),
        "the portal sends a disabled owner to sign in: {}",
        portal.status()
    );
    let (status, body, _) = call(
        &p,
        None,
        Method::POST,
        "/owner/session",
        Some(json!({"email": email, "password": PASSWORD})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("wrong_credentials")),
        "{body}"
    );
    let (status, owners) = p.get("/owners").await;
    assert_eq!(status, 200);
    let listed = owners
        .as_array()
        .and_then(|o| o.iter().find(|o| o["email"] == email))
        .cloned()
        .expect("listed");
    assert!(listed["disabled_at"].is_string(), "{listed}");

    // Enabled again from the operations portal: the token works again, the ended session
    // does not come back, and signing in works.
    let (admin, csrf) = superadmin(&p).await;
    let page = p
        .http
        .get(format!("{}/admin/owners", p.base))
        .header(COOKIE, &admin)
        .send()
        .await
        .expect("owners page")
        .text()
        .await
        .expect("html");
    assert!(page.contains(&format!("Enable {email}")), "{page}");
    let response = p
        .http
        .post(format!("{}/sfn/admin/owner_op", p.base))
        .header(COOKIE, &admin)
        .form(&[
            ("csrf", csrf.as_str()),
            ("id", owner_id.as_str()),
            ("op", "enable"),
        ])
        .send()
        .await
        .expect("enable");
    assert_eq!(response.status(), 200);
    let (status, _, _) = call(&p, Some(&token), Method::GET, "/owner/me", None).await;
    assert_eq!(status, 200, "the token works again");
    let (status, _, _) = call(&p, Some(&eve), Method::GET, "/owner/me", None).await;
    assert_eq!(status, 401, "the ended session stays ended");
    let again = sign_in(&p, email, PASSWORD).await;
    let (status, _, _) = call(&p, Some(&again), Method::GET, "/owner/me", None).await;
    assert_eq!(status, 200);

    // Disabled from the portal: the new session ends at once too.
    let response = p
        .http
        .post(format!("{}/sfn/admin/owner_op", p.base))
        .header(COOKIE, &admin)
        .form(&[
            ("csrf", csrf.as_str()),
            ("id", owner_id.as_str()),
            ("op", "disable"),
        ])
        .send()
        .await
        .expect("disable");
    assert_eq!(response.status(), 200);
    let (status, _, _) = call(&p, Some(&again), Method::GET, "/owner/me", None).await;
    assert_eq!(status, 401);
    // Without the session's CSRF token the portal changes nothing.
    let response = p
        .http
        .post(format!("{}/sfn/admin/owner_op", p.base))
        .header(COOKIE, &admin)
        .form(&[
            ("csrf", "forged"),
            ("id", owner_id.as_str()),
            ("op", "enable"),
        ])
        .send()
        .await
        .expect("forged");
    assert_eq!(response.status(), 403);
    let (status, _, _) = call(&p, Some(&token), Method::GET, "/owner/me", None).await;
    assert_eq!(status, 401, "still disabled");

    let actions: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, actor FROM audit_log WHERE action LIKE 'owner.%abled' ORDER BY id",
    )
    .fetch_all(&p.pool)
    .await
    .expect("audit");
    let names: Vec<&str> = actions.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(names, ["owner.disabled", "owner.enabled", "owner.disabled"]);
    assert!(actions[1].1.contains("ops@example.com"), "{actions:?}");
    p.cleanup().await;
    smtp.stop().await;
}
