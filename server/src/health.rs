//! `/healthz` (the process answers) and `/readyz` (the database answers) on the public
//! listener; `/metrics` on the internal one (`INTERNAL_BIND_ADDR`), which no Traefik router
//! reaches, so the process's figures are not published on `admin.<domain>`.

use crate::observability;
use crate::platform::Platform;
use crate::web::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::time::Duration;

/// Liveness: the process is up and serving.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the platform database answers within two seconds.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let probe = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&state.pool);
    match tokio::time::timeout(Duration::from_secs(2), probe).await {
        Ok(Ok(_)) => (
            StatusCode::OK,
            Json(json!({ "status": "ready", "database": "ok" })),
        )
            .into_response(),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness check: database error");
            unavailable("database error")
        }
        Err(_) => {
            tracing::warn!("readiness check: database timed out");
            unavailable("database timed out")
        }
    }
}

fn unavailable(reason: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "status": "unavailable", "database": reason })),
    )
        .into_response()
}

/// Prometheus text exposition of the process's metrics (internal listener only).
pub async fn metrics(State(platform): State<Platform>) -> Response {
    metrics::gauge!("db_pool_connections").set(f64::from(platform.pool.size()));
    metrics::gauge!("db_pool_idle_connections").set(platform.pool.num_idle() as f64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        observability::metrics_handle().render(),
    )
        .into_response()
}
