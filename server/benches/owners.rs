//! Owner-side benchmark: `cargo bench -p server --bench owners` (see docs/benchmarks.md).
//!
//! One run, against the PostgreSQL at `TEST_PG_URL` and a maildev of its own (npm, the
//! local SMTP sink of `scripts/run.sh`):
//! 1. **outbox throughput**: `MESSAGES` welcome-sized messages written to the outbox in one
//!    transaction (as a change that causes them would), then delivered by the server's own
//!    job workers (`mail.send`, `WORKERS` at a time) until every row is `sent`: messages per
//!    second, as a ratio to a bare lettre send loop to the same sink in the same run (the
//!    same messages, one pooled transport, `WORKERS` sends at a time: what the outbox
//!    cannot beat);
//! 2. **the sign-up page under load**: `GET /signup` (server-rendered) `REQUESTS` times,
//!    `CONCURRENCY` at a time, p50 and p99 as ratios to `GET /healthz` measured the same way
//!    in the same run; the front door (`GET /`, which reads the plans) likewise.
#![allow(clippy::print_stdout)]

#[allow(dead_code)]
#[path = "../tests/it/common/maildev.rs"]
mod maildev;

use futures::StreamExt;
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use server::config::Config;
use server::platform::Platform;
use sqlx::{Connection, PgConnection};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

const MESSAGES: usize = 1_000;
const WORKERS: usize = 4;
const REQUESTS: usize = 2_000;
const CONCURRENCY: usize = 16;

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
    let platform_db = format!("saas_bench_own_{id}");
    let sink = maildev::Maildev::start().await;
    let mut vars = HashMap::new();
    vars.insert("DATABASE_URL".to_owned(), format!("{pg}/{platform_db}"));
    vars.insert("TENANT_DB_PREFIX".to_owned(), format!("t{id}_"));
    vars.insert("DB_MAX_CONNECTIONS".to_owned(), "20".to_owned());
    vars.insert("COOKIE_SECURE".to_owned(), "false".to_owned());
    for (k, v) in sink.env() {
        vars.insert(k, v);
    }
    let config = Config::from_vars(&vars).map_err(|e| anyhow::anyhow!("{e}"))?;
    let pool = server::db::prepare(&config.database_url, 20).await?;
    let platform = Platform::new(Arc::new(config), pool.clone())?;
    let result = run(&platform, &sink).await;

    pool.close().await;
    sink.stop().await;
    let mut admin = PgConnection::connect(&format!("{pg}/postgres")).await?;
    sqlx::query(&format!(
        "DROP DATABASE IF EXISTS \"{platform_db}\" WITH (FORCE)"
    ))
    .execute(&mut admin)
    .await?;
    result
}

/// Sends `requests` `CONCURRENCY` at a time; each request's latency, sorted, and the wall time.
async fn load(requests: Vec<reqwest::RequestBuilder>) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let started = Instant::now();
    let results: Vec<Result<Duration, String>> = futures::stream::iter(requests)
        .map(|req| async move {
            let t = Instant::now();
            let r = req.send().await.map_err(|e| e.to_string())?;
            let status = r.status().as_u16();
            let _ = r.bytes().await;
            if status != 200 {
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

/// A welcome message as the platform renders it (text and HTML), to `to`.
fn welcome(
    settings: &server::config::MailSettings,
    i: usize,
) -> anyhow::Result<server::mail::Email> {
    let to = server::mail::templates::Recipient {
        address: format!("owner{i}@bench.example.com"),
        name: format!("Owner {i}"),
    };
    let facts = server::mail::templates::TenantFacts {
        common: server::mail::templates::Common::new(settings, &to.name),
        company: format!("Bench Shop {i}"),
        url: format!("https://shop{i}.saas.test/"),
        login: to.address.clone(),
        pos_url: format!("https://shop{i}.saas.test/pos/"),
        portal_url: format!("https://saas.test/my/tenants/{}", Uuid::new_v4()),
    };
    Ok(server::mail::templates::tenant_welcome(
        &to,
        Uuid::new_v4(),
        &facts,
    )?)
}

async fn run(p: &Platform, sink: &maildev::Maildev) -> anyhow::Result<()> {
    let emails: Vec<server::mail::Email> = (0..MESSAGES)
        .map(|i| welcome(&p.config.mail, i))
        .collect::<anyhow::Result<_>>()?;

    // 1a. The bare lettre loop: the same messages, one pooled transport, WORKERS at a time.
    let transport: AsyncSmtpTransport<Tokio1Executor> =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(sink.smtp_port)
            .build();
    let from: Mailbox = "Bench <noreply@bench.example.com>".parse()?;
    let bare_messages: Vec<Message> = emails
        .iter()
        .map(|e| {
            Ok(Message::builder()
                .from(from.clone())
                .to(e.to_address.parse()?)
                .subject(&e.subject)
                .multipart(
                    MultiPart::alternative()
                        .singlepart(
                            SinglePart::builder()
                                .header(ContentType::TEXT_PLAIN)
                                .body(e.text.clone()),
                        )
                        .singlepart(
                            SinglePart::builder()
                                .header(ContentType::TEXT_HTML)
                                .body(e.html.clone()),
                        ),
                )?)
        })
        .collect::<anyhow::Result<_>>()?;
    // Warm-up: the connections of the pool.
    for m in bare_messages.iter().take(WORKERS) {
        transport.send(m.clone()).await?;
    }
    let started = Instant::now();
    let sent: Vec<bool> = futures::stream::iter(bare_messages)
        .map(|m| {
            let t = &transport;
            async move { t.send(m).await.is_ok() }
        })
        .buffer_unordered(WORKERS)
        .collect()
        .await;
    let bare_wall = started.elapsed();
    anyhow::ensure!(sent.iter().all(|ok| *ok), "a bare lettre send failed");

    // 1b. The outbox: every row in one transaction, then the server's own workers.
    let mut tx = p.pool.begin().await?;
    for e in emails {
        server::mail::enqueue(&mut tx, &p.config.mail, e).await?;
    }
    tx.commit().await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker_config = job_queue::WorkerConfig {
        concurrency: WORKERS,
        poll_interval: Duration::from_millis(200),
        ..job_queue::WorkerConfig::default()
    };
    let started = Instant::now();
    let workers = tokio::spawn(server::jobs::run(p.clone(), worker_config, async move {
        let _ = stopped.await;
    }));
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let (sent, dead): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE state = 'sent'), count(*) FILTER (WHERE state = 'dead') FROM outbox",
        )
        .fetch_one(&p.pool)
        .await?;
        anyhow::ensure!(dead == 0, "{dead} messages died");
        if sent >= MESSAGES as i64 {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "only {sent} of {MESSAGES} sent");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let outbox_wall = started.elapsed();
    let (span,): (f64,) = sqlx::query_as(
        "SELECT extract(epoch FROM max(sent_at) - min(created_at))::float8 FROM outbox",
    )
    .fetch_one(&p.pool)
    .await?;
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), workers).await;
    // Every message arrived once: the sink holds the warm-up, the bare loop and the outbox.
    let received = sink.emails().await.len();
    anyhow::ensure!(
        received == WORKERS + 2 * MESSAGES,
        "the sink holds {received} messages, not {}",
        WORKERS + 2 * MESSAGES
    );

    // 2. The sign-up page and the front door under load, against /healthz.
    sqlx::query(
        "INSERT INTO plans (key, name, price_cents, max_companies, modules) VALUES \
         ('free', 'Free', 0, 1, '{point_of_sale}'), ('shop', 'Shop', 2900, 3, '{point_of_sale,sale}'), \
         ('business', 'Business', 7900, 10, '{point_of_sale,sale,stock}')",
    )
    .execute(&p.pool)
    .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = server::web::router(p.clone());
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await;
    });
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()?;
    let page = http
        .get(format!("{base}/signup"))
        .send()
        .await?
        .text()
        .await?;
    anyhow::ensure!(
        page.contains("name=\"password\""),
        "/signup is not the sign-up form"
    );
    let front = http.get(format!("{base}/")).send().await?.text().await?;
    anyhow::ensure!(front.contains("Business"), "/ does not list the plans");
    let get = |path: &'static str| {
        let http = http.clone();
        let base = base.clone();
        move || http.get(format!("{base}{path}"))
    };
    let (healthz, signup, home) = (get("/healthz"), get("/signup"), get("/"));
    load((0..200).map(|_| healthz()).collect()).await?;
    load((0..200).map(|_| signup()).collect()).await?;
    let (health, health_wall) = load((0..REQUESTS).map(|_| healthz()).collect()).await?;
    let (sign, sign_wall) = load((0..REQUESTS).map(|_| signup()).collect()).await?;
    let (door, door_wall) = load((0..REQUESTS).map(|_| home()).collect()).await?;

    let per_sec = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
    let bare_rate = per_sec(MESSAGES, bare_wall);
    let outbox_rate = per_sec(MESSAGES, outbox_wall);
    println!(
        "Outbox to the local SMTP sink (maildev): {MESSAGES} welcome messages, {WORKERS} at a time"
    );
    println!(
        "  bare lettre send loop (baseline) {bare_rate:.0} msg/s ({:.2} s)",
        bare_wall.as_secs_f64()
    );
    println!(
        "  outbox, mail.send jobs           {outbox_rate:.0} msg/s ({:.2} s; queued to last sent {span:.2} s)   {:.2}x the bare loop",
        outbox_wall.as_secs_f64(),
        outbox_rate / bare_rate
    );
    println!("Owner pages: {REQUESTS} requests, {CONCURRENCY} at a time");
    let (h50, h99) = (percentile(&health, 0.5), percentile(&health, 0.99));
    println!(
        "  GET /healthz (baseline)  p50 {}  p99 {}  ({:.0} req/s)",
        ms(h50),
        ms(h99),
        per_sec(REQUESTS, health_wall)
    );
    for (name, lat, wall) in [
        ("GET /signup", &sign, sign_wall),
        ("GET / (front door)", &door, door_wall),
    ] {
        let (p50, p99) = (percentile(lat, 0.5), percentile(lat, 0.99));
        println!(
            "  {name:<24} p50 {}  p99 {}  ({:.0} req/s)   p50 {:.1}x  p99 {:.1}x /healthz",
            ms(p50),
            ms(p99),
            per_sec(REQUESTS, wall),
            p50.as_secs_f64() / h50.as_secs_f64(),
            p99.as_secs_f64() / h99.as_secs_f64()
        );
    }
    Ok(())
}
