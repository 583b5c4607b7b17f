//! The screens.

use leptos::prelude::*;
use leptos::task::spawn_local;
use pos_core::sync::{NewPartner, QueuedOrder, SyncStatus};
use pos_core::{Currency, Order, OrderTotals, Partner, PartnerRef};

use crate::browser;
use crate::till::{Screen, ShopChoice, SyncState, Till};

fn till() -> Till {
    expect_context::<Till>()
}

fn currency(t: Till) -> Currency {
    t.catalogue
        .with(|c| c.as_ref().map(|c| c.currency.clone()))
        .unwrap_or_default()
}

fn parse_amount(s: &str) -> Option<f64> {
    let s = s.trim().replace(',', ".");
    if s.is_empty() {
        return Some(0.0);
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// The whole app.
#[component]
pub fn App() -> impl IntoView {
    let t = Till::new();
    provide_context(t);
    t.boot();
    view! {
        <div id="pos-app" class="pos" data-ready=move || (t.screen.get() != Screen::Loading).to_string()>
            <Header/>
            <UpdateBanner/>
            <SyncBanner/>
            <NoticeBar/>
            <main class="pos-main">
                {move || match t.screen.get() {
                    Screen::Loading => view! { <p class="loading">"Starting the till…"</p> }.into_any(),
                    Screen::Fatal(m) => view! { <div class="fatal" role="alert"><h2>"The till cannot start"</h2><p>{m}</p></div> }.into_any(),
                    Screen::SignIn => view! { <SignIn/> }.into_any(),
                    Screen::Shops(shops) => view! { <Shops shops=shops/> }.into_any(),
                    Screen::OpenSession(shop) => view! { <OpenSession shop=shop/> }.into_any(),
                    Screen::Sell => view! { <Sell/> }.into_any(),
                    Screen::Customers => view! { <Customers/> }.into_any(),
                    Screen::Pay => view! { <Pay/> }.into_any(),
                    Screen::Receipt(uuid) => view! { <Receipt uuid=uuid/> }.into_any(),
                    Screen::Orders => view! { <Orders/> }.into_any(),
                    Screen::Close => view! { <Close/> }.into_any(),
                }}
            </main>
        </div>
    }
}

#[component]
fn Header() -> impl IntoView {
    let t = till();
    let selling = move || {
        t.catalogue.with(|c| c.is_some())
            && t.device
                .with(|d| d.as_ref().is_some_and(|d| d.session_id != 0))
    };
    view! {
        <header class="pos-header no-print">
            <div class="brand">
                <h1>{move || t.catalogue.with(|c| c.as_ref().map(|c| c.config.name.clone())).unwrap_or_else(|| "Point of Sale".into())}</h1>
                <span class="cashier">{move || t.device.with(|d| d.as_ref().map(|d| d.user_name.clone())).unwrap_or_default()}</span>
            </div>
            <nav class="nav" class:hidden=move || !selling()>
                <button data-test="nav-sell" on:click=move |_| t.screen.set(Screen::Sell)>"Sell"</button>
                <button data-test="nav-orders" on:click=move |_| t.screen.set(Screen::Orders)>"Orders"</button>
                <button data-test="nav-close" on:click=move |_| t.screen.set(Screen::Close)>"Close session"</button>
            </nav>
            <div class="status">
                <span id="queue" class="badge" class:warn=move || { t.waiting.get() > 0 } data-waiting=move || t.waiting.get().to_string()
                    title="Orders on this device that Odoo has not confirmed yet">
                    {move || match t.waiting.get() { 0 => "All sent".to_string(), 1 => "1 waiting".to_string(), n => format!("{n} waiting") }}
                </span>
                <Show when=move || { t.refused.get() > 0 }>
                    <button id="refused" class="badge refused" on:click=move |_| t.screen.set(Screen::Orders)>
                        {move || format!("{} refused", t.refused.get())}
                    </button>
                </Show>
                <span id="connectivity" class=move || if t.online.get() { "badge online" } else { "badge offline" } role="status">
                    {move || if t.online.get() { "Online" } else { "Offline" }}
                </span>
            </div>
        </header>
    }
}

#[component]
fn UpdateBanner() -> impl IntoView {
    let t = till();
    let sale_open = move || {
        t.order
            .with(|o| o.as_ref().is_some_and(|o| !o.lines.is_empty()))
    };
    view! {
        <Show when=move || t.update_ready.get()>
            <div class="banner update no-print" id="update-banner" role="status">
                <span>"A new version of the till is ready."</span>
                <Show when=move || !sale_open() fallback=|| view! { <span class="hint">" Finish the current sale, then reload."</span> }>
                    <button id="reload" on:click=move |_| crate::apply_update()>"Reload"</button>
                </Show>
            </div>
        </Show>
    }
}

#[component]
fn SyncBanner() -> impl IntoView {
    let t = till();
    view! {
        {move || match t.sync.get() {
            SyncState::SignIn(m) => view! {
                <div class="banner warn no-print" id="signin-banner" role="alert">
                    <span>{m}" Sign in again to send the waiting orders: nothing is lost, and you can keep selling."</span>
                    <button on:click=move |_| t.screen.set(Screen::SignIn)>"Sign in"</button>
                </div>
            }.into_any(),
            SyncState::Blocked(m) => view! {
                <div class="banner error no-print" id="blocked-banner" role="alert">
                    <span>"Odoo refuses to take this user's orders: "{m}</span>
                </div>
            }.into_any(),
            SyncState::Offline(m) if t.waiting.get() > 0 => view! {
                <div class="banner info no-print" id="offline-banner" role="status">
                    <span>{format!("{m} The orders stay on this device and are sent when Odoo is back.")}</span>
                </div>
            }.into_any(),
            _ => ().into_any(),
        }}
    }
}

#[component]
fn NoticeBar() -> impl IntoView {
    let t = till();
    view! {
        {move || t.notice.get().map(|n| view! {
            <div class=if n.error { "notice error no-print" } else { "notice info no-print" } id="notice" role="alert">
                <span>{n.text}</span>
                <button class="close" title="Dismiss" on:click=move |_| t.notice.set(None)>"×"</button>
            </div>
        })}
    }
}

// ---------------------------------------------------------------------- sign-in

#[component]
fn SignIn() -> impl IntoView {
    let t = till();
    let login = RwSignal::new(
        t.device
            .get_untracked()
            .map(|d| d.login)
            .unwrap_or_default(),
    );
    let password = RwSignal::new(String::new());
    let db = RwSignal::new(String::new());
    let again =
        move || matches!(t.sync.get(), SyncState::SignIn(_)) && t.catalogue.with(|c| c.is_some());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let database = t
            .tenant_db
            .get_untracked()
            .unwrap_or_else(|| db.get_untracked());
        let pw = password.get_untracked();
        password.set(String::new());
        spawn_local(t.sign_in(database, login.get_untracked(), pw));
    };
    view! {
        <form class="card signin" on:submit=submit autocomplete="off">
            <h2>{move || if again() { "Sign in again" } else { "Sign in to your shop" }}</h2>
            <p class="hint">{move || t.tenant_name.get().map(|n| format!("{n} — ")).unwrap_or_default()}
                "Use your Odoo login. The till keeps working without the network afterwards; your password is never stored on this device."</p>
            <Show when=move || t.tenant_db.get().is_none()>
                <label>"Odoo database"<input name="db" prop:value=move || db.get() on:input=move |e| db.set(event_target_value(&e))/></label>
            </Show>
            <label>"Login"<input name="login" type="text" autocomplete="username" prop:value=move || login.get() on:input=move |e| login.set(event_target_value(&e))/></label>
            <label>"Password"<input name="password" type="password" autocomplete="current-password" prop:value=move || password.get() on:input=move |e| password.set(event_target_value(&e))/></label>
            <button type="submit" class="primary" disabled=move || t.busy.get()>{move || if t.busy.get() { "Signing in…" } else { "Sign in" }}</button>
            <Show when=again>
                <button type="button" on:click=move |_| t.screen.set(Screen::Sell)>"Back to selling"</button>
            </Show>
        </form>
    }
}

#[component]
fn Shops(shops: Vec<ShopChoice>) -> impl IntoView {
    let t = till();
    view! {
        <section class="card shops">
            <h2>"Choose the shop"</h2>
            <ul class="shop-list">
                {shops.into_iter().map(|s| {
                    let label = match s.session_state.as_deref() {
                        Some("opened") => "Join the open session",
                        Some("opening_control") => "Count the cash and open",
                        Some("closing_control") => "Being closed",
                        _ => "Open a session",
                    };
                    let shop = s.clone();
                    view! {
                        <li>
                            <span class="name">{s.name.clone()}</span>
                            <button class="primary" data-test="open-shop" disabled=move || t.busy.get()
                                on:click=move |_| spawn_local(t.open_shop(shop.clone(), None))>{label}</button>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}

#[component]
fn OpenSession(shop: ShopChoice) -> impl IntoView {
    let t = till();
    let cash = RwSignal::new(String::from("0"));
    let name = shop.name.clone();
    view! {
        <section class="card open-session">
            <h2>{format!("Open {name}")}</h2>
            <label>"Cash in the drawer"<input name="opening-cash" inputmode="decimal" prop:value=move || cash.get() on:input=move |e| cash.set(event_target_value(&e))/></label>
            <button class="primary" data-test="open-session" disabled=move || t.busy.get() on:click=move |_| {
                match parse_amount(&cash.get_untracked()) {
                    Some(v) => spawn_local(t.open_shop(shop.clone(), Some(v))),
                    None => t.error("The opening cash is not a number."),
                }
            }>"Open the session"</button>
        </section>
    }
}

// ---------------------------------------------------------------------- selling

#[component]
fn Sell() -> impl IntoView {
    let t = till();
    let category = RwSignal::new(None::<i64>);
    let search = RwSignal::new(String::new());
    let barcode = RwSignal::new(String::new());
    let cur = move || currency(t);
    let products = move || {
        t.catalogue.with(|c| {
            c.as_ref()
                .map(|c| {
                    c.search_products(category.get(), &search.get())
                        .into_iter()
                        .map(|p| {
                            let taxes = c.product_taxes(p);
                            let line = pos_core::tax::single_line(
                                pos_core::tax::BaseLine::new(
                                    p.lst_price,
                                    1.0,
                                    0.0,
                                    taxes,
                                    c.currency.clone(),
                                ),
                                &c.tax_company(),
                            );
                            let shown = if c.config.prices_include_tax {
                                line.tax_details.total_included_currency
                            } else {
                                line.tax_details.total_excluded_currency
                            };
                            (p.id, p.name.clone(), shown)
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    };
    let categories = move || {
        t.catalogue
            .with(|c| c.as_ref().map(|c| c.categories.clone()).unwrap_or_default())
    };
    view! {
        <div class="sell">
            <section class="products">
                <div class="filters">
                    <input class="search" name="search" placeholder="Search products" prop:value=move || search.get()
                        on:input=move |e| search.set(event_target_value(&e))/>
                    <input class="barcode" name="barcode" placeholder="Scan a barcode" autocomplete="off" prop:value=move || barcode.get()
                        on:input=move |e| barcode.set(event_target_value(&e))
                        on:keydown=move |e: leptos::ev::KeyboardEvent| if e.key() == "Enter" {
                            t.scan(&barcode.get_untracked());
                            barcode.set(String::new());
                        }/>
                </div>
                <div class="categories">
                    <button class:active=move || category.get().is_none() on:click=move |_| category.set(None)>"All"</button>
                    {move || categories().into_iter().map(|c| {
                        let id = c.id;
                        view! { <button class:active=move || category.get() == Some(id) on:click=move |_| category.set(Some(id))>{c.name}</button> }
                    }).collect_view()}
                </div>
                <div class="grid">
                    {move || {
                        let list = products();
                        if list.is_empty() {
                            return view! { <p class="hint">"No product matches."</p> }.into_any();
                        }
                        list.into_iter().map(|(id, name, price)| view! {
                            <button class="product" data-product=id.to_string() on:click=move |_| t.add_product(id)>
                                <span class="name">{name}</span>
                                <span class="price">{cur().format(price)}</span>
                            </button>
                        }).collect_view().into_any()
                    }}
                </div>
            </section>
            <Cart/>
        </div>
    }
}

#[component]
fn Cart() -> impl IntoView {
    let t = till();
    let cur = move || currency(t);
    let totals = move || {
        t.order
            .with(|o| o.as_ref().map(Order::totals))
            .unwrap_or_default()
    };
    let lines = move || {
        t.order.with(|o| {
            o.as_ref()
                .map(|o| {
                    o.lines
                        .iter()
                        .enumerate()
                        .map(|(i, l)| (i, l.clone(), o.line_display_price(l)))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    };
    let unavailable = move |pid: i64| {
        t.catalogue
            .with(|c| c.as_ref().is_some_and(|c| c.product(pid).is_none()))
    };
    view! {
        <aside class="cart">
            <div class="customer-row">
                <button data-test="customer" on:click=move |_| t.screen.set(Screen::Customers)>
                    {move || t.order.with(|o| o.as_ref().and_then(|o| o.partner.as_ref().map(|p| p.name().to_owned()))).unwrap_or_else(|| "Customer".into())}
                </button>
                <span class="ref">{move || t.order.with(|o| o.as_ref().map(|o| o.reference.clone())).unwrap_or_default()}</span>
            </div>
            <ul class="lines">
                {move || lines().into_iter().map(|(i, l, price)| {
                    let gone = unavailable(l.product_id);
                    view! {
                        <li class="line" class:selected=move || t.selected.get() == Some(i) class:gone=gone
                            on:click=move |_| t.selected.set(Some(i))>
                            <div class="top"><span class="name">{l.product_name.clone()}</span><span class="amount">{cur().format(price)}</span></div>
                            <div class="detail">
                                {format!("{} × {}", fmt_qty(l.qty), cur().format(l.price_unit))}
                                {(l.discount != 0.0).then(|| format!(" − {}%", fmt_qty(l.discount)))}
                            </div>
                            {(!l.note.is_empty()).then(|| view! { <div class="note">{l.note.clone()}</div> })}
                            {gone.then(|| view! { <div class="gone-msg">"No longer sold in Odoo"</div> })}
                        </li>
                    }
                }).collect_view()}
            </ul>
            <LineEditor/>
            <label class="order-note">"Order note"
                <input name="order-note" prop:value=move || t.order.with(|o| o.as_ref().map(|o| o.note.clone())).unwrap_or_default()
                    on:change=move |e| { let v = event_target_value(&e); t.edit_order(move |o| o.note = v); }/>
            </label>
            <div class="totals">
                <div class="row"><span>"Taxes"</span><span id="cart-tax">{move || cur().format(totals().tax)}</span></div>
                <div class="row total"><span>"Total"</span><span id="cart-total">{move || cur().format(totals().total)}</span></div>
            </div>
            <button class="primary pay" data-test="pay" disabled=move || t.order.with(|o| o.as_ref().is_none_or(|o| o.lines.is_empty()))
                on:click=move |_| t.screen.set(Screen::Pay)>"Pay"</button>
        </aside>
    }
}

fn fmt_qty(q: f64) -> String {
    let s = format!("{q:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[component]
fn LineEditor() -> impl IntoView {
    let t = till();
    let line = move || {
        let i = t.selected.get()?;
        t.order
            .with(|o| o.as_ref().and_then(|o| o.lines.get(i).cloned()))
    };
    let set = move |f: fn(&mut pos_core::OrderLine, f64), v: String| {
        let Some(i) = t.selected.get_untracked() else {
            return;
        };
        match parse_amount(&v) {
            Some(x) => t.edit_order(move |o| {
                if let Some(l) = o.lines.get_mut(i) {
                    f(l, x);
                }
            }),
            None => t.error(format!("{v} is not a number.")),
        }
    };
    view! {
        {move || line().map(|l| {
            let qty = fmt_qty(l.qty);
            let price = l.price_unit.to_string();
            let discount = fmt_qty(l.discount);
            let note = l.note.clone();
            view! {
                <div class="line-editor">
                    <div class="qty-buttons">
                        <button data-test="minus" on:click=move |_| {
                            let Some(i) = t.selected.get_untracked() else { return };
                            t.edit_order(move |o| if let Some(l) = o.lines.get_mut(i) { l.qty -= 1.0; });
                        }>"−"</button>
                        <label>"Qty"<input name="qty" inputmode="decimal" prop:value=qty on:change=move |e| set(|l, x| l.qty = x, event_target_value(&e))/></label>
                        <button data-test="plus" on:click=move |_| {
                            let Some(i) = t.selected.get_untracked() else { return };
                            t.edit_order(move |o| if let Some(l) = o.lines.get_mut(i) { l.qty += 1.0; });
                        }>"+"</button>
                    </div>
                    <label>"Price"<input name="price" inputmode="decimal" prop:value=price on:change=move |e| set(|l, x| l.price_unit = x, event_target_value(&e))/></label>
                    <label>"Discount %"<input name="discount" inputmode="decimal" prop:value=discount on:change=move |e| set(|l, x| l.discount = x.clamp(0.0, 100.0), event_target_value(&e))/></label>
                    <label>"Note"<input name="line-note" prop:value=note on:change=move |e| {
                        let v = event_target_value(&e);
                        let Some(i) = t.selected.get_untracked() else { return };
                        t.edit_order(move |o| if let Some(l) = o.lines.get_mut(i) { l.note = v; });
                    }/></label>
                    <button class="danger" data-test="remove-line" on:click=move |_| {
                        let Some(i) = t.selected.get_untracked() else { return };
                        t.selected.set(None);
                        t.edit_order(move |o| if i < o.lines.len() { o.lines.remove(i); });
                    }>"Remove"</button>
                </div>
            }
        })}
    }
}

// ---------------------------------------------------------------------- customers

#[component]
fn Customers() -> impl IntoView {
    let t = till();
    let query = RwSignal::new(String::new());
    let online_results = RwSignal::new(Vec::<Partner>::new());
    let local = RwSignal::new(Vec::<(String, String, String)>::new());
    let form = RwSignal::new(NewPartner::default());
    spawn_local(async move {
        let l = t.local_customers().await;
        local.set(
            l.into_iter()
                .map(|p| {
                    let state = match p.status {
                        SyncStatus::Waiting => "waiting",
                        SyncStatus::Synced { .. } => "synced",
                        SyncStatus::Refused { .. } => "refused",
                    };
                    (p.uuid, p.partner.name, state.to_owned())
                })
                .collect(),
        );
    });
    let known = move || {
        let q = query.get();
        let mut v: Vec<Partner> = t.catalogue.with(|c| {
            c.as_ref()
                .map(|c| {
                    c.partners
                        .iter()
                        .filter(|p| p.matches(&q))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default()
        });
        for p in online_results.get() {
            if !v.iter().any(|x| x.id == p.id) {
                v.push(p);
            }
        }
        v
    };
    let pick = move |r: PartnerRef| {
        t.edit_order(move |o| o.partner = Some(r));
        t.screen.set(Screen::Sell);
    };
    let search_online = move |_| {
        let q = query.get_untracked();
        if !t.online.get_untracked() {
            t.error("Searching Odoo's customers needs the network; customers created on this device are listed below.");
            return;
        }
        spawn_local(async move {
            match t.search_customers_online(q).await {
                Ok(v) => online_results.set(v),
                Err(e) => t.error(e),
            }
        });
    };
    let field = move |get: fn(&NewPartner) -> String,
                      put: fn(&mut NewPartner, String),
                      name: &'static str,
                      label: &'static str| {
        view! {
            <label>{label}<input name=name prop:value=move || form.with(get) on:input=move |e| {
                let v = event_target_value(&e);
                form.update(|f| put(f, v));
            }/></label>
        }
    };
    view! {
        <section class="card customers">
            <div class="row">
                <input name="customer-search" placeholder="Name, email or phone" prop:value=move || query.get() on:input=move |e| query.set(event_target_value(&e))/>
                <button on:click=search_online>"Search in Odoo"</button>
                <button on:click=move |_| { t.edit_order(|o| o.partner = None); t.screen.set(Screen::Sell); }>"No customer"</button>
                <button on:click=move |_| t.screen.set(Screen::Sell)>"Back"</button>
            </div>
            <ul class="partner-list">
                {move || known().into_iter().map(|p| {
                    let r = PartnerRef::Known { id: p.id, name: p.name.clone() };
                    view! { <li><button on:click=move |_| pick(r.clone())>{p.name.clone()}<small>{p.email.clone().unwrap_or_default()}</small></button></li> }
                }).collect_view()}
                {move || local.get().into_iter().filter(|(_, n, _)| n.to_lowercase().contains(&query.get().to_lowercase())).map(|(uuid, name, state)| {
                    let r = PartnerRef::Local { uuid, name: name.clone() };
                    view! { <li><button on:click=move |_| pick(r.clone())>{name}<small>{format!("created on this device, {state}")}</small></button></li> }
                }).collect_view()}
            </ul>
            <form class="new-customer" on:submit=move |e: leptos::ev::SubmitEvent| {
                e.prevent_default();
                let p = form.get_untracked();
                spawn_local(t.create_customer(p));
            }>
                <h3>"New customer"</h3>
                {field(|f| f.name.clone(), |f, v| f.name = v, "customer-name", "Name")}
                {field(|f| f.email.clone().unwrap_or_default(), |f, v| f.email = Some(v), "customer-email", "Email")}
                {field(|f| f.phone.clone().unwrap_or_default(), |f, v| f.phone = Some(v), "customer-phone", "Phone")}
                {field(|f| f.street.clone().unwrap_or_default(), |f, v| f.street = Some(v), "customer-street", "Street")}
                {field(|f| f.city.clone().unwrap_or_default(), |f, v| f.city = Some(v), "customer-city", "City")}
                <button type="submit" class="primary">"Create and use"</button>
                <p class="hint">"Created on this device now, and in Odoo before the orders that use it."</p>
            </form>
        </section>
    }
}

// ---------------------------------------------------------------------- payment

#[component]
fn Pay() -> impl IntoView {
    let t = till();
    let cur = move || currency(t);
    let totals = move || {
        t.order
            .with(|o| o.as_ref().map(Order::totals))
            .unwrap_or_default()
    };
    let methods = move || {
        t.catalogue.with(|c| {
            c.as_ref()
                .map(|c| c.payment_methods.clone())
                .unwrap_or_default()
        })
    };
    let payments = move || {
        t.order
            .with(|o| o.as_ref().map(|o| o.payments.clone()).unwrap_or_default())
    };
    view! {
        <section class="pay">
            <div class="due">
                <div class="big" id="pay-total">{move || cur().format(totals().total)}</div>
                {move || {
                    let tt = totals();
                    if tt.change > 0.0 {
                        view! { <div class="change" id="change">"Change: "{cur().format(tt.change)}</div> }.into_any()
                    } else if tt.remaining > 0.0 && !cur().is_zero(tt.remaining) {
                        view! { <div class="remaining" id="remaining">"Remaining: "{cur().format(tt.remaining)}</div> }.into_any()
                    } else {
                        view! { <div class="remaining done">"Paid in full"</div> }.into_any()
                    }
                }}
            </div>
            <div class="methods">
                {move || methods().into_iter().map(|m| {
                    let id = m.id;
                    view! { <button class="method" data-method=m.name.clone() on:click=move |_| t.add_payment(id)>{m.name.clone()}</button> }
                }).collect_view()}
            </div>
            <ul class="payments">
                {move || payments().into_iter().enumerate().map(|(i, p)| view! {
                    <li>
                        <span>{p.method_name.clone()}</span>
                        <input name="payment-amount" inputmode="decimal" prop:value=p.amount.to_string() on:change=move |e| {
                            let v = event_target_value(&e);
                            match parse_amount(&v) {
                                Some(x) => t.edit_order(move |o| if let Some(p) = o.payments.get_mut(i) { p.amount = x; }),
                                None => t.error(format!("{v} is not an amount.")),
                            }
                        }/>
                        <button class="danger" on:click=move |_| t.edit_order(move |o| if i < o.payments.len() { o.payments.remove(i); })>"×"</button>
                    </li>
                }).collect_view()}
            </ul>
            <div class="actions">
                <button on:click=move |_| t.screen.set(Screen::Sell)>"Back"</button>
                <button class="primary" data-test="validate" disabled=move || t.busy.get() on:click=move |_| spawn_local(t.validate())>"Validate"</button>
            </div>
        </section>
    }
}

fn status_badge(s: &SyncStatus) -> (&'static str, &'static str) {
    match s {
        SyncStatus::Waiting => ("waiting", "Waiting"),
        SyncStatus::Synced { .. } => ("synced", "Synced"),
        SyncStatus::Refused { .. } => ("refused", "Refused"),
    }
}

#[component]
fn ReceiptBody(q: QueuedOrder) -> impl IntoView {
    let t = till();
    let o = q.order.clone();
    let cur = o.currency.clone();
    let totals: OrderTotals = o.totals();
    let company = t
        .catalogue
        .with_untracked(|c| c.as_ref().map(|c| (c.company.clone(), c.config.clone())));
    let (company, config) = company.unzip();
    let lines = o
        .lines
        .iter()
        .map(|l| {
            (
                l.product_name.clone(),
                fmt_qty(l.qty),
                o.line_display_price(l),
                l.discount,
                l.note.clone(),
            )
        })
        .collect::<Vec<_>>();
    let c2 = cur.clone();
    let c3 = cur.clone();
    let c4 = cur.clone();
    view! {
        <article class="receipt" id="receipt" data-uuid=o.uuid.clone() data-total=totals.total.to_string()>
            {company.map(|c| view! {
                <header>
                    <h2>{c.name.clone()}</h2>
                    {c.address.clone().map(|a| view! { <div>{a}</div> })}
                    {c.phone.clone().map(|a| view! { <div>{format!("Tel: {a}")}</div> })}
                    {c.vat.clone().map(|a| view! { <div>{format!("VAT: {a}")}</div> })}
                    {c.email.clone().map(|a| view! { <div>{a}</div> })}
                </header>
            })}
            {config.and_then(|c| c.receipt_header).map(|h| view! { <p class="header-text">{h}</p> })}
            <div class="meta">
                <div id="receipt-ref">{o.reference.clone()}</div>
                <div>{browser::local_time(o.paid_at.as_deref().unwrap_or(&o.created_at))}" · "{o.created_at[..10].to_owned()}</div>
                {o.partner.as_ref().map(|p| view! { <div>"Customer: "{p.name().to_owned()}</div> })}
            </div>
            <ul class="receipt-lines">
                {lines.into_iter().map(|(name, qty, price, discount, note)| view! {
                    <li>
                        <span>{format!("{qty} {name}")}{(discount != 0.0).then(|| format!(" (−{}%)", fmt_qty(discount)))}</span>
                        <span>{c2.format(price)}</span>
                        {(!note.is_empty()).then(|| view! { <em class="note">{note}</em> })}
                    </li>
                }).collect_view()}
            </ul>
            <div class="receipt-totals">
                {totals.groups.iter().map(|g| view! {
                    <div class="row small"><span>{g.label.clone().unwrap_or_else(|| g.name.clone())}
                        {g.display_base_amount_currency.map(|b| format!(" on {}", c3.format(b)))}</span><span>{c3.format(g.tax_amount_currency)}</span></div>
                }).collect_view()}
                <div class="row"><span>"Taxes"</span><span>{cur.format(totals.tax)}</span></div>
                <div class="row total"><span>"TOTAL"</span><span id="receipt-total">{cur.format(totals.total)}</span></div>
                {o.payments.iter().map(|p| view! { <div class="row"><span>{p.method_name.clone()}</span><span>{c4.format(p.amount)}</span></div> }).collect_view()}
                {(totals.change > 0.0).then(|| view! { <div class="row"><span>"CHANGE"</span><span id="receipt-change">{cur.format(totals.change)}</span></div> })}
            </div>
            {(!o.note.is_empty()).then(|| view! { <p class="order-note">{o.note.clone()}</p> })}
            {t.catalogue.with_untracked(|c| c.as_ref().and_then(|c| c.config.receipt_footer.clone())).map(|f| view! { <p class="footer-text">{f}</p> })}
        </article>
    }
}

#[component]
fn Receipt(uuid: String) -> impl IntoView {
    let t = till();
    let order = RwSignal::new(None::<QueuedOrder>);
    let u = uuid.clone();
    Effect::new(move |_| {
        t.orders_rev.track();
        let u = u.clone();
        spawn_local(async move { order.set(t.saved_order(u).await) });
    });
    view! {
        <section class="receipt-screen">
            <div class="paid no-print" id="paid" role="status">
                "Paid"
                {move || order.get().map(|q| {
                    let (class, label) = status_badge(&q.status);
                    view! { <span class=format!("badge {class}") data-status=class>{label}</span> }
                })}
            </div>
            {move || order.get().map(|q| view! { <ReceiptBody q=q/> })}
            <div class="actions no-print">
                <button on:click=|_| browser::print()>"Print"</button>
                <button class="primary" data-test="new-order" on:click=move |_| t.screen.set(Screen::Sell)>"New order"</button>
            </div>
        </section>
    }
}

#[component]
fn Orders() -> impl IntoView {
    let t = till();
    let list = RwSignal::new(Vec::<QueuedOrder>::new());
    Effect::new(move |_| {
        t.orders_rev.track();
        spawn_local(async move {
            match t.todays_orders().await {
                Ok(v) => list.set(v),
                Err(e) => t.error(e),
            }
        });
    });
    view! {
        <section class="card orders">
            <div class="row">
                <h2>"Today's orders"</h2>
                <button on:click=move |_| t.sync_now()>"Send now"</button>
            </div>
            <p class="hint">"Waiting: on this device, not yet confirmed by Odoo. Synced: Odoo has it. Refused: Odoo said no, with its reason; fix the cause in Odoo, then Retry."</p>
            <table class="order-table">
                <thead><tr><th>"Order"</th><th>"Time"</th><th>"Total"</th><th>"Status"</th><th></th></tr></thead>
                <tbody>
                    {move || list.get().into_iter().map(|q| {
                        let (class, label) = status_badge(&q.status);
                        let total = q.order.totals().total;
                        let cur = q.order.currency.clone();
                        let uuid = q.order.uuid.clone();
                        let uuid2 = uuid.clone();
                        let uuid3 = uuid.clone();
                        let reason = match &q.status {
                            SyncStatus::Refused { reason } => Some(reason.clone()),
                            SyncStatus::Waiting => q.last_error.clone(),
                            SyncStatus::Synced { server_name, .. } => server_name.clone(),
                        };
                        let refused = matches!(q.status, SyncStatus::Refused { .. });
                        view! {
                            <tr data-uuid=uuid3 data-status=class>
                                <td><button class="link" on:click=move |_| t.screen.set(Screen::Receipt(uuid2.clone()))>{q.order.reference.clone()}</button></td>
                                <td>{browser::local_time(q.order.paid_at.as_deref().unwrap_or(&q.order.created_at))}</td>
                                <td>{cur.format(total)}</td>
                                <td><span class=format!("badge {class}")>{label}</span>{reason.map(|r| view! { <div class="reason">{r}</div> })}</td>
                                <td>{refused.then(|| view! { <button data-test="retry" on:click=move |_| spawn_local(t.retry(uuid.clone()))>"Retry"</button> })}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn Close() -> impl IntoView {
    let t = till();
    let data = RwSignal::new(None::<serde_json::Value>);
    let counted = RwSignal::new(String::new());
    let notes = RwSignal::new(String::new());
    let load = move || {
        if !t.online.get_untracked() {
            t.error("Closing the session needs the network.");
            return;
        }
        spawn_local(async move {
            match t.closing_data().await {
                Ok(v) => data.set(Some(v)),
                Err(e) => t.error(e),
            }
        });
    };
    load();
    let cur = move || currency(t);
    let expected = move || {
        data.with(|d| {
            d.as_ref()
                .and_then(|d| d["default_cash_details"]["amount"].as_f64())
        })
    };
    let difference = move || Some(parse_amount(&counted.get())? - expected()?);
    view! {
        <section class="card close">
            <h2>"Close the session"</h2>
            <Show when=move || { t.waiting.get() > 0 }>
                <p class="notice error">{move || format!("{} order(s) have not reached Odoo yet. They must be sent before closing.", t.waiting.get())}
                    <button on:click=move |_| t.sync_now()>"Send now"</button></p>
            </Show>
            {move || data.get().map(|d| {
                let orders = d["orders_details"]["quantity"].as_i64().unwrap_or(0);
                let amount = d["orders_details"]["amount"].as_f64().unwrap_or(0.0);
                let others: Vec<(String, f64)> = d["non_cash_payment_methods"].as_array().into_iter().flatten()
                    .map(|m| (m["name"].as_str().unwrap_or("").to_owned(), m["amount"].as_f64().unwrap_or(0.0))).collect();
                let has_cash = d["default_cash_details"].get("amount").is_some();
                view! {
                    <div class="closing">
                        <div class="row"><span>"Orders"</span><span id="closing-orders">{format!("{orders} for {}", cur().format(amount))}</span></div>
                        {others.into_iter().map(|(n, a)| view! { <div class="row"><span>{n}</span><span>{cur().format(a)}</span></div> }).collect_view()}
                        {has_cash.then(|| view! {
                            <div class="row"><span>"Expected cash"</span><span id="expected-cash">{move || expected().map(|e| cur().format(e)).unwrap_or_default()}</span></div>
                            <label>"Counted cash"<input name="counted-cash" inputmode="decimal" prop:value=move || counted.get() on:input=move |e| counted.set(event_target_value(&e))/></label>
                            <div class="row"><span>"Difference"</span><span id="cash-difference" class:warn=move || difference().is_some_and(|d| !cur().is_zero(d))>
                                {move || difference().map(|d| cur().format(d)).unwrap_or_else(|| "—".into())}</span></div>
                        })}
                    </div>
                }
            })}
            <label>"Notes"<input name="closing-notes" prop:value=move || notes.get() on:input=move |e| notes.set(event_target_value(&e))/></label>
            <p class="hint">"Session closed in Odoo already, or another shop? "
                <button data-test="change-shop" disabled=move || t.busy.get() on:click=move |_| spawn_local(t.show_shops())>"Choose the shop again"</button>
            </p>
            <div class="actions">
                <button on:click=move |_| t.screen.set(Screen::Sell)>"Back"</button>
                <button class="primary" data-test="close-session" disabled=move || { t.busy.get() || t.waiting.get() > 0 } on:click=move |_| {
                    let has_cash = data.with_untracked(|d| d.as_ref().is_some_and(|d| d["default_cash_details"].get("amount").is_some()));
                    let cash = if has_cash {
                        match parse_amount(&counted.get_untracked()) {
                            Some(v) => Some(v),
                            None => { t.error("The counted cash is not a number."); return; }
                        }
                    } else { None };
                    let n = notes.get_untracked();
                    spawn_local(async move {
                        if let Err(e) = t.close_session(cash, n).await { t.error(e); }
                    });
                }>"Close the session"</button>
            </div>
        </section>
    }
}
