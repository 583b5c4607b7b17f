//! The till's logic, without a browser: compiled natively (tests, benchmarks) and into the
//! POS PWA (wasm).
//!
//! - [`money`]: Odoo 18's rounding (`roundPrecision`) and currencies.
//! - [`tax`]: Odoo 18's tax computation (`account_tax.js`), line by line and per document.
//! - [`catalogue`]: products, taxes, payment methods, customers... from `load_data`.
//! - [`order`]: the order a cashier builds, its totals, its `pos.order` values.
//! - [`sync`]: the exactly-once sync engine over any store and any Odoo caller.
#![warn(missing_docs)]

pub mod catalogue;
pub mod money;
pub mod order;
pub mod sync;
pub mod tax;

pub use catalogue::{
    Catalogue, CatalogueChanges, Category, Company, Partner, PaymentMethod, Product, SessionInfo,
    ShopConfig,
};
pub use money::{Currency, RoundingMethod};
pub use order::{
    order_reference, uuid_v4, NewOrder, Order, OrderLine, OrderState, OrderTotals, PartnerRef,
    PayError, Payment,
};
pub use sync::{
    Backoff, CycleReport, NewPartner, QueuedOrder, QueuedPartner, Stop, SyncEngine, SyncStatus,
    SyncStore,
};
pub use tax::{Tax, TaxCompany, TaxRounding};
