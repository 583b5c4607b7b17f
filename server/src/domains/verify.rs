//! The `domain.verify` job: checks a pending domain's DNS every
//! `CUSTOM_DOMAIN_CHECK_SECONDS` (snoozing in between, which spends no attempt) until the
//! record is seen (→ `verified`: the route table publishes it) or
//! `CUSTOM_DOMAIN_VERIFY_TIMEOUT_SECONDS` have passed (→ `failed`, with what was found).

use super::dns::{DnsCheck, Seen};
use crate::audit::{self, Actor};
use crate::platform::Platform;
use crate::tenants::TenantState;
use job_queue::{JobContext, JobError};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

#[derive(Deserialize)]
struct Payload {
    domain_id: Uuid,
}

/// Runs one check of a `domain.verify` job.
pub async fn run(p: &Platform, ctx: &JobContext) -> Result<(), JobError> {
    let Payload { domain_id } = ctx.payload()?;
    let row: Option<(
        String,
        String,
        Uuid,
        String,
        String,
        chrono::DateTime<chrono::Utc>,
    )> = sqlx::query_as(
        "SELECT d.domain, d.state, t.id, t.slug, t.state, d.verify_started_at \
             FROM custom_domains d JOIN tenants t ON t.id = d.tenant_id WHERE d.id = $1",
    )
    .bind(domain_id)
    .fetch_optional(&p.pool)
    .await
    .map_err(JobError::retry)?;
    // Removed meanwhile, or already verified: nothing to do.
    let Some((domain, state, tenant_id, slug, tenant_state, started)) = row else {
        return Ok(());
    };
    if state != "pending" {
        return Ok(());
    }
    if matches!(
        TenantState::parse(&tenant_state),
        Some(TenantState::Deleting | TenantState::Deleted)
    ) {
        return finish(
            p,
            domain_id,
            tenant_id,
            &domain,
            Err("The tenant was deleted.".into()),
        )
        .await;
    }
    let target = p.hostname(&slug);
    let _ = ctx
        .progress(1, 1, &format!("checking DNS of {domain}"))
        .await;
    let check = DnsCheck {
        nameservers: p.config.routing.dns_nameservers.clone(),
        ingress_ips: p.config.routing.ingress_ips.clone(),
    };
    match check.check(&domain, &target).await {
        Seen::Verified(how) => finish(p, domain_id, tenant_id, &domain, Ok(how)).await,
        Seen::NotYet(found) => {
            let timeout = chrono::Duration::from_std(p.config.routing.custom_domain_verify_timeout)
                .map_err(JobError::permanent)?;
            if chrono::Utc::now() >= started + timeout {
                let hours = timeout.num_minutes() as f64 / 60.0;
                let reason = format!(
                    "No CNAME from {domain} to {target} was seen in {hours:.1} hours. Last check: {found}"
                );
                return finish(p, domain_id, tenant_id, &domain, Err(reason)).await;
            }
            sqlx::query(
                "UPDATE custom_domains SET checks = checks + 1, last_checked_at = now(), \
                 last_result = $2, updated_at = now() WHERE id = $1 AND state = 'pending'",
            )
            .bind(domain_id)
            .bind(&found)
            .execute(&p.pool)
            .await
            .map_err(JobError::retry)?;
            tracing::info!(%domain_id, %tenant_id, %domain, %found, "custom domain not verified yet");
            Err(JobError::snooze(
                format!("DNS of {domain}: {found}"),
                p.config.routing.custom_domain_check_interval,
            ))
        }
    }
}

/// Records the outcome: `verified` (the route appears with the next table) or `failed`.
async fn finish(
    p: &Platform,
    domain_id: Uuid,
    tenant_id: Uuid,
    domain: &str,
    outcome: Result<String, String>,
) -> Result<(), JobError> {
    let (state, result, action) = match &outcome {
        Ok(how) => ("verified", how.as_str(), "domain.verified"),
        Err(why) => ("failed", why.as_str(), "domain.failed"),
    };
    let mut tx = p.pool.begin().await.map_err(JobError::retry)?;
    let changed = sqlx::query(
        "UPDATE custom_domains SET state = $2, last_result = $3, checks = checks + 1, \
         last_checked_at = now(), updated_at = now(), \
         verified_at = CASE WHEN $2 = 'verified' THEN now() ELSE verified_at END \
         WHERE id = $1 AND state = 'pending'",
    )
    .bind(domain_id)
    .bind(state)
    .bind(result)
    .execute(&mut *tx)
    .await
    .map_err(JobError::retry)?
    .rows_affected();
    if changed > 0 {
        audit::record(
            &mut *tx,
            &Actor::system(),
            action,
            Some(tenant_id),
            None,
            json!({"domain": domain, "result": result}),
        )
        .await
        .map_err(JobError::retry)?;
    }
    tx.commit().await.map_err(JobError::retry)?;
    match outcome {
        Ok(how) => tracing::info!(%domain_id, %tenant_id, %domain, %how, "custom domain verified"),
        Err(why) => tracing::warn!(%domain_id, %tenant_id, %domain, %why, "custom domain failed"),
    }
    Ok(())
}
