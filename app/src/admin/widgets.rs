//! Small pieces every portal page uses.

use super::api::whoami;
use super::model::{AdminError, AuditRow, ErrorKind, JobRow, Me};
use leptos::prelude::*;

/// The signed-in operator, loaded once by the layout and shared by every form.
#[derive(Clone, Copy)]
pub struct MeResource(pub Resource<Result<Me, AdminError>>);

impl MeResource {
    /// Loads the operator (from the server's session).
    pub fn new() -> Self {
        MeResource(Resource::new(|| (), |_| whoami()))
    }
}

/// The hidden CSRF field every state-changing form carries.
#[component]
pub fn CsrfField() -> impl IntoView {
    let me = use_context::<MeResource>();
    view! {
        <Suspense fallback=|| ()>
            {move || {
                me.map(|me| {
                    Suspend::new(async move {
                        let csrf = me.0.await.map(|m| m.csrf).unwrap_or_default();
                        view! { <input type="hidden" name="csrf" value=csrf /> }
                    })
                })
            }}
        </Suspense>
    }
}

/// An error box for a failed load or action.
#[component]
pub fn ErrorBox(error: AdminError) -> impl IntoView {
    let signed_out = error.kind == ErrorKind::Unauthorized;
    view! {
        <p class="alert error" role="alert">
            {error.message}
            {signed_out.then(|| view! { " " <a href="/admin/login?expired=1">"Sign in again"</a> })}
        </p>
    }
}

/// The error of the last run of an action, if it failed.
pub fn action_error<I, O>(action: ServerAction<I>) -> impl IntoView
where
    I: server_fn::ServerFn<Output = O, Error = AdminError> + Clone + Send + Sync + 'static,
    O: Clone + Send + Sync + 'static,
    ServerAction<I>: Copy,
{
    move || {
        action
            .value()
            .get()
            .and_then(|r| r.err())
            .filter(|e| e.field.is_none())
            .map(|error| view! { <ErrorBox error /> })
    }
}

/// A coloured state badge (tenant or job state).
#[component]
pub fn StateBadge(state: String) -> impl IntoView {
    let class = format!("badge state-{state}");
    view! { <span class=class>{state}</span> }
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Builds `path?k=v&…` from the non-empty pairs.
pub fn href(path: &str, pairs: &[(&str, String)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// Previous/next links and "page x of y".
#[component]
pub fn Pager(
    page: u32,
    per_page: u32,
    total: i64,
    /// Link to page n.
    link: Callback<u32, String>,
    /// What is counted, plural ("tenants").
    noun: &'static str,
) -> impl IntoView {
    let pages =
        u32::try_from((total.max(0) + i64::from(per_page) - 1) / i64::from(per_page.max(1)))
            .unwrap_or(u32::MAX)
            .max(1);
    let prev = (page > 1).then(|| link.run(page - 1));
    let next = (page < pages).then(|| link.run(page + 1));
    view! {
        <nav class="pager" aria-label="Pages">
            {match prev {
                Some(h) => view! { <a href=h rel="prev">"← Previous"</a> }.into_any(),
                None => view! { <span class="disabled">"← Previous"</span> }.into_any(),
            }}
            <span class="pager-info">
                {format!("Page {page} of {pages} · {total} {noun}")}
            </span>
            {match next {
                Some(h) => view! { <a href=h rel="next">"Next →"</a> }.into_any(),
                None => view! { <span class="disabled">"Next →"</span> }.into_any(),
            }}
        </nav>
    }
}

/// The audit entries table.
#[component]
pub fn AuditTable(rows: Vec<AuditRow>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="empty">"No entries."</p> }.into_any();
    }
    view! {
        <table class="data audit">
            <thead>
                <tr>
                    <th scope="col">"When (UTC)"</th>
                    <th scope="col">"Actor"</th>
                    <th scope="col">"Action"</th>
                    <th scope="col">"Tenant"</th>
                    <th scope="col">"Details"</th>
                </tr>
            </thead>
            <tbody>
                {rows
                    .into_iter()
                    .map(|r| {
                        let tenant = r.tenant_slug.clone();
                        let action = r.action.clone();
                        view! {
                            <tr data-action=action>
                                <td class="nowrap">{r.at}</td>
                                <td>{r.actor}</td>
                                <td>
                                    <code>{r.action}</code>
                                </td>
                                <td>
                                    {tenant
                                        .map(|s| {
                                            view! { <a href=format!("/admin/tenants/{s}")>{s.clone()}</a> }
                                        })}
                                </td>
                                <td class="details">
                                    <code>{r.details}</code>
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

/// One job's progress bar and label.
#[component]
pub fn JobProgress(job: JobRow) -> impl IntoView {
    let percent = job.percent();
    let label = if job.label.is_empty() {
        job.state.clone()
    } else {
        job.label.clone()
    };
    let text = if job.total > 0 {
        format!("{label} ({}/{})", job.step.min(job.total), job.total)
    } else {
        label
    };
    view! {
        <div class="progress-cell">
            <progress max="100" value=percent.to_string() aria-label=format!("{percent}% done")>
                {format!("{percent}%")}
            </progress>
            <span class="progress-label">{text}</span>
        </div>
    }
}
