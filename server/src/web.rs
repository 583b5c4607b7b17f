//! The HTTP application: portals (Leptos SSR), the JSON API (`/api/v1`), health, metrics
//! and the POS PWA's files.

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
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use std::path::PathBuf;
use std::sync::Arc;
use tower::ServiceExt;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

/// Shared state of every request handler.
#[derive(Clone)]
pub struct AppState {
    /// Leptos rendering options (site root, output name, address).
    pub leptos: LeptosOptions,
    /// The platform database.
    pub pool: PgPool,
    /// The validated configuration.
    pub config: Arc<Config>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
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
    let state = AppState {
        leptos: leptos_options(&config),
        pool: pool.clone(),
        config: config.clone(),
        metrics: observability::metrics_handle(),
    };
    let odoo_target = config.odoo_url.as_ref().map(|url| OdooTarget {
        url: url.to_string(),
        simulated: config.odoo_is_simulator,
    });
    let routes = generate_route_list(App);
    let leptos_options = state.leptos.clone();
    let api = crate::api::router(platform.clone());
    let portal: app::admin::backend::Backend =
        Arc::new(crate::admin::portal::Portal::new(platform.clone()));
    let cookie_secure = app::admin::api::CookieSecure(config.cookie_secure);
    let live = Router::new()
        .route("/admin/events/jobs", get(crate::admin::http::jobs_events))
        .with_state(platform.clone());

    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/pos", get(|| async { Redirect::permanent("/pos/") }))
        .route("/pos/", get(pos_file))
        .route("/pos/{*path}", get(pos_file))
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(pool.clone());
                provide_context(odoo_target.clone());
                provide_context(portal.clone());
                provide_context(cookie_secure);
            },
            move || shell(leptos_options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .merge(live)
        .layer(axum::middleware::from_fn_with_state(
            platform,
            crate::admin::http::session_layer,
        ))
        .layer(axum::middleware::from_fn(observability::track_http))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
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
    response
}
