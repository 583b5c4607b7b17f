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

struct BuildTemplate(Platform);

#[async_trait::async_trait]
impl Handler for BuildTemplate {
    async fn run(&self, job: &JobContext) -> Result<(), JobError> {
        lifecycle::build_template(&self.0, job).await
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
    registry.register(kinds::REFILL_POOL, Arc::new(RefillPool(platform.clone())));
    registry.register(
        kinds::BUILD_TEMPLATE,
        Arc::new(BuildTemplate(platform.clone())),
    );
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
        ..WorkerConfig::default()
    }
}

/// Runs the workers until `shutdown` resolves.
pub async fn run(
    platform: Platform,
    config: WorkerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), job_queue::QueueError> {
    let registry = registry(&platform);
    job_queue::run_workers(platform.pool.clone(), registry, config, shutdown).await
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
