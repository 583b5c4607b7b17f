//! The audit log: every state change of the platform, who made it and why.

use serde_json::Value;
use uuid::Uuid;

/// Who made a change: `system` (jobs), `billing`, `api:<token name>`, `superadmin:<email>`,
/// `owner:<email>` (a tenant owner), `anonymous` (a visitor of the public pages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(String);

impl Actor {
    /// The platform itself (a job).
    pub fn system() -> Actor {
        Actor("system".to_owned())
    }

    /// Billing, acting on what Stripe says (subscription states, dunning deadlines).
    pub fn billing() -> Actor {
        Actor("billing".to_owned())
    }

    /// An API client, by token name.
    pub fn api(token_name: &str) -> Actor {
        Actor(format!("api:{token_name}"))
    }

    /// The operator at the server's command line.
    pub fn operator() -> Actor {
        Actor("cli".to_owned())
    }

    /// A superadmin in the portal, by email.
    pub fn superadmin(email: &str) -> Actor {
        Actor(format!("superadmin:{email}"))
    }

    /// A tenant owner (portal or owner API token), by email.
    pub fn owner(email: &str) -> Actor {
        Actor(format!("owner:{email}"))
    }

    /// A visitor who is not signed in (sign-up, password-reset requests).
    pub fn anonymous() -> Actor {
        Actor("anonymous".to_owned())
    }

    /// The actor's text as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Writes one audit entry through `executor` (usually the transaction making the change).
pub async fn record<'e, E: sqlx::PgExecutor<'e>>(
    executor: E,
    actor: &Actor,
    action: &str,
    tenant_id: Option<Uuid>,
    job_id: Option<Uuid>,
    details: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (actor, action, tenant_id, job_id, details) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(actor.as_str())
    .bind(action)
    .bind(tenant_id)
    .bind(job_id)
    .bind(details)
    .execute(executor)
    .await?;
    Ok(())
}

/// Writes the audit entry of an intermediate step (not a state change) without waiting for
/// the WAL flush (`synchronous_commit = off`): it is on the sign-up path, and a PostgreSQL
/// crash can only lose the last such entries, never a state transition (those are written
/// with [`record`] in the transition's own transaction).
pub async fn record_step(
    pool: &sqlx::PgPool,
    action: &str,
    tenant_id: Uuid,
    job_id: Uuid,
    details: Value,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL synchronous_commit = off")
        .execute(&mut *tx)
        .await?;
    record(
        &mut *tx,
        &Actor::system(),
        action,
        Some(tenant_id),
        Some(job_id),
        details,
    )
    .await?;
    tx.commit().await
}

/// One audit entry as read back.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AuditEntry {
    /// When it happened.
    pub at: chrono::DateTime<chrono::Utc>,
    /// Who did it.
    pub actor: String,
    /// What happened, e.g. `tenant.activated`.
    pub action: String,
    /// The job that did it, if any.
    pub job_id: Option<Uuid>,
    /// Free-form details.
    pub details: Value,
}

/// A tenant's audit trail, oldest first.
pub async fn for_tenant(
    pool: &sqlx::PgPool,
    tenant_id: Uuid,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT at, actor, action, job_id, details FROM audit_log WHERE tenant_id = $1 ORDER BY id",
    )
    .bind(tenant_id)
    .fetch_all(pool)
    .await
}

/// An audit entry with its tenant's slug, for the portal.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditLine {
    /// Sequence number.
    pub id: i64,
    /// When it happened.
    pub at: chrono::DateTime<chrono::Utc>,
    /// Who did it.
    pub actor: String,
    /// What happened.
    pub action: String,
    /// The tenant's slug, if any.
    pub tenant_slug: Option<String>,
    /// The job that did it, if any.
    pub job_id: Option<Uuid>,
    /// Free-form details.
    pub details: Value,
}

/// Which audit entries [`page`] returns; `None` does not filter.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this tenant.
    pub tenant_id: Option<Uuid>,
    /// Only this actor (exact text, e.g. `system`).
    pub actor: Option<String>,
}

/// Entries newest first, `limit` after skipping `offset`, and how many match in all.
pub async fn page(
    pool: &sqlx::PgPool,
    filter: &AuditFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<AuditLine>, i64), sqlx::Error> {
    let condition = "($1::uuid IS NULL OR a.tenant_id = $1) AND ($2::text IS NULL OR a.actor = $2)";
    let total: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM audit_log a WHERE {condition}"
    ))
    .bind(filter.tenant_id)
    .bind(filter.actor.as_deref())
    .fetch_one(pool)
    .await?;
    let rows = sqlx::query_as(&format!(
        "SELECT a.id, a.at, a.actor, a.action, t.slug AS tenant_slug, a.job_id, a.details \
         FROM audit_log a LEFT JOIN tenants t ON t.id = a.tenant_id WHERE {condition} \
         ORDER BY a.id DESC LIMIT $3 OFFSET $4"
    ))
    .bind(filter.tenant_id)
    .bind(filter.actor.as_deref())
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    Ok((rows, total))
}
