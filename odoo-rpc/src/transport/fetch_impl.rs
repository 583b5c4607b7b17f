//! Browser transport on `fetch` (wasm32 only).

use std::time::Duration;

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortSignal, Headers, Request, RequestCredentials, RequestInit, Response, Window,
    WorkerGlobalScope,
};

use super::{HttpRequest, HttpResponse, MaybeSend, Transport};
use crate::error::{TransportError, TransportErrorKind};

/// Browser transport using `fetch` with `credentials: "same-origin"`.
///
/// The browser owns cookies (Odoo's `session_id` is HttpOnly) and forbids
/// setting `Host` and `Cookie`, so [`HttpRequest::host`] and
/// [`HttpRequest::cookie`] are ignored here: serve the app from the tenant's
/// own origin (or proxy it) so the right database is chosen.
#[derive(Debug, Clone, Default)]
pub struct FetchTransport {
    base_url: String,
    timeout: Option<Duration>,
}

impl FetchTransport {
    /// A transport for `base_url` (`""` = same origin as the page).
    pub fn new(base_url: impl Into<String>) -> Self {
        FetchTransport {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            timeout: Some(Duration::from_secs(60)),
        }
    }

    /// Aborts requests after `timeout` (`None` = never); default 60 s.
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }
}

fn js_err(kind: TransportErrorKind, what: &str, e: JsValue) -> TransportError {
    let detail = e.as_string().or_else(|| {
        e.dyn_ref::<js_sys::Error>()
            .map(|err| String::from(err.message()))
    });
    TransportError::new(
        kind,
        format!("{what}: {}", detail.unwrap_or_else(|| format!("{e:?}"))),
    )
}

fn fetch(request: &Request) -> Result<Promise, TransportError> {
    let global = js_sys::global();
    if let Some(w) = global.dyn_ref::<Window>() {
        return Ok(w.fetch_with_request(request));
    }
    if let Some(w) = global.dyn_ref::<WorkerGlobalScope>() {
        return Ok(w.fetch_with_request(request));
    }
    Err(TransportError::new(
        TransportErrorKind::Other,
        "no window or worker scope for fetch",
    ))
}

async fn post_inner(
    base_url: String,
    timeout: Option<Duration>,
    req: HttpRequest,
) -> Result<HttpResponse, TransportError> {
    let other = |what: &'static str| move |e: JsValue| js_err(TransportErrorKind::Other, what, e);
    let headers = Headers::new().map_err(other("headers"))?;
    headers
        .set("Content-Type", "application/json")
        .map_err(other("headers"))?;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_credentials(RequestCredentials::SameOrigin);
    init.set_headers(&headers);
    let body = Uint8Array::from(req.body.as_slice());
    init.set_body(&body);
    if let Some(t) = timeout {
        let ms = u32::try_from(t.as_millis()).unwrap_or(u32::MAX);
        let signal = AbortSignal::timeout_with_u32(ms);
        init.set_signal(Some(&signal));
    }
    let url = format!("{base_url}{}", req.path);
    let request = Request::new_with_str_and_init(&url, &init).map_err(other("request"))?;
    let resp = JsFuture::from(fetch(&request)?).await.map_err(|e| {
        let is_timeout = js_sys::Reflect::get(&e, &JsValue::from_str("name"))
            .ok()
            .and_then(|n| n.as_string())
            .is_some_and(|n| n == "TimeoutError" || n == "AbortError");
        let kind = if is_timeout {
            TransportErrorKind::Timeout
        } else {
            TransportErrorKind::Connect
        };
        js_err(kind, "fetch", e)
    })?;
    let resp: Response = resp.dyn_into().map_err(other("response"))?;
    let status = resp.status();
    let buf = JsFuture::from(resp.array_buffer().map_err(other("body"))?)
        .await
        .map_err(other("body"))?;
    let body = Uint8Array::new(&buf).to_vec();
    Ok(HttpResponse {
        status,
        body,
        set_cookies: Vec::new(),
    })
}

impl Transport for FetchTransport {
    fn post(
        &self,
        req: HttpRequest,
    ) -> impl std::future::Future<Output = Result<HttpResponse, TransportError>> + MaybeSend {
        post_inner(self.base_url.clone(), self.timeout, req)
    }

    fn sleep(&self, delay: Duration) -> impl std::future::Future<Output = ()> + MaybeSend {
        let ms = i32::try_from(delay.as_millis()).unwrap_or(i32::MAX);
        async move {
            let promise = Promise::new(&mut |resolve, _reject| {
                let global = js_sys::global();
                if let Some(w) = global.dyn_ref::<Window>() {
                    let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
                } else if let Some(w) = global.dyn_ref::<WorkerGlobalScope>() {
                    let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
                } else {
                    let _ = resolve.call0(&JsValue::UNDEFINED);
                }
            });
            let _ = JsFuture::from(promise).await;
        }
    }
}
