//! Plans: what a customer buys (the Odoo modules installed, limits), and their templates.

use crate::audit::{self, Actor};
use crate::jobs::kinds;
use crate::platform::Platform;
use crate::service::{unique_violation, ServiceError};
use job_queue::NewJob;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

/// A plan as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Plan {
    /// Plan id.
    pub id: Uuid,
    /// Short stable key (`^[a-z][a-z0-9_]{0,30}$`), part of the template's name.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Odoo modules installed for tenants of this plan.
    pub modules: Vec<String>,
    /// Most users, if limited.
    pub max_users: Option<i32>,
    /// Most companies.
    pub max_companies: i32,
    /// Storage limit in MB, if limited.
    pub storage_mb: Option<i32>,
    /// Monthly price in cents of `currency` (0: a free plan, never sent to Stripe).
    pub price_cents: i32,
    /// Yearly price in cents; absent: 12 x the monthly price.
    pub yearly_price_cents: Option<i32>,
    /// Free days at the start of a first subscription.
    pub trial_days: i32,
    /// ISO 4217 currency code.
    pub currency: String,
    /// Offered to new tenants.
    pub active: bool,
    /// Tenants' point of sale comes with Odoo's sample products (its bakery onboarding
    /// scenario); needs `point_of_sale` in `modules`.
    pub pos_sample_products: bool,
    /// Template database state: none, building, ready, failed.
    pub template_state: String,
    /// Why the last template build failed.
    pub template_error: Option<String>,
    /// When the template was last built.
    pub template_built_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The Stripe product (paid plans, once mirrored).
    pub stripe_product_id: Option<String>,
    /// The Stripe monthly price.
    pub stripe_monthly_price_id: Option<String>,
    /// The Stripe yearly price.
    pub stripe_yearly_price_id: Option<String>,
    /// When the plan was last mirrored to Stripe.
    pub stripe_synced_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Why the last mirroring failed.
    pub stripe_sync_error: Option<String>,
    /// Created at.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Last changed at.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl Plan {
    /// What Stripe mirrors of the plan, as a version (see `billing::catalog`).
    pub fn billing_version(&self) -> String {
        crate::billing::catalog::billing_version(
            &self.name,
            self.price_cents,
            self.yearly_price_cents,
            &self.currency,
            self.active,
        )
    }
}

/// Input of plan creation.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPlan {
    /// Short stable key.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Odoo modules to install.
    #[serde(default)]
    pub modules: Vec<String>,
    /// Most users.
    pub max_users: Option<i32>,
    /// Most companies (default 1).
    pub max_companies: Option<i32>,
    /// Storage limit in MB.
    pub storage_mb: Option<i32>,
    /// Monthly price in cents (default 0).
    #[serde(default)]
    pub price_cents: Option<i32>,
    /// ISO 4217 currency code (default EUR).
    #[serde(default)]
    pub currency: Option<String>,
    /// Yearly price in cents (default 12 x the monthly price).
    #[serde(default)]
    pub yearly_price_cents: Option<i32>,
    /// Free days at the start of a first subscription (default 0).
    #[serde(default)]
    pub trial_days: Option<i32>,
    /// Sample products in the tenants' point of sale (default false; needs
    /// `point_of_sale` in `modules`).
    #[serde(default)]
    pub pos_sample_products: Option<bool>,
}

/// Changes to a plan; absent fields are left alone. Changing modules requires a template
/// rebuild to affect new tenants.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanUpdate {
    /// Display name.
    pub name: Option<String>,
    /// Odoo modules.
    pub modules: Option<Vec<String>>,
    /// Most users.
    pub max_users: Option<i32>,
    /// Most companies.
    pub max_companies: Option<i32>,
    /// Storage limit in MB.
    pub storage_mb: Option<i32>,
    /// Offered to new tenants.
    pub active: Option<bool>,
    /// Monthly price in cents.
    #[serde(default)]
    pub price_cents: Option<i32>,
    /// ISO 4217 currency code.
    #[serde(default)]
    pub currency: Option<String>,
    /// Yearly price in cents.
    #[serde(default)]
    pub yearly_price_cents: Option<i32>,
    /// Free days at the start of a first subscription.
    #[serde(default)]
    pub trial_days: Option<i32>,
    /// Sample products in the tenants' point of sale (needs `point_of_sale`).
    #[serde(default)]
    pub pos_sample_products: Option<bool>,
}

const COLUMNS: &str =
    "id, key, name, modules, max_users, max_companies, storage_mb, price_cents, yearly_price_cents, \
    trial_days, currency, active, pos_sample_products, template_state, template_error, template_built_at, \
    stripe_product_id, stripe_monthly_price_id, stripe_yearly_price_id, stripe_synced_at, \
    stripe_sync_error, created_at, updated_at";

fn check_key(key: &str) -> Result<(), ServiceError> {
    let ok = key.len() <= 31
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ServiceError::invalid(
            "plan_key_invalid",
            "key",
            "A plan key is 1 to 31 lowercase letters, digits or _, starting with a letter.",
        ))
    }
}

fn check_price(
    price_cents: Option<i32>,
    currency: Option<&str>,
    yearly_price_cents: Option<i32>,
    trial_days: Option<i32>,
) -> Result<(), ServiceError> {
    if price_cents.is_some_and(|p| p < 0) {
        return Err(ServiceError::invalid(
            "price_invalid",
            "price_cents",
            "The price cannot be negative.",
        ));
    }
    if yearly_price_cents.is_some_and(|p| p < 0) {
        return Err(ServiceError::invalid(
            "price_invalid",
            "yearly_price_cents",
            "The yearly price cannot be negative.",
        ));
    }
    if trial_days.is_some_and(|d| !(0..=730).contains(&d)) {
        return Err(ServiceError::invalid(
            "trial_invalid",
            "trial_days",
            "A trial lasts 0 to 730 days.",
        ));
    }
    if let Some(c) = currency {
        if c.len() != 3 || !c.chars().all(|ch| ch.is_ascii_uppercase()) {
            return Err(ServiceError::invalid(
                "currency_invalid",
                "currency",
                "A currency is a three-letter ISO code such as EUR or USD.",
            ));
        }
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), ServiceError> {
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(ServiceError::invalid(
            "plan_name_invalid",
            "name",
            "A plan name has 1 to 100 characters.",
        ));
    }
    Ok(())
}

fn check_modules(modules: &[String]) -> Result<(), ServiceError> {
    for m in modules {
        let ok = !m.is_empty()
            && m.len() <= 64
            && m.starts_with(|c: char| c.is_ascii_lowercase())
            && m.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            return Err(ServiceError::invalid(
                "module_invalid",
                "modules",
                format!("'{m}' is not an Odoo module name (lowercase letters, digits and _)."),
            ));
        }
    }
    Ok(())
}

fn check_limits(
    max_users: Option<i32>,
    max_companies: Option<i32>,
    storage_mb: Option<i32>,
) -> Result<(), ServiceError> {
    for (field, v) in [
        ("max_users", max_users),
        ("max_companies", max_companies),
        ("storage_mb", storage_mb),
    ] {
        if v.is_some_and(|v| v < 1) {
            return Err(ServiceError::invalid(
                "limit_invalid",
                field,
                format!("{field} must be at least 1."),
            ));
        }
    }
    Ok(())
}

/// Sample products come with Odoo's POS onboarding: without `point_of_sale` there is no
/// point of sale to put them in.
fn check_sample_products(modules: &[String], sample: bool) -> Result<(), ServiceError> {
    if sample && !modules.iter().any(|m| m == "point_of_sale") {
        return Err(ServiceError::invalid(
            "sample_products_need_pos",
            "pos_sample_products",
            "Sample products need the point_of_sale module in the plan's modules.",
        ));
    }
    Ok(())
}

/// Creates a plan (its template is built on first use or on request).
pub async fn create(p: &Platform, actor: &Actor, input: NewPlan) -> Result<Plan, ServiceError> {
    check_key(&input.key)?;
    check_name(&input.name)?;
    check_modules(&input.modules)?;
    check_limits(input.max_users, input.max_companies, input.storage_mb)?;
    check_price(
        input.price_cents,
        input.currency.as_deref(),
        input.yearly_price_cents,
        input.trial_days,
    )?;
    check_sample_products(&input.modules, input.pos_sample_products.unwrap_or(false))?;
    let mut tx = p.pool.begin().await?;
    let plan: Plan = sqlx::query_as(&format!(
        "INSERT INTO plans (key, name, modules, max_users, max_companies, storage_mb, price_cents, currency, \
         yearly_price_cents, trial_days, pos_sample_products) \
         VALUES ($1, $2, $3, $4, COALESCE($5, 1), $6, COALESCE($7, 0), COALESCE($8, 'EUR'), $9, COALESCE($10, 0), \
         COALESCE($11, false)) \
         RETURNING {COLUMNS}"
    ))
    .bind(&input.key)
    .bind(input.name.trim())
    .bind(&input.modules)
    .bind(input.max_users)
    .bind(input.max_companies)
    .bind(input.storage_mb)
    .bind(input.price_cents)
    .bind(input.currency.as_deref())
    .bind(input.yearly_price_cents)
    .bind(input.trial_days)
    .bind(input.pos_sample_products)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| match unique_violation(&e).as_deref() {
        Some("plans_key_key") => ServiceError::Conflict {
            code: "plan_key_taken",
            message: format!("The plan key '{}' is already in use.", input.key),
            field: Some("key"),
        },
        _ => e.into(),
    })?;
    audit::record(
        &mut *tx,
        actor,
        "plan.created",
        None,
        None,
        json!({"plan_id": plan.id, "key": plan.key}),
    )
    .await?;
    if plan.price_cents > 0 {
        crate::billing::enqueue_plan_sync(&mut tx, plan.id, &plan.billing_version()).await?;
    }
    tx.commit().await?;
    Ok(plan)
}

/// All plans, by key.
pub async fn list(p: &Platform) -> Result<Vec<Plan>, ServiceError> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM plans ORDER BY key"))
            .fetch_all(&p.pool)
            .await?,
    )
}

/// One plan by id.
pub async fn get(p: &Platform, id: Uuid) -> Result<Plan, ServiceError> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM plans WHERE id = $1"))
        .bind(id)
        .fetch_optional(&p.pool)
        .await?
        .ok_or(ServiceError::NotFound("plan"))
}

/// One plan by key.
pub async fn get_by_key(p: &Platform, key: &str) -> Result<Option<Plan>, ServiceError> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM plans WHERE key = $1"))
            .bind(key)
            .fetch_optional(&p.pool)
            .await?,
    )
}

/// Changes a plan.
pub async fn update(
    p: &Platform,
    actor: &Actor,
    id: Uuid,
    input: PlanUpdate,
) -> Result<Plan, ServiceError> {
    if let Some(name) = &input.name {
        check_name(name)?;
    }
    if let Some(modules) = &input.modules {
        check_modules(modules)?;
    }
    check_limits(input.max_users, input.max_companies, input.storage_mb)?;
    check_price(
        input.price_cents,
        input.currency.as_deref(),
        input.yearly_price_cents,
        input.trial_days,
    )?;
    let mut tx = p.pool.begin().await?;
    let plan: Plan = sqlx::query_as(&format!(
        "UPDATE plans SET name = COALESCE($2, name), modules = COALESCE($3, modules), \
         max_users = COALESCE($4, max_users), max_companies = COALESCE($5, max_companies), \
         storage_mb = COALESCE($6, storage_mb), active = COALESCE($7, active), \
         price_cents = COALESCE($8, price_cents), currency = COALESCE($9, currency), \
         yearly_price_cents = COALESCE($10, yearly_price_cents), trial_days = COALESCE($11, trial_days), \
         pos_sample_products = COALESCE($12, pos_sample_products), updated_at = now() \
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(input.name.as_deref().map(str::trim))
    .bind(&input.modules)
    .bind(input.max_users)
    .bind(input.max_companies)
    .bind(input.storage_mb)
    .bind(input.active)
    .bind(input.price_cents)
    .bind(input.currency.as_deref())
    .bind(input.yearly_price_cents)
    .bind(input.trial_days)
    .bind(input.pos_sample_products)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ServiceError::NotFound("plan"))?;
    // Checked on the stored result: either field may come from an earlier change.
    check_sample_products(&plan.modules, plan.pos_sample_products)?;
    audit::record(
        &mut *tx,
        actor,
        match input.active {
            Some(false) => "plan.archived",
            Some(true) => "plan.unarchived",
            None => "plan.updated",
        },
        None,
        None,
        json!({"plan_id": id, "key": plan.key}),
    )
    .await?;
    if plan.price_cents > 0 {
        crate::billing::enqueue_plan_sync(&mut tx, plan.id, &plan.billing_version()).await?;
    }
    tx.commit().await?;
    Ok(plan)
}

/// Deletes a plan no tenant ever used; otherwise 409 (deactivate it instead).
pub async fn delete(p: &Platform, actor: &Actor, id: Uuid) -> Result<(), ServiceError> {
    let mut tx = p.pool.begin().await?;
    let used: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tenants WHERE plan_id = $1)")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    if used {
        return Err(ServiceError::conflict(
            "plan_in_use",
            "Tenants use this plan: set it inactive instead of deleting it.",
        ));
    }
    let deleted = sqlx::query("DELETE FROM plans WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(ServiceError::NotFound("plan"));
    }
    audit::record(
        &mut *tx,
        actor,
        "plan.deleted",
        None,
        None,
        json!({"plan_id": id}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Queues a (re)build of the plan's template; returns the job id.
pub async fn build_template(p: &Platform, actor: &Actor, id: Uuid) -> Result<Uuid, ServiceError> {
    if p.config.odoo_master_password.is_none() {
        return Err(ServiceError::conflict(
            "odoo_master_password_missing",
            "Set ODOO_MASTER_PASSWORD to build templates.",
        ));
    }
    let mut tx = p.pool.begin().await?;
    let found = sqlx::query("UPDATE plans SET template_state = 'building', template_error = NULL, updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if found.rows_affected() == 0 {
        return Err(ServiceError::NotFound("plan"));
    }
    let job = enqueue_build(&mut tx, id, true).await?;
    audit::record(
        &mut *tx,
        actor,
        "plan.template_build_requested",
        None,
        Some(job),
        json!({"plan_id": id}),
    )
    .await?;
    tx.commit().await?;
    Ok(job)
}

/// Enqueues a template build in the caller's transaction (deduplicated per plan).
pub async fn enqueue_build(
    tx: &mut sqlx::PgConnection,
    plan_id: Uuid,
    rebuild: bool,
) -> Result<Uuid, ServiceError> {
    Ok(job_queue::enqueue(
        &mut *tx,
        NewJob::new(
            kinds::BUILD_TEMPLATE,
            json!({"plan_id": plan_id, "rebuild": rebuild}),
        )
        .with_max_attempts(5)
        .with_dedupe_key(format!("build_template:{plan_id}")),
    )
    .await?)
}

/// "1 company", "3 companies": a count of companies as a sentence says it.
pub fn companies(count: impl Into<i64>) -> String {
    match count.into() {
        1 => "1 company".to_owned(),
        n => format!("{n} companies"),
    }
}
