//! What services and job handlers share: the platform database, the queue, the database
//! manager, Odoo clients and the configuration.

use crate::config::Config;
use crate::db_manager::DbManager;
use crate::odoo::{self, OdooClient};
use job_queue::Queue;
use sqlx::PgPool;
use std::sync::Arc;

/// The platform's services, cheap to clone.
#[derive(Clone)]
pub struct Platform {
    /// The platform database.
    pub pool: PgPool,
    /// The job queue over the same database.
    pub queue: Queue,
    /// DDL on tenant databases.
    pub dbm: DbManager,
    /// The validated configuration.
    pub config: Arc<Config>,
    /// Bounds concurrent password hashing (CPU-bound) to the number of cores, so a burst
    /// of sign-ups queues instead of starving the async runtime.
    pub hashing: Arc<tokio::sync::Semaphore>,
    /// Recent tenant totals of the portal's table (see `tenants::service::CountCache`).
    pub tenant_counts: Arc<crate::tenants::service::CountCache>,
    /// Password sign-in protection (throttle, bounded argon2), shared by every realm.
    pub signin: crate::signin::SigninGuard,
    /// The route table Traefik polls, cached until a route changes (`routing`).
    pub routes: Arc<crate::routing::RouteCache>,
    /// Stripe (billing); unconfigured without `STRIPE_SECRET_KEY`.
    pub stripe: crate::billing::Stripe,
    /// The time billing's deadlines are checked against.
    pub clock: Arc<Clock>,
    /// The SMTP sender of the outbox's messages (one connection pool).
    pub mailer: crate::mail::smtp::Mailer,
}

/// Why the platform's services could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// The database side.
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    /// The SMTP settings.
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
}

/// The platform's clock: the real time plus an offset that only tests move, so a test of a
/// grace or retention period moves time instead of waiting for days.
#[derive(Debug, Default)]
pub struct Clock {
    offset_secs: std::sync::atomic::AtomicI64,
}

impl Clock {
    /// Now.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
            + chrono::Duration::seconds(self.offset_secs.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Moves this process's clock forward (tests only; nothing in the platform calls it).
    #[doc(hidden)]
    pub fn advance(&self, by: chrono::Duration) {
        self.offset_secs
            .fetch_add(by.num_seconds(), std::sync::atomic::Ordering::Relaxed);
    }
}

impl Platform {
    /// Builds the services over an open pool.
    pub fn new(config: Arc<Config>, pool: PgPool) -> Result<Platform, PlatformError> {
        let dbm = DbManager::new(
            &config.database_url,
            config.odoo_filestore_dir.clone(),
            config.backup_dir.clone(),
            config.worker_concurrency + 2,
        )?;
        let cores = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(2);
        let signin = crate::signin::SigninGuard::new(
            pool.clone(),
            crate::signin::ThrottlePolicy::new(config.signin_free_failures),
            cores,
        );
        let routes = crate::routing::RouteCache::new(
            pool.clone(),
            crate::routing::document::RouteSettings::from_config(&config),
        );
        let mailer = crate::mail::smtp::Mailer::new(&config.mail)?;
        Ok(Platform {
            mailer,
            signin,
            routes,
            queue: Queue::new(pool.clone()),
            pool,
            dbm,
            hashing: Arc::new(tokio::sync::Semaphore::new(cores)),
            tenant_counts: Arc::default(),
            stripe: crate::billing::Stripe::new(
                config.billing.stripe_secret_key.as_ref(),
                &config.billing.stripe_api_base,
            ),
            clock: Arc::default(),
            config,
        })
    }

    /// A client of the internal Odoo that takes the platform's management calls.
    pub fn odoo_admin(&self) -> Result<OdooClient, odoo::OdooUseError> {
        let url = self
            .config
            .odoo_admin_url
            .as_ref()
            .ok_or(odoo::OdooUseError::NotConfigured)?;
        odoo::client(url)
    }

    /// The tenant database name for a slug.
    pub fn tenant_db(
        &self,
        slug: &str,
    ) -> Result<crate::db_manager::DbName, crate::db_manager::DbManagerError> {
        crate::db_manager::DbName::tenant(&self.config.tenant_db_prefix, slug)
    }

    /// Hashes a password in Odoo's format off the async threads, a few at a time.
    pub async fn hash_password(&self, plain: &str) -> Result<String, crate::service::ServiceError> {
        let _permit = self
            .hashing
            .acquire()
            .await
            .map_err(crate::service::ServiceError::internal)?;
        let plain = plain.to_owned();
        let rounds = self.config.password_hash_rounds;
        tokio::task::spawn_blocking(move || odoo_passlib::hash_password_rounds(&plain, rounds))
            .await
            .map_err(crate::service::ServiceError::internal)
    }

    /// The role a new tenant or standby database of `template` is given: `ODOO_DB_ROLE`,
    /// else the template's owner (Odoo's `create_database` made it, so it is Odoo's role);
    /// `None` when neither is known (the template is missing).
    pub async fn odoo_db_owner(
        &self,
        template: &crate::db_manager::DbName,
    ) -> Result<Option<String>, crate::db_manager::DbManagerError> {
        match &self.config.odoo_db_role {
            Some(role) => Ok(Some(role.clone())),
            None => self.dbm.owner(template).await,
        }
    }

    /// `<slug>.<BASE_DOMAIN>`.
    pub fn hostname(&self, slug: &str) -> String {
        format!("{slug}.{}", self.config.base_domain)
    }
}
