//! `/api/v1/tenants/{id}/domains`: a tenant's custom domains.

use super::{ApiClient, ApiError, ApiJson, ApiState, ErrorBody};
use crate::domains::{self, CustomDomain};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

/// Body of `POST /tenants/{id}/domains`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddDomainBody {
    /// The host name, e.g. `shop.example.org` (no scheme, path or port).
    pub domain: String,
}

/// A tenant's custom domains, oldest first.
#[utoipa::path(get, path = "/tenants/{id}/domains", tag = "domains",
    params(("id" = String, Path, description = "Tenant id or slug")),
    responses((status = 200, body = [CustomDomain]), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<ApiState>,
    _client: ApiClient,
    Path(id): Path<String>,
) -> Result<Json<Vec<CustomDomain>>, ApiError> {
    Ok(Json(domains::list(&state.platform, &id).await?))
}

/// Adds a custom domain: the answer says which CNAME to create; a job checks DNS until it
/// is seen, then the domain is routed with its own certificate.
#[utoipa::path(post, path = "/tenants/{id}/domains", tag = "domains",
    params(("id" = String, Path, description = "Tenant id or slug")), request_body = AddDomainBody,
    responses((status = 201, body = CustomDomain), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "domain_taken (another tenant has it), tenant_deleted", body = ErrorBody),
        (status = 422, description = "domain_invalid, domain_ours (under the platform's domain), too_many_domains", body = ErrorBody)))]
pub async fn add(
    State(state): State<ApiState>,
    client: ApiClient,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AddDomainBody>,
) -> Result<Response, ApiError> {
    let domain = domains::add(&state.platform, &client.actor, &id, &body.domain).await?;
    let location = format!(
        "/api/v1/tenants/{}/domains/{}",
        domain.tenant_id, domain.domain
    );
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(domain),
    )
        .into_response())
}

/// One custom domain, with its state and what the last DNS check found.
#[utoipa::path(get, path = "/tenants/{id}/domains/{domain}", tag = "domains",
    params(("id" = String, Path, description = "Tenant id or slug"), ("domain" = String, Path, description = "The host name")),
    responses((status = 200, body = CustomDomain), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<ApiState>,
    _client: ApiClient,
    Path((id, domain)): Path<(String, String)>,
) -> Result<Json<CustomDomain>, ApiError> {
    Ok(Json(domains::get(&state.platform, &id, &domain).await?))
}

/// Removes a custom domain; its route goes with it.
#[utoipa::path(delete, path = "/tenants/{id}/domains/{domain}", tag = "domains",
    params(("id" = String, Path, description = "Tenant id or slug"), ("domain" = String, Path, description = "The host name")),
    responses((status = 204, description = "removed"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(state): State<ApiState>,
    client: ApiClient,
    Path((id, domain)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    domains::remove(&state.platform, &client.actor, &id, &domain).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Checks a pending domain's DNS now, or checks a failed one again (a new deadline).
#[utoipa::path(post, path = "/tenants/{id}/domains/{domain}/verify", tag = "domains",
    params(("id" = String, Path, description = "Tenant id or slug"), ("domain" = String, Path, description = "The host name")),
    responses((status = 202, body = CustomDomain), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "domain_verified (nothing to check), tenant_deleted", body = ErrorBody)))]
pub async fn verify(
    State(state): State<ApiState>,
    client: ApiClient,
    Path((id, domain)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let domain = domains::verify_now(&state.platform, &client.actor, &id, &domain).await?;
    Ok((StatusCode::ACCEPTED, Json(domain)).into_response())
}
