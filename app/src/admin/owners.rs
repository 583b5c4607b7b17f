//! Tenant owners: every account, whether its address is confirmed, and its tenants; a
//! superadmin disables an account (its sessions and API tokens stop working at once) or
//! enables it again.

use super::api::{list_owners, ChangeOwner};
use super::widgets::{action_error, CsrfField, ErrorBox};
use leptos::prelude::*;
use leptos_meta::Title;

/// Owners newest first (the latest 500).
#[component]
pub fn OwnersPage() -> impl IntoView {
    let change = ServerAction::<ChangeOwner>::new();
    let data = Resource::new(move || change.version().get(), |_| list_owners());
    view! {
        <Title text="Owners · Odoo SaaS" />
        <h1>"Owners"</h1>
        <p class="help">"Customers who signed up on the front door. Their tenants are in " <a href="/admin/tenants">"Tenants"</a> " (search by their address). "
            "A disabled owner cannot sign in, and their sessions and API tokens stop working at once; their tenants keep running."</p>
        {action_error(change)}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                    Ok(rows) if rows.is_empty() => view! { <p class="empty">"No owner has signed up yet."</p> }.into_any(),
                    Ok(rows) => view! {
                        <table class="data" id="owners">
                            <thead>
                                <tr>
                                    <th scope="col">"Email"</th>
                                    <th scope="col">"Name"</th>
                                    <th scope="col">"Address"</th>
                                    <th scope="col">"Tenants"</th>
                                    <th scope="col">"Signed up (UTC)"</th>
                                    <th scope="col"><span class="sr-only">"Actions"</span></th>
                                </tr>
                            </thead>
                            <tbody>
                                {rows.into_iter().map(|o| {
                                    let search = format!("/admin/tenants?search={}", super::widgets::encode(&o.email));
                                    let state = if o.disabled { "disabled" } else if o.verified { "confirmed" } else { "not confirmed" };
                                    let (op, label) = if o.disabled { ("enable", "Enable") } else { ("disable", "Disable") };
                                    let aria = format!("{label} {}", o.email);
                                    view! {
                                        <tr data-owner=o.email.clone() data-state=state>
                                            <td>{o.email.clone()}</td>
                                            <td>{o.name.clone()}</td>
                                            <td>{state}</td>
                                            <td><a href=search>{o.tenants}</a></td>
                                            <td class="nowrap">{o.created_at.clone()}</td>
                                            <td>
                                                <ActionForm action=change attr:class="inline">
                                                    <CsrfField />
                                                    <input type="hidden" name="id" value=o.id.clone() />
                                                    <input type="hidden" name="op" value=op />
                                                    <button type="submit" class=if o.disabled { "small" } else { "small danger" }
                                                        aria-label=aria disabled=move || change.pending().get()>
                                                        {label}
                                                    </button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}
