//! Billing under `/api/v1`: a tenant's subscription, invoices, plan change (preview, then
//! confirm), cancellation at the period's end and its undo, comping; the billing summary.

use super::{ApiClient, ApiError, ApiJson, ApiQuery, ApiState, ErrorBody};
use crate::billing::manage::{
    self, BillingOverview, BillingStats, ChangePreview, InvoicePage, PlanChange,
};
use crate::tenants::service;
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// A tenant's subscription: plan, status, trial end, next invoice (amount and date), card,
/// dunning and deletion dates.
#[utoipa::path(get, path = "/tenants/{id}/billing", tag = "billing", params(("id" = String, Path, description = "Tenant id or slug")),
    responses((status = 200, body = BillingOverview), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn overview(
    State(state): State<ApiState>,
    _client: ApiClient,
    Path(id): Path<String>,
) -> Result<Json<BillingOverview>, ApiError> {
    let tenant = service::get(&state.platform, &id).await?;
    Ok(Json(manage::overview(&state.platform, tenant.id).await?))
}

/// Query of `GET /tenants/{id}/invoices`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct InvoiceQuery {
    /// Page size, 1–100 (default 20).
    pub limit: Option<u32>,
    /// From `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A tenant's invoices, newest first, with Stripe's invoice page and PDF.
#[utoipa::path(get, path = "/tenants/{id}/invoices", tag = "billing", params(("id" = String, Path, description = "Tenant id or slug"), InvoiceQuery),
    responses((status = 200, body = InvoicePage), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "stripe_unavailable", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn invoices(
    State(state): State<ApiState>,
    _client: ApiClient,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<InvoiceQuery>,
) -> Result<Json<InvoicePage>, ApiError> {
    let tenant = service::get(&state.platform, &id).await?;
    Ok(Json(
        manage::invoices(
            &state.platform,
            tenant.id,
            q.limit.unwrap_or(20),
            q.cursor.as_deref(),
        )
        .await?,
    ))
}

/// What changing plan will cost: Stripe's preview of the next invoice with the prorations.
/// Pass its `proration_date` back to `change` so the charge is the one previewed.
#[utoipa::path(post, path = "/tenants/{id}/billing/preview", tag = "billing", params(("id" = String, Path, description = "Tenant id or slug")),
    request_body = PlanChange,
    responses((status = 200, body = ChangePreview), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn preview(
    State(state): State<ApiState>,
    _client: ApiClient,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PlanChange>,
) -> Result<Json<ChangePreview>, ApiError> {
    let tenant = service::get(&state.platform, &id).await?;
    Ok(Json(
        manage::preview_change(&state.platform, tenant.id, &body).await?,
    ))
}

/// Changes the tenant's plan (prorated as previewed).
#[utoipa::path(post, path = "/tenants/{id}/billing/change", tag = "billing", params(("id" = String, Path, description = "Tenant id or slug")),
    request_body = PlanChange,
    responses((status = 200, body = BillingOverview), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn change(
    State(state): State<ApiState>,
    client: ApiClient,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PlanChange>,
) -> Result<Json<BillingOverview>, ApiError> {
    let tenant = service::get(&state.platform, &id).await?;
    Ok(Json(
        manage::change_plan(&state.platform, &client.actor, tenant.id, &body).await?,
    ))
}

/// Cancels the subscription at the end of the current period (the tenant runs until then,
/// is suspended, and deleted with a final backup after the retention period).
#[utoipa::path(post, path = "/tenants/{id}/billing/cancel", tag = "billing", params(("id" = String, Path, description = "Tenant id or slug")),
    responses((status = 200, body = BillingOverview), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn cancel(
    State(state): State<ApiState>,
    client: ApiClient,
    Path(id): Path<String>,
) -> Result<Json<BillingOverview>, ApiError> {
    let tenant = service::get(&state.platform, &id).await?;
    Ok(Json(
        manage::set_cancel_at_period_end(&state.platform, &client.actor, tenant.id, true).await?,
    ))
}

/// Undoes a cancellation at the period's end.
#[utoipa::path(post, path = "/tenants/{id}/billing/resume", tag = "billing", params(("id" = String, Path, description = "Tenant id or slug")),
    responses((status = 200, body = BillingOverview), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn resume(
    State(state): State<ApiState>,
    client: ApiClient,
    Path(id): Path<String>,
) -> Result<Json<BillingOverview>, ApiError> {
    let tenant = service::get(&state.platform, &id).await?;
    Ok(Json(
        manage::set_cancel_at_period_end(&state.platform, &client.actor, tenant.id, false).await?,
    ))
}

/// Body of `POST /tenants/{id}/billing/comp`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompBody {
    /// Free of charge (true) or not any more (false).
    pub comped: bool,
    /// Why (required to comp, 1–200 characters).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Marks a tenant free of charge (comped) or not. Comping cancels its Stripe subscription
/// at once; billing never suspends a comped tenant.
#[utoipa::path(post, path = "/tenants/{id}/billing/comp", tag = "billing", params(("id" = String, Path, description = "Tenant id or slug")),
    request_body = CompBody,
    responses((status = 200, body = BillingOverview), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn comp(
    State(state): State<ApiState>,
    client: ApiClient,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CompBody>,
) -> Result<Json<BillingOverview>, ApiError> {
    let tenant = service::get(&state.platform, &id).await?;
    Ok(Json(
        manage::set_comped(
            &state.platform,
            &client.actor,
            tenant.id,
            body.comped,
            body.reason.as_deref(),
        )
        .await?,
    ))
}

/// Monthly recurring revenue, subscriptions per status, past-due tenants.
#[utoipa::path(get, path = "/billing/summary", tag = "billing",
    responses((status = 200, body = BillingStats), (status = 401, body = ErrorBody)))]
pub async fn summary(
    State(state): State<ApiState>,
    _client: ApiClient,
) -> Result<Json<BillingStats>, ApiError> {
    Ok(Json(manage::stats(&state.platform).await?))
}
