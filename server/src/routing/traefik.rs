//! Traefik's static configuration for the local topology: `scripts/run.sh` and the
//! end-to-end runner (through `server traefik-config`) and the integration tests, so that
//! all of them run the real Traefik exactly the same way. Production uses the reviewed
//! files in `deploy/traefik/` instead.
//!
//! Traefik reads JSON as YAML, so the configuration is written as JSON.

use super::{CONFIG_PATH, SECRET_HEADER};
use serde_json::{json, Map, Value};
use std::net::SocketAddr;
use std::path::PathBuf;

/// How often Traefik polls the route table (Traefik's default is 5 s).
pub const POLL_INTERVAL_MS: u64 = 1000;

/// An ACME certificate resolver (tests: Pebble).
#[derive(Debug, Clone)]
pub struct AcmeResolver {
    /// The resolver's name (`TRAEFIK_WILDCARD_RESOLVER` / `TRAEFIK_CUSTOM_DOMAIN_RESOLVER`).
    pub name: String,
    /// The ACME directory URL.
    pub ca_server: String,
    /// The account e-mail.
    pub email: String,
    /// Where certificates are kept (`acme.json`).
    pub storage: PathBuf,
    /// HTTP-01 on an entry point, or DNS-01 through a lego provider.
    pub challenge: AcmeChallenge,
}

/// How an ACME resolver proves control of a name.
#[derive(Debug, Clone)]
pub enum AcmeChallenge {
    /// HTTP-01 answered on this entry point.
    Http {
        /// The entry point (`web`).
        entrypoint: String,
    },
    /// DNS-01 through a lego DNS provider (credentials in Traefik's environment).
    Dns {
        /// lego's provider name (`exec`, `cloudflare`, …).
        provider: String,
        /// Nameservers to check propagation with (`host:port`); empty = the system's.
        resolvers: Vec<String>,
        /// Skip lego's propagation check (a test DNS server with no real delegation).
        skip_propagation_check: bool,
    },
}

/// A local Traefik.
#[derive(Debug, Clone)]
pub struct LocalTraefik {
    /// The `web` entry point (plain HTTP); with `websecure` set it redirects there.
    pub web: SocketAddr,
    /// The `websecure` entry point (TLS), if any.
    pub websecure: Option<SocketAddr>,
    /// The `traefik` entry point: `/ping`, `/metrics` (Prometheus) and `/api` (read-only).
    pub admin: SocketAddr,
    /// The route table's URL (`http://<INTERNAL_BIND_ADDR>/internal/traefik/config`).
    pub provider_url: String,
    /// The shared secret sent in `X-Traefik-Config-Secret`.
    pub secret: String,
    /// Poll interval of the route table, in milliseconds.
    pub poll_interval_ms: u64,
    /// Access log file (JSON lines); `None` = standard output.
    pub access_log: Option<PathBuf>,
    /// Certificate resolvers.
    pub acme: Vec<AcmeResolver>,
}

impl LocalTraefik {
    /// The provider URL of a server whose internal listener is at `internal`.
    pub fn provider_url_for(internal: SocketAddr) -> String {
        format!("http://{internal}{CONFIG_PATH}")
    }

    /// The static configuration (JSON, which Traefik reads as YAML).
    pub fn static_config(&self) -> Value {
        let mut entry_points = Map::new();
        // A client could send `X_Forwarded_Host` or `X.Forwarded.Host`, which WSGI servers
        // such as Odoo's read as the `X-Forwarded-Host` Traefik and the route table set (Odoo's
        // dbfilter reads that host): drop such aliases, as deploy/traefik/traefik.yml does.
        let mut web = json!({
            "address": self.web.to_string(),
            "http": {"aliasHeadersStrategy": "delete"},
        });
        if self.websecure.is_some() {
            web["http"]["redirections"] = json!({"entryPoint": {
                "to": "websecure", "scheme": "https", "permanent": true}});
        }
        entry_points.insert("web".into(), web);
        if let Some(addr) = self.websecure {
            entry_points.insert(
                "websecure".into(),
                json!({
                    "address": addr.to_string(),
                    "http": {"aliasHeadersStrategy": "delete"},
                }),
            );
        }
        entry_points.insert(
            "traefik".into(),
            json!({ "address": self.admin.to_string() }),
        );

        let mut access_log = json!({
            "format": "json",
            // Request and response headers can carry cookies and tokens: keep none.
            "fields": {"headers": {"defaultMode": "drop"}},
        });
        if let Some(path) = &self.access_log {
            access_log["filePath"] = json!(path.display().to_string());
        }

        let mut resolvers = Map::new();
        for r in &self.acme {
            let mut acme = json!({
                "caServer": r.ca_server,
                "email": r.email,
                "storage": r.storage.display().to_string(),
            });
            match &r.challenge {
                AcmeChallenge::Http { entrypoint } => {
                    acme["httpChallenge"] = json!({ "entryPoint": entrypoint });
                }
                AcmeChallenge::Dns {
                    provider,
                    resolvers: nameservers,
                    skip_propagation_check,
                } => {
                    let mut dns = json!({ "provider": provider });
                    if !nameservers.is_empty() {
                        dns["resolvers"] = json!(nameservers);
                    }
                    if *skip_propagation_check {
                        dns["propagation"] = json!({"disableChecks": true});
                    }
                    acme["dnsChallenge"] = dns;
                }
            }
            resolvers.insert(r.name.clone(), json!({ "acme": acme }));
        }

        let mut config = json!({
            "global": {"checkNewVersion": false, "sendAnonymousUsage": false},
            "log": {"level": "INFO", "format": "json"},
            "accessLog": access_log,
            "api": {"insecure": true, "dashboard": false},
            "ping": {"entryPoint": "traefik"},
            "metrics": {"prometheus": {
                "entryPoint": "traefik",
                "addEntryPointsLabels": true,
                "addRoutersLabels": true,
                "addServicesLabels": true,
            }},
            "entryPoints": entry_points,
            "providers": {
                // Apply a new table at once (the default waits 2 s between reloads).
                "providersThrottleDuration": "100ms",
                "http": {
                    "endpoint": self.provider_url,
                    "pollInterval": format!("{}ms", self.poll_interval_ms),
                    "pollTimeout": "5s",
                    "headers": { header_name(): self.secret },
                },
            },
        });
        if !resolvers.is_empty() {
            config["certificatesResolvers"] = Value::Object(resolvers);
        }
        config
    }
}

/// `X-Traefik-Config-Secret` as Traefik will send it.
fn header_name() -> &'static str {
    debug_assert_eq!(SECRET_HEADER, "x-traefik-config-secret");
    "X-Traefik-Config-Secret"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_config_polls_the_route_table_with_the_secret() {
        let t = LocalTraefik {
            web: "127.0.0.1:8000".parse().expect("addr"),
            websecure: None,
            admin: "127.0.0.1:8001".parse().expect("addr"),
            provider_url: LocalTraefik::provider_url_for("127.0.0.1:3002".parse().expect("addr")),
            secret: "s3cret-s3cret-s3cret".into(),
            poll_interval_ms: 1000,
            access_log: None,
            acme: Vec::new(),
        };
        let c = t.static_config();
        assert_eq!(
            c["providers"]["http"]["endpoint"],
            "http://127.0.0.1:3002/internal/traefik/config"
        );
        assert_eq!(
            c["providers"]["http"]["headers"]["X-Traefik-Config-Secret"],
            "s3cret-s3cret-s3cret"
        );
        assert_eq!(c["providers"]["http"]["pollInterval"], "1000ms");
        assert_eq!(c["entryPoints"]["web"]["address"], "127.0.0.1:8000");
        assert!(c["entryPoints"]["web"]["http"]
            .get("redirections")
            .is_none());
        assert_eq!(
            c["entryPoints"]["web"]["http"]["aliasHeadersStrategy"],
            "delete"
        );
        assert_eq!(c["accessLog"]["format"], "json");
        assert!(c.get("certificatesResolvers").is_none());
    }
}
