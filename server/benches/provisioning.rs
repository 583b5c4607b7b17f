//! Provisioning benchmark: `cargo bench -p server --bench provisioning` (see docs/benchmarks.md).
//!
//! From one run, against the PostgreSQL at `TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432`), it prints:
//! 1. the median time to provision a tenant up to "database ready" (a real provisioning
//!    job: queue pick-up, clone, filestore, neutralization with the owner set), as a ratio to
//!    a bare `CREATE DATABASE … TEMPLATE` of the same template measured in the same run
//!    (target ≤ 1.5×);
//! 2. the median time to claim a standby database from the warm pool (target < 50 ms);
//! 3. the job queue's no-op throughput with 4 workers through the server's registry
//!    (target ≥ 2,000 jobs/s).
#![allow(clippy::print_stdout)]

use server::config::Config;
use server::db_manager::DbName;
use server::platform::Platform;
use sqlx::{Connection, PgConnection};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

const ROUNDS: usize = 15;
const NOOP_JOBS: i64 = 20_000;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Quiet unless RUST_LOG asks (e.g. RUST_LOG=server::db_manager=debug for step timings).
    if std::env::var_os("RUST_LOG").is_some() {
        server::observability::init_tracing(server::config::LogFormat::Pretty);
    }
    let server = std::env::var("TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
    let id = Uuid::new_v4().simple().to_string()[..8].to_owned();
    let platform_db = format!("saas_bench_{id}");
    let mut vars = HashMap::new();
    vars.insert("DATABASE_URL".to_owned(), format!("{server}/{platform_db}"));
    vars.insert("TENANT_DB_PREFIX".to_owned(), format!("t{id}_"));
    vars.insert("WARM_POOL_SIZE".to_owned(), "0".to_owned());
    let config = Config::from_vars(&vars).map_err(|e| anyhow::anyhow!("{e}"))?;
    let pool = server::db::prepare(&config.database_url, 10).await?;
    let platform = Platform::new(Arc::new(config), pool.clone())?;
    let result = run(&platform, &server, &id).await;

    // Clean up every database of this run.
    pool.close().await;
    let mut admin = PgConnection::connect(&format!("{server}/postgres")).await?;
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE strpos(datname, $1) > 0")
            .bind(&id)
            .fetch_all(&mut admin)
            .await?;
    for name in names {
        let _ = sqlx::query(&format!("ALTER DATABASE \"{name}\" WITH IS_TEMPLATE false"))
            .execute(&mut admin)
            .await;
        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut admin)
            .await?;
    }
    result
}

async fn run(p: &Platform, server: &str, id: &str) -> anyhow::Result<()> {
    // A template as the build job leaves it: an Odoo-shaped database with point_of_sale
    // and a small catalogue (odoo-sim's), closed to connections.
    let plan_key = format!("bench_{id}");
    let template = DbName::template(p.config.odoo_version, &plan_key)?;
    odoo_sim::init_template(
        &format!("{server}/postgres"),
        template.as_str(),
        &odoo_sim::TemplateOptions::default(),
    )
    .await?;
    p.dbm.close_template(&template).await?;
    let plan_id: Uuid = sqlx::query_scalar(
        "INSERT INTO plans (key, name, template_state) VALUES ($1, 'Bench', 'ready') RETURNING id",
    )
    .bind(&plan_key)
    .fetch_one(&p.pool)
    .await?;
    let owner_hash = odoo_passlib::hash_password("correct horse battery");

    // Workers of the server's own registry, as `server serve` runs them.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker_config = job_queue::WorkerConfig {
        concurrency: 4,
        poll_interval: Duration::from_millis(500),
        ..job_queue::WorkerConfig::default()
    };
    let workers = tokio::spawn(server::jobs::run(p.clone(), worker_config, async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The end of a provisioning is the commit of its `tenant.neutralized` audit entry. A
    // trigger of this run's own platform database announces it (NOTIFY is delivered at
    // that commit), so the bench waits without polling: no sleep granularity in the
    // figure, and no polling queries competing with the job for the two cores. The
    // trigger only adds work to the measured path.
    sqlx::raw_sql(
        "CREATE FUNCTION bench_neutralized() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN PERFORM pg_notify('bench_neutralized', NEW.tenant_id::text); RETURN NULL; END $$; \
         CREATE TRIGGER bench_neutralized AFTER INSERT ON audit_log FOR EACH ROW \
         WHEN (NEW.action = 'tenant.neutralized') EXECUTE FUNCTION bench_neutralized();",
    )
    .execute(&p.pool)
    .await?;
    let mut listener = sqlx::postgres::PgListener::connect_with(&p.pool).await?;
    listener.listen("bench_neutralized").await?;

    let mut bare = Vec::new();
    let mut provision = Vec::new();
    let mut breakdown = Vec::new();
    for i in 0..ROUNDS {
        // Bare clone, same path (the manager's maintenance pool).
        let target = DbName::parse(&format!("bare{id}_{i}"))?;
        let started = Instant::now();
        sqlx::query(&format!(
            "CREATE DATABASE {} TEMPLATE {}",
            target.quoted(),
            template.quoted()
        ))
        .execute(p.dbm.maintenance_pool())
        .await?;
        bare.push(started.elapsed());

        // A real provisioning job, timed from the enqueue to "database ready" (neutralized).
        let slug = format!("bench-{i}");
        let tenant_db = p.tenant_db(&slug)?;
        let started = Instant::now();
        let mut tx = p.pool.begin().await?;
        let tenant_id: Uuid = sqlx::query_scalar(
            "INSERT INTO tenants (slug, db_name, hostname, plan_id, owner_email, owner_name, company_name, owner_password_hash, pending_op) \
             VALUES ($1, $2, $3, $4, 'owner@example.com', 'Owner', $1, $5, 'provision') RETURNING id",
        )
        .bind(&slug)
        .bind(tenant_db.as_str())
        .bind(p.hostname(&slug))
        .bind(plan_id)
        .bind(&owner_hash)
        .fetch_one(&mut *tx)
        .await?;
        job_queue::enqueue(
            &mut *tx,
            job_queue::NewJob::new(
                server::jobs::kinds::PROVISION,
                serde_json::json!({"tenant_id": tenant_id}),
            )
            .with_tenant(tenant_id),
        )
        .await?;
        tx.commit().await?;
        let wanted = tenant_id.to_string();
        loop {
            let left = Duration::from_secs(60).saturating_sub(started.elapsed());
            let note = tokio::time::timeout(left, listener.recv())
                .await
                .map_err(|_| anyhow::anyhow!("provisioning did not finish"))??;
            if note.payload() == wanted {
                break;
            }
        }
        provision.push(started.elapsed());
        let (pickup, clone, neutralize): (f64, f64, f64) = sqlx::query_as(
            "SELECT extract(epoch FROM j.started_at - j.created_at)::float8 * 1000, \
                    extract(epoch FROM c.at - j.started_at)::float8 * 1000, \
                    extract(epoch FROM n.at - c.at)::float8 * 1000 \
             FROM jobs j JOIN audit_log c ON c.tenant_id = j.tenant_id AND c.action = 'tenant.database_created' \
             JOIN audit_log n ON n.tenant_id = j.tenant_id AND n.action = 'tenant.neutralized' WHERE j.tenant_id = $1",
        )
        .bind(tenant_id)
        .fetch_one(&p.pool)
        .await?;
        breakdown.push((pickup, clone, neutralize));
        // Let the job finish (activation) before the next round.
        while sqlx::query_scalar::<_, String>("SELECT state FROM tenants WHERE id = $1")
            .bind(tenant_id)
            .fetch_one(&p.pool)
            .await?
            != "active"
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    // Warm pool claims: standbys made untimed, each claim timed.
    let mut claims = Vec::new();
    for i in 0..ROUNDS {
        let standby = DbName::standby(&template)?;
        p.dbm.clone_template(&template, &standby, None).await?;
        sqlx::query("INSERT INTO warm_pool (db_name, template, ready) VALUES ($1, $2, true)")
            .bind(standby.as_str())
            .bind(template.as_str())
            .execute(&p.pool)
            .await?;
        let slug = format!("claim-{i}");
        let tenant_db = p.tenant_db(&slug)?;
        let tenant_id: Uuid = sqlx::query_scalar(
            "INSERT INTO tenants (slug, db_name, hostname, plan_id, owner_email, owner_name, company_name) \
             VALUES ($1, $2, $3, $4, 'owner@example.com', 'Owner', $1) RETURNING id",
        )
        .bind(&slug)
        .bind(tenant_db.as_str())
        .bind(p.hostname(&slug))
        .bind(plan_id)
        .fetch_one(&p.pool)
        .await?;
        let started = Instant::now();
        let claimed = server::tenants::lifecycle::claim(p, tenant_id, &template, &tenant_db)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        claims.push(started.elapsed());
        anyhow::ensure!(claimed.is_some(), "the pool was empty");
    }

    // No-op throughput with 4 workers.
    let mut tx = p.pool.begin().await?;
    for _ in 0..NOOP_JOBS {
        job_queue::enqueue(
            &mut *tx,
            job_queue::NewJob::new(server::jobs::kinds::NOOP, serde_json::json!({})),
        )
        .await?;
    }
    let started = Instant::now();
    tx.commit().await?;
    loop {
        let left: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM jobs WHERE kind = 'noop' AND state <> 'succeeded'",
        )
        .fetch_one(&p.pool)
        .await?;
        if left == 0 {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(300),
            "no-op jobs did not finish"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let _ = stop.send(());
    let _ = workers.await;

    let (bare_m, prov_m, claim_m) = (median(bare), median(provision), median(claims));
    let ratio = prov_m.as_secs_f64() / bare_m.as_secs_f64();
    let throughput = NOOP_JOBS as f64 / elapsed.as_secs_f64();
    let part = |f: fn(&(f64, f64, f64)) -> f64| {
        let mut v: Vec<f64> = breakdown.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (pickup, clone, neutralize) = (part(|b| b.0), part(|b| b.1), part(|b| b.2));
    let verdict = |ok: bool| if ok { "ok" } else { "MISSED" };
    println!("provisioning benchmark ({ROUNDS} rounds each, medians)");
    println!("  bare CREATE DATABASE … TEMPLATE      {}", ms(bare_m));
    println!("  provision to database ready          {}", ms(prov_m));
    println!(
        "    of which: queue pick-up {pickup:.1} ms, start to database made {clone:.1} ms, neutralized {neutralize:.1} ms later"
    );
    println!(
        "  ratio                                {ratio:.2}x   (target <= 1.5x)  {}",
        verdict(ratio <= 1.5)
    );
    println!(
        "  warm pool claim                      {}   (target < 50 ms)  {}",
        ms(claim_m),
        verdict(claim_m < Duration::from_millis(50))
    );
    println!(
        "  no-op jobs, 4 workers                {throughput:.0} jobs/s   (target >= 2000)  {}   [{NOOP_JOBS} jobs in {:.2} s]",
        verdict(throughput >= 2000.0),
        elapsed.as_secs_f64()
    );
    Ok(())
}
