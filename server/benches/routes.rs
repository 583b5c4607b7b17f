//! Route table benchmark (issue 10, docs/benchmarks.md):
//!
//! ```text
//! cargo bench -p server --bench routes            # TENANTS=10000 by default
//! ```
//!
//! Against the PostgreSQL at `TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432`), on
//! a fresh platform database holding `TENANTS` tenants (90% active, 8% suspended, 2% deleted)
//! and 100 verified custom domains, it prints:
//! 1. the route document: routers, size in bytes, and the median time of a full rebuild
//!    (read the tables, build, serialize) as a ratio to reading the same rows alone;
//! 2. the endpoint under Traefik-like polling (`POLLERS` clients polling back to back, each
//!    `POLLS` times, with the shared secret): p50 and p99 as ratios to `/healthz` measured
//!    the same way in the same run;
//! 3. from `UPDATE tenants SET state = 'suspended'` to the server answering that host with
//!    the paused page (503), and back to Odoo's route after reactivation (median of 10).
//!    Through Traefik add its poll interval (1 s locally): `server/tests/it/routing.rs`
//!    measures the whole path with the real binary.
//!
//! Everything the run makes (its platform database) is dropped at the end.
#![allow(clippy::print_stdout)]

use server::config::Config;
use server::platform::Platform;
use sqlx::{Connection, PgConnection};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

const REBUILDS: usize = 15;
const SECRET: &str = "bench-route-table-secret-0123456789";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn ratio(a: Duration, b: Duration) -> String {
    format!("{:.2}x", a.as_secs_f64() / b.as_secs_f64().max(1e-9))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let pg = std::env::var("TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
    let id = Uuid::new_v4().simple().to_string()[..8].to_owned();
    let platform_db = format!("saas_bench_routes_{id}");
    let mut vars = HashMap::new();
    vars.insert("DATABASE_URL".to_owned(), format!("{pg}/{platform_db}"));
    vars.insert("TENANT_DB_PREFIX".to_owned(), format!("t{id}_"));
    vars.insert("BASE_DOMAIN".to_owned(), "bench.test".to_owned());
    vars.insert("ODOO_URL".to_owned(), "http://127.0.0.1:8069".to_owned());
    vars.insert("TRAEFIK_CONFIG_SECRET".to_owned(), SECRET.to_owned());
    let config = Config::from_vars(&vars).map_err(|e| anyhow::anyhow!("{e}"))?;
    let pool = server::db::prepare(&config.database_url, 20).await?;
    let platform = Platform::new(Arc::new(config), pool.clone())?;
    let result = run(&platform).await;

    pool.close().await;
    let mut admin = PgConnection::connect(&format!("{pg}/postgres")).await?;
    sqlx::query(&format!(
        "DROP DATABASE IF EXISTS \"{platform_db}\" WITH (FORCE)"
    ))
    .execute(&mut admin)
    .await?;
    result
}

async fn serve(app: axum::Router) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await;
    });
    Ok(format!("http://{addr}"))
}

async fn seed(p: &Platform, tenants: usize) -> anyhow::Result<()> {
    let plan: Uuid =
        sqlx::query_scalar("INSERT INTO plans (key, name) VALUES ('bench', 'Bench') RETURNING id")
            .fetch_one(&p.pool)
            .await?;
    sqlx::query(
        "INSERT INTO tenants (slug, db_name, hostname, plan_id, state, owner_email, owner_name, company_name)
         SELECT 'shop' || g, 'tbench_' || g, 'shop' || g || '.bench.test', $1,
                CASE WHEN g % 50 = 0 THEN 'deleted' WHEN g % 12 = 0 THEN 'suspended' ELSE 'active' END,
                'owner' || g || '@example.com', 'Owner ' || g, 'Company ' || g
         FROM generate_series(1, $2::int) g",
    )
    .bind(plan)
    .bind(i32::try_from(tenants)?)
    .execute(&p.pool)
    .await?;
    sqlx::query(
        "INSERT INTO custom_domains (tenant_id, domain, state, created_by, verified_at)
         SELECT id, 'www.' || slug || '.example.org', 'verified', 'bench', now()
         FROM tenants WHERE state = 'active' ORDER BY slug LIMIT 100",
    )
    .execute(&p.pool)
    .await?;
    Ok(())
}

/// `pollers` clients each sending `polls` requests back to back; every latency, sorted.
async fn poll(
    http: &reqwest::Client,
    url: &str,
    secret: bool,
    pollers: usize,
    polls: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut tasks = Vec::new();
    for _ in 0..pollers {
        let http = http.clone();
        let url = url.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::with_capacity(polls);
            for _ in 0..polls {
                let mut request = http.get(&url);
                if secret {
                    request = request.header(server::routing::SECRET_HEADER, SECRET);
                }
                let started = Instant::now();
                let response = request.send().await?;
                let status = response.status();
                response.bytes().await?;
                times.push(started.elapsed());
                anyhow::ensure!(status.is_success(), "{url}: {status}");
            }
            Ok::<_, anyhow::Error>(times)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    all.sort();
    Ok(all)
}

async fn run(p: &Platform) -> anyhow::Result<()> {
    let tenants = env_usize("TENANTS", 10_000);
    let pollers = env_usize("POLLERS", 16);
    let polls = env_usize("POLLS", 200);
    seed(p, tenants).await?;
    println!("route table benchmark: {tenants} tenants, 100 verified custom domains");

    // 1. Generation: a full rebuild against reading the same rows.
    let mut rebuilds = Vec::new();
    let mut reads = Vec::new();
    let mut size = 0;
    let mut routers = 0;
    for _ in 0..REBUILDS {
        let started = Instant::now();
        let rows: Vec<(Uuid, String, String)> = sqlx::query_as(
            "SELECT id, slug, state FROM tenants WHERE state NOT IN ('deleting', 'deleted')",
        )
        .fetch_all(&p.pool)
        .await?;
        let _domains: Vec<(String,)> = sqlx::query_as(
            "SELECT domain FROM custom_domains WHERE state IN ('verified', 'active')",
        )
        .fetch_all(&p.pool)
        .await?;
        reads.push(started.elapsed());
        anyhow::ensure!(!rows.is_empty(), "no tenants read");

        p.routes.invalidate();
        let started = Instant::now();
        let table = p.routes.current().await?;
        rebuilds.push(started.elapsed());
        size = table.document.len();
        routers = table.routers;
    }
    let (rebuild, read) = (median(rebuilds), median(reads));
    println!(
        "1. document: {routers} routers, {:.1} KiB; full rebuild {} (median of {REBUILDS}) = {} of reading the rows alone ({})",
        size as f64 / 1024.0,
        ms(rebuild),
        ratio(rebuild, read),
        ms(read)
    );

    // 2. The endpoint under polling, against /healthz.
    let internal = serve(server::routing::endpoint::internal_router(p.clone())).await?;
    let app = serve(server::web::router(p.clone())).await?;
    let http = reqwest::Client::builder().no_proxy().build()?;
    let config_url = format!("{internal}{}", server::routing::CONFIG_PATH);
    // Warm both (the first poll builds the table).
    poll(&http, &config_url, true, 1, 3).await?;
    poll(&http, &format!("{app}/healthz"), false, 1, 3).await?;
    let table = poll(&http, &config_url, true, pollers, polls).await?;
    let health = poll(&http, &format!("{app}/healthz"), false, pollers, polls).await?;
    let (t50, t99) = (percentile(&table, 0.5), percentile(&table, 0.99));
    let (h50, h99) = (percentile(&health, 0.5), percentile(&health, 0.99));
    println!(
        "2. {pollers} pollers x {polls}: route table p50 {} p99 {}; /healthz p50 {} p99 {}; ratio p50 {} p99 {}",
        ms(t50),
        ms(t99),
        ms(h50),
        ms(h99),
        ratio(t50, h50),
        ratio(t99, h99)
    );

    // 3. Suspended in the database → the paused page; reactivated → Odoo's route again.
    let slug = "shop7";
    let host = format!("{slug}.bench.test");
    let mut to_paused = Vec::new();
    let mut to_odoo = Vec::new();
    for _ in 0..10 {
        for (state, sink) in [("suspended", &mut to_paused), ("active", &mut to_odoo)] {
            let started = Instant::now();
            sqlx::query("UPDATE tenants SET state = $1 WHERE slug = $2")
                .bind(state)
                .bind(slug)
                .execute(&p.pool)
                .await?;
            loop {
                let document = http
                    .get(&config_url)
                    .header(server::routing::SECRET_HEADER, SECRET)
                    .send()
                    .await?
                    .text()
                    .await?;
                // The server's page for the host (an active tenant's host reaches the server
                // only while Traefik has not switched yet: "starting").
                let page = http
                    .get(format!("{app}/"))
                    .header("host", &host)
                    .send()
                    .await?;
                let paused = page.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE
                    && page.text().await?.contains("data-page=\"paused\"");
                let routed_to_odoo = document.contains(&format!("\"tenant_{slug}\"")) && {
                    let doc: serde_json::Value = serde_json::from_str(&document)?;
                    doc["http"]["routers"][format!("tenant_{slug}")]["service"] == "odoo"
                };
                let done = match state {
                    "suspended" => paused && !routed_to_odoo,
                    _ => !paused && routed_to_odoo,
                };
                if done {
                    break;
                }
                anyhow::ensure!(
                    started.elapsed() < Duration::from_secs(10),
                    "{slug} never became {state}"
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            sink.push(started.elapsed());
        }
    }
    println!(
        "3. suspended in the database -> paused page and Odoo's route gone: median {}; reactivated -> Odoo's route back: median {} (plus Traefik's poll interval)",
        ms(median(to_paused)),
        ms(median(to_odoo))
    );
    Ok(())
}
