//! Server functions of the front door (`/sfn/account/*`, public) and the owner portal
//! (`/sfn/owner/*`, a signed-in owner; changes also need the session's CSRF token). Each
//! checks the caller and delegates to the backend; the JSON API (`/api/v1/owner`) calls the
//! same services.
// Form posts map one field to one argument.
#![allow(clippy::too_many_arguments)]

#[cfg(feature = "ssr")]
use super::backend::{authorize_owner_change, call, require_owner};
use super::model::*;
#[cfg(feature = "ssr")]
use crate::admin::backend::fail;
use crate::admin::model::AdminError;
use leptos::prelude::*;

/// The plans on offer (the front door's and the sign-up's).
#[server(prefix = "/sfn/account", endpoint = "catalog")]
pub async fn catalog() -> Result<Vec<PlanCard>, AdminError> {
    call(|b| async move { b.catalog().await }).await
}

/// Opens an account and sends the verification link; then shows "check your inbox", the
/// same page whether or not the address had an account.
#[server(prefix = "/sfn/account", endpoint = "sign_up")]
pub async fn sign_up(name: String, email: String, password: String) -> Result<(), AdminError> {
    let shown = email.trim().to_owned();
    call(|b| async move { b.sign_up(&name, &email, &password).await }).await?;
    leptos_axum::redirect(&format!("/signup?sent={}", crate::admin::encode(&shown)));
    Ok(())
}

/// Signs in, sets the owner cookie and goes to `next` (a local `/my` path) or the portal.
#[server(prefix = "/sfn/account", endpoint = "sign_in")]
pub async fn owner_sign_in(
    email: String,
    password: String,
    next: Option<String>,
) -> Result<(), AdminError> {
    let client = crate::client::ClientAddress::of_request().ok_or_else(|| {
        AdminError::new(
            crate::admin::model::ErrorKind::Internal,
            "The client's address is unknown.",
        )
    })?;
    let session = call(|b| async move { b.sign_in(&email, &password, client).await }).await?;
    set_owner_cookie(&session.token, session.max_age_secs);
    leptos_axum::redirect(&safe_next(next.as_deref()));
    Ok(())
}

/// Adds the owner cookie (or, with an empty token and 0, its removal) to the response.
#[cfg(feature = "ssr")]
fn set_owner_cookie(token: &str, max_age_secs: i64) {
    let secure = use_context::<crate::admin::api::CookieSecure>().is_none_or(|c| c.0);
    let cookie = super::backend::session_set_cookie(token, max_age_secs, secure);
    if let (Some(response), Ok(value)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(&cookie),
    ) {
        response.append_header(http::header::SET_COOKIE, value);
    }
}

/// Only local portal paths, never `//host` or a URL: no open redirect after sign-in.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/my") && !n.starts_with("//") && !n.contains('\\') => {
            n.to_owned()
        }
        _ => "/my".to_owned(),
    }
}

/// Follows a verification link (a button press: mail scanners that open links do not use
/// it up).
#[server(prefix = "/sfn/account", endpoint = "verify_email")]
pub async fn verify_email(token: String) -> Result<String, AdminError> {
    let email = call(|b| async move { b.verify_email(&token).await }).await?;
    leptos_axum::redirect(&format!(
        "/signin?verified={}",
        crate::admin::encode(&email)
    ));
    Ok(email)
}

/// Asks for a password-reset link.
#[server(prefix = "/sfn/account", endpoint = "forgot")]
pub async fn forgot_password(email: String) -> Result<(), AdminError> {
    let shown = email.trim().to_owned();
    call(|b| async move { b.forgot_password(&email).await }).await?;
    leptos_axum::redirect(&format!("/forgot?sent={}", crate::admin::encode(&shown)));
    Ok(())
}

/// Whether a reset link still works (the reset page shows its form only then).
#[server(prefix = "/sfn/account", endpoint = "check_reset")]
pub async fn check_reset(token: String) -> Result<(), AdminError> {
    call(|b| async move { b.check_reset(&token).await }).await
}

/// Sets a new password from a reset link; every session of the account ends.
#[server(prefix = "/sfn/account", endpoint = "reset")]
pub async fn reset_password(
    token: String,
    password: String,
    confirm: String,
) -> Result<(), AdminError> {
    if password != confirm {
        return fail(AdminError::invalid("confirm", "The two passwords differ."));
    }
    call(|b| async move { b.reset_password(&token, &password).await }).await?;
    leptos_axum::redirect("/signin?reset=1");
    Ok(())
}

/// Follows an email-change link.
#[server(prefix = "/sfn/account", endpoint = "confirm_email")]
pub async fn confirm_email_change(token: String) -> Result<String, AdminError> {
    let email = call(|b| async move { b.confirm_email_change(&token).await }).await?;
    leptos_axum::redirect(&format!("/signin?changed={}", crate::admin::encode(&email)));
    Ok(email)
}

/// The signed-in owner and the session's CSRF token.
#[server(prefix = "/sfn/owner", endpoint = "me")]
pub async fn who_am_i() -> Result<OwnerMe, AdminError> {
    let p = require_owner()?;
    Ok(OwnerMe {
        email: p.email,
        name: p.name,
        verified: p.verified,
        csrf: p.csrf,
    })
}

/// Ends the session and clears the cookie.
#[server(prefix = "/sfn/owner", endpoint = "sign_out")]
pub async fn owner_sign_out(csrf: String) -> Result<(), AdminError> {
    authorize_owner_change(&csrf)?;
    let token = use_context::<http::request::Parts>()
        .and_then(|parts| super::backend::session_cookie(&parts.headers))
        .unwrap_or_default();
    call(|b| async move { b.sign_out(&token).await }).await?;
    set_owner_cookie("", 0);
    leptos_axum::redirect("/signin?signed_out=1");
    Ok(())
}

/// Sends a new verification link.
#[server(prefix = "/sfn/owner", endpoint = "resend_verification")]
pub async fn resend_verification(csrf: String) -> Result<(), AdminError> {
    let p = authorize_owner_change(&csrf)?;
    call(|b| async move { b.resend_verification(&p.id).await }).await
}

/// The owner's tenants.
#[server(prefix = "/sfn/owner", endpoint = "tenants")]
pub async fn my_tenants() -> Result<Vec<TenantCard>, AdminError> {
    let p = require_owner()?;
    call(|b| async move { b.tenants(&p.id).await }).await
}

/// One of the owner's tenants.
#[server(prefix = "/sfn/owner", endpoint = "tenant")]
pub async fn my_tenant(id: String) -> Result<OwnerTenant, AdminError> {
    let p = require_owner()?;
    call(|b| async move { b.tenant(&p.id, &id).await }).await
}

/// The sign-up form's plans and a fresh key for it.
#[server(prefix = "/sfn/owner", endpoint = "tenant_signup_form")]
pub async fn tenant_signup_form() -> Result<SignupForm, AdminError> {
    let p = require_owner()?;
    call(|b| async move { b.signup_form(&p.id).await }).await
}

/// Whether a subdomain is free (the sign-up's live check).
#[server(prefix = "/sfn/owner", endpoint = "check_slug")]
pub async fn check_slug(slug: String) -> Result<SlugCheck, AdminError> {
    require_owner()?;
    call(|b| async move { b.check_slug(&slug).await }).await
}

/// Signs up a tenant, then shows its page (which follows the provisioning live), or, on a
/// paid plan, sends the owner to Stripe Checkout first.
#[server(prefix = "/sfn/owner", endpoint = "create_tenant")]
pub async fn create_tenant(
    csrf: String,
    plan: String,
    slug: String,
    company_name: String,
    extra_companies: Option<String>,
    odoo_password: String,
    odoo_password_confirm: String,
    signup_key: String,
    interval: Option<String>,
) -> Result<String, AdminError> {
    let p = authorize_owner_change(&csrf)?;
    if odoo_password != odoo_password_confirm {
        return fail(AdminError::invalid(
            "odoo_password_confirm",
            "The two passwords differ.",
        ));
    }
    let form = NewOwnerTenant {
        plan,
        slug: slug.trim().to_ascii_lowercase(),
        company_name,
        extra_companies: lines(&extra_companies.unwrap_or_default()),
        odoo_password,
        signup_key,
        interval: interval.unwrap_or_default(),
    };
    let made = call(|b| async move { b.create_tenant(&p.id, form).await }).await?;
    // A paid plan: to Stripe Checkout first (it sends the owner back to the tenant's page).
    match &made.checkout_url {
        Some(url) => leptos_axum::redirect(url),
        None => leptos_axum::redirect(&format!("/my/tenants/{}", made.id)),
    }
    Ok(made.id)
}

/// Sets the Odoo administrator's password (a job; the password is never emailed).
#[server(prefix = "/sfn/owner", endpoint = "reset_admin_password")]
pub async fn reset_admin_password(
    csrf: String,
    id: String,
    password: String,
    confirm: String,
) -> Result<(), AdminError> {
    let p = authorize_owner_change(&csrf)?;
    if password != confirm {
        return fail(AdminError::invalid("confirm", "The two passwords differ."));
    }
    call(|b| async move { b.reset_admin_password(&p.id, &id, &password).await }).await
}

/// Adds companies (a job).
#[server(prefix = "/sfn/owner", endpoint = "add_companies")]
pub async fn add_companies(csrf: String, id: String, companies: String) -> Result<(), AdminError> {
    let p = authorize_owner_change(&csrf)?;
    let names = lines(&companies);
    call(|b| async move { b.add_companies(&p.id, &id, names).await }).await
}

/// Deletes a tenant after a final backup; its name must be typed in `confirm`.
#[server(prefix = "/sfn/owner", endpoint = "delete_tenant")]
pub async fn delete_tenant(csrf: String, id: String, confirm: String) -> Result<(), AdminError> {
    let p = authorize_owner_change(&csrf)?;
    call(|b| async move { b.delete_tenant(&p.id, &id, &confirm).await }).await
}

/// Adds (`op` = `add`), checks again (`verify`) or removes (`remove`, the domain typed
/// again in `confirm`) a custom domain of one of the owner's tenants.
#[server(prefix = "/sfn/owner", endpoint = "domain_op")]
pub async fn change_domain(
    csrf: String,
    id: String,
    op: String,
    domain: String,
    confirm: Option<String>,
) -> Result<(), AdminError> {
    use crate::admin::model::DomainOp;
    let p = authorize_owner_change(&csrf)?;
    let op = match op.as_str() {
        "add" => DomainOp::Add,
        "verify" => DomainOp::Verify,
        "remove" => {
            if confirm.as_deref().map(str::trim) != Some(domain.trim()) {
                return fail(AdminError::invalid(
                    "confirm",
                    format!("Type '{}' to confirm the removal.", domain.trim()),
                ));
            }
            DomainOp::Remove
        }
        other => {
            return fail(AdminError::invalid(
                "op",
                format!("Unknown operation '{other}'."),
            ))
        }
    };
    call(|b| async move { b.domain_op(&p.id, &id, op, &domain).await }).await
}

/// Changes the password; the owner's other sessions end.
#[server(prefix = "/sfn/owner", endpoint = "change_password")]
pub async fn change_password(
    csrf: String,
    current_password: String,
    password: String,
    confirm: String,
) -> Result<(), AdminError> {
    let p = authorize_owner_change(&csrf)?;
    if password != confirm {
        return fail(AdminError::invalid("confirm", "The two passwords differ."));
    }
    let session = use_context::<http::request::Parts>()
        .and_then(|parts| super::backend::session_cookie(&parts.headers))
        .unwrap_or_default();
    call(|b| async move {
        b.change_password(&p.id, &session, &current_password, &password)
            .await
    })
    .await
}

/// Asks to move the account to another address (a link goes there).
#[server(prefix = "/sfn/owner", endpoint = "change_email")]
pub async fn change_email(
    csrf: String,
    current_password: String,
    new_email: String,
) -> Result<(), AdminError> {
    let p = authorize_owner_change(&csrf)?;
    call(|b| async move { b.change_email(&p.id, &current_password, &new_email).await }).await
}

/// Ends every session of the owner, this one included.
#[server(prefix = "/sfn/owner", endpoint = "sign_out_everywhere")]
pub async fn sign_out_everywhere(csrf: String) -> Result<(), AdminError> {
    let p = authorize_owner_change(&csrf)?;
    call(|b| async move { b.sign_out_everywhere(&p.id).await }).await?;
    set_owner_cookie("", 0);
    leptos_axum::redirect("/signin?signed_out=everywhere");
    Ok(())
}

/// The owner's API tokens.
#[server(prefix = "/sfn/owner", endpoint = "tokens")]
pub async fn my_tokens() -> Result<Vec<TokenRow>, AdminError> {
    let p = require_owner()?;
    call(|b| async move { b.tokens(&p.id).await }).await
}

/// Makes an API token; the secret is shown once.
#[server(prefix = "/sfn/owner", endpoint = "create_token")]
pub async fn create_token(csrf: String, name: String) -> Result<NewToken, AdminError> {
    let p = authorize_owner_change(&csrf)?;
    call(|b| async move { b.create_token(&p.id, &name).await }).await
}

/// Revokes an API token.
#[server(prefix = "/sfn/owner", endpoint = "revoke_token")]
pub async fn revoke_token(csrf: String, name: String) -> Result<(), AdminError> {
    let p = authorize_owner_change(&csrf)?;
    call(|b| async move { b.revoke_token(&p.id, &name).await }).await
}
