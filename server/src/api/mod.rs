//! The JSON API under `/api/v1`: handlers parse, authorize, call a service, map the result.
//! Errors have one shape: `{"error": {"code", "message", "field"}}`.

mod billing;
mod domains;
mod idempotency;
mod jobs;
mod owner;
mod owner_billing;
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
use axum::routing::{delete, get, post};
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
        .route(
            "/tenants/{id}/domains",
            get(domains::list).post(domains::add),
        )
        .route(
            "/tenants/{id}/domains/{domain}",
            get(domains::get).delete(domains::remove),
        )
        .route(
            "/tenants/{id}/domains/{domain}/verify",
            post(domains::verify),
        )
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
        .route("/owners", get(owner::list_owners))
        .route("/owners/{id}/disable", post(owner::disable_owner))
        .route("/owners/{id}/enable", post(owner::enable_owner))
        .route("/owner/signup", post(owner::sign_up))
        .route("/owner/verify", post(owner::verify))
        .route(
            "/owner/session",
            post(owner::sign_in).delete(owner::sign_out),
        )
        .route("/owner/me", get(owner::me))
        .route("/owner/verification", post(owner::resend_verification))
        .route("/owner/password", post(owner::change_password))
        .route("/owner/password/forgot", post(owner::forgot))
        .route("/owner/password/reset", post(owner::reset))
        .route("/owner/email", post(owner::change_email))
        .route("/owner/email/confirm", post(owner::confirm_email))
        .route("/owner/sessions/end", post(owner::sign_out_everywhere))
        .route(
            "/owner/tokens",
            get(owner::list_tokens).post(owner::create_token),
        )
        .route("/owner/tokens/{name}", delete(owner::revoke_token))
        .route("/owner/plans", get(owner::plans))
        .route("/owner/slugs/{slug}", get(owner::check_slug))
        .route(
            "/owner/tenants",
            get(owner::tenants).post(owner::create_tenant),
        )
        .route("/owner/tenants/{id}", get(owner::tenant))
        .route(
            "/owner/tenants/{id}/admin-password",
            post(owner::reset_admin_password),
        )
        .route("/owner/tenants/{id}/companies", post(owner::add_companies))
        .route("/owner/tenants/{id}/delete", post(owner::delete_tenant))
        .route(
            "/owner/tenants/{id}/domains",
            get(owner::list_domains).post(owner::add_domain),
        )
        .route(
            "/owner/tenants/{id}/domains/{domain}",
            get(owner::domain).delete(owner::remove_domain),
        )
        .route(
            "/owner/tenants/{id}/domains/{domain}/verify",
            post(owner::verify_domain),
        )
        .route("/owner/jobs/{id}", get(owner::job))
        .route("/tenants/{id}/billing", get(billing::overview))
        .route("/tenants/{id}/invoices", get(billing::invoices))
        .route("/tenants/{id}/billing/preview", post(billing::preview))
        .route("/tenants/{id}/billing/change", post(billing::change))
        .route("/tenants/{id}/billing/cancel", post(billing::cancel))
        .route("/tenants/{id}/billing/resume", post(billing::resume))
        .route("/tenants/{id}/billing/comp", post(billing::comp))
        .route("/billing/summary", get(billing::summary))
        .merge(owner_billing::routes())
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
    info(title = "Odoo SaaS platform API", version = "1.0.0", description = "Tenants, plans, billing and jobs of the platform. Bearer API tokens: `server create-api-token NAME`. Tenant owners use `/owner/...`: with the `saas_owner` session cookie from `POST /owner/session` (changes carry its `csrf_token` in `X-CSRF-Token`) or an owner API token (`Bearer saas_owner_...`, `POST /owner/tokens`), which reaches only that owner's account and tenants."),
    servers((url = "/api/v1")),
    paths(
        tenants::create, tenants::list, tenants::get, tenants::delete, tenants::audit, tenants::deactivate, tenants::reactivate,
        domains::list, domains::add, domains::get, domains::remove, domains::verify,
        jobs::list, jobs::get, jobs::retry, jobs::cancel,
        plans::create, plans::list, plans::get, plans::update, plans::delete, plans::build_template,
        owner::list_owners, owner::disable_owner, owner::enable_owner,
        owner::sign_up, owner::verify, owner::sign_in, owner::sign_out, owner::me, owner::resend_verification,
        owner::forgot, owner::reset, owner::change_password, owner::change_email, owner::confirm_email,
        owner::sign_out_everywhere, owner::list_tokens, owner::create_token, owner::revoke_token,
        owner::plans, owner::check_slug, owner::tenants, owner::create_tenant, owner::tenant, owner::job,
        owner::reset_admin_password, owner::add_companies, owner::delete_tenant,
        owner::list_domains, owner::add_domain, owner::domain, owner::verify_domain, owner::remove_domain,
        billing::overview, billing::invoices, billing::preview, billing::change, billing::cancel, billing::resume,
        billing::comp, billing::summary,
    ),
    components(schemas(ErrorBody, ErrorDetail, tenants::CreateTenantBody, tenants::AcceptedBody, crate::tenants::Tenant,
        crate::tenants::TenantState, crate::tenants::service::TenantPage, crate::audit::AuditEntry,
        jobs::JobView, jobs::JobPageView, domains::AddDomainBody, crate::domains::CustomDomain,
        crate::domains::DomainState, crate::domains::DnsRecord, crate::plans::Plan, crate::plans::NewPlan, crate::plans::PlanUpdate, jobs::JobAccepted,
        crate::tenants::service::Accepted, crate::owners::Owner, crate::owners::OwnerSummary, crate::owners::tokens::OwnerToken,
        crate::owners::tenants::SlugAvailability, owner::Message, owner::SignUpBody, owner::TokenBody, owner::EmailBody,
        owner::SignInBody, owner::SessionBody, owner::ForgotBody, owner::ResetBody, owner::ChangePasswordBody,
        owner::ChangeEmailBody, owner::EndedBody, owner::PlanOffer, owner::NewTenantBody, owner::AdminPasswordBody,
        owner::CompaniesBody, owner::DeleteBody, owner::NewTokenBody, owner::NewTokenView,
        crate::billing::manage::BillingOverview, crate::billing::manage::NextInvoice, crate::billing::manage::CardSummary,
        crate::billing::manage::InvoicePage, crate::billing::manage::InvoiceSummary, crate::billing::manage::PlanChange,
        crate::billing::manage::ChangePreview, crate::billing::manage::PreviewLine, crate::billing::manage::BillingStats,
        crate::billing::manage::StatusCount, crate::billing::manage::CurrencyAmount, crate::billing::manage::PastDueTenant,
        crate::billing::catalog::Interval, billing::CompBody)),
    modifiers(&BearerAuth, &IdempotencyKeyHeader, &CommonErrors),
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

/// Documents the error answers the shared extractors and layers give, on every operation
/// they can reach (its handler's own list stays as it is): a JSON body can be malformed
/// (400 `malformed_json`), not JSON (415 `json_required`) or of the wrong shape (422
/// `invalid_body`); a query string of the wrong types is 400 `bad_query`; a mutation's
/// `Idempotency-Key` can be invalid (400), in use (409), reused (422), its body too large
/// (413). Found by schemathesis (`scripts/schemathesis.sh`).
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let error = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build(),
            )
        };
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                (false, &mut item.get),
                (true, &mut item.post),
                (true, &mut item.patch),
                (true, &mut item.put),
                (true, &mut item.delete),
            ];
            for (mutation, op) in operations {
                let Some(op) = op.as_mut() else {
                    continue;
                };
                let query = op
                    .parameters
                    .iter()
                    .flatten()
                    .any(|p| p.parameter_in == ParameterIn::Query);
                let mut wanted: Vec<(&str, &str)> = Vec::new();
                if op.request_body.is_some() {
                    wanted.push((
                        "400",
                        "Malformed JSON (`malformed_json`), or an invalid request.",
                    ));
                    wanted.push(("415", "The body is not JSON (`json_required`)."));
                    wanted.push((
                        "422",
                        "The body has the wrong shape (`invalid_body`) or invalid values.",
                    ));
                }
                if query {
                    wanted.push(("400", "A query parameter of the wrong type (`bad_query`)."));
                }
                if mutation {
                    wanted.push((
                        "400",
                        "An invalid `Idempotency-Key` (`idempotency_key_invalid`).",
                    ));
                    wanted.push(("409", "The `Idempotency-Key` is in use by a request still running (`idempotency_key_in_use`), or a conflict."));
                    wanted.push(("413", "The body is larger than 1 MiB (`body_too_large`)."));
                    wanted.push(("422", "The `Idempotency-Key` was used with another request (`idempotency_key_reused`), or invalid values."));
                }
                for (status, description) in wanted {
                    op.responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| error(description));
                }
            }
        }
    }
}

async fn openapi_json() -> Response {
    // Built once: the document is static for the life of the process.
    static DOC: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    Json(DOC.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        // The owner billing routes have their own document (its own modifiers ran, not
        // ApiDoc's): document their shared extractors' errors too before merging.
        let mut billing = owner_billing::OwnerBillingDoc::openapi();
        CommonErrors.modify(&mut billing);
        doc.merge(billing);
        doc
    }))
    .into_response()
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
        ApiClient::authenticate(state, &parts.headers).await
    }
}

impl ApiClient {
    /// The client the request's bearer token names, or the 401 (or 500) it gets.
    async fn authenticate(
        state: &ApiState,
        headers: &header::HeaderMap,
    ) -> Result<ApiClient, ApiError> {
        let header = headers.get(header::AUTHORIZATION).ok_or_else(|| {
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

/// A 202 answer with `location` (the job's URL) in `Location`.
fn accepted_at<T: Serialize>(location: &str, body: T) -> Response {
    let mut response = (StatusCode::ACCEPTED, Json(body)).into_response();
    if let Ok(v) = header::HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// A 202 answer with the job's URL in `Location`.
fn accepted<T: Serialize>(job_id: uuid::Uuid, body: T) -> Response {
    let mut response = (StatusCode::ACCEPTED, Json(body)).into_response();
    if let Ok(v) = header::HeaderValue::from_str(&format!("/api/v1/jobs/{job_id}")) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}
