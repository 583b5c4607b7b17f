//! A real SMTP server for tests: npm `maildev` (pinned in package.json) on free loopback
//! ports, its messages read back through its REST API (`/api/email`). Each instance keeps
//! its mail in its own temporary folder, removed when it stops.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A running maildev.
pub struct Maildev {
    child: tokio::process::Child,
    /// Its SMTP port (127.0.0.1).
    pub smtp_port: u16,
    /// Its web and REST API port (127.0.0.1).
    pub web_port: u16,
    dir: PathBuf,
    http: reqwest::Client,
}

/// A port nothing listens on (bound, then released): SMTP there is "down".
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn binary() -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../node_modules/.bin/maildev");
    assert!(
        bin.exists(),
        "{} is missing: run `npm ci` at the workspace root (scripts/ensure-tools.sh does)",
        bin.display()
    );
    bin
}

impl Maildev {
    /// Starts maildev on free ports.
    pub async fn start() -> Maildev {
        Maildev::start_on(free_port()).await
    }

    /// Starts maildev with its SMTP server on `smtp_port` (e.g. to bring "SMTP" back up
    /// where the platform expects it).
    pub async fn start_on(smtp_port: u16) -> Maildev {
        let web_port = free_port();
        let dir = std::env::temp_dir().join(format!("maildev-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("maildev folder");
        let child = tokio::process::Command::new(binary())
            .args([
                "--ip",
                "127.0.0.1",
                "--web-ip",
                "127.0.0.1",
                "--smtp",
                &smtp_port.to_string(),
                "--web",
                &web_port.to_string(),
                "--mail-directory",
                &dir.display().to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start maildev");
        let dev = Maildev {
            child,
            smtp_port,
            web_port,
            dir,
            http: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let up = dev
                .http
                .get(dev.url("/api/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            let smtp = tokio::net::TcpStream::connect(("127.0.0.1", smtp_port))
                .await
                .is_ok();
            if up && smtp {
                return dev;
            }
            assert!(Instant::now() < deadline, "maildev did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.web_port)
    }

    /// The environment that points the platform at this server.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("SMTP_HOST".into(), "127.0.0.1".into()),
            ("SMTP_PORT".into(), self.smtp_port.to_string()),
            ("SMTP_TLS".into(), "none".into()),
        ]
    }

    /// Every message received, oldest first.
    pub async fn emails(&self) -> Vec<Value> {
        let r = self
            .http
            .get(self.url("/api/email"))
            .send()
            .await
            .expect("maildev API");
        r.json::<Vec<Value>>().await.expect("maildev JSON")
    }

    /// Messages received for `to`.
    pub async fn emails_to(&self, to: &str) -> Vec<Value> {
        self.emails()
            .await
            .into_iter()
            .filter(|m| recipients(m).iter().any(|a| a.eq_ignore_ascii_case(to)))
            .collect()
    }

    /// Waits for a message to `to` whose subject contains `subject`.
    pub async fn wait_for(&self, to: &str, subject: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(m) = self
                .emails_to(to)
                .await
                .into_iter()
                .find(|m| m["subject"].as_str().unwrap_or("").contains(subject))
            {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "no message to {to} with subject {subject:?}; got {:?}",
                self.emails()
                    .await
                    .iter()
                    .map(|m| m["subject"].clone())
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the server and removes its folder.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The envelope recipients of a message as maildev reports them.
pub fn recipients(m: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for field in ["to", "calculatedBcc"] {
        if let Some(list) = m[field].as_array() {
            out.extend(
                list.iter()
                    .filter_map(|a| a["address"].as_str().map(str::to_owned)),
            );
        }
    }
    if let Some(list) = m["envelope"]["to"].as_array() {
        out.extend(
            list.iter()
                .filter_map(|a| a["address"].as_str().map(str::to_owned)),
        );
    }
    out
}

/// A header of a message (lowercase name).
pub fn header(m: &Value, name: &str) -> String {
    m["headers"][name].as_str().unwrap_or_default().to_owned()
}
