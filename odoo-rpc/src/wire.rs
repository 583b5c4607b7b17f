//! Serde types for Odoo's JSON-RPC 2.0 envelope and the parameter shapes of its routes.
//!
//! Facts (see `shared/docs/odoo-protocol.md` §1): requests are
//! `{"jsonrpc":"2.0","method":"call","params":{...},"id":N}`; a success answer
//! is `{"jsonrpc":"2.0","id":N,"result":...}` where an absent `result` means
//! `null`; a failure answer carries an `error` object instead (always HTTP 200).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{ErrorPayload, OdooError, RpcError};

/// Path of the generic service endpoint (`common`, `object`, `db`).
pub const JSONRPC_PATH: &str = "/jsonrpc";
/// Path of the web login route that sets the `session_id` cookie.
pub const SESSION_AUTHENTICATE_PATH: &str = "/web/session/authenticate";

/// Path of `/web/dataset/call_kw/<model>/<method>` (the suffix is cosmetic for Odoo).
pub fn call_kw_path(model: &str, method: &str) -> String {
    format!("/web/dataset/call_kw/{model}/{method}")
}

/// A JSON-RPC 2.0 request envelope as Odoo expects it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request<P> {
    /// Always `"2.0"`.
    pub jsonrpc: String,
    /// Always `"call"` (Odoo routes by URL and ignores it).
    pub method: String,
    /// Named parameters of the route.
    pub params: P,
    /// Request id, echoed back by Odoo.
    pub id: u64,
}

impl<P> Request<P> {
    /// Wraps `params` in a `call` envelope with the given id.
    pub fn new(id: u64, params: P) -> Self {
        Request {
            jsonrpc: "2.0".to_owned(),
            method: "call".to_owned(),
            params,
            id,
        }
    }
}

/// Parameters of `POST /jsonrpc`: a service, one of its methods and positional args.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceParams {
    /// `"common"`, `"object"` or `"db"`.
    pub service: String,
    /// Method of the service, e.g. `"execute_kw"`.
    pub method: String,
    /// Positional arguments.
    pub args: Vec<Value>,
}

/// Parameters of `POST /web/session/authenticate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthenticateParams {
    /// Database name (must pass the server's dbfilter for the request's Host).
    pub db: String,
    /// User login.
    pub login: String,
    /// Password or API key.
    pub password: String,
}

/// Parameters of `POST /web/dataset/call_kw[/<model>/<method>]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallKwParams {
    /// Model name, e.g. `"res.partner"`.
    pub model: String,
    /// Method name, e.g. `"search_read"`.
    pub method: String,
    /// Positional arguments (record ids first for non-`@api.model` methods).
    pub args: Vec<Value>,
    /// Keyword arguments; a `context` entry is applied by Odoo.
    pub kwargs: Map<String, Value>,
}

/// The `error` member of a failed response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorObject {
    /// 200 (16–18), 0 (19), 100 (session expired), 404 (not found).
    #[serde(default)]
    pub code: i64,
    /// Generic text, e.g. `"Odoo Server Error"`.
    #[serde(default)]
    pub message: String,
    /// Details of the Python exception.
    #[serde(default)]
    pub data: Option<ErrorData>,
}

/// The `error.data` member: the serialised Python exception.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ErrorData {
    /// Qualified exception class, e.g. `"odoo.exceptions.UserError"`.
    #[serde(default)]
    pub name: String,
    /// Python traceback.
    #[serde(default)]
    pub debug: String,
    /// Human message (`str(exception)`).
    #[serde(default)]
    pub message: String,
    /// Exception args.
    #[serde(default)]
    pub arguments: Vec<Value>,
    /// Exception context (usually `{}`).
    #[serde(default)]
    pub context: Value,
}

/// A response envelope; `result` absent means `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// `"2.0"` from Odoo (not checked).
    #[serde(default)]
    pub jsonrpc: Option<String>,
    /// Echo of the request id (`null` when Odoo failed before reading it).
    #[serde(default)]
    pub id: Value,
    /// The result; `None` when absent or `null`.
    #[serde(default)]
    pub result: Option<Value>,
    /// The error, if the call failed.
    #[serde(default)]
    pub error: Option<ErrorObject>,
}

impl Response {
    /// Turns the envelope into the result value or a typed Odoo error.
    pub fn into_result(self) -> Result<Value, OdooError> {
        match self.error {
            Some(err) => Err(OdooError::from_payload(ErrorPayload::from(err))),
            None => Ok(self.result.unwrap_or(Value::Null)),
        }
    }
}

/// Longest body excerpt kept in [`RpcError::Http`] and decode errors.
pub const SNIPPET_LEN: usize = 512;

/// A lossy UTF-8 excerpt of `body`, at most [`SNIPPET_LEN`] bytes, cut on a char boundary.
pub fn snippet(body: &[u8]) -> String {
    let cut = body.len().min(SNIPPET_LEN);
    let mut s = String::from_utf8_lossy(&body[..cut]).into_owned();
    if s.len() > SNIPPET_LEN {
        // Replacement characters take 3 bytes: cut again on a char boundary.
        let mut end = SNIPPET_LEN;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    if body.len() > cut || s.len() >= SNIPPET_LEN {
        s.push('…');
    }
    s
}

/// Decodes an HTTP answer of a JSON route into the `result` value.
///
/// Non-200 statuses give [`RpcError::Http`] (Odoo answers plain text/HTML 400
/// for bad JSON and HTML 404 for unrouted paths); a body that is not a JSON-RPC
/// object gives [`RpcError::Decode`]; an `error` member gives [`RpcError::Odoo`].
/// Never panics, whatever the bytes.
pub fn decode_response(status: u16, body: &[u8]) -> Result<Value, RpcError> {
    if status != 200 {
        return Err(RpcError::Http {
            status,
            body: snippet(body),
        });
    }
    let resp: Response = serde_json::from_slice(body)
        .map_err(|e| RpcError::Decode(format!("invalid JSON-RPC response: {e}")))?;
    resp.into_result().map_err(RpcError::Odoo)
}

/// Decodes an HTTP answer and converts its `result` into `R`.
pub fn decode_typed<R: serde::de::DeserializeOwned>(
    status: u16,
    body: &[u8],
) -> Result<R, RpcError> {
    from_value(decode_response(status, body)?)
}

/// Converts a result value into `R`, mapping mismatches to [`RpcError::Decode`].
pub fn from_value<R: serde::de::DeserializeOwned>(value: Value) -> Result<R, RpcError> {
    serde_json::from_value(value)
        .map_err(|e| RpcError::Decode(format!("unexpected result shape: {e}")))
}

/// Splits a byte buffer holding one or more concatenated JSON documents
/// (e.g. `{...}{...}`) into values, using a streaming deserializer.
pub fn split_concatenated(body: &[u8]) -> Result<Vec<Value>, RpcError> {
    serde_json::Deserializer::from_slice(body)
        .into_iter::<Value>()
        .map(|r| r.map_err(|e| RpcError::Decode(format!("invalid JSON in stream: {e}"))))
        .collect()
}

/// Serde helpers for Odoo's habit of sending `false` for "no value".
pub mod odoo_false {
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    /// Deserializes `false`/`null` as `None`, anything else as `Some(T)`.
    pub fn option<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: serde::de::DeserializeOwned,
    {
        let v = Value::deserialize(d)?;
        match v {
            Value::Null | Value::Bool(false) => Ok(None),
            other => serde_json::from_value(other)
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }

    /// Deserializes a many2one (`[id, "name"]`, bare `id`, or `false`) as its id.
    pub fn many2one_id<'de, D>(d: D) -> Result<Option<i64>, D::Error>
    where
        D: Deserializer<'de>,
    {
        let v = Value::deserialize(d)?;
        Ok(super::many2one_id(&v))
    }
}

/// The id of a many2one value: `[id, "name"]`, a bare integer id, or `None` for `false`/null.
pub fn many2one_id(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::Array(a) => a.first().and_then(Value::as_i64),
        _ => None,
    }
}
