//! HTTP layer: Odoo's JSON routes, the `/jsonrpc` services, sessions and dbfilter.

use crate::error::{OResult, OdooError};
use crate::methods;
use crate::orm::Env;
use crate::pg::Pools;
use crate::template::{self, TemplateOptions};
use crate::users;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Werkzeug/Odoo default max request size (`DEFAULT_MAX_CONTENT_LENGTH`, 128 MiB).
pub const MAX_BODY: usize = 128 * 1024 * 1024;
pub(crate) const SESSION_LIFETIME: i64 = 604_800;

#[derive(Debug, Clone)]
pub struct Config {
    pub bind: String,
    pub port: u16,
    pub database_url: String,
    pub master_password: String,
    pub list_db: bool,
    /// Odoo `dbfilter` (`%d`, `%h` placeholders); empty = no filter.
    pub dbfilter: String,
    /// Honour `X-Forwarded-Host` for the Host used by dbfilter (Odoo `proxy_mode`).
    pub proxy_mode: bool,
    /// `web.base.url` written into new databases.
    pub base_url: Option<String>,
}

impl Config {
    /// Defaults like Odoo's: master password `admin`, list_db on, dbfilter `^%d$`,
    /// bound to 127.0.0.1 on an ephemeral port.
    pub fn new(database_url: &str) -> Self {
        Config {
            bind: "127.0.0.1".into(),
            port: 0,
            database_url: database_url.into(),
            master_password: "admin".into(),
            list_db: true,
            dbfilter: "^%d$".into(),
            proxy_mode: true,
            base_url: None,
        }
    }
}

/// (database, uid, sha256 of the password) → the stored hash it verified against.
type CredKey = (String, i64, [u8; 32]);

#[derive(Debug, Clone, Default)]
pub(crate) struct Session {
    pub(crate) db: Option<String>,
    pub(crate) uid: Option<i64>,
    pub(crate) token: String,
}

pub struct AppState {
    pub cfg: Config,
    pub pools: Pools,
    master: Mutex<String>,
    pub(crate) sessions: Mutex<HashMap<String, Session>>,
    cred_cache: Mutex<HashMap<CredKey, String>>,
    failures: Mutex<HashMap<(String, String), (u32, Instant)>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl AppState {
    /// Refuses to connect as `postgres`, as Odoo does (`odoo/cli/server.py`,
    /// `check_postgres_user`): connect as a role of its own, see [`crate::roles`].
    pub fn new(cfg: Config) -> anyhow::Result<Arc<Self>> {
        if crate::roles::url_user(&cfg.database_url)? == "postgres" {
            anyhow::bail!(crate::roles::POSTGRES_USER_REFUSED);
        }
        let pools = Pools::new(&cfg.database_url)?;
        Ok(Arc::new(AppState {
            master: Mutex::new(cfg.master_password.clone()),
            cfg,
            pools,
            sessions: Mutex::new(HashMap::new()),
            cred_cache: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }))
    }

    fn check_master(&self, pw: &Value) -> OResult<()> {
        let master = lock(&self.master).clone();
        let given = pw.as_str().unwrap_or("");
        let ok = if master.is_empty() {
            false
        } else if odoo_passlib::is_pbkdf2_sha512(&master) {
            odoo_passlib::verify_password(given, &master)
        } else {
            given == master
        };
        if ok {
            Ok(())
        } else {
            Err(OdooError::access_denied())
        }
    }

    /// `res.users.check` with a cache keyed on the stored hash (like Odoo's ormcache).
    async fn check_credentials(
        &self,
        conn: &mut sqlx::PgConnection,
        db: &str,
        uid: i64,
        password: &str,
    ) -> OResult<()> {
        if password.is_empty() {
            return Err(OdooError::access_denied());
        }
        let Some((hash, active, _login)) = users::user_credentials(conn, uid).await? else {
            return Err(OdooError::access_denied());
        };
        let Some(hash) = hash.filter(|_| active) else {
            return Err(OdooError::access_denied());
        };
        let key = (
            db.to_string(),
            uid,
            Sha256::digest(password.as_bytes()).into(),
        );
        if lock(&self.cred_cache).get(&key).is_some_and(|h| *h == hash) {
            return Ok(());
        }
        let (p, h) = (password.to_string(), hash.clone());
        let ok = tokio::task::spawn_blocking(move || odoo_passlib::verify_password(&p, &h))
            .await
            .unwrap_or(false);
        if ok {
            lock(&self.cred_cache).insert(key, hash);
            Ok(())
        } else {
            Err(OdooError::access_denied())
        }
    }

    /// Login → uid (AccessDenied on bad credentials).
    async fn authenticate(&self, db: &str, login: &str, password: &str) -> OResult<i64> {
        let mut tx = self.pools.begin(db).await?;
        let uid = users::uid_by_login(&mut tx, login)
            .await?
            .ok_or_else(OdooError::access_denied)?;
        self.check_credentials(&mut tx, db, uid, password).await?;
        sqlx::query("UPDATE res_users SET login_date = now() at time zone 'utc' WHERE id = $1")
            .bind(uid as i32)
            .execute(&mut *tx)
            .await
            .map_err(crate::orm::db_err)?;
        tx.commit().await.map_err(crate::orm::db_err)?;
        Ok(uid)
    }

    pub(crate) async fn session_token(&self, db: &str, uid: i64) -> OResult<Option<String>> {
        let mut tx = self.pools.begin(db).await?;
        let cred = users::user_credentials(&mut tx, uid).await?;
        Ok(cred.map(|(h, a, l)| {
            let d = Sha256::digest(
                format!("{db}\0{uid}\0{l}\0{}\0{a}", h.unwrap_or_default()).as_bytes(),
            );
            d.iter().map(|b| format!("{b:02x}")).collect()
        }))
    }

    /// Odoo's `db_filter(dbs, host)`.
    pub fn db_filter(&self, dbs: &[String], host: &str) -> Vec<String> {
        if self.cfg.dbfilter.is_empty() {
            return dbs.to_vec();
        }
        let h = host.split(':').next().unwrap_or("");
        let h = h.strip_prefix("www.").unwrap_or(h);
        let d = h.split('.').next().unwrap_or("");
        let pat = self
            .cfg
            .dbfilter
            .replace("%h", &regex::escape(h))
            .replace("%d", &regex::escape(d));
        match regex::Regex::new(&format!("^(?:{pat})")) {
            Ok(re) => dbs.iter().filter(|db| re.is_match(db)).cloned().collect(),
            Err(_) => vec![],
        }
    }
}

pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    handle: tokio::task::JoinHandle<()>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl RunningServer {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// Stop serving and wait for the server task.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.handle).await;
    }
}

/// Bind and serve in the background (port 0 = ephemeral).
pub async fn serve(cfg: Config) -> anyhow::Result<RunningServer> {
    let listener = tokio::net::TcpListener::bind((cfg.bind.as_str(), cfg.port)).await?;
    let addr = listener.local_addr()?;
    let state = AppState::new(cfg)?;
    let app = router(state.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        let r = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = rx.await;
        })
        .await;
        if let Err(e) = r {
            tracing::error!("server error: {e}");
        }
    });
    Ok(RunningServer {
        addr,
        state,
        handle,
        shutdown: Some(tx),
    })
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

// ------------------------------------------------------------------ responses

fn html(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<!doctype html>\n<html lang=en>\n<title>{} {}</title>\n<h1>{}</h1>\n<p>{}</p>\n",
        status.as_u16(),
        title,
        title,
        html_escape(text)
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

pub(crate) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#x27;")
}

fn not_found() -> Response {
    html(
        StatusCode::NOT_FOUND,
        "Not Found",
        "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.",
    )
}

fn json_response(v: &Value) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response()
}

fn ok_envelope(id: &Value, result: Option<Value>) -> Value {
    match result {
        Some(r) => json!({"jsonrpc": "2.0", "id": id, "result": r}),
        None => json!({"jsonrpc": "2.0", "id": id}),
    }
}

fn plain400(text: &'static str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        text,
    )
        .into_response()
}

// ------------------------------------------------------------------ dispatch

#[derive(Clone, Copy, PartialEq)]
enum Route {
    JsonRpc,
    Authenticate,
    SessionInfo,
    SessionCheck,
    Destroy,
    VersionInfo,
    DbList,
    CallKw,
}

fn route_of(path: &str) -> Option<Route> {
    Some(match path {
        "/jsonrpc" => Route::JsonRpc,
        "/web/session/authenticate" => Route::Authenticate,
        "/web/session/get_session_info" => Route::SessionInfo,
        "/web/session/check" => Route::SessionCheck,
        "/web/session/destroy" => Route::Destroy,
        "/web/webclient/version_info" => Route::VersionInfo,
        "/web/database/list" => Route::DbList,
        p if p == "/web/dataset/call_kw"
            || p.starts_with("/web/dataset/call_kw/")
            || p == "/web/dataset/call_button" =>
        {
            Route::CallKw
        }
        _ => return None,
    })
}

pub(crate) fn host_of(state: &AppState, headers: &HeaderMap) -> String {
    let get = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    if state.cfg.proxy_mode {
        if let Some(h) = get("x-forwarded-host").as_deref().and_then(forwarded_host) {
            return h.to_owned();
        }
    }
    get("host").unwrap_or_default()
}

/// The host werkzeug's `ProxyFix(x_host=1)` takes from `X-Forwarded-Host` (Odoo's
/// `proxy_mode`; 18.0 `odoo/http.py`: `ProxyFix = functools.partial(ProxyFix_, x_for=1,
/// x_proto=1, x_host=1)`, applied in `Application.__call__` when the header is present, before
/// `db_filter` reads `HTTP_HOST`): the last value, the one the proxy next to Odoo wrote;
/// `None` when empty.
fn forwarded_host(value: &str) -> Option<&str> {
    let last = value.rsplit(',').next()?.trim();
    (!last.is_empty()).then_some(last)
}

pub(crate) fn session_id(headers: &HeaderMap) -> Option<String> {
    for v in headers.get_all(header::COOKIE) {
        let Ok(s) = v.to_str() else { continue };
        for part in s.split(';') {
            if let Some(sid) = part.trim().strip_prefix("session_id=") {
                return Some(sid.to_string());
            }
        }
    }
    None
}

/// Requests run on a blocking-pool thread driving the runtime: the ORM's recursive
/// futures are not `Send`, and this keeps them off the async workers.
async fn handle(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let rt = tokio::runtime::Handle::current();
    match tokio::task::spawn_blocking(move || rt.block_on(handle_inner(state, req))).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("request handler failed: {e}");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error",
                "The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.",
            )
        }
    }
}

async fn handle_inner(state: Arc<AppState>, req: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    if path == "/web/health" {
        return json_response(&json!({"status": "pass"}));
    }
    if let Some(page) = crate::web::page_of(&path) {
        return crate::web::serve(&state, page, parts, body).await;
    }
    let Some(route) = route_of(&path) else {
        return not_found();
    };
    let remote = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "127.0.0.1".into());
    let headers = parts.headers;
    let host = host_of(&state, &headers);
    // db-bound routes exist only when a database is selected for this request
    let mut session = session_id(&headers)
        .and_then(|sid| lock(&state.sessions).get(&sid).cloned().map(|s| (sid, s)));
    let needs_db = matches!(
        route,
        Route::CallKw | Route::SessionInfo | Route::SessionCheck | Route::Destroy
    );
    let mut req_db: Option<String> = None;
    if let Some((sid, s)) = &session {
        if let Some(db) = &s.db {
            if !state.db_filter(std::slice::from_ref(db), &host).is_empty() {
                req_db = Some(db.clone());
            } else {
                tracing::warn!(
                    "Logged into database {db:?}, but dbfilter rejects it; logging session out"
                );
                lock(&state.sessions).remove(sid);
                session = None;
            }
        }
    }
    if req_db.is_none() && needs_db {
        if let Ok(all) = state.pools.list_dbs().await {
            let dbs = state.db_filter(&all, &host);
            if dbs.len() == 1 {
                req_db = dbs.into_iter().next();
            }
        }
    }
    if needs_db && req_db.is_none() {
        return not_found();
    }
    // JSON route checks
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if ctype != "application/json" && ctype != "application/json-rpc" {
        let compatible = "['http']";
        return html(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            &format!(
                "Request inferred type is compatible with {compatible} but '{path}' is type='json'"
            ),
        );
    }
    let bytes: Bytes = match axum::body::to_bytes(Body::new(body), MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return html(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request Entity Too Large",
                "The data value transmitted exceeds the capacity limit.",
            )
        }
    };
    let Ok(doc) = serde_json::from_slice::<Value>(&bytes) else {
        return plain400("Invalid JSON data");
    };
    let Value::Object(doc) = doc else {
        return plain400("Invalid JSON-RPC data");
    };
    let id = doc.get("id").cloned().unwrap_or(Value::Null);
    let params = match doc.get("params") {
        None => Map::new(),
        Some(Value::Object(p)) => p.clone(),
        Some(Value::String(s)) if !s.is_empty() => {
            return json_response(
                &OdooError::value_error(
                    "dictionary update sequence element #0 has length 1; 2 is required",
                )
                .envelope(&id),
            )
        }
        Some(Value::Array(a)) if a.is_empty() => Map::new(),
        Some(Value::String(_)) => Map::new(),
        Some(other) => {
            return json_response(
                &OdooError::type_error(format!(
                    "'{}' object is not iterable",
                    methods::pytype(other)
                ))
                .envelope(&id),
            )
        }
    };
    let scheme = if state.cfg.proxy_mode {
        headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("http")
            .to_string()
    } else {
        "http".to_string()
    };
    let ctx = Ctx {
        state: &state,
        host: &host,
        scheme: &scheme,
        remote: &remote,
        req_db,
        session,
    };
    let (result, set_cookie, label) = dispatch(route, ctx, params).await;
    let elapsed = started.elapsed();
    match &result {
        Ok(_) => {
            tracing::info!(path = %path, call = %label, outcome = "ok", ms = elapsed.as_millis() as u64, "rpc")
        }
        Err(e) => {
            tracing::info!(path = %path, call = %label, outcome = %e.name, error = %e.message, ms = elapsed.as_millis() as u64, "rpc")
        }
    }
    let body = match result {
        Ok(r) => ok_envelope(&id, r),
        Err(e) => e.envelope(&id),
    };
    let mut resp = json_response(&body);
    if let Some(sid) = set_cookie {
        set_session_cookie(&mut resp, &sid);
    }
    resp
}

/// `Set-Cookie: session_id=…` as Odoo's `_save_session` writes it (`HttpOnly`, `Path=/`,
/// the session lifetime as `Max-Age`).
pub(crate) fn set_session_cookie(resp: &mut Response, sid: &str) {
    let expires = (chrono::Utc::now() + chrono::Duration::seconds(SESSION_LIFETIME))
        .format("%a, %d %b %Y %H:%M:%S GMT");
    let c = format!(
        "session_id={sid}; Expires={expires}; Max-Age={SESSION_LIFETIME}; HttpOnly; Path=/"
    );
    if let Ok(v) = HeaderValue::from_str(&c) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
}

struct Ctx<'a> {
    state: &'a Arc<AppState>,
    host: &'a str,
    scheme: &'a str,
    remote: &'a str,
    req_db: Option<String>,
    session: Option<(String, Session)>,
}

pub(crate) fn new_sid() -> String {
    let mut b = [0u8; 63];
    let _ = getrandom::getrandom(&mut b);
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// Resolve the authenticated (db, uid) of a web request, or SessionExpired.
async fn web_user(ctx: &Ctx<'_>) -> OResult<(String, i64)> {
    let Some(db) = ctx.req_db.clone() else {
        return Err(OdooError::session_expired());
    };
    let Some((sid, s)) = &ctx.session else {
        return Err(OdooError::session_expired());
    };
    let (Some(sdb), Some(uid)) = (&s.db, s.uid) else {
        return Err(OdooError::session_expired());
    };
    if *sdb != db {
        return Err(OdooError::session_expired());
    }
    match ctx.state.session_token(&db, uid).await? {
        Some(t) if t == s.token => Ok((db, uid)),
        _ => {
            lock(&ctx.state.sessions).remove(sid);
            Err(OdooError::session_expired())
        }
    }
}

fn getp<'a>(p: &'a Map<String, Value>, k: &str) -> Option<&'a Value> {
    p.get(k)
}

fn require(func: &str, p: &Map<String, Value>, names: &[&'static str]) -> OResult<()> {
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !p.contains_key(*n))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(OdooError::missing_args(func, &missing))
    }
}

async fn dispatch(
    route: Route,
    ctx: Ctx<'_>,
    p: Map<String, Value>,
) -> (OResult<Option<Value>>, Option<String>, String) {
    match route {
        Route::JsonRpc => {
            let service = p.get("service").and_then(Value::as_str).unwrap_or("?");
            let method = p.get("method").and_then(Value::as_str).unwrap_or("?");
            let a = |n: usize| {
                p.get("args")
                    .and_then(|x| x.get(n))
                    .and_then(Value::as_str)
                    .unwrap_or("?")
            };
            let label = if service == "object" {
                format!("object.{method} db={} {}.{}", a(0), a(3), a(4))
            } else if matches!(method, "login" | "authenticate") {
                format!("{service}.{method} db={}", a(0))
            } else {
                format!("{service}.{method}")
            };
            (jsonrpc(&ctx, &p).await, None, label)
        }
        Route::VersionInfo => (
            Ok(Some(crate::version_value())),
            None,
            "version_info".into(),
        ),
        Route::DbList => {
            let r = async {
                if !ctx.state.cfg.list_db {
                    return Err(OdooError::access_denied());
                }
                let all = ctx.state.pools.list_dbs().await?;
                Ok(Some(json!(ctx.state.db_filter(&all, ctx.host))))
            }
            .await;
            (r, None, "database/list".into())
        }
        Route::Authenticate => {
            let r = web_authenticate(&ctx, &p).await;
            match r {
                Ok((v, sid)) => (Ok(Some(v)), Some(sid), "session/authenticate".into()),
                Err(e) => (Err(e), None, "session/authenticate".into()),
            }
        }
        Route::SessionInfo => {
            let r = async {
                let (db, uid) = web_user(&ctx).await?;
                let mut tx = ctx.state.pools.begin(&db).await?;
                let info = users::session_info(&mut tx, &db, uid).await?;
                // session_info may make the user's settings row (kept, as Odoo's).
                tx.commit().await.map_err(crate::orm::db_err)?;
                Ok(Some(info))
            }
            .await;
            (r, None, "session/get_session_info".into())
        }
        Route::SessionCheck => (
            web_user(&ctx).await.map(|_| None),
            None,
            "session/check".into(),
        ),
        Route::Destroy => {
            let r = web_user(&ctx).await.map(|_| {
                if let Some((sid, _)) = &ctx.session {
                    lock(&ctx.state.sessions).remove(sid);
                }
                None
            });
            (r, None, "session/destroy".into())
        }
        Route::CallKw => {
            let label = format!(
                "call_kw db={} {}.{}",
                ctx.req_db.as_deref().unwrap_or("-"),
                p.get("model").and_then(Value::as_str).unwrap_or("?"),
                p.get("method").and_then(Value::as_str).unwrap_or("?")
            );
            (call_kw(&ctx, &p).await, None, label)
        }
    }
}

async fn web_authenticate(ctx: &Ctx<'_>, p: &Map<String, Value>) -> OResult<(Value, String)> {
    require("Session.authenticate", p, &["db", "login", "password"])?;
    let text = |k: &str| getp(p, k).and_then(Value::as_str).unwrap_or("").to_string();
    let (db, login_name, password) = (text("db"), text("login"), text("password"));
    if ctx
        .state
        .db_filter(std::slice::from_ref(&db), ctx.host)
        .is_empty()
    {
        return Err(OdooError::access_error("Database not found."));
    }
    let old_sid = ctx.session.as_ref().map(|(sid, _)| sid.as_str());
    let from = SessionLogin {
        host: ctx.host,
        scheme: ctx.scheme,
        remote: ctx.remote,
    };
    let (uid, sid) = from
        .authenticate(ctx.state, old_sid, &db, &login_name, &password)
        .await?;
    let mut tx = ctx.state.pools.begin(&db).await?;
    let info = users::session_info(&mut tx, &db, uid).await?;
    tx.commit().await.map_err(crate::orm::db_err)?;
    Ok((info, sid))
}

/// Where a session login comes from (the request's host, scheme and remote address).
pub(crate) struct SessionLogin<'a> {
    pub host: &'a str,
    pub scheme: &'a str,
    pub remote: &'a str,
}

impl SessionLogin<'_> {
    /// `Session.authenticate` (`odoo/http.py`): the login cooldown per database and remote
    /// address, the credential check, `web.base.url` re-guessed for system users
    /// (`res.users.authenticate` with `base_location`), and a rotated session id.
    pub(crate) async fn authenticate(
        &self,
        state: &AppState,
        old_sid: Option<&str>,
        db: &str,
        login: &str,
        password: &str,
    ) -> OResult<(i64, String)> {
        let key = (db.to_string(), self.remote.to_string());
        let (after, duration) = cooldown_params(state, db).await;
        if let Some((n, last)) = lock(&state.failures).get(&key).copied() {
            if after > 0 && n >= after && last.elapsed() < Duration::from_secs(duration) {
                return Err(OdooError::access_denied_msg(
                    "Too many login failures, please wait a bit before trying again.",
                ));
            }
        }
        let uid = match state.authenticate(db, login, password).await {
            Ok(uid) => {
                lock(&state.failures).remove(&key);
                uid
            }
            Err(e) => {
                if e.name == "odoo.exceptions.AccessDenied" {
                    let mut f = lock(&state.failures);
                    let ent = f.entry(key).or_insert((0, Instant::now()));
                    if ent.1.elapsed() >= Duration::from_secs(duration) && ent.0 >= after {
                        ent.0 = 0;
                    }
                    ent.0 += 1;
                    ent.1 = Instant::now();
                }
                return Err(e);
            }
        };
        {
            let mut tx = state.pools.begin(db).await?;
            if users::has_group(&mut tx, uid, "base.group_system").await? {
                let url = format!("{}://{}", self.scheme, self.host);
                sqlx::query(
                    "UPDATE ir_config_parameter SET value = $1, write_date = now() at time zone 'utc' WHERE key = 'web.base.url' \
                     AND NOT EXISTS (SELECT 1 FROM ir_config_parameter WHERE key = 'web.base.url.freeze' AND value NOT IN ('', 'False', 'false', '0'))",
                )
                .bind(url)
                .execute(&mut *tx)
                .await
                .map_err(crate::orm::db_err)?;
            }
            tx.commit().await.map_err(crate::orm::db_err)?;
        }
        let token = state.session_token(db, uid).await?.unwrap_or_default();
        // rotate: drop the old session, issue a new id
        if let Some(old) = old_sid {
            lock(&state.sessions).remove(old);
        }
        let sid = new_sid();
        lock(&state.sessions).insert(
            sid.clone(),
            Session {
                db: Some(db.to_string()),
                uid: Some(uid),
                token,
            },
        );
        Ok((uid, sid))
    }
}

async fn cooldown_params(state: &AppState, db: &str) -> (u32, u64) {
    let Ok(mut tx) = state.pools.begin(db).await else {
        return (10, 60);
    };
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT key, value FROM ir_config_parameter WHERE key IN ('base.login_cooldown_after', 'base.login_cooldown_duration')",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap_or_default();
    let mut after = 10;
    let mut dur = 60;
    for (k, v) in rows {
        if k.ends_with("after") {
            after = v.parse().unwrap_or(10);
        } else {
            dur = v.parse().unwrap_or(60);
        }
    }
    (after, dur)
}

async fn call_kw(ctx: &Ctx<'_>, p: &Map<String, Value>) -> OResult<Option<Value>> {
    // _call_kw_readonly runs at routing time: unknown model → NotFound (id null)
    let Some(model_v) = p.get("model") else {
        let mut e = OdooError::key_error("model");
        e.null_id = true;
        return Err(e);
    };
    let model_name = model_v.as_str().unwrap_or("");
    let Some(model) = crate::models::model(model_name) else {
        return Err(OdooError::not_found());
    };
    let (db, uid) = web_user(ctx).await?;
    require("DataSet.call_kw", p, &["model", "method", "args", "kwargs"])?;
    let method = p
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let args = match p.get("args") {
        Some(Value::Array(a)) => a.clone(),
        Some(other) => {
            return Err(OdooError::type_error(format!(
                "'{}' object is not subscriptable",
                methods::pytype(other)
            )))
        }
        None => vec![],
    };
    let kwargs = match p.get("kwargs") {
        Some(Value::Object(k)) => k.clone(),
        Some(Value::Null) => Map::new(),
        Some(other) => {
            return Err(OdooError::type_error(format!(
                "argument after ** must be a mapping, not {}",
                methods::pytype(other)
            )))
        }
        None => Map::new(),
    };
    if method.starts_with('_') {
        return Err(private_error(model_name, &method));
    }
    let mut tx = ctx.state.pools.begin(&db).await?;
    if !module_installed(&mut tx, model_name).await? {
        return Err(OdooError::not_found());
    }
    let env = Env {
        db: db.clone(),
        uid,
        context: Map::new(),
    };
    let r = methods::call(&mut tx, &env, model, &method, args, kwargs).await?;
    tx.commit().await.map_err(crate::orm::db_err)?;
    Ok(r)
}

fn private_error(model: &str, method: &str) -> OdooError {
    OdooError::access_error(format!(
        "Private methods (such as '{model}.{method}') cannot be called remotely."
    ))
}

async fn module_installed(conn: &mut sqlx::PgConnection, model: &str) -> OResult<bool> {
    let module = crate::schema::model_module(model);
    if module == "base" {
        return Ok(true);
    }
    let row: Option<(String,)> =
        sqlx::query_as("SELECT state FROM ir_module_module WHERE name = $1")
            .bind(module)
            .fetch_optional(&mut *conn)
            .await
            .map_err(crate::orm::db_err)?;
    Ok(row.is_some_and(|r| r.0 == "installed"))
}

// ------------------------------------------------------------------ /jsonrpc

fn pos_args<'a>(
    func: &str,
    args: &'a [Value],
    names: &[&'static str],
    required: usize,
) -> OResult<&'a [Value]> {
    if args.len() < required {
        return Err(OdooError::missing_args(func, &names[args.len()..required]));
    }
    if args.len() > names.len() {
        return Err(OdooError::too_many_args(
            func,
            required,
            names.len(),
            args.len(),
        ));
    }
    Ok(args)
}

async fn jsonrpc(ctx: &Ctx<'_>, p: &Map<String, Value>) -> OResult<Option<Value>> {
    require("RPC.json_rpc", p, &["service", "method", "args"])?;
    let service = p.get("service").and_then(Value::as_str).unwrap_or("");
    let method = p.get("method").and_then(Value::as_str).unwrap_or("");
    let args: Vec<Value> = match p.get("args") {
        Some(Value::Array(a)) => a.clone(),
        Some(Value::Object(o)) => o.keys().map(|k| json!(k)).collect(),
        Some(Value::String(s)) => s.chars().map(|c| json!(c.to_string())).collect(),
        Some(other) => {
            return Err(OdooError::type_error(format!(
                "odoo.http.dispatch_rpc() argument after * must be an iterable, not {}",
                methods::pytype(other)
            )))
        }
        None => vec![],
    };
    match service {
        "common" => common(ctx, method, &args).await,
        "db" => db_service(ctx, method, &args).await,
        "object" => object(ctx, method, &args).await,
        other => Err(OdooError::key_error(other)),
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

async fn common(ctx: &Ctx<'_>, method: &str, args: &[Value]) -> OResult<Option<Value>> {
    match method {
        "version" => Ok(Some(crate::version_value())),
        "about" => {
            let a = pos_args("exp_about", args, &["extended"], 0)?;
            let info = "See http://openerp.com";
            if a.first().is_some_and(|v| v.as_bool().unwrap_or(false)) {
                Ok(Some(json!([info, crate::VERSION])))
            } else {
                Ok(Some(json!(info)))
            }
        }
        "set_loglevel" => {
            pos_args("exp_set_loglevel", args, &["loglevel", "logger"], 1)?;
            Ok(Some(json!(true)))
        }
        "login" | "authenticate" => {
            let a = if method == "login" {
                pos_args("exp_login", args, &["db", "login", "password"], 3)?
            } else {
                pos_args(
                    "exp_authenticate",
                    args,
                    &["db", "login", "password", "user_agent_env"],
                    4,
                )?
            };
            let db = s(&a[0]);
            // opening the registry fails first for a missing database
            drop(ctx.state.pools.begin(&db).await?);
            match ctx.state.authenticate(&db, &s(&a[1]), &s(&a[2])).await {
                Ok(uid) => Ok(Some(json!(uid))),
                Err(e) if e.name == "odoo.exceptions.AccessDenied" => Ok(Some(json!(false))),
                Err(e) => Err(e),
            }
        }
        other => Err(OdooError::generic(format!("Method not found: {other}"))),
    }
}

async fn object(ctx: &Ctx<'_>, method: &str, args: &[Value]) -> OResult<Option<Value>> {
    if args.len() < 3 {
        return Err(OdooError::builtin("IndexError", "list index out of range"));
    }
    let db = s(&args[0]);
    let uid = match &args[1] {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .unwrap_or(0),
        Value::Bool(b) => i64::from(*b),
        Value::String(st) => st.trim().parse::<i64>().map_err(|_| {
            OdooError::value_error(format!("invalid literal for int() with base 10: '{st}'"))
        })?,
        other => {
            return Err(OdooError::type_error(format!(
                "int() argument must be a string, a bytes-like object or a real number, not '{}'",
                methods::pytype(other)
            )))
        }
    };
    let password = s(&args[2]);
    let mut tx = ctx.state.pools.begin(&db).await?;
    ctx.state
        .check_credentials(&mut tx, &db, uid, &password)
        .await?;
    let rest = &args[3..];
    let (model_name, meth, margs, kwargs) = match method {
        "execute" => {
            if rest.len() < 2 {
                return Err(OdooError::missing_args(
                    "execute",
                    &["obj", "method"][rest.len()..],
                ));
            }
            (s(&rest[0]), s(&rest[1]), rest[2..].to_vec(), Map::new())
        }
        "execute_kw" => {
            let a = pos_args("execute_kw", rest, &["obj", "method", "args", "kw"], 3)?;
            let margs = match &a[2] {
                Value::Array(x) => x.clone(),
                Value::Object(o) => o.keys().map(|k| json!(k)).collect(),
                other => {
                    return Err(OdooError::type_error(format!(
                        "odoo.service.model.execute() argument after * must be an iterable, not {}",
                        methods::pytype(other)
                    )))
                }
            };
            let kwargs = match a.get(3) {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(k)) => k.clone(),
                Some(Value::Array(x)) if x.is_empty() => Map::new(),
                Some(other) => {
                    return Err(OdooError::type_error(format!(
                        "odoo.service.model.execute() argument after ** must be a mapping, not {}",
                        methods::pytype(other)
                    )))
                }
            };
            (s(&a[0]), s(&a[1]), margs, kwargs)
        }
        other => {
            let mut e = OdooError::builtin("NameError", format!("Method not available {other}"));
            e.tb_name = Some("NameError".into());
            return Err(e);
        }
    };
    if meth.starts_with('_') {
        return Err(private_error(&model_name, &meth));
    }
    let model = match crate::models::model(&model_name) {
        Some(m) if module_installed(&mut tx, &model_name).await? => m,
        _ => {
            return Err(OdooError::user(format!(
                "Object {model_name} doesn't exist"
            )))
        }
    };
    let env = Env {
        db: db.clone(),
        uid,
        context: Map::new(),
    };
    let r = methods::call(&mut tx, &env, model, &meth, margs, kwargs).await?;
    tx.commit().await.map_err(crate::orm::db_err)?;
    Ok(r)
}

async fn db_service(ctx: &Ctx<'_>, method: &str, args: &[Value]) -> OResult<Option<Value>> {
    let st = ctx.state;
    match method {
        "list" => {
            if !st.cfg.list_db {
                return Err(OdooError::access_denied());
            }
            Ok(Some(json!(st.pools.list_dbs().await?)))
        }
        "db_exist" => {
            let a = pos_args("exp_db_exist", args, &["db_name"], 1)?;
            Ok(Some(json!(st.pools.can_connect(&s(&a[0])).await)))
        }
        "server_version" => Ok(Some(json!(crate::VERSION))),
        "list_lang" => Ok(Some(json!(crate::schema::LANGS
            .iter()
            .map(|(c, n)| json!([c, n]))
            .collect::<Vec<_>>()))),
        "create_database"
        | "duplicate_database"
        | "drop"
        | "rename"
        | "change_admin_password"
        | "list_countries"
        | "dump"
        | "restore"
        | "migrate_databases" => {
            let Some(master) = args.first() else {
                return Err(OdooError::builtin("IndexError", "list index out of range"));
            };
            st.check_master(master)?;
            let a = &args[1..];
            if !st.cfg.list_db && method != "list_countries" {
                return Err(OdooError::access_denied());
            }
            match method {
                "create_database" => {
                    let a = pos_args(
                        "exp_create_database",
                        a,
                        &[
                            "db_name",
                            "demo",
                            "lang",
                            "user_password",
                            "login",
                            "country_code",
                            "phone",
                        ],
                        3,
                    )?;
                    let name = s(&a[0]);
                    template::create_empty(&st.pools, &name).await?;
                    let opts = TemplateOptions {
                        catalogue: crate::template::Catalogue::None,
                        lang: s(&a[2]),
                        password: a.get(3).map(s).unwrap_or_else(|| "admin".into()),
                        login: a.get(4).map(s).unwrap_or_else(|| "admin".into()),
                        country_code: a
                            .get(5)
                            .and_then(|v| v.as_str())
                            .filter(|v| !v.is_empty())
                            .map(str::to_string),
                        phone: a.get(6).and_then(|v| v.as_str()).map(str::to_string),
                        base_url: st
                            .cfg
                            .base_url
                            .clone()
                            .unwrap_or_else(|| "http://localhost:8069".into()),
                        ..TemplateOptions::default()
                    };
                    match sqlx::ConnectOptions::connect(&st.pools.options(&name)).await {
                        Ok(mut c) => {
                            if let Err(e) = template::seed(&mut c, &opts).await {
                                tracing::error!("CREATE DATABASE failed: {e}");
                            }
                            let _ = sqlx::Connection::close(c).await;
                        }
                        Err(e) => tracing::error!("CREATE DATABASE failed: {e}"),
                    }
                    Ok(Some(json!(true)))
                }
                "duplicate_database" => {
                    let a = pos_args(
                        "exp_duplicate_database",
                        a,
                        &["db_original_name", "db_name", "neutralize_database"],
                        2,
                    )?;
                    let (src, dst) = (s(&a[0]), s(&a[1]));
                    st.pools.clone_db(&src, &dst).await?;
                    let neutralize = a.get(2).is_some_and(|v| v.as_bool().unwrap_or(false));
                    reset_parameters(st, &dst, neutralize).await?;
                    Ok(Some(json!(true)))
                }
                "drop" => {
                    let a = pos_args("exp_drop", a, &["db_name"], 1)?;
                    let name = s(&a[0]);
                    if !st.pools.list_dbs().await?.contains(&name) {
                        return Ok(Some(json!(false)));
                    }
                    st.pools.drop_db(&name).await?;
                    Ok(Some(json!(true)))
                }
                "rename" => {
                    let a = pos_args("exp_rename", a, &["old_name", "new_name"], 2)?;
                    st.pools.rename_db(&s(&a[0]), &s(&a[1])).await?;
                    Ok(Some(json!(true)))
                }
                "change_admin_password" => {
                    let a = pos_args("exp_change_admin_password", a, &["new_password"], 1)?;
                    *lock(&st.master) = s(&a[0]);
                    Ok(Some(json!(true)))
                }
                "list_countries" => {
                    let mut c: Vec<_> = crate::schema::COUNTRIES.to_vec();
                    c.sort_by(|x, y| x.1.cmp(y.1));
                    Ok(Some(json!(c
                        .iter()
                        .map(|(code, name)| json!([code.to_lowercase(), name]))
                        .collect::<Vec<_>>())))
                }
                _ => Err(OdooError::generic(format!(
                    "odoo-sim does not implement db.{method}"
                ))),
            }
        }
        other => Err(OdooError::key_error(&format!("Method not found: {other}"))),
    }
}

/// `ir.config_parameter.init(force=True)` on a copy (+ neutralize flag).
async fn reset_parameters(st: &AppState, db: &str, neutralize: bool) -> OResult<()> {
    let mut tx = st.pools.begin(db).await?;
    let base_url = st
        .cfg
        .base_url
        .clone()
        .unwrap_or_else(|| "http://localhost:8069".into());
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
    let vals = [
        ("database.secret", uuid::Uuid::new_v4().to_string()),
        ("database.uuid", template::new_uuid1()),
        ("database.create_date", now),
        ("web.base.url", base_url),
        ("base.login_cooldown_after", "10".to_string()),
        ("base.login_cooldown_duration", "60".to_string()),
    ];
    let mut all: Vec<(&str, String)> = vals.to_vec();
    if neutralize {
        all.push(("database.is_neutralized", "True".to_string()));
    }
    for (k, v) in all {
        sqlx::query(
            "INSERT INTO ir_config_parameter (key, value, create_uid, write_uid) VALUES ($1, $2, 1, 1) \
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, write_date = now() at time zone 'utc'",
        )
        .bind(k)
        .bind(v)
        .execute(&mut *tx)
        .await
        .map_err(crate::orm::db_err)?;
    }
    tx.commit().await.map_err(crate::orm::db_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::forwarded_host;

    #[test]
    fn the_forwarded_host_is_the_last_value_as_with_werkzeugs_proxy_fix() {
        assert_eq!(forwarded_host("acme.example.com"), Some("acme.example.com"));
        // A client's own value first, then the proxy's: the proxy's counts.
        assert_eq!(
            forwarded_host("evil.example.com, acme.example.com"),
            Some("acme.example.com")
        );
        assert_eq!(forwarded_host(" "), None);
    }
}
