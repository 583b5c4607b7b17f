//! Typed Odoo JSON-RPC client (Odoo 16–19) for native (reqwest) and wasm32 (fetch).
//!
//! - [`wire`]: the JSON-RPC envelope and route parameter types, and the response decoder.
//! - [`error`]: [`OdooError`] (classified Odoo exceptions) and [`RpcError`] (a whole call).
//! - [`transport`]: the [`Transport`] adapter; [`ReqwestTransport`] (feature `reqwest`, native)
//!   and `FetchTransport` (feature `fetch`, wasm32).
//! - [`Client`]: `common`, `object` (`execute_kw` + ORM helpers via [`Object`]) and `db` calls.
//! - [`WebSession`]: `/web/session/authenticate` + `/web/dataset/call_kw` with `session_id`.
//! - [`pos`]: POS data load, order push, session open/close per Odoo version.
//!
//! Features: `reqwest` (default; native only, ignored on wasm32) and `fetch` (wasm32 only).
//! On native targets every future returned by the client is `Send`.
//!
//! ```no_run
//! # #[cfg(all(feature = "reqwest", not(target_arch = "wasm32")))]
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use odoo_rpc::{Client, KwCaller, OdooVersion, PosOrder, PosOrderLine, PosPayment, ReqwestTransport, WebSession};
//!
//! let client = Client::new(ReqwestTransport::new("http://127.0.0.1:8069")?).with_host("acme.localhost");
//! let version = client.version().await?.odoo_version().unwrap_or(OdooVersion::V18);
//! let uid = client.authenticate("acme", "admin", "admin").await?.ok_or("bad credentials")?;
//! client.install_modules("acme", uid, "admin", &["point_of_sale"]).await?;
//!
//! let ws = WebSession::new(client);
//! ws.session_authenticate("acme", "admin", "admin").await?;
//! let pos = ws.pos(version);
//! let session_id = pos.open_session(1, 0.0, "").await?;
//! let order = PosOrder::new("11111111-2222-4333-8444-555555555555", session_id)
//!     .line(PosOrderLine::new(2, 1.0, 10.0))
//!     .payment(PosPayment::new(1, 10.0))
//!     .computed_amounts()
//!     .date_order("2026-11-25 11:59:41");
//! let pushed = pos.push_orders(std::slice::from_ref(&order)).await?;
//! assert!(pushed.is_synced(&order.uuid));
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod client;
pub mod error;
pub mod pos;
pub mod session;
pub mod transport;
pub mod version;
pub mod wire;

pub use client::{is_read_method, Client, Object, Record, RetryPolicy, SearchOptions};
pub use error::{ErrorPayload, OdooError, RpcError, TransportError, TransportErrorKind};
pub use pos::{
    ClosingResult, Pos, PosOrder, PosOrderLine, PosOrderState, PosPayment, PushResult, SyncedOrder,
};
pub use session::{AllowedCompany, KwCaller, SessionInfo, UserCompanies, WebSession};
pub use transport::{HttpRequest, HttpResponse, MaybeSend, MaybeSync, Transport};
pub use version::{OdooVersion, VersionInfo};

#[cfg(all(feature = "fetch", target_arch = "wasm32"))]
pub use transport::FetchTransport;
#[cfg(all(feature = "reqwest", not(target_arch = "wasm32")))]
pub use transport::{ReqwestTransport, ReqwestTransportBuilder};
