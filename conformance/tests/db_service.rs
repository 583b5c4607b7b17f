//! The `db` service: list, db_exist, server_version, create/duplicate/drop,
//! change_admin_password, wrong master password and `list_db = False`.

use conformance::*;
use odoo_rpc::{OdooError, SearchOptions};
use serde_json::{json, Value};

fn db_request(ex: &Exchange, method: &str, args: &Value) -> Value {
    assert_eq!(ex.request.path, "/jsonrpc");
    let req = ex.request_json();
    assert_eq!(req["jsonrpc"], "2.0");
    assert_eq!(req["method"], "call");
    assert_eq!(
        req["params"],
        json!({"service": "db", "method": method, "args": args})
    );
    req["id"].clone()
}

async fn param(url: &str, db: &str, key: &str) -> Option<String> {
    let (c, _) = client(url);
    let rows = c
        .object(db, 2, "admin")
        .search_read(
            "ir.config_parameter",
            json!([["key", "=", key]]),
            &["value"],
            &SearchOptions::default(),
        )
        .await
        .expect("read ir.config_parameter");
    rows.first()
        .and_then(|r| r.get("value"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

#[tokio::test]
async fn list_db_exist_and_server_version_answer_without_master() {
    let sim = shared_sim();
    let db = TestDb::new(SimCatalogue::None).await;
    let (c, rec) = client(&sim.url);

    let names = c.db_list().await.expect("list");
    assert!(names.contains(&db.name), "{names:?}");
    let ex = rec.last();
    let id = db_request(&ex, "list", &json!([]));
    let raw = assert_ok_envelope(&ex.response_json(), &id);
    assert_eq!(raw, json!(names), "typed list is the raw list");

    assert!(c.db_exist(&db.name).await.expect("db_exist"));
    let ex = rec.last();
    let id = db_request(&ex, "db_exist", &json!([db.name]));
    assert_eq!(assert_ok_envelope(&ex.response_json(), &id), json!(true));
    assert!(!c
        .db_exist("conf_test_does_not_exist")
        .await
        .expect("db_exist"));
    assert_eq!(rec.last().response_json()["result"], json!(false));

    assert_eq!(
        c.server_version().await.expect("server_version"),
        "18.0-20250702"
    );
    let ex = rec.last();
    let id = db_request(&ex, "server_version", &json!([]));
    assert_eq!(
        assert_ok_envelope(&ex.response_json(), &id),
        json!("18.0-20250702")
    );
}

#[tokio::test]
async fn create_database_then_authenticate_with_the_given_login() {
    let sim = shared_sim();
    let name = unique_db();
    let _guard = TestDb::adopt(&name);
    let (c, rec) = client(&sim.url);
    let ok = c
        .create_database(
            MASTER,
            &name,
            false,
            "en_US",
            "s3cret-pw",
            "boss@example.com",
            Some("BE"),
            None,
        )
        .await
        .expect("create_database");
    assert!(ok);
    let ex = rec.last();
    let id = db_request(
        &ex,
        "create_database",
        &json!([
            MASTER,
            name,
            false,
            "en_US",
            "s3cret-pw",
            "boss@example.com",
            "BE",
            null
        ]),
    );
    assert_eq!(assert_ok_envelope(&ex.response_json(), &id), json!(true));
    assert!(c.db_exist(&name).await.unwrap());
    assert_eq!(
        c.authenticate(&name, "boss@example.com", "s3cret-pw")
            .await
            .unwrap(),
        Some(2)
    );
    assert_eq!(c.authenticate(&name, "admin", "admin").await.unwrap(), None);
    // Creating it again: DatabaseExists, nothing else touched.
    let e = odoo_err(
        c.create_database(MASTER, &name, false, "en_US", "x", "admin", None, None)
            .await,
    );
    assert_eq!(e.name(), "odoo.service.db.DatabaseExists");
    assert_eq!(e.message(), format!("database '{name}' already exists!"));
    assert_error_envelope(
        &rec.last().response_json(),
        None,
        200,
        "odoo.service.db.DatabaseExists",
        &format!("database '{name}' already exists!"),
    );
}

#[tokio::test]
async fn create_database_with_wrong_master_is_access_denied() {
    let sim = shared_sim();
    let name = unique_db();
    let _guard = TestDb::adopt(&name);
    let (c, rec) = client(&sim.url);
    let e = odoo_err(
        c.create_database("WRONG", &name, false, "en_US", "admin", "admin", None, None)
            .await,
    );
    assert!(matches!(e, OdooError::AccessDenied(_)), "{e:?}");
    assert_eq!(e.code(), 200);
    let ex = rec.last();
    let id = ex.request_json()["id"].clone();
    let raw = assert_error_envelope(
        &ex.response_json(),
        Some(&id),
        200,
        "odoo.exceptions.AccessDenied",
        "Access Denied",
    );
    assert_eq!(raw["data"]["arguments"], json!(["Access Denied"]));
    assert_payload_matches(&e, &raw);
    assert!(!pg_has_database(&name).await, "nothing was created");
}

#[tokio::test]
async fn duplicate_database_gets_a_new_uuid_and_sends_two_args_without_neutralize() {
    let sim = shared_sim();
    let src = TestDb::new(SimCatalogue::None).await;
    let dst = TestDb::adopt(unique_db());
    let (c, rec) = client(&sim.url);
    assert!(c
        .duplicate_database(MASTER, &src.name, &dst.name, false)
        .await
        .expect("duplicate"));
    let ex = rec.last();
    // master + exactly two args: no neutralize flag (16.0 builds accept only two)
    let id = db_request(
        &ex,
        "duplicate_database",
        &json!([MASTER, src.name, dst.name]),
    );
    assert_eq!(assert_ok_envelope(&ex.response_json(), &id), json!(true));

    let u1 = param(&sim.url, &src.name, "database.uuid")
        .await
        .expect("src uuid");
    let u2 = param(&sim.url, &dst.name, "database.uuid")
        .await
        .expect("dst uuid");
    assert_ne!(u1, u2, "the copy gets a new database.uuid");
    assert_eq!(
        c.authenticate(&dst.name, "admin", "admin").await.unwrap(),
        Some(2),
        "users are copied"
    );
    assert_eq!(
        param(&sim.url, &dst.name, "database.is_neutralized").await,
        None
    );

    // With neutralize the flag is the third arg.
    let dst2 = TestDb::adopt(unique_db());
    assert!(c
        .duplicate_database(MASTER, &src.name, &dst2.name, true)
        .await
        .expect("duplicate neutralized"));
    db_request(
        &rec.last(),
        "duplicate_database",
        &json!([MASTER, src.name, dst2.name, true]),
    );
    assert_eq!(
        param(&sim.url, &dst2.name, "database.is_neutralized")
            .await
            .as_deref(),
        Some("True")
    );
}

#[tokio::test]
async fn drop_database_then_db_exist_is_false() {
    let sim = shared_sim();
    let db = TestDb::new(SimCatalogue::None).await;
    let (c, rec) = client(&sim.url);
    assert!(c.drop(MASTER, &db.name).await.expect("drop"));
    let ex = rec.last();
    let id = db_request(&ex, "drop", &json!([MASTER, db.name]));
    assert_eq!(assert_ok_envelope(&ex.response_json(), &id), json!(true));
    assert!(!c.db_exist(&db.name).await.unwrap());
    assert!(!pg_has_database(&db.name).await);
    // Dropping a missing database answers false, not an error.
    assert!(!c.drop(MASTER, &db.name).await.expect("drop again"));
    assert_eq!(rec.last().response_json()["result"], json!(false));
}

#[tokio::test]
async fn change_admin_password_refuses_the_old_master() {
    // A simulator of its own: this test rewrites the master password.
    let sim = SimServer::start_background(sim_config());
    let (c, rec) = client(&sim.url);
    assert!(c
        .change_admin_password(MASTER, "new-master")
        .await
        .expect("change_admin_password"));
    let ex = rec.last();
    let id = db_request(&ex, "change_admin_password", &json!([MASTER, "new-master"]));
    assert_eq!(assert_ok_envelope(&ex.response_json(), &id), json!(true));

    let e = odoo_err(c.drop(MASTER, "conf_test_never_there").await);
    assert!(matches!(e, OdooError::AccessDenied(_)), "{e:?}");
    assert_error_envelope(
        &rec.last().response_json(),
        None,
        200,
        "odoo.exceptions.AccessDenied",
        "Access Denied",
    );
    let e = odoo_err(c.change_admin_password(MASTER, "again").await);
    assert!(matches!(e, OdooError::AccessDenied(_)), "{e:?}");
    // The new one is accepted (drop of a missing db answers false).
    assert!(!c
        .drop("new-master", "conf_test_never_there")
        .await
        .expect("new master"));
}

#[tokio::test]
async fn list_db_false_refuses_listing_and_management_even_with_the_master() {
    let mut cfg = sim_config();
    cfg.list_db = false;
    let sim = SimServer::start_background(cfg);
    let (c, rec) = client(&sim.url);

    let e = odoo_err(c.db_list().await);
    assert!(matches!(e, OdooError::AccessDenied(_)), "{e:?}");
    let ex = rec.last();
    let id = ex.request_json()["id"].clone();
    let raw = assert_error_envelope(
        &ex.response_json(),
        Some(&id),
        200,
        "odoo.exceptions.AccessDenied",
        "Access Denied",
    );
    assert_payload_matches(&e, &raw);

    let name = unique_db();
    let _guard = TestDb::adopt(&name);
    let e = odoo_err(
        c.create_database(MASTER, &name, false, "en_US", "admin", "admin", None, None)
            .await,
    );
    assert!(matches!(e, OdooError::AccessDenied(_)), "{e:?}");
    assert_error_envelope(
        &rec.last().response_json(),
        None,
        200,
        "odoo.exceptions.AccessDenied",
        "Access Denied",
    );
    assert!(!pg_has_database(&name).await, "nothing was created");
    let e = odoo_err(c.drop(MASTER, "conf_test_never_there").await);
    assert!(matches!(e, OdooError::AccessDenied(_)), "{e:?}");
    // Unrestricted methods still answer.
    assert_eq!(c.server_version().await.unwrap(), "18.0-20250702");
    assert!(!c.db_exist("conf_test_never_there").await.unwrap());
}
