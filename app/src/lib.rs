//! The portals: Leptos components, pages and `#[server]` functions.
//!
//! Rendered on the server (feature `ssr`) and hydrated in the browser (feature `hydrate`).
//! Server functions reach the service layer through Leptos context, which the server
//! provides per request (see `server::web`).

pub mod admin;
pub mod client;
pub mod confirm;
pub mod owner;
pub mod platform;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{ParentRoute, Route, Router, Routes},
    path, SsrMode, StaticSegment,
};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The root component: routes of the portals.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Marks the document once the wasm has taken over, so tests (and people reading the
    // DOM) can tell a server-rendered page from a hydrated one.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/saas.css" />
        <Title text="Odoo SaaS Platform" />
        <Router>
            <Routes fallback=NotFound>
                <Route path=StaticSegment("") view=owner::HomePage ssr=SsrMode::Async />
                <Route path=path!("/signup") view=owner::SignUpPage />
                <Route path=path!("/signin") view=owner::OwnerSignInPage />
                <Route path=path!("/verify") view=owner::VerifyPage />
                <Route path=path!("/forgot") view=owner::ForgotPage />
                <Route path=path!("/reset") view=owner::ResetPage ssr=SsrMode::Async />
                <Route path=path!("/confirm-email") view=owner::ConfirmEmailPage />
                <ParentRoute path=path!("/my") view=owner::OwnerLayout ssr=SsrMode::Async>
                    <Route path=path!("") view=owner::MyTenantsPage ssr=SsrMode::Async />
                    <Route path=path!("new") view=owner::NewTenantPage ssr=SsrMode::Async />
                    <Route path=path!("tenants/:id") view=owner::OwnerTenantPage ssr=SsrMode::Async />
                    <Route path=path!("account") view=owner::AccountPage ssr=SsrMode::Async />
                </ParentRoute>
                <Route path=path!("/admin/login") view=admin::LoginPage ssr=SsrMode::Async />
                <ParentRoute path=path!("/admin") view=admin::AdminLayout ssr=SsrMode::Async>
                    <Route path=path!("") view=admin::DashboardPage ssr=SsrMode::Async />
                    <Route path=path!("tenants") view=admin::TenantsPage ssr=SsrMode::Async />
                    <Route path=path!("tenants/new") view=admin::NewTenantPage ssr=SsrMode::Async />
                    <Route path=path!("tenants/:slug") view=admin::TenantPage ssr=SsrMode::Async />
                    <Route path=path!("jobs") view=admin::JobsPage ssr=SsrMode::Async />
                    <Route path=path!("plans") view=admin::PlansPage ssr=SsrMode::Async />
                    <Route path=path!("outbox") view=admin::OutboxPage ssr=SsrMode::Async />
                    <Route path=path!("owners") view=admin::OwnersPage ssr=SsrMode::Async />
                    <Route path=path!("audit") view=admin::AuditLogPage ssr=SsrMode::Async />
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// The page shown for an unknown path.
#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <main class="page">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. " <a href="/">"Go to the home page"</a> "."</p>
        </main>
    }
}
