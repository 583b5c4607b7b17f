//! What the POS PWA asks the platform (everything else it asks the tenant's Odoo).
//!
//! `GET /pos/tenant.json` on a tenant's host names the tenant's Odoo database: Odoo's
//! `/web/session/authenticate` needs it, and the browser cannot know it (the public Odoo
//! runs with `list_db = False`, so it cannot be listed). The host is matched against the
//! tenants' `hostname`, so the answer is only ever the database of the host the cashier
//! opened.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::web::AppState;

/// The request's host without the port, lowercased (`Host`, as Traefik passes it on).
fn request_host(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

/// Where the till asks which tenant its host serves.
pub const TENANT_INFO_PATH: &str = "/pos/tenant.json";

/// `GET /pos/tenant.json`: `{db, slug, name}` of the tenant served at this host; 404 for a
/// host that is no tenant's, 503 while the tenant is not active.
pub async fn tenant_info(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(host) = request_host(&headers) else {
        return error(
            StatusCode::BAD_REQUEST,
            "no_host",
            "The request has no Host.",
        );
    };
    let row: Result<Option<(String, String, String, String)>, sqlx::Error> = sqlx::query_as(
        "SELECT slug, db_name, company_name, state FROM tenants WHERE hostname = $1 AND state <> 'deleted'",
    )
    .bind(&host)
    .fetch_optional(&state.pool)
    .await;
    let mut response = match row {
        Ok(Some((slug, db, name, tenant_state))) if tenant_state == "active" => {
            Json(json!({"db": db, "slug": slug, "name": name})).into_response()
        }
        Ok(Some((_, _, name, _))) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "tenant_unavailable",
            &format!("{name}'s shop is not open at the moment."),
        ),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "unknown_host",
            &format!("No shop is served at {host}."),
        ),
        Err(e) => {
            tracing::error!(error = %e, host, "pos tenant lookup failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "The platform could not answer.",
            )
        }
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_without_port_lowercased() {
        let mut h = HeaderMap::new();
        h.insert(
            header::HOST,
            HeaderValue::from_static("Acme.Localhost:8443"),
        );
        assert_eq!(request_host(&h).as_deref(), Some("acme.localhost"));
        h.insert(header::HOST, HeaderValue::from_static("shop.example.com."));
        assert_eq!(request_host(&h).as_deref(), Some("shop.example.com"));
        h.remove(header::HOST);
        assert_eq!(request_host(&h), None);
    }
}
