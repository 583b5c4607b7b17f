//! DDL on tenant, template and standby databases: clone, claim, neutralize, suspend,
//! resume, back up, drop.
//!
//! Every database name is a [`DbName`], which only this module's constructors can build
//! and which is checked against `^[a-z][a-z0-9_-]{0,62}$`; identifiers reach SQL only
//! through [`DbName::quoted`] (one quoting function, `db::quote_identifier`), and every
//! other value is a bind parameter.

use crate::db::quote_identifier;
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use uuid::Uuid;

/// Name prefixes of the databases the platform makes for itself (templates, their builds,
/// standbys, clones before they take a tenant's name, backup copies). No tenant database
/// name starts with one (`TENANT_DB_PREFIX` may not), and plan keys cannot contain `-`, so
/// no name of one kind can spell a name of another.
pub const RESERVED_PREFIXES: &[&str] = &["tmpl_", "build_", "pool_", "clone_", "dump_"];

/// A validated PostgreSQL database name the platform manages.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DbName(String);

impl DbName {
    /// Checks a name read back from our own tables (or built below).
    pub fn parse(name: &str) -> Result<DbName, DbManagerError> {
        let mut chars = name.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        let rest_ok =
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if first_ok && rest_ok && name.len() <= 63 {
            Ok(DbName(name.to_owned()))
        } else {
            Err(DbManagerError::InvalidName(name.to_owned()))
        }
    }

    /// `<prefix><slug>`: the database of a tenant (`t_acme`); never one of the
    /// [`RESERVED_PREFIXES`].
    pub fn tenant(prefix: &str, slug: &str) -> Result<DbName, DbManagerError> {
        let name = format!("{prefix}{slug}");
        if RESERVED_PREFIXES.iter().any(|r| name.starts_with(r)) {
            return Err(DbManagerError::InvalidName(name));
        }
        DbName::parse(&name)
    }

    /// `tmpl_<odoo major>_<plan key>`: the template of a plan.
    pub fn template(odoo_version: u32, plan_key: &str) -> Result<DbName, DbManagerError> {
        DbName::parse(&format!("tmpl_{odoo_version}_{plan_key}"))
    }

    /// `build_<odoo major>_<plan key>`: where a plan's template is built before it takes
    /// the template's name. Its own prefix: with a suffix instead (`tmpl_18_a_new`), plan
    /// `a`'s build would be plan `a_new`'s template, dropped when `a` is rebuilt.
    pub fn template_build(odoo_version: u32, plan_key: &str) -> Result<DbName, DbManagerError> {
        DbName::parse(&format!("build_{odoo_version}_{plan_key}"))
    }

    /// `clone_<tenant id>`: a tenant's clone of its template until it is marked as the
    /// tenant's and renamed to the tenant's name ([`DbManager::clone_for_tenant`]). Only
    /// this platform makes such a name, so a retry may take over the one it finds.
    pub fn tenant_clone(tenant_id: Uuid) -> Result<DbName, DbManagerError> {
        DbName::parse(&format!("clone_{}", tenant_id.simple()))
    }

    /// `pool_<template>_<short random>`: a standby copy of a template.
    pub fn standby(template: &DbName) -> Result<DbName, DbManagerError> {
        let random = Uuid::new_v4().simple().to_string();
        DbName::parse(&format!("pool_{}_{}", template.0, &random[..8]))
    }

    /// `dump_<tenant id>`: the private copy a closed tenant database is dumped from
    /// ([`DbManager::backup_closed`]); the same name on every attempt, so a retry finds
    /// and replaces the copy of an interrupted one.
    pub fn dump_copy(tenant_id: Uuid) -> Result<DbName, DbManagerError> {
        DbName::parse(&format!("dump_{}", tenant_id.simple()))
    }

    /// The name as it is.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name quoted for DDL.
    pub fn quoted(&self) -> String {
        quote_identifier(&self.0)
    }
}

impl fmt::Display for DbName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What went wrong managing a database.
#[derive(Debug, thiserror::Error)]
pub enum DbManagerError {
    /// A name that does not fit the pattern of managed databases.
    #[error("'{0}' is not a valid managed database name")]
    InvalidName(String),
    /// The database does not exist.
    #[error("database {0} does not exist")]
    NotFound(DbName),
    /// PostgreSQL refused or failed a statement.
    #[error("PostgreSQL error while {doing} ({db}): {source}")]
    Postgres {
        /// What we were doing.
        doing: &'static str,
        /// The database concerned.
        db: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A file operation (filestore, backup) failed.
    #[error("{doing} failed: {source}")]
    Io {
        /// What we were doing.
        doing: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A database of this name exists and is not the one asked for: it carries no marker
    /// of the tenant (another application's, the platform's own, another tenant's). It is
    /// never adopted or dropped.
    #[error(
        "a database named {0} already exists and is not this tenant's: it is left alone; \
         give the tenant another slug"
    )]
    NotOurs(DbName),
    /// `pg_dump` failed.
    #[error("pg_dump of {db} failed: {message}")]
    Backup {
        /// The database.
        db: String,
        /// pg_dump's stderr.
        message: String,
    },
}

/// True when PostgreSQL itself cannot be reached or is restarting (connection refused or
/// lost, pool time-out, `08xxx`, `57P01`–`57P03` shutdown and start-up, `53300` too many
/// connections): jobs wait for it rather than spend attempts.
pub fn unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            let code = d.code().map(|c| c.into_owned()).unwrap_or_default();
            code.starts_with("08") || matches!(code.as_str(), "57P01" | "57P02" | "57P03" | "53300")
        }
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        _ => false,
    }
}

impl DbManagerError {
    /// True when PostgreSQL cannot be reached (see [`unreachable`]).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, DbManagerError::Postgres { source, .. } if unreachable(source))
    }

    /// True for errors a retry may cure (connection problems, locks, a busy database).
    pub fn is_transient(&self) -> bool {
        match self {
            DbManagerError::Postgres { source, .. } => match source {
                sqlx::Error::Database(e) => {
                    // 55006 object in use, 55P03 lock not available, 57P0x shutdown/restart,
                    // 53xxx resources, 08xxx connection, 40001/40P01 serialization/deadlock.
                    let code = e.code().map(|c| c.into_owned()).unwrap_or_default();
                    code == "55006"
                        || code == "55P03"
                        || code.starts_with("57P")
                        || code.starts_with("53")
                        || code.starts_with("08")
                        || code.starts_with("40")
                }
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Protocol(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::WorkerCrashed => true,
                _ => false,
            },
            DbManagerError::Io { .. } | DbManagerError::Backup { .. } => true,
            DbManagerError::InvalidName(_)
            | DbManagerError::NotFound(_)
            | DbManagerError::NotOurs(_) => false,
        }
    }
}

fn pg(doing: &'static str, db: &DbName) -> impl FnOnce(sqlx::Error) -> DbManagerError {
    let db = db.0.clone();
    move |source| DbManagerError::Postgres { doing, db, source }
}

fn is_code(e: &sqlx::Error, code: &str) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some(code))
}

/// Whose a database is, by its marker (`COMMENT ON DATABASE`, [`tenant_marker`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// No database of that name.
    Absent,
    /// It carries this tenant's marker: made for it by the platform.
    Tenant,
    /// It exists without this tenant's marker: not ours to adopt or drop.
    Other,
}

/// The comment that marks a database as a tenant's: only a database carrying its tenant's
/// marker is ever adopted or dropped as that tenant's. (A database's comment lives in the
/// cluster's shared catalog: it survives a rename, is not copied by `CREATE DATABASE …
/// TEMPLATE`, and is readable without connecting, also while the database is closed.)
pub fn tenant_marker(tenant_id: Uuid) -> String {
    format!("odoo-saas tenant {tenant_id}")
}

/// How a clone was neutralized: the values Odoo's duplicate resets, and the owner.
#[derive(Clone)]
pub struct Neutralize {
    /// Tenant id written as `saas.tenant_id`: marks the clone as already neutralized.
    pub tenant_id: Uuid,
    /// Public URL, `https://<slug>.<domain>` (`web.base.url`).
    pub base_url: String,
    /// Admin login (the owner's email).
    pub admin_login: String,
    /// Admin display name.
    pub admin_name: String,
    /// Odoo-format hash of the admin's password.
    pub admin_password_hash: SecretString,
    /// Name of the main company.
    pub company_name: String,
}

/// Result of a create-like step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done now.
    Done,
    /// Was already so (a retried step).
    AlreadyDone,
}

/// A connection to a managed database opened by [`DbManager::open_for_neutralize`].
pub struct CloneConnection {
    db: DbName,
    conn: PgConnection,
    opened_in: std::time::Duration,
}

impl CloneConnection {
    /// Closes the connection unused (a step before the neutralization failed).
    pub async fn close(self) {
        let _ = self.conn.close().await;
    }
}

/// Connection details `pg_dump` needs.
#[derive(Clone)]
struct DumpTarget {
    host: String,
    port: u16,
    user: String,
    password: Option<SecretString>,
}

/// Runs DDL on the cluster of the platform database.
#[derive(Clone)]
pub struct DbManager {
    maintenance: PgPool,
    options: PgConnectOptions,
    dump: DumpTarget,
    filestore_dir: Option<PathBuf>,
    backup_dir: PathBuf,
}

impl DbManager {
    /// A manager on the cluster of `database_url` (connects lazily to its `postgres` database).
    pub fn new(
        database_url: &SecretString,
        filestore_dir: Option<PathBuf>,
        backup_dir: PathBuf,
        max_connections: u32,
    ) -> Result<DbManager, crate::db::DbError> {
        let options = crate::db::connect_options(database_url)?;
        let url = url::Url::parse(database_url.expose_secret())
            .map_err(|e| crate::db::DbError::BadUrl(e.to_string()))?;
        let dump = DumpTarget {
            host: options.get_host().to_owned(),
            port: options.get_port(),
            user: options.get_username().to_owned(),
            password: url.password().map(|p| SecretString::from(p.to_owned())),
        };
        let maintenance = PgPoolOptions::new()
            .max_connections(max_connections.max(2))
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(10))
            .idle_timeout(Duration::from_secs(60))
            .connect_lazy_with(options.clone().database("postgres"));
        Ok(DbManager {
            maintenance,
            options,
            dump,
            filestore_dir,
            backup_dir,
        })
    }

    /// The pool on the maintenance database (for callers that time DDL themselves).
    pub fn maintenance_pool(&self) -> &PgPool {
        &self.maintenance
    }

    /// Whether the database exists.
    pub async fn exists(&self, db: &DbName) -> Result<bool, DbManagerError> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(db.as_str())
            .fetch_one(&self.maintenance)
            .await
            .map_err(pg("looking the database up", db))
    }

    /// Whether the database accepts connections (`datallowconn`); `None` if absent.
    pub async fn allows_connections(&self, db: &DbName) -> Result<Option<bool>, DbManagerError> {
        sqlx::query_scalar("SELECT datallowconn FROM pg_database WHERE datname = $1")
            .bind(db.as_str())
            .fetch_optional(&self.maintenance)
            .await
            .map_err(pg("reading datallowconn", db))
    }

    /// Names of existing databases starting with `prefix` (pool and test clean-up).
    pub async fn list_with_prefix(&self, prefix: &str) -> Result<Vec<DbName>, DbManagerError> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT datname::text FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1",
        )
        .bind(prefix)
        .fetch_all(&self.maintenance)
        .await
        .map_err(|source| DbManagerError::Postgres {
            doing: "listing databases",
            db: prefix.to_owned(),
            source,
        })?;
        names.iter().map(|n| DbName::parse(n)).collect()
    }

    /// The role that owns the database, if it exists.
    pub async fn owner(&self, db: &DbName) -> Result<Option<String>, DbManagerError> {
        sqlx::query_scalar(
            "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1",
        )
        .bind(db.as_str())
        .fetch_optional(&self.maintenance)
        .await
        .map_err(pg("reading the owner", db))
    }

    /// `ALTER DATABASE db OWNER TO role` (the platform's role must be a member of `role`).
    pub async fn set_owner(&self, db: &DbName, role: &str) -> Result<(), DbManagerError> {
        let sql = format!(
            "ALTER DATABASE {} OWNER TO {}",
            db.quoted(),
            quote_identifier(role)
        );
        match sqlx::query(&sql).execute(&self.maintenance).await {
            Ok(_) => Ok(()),
            Err(e) if is_code(&e, "3D000") => Err(DbManagerError::NotFound(db.clone())),
            Err(e) => Err(pg("changing the owner", db)(e)),
        }
    }

    /// `CREATE DATABASE target OWNER owner TEMPLATE template`; `AlreadyDone` if `target`
    /// exists. `owner` is Odoo's role: Odoo only serves the databases its role owns
    /// (`odoo/service/db.py`, `list_dbs`), while a plain `CREATE DATABASE … TEMPLATE` would
    /// give the database to the platform's role. `None` keeps PostgreSQL's default.
    pub async fn clone_template(
        &self,
        template: &DbName,
        target: &DbName,
        owner: Option<&str>,
    ) -> Result<Outcome, DbManagerError> {
        let owner = owner
            .map(|o| format!(" OWNER {}", quote_identifier(o)))
            .unwrap_or_default();
        let sql = format!(
            "CREATE DATABASE {}{owner} TEMPLATE {}",
            target.quoted(),
            template.quoted()
        );
        let started = std::time::Instant::now();
        let result = sqlx::query(&sql).execute(&self.maintenance).await;
        tracing::debug!(
            db = target.as_str(),
            clone_ms = started.elapsed().as_secs_f64() * 1e3,
            "cloned"
        );
        match result {
            Ok(_) => Ok(Outcome::Done),
            Err(e) if is_code(&e, "42P04") => Ok(Outcome::AlreadyDone),
            Err(e) if is_code(&e, "3D000") => Err(DbManagerError::NotFound(template.clone())),
            Err(e) => Err(pg("cloning the template", target)(e)),
        }
    }

    /// `ALTER DATABASE from RENAME TO to` (claims a standby database); [`NotOurs`] when
    /// `to` exists.
    ///
    /// [`NotOurs`]: DbManagerError::NotOurs
    pub async fn rename(&self, from: &DbName, to: &DbName) -> Result<(), DbManagerError> {
        let sql = format!("ALTER DATABASE {} RENAME TO {}", from.quoted(), to.quoted());
        match sqlx::query(&sql).execute(&self.maintenance).await {
            Ok(_) => Ok(()),
            Err(e) if is_code(&e, "3D000") => Err(DbManagerError::NotFound(from.clone())),
            Err(e) if is_code(&e, "42P04") => Err(DbManagerError::NotOurs(to.clone())),
            Err(e) => Err(pg("renaming the database", from)(e)),
        }
    }

    /// Marks `db` as `tenant_id`'s ([`tenant_marker`]).
    pub async fn mark_tenant(&self, db: &DbName, tenant_id: Uuid) -> Result<(), DbManagerError> {
        // COMMENT takes no parameters; the marker is a uuid and fixed words (no quote).
        let sql = format!(
            "COMMENT ON DATABASE {} IS '{}'",
            db.quoted(),
            tenant_marker(tenant_id)
        );
        match sqlx::query(&sql).execute(&self.maintenance).await {
            Ok(_) => Ok(()),
            Err(e) if is_code(&e, "3D000") => Err(DbManagerError::NotFound(db.clone())),
            Err(e) => Err(pg("marking the database", db)(e)),
        }
    }

    /// Whether `db` is absent, `tenant_id`'s (carries its marker), or someone else's.
    pub async fn holder(&self, db: &DbName, tenant_id: Uuid) -> Result<Holder, DbManagerError> {
        let comment: Option<Option<String>> = sqlx::query_scalar(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
        )
        .bind(db.as_str())
        .fetch_optional(&self.maintenance)
        .await
        .map_err(pg("reading the database's marker", db))?;
        Ok(match comment {
            None => Holder::Absent,
            Some(Some(c)) if c == tenant_marker(tenant_id) => Holder::Tenant,
            Some(_) => Holder::Other,
        })
    }

    /// Makes `tenant_id`'s database `target` from `template` unless it exists: cloned under
    /// [`DbName::tenant_clone`], marked, then renamed, so a database of the tenant's name is
    /// the tenant's exactly when it carries the marker. An existing `target` with the marker
    /// (an earlier attempt's) is `AlreadyDone`; without it, [`NotOurs`], untouched.
    ///
    /// [`NotOurs`]: DbManagerError::NotOurs
    pub async fn clone_for_tenant(
        &self,
        template: &DbName,
        target: &DbName,
        tenant_id: Uuid,
        owner: Option<&str>,
    ) -> Result<Outcome, DbManagerError> {
        match self.holder(target, tenant_id).await? {
            Holder::Tenant => return Ok(Outcome::AlreadyDone),
            Holder::Other => return Err(DbManagerError::NotOurs(target.clone())),
            Holder::Absent => {}
        }
        // A clone an interrupted attempt left under this name is the tenant's: only this
        // function makes the name, for this tenant.
        let staging = DbName::tenant_clone(tenant_id)?;
        self.clone_template(template, &staging, owner).await?;
        self.mark_tenant(&staging, tenant_id).await?;
        self.rename(&staging, target).await?;
        Ok(Outcome::Done)
    }

    /// Closes a template: no connections, marked as a template.
    pub async fn close_template(&self, db: &DbName) -> Result<(), DbManagerError> {
        let sql = format!(
            "ALTER DATABASE {} WITH ALLOW_CONNECTIONS false IS_TEMPLATE true",
            db.quoted()
        );
        sqlx::query(&sql)
            .execute(&self.maintenance)
            .await
            .map_err(pg("closing the template", db))?;
        self.terminate_sessions(db).await
    }

    /// Makes a template droppable again (`IS_TEMPLATE false`).
    pub async fn unmark_template(&self, db: &DbName) -> Result<(), DbManagerError> {
        let sql = format!("ALTER DATABASE {} WITH IS_TEMPLATE false", db.quoted());
        sqlx::query(&sql)
            .execute(&self.maintenance)
            .await
            .map_err(pg("unmarking the template", db))?;
        Ok(())
    }

    /// Renames the filestore folder along with its database (when both exist).
    pub async fn rename_filestore(&self, from: &DbName, to: &DbName) -> Result<(), DbManagerError> {
        let Some(dir) = &self.filestore_dir else {
            return Ok(());
        };
        let (source, target) = (dir.join(from.as_str()), dir.join(to.as_str()));
        if !tokio::fs::try_exists(&source).await.unwrap_or(false) {
            return Ok(());
        }
        if tokio::fs::try_exists(&target).await.unwrap_or(false) {
            tokio::fs::remove_dir_all(&target)
                .await
                .map_err(|source| DbManagerError::Io {
                    doing: format!("removing {}", target.display()),
                    source,
                })?;
        }
        tokio::fs::rename(&source, &target)
            .await
            .map_err(|source| DbManagerError::Io {
                doing: format!("renaming {}", source_display(dir, from)),
                source,
            })
    }

    /// Suspends: refuses new connections and ends the open sessions.
    pub async fn suspend(&self, db: &DbName) -> Result<(), DbManagerError> {
        let sql = format!(
            "ALTER DATABASE {} WITH ALLOW_CONNECTIONS false",
            db.quoted()
        );
        match sqlx::query(&sql).execute(&self.maintenance).await {
            Ok(_) => {}
            Err(e) if is_code(&e, "3D000") => return Err(DbManagerError::NotFound(db.clone())),
            Err(e) => return Err(pg("suspending the database", db)(e)),
        }
        self.terminate_sessions(db).await
    }

    /// Resumes: accepts connections again.
    pub async fn resume(&self, db: &DbName) -> Result<(), DbManagerError> {
        let sql = format!("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true", db.quoted());
        match sqlx::query(&sql).execute(&self.maintenance).await {
            Ok(_) => Ok(()),
            Err(e) if is_code(&e, "3D000") => Err(DbManagerError::NotFound(db.clone())),
            Err(e) => Err(pg("resuming the database", db)(e)),
        }
    }

    /// Ends every session on the database.
    pub async fn terminate_sessions(&self, db: &DbName) -> Result<(), DbManagerError> {
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()")
            .bind(db.as_str())
            .execute(&self.maintenance)
            .await
            .map_err(pg("terminating sessions", db))?;
        Ok(())
    }

    /// `DROP DATABASE IF EXISTS ... WITH (FORCE)` and removes its filestore folder.
    pub async fn drop_database(&self, db: &DbName) -> Result<Outcome, DbManagerError> {
        let existed = self.exists(db).await?;
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db.quoted());
        sqlx::query(&sql)
            .execute(&self.maintenance)
            .await
            .map_err(pg("dropping the database", db))?;
        self.remove_filestore(db).await?;
        Ok(if existed {
            Outcome::Done
        } else {
            Outcome::AlreadyDone
        })
    }

    /// Removes the database's filestore folder, if any.
    pub async fn remove_filestore(&self, db: &DbName) -> Result<(), DbManagerError> {
        let Some(dir) = &self.filestore_dir else {
            return Ok(());
        };
        let folder = dir.join(db.as_str());
        match tokio::fs::remove_dir_all(&folder).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(DbManagerError::Io {
                doing: format!("removing {}", folder.display()),
                source,
            }),
        }
    }

    /// Opens one connection to a managed database.
    pub async fn connect_to(&self, db: &DbName) -> Result<PgConnection, DbManagerError> {
        self.options
            .clone()
            .database(db.as_str())
            .connect()
            .await
            .map_err(pg("connecting to the database", db))
    }

    /// Opens the connection [`DbManager::neutralize_on`] uses, on its own so that the caller
    /// can overlap it with other work: it is the slow part of neutralizing a fresh clone
    /// (a new backend builds the caches of a database it has never seen).
    ///
    /// The connection does not wait for the WAL flush (`synchronous_commit = off`), which
    /// is safe: WAL is one stream for the whole cluster, so the tenant's later durable
    /// activation commit flushes its commit too; a crash before that loses both, the
    /// marker is missing, and the retried job neutralizes again.
    pub async fn open_for_neutralize(
        &self,
        db: &DbName,
    ) -> Result<CloneConnection, DbManagerError> {
        let started = std::time::Instant::now();
        let conn = self
            .options
            .clone()
            .database(db.as_str())
            .options([("synchronous_commit", "off")])
            .connect()
            .await
            .map_err(pg("connecting to the database", db))?;
        Ok(CloneConnection {
            db: db.clone(),
            conn,
            opened_in: started.elapsed(),
        })
    }

    /// Neutralizes a clone the way Odoo's `duplicate_database` does (the six
    /// `ir_config_parameter` keys), then sets the admin's login, password hash and the
    /// company name, with a marker so a retry does nothing twice.
    pub async fn neutralize(&self, db: &DbName, n: &Neutralize) -> Result<Outcome, DbManagerError> {
        let conn = self.open_for_neutralize(db).await?;
        self.neutralize_on(conn, n).await
    }

    /// [`DbManager::neutralize`] on a connection opened by
    /// [`DbManager::open_for_neutralize`], which it closes.
    ///
    /// One statement, atomic on its own, with every value a bind parameter. (A single
    /// round trip over the simple query protocol was measured: with the values in one
    /// hex-encoded JSON document it was ~1 ms slower, the JSON functions being more
    /// catalog look-ups for a backend whose caches are empty; with quoted literals it saved
    /// ~0.4 ms, not worth giving up bind parameters.)
    pub async fn neutralize_on(
        &self,
        c: CloneConnection,
        n: &Neutralize,
    ) -> Result<Outcome, DbManagerError> {
        let CloneConnection {
            db,
            mut conn,
            opened_in,
        } = c;
        let started = std::time::Instant::now();
        let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
        let tenant_marker = n.tenant_id.to_string();
        let keys = [
            "database.secret",
            "database.uuid",
            "database.create_date",
            "web.base.url",
            "base.login_cooldown_after",
            "base.login_cooldown_duration",
            "saas.tenant_id",
        ];
        let values = [
            Uuid::new_v4().to_string(),
            Uuid::new_v4().to_string(),
            now,
            n.base_url.clone(),
            "10".to_owned(),
            "60".to_owned(),
            tenant_marker.clone(),
        ];
        // Every change is guarded by "not done yet" (the marker); all CTEs see one snapshot.
        let already_done = sqlx::query_scalar::<_, bool>(
            "WITH prior AS (SELECT 1 FROM ir_config_parameter WHERE key = 'saas.tenant_id' AND value = $3), \
             params AS (INSERT INTO ir_config_parameter (key, value, create_uid, write_uid, create_date, write_date) \
               SELECT k, v, 1, 1, now() at time zone 'utc', now() at time zone 'utc' \
               FROM unnest($1::text[], $2::text[]) AS p(k, v) WHERE NOT EXISTS (SELECT 1 FROM prior) \
               ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, write_uid = 1, \
               write_date = now() at time zone 'utc' RETURNING 1), \
             admin AS (UPDATE res_users SET login = $4, password = $5, write_date = now() at time zone 'utc' \
               WHERE id = 2 AND NOT EXISTS (SELECT 1 FROM prior) RETURNING partner_id), \
             company AS (UPDATE res_company SET name = $7, email = $4 \
               WHERE id = 1 AND NOT EXISTS (SELECT 1 FROM prior) RETURNING partner_id), \
             partners AS (UPDATE res_partner p SET name = CASE WHEN p.id IN (SELECT partner_id FROM admin) \
               THEN $6 ELSE $7 END, email = $4 \
               WHERE p.id IN (SELECT partner_id FROM admin UNION ALL SELECT partner_id FROM company) RETURNING 1) \
             SELECT EXISTS (SELECT 1 FROM prior)",
        )
        .bind(&keys[..])
        .bind(&values[..])
        .bind(&tenant_marker)
        .bind(&n.admin_login)
        .bind(n.admin_password_hash.expose_secret())
        .bind(&n.admin_name)
        .bind(&n.company_name)
        .fetch_one(&mut conn)
        .await
        .map_err(pg("neutralizing the clone", &db));
        let queried = started.elapsed();
        let _ = conn.close().await;
        tracing::debug!(
            db = db.as_str(),
            connect_ms = opened_in.as_secs_f64() * 1e3,
            statement_ms = queried.as_secs_f64() * 1e3,
            close_ms = (started.elapsed() - queried).as_secs_f64() * 1e3,
            "neutralized"
        );
        if already_done? {
            Ok(Outcome::AlreadyDone)
        } else {
            Ok(Outcome::Done)
        }
    }

    /// Writes a password hash for the admin (id 2) directly.
    pub async fn set_admin_password_hash(
        &self,
        db: &DbName,
        hash: &SecretString,
    ) -> Result<(), DbManagerError> {
        let mut conn = self.connect_to(db).await?;
        let result = sqlx::query("UPDATE res_users SET password = $1 WHERE id = 2")
            .bind(hash.expose_secret())
            .execute(&mut conn)
            .await
            .map(|_| ())
            .map_err(pg("setting the admin's password", db));
        let _ = conn.close().await;
        result
    }

    /// The admin's (id 2) password hash, if the database has an admin with one.
    pub async fn admin_password_hash(
        &self,
        db: &DbName,
    ) -> Result<Option<SecretString>, DbManagerError> {
        let mut conn = self.connect_to(db).await?;
        let result: Result<Option<Option<String>>, _> =
            sqlx::query_scalar("SELECT password FROM res_users WHERE id = 2")
                .fetch_optional(&mut conn)
                .await
                .map_err(pg("reading the admin's password hash", db));
        let _ = conn.close().await;
        Ok(result?.flatten().map(SecretString::from))
    }

    /// Puts `restore` back as the admin's (id 2) password hash if it is still `expected`
    /// (a one-time hash a job wrote); false when someone changed it meanwhile.
    pub async fn restore_admin_password_hash(
        &self,
        db: &DbName,
        expected: &SecretString,
        restore: &SecretString,
    ) -> Result<bool, DbManagerError> {
        let mut conn = self.connect_to(db).await?;
        let result =
            sqlx::query("UPDATE res_users SET password = $1 WHERE id = 2 AND password = $2")
                .bind(restore.expose_secret())
                .bind(expected.expose_secret())
                .execute(&mut conn)
                .await
                .map(|done| done.rows_affected() == 1)
                .map_err(pg("restoring the admin's password", db));
        let _ = conn.close().await;
        result
    }

    /// The admin's login (id 2), if the database has one.
    pub async fn admin_login(&self, db: &DbName) -> Result<Option<String>, DbManagerError> {
        let mut conn = self.connect_to(db).await?;
        let result = sqlx::query_scalar("SELECT login FROM res_users WHERE id = 2")
            .fetch_optional(&mut conn)
            .await
            .map_err(pg("reading the admin's login", db));
        let _ = conn.close().await;
        result
    }

    /// Copies `<filestore>/<from>` to `<filestore>/<to>` when a filestore is configured and
    /// the source exists; a finished copy is left alone.
    pub async fn copy_filestore(
        &self,
        from: &DbName,
        to: &DbName,
    ) -> Result<Outcome, DbManagerError> {
        let Some(dir) = self.filestore_dir.clone() else {
            return Ok(Outcome::AlreadyDone);
        };
        let (source, target) = (dir.join(from.as_str()), dir.join(to.as_str()));
        let partial = dir.join(format!(".{}.partial", to.as_str()));
        tokio::task::spawn_blocking(move || -> Result<Outcome, DbManagerError> {
            let io = |doing: String| move |source| DbManagerError::Io { doing, source };
            if target.exists() || !source.exists() {
                return Ok(Outcome::AlreadyDone);
            }
            if partial.exists() {
                std::fs::remove_dir_all(&partial)
                    .map_err(io(format!("removing {}", partial.display())))?;
            }
            copy_dir(&source, &partial).map_err(io(format!("copying {}", source.display())))?;
            std::fs::rename(&partial, &target)
                .map_err(io(format!("renaming to {}", target.display())))?;
            Ok(Outcome::Done)
        })
        .await
        .map_err(|e| DbManagerError::Io {
            doing: "copying the filestore".into(),
            source: std::io::Error::other(e),
        })?
    }

    /// `pg_dump -Fc` of a database that refuses connections (a suspended tenant's), which
    /// stays closed throughout. PostgreSQL refuses every connection to it, pg_dump's
    /// included, so the dump reads `copy`: `CREATE DATABASE … TEMPLATE` needs no
    /// connection to its source, and Odoo does not serve the copy (its role does not own
    /// it, and CONNECT is revoked from PUBLIC). The copy is dropped whatever the dump's
    /// outcome; the file is named after `db`.
    pub async fn backup_closed(
        &self,
        db: &DbName,
        copy: &DbName,
    ) -> Result<PathBuf, DbManagerError> {
        // A copy left by an interrupted attempt may be incomplete: start again.
        self.drop_database(copy).await?;
        let create = format!("CREATE DATABASE {} TEMPLATE {}", copy.quoted(), db.quoted());
        match sqlx::query(&create).execute(&self.maintenance).await {
            Ok(_) => {}
            Err(e) if is_code(&e, "3D000") => return Err(DbManagerError::NotFound(db.clone())),
            Err(e) => return Err(pg("copying the database for its backup", db)(e)),
        }
        let revoke = format!("REVOKE CONNECT ON DATABASE {} FROM PUBLIC", copy.quoted());
        let dumped = match sqlx::query(&revoke).execute(&self.maintenance).await {
            Ok(_) => self.dump(copy, db).await,
            Err(e) => Err(pg("closing the copy to others", copy)(e)),
        };
        let dropped = self.drop_database(copy).await;
        let file = dumped?;
        dropped?;
        Ok(file)
    }

    /// `pg_dump -Fc` of `from` into the backup folder, in a file named after `name`;
    /// returns the file written.
    async fn dump(&self, from: &DbName, name: &DbName) -> Result<PathBuf, DbManagerError> {
        let io = |doing: String| move |source| DbManagerError::Io { doing, source };
        tokio::fs::create_dir_all(&self.backup_dir)
            .await
            .map_err(io(format!("creating {}", self.backup_dir.display())))?;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let file = self
            .backup_dir
            .join(format!("{}-{stamp}.dump", name.as_str()));
        let mut command = tokio::process::Command::new("pg_dump");
        command
            .arg("--format=custom")
            .arg("--no-password")
            .arg("--host")
            .arg(&self.dump.host)
            .arg("--port")
            .arg(self.dump.port.to_string())
            .arg("--username")
            .arg(&self.dump.user)
            .arg("--file")
            .arg(&file)
            .arg("--dbname")
            .arg(from.as_str());
        if let Some(password) = &self.dump.password {
            command.env("PGPASSWORD", password.expose_secret());
        }
        let output = command
            .output()
            .await
            .map_err(io("running pg_dump".to_owned()))?;
        if !output.status.success() {
            return Err(DbManagerError::Backup {
                db: name.0.clone(),
                message: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            });
        }
        Ok(file)
    }
}

fn source_display(dir: &Path, db: &DbName) -> String {
    dir.join(db.as_str()).display().to_string()
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_against_the_managed_pattern() {
        assert_eq!(
            DbName::tenant("t_", "acme-shop").expect("valid").as_str(),
            "t_acme-shop"
        );
        assert_eq!(
            DbName::template(18, "basic").expect("valid").as_str(),
            "tmpl_18_basic"
        );
        for bad in [
            "",
            "1abc",
            "T_acme",
            "t_a\"; DROP DATABASE x; --",
            "t acme",
            &"a".repeat(64),
        ] {
            assert!(DbName::parse(bad).is_err(), "{bad} accepted");
        }
        // No kind of name spells another kind's: a tenant's never takes a platform prefix,
        // and a build never spells another plan's template (keys have no `-`, builds their
        // own prefix).
        assert!(DbName::tenant("pool_", "acme").is_err());
        assert!(DbName::tenant("tmpl_18_", "basic").is_err());
        assert_eq!(
            DbName::template_build(18, "basic").expect("valid").as_str(),
            "build_18_basic"
        );
        assert_ne!(
            DbName::template_build(18, "a").expect("valid"),
            DbName::template(18, "a_new").expect("valid")
        );
        let tmpl = DbName::template(18, "basic").expect("valid");
        let pool = DbName::standby(&tmpl).expect("valid");
        assert!(pool.as_str().starts_with("pool_tmpl_18_basic_"), "{pool}");
        assert_eq!(pool.quoted(), format!("\"{pool}\""));
    }
}
