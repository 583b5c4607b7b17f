//! How long an Odoo outage the platform's work survives (docs/benchmarks.md, issue 13):
//!
//! ```text
//! OUTAGE_SECONDS=360 cargo bench -p server --bench odoo_outage --profile dev
//! ```
//!
//! A whole test platform (fresh platform database, odoo-sim in process) with the job
//! workers' **production** settings (`server::jobs::worker_config`: backoff, attempts and
//! retry window as `server serve` runs them). A plan without a template, Odoo stopped, then
//! the plan's first tenant requested: that queues the template build, and the tenant waits
//! for it. Odoo stays down for `OUTAGE_SECONDS` (default 360), then comes back. Printed:
//! when each job died (if it did) and how each ended once Odoo was back: the template
//! `ready` and the tenant `active` mean the outage was survived with no manual retry.
#![allow(clippy::print_stdout)]

#[path = "../tests/it/common/mod.rs"]
mod common;

use common::harness::{Options, Platform};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let outage = Duration::from_secs(
        std::env::var("OUTAGE_SECONDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(360),
    );
    let mut p = Platform::start(Options {
        workers: false,
        ..Options::default()
    })
    .await;
    let production = server::jobs::worker_config(&p.services);
    println!(
        "worker settings: backoff {:?} doubling up to {:?}",
        production.backoff_base, production.backoff_max
    );
    p.start_workers_with(production);
    let key = p.plan_key("outage");
    let (status, plan) = p
        .post(
            "/plans",
            serde_json::json!({"key": key, "name": "Outage", "modules": ["point_of_sale"]}),
        )
        .await;
    assert_eq!(status, 201, "{plan}");
    p.stop_sim().await;
    let started = Instant::now();
    let (status, accepted) = p
        .post("/tenants", p.tenant_body("outage-first", &key))
        .await;
    assert_eq!(status, 202, "{accepted}");
    let tenant_id = accepted["tenant"]["id"]
        .as_str()
        .expect("tenant id")
        .to_owned();
    let mut template_dead: Option<Duration> = None;
    let mut tenant_failed: Option<Duration> = None;
    let mut last_report = Instant::now();
    let mut restarted = false;
    let end = outage + Duration::from_secs(90);
    loop {
        let elapsed = started.elapsed();
        if !restarted && elapsed >= outage {
            p.restart_sim().await;
            restarted = true;
            println!("[{:>4.0} s] Odoo is back", elapsed.as_secs_f64());
        }
        let (_, jobs) = p.get("/jobs?kind=plan.build_template").await;
        let build = jobs["items"].get(0).cloned().unwrap_or_default();
        let (_, tenant) = p.get(&format!("/tenants/{tenant_id}")).await;
        if template_dead.is_none() && build["state"] == "dead" {
            template_dead = Some(elapsed);
            println!(
                "[{:>4.0} s] template build dead after {} attempts: {}",
                elapsed.as_secs_f64(),
                build["attempts"],
                build["last_error"]
            );
        }
        if tenant_failed.is_none() && tenant["state"] == "failed" {
            tenant_failed = Some(elapsed);
            println!(
                "[{:>4.0} s] first tenant failed: {}",
                elapsed.as_secs_f64(),
                tenant["last_error"]
            );
        }
        if last_report.elapsed() >= Duration::from_secs(30) {
            last_report = Instant::now();
            println!(
                "[{:>4.0} s] build {} (attempt {}, {}), tenant {} ({})",
                elapsed.as_secs_f64(),
                build["state"],
                build["attempts"],
                build["progress_label"],
                tenant["state"],
                tenant["last_error"]
            );
        }
        let done = restarted && tenant["state"] == "active";
        if done || elapsed >= end {
            println!(
                "outage of {} s: template build {}, first tenant {} ({} s after the start)",
                outage.as_secs(),
                match template_dead {
                    Some(d) => format!("died after {:.0} s", d.as_secs_f64()),
                    None => format!("survived ({})", build["state"]),
                },
                match tenant_failed {
                    Some(d) => format!("failed after {:.0} s", d.as_secs_f64()),
                    None => format!("survived ({})", tenant["state"]),
                },
                elapsed.as_secs()
            );
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    p.cleanup().await;
}
