//! The messages a tenant's lifecycle sends its owner: welcome (active), suspended,
//! reactivated, deleted. Each is queued inside the transaction of the transition itself.

use super::templates::{self, Common, DeletedFacts, Recipient, TenantFacts};
use super::MailError;
use crate::platform::Platform;
use uuid::Uuid;

/// Which lifecycle message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantNotice {
    /// The tenant became active for the first time.
    Welcome,
    /// It was suspended.
    Suspended,
    /// It was reactivated.
    Reactivated,
    /// It was deleted; whether a final backup was taken.
    Deleted {
        /// A final backup was kept.
        backup: bool,
    },
}

#[derive(sqlx::FromRow)]
struct Addressee {
    hostname: String,
    company_name: String,
    owner_email: String,
    owner_name: String,
    login: String,
}

/// Queues `notice` for the tenant's owner through `conn` (the transition's transaction).
pub async fn queue_tenant_notice(
    conn: &mut sqlx::PgConnection,
    p: &Platform,
    tenant_id: Uuid,
    notice: TenantNotice,
) -> Result<Uuid, MailError> {
    let a: Addressee = sqlx::query_as(
        "SELECT t.hostname, t.company_name, t.owner_email, t.owner_name, t.owner_email AS login \
         FROM tenants t WHERE t.id = $1",
    )
    .bind(tenant_id)
    .fetch_one(&mut *conn)
    .await?;
    let settings = &p.config.mail;
    let to = Recipient {
        address: a.owner_email,
        name: a.owner_name.clone(),
    };
    let common = Common::new(settings, &a.owner_name);
    let url = format!("https://{}/", a.hostname);
    let facts = TenantFacts {
        portal_url: format!("{}/my/tenants/{tenant_id}", common.public_url),
        common,
        company: a.company_name,
        pos_url: format!("{url}pos/"),
        url,
        login: a.login,
    };
    let email = match notice {
        TenantNotice::Welcome => templates::tenant_welcome(&to, tenant_id, &facts)?,
        TenantNotice::Suspended => templates::tenant_suspended(&to, tenant_id, &facts)?,
        TenantNotice::Reactivated => templates::tenant_reactivated(&to, tenant_id, &facts)?,
        TenantNotice::Deleted { backup } => templates::tenant_deleted(
            &to,
            tenant_id,
            &DeletedFacts {
                common: facts.common,
                company: facts.company,
                url: facts.url,
                backup_kept: backup,
            },
        )?,
    };
    super::enqueue(conn, settings, email).await
}
