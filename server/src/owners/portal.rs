//! The owner pages' view of the service layer: [`OwnerBackend`] over [`Platform`], mapping
//! forms onto the services the owner API calls, and results onto the pages' types.

use super::sessions::SigninFailure;
use super::tenants::{self as owned, OwnerRef, Signup};
use super::{accounts, sessions, tokens};
use crate::platform::Platform;
use crate::service::ServiceError;
use crate::tenants::Tenant;
use app::admin::model::{AdminError, ErrorKind};
use app::owner::backend::{OwnerBackend, OwnerSession};
use app::owner::model::*;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use uuid::Uuid;

/// The owner pages' backend.
#[derive(Clone)]
pub struct OwnerPortal {
    p: Platform,
}

impl OwnerPortal {
    /// Over the platform's services.
    pub fn new(p: Platform) -> Self {
        OwnerPortal { p }
    }
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Service errors in the owner's words; internal details go to the log only.
pub fn to_page(error: ServiceError) -> AdminError {
    match error {
        ServiceError::Invalid { message, field, .. } => AdminError {
            field: field.map(str::to_owned),
            ..AdminError::new(ErrorKind::Invalid, message)
        },
        ServiceError::Conflict { message, field, .. } => AdminError {
            field: field.map(str::to_owned),
            ..AdminError::new(ErrorKind::Conflict, message)
        },
        ServiceError::NotFound(what) => {
            AdminError::new(ErrorKind::NotFound, format!("There is no such {what}."))
        }
        ServiceError::Internal(detail) => {
            tracing::error!(error = %detail, "owner request failed");
            AdminError::new(
                ErrorKind::Internal,
                "Something went wrong on our side; we have been told. Try again in a moment.",
            )
        }
    }
}

/// A uuid from a page; a malformed one names nothing (404).
fn id_of(raw: &str, what: &'static str) -> Result<Uuid, AdminError> {
    Uuid::parse_str(raw.trim()).map_err(|_| to_page(ServiceError::NotFound(what)))
}

async fn owner_ref(p: &Platform, owner: &str) -> Result<OwnerRef, AdminError> {
    let id = id_of(owner, "owner")?;
    let account = accounts::account(p, id).await.map_err(to_page)?;
    Ok(OwnerRef {
        id,
        email: account.email,
    })
}

/// A plan as the pages show it.
pub fn plan_card(p: crate::plans::Plan) -> PlanCard {
    PlanCard {
        key: p.key,
        name: p.name,
        price_cents: p.price_cents,
        yearly_price_cents: p
            .yearly_price_cents
            .unwrap_or(p.price_cents.saturating_mul(12)),
        currency: p.currency,
        trial_days: p.trial_days,
        max_users: p.max_users,
        max_companies: p.max_companies,
        storage_mb: p.storage_mb,
        modules: p.modules,
    }
}

/// The plans on offer: active ones, cheapest first.
pub async fn catalog(p: &Platform) -> Result<Vec<PlanCard>, ServiceError> {
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
    Ok(plans.into_iter().map(plan_card).collect())
}

/// The progress of a job as the owner sees it.
pub fn progress(op: Option<&str>, job: &job_queue::JobRecord) -> Progress {
    let state = job.state.as_str().to_owned();
    let percent = if state == "succeeded" {
        100
    } else if job.progress.total > 0 {
        (job.progress.step * 100 / job.progress.total).clamp(0, 100)
    } else {
        0
    };
    let operation = op
        .map(str::to_owned)
        .unwrap_or_else(|| job.kind.trim_start_matches("tenant.").to_owned());
    Progress {
        operation,
        state,
        step: job.progress.step,
        total: job.progress.total,
        label: job.progress.label.clone(),
        percent,
        last_error: job.last_error.clone(),
    }
}

/// A custom domain as the tenant pages show it.
pub fn domain_row(d: crate::domains::CustomDomain) -> app::admin::model::DomainRow {
    app::admin::model::DomainRow {
        records: std::iter::once(&d.cname)
            .chain(&d.alternatives)
            .map(|r| (r.record_type.clone(), r.name.clone(), r.value.clone()))
            .collect(),
        state: serde_json::to_value(d.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        last_checked_at: d.last_checked_at.map(when),
        deadline: when(d.verify_deadline),
        last_result: d.last_result,
        checks: d.checks,
        domain: d.domain,
    }
}

/// A tenant's page data.
pub async fn tenant_page(p: &Platform, t: Tenant) -> Result<OwnerTenant, ServiceError> {
    let job = owned::latest_job(p, &t).await?;
    // A deleted tenant's domains are released with it.
    let domains = if t.state.as_str() == "deleted" {
        Vec::new()
    } else {
        crate::domains::list(p, &t.id.to_string())
            .await?
            .into_iter()
            .map(domain_row)
            .collect()
    };
    let (plan, max_companies): (String, i32) =
        sqlx::query_as("SELECT name, max_companies FROM plans WHERE id = $1")
            .bind(t.plan_id)
            .fetch_one(&p.pool)
            .await?;
    let url = format!("https://{}/", t.hostname);
    Ok(OwnerTenant {
        id: t.id.to_string(),
        slug: t.slug,
        state: t.state.as_str().to_owned(),
        progress: job.as_ref().map(|j| progress(t.pending_op.as_deref(), j)),
        pending_op: t.pending_op,
        pos_url: format!("{url}pos/"),
        url,
        login: t.owner_email,
        company_name: t.company_name,
        extra_companies: t.extra_companies,
        plan,
        max_companies,
        last_error: t.last_error,
        created_at: when(t.created_at),
        domains,
    })
}

#[async_trait::async_trait]
impl OwnerBackend for OwnerPortal {
    async fn catalog(&self) -> Result<Vec<PlanCard>, AdminError> {
        catalog(&self.p).await.map_err(to_page)
    }

    async fn sign_up(&self, name: &str, email: &str, password: &str) -> Result<(), AdminError> {
        accounts::sign_up(
            &self.p,
            accounts::SignUp {
                name: name.to_owned(),
                email: email.to_owned(),
                password: SecretString::from(password.to_owned()),
            },
        )
        .await
        .map_err(to_page)
    }

    async fn sign_in(
        &self,
        email: &str,
        password: &str,
        client: app::client::ClientAddress,
    ) -> Result<OwnerSession, AdminError> {
        match sessions::sign_in(&self.p, email, password, client.0).await {
            Ok((_, s)) => Ok(OwnerSession {
                token: s.token,
                max_age_secs: s.max_age_secs,
            }),
            Err(SigninFailure::Wrong) => Err(AdminError::new(
                ErrorKind::Unauthorized,
                "Wrong email or password.",
            )),
            Err(SigninFailure::Throttled { retry_after_secs }) => Err(AdminError::new(
                ErrorKind::TooManyRequests,
                format!("Too many failed sign-ins. Wait {retry_after_secs} seconds and try again."),
            )
            .retry_after(retry_after_secs)),
            Err(SigninFailure::Busy) => Err(AdminError::new(
                ErrorKind::Unavailable,
                "Signing in is busy right now. Try again in a moment.",
            )
            .retry_after(1)),
            Err(SigninFailure::Internal(e)) => Err(to_page(e)),
        }
    }

    async fn sign_out(&self, token: &str) -> Result<(), AdminError> {
        sessions::close(&self.p, token).await.map_err(to_page)
    }

    async fn verify_email(&self, token: &str) -> Result<String, AdminError> {
        accounts::verify_email(&self.p, token)
            .await
            .map_err(to_page)
    }

    async fn resend_verification(&self, owner: &str) -> Result<(), AdminError> {
        accounts::resend_verification(&self.p, id_of(owner, "owner")?)
            .await
            .map_err(to_page)
    }

    async fn forgot_password(&self, email: &str) -> Result<(), AdminError> {
        accounts::request_password_reset(&self.p, email)
            .await
            .map_err(to_page)
    }

    async fn check_reset(&self, token: &str) -> Result<(), AdminError> {
        accounts::check_reset_link(&self.p, token)
            .await
            .map_err(to_page)
    }

    async fn reset_password(&self, token: &str, password: &str) -> Result<(), AdminError> {
        accounts::reset_password(&self.p, token, &SecretString::from(password.to_owned()))
            .await
            .map(|_| ())
            .map_err(to_page)
    }

    async fn confirm_email_change(&self, token: &str) -> Result<String, AdminError> {
        accounts::confirm_email_change(&self.p, token)
            .await
            .map_err(to_page)
    }

    async fn tenants(&self, owner: &str) -> Result<Vec<TenantCard>, AdminError> {
        let owner = id_of(owner, "owner")?;
        let list = owned::list(&self.p, owner).await.map_err(to_page)?;
        let plans = crate::plans::list(&self.p).await.map_err(to_page)?;
        Ok(list
            .into_iter()
            .map(|t| TenantCard {
                id: t.id.to_string(),
                url: format!("https://{}/", t.hostname),
                plan: plans
                    .iter()
                    .find(|p| p.id == t.plan_id)
                    .map_or_else(|| t.plan_key.clone(), |p| p.name.clone()),
                slug: t.slug,
                state: t.state.as_str().to_owned(),
                pending_op: t.pending_op,
                company_name: t.company_name,
                created_at: when(t.created_at),
            })
            .collect())
    }

    async fn tenant(&self, owner: &str, id: &str) -> Result<OwnerTenant, AdminError> {
        let owner = id_of(owner, "owner")?;
        let id = id_of(id, "tenant")?;
        let t = owned::get(&self.p, owner, &id.to_string())
            .await
            .map_err(to_page)?;
        tenant_page(&self.p, t).await.map_err(to_page)
    }

    async fn signup_form(&self, owner: &str) -> Result<SignupForm, AdminError> {
        let owner = owner_ref(&self.p, owner).await?;
        Ok(SignupForm {
            plans: catalog(&self.p).await.map_err(to_page)?,
            signup_key: Uuid::new_v4().to_string(),
            base_domain: self.p.config.base_domain.clone(),
            login: owner.email,
        })
    }

    async fn check_slug(&self, slug: &str) -> Result<SlugCheck, AdminError> {
        let a = owned::check_slug(&self.p, slug).await.map_err(to_page)?;
        Ok(SlugCheck {
            slug: a.slug,
            available: a.available,
            message: a.message,
        })
    }

    async fn create_tenant(
        &self,
        owner: &str,
        form: NewOwnerTenant,
    ) -> Result<CreatedTenant, AdminError> {
        let owner = owner_ref(&self.p, owner).await?;
        let outcome = owned::sign_up(
            &self.p,
            &owner,
            Signup {
                plan: form.plan,
                slug: form.slug,
                company_name: form.company_name,
                extra_companies: form.extra_companies,
                odoo_password: SecretString::from(form.odoo_password),
                signup_key: Some(form.signup_key),
                interval: Some(form.interval),
            },
        )
        .await
        .map_err(to_page)?;
        Ok(match outcome {
            owned::SignupOutcome::Provisioning(accepted) => CreatedTenant {
                id: accepted.tenant.id.to_string(),
                checkout_url: None,
            },
            owned::SignupOutcome::AwaitingPayment(waiting) => CreatedTenant {
                id: waiting.tenant.id.to_string(),
                checkout_url: Some(waiting.checkout.url),
            },
        })
    }

    async fn reset_admin_password(
        &self,
        owner: &str,
        id: &str,
        password: &str,
    ) -> Result<(), AdminError> {
        let owner = owner_ref(&self.p, owner).await?;
        let id = id_of(id, "tenant")?;
        owned::reset_admin_password(
            &self.p,
            &owner,
            &id.to_string(),
            &SecretString::from(password.to_owned()),
        )
        .await
        .map(|_| ())
        .map_err(to_page)
    }

    async fn add_companies(
        &self,
        owner: &str,
        id: &str,
        names: Vec<String>,
    ) -> Result<(), AdminError> {
        let owner = owner_ref(&self.p, owner).await?;
        let id = id_of(id, "tenant")?;
        owned::add_companies(&self.p, &owner, &id.to_string(), names)
            .await
            .map(|_| ())
            .map_err(to_page)
    }

    async fn delete_tenant(&self, owner: &str, id: &str, confirm: &str) -> Result<(), AdminError> {
        let owner = owner_ref(&self.p, owner).await?;
        let id = id_of(id, "tenant")?;
        owned::delete(&self.p, &owner, &id.to_string(), confirm)
            .await
            .map(|_| ())
            .map_err(to_page)
    }

    async fn domain_op(
        &self,
        owner: &str,
        id: &str,
        op: app::admin::model::DomainOp,
        domain: &str,
    ) -> Result<(), AdminError> {
        use app::admin::model::DomainOp;
        let owner = owner_ref(&self.p, owner).await?;
        let id = id_of(id, "tenant")?;
        match op {
            DomainOp::Add => super::domains::add(&self.p, &owner, id, domain)
                .await
                .map(|_| ()),
            DomainOp::Verify => super::domains::verify_now(&self.p, &owner, id, domain)
                .await
                .map(|_| ()),
            DomainOp::Remove => super::domains::remove(&self.p, &owner, id, domain).await,
        }
        .map_err(to_page)
    }

    async fn change_password(
        &self,
        owner: &str,
        session: &str,
        current: &str,
        new: &str,
    ) -> Result<(), AdminError> {
        accounts::change_password(
            &self.p,
            id_of(owner, "owner")?,
            Some(session),
            &SecretString::from(current.to_owned()),
            &SecretString::from(new.to_owned()),
        )
        .await
        .map_err(to_page)
    }

    async fn change_email(
        &self,
        owner: &str,
        current: &str,
        new_email: &str,
    ) -> Result<(), AdminError> {
        accounts::request_email_change(
            &self.p,
            id_of(owner, "owner")?,
            &SecretString::from(current.to_owned()),
            new_email,
        )
        .await
        .map_err(to_page)
    }

    async fn sign_out_everywhere(&self, owner: &str) -> Result<(), AdminError> {
        accounts::sign_out_everywhere(&self.p, id_of(owner, "owner")?)
            .await
            .map(|_| ())
            .map_err(to_page)
    }

    async fn tokens(&self, owner: &str) -> Result<Vec<TokenRow>, AdminError> {
        Ok(tokens::list(&self.p, id_of(owner, "owner")?)
            .await
            .map_err(to_page)?
            .into_iter()
            .map(|t| TokenRow {
                name: t.name,
                created_at: when(t.created_at),
                last_used_at: t.last_used_at.map(when),
            })
            .collect())
    }

    async fn create_token(&self, owner: &str, name: &str) -> Result<NewToken, AdminError> {
        let owner = owner_ref(&self.p, owner).await?;
        let token = tokens::create(&self.p, owner.id, &owner.email, name)
            .await
            .map_err(to_page)?;
        Ok(NewToken {
            name: name.trim().to_owned(),
            token: secrecy::ExposeSecret::expose_secret(&token).to_owned(),
        })
    }

    async fn revoke_token(&self, owner: &str, name: &str) -> Result<(), AdminError> {
        let owner = owner_ref(&self.p, owner).await?;
        tokens::revoke(&self.p, owner.id, &owner.email, name)
            .await
            .map_err(to_page)
    }
}
