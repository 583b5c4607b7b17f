//! Billing on the owner's tenant page: plan, status, trial end, next invoice, card,
//! invoices with Stripe's page and PDF; change plan after a proration preview, cancel at the
//! period's end and undo, update the card, pay for a tenant waiting for its first payment;
//! and the return from Stripe Checkout. Its own backend trait (implemented by the server,
//! provided as context), like the operations portal's billing, so billing stays apart from
//! the rest of the owner pages.
// Form posts map one field to one argument.
#![allow(clippy::too_many_arguments)]

use super::portal::OwnerCsrf;
use crate::admin::billing::{InvoiceRow, InvoiceTable};
use crate::admin::model::AdminError;
use crate::admin::widgets::{ErrorBox, StateBadge};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A tenant's billing as its owner sees it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OwnerBilling {
    /// `none`, `checkout` (first payment pending), or Stripe's status.
    pub status: String,
    /// Plan name.
    pub plan: String,
    /// Plan key.
    pub plan_key: String,
    /// Whether the plan costs money.
    pub paid_plan: bool,
    /// e.g. `EUR 29.00 / month`.
    pub price: String,
    /// Trial end (UTC date).
    pub trial_end: Option<String>,
    /// Current period end (UTC date).
    pub current_period_end: Option<String>,
    /// Ends at the period's end.
    pub cancel_at_period_end: bool,
    /// e.g. `EUR 29.00 on 2027-01-02`.
    pub next_invoice: Option<String>,
    /// e.g. `visa ending 4242 (12/2030)`.
    pub card: Option<String>,
    /// Suspended unless paid by (UTC date).
    pub grace_ends_at: Option<String>,
    /// Deleted after (UTC date).
    pub delete_after: Option<String>,
    /// Offered free of charge by the operator.
    pub comped: bool,
    /// Stripe could not be asked for the live parts.
    pub stripe_unreachable: bool,
    /// The tenant waits for its first payment.
    pub awaiting_payment: bool,
    /// Invoices, newest first.
    pub invoices: Vec<InvoiceRow>,
    /// Why the invoices could not be read.
    pub invoices_error: Option<String>,
    /// The paid plans the owner can change to, the current one first (to change only the
    /// billing period): (key, "Name · EUR 29.00 / month or EUR 348.00 / year").
    pub plans: Vec<(String, String)>,
    /// The current billing period: `month` or `year`.
    pub interval: String,
}

impl OwnerBilling {
    /// A subscription the owner can change, cancel or pay with another card.
    pub fn manageable(&self) -> bool {
        !self.comped
            && matches!(
                self.status.as_str(),
                "active" | "trialing" | "past_due" | "unpaid"
            )
    }
}

/// What a plan change will cost.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChangePreviewView {
    /// The new plan's key.
    pub plan: String,
    /// The new billing period: `month` or `year`.
    pub interval: String,
    /// e.g. `EUR 49.00 / month`.
    pub new_price: String,
    /// The next invoice, prorations included, e.g. `EUR 12.34`.
    pub amount_due: String,
    /// When it is charged (UTC date).
    pub next_invoice_date: Option<String>,
    /// (description, amount).
    pub lines: Vec<(String, String)>,
    /// Sent back with the confirmation.
    pub proration_date: i64,
}

/// What the return from Stripe Checkout turned out to be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutReturn {
    /// subscribed, card_saved, confirming, expired.
    pub outcome: String,
    /// For people.
    pub message: String,
}

/// The server side of the owner's billing. `owner` is the signed-in owner's id; every call
/// reads the tenant as this owner (another owner's tenant is "no such tenant").
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait OwnerBillingBackend: Send + Sync + 'static {
    /// The tenant's billing.
    async fn billing(&self, owner: &str, id: &str) -> Result<OwnerBilling, AdminError>;
    /// What changing to `plan` billed each `interval` (`month`, `year`; none: as now) costs.
    async fn preview(
        &self,
        owner: &str,
        id: &str,
        plan: &str,
        interval: Option<&str>,
    ) -> Result<ChangePreviewView, AdminError>;
    /// Changes to `plan` billed each `interval`, prorated as previewed at `proration_date`.
    async fn change(
        &self,
        owner: &str,
        id: &str,
        plan: &str,
        interval: Option<&str>,
        proration_date: Option<i64>,
    ) -> Result<(), AdminError>;
    /// Cancels at the period's end (`true`) or undoes it.
    async fn set_cancel(&self, owner: &str, id: &str, cancel: bool) -> Result<(), AdminError>;
    /// A Checkout Session in setup mode: its address.
    async fn card(&self, owner: &str, id: &str) -> Result<String, AdminError>;
    /// A Checkout Session paying for the tenant: its address.
    async fn pay(&self, owner: &str, id: &str) -> Result<String, AdminError>;
    /// Gives up a paid sign-up before its first payment (the checkout is closed, the
    /// waiting tenant removed).
    async fn cancel_signup(&self, owner: &str, id: &str) -> Result<(), AdminError>;
    /// Takes the session Stripe sent the owner back with into account.
    async fn confirm_return(
        &self,
        owner: &str,
        id: &str,
        session_id: &str,
    ) -> Result<CheckoutReturn, AdminError>;
}

/// The owner billing backend handle in Leptos context.
#[cfg(feature = "ssr")]
pub type Billing = std::sync::Arc<dyn OwnerBillingBackend>;

#[cfg(feature = "ssr")]
async fn billing_call<T, F, Fut>(f: F) -> Result<T, AdminError>
where
    F: FnOnce(Billing) -> Fut,
    Fut: std::future::Future<Output = Result<T, AdminError>>,
{
    let Some(b) = use_context::<Billing>() else {
        return crate::admin::backend::fail(AdminError::new(
            crate::admin::model::ErrorKind::Internal,
            "Billing is not configured in these pages.",
        ));
    };
    match f(b).await {
        Ok(v) => Ok(v),
        Err(e) => crate::admin::backend::fail(e),
    }
}

/// The tenant's billing.
#[server(prefix = "/sfn/owner", endpoint = "billing")]
pub async fn my_billing(id: String) -> Result<OwnerBilling, AdminError> {
    let p = super::backend::require_owner()?;
    billing_call(|b| async move { b.billing(&p.id, &id).await }).await
}

/// What changing plan costs.
#[server(prefix = "/sfn/owner", endpoint = "billing_preview")]
pub async fn preview_plan_change(
    csrf: String,
    id: String,
    plan: String,
    interval: Option<String>,
) -> Result<ChangePreviewView, AdminError> {
    let p = super::backend::authorize_owner_change(&csrf)?;
    billing_call(|b| async move { b.preview(&p.id, &id, &plan, interval.as_deref()).await }).await
}

/// Changes plan as previewed.
#[server(prefix = "/sfn/owner", endpoint = "billing_change")]
pub async fn change_plan(
    csrf: String,
    id: String,
    plan: String,
    interval: Option<String>,
    proration_date: Option<i64>,
) -> Result<(), AdminError> {
    let p = super::backend::authorize_owner_change(&csrf)?;
    billing_call(|b| async move {
        b.change(&p.id, &id, &plan, interval.as_deref(), proration_date)
            .await
    })
    .await
}

/// Cancels at the period's end (`cancel=true`) or undoes it.
#[server(prefix = "/sfn/owner", endpoint = "billing_cancel")]
pub async fn set_cancel_at_period_end(
    csrf: String,
    id: String,
    cancel: String,
) -> Result<(), AdminError> {
    let p = super::backend::authorize_owner_change(&csrf)?;
    let cancel = cancel == "true";
    billing_call(|b| async move { b.set_cancel(&p.id, &id, cancel).await }).await
}

/// Sends the owner to Stripe Checkout to save a new card.
#[server(prefix = "/sfn/owner", endpoint = "billing_card")]
pub async fn update_card(csrf: String, id: String) -> Result<(), AdminError> {
    let p = super::backend::authorize_owner_change(&csrf)?;
    let url = billing_call(|b| async move { b.card(&p.id, &id).await }).await?;
    leptos_axum::redirect(&url);
    Ok(())
}

/// Sends the owner to Stripe Checkout to pay for the tenant.
#[server(prefix = "/sfn/owner", endpoint = "billing_pay")]
pub async fn pay_now(csrf: String, id: String) -> Result<(), AdminError> {
    let p = super::backend::authorize_owner_change(&csrf)?;
    let url = billing_call(|b| async move { b.pay(&p.id, &id).await }).await?;
    leptos_axum::redirect(&url);
    Ok(())
}

/// Gives up a paid sign-up before its first payment, then shows the owner's tenants.
#[server(prefix = "/sfn/owner", endpoint = "billing_cancel_signup")]
pub async fn cancel_signup(csrf: String, id: String) -> Result<(), AdminError> {
    let p = super::backend::authorize_owner_change(&csrf)?;
    billing_call(|b| async move { b.cancel_signup(&p.id, &id).await }).await?;
    leptos_axum::redirect("/my");
    Ok(())
}

/// The return from Stripe Checkout (a read: Stripe says what happened; idempotent).
#[server(prefix = "/sfn/owner", endpoint = "billing_return")]
pub async fn confirm_checkout(
    id: String,
    session_id: String,
) -> Result<CheckoutReturn, AdminError> {
    let p = super::backend::require_owner()?;
    billing_call(|b| async move { b.confirm_return(&p.id, &id, &session_id).await }).await
}

/// The banner after Stripe Checkout: `?checkout=done&session_id=…` is confirmed with Stripe
/// (again every two seconds while it is being confirmed); `?checkout=cancelled` says
/// nothing was charged.
#[component]
pub fn CheckoutReturnBanner(
    id: String,
    checkout: Option<String>,
    session_id: Option<String>,
) -> impl IntoView {
    match (checkout.as_deref(), session_id) {
        (Some("done"), Some(session)) => {
            let tick = RwSignal::new(0u32);
            let result = Resource::new(
                move || tick.get(),
                move |_| confirm_checkout(id.clone(), session.clone()),
            );
            #[cfg(feature = "hydrate")]
            Effect::new(move |_| {
                if let Some(Ok(r)) = result.get() {
                    if r.outcome == "confirming" && tick.get_untracked() < 150 {
                        set_timeout(
                            move || tick.update(|t| *t += 1),
                            std::time::Duration::from_secs(2),
                        );
                    }
                }
            });
            view! {
                <Transition fallback=|| view! {
                    <p class="alert info" id="checkout-result" data-outcome="confirming" role="status">
                        "We are confirming your payment…"
                    </p>
                }>
                    {move || Suspend::new(async move {
                        match result.await {
                            Ok(r) => {
                                let class = if r.outcome == "expired" { "alert error" } else { "alert info" };
                                view! {
                                    <p class=class id="checkout-result" data-outcome=r.outcome.clone() role="status">{r.message}</p>
                                }.into_any()
                            }
                            Err(error) => view! { <ErrorBox error /> }.into_any(),
                        }
                    })}
                </Transition>
            }
            .into_any()
        }
        (Some("cancelled"), _) => view! {
            <p class="alert info" id="checkout-result" data-outcome="cancelled" role="status">
                "You left the payment page: nothing was charged. Pay when you are ready, below."
            </p>
        }
        .into_any(),
        _ => ().into_any(),
    }
}

/// The tenant page's billing section; read again when `refresh` changes (the tenant's
/// state, followed live by the page: a paid sign-up becoming active shows its subscription).
#[component]
pub fn OwnerBillingSection(
    id: String,
    #[prop(into)] refresh: Signal<Option<String>>,
) -> impl IntoView {
    let preview = ServerAction::<PreviewPlanChange>::new();
    let change = ServerAction::<ChangePlan>::new();
    let cancel = ServerAction::<SetCancelAtPeriodEnd>::new();
    let card = ServerAction::<UpdateCard>::new();
    let pay = ServerAction::<PayNow>::new();
    let quit = ServerAction::<CancelSignup>::new();
    Effect::new(move |_| {
        // A confirmed change retires the preview it confirmed.
        if change.value().get().is_some_and(|r| r.is_ok()) {
            preview.value().set(None);
        }
    });
    let key = id.clone();
    let data = Resource::new(
        move || {
            (
                key.clone(),
                change.version().get(),
                cancel.version().get(),
                refresh.get(),
            )
        },
        |(id, ..)| my_billing(id),
    );
    view! {
        <section class="card" id="billing" aria-labelledby="billing-h">
            <h2 id="billing-h">"Billing"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || {
                    let id = id.clone();
                    Suspend::new(async move {
                        match data.await {
                            Err(error) => view! { <ErrorBox error /> }.into_any(),
                            Ok(b) => view! { <BillingView b id preview change cancel card pay quit /> }.into_any(),
                        }
                    })
                }}
            </Transition>
        </section>
    }
}

fn failure<I, O>(action: ServerAction<I>) -> impl Fn() -> Option<AnyView> + Send + Sync + 'static
where
    I: server_fn::ServerFn<Output = O, Error = AdminError> + Clone + Send + Sync + 'static,
    O: Clone + Send + Sync + 'static,
    ServerAction<I>: Copy,
{
    move || {
        action
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| view! { <p class="alert error" role="alert">{e.message}</p> }.into_any())
    }
}

#[component]
fn BillingView(
    b: OwnerBilling,
    id: String,
    preview: ServerAction<PreviewPlanChange>,
    change: ServerAction<ChangePlan>,
    cancel: ServerAction<SetCancelAtPeriodEnd>,
    card: ServerAction<UpdateCard>,
    pay: ServerAction<PayNow>,
    quit: ServerAction<CancelSignup>,
) -> impl IntoView {
    if !b.paid_plan && b.status == "none" {
        return view! { <p id="billing-free">{format!("{}: free, nothing to pay.", b.plan)}</p> }
            .into_any();
    }
    let manageable = b.manageable();
    let status = if b.comped {
        "comped".to_owned()
    } else {
        b.status.clone()
    };
    let status_attr = status.clone();
    let invoices = b.invoices.clone();
    let plans = b.plans.clone();
    let current_plan = b.plan_key.clone();
    let (monthly, yearly) = (b.interval == "month", b.interval == "year");
    let (pay_id, card_id, cancel_id, preview_id, change_id, quit_id) = (
        id.clone(),
        id.clone(),
        id.clone(),
        id.clone(),
        id.clone(),
        id,
    );
    view! {
        {b.stripe_unreachable.then(|| view! {
            <p class="alert info" id="billing-confirming" role="status">
                "We are confirming the latest with our payment provider; some details may be missing for a moment."
            </p>
        })}
        <dl class="facts" id="billing-facts">
            <dt>"Plan"</dt>
            <dd id="billing-plan" data-plan=b.plan_key.clone()>{format!("{} · {}", b.plan, b.price)}</dd>
            <dt>"Subscription"</dt>
            <dd data-testid="billing-status" id="billing-status" data-status=status_attr>
                <StateBadge state=status />
                {b.cancel_at_period_end.then(|| view! {
                    <span class="sub" id="billing-cancelling">{format!(" ends on {}", b.current_period_end.clone().unwrap_or_default())}</span>
                })}
            </dd>
            {b.trial_end.clone().map(|d| view! { <dt>"Free trial until"</dt> <dd id="billing-trial-end">{d}</dd> })}
            {b.next_invoice.clone().map(|n| view! { <dt>"Next invoice"</dt> <dd id="next-invoice">{n}</dd> })}
            {b.card.clone().map(|c| view! { <dt>"Card"</dt> <dd id="billing-card">{c}</dd> })}
            {b.grace_ends_at.clone().map(|d| view! { <dt>"Suspended unless paid by"</dt> <dd>{d}</dd> })}
            {b.delete_after.clone().map(|d| view! { <dt>"Deleted after"</dt> <dd>{d}</dd> })}
        </dl>
        {(b.status == "past_due" || b.status == "unpaid").then(|| view! {
            <p class="alert error" role="alert" id="billing-past-due">
                "Your last payment failed. Update your card below (or pay the open invoice from its page): the new card is charged at once."
            </p>
        })}
        {b.awaiting_payment.then(move || view! {
            <div id="billing-awaiting">
                <p>"Your Odoo is made as soon as the first payment is through. If your card was declined, pay with another card, or ask your bank why it refused."</p>
                <ActionForm action=pay attr:class="inline" attr:id="pay-form">
                    <OwnerCsrf />
                    <input type="hidden" name="id" value=pay_id />
                    <button type="submit" class="primary" id="pay-now" disabled=move || pay.pending().get()>"Pay now"</button>
                </ActionForm>
                {failure(pay)}
                <CancelSignupDialog quit id=quit_id />
            </div>
        })}
        {manageable.then(move || view! {
            <div class="billing-actions">
                {(!plans.is_empty()).then(|| view! {
                    <ActionForm action=preview attr:class="form inline-form" attr:id="change-plan-form">
                        <OwnerCsrf />
                        <input type="hidden" name="id" value=preview_id />
                        <label for="new-plan">"Change plan"</label>
                        <select id="new-plan" name="plan">
                            {plans.into_iter().map(|(key, label)| {
                                let selected = key == current_plan;
                                view! { <option value=key selected=selected>{label}</option> }
                            }).collect_view()}
                        </select>
                        <label for="new-interval">"billed"</label>
                        <select id="new-interval" name="interval">
                            <option value="month" selected=monthly>"monthly"</option>
                            <option value="year" selected=yearly>"yearly"</option>
                        </select>
                        <button type="submit" id="preview-change" disabled=move || preview.pending().get()>"See the price"</button>
                    </ActionForm>
                })}
                {failure(preview)}
                {move || preview.value().get().and_then(|r| r.ok()).map(|pv| {
                    let change_id = change_id.clone();
                    view! { <PreviewBox pv id=change_id change /> }
                })}
                {failure(change)}
                <ActionForm action=cancel attr:class="inline" attr:id="cancel-form">
                    <OwnerCsrf />
                    <input type="hidden" name="id" value=cancel_id />
                    {if b.cancel_at_period_end {
                        view! {
                            <input type="hidden" name="cancel" value="false" />
                            <button type="submit" id="resume-subscription" disabled=move || cancel.pending().get()>"Keep my subscription"</button>
                        }.into_any()
                    } else {
                        view! {
                            <input type="hidden" name="cancel" value="true" />
                            <button type="submit" class="danger" id="cancel-subscription" disabled=move || cancel.pending().get()>"Cancel at the end of the period"</button>
                        }.into_any()
                    }}
                </ActionForm>
                {failure(cancel)}
                <ActionForm action=card attr:class="inline" attr:id="card-form">
                    <OwnerCsrf />
                    <input type="hidden" name="id" value=card_id />
                    <button type="submit" id="update-card" disabled=move || card.pending().get()>"Update the card"</button>
                </ActionForm>
                {failure(card)}
            </div>
        })}
        <h3>"Invoices"</h3>
        {b.invoices_error.clone().map(|e| view! { <p class="alert info">{e}</p> })}
        <InvoiceTable invoices />
    }
    .into_any()
}

/// "Cancel this sign-up…": a dialog says what happens (nothing charged, the name free
/// again) before the checkout is closed and the waiting tenant removed.
#[component]
fn CancelSignupDialog(quit: ServerAction<CancelSignup>, id: String) -> impl IntoView {
    let dialog = NodeRef::<leptos::html::Dialog>::new();
    Effect::new(move |_| {
        // Closed on any answer: a refusal is shown on the page, below the button.
        if quit.value().get().is_some() {
            if let Some(d) = dialog.get_untracked() {
                d.close();
            }
        }
    });
    let open = move |_| {
        if let Some(d) = dialog.get() {
            let _ = d.show_modal();
        }
    };
    let close = move |_| {
        if let Some(d) = dialog.get() {
            d.close();
        }
    };
    view! {
        <p>
            <button type="button" id="cancel-signup-open" on:click=open>"Cancel this sign-up…"</button>
        </p>
        {failure(quit)}
        <dialog node_ref=dialog aria-labelledby="cancel-signup-title" class="confirm">
            <ActionForm action=quit>
                <h2 id="cancel-signup-title">"Cancel this sign-up?"</h2>
                <p>"Nothing has been charged. The payment page is closed, this Odoo is not made, and its name is free again."</p>
                <OwnerCsrf />
                <input type="hidden" name="id" value=id />
                <div class="buttons">
                    <button type="button" on:click=close>"Keep it"</button>
                    <button type="submit" class="danger" id="cancel-signup-confirm" disabled=move || quit.pending().get()>
                        "Cancel the sign-up"
                    </button>
                </div>
            </ActionForm>
        </dialog>
    }
}

#[component]
fn PreviewBox(
    pv: ChangePreviewView,
    id: String,
    change: ServerAction<ChangePlan>,
) -> impl IntoView {
    let plan_attr = pv.plan.clone();
    let plan_field = pv.plan.clone();
    let interval_attr = pv.interval.clone();
    let interval_field = pv.interval.clone();
    let price = format!("New price: {}. ", pv.new_price);
    let due = format!("Next invoice: {}", pv.amount_due);
    let when = pv.next_invoice_date.clone().map(|d| format!(" on {d}"));
    let lines: Vec<String> = pv
        .lines
        .iter()
        .map(|(what, amount)| format!("{what}: {amount}"))
        .collect();
    let proration = pv.proration_date.to_string();
    view! {
        <div class="card" id="change-preview" data-plan=plan_attr data-interval=interval_attr>
            <p>
                {price}
                <strong id="preview-amount-due">{due}</strong>
                {when}
            </p>
            <ul id="preview-lines">
                {lines.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
            </ul>
            <ActionForm action=change attr:class="inline" attr:id="confirm-change-form">
                <OwnerCsrf />
                <input type="hidden" name="id" value=id />
                <input type="hidden" name="plan" value=plan_field />
                <input type="hidden" name="interval" value=interval_field />
                <input type="hidden" name="proration_date" value=proration />
                <button type="submit" class="primary" id="confirm-change" disabled=move || change.pending().get()>"Confirm the change"</button>
            </ActionForm>
        </div>
    }
}
