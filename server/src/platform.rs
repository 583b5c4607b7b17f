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
}

impl Platform {
    /// Builds the services over an open pool.
    pub fn new(config: Arc<Config>, pool: PgPool) -> Result<Platform, crate::db::DbError> {
        let dbm = DbManager::new(
            &config.database_url,
            config.odoo_filestore_dir.clone(),
            config.backup_dir.clone(),
            config.worker_concurrency + 2,
        )?;
        let cores = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(2);
        Ok(Platform {
            queue: Queue::new(pool.clone()),
            pool,
            dbm,
            config,
            hashing: Arc::new(tokio::sync::Semaphore::new(cores)),
            tenant_counts: Arc::default(),
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

    /// `<slug>.<BASE_DOMAIN>`.
    pub fn hostname(&self, slug: &str) -> String {
        format!("{slug}.{}", self.config.base_domain)
    }
}
