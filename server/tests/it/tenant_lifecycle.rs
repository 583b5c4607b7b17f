//! The tenant lifecycle end to end, through the API, against real PostgreSQL and odoo-sim.

use crate::common::harness::{Options, Platform};
use serde_json::{json, Value};
use sqlx::{ConnectOptions, Connection};
use std::time::Duration;

async fn config_param(p: &Platform, db: &str, key: &str) -> String {
    let mut c = p.db_options(db).connect().await.expect("connect tenant db");
    let v: String = sqlx::query_scalar("SELECT value FROM ir_config_parameter WHERE key = $1")
        .bind(key)
        .fetch_one(&mut c)
        .await
        .expect("param");
    let _ = c.close().await;
    v
}

async fn template_uuid(p: &Platform, template: &str) -> String {
    // The template refuses connections: open it just for this read.
    let mut c = p.db_options("postgres").connect().await.expect("connect");
    sqlx::query(&format!(
        "ALTER DATABASE \"{template}\" WITH ALLOW_CONNECTIONS true"
    ))
    .execute(&mut c)
    .await
    .expect("open template");
    let uuid = config_param(p, template, "database.uuid").await;
    sqlx::query(&format!(
        "ALTER DATABASE \"{template}\" WITH ALLOW_CONNECTIONS false"
    ))
    .execute(&mut c)
    .await
    .expect("close template");
    let _ = c.close().await;
    uuid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tenant_created_through_the_api_becomes_active_neutralized_and_answers_logins() {
    let p = Platform::start(Options::default()).await;
    let plan = p.plan_with_template("shop", &["point_of_sale"], 3).await;
    let key = plan["key"].as_str().expect("key").to_owned();
    let template = p.template_name(&key);

    let (status, accepted) = p.post("/tenants", p.tenant_body("acme", &key)).await;
    assert_eq!(status, 202, "{accepted}");
    let job_url = accepted["job_url"].as_str().expect("job url");
    assert!(job_url.starts_with("/api/v1/jobs/"), "{accepted}");
    assert_eq!(accepted["tenant"]["state"], "requested");
    let id = accepted["tenant"]["id"].as_str().expect("id").to_owned();
    let tenant = p.wait_tenant(&id, "active", Duration::from_secs(60)).await;
    let db = tenant["db_name"].as_str().expect("db").to_owned();
    assert_eq!(db, format!("t{}_acme", p.id));
    assert_eq!(tenant["hostname"], "acme.saas.test");
    assert!(p.databases().await.contains(&db));

    // A browser on the tenant's host gets Odoo's login page: the database belongs to
    // Odoo's role (the template's owner), the only databases Odoo serves by host.
    assert_eq!(p.db_owner(&db).await, odoo_sim::SIM_ROLE);
    let (status, location, page) = p.browse("acme", "/web/login").await;
    assert_eq!(status, 200, "{location} {page}");
    assert!(page.contains("oe_login_form"), "{page}");

    // Neutralized as Odoo's duplicate does.
    assert_ne!(
        config_param(&p, &db, "database.uuid").await,
        template_uuid(&p, &template).await
    );
    assert_eq!(
        config_param(&p, &db, "web.base.url").await,
        "https://acme.saas.test"
    );
    assert_eq!(
        config_param(&p, &db, "base.login_cooldown_after").await,
        "10"
    );

    // The owner logs in over JSON-RPC with their own credentials; the modules are there.
    let odoo = p.odoo();
    let uid = odoo
        .login(&db, "owner@acme.example.com", "correct horse battery")
        .await
        .expect("login call")
        .expect("owner's credentials accepted");
    assert_eq!(uid, 2);
    assert_eq!(
        odoo.login(&db, "owner@acme.example.com", "wrong")
            .await
            .expect("call"),
        None
    );
    let object = odoo.object(db.as_str(), uid, "correct horse battery");
    let pos = object
        .search_read(
            "ir.module.module",
            json!([["name", "=", "point_of_sale"]]),
            &["state"],
            &Default::default(),
        )
        .await
        .expect("modules");
    assert_eq!(pos[0]["state"], "installed");
    // A shop ready to sell, as Odoo's POS onboarding makes one: Cash of its own, Card on
    // the bank journal (and Customer Account, which splits transactions).
    let (shop, kinds) = the_one_shop(&object).await;
    assert_eq!(shop, "acme Ltd Shop");
    assert!(kinds.contains(&("Cash".into(), "cash".into())), "{kinds:?}");
    assert!(kinds.contains(&("Card".into(), "bank".into())), "{kinds:?}");
    let company = object
        .read("res.company", &[1], &["name"])
        .await
        .expect("company");
    assert_eq!(company[0]["name"], "acme Ltd");

    // Multi-company.
    let mut body = p.tenant_body("globex", &key);
    body["extra_companies"] = json!(["Globex West", "Globex East"]);
    let (db2, uid) = provision_and_sign_in(&p, body, "globex").await;
    let globex = odoo.object(db2.as_str(), uid, "correct horse battery");
    let companies = globex
        .search_read("res.company", json!([]), &["name"], &Default::default())
        .await
        .expect("companies");
    let names: Vec<&str> = companies
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    for name in ["globex Ltd", "Globex West", "Globex East"] {
        assert!(names.contains(&name), "{name} missing in {names:?}");
    }
    let has_group = globex
        .execute_kw(
            "res.users",
            "has_group",
            vec![json!([uid]), json!("base.group_multi_company")],
            Default::default(),
        )
        .await
        .expect("has_group");
    assert_eq!(has_group, json!(true));
    assert_ne!(
        config_param(&p, &db, "database.uuid").await,
        config_param(&p, &db2, "database.uuid").await
    );

    // A plan that asks for sample products: its tenants' shop comes from Odoo's own bakery
    // onboarding scenario, with the scenario's products ready to sell.
    let plan_id = plan["id"].as_str().expect("plan id").to_owned();
    let (status, changed) = p
        .patch(
            &format!("/plans/{plan_id}"),
            json!({"pos_sample_products": true}),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["pos_sample_products"], true);
    let (db3, uid) = provision_and_sign_in(&p, p.tenant_body("crumbs", &key), "crumbs").await;
    let object = odoo.object(db3.as_str(), uid, "correct horse battery");
    let (shop, kinds) = the_one_shop(&object).await;
    assert_eq!(shop, "Bakery Shop");
    assert_eq!(kinds.len(), 3, "Cash, Card and Customer Account: {kinds:?}");
    assert!(kinds.contains(&("Cash".into(), "cash".into())), "{kinds:?}");
    assert!(kinds.contains(&("Card".into(), "bank".into())), "{kinds:?}");
    let products = object
        .search_read(
            "product.product",
            json!([["available_in_pos", "=", true]]),
            &["name", "lst_price"],
            &Default::default(),
        )
        .await
        .expect("products");
    let loaf = products
        .iter()
        .find(|r| r["name"] == "Wholemeal loaf")
        .unwrap_or_else(|| panic!("no sample product in {products:?}"));
    assert_eq!(loaf["lst_price"], 2.99);
    assert_eq!(products.len(), 15, "{products:?}");
    // The first tenants, made before the change, kept their empty shop and no samples.
    let none = globex
        .search_count("product.product", json!([["name", "=", "Wholemeal loaf"]]))
        .await
        .expect("count");
    assert_eq!(none, 0);

    // Sample products without a point of sale to put them in: refused, plan unchanged.
    let bare = p.plan_key("bare");
    let (status, err) = p
        .post(
            "/plans",
            json!({"key": bare, "name": "Bare", "pos_sample_products": true}),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["field"], "pos_sample_products", "{err}");
    let (status, err) = p
        .patch(&format!("/plans/{plan_id}"), json!({"modules": ["sale"]}))
        .await;
    assert_eq!(status, 422, "{err}");
    let (_, still) = p.get(&format!("/plans/{plan_id}")).await;
    assert_eq!(still["modules"], json!(["point_of_sale"]), "{still}");

    p.cleanup().await;
}

/// Creates a tenant through the API, waits until it is active and signs its owner in over
/// JSON-RPC: its database and the owner's uid.
async fn provision_and_sign_in(p: &Platform, body: Value, slug: &str) -> (String, i64) {
    let (status, accepted) = p.post("/tenants", body).await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["tenant"]["id"].as_str().expect("id").to_owned();
    let tenant = p.wait_tenant(&id, "active", Duration::from_secs(60)).await;
    let db = tenant["db_name"].as_str().expect("db").to_owned();
    let uid = p
        .odoo()
        .login(
            &db,
            &format!("owner@{slug}.example.com"),
            "correct horse battery",
        )
        .await
        .expect("login call")
        .expect("the owner's credentials accepted");
    (db, uid)
}

/// The tenant's only point of sale: its name and its payment methods as (name, type).
async fn the_one_shop(
    object: &odoo_rpc::Object<'_, odoo_rpc::ReqwestTransport>,
) -> (String, Vec<(String, String)>) {
    let shops = object
        .search_read(
            "pos.config",
            json!([]),
            &["name", "payment_method_ids"],
            &Default::default(),
        )
        .await
        .expect("shops");
    assert_eq!(shops.len(), 1, "{shops:?}");
    let method_ids: Vec<i64> = shops[0]["payment_method_ids"]
        .as_array()
        .expect("methods")
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    let methods = object
        .read("pos.payment.method", &method_ids, &["name", "type"])
        .await
        .expect("methods");
    let kinds: Vec<(String, String)> = methods
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap_or_default().to_owned(),
                m["type"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    (
        shops[0]["name"].as_str().unwrap_or_default().to_owned(),
        kinds,
    )
}

async fn can_connect(p: &Platform, db: &str) -> bool {
    match p.db_options(db).connect().await {
        Ok(c) => {
            let _ = c.close().await;
            true
        }
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deactivated_tenant_refuses_connections_reactivate_restores_them_and_delete_keeps_the_audit_trail(
) {
    let p = Platform::start(Options {
        warm_pool: 1,
        ..Options::default()
    })
    .await;
    let plan = p.plan_with_template("basic", &[], 1).await;
    let key = plan["key"].as_str().expect("key").to_owned();
    // Claimed from the warm pool: the standby was made owned by Odoo's role too.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while sqlx::query_scalar::<_, i64>("SELECT count(*) FROM warm_pool WHERE ready")
        .fetch_one(&p.pool)
        .await
        .expect("pool")
        == 0
    {
        assert!(std::time::Instant::now() < deadline, "no standby made");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, accepted) = p.post("/tenants", p.tenant_body("initech", &key)).await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["tenant"]["id"].as_str().expect("id").to_owned();
    let tenant = p.wait_tenant(&id, "active", Duration::from_secs(60)).await;
    let db = tenant["db_name"].as_str().expect("db").to_owned();
    assert!(can_connect(&p, &db).await);
    let via: Option<String> = sqlx::query_scalar(
        "SELECT details->>'via' FROM audit_log WHERE tenant_id = $1 AND action = 'tenant.database_created'",
    )
    .bind(uuid::Uuid::parse_str(&id).expect("uuid"))
    .fetch_one(&p.pool)
    .await
    .expect("audit");
    assert_eq!(via.as_deref(), Some("pool"));
    assert_eq!(p.db_owner(&db).await, odoo_sim::SIM_ROLE);
    let (status, location, page) = p.browse("initech", "/web/login").await;
    assert_eq!(status, 200, "{location} {page}");

    // A tenant database owned by another role (as they were before provisioning created
    // them OWNER Odoo's role) is invisible to Odoo: the browser is sent to the database
    // selector. The one-time repair job gives it back to Odoo's role.
    let mut admin = p.db_options("postgres").connect().await.expect("connect");
    sqlx::query(&format!("ALTER DATABASE \"{db}\" OWNER TO CURRENT_USER"))
        .execute(&mut admin)
        .await
        .expect("owner");
    let _ = admin.close().await;
    assert_ne!(p.db_owner(&db).await, odoo_sim::SIM_ROLE);
    let (status, location, _) = p.browse("initech", "/web/login").await;
    assert_eq!((status, location.as_str()), (303, "/web/database/selector"));
    let job = server::tenants::lifecycle::enqueue_owner_repair(&p.pool)
        .await
        .expect("enqueue");
    let job = p.finished_job(&job.to_string()).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(p.db_owner(&db).await, odoo_sim::SIM_ROLE);
    let (status, location, page) = p.browse("initech", "/web/login").await;
    assert_eq!(status, 200, "{location} {page}");
    assert!(p
        .audit_actions(&id)
        .await
        .contains(&"tenant.db_owner_repaired".to_owned()));

    // A session open before deactivation is ended, and new ones are refused.
    let mut open = p.db_options(&db).connect().await.expect("open session");
    let (status, body) = p
        .post(&format!("/tenants/{id}/deactivate"), json!({}))
        .await;
    assert_eq!(status, 202, "{body}");
    p.wait_tenant(&id, "suspended", Duration::from_secs(30))
        .await;
    assert!(
        !can_connect(&p, &db).await,
        "a suspended database accepts connections"
    );
    assert!(
        sqlx::query("SELECT 1").execute(&mut open).await.is_err(),
        "the open session survived"
    );
    let odoo = p.odoo();
    assert!(odoo
        .login(&db, "owner@initech.example.com", "correct horse battery")
        .await
        .is_err());

    // Reactivating an active tenant, or deactivating a suspended one, is refused.
    let (status, body) = p
        .post(&format!("/tenants/{id}/deactivate"), json!({}))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "illegal_transition");

    let (status, body) = p
        .post(&format!("/tenants/{id}/reactivate"), json!({}))
        .await;
    assert_eq!(status, 202, "{body}");
    p.wait_tenant(&id, "active", Duration::from_secs(30)).await;
    assert!(can_connect(&p, &db).await);
    assert!(odoo
        .login(&db, "owner@initech.example.com", "correct horse battery")
        .await
        .expect("call")
        .is_some());

    // Delete with a final backup: the database goes, the row stays as deleted.
    let r = p
        .api(
            reqwest::Method::DELETE,
            &format!("/tenants/{id}?backup=true"),
        )
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 202);
    let tenant = p.wait_tenant(&id, "deleted", Duration::from_secs(30)).await;
    assert!(tenant["deleted_at"].is_string());
    assert!(!p.databases().await.contains(&db), "database still exists");
    let backups: Vec<_> = std::fs::read_dir(&p.backup_dir)
        .expect("backup dir")
        .collect();
    assert_eq!(backups.len(), 1, "one backup file");

    let (status, body) = p
        .post(&format!("/tenants/{id}/reactivate"), json!({}))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "illegal_transition");

    let (_, audit) = p.get(&format!("/tenants/{id}/audit")).await;
    let actions: Vec<&str> = audit
        .as_array()
        .expect("audit")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in [
        "tenant.requested",
        "tenant.provisioning",
        "tenant.database_created",
        "tenant.neutralized",
        "tenant.activated",
        "tenant.deactivate_requested",
        "tenant.suspended",
        "tenant.reactivate_requested",
        "tenant.reactivated",
        "tenant.delete_requested",
        "tenant.backed_up",
        "tenant.deleted",
    ] {
        assert_eq!(
            actions.iter().filter(|a| **a == action).count(),
            1,
            "{action} in {actions:?}"
        );
    }
    p.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_template_filestore_is_copied_on_provisioning_and_removed_on_delete() {
    let filestore =
        std::env::temp_dir().join(format!("saas-filestore-{}", uuid::Uuid::new_v4().simple()));
    let env = vec![(
        "ODOO_FILESTORE_DIR".to_owned(),
        filestore.display().to_string(),
    )];
    let p = Platform::start(Options {
        env,
        ..Options::default()
    })
    .await;
    let plan = p.plan_with_template("files", &[], 1).await;
    let key = plan["key"].as_str().expect("key").to_owned();
    // An attachment of the template, as Odoo stores it: <filestore>/<db>/<2 hex>/<sha1>.
    let template_dir = filestore.join(p.template_name(&key)).join("ab");
    std::fs::create_dir_all(&template_dir).expect("mkdir");
    std::fs::write(template_dir.join("abcdef"), b"logo").expect("write");

    let (status, accepted) = p.post("/tenants", p.tenant_body("umbrella", &key)).await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["tenant"]["id"].as_str().expect("id").to_owned();
    let tenant = p.wait_tenant(&id, "active", Duration::from_secs(60)).await;
    let tenant_dir = filestore.join(tenant["db_name"].as_str().expect("db"));
    assert_eq!(
        std::fs::read(tenant_dir.join("ab").join("abcdef")).expect("copied"),
        b"logo"
    );

    let r = p
        .api(reqwest::Method::DELETE, &format!("/tenants/{id}"))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 202);
    p.wait_tenant(&id, "deleted", Duration::from_secs(30)).await;
    assert!(!tenant_dir.exists(), "filestore left behind");
    assert!(
        filestore.join(p.template_name(&key)).exists(),
        "the template's filestore is kept"
    );
    p.cleanup().await;
    let _ = std::fs::remove_dir_all(&filestore);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_first_tenant_of_a_plan_waits_for_its_template_without_spending_attempts() {
    let mut p = Platform::start(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    let key = p.plan_key("fresh");
    let (status, _) = p
        .post(
            "/plans",
            json!({"key": key, "name": "Fresh", "modules": ["point_of_sale"]}),
        )
        .await;
    assert_eq!(status, 201);
    // No template yet: the request queues its build. Hold the build back a few seconds so
    // the provisioning job surely meets the missing template.
    let (status, accepted) = p.post("/tenants", p.tenant_body("first", &key)).await;
    assert_eq!(status, 202, "{accepted}");
    let job_id = accepted["job_id"].as_str().expect("job").to_owned();
    let held = sqlx::query(
        "UPDATE jobs SET run_at = now() + interval '4 seconds' WHERE kind = 'plan.build_template'",
    )
    .execute(&p.pool)
    .await
    .expect("hold the build");
    assert_eq!(held.rows_affected(), 1);
    p.start_workers(4);

    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let waiting = loop {
        let job = p.job(&job_id).await;
        if job["progress_label"]
            .as_str()
            .is_some_and(|l| l.starts_with("waiting:"))
        {
            break job;
        }
        assert!(std::time::Instant::now() < deadline, "never waited: {job}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(waiting["state"], "queued", "{waiting}");
    assert_eq!(waiting["attempts"], 0, "{waiting}");
    assert!(
        waiting["progress_label"]
            .as_str()
            .is_some_and(|l| l.contains("is being built")),
        "{waiting}"
    );

    let tenant = p
        .wait_tenant("first", "active", Duration::from_secs(60))
        .await;
    assert!(tenant["last_error"].is_null(), "{tenant}");
    let job = p.finished_job(&job_id).await;
    assert_eq!(job["state"], "succeeded");
    assert_eq!(job["attempts"], 1, "waiting spent no attempt: {job}");
    assert!(job["last_error"].is_null(), "{job}");
    p.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_validated_with_clear_errors_in_one_format() {
    let p = Platform::start(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    let key = p.plan_key("basic");
    let (status, _) = p.post("/plans", json!({"key": key, "name": "Basic"})).await;
    assert_eq!(status, 201);

    let cases: Vec<(Value, u16, &str, Option<&str>)> = vec![
        (
            json!({"slug": "Bad_Slug"}),
            422,
            "slug_invalid",
            Some("slug"),
        ),
        (json!({"slug": "ab"}), 422, "slug_invalid", Some("slug")),
        (json!({"slug": "admin"}), 422, "slug_reserved", Some("slug")),
        (
            json!({"plan": "no_such_plan"}),
            422,
            "plan_unknown",
            Some("plan"),
        ),
        (
            json!({"owner_email": "not-an-email"}),
            422,
            "email_invalid",
            Some("owner_email"),
        ),
        (
            json!({"owner_password": "short"}),
            422,
            "password_weak",
            Some("owner_password"),
        ),
        (
            json!({"extra_companies": ["Two"]}),
            422,
            "too_many_companies",
            Some("extra_companies"),
        ),
        // Issue 13, item 8: the count is checked before any work per name (the duplicate
        // check compared every name with every other first).
        (
            json!({"extra_companies": ["Two", "Two"]}),
            422,
            "too_many_companies",
            Some("extra_companies"),
        ),
    ];
    for (change, status, code, field) in cases {
        let mut body = p.tenant_body("valid-name", &key);
        for (k, v) in change.as_object().expect("object") {
            body[k] = v.clone();
        }
        let (got, answer) = p.post("/tenants", body).await;
        assert_eq!(got, status, "{change}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{change}: {answer}");
        assert!(answer["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
        assert_eq!(
            answer["error"]["field"].as_str(),
            field,
            "{change}: {answer}"
        );
    }

    let mut body = p.tenant_body("valid-name", &key);
    body["extra_companies"] = json!(["Two"]);
    let (_, answer) = p.post("/tenants", body).await;
    assert_eq!(
        answer["error"]["message"],
        format!("The plan '{key}' allows 1 company."),
        "{answer}"
    );

    // Duplicates are decided by the unique constraint: two at once, one wins.
    let (a, b) = tokio::join!(
        p.post("/tenants", p.tenant_body("acme", &key)),
        p.post("/tenants", p.tenant_body("acme", &key))
    );
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [202, 409], "{a:?} {b:?}");
    let conflict = if a.0 == 409 { a.1 } else { b.1 };
    assert_eq!(
        conflict,
        json!({"error": {"code": "slug_taken", "message": "The name 'acme' is already in use.", "field": "slug"}})
    );

    // Malformed JSON, wrong shapes, missing or bad tokens.
    let r = p
        .api(reqwest::Method::POST, "/tenants")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "malformed_json");
    let (status, body) = p.post("/tenants", json!({"slug": 5})).await;
    assert_eq!(status, 422, "{body}");
    let r = p
        .http
        .get(format!("{}/api/v1/tenants", p.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unauthorized");
    let r = p
        .http
        .get(format!("{}/api/v1/tenants", p.base))
        .bearer_auth("saas_nope")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    let (status, body) = p.get("/tenants/00000000-0000-0000-0000-000000000000").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found");

    // Illegal transition: deleting a tenant that is still being provisioned.
    let (_, t) = p.get("/tenants/acme").await;
    let r = p
        .api(
            reqwest::Method::DELETE,
            &format!("/tenants/{}", t["id"].as_str().expect("id")),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 409);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "illegal_transition");

    // Lists paginate with a limit and a cursor, and say the total.
    for slug in ["beta", "gamma", "delta"] {
        assert_eq!(p.post("/tenants", p.tenant_body(slug, &key)).await.0, 202);
    }
    let (_, page1) = p.get("/tenants?limit=3").await;
    assert_eq!(page1["total"], 4);
    assert_eq!(page1["items"].as_array().expect("items").len(), 3);
    let cursor = page1["next_cursor"].as_str().expect("cursor");
    let (_, page2) = p.get(&format!("/tenants?limit=3&cursor={cursor}")).await;
    assert_eq!(page2["items"].as_array().expect("items").len(), 1);
    assert!(page2["next_cursor"].is_null());
    let (_, found) = p.get("/tenants?q=gam").await;
    assert_eq!(found["total"], 1);
    assert_eq!(found["items"][0]["slug"], "gamma");
    let (_, requested) = p.get("/tenants?state=requested&limit=1").await;
    assert_eq!(requested["total"], 4);
    let (status, _) = p.get("/tenants?limit=0").await;
    assert_eq!(status, 422);
    let (_, jobs) = p.get("/jobs?kind=tenant.provision&limit=2").await;
    assert_eq!(jobs["total"], 4);
    assert!(jobs["next_cursor"].is_string());

    p.cleanup().await;
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let p = Platform::start(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    let r = p
        .http
        .get(format!("{}/api/v1/openapi.json", p.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.expect("json");
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{doc}"
    );
    assert!(doc["info"]["title"].is_string());
    for (path, method) in [
        ("/tenants", "post"),
        ("/tenants", "get"),
        ("/tenants/{id}", "get"),
        ("/tenants/{id}", "delete"),
        ("/tenants/{id}/audit", "get"),
        ("/tenants/{id}/deactivate", "post"),
        ("/tenants/{id}/reactivate", "post"),
        ("/jobs", "get"),
        ("/jobs/{id}", "get"),
        ("/jobs/{id}/retry", "post"),
        ("/jobs/{id}/cancel", "post"),
        ("/plans", "post"),
        ("/plans", "get"),
        ("/plans/{id}", "get"),
        ("/plans/{id}", "patch"),
        ("/plans/{id}", "delete"),
        ("/plans/{id}/template", "post"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} missing");
        assert!(
            op["responses"].is_object(),
            "{method} {path} has no responses"
        );
    }
    // Every $ref points at a schema that exists.
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = piece.split('"').next().expect("name");
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling $ref {name}"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    // An unknown API route answers in the API's format.
    let (status, body) = p.get("/nothing-here").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    p.cleanup().await;
}
