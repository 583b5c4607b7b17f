//! What the POS PWA asks the platform: `GET /pos/tenant.json` names the database of the
//! tenant served at the request's host, and nothing else.

use crate::common;

use crate::common::TestDb;

async fn tenant_json(base: &str, host: &str) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .get(format!("{base}/pos/tenant.json"))
        .header("host", host)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    assert_eq!(
        r.headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap_or("")),
        Some("no-cache"),
        "{host}"
    );
    (status, r.json().await.expect("json"))
}

#[tokio::test]
async fn tenant_json_names_the_hosts_database_only() {
    let db = TestDb::empty().await;
    let pool = server::db::prepare(&db.secret_url(), 2)
        .await
        .expect("migrate");
    let plan: uuid::Uuid =
        sqlx::query_scalar("INSERT INTO plans (key, name) VALUES ('pos', 'POS') RETURNING id")
            .fetch_one(&pool)
            .await
            .expect("plan");
    for (slug, state) in [
        ("acme", "active"),
        ("paused", "suspended"),
        ("gone", "deleted"),
    ] {
        sqlx::query(
            "INSERT INTO tenants (slug, db_name, hostname, plan_id, state, owner_email, owner_name, company_name) \
             VALUES ($1, 't_' || $1, $1 || '.localhost', $2, $3, 'o@example.com', 'Owner', initcap($1) || ' Ltd')",
        )
        .bind(slug)
        .bind(plan)
        .bind(state)
        .execute(&pool)
        .await
        .expect("tenant");
    }
    let base = common::spawn_app(db.config(&[]), pool.clone()).await;

    let (status, body) = tenant_json(&base, "acme.localhost:8443").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        serde_json::json!({"db": "t_acme", "slug": "acme", "name": "Acme Ltd"})
    );
    // Case and a trailing dot do not matter; the port is ignored.
    assert_eq!(tenant_json(&base, "ACME.localhost.").await.0, 200);

    let (status, body) = tenant_json(&base, "paused.localhost").await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "tenant_unavailable");
    for host in [
        "gone.localhost",
        "nobody.localhost",
        "localhost",
        "t_acme.localhost",
    ] {
        let (status, body) = tenant_json(&base, host).await;
        assert_eq!(status, 404, "{host}");
        assert_eq!(body["error"]["code"], "unknown_host");
    }
    pool.close().await;
    db.drop_database().await;
}
