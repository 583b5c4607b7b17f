//! Our own lenient views of the Stripe objects billing reads.
//!
//! async-stripe's generated models require every field of the API version they were
//! generated for (2026-09-30); localstripe, Stripe in our tests and local run, answers in
//! 2017-era shapes, and events keep the shape of the API version their endpoint was made
//! with. So we read only the fields we use, each optional or defaulted, and accept both
//! shapes where Stripe moved a field:
//! - a subscription's `current_period_*` are on each item today, on the subscription in 2017;
//! - an item's price is `price` today, `plan` (same id) in 2017;
//! - an invoice names its subscription in `parent.subscription_details` today, at the top
//!   level in 2017; a proration line says so in `parent.*_details.proration` today,
//!   `proration` in 2017.
//!
//! Ids that Stripe may expand into objects (`customer`, `latest_invoice`, ...) are read as
//! the id either way. Unknown enum values are kept as [`Status::Other`] instead of failing.

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::collections::HashMap;

/// Reads an id that may be expanded into an object with an `id`.
fn expandable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(match v {
        Some(Value::String(s)) => Some(s),
        Some(Value::Object(o)) => o.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    })
}

/// Reads a metadata map; `null` (seen in fixtures) is empty, non-string values are dropped.
fn metadata<'de, D: Deserializer<'de>>(d: D) -> Result<HashMap<String, String>, D::Error> {
    let v = Option::<HashMap<String, Value>>::deserialize(d)?;
    Ok(v.unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k, s)),
            _ => None,
        })
        .collect())
}

fn null_as_false<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(false))
}

/// A page of a Stripe list.
#[derive(Debug, Clone, Deserialize)]
pub struct List<T> {
    /// The items.
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    /// Whether more items follow.
    #[serde(default, deserialize_with = "null_as_false")]
    pub has_more: bool,
}

impl<T> Default for List<T> {
    fn default() -> Self {
        List {
            data: Vec::new(),
            has_more: false,
        }
    }
}

/// A subscription's status (and a Checkout Session's, an invoice's: any Stripe status word).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Subscription: the first payment has not succeeded yet.
    Incomplete,
    /// Subscription: the first payment never succeeded in 23 hours.
    IncompleteExpired,
    /// Subscription: in its free trial.
    Trialing,
    /// Subscription: paid up.
    Active,
    /// Subscription: the latest invoice failed; Stripe retries.
    PastDue,
    /// Subscription: retries exhausted, kept open unpaid.
    Unpaid,
    /// Subscription: ended.
    Canceled,
    /// Subscription: paused (trial ended without a payment method).
    Paused,
    /// A word this code does not know (kept rather than failing).
    #[serde(other)]
    Other,
}

impl Status {
    /// The word as Stripe writes it (`other` for unknown words).
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Incomplete => "incomplete",
            Status::IncompleteExpired => "incomplete_expired",
            Status::Trialing => "trialing",
            Status::Active => "active",
            Status::PastDue => "past_due",
            Status::Unpaid => "unpaid",
            Status::Canceled => "canceled",
            Status::Paused => "paused",
            Status::Other => "other",
        }
    }
}

/// A customer.
#[derive(Debug, Clone, Deserialize)]
pub struct Customer {
    /// `cus_…`.
    pub id: String,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// Default payment method for invoices.
    #[serde(default)]
    pub invoice_settings: Option<InvoiceSettings>,
    /// Our ids.
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: HashMap<String, String>,
    /// True on a deleted customer.
    #[serde(default, deserialize_with = "null_as_false")]
    pub deleted: bool,
}

/// A customer's invoice settings.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct InvoiceSettings {
    /// `pm_…` charged for invoices.
    #[serde(default, deserialize_with = "expandable")]
    pub default_payment_method: Option<String>,
}

/// A product.
#[derive(Debug, Clone, Deserialize)]
pub struct Product {
    /// `prod_…` (ours are named after the plan).
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Sold.
    #[serde(default = "yes")]
    pub active: bool,
    /// Our ids.
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: HashMap<String, String>,
}

fn yes() -> bool {
    true
}

/// The recurring part of a price.
#[derive(Debug, Clone, Deserialize)]
pub struct Recurring {
    /// `month`, `year`, ...
    pub interval: String,
    /// Intervals per period.
    #[serde(default = "one")]
    pub interval_count: u32,
}

fn one() -> u32 {
    1
}

/// A price (current API) or a plan (2017; the same object for a recurring price).
#[derive(Debug, Clone, Deserialize)]
pub struct Price {
    /// `price_…`.
    pub id: String,
    /// Its product.
    #[serde(default, deserialize_with = "expandable")]
    pub product: Option<String>,
    /// Price in the currency's smallest unit (`amount` on a plan).
    #[serde(default, alias = "amount")]
    pub unit_amount: Option<i64>,
    /// Lowercase ISO code.
    #[serde(default)]
    pub currency: Option<String>,
    /// The period (a price).
    #[serde(default)]
    pub recurring: Option<Recurring>,
    /// The period (a plan).
    #[serde(default)]
    pub interval: Option<String>,
    /// Intervals per period (a plan).
    #[serde(default)]
    pub interval_count: Option<u32>,
    /// Our stable key (a price).
    #[serde(default)]
    pub lookup_key: Option<String>,
    /// Can be used for new subscriptions.
    #[serde(default = "yes")]
    pub active: bool,
    /// Our ids.
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: HashMap<String, String>,
}

impl Price {
    /// `month`/`year` and the count, from a price or a plan.
    pub fn period(&self) -> Option<(&str, u32)> {
        match (&self.recurring, &self.interval) {
            (Some(r), _) => Some((r.interval.as_str(), r.interval_count)),
            (None, Some(i)) => Some((i.as_str(), self.interval_count.unwrap_or(1))),
            _ => None,
        }
    }
}

/// One item of a subscription.
#[derive(Debug, Clone, Deserialize)]
pub struct SubscriptionItem {
    /// `si_…`.
    pub id: String,
    /// The price (current API).
    #[serde(default)]
    pub price: Option<Price>,
    /// The plan (2017; the same id as the price).
    #[serde(default)]
    pub plan: Option<Price>,
    /// Quantity.
    #[serde(default)]
    pub quantity: Option<u64>,
    /// Current period start (current API).
    #[serde(default)]
    pub current_period_start: Option<i64>,
    /// Current period end (current API).
    #[serde(default)]
    pub current_period_end: Option<i64>,
}

impl SubscriptionItem {
    /// The price, read from `price` or else `plan`.
    pub fn price(&self) -> Option<&Price> {
        self.price.as_ref().or(self.plan.as_ref())
    }
}

/// Why a subscription was cancelled.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CancellationDetails {
    /// `cancellation_requested`, `payment_failed`, `payment_disputed`.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A subscription.
#[derive(Debug, Clone, Deserialize)]
pub struct Subscription {
    /// `sub_…`.
    pub id: String,
    /// Its customer.
    #[serde(default, deserialize_with = "expandable")]
    pub customer: Option<String>,
    /// Status.
    pub status: Status,
    /// Ends when the current period ends.
    #[serde(default, deserialize_with = "null_as_false")]
    pub cancel_at_period_end: bool,
    /// When it will be cancelled (set with `cancel_at_period_end` too).
    #[serde(default)]
    pub cancel_at: Option<i64>,
    /// When the cancellation was asked for.
    #[serde(default)]
    pub canceled_at: Option<i64>,
    /// When it ended.
    #[serde(default)]
    pub ended_at: Option<i64>,
    /// Trial end.
    #[serde(default)]
    pub trial_end: Option<i64>,
    /// Current period start (2017 shape).
    #[serde(default)]
    pub current_period_start: Option<i64>,
    /// Current period end (2017 shape).
    #[serde(default)]
    pub current_period_end: Option<i64>,
    /// Items (one for us).
    #[serde(default)]
    pub items: List<SubscriptionItem>,
    /// The latest invoice.
    #[serde(default, deserialize_with = "expandable")]
    pub latest_invoice: Option<String>,
    /// The card charged, when set on the subscription.
    #[serde(default, deserialize_with = "expandable")]
    pub default_payment_method: Option<String>,
    /// Why it was cancelled.
    #[serde(default)]
    pub cancellation_details: Option<CancellationDetails>,
    /// Our ids (`tenant_id`).
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: HashMap<String, String>,
    /// Created.
    #[serde(default)]
    pub created: Option<i64>,
}

impl Subscription {
    /// The (first) item.
    pub fn item(&self) -> Option<&SubscriptionItem> {
        self.items.data.first()
    }

    /// The price of the (first) item.
    pub fn price(&self) -> Option<&Price> {
        self.item().and_then(SubscriptionItem::price)
    }

    /// Current period end: on the item (current API), else on the subscription (2017).
    pub fn current_period_end(&self) -> Option<i64> {
        self.item()
            .and_then(|i| i.current_period_end)
            .or(self.current_period_end)
    }

    /// Current period start, likewise.
    pub fn current_period_start(&self) -> Option<i64> {
        self.item()
            .and_then(|i| i.current_period_start)
            .or(self.current_period_start)
    }
}

/// Where an invoice or line comes from (current API).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct InvoiceParent {
    /// The subscription, for subscription invoices.
    #[serde(default)]
    pub subscription_details: Option<SubscriptionDetails>,
}

/// The subscription an invoice belongs to (current API).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SubscriptionDetails {
    /// `sub_…`.
    #[serde(default, deserialize_with = "expandable")]
    pub subscription: Option<String>,
}

/// A line's origin (current API).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LineParent {
    /// From an invoice item.
    #[serde(default)]
    pub invoice_item_details: Option<ProrationFlag>,
    /// From a subscription item.
    #[serde(default)]
    pub subscription_item_details: Option<ProrationFlag>,
}

/// Whether a line is a proration.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProrationFlag {
    /// Proration.
    #[serde(default, deserialize_with = "null_as_false")]
    pub proration: bool,
}

/// A line's period.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Period {
    /// Start.
    #[serde(default)]
    pub start: Option<i64>,
    /// End.
    #[serde(default)]
    pub end: Option<i64>,
}

/// One line of an invoice.
#[derive(Debug, Clone, Deserialize)]
pub struct InvoiceLine {
    /// Amount in the smallest unit (negative for credits).
    #[serde(default)]
    pub amount: i64,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Period covered.
    #[serde(default)]
    pub period: Option<Period>,
    /// Proration (2017 shape).
    #[serde(default)]
    pub proration: Option<bool>,
    /// Origin (current API).
    #[serde(default)]
    pub parent: Option<LineParent>,
}

impl InvoiceLine {
    /// Whether the line is a proration, in either shape.
    pub fn is_proration(&self) -> bool {
        self.proration.unwrap_or(false)
            || self.parent.as_ref().is_some_and(|p| {
                p.invoice_item_details.as_ref().is_some_and(|d| d.proration)
                    || p.subscription_item_details
                        .as_ref()
                        .is_some_and(|d| d.proration)
            })
    }
}

/// When an invoice changed state.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StatusTransitions {
    /// Paid at.
    #[serde(default)]
    pub paid_at: Option<i64>,
}

/// An invoice (or an invoice preview, whose `id` may be absent).
#[derive(Debug, Clone, Deserialize)]
pub struct Invoice {
    /// `in_…` (a preview: `upcoming_…` or null).
    #[serde(default)]
    pub id: Option<String>,
    /// Customer.
    #[serde(default, deserialize_with = "expandable")]
    pub customer: Option<String>,
    /// Subscription (2017 shape).
    #[serde(default, deserialize_with = "expandable")]
    pub subscription: Option<String>,
    /// Origin (current API).
    #[serde(default)]
    pub parent: Option<InvoiceParent>,
    /// draft, open, paid, uncollectible, void.
    #[serde(default)]
    pub status: Option<String>,
    /// Due.
    #[serde(default)]
    pub amount_due: i64,
    /// Paid.
    #[serde(default)]
    pub amount_paid: i64,
    /// Total.
    #[serde(default)]
    pub total: i64,
    /// Lowercase ISO code.
    #[serde(default)]
    pub currency: Option<String>,
    /// Created.
    #[serde(default)]
    pub created: Option<i64>,
    /// Period start.
    #[serde(default)]
    pub period_start: Option<i64>,
    /// Period end.
    #[serde(default)]
    pub period_end: Option<i64>,
    /// Stripe's page for the invoice.
    #[serde(default)]
    pub hosted_invoice_url: Option<String>,
    /// Its PDF.
    #[serde(default)]
    pub invoice_pdf: Option<String>,
    /// Invoice number.
    #[serde(default)]
    pub number: Option<String>,
    /// Next automatic payment attempt.
    #[serde(default)]
    pub next_payment_attempt: Option<i64>,
    /// Payment attempts so far.
    #[serde(default)]
    pub attempt_count: Option<i64>,
    /// Lines (the first page).
    #[serde(default)]
    pub lines: List<InvoiceLine>,
    /// When it was paid.
    #[serde(default)]
    pub status_transitions: Option<StatusTransitions>,
}

impl Invoice {
    /// Its subscription, in either shape.
    pub fn subscription_id(&self) -> Option<&str> {
        self.parent
            .as_ref()
            .and_then(|p| p.subscription_details.as_ref())
            .and_then(|d| d.subscription.as_deref())
            .or(self.subscription.as_deref())
    }
}

/// A Checkout Session.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckoutSession {
    /// `cs_…`.
    pub id: String,
    /// `subscription`, `setup`, `payment`.
    #[serde(default)]
    pub mode: Option<String>,
    /// `open`, `complete`, `expired`.
    #[serde(default)]
    pub status: Option<String>,
    /// `paid`, `unpaid`, `no_payment_required`.
    #[serde(default)]
    pub payment_status: Option<String>,
    /// Customer.
    #[serde(default, deserialize_with = "expandable")]
    pub customer: Option<String>,
    /// The subscription it made.
    #[serde(default, deserialize_with = "expandable")]
    pub subscription: Option<String>,
    /// The setup intent (setup mode).
    #[serde(default, deserialize_with = "expandable")]
    pub setup_intent: Option<String>,
    /// Where to send the customer (while open).
    #[serde(default)]
    pub url: Option<String>,
    /// Our reference.
    #[serde(default)]
    pub client_reference_id: Option<String>,
    /// Our ids.
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: HashMap<String, String>,
    /// Expiry.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// A setup intent.
#[derive(Debug, Clone, Deserialize)]
pub struct SetupIntent {
    /// `seti_…`.
    pub id: String,
    /// `succeeded`, ...
    #[serde(default)]
    pub status: Option<String>,
    /// The card saved.
    #[serde(default, deserialize_with = "expandable")]
    pub payment_method: Option<String>,
    /// Customer.
    #[serde(default, deserialize_with = "expandable")]
    pub customer: Option<String>,
}

/// A card's visible details.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Card {
    /// `visa`, ...
    #[serde(default)]
    pub brand: Option<String>,
    /// Last four digits.
    #[serde(default)]
    pub last4: Option<String>,
    /// Expiry month.
    #[serde(default)]
    pub exp_month: Option<u32>,
    /// Expiry year.
    #[serde(default)]
    pub exp_year: Option<u32>,
}

/// A payment method.
#[derive(Debug, Clone, Deserialize)]
pub struct PaymentMethod {
    /// `pm_…`.
    pub id: String,
    /// The card, for cards.
    #[serde(default)]
    pub card: Option<Card>,
    /// Customer it is attached to.
    #[serde(default, deserialize_with = "expandable")]
    pub customer: Option<String>,
}

/// The object an event is about, kept raw: the job re-reads the current object from Stripe
/// rather than trusting this copy.
#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    /// The object as it was.
    pub object: Value,
}

/// An event (webhook payload).
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    /// `evt_…`.
    pub id: String,
    /// e.g. `customer.subscription.updated`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Created (Unix seconds).
    #[serde(default)]
    pub created: Option<i64>,
    /// Live or test.
    #[serde(default, deserialize_with = "null_as_false")]
    pub livemode: bool,
    /// API version of the payload's shape.
    #[serde(default)]
    pub api_version: Option<String>,
    /// The object.
    pub data: EventData,
}

impl Event {
    /// The id of the object the event is about.
    pub fn object_id(&self) -> Option<&str> {
        self.data.object.get("id").and_then(Value::as_str)
    }

    /// The kind of that object (`subscription`, `invoice`, `checkout.session`, ...).
    pub fn object_kind(&self) -> Option<&str> {
        self.data.object.get("object").and_then(Value::as_str)
    }

    /// The customer the object belongs to (the object itself for a customer).
    pub fn customer_id(&self) -> Option<&str> {
        if self.object_kind() == Some("customer") {
            return self.object_id();
        }
        match self.data.object.get("customer") {
            Some(Value::String(s)) => Some(s),
            Some(Value::Object(o)) => o.get("id").and_then(Value::as_str),
            _ => None,
        }
    }
}

/// Stripe's error body.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ApiError,
}

/// One Stripe error.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiError {
    /// `card_error`, `invalid_request_error`, `api_error`, `idempotency_error`.
    #[serde(default, rename = "type")]
    pub type_: Option<String>,
    /// e.g. `card_declined`, `resource_missing`.
    #[serde(default)]
    pub code: Option<String>,
    /// Human-readable (card errors may be shown to the customer).
    #[serde(default)]
    pub message: Option<String>,
    /// The parameter concerned.
    #[serde(default)]
    pub param: Option<String>,
}
