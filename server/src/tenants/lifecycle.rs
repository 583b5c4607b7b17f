//! The tenant jobs: provision, deactivate, reactivate, delete, refill the warm pool, and
//! build a plan's template. Each is a list of idempotent steps: a step checks whether its
//! effect already exists, so a retried or re-delivered job never does a step twice in effect.

use crate::audit::{self, Actor};
use crate::db_manager::{DbManagerError, DbName, Holder, Neutralize, Outcome};
use crate::jobs::kinds;
use crate::mail::notices::{queue_tenant_notice, TenantNotice};
use crate::platform::Platform;
use job_queue::{JobContext, JobError, NewJob};
use odoo_rpc::{RpcError, SearchOptions};
use rand::distributions::{Alphanumeric, DistString};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Why a step stopped.
#[derive(Debug)]
pub enum StepError {
    /// Retrying may cure it.
    Transient(String),
    /// Retrying will not.
    Permanent(String),
    /// It waits on other work that is running (the plan's template build): try again
    /// soon without spending an attempt.
    Waiting(String),
    /// Odoo or PostgreSQL cannot be reached (refused, timed out, 502/503/504, restarting):
    /// wait for it without spending attempts, for the queue's retry window.
    Unavailable {
        /// `Odoo` or `PostgreSQL`.
        dependency: &'static str,
        /// What failed.
        error: String,
    },
    /// A cancel was requested.
    Cancelled,
}

impl StepError {
    fn postgres_unavailable(error: impl std::fmt::Display) -> Self {
        StepError::Unavailable {
            dependency: "PostgreSQL",
            error: error.to_string(),
        }
    }
}

/// How often a tenant job waiting on its plan's template looks again.
const TEMPLATE_WAIT: Duration = Duration::from_secs(2);

impl From<StepError> for JobError {
    fn from(e: StepError) -> Self {
        match e {
            StepError::Transient(m) => JobError::Retry(m),
            StepError::Permanent(m) => JobError::Permanent(m),
            StepError::Waiting(m) => JobError::snooze(m, TEMPLATE_WAIT),
            StepError::Unavailable { dependency, error } => {
                JobError::unavailable(dependency, error)
            }
            StepError::Cancelled => JobError::Cancelled,
        }
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepError::Transient(m) | StepError::Permanent(m) => f.write_str(m),
            StepError::Waiting(m) => write!(f, "waiting: {m}"),
            StepError::Unavailable { dependency, error } => {
                write!(f, "waiting for {dependency}: {error}")
            }
            StepError::Cancelled => f.write_str("cancelled"),
        }
    }
}

impl From<DbManagerError> for StepError {
    fn from(e: DbManagerError) -> Self {
        if e.is_unreachable() {
            StepError::postgres_unavailable(e)
        } else if e.is_transient() {
            StepError::Transient(e.to_string())
        } else {
            StepError::Permanent(e.to_string())
        }
    }
}

impl From<sqlx::Error> for StepError {
    fn from(e: sqlx::Error) -> Self {
        if crate::db_manager::unreachable(&e) {
            StepError::postgres_unavailable(format!("platform database: {e}"))
        } else {
            StepError::Transient(format!("platform database: {e}"))
        }
    }
}

impl From<job_queue::QueueError> for StepError {
    fn from(e: job_queue::QueueError) -> Self {
        match e {
            job_queue::QueueError::Database(e) => e.into(),
            other => StepError::Transient(other.to_string()),
        }
    }
}

impl From<RpcError> for StepError {
    fn from(e: RpcError) -> Self {
        match e {
            RpcError::UnknownModules(m) => {
                StepError::Permanent(format!("Odoo does not know the modules {m:?}"))
            }
            // Odoo down, restarting, timing out or behind a proxy that cannot reach it: wait
            // for it (the queue's retry window), spending no attempts.
            e if e.is_retryable() => StepError::Unavailable {
                dependency: "Odoo",
                error: e.to_string(),
            },
            // Odoo answered, with an error that a retry may cure (a lock, a worker limit).
            other => StepError::Transient(format!("Odoo: {other}")),
        }
    }
}

impl From<crate::odoo::OdooUseError> for StepError {
    fn from(e: crate::odoo::OdooUseError) -> Self {
        StepError::Permanent(e.to_string())
    }
}

#[derive(Debug, Deserialize)]
struct TenantPayload {
    tenant_id: Uuid,
    #[serde(default)]
    backup: bool,
}

#[derive(Debug, Deserialize)]
struct PlanPayload {
    plan_id: Uuid,
    #[serde(default)]
    rebuild: bool,
}

/// The tenant row as jobs need it.
#[derive(Debug, sqlx::FromRow)]
struct Row {
    slug: String,
    db_name: String,
    hostname: String,
    state: String,
    owner_email: String,
    owner_name: String,
    company_name: String,
    extra_companies: Vec<String>,
    owner_password_hash: Option<String>,
    steps_done: Vec<String>,
    plan_id: Uuid,
    plan_key: String,
    modules: Vec<String>,
    /// The plan asks for Odoo's sample products in the point of sale.
    pos_sample_products: bool,
    /// A warm-pool standby claimed by an earlier provisioning attempt that died before
    /// finishing the claim (read here so that provisioning needs one round trip before
    /// its clone).
    earlier_claim: Option<String>,
    /// The owner of the plan's template (`pg_database` is shared by the whole cluster, so
    /// the same round trip reads it): the role a clone is given unless `ODOO_DB_ROLE` is set.
    template_owner: Option<String>,
}

impl Row {
    /// Odoo's role, which must own the tenant's database (see [`Platform::odoo_db_owner`]).
    fn odoo_db_owner<'a>(&'a self, p: &'a Platform) -> Option<&'a str> {
        p.config
            .odoo_db_role
            .as_deref()
            .or(self.template_owner.as_deref())
    }
}

async fn load(p: &Platform, id: Uuid) -> Result<Row, StepError> {
    // The template's name is DbName::template's `tmpl_<odoo version>_<plan key>`.
    sqlx::query_as(
        "SELECT t.slug, t.db_name, t.hostname, t.state, t.owner_email, t.owner_name, t.company_name, \
         t.extra_companies, t.owner_password_hash, t.steps_done, t.plan_id, p.key AS plan_key, p.modules, p.pos_sample_products, \
         (SELECT w.db_name FROM warm_pool w WHERE w.claimed_by = t.id LIMIT 1) AS earlier_claim, \
         (SELECT pg_get_userbyid(d.datdba)::text FROM pg_database d \
            WHERE d.datname = format('tmpl_%s_%s', $2::int, p.key)) AS template_owner \
         FROM tenants t JOIN plans p ON p.id = t.plan_id WHERE t.id = $1",
    )
    .bind(id)
    .bind(i64::from(p.config.odoo_version))
    .fetch_optional(&p.pool)
    .await?
    .ok_or_else(|| StepError::Permanent(format!("tenant {id} does not exist")))
}

async fn check_cancel(ctx: &JobContext) -> Result<(), StepError> {
    if ctx.cancel_requested().await {
        Err(StepError::Cancelled)
    } else {
        Ok(())
    }
}

async fn mark_step(p: &Platform, id: Uuid, step: &str) -> Result<(), StepError> {
    sqlx::query("UPDATE tenants SET steps_done = array_append(steps_done, $2), updated_at = now() WHERE id = $1 AND NOT ($2 = ANY(steps_done))")
        .bind(id)
        .bind(step)
        .execute(&p.pool)
        .await?;
    Ok(())
}

pub(crate) fn random_password() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 32)
}

/// Runs a tenant job and records its outcome on the tenant: the error of each failed
/// attempt, and `failed` when the job will not be retried any more.
pub async fn run_tenant_job(p: &Platform, ctx: &JobContext) -> Result<(), JobError> {
    let payload: TenantPayload = ctx.payload()?;
    let id = payload.tenant_id;
    let result = match ctx.kind.as_str() {
        kinds::PROVISION => provision(p, ctx, id).await,
        kinds::DEACTIVATE => switch_connections(p, ctx, id, &SUSPEND).await,
        kinds::REACTIVATE => switch_connections(p, ctx, id, &RESUME).await,
        kinds::DELETE => delete(p, ctx, id, payload.backup).await,
        other => Err(StepError::Permanent(format!("not a tenant job: {other}"))),
    };
    let Err(error) = result else {
        return Ok(());
    };
    if let StepError::Waiting(reason) = &error {
        tracing::info!(tenant_id = %id, job_id = %ctx.id, kind = %ctx.kind, %reason, "tenant job waiting");
        return Err(error.into());
    }
    let message = error.to_string();
    let error = JobError::from(error);
    let last_attempt = ctx.is_final(&error);
    tracing::warn!(tenant_id = %id, job_id = %ctx.id, kind = %ctx.kind, attempt = ctx.attempt, error = %message, final = last_attempt, "tenant job step failed");
    let recorded = if last_attempt {
        mark_failed(p, ctx, id, &message).await
    } else {
        sqlx::query("UPDATE tenants SET last_error = $2, updated_at = now() WHERE id = $1")
            .bind(id)
            .bind(&message)
            .execute(&p.pool)
            .await
            .map(|_| ())
    };
    if let Err(e) = recorded {
        tracing::error!(tenant_id = %id, job_id = %ctx.id, error = %e, "could not record the job error on the tenant");
    }
    Err(error)
}

async fn mark_failed(
    p: &Platform,
    ctx: &JobContext,
    id: Uuid,
    message: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = p.pool.begin().await?;
    let from: Option<String> = sqlx::query_scalar(
        "UPDATE tenants SET state = 'failed', pending_op = NULL, pending_job_id = NULL, last_error = $2, updated_at = now() \
         WHERE id = $1 AND state NOT IN ('deleted', 'failed') RETURNING state",
    )
    .bind(id)
    .bind(message)
    .fetch_optional(&mut *tx)
    .await?;
    if from.is_some() {
        audit::record(
            &mut *tx,
            &Actor::system(),
            "tenant.failed",
            Some(id),
            Some(ctx.id),
            json!({"kind": ctx.kind, "error": message}),
        )
        .await?;
    }
    tx.commit().await
}

/// Moves the tenant into `to` from one of `from` and writes the audit entry, in one
/// transaction; false if it was not in one of `from`.
struct Change<'a> {
    from: &'a [&'a str],
    to: &'a str,
    pending_op: Option<&'a str>,
    action: &'a str,
}

async fn transition(
    p: &Platform,
    ctx: &JobContext,
    id: Uuid,
    change: Change<'_>,
    details: Value,
) -> Result<bool, StepError> {
    let Change {
        from,
        to,
        pending_op,
        action,
    } = change;
    let from: Vec<String> = from.iter().map(|s| (*s).to_owned()).collect();
    let mut tx = p.pool.begin().await?;
    if to == "provisioning" {
        // An intermediate state: no wait for the WAL flush (sign-up path). Losing it in a
        // crash leaves the tenant `requested` and its job re-delivered, which redoes it.
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
    }
    let done = sqlx::query(
        "UPDATE tenants SET state = $3, pending_op = $4, pending_job_id = CASE WHEN $4::text IS NULL THEN NULL ELSE $5 END, \
         last_error = NULL, updated_at = now(), \
         activated_at = CASE WHEN $3 = 'active' THEN now() ELSE activated_at END, \
         suspended_at = CASE WHEN $3 = 'suspended' THEN now() ELSE suspended_at END, \
         deleted_at = CASE WHEN $3 = 'deleted' THEN now() ELSE deleted_at END, \
         owner_password_hash = CASE WHEN $3 IN ('active', 'deleting', 'deleted') THEN NULL ELSE owner_password_hash END \
         WHERE id = $1 AND state = ANY($2)",
    )
    .bind(id)
    .bind(&from)
    .bind(to)
    .bind(pending_op)
    .bind(ctx.id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if done {
        let notice = match action {
            "tenant.suspended" => Some(TenantNotice::Suspended),
            "tenant.reactivated" => Some(TenantNotice::Reactivated),
            "tenant.deleted" => Some(TenantNotice::Deleted {
                backup: details["backup"].as_bool().unwrap_or(false),
            }),
            _ => None,
        };
        audit::record(
            &mut *tx,
            &Actor::system(),
            action,
            Some(id),
            Some(ctx.id),
            details,
        )
        .await?;
        if to == "deleted" {
            // Its custom domains are free for another tenant (their routes went already).
            crate::domains::release_for_deleted_tenant(&mut *tx, id).await?;
        }
        if let Some(notice) = notice {
            queue_notice(&mut tx, p, id, notice).await?;
        }
    }
    tx.commit().await?;
    Ok(done)
}

/// Queues the owner's message about a transition in the transition's transaction.
async fn queue_notice(
    tx: &mut sqlx::PgConnection,
    p: &Platform,
    id: Uuid,
    notice: TenantNotice,
) -> Result<(), StepError> {
    queue_tenant_notice(tx, p, id, notice)
        .await
        .map(|_| ())
        .map_err(|e| StepError::Transient(e.to_string()))
}

const PROVISION_STEPS: i32 = 6;

/// Writes the audit entry of an intermediate provisioning step (`tenant.database_created`,
/// `tenant.neutralized`) as [`audit::record_step`] does, without waiting for the WAL flush
/// (a PostgreSQL crash can only lose the latest such entries, never a state transition),
/// but in one round trip instead of four: a single autocommit statement whose own
/// `set_config(…, true)` makes its commit asynchronous, for that statement only. The
/// commit of `tenant.neutralized` is where a sign-up's database is ready.
async fn record_step(
    p: &Platform,
    action: &str,
    id: Uuid,
    job_id: Uuid,
    details: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (actor, action, tenant_id, job_id, details) \
         SELECT $1, $2, $3, $4, $5 FROM (SELECT set_config('synchronous_commit', 'off', true)) AS s",
    )
    .bind(Actor::system().as_str())
    .bind(action)
    .bind(id)
    .bind(job_id)
    .bind(details)
    .execute(&p.pool)
    .await?;
    Ok(())
}

async fn provision(p: &Platform, ctx: &JobContext, id: Uuid) -> Result<(), StepError> {
    let started = Instant::now();
    let t = load(p, id).await?;
    let loaded = started.elapsed();
    match t.state.as_str() {
        "active" | "deleting" | "deleted" | "suspended" => {
            tracing::info!(tenant_id = %id, state = %t.state, "provisioning: nothing to do");
            return Ok(());
        }
        _ => {}
    }
    let earlier = t.earlier_claim.clone();
    let owner = t.odoo_db_owner(p);
    let tenant_db = DbName::parse(&t.db_name)?;
    let template = DbName::template(p.config.odoo_version, &t.plan_key)?;

    // 1. The database: a standby from the warm pool, else a clone of the template. The
    // move to `provisioning` and the progress are written meanwhile (the clone does not
    // depend on them); `tenant.database_created` follows both, so the audit order holds.
    let moved = transition(
        p,
        ctx,
        id,
        Change {
            from: &["requested", "failed"],
            to: "provisioning",
            pending_op: Some("provision"),
            action: "tenant.provisioning",
        },
        json!({"attempt": ctx.attempt}),
    );
    let (moved, progress, via) = tokio::join!(
        moved,
        ctx.progress(1, PROVISION_STEPS, "database"),
        claim_or_clone(p, id, earlier, &template, &tenant_db, owner),
    );
    moved?;
    progress?;
    let via = via?;
    // A delete that ran since the tenant was loaded (a retried provisioning racing it) may
    // have found no database to drop: the one just made or adopted goes now, so a deleted
    // tenant never gets its database back. (The delete moves the state before it looks for
    // the database, and this looks at the state after making it: one of them sees the other.)
    let state: Option<String> = sqlx::query_scalar("SELECT state FROM tenants WHERE id = $1")
        .bind(id)
        .fetch_optional(&p.pool)
        .await?;
    if matches!(state.as_deref(), None | Some("deleting" | "deleted")) {
        tracing::info!(tenant_id = %id, job_id = %ctx.id, state = ?state, "provisioning: the tenant is being deleted; its new database goes");
        if p.dbm.holder(&tenant_db, id).await? == Holder::Tenant {
            p.dbm.drop_database(&tenant_db).await?;
        }
        return Ok(());
    }
    let made = started.elapsed();

    // 2. The filestore folder, as Odoo's duplicate copies it (after the audit entry of step
    // 1 and a cancel check). Meanwhile the connection step 3 needs is opened: a new backend
    // on a database it has never seen, the slowest part of step 3.
    let (before, opened) = tokio::join!(
        before_neutralize(p, ctx, id, via, &t.db_name, &template, &tenant_db),
        p.dbm.open_for_neutralize(&tenant_db),
    );
    let conn = match (before, opened) {
        (Ok(()), Ok(conn)) => conn,
        (Err(e), Ok(conn)) => {
            conn.close().await;
            return Err(e);
        }
        (Err(e), Err(_)) => return Err(e),
        (Ok(()), Err(e)) => return Err(e.into()),
    };
    let opened = started.elapsed();

    // 3. Neutralize and set the owner (no progress write of its own: it takes milliseconds).
    let Some(owner_hash) = t.owner_password_hash.clone().map(SecretString::from) else {
        conn.close().await;
        return Err(StepError::Permanent(
            "the owner's password hash is gone; create the tenant again".into(),
        ));
    };
    let neutralize = Neutralize {
        tenant_id: id,
        base_url: format!("https://{}", t.hostname),
        admin_login: t.owner_email.clone(),
        admin_name: t.owner_name.clone(),
        admin_password_hash: owner_hash.clone(),
        company_name: t.company_name.clone(),
    };
    let outcome = p.dbm.neutralize_on(conn, &neutralize).await?;
    let neutralized = started.elapsed();
    if outcome == Outcome::Done {
        record_step(p, "tenant.neutralized", id, ctx.id, json!({})).await?;
    }
    let ms = |from: Duration, to: Duration| (to - from).as_secs_f64() * 1e3;
    tracing::debug!(
        tenant_id = %id,
        load_ms = ms(Duration::ZERO, loaded),
        database_ms = ms(loaded, made),
        connection_ms = ms(made, opened),
        neutralize_ms = ms(opened, neutralized),
        audit_ms = ms(neutralized, started.elapsed()),
        "provisioning: database ready"
    );
    check_cancel(ctx).await?;

    // 4–5. Over JSON-RPC as the admin, with a one-time password (the owner's is only a hash).
    if !t.modules.is_empty() || !t.extra_companies.is_empty() {
        let odoo = p.odoo_admin()?;
        let once = random_password();
        let once_hash = odoo_passlib::hash_password_rounds(&once, 1000);
        p.dbm
            .set_admin_password_hash(&tenant_db, &SecretString::from(once_hash))
            .await?;
        ctx.progress(4, PROVISION_STEPS, "modules").await?;
        let rpc = async {
            let uid = odoo
                .login(tenant_db.as_str(), &t.owner_email, &once)
                .await?
                .ok_or_else(|| {
                    StepError::Transient("Odoo refused the provisioning login".into())
                })?;
            let object = odoo.object(tenant_db.as_str(), uid, once.as_str());
            if !t.modules.is_empty() {
                let names: Vec<&str> = t.modules.iter().map(String::as_str).collect();
                let installed = object.install_modules(&names).await?;
                if !installed.is_empty() {
                    audit::record(
                        &p.pool,
                        &Actor::system(),
                        "tenant.modules_installed",
                        Some(id),
                        Some(ctx.id),
                        json!({"modules": installed}),
                    )
                    .await?;
                }
                if t.modules.iter().any(|m| m == "point_of_sale") {
                    if let Some(shop) =
                        open_pos_shop(&object, &t.company_name, t.pos_sample_products).await?
                    {
                        audit::record(
                            &p.pool,
                            &Actor::system(),
                            "tenant.pos_shop_created",
                            Some(id),
                            Some(ctx.id),
                            json!({"pos_config_id": shop}),
                        )
                        .await?;
                    }
                }
            }
            ctx.progress(5, PROVISION_STEPS, "companies").await?;
            if !t.extra_companies.is_empty() {
                let created = set_up_companies(&object, uid, &t.extra_companies).await?;
                if !created.is_empty() {
                    audit::record(
                        &p.pool,
                        &Actor::system(),
                        "tenant.companies_created",
                        Some(id),
                        Some(ctx.id),
                        json!({"companies": created}),
                    )
                    .await?;
                }
            }
            Ok::<(), StepError>(())
        }
        .await;
        // Always put the owner's password back, whatever the RPC did.
        let restored = p.dbm.set_admin_password_hash(&tenant_db, &owner_hash).await;
        rpc?;
        restored?;
    }
    check_cancel(ctx).await?;

    // 6. Active; top the warm pool up again.
    ctx.progress(6, PROVISION_STEPS, "activate").await?;
    let mut tx = p.pool.begin().await?;
    let activated = sqlx::query(
        "UPDATE tenants SET state = 'active', pending_op = NULL, pending_job_id = NULL, last_error = NULL, \
         owner_password_hash = NULL, activated_at = now(), updated_at = now() WHERE id = $1 AND state = 'provisioning'",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if activated {
        audit::record(
            &mut *tx,
            &Actor::system(),
            "tenant.activated",
            Some(id),
            Some(ctx.id),
            json!({"db": t.db_name, "hostname": t.hostname}),
        )
        .await?;
        if p.config.warm_pool_size > 0 {
            enqueue_refill(&mut tx, t.plan_id).await?;
        }
        queue_notice(&mut tx, p, id, TenantNotice::Welcome).await?;
    }
    tx.commit().await?;
    tracing::info!(tenant_id = %id, slug = %t.slug, "tenant active");
    Ok(())
}

/// Enqueues a warm-pool refill for a plan (deduplicated).
pub async fn enqueue_refill(
    conn: &mut sqlx::PgConnection,
    plan_id: Uuid,
) -> Result<Uuid, job_queue::QueueError> {
    job_queue::enqueue(
        &mut *conn,
        NewJob::new(kinds::REFILL_POOL, json!({"plan_id": plan_id}))
            .with_max_attempts(5)
            .with_dedupe_key(format!("refill_pool:{plan_id}")),
    )
    .await
}

/// What precedes the neutralization: the `tenant.database_created` entry (when this attempt
/// made the database), a cancel check, and the filestore copy.
async fn before_neutralize(
    p: &Platform,
    ctx: &JobContext,
    id: Uuid,
    via: Option<&'static str>,
    db_name: &str,
    template: &DbName,
    tenant_db: &DbName,
) -> Result<(), StepError> {
    if let Some(via) = via {
        record_step(
            p,
            "tenant.database_created",
            id,
            ctx.id,
            json!({"db": db_name, "via": via}),
        )
        .await?;
    }
    check_cancel(ctx).await?;
    if p.config.odoo_filestore_dir.is_some() {
        ctx.progress(2, PROVISION_STEPS, "filestore").await?;
        p.dbm.copy_filestore(template, tenant_db).await?;
    }
    Ok(())
}

/// Step 1: returns how the database was made (`pool` or `clone`), or `None` if it existed.
/// `earlier` is a standby an earlier attempt claimed (`Row::earlier_claim`); a clone is
/// owned by `owner`, Odoo's role (standbys already are: the refill clones them so).
///
/// A database of the tenant's name is adopted only when it carries the tenant's marker
/// (`db_manager::tenant_marker`, written before it takes the name); any other is left
/// alone and the provisioning fails for good ([`DbManagerError::NotOurs`]).
async fn claim_or_clone(
    p: &Platform,
    id: Uuid,
    earlier: Option<String>,
    template: &DbName,
    tenant_db: &DbName,
    owner: Option<&str>,
) -> Result<Option<&'static str>, StepError> {
    if let Some(standby) = earlier {
        let standby = DbName::parse(&standby)?;
        let renamed = if p.dbm.exists(&standby).await? {
            if p.dbm.holder(tenant_db, id).await? == Holder::Absent {
                p.dbm.mark_tenant(&standby, id).await?;
                p.dbm.rename(&standby, tenant_db).await?;
                true
            } else {
                // The tenant has its database: the standby is one more copy of the template.
                p.dbm.drop_database(&standby).await?;
                false
            }
        } else {
            false
        };
        // Its filestore folder goes with it (also when only the database was renamed
        // before the earlier attempt died).
        p.dbm.rename_filestore(&standby, tenant_db).await?;
        sqlx::query("DELETE FROM warm_pool WHERE db_name = $1")
            .bind(standby.as_str())
            .execute(&p.pool)
            .await?;
        if renamed {
            return Ok(Some("pool"));
        }
    }
    match p.dbm.holder(tenant_db, id).await? {
        Holder::Tenant => return Ok(None),
        Holder::Other => return Err(DbManagerError::NotOurs(tenant_db.clone()).into()),
        Holder::Absent => {}
    }
    // A clone an interrupted attempt started is finished rather than a standby claimed.
    let cloning = p.dbm.exists(&DbName::tenant_clone(id)?).await?;
    if p.config.warm_pool_size > 0 && !cloning && claim(p, id, template, tenant_db).await?.is_some()
    {
        return Ok(Some("pool"));
    }
    // The owner read with the tenant is `None` when the template did not exist yet (its
    // build renames it into place at the end): read it again now. Cloning without it would
    // give the database to the platform's role, where Odoo's role may not even create its
    // tables ("permission denied for schema public"), and every retry would find that
    // database already made. Still no owner: the template is still missing.
    let owner = match owner {
        Some(owner) => Some(owner.to_owned()),
        None => p.odoo_db_owner(template).await?,
    };
    let cloned = match owner {
        Some(owner) => {
            p.dbm
                .clone_for_tenant(template, tenant_db, id, Some(&owner))
                .await
        }
        None => Err(DbManagerError::NotFound(template.clone())),
    };
    match cloned {
        Ok(Outcome::Done) => Ok(Some("clone")),
        Ok(Outcome::AlreadyDone) => Ok(None),
        Err(DbManagerError::NotFound(_)) => {
            // The first tenant of a plan queues the template's build: wait for it without
            // spending attempts; any other missing template is an error worth retrying.
            // Only while a build job is alive (queued, running or due for a retry): a
            // cancelled or dead build must not leave the tenant waiting for ever.
            let building: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM tenants t JOIN jobs j \
                   ON j.kind = $2 AND j.payload->>'plan_id' = t.plan_id::text \
                 WHERE t.id = $1 AND j.state IN ('queued', 'running', 'failed'))",
            )
            .bind(id)
            .bind(kinds::BUILD_TEMPLATE)
            .fetch_one(&p.pool)
            .await?;
            if building {
                Err(StepError::Waiting(format!(
                    "the plan's template {template} is being built"
                )))
            } else {
                Err(StepError::Transient(format!(
                    "the template {template} is not built yet"
                )))
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Claims a ready standby database of `template` and renames it to the tenant's name.
/// Returns the standby's old name, or `None` when the pool is empty.
pub async fn claim(
    p: &Platform,
    tenant_id: Uuid,
    template: &DbName,
    tenant_db: &DbName,
) -> Result<Option<DbName>, StepError> {
    let claimed: Option<String> = sqlx::query_scalar(
        "UPDATE warm_pool SET claimed_by = $1 WHERE db_name = (SELECT db_name FROM warm_pool \
         WHERE template = $2 AND ready AND claimed_by IS NULL ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING db_name",
    )
    .bind(tenant_id)
    .bind(template.as_str())
    .fetch_optional(&p.pool)
    .await?;
    let Some(standby) = claimed else {
        return Ok(None);
    };
    let standby = DbName::parse(&standby)?;
    // Marked before it takes the tenant's name: a database of that name is the tenant's
    // exactly when it carries the marker.
    let marked = match p.dbm.mark_tenant(&standby, tenant_id).await {
        Ok(()) => p.dbm.rename(&standby, tenant_db).await,
        Err(e) => Err(e),
    };
    match marked {
        Ok(()) => {}
        Err(DbManagerError::NotFound(_)) => {
            // The standby vanished (dropped by hand): forget it and let the caller clone.
            sqlx::query("DELETE FROM warm_pool WHERE db_name = $1")
                .bind(standby.as_str())
                .execute(&p.pool)
                .await?;
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    }
    // The standby's copy of the template's filestore becomes the tenant's (it was one
    // folder leaked per pooled sign-up, the tenant getting another copy of the template's).
    p.dbm.rename_filestore(&standby, tenant_db).await?;
    sqlx::query("DELETE FROM warm_pool WHERE db_name = $1")
        .bind(standby.as_str())
        .execute(&p.pool)
        .await?;
    Ok(Some(standby))
}

/// A tenant with point_of_sale gets a shop ready to sell, as Odoo 18's POS onboarding
/// makes one (`pos_config.py`): a `pos.config` created without payment methods takes
/// `_default_payment_methods`, which on a new database runs
/// `_create_journal_and_payment_methods` (a cash journal and "Cash" for this shop, "Card" on
/// the bank journal, "Customer Account"). A plan with sample products asks Odoo's own
/// onboarding scenario instead (`load_onboarding_bakery_scenario`, what the POS dashboard's
/// "Bakery" button calls): its products, the same payment methods and a "Bakery Shop", in
/// one Odoo transaction. Nothing is done when the tenant already has a point of sale (a
/// template that had one, or a retried step). Returns the new shop's id.
async fn open_pos_shop(
    object: &odoo_rpc::Object<'_, odoo_rpc::ReqwestTransport>,
    company_name: &str,
    sample_products: bool,
) -> Result<Option<i64>, StepError> {
    // Archived shops count too: the owner may have closed one on purpose.
    let any_shop = json!(["|", ["active", "=", true], ["active", "=", false]]);
    let existing = object.search_count("pos.config", any_shop.clone()).await?;
    if existing > 0 {
        return Ok(None);
    }
    if sample_products {
        object
            .execute_kw(
                "pos.config",
                "load_onboarding_bakery_scenario",
                Vec::new(),
                Map::new(),
            )
            .await?;
        let made = object
            .search(
                "pos.config",
                any_shop,
                &SearchOptions {
                    limit: Some(1),
                    ..SearchOptions::default()
                },
            )
            .await?;
        return Ok(made.first().copied());
    }
    let mut vals = Map::new();
    vals.insert("name".into(), json!(format!("{company_name} Shop")));
    Ok(Some(object.create("pos.config", vals).await?))
}

/// Creates the missing companies, gives the admin all of them and the multi-company group.
pub(crate) async fn set_up_companies(
    object: &odoo_rpc::Object<'_, odoo_rpc::ReqwestTransport>,
    uid: i64,
    names: &[String],
) -> Result<Vec<String>, StepError> {
    let mut created = Vec::new();
    let mut ids = Vec::new();
    for name in names {
        let found = object
            .search(
                "res.company",
                json!([["name", "=", name]]),
                &SearchOptions::default(),
            )
            .await?;
        let id = match found.first() {
            Some(id) => *id,
            None => {
                let mut vals = Map::new();
                vals.insert("name".into(), json!(name));
                created.push(name.clone());
                object.create("res.company", vals).await?
            }
        };
        ids.push(id);
    }
    let group = object
        .search_read(
            "ir.model.data",
            json!([
                ["module", "=", "base"],
                ["name", "=", "group_multi_company"]
            ]),
            &["res_id"],
            &SearchOptions::default(),
        )
        .await?;
    let mut vals = Map::new();
    let mut company_cmds: Vec<Value> = ids.iter().map(|id| json!([4, id])).collect();
    company_cmds.push(json!([4, 1]));
    vals.insert("company_ids".into(), Value::Array(company_cmds));
    if let Some(gid) = group
        .first()
        .and_then(|r| r.get("res_id"))
        .and_then(Value::as_i64)
    {
        vals.insert("groups_id".into(), json!([[4, gid]]));
    }
    object.write("res.users", &[uid], vals).await?;
    Ok(created)
}

/// One direction of the connection switch: deactivate (suspend) or reactivate (resume).
struct Switch {
    op: &'static str,
    allow_connections: bool,
    doing: &'static str,
    done: &'static str,
    from: &'static [&'static str],
    to: &'static str,
    action: &'static str,
}

const SUSPEND: Switch = Switch {
    op: "deactivate",
    allow_connections: false,
    doing: "refuse connections",
    done: "suspended",
    from: &["active", "failed"],
    to: "suspended",
    action: "tenant.suspended",
};

const RESUME: Switch = Switch {
    op: "reactivate",
    allow_connections: true,
    doing: "accept connections",
    done: "active",
    from: &["suspended", "failed"],
    to: "active",
    action: "tenant.reactivated",
};

/// Suspends or resumes the tenant's database, then records the new state.
async fn switch_connections(
    p: &Platform,
    ctx: &JobContext,
    id: Uuid,
    switch: &Switch,
) -> Result<(), StepError> {
    let t = load(p, id).await?;
    if !matches!(t.state.as_str(), "active" | "suspended" | "failed") {
        return Err(StepError::Permanent(format!(
            "cannot {} a tenant that is {}",
            switch.op, t.state
        )));
    }
    let db = DbName::parse(&t.db_name)?;
    ctx.progress(1, 2, switch.doing).await?;
    if switch.allow_connections {
        p.dbm.resume(&db).await?;
    } else {
        p.dbm.suspend(&db).await?;
    }
    ctx.progress(2, 2, switch.done).await?;
    transition(
        p,
        ctx,
        id,
        Change {
            from: switch.from,
            to: switch.to,
            pending_op: None,
            action: switch.action,
        },
        json!({"db": t.db_name}),
    )
    .await?;
    clear_pending(p, id, switch.op).await
}

async fn clear_pending(p: &Platform, id: Uuid, op: &str) -> Result<(), StepError> {
    sqlx::query("UPDATE tenants SET pending_op = NULL, pending_job_id = NULL WHERE id = $1 AND pending_op = $2")
        .bind(id)
        .bind(op)
        .execute(&p.pool)
        .await?;
    Ok(())
}

async fn delete(p: &Platform, ctx: &JobContext, id: Uuid, backup: bool) -> Result<(), StepError> {
    let t = load(p, id).await?;
    match t.state.as_str() {
        "deleted" => return Ok(()),
        "deleting" => {}
        "failed" => {
            transition(
                p,
                ctx,
                id,
                Change {
                    from: &["failed"],
                    to: "deleting",
                    pending_op: Some("delete"),
                    action: "tenant.deleting",
                },
                json!({"retry": true}),
            )
            .await?;
        }
        other => {
            return Err(StepError::Permanent(format!(
                "cannot delete a tenant that is {other}"
            )))
        }
    }
    let db = DbName::parse(&t.db_name)?;
    // The owner's password hash only served the provisioning, which will not run again.
    sqlx::query("UPDATE tenants SET owner_password_hash = NULL WHERE id = $1")
        .bind(id)
        .execute(&p.pool)
        .await?;
    // Whether a final backup exists (an earlier attempt may have taken it): the owner's
    // message says so.
    let mut backed_up = t.steps_done.iter().any(|s| s == "backup");
    // Only the tenant's own database (it carries the tenant's marker) is closed, backed up
    // and dropped; a database of the same name that is not its own is left alone, with its
    // filestore folder.
    let holder = p.dbm.holder(&db, id).await?;
    if holder == Holder::Other {
        tracing::warn!(tenant_id = %id, job_id = %ctx.id, db = %db, "delete: the database of the tenant's name is not its own; left alone");
    }
    let exists = holder == Holder::Tenant;
    if exists {
        // Closed first, and never opened again: a suspended customer stays suspended
        // whatever happens next (a failed dump, a cancel), and the final backup holds
        // the last write.
        ctx.progress(1, 4, "refuse connections").await?;
        p.dbm.suspend(&db).await?;
    }
    if backup && !backed_up && exists {
        ctx.progress(2, 4, "backup").await?;
        // PostgreSQL refuses pg_dump on the closed database: it dumps a private copy.
        let copy = DbName::dump_copy(id)?;
        let file = p.dbm.backup_closed(&db, &copy).await?;
        mark_step(p, id, "backup").await?;
        backed_up = true;
        audit::record(
            &p.pool,
            &Actor::system(),
            "tenant.backed_up",
            Some(id),
            Some(ctx.id),
            json!({"file": file.display().to_string()}),
        )
        .await?;
    }
    check_cancel(ctx).await?;
    ctx.progress(3, 4, "drop").await?;
    match holder {
        Holder::Tenant => {
            p.dbm.drop_database(&db).await?;
        }
        Holder::Absent => p.dbm.remove_filestore(&db).await?,
        Holder::Other => {}
    }
    ctx.progress(4, 4, "deleted").await?;
    transition(
        p,
        ctx,
        id,
        Change {
            from: &["deleting"],
            to: "deleted",
            pending_op: None,
            action: "tenant.deleted",
        },
        json!({"db": t.db_name, "backup": backed_up}),
    )
    .await?;
    Ok(())
}

#[derive(Debug, sqlx::FromRow)]
struct PlanRow {
    key: String,
    modules: Vec<String>,
    template_state: String,
}

async fn load_plan(p: &Platform, id: Uuid) -> Result<PlanRow, StepError> {
    sqlx::query_as("SELECT key, modules, template_state FROM plans WHERE id = $1")
        .bind(id)
        .fetch_optional(&p.pool)
        .await?
        .ok_or_else(|| StepError::Permanent(format!("plan {id} does not exist")))
}

/// Keeps `WARM_POOL_SIZE` ready standby databases per plan template.
pub async fn refill_pool(p: &Platform, ctx: &JobContext) -> Result<(), JobError> {
    let payload: PlanPayload = ctx.payload()?;
    refill(p, payload.plan_id).await.map_err(JobError::from)
}

async fn refill(p: &Platform, plan_id: Uuid) -> Result<(), StepError> {
    let plan = load_plan(p, plan_id).await?;
    let template = DbName::template(p.config.odoo_version, &plan.key)?;
    if !p.dbm.exists(&template).await? {
        return Ok(());
    }
    // Standbys an interrupted refill left half made (this job is the only refill per plan).
    let unfinished: Vec<String> = sqlx::query_scalar(
        "SELECT db_name FROM warm_pool WHERE template = $1 AND NOT ready AND claimed_by IS NULL",
    )
    .bind(template.as_str())
    .fetch_all(&p.pool)
    .await?;
    for name in unfinished {
        let db = DbName::parse(&name)?;
        p.dbm.drop_database(&db).await?;
        sqlx::query("DELETE FROM warm_pool WHERE db_name = $1")
            .bind(&name)
            .execute(&p.pool)
            .await?;
    }
    let ready: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM warm_pool WHERE template = $1 AND ready AND claimed_by IS NULL",
    )
    .bind(template.as_str())
    .fetch_one(&p.pool)
    .await?;
    let want = i64::from(p.config.warm_pool_size);
    let owner = if ready < want {
        p.odoo_db_owner(&template).await?
    } else {
        None
    };
    for _ in ready..want {
        let standby = DbName::standby(&template)?;
        sqlx::query("INSERT INTO warm_pool (db_name, template) VALUES ($1, $2)")
            .bind(standby.as_str())
            .bind(template.as_str())
            .execute(&p.pool)
            .await?;
        p.dbm
            .clone_template(&template, &standby, owner.as_deref())
            .await?;
        p.dbm.copy_filestore(&template, &standby).await?;
        sqlx::query("UPDATE warm_pool SET ready = true WHERE db_name = $1")
            .bind(standby.as_str())
            .execute(&p.pool)
            .await?;
    }
    Ok(())
}

/// Builds (or rebuilds) a plan's template: Odoo's `db.create_database`, the plan's modules
/// over JSON-RPC, then the database closed to connections and marked a template.
pub async fn build_template(p: &Platform, ctx: &JobContext) -> Result<(), JobError> {
    let payload: PlanPayload = ctx.payload()?;
    let result = build(p, ctx, payload.plan_id, payload.rebuild).await;
    let Err(error) = result else {
        return Ok(());
    };
    let message = error.to_string();
    let error = JobError::from(error);
    let last = ctx.is_final(&error);
    if last {
        let _ = sqlx::query("UPDATE plans SET template_state = 'failed', template_error = $2, updated_at = now() WHERE id = $1")
            .bind(payload.plan_id)
            .bind(&message)
            .execute(&p.pool)
            .await;
    }
    tracing::warn!(plan_id = %payload.plan_id, job_id = %ctx.id, error = %message, final = last, "template build failed");
    Err(error)
}

async fn build(
    p: &Platform,
    ctx: &JobContext,
    plan_id: Uuid,
    rebuild: bool,
) -> Result<(), StepError> {
    let plan = load_plan(p, plan_id).await?;
    let template = DbName::template(p.config.odoo_version, &plan.key)?;
    if !rebuild && plan.template_state == "ready" && p.dbm.exists(&template).await? {
        return Ok(());
    }
    if !rebuild
        && p.dbm.exists(&template).await?
        && p.dbm.allows_connections(&template).await? == Some(false)
    {
        // Built and closed by an attempt that died before recording it.
        return finish_build(p, ctx, plan_id, &template).await;
    }
    let master = p
        .config
        .odoo_master_password
        .clone()
        .ok_or_else(|| StepError::Permanent("ODOO_MASTER_PASSWORD is not set".into()))?;
    let building = DbName::template_build(p.config.odoo_version, &plan.key)?;
    ctx.progress(1, 4, "create database").await?;
    // A half-built database of an earlier attempt is dropped and made again.
    p.dbm.drop_database(&building).await?;
    let odoo = p.odoo_admin()?;
    let password = random_password();
    let created = odoo
        .create_database(
            master.expose_secret(),
            building.as_str(),
            false,
            "en_US",
            &password,
            "admin",
            None,
            None,
        )
        .await?;
    if !created {
        return Err(StepError::Transient(format!(
            "Odoo did not create {building}"
        )));
    }
    ctx.progress(2, 4, "install modules").await?;
    let uid = odoo
        .login(building.as_str(), "admin", &password)
        .await?
        .ok_or_else(|| {
            StepError::Transient("Odoo refused the admin login of the new template".into())
        })?;
    if !plan.modules.is_empty() {
        let names: Vec<&str> = plan.modules.iter().map(String::as_str).collect();
        odoo.object(building.as_str(), uid, password.as_str())
            .install_modules(&names)
            .await?;
    }
    ctx.progress(3, 4, "close").await?;
    p.dbm.close_template(&building).await?;
    // Swap: standbys of the old template go, the old template goes, the new one takes its name.
    let standbys: Vec<String> = sqlx::query_scalar(
        "SELECT db_name FROM warm_pool WHERE template = $1 AND claimed_by IS NULL",
    )
    .bind(template.as_str())
    .fetch_all(&p.pool)
    .await?;
    for name in standbys {
        p.dbm.drop_database(&DbName::parse(&name)?).await?;
        sqlx::query("DELETE FROM warm_pool WHERE db_name = $1")
            .bind(&name)
            .execute(&p.pool)
            .await?;
    }
    if p.dbm.exists(&template).await? {
        p.dbm.unmark_template(&template).await?;
        p.dbm.drop_database(&template).await?;
    }
    p.dbm.rename(&building, &template).await?;
    p.dbm.rename_filestore(&building, &template).await?;
    finish_build(p, ctx, plan_id, &template).await
}

async fn finish_build(
    p: &Platform,
    ctx: &JobContext,
    plan_id: Uuid,
    template: &DbName,
) -> Result<(), StepError> {
    ctx.progress(4, 4, "ready").await?;
    let mut tx = p.pool.begin().await?;
    sqlx::query("UPDATE plans SET template_state = 'ready', template_error = NULL, template_built_at = now(), updated_at = now() WHERE id = $1")
        .bind(plan_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut *tx,
        &Actor::system(),
        "plan.template_built",
        None,
        Some(ctx.id),
        json!({"plan_id": plan_id, "template": template.as_str()}),
    )
    .await?;
    if p.config.warm_pool_size > 0 {
        enqueue_refill(&mut tx, plan_id).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// One database the repair looks at: a tenant's (with its id) or a warm-pool standby.
#[derive(Debug, sqlx::FromRow)]
struct OwnedDb {
    tenant_id: Option<Uuid>,
    db_name: String,
    template: String,
}

/// Gives every existing tenant and standby database to Odoo's role (`ODOO_DB_ROLE`, else
/// its template's owner). Databases made before provisioning created them `OWNER` that role
/// belong to the platform's role, and Odoo serves none of them by host name (its
/// `list_dbs` keeps the databases its own role owns). Idempotent: a database already owned
/// by the right role is left alone; one whose template is gone (and no role configured) is
/// skipped and counted.
pub async fn repair_db_owners(p: &Platform, ctx: &JobContext) -> Result<(), JobError> {
    repair_owners(p, ctx).await.map_err(JobError::from)
}

async fn repair_owners(p: &Platform, ctx: &JobContext) -> Result<(), StepError> {
    let dbs: Vec<OwnedDb> = sqlx::query_as(
        "SELECT t.id AS tenant_id, t.db_name, format('tmpl_%s_%s', $1::int, p.key) AS template \
         FROM tenants t JOIN plans p ON p.id = t.plan_id WHERE t.state NOT IN ('awaiting_payment', 'requested', 'deleted') \
         UNION ALL SELECT NULL, w.db_name, w.template FROM warm_pool w ORDER BY 2",
    )
    .bind(i64::from(p.config.odoo_version))
    .fetch_all(&p.pool)
    .await?;
    let total = i32::try_from(dbs.len()).unwrap_or(i32::MAX);
    let mut owners: std::collections::HashMap<String, Option<String>> = Default::default();
    let (mut repaired, mut skipped) = (0u32, Vec::new());
    for (n, item) in dbs.iter().enumerate() {
        check_cancel(ctx).await?;
        ctx.progress(
            i32::try_from(n).unwrap_or(i32::MAX),
            total,
            &format!("checking {}", item.db_name),
        )
        .await?;
        let db = DbName::parse(&item.db_name)?;
        let Some(current) = p.dbm.owner(&db).await? else {
            continue; // gone (dropped, or never made)
        };
        if let Some(tenant_id) = item.tenant_id {
            // Only the tenant's own database is given to Odoo: one of its name without its
            // marker is someone else's.
            if p.dbm.holder(&db, tenant_id).await? != Holder::Tenant {
                tracing::warn!(tenant_id = %tenant_id, db = %item.db_name,
                    "not the tenant's own database (no marker): its owner is left alone");
                skipped.push(item.db_name.clone());
                continue;
            }
        }
        let wanted = match owners.get(&item.template) {
            Some(w) => w.clone(),
            None => {
                let w = p.odoo_db_owner(&DbName::parse(&item.template)?).await?;
                owners.insert(item.template.clone(), w.clone());
                w
            }
        };
        let Some(wanted) = wanted else {
            tracing::warn!(db = %item.db_name, template = %item.template,
                "cannot tell Odoo's role: the template is gone and ODOO_DB_ROLE is not set");
            skipped.push(item.db_name.clone());
            continue;
        };
        if current == wanted {
            continue;
        }
        p.dbm.set_owner(&db, &wanted).await?;
        repaired += 1;
        tracing::info!(db = %item.db_name, from = %current, to = %wanted, "database given to Odoo's role");
        if let Some(tenant_id) = item.tenant_id {
            audit::record(
                &p.pool,
                &Actor::system(),
                "tenant.db_owner_repaired",
                Some(tenant_id),
                Some(ctx.id),
                json!({"db": item.db_name, "from": current, "to": wanted}),
            )
            .await?;
        }
    }
    ctx.progress(total, total, "done").await?;
    audit::record(
        &p.pool,
        &Actor::system(),
        "platform.db_owners_repaired",
        None,
        Some(ctx.id),
        json!({"checked": dbs.len(), "repaired": repaired, "skipped": skipped}),
    )
    .await?;
    Ok(())
}

/// Queues the owner repair (deduplicated while one is unfinished).
pub async fn enqueue_owner_repair(pool: &sqlx::PgPool) -> Result<Uuid, job_queue::QueueError> {
    job_queue::enqueue(
        pool,
        NewJob::new(kinds::REPAIR_DB_OWNERS, json!({}))
            .with_max_attempts(8)
            .with_dedupe_key(kinds::REPAIR_DB_OWNERS.to_owned()),
    )
    .await
}
