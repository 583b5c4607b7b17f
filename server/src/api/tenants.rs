//! `/api/v1/tenants`.

use super::{accepted, ApiClient, ApiError, ApiJson, ApiQuery, ApiState, ErrorBody};
use crate::audit::{self, AuditEntry};
use crate::tenants::service::{self, CreateTenant, Operation, TenantFilter, TenantPage};
use crate::tenants::{Tenant, TenantState};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Body of `POST /tenants`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantBody {
    /// Subdomain and database name: `^[a-z][a-z0-9-]{1,30}[a-z0-9]$`, not reserved.
    pub slug: String,
    /// Plan key.
    pub plan: String,
    /// Owner's email: the Odoo admin login.
    pub owner_email: String,
    /// Owner's name.
    pub owner_name: String,
    /// Owner's Odoo password (8 to 128 characters); stored only as Odoo's hash.
    pub owner_password: String,
    /// Main company name.
    pub company_name: String,
    /// Further companies: sets up multi-company.
    #[serde(default)]
    pub extra_companies: Vec<String>,
}

/// A long operation accepted (202).
#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptedBody {
    /// The tenant now.
    pub tenant: Tenant,
    /// The job doing the work.
    pub job_id: Uuid,
    /// Where to follow it.
    pub job_url: String,
}

fn accepted_tenant(a: service::Accepted) -> Response {
    let job_id = a.job_id;
    accepted(
        job_id,
        AcceptedBody {
            tenant: a.tenant,
            job_id,
            job_url: format!("/api/v1/jobs/{job_id}"),
        },
    )
}

/// Asks for a new tenant; provisioning runs as a job.
#[utoipa::path(post, path = "/tenants", tag = "tenants", request_body = CreateTenantBody,
    responses((status = 202, body = AcceptedBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, description = "slug_taken", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<ApiState>,
    client: ApiClient,
    ApiJson(body): ApiJson<CreateTenantBody>,
) -> Result<Response, ApiError> {
    let input = CreateTenant {
        slug: body.slug,
        plan: body.plan,
        owner_email: body.owner_email,
        owner_name: body.owner_name,
        owner_password: SecretString::from(body.owner_password),
        company_name: body.company_name,
        extra_companies: body.extra_companies,
        owner_id: None,
        signup_key: None,
    };
    Ok(accepted_tenant(
        service::create(&state.platform, &client.actor, input).await?,
    ))
}

/// Query of `GET /tenants`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// Only tenants in this state.
    pub state: Option<TenantState>,
    /// Only this plan (key).
    pub plan: Option<String>,
    /// Search slug, owner email and company name.
    pub q: Option<String>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<i64>,
    /// From `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Lists tenants, newest first.
#[utoipa::path(get, path = "/tenants", tag = "tenants", params(ListQuery),
    responses((status = 200, body = TenantPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(
    State(state): State<ApiState>,
    _client: ApiClient,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<TenantPage>, ApiError> {
    let filter = TenantFilter {
        state: q.state,
        plan: q.plan,
        search: q.q,
    };
    Ok(Json(
        service::list(
            &state.platform,
            &filter,
            q.limit.unwrap_or(50),
            q.cursor.as_deref(),
        )
        .await?,
    ))
}

/// One tenant, by id or slug.
#[utoipa::path(get, path = "/tenants/{id}", tag = "tenants", params(("id" = String, Path, description = "Tenant id or slug")),
    responses((status = 200, body = Tenant), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<ApiState>,
    _client: ApiClient,
    Path(id): Path<String>,
) -> Result<Json<Tenant>, ApiError> {
    Ok(Json(service::get(&state.platform, &id).await?))
}

/// A tenant's audit trail, oldest first.
#[utoipa::path(get, path = "/tenants/{id}/audit", tag = "tenants", params(("id" = String, Path, description = "Tenant id or slug")),
    responses((status = 200, body = [AuditEntry]), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn audit(
    State(state): State<ApiState>,
    _client: ApiClient,
    Path(id): Path<String>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let tenant = service::get(&state.platform, &id).await?;
    let entries = audit::for_tenant(&state.platform.pool, tenant.id)
        .await
        .map_err(crate::service::ServiceError::from)?;
    Ok(Json(entries))
}

/// Suspends an active tenant (its database refuses connections).
#[utoipa::path(post, path = "/tenants/{id}/deactivate", tag = "tenants", params(("id" = String, Path, description = "Tenant id or slug")),
    responses((status = 202, body = AcceptedBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn deactivate(
    State(state): State<ApiState>,
    client: ApiClient,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(accepted_tenant(
        service::request(&state.platform, &client.actor, &id, Operation::Deactivate).await?,
    ))
}

/// Resumes a suspended tenant.
#[utoipa::path(post, path = "/tenants/{id}/reactivate", tag = "tenants", params(("id" = String, Path, description = "Tenant id or slug")),
    responses((status = 202, body = AcceptedBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn reactivate(
    State(state): State<ApiState>,
    client: ApiClient,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(accepted_tenant(
        service::request(&state.platform, &client.actor, &id, Operation::Reactivate).await?,
    ))
}

/// Query of `DELETE /tenants/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DeleteQuery {
    /// Take a final `pg_dump -Fc` backup first.
    #[serde(default)]
    pub backup: bool,
}

/// Deletes a tenant: drops its database; the row stays as `deleted`.
#[utoipa::path(delete, path = "/tenants/{id}", tag = "tenants", params(("id" = String, Path, description = "Tenant id or slug"), DeleteQuery),
    responses((status = 202, body = AcceptedBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<ApiState>,
    client: ApiClient,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DeleteQuery>,
) -> Result<Response, ApiError> {
    Ok(accepted_tenant(
        service::request(
            &state.platform,
            &client.actor,
            &id,
            Operation::Delete { backup: q.backup },
        )
        .await?,
    ))
}
