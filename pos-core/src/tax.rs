//! Taxes computed exactly as Odoo 18 computes them.
//!
//! A port of `addons/account/static/src/helpers/account_tax.js` (18.0), the code Odoo's own
//! POS runs in the browser and the mirror of `account_tax.py`: `flatten_taxes_and_sort_them`,
//! `batch_for_taxes_computation`, `propagate_extra_taxes_base`, `get_tax_details`,
//! `add_tax_details_in_base_line`, `round_base_lines_tax_details` and the parts of
//! `get_tax_totals_summary` a till needs. The functions keep Odoo's names and their order
//! of floating-point operations, so a total here is the total Odoo's POS would show.
//!
//! Not ported: `code` (Python formula) taxes, manual tax amounts, multi-currency rates (the
//! POS passes none), and the cash-rounding strategies of the summary.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::money::{float_is_zero, js_round, round_precision, Currency, RoundingMethod};

/// `account.tax.amount_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AmountType {
    /// Percentage of the price.
    Percent,
    /// Fixed amount per unit.
    Fixed,
    /// Percentage of the price tax included ("division").
    Division,
    /// A group of child taxes.
    Group,
    /// Anything else (e.g. Python `code` taxes): computes no amount, as in Odoo's JS.
    Other,
}

impl AmountType {
    /// Parses Odoo's selection value.
    pub fn from_odoo(s: &str) -> Self {
        match s {
            "percent" => AmountType::Percent,
            "fixed" => AmountType::Fixed,
            "division" => AmountType::Division,
            "group" => AmountType::Group,
            _ => AmountType::Other,
        }
    }
}

/// `account.tax.group` as the POS loads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaxGroup {
    /// Record id.
    pub id: i64,
    /// Name, e.g. `Tax 15%`.
    pub name: String,
    /// Label printed on receipts, when set.
    pub pos_receipt_label: Option<String>,
}

/// An `account.tax` with its children resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tax {
    /// Record id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// How the amount is computed.
    pub amount_type: AmountType,
    /// Percentage or fixed amount.
    pub amount: f64,
    /// The price already contains this tax.
    pub price_include: bool,
    /// This tax's amount is part of the base of the taxes after it.
    pub include_base_amount: bool,
    /// This tax's base includes the amounts of earlier `include_base_amount` taxes.
    pub is_base_affected: bool,
    /// Reverse charge: the tax and its opposite both appear.
    pub has_negative_factor: bool,
    /// Evaluation order (then id).
    pub sequence: i64,
    /// Children of a group tax.
    pub children: Vec<Tax>,
    /// Its tax group, for the receipt.
    pub tax_group: Option<TaxGroup>,
}

impl Tax {
    /// A percentage tax excluded from the price, with Odoo's defaults (sequence 1,
    /// `is_base_affected` true).
    pub fn percent(id: i64, amount: f64) -> Self {
        Tax {
            id,
            name: format!("{amount}%"),
            amount_type: AmountType::Percent,
            amount,
            price_include: false,
            include_base_amount: false,
            is_base_affected: true,
            has_negative_factor: false,
            sequence: 1,
            children: Vec::new(),
            tax_group: None,
        }
    }
}

/// `company.tax_calculation_rounding_method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TaxRounding {
    /// Round each line's taxes (Odoo's default).
    #[default]
    PerLine,
    /// Round once over the whole document.
    Globally,
}

impl TaxRounding {
    /// Parses Odoo's selection value.
    pub fn from_odoo(s: &str) -> Self {
        if s == "round_globally" {
            TaxRounding::Globally
        } else {
            TaxRounding::PerLine
        }
    }
}

/// `special_mode` of `get_tax_details`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpecialMode {
    /// Every tax as configured.
    #[default]
    None,
    /// Every tax treated as included in the price.
    TotalIncluded,
    /// Every tax treated as excluded from the price.
    TotalExcluded,
}

/// The company facts the computation reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaxCompany {
    /// Per line or globally.
    pub rounding: TaxRounding,
    /// The company's currency.
    pub currency: Currency,
    /// `account_fiscal_country_id.code` (Portugal distributes rounding differently).
    pub fiscal_country_code: Option<String>,
}

/// One tax's share of a computation (`taxes_data` entry).
#[derive(Debug, Clone, PartialEq)]
pub struct TaxAmount {
    /// The tax (a leaf: groups are flattened).
    pub tax: Tax,
    /// The group tax it came from, if any.
    pub group_id: Option<i64>,
    /// Tax amount (rounded per line when rounding per line).
    pub tax_amount: f64,
    /// Base amount.
    pub base_amount: f64,
    /// The negative twin of a reverse-charge tax.
    pub is_reverse_charge: bool,
}

/// Result of [`get_tax_details`].
#[derive(Debug, Clone, PartialEq)]
pub struct TaxesComputation {
    /// Total without taxes.
    pub total_excluded: f64,
    /// Total with taxes.
    pub total_included: f64,
    /// Per-tax amounts, in evaluation order.
    pub taxes_data: Vec<TaxAmount>,
}

fn sort_key(taxes: &[Tax]) -> Vec<&Tax> {
    let mut v: Vec<&Tax> = taxes.iter().collect();
    v.sort_by(|a, b| a.sequence.cmp(&b.sequence).then(a.id.cmp(&b.id)));
    v
}

/// `flatten_taxes_and_sort_them`: leaves in evaluation order, and each child's group id.
pub fn flatten_taxes_and_sort_them(taxes: &[Tax]) -> (Vec<Tax>, BTreeMap<i64, i64>) {
    let mut group_per_tax = BTreeMap::new();
    let mut sorted = Vec::new();
    for tax in sort_key(taxes) {
        if tax.amount_type == AmountType::Group {
            for child in sort_key(&tax.children) {
                group_per_tax.insert(child.id, tax.id);
                sorted.push(child.clone());
            }
        } else {
            sorted.push(tax.clone());
        }
    }
    (sorted, group_per_tax)
}

/// `batch_for_taxes_computation`: the batch (tax ids) each tax is evaluated with.
fn batch_for_taxes_computation(
    sorted: &[Tax],
    special_mode: SpecialMode,
) -> BTreeMap<i64, Vec<i64>> {
    let mut batch_per_tax: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    let mut batch: Vec<&Tax> = Vec::new();
    let mut is_base_affected = false;
    let flush = |batch: &Vec<&Tax>, out: &mut BTreeMap<i64, Vec<i64>>| {
        let ids: Vec<i64> = batch.iter().map(|t| t.id).collect();
        for t in batch {
            out.insert(t.id, ids.clone());
        }
    };
    for tax in sorted.iter().rev() {
        if let Some(first) = batch.first() {
            let same_batch = tax.amount_type == first.amount_type
                && (special_mode != SpecialMode::None || tax.price_include == first.price_include)
                && tax.include_base_amount == first.include_base_amount
                && !(tax.include_base_amount && is_base_affected);
            if !same_batch {
                flush(&batch, &mut batch_per_tax);
                batch.clear();
            }
        }
        is_base_affected = tax.is_base_affected;
        batch.push(tax);
    }
    if !batch.is_empty() {
        flush(&batch, &mut batch_per_tax);
    }
    batch_per_tax
}

#[derive(Debug, Clone)]
struct Work {
    price_include: bool,
    extra_base_for_tax: f64,
    extra_base_for_base: f64,
    tax_amount: Option<f64>,
    base: Option<f64>,
    batch: Vec<i64>,
}

/// `propagate_extra_taxes_base`: the amount of `tax` changes the bases of the taxes before
/// or after its batch.
fn propagate_extra_taxes_base(
    sorted: &[Tax],
    tax: &Tax,
    data: &mut BTreeMap<i64, Work>,
    special_mode: SpecialMode,
) {
    let Some(batch) = data.get(&tax.id).map(|w| w.batch.clone()) else {
        return;
    };
    let tax_amount = data.get(&tax.id).and_then(|w| w.tax_amount).unwrap_or(0.0);
    let before: Vec<&Tax> = sorted
        .iter()
        .take_while(|t| !batch.contains(&t.id))
        .collect();
    let after: Vec<&Tax> = sorted
        .iter()
        .rev()
        .take_while(|t| !batch.contains(&t.id))
        .collect();
    let mut add_extra_base = |other: &Tax, sign: f64| {
        if let Some(w) = data.get_mut(&other.id) {
            if w.tax_amount.is_none() {
                w.extra_base_for_tax += sign * tax_amount;
            }
            w.extra_base_for_base += sign * tax_amount;
        }
    };
    if tax.price_include {
        if matches!(special_mode, SpecialMode::None | SpecialMode::TotalIncluded) {
            if tax.include_base_amount {
                for other in &after {
                    if !other.is_base_affected {
                        add_extra_base(other, -1.0);
                    }
                }
            } else {
                for other in &after {
                    add_extra_base(other, -1.0);
                }
            }
            for other in &before {
                add_extra_base(other, -1.0);
            }
        } else if tax.include_base_amount {
            for other in &after {
                if other.is_base_affected {
                    add_extra_base(other, 1.0);
                }
            }
        }
    } else if matches!(special_mode, SpecialMode::None | SpecialMode::TotalExcluded) {
        if tax.include_base_amount {
            for other in &after {
                if other.is_base_affected {
                    add_extra_base(other, 1.0);
                }
            }
        }
    } else {
        if !tax.include_base_amount {
            for other in &after {
                add_extra_base(other, -1.0);
            }
        }
        for other in &before {
            add_extra_base(other, -1.0);
        }
    }
}

fn batch_amount_sum(batch: &[i64], sorted: &[Tax]) -> f64 {
    batch
        .iter()
        .map(|id| {
            sorted
                .iter()
                .find(|t| t.id == *id)
                .map_or(0.0, |t| t.amount)
        })
        .fold(0.0, |a, b| a + b)
}

#[derive(Clone, Copy)]
enum Eval {
    Fixed,
    PriceIncluded,
    PriceExcluded,
}

fn eval_amount(
    kind: Eval,
    tax: &Tax,
    batch: &[i64],
    sorted: &[Tax],
    raw_base: f64,
    quantity: f64,
) -> Option<f64> {
    match kind {
        Eval::Fixed => (tax.amount_type == AmountType::Fixed).then_some(quantity * tax.amount),
        Eval::PriceIncluded => match tax.amount_type {
            AmountType::Percent => {
                let total_percentage = batch_amount_sum(batch, sorted) / 100.0;
                let factor = if total_percentage != -1.0 {
                    1.0 / (1.0 + total_percentage)
                } else {
                    0.0
                };
                Some((raw_base * factor * tax.amount) / 100.0)
            }
            AmountType::Division => Some((raw_base * tax.amount) / 100.0),
            _ => None,
        },
        Eval::PriceExcluded => match tax.amount_type {
            AmountType::Percent => Some((raw_base * tax.amount) / 100.0),
            AmountType::Division => {
                let total_percentage = batch_amount_sum(batch, sorted) / 100.0;
                let mult = if total_percentage == 1.0 {
                    1.0
                } else {
                    1.0 - total_percentage
                };
                Some((raw_base * tax.amount) / 100.0 / mult)
            }
            _ => None,
        },
    }
}

/// `get_tax_details(taxes, price_unit, quantity, {precision_rounding, rounding_method,
/// special_mode})`.
pub fn get_tax_details(
    taxes: &[Tax],
    price_unit: f64,
    quantity: f64,
    precision_rounding: f64,
    rounding: TaxRounding,
    special_mode: SpecialMode,
) -> TaxesComputation {
    let (sorted, group_per_tax) = flatten_taxes_and_sort_them(taxes);
    let batch_per_tax = batch_for_taxes_computation(&sorted, special_mode);
    let mut data: BTreeMap<i64, Work> = BTreeMap::new();
    let mut reverse: BTreeMap<i64, (Option<f64>, Option<f64>)> = BTreeMap::new();
    for tax in &sorted {
        let price_include = match special_mode {
            SpecialMode::TotalIncluded => true,
            SpecialMode::TotalExcluded => false,
            SpecialMode::None => tax.price_include,
        };
        data.insert(
            tax.id,
            Work {
                price_include,
                extra_base_for_tax: 0.0,
                extra_base_for_base: 0.0,
                tax_amount: None,
                base: None,
                batch: batch_per_tax.get(&tax.id).cloned().unwrap_or_default(),
            },
        );
        if tax.has_negative_factor {
            reverse.insert(tax.id, (None, None));
        }
    }
    let per_line = rounding == TaxRounding::PerLine;
    let round = |v: f64| round_precision(v, precision_rounding, RoundingMethod::HalfUp);
    let mut raw_base = quantity * price_unit;
    if per_line {
        raw_base = round(raw_base);
    }

    let mut eval_tax = |kind: Eval, tax: &Tax, data: &mut BTreeMap<i64, Work>| {
        let Some(w) = data.get(&tax.id) else { return };
        if w.tax_amount.is_some() {
            return;
        }
        let base = raw_base + w.extra_base_for_tax;
        let Some(mut amount) = eval_amount(kind, tax, &w.batch, &sorted, base, quantity) else {
            return;
        };
        if per_line {
            amount = round(amount);
        }
        if let Some(w) = data.get_mut(&tax.id) {
            w.tax_amount = Some(amount);
        }
        if tax.has_negative_factor {
            reverse.insert(tax.id, (Some(-amount), None));
        }
        propagate_extra_taxes_base(&sorted, tax, data, special_mode);
    };

    for tax in sorted.iter().rev() {
        eval_tax(Eval::Fixed, tax, &mut data);
    }
    for tax in sorted.iter().rev() {
        if data.get(&tax.id).is_some_and(|w| w.price_include) {
            eval_tax(Eval::PriceIncluded, tax, &mut data);
        }
    }
    for tax in sorted.iter() {
        if data.get(&tax.id).is_some_and(|w| !w.price_include) {
            eval_tax(Eval::PriceExcluded, tax, &mut data);
        }
    }

    for tax in sorted.iter().rev() {
        let Some(w) = data.get(&tax.id) else { continue };
        if w.tax_amount.is_none() {
            continue;
        }
        let mut total_tax_amount = w
            .batch
            .iter()
            .map(|id| data.get(id).and_then(|o| o.tax_amount).unwrap_or(f64::NAN))
            .fold(0.0, |a, b| a + b);
        total_tax_amount += w
            .batch
            .iter()
            .filter(|id| sorted.iter().any(|t| t.id == **id && t.has_negative_factor))
            .map(|id| reverse.get(id).and_then(|r| r.0).unwrap_or(0.0))
            .fold(0.0, |a, b| a + b);
        let mut base = raw_base + w.extra_base_for_base;
        if w.price_include && matches!(special_mode, SpecialMode::None | SpecialMode::TotalIncluded)
        {
            base -= total_tax_amount;
        }
        if let Some(w) = data.get_mut(&tax.id) {
            w.base = Some(base);
        }
        if tax.has_negative_factor {
            if let Some(r) = reverse.get_mut(&tax.id) {
                r.1 = Some(base);
            }
        }
    }

    let mut taxes_data = Vec::new();
    for tax in &sorted {
        let Some(w) = data.get(&tax.id) else { continue };
        let Some(amount) = w.tax_amount else { continue };
        let group_id = group_per_tax.get(&tax.id).copied();
        let base = w.base.unwrap_or(raw_base);
        taxes_data.push(TaxAmount {
            tax: tax.clone(),
            group_id,
            tax_amount: amount,
            base_amount: base,
            is_reverse_charge: false,
        });
        if tax.has_negative_factor {
            let (r_amount, r_base) = reverse.get(&tax.id).copied().unwrap_or((None, None));
            taxes_data.push(TaxAmount {
                tax: tax.clone(),
                group_id,
                tax_amount: r_amount.unwrap_or(-amount),
                base_amount: r_base.unwrap_or(base),
                is_reverse_charge: true,
            });
        }
    }
    let (total_excluded, total_included) = match taxes_data.first() {
        Some(first) => {
            let excluded = first.base_amount;
            let tax_sum = taxes_data.iter().fold(0.0, |a, t| a + t.tax_amount);
            (excluded, excluded + tax_sum)
        }
        None => (raw_base, raw_base),
    };
    TaxesComputation {
        total_excluded,
        total_included,
        taxes_data,
    }
}

/// A document line to compute taxes for (`prepare_base_line_for_taxes_computation`).
#[derive(Debug, Clone, PartialEq)]
pub struct BaseLine {
    /// Unit price (as entered: tax included when the taxes say so).
    pub price_unit: f64,
    /// Quantity (signed).
    pub quantity: f64,
    /// Discount in percent.
    pub discount: f64,
    /// Taxes of the line.
    pub taxes: Vec<Tax>,
    /// The document's currency.
    pub currency: Currency,
    /// Filled by [`add_tax_details_in_base_line`] and [`round_base_lines_tax_details`].
    pub tax_details: LineTaxDetails,
}

impl BaseLine {
    /// A line without computed details yet.
    pub fn new(
        price_unit: f64,
        quantity: f64,
        discount: f64,
        taxes: Vec<Tax>,
        currency: Currency,
    ) -> Self {
        BaseLine {
            price_unit,
            quantity,
            discount,
            taxes,
            currency,
            tax_details: LineTaxDetails::default(),
        }
    }
}

/// `base_line.tax_details`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LineTaxDetails {
    /// Unrounded total without taxes, document currency.
    pub raw_total_excluded_currency: f64,
    /// Unrounded total without taxes, company currency.
    pub raw_total_excluded: f64,
    /// Unrounded total with taxes, document currency.
    pub raw_total_included_currency: f64,
    /// Unrounded total with taxes, company currency.
    pub raw_total_included: f64,
    /// Rounded total without taxes, document currency.
    pub total_excluded_currency: f64,
    /// Rounded total without taxes, company currency.
    pub total_excluded: f64,
    /// Rounded total with taxes, document currency.
    pub total_included_currency: f64,
    /// Rounded total with taxes, company currency.
    pub total_included: f64,
    /// Share of the document's base rounding error given to this line (document currency).
    pub delta_total_excluded_currency: f64,
    /// Same in company currency.
    pub delta_total_excluded: f64,
    /// Per-tax details.
    pub taxes_data: Vec<LineTaxData>,
}

/// One entry of `tax_details.taxes_data`.
#[derive(Debug, Clone, PartialEq)]
pub struct LineTaxData {
    /// The tax.
    pub tax: Tax,
    /// The group tax it came from.
    pub group_id: Option<i64>,
    /// The negative twin of a reverse-charge tax.
    pub is_reverse_charge: bool,
    /// Unrounded tax, document currency.
    pub raw_tax_amount_currency: f64,
    /// Unrounded tax, company currency.
    pub raw_tax_amount: f64,
    /// Unrounded base, document currency.
    pub raw_base_amount_currency: f64,
    /// Unrounded base, company currency.
    pub raw_base_amount: f64,
    /// Rounded tax, document currency.
    pub tax_amount_currency: f64,
    /// Rounded tax, company currency.
    pub tax_amount: f64,
    /// Rounded base, document currency.
    pub base_amount_currency: f64,
    /// Rounded base, company currency.
    pub base_amount: f64,
}

/// `add_tax_details_in_base_line(base_line, company)` (rate 1, as the POS calls it).
pub fn add_tax_details_in_base_line(line: &mut BaseLine, company: &TaxCompany) {
    let rounding = company.rounding;
    let price_unit_after_discount = line.price_unit * (1.0 - (line.discount / 100.0));
    let currency_pd = line.currency.rounding;
    let company_pd = company.currency.rounding;
    let computation = get_tax_details(
        &line.taxes,
        price_unit_after_discount,
        line.quantity,
        currency_pd,
        rounding,
        SpecialMode::None,
    );
    let rate = 1.0;
    let mut d = LineTaxDetails {
        raw_total_excluded_currency: computation.total_excluded,
        raw_total_excluded: computation.total_excluded / rate,
        raw_total_included_currency: computation.total_included,
        raw_total_included: computation.total_included / rate,
        ..LineTaxDetails::default()
    };
    let hu = RoundingMethod::HalfUp;
    if rounding == TaxRounding::PerLine {
        d.raw_total_excluded = round_precision(d.raw_total_excluded, currency_pd, hu);
        d.raw_total_included = round_precision(d.raw_total_included, currency_pd, hu);
    }
    for t in computation.taxes_data {
        let mut tax_amount = t.tax_amount / rate;
        let mut base_amount = t.base_amount / rate;
        if rounding == TaxRounding::PerLine {
            tax_amount = round_precision(tax_amount, company_pd, hu);
            base_amount = round_precision(base_amount, company_pd, hu);
        }
        d.taxes_data.push(LineTaxData {
            tax: t.tax,
            group_id: t.group_id,
            is_reverse_charge: t.is_reverse_charge,
            raw_tax_amount_currency: t.tax_amount,
            raw_tax_amount: tax_amount,
            raw_base_amount_currency: t.base_amount,
            raw_base_amount: base_amount,
            tax_amount_currency: 0.0,
            tax_amount: 0.0,
            base_amount_currency: 0.0,
            base_amount: 0.0,
        });
    }
    line.tax_details = d;
}

#[derive(Debug, Clone, Default)]
struct Totals {
    base_amount_currency: f64,
    base_amount: f64,
    raw_base_amount_currency: f64,
    raw_base_amount: f64,
    tax_amount_currency: f64,
    tax_amount: f64,
    raw_tax_amount_currency: f64,
    raw_tax_amount: f64,
    raw_total_amount_currency: f64,
    raw_total_amount: f64,
    base_lines: Vec<usize>,
    currency: Currency,
    tax_id: Option<i64>,
    is_reverse_charge: bool,
    /// (line index, index in its taxes_data) after sorting, set by the tax-delta pass.
    sorted: Option<Vec<(usize, Option<usize>)>>,
    total_included_currency: f64,
}

fn find_or_insert<K: PartialEq>(v: &mut Vec<(K, Totals)>, key: K, currency: &Currency) -> usize {
    if let Some(i) = v.iter().position(|(k, _)| *k == key) {
        return i;
    }
    v.push((
        key,
        Totals {
            currency: currency.clone(),
            ..Totals::default()
        },
    ));
    v.len() - 1
}

/// `round_base_lines_tax_details(base_lines, company)`: rounds every line, then spreads the
/// document-level rounding error (round globally) across the lines as Odoo does.
pub fn round_base_lines_tax_details(lines: &mut [BaseLine], company: &TaxCompany) {
    let hu = RoundingMethod::HalfUp;
    let company_cur = &company.currency;
    let is_pt = company.fiscal_country_code.as_deref() == Some("PT");
    // Keys: (tax id, currency id, reverse charge) and (currency id). The POS never sets
    // `is_refund`, so it is the same (undefined) on every line.
    type Key = (Option<i64>, i64, bool);
    let mut per_tax: Vec<(Key, Totals)> = Vec::new();
    let mut per_base: Vec<(i64, Totals)> = Vec::new();

    for (li, line) in lines.iter_mut().enumerate() {
        let currency = line.currency.clone();
        let d = &mut line.tax_details;
        d.total_excluded_currency =
            round_precision(d.raw_total_excluded_currency, currency.rounding, hu);
        d.total_excluded = round_precision(d.raw_total_excluded, company_cur.rounding, hu);
        d.delta_total_excluded_currency = 0.0;
        d.delta_total_excluded = 0.0;
        d.total_included_currency =
            round_precision(d.raw_total_included_currency, currency.rounding, hu);
        d.total_included = round_precision(d.raw_total_included, company_cur.rounding, hu);
        let no_taxes = d.taxes_data.is_empty();
        for (index, t) in d.taxes_data.iter_mut().enumerate() {
            t.tax_amount_currency =
                round_precision(t.raw_tax_amount_currency, currency.rounding, hu);
            t.tax_amount = round_precision(t.raw_tax_amount, company_cur.rounding, hu);
            t.base_amount_currency =
                round_precision(t.raw_base_amount_currency, currency.rounding, hu);
            t.base_amount = round_precision(t.raw_base_amount, company_cur.rounding, hu);

            let k = find_or_insert(
                &mut per_tax,
                (Some(t.tax.id), currency.id, t.is_reverse_charge),
                &currency,
            );
            let ta = &mut per_tax[k].1;
            ta.tax_id = Some(t.tax.id);
            ta.is_reverse_charge = t.is_reverse_charge;
            ta.tax_amount_currency += t.tax_amount_currency;
            ta.raw_tax_amount_currency += t.raw_tax_amount_currency;
            ta.tax_amount += t.tax_amount;
            ta.raw_tax_amount += t.raw_tax_amount;
            ta.base_amount_currency += t.base_amount_currency;
            ta.raw_base_amount_currency += t.raw_base_amount_currency;
            ta.base_amount += t.base_amount;
            ta.raw_base_amount += t.raw_base_amount;
            ta.raw_total_amount_currency += t.raw_base_amount_currency + t.raw_tax_amount_currency;
            ta.raw_total_amount += t.raw_base_amount + t.raw_tax_amount;
            ta.base_lines.push(li);

            let b = find_or_insert(&mut per_base, currency.id, &currency);
            let ba = &mut per_base[b].1;
            ba.tax_amount_currency += t.tax_amount_currency;
            ba.tax_amount += t.tax_amount;
            ba.raw_total_amount_currency += t.raw_tax_amount_currency;
            ba.raw_total_amount += t.raw_tax_amount;
            if index == 0 {
                ba.base_amount_currency += t.base_amount_currency;
                ba.raw_base_amount_currency += t.raw_base_amount_currency;
                ba.base_amount += t.base_amount;
                ba.raw_base_amount += t.raw_base_amount;
                ba.raw_total_amount_currency += t.raw_base_amount_currency;
                ba.raw_total_amount += t.raw_base_amount;
                ba.base_lines.push(li);
            }
        }
        if no_taxes {
            let k = find_or_insert(&mut per_tax, (None, currency.id, false), &currency);
            let ta = &mut per_tax[k].1;
            ta.base_amount_currency += d.total_excluded_currency;
            ta.raw_base_amount_currency += d.raw_total_excluded_currency;
            ta.base_amount += d.total_excluded;
            ta.raw_base_amount += d.raw_total_excluded;
            ta.raw_total_amount_currency += d.raw_total_excluded_currency;
            ta.raw_total_amount += d.raw_total_excluded;
            ta.base_lines.push(li);

            let b = find_or_insert(&mut per_base, currency.id, &currency);
            let ba = &mut per_base[b].1;
            ba.base_amount_currency += d.total_excluded_currency;
            ba.raw_base_amount_currency += d.raw_total_excluded_currency;
            ba.base_amount += d.total_excluded;
            ba.raw_base_amount += d.raw_total_excluded;
            ba.raw_total_amount_currency += d.raw_total_excluded_currency;
            ba.raw_total_amount += d.raw_total_excluded;
            ba.base_lines.push(li);
        }
    }

    for (_, ta) in per_tax.iter_mut() {
        let r = ta.currency.rounding;
        ta.raw_tax_amount_currency = round_precision(ta.raw_tax_amount_currency, r, hu);
        ta.raw_tax_amount = round_precision(ta.raw_tax_amount, company_cur.rounding, hu);
        ta.raw_base_amount_currency = round_precision(ta.raw_base_amount_currency, r, hu);
        ta.raw_base_amount = round_precision(ta.raw_base_amount, company_cur.rounding, hu);
        ta.raw_total_amount_currency = round_precision(ta.raw_total_amount_currency, r, hu);
        ta.raw_total_amount = round_precision(ta.raw_total_amount, company_cur.rounding, hu);
    }
    for (_, ba) in per_base.iter_mut() {
        let r = ba.currency.rounding;
        ba.raw_base_amount_currency = round_precision(ba.raw_base_amount_currency, r, hu);
        ba.raw_base_amount = round_precision(ba.raw_base_amount, company_cur.rounding, hu);
        ba.raw_total_amount_currency = round_precision(ba.raw_total_amount_currency, r, hu);
        ba.raw_total_amount = round_precision(ba.raw_total_amount, company_cur.rounding, hu);
    }

    // Spread the tax-amount delta (round globally) across the lines, biggest first.
    for (_, ta) in per_tax.iter_mut() {
        if ta.base_lines.is_empty() {
            continue;
        }
        let mut order = ta.base_lines.clone();
        order.sort_by(|a, b| {
            lines[*b]
                .tax_details
                .total_included_currency
                .partial_cmp(&lines[*a].tax_details.total_included_currency)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        ta.base_lines = order.clone();
        let sorted: Vec<(usize, Option<usize>)> = order
            .iter()
            .map(|li| {
                let pos = lines[*li].tax_details.taxes_data.iter().position(|t| {
                    Some(t.tax.id) == ta.tax_id && t.is_reverse_charge == ta.is_reverse_charge
                });
                (*li, pos)
            })
            .collect();
        ta.sorted = Some(sorted.clone());
        ta.total_included_currency = order.iter().fold(0.0, |a, li| {
            a + lines[*li].tax_details.total_included_currency.abs()
        });
        if ta.tax_id.is_none() || ta.total_included_currency == 0.0 {
            continue;
        }
        let delta_currency = ta.raw_tax_amount_currency - ta.tax_amount_currency;
        let delta_company = ta.raw_tax_amount - ta.tax_amount;
        for (delta, is_currency) in [(delta_currency, true), (delta_company, false)] {
            let cur = if is_currency {
                ta.currency.clone()
            } else {
                company_cur.clone()
            };
            if float_is_zero(delta, cur.decimal_places) {
                continue;
            }
            let sign = if delta < 0.0 { -1.0 } else { 1.0 };
            let nb_of_errors = js_round((delta / cur.rounding).abs());
            let mut remaining = nb_of_errors;
            for (li, pos) in &sorted {
                let Some(pos) = pos else { break };
                if remaining == 0.0 {
                    break;
                }
                let d = &mut lines[*li].tax_details;
                let share = (d.total_included_currency * nb_of_errors / ta.total_included_currency)
                    .abs()
                    .ceil()
                    .min(remaining);
                remaining -= share;
                let amount = sign * share * cur.rounding;
                let t = &mut d.taxes_data[*pos];
                if is_currency {
                    t.tax_amount_currency += amount;
                    ta.tax_amount_currency += amount;
                } else {
                    t.tax_amount += amount;
                    ta.tax_amount += amount;
                }
                if *pos == 0 {
                    if let Some((_, ba)) = per_base.iter_mut().find(|(k, _)| *k == ta.currency.id) {
                        if is_currency {
                            ba.tax_amount_currency += amount;
                        } else {
                            ba.tax_amount += amount;
                        }
                    }
                }
            }
        }
    }

    // Spread the base delta of each tax across its lines.
    for (_, ta) in per_tax.iter_mut() {
        let Some(sorted) = ta.sorted.clone() else {
            continue;
        };
        if ta.total_included_currency == 0.0 {
            continue;
        }
        let (delta_currency, delta_company) = if is_pt {
            (
                ta.raw_total_amount_currency - ta.base_amount_currency - ta.tax_amount_currency,
                ta.raw_total_amount - ta.base_amount - ta.tax_amount,
            )
        } else {
            (
                ta.raw_base_amount_currency - ta.base_amount_currency,
                ta.raw_base_amount - ta.base_amount,
            )
        };
        for (delta, is_currency) in [(delta_currency, true), (delta_company, false)] {
            let cur = if is_currency {
                ta.currency.clone()
            } else {
                company_cur.clone()
            };
            if float_is_zero(delta, cur.decimal_places) {
                continue;
            }
            let sign = if delta < 0.0 { -1.0 } else { 1.0 };
            let nb_of_errors = js_round((delta / cur.rounding).abs());
            let mut remaining = nb_of_errors;
            for (li, pos) in &sorted {
                if remaining == 0.0 {
                    break;
                }
                let d = &mut lines[*li].tax_details;
                let share = (d.total_included_currency * nb_of_errors / ta.total_included_currency)
                    .abs()
                    .ceil()
                    .min(remaining);
                remaining -= share;
                let amount = sign * share * cur.rounding;
                match pos {
                    Some(pos) => {
                        let t = &mut d.taxes_data[*pos];
                        if is_currency {
                            t.base_amount_currency += amount;
                        } else {
                            t.base_amount += amount;
                        }
                    }
                    None => {
                        if is_currency {
                            d.delta_total_excluded_currency += amount;
                        } else {
                            d.delta_total_excluded += amount;
                        }
                        if let Some((_, ba)) =
                            per_base.iter_mut().find(|(k, _)| *k == ta.currency.id)
                        {
                            if is_currency {
                                ba.base_amount_currency += amount;
                            } else {
                                ba.base_amount += amount;
                            }
                        }
                    }
                }
            }
        }
    }

    // The document's base delta that no tax carries goes to its smallest line.
    for (_, ba) in per_base.iter_mut() {
        if ba.base_lines.is_empty() {
            continue;
        }
        let mut order = ba.base_lines.clone();
        order.sort_by(|a, b| {
            lines[*a]
                .tax_details
                .total_included_currency
                .partial_cmp(&lines[*b].tax_details.total_included_currency)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let li = order[0];
        let (dc, d) = if is_pt {
            (
                ba.raw_total_amount_currency - ba.base_amount_currency - ba.tax_amount_currency,
                ba.raw_total_amount - ba.base_amount - ba.tax_amount,
            )
        } else {
            (
                ba.raw_base_amount_currency - ba.base_amount_currency,
                ba.raw_base_amount - ba.base_amount,
            )
        };
        if float_is_zero(dc, ba.currency.decimal_places)
            && float_is_zero(d, company_cur.decimal_places)
        {
            continue;
        }
        let td = &mut lines[li].tax_details;
        td.delta_total_excluded_currency += dc;
        td.delta_total_excluded += d;
    }
}

/// One tax group's line on the receipt.
#[derive(Debug, Clone, PartialEq)]
pub struct TaxGroupTotal {
    /// Group id.
    pub id: i64,
    /// Group name.
    pub name: String,
    /// Receipt label, when set.
    pub label: Option<String>,
    /// Tax amount of the group.
    pub tax_amount_currency: f64,
    /// Base amount of the group.
    pub base_amount_currency: f64,
    /// Base to print (`None` for fixed taxes only).
    pub display_base_amount_currency: Option<f64>,
}

/// The document totals (`get_tax_totals_summary` without cash rounding).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaxTotals {
    /// Untaxed amount.
    pub base_amount_currency: f64,
    /// Taxes.
    pub tax_amount_currency: f64,
    /// Untaxed + taxes.
    pub total_amount_currency: f64,
    /// Taxes per tax group (by group id).
    pub groups: Vec<TaxGroupTotal>,
}

/// `get_tax_totals_summary(base_lines, currency, company)` after the lines were rounded by
/// [`round_base_lines_tax_details`].
pub fn tax_totals_summary(lines: &[BaseLine]) -> TaxTotals {
    let mut totals = TaxTotals::default();
    // Global grouping: one key per line (with or without taxes), so every line's base counts once.
    for line in lines {
        let d = &line.tax_details;
        totals.base_amount_currency += d.total_excluded_currency + d.delta_total_excluded_currency;
        totals.tax_amount_currency += d
            .taxes_data
            .iter()
            .fold(0.0, |a, t| a + t.tax_amount_currency);
    }
    // Tax groups: per line, the base of the group's first tax and the sum of its taxes.
    struct Acc {
        group: TaxGroup,
        tax: f64,
        base: f64,
        types: Vec<AmountType>,
        includes: Vec<bool>,
        division_tax: f64,
    }
    let mut groups: Vec<Acc> = Vec::new();
    for line in lines {
        let mut seen: Vec<i64> = Vec::new();
        for t in &line.tax_details.taxes_data {
            let Some(g) = &t.tax.tax_group else { continue };
            let i = match groups.iter().position(|a| a.group.id == g.id) {
                Some(i) => i,
                None => {
                    groups.push(Acc {
                        group: g.clone(),
                        tax: 0.0,
                        base: 0.0,
                        types: Vec::new(),
                        includes: Vec::new(),
                        division_tax: 0.0,
                    });
                    groups.len() - 1
                }
            };
            let acc = &mut groups[i];
            if !seen.contains(&g.id) {
                seen.push(g.id);
                acc.base += t.base_amount_currency;
                // A division group's printed base adds back every division tax of the line.
                acc.division_tax += line
                    .tax_details
                    .taxes_data
                    .iter()
                    .filter(|o| o.tax.amount_type == AmountType::Division)
                    .fold(0.0, |a, o| a + o.tax_amount_currency);
            }
            acc.tax += t.tax_amount_currency;
            if !acc.types.contains(&t.tax.amount_type) {
                acc.types.push(t.tax.amount_type);
            }
            if !acc.includes.contains(&t.tax.price_include) {
                acc.includes.push(t.tax.price_include);
            }
        }
    }
    groups.sort_by_key(|a| a.group.id);
    totals.groups = groups
        .into_iter()
        .map(|a| {
            let display = if a.types == [AmountType::Fixed] {
                None
            } else if a.types == [AmountType::Division] && a.includes == [true] {
                Some(a.base + a.division_tax)
            } else {
                Some(a.base)
            };
            TaxGroupTotal {
                id: a.group.id,
                name: a.group.name,
                label: a.group.pos_receipt_label,
                tax_amount_currency: a.tax,
                base_amount_currency: a.base,
                display_base_amount_currency: display,
            }
        })
        .collect();
    totals.total_amount_currency = totals.base_amount_currency + totals.tax_amount_currency;
    totals
}

/// Convenience: computes one line alone (what Odoo's POS does for a line's own prices):
/// `(total_excluded_currency, total_included_currency, line)`.
pub fn single_line(mut line: BaseLine, company: &TaxCompany) -> BaseLine {
    add_tax_details_in_base_line(&mut line, company);
    round_base_lines_tax_details(std::slice::from_mut(&mut line), company);
    line
}
