//! A tenant's custom domains on its page: add one, see the DNS record the owner must
//! create and what the platform's DNS check found, check again, and remove one (after
//! typing its name). The tenant page loads the list with the tenant and refreshes it
//! while a check is under way.

use super::api::ChangeDomain;
use super::model::DomainRow;
use super::widgets::{action_error, CsrfField, StateBadge};
use crate::confirm::{TypedConfirm, TypedConfirmFields};
use leptos::prelude::*;

/// The custom domains section of a tenant's page.
#[component]
pub fn TenantDomains(
    slug: String,
    rows: Vec<DomainRow>,
    change: ServerAction<ChangeDomain>,
) -> impl IntoView {
    let domain_error = move || {
        change
            .value()
            .get()
            .and_then(|r| r.err())
            .and_then(|e| e.for_field("domain"))
            .map(|m| view! { <p class="field-error" id="domain-error" role="alert">{m}</p> })
    };
    view! {
        <section aria-labelledby="domains-h" id="custom-domains">
            <h2 id="domains-h">"Custom domains"</h2>
            <p class="hint">
                "The owner's own addresses for this shop. The owner creates the DNS record shown; \
                 the platform checks it, then serves the domain with its own certificate."
            </p>
            {if rows.is_empty() {
                view! { <p class="empty">"No custom domain."</p> }.into_any()
            } else {
                view! { <DomainTable rows slug=slug.clone() change /> }.into_any()
            }}
            <ActionForm action=change attr:class="inline domain-form">
                <CsrfField />
                <input type="hidden" name="slug" value=slug.clone() />
                <input type="hidden" name="op" value="add" />
                <label for="new-domain">"Add a domain"</label>
                <input
                    id="new-domain"
                    name="domain"
                    placeholder="shop.example.org"
                    autocomplete="off"
                    required
                />
                <button type="submit" disabled=move || change.pending().get()>
                    "Add domain"
                </button>
            </ActionForm>
            {domain_error}
            {action_error(change)}
        </section>
    }
}

#[component]
fn DomainTable(
    rows: Vec<DomainRow>,
    slug: String,
    change: ServerAction<ChangeDomain>,
) -> impl IntoView {
    view! {
        <table class="domains">
            <thead>
                <tr>
                    <th>"Domain"</th>
                    <th>"State"</th>
                    <th>"DNS record to create"</th>
                    <th>"Last check"</th>
                    <th></th>
                </tr>
            </thead>
            <tbody>
                {rows
                    .into_iter()
                    .map(|d| view! { <DomainLine d slug=slug.clone() change /> })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn DomainLine(d: DomainRow, slug: String, change: ServerAction<ChangeDomain>) -> impl IntoView {
    let can_check = matches!(d.state.as_str(), "pending" | "failed");
    let check_label = if d.state == "failed" {
        "Check again"
    } else {
        "Check now"
    };
    let outcome = match (d.state.as_str(), &d.last_result) {
        ("pending", Some(found)) => format!("Not yet: {found}"),
        ("pending", None) => "Waiting for the first check.".to_owned(),
        ("failed", Some(why)) => why.clone(),
        (_, Some(how)) => format!("Seen: {how}"),
        (_, None) => String::new(),
    };
    let when = match (&d.last_checked_at, d.state.as_str()) {
        (Some(at), "pending") => format!("{at} · {} checks · gives up {}", d.checks, d.deadline),
        (Some(at), _) => at.clone(),
        (None, _) => String::new(),
    };
    let (check_slug, check_domain) = (slug.clone(), d.domain.clone());
    view! {
        <tr data-domain=d.domain.clone() data-state=d.state.clone()>
            <td><code>{d.domain.clone()}</code></td>
            <td><StateBadge state=d.state.clone() /></td>
            <td class="records">
                {d.records
                    .iter()
                    .enumerate()
                    .map(|(i, (kind, name, value))| view! {
                        <div class="record">
                            {(i == 1).then_some(view! { <span class="sub">"or, for an apex domain: "</span> })}
                            <code>{format!("{name}  {kind}  {value}")}</code>
                        </div>
                    })
                    .collect_view()}
            </td>
            <td class="check">
                <p class="result">{outcome}</p>
                <p class="sub">{when}</p>
            </td>
            <td class="row-actions">
                {can_check.then(|| view! {
                    <ActionForm action=change attr:class="inline">
                        <CsrfField />
                        <input type="hidden" name="slug" value=check_slug.clone() />
                        <input type="hidden" name="op" value="verify" />
                        <input type="hidden" name="domain" value=check_domain.clone() />
                        <button type="submit" class="small" disabled=move || change.pending().get()>
                            {check_label}
                        </button>
                    </ActionForm>
                })}
                <RemoveDomain domain=d.domain.clone() slug change />
            </td>
        </tr>
    }
}

/// Removal asks for the domain to be typed; the server checks it again.
#[component]
fn RemoveDomain(domain: String, slug: String, change: ServerAction<ChangeDomain>) -> impl IntoView {
    let confirm = TypedConfirm::new(change.value());
    let input_id = format!("confirm-{}", domain.replace('.', "-"));
    let title = format!("Remove {domain}?");
    let aria = format!("Remove {domain}");
    view! {
        <button type="button" class="small danger" on:click=move |_| confirm.open()>
            "Remove…"
        </button>
        <dialog node_ref=confirm.dialog class="confirm" aria-label=aria>
            <ActionForm action=change>
                <h2>{title}</h2>
                <p>
                    "Its route goes at once: visitors of this address get the platform's \
                     \"no shop here\" page. The tenant's own address keeps working."
                </p>
                <CsrfField />
                <input type="hidden" name="slug" value=slug />
                <input type="hidden" name="op" value="remove" />
                <input type="hidden" name="domain" value=domain.clone() />
                <TypedConfirmFields confirm expected=domain input_id
                    pending=change.pending() submit="Remove domain" />
            </ActionForm>
        </dialog>
    }
}
