//! 200 tenant requests sent at once all end active: none lost, none provisioned twice.

use crate::common::harness::{Options, Platform};
use std::collections::HashSet;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_tenant_requests_at_once_all_end_active_once() {
    const N: usize = 200;
    // Fewer PBKDF2 rounds than Odoo's 600k (any count is valid in Odoo's format): 200
    // full-strength hashes take minutes of CPU in an unoptimised test build on 2 cores.
    let env = vec![("PASSWORD_HASH_ROUNDS".to_owned(), "20000".to_owned())];
    let p = Platform::start(Options {
        warm_pool: 2,
        concurrency: 4,
        env,
        ..Options::default()
    })
    .await;
    let plan = p.plan_with_template("basic", &[], 1).await;
    let key = plan["key"].as_str().expect("key").to_owned();

    let started = Instant::now();
    let requests = (0..N).map(|i| {
        let request = p
            .api(reqwest::Method::POST, "/tenants")
            .json(&p.tenant_body(&format!("shop-{i:03}"), &key));
        async move {
            let r = request.send().await.expect("request");
            r.status().as_u16()
        }
    });
    let statuses = futures::future::join_all(requests).await;
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
    let accepted_in = started.elapsed();

    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let (_, active) = p.get("/tenants?state=active&limit=1").await;
        if active["total"].as_u64() == Some(N as u64) {
            break;
        }
        let (_, failed) = p.get("/tenants?state=failed&limit=5").await;
        assert_eq!(failed["total"], 0, "{failed}");
        assert!(Instant::now() < deadline, "only {} active", active["total"]);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let all_active_in = started.elapsed();

    // None lost: one database per tenant, each made once, one job each.
    let dbs: HashSet<String> = p.databases().await.into_iter().collect();
    let tenant_dbs: Vec<String> = sqlx::query_scalar("SELECT db_name FROM tenants")
        .fetch_all(&p.pool)
        .await
        .expect("tenants");
    assert_eq!(tenant_dbs.len(), N);
    for db in &tenant_dbs {
        assert!(dbs.contains(db), "{db} missing");
    }
    for action in [
        "tenant.database_created",
        "tenant.neutralized",
        "tenant.activated",
    ] {
        let per_tenant: Vec<i64> = sqlx::query_scalar(
            "SELECT count(*) FROM tenants t LEFT JOIN audit_log a ON a.tenant_id = t.id AND a.action = $1 GROUP BY t.id",
        )
        .bind(action)
        .fetch_all(&p.pool)
        .await
        .expect("audit");
        assert!(
            per_tenant.iter().all(|c| *c == 1),
            "{action}: {per_tenant:?}"
        );
    }
    // Successes are recorded in batches just after each handler's commit: give the last
    // batch a moment.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, jobs) = p
            .get("/jobs?kind=tenant.provision&state=succeeded&limit=1")
            .await;
        if jobs["total"] == N as u64 {
            break;
        }
        assert!(Instant::now() < deadline, "{jobs}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, jobs) = p.get("/jobs?kind=tenant.provision&limit=1").await;
    assert_eq!(jobs["total"], N as u64, "one provisioning job per tenant");
    let via_pool: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'tenant.database_created' AND details->>'via' = 'pool'",
    )
    .fetch_one(&p.pool)
    .await
    .expect("count");
    eprintln!("{N} tenants: accepted in {accepted_in:?}, all active in {all_active_in:?}; {via_pool} from the warm pool");
    p.cleanup().await;
}
