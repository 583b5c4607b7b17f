//! The outbox: every message the platform sends, its state (queued, failed, sent, dead),
//! attempts and last error, with Retry for failed and dead ones.

use super::api::{list_outbox, RetryMessage};
use super::model::{OutboxQuery, OutboxRow};
use super::widgets::{action_error, href, CsrfField, ErrorBox, Pager, StateBadge};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// Messages newest first, filtered by state.
#[component]
pub fn OutboxPage() -> impl IntoView {
    let query = use_query_map();
    let retry = ServerAction::<RetryMessage>::new();
    let outbox_query = move || {
        query.with(|q| OutboxQuery {
            state: q.get("state").unwrap_or_default(),
            page: q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1),
        })
    };
    let data = Resource::new(
        move || (outbox_query(), retry.version().get()),
        |(q, _)| list_outbox(q),
    );
    view! {
        <Title text="Outbox · Odoo SaaS" />
        <h1>"Outbox"</h1>
        <p class="help">
            "Every message is stored here in the same transaction as the change that causes it, then sent over SMTP. "
            "Failed messages are retried with growing delays; dead ones ran out of attempts or were refused for good."
        </p>
        {action_error(retry)}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                    Ok(page) => {
                        let q = page.query.clone();
                        let link = {
                            let q = q.clone();
                            Callback::new(move |n: u32| {
                                href("/admin/outbox", &[("state", q.state.clone()), ("page", n.to_string())])
                            })
                        };
                        view! {
                            <ul class="cards" id="outbox-counts">
                                {page
                                    .counts
                                    .into_iter()
                                    .map(|(state, n)| {
                                        let class = format!("card stat state-{state}");
                                        let to = href("/admin/outbox", &[("state", state.clone())]);
                                        let attr = state.clone();
                                        view! {
                                            <li class=class data-state=attr>
                                                <a href=to>
                                                    <span class="num">{n}</span>
                                                    <span class="what">{state}</span>
                                                </a>
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                            <p>
                                {if q.state.is_empty() {
                                    view! { <span>"All messages"</span> }.into_any()
                                } else {
                                    view! {
                                        <span>{format!("Only {} messages · ", q.state)}</span>
                                        <a href="/admin/outbox">"Show all"</a>
                                    }
                                        .into_any()
                                }}
                            </p>
                            <OutboxTable rows=page.rows retry />
                            <Pager page=q.page per_page=page.per_page total=page.total link noun="messages" />
                        }
                            .into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn OutboxTable(rows: Vec<OutboxRow>, retry: ServerAction<RetryMessage>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="empty">"No messages."</p> }.into_any();
    }
    view! {
        <table class="data" id="outbox-table">
            <thead>
                <tr>
                    <th scope="col">"Queued (UTC)"</th>
                    <th scope="col">"To"</th>
                    <th scope="col">"Subject"</th>
                    <th scope="col">"Tenant"</th>
                    <th scope="col">"State"</th>
                    <th scope="col">"Attempts"</th>
                    <th scope="col">
                        <span class="sr-only">"Actions"</span>
                    </th>
                </tr>
            </thead>
            <tbody>
                {rows
                    .into_iter()
                    .map(|m| {
                        let retryable = m.retryable();
                        let id = m.id.clone();
                        view! {
                            <tr data-outbox-id=m.id.clone() data-state=m.state.clone() data-template=m.template.clone()>
                                <td class="nowrap">{m.created_at.clone()}</td>
                                <td>{m.to.clone()}</td>
                                <td>
                                    {m.subject.clone()}
                                    <div class="sub">
                                        <code>{m.template.clone()}</code>
                                        " · "
                                        <code>{m.message_id.clone()}</code>
                                    </div>
                                    {m.last_error.clone().map(|e| view! { <div class="error-text">{e}</div> })}
                                </td>
                                <td>
                                    {m.tenant_slug.clone().map(|s| view! { <a href=format!("/admin/tenants/{s}")>{s.clone()}</a> })}
                                </td>
                                <td>
                                    <StateBadge state=m.state.clone() />
                                    {m.sent_at.clone().map(|t| view! { <div class="sub">{t}</div> })}
                                </td>
                                <td>{m.attempts}</td>
                                <td class="nowrap">
                                    {retryable.then(|| view! {
                                        <ActionForm action=retry attr:class="inline">
                                            <CsrfField />
                                            <input type="hidden" name="id" value=id.clone() />
                                            <button type="submit" class="small retry" disabled=move || retry.pending().get()>
                                                "Retry"
                                            </button>
                                        </ActionForm>
                                    })}
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
