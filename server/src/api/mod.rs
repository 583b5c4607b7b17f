//! The JSON API under `/api/v1`: handlers parse, authorize, call a service, map the result.
//! Errors have one shape: `{"error": {"code", "message", "field"}}`.

mod idempotency;
mod jobs;
mod plans;
mod tenants;

use crate::audit::Actor;
use crate::platform::Platform;
use crate::service::ServiceError;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// State of the API's handlers.
#[derive(Clone)]
pub struct ApiState {
    /// The platform's services.
    pub platform: Platform,
}

/// The `/api/v1` routes (to be nested), with their own state.
pub fn router<S: Clone + Send + Sync + 'static>(platform: Platform) -> Router<S> {
    let state = ApiState { platform };
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/tenants", post(tenants::create).get(tenants::list))
        .route("/tenants/{id}", get(tenants::get).delete(tenants::delete))
        .route("/tenants/{id}/audit", get(tenants::audit))
        .route("/tenants/{id}/deactivate", post(tenants::deactivate))
        .route("/tenants/{id}/reactivate", post(tenants::reactivate))
        .route("/jobs", get(jobs::list))
        .route("/jobs/{id}", get(jobs::get))
        .route("/jobs/{id}/retry", post(jobs::retry))
        .route("/jobs/{id}/cancel", post(jobs::cancel))
        .route("/plans", post(plans::create).get(plans::list))
        .route(
            "/plans/{id}",
            get(plans::get).patch(plans::update).delete(plans::delete),
        )
        .route("/plans/{id}/template", post(plans::build_template))
        .fallback(|| async { ApiError::not_found("route") })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            idempotency::layer,
        ))
        .with_state(state)
}

/// The OpenAPI document of `/api/v1`.
#[derive(OpenApi)]
#[openapi(
    info(title = "Odoo SaaS platform API", version = "1.0.0", description = "Tenants, plans and jobs of the platform. Bearer API tokens: `server create-api-token NAME`."),
    servers((url = "/api/v1")),
    paths(
        tenants::create, tenants::list, tenants::get, tenants::delete, tenants::audit, tenants::deactivate, tenants::reactivate,
        jobs::list, jobs::get, jobs::retry, jobs::cancel,
        plans::create, plans::list, plans::get, plans::update, plans::delete, plans::build_template,
    ),
    components(schemas(ErrorBody, ErrorDetail, tenants::CreateTenantBody, tenants::AcceptedBody, crate::tenants::Tenant,
        crate::tenants::TenantState, crate::tenants::service::TenantPage, crate::audit::AuditEntry,
        jobs::JobView, jobs::JobPageView, crate::plans::Plan, crate::plans::NewPlan, crate::plans::PlanUpdate, jobs::JobAccepted)),
    modifiers(&BearerAuth, &IdempotencyKeyHeader),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Documents the `Idempotency-Key` header on every mutation.
struct IdempotencyKeyHeader;

impl Modify for IdempotencyKeyHeader {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::{ObjectBuilder, Required, Type};
        let parameter = ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(format!(
                "Any unique string of 1 to 255 visible ASCII characters (a UUID). The first \
                 2xx answer is kept for {} hours and replayed (with `Idempotent-Replayed: true`) \
                 to retries of the same request; the same key with another request is refused \
                 (422 `idempotency_key_reused`), and a retry while the first still runs gets \
                 409 `idempotency_key_in_use`.",
                idempotency::KEY_LIFETIME_HOURS
            )))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .max_length(Some(255)),
            ))
            .build();
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.post,
                &mut item.patch,
                &mut item.put,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                op.parameters
                    .get_or_insert_with(Vec::new)
                    .push(parameter.clone());
            }
        }
    }
}

async fn openapi_json() -> Response {
    // Built once: the document is static for the life of the process.
    static DOC: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    Json(DOC.get_or_init(ApiDoc::openapi)).into_response()
}

/// The error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine code, e.g. `slug_taken`.
    pub code: String,
    /// For people.
    pub message: String,
    /// The request field concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// An API error: status and body.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: String,
    message: String,
    field: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_owned(),
            message: message.into(),
            field: None,
        }
    }

    fn not_found(what: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("No such {what}."),
        )
    }

    fn unauthorized(message: &str) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid {
                code,
                message,
                field,
            } => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: code.to_owned(),
                message,
                field: field.map(str::to_owned),
            },
            ServiceError::Conflict {
                code,
                message,
                field,
            } => ApiError {
                status: StatusCode::CONFLICT,
                code: code.to_owned(),
                message,
                field: field.map(str::to_owned),
            },
            ServiceError::NotFound(what) => ApiError::not_found(what),
            ServiceError::Internal(detail) => {
                tracing::error!(error = %detail, "API request failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Something went wrong on our side; it has been logged.",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ErrorBody {
                error: ErrorDetail {
                    code: self.code,
                    message: self.message,
                    field: self.field,
                },
            }),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// A JSON body whose rejections use the API's error shape (400 malformed, 422 wrong shape).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                e.body_text(),
            )),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "json_required",
                "Send the body as JSON (Content-Type: application/json).",
            )),
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                e.body_text(),
            )),
        }
    }
}

/// Query parameters whose rejections use the API's error shape (400).
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(e @ QueryRejection::FailedToDeserializeQueryString(_)) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_query",
                e.body_text(),
            )),
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_query",
                e.body_text(),
            )),
        }
    }
}

/// The authenticated API client (a superadmin token).
pub struct ApiClient {
    /// Who, for the audit log.
    pub actor: Actor,
}

impl FromRequestParts<ApiState> for ApiClient {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized("Send an API token: Authorization: Bearer <token>.")
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("The Authorization header must be 'Bearer <token>'.")
            })?;
        let token = SecretString::from(token.to_owned());
        match crate::auth::verify_token(&state.platform.pool, &token).await {
            Ok(Some(name)) => Ok(ApiClient {
                actor: Actor::api(&name),
            }),
            Ok(None) => Err(ApiError::unauthorized(
                "This API token is not valid (unknown or revoked).",
            )),
            Err(e) => Err(ServiceError::from(e).into()),
        }
    }
}

/// Parses a path id as a UUID (404 when it is not one: no such thing can exist).
fn parse_id(raw: &str, what: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| ApiError::not_found(what))
}

/// A 202 answer with the job's URL in `Location`.
fn accepted<T: Serialize>(job_id: uuid::Uuid, body: T) -> Response {
    let mut response = (StatusCode::ACCEPTED, Json(body)).into_response();
    if let Ok(v) = header::HeaderValue::from_str(&format!("/api/v1/jobs/{job_id}")) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}
