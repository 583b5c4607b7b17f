//! Plans: list, create, edit, archive.

use super::api::{list_plans, SavePlan, SetPlanActive};
use super::model::PlanRow;
use super::widgets::{action_error, CsrfField, ErrorBox, StateBadge};
use leptos::prelude::*;
use leptos_meta::Title;

/// Every plan, with forms to create and edit.
#[component]
pub fn PlansPage() -> impl IntoView {
    let save = ServerAction::<SavePlan>::new();
    let archive = ServerAction::<SetPlanActive>::new();
    let data = Resource::new(
        move || (save.version().get(), archive.version().get()),
        |_| list_plans(),
    );
    view! {
        <Title text="Plans · Odoo SaaS" />
        <h1>"Plans"</h1>
        {action_error(archive)}
        <details class="card" open=false>
            <summary>"New plan"</summary>
            <PlanFormView save plan=None />
        </details>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                    Ok(plans) => {
                        view! {
                            <table class="data" id="plans-table">
                                <thead>
                                    <tr>
                                        <th scope="col">"Plan"</th>
                                        <th scope="col">"Price / month"</th>
                                        <th scope="col">"Modules"</th>
                                        <th scope="col">"Limits"</th>
                                        <th scope="col">"Template"</th>
                                        <th scope="col">"Tenants"</th>
                                        <th scope="col">
                                            <span class="sr-only">"Actions"</span>
                                        </th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {plans
                                        .into_iter()
                                        .map(|p| view! { <PlanLine p save archive /> })
                                        .collect_view()}
                                </tbody>
                            </table>
                        }
                            .into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn PlanLine(
    p: PlanRow,
    save: ServerAction<SavePlan>,
    archive: ServerAction<SetPlanActive>,
) -> impl IntoView {
    let limits = format!(
        "{} users · {} companies · {}",
        p.max_users.map_or("any".into(), |n| n.to_string()),
        p.max_companies,
        p.storage_mb
            .map_or("any storage".into(), |n| format!("{n} MB"))
    );
    let (next, label) = if p.active {
        ("false", "Archive")
    } else {
        ("true", "Restore")
    };
    view! {
        <tr data-plan=p.key.clone() class:archived=!p.active>
            <td>
                <strong>{p.name.clone()}</strong>
                <div class="sub">
                    <code>{p.key.clone()}</code>
                    {(!p.active).then_some(" · archived")}
                </div>
            </td>
            <td class="nowrap">{p.price()}</td>
            <td>{p.modules.join(", ")}</td>
            <td>{limits}</td>
            <td>
                <StateBadge state=p.template_state.clone() />
            </td>
            <td>{p.tenants}</td>
            <td class="nowrap">
                <details class="edit">
                    <summary>"Edit"</summary>
                    <PlanFormView save plan=Some(p.clone()) />
                </details>
                <ActionForm action=archive attr:class="inline">
                    <CsrfField />
                    <input type="hidden" name="id" value=p.id.clone() />
                    <input type="hidden" name="active" value=next />
                    <button type="submit" class="small">
                        {label}
                    </button>
                </ActionForm>
            </td>
        </tr>
    }
}

#[component]
fn PlanFormView(save: ServerAction<SavePlan>, plan: Option<PlanRow>) -> impl IntoView {
    let editing = plan.is_some();
    let p = plan.unwrap_or(PlanRow {
        id: String::new(),
        key: String::new(),
        name: String::new(),
        price_cents: 0,
        currency: "EUR".into(),
        modules: vec!["point_of_sale".into()],
        max_users: None,
        max_companies: 1,
        storage_mb: None,
        active: true,
        pos_sample_products: false,
        template_state: String::new(),
        tenants: 0,
    });
    let prefix = if editing {
        format!("plan-{}-", p.key)
    } else {
        "new-plan-".to_owned()
    };
    let id = move |f: &str| format!("{prefix}{f}");
    let my_id = p.id.clone();
    let error_for = move |field: &'static str| {
        let my_id = my_id.clone();
        move || {
            let submission = save.input().get();
            // Show an error only under the form that sent it.
            let mine = submission.is_none_or(|s| s.id.unwrap_or_default() == my_id);
            save.value()
                .get()
                .and_then(|r| r.err())
                .filter(|_| mine)
                .and_then(|e| {
                    if field.is_empty() {
                        (e.field.is_none()).then_some(e.message)
                    } else {
                        e.for_field(field)
                    }
                })
                .map(|m| view! { <p class="field-error" role="alert">{m}</p> })
        }
    };
    let price = format!("{}.{:02}", p.price_cents / 100, p.price_cents % 100);
    view! {
        <ActionForm action=save attr:class="form plan-form">
            <CsrfField />
            <input type="hidden" name="id" value=p.id.clone() />
            {(!editing)
                .then(|| {
                    view! {
                        <label for=id("key")>"Key"</label>
                        <input id=id("key") name="key" required pattern="[a-z][a-z0-9_]{0,30}" />
                    }
                })}
            {error_for("key")}
            <label for=id("name")>"Name"</label>
            <input id=id("name") name="name" required value=p.name.clone() />
            {error_for("name")}
            <label for=id("price")>"Price per month"</label>
            <input id=id("price") name="price" inputmode="decimal" value=price />
            {error_for("price_cents")}
            <label for=id("currency")>"Currency"</label>
            <input id=id("currency") name="currency" value=p.currency.clone() maxlength="3" />
            {error_for("currency")}
            <label for=id("modules")>"Odoo modules (comma separated)"</label>
            <input id=id("modules") name="modules" value=p.modules.join(", ") />
            {error_for("modules")}
            <label for=id("max_users")>"Most users (empty: no limit)"</label>
            <input id=id("max_users") name="max_users" inputmode="numeric" value=p.max_users.map(|n| n.to_string()).unwrap_or_default() />
            {error_for("max_users")}
            <label for=id("max_companies")>"Most companies"</label>
            <input id=id("max_companies") name="max_companies" inputmode="numeric" value=p.max_companies.to_string() />
            {error_for("max_companies")}
            <label for=id("storage_mb")>"Storage in MB (empty: no limit)"</label>
            <input id=id("storage_mb") name="storage_mb" inputmode="numeric" value=p.storage_mb.map(|n| n.to_string()).unwrap_or_default() />
            {error_for("storage_mb")}
            <label class="check" for=id("pos_sample_products")>
                <input type="checkbox" id=id("pos_sample_products") name="pos_sample_products" value="on" checked=p.pos_sample_products />
                " Sample products in the point of sale (Odoo's bakery scenario; needs point_of_sale)"
            </label>
            {error_for("pos_sample_products")}
            {error_for("")}
            <button type="submit" class="primary">
                {if editing { "Save" } else { "Create plan" }}
            </button>
        </ActionForm>
    }
}
