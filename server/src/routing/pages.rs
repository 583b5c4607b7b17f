//! What the server answers for hosts that are not its own portals.
//!
//! Traefik sends a tenant's host to the server when the tenant is not serving (suspended,
//! being set up), for its `/pos/` path, and every unknown host (the catch-all router). This
//! layer runs before the rest of the app:
//! - `admin.<domain>`, `<domain>`, IP addresses and `localhost` go on to the app;
//! - a tenant host's `/pos` and `/pos/…` go on to the POS files (same origin as its Odoo);
//! - any other path of a tenant host gets a page by state: suspended → "this shop is
//!   paused" (503), requested/provisioning/failed → "being set up" (503), active → "back in
//!   a moment" (503: Traefik's table is a poll behind);
//! - a deleted or unknown host gets our 404 page.
//!
//! The pages are self-contained (inline style, no script): on a tenant host every other
//! path is this page again, so nothing could be loaded from it.

use super::{classify, request_host, HostEntry, HostKind};
use crate::platform::Platform;
use crate::tenants::TenantState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The brand on every page.
const BRAND: &str = "Odoo SaaS Platform";

/// Axum middleware: pages for tenant and unknown hosts, everything else passes.
pub async fn host_layer(
    State(platform): State<Platform>,
    request: Request,
    next: Next,
) -> Response {
    let Some(host) = request_host(request.headers(), request.uri()) else {
        return next.run(request).await;
    };
    let base_domain = &platform.config.base_domain;
    if matches!(
        classify(&host, base_domain),
        HostKind::Platform | HostKind::Direct
    ) {
        return next.run(request).await;
    }
    let table = match platform.routes.current().await {
        Ok(table) => table,
        Err(error) => {
            tracing::error!(%error, %host, "cannot read the route table");
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Back in a moment",
                "<p>This address cannot be served right now. Please try again in a minute.</p>",
                Some(30),
            );
        }
    };
    let path = request.uri().path();
    let is_pos = path == "/pos" || path.starts_with("/pos/");
    match table.hosts.get(&host) {
        Some(_) if is_pos => next.run(request).await,
        // The till asks which tenant a host serves and reads the answer as JSON, also the
        // "no shop here" one (`pos::tenant_info` looks the host up itself).
        None if path == crate::pos::TENANT_INFO_PATH => next.run(request).await,
        Some(entry) => {
            let owner = owner_url(request.headers(), base_domain);
            tenant_page(entry, &host, &owner)
        }
        None => {
            let owner = owner_url(request.headers(), base_domain);
            not_found(&host, &owner)
        }
    }
}

/// The owners' portal (`<domain>`) with the scheme and port the visitor used.
fn owner_url(headers: &HeaderMap, base_domain: &str) -> String {
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    let port = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.rsplit_once(':'))
        .map(|(_, p)| p)
        .filter(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        .filter(|p| !matches!((scheme, *p), ("http", "80") | ("https", "443")))
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    format!("{scheme}://{base_domain}{port}/")
}

fn tenant_page(entry: &HostEntry, host: &str, owner: &str) -> Response {
    let host = escape(host);
    let owner = escape(owner);
    match entry.state {
        TenantState::Suspended => page(
            StatusCode::SERVICE_UNAVAILABLE,
            "paused",
            "This shop is paused",
            &format!(
                "<p><strong>{host}</strong> is not available at the moment: its owner's \
                 subscription is paused.</p>\
                 <p>Are you the owner? <a class=\"button\" id=\"owner-link\" href=\"{owner}\">Sign in to your \
                 account</a> to see why and reactivate it.</p>"
            ),
            None,
        ),
        TenantState::AwaitingPayment
        | TenantState::Requested
        | TenantState::Provisioning
        | TenantState::Failed => page(
            StatusCode::SERVICE_UNAVAILABLE,
            "setting-up",
            "This shop is being set up",
            &format!(
                "<p><strong>{host}</strong> is being prepared and opens in a few moments. \
                 This page reloads itself.</p>\
                 <p>Are you the owner? <a id=\"owner-link\" href=\"{owner}\">Follow the set-up in your \
                 account</a>.</p>"
            ),
            Some(10),
        ),
        TenantState::Active => page(
            StatusCode::SERVICE_UNAVAILABLE,
            "starting",
            "Back in a moment",
            &format!(
                "<p><strong>{host}</strong> is starting. This page reloads itself.</p>"
            ),
            Some(2),
        ),
        TenantState::Deleting | TenantState::Deleted => not_found_escaped(&host, &owner),
    }
}

fn not_found(host: &str, owner: &str) -> Response {
    not_found_escaped(&escape(host), &escape(owner))
}

fn not_found_escaped(host: &str, owner: &str) -> Response {
    page(
        StatusCode::NOT_FOUND,
        "not-found",
        "There is no shop here",
        &format!(
            "<p>Nothing is served at <strong>{host}</strong>. Check the address for typing \
             mistakes.</p>\
             <p>Looking for your own shop? <a id=\"owner-link\" href=\"{owner}\">Sign in to your \
             account</a>.</p>"
        ),
        None,
    )
}

/// The pages' one inline style (named by hash in their Content-Security-Policy).
const STYLE: &str = "\
         body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;\
         background:#f4f1f6;color:#1f1f29;display:flex;min-height:100vh;align-items:center;\
         justify-content:center}\
         main{background:#fff;max-width:32rem;margin:1rem;padding:2rem 2.5rem;border-radius:12px;\
         box-shadow:0 2px 12px rgba(0,0,0,.08)}\
         .brand{color:#714b67;font-weight:600;letter-spacing:.02em;margin:0 0 1rem}\
         h1{font-size:1.5rem;margin:0 0 1rem}a{color:#714b67}\
         a.button{display:inline-block;background:#714b67;color:#fff;padding:.4rem .9rem;\
         border-radius:6px;text-decoration:none}";

/// The pages' policy: no script, only [`STYLE`].
static POLICY: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| crate::web::security::inline_policy(&[STYLE]));

/// A complete HTML page; `retry` seconds adds `Retry-After` and a self-reload.
fn page(status: StatusCode, kind: &str, title: &str, body: &str, retry: Option<u32>) -> Response {
    let refresh = retry
        .map(|s| format!("<meta http-equiv=\"refresh\" content=\"{s}\">"))
        .unwrap_or_default();
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{refresh}\
         <title>{title} · {BRAND}</title><style>{STYLE}</style></head>\
         <body><main data-page=\"{kind}\"><p class=\"brand\">{BRAND}</p>\
         <h1>{title}</h1>{body}</main></body></html>"
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(policy) = HeaderValue::from_str(&POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    if let Some(seconds) = retry {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// HTML-escapes text (host names come from the request).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_link_keeps_the_visitors_scheme_and_port() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::HOST,
            HeaderValue::from_static("acme.localhost:8123"),
        );
        assert_eq!(owner_url(&headers, "localhost"), "http://localhost:8123/");
        headers.insert(
            header::HOST,
            HeaderValue::from_static("acme.example.com:443"),
        );
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert_eq!(owner_url(&headers, "example.com"), "https://example.com/");
    }

    #[test]
    fn host_names_are_escaped_in_pages() {
        assert_eq!(escape("<b>\"x\"&'"), "&lt;b&gt;&quot;x&quot;&amp;&#39;");
    }
}
