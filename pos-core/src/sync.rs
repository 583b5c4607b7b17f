//! The exactly-once sync engine: waiting orders (and customers created offline) go to Odoo
//! in batches; an order is marked synced only when Odoo's answer names its uuid.
//!
//! One cycle ([`SyncEngine::run_cycle`]):
//! 1. customers created on the device: found by name/email/phone (a lost answer to an
//!    earlier `create` is adopted, not created twice) or created;
//! 2. orders due, oldest first, in batches: `sync_from_ui` (18+) or `create_from_ui`
//!    (16/17, then a search by reference for the orders its answer leaves out, since 16/17
//!    do not return the duplicates they skip).
//!
//! What Odoo's answer or error means, per order ([`classify`]):
//! - named in the answer → synced (with Odoo's id and name);
//! - network error, proxy 5xx, an answer we cannot read, a database conflict → the batch
//!   waits, retried with exponential backoff and jitter (Odoo 18 deduplicates by uuid, so a
//!   batch it committed before the answer was lost is not created twice);
//! - session expired (code 100) or credentials refused → stop; the cashier signs in again,
//!   nothing is lost;
//! - access error → stop with Odoo's message (a rights problem, not an order's);
//! - any other Odoo error is the payload's: Odoo 18 runs a batch in one transaction, so
//!   nothing of it was saved; the batch is split in halves until the order Odoo refuses is
//!   alone, and only that order is marked refused with Odoo's reason.

use std::future::Future;

use odoo_rpc::{KwCaller, OdooError, OdooVersion, PushResult, RpcError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::order::{Order, PartnerRef};

/// Where an order or customer is in its journey to Odoo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SyncStatus {
    /// On the device, to be sent.
    Waiting,
    /// Odoo has it.
    Synced {
        /// Odoo's record id.
        server_id: i64,
        /// Odoo's name for it (e.g. `Shop/0001`).
        server_name: Option<String>,
    },
    /// Odoo refused it; it stays on the device until the cashier retries or it is fixed.
    Refused {
        /// Odoo's reason.
        reason: String,
    },
}

/// A paid order in the device's queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedOrder {
    /// The order as paid (immutable).
    pub order: Order,
    /// Sync state.
    pub status: SyncStatus,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Not before (ms since the epoch).
    pub next_attempt_at: f64,
    /// The last failure, for the screen.
    pub last_error: Option<String>,
    /// When it was written to the device (ms since the epoch).
    pub saved_at: f64,
}

impl QueuedOrder {
    /// A freshly paid order, due at once.
    pub fn new(order: Order, now: f64) -> Self {
        QueuedOrder {
            order,
            status: SyncStatus::Waiting,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            saved_at: now,
        }
    }

    /// Back to waiting, due now (the cashier's "Retry").
    pub fn retry(&mut self, now: f64) {
        self.status = SyncStatus::Waiting;
        self.attempts = 0;
        self.next_attempt_at = now;
        self.last_error = None;
    }
}

/// A customer created on the device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct NewPartner {
    /// Name (required).
    pub name: String,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Street.
    pub street: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Zip.
    pub zip: Option<String>,
    /// VAT.
    pub vat: Option<String>,
}

impl NewPartner {
    /// The `res.partner` values to create.
    pub fn values(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name.trim()));
        for (k, v) in [
            ("email", &self.email),
            ("phone", &self.phone),
            ("street", &self.street),
            ("city", &self.city),
            ("zip", &self.zip),
            ("vat", &self.vat),
        ] {
            if let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                m.insert(k.into(), json!(v));
            }
        }
        m
    }

    /// The domain that finds this very customer (name, email and phone equal): an earlier
    /// `create` whose answer was lost is found again instead of created twice.
    pub fn same_customer_domain(&self) -> Value {
        let v = self.values();
        let field = |k: &str| v.get(k).cloned().unwrap_or(json!(false));
        json!([
            ["name", "=", field("name")],
            ["email", "=", field("email")],
            ["phone", "=", field("phone")],
        ])
    }
}

/// A customer in the device's queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedPartner {
    /// Local uuid (orders refer to it until Odoo gives an id).
    pub uuid: String,
    /// The values.
    pub partner: NewPartner,
    /// Sync state (`server_id` is the `res.partner` id).
    pub status: SyncStatus,
    /// Failed attempts.
    pub attempts: u32,
    /// Not before (ms).
    pub next_attempt_at: f64,
    /// Last failure.
    pub last_error: Option<String>,
}

/// Exponential backoff with "equal jitter": half the delay fixed, half random.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// First delay (ms).
    pub base_ms: f64,
    /// Longest delay (ms).
    pub cap_ms: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base_ms: 1_000.0,
            cap_ms: 60_000.0,
        }
    }
}

impl Backoff {
    /// Delay before attempt `attempt + 1` (`attempt` ≥ 1 failures so far); `r` in [0, 1).
    pub fn delay(&self, attempt: u32, r: f64) -> f64 {
        let exp = attempt.saturating_sub(1).min(30) as i32;
        let d = (self.base_ms * 2f64.powi(exp)).min(self.cap_ms);
        d / 2.0 + r.clamp(0.0, 1.0) * d / 2.0
    }
}

/// What a failed call means for the orders in it.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Try again later (network, proxy, unreadable answer, database conflict).
    Transient(String),
    /// The web session is gone or the credentials were refused: sign in again.
    SignIn(String),
    /// The user may not do this: stop and show Odoo's message.
    Blocked(String),
    /// Odoo refused this payload (a business error).
    Refused(String),
}

/// Classifies a failed call (see the module documentation).
pub fn classify(e: &RpcError) -> Failure {
    match e {
        RpcError::Transport(t) => {
            Failure::Transient(format!("No connection to Odoo ({})", t.message))
        }
        RpcError::Http { status, .. } => {
            Failure::Transient(format!("Odoo is unreachable (HTTP {status})"))
        }
        RpcError::Decode(m) | RpcError::Unexpected(m) => {
            Failure::Transient(format!("Odoo's answer could not be read: {m}"))
        }
        RpcError::InvalidRequest(m) => Failure::Refused(m.clone()),
        RpcError::UnknownModules(m) => Failure::Blocked(format!("unknown modules {m:?}")),
        RpcError::Odoo(o) => match o {
            OdooError::SessionExpired(_) => {
                Failure::SignIn("Your Odoo session has expired.".into())
            }
            OdooError::AccessDenied(_) => Failure::SignIn(o.message().to_owned()),
            OdooError::AccessError(_) => Failure::Blocked(o.message().to_owned()),
            // Concurrency and connection trouble in Odoo's database: the same call can
            // succeed later. Integrity errors are the payload's, so they are refusals.
            OdooError::Server { name, message, .. }
                if [
                    "OperationalError",
                    "SerializationFailure",
                    "DeadlockDetected",
                    "LockNotAvailable",
                    "InterfaceError",
                ]
                .iter()
                .any(|n| name.ends_with(n)) =>
            {
                Failure::Transient(format!("Odoo was busy ({message})"))
            }
            other => Failure::Refused(other.message().to_owned()),
        },
    }
}

/// The device's queue, as the engine needs it (IndexedDB in the browser, memory in tests).
pub trait SyncStore {
    /// Storage failure.
    type Error: std::fmt::Display;
    /// Customers waiting and due at `now`.
    fn due_partners(
        &self,
        now: f64,
    ) -> impl Future<Output = Result<Vec<QueuedPartner>, Self::Error>>;
    /// One customer by local uuid.
    fn partner(
        &self,
        uuid: &str,
    ) -> impl Future<Output = Result<Option<QueuedPartner>, Self::Error>>;
    /// Writes a customer back.
    fn put_partner(&self, partner: &QueuedPartner)
        -> impl Future<Output = Result<(), Self::Error>>;
    /// Orders waiting and due at `now`, oldest first, at most `limit`.
    fn due_orders(
        &self,
        now: f64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<QueuedOrder>, Self::Error>>;
    /// Writes orders back (status, attempts), all in one transaction.
    fn put_orders(&self, orders: &[QueuedOrder]) -> impl Future<Output = Result<(), Self::Error>>;
}

/// Why a cycle stopped early.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Stop {
    /// It did everything that was due.
    #[default]
    Done,
    /// Odoo could not be reached; retry at `retry_at` (ms) or when the network returns.
    Offline {
        /// Why.
        error: String,
        /// When the failed orders are due again.
        retry_at: f64,
    },
    /// The cashier must sign in again.
    SignIn(String),
    /// Odoo refuses this user: show the message.
    Blocked(String),
}

/// What a cycle did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CycleReport {
    /// Orders Odoo confirmed.
    pub synced: usize,
    /// Orders Odoo refused.
    pub refused: usize,
    /// Customers created or found.
    pub partners_synced: usize,
    /// Orders left for later (their customer is not in Odoo yet).
    pub deferred: usize,
    /// Calls to Odoo made.
    pub calls: usize,
    /// Why it stopped.
    pub stop: Stop,
}

/// A storage failure during a cycle (the cycle stops; nothing is marked wrongly).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the device's storage failed: {0}")]
pub struct StoreError(pub String);

/// The engine's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SyncEngine {
    /// Orders per call.
    pub batch_size: usize,
    /// Orders per cycle.
    pub max_per_cycle: usize,
    /// Retry delays.
    pub backoff: Backoff,
}

impl Default for SyncEngine {
    fn default() -> Self {
        SyncEngine {
            batch_size: 50,
            max_per_cycle: 1_000,
            backoff: Backoff::default(),
        }
    }
}

fn store_err<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError(e.to_string())
}

/// Finds the customer (same name, email, phone) or creates it; returns its id.
pub async fn create_partner<C: KwCaller>(caller: &C, p: &NewPartner) -> Result<i64, RpcError> {
    let mut kw = Map::new();
    kw.insert("fields".into(), json!(["id"]));
    kw.insert("limit".into(), json!(1));
    let found = caller
        .call_kw_value(
            "res.partner",
            "search_read",
            vec![p.same_customer_domain()],
            kw,
            true,
        )
        .await?;
    if let Some(id) = found
        .as_array()
        .and_then(|a| a.first())
        .and_then(|r| r.get("id"))
        .and_then(Value::as_i64)
    {
        return Ok(id);
    }
    let created = caller
        .call_kw_value(
            "res.partner",
            "create",
            vec![Value::Object(p.values())],
            Map::new(),
            false,
        )
        .await?;
    created
        .as_i64()
        .or_else(|| {
            created
                .as_array()
                .and_then(|a| a.first())
                .and_then(Value::as_i64)
        })
        .ok_or_else(|| RpcError::Unexpected(format!("res.partner.create answered {created}")))
}

impl SyncEngine {
    fn fail(&self, q: &mut QueuedOrder, now: f64, error: &str, r: f64) -> f64 {
        q.attempts += 1;
        q.next_attempt_at = now + self.backoff.delay(q.attempts, r);
        q.last_error = Some(error.to_owned());
        q.next_attempt_at
    }

    /// Runs one cycle. `rand` gives numbers in [0, 1) for the jitter; `now` is ms since the
    /// epoch.
    pub async fn run_cycle<S: SyncStore, C: KwCaller>(
        &self,
        store: &S,
        caller: &C,
        version: OdooVersion,
        now: f64,
        rand: &mut dyn FnMut() -> f64,
    ) -> Result<CycleReport, StoreError> {
        let mut report = CycleReport::default();

        for mut p in store.due_partners(now).await.map_err(store_err)? {
            report.calls += 1;
            match create_partner(caller, &p.partner).await {
                Ok(id) => {
                    p.status = SyncStatus::Synced {
                        server_id: id,
                        server_name: Some(p.partner.name.clone()),
                    };
                    p.last_error = None;
                    report.partners_synced += 1;
                }
                Err(e) => match classify(&e) {
                    Failure::Transient(m) => {
                        p.attempts += 1;
                        p.next_attempt_at = now + self.backoff.delay(p.attempts, rand());
                        p.last_error = Some(m.clone());
                        store.put_partner(&p).await.map_err(store_err)?;
                        report.stop = Stop::Offline {
                            error: m,
                            retry_at: p.next_attempt_at,
                        };
                        return Ok(report);
                    }
                    Failure::SignIn(m) => {
                        report.stop = Stop::SignIn(m);
                        return Ok(report);
                    }
                    Failure::Blocked(m) => {
                        report.stop = Stop::Blocked(m);
                        return Ok(report);
                    }
                    Failure::Refused(m) => {
                        p.status = SyncStatus::Refused { reason: m.clone() };
                        p.last_error = Some(m);
                    }
                },
            }
            store.put_partner(&p).await.map_err(store_err)?;
        }

        let due = store
            .due_orders(now, self.max_per_cycle)
            .await
            .map_err(store_err)?;
        // Resolve customers created on the device.
        let mut ready: Vec<(QueuedOrder, Option<i64>)> = Vec::new();
        let mut blocked: Vec<QueuedOrder> = Vec::new();
        for mut q in due {
            let partner_id = match &q.order.partner {
                None => None,
                Some(PartnerRef::Known { id, .. }) => Some(*id),
                Some(PartnerRef::Local { uuid, name }) => {
                    match store.partner(uuid).await.map_err(store_err)? {
                        Some(QueuedPartner {
                            status: SyncStatus::Synced { server_id, .. },
                            ..
                        }) => Some(server_id),
                        Some(QueuedPartner {
                            status: SyncStatus::Waiting,
                            ..
                        }) => {
                            report.deferred += 1;
                            continue;
                        }
                        Some(QueuedPartner {
                            status: SyncStatus::Refused { reason },
                            ..
                        }) => {
                            let why = format!(
                                "The customer {name} could not be created in Odoo: {reason}"
                            );
                            q.status = SyncStatus::Refused {
                                reason: why.clone(),
                            };
                            q.last_error = Some(why);
                            report.refused += 1;
                            blocked.push(q);
                            continue;
                        }
                        None => {
                            let why =
                                format!("The customer {name} is not on this device any more.");
                            q.status = SyncStatus::Refused {
                                reason: why.clone(),
                            };
                            q.last_error = Some(why);
                            report.refused += 1;
                            blocked.push(q);
                            continue;
                        }
                    }
                }
            };
            ready.push((q, partner_id));
        }
        if !blocked.is_empty() {
            store.put_orders(&blocked).await.map_err(store_err)?;
        }

        let pos = caller.pos(version);
        let mut chunks: Vec<Vec<(QueuedOrder, Option<i64>)>> = Vec::new();
        let mut it = ready.into_iter().peekable();
        while it.peek().is_some() {
            chunks.push(it.by_ref().take(self.batch_size.max(1)).collect());
        }
        for chunk in chunks {
            // Depth-first halving of a refused batch; the first half goes first.
            let mut stack = vec![chunk];
            while let Some(mut part) = stack.pop() {
                let wire: Vec<_> = part
                    .iter()
                    .map(|(q, pid)| q.order.to_pos_order(*pid))
                    .collect();
                report.calls += 1;
                let result = pos.push_orders(&wire).await;
                let result = match result {
                    Ok(r) if version < OdooVersion::V18 => {
                        report.calls += 1;
                        verify_by_reference(caller, r, &wire).await
                    }
                    other => other,
                };
                match result {
                    Ok(answer) => {
                        for (q, _) in part.iter_mut() {
                            match answer.orders.iter().find(|o| o.uuid == q.order.uuid) {
                                Some(o) => {
                                    q.status = SyncStatus::Synced {
                                        server_id: o.id,
                                        server_name: o
                                            .name
                                            .clone()
                                            .or_else(|| o.pos_reference.clone()),
                                    };
                                    q.last_error = None;
                                    report.synced += 1;
                                }
                                None => {
                                    self.fail(q, now, "Odoo's answer did not name this order; it will be sent again.", rand());
                                }
                            }
                        }
                        let done: Vec<QueuedOrder> = part.into_iter().map(|(q, _)| q).collect();
                        store.put_orders(&done).await.map_err(store_err)?;
                    }
                    Err(e) => match classify(&e) {
                        Failure::Transient(m) => {
                            let mut retry_at = now;
                            for (q, _) in part.iter_mut() {
                                retry_at = self.fail(q, now, &m, rand());
                            }
                            let failed: Vec<QueuedOrder> =
                                part.into_iter().map(|(q, _)| q).collect();
                            store.put_orders(&failed).await.map_err(store_err)?;
                            report.stop = Stop::Offline { error: m, retry_at };
                            return Ok(report);
                        }
                        Failure::SignIn(m) => {
                            report.stop = Stop::SignIn(m);
                            return Ok(report);
                        }
                        Failure::Blocked(m) => {
                            report.stop = Stop::Blocked(m);
                            return Ok(report);
                        }
                        Failure::Refused(m) if part.len() > 1 => {
                            let second = part.split_off(part.len() / 2);
                            stack.push(second);
                            stack.push(part);
                            let _ = m;
                        }
                        Failure::Refused(m) => {
                            for (q, _) in part.iter_mut() {
                                q.status = SyncStatus::Refused { reason: m.clone() };
                                q.last_error = Some(m.clone());
                                report.refused += 1;
                            }
                            let refused: Vec<QueuedOrder> =
                                part.into_iter().map(|(q, _)| q).collect();
                            store.put_orders(&refused).await.map_err(store_err)?;
                        }
                    },
                }
            }
        }
        Ok(report)
    }
}

/// 16/17 leave the orders they skipped as duplicates out of their answer: look them up by
/// reference, and count those found as synced.
async fn verify_by_reference<C: KwCaller>(
    caller: &C,
    mut answer: PushResult,
    sent: &[odoo_rpc::PosOrder],
) -> Result<PushResult, RpcError> {
    let missing: Vec<&odoo_rpc::PosOrder> =
        sent.iter().filter(|o| !answer.is_synced(&o.uuid)).collect();
    if missing.is_empty() {
        return Ok(answer);
    }
    let refs: Vec<String> = missing.iter().map(|o| o.reference()).collect();
    let mut kw = Map::new();
    kw.insert("fields".into(), json!(["id", "pos_reference"]));
    let found = caller
        .call_kw_value(
            "pos.order",
            "search_read",
            vec![json!([["pos_reference", "in", refs]])],
            kw,
            true,
        )
        .await?;
    for rec in found.as_array().into_iter().flatten() {
        let (Some(id), Some(reference)) = (
            rec.get("id").and_then(Value::as_i64),
            rec.get("pos_reference").and_then(Value::as_str),
        ) else {
            continue;
        };
        if let Some(o) = missing.iter().find(|o| o.reference() == reference) {
            answer.orders.push(odoo_rpc::SyncedOrder {
                uuid: o.uuid.clone(),
                id,
                name: None,
                pos_reference: Some(reference.to_owned()),
                state: None,
                account_move: None,
            });
        }
    }
    Ok(answer)
}

/// A queue in memory: the engine's test double and the benchmark's store.
pub mod memory {
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::convert::Infallible;

    use super::*;

    /// Orders and customers in two maps.
    #[derive(Debug, Default)]
    pub struct MemStore {
        /// Orders by uuid.
        pub orders: RefCell<BTreeMap<String, QueuedOrder>>,
        /// Customers by uuid.
        pub partners: RefCell<BTreeMap<String, QueuedPartner>>,
    }

    impl MemStore {
        /// Adds (or replaces) an order.
        pub fn add(&self, q: QueuedOrder) {
            self.orders.borrow_mut().insert(q.order.uuid.clone(), q);
        }

        /// Orders in a status matching `pred`.
        pub fn count(&self, pred: impl Fn(&SyncStatus) -> bool) -> usize {
            self.orders
                .borrow()
                .values()
                .filter(|q| pred(&q.status))
                .count()
        }
    }

    impl SyncStore for MemStore {
        type Error = Infallible;

        async fn due_partners(&self, now: f64) -> Result<Vec<QueuedPartner>, Infallible> {
            Ok(self
                .partners
                .borrow()
                .values()
                .filter(|p| p.status == SyncStatus::Waiting && p.next_attempt_at <= now)
                .cloned()
                .collect())
        }

        async fn partner(&self, uuid: &str) -> Result<Option<QueuedPartner>, Infallible> {
            Ok(self.partners.borrow().get(uuid).cloned())
        }

        async fn put_partner(&self, partner: &QueuedPartner) -> Result<(), Infallible> {
            self.partners
                .borrow_mut()
                .insert(partner.uuid.clone(), partner.clone());
            Ok(())
        }

        async fn due_orders(&self, now: f64, limit: usize) -> Result<Vec<QueuedOrder>, Infallible> {
            let mut v: Vec<QueuedOrder> = self
                .orders
                .borrow()
                .values()
                .filter(|q| q.status == SyncStatus::Waiting && q.next_attempt_at <= now)
                .cloned()
                .collect();
            v.sort_by(|a, b| a.saved_at.total_cmp(&b.saved_at));
            v.truncate(limit);
            Ok(v)
        }

        async fn put_orders(&self, orders: &[QueuedOrder]) -> Result<(), Infallible> {
            let mut m = self.orders.borrow_mut();
            for q in orders {
                m.insert(q.order.uuid.clone(), q.clone());
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        let b = Backoff::default();
        assert_eq!(b.delay(1, 0.0), 500.0);
        assert_eq!(b.delay(1, 1.0), 1_000.0);
        assert_eq!(b.delay(3, 0.5), 3_000.0);
        assert_eq!(b.delay(20, 0.0), 30_000.0);
        assert_eq!(b.delay(20, 0.99), 59_700.0);
        assert_eq!(b.delay(u32::MAX, 1.0), 60_000.0);
    }

    #[test]
    fn classification_of_failures() {
        use odoo_rpc::{ErrorPayload, TransportError, TransportErrorKind};
        let odoo = |name: &str, code: i64| {
            RpcError::Odoo(OdooError::from_payload(ErrorPayload {
                code,
                name: name.into(),
                message: "m".into(),
                ..ErrorPayload::default()
            }))
        };
        assert!(matches!(
            classify(&RpcError::Transport(TransportError::new(
                TransportErrorKind::Connect,
                "x"
            ))),
            Failure::Transient(_)
        ));
        assert!(matches!(
            classify(&RpcError::Http {
                status: 502,
                body: String::new()
            }),
            Failure::Transient(_)
        ));
        assert!(matches!(
            classify(&odoo("odoo.http.SessionExpiredException", 100)),
            Failure::SignIn(_)
        ));
        assert!(matches!(
            classify(&odoo("odoo.exceptions.AccessDenied", 200)),
            Failure::SignIn(_)
        ));
        assert!(matches!(
            classify(&odoo("odoo.exceptions.AccessError", 200)),
            Failure::Blocked(_)
        ));
        assert!(matches!(
            classify(&odoo("psycopg2.errors.SerializationFailure", 200)),
            Failure::Transient(_)
        ));
        assert!(matches!(
            classify(&odoo("psycopg2.errors.ForeignKeyViolation", 200)),
            Failure::Refused(_)
        ));
        assert_eq!(
            classify(&odoo("odoo.exceptions.UserError", 200)),
            Failure::Refused("m".into())
        );
        assert_eq!(
            classify(&odoo("builtins.KeyError", 200)),
            Failure::Refused("m".into())
        );
    }

    #[test]
    fn partner_values_and_domain_skip_blanks() {
        let p = NewPartner {
            name: " Ann ".into(),
            email: Some("ann@x.test".into()),
            phone: Some("  ".into()),
            ..NewPartner::default()
        };
        assert_eq!(
            Value::Object(p.values()),
            json!({"name": "Ann", "email": "ann@x.test"})
        );
        assert_eq!(
            p.same_customer_domain(),
            json!([
                ["name", "=", "Ann"],
                ["email", "=", "ann@x.test"],
                ["phone", "=", false]
            ])
        );
    }
}
