//! Command line: `server [serve|worker|migrate|create-api-token NAME|list-api-tokens|
//! revoke-api-token NAME|create-superadmin|disable-superadmin|enable-superadmin|
//! build-template PLAN|repair-db-owners]`.

use crate::config::{redacted_database_url, Config};
use crate::platform::Platform;
use crate::{db, jobs, observability, shutdown, web};
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
    /// Run job workers only (to scale out), until SIGTERM.
    Worker,
    /// Create a superadmin API token and print it once.
    CreateApiToken {
        /// A name for the token (who uses it), shown in the audit log.
        name: String,
    },
    /// List the API tokens (names and dates; the secrets are not stored).
    ListApiTokens,
    /// Revoke an API token: requests carrying it are refused from now on.
    RevokeApiToken {
        /// The token's name.
        name: String,
    },
    /// Create a superadmin of the operations portal (`/admin`). The password is read from
    /// SUPERADMIN_PASSWORD, else from the first line of standard input.
    CreateSuperadmin {
        /// The superadmin's email (their sign-in name).
        #[arg(long)]
        email: String,
        /// Set a new password if the account exists (ends its sessions).
        #[arg(long)]
        reset_password: bool,
        /// Do nothing if any superadmin exists; otherwise create this one with a random
        /// password printed once on stdout (local quick start).
        #[arg(long, conflicts_with = "reset_password")]
        if_none: bool,
    },
    /// Disable a superadmin: their sessions end and they cannot sign in (a password reset
    /// does not enable them again).
    DisableSuperadmin {
        /// The superadmin's email.
        #[arg(long)]
        email: String,
    },
    /// Enable a disabled superadmin again.
    EnableSuperadmin {
        /// The superadmin's email.
        #[arg(long)]
        email: String,
    },
    /// Queue a (re)build of a plan's template database (run by the workers).
    BuildTemplate {
        /// The plan's key.
        plan: String,
    },
    /// Queue the job that gives every tenant and warm-pool database to Odoo's role
    /// (ODOO_DB_ROLE, else each template's owner): Odoo serves only the databases its own
    /// role owns. Run after changing ODOO_DB_ROLE; migration 0007 queued it once already.
    RepairDbOwners,
    /// Print a static configuration for a local Traefik that routes every host through
    /// this server's route table (the local topology of scripts/run.sh). Reads
    /// INTERNAL_BIND_ADDR and TRAEFIK_CONFIG_SECRET like `serve`.
    TraefikConfig {
        /// Address of the `web` entry point, e.g. 127.0.0.1:8000.
        #[arg(long)]
        web: std::net::SocketAddr,
        /// Address of the `traefik` entry point (/ping, /metrics, /api), e.g. 127.0.0.1:8001.
        #[arg(long)]
        admin: std::net::SocketAddr,
        /// Access log file (JSON lines); standard output when absent.
        #[arg(long)]
        access_log: Option<std::path::PathBuf>,
    },
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
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
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
        Command::TraefikConfig {
            web,
            admin,
            access_log,
        } => print_traefik_config(&config, web, admin, access_log),
        Command::Worker => worker(config, database).await,
        Command::CreateApiToken { name } => {
            let pool = db::prepare(&config.database_url, 2)
                .await
                .with_context(|| format!("preparing {database}"))?;
            let token = crate::auth::create_token(&pool, &name).await?;
            print_token(&name, &token);
            pool.close().await;
            Ok(())
        }
        Command::ListApiTokens => {
            let pool = db::prepare(&config.database_url, 2)
                .await
                .with_context(|| format!("preparing {database}"))?;
            print_tokens(&crate::auth::list_tokens(&pool).await?);
            pool.close().await;
            Ok(())
        }
        Command::RevokeApiToken { name } => {
            let pool = db::prepare(&config.database_url, 2)
                .await
                .with_context(|| format!("preparing {database}"))?;
            crate::auth::revoke_token(&pool, &name).await?;
            tracing::info!(%name, "API token revoked");
            pool.close().await;
            Ok(())
        }
        Command::CreateSuperadmin {
            email,
            reset_password,
            if_none,
        } => {
            let pool = db::prepare(&config.database_url, 2)
                .await
                .with_context(|| format!("preparing {database}"))?;
            if if_none {
                if crate::admin::auth::any_superadmin(&pool).await? {
                    tracing::info!("a superadmin exists; nothing to do");
                } else {
                    let password = generate_password();
                    crate::admin::auth::create_superadmin(&pool, &email, &password, false).await?;
                    print_credentials(&email, &password);
                }
            } else {
                let password = read_password()?;
                let change =
                    crate::admin::auth::create_superadmin(&pool, &email, &password, reset_password)
                        .await?;
                use crate::admin::auth::SuperadminChange;
                match change {
                    SuperadminChange::Created => tracing::info!(%email, "superadmin created"),
                    SuperadminChange::PasswordReset { disabled: false } => tracing::info!(
                        %email,
                        "superadmin password reset; their sessions and sign-in delay are ended"
                    ),
                    SuperadminChange::PasswordReset { disabled: true } => tracing::warn!(
                        %email,
                        "superadmin password reset, but the account is disabled: enable it with `server enable-superadmin --email {email}`"
                    ),
                }
            }
            pool.close().await;
            Ok(())
        }
        Command::DisableSuperadmin { email } => {
            set_superadmin_disabled(&config, &database, &email, true).await
        }
        Command::EnableSuperadmin { email } => {
            set_superadmin_disabled(&config, &database, &email, false).await
        }
        Command::BuildTemplate { plan } => {
            let pool = db::prepare(&config.database_url, 2)
                .await
                .with_context(|| format!("preparing {database}"))?;
            let platform = Platform::new(Arc::new(config), pool.clone())?;
            let found = crate::plans::get_by_key(&platform, &plan)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .ok_or_else(|| anyhow::anyhow!("there is no plan '{plan}'"))?;
            let job =
                crate::plans::build_template(&platform, &crate::audit::Actor::system(), found.id)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            tracing::info!(%plan, job_id = %job, "template build queued; workers will run it");
            pool.close().await;
            Ok(())
        }
        Command::RepairDbOwners => {
            let pool = db::prepare(&config.database_url, 2)
                .await
                .with_context(|| format!("preparing {database}"))?;
            let job = crate::tenants::lifecycle::enqueue_owner_repair(&pool).await?;
            tracing::info!(job_id = %job, "database owner repair queued; workers will run it");
            pool.close().await;
            Ok(())
        }
    }
}

fn read_password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("SUPERADMIN_PASSWORD") {
        return Ok(password);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(
        !password.is_empty(),
        "no password: set SUPERADMIN_PASSWORD or pipe it on standard input"
    );
    Ok(password)
}

fn generate_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

#[allow(clippy::print_stdout)]
fn print_credentials(email: &str, password: &str) {
    // Shown once, to the person starting the platform: only its argon2 hash is stored.
    println!("Superadmin created for the operations portal (/admin):");
    println!("  email:    {email}");
    println!("  password: {password}");
    println!("Change it with: server create-superadmin --email {email} --reset-password");
}

#[allow(clippy::print_stdout)]
fn print_token(name: &str, token: &secrecy::SecretString) {
    use secrecy::ExposeSecret;
    // The only time the token is shown: it is stored as a hash.
    println!("{}", token.expose_secret());
    tracing::info!(%name, "API token created; it is printed once on stdout and cannot be shown again");
}

#[allow(clippy::print_stdout)]
fn print_tokens(tokens: &[crate::auth::TokenInfo]) {
    let day = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or_else(
            || "-".to_owned(),
            |t| t.format("%Y-%m-%d %H:%M").to_string(),
        )
    };
    println!(
        "{:<32} {:<16} {:<16} {:<16}",
        "NAME", "CREATED", "LAST USED", "REVOKED"
    );
    for t in tokens {
        println!(
            "{:<32} {:<16} {:<16} {:<16}",
            t.name,
            day(Some(t.created_at)),
            day(t.last_used_at),
            day(t.revoked_at)
        );
    }
}

async fn set_superadmin_disabled(
    config: &Config,
    database: &str,
    email: &str,
    disable: bool,
) -> anyhow::Result<()> {
    let pool = db::prepare(&config.database_url, 2)
        .await
        .with_context(|| format!("preparing {database}"))?;
    crate::admin::auth::set_superadmin_disabled(&pool, email, disable).await?;
    if disable {
        tracing::info!(%email, "superadmin disabled; their sessions are ended");
    } else {
        tracing::info!(%email, "superadmin enabled");
    }
    pool.close().await;
    Ok(())
}

#[allow(clippy::print_stdout)]
fn print_traefik_config(
    config: &Config,
    web: std::net::SocketAddr,
    admin: std::net::SocketAddr,
    access_log: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    use secrecy::ExposeSecret;
    let secret = config
        .routing
        .traefik_config_secret
        .as_ref()
        .context("TRAEFIK_CONFIG_SECRET is not set: Traefik could not read the route table")?;
    let local = crate::routing::traefik::LocalTraefik {
        web,
        websecure: None,
        admin,
        provider_url: crate::routing::traefik::LocalTraefik::provider_url_for(
            config.routing.internal_bind_addr,
        ),
        secret: secret.expose_secret().to_owned(),
        poll_interval_ms: crate::routing::traefik::POLL_INTERVAL_MS,
        access_log,
        acme: Vec::new(),
    };
    println!("{}", serde_json::to_string_pretty(&local.static_config())?);
    Ok(())
}

async fn worker(config: Config, database: String) -> anyhow::Result<()> {
    let pool = db::prepare(&config.database_url, config.db_max_connections)
        .await
        .with_context(|| format!("preparing {database}"))?;
    let platform = Platform::new(Arc::new(config), pool.clone())?;
    let settings = jobs::worker_config(&platform);
    jobs::run(platform, settings, shutdown::signal())
        .await
        .context("running job workers")?;
    pool.close().await;
    tracing::info!("workers stopped");
    Ok(())
}

/// Says at start-up whether the SMTP server answers. Not fatal: messages wait in the
/// outbox and are retried until it does, but a wrong setting shows at once in the log.
async fn check_smtp(platform: &Platform) {
    let timeout = std::time::Duration::from_secs(platform.config.mail.smtp_timeout_secs);
    match tokio::time::timeout(timeout, platform.mailer.check()).await {
        Ok(Ok(())) => tracing::info!(smtp = %platform.mailer.describe, "SMTP server answers"),
        Ok(Err(error)) => tracing::error!(
            %error,
            "the SMTP server does not answer: messages stay queued in the outbox until it does (check SMTP_HOST, SMTP_PORT, SMTP_TLS)"
        ),
        Err(_) => tracing::error!(
            smtp = %platform.mailer.describe,
            "the SMTP server did not answer in time: messages stay queued in the outbox until it does"
        ),
    }
}

async fn serve(config: Config, database: String) -> anyhow::Result<()> {
    let pool = db::prepare(&config.database_url, config.db_max_connections)
        .await
        .with_context(|| format!("preparing {database}"))?;
    match (&config.odoo_url, config.odoo_is_simulator) {
        (Some(url), true) => {
            tracing::warn!(%url, "using the bundled Odoo simulator (odoo-sim), not a real Odoo")
        }
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
    // One set of services (pools, hashing limit) shared by the web handlers and the workers.
    let platform = Platform::new(config.clone(), pool.clone())?;
    check_smtp(&platform).await;
    let (stop_workers, workers_stopped) = tokio::sync::oneshot::channel::<()>();
    let workers = if config.run_workers {
        let settings = jobs::worker_config(&platform);
        Some(tokio::spawn(jobs::run(
            platform.clone(),
            settings,
            async move {
                let _ = workers_stopped.await;
            },
        )))
    } else {
        tracing::info!("RUN_WORKERS=false: this process runs no jobs");
        None
    };
    // The route table for Traefik and the metrics, on their own listener that no public
    // route reaches.
    let address = config.routing.internal_bind_addr;
    let internal_listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("binding INTERNAL_BIND_ADDR {address}"))?;
    tracing::info!(%address, "metrics on http://{address}{}", crate::routing::METRICS_PATH);
    if config.routing.traefik_config_secret.is_some() {
        tracing::info!(%address, "route table for Traefik on http://{address}{}", crate::routing::CONFIG_PATH);
    } else {
        tracing::info!("TRAEFIK_CONFIG_SECRET is not set: no route table for Traefik");
    }
    let internal_app = crate::routing::endpoint::internal_router(platform.clone());
    let internal = tokio::spawn(async move {
        axum::serve(internal_listener, internal_app)
            .with_graceful_shutdown(shutdown::signal())
            .await
    });
    let app = web::router(platform);
    // Connection info: the client's address (sign-in throttling), see client_address.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown::signal())
    .await
    .context("serving HTTP")?;
    match internal.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::error!(%error, "the internal listener stopped with an error")
        }
        Err(error) => tracing::error!(%error, "the internal listener panicked"),
    }
    let _ = stop_workers.send(());
    if let Some(workers) = workers {
        match workers.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "job workers stopped with an error"),
            Err(error) => tracing::error!(%error, "job workers panicked"),
        }
    }
    pool.close().await;
    tracing::info!("stopped");
    Ok(())
}
