//! Pebble (Let's Encrypt's test CA) and pebble-challtestsrv (its DNS stub), both from
//! Debian's `pebble` package, on free loopback ports, for the TLS tests. Pebble's own HTTPS
//! certificate comes from a throw-away CA made with openssl (the package ships none).

use super::traefik::{free_addr, run_dir};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A running DNS stub, and Pebble once [`Pebble::start_acme`] ran.
pub struct Pebble {
    pebble: Option<tokio::process::Child>,
    dns_stub: tokio::process::Child,
    /// Run directory: CA, config, logs.
    pub dir: PathBuf,
    /// The ACME directory URL.
    pub directory: String,
    /// The CA that signed Pebble's HTTPS certificate (for `LEGO_CA_CERTIFICATES`).
    pub https_ca: PathBuf,
    /// Pebble's management interface (roots, intermediates).
    pub management: SocketAddr,
    /// The DNS stub's DNS address (what Pebble and our resolver ask).
    pub dns: SocketAddr,
    /// The DNS stub's management API (set TXT, CNAME, A records).
    pub dns_management: SocketAddr,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Pebble {
    /// Starts the DNS stub and Pebble, validating HTTP-01 on `http_port`.
    pub async fn start(http_port: u16) -> Pebble {
        let mut p = Pebble::start_dns_stub().await;
        p.start_acme(http_port).await;
        p
    }

    /// Starts the DNS stub only (every name resolves to 127.0.0.1 unless told otherwise).
    pub async fn start_dns_stub() -> Pebble {
        let dir = run_dir("pebble");
        openssl(
            &dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=pebble test https ca",
            ],
        );
        openssl(
            &dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "pebble.key",
                "-out",
                "pebble.csr",
                "-subj",
                "/CN=localhost",
            ],
        );
        std::fs::write(
            dir.join("san.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .expect("san");
        openssl(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                "pebble.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "pebble.pem",
                "-days",
                "2",
                "-extfile",
                "san.ext",
            ],
        );

        let dns = SocketAddr::from(([127, 0, 0, 1], super::traefik::free_port()));
        let dns_management = free_addr();
        let stub_log = std::fs::File::create(dir.join("challtestsrv.log")).expect("log");
        let dns_stub = tokio::process::Command::new("pebble-challtestsrv")
            .args([
                "-defaultIPv4",
                "127.0.0.1",
                "-defaultIPv6",
                "",
                "-dns01",
                &dns.to_string(),
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
                "-management",
                &dns_management.to_string(),
            ])
            .stdout(stub_log.try_clone().expect("log"))
            .stderr(stub_log)
            .kill_on_drop(true)
            .spawn()
            .expect("start pebble-challtestsrv (apt-get install pebble)");

        let p = Pebble {
            pebble: None,
            dns_stub,
            https_ca: dir.join("ca.pem"),
            directory: String::new(),
            management: free_addr(),
            dns,
            dns_management,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let stub = reqwest::Client::new()
                .post(format!("http://{}/set-default-ipv4", p.dns_management))
                .json(&serde_json::json!({"ip": "127.0.0.1"}))
                .send()
                .await;
            if stub.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "pebble-challtestsrv did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        p
    }

    /// Starts Pebble, validating HTTP-01 on `http_port` (Traefik's `web` entry point) and
    /// resolving names through the DNS stub. Choose `http_port` just before: the port is
    /// only bound when Traefik starts.
    pub async fn start_acme(&mut self, http_port: u16) {
        let dir = self.dir.clone();
        let listen = free_addr();
        self.management = free_addr();
        let config = serde_json::json!({"pebble": {
            "listenAddress": listen.to_string(),
            "managementListenAddress": self.management.to_string(),
            "certificate": dir.join("pebble.pem"),
            "privateKey": dir.join("pebble.key"),
            "httpPort": http_port,
            "tlsPort": super::traefik::free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        std::fs::write(dir.join("pebble.json"), config.to_string()).expect("config");
        let log = std::fs::File::create(dir.join("pebble.log")).expect("log");
        let pebble = tokio::process::Command::new("pebble")
            .arg("-config")
            .arg(dir.join("pebble.json"))
            .arg("-dnsserver")
            .arg(self.dns.to_string())
            // No sleeps before validating, no rejected nonces: fast and deterministic.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("start pebble (apt-get install pebble)");
        self.pebble = Some(pebble);
        self.directory = format!("https://{listen}/dir");
        let http = self.https_client();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if http
                .get(&self.directory)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "pebble did not start: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A client trusting Pebble's HTTPS certificate (its API, not the certificates it issues).
    pub fn https_client(&self) -> reqwest::Client {
        let ca = std::fs::read(&self.https_ca).expect("ca");
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("pem"))
            .build()
            .expect("client")
    }

    /// Writes the roots and intermediates that sign issued certificates to one PEM file.
    pub async fn issuing_chain(&self) -> PathBuf {
        let http = self.https_client();
        let mut pem = String::new();
        for path in ["roots/0", "intermediates/0"] {
            pem.push_str(
                &http
                    .get(format!("https://{}/{path}", self.management))
                    .send()
                    .await
                    .expect("pebble management")
                    .text()
                    .await
                    .expect("pem"),
            );
            pem.push('\n');
        }
        let file = self.dir.join("issuers.pem");
        std::fs::write(&file, pem).expect("write issuers");
        file
    }

    /// Calls the DNS stub's management API (`/set-cname`, `/add-a`, `/set-txt`, …).
    pub async fn dns(&self, path: &str, body: serde_json::Value) {
        let r = reqwest::Client::new()
            .post(format!("http://{}{path}", self.dns_management))
            .json(&body)
            .send()
            .await
            .expect("challtestsrv");
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }

    /// A shell script for lego's `exec` DNS provider (`present|cleanup <fqdn> <value>`):
    /// `present` adds the TXT record in the DNS stub. `cleanup` leaves it: the stub's
    /// `/clear-txt` removes every value of a name, and `<domain>` and `*.<domain>` are two
    /// challenges on the same `_acme-challenge.<domain>`.
    pub fn exec_provider_script(&self) -> PathBuf {
        let script = self.dir.join("dns-exec.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nset -eu\n[ \"$1\" = present ] || exit 0\n\
                 echo \"$1 $2\" >>{log}\n\
                 curl -fsS -X POST -d \"{{\\\"host\\\":\\\"$2\\\",\\\"value\\\":\\\"$3\\\"}}\" \
                 http://{api}/set-txt >/dev/null\n",
                log = self.dir.join("dns-exec.log").display(),
                api = self.dns_management
            ),
        )
        .expect("script");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        script
    }

    /// The TXT records the `exec` script was asked to present (`present <fqdn>` lines).
    pub fn dns01_presented(&self) -> String {
        std::fs::read_to_string(self.dir.join("dns-exec.log")).unwrap_or_default()
    }

    /// Pebble's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pebble.log")).unwrap_or_default()
    }

    /// Stops both and removes the run directory.
    pub async fn stop(mut self) {
        if let Some(mut pebble) = self.pebble.take() {
            let _ = pebble.kill().await;
        }
        let _ = self.dns_stub.kill().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
