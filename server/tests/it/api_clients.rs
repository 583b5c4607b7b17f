//! What an API client meets: retries made safe by `Idempotency-Key`, and tokens that can
//! be listed and revoked from the command line.

use crate::common::harness::{Options, Platform};
use reqwest::Method;
use serde_json::{json, Value};
use std::process::Command;

async fn send(
    p: &Platform,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (u16, Option<String>, Value) {
    let mut request = p.api(method, path);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let r = request.send().await.expect("send");
    let status = r.status().as_u16();
    let replayed = r
        .headers()
        .get("idempotent-replayed")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, replayed, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_request_with_the_same_idempotency_key_gets_the_first_answer() {
    let p = Platform::start(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    let plan = p.plan_key("basic");
    assert_eq!(
        p.post("/plans", json!({"key": plan, "name": "Basic"}))
            .await
            .0,
        201
    );
    let body = p.tenant_body("acme", &plan);

    // The first answer is lost on the way, say; the client sends the same request again.
    let (status, replayed, first) = send(
        &p,
        Method::POST,
        "/tenants",
        Some("create-acme-1"),
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 202, "{first}");
    assert_eq!(replayed, None);
    let (status, replayed, again) = send(
        &p,
        Method::POST,
        "/tenants",
        Some("create-acme-1"),
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 202, "{again}");
    assert_eq!(replayed.as_deref(), Some("true"));
    assert_eq!(again, first, "the very same answer, same job");
    // Without a key the same retry cannot tell its request worked.
    let (status, _, conflict) = send(&p, Method::POST, "/tenants", None, Some(body.clone())).await;
    assert_eq!(status, 409, "{conflict}");
    assert_eq!(conflict["error"]["code"], "slug_taken");
    let (_, jobs) = p.get("/jobs?kind=tenant.provision").await;
    assert_eq!(jobs["total"], 1, "one provisioning job: {jobs}");

    // The same key for another request is refused and does nothing.
    let (status, _, reused) = send(
        &p,
        Method::POST,
        "/tenants",
        Some("create-acme-1"),
        Some(p.tenant_body("other-shop", &plan)),
    )
    .await;
    assert_eq!(status, 422, "{reused}");
    assert_eq!(reused["error"]["code"], "idempotency_key_reused");
    assert_eq!(p.get("/tenants/other-shop").await.0, 404);

    // An answer that is not a success is not kept: the corrected request may use the key.
    let mut bad = p.tenant_body("beta", &plan);
    bad["owner_email"] = json!("not-an-email");
    let (status, _, invalid) =
        send(&p, Method::POST, "/tenants", Some("create-beta"), Some(bad)).await;
    assert_eq!(status, 422, "{invalid}");
    assert_eq!(invalid["error"]["code"], "email_invalid");
    let (status, replayed, created) = send(
        &p,
        Method::POST,
        "/tenants",
        Some("create-beta"),
        Some(p.tenant_body("beta", &plan)),
    )
    .await;
    assert_eq!(status, 202, "{created}");
    assert_eq!(replayed, None);

    // Keys of one client are not seen by another.
    let other = server::auth::create_token(&p.pool, "second client")
        .await
        .expect("token");
    let r = p
        .http
        .post(format!("{}/api/v1/tenants", p.base))
        .bearer_auth(secrecy::ExposeSecret::expose_secret(&other))
        .header("Idempotency-Key", "create-acme-1")
        .json(&p.tenant_body("gamma", &plan))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 202);
    assert!(r.headers().get("idempotent-replayed").is_none());

    // Malformed keys are refused before anything runs.
    for key in ["", "with space", &"k".repeat(256)] {
        let (status, _, answer) = send(
            &p,
            Method::POST,
            "/tenants",
            Some(key),
            Some(p.tenant_body("delta", &plan)),
        )
        .await;
        assert_eq!(status, 400, "{key:?}: {answer}");
        assert_eq!(answer["error"]["code"], "idempotency_key_invalid");
    }
    assert_eq!(p.get("/tenants/delta").await.0, 404);
    // So is a body too large to fingerprint (the API's bodies are small JSON documents).
    let r = p
        .api(Method::POST, "/tenants")
        .header("Idempotency-Key", "too-big")
        .header("content-type", "application/json")
        .body(vec![b' '; 1024 * 1024 + 1])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 413);
    let answer: Value = r.json().await.expect("json");
    assert_eq!(answer["error"]["code"], "body_too_large");

    // A request still running holds its key: a retry arriving meanwhile is told to wait.
    sqlx::query(
        "UPDATE api_idempotency SET status = NULL, body = NULL, locked_until = now() + interval '1 minute' \
         WHERE key = 'create-beta'",
    )
    .execute(&p.pool)
    .await
    .expect("simulate a running request");
    let r = p
        .api(Method::POST, "/tenants")
        .header("Idempotency-Key", "create-beta")
        .json(&p.tenant_body("beta", &plan))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 409);
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let answer: Value = r.json().await.expect("json");
    assert_eq!(answer["error"]["code"], "idempotency_key_in_use");

    // The OpenAPI document tells clients about the header.
    let (_, doc) = p.get("/openapi.json").await;
    let params = doc["paths"]["/tenants"]["post"]["parameters"].to_string();
    assert!(params.contains("Idempotency-Key"), "{params}");
    p.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivation_retried_with_its_key_is_not_refused_as_illegal() {
    let p = Platform::start(Options::default()).await;
    let plan = p.plan_with_template("basic", &["point_of_sale"], 1).await;
    let plan = plan["key"].as_str().expect("key").to_owned();
    let (status, t) = p.post("/tenants", p.tenant_body("shop", &plan)).await;
    assert_eq!(status, 202, "{t}");
    p.wait_tenant("shop", "active", std::time::Duration::from_secs(60))
        .await;

    let (status, replayed, first) = send(
        &p,
        Method::POST,
        "/tenants/shop/deactivate",
        Some("off-1"),
        None,
    )
    .await;
    assert_eq!(status, 202, "{first}");
    assert_eq!(replayed, None);
    let (status, replayed, again) = send(
        &p,
        Method::POST,
        "/tenants/shop/deactivate",
        Some("off-1"),
        None,
    )
    .await;
    assert_eq!(status, 202, "{again}");
    assert_eq!(replayed.as_deref(), Some("true"));
    assert_eq!(again["job_id"], first["job_id"]);
    let (status, _, illegal) = send(&p, Method::POST, "/tenants/shop/deactivate", None, None).await;
    assert_eq!(status, 409, "{illegal}");
    p.wait_tenant("shop", "suspended", std::time::Duration::from_secs(60))
        .await;
    let actions = p.audit_actions("shop").await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "tenant.deactivate_requested")
            .count(),
        1,
        "{actions:?}"
    );
    p.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_refused_and_listed_as_revoked() {
    let p = Platform::start(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    let server = env!("CARGO_BIN_EXE_server");
    let run = |args: &[&str]| {
        Command::new(server)
            .args(args)
            .env("DATABASE_URL", &p.db.url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run server")
    };
    let created = run(&["create-api-token", "billing robot"]);
    assert!(created.status.success());
    let token = String::from_utf8_lossy(&created.stdout).trim().to_owned();
    assert!(token.starts_with("saas_"), "{token}");
    let call = || {
        p.http
            .get(format!("{}/api/v1/plans", p.base))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(call().await.expect("send").status(), 200);

    let listed = run(&["list-api-tokens"]);
    assert!(listed.status.success());
    let listing = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(listing.contains("billing robot"), "{listing}");
    assert!(!listing.contains(&token), "the secret is never shown again");

    let revoked = run(&["revoke-api-token", "billing robot"]);
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    let r = call().await.expect("send");
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unauthorized");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("revoked")));
    // The other token still works.
    assert_eq!(p.get("/plans").await.0, 200);

    let listing = String::from_utf8_lossy(&run(&["list-api-tokens"]).stdout).to_string();
    let line = listing
        .lines()
        .find(|l| l.starts_with("billing robot"))
        .expect("listed")
        .to_owned();
    assert!(!line.trim_end().ends_with('-'), "a revoked date: {line}");

    // Revoking again, or a name that does not exist, says so and fails.
    let again = run(&["revoke-api-token", "billing robot"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("no live token named"));
    let audit: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'api_token.revoked' AND actor = 'cli'",
    )
    .fetch_one(&p.pool)
    .await
    .expect("audit");
    assert_eq!(audit, 1);
    p.cleanup().await;
}

/// Issue 13, item 7: the idempotency layer ran before authentication. A revoked token was
/// still replayed the answers stored under it, and a stranger's body was read (up to
/// 1 MiB) before the handler refused it. Now the token is checked first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_serve_only_authenticated_clients() {
    let p = Platform::start(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    let robot = server::auth::create_token(&p.pool, "billing robot")
        .await
        .expect("token");
    let robot = secrecy::ExposeSecret::expose_secret(&robot).to_owned();
    let plan = p.plan_key("robot");
    let create = || {
        p.http
            .post(format!("{}/api/v1/plans", p.base))
            .bearer_auth(&robot)
            .header("Idempotency-Key", "robot-plan")
            .json(&json!({"key": plan, "name": "Robot"}))
            .send()
    };
    let first = create().await.expect("send");
    assert_eq!(first.status(), 201);
    let again = create().await.expect("send");
    assert_eq!(again.status(), 201);
    assert!(again.headers().get("idempotent-replayed").is_some());

    // Revoked: the stored answer is not replayed to it any more.
    server::auth::revoke_token(&p.pool, "billing robot")
        .await
        .expect("revoke");
    let refused = create().await.expect("send");
    assert_eq!(refused.status(), 401);
    assert!(refused.headers().get("idempotent-replayed").is_none());
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");

    // A stranger's request is refused for its token before its body is read; nothing is
    // kept. Over a raw socket the request announces a body just over 1 MiB and sends only
    // its first bytes: the 401 can only come back if the server never waits for the rest.
    // (Sending the whole body raced the server's early close: the client's write could fail
    // with the answer already on its way.)
    let addr = p
        .base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    for token in ["saas_not-a-token", robot.as_str()] {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut socket = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        let head = format!(
            "POST /api/v1/tenants HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Idempotency-Key: stranger\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{{\"slug\": ",
            1024 * 1024 + 1
        );
        socket.write_all(head.as_bytes()).await.expect("write");
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tokio::time::timeout(std::time::Duration::from_secs(10), socket.read(&mut buf))
                .await
                .expect("the server answers without the rest of the body")
                .expect("read");
            assert!(n > 0, "connection closed without an answer");
            answer.extend_from_slice(&buf[..n]);
        }
        let status_line = String::from_utf8_lossy(&answer);
        assert!(
            status_line.starts_with("HTTP/1.1 401"),
            "{token}: {}",
            status_line.lines().next().unwrap_or_default()
        );
    }
    let kept: i64 =
        sqlx::query_scalar("SELECT count(*) FROM api_idempotency WHERE key = 'stranger'")
            .fetch_one(&p.pool)
            .await
            .expect("count");
    assert_eq!(kept, 0);
    p.cleanup().await;
}

/// Issue 13, item 7: a request that outlived its key's lease, taken over by a retry, used
/// to store its answer over the retry's claim (or delete it), so a third try ran or was
/// answered while the retry still held the key. Now the key is fenced by its holder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_key_was_taken_over_leaves_it_to_the_new_holder() {
    let p = Platform::start(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    let plan = p.plan_key("slow");
    let body = json!({"key": plan, "name": "Slow"});
    // The first request is held inside its handler by a lock on the plans table.
    let mut lock = p.pool.begin().await.expect("begin");
    sqlx::query("LOCK TABLE plans IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .expect("lock");
    let first = {
        let request = p
            .api(Method::POST, "/plans")
            .header("Idempotency-Key", "slow-plan")
            .json(&body);
        tokio::spawn(async move { request.send().await.expect("send").status().as_u16() })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sqlx::query_scalar::<_, i64>(
        "SELECT count(*) FROM api_idempotency WHERE key = 'slow-plan'",
    )
    .fetch_one(&p.pool)
    .await
    .expect("claimed")
        == 0
    {
        assert!(std::time::Instant::now() < deadline, "never claimed");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Its lease ran out and a retry took the key over (it runs still).
    sqlx::query(
        "UPDATE api_idempotency SET locked_until = now() + interval '1 hour', \
         holder = gen_random_uuid() WHERE key = 'slow-plan'",
    )
    .execute(&p.pool)
    .await
    .expect("take over");
    lock.commit().await.expect("unlock");
    assert_eq!(first.await.expect("first"), 201);

    // The key is still the retry's: a third try waits instead of getting the first answer.
    let (status, replayed, answer) =
        send(&p, Method::POST, "/plans", Some("slow-plan"), Some(body)).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(replayed, None);
    assert_eq!(answer["error"]["code"], "idempotency_key_in_use");
    let stored: Option<i16> =
        sqlx::query_scalar("SELECT status FROM api_idempotency WHERE key = 'slow-plan'")
            .fetch_one(&p.pool)
            .await
            .expect("row");
    assert_eq!(stored, None, "the retry's claim was overwritten");
    p.cleanup().await;
}
