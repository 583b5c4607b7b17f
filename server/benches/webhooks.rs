//! Stripe webhook benchmark: `cargo bench -p server --bench webhooks` (see docs/benchmarks.md).
//!
//! One run, against the PostgreSQL at `TEST_PG_URL` and a localstripe of its own:
//! 1. the acknowledgement latency (p50, p99) of 1,000 distinct signed
//!    `customer.subscription.updated` deliveries (signed by Stripe's official library through
//!    the harness), posted 16 at a time to `POST /webhooks/stripe` of the real router, as a
//!    ratio to `GET /healthz` measured the same way in the same run;
//! 2. the events processed per second: from the first delivery until the 1,000 jobs have
//!    succeeded (each reads the subscription from localstripe and applies it, 4 workers), as
//!    a ratio to the bare rate of the same subscription read from localstripe with the same
//!    concurrency (what the processing cannot beat).
#![allow(clippy::print_stdout)]

#[allow(dead_code)]
#[path = "../tests/it/common/stripe.rs"]
mod stripe;

use futures::StreamExt;
use serde_json::{json, Value};
use server::config::Config;
use server::platform::Platform;
use sqlx::{Connection, PgConnection};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

const EVENTS: usize = 1_000;
const CONCURRENCY: usize = 16;
const WORKERS: usize = 4;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::var_os("RUST_LOG").is_some() {
        server::observability::init_tracing(server::config::LogFormat::Pretty);
    }
    let pg = std::env::var("TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
    let id = Uuid::new_v4().simple().to_string()[..8].to_owned();
    let platform_db = format!("saas_bench_wh_{id}");
    let ls = stripe::LocalStripe::start().await;
    let secret = format!("whsec_bench_{id}");
    let mut vars = HashMap::new();
    vars.insert("DATABASE_URL".to_owned(), format!("{pg}/{platform_db}"));
    vars.insert("TENANT_DB_PREFIX".to_owned(), format!("t{id}_"));
    vars.insert("DB_MAX_CONNECTIONS".to_owned(), "20".to_owned());
    vars.insert(
        "STRIPE_SECRET_KEY".to_owned(),
        stripe::SECRET_KEY.to_owned(),
    );
    vars.insert("STRIPE_API_BASE".to_owned(), ls.api_base());
    vars.insert("STRIPE_WEBHOOK_SECRET".to_owned(), secret.clone());
    vars.insert("BILLING_SWEEP_SECONDS".to_owned(), "86400".to_owned());
    let config = Config::from_vars(&vars).map_err(|e| anyhow::anyhow!("{e}"))?;
    let pool = server::db::prepare(&config.database_url, 20).await?;
    let platform = Platform::new(Arc::new(config), pool.clone())?;
    let result = run(&platform, &ls, &secret).await;

    pool.close().await;
    ls.stop().await;
    let mut admin = PgConnection::connect(&format!("{pg}/postgres")).await?;
    sqlx::query(&format!(
        "DROP DATABASE IF EXISTS \"{platform_db}\" WITH (FORCE)"
    ))
    .execute(&mut admin)
    .await?;
    result
}

/// Sends `requests` `CONCURRENCY` at a time; each request's latency, sorted, and the wall time.
async fn load(
    requests: Vec<reqwest::RequestBuilder>,
    expect: u16,
) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let started = Instant::now();
    let results: Vec<Result<Duration, String>> = futures::stream::iter(requests)
        .map(|req| async move {
            let t = Instant::now();
            let r = req.send().await.map_err(|e| e.to_string())?;
            let status = r.status().as_u16();
            let _ = r.bytes().await;
            if status != expect {
                return Err(format!("status {status}"));
            }
            Ok(t.elapsed())
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let wall = started.elapsed();
    let mut latencies = Vec::with_capacity(results.len());
    for r in results {
        latencies.push(r.map_err(|e| anyhow::anyhow!("request failed: {e}"))?);
    }
    latencies.sort();
    Ok((latencies, wall))
}

async fn run(p: &Platform, ls: &stripe::LocalStripe, secret: &str) -> anyhow::Result<()> {
    // A subscription in Stripe and the tenant it belongs to (no Odoo database needed: the
    // subscription stays active, so no lifecycle job is asked for).
    let (_, customer) = ls
        .post("/v1/customers", &[("email", "bench@example.com")])
        .await;
    let customer = customer["id"].as_str().unwrap_or_default().to_owned();
    ls.post("/v1/products", &[("id", "prod_bench"), ("name", "Bench")])
        .await;
    let (_, price) = ls
        .post(
            "/v1/prices",
            &[
                ("product", "prod_bench"),
                ("unit_amount", "2900"),
                ("currency", "eur"),
                ("recurring[interval]", "month"),
            ],
        )
        .await;
    let price = price["id"].as_str().unwrap_or_default().to_owned();
    let (_, session) = ls
        .post(
            "/v1/checkout/sessions",
            &[
                ("mode", "subscription"),
                ("customer", &customer),
                ("line_items[0][price]", &price),
                ("success_url", "http://127.0.0.1:9/ok"),
            ],
        )
        .await;
    let (_, done) = ls
        .complete_session(session["id"].as_str().unwrap_or_default(), "pm_card_visa")
        .await;
    let sub_id = done["subscription"].as_str().unwrap_or_default().to_owned();
    anyhow::ensure!(!sub_id.is_empty(), "no subscription: {done}");
    let subscription: Value = ls.get(&format!("/v1/subscriptions/{sub_id}")).await;
    let plan_id: Uuid = sqlx::query_scalar(
        "INSERT INTO plans (key, name, price_cents) VALUES ('bench', 'Bench', 2900) RETURNING id",
    )
    .fetch_one(&p.pool)
    .await?;
    let tenant_id: Uuid = sqlx::query_scalar(
        "INSERT INTO tenants (slug, db_name, hostname, plan_id, state, owner_email, owner_name, company_name) \
         VALUES ('bench', 'tbench_none', 'bench.localhost', $1, 'active', 'bench@example.com', 'Bench', 'Bench') RETURNING id",
    )
    .bind(plan_id)
    .fetch_one(&p.pool)
    .await?;
    sqlx::query(
        "INSERT INTO subscriptions (tenant_id, stripe_customer_id, stripe_subscription_id, status) \
         VALUES ($1, $2, $3, 'active')",
    )
    .bind(tenant_id)
    .bind(&customer)
    .bind(&sub_id)
    .execute(&p.pool)
    .await?;

    // The real router on a free port, and the server's own workers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = server::web::router(p.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker_config = job_queue::WorkerConfig {
        concurrency: WORKERS,
        poll_interval: Duration::from_millis(200),
        ..job_queue::WorkerConfig::default()
    };
    let workers = tokio::spawn(server::jobs::run(p.clone(), worker_config, async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()?;

    // 1,000 distinct events plus a warm-up batch, signed by Stripe's official library.
    let event = |name: &str, i: usize| {
        serde_json::to_string(&json!({
            "id": format!("evt_{name}_{i:05}"), "object": "event",
            "api_version": server::billing::STRIPE_API_VERSION,
            "created": chrono::Utc::now().timestamp(), "livemode": false, "pending_webhooks": 1,
            "request": {"id": null, "idempotency_key": null},
            "type": "customer.subscription.updated", "data": {"object": subscription},
        }))
        .unwrap_or_default()
    };
    let warm: Vec<String> = (0..100).map(|i| event("warm", i)).collect();
    let payloads: Vec<String> = (0..EVENTS).map(|i| event("bench", i)).collect();
    let warm_headers = ls.sign(&warm, secret, None).await;
    // In chunks: the harness (aiohttp) takes request bodies of at most 1 MiB.
    let mut headers = Vec::with_capacity(payloads.len());
    for chunk in payloads.chunks(100) {
        headers.extend(ls.sign(chunk, secret, None).await);
    }
    let post = |payload: &String, header: &String| {
        http.post(format!("{base}/webhooks/stripe"))
            .header("Content-Type", "application/json")
            .header("Stripe-Signature", header.as_str())
            .body(payload.clone())
    };
    let healthz = || http.get(format!("{base}/healthz"));

    // Warm-up (connections, caches), then let its jobs drain.
    load((0..100).map(|_| healthz()).collect(), 200).await?;
    load(
        warm.iter()
            .zip(&warm_headers)
            .map(|(b, h)| post(b, h))
            .collect(),
        200,
    )
    .await?;
    wait_jobs(p, 100).await?;

    // 1. Baseline, then the deliveries.
    let (health, health_wall) = load((0..EVENTS).map(|_| healthz()).collect(), 200).await?;
    let first = Instant::now();
    let (acks, ack_wall) = load(
        payloads
            .iter()
            .zip(&headers)
            .map(|(b, h)| post(b, h))
            .collect(),
        200,
    )
    .await?;
    // 2. Until every job has succeeded.
    wait_jobs(p, 100 + EVENTS as i64).await?;
    let processed = first.elapsed();
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM stripe_events WHERE id LIKE 'evt_bench_%'")
            .fetch_one(&p.pool)
            .await?;
    anyhow::ensure!(stored == EVENTS as i64, "{stored} events stored");
    let (job_span,): (f64,) = sqlx::query_as(
        "SELECT extract(epoch FROM max(finished_at) - min(started_at))::float8 FROM jobs \
         WHERE kind = 'billing.stripe_event' AND payload ->> 'event_id' LIKE 'evt_bench_%'",
    )
    .fetch_one(&p.pool)
    .await?;

    // The bare Stripe read every job makes, at the workers' concurrency.
    let reads: Vec<reqwest::RequestBuilder> = (0..EVENTS)
        .map(|_| {
            http.get(format!("{}/v1/subscriptions/{sub_id}", ls.url))
                .basic_auth(stripe::SECRET_KEY, Some(""))
        })
        .collect();
    let started = Instant::now();
    let read_results: Vec<bool> = futures::stream::iter(reads)
        .map(|r| async move {
            r.send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false)
        })
        .buffer_unordered(WORKERS)
        .collect()
        .await;
    let read_wall = started.elapsed();
    anyhow::ensure!(
        read_results.iter().all(|ok| *ok),
        "a localstripe read failed"
    );

    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), workers).await;

    let per_sec = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
    let (h50, h99) = (percentile(&health, 0.5), percentile(&health, 0.99));
    let (a50, a99) = (percentile(&acks, 0.5), percentile(&acks, 0.99));
    println!(
        "Stripe webhooks: {EVENTS} signed deliveries, {CONCURRENCY} at a time, {WORKERS} workers"
    );
    println!(
        "  GET /healthz (baseline)     p50 {}  p99 {}  ({:.0} req/s)",
        ms(h50),
        ms(h99),
        per_sec(EVENTS, health_wall)
    );
    println!(
        "  POST /webhooks/stripe (ack) p50 {}  p99 {}  ({:.0} req/s)",
        ms(a50),
        ms(a99),
        per_sec(EVENTS, ack_wall)
    );
    println!(
        "  ack / healthz               p50 {:.1}x  p99 {:.1}x",
        a50.as_secs_f64() / h50.as_secs_f64(),
        a99.as_secs_f64() / h99.as_secs_f64()
    );
    let processed_rate = per_sec(EVENTS, processed);
    let read_rate = per_sec(EVENTS, read_wall);
    println!(
        "  events processed            {:.0}/s (first delivery to last job done: {:.2} s; jobs alone {:.2} s)",
        processed_rate,
        processed.as_secs_f64(),
        job_span
    );
    println!(
        "  bare Stripe read (baseline) {:.0}/s   processed / bare read {:.2}x",
        read_rate,
        processed_rate / read_rate
    );
    Ok(())
}

async fn wait_jobs(p: &Platform, succeeded: i64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let (done, dead): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE state = 'succeeded'), count(*) FILTER (WHERE state = 'dead') \
             FROM jobs WHERE kind = 'billing.stripe_event'",
        )
        .fetch_one(&p.pool)
        .await?;
        anyhow::ensure!(dead == 0, "{dead} event jobs died");
        if done >= succeeded {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "jobs not done: {done}/{succeeded}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
