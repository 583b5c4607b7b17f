//! The account pages of the front door: sign up, sign in, confirm the address, forgotten
//! and new password, confirm a new address. Each works as a plain form before the wasm
//! loads, and shows field errors once hydrated.

use super::api::{
    check_reset, ConfirmEmailChange, ForgotPassword, OwnerSignIn, ResetPassword, SignUp,
    VerifyEmail,
};
use super::error_for as field_error;
use super::front::SiteHeader;
use crate::admin::widgets::ErrorBox;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// A query parameter of the page's address.
fn query(name: &'static str) -> impl Fn() -> Option<String> + Copy + Send + Sync + 'static {
    let q = use_query_map();
    move || q.with(|q| q.get(name)).filter(|v| !v.is_empty())
}

/// Sign up: name, email, password; then "check your inbox" (the same page whatever the
/// address).
#[component]
pub fn SignUpPage() -> impl IntoView {
    let action = ServerAction::<SignUp>::new();
    let sent = query("sent");
    let value = action.value();
    let error = move |f| field_error(value, f);
    view! {
        <Title text="Sign up · Odoo SaaS" />
        <SiteHeader />
        <main class="login" id="main">
            <h1>"Open your account"</h1>
            {move || match sent() {
                Some(email) => view! {
                    <div class="card" id="signup-sent" role="status">
                        <h2>"Check your inbox"</h2>
                        <p>{format!("We sent a link to {email}. Follow it to confirm your address, then sign in.")}</p>
                        <p class="help">"Nothing there after a few minutes? Look in the spam folder, or sign up again to have it sent once more."</p>
                    </div>
                }.into_any(),
                None => view! {
                    <ActionForm action attr:class="card form" attr:aria-label="Sign up">
                        <label for="name">"Your name"</label>
                        <input id="name" name="name" autocomplete="name" required maxlength="100" />
                        {error("name")}
                        <label for="email">"Email"</label>
                        <input id="email" name="email" type="email" autocomplete="email" required />
                        {error("email")}
                        <label for="password">"Password"</label>
                        <input id="password" name="password" type="password" autocomplete="new-password" required minlength="10" maxlength="128" />
                        <p class="help">"At least 10 characters. A few unusual words are strong and easy to remember."</p>
                        {error("password")}
                        {error("")}
                        <button type="submit" class="primary" disabled=move || action.pending().get()>
                            {move || if action.pending().get() { "Opening…" } else { "Sign up" }}
                        </button>
                        <p>"Have an account? " <a href="/signin">"Sign in"</a></p>
                    </ActionForm>
                }.into_any(),
            }}
        </main>
    }
}

/// Sign in; says why when arriving from a confirmation, a reset or an ended session.
#[component]
pub fn OwnerSignInPage() -> impl IntoView {
    let action = ServerAction::<OwnerSignIn>::new();
    let next = query("next");
    let (verified, reset, changed, expired, signed_out) = (
        query("verified"),
        query("reset"),
        query("changed"),
        query("expired"),
        query("signed_out"),
    );
    let notice = move || {
        if let Some(email) = verified() {
            Some(format!(
                "{email} is confirmed. Sign in to create your Odoo."
            ))
        } else if reset().is_some() {
            Some("Your new password is set. Sign in with it.".to_owned())
        } else if let Some(email) = changed() {
            Some(format!(
                "Your account's address is now {email}. Sign in with it."
            ))
        } else if expired().is_some() {
            Some("Your session has ended. Sign in again.".to_owned())
        } else if signed_out().as_deref() == Some("everywhere") {
            Some("You are signed out on every device.".to_owned())
        } else if signed_out().is_some() {
            Some("You are signed out.".to_owned())
        } else {
            None
        }
    };
    let value = action.value();
    let error = move || value.get().and_then(|r| r.err()).map(|e| e.message);
    view! {
        <Title text="Sign in · Odoo SaaS" />
        <SiteHeader />
        <main class="login" id="main">
            <h1>"Sign in"</h1>
            {move || notice().map(|n| view! { <p class="alert info" role="status">{n}</p> })}
            <ActionForm action attr:class="card form" attr:aria-label="Sign in">
                <input type="hidden" name="next" value=move || next().unwrap_or_default() />
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="username" required autofocus />
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required />
                {move || error().map(|e| view! { <p class="alert error" role="alert">{e}</p> })}
                <button type="submit" class="primary" disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Signing in…" } else { "Sign in" }}
                </button>
                <p>
                    <a href="/forgot">"Forgot your password?"</a>
                    " · "
                    <a href="/signup">"Open an account"</a>
                </p>
            </ActionForm>
        </main>
    }
}

/// The page a verification link opens: a button confirms (opening the link alone does
/// not, so mail scanners cannot use it up).
#[component]
pub fn VerifyPage() -> impl IntoView {
    let action = ServerAction::<VerifyEmail>::new();
    let token = query("token");
    let value = action.value();
    view! {
        <Title text="Confirm your address · Odoo SaaS" />
        <SiteHeader />
        <main class="login" id="main">
            <h1>"Confirm your email address"</h1>
            <ActionForm action attr:class="card form" attr:aria-label="Confirm">
                <input type="hidden" name="token" value=move || token().unwrap_or_default() />
                <p>"Press the button to confirm that this address is yours."</p>
                {field_error(value, "token")}
                {field_error(value, "")}
                <button type="submit" class="primary" id="confirm-email" disabled=move || action.pending().get()>
                    "Confirm my address"
                </button>
            </ActionForm>
        </main>
    }
}

/// Forgotten password: the address, then "if it has an account, a link is on its way".
#[component]
pub fn ForgotPage() -> impl IntoView {
    let action = ServerAction::<ForgotPassword>::new();
    let sent = query("sent");
    let value = action.value();
    view! {
        <Title text="Forgotten password · Odoo SaaS" />
        <SiteHeader />
        <main class="login" id="main">
            <h1>"Forgotten password"</h1>
            {move || match sent() {
                Some(email) => view! {
                    <p class="alert info" role="status" id="forgot-sent">
                        {format!("If {email} has an account, a link to choose a new password is on its way. It works once, for an hour.")}
                    </p>
                }.into_any(),
                None => view! {
                    <ActionForm action attr:class="card form" attr:aria-label="Forgotten password">
                        <label for="email">"Email"</label>
                        <input id="email" name="email" type="email" autocomplete="email" required />
                        {field_error(value, "email")}
                        {field_error(value, "")}
                        <button type="submit" class="primary">"Send me a link"</button>
                    </ActionForm>
                }.into_any(),
            }}
        </main>
    }
}

/// The page a password-reset link opens: the new password twice, if the link still works.
#[component]
pub fn ResetPage() -> impl IntoView {
    let action = ServerAction::<ResetPassword>::new();
    let token = query("token");
    let valid = Resource::new(move || token().unwrap_or_default(), check_reset);
    let value = action.value();
    view! {
        <Title text="New password · Odoo SaaS" />
        <SiteHeader />
        <main class="login" id="main">
            <h1>"Choose a new password"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match valid.await {
                        Err(error) => view! {
                            <ErrorBox error />
                            <p><a href="/forgot">"Ask for a new link"</a></p>
                        }.into_any(),
                        Ok(()) => view! {
                            <ActionForm action attr:class="card form" attr:aria-label="New password">
                                <input type="hidden" name="token" value=move || token().unwrap_or_default() />
                                <label for="password">"New password"</label>
                                <input id="password" name="password" type="password" autocomplete="new-password" required minlength="10" maxlength="128" />
                                {field_error(value, "password")}
                                <label for="confirm">"The same again"</label>
                                <input id="confirm" name="confirm" type="password" autocomplete="new-password" required />
                                {field_error(value, "confirm")}
                                {field_error(value, "token")}
                                {field_error(value, "")}
                                <p class="help">"Setting it signs you out on every device."</p>
                                <button type="submit" class="primary">"Set my password"</button>
                            </ActionForm>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}

/// The page an email-change link opens: a button moves the account to the new address.
#[component]
pub fn ConfirmEmailPage() -> impl IntoView {
    let action = ServerAction::<ConfirmEmailChange>::new();
    let token = query("token");
    let value = action.value();
    view! {
        <Title text="Confirm your new address · Odoo SaaS" />
        <SiteHeader />
        <main class="login" id="main">
            <h1>"Confirm your new address"</h1>
            <ActionForm action attr:class="card form" attr:aria-label="Confirm">
                <input type="hidden" name="token" value=move || token().unwrap_or_default() />
                <p>"Press the button to move your account to this address."</p>
                {field_error(value, "token")}
                {field_error(value, "")}
                <button type="submit" class="primary">"Use this address"</button>
            </ActionForm>
        </main>
    }
}
