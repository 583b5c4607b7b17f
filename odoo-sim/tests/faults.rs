//! Bad input, db service, multi-company and module install behaviour.

mod common;
use common::*;
use odoo_sim::Catalogue;
use serde_json::json;

#[tokio::test]
async fn bad_requests_have_odoo_shapes() {
    let sim = Sim::start(Catalogue::None).await;
    let (s, h, t) = sim
        .post_raw("/jsonrpc", &[], b"{}".to_vec(), "text/plain")
        .await;
    assert_eq!(s, 400);
    assert!(h["content-type"]
        .to_str()
        .unwrap_or("")
        .starts_with("text/html"));
    assert!(t.contains("is type=&#x27;json&#x27;"), "{t}");
    let (s, _, t) = sim
        .post_raw("/jsonrpc", &[], b"{not json".to_vec(), "application/json")
        .await;
    assert_eq!((s, t.as_str()), (400, "Invalid JSON data"));
    let (s, _, t) = sim
        .post_raw("/jsonrpc", &[], b"[1, 2]".to_vec(), "application/json")
        .await;
    assert_eq!((s, t.as_str()), (400, "Invalid JSON-RPC data"));
    let (s, _, t) = sim
        .post_raw("/no/such/route", &[], b"{}".to_vec(), "application/json")
        .await;
    assert_eq!(s, 404);
    assert!(t.contains("<title>404 Not Found</title>"));
    // huge body: refused, server still alive
    let big = vec![b' '; odoo_sim::server::MAX_BODY + 10];
    let (s, _, _) = sim.post_raw("/jsonrpc", &[], big, "application/json").await;
    assert_eq!(s, 413);
    // missing args → TypeError envelope
    let (_, _, v) = sim.post("/jsonrpc", &[], &json!({"jsonrpc": "2.0", "id": 3, "params": {"service": "common", "method": "version"}})).await;
    assert_eq!(err_name(&v), "builtins.TypeError");
    assert_eq!(
        err_msg(&v),
        "RPC.json_rpc() missing 1 required positional argument: 'args'"
    );
    assert_eq!(v["id"], json!(3));
    // unknown service → KeyError
    let v = sim.rpc("nope", "x", json!([])).await;
    assert_eq!(
        (err_name(&v), v["error"]["code"].clone()),
        ("builtins.KeyError".into(), json!(200))
    );
    // wrong types
    let v = sim
        .rpc(
            "object",
            "execute_kw",
            json!([sim.db, "abc", "admin", "res.partner", "read", [[1]]]),
        )
        .await;
    assert_eq!(err_msg(&v), "invalid literal for int() with base 10: 'abc'");
    let v = sim
        .rpc(
            "object",
            "execute_kw",
            json!([sim.db, 2, "admin", "res.partner", "search_read", 5]),
        )
        .await;
    assert_eq!(err_name(&v), "builtins.TypeError");
    let v = sim
        .rpc("common", "authenticate", json!([sim.db, "admin", "admin"]))
        .await;
    assert_eq!(
        err_msg(&v),
        "exp_authenticate() missing 1 required positional argument: 'user_agent_env'"
    );
    let v = sim
        .kw(
            "res.partner",
            "search_read",
            json!([[["nope", "=", 1]]]),
            json!({}),
        )
        .await;
    assert_eq!(
        err_msg(&v),
        "Invalid field res.partner.nope in leaf ('nope', '=', 1)"
    );
    let v = sim
        .kw(
            "res.partner",
            "create",
            json!([{"name": "x", "nope": 1}]),
            json!({}),
        )
        .await;
    assert_eq!(
        (err_name(&v), err_msg(&v)),
        (
            "builtins.ValueError".into(),
            "Invalid field 'nope' on model 'res.partner'".into()
        )
    );
    // read() of ids that do not exist returns the existing records only, in the order
    // asked (odoo/models.py `_read_format`: one dict per record that exists)
    let v = sim
        .kw(
            "res.partner",
            "read",
            json!([[999999], ["name"]]),
            json!({}),
        )
        .await;
    assert_eq!(v["result"], json!([]), "{v}");
    let v = sim
        .kw(
            "res.partner",
            "read",
            json!([[999999, 3, 999998, 1], ["name"]]),
            json!({}),
        )
        .await;
    let ids: Vec<i64> = v["result"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["id"].as_i64())
        .collect();
    assert_eq!(ids, vec![3, 1], "{v}");
    let v = sim
        .kw("res.partner", "search", json!([]), json!({"bogus": 1}))
        .await;
    assert_eq!(err_name(&v), "builtins.TypeError");
    for junk in [
        json!(null),
        json!("x"),
        json!([[1, 2, 3]]),
        json!({"a": [1]}),
        json!([[["name", "bad-op", 1]]]),
    ] {
        let v = sim
            .kw(
                "res.partner",
                "search_read",
                junk.clone(),
                json!({"order": "name; drop table x"}),
            )
            .await;
        assert!(
            v.get("error").is_some() || v.get("result").is_some(),
            "{junk}: {v}"
        );
    }
    // None result omits "result"
    let (_, _, v) = sim
        .post(
            "/web/webclient/version_info",
            &[],
            &json!({"jsonrpc": "2.0", "id": 9, "params": {}}),
        )
        .await;
    assert_eq!(v["result"]["server_serie"], json!("18.0"));
    let (s, _, t) = sim.post_raw("/web/health", &[], vec![], "text/plain").await;
    assert_eq!((s, t.as_str()), (200, "{\"status\":\"pass\"}"));
    // the uninstalled POS models do not exist yet
    let v = sim
        .kw("pos.order", "search_read", json!([[]]), json!({}))
        .await;
    assert_eq!(err_msg(&v), "Object pos.order doesn't exist");
    sim.stop().await;
}

#[tokio::test]
async fn orm_multi_company_and_modules() {
    let sim = Sim::start(Catalogue::None).await;
    // partners: create / write / search_read with domains
    let id = sim
        .ok(
            "res.partner",
            "create",
            json!([{"name": "Acme", "is_company": true, "email": "a@acme.test"}]),
            json!({}),
        )
        .await;
    let ids = sim
        .ok(
            "res.partner",
            "create",
            json!([[{"name": "Bob", "parent_id": id}, {"name": "Carol"}]]),
            json!({}),
        )
        .await;
    assert_eq!(ids.as_array().map(Vec::len), Some(2));
    assert_eq!(
        sim.ok(
            "res.partner",
            "write",
            json!([[id], {"city": "Paris"}]),
            json!({})
        )
        .await,
        json!(true)
    );
    let r = sim
        .ok(
            "res.partner",
            "search_read",
            json!([[
                "|",
                ["city", "=", "Paris"],
                "&",
                ["name", "ilike", "bo"],
                ["parent_id", "!=", false]
            ]]),
            json!({"fields": ["name", "parent_id", "write_date"], "order": "name"}),
        )
        .await;
    assert_eq!(r[0]["name"], json!("Acme"));
    assert_eq!(r[1]["parent_id"], json!([id, "Acme"]));
    assert!(r[0]["write_date"].as_str().is_some_and(|s| s.len() == 19));
    assert_eq!(
        sim.ok(
            "res.partner",
            "search_count",
            json!([[["id", "in", [id]]]]),
            json!({})
        )
        .await,
        json!(1)
    );
    assert_eq!(
        sim.ok("res.partner", "name_search", json!(["Car"]), json!({}))
            .await[0][1],
        json!("Carol")
    );
    // users
    assert_eq!(
        sim.ok("res.users", "context_get", json!([]), json!({}))
            .await,
        json!({"lang": "en_US", "tz": false, "uid": 2})
    );
    assert_eq!(
        sim.ok(
            "res.users",
            "has_group",
            json!([[2], "base.group_system"]),
            json!({})
        )
        .await,
        json!(true)
    );
    assert_eq!(
        sim.ok(
            "res.users",
            "has_group",
            json!([[2], "base.group_multi_company"]),
            json!({})
        )
        .await,
        json!(false)
    );
    // multi-company: a new company is linked to the caller and enables the group
    let c2 = sim
        .ok(
            "res.company",
            "create",
            json!([{"name": "Second Co"}]),
            json!({}),
        )
        .await;
    let u = sim
        .ok(
            "res.users",
            "read",
            json!([[2], ["company_ids", "groups_id"]]),
            json!({}),
        )
        .await;
    assert_eq!(u[0]["company_ids"], json!([1, c2]));
    assert_eq!(
        sim.ok(
            "res.users",
            "has_group",
            json!([[2], "base.group_multi_company"]),
            json!({})
        )
        .await,
        json!(true)
    );
    sim.ok(
        "res.users",
        "write",
        json!([[2], {"company_ids": [[6, 0, [1]]]}]),
        json!({}),
    )
    .await;
    assert_eq!(
        sim.ok(
            "res.users",
            "has_group",
            json!([[2], "base.group_multi_company"]),
            json!({})
        )
        .await,
        json!(false)
    );
    // a new user can log in; password is hashed like Odoo
    let uid = sim
        .ok(
            "res.users",
            "create",
            json!([{"name": "Clerk", "login": "clerk", "password": "pw-clerk"}]),
            json!({}),
        )
        .await;
    assert_eq!(
        sim.rpc("common", "login", json!([sim.db, "clerk", "pw-clerk"]))
            .await["result"],
        uid
    );
    // module install needs Access Rights admin
    let v = sim
        .rpc(
            "object",
            "execute_kw",
            json!([
                sim.db,
                uid,
                "pw-clerk",
                "ir.module.module",
                "button_immediate_install",
                [[1]]
            ]),
        )
        .await;
    assert_eq!(err_name(&v), "odoo.exceptions.AccessDenied");
    assert_eq!(
        sim.ok("ir.module.module", "update_list", json!([]), json!({}))
            .await,
        json!([0, 0])
    );
    let pos = sim
        .ok(
            "ir.module.module",
            "search",
            json!([[["name", "=", "point_of_sale"]]]),
            json!({}),
        )
        .await;
    let r = sim
        .ok(
            "ir.module.module",
            "button_immediate_install",
            json!([pos]),
            json!({}),
        )
        .await;
    assert_eq!(
        r,
        json!({"type": "ir.actions.act_url", "target": "self", "url": "/odoo"})
    );
    let st = sim
        .ok(
            "ir.module.module",
            "search_read",
            json!([[["name", "in", ["point_of_sale", "account", "stock", "crm"]]]]),
            json!({"fields": ["name", "state"], "order": "name"}),
        )
        .await;
    assert_eq!(
        st,
        json!([{"id": st[0]["id"], "name": "account", "state": "installed"}, {"id": st[1]["id"], "name": "crm", "state": "uninstalled"},
        {"id": st[2]["id"], "name": "point_of_sale", "state": "installed"}, {"id": st[3]["id"], "name": "stock", "state": "installed"}])
    );
    assert_eq!(
        sim.ok("pos.order", "search_count", json!([[]]), json!({}))
            .await,
        json!(0)
    );
    sim.stop().await;
}

#[tokio::test]
async fn db_service() {
    let sim = Sim::start(Catalogue::None).await;
    let v = sim
        .rpc(
            "db",
            "create_database",
            json!(["admin", "x", false, "en_US"]),
        )
        .await;
    assert_eq!(err_name(&v), "odoo.exceptions.AccessDenied");
    let v = sim
        .rpc(
            "db",
            "create_database",
            json!(["masterpw", sim.db, false, "en_US"]),
        )
        .await;
    assert_eq!(
        (err_name(&v), err_msg(&v)),
        (
            "odoo.service.db.DatabaseExists".into(),
            format!("database '{}' already exists!", sim.db)
        )
    );
    assert_eq!(
        sim.rpc("db", "db_exist", json!([sim.db])).await["result"],
        json!(true)
    );
    assert_eq!(
        sim.rpc("db", "server_version", json!([])).await["result"],
        json!(odoo_sim::VERSION)
    );
    assert!(
        sim.rpc("db", "list_countries", json!(["masterpw"])).await["result"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );
    // create over RPC: admin login/password applied
    let newdb = unique_db("sim_test_rpc");
    assert_eq!(
        sim.rpc(
            "db",
            "create_database",
            json!([
                "masterpw",
                newdb,
                false,
                "fr_FR",
                "s3cret",
                "boss@example.com",
                "BE",
                ""
            ])
        )
        .await["result"],
        json!(true)
    );
    assert_eq!(
        sim.rpc(
            "common",
            "authenticate",
            json!([newdb, "boss@example.com", "s3cret", {}])
        )
        .await["result"],
        json!(2)
    );
    // duplicate resets the database parameters
    let dup = unique_db("sim_test_dup");
    assert_eq!(
        sim.rpc("db", "duplicate_database", json!(["masterpw", newdb, dup]))
            .await["result"],
        json!(true)
    );
    let q = |db: &str| {
        json!([
            db,
            2,
            "s3cret",
            "ir.config_parameter",
            "get_param",
            ["database.uuid"]
        ])
    };
    let u1 = sim.rpc("object", "execute_kw", q(&newdb)).await["result"].clone();
    let u2 = sim.rpc("object", "execute_kw", q(&dup)).await["result"].clone();
    assert!(u1.is_string() && u2.is_string() && u1 != u2);
    let v = sim
        .rpc("db", "duplicate_database", json!(["masterpw", newdb, dup]))
        .await;
    assert_eq!(err_name(&v), "psycopg2.errors.DuplicateDatabase");
    assert_eq!(
        sim.rpc("db", "drop", json!(["masterpw", dup])).await["result"],
        json!(true)
    );
    assert_eq!(
        sim.rpc("db", "drop", json!(["masterpw", newdb])).await["result"],
        json!(true)
    );
    assert_eq!(
        sim.rpc("db", "drop", json!(["masterpw", newdb])).await["result"],
        json!(false)
    );
    let v = sim
        .rpc("common", "login", json!([newdb, "admin", "admin"]))
        .await;
    assert_eq!(err_name(&v), "psycopg2.OperationalError");
    sim.stop().await;

    // list_db = false: list and management calls are refused
    let sim = Sim::start_with(Catalogue::None, |c| c.list_db = false).await;
    assert_eq!(
        err_name(&sim.rpc("db", "list", json!([])).await),
        "odoo.exceptions.AccessDenied"
    );
    assert_eq!(
        err_name(&sim.rpc("db", "drop", json!(["masterpw", "whatever"])).await),
        "odoo.exceptions.AccessDenied"
    );
    let (_, _, v) = sim
        .post(
            "/web/database/list",
            &[],
            &json!({"jsonrpc": "2.0", "id": 1, "params": {}}),
        )
        .await;
    assert_eq!(err_name(&v), "odoo.exceptions.AccessDenied");
    assert_eq!(
        sim.rpc("db", "db_exist", json!([sim.db])).await["result"],
        json!(true)
    );
    sim.stop().await;
}
