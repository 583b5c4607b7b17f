//! The pages a browser opens on a tenant's host, and which databases they can see: only
//! those the simulator's role owns, not templates, accepting connections, as Odoo's
//! `list_dbs` (`odoo/service/db.py`) picks them for every host-routed request.

mod common;

use common::*;
use odoo_sim::Catalogue;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::{json, Value};

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

async fn get(sim: &Sim, path: &str, host: &str, cookie: Option<&str>) -> (u16, HeaderMap, String) {
    let mut rb = browser().get(sim.url(path)).header("Host", host);
    if let Some(c) = cookie {
        rb = rb.header("Cookie", format!("session_id={c}"));
    }
    let r = rb.send().await.expect("GET");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.expect("body"))
}

fn location(h: &HeaderMap) -> String {
    h.get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

fn cookie(h: &HeaderMap) -> Option<String> {
    h.get_all(SET_COOKIE).iter().find_map(|v| {
        v.to_str()
            .ok()?
            .split(';')
            .next()?
            .strip_prefix("session_id=")
            .map(str::to_owned)
    })
}

/// Runs SQL on the maintenance database as the superuser (another role than the sim's).
async fn admin_sql(sql: &str) {
    use sqlx::{ConnectOptions, Connection};
    let opts: sqlx::postgres::PgConnectOptions = PG.parse().expect("url");
    let mut c = opts.connect().await.expect("connect");
    sqlx::query(sql).execute(&mut c).await.expect(sql);
    let _ = c.close().await;
}

async fn db_list(sim: &Sim, host: &str) -> Value {
    let body = json!({"jsonrpc": "2.0", "method": "call", "id": 1, "params": {}});
    sim.post("/web/database/list", &[("Host", host)], &body)
        .await
        .2["result"]
        .clone()
}

#[tokio::test]
async fn only_databases_the_role_owns_are_served_by_host() {
    let sim = Sim::start(Catalogue::None).await;
    let host = format!("{}.localhost", sim.db);

    // The sim's own database: the login page, a session cookie, Odoo's framing headers.
    let (status, h, body) = get(&sim, "/web/login", &host, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("oe_login_form") && body.contains("name=\"csrf_token\""),
        "{body}"
    );
    assert!(cookie(&h).is_some(), "no session cookie: {h:?}");
    assert_eq!(h["x-frame-options"], "SAMEORIGIN");
    assert_eq!(h["content-security-policy"], "frame-ancestors 'self'");
    assert_eq!(db_list(&sim, &host).await, json!([sim.db]));

    // A copy made by another role (what `CREATE DATABASE … TEMPLATE` by the platform's role
    // gave before): invisible, the browser is sent to the database selector.
    let other = unique_db("sim_test_other");
    admin_sql(&format!(
        "CREATE DATABASE \"{other}\" TEMPLATE \"{}\"",
        sim.db
    ))
    .await;
    let other_host = format!("{other}.localhost");
    let (status, h, _) = get(&sim, "/web/login", &other_host, None).await;
    assert_eq!(
        (status, location(&h).as_str()),
        (303, "/web/database/selector")
    );
    assert_eq!(db_list(&sim, &other_host).await, json!([]));
    let (status, _, body) = get(&sim, "/web/database/selector", &other_host, None).await;
    assert_eq!(status, 200);
    assert!(!body.contains(&other), "{body}");

    // Given to the sim's role (the repair Odoo needed by hand): served.
    admin_sql(&format!(
        "ALTER DATABASE \"{other}\" OWNER TO {}",
        odoo_sim::SIM_ROLE
    ))
    .await;
    let (status, _, body) = get(&sim, "/web/login", &other_host, None).await;
    assert_eq!(status, 200, "{body}");

    // Closed to connections, or a template: invisible again.
    admin_sql(&format!(
        "ALTER DATABASE \"{other}\" WITH ALLOW_CONNECTIONS false"
    ))
    .await;
    let (status, h, _) = get(&sim, "/web/login", &other_host, None).await;
    assert_eq!(
        (status, location(&h).as_str()),
        (303, "/web/database/selector")
    );
    admin_sql(&format!(
        "ALTER DATABASE \"{other}\" WITH ALLOW_CONNECTIONS true IS_TEMPLATE true"
    ))
    .await;
    let (status, h, _) = get(&sim, "/web/login", &other_host, None).await;
    assert_eq!(
        (status, location(&h).as_str()),
        (303, "/web/database/selector")
    );
    assert_eq!(db_list(&sim, &other_host).await, json!([]));

    admin_sql(&format!(
        "ALTER DATABASE \"{other}\" WITH IS_TEMPLATE false"
    ))
    .await;
    drop_db(&other).await;
    sim.stop().await;
}

#[tokio::test]
async fn a_browser_signs_in_through_the_login_form() {
    let sim = Sim::start(Catalogue::None).await;
    let host = format!("{}.localhost", sim.db);
    let client = browser();

    // The web client sends an anonymous visitor to the login page, keeping where it was.
    let (status, h, _) = get(&sim, "/odoo", &host, None).await;
    assert_eq!(status, 303);
    assert_eq!(location(&h), "/web/login?redirect=%2Fodoo%3F");
    let (status, h, _) = get(&sim, "/", &host, None).await;
    assert_eq!((status, location(&h).as_str()), (303, "/odoo"));

    let (_, h, page) = get(&sim, "/web/login", &host, None).await;
    let sid = cookie(&h).expect("session cookie");
    let token = page
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("csrf token")
        .to_owned();
    let post = |form: Vec<(&'static str, String)>, sid: String| {
        client
            .post(sim.url("/web/login"))
            .header("Host", host.clone())
            .header("Cookie", format!("session_id={sid}"))
            .form(&form)
            .send()
    };

    // No CSRF token, or another session's: refused as Odoo refuses it.
    let r = post(
        vec![("login", "admin".into()), ("password", "admin".into())],
        sid.clone(),
    )
    .await
    .expect("POST");
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.expect("body").contains("invalid CSRF token"));

    // Wrong password: the form again, with Odoo's message.
    let r = post(
        vec![
            ("login", "admin".into()),
            ("password", "nope".into()),
            ("csrf_token", token.clone()),
        ],
        sid.clone(),
    )
    .await
    .expect("POST");
    assert_eq!(r.status().as_u16(), 200);
    assert!(r
        .text()
        .await
        .expect("body")
        .contains("Wrong login/password"));

    // Right password: a new session id, and on to the web client.
    let r = post(
        vec![
            ("login", "admin".into()),
            ("password", "admin".into()),
            ("csrf_token", token),
        ],
        sid.clone(),
    )
    .await
    .expect("POST");
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(location(r.headers()), "/odoo");
    let signed_in = cookie(r.headers()).expect("rotated session");
    assert_ne!(signed_in, sid);
    let (status, _, body) = get(&sim, "/odoo", &host, Some(&signed_in)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&sim.db), "{body}");
    // The old id is no longer signed in.
    let (status, _, _) = get(&sim, "/odoo", &host, Some(&sid)).await;
    assert_eq!(status, 303);

    // The session works for JSON-RPC too (same session store).
    let body = json!({"jsonrpc": "2.0", "method": "call", "id": 1, "params": {}});
    let (_, _, info) = sim
        .post(
            "/web/session/get_session_info",
            &[
                ("Host", host.as_str()),
                ("Cookie", &format!("session_id={signed_in}")),
            ],
            &body,
        )
        .await;
    assert_eq!(info["result"]["uid"], 2, "{info}");
    sim.stop().await;
}

#[tokio::test]
async fn odoo_refuses_to_run_as_postgres() {
    let err = odoo_sim::serve(odoo_sim::Config::new(PG))
        .await
        .err()
        .expect("refused");
    assert_eq!(
        err.to_string(),
        "Using the database user 'postgres' is a security risk, aborting."
    );
}
