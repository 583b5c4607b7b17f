//! Native transport on reqwest (rustls).

use std::time::Duration;

use reqwest::header::{HeaderValue, CONTENT_TYPE, COOKIE, HOST, SET_COOKIE};

use super::{HttpRequest, HttpResponse, MaybeSend, Transport};
use crate::error::{TransportError, TransportErrorKind};

/// Native HTTP transport on a shared `reqwest::Client` (cheap to clone).
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
    base_url: String,
}

/// Builder for [`ReqwestTransport`] (timeouts, cookie store, user agent).
#[derive(Debug, Clone)]
pub struct ReqwestTransportBuilder {
    base_url: String,
    connect_timeout: Duration,
    timeout: Duration,
    cookie_store: bool,
    user_agent: String,
}

impl ReqwestTransportBuilder {
    /// Connection timeout (default 10 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Whole-request timeout (default 300 s: `create_database` and module installs take minutes).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// Enables reqwest's automatic cookie store (default off: [`crate::WebSession`] sends
    /// `session_id` itself, which stays correct when one server serves many Hosts).
    pub fn cookie_store(mut self, on: bool) -> Self {
        self.cookie_store = on;
        self
    }

    /// User-Agent header value.
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// Builds the transport.
    pub fn build(self) -> Result<ReqwestTransport, TransportError> {
        let client = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .cookie_store(self.cookie_store)
            .user_agent(self.user_agent)
            .build()
            .map_err(|e| TransportError::new(TransportErrorKind::Other, e.to_string()))?;
        Ok(ReqwestTransport::with_client(client, self.base_url))
    }
}

impl ReqwestTransport {
    /// A builder for a server at `base_url` (e.g. `http://127.0.0.1:8069`).
    pub fn builder(base_url: impl Into<String>) -> ReqwestTransportBuilder {
        ReqwestTransportBuilder {
            base_url: base_url.into(),
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(300),
            cookie_store: false,
            user_agent: concat!("odoo-rpc/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }

    /// A transport with default settings.
    pub fn new(base_url: impl Into<String>) -> Result<Self, TransportError> {
        Self::builder(base_url).build()
    }

    /// Wraps an existing reqwest client.
    pub fn with_client(client: reqwest::Client, base_url: impl Into<String>) -> Self {
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        ReqwestTransport { client, base_url }
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

fn map_err(e: reqwest::Error) -> TransportError {
    let kind = if e.is_timeout() {
        TransportErrorKind::Timeout
    } else if e.is_connect() {
        TransportErrorKind::Connect
    } else {
        TransportErrorKind::Other
    };
    TransportError::new(kind, e.to_string())
}

fn header(v: &str, what: &str) -> Result<HeaderValue, TransportError> {
    HeaderValue::from_str(v).map_err(|_| {
        TransportError::new(
            TransportErrorKind::Other,
            format!("invalid {what} header value"),
        )
    })
}

impl Transport for ReqwestTransport {
    fn post(
        &self,
        req: HttpRequest,
    ) -> impl std::future::Future<Output = Result<HttpResponse, TransportError>> + MaybeSend {
        let url = format!("{}{}", self.base_url, req.path);
        let client = self.client.clone();
        async move {
            let mut rb = client
                .post(url)
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(req.body);
            if let Some(host) = req.host.as_deref() {
                rb = rb.header(HOST, header(host, "Host")?);
            }
            if let Some(cookie) = req.cookie.as_deref() {
                rb = rb.header(COOKIE, header(cookie, "Cookie")?);
            }
            let resp = rb.send().await.map_err(map_err)?;
            let status = resp.status().as_u16();
            let set_cookies = resp
                .headers()
                .get_all(SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok().map(str::to_owned))
                .collect();
            let body = resp.bytes().await.map_err(map_err)?.to_vec();
            Ok(HttpResponse {
                status,
                body,
                set_cookies,
            })
        }
    }

    fn sleep(&self, delay: Duration) -> impl std::future::Future<Output = ()> + MaybeSend {
        tokio::time::sleep(delay)
    }
}
