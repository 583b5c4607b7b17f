//! Platform-wide facts the portals show, and the server functions that read them.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the home page reports about the platform's own database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatabaseReport {
    /// `SELECT version()` of the PostgreSQL server.
    pub server_version: String,
    /// The platform database's name (`saas` by default).
    pub database: String,
    /// How many migrations have been applied.
    pub migrations_applied: i64,
    /// The database server's clock, `YYYY-MM-DD HH:MM:SS UTC`.
    pub checked_at: String,
}

/// How the platform reaches Odoo, as configured at start-up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OdooTarget {
    /// Base URL of the Odoo the platform drives.
    pub url: String,
    /// True when that Odoo is the bundled `odoo-sim` stand-in, not a real Odoo.
    pub simulated: bool,
}

/// Reads the platform database: proves the SSR, hydration and database path end to end.
/// An operator's diagnostic (the operations portal's dashboard): superadmins only.
// A fixed endpoint (no hash) so the wasm and the server always agree on the URL.
#[server(prefix = "/sfn/admin", endpoint = "check_database")]
pub async fn check_database() -> Result<DatabaseReport, ServerFnError> {
    crate::admin::backend::require_admin().map_err(|e| ServerFnError::new(e.message))?;
    let pool = use_context::<sqlx::PgPool>()
        .ok_or_else(|| ServerFnError::new("the database pool is not configured"))?;
    let row: (String, String, i64, String) = sqlx::query_as(
        "SELECT version(), current_database()::text, \
                (SELECT count(*) FROM _sqlx_migrations WHERE success), \
                to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC'",
    )
    .fetch_one(&pool)
    .await
    .map_err(|error| {
        tracing::error!(%error, "check_database failed");
        ServerFnError::new("The platform database did not answer; see the server log.")
    })?;
    Ok(DatabaseReport {
        server_version: row.0,
        database: row.1,
        migrations_applied: row.2,
        checked_at: row.3,
    })
}

/// Which Odoo the platform drives (real, or the bundled simulator).
#[server(prefix = "/sfn/admin", endpoint = "odoo_target")]
pub async fn get_odoo_target() -> Result<Option<OdooTarget>, ServerFnError> {
    crate::admin::backend::require_admin().map_err(|e| ServerFnError::new(e.message))?;
    Ok(use_context::<Option<OdooTarget>>().flatten())
}
