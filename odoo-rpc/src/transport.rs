//! The thin HTTP adapter the [`crate::Client`] talks through.

use std::future::Future;
use std::time::Duration;

use crate::error::TransportError;

#[cfg(all(feature = "reqwest", not(target_arch = "wasm32")))]
mod reqwest_impl;
#[cfg(all(feature = "reqwest", not(target_arch = "wasm32")))]
pub use reqwest_impl::{ReqwestTransport, ReqwestTransportBuilder};

#[cfg(all(feature = "fetch", target_arch = "wasm32"))]
mod fetch_impl;
#[cfg(all(feature = "fetch", target_arch = "wasm32"))]
pub use fetch_impl::FetchTransport;

/// `Send` on native targets, nothing on wasm32 (where futures hold JS values).
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSend: Send {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + ?Sized> MaybeSend for T {}
/// `Send` on native targets, nothing on wasm32 (where futures hold JS values).
#[cfg(target_arch = "wasm32")]
pub trait MaybeSend {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSend for T {}

/// `Sync` on native targets, nothing on wasm32.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSync: Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Sync + ?Sized> MaybeSync for T {}
/// `Sync` on native targets, nothing on wasm32.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSync {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSync for T {}

/// One POST of a JSON body to a path of the Odoo server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Path, e.g. `/jsonrpc`; the transport prefixes its base URL.
    pub path: String,
    /// JSON body (sent with `Content-Type: application/json`).
    pub body: Vec<u8>,
    /// Host header override (Odoo picks the database from Host with dbfilter `^%d$`).
    /// Browsers forbid setting it, so [`FetchTransport`](crate::transport) ignores it.
    pub host: Option<String>,
    /// `Cookie` header value to send, e.g. `session_id=...` (ignored by fetch: the browser owns cookies).
    pub cookie: Option<String>,
    /// Whether the call may safely be repeated (the client retries only these).
    pub idempotent: bool,
}

/// The HTTP answer as the client needs it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpResponse {
    /// HTTP status code.
    pub status: u16,
    /// Raw body bytes.
    pub body: Vec<u8>,
    /// Raw `Set-Cookie` header values (empty on fetch, where cookies are HttpOnly).
    pub set_cookies: Vec<String>,
}

impl HttpResponse {
    /// The value of the `session_id` cookie set by this response, if any.
    pub fn session_id(&self) -> Option<String> {
        self.set_cookies
            .iter()
            .find_map(|c| parse_set_cookie(c, "session_id"))
    }
}

/// Extracts the value of cookie `name` from one `Set-Cookie` header value.
pub fn parse_set_cookie(header: &str, name: &str) -> Option<String> {
    let first = header.split(';').next()?;
    let (k, v) = first.split_once('=')?;
    if k.trim() == name {
        Some(v.trim().to_owned())
    } else {
        None
    }
}

/// A way to POST JSON to an Odoo server: reqwest on native, fetch in the browser, a mock in tests.
///
/// On native targets the futures must be `Send` (the server calls the client
/// from `tokio::spawn` and axum handlers); on wasm32 they need not be.
pub trait Transport: MaybeSend + MaybeSync {
    /// Sends one request and returns status, body and `Set-Cookie` values; only network failures are errors.
    fn post(
        &self,
        req: HttpRequest,
    ) -> impl Future<Output = Result<HttpResponse, TransportError>> + MaybeSend;

    /// Waits before a retry; the default does not wait.
    fn sleep(&self, _delay: Duration) -> impl Future<Output = ()> + MaybeSend {
        std::future::ready(())
    }
}

impl<T: Transport + ?Sized> Transport for std::sync::Arc<T> {
    fn post(
        &self,
        req: HttpRequest,
    ) -> impl Future<Output = Result<HttpResponse, TransportError>> + MaybeSend {
        (**self).post(req)
    }

    fn sleep(&self, delay: Duration) -> impl Future<Output = ()> + MaybeSend {
        (**self).sleep(delay)
    }
}
