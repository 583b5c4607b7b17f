//! The route table kept in memory: built from the database when something changed, served
//! as the same bytes to every poll until then.
//!
//! Change detection is PostgreSQL's `NOTIFY routes_changed` (migration 0010: triggers on
//! tenants and custom domains). A counter of notifications seen is compared with the one
//! the table was built at, so a change that lands while a build is reading can never be
//! lost: it bumps the counter and the next request builds again. While the listening
//! connection is down (start-up, database restart), notifications may be missed, so a
//! table is then trusted for [`UNLISTENED_MAX_AGE`] only.

use super::document::{self, DomainRow, RouteSettings, TenantRow};
use super::HostTable;
use crate::tenants::TenantState;
use axum::body::Bytes;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock, Weak};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The notification channel of route changes.
pub const CHANNEL: &str = "routes_changed";

/// How long a table is trusted while no change notification can arrive.
pub const UNLISTENED_MAX_AGE: Duration = Duration::from_secs(1);

/// One build of the route table.
#[derive(Debug)]
pub struct RouteTable {
    /// Traefik's dynamic configuration, serialized once.
    pub document: Bytes,
    /// Host → tenant, for the server's own pages.
    pub hosts: HostTable,
    /// How many routers the document holds.
    pub routers: usize,
    /// Custom domains in `verified` state that this document publishes (they become
    /// `active` once Traefik has fetched it).
    pub newly_published: Vec<Uuid>,
    /// When it was built.
    pub built_at: Instant,
    /// The change counter it reflects.
    changes_seen: u64,
}

/// The cache (one per process, shared by the web handlers).
pub struct RouteCache {
    pool: PgPool,
    settings: RouteSettings,
    current: RwLock<Option<Arc<RouteTable>>>,
    changes: AtomicU64,
    listening: AtomicBool,
    rebuild: tokio::sync::Mutex<()>,
    listener: OnceLock<()>,
}

impl std::fmt::Debug for RouteCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteCache")
            .field("changes", &self.changes.load(Ordering::Relaxed))
            .field("listening", &self.listening.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl RouteCache {
    /// A cache over `pool`; nothing is read until the first request.
    pub fn new(pool: PgPool, settings: RouteSettings) -> Arc<RouteCache> {
        Arc::new(RouteCache {
            pool,
            settings,
            current: RwLock::new(None),
            changes: AtomicU64::new(0),
            listening: AtomicBool::new(false),
            rebuild: tokio::sync::Mutex::new(()),
            listener: OnceLock::new(),
        })
    }

    /// The settings the documents are built with.
    pub fn settings(&self) -> &RouteSettings {
        &self.settings
    }

    /// The current table, built first if a change happened since the last build.
    pub async fn current(self: &Arc<Self>) -> Result<Arc<RouteTable>, sqlx::Error> {
        self.listener.get_or_init(|| {
            tokio::spawn(listen(Arc::downgrade(self), self.pool.clone()));
        });
        if let Some(table) = self.fresh() {
            return Ok(table);
        }
        // One build at a time; those who waited take the one just made.
        let _building = self.rebuild.lock().await;
        if let Some(table) = self.fresh() {
            return Ok(table);
        }
        let seen = self.changes.load(Ordering::SeqCst);
        let table = Arc::new(self.build(seen).await?);
        if let Ok(mut current) = self.current.write() {
            *current = Some(table.clone());
        }
        Ok(table)
    }

    /// Whether change notifications are being received (else tables expire after
    /// [`UNLISTENED_MAX_AGE`]).
    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::SeqCst)
    }

    /// Forgets the current table (the next request builds a new one).
    pub fn invalidate(&self) {
        self.changes.fetch_add(1, Ordering::SeqCst);
    }

    fn fresh(&self) -> Option<Arc<RouteTable>> {
        let table = self.current.read().ok()?.clone()?;
        let unchanged = table.changes_seen == self.changes.load(Ordering::SeqCst);
        let trusted =
            self.listening.load(Ordering::SeqCst) || table.built_at.elapsed() < UNLISTENED_MAX_AGE;
        (unchanged && trusted).then_some(table)
    }

    async fn build(&self, changes_seen: u64) -> Result<RouteTable, sqlx::Error> {
        let started = Instant::now();
        let (tenants, domains) = load(&self.pool).await?;
        let newly_published = domains
            .iter()
            .filter(|d| d.1 == "verified")
            .map(|d| d.2)
            .collect();
        let domains: Vec<DomainRow> = domains.into_iter().map(|d| d.0).collect();
        let (doc, hosts) = document::build(&self.settings, &tenants, &domains);
        let routers = doc.router_count();
        let document = Bytes::from(
            serde_json::to_vec(&doc).map_err(|e| sqlx::Error::Protocol(e.to_string()))?,
        );
        let elapsed = started.elapsed();
        metrics::counter!("route_table_builds_total").increment(1);
        metrics::histogram!("route_table_build_seconds").record(elapsed.as_secs_f64());
        metrics::gauge!("route_table_routers").set(routers as f64);
        tracing::debug!(
            tenants = tenants.len(),
            routers,
            bytes = document.len(),
            ms = elapsed.as_secs_f64() * 1000.0,
            "route table built"
        );
        Ok(RouteTable {
            document,
            hosts,
            routers,
            newly_published,
            built_at: Instant::now(),
            changes_seen,
        })
    }
}

/// Tenants with a route (every state but deleting/deleted) and the custom domains that are
/// verified or active, with their state and id.
async fn load(
    pool: &PgPool,
) -> Result<(Vec<TenantRow>, Vec<(DomainRow, String, Uuid)>), sqlx::Error> {
    let rows: Vec<(Uuid, String, String)> = sqlx::query_as(
        "SELECT id, slug, state FROM tenants WHERE state NOT IN ('deleting', 'deleted')",
    )
    .fetch_all(pool)
    .await?;
    let tenants = rows
        .into_iter()
        .filter_map(|(id, slug, state)| {
            TenantState::parse(&state).map(|state| TenantRow { id, slug, state })
        })
        .collect();
    let domains = crate::domains::routable(pool).await?;
    Ok((tenants, domains))
}

/// Counts change notifications for the cache while it exists; stops when the pool closes.
async fn listen(cache: Weak<RouteCache>, pool: PgPool) {
    let bump = |cache: &Weak<RouteCache>| match cache.upgrade() {
        Some(c) => {
            c.changes.fetch_add(1, Ordering::SeqCst);
            true
        }
        None => false,
    };
    let set_listening = |cache: &Weak<RouteCache>, on: bool| {
        if let Some(c) = cache.upgrade() {
            c.listening.store(on, Ordering::SeqCst);
        }
    };
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(sqlx::Error::PoolClosed) => return,
            Err(error) => {
                tracing::warn!(%error, "route changes: cannot connect; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(CHANNEL).await {
            tracing::warn!(%error, "route changes: LISTEN failed; retrying in 1 s");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        // Anything that changed before LISTEN took effect is in the next build.
        set_listening(&cache, true);
        if !bump(&cache) {
            return;
        }
        loop {
            match listener.try_recv().await {
                // A notification, or `None`: the connection was lost and re-established,
                // and notifications in between are lost. Either way: build again.
                Ok(_) => {
                    if !bump(&cache) {
                        return;
                    }
                }
                Err(sqlx::Error::PoolClosed) => return,
                Err(error) => {
                    set_listening(&cache, false);
                    tracing::warn!(%error, "route changes: listening failed; reconnecting");
                    if !bump(&cache) {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            }
        }
    }
}
