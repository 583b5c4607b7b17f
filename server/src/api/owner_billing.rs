//! `/api/v1/owner/tenants/{id}/billing…`: a tenant owner's billing, authorized exactly like
//! the other owner routes ([`OwnerCaller`]: the session cookie with `X-CSRF-Token` on
//! changes, or an owner API token). Every route first reads the tenant *as this owner*
//! (`owners::tenants::get`), so another owner's tenant is 404 on every route, and then
//! calls the same `billing::manage`/`billing::checkout` functions the operators' API does.

use super::billing::InvoiceQuery;
use super::owner::OwnerCaller;
use super::{parse_id, ApiError, ApiJson, ApiQuery, ApiState, ErrorBody, IdempotencyKeyHeader};
use crate::billing::checkout::{self, CheckoutStart, ReturnOutcome, ReturnUrls};
use crate::billing::manage::{self, BillingOverview, ChangePreview, InvoicePage, PlanChange};
use crate::owners::tenants as owned;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

/// The routes (merged into `/api/v1`).
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/owner/tenants/{id}/billing", get(overview))
        .route("/owner/tenants/{id}/billing/invoices", get(invoices))
        .route("/owner/tenants/{id}/billing/preview", post(preview))
        .route("/owner/tenants/{id}/billing/change", post(change))
        .route("/owner/tenants/{id}/billing/cancel", post(cancel))
        .route("/owner/tenants/{id}/billing/resume", post(resume))
        .route("/owner/tenants/{id}/billing/card", post(card))
        .route("/owner/tenants/{id}/billing/checkout", post(pay))
        .route("/owner/tenants/{id}/billing/return", post(checkout_return))
        .route(
            "/owner/tenants/{id}/billing/cancel-signup",
            post(cancel_signup),
        )
}

/// The OpenAPI part of these routes (merged into the API's document).
#[derive(OpenApi)]
#[openapi(
    paths(overview, invoices, preview, change, cancel, resume, card, pay, checkout_return, cancel_signup),
    components(schemas(ReturnBody, ReturnResult, CheckoutStart, ReturnOutcome,
        owned::AwaitingPayment)),
    modifiers(&IdempotencyKeyHeader)
)]
pub struct OwnerBillingDoc;

/// The caller's tenant (404 for anyone else's or a malformed id).
async fn mine(state: &ApiState, caller: &OwnerCaller, raw: &str) -> Result<Uuid, ApiError> {
    let id = parse_id(raw, "tenant")?;
    Ok(
        owned::get(&state.platform, caller.owner.id, &id.to_string())
            .await?
            .id,
    )
}

/// The tenant's subscription: plan, status, trial end, next invoice (amount and date),
/// card, dunning dates. `stripe_unreachable` when Stripe could not be asked for the live
/// parts ("we are confirming with our payment provider").
#[utoipa::path(get, path = "/owner/tenants/{id}/billing", tag = "owner billing", params(("id" = Uuid, Path, description = "Tenant id")),
    responses((status = 200, body = BillingOverview), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn overview(
    State(state): State<ApiState>,
    caller: OwnerCaller,
    Path(id): Path<String>,
) -> Result<Json<BillingOverview>, ApiError> {
    let id = mine(&state, &caller, &id).await?;
    Ok(Json(manage::overview(&state.platform, id).await?))
}

/// The tenant's invoices, newest first, with Stripe's invoice page and PDF.
#[utoipa::path(get, path = "/owner/tenants/{id}/billing/invoices", tag = "owner billing",
    params(("id" = Uuid, Path, description = "Tenant id"), InvoiceQuery),
    responses((status = 200, body = InvoicePage), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "stripe_unavailable", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn invoices(
    State(state): State<ApiState>,
    caller: OwnerCaller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<InvoiceQuery>,
) -> Result<Json<InvoicePage>, ApiError> {
    let id = mine(&state, &caller, &id).await?;
    Ok(Json(
        manage::invoices(
            &state.platform,
            id,
            q.limit.unwrap_or(20),
            q.cursor.as_deref(),
        )
        .await?,
    ))
}

/// What changing plan costs: Stripe's preview of the next invoice with the prorations. Show
/// it, then send its `proration_date` back to `change` so the charge is the one shown.
#[utoipa::path(post, path = "/owner/tenants/{id}/billing/preview", tag = "owner billing", params(("id" = Uuid, Path, description = "Tenant id")),
    request_body = PlanChange,
    responses((status = 200, body = ChangePreview), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn preview(
    State(state): State<ApiState>,
    caller: OwnerCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PlanChange>,
) -> Result<Json<ChangePreview>, ApiError> {
    let id = mine(&state, &caller, &id).await?;
    Ok(Json(
        manage::preview_change(&state.platform, id, &body).await?,
    ))
}

/// Changes the tenant's plan (prorated as previewed, with the preview's `proration_date`).
#[utoipa::path(post, path = "/owner/tenants/{id}/billing/change", tag = "owner billing", params(("id" = Uuid, Path, description = "Tenant id")),
    request_body = PlanChange,
    responses((status = 200, body = BillingOverview), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn change(
    State(state): State<ApiState>,
    caller: OwnerCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PlanChange>,
) -> Result<Json<BillingOverview>, ApiError> {
    let id = mine(&state, &caller, &id).await?;
    Ok(Json(
        manage::change_plan(&state.platform, &caller.owner.actor(), id, &body).await?,
    ))
}

/// Cancels at the end of the current period (the tenant runs until then).
#[utoipa::path(post, path = "/owner/tenants/{id}/billing/cancel", tag = "owner billing", params(("id" = Uuid, Path, description = "Tenant id")),
    responses((status = 200, body = BillingOverview), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn cancel(
    State(state): State<ApiState>,
    caller: OwnerCaller,
    Path(id): Path<String>,
) -> Result<Json<BillingOverview>, ApiError> {
    let id = mine(&state, &caller, &id).await?;
    Ok(Json(
        manage::set_cancel_at_period_end(&state.platform, &caller.owner.actor(), id, true).await?,
    ))
}

/// Undoes a cancellation at the period's end.
#[utoipa::path(post, path = "/owner/tenants/{id}/billing/resume", tag = "owner billing", params(("id" = Uuid, Path, description = "Tenant id")),
    responses((status = 200, body = BillingOverview), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn resume(
    State(state): State<ApiState>,
    caller: OwnerCaller,
    Path(id): Path<String>,
) -> Result<Json<BillingOverview>, ApiError> {
    let id = mine(&state, &caller, &id).await?;
    Ok(Json(
        manage::set_cancel_at_period_end(&state.platform, &caller.owner.actor(), id, false).await?,
    ))
}

/// Updates the card: a Stripe Checkout Session in setup mode. Send the owner to `url`; the
/// new card becomes the subscription's and pays any open invoice.
#[utoipa::path(post, path = "/owner/tenants/{id}/billing/card", tag = "owner billing", params(("id" = Uuid, Path, description = "Tenant id")),
    responses((status = 200, body = CheckoutStart), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn card(
    State(state): State<ApiState>,
    caller: OwnerCaller,
    Path(id): Path<String>,
) -> Result<Json<CheckoutStart>, ApiError> {
    let id = mine(&state, &caller, &id).await?;
    let urls = ReturnUrls::owner_portal(&state.platform, id)?;
    Ok(Json(
        checkout::start_card_update(&state.platform, &caller.owner.actor(), id, &urls).await?,
    ))
}

/// Pays for the tenant at Stripe Checkout: a tenant `awaiting_payment` (the open session
/// again while it is open, else a new one), or one whose subscription ended.
#[utoipa::path(post, path = "/owner/tenants/{id}/billing/checkout", tag = "owner billing", params(("id" = Uuid, Path, description = "Tenant id")),
    responses((status = 200, body = CheckoutStart), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn pay(
    State(state): State<ApiState>,
    caller: OwnerCaller,
    Path(id): Path<String>,
) -> Result<Json<CheckoutStart>, ApiError> {
    let id = mine(&state, &caller, &id).await?;
    let urls = ReturnUrls::owner_portal(&state.platform, id)?;
    Ok(Json(
        checkout::start_subscription(&state.platform, &caller.owner.actor(), id, None, &urls)
            .await?,
    ))
}

/// The Checkout Session Stripe sent the owner back with.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnBody {
    /// `cs_…` (the return address's `session_id`).
    pub session_id: String,
}

/// What the session turned out to be.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnResult {
    /// subscribed, card_saved, confirming (look again soon), expired.
    pub outcome: ReturnOutcome,
    /// For people.
    pub message: String,
}

/// The return from Stripe Checkout: reads the session and takes it into account now,
/// whether or not its webhook came (once either way: a paid sign-up is provisioned once).
/// A session of another tenant is 404.
#[utoipa::path(post, path = "/owner/tenants/{id}/billing/return", tag = "owner billing", params(("id" = Uuid, Path, description = "Tenant id")),
    request_body = ReturnBody,
    responses((status = 200, body = ReturnResult), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn checkout_return(
    State(state): State<ApiState>,
    caller: OwnerCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReturnBody>,
) -> Result<Json<ReturnResult>, ApiError> {
    let id = mine(&state, &caller, &id).await?;
    let outcome = checkout::confirm_return(&state.platform, id, &body.session_id).await?;
    Ok(Json(ReturnResult {
        outcome,
        message: outcome.message().to_owned(),
    }))
}

/// Gives up a paid sign-up before its first payment: its Stripe Checkout is closed (it can
/// no longer be paid; nothing was charged) and the waiting tenant is removed, its name free
/// again. 409 `payment_received` if the payment went through meanwhile (the tenant is being
/// made), `not_awaiting_payment` for a tenant that is not waiting, `stripe_unavailable`
/// when Stripe could not close the checkout (nothing changed).
#[utoipa::path(post, path = "/owner/tenants/{id}/billing/cancel-signup", tag = "owner billing", params(("id" = Uuid, Path, description = "Tenant id")),
    responses((status = 200, body = super::owner::Message), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn cancel_signup(
    State(state): State<ApiState>,
    caller: OwnerCaller,
    Path(id): Path<String>,
) -> Result<Json<super::owner::Message>, ApiError> {
    let id = mine(&state, &caller, &id).await?;
    checkout::cancel_signup(&state.platform, &caller.owner.actor(), id).await?;
    Ok(Json(super::owner::Message {
        message: "The sign-up is cancelled: nothing was charged, and the name is free again."
            .to_owned(),
    }))
}
