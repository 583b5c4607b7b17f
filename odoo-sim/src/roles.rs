//! The PostgreSQL role odoo-sim connects as.
//!
//! Real Odoo connects as a role of its own (`db_user`, `odoo` in our deployment), refuses to
//! run as `postgres` (`odoo/cli/server.py`, `check_postgres_user`), and only sees the
//! databases that role owns (`odoo/service/db.py`, `list_dbs`: `datdba = current_user`).
//! The simulator does the same, so a database the platform creates with the wrong owner is
//! as invisible to it as to Odoo. Tests, the end-to-end runner and `scripts/run.sh` connect it
//! as [`SIM_ROLE`], created once per PostgreSQL cluster by [`ensure_role`] and never dropped
//! (roles are cluster-wide and other test runs may be using it at the same time).

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use std::str::FromStr;

/// The role tests and the local demo connect the simulator as (LOGIN CREATEDB, not a
/// superuser), like the `odoo` role of a real deployment.
pub const SIM_ROLE: &str = "odoo_sim";

/// Odoo's refusal to run as `postgres` (`odoo/cli/server.py`, `check_postgres_user`).
pub const POSTGRES_USER_REFUSED: &str =
    "Using the database user 'postgres' is a security risk, aborting.";

/// Creates `role` (`LOGIN CREATEDB`, no password: local trust authentication) when it does
/// not exist, connecting with `admin_url` (a role allowed to create roles). Safe to run
/// from several processes at once: a concurrent creation counts as success.
pub async fn ensure_role(admin_url: &str, role: &str) -> anyhow::Result<()> {
    if role.is_empty()
        || !role
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        anyhow::bail!("role name {role:?}: use lowercase letters, digits and _");
    }
    let mut conn = PgConnectOptions::from_str(admin_url)?
        .disable_statement_logging()
        .connect()
        .await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(role)
            .fetch_one(&mut conn)
            .await?;
    let result = if exists {
        Ok(())
    } else {
        match sqlx::query(&format!(
            "CREATE ROLE {} LOGIN CREATEDB",
            crate::pg::ident(role)
        ))
        .execute(&mut conn)
        .await
        {
            Ok(_) => Ok(()),
            // 42710 duplicate_object, or 23505 when two creations race on pg_authid's index.
            Err(sqlx::Error::Database(e))
                if matches!(e.code().as_deref(), Some("42710") | Some("23505")) =>
            {
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    };
    let _ = conn.close().await;
    result
}

/// `url` with its user replaced by `role` and its password removed.
pub fn url_for_role(url: &str, role: &str) -> anyhow::Result<String> {
    let mut parsed = url::Url::parse(url)?;
    parsed
        .set_username(role)
        .map_err(|()| anyhow::anyhow!("cannot set the user of {url:?}"))?;
    parsed
        .set_password(None)
        .map_err(|()| anyhow::anyhow!("cannot clear the password of {url:?}"))?;
    Ok(parsed.to_string())
}

/// [`ensure_role`] then [`url_for_role`]: the URL the simulator should connect with.
pub async fn role_url(admin_url: &str, role: &str) -> anyhow::Result<String> {
    ensure_role(admin_url, role).await?;
    url_for_role(admin_url, role)
}

/// The user a PostgreSQL URL connects as (libpq's default when the URL names none).
pub fn url_user(url: &str) -> anyhow::Result<String> {
    Ok(PgConnectOptions::from_str(url)?.get_username().to_owned())
}
