//! Database names neither leak nor collide (issue 13, item 9), and an owner's Odoo password
//! hash does not outlive its use (item 10), against real PostgreSQL and odoo-sim:
//! - a claimed warm-pool standby's filestore folder becomes the tenant's (none is left);
//! - rebuilding plan `k` never touches plan `k_new`'s template;
//! - a database that is not the tenant's (no marker) is never adopted nor dropped, also when
//!   the tenant's name spells it;
//! - a provisioning retried while its tenant is deleted leaves no database behind;
//! - the owner's hash goes when the tenant is deleted, and after the retention when it
//!   never became active.

use crate::common::harness::{Options, Platform};
use sqlx::{ConnectOptions, Connection};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A database of `name` made by the test itself (another application's), holding one row.
async fn foreign_database(p: &Platform, name: &str) {
    let mut admin = p.db_options("postgres").connect().await.expect("connect");
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .await
        .expect("create the foreign database");
    let _ = admin.close().await;
    let mut c = p.db_options(name).connect().await.expect("connect");
    sqlx::raw_sql("CREATE TABLE precious (note text); INSERT INTO precious VALUES ('keep me')")
        .execute(&mut c)
        .await
        .expect("its data");
    let _ = c.close().await;
}

/// The foreign database's row, or None when the database is gone.
async fn foreign_row(p: &Platform, name: &str) -> Option<String> {
    let mut c = p.db_options(name).connect().await.ok()?;
    let note = sqlx::query_scalar("SELECT note FROM precious")
        .fetch_one(&mut c)
        .await
        .ok();
    let _ = c.close().await;
    note
}

async fn exists(p: &Platform, name: &str) -> bool {
    p.databases().await.iter().any(|d| d == name)
}

async fn owner_hash(p: &Platform, id: &str) -> Option<String> {
    sqlx::query_scalar("SELECT owner_password_hash FROM tenants WHERE id = $1")
        .bind(Uuid::parse_str(id).expect("uuid"))
        .fetch_one(&p.pool)
        .await
        .expect("tenant row")
}

/// Requests a tenant; returns its id and its provisioning job's id.
async fn request_tenant(p: &Platform, slug: &str, plan: &str) -> (String, String) {
    let (status, accepted) = p.post("/tenants", p.tenant_body(slug, plan)).await;
    assert_eq!(status, 202, "{accepted}");
    (
        accepted["tenant"]["id"].as_str().expect("id").to_owned(),
        accepted["job_id"].as_str().expect("job").to_owned(),
    )
}

async fn delete_tenant(p: &Platform, id: &str) {
    let r = p
        .api(reqwest::Method::DELETE, &format!("/tenants/{id}"))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 202, "{:?}", r.text().await);
    p.wait_tenant(id, "deleted", Duration::from_secs(60)).await;
}

async fn wait_ready_standbys(p: &Platform, n: i64) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready: Vec<String> = sqlx::query_scalar(
            "SELECT db_name FROM warm_pool WHERE ready AND claimed_by IS NULL ORDER BY created_at",
        )
        .fetch_all(&p.pool)
        .await
        .expect("pool");
        if ready.len() as i64 >= n {
            return ready;
        }
        assert!(Instant::now() < deadline, "no standby made");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_claimed_standby_takes_its_filestore_folder_with_it() {
    let filestore =
        std::env::temp_dir().join(format!("saas-filestore-{}", Uuid::new_v4().simple()));
    let p = Platform::start(Options {
        warm_pool: 1,
        env: vec![(
            "ODOO_FILESTORE_DIR".to_owned(),
            filestore.display().to_string(),
        )],
        ..Options::default()
    })
    .await;
    let plan = p.plan_with_template("files", &[], 1).await;
    let key = plan["key"].as_str().expect("key").to_owned();
    // An attachment of the template, as Odoo stores it: <filestore>/<db>/<2 hex>/<sha1>.
    let template_dir = filestore.join(p.template_name(&key)).join("ab");
    std::fs::create_dir_all(&template_dir).expect("mkdir");
    std::fs::write(template_dir.join("abcdef"), b"logo").expect("write");
    // The first standby may predate the template's folder: one sign-up takes it, and the
    // refill after it copies the folder into the next standby.
    wait_ready_standbys(&p, 1).await;
    let (first, _) = request_tenant(&p, "first-shop", &key).await;
    p.wait_tenant(&first, "active", Duration::from_secs(60))
        .await;
    let standby = wait_ready_standbys(&p, 1).await.remove(0);
    let standby_dir = filestore.join(&standby);
    assert!(
        standby_dir.join("ab").join("abcdef").exists(),
        "the refill copies the template's filestore into its standby"
    );
    std::fs::write(standby_dir.join("made-for-the-standby"), b"1").expect("write");

    let (second, _) = request_tenant(&p, "second-shop", &key).await;
    let tenant = p
        .wait_tenant(&second, "active", Duration::from_secs(60))
        .await;
    let via: Option<String> = sqlx::query_scalar(
        "SELECT details->>'via' FROM audit_log WHERE tenant_id = $1 AND action = 'tenant.database_created'",
    )
    .bind(Uuid::parse_str(&second).expect("uuid"))
    .fetch_one(&p.pool)
    .await
    .expect("audit");
    assert_eq!(via.as_deref(), Some("pool"));
    let tenant_dir = filestore.join(tenant["db_name"].as_str().expect("db"));
    assert!(
        !standby_dir.exists(),
        "the claimed standby's filestore folder was left behind"
    );
    assert!(
        tenant_dir.join("made-for-the-standby").exists(),
        "the tenant's folder is the standby's"
    );
    assert_eq!(
        std::fs::read(tenant_dir.join("ab").join("abcdef")).expect("attachment"),
        b"logo"
    );
    // Every folder is a database's: the template, the tenants, the standbys.
    let databases = p.databases().await;
    for entry in std::fs::read_dir(&filestore).expect("filestore") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        assert!(databases.contains(&name), "a folder of no database: {name}");
    }
    p.cleanup().await;
    let _ = std::fs::remove_dir_all(&filestore);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rebuilding_a_plan_never_touches_the_template_of_a_plan_whose_key_extends_it() {
    let p = Platform::start(Options::default()).await;
    let plan = p.plan_with_template("shop", &[], 1).await;
    let key = plan["key"].as_str().expect("key").to_owned();
    let id = plan["id"].as_str().expect("id").to_owned();
    // Plan `<key>_new`: its template's name is what `<key>`'s build was called.
    let other_key = format!("{key}_new");
    let (status, other) = p
        .post(
            "/plans",
            serde_json::json!({"key": other_key, "name": "Shop new", "modules": [], "max_companies": 1}),
        )
        .await;
    assert_eq!(status, 201, "{other}");
    let other_id = other["id"].as_str().expect("id").to_owned();
    let (status, job) = p
        .post(
            &format!("/plans/{other_id}/template"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, 202, "{job}");
    p.wait_plan_ready(&other_id).await;
    let other_template = p.template_name(&other_key);
    assert!(exists(&p, &other_template).await);

    // Rebuild the first plan: it succeeds, and the other plan's template is untouched.
    let (status, job) = p
        .post(&format!("/plans/{id}/template"), serde_json::json!({}))
        .await;
    assert_eq!(status, 202, "{job}");
    let job = p
        .finished_job(job["job_id"].as_str().expect("job id"))
        .await;
    assert_eq!(job["state"], "succeeded", "the rebuild: {job}");
    p.wait_plan_ready(&id).await;
    assert!(
        exists(&p, &other_template).await,
        "the other plan's template was dropped"
    );
    // And the other plan still provisions from it.
    let (tenant, _) = request_tenant(&p, "newer-shop", &other_key).await;
    p.wait_tenant(&tenant, "active", Duration::from_secs(60))
        .await;
    p.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_that_is_not_the_tenants_is_never_adopted_nor_dropped() {
    let p = Platform::start(Options::default()).await;
    let plan = p.plan_with_template("basic", &[], 1).await;
    let key = plan["key"].as_str().expect("key").to_owned();
    // Another application's database that the tenant's prefix and slug happen to spell.
    let name = format!("{}victim", p.config.tenant_db_prefix);
    foreign_database(&p, &name).await;

    let (id, _) = request_tenant(&p, "victim", &key).await;
    let failed = p.wait_tenant(&id, "failed", Duration::from_secs(60)).await;
    let error = failed["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&name) && error.contains("not this tenant's"),
        "a clear error: {failed}"
    );
    assert_eq!(foreign_row(&p, &name).await.as_deref(), Some("keep me"));
    assert!(
        owner_hash(&p, &id).await.is_some(),
        "a failed tenant keeps the hash for a retry, for a while"
    );

    // Deleting the failed tenant leaves the database alone, and forgets the owner's hash.
    delete_tenant(&p, &id).await;
    assert_eq!(
        foreign_row(&p, &name).await.as_deref(),
        Some("keep me"),
        "a database that is not the tenant's was dropped"
    );
    assert_eq!(
        owner_hash(&p, &id).await,
        None,
        "the hash of a deleted tenant"
    );
    p.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_owners_hash_of_a_tenant_that_never_became_active_goes_after_the_retention() {
    let p = Platform::start(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    let key = p.plan_key("later");
    let (status, _) = p
        .post(
            "/plans",
            serde_json::json!({"key": key, "name": "Later", "modules": []}),
        )
        .await;
    assert_eq!(status, 201);
    // No workers: both stay requested, with the owner's hash.
    let (old, _) = request_tenant(&p, "old-request", &key).await;
    let (recent, _) = request_tenant(&p, "new-request", &key).await;
    assert!(owner_hash(&p, &old).await.is_some());
    sqlx::query(
        "UPDATE tenants SET updated_at = now() - make_interval(days => $2 + 1) WHERE id = $1",
    )
    .bind(Uuid::parse_str(&old).expect("uuid"))
    .bind(server::housekeeping::OWNER_HASH_RETENTION_DAYS)
    .execute(&p.pool)
    .await
    .expect("age the request");
    server::housekeeping::run_once(&p.services).await;
    assert_eq!(owner_hash(&p, &old).await, None, "kept past the retention");
    assert!(
        owner_hash(&p, &recent).await.is_some(),
        "a recent request keeps it"
    );
    p.cleanup().await;
}

/// Waits until a statement matching `pattern` (SQL LIKE) on database `db` waits for a lock.
async fn wait_for_lock_wait(p: &Platform, admin: &mut sqlx::PgConnection, db: &str, pattern: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE wait_event_type = 'Lock' AND datname = $2 AND query LIKE $1",
        )
        .bind(pattern)
        .bind(db)
        .fetch_one(&mut *admin)
        .await
        .expect("pg_stat_activity");
        if waiting > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "nothing waits on a lock like {pattern} (test {})",
            p.id
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_provisioning_retried_while_its_tenant_is_deleted_leaves_no_database() {
    let p = Platform::start(Options::default()).await;
    let plan = p.plan_with_template("racy", &[], 1).await;
    let key = plan["key"].as_str().expect("key").to_owned();
    let template = p.template_name(&key);
    // A tenant whose provisioning failed for good (its name was taken), then freed.
    let tenant_db = format!("{}racer", p.config.tenant_db_prefix);
    foreign_database(&p, &tenant_db).await;
    let (id, provision_job) = request_tenant(&p, "racer", &key).await;
    p.wait_tenant(&id, "failed", Duration::from_secs(60)).await;
    let job = p.finished_job(&provision_job).await;
    assert_eq!(job["state"], "dead", "{job}");
    let mut admin = p.db_options("postgres").connect().await.expect("connect");
    sqlx::query(&format!("DROP DATABASE \"{tenant_db}\""))
        .execute(&mut admin)
        .await
        .expect("free the name");

    // Hold the tenant's row (the delete request waits on it) and the template (a clone of
    // it waits).
    let mut row_lock = p.db_options(&p.db.name).connect().await.expect("connect");
    let mut held_row = row_lock.begin().await.expect("begin");
    sqlx::query("SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE")
        .bind(Uuid::parse_str(&id).expect("uuid"))
        .execute(&mut *held_row)
        .await
        .expect("lock the tenant");
    let mut template_lock = p.db_options("postgres").connect().await.expect("connect");
    let mut held_template = template_lock.begin().await.expect("begin");
    sqlx::query(&format!(
        "COMMENT ON DATABASE \"{template}\" IS 'held by the test'"
    ))
    .execute(&mut *held_template)
    .await
    .expect("lock the template");

    // The delete is asked first (it queues for the row) ...
    let delete = {
        let request = p
            .api(reqwest::Method::DELETE, &format!("/tenants/{id}"))
            .send();
        tokio::spawn(async move { request.await.map(|r| r.status().as_u16()) })
    };
    let platform_db = p.db.name.clone();
    wait_for_lock_wait(
        &p,
        &mut admin,
        &platform_db,
        "UPDATE tenants SET pending_op%",
    )
    .await;
    // ... then the dead provisioning is retried: it reads the tenant as failed, and its
    // clone of the template waits.
    let (status, body) = p
        .post(
            &format!("/jobs/{provision_job}/retry"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    wait_for_lock_wait(
        &p,
        &mut admin,
        "postgres",
        &format!("CREATE DATABASE%{template}%"),
    )
    .await;

    // The delete goes through and finds no database to drop ...
    held_row.commit().await.expect("release the row");
    assert_eq!(delete.await.expect("join").expect("delete"), 202);
    p.wait_tenant(&id, "deleted", Duration::from_secs(60)).await;
    // ... then the provisioning's clone completes.
    held_template
        .rollback()
        .await
        .expect("release the template");
    let job = p.finished_job(&provision_job).await;
    assert_ne!(job["state"], "running", "{job}");
    // Neither the tenant's database nor the clone it is made under.
    let clone = format!("clone_{}", Uuid::parse_str(&id).expect("uuid").simple());
    let left: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE datname = $1 OR datname = $2",
    )
    .bind(&tenant_db)
    .bind(&clone)
    .fetch_all(&mut admin)
    .await
    .expect("list");
    assert!(
        left.is_empty(),
        "a deleted tenant got a database back: {left:?}"
    );
    let _ = admin.close().await;
    p.cleanup().await;
}
