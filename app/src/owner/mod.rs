//! What tenant owners use: the front door at `<domain>` (the product, its plans, sign up and
//! sign in), the account pages, and the owner portal under `/my` (their tenants, a new one
//! with live progress, each tenant's actions, the account). Rendered on the server and
//! hydrated, like the operations portal, and independent of it: owner pages never need
//! the operators' host (`admin.<domain>`), and the owner's cookie is `saas_owner`.

pub mod account;
pub mod api;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod billing;
pub mod domains;
pub mod front;
pub mod model;
pub mod portal;

pub use account::{
    ConfirmEmailPage, ForgotPage, OwnerSignInPage, ResetPage, SignUpPage, VerifyPage,
};
pub use front::HomePage;
pub use portal::{AccountPage, MyTenantsPage, NewTenantPage, OwnerLayout, OwnerTenantPage};
