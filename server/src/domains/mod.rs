//! Custom domains of tenants: an owner's own host name (`shop.example.org`) served like
//! `<slug>.<domain>`. Added by an owner or a superadmin (API first, then the operations
//! portal), checked by a job with a real DNS resolver ([`dns`]) until the CNAME (or an A
//! record to the ingress) is seen, then published in the route table with a certificate of
//! its own (HTTP-01). States: `pending → verified → active`, or `failed` with the reason.
//! A domain belongs to one tenant only (unique in the database); removing it removes
//! the route.

pub mod dns;
pub mod verify;

use crate::audit::{self, Actor};
use crate::jobs::kinds;
use crate::platform::Platform;
use crate::routing::document::DomainRow;
use crate::service::{unique_violation, ServiceError};
use crate::tenants::TenantState;
use job_queue::NewJob;
use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

/// Most custom domains one tenant may have.
pub const MAX_PER_TENANT: i64 = 10;

/// Where a custom domain is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DomainState {
    /// Waiting for its DNS record; the check job looks again every interval.
    Pending,
    /// Its DNS record was seen; the route is in the next route table.
    Verified,
    /// Traefik fetched a route table with it: it is served (its certificate follows).
    Active,
    /// Its DNS record was not seen in time; `last_result` says what was found.
    Failed,
}

impl DomainState {
    fn parse(s: &str) -> Option<DomainState> {
        Some(match s {
            "pending" => DomainState::Pending,
            "verified" => DomainState::Verified,
            "active" => DomainState::Active,
            "failed" => DomainState::Failed,
            _ => return None,
        })
    }
}

/// A DNS record the owner creates at their DNS provider.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DnsRecord {
    /// `CNAME`, `A` or `AAAA`.
    #[serde(rename = "type")]
    pub record_type: String,
    /// The record's name (the custom domain).
    pub name: String,
    /// Its value.
    pub value: String,
}

/// A custom domain as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomDomain {
    /// Id.
    pub id: Uuid,
    /// The tenant it belongs to.
    pub tenant_id: Uuid,
    /// The host name (lowercase, ASCII: international names in punycode).
    pub domain: String,
    /// Its state.
    pub state: DomainState,
    /// The record to create: a CNAME to the tenant's own host.
    pub cname: DnsRecord,
    /// Alternatives for an apex domain (which cannot have a CNAME): A/AAAA records to the
    /// ingress addresses, when the platform publishes them.
    pub alternatives: Vec<DnsRecord>,
    /// When DNS was last checked.
    pub last_checked_at: Option<chrono::DateTime<chrono::Utc>>,
    /// What the last check found, or why verification failed.
    pub last_result: Option<String>,
    /// How many checks were made.
    pub checks: i32,
    /// When the current round of checks gives up.
    pub verify_deadline: chrono::DateTime<chrono::Utc>,
    /// Who added it.
    pub created_by: String,
    /// Added at.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// DNS seen at.
    pub verified_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Served since.
    pub activated_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Why a domain name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainNameError {
    /// Not a host name.
    Malformed(&'static str),
    /// The platform's own domain or one of its subdomains.
    Ours,
}

/// A custom domain's name: an ASCII host name of two or more labels, lowercase, no
/// trailing dot, not an IP address, not `localhost`, not under the platform's domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainName(String);

impl DomainName {
    /// Parses what an owner typed (international names become punycode).
    pub fn parse(raw: &str, base_domain: &str) -> Result<DomainName, DomainNameError> {
        let s = raw.trim();
        if s.contains("://") || s.contains('/') || s.contains('@') || s.contains(':') {
            return Err(DomainNameError::Malformed(
                "Enter a host name only, such as shop.example.org (no http://, path or port).",
            ));
        }
        let host = match url::Host::parse(s.trim_end_matches('.')) {
            Ok(url::Host::Domain(d)) => d.to_ascii_lowercase(),
            Ok(_) => {
                return Err(DomainNameError::Malformed(
                    "An IP address cannot be a custom domain: enter a host name.",
                ))
            }
            Err(_) => return Err(DomainNameError::Malformed("This is not a valid host name.")),
        };
        let labels: Vec<&str> = host.split('.').collect();
        let label_ok = |l: &&str| {
            (1..=63).contains(&l.len())
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if host.len() > 253 || labels.len() < 2 || !labels.iter().all(label_ok) {
            return Err(DomainNameError::Malformed(
                "A host name has at least two parts (shop.example.org) of letters, digits and hyphens.",
            ));
        }
        if labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(DomainNameError::Malformed(
                "A host name cannot end with a number.",
            ));
        }
        if host == "localhost" || host.ends_with(".localhost") {
            return Err(DomainNameError::Malformed(
                "localhost names cannot be custom domains.",
            ));
        }
        if host == base_domain || host.ends_with(&format!(".{base_domain}")) {
            return Err(DomainNameError::Ours);
        }
        Ok(DomainName(host))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The tenant a domain is added to, if it can have one.
async fn routable_tenant(p: &Platform, tenant: &str) -> Result<(Uuid, String), ServiceError> {
    let t = crate::tenants::service::get(p, tenant).await?;
    if matches!(t.state, TenantState::Deleting | TenantState::Deleted) {
        return Err(ServiceError::conflict(
            "tenant_deleted",
            format!(
                "The tenant '{}' is deleted: it cannot get a domain.",
                t.slug
            ),
        ));
    }
    Ok((t.id, t.slug))
}

const COLUMNS: &str = "d.id, d.tenant_id, t.slug, d.domain, d.state, d.last_checked_at, \
    d.last_result, d.checks, d.verify_started_at, d.created_by, d.created_at, d.verified_at, \
    d.activated_at";

type Row = (
    Uuid,
    Uuid,
    String,
    String,
    String,
    Option<chrono::DateTime<chrono::Utc>>,
    Option<String>,
    i32,
    chrono::DateTime<chrono::Utc>,
    String,
    chrono::DateTime<chrono::Utc>,
    Option<chrono::DateTime<chrono::Utc>>,
    Option<chrono::DateTime<chrono::Utc>>,
);

fn from_row(p: &Platform, r: Row) -> Result<CustomDomain, ServiceError> {
    let state = DomainState::parse(&r.4)
        .ok_or_else(|| ServiceError::internal(format!("unknown domain state {:?}", r.4)))?;
    let timeout = chrono::Duration::from_std(p.config.routing.custom_domain_verify_timeout)
        .map_err(ServiceError::internal)?;
    Ok(CustomDomain {
        id: r.0,
        tenant_id: r.1,
        cname: DnsRecord {
            record_type: "CNAME".into(),
            name: r.3.clone(),
            value: p.hostname(&r.2),
        },
        alternatives: p
            .config
            .routing
            .ingress_ips
            .iter()
            .map(|ip| DnsRecord {
                record_type: if ip.is_ipv4() { "A" } else { "AAAA" }.into(),
                name: r.3.clone(),
                value: ip.to_string(),
            })
            .collect(),
        domain: r.3,
        state,
        last_checked_at: r.5,
        last_result: r.6,
        checks: r.7,
        verify_deadline: r.8 + timeout,
        created_by: r.9,
        created_at: r.10,
        verified_at: r.11,
        activated_at: r.12,
    })
}

/// The domains of a tenant (by id or slug), oldest first.
pub async fn list(p: &Platform, tenant: &str) -> Result<Vec<CustomDomain>, ServiceError> {
    let t = crate::tenants::service::get(p, tenant).await?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM custom_domains d JOIN tenants t ON t.id = d.tenant_id \
         WHERE d.tenant_id = $1 ORDER BY d.created_at, d.domain"
    ))
    .bind(t.id)
    .fetch_all(&p.pool)
    .await?;
    rows.into_iter().map(|r| from_row(p, r)).collect()
}

/// One domain of a tenant.
pub async fn get(p: &Platform, tenant: &str, domain: &str) -> Result<CustomDomain, ServiceError> {
    let t = crate::tenants::service::get(p, tenant).await?;
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM custom_domains d JOIN tenants t ON t.id = d.tenant_id \
         WHERE d.tenant_id = $1 AND d.domain = $2"
    ))
    .bind(t.id)
    .bind(domain.trim().trim_end_matches('.').to_ascii_lowercase())
    .fetch_optional(&p.pool)
    .await?;
    from_row(p, row.ok_or(ServiceError::NotFound("domain"))?)
}

fn verify_job(domain_id: Uuid, tenant_id: Uuid) -> NewJob {
    NewJob::new(kinds::VERIFY_DOMAIN, json!({"domain_id": domain_id}))
        .with_tenant(tenant_id)
        .with_max_attempts(20)
        .with_dedupe_key(format!("domain:{domain_id}:verify"))
}

/// Adds a domain to a tenant and queues its DNS check, in one transaction.
pub async fn add(
    p: &Platform,
    actor: &Actor,
    tenant: &str,
    raw: &str,
) -> Result<CustomDomain, ServiceError> {
    let name = DomainName::parse(raw, &p.config.base_domain).map_err(|e| match e {
        DomainNameError::Malformed(message) => {
            ServiceError::invalid("domain_invalid", "domain", message)
        }
        DomainNameError::Ours => ServiceError::invalid(
            "domain_ours",
            "domain",
            format!(
                "{} is under the platform's own domain {}: every tenant already has <name>.{} and needs no custom domain there.",
                raw.trim(),
                p.config.base_domain,
                p.config.base_domain
            ),
        ),
    })?;
    let (tenant_id, _slug) = routable_tenant(p, tenant).await?;
    let mut tx = p.pool.begin().await?;
    // Serializes adds per tenant, so the limit below holds under concurrent requests.
    sqlx::query("SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE")
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM custom_domains WHERE tenant_id = $1")
        .bind(tenant_id)
        .fetch_one(&mut *tx)
        .await?;
    if count >= MAX_PER_TENANT {
        return Err(ServiceError::invalid(
            "too_many_domains",
            "domain",
            format!("A tenant can have {MAX_PER_TENANT} custom domains; remove one first."),
        ));
    }
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO custom_domains (tenant_id, domain, created_by) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(tenant_id)
    .bind(name.as_str())
    .bind(actor.as_str())
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| match unique_violation(&e).as_deref() {
        Some("custom_domains_domain_key") => ServiceError::Conflict {
            code: "domain_taken",
            message: format!(
                "{} is already a custom domain of a tenant; a domain can serve one tenant only.",
                name.as_str()
            ),
            field: Some("domain"),
        },
        _ => e.into(),
    })?;
    let job_id = job_queue::enqueue(&mut *tx, verify_job(id, tenant_id)).await?;
    sqlx::query("UPDATE custom_domains SET verify_job_id = $2 WHERE id = $1")
        .bind(id)
        .bind(job_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut *tx,
        actor,
        "domain.added",
        Some(tenant_id),
        Some(job_id),
        json!({"domain": name.as_str()}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(tenant_id = %tenant_id, domain = %name.as_str(), job_id = %job_id, "custom domain added");
    get(p, &tenant_id.to_string(), name.as_str()).await
}

/// Removes a domain from a tenant: its route goes with it.
pub async fn remove(
    p: &Platform,
    actor: &Actor,
    tenant: &str,
    domain: &str,
) -> Result<(), ServiceError> {
    let d = get(p, tenant, domain).await?;
    let mut tx = p.pool.begin().await?;
    let deleted = sqlx::query("DELETE FROM custom_domains WHERE id = $1")
        .bind(d.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(ServiceError::NotFound("domain"));
    }
    audit::record(
        &mut *tx,
        actor,
        "domain.removed",
        Some(d.tenant_id),
        None,
        json!({"domain": d.domain, "state": d.state}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(tenant_id = %d.tenant_id, domain = %d.domain, "custom domain removed");
    Ok(())
}

/// Checks a pending domain's DNS now, or starts checking a failed one again (a new
/// deadline). Verified and active domains need nothing.
pub async fn verify_now(
    p: &Platform,
    actor: &Actor,
    tenant: &str,
    domain: &str,
) -> Result<CustomDomain, ServiceError> {
    let d = get(p, tenant, domain).await?;
    if !matches!(d.state, DomainState::Pending | DomainState::Failed) {
        return Err(ServiceError::conflict(
            "domain_verified",
            format!("{} is already verified.", d.domain),
        ));
    }
    routable_tenant(p, &d.tenant_id.to_string()).await?;
    let mut tx = p.pool.begin().await?;
    if d.state == DomainState::Failed {
        sqlx::query(
            "UPDATE custom_domains SET state = 'pending', verify_started_at = now(), \
             updated_at = now() WHERE id = $1 AND state = 'failed'",
        )
        .bind(d.id)
        .execute(&mut *tx)
        .await?;
    }
    let job_id = job_queue::enqueue(&mut *tx, verify_job(d.id, d.tenant_id)).await?;
    // A check already waiting for its next turn runs now.
    job_queue::wake(&mut *tx, job_id).await?;
    sqlx::query("UPDATE custom_domains SET verify_job_id = $2 WHERE id = $1")
        .bind(d.id)
        .bind(job_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut *tx,
        actor,
        "domain.verify_requested",
        Some(d.tenant_id),
        Some(job_id),
        json!({"domain": d.domain}),
    )
    .await?;
    tx.commit().await?;
    get(p, &d.tenant_id.to_string(), &d.domain).await
}

/// Domains the route table publishes (verified or active, of tenants not deleted), with
/// their state and id.
pub async fn routable(pool: &PgPool) -> Result<Vec<(DomainRow, String, Uuid)>, sqlx::Error> {
    let rows: Vec<(Uuid, String, Uuid, String)> = sqlx::query_as(
        "SELECT d.id, d.domain, d.tenant_id, d.state FROM custom_domains d \
         JOIN tenants t ON t.id = d.tenant_id \
         WHERE d.state IN ('verified', 'active') AND t.state NOT IN ('deleting', 'deleted')",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, domain, tenant_id, state)| (DomainRow { domain, tenant_id }, state, id))
        .collect())
}

/// Marks verified domains active: Traefik has fetched a route table that publishes them.
pub async fn mark_active(platform: &Platform, ids: &[Uuid]) -> Result<(), sqlx::Error> {
    let mut tx = platform.pool.begin().await?;
    let activated: Vec<(Uuid, Uuid, String)> = sqlx::query_as(
        "UPDATE custom_domains SET state = 'active', activated_at = now(), updated_at = now() \
         WHERE id = ANY($1) AND state = 'verified' RETURNING id, tenant_id, domain",
    )
    .bind(ids)
    .fetch_all(&mut *tx)
    .await?;
    for (_, tenant_id, domain) in &activated {
        audit::record(
            &mut *tx,
            &Actor::system(),
            "domain.activated",
            Some(*tenant_id),
            None,
            json!({"domain": domain}),
        )
        .await?;
    }
    tx.commit().await?;
    for (id, tenant_id, domain) in activated {
        tracing::info!(domain_id = %id, tenant_id = %tenant_id, %domain, "custom domain routed by Traefik");
    }
    Ok(())
}

/// Frees a deleted tenant's domains (their routes are already gone with the tenant).
pub async fn release_for_deleted_tenant<'e, E: sqlx::PgExecutor<'e>>(
    executor: E,
    tenant_id: Uuid,
) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM custom_domains WHERE tenant_id = $1")
            .bind(tenant_id)
            .execute(executor)
            .await?
            .rows_affected(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<String, DomainNameError> {
        DomainName::parse(s, "example.com").map(|d| d.0)
    }

    #[test]
    fn host_names_are_normalised() {
        assert_eq!(
            parse(" Shop.Acme-Corp.ORG. ").as_deref(),
            Ok("shop.acme-corp.org")
        );
        assert_eq!(parse("acme.org").as_deref(), Ok("acme.org"));
        assert_eq!(parse("bücher.de").as_deref(), Ok("xn--bcher-kva.de"));
    }

    #[test]
    fn malformed_names_are_refused_with_a_reason() {
        for bad in [
            "",
            "shop",
            "https://shop.acme.org",
            "shop.acme.org/path",
            "shop.acme.org:8443",
            "user@acme.org",
            "-shop.acme.org",
            "shop_1.acme.org",
            "shop..acme.org",
            "10.0.0.1",
            "[::1]",
            "shop.acme.123",
            "localhost",
            "shop.localhost",
            &format!("{}.org", "a".repeat(64)),
        ] {
            assert!(
                matches!(parse(bad), Err(DomainNameError::Malformed(_))),
                "{bad:?} accepted: {:?}",
                parse(bad)
            );
        }
    }

    #[test]
    fn the_platforms_own_domain_is_refused() {
        assert_eq!(parse("example.com"), Err(DomainNameError::Ours));
        assert_eq!(parse("shop.example.com"), Err(DomainNameError::Ours));
        assert_eq!(parse("a.b.example.com"), Err(DomainNameError::Ours));
        assert!(parse("notexample.com").is_ok());
    }
}
