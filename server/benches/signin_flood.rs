//! Sign-in under attack, measured from outside (docs/benchmarks.md, issue 13):
//!
//! ```text
//! cargo bench -p server --bench signin_flood --profile dev   # or release
//! ```
//!
//! Starts the real `server` binary on a fresh platform database (no job workers), with
//! `TRUSTED_PROXIES=127.0.0.1` so that `X-Forwarded-For` names each simulated client, and
//! creates a superadmin with the real CLI. Then, with the server's peak memory read from
//! `/proc/<pid>/status` (`VmHWM`) and printed as a ratio to its memory after one sign-in:
//!
//! 1. 40 wrong passwords for the superadmin sent at once from one address, then 40 at
//!    once from 40 addresses: how many were checked against the password (401) and how
//!    many refused unchecked (429/503).
//! 2. The right password, from the address the admin signed in from before, and from a
//!    new one: accepted or not.
//! 3. A flood: `FLOOD` (default 3,000) sign-ins with random emails (every tenth 100 kB
//!    long) and 200-byte passwords from random addresses, 128 at a time: statuses,
//!    requests/s, rows left in the platform database, peak memory; then the admin signs in.
//! 4. 5,000 API requests with bad bearer tokens, 128 at a time: statuses, peak memory,
//!    and the server still answers `/readyz`.
//!
//! Everything the run makes (its platform database) is dropped at the end.

#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const EMAIL: &str = "ops@bench.example.com";
const CONCURRENCY: usize = 128;

fn pg_server() -> String {
    std::env::var("TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Resident and peak resident memory of a process, in MiB.
fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

struct Server {
    child: Child,
    base: String,
    database: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = Command::new("psql")
            .arg(format!("{}/postgres", pg_server()))
            .arg("-qc")
            .arg(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.database
            ))
            .stdout(Stdio::null())
            .status();
    }
}

fn start(password: &str) -> Server {
    let bin = env!("CARGO_BIN_EXE_server");
    let database = format!(
        "saas_bench_signin_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let port = free_port();
    let env = [
        ("DATABASE_URL", format!("{}/{database}", pg_server())),
        ("BIND_ADDR", format!("127.0.0.1:{port}")),
        ("RUN_WORKERS", "false".into()),
        ("COOKIE_SECURE", "false".into()),
        ("TRUSTED_PROXIES", "127.0.0.1".into()),
        ("RUST_LOG", "error".into()),
    ];
    let created = Command::new(bin)
        .args(["create-superadmin", "--email", EMAIL])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("SUPERADMIN_PASSWORD", password)
        .stdout(Stdio::null())
        .status()
        .expect("run create-superadmin");
    assert!(created.success(), "create-superadmin failed");
    let child = Command::new(bin)
        .arg("serve")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server");
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        database,
    }
}

async fn sign_in(
    http: &reqwest::Client,
    base: &str,
    from: &str,
    email: &str,
    password: &str,
) -> u16 {
    http.post(format!("{base}/sfn/auth/sign_in"))
        .header("x-forwarded-for", from)
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .map_or_else(
            |e| {
                if std::env::var_os("SHOW_ERRORS").is_some() {
                    eprintln!("no answer: {e:?}");
                }
                0
            },
            |r| r.status().as_u16(),
        )
}

fn tally(statuses: &[u16]) -> String {
    let mut counts: BTreeMap<u16, usize> = BTreeMap::new();
    for s in statuses {
        *counts.entry(*s).or_default() += 1;
    }
    counts
        .iter()
        .map(|(s, n)| {
            if *s == 0 {
                format!("{n}× connection closed")
            } else {
                format!("{n}× {s}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Sends `total` requests made by `request(i)`, `CONCURRENCY` at a time; their statuses, by
/// index.
async fn flood<F, Fut>(total: usize, request: F) -> Vec<u16>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = u16> + Send,
{
    let request = Arc::new(request);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (request, next) = (request.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return out;
                }
                out.push((i, request(i).await));
            }
        }));
    }
    let mut all = Vec::with_capacity(total);
    for t in tasks {
        all.extend(t.await.expect("flood task"));
    }
    // In the order sent, so that callers can tell requests apart by index.
    all.sort_unstable_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, status)| status).collect()
}

fn random_address(i: usize) -> String {
    let r = rand::random::<u32>();
    format!("10.{}.{}.{}", (i / 65536) % 256, (r >> 8) % 256, r % 256)
}

#[tokio::main]
async fn main() {
    let password = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let server = start(&password);
    let pid = server.child.id();
    let base = server.base.clone();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(CONCURRENCY)
        .timeout(Duration::from_secs(120))
        .build()
        .expect("http client");
    let deadline = Instant::now() + Duration::from_secs(60);
    while http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map_or(true, |r| !r.status().is_success())
    {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let admin_home = "198.51.100.10";
    let first = sign_in(&http, &base, admin_home, EMAIL, &password).await;
    assert!(
        first == 200 || first == 302 || first == 303,
        "warm-up sign-in: {first}"
    );
    let (baseline, _) = memory_mib(pid);
    println!(
        "server memory after one sign-in: {baseline:.1} MiB (the baseline of the ratios below)"
    );

    // 1. Parallel guesses.
    let one_address = flood(40, {
        let (http, base) = (http.clone(), base.clone());
        move |_| {
            let (http, base) = (http.clone(), base.clone());
            async move { sign_in(&http, &base, "203.0.113.7", EMAIL, "wrong password 1").await }
        }
    })
    .await;
    let checked = one_address.iter().filter(|s| **s == 401).count();
    println!(
        "1a. 40 wrong passwords at once, one address: {checked} checked ({})",
        tally(&one_address)
    );
    let many_addresses = flood(40, {
        let (http, base) = (http.clone(), base.clone());
        move |i| {
            let (http, base) = (http.clone(), base.clone());
            async move {
                let from = format!("203.0.113.{}", 100 + i);
                sign_in(&http, &base, &from, EMAIL, "wrong password 2").await
            }
        }
    })
    .await;
    let checked = many_addresses.iter().filter(|s| **s == 401).count();
    println!(
        "1b. 40 wrong passwords at once, 40 addresses: {checked} checked ({})",
        tally(&many_addresses)
    );

    // 2. The right password afterwards.
    let known = sign_in(&http, &base, admin_home, EMAIL, &password).await;
    let fresh = sign_in(&http, &base, "198.51.100.99", EMAIL, &password).await;
    println!("2.  right password after the guesses: from the admin's usual address {known}, from a new address {fresh} (200/302/303 = accepted)");

    // 3. The flood of random accounts.
    let total: usize = std::env::var("FLOOD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let started = Instant::now();
    let statuses = flood(total, {
        let (http, base) = (http.clone(), base.clone());
        move |i| {
            let (http, base) = (http.clone(), base.clone());
            async move {
                let local = if i % 10 == 0 {
                    format!("{}{}", rand::random::<u64>(), "x".repeat(100_000))
                } else {
                    format!("u{}", rand::random::<u64>())
                };
                let email = format!("{local}@flood.example.com");
                let password = "p".repeat(200);
                sign_in(&http, &base, &random_address(i), &email, &password).await
            }
        }
    })
    .await;
    let secs = started.elapsed().as_secs_f64();
    let (_, peak) = memory_mib(pid);
    let mut rows = String::new();
    if let Ok(out) = Command::new("psql")
        .arg(format!("{}/{}", pg_server(), server.database))
        .args(["-At", "-c"])
        .arg(
            "SELECT string_agg(format('%s: %s rows, %s', c.relname, \
             (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I', \
             c.relname), false, true, '')))[1]::text, \
             pg_size_pretty(pg_total_relation_size(c.oid))), '; ') FROM pg_class c \
             WHERE c.relkind = 'r' AND c.relname IN \
             ('admin_login_failures', 'signin_throttle', 'signin_known_clients')",
        )
        .output()
    {
        rows = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    }
    let after = sign_in(&http, &base, admin_home, EMAIL, &password).await;
    type Indexed = Vec<(usize, u16)>;
    let (long, short): (Indexed, Indexed) = statuses
        .iter()
        .copied()
        .enumerate()
        .partition(|(i, _)| i % 10 == 0);
    let only = |v: Vec<(usize, u16)>| v.into_iter().map(|(_, s)| s).collect::<Vec<_>>();
    println!(
        "3.  flood of {total} sign-ins, {CONCURRENCY} at a time, in {secs:.1} s ({:.0}/s): 100 kB emails: {}; others: {}",
        total as f64 / secs,
        tally(&only(long)),
        tally(&only(short))
    );
    println!(
        "    server peak memory {peak:.1} MiB = {:.1}× the baseline; failure-tracking tables on disk: {rows}",
        peak / baseline
    );
    println!("    the admin signs in after the flood: {after}");

    // 4. Bad API tokens.
    let started = Instant::now();
    let statuses = flood(5000, {
        let (http, base) = (http.clone(), base.clone());
        move |i| {
            let (http, base) = (http.clone(), base.clone());
            async move {
                let token = if i % 2 == 0 {
                    format!("saas_{}", "0".repeat(64))
                } else {
                    "x".repeat(4000)
                };
                http.get(format!("{base}/api/v1/tenants"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .map_or(0, |r| r.status().as_u16())
            }
        }
    })
    .await;
    let secs = started.elapsed().as_secs_f64();
    let (_, peak) = memory_mib(pid);
    let ready = http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map_or(0, |r| r.status().as_u16());
    println!(
        "4.  5000 API requests with bad tokens in {secs:.1} s ({:.0}/s): {}; peak memory {peak:.1} MiB = {:.1}× the baseline; /readyz {ready}",
        5000.0 / secs,
        tally(&statuses),
        peak / baseline
    );
}
