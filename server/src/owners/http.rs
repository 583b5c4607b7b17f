//! HTTP pieces of the owner pages: the session middleware that guards the portal (`/my`)
//! and the owners' server functions (`/sfn/owner/*`), the cross-site check of the public
//! account forms (`/sfn/account/*`), and the live stream of one tenant's page.

use super::portal::{tenant_page, OwnerPortal};
use super::sessions::{self, Lookup};
use crate::platform::Platform;
use app::admin::model::{AdminError, ErrorKind};
use app::owner::backend::OwnerPrincipal;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use futures::Stream;
use std::convert::Infallible;
use std::time::Duration;
use uuid::Uuid;

fn is_portal_page(path: &str) -> bool {
    path == "/my" || path.starts_with("/my/")
}

fn refuse(status: StatusCode, kind: ErrorKind, message: &str) -> Response {
    let json = serde_json::to_string(&AdminError::new(kind, message)).unwrap_or_default();
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

/// Resolves the `saas_owner` cookie into an [`OwnerPrincipal`] request extension; sends
/// anonymous visitors of portal pages to the sign-in page, refuses anonymous calls of the
/// owners' server functions, and refuses cross-site posts to both and to the account forms.
pub async fn session_layer(
    State(p): State<Platform>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let page = is_portal_page(&path);
    let call = path.starts_with("/sfn/owner/");
    let account = path.starts_with("/sfn/account/");
    if !page && !call && !account {
        return next.run(request).await;
    }
    let unsafe_method = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if unsafe_method && crate::admin::http::cross_site(request.headers()) {
        tracing::warn!(%path, "refused a cross-site request to the owner pages");
        return refuse(
            StatusCode::FORBIDDEN,
            ErrorKind::Forbidden,
            "This request came from another site and was refused.",
        );
    }
    if account {
        return next.run(request).await;
    }
    let mut ended = false;
    if let Some(token) = sessions::cookie(request.headers()) {
        match sessions::resolve(&p, &token).await {
            Ok(Lookup::Valid(o)) => {
                request.extensions_mut().insert(OwnerPrincipal {
                    id: o.id.to_string(),
                    email: o.email,
                    name: o.name,
                    verified: o.verified,
                    csrf: o.csrf,
                });
            }
            Ok(Lookup::Ended) => ended = true,
            Err(error) => {
                tracing::error!(%error, "owner session lookup failed");
                return refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorKind::Internal,
                    "The platform database did not answer; try again in a moment.",
                );
            }
        }
    }
    let signed_in = request.extensions().get::<OwnerPrincipal>().is_some();
    let mut response = if signed_in {
        next.run(request).await
    } else if page && !unsafe_method {
        let here = request
            .uri()
            .path_and_query()
            .map_or_else(|| "/my".to_owned(), |pq| pq.as_str().to_owned());
        let mut target = format!("/signin?next={}", app::admin::encode(&here));
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
    if ended && page {
        if let Ok(clear) =
            HeaderValue::from_str(&sessions::set_cookie("", 0, p.config.cookie_secure))
        {
            headers.append(header::SET_COOKIE, clear);
        }
    }
    // The owner's pages hold private data: never cached, never framed.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    response
}

/// How often the live tenant stream looks at the tenant and its session.
const LIVE_EVERY: Duration = Duration::from_secs(1);

struct LiveTenant {
    p: Platform,
    token: String,
    tenant: Uuid,
    last: String,
    first: bool,
    ended: bool,
}

/// `GET /my/events/tenants/{id}`: the tenant's page data (state and its job's progress) as
/// server-sent events, sent again whenever it changes (checked every second). Another
/// owner's tenant, or an ended session, sends one `session` event and closes.
pub async fn tenant_events(
    State(p): State<Platform>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let state = LiveTenant {
        p,
        token: sessions::cookie(&headers).unwrap_or_default(),
        tenant: Uuid::parse_str(&id).unwrap_or_default(),
        last: String::new(),
        first: true,
        ended: false,
    };
    let stream = futures::stream::unfold(state, |mut s| async move {
        if s.ended {
            return None;
        }
        if !s.first {
            tokio::time::sleep(LIVE_EVERY).await;
        }
        s.first = false;
        loop {
            let owner = match sessions::resolve(&s.p, &s.token).await {
                Ok(Lookup::Valid(o)) => o.id,
                Ok(Lookup::Ended) => {
                    s.ended = true;
                    return Some((Ok(Event::default().event("session").data("ended")), s));
                }
                Err(error) => {
                    tracing::warn!(%error, "tenant stream could not check its session");
                    tokio::time::sleep(LIVE_EVERY).await;
                    continue;
                }
            };
            let page = match super::tenants::get(&s.p, owner, &s.tenant.to_string()).await {
                Ok(t) => tenant_page(&s.p, t).await,
                Err(e) => Err(e),
            };
            match page {
                Ok(view) => {
                    let json = serde_json::to_string(&view).unwrap_or_default();
                    if json != s.last {
                        s.last = json.clone();
                        return Some((Ok(Event::default().event("tenant").data(json)), s));
                    }
                }
                Err(crate::service::ServiceError::NotFound(_)) => {
                    s.ended = true;
                    return Some((Ok(Event::default().event("session").data("not_found")), s));
                }
                Err(error) => tracing::warn!(%error, "tenant stream could not read the tenant"),
            }
            tokio::time::sleep(LIVE_EVERY).await;
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// The owner pages' backend, for the web router's context.
pub fn backend(p: Platform) -> app::owner::backend::Backend {
    std::sync::Arc::new(OwnerPortal::new(p))
}
