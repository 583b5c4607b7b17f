//! The frame of every signed-in page: navigation, the operator, sign-out.

use super::api::SignOut;
use super::widgets::{CsrfField, MeResource};
use leptos::prelude::*;
use leptos_router::components::{Outlet, A};

/// Navigation and the page.
#[component]
pub fn AdminLayout() -> impl IntoView {
    let me = MeResource::new();
    provide_context(me);
    let sign_out = ServerAction::<SignOut>::new();
    view! {
        <div class="admin">
            <a class="skip-link" href="#main">
                "Skip to content"
            </a>
            <header class="topbar">
                <a class="brand" href="/admin">
                    "Odoo SaaS · Operations"
                </a>
                <nav aria-label="Main">
                    <A href="/admin" exact=true>
                        "Dashboard"
                    </A>
                    <A href="/admin/tenants">"Tenants"</A>
                    <A href="/admin/jobs">"Jobs"</A>
                    <A href="/admin/plans">"Plans"</A>
                    <A href="/admin/outbox">"Outbox"</A>
                    <A href="/admin/owners">"Owners"</A>
                    <A href="/admin/audit">"Audit log"</A>
                </nav>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        me.0
                            .await
                            .ok()
                            .map(|m| {
                                view! {
                                    <div class="who">
                                        <span data-testid="signed-in-as">{m.email}</span>
                                        <ActionForm action=sign_out attr:class="inline">
                                            <CsrfField />
                                            <button type="submit" class="link">
                                                "Sign out"
                                            </button>
                                        </ActionForm>
                                    </div>
                                }
                            })
                    })}
                </Suspense>
            </header>
            <main id="main" class="page wide" tabindex="-1">
                <Outlet />
            </main>
        </div>
    }
}
