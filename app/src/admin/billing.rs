//! Billing in the operations portal: a tenant's subscription and invoices, comping a
//! tenant (free of charge), and the dashboard's monthly recurring revenue and past-due
//! tenants. Its own backend trait (implemented by the server, provided as context) keeps
//! billing apart from the rest of the portal.

use super::model::*;
use super::widgets::{action_error, CsrfField, ErrorBox, StateBadge};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A tenant's billing as the operator sees it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TenantBilling {
    /// `none` (never subscribed), `checkout` (first payment pending), or Stripe's status.
    pub status: String,
    /// Plan name.
    pub plan: String,
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
    /// Past due since.
    pub past_due_since: Option<String>,
    /// Suspended unless paid by.
    pub grace_ends_at: Option<String>,
    /// Deleted after.
    pub delete_after: Option<String>,
    /// Free of charge.
    pub comped: bool,
    /// Why.
    pub comped_reason: Option<String>,
    /// Billing's decision for the tenant (open, suspended, deleted).
    pub access: String,
    /// Stripe customer id.
    pub customer: Option<String>,
    /// Stripe subscription id.
    pub subscription: Option<String>,
    /// Invoices, newest first.
    pub invoices: Vec<InvoiceRow>,
    /// Why the invoices could not be read (Stripe unreachable).
    pub invoices_error: Option<String>,
}

/// One invoice.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InvoiceRow {
    /// Number (or id).
    pub number: String,
    /// paid, open, void, ...
    pub status: String,
    /// e.g. `EUR 29.00`.
    pub total: String,
    /// UTC date.
    pub created: String,
    /// Stripe's invoice page.
    pub hosted_url: Option<String>,
    /// Its PDF.
    pub pdf_url: Option<String>,
}

/// The dashboard's billing figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BillingSummary {
    /// Monthly recurring revenue per currency, e.g. `EUR 1,234.00`.
    pub mrr: Vec<String>,
    /// Subscriptions per status.
    pub by_status: Vec<(String, i64)>,
    /// Past-due tenants, oldest first.
    pub past_due: Vec<PastDueRow>,
    /// Comped tenants.
    pub comped: i64,
    /// Set when billing is not configured, saying so.
    #[serde(default)]
    pub not_configured: Option<String>,
}

/// A past-due tenant.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PastDueRow {
    /// Slug.
    pub slug: String,
    /// past_due or unpaid.
    pub status: String,
    /// Since (UTC date).
    pub since: String,
    /// Suspended unless paid by (UTC date).
    pub grace_ends_at: String,
    /// Per period.
    pub amount: String,
}

/// The server side of billing in the portal.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait BillingBackend: Send + Sync + 'static {
    /// A tenant's subscription and invoices.
    async fn tenant_billing(&self, slug: &str) -> Result<TenantBilling, AdminError>;
    /// Comps (free of charge, with a reason) or un-comps a tenant.
    async fn set_comped(
        &self,
        actor: &str,
        slug: &str,
        comped: bool,
        reason: Option<String>,
    ) -> Result<(), AdminError>;
    /// MRR, statuses, past-due tenants.
    async fn billing_summary(&self) -> Result<BillingSummary, AdminError>;
}

/// The billing backend handle in Leptos context.
#[cfg(feature = "ssr")]
pub type Billing = std::sync::Arc<dyn BillingBackend>;

#[cfg(feature = "ssr")]
async fn billing_call<T, F, Fut>(f: F) -> Result<T, AdminError>
where
    F: FnOnce(Billing) -> Fut,
    Fut: std::future::Future<Output = Result<T, AdminError>>,
{
    let Some(b) = use_context::<Billing>() else {
        return super::backend::fail(AdminError::new(
            ErrorKind::Internal,
            "Billing is not configured in this portal.",
        ));
    };
    match f(b).await {
        Ok(v) => Ok(v),
        Err(e) => super::backend::fail(e),
    }
}

/// A tenant's billing.
#[server(prefix = "/sfn/admin", endpoint = "tenant_billing")]
pub async fn get_tenant_billing(slug: String) -> Result<TenantBilling, AdminError> {
    super::backend::require_admin()?;
    billing_call(|b| async move { b.tenant_billing(&slug).await }).await
}

/// Comps (`comped=true`, with a reason) or un-comps a tenant.
#[server(prefix = "/sfn/admin", endpoint = "tenant_comp")]
pub async fn comp_tenant(
    csrf: String,
    slug: String,
    comped: String,
    reason: Option<String>,
) -> Result<(), AdminError> {
    let p = super::backend::authorize_change(&csrf)?;
    let comped = comped == "true";
    billing_call(|b| async move { b.set_comped(&p.email, &slug, comped, reason).await }).await
}

/// The dashboard's billing figures.
#[server(prefix = "/sfn/admin", endpoint = "billing_summary")]
pub async fn get_billing_summary() -> Result<BillingSummary, AdminError> {
    super::backend::require_admin()?;
    billing_call(|b| async move { b.billing_summary().await }).await
}

/// The tenant page's billing section, from the page's own resource.
#[component]
pub fn TenantBillingSection(
    slug: String,
    billing: Result<TenantBilling, AdminError>,
    comp: ServerAction<CompTenant>,
) -> impl IntoView {
    view! {
        <section aria-labelledby="billing-h" id="billing">
            <h2 id="billing-h">"Billing"</h2>
            {match billing {
                Err(error) => view! { <ErrorBox error /> }.into_any(),
                Ok(b) => view! { <BillingFacts b slug comp /> }.into_any(),
            }}
            {action_error(comp)}
        </section>
    }
}

#[component]
fn BillingFacts(b: TenantBilling, slug: String, comp: ServerAction<CompTenant>) -> impl IntoView {
    let status = if b.comped {
        "comped".to_owned()
    } else {
        b.status.clone()
    };
    let invoices = b.invoices.clone();
    view! {
        <dl class="facts" id="billing-facts">
            <dt>"Subscription"</dt>
            <dd data-testid="billing-status">
                <StateBadge state=status />
                {b.cancel_at_period_end.then(|| view! { <span class="sub">" ends at the period's end"</span> })}
            </dd>
            <dt>"Plan"</dt>
            <dd>{format!("{} · {}", b.plan, if b.paid_plan { b.price.clone() } else { "free".to_owned() })}</dd>
            {b.trial_end.clone().map(|d| view! { <dt>"Trial ends"</dt> <dd>{d}</dd> })}
            {b.current_period_end.clone().map(|d| view! { <dt>"Period ends"</dt> <dd>{d}</dd> })}
            {b.past_due_since.clone().map(|d| view! { <dt>"Past due since"</dt> <dd>{d}</dd> })}
            {b.grace_ends_at.clone().map(|d| view! { <dt>"Suspended unless paid by"</dt> <dd>{d}</dd> })}
            {b.delete_after.clone().map(|d| view! { <dt>"Deleted after"</dt> <dd>{d}</dd> })}
            {b.comped_reason.clone().map(|r| view! { <dt>"Comped because"</dt> <dd>{r}</dd> })}
            <dt>"Billing decision"</dt>
            <dd>{b.access.clone()}</dd>
            {b.customer.clone().map(|c| view! { <dt>"Stripe"</dt> <dd><code>{c}</code> " " <code>{b.subscription.clone().unwrap_or_default()}</code></dd> })}
        </dl>
        <CompForm comp slug comped=b.comped />
        <h3>"Invoices"</h3>
        {b.invoices_error.clone().map(|e| view! { <p class="alert error">{e}</p> })}
        <InvoiceTable invoices />
    }
}

#[component]
fn CompForm(comp: ServerAction<CompTenant>, slug: String, comped: bool) -> impl IntoView {
    if comped {
        view! {
            <ActionForm action=comp attr:class="inline" attr:id="uncomp-form">
                <CsrfField />
                <input type="hidden" name="slug" value=slug />
                <input type="hidden" name="comped" value="false" />
                <button type="submit" disabled=move || comp.pending().get()>"End the free of charge offer"</button>
            </ActionForm>
        }
        .into_any()
    } else {
        view! {
            <ActionForm action=comp attr:class="inline" attr:id="comp-form">
                <CsrfField />
                <input type="hidden" name="slug" value=slug />
                <input type="hidden" name="comped" value="true" />
                <label for="comp-reason">"Free of charge because"</label>
                <input id="comp-reason" name="reason" maxlength="200" required />
                <button type="submit" disabled=move || comp.pending().get()>"Comp this tenant"</button>
            </ActionForm>
        }
        .into_any()
    }
}

/// Invoices with Stripe's page and PDF.
#[component]
pub fn InvoiceTable(invoices: Vec<InvoiceRow>) -> impl IntoView {
    if invoices.is_empty() {
        return view! { <p class="empty">"No invoices."</p> }.into_any();
    }
    view! {
        <table class="table" id="invoices">
            <thead>
                <tr><th>"Number"</th><th>"Date"</th><th>"Total"</th><th>"Status"</th><th>"Documents"</th></tr>
            </thead>
            <tbody>
                {invoices
                    .into_iter()
                    .map(|i| view! {
                        <tr>
                            <td>{i.number}</td>
                            <td>{i.created}</td>
                            <td class="num">{i.total}</td>
                            <td><StateBadge state=i.status /></td>
                            <td>
                                {i.hosted_url.map(|u| view! { <a href=u target="_blank" rel="noopener">"Invoice"</a> })}
                                " "
                                {i.pdf_url.map(|u| view! { <a href=u target="_blank" rel="noopener">"PDF"</a> })}
                            </td>
                        </tr>
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// The dashboard's billing section.
#[component]
pub fn BillingDashboard() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_billing_summary());
    view! {
        <section aria-labelledby="billing-h" id="billing-summary">
            <h2 id="billing-h">"Billing"</h2>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(error) => view! { <ErrorBox error /> }.into_any(),
                        Ok(s) => view! { <SummaryView s /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn SummaryView(s: BillingSummary) -> impl IntoView {
    let mrr = if s.mrr.is_empty() {
        "none yet".to_owned()
    } else {
        s.mrr.join(" + ")
    };
    view! {
        {s.not_configured.clone().map(|m| view! { <p class="alert error" role="alert" id="billing-not-configured">{m}</p> })}
        <ul class="cards">
            <li class="card stat" data-testid="mrr">
                <span class="num">{mrr}</span>
                <span class="what">"monthly recurring revenue"</span>
            </li>
            <li class="card stat state-past_due" data-testid="past-due-count">
                <span class="num">{s.past_due.len()}</span>
                <span class="what">"past due"</span>
            </li>
            <li class="card stat">
                <span class="num">{s.comped}</span>
                <span class="what">"comped"</span>
            </li>
            {s.by_status
                .into_iter()
                .map(|(status, n)| {
                    let class = format!("card stat state-{status}");
                    view! {
                        <li class=class>
                            <span class="num">{n}</span>
                            <span class="what">{status}</span>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
        {(!s.past_due.is_empty()).then(|| view! {
            <table class="table" id="past-due">
                <thead>
                    <tr><th>"Tenant"</th><th>"Status"</th><th>"Since"</th><th>"Suspended unless paid by"</th><th>"Amount"</th></tr>
                </thead>
                <tbody>
                    {s.past_due
                        .into_iter()
                        .map(|r| view! {
                            <tr>
                                <td><a href=format!("/admin/tenants/{}", r.slug)>{r.slug.clone()}</a></td>
                                <td><StateBadge state=r.status /></td>
                                <td>{r.since}</td>
                                <td>{r.grace_ends_at}</td>
                                <td class="num">{r.amount}</td>
                            </tr>
                        })
                        .collect_view()}
                </tbody>
            </table>
        })}
    }
}

/// `EUR 1,234.50` from cents and a currency code.
pub fn money(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    let units = (abs / 100).to_string();
    let mut grouped = String::new();
    for (i, ch) in units.chars().enumerate() {
        if i > 0 && (units.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!(
        "{} {sign}{grouped}.{:02}",
        currency.to_ascii_uppercase(),
        abs % 100
    )
}

#[cfg(test)]
mod tests {
    use super::money;

    #[test]
    fn money_is_grouped_with_two_decimals() {
        assert_eq!(money(2900, "eur"), "EUR 29.00");
        assert_eq!(money(123456789, "usd"), "USD 1,234,567.89");
        assert_eq!(money(-550, "eur"), "EUR -5.50");
        assert_eq!(money(5, "eur"), "EUR 0.05");
    }
}
