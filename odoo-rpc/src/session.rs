//! Web-session flavour: `/web/session/authenticate` + `/web/dataset/call_kw` with the
//! `session_id` cookie (what the POS front end uses).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::client::{is_read_method, Client, Object};
use crate::error::RpcError;
use crate::transport::{MaybeSend, MaybeSync, Transport};
use crate::version::OdooVersion;
use crate::wire::{self, odoo_false, AuthenticateParams, CallKwParams, SESSION_AUTHENTICATE_PATH};

/// Something that can run an ORM method by keyword call: [`Object`] (execute_kw) or [`WebSession`] (call_kw).
pub trait KwCaller: MaybeSync {
    /// Runs `model.method(*args, **kwargs)`; `idempotent` allows the client to retry it.
    fn call_kw_value(
        &self,
        model: &str,
        method: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
        idempotent: bool,
    ) -> impl Future<Output = Result<Value, RpcError>> + MaybeSend;

    /// POS helpers for the given Odoo version.
    fn pos(&self, version: OdooVersion) -> crate::pos::Pos<'_, Self>
    where
        Self: Sized,
    {
        crate::pos::Pos::new(self, version)
    }
}

impl<T: Transport> KwCaller for Object<'_, T> {
    fn call_kw_value(
        &self,
        model: &str,
        method: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
        idempotent: bool,
    ) -> impl Future<Output = Result<Value, RpcError>> + MaybeSend {
        self.execute_kw_with(model, method, args, kwargs, idempotent)
    }
}

/// Odoo's `session_info` answer of `/web/session/authenticate` (typed part + the whole raw value).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionInfo {
    /// Logged-in user id (`None` when 2FA is pending: Odoo answers `{"uid": null}`).
    pub uid: Option<i64>,
    /// Database of the session.
    pub db: Option<String>,
    /// User display name.
    pub name: Option<String>,
    /// Login.
    pub username: Option<String>,
    /// Partner of the user.
    pub partner_id: Option<i64>,
    /// Member of `base.group_system`.
    pub is_system: bool,
    /// Admin (`base.group_erp_manager` or superuser).
    pub is_admin: bool,
    /// `server_version` string.
    pub server_version: Option<String>,
    /// `user_context` (lang, tz, uid...).
    pub user_context: Value,
    /// Companies the user may use (internal users only).
    pub user_companies: Option<UserCompanies>,
    /// The whole `result` as Odoo sent it.
    pub raw: Value,
}

/// `session_info.user_companies`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UserCompanies {
    /// Current company id.
    #[serde(deserialize_with = "odoo_false::many2one_id", default)]
    pub current_company: Option<i64>,
    /// Allowed companies keyed by id (as a string, as in JSON).
    #[serde(default)]
    pub allowed_companies: BTreeMap<String, AllowedCompany>,
}

/// One entry of `user_companies.allowed_companies`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AllowedCompany {
    /// Company id.
    pub id: i64,
    /// Company name.
    pub name: String,
    /// Sequence.
    #[serde(default)]
    pub sequence: Option<i64>,
    /// Child companies.
    #[serde(default)]
    pub child_ids: Vec<i64>,
    /// Parent company (`false` → `None`).
    #[serde(deserialize_with = "odoo_false::many2one_id", default)]
    pub parent_id: Option<i64>,
}

#[derive(Deserialize)]
struct SessionInfoTyped {
    #[serde(default, deserialize_with = "odoo_false::option")]
    uid: Option<i64>,
    #[serde(default, deserialize_with = "odoo_false::option")]
    db: Option<String>,
    #[serde(default, deserialize_with = "odoo_false::option")]
    name: Option<String>,
    #[serde(default, deserialize_with = "odoo_false::option")]
    username: Option<String>,
    #[serde(default, deserialize_with = "odoo_false::many2one_id")]
    partner_id: Option<i64>,
    #[serde(default)]
    is_system: bool,
    #[serde(default)]
    is_admin: bool,
    #[serde(default, deserialize_with = "odoo_false::option")]
    server_version: Option<String>,
    #[serde(default)]
    user_context: Value,
    #[serde(default, deserialize_with = "odoo_false::option")]
    user_companies: Option<UserCompanies>,
}

impl SessionInfo {
    /// Parses a `session_info` value; unknown keys stay in [`SessionInfo::raw`].
    pub fn from_value(raw: Value) -> Result<Self, RpcError> {
        if !raw.is_object() {
            return Err(RpcError::Decode(format!(
                "session info is not an object: {raw}"
            )));
        }
        let t: SessionInfoTyped = serde_json::from_value(raw.clone())
            .map_err(|e| RpcError::Decode(format!("unexpected session info: {e}")))?;
        Ok(SessionInfo {
            uid: t.uid,
            db: t.db,
            name: t.name,
            username: t.username,
            partner_id: t.partner_id,
            is_system: t.is_system,
            is_admin: t.is_admin,
            server_version: t.server_version,
            user_context: t.user_context,
            user_companies: t.user_companies,
            raw,
        })
    }

    /// The Odoo series from `server_version_info`/`server_version`, if known.
    pub fn odoo_version(&self) -> Option<OdooVersion> {
        let info = self
            .raw
            .get("server_version_info")
            .and_then(Value::as_array)
            .cloned();
        let vi = crate::version::VersionInfo {
            server_version: self.server_version.clone().unwrap_or_default(),
            server_version_info: info.unwrap_or_default(),
            server_serie: String::new(),
            protocol_version: 1,
        };
        vi.odoo_version()
    }
}

/// A web session: logs in through `/web/session/authenticate`, then calls `/web/dataset/call_kw`
/// with the `session_id` cookie (kept here on native; kept by the browser on wasm).
#[derive(Debug)]
pub struct WebSession<T> {
    client: Client<T>,
    session_id: Mutex<Option<String>>,
}

impl<T: Transport> WebSession<T> {
    /// A session that is not logged in yet.
    pub fn new(client: Client<T>) -> Self {
        WebSession {
            client,
            session_id: Mutex::new(None),
        }
    }

    /// Resumes a session from a known `session_id` cookie value.
    pub fn with_session_id(client: Client<T>, session_id: impl Into<String>) -> Self {
        WebSession {
            client,
            session_id: Mutex::new(Some(session_id.into())),
        }
    }

    /// The underlying client.
    pub fn client(&self) -> &Client<T> {
        &self.client
    }

    /// The current `session_id` cookie value (`None` on wasm, where the browser keeps it).
    pub fn session_id(&self) -> Option<String> {
        self.session_id
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn cookie(&self) -> Option<String> {
        self.session_id().map(|s| format!("session_id={s}"))
    }

    fn remember(&self, resp: &crate::transport::HttpResponse) {
        if let Some(sid) = resp.session_id() {
            *self.session_id.lock().unwrap_or_else(|e| e.into_inner()) = Some(sid);
        }
    }

    /// `/web/session/authenticate(db, login, password)`; stores the new `session_id`.
    ///
    /// Errors: `AccessDenied` for wrong credentials, `AccessError "Database not found."` when the
    /// db does not pass dbfilter for the Host (set [`Client::with_host`]).
    pub async fn session_authenticate(
        &self,
        db: &str,
        login: &str,
        password: &str,
    ) -> Result<SessionInfo, RpcError> {
        let body = self.client.envelope(AuthenticateParams {
            db: db.to_owned(),
            login: login.to_owned(),
            password: password.to_owned(),
        })?;
        let resp = self
            .client
            .send(SESSION_AUTHENTICATE_PATH, body, true, self.cookie())
            .await?;
        let value = wire::decode_response(resp.status, &resp.body)?;
        self.remember(&resp);
        SessionInfo::from_value(value)
    }

    /// `/web/dataset/call_kw/<model>/<method>`; read methods are retried on network errors.
    pub async fn call_kw(
        &self,
        model: &str,
        method: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    ) -> Result<Value, RpcError> {
        self.call_kw_with(model, method, args, kwargs, is_read_method(method))
            .await
    }

    /// Like [`WebSession::call_kw`] with an explicit idempotency flag.
    pub async fn call_kw_with(
        &self,
        model: &str,
        method: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
        idempotent: bool,
    ) -> Result<Value, RpcError> {
        let body = self.client.envelope(CallKwParams {
            model: model.to_owned(),
            method: method.to_owned(),
            args,
            kwargs,
        })?;
        let resp = self
            .client
            .send(
                &wire::call_kw_path(model, method),
                body,
                idempotent,
                self.cookie(),
            )
            .await?;
        self.remember(&resp);
        wire::decode_response(resp.status, &resp.body)
    }
}

impl<T: Transport> KwCaller for WebSession<T> {
    fn call_kw_value(
        &self,
        model: &str,
        method: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
        idempotent: bool,
    ) -> impl Future<Output = Result<Value, RpcError>> + MaybeSend {
        self.call_kw_with(model, method, args, kwargs, idempotent)
    }
}
