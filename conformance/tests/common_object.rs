//! `common` (version, authenticate, login), `object.execute_kw` ORM calls on res.partner,
//! and `install_modules`: typed values and raw envelopes on the wire.

use conformance::*;
use odoo_rpc::{OdooVersion, RpcError, SearchOptions};
use serde_json::{json, Map, Value};

fn recording(name: &str) -> Value {
    let p = format!(
        "{}/../testdata/odoo18/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(p).expect("recording")).expect("json")
}

/// Asserts the raw request is a `/jsonrpc` `call` envelope for `service.method(args)`.
fn assert_service_request(ex: &Exchange, service: &str, method: &str, args: &Value) -> Value {
    assert_eq!(ex.request.path, "/jsonrpc");
    let req = ex.request_json();
    let o = req.as_object().expect("object");
    assert_eq!(o.len(), 4, "request keys: {req}");
    assert_eq!(req["jsonrpc"], "2.0");
    assert_eq!(req["method"], "call");
    assert!(req["id"].is_u64(), "id: {req}");
    assert_eq!(
        req["params"],
        json!({"service": service, "method": method, "args": args}),
        "params of {req}"
    );
    req["id"].clone()
}

#[tokio::test]
async fn version_reports_odoo_18_like_the_recording() {
    let sim = shared_sim();
    let (c, rec) = client(&sim.url);
    let v = c.version().await.expect("version");
    assert_eq!(v.server_version, "18.0-20250702");
    assert_eq!(v.server_serie, "18.0");
    assert_eq!(v.protocol_version, 1);
    assert_eq!(v.odoo_version(), Some(OdooVersion::V18));
    let ex = rec.last();
    let id = assert_service_request(&ex, "common", "version", &json!([]));
    assert_eq!(ex.status(), 200);
    let result = assert_ok_envelope(&ex.response_json(), &id);
    assert_eq!(result, recording("01_common_version")["response"]["result"]);
    assert_eq!(
        c.server_version().await.expect("server_version"),
        "18.0-20250702"
    );
}

#[tokio::test]
async fn authenticate_with_good_credentials_returns_uid() {
    let sim = shared_sim();
    let db = TestDb::new(SimCatalogue::None).await;
    let (c, rec) = client(&sim.url);
    assert_eq!(
        c.authenticate(&db.name, "admin", "admin").await.unwrap(),
        Some(2)
    );
    let ex = rec.last();
    let id = assert_service_request(
        &ex,
        "common",
        "authenticate",
        &json!([db.name, "admin", "admin", {}]),
    );
    assert_eq!(assert_ok_envelope(&ex.response_json(), &id), json!(2));
}

#[tokio::test]
async fn authenticate_with_wrong_password_returns_none_and_raw_false() {
    let sim = shared_sim();
    let db = TestDb::new(SimCatalogue::None).await;
    let (c, rec) = client(&sim.url);
    assert_eq!(
        c.authenticate(&db.name, "admin", "WRONG").await.unwrap(),
        None
    );
    let ex = rec.last();
    let id = assert_service_request(
        &ex,
        "common",
        "authenticate",
        &json!([db.name, "admin", "WRONG", {}]),
    );
    let body = ex.response_json();
    assert_eq!(assert_ok_envelope(&body, &id), json!(false));
    assert_eq!(
        body["result"],
        json!(false),
        "result key must be present: {body}"
    );
    // Same shape as the recording (ids aside).
    let r = recording("03_common_authenticate_bad");
    assert_eq!(r["response"]["result"], body["result"]);
    // Unknown login too.
    assert_eq!(
        c.authenticate(&db.name, "nobody", "admin").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn login_returns_uid_or_none() {
    let sim = shared_sim();
    let db = TestDb::new(SimCatalogue::None).await;
    let (c, rec) = client(&sim.url);
    assert_eq!(c.login(&db.name, "admin", "admin").await.unwrap(), Some(2));
    let ex = rec.last();
    let id = assert_service_request(&ex, "common", "login", &json!([db.name, "admin", "admin"]));
    assert_eq!(assert_ok_envelope(&ex.response_json(), &id), json!(2));
    assert_eq!(c.login(&db.name, "admin", "bad").await.unwrap(), None);
    assert_eq!(
        assert_ok_envelope(
            &rec.last().response_json(),
            &rec.last().request_json()["id"]
        ),
        json!(false)
    );
}

#[tokio::test]
async fn execute_kw_crud_on_partners_round_trips() {
    let sim = shared_sim();
    let db = TestDb::new(SimCatalogue::None).await;
    let (c, rec) = client(&sim.url);
    let obj = c.object(&db.name, 2, "admin");

    // create
    let mut vals = Map::new();
    vals.insert("name".into(), json!("Conformance Customer"));
    vals.insert("email".into(), json!("cc@example.com"));
    vals.insert("is_company".into(), json!(true));
    let pid = obj
        .create("res.partner", vals.clone())
        .await
        .expect("create");
    assert!(pid > 0);
    let ex = rec.last();
    let id = assert_service_request(
        &ex,
        "object",
        "execute_kw",
        &json!([
            db.name,
            2,
            "admin",
            "res.partner",
            "create",
            [Value::Object(vals)],
            {}
        ]),
    );
    assert_eq!(assert_ok_envelope(&ex.response_json(), &id), json!(pid));

    // search_read with fields, limit, order
    let opts = SearchOptions {
        limit: Some(5),
        offset: None,
        order: Some("id desc".into()),
    };
    let rows = obj
        .search_read(
            "res.partner",
            json!([["name", "ilike", "conformance"]]),
            &["name", "email", "is_company"],
            &opts,
        )
        .await
        .expect("search_read");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["id"], json!(pid));
    assert_eq!(rows[0]["name"], "Conformance Customer");
    assert_eq!(rows[0]["email"], "cc@example.com");
    let ex = rec.last();
    let id = assert_service_request(
        &ex,
        "object",
        "execute_kw",
        &json!([db.name, 2, "admin", "res.partner", "search_read",
            [[["name", "ilike", "conformance"]]],
            {"fields": ["name", "email", "is_company"], "limit": 5, "order": "id desc"}]),
    );
    let raw_rows = assert_ok_envelope(&ex.response_json(), &id);
    let raw_row = raw_rows[0].as_object().expect("row");
    let mut keys: Vec<&str> = raw_row.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["email", "id", "is_company", "name"],
        "search_read returns id + fields"
    );

    // search / search_count
    let ids = obj
        .search(
            "res.partner",
            json!([["email", "=", "cc@example.com"]]),
            &SearchOptions::default(),
        )
        .await
        .expect("search");
    assert_eq!(ids, vec![pid]);
    let ex = rec.last();
    let id = ex.request_json()["id"].clone();
    assert_eq!(assert_ok_envelope(&ex.response_json(), &id), json!([pid]));
    let n = obj
        .search_count("res.partner", json!([["email", "=", "cc@example.com"]]))
        .await
        .expect("search_count");
    assert_eq!(n, 1);
    assert_eq!(rec.last().response_json()["result"], json!(1));

    // write then read: unset fields are false, many2one are [id, name] or false
    let mut w = Map::new();
    w.insert("city".into(), json!("Brussels"));
    assert!(obj
        .write("res.partner", &[pid], w.clone())
        .await
        .expect("write"));
    let ex = rec.last();
    let id = assert_service_request(
        &ex,
        "object",
        "execute_kw",
        &json!([
            db.name,
            2,
            "admin",
            "res.partner",
            "write",
            [[pid], Value::Object(w)],
            {}
        ]),
    );
    assert_eq!(assert_ok_envelope(&ex.response_json(), &id), json!(true));
    let read = obj
        .read(
            "res.partner",
            &[pid],
            &["name", "city", "phone", "country_id"],
        )
        .await
        .expect("read");
    assert_eq!(read[0]["city"], "Brussels");
    assert_eq!(read[0]["phone"], json!(false), "unset char field is false");
    assert_eq!(
        read[0]["country_id"],
        json!(false),
        "unset many2one is false"
    );
    let ex = rec.last();
    let args = ex.request_json()["params"]["args"]
        .as_array()
        .expect("args")
        .clone();
    assert_eq!(
        args[5..].to_vec(),
        vec![
            json!([[pid]]),
            json!({"fields": ["name", "city", "phone", "country_id"]})
        ]
    );

    // many2one as [id, "name"]
    let admin = obj
        .read("res.users", &[2], &["partner_id"])
        .await
        .expect("read user");
    let m2o = admin[0]["partner_id"].as_array().expect("many2one pair");
    assert!(m2o[0].is_i64() && m2o[1].is_string(), "{m2o:?}");

    // unlink
    assert!(obj.unlink("res.partner", &[pid]).await.expect("unlink"));
    assert_eq!(rec.last().response_json()["result"], json!(true));
    assert_eq!(
        obj.search_count("res.partner", json!([["id", "=", pid]]))
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn execute_kw_kwargs_carry_the_context() {
    let sim = shared_sim();
    let db = TestDb::new(SimCatalogue::None).await;
    let (c, rec) = client(&sim.url);
    let obj = c
        .object(&db.name, 2, "admin")
        .with_context(json!({"allowed_company_ids": [1], "lang": "en_US"}));
    let rows = obj
        .search_read(
            "res.company",
            json!([]),
            &["name"],
            &SearchOptions::default(),
        )
        .await
        .expect("search_read with context");
    assert_eq!(rows[0]["id"], json!(1));
    let req = rec.last().request_json();
    assert_eq!(
        req["params"]["args"][6],
        json!({"fields": ["name"], "context": {"allowed_company_ids": [1], "lang": "en_US"}})
    );
    // An explicit context in kwargs wins over the bound one.
    let mut kw = Map::new();
    kw.insert("context".into(), json!({"allowed_company_ids": [1]}));
    obj.execute_kw("res.partner", "search_count", vec![json!([])], kw)
        .await
        .expect("search_count");
    assert_eq!(
        rec.last().request_json()["params"]["args"][6],
        json!({"context": {"allowed_company_ids": [1]}})
    );
}

#[tokio::test]
async fn install_point_of_sale_marks_it_and_its_dependencies_installed() {
    let sim = shared_sim();
    let db = TestDb::new(SimCatalogue::None).await;
    let (c, rec) = client(&sim.url);
    let obj = c.object(&db.name, 2, "admin");
    let deps = [
        "point_of_sale",
        "stock_account",
        "stock",
        "account",
        "product",
        "mail",
        "uom",
        "barcodes",
        "web_editor",
        "digest",
        "phone_validation",
        "resource",
    ];
    let before = obj
        .search_read(
            "ir.module.module",
            json!([["name", "in", deps]]),
            &["name", "state"],
            &SearchOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(before.len(), deps.len());
    assert!(
        before.iter().all(|r| r["state"] == "uninstalled"),
        "{before:?}"
    );

    rec.clear();
    let installed = c
        .install_modules(&db.name, 2, "admin", &["point_of_sale"])
        .await
        .expect("install");
    assert_eq!(installed, vec!["point_of_sale".to_owned()]);
    let ex = rec.exchanges();
    assert_eq!(ex.len(), 2, "search_read then button_immediate_install");
    let args = &ex[1].request_json()["params"]["args"];
    assert_eq!(args[3], "ir.module.module");
    assert_eq!(args[4], "button_immediate_install");
    let action = ex[1].response_json()["result"].clone();
    assert_eq!(action["type"], "ir.actions.act_url", "{action}");

    let after = obj
        .search_read(
            "ir.module.module",
            json!([["name", "in", deps]]),
            &["name", "state"],
            &SearchOptions::default(),
        )
        .await
        .unwrap();
    for r in &after {
        assert_eq!(r["state"], "installed", "{r:?}");
    }
    let crm = obj
        .search_read(
            "ir.module.module",
            json!([["name", "=", "crm"]]),
            &["state"],
            &SearchOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        crm[0]["state"], "uninstalled",
        "unrelated modules stay uninstalled"
    );
    // The POS models now exist; installing again sends nothing.
    assert!(obj.search_count("pos.config", json!([])).await.is_ok());
    rec.clear();
    assert!(c
        .install_modules(&db.name, 2, "admin", &["point_of_sale"])
        .await
        .unwrap()
        .is_empty());
    assert_eq!(rec.len(), 1, "only the lookup when already installed");
}

#[tokio::test]
async fn install_unknown_module_fails_typed_and_sends_no_install() {
    let sim = shared_sim();
    let db = TestDb::new(SimCatalogue::None).await;
    let (c, rec) = client(&sim.url);
    let r = c
        .install_modules(&db.name, 2, "admin", &["point_of_sale", "no_such_module"])
        .await;
    match r {
        Err(RpcError::UnknownModules(names)) => assert_eq!(names, vec!["no_such_module"]),
        other => panic!("expected UnknownModules, got {other:?}"),
    }
    let ex = rec.exchanges();
    assert_eq!(ex.len(), 1, "only the lookup was sent");
    assert_eq!(ex[0].request_json()["params"]["args"][4], "search_read");
    assert!(ex
        .iter()
        .all(|e| !String::from_utf8_lossy(&e.request.body).contains("button_immediate_install")));
    let pos = c
        .object(&db.name, 2, "admin")
        .search_read(
            "ir.module.module",
            json!([["name", "=", "point_of_sale"]]),
            &["state"],
            &SearchOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(pos[0]["state"], "uninstalled", "nothing was installed");
}
