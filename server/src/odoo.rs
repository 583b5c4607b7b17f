//! How the platform uses Odoo over JSON-RPC (the typed client is the `odoo-rpc` crate).

use odoo_rpc::{Client, ReqwestTransport, RetryPolicy};
use std::time::Duration;
use url::Url;

/// The client type the server uses.
pub type OdooClient = Client<ReqwestTransport>;

/// Why Odoo could not be used.
#[derive(Debug, thiserror::Error)]
pub enum OdooUseError {
    /// No Odoo URL configured.
    #[error("no Odoo is configured (set ODOO_URL or ODOO_ADMIN_URL)")]
    NotConfigured,
    /// The HTTP client could not be built.
    #[error("cannot build the Odoo HTTP client: {0}")]
    Client(String),
}

/// A client of the Odoo at `url`: short connect timeout, long call timeout (module
/// installs take a while on real Odoo), few quick retries of idempotent calls.
pub fn client(url: &Url) -> Result<OdooClient, OdooUseError> {
    let base = url.as_str().trim_end_matches('/').to_owned();
    let transport = ReqwestTransport::builder(base)
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(600))
        .build()
        .map_err(|e| OdooUseError::Client(e.to_string()))?;
    Ok(Client::new(transport).with_retry(RetryPolicy {
        max_retries: 1,
        base_delay: Duration::from_millis(200),
    }))
}
