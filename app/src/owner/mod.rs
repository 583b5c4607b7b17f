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

use crate::admin::model::AdminError;
use leptos::prelude::*;

/// The message of an action's last failure for `field` (`""`: the failure of no field),
/// shown under the form's field.
pub(crate) fn error_for<T: Clone + Send + Sync + 'static>(
    value: MappedSignal<Option<Result<T, AdminError>>>,
    field: &'static str,
) -> impl Fn() -> Option<AnyView> + Send + Sync + 'static {
    move || {
        value
            .get()
            .and_then(|r| r.err())
            .and_then(|e| {
                if field.is_empty() {
                    e.field.is_none().then_some(e.message)
                } else {
                    e.for_field(field)
                }
            })
            .map(|m| view! { <p class="field-error" role="alert">{m}</p> }.into_any())
    }
}
pub use portal::{AccountPage, MyTenantsPage, NewTenantPage, OwnerLayout, OwnerTenantPage};
