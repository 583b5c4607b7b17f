//! The operator's diagnostics on the dashboard (once the public home page's): which Odoo
//! the platform drives, and a live read of the platform database.

use crate::platform::{get_odoo_target, CheckDatabase};
use leptos::prelude::*;

/// Which Odoo, and a button that reads the platform database through a server function.
#[component]
pub fn Diagnostics() -> impl IntoView {
    let check = ServerAction::<CheckDatabase>::new();
    let odoo = Resource::new(|| (), |_| get_odoo_target());
    view! {
        <section class="card" aria-labelledby="odoo-heading">
            <h2 id="odoo-heading">"Odoo"</h2>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    odoo.get()
                        .map(|target| match target {
                            Ok(Some(t)) if t.simulated => view! {
                                <p id="odoo-target" class="notice">
                                    "Using the bundled Odoo simulator (odoo-sim) at " <code>{t.url}</code>
                                    ". Set ODOO_URL to drive a real Odoo."
                                </p>
                            }.into_any(),
                            Ok(Some(t)) => view! {
                                <p id="odoo-target">"Driving Odoo at " <code>{t.url}</code> "."</p>
                            }.into_any(),
                            Ok(None) => view! {
                                <p id="odoo-target" class="notice">
                                    "No Odoo is configured: set ODOO_URL."
                                </p>
                            }.into_any(),
                            Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                        })
                }}
            </Suspense>
        </section>
        <section class="card" aria-labelledby="db-heading">
            <h2 id="db-heading">"Platform database"</h2>
            <p>"Ask the server to read the platform's PostgreSQL database."</p>
            <button
                id="check-database"
                class="button"
                on:click=move |_| {
                    check.dispatch(CheckDatabase {});
                }
                disabled=move || check.pending().get()
            >
                {move || if check.pending().get() { "Checking…" } else { "Check database" }}
            </button>
            <div id="database-report" aria-live="polite">
                {move || match check.value().get() {
                    None => view! { <p class="muted">"Not checked yet."</p> }.into_any(),
                    Some(Ok(report)) => view! {
                        <dl class="facts">
                            <dt>"Database"</dt>
                            <dd id="db-name">{report.database}</dd>
                            <dt>"Server"</dt>
                            <dd id="db-version">{report.server_version}</dd>
                            <dt>"Migrations applied"</dt>
                            <dd id="db-migrations">{report.migrations_applied}</dd>
                            <dt>"Checked at"</dt>
                            <dd id="db-checked-at">{report.checked_at}</dd>
                        </dl>
                    }.into_any(),
                    Some(Err(e)) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                }}
            </div>
        </section>
    }
}
