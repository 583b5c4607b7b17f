//! The HTTP application: portals (Leptos SSR), the JSON API (`/api/v1`), health and the
//! POS PWA's files. (Metrics are on the internal listener: `routing::endpoint`.)

use crate::config::Config;
use crate::platform::Platform;
use crate::{health, observability};
use app::platform::OdooTarget;
use app::{shell, App};
use axum::body::Body;
use axum::extract::{FromRef, Request, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use sqlx::PgPool;
use std::path::PathBuf;
use std::sync::Arc;
use tower::ServiceExt;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

pub mod security;

/// Shared state of every request handler.
#[derive(Clone)]
pub struct AppState {
    /// Leptos rendering options (site root, output name, address).
    pub leptos: LeptosOptions,
    /// The platform database.
    pub pool: PgPool,
    /// The validated configuration.
    pub config: Arc<Config>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// Leptos options built from our configuration (not from Cargo.toml or LEPTOS_* variables),
/// so the binary behaves the same however it was built.
pub fn leptos_options(config: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("saas")
        .site_root(config.site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(config.bind_addr)
        .build()
}

/// Builds the whole router over the platform's services (the same ones the job workers
/// of this process use).
pub fn router(platform: Platform) -> Router {
    let config = platform.config.clone();
    let pool = platform.pool.clone();
    // Install the process's recorder now, so requests count from the first one (the
    // internal listener's `/metrics` renders it).
    observability::metrics_handle();
    let state = AppState {
        leptos: leptos_options(&config),
        pool: pool.clone(),
        config: config.clone(),
    };
    let odoo_target = config.odoo_url.as_ref().map(|url| OdooTarget {
        // The home page is public: never the credentials an internal URL may carry.
        url: crate::config::url_without_credentials(url),
        simulated: config.odoo_is_simulator,
    });
    let routes = generate_route_list(App);
    let leptos_options = state.leptos.clone();
    let api = crate::api::router(platform.clone());
    let portal: app::admin::backend::Backend =
        Arc::new(crate::admin::portal::Portal::new(platform.clone()));
    let owners = crate::owners::http::backend(platform.clone());
    let cookie_secure = app::admin::api::CookieSecure(config.cookie_secure);
    let billing: app::admin::billing::Billing =
        Arc::new(crate::admin::billing::PortalBilling::new(platform.clone()));
    let owner_billing = crate::owners::billing::backend(platform.clone());
    let live = Router::new()
        .route("/admin/events/jobs", get(crate::admin::http::jobs_events))
        .route(
            "/my/events/tenants/{id}",
            get(crate::owners::http::tenant_events),
        )
        .with_state(platform.clone());
    let webhooks = Router::new()
        .route(
            "/webhooks/stripe",
            axum::routing::post(crate::billing::webhook::receive),
        )
        .with_state(platform.clone());

    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/pos", get(|| async { Redirect::permanent("/pos/") }))
        .route("/pos/", get(pos_file))
        .route(crate::pos::TENANT_INFO_PATH, get(crate::pos::tenant_info))
        .route("/pos/{*path}", get(pos_file))
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(pool.clone());
                provide_context(odoo_target.clone());
                provide_context(portal.clone());
                provide_context(owners.clone());
                provide_context(billing.clone());
                provide_context(owner_billing.clone());
                provide_context(cookie_secure);
            },
            move || page_shell(leptos_options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            page_shell,
        ))
        .merge(live)
        .merge(webhooks)
        .layer(axum::middleware::from_fn_with_state(
            platform.clone(),
            crate::admin::http::session_layer,
        ))
        .layer(axum::middleware::from_fn_with_state(
            platform.clone(),
            crate::owners::http::session_layer,
        ))
        .layer(axum::middleware::from_fn(limit_form_bodies))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(config.trusted_proxies.clone()),
            crate::client_address::layer,
        ))
        // Tenant and unknown hosts Traefik sends here: paused, set-up and 404 pages.
        .layer(axum::middleware::from_fn_with_state(
            platform,
            crate::routing::pages::host_layer,
        ))
        .layer(axum::middleware::from_fn(observability::track_http))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        // Outermost: every answer, also the 404s and errors of the layers above.
        .layer(axum::middleware::from_fn(security::layer))
        .with_state(state)
}

/// The portals' document, with the policy that lets this render's scripts (and only
/// them) run.
fn page_shell(options: LeptosOptions) -> impl leptos::prelude::IntoView {
    security::set_portal_policy();
    shell(options)
}

/// Largest body of a server function call (`/sfn/…`): the portal's forms are small, and
/// sign-in must not be made to buffer megabytes before it can refuse.
pub const MAX_FORM_BODY: usize = 64 * 1024;

/// Refuses server-function bodies over [`MAX_FORM_BODY`] with 413, whether or not they
/// announce their length, before any handler reads them.
async fn limit_form_bodies(request: Request, next: axum::middleware::Next) -> Response {
    if !request.uri().path().starts_with("/sfn/") {
        return next.run(request).await;
    }
    let too_large = || {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"kind":"Invalid","message":"The form is too large.","field":null}"#,
        )
            .into_response()
    };
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if announced.is_some_and(|n| n > MAX_FORM_BODY) {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, MAX_FORM_BODY).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(_) => too_large(),
    }
}

/// Serves the POS PWA's built files under `/pos/`. The app shell, manifest and service
/// worker must be revalidated on every load so a new release reaches the tablets.
async fn pos_file(State(state): State<AppState>, request: Request) -> Response {
    let dir: PathBuf = state.config.pos_dist_dir.clone();
    let inner_path = request
        .uri()
        .path()
        .strip_prefix("/pos")
        .unwrap_or("/")
        .to_owned();
    let uri: Uri = match inner_path.parse() {
        Ok(uri) => uri,
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    };
    let (mut parts, body) = request.into_parts();
    parts.uri = uri;
    let inner = Request::from_parts(parts, body);
    let served = ServeDir::new(&dir)
        .append_index_html_on_directories(true)
        .oneshot(inner)
        .await;
    let mut response = match served {
        Ok(r) => r.map(Body::new),
        Err(never) => match never {},
    };
    if response.status() == StatusCode::NOT_FOUND && !dir.join("index.html").exists() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "The POS app is not built: run `trunk build --release` (the run script does it).",
        )
            .into_response();
    }
    let revalidate = inner_path == "/"
        || inner_path.ends_with(".html")
        || inner_path.ends_with("sw.js")
        || inner_path.ends_with("manifest.json");
    let cache = if revalidate {
        "no-cache"
    } else {
        "public, max-age=3600"
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    // The app shell's policy names its inline scripts by hash, read from the same build.
    // Decided by path, not by content type: a 304 carries none, and its headers replace
    // the stored ones.
    let index = if inner_path == "/" || inner_path.ends_with(".html") {
        match tokio::fs::read_to_string(dir.join("index.html")).await {
            Ok(html) => Some(html),
            Err(error) => {
                tracing::error!(%error, "cannot read the POS app shell for its policy");
                None
            }
        }
    } else {
        None
    };
    if let Ok(policy) = HeaderValue::from_str(&security::pos_policy(index.as_deref())) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}
