//! Security headers on every response of ours (issue 13, item 11): a
//! Content-Security-Policy, never framed (`frame-ancestors 'none'`, `X-Frame-Options:
//! DENY`), `nosniff` and a referrer policy, on the portals' pages, the API, the POS files,
//! the host pages, the design's `public/` files, redirects, 404s and errors. A portal
//! page's scripts all carry the nonce its policy names (so the hydration still runs), the
//! POS shell's inline scripts are named by hash, and no policy allows inline code at large.

use crate::common::portal::Portal;
use reqwest::header::{HeaderMap, COOKIE};
use reqwest::Method;
use std::path::PathBuf;

/// A POS build: a shell with two inline scripts (Trunk's loader and the service worker
/// registration, as in `pos-pwa/index.html`) and one loaded from a file.
fn pos_build() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("saas-headers-pos-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("pos dir");
    std::fs::write(dir.join("index.html"), POS_INDEX).expect("pos index");
    std::fs::write(
        dir.join("sw.js"),
        "self.addEventListener('fetch', () => {});",
    )
    .expect("sw");
    std::fs::write(dir.join("pos-1.js"), "export default function init() {}").expect("glue");
    dir
}

const POS_LOADER: &str = "\nimport init from '/pos/pos-1.js';\nawait init();\n";
const POS_SW: &str = "\nnavigator.serviceWorker.register('/pos/sw.js');\n";
const POS_INDEX: &str = concat!(
    "<!DOCTYPE html><html><head><title>Point of Sale</title>",
    "<script src=\"/pos/extra.js\"></script>",
    "<script type=\"module\">\nimport init from '/pos/pos-1.js';\nawait init();\n</script>",
    "<script>\nnavigator.serviceWorker.register('/pos/sw.js');\n</script>",
    "</head><body></body></html>"
);

/// The design's `public/` folder, which cargo-leptos copies to the site root.
fn public_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../public")
}

/// The CSP hash source of an inline element's text, as browsers compute it.
fn sha256_source(text: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(text))
    )
}

/// The directive `name` of a policy (its sources), if present.
fn directive<'a>(policy: &'a str, name: &str) -> Option<&'a str> {
    policy.split(';').map(str::trim).find_map(|d| {
        d.strip_prefix(name)
            .filter(|rest| rest.is_empty() || rest.starts_with(' '))
            .map(str::trim)
    })
}

/// Asserts the headers every response of ours carries; returns its policy.
fn assert_secured(what: &str, headers: &HeaderMap) -> String {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no {name} header in {headers:?}"))
            .to_owned()
    };
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
    let referrer = get("referrer-policy");
    assert!(
        [
            "same-origin",
            "no-referrer",
            "strict-origin-when-cross-origin"
        ]
        .contains(&referrer.as_str()),
        "{what}: referrer policy {referrer}"
    );
    let policy = get("content-security-policy");
    assert_eq!(
        directive(&policy, "frame-ancestors"),
        Some("'none'"),
        "{what}: {policy}"
    );
    for sources in [
        directive(&policy, "script-src"),
        directive(&policy, "style-src"),
        directive(&policy, "default-src"),
    ]
    .into_iter()
    .flatten()
    {
        assert!(
            !sources.contains("'unsafe-inline'") && !sources.contains("'unsafe-eval'"),
            "{what}: {policy}"
        );
    }
    policy
}

/// The `nonce` attribute of every `<script>` element of a page (None where absent).
fn script_nonces(html: &str) -> Vec<Option<String>> {
    html.match_indices("<script")
        .map(|(at, _)| {
            let tag = &html[at..at + html[at..].find('>').expect("tag end")];
            tag.split("nonce=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .map(str::to_owned)
        })
        .collect()
}

/// Asserts a portal page's policy lets its scripts run, and only them: every script
/// carries the one nonce the policy names, and WebAssembly may be compiled. Returns the
/// nonce.
fn assert_page_scripts(what: &str, policy: &str, html: &str) -> String {
    let scripts = directive(policy, "script-src").unwrap_or_else(|| panic!("{what}: {policy}"));
    assert!(scripts.contains("'wasm-unsafe-eval'"), "{what}: {policy}");
    let nonce = scripts
        .split(' ')
        .find_map(|s| s.strip_prefix("'nonce-")?.strip_suffix('\''))
        .unwrap_or_else(|| panic!("{what}: no nonce in {policy}"))
        .to_owned();
    assert!(nonce.len() >= 16, "{what}: a short nonce {nonce}");
    let nonces = script_nonces(html);
    assert!(!nonces.is_empty(), "{what}: no hydration script in {html}");
    for found in nonces {
        assert_eq!(
            found.as_deref(),
            Some(nonce.as_str()),
            "{what}: a script without the response's nonce"
        );
    }
    nonce
}

struct Case {
    what: &'static str,
    method: Method,
    path: &'static str,
    host: Option<&'static str>,
    signed_in: bool,
    token: bool,
    body: Option<Vec<u8>>,
    status: u16,
}

fn case(what: &'static str, path: &'static str, status: u16) -> Case {
    Case {
        what,
        method: Method::GET,
        path,
        host: None,
        signed_in: false,
        token: false,
        body: None,
        status,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_response_carries_a_policy_no_framing_nosniff_and_a_referrer_policy() {
    let pos = pos_build();
    let site = public_dir();
    let portal = Portal::start(&[
        ("POS_DIST_DIR", pos.to_str().expect("path")),
        ("SITE_ROOT", site.to_str().expect("path")),
        ("BASE_DOMAIN", "saas.test"),
    ])
    .await;
    let cookie = portal.session().await;
    let token = server::auth::create_token(&portal.pool, "headers")
        .await
        .expect("token");
    let token = secrecy::ExposeSecret::expose_secret(&token).to_owned();

    let cases = vec![
        case("the home page", "/", 200),
        case("the sign-up page (streamed)", "/signup", 200),
        case("the operator's sign-in page", "/admin/login", 200),
        Case {
            signed_in: true,
            ..case("an operator's page", "/admin/tenants", 200)
        },
        case("a portal page without a session", "/admin", 303),
        case("an unknown page", "/no/such/page", 404),
        case("robots.txt", "/robots.txt", 200),
        case("the favicon", "/favicon.ico", 200),
        case("health", "/healthz", 200),
        case("the OpenAPI document", "/api/v1/openapi.json", 200),
        case("the API without a token", "/api/v1/tenants", 401),
        Case {
            token: true,
            ..case("the API", "/api/v1/tenants", 200)
        },
        Case {
            token: true,
            ..case("an unknown API route", "/api/v1/nothing/here", 404)
        },
        Case {
            method: Method::POST,
            token: true,
            body: Some(b"{not json".to_vec()),
            ..case("a malformed API body", "/api/v1/plans", 400)
        },
        Case {
            method: Method::DELETE,
            ..case("a method not allowed", "/healthz", 405)
        },
        Case {
            method: Method::POST,
            ..case("a server function without a session", "/sfn/admin/me", 401)
        },
        Case {
            method: Method::POST,
            body: Some(vec![b'a'; 100 * 1024]),
            ..case("an oversize form", "/sfn/auth/sign_in", 413)
        },
        case(
            "the jobs stream without a session",
            "/admin/events/jobs",
            303,
        ),
        case("the POS without its slash", "/pos", 308),
        case("the POS app shell", "/pos/", 200),
        case("the POS service worker", "/pos/sw.js", 200),
        case("the POS glue", "/pos/pos-1.js", 200),
        case("a missing POS file", "/pos/missing.js", 404),
        Case {
            host: Some("nobody.saas.test"),
            ..case("an unknown host's page", "/", 404)
        },
    ];

    let mut portal_nonces = Vec::new();
    for c in cases {
        let mut request = portal
            .http
            .request(c.method.clone(), format!("{}{}", portal.base, c.path));
        if let Some(host) = c.host {
            request = request.header("host", host);
        }
        if c.signed_in {
            request = request.header(COOKIE, &cookie);
        }
        if c.token {
            request = request.bearer_auth(&token);
        }
        if let Some(body) = c.body.clone() {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.expect(c.what);
        assert_eq!(response.status().as_u16(), c.status, "{}", c.what);
        let headers = response.headers().clone();
        let policy = assert_secured(c.what, &headers);
        let html = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        let body = response.text().await.unwrap_or_default();
        match (c.path, c.host) {
            ("/pos/", _) => {
                let scripts = directive(&policy, "script-src").expect("script-src");
                assert!(scripts.contains(&sha256_source(POS_LOADER)), "{policy}");
                assert!(scripts.contains(&sha256_source(POS_SW)), "{policy}");
                assert!(scripts.contains("'wasm-unsafe-eval'"), "{policy}");
                assert!(!scripts.contains("'nonce-"), "{policy}");
                assert_eq!(directive(&policy, "connect-src"), Some("'self'"));
            }
            (path, None) if path.starts_with("/pos/") => {
                // The POS's files and its 404s: the app's policy (a worker's policy is its
                // own response's, and sw.js fetches the shell).
                assert_eq!(
                    directive(&policy, "connect-src"),
                    Some("'self'"),
                    "{policy}"
                );
            }
            (_, Some(_)) => {
                // The host pages: one inline style, no script at all.
                let style = body
                    .split("<style>")
                    .nth(1)
                    .and_then(|rest| rest.split("</style>").next())
                    .expect("the page's style");
                assert_eq!(
                    directive(&policy, "style-src"),
                    Some(sha256_source(style).as_str()),
                    "{policy}"
                );
                assert_eq!(directive(&policy, "default-src"), Some("'none'"));
                assert_eq!(directive(&policy, "script-src"), None, "{policy}");
                assert!(!body.contains("<script"), "{body}");
            }
            _ if html && c.status != 303 => {
                portal_nonces.push(assert_page_scripts(c.what, &policy, &body));
            }
            _ => {
                // Not a page: nothing may load under it.
                assert_eq!(
                    directive(&policy, "default-src"),
                    Some("'none'"),
                    "{}: {policy}",
                    c.what
                );
            }
        }
        match c.path {
            "/robots.txt" => assert!(body.contains("Disallow: /admin"), "{body}"),
            "/favicon.ico" => assert_eq!(
                headers["content-type"], "image/x-icon",
                "the favicon's type"
            ),
            _ => {}
        }
    }
    assert_eq!(portal_nonces.len(), 5, "every portal page was checked");
    // A nonce is drawn for every response.
    let distinct: std::collections::HashSet<_> = portal_nonces.iter().collect();
    assert_eq!(distinct.len(), portal_nonces.len(), "{portal_nonces:?}");

    let _ = std::fs::remove_dir_all(&pos);
    portal.finish().await;
}
