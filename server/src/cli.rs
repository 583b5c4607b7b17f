//! Command line: `server [serve|migrate]`.

use crate::config::{redacted_database_url, Config};
use crate::{db, observability, shutdown, web};
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::process::ExitCode;
use std::sync::Arc;

/// The Odoo SaaS platform's server.
#[derive(Debug, Parser)]
#[command(name = "server", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the portals, the API and the POS app (the default).
    Serve,
    /// Create the platform database if absent and apply pending migrations, then exit.
    Migrate,
}

/// Parses the command line and the environment, then runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(errors) => {
            // Before logging exists: one plain line per problem on stderr.
            eprintln!("{errors}");
            return ExitCode::from(2);
        }
    };
    observability::init_tracing(config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command.unwrap_or(Command::Serve), config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "stopped with an error");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    let database = redacted_database_url(&config.database_url);
    match command {
        Command::Migrate => {
            db::prepare(&config.database_url, 2)
                .await
                .with_context(|| format!("migrating {database}"))?;
            tracing::info!(%database, "migrations applied");
            Ok(())
        }
        Command::Serve => serve(config, database).await,
    }
}

async fn serve(config: Config, database: String) -> anyhow::Result<()> {
    let pool = db::prepare(&config.database_url, config.db_max_connections)
        .await
        .with_context(|| format!("preparing {database}"))?;
    match (&config.odoo_url, config.odoo_is_simulator) {
        (Some(url), true) => tracing::warn!(%url, "using the bundled Odoo simulator (odoo-sim), not a real Odoo"),
        (Some(url), false) => tracing::info!(%url, "driving Odoo"),
        (None, _) => tracing::warn!("no Odoo configured (ODOO_URL): tenant operations will fail"),
    }
    let listener = tokio::net::TcpListener::bind(config.bind_addr)
        .await
        .with_context(|| format!("binding {}", config.bind_addr))?;
    tracing::info!(
        address = %config.bind_addr,
        %database,
        "serving on http://{}", config.bind_addr
    );
    let config = Arc::new(config);
    let app = web::router(config, pool.clone());
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown::signal())
        .await
        .context("serving HTTP")?;
    pool.close().await;
    tracing::info!("stopped");
    Ok(())
}
