//! What the superadmin portal shows and sends: plain serializable types shared by the
//! server (which fills them from the service layer) and the browser.

use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};
use std::fmt;

/// Why a portal call failed, in words for the operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminError {
    /// What kind of failure (decides the HTTP status).
    pub kind: ErrorKind,
    /// What went wrong and what to do.
    pub message: String,
    /// The form field concerned, for a message next to it.
    pub field: Option<String>,
    /// Seconds to wait before trying again (429, 503), sent as `Retry-After` too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

/// Kinds of [`AdminError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// Bad input (422).
    Invalid,
    /// Not possible in the current state (409).
    Conflict,
    /// No such thing (404).
    NotFound,
    /// Not signed in, or the session ended (401).
    Unauthorized,
    /// Signed in but refused, e.g. a bad CSRF token (403).
    Forbidden,
    /// Too many attempts (429).
    TooManyRequests,
    /// Busy for now: try again in a moment (503).
    Unavailable,
    /// Our fault (500); details are in the server log.
    Internal,
}

impl AdminError {
    /// A failure of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        AdminError {
            kind,
            message: message.into(),
            field: None,
            retry_after_secs: None,
        }
    }

    /// Bad input in `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AdminError {
            kind: ErrorKind::Invalid,
            message: message.into(),
            field: Some(field.to_owned()),
            retry_after_secs: None,
        }
    }

    /// The same error, telling the client to come back after `secs` seconds.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    /// The HTTP status that goes with the kind.
    pub fn status(&self) -> u16 {
        match self.kind {
            ErrorKind::Invalid => 422,
            ErrorKind::Conflict => 409,
            ErrorKind::NotFound => 404,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::TooManyRequests => 429,
            ErrorKind::Unavailable => 503,
            ErrorKind::Internal => 500,
        }
    }

    /// The message for `field`, when the error is about that field.
    pub fn for_field(&self, field: &str) -> Option<String> {
        (self.field.as_deref() == Some(field)).then(|| self.message.clone())
    }
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AdminError {}

impl FromServerFnError for AdminError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AdminError::new(ErrorKind::Internal, format!("The request failed: {value}"))
    }
}

/// The signed-in operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    /// Their email.
    pub email: String,
    /// The session's CSRF token, sent back with every change.
    pub csrf: String,
}

/// Counts for the dashboard.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    /// Tenants per state, every state listed.
    pub tenants_by_state: Vec<(String, i64)>,
    /// Jobs waiting.
    pub jobs_queued: i64,
    /// Jobs running.
    pub jobs_running: i64,
    /// Jobs whose last attempt failed (to be retried).
    pub jobs_failed: i64,
    /// Jobs out of attempts.
    pub jobs_dead: i64,
    /// The newest audit entries.
    pub recent_audit: Vec<AuditRow>,
}

/// One audit entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    /// Sequence number.
    pub id: i64,
    /// When (UTC, `YYYY-MM-DD HH:MM:SS`).
    pub at: String,
    /// Who.
    pub actor: String,
    /// What, e.g. `tenant.activated`.
    pub action: String,
    /// The tenant concerned.
    pub tenant_slug: Option<String>,
    /// The job that did it.
    pub job_id: Option<String>,
    /// Details as compact JSON.
    pub details: String,
}

/// The tenants table's query, as in the page's URL.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantQuery {
    /// Search in slug, owner email and company.
    pub q: String,
    /// Only this state ("" for all).
    pub state: String,
    /// Only this plan key ("" for all).
    pub plan: String,
    /// Sort column: created, slug, state, plan, owner.
    pub sort: String,
    /// asc or desc.
    pub dir: String,
    /// Page, from 1.
    pub page: u32,
    /// Rows per page: 25, 50 or 100.
    pub per_page: u32,
}

/// The sort columns of the tenants table.
pub const TENANT_SORTS: &[(&str, &str)] = &[
    ("slug", "Tenant"),
    ("state", "State"),
    ("plan", "Plan"),
    ("owner", "Owner"),
    ("created", "Created"),
];

/// Every tenant state, in lifecycle order.
pub const TENANT_STATES: &[&str] = &[
    "awaiting_payment",
    "requested",
    "provisioning",
    "active",
    "suspended",
    "deleting",
    "deleted",
    "failed",
];

/// A row of the tenants table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TenantRow {
    /// Slug.
    pub slug: String,
    /// Lifecycle state.
    pub state: String,
    /// The operation under way, if any.
    pub pending_op: Option<String>,
    /// Plan key.
    pub plan: String,
    /// Owner's email.
    pub owner_email: String,
    /// Main company.
    pub company_name: String,
    /// Public hostname.
    pub hostname: String,
    /// Created (UTC).
    pub created_at: String,
}

/// A plan to choose from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanOption {
    /// Key.
    pub key: String,
    /// Name.
    pub name: String,
    /// Most companies.
    pub max_companies: i32,
}

/// One page of the tenants table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TenantTable {
    /// The rows.
    pub rows: Vec<TenantRow>,
    /// Matching tenants on all pages.
    pub total: i64,
    /// The query as applied (defaults filled in).
    pub query: TenantQuery,
    /// Every plan, for the filter.
    pub plans: Vec<PlanOption>,
}

/// A tenant's page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TenantDetail {
    /// The summary.
    pub row: TenantRow,
    /// Tenant id.
    pub id: String,
    /// Database name.
    pub db_name: String,
    /// Database size, e.g. "12 MB", when it exists.
    pub db_size: Option<String>,
    /// Link to the tenant's Odoo.
    pub url: String,
    /// Owner's name.
    pub owner_name: String,
    /// Further companies.
    pub extra_companies: Vec<String>,
    /// The last job error.
    pub last_error: Option<String>,
    /// Its jobs, newest first.
    pub jobs: Vec<JobRow>,
    /// Its audit trail, newest first.
    pub audit: Vec<AuditRow>,
}

/// A job as the jobs monitor shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobRow {
    /// Job id.
    pub id: String,
    /// Kind, e.g. `tenant.provision`.
    pub kind: String,
    /// queued, running, succeeded, failed, dead, cancelled.
    pub state: String,
    /// Attempts so far.
    pub attempts: i32,
    /// Most attempts.
    pub max_attempts: i32,
    /// Steps done.
    pub step: i32,
    /// Steps in all (0 when unknown).
    pub total: i32,
    /// What it is doing.
    pub label: String,
    /// The last error.
    pub last_error: Option<String>,
    /// A cancel was asked while running.
    pub cancel_requested: bool,
    /// The tenant concerned.
    pub tenant_slug: Option<String>,
    /// That tenant's state now.
    pub tenant_state: Option<String>,
    /// Created (UTC).
    pub created_at: String,
    /// Last change (UTC).
    pub updated_at: String,
}

impl JobRow {
    /// Can be retried.
    pub fn retryable(&self) -> bool {
        matches!(self.state.as_str(), "failed" | "dead" | "cancelled")
    }

    /// Can be cancelled.
    pub fn cancellable(&self) -> bool {
        matches!(self.state.as_str(), "queued" | "running" | "failed") && !self.cancel_requested
    }

    /// Progress in percent.
    pub fn percent(&self) -> i32 {
        if self.state == "succeeded" {
            100
        } else if self.total > 0 {
            (self.step * 100 / self.total).clamp(0, 100)
        } else {
            0
        }
    }
}

/// The jobs monitor's content.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JobsView {
    /// Queued and running, oldest first.
    pub active: Vec<JobRow>,
    /// Failed (will retry) and dead, newest first.
    pub failed: Vec<JobRow>,
    /// Recently finished (succeeded, cancelled), newest first.
    pub recent: Vec<JobRow>,
}

/// A plan as the plans page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanRow {
    /// Plan id.
    pub id: String,
    /// Key.
    pub key: String,
    /// Name.
    pub name: String,
    /// Monthly price in cents.
    pub price_cents: i32,
    /// Currency code.
    pub currency: String,
    /// Odoo modules.
    pub modules: Vec<String>,
    /// Most users.
    pub max_users: Option<i32>,
    /// Most companies.
    pub max_companies: i32,
    /// Storage limit in MB.
    pub storage_mb: Option<i32>,
    /// Offered to new tenants.
    pub active: bool,
    /// The point of sale comes with Odoo's sample products.
    pub pos_sample_products: bool,
    /// Template state.
    pub template_state: String,
    /// Tenants on this plan (not deleted).
    pub tenants: i64,
}

impl PlanRow {
    /// "12.50 EUR".
    pub fn price(&self) -> String {
        format_price(self.price_cents, &self.currency)
    }
}

/// `1250, "EUR"` → "12.50 EUR".
pub fn format_price(cents: i32, currency: &str) -> String {
    format!("{}.{:02} {currency}", cents / 100, cents % 100)
}

/// The audit page's query.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    /// Tenant slug ("" for all).
    pub tenant: String,
    /// Actor, e.g. `superadmin:ops@example.com` or `system` ("" for all).
    pub actor: String,
    /// Page, from 1.
    pub page: u32,
}

/// One page of the audit log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    /// The entries, newest first.
    pub rows: Vec<AuditRow>,
    /// Matching entries in all.
    pub total: i64,
    /// Entries per page.
    pub per_page: u32,
    /// The query as applied.
    pub query: AuditQuery,
}

/// The Outbox page's query.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutboxQuery {
    /// Only this state ("" for all): queued, failed, sent, dead.
    pub state: String,
    /// Page, from 1.
    pub page: u32,
}

/// One outgoing message (never its body).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxRow {
    /// Row id.
    pub id: String,
    /// Template, e.g. `tenant_welcome`.
    pub template: String,
    /// Recipient.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// queued, failed, sent, dead.
    pub state: String,
    /// Attempts made.
    pub attempts: i32,
    /// The last failure.
    pub last_error: Option<String>,
    /// Its Message-ID header.
    pub message_id: String,
    /// The tenant it is about.
    pub tenant_slug: Option<String>,
    /// Queued at (UTC).
    pub created_at: String,
    /// Accepted by the SMTP server at (UTC).
    pub sent_at: Option<String>,
}

impl OutboxRow {
    /// Can be sent again from the page.
    pub fn retryable(&self) -> bool {
        matches!(self.state.as_str(), "failed" | "dead")
    }
}

/// One page of the outbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxPage {
    /// Messages, newest first.
    pub rows: Vec<OutboxRow>,
    /// Messages per state, every state listed.
    pub counts: Vec<(String, i64)>,
    /// Matching messages in all.
    pub total: i64,
    /// Messages per page.
    pub per_page: u32,
    /// The query as applied.
    pub query: OutboxQuery,
}

/// The create-tenant form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewTenantForm {
    /// Slug.
    pub slug: String,
    /// Owner's email.
    pub owner_email: String,
    /// Owner's name (defaults to the email's local part).
    pub owner_name: String,
    /// Owner's initial Odoo password.
    pub owner_password: String,
    /// Plan key.
    pub plan: String,
    /// Main company (defaults to the slug).
    pub company_name: String,
    /// Further companies, one per line (multi-company).
    pub extra_companies: Vec<String>,
}

/// The plan form (create when `id` is empty, else edit).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanForm {
    /// Plan id, empty to create.
    pub id: String,
    /// Key (create only).
    pub key: String,
    /// Name.
    pub name: String,
    /// Price as typed, e.g. "12.50".
    pub price: String,
    /// Currency code.
    pub currency: String,
    /// Modules, comma or space separated.
    pub modules: String,
    /// Most users, empty for no limit.
    pub max_users: String,
    /// Most companies.
    pub max_companies: String,
    /// Storage limit in MB, empty for no limit.
    pub storage_mb: String,
    /// The point of sale comes with Odoo's sample products (the checkbox was ticked).
    pub pos_sample_products: bool,
}

/// Operations on a tenant from its page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TenantOp {
    /// Suspend.
    Deactivate,
    /// Resume.
    Reactivate,
    /// Drop, optionally after a backup.
    Delete {
        /// Take a final backup.
        backup: bool,
    },
}

/// A tenant's custom domain on its page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainRow {
    /// The host name.
    pub domain: String,
    /// `pending`, `verified`, `active` or `failed`.
    pub state: String,
    /// The DNS records the owner may create (type, name, value): the CNAME first, then
    /// A/AAAA records to the ingress for an apex domain.
    pub records: Vec<(String, String, String)>,
    /// When DNS was last checked.
    pub last_checked_at: Option<String>,
    /// What the last check found, or why it failed.
    pub last_result: Option<String>,
    /// Checks so far.
    pub checks: i32,
    /// When the current round of checks gives up.
    pub deadline: String,
}

/// Operations on a tenant's custom domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DomainOp {
    /// Add it (a DNS check starts).
    Add,
    /// Check its DNS now, or again after a failure.
    Verify,
    /// Remove it and its route.
    Remove,
}

/// Operations on a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobOp {
    /// Run again.
    Retry,
    /// Stop.
    Cancel,
}

/// Parses "12.50", "12,5" or "12" into cents.
pub fn parse_price(raw: &str) -> Option<i32> {
    let s = raw.trim().replace(',', ".");
    if s.is_empty() {
        return Some(0);
    }
    let (whole, frac) = s.split_once('.').unwrap_or((&s, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    if !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || frac.len() > 2
    {
        return None;
    }
    let whole: i32 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac: i32 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i32>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    whole.checked_mul(100)?.checked_add(frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_parse_and_format_both_ways() {
        assert_eq!(parse_price("12.50"), Some(1250));
        assert_eq!(parse_price("12,5"), Some(1250));
        assert_eq!(parse_price("7"), Some(700));
        assert_eq!(parse_price(""), Some(0));
        assert_eq!(parse_price("-1"), None);
        assert_eq!(parse_price("1.234"), None);
        assert_eq!(parse_price("abc"), None);
        assert_eq!(parse_price("99999999999"), None);
        assert_eq!(format_price(1250, "EUR"), "12.50 EUR");
        assert_eq!(format_price(5, "USD"), "0.05 USD");
    }

    #[test]
    fn job_progress_is_bounded() {
        let mut job = JobRow {
            id: String::new(),
            kind: "tenant.provision".into(),
            state: "running".into(),
            attempts: 1,
            max_attempts: 5,
            step: 3,
            total: 6,
            label: String::new(),
            last_error: None,
            cancel_requested: false,
            tenant_slug: None,
            tenant_state: None,
            created_at: String::new(),
            updated_at: String::new(),
        };
        assert_eq!(job.percent(), 50);
        assert!(job.cancellable() && !job.retryable());
        job.step = 9;
        assert_eq!(job.percent(), 100);
        job.state = "succeeded".into();
        job.total = 0;
        assert_eq!(job.percent(), 100);
        assert!(!job.cancellable());
        job.state = "dead".into();
        assert!(job.retryable() && !job.cancellable());
    }
}

/// A tenant owner's account in the superadmin's list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerRow {
    /// Owner id.
    #[serde(default)]
    pub id: String,
    /// Email (sign-in name).
    pub email: String,
    /// Name.
    pub name: String,
    /// The address is confirmed.
    pub verified: bool,
    /// Disabled.
    pub disabled: bool,
    /// Tenants they own (deleted ones too).
    pub tenants: i64,
    /// Signed up (UTC).
    pub created_at: String,
}
