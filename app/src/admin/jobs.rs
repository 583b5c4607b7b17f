//! The jobs monitor: queued and running jobs with progress, failures with their errors,
//! recent history. Live over server-sent events (`/admin/events/jobs`) once hydrated.

use super::api::{list_jobs, ChangeJob};
use super::model::{JobRow, JobsView};
use super::tenant::JobButton;
use super::widgets::{action_error, ErrorBox, JobProgress, StateBadge};
use leptos::prelude::*;
use leptos_meta::Title;

/// Jobs, live.
#[component]
pub fn JobsPage() -> impl IntoView {
    let first = Resource::new(|| (), |_| list_jobs());
    let live = RwSignal::new(None::<JobsView>);
    let connected = RwSignal::new(false);
    let change = ServerAction::<ChangeJob>::new();
    #[cfg(feature = "hydrate")]
    live_updates(live, connected);
    view! {
        <Title text="Jobs · Odoo SaaS" />
        <div class="page-head">
            <h1>"Jobs"</h1>
            <span class="live-status" data-live=move || connected.get().to_string() role="status">
                {move || if connected.get() { "● Live" } else { "○ Not live: reload to refresh" }}
            </span>
        </div>
        {action_error(change)}
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let first = first.await;
                view! {
                    {move || match live.get().map(Ok).unwrap_or_else(|| first.clone()) {
                        Err(error) => view! { <ErrorBox error /> }.into_any(),
                        Ok(v) => {
                            view! {
                                <section aria-labelledby="active-h">
                                    <h2 id="active-h">"Queued and running"</h2>
                                    <JobTable jobs=v.active change empty="Nothing to do." />
                                </section>
                                <section aria-labelledby="failed-h">
                                    <h2 id="failed-h">"Failed and dead"</h2>
                                    <JobTable jobs=v.failed change empty="No failures." />
                                </section>
                                <section aria-labelledby="recent-h">
                                    <h2 id="recent-h">"Recently finished"</h2>
                                    <JobTable jobs=v.recent change empty="Nothing yet." />
                                </section>
                            }
                                .into_any()
                        }
                    }}
                }
            })}
        </Suspense>
    }
}

#[cfg(feature = "hydrate")]
fn live_updates(live: RwSignal<Option<JobsView>>, connected: RwSignal<bool>) {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    let Ok(source) = web_sys::EventSource::new("/admin/events/jobs") else {
        return;
    };
    let on_jobs =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            if let Some(text) = ev.data().as_string() {
                if let Ok(view) = serde_json::from_str::<JobsView>(&text) {
                    live.set(Some(view));
                    connected.set(true);
                }
            }
        });
    let _ = source.add_event_listener_with_callback("jobs", on_jobs.as_ref().unchecked_ref());
    // The server ends the stream when the session ends: go to the sign-in page, which says so.
    let on_session = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_| {
        connected.set(false);
        let _ = window()
            .location()
            .set_href("/admin/login?next=%2Fadmin%2Fjobs&expired=1");
    });
    let _ = source.add_event_listener_with_callback("session", on_session.as_ref().unchecked_ref());
    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| connected.set(false));
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    // The closures live as long as the page's source; all go on cleanup.
    let keep = send_wrapper::SendWrapper::new((source, on_jobs, on_session, on_error));
    on_cleanup(move || keep.0.close());
}

/// A table of jobs with their tenant, progress, error and Retry/Cancel buttons.
#[component]
pub fn JobTable(
    jobs: Vec<JobRow>,
    change: ServerAction<ChangeJob>,
    empty: &'static str,
) -> impl IntoView {
    if jobs.is_empty() {
        return view! { <p class="empty">{empty}</p> }.into_any();
    }
    view! {
        <table class="data jobs">
            <thead>
                <tr>
                    <th scope="col">"Job"</th>
                    <th scope="col">"Tenant"</th>
                    <th scope="col">"State"</th>
                    <th scope="col">"Progress"</th>
                    <th scope="col">"Attempts"</th>
                    <th scope="col">"Updated (UTC)"</th>
                    <th scope="col">
                        <span class="sr-only">"Actions"</span>
                    </th>
                </tr>
            </thead>
            <tbody>
                {jobs
                    .into_iter()
                    .map(|j| {
                        let tenant = j.tenant_slug.clone();
                        let tenant_state = j.tenant_state.clone();
                        let tenant_attr = tenant.clone().unwrap_or_default();
                        let tenant_state_attr = tenant_state.clone().unwrap_or_default();
                        let job_id = j.id.clone();
                        let job_state = j.state.clone();
                        view! {
                            <tr
                                data-job-id=job_id
                                data-tenant=tenant_attr
                                data-state=job_state
                                data-tenant-state=tenant_state_attr
                            >
                                <td>
                                    <code>{j.kind.clone()}</code>
                                    {j.last_error.clone().filter(|_| j.state != "succeeded").map(|e| view! { <div class="error-text">{e}</div> })}
                                </td>
                                <td>
                                    {tenant
                                        .map(|s| {
                                            view! {
                                                <a href=format!("/admin/tenants/{s}")>{s.clone()}</a>
                                                {tenant_state.map(|st| view! { " " <StateBadge state=st /> })}
                                            }
                                        })}
                                </td>
                                <td>
                                    <StateBadge state=j.state.clone() />
                                </td>
                                <td>
                                    <JobProgress job=j.clone() />
                                </td>
                                <td>{format!("{}/{}", j.attempts, j.max_attempts)}</td>
                                <td class="nowrap">{j.updated_at.clone()}</td>
                                <td class="nowrap">
                                    {j.retryable().then(|| view! { <JobButton action=change id=j.id.clone() op="retry" label="Retry" /> })}
                                    {j.cancellable().then(|| view! { <JobButton action=change id=j.id.clone() op="cancel" label="Cancel" /> })}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
