//! The server side of the portal (feature `ssr`): the service layer seen through a trait
//! that the `server` crate implements and provides as Leptos context. The portal's server
//! functions hold no business logic of their own; they check who is calling and delegate.

use super::model::*;
use leptos::prelude::*;
use std::sync::Arc;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "saas_admin";

/// The `Set-Cookie` value of the session cookie; an empty token with `max_age_secs` 0
/// clears it (with the same attributes, so a `Secure` cookie can be overwritten).
pub fn session_set_cookie(token: &str, max_age_secs: i64, secure: bool) -> String {
    set_cookie(SESSION_COOKIE, token, max_age_secs, secure)
}

/// The `Set-Cookie` value of a session cookie named `name` (HttpOnly, SameSite=Lax).
pub fn set_cookie(name: &str, token: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{name}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The session cookie's value among a request's `Cookie` headers.
pub fn session_cookie(headers: &http::HeaderMap) -> Option<String> {
    cookie_value(headers, SESSION_COOKIE)
}

/// The value of the cookie `name` among a request's `Cookie` headers.
pub fn cookie_value(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Whether two tokens are equal, compared in constant time.
pub fn same_token(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A signed-in superadmin, put into the request's extensions by the server's session
/// middleware (absent for anonymous requests).
#[derive(Clone, Debug)]
pub struct Principal {
    /// Superadmin id.
    pub id: String,
    /// Email.
    pub email: String,
    /// The session's CSRF token.
    pub csrf: String,
}

/// A new session.
#[derive(Clone, Debug)]
pub struct SignedIn {
    /// The cookie value (shown once, stored hashed).
    pub token: String,
    /// Cookie lifetime in seconds.
    pub max_age_secs: i64,
}

/// The service layer as the portal uses it. `actor` is the signed-in superadmin's email.
#[async_trait::async_trait]
pub trait AdminBackend: Send + Sync + 'static {
    /// Checks a password (throttled per client address and per account) and opens a session.
    async fn sign_in(
        &self,
        email: &str,
        password: &str,
        client: crate::client::ClientAddress,
    ) -> Result<SignedIn, AdminError>;
    /// Ends the session with this cookie value.
    async fn sign_out(&self, token: &str) -> Result<(), AdminError>;
    /// Dashboard counts.
    async fn dashboard(&self) -> Result<Dashboard, AdminError>;
    /// A page of tenants.
    async fn tenants(&self, query: TenantQuery) -> Result<TenantTable, AdminError>;
    /// Plans that new tenants can take.
    async fn plan_options(&self) -> Result<Vec<PlanOption>, AdminError>;
    /// One tenant.
    async fn tenant(&self, slug: &str) -> Result<TenantDetail, AdminError>;
    /// Creates a tenant; returns its slug.
    async fn create_tenant(&self, actor: &str, form: NewTenantForm) -> Result<String, AdminError>;
    /// Deactivates, reactivates or deletes a tenant.
    async fn tenant_op(&self, actor: &str, slug: &str, op: TenantOp) -> Result<(), AdminError>;
    /// The jobs monitor.
    async fn jobs(&self) -> Result<JobsView, AdminError>;
    /// Retries or cancels a job.
    async fn job_op(&self, actor: &str, id: &str, op: JobOp) -> Result<(), AdminError>;
    /// Every plan.
    async fn plans(&self) -> Result<Vec<PlanRow>, AdminError>;
    /// Creates or edits a plan.
    async fn save_plan(&self, actor: &str, form: PlanForm) -> Result<(), AdminError>;
    /// Archives (inactive) or restores a plan.
    async fn set_plan_active(&self, actor: &str, id: &str, active: bool) -> Result<(), AdminError>;
    /// A page of the audit log.
    async fn audit(&self, query: AuditQuery) -> Result<AuditPage, AdminError>;
    /// A page of the outbox.
    async fn outbox(&self, query: OutboxQuery) -> Result<OutboxPage, AdminError>;
    /// Sends a failed or dead message again.
    async fn retry_message(&self, actor: &str, id: &str) -> Result<(), AdminError>;
    /// Tenant owners' accounts, newest first.
    async fn owners(&self) -> Result<Vec<OwnerRow>, AdminError>;
    /// Disables (sessions and API tokens refused at once) or enables an owner.
    async fn set_owner_disabled(
        &self,
        actor: &str,
        id: &str,
        disabled: bool,
    ) -> Result<(), AdminError>;
    /// A tenant's custom domains.
    async fn tenant_domains(&self, slug: &str) -> Result<Vec<DomainRow>, AdminError>;
    /// Adds, checks or removes a tenant's custom domain.
    async fn domain_op(
        &self,
        actor: &str,
        slug: &str,
        op: DomainOp,
        domain: &str,
    ) -> Result<(), AdminError>;
}

/// The backend handle in Leptos context.
pub type Backend = Arc<dyn AdminBackend>;

/// The backend, or an internal error if the server did not provide one.
pub fn backend() -> Result<Backend, AdminError> {
    use_context::<Backend>()
        .ok_or_else(|| AdminError::new(ErrorKind::Internal, "The portal is not configured."))
}

/// Sets the response status for `error` and passes it on. A plain HTML form post (no wasm
/// yet) keeps Leptos' redirect back to the form, which then shows the error from the URL.
pub fn fail<T>(error: AdminError) -> Result<T, AdminError> {
    let plain_form = use_context::<http::request::Parts>().is_some_and(|parts| {
        parts
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
    });
    if plain_form {
        return Err(error);
    }
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(status) = http::StatusCode::from_u16(error.status()) {
            response.set_status(status);
        }
        if let Some(secs) = error.retry_after_secs {
            response.insert_header(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
        }
    }
    Err(error)
}

/// The caller, if signed in.
pub fn principal() -> Option<Principal> {
    use_context::<http::request::Parts>()?
        .extensions
        .get::<Principal>()
        .cloned()
}

/// The caller for a read: must be a signed-in superadmin.
pub fn require_admin() -> Result<Principal, AdminError> {
    match principal() {
        Some(p) => Ok(p),
        None => fail(AdminError::new(
            ErrorKind::Unauthorized,
            "Your session has ended. Sign in again.",
        )),
    }
}

/// The caller for a change: a signed-in superadmin whose request carries the session's
/// CSRF token (compared in constant time).
pub fn authorize_change(csrf: &str) -> Result<Principal, AdminError> {
    let p = require_admin()?;
    if !same_token(&p.csrf, csrf) {
        tracing::warn!(admin = %p.email, "refused a change with a bad CSRF token");
        return fail(AdminError::new(
            ErrorKind::Forbidden,
            "This form has expired or was not sent by the portal. Reload the page and try again.",
        ));
    }
    Ok(p)
}

/// Runs a backend call, mapping its error to the response status.
pub async fn call<T, F, Fut>(f: F) -> Result<T, AdminError>
where
    F: FnOnce(Backend) -> Fut,
    Fut: std::future::Future<Output = Result<T, AdminError>>,
{
    match f(backend()?).await {
        Ok(v) => Ok(v),
        Err(e) => fail(e),
    }
}
