//! Traefik's dynamic configuration (the HTTP provider's JSON) built from the live tenants
//! and custom domains. Pure: rows and settings in, a document and the host table out.
//!
//! Router names are stable (`tenant_<slug>`, `tenant_<slug>_websocket`,
//! `domain_<host with . as _>`, …: slugs and host names never hold `_`, so no two routers
//! can share a name) and every router carries an explicit priority, so Traefik's choice
//! never depends on rule length:
//!
//! | priority | router | goes to |
//! | --- | --- | --- |
//! | 400 | `platform_admin`, `platform_apex` (`admin.<domain>`, `<domain>`) | server |
//! | 300 | `pos` (any `<label>.<domain>` with path `/pos` or `/pos/…`), `domain_<h>_pos` | server |
//! | 200 | `tenant_<slug>_websocket`, `domain_<h>_websocket` (active tenants) | Odoo's gevent port |
//! | 100 | `tenant_<slug>`, `domain_<h>` | Odoo when active; the server's pages otherwise |
//! | 1 | `unknown_host` (every other host and path) | server (our 404 page) |
//!
//! Odoo picks a request's database from its host name (`dbfilter = ^t_%d$`: the first
//! label, after a `www.`), so a custom domain's Odoo routers carry a `tenant_<slug>_host`
//! middleware that sets `X-Forwarded-Host: <slug>.<domain>`: Odoo, with `proxy_mode`, takes
//! the host from that header (`odoo/http.py`, `Application.__call__`, werkzeug's `ProxyFix`
//! with `x_host=1`), and opens the tenant's own database rather than the one named after
//! the custom domain's first label.

use super::{HostEntry, HostTable};
use crate::tenants::TenantState;
use serde::Serialize;
use std::collections::BTreeMap;
use url::Url;
use uuid::Uuid;

/// Priority of the platform's own hosts.
pub const PRIORITY_PLATFORM: u32 = 400;
/// Priority of the POS path on tenant hosts.
pub const PRIORITY_POS: u32 = 300;
/// Priority of Odoo's long-polling path on active tenant hosts.
pub const PRIORITY_WEBSOCKET: u32 = 200;
/// Priority of a tenant's host.
pub const PRIORITY_TENANT: u32 = 100;
/// Priority of the catch-all router (unknown hosts).
pub const PRIORITY_CATCH_ALL: u32 = 1;

/// Service names inside the document (same provider, so routers name them without `@`).
const PLATFORM: &str = "platform";
const ODOO: &str = "odoo";
const ODOO_WEBSOCKET: &str = "odoo-websocket";
/// Middlewares: HSTS + nosniff on every route; Odoo's routes also get framing and
/// referrer rules (the server sets its own, stricter ones, which Traefik must not replace).
const PLATFORM_HEADERS: &str = "platform-headers";
const ODOO_HEADERS: &str = "odoo-headers";

/// Where Traefik sends traffic and how its routers are attached (from the configuration).
#[derive(Debug, Clone)]
pub struct RouteSettings {
    /// `<domain>`: the platform's parent domain.
    pub base_domain: String,
    /// The entry point every router is attached to.
    pub entrypoint: String,
    /// How Traefik reaches this server.
    pub platform_url: Url,
    /// The public Odoo; `None` sends active tenants to the server too.
    pub odoo_url: Option<Url>,
    /// Odoo's `/websocket` (gevent port).
    pub odoo_websocket_url: Option<Url>,
    /// Resolver of the wildcard certificate; `None` = no TLS on the routers.
    pub wildcard_resolver: Option<String>,
    /// Resolver of custom domains' certificates (HTTP-01).
    pub custom_domain_resolver: Option<String>,
}

impl RouteSettings {
    /// The settings of a configuration.
    pub fn from_config(config: &crate::config::Config) -> RouteSettings {
        RouteSettings {
            base_domain: config.base_domain.clone(),
            entrypoint: config.routing.entrypoint.clone(),
            platform_url: config.routing.platform_url.clone(),
            odoo_url: config.odoo_url.clone(),
            odoo_websocket_url: config.routing.odoo_websocket_url.clone(),
            wildcard_resolver: config.routing.wildcard_resolver.clone(),
            custom_domain_resolver: config.routing.custom_domain_resolver.clone(),
        }
    }
}

/// A tenant as the route table needs it.
#[derive(Debug, Clone)]
pub struct TenantRow {
    /// Tenant id.
    pub id: Uuid,
    /// Its slug (`<slug>.<domain>`).
    pub slug: String,
    /// Its state.
    pub state: TenantState,
}

/// A custom domain whose DNS was verified (only those are routed).
#[derive(Debug, Clone)]
pub struct DomainRow {
    /// The host name, lowercase.
    pub domain: String,
    /// The tenant it belongs to.
    pub tenant_id: Uuid,
}

/// The whole dynamic configuration.
#[derive(Debug, Serialize)]
pub struct Document {
    http: Http,
}

impl Document {
    /// How many routers it holds.
    pub fn router_count(&self) -> usize {
        self.http.routers.len()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Http {
    routers: BTreeMap<String, Router>,
    services: BTreeMap<&'static str, Service>,
    middlewares: BTreeMap<String, Middleware>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Router {
    entry_points: [String; 1],
    rule: String,
    service: &'static str,
    priority: u32,
    middlewares: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<Tls>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Tls {
    #[serde(skip_serializing_if = "Option::is_none")]
    cert_resolver: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    domains: Vec<TlsDomain>,
}

#[derive(Debug, Clone, Serialize)]
struct TlsDomain {
    main: String,
    sans: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Service {
    load_balancer: LoadBalancer,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LoadBalancer {
    servers: [Server; 1],
    pass_host_header: bool,
}

#[derive(Debug, Serialize)]
struct Server {
    url: String,
}

#[derive(Debug, Serialize)]
struct Middleware {
    headers: Headers,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct Headers {
    #[serde(skip_serializing_if = "Option::is_none")]
    sts_seconds: Option<u64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    sts_include_subdomains: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    sts_preload: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    content_type_nosniff: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    referrer_policy: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_frame_options_value: Option<&'static str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    custom_response_headers: BTreeMap<&'static str, &'static str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    custom_request_headers: BTreeMap<&'static str, String>,
}

/// One year: what browsers' preload lists ask for; HSTS goes out on HTTPS answers only.
const HSTS_SECONDS: u64 = 31_536_000;

fn headers_middlewares() -> BTreeMap<String, Middleware> {
    let hide = BTreeMap::from([("Server", ""), ("X-Powered-By", "")]);
    BTreeMap::from([
        (
            PLATFORM_HEADERS.to_owned(),
            Middleware {
                headers: Headers {
                    sts_seconds: Some(HSTS_SECONDS),
                    sts_include_subdomains: true,
                    content_type_nosniff: true,
                    custom_response_headers: hide.clone(),
                    ..Headers::default()
                },
            },
        ),
        (
            ODOO_HEADERS.to_owned(),
            Middleware {
                headers: Headers {
                    sts_seconds: Some(HSTS_SECONDS),
                    sts_include_subdomains: true,
                    content_type_nosniff: true,
                    referrer_policy: Some("strict-origin-when-cross-origin"),
                    // Odoo frames itself (website editor, POS customer display).
                    custom_frame_options_value: Some("SAMEORIGIN"),
                    custom_response_headers: hide,
                    ..Headers::default()
                },
            },
        ),
    ])
}

/// The middleware that makes Odoo see a tenant's own host on its custom domains.
fn tenant_host_middleware(slug: &str) -> String {
    format!("tenant_{slug}_host")
}

/// `X-Forwarded-Host: <slug>.<domain>`, replacing the one Traefik's entry point set (a
/// headers middleware runs after the entry point): Odoo's dbfilter then sees the tenant's
/// host, not the custom domain's first label.
fn forwarded_host(tenant_host: &str) -> Middleware {
    Middleware {
        headers: Headers {
            custom_request_headers: BTreeMap::from([("X-Forwarded-Host", tenant_host.to_owned())]),
            ..Headers::default()
        },
    }
}

/// A URL as Traefik's `servers[].url` (no trailing slash: Traefik appends the path).
fn server_url(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}

/// `.` → `\.`: a literal host inside a Go regular expression.
fn regex_escape(host: &str) -> String {
    host.replace('.', r"\.")
}

/// Builds the document and the host table the server's own pages use.
pub fn build(
    settings: &RouteSettings,
    tenants: &[TenantRow],
    domains: &[DomainRow],
) -> (Document, HostTable) {
    let domain = &settings.base_domain;
    let entry = [settings.entrypoint.clone()];
    let wildcard_tls = settings.wildcard_resolver.as_ref().map(|resolver| Tls {
        cert_resolver: Some(resolver.clone()),
        domains: vec![TlsDomain {
            main: domain.clone(),
            sans: vec![format!("*.{domain}")],
        }],
    });
    let tls_on = wildcard_tls.is_some() || settings.custom_domain_resolver.is_some();
    let custom_tls = settings.custom_domain_resolver.as_ref().map_or_else(
        // TLS on the entry point without a resolver for custom domains: Traefik's default
        // certificate (the browser warns; better than plain HTTP on a TLS entry point).
        || {
            tls_on.then(|| Tls {
                cert_resolver: None,
                domains: Vec::new(),
            })
        },
        |resolver| {
            Some(Tls {
                cert_resolver: Some(resolver.clone()),
                domains: Vec::new(),
            })
        },
    );
    let has_odoo = settings.odoo_url.is_some();
    let router = |rule: String,
                  service: &'static str,
                  priority: u32,
                  middleware: &'static str,
                  tls: &Option<Tls>| Router {
        entry_points: entry.clone(),
        rule,
        service,
        priority,
        middlewares: vec![middleware.to_owned()],
        tls: tls.clone(),
    };

    let mut routers = BTreeMap::new();
    routers.insert(
        "platform_admin".to_owned(),
        router(
            format!("Host(`admin.{domain}`)"),
            PLATFORM,
            PRIORITY_PLATFORM,
            PLATFORM_HEADERS,
            &wildcard_tls,
        ),
    );
    routers.insert(
        "platform_apex".to_owned(),
        router(
            format!("Host(`{domain}`)"),
            PLATFORM,
            PRIORITY_PLATFORM,
            PLATFORM_HEADERS,
            &wildcard_tls,
        ),
    );
    // Every tenant host's POS goes to the server (same origin as its Odoo); for unknown or
    // deleted hosts the server answers with our 404 page.
    routers.insert(
        "pos".to_owned(),
        router(
            format!(
                "HostRegexp(`^[a-z0-9-]+\\.{}$`) && (Path(`/pos`) || PathPrefix(`/pos/`))",
                regex_escape(domain)
            ),
            PLATFORM,
            PRIORITY_POS,
            PLATFORM_HEADERS,
            &wildcard_tls,
        ),
    );
    let catch_all_tls = tls_on.then(|| Tls {
        cert_resolver: None,
        domains: Vec::new(),
    });
    routers.insert(
        "unknown_host".to_owned(),
        router(
            "PathPrefix(`/`)".to_owned(),
            PLATFORM,
            PRIORITY_CATCH_ALL,
            PLATFORM_HEADERS,
            &catch_all_tls,
        ),
    );

    let mut hosts = HostTable::default();
    let mut by_id = std::collections::HashMap::with_capacity(tenants.len());
    for t in tenants {
        by_id.insert(t.id, t);
        let host = format!("{}.{domain}", t.slug);
        hosts.insert(
            host.clone(),
            HostEntry {
                tenant_id: t.id,
                slug: t.slug.clone(),
                state: t.state,
                custom_domain: false,
            },
        );
        tenant_routers(
            &mut routers,
            &format!("tenant_{}", t.slug),
            &host,
            t.state,
            has_odoo,
            &router,
            &wildcard_tls,
            false,
        );
    }
    let mut middlewares = headers_middlewares();
    for d in domains {
        let Some(t) = by_id.get(&d.tenant_id) else {
            continue;
        };
        hosts.insert(
            d.domain.clone(),
            HostEntry {
                tenant_id: t.id,
                slug: t.slug.clone(),
                state: t.state,
                custom_domain: true,
            },
        );
        let name = format!("domain_{}", d.domain.replace('.', "_"));
        tenant_routers(
            &mut routers,
            &name,
            &d.domain,
            t.state,
            has_odoo,
            &router,
            &custom_tls,
            true,
        );
        // Odoo must open the tenant's database, not the one named after the domain's first
        // label: its routers tell Odoo the tenant's own host.
        let host_middleware = tenant_host_middleware(&t.slug);
        let mut odoo_routers = 0;
        for odoo_router in [name.clone(), format!("{name}_websocket")] {
            if let Some(r) = routers.get_mut(&odoo_router) {
                if r.service == ODOO || r.service == ODOO_WEBSOCKET {
                    r.middlewares.push(host_middleware.clone());
                    odoo_routers += 1;
                }
            }
        }
        if odoo_routers > 0 {
            middlewares
                .entry(host_middleware)
                .or_insert_with(|| forwarded_host(&format!("{}.{domain}", t.slug)));
        }
    }

    let platform = Service {
        load_balancer: LoadBalancer {
            servers: [Server {
                url: server_url(&settings.platform_url),
            }],
            pass_host_header: true,
        },
    };
    let mut services = BTreeMap::from([(PLATFORM, platform)]);
    if let Some(odoo) = &settings.odoo_url {
        services.insert(
            ODOO,
            Service {
                load_balancer: LoadBalancer {
                    servers: [Server {
                        url: server_url(odoo),
                    }],
                    pass_host_header: true,
                },
            },
        );
        let websocket = settings.odoo_websocket_url.as_ref().unwrap_or(odoo);
        services.insert(
            ODOO_WEBSOCKET,
            Service {
                load_balancer: LoadBalancer {
                    servers: [Server {
                        url: server_url(websocket),
                    }],
                    pass_host_header: true,
                },
            },
        );
    }
    (
        Document {
            http: Http {
                routers,
                services,
                middlewares,
            },
        },
        hosts,
    )
}

/// The routers of one tenant host (its own or a custom domain).
#[allow(clippy::too_many_arguments)]
fn tenant_routers(
    routers: &mut BTreeMap<String, Router>,
    name: &str,
    host: &str,
    state: TenantState,
    has_odoo: bool,
    router: &impl Fn(String, &'static str, u32, &'static str, &Option<Tls>) -> Router,
    tls: &Option<Tls>,
    custom_domain: bool,
) {
    match state {
        // Deleting or deleted: no route; the catch-all answers with our 404 page.
        TenantState::Deleting | TenantState::Deleted => {}
        TenantState::Active if has_odoo => {
            routers.insert(
                name.to_owned(),
                router(
                    format!("Host(`{host}`)"),
                    ODOO,
                    PRIORITY_TENANT,
                    ODOO_HEADERS,
                    tls,
                ),
            );
            routers.insert(
                format!("{name}_websocket"),
                router(
                    format!("Host(`{host}`) && PathPrefix(`/websocket`)"),
                    ODOO_WEBSOCKET,
                    PRIORITY_WEBSOCKET,
                    ODOO_HEADERS,
                    tls,
                ),
            );
        }
        // Suspended (the paused page), being set up or failed: the server's pages.
        _ => {
            routers.insert(
                name.to_owned(),
                router(
                    format!("Host(`{host}`)"),
                    PLATFORM,
                    PRIORITY_TENANT,
                    PLATFORM_HEADERS,
                    tls,
                ),
            );
        }
    }
    // A custom domain is outside the `pos` router's host pattern: its own POS router.
    if custom_domain && !matches!(state, TenantState::Deleting | TenantState::Deleted) {
        routers.insert(
            format!("{name}_pos"),
            router(
                format!("Host(`{host}`) && (Path(`/pos`) || PathPrefix(`/pos/`))"),
                PLATFORM,
                PRIORITY_POS,
                PLATFORM_HEADERS,
                tls,
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn settings() -> RouteSettings {
        RouteSettings {
            base_domain: "example.com".into(),
            entrypoint: "websecure".into(),
            platform_url: "http://server:3000".parse().expect("url"),
            odoo_url: Some("http://odoo:8069".parse().expect("url")),
            odoo_websocket_url: Some("http://odoo:8072".parse().expect("url")),
            wildcard_resolver: Some("wildcard".into()),
            custom_domain_resolver: Some("custom-domains".into()),
        }
    }

    fn tenant(slug: &str, state: TenantState) -> TenantRow {
        TenantRow {
            id: Uuid::new_v4(),
            slug: slug.into(),
            state,
        }
    }

    fn json(settings: &RouteSettings, tenants: &[TenantRow], domains: &[DomainRow]) -> Value {
        serde_json::to_value(build(settings, tenants, domains).0).expect("serializes")
    }

    #[test]
    fn portals_go_to_the_server_with_the_wildcard_certificate() {
        let doc = json(&settings(), &[], &[]);
        let admin = &doc["http"]["routers"]["platform_admin"];
        assert_eq!(admin["rule"], "Host(`admin.example.com`)");
        assert_eq!(admin["service"], "platform");
        assert_eq!(admin["entryPoints"][0], "websecure");
        assert_eq!(admin["tls"]["certResolver"], "wildcard");
        assert_eq!(admin["tls"]["domains"][0]["main"], "example.com");
        assert_eq!(admin["tls"]["domains"][0]["sans"][0], "*.example.com");
        assert_eq!(
            doc["http"]["routers"]["platform_apex"]["rule"],
            "Host(`example.com`)"
        );
        assert_eq!(
            doc["http"]["services"]["platform"]["loadBalancer"]["servers"][0]["url"],
            "http://server:3000"
        );
        let catch_all = &doc["http"]["routers"]["unknown_host"];
        assert_eq!(catch_all["priority"], PRIORITY_CATCH_ALL);
        assert_eq!(catch_all["service"], "platform");
    }

    #[test]
    fn an_active_tenant_goes_to_odoo_with_its_websocket_on_the_gevent_port() {
        let doc = json(&settings(), &[tenant("acme", TenantState::Active)], &[]);
        let routers = &doc["http"]["routers"];
        assert_eq!(routers["tenant_acme"]["rule"], "Host(`acme.example.com`)");
        assert_eq!(routers["tenant_acme"]["service"], "odoo");
        assert_eq!(routers["tenant_acme"]["middlewares"][0], "odoo-headers");
        assert_eq!(
            routers["tenant_acme_websocket"]["rule"],
            "Host(`acme.example.com`) && PathPrefix(`/websocket`)"
        );
        assert_eq!(
            routers["tenant_acme_websocket"]["service"],
            "odoo-websocket"
        );
        assert_eq!(
            doc["http"]["services"]["odoo-websocket"]["loadBalancer"]["servers"][0]["url"],
            "http://odoo:8072"
        );
        // The POS router outranks the tenant's, the websocket router too.
        let pos = &routers["pos"];
        assert_eq!(pos["service"], "platform");
        assert!(pos["priority"].as_u64() > routers["tenant_acme"]["priority"].as_u64());
        assert!(
            routers["tenant_acme_websocket"]["priority"].as_u64()
                > routers["tenant_acme"]["priority"].as_u64()
        );
        assert_eq!(
            pos["rule"],
            "HostRegexp(`^[a-z0-9-]+\\.example\\.com$`) && (Path(`/pos`) || PathPrefix(`/pos/`))"
        );
    }

    #[test]
    fn suspended_and_unfinished_tenants_go_to_the_server_and_deleted_ones_nowhere() {
        let doc = json(
            &settings(),
            &[
                tenant("paused", TenantState::Suspended),
                tenant("newbie", TenantState::Provisioning),
                tenant("gone", TenantState::Deleted),
                tenant("going", TenantState::Deleting),
            ],
            &[],
        );
        let routers = doc["http"]["routers"].as_object().expect("routers");
        assert_eq!(routers["tenant_paused"]["service"], "platform");
        assert!(!routers.contains_key("tenant_paused_websocket"));
        assert_eq!(routers["tenant_newbie"]["service"], "platform");
        assert!(!routers.contains_key("tenant_gone"));
        assert!(!routers.contains_key("tenant_going"));
    }

    #[test]
    fn router_names_cannot_collide_between_slugs() {
        // `acme-websocket` is a valid slug: its router must not be acme's websocket router.
        let doc = json(
            &settings(),
            &[
                tenant("acme", TenantState::Active),
                tenant("acme-websocket", TenantState::Suspended),
            ],
            &[],
        );
        let routers = &doc["http"]["routers"];
        assert_eq!(
            routers["tenant_acme_websocket"]["service"],
            "odoo-websocket"
        );
        assert_eq!(routers["tenant_acme-websocket"]["service"], "platform");
    }

    #[test]
    fn a_custom_domain_gets_the_tenants_routes_and_its_own_certificate() {
        let acme = tenant("acme", TenantState::Active);
        let domains = [DomainRow {
            domain: "shop.acme-corp.com".into(),
            tenant_id: acme.id,
        }];
        let (doc, hosts) = build(&settings(), std::slice::from_ref(&acme), &domains);
        let doc = serde_json::to_value(doc).expect("json");
        let routers = &doc["http"]["routers"];
        let main = &routers["domain_shop_acme-corp_com"];
        assert_eq!(main["rule"], "Host(`shop.acme-corp.com`)");
        assert_eq!(main["service"], "odoo");
        assert_eq!(main["tls"]["certResolver"], "custom-domains");
        assert!(main["tls"].get("domains").is_none(), "{main}");
        assert_eq!(
            routers["domain_shop_acme-corp_com_pos"]["service"],
            "platform"
        );
        assert_eq!(
            routers["domain_shop_acme-corp_com_websocket"]["service"],
            "odoo-websocket"
        );
        let entry = hosts.get("shop.acme-corp.com").expect("in the host table");
        assert_eq!(entry.slug, "acme");
        assert!(entry.custom_domain);
    }

    #[test]
    fn odoo_on_a_custom_domain_is_told_the_tenants_own_host() {
        // `shop.customer.org` belongs to tenant `other`: Odoo's dbfilter would pick `t_shop`
        // (another tenant) from the first label unless the router sets the forwarded host.
        let shop = tenant("shop", TenantState::Active);
        let other = tenant("other", TenantState::Active);
        let paused = tenant("paused", TenantState::Suspended);
        let domains = [
            DomainRow {
                domain: "shop.customer.org".into(),
                tenant_id: other.id,
            },
            DomainRow {
                domain: "www.other.org".into(),
                tenant_id: other.id,
            },
            DomainRow {
                domain: "shop.paused.org".into(),
                tenant_id: paused.id,
            },
        ];
        let doc = json(&settings(), &[shop, other, paused], &domains);
        let routers = &doc["http"]["routers"];
        for name in [
            "domain_shop_customer_org",
            "domain_shop_customer_org_websocket",
            "domain_www_other_org",
            "domain_www_other_org_websocket",
        ] {
            assert_eq!(
                routers[name]["middlewares"],
                serde_json::json!(["odoo-headers", "tenant_other_host"]),
                "{name}"
            );
        }
        let middleware = &doc["http"]["middlewares"]["tenant_other_host"]["headers"];
        assert_eq!(
            middleware["customRequestHeaders"],
            serde_json::json!({"X-Forwarded-Host": "other.example.com"})
        );
        // Only the forwarded host: no security header of its own to clash with odoo-headers.
        assert_eq!(
            middleware.as_object().map(|m| m.len()),
            Some(1),
            "{middleware}"
        );
        // The tenants' own hosts already name their database; the POS goes to the server,
        // which knows custom domains itself; a paused tenant's domain shows our page.
        assert_eq!(
            routers["tenant_other"]["middlewares"],
            serde_json::json!(["odoo-headers"])
        );
        assert_eq!(
            routers["tenant_shop"]["middlewares"],
            serde_json::json!(["odoo-headers"])
        );
        assert_eq!(
            routers["domain_shop_customer_org_pos"]["middlewares"],
            serde_json::json!(["platform-headers"])
        );
        assert_eq!(
            routers["domain_shop_paused_org"]["middlewares"],
            serde_json::json!(["platform-headers"])
        );
        let middlewares = doc["http"]["middlewares"].as_object().expect("middlewares");
        assert!(!middlewares.contains_key("tenant_paused_host"));
        assert!(!middlewares.contains_key("tenant_shop_host"));
    }

    #[test]
    fn without_tls_resolvers_routers_carry_no_tls() {
        let mut s = settings();
        s.wildcard_resolver = None;
        s.custom_domain_resolver = None;
        s.entrypoint = "web".into();
        let doc = json(&s, &[tenant("acme", TenantState::Active)], &[]);
        for (name, router) in doc["http"]["routers"].as_object().expect("routers") {
            assert!(router.get("tls").is_none(), "{name}: {router}");
            assert_eq!(router["entryPoints"][0], "web");
        }
    }

    #[test]
    fn the_same_rows_give_the_same_bytes() {
        let rows = [
            tenant("bravo", TenantState::Active),
            tenant("alpha", TenantState::Suspended),
        ];
        let mut reversed = rows.clone();
        reversed.reverse();
        let a = serde_json::to_string(&build(&settings(), &rows, &[]).0).expect("json");
        let b = serde_json::to_string(&build(&settings(), &reversed, &[]).0).expect("json");
        assert_eq!(a, b);
    }
}
