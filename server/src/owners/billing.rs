//! Billing's part of the owner pages: `app::owner::billing::OwnerBillingBackend` over the
//! billing service layer (the same calls as `/api/v1/owner/tenants/{id}/billing…`). Every
//! call first reads the tenant as the signed-in owner, so another owner's tenant is "no
//! such tenant".

use super::portal::to_page;
use super::tenants::{self as owned, OwnerRef};
use crate::billing::catalog::Interval;
use crate::billing::checkout::{self, ReturnUrls};
use crate::billing::manage::{self, PlanChange};
use crate::platform::Platform;
use crate::service::ServiceError;
use crate::tenants::TenantState;
use app::admin::billing::{money, InvoiceRow};
use app::admin::model::{AdminError, ErrorKind};
use app::owner::billing::{ChangePreviewView, CheckoutReturn, OwnerBilling, OwnerBillingBackend};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The owner pages' billing backend.
pub struct OwnerPortalBilling {
    p: Platform,
}

impl OwnerPortalBilling {
    /// Over the platform's services.
    pub fn new(p: Platform) -> Self {
        OwnerPortalBilling { p }
    }

    /// The owner and their tenant (404 for anyone else's).
    async fn mine(
        &self,
        owner: &str,
        id: &str,
    ) -> Result<(OwnerRef, crate::tenants::Tenant), AdminError> {
        let not_found = || to_page(ServiceError::NotFound("tenant"));
        let owner = Uuid::parse_str(owner.trim()).map_err(|_| not_found())?;
        let id = Uuid::parse_str(id.trim()).map_err(|_| not_found())?;
        let account = super::accounts::account(&self.p, owner)
            .await
            .map_err(to_page)?;
        let tenant = owned::get(&self.p, owner, &id.to_string())
            .await
            .map_err(to_page)?;
        Ok((
            OwnerRef {
                id: owner,
                email: account.email,
            },
            tenant,
        ))
    }
}

fn day(d: Option<DateTime<Utc>>) -> Option<String> {
    d.map(|d| d.format("%Y-%m-%d").to_string())
}

/// The billing backend handle for the web router's context.
pub fn backend(p: Platform) -> app::owner::billing::Billing {
    std::sync::Arc::new(OwnerPortalBilling::new(p))
}

#[async_trait::async_trait]
impl OwnerBillingBackend for OwnerPortalBilling {
    async fn billing(&self, owner: &str, id: &str) -> Result<OwnerBilling, AdminError> {
        let (_, tenant) = self.mine(owner, id).await?;
        let o = manage::overview(&self.p, tenant.id)
            .await
            .map_err(to_page)?;
        let (invoices, invoices_error) = if o.status == "none" || o.status == "checkout" {
            (Vec::new(), None)
        } else {
            match manage::invoices(&self.p, tenant.id, 24, None).await {
                Ok(page) => (
                    page.items
                        .into_iter()
                        .map(|i| InvoiceRow {
                            number: i.number.unwrap_or(i.id),
                            status: i.status,
                            total: money(i.total, &i.currency),
                            created: day(i.created).unwrap_or_default(),
                            hosted_url: i.hosted_invoice_url,
                            pdf_url: i.invoice_pdf,
                        })
                        .collect(),
                    None,
                ),
                Err(ServiceError::Conflict { message, .. }) => (Vec::new(), Some(message)),
                Err(e) => return Err(to_page(e)),
            }
        };
        // The current plan first: with the other billing period it is a change too.
        let mut plans: Vec<crate::plans::Plan> = crate::plans::list(&self.p)
            .await
            .map_err(to_page)?
            .into_iter()
            .filter(|p| p.active && p.price_cents > 0)
            .collect();
        plans.sort_by_key(|p| p.key != o.plan);
        let plans = plans
            .into_iter()
            .map(|p| {
                let yearly = p
                    .yearly_price_cents
                    .map(i64::from)
                    .unwrap_or(i64::from(p.price_cents) * 12);
                let label = format!(
                    "{} · {} / month or {} / year",
                    p.name,
                    money(i64::from(p.price_cents), &p.currency),
                    money(yearly, &p.currency)
                );
                (p.key, label)
            })
            .collect();
        Ok(OwnerBilling {
            interval: o.interval.clone(),
            price: if o.paid_plan {
                format!("{} / {}", money(o.amount_cents, &o.currency), o.interval)
            } else {
                "free".to_owned()
            },
            next_invoice: o.next_invoice.as_ref().map(|n| match day(n.date) {
                Some(d) => format!("{} on {d}", money(n.amount_due, &n.currency)),
                None => money(n.amount_due, &n.currency),
            }),
            card: o
                .card
                .as_ref()
                .map(|c| format!("{} ending {} (expires {})", c.brand, c.last4, c.expires)),
            status: o.status,
            plan: o.plan_name,
            plan_key: o.plan,
            paid_plan: o.paid_plan,
            trial_end: day(o.trial_end),
            current_period_end: day(o.current_period_end),
            cancel_at_period_end: o.cancel_at_period_end,
            grace_ends_at: day(o.grace_ends_at),
            delete_after: day(o.delete_after),
            comped: o.comped,
            stripe_unreachable: o.stripe_unreachable,
            awaiting_payment: tenant.state == TenantState::AwaitingPayment,
            invoices,
            invoices_error,
            plans,
        })
    }

    async fn preview(
        &self,
        owner: &str,
        id: &str,
        plan: &str,
        interval: Option<&str>,
    ) -> Result<ChangePreviewView, AdminError> {
        let (_, tenant) = self.mine(owner, id).await?;
        let interval = Interval::from_choice(interval).map_err(to_page)?;
        let pv = manage::preview_change(
            &self.p,
            tenant.id,
            &PlanChange {
                plan: plan.to_owned(),
                interval,
                proration_date: None,
            },
        )
        .await
        .map_err(to_page)?;
        Ok(ChangePreviewView {
            new_price: format!(
                "{} / {}",
                money(pv.new_amount_cents, &pv.currency),
                pv.interval.as_str()
            ),
            amount_due: money(pv.amount_due, &pv.currency),
            next_invoice_date: day(pv.next_invoice_date),
            lines: pv
                .lines
                .iter()
                .map(|l| (l.description.clone(), money(l.amount, &pv.currency)))
                .collect(),
            plan: pv.plan,
            interval: pv.interval.as_str().to_owned(),
            proration_date: pv.proration_date,
        })
    }

    async fn change(
        &self,
        owner: &str,
        id: &str,
        plan: &str,
        interval: Option<&str>,
        proration_date: Option<i64>,
    ) -> Result<(), AdminError> {
        let (owner, tenant) = self.mine(owner, id).await?;
        let interval = Interval::from_choice(interval).map_err(to_page)?;
        manage::change_plan(
            &self.p,
            &owner.actor(),
            tenant.id,
            &PlanChange {
                plan: plan.to_owned(),
                interval,
                proration_date,
            },
        )
        .await
        .map(|_| ())
        .map_err(to_page)
    }

    async fn set_cancel(&self, owner: &str, id: &str, cancel: bool) -> Result<(), AdminError> {
        let (owner, tenant) = self.mine(owner, id).await?;
        manage::set_cancel_at_period_end(&self.p, &owner.actor(), tenant.id, cancel)
            .await
            .map(|_| ())
            .map_err(to_page)
    }

    async fn card(&self, owner: &str, id: &str) -> Result<String, AdminError> {
        let (owner, tenant) = self.mine(owner, id).await?;
        let urls = ReturnUrls::owner_portal(&self.p, tenant.id).map_err(to_page)?;
        checkout::start_card_update(&self.p, &owner.actor(), tenant.id, &urls)
            .await
            .map(|s| s.url)
            .map_err(to_page)
    }

    async fn pay(&self, owner: &str, id: &str) -> Result<String, AdminError> {
        let (owner, tenant) = self.mine(owner, id).await?;
        let urls = ReturnUrls::owner_portal(&self.p, tenant.id).map_err(to_page)?;
        checkout::start_subscription(&self.p, &owner.actor(), tenant.id, None, &urls)
            .await
            .map(|s| s.url)
            .map_err(to_page)
    }

    async fn cancel_signup(&self, owner: &str, id: &str) -> Result<(), AdminError> {
        let (owner, tenant) = self.mine(owner, id).await?;
        checkout::cancel_signup(&self.p, &owner.actor(), tenant.id)
            .await
            .map_err(to_page)
    }

    async fn confirm_return(
        &self,
        owner: &str,
        id: &str,
        session_id: &str,
    ) -> Result<CheckoutReturn, AdminError> {
        let (_, tenant) = self.mine(owner, id).await?;
        match checkout::confirm_return(&self.p, tenant.id, session_id).await {
            Ok(outcome) => Ok(CheckoutReturn {
                outcome: serde_json::to_value(outcome)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "confirming".to_owned()),
                message: outcome.message().to_owned(),
            }),
            Err(ServiceError::NotFound(_)) => Err(AdminError::new(
                ErrorKind::NotFound,
                "This payment page was not for this Odoo.",
            )),
            Err(e) => Err(to_page(e)),
        }
    }
}
