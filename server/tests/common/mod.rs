//! Test support: a fresh PostgreSQL database per test, and the app served on a free port.
#![allow(dead_code)]

use secrecy::SecretString;
use server::config::Config;
use sqlx::{Connection, PgConnection};
use std::collections::HashMap;
use std::sync::Arc;

pub mod harness;

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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let platform =
        server::platform::Platform::new(Arc::new(config), pool).expect("platform services");
    let app = server::web::router(platform);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}
