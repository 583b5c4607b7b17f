//! What the till sells with: parsed from `pos.session.load_data` (Odoo 18) or
//! `load_pos_data` (16/17), kept on the device, refreshed when online.
//!
//! The parser is tolerant the way a till must be: a model Odoo did not send (or sent with an
//! `"error"` because the user may not read it) leaves an empty list, never a crash; many2one
//! values are read in both shapes (`7` with `load=False` in 18, `[7, "Name"]` in 16/17).

use std::collections::BTreeMap;

use odoo_rpc::wire::many2one_id;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::money::{Currency, SymbolPosition};
use crate::tax::{AmountType, Tax, TaxCompany, TaxGroup, TaxRounding};

/// The POS session the device sells in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SessionInfo {
    /// `pos.session` id.
    pub id: i64,
    /// Name, e.g. `POS/00001`.
    pub name: String,
    /// `opening_control`, `opened`, `closing_control`, `closed`.
    pub state: String,
    /// Opening cash.
    pub cash_register_balance_start: f64,
    /// Opened at (UTC).
    pub start_at: Option<String>,
}

/// The shop (`pos.config`) settings the till uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ShopConfig {
    /// `pos.config` id.
    pub id: i64,
    /// Shop name.
    pub name: String,
    /// Prices shown with taxes (`iface_tax_included == "total"`).
    pub prices_include_tax: bool,
    /// Cash is counted at opening and closing.
    pub cash_control: bool,
    /// Receipt header text.
    pub receipt_header: Option<String>,
    /// Receipt footer text.
    pub receipt_footer: Option<String>,
    /// Only these categories are shown (empty = all).
    pub category_ids: Vec<i64>,
    /// Default pricelist.
    pub pricelist_id: Option<i64>,
    /// Cash rounding is on (not supported by this till: it warns).
    pub cash_rounding: bool,
}

/// The company, as printed on receipts and used by the tax computation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Company {
    /// `res.company` id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// VAT number.
    pub vat: Option<String>,
    /// Website.
    pub website: Option<String>,
    /// Street, zip and city on one line.
    pub address: Option<String>,
    /// Per line or globally.
    pub tax_rounding: TaxRounding,
    /// Fiscal country code, e.g. `US`.
    pub fiscal_country_code: Option<String>,
}

/// A product the till sells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// `product.product` id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Sales price.
    pub lst_price: f64,
    /// Barcode.
    pub barcode: Option<String>,
    /// Internal reference.
    pub default_code: Option<String>,
    /// Sales taxes.
    pub taxes_id: Vec<i64>,
    /// POS categories.
    pub pos_categ_ids: Vec<i64>,
    /// Sold by weight.
    pub to_weight: bool,
}

/// A POS category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Category {
    /// `pos.category` id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Parent category.
    pub parent_id: Option<i64>,
    /// Order.
    pub sequence: i64,
}

/// A way to pay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentMethod {
    /// `pos.payment.method` id.
    pub id: i64,
    /// Name, e.g. `Cash`.
    pub name: String,
    /// Cash (counted, gives change).
    pub is_cash_count: bool,
    /// Order.
    pub sequence: i64,
}

/// A customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Partner {
    /// `res.partner` id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Mobile.
    pub mobile: Option<String>,
    /// Street.
    pub street: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Zip.
    pub zip: Option<String>,
    /// VAT.
    pub vat: Option<String>,
    /// Barcode.
    pub barcode: Option<String>,
}

impl Partner {
    /// True when `query` (lowercase) is in the name, email, phone, mobile, VAT or barcode.
    pub fn matches(&self, query: &str) -> bool {
        let q = query.trim().to_lowercase();
        if q.is_empty() {
            return true;
        }
        std::iter::once(Some(&self.name))
            .chain([
                self.email.as_ref(),
                self.phone.as_ref(),
                self.mobile.as_ref(),
                self.vat.as_ref(),
                self.barcode.as_ref(),
            ])
            .flatten()
            .any(|s| s.to_lowercase().contains(&q))
    }
}

/// Everything the till needs to sell offline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Catalogue {
    /// The session.
    pub session: SessionInfo,
    /// The shop.
    pub config: ShopConfig,
    /// The company.
    pub company: Company,
    /// The shop's currency.
    pub currency: Currency,
    /// The company's currency (equal to `currency` in nearly every shop).
    pub company_currency: Currency,
    /// Products for sale, in Odoo's order.
    pub products: Vec<Product>,
    /// POS categories, by sequence.
    pub categories: Vec<Category>,
    /// Taxes (groups with their children resolved).
    pub taxes: Vec<Tax>,
    /// Payment methods of the shop, cash first.
    pub payment_methods: Vec<PaymentMethod>,
    /// Customers Odoo sent.
    pub partners: Vec<Partner>,
    /// The cashier's user id and name.
    pub user: Option<(i64, String)>,
    /// `decimal.precision` "Product Price" digits.
    pub price_digits: u32,
    /// Models Odoo refused to send (name → Odoo's message).
    pub load_errors: BTreeMap<String, String>,
}

/// Why the data could not be used to sell.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    /// A model the till cannot work without is missing.
    #[error("Odoo sent no {0}")]
    Missing(&'static str),
}

/// The records of `model` in either answer shape: 18's `{data: [...]}`, a list, or a single
/// record (16/17 send `pos.config` and `pos.session` as one dict).
fn records<'a>(root: &'a Value, model: &str) -> Vec<&'a Map<String, Value>> {
    match root.get(model) {
        Some(Value::Object(o)) => match o.get("data") {
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_object).collect(),
            Some(_) => Vec::new(),
            None => vec![o],
        },
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    }
}

fn s(r: &Map<String, Value>, k: &str) -> Option<String> {
    match r.get(k) {
        Some(Value::String(v)) if !v.is_empty() => Some(v.clone()),
        _ => None,
    }
}
fn f(r: &Map<String, Value>, k: &str) -> f64 {
    r.get(k).and_then(Value::as_f64).unwrap_or(0.0)
}
fn i(r: &Map<String, Value>, k: &str) -> i64 {
    r.get(k).and_then(Value::as_i64).unwrap_or(0)
}
fn b(r: &Map<String, Value>, k: &str) -> bool {
    r.get(k).and_then(Value::as_bool).unwrap_or(false)
}
fn m2o(r: &Map<String, Value>, k: &str) -> Option<i64> {
    r.get(k).and_then(many2one_id)
}
fn ids(r: &Map<String, Value>, k: &str) -> Vec<i64> {
    r.get(k)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

fn currency_from(r: &Map<String, Value>) -> Currency {
    let rounding = match f(r, "rounding") {
        x if x > 0.0 => x,
        _ => 0.01,
    };
    let decimal_places = r
        .get("decimal_places")
        .and_then(Value::as_u64)
        .map(|d| d as u32)
        .unwrap_or_else(|| (-rounding.log10()).ceil().max(0.0) as u32);
    Currency {
        id: i(r, "id"),
        name: s(r, "name").unwrap_or_default(),
        symbol: s(r, "symbol").unwrap_or_default(),
        position: if s(r, "position").as_deref() == Some("before") {
            SymbolPosition::Before
        } else {
            SymbolPosition::After
        },
        rounding,
        decimal_places,
    }
}

impl Catalogue {
    /// Parses the answer of `load_data` (18) or `load_pos_data` (16/17).
    pub fn from_load_data(root: &Value) -> Result<Self, CatalogueError> {
        let mut cat = Catalogue {
            price_digits: 2,
            ..Catalogue::default()
        };
        if let Some(o) = root.as_object() {
            for (model, v) in o {
                if let Some(e) = v.get("error").and_then(Value::as_str) {
                    cat.load_errors.insert(model.clone(), e.to_owned());
                }
            }
        }
        let session = *records(root, "pos.session")
            .first()
            .ok_or(CatalogueError::Missing("POS session"))?;
        cat.session = SessionInfo {
            id: i(session, "id"),
            name: s(session, "name").unwrap_or_default(),
            state: s(session, "state").unwrap_or_default(),
            cash_register_balance_start: f(session, "cash_register_balance_start"),
            start_at: s(session, "start_at"),
        };
        let config = *records(root, "pos.config")
            .first()
            .ok_or(CatalogueError::Missing("POS configuration"))?;
        cat.config = ShopConfig {
            id: i(config, "id"),
            name: s(config, "name").unwrap_or_default(),
            prices_include_tax: s(config, "iface_tax_included").as_deref() != Some("subtotal"),
            cash_control: b(config, "cash_control"),
            receipt_header: s(config, "receipt_header"),
            receipt_footer: s(config, "receipt_footer"),
            category_ids: if b(config, "limit_categories") {
                ids(config, "iface_available_categ_ids")
            } else {
                Vec::new()
            },
            pricelist_id: m2o(config, "pricelist_id"),
            cash_rounding: b(config, "cash_rounding"),
        };
        let company = records(root, "res.company").first().copied();
        if let Some(c) = company {
            let address = [s(c, "street"), s(c, "zip"), s(c, "city")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            cat.company = Company {
                id: i(c, "id"),
                name: s(c, "name").unwrap_or_default(),
                email: s(c, "email"),
                phone: s(c, "phone"),
                vat: s(c, "vat"),
                website: s(c, "website"),
                address: (!address.is_empty()).then_some(address),
                tax_rounding: TaxRounding::from_odoo(
                    &s(c, "tax_calculation_rounding_method").unwrap_or_default(),
                ),
                // `account_fiscal_country_id.code` (18 loads res.country), else `country_code`.
                fiscal_country_code: m2o(c, "account_fiscal_country_id")
                    .and_then(|cid| {
                        records(root, "res.country")
                            .into_iter()
                            .find(|r| i(r, "id") == cid)
                            .and_then(|r| s(r, "code"))
                    })
                    .or_else(|| s(c, "country_code")),
            };
        }
        // Currencies: the config's, else the company's, else the first sent.
        let currencies: Vec<Currency> = records(root, "res.currency")
            .into_iter()
            .map(currency_from)
            .collect();
        let pick =
            |id: Option<i64>| id.and_then(|id| currencies.iter().find(|c| c.id == id).cloned());
        let company_currency_id = company.and_then(|c| m2o(c, "currency_id"));
        cat.company_currency = pick(company_currency_id)
            .or_else(|| currencies.first().cloned())
            .unwrap_or_default();
        cat.currency =
            pick(m2o(config, "currency_id")).unwrap_or_else(|| cat.company_currency.clone());

        for dp in records(root, "decimal.precision") {
            if s(dp, "name").as_deref() == Some("Product Price") {
                cat.price_digits = i(dp, "digits").clamp(0, 10) as u32;
            }
        }

        // Taxes: leaves first, then groups with their children.
        let groups: Vec<TaxGroup> = records(root, "account.tax.group")
            .into_iter()
            .map(|g| TaxGroup {
                id: i(g, "id"),
                name: s(g, "name").unwrap_or_default(),
                pos_receipt_label: s(g, "pos_receipt_label"),
            })
            .collect();
        let raw_taxes = records(root, "account.tax");
        let leaf = |t: &Map<String, Value>| Tax {
            id: i(t, "id"),
            name: s(t, "name").unwrap_or_default(),
            amount_type: AmountType::from_odoo(&s(t, "amount_type").unwrap_or_default()),
            amount: f(t, "amount"),
            price_include: b(t, "price_include"),
            include_base_amount: b(t, "include_base_amount"),
            // Odoo's default is true; only an explicit false turns it off.
            is_base_affected: t
                .get("is_base_affected")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            has_negative_factor: b(t, "has_negative_factor"),
            sequence: t.get("sequence").and_then(Value::as_i64).unwrap_or(1),
            children: Vec::new(),
            tax_group: m2o(t, "tax_group_id")
                .and_then(|g| groups.iter().find(|x| x.id == g).cloned()),
        };
        let leaves: Vec<Tax> = raw_taxes.iter().map(|t| leaf(t)).collect();
        cat.taxes = raw_taxes
            .iter()
            .zip(&leaves)
            .map(|(raw, tax)| {
                let mut tax = tax.clone();
                if tax.amount_type == AmountType::Group {
                    tax.children = ids(raw, "children_tax_ids")
                        .into_iter()
                        .filter_map(|c| leaves.iter().find(|l| l.id == c).cloned())
                        .collect();
                }
                tax
            })
            .collect();

        let allowed_methods = ids(config, "payment_method_ids");
        let mut methods: Vec<PaymentMethod> = records(root, "pos.payment.method")
            .into_iter()
            .map(|m| PaymentMethod {
                id: i(m, "id"),
                name: s(m, "name").unwrap_or_default(),
                is_cash_count: b(m, "is_cash_count") || s(m, "type").as_deref() == Some("cash"),
                sequence: i(m, "sequence"),
            })
            .filter(|m| allowed_methods.is_empty() || allowed_methods.contains(&m.id))
            .collect();
        methods.sort_by(|a, b| {
            b.is_cash_count
                .cmp(&a.is_cash_count)
                .then(a.sequence.cmp(&b.sequence))
                .then(a.id.cmp(&b.id))
        });
        cat.payment_methods = methods;

        let mut categories: Vec<Category> = records(root, "pos.category")
            .into_iter()
            .map(|c| Category {
                id: i(c, "id"),
                name: s(c, "name").unwrap_or_default(),
                parent_id: m2o(c, "parent_id"),
                sequence: i(c, "sequence"),
            })
            .filter(|c| {
                cat.config.category_ids.is_empty() || cat.config.category_ids.contains(&c.id)
            })
            .collect();
        categories.sort_by(|a, b| a.sequence.cmp(&b.sequence).then(a.id.cmp(&b.id)));
        cat.categories = categories;

        cat.products = records(root, "product.product")
            .into_iter()
            .filter(|p| p.get("active").and_then(Value::as_bool).unwrap_or(true))
            .filter(|p| {
                p.get("available_in_pos")
                    .and_then(Value::as_bool)
                    .unwrap_or(true)
            })
            .map(|p| Product {
                id: i(p, "id"),
                name: s(p, "display_name")
                    .or_else(|| s(p, "name"))
                    .unwrap_or_default(),
                lst_price: f(p, "lst_price"),
                barcode: s(p, "barcode"),
                default_code: s(p, "default_code"),
                taxes_id: ids(p, "taxes_id"),
                // 18: pos_categ_ids (many2many); 16: pos_categ_id (many2one).
                pos_categ_ids: {
                    let many = ids(p, "pos_categ_ids");
                    if many.is_empty() {
                        m2o(p, "pos_categ_id").into_iter().collect()
                    } else {
                        many
                    }
                },
                to_weight: b(p, "to_weight"),
            })
            .collect();

        cat.partners = records(root, "res.partner")
            .into_iter()
            .map(partner_from)
            .collect();
        cat.user = records(root, "res.users")
            .first()
            .map(|u| (i(u, "id"), s(u, "name").unwrap_or_default()));
        Ok(cat)
    }

    /// The company facts the tax computation reads.
    pub fn tax_company(&self) -> TaxCompany {
        TaxCompany {
            rounding: self.company.tax_rounding,
            currency: self.company_currency.clone(),
            fiscal_country_code: self.company.fiscal_country_code.clone(),
        }
    }

    /// A product by id.
    pub fn product(&self, id: i64) -> Option<&Product> {
        self.products.iter().find(|p| p.id == id)
    }

    /// The product with this barcode (or internal reference, as scanners often carry it).
    pub fn product_by_barcode(&self, code: &str) -> Option<&Product> {
        let code = code.trim();
        if code.is_empty() {
            return None;
        }
        self.products
            .iter()
            .find(|p| p.barcode.as_deref() == Some(code))
            .or_else(|| {
                self.products
                    .iter()
                    .find(|p| p.default_code.as_deref() == Some(code))
            })
    }

    /// The taxes of a product, resolved (unknown ids are skipped).
    pub fn product_taxes(&self, product: &Product) -> Vec<Tax> {
        product
            .taxes_id
            .iter()
            .filter_map(|id| self.taxes.iter().find(|t| t.id == *id).cloned())
            .collect()
    }

    /// Products of a category (and its sub-categories) matching a search, in catalogue order.
    pub fn search_products(&self, category: Option<i64>, query: &str) -> Vec<&Product> {
        let q = query.trim().to_lowercase();
        let in_category = |p: &Product| match category {
            None => true,
            Some(c) => p
                .pos_categ_ids
                .iter()
                .any(|pc| self.category_within(*pc, c)),
        };
        self.products
            .iter()
            .filter(|p| in_category(p))
            .filter(|p| {
                q.is_empty()
                    || p.name.to_lowercase().contains(&q)
                    || p.barcode.as_deref().is_some_and(|b| b.contains(&q))
                    || p.default_code
                        .as_deref()
                        .is_some_and(|c| c.to_lowercase().contains(&q))
            })
            .collect()
    }

    /// True when `id` is `ancestor` or below it.
    fn category_within(&self, id: i64, ancestor: i64) -> bool {
        let mut current = Some(id);
        for _ in 0..32 {
            match current {
                Some(c) if c == ancestor => return true,
                Some(c) => {
                    current = self
                        .categories
                        .iter()
                        .find(|x| x.id == c)
                        .and_then(|x| x.parent_id)
                }
                None => return false,
            }
        }
        false
    }

    /// Cash payment method (for change), if the shop has one.
    pub fn cash_method(&self) -> Option<&PaymentMethod> {
        self.payment_methods.iter().find(|m| m.is_cash_count)
    }

    /// What changed for the cashier between two catalogues: products gone, prices changed.
    pub fn changes_since(&self, older: &Catalogue) -> CatalogueChanges {
        let mut changes = CatalogueChanges::default();
        for old in &older.products {
            match self.product(old.id) {
                None => changes.removed.push(old.name.clone()),
                Some(new) if (new.lst_price - old.lst_price).abs() > 1e-9 => changes
                    .repriced
                    .push((new.name.clone(), old.lst_price, new.lst_price)),
                Some(_) => {}
            }
        }
        changes
    }
}

/// Differences a refresh brought, shown to the cashier.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CatalogueChanges {
    /// Products no longer for sale (archived or removed from the POS).
    pub removed: Vec<String>,
    /// (name, old price, new price).
    pub repriced: Vec<(String, f64, f64)>,
}

/// A `res.partner` record (any answer shape) as a [`Partner`].
pub fn partner_from(p: &Map<String, Value>) -> Partner {
    Partner {
        id: i(p, "id"),
        name: s(p, "name").unwrap_or_default(),
        email: s(p, "email"),
        phone: s(p, "phone"),
        mobile: s(p, "mobile"),
        street: s(p, "street"),
        city: s(p, "city"),
        zip: s(p, "zip"),
        vat: s(p, "vat"),
        barcode: s(p, "barcode"),
    }
}
