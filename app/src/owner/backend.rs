//! The server side of the owner pages (feature `ssr`): the service layer seen through a
//! trait the `server` crate implements and provides as Leptos context, the owner's session
//! cookie, and the checks every server function makes. As in the operations portal, the
//! server functions hold no business logic: they check the caller and delegate.

use super::model::*;
use crate::admin::backend::{fail, same_token};
use crate::admin::model::{AdminError, ErrorKind};
use leptos::prelude::*;
use std::sync::Arc;

/// The owner session cookie's name (the operations portal's is `saas_admin`).
pub const SESSION_COOKIE: &str = "saas_owner";

/// A signed-in owner, put into the request's extensions by the server's session layer.
#[derive(Clone, Debug)]
pub struct OwnerPrincipal {
    /// Owner id.
    pub id: String,
    /// Email.
    pub email: String,
    /// Name.
    pub name: String,
    /// The address is confirmed.
    pub verified: bool,
    /// The session's CSRF token.
    pub csrf: String,
}

/// A new owner session.
#[derive(Clone, Debug)]
pub struct OwnerSession {
    /// The cookie value (shown once, stored hashed).
    pub token: String,
    /// Cookie lifetime in seconds.
    pub max_age_secs: i64,
}

/// The service layer as the owner pages use it. `owner` is the signed-in owner's id.
#[async_trait::async_trait]
pub trait OwnerBackend: Send + Sync + 'static {
    /// The plans on offer.
    async fn catalog(&self) -> Result<Vec<PlanCard>, AdminError>;
    /// Opens an account (the same answer whether or not the address has one).
    async fn sign_up(&self, name: &str, email: &str, password: &str) -> Result<(), AdminError>;
    /// Checks a password (throttled per client address and per account) and opens a session.
    async fn sign_in(
        &self,
        email: &str,
        password: &str,
        client: crate::client::ClientAddress,
    ) -> Result<OwnerSession, AdminError>;
    /// Ends the session with this cookie value.
    async fn sign_out(&self, token: &str) -> Result<(), AdminError>;
    /// Follows a verification link; returns the confirmed address.
    async fn verify_email(&self, token: &str) -> Result<String, AdminError>;
    /// Sends a new verification link.
    async fn resend_verification(&self, owner: &str) -> Result<(), AdminError>;
    /// Asks for a password-reset link (the same answer for every address).
    async fn forgot_password(&self, email: &str) -> Result<(), AdminError>;
    /// Whether a reset link still works.
    async fn check_reset(&self, token: &str) -> Result<(), AdminError>;
    /// Follows a reset link with the new password.
    async fn reset_password(&self, token: &str, password: &str) -> Result<(), AdminError>;
    /// Follows an email-change link; returns the new address.
    async fn confirm_email_change(&self, token: &str) -> Result<String, AdminError>;
    /// The owner's tenants, newest first.
    async fn tenants(&self, owner: &str) -> Result<Vec<TenantCard>, AdminError>;
    /// One of the owner's tenants (404 for anyone else's).
    async fn tenant(&self, owner: &str, id: &str) -> Result<OwnerTenant, AdminError>;
    /// What the sign-up form of a new tenant needs (plans, a fresh form key).
    async fn signup_form(&self, owner: &str) -> Result<SignupForm, AdminError>;
    /// Whether a subdomain can be taken.
    async fn check_slug(&self, slug: &str) -> Result<SlugCheck, AdminError>;
    /// Self-service sign-up of a tenant; returns its id, and Stripe Checkout's address when
    /// the plan is paid first.
    async fn create_tenant(
        &self,
        owner: &str,
        form: NewOwnerTenant,
    ) -> Result<CreatedTenant, AdminError>;
    /// Sets the Odoo administrator's password (a job).
    async fn reset_admin_password(
        &self,
        owner: &str,
        id: &str,
        password: &str,
    ) -> Result<(), AdminError>;
    /// Adds companies (a job).
    async fn add_companies(
        &self,
        owner: &str,
        id: &str,
        names: Vec<String>,
    ) -> Result<(), AdminError>;
    /// Deletes a tenant after a final backup; `confirm` must be its name.
    async fn delete_tenant(&self, owner: &str, id: &str, confirm: &str) -> Result<(), AdminError>;
    /// Adds, checks or removes a custom domain of one of the owner's tenants.
    async fn domain_op(
        &self,
        owner: &str,
        id: &str,
        op: crate::admin::model::DomainOp,
        domain: &str,
    ) -> Result<(), AdminError>;
    /// Changes the password (other sessions end).
    async fn change_password(
        &self,
        owner: &str,
        session: &str,
        current: &str,
        new: &str,
    ) -> Result<(), AdminError>;
    /// Asks to move the account to a new address.
    async fn change_email(
        &self,
        owner: &str,
        current: &str,
        new_email: &str,
    ) -> Result<(), AdminError>;
    /// Ends every session of the owner.
    async fn sign_out_everywhere(&self, owner: &str) -> Result<(), AdminError>;
    /// The owner's API tokens.
    async fn tokens(&self, owner: &str) -> Result<Vec<TokenRow>, AdminError>;
    /// Makes an API token (shown once).
    async fn create_token(&self, owner: &str, name: &str) -> Result<NewToken, AdminError>;
    /// Revokes an API token.
    async fn revoke_token(&self, owner: &str, name: &str) -> Result<(), AdminError>;
}

/// The backend handle in Leptos context.
pub type Backend = Arc<dyn OwnerBackend>;

/// The `Set-Cookie` value of the owner session cookie (an empty token with 0 clears it).
pub fn session_set_cookie(token: &str, max_age_secs: i64, secure: bool) -> String {
    crate::admin::backend::set_cookie(SESSION_COOKIE, token, max_age_secs, secure)
}

/// The owner session cookie's value among a request's `Cookie` headers.
pub fn session_cookie(headers: &http::HeaderMap) -> Option<String> {
    crate::admin::backend::cookie_value(headers, SESSION_COOKIE)
}

/// The caller, if a signed-in owner.
pub fn principal() -> Option<OwnerPrincipal> {
    use_context::<http::request::Parts>()?
        .extensions
        .get::<OwnerPrincipal>()
        .cloned()
}

/// The caller for a read: a signed-in owner.
pub fn require_owner() -> Result<OwnerPrincipal, AdminError> {
    match principal() {
        Some(p) => Ok(p),
        None => fail(AdminError::new(
            ErrorKind::Unauthorized,
            "Your session has ended. Sign in again.",
        )),
    }
}

/// The caller for a change: a signed-in owner whose request carries the session's CSRF
/// token (compared in constant time).
pub fn authorize_owner_change(csrf: &str) -> Result<OwnerPrincipal, AdminError> {
    let p = require_owner()?;
    if !same_token(&p.csrf, csrf) {
        tracing::warn!(owner = %p.id, "refused an owner change with a bad CSRF token");
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
    let backend = use_context::<Backend>().ok_or_else(|| {
        AdminError::new(ErrorKind::Internal, "The owner pages are not configured.")
    })?;
    match f(backend).await {
        Ok(v) => Ok(v),
        Err(e) => fail(e),
    }
}
