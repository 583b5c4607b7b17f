//! HTTP pieces of the portal: the session middleware that guards `/admin` pages and the
//! portal's server functions, and the live jobs stream.

use super::auth::{self, SessionLookup};
use crate::platform::Platform;
use app::admin::backend::{session_cookie, session_set_cookie, AdminBackend};
use app::admin::model::{AdminError, ErrorKind};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use futures::Stream;
use std::convert::Infallible;
use std::time::Duration;

fn is_portal_page(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

fn is_portal_call(path: &str) -> bool {
    path.starts_with("/sfn/admin/")
}

/// A cross-site request: its `Origin` (or `Referer`) names another host than `Host`.
/// Browsers send `Origin` on every cross-site POST, so a forged form from another site is
/// refused here even before its CSRF token is checked.
pub(crate) fn cross_site(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|h| h.to_str().ok());
    match (host, source) {
        (Some(host), Some(source)) => {
            let authority = source
                .split_once("://")
                .map(|(_, rest)| rest.split('/').next().unwrap_or(""))
                .unwrap_or("");
            !authority.eq_ignore_ascii_case(host)
        }
        // No Origin/Referer: not a browser form from another site (or stripped by policy);
        // the CSRF token still has to match.
        _ => false,
    }
}

fn refuse(status: StatusCode, kind: ErrorKind, message: &str) -> Response {
    let body = AdminError::new(kind, message);
    let json = serde_json::to_string(&body).unwrap_or_default();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json,
    )
        .into_response()
}

/// Resolves the session cookie into a [`app::admin::backend::Principal`] request extension;
/// sends anonymous visitors of portal pages to the sign-in page and refuses anonymous or
/// cross-site calls of the portal's server functions.
pub async fn session_layer(
    State(p): State<Platform>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let page = is_portal_page(&path);
    let call = is_portal_call(&path) || path.starts_with("/sfn/auth/");
    if !page && !call {
        return next.run(request).await;
    }
    let unsafe_method = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if unsafe_method && cross_site(request.headers()) {
        tracing::warn!(%path, "refused a cross-site request to the portal");
        return refuse(
            StatusCode::FORBIDDEN,
            ErrorKind::Forbidden,
            "This request came from another site and was refused.",
        );
    }
    let cookie = session_cookie(request.headers());
    let mut ended = false;
    if let Some(token) = cookie.as_deref() {
        match auth::resolve(&p, token).await {
            Ok(SessionLookup::Valid(principal)) => {
                request.extensions_mut().insert(principal);
            }
            Ok(SessionLookup::Ended) => ended = true,
            Err(error) => {
                tracing::error!(%error, "session lookup failed");
                return refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorKind::Internal,
                    "The platform database did not answer; try again in a moment.",
                );
            }
        }
    }
    let signed_in = request
        .extensions()
        .get::<app::admin::backend::Principal>()
        .is_some();
    let login_page = path == "/admin/login";
    let mut response = if signed_in || login_page || path.starts_with("/sfn/auth/") {
        if signed_in && login_page {
            Redirect::to("/admin").into_response()
        } else {
            next.run(request).await
        }
    } else if page && !unsafe_method {
        let mut target = format!(
            "/admin/login?next={}",
            app::admin::encode(&path_and_query(&request))
        );
        if ended {
            target.push_str("&expired=1");
        }
        Redirect::to(&target).into_response()
    } else {
        refuse(
            StatusCode::UNAUTHORIZED,
            ErrorKind::Unauthorized,
            if ended {
                "Your session has expired. Sign in again."
            } else {
                "Sign in first."
            },
        )
    };
    let headers = response.headers_mut();
    // Cleared on page loads only: a background call (the jobs stream, a server function)
    // must not eat the cookie before the next page can say that the session expired.
    if ended && page {
        if let Ok(clear) = HeaderValue::from_str(&session_set_cookie("", 0, p.config.cookie_secure))
        {
            headers.append(header::SET_COOKIE, clear);
        }
    }
    // Operator pages hold private data and tokens: never cached, never framed.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    response
}

fn path_and_query(request: &Request) -> String {
    request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_else(|| "/admin".to_owned())
}

/// `GET /admin/events/jobs`: the jobs monitor's content as server-sent events, sent
/// again whenever it changes (checked every second). The session is checked on every
/// round too: once it has ended (signed out, expired, password reset, account disabled)
/// the stream sends one `session` event with `ended` and closes, within about a second.
pub async fn jobs_events(
    State(p): State<Platform>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let token = session_cookie(&headers).unwrap_or_default();
    let portal = super::portal::Portal::new(p.clone());
    let state = LiveJobs {
        p,
        portal,
        token,
        last: String::new(),
        first: true,
        ended: false,
    };
    let stream = futures::stream::unfold(state, |mut s| async move {
        if s.ended {
            return None;
        }
        if !s.first {
            tokio::time::sleep(LIVE_JOBS_EVERY).await;
        }
        s.first = false;
        loop {
            match auth::still_live(&s.p, &s.token).await {
                Ok(true) => {}
                Ok(false) => {
                    s.ended = true;
                    let event = Event::default().event("session").data("ended");
                    return Some((Ok(event), s));
                }
                // The database hiccuped: say nothing this round, look again next.
                Err(error) => tracing::warn!(%error, "jobs stream could not check its session"),
            }
            match s.portal.jobs().await {
                Ok(view) => {
                    let json = serde_json::to_string(&view).unwrap_or_default();
                    if json != s.last {
                        let event = Event::default().event("jobs").data(json.clone());
                        s.last = json;
                        return Some((Ok(event), s));
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "jobs stream could not read the jobs");
                }
            }
            tokio::time::sleep(LIVE_JOBS_EVERY).await;
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// How often the live jobs stream looks at the jobs and its session.
const LIVE_JOBS_EVERY: Duration = Duration::from_secs(1);

struct LiveJobs {
    p: Platform,
    portal: super::portal::Portal,
    token: String,
    last: String,
    first: bool,
    ended: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn requests_from_another_site_are_cross_site() {
        assert!(cross_site(&headers(&[
            ("host", "admin.example.com"),
            ("origin", "https://evil.example.net")
        ])));
        assert!(!cross_site(&headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000")
        ])));
        assert!(!cross_site(&headers(&[
            ("host", "127.0.0.1:3000"),
            ("referer", "http://127.0.0.1:3000/admin/tenants")
        ])));
        assert!(!cross_site(&headers(&[("host", "127.0.0.1:3000")])));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; saas_admin=abc; b=2")]);
        assert_eq!(session_cookie(&h).as_deref(), Some("abc"));
        assert_eq!(session_cookie(&headers(&[("cookie", "a=1")])), None);
    }
}
