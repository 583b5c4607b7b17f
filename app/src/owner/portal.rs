//! The owner portal (`/my`): the owner's tenants, the self-service sign-up of a new one,
//! a tenant's page with its live progress and actions, and the account page.

use super::api::{
    my_tenant, my_tenants, my_tokens, tenant_signup_form, who_am_i, AddCompanies, ChangeDomain,
    ChangeEmail, ChangePassword, CheckSlug, CreateTenant, CreateToken, DeleteTenant, OwnerSignOut,
    ResendVerification, ResetAdminPassword, RevokeToken, SignOutEverywhere,
};
use super::billing::{CheckoutReturnBanner, OwnerBillingSection};
use super::error_for;
use super::front::PlanCards;
use super::model::{OwnerMe, OwnerTenant, Progress, TenantCard};
use crate::admin::model::AdminError;
use crate::admin::widgets::{ErrorBox, StateBadge};
use crate::confirm::{TypedConfirm, TypedConfirmFields};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Outlet, A};
use leptos_router::hooks::{use_params_map, use_query_map};

/// The signed-in owner, loaded once by the layout and shared by every form.
#[derive(Clone, Copy)]
pub struct OwnerMeResource(pub Resource<Result<OwnerMe, AdminError>>);

/// The hidden CSRF field of every owner form.
#[component]
pub fn OwnerCsrf() -> impl IntoView {
    let me = use_context::<OwnerMeResource>();
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

/// The frame of every portal page: navigation, the owner, sign-out, and a reminder to
/// confirm the address.
#[component]
pub fn OwnerLayout() -> impl IntoView {
    let me = OwnerMeResource(Resource::new(|| (), |_| who_am_i()));
    provide_context(me);
    let sign_out = ServerAction::<OwnerSignOut>::new();
    let resend = ServerAction::<ResendVerification>::new();
    view! {
        <div class="owner">
            <a class="skip-link" href="#main">"Skip to content"</a>
            // One Suspense for the header's owner and the banner: like the operations
            // portal's layout, a single suspended block before the page's <Outlet/> (two
            // in a row broke the hydration of every owner page).
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let owner = me.0.await.ok();
                    let who = owner.clone().map(|m| view! {
                        <div class="who">
                            <span data-testid="owner-signed-in-as">{m.email}</span>
                            <ActionForm action=sign_out attr:class="inline">
                                <OwnerCsrf />
                                <button type="submit" class="link">"Sign out"</button>
                            </ActionForm>
                        </div>
                    });
                    let banner = owner.filter(|m| !m.verified).map(|m| view! {
                        <div class="alert info banner" role="status" id="verify-banner">
                            {format!("Confirm {} with the link we sent to create your Odoo. ", m.email)}
                            <ActionForm action=resend attr:class="inline">
                                <OwnerCsrf />
                                <button type="submit" class="link">"Send the link again"</button>
                            </ActionForm>
                            {move || resend.value().get().map(|r| match r {
                                Ok(()) => view! { <span>" Sent."</span> }.into_any(),
                                Err(e) => view! { <span class="error">{format!(" {}", e.message)}</span> }.into_any(),
                            })}
                        </div>
                    });
                    view! {
                        <header class="topbar site">
                            <a class="brand" href="/my">"Odoo SaaS"</a>
                            <nav aria-label="Main">
                                <A href="/my" exact=true>"My Odoo"</A>
                                <A href="/my/new">"New Odoo"</A>
                                <A href="/my/account">"Account"</A>
                            </nav>
                            {who}
                        </header>
                        {banner}
                    }
                })}
            </Suspense>
            <main id="main" class="page" tabindex="-1">
                <Outlet />
            </main>
        </div>
    }
}

/// The owner's tenants.
#[component]
pub fn MyTenantsPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| my_tenants());
    view! {
        <Title text="My Odoo · Odoo SaaS" />
        <div class="page-head">
            <h1>"My Odoo"</h1>
            <a class="button primary" href="/my/new">"New Odoo"</a>
        </div>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <p class="empty">"You have no Odoo yet. " <a href="/my/new">"Create one"</a> "."</p>
                    }.into_any(),
                    Ok(list) => view! { <TenantList list /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn TenantList(list: Vec<TenantCard>) -> impl IntoView {
    view! {
        <table class="data" id="my-tenants">
            <thead>
                <tr>
                    <th scope="col">"Odoo"</th>
                    <th scope="col">"State"</th>
                    <th scope="col">"Address"</th>
                    <th scope="col">"Plan"</th>
                    <th scope="col">"Created (UTC)"</th>
                </tr>
            </thead>
            <tbody>
                {list.into_iter().map(|t| {
                    let page = format!("/my/tenants/{}", t.id);
                    let slug = t.slug.clone();
                    view! {
                        <tr data-tenant=slug>
                            <td>
                                <a href=page>{t.slug.clone()}</a>
                                <div class="sub">{t.company_name.clone()}</div>
                            </td>
                            <td>
                                <StateBadge state=t.state.clone() />
                                {t.pending_op.clone().map(|op| view! { <div class="sub busy">{format!("{} under way", op.replace('_', " "))}</div> })}
                            </td>
                            <td>
                                {(t.state == "active").then(|| view! { <a href=t.url.clone() target="_blank" rel="noopener">{t.url.clone()}</a> })}
                            </td>
                            <td>{t.plan.clone()}</td>
                            <td class="nowrap">{t.created_at.clone()}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// Self-service sign-up of a new Odoo: plan, subdomain (checked live), companies, the
/// administrator's password.
#[component]
pub fn NewTenantPage() -> impl IntoView {
    let query = use_query_map();
    let chosen = move || query.with(|q| q.get("plan")).unwrap_or_default();
    let form = Resource::new(|| (), |_| tenant_signup_form());
    let create = ServerAction::<CreateTenant>::new();
    let check = ServerAction::<CheckSlug>::new();
    let slug = RwSignal::new(String::new());
    let value = create.value();
    let error = move |f| error_for(value, f);
    // The live check: at most one call per pause in typing.
    #[cfg(feature = "hydrate")]
    {
        use std::cell::Cell;
        use std::rc::Rc;
        let generation = send_wrapper::SendWrapper::new(Rc::new(Cell::new(0u32)));
        Effect::new(move |_| {
            let typed = slug.get();
            if typed.trim().is_empty() {
                return;
            }
            let mine = generation.get() + 1;
            generation.set(mine);
            let generation = generation.clone();
            set_timeout(
                move || {
                    if generation.get() == mine {
                        check.dispatch(CheckSlug {
                            slug: typed.trim().to_ascii_lowercase(),
                        });
                    }
                },
                std::time::Duration::from_millis(250),
            );
        });
    }
    view! {
        <Title text="New Odoo · Odoo SaaS" />
        <h1>"A new Odoo"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match form.await {
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                    Ok(f) if f.plans.is_empty() => view! { <p class="empty">"No plan is on offer yet."</p> }.into_any(),
                    Ok(f) => {
                        let first = f.plans.first().map(|p| p.key.clone()).unwrap_or_default();
                        let pick = if f.plans.iter().any(|p| p.key == chosen()) { chosen() } else { first };
                        let domain = f.base_domain.clone();
                        let compare = f.plans.clone();
                        let any_paid = f.plans.iter().any(|p| p.needs_payment());
                        view! {
                            <ActionForm action=create attr:class="form wide signup" attr:aria-label="New Odoo">
                                <OwnerCsrf />
                                <input type="hidden" name="signup_key" value=f.signup_key.clone() />
                                <fieldset class="plan-choice">
                                    <legend>"1. Plan"</legend>
                                    {f.plans.iter().map(|p| {
                                        let id = format!("plan-{}", p.key);
                                        let label_for = id.clone();
                                        let checked = p.key == pick;
                                        view! {
                                            <label class="plan-option" for=label_for>
                                                <input type="radio" name="plan" id=id value=p.key.clone() checked=checked />
                                                <strong>{p.name.clone()}</strong>
                                                " · " {p.price()}
                                                {p.yearly_price().map(|y| format!(" or {y}"))}
                                                " · " {p.limits().join(" · ")}
                                                {p.payment_note().map(|note| view! { <span class="sub">{format!(" ({note})")}</span> })}
                                            </label>
                                        }
                                    }).collect_view()}
                                    {error("plan")}
                                    {any_paid.then(|| view! {
                                        <div class="billing-choice" role="radiogroup" aria-label="Billing">
                                            <span>"Paid plans are billed "</span>
                                            <label for="interval-month">
                                                <input type="radio" name="interval" id="interval-month" value="month" checked=true />
                                                " monthly"
                                            </label>
                                            <label for="interval-year">
                                                <input type="radio" name="interval" id="interval-year" value="year" />
                                                " yearly"
                                            </label>
                                        </div>
                                    })}
                                    {error("interval")}
                                </fieldset>
                                <fieldset>
                                    <legend>"2. Address"</legend>
                                    <label for="slug">"Subdomain"</label>
                                    <div class="slug-row">
                                        <input id="slug" name="slug" required autocomplete="off" spellcheck="false"
                                            pattern="[a-z][a-z0-9\\-]{1,30}[a-z0-9]" maxlength="32"
                                            aria-describedby="slug-status"
                                            on:input=move |ev| slug.set(event_target_value(&ev)) />
                                        <span class="suffix">{format!(".{domain}")}</span>
                                    </div>
                                    <p id="slug-status" class="help" aria-live="polite">
                                        {move || match check.value().get() {
                                            Some(Ok(c)) if c.slug == slug.get().trim().to_ascii_lowercase() => {
                                                let class = if c.available { "ok" } else { "field-error" };
                                                view! { <span class=class data-available=c.available.to_string()>{c.message}</span> }.into_any()
                                            }
                                            Some(Err(e)) => view! { <span class="field-error">{e.message}</span> }.into_any(),
                                            _ => view! { <span>"3 to 32 lowercase letters, digits or hyphens."</span> }.into_any(),
                                        }}
                                    </p>
                                    {error("slug")}
                                </fieldset>
                                <fieldset>
                                    <legend>"3. Companies"</legend>
                                    <label for="company_name">"Company name"</label>
                                    <input id="company_name" name="company_name" required maxlength="100" />
                                    {error("company_name")}
                                    <label for="extra_companies">"More companies, one a line (multi-company; as the plan allows)"</label>
                                    <textarea id="extra_companies" name="extra_companies" rows="3"></textarea>
                                    {error("extra_companies")}
                                </fieldset>
                                <fieldset>
                                    <legend>"4. Odoo administrator"</legend>
                                    <p class="help">{format!("You sign in to Odoo as {} with this password. It is never emailed.", f.login)}</p>
                                    <label for="odoo_password">"Password"</label>
                                    <input id="odoo_password" name="odoo_password" type="password" autocomplete="new-password" required minlength="8" maxlength="128" />
                                    {error("owner_password")}
                                    <label for="odoo_password_confirm">"The same again"</label>
                                    <input id="odoo_password_confirm" name="odoo_password_confirm" type="password" autocomplete="new-password" required />
                                    {error("odoo_password_confirm")}
                                </fieldset>
                                {error("")}
                                <button type="submit" class="primary" id="create-odoo" disabled=move || create.pending().get()>
                                    {move || if create.pending().get() { "Creating…" } else { "Create my Odoo" }}
                                </button>
                            </ActionForm>
                            <details class="card">
                                <summary>"Compare the plans"</summary>
                                <PlanCards plans=compare link=false />
                            </details>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// One tenant: its progress, live while a job works on it; its address, login and point of
/// sale; reset the administrator's password, add companies, delete.
#[component]
pub fn OwnerTenantPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let reset = ServerAction::<ResetAdminPassword>::new();
    let add = ServerAction::<AddCompanies>::new();
    let delete = ServerAction::<DeleteTenant>::new();
    let domain = ServerAction::<ChangeDomain>::new();
    let data = Resource::new(
        move || {
            (
                id(),
                reset.version().get(),
                add.version().get(),
                delete.version().get(),
                domain.version().get(),
            )
        },
        |(id, ..)| my_tenant(id),
    );
    let live = RwSignal::new(None::<OwnerTenant>);
    #[cfg(feature = "hydrate")]
    follow(id, live, data);
    let query = use_query_map();
    let state = Memo::new(move |_| live.with(|t| t.as_ref().map(|t| t.state.clone())));
    // Billing (issue 12) is drawn by the browser once the page is hydrated, never on the
    // server: its sections make their own resources (Stripe's answers, slow to come), and
    // resources made inside a reactive view get other hydration ids on the server than in
    // the browser, which made hydration of the whole page fail. The server sends a
    // placeholder instead.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let first = data.await;
                view! {
                    {move || match live.get().map(Ok).unwrap_or_else(|| first.clone()) {
                        Err(error) => view! { <ErrorBox error /> }.into_any(),
                        Ok(t) => view! { <TenantView t reset add delete domain /> }.into_any(),
                    }}
                }
            })}
        </Transition>
        {move || {
            if !hydrated.get() {
                return view! {
                    <section class="card" id="billing" aria-labelledby="billing-h" aria-busy="true">
                        <h2 id="billing-h">"Billing"</h2>
                        <p class="loading">"Loading…"</p>
                    </section>
                }
                .into_any();
            }
            let (checkout, session_id) = query.with(|q| (q.get("checkout"), q.get("session_id")));
            view! {
                <CheckoutReturnBanner id=id() checkout session_id />
                <OwnerBillingSection id=id() refresh=state />
            }
            .into_any()
        }}
    }
}

/// Follows the tenant over server-sent events (`/my/events/tenants/<id>`).
#[cfg(feature = "hydrate")]
fn follow(
    id: impl Fn() -> String + Send + Sync + 'static,
    live: RwSignal<Option<OwnerTenant>>,
    data: Resource<Result<OwnerTenant, AdminError>>,
) {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    Effect::new(move |_| {
        // Reopened after each action (the resource reloads), so the stream follows its job.
        let _ = data.get();
        live.set(None);
        let Ok(source) = web_sys::EventSource::new(&format!("/my/events/tenants/{}", id())) else {
            return;
        };
        let on_tenant =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                if let Some(text) = ev.data().as_string() {
                    if let Ok(t) = serde_json::from_str::<OwnerTenant>(&text) {
                        live.set(Some(t));
                    }
                }
            });
        let _ =
            source.add_event_listener_with_callback("tenant", on_tenant.as_ref().unchecked_ref());
        let keep = send_wrapper::SendWrapper::new((source, on_tenant));
        on_cleanup(move || keep.0.close());
    });
}

#[component]
fn ProgressBar(p: Progress) -> impl IntoView {
    let what = match p.operation.as_str() {
        "provision" => "Creating your Odoo",
        "reset_admin_password" => "Setting the administrator's password",
        "add_companies" => "Adding companies",
        "delete" => "Deleting (a final backup first)",
        "deactivate" => "Suspending",
        "reactivate" => "Reactivating",
        _ => "Working",
    };
    let step = if p.total > 0 {
        format!(
            "{} ({}/{}) · {}%",
            p.label,
            p.step.min(p.total),
            p.total,
            p.percent
        )
    } else {
        format!(
            "{} · {}%",
            if p.label.is_empty() {
                p.state.clone()
            } else {
                p.label.clone()
            },
            p.percent
        )
    };
    view! {
        <section class="card progress" id="progress" aria-live="polite" data-percent=p.percent.to_string() data-job-state=p.state.clone()>
            <h2>{what}</h2>
            <progress max="100" value=p.percent.to_string()>{format!("{}%", p.percent)}</progress>
            <p class="progress-label">{step}</p>
            {p.last_error.clone().filter(|_| p.state != "succeeded").map(|e| view! {
                <p class="sub">{format!("Trying again after: {e}")}</p>
            })}
        </section>
    }
}

#[component]
fn TenantView(
    t: OwnerTenant,
    reset: ServerAction<ResetAdminPassword>,
    add: ServerAction<AddCompanies>,
    delete: ServerAction<DeleteTenant>,
    domain: ServerAction<ChangeDomain>,
) -> impl IntoView {
    let busy = t.pending_op.is_some();
    let has_domains = !matches!(t.state.as_str(), "deleting" | "deleted" | "failed");
    let domains = t.domains.clone();
    let host = t
        .url
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_owned();
    let ready = t.ready();
    let progress = t.progress.clone().filter(|_| busy);
    let companies: Vec<String> = std::iter::once(t.company_name.clone())
        .chain(t.extra_companies.clone())
        .collect();
    let left = t.companies_left();
    view! {
        <Title text=format!("{} · Odoo SaaS", t.slug) />
        <div class="page-head">
            <h1>{t.slug.clone()}</h1>
            <span id="tenant-state"><StateBadge state=t.state.clone() /></span>
        </div>
        {progress.map(|p| view! { <ProgressBar p /> })}
        {(t.state == "awaiting_payment").then(|| view! {
            <p class="alert info" id="awaiting-payment">"Your Odoo will be made as soon as the first payment is confirmed (this page updates by itself)."</p>
        })}
        {ready.then(|| view! {
            <section class="card ready" id="ready">
                <h2>"Your Odoo is ready"</h2>
                <dl class="facts">
                    <dt>"Address"</dt>
                    <dd><a id="odoo-url" href=t.url.clone() target="_blank" rel="noopener">{t.url.clone()}</a></dd>
                    <dt>"Login"</dt>
                    <dd id="odoo-login">{t.login.clone()}</dd>
                    <dt>"Password"</dt>
                    <dd>"the one you chose (reset it below)"</dd>
                    <dt>"Point of sale"</dt>
                    <dd><a id="pos-url" href=t.pos_url.clone() target="_blank" rel="noopener">{t.pos_url.clone()}</a></dd>
                </dl>
            </section>
        })}
        <dl class="facts" id="tenant-facts">
            <dt>"Plan"</dt>
            <dd>{t.plan.clone()}</dd>
            <dt>"Companies"</dt>
            <dd id="companies">{companies.join(", ")}</dd>
            <dt>"Created"</dt>
            <dd>{t.created_at.clone()}</dd>
        </dl>
        {t.last_error.clone().map(|e| view! { <p class="alert error" id="last-error">{format!("The last operation failed: {e}")}</p> })}
        {has_domains.then(|| view! {
            <super::domains::OwnerDomains id=t.id.clone() host rows=domains change=domain />
        })}
        {ready.then(|| {
            let id = t.id.clone();
            let reset_id = t.id.clone();
            let add_id = t.id.clone();
            let slug = t.slug.clone();
            let rv = reset.value();
            let av = add.value();
            view! {
                <section class="card" aria-labelledby="reset-h">
                    <h2 id="reset-h">"Reset the administrator's password"</h2>
                    <ActionForm action=reset attr:class="form" attr:id="reset-admin-form">
                        <OwnerCsrf />
                        <input type="hidden" name="id" value=reset_id />
                        <label for="admin-password">"New password"</label>
                        <input id="admin-password" name="password" type="password" autocomplete="new-password" required minlength="8" maxlength="128" />
                        {error_for(rv, "owner_password")}
                        {error_for(rv, "password")}
                        <label for="admin-confirm">"The same again"</label>
                        <input id="admin-confirm" name="confirm" type="password" autocomplete="new-password" required />
                        {error_for(rv, "confirm")}
                        {error_for(rv, "")}
                        <button type="submit" disabled=move || reset.pending().get()>"Set the password"</button>
                    </ActionForm>
                </section>
                {(left > 0).then(|| view! {
                    <section class="card" aria-labelledby="companies-h">
                        <h2 id="companies-h">"Add companies"</h2>
                        <ActionForm action=add attr:class="form" attr:id="add-companies-form">
                            <OwnerCsrf />
                            <input type="hidden" name="id" value=add_id.clone() />
                            <label for="new-companies">{format!("Names, one a line (your plan allows {left} more)")}</label>
                            <textarea id="new-companies" name="companies" rows="3" required></textarea>
                            {error_for(av, "companies")}
                            {error_for(av, "")}
                            <button type="submit" disabled=move || add.pending().get()>"Add"</button>
                        </ActionForm>
                    </section>
                })}
                <DeleteTenantDialog delete id slug />
            }
        })}
    }
}

/// Deletion asks for the tenant's name to be typed; a final backup is always kept.
#[component]
fn DeleteTenantDialog(
    delete: ServerAction<DeleteTenant>,
    id: String,
    slug: String,
) -> impl IntoView {
    let value = delete.value();
    let confirm = TypedConfirm::new(value);
    view! {
        <section class="card danger-zone" aria-labelledby="delete-h">
            <h2 id="delete-h">"Delete this Odoo"</h2>
            <p>"Its database and files are removed; a final backup is kept by the operators."</p>
            <button type="button" class="danger" id="delete-open" on:click=move |_| confirm.open()>"Delete…"</button>
            {error_for(value, "")}
        </section>
        <dialog node_ref=confirm.dialog aria-labelledby="delete-title" class="confirm">
            <ActionForm action=delete>
                <h2 id="delete-title">{format!("Delete {slug}?")}</h2>
                <p>"Everyone loses access at once, the point of sale included. A final backup is taken first."</p>
                <OwnerCsrf />
                <input type="hidden" name="id" value=id />
                <TypedConfirmFields confirm expected=slug input_id="confirm".to_owned()
                    pending=delete.pending() submit="Delete for good" submit_id="delete-confirm" />
            </ActionForm>
        </dialog>
    }
}

/// The account: address, password, email, sign out everywhere, API tokens.
#[component]
pub fn AccountPage() -> impl IntoView {
    let me = use_context::<OwnerMeResource>();
    let password = ServerAction::<ChangePassword>::new();
    let email = ServerAction::<ChangeEmail>::new();
    let everywhere = ServerAction::<SignOutEverywhere>::new();
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| my_tokens(),
    );
    let (pv, ev, cv) = (password.value(), email.value(), create.value());
    view! {
        <Title text="Account · Odoo SaaS" />
        <h1>"Account"</h1>
        <Suspense fallback=|| ()>
            {move || me.map(|me| Suspend::new(async move {
                me.0.await.ok().map(|m| view! {
                    <dl class="facts" id="account-facts">
                        <dt>"Name"</dt><dd>{m.name}</dd>
                        <dt>"Email"</dt><dd id="account-email">{m.email}{(!m.verified).then_some(" (not confirmed yet)")}</dd>
                    </dl>
                })
            }))}
        </Suspense>
        <section class="card" aria-labelledby="pw-h">
            <h2 id="pw-h">"Change your password"</h2>
            <ActionForm action=password attr:class="form" attr:id="change-password-form">
                <OwnerCsrf />
                <label for="cp-current">"Current password"</label>
                <input id="cp-current" name="current_password" type="password" autocomplete="current-password" required />
                {error_for(pv, "current_password")}
                <label for="cp-new">"New password"</label>
                <input id="cp-new" name="password" type="password" autocomplete="new-password" required minlength="10" maxlength="128" />
                {error_for(pv, "password")}
                <label for="cp-confirm">"The same again"</label>
                <input id="cp-confirm" name="confirm" type="password" autocomplete="new-password" required />
                {error_for(pv, "confirm")}
                {error_for(pv, "")}
                {move || pv.get().and_then(|r| r.ok()).map(|_| view! { <p class="alert info" role="status">"Password changed; your other sessions have ended."</p> })}
                <button type="submit">"Change password"</button>
            </ActionForm>
        </section>
        <section class="card" aria-labelledby="em-h">
            <h2 id="em-h">"Change your email address"</h2>
            <ActionForm action=email attr:class="form" attr:id="change-email-form">
                <OwnerCsrf />
                <label for="ce-new">"New address"</label>
                <input id="ce-new" name="new_email" type="email" autocomplete="email" required />
                {error_for(ev, "new_email")}
                <label for="ce-current">"Current password"</label>
                <input id="ce-current" name="current_password" type="password" autocomplete="current-password" required />
                {error_for(ev, "current_password")}
                {error_for(ev, "")}
                {move || ev.get().and_then(|r| r.ok()).map(|_| view! { <p class="alert info" role="status">"We sent a link to the new address: your account moves there once you follow it."</p> })}
                <button type="submit">"Change address"</button>
            </ActionForm>
        </section>
        <section class="card" aria-labelledby="tok-h">
            <h2 id="tok-h">"API tokens"</h2>
            <p class="help">"A token reaches your Odoo tenants through the API (" <code>"Authorization: Bearer …"</code> ", see " <a href="/api/v1/openapi.json">"the API document"</a> "), and nothing else."</p>
            <ActionForm action=create attr:class="form inline-form" attr:id="create-token-form">
                <OwnerCsrf />
                <label for="token-name">"Name"</label>
                <input id="token-name" name="name" required maxlength="100" placeholder="accounting script" />
                {error_for(cv, "name")}
                {error_for(cv, "")}
                <button type="submit">"Make a token"</button>
            </ActionForm>
            {move || cv.get().and_then(|r| r.ok()).map(|t| view! {
                <p class="alert info" role="status">
                    {format!("Token \"{}\": copy it now, it is not shown again: ", t.name)}
                    <code id="new-token">{t.token}</code>
                </p>
            })}
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match tokens.await {
                        Err(error) => view! { <ErrorBox error /> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="empty">"No tokens."</p> }.into_any(),
                        Ok(list) => view! {
                            <table class="data" id="tokens">
                                <thead><tr><th scope="col">"Name"</th><th scope="col">"Made (UTC)"</th><th scope="col">"Last used"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|t| view! {
                                        <tr>
                                            <td>{t.name.clone()}</td>
                                            <td>{t.created_at.clone()}</td>
                                            <td>{t.last_used_at.clone().unwrap_or_else(|| "never".into())}</td>
                                            <td>
                                                <ActionForm action=revoke attr:class="inline">
                                                    <OwnerCsrf />
                                                    <input type="hidden" name="name" value=t.name.clone() />
                                                    <button type="submit" class="small">"Revoke"</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <section class="card" aria-labelledby="out-h">
            <h2 id="out-h">"Sign out everywhere"</h2>
            <p>"Ends every session of your account, on every device, this one included. API tokens stay: revoke them above."</p>
            <ActionForm action=everywhere attr:class="inline">
                <OwnerCsrf />
                <button type="submit" id="sign-out-everywhere">"Sign out everywhere"</button>
            </ActionForm>
        </section>
    }
}
