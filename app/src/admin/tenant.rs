//! One tenant: state, link, plan, database size, its jobs and audit trail, and actions.

use super::api::{get_tenant, get_tenant_domains, ChangeDomain, ChangeJob, ChangeTenant};
use super::domains::TenantDomains;
use super::jobs::JobTable;
use super::model::{DomainRow, TenantDetail};
use super::widgets::{action_error, AuditTable, CsrfField, ErrorBox, StateBadge};
use crate::confirm::{TypedConfirm, TypedConfirmFields};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// The tenant's page; refreshes itself while a job works on the tenant.
#[component]
pub fn TenantPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.with(|p| p.get("slug").unwrap_or_default());
    let change = ServerAction::<ChangeTenant>::new();
    let job_change = ServerAction::<ChangeJob>::new();
    let domain_change = ServerAction::<ChangeDomain>::new();
    let comp = ServerAction::<super::billing::CompTenant>::new();
    let tick = RwSignal::new(0u32);
    // The tenant, its custom domains and its billing in one resource: one Suspense for the
    // page (a second, nested one did not hydrate, and the page then stopped following its
    // tenant's state). Billing's own error (say, Stripe not configured) stays in its section.
    let data = Resource::new(
        move || {
            (
                slug(),
                change.version().get(),
                job_change.version().get(),
                domain_change.version().get(),
                comp.version().get(),
                tick.get(),
            )
        },
        |(slug, ..)| async move {
            let tenant = get_tenant(slug.clone()).await?;
            let domains = get_tenant_domains(slug.clone()).await?;
            let billing = super::billing::get_tenant_billing(slug).await;
            Ok::<_, super::model::AdminError>((tenant, domains, billing))
        },
    );
    // While a job is working on the tenant, or a custom domain waits for its DNS record or
    // its route, look again every 1.5 s.
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(
            move || {
                let busy =
                    data.get_untracked()
                        .and_then(|r| r.ok())
                        .is_some_and(|(t, domains, _)| {
                            t.row.pending_op.is_some()
                                || domains
                                    .iter()
                                    .any(|d| matches!(d.state.as_str(), "pending" | "verified"))
                        });
                if busy {
                    tick.update(|n| *n += 1);
                }
            },
            std::time::Duration::from_millis(1500),
        );
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    }
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                    Ok((t, domains, billing)) => {
                        view! { <TenantView t change job_change domains domain_change billing comp /> }
                            .into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn TenantView(
    t: TenantDetail,
    change: ServerAction<ChangeTenant>,
    job_change: ServerAction<ChangeJob>,
    domains: Vec<DomainRow>,
    domain_change: ServerAction<ChangeDomain>,
    billing: Result<super::billing::TenantBilling, super::model::AdminError>,
    comp: ServerAction<super::billing::CompTenant>,
) -> impl IntoView {
    let slug = t.row.slug.clone();
    let state = t.row.state.clone();
    let busy = t.row.pending_op.is_some();
    let can_deactivate = state == "active" && !busy;
    let can_reactivate = state == "suspended" && !busy;
    let can_delete = matches!(state.as_str(), "active" | "suspended" | "failed") && !busy;
    let failed_job = t
        .jobs
        .iter()
        .find(|j| j.retryable() && j.kind != "noop")
        .cloned();
    view! {
        <Title text=format!("{slug} · Odoo SaaS") />
        <div class="page-head">
            <h1>{slug.clone()}</h1>
            <StateBadge state=state.clone() />
            {t.row.pending_op.clone().map(|op| view! { <span class="sub busy">{format!("{op} in progress…")}</span> })}
        </div>
        <dl class="facts" id="tenant-facts">
            <dt>"Address"</dt>
            <dd>
                <a href=t.url.clone() target="_blank" rel="noopener">
                    {t.row.hostname.clone()}
                </a>
            </dd>
            <dt>"Point of Sale"</dt>
            <dd>
                <a id="tenant-pos" href=format!("{}pos/", t.url) target="_blank" rel="noopener">
                    {format!("{}/pos/", t.row.hostname)}
                </a>
                <span class="sub">" the cashiers' till (docs/cashier-guide.md)"</span>
            </dd>
            <dt>"Plan"</dt>
            <dd>{t.row.plan.clone()}</dd>
            <dt>"Owner"</dt>
            <dd>{format!("{} <{}>", t.owner_name, t.row.owner_email)}</dd>
            <dt>"Companies"</dt>
            <dd>
                {std::iter::once(t.row.company_name.clone())
                    .chain(t.extra_companies.clone())
                    .collect::<Vec<_>>()
                    .join(", ")}
            </dd>
            <dt>"Database"</dt>
            <dd>
                <code>{t.db_name.clone()}</code>
                {format!(" · {}", t.db_size.clone().unwrap_or_else(|| "no database".into()))}
            </dd>
            <dt>"Created"</dt>
            <dd>{t.row.created_at.clone()}</dd>
        </dl>
        {t.last_error.clone().map(|e| view! { <p class="alert error">{format!("Last error: {e}")}</p> })}
        <section class="actions" aria-label="Actions">
            <TenantButton change slug=slug.clone() op="deactivate" label="Deactivate" enabled=can_deactivate />
            <TenantButton change slug=slug.clone() op="reactivate" label="Reactivate" enabled=can_reactivate />
            {failed_job.map(|j| view! { <JobButton action=job_change id=j.id op="retry" label="Retry failed job" /> })}
            <DeleteDialog change slug=slug.clone() enabled=can_delete />
        </section>
        {action_error(change)}
        {action_error(job_change)}
        <super::billing::TenantBillingSection slug=slug.clone() billing comp />
        {(state != "deleted")
            .then(|| view! { <TenantDomains slug=slug.clone() rows=domains change=domain_change /> })}
        <section aria-labelledby="jobs-h">
            <h2 id="jobs-h">"Jobs"</h2>
            <JobTable jobs=t.jobs change=job_change empty="No jobs." />
        </section>
        <section aria-labelledby="audit-h">
            <h2 id="audit-h">"Audit trail"</h2>
            <AuditTable rows=t.audit />
            <p>
                <a href=format!("/admin/audit?tenant={slug}")>"In the audit log →"</a>
            </p>
        </section>
    }
}

#[component]
fn TenantButton(
    change: ServerAction<ChangeTenant>,
    slug: String,
    op: &'static str,
    label: &'static str,
    enabled: bool,
) -> impl IntoView {
    view! {
        <ActionForm action=change attr:class="inline">
            <CsrfField />
            <input type="hidden" name="slug" value=slug />
            <input type="hidden" name="op" value=op />
            <button type="submit" disabled=move || !enabled || change.pending().get()>
                {label}
            </button>
        </ActionForm>
    }
}

/// A retry or cancel button for one job.
#[component]
pub fn JobButton(
    action: ServerAction<ChangeJob>,
    id: String,
    op: &'static str,
    label: &'static str,
) -> impl IntoView {
    view! {
        <ActionForm action attr:class="inline">
            <CsrfField />
            <input type="hidden" name="id" value=id />
            <input type="hidden" name="op" value=op />
            <button type="submit" class=format!("small {op}") disabled=move || action.pending().get()>
                {label}
            </button>
        </ActionForm>
    }
}

/// Deletion asks for the slug to be typed; the server checks it again.
#[component]
fn DeleteDialog(change: ServerAction<ChangeTenant>, slug: String, enabled: bool) -> impl IntoView {
    // Closes once the delete has been accepted.
    let confirm = TypedConfirm::new(change.value());
    view! {
        <button type="button" class="danger" on:click=move |_| confirm.open() disabled=!enabled>
            "Delete…"
        </button>
        <dialog node_ref=confirm.dialog aria-labelledby="delete-title" class="confirm">
            <ActionForm action=change>
                <h2 id="delete-title">{format!("Delete {slug}?")}</h2>
                <p>
                    "This drops the tenant's Odoo database and files. The owner loses access at once. It cannot be undone."
                </p>
                <CsrfField />
                <input type="hidden" name="slug" value=slug.clone() />
                <input type="hidden" name="op" value="delete" />
                <label class="check">
                    <input type="checkbox" name="backup" value="on" checked />
                    " Keep a final backup (pg_dump)"
                </label>
                <TypedConfirmFields confirm expected=slug input_id="confirm".to_owned()
                    pending=change.pending() submit="Delete for good" />
            </ActionForm>
        </dialog>
    }
}
