//! Shared test helpers: a scripted in-memory transport and testdata access.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use odoo_rpc::{
    HttpRequest, HttpResponse, MaybeSend, Transport, TransportError, TransportErrorKind,
};
use serde_json::Value;

/// Path of `testdata/odoo18`.
pub fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/odoo18")
}

/// An HTTP 200 answer with a JSON body.
pub fn ok(body: &str) -> Result<HttpResponse, TransportError> {
    Ok(HttpResponse {
        status: 200,
        body: body.as_bytes().to_vec(),
        set_cookies: vec![],
    })
}

/// An answer with a status and body.
pub fn status(code: u16, body: &str) -> Result<HttpResponse, TransportError> {
    Ok(HttpResponse {
        status: code,
        body: body.as_bytes().to_vec(),
        set_cookies: vec![],
    })
}

/// A network failure.
pub fn net_err() -> Result<HttpResponse, TransportError> {
    Err(TransportError::new(
        TransportErrorKind::Connect,
        "connection refused",
    ))
}

/// A success envelope around `result`.
pub fn result(v: Value) -> Result<HttpResponse, TransportError> {
    ok(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "result": v}).to_string())
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Result<HttpResponse, TransportError>>,
    requests: Vec<HttpRequest>,
    sleeps: Vec<Duration>,
}

/// Replays scripted answers in order and records every request and sleep.
#[derive(Clone, Default)]
pub struct MockTransport {
    inner: Arc<Mutex<Inner>>,
}

impl MockTransport {
    /// A transport that answers with `script`, in order.
    pub fn new(script: Vec<Result<HttpResponse, TransportError>>) -> Self {
        let m = MockTransport::default();
        m.inner.lock().unwrap().script = script.into();
        m
    }

    /// Requests seen so far.
    pub fn requests(&self) -> Vec<HttpRequest> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// Request bodies seen so far, parsed.
    pub fn bodies(&self) -> Vec<Value> {
        self.requests()
            .iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    }

    /// Sleeps requested so far.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.inner.lock().unwrap().sleeps.clone()
    }

    /// Answers not consumed.
    pub fn remaining(&self) -> usize {
        self.inner.lock().unwrap().script.len()
    }
}

impl Transport for MockTransport {
    fn post(
        &self,
        req: HttpRequest,
    ) -> impl std::future::Future<Output = Result<HttpResponse, TransportError>> + MaybeSend {
        let mut g = self.inner.lock().unwrap();
        g.requests.push(req);
        let next = g.script.pop_front().unwrap_or_else(|| {
            Err(TransportError::new(
                TransportErrorKind::Other,
                "mock: script exhausted",
            ))
        });
        std::future::ready(next)
    }

    fn sleep(&self, delay: Duration) -> impl std::future::Future<Output = ()> + MaybeSend {
        self.inner.lock().unwrap().sleeps.push(delay);
        std::future::ready(())
    }
}

/// Removes the volatile `id` from a request envelope.
pub fn without_id(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("id");
    }
    v
}

/// Response bodies in a pos/*.txt file: every JSON document on lines starting with `{`.
pub fn pos_bodies(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(testdata().join("pos").join(name)).unwrap();
    text.lines()
        .filter(|l| l.starts_with('{'))
        .flat_map(|l| odoo_rpc::wire::split_concatenated(l.as_bytes()).unwrap())
        .collect()
}

/// Turns every number into an f64 so `1` and `1.0` compare equal (Python treats them alike).
pub fn numbers_as_f64(v: Value) -> Value {
    match v {
        Value::Number(n) => n
            .as_f64()
            .map_or(Value::Number(n), |f| serde_json::json!(f)),
        Value::Array(a) => Value::Array(a.into_iter().map(numbers_as_f64).collect()),
        Value::Object(o) => {
            Value::Object(o.into_iter().map(|(k, v)| (k, numbers_as_f64(v))).collect())
        }
        other => other,
    }
}
