//! Error paths of `/jsonrpc` `object`/`common`: each checks the typed variant and the raw
//! error payload (`code`, `message`, `data.{name,message,arguments,context,debug}`).
//! (Session, database and POS error paths live in web_session.rs, db_service.rs, pos.rs.)

use conformance::*;
use odoo_rpc::{OdooError, RpcError, SearchOptions};
use serde_json::{json, Map, Value};

fn recording(name: &str) -> Value {
    let p = format!(
        "{}/../testdata/odoo18/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(p).expect("recording")).expect("json")
}

/// Compares an error envelope with a recorded one, ignoring `id` and the traceback text.
fn assert_like_recording(body: &Value, name: &str) {
    let mut r = recording(name)["response"].clone();
    let mut s = body.clone();
    for v in [&mut r, &mut s] {
        v["id"] = Value::Null;
        v["error"]["data"]["debug"] = Value::Null;
    }
    assert_eq!(s, r, "envelope differs from {name}");
}

fn check(e: &OdooError, rec: &Rec, name: &str, message: &str) -> Value {
    let ex = rec.last();
    assert_eq!(ex.status(), 200, "errors come with HTTP 200");
    let body = ex.response_json();
    let raw = assert_error_envelope(&body, Some(&ex.request_json()["id"]), 200, name, message);
    assert_payload_matches(e, &raw);
    assert_eq!(e.name(), name);
    assert_eq!(e.message(), message);
    assert_eq!(e.code(), 200);
    body
}

#[tokio::test]
async fn execute_kw_with_wrong_password_is_access_denied() {
    let sim = shared_sim();
    let db = TestDb::new(SimCatalogue::None).await;
    let (c, rec) = client(&sim.url);
    let obj = c.object(&db.name, 2, "WRONG");
    let e = odoo_err(obj.search_count("res.partner", json!([])).await);
    assert!(matches!(e, OdooError::AccessDenied(_)), "{e:?}");
    let body = check(&e, &rec, "odoo.exceptions.AccessDenied", "Access Denied");
    assert_like_recording(&body, "06_execute_kw_bad_password_AccessDenied");
    // An empty password and an unknown uid are refused the same way.
    let e = odoo_err(
        c.object(&db.name, 2, "")
            .search_count("res.partner", json!([]))
            .await,
    );
    assert!(matches!(e, OdooError::AccessDenied(_)), "{e:?}");
    let e = odoo_err(
        c.object(&db.name, 999, "admin")
            .search_count("res.partner", json!([]))
            .await,
    );
    assert!(matches!(e, OdooError::AccessDenied(_)), "{e:?}");
}

#[tokio::test]
async fn unknown_database_is_a_psycopg2_operational_error() {
    let sim = shared_sim();
    let (c, rec) = client(&sim.url);
    let mut kw = Map::new();
    kw.insert("limit".into(), json!(1));
    let r = c
        .execute_kw(
            "no_such_db",
            2,
            "admin",
            "res.partner",
            "search_read",
            vec![json!([])],
            kw,
        )
        .await;
    let e = odoo_err(r);
    let msg = "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  database \"no_such_db\" does not exist\n";
    match &e {
        OdooError::Server { name, message, .. } => {
            assert_eq!(name, "psycopg2.OperationalError");
            assert_eq!(message, msg);
        }
        other => panic!("expected Server, got {other:?}"),
    }
    let body = check(&e, &rec, "psycopg2.OperationalError", msg);
    assert_like_recording(&body, "06d_execute_kw_unknown_db");
    // common.authenticate on an unknown db is an error too, not `false`.
    let e = odoo_err(c.authenticate("no_such_db", "admin", "admin").await);
    assert_eq!(e.name(), "psycopg2.OperationalError");
}

#[tokio::test]
async fn unknown_model_is_a_user_error() {
    let sim = shared_sim();
    let db = TestDb::new(SimCatalogue::None).await;
    let (c, rec) = client(&sim.url);
    let e = odoo_err(
        c.object(&db.name, 2, "admin")
            .execute_kw("no.such.model", "search_read", vec![json!([])], Map::new())
            .await,
    );
    assert!(matches!(e, OdooError::UserError(_)), "{e:?}");
    let body = check(
        &e,
        &rec,
        "odoo.exceptions.UserError",
        "Object no.such.model doesn't exist",
    );
    assert_like_recording(&body, "05_execute_kw_unknown_model");
    // A model of a module that is not installed does not exist either.
    let e = odoo_err(
        c.object(&db.name, 2, "admin")
            .search_count("pos.order", json!([]))
            .await,
    );
    assert!(matches!(e, OdooError::UserError(_)), "{e:?}");
    assert_eq!(e.message(), "Object pos.order doesn't exist");
}

#[tokio::test]
async fn unknown_method_is_an_attribute_error() {
    let sim = shared_sim();
    let db = TestDb::new(SimCatalogue::None).await;
    let (c, rec) = client(&sim.url);
    let e = odoo_err(
        c.object(&db.name, 2, "admin")
            .execute_kw("res.partner", "no_such_method", vec![json!([])], Map::new())
            .await,
    );
    match &e {
        OdooError::Server { name, .. } => assert_eq!(name, "builtins.AttributeError"),
        other => panic!("expected Server(AttributeError), got {other:?}"),
    }
    let body = check(
        &e,
        &rec,
        "builtins.AttributeError",
        "The method 'res.partner.no_such_method' does not exist",
    );
    assert_like_recording(&body, "06b_execute_kw_unknown_method");
}

#[tokio::test]
async fn private_method_is_an_access_error() {
    let sim = shared_sim();
    let db = TestDb::new(SimCatalogue::None).await;
    let (c, rec) = client(&sim.url);
    let e = odoo_err(
        c.object(&db.name, 2, "admin")
            .execute_kw(
                "res.partner",
                "_compute_display_name",
                vec![json!([])],
                Map::new(),
            )
            .await,
    );
    assert!(matches!(e, OdooError::AccessError(_)), "{e:?}");
    let body = check(
        &e,
        &rec,
        "odoo.exceptions.AccessError",
        "Private methods (such as 'res.partner._compute_display_name') cannot be called remotely.",
    );
    assert_like_recording(&body, "06c_execute_kw_private_method");
}

#[tokio::test]
async fn unknown_service_and_methods_are_server_errors() {
    let sim = shared_sim();
    let db = TestDb::new(SimCatalogue::None).await;
    let (c, rec) = client(&sim.url);
    let e = odoo_err(c.call_service("nosuch", "version", vec![], true).await);
    assert!(matches!(e, OdooError::Server { .. }), "{e:?}");
    assert_eq!(e.name(), "builtins.KeyError");
    assert_error_envelope(
        &rec.last().response_json(),
        None,
        200,
        "builtins.KeyError",
        e.message(),
    );
    let e = odoo_err(c.call_service("common", "nosuch", vec![], true).await);
    assert_eq!(e.name(), "builtins.Exception");
    assert_eq!(e.message(), "Method not found: nosuch");
    let e = odoo_err(
        c.call_service(
            "object",
            "nosuch",
            vec![json!(db.name), json!(2), json!("admin")],
            false,
        )
        .await,
    );
    assert_eq!(e.name(), "builtins.NameError");
    assert_eq!(e.message(), "Method not available nosuch");
    // authenticate with its required 4th argument missing: TypeError
    let e = odoo_err(
        c.call_service(
            "common",
            "authenticate",
            vec![json!(db.name), json!("admin"), json!("admin")],
            true,
        )
        .await,
    );
    assert_eq!(e.name(), "builtins.TypeError");
    assert_error_envelope(
        &rec.last().response_json(),
        None,
        200,
        "builtins.TypeError",
        e.message(),
    );
}

#[tokio::test]
async fn missing_record_and_validation_errors_are_typed() {
    let sim = shared_sim();
    let db = TestDb::new(SimCatalogue::None).await;
    let (c, rec) = client(&sim.url);
    let obj = c.object(&db.name, 2, "admin");
    let mut w = Map::new();
    w.insert("city".into(), json!("Nowhere"));
    let e = odoo_err(obj.write("res.partner", &[987_654], w).await);
    assert!(matches!(e, OdooError::MissingError(_)), "{e:?}");
    let raw = assert_error_envelope(
        &rec.last().response_json(),
        None,
        200,
        "odoo.exceptions.MissingError",
        e.message(),
    );
    assert_payload_matches(&e, &raw);
    // create without the required name
    let r = obj.create("res.partner", Map::new()).await;
    match r {
        Err(RpcError::Odoo(e)) => {
            assert!(
                matches!(
                    e,
                    OdooError::ValidationError(_)
                        | OdooError::UserError(_)
                        | OdooError::Server { .. }
                ),
                "{e:?}"
            );
            let ex = rec.last();
            assert_error_envelope(&ex.response_json(), None, 200, e.name(), e.message());
        }
        Ok(id) => {
            // Odoo 18 accepts a nameless contact (name is not required): fine, nothing to check.
            assert!(id > 0);
        }
        Err(other) => panic!("{other:?}"),
    }
    let _ = obj
        .search_read(
            "res.partner",
            json!([]),
            &["name"],
            &SearchOptions::default(),
        )
        .await
        .expect("the sim still answers");
}
