//! The front door at `<domain>`: what the platform offers, the plans with prices and
//! limits, sign up and sign in.

use super::api::catalog;
use super::model::PlanCard;
use crate::admin::widgets::ErrorBox;
use leptos::prelude::*;
use leptos_meta::Title;

/// The product's public page.
#[component]
pub fn HomePage() -> impl IntoView {
    let plans = Resource::new(|| (), |_| catalog());
    view! {
        <Title text="Odoo in minutes · Odoo SaaS" />
        <SiteHeader />
        <main class="page front" id="main">
            <section class="hero">
                <h1>"Your own Odoo, running in minutes"</h1>
                <p class="lead">
                    "Pick a plan, choose your address, and get a ready Odoo with its point of sale: "
                    "we create it, keep it running and back it up. Manage it yourself from your portal."
                </p>
                <p class="cta">
                    <a class="button primary" href="/signup" id="signup-link">"Start now"</a>
                    " "
                    <a class="button" href="/signin" id="signin-link">"Sign in"</a>
                </p>
            </section>
            <section class="features" aria-label="What you get">
                <div class="card">
                    <h2>"Ready at once"</h2>
                    <p>"Your Odoo is made from a ready template while you watch: no waiting for an installer."</p>
                </div>
                <div class="card">
                    <h2>"A point of sale that works offline"</h2>
                    <p>"Sell from a tablet at " <code>"your-shop.…/pos/"</code> ", with or without network; every sale reaches Odoo once."</p>
                </div>
                <div class="card">
                    <h2>"Yours to manage"</h2>
                    <p>"Add companies, reset the administrator's password or delete it with a final backup, from your portal or the API."</p>
                </div>
            </section>
            <section aria-labelledby="plans-h">
                <h2 id="plans-h">"Plans"</h2>
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match plans.await {
                            Err(error) => view! { <ErrorBox error /> }.into_any(),
                            Ok(plans) if plans.is_empty() => view! {
                                <p class="empty">"No plan is on offer yet: come back soon."</p>
                            }.into_any(),
                            Ok(plans) => view! { <PlanCards plans link=true /> }.into_any(),
                        }
                    })}
                </Suspense>
            </section>
        </main>
    }
}

/// The site's top bar: the brand, sign in and sign up.
#[component]
pub fn SiteHeader() -> impl IntoView {
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="topbar site">
            <a class="brand" href="/">"Odoo SaaS"</a>
            <nav aria-label="Account">
                <a href="/signin">"Sign in"</a>
                <a href="/signup">"Sign up"</a>
            </nav>
        </header>
    }
}

/// The plans as cards; with `link`, each links to the sign-up with the plan chosen.
#[component]
pub fn PlanCards(plans: Vec<PlanCard>, link: bool) -> impl IntoView {
    view! {
        <ul class="plans" id="plans">
            {plans
                .into_iter()
                .map(|plan| {
                    let href = format!("/my/new?plan={}", plan.key);
                    let key = plan.key.clone();
                    view! {
                        <li class="card plan" data-plan=key>
                            <h3>{plan.name.clone()}</h3>
                            <p class="price">{plan.price()}</p>
                            <ul class="limits">
                                {plan.limits().into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
                            </ul>
                            {(!plan.modules.is_empty()).then(|| view! {
                                <p class="sub">{format!("Includes {}", plan.modules.join(", "))}</p>
                            })}
                            {plan.payment_note().map(|note| view! { <p class="sub">{note}</p> })}
                            {link.then(|| view! { <a class="button" href=href>"Choose"</a> })}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}
