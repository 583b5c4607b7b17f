//! The DNS check of a custom domain, with a real resolver (hickory): is there a CNAME to
//! the tenant's own host, or an A/AAAA record to one of the ingress addresses?
//!
//! The nameservers are `CUSTOM_DOMAIN_NAMESERVERS` (tests: pebble-challtestsrv), else the
//! system's (`/etc/resolv.conf`). A resolver is built per check with no cache, so an owner
//! who just created the record is not told "not yet" from a cached answer.

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::TokioResolver;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// The record is in place; how it was seen.
    Verified(String),
    /// Not yet; what was found instead (shown to the owner).
    NotYet(String),
}

/// The checker's settings.
#[derive(Debug, Clone)]
pub struct DnsCheck {
    /// Nameservers to ask; empty = the system's.
    pub nameservers: Vec<SocketAddr>,
    /// Addresses an A/AAAA record may point at instead of a CNAME.
    pub ingress_ips: Vec<IpAddr>,
}

fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

fn plain(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl DnsCheck {
    fn resolver(&self) -> Result<TokioResolver, String> {
        let builder = if self.nameservers.is_empty() {
            TokioResolver::builder_tokio().map_err(|e| format!("reading /etc/resolv.conf: {e}"))?
        } else {
            let servers = self
                .nameservers
                .iter()
                .map(|addr| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = addr.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = addr.port();
                    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
                })
                .collect();
            TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(servers),
                TokioRuntimeProvider::default(),
            )
        };
        let mut builder = builder;
        let options = builder.options_mut();
        options.cache_size = 0;
        options.timeout = Duration::from_secs(5);
        options.attempts = 2;
        // Names are absolute: no search domains appended.
        options.ndots = 0;
        builder.build().map_err(|e| format!("DNS resolver: {e}"))
    }

    /// Checks `domain` for a CNAME to `target` (or an A/AAAA record to the ingress).
    pub async fn check(&self, domain: &str, target: &str) -> Seen {
        let resolver = match self.resolver() {
            Ok(r) => r,
            Err(e) => return Seen::NotYet(e),
        };
        let target = plain(target);
        let cnames: Vec<String> = match resolver.lookup(fqdn(domain), RecordType::CNAME).await {
            Ok(lookup) => lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::CNAME(c) => Some(plain(&c.0.to_ascii())),
                    _ => None,
                })
                .collect(),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Vec::new(),
            Err(e) => return Seen::NotYet(format!("the DNS lookup failed: {e}")),
        };
        if cnames.contains(&target) {
            return Seen::Verified(format!("CNAME {domain} → {target}"));
        }
        if let Some(other) = cnames.first() {
            return Seen::NotYet(format!("{domain} has a CNAME to {other}, not to {target}."));
        }
        let mut addresses = Vec::new();
        for kind in [RecordType::A, RecordType::AAAA] {
            match resolver.lookup(fqdn(domain), kind).await {
                Ok(lookup) => {
                    addresses.extend(lookup.answers().iter().filter_map(|r| match &r.data {
                        RData::A(a) => Some(IpAddr::V4(a.0)),
                        RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                        _ => None,
                    }))
                }
                Err(e) if e.is_no_records_found() || e.is_nx_domain() => {}
                Err(e) => return Seen::NotYet(format!("the DNS lookup failed: {e}")),
            }
        }
        if let Some(ip) = addresses.iter().find(|ip| self.ingress_ips.contains(ip)) {
            return Seen::Verified(format!("{domain} → {ip} (the ingress address)"));
        }
        if addresses.is_empty() {
            Seen::NotYet(format!(
                "{domain} has no CNAME record yet (and no address)."
            ))
        } else {
            let list: Vec<String> = addresses.iter().map(ToString::to_string).collect();
            Seen::NotYet(format!(
                "{domain} has no CNAME to {target}; it points at {}.",
                list.join(", ")
            ))
        }
    }
}
