//! Routing: how every host name reaches its destination through Traefik.
//!
//! - [`document`] builds Traefik's dynamic configuration from the live tenants table (and
//!   verified custom domains);
//! - [`cache`] keeps it (and the host table) in memory, rebuilt only after a `NOTIFY
//!   routes_changed` from the database, not on every poll;
//! - [`endpoint`] serves it to Traefik's HTTP provider on the internal listener, behind the
//!   shared secret header (the process's `/metrics` are there too, off the public hosts);
//! - [`pages`] answers for tenant hosts Traefik sends to the server: the paused page (503),
//!   "being set up" (503) and our 404 page;
//! - [`traefik`] writes a static configuration for the local topology (`scripts/run.sh`, the
//!   end-to-end runner and the integration tests).

pub mod cache;
pub mod document;
pub mod endpoint;
pub mod pages;
pub mod traefik;

use crate::tenants::TenantState;
use std::collections::HashMap;
use uuid::Uuid;

pub use cache::RouteCache;

/// The header Traefik's HTTP provider sends with the shared secret.
pub const SECRET_HEADER: &str = "x-traefik-config-secret";

/// The route table's path on the internal listener.
pub const CONFIG_PATH: &str = "/internal/traefik/config";

/// The Prometheus metrics' path on the internal listener (never on the public one).
pub const METRICS_PATH: &str = "/metrics";

/// What the route table knows about one tenant host (its own or a custom domain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEntry {
    /// The tenant.
    pub tenant_id: Uuid,
    /// Its slug.
    pub slug: String,
    /// Its state when the table was built.
    pub state: TenantState,
    /// True for a custom domain, false for `<slug>.<domain>`.
    pub custom_domain: bool,
}

/// Host name (lowercase, no port) → tenant.
pub type HostTable = HashMap<String, HostEntry>;

/// The host of a request: `Host` (or the URI's authority), lowercased, port and trailing
/// dot removed. `None` when absent or not a plausible host.
pub fn request_host(headers: &axum::http::HeaderMap, uri: &axum::http::Uri) -> Option<String> {
    let raw = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(axum::http::uri::Authority::as_str))?;
    let host = if raw.starts_with('[') {
        // An IPv6 literal: keep the brackets' content.
        raw.split(']').next().map(|h| h.trim_start_matches('['))?
    } else {
        raw.rsplit_once(':').map_or(raw, |(h, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                h
            } else {
                raw
            }
        })
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

/// What a host is to the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKind {
    /// `admin.<domain>` or `<domain>`: the portals.
    Platform,
    /// An IP address or `localhost`: direct access (health checks, local development).
    Direct,
    /// `<label>.<domain>`: a tenant's host (the label is the slug if it exists).
    TenantSubdomain,
    /// Any other name: a custom domain if the table knows it, else unknown.
    Other,
}

/// Classifies a request's host against the base domain.
pub fn classify(host: &str, base_domain: &str) -> HostKind {
    if host == base_domain || host.strip_prefix("admin.") == Some(base_domain) {
        return HostKind::Platform;
    }
    if host == "localhost" || host.parse::<std::net::IpAddr>().is_ok() {
        return HostKind::Direct;
    }
    match host.strip_suffix(base_domain) {
        Some(prefix) if prefix.ends_with('.') && !prefix[..prefix.len() - 1].contains('.') => {
            HostKind::TenantSubdomain
        }
        _ => HostKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue, Uri};

    fn host_of(value: &str) -> Option<String> {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_str(value).expect("header"));
        request_host(&headers, &Uri::from_static("/"))
    }

    #[test]
    fn request_hosts_lose_port_case_and_trailing_dot() {
        assert_eq!(
            host_of("Acme.Example.com:8443").as_deref(),
            Some("acme.example.com")
        );
        assert_eq!(
            host_of("acme.example.com.").as_deref(),
            Some("acme.example.com")
        );
        assert_eq!(host_of("127.0.0.1:3000").as_deref(), Some("127.0.0.1"));
        assert_eq!(host_of("[::1]:3000").as_deref(), Some("::1"));
        assert_eq!(host_of("").as_deref(), None);
    }

    #[test]
    fn hosts_are_classified_against_the_base_domain() {
        let d = "example.com";
        assert_eq!(classify("example.com", d), HostKind::Platform);
        assert_eq!(classify("admin.example.com", d), HostKind::Platform);
        assert_eq!(classify("acme.example.com", d), HostKind::TenantSubdomain);
        assert_eq!(classify("a.b.example.com", d), HostKind::Other);
        assert_eq!(classify("badexample.com", d), HostKind::Other);
        assert_eq!(classify("shop.acme.org", d), HostKind::Other);
        assert_eq!(classify("127.0.0.1", d), HostKind::Direct);
        assert_eq!(classify("::1", d), HostKind::Direct);
        assert_eq!(classify("localhost", d), HostKind::Direct);
        // The local topology: BASE_DOMAIN=localhost.
        assert_eq!(classify("localhost", "localhost"), HostKind::Platform);
        assert_eq!(classify("admin.localhost", "localhost"), HostKind::Platform);
        assert_eq!(
            classify("acme.localhost", "localhost"),
            HostKind::TenantSubdomain
        );
    }
}
