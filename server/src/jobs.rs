//! The platform's jobs on the `job-queue` crate: kinds, handlers, and the workers that run
//! inside `server serve` (unless `RUN_WORKERS=false`) and alone in `server worker`.

use crate::platform::Platform;
use crate::tenants::lifecycle;
use job_queue::{Handler, JobContext, JobError, Registry, WorkerConfig};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Job kinds.
pub mod kinds {
    /// Provision a tenant.
    pub const PROVISION: &str = "tenant.provision";
    /// Suspend a tenant.
    pub const DEACTIVATE: &str = "tenant.deactivate";
    /// Resume a tenant.
    pub const REACTIVATE: &str = "tenant.reactivate";
    /// Delete a tenant.
    pub const DELETE: &str = "tenant.delete";
    /// Top up the warm pool of a plan.
    pub const REFILL_POOL: &str = "pool.refill";
    /// Build a plan's template.
    pub const BUILD_TEMPLATE: &str = "plan.build_template";
    /// Give every tenant and standby database to Odoo's role (one-time repair of databases
    /// made before they were created owned by it; queued by migration 0007 and by
    /// `server repair-db-owners`).
    pub const REPAIR_DB_OWNERS: &str = "tenant.repair_db_owners";
    /// Check a custom domain's DNS (until seen or timed out).
    pub const VERIFY_DOMAIN: &str = "domain.verify";
    /// Set a tenant's Odoo administrator password to one its owner chose.
    pub const RESET_ADMIN_PASSWORD: &str = "tenant.reset_admin_password";
    /// Add companies to a tenant's Odoo.
    pub const ADD_COMPANIES: &str = "tenant.add_companies";
    /// Send one outbox message over SMTP.
    pub const SEND_MAIL: &str = "mail.send";
    /// Does nothing (queue benchmarks and smoke tests).
    pub const NOOP: &str = "noop";
}

struct TenantJobs(Platform);

#[async_trait::async_trait]
impl Handler for TenantJobs {
    async fn run(&self, job: &JobContext) -> Result<(), JobError> {
        lifecycle::run_tenant_job(&self.0, job).await
    }
}

struct RefillPool(Platform);

#[async_trait::async_trait]
impl Handler for RefillPool {
    async fn run(&self, job: &JobContext) -> Result<(), JobError> {
        lifecycle::refill_pool(&self.0, job).await
    }
}

struct BillingJobs(Platform);

#[async_trait::async_trait]
impl Handler for BillingJobs {
    async fn run(&self, job: &JobContext) -> Result<(), JobError> {
        crate::billing::run_job(&self.0, job).await
    }
}

struct SendMail(Platform);

#[async_trait::async_trait]
impl Handler for SendMail {
    async fn run(&self, job: &JobContext) -> Result<(), JobError> {
        crate::mail::sender::run(&self.0, job).await
    }
}

struct BuildTemplate(Platform);

#[async_trait::async_trait]
impl Handler for BuildTemplate {
    async fn run(&self, job: &JobContext) -> Result<(), JobError> {
        lifecycle::build_template(&self.0, job).await
    }
}

struct OwnerJobs(Platform);

#[async_trait::async_trait]
impl Handler for OwnerJobs {
    async fn run(&self, job: &JobContext) -> Result<(), JobError> {
        crate::tenants::odoo_admin::run(&self.0, job).await
    }
}

struct RepairDbOwners(Platform);

#[async_trait::async_trait]
impl Handler for RepairDbOwners {
    async fn run(&self, job: &JobContext) -> Result<(), JobError> {
        lifecycle::repair_db_owners(&self.0, job).await
    }
}

struct VerifyDomain(Platform);

#[async_trait::async_trait]
impl Handler for VerifyDomain {
    async fn run(&self, job: &JobContext) -> Result<(), JobError> {
        crate::domains::verify::run(&self.0, job).await
    }
}

/// Every handler of the platform.
pub fn registry(platform: &Platform) -> Registry {
    let mut registry = Registry::new();
    let tenant_jobs: Arc<dyn Handler> = Arc::new(TenantJobs(platform.clone()));
    for kind in [
        kinds::PROVISION,
        kinds::DEACTIVATE,
        kinds::REACTIVATE,
        kinds::DELETE,
    ] {
        registry.register(kind, tenant_jobs.clone());
    }
    let owner_jobs: Arc<dyn Handler> = Arc::new(OwnerJobs(platform.clone()));
    for kind in [kinds::RESET_ADMIN_PASSWORD, kinds::ADD_COMPANIES] {
        registry.register(kind, owner_jobs.clone());
    }
    registry.register(kinds::REFILL_POOL, Arc::new(RefillPool(platform.clone())));
    registry.register(
        kinds::BUILD_TEMPLATE,
        Arc::new(BuildTemplate(platform.clone())),
    );
    registry.register(
        kinds::REPAIR_DB_OWNERS,
        Arc::new(RepairDbOwners(platform.clone())),
    );
    registry.register(
        kinds::VERIFY_DOMAIN,
        Arc::new(VerifyDomain(platform.clone())),
    );
    let billing_jobs: Arc<dyn Handler> = Arc::new(BillingJobs(platform.clone()));
    for kind in [
        crate::billing::kinds::SYNC_PLAN,
        crate::billing::kinds::STRIPE_EVENT,
        crate::billing::kinds::SYNC_SUBSCRIPTION,
        crate::billing::kinds::SWEEP,
    ] {
        registry.register(kind, billing_jobs.clone());
    }
    registry.register(kinds::SEND_MAIL, Arc::new(SendMail(platform.clone())));
    registry.register(kinds::NOOP, job_queue::handler_fn(|_| async { Ok(()) }));
    registry
}

/// Worker settings from the configuration.
pub fn worker_config(platform: &Platform) -> WorkerConfig {
    WorkerConfig {
        concurrency: usize::try_from(platform.config.worker_concurrency).unwrap_or(4),
        lease: Duration::from_secs(u64::from(platform.config.job_lease_seconds)),
        poll_interval: Duration::from_secs(2),
        backoff_base: Duration::from_secs(2),
        backoff_max: Duration::from_secs(300),
        unavailable_window: Duration::from_secs(
            u64::from(platform.config.job_outage_retry_minutes) * 60,
        ),
        unavailable_backoff_max: Duration::from_secs(60),
        ..WorkerConfig::default()
    }
}

/// Runs the workers (and the periodic housekeeping) until `shutdown` resolves.
pub async fn run(
    platform: Platform,
    config: WorkerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), job_queue::QueueError> {
    let registry = registry(&platform);
    // Billing's recurring sweep (grace and retention deadlines): one per time slot.
    if let Err(error) = crate::billing::dunning::schedule_next(&platform).await {
        tracing::warn!(%error, "could not schedule the billing sweep; the next worker start will");
    }
    let workers = job_queue::run_workers(platform.pool.clone(), registry, config, shutdown);
    tokio::select! {
        result = workers => result,
        () = crate::housekeeping::run_forever(platform.clone()) => Ok(()),
    }
}

/// What an operator can do to a job from the API or the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobAction {
    /// Run a failed, dead or cancelled job again.
    Retry,
    /// Cancel a queued job, or ask a running one to stop.
    Cancel,
}

/// Retries or cancels a job and records who did it in the audit log. The API and the
/// portal both call this, so the rule and the audit trail live in one place.
pub async fn act_on_job(
    platform: &Platform,
    actor: &crate::audit::Actor,
    id: uuid::Uuid,
    action: JobAction,
) -> Result<job_queue::JobRecord, crate::service::ServiceError> {
    let (job, audit_action) = match action {
        JobAction::Retry => (platform.queue.retry(id).await?, "job.retried"),
        JobAction::Cancel => (platform.queue.cancel(id).await?, "job.cancelled"),
    };
    // The change is made; a failed audit write is logged, not reported as a failed action.
    if let Err(error) = crate::audit::record(
        &platform.pool,
        actor,
        audit_action,
        job.tenant_id,
        Some(id),
        serde_json::json!({"kind": job.kind}),
    )
    .await
    {
        tracing::error!(job_id = %id, %error, action = audit_action, "audit write failed");
    }
    Ok(job)
}
