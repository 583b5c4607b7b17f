//! The address of the client a request comes from: the TCP peer, or, when the peer is one
//! of our own reverse proxies (`TRUSTED_PROXIES`, e.g. Traefik's network), the address that
//! proxy appended to `X-Forwarded-For`. Anyone can send that header, so it is believed only
//! from a trusted peer, and read from the right: the last address not of a trusted proxy.

use app::client::ClientAddress;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses `TRUSTED_PROXIES`: addresses or networks, separated by commas or spaces
    /// (`172.16.0.0/12, 10.0.0.5`). `None` if one does not parse.
    pub fn parse(raw: &str) -> Option<TrustedProxies> {
        raw.split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .ok()
                    .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
            })
            .collect::<Option<Vec<_>>>()
            .map(TrustedProxies)
    }

    /// Whether `ip` is one of the proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// Whether none is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The client of a request that arrived from `peer` with these headers.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        // Every X-Forwarded-For header, in order, as one list; walk it from the right.
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) => {
                    client = canonical(ip);
                    if !self.contains(client) {
                        break;
                    }
                }
                // Garbage (or a port we do not expect): stop at the last address we trust.
                Err(_) => break,
            }
        }
        client
    }
}

/// IPv4-mapped IPv6 addresses as the IPv4 address they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Middleware: puts the request's [`ClientAddress`] into its extensions (for sign-in
/// throttling and logs). Without connection info (a router driven in memory) the client is
/// 0.0.0.0.
pub async fn layer(
    State(proxies): State<Arc<TrustedProxies>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let client = proxies.client(peer, request.headers());
    request.extensions_mut().insert(ClientAddress(client));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn forwarded(values: &[&'static str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_static(v));
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn a_stranger_cannot_choose_its_address_with_the_header() {
        let proxies = TrustedProxies::parse("172.16.0.0/12").expect("valid");
        let h = forwarded(&["203.0.113.9"]);
        assert_eq!(proxies.client(ip("198.51.100.1"), &h), ip("198.51.100.1"));
        // Nothing trusted: the header is never read.
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("127.0.0.1"), &h), ip("127.0.0.1"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_last_untrusted_hop_is_the_client() {
        let proxies = TrustedProxies::parse("172.16.0.0/12, 10.0.0.5").expect("valid");
        // The client forged a first entry; Traefik appended the real peer.
        let h = forwarded(&["1.2.3.4, 203.0.113.9"]);
        assert_eq!(proxies.client(ip("172.18.0.3"), &h), ip("203.0.113.9"));
        // Two of our proxies in a row, over two headers.
        let h = forwarded(&["203.0.113.9", "10.0.0.5"]);
        assert_eq!(proxies.client(ip("172.18.0.3"), &h), ip("203.0.113.9"));
        // No header: the proxy itself.
        assert_eq!(
            proxies.client(ip("172.18.0.3"), &HeaderMap::new()),
            ip("172.18.0.3")
        );
        // Garbage stops the walk at the last trusted hop.
        let h = forwarded(&["203.0.113.9, not-an-ip"]);
        assert_eq!(proxies.client(ip("172.18.0.3"), &h), ip("172.18.0.3"));
        // IPv4-mapped peers count as IPv4.
        assert_eq!(
            proxies.client(ip("::ffff:172.18.0.3"), &forwarded(&["203.0.113.9"])),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn bad_proxy_lists_are_refused() {
        assert!(TrustedProxies::parse("10.0.0.0/8, nonsense").is_none());
        assert!(TrustedProxies::parse("")
            .expect("empty is valid")
            .is_empty());
        assert!(TrustedProxies::parse("::1 127.0.0.1")
            .expect("valid")
            .contains(ip("127.0.0.1")));
    }
}
