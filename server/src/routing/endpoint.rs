//! The internal listener (`INTERNAL_BIND_ADDR`), which no Traefik router points at: the
//! public entry points can never expose it. It serves
//! - the route table for Traefik's HTTP provider: each request must carry the shared secret
//!   in `X-Traefik-Config-Secret` (Traefik's `providers.http.headers`), else 401;
//! - the process's Prometheus metrics, `/metrics`, for a scraper on the internal network
//!   (on the public listener they would be published at `https://admin.<domain>/metrics`,
//!   since Traefik sends every path of the platform's hosts to the server).

use super::{CONFIG_PATH, METRICS_PATH, SECRET_HEADER};
use crate::platform::Platform;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use secrecy::ExposeSecret;
use serde_json::json;
use sha2::{Digest, Sha256};

/// The internal listener's routes: the route table and the metrics.
pub fn internal_router(platform: Platform) -> Router {
    Router::new()
        .route(CONFIG_PATH, get(route_table))
        .route(METRICS_PATH, get(crate::health::metrics))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "No such route.") })
        .with_state(platform)
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

/// Compares digests, so the time taken says nothing about how much of the secret matched.
fn secret_matches(given: &[u8], expected: &str) -> bool {
    Sha256::digest(given) == Sha256::digest(expected.as_bytes())
}

/// `GET /internal/traefik/config`: Traefik's dynamic configuration (JSON).
pub async fn route_table(State(platform): State<Platform>, headers: HeaderMap) -> Response {
    let Some(expected) = &platform.config.routing.traefik_config_secret else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_configured",
            "TRAEFIK_CONFIG_SECRET is not set: the route table is off.",
        );
    };
    let authorized = headers
        .get(SECRET_HEADER)
        .is_some_and(|given| secret_matches(given.as_bytes(), expected.expose_secret()));
    if !authorized {
        tracing::warn!("route table request without the right secret header");
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Send the shared secret in X-Traefik-Config-Secret.",
        );
    }
    let table = match platform.routes.current().await {
        Ok(table) => table,
        Err(error) => {
            // Traefik keeps serving its last configuration when a poll fails.
            tracing::error!(%error, "cannot build the route table");
            return self::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "The route table cannot be read from the database right now.",
            );
        }
    };
    if !table.newly_published.is_empty() {
        // Traefik is fetching a document with these domains in it: they are live.
        if let Err(error) = crate::domains::mark_active(&platform, &table.newly_published).await {
            tracing::error!(%error, "cannot mark published custom domains active");
        }
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        table.document.clone(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::secret_matches;

    #[test]
    fn only_the_exact_secret_matches() {
        let secret = "0123456789abcdef0123";
        assert!(secret_matches(secret.as_bytes(), secret));
        assert!(!secret_matches(b"0123456789abcdef012", secret));
        assert!(!secret_matches(b"", secret));
        assert!(!secret_matches(b"0123456789abcdef01234", secret));
    }
}
