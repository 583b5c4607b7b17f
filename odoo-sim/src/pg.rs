//! PostgreSQL access: short-lived per-database pools (no idle connections kept),
//! database listing and the management operations of Odoo's `db` service.

use crate::error::{OResult, OdooError};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

pub struct Pools {
    base: PgConnectOptions,
    /// The maintenance database named in the server URL (e.g. `postgres`).
    pub maintenance_db: String,
    pub host: String,
    pub port: u16,
    map: Mutex<HashMap<String, PgPool>>,
}

/// Quote an identifier for PostgreSQL.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Pools {
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let base = PgConnectOptions::from_str(url)?.disable_statement_logging();
        let maintenance_db = base.get_database().unwrap_or("postgres").to_string();
        let host = base.get_host().to_string();
        let port = base.get_port();
        Ok(Pools {
            base,
            maintenance_db,
            host,
            port,
            map: Mutex::new(HashMap::new()),
        })
    }

    pub fn options(&self, db: &str) -> PgConnectOptions {
        self.base.clone().database(db)
    }

    /// A pool for `db`: no minimum, connections closed after ~1 s idle so that
    /// `CREATE DATABASE ... TEMPLATE` / `ALTER DATABASE ... RENAME` by others succeed.
    pub fn pool(&self, db: &str) -> PgPool {
        let mut map = match self.map.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        if let Some(p) = map.get(db) {
            if !p.is_closed() {
                return p.clone();
            }
        }
        let p = PgPoolOptions::new()
            .min_connections(0)
            .max_connections(4)
            .idle_timeout(Duration::from_secs(1))
            .max_lifetime(Duration::from_secs(20))
            .acquire_timeout(Duration::from_secs(15))
            .connect_lazy_with(self.options(db));
        map.insert(db.to_string(), p.clone());
        p
    }

    /// Forget (and close) the pool of a database about to be dropped/renamed.
    pub async fn forget(&self, db: &str) {
        let p = {
            let mut map = match self.map.lock() {
                Ok(m) => m,
                Err(p) => p.into_inner(),
            };
            map.remove(db)
        };
        if let Some(p) = p {
            p.close().await;
        }
    }

    /// Begin a transaction on `db`, mapping connection failures to psycopg2's error.
    pub async fn begin(&self, db: &str) -> OResult<sqlx::Transaction<'static, sqlx::Postgres>> {
        let pool = self.pool(db);
        match pool.begin().await {
            Ok(t) => Ok(t),
            Err(e) => Err(self.connect_error(e)),
        }
    }

    pub fn connect_error(&self, e: sqlx::Error) -> OdooError {
        let msg = match &e {
            sqlx::Error::Database(d) => d.message().to_string(),
            other => other.to_string(),
        };
        OdooError::operational(format!(
            "connection to server at \"{}\", port {} failed: FATAL:  {}\n",
            self.host, self.port, msg
        ))
    }

    /// One connection to the maintenance database, closed after use.
    pub async fn maintenance(&self) -> OResult<sqlx::PgConnection> {
        self.options(&self.maintenance_db)
            .connect()
            .await
            .map_err(|e| self.connect_error(e))
    }

    /// Odoo's `list_dbs(force=True)`: databases owned by the current user, connectable,
    /// not templates, except `postgres` and the template; sorted.
    pub async fn list_dbs(&self) -> OResult<Vec<String>> {
        let mut c = self.maintenance().await?;
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT datname::text FROM pg_database WHERE datdba = (SELECT usesysid FROM pg_user WHERE usename = current_user) \
             AND NOT datistemplate AND datallowconn AND datname NOT IN ('postgres', 'template0') ORDER BY datname",
        )
        .fetch_all(&mut c)
        .await
        .map_err(pg_error)?;
        let _ = sqlx::Connection::close(c).await;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    pub async fn exists(&self, db: &str) -> OResult<bool> {
        let mut c = self.maintenance().await?;
        let row: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = $1")
            .bind(db)
            .fetch_optional(&mut c)
            .await
            .map_err(pg_error)?;
        let _ = sqlx::Connection::close(c).await;
        Ok(row.is_some())
    }

    /// Odoo's `db_exist`: "can I connect to it".
    pub async fn can_connect(&self, db: &str) -> bool {
        match self.options(db).connect().await {
            Ok(c) => {
                let _ = sqlx::Connection::close(c).await;
                true
            }
            Err(_) => false,
        }
    }

    /// Odoo's `_drop_conn` (`odoo/service/db.py`): ends the other connections to `db`,
    /// ignoring failures (a role that is not a superuser cannot end a superuser's backends;
    /// the statement that follows then fails on its own if they are in the way).
    pub async fn terminate(&self, c: &mut sqlx::PgConnection, db: &str) {
        if let Err(e) = sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid != pg_backend_pid()")
            .bind(db)
            .execute(&mut *c)
            .await
        {
            tracing::debug!("terminating the connections to {db}: {e}");
        }
    }

    /// `CREATE DATABASE dst TEMPLATE src` after terminating other connections to src.
    pub async fn clone_db(&self, src: &str, dst: &str) -> OResult<()> {
        self.forget(src).await;
        let mut c = self.maintenance().await?;
        self.terminate(&mut c, src).await;
        let r = sqlx::query(&format!(
            "CREATE DATABASE {} ENCODING 'unicode' TEMPLATE {}",
            ident(dst),
            ident(src)
        ))
        .execute(&mut c)
        .await;
        let _ = sqlx::Connection::close(c).await;
        r.map_err(pg_error)?;
        Ok(())
    }

    pub async fn drop_db(&self, db: &str) -> OResult<()> {
        self.forget(db).await;
        let mut c = self.maintenance().await?;
        self.terminate(&mut c, db).await;
        let r = sqlx::query(&format!("DROP DATABASE {}", ident(db)))
            .execute(&mut c)
            .await;
        let _ = sqlx::Connection::close(c).await;
        r.map_err(|e| {
            OdooError::generic(format!(
                "Couldn't drop database {db}: {}",
                pg_error(e).message
            ))
        })?;
        Ok(())
    }

    pub async fn rename_db(&self, old: &str, new: &str) -> OResult<()> {
        self.forget(old).await;
        let mut c = self.maintenance().await?;
        self.terminate(&mut c, old).await;
        let r = sqlx::query(&format!(
            "ALTER DATABASE {} RENAME TO {}",
            ident(old),
            ident(new)
        ))
        .execute(&mut c)
        .await;
        let _ = sqlx::Connection::close(c).await;
        r.map_err(pg_error)?;
        Ok(())
    }
}

/// A raw PostgreSQL error as psycopg2 would name it.
pub fn pg_error(e: sqlx::Error) -> OdooError {
    if let sqlx::Error::Database(d) = &e {
        let code = d.code().map(|c| c.to_string()).unwrap_or_default();
        let class = match code.as_str() {
            "42P04" => "DuplicateDatabase",
            "3D000" => "InvalidCatalogName",
            "55006" => "ObjectInUse",
            "42501" => "InsufficientPrivilege",
            "42P07" => "DuplicateTable",
            _ => "DatabaseError",
        };
        let mut err = OdooError::operational(format!("{}\n", d.message()));
        err.name = format!("psycopg2.errors.{class}");
        return err;
    }
    OdooError::operational(e.to_string())
}
