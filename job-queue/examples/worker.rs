//! Workers in a process of their own: `DATABASE_URL=postgres://… cargo run -p job-queue
//! --example worker`. Runs `noop` and `sleep` (payload `{"ms": 500}`) jobs until Ctrl-C.

use std::time::Duration;

use job_queue::{handler_fn, run_workers, JobError, Registry, WorkerConfig};
use sqlx::postgres::PgPoolOptions;

#[derive(serde::Deserialize)]
struct Sleep {
    ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| anyhow::anyhow!("set DATABASE_URL to the platform database"))?;
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .connect(&url)
        .await?;
    sqlx::migrate!("../migrations").run(&pool).await?;

    let mut registry = Registry::new();
    registry.register("noop", handler_fn(|_| async { Ok(()) }));
    registry.register(
        "sleep",
        handler_fn(|ctx| async move {
            let Sleep { ms } = ctx.payload()?;
            ctx.progress(0, 1, "sleeping").await?;
            tokio::time::sleep(Duration::from_millis(ms)).await;
            if ctx.cancel_requested().await {
                return Err(JobError::Cancelled);
            }
            ctx.progress(1, 1, "slept").await?;
            Ok(())
        }),
    );
    run_workers(pool, registry, WorkerConfig::default(), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
