//! `/api/v1/plans`.

use super::jobs::JobAccepted;
use super::{accepted, parse_id, ApiClient, ApiError, ApiJson, ApiState, ErrorBody};
use crate::plans::{self, NewPlan, Plan, PlanUpdate};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Creates a plan.
#[utoipa::path(post, path = "/plans", tag = "plans", request_body = NewPlan,
    responses((status = 201, body = Plan), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<ApiState>,
    client: ApiClient,
    ApiJson(body): ApiJson<NewPlan>,
) -> Result<Response, ApiError> {
    let plan = plans::create(&state.platform, &client.actor, body).await?;
    Ok((StatusCode::CREATED, Json(plan)).into_response())
}

/// Lists plans.
#[utoipa::path(get, path = "/plans", tag = "plans", responses((status = 200, body = [Plan]), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<ApiState>,
    _client: ApiClient,
) -> Result<Json<Vec<Plan>>, ApiError> {
    Ok(Json(plans::list(&state.platform).await?))
}

/// One plan.
#[utoipa::path(get, path = "/plans/{id}", tag = "plans", params(("id" = Uuid, Path, description = "Plan id")),
    responses((status = 200, body = Plan), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<ApiState>,
    _client: ApiClient,
    Path(id): Path<String>,
) -> Result<Json<Plan>, ApiError> {
    Ok(Json(
        plans::get(&state.platform, parse_id(&id, "plan")?).await?,
    ))
}

/// Changes a plan.
#[utoipa::path(patch, path = "/plans/{id}", tag = "plans", params(("id" = Uuid, Path, description = "Plan id")), request_body = PlanUpdate,
    responses((status = 200, body = Plan), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<ApiState>,
    client: ApiClient,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PlanUpdate>,
) -> Result<Json<Plan>, ApiError> {
    Ok(Json(
        plans::update(&state.platform, &client.actor, parse_id(&id, "plan")?, body).await?,
    ))
}

/// Deletes a plan no tenant uses.
#[utoipa::path(delete, path = "/plans/{id}", tag = "plans", params(("id" = Uuid, Path, description = "Plan id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<ApiState>,
    client: ApiClient,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    plans::delete(&state.platform, &client.actor, parse_id(&id, "plan")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// (Re)builds the plan's template database as a job.
#[utoipa::path(post, path = "/plans/{id}/template", tag = "plans", params(("id" = Uuid, Path, description = "Plan id")),
    responses((status = 202, body = JobAccepted), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn build_template(
    State(state): State<ApiState>,
    client: ApiClient,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job_id =
        plans::build_template(&state.platform, &client.actor, parse_id(&id, "plan")?).await?;
    Ok(accepted(
        job_id,
        JobAccepted {
            job_id,
            job_url: format!("/api/v1/jobs/{job_id}"),
        },
    ))
}
