//! A tenant's custom domains on the owner's tenant page: add one, see the DNS record to
//! create at the DNS provider, follow its state (pending, verified, active, or failed with
//! the reason) and the last check, check again, and remove one after typing its name. The
//! rows come with the tenant (and its live stream), so a state change shows by itself.

use super::api::ChangeDomain;
use super::error_for;
use super::portal::OwnerCsrf;
use crate::admin::model::DomainRow;
use crate::admin::widgets::StateBadge;
use crate::confirm::{TypedConfirm, TypedConfirmFields};
use leptos::prelude::*;

/// The custom domains section of an owner's tenant page.
#[component]
pub fn OwnerDomains(
    id: String,
    host: String,
    rows: Vec<DomainRow>,
    change: ServerAction<ChangeDomain>,
) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="domains-h" id="custom-domains">
            <h2 id="domains-h">"Custom domains"</h2>
            <p class="help">
                {format!("Serve this Odoo at your own address too, such as shop.example.org, besides {host}. \
                 Add the domain, then create the DNS record shown at your DNS provider. We check DNS \
                 every few minutes; once the record is seen the domain is served, with its own certificate. \
                 This usually takes minutes, as long as the record takes to appear.")}
            </p>
            {if rows.is_empty() {
                view! { <p class="empty">"No custom domain yet."</p> }.into_any()
            } else {
                view! { <DomainTable rows id=id.clone() change /> }.into_any()
            }}
            <ActionForm action=change attr:class="form inline-form" attr:id="add-domain-form">
                <OwnerCsrf />
                <input type="hidden" name="id" value=id.clone() />
                <input type="hidden" name="op" value="add" />
                <label for="new-domain">"Your domain"</label>
                <input id="new-domain" name="domain" placeholder="shop.example.org" autocomplete="off"
                    spellcheck="false" required maxlength="253" />
                {error_for(change.value(), "domain")}
                <button type="submit" id="add-domain" disabled=move || change.pending().get()>"Add domain"</button>
            </ActionForm>
            {error_for(change.value(), "")}
        </section>
    }
}

#[component]
fn DomainTable(
    rows: Vec<DomainRow>,
    id: String,
    change: ServerAction<ChangeDomain>,
) -> impl IntoView {
    view! {
        <table class="data domains" id="domains">
            <thead>
                <tr>
                    <th scope="col">"Domain"</th>
                    <th scope="col">"State"</th>
                    <th scope="col">"DNS record to create"</th>
                    <th scope="col">"Last check (UTC)"</th>
                    <th scope="col"><span class="sr-only">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                {rows
                    .into_iter()
                    .map(|d| view! { <DomainLine d id=id.clone() change /> })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn DomainLine(d: DomainRow, id: String, change: ServerAction<ChangeDomain>) -> impl IntoView {
    let can_check = matches!(d.state.as_str(), "pending" | "failed");
    let check_label = if d.state == "failed" {
        "Check again"
    } else {
        "Check now"
    };
    let outcome = match (d.state.as_str(), &d.last_result) {
        ("pending", Some(found)) => format!("Not seen yet: {found}"),
        ("pending", None) => "Waiting for the first check.".to_owned(),
        ("failed", Some(why)) => format!("Failed: {why}"),
        ("failed", None) => "Failed: the record was not seen in time.".to_owned(),
        ("verified", _) => "Record seen; the domain goes live in a moment.".to_owned(),
        (_, Some(how)) => format!("Live. Seen: {how}"),
        (_, None) => "Live.".to_owned(),
    };
    let when = match (&d.last_checked_at, d.state.as_str()) {
        (Some(at), "pending") => format!("{at} · {} checks · gives up {}", d.checks, d.deadline),
        (Some(at), _) => at.clone(),
        (None, "pending") => format!("gives up {}", d.deadline),
        (None, _) => String::new(),
    };
    let (check_id, check_domain) = (id.clone(), d.domain.clone());
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
                            {(i == 1).then_some(view! { <span class="sub">"or, for a domain without a subdomain: "</span> })}
                            <code data-record=kind.clone()>{format!("{name}  {kind}  {value}")}</code>
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
                        <OwnerCsrf />
                        <input type="hidden" name="id" value=check_id.clone() />
                        <input type="hidden" name="op" value="verify" />
                        <input type="hidden" name="domain" value=check_domain.clone() />
                        <button type="submit" class="small check-domain" disabled=move || change.pending().get()>
                            {check_label}
                        </button>
                    </ActionForm>
                })}
                <RemoveDomain domain=d.domain.clone() id change />
            </td>
        </tr>
    }
}

/// Removal asks for the domain to be typed; the server checks it again.
#[component]
fn RemoveDomain(domain: String, id: String, change: ServerAction<ChangeDomain>) -> impl IntoView {
    let confirm = TypedConfirm::new(change.value());
    let input_id = format!("confirm-{}", domain.replace('.', "-"));
    let title = format!("Remove {domain}?");
    let aria = format!("Remove {domain}");
    view! {
        <button type="button" class="small danger remove-domain" aria-label=aria.clone() on:click=move |_| confirm.open()>
            "Remove…"
        </button>
        <dialog node_ref=confirm.dialog class="confirm" aria-label=aria>
            <ActionForm action=change>
                <h2>{title}</h2>
                <p>"Visitors of this address stop reaching your Odoo at once. Your own address on the platform keeps working."</p>
                <OwnerCsrf />
                <input type="hidden" name="id" value=id />
                <input type="hidden" name="op" value="remove" />
                <input type="hidden" name="domain" value=domain.clone() />
                <TypedConfirmFields confirm expected=domain input_id
                    pending=change.pending() submit="Remove domain" />
            </ActionForm>
        </dialog>
    }
}
