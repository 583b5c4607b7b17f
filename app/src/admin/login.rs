//! The sign-in page.

use super::api::SignIn;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// Email and password; says why when the session ended.
#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let sign_in = ServerAction::<SignIn>::new();
    let next = move || query.with(|q| q.get("next")).unwrap_or_default();
    let notice = move || {
        query.with(|q| {
            if q.get("expired").is_some() {
                Some("Your session has expired. Sign in again.")
            } else if q.get("signed_out").is_some() {
                Some("You are signed out.")
            } else {
                None
            }
        })
    };
    let error = move || {
        sign_in
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| e.message)
    };
    view! {
        <Title text="Sign in · Odoo SaaS" />
        <main class="login" id="main">
            <h1>"Operations portal"</h1>
            {move || notice().map(|n| view! { <p class="alert info" role="status">{n}</p> })}
            <ActionForm action=sign_in attr:class="card form" attr:aria-label="Sign in">
                <input type="hidden" name="next" value=next />
                <label for="email">"Email"</label>
                <input
                    id="email"
                    name="email"
                    type="email"
                    autocomplete="username"
                    required
                    autofocus
                />
                <label for="password">"Password"</label>
                <input
                    id="password"
                    name="password"
                    type="password"
                    autocomplete="current-password"
                    required
                />
                {move || error().map(|e| view! { <p class="alert error" role="alert">{e}</p> })}
                <button type="submit" class="primary" disabled=move || sign_in.pending().get()>
                    {move || if sign_in.pending().get() { "Signing in…" } else { "Sign in" }}
                </button>
            </ActionForm>
        </main>
    }
}
