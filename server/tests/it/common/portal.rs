//! The operations portal served on a free port over a fresh database, with one superadmin.
#![allow(dead_code)]

use super::{spawn_app, TestDb};
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::StatusCode;

pub const EMAIL: &str = "ops@example.com";
pub const PASSWORD: &str = "a long enough passphrase";

pub struct Portal {
    pub base: String,
    pub http: reqwest::Client,
    pub pool: sqlx::PgPool,
    pub db: TestDb,
}

impl Portal {
    pub async fn start(extra: &[(&str, &str)]) -> Portal {
        let db = TestDb::empty().await;
        let config = db.config(extra);
        let pool = server::db::prepare(&config.database_url, 5)
            .await
            .expect("prepare database");
        server::admin::auth::create_superadmin(&pool, EMAIL, PASSWORD, false)
            .await
            .expect("create superadmin");
        let base = spawn_app(config, pool.clone()).await;
        let http = reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .expect("client");
        Portal {
            base,
            http,
            pool,
            db,
        }
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/sfn/auth/sign_in", self.base))
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .expect("sign in request")
    }

    /// Signs in as a client at `address` (needs `TRUSTED_PROXIES=127.0.0.1`: the test
    /// plays the reverse proxy and names the client in `X-Forwarded-For`).
    pub async fn sign_in_from(
        &self,
        address: &str,
        email: &str,
        password: &str,
    ) -> reqwest::Response {
        self.http
            .post(format!("{}/sfn/auth/sign_in", self.base))
            .header("x-forwarded-for", address)
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .expect("sign in request")
    }

    /// Signs in and returns the session cookie (`saas_admin=…`).
    pub async fn session(&self) -> String {
        let response = self.sign_in(EMAIL, PASSWORD).await;
        assert!(response.status().is_success() || response.status().is_redirection());
        let cookie = response
            .headers()
            .get(SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .expect("a session cookie")
            .to_owned();
        cookie.split(';').next().unwrap_or_default().to_owned()
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(c) = cookie {
            request = request.header(COOKIE, c);
        }
        request.send().await.expect("GET")
    }

    pub async fn page(&self, path: &str, cookie: &str) -> String {
        let response = self.get(path, Some(cookie)).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        response.text().await.expect("body")
    }

    pub async fn csrf(&self, cookie: &str) -> String {
        let response = self
            .http
            .post(format!("{}/sfn/admin/me", self.base))
            .header(COOKIE, cookie)
            .send()
            .await
            .expect("me");
        assert_eq!(response.status(), StatusCode::OK);
        let me: serde_json::Value = response.json().await.expect("json");
        me["csrf"].as_str().expect("csrf").to_owned()
    }

    pub async fn finish(self) {
        self.pool.close().await;
        self.db.drop_database().await;
    }
}
