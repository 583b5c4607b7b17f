//! The portal's server functions: check the caller, then delegate to the backend. Reads
//! need a signed-in superadmin; changes also need the session's CSRF token.
// Form posts map one field to one argument, so the create forms take many.
#![allow(clippy::too_many_arguments)]

#[cfg(feature = "ssr")]
use super::backend::{authorize_change, call, fail, require_admin};
use super::model::*;
use leptos::prelude::*;

/// Signs in and sets the session cookie, then goes to `next` (a local path) or the dashboard.
#[server(prefix = "/sfn/auth", endpoint = "sign_in")]
pub async fn sign_in(
    email: String,
    password: String,
    next: Option<String>,
) -> Result<(), AdminError> {
    // Set by the server's middleware; absent only outside a real request.
    let client = crate::client::ClientAddress::of_request().unwrap_or(
        crate::client::ClientAddress(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
    );
    let signed_in = call(|b| async move { b.sign_in(&email, &password, client).await }).await?;
    set_session_cookie(&signed_in.token, signed_in.max_age_secs);
    leptos_axum::redirect(&safe_next(next.as_deref()));
    Ok(())
}

/// Adds the session cookie (or, with an empty token and 0, its removal) to the response.
#[cfg(feature = "ssr")]
fn set_session_cookie(token: &str, max_age_secs: i64) {
    let secure = use_context::<CookieSecure>().is_none_or(|c| c.0);
    let cookie = super::backend::session_set_cookie(token, max_age_secs, secure);
    if let (Some(response), Ok(value)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(&cookie),
    ) {
        response.append_header(http::header::SET_COOKIE, value);
    }
}

/// Whether session cookies carry `Secure` (provided by the server; true unless configured off).
#[derive(Clone, Copy, Debug)]
pub struct CookieSecure(pub bool);

/// Only local absolute paths, never `//host` or a URL: no open redirect after sign-in.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/admin") && !n.starts_with("//") && !n.contains('\\') => {
            n.to_owned()
        }
        _ => "/admin".to_owned(),
    }
}

/// Ends the session and clears the cookie.
#[server(prefix = "/sfn/admin", endpoint = "sign_out")]
pub async fn sign_out(csrf: String) -> Result<(), AdminError> {
    authorize_change(&csrf)?;
    let token = use_context::<http::request::Parts>()
        .and_then(|parts| super::backend::session_cookie(&parts.headers))
        .unwrap_or_default();
    call(|b| async move { b.sign_out(&token).await }).await?;
    set_session_cookie("", 0);
    leptos_axum::redirect("/admin/login?signed_out=1");
    Ok(())
}

/// The signed-in operator and the session's CSRF token.
#[server(prefix = "/sfn/admin", endpoint = "me")]
pub async fn whoami() -> Result<Me, AdminError> {
    let p = require_admin()?;
    Ok(Me {
        email: p.email,
        csrf: p.csrf,
    })
}

/// Dashboard counts.
#[server(prefix = "/sfn/admin", endpoint = "dashboard")]
pub async fn dashboard_counts() -> Result<Dashboard, AdminError> {
    require_admin()?;
    call(|b| async move { b.dashboard().await }).await
}

/// A page of the tenants table.
#[server(prefix = "/sfn/admin", endpoint = "tenants")]
pub async fn list_tenants(query: TenantQuery) -> Result<TenantTable, AdminError> {
    require_admin()?;
    call(|b| async move { b.tenants(query).await }).await
}

/// Plans new tenants can take.
#[server(prefix = "/sfn/admin", endpoint = "plan_options")]
pub async fn plan_options() -> Result<Vec<PlanOption>, AdminError> {
    require_admin()?;
    call(|b| async move { b.plan_options().await }).await
}

/// One tenant.
#[server(prefix = "/sfn/admin", endpoint = "tenant")]
pub async fn get_tenant(slug: String) -> Result<TenantDetail, AdminError> {
    require_admin()?;
    call(|b| async move { b.tenant(&slug).await }).await
}

/// A tenant's custom domains.
#[server(prefix = "/sfn/admin", endpoint = "tenant_domains")]
pub async fn get_tenant_domains(slug: String) -> Result<Vec<DomainRow>, AdminError> {
    require_admin()?;
    call(|b| async move { b.tenant_domains(&slug).await }).await
}

/// Adds, checks or removes a custom domain of a tenant. Removal needs the domain typed
/// again in `confirm`.
#[server(prefix = "/sfn/admin", endpoint = "domain_op")]
pub async fn change_domain(
    csrf: String,
    slug: String,
    op: String,
    domain: String,
    confirm: Option<String>,
) -> Result<(), AdminError> {
    let p = authorize_change(&csrf)?;
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
    let actor = p.email.clone();
    call(|b| async move { b.domain_op(&actor, &slug, op, &domain).await }).await
}

/// Creates a tenant, then shows its page.
#[server(prefix = "/sfn/admin", endpoint = "create_tenant")]
pub async fn create_tenant(
    csrf: String,
    slug: String,
    owner_email: String,
    owner_name: Option<String>,
    owner_password: String,
    plan: String,
    company_name: Option<String>,
    multi_company: Option<String>,
    companies: Option<String>,
) -> Result<String, AdminError> {
    let p = authorize_change(&csrf)?;
    let extra_companies: Vec<String> = if multi_company.is_some() {
        companies
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    } else {
        Vec::new()
    };
    if multi_company.is_some() && extra_companies.is_empty() {
        return fail(AdminError::invalid(
            "companies",
            "Name at least one more company, one per line, or untick multi-company.",
        ));
    }
    let form = NewTenantForm {
        slug: slug.trim().to_owned(),
        owner_email,
        owner_name: owner_name.unwrap_or_default(),
        owner_password,
        plan,
        company_name: company_name.unwrap_or_default(),
        extra_companies,
    };
    let actor = p.email.clone();
    let slug = call(|b| async move { b.create_tenant(&actor, form).await }).await?;
    leptos_axum::redirect(&format!("/admin/tenants/{slug}"));
    Ok(slug)
}

/// Deactivates, reactivates or deletes a tenant. Delete needs the slug typed in `confirm`.
#[server(prefix = "/sfn/admin", endpoint = "tenant_op")]
pub async fn change_tenant(
    csrf: String,
    slug: String,
    op: String,
    confirm: Option<String>,
    backup: Option<String>,
) -> Result<(), AdminError> {
    let p = authorize_change(&csrf)?;
    let op = match op.as_str() {
        "deactivate" => TenantOp::Deactivate,
        "reactivate" => TenantOp::Reactivate,
        "delete" => {
            if confirm.as_deref().map(str::trim) != Some(slug.as_str()) {
                return fail(AdminError::invalid(
                    "confirm",
                    format!("Type '{slug}' to confirm the deletion."),
                ));
            }
            TenantOp::Delete {
                backup: backup.is_some(),
            }
        }
        other => {
            return fail(AdminError::invalid(
                "op",
                format!("Unknown operation '{other}'."),
            ))
        }
    };
    let actor = p.email.clone();
    call(|b| async move { b.tenant_op(&actor, &slug, op).await }).await
}

/// The jobs monitor's content (also streamed live at `/admin/events/jobs`).
#[server(prefix = "/sfn/admin", endpoint = "jobs")]
pub async fn list_jobs() -> Result<JobsView, AdminError> {
    require_admin()?;
    call(|b| async move { b.jobs().await }).await
}

/// Retries or cancels a job.
#[server(prefix = "/sfn/admin", endpoint = "job_op")]
pub async fn change_job(csrf: String, id: String, op: String) -> Result<(), AdminError> {
    let p = authorize_change(&csrf)?;
    let op = match op.as_str() {
        "retry" => JobOp::Retry,
        "cancel" => JobOp::Cancel,
        other => {
            return fail(AdminError::invalid(
                "op",
                format!("Unknown operation '{other}'."),
            ))
        }
    };
    let actor = p.email.clone();
    call(|b| async move { b.job_op(&actor, &id, op).await }).await
}

/// Every plan.
#[server(prefix = "/sfn/admin", endpoint = "plans")]
pub async fn list_plans() -> Result<Vec<PlanRow>, AdminError> {
    require_admin()?;
    call(|b| async move { b.plans().await }).await
}

/// Creates (empty `id`) or edits a plan.
#[server(prefix = "/sfn/admin", endpoint = "save_plan")]
pub async fn save_plan(
    csrf: String,
    id: Option<String>,
    key: Option<String>,
    name: String,
    price: String,
    currency: String,
    modules: String,
    max_users: String,
    max_companies: String,
    storage_mb: String,
    pos_sample_products: Option<String>,
) -> Result<(), AdminError> {
    let p = authorize_change(&csrf)?;
    let form = PlanForm {
        id: id.unwrap_or_default(),
        key: key.unwrap_or_default(),
        name,
        price,
        currency,
        modules,
        max_users,
        max_companies,
        storage_mb,
        pos_sample_products: pos_sample_products.is_some_and(|v| !v.is_empty()),
    };
    let actor = p.email.clone();
    call(|b| async move { b.save_plan(&actor, form).await }).await
}

/// Archives (`active=false`) or restores a plan.
#[server(prefix = "/sfn/admin", endpoint = "plan_active")]
pub async fn set_plan_active(csrf: String, id: String, active: String) -> Result<(), AdminError> {
    let p = authorize_change(&csrf)?;
    let actor = p.email.clone();
    let active = active == "true";
    call(|b| async move { b.set_plan_active(&actor, &id, active).await }).await
}

/// A page of the audit log.
#[server(prefix = "/sfn/admin", endpoint = "audit")]
pub async fn list_audit(query: AuditQuery) -> Result<AuditPage, AdminError> {
    require_admin()?;
    call(|b| async move { b.audit(query).await }).await
}

/// A page of the outbox.
#[server(prefix = "/sfn/admin", endpoint = "outbox")]
pub async fn list_outbox(query: OutboxQuery) -> Result<OutboxPage, AdminError> {
    require_admin()?;
    call(|b| async move { b.outbox(query).await }).await
}

/// Sends a failed or dead message again.
#[server(prefix = "/sfn/admin", endpoint = "outbox_retry")]
pub async fn retry_message(csrf: String, id: String) -> Result<(), AdminError> {
    let p = authorize_change(&csrf)?;
    let actor = p.email.clone();
    call(|b| async move { b.retry_message(&actor, &id).await }).await
}

/// Tenant owners' accounts, newest first.
#[server(prefix = "/sfn/admin", endpoint = "owners")]
pub async fn list_owners() -> Result<Vec<OwnerRow>, AdminError> {
    require_admin()?;
    call(|b| async move { b.owners().await }).await
}

/// Disables (`op` = `disable`) or enables (`enable`) an owner account.
#[server(prefix = "/sfn/admin", endpoint = "owner_op")]
pub async fn change_owner(csrf: String, id: String, op: String) -> Result<(), AdminError> {
    let p = authorize_change(&csrf)?;
    let disabled = match op.as_str() {
        "disable" => true,
        "enable" => false,
        other => {
            return fail(AdminError::invalid(
                "op",
                format!("Unknown operation '{other}'."),
            ))
        }
    };
    let actor = p.email.clone();
    call(|b| async move { b.set_owner_disabled(&actor, &id, disabled).await }).await
}
