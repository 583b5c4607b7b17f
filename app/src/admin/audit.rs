//! The audit log, filterable by tenant and actor.

use super::api::list_audit;
use super::model::AuditQuery;
use super::widgets::{href, AuditTable, ErrorBox, Pager};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

/// Every change, newest first.
#[component]
pub fn AuditLogPage() -> impl IntoView {
    let query = use_query_map();
    let audit_query = move || {
        query.with(|q| AuditQuery {
            tenant: q.get("tenant").unwrap_or_default(),
            actor: q.get("actor").unwrap_or_default(),
            page: q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1),
        })
    };
    let data = Resource::new(audit_query, list_audit);
    view! {
        <Title text="Audit log · Odoo SaaS" />
        <h1>"Audit log"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                    Ok(page) => {
                        let q = page.query.clone();
                        let link = {
                            let q = q.clone();
                            Callback::new(move |n: u32| {
                                href(
                                    "/admin/audit",
                                    &[
                                        ("tenant", q.tenant.clone()),
                                        ("actor", q.actor.clone()),
                                        ("page", n.to_string()),
                                    ],
                                )
                            })
                        };
                        view! {
                            <Form method="GET" action="/admin/audit" attr:class="filters" attr:role="search">
                                <label for="f-tenant">"Tenant"</label>
                                <input id="f-tenant" name="tenant" value=q.tenant.clone() placeholder="slug" />
                                <label for="f-actor">"Actor"</label>
                                <input
                                    id="f-actor"
                                    name="actor"
                                    value=q.actor.clone()
                                    placeholder="system, superadmin:you@example.com"
                                />
                                <button type="submit">"Filter"</button>
                                <a href="/admin/audit">"Clear"</a>
                            </Form>
                            <AuditTable rows=page.rows />
                            <Pager page=q.page per_page=page.per_page total=page.total link noun="entries" />
                        }
                            .into_any()
                    }
                }
            })}
        </Transition>
    }
}
