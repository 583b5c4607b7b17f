//! The web pages a browser opens on a tenant: `/`, `/odoo` (`/web`), `/web/login` and the
//! database selector.
//!
//! Every browser request picks its database as Odoo does (`odoo/http.py`,
//! `Request._get_session_and_dbname`): the session's database if the `dbfilter` accepts it
//! for the request's host, else the only database the filter leaves for that host
//! ("monodb") among those [`crate::pg::Pools::list_dbs`] lists, i.e. the databases the
//! simulator's role owns, not templates, accepting connections (`odoo/service/db.py`,
//! `list_dbs`). A tenant database owned by another role is therefore invisible here, and
//! `/web/login` answers `303 → /web/database/selector`, exactly as real Odoo answered before
//! the platform created tenant databases owned by Odoo's role.
//!
//! The pages follow `addons/web/controllers/home.py` (`index`, `web_client`, `web_login`),
//! `utils.py` (`ensure_db`, `_get_login_redirect_url`) and `database.py` (`selector`); the
//! CSRF token of form posts is Odoo's (`odoo/http.py`, `Request.csrf_token` /
//! `validate_csrf`: HMAC-SHA1 of the session id and an expiry, keyed by `database.secret`).
//! The HTML is a minimal stand-in for Odoo's QWeb templates with the same form fields.

use crate::server::{
    host_of, html_escape, lock, new_sid, session_id, set_session_cookie, AppState, Session,
    SessionLogin,
};
use crate::users;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use std::net::SocketAddr;
use std::sync::Arc;

/// `CSRF_TOKEN_SALT` (`odoo/http.py`): tokens without a time limit expire in a year.
const CSRF_TOKEN_SALT: i64 = 60 * 60 * 24 * 365;

/// The HTTP (not JSON) routes the simulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// `/`: redirects to `/odoo`.
    Index,
    /// `/odoo`, `/odoo/<path>`, `/web`: the web client (a stand-in page once signed in).
    WebClient,
    /// `/web/login`: the login form (GET) and the sign-in (POST).
    Login,
    /// `/web/database/selector` and `/web/database/manager`.
    Selector,
}

/// The page a path routes to, if any.
pub fn page_of(path: &str) -> Option<Page> {
    Some(match path {
        "/" => Page::Index,
        "/web" | "/odoo" => Page::WebClient,
        p if p.starts_with("/odoo/") => Page::WebClient,
        "/web/login" => Page::Login,
        "/web/database/selector" | "/web/database/manager" => Page::Selector,
        _ => return None,
    })
}

/// One browser request, with its session as Odoo's `Request` holds it.
struct WebRequest {
    method: Method,
    path: String,
    query: String,
    params: Vec<(String, String)>,
    host: String,
    scheme: String,
    remote: String,
    cookie_sid: Option<String>,
    sid: String,
    session: Session,
    dirty: bool,
    /// The database of this request (`request.db`).
    db: Option<String>,
}

impl WebRequest {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `request.httprequest.full_path`: path, `?`, query (werkzeug keeps the `?`).
    fn full_path(&self) -> String {
        format!("{}?{}", self.path, self.query)
    }

    /// The request's own URL, as `ensure_db` redirects to it (made local).
    fn url(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            self.full_path()
        }
    }

    /// A fresh session bound to `db` (`session_store.new()` + `update(db=db)`).
    fn new_session(&mut self, db: Option<String>) {
        self.sid = new_sid();
        self.session = Session {
            db,
            ..Session::default()
        };
        self.dirty = true;
    }
}

/// Serves `page` for a browser request.
pub async fn serve(
    state: &Arc<AppState>,
    page: Page,
    parts: Parts,
    body: axum::body::Body,
) -> Response {
    let mut req = match read_request(state, parts, body).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    pick_database(state, &mut req).await;
    let response = match dispatch(state, page, &mut req).await {
        Ok(r) | Err(r) => r,
    };
    save_session(state, &req, response)
}

async fn read_request(
    state: &AppState,
    parts: Parts,
    body: axum::body::Body,
) -> Result<WebRequest, Response> {
    let query = parts.uri.query().unwrap_or("").to_owned();
    let mut params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let bytes = axum::body::to_bytes(Body::new(body), crate::server::MAX_BODY)
        .await
        .map_err(|_| {
            page_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request Entity Too Large",
                "<p>The data value transmitted exceeds the capacity limit.</p>",
            )
        })?;
    if is_form {
        params.extend(url::form_urlencoded::parse(&bytes).into_owned());
    }
    let host = host_of(state, &parts.headers);
    let scheme = if state.cfg.proxy_mode {
        parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("http")
            .to_owned()
    } else {
        "http".to_owned()
    };
    let remote = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "127.0.0.1".into());
    // A cookie with a well-formed id keeps its id even when the session is unknown
    // (`FilesystemSessionStore.is_valid_key` / `get`); anything else gets a new session.
    let cookie_sid = session_id(&parts.headers);
    let valid = cookie_sid.as_deref().filter(|s| {
        s.len() == 84
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    });
    let (sid, session) = match valid {
        Some(sid) => {
            let session = lock(&state.sessions).get(sid).cloned().unwrap_or_default();
            (sid.to_owned(), session)
        }
        None => (new_sid(), Session::default()),
    };
    Ok(WebRequest {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query,
        params,
        host,
        scheme,
        remote,
        cookie_sid,
        sid,
        session,
        dirty: false,
        db: None,
    })
}

/// `Request._get_session_and_dbname`: the session's database if the filter accepts it for
/// this host, else the host's only database; a session whose database is rejected is
/// logged out.
async fn pick_database(state: &AppState, req: &mut WebRequest) {
    let session_db = req.session.db.clone().filter(|db| {
        !state
            .db_filter(std::slice::from_ref(db), &req.host)
            .is_empty()
    });
    let db = match session_db {
        Some(db) => Some(db),
        None => monodb(state, &req.host).await,
    };
    if req.session.db != db {
        if let Some(old) = &req.session.db {
            tracing::warn!(
                "Logged into database {old:?}, but dbfilter rejects it; logging session out"
            );
            req.session.uid = None;
            req.session.token.clear();
        }
        req.session.db = db.clone();
    }
    req.db = db;
}

/// `http.db_list(force=True, host)` when it holds exactly one database.
async fn monodb(state: &AppState, host: &str) -> Option<String> {
    let all = state.pools.list_dbs().await.unwrap_or_default();
    let mut dbs = state.db_filter(&all, host);
    if dbs.len() == 1 {
        dbs.pop()
    } else {
        None
    }
}

type Outcome = Result<Response, Response>;

async fn dispatch(state: &AppState, page: Page, req: &mut WebRequest) -> Outcome {
    // HttpDispatcher.dispatch: unsafe methods need a database and a valid CSRF token.
    if !matches!(
        req.method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        let Some(db) = req.db.clone() else {
            return Ok(redirect("/web/database/selector", StatusCode::SEE_OTHER));
        };
        let token = req.param("csrf_token").map(str::to_owned);
        req.params.retain(|(k, _)| k != "csrf_token");
        let secret = database_secret(state, &db).await?;
        if !validate_csrf(token.as_deref(), &secret, &req.sid) {
            tracing::warn!(path = %req.path, "CSRF validation failed");
            return Err(page_response(
                StatusCode::BAD_REQUEST,
                "Bad Request",
                "<p>Session expired (invalid CSRF token)</p>",
            ));
        }
    }
    match page {
        Page::Index => index(state, req).await,
        Page::WebClient => web_client(state, req).await,
        Page::Login => web_login(state, req).await,
        Page::Selector => Ok(selector(state, req).await),
    }
}

/// `ensure_db` (`addons/web/controllers/utils.py`): the database of this page, or the
/// redirect that gets one.
async fn ensure_db(state: &AppState, req: &mut WebRequest) -> Result<String, Response> {
    let asked = req
        .param("db")
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .filter(|d| {
            !state
                .db_filter(std::slice::from_ref(d), &req.host)
                .is_empty()
        });
    if let (Some(db), None) = (&asked, &req.session.db) {
        req.session.db = Some(db.clone());
        req.dirty = true;
        return Err(redirect(&req.url(), StatusCode::FOUND));
    }
    let mut db = asked;
    if db.is_none() {
        db = req.session.db.clone().filter(|d| {
            !state
                .db_filter(std::slice::from_ref(d), &req.host)
                .is_empty()
        });
    }
    if db.is_none() {
        db = monodb(state, &req.host).await;
    }
    let Some(db) = db else {
        return Err(redirect("/web/database/selector", StatusCode::SEE_OTHER));
    };
    if req.session.db.as_deref() != Some(db.as_str()) {
        req.new_session(Some(db));
        return Err(redirect(&req.url(), StatusCode::FOUND));
    }
    Ok(db)
}

/// `Home.index`: everyone goes to `/odoo` (query kept).
async fn index(state: &AppState, req: &mut WebRequest) -> Outcome {
    if let (Some(db), Some(uid)) = (req.db.clone(), req.session.uid) {
        if !is_internal(state, &db, uid).await? {
            return Ok(redirect(
                &with_query("/web/login_successful", &req.query),
                StatusCode::SEE_OTHER,
            ));
        }
    }
    Ok(redirect(
        &with_query("/odoo", &req.query),
        StatusCode::SEE_OTHER,
    ))
}

/// `Home.web_client`: a database and a signed-in internal user, else the login page.
async fn web_client(state: &AppState, req: &mut WebRequest) -> Outcome {
    let db = ensure_db(state, req).await?;
    let Some(uid) = req.session.uid else {
        let location = format!(
            "/web/login?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("redirect", &req.full_path())
                .finish()
        );
        return Ok(redirect(&location, StatusCode::SEE_OTHER));
    };
    if let Some(to) = req.param("redirect") {
        return Ok(redirect(to, StatusCode::SEE_OTHER));
    }
    // security.check_session: a changed password or login ends the session.
    let token = state
        .session_token(&db, uid)
        .await
        .map_err(server_error)?
        .unwrap_or_default();
    if token != req.session.token {
        req.session.uid = None;
        req.session.token.clear();
        req.dirty = true;
        let location = format!(
            "/web/login?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("redirect", &req.full_path())
                .finish()
        );
        return Ok(redirect(&location, StatusCode::SEE_OTHER));
    }
    if !is_internal(state, &db, uid).await? {
        return Ok(redirect("/web/login_successful", StatusCode::SEE_OTHER));
    }
    let mut resp = page_response(
        StatusCode::OK,
        "Odoo",
        &format!(
            "<p class=\"o_web_client\">odoo-sim has no web client: signed in to database \
             <b>{}</b> as user {uid}. Use JSON-RPC (<code>/web/dataset/call_kw</code>, \
             <code>/jsonrpc</code>).</p>",
            html_escape(&db)
        ),
    );
    resp.headers_mut()
        .insert("x-frame-options", HeaderValue::from_static("DENY"));
    Ok(resp)
}

/// `Home.web_login`: the login form, and the sign-in it posts.
async fn web_login(state: &AppState, req: &mut WebRequest) -> Outcome {
    let db = ensure_db(state, req).await?;
    if req.method == Method::GET {
        if let (Some(to), Some(_)) = (req.param("redirect"), req.session.uid) {
            return Ok(redirect(to, StatusCode::SEE_OTHER));
        }
    }
    let mut error = None;
    if req.method == Method::POST {
        let login = req.param("login").unwrap_or("").to_owned();
        let password = req.param("password").unwrap_or("").to_owned();
        let from = SessionLogin {
            host: &req.host,
            scheme: &req.scheme,
            remote: &req.remote,
        };
        match from
            .authenticate(state, Some(&req.sid), &db, &login, &password)
            .await
        {
            Ok((uid, sid)) => {
                // authenticate stored the rotated session: this request now carries it.
                req.sid = sid;
                req.session = lock(&state.sessions)
                    .get(&req.sid)
                    .cloned()
                    .unwrap_or_default();
                req.dirty = false;
                let to = match req.param("redirect").filter(|r| !r.is_empty()) {
                    Some(to) => to.to_owned(),
                    None if is_internal(state, &db, uid).await? => "/odoo".to_owned(),
                    None => "/web/login_successful".to_owned(),
                };
                return Ok(redirect(&to, StatusCode::SEE_OTHER));
            }
            Err(e) if e.name == "odoo.exceptions.AccessDenied" => {
                error = Some(if e.message == "Access Denied" {
                    "Wrong login/password".to_owned()
                } else {
                    e.message
                });
            }
            Err(e) => return Err(server_error(e)),
        }
    } else if req.param("error") == Some("access") {
        error = Some(
            "Only employees can access this database. Please contact the administrator.".to_owned(),
        );
    }
    let secret = database_secret(state, &db).await?;
    let token = csrf_token(&secret, &req.sid, chrono::Utc::now().timestamp());
    let login = req.param("login").unwrap_or("");
    let redirect_to = req.param("redirect").unwrap_or("");
    let error_html = error
        .map(|e| {
            format!(
                "<p class=\"alert alert-danger\" role=\"alert\">{}</p>",
                html_escape(&e)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<form class=\"oe_login_form\" role=\"form\" action=\"/web/login\" method=\"post\">\n\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{token}\"/>\n\
         <div class=\"mb-3 field-login\"><label for=\"login\" class=\"form-label\">Email</label>\n\
         <input type=\"text\" name=\"login\" id=\"login\" class=\"form-control\" required=\"required\" autocapitalize=\"off\" autocomplete=\"username\" value=\"{login}\"/></div>\n\
         <div class=\"mb-3\"><label for=\"password\" class=\"form-label\">Password</label>\n\
         <input type=\"password\" name=\"password\" id=\"password\" class=\"form-control\" required=\"required\" autocomplete=\"current-password\" maxlength=\"4096\"/></div>\n\
         {error_html}\n\
         <div class=\"oe_login_buttons\"><button type=\"submit\" class=\"btn btn-primary\">Log in</button></div>\n\
         <input type=\"hidden\" name=\"redirect\" value=\"{redirect}\"/>\n\
         </form>",
        login = html_escape(login),
        redirect = html_escape(redirect_to),
    );
    let mut resp = page_response(StatusCode::OK, "Login | Odoo", &body);
    let headers = resp.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-frame-options", HeaderValue::from_static("SAMEORIGIN"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static("frame-ancestors 'self'"),
    );
    Ok(resp)
}

/// `Database.selector`: the databases of this host (`http.db_list()`; with `list_db` off,
/// only the request's own database).
async fn selector(state: &AppState, req: &WebRequest) -> Response {
    let dbs: Vec<String> = if state.cfg.list_db {
        let all = state.pools.list_dbs().await.unwrap_or_default();
        state.db_filter(&all, &req.host)
    } else {
        req.db.iter().cloned().collect()
    };
    let items: String = dbs
        .iter()
        .map(|db| {
            let href = format!(
                "/odoo?{}",
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("db", db)
                    .finish()
            );
            format!(
                "<a class=\"list-group-item\" href=\"{}\">{}</a>\n",
                html_escape(&href),
                html_escape(db)
            )
        })
        .collect();
    let body = if dbs.is_empty() {
        "<p class=\"o_database_list\">No database is available for this address.</p>".to_owned()
    } else {
        format!("<div class=\"list-group o_database_list\">\n{items}</div>")
    };
    page_response(StatusCode::OK, "Odoo", &body)
}

async fn is_internal(state: &AppState, db: &str, uid: i64) -> Result<bool, Response> {
    let mut tx = state.pools.begin(db).await.map_err(server_error)?;
    users::has_group(&mut tx, uid, "base.group_user")
        .await
        .map_err(server_error)
}

async fn database_secret(state: &AppState, db: &str) -> Result<String, Response> {
    let mut tx = state.pools.begin(db).await.map_err(server_error)?;
    let secret: Option<String> =
        sqlx::query_scalar("SELECT value FROM ir_config_parameter WHERE key = 'database.secret'")
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| server_error(crate::orm::db_err(e)))?;
    secret.filter(|s| !s.is_empty()).ok_or_else(|| {
        server_error(crate::error::OdooError::value_error(
            "CSRF protection requires a configured database secret",
        ))
    })
}

fn hmac_hex(secret: &str, message: &str) -> String {
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(message.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `Request.csrf_token()` without a time limit: `<hmac>o<expiry>`.
pub fn csrf_token(secret: &str, sid: &str, now: i64) -> String {
    let max_ts = now + CSRF_TOKEN_SALT;
    format!("{}o{max_ts}", hmac_hex(secret, &format!("{sid}{max_ts}")))
}

/// `Request.validate_csrf`.
pub fn validate_csrf(token: Option<&str>, secret: &str, sid: &str) -> bool {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return false;
    };
    let (hm, max_ts) = match token.rsplit_once('o') {
        Some((hm, ts)) => (hm, ts),
        None => ("", token),
    };
    if !max_ts.is_empty() {
        match max_ts.parse::<i64>() {
            Ok(ts) if ts >= chrono::Utc::now().timestamp() => {}
            _ => return false,
        }
    }
    let expected = hmac_hex(secret, &format!("{sid}{max_ts}"));
    // constant-time comparison (consteq)
    hm.len() == expected.len()
        && hm
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Keeps the session and sets its cookie as `_save_session` does: when it changed, or when
/// the browser does not hold this id yet.
fn save_session(state: &AppState, req: &WebRequest, mut resp: Response) -> Response {
    lock(&state.sessions).insert(req.sid.clone(), req.session.clone());
    if req.dirty || req.cookie_sid.as_deref() != Some(req.sid.as_str()) {
        set_session_cookie(&mut resp, &req.sid);
    }
    resp
}

fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

/// werkzeug's `redirect()`: the status, a relative `Location`, and its small HTML body.
fn redirect(location: &str, status: StatusCode) -> Response {
    // request.redirect(local=True): never to another host.
    let local = format!("/{}", location.trim_start_matches(['/', '\\']));
    let escaped = html_escape(&local);
    let body = format!(
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n\
         <p>You should be redirected automatically to the target URL: <a href=\"{escaped}\">{escaped}</a>. If not, click the link.\n"
    );
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&local) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

fn page_response(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\"/>\n<title>{}</title>\n</head>\n<body>\n{body}\n</body>\n</html>\n",
        html_escape(title)
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

fn server_error(e: crate::error::OdooError) -> Response {
    tracing::error!("web page failed: {e}");
    page_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal Server Error",
        "<p>The server encountered an internal error and was unable to complete your request.</p>",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_round_trip_and_are_bound_to_the_session() {
        let now = chrono::Utc::now().timestamp();
        let token = csrf_token("secret", "sid-a", now);
        assert!(validate_csrf(Some(&token), "secret", "sid-a"));
        assert!(!validate_csrf(Some(&token), "secret", "sid-b"));
        assert!(!validate_csrf(Some(&token), "other", "sid-a"));
        assert!(!validate_csrf(None, "secret", "sid-a"));
        let expired = csrf_token("secret", "sid-a", now - 2 * CSRF_TOKEN_SALT);
        assert!(!validate_csrf(Some(&expired), "secret", "sid-a"));
    }

    #[test]
    fn csrf_token_is_odoos_hmac_sha1() {
        // hmac.new(b'secret', b'abc1700000000', hashlib.sha1).hexdigest()
        let token = csrf_token("secret", "abc", 1_700_000_000 - CSRF_TOKEN_SALT);
        assert_eq!(
            token,
            format!("{}o1700000000", hmac_hex("secret", "abc1700000000"))
        );
        assert_eq!(
            hmac_hex("key", "The quick brown fox jumps over the lazy dog"),
            "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"
        );
    }
}
