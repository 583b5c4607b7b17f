//! The foundation's behaviour against real PostgreSQL: database creation, migrations,
//! health endpoints, metrics, and configuration errors of the real binary.

use crate::common;

use crate::common::TestDb;
use std::process::Command;

#[tokio::test]
async fn migrate_creates_the_database_and_running_it_twice_changes_nothing() {
    let db = TestDb::empty().await;
    let pool = server::db::prepare(&db.secret_url(), 2)
        .await
        .expect("first migrate");
    let first: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, checksum::text FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&pool)
            .await
            .expect("read migrations");
    assert!(!first.is_empty(), "migrations were applied");
    let tables_before: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("tables");
    pool.close().await;

    let created_again = server::db::ensure_database_exists(&db.secret_url())
        .await
        .expect("check");
    assert!(!created_again, "an existing database is left alone");
    let pool = server::db::prepare(&db.secret_url(), 2)
        .await
        .expect("second migrate");
    let second: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, checksum::text FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&pool)
            .await
            .expect("read migrations");
    let tables_after: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("tables");
    assert_eq!(first, second);
    assert_eq!(tables_before, tables_after);
    pool.close().await;
    db.drop_database().await;
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let db = TestDb::empty().await;
    let pool = server::db::prepare(&db.secret_url(), 2)
        .await
        .expect("migrate");
    let platform =
        server::platform::Platform::new(std::sync::Arc::new(db.config(&[])), pool.clone())
            .expect("platform services");
    let base = common::spawn_services(platform.clone()).await;
    let internal = common::spawn_internal(platform).await;
    let http = reqwest::Client::new();

    let health = http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let ready = http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.expect("json");
    assert_eq!(body["database"], "ok");

    // Metrics are on the internal listener only (the public one is what Traefik publishes).
    let public = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("public metrics");
    assert_eq!(public.status(), 404);
    let metrics = http
        .get(format!("http://{internal}/metrics"))
        .send()
        .await
        .expect("metrics");
    assert_eq!(metrics.status(), 200);
    let content_type = metrics.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = metrics.text().await.expect("text");
    assert!(text.contains("http_requests_total"), "{text}");
    assert!(text.contains("route=\"/healthz\""), "{text}");
    assert!(
        text.contains("# TYPE http_request_duration_seconds histogram"),
        "{text}"
    );

    pool.close().await;
    db.drop_database().await;
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_unreachable() {
    let db = TestDb::empty().await;
    // A pool that points at a port where nothing listens: the process is alive, not ready.
    let options: sqlx::postgres::PgConnectOptions = "postgres://postgres@127.0.0.1:1/nothing"
        .parse()
        .expect("options");
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_millis(500))
        .connect_lazy_with(options);
    let base = common::spawn_app(db.config(&[]), pool).await;
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .expect("healthz")
            .status(),
        200
    );
    let ready = http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 503);
}

#[tokio::test]
async fn unknown_pages_are_404_and_the_home_page_is_rendered_on_the_server() {
    let db = TestDb::empty().await;
    let pool = server::db::prepare(&db.secret_url(), 2)
        .await
        .expect("migrate");
    sqlx::query(
        "INSERT INTO plans (key, name, price_cents, currency, max_companies, trial_days) VALUES \
         ('starter', 'Starter', 0, 'EUR', 1, 0), ('team', 'Team', 2900, 'EUR', 3, 14)",
    )
    .execute(&pool)
    .await
    .expect("plans");
    let base = common::spawn_app(db.config(&[]), pool.clone()).await;
    let http = reqwest::Client::new();
    let home = http.get(format!("{base}/")).send().await.expect("home");
    assert_eq!(home.status(), 200);
    let html = home.text().await.expect("html");
    // The product's front door: the plans with prices and limits, sign up and sign in.
    assert!(html.contains("Your own Odoo"), "{html}");
    assert!(html.contains("id=\"signup-link\""), "{html}");
    assert!(html.contains("id=\"signin-link\""), "{html}");
    assert!(html.contains("data-plan=\"starter\""), "{html}");
    assert!(html.contains("29.00 EUR / month"), "{html}");
    assert!(html.contains("Up to 3 companies"), "{html}");
    assert!(html.contains("14-day free trial"), "{html}");
    // The database diagnostic moved into the operations portal: not for the public.
    assert!(!html.contains("check-database"), "{html}");
    let diagnostic = http
        .post(format!("{base}/sfn/admin/check_database"))
        .send()
        .await
        .expect("diagnostic");
    assert_eq!(diagnostic.status(), 401);
    let missing = http
        .get(format!("{base}/no/such/page"))
        .send()
        .await
        .expect("404");
    assert_eq!(missing.status(), 404);
    pool.close().await;
    db.drop_database().await;
}

#[test]
fn bad_configuration_stops_the_binary_with_one_line_per_problem() {
    let output = Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("serve")
        .env_clear()
        .env("BIND_ADDR", "nowhere")
        .env("LOG_FORMAT", "xml")
        .output()
        .expect("run server");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(
        lines.iter().any(|l| l.contains("DATABASE_URL is not set")),
        "{stderr}"
    );
    assert!(lines.iter().any(|l| l.contains("BIND_ADDR")), "{stderr}");
    assert!(lines.iter().any(|l| l.contains("LOG_FORMAT")), "{stderr}");
}

#[test]
fn migrate_subcommand_exits_zero_twice() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let db = rt.block_on(TestDb::empty());
    for _ in 0..2 {
        let status = Command::new(env!("CARGO_BIN_EXE_server"))
            .arg("migrate")
            .env("DATABASE_URL", &db.url)
            .status()
            .expect("run migrate");
        assert!(status.success());
    }
    rt.block_on(db.drop_database());
}

/// Migration 0007 queues the one-time repair of tenant database owners on a platform that
/// has tenants, and nothing on a fresh one.
#[tokio::test]
async fn migration_0007_queues_the_owner_repair_only_where_tenants_exist() {
    let repair_jobs = |pool: sqlx::PgPool| async move {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM jobs WHERE kind = 'tenant.repair_db_owners' AND state = 'queued'",
        )
        .fetch_one(&pool)
        .await
        .expect("jobs");
        pool.close().await;
        n
    };
    let fresh = TestDb::empty().await;
    let pool = server::db::prepare(&fresh.secret_url(), 2)
        .await
        .expect("migrate");
    assert_eq!(
        repair_jobs(pool).await,
        0,
        "a fresh platform has nothing to repair"
    );
    fresh.drop_database().await;

    // A platform migrated up to 0006 with one active tenant, then upgraded.
    let old = TestDb::empty().await;
    server::db::ensure_database_exists(&old.secret_url())
        .await
        .expect("create");
    let pool = sqlx::PgPool::connect(&old.url).await.expect("connect");
    let mut before = sqlx::migrate::Migrator {
        migrations: server::db::MIGRATOR.migrations.clone(),
        ..sqlx::migrate::Migrator::DEFAULT
    };
    before.migrations = before
        .migrations
        .iter()
        .filter(|m| m.version <= 6)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    before.run(&pool).await.expect("migrate to 0006");
    sqlx::query(
        "WITH p AS (INSERT INTO plans (key, name) VALUES ('basic', 'Basic') RETURNING id) \
         INSERT INTO tenants (slug, db_name, hostname, plan_id, state, owner_email, owner_name, company_name) \
         SELECT 'acme', 't_acme', 'acme.example.com', id, 'active', 'o@acme.test', 'O', 'Acme' FROM p",
    )
    .execute(&pool)
    .await
    .expect("a tenant");
    pool.close().await;
    let pool = server::db::prepare(&old.secret_url(), 2)
        .await
        .expect("upgrade");
    assert_eq!(repair_jobs(pool.clone()).await, 1);
    // Migrating again queues nothing more.
    let pool = server::db::prepare(&old.secret_url(), 2)
        .await
        .expect("again");
    assert_eq!(repair_jobs(pool).await, 1);
    old.drop_database().await;
}
