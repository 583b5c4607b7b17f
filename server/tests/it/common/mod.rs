//! Test support: a fresh PostgreSQL database per test, and the app served on a free port.
#![allow(dead_code)]

use secrecy::SecretString;
use server::config::Config;
use sqlx::{Connection, PgConnection};
use std::collections::HashMap;
use std::sync::Arc;

pub mod billing;
pub mod harness;
pub mod maildev;
pub mod pebble;
pub mod portal;
pub mod stripe;
pub mod traefik;

/// The PostgreSQL server tests use; override with TEST_PG_URL (no database name).
pub fn pg_server_url() -> String {
    std::env::var("TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// A database created for one test and dropped by [`TestDb::drop_database`].
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// A new, empty database with a unique name (not yet migrated).
    pub async fn empty() -> TestDb {
        let name = format!("saas_test_{}", uuid::Uuid::new_v4().simple());
        TestDb {
            url: format!("{}/{}", pg_server_url(), name),
            name,
        }
    }

    /// The URL as a secret, as the config holds it.
    pub fn secret_url(&self) -> SecretString {
        SecretString::from(self.url.clone())
    }

    /// A config pointing at this database, with overrides.
    pub fn config(&self, extra: &[(&str, &str)]) -> Config {
        let mut vars: HashMap<String, String> = HashMap::new();
        vars.insert("DATABASE_URL".into(), self.url.clone());
        for (k, v) in extra {
            vars.insert((*k).into(), (*v).into());
        }
        Config::from_vars(&vars).expect("test config is valid")
    }

    /// Drops the database, closing anything still connected.
    pub async fn drop_database(self) {
        let mut conn = PgConnection::connect(&format!("{}/postgres", pg_server_url()))
            .await
            .expect("connect to postgres");
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn)
        .await
        .expect("drop test database");
    }
}

/// The app served on an ephemeral port; returns its base URL.
pub async fn spawn_app(config: Config, pool: sqlx::PgPool) -> String {
    let platform =
        server::platform::Platform::new(Arc::new(config), pool).expect("platform services");
    spawn_services(platform).await
}

/// The app over existing services (shared with the test's workers), on an ephemeral port.
pub async fn spawn_services(platform: server::platform::Platform) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    spawn_platform_on(listener, platform).await
}

/// The internal listener (the route table for Traefik) on an ephemeral port.
pub async fn spawn_internal(platform: server::platform::Platform) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = server::routing::endpoint::internal_router(platform);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// The app served on `listener`; returns its base URL.
pub async fn spawn_app_on(
    listener: tokio::net::TcpListener,
    config: Config,
    pool: sqlx::PgPool,
) -> String {
    let platform =
        server::platform::Platform::new(Arc::new(config), pool).expect("platform services");
    spawn_platform_on(listener, platform).await
}

/// The app over existing services served on `listener`; returns its base URL.
pub async fn spawn_platform_on(
    listener: tokio::net::TcpListener,
    platform: server::platform::Platform,
) -> String {
    let addr = listener.local_addr().expect("addr");
    let app = server::web::router(platform);
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await;
    });
    format!("http://{addr}")
}
