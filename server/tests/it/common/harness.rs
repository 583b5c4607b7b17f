//! A whole platform for one test: a fresh platform database, odoo-sim in-process, the app
//! on a free port, job workers, an API token, and a plan whose template is built. Every
//! database it makes carries the test's id, and [`Platform::cleanup`] drops them all.

use super::{pg_server_url, TestDb};
use serde_json::{json, Value};
use server::config::Config;
use server::platform::Platform as Services;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// Options of a test platform.
#[derive(Clone)]
pub struct Options {
    /// Standby databases per template.
    pub warm_pool: u32,
    /// Run in-process workers.
    pub workers: bool,
    /// Worker concurrency.
    pub concurrency: usize,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// PostgreSQL server URL (no database), default the shared one.
    pub pg_server: Option<String>,
    /// Start localstripe and point the platform at it (key, API base, webhook).
    pub stripe: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            warm_pool: 0,
            workers: true,
            concurrency: 4,
            env: Vec::new(),
            pg_server: None,
            stripe: false,
        }
    }
}

/// A running test platform.
pub struct Platform {
    /// Short unique id in every database name of this test.
    pub id: String,
    pub db: TestDb,
    pub pool: sqlx::PgPool,
    pub config: Config,
    pub services: Services,
    pub sim: Option<odoo_sim::RunningServer>,
    pub sim_port: u16,
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
    pub pg_server: String,
    pub backup_dir: std::path::PathBuf,
    /// The internal listener: the route table for Traefik (`/internal/traefik/config`).
    pub internal: std::net::SocketAddr,
    /// localstripe, when asked for.
    pub stripe: Option<super::stripe::LocalStripe>,
    /// The webhook signing secret the platform was given.
    pub webhook_secret: String,
    workers: Vec<(tokio::sync::oneshot::Sender<()>, JoinHandle<()>)>,
}

/// The simulator's configuration: connected as its own role (`odoo_sim::SIM_ROLE`, not the
/// superuser), so it sees only the databases that role owns, as Odoo does; `dbfilter`
/// `^<tenant prefix>%d$` picks a tenant by host name as the public Odoo's `^t_%d$` does.
pub async fn sim_config(pg_server: &str, port: u16, tenant_prefix: &str) -> odoo_sim::Config {
    let url = odoo_sim::role_url(&format!("{pg_server}/postgres"), odoo_sim::SIM_ROLE)
        .await
        .expect("the simulator's role");
    let mut cfg = odoo_sim::Config::new(&url);
    cfg.port = port;
    cfg.dbfilter = format!("^{tenant_prefix}%d$");
    cfg
}

/// Starts odoo-sim on `port` (0 = any) against `pg_server`.
pub async fn start_sim(pg_server: &str, port: u16, tenant_prefix: &str) -> odoo_sim::RunningServer {
    odoo_sim::serve(sim_config(pg_server, port, tenant_prefix).await)
        .await
        .expect("start odoo-sim")
}

impl Platform {
    /// Starts everything with `options`.
    pub async fn start(options: Options) -> Platform {
        let id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        let pg_server = options.pg_server.clone().unwrap_or_else(pg_server_url);
        let name = format!("saas_test_{id}");
        let db = TestDb {
            url: format!("{pg_server}/{name}"),
            name,
        };
        let tenant_prefix = options
            .env
            .iter()
            .find(|(k, _)| k == "TENANT_DB_PREFIX")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| format!("t{id}_"));
        let sim = start_sim(&pg_server, 0, &tenant_prefix).await;
        let sim_port = sim.addr.port();
        let backup_dir = std::env::temp_dir().join(format!("saas-backups-{id}"));
        let mut vars: HashMap<String, String> = HashMap::new();
        vars.insert("DATABASE_URL".into(), db.url.clone());
        vars.insert("DB_MAX_CONNECTIONS".into(), "20".into());
        vars.insert("ODOO_URL".into(), sim.url());
        vars.insert("ODOO_IS_SIMULATOR".into(), "true".into());
        vars.insert("ODOO_MASTER_PASSWORD".into(), "admin".into());
        vars.insert("TENANT_DB_PREFIX".into(), tenant_prefix.clone());
        vars.insert("WARM_POOL_SIZE".into(), options.warm_pool.to_string());
        vars.insert("BACKUP_DIR".into(), backup_dir.display().to_string());
        vars.insert("BASE_DOMAIN".into(), "saas.test".into());
        vars.insert("JOB_LEASE_SECONDS".into(), "3".into());
        // The app's address is known before its configuration: Traefik's `platform` service.
        let app_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let app_addr = app_listener.local_addr().expect("addr");
        vars.insert("TRAEFIK_PLATFORM_URL".into(), format!("http://{app_addr}"));
        vars.insert(
            "TRAEFIK_CONFIG_SECRET".into(),
            uuid::Uuid::new_v4().simple().to_string(),
        );
        let webhook_secret = format!("whsec_test_{id}");
        let stripe = if options.stripe {
            let stripe = super::stripe::LocalStripe::start().await;
            vars.insert("STRIPE_SECRET_KEY".into(), super::stripe::SECRET_KEY.into());
            vars.insert("STRIPE_API_BASE".into(), stripe.api_base());
            vars.insert("STRIPE_WEBHOOK_SECRET".into(), webhook_secret.clone());
            Some(stripe)
        } else {
            None
        };
        // No SMTP server unless the test brings one (`Maildev::env`): mail stays queued.
        vars.insert("SMTP_HOST".into(), "127.0.0.1".into());
        vars.insert("SMTP_PORT".into(), super::maildev::free_port().to_string());
        vars.insert("SMTP_TIMEOUT_SECONDS".into(), "5".into());
        // One attempt each: with no server, messages die at once instead of retrying for
        // the whole test (mail tests set their own).
        vars.insert("MAIL_MAX_ATTEMPTS".into(), "1".into());
        for (k, v) in &options.env {
            vars.insert(k.clone(), v.clone());
        }
        let config = Config::from_vars(&vars).expect("test config");
        let pool = server::db::prepare(&config.database_url, 20)
            .await
            .expect("migrate");
        let services = Services::new(Arc::new(config.clone()), pool.clone()).expect("services");
        // The app and the workers share one set of services (one clock).
        let base = super::spawn_platform_on(app_listener, services.clone()).await;
        let internal = super::spawn_internal(services.clone()).await;
        if let Some(stripe) = &stripe {
            stripe
                .register_webhook(&format!("{base}/webhooks/stripe"), &webhook_secret)
                .await;
        }
        let token = server::auth::create_token(&pool, "tests")
            .await
            .expect("token");
        let token = secrecy::ExposeSecret::expose_secret(&token).to_owned();
        let mut platform = Platform {
            id,
            db,
            pool,
            config,
            services,
            sim: Some(sim),
            sim_port,
            base,
            token,
            http: reqwest::Client::new(),
            pg_server,
            backup_dir,
            internal,
            stripe,
            webhook_secret,
            workers: Vec::new(),
        };
        if options.workers {
            platform.start_workers(options.concurrency);
        }
        platform
    }

    /// Worker settings fast enough for tests.
    pub fn worker_config(&self, concurrency: usize) -> job_queue::WorkerConfig {
        job_queue::WorkerConfig {
            concurrency,
            lease: Duration::from_secs(3),
            poll_interval: Duration::from_millis(100),
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(2),
            // Outages are waited out (the production window), looking again every second.
            unavailable_backoff_max: Duration::from_secs(1),
            ..job_queue::WorkerConfig::default()
        }
    }

    /// Starts a set of in-process workers.
    pub fn start_workers(&mut self, concurrency: usize) {
        let config = self.worker_config(concurrency);
        self.start_workers_with(config);
    }

    /// Starts in-process workers with these settings (e.g. the production ones of
    /// `server::jobs::worker_config`).
    pub fn start_workers_with(&mut self, config: job_queue::WorkerConfig) {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let services = self.services.clone();
        let handle = tokio::spawn(async move {
            let _ = server::jobs::run(services, config, async move {
                let _ = rx.await;
            })
            .await;
        });
        self.workers.push((tx, handle));
    }

    /// Stops the in-process workers (waits for them).
    pub async fn stop_workers(&mut self) {
        for (tx, handle) in self.workers.drain(..) {
            let _ = tx.send(());
            let _ = tokio::time::timeout(Duration::from_secs(10), handle).await;
        }
    }

    /// The job as the API shows it.
    pub async fn job(&self, id: &str) -> Value {
        let (status, job) = self.get(&format!("/jobs/{id}")).await;
        assert_eq!(status, 200, "{job}");
        job
    }

    /// The job once it has finished (succeeded, dead or cancelled). Workers record
    /// successes in batches just after the handler's own commit, so a tenant can be
    /// `active` a moment before its job reads `succeeded`.
    pub async fn finished_job(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let job = self.job(id).await;
            if ["succeeded", "dead", "cancelled"].contains(&job["state"].as_str().unwrap_or("")) {
                return job;
            }
            assert!(Instant::now() < deadline, "job not finished in time: {job}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The tenant's audit actions, oldest first.
    pub async fn audit_actions(&self, id: &str) -> Vec<String> {
        let (_, audit) = self.get(&format!("/tenants/{id}/audit")).await;
        audit
            .as_array()
            .expect("audit")
            .iter()
            .filter_map(|e| e["action"].as_str().map(str::to_owned))
            .collect()
    }

    /// The plan key of this test (unique across tests: template names carry it).
    pub fn plan_key(&self, name: &str) -> String {
        format!("{name}_{}", self.id)
    }

    /// The template database name of a plan key.
    pub fn template_name(&self, plan_key: &str) -> String {
        format!("tmpl_{}_{plan_key}", self.config.odoo_version)
    }

    /// An authorized request.
    pub fn api(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token)
    }

    /// POST JSON, returning status and body.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .api(reqwest::Method::POST, path)
            .json(&body)
            .send()
            .await
            .expect("POST");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// PATCH JSON, returning status and body.
    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .api(reqwest::Method::PATCH, path)
            .json(&body)
            .send()
            .await
            .expect("PATCH");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// GET JSON.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .api(reqwest::Method::GET, path)
            .send()
            .await
            .expect("GET");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Creates a plan through the API and builds its template (waits until ready).
    pub async fn plan_with_template(
        &self,
        name: &str,
        modules: &[&str],
        max_companies: i32,
    ) -> Value {
        let key = self.plan_key(name);
        let (status, plan) = self
            .post("/plans", json!({"key": key, "name": name, "modules": modules, "max_companies": max_companies}))
            .await;
        assert_eq!(status, 201, "{plan}");
        let id = plan["id"].as_str().expect("plan id").to_owned();
        let (status, job) = self.post(&format!("/plans/{id}/template"), json!({})).await;
        assert_eq!(status, 202, "{job}");
        self.wait_plan_ready(&id).await
    }

    /// Waits for a plan's template to be ready.
    pub async fn wait_plan_ready(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, plan) = self.get(&format!("/plans/{id}")).await;
            match plan["template_state"].as_str() {
                Some("ready") => return plan,
                Some("failed") => panic!("template build failed: {plan}"),
                _ => {}
            }
            assert!(
                Instant::now() < deadline,
                "template not ready in time: {plan}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A valid tenant creation body.
    pub fn tenant_body(&self, slug: &str, plan_key: &str) -> Value {
        json!({
            "slug": slug,
            "plan": plan_key,
            "owner_email": format!("owner@{slug}.example.com"),
            "owner_name": "Olive Owner",
            "owner_password": "correct horse battery",
            "company_name": format!("{slug} Ltd"),
        })
    }

    /// Waits until the tenant reaches `state` (panics on `failed` unless asked for).
    pub async fn wait_tenant(&self, id: &str, state: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let (_, t) = self.get(&format!("/tenants/{id}")).await;
            if t["state"] == state && t["pending_op"].is_null() {
                return t;
            }
            if t["state"] == "failed" && state != "failed" {
                panic!("tenant failed: {t}");
            }
            assert!(Instant::now() < deadline, "tenant not {state} in time: {t}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Connection options of a database on the test's PostgreSQL server.
    pub fn db_options(&self, db: &str) -> sqlx::postgres::PgConnectOptions {
        let options: sqlx::postgres::PgConnectOptions = self.pg_server.parse().expect("pg url");
        options.database(db)
    }

    /// Names of existing databases carrying this test's id.
    pub async fn databases(&self) -> Vec<String> {
        let mut c = sqlx::ConnectOptions::connect(&self.db_options("postgres"))
            .await
            .expect("connect");
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT datname::text FROM pg_database WHERE strpos(datname, $1) > 0 AND datname <> $2 ORDER BY 1",
        )
        .bind(&self.id)
        .bind(&self.db.name)
        .fetch_all(&mut c)
        .await
        .expect("list");
        let _ = sqlx::Connection::close(c).await;
        names
    }

    /// An Odoo client on the simulator.
    pub fn odoo(&self) -> server::odoo::OdooClient {
        server::odoo::client(
            &format!("http://127.0.0.1:{}", self.sim_port)
                .parse()
                .expect("url"),
        )
        .expect("client")
    }

    /// GETs `path` from the simulator as a browser on the tenant's host
    /// (`<slug>.<BASE_DOMAIN>`) would, without following redirects; returns the status,
    /// the `Location` header and the body.
    pub async fn browse(&self, slug: &str, path: &str) -> (u16, String, String) {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let r = client
            .get(format!("http://127.0.0.1:{}{path}", self.sim_port))
            .header("Host", format!("{slug}.{}", self.config.base_domain))
            .send()
            .await
            .expect("GET from odoo-sim");
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (status, location, r.text().await.unwrap_or_default())
    }

    /// The role that owns a database.
    pub async fn db_owner(&self, db: &str) -> String {
        let mut c = sqlx::ConnectOptions::connect(&self.db_options("postgres"))
            .await
            .expect("connect");
        let owner: String = sqlx::query_scalar(
            "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1",
        )
        .bind(db)
        .fetch_one(&mut c)
        .await
        .expect("owner");
        let _ = sqlx::Connection::close(c).await;
        owner
    }

    /// Stops the simulator (Odoo down).
    pub async fn stop_sim(&mut self) {
        if let Some(sim) = self.sim.take() {
            sim.stop().await;
        }
    }

    /// Starts the simulator again on the same port.
    pub async fn restart_sim(&mut self) {
        let mut tries = 0;
        loop {
            let cfg = sim_config(
                &self.pg_server,
                self.sim_port,
                &self.config.tenant_db_prefix,
            )
            .await;
            match odoo_sim::serve(cfg).await {
                Ok(sim) => {
                    self.sim = Some(sim);
                    return;
                }
                Err(e) => {
                    tries += 1;
                    assert!(tries < 50, "cannot restart odoo-sim: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// localstripe (panics when the test did not ask for it).
    pub fn stripe(&self) -> &super::stripe::LocalStripe {
        self.stripe
            .as_ref()
            .expect("start the platform with Options { stripe: true, .. }")
    }

    /// Stops the workers, the simulator and drops every database of this test.
    pub async fn cleanup(mut self) {
        if let Some(stripe) = self.stripe.take() {
            stripe.stop().await;
        }
        for (tx, handle) in self.workers.drain(..) {
            let _ = tx.send(());
            let _ = tokio::time::timeout(Duration::from_secs(10), handle).await;
        }
        if let Some(sim) = self.sim.take() {
            sim.stop().await;
        }
        self.pool.close().await;
        let mut c = sqlx::ConnectOptions::connect(&self.db_options("postgres"))
            .await
            .expect("connect");
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT datname::text FROM pg_database WHERE strpos(datname, $1) > 0",
        )
        .bind(&self.id)
        .fetch_all(&mut c)
        .await
        .expect("list");
        let _ = sqlx::Connection::close(c).await;
        // Several at once: each DROP DATABASE waits for a checkpoint, and concurrent
        // requests share one.
        // Hundreds of drops queue for 8 connections, each waiting for a checkpoint on a
        // busy machine: wait as long as it takes rather than time out.
        let admin = sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(std::time::Duration::from_secs(900))
            .connect_with(self.db_options("postgres"))
            .await
            .expect("admin pool");
        let drops = names.into_iter().map(|name| {
            let admin = admin.clone();
            async move {
                let _ = sqlx::query(&format!("ALTER DATABASE \"{name}\" WITH IS_TEMPLATE false"))
                    .execute(&admin)
                    .await;
                sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&admin)
                    .await
                    .expect("drop test database");
            }
        });
        futures::future::join_all(drops).await;
        admin.close().await;
        let _ = std::fs::remove_dir_all(&self.backup_dir);
    }
}
