//! `odoo-sim` command line.

use clap::{Parser, Subcommand};
use odoo_sim::{Catalogue, Config, TemplateOptions};

#[derive(Parser)]
#[command(
    name = "odoo-sim",
    about = "A wire-compatible Odoo 18 JSON-RPC stand-in backed by PostgreSQL"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve Odoo's JSON-RPC for every Odoo-shaped database its role owns.
    Serve {
        #[arg(long, default_value_t = 8069)]
        port: u16,
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// The role to connect as (Odoo's db_user); `postgres` is refused, as Odoo does.
        #[arg(
            long,
            env = "DATABASE_URL",
            default_value = "postgres://odoo_sim@127.0.0.1:5432/postgres"
        )]
        database_url: String,
        #[arg(
            long,
            env = "ODOO_SIM_MASTER_PASSWORD",
            default_value = "admin",
            hide_env_values = true
        )]
        master_password: String,
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        list_db: bool,
        #[arg(long, default_value = "^%d$")]
        dbfilter: String,
        /// Use X-Forwarded-Host for the dbfilter host (Odoo proxy_mode).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        proxy_mode: bool,
        /// web.base.url written into databases created over RPC.
        #[arg(long)]
        base_url: Option<String>,
    },
    /// Create database NAME with the Odoo-shaped schema and fresh-Odoo-18 data, owned by
    /// the role of the URL (connect as the role `serve` uses, or it cannot see it).
    InitTemplate {
        name: String,
        #[arg(
            long,
            env = "DATABASE_URL",
            default_value = "postgres://odoo_sim@127.0.0.1:5432/postgres"
        )]
        database_url: String,
        /// none | demo (default) | recording
        #[arg(long, value_enum, default_value_t = Catalogue::Demo)]
        catalogue: Catalogue,
        #[arg(long, default_value = "admin")]
        login: String,
        #[arg(long, default_value = "admin")]
        password: String,
        #[arg(long, default_value = "en_US")]
        lang: String,
        #[arg(long)]
        country_code: Option<String>,
        #[arg(long, default_value = "http://localhost:8069")]
        base_url: String,
    },
    /// Create the role the simulator connects as (LOGIN CREATEDB, no superuser) if it does
    /// not exist yet; never dropped (roles are cluster-wide, other runs may use it).
    EnsureRole {
        #[arg(default_value = odoo_sim::SIM_ROLE)]
        name: String,
        /// A role allowed to create roles.
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
        admin_url: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    match Cli::parse().cmd {
        Cmd::Serve {
            port,
            bind,
            database_url,
            master_password,
            list_db,
            dbfilter,
            proxy_mode,
            base_url,
        } => {
            let cfg = Config {
                bind,
                port,
                database_url,
                master_password,
                list_db,
                dbfilter,
                proxy_mode,
                base_url,
            };
            let server = odoo_sim::serve(cfg).await?;
            tracing::info!("odoo-sim listening on {}", server.url());
            tokio::signal::ctrl_c().await?;
            server.stop().await;
        }
        Cmd::InitTemplate {
            name,
            database_url,
            catalogue,
            login,
            password,
            lang,
            country_code,
            base_url,
        } => {
            let opts = TemplateOptions {
                catalogue,
                login,
                password,
                lang,
                country_code,
                base_url,
                ..TemplateOptions::default()
            };
            odoo_sim::init_template(&database_url, &name, &opts).await?;
            tracing::info!("created template database {name}");
        }
        Cmd::EnsureRole { name, admin_url } => {
            odoo_sim::ensure_role(&admin_url, &name).await?;
            tracing::info!("role {name} is ready");
        }
    }
    Ok(())
}
