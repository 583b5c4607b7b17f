//! The superadmin portal: sign-in, dashboard, tenants, jobs, plans and the audit log.
//! Pages are rendered whole on the server (`SsrMode::Async`), so they read and navigate
//! before the wasm has loaded; forms post to server functions with or without it.

pub mod api;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod billing;
pub mod model;

mod audit;
mod dashboard;
mod diagnostics;
mod domains;
mod jobs;
mod layout;
mod login;
mod outbox;
mod owners;
mod plans;
mod tenant;
mod tenants;
pub(crate) mod widgets;

pub use audit::AuditLogPage;
pub use dashboard::DashboardPage;
pub use jobs::JobsPage;
pub use layout::AdminLayout;
pub use login::LoginPage;
pub use outbox::OutboxPage;
pub use owners::OwnersPage;
pub use plans::PlansPage;
pub use tenant::TenantPage;
pub use tenants::{NewTenantPage, TenantsPage};
pub use widgets::encode;
