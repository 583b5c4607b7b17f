//! The tenant jobs: provision, deactivate, reactivate, delete, refill the warm pool, and
//! build a plan's template. Each is a list of idempotent steps: a step checks whether its
//! effect already exists, so a retried or re-delivered job never does a step twice in effect.

use crate::audit::{self, Actor};
use crate::db_manager::{DbManagerError, DbName, Neutralize, Outcome};
use crate::jobs::kinds;
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
    /// A cancel was requested.
    Cancelled,
}

/// How often a tenant job waiting on its plan's template looks again.
const TEMPLATE_WAIT: Duration = Duration::from_secs(2);

impl From<StepError> for JobError {
    fn from(e: StepError) -> Self {
        match e {
            StepError::Transient(m) => JobError::Retry(m),
            StepError::Permanent(m) => JobError::Permanent(m),
            StepError::Waiting(m) => JobError::snooze(m, TEMPLATE_WAIT),
            StepError::Cancelled => JobError::Cancelled,
        }
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepError::Transient(m) | StepError::Permanent(m) => f.write_str(m),
            StepError::Waiting(m) => write!(f, "waiting: {m}"),
            StepError::Cancelled => f.write_str("cancelled"),
        }
    }
}

impl From<DbManagerError> for StepError {
    fn from(e: DbManagerError) -> Self {
        if e.is_transient() {
            StepError::Transient(e.to_string())
        } else {
            StepError::Permanent(e.to_string())
        }
    }
}

impl From<sqlx::Error> for StepError {
    fn from(e: sqlx::Error) -> Self {
        StepError::Transient(format!("platform database: {e}"))
    }
}

impl From<job_queue::QueueError> for StepError {
    fn from(e: job_queue::QueueError) -> Self {
        StepError::Transient(e.to_string())
    }
}

impl From<RpcError> for StepError {
    fn from(e: RpcError) -> Self {
        match e {
            RpcError::UnknownModules(m) => {
                StepError::Permanent(format!("Odoo does not know the modules {m:?}"))
            }
            // Odoo down, restarting, timing out or refusing for now: retry with backoff.
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
    /// A warm-pool standby claimed by an earlier provisioning attempt that died before
    /// finishing the claim (read here so that provisioning needs one round trip before
    /// its clone).
    earlier_claim: Option<String>,
}

async fn load(p: &Platform, id: Uuid) -> Result<Row, StepError> {
    sqlx::query_as(
        "SELECT t.slug, t.db_name, t.hostname, t.state, t.owner_email, t.owner_name, t.company_name, \
         t.extra_companies, t.owner_password_hash, t.steps_done, t.plan_id, p.key AS plan_key, p.modules, \
         (SELECT w.db_name FROM warm_pool w WHERE w.claimed_by = t.id LIMIT 1) AS earlier_claim \
         FROM tenants t JOIN plans p ON p.id = t.plan_id WHERE t.id = $1",
    )
    .bind(id)
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

fn random_password() -> String {
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
    let last_attempt = match &error {
        StepError::Transient(_) => {
            let max: Option<i32> =
                sqlx::query_scalar("SELECT max_attempts FROM jobs WHERE id = $1")
                    .bind(ctx.id)
                    .fetch_optional(&p.pool)
                    .await
                    .unwrap_or(None);
            max.is_some_and(|m| ctx.attempt >= m)
        }
        _ => true,
    };
    tracing::warn!(tenant_id = %id, job_id = %ctx.id, kind = %ctx.kind, attempt = ctx.attempt, %error, final = last_attempt, "tenant job step failed");
    let message = error.to_string();
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
    Err(error.into())
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
         owner_password_hash = CASE WHEN $3 = 'active' THEN NULL ELSE owner_password_hash END \
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
        audit::record(
            &mut *tx,
            &Actor::system(),
            action,
            Some(id),
            Some(ctx.id),
            details,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(done)
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
        claim_or_clone(p, id, earlier, &template, &tenant_db),
    );
    moved?;
    progress?;
    let via = via?;
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
/// `earlier` is a standby an earlier attempt claimed (`Row::earlier_claim`).
async fn claim_or_clone(
    p: &Platform,
    id: Uuid,
    earlier: Option<String>,
    template: &DbName,
    tenant_db: &DbName,
) -> Result<Option<&'static str>, StepError> {
    if let Some(standby) = earlier {
        let standby = DbName::parse(&standby)?;
        let renamed = if p.dbm.exists(&standby).await? && !p.dbm.exists(tenant_db).await? {
            p.dbm.rename(&standby, tenant_db).await?;
            true
        } else {
            false
        };
        sqlx::query("DELETE FROM warm_pool WHERE db_name = $1")
            .bind(standby.as_str())
            .execute(&p.pool)
            .await?;
        if renamed {
            return Ok(Some("pool"));
        }
    }
    if p.config.warm_pool_size > 0 {
        if p.dbm.exists(tenant_db).await? {
            return Ok(None);
        }
        if claim(p, id, template, tenant_db).await?.is_some() {
            return Ok(Some("pool"));
        }
    }
    // CREATE DATABASE answers "already exists" for a database an earlier attempt made.
    match p.dbm.clone_template(template, tenant_db).await {
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
    match p.dbm.rename(&standby, tenant_db).await {
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
    sqlx::query("DELETE FROM warm_pool WHERE db_name = $1")
        .bind(standby.as_str())
        .execute(&p.pool)
        .await?;
    Ok(Some(standby))
}

/// Creates the missing companies, gives the admin all of them and the multi-company group.
async fn set_up_companies(
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
    if backup && !t.steps_done.iter().any(|s| s == "backup") && p.dbm.exists(&db).await? {
        ctx.progress(1, 3, "backup").await?;
        // A suspended database refuses even pg_dump: open it for the dump.
        p.dbm.resume(&db).await?;
        let file = p.dbm.backup(&db).await?;
        mark_step(p, id, "backup").await?;
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
    ctx.progress(2, 3, "drop").await?;
    p.dbm.drop_database(&db).await?;
    ctx.progress(3, 3, "deleted").await?;
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
        json!({"db": t.db_name, "backup": backup}),
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
    for _ in ready..want {
        let standby = DbName::standby(&template)?;
        sqlx::query("INSERT INTO warm_pool (db_name, template) VALUES ($1, $2)")
            .bind(standby.as_str())
            .bind(template.as_str())
            .execute(&p.pool)
            .await?;
        p.dbm.clone_template(&template, &standby).await?;
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
    let max: Option<i32> = sqlx::query_scalar("SELECT max_attempts FROM jobs WHERE id = $1")
        .bind(ctx.id)
        .fetch_optional(&p.pool)
        .await
        .unwrap_or(None);
    let last = !matches!(error, StepError::Transient(_)) || max.is_some_and(|m| ctx.attempt >= m);
    if last {
        let _ = sqlx::query("UPDATE plans SET template_state = 'failed', template_error = $2, updated_at = now() WHERE id = $1")
            .bind(payload.plan_id)
            .bind(error.to_string())
            .execute(&p.pool)
            .await;
    }
    tracing::warn!(plan_id = %payload.plan_id, job_id = %ctx.id, %error, final = last, "template build failed");
    Err(error.into())
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
    let building = DbName::parse(&format!("{template}_new"))?;
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
