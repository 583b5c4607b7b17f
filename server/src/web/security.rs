//! Security headers on every response of ours: a Content-Security-Policy, never framed
//! (`frame-ancestors 'none'` and `X-Frame-Options: DENY`), `X-Content-Type-Options:
//! nosniff` and `Referrer-Policy: same-origin`.
//!
//! Pages set their own policy, naming exactly the scripts and styles they carry:
//! - the portals (Leptos): scripts from our origin or carrying the response's nonce (the
//!   hydration script and the streamed resources), which `leptos_axum` draws anew for every
//!   render ([`set_portal_policy`]);
//! - the POS app shell: the SHA-256 of each of its inline scripts (Trunk's loader, the
//!   service worker registration), read from the built `index.html` ([`pos_policy`]);
//! - the host pages (paused, being set up, 404 of unknown hosts): the hash of their one
//!   inline style ([`inline_policy`]).
//!
//! [`layer`], the outermost middleware, adds whatever a response lacks; a response with no
//! policy of its own (JSON, files, redirects, event streams) gets [`RESOURCE_POLICY`],
//! under which nothing loads. HSTS is Traefik's (`routing::document`): it belongs on HTTPS
//! answers only, and the server itself speaks plain HTTP behind it.

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// `X-Frame-Options` of every response: no one frames our pages.
pub const FRAME_OPTIONS: &str = "DENY";
/// `Referrer-Policy` of every response: our URLs (tokens in links, tenant ids) stay ours.
pub const REFERRER_POLICY: &str = "same-origin";
/// The policy of a response that sets none: it may load nothing and be framed by no one.
pub const RESOURCE_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// Axum middleware (the outermost): adds the headers a response lacks.
pub async fn layer(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    // A 304's headers are merged into the stored response: a default policy there would
    // replace the page's own.
    let policy = response.status() != StatusCode::NOT_MODIFIED;
    apply(response.headers_mut(), policy);
    response
}

/// Adds the security headers that are not set yet (a page's own policy stays); the
/// default policy only with `policy`.
pub fn apply(headers: &mut HeaderMap, policy: bool) {
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    headers
        .entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static(FRAME_OPTIONS));
    headers
        .entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static(REFERRER_POLICY));
    if policy {
        headers
            .entry(header::CONTENT_SECURITY_POLICY)
            .or_insert(HeaderValue::from_static(RESOURCE_POLICY));
    }
}

/// The policy of a portal page rendered with `nonce`: scripts from our origin (the wasm's
/// JS glue) or with the nonce (the inline hydration and resource scripts), WebAssembly
/// compiled, styles and images from our origin, requests (server functions, event
/// streams) to our origin only.
pub fn portal_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; frame-ancestors 'none'"
    )
}

/// Puts the portal policy with this render's nonce on the response being rendered. Called
/// by the shell, inside `leptos_axum`'s render (where its nonce and `ResponseOptions` are
/// in context); without them (no render) it does nothing, and [`layer`]'s strict default
/// applies.
pub fn set_portal_policy() {
    let Some(nonce) = leptos::nonce::use_nonce() else {
        tracing::warn!("a page rendered without a nonce: it gets no script policy");
        return;
    };
    let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    match HeaderValue::from_str(&portal_policy(&nonce)) {
        Ok(value) => response.insert_header(header::CONTENT_SECURITY_POLICY, value),
        Err(error) => tracing::error!(%error, "the page's policy is not a header value"),
    }
}

/// The policy of the POS app shell, allowing exactly the inline scripts of `index_html`
/// by hash. Its JS glue and wasm come from our origin; it talks JSON-RPC to the tenant's
/// Odoo on the same origin; product images may come as `data:` or `blob:` URLs. The
/// service worker (`sw.js`) gets it too: a worker's policy is its own response's, and it
/// fetches the shell from our origin.
pub fn pos_policy(index_html: Option<&str>) -> String {
    let hashes: String = index_html
        .map(|html| inline_blocks(html, "script"))
        .unwrap_or_default()
        .into_iter()
        .map(|script| format!(" '{}'", sha256_source(script)))
        .collect();
    format!(
        "default-src 'self'; script-src 'self'{hashes} 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; \
         manifest-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
}

/// The policy of a self-contained page: no script, only the given inline styles (by hash)
/// and nothing else loaded.
pub fn inline_policy(styles: &[&str]) -> String {
    let hashes: String = styles
        .iter()
        .map(|style| format!(" '{}'", sha256_source(style)))
        .collect();
    format!(
        "default-src 'none'; style-src{hashes}; img-src 'self'; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'"
    )
}

/// A CSP hash source, `sha256-<base64>`, of an inline element's text.
pub fn sha256_source(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The text of every inline `<tag>…</tag>` element of `html` (elements with a `src`
/// attribute are skipped: they load a file, which `'self'` covers). Meant for HTML we
/// built (the POS shell), not for arbitrary documents.
pub fn inline_blocks<'a>(html: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut blocks = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        // `<scripts>` or `<script-x>` are other elements.
        if !after.starts_with(|c: char| c == '>' || c.is_ascii_whitespace()) {
            rest = after;
            continue;
        }
        let Some(tag_end) = after.find('>') else {
            break;
        };
        let attributes = &after[..tag_end];
        let body = &after[tag_end + 1..];
        let Some(body_end) = body.find(&close) else {
            break;
        };
        let loads_a_file = attributes
            .split(|c: char| c.is_ascii_whitespace())
            .any(|a| a == "src" || a.starts_with("src="));
        if !loads_a_file {
            blocks.push(&body[..body_end]);
        }
        rest = &body[body_end + close.len()..];
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_sources_are_base64_sha256() {
        // The SHA-256 of nothing, as browsers' consoles print it.
        assert_eq!(
            sha256_source(""),
            "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn inline_scripts_are_found_and_files_skipped() {
        let html = "<head><script src=\"/pos/a.js\"></script><script type=\"module\">\
                    import init from '/pos/a.js';</script><scripts>x</scripts>\
                    <script>one()</script></head>";
        assert_eq!(
            inline_blocks(html, "script"),
            vec!["import init from '/pos/a.js';", "one()"]
        );
        let policy = pos_policy(Some(html));
        assert!(policy.contains(&sha256_source("one()")), "{policy}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    }

    #[test]
    fn existing_headers_stay_and_missing_ones_are_added() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'"),
        );
        apply(&mut headers, true);
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            "default-src 'self'"
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(headers[header::REFERRER_POLICY], "same-origin");
    }
}
