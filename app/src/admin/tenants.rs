//! The tenants table (search, filters, sort, server-side pages) and the create form.

use super::api::{list_tenants, plan_options, CreateTenant};
use super::model::{TenantQuery, TenantTable, TENANT_SORTS, TENANT_STATES};
use super::widgets::{action_error, href, CsrfField, ErrorBox, Pager, StateBadge};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

fn link_for(q: &TenantQuery, sort: &str, dir: &str, page: u32) -> String {
    href(
        "/admin/tenants",
        &[
            ("q", q.q.clone()),
            ("state", q.state.clone()),
            ("plan", q.plan.clone()),
            ("sort", sort.to_owned()),
            ("dir", dir.to_owned()),
            (
                "page",
                if page > 1 {
                    page.to_string()
                } else {
                    String::new()
                },
            ),
            (
                "per_page",
                if q.per_page != 25 {
                    q.per_page.to_string()
                } else {
                    String::new()
                },
            ),
        ],
    )
}

/// Every tenant, 25 to 100 a page.
#[component]
pub fn TenantsPage() -> impl IntoView {
    let query = use_query_map();
    let tenant_query = move || {
        query.with(|m| TenantQuery {
            q: m.get("q").unwrap_or_default(),
            state: m.get("state").unwrap_or_default(),
            plan: m.get("plan").unwrap_or_default(),
            sort: m.get("sort").unwrap_or_default(),
            dir: m.get("dir").unwrap_or_default(),
            page: m.get("page").and_then(|p| p.parse().ok()).unwrap_or(1),
            per_page: m.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(25),
        })
    };
    let data = Resource::new(tenant_query, list_tenants);
    view! {
        <Title text="Tenants · Odoo SaaS" />
        <div class="page-head">
            <h1>"Tenants"</h1>
            <a class="button primary" href="/admin/tenants/new">
                "New tenant"
            </a>
        </div>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                    Ok(table) => view! { <TenantList table /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn TenantList(table: TenantTable) -> impl IntoView {
    let q = table.query.clone();
    let pager_q = q.clone();
    let link = Callback::new(move |n: u32| link_for(&pager_q, &pager_q.sort, &pager_q.dir, n));
    let header = TENANT_SORTS
        .iter()
        .map(|(key, label)| {
            let active = q.sort == *key;
            let next_dir = if active && q.dir == "asc" {
                "desc"
            } else {
                "asc"
            };
            let aria = if active {
                if q.dir == "asc" {
                    "ascending"
                } else {
                    "descending"
                }
            } else {
                "none"
            };
            let arrow = if active {
                if q.dir == "asc" {
                    " ▲"
                } else {
                    " ▼"
                }
            } else {
                ""
            };
            view! {
                <th scope="col" aria-sort=aria>
                    <a href=link_for(&q, key, next_dir, 1)>{*label} {arrow}</a>
                </th>
            }
        })
        .collect_view();
    view! {
        <Form method="GET" action="/admin/tenants" attr:class="filters" attr:role="search">
            <label for="f-q">"Search"</label>
            <input
                id="f-q"
                type="search"
                name="q"
                value=q.q.clone()
                placeholder="name, owner or company"
            />
            <label for="f-state">"State"</label>
            <select id="f-state" name="state">
                <option value="" selected=q.state.is_empty()>
                    "All"
                </option>
                {TENANT_STATES
                    .iter()
                    .map(|s| {
                        view! {
                            <option value=*s selected=q.state == *s>
                                {*s}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
            <label for="f-plan">"Plan"</label>
            <select id="f-plan" name="plan">
                <option value="" selected=q.plan.is_empty()>
                    "All"
                </option>
                {table
                    .plans
                    .iter()
                    .map(|p| {
                        view! {
                            <option value=p.key.clone() selected=q.plan == p.key>
                                {p.name.clone()}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
            <input type="hidden" name="sort" value=q.sort.clone() />
            <input type="hidden" name="dir" value=q.dir.clone() />
            <button type="submit">"Apply"</button>
            <a href="/admin/tenants">"Clear"</a>
        </Form>
        {if table.rows.is_empty() {
            view! { <p class="empty">"No tenant matches."</p> }.into_any()
        } else {
            view! {
                <table class="data" id="tenants-table">
                    <thead>
                        <tr>{header}</tr>
                    </thead>
                    <tbody>
                        {table
                            .rows
                            .into_iter()
                            .map(|t| {
                                view! {
                                    <tr data-slug=t.slug.clone()>
                                        <td>
                                            <a href=format!("/admin/tenants/{}", t.slug)>{t.slug.clone()}</a>
                                            <div class="sub">{t.company_name}</div>
                                        </td>
                                        <td>
                                            <StateBadge state=t.state />
                                            {t.pending_op.map(|op| view! { <span class="sub">{format!(" {op}…")}</span> })}
                                        </td>
                                        <td>{t.plan}</td>
                                        <td>{t.owner_email}</td>
                                        <td class="nowrap">{t.created_at}</td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            }
                .into_any()
        }}
        <Pager page=q.page per_page=q.per_page total=table.total link noun="tenants" />
    }
}

/// The create-tenant form, with a message next to the field at fault.
#[component]
pub fn NewTenantPage() -> impl IntoView {
    let create = ServerAction::<CreateTenant>::new();
    let plans = Resource::new(|| (), |_| plan_options());
    let multi = RwSignal::new(false);
    let field_error = move |field: &'static str| {
        move || {
            create
                .value()
                .get()
                .and_then(|r| r.err())
                .and_then(|e| e.for_field(field))
                .map(|m| view! { <p class="field-error" id=format!("{field}-error") role="alert">{m}</p> })
        }
    };
    view! {
        <Title text="New tenant · Odoo SaaS" />
        <h1>"New tenant"</h1>
        <ActionForm action=create attr:class="card form" attr:aria-label="New tenant">
            <CsrfField />
            <label for="slug">"Name (subdomain)"</label>
            <input
                id="slug"
                name="slug"
                required
                pattern="[a-z][a-z0-9\\-]{1,30}[a-z0-9]"
                title="3 to 32 lowercase letters, digits or hyphens"
                aria-describedby="slug-help"
                autocomplete="off"
            />
            <p class="help" id="slug-help">
                "3 to 32 lowercase letters, digits or hyphens; it becomes <name>.<your domain>."
            </p>
            {field_error("slug")}
            <label for="owner_email">"Owner's email"</label>
            <input id="owner_email" name="owner_email" type="email" required autocomplete="off" />
            {field_error("owner_email")}
            <label for="owner_name">"Owner's name"</label>
            <input id="owner_name" name="owner_name" placeholder="from the email if empty" />
            {field_error("owner_name")}
            <label for="owner_password">"Owner's first Odoo password"</label>
            <input
                id="owner_password"
                name="owner_password"
                type="password"
                required
                minlength="8"
                autocomplete="new-password"
            />
            {field_error("owner_password")}
            <label for="plan">"Plan"</label>
            <Suspense fallback=|| view! { <select id="plan" name="plan" disabled></select> }>
                {move || Suspend::new(async move {
                    let options = plans.await.unwrap_or_default();
                    view! {
                        <select id="plan" name="plan" required>
                            {options
                                .into_iter()
                                .map(|p| {
                                    view! {
                                        <option value=p.key.clone()>
                                            {format!("{} (up to {} companies)", p.name, p.max_companies)}
                                        </option>
                                    }
                                })
                                .collect_view()}
                        </select>
                    }
                })}
            </Suspense>
            {field_error("plan")}
            <label for="company_name">"Main company"</label>
            <input id="company_name" name="company_name" placeholder="the name if empty" />
            {field_error("company_name")}
            <label class="check">
                <input
                    type="checkbox"
                    name="multi_company"
                    value="on"
                    on:change=move |ev| multi.set(event_target_checked(&ev))
                />
                " Multi-company"
            </label>
            <div class="multi" class:hidden=move || !multi.get()>
                <label for="companies">"Further companies, one per line"</label>
                <textarea id="companies" name="companies" rows="3"></textarea>
                {field_error("companies")}
                {field_error("extra_companies")}
            </div>
            {action_error(create)}
            <button type="submit" class="primary" disabled=move || create.pending().get()>
                {move || if create.pending().get() { "Creating…" } else { "Create tenant" }}
            </button>
        </ActionForm>
    }
}
