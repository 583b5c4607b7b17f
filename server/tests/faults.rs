//! Fault tests: a worker process killed mid-provisioning, Odoo down, PostgreSQL restarted
//! under load.

mod common;

use common::harness::{Options, Platform};
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// An "Odoo" that accepts connections and never answers: a worker calling it hangs.
async fn hanging_odoo() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let handle = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (url, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_killed_mid_provisioning_leaves_a_job_another_worker_finishes() {
    let mut p = Platform::start(Options::default()).await;
    let plan = p.plan_with_template("pos", &["point_of_sale"], 1).await;
    let key = plan["key"].as_str().expect("key").to_owned();
    p.stop_workers().await;

    // A separate worker process whose Odoo hangs: it stops inside the JSON-RPC step.
    let (hang_url, hang) = hanging_odoo().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("worker")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &p.db.url)
        .env("ODOO_URL", &hang_url)
        .env("ODOO_MASTER_PASSWORD", "admin")
        .env("TENANT_DB_PREFIX", &p.config.tenant_db_prefix)
        .env("WARM_POOL_SIZE", "0")
        .env("JOB_LEASE_SECONDS", "2")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start worker process");

    let (status, accepted) = p.post("/tenants", p.tenant_body("hooli", &key)).await;
    assert_eq!(status, 202, "{accepted}");
    let tenant_id = accepted["tenant"]["id"].as_str().expect("id").to_owned();
    let job_id = accepted["job_id"].as_str().expect("job").to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let job = p.job(&job_id).await;
        if job["state"] == "running" && job["progress_step"].as_i64().unwrap_or(0) >= 4 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the worker never reached the RPC step: {job}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Database made and neutralized, owner's password swapped for a one-time one: kill now.
    child.kill().expect("kill the worker process");
    let _ = child.wait();
    hang.abort();

    p.start_workers(2);
    let tenant = p
        .wait_tenant(&tenant_id, "active", Duration::from_secs(60))
        .await;
    let db = tenant["db_name"].as_str().expect("db").to_owned();
    let job = p.finished_job(&job_id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["attempts"], 2, "{job}");

    // Each step took effect once, and nothing is left behind.
    let actions = p.audit_actions(&tenant_id).await;
    for once in [
        "tenant.provisioning",
        "tenant.database_created",
        "tenant.neutralized",
        "tenant.activated",
    ] {
        assert_eq!(
            actions.iter().filter(|a| *a == once).count(),
            1,
            "{once} in {actions:?}"
        );
    }
    let mut expected = vec![db.clone(), p.template_name(&key)];
    expected.sort();
    assert_eq!(p.databases().await, expected, "orphan databases");
    let odoo = p.odoo();
    assert!(odoo
        .login(&db, "owner@hooli.example.com", "correct horse battery")
        .await
        .expect("call")
        .is_some());
    p.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn odoo_down_makes_the_job_retry_and_succeed_when_it_returns() {
    let mut p = Platform::start(Options::default()).await;
    let plan = p.plan_with_template("pos", &["point_of_sale"], 1).await;
    let key = plan["key"].as_str().expect("key").to_owned();
    p.stop_sim().await;

    let (status, accepted) = p.post("/tenants", p.tenant_body("pied-piper", &key)).await;
    assert_eq!(status, 202, "{accepted}");
    let tenant_id = accepted["tenant"]["id"].as_str().expect("id").to_owned();
    let job_id = accepted["job_id"].as_str().expect("job").to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let job = p.job(&job_id).await;
        if job["attempts"].as_i64().unwrap_or(0) >= 2 && job["last_error"].as_str().is_some() {
            assert!(
                job["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("Odoo")),
                "{job}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "no retry seen: {job}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, tenant) = p.get(&format!("/tenants/{tenant_id}")).await;
    assert_eq!(tenant["state"], "provisioning", "{tenant}");
    assert!(tenant["last_error"].as_str().is_some(), "{tenant}");

    p.restart_sim().await;
    p.wait_tenant(&tenant_id, "active", Duration::from_secs(60))
        .await;
    let job = p.finished_job(&job_id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    p.cleanup().await;
}

/// A throwaway PostgreSQL 15 cluster of our own (never the shared one), on a free port.
struct PrivateCluster {
    dir: std::path::PathBuf,
    port: u16,
}

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

fn as_postgres(program: &str, args: &[&str]) -> std::process::Output {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false);
    let mut command = if is_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", program]);
        c
    } else {
        Command::new(program)
    };
    command
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run a PostgreSQL tool")
}

impl PrivateCluster {
    fn start() -> PrivateCluster {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let dir = std::env::temp_dir().join(format!("saas-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let _ = Command::new("chown")
            .args(["postgres:postgres", dir.to_str().expect("path")])
            .status();
        let data = dir.join("data");
        let out = as_postgres(
            &format!("{PG_BIN}/initdb"),
            &[
                "-D",
                data.to_str().expect("path"),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let cluster = PrivateCluster { dir, port };
        cluster.ctl(&["start", "-w"]);
        cluster
    }

    fn ctl(&self, action: &[&str]) {
        let data = self.dir.join("data");
        let log = self.dir.join("log");
        let opts = format!("-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c max_connections=200 -c fsync=off", self.port, self.dir.display());
        let mut args = vec![
            "-D",
            data.to_str().expect("path"),
            "-l",
            log.to_str().expect("path"),
            "-o",
            &opts,
        ];
        args.extend_from_slice(action);
        let out = as_postgres(&format!("{PG_BIN}/pg_ctl"), &args);
        assert!(
            out.status.success(),
            "pg_ctl {action:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = as_postgres(
            &format!("{PG_BIN}/pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap_or("/nonexistent"),
                "stop",
                "-m",
                "immediate",
            ],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgresql_restarted_under_load_loses_no_job() {
    let cluster = PrivateCluster::start();
    let p = Platform::start(Options {
        pg_server: Some(cluster.url()),
        ..Options::default()
    })
    .await;
    let plan = p.plan_with_template("basic", &[], 1).await;
    let key = plan["key"].as_str().expect("key").to_owned();

    // Load: tenant requests from the API and no-op jobs straight into the queue, while
    // PostgreSQL restarts underneath. A client retries what failed, as clients do.
    let queue = p.services.queue.clone();
    let noops = tokio::spawn(async move {
        let mut acknowledged = 0u32;
        let deadline = Instant::now() + Duration::from_secs(60);
        while acknowledged < 400 && Instant::now() < deadline {
            if queue
                .enqueue(job_queue::NewJob::new("noop", json!({})))
                .await
                .is_ok()
            {
                acknowledged += 1;
            } else {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        acknowledged
    });
    let mut requests = Vec::new();
    for i in 0..12 {
        let body = p.tenant_body(&format!("load-{i}"), &key);
        let request = p.api(reqwest::Method::POST, "/tenants").json(&body);
        requests.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(150 * i)).await;
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let Some(attempt) = request.try_clone() else {
                    return 0;
                };
                if let Ok(r) = attempt.send().await {
                    let status = r.status().as_u16();
                    // 409: an earlier attempt committed but its answer was lost.
                    if status == 202 || status == 409 {
                        return status;
                    }
                }
                assert!(Instant::now() < deadline, "the API never came back");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    cluster.ctl(&["restart", "-w", "-m", "fast"]);

    for r in requests {
        let status = r.await.expect("request task");
        assert!(status == 202 || status == 409, "{status}");
    }
    let acknowledged = noops.await.expect("noop task");

    // Every tenant becomes active; every acknowledged job ran.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (_, page) = p.get("/tenants?limit=50").await;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        if items.len() == 12 && items.iter().all(|t| t["state"] == "active") {
            break;
        }
        assert!(Instant::now() < deadline, "tenants not all active: {page}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    loop {
        let (_, noop) = p.get("/jobs?kind=noop&state=succeeded&limit=1").await;
        let (_, all) = p.get("/jobs?kind=noop&limit=1").await;
        if noop["total"].as_u64() == Some(u64::from(acknowledged)) && all["total"] == noop["total"]
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "noop jobs: {noop} of {all}, {acknowledged} acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, provision) = p.get("/jobs?kind=tenant.provision&limit=1").await;
    assert_eq!(provision["total"], 12, "one provisioning job per tenant");
    p.cleanup().await;
    drop(cluster);
}
