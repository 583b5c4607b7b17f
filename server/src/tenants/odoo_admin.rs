//! Work done over JSON-RPC as a tenant's Odoo administrator, and the owners' two jobs that
//! need it: reset the administrator's password (`tenant.reset_admin_password`) and add
//! companies (`tenant.add_companies`).
//!
//! The platform never holds the administrator's clear password. For the length of a job it
//! writes a one-time password's hash in Odoo's format, signs in with it, works, and then
//! writes back the hash the administrator must end with: `tenants.owner_password_hash`,
//! which is the owner's new password for a reset and, for other work, the administrator's
//! own hash as it was before the first attempt (saved there first, so that an attempt that
//! died with the one-time hash in place never makes the next one "restore" it).

use super::lifecycle::{random_password, set_up_companies, StepError};
use crate::audit::{self, Actor};
use crate::db_manager::DbName;
use crate::jobs::kinds;
use crate::platform::Platform;
use job_queue::{JobContext, JobError};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// An Odoo session as the tenant's administrator with a one-time password.
pub struct AdminSession {
    /// The Odoo client.
    pub odoo: crate::odoo::OdooClient,
    /// The administrator's uid.
    pub uid: i64,
    /// The one-time password.
    pub password: String,
    once_hash: SecretString,
}

impl AdminSession {
    /// Writes a one-time password for the administrator and signs in with it. If signing
    /// in fails, `restore` is put back before the error is returned.
    pub async fn open(
        p: &Platform,
        db: &DbName,
        login: &str,
        restore: &SecretString,
    ) -> Result<AdminSession, StepError> {
        let odoo = p.odoo_admin()?;
        let password = random_password();
        let once_hash = SecretString::from(odoo_passlib::hash_password_rounds(&password, 1000));
        p.dbm.set_admin_password_hash(db, &once_hash).await?;
        let uid = match odoo.login(db.as_str(), login, &password).await {
            Ok(Some(uid)) => uid,
            failed => {
                p.dbm
                    .restore_admin_password_hash(db, &once_hash, restore)
                    .await?;
                return Err(match failed {
                    Err(e) => e.into(),
                    _ => StepError::Transient(
                        "Odoo refused the administrator's one-time login".into(),
                    ),
                });
            }
        };
        Ok(AdminSession {
            odoo,
            uid,
            password,
            once_hash,
        })
    }

    /// The object service as the administrator.
    pub fn object(&self, db: &DbName) -> odoo_rpc::Object<'_, odoo_rpc::ReqwestTransport> {
        self.odoo
            .object(db.as_str(), self.uid, self.password.as_str())
    }

    /// Puts `restore` back as the administrator's password (unless it was changed
    /// meanwhile), whatever the work's `outcome`, then returns that outcome.
    pub async fn close<T>(
        self,
        p: &Platform,
        db: &DbName,
        restore: &SecretString,
        outcome: Result<T, StepError>,
    ) -> Result<T, StepError> {
        let restored = p
            .dbm
            .restore_admin_password_hash(db, &self.once_hash, restore)
            .await;
        let value = outcome?;
        if !restored? {
            tracing::warn!(db = %db, "the administrator's password changed during the job; left as it is");
        }
        Ok(value)
    }
}

#[derive(Debug, Deserialize)]
struct Payload {
    tenant_id: Uuid,
    #[serde(default)]
    companies: Vec<String>,
}

#[derive(Debug, sqlx::FromRow)]
struct Target {
    db_name: String,
    state: String,
    pending_op: Option<String>,
    owner_password_hash: Option<String>,
    extra_companies: Vec<String>,
}

async fn target(p: &Platform, id: Uuid) -> Result<Target, StepError> {
    sqlx::query_as(
        "SELECT db_name, state, pending_op, owner_password_hash, extra_companies FROM tenants WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&p.pool)
    .await?
    .ok_or_else(|| StepError::Permanent(format!("tenant {id} does not exist")))
}

/// Runs `tenant.reset_admin_password` and `tenant.add_companies`. A failure for good leaves
/// the tenant active (the Odoo keeps working) with the error recorded, and the operation
/// ended so that the owner can try again.
pub async fn run(p: &Platform, ctx: &JobContext) -> Result<(), JobError> {
    let payload: Payload = ctx.payload()?;
    let id = payload.tenant_id;
    let (op, result) = match ctx.kind.as_str() {
        kinds::RESET_ADMIN_PASSWORD => (
            "reset_admin_password",
            reset_admin_password(p, ctx, id).await,
        ),
        kinds::ADD_COMPANIES => (
            "add_companies",
            add_companies(p, ctx, id, &payload.companies).await,
        ),
        other => return Err(JobError::permanent(format!("not an owner job: {other}"))),
    };
    let Err(error) = result else {
        return Ok(());
    };
    let last = match &error {
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
    let message = error.to_string();
    tracing::warn!(tenant_id = %id, job_id = %ctx.id, kind = %ctx.kind, attempt = ctx.attempt, error = %message, final = last, "owner job step failed");
    let recorded = if last {
        give_up(p, ctx, id, op, &message).await
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

async fn give_up(
    p: &Platform,
    ctx: &JobContext,
    id: Uuid,
    op: &str,
    message: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = p.pool.begin().await?;
    let ended = sqlx::query(
        "UPDATE tenants SET pending_op = NULL, pending_job_id = NULL, owner_password_hash = NULL, \
         last_error = $3, updated_at = now() WHERE id = $1 AND pending_op = $2",
    )
    .bind(id)
    .bind(op)
    .bind(message)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if ended {
        audit::record(
            &mut *tx,
            &Actor::system(),
            &format!("tenant.{op}_failed"),
            Some(id),
            Some(ctx.id),
            json!({"error": message}),
        )
        .await?;
    }
    tx.commit().await
}

/// Ends the operation `op` on the tenant with `action` in the audit log.
async fn finish(
    p: &Platform,
    ctx: &JobContext,
    id: Uuid,
    op: &str,
    extra_companies: Option<&[String]>,
    action: &str,
    details: serde_json::Value,
) -> Result<(), StepError> {
    let mut tx = p.pool.begin().await?;
    let ended = sqlx::query(
        "UPDATE tenants SET pending_op = NULL, pending_job_id = NULL, owner_password_hash = NULL, \
         last_error = NULL, extra_companies = COALESCE($3, extra_companies), updated_at = now() \
         WHERE id = $1 AND pending_op = $2",
    )
    .bind(id)
    .bind(op)
    .bind(extra_companies)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if ended {
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
    Ok(())
}

/// Checks that the operation is still the tenant's and the tenant can take it.
fn check(t: &Target, op: &str) -> Result<bool, StepError> {
    if t.pending_op.as_deref() != Some(op) {
        // Done by an earlier attempt (or given up): nothing to do.
        return Ok(false);
    }
    if t.state != "active" {
        return Err(StepError::Permanent(format!(
            "the tenant is {}, not active",
            t.state
        )));
    }
    Ok(true)
}

async fn login(p: &Platform, db: &DbName) -> Result<String, StepError> {
    p.dbm
        .admin_login(db)
        .await?
        .ok_or_else(|| StepError::Permanent("the tenant's database has no administrator".into()))
}

/// Sets the password the owner chose (its hash, made at the request) as the Odoo
/// administrator's, after checking over JSON-RPC that the administrator can sign in and is
/// active. Odoo's sessions of the administrator end (Odoo ties them to the password hash).
async fn reset_admin_password(p: &Platform, ctx: &JobContext, id: Uuid) -> Result<(), StepError> {
    let t = target(p, id).await?;
    if !check(&t, "reset_admin_password")? {
        return Ok(());
    }
    let new_hash = t
        .owner_password_hash
        .map(SecretString::from)
        .ok_or_else(|| StepError::Permanent("the new password is gone; ask again".into()))?;
    let db = DbName::parse(&t.db_name)?;
    ctx.progress(1, 3, "sign in to Odoo").await?;
    let login = login(p, &db).await?;
    let session = AdminSession::open(p, &db, &login, &new_hash).await?;
    let checked = async {
        ctx.progress(2, 3, "check the administrator").await?;
        let rows = session
            .object(&db)
            .read("res.users", &[session.uid], &["login", "active"])
            .await?;
        let active = rows
            .first()
            .and_then(|r| r.get("active"))
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        if active {
            Ok(())
        } else {
            Err(StepError::Permanent(
                "the Odoo administrator is archived".into(),
            ))
        }
    }
    .await;
    session.close(p, &db, &new_hash, checked).await?;
    ctx.progress(3, 3, "done").await?;
    finish(
        p,
        ctx,
        id,
        "reset_admin_password",
        None,
        "tenant.admin_password_reset",
        json!({"login": login}),
    )
    .await
}

/// Creates the companies (those not there yet, searched by name) and gives the
/// administrator all of them and the multi-company group.
async fn add_companies(
    p: &Platform,
    ctx: &JobContext,
    id: Uuid,
    names: &[String],
) -> Result<(), StepError> {
    let t = target(p, id).await?;
    if !check(&t, "add_companies")? {
        return Ok(());
    }
    let db = DbName::parse(&t.db_name)?;
    ctx.progress(1, 3, "sign in to Odoo").await?;
    // The administrator's own hash, saved before the first swap (an earlier attempt may
    // have saved it already; then the database may hold that attempt's one-time hash).
    let current = p.dbm.admin_password_hash(&db).await?;
    let saved: Option<String> = sqlx::query_scalar(
        "UPDATE tenants SET owner_password_hash = COALESCE(owner_password_hash, $2) WHERE id = $1 \
         RETURNING owner_password_hash",
    )
    .bind(id)
    .bind(current.as_ref().map(secrecy::ExposeSecret::expose_secret))
    .fetch_one(&p.pool)
    .await?;
    let restore = saved
        .map(SecretString::from)
        .ok_or_else(|| StepError::Permanent("the administrator has no password".into()))?;
    let login = login(p, &db).await?;
    let session = AdminSession::open(p, &db, &login, &restore).await?;
    let made = async {
        ctx.progress(2, 3, "create companies").await?;
        set_up_companies(&session.object(&db), session.uid, names).await
    }
    .await;
    let created = session.close(p, &db, &restore, made).await?;
    ctx.progress(3, 3, "done").await?;
    let mut all = t.extra_companies.clone();
    for name in names {
        if !all.contains(name) {
            all.push(name.clone());
        }
    }
    finish(
        p,
        ctx,
        id,
        "add_companies",
        Some(&all),
        "tenant.companies_added",
        json!({"companies": names, "created": created}),
    )
    .await
}
