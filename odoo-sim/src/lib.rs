//! `odoo-sim`: a test peer wire-compatible with Odoo 18's JSON-RPC, with its state
//! in PostgreSQL. See `README.md` in this crate for what is and is not simulated.
//!
//! In-process use (e.g. from integration tests):
//! ```no_run
//! # async fn f() -> anyhow::Result<()> {
//! let cfg = odoo_sim::Config::new("postgres://postgres@127.0.0.1:5432/postgres");
//! let server = odoo_sim::serve(cfg).await?; // binds 127.0.0.1:0
//! println!("{}", server.url());
//! # Ok(()) }
//! ```

pub mod error;
pub mod methods;
pub mod models;
pub mod orm;
pub mod pg;
pub mod pos;
pub mod pos_fields;
pub mod pos_load;
pub mod roles;
pub mod schema;
pub mod server;
pub mod session_keys;
pub mod template;
pub mod users;
pub mod web;

pub use roles::{ensure_role, role_url, SIM_ROLE};
pub use server::{router, serve, AppState, Config, RunningServer};
pub use template::{init_template, Catalogue, TemplateOptions};

use serde_json::{json, Value};

/// `release.version` of the simulated server.
pub const VERSION: &str = "18.0-20250702";

pub fn version_info() -> Value {
    json!([18, 0, 0, "final", 0, ""])
}

/// `common.version()` / `/web/webclient/version_info`.
pub fn version_value() -> Value {
    json!({
        "server_version": VERSION,
        "server_version_info": version_info(),
        "server_serie": "18.0",
        "protocol_version": 1,
    })
}
