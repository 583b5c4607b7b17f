//! Tenants: one Odoo database each, and their lifecycle
//! `[awaiting_payment →] requested → provisioning → active ⇄ suspended → deleting → deleted`
//! (`failed` from any job step; `awaiting_payment` only for a paid self-service sign-up,
//! until Stripe confirms the subscription). [`service`] takes requests (API and portal alike); [`lifecycle`] holds the
//! job handlers that make every transition.

pub mod lifecycle;
pub mod odoo_admin;
pub mod service;

use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;
use uuid::Uuid;

/// Slugs no tenant may take: platform hostnames and names that mislead.
pub const RESERVED_SLUGS: &[&str] = &[
    "admin",
    "www",
    "api",
    "mail",
    "smtp",
    "imap",
    "pop",
    "ftp",
    "pos",
    "app",
    "apps",
    "static",
    "assets",
    "status",
    "help",
    "support",
    "billing",
    "saas",
    "postgres",
    "template",
    "odoo",
    "root",
    "system",
    "dashboard",
    "portal",
    "login",
    "signup",
    "docs",
    "blog",
    "cdn",
    "dev",
    "test",
    "staging",
    "demo",
    "internal",
    "traefik",
    "metrics",
    "health",
    // Paths of the superadmin portal under /admin/tenants/.
    "new",
];

/// A tenant's name in URLs and its database: `^[a-z][a-z0-9-]{1,30}[a-z0-9]$`, not reserved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantSlug(String);

/// Why a slug was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlugError {
    /// Not of the required shape.
    Syntax,
    /// A reserved name.
    Reserved,
}

impl TenantSlug {
    /// Parses a slug (trimmed, lowercase required).
    pub fn parse(raw: &str) -> Result<TenantSlug, SlugError> {
        let s = raw.trim();
        let bytes = s.as_bytes();
        let ok = (3..=32).contains(&bytes.len())
            && bytes[0].is_ascii_lowercase()
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
            && bytes
                .last()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !ok {
            return Err(SlugError::Syntax);
        }
        if RESERVED_SLUGS.contains(&s) {
            return Err(SlugError::Reserved);
        }
        Ok(TenantSlug(s.to_owned()))
    }

    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An owner's email address (lowercased); also the Odoo admin login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerEmail(String);

impl OwnerEmail {
    /// A pragmatic check: one `@`, a non-empty local part, a dotted domain, no spaces.
    pub fn parse(raw: &str) -> Option<OwnerEmail> {
        let s = raw.trim().to_ascii_lowercase();
        let (local, domain) = s.split_once('@')?;
        let ok = !local.is_empty()
            && s.len() <= 254
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !s.chars().any(|c| c.is_whitespace() || c.is_control());
        ok.then_some(OwnerEmail(s))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a tenant is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenantState {
    /// Signed up on a paid plan: waits for Stripe to confirm the subscription (no database,
    /// no job). An expired checkout removes it.
    AwaitingPayment,
    /// Asked for; the provisioning job has not started.
    Requested,
    /// The provisioning job is working.
    Provisioning,
    /// Serving.
    Active,
    /// Refusing connections (deactivated).
    Suspended,
    /// The delete job is working.
    Deleting,
    /// Database dropped; the row stays for audit and billing.
    Deleted,
    /// A job step failed for good; see `last_error`, retry the job.
    Failed,
}

impl TenantState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TenantState::AwaitingPayment => "awaiting_payment",
            TenantState::Requested => "requested",
            TenantState::Provisioning => "provisioning",
            TenantState::Active => "active",
            TenantState::Suspended => "suspended",
            TenantState::Deleting => "deleting",
            TenantState::Deleted => "deleted",
            TenantState::Failed => "failed",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<TenantState> {
        Some(match s {
            "awaiting_payment" => TenantState::AwaitingPayment,
            "requested" => TenantState::Requested,
            "provisioning" => TenantState::Provisioning,
            "active" => TenantState::Active,
            "suspended" => TenantState::Suspended,
            "deleting" => TenantState::Deleting,
            "deleted" => TenantState::Deleted,
            "failed" => TenantState::Failed,
            _ => return None,
        })
    }
}

/// A tenant as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Tenant {
    /// Tenant id.
    pub id: Uuid,
    /// Slug (subdomain).
    pub slug: String,
    /// Its PostgreSQL/Odoo database.
    pub db_name: String,
    /// `<slug>.<BASE_DOMAIN>`.
    pub hostname: String,
    /// Its plan.
    pub plan_id: Uuid,
    /// Its plan's key.
    pub plan_key: String,
    /// Lifecycle state.
    pub state: TenantState,
    /// The operation a queued or running job is doing.
    pub pending_op: Option<String>,
    /// That job.
    pub pending_job_id: Option<Uuid>,
    /// Owner's email, the Odoo admin login.
    pub owner_email: String,
    /// Owner's name.
    pub owner_name: String,
    /// Main company name.
    pub company_name: String,
    /// Further companies (multi-company).
    pub extra_companies: Vec<String>,
    /// The last job error.
    pub last_error: Option<String>,
    /// Created at.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Last changed at.
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// Became active at.
    pub activated_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Suspended at.
    pub suspended_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Deleted at.
    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Columns read into [`Tenant`] (with `plans` joined as `p`).
pub(crate) const TENANT_COLUMNS: &str = "t.id, t.slug, t.db_name, t.hostname, t.plan_id, p.key AS plan_key, \
    t.state, t.pending_op, t.pending_job_id, t.owner_email, t.owner_name, t.company_name, t.extra_companies, \
    t.last_error, t.created_at, t.updated_at, t.activated_at, t.suspended_at, t.deleted_at";

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for Tenant {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row;
        Ok(Tenant {
            id: row.try_get("id")?,
            slug: row.try_get("slug")?,
            db_name: row.try_get("db_name")?,
            hostname: row.try_get("hostname")?,
            plan_id: row.try_get("plan_id")?,
            plan_key: row.try_get("plan_key")?,
            state: decode_state(row.try_get("state")?)?,
            pending_op: row.try_get("pending_op")?,
            pending_job_id: row.try_get("pending_job_id")?,
            owner_email: row.try_get("owner_email")?,
            owner_name: row.try_get("owner_name")?,
            company_name: row.try_get("company_name")?,
            extra_companies: row.try_get("extra_companies")?,
            last_error: row.try_get("last_error")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            activated_at: row.try_get("activated_at")?,
            suspended_at: row.try_get("suspended_at")?,
            deleted_at: row.try_get("deleted_at")?,
        })
    }
}

fn decode_state(state: String) -> Result<TenantState, sqlx::Error> {
    TenantState::parse(&state).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: "state".into(),
        source: format!("unknown tenant state {state:?}").into(),
    })
}

/// One line of the operations portal's tenants table: only the columns it shows. Decoding
/// whole [`Tenant`]s (19 columns) was a tenth of the server's CPU on a 100-row page.
#[derive(Debug, Clone)]
pub struct TenantSummary {
    /// Slug.
    pub slug: String,
    /// Plan key.
    pub plan_key: String,
    /// State.
    pub state: TenantState,
    /// The operation in flight, if any.
    pub pending_op: Option<String>,
    /// Owner's email.
    pub owner_email: String,
    /// Main company.
    pub company_name: String,
    /// Public hostname.
    pub hostname: String,
    /// When it was asked for.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Columns read into [`TenantSummary`], in its order (with `plans` joined as `p`).
pub(crate) const SUMMARY_COLUMNS: &str = "t.slug, p.key, t.state, t.pending_op, t.owner_email, \
    t.company_name, t.hostname, t.created_at";

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for TenantSummary {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row;
        // By position: the hot path of the portal's table (no column-name lookups).
        Ok(TenantSummary {
            slug: row.try_get(0)?,
            plan_key: row.try_get(1)?,
            state: decode_state(row.try_get(2)?)?,
            pending_op: row.try_get(3)?,
            owner_email: row.try_get(4)?,
            company_name: row.try_get(5)?,
            hostname: row.try_get(6)?,
            created_at: row.try_get(7)?,
        })
    }
}

impl From<Tenant> for TenantSummary {
    fn from(t: Tenant) -> Self {
        TenantSummary {
            slug: t.slug,
            plan_key: t.plan_key,
            state: t.state,
            pending_op: t.pending_op,
            owner_email: t.owner_email,
            company_name: t.company_name,
            hostname: t.hostname,
            created_at: t.created_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_pattern_and_skip_reserved_names() {
        for ok in ["acme", "acme-shop", "a1b", "x".repeat(32).as_str()] {
            assert!(TenantSlug::parse(ok).is_ok(), "{ok} refused");
        }
        for bad in [
            "ab",
            "1acme",
            "acme-",
            "Acme",
            "ac_me",
            "a b c",
            &"x".repeat(33),
            "",
        ] {
            assert_eq!(
                TenantSlug::parse(bad),
                Err(SlugError::Syntax),
                "{bad} accepted"
            );
        }
        assert_eq!(TenantSlug::parse("admin"), Err(SlugError::Reserved));
        assert_eq!(TenantSlug::parse("postgres"), Err(SlugError::Reserved));
    }

    #[test]
    fn owner_emails_are_checked_and_lowercased() {
        assert_eq!(
            OwnerEmail::parse(" Ann@Example.COM ").map(|e| e.0),
            Some("ann@example.com".into())
        );
        for bad in ["ann", "ann@", "@x.com", "ann@x", "a b@x.com", "a@b@c.com"] {
            assert!(OwnerEmail::parse(bad).is_none(), "{bad} accepted");
        }
    }
}
