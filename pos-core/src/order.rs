//! The order a cashier builds: lines, customer, notes, payments, and its totals computed as
//! Odoo 18's POS computes them (`pos_order.js` `taxTotals`, `pos_order_line.js`
//! `get_all_prices`), then the exact `pos.order` values sent to Odoo.

use odoo_rpc::{PosOrder, PosOrderLine, PosPayment};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map};

use crate::money::{round_decimals, Currency};
use crate::tax::{
    add_tax_details_in_base_line, round_base_lines_tax_details, single_line, tax_totals_summary,
    BaseLine, Tax, TaxCompany, TaxGroupTotal,
};

/// A random (version 4) UUID from 16 random bytes.
pub fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Odoo's order reference: `Order <session 5 digits>-<login number 3>-<sequence 4>`
/// (`pos_store.js generate_unique_id`). Two devices of one session have different login
/// numbers, so their references never collide.
pub fn order_reference(session_id: i64, login_number: i64, sequence_number: i64) -> String {
    format!("Order {session_id:05}-{login_number:03}-{sequence_number:04}")
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderLine {
    /// The line's uuid (Odoo 18 keeps it).
    pub uuid: String,
    /// `product.product` id.
    pub product_id: i64,
    /// Name as shown and sent (`full_product_name`).
    pub product_name: String,
    /// Quantity.
    pub qty: f64,
    /// Unit price as the cashier sees it in the catalogue (tax included if the tax is).
    pub price_unit: f64,
    /// Discount in percent.
    pub discount: f64,
    /// The taxes at the time the line was added (a later catalogue refresh does not change
    /// an open order's total behind the cashier's back).
    pub taxes: Vec<Tax>,
    /// Note printed for the customer (`customer_note`).
    #[serde(default)]
    pub note: String,
}

/// One payment of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    /// The payment's uuid.
    pub uuid: String,
    /// `pos.payment.method` id.
    pub method_id: i64,
    /// Method name (for the screen and receipt).
    pub method_name: String,
    /// Cash (can give change).
    pub is_cash: bool,
    /// Amount tendered with this method.
    pub amount: f64,
}

/// The customer of an order: one Odoo knows, or one created on this device and not yet
/// synced (its id is known only after the sync engine created it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PartnerRef {
    /// `res.partner` id in Odoo.
    Known {
        /// Id.
        id: i64,
        /// Name.
        name: String,
    },
    /// Created on this device, identified by its local uuid.
    Local {
        /// The local customer's uuid.
        uuid: String,
        /// Name.
        name: String,
    },
}

impl PartnerRef {
    /// The customer's name.
    pub fn name(&self) -> &str {
        match self {
            PartnerRef::Known { name, .. } | PartnerRef::Local { name, .. } => name,
        }
    }
}

/// The state of an order on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderState {
    /// Being built.
    Open,
    /// Paid: immutable, waiting for (or done with) the sync.
    Paid,
}

/// An order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// Given when the order starts; Odoo's duplicate check (18) is on it.
    pub uuid: String,
    /// `Order 00012-003-0004`.
    pub reference: String,
    /// Sequence number of this device in the session.
    pub sequence_number: i64,
    /// `pos.session` id.
    pub session_id: i64,
    /// `pos.config` id.
    pub config_id: i64,
    /// The cashier (`res.users` id).
    pub user_id: Option<i64>,
    /// When the order was started (UTC, `YYYY-MM-DD HH:MM:SS`).
    pub created_at: String,
    /// When it was paid (UTC); the `date_order` sent to Odoo.
    pub paid_at: Option<String>,
    /// Lines.
    pub lines: Vec<OrderLine>,
    /// Payments.
    pub payments: Vec<Payment>,
    /// Customer.
    pub partner: Option<PartnerRef>,
    /// Order note (`general_note`).
    #[serde(default)]
    pub note: String,
    /// Open or paid.
    pub state: OrderState,
    /// Currency of the shop.
    pub currency: Currency,
    /// Tax rounding of the company.
    pub tax_company: TaxCompany,
    /// Prices shown with taxes.
    pub prices_include_tax: bool,
}

/// A line's prices (`get_all_prices`): the line computed alone, as Odoo's POS stores it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinePrices {
    /// Total without taxes (`price_subtotal`).
    pub excluded: f64,
    /// Total with taxes (`price_subtotal_incl`).
    pub included: f64,
}

/// An order's totals as the screen shows them and Odoo stores them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OrderTotals {
    /// Total with taxes (`amount_total`).
    pub total: f64,
    /// Taxes (`amount_tax`).
    pub tax: f64,
    /// Untaxed amount.
    pub untaxed: f64,
    /// Sum of the payments (`amount_paid`).
    pub paid: f64,
    /// Still to pay (negative when overpaid).
    pub remaining: f64,
    /// Change to give back (`amount_return`), 0 when not overpaid.
    pub change: f64,
    /// Taxes per tax group, for the receipt.
    pub groups: Vec<TaxGroupTotal>,
}

/// Why an order cannot be paid yet.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PayError {
    /// No lines.
    #[error("The order is empty.")]
    Empty,
    /// Payments do not cover the total.
    #[error("{0} is still to be paid.")]
    NotFullyPaid(String),
    /// Overpaid without any cash payment (card payments cannot give change).
    #[error("Only cash can give change: lower the card amount to {0}.")]
    ChangeWithoutCash(String),
    /// A product of the order is no longer for sale.
    #[error("{0} is no longer sold in Odoo: remove it from the order.")]
    ProductUnavailable(String),
}

/// Values of a new order.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// uuid.
    pub uuid: String,
    /// `pos.session` id.
    pub session_id: i64,
    /// `pos.config` id.
    pub config_id: i64,
    /// This device's login number in the session.
    pub login_number: i64,
    /// This device's next sequence number in the session.
    pub sequence_number: i64,
    /// Cashier.
    pub user_id: Option<i64>,
    /// Now (UTC, `YYYY-MM-DD HH:MM:SS`).
    pub now: String,
    /// Currency.
    pub currency: Currency,
    /// Tax rounding.
    pub tax_company: TaxCompany,
    /// Prices shown with taxes.
    pub prices_include_tax: bool,
}

impl Order {
    /// An empty open order.
    pub fn new(v: NewOrder) -> Self {
        Order {
            reference: order_reference(v.session_id, v.login_number, v.sequence_number),
            uuid: v.uuid,
            sequence_number: v.sequence_number,
            session_id: v.session_id,
            config_id: v.config_id,
            user_id: v.user_id,
            created_at: v.now,
            paid_at: None,
            lines: Vec::new(),
            payments: Vec::new(),
            partner: None,
            note: String::new(),
            state: OrderState::Open,
            currency: v.currency,
            tax_company: v.tax_company,
            prices_include_tax: v.prices_include_tax,
        }
    }

    /// Adds `qty` of a product: merges into the last line of the same product at the same
    /// price without discount or note, as Odoo's POS does, else appends a line. Returns the
    /// index of the line.
    pub fn add_product(&mut self, line: OrderLine) -> usize {
        if let Some((i, last)) = self.lines.iter_mut().enumerate().next_back() {
            if last.product_id == line.product_id
                && last.price_unit == line.price_unit
                && last.discount == 0.0
                && line.discount == 0.0
                && last.note.is_empty()
                && line.note.is_empty()
                && last.taxes == line.taxes
            {
                last.qty = round_decimals(last.qty + line.qty, 3);
                return i;
            }
        }
        self.lines.push(line);
        self.lines.len() - 1
    }

    fn base_line(&self, line: &OrderLine, sign: f64) -> BaseLine {
        BaseLine::new(
            line.price_unit,
            sign * line.qty,
            line.discount,
            line.taxes.clone(),
            self.currency.clone(),
        )
    }

    /// A line's prices computed alone (what Odoo's POS sends as `price_subtotal(_incl)`).
    pub fn line_prices(&self, line: &OrderLine) -> LinePrices {
        let l = single_line(self.base_line(line, 1.0), &self.tax_company);
        LinePrices {
            excluded: l.tax_details.total_excluded_currency,
            included: l.tax_details.total_included_currency,
        }
    }

    /// The price shown for a line (with or without taxes, as the shop is set).
    pub fn line_display_price(&self, line: &OrderLine) -> f64 {
        let p = self.line_prices(line);
        if self.prices_include_tax {
            p.included
        } else {
            p.excluded
        }
    }

    /// `taxTotals` of `pos_order.js` (without cash rounding): the document computed as one
    /// (round globally spreads its rounding across lines), then the payments.
    pub fn totals(&self) -> OrderTotals {
        let dp = self.currency.decimal_places;
        // All lines negative: a refund, computed positive and signed back.
        let sign = if self.lines.is_empty()
            || !self.lines.iter().all(|l| round_decimals(l.qty, dp) < 0.0)
        {
            1.0
        } else {
            -1.0
        };
        let mut base_lines: Vec<BaseLine> =
            self.lines.iter().map(|l| self.base_line(l, sign)).collect();
        for bl in base_lines.iter_mut() {
            add_tax_details_in_base_line(bl, &self.tax_company);
        }
        round_base_lines_tax_details(&mut base_lines, &self.tax_company);
        let summary = tax_totals_summary(&base_lines);
        let order_total = summary.total_amount_currency;
        let mut remaining = order_total;
        for p in &self.payments {
            remaining -= sign * p.amount;
        }
        let paid = self
            .currency
            .round(self.payments.iter().fold(0.0, |a, p| a + p.amount));
        let change = -sign * remaining;
        // The summary's total is a float sum of rounded amounts (3.5700000000000003): round it
        // to the currency, as Odoo's `_compute_prices` stores it and as the screen shows it.
        let cur = &self.currency;
        OrderTotals {
            total: cur.round(sign * order_total),
            tax: cur.round(sign * summary.tax_amount_currency),
            untaxed: cur.round(sign * summary.base_amount_currency),
            paid,
            remaining: sign * remaining,
            change: if self.currency.is_zero(change) || change < 0.0 {
                0.0
            } else {
                self.currency.round(change)
            },
            groups: summary.groups,
        }
    }

    /// What a new payment with this method should default to: what is still due.
    pub fn amount_due(&self) -> f64 {
        let t = self.totals();
        if t.remaining > 0.0 {
            self.currency.round(t.remaining)
        } else {
            0.0
        }
    }

    /// Checks the order can be paid now (`_isOrderValid` of Odoo's payment screen).
    pub fn check_payable(
        &self,
        is_for_sale: impl Fn(i64) -> bool,
    ) -> Result<OrderTotals, PayError> {
        if self.lines.is_empty() {
            return Err(PayError::Empty);
        }
        if let Some(l) = self.lines.iter().find(|l| !is_for_sale(l.product_id)) {
            return Err(PayError::ProductUnavailable(l.product_name.clone()));
        }
        let t = self.totals();
        if t.remaining > 0.0 && !self.currency.is_zero(t.remaining) {
            return Err(PayError::NotFullyPaid(self.currency.format(t.remaining)));
        }
        if t.change > 0.0 && !self.payments.iter().any(|p| p.is_cash) {
            return Err(PayError::ChangeWithoutCash(self.currency.format(t.total)));
        }
        Ok(t)
    }

    /// The `pos.order` values for Odoo (the per-version wire shape is odoo-rpc's business).
    /// `partner_id` is the customer's Odoo id (a local customer is created first).
    pub fn to_pos_order(&self, partner_id: Option<i64>) -> PosOrder {
        let totals = self.totals();
        let mut o = PosOrder::new(self.uuid.clone(), self.session_id)
            .name(self.reference.clone())
            .date_order(
                self.paid_at
                    .clone()
                    .unwrap_or_else(|| self.created_at.clone()),
            )
            .amounts(totals.total, totals.paid, totals.tax, totals.change);
        o.user_id = self.user_id;
        o.partner_id = partner_id;
        o.sequence_number = Some(self.sequence_number);
        if !self.note.trim().is_empty() {
            o.extra.insert("general_note".into(), json!(self.note));
        }
        for l in &self.lines {
            let prices = self.line_prices(l);
            let mut line = PosOrderLine::new(l.product_id, l.qty, l.price_unit)
                .subtotals(prices.excluded, prices.included)
                .taxes(l.taxes.iter().map(|t| t.id).collect())
                .uuid(l.uuid.clone());
            if l.discount != 0.0 {
                line = line.discount(l.discount);
            }
            line.full_product_name = Some(l.product_name.clone());
            if !l.note.trim().is_empty() {
                line.extra.insert("customer_note".into(), json!(l.note));
            }
            o = o.line(line);
        }
        for p in &self.payments {
            let mut pay = PosPayment::new(p.method_id, p.amount);
            let mut extra = Map::new();
            extra.insert("uuid".into(), json!(p.uuid));
            pay.extra = extra;
            o = o.payment(pay);
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tax::{AmountType, TaxRounding};

    fn company(rounding: TaxRounding) -> TaxCompany {
        TaxCompany {
            rounding,
            currency: Currency::default(),
            fiscal_country_code: None,
        }
    }

    fn order(rounding: TaxRounding) -> Order {
        Order::new(NewOrder {
            uuid: "u".into(),
            session_id: 12,
            config_id: 1,
            login_number: 3,
            sequence_number: 4,
            user_id: Some(2),
            now: "2026-12-01 10:00:00".into(),
            currency: Currency::default(),
            tax_company: company(rounding),
            prices_include_tax: true,
        })
    }

    fn line(product: i64, qty: f64, price: f64, taxes: Vec<Tax>) -> OrderLine {
        OrderLine {
            uuid: format!("l{product}-{qty}"),
            product_id: product,
            product_name: format!("P{product}"),
            qty,
            price_unit: price,
            discount: 0.0,
            taxes,
            note: String::new(),
        }
    }

    #[test]
    fn reference_is_odoo_shaped() {
        assert_eq!(order_reference(12, 3, 4), "Order 00012-003-0004");
        assert_eq!(
            order(TaxRounding::PerLine).reference,
            "Order 00012-003-0004"
        );
    }

    #[test]
    fn uuid_v4_sets_version_and_variant() {
        let u = uuid_v4([0xff; 16]);
        assert_eq!(u, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_eq!(uuid_v4([0; 16]), "00000000-0000-4000-8000-000000000000");
    }

    #[test]
    fn same_product_merges_unless_discounted() {
        let mut o = order(TaxRounding::PerLine);
        o.add_product(line(2, 1.0, 2.5, vec![]));
        o.add_product(line(2, 1.0, 2.5, vec![]));
        assert_eq!(o.lines.len(), 1);
        assert_eq!(o.lines[0].qty, 2.0);
        o.lines[0].discount = 10.0;
        o.add_product(line(2, 1.0, 2.5, vec![]));
        assert_eq!(o.lines.len(), 2);
    }

    #[test]
    fn round_globally_totals_differ_from_per_line_as_in_odoo() {
        // The example of account_tax.js: two lines 12.12 x 12.12 at 23%. Per line the base is
        // rounded first (146.89, tax 33.78 each); globally the document's 293.7888 and
        // 67.5714 are rounded once and the error spread back on the lines.
        let tax = Tax::percent(1, 23.0);
        for (rounding, want_tax, want_base) in [
            (TaxRounding::PerLine, 67.56, 293.78),
            (TaxRounding::Globally, 67.57, 293.79),
        ] {
            let mut o = order(rounding);
            o.lines.push(line(2, 12.12, 12.12, vec![tax.clone()]));
            o.lines.push(line(3, 12.12, 12.12, vec![tax.clone()]));
            let t = o.totals();
            assert!((t.tax - want_tax).abs() < 1e-9, "{rounding:?}: {}", t.tax);
            assert!(
                (t.untaxed - want_base).abs() < 1e-9,
                "{rounding:?}: {}",
                t.untaxed
            );
            assert!((t.total - (t.untaxed + t.tax)).abs() < 1e-9);
        }
    }

    #[test]
    fn cash_change_and_card_rules() {
        let mut o = order(TaxRounding::PerLine);
        o.lines
            .push(line(2, 3.0, 2.35, vec![Tax::percent(1, 15.0)]));
        let t = o.totals();
        // 7.05 + 15% = 1.0575 → 1.06 of tax.
        assert!((t.total - 8.11).abs() < 1e-9, "{}", t.total);
        assert_eq!(
            o.check_payable(|_| true).unwrap_err(),
            PayError::NotFullyPaid("$\u{a0}8.11".into())
        );
        o.payments.push(Payment {
            uuid: "p1".into(),
            method_id: 2,
            method_name: "Card".into(),
            is_cash: false,
            amount: 10.0,
        });
        assert!(matches!(
            o.check_payable(|_| true),
            Err(PayError::ChangeWithoutCash(_))
        ));
        o.payments[0].is_cash = true;
        let t = o.check_payable(|_| true).unwrap();
        assert!((t.change - 1.89).abs() < 1e-9);
        assert!((t.paid - 10.0).abs() < 1e-9);
        assert!(matches!(
            o.check_payable(|id| id != 2),
            Err(PayError::ProductUnavailable(_))
        ));
    }

    #[test]
    fn price_included_tax_and_discount() {
        let mut tax = Tax::percent(1, 21.0);
        tax.price_include = true;
        let mut o = order(TaxRounding::PerLine);
        let mut l = line(2, 1.0, 11.90, vec![tax]);
        l.discount = 10.0;
        o.lines.push(l);
        let t = o.totals();
        // 11.90 * 0.9 = 10.71 incl.; 10.71 / 1.21 = 8.85 excl.
        assert!((t.total - 10.71).abs() < 1e-9, "{}", t.total);
        assert!((t.untaxed - 8.85).abs() < 1e-9, "{}", t.untaxed);
        let p = o.line_prices(&o.lines[0]);
        assert!((p.included - 10.71).abs() < 1e-9 && (p.excluded - 8.85).abs() < 1e-9);
    }

    #[test]
    fn totals_are_currency_amounts_without_float_noise() {
        // 3.10 + 15% = 3.10 + 0.47, which f64 adds to 3.5700000000000003: the till shows,
        // sends and compares the total Odoo stores, 3.57.
        let mut o = order(TaxRounding::PerLine);
        o.lines
            .push(line(2, 1.0, 3.10, vec![Tax::percent(1, 15.0)]));
        let t = o.totals();
        assert_eq!(t.total, 3.57);
        assert_eq!(t.tax, 0.47);
        assert_eq!(t.untaxed, 3.10);
        assert_eq!(o.to_pos_order(None).amount_total, 3.57);
    }

    #[test]
    fn refund_order_is_signed() {
        let mut o = order(TaxRounding::PerLine);
        o.lines
            .push(line(2, -2.0, 5.0, vec![Tax::percent(1, 10.0)]));
        let t = o.totals();
        assert!((t.total + 11.0).abs() < 1e-9, "{}", t.total);
        assert!((t.tax + 1.0).abs() < 1e-9);
    }

    #[test]
    fn wire_order_carries_what_the_screen_showed() {
        let mut o = order(TaxRounding::PerLine);
        let mut l = line(2, 2.0, 2.5, vec![Tax::percent(7, 15.0)]);
        l.note = "no sugar".into();
        o.lines.push(l);
        o.note = "table 4".into();
        o.payments.push(Payment {
            uuid: "p".into(),
            method_id: 1,
            method_name: "Cash".into(),
            is_cash: true,
            amount: 10.0,
        });
        o.paid_at = Some("2026-12-01 10:01:00".into());
        let w = o.to_pos_order(Some(9));
        assert_eq!(w.amount_total, 5.75);
        assert_eq!(w.amount_tax, 0.75);
        assert_eq!(w.amount_paid, 10.0);
        assert_eq!(w.amount_return, 4.25);
        assert_eq!(w.name.as_deref(), Some("Order 00012-003-0004"));
        assert_eq!(w.partner_id, Some(9));
        assert_eq!(w.lines[0].tax_ids, vec![7]);
        assert_eq!(w.lines[0].price_subtotal_incl, 5.75);
        assert_eq!(w.lines[0].extra["customer_note"], "no sugar");
        assert_eq!(w.extra["general_note"], "table 4");
        let v = w.to_wire(odoo_rpc::OdooVersion::V18).unwrap();
        assert_eq!(v["date_order"], "2026-12-01 10:01:00");
        assert_eq!(v["payment_ids"][0][2]["uuid"], "p");
        let _ = AmountType::Percent;
    }
}
