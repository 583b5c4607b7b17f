//! Stripe for tests: localstripe with the repository's extension
//! (`stripe-harness/localstripe_ext.py`), one process per test on a free loopback port, its
//! state file in the test's own temp dir. No in-process mock: the platform talks HTTP to it
//! as it would to Stripe, and its webhooks are signed with Stripe's official library.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};

/// The API key tests use (localstripe accepts any `sk_…`).
pub const SECRET_KEY: &str = "sk_test_localstripe_key";

/// A running localstripe.
pub struct LocalStripe {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    dir: PathBuf,
    child: tokio::process::Child,
    http: reqwest::Client,
}

fn python() -> PathBuf {
    if let Ok(p) = std::env::var("LOCALSTRIPE_PYTHON") {
        return PathBuf::from(p);
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".to_owned());
    let tools =
        std::env::var("SAAS_TOOLS_DIR").unwrap_or_else(|_| format!("{home}/.cache/saas-tools"));
    PathBuf::from(format!("{tools}/localstripe-1.15.10/bin/python"))
}

impl LocalStripe {
    /// Starts one (webhooks are delivered 50 ms after their event).
    pub async fn start() -> LocalStripe {
        let python = python();
        assert!(
            python.exists(),
            "{} is missing: run scripts/ensure-tools.sh (it installs localstripe)",
            python.display()
        );
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../stripe-harness/localstripe_ext.py");
        let dir =
            std::env::temp_dir().join(format!("localstripe-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("localstripe dir");
        let mut child = tokio::process::Command::new(&python)
            .arg(&script)
            .args(["--port", "0", "--webhook-delay", "0.05"])
            .env("TMPDIR", &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start localstripe");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .expect("localstripe did not start in 30 s")
            .expect("read localstripe output")
            .expect("localstripe exited");
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("unexpected first line from localstripe: {first}"))
            .to_owned();
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        LocalStripe {
            url,
            dir,
            child,
            // A connection per request: no reuse of a keep-alive connection aiohttp is
            // closing at that moment.
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("HTTP client"),
        }
    }

    /// The API base the platform is given (`STRIPE_API_BASE`).
    pub fn api_base(&self) -> String {
        format!("{}/", self.url)
    }

    /// Registers a webhook endpoint (localstripe's `/_config/webhooks`).
    pub async fn register_webhook(&self, url: &str, secret: &str) {
        let r = self
            .http
            .post(format!("{}/_config/webhooks/platform", self.url))
            .form(&[("url", url), ("secret", secret)])
            .send()
            .await
            .expect("register webhook");
        assert!(r.status().is_success(), "register webhook: {}", r.status());
    }

    /// Empties Stripe (`DELETE /_config/data`).
    pub async fn reset(&self) {
        let r = self
            .http
            .delete(format!("{}/_config/data", self.url))
            .send()
            .await
            .expect("reset");
        assert!(r.status().is_success());
    }

    /// GET an API path (`/v1/...`), the raw JSON.
    pub async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.url))
            .basic_auth(SECRET_KEY, Some(""))
            .send()
            .await
            .expect("GET localstripe")
            .json()
            .await
            .expect("JSON")
    }

    /// POST form parameters to an API path, the status and raw JSON.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .basic_auth(SECRET_KEY, Some(""))
            .form(form)
            .send()
            .await
            .expect("POST localstripe");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// DELETE an API path.
    pub async fn delete(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .delete(format!("{}{path}", self.url))
            .basic_auth(SECRET_KEY, Some(""))
            .send()
            .await
            .expect("DELETE localstripe");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn test_post(&self, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .form(form)
            .send()
            .await
            .expect("POST localstripe test helper");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// The customer pays on Checkout with a test payment method (`pm_card_visa`, ...).
    pub async fn complete_session(&self, id: &str, payment_method: &str) -> (u16, Value) {
        self.test_post(
            &format!("/_test/checkout/sessions/{id}/complete"),
            &[("payment_method", payment_method)],
        )
        .await
    }

    /// The customer types a test card number on Checkout (`4000000000000002`: declined).
    pub async fn complete_session_with_card(&self, id: &str, card: &str) -> (u16, Value) {
        self.test_post(
            &format!("/_test/checkout/sessions/{id}/complete"),
            &[("card", card)],
        )
        .await
    }

    /// The subscription's period ends now (renewal charged, or the end of a cancellation).
    pub async fn renew(&self, subscription: &str) -> Value {
        let (status, body) = self
            .test_post(&format!("/_test/subscriptions/{subscription}/renew"), &[])
            .await;
        assert_eq!(status, 200, "renew: {body}");
        body
    }

    /// Redelivers a stored event to the registered webhook `times` times.
    pub async fn deliver(&self, event_id: &str, times: u32, concurrent: bool) -> Vec<u16> {
        let times = times.to_string();
        let (status, body) = self
            .test_post(
                &format!("/_test/events/{event_id}/deliver"),
                &[
                    ("times", &times),
                    ("concurrent", if concurrent { "true" } else { "false" }),
                ],
            )
            .await;
        assert_eq!(status, 200, "deliver: {body}");
        body["statuses"]
            .as_array()
            .expect("statuses")
            .iter()
            .map(|s| s.as_u64().unwrap_or(0) as u16)
            .collect()
    }

    /// `Stripe-Signature` headers for payloads, made by Stripe's official library.
    pub async fn sign(
        &self,
        payloads: &[String],
        secret: &str,
        timestamp: Option<i64>,
    ) -> Vec<String> {
        let body =
            serde_json::json!({"secret": secret, "payloads": payloads, "timestamp": timestamp});
        let r: Value = self
            .http
            .post(format!("{}/_test/sign", self.url))
            .json(&body)
            .send()
            .await
            .expect("sign")
            .json()
            .await
            .expect("JSON");
        r["headers"]
            .as_array()
            .expect("headers")
            .iter()
            .map(|h| h.as_str().expect("header").to_owned())
            .collect()
    }

    /// Events localstripe made, newest first.
    pub async fn events(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let path = match &after {
                Some(a) => format!("/v1/events?limit=100&starting_after={a}"),
                None => "/v1/events?limit=100".to_owned(),
            };
            let page = self.get(&path).await;
            let data = page["data"].as_array().cloned().unwrap_or_default();
            after = data
                .last()
                .and_then(|e| e["id"].as_str())
                .map(str::to_owned);
            out.extend(data);
            if page["has_more"] != Value::Bool(true) {
                break;
            }
        }
        out
    }

    /// Stops it and removes its state file.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
