#![allow(dead_code)]
//! Shared test helpers: a fresh database per test and an in-process server.

use odoo_sim::{Catalogue, Config, RunningServer, TemplateOptions};
use serde_json::{json, Value};

/// The maintenance database, as a role allowed to create roles and drop any database.
pub const PG: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The URL the simulator connects with: its own role, as Odoo runs (`odoo_sim::SIM_ROLE`).
pub async fn sim_pg() -> String {
    odoo_sim::role_url(PG, odoo_sim::SIM_ROLE)
        .await
        .expect("the simulator's role")
}

pub struct Sim {
    pub server: Option<RunningServer>,
    pub db: String,
    pub client: reqwest::Client,
}

pub fn unique_db(prefix: &str) -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}_{}", &u[..12])
}

impl Sim {
    pub async fn start(catalogue: Catalogue) -> Sim {
        Self::start_with(catalogue, |_| {}).await
    }

    pub async fn start_with(catalogue: Catalogue, tweak: impl FnOnce(&mut Config)) -> Sim {
        let db = unique_db("sim_test");
        let opts = TemplateOptions {
            catalogue,
            ..TemplateOptions::default()
        };
        let url = sim_pg().await;
        odoo_sim::init_template(&url, &db, &opts)
            .await
            .expect("init template");
        let mut cfg = Config::new(&url);
        cfg.master_password = "masterpw".into();
        tweak(&mut cfg);
        let server = odoo_sim::serve(cfg).await.expect("serve");
        let client = reqwest::Client::builder().build().expect("client");
        Sim {
            server: Some(server),
            db,
            client,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!(
            "{}{}",
            self.server.as_ref().map(|s| s.url()).unwrap_or_default(),
            path
        )
    }

    /// POST a JSON body; returns (status, headers, body text).
    pub async fn post_raw(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
        ctype: &str,
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let mut rb = self
            .client
            .post(self.url(path))
            .header("Content-Type", ctype)
            .body(body);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        let r = rb.send().await.expect("send");
        let status = r.status().as_u16();
        let h = r.headers().clone();
        (status, h, r.text().await.expect("text"))
    }

    pub async fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &Value,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let (s, h, t) = self
            .post_raw(
                path,
                headers,
                serde_json::to_vec(body).expect("json"),
                "application/json",
            )
            .await;
        let v = serde_json::from_str(&t).unwrap_or_else(|_| panic!("not json: {t}"));
        (s, h, v)
    }

    pub async fn rpc(&self, service: &str, method: &str, args: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "method": "call", "id": 1, "params": {"service": service, "method": method, "args": args}});
        self.post("/jsonrpc", &[], &body).await.2
    }

    /// execute_kw as admin; returns the full envelope.
    pub async fn kw(&self, model: &str, method: &str, args: Value, kwargs: Value) -> Value {
        self.rpc(
            "object",
            "execute_kw",
            json!([self.db, 2, "admin", model, method, args, kwargs]),
        )
        .await
    }

    /// execute_kw result (panics on error).
    pub async fn ok(&self, model: &str, method: &str, args: Value, kwargs: Value) -> Value {
        let r = self.kw(model, method, args, kwargs).await;
        assert!(r.get("error").is_none(), "{model}.{method} failed: {r}");
        r.get("result").cloned().unwrap_or(Value::Null)
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
        drop_db(&self.db).await;
    }
}

pub async fn drop_db(db: &str) {
    use sqlx::{ConnectOptions, Connection};
    let opts: sqlx::postgres::PgConnectOptions = PG.parse().expect("url");
    if let Ok(mut c) = opts.connect().await {
        let _ = sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
        )
        .bind(db)
        .execute(&mut c)
        .await;
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{db}\""))
            .execute(&mut c)
            .await;
        let _ = c.close().await;
    }
}

/// Error name of an envelope.
pub fn err_name(v: &Value) -> String {
    v["error"]["data"]["name"]
        .as_str()
        .unwrap_or("")
        .to_string()
}
pub fn err_msg(v: &Value) -> String {
    v["error"]["data"]["message"]
        .as_str()
        .unwrap_or("")
        .to_string()
}
