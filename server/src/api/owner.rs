//! `/api/v1/owner`: everything a tenant owner does, as JSON. The account routes (sign-up,
//! the links sent by email, sign-in, password reset) are public; the rest need the owner's
//! session cookie (`saas_owner`, and the session's CSRF token in `X-CSRF-Token` on every
//! change, the operations portal's rules) or an owner API token (`Bearer saas_owner_…`).
//! Every read filters by the caller: another owner's tenant or job is 404, never 403.

use super::jobs::JobView;
use super::{parse_id, ApiError, ApiJson, ApiState, ErrorBody};
use crate::owners::sessions::{self, Lookup, SigninFailure};
use crate::owners::tenants::{self as owned, OwnerRef, SlugAvailability};
use crate::owners::{accounts, domains as owned_domains, tokens, Owner};
use crate::service::ServiceError;
use crate::tenants::service::Accepted;
use crate::tenants::Tenant;
use app::client::ClientAddress;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The header carrying the session's CSRF token on changes made with the cookie.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the owner proved who they are.
#[derive(Debug, Clone)]
pub enum Credential {
    /// The session cookie (its value).
    Session(String),
    /// An owner API token.
    Token,
}

/// The signed-in owner calling an owner route.
pub struct OwnerCaller {
    /// Who.
    pub owner: OwnerRef,
    /// How.
    pub credential: Credential,
}

impl FromRequestParts<ApiState> for OwnerCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        let p = &state.platform;
        if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
            let token = auth
                .to_str()
                .ok()
                .and_then(|h| h.strip_prefix("Bearer "))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    ApiError::unauthorized("The Authorization header must be 'Bearer <token>'.")
                })?;
            return match tokens::verify(p, &SecretString::from(token.to_owned())).await {
                Ok(Some((id, email))) => Ok(OwnerCaller {
                    owner: OwnerRef { id, email },
                    credential: Credential::Token,
                }),
                Ok(None) => Err(ApiError::unauthorized(
                    "This owner API token is not valid (unknown or revoked).",
                )),
                Err(e) => Err(ServiceError::from(e).into()),
            };
        }
        let Some(cookie) = sessions::cookie(&parts.headers) else {
            return Err(ApiError::unauthorized(
                "Sign in first (POST /api/v1/owner/session), or send an owner API token.",
            ));
        };
        let principal = match sessions::resolve(p, &cookie).await {
            Ok(Lookup::Valid(principal)) => principal,
            Ok(Lookup::Ended) => {
                return Err(ApiError::unauthorized(
                    "Your session has expired. Sign in again.",
                ))
            }
            Err(e) => return Err(ServiceError::from(e).into()),
        };
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !same_token(&principal.csrf, sent) {
                tracing::warn!(owner_id = %principal.id, "refused an owner change without its CSRF token");
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf_mismatch",
                    "This change must carry the session's CSRF token (X-CSRF-Token).",
                ));
            }
        }
        Ok(OwnerCaller {
            owner: OwnerRef {
                id: principal.id,
                email: principal.email,
            },
            credential: Credential::Session(cookie),
        })
    }
}

/// Constant-time comparison of two tokens.
fn same_token(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What a public page's form posts must not be: sent by another site (login CSRF).
fn refuse_cross_site(parts: &axum::http::HeaderMap) -> Result<(), ApiError> {
    if crate::admin::http::cross_site(parts) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_site",
            "This request came from another site and was refused.",
        ));
    }
    Ok(())
}

/// A short answer for people.
#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    /// What happened, or what to do next.
    pub message: String,
}

fn message(status: StatusCode, text: impl Into<String>) -> Response {
    (
        status,
        Json(Message {
            message: text.into(),
        }),
    )
        .into_response()
}

/// A sign-up.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SignUpBody {
    /// Your name.
    pub name: String,
    /// Your email address (the sign-in name).
    pub email: String,
    /// 10 to 128 characters, not a common one.
    pub password: String,
}

/// Opens an account and sends the verification link. The answer is the same whether or
/// not the address has an account (its owner is told by email instead).
#[utoipa::path(post, path = "/owner/signup", tag = "owner account", request_body = SignUpBody, security(()),
    responses((status = 202, body = Message), (status = 422, body = ErrorBody)))]
pub async fn sign_up(
    State(state): State<ApiState>,
    headers: axum::http::HeaderMap,
    ApiJson(body): ApiJson<SignUpBody>,
) -> Result<Response, ApiError> {
    refuse_cross_site(&headers)?;
    accounts::sign_up(
        &state.platform,
        accounts::SignUp {
            name: body.name,
            email: body.email.clone(),
            password: SecretString::from(body.password),
        },
    )
    .await?;
    Ok(message(
        StatusCode::ACCEPTED,
        format!(
            "We sent a link to {} to confirm the address. Follow it to finish opening your account.",
            body.email.trim()
        ),
    ))
}

/// A one-time link's token (from the link's `?token=`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenBody {
    /// The token.
    pub token: String,
}

/// The account's address.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailBody {
    /// Email address.
    pub email: String,
}

/// Follows an email verification link.
#[utoipa::path(post, path = "/owner/verify", tag = "owner account", request_body = TokenBody, security(()),
    responses((status = 200, body = EmailBody), (status = 422, body = ErrorBody)))]
pub async fn verify(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<TokenBody>,
) -> Result<Json<EmailBody>, ApiError> {
    let email = accounts::verify_email(&state.platform, &body.token).await?;
    Ok(Json(EmailBody { email }))
}

/// Sign-in.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SignInBody {
    /// Email address.
    pub email: String,
    /// Password.
    pub password: String,
}

/// A new session: the cookie is set; changes made with it carry `csrf_token` in
/// `X-CSRF-Token`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionBody {
    /// The account.
    pub owner: Owner,
    /// The session's CSRF token.
    pub csrf_token: String,
}

/// Signs in (throttled per client address and per account, as the operations portal) and
/// sets the `saas_owner` session cookie.
#[utoipa::path(post, path = "/owner/session", tag = "owner account", request_body = SignInBody, security(()),
    responses((status = 200, body = SessionBody), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn sign_in(
    State(state): State<ApiState>,
    parts: Parts,
    ApiJson(body): ApiJson<SignInBody>,
) -> Result<Response, ApiError> {
    refuse_cross_site(&parts.headers)?;
    let p = &state.platform;
    let client = parts
        .extensions
        .get::<ClientAddress>()
        .map(|c| c.0)
        .ok_or_else(|| {
            ApiError::from(ServiceError::internal("no client address on the request"))
        })?;
    let (principal, session) = match sessions::sign_in(p, &body.email, &body.password, client).await
    {
        Ok(done) => done,
        Err(SigninFailure::Wrong) => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "wrong_credentials",
                "Wrong email or password.",
            ))
        }
        Err(SigninFailure::Throttled { retry_after_secs }) => {
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                format!("Too many failed sign-ins. Wait {retry_after_secs} seconds and try again."),
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            return Ok(response);
        }
        Err(SigninFailure::Busy) => {
            let mut response = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "Signing in is busy right now. Try again in a moment.",
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(1u32));
            return Ok(response);
        }
        Err(SigninFailure::Internal(e)) => return Err(e.into()),
    };
    let owner = crate::owners::get(p, principal.id).await?;
    let mut response = Json(SessionBody {
        owner,
        csrf_token: principal.csrf,
    })
    .into_response();
    let cookie = sessions::set_cookie(&session.token, session.max_age_secs, p.config.cookie_secure);
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Signs out: ends this session and clears the cookie.
#[utoipa::path(delete, path = "/owner/session", tag = "owner account",
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn sign_out(
    State(state): State<ApiState>,
    caller: OwnerCaller,
) -> Result<Response, ApiError> {
    let Credential::Session(token) = &caller.credential else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_a_session",
            "An API token has no session to end; revoke the token instead.",
        ));
    };
    sessions::close(&state.platform, token).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let cookie = sessions::set_cookie("", 0, state.platform.config.cookie_secure);
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// The signed-in owner's account.
#[utoipa::path(get, path = "/owner/me", tag = "owner account",
    responses((status = 200, body = Owner), (status = 401, body = ErrorBody)))]
pub async fn me(
    State(state): State<ApiState>,
    caller: OwnerCaller,
) -> Result<Json<Owner>, ApiError> {
    Ok(Json(
        accounts::account(&state.platform, caller.owner.id).await?,
    ))
}

/// Sends a new verification link (the address is not confirmed yet).
#[utoipa::path(post, path = "/owner/verification", tag = "owner account",
    responses((status = 202, body = Message), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn resend_verification(
    State(state): State<ApiState>,
    caller: OwnerCaller,
) -> Result<Response, ApiError> {
    accounts::resend_verification(&state.platform, caller.owner.id).await?;
    Ok(message(
        StatusCode::ACCEPTED,
        "A new link is on its way; the earlier ones no longer work.",
    ))
}

/// A forgotten password.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ForgotBody {
    /// The account's address.
    pub email: String,
}

/// Asks for a password-reset link (one hour, single use). The same answer, at the same
/// speed, for every address.
#[utoipa::path(post, path = "/owner/password/forgot", tag = "owner account", request_body = ForgotBody, security(()),
    responses((status = 202, body = Message), (status = 422, body = ErrorBody)))]
pub async fn forgot(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<ForgotBody>,
) -> Result<Response, ApiError> {
    accounts::request_password_reset(&state.platform, &body.email).await?;
    Ok(message(
        StatusCode::ACCEPTED,
        format!(
            "If {} has an account, a link to choose a new password is on its way. It works once, for one hour.",
            body.email.trim()
        ),
    ))
}

/// A new password from a reset link.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetBody {
    /// The link's token.
    pub token: String,
    /// The new password.
    pub password: String,
}

/// Follows a password-reset link: sets the new password and ends every session.
#[utoipa::path(post, path = "/owner/password/reset", tag = "owner account", request_body = ResetBody, security(()),
    responses((status = 200, body = EmailBody), (status = 422, body = ErrorBody)))]
pub async fn reset(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<ResetBody>,
) -> Result<Json<EmailBody>, ApiError> {
    let email = accounts::reset_password(
        &state.platform,
        &body.token,
        &SecretString::from(body.password),
    )
    .await?;
    Ok(Json(EmailBody { email }))
}

/// A password change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangePasswordBody {
    /// The password now.
    pub current_password: String,
    /// The new one.
    pub new_password: String,
}

/// Changes the password; every other session of the account ends.
#[utoipa::path(post, path = "/owner/password", tag = "owner account", request_body = ChangePasswordBody,
    responses((status = 200, body = Message), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn change_password(
    State(state): State<ApiState>,
    caller: OwnerCaller,
    ApiJson(body): ApiJson<ChangePasswordBody>,
) -> Result<Response, ApiError> {
    let keep = match &caller.credential {
        Credential::Session(token) => Some(token.as_str()),
        Credential::Token => None,
    };
    accounts::change_password(
        &state.platform,
        caller.owner.id,
        keep,
        &SecretString::from(body.current_password),
        &SecretString::from(body.new_password),
    )
    .await?;
    Ok(message(
        StatusCode::OK,
        "Your password is changed; your other sessions have ended.",
    ))
}

/// An email change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangeEmailBody {
    /// The password now.
    pub current_password: String,
    /// The new address (confirmed by a link sent to it).
    pub new_email: String,
}

/// Asks to move the account to a new address: a link goes there, nothing changes until
/// it is followed.
#[utoipa::path(post, path = "/owner/email", tag = "owner account", request_body = ChangeEmailBody,
    responses((status = 202, body = Message), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn change_email(
    State(state): State<ApiState>,
    caller: OwnerCaller,
    ApiJson(body): ApiJson<ChangeEmailBody>,
) -> Result<Response, ApiError> {
    accounts::request_email_change(
        &state.platform,
        caller.owner.id,
        &SecretString::from(body.current_password),
        &body.new_email,
    )
    .await?;
    Ok(message(
        StatusCode::ACCEPTED,
        format!(
            "We sent a link to {}: your address changes when you follow it.",
            body.new_email.trim()
        ),
    ))
}

/// Follows an email-change link: the account moves to the new address.
#[utoipa::path(post, path = "/owner/email/confirm", tag = "owner account", request_body = TokenBody, security(()),
    responses((status = 200, body = EmailBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn confirm_email(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<TokenBody>,
) -> Result<Json<EmailBody>, ApiError> {
    let email = accounts::confirm_email_change(&state.platform, &body.token).await?;
    Ok(Json(EmailBody { email }))
}

/// Sessions ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndedBody {
    /// How many.
    pub ended: u64,
}

/// Signs out everywhere: every session of the account ends, this one too.
#[utoipa::path(post, path = "/owner/sessions/end", tag = "owner account",
    responses((status = 200, body = EndedBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn sign_out_everywhere(
    State(state): State<ApiState>,
    caller: OwnerCaller,
) -> Result<Response, ApiError> {
    let ended = accounts::sign_out_everywhere(&state.platform, caller.owner.id).await?;
    let mut response = Json(EndedBody { ended }).into_response();
    if matches!(caller.credential, Credential::Session(_)) {
        let cookie = sessions::set_cookie("", 0, state.platform.config.cookie_secure);
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

/// A plan on offer, as the front door shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanOffer {
    /// Key (sign up with it).
    pub key: String,
    /// Name.
    pub name: String,
    /// Monthly price in cents (0: free).
    pub price_cents: i32,
    /// Yearly price in cents (sign up with `interval: "year"` to pay it).
    pub yearly_price_cents: i64,
    /// ISO currency.
    pub currency: String,
    /// Free trial days.
    pub trial_days: i32,
    /// Most users (none: unlimited).
    pub max_users: Option<i32>,
    /// Most companies.
    pub max_companies: i32,
    /// Storage in MB (none: unlimited).
    pub storage_mb: Option<i32>,
    /// Odoo modules installed.
    pub modules: Vec<String>,
    /// Can be signed up for here now (free, or paid through Stripe Checkout when payments
    /// are set up on the platform).
    pub self_service: bool,
}

/// The plans on offer (active ones, cheapest first).
#[utoipa::path(get, path = "/owner/plans", tag = "owner tenants", security(()),
    responses((status = 200, body = [PlanOffer])))]
pub async fn plans(State(state): State<ApiState>) -> Result<Json<Vec<PlanOffer>>, ApiError> {
    Ok(Json(offers(&state.platform).await?))
}

/// The plans on offer: active ones, cheapest first.
pub async fn offers(p: &crate::platform::Platform) -> Result<Vec<PlanOffer>, ServiceError> {
    let mut plans: Vec<crate::plans::Plan> = crate::plans::list(p)
        .await?
        .into_iter()
        .filter(|plan| plan.active)
        .collect();
    plans.sort_by(|a, b| {
        a.price_cents
            .cmp(&b.price_cents)
            .then_with(|| a.key.cmp(&b.key))
    });
    let billing = p.stripe.is_configured();
    Ok(plans
        .into_iter()
        .map(|p| PlanOffer {
            self_service: p.price_cents == 0 || billing,
            key: p.key,
            name: p.name,
            price_cents: p.price_cents,
            yearly_price_cents: p
                .yearly_price_cents
                .map(i64::from)
                .unwrap_or(i64::from(p.price_cents) * 12),
            currency: p.currency,
            trial_days: p.trial_days,
            max_users: p.max_users,
            max_companies: p.max_companies,
            storage_mb: p.storage_mb,
            modules: p.modules,
        })
        .collect())
}

/// Whether a subdomain can be taken (the API's slug rules and reserved words).
#[utoipa::path(get, path = "/owner/slugs/{slug}", tag = "owner tenants", security(()),
    params(("slug" = String, Path, description = "Wanted subdomain")),
    responses((status = 200, body = SlugAvailability)))]
pub async fn check_slug(
    State(state): State<ApiState>,
    Path(slug): Path<String>,
) -> Result<Json<SlugAvailability>, ApiError> {
    Ok(Json(owned::check_slug(&state.platform, &slug).await?))
}

/// The caller's tenants, newest first.
#[utoipa::path(get, path = "/owner/tenants", tag = "owner tenants",
    responses((status = 200, body = [Tenant]), (status = 401, body = ErrorBody)))]
pub async fn tenants(
    State(state): State<ApiState>,
    caller: OwnerCaller,
) -> Result<Json<Vec<Tenant>>, ApiError> {
    Ok(Json(owned::list(&state.platform, caller.owner.id).await?))
}

/// A self-service tenant sign-up.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewTenantBody {
    /// Plan key (a plan with a price is paid at Stripe Checkout first).
    pub plan: String,
    /// Subdomain: `<slug>.<domain>`.
    pub slug: String,
    /// Main company.
    pub company_name: String,
    /// Further companies (multi-company), within the plan's limit.
    #[serde(default)]
    pub extra_companies: Vec<String>,
    /// The Odoo administrator's password (your login is your email address).
    pub odoo_password: String,
    /// Any unique string per form: a second submit of the same form returns the first's
    /// tenant instead of making another.
    pub signup_key: Option<String>,
    /// How a paid plan is billed: `month` (the default) or `year` (the plan's
    /// `yearly_price_cents`). Free plans ignore it.
    pub interval: Option<String>,
}

/// Signs up a tenant (needs a confirmed address). A free plan is provisioned at once:
/// 202, follow `job_id`. A plan with a price answers 201 with the tenant
/// `awaiting_payment` and a Stripe Checkout Session: send the owner to `checkout.url`; the
/// tenant is provisioned once Stripe confirms the subscription, and removed (its name
/// free again) if the session expires unpaid.
#[utoipa::path(post, path = "/owner/tenants", tag = "owner tenants", request_body = NewTenantBody,
    responses((status = 202, body = Accepted, description = "Free plan: provisioning"),
        (status = 201, body = owned::AwaitingPayment, description = "Paid plan: pay at checkout.url"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "slug_taken, email_unverified, billing_not_configured, stripe_unavailable"),
        (status = 422, body = ErrorBody)))]
pub async fn create_tenant(
    State(state): State<ApiState>,
    caller: OwnerCaller,
    ApiJson(body): ApiJson<NewTenantBody>,
) -> Result<Response, ApiError> {
    let outcome = owned::sign_up(
        &state.platform,
        &caller.owner,
        owned::Signup {
            plan: body.plan,
            slug: body.slug,
            company_name: body.company_name,
            extra_companies: body.extra_companies,
            odoo_password: SecretString::from(body.odoo_password),
            signup_key: body.signup_key,
            interval: body.interval,
        },
    )
    .await?;
    Ok(match outcome {
        owned::SignupOutcome::Provisioning(accepted) => {
            super::accepted_at(&format!("/api/v1/owner/jobs/{}", accepted.job_id), accepted)
        }
        owned::SignupOutcome::AwaitingPayment(waiting) => {
            let mut response = (StatusCode::CREATED, Json(&waiting)).into_response();
            if let Ok(v) =
                HeaderValue::from_str(&format!("/api/v1/owner/tenants/{}", waiting.tenant.id))
            {
                response.headers_mut().insert(header::LOCATION, v);
            }
            response
        }
    })
}

/// One of the caller's tenants (404 for anyone else's).
#[utoipa::path(get, path = "/owner/tenants/{id}", tag = "owner tenants", params(("id" = Uuid, Path, description = "Tenant id")),
    responses((status = 200, body = Tenant), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn tenant(
    State(state): State<ApiState>,
    caller: OwnerCaller,
    Path(id): Path<String>,
) -> Result<Json<Tenant>, ApiError> {
    let id = parse_id(&id, "tenant")?;
    Ok(Json(
        owned::get(&state.platform, caller.owner.id, &id.to_string()).await?,
    ))
}

/// One of the caller's tenants' jobs: its progress (404 for anyone else's).
#[utoipa::path(get, path = "/owner/jobs/{id}", tag = "owner tenants", params(("id" = Uuid, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn job(
    State(state): State<ApiState>,
    caller: OwnerCaller,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    let id = parse_id(&id, "job")?;
    Ok(Json(
        owned::job(&state.platform, caller.owner.id, id)
            .await?
            .into(),
    ))
}

/// A new Odoo administrator password.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AdminPasswordBody {
    /// 8 to 128 characters; never stored in clear, logged or emailed.
    pub password: String,
}

/// Sets the tenant's Odoo administrator password to the one given (a job).
#[utoipa::path(post, path = "/owner/tenants/{id}/admin-password", tag = "owner tenants", params(("id" = Uuid, Path, description = "Tenant id")),
    request_body = AdminPasswordBody,
    responses((status = 202, body = Accepted), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn reset_admin_password(
    State(state): State<ApiState>,
    caller: OwnerCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AdminPasswordBody>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "tenant")?;
    let accepted = owned::reset_admin_password(
        &state.platform,
        &caller.owner,
        &id.to_string(),
        &SecretString::from(body.password),
    )
    .await?;
    Ok(super::accepted_at(
        &format!("/api/v1/owner/jobs/{}", accepted.job_id),
        accepted,
    ))
}

/// Companies to add.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CompaniesBody {
    /// Their names.
    pub companies: Vec<String>,
}

/// Adds companies to the tenant's Odoo (a job), within the plan's limit.
#[utoipa::path(post, path = "/owner/tenants/{id}/companies", tag = "owner tenants", params(("id" = Uuid, Path, description = "Tenant id")),
    request_body = CompaniesBody,
    responses((status = 202, body = Accepted), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_companies(
    State(state): State<ApiState>,
    caller: OwnerCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CompaniesBody>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "tenant")?;
    let accepted = owned::add_companies(
        &state.platform,
        &caller.owner,
        &id.to_string(),
        body.companies,
    )
    .await?;
    Ok(super::accepted_at(
        &format!("/api/v1/owner/jobs/{}", accepted.job_id),
        accepted,
    ))
}

/// A deletion.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DeleteBody {
    /// The tenant's name (slug), typed to confirm.
    pub confirm: String,
}

/// Deletes the tenant after a final backup (a job); `confirm` must be its name.
#[utoipa::path(post, path = "/owner/tenants/{id}/delete", tag = "owner tenants", params(("id" = Uuid, Path, description = "Tenant id")),
    request_body = DeleteBody,
    responses((status = 202, body = Accepted), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn delete_tenant(
    State(state): State<ApiState>,
    caller: OwnerCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DeleteBody>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "tenant")?;
    let accepted = owned::delete(
        &state.platform,
        &caller.owner,
        &id.to_string(),
        &body.confirm,
    )
    .await?;
    Ok(super::accepted_at(
        &format!("/api/v1/owner/jobs/{}", accepted.job_id),
        accepted,
    ))
}

/// A new token's name.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewTokenBody {
    /// 1 to 100 characters, unique among your live tokens.
    pub name: String,
}

/// A new token: shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewTokenView {
    /// Its name.
    pub name: String,
    /// The token (`saas_owner_…`): keep it, it is not shown again.
    pub token: String,
}

/// The caller's live API tokens.
#[utoipa::path(get, path = "/owner/tokens", tag = "owner account",
    responses((status = 200, body = [tokens::OwnerToken]), (status = 401, body = ErrorBody)))]
pub async fn list_tokens(
    State(state): State<ApiState>,
    caller: OwnerCaller,
) -> Result<Json<Vec<tokens::OwnerToken>>, ApiError> {
    Ok(Json(tokens::list(&state.platform, caller.owner.id).await?))
}

/// Makes an owner API token; it reaches only the caller's own account and tenants.
#[utoipa::path(post, path = "/owner/tokens", tag = "owner account", request_body = NewTokenBody,
    responses((status = 201, body = NewTokenView), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_token(
    State(state): State<ApiState>,
    caller: OwnerCaller,
    ApiJson(body): ApiJson<NewTokenBody>,
) -> Result<Response, ApiError> {
    let token = tokens::create(
        &state.platform,
        caller.owner.id,
        &caller.owner.email,
        &body.name,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(NewTokenView {
            name: body.name.trim().to_owned(),
            token: token.expose_secret().to_owned(),
        }),
    )
        .into_response())
}

/// Revokes one of the caller's tokens by name.
#[utoipa::path(delete, path = "/owner/tokens/{name}", tag = "owner account", params(("name" = String, Path, description = "Token name")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_token(
    State(state): State<ApiState>,
    caller: OwnerCaller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    tokens::revoke(&state.platform, caller.owner.id, &caller.owner.email, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every owner account, newest first (superadmin API token).
#[utoipa::path(get, path = "/owners", tag = "owners",
    responses((status = 200, body = [crate::owners::OwnerSummary]), (status = 401, body = ErrorBody)))]
pub async fn list_owners(
    State(state): State<ApiState>,
    _client: super::ApiClient,
) -> Result<Json<Vec<crate::owners::OwnerSummary>>, ApiError> {
    Ok(Json(crate::owners::list(&state.platform, 500).await?))
}

/// The custom domains of one of the caller's tenants, oldest first (404 for anyone else's
/// tenant).
#[utoipa::path(get, path = "/owner/tenants/{id}/domains", tag = "owner tenants",
    params(("id" = Uuid, Path, description = "Tenant id")),
    responses((status = 200, body = [crate::domains::CustomDomain]), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_domains(
    State(state): State<ApiState>,
    caller: OwnerCaller,
    Path(id): Path<String>,
) -> Result<Json<Vec<crate::domains::CustomDomain>>, ApiError> {
    let id = parse_id(&id, "tenant")?;
    Ok(Json(
        owned_domains::list(&state.platform, &caller.owner, id).await?,
    ))
}

/// Adds a custom domain to one of the caller's tenants: the answer says which CNAME to
/// create at your DNS provider; a job checks DNS until it is seen, then the domain is
/// routed with its own certificate.
#[utoipa::path(post, path = "/owner/tenants/{id}/domains", tag = "owner tenants",
    params(("id" = Uuid, Path, description = "Tenant id")), request_body = super::domains::AddDomainBody,
    responses((status = 201, body = crate::domains::CustomDomain), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "csrf_mismatch (a session without its CSRF token)", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "domain_taken (another tenant has it), tenant_deleted", body = ErrorBody),
        (status = 422, description = "domain_invalid, domain_ours (under the platform's domain), too_many_domains", body = ErrorBody)))]
pub async fn add_domain(
    State(state): State<ApiState>,
    caller: OwnerCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<super::domains::AddDomainBody>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "tenant")?;
    let domain = owned_domains::add(&state.platform, &caller.owner, id, &body.domain).await?;
    let location = format!(
        "/api/v1/owner/tenants/{}/domains/{}",
        domain.tenant_id, domain.domain
    );
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(domain),
    )
        .into_response())
}

/// One custom domain of one of the caller's tenants, with its state and what the last DNS
/// check found.
#[utoipa::path(get, path = "/owner/tenants/{id}/domains/{domain}", tag = "owner tenants",
    params(("id" = Uuid, Path, description = "Tenant id"), ("domain" = String, Path, description = "The host name")),
    responses((status = 200, body = crate::domains::CustomDomain), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn domain(
    State(state): State<ApiState>,
    caller: OwnerCaller,
    Path((id, domain)): Path<(String, String)>,
) -> Result<Json<crate::domains::CustomDomain>, ApiError> {
    let id = parse_id(&id, "tenant")?;
    Ok(Json(
        owned_domains::get(&state.platform, &caller.owner, id, &domain).await?,
    ))
}

/// Checks a pending domain's DNS now, or checks a failed one again (a new deadline).
#[utoipa::path(post, path = "/owner/tenants/{id}/domains/{domain}/verify", tag = "owner tenants",
    params(("id" = Uuid, Path, description = "Tenant id"), ("domain" = String, Path, description = "The host name")),
    responses((status = 202, body = crate::domains::CustomDomain), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "domain_verified (nothing to check), tenant_deleted", body = ErrorBody)))]
pub async fn verify_domain(
    State(state): State<ApiState>,
    caller: OwnerCaller,
    Path((id, domain)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "tenant")?;
    let domain = owned_domains::verify_now(&state.platform, &caller.owner, id, &domain).await?;
    Ok((StatusCode::ACCEPTED, Json(domain)).into_response())
}

/// Removes a custom domain from one of the caller's tenants; its route goes with it.
#[utoipa::path(delete, path = "/owner/tenants/{id}/domains/{domain}", tag = "owner tenants",
    params(("id" = Uuid, Path, description = "Tenant id"), ("domain" = String, Path, description = "The host name")),
    responses((status = 204, description = "removed"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn remove_domain(
    State(state): State<ApiState>,
    caller: OwnerCaller,
    Path((id, domain)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id, "tenant")?;
    owned_domains::remove(&state.platform, &caller.owner, id, &domain).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Disables an owner account (superadmin API token): no sign-in; their sessions end and
/// their API tokens are refused at once. Their tenants keep running.
#[utoipa::path(post, path = "/owners/{id}/disable", tag = "owners",
    params(("id" = Uuid, Path, description = "Owner id")),
    responses((status = 200, body = Owner), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn disable_owner(
    State(state): State<ApiState>,
    client: super::ApiClient,
    Path(id): Path<String>,
) -> Result<Json<Owner>, ApiError> {
    let id = parse_id(&id, "owner")?;
    Ok(Json(
        crate::owners::set_disabled(&state.platform, &client.actor, id, true).await?,
    ))
}

/// Enables a disabled owner account again (superadmin API token): they can sign in, and
/// their API tokens that were not revoked work again.
#[utoipa::path(post, path = "/owners/{id}/enable", tag = "owners",
    params(("id" = Uuid, Path, description = "Owner id")),
    responses((status = 200, body = Owner), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn enable_owner(
    State(state): State<ApiState>,
    client: super::ApiClient,
    Path(id): Path<String>,
) -> Result<Json<Owner>, ApiError> {
    let id = parse_id(&id, "owner")?;
    Ok(Json(
        crate::owners::set_disabled(&state.platform, &client.actor, id, false).await?,
    ))
}
