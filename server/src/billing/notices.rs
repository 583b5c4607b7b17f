//! What billing tells the owner, queued in the transaction of the decision that causes it
//! (so a decision and its message exist together or not at all), and written to the audit
//! log.

use crate::audit::{self, Actor};
use serde_json::json;
use uuid::Uuid;

/// A billing message to a tenant's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A payment failed; the tenant keeps running until `grace_ends_at`.
    PaymentFailed {
        /// When the tenant will be suspended unless paid.
        grace_ends_at: chrono::DateTime<chrono::Utc>,
        /// Stripe's page of the unpaid invoice, if any.
        invoice_url: Option<String>,
    },
    /// Still unpaid: `days_left` days until the suspension.
    Reminder {
        /// When the tenant will be suspended unless paid.
        grace_ends_at: chrono::DateTime<chrono::Utc>,
        /// Whole days left.
        days_left: i64,
    },
    /// The tenant was suspended for non-payment.
    SuspendedForNonPayment,
    /// Paid again: the tenant is running again.
    Reactivated,
    /// The subscription ended: the tenant is suspended and will be deleted (with a final
    /// backup) at `delete_after`.
    ScheduledForDeletion {
        /// When.
        delete_after: chrono::DateTime<chrono::Utc>,
    },
}

impl Notice {
    /// A stable name (`billing.notice.<name>` in the audit log).
    pub fn name(&self) -> &'static str {
        match self {
            Notice::PaymentFailed { .. } => "payment_failed",
            Notice::Reminder { .. } => "payment_reminder",
            Notice::SuspendedForNonPayment => "suspended_for_non_payment",
            Notice::Reactivated => "reactivated",
            Notice::ScheduledForDeletion { .. } => "scheduled_for_deletion",
        }
    }

    fn details(&self) -> serde_json::Value {
        match self {
            Notice::PaymentFailed {
                grace_ends_at,
                invoice_url,
            } => json!({"grace_ends_at": grace_ends_at, "invoice_url": invoice_url}),
            Notice::Reminder {
                grace_ends_at,
                days_left,
            } => json!({"grace_ends_at": grace_ends_at, "days_left": days_left}),
            Notice::ScheduledForDeletion { delete_after } => json!({"delete_after": delete_after}),
            Notice::SuspendedForNonPayment | Notice::Reactivated => json!({}),
        }
    }
}

/// Queues `notice` for the tenant's owner in the caller's transaction.
pub async fn queue(
    tx: &mut sqlx::PgConnection,
    tenant_id: Uuid,
    notice: &Notice,
) -> Result<(), sqlx::Error> {
    audit::record(
        &mut *tx,
        &Actor::billing(),
        &format!("billing.notice.{}", notice.name()),
        Some(tenant_id),
        None,
        notice.details(),
    )
    .await
}
