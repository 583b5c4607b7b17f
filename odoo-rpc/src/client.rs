//! [`Client`]: typed calls of the `common`, `object` and `db` services over `/jsonrpc`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::error::RpcError;
use crate::transport::{HttpRequest, HttpResponse, Transport};
use crate::version::VersionInfo;
use crate::wire::{self, Request, ServiceParams, JSONRPC_PATH};

/// A record as returned by `read`/`search_read`: field name → value.
pub type Record = Map<String, Value>;

/// How idempotent calls are retried on network errors and HTTP 502/503/504.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Extra attempts after the first (0 = never retry).
    pub max_retries: u32,
    /// Delay before the first retry; doubled each time.
    pub base_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(250),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            base_delay: Duration::ZERO,
        }
    }
}

/// ORM methods that only read, so a retry cannot duplicate anything.
pub fn is_read_method(method: &str) -> bool {
    matches!(
        method,
        "search_read"
            | "search"
            | "search_count"
            | "read"
            | "read_group"
            | "fields_get"
            | "name_search"
            | "name_get"
            | "default_get"
            | "check_access_rights"
            | "has_group"
            | "web_search_read"
            | "web_read"
            | "load_pos_data"
            | "load_data"
            | "get_closing_control_data"
    )
}

/// A typed Odoo JSON-RPC client over a [`Transport`].
///
/// Cheap to share by reference; build one per Odoo server and Host.
#[derive(Debug)]
pub struct Client<T> {
    transport: T,
    host: Option<String>,
    retry: RetryPolicy,
    next_id: AtomicU64,
}

impl<T: Clone> Clone for Client<T> {
    fn clone(&self) -> Self {
        Client {
            transport: self.transport.clone(),
            host: self.host.clone(),
            retry: self.retry,
            next_id: AtomicU64::new(self.next_id.load(Ordering::Relaxed)),
        }
    }
}

impl<T: Transport> Client<T> {
    /// A client with the default retry policy and no Host override.
    pub fn new(transport: T) -> Self {
        Client {
            transport,
            host: None,
            retry: RetryPolicy::default(),
            next_id: AtomicU64::new(1),
        }
    }

    /// Sends this Host header on every request (Odoo's dbfilter `^%d$` picks the db from it).
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Replaces the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The Host override, if any.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// The underlying transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Serialises `params` into a `call` envelope with a fresh id.
    pub fn envelope<P: Serialize>(&self, params: P) -> Result<Vec<u8>, RpcError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        serde_json::to_vec(&Request::new(id, params))
            .map_err(|e| RpcError::InvalidRequest(format!("cannot serialise request: {e}")))
    }

    /// Posts a prepared body, retrying idempotent calls on network errors and 502/503/504.
    pub async fn send(
        &self,
        path: &str,
        body: Vec<u8>,
        idempotent: bool,
        cookie: Option<String>,
    ) -> Result<HttpResponse, RpcError> {
        let req = HttpRequest {
            path: path.to_owned(),
            body,
            host: self.host.clone(),
            cookie,
            idempotent,
        };
        let mut attempt: u32 = 0;
        loop {
            let res = self.transport.post(req.clone()).await;
            let retryable = match &res {
                Err(_) => true,
                Ok(r) => matches!(r.status, 502..=504),
            };
            if idempotent && retryable && attempt < self.retry.max_retries {
                let delay = self
                    .retry
                    .base_delay
                    .saturating_mul(2u32.saturating_pow(attempt));
                tracing::debug!(path, attempt, ?delay, "retrying idempotent Odoo call");
                self.transport.sleep(delay).await;
                attempt += 1;
                continue;
            }
            return res.map_err(RpcError::Transport);
        }
    }

    /// Calls `service.method(*args)` through `/jsonrpc` and returns the raw result.
    pub async fn call_service(
        &self,
        service: &str,
        method: &str,
        args: Vec<Value>,
        idempotent: bool,
    ) -> Result<Value, RpcError> {
        let body = self.envelope(ServiceParams {
            service: service.to_owned(),
            method: method.to_owned(),
            args,
        })?;
        let resp = self.send(JSONRPC_PATH, body, idempotent, None).await?;
        wire::decode_response(resp.status, &resp.body)
    }

    // ---- common -------------------------------------------------------------

    /// `common.version`: server version, no authentication needed.
    pub async fn version(&self) -> Result<VersionInfo, RpcError> {
        wire::from_value(self.call_service("common", "version", vec![], true).await?)
    }

    /// `common.authenticate(db, login, password, {})`: the uid, or `None` for wrong credentials.
    pub async fn authenticate(
        &self,
        db: &str,
        login: &str,
        password: &str,
    ) -> Result<Option<i64>, RpcError> {
        let v = self
            .call_service(
                "common",
                "authenticate",
                vec![json!(db), json!(login), json!(password), json!({})],
                true,
            )
            .await?;
        uid_or_false(v)
    }

    /// `common.login(db, login, password)`: the uid, or `None` for wrong credentials.
    pub async fn login(
        &self,
        db: &str,
        login: &str,
        password: &str,
    ) -> Result<Option<i64>, RpcError> {
        let v = self
            .call_service(
                "common",
                "login",
                vec![json!(db), json!(login), json!(password)],
                true,
            )
            .await?;
        uid_or_false(v)
    }

    // ---- object -------------------------------------------------------------

    /// `object.execute_kw(db, uid, password, model, method, args, kwargs)`; retried only for read methods.
    #[allow(clippy::too_many_arguments)]
    pub async fn execute_kw(
        &self,
        db: &str,
        uid: i64,
        password: &str,
        model: &str,
        method: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    ) -> Result<Value, RpcError> {
        let idempotent = is_read_method(method);
        self.execute_kw_with(db, uid, password, model, method, args, kwargs, idempotent)
            .await
    }

    /// `execute_kw` with an explicit idempotency flag (true allows retries).
    #[allow(clippy::too_many_arguments)]
    pub async fn execute_kw_with(
        &self,
        db: &str,
        uid: i64,
        password: &str,
        model: &str,
        method: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
        idempotent: bool,
    ) -> Result<Value, RpcError> {
        self.call_service(
            "object",
            "execute_kw",
            vec![
                json!(db),
                json!(uid),
                json!(password),
                json!(model),
                json!(method),
                Value::Array(args),
                Value::Object(kwargs),
            ],
            idempotent,
        )
        .await
    }

    /// A handle bound to `db`, `uid`, `password` with ORM helpers (`search_read`, `create`...).
    pub fn object(
        &self,
        db: impl Into<String>,
        uid: i64,
        password: impl Into<String>,
    ) -> Object<'_, T> {
        Object {
            client: self,
            db: db.into(),
            uid,
            password: password.into(),
            context: None,
        }
    }

    /// Installs modules: finds them in `ir.module.module`, then `button_immediate_install`s those
    /// not yet installed. Returns the names it asked Odoo to install (empty if all were installed).
    pub async fn install_modules(
        &self,
        db: &str,
        uid: i64,
        password: &str,
        names: &[&str],
    ) -> Result<Vec<String>, RpcError> {
        self.object(db, uid, password).install_modules(names).await
    }

    // ---- db -----------------------------------------------------------------

    /// `db.list`: database names (AccessDenied when the server has `list_db = False`).
    pub async fn db_list(&self) -> Result<Vec<String>, RpcError> {
        wire::from_value(self.call_service("db", "list", vec![], true).await?)
    }

    /// `db.db_exist(name)`: whether Odoo can connect to that database.
    pub async fn db_exist(&self, name: &str) -> Result<bool, RpcError> {
        wire::from_value(
            self.call_service("db", "db_exist", vec![json!(name)], true)
                .await?,
        )
    }

    /// `db.server_version`: e.g. `"18.0"`.
    pub async fn server_version(&self) -> Result<String, RpcError> {
        wire::from_value(
            self.call_service("db", "server_version", vec![], true)
                .await?,
        )
    }

    /// `db.create_database(master, name, demo, lang, user_password, login, country_code, phone)`.
    ///
    /// Odoo returns `true` even when initialisation failed after the database was created.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_database(
        &self,
        master: &str,
        name: &str,
        demo: bool,
        lang: &str,
        user_password: &str,
        login: &str,
        country_code: Option<&str>,
        phone: Option<&str>,
    ) -> Result<bool, RpcError> {
        let args = vec![
            json!(master),
            json!(name),
            json!(demo),
            json!(lang),
            json!(user_password),
            json!(login),
            json!(country_code),
            json!(phone),
        ];
        wire::from_value(
            self.call_service("db", "create_database", args, false)
                .await?,
        )
    }

    /// `db.duplicate_database(master, src, dst[, neutralize])`; the flag is sent only when true
    /// (some 16.0 builds accept only two arguments).
    pub async fn duplicate_database(
        &self,
        master: &str,
        src: &str,
        dst: &str,
        neutralize: bool,
    ) -> Result<bool, RpcError> {
        let mut args = vec![json!(master), json!(src), json!(dst)];
        if neutralize {
            args.push(json!(true));
        }
        wire::from_value(
            self.call_service("db", "duplicate_database", args, false)
                .await?,
        )
    }

    /// `db.drop(master, name)`: `false` when the database does not exist.
    pub async fn drop(&self, master: &str, name: &str) -> Result<bool, RpcError> {
        wire::from_value(
            self.call_service("db", "drop", vec![json!(master), json!(name)], false)
                .await?,
        )
    }

    /// `db.change_admin_password(master, new)`: rewrites the server's master password.
    pub async fn change_admin_password(
        &self,
        master: &str,
        new_password: &str,
    ) -> Result<bool, RpcError> {
        wire::from_value(
            self.call_service(
                "db",
                "change_admin_password",
                vec![json!(master), json!(new_password)],
                false,
            )
            .await?,
        )
    }
}

fn uid_or_false(v: Value) -> Result<Option<i64>, RpcError> {
    match v {
        Value::Bool(false) | Value::Null => Ok(None),
        Value::Number(n) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| RpcError::Decode(format!("uid is not an integer: {n}"))),
        other => Err(RpcError::Decode(format!(
            "expected uid or false, got {other}"
        ))),
    }
}

/// Options of `search`/`search_read`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchOptions {
    /// Maximum number of records.
    pub limit: Option<u64>,
    /// Records to skip.
    pub offset: Option<u64>,
    /// Sort spec, e.g. `"id"` or `"name desc"`.
    pub order: Option<String>,
}

impl SearchOptions {
    fn apply(&self, kw: &mut Map<String, Value>) {
        if let Some(l) = self.limit {
            kw.insert("limit".into(), json!(l));
        }
        if let Some(o) = self.offset {
            kw.insert("offset".into(), json!(o));
        }
        if let Some(o) = &self.order {
            kw.insert("order".into(), json!(o));
        }
    }
}

/// `object` service bound to one database and user, with ORM helpers.
#[derive(Debug, Clone)]
pub struct Object<'a, T> {
    client: &'a Client<T>,
    db: String,
    uid: i64,
    password: String,
    context: Option<Value>,
}

impl<'a, T: Transport> Object<'a, T> {
    /// Adds `context` (e.g. `{"allowed_company_ids": [1, 2]}`) to every call's kwargs.
    pub fn with_context(mut self, context: Value) -> Self {
        self.context = Some(context);
        self
    }

    /// The database name.
    pub fn db(&self) -> &str {
        &self.db
    }

    /// The user id.
    pub fn uid(&self) -> i64 {
        self.uid
    }

    /// `execute_kw(model, method, args, kwargs)`; the bound context is added unless kwargs has one.
    pub async fn execute_kw(
        &self,
        model: &str,
        method: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    ) -> Result<Value, RpcError> {
        self.execute_kw_with(model, method, args, kwargs, is_read_method(method))
            .await
    }

    /// `execute_kw` with an explicit idempotency flag (true allows retries).
    pub async fn execute_kw_with(
        &self,
        model: &str,
        method: &str,
        args: Vec<Value>,
        mut kwargs: Map<String, Value>,
        idempotent: bool,
    ) -> Result<Value, RpcError> {
        if let Some(ctx) = &self.context {
            kwargs.entry("context").or_insert_with(|| ctx.clone());
        }
        self.client
            .execute_kw_with(
                &self.db,
                self.uid,
                &self.password,
                model,
                method,
                args,
                kwargs,
                idempotent,
            )
            .await
    }

    /// `search_read(domain, fields=..., limit/offset/order)`.
    pub async fn search_read(
        &self,
        model: &str,
        domain: Value,
        fields: &[&str],
        opts: &SearchOptions,
    ) -> Result<Vec<Record>, RpcError> {
        let mut kw = Map::new();
        kw.insert("fields".into(), json!(fields));
        opts.apply(&mut kw);
        wire::from_value(
            self.execute_kw(model, "search_read", vec![domain], kw)
                .await?,
        )
    }

    /// `search(domain)`: matching ids.
    pub async fn search(
        &self,
        model: &str,
        domain: Value,
        opts: &SearchOptions,
    ) -> Result<Vec<i64>, RpcError> {
        let mut kw = Map::new();
        opts.apply(&mut kw);
        wire::from_value(self.execute_kw(model, "search", vec![domain], kw).await?)
    }

    /// `search_count(domain)`.
    pub async fn search_count(&self, model: &str, domain: Value) -> Result<i64, RpcError> {
        wire::from_value(
            self.execute_kw(model, "search_count", vec![domain], Map::new())
                .await?,
        )
    }

    /// `read(ids, fields)` (empty `fields` = all fields).
    pub async fn read(
        &self,
        model: &str,
        ids: &[i64],
        fields: &[&str],
    ) -> Result<Vec<Record>, RpcError> {
        let mut kw = Map::new();
        if !fields.is_empty() {
            kw.insert("fields".into(), json!(fields));
        }
        wire::from_value(self.execute_kw(model, "read", vec![json!(ids)], kw).await?)
    }

    /// `create(vals)` with one dict: the new id.
    pub async fn create(&self, model: &str, vals: Map<String, Value>) -> Result<i64, RpcError> {
        wire::from_value(
            self.execute_kw(model, "create", vec![Value::Object(vals)], Map::new())
                .await?,
        )
    }

    /// `write(ids, vals)`.
    pub async fn write(
        &self,
        model: &str,
        ids: &[i64],
        vals: Map<String, Value>,
    ) -> Result<bool, RpcError> {
        wire::from_value(
            self.execute_kw(
                model,
                "write",
                vec![json!(ids), Value::Object(vals)],
                Map::new(),
            )
            .await?,
        )
    }

    /// `unlink(ids)`.
    pub async fn unlink(&self, model: &str, ids: &[i64]) -> Result<bool, RpcError> {
        wire::from_value(
            self.execute_kw(model, "unlink", vec![json!(ids)], Map::new())
                .await?,
        )
    }

    /// See [`Client::install_modules`].
    pub async fn install_modules(&self, names: &[&str]) -> Result<Vec<String>, RpcError> {
        let found = self
            .search_read(
                "ir.module.module",
                json!([["name", "in", names]]),
                &["id", "name", "state"],
                &SearchOptions::default(),
            )
            .await?;
        let mut unknown = Vec::new();
        let mut to_install: Vec<(i64, String)> = Vec::new();
        for &name in names {
            let rec = found
                .iter()
                .find(|r| r.get("name").and_then(Value::as_str) == Some(name));
            let Some(rec) = rec else {
                unknown.push(name.to_owned());
                continue;
            };
            let state = rec.get("state").and_then(Value::as_str).unwrap_or("");
            let id = rec.get("id").and_then(Value::as_i64).ok_or_else(|| {
                RpcError::Decode(format!("ir.module.module {name} has no integer id"))
            })?;
            match state {
                "installed" | "to upgrade" => {}
                "uninstallable" => {
                    return Err(RpcError::InvalidRequest(format!(
                        "module {name} is uninstallable on this server"
                    )))
                }
                _ => {
                    if !to_install.iter().any(|(i, _)| *i == id) {
                        to_install.push((id, name.to_owned()));
                    }
                }
            }
        }
        if !unknown.is_empty() {
            return Err(RpcError::UnknownModules(unknown));
        }
        if to_install.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = to_install.iter().map(|(i, _)| *i).collect();
        self.execute_kw(
            "ir.module.module",
            "button_immediate_install",
            vec![json!(ids)],
            Map::new(),
        )
        .await?;
        Ok(to_install.into_iter().map(|(_, n)| n).collect())
    }
}
