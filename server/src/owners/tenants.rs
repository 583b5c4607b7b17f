//! What an owner may do to their own tenants: list and read them, sign up a new one, follow
//! its jobs, reset the Odoo administrator's password, add companies, delete it.
//!
//! Every call names the owner, and every read filters by it in SQL: another owner's tenant
//! or job is `NotFound` (404 in the API, "no such tenant" in the portal), never "forbidden",
//! so ids of other owners' resources reveal nothing.

use crate::audit::Actor;
use crate::billing::catalog::Interval;
use crate::billing::checkout::{self, ReturnUrls};
use crate::jobs::kinds;
use crate::platform::Platform;
use crate::service::ServiceError;
use crate::tenants::service::{self, Accepted, CreateTenant, Operation};
use crate::tenants::{SlugError, Tenant, TenantSlug, TENANT_COLUMNS};
use job_queue::NewJob;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

/// The signed-in owner, as services need them.
#[derive(Debug, Clone)]
pub struct OwnerRef {
    /// Owner id.
    pub id: Uuid,
    /// Their address (audit, the Odoo login of new tenants).
    pub email: String,
}

impl OwnerRef {
    /// The audit actor.
    pub fn actor(&self) -> Actor {
        Actor::owner(&self.email)
    }
}

/// The owner's tenants, newest first (deleted ones too: their history).
pub async fn list(p: &Platform, owner: Uuid) -> Result<Vec<Tenant>, ServiceError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {TENANT_COLUMNS} FROM tenants t JOIN plans p ON p.id = t.plan_id \
         WHERE t.owner_user_id = $1 ORDER BY t.created_at DESC, t.id DESC LIMIT 500"
    ))
    .bind(owner)
    .fetch_all(&p.pool)
    .await?)
}

/// One of the owner's tenants by id or slug; anyone else's is `NotFound`.
pub async fn get(p: &Platform, owner: Uuid, id_or_slug: &str) -> Result<Tenant, ServiceError> {
    let by_id = Uuid::parse_str(id_or_slug).is_ok();
    sqlx::query_as(&format!(
        "SELECT {TENANT_COLUMNS} FROM tenants t JOIN plans p ON p.id = t.plan_id \
         WHERE {} AND t.owner_user_id = $2",
        if by_id {
            "t.id = $1::uuid"
        } else {
            "t.slug = $1"
        }
    ))
    .bind(id_or_slug)
    .bind(owner)
    .fetch_optional(&p.pool)
    .await?
    .ok_or(ServiceError::NotFound("tenant"))
}

/// One of the owner's tenants' jobs; anyone else's is `NotFound`.
pub async fn job(
    p: &Platform,
    owner: Uuid,
    job_id: Uuid,
) -> Result<job_queue::JobRecord, ServiceError> {
    let mine: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM jobs j JOIN tenants t ON t.id = j.tenant_id \
         WHERE j.id = $1 AND t.owner_user_id = $2)",
    )
    .bind(job_id)
    .bind(owner)
    .fetch_one(&p.pool)
    .await?;
    if !mine {
        return Err(ServiceError::NotFound("job"));
    }
    p.queue
        .get(job_id)
        .await?
        .ok_or(ServiceError::NotFound("job"))
}

/// A tenant's current or latest job, for its progress.
pub async fn latest_job(
    p: &Platform,
    tenant: &Tenant,
) -> Result<Option<job_queue::JobRecord>, ServiceError> {
    let id: Option<Uuid> = match tenant.pending_job_id {
        Some(id) => Some(id),
        None => sqlx::query_scalar(
            "SELECT id FROM jobs WHERE tenant_id = $1 AND kind <> $2 ORDER BY created_at DESC LIMIT 1",
        )
        .bind(tenant.id)
        .bind(kinds::SEND_MAIL)
        .fetch_optional(&p.pool)
        .await?,
    };
    match id {
        Some(id) => Ok(p.queue.get(id).await?),
        None => Ok(None),
    }
}

/// The availability of a subdomain.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SlugAvailability {
    /// The name checked (lowercased).
    pub slug: String,
    /// Free to take now (it may still be taken before the sign-up is sent).
    pub available: bool,
    /// Why not, or where the Odoo would live.
    pub message: String,
}

/// Whether `slug` can be taken: the API's rules and reserved words, then the names in use.
pub async fn check_slug(p: &Platform, raw: &str) -> Result<SlugAvailability, ServiceError> {
    let slug = raw.trim().to_ascii_lowercase();
    let refused = |message: String| SlugAvailability {
        slug: slug.clone(),
        available: false,
        message,
    };
    if slug.len() > 64 {
        return Ok(refused("A name has at most 32 characters.".into()));
    }
    match TenantSlug::parse(&slug) {
        Err(SlugError::Syntax) => {
            return Ok(refused(
                "A name has 3 to 32 lowercase letters, digits or hyphens, starts with a letter and does not end with a hyphen."
                    .into(),
            ))
        }
        Err(SlugError::Reserved) => return Ok(refused(format!("The name '{slug}' is reserved."))),
        Ok(_) => {}
    }
    let taken: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tenants WHERE slug = $1)")
        .bind(&slug)
        .fetch_one(&p.pool)
        .await?;
    Ok(if taken {
        refused(format!("The name '{slug}' is already in use."))
    } else {
        SlugAvailability {
            message: format!("{} is available.", p.hostname(&slug)),
            slug,
            available: true,
        }
    })
}

/// A self-service sign-up of a tenant.
#[derive(Debug, Clone)]
pub struct Signup {
    /// Plan key.
    pub plan: String,
    /// Subdomain.
    pub slug: String,
    /// Main company.
    pub company_name: String,
    /// Further companies.
    pub extra_companies: Vec<String>,
    /// The Odoo administrator's password.
    pub odoo_password: SecretString,
    /// The form's key: a second submit returns the first's tenant.
    pub signup_key: Option<String>,
    /// How a paid plan is billed: `month` (none: monthly) or `year`. Free plans ignore it.
    pub interval: Option<String>,
}

/// What a self-service sign-up made.
#[derive(Debug, Clone)]
pub enum SignupOutcome {
    /// Provisioning now (a free plan; or the same form sent again after its payment).
    Provisioning(Accepted),
    /// Waiting for the first payment: send the owner to `checkout.url`.
    AwaitingPayment(AwaitingPayment),
}

/// A paid sign-up: the tenant waits (`awaiting_payment`: no database yet) until Stripe
/// confirms the subscription started at this Checkout Session.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AwaitingPayment {
    /// The tenant, `awaiting_payment`.
    pub tenant: Tenant,
    /// Stripe Checkout: send the owner to `url`.
    pub checkout: crate::billing::checkout::CheckoutStart,
}

/// Signs up a tenant for the owner. A free plan goes through `tenants::service::create`
/// and provisions at once. A plan with a price (with or without a trial) makes the tenant
/// `awaiting_payment` and a Stripe Checkout Session (`mode=subscription`, the plan's trial
/// on a first subscription); the tenant is provisioned when Stripe confirms the
/// subscription (webhook or return page, once). If the session cannot be made, the waiting
/// tenant is removed at once (nothing was charged) and the refusal says what to do.
pub async fn sign_up(
    p: &Platform,
    owner: &OwnerRef,
    input: Signup,
) -> Result<SignupOutcome, ServiceError> {
    let account = super::accounts::account(p, owner.id).await?;
    if account.email_verified_at.is_none() {
        return Err(ServiceError::conflict(
            "email_unverified",
            "Confirm your email address first: follow the link we sent you (you can have it sent again).",
        ));
    }
    let interval = Interval::from_choice(input.interval.as_deref())?.unwrap_or(Interval::Month);
    let plan = crate::plans::get_by_key(p, input.plan.trim())
        .await?
        .filter(|plan| plan.active)
        .ok_or_else(|| {
            ServiceError::invalid(
                "plan_unknown",
                "plan",
                format!("There is no plan '{}'.", input.plan.trim()),
            )
        })?;
    let request = CreateTenant {
        slug: input.slug,
        plan: input.plan,
        owner_email: account.email,
        owner_name: account.name,
        owner_password: input.odoo_password,
        company_name: input.company_name,
        extra_companies: input.extra_companies,
        owner_id: Some(owner.id),
        signup_key: input.signup_key,
    };
    if plan.price_cents == 0 {
        return service::create(p, &owner.actor(), request)
            .await
            .map(SignupOutcome::Provisioning);
    }
    if !p.stripe.is_configured() {
        return Err(ServiceError::Conflict {
            code: "billing_not_configured",
            message: format!(
                "The plan '{}' is paid, and payments are not set up on this platform yet: choose a free plan, or contact us.",
                plan.name
            ),
            field: Some("plan"),
        });
    }
    let made = service::create_awaiting_payment(p, &owner.actor(), request).await?;
    if made.tenant.state != crate::tenants::TenantState::AwaitingPayment {
        // The same form sent again after its payment went through.
        return match made.job_id {
            Some(job_id) => Ok(SignupOutcome::Provisioning(Accepted {
                tenant: made.tenant,
                job_id,
            })),
            None => Err(ServiceError::NotFound("job")),
        };
    }
    let tenant_id = made.tenant.id;
    let urls = ReturnUrls::owner_portal(p, tenant_id)?;
    match checkout::start_subscription(p, &owner.actor(), tenant_id, Some(interval), &urls).await {
        Ok(checkout) => {
            tracing::info!(%tenant_id, session = %checkout.session_id, "paid sign-up waits for its checkout");
            Ok(SignupOutcome::AwaitingPayment(AwaitingPayment {
                tenant: made.tenant,
                checkout,
            }))
        }
        Err(error) => {
            // No session to pay at: nothing may stay waiting (unless an earlier submit of
            // this form has an open session, which the owner can still pay).
            let discarded = async {
                let mut tx = p.pool.begin().await?;
                let open: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM subscriptions WHERE tenant_id = $1 AND checkout_session_id IS NOT NULL)",
                )
                .bind(tenant_id)
                .fetch_one(&mut *tx)
                .await?;
                if !open {
                    checkout::remove_awaiting(&mut tx, tenant_id, "checkout_refused").await?;
                }
                tx.commit().await
            }
            .await;
            if let Err(e) = discarded {
                // The sweep removes it within the hour.
                tracing::warn!(%tenant_id, error = %e, "could not remove a paid sign-up without a checkout");
            }
            p.tenant_counts.clear();
            Err(error)
        }
    }
}

/// Starts an owner operation on an active tenant that is not busy, in one conditional
/// update, with its job, in one transaction.
async fn start(
    p: &Platform,
    owner: &OwnerRef,
    tenant: &Tenant,
    op: &str,
    kind: &str,
    payload: serde_json::Value,
    new_hash: Option<&str>,
) -> Result<Uuid, ServiceError> {
    let mut tx = p.pool.begin().await?;
    let started: Option<Uuid> = sqlx::query_scalar(
        "UPDATE tenants SET pending_op = $3, owner_password_hash = $4, last_error = NULL, updated_at = now() \
         WHERE id = $1 AND owner_user_id = $2 AND state = 'active' AND pending_op IS NULL RETURNING id",
    )
    .bind(tenant.id)
    .bind(owner.id)
    .bind(op)
    .bind(new_hash)
    .fetch_optional(&mut *tx)
    .await?;
    if started.is_none() {
        let now = get(p, owner.id, &tenant.id.to_string()).await?;
        return Err(match now.pending_op {
            Some(pending) => ServiceError::conflict(
                "operation_in_progress",
                format!(
                    "Your Odoo '{}' is busy ({}); try again when that is done.",
                    now.slug,
                    pending.replace('_', " ")
                ),
            ),
            None => ServiceError::conflict(
                "illegal_transition",
                format!(
                    "Your Odoo '{}' is {}; this needs it active.",
                    now.slug,
                    now.state.as_str()
                ),
            ),
        });
    }
    let job_id = job_queue::enqueue(
        &mut *tx,
        NewJob::new(kind, payload)
            .with_tenant(tenant.id)
            .with_max_attempts(8)
            .with_dedupe_key(format!("tenant:{}:{op}", tenant.id)),
    )
    .await?;
    sqlx::query("UPDATE tenants SET pending_job_id = $2 WHERE id = $1")
        .bind(tenant.id)
        .bind(job_id)
        .execute(&mut *tx)
        .await?;
    crate::audit::record(
        &mut *tx,
        &owner.actor(),
        &format!("tenant.{op}_requested"),
        Some(tenant.id),
        Some(job_id),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(job_id)
}

/// Sets the Odoo administrator's password to one the owner chose: hashed at once in Odoo's
/// format (the clear password is never stored, logged or emailed), set by a job.
pub async fn reset_admin_password(
    p: &Platform,
    owner: &OwnerRef,
    id_or_slug: &str,
    password: &SecretString,
) -> Result<Accepted, ServiceError> {
    let tenant = get(p, owner.id, id_or_slug).await?;
    let plain = password.expose_secret();
    if plain.chars().count() < 8 || plain.len() > 128 {
        return Err(ServiceError::invalid(
            "password_weak",
            "password",
            "The password must have 8 to 128 characters.",
        ));
    }
    let hash = p.hash_password(plain).await?;
    let job_id = start(
        p,
        owner,
        &tenant,
        "reset_admin_password",
        kinds::RESET_ADMIN_PASSWORD,
        json!({"tenant_id": tenant.id}),
        Some(&hash),
    )
    .await?;
    Ok(Accepted {
        tenant: get(p, owner.id, &tenant.id.to_string()).await?,
        job_id,
    })
}

/// Adds companies to the tenant's Odoo (a job), within the plan's company limit.
pub async fn add_companies(
    p: &Platform,
    owner: &OwnerRef,
    id_or_slug: &str,
    names: Vec<String>,
) -> Result<Accepted, ServiceError> {
    let tenant = get(p, owner.id, id_or_slug).await?;
    let max: i32 = sqlx::query_scalar("SELECT max_companies FROM plans WHERE id = $1")
        .bind(tenant.plan_id)
        .fetch_one(&p.pool)
        .await?;
    let have = 1 + tenant.extra_companies.len();
    let allowed = usize::try_from(max).unwrap_or(1).saturating_sub(have);
    if names.is_empty() {
        return Err(ServiceError::invalid(
            "companies_empty",
            "companies",
            "Name at least one company, one a line.",
        ));
    }
    if names.len() > allowed {
        return Err(ServiceError::invalid(
            "too_many_companies",
            "companies",
            if allowed == 0 {
                format!(
                    "Your plan allows {} in all and this tenant has {have}: there is no room for more.",
                    crate::plans::companies(max)
                )
            } else {
                format!(
                    "Your plan allows {} in all and this tenant has {have}: add at most {allowed}.",
                    crate::plans::companies(max)
                )
            },
        ));
    }
    let mut clean: Vec<String> = Vec::new();
    for name in &names {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(ServiceError::invalid(
                "company_invalid",
                "companies",
                "A company name has 1 to 100 characters.",
            ));
        }
        if name == tenant.company_name
            || tenant.extra_companies.iter().any(|c| c == name)
            || clean.iter().any(|c| c == name)
        {
            return Err(ServiceError::invalid(
                "company_duplicate",
                "companies",
                format!("The company '{name}' is there already."),
            ));
        }
        clean.push(name.to_owned());
    }
    let job_id = start(
        p,
        owner,
        &tenant,
        "add_companies",
        kinds::ADD_COMPANIES,
        json!({"tenant_id": tenant.id, "companies": clean}),
        None,
    )
    .await?;
    Ok(Accepted {
        tenant: get(p, owner.id, &tenant.id.to_string()).await?,
        job_id,
    })
}

/// Deletes the owner's tenant after a final backup; `confirm` must be its name.
pub async fn delete(
    p: &Platform,
    owner: &OwnerRef,
    id_or_slug: &str,
    confirm: &str,
) -> Result<Accepted, ServiceError> {
    let tenant = get(p, owner.id, id_or_slug).await?;
    if confirm.trim() != tenant.slug {
        return Err(ServiceError::invalid(
            "confirmation_mismatch",
            "confirm",
            format!("Type '{}' to confirm the deletion.", tenant.slug),
        ));
    }
    service::request(
        p,
        &owner.actor(),
        &tenant.id.to_string(),
        Operation::Delete { backup: true },
    )
    .await
}
