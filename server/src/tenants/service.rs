//! Tenant requests: plain typed inputs in, typed results or [`ServiceError`]s out. The API
//! and the portals call these; every change is enqueued as a job in the same transaction.

use super::{
    OwnerEmail, SlugError, Tenant, TenantSlug, TenantState, TenantSummary, SUMMARY_COLUMNS,
    TENANT_COLUMNS,
};
use crate::audit::{self, Actor};
use crate::jobs::kinds;
use crate::plans;
use crate::platform::Platform;
use crate::service::{unique_violation, ServiceError};
use job_queue::NewJob;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::json;
use sqlx::{Postgres, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

/// A request for a new tenant.
#[derive(Debug, Clone)]
pub struct CreateTenant {
    /// Wanted slug.
    pub slug: String,
    /// Plan key.
    pub plan: String,
    /// Owner's email (the Odoo admin login).
    pub owner_email: String,
    /// Owner's name.
    pub owner_name: String,
    /// Owner's password for Odoo (hashed at once, never stored in clear).
    pub owner_password: SecretString,
    /// Main company name.
    pub company_name: String,
    /// Further companies: multi-company when not empty.
    pub extra_companies: Vec<String>,
    /// The owner account it belongs to (self-service sign-up); `None` when a superadmin
    /// creates it for someone without an account.
    pub owner_id: Option<Uuid>,
    /// The sign-up form's key: a second submit of the same form gets the first's tenant
    /// instead of an error or a second tenant (with `owner_id` only).
    pub signup_key: Option<String>,
}

/// A long operation accepted: the tenant as it is now and the job doing the work.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Accepted {
    /// The tenant.
    pub tenant: Tenant,
    /// The job's id.
    pub job_id: Uuid,
}

/// Filters of the tenant list.
#[derive(Debug, Clone, Default)]
pub struct TenantFilter {
    /// Only this state.
    pub state: Option<TenantState>,
    /// Only this plan (key).
    pub plan: Option<String>,
    /// Substring of slug, owner email or company name.
    pub search: Option<String>,
}

/// One page of tenants, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TenantPage {
    /// The tenants.
    pub items: Vec<Tenant>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
    /// Matching tenants on all pages.
    pub total: i64,
}

const MIN_PASSWORD: usize = 8;

fn check_text(field: &'static str, value: &str, max: usize) -> Result<String, ServiceError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(ServiceError::invalid(
            "invalid",
            field,
            format!("{field} must have 1 to {max} characters."),
        ));
    }
    Ok(v.to_owned())
}

/// Validates, stores the tenant as `requested` and enqueues its provisioning.
pub async fn create(
    p: &Platform,
    actor: &Actor,
    input: CreateTenant,
) -> Result<Accepted, ServiceError> {
    let made = create_with(p, actor, input, false).await?;
    match made.job_id {
        Some(job_id) => Ok(Accepted {
            tenant: made.tenant,
            job_id,
        }),
        // A second submit of a paid sign-up's form (same key) on a free plan.
        None => Err(ServiceError::conflict(
            "awaiting_payment",
            format!(
                "This sign-up made '{}', which waits for its first payment.",
                made.tenant.slug
            ),
        )),
    }
}

/// A tenant stored, with its provisioning job unless it waits for a payment.
#[derive(Debug, Clone)]
pub struct Created {
    /// The tenant.
    pub tenant: Tenant,
    /// Its provisioning job (none while it waits for a payment).
    pub job_id: Option<Uuid>,
}

/// Validates and stores the tenant as `awaiting_payment`: no database, no job, until
/// billing confirms its subscription ([`start_provisioning`]). A second submit of the same
/// form (its `signup_key`) returns the first's tenant.
pub async fn create_awaiting_payment(
    p: &Platform,
    actor: &Actor,
    input: CreateTenant,
) -> Result<Created, ServiceError> {
    create_with(p, actor, input, true).await
}

/// Moves an `awaiting_payment` tenant to `requested` with its provisioning job, in the
/// caller's transaction. Exactly once: the conditional update lets one caller through,
/// whoever confirms the payment first (webhook or return page). Returns the job.
pub async fn start_provisioning(
    tx: &mut sqlx::PgConnection,
    actor: &Actor,
    tenant_id: Uuid,
) -> Result<Option<Uuid>, job_queue::QueueError> {
    let moved: Option<Uuid> = sqlx::query_scalar(
        "UPDATE tenants SET state = 'requested', pending_op = 'provision', updated_at = now() \
         WHERE id = $1 AND state = 'awaiting_payment' RETURNING id",
    )
    .bind(tenant_id)
    .fetch_optional(&mut *tx)
    .await?;
    if moved.is_none() {
        return Ok(None);
    }
    let job_id = job_queue::enqueue(
        &mut *tx,
        NewJob::new(kinds::PROVISION, json!({"tenant_id": tenant_id}))
            .with_tenant(tenant_id)
            .with_max_attempts(8)
            .with_dedupe_key(format!("tenant:{tenant_id}:provision")),
    )
    .await?;
    sqlx::query("UPDATE tenants SET pending_job_id = $2 WHERE id = $1")
        .bind(tenant_id)
        .bind(job_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut *tx,
        actor,
        "tenant.payment_confirmed",
        Some(tenant_id),
        Some(job_id),
        json!({}),
    )
    .await?;
    Ok(Some(job_id))
}

async fn create_with(
    p: &Platform,
    actor: &Actor,
    input: CreateTenant,
    awaiting_payment: bool,
) -> Result<Created, ServiceError> {
    let slug = TenantSlug::parse(&input.slug).map_err(|e| match e {
        SlugError::Syntax => ServiceError::invalid(
            "slug_invalid",
            "slug",
            "A name has 3 to 32 lowercase letters, digits or hyphens, starts with a letter and does not end with a hyphen.",
        ),
        SlugError::Reserved => ServiceError::invalid(
            "slug_reserved",
            "slug",
            format!("The name '{}' is reserved.", input.slug.trim()),
        ),
    })?;
    let email = OwnerEmail::parse(&input.owner_email).ok_or_else(|| {
        ServiceError::invalid(
            "email_invalid",
            "owner_email",
            "This is not an email address.",
        )
    })?;
    let owner_name = check_text("owner_name", &input.owner_name, 100)?;
    let company_name = check_text("company_name", &input.company_name, 100)?;
    let password = input.owner_password.expose_secret();
    if password.chars().count() < MIN_PASSWORD || password.len() > 128 {
        return Err(ServiceError::invalid(
            "password_weak",
            "owner_password",
            format!("The password must have {MIN_PASSWORD} to 128 characters."),
        ));
    }
    let plan = plans::get_by_key(p, input.plan.trim())
        .await?
        .filter(|plan| plan.active)
        .ok_or_else(|| {
            ServiceError::invalid(
                "plan_unknown",
                "plan",
                format!("There is no plan '{}'.", input.plan.trim()),
            )
        })?;
    // The count against the plan's limit before any work per name; then each name's size,
    // and duplicates in one pass.
    let max_companies = usize::try_from(plan.max_companies).unwrap_or(1);
    if input.extra_companies.len() + 1 > max_companies {
        return Err(ServiceError::invalid(
            "too_many_companies",
            "extra_companies",
            format!(
                "The plan '{}' allows {}.",
                plan.key,
                crate::plans::companies(plan.max_companies)
            ),
        ));
    }
    let mut extra = Vec::with_capacity(input.extra_companies.len());
    let mut seen = std::collections::HashSet::with_capacity(input.extra_companies.len() + 1);
    seen.insert(company_name.clone());
    for name in &input.extra_companies {
        let name = check_text("extra_companies", name, 100)?;
        if !seen.insert(name.clone()) {
            return Err(ServiceError::invalid(
                "company_duplicate",
                "extra_companies",
                format!("The company '{name}' is named twice."),
            ));
        }
        extra.push(name);
    }
    let signup_key = input
        .signup_key
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty() && input.owner_id.is_some())
        .map(|k| k.chars().take(100).collect::<String>());
    if let Some(key) = &signup_key {
        // A second submit of a form that already made its tenant: the same answer again.
        let made: Option<Uuid> = sqlx::query_scalar(
            "SELECT id FROM tenants WHERE owner_user_id = $1 AND signup_key = $2",
        )
        .bind(input.owner_id)
        .bind(key)
        .fetch_optional(&p.pool)
        .await?;
        if made.is_some() {
            return resubmitted(p, input.owner_id, Some(key)).await;
        }
    }
    let db_name = p.tenant_db(slug.as_str()).map_err(ServiceError::internal)?;
    // Hash before the transaction: it costs a few hundred ms of CPU (Odoo's 600k rounds).
    let hash = p.hash_password(password).await?;

    let mut tx = p.pool.begin().await?;
    let id: Result<Uuid, sqlx::Error> = sqlx::query_scalar(
        "INSERT INTO tenants (slug, db_name, hostname, plan_id, owner_email, owner_name, company_name, \
         extra_companies, owner_password_hash, pending_op, owner_user_id, signup_key, state) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $12 THEN NULL ELSE 'provision' END, \
         $10, $11, CASE WHEN $12 THEN 'awaiting_payment' ELSE 'requested' END) RETURNING id",
    )
    .bind(slug.as_str())
    .bind(db_name.as_str())
    .bind(p.hostname(slug.as_str()))
    .bind(plan.id)
    .bind(email.as_str())
    .bind(&owner_name)
    .bind(&company_name)
    .bind(&extra)
    .bind(&hash)
    .bind(input.owner_id)
    .bind(signup_key.as_deref())
    .bind(awaiting_payment)
    .fetch_one(&mut *tx)
    .await;
    let id = match id {
        Ok(id) => id,
        Err(e) => {
            drop(tx);
            return match unique_violation(&e).as_deref() {
                Some("tenants_slug_key" | "tenants_db_name_key") => Err(ServiceError::Conflict {
                    code: "slug_taken",
                    message: format!("The name '{slug}' is already in use."),
                    field: Some("slug"),
                }),
                Some("tenants_signup_key") => {
                    resubmitted(p, input.owner_id, signup_key.as_deref()).await
                }
                _ => Err(e.into()),
            };
        }
    };
    let job_id = if awaiting_payment {
        None
    } else {
        let job_id = job_queue::enqueue(
            &mut *tx,
            NewJob::new(kinds::PROVISION, json!({"tenant_id": id}))
                .with_tenant(id)
                .with_max_attempts(8)
                .with_dedupe_key(format!("tenant:{id}:provision")),
        )
        .await?;
        sqlx::query("UPDATE tenants SET pending_job_id = $2 WHERE id = $1")
            .bind(id)
            .bind(job_id)
            .execute(&mut *tx)
            .await?;
        Some(job_id)
    };
    if matches!(plan.template_state.as_str(), "none" | "failed")
        && p.config.odoo_master_password.is_some()
    {
        sqlx::query(
            "UPDATE plans SET template_state = 'building', template_error = NULL WHERE id = $1",
        )
        .bind(plan.id)
        .execute(&mut *tx)
        .await?;
        plans::enqueue_build(&mut tx, plan.id, false).await?;
    }
    audit::record(
        &mut *tx,
        actor,
        "tenant.requested",
        Some(id),
        job_id,
        json!({"slug": slug.as_str(), "plan": plan.key, "owner_email": email.as_str(), "companies": 1 + extra.len(), "awaiting_payment": awaiting_payment}),
    )
    .await?;
    let tenant = fetch(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("tenant"))?;
    tx.commit().await?;
    p.tenant_counts.clear();
    Ok(Created { tenant, job_id })
}

/// The tenant an earlier submit of the same sign-up form made, with its provisioning job
/// (none while it waits for its payment).
async fn resubmitted(
    p: &Platform,
    owner: Option<Uuid>,
    key: Option<&str>,
) -> Result<Created, ServiceError> {
    let id: Uuid =
        sqlx::query_scalar("SELECT id FROM tenants WHERE owner_user_id = $1 AND signup_key = $2")
            .bind(owner)
            .bind(key)
            .fetch_optional(&p.pool)
            .await?
            .ok_or(ServiceError::NotFound("tenant"))?;
    let mut conn = p.pool.acquire().await?;
    let tenant = fetch(&mut conn, id)
        .await?
        .ok_or(ServiceError::NotFound("tenant"))?;
    let job_id: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM jobs WHERE tenant_id = $1 AND kind = $2 ORDER BY created_at LIMIT 1",
    )
    .bind(id)
    .bind(kinds::PROVISION)
    .fetch_optional(&mut *conn)
    .await?;
    if job_id.is_none() && tenant.state != TenantState::AwaitingPayment {
        return Err(ServiceError::NotFound("job"));
    }
    Ok(Created { tenant, job_id })
}

async fn fetch(conn: &mut sqlx::PgConnection, id: Uuid) -> Result<Option<Tenant>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {TENANT_COLUMNS} FROM tenants t JOIN plans p ON p.id = t.plan_id WHERE t.id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// One tenant by id or slug.
pub async fn get(p: &Platform, id_or_slug: &str) -> Result<Tenant, ServiceError> {
    let query = format!(
        "SELECT {TENANT_COLUMNS} FROM tenants t JOIN plans p ON p.id = t.plan_id WHERE {}",
        if Uuid::parse_str(id_or_slug).is_ok() {
            "t.id = $1::uuid"
        } else {
            "t.slug = $1"
        }
    );
    sqlx::query_as(&query)
        .bind(id_or_slug)
        .fetch_optional(&p.pool)
        .await?
        .ok_or(ServiceError::NotFound("tenant"))
}

/// Encodes a list cursor (`<micros>_<id>` of the last item).
fn encode_cursor(t: &Tenant) -> String {
    format!("{}_{}", t.created_at.timestamp_micros(), t.id)
}

fn decode_cursor(s: &str) -> Option<(chrono::DateTime<chrono::Utc>, Uuid)> {
    let (micros, id) = s.split_once('_')?;
    Some((
        chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        id.parse().ok()?,
    ))
}

/// Appends the filter's conditions (after a `WHERE true`), only those that are set: a
/// plan with `$x IS NULL OR …` would be generic and scan, and this is the portal's hot path.
fn push_filter(query: &mut QueryBuilder<'_, Postgres>, filter: &TenantFilter) {
    if let Some(state) = filter.state {
        query.push(" AND t.state = ").push_bind(state.as_str());
    }
    if let Some(plan) = &filter.plan {
        query
            .push(" AND t.plan_id = (SELECT id FROM plans WHERE key = ")
            .push_bind(plan.clone())
            .push(")");
    }
    if let Some(pattern) = search_pattern(filter) {
        // `search` is lower(slug, owner email, company), trigram-indexed (migration 0004).
        query.push(" AND t.search LIKE ").push_bind(pattern);
    }
}

/// The filter's search text as a lowercase LIKE pattern with its wildcards escaped.
fn search_pattern(filter: &TenantFilter) -> Option<String> {
    filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            format!(
                "%{}%",
                s.to_lowercase()
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            )
        })
}

/// How many tenants match `filter`.
pub async fn count(p: &Platform, filter: &TenantFilter) -> Result<i64, ServiceError> {
    let mut query = QueryBuilder::new("SELECT count(*) FROM tenants t WHERE true");
    push_filter(&mut query, filter);
    Ok(query.build_query_scalar().fetch_one(&p.pool).await?)
}

/// Tenant totals per filter, kept for [`COUNT_TTL`]: the portal shows the total on every
/// view of its table, and counting 10,000 rows each time was most of the page's cost. Changes
/// made through this process clear it at once; the workers' changes show within the TTL.
#[derive(Debug, Default)]
pub struct CountCache(
    std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, i64)>>,
);

/// How long a cached tenant total is used.
pub const COUNT_TTL: std::time::Duration = std::time::Duration::from_secs(1);

impl CountCache {
    fn get(&self, key: &str) -> Option<i64> {
        let map = self.0.lock().ok()?;
        map.get(key)
            .filter(|(at, _)| at.elapsed() < COUNT_TTL)
            .map(|(_, n)| *n)
    }

    fn put(&self, key: String, n: i64) {
        if let Ok(mut map) = self.0.lock() {
            // Searches make many keys: keep the map small.
            if map.len() > 1_000 {
                map.clear();
            }
            map.insert(key, (std::time::Instant::now(), n));
        }
    }

    /// Forgets every total (after a change).
    pub fn clear(&self) {
        if let Ok(mut map) = self.0.lock() {
            map.clear();
        }
    }
}

/// [`count`], through the platform's [`CountCache`].
async fn count_recent(p: &Platform, filter: &TenantFilter) -> Result<i64, ServiceError> {
    let key = format!(
        "{:?}|{:?}|{:?}",
        filter.state,
        filter.plan,
        search_pattern(filter)
    );
    if let Some(n) = p.tenant_counts.get(&key) {
        return Ok(n);
    }
    let n = count(p, filter).await?;
    p.tenant_counts.put(key, n);
    Ok(n)
}

/// Sort orders of [`page`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantSort {
    /// Creation time.
    Created,
    /// Slug.
    Slug,
    /// State, then slug.
    State,
    /// Plan key, then slug.
    Plan,
    /// Owner's email, then slug.
    Owner,
}

impl TenantSort {
    /// Parses a sort name (`created`, `slug`, `state`, `plan`, `owner`).
    pub fn parse(s: &str) -> Option<TenantSort> {
        Some(match s {
            "created" => TenantSort::Created,
            "slug" => TenantSort::Slug,
            "state" => TenantSort::State,
            "plan" => TenantSort::Plan,
            "owner" => TenantSort::Owner,
            _ => return None,
        })
    }

    /// The ORDER BY of each sort; each has an index that serves it (migration 0004).
    /// The sort's name, as [`TenantSort::parse`] reads it.
    pub fn name(self) -> &'static str {
        match self {
            TenantSort::Created => "created",
            TenantSort::Slug => "slug",
            TenantSort::State => "state",
            TenantSort::Plan => "plan",
            TenantSort::Owner => "owner",
        }
    }

    fn columns(self) -> &'static str {
        match self {
            TenantSort::Created => "t.created_at {dir}, t.id {dir}",
            TenantSort::Slug => "t.slug {dir}",
            TenantSort::State => "t.state {dir}, t.slug {dir}",
            TenantSort::Plan => "p.key {dir}, t.slug {dir}",
            TenantSort::Owner => "t.owner_email {dir}, t.id {dir}",
        }
    }
}

/// Appends `SELECT <what> WHERE <filter> ORDER BY <order> LIMIT <per_page> OFFSET <offset>`.
fn push_page_query(
    query: &mut QueryBuilder<'static, Postgres>,
    what: &str,
    filter: &TenantFilter,
    order: &str,
    per_page: u32,
    offset: i64,
) {
    query.push(format!("SELECT {what} WHERE true"));
    push_filter(query, filter);
    query
        .push(format!(" ORDER BY {order} LIMIT "))
        .push_bind(i64::from(per_page))
        .push(" OFFSET ")
        .push_bind(offset);
}

/// From this offset on, a page is read in two steps (ids from the narrow indexes, then the
/// rows): skipping thousands of whole rows costs more than the second round trip. Searches
/// always take the two steps.
const DEEP_OFFSET: i64 = 500;

/// One numbered page (from 1) of tenants in a chosen order, and the matching total: the
/// portal's table. `per_page` is 1 to 200.
pub async fn page(
    p: &Platform,
    filter: &TenantFilter,
    sort: TenantSort,
    descending: bool,
    page: u32,
    per_page: u32,
) -> Result<(Vec<TenantSummary>, i64), ServiceError> {
    if !(1..=200).contains(&per_page) {
        return Err(ServiceError::invalid(
            "limit_invalid",
            "per_page",
            "per_page must be from 1 to 200.",
        ));
    }
    let total = count_recent(p, filter).await?;
    // The order comes from a closed set of constants, never from the caller's text.
    let order = sort
        .columns()
        .replace("{dir}", if descending { "DESC" } else { "ASC" });
    let offset = i64::from(page.max(1) - 1) * i64::from(per_page);
    // Searches take the two steps at any depth: the ids come from an index-only scan that
    // reads the search text from the index (migration 0006), not from thousands of rows.
    let rows = format!("{SUMMARY_COLUMNS} FROM tenants t JOIN plans p ON p.id = t.plan_id");
    let mut query = QueryBuilder::new("");
    if offset < DEEP_OFFSET && search_pattern(filter).is_none() {
        // Near the start: one pass over the rows themselves.
        push_page_query(&mut query, &rows, filter, &order, per_page, offset);
    } else {
        // The page's ids from the narrow indexes first (an InitPlan: deep pages walk index
        // entries, searches read the text from the index), then only those rows by primary
        // key, in the same order. One statement, one round trip.
        let join_plans = if sort == TenantSort::Plan {
            " JOIN plans p ON p.id = t.plan_id"
        } else {
            ""
        };
        query.push(format!("SELECT {rows} WHERE t.id = ANY (ARRAY ("));
        push_page_query(
            &mut query,
            &format!("t.id FROM tenants t{join_plans}"),
            filter,
            &order,
            per_page,
            offset,
        );
        query.push(format!(")) ORDER BY {order}"));
    }
    let items = query.build_query_as().fetch_all(&p.pool).await?;
    Ok((items, total))
}

/// Lists tenants newest first, `limit` (1–200) at a time after `cursor`.
pub async fn list(
    p: &Platform,
    filter: &TenantFilter,
    limit: i64,
    cursor: Option<&str>,
) -> Result<TenantPage, ServiceError> {
    if !(1..=200).contains(&limit) {
        return Err(ServiceError::invalid(
            "limit_invalid",
            "limit",
            "limit must be from 1 to 200.",
        ));
    }
    let after = match cursor {
        Some(c) => Some(decode_cursor(c).ok_or_else(|| {
            ServiceError::invalid(
                "cursor_invalid",
                "cursor",
                "This cursor was not given by a list call.",
            )
        })?),
        None => None,
    };
    let total = count(p, filter).await?;
    let mut query = QueryBuilder::new(format!(
        "SELECT {TENANT_COLUMNS} FROM tenants t JOIN plans p ON p.id = t.plan_id WHERE true"
    ));
    push_filter(&mut query, filter);
    if let Some((created_at, id)) = after {
        query
            .push(" AND (t.created_at, t.id) < (")
            .push_bind(created_at)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    query
        .push(" ORDER BY t.created_at DESC, t.id DESC LIMIT ")
        .push_bind(limit + 1);
    let mut items: Vec<Tenant> = query.build_query_as().fetch_all(&p.pool).await?;
    let more = items.len() as i64 > limit;
    items.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = if more {
        items.last().map(encode_cursor)
    } else {
        None
    };
    Ok(TenantPage {
        items,
        next_cursor,
        total,
    })
}

/// The operations a request can start on an existing tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Suspend.
    Deactivate,
    /// Resume.
    Reactivate,
    /// Drop (optionally after a backup).
    Delete {
        /// Take a `pg_dump -Fc` first.
        backup: bool,
    },
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::Deactivate => "deactivate",
            Operation::Reactivate => "reactivate",
            Operation::Delete { .. } => "delete",
        }
    }

    fn allowed_from(self) -> &'static [&'static str] {
        match self {
            Operation::Deactivate => &["active"],
            Operation::Reactivate => &["suspended"],
            Operation::Delete { .. } => &["active", "suspended", "failed"],
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Operation::Deactivate => kinds::DEACTIVATE,
            Operation::Reactivate => kinds::REACTIVATE,
            Operation::Delete { .. } => kinds::DELETE,
        }
    }
}

/// Starts deactivate / reactivate / delete: checks the transition in one conditional
/// update (no racy pre-check), enqueues the job in the same transaction.
pub async fn request(
    p: &Platform,
    actor: &Actor,
    id_or_slug: &str,
    op: Operation,
) -> Result<Accepted, ServiceError> {
    let current = get(p, id_or_slug).await?;
    let allowed: Vec<String> = op.allowed_from().iter().map(|s| (*s).to_owned()).collect();
    let mut tx = p.pool.begin().await?;
    let new_state = match op {
        Operation::Delete { .. } => Some("deleting"),
        _ => None,
    };
    let updated: Option<Uuid> = sqlx::query_scalar(
        "UPDATE tenants SET pending_op = $2, state = COALESCE($4, state), last_error = NULL, updated_at = now() \
         WHERE id = $1 AND state = ANY($3) AND pending_op IS NULL RETURNING id",
    )
    .bind(current.id)
    .bind(op.name())
    .bind(&allowed)
    .bind(new_state)
    .fetch_optional(&mut *tx)
    .await?;
    if updated.is_none() {
        let now = fetch(&mut tx, current.id)
            .await?
            .ok_or(ServiceError::NotFound("tenant"))?;
        return Err(match now.pending_op {
            Some(pending) if allowed.iter().any(|s| s == now.state.as_str()) => {
                ServiceError::conflict(
                    "operation_in_progress",
                    format!(
                        "The tenant '{}' is busy ({pending}); try again when its job is done.",
                        now.slug
                    ),
                )
            }
            _ => ServiceError::conflict(
                "illegal_transition",
                format!(
                    "Cannot {} the tenant '{}': it is {}.",
                    op.name(),
                    now.slug,
                    now.state.as_str()
                ),
            ),
        });
    }
    let payload = match op {
        Operation::Delete { backup } => json!({"tenant_id": current.id, "backup": backup}),
        _ => json!({"tenant_id": current.id}),
    };
    let job_id = job_queue::enqueue(
        &mut *tx,
        NewJob::new(op.kind(), payload)
            .with_tenant(current.id)
            .with_max_attempts(8)
            .with_dedupe_key(format!("tenant:{}:{}", current.id, op.name())),
    )
    .await?;
    sqlx::query("UPDATE tenants SET pending_job_id = $2 WHERE id = $1")
        .bind(current.id)
        .bind(job_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut *tx,
        actor,
        &format!("tenant.{}_requested", op.name()),
        Some(current.id),
        Some(job_id),
        json!({"from": current.state.as_str()}),
    )
    .await?;
    let tenant = fetch(&mut tx, current.id)
        .await?
        .ok_or(ServiceError::NotFound("tenant"))?;
    tx.commit().await?;
    p.tenant_counts.clear();
    Ok(Accepted { tenant, job_id })
}
