//! Every host through the real Traefik: the route table from the live tenants table, the
//! portals, tenants' Odoo (odoo-sim, database by host), the POS on the tenant host, the
//! paused and 404 pages, and Traefik's behaviour while the server restarts.

use crate::common;

use crate::common::harness::{Options, Platform};
use crate::common::traefik::{wait_for, Traefik};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The harness's platform with odoo-sim picking databases by host (as the public Odoo
/// does), and a POS build whose index names itself.
async fn platform() -> (Platform, std::path::PathBuf) {
    let pos_dir = common::traefik::run_dir("pos");
    std::fs::write(
        pos_dir.join("index.html"),
        "<!DOCTYPE html><title>POS</title><p id=\"pos-marker\">served by the platform</p>",
    )
    .expect("pos index");
    let p = Platform::start(Options {
        env: vec![("POS_DIST_DIR".to_owned(), pos_dir.display().to_string())],
        ..Options::default()
    })
    .await;
    (p, pos_dir)
}

fn secret(p: &Platform) -> String {
    secrecy::ExposeSecret::expose_secret(
        p.config
            .routing
            .traefik_config_secret
            .as_ref()
            .expect("the harness sets a secret"),
    )
    .to_owned()
}

async fn active_tenant(p: &Platform, plan: &str, slug: &str) -> Value {
    let (status, accepted) = p.post("/tenants", p.tenant_body(slug, plan)).await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["tenant"]["id"].as_str().expect("id").to_owned();
    p.wait_tenant(&id, "active", Duration::from_secs(60)).await
}

/// `/web/session/authenticate` on `host` through Traefik: Odoo's answer.
async fn authenticate(
    http: &reqwest::Client,
    traefik: &Traefik,
    host: &str,
    db: &str,
    login: &str,
) -> Value {
    http.post(traefik.url(host, "/web/session/authenticate"))
        .json(&json!({"jsonrpc": "2.0", "method": "call", "id": 1,
            "params": {"db": db, "login": login, "password": "correct horse battery"}}))
        .send()
        .await
        .expect("authenticate")
        .json()
        .await
        .expect("json-rpc answer")
}

async fn page_kind(http: &reqwest::Client, url: &str) -> Option<(u16, String)> {
    let r = http.get(url).send().await.ok()?;
    let status = r.status().as_u16();
    let body = r.text().await.ok()?;
    let kind = body
        .split("data-page=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("")
        .to_owned();
    Some((status, kind))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn traefik_routes_portals_tenants_their_pos_and_unknown_hosts_from_the_tenants_table() {
    let (p, pos_dir) = platform().await;
    let plan = p.plan_with_template("shop", &["point_of_sale"], 1).await;
    let plan = plan["key"].as_str().expect("key").to_owned();
    let acme = active_tenant(&p, &plan, "acme").await;
    let globex = active_tenant(&p, &plan, "globex").await;
    let acme_db = acme["db_name"].as_str().expect("db").to_owned();
    let globex_db = globex["db_name"].as_str().expect("db").to_owned();

    let traefik = Traefik::local(p.internal, &secret(&p)).await;
    let hosts = [
        "admin.saas.test",
        "saas.test",
        "acme.saas.test",
        "globex.saas.test",
        "nobody.saas.test",
        "shop.elsewhere.org",
    ];
    let http = traefik.client(&hosts);
    // The first poll: the portal answers through Traefik.
    wait_for(Duration::from_secs(10), "the admin host", || async {
        let r = http
            .get(traefik.url("admin.saas.test", "/healthz"))
            .send()
            .await
            .ok()?;
        (r.status() == 200).then_some(())
    })
    .await;

    // The operations portal on admin.<domain>, with the headers Traefik adds.
    let r = http
        .get(traefik.url("admin.saas.test", "/admin/login"))
        .send()
        .await
        .expect("admin");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(r.text().await.expect("body").contains("password"));
    // The owners' apex host reaches the server too.
    let r = http
        .get(traefik.url("saas.test", "/healthz"))
        .send()
        .await
        .expect("apex");
    assert_eq!(r.status(), 200);

    // A tenant's host reaches Odoo, which picks that tenant's database only.
    let list: Value = http
        .post(traefik.url("acme.saas.test", "/web/database/list"))
        .json(&json!({"jsonrpc": "2.0", "method": "call", "id": 1, "params": {}}))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(list["result"], json!([acme_db]), "{list}");
    let login = authenticate(
        &http,
        &traefik,
        "acme.saas.test",
        &acme_db,
        "owner@acme.example.com",
    )
    .await;
    assert_eq!(login["result"]["uid"], 2, "{login}");
    assert_eq!(login["result"]["db"], acme_db.as_str(), "{login}");
    // Another tenant's database is not reachable through this host.
    let cross = authenticate(
        &http,
        &traefik,
        "acme.saas.test",
        &globex_db,
        "owner@globex.example.com",
    )
    .await;
    assert!(cross.get("result").is_none(), "{cross}");
    assert_eq!(
        cross["error"]["data"]["message"], "Database not found.",
        "{cross}"
    );
    let own = authenticate(
        &http,
        &traefik,
        "globex.saas.test",
        &globex_db,
        "owner@globex.example.com",
    )
    .await;
    assert_eq!(own["result"]["uid"], 2, "{own}");
    // Odoo's answers get the framing and referrer rules at Traefik, and HSTS waits for HTTPS.
    let r = http
        .post(traefik.url("acme.saas.test", "/web/database/list"))
        .json(&json!({"jsonrpc": "2.0", "method": "call", "id": 1, "params": {}}))
        .send()
        .await
        .expect("list");
    assert_eq!(r.headers()["x-frame-options"], "SAMEORIGIN");
    assert_eq!(
        r.headers()["referrer-policy"],
        "strict-origin-when-cross-origin"
    );
    assert!(r.headers().get("strict-transport-security").is_none());

    // The POS on the tenant's host is the platform's, not Odoo's.
    let r = http
        .get(traefik.url("acme.saas.test", "/pos/"))
        .send()
        .await
        .expect("pos");
    assert_eq!(r.status(), 200);
    assert!(r.text().await.expect("body").contains("pos-marker"));
    let r = http
        .get(traefik.url("acme.saas.test", "/pos"))
        .send()
        .await
        .expect("pos");
    assert_eq!(r.status(), 308, "/pos redirects into the worker's scope");

    // Unknown hosts, under our domain or not, get our 404 page (from the server).
    for (host, path) in [
        ("nobody.saas.test", "/web/login"),
        ("nobody.saas.test", "/pos/"),
        ("shop.elsewhere.org", "/"),
    ] {
        let (status, kind) = page_kind(&http, &traefik.url(host, path))
            .await
            .expect("page");
        assert_eq!((status, kind.as_str()), (404, "not-found"), "{host}{path}");
    }

    // The server's metrics are not published on the platform's hosts (every path of those
    // goes to the server): our 404 page there, the figures on the internal listener only.
    for host in ["admin.saas.test", "saas.test"] {
        let r = http
            .get(traefik.url(host, "/metrics"))
            .send()
            .await
            .expect("metrics through traefik");
        assert_eq!(r.status(), 404, "{host}/metrics");
        let body = r.text().await.expect("body");
        assert!(!body.contains("http_requests_total"), "{host}: {body}");
    }
    let r = http
        .get(format!(
            "http://{}{}",
            p.internal,
            server::routing::METRICS_PATH
        ))
        .send()
        .await
        .expect("internal metrics");
    assert_eq!(r.status(), 200);
    let figures = r.text().await.expect("metrics");
    assert!(figures.contains("route=\"/healthz\""), "{figures}");

    // Stable router names, read back from Traefik's own API.
    let routers = traefik.routers().await;
    for name in [
        "platform_admin@http",
        "platform_apex@http",
        "pos@http",
        "unknown_host@http",
        "tenant_acme@http",
        "tenant_acme_websocket@http",
        "tenant_globex@http",
    ] {
        assert!(routers.iter().any(|r| r == name), "{name} in {routers:?}");
    }

    // Access logs are JSON lines naming the router that served each request.
    let log = traefik.access_log();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("each access log line is JSON"))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["RouterName"] == "tenant_acme@http" && l["DownstreamStatus"] == 200),
        "{log}"
    );
    assert!(!log.contains("correct horse battery"));

    traefik.stop().await;
    p.cleanup().await;
    let _ = std::fs::remove_dir_all(pos_dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_suspended_tenant_shows_the_paused_page_within_a_poll_and_a_second_then_odoo_again_then_404(
) {
    let (p, pos_dir) = platform().await;
    let plan = p.plan_with_template("shop", &[], 1).await;
    let plan = plan["key"].as_str().expect("key").to_owned();
    let tenant = active_tenant(&p, &plan, "acme").await;
    let id = tenant["id"].as_str().expect("id").to_owned();
    let traefik = Traefik::local(p.internal, &secret(&p)).await;
    let http = traefik.client(&["acme.saas.test"]);
    let list_url = traefik.url("acme.saas.test", "/web/database/list");
    let odoo_answers = || async {
        let r = http
            .post(&list_url)
            .json(&json!({"jsonrpc": "2.0", "method": "call", "id": 1, "params": {}}))
            .send()
            .await
            .ok()?;
        (r.status() == 200).then_some(())
    };
    wait_for(
        Duration::from_secs(10),
        "Odoo on the tenant host",
        odoo_answers,
    )
    .await;

    // Watch the database and the host at once: the delay is from the moment the state is
    // `suspended` in the platform database to the first paused page through Traefik.
    let (status, _) = p
        .post(&format!("/tenants/{id}/deactivate"), json!({}))
        .await;
    assert_eq!(status, 202);
    let pool = p.pool.clone();
    let tenant_id: uuid::Uuid = id.parse().expect("uuid");
    let suspended_at = tokio::spawn(async move {
        loop {
            let state: String = sqlx::query_scalar("SELECT state FROM tenants WHERE id = $1")
                .bind(tenant_id)
                .fetch_one(&pool)
                .await
                .expect("state");
            if state == "suspended" {
                return Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let page_url = traefik.url("acme.saas.test", "/web/login");
    let paused_at = wait_for(Duration::from_secs(30), "the paused page", || async {
        let (status, kind) = page_kind(&http, &page_url).await?;
        (status == 503 && kind == "paused").then(Instant::now)
    })
    .await;
    let suspended_at = suspended_at.await.expect("watcher");
    let delay = paused_at.saturating_duration_since(suspended_at);
    let limit =
        Duration::from_millis(server::routing::traefik::POLL_INTERVAL_MS) + Duration::from_secs(1);
    eprintln!(
        "suspended in the database → paused page through Traefik: {} ms (limit {} ms)",
        delay.as_millis(),
        limit.as_millis()
    );
    assert!(delay <= limit, "took {delay:?}");
    // The paused page has a way back for the owner.
    let body = http
        .get(&page_url)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(body.contains("This shop is paused"), "{body}");
    assert!(body.contains("id=\"owner-link\""), "{body}");
    // The POS shell stays reachable on the paused host (it works offline).
    let r = http
        .get(traefik.url("acme.saas.test", "/pos/"))
        .send()
        .await
        .expect("pos");
    assert_eq!(r.status(), 200);

    // Reactivated: Odoo again.
    let (status, _) = p
        .post(&format!("/tenants/{id}/reactivate"), json!({}))
        .await;
    assert_eq!(status, 202);
    p.wait_tenant(&id, "active", Duration::from_secs(30)).await;
    wait_for(Duration::from_secs(5), "Odoo again", odoo_answers).await;

    // Deleted: our 404 page.
    let r = p
        .api(reqwest::Method::DELETE, &format!("/tenants/{id}"))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 202);
    p.wait_tenant(&id, "deleted", Duration::from_secs(30)).await;
    wait_for(Duration::from_secs(5), "the 404 page", || async {
        let (status, kind) = page_kind(&http, &page_url).await?;
        (status == 404 && kind == "not-found").then_some(())
    })
    .await;
    assert!(!traefik
        .routers()
        .await
        .iter()
        .any(|r| r.starts_with("tenant_acme")));

    traefik.stop().await;
    p.cleanup().await;
    let _ = std::fs::remove_dir_all(pos_dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn traefik_keeps_serving_its_last_routes_while_the_server_restarts() {
    let (p, pos_dir) = platform().await;
    let plan = p.plan_with_template("shop", &[], 1).await;
    let plan = plan["key"].as_str().expect("key").to_owned();
    let tenant = active_tenant(&p, &plan, "acme").await;
    let id = tenant["id"].as_str().expect("id").to_owned();

    // The route table on a listener this test stops and starts again on the same port.
    let addr = common::traefik::free_addr();
    let serve_internal = |platform: server::platform::Platform| async move {
        let listener = loop {
            match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => break l,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                server::routing::endpoint::internal_router(platform),
            )
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
        });
        (stop, task)
    };
    let (stop, task) = serve_internal(p.services.clone()).await;
    let traefik = Traefik::local(addr, &secret(&p)).await;
    let http = traefik.client(&["acme.saas.test"]);
    let list_url = traefik.url("acme.saas.test", "/web/database/list");
    let odoo_answers = || async {
        let r = http
            .post(&list_url)
            .json(&json!({"jsonrpc": "2.0", "method": "call", "id": 1, "params": {}}))
            .send()
            .await
            .ok()?;
        (r.status() == 200).then_some(())
    };
    wait_for(
        Duration::from_secs(10),
        "Odoo on the tenant host",
        odoo_answers,
    )
    .await;

    // The server goes away: Traefik's polls fail, its routes stay.
    let _ = stop.send(());
    task.await.expect("stopped");
    wait_for(
        Duration::from_secs(10),
        "a failed poll in Traefik's log",
        || async {
            traefik
                .log()
                .contains("cannot fetch configuration data")
                .then_some(())
        },
    )
    .await;
    for _ in 0..3 {
        assert!(
            odoo_answers().await.is_some(),
            "route lost while the server is down"
        );
        tokio::time::sleep(Duration::from_millis(
            server::routing::traefik::POLL_INTERVAL_MS,
        ))
        .await;
    }

    // Meanwhile the tenant is suspended; the server comes back (a new process: a new
    // cache) and Traefik picks the change up.
    let (status, _) = p
        .post(&format!("/tenants/{id}/deactivate"), json!({}))
        .await;
    assert_eq!(status, 202);
    p.wait_tenant(&id, "suspended", Duration::from_secs(30))
        .await;
    let restarted = server::platform::Platform::new(Arc::new(p.config.clone()), p.pool.clone())
        .expect("services");
    let (stop, task) = serve_internal(restarted).await;
    let page_url = traefik.url("acme.saas.test", "/web/login");
    wait_for(
        Duration::from_secs(5),
        "the paused page after the restart",
        || async {
            let (status, kind) = page_kind(&http, &page_url).await?;
            (status == 503 && kind == "paused").then_some(())
        },
    )
    .await;

    let _ = stop.send(());
    let _ = task.await;
    traefik.stop().await;
    p.cleanup().await;
    let _ = std::fs::remove_dir_all(pos_dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_table_needs_the_secret_and_is_not_on_the_public_listener() {
    let p = Platform::start(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    let url = format!("http://{}{}", p.internal, server::routing::CONFIG_PATH);
    let http = reqwest::Client::new();
    let r = http.get(&url).send().await.expect("no secret");
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unauthorized");
    let r = http
        .get(&url)
        .header("X-Traefik-Config-Secret", "not-the-secret-at-all")
        .send()
        .await
        .expect("wrong secret");
    assert_eq!(r.status(), 401);
    let r = http
        .get(&url)
        .header("X-Traefik-Config-Secret", secret(&p))
        .send()
        .await
        .expect("secret");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let doc: Value = r.json().await.expect("json");
    assert_eq!(
        doc["http"]["routers"]["platform_admin"]["rule"],
        "Host(`admin.saas.test`)"
    );
    // The public listener has no such path, whatever the host.
    let r = http
        .get(format!("{}{}", p.base, server::routing::CONFIG_PATH))
        .header("X-Traefik-Config-Secret", secret(&p))
        .send()
        .await
        .expect("public");
    assert_eq!(r.status(), 404);
    assert!(!r.text().await.expect("body").contains("routers"));
    p.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_table_is_rebuilt_when_a_tenant_changes_state_and_not_on_every_poll() {
    let p = Platform::start(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    let plan = p.plan_key("basic");
    let (status, body) = p
        .post("/plans", json!({"key": plan, "name": "Basic"}))
        .await;
    assert_eq!(status, 201, "{body}");
    let cache = p.services.routes.clone();
    cache.current().await.expect("table");
    // Once the process listens for changes, polls without a change get the very same build
    // (before that, a table is trusted for a second only).
    wait_for(Duration::from_secs(5), "the change listener", || async {
        cache.is_listening().then_some(())
    })
    .await;
    let first = cache.current().await.expect("table");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    for _ in 0..5 {
        let again = cache.current().await.expect("table");
        assert!(Arc::ptr_eq(&first, &again), "rebuilt without a change");
    }
    // A new tenant (written by another process: straight into the database).
    let (status, accepted) = p.post("/tenants", p.tenant_body("acme", &plan)).await;
    assert_eq!(status, 202, "{accepted}");
    let rebuilt = wait_for(Duration::from_secs(5), "a rebuilt table", || async {
        let t = cache.current().await.expect("table");
        (!Arc::ptr_eq(&first, &t)).then_some(t)
    })
    .await;
    let entry = rebuilt.hosts.get("acme.saas.test").expect("the new tenant");
    assert_eq!(entry.state, server::tenants::TenantState::Requested);
    // An update that leaves the state alone changes nothing.
    sqlx::query("UPDATE tenants SET owner_name = 'Renamed' WHERE slug = 'acme'")
        .execute(&p.pool)
        .await
        .expect("update");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(Arc::ptr_eq(
        &rebuilt,
        &cache.current().await.expect("table")
    ));
    // A state change does.
    sqlx::query("UPDATE tenants SET state = 'suspended' WHERE slug = 'acme'")
        .execute(&p.pool)
        .await
        .expect("update");
    wait_for(Duration::from_secs(5), "the suspended state", || async {
        let t = cache.current().await.expect("table");
        (t.hosts.get("acme.saas.test").map(|e| e.state)
            == Some(server::tenants::TenantState::Suspended))
        .then_some(())
    })
    .await;
    p.cleanup().await;
}
