//! Point of Sale helpers per Odoo version: data load, order push, session open/close.
//!
//! Wire facts: `shared/docs/odoo-protocol.md` §5 and `testdata/odoo18/pos/`.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::error::RpcError;
use crate::session::KwCaller;
use crate::version::OdooVersion;
use crate::wire::{self, many2one_id, odoo_false};

/// Order state to push: finalised (`"paid"`) or kept as a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PosOrderState {
    /// Finalised order (18+: `state: "paid"`; 16/17: `draft = false`).
    #[default]
    Paid,
    /// Draft order (18+: `state: "draft"`; 16/17: `draft = true`).
    Draft,
}

/// One order line.
#[derive(Debug, Clone, PartialEq)]
pub struct PosOrderLine {
    /// `product.product` id.
    pub product_id: i64,
    /// Quantity.
    pub qty: f64,
    /// Unit price.
    pub price_unit: f64,
    /// Line total without taxes (required by Odoo).
    pub price_subtotal: f64,
    /// Line total with taxes (required by Odoo).
    pub price_subtotal_incl: f64,
    /// Taxes, sent as `[[6, 0, ids]]` (18+) / `[[6, false, ids]]` (16/17).
    pub tax_ids: Vec<i64>,
    /// Discount in percent, sent only when set.
    pub discount: Option<f64>,
    /// Product label, sent only when set.
    pub full_product_name: Option<String>,
    /// Line uuid (17+), sent only when set.
    pub uuid: Option<String>,
    /// Extra `pos.order.line` fields sent as is (18 rejects unknown fields).
    pub extra: Map<String, Value>,
}

impl PosOrderLine {
    /// A line without taxes: subtotals are `qty * price_unit`.
    pub fn new(product_id: i64, qty: f64, price_unit: f64) -> Self {
        let total = qty * price_unit;
        PosOrderLine {
            product_id,
            qty,
            price_unit,
            price_subtotal: total,
            price_subtotal_incl: total,
            tax_ids: Vec::new(),
            discount: None,
            full_product_name: None,
            uuid: None,
            extra: Map::new(),
        }
    }

    /// Sets both subtotals (excluding / including taxes).
    pub fn subtotals(mut self, excl: f64, incl: f64) -> Self {
        self.price_subtotal = excl;
        self.price_subtotal_incl = incl;
        self
    }

    /// Sets the tax ids.
    pub fn taxes(mut self, tax_ids: Vec<i64>) -> Self {
        self.tax_ids = tax_ids;
        self
    }

    /// Sets the discount (percent).
    pub fn discount(mut self, pct: f64) -> Self {
        self.discount = Some(pct);
        self
    }

    /// Sets the line uuid.
    pub fn uuid(mut self, uuid: impl Into<String>) -> Self {
        self.uuid = Some(uuid.into());
        self
    }

    fn to_wire(&self, version: OdooVersion) -> Value {
        let mut m = Map::new();
        m.insert("product_id".into(), json!(self.product_id));
        m.insert("qty".into(), json!(self.qty));
        m.insert("price_unit".into(), json!(self.price_unit));
        m.insert("price_subtotal".into(), json!(self.price_subtotal));
        m.insert(
            "price_subtotal_incl".into(),
            json!(self.price_subtotal_incl),
        );
        let set_cmd = if version.is_18_plus() {
            json!(0)
        } else {
            json!(false)
        };
        m.insert("tax_ids".into(), json!([[6, set_cmd, self.tax_ids]]));
        match (self.discount, version.is_18_plus()) {
            (Some(d), _) => {
                m.insert("discount".into(), json!(d));
            }
            (None, false) => {
                m.insert("discount".into(), json!(0.0));
            }
            (None, true) => {}
        }
        if let Some(n) = &self.full_product_name {
            m.insert("full_product_name".into(), json!(n));
        }
        if let (Some(u), true) = (&self.uuid, version >= OdooVersion::V17) {
            m.insert("uuid".into(), json!(u));
        }
        for (k, v) in &self.extra {
            m.insert(k.clone(), v.clone());
        }
        json!([0, 0, m])
    }
}

/// One payment of an order.
#[derive(Debug, Clone, PartialEq)]
pub struct PosPayment {
    /// `pos.payment.method` id.
    pub payment_method_id: i64,
    /// Amount paid with this method.
    pub amount: f64,
    /// 16/17: payment date `"YYYY-MM-DD HH:MM:SS"` (defaults to the order date); 18+: label, sent only when set.
    pub name: Option<String>,
    /// Extra `pos.payment` fields sent as is.
    pub extra: Map<String, Value>,
}

impl PosPayment {
    /// A payment of `amount` with method `payment_method_id`.
    pub fn new(payment_method_id: i64, amount: f64) -> Self {
        PosPayment {
            payment_method_id,
            amount,
            name: None,
            extra: Map::new(),
        }
    }

    fn to_wire(&self, version: OdooVersion, date: Option<&str>) -> Value {
        let mut m = Map::new();
        m.insert("payment_method_id".into(), json!(self.payment_method_id));
        m.insert("amount".into(), json!(self.amount));
        let name = if version.is_18_plus() {
            self.name.as_deref()
        } else {
            self.name.as_deref().or(date)
        };
        if let Some(n) = name {
            m.insert("name".into(), json!(n));
        }
        for (k, v) in &self.extra {
            m.insert(k.clone(), v.clone());
        }
        json!([0, 0, m])
    }
}

/// A POS order to push, serialised per Odoo version by [`PosOrder::to_wire`].
#[derive(Debug, Clone, PartialEq)]
pub struct PosOrder {
    /// Client-generated uuid: the dedup key in 18+ (and the wrapper id / `uid` in 16/17).
    pub uuid: String,
    /// `pos.session` id.
    pub session_id: i64,
    /// Order lines.
    pub lines: Vec<PosOrderLine>,
    /// Payments.
    pub payments: Vec<PosPayment>,
    /// Total with taxes (required).
    pub amount_total: f64,
    /// Sum of payments (required).
    pub amount_paid: f64,
    /// Taxes (required).
    pub amount_tax: f64,
    /// Change given back (required).
    pub amount_return: f64,
    /// Paid or draft.
    pub state: PosOrderState,
    /// Order reference (→ `pos_reference`), always sent (default `"Order <uuid>"`; the dedup
    /// key on 16/17).
    pub name: Option<String>,
    /// `"YYYY-MM-DD HH:MM:SS"` (UTC); required for 16/17.
    pub date_order: Option<String>,
    /// Customer.
    pub partner_id: Option<i64>,
    /// Cashier user.
    pub user_id: Option<i64>,
    /// Pricelist (16 requires one on the order).
    pub pricelist_id: Option<i64>,
    /// Fiscal position.
    pub fiscal_position_id: Option<i64>,
    /// Sequence number in the session.
    pub sequence_number: Option<i64>,
    /// Ask for an invoice.
    pub to_invoice: bool,
    /// 18+: must be present (any value) when re-pushing a draft order (Odoo deletes the key).
    pub access_token: Option<String>,
    /// Extra `pos.order` fields sent as is (18 rejects unknown fields).
    pub extra: Map<String, Value>,
}

impl PosOrder {
    /// An empty paid order for `session_id` with the given uuid.
    pub fn new(uuid: impl Into<String>, session_id: i64) -> Self {
        PosOrder {
            uuid: uuid.into(),
            session_id,
            lines: Vec::new(),
            payments: Vec::new(),
            amount_total: 0.0,
            amount_paid: 0.0,
            amount_tax: 0.0,
            amount_return: 0.0,
            state: PosOrderState::Paid,
            name: None,
            date_order: None,
            partner_id: None,
            user_id: None,
            pricelist_id: None,
            fiscal_position_id: None,
            sequence_number: None,
            to_invoice: false,
            access_token: None,
            extra: Map::new(),
        }
    }

    /// Adds a line.
    pub fn line(mut self, line: PosOrderLine) -> Self {
        self.lines.push(line);
        self
    }

    /// Adds a payment.
    pub fn payment(mut self, payment: PosPayment) -> Self {
        self.payments.push(payment);
        self
    }

    /// Sets amount_total, amount_paid, amount_tax, amount_return explicitly.
    pub fn amounts(mut self, total: f64, paid: f64, tax: f64, change: f64) -> Self {
        self.amount_total = total;
        self.amount_paid = paid;
        self.amount_tax = tax;
        self.amount_return = change;
        self
    }

    /// Computes the four amounts from lines and payments (change = overpayment).
    pub fn computed_amounts(mut self) -> Self {
        let total: f64 = self.lines.iter().map(|l| l.price_subtotal_incl).sum();
        let excl: f64 = self.lines.iter().map(|l| l.price_subtotal).sum();
        let paid: f64 = self.payments.iter().map(|p| p.amount).sum();
        self.amount_total = total;
        self.amount_tax = total - excl;
        self.amount_paid = paid;
        self.amount_return = (paid - total).max(0.0);
        self
    }

    /// Sets the state.
    pub fn state(mut self, state: PosOrderState) -> Self {
        self.state = state;
        self
    }

    /// Sets the order date (`"YYYY-MM-DD HH:MM:SS"`, UTC).
    pub fn date_order(mut self, date: impl Into<String>) -> Self {
        self.date_order = Some(date.into());
        self
    }

    /// Sets the order reference.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The reference sent as the order's `name` (`name`, else `"Order <uuid>"`).
    pub fn reference(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("Order {}", self.uuid))
    }

    /// The exact value pushed for this Odoo version: a flat `pos.order` dict (18+) or a
    /// `{id, data, to_invoice}` wrapper (16/17).
    pub fn to_wire(&self, version: OdooVersion) -> Result<Value, RpcError> {
        let lines: Vec<Value> = self.lines.iter().map(|l| l.to_wire(version)).collect();
        let opt = |v: Option<i64>| v.map_or(Value::Bool(false), |i| json!(i));
        if version.is_18_plus() {
            let mut m = Map::new();
            m.insert("uuid".into(), json!(self.uuid));
            m.insert("session_id".into(), json!(self.session_id));
            m.insert("lines".into(), Value::Array(lines));
            let payments: Vec<Value> = self
                .payments
                .iter()
                .map(|p| p.to_wire(version, None))
                .collect();
            m.insert("payment_ids".into(), Value::Array(payments));
            m.insert("amount_total".into(), json!(self.amount_total));
            m.insert("amount_paid".into(), json!(self.amount_paid));
            m.insert("amount_tax".into(), json!(self.amount_tax));
            m.insert("amount_return".into(), json!(self.amount_return));
            let state = match self.state {
                PosOrderState::Paid => "paid",
                PosOrderState::Draft => "draft",
            };
            m.insert("state".into(), json!(state));
            // Odoo's own POS always sends the order's name: it becomes `pos_reference` (the
            // receipt number), and a push into a closed session reads `order['name']`
            // before it looks for an open one (`_get_valid_session`).
            m.insert("name".into(), json!(self.reference()));
            if let Some(d) = &self.date_order {
                m.insert("date_order".into(), json!(d));
            }
            for (k, v) in [
                ("partner_id", self.partner_id),
                ("user_id", self.user_id),
                ("pricelist_id", self.pricelist_id),
                ("fiscal_position_id", self.fiscal_position_id),
                ("sequence_number", self.sequence_number),
            ] {
                if let Some(v) = v {
                    m.insert(k.into(), json!(v));
                }
            }
            if self.to_invoice {
                m.insert("to_invoice".into(), json!(true));
            }
            if let Some(t) = &self.access_token {
                m.insert("access_token".into(), json!(t));
            }
            for (k, v) in &self.extra {
                m.insert(k.clone(), v.clone());
            }
            return Ok(Value::Object(m));
        }
        let date = self.date_order.as_deref().ok_or_else(|| {
            RpcError::InvalidRequest(format!(
                "order {}: date_order is required for Odoo 16/17",
                self.uuid
            ))
        })?;
        let payments: Vec<Value> = self
            .payments
            .iter()
            .map(|p| p.to_wire(version, Some(date)))
            .collect();
        let mut d = Map::new();
        d.insert("name".into(), json!(self.reference()));
        d.insert("uid".into(), json!(self.uuid));
        d.insert("pos_session_id".into(), json!(self.session_id));
        d.insert("user_id".into(), opt(self.user_id));
        d.insert("partner_id".into(), opt(self.partner_id));
        d.insert("pricelist_id".into(), opt(self.pricelist_id));
        d.insert("fiscal_position_id".into(), opt(self.fiscal_position_id));
        d.insert(
            "sequence_number".into(),
            json!(self.sequence_number.unwrap_or(0)),
        );
        d.insert("lines".into(), Value::Array(lines));
        d.insert("statement_ids".into(), Value::Array(payments));
        d.insert("amount_total".into(), json!(self.amount_total));
        d.insert("amount_paid".into(), json!(self.amount_paid));
        d.insert("amount_tax".into(), json!(self.amount_tax));
        d.insert("amount_return".into(), json!(self.amount_return));
        d.insert("to_invoice".into(), json!(self.to_invoice));
        if version == OdooVersion::V16 {
            d.insert("creation_date".into(), json!(date));
        } else {
            d.insert("date_order".into(), json!(date));
            // 17 only looks for an existing order (dedup) when the key is present.
            d.insert("server_id".into(), json!(false));
        }
        if let Some(t) = &self.access_token {
            d.insert("access_token".into(), json!(t));
        }
        for (k, v) in &self.extra {
            d.insert(k.clone(), v.clone());
        }
        Ok(json!({"id": self.uuid, "data": d, "to_invoice": self.to_invoice}))
    }
}

/// One order Odoo named in its answer to a push.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncedOrder {
    /// The uuid we sent (18+: from the answer; 16/17: matched through `pos_reference`).
    pub uuid: String,
    /// Server id of the `pos.order`.
    pub id: i64,
    /// Server name (18+) or `None`.
    pub name: Option<String>,
    /// `pos_reference` if Odoo sent one.
    pub pos_reference: Option<String>,
    /// Server state (18+), e.g. `"paid"`, `"draft"`.
    pub state: Option<String>,
    /// Invoice id, if any.
    pub account_move: Option<i64>,
}

/// The result of a push: which orders Odoo acknowledged, plus the raw answer(s).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PushResult {
    /// Orders named in Odoo's answer.
    pub orders: Vec<SyncedOrder>,
    /// Raw `result` values (one per call made).
    pub raw: Vec<Value>,
}

impl PushResult {
    /// True when Odoo's answer names this uuid (the only proof an order is synced).
    pub fn is_synced(&self, uuid: &str) -> bool {
        self.orders.iter().any(|o| o.uuid == uuid)
    }

    /// The acknowledged uuids.
    pub fn acknowledged(&self) -> Vec<&str> {
        self.orders.iter().map(|o| o.uuid.as_str()).collect()
    }

    /// The uuids of `sent` orders Odoo did not name (to retry or check).
    ///
    /// 16/17 silently skip duplicates of already-saved orders, so a retried push there
    /// leaves them here: verify with a `pos.order` search on `pos_reference`.
    pub fn missing<'o>(&self, sent: &'o [PosOrder]) -> Vec<&'o str> {
        sent.iter()
            .filter(|o| !self.is_synced(&o.uuid))
            .map(|o| o.uuid.as_str())
            .collect()
    }

    /// Parses the answer of 18+ `sync_from_ui` (`{"pos.order": [...], ...}`).
    pub fn from_sync_from_ui(result: Value) -> Result<Self, RpcError> {
        let orders = result
            .get("pos.order")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                RpcError::Decode("sync_from_ui answer has no \"pos.order\" list".into())
            })?;
        let mut out = Vec::new();
        for o in orders {
            let Some(uuid) = o.get("uuid").and_then(Value::as_str) else {
                continue;
            };
            let id = o
                .get("id")
                .and_then(Value::as_i64)
                .ok_or_else(|| RpcError::Decode(format!("pos.order {uuid} without integer id")))?;
            let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
            out.push(SyncedOrder {
                uuid: uuid.to_owned(),
                id,
                name: s("name"),
                pos_reference: s("pos_reference"),
                state: s("state"),
                account_move: o.get("account_move").and_then(many2one_id),
            });
        }
        Ok(PushResult {
            orders: out,
            raw: vec![result],
        })
    }

    /// Parses the answer of 16/17 `create_from_ui` (`[{id, pos_reference, account_move}]`),
    /// matching `pos_reference` against the orders sent.
    pub fn from_create_from_ui(result: Value, sent: &[PosOrder]) -> Result<Self, RpcError> {
        let list = result
            .as_array()
            .ok_or_else(|| RpcError::Decode("create_from_ui answer is not a list".into()))?;
        let mut out = Vec::new();
        for o in list {
            let id = o.get("id").and_then(Value::as_i64).ok_or_else(|| {
                RpcError::Decode("create_from_ui entry without integer id".into())
            })?;
            let reference = o.get("pos_reference").and_then(Value::as_str);
            let Some(order) = reference.and_then(|r| sent.iter().find(|s| s.reference() == r))
            else {
                continue;
            };
            out.push(SyncedOrder {
                uuid: order.uuid.clone(),
                id,
                name: None,
                pos_reference: reference.map(str::to_owned),
                state: None,
                account_move: o.get("account_move").and_then(many2one_id),
            });
        }
        Ok(PushResult {
            orders: out,
            raw: vec![result],
        })
    }
}

/// Answer of `post_closing_cash_details` / `close_session_from_ui`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ClosingResult {
    /// Whether the step succeeded.
    #[serde(default)]
    pub successful: bool,
    /// Why it did not.
    #[serde(default, deserialize_with = "odoo_false::option")]
    pub message: Option<String>,
    /// Whether the UI should send the user to the back end.
    #[serde(default)]
    pub redirect: bool,
    /// Draft orders blocking the close (18+).
    #[serde(default)]
    pub open_order_ids: Vec<i64>,
}

/// POS calls for one Odoo version over any [`KwCaller`] (web session or execute_kw).
#[derive(Debug, Clone, Copy)]
pub struct Pos<'a, C> {
    caller: &'a C,
    version: OdooVersion,
}

impl<'a, C: KwCaller> Pos<'a, C> {
    /// POS helpers for `version` over `caller`.
    pub fn new(caller: &'a C, version: OdooVersion) -> Self {
        Pos { caller, version }
    }

    /// The Odoo version these helpers target.
    pub fn version(&self) -> OdooVersion {
        self.version
    }

    /// Loads the POS data of a session: 16/17 `load_pos_data` args `[[id]]`; 18+ `load_data`
    /// args `[id, models]` (empty `models` = all).
    pub async fn load_data(&self, session_id: i64, models: &[&str]) -> Result<Value, RpcError> {
        if self.version.is_18_plus() {
            self.caller
                .call_kw_value(
                    "pos.session",
                    "load_data",
                    vec![json!(session_id), json!(models)],
                    Map::new(),
                    true,
                )
                .await
        } else {
            self.caller
                .call_kw_value(
                    "pos.session",
                    "load_pos_data",
                    vec![json!([session_id])],
                    Map::new(),
                    true,
                )
                .await
        }
    }

    /// Pushes orders: 18+ `pos.order.sync_from_ui([orders])` (idempotent by uuid, so retried);
    /// 16/17 `pos.order.create_from_ui([wrappers], draft)` (not retried; paid and draft orders
    /// go in separate calls).
    pub async fn push_orders(&self, orders: &[PosOrder]) -> Result<PushResult, RpcError> {
        if orders.is_empty() {
            return Ok(PushResult::default());
        }
        if self.version.is_18_plus() {
            let wire_orders = orders
                .iter()
                .map(|o| o.to_wire(self.version))
                .collect::<Result<Vec<_>, _>>()?;
            let result = self
                .caller
                .call_kw_value(
                    "pos.order",
                    "sync_from_ui",
                    vec![Value::Array(wire_orders)],
                    Map::new(),
                    true,
                )
                .await?;
            return PushResult::from_sync_from_ui(result);
        }
        let mut total = PushResult::default();
        for draft in [false, true] {
            let batch: Vec<PosOrder> = orders
                .iter()
                .filter(|o| (o.state == PosOrderState::Draft) == draft)
                .cloned()
                .collect();
            if batch.is_empty() {
                continue;
            }
            let wire_orders = batch
                .iter()
                .map(|o| o.to_wire(self.version))
                .collect::<Result<Vec<_>, _>>()?;
            let result = self
                .caller
                .call_kw_value(
                    "pos.order",
                    "create_from_ui",
                    vec![Value::Array(wire_orders), json!(draft)],
                    Map::new(),
                    false,
                )
                .await?;
            let part = PushResult::from_create_from_ui(result, &batch)?;
            total.orders.extend(part.orders);
            total.raw.extend(part.raw);
        }
        Ok(total)
    }

    /// Opens (or reuses) the config's session: `pos.config.open_ui([config])`, reads
    /// `current_session_id`, and if it is in `opening_control` calls
    /// `set_opening_control([session], cash, notes)` (16: `set_cashbox_pos`). Returns the session id.
    pub async fn open_session(
        &self,
        config_id: i64,
        opening_cash: f64,
        notes: &str,
    ) -> Result<i64, RpcError> {
        self.caller
            .call_kw_value(
                "pos.config",
                "open_ui",
                vec![json!([config_id])],
                Map::new(),
                false,
            )
            .await?;
        let mut kw = Map::new();
        kw.insert(
            "fields".into(),
            json!(["current_session_id", "current_session_state"]),
        );
        let read = self
            .caller
            .call_kw_value("pos.config", "read", vec![json!([config_id])], kw, true)
            .await?;
        let rec = read
            .as_array()
            .and_then(|a| a.first())
            .ok_or_else(|| RpcError::Unexpected(format!("pos.config {config_id} not readable")))?;
        let session_id = rec
            .get("current_session_id")
            .and_then(many2one_id)
            .ok_or_else(|| {
                RpcError::Unexpected(format!(
                    "pos.config {config_id} has no current session after open_ui"
                ))
            })?;
        let state = rec
            .get("current_session_state")
            .and_then(Value::as_str)
            .unwrap_or("");
        if state == "opening_control" {
            let method = if self.version == OdooVersion::V16 {
                "set_cashbox_pos"
            } else {
                "set_opening_control"
            };
            self.caller
                .call_kw_value(
                    "pos.session",
                    method,
                    vec![json!([session_id]), json!(opening_cash), json!(notes)],
                    Map::new(),
                    false,
                )
                .await?;
        }
        Ok(session_id)
    }

    /// Closes a session like the POS closing popup: `post_closing_cash_details(counted_cash)`
    /// (only with cash control, i.e. `counted_cash` given), `update_closing_control_state_session(notes)`,
    /// then `close_session_from_ui(bank_payment_method_diff_pairs)`.
    pub async fn close_session(
        &self,
        session_id: i64,
        counted_cash: Option<f64>,
        notes: &str,
        bank_diffs: &[(i64, f64)],
    ) -> Result<ClosingResult, RpcError> {
        if let Some(cash) = counted_cash {
            let mut kw = Map::new();
            kw.insert("counted_cash".into(), json!(cash));
            let r = self
                .caller
                .call_kw_value(
                    "pos.session",
                    "post_closing_cash_details",
                    vec![json!([session_id])],
                    kw,
                    false,
                )
                .await?;
            let r: ClosingResult = wire::from_value(r)?;
            if !r.successful {
                return Ok(r);
            }
        }
        self.caller
            .call_kw_value(
                "pos.session",
                "update_closing_control_state_session",
                vec![json!([session_id]), json!(notes)],
                Map::new(),
                false,
            )
            .await?;
        let pairs: Vec<Value> = bank_diffs.iter().map(|(pm, d)| json!([pm, d])).collect();
        let r = self
            .caller
            .call_kw_value(
                "pos.session",
                "close_session_from_ui",
                vec![json!([session_id]), Value::Array(pairs)],
                Map::new(),
                false,
            )
            .await?;
        wire::from_value(r)
    }
}
