//! Command line: `server [serve|worker|migrate|create-api-token NAME|list-api-tokens|
//! revoke-api-token NAME|create-superadmin|build-template PLAN]`.

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
    /// Queue a (re)build of a plan's template database (run by the workers).
    BuildTemplate {
        /// The plan's key.
        plan: String,
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
                let created =
                    crate::admin::auth::create_superadmin(&pool, &email, &password, reset_password)
                        .await?;
                tracing::info!(
                    %email,
                    "{}",
                    if created { "superadmin created" } else { "superadmin password reset; their sessions are ended" }
                );
            }
            pool.close().await;
            Ok(())
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
    let app = web::router(platform);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown::signal())
        .await
        .context("serving HTTP")?;
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
