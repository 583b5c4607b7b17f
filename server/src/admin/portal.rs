//! The portal's view of the service layer: [`AdminBackend`] over [`Platform`]. It maps
//! the portal's forms onto the same services the JSON API calls, and service results onto
//! the portal's display types. No rule lives here that the API does not share.

use crate::audit::{self, Actor, AuditFilter, AuditLine};
use crate::jobs::{act_on_job, JobAction};
use crate::plans::{self, NewPlan, PlanUpdate};
use crate::platform::Platform;
use crate::service::ServiceError;
use crate::tenants::service::{self as tenants, CreateTenant, Operation, TenantFilter, TenantSort};
use crate::tenants::{TenantState, TenantSummary};
use app::admin::backend::{AdminBackend, SignedIn};
use app::admin::model::*;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Plan options and when they were read.
type CachedPlans = Option<(Instant, Vec<PlanOption>)>;

/// The portal's backend.
#[derive(Clone)]
pub struct Portal {
    p: Platform,
    /// The plans of the tenants table's filter, kept a second (every page view shows them;
    /// plan changes through this process clear it).
    plan_options: Arc<Mutex<CachedPlans>>,
}

impl Portal {
    /// Over the platform's services.
    pub fn new(p: Platform) -> Self {
        Portal {
            p,
            plan_options: Arc::default(),
        }
    }

    fn forget_plans(&self) {
        if let Ok(mut cached) = self.plan_options.lock() {
            *cached = None;
        }
    }
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Service errors in the portal's words; internal details go to the log only.
pub(crate) fn to_admin(error: ServiceError) -> AdminError {
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
            tracing::error!(error = %detail, "portal request failed");
            AdminError::new(
                ErrorKind::Internal,
                "Something went wrong on our side; the error is in the server log.",
            )
        }
    }
}

fn db(error: sqlx::Error) -> AdminError {
    to_admin(ServiceError::from(error))
}

fn row(t: TenantSummary) -> TenantRow {
    TenantRow {
        slug: t.slug,
        state: t.state.as_str().to_owned(),
        pending_op: t.pending_op,
        plan: t.plan_key,
        owner_email: t.owner_email,
        company_name: t.company_name,
        hostname: t.hostname,
        created_at: when(t.created_at),
    }
}

fn audit_row(a: AuditLine) -> AuditRow {
    AuditRow {
        id: a.id,
        at: when(a.at),
        actor: a.actor,
        action: a.action,
        tenant_slug: a.tenant_slug,
        job_id: a.job_id.map(|id| id.to_string()),
        details: a.details.to_string(),
    }
}

/// Columns of a job row with its tenant, for the monitor.
const JOB_ROW_SQL: &str = "SELECT j.id, j.kind, j.state, j.attempts, j.max_attempts, j.progress_step, \
     j.progress_total, j.progress_label, j.last_error, j.cancel_requested, t.slug, t.state AS tenant_state, \
     j.created_at, j.updated_at FROM jobs j LEFT JOIN tenants t ON t.id = j.tenant_id";

type JobTuple = (
    Uuid,
    String,
    String,
    i32,
    i32,
    i32,
    i32,
    String,
    Option<String>,
    bool,
    Option<String>,
    Option<String>,
    DateTime<Utc>,
    DateTime<Utc>,
);

fn job_row(j: JobTuple) -> JobRow {
    JobRow {
        id: j.0.to_string(),
        kind: j.1,
        state: j.2,
        attempts: j.3,
        max_attempts: j.4,
        step: j.5,
        total: j.6,
        label: j.7,
        last_error: j.8,
        cancel_requested: j.9,
        tenant_slug: j.10,
        tenant_state: j.11,
        created_at: when(j.12),
        updated_at: when(j.13),
    }
}

/// A whole number field that may be empty (no limit).
fn optional_number(field: &str, raw: &str) -> Result<Option<i32>, AdminError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse::<i32>()
        .ok()
        .filter(|n| *n >= 1)
        .map(Some)
        .ok_or_else(|| {
            AdminError::invalid(
                field,
                "Enter a whole number of at least 1, or leave it empty.",
            )
        })
}

impl Portal {
    async fn job_rows(
        &self,
        condition: &str,
        order: &str,
        limit: i64,
    ) -> Result<Vec<JobRow>, AdminError> {
        let rows: Vec<JobTuple> = sqlx::query_as(&format!(
            "{JOB_ROW_SQL} WHERE {condition} ORDER BY {order} LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.p.pool)
        .await
        .map_err(db)?;
        Ok(rows.into_iter().map(job_row).collect())
    }
}

#[async_trait::async_trait]
impl AdminBackend for Portal {
    async fn sign_in(
        &self,
        email: &str,
        password: &str,
        client: app::client::ClientAddress,
    ) -> Result<SignedIn, AdminError> {
        super::auth::sign_in(&self.p, email, password, client).await
    }

    async fn sign_out(&self, token: &str) -> Result<(), AdminError> {
        super::auth::sign_out(&self.p, token).await
    }

    async fn dashboard(&self) -> Result<Dashboard, AdminError> {
        let by_state: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, count(*) FROM tenants GROUP BY state")
                .fetch_all(&self.p.pool)
                .await
                .map_err(db)?;
        let tenants_by_state = TENANT_STATES
            .iter()
            .map(|s| {
                let n = by_state.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
                ((*s).to_owned(), n)
            })
            .collect();
        let counts = self
            .p
            .queue
            .counts()
            .await
            .map_err(|e| to_admin(e.into()))?;
        let (recent, _) = audit::page(&self.p.pool, &AuditFilter::default(), 10, 0)
            .await
            .map_err(db)?;
        Ok(Dashboard {
            tenants_by_state,
            jobs_queued: counts.queued,
            jobs_running: counts.running,
            jobs_failed: counts.failed,
            jobs_dead: counts.dead,
            recent_audit: recent.into_iter().map(audit_row).collect(),
        })
    }

    async fn tenants(&self, query: TenantQuery) -> Result<TenantTable, AdminError> {
        let sort = TenantSort::parse(&query.sort).unwrap_or(TenantSort::Created);
        let descending = match query.dir.as_str() {
            "asc" => false,
            "desc" => true,
            // Newest first by default; names A to Z.
            _ => sort == TenantSort::Created,
        };
        let per_page = if [25, 50, 100].contains(&query.per_page) {
            query.per_page
        } else {
            25
        };
        let page = query.page.clamp(1, 1_000_000);
        let filter = TenantFilter {
            state: TenantState::parse(query.state.trim()),
            plan: Some(query.plan.trim().to_owned()).filter(|p| !p.is_empty()),
            search: Some(query.q.trim().to_owned()).filter(|q| !q.is_empty()),
        };
        let (items, total) = tenants::page(&self.p, &filter, sort, descending, page, per_page)
            .await
            .map_err(to_admin)?;
        Ok(TenantTable {
            rows: items.into_iter().map(row).collect(),
            total,
            query: TenantQuery {
                q: query.q.trim().to_owned(),
                state: filter
                    .state
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                plan: filter.plan.unwrap_or_default(),
                sort: sort.name().to_owned(),
                dir: if descending { "desc" } else { "asc" }.to_owned(),
                page,
                per_page,
            },
            plans: self.cached_plan_options().await?,
        })
    }

    async fn plan_options(&self) -> Result<Vec<PlanOption>, AdminError> {
        self.all_plan_options(true).await
    }

    async fn tenant(&self, slug: &str) -> Result<TenantDetail, AdminError> {
        let t = tenants::get(&self.p, slug).await.map_err(to_admin)?;
        let db_size: Option<String> = sqlx::query_scalar(
            "SELECT pg_size_pretty(pg_database_size(datname)) FROM pg_database WHERE datname = $1",
        )
        .bind(&t.db_name)
        .fetch_optional(&self.p.pool)
        .await
        .map_err(db)?;
        let jobs: Vec<JobTuple> = sqlx::query_as(&format!(
            "{JOB_ROW_SQL} WHERE j.tenant_id = $1 ORDER BY j.created_at DESC LIMIT 20"
        ))
        .bind(t.id)
        .fetch_all(&self.p.pool)
        .await
        .map_err(db)?;
        let (audit, _) = audit::page(
            &self.p.pool,
            &AuditFilter {
                tenant_id: Some(t.id),
                actor: None,
            },
            100,
            0,
        )
        .await
        .map_err(db)?;
        Ok(TenantDetail {
            id: t.id.to_string(),
            db_name: t.db_name.clone(),
            db_size,
            url: format!("https://{}/", t.hostname),
            owner_name: t.owner_name.clone(),
            extra_companies: t.extra_companies.clone(),
            last_error: t.last_error.clone(),
            jobs: jobs.into_iter().map(job_row).collect(),
            audit: audit.into_iter().map(audit_row).collect(),
            row: row(t.into()),
        })
    }

    async fn create_tenant(&self, actor: &str, form: NewTenantForm) -> Result<String, AdminError> {
        let owner_name = if form.owner_name.trim().is_empty() {
            form.owner_email
                .split('@')
                .next()
                .unwrap_or_default()
                .to_owned()
        } else {
            form.owner_name
        };
        let company_name = if form.company_name.trim().is_empty() {
            form.slug.clone()
        } else {
            form.company_name
        };
        let accepted = tenants::create(
            &self.p,
            &Actor::superadmin(actor),
            CreateTenant {
                slug: form.slug,
                plan: form.plan,
                owner_email: form.owner_email,
                owner_name,
                owner_password: SecretString::from(form.owner_password),
                company_name,
                extra_companies: form.extra_companies,
                owner_id: None,
                signup_key: None,
            },
        )
        .await
        .map_err(to_admin)?;
        Ok(accepted.tenant.slug)
    }

    async fn tenant_op(&self, actor: &str, slug: &str, op: TenantOp) -> Result<(), AdminError> {
        let op = match op {
            TenantOp::Deactivate => Operation::Deactivate,
            TenantOp::Reactivate => Operation::Reactivate,
            TenantOp::Delete { backup } => Operation::Delete { backup },
        };
        tenants::request(&self.p, &Actor::superadmin(actor), slug, op)
            .await
            .map(|_| ())
            .map_err(to_admin)
    }

    async fn jobs(&self) -> Result<JobsView, AdminError> {
        Ok(JobsView {
            active: self
                .job_rows(
                    "j.state IN ('queued', 'running')",
                    "j.created_at, j.id",
                    100,
                )
                .await?,
            failed: self
                .job_rows(
                    "j.state IN ('failed', 'dead')",
                    "j.updated_at DESC, j.id",
                    50,
                )
                .await?,
            recent: self
                .job_rows(
                    "j.state IN ('succeeded', 'cancelled') AND j.kind <> 'noop'",
                    "j.updated_at DESC, j.id",
                    20,
                )
                .await?,
        })
    }

    async fn job_op(&self, actor: &str, id: &str, op: JobOp) -> Result<(), AdminError> {
        let id = Uuid::parse_str(id.trim())
            .map_err(|_| AdminError::new(ErrorKind::NotFound, "There is no such job."))?;
        let action = match op {
            JobOp::Retry => JobAction::Retry,
            JobOp::Cancel => JobAction::Cancel,
        };
        act_on_job(&self.p, &Actor::superadmin(actor), id, action)
            .await
            .map(|_| ())
            .map_err(to_admin)
    }

    async fn plans(&self) -> Result<Vec<PlanRow>, AdminError> {
        let plans = plans::list(&self.p).await.map_err(to_admin)?;
        let counts: Vec<(Uuid, i64)> = sqlx::query_as(
            "SELECT plan_id, count(*) FROM tenants WHERE state <> 'deleted' GROUP BY plan_id",
        )
        .fetch_all(&self.p.pool)
        .await
        .map_err(db)?;
        Ok(plans
            .into_iter()
            .map(|p| PlanRow {
                id: p.id.to_string(),
                tenants: counts
                    .iter()
                    .find(|(id, _)| *id == p.id)
                    .map_or(0, |(_, n)| *n),
                key: p.key,
                name: p.name,
                price_cents: p.price_cents,
                currency: p.currency,
                modules: p.modules,
                max_users: p.max_users,
                max_companies: p.max_companies,
                storage_mb: p.storage_mb,
                active: p.active,
                pos_sample_products: p.pos_sample_products,
                template_state: p.template_state,
            })
            .collect())
    }

    async fn save_plan(&self, actor: &str, form: PlanForm) -> Result<(), AdminError> {
        let price_cents = parse_price(&form.price).ok_or_else(|| {
            AdminError::invalid("price_cents", "Enter a price such as 29 or 29.90.")
        })?;
        let modules: Vec<String> = form
            .modules
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
            .collect();
        let max_users = optional_number("max_users", &form.max_users)?;
        let max_companies = optional_number("max_companies", &form.max_companies)?;
        let storage_mb = optional_number("storage_mb", &form.storage_mb)?;
        let currency = Some(form.currency.trim().to_ascii_uppercase()).filter(|c| !c.is_empty());
        let actor = Actor::superadmin(actor);
        self.forget_plans();
        if form.id.trim().is_empty() {
            plans::create(
                &self.p,
                &actor,
                NewPlan {
                    key: form.key.trim().to_owned(),
                    name: form.name,
                    modules,
                    max_users,
                    max_companies,
                    storage_mb,
                    price_cents: Some(price_cents),
                    currency,
                    yearly_price_cents: None,
                    trial_days: None,
                    pos_sample_products: Some(form.pos_sample_products),
                },
            )
            .await
            .map(|_| ())
            .map_err(to_admin)
        } else {
            let id = Uuid::parse_str(form.id.trim())
                .map_err(|_| AdminError::new(ErrorKind::NotFound, "There is no such plan."))?;
            plans::update(
                &self.p,
                &actor,
                id,
                PlanUpdate {
                    name: Some(form.name),
                    modules: Some(modules),
                    max_users,
                    max_companies,
                    storage_mb,
                    active: None,
                    price_cents: Some(price_cents),
                    currency,
                    yearly_price_cents: None,
                    trial_days: None,
                    pos_sample_products: Some(form.pos_sample_products),
                },
            )
            .await
            .map(|_| ())
            .map_err(to_admin)
        }
    }

    async fn set_plan_active(&self, actor: &str, id: &str, active: bool) -> Result<(), AdminError> {
        let id = Uuid::parse_str(id.trim())
            .map_err(|_| AdminError::new(ErrorKind::NotFound, "There is no such plan."))?;
        self.forget_plans();
        plans::update(
            &self.p,
            &Actor::superadmin(actor),
            id,
            PlanUpdate {
                active: Some(active),
                ..PlanUpdate::default()
            },
        )
        .await
        .map(|_| ())
        .map_err(to_admin)
    }

    async fn audit(&self, query: AuditQuery) -> Result<AuditPage, AdminError> {
        const PER_PAGE: u32 = 50;
        let tenant_id = if query.tenant.trim().is_empty() {
            None
        } else {
            match tenants::get(&self.p, query.tenant.trim()).await {
                Ok(t) => Some(t.id),
                Err(ServiceError::NotFound(_)) => {
                    return Err(AdminError::invalid(
                        "tenant",
                        format!("There is no tenant '{}'.", query.tenant.trim()),
                    ))
                }
                Err(e) => return Err(to_admin(e)),
            }
        };
        let page = query.page.clamp(1, 1_000_000);
        let filter = AuditFilter {
            tenant_id,
            actor: Some(query.actor.trim().to_owned()).filter(|a| !a.is_empty()),
        };
        let (rows, total) = audit::page(
            &self.p.pool,
            &filter,
            i64::from(PER_PAGE),
            i64::from(page - 1) * i64::from(PER_PAGE),
        )
        .await
        .map_err(db)?;
        Ok(AuditPage {
            rows: rows.into_iter().map(audit_row).collect(),
            total,
            per_page: PER_PAGE,
            query: AuditQuery {
                tenant: query.tenant.trim().to_owned(),
                actor: query.actor.trim().to_owned(),
                page,
            },
        })
    }

    async fn outbox(&self, query: OutboxQuery) -> Result<OutboxPage, AdminError> {
        const PER_PAGE: u32 = 50;
        let state = query.state.trim();
        let state = if state.is_empty() {
            None
        } else if crate::mail::outbox::STATES.contains(&state) {
            Some(state)
        } else {
            return Err(AdminError::invalid(
                "state",
                "A message is queued, failed, sent or dead.",
            ));
        };
        let page = query.page.clamp(1, 1_000_000);
        let (rows, total) = crate::mail::outbox::page(
            &self.p.pool,
            state,
            i64::from(PER_PAGE),
            i64::from(page - 1) * i64::from(PER_PAGE),
        )
        .await
        .map_err(db)?;
        let counts = crate::mail::outbox::counts(&self.p.pool)
            .await
            .map_err(db)?;
        Ok(OutboxPage {
            rows: rows
                .into_iter()
                .map(|m| OutboxRow {
                    id: m.id.to_string(),
                    template: m.template,
                    to: m.to_address,
                    subject: m.subject,
                    state: m.state,
                    attempts: m.attempts,
                    last_error: m.last_error,
                    message_id: m.message_id,
                    tenant_slug: m.tenant_slug,
                    created_at: when(m.created_at),
                    sent_at: m.sent_at.map(when),
                })
                .collect(),
            counts,
            total,
            per_page: PER_PAGE,
            query: OutboxQuery {
                state: state.unwrap_or_default().to_owned(),
                page,
            },
        })
    }

    async fn retry_message(&self, actor: &str, id: &str) -> Result<(), AdminError> {
        let id = Uuid::parse_str(id)
            .map_err(|_| AdminError::new(ErrorKind::NotFound, "There is no such message."))?;
        crate::mail::outbox::retry(&self.p, &Actor::superadmin(actor), id)
            .await
            .map_err(to_admin)
    }

    async fn owners(&self) -> Result<Vec<OwnerRow>, AdminError> {
        let owners = crate::owners::list(&self.p, 500).await.map_err(to_admin)?;
        Ok(owners
            .into_iter()
            .map(|o| OwnerRow {
                id: o.id.to_string(),
                email: o.email,
                name: o.name,
                verified: o.email_verified_at.is_some(),
                disabled: o.disabled_at.is_some(),
                tenants: o.tenants,
                created_at: o.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            })
            .collect())
    }

    async fn set_owner_disabled(
        &self,
        actor: &str,
        id: &str,
        disabled: bool,
    ) -> Result<(), AdminError> {
        let id = Uuid::parse_str(id.trim())
            .map_err(|_| AdminError::new(ErrorKind::NotFound, "There is no such owner."))?;
        crate::owners::set_disabled(&self.p, &Actor::superadmin(actor), id, disabled)
            .await
            .map(|_| ())
            .map_err(to_admin)
    }

    async fn tenant_domains(&self, slug: &str) -> Result<Vec<DomainRow>, AdminError> {
        let domains = crate::domains::list(&self.p, slug)
            .await
            .map_err(to_admin)?;
        Ok(domains
            .into_iter()
            .map(|d| DomainRow {
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
            })
            .collect())
    }

    async fn domain_op(
        &self,
        actor: &str,
        slug: &str,
        op: DomainOp,
        domain: &str,
    ) -> Result<(), AdminError> {
        let actor = Actor::superadmin(actor);
        match op {
            DomainOp::Add => crate::domains::add(&self.p, &actor, slug, domain)
                .await
                .map(|_| ()),
            DomainOp::Verify => crate::domains::verify_now(&self.p, &actor, slug, domain)
                .await
                .map(|_| ()),
            DomainOp::Remove => crate::domains::remove(&self.p, &actor, slug, domain).await,
        }
        .map_err(to_admin)
    }
}

impl Portal {
    async fn cached_plan_options(&self) -> Result<Vec<PlanOption>, AdminError> {
        if let Ok(cached) = self.plan_options.lock() {
            if let Some((at, plans)) = cached.as_ref() {
                if at.elapsed() < Duration::from_secs(1) {
                    return Ok(plans.clone());
                }
            }
        }
        let plans = self.all_plan_options(false).await?;
        if let Ok(mut cached) = self.plan_options.lock() {
            *cached = Some((Instant::now(), plans.clone()));
        }
        Ok(plans)
    }

    async fn all_plan_options(&self, active_only: bool) -> Result<Vec<PlanOption>, AdminError> {
        Ok(plans::list(&self.p)
            .await
            .map_err(to_admin)?
            .into_iter()
            .filter(|p| p.active || !active_only)
            .map(|p| PlanOption {
                key: p.key,
                name: p.name,
                max_companies: p.max_companies,
            })
            .collect())
    }
}
