//! The dashboard: tenants by state, jobs that need attention, recent audit entries.

use super::api::dashboard_counts;
use super::diagnostics::Diagnostics;
use super::widgets::{AuditTable, ErrorBox};
use leptos::prelude::*;
use leptos_meta::Title;

/// The operator's first page.
#[component]
pub fn DashboardPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| dashboard_counts());
    view! {
        <Title text="Dashboard · Odoo SaaS" />
        <h1>"Dashboard"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                    Ok(d) => {
                        view! {
                            <section aria-labelledby="tenants-h">
                                <h2 id="tenants-h">"Tenants"</h2>
                                <StatCards cards=d
                                    .tenants_by_state
                                    .into_iter()
                                    .map(|(state, n)| {
                                        let link = format!("/admin/tenants?state={state}");
                                        (state, n, link)
                                    })
                                    .collect() />
                            </section>
                            <super::billing::BillingDashboard />
                            <section aria-labelledby="jobs-h">
                                <h2 id="jobs-h">"Jobs"</h2>
                                <StatCards cards=[
                                    ("queued", d.jobs_queued),
                                    ("running", d.jobs_running),
                                    ("failed", d.jobs_failed),
                                    ("dead", d.jobs_dead),
                                ]
                                    .into_iter()
                                    .map(|(state, n)| (state.to_owned(), n, "/admin/jobs".to_owned()))
                                    .collect() />
                            </section>
                            <Diagnostics />
                            <section aria-labelledby="audit-h">
                                <h2 id="audit-h">"Recent changes"</h2>
                                <AuditTable rows=d.recent_audit />
                                <p>
                                    <a href="/admin/audit">"Whole audit log →"</a>
                                </p>
                            </section>
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// Counts as cards, each a link: (state, count, link).
#[component]
fn StatCards(cards: Vec<(String, i64, String)>) -> impl IntoView {
    view! {
        <ul class="cards">
            {cards
                .into_iter()
                .map(|(state, n, link)| {
                    let class = format!("card stat state-{state}");
                    view! {
                        <li class=class>
                            <a href=link>
                                <span class="num">{n}</span>
                                <span class="what">{state}</span>
                            </a>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}
