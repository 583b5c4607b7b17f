//! Typed Odoo JSON-RPC client (Odoo 16–19) for native (reqwest) and wasm32 (fetch).
//!
//! - [`wire`]: the JSON-RPC envelope and route parameter types, and the response decoder.
//! - [`error`]: [`OdooError`] (classified Odoo exceptions) and [`RpcError`] (a whole call).
//! - [`transport`]: the [`Transport`] adapter; [`ReqwestTransport`] (feature `reqwest`, native)
//!   and `FetchTransport` (feature `fetch`, wasm32).
//! - [`Client`]: `common`, `object` (`execute_kw` + ORM helpers via [`Object`]) and `db` calls.
//! - [`WebSession`]: `/web/session/authenticate` + `/web/dataset/call_kw` with `session_id`.
//! - [`pos`]: POS data load, order push, session open/close per Odoo version.

pub mod client;
pub mod error;
pub mod pos;
pub mod session;
pub mod transport;
pub mod version;
pub mod wire;

pub use client::{is_read_method, Client, Object, Record, RetryPolicy, SearchOptions};
pub use error::{ErrorPayload, OdooError, RpcError, TransportError, TransportErrorKind};
pub use pos::{ClosingResult, Pos, PosOrder, PosOrderLine, PosOrderState, PosPayment, PushResult, SyncedOrder};
pub use session::{AllowedCompany, KwCaller, SessionInfo, UserCompanies, WebSession};
pub use transport::{HttpRequest, HttpResponse, MaybeSend, MaybeSync, Transport};
pub use version::{OdooVersion, VersionInfo};

#[cfg(all(feature = "fetch", target_arch = "wasm32"))]
pub use transport::FetchTransport;
#[cfg(all(feature = "reqwest", not(target_arch = "wasm32")))]
pub use transport::{ReqwestTransport, ReqwestTransportBuilder};
