//! Billing's part of the operations portal: `app::admin::billing::BillingBackend` over the
//! billing service layer (the same calls as the API).

use super::portal::to_admin;
use crate::audit::Actor;
use crate::billing::manage;
use crate::platform::Platform;
use crate::service::ServiceError;
use app::admin::billing::{
    money, BillingBackend, BillingSummary, InvoiceRow, PastDueRow, TenantBilling,
};
use app::admin::model::AdminError;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The portal's billing backend.
pub struct PortalBilling {
    p: Platform,
}

impl PortalBilling {
    /// Over the platform's services.
    pub fn new(p: Platform) -> Self {
        PortalBilling { p }
    }

    async fn tenant_id(&self, slug: &str) -> Result<Uuid, AdminError> {
        crate::tenants::service::get(&self.p, slug)
            .await
            .map(|t| t.id)
            .map_err(to_admin)
    }
}

fn day(d: Option<DateTime<Utc>>) -> Option<String> {
    d.map(|d| d.format("%Y-%m-%d").to_string())
}

#[async_trait::async_trait]
impl BillingBackend for PortalBilling {
    async fn tenant_billing(&self, slug: &str) -> Result<TenantBilling, AdminError> {
        let id = self.tenant_id(slug).await?;
        let o = manage::overview(&self.p, id).await.map_err(to_admin)?;
        let extra: Option<(Option<String>, String, Option<String>, Option<String>)> =
            sqlx::query_as(
                "SELECT comped_reason, access, stripe_customer_id, stripe_subscription_id \
                 FROM subscriptions WHERE tenant_id = $1",
            )
            .bind(id)
            .fetch_optional(&self.p.pool)
            .await
            .map_err(|e| to_admin(e.into()))?;
        let (comped_reason, access, customer, subscription) =
            extra.unwrap_or((None, "open".to_owned(), None, None));
        let (invoices, invoices_error) = match manage::invoices(&self.p, id, 24, None).await {
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
            Err(e) => return Err(to_admin(e)),
        };
        Ok(TenantBilling {
            status: o.status,
            plan: o.plan_name,
            paid_plan: o.paid_plan,
            price: format!("{} / {}", money(o.amount_cents, &o.currency), o.interval),
            trial_end: day(o.trial_end),
            current_period_end: day(o.current_period_end),
            cancel_at_period_end: o.cancel_at_period_end,
            past_due_since: day(o.past_due_since),
            grace_ends_at: day(o.grace_ends_at),
            delete_after: day(o.delete_after),
            comped: o.comped,
            comped_reason,
            access,
            customer,
            subscription,
            invoices,
            invoices_error,
        })
    }

    async fn set_comped(
        &self,
        actor: &str,
        slug: &str,
        comped: bool,
        reason: Option<String>,
    ) -> Result<(), AdminError> {
        let id = self.tenant_id(slug).await?;
        manage::set_comped(
            &self.p,
            &Actor::superadmin(actor),
            id,
            comped,
            reason.as_deref(),
        )
        .await
        .map(|_| ())
        .map_err(to_admin)
    }

    async fn billing_summary(&self) -> Result<BillingSummary, AdminError> {
        let s = manage::stats(&self.p).await.map_err(to_admin)?;
        Ok(BillingSummary {
            mrr: s.mrr.iter().map(|m| money(m.cents, &m.currency)).collect(),
            by_status: s
                .by_status
                .into_iter()
                .filter(|c| c.status != "none")
                .map(|c| (c.status, c.count))
                .collect(),
            past_due: s
                .past_due
                .into_iter()
                .map(|t| PastDueRow {
                    slug: t.slug,
                    status: t.status,
                    since: day(t.past_due_since).unwrap_or_default(),
                    grace_ends_at: day(t.grace_ends_at).unwrap_or_default(),
                    amount: money(t.amount_cents, &t.currency),
                })
                .collect(),
            comped: s.comped,
            not_configured: (!s.configured && s.paid_plans > 0).then(|| {
                format!(
                    "Billing is not configured (STRIPE_SECRET_KEY is unset): {} paid plan{} cannot be signed up for and {} not mirrored to Stripe.",
                    s.paid_plans,
                    if s.paid_plans == 1 { "" } else { "s" },
                    if s.paid_plans == 1 { "is" } else { "are" }
                )
            }),
        })
    }
}
