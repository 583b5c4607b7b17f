//! Periodic clean-up run beside the job workers: rows that only mattered for a while.

use crate::platform::Platform;
use std::time::Duration;

/// How often the workers tidy up.
pub const EVERY: Duration = Duration::from_secs(600);

/// How long a tenant that never became active (requested, provisioning or failed) keeps
/// its owner's Odoo password hash after its last change: long enough for an operator to
/// retry a failed provisioning, not for ever. (Activation and deletion clear it at once.)
pub const OWNER_HASH_RETENTION_DAYS: i32 = 7;

/// One round: prunes sign-in throttle rows that no longer count, and forgets the owner's
/// password hash of tenants that never became active after [`OWNER_HASH_RETENTION_DAYS`].
/// Errors are logged; the next round tries again.
pub async fn run_once(p: &Platform) {
    match p.signin.prune().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(rows = n, "pruned old sign-in throttle rows"),
        Err(error) => tracing::warn!(%error, "pruning sign-in throttle rows failed"),
    }
    match forget_owner_hashes(&p.pool).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            tenants = n,
            "forgot the owner's password hash of tenants that never became active"
        ),
        Err(error) => tracing::warn!(%error, "forgetting old owner password hashes failed"),
    }
}

/// Clears `owner_password_hash` of tenants that never became active and did not change
/// for [`OWNER_HASH_RETENTION_DAYS`]; a provisioning retried later says the hash is gone
/// (create the tenant again). Returns how many were cleared.
pub async fn forget_owner_hashes(pool: &sqlx::PgPool) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE tenants SET owner_password_hash = NULL \
         WHERE owner_password_hash IS NOT NULL AND state IN ('requested', 'provisioning', 'failed') \
           AND updated_at < now() - make_interval(days => $1)",
    )
    .bind(OWNER_HASH_RETENTION_DAYS)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Runs [`run_once`] now and then every [`EVERY`], for ever (drop the future to stop).
pub async fn run_forever(p: Platform) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        run_once(&p).await;
    }
}
