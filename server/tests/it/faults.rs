//! Fault tests: a worker process killed mid-provisioning, Odoo down, PostgreSQL restarted
//! under load.

use crate::common::harness::{Options, Platform};
use serde_json::json;
use sqlx::{ConnectOptions, Connection};
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
async fn odoo_down_makes_the_job_wait_for_it_and_succeed_when_it_returns() {
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
        let label = job["progress_label"].as_str().unwrap_or("");
        if label.starts_with("waiting for Odoo: ") {
            assert_eq!(job["state"], "queued", "{job}");
            assert_eq!(job["attempts"], 0, "waiting spends no attempt: {job}");
            assert!(job["last_error"].is_null(), "not shown as a failure: {job}");
            break;
        }
        assert!(Instant::now() < deadline, "never waiting for Odoo: {job}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, tenant) = p.get(&format!("/tenants/{tenant_id}")).await;
    assert_eq!(tenant["state"], "provisioning", "{tenant}");
    assert!(
        tenant["last_error"]
            .as_str()
            .is_some_and(|e| e.starts_with("waiting for Odoo: ")),
        "{tenant}"
    );

    p.restart_sim().await;
    p.wait_tenant(&tenant_id, "active", Duration::from_secs(60))
        .await;
    let job = p.finished_job(&job_id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["attempts"], 1, "{job}");
    p.cleanup().await;
}

/// The outage of issue 13: a plan's template build and its first tenant used to give up
/// after their attempts (here about 3 s and 12 s with the tests' fast backoff; 33 s and
/// 278 s with the production settings) and needed a manual retry. An outage several times
/// longer is now waited out by both, with no retry by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_odoo_outage_longer_than_the_attempts_last_is_survived_by_a_template_build_and_its_first_tenant(
) {
    let mut p = Platform::start(Options::default()).await;
    let key = p.plan_key("outage");
    let (status, plan) = p
        .post(
            "/plans",
            serde_json::json!({"key": key, "name": "Outage", "modules": ["point_of_sale"]}),
        )
        .await;
    assert_eq!(status, 201, "{plan}");
    let plan_id = plan["id"].as_str().expect("plan id").to_owned();
    p.stop_sim().await;
    let outage_began = Instant::now();
    let (status, accepted) = p.post("/tenants", p.tenant_body("first-one", &key)).await;
    assert_eq!(status, 202, "{accepted}");
    let tenant_id = accepted["tenant"]["id"].as_str().expect("id").to_owned();

    // 20 s of outage, checked all along: nothing dies, nothing fails.
    while outage_began.elapsed() < Duration::from_secs(20) {
        let (_, builds) = p.get("/jobs?kind=plan.build_template").await;
        let build = &builds["items"][0];
        assert!(
            ["queued", "running"].contains(&build["state"].as_str().unwrap_or("")),
            "the template build gave up: {build}"
        );
        let (_, tenant) = p.get(&format!("/tenants/{tenant_id}")).await;
        assert!(
            ["requested", "provisioning"].contains(&tenant["state"].as_str().unwrap_or("")),
            "{tenant}"
        );
        let (_, plan) = p.get(&format!("/plans/{plan_id}")).await;
        assert_ne!(plan["template_state"], "failed", "{plan}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (_, builds) = p.get("/jobs?kind=plan.build_template").await;
    let label = builds["items"][0]["progress_label"].as_str().unwrap_or("");
    assert!(label.starts_with("waiting for Odoo: "), "{label}");

    p.restart_sim().await;
    p.wait_plan_ready(&plan_id).await;
    p.wait_tenant(&tenant_id, "active", Duration::from_secs(60))
        .await;
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

/// Whether a new session on `db` is accepted (Odoo's connections included).
async fn accepts_connections(p: &Platform, db: &str) -> bool {
    match p.db_options(db).connect().await {
        Ok(c) => {
            let _ = c.close().await;
            true
        }
        Err(_) => false,
    }
}

/// Watches `db` until told to stop; true if it ever accepted a connection.
fn watch_opening(
    p: &Platform,
    db: &str,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<bool>,
) {
    let options = p.db_options(db);
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let watcher = tokio::spawn(async move {
        loop {
            if let Ok(c) = options.connect().await {
                let _ = c.close().await;
                return true;
            }
            tokio::select! {
                _ = &mut stopped => return false,
                () = tokio::time::sleep(Duration::from_millis(10)) => {}
            }
        }
    });
    (stop, watcher)
}

/// Issue 13, item 6: deleting a suspended tenant with a final backup used to open its
/// database for `pg_dump`; when the dump failed, Odoo served the suspended customer again.
/// Now the database refuses connections during and after every step: while the dump keeps
/// failing, once the job has given up, and during the dump that finally succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_a_suspended_tenant_with_a_backup_never_reopens_it_even_when_the_dump_fails() {
    let p = Platform::start(Options::default()).await;
    let plan = p.plan_with_template("basic", &[], 1).await;
    let key = plan["key"].as_str().expect("key").to_owned();
    let (status, accepted) = p.post("/tenants", p.tenant_body("unpaid", &key)).await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["tenant"]["id"].as_str().expect("id").to_owned();
    let tenant = p.wait_tenant(&id, "active", Duration::from_secs(60)).await;
    let db = tenant["db_name"].as_str().expect("db").to_owned();
    let (status, body) = p
        .post(&format!("/tenants/{id}/deactivate"), json!({}))
        .await;
    assert_eq!(status, 202, "{body}");
    p.wait_tenant(&id, "suspended", Duration::from_secs(30))
        .await;
    assert!(!accepts_connections(&p, &db).await);

    // The backups cannot be written: a file stands where their folder goes.
    let _ = std::fs::remove_dir_all(&p.backup_dir);
    std::fs::write(&p.backup_dir, b"not a folder").expect("block the backup folder");
    let (stop, watcher) = watch_opening(&p, &db);
    let r = p
        .api(
            reqwest::Method::DELETE,
            &format!("/tenants/{id}?backup=true"),
        )
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 202);
    // Its 8 attempts, backing off up to 2 s each (long on a busy machine).
    let tenant = p.wait_tenant(&id, "failed", Duration::from_secs(180)).await;
    assert!(
        tenant["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("not a folder") || e.contains("exists")),
        "{tenant}"
    );
    let _ = stop.send(());
    assert!(
        !watcher.await.expect("watcher"),
        "the suspended database accepted a connection while its backup failed"
    );
    assert!(p.databases().await.contains(&db), "the database is kept");
    assert!(
        !accepts_connections(&p, &db).await,
        "reopened after the failure"
    );
    let odoo = p.odoo();
    assert!(odoo
        .login(&db, "owner@unpaid.example.com", "correct horse battery")
        .await
        .is_err());

    // Once the folder is back, deleting again dumps it, closed all along.
    std::fs::remove_file(&p.backup_dir).expect("unblock");
    let (stop, watcher) = watch_opening(&p, &db);
    let r = p
        .api(
            reqwest::Method::DELETE,
            &format!("/tenants/{id}?backup=true"),
        )
        .send()
        .await
        .expect("delete again");
    assert_eq!(r.status(), 202);
    p.wait_tenant(&id, "deleted", Duration::from_secs(60)).await;
    let _ = stop.send(());
    assert!(
        !watcher.await.expect("watcher"),
        "the suspended database accepted a connection during its backup"
    );
    assert!(!p.databases().await.contains(&db), "database still exists");
    let copy = format!("dump_{}", id.replace('-', ""));
    let copies: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
        .bind(&copy)
        .fetch_one(&p.pool)
        .await
        .expect("copies");
    assert_eq!(copies, 0, "the copy dumped was left behind");
    let backups: Vec<_> = std::fs::read_dir(&p.backup_dir)
        .expect("backup dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert!(backups[0].starts_with(&format!("{db}-")), "{backups:?}");
    p.cleanup().await;
}
