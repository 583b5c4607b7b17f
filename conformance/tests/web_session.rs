//! Web session: `/web/session/authenticate` (SessionInfo, Set-Cookie), `/web/dataset/call_kw`
//! with the cookie, Host-based database selection (dbfilter `^%d$`) and session expiry.

use conformance::*;
use odoo_rpc::{OdooError, OdooVersion, WebSession};
use serde_json::{json, Map, Value};

fn recording(name: &str) -> Value {
    let p = format!(
        "{}/../testdata/odoo18/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(p).expect("recording")).expect("json")
}

fn kwargs(v: Value) -> Map<String, Value> {
    v.as_object().cloned().expect("kwargs object")
}

#[tokio::test]
async fn session_authenticate_returns_session_info_and_sets_the_cookie() {
    let sim = shared_sim();
    let db = TestDb::new(SimCatalogue::Demo).await;
    let (c, rec) = client_with_host(&sim.url, &db.host());
    let ws = WebSession::new(c);
    let info = ws
        .session_authenticate(&db.name, "admin", "admin")
        .await
        .expect("session_authenticate");
    assert_eq!(info.uid, Some(2));
    assert_eq!(info.db.as_deref(), Some(db.name.as_str()));
    assert_eq!(info.username.as_deref(), Some("admin"));
    assert_eq!(info.name.as_deref(), Some("Administrator"));
    assert!(info.partner_id.is_some());
    assert!(info.is_system && info.is_admin);
    assert_eq!(info.server_version.as_deref(), Some("18.0-20250702"));
    assert_eq!(info.odoo_version(), Some(OdooVersion::V18));
    assert_eq!(info.user_context["lang"], "en_US");
    assert_eq!(info.user_context["uid"], 2);
    let companies = info.user_companies.as_ref().expect("user_companies");
    assert_eq!(companies.current_company, Some(1));
    assert_eq!(companies.allowed_companies["1"].id, 1);
    assert_eq!(companies.allowed_companies["1"].parent_id, None);

    // Raw request
    let ex = rec.last();
    assert_eq!(ex.request.path, "/web/session/authenticate");
    assert_eq!(ex.request.host.as_deref(), Some(db.host().as_str()));
    assert_eq!(ex.request.cookie, None, "no cookie before login");
    let req = ex.request_json();
    assert_eq!(req["jsonrpc"], "2.0");
    assert_eq!(req["method"], "call");
    assert_eq!(
        req["params"],
        json!({"db": db.name, "login": "admin", "password": "admin"})
    );
    // Raw response: envelope, same keys as the recording minus the documented UI-only ones
    let body = ex.response_json();
    let result = assert_ok_envelope(&body, &req["id"]);
    assert_eq!(result, info.raw);
    let recorded = recording("09_web_session_authenticate_good_hostheader");
    let rec_keys: Vec<&String> = recorded["response"]["result"]
        .as_object()
        .expect("recorded result")
        .keys()
        .collect();
    let sim_keys: Vec<&String> = result.as_object().expect("result").keys().collect();
    for k in &rec_keys {
        assert!(sim_keys.contains(k), "session_info lacks {k}");
    }
    for k in &sim_keys {
        assert!(rec_keys.contains(k), "session_info has unrecorded key {k}");
    }
    // Set-Cookie: session_id=...; Expires=...; Max-Age=604800; HttpOnly; Path=/
    let resp = ex.response.as_ref().expect("response");
    assert_eq!(resp.set_cookies.len(), 1, "{:?}", resp.set_cookies);
    let cookie = &resp.set_cookies[0];
    let parts: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert!(
        parts[0].starts_with("session_id=") && parts[0].len() > 20,
        "{cookie}"
    );
    assert!(parts.contains(&"HttpOnly"), "{cookie}");
    assert!(parts.contains(&"Path=/"), "{cookie}");
    assert!(parts.contains(&"Max-Age=604800"), "{cookie}");
    assert!(
        parts
            .iter()
            .any(|p| p.starts_with("Expires=") && p.ends_with(" GMT")),
        "{cookie}"
    );
    assert_eq!(
        ws.session_id().as_deref(),
        parts[0].strip_prefix("session_id="),
        "the client keeps the cookie"
    );

    // Same check with plain reqwest on the raw headers
    let raw = raw_json(
        &sim.url,
        "/web/session/authenticate",
        &[("Host", &db.host())],
        &json!({"jsonrpc": "2.0", "method": "call", "id": 9,
                "params": {"db": db.name, "login": "admin", "password": "admin"}}),
    )
    .await;
    assert_eq!(raw.status, 200);
    assert_eq!(
        raw.header("content-type").as_deref(),
        Some("application/json; charset=utf-8")
    );
    let sc = raw.header("set-cookie").expect("Set-Cookie header");
    assert!(
        sc.starts_with("session_id=")
            && sc.contains("HttpOnly")
            && sc.contains("Path=/")
            && sc.contains("Max-Age=604800"),
        "{sc}"
    );
    assert_eq!(raw.json()["id"], 9);
}

#[tokio::test]
async fn call_kw_with_the_cookie_reads_partners() {
    let sim = shared_sim();
    let db = TestDb::new(SimCatalogue::Demo).await;
    let (c, rec) = client_with_host(&sim.url, &db.host());
    let ws = WebSession::new(c);
    ws.session_authenticate(&db.name, "admin", "admin")
        .await
        .unwrap();
    let sid = ws.session_id().expect("session id");
    let rows = ws
        .call_kw(
            "res.partner",
            "search_read",
            vec![json!([])],
            kwargs(json!({"fields": ["id", "name"], "limit": 3, "order": "id"})),
        )
        .await
        .expect("call_kw");
    let rows = rows.as_array().expect("list");
    assert!(!rows.is_empty());
    assert_eq!(
        rows[0],
        json!({"id": 1, "name": "My Company"}),
        "like the recording"
    );
    let ex = rec.last();
    assert_eq!(
        ex.request.path,
        "/web/dataset/call_kw/res.partner/search_read"
    );
    assert_eq!(
        ex.request.cookie.as_deref(),
        Some(format!("session_id={sid}").as_str())
    );
    assert_eq!(ex.request.host.as_deref(), Some(db.host().as_str()));
    let req = ex.request_json();
    assert_eq!(
        req["params"],
        json!({"model": "res.partner", "method": "search_read", "args": [[]],
               "kwargs": {"fields": ["id", "name"], "limit": 3, "order": "id"}})
    );
    let result = assert_ok_envelope(&ex.response_json(), &req["id"]);
    assert_eq!(&result, &Value::Array(rows.clone()));
    let recorded = recording("11_web_dataset_call_kw");
    assert_eq!(recorded["response"]["result"][0], result[0]);
}

#[tokio::test]
async fn host_header_selects_the_database() {
    let sim = shared_sim();
    let a = TestDb::new(SimCatalogue::None).await;
    let b = TestDb::new(SimCatalogue::None).await;
    // Host of A: A passes dbfilter ^%d$, B does not.
    let (ca, rec) = client_with_host(&sim.url, &a.host());
    let ws = WebSession::new(ca);
    let info = ws
        .session_authenticate(&a.name, "admin", "admin")
        .await
        .unwrap();
    assert_eq!(info.db.as_deref(), Some(a.name.as_str()));
    let e = odoo_err(ws.session_authenticate(&b.name, "admin", "admin").await);
    assert!(matches!(e, OdooError::AccessError(_)), "{e:?}");
    assert_eq!(e.message(), "Database not found.");
    assert_error_envelope(
        &rec.last().response_json(),
        None,
        200,
        "odoo.exceptions.AccessError",
        "Database not found.",
    );
    // A partner created in B through execute_kw is seen through the session on B only.
    let (cb, _) = client_with_host(&sim.url, &b.host());
    let mut vals = Map::new();
    vals.insert("name".into(), json!("Only in B"));
    cb.object(&b.name, 2, "admin")
        .create("res.partner", vals)
        .await
        .unwrap();
    let wsb = WebSession::new(cb);
    wsb.session_authenticate(&b.name, "admin", "admin")
        .await
        .unwrap();
    let in_b = wsb
        .call_kw(
            "res.partner",
            "search_count",
            vec![json!([["name", "=", "Only in B"]])],
            Map::new(),
        )
        .await
        .unwrap();
    assert_eq!(in_b, json!(1));
    let in_a = ws
        .call_kw(
            "res.partner",
            "search_count",
            vec![json!([["name", "=", "Only in B"]])],
            Map::new(),
        )
        .await
        .unwrap();
    assert_eq!(in_a, json!(0));
}

#[tokio::test]
async fn session_cookie_sent_to_another_host_is_logged_out() {
    let sim = shared_sim();
    let a = TestDb::new(SimCatalogue::None).await;
    let b = TestDb::new(SimCatalogue::None).await;
    let (ca, _) = client_with_host(&sim.url, &a.host());
    let ws = WebSession::new(ca);
    ws.session_authenticate(&a.name, "admin", "admin")
        .await
        .unwrap();
    let sid = ws.session_id().unwrap();
    // The session of A presented with the Host of B: dbfilter rejects it, Odoo logs it out.
    let (cb, _) = client_with_host(&sim.url, &b.host());
    let moved = WebSession::with_session_id(cb, sid.clone());
    let e = odoo_err(
        moved
            .call_kw("res.partner", "search_count", vec![json!([])], Map::new())
            .await,
    );
    assert!(matches!(e, OdooError::SessionExpired(_)), "{e:?}");
    // ... and it is gone for A as well.
    let e = odoo_err(
        ws.call_kw("res.partner", "search_count", vec![json!([])], Map::new())
            .await,
    );
    assert!(matches!(e, OdooError::SessionExpired(_)), "{e:?}");
}

async fn assert_session_expired(rec: &Rec, e: &OdooError) {
    assert!(matches!(e, OdooError::SessionExpired(_)), "{e:?}");
    assert_eq!(e.code(), 100);
    let ex = rec.last();
    let body = ex.response_json();
    assert_eq!(ex.status(), 200);
    let raw = assert_error_envelope(
        &body,
        Some(&Value::Null),
        100,
        "odoo.http.SessionExpiredException",
        "Session expired",
    );
    assert_eq!(raw["data"]["arguments"], json!(["Session expired"]));
    assert_payload_matches(e, &raw);
    let recorded = recording("11b_web_dataset_call_kw_no_session");
    let mut r = recorded["response"].clone();
    let mut s = body.clone();
    r["error"]["data"]["debug"] = Value::Null;
    s["error"]["data"]["debug"] = Value::Null;
    assert_eq!(s, r, "same envelope as the recording (traceback aside)");
}

#[tokio::test]
async fn call_kw_without_cookie_is_session_expired() {
    let sim = shared_sim();
    let db = TestDb::new(SimCatalogue::None).await;
    let (c, rec) = client_with_host(&sim.url, &db.host());
    let ws = WebSession::new(c);
    let e = odoo_err(
        ws.call_kw(
            "res.partner",
            "search_read",
            vec![json!([])],
            kwargs(json!({"fields": ["id", "name"], "limit": 3})),
        )
        .await,
    );
    assert!(rec.last().request.cookie.is_none());
    assert_session_expired(&rec, &e).await;
    assert!(odoo_rpc::RpcError::Odoo(e).is_session_expired());
}

#[tokio::test]
async fn call_kw_after_session_destroy_is_session_expired() {
    let sim = shared_sim();
    let db = TestDb::new(SimCatalogue::None).await;
    let (c, rec) = client_with_host(&sim.url, &db.host());
    let ws = WebSession::new(c);
    ws.session_authenticate(&db.name, "admin", "admin")
        .await
        .unwrap();
    let sid = ws.session_id().unwrap();
    assert!(ws
        .call_kw("res.partner", "search_count", vec![json!([])], Map::new())
        .await
        .is_ok());
    // The client has no destroy call: plain reqwest with the same cookie.
    let cookie = format!("session_id={sid}");
    let raw = raw_json(
        &sim.url,
        "/web/session/destroy",
        &[("Host", &db.host()), ("Cookie", &cookie)],
        &json!({"jsonrpc": "2.0", "method": "call", "id": 5, "params": {}}),
    )
    .await;
    assert_eq!(raw.status, 200);
    assert_eq!(
        raw.json(),
        json!({"jsonrpc": "2.0", "id": 5}),
        "None result omits the key"
    );
    let e = odoo_err(
        ws.call_kw(
            "res.partner",
            "search_read",
            vec![json!([])],
            kwargs(json!({"fields": ["id", "name"], "limit": 3})),
        )
        .await,
    );
    assert_eq!(rec.last().request.cookie.as_deref(), Some(cookie.as_str()));
    assert_session_expired(&rec, &e).await;
}

#[tokio::test]
async fn password_change_expires_existing_sessions() {
    let sim = shared_sim();
    let db = TestDb::new(SimCatalogue::None).await;
    let (c, _) = client_with_host(&sim.url, &db.host());
    let ws = WebSession::new(c);
    ws.session_authenticate(&db.name, "admin", "admin")
        .await
        .unwrap();
    let (c2, _) = client(&sim.url);
    let mut vals = Map::new();
    vals.insert("password".into(), json!("changed-pw"));
    assert!(c2
        .object(&db.name, 2, "admin")
        .write("res.users", &[2], vals)
        .await
        .unwrap());
    let e = odoo_err(
        ws.call_kw("res.partner", "search_count", vec![json!([])], Map::new())
            .await,
    );
    assert!(matches!(e, OdooError::SessionExpired(_)), "{e:?}");
    ws.session_authenticate(&db.name, "admin", "changed-pw")
        .await
        .unwrap();
    assert!(ws
        .call_kw("res.partner", "search_count", vec![json!([])], Map::new())
        .await
        .is_ok());
}

#[tokio::test]
async fn call_kw_unknown_model_is_not_found_with_null_id() {
    let sim = shared_sim();
    let db = TestDb::new(SimCatalogue::None).await;
    let (c, rec) = client_with_host(&sim.url, &db.host());
    let ws = WebSession::new(c);
    ws.session_authenticate(&db.name, "admin", "admin")
        .await
        .unwrap();
    let e = odoo_err(
        ws.call_kw("no.such.model", "search_read", vec![json!([])], Map::new())
            .await,
    );
    assert!(matches!(e, OdooError::NotFound(_)), "{e:?}");
    assert_eq!(e.code(), 404);
    let body = rec.last().response_json();
    let msg = "404 Not Found: The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.";
    let raw = assert_error_envelope(
        &body,
        Some(&Value::Null),
        404,
        "werkzeug.exceptions.NotFound",
        msg,
    );
    assert_eq!(raw["data"]["arguments"], json!([]));
    assert_payload_matches(&e, &raw);
    let recorded = recording("11c_web_dataset_call_kw_unknown_model");
    let mut r = recorded["response"].clone();
    let mut s = body;
    r["error"]["data"]["debug"] = Value::Null;
    s["error"]["data"]["debug"] = Value::Null;
    assert_eq!(s, r);
}

#[tokio::test]
async fn session_authenticate_with_wrong_password_is_access_denied() {
    let sim = shared_sim();
    let db = TestDb::new(SimCatalogue::None).await;
    let (c, rec) = client_with_host(&sim.url, &db.host());
    let ws = WebSession::new(c);
    let e = odoo_err(ws.session_authenticate(&db.name, "admin", "WRONG").await);
    assert!(matches!(e, OdooError::AccessDenied(_)), "{e:?}");
    let ex = rec.last();
    let body = ex.response_json();
    let raw = assert_error_envelope(
        &body,
        Some(&ex.request_json()["id"]),
        200,
        "odoo.exceptions.AccessDenied",
        "Access Denied",
    );
    assert_payload_matches(&e, &raw);
    assert!(
        ex.response.as_ref().unwrap().set_cookies.is_empty(),
        "no cookie on failure"
    );
    assert!(ws.session_id().is_none());
    let recorded = recording("10_web_session_authenticate_bad");
    assert_eq!(
        recorded["response"]["error"]["data"]["arguments"],
        raw["data"]["arguments"]
    );
}

#[tokio::test]
async fn session_authenticate_with_host_selecting_no_db_is_database_not_found() {
    let sim = shared_sim();
    let db = TestDb::new(SimCatalogue::None).await;
    // Host "nosuchdb.localhost" → %d = nosuchdb: the requested db does not pass dbfilter.
    let (c, rec) = client_with_host(&sim.url, "nosuchdb.localhost");
    let ws = WebSession::new(c);
    let e = odoo_err(ws.session_authenticate(&db.name, "admin", "admin").await);
    assert!(matches!(e, OdooError::AccessError(_)), "{e:?}");
    assert_eq!(e.message(), "Database not found.");
    let body = rec.last().response_json();
    let raw = assert_error_envelope(
        &body,
        None,
        200,
        "odoo.exceptions.AccessError",
        "Database not found.",
    );
    assert_eq!(raw["data"]["arguments"], json!(["Database not found."]));
    assert_payload_matches(&e, &raw);
    // Without a Host override (Host 127.0.0.1:port → %d = 127) it is the same answer.
    let (c, _) = client(&sim.url);
    let e = odoo_err(
        WebSession::new(c)
            .session_authenticate(&db.name, "admin", "admin")
            .await,
    );
    assert_eq!(e.message(), "Database not found.");
    let recorded = recording("10b_web_session_authenticate_good_no_hostheader");
    assert_eq!(
        recorded["response"]["error"]["data"]["name"],
        raw["data"]["name"]
    );
}

#[tokio::test]
async fn call_kw_on_a_host_selecting_no_db_is_an_html_404() {
    let sim = shared_sim();
    let db = TestDb::new(SimCatalogue::None).await;
    let (c, rec) = client_with_host(&sim.url, &db.host());
    let ws = WebSession::new(c);
    ws.session_authenticate(&db.name, "admin", "admin")
        .await
        .unwrap();
    let (c2, rec2) = client_with_host(&sim.url, "nosuchdb.localhost");
    let other = WebSession::with_session_id(c2, ws.session_id().unwrap());
    match other
        .call_kw("res.partner", "search_count", vec![json!([])], Map::new())
        .await
    {
        Err(odoo_rpc::RpcError::Http { status: 404, body }) => {
            assert!(body.contains("<title>404 Not Found</title>"), "{body}");
        }
        other => panic!("expected HTTP 404, got {other:?}"),
    }
    assert_eq!(rec2.last().status(), 404);
    let _ = rec;
}
