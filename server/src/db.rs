//! The platform database: creation when absent, the connection pool, migrations.

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};
use std::str::FromStr;
use std::time::Duration;

/// The migrations of `migrations/`, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Errors of the database layer's start-up work.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL could not be parsed into connection options.
    #[error("DATABASE_URL could not be used: {0}")]
    BadUrl(String),
    /// The URL names no database.
    #[error("DATABASE_URL names no database (add /saas at its end)")]
    NoDatabaseName,
    /// PostgreSQL could not be reached or refused a statement.
    #[error("PostgreSQL error while {doing}: {source}")]
    Postgres {
        /// What we were doing.
        doing: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

fn pg(doing: &'static str) -> impl FnOnce(sqlx::Error) -> DbError {
    move |source| DbError::Postgres { doing, source }
}

/// Quotes a PostgreSQL identifier (`"name"`, doubling inner quotes). Every identifier the
/// platform builds into DDL goes through here; user input is never formatted into SQL.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Connection options from the URL, with statement logging lowered to debug.
pub fn connect_options(url: &SecretString) -> Result<PgConnectOptions, DbError> {
    PgConnectOptions::from_str(url.expose_secret())
        .map(|o| o.log_statements(tracing::log::LevelFilter::Debug))
        .map_err(|e| DbError::BadUrl(e.to_string()))
}

/// Creates the database named by the URL when it does not exist; true if it was created.
pub async fn ensure_database_exists(url: &SecretString) -> Result<bool, DbError> {
    let options = connect_options(url)?;
    let name = options
        .get_database()
        .map(str::to_owned)
        .ok_or(DbError::NoDatabaseName)?;
    let mut conn = sqlx::PgConnection::connect_with(&options.clone().database("postgres"))
        .await
        .map_err(pg("connecting to the maintenance database \"postgres\""))?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await
            .map_err(pg("looking up the platform database"))?;
    if exists {
        return Ok(false);
    }
    let created = sqlx::query(&format!("CREATE DATABASE {}", quote_identifier(&name)))
        .execute(&mut conn)
        .await;
    match created {
        Ok(_) => {
            tracing::info!(database = %name, "created the platform database");
            Ok(true)
        }
        // Another process created it between our check and our CREATE: that is fine.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => Ok(false),
        Err(e) => Err(pg("creating the platform database")(e)),
    }
}

/// Opens the pool on the platform database.
pub async fn connect(url: &SecretString, max_connections: u32) -> Result<PgPool, DbError> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(connect_options(url)?)
        .await
        .map_err(pg("connecting to the platform database"))
}

/// Creates the database if needed, connects, and applies pending migrations.
pub async fn prepare(url: &SecretString, max_connections: u32) -> Result<PgPool, DbError> {
    ensure_database_exists(url).await?;
    let pool = connect(url, max_connections).await?;
    migrate(&pool).await?;
    Ok(pool)
}

/// Applies pending migrations; running it again changes nothing.
pub async fn migrate(pool: &PgPool) -> Result<(), DbError> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::quote_identifier;

    #[test]
    fn identifiers_are_quoted_and_inner_quotes_doubled() {
        assert_eq!(quote_identifier("t_acme"), "\"t_acme\"");
        assert_eq!(
            quote_identifier("a\"; DROP DATABASE x; --"),
            "\"a\"\"; DROP DATABASE x; --\""
        );
    }
}
