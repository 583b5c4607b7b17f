//! `/api/v1/jobs`.

use super::{parse_id, ApiClient, ApiError, ApiQuery, ApiState, ErrorBody};
use crate::service::ServiceError;
use axum::extract::{Path, State};
use axum::Json;
use job_queue::{Cursor, JobFilter, JobRecord, JobState};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A job as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    /// Job id.
    pub id: Uuid,
    /// Kind, e.g. `tenant.provision`.
    pub kind: String,
    /// Input.
    pub payload: serde_json::Value,
    /// queued, running, succeeded, failed, dead, cancelled.
    pub state: String,
    /// Attempts started.
    pub attempts: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// Due at.
    pub run_at: chrono::DateTime<chrono::Utc>,
    /// Error of the latest failed attempt.
    pub last_error: Option<String>,
    /// Step done so far.
    pub progress_step: i32,
    /// Steps in all.
    pub progress_total: i32,
    /// What it is doing; `waiting for Odoo: …` (or PostgreSQL) while it waits out an
    /// outage, retrying without spending attempts.
    pub progress_label: String,
    /// Since when Odoo or PostgreSQL has been unreachable for it (null when not waiting).
    pub unavailable_since: Option<chrono::DateTime<chrono::Utc>>,
    /// A cancel was asked.
    pub cancel_requested: bool,
    /// Tenant concerned.
    pub tenant_id: Option<Uuid>,
    /// Created at.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Last changed at.
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// Finished at.
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<JobRecord> for JobView {
    fn from(j: JobRecord) -> Self {
        JobView {
            id: j.id,
            kind: j.kind,
            payload: j.payload,
            state: j.state.as_str().to_owned(),
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            run_at: j.run_at,
            last_error: j.last_error,
            progress_step: j.progress.step,
            progress_total: j.progress.total,
            progress_label: j.progress.label,
            unavailable_since: j.unavailable_since,
            cancel_requested: j.cancel_requested,
            tenant_id: j.tenant_id,
            created_at: j.created_at,
            updated_at: j.updated_at,
            finished_at: j.finished_at,
        }
    }
}

/// One page of jobs.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobPageView {
    /// Jobs, newest first.
    pub items: Vec<JobView>,
    /// For the next page.
    pub next_cursor: Option<String>,
    /// Matching jobs on all pages.
    pub total: i64,
}

/// A job started by a request (202).
#[derive(Debug, Serialize, ToSchema)]
pub struct JobAccepted {
    /// The job.
    pub job_id: Uuid,
    /// Where to follow it.
    pub job_url: String,
}

/// Query of `GET /jobs`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// Only this state.
    pub state: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only this tenant's.
    pub tenant_id: Option<Uuid>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<i64>,
    /// From `next_cursor`.
    pub cursor: Option<String>,
}

/// Lists jobs, newest first.
#[utoipa::path(get, path = "/jobs", tag = "jobs", params(ListQuery),
    responses((status = 200, body = JobPageView), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(
    State(state): State<ApiState>,
    _client: ApiClient,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<JobPageView>, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ServiceError::invalid(
            "limit_invalid",
            "limit",
            "limit must be from 1 to 200.",
        )
        .into());
    }
    let job_state = match q.state.as_deref() {
        Some(s) => Some(s.parse::<JobState>().map_err(|_| {
            ServiceError::invalid(
                "state_invalid",
                "state",
                "state is one of queued, running, succeeded, failed, dead, cancelled.",
            )
        })?),
        None => None,
    };
    let cursor = match q.cursor.as_deref() {
        Some(c) => Some(Cursor::decode(c).ok_or_else(|| {
            ServiceError::invalid(
                "cursor_invalid",
                "cursor",
                "This cursor was not given by a list call.",
            )
        })?),
        None => None,
    };
    let filter = JobFilter {
        state: job_state,
        kind: q.kind,
        tenant_id: q.tenant_id,
    };
    let page = state
        .platform
        .queue
        .list(&filter, limit, cursor)
        .await
        .map_err(ServiceError::from)?;
    Ok(Json(JobPageView {
        items: page.jobs.into_iter().map(JobView::from).collect(),
        next_cursor: page.next_cursor.map(|c| c.encode()),
        total: page.total,
    }))
}

/// One job.
#[utoipa::path(get, path = "/jobs/{id}", tag = "jobs", params(("id" = Uuid, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<ApiState>,
    _client: ApiClient,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    let id = parse_id(&id, "job")?;
    let job = state
        .platform
        .queue
        .get(id)
        .await
        .map_err(ServiceError::from)?
        .ok_or(ServiceError::NotFound("job"))?;
    Ok(Json(job.into()))
}

/// Runs a failed, dead or cancelled job again.
#[utoipa::path(post, path = "/jobs/{id}/retry", tag = "jobs", params(("id" = Uuid, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn retry(
    State(state): State<ApiState>,
    client: ApiClient,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    let id = parse_id(&id, "job")?;
    let job = crate::jobs::act_on_job(
        &state.platform,
        &client.actor,
        id,
        crate::jobs::JobAction::Retry,
    )
    .await?;
    Ok(Json(job.into()))
}

/// Cancels a queued job, or asks a running one to stop.
#[utoipa::path(post, path = "/jobs/{id}/cancel", tag = "jobs", params(("id" = Uuid, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn cancel(
    State(state): State<ApiState>,
    client: ApiClient,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    let id = parse_id(&id, "job")?;
    let job = crate::jobs::act_on_job(
        &state.platform,
        &client.actor,
        id,
        crate::jobs::JobAction::Cancel,
    )
    .await?;
    Ok(Json(job.into()))
}
