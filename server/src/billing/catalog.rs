//! Plans mirrored to Stripe: a plan with a price has a product (`prod_saas_<plan id>`, so it
//! is found again by id) and a monthly and a yearly price (found again by their
//! `lookup_key`, `saas_<plan id>_month|year`). The sync is idempotent and repairs drift: a
//! product renamed or archived in Stripe's dashboard is put back, a price whose amount,
//! currency or period no longer matches (or that was archived or deleted) is replaced by a
//! new one that takes over the lookup key, and the old one is archived. Subscriptions keep
//! the price they were sold at until the owner changes plan. Free plans never touch Stripe.

use super::client::{idempotency_key, StripeCallError};
use super::objects::{List, Price, Product};
use crate::platform::Platform;
use crate::service::ServiceError;
use serde::Serialize;
use stripe_client_core::{RequestBuilder, StripeMethod};
use uuid::Uuid;

/// The plan as the sync needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlanRow {
    /// Plan id.
    pub id: Uuid,
    /// Key.
    pub key: String,
    /// Name.
    pub name: String,
    /// Monthly price in cents.
    pub price_cents: i32,
    /// Yearly price in cents (12 x monthly when unset).
    pub yearly_price_cents: Option<i32>,
    /// ISO code, uppercase.
    pub currency: String,
    /// Sold.
    pub active: bool,
    /// Free days of a first subscription.
    pub trial_days: i32,
    /// Stripe product.
    pub stripe_product_id: Option<String>,
    /// Stripe monthly price.
    pub stripe_monthly_price_id: Option<String>,
    /// Stripe yearly price.
    pub stripe_yearly_price_id: Option<String>,
    /// The billing version the Stripe objects match.
    pub stripe_synced_version: Option<String>,
}

impl PlanRow {
    /// Whether the plan is sold for money.
    pub fn is_paid(&self) -> bool {
        self.price_cents > 0
    }

    /// The yearly price.
    pub fn yearly_cents(&self) -> i64 {
        self.yearly_price_cents
            .map(i64::from)
            .unwrap_or(i64::from(self.price_cents) * 12)
    }

    /// Price of one period of `interval`.
    pub fn amount(&self, interval: Interval) -> i64 {
        match interval {
            Interval::Month => i64::from(self.price_cents),
            Interval::Year => self.yearly_cents(),
        }
    }

    /// The stored Stripe price of `interval`.
    pub fn price_id(&self, interval: Interval) -> Option<&str> {
        match interval {
            Interval::Month => self.stripe_monthly_price_id.as_deref(),
            Interval::Year => self.stripe_yearly_price_id.as_deref(),
        }
    }

    /// The plan's billing version: what Stripe must match.
    pub fn version(&self) -> String {
        billing_version(
            &self.name,
            self.price_cents,
            self.yearly_price_cents,
            &self.currency,
            self.active,
        )
    }

    /// Whether the stored Stripe objects were made for this version of the plan.
    pub fn is_synced(&self) -> bool {
        self.stripe_synced_version.as_deref() == Some(self.version().as_str())
            && self.stripe_monthly_price_id.is_some()
            && self.stripe_yearly_price_id.is_some()
    }
}

/// A short hash of the fields Stripe mirrors (name, prices, currency, active): the sync's
/// version, part of its idempotency keys and job dedupe key. Other changes of a plan (its
/// modules, its template) do not make a new version.
pub fn billing_version(
    name: &str,
    price_cents: i32,
    yearly_price_cents: Option<i32>,
    currency: &str,
    active: bool,
) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(
        format!("{name}\u{0}{price_cents}\u{0}{yearly_price_cents:?}\u{0}{currency}\u{0}{active}")
            .as_bytes(),
    );
    hex::encode(&digest[..8])
}

/// A billing period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    /// Monthly.
    Month,
    /// Yearly.
    Year,
}

impl Interval {
    /// `month` / `year`.
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Month => "month",
            Interval::Year => "year",
        }
    }

    /// Parses `month` / `year`.
    pub fn parse(s: &str) -> Option<Interval> {
        match s {
            "month" => Some(Interval::Month),
            "year" => Some(Interval::Year),
            _ => None,
        }
    }

    /// An owner's choice (sign-up, plan change): none or blank is `None` (the caller's
    /// default); anything but `month` or `year` is refused, naming the `interval` field.
    pub fn from_choice(raw: Option<&str>) -> Result<Option<Interval>, ServiceError> {
        match raw.map(str::trim) {
            None | Some("") => Ok(None),
            Some(raw) => Interval::parse(raw).map(Some).ok_or_else(|| {
                ServiceError::invalid(
                    "interval_unknown",
                    "interval",
                    format!("Billing is 'month' (monthly) or 'year' (yearly), not '{raw}'."),
                )
            }),
        }
    }
}

/// The product id of a plan.
pub fn product_id(plan_id: Uuid) -> String {
    format!("prod_saas_{}", plan_id.simple())
}

/// The lookup key of a plan's price.
pub fn lookup_key(plan_id: Uuid, interval: Interval) -> String {
    format!("saas_{}_{}", plan_id.simple(), interval.as_str())
}

/// Why a sync did not finish.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Stripe refused or could not be reached.
    #[error(transparent)]
    Stripe(#[from] StripeCallError),
    /// The platform database.
    #[error("platform database: {0}")]
    Db(#[from] sqlx::Error),
    /// No such plan.
    #[error("plan {0} does not exist")]
    NoPlan(Uuid),
}

impl SyncError {
    /// Worth a retry.
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Stripe(e) => e.is_transient(),
            SyncError::Db(_) => true,
            SyncError::NoPlan(_) => false,
        }
    }
}

const PLAN_COLUMNS: &str =
    "id, key, name, price_cents, yearly_price_cents, currency, active, trial_days, \
     stripe_product_id, stripe_monthly_price_id, stripe_yearly_price_id, stripe_synced_version";

/// One plan's sync row.
pub async fn load(p: &Platform, plan_id: Uuid) -> Result<PlanRow, SyncError> {
    sqlx::query_as(&format!("SELECT {PLAN_COLUMNS} FROM plans WHERE id = $1"))
        .bind(plan_id)
        .fetch_optional(&p.pool)
        .await?
        .ok_or(SyncError::NoPlan(plan_id))
}

#[derive(Serialize)]
struct ProductParams<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    name: &'a str,
    active: bool,
    metadata: std::collections::BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
struct PriceParams<'a> {
    product: &'a str,
    unit_amount: i64,
    currency: String,
    recurring: RecurringParams,
    lookup_key: String,
    transfer_lookup_key: bool,
    nickname: String,
    metadata: std::collections::BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
struct RecurringParams {
    interval: &'static str,
}

#[derive(Serialize)]
struct PriceLookup {
    lookup_keys: Vec<String>,
    limit: u32,
}

#[derive(Serialize)]
struct Archive {
    active: bool,
}

/// Makes Stripe match the plan (product and both prices) and stores the ids. Free plans
/// return at once without a call. Returns the plan as stored after the sync.
pub async fn sync_plan(p: &Platform, plan_id: Uuid) -> Result<PlanRow, SyncError> {
    let plan = load(p, plan_id).await?;
    if !plan.is_paid() {
        return Ok(plan);
    }
    let result = mirror(p, &plan).await;
    match &result {
        Ok((product, monthly, yearly)) => {
            // Stored only if the plan did not change meanwhile (its next sync is queued).
            sqlx::query(
                "UPDATE plans SET stripe_product_id = $2, stripe_monthly_price_id = $3, \
                 stripe_yearly_price_id = $4, stripe_synced_version = $5, stripe_synced_at = now(), \
                 stripe_sync_error = NULL WHERE id = $1 AND name = $6 AND price_cents = $7 \
                 AND yearly_price_cents IS NOT DISTINCT FROM $8 AND currency = $9 AND active = $10",
            )
            .bind(plan.id)
            .bind(product)
            .bind(monthly)
            .bind(yearly)
            .bind(plan.version())
            .bind(&plan.name)
            .bind(plan.price_cents)
            .bind(plan.yearly_price_cents)
            .bind(&plan.currency)
            .bind(plan.active)
            .execute(&p.pool)
            .await?;
            tracing::info!(plan_id = %plan.id, plan = %plan.key, %product, %monthly, %yearly, "plan mirrored to Stripe");
        }
        Err(error) => {
            sqlx::query("UPDATE plans SET stripe_sync_error = $2 WHERE id = $1")
                .bind(plan.id)
                .bind(error.to_string())
                .execute(&p.pool)
                .await?;
        }
    }
    result?;
    load(p, plan_id).await
}

/// The plan with its Stripe prices in place: synced now if its version is not.
pub async fn ensure_synced(p: &Platform, plan_id: Uuid) -> Result<PlanRow, SyncError> {
    let plan = load(p, plan_id).await?;
    if !plan.is_paid() || plan.is_synced() {
        return Ok(plan);
    }
    sync_plan(p, plan_id).await
}

async fn mirror(p: &Platform, plan: &PlanRow) -> Result<(String, String, String), SyncError> {
    let v = plan.version();
    let plan_id = plan.id.to_string();
    let product = product_id(plan.id);
    let metadata = std::collections::BTreeMap::from([
        ("plan_id", plan_id.clone()),
        ("plan_key", plan.key.clone()),
    ]);
    let found: Result<Product, _> = p
        .stripe
        .send(
            RequestBuilder::new(StripeMethod::Get, format!("/products/{product}")),
            None,
        )
        .await;
    match found {
        Err(e) if e.is_missing() => {
            p.stripe
                .send::<Product>(
                    RequestBuilder::new(StripeMethod::Post, "/products").form(&ProductParams {
                        id: Some(&product),
                        name: &plan.name,
                        active: plan.active,
                        metadata: metadata.clone(),
                    }),
                    Some(&idempotency_key(&["plan", &plan_id, &v, "product-create"])),
                )
                .await?;
        }
        Err(e) => return Err(e.into()),
        Ok(existing) => {
            let drifted = existing.name.as_deref() != Some(plan.name.as_str())
                || existing.active != plan.active
                || existing.metadata.get("plan_id") != Some(&plan_id);
            if drifted {
                p.stripe
                    .send::<Product>(
                        RequestBuilder::new(StripeMethod::Post, format!("/products/{product}"))
                            .form(&ProductParams {
                                id: None,
                                name: &plan.name,
                                active: plan.active,
                                metadata: metadata.clone(),
                            }),
                        Some(&idempotency_key(&["plan", &plan_id, &v, "product-update"])),
                    )
                    .await?;
            }
        }
    }
    let monthly = mirror_price(p, plan, &product, Interval::Month, &v).await?;
    let yearly = mirror_price(p, plan, &product, Interval::Year, &v).await?;
    Ok((product, monthly, yearly))
}

fn matches(price: &Price, plan: &PlanRow, product: &str, interval: Interval) -> bool {
    price.active
        && price.product.as_deref() == Some(product)
        && price.unit_amount == Some(plan.amount(interval))
        && price
            .currency
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case(&plan.currency))
        && price.period() == Some((interval.as_str(), 1))
}

async fn mirror_price(
    p: &Platform,
    plan: &PlanRow,
    product: &str,
    interval: Interval,
    v: &str,
) -> Result<String, SyncError> {
    let key = lookup_key(plan.id, interval);
    let found: List<Price> = p
        .stripe
        .send(
            RequestBuilder::new(StripeMethod::Get, "/prices").query(&PriceLookup {
                lookup_keys: vec![key.clone()],
                limit: 10,
            }),
            None,
        )
        .await?;
    if let Some(price) = found
        .data
        .iter()
        .find(|price| matches(price, plan, product, interval))
    {
        return Ok(price.id.clone());
    }
    let plan_id = plan.id.to_string();
    let replaced = if found.data.is_empty() {
        "none".to_owned()
    } else {
        let ids: Vec<&str> = found.data.iter().map(|p| p.id.as_str()).collect();
        ids.join(",")
    };
    let created: Price = p
        .stripe
        .send(
            RequestBuilder::new(StripeMethod::Post, "/prices").form(&PriceParams {
                product,
                unit_amount: plan.amount(interval),
                currency: plan.currency.to_ascii_lowercase(),
                recurring: RecurringParams {
                    interval: interval.as_str(),
                },
                lookup_key: key,
                transfer_lookup_key: true,
                nickname: format!("{} ({}ly)", plan.name, interval.as_str()),
                metadata: std::collections::BTreeMap::from([
                    ("plan_id", plan_id.clone()),
                    ("interval", interval.as_str().to_owned()),
                ]),
            }),
            // The version and the prices it replaces: a retry replays this creation, a
            // repair of drift (the price made earlier archived by hand) gets a new one.
            Some(&idempotency_key(&[
                "plan",
                &plan_id,
                v,
                "price",
                interval.as_str(),
                &replaced,
            ])),
        )
        .await?;
    // The replaced prices stop being offered; subscriptions on them keep them.
    for old in found.data.iter().filter(|o| o.active && o.id != created.id) {
        p.stripe
            .send::<Price>(
                RequestBuilder::new(StripeMethod::Post, format!("/prices/{}", old.id))
                    .form(&Archive { active: false }),
                Some(&idempotency_key(&["price-archive", &old.id])),
            )
            .await?;
    }
    if let Some(stored) = plan.price_id(interval) {
        if stored != created.id && !found.data.iter().any(|o| o.id == stored) {
            // Our stored price lost its lookup key somehow: archive it too, if it exists.
            match p
                .stripe
                .send::<Price>(
                    RequestBuilder::new(StripeMethod::Post, format!("/prices/{stored}"))
                        .form(&Archive { active: false }),
                    Some(&idempotency_key(&["price-archive", stored])),
                )
                .await
            {
                Ok(_) => {}
                Err(e) if e.is_missing() => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(created.id)
}
