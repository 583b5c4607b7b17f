//! Conformance suite of `odoo-rpc` against `odoo-sim` (the tests live in `tests/`).
//!
//! This library holds the shared harness:
//! - [`shared_sim`]: one in-process simulator per test binary, served from a runtime on its
//!   own thread so that every `#[tokio::test]` (each with its own runtime) can use it;
//! - [`TestDb`]: a fresh, uniquely named database per test, dropped on `Drop` (also when the
//!   test panics), plus [`cleanup_stale`] for `conf_test_%` leftovers older than an hour;
//! - [`RecordingTransport`]: wraps [`ReqwestTransport`] and keeps every raw request and
//!   response body so tests check the bytes on the wire as well as the parsed values;
//! - [`raw_post`]: plain reqwest for requests the typed client cannot (or must not) send;
//! - [`fake_server`]: a tiny TCP server answering fixed bytes, to feed the client garbage;
//! - shape assertions for Odoo's JSON-RPC envelopes.

use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};

use odoo_rpc::{
    Client, HttpRequest, HttpResponse, MaybeSend, ReqwestTransport, Transport, TransportError,
};
use odoo_sim::{Catalogue, Config, TemplateOptions};
use serde_json::Value;

/// Maintenance database URL (env `DATABASE_URL` overrides).
pub fn pg_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The URL the simulators connect with: their own role (`odoo_sim::SIM_ROLE`, created on
/// first use), since Odoo refuses to run as `postgres` and only sees what its role owns.
pub fn sim_pg_url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let admin = pg_url();
        let role = odoo_sim::SIM_ROLE;
        let (tx, rx) = std::sync::mpsc::channel();
        run_blocking(async move {
            let _ = tx.send(
                odoo_sim::role_url(&admin, role)
                    .await
                    .map_err(|e| e.to_string()),
            );
        });
        rx.recv()
            .expect("role creation ran")
            .expect("the simulator's role")
    })
    .clone()
}

/// Master password of the simulators started here.
pub const MASTER: &str = "masterpw";

/// Prefix of every database this suite creates.
pub const DB_PREFIX: &str = "conf_test_";

/// A unique database name `conf_test_<12 hex>`.
pub fn unique_db() -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    format!("{DB_PREFIX}{}", &u[..12])
}

/// A simulator served from a dedicated thread and runtime (it outlives every test runtime).
#[derive(Debug, Clone)]
pub struct SimServer {
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub url: String,
}

impl SimServer {
    /// Starts a simulator with `cfg` on its own thread; it runs until the process exits.
    pub fn start_background(cfg: Config) -> SimServer {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("odoo-sim".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("sim runtime");
                rt.block_on(async move {
                    let server = odoo_sim::serve(cfg).await.expect("start odoo-sim");
                    tx.send(server.url()).expect("send url");
                    std::future::pending::<()>().await;
                    drop(server);
                });
            })
            .expect("sim thread");
        let url = rx.recv().expect("sim url");
        SimServer { url }
    }
}

/// The simulator config this suite uses: master `masterpw`, dbfilter `^%d$`, list_db on.
pub fn sim_config() -> Config {
    let mut cfg = Config::new(&sim_pg_url());
    cfg.master_password = MASTER.into();
    cfg
}

/// The simulator shared by all tests of one test binary (started on first use).
pub fn shared_sim() -> &'static SimServer {
    static SIM: OnceLock<SimServer> = OnceLock::new();
    SIM.get_or_init(|| {
        cleanup_stale_blocking();
        SimServer::start_background(sim_config())
    })
}

fn run_blocking<F: Future<Output = ()> + Send + 'static>(f: F) {
    // A fresh runtime on a fresh thread: usable from Drop inside or outside a runtime.
    let h = std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            rt.block_on(f);
        }
    });
    let _ = h.join();
}

async fn maintenance() -> Option<sqlx::PgConnection> {
    use sqlx::ConnectOptions;
    let opts: sqlx::postgres::PgConnectOptions = pg_url().parse().ok()?;
    opts.connect().await.ok()
}

/// Drops a database, terminating its connections first.
pub async fn drop_database(name: &str) {
    use sqlx::Connection;
    if let Some(mut c) = maintenance().await {
        let _ = sqlx::query(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            name.replace('"', "\"\"")
        ))
        .execute(&mut c)
        .await;
        let _ = c.close().await;
    }
}

/// Whether PostgreSQL has a database of that name.
pub async fn pg_has_database(name: &str) -> bool {
    use sqlx::Connection;
    let Some(mut c) = maintenance().await else {
        return false;
    };
    let row: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&mut c)
        .await
        .unwrap_or(None);
    let _ = c.close().await;
    row.is_some()
}

/// Drops `conf_test_%` databases older than an hour (left behind by killed runs).
pub async fn cleanup_stale() {
    use sqlx::Connection;
    let Some(mut c) = maintenance().await else {
        return;
    };
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'conf\\_test\\_%' \
         AND (pg_stat_file('base/' || oid || '/PG_VERSION')).modification < now() - interval '1 hour'",
    )
    .fetch_all(&mut c)
    .await
    .unwrap_or_default();
    let _ = c.close().await;
    for (name,) in rows {
        drop_database(&name).await;
    }
}

fn cleanup_stale_blocking() {
    run_blocking(cleanup_stale());
}

/// A database that exists for one test and is dropped when this guard goes away.
#[derive(Debug)]
pub struct TestDb {
    /// Database name.
    pub name: String,
}

impl TestDb {
    /// Creates and seeds a fresh database with `catalogue` (admin/admin, uid 2).
    pub async fn new(catalogue: Catalogue) -> TestDb {
        let name = unique_db();
        let guard = TestDb { name };
        let opts = TemplateOptions {
            catalogue,
            ..TemplateOptions::default()
        };
        odoo_sim::init_template(&sim_pg_url(), &guard.name, &opts)
            .await
            .expect("init template");
        guard
    }

    /// A guard for a database someone else creates (e.g. through `db.create_database`).
    pub fn adopt(name: impl Into<String>) -> TestDb {
        TestDb { name: name.into() }
    }

    /// Host header selecting this database through dbfilter `^%d$`.
    pub fn host(&self) -> String {
        format!("{}.localhost", self.name)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        run_blocking(async move { drop_database(&name).await });
    }
}

/// One request/response pair seen by a [`RecordingTransport`].
#[derive(Debug, Clone)]
pub struct Exchange {
    /// What the client sent.
    pub request: HttpRequest,
    /// What came back (`None` on a transport error).
    pub response: Option<HttpResponse>,
}

impl Exchange {
    /// The request body as JSON.
    pub fn request_json(&self) -> Value {
        serde_json::from_slice(&self.request.body).expect("request body is JSON")
    }

    /// The response body as JSON.
    pub fn response_json(&self) -> Value {
        let r = self.response.as_ref().expect("a response");
        serde_json::from_slice(&r.body).unwrap_or_else(|e| {
            panic!(
                "response body is not JSON ({e}): {}",
                String::from_utf8_lossy(&r.body)
            )
        })
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.response.as_ref().map_or(0, |r| r.status)
    }
}

/// A [`Transport`] that forwards to an inner one and records every exchange.
#[derive(Debug, Clone)]
pub struct RecordingTransport<T> {
    inner: T,
    log: Arc<Mutex<Vec<Exchange>>>,
}

impl<T> RecordingTransport<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        RecordingTransport {
            inner,
            log: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// All exchanges so far.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The last exchange (panics if there is none).
    pub fn last(&self) -> Exchange {
        self.exchanges().pop().expect("no exchange recorded")
    }

    /// Number of exchanges so far.
    pub fn len(&self) -> usize {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True when nothing was sent yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets the exchanges so far.
    pub fn clear(&self) {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl<T: Transport + Clone + 'static> Transport for RecordingTransport<T> {
    fn post(
        &self,
        req: HttpRequest,
    ) -> impl Future<Output = Result<HttpResponse, TransportError>> + MaybeSend {
        let inner = self.inner.clone();
        let log = self.log.clone();
        async move {
            let res = inner.post(req.clone()).await;
            log.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Exchange {
                    request: req,
                    response: res.as_ref().ok().cloned(),
                });
            res
        }
    }
}

/// The transport type of [`client`].
pub type Rec = RecordingTransport<ReqwestTransport>;

/// A client for `url` without retries, recording every exchange.
pub fn client(url: &str) -> (Client<Rec>, Rec) {
    let rec = RecordingTransport::new(ReqwestTransport::new(url).expect("transport"));
    let c = Client::new(rec.clone()).with_retry(odoo_rpc::RetryPolicy::none());
    (c, rec)
}

/// A client for `url` sending `Host: host`, recording every exchange.
pub fn client_with_host(url: &str, host: &str) -> (Client<Rec>, Rec) {
    let (c, rec) = client(url);
    (c.with_host(host), rec)
}

/// A raw HTTP answer.
#[derive(Debug)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The body as JSON (panics with the body text if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    /// The body as (lossy) text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

/// POSTs `body` to `url` + `path` with plain reqwest (Content-Type `application/json`
/// unless `headers` sets one).
pub async fn raw_post(
    url: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> RawResponse {
    let client = reqwest::Client::new();
    let mut rb = client.post(format!("{url}{path}")).body(body);
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        rb = rb.header("Content-Type", "application/json");
    }
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    let r = rb.send().await.expect("raw request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.bytes().await.expect("raw body").to_vec();
    RawResponse {
        status,
        headers,
        body,
    }
}

/// POSTs a JSON value with plain reqwest.
pub async fn raw_json(
    url: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> RawResponse {
    raw_post(url, path, headers, serde_json::to_vec(body).expect("json")).await
}

/// Asserts a success envelope `{"jsonrpc":"2.0","id":<id>,"result":...}` (exactly these keys,
/// `result` may be absent for `None`) and returns the result.
pub fn assert_ok_envelope(v: &Value, id: &Value) -> Value {
    let o = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"));
    assert_eq!(
        o.get("jsonrpc"),
        Some(&Value::from("2.0")),
        "jsonrpc in {v}"
    );
    assert_eq!(o.get("id"), Some(id), "id in {v}");
    assert!(o.get("error").is_none(), "unexpected error: {v}");
    for k in o.keys() {
        assert!(
            matches!(k.as_str(), "jsonrpc" | "id" | "result"),
            "unexpected key {k} in {v}"
        );
    }
    o.get("result").cloned().unwrap_or(Value::Null)
}

/// Asserts Odoo's error envelope: keys `jsonrpc`, `id`, `error{code,message,data{name,debug,
/// message,arguments,context}}`, with the given code, `data.name` and `data.message`.
/// `id` is checked when given. Returns the `error` object.
pub fn assert_error_envelope(
    v: &Value,
    id: Option<&Value>,
    code: i64,
    name: &str,
    message: &str,
) -> Value {
    let o = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"));
    assert_eq!(
        o.get("jsonrpc"),
        Some(&Value::from("2.0")),
        "jsonrpc in {v}"
    );
    assert!(o.contains_key("id"), "id missing in {v}");
    if let Some(id) = id {
        assert_eq!(o.get("id"), Some(id), "id in {v}");
    }
    assert!(o.get("result").is_none(), "result next to error: {v}");
    let e = &o["error"];
    assert_eq!(e["code"], Value::from(code), "error.code in {v}");
    let envelope_msg = match code {
        100 => "Odoo Session Expired",
        404 => "404: Not Found",
        _ => "Odoo Server Error",
    };
    assert_eq!(
        e["message"],
        Value::from(envelope_msg),
        "error.message in {v}"
    );
    let d = e["data"]
        .as_object()
        .unwrap_or_else(|| panic!("error.data is not an object: {v}"));
    for k in ["name", "debug", "message", "arguments", "context"] {
        assert!(d.contains_key(k), "error.data.{k} missing in {v}");
    }
    assert_eq!(d["name"], Value::from(name), "error.data.name in {v}");
    assert_eq!(
        d["message"],
        Value::from(message),
        "error.data.message in {v}"
    );
    assert!(d["arguments"].is_array(), "arguments not a list: {v}");
    assert!(d["context"].is_object(), "context not an object: {v}");
    let debug = d["debug"].as_str().unwrap_or_else(|| panic!("debug: {v}"));
    assert!(
        debug.starts_with("Traceback (most recent call last):"),
        "debug is not a traceback: {debug}"
    );
    e.clone()
}

/// Asserts a typed error payload matches the raw one (code, name, message, arguments, context, debug).
pub fn assert_payload_matches(err: &odoo_rpc::OdooError, raw_error: &Value) {
    let p = err.payload();
    assert_eq!(Value::from(p.code), raw_error["code"]);
    assert_eq!(
        Value::from(p.envelope_message.clone()),
        raw_error["message"]
    );
    assert_eq!(Value::from(p.name.clone()), raw_error["data"]["name"]);
    assert_eq!(Value::from(p.message.clone()), raw_error["data"]["message"]);
    assert_eq!(
        Value::from(p.arguments.clone()),
        raw_error["data"]["arguments"]
    );
    assert_eq!(p.context, raw_error["data"]["context"]);
    assert_eq!(Value::from(p.debug.clone()), raw_error["data"]["debug"]);
}

/// A local TCP server answering every connection with `response` (raw HTTP bytes), after
/// reading the request head. Returns its base URL; it lives until the runtime ends.
pub async fn fake_server(response: Vec<u8>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind fake server");
    let addr = listener.local_addr().expect("addr");
    let response = Arc::new(response);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let response = response.clone();
            tokio::spawn(async move {
                // Read until the end of the headers and the declared body (best effort).
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                    if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..pos]).to_ascii_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if buf.len() >= pos + 4 + len {
                            break;
                        }
                    }
                }
                let _ = sock.write_all(&response).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

/// Raw HTTP/1.1 response bytes with the given status line, content type and body.
pub fn http_response(status: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// Shorthand for the typed Odoo error of a result (panics on success or other errors).
pub fn odoo_err<T: std::fmt::Debug>(r: Result<T, odoo_rpc::RpcError>) -> odoo_rpc::OdooError {
    match r {
        Err(odoo_rpc::RpcError::Odoo(e)) => e,
        other => panic!("expected an Odoo error, got {other:?}"),
    }
}

/// The default catalogue of the simulator's `demo` databases, re-exported for tests.
pub use odoo_sim::Catalogue as SimCatalogue;
