//! Bad input never panics either side: malformed requests to the simulator get Odoo's
//! shapes (400 `Invalid JSON data`, TypeError/ValueError envelopes, 413), and the client
//! fed garbage by a tiny local TCP server gets typed errors (Decode/Http/Transport).

use conformance::*;
use odoo_rpc::{OdooVersion, PosOrder, RpcError, TransportErrorKind, WebSession};
use serde_json::{json, Value};

fn rpc(service: &str, method: &str, args: Value) -> Value {
    json!({"jsonrpc": "2.0", "method": "call", "id": 1,
           "params": {"service": service, "method": method, "args": args}})
}

async fn still_alive(url: &str) {
    let (c, _) = client(url);
    assert_eq!(
        c.version().await.expect("sim still answers").server_version,
        "18.0-20250702"
    );
}

#[tokio::test]
async fn malformed_json_is_a_plain_400() {
    let sim = shared_sim();
    for body in [
        &b"{\"jsonrpc\": \"2.0\", \"params\": "[..],
        b"not json at all",
        b"",
        b"\xff\xfe\x00garbage",
        b"{\"a\": 1}}",
    ] {
        let r = raw_post(&sim.url, "/jsonrpc", &[], body.to_vec()).await;
        assert_eq!(r.status, 400, "{:?}", String::from_utf8_lossy(body));
        assert_eq!(r.text(), "Invalid JSON data");
    }
    // Deep nesting must not blow the server's stack.
    let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    let r = raw_post(&sim.url, "/jsonrpc", &[], deep).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.text(), "Invalid JSON data");
    // Valid JSON that is not an object.
    for body in ["[1, 2]", "42", "\"call\"", "null"] {
        let r = raw_post(&sim.url, "/jsonrpc", &[], body).await;
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.text(), "Invalid JSON-RPC data");
    }
    still_alive(&sim.url).await;
}

#[tokio::test]
async fn wrong_content_type_and_unrouted_paths_are_html() {
    let sim = shared_sim();
    let body = serde_json::to_vec(&rpc("common", "version", json!([]))).unwrap();
    let r = raw_post(
        &sim.url,
        "/jsonrpc",
        &[("Content-Type", "text/plain")],
        body.clone(),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/html"));
    assert!(
        r.text().contains("is type=&#x27;json&#x27;") || r.text().contains("type='json'"),
        "{}",
        r.text()
    );
    let r = raw_post(
        &sim.url,
        "/jsonrpc",
        &[("Content-Type", "application/json-rpc")],
        body.clone(),
    )
    .await;
    assert_eq!(r.status, 200, "application/json-rpc is accepted");
    let r = raw_post(&sim.url, "/no/such/route", &[], body).await;
    assert_eq!(r.status, 404);
    assert!(
        r.text().contains("<title>404 Not Found</title>"),
        "{}",
        r.text()
    );
}

#[tokio::test]
async fn wrong_types_get_type_and_value_error_envelopes() {
    let sim = shared_sim();
    let db = TestDb::new(SimCatalogue::None).await;
    let env = |v: Value| v;
    // uid as a string that is not a number → ValueError
    let r = raw_json(
        &sim.url,
        "/jsonrpc",
        &[],
        &rpc(
            "object",
            "execute_kw",
            json!([
                db.name,
                "abc",
                "admin",
                "res.partner",
                "search_count",
                [[]],
                {}
            ]),
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_error_envelope(
        &r.json(),
        Some(&json!(1)),
        200,
        "builtins.ValueError",
        "invalid literal for int() with base 10: 'abc'",
    );
    // uid as a numeric string is coerced like int()
    let r = raw_json(
        &sim.url,
        "/jsonrpc",
        &[],
        &rpc(
            "object",
            "execute_kw",
            json!([
                db.name,
                "2",
                "admin",
                "res.partner",
                "search_count",
                [[["id", "=", 1]]],
                {}
            ]),
        ),
    )
    .await;
    assert_eq!(assert_ok_envelope(&r.json(), &json!(1)), json!(1));
    // args not a list
    let r = raw_json(
        &sim.url,
        "/jsonrpc",
        &[],
        &rpc("common", "version", json!(5)),
    )
    .await;
    let e = assert_error_envelope(
        &r.json(),
        Some(&json!(1)),
        200,
        "builtins.TypeError",
        "odoo.http.dispatch_rpc() argument after * must be an iterable, not int",
    );
    assert_eq!(e["data"]["arguments"].as_array().map(Vec::len), Some(1));
    // execute_kw method args not a list
    let r = raw_json(
        &sim.url,
        "/jsonrpc",
        &[],
        &rpc(
            "object",
            "execute_kw",
            json!([db.name, 2, "admin", "res.partner", "search_count", 5, {}]),
        ),
    )
    .await;
    let v = r.json();
    assert_eq!(v["error"]["data"]["name"], "builtins.TypeError", "{v}");
    assert_error_envelope(
        &v,
        Some(&json!(1)),
        200,
        "builtins.TypeError",
        v["error"]["data"]["message"].as_str().unwrap(),
    );
    // kwargs not a mapping
    let r = raw_json(
        &sim.url,
        "/jsonrpc",
        &[],
        &rpc(
            "object",
            "execute_kw",
            json!([db.name, 2, "admin", "res.partner", "search_count", [[]], 7]),
        ),
    )
    .await;
    assert_eq!(r.json()["error"]["data"]["name"], "builtins.TypeError");
    // params missing the required `args` → TypeError; params not an object → TypeError
    let r = raw_json(
        &sim.url,
        "/jsonrpc",
        &[],
        &env(json!({"jsonrpc": "2.0", "method": "call", "id": "x", "params": {"service": "common", "method": "version"}})),
    )
    .await;
    let v = r.json();
    assert_eq!(v["id"], "x", "any id is echoed");
    assert_eq!(v["error"]["data"]["name"], "builtins.TypeError", "{v}");
    let r = raw_json(
        &sim.url,
        "/jsonrpc",
        &[],
        &json!({"jsonrpc": "2.0", "id": 3, "params": 12}),
    )
    .await;
    let v = r.json();
    assert_error_envelope(
        &v,
        Some(&json!(3)),
        200,
        "builtins.TypeError",
        "'int' object is not iterable",
    );
    // no id at all → id null; unknown params are dropped
    let r = raw_json(
        &sim.url,
        "/jsonrpc",
        &[],
        &json!({"jsonrpc": "2.0", "method": "call", "params": {"service": "common", "method": "version", "args": [], "extra": 1}}),
    )
    .await;
    let v = r.json();
    assert_eq!(v["id"], Value::Null);
    assert_eq!(v["result"]["server_serie"], "18.0");
    // authenticate with non-string credentials is just a failed login
    let r = raw_json(
        &sim.url,
        "/jsonrpc",
        &[],
        &rpc("common", "authenticate", json!([db.name, 5, [1], {}])),
    )
    .await;
    assert_eq!(r.json()["result"], json!(false));
    still_alive(&sim.url).await;
}

#[tokio::test]
async fn body_over_128_mib_is_413() {
    const BIG: usize = 130 * 1024 * 1024;
    let sim = shared_sim();
    // 130 MiB: just over Odoo's (werkzeug's) 128 MiB limit (130 MB would be under it).
    let mut body = Vec::with_capacity(BIG);
    body.extend_from_slice(b"{\"jsonrpc\": \"2.0\", \"id\": 1, \"params\": {\"pad\": \"");
    body.resize(BIG - 3, b'x');
    body.extend_from_slice(b"\"}}");
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/jsonrpc", sim.url))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await;
    match r {
        Ok(r) => {
            assert_eq!(r.status().as_u16(), 413);
            let t = r.text().await.unwrap_or_default();
            assert!(t.contains("Request Entity Too Large"), "{t}");
        }
        // The server may close the connection before the client has finished sending.
        Err(e) => panic!("expected a 413 answer, got a transport error: {e}"),
    }
    still_alive(&sim.url).await;
}

// ---------------------------------------------------------------- client vs garbage

async fn client_for(response: Vec<u8>) -> (odoo_rpc::Client<Rec>, Rec) {
    let url = fake_server(response).await;
    client(&url)
}

fn ok_json(body: &[u8]) -> Vec<u8> {
    http_response("200 OK", "application/json", body)
}

#[tokio::test]
async fn garbage_and_truncated_json_are_decode_errors() {
    for body in [
        &b"garbage"[..],
        b"{\"jsonrpc\": \"2.0\", \"id\": 1, \"res",
        b"",
        b"\xff\xfe\xfd",
        b"[1, 2, 3]",
        b"null",
        b"{\"jsonrpc\": \"2.0\", \"id\": 1, \"error\": \"boom\"}",
    ] {
        let (c, _) = client_for(ok_json(body)).await;
        match c.version().await {
            Err(RpcError::Decode(msg)) => assert!(msg.len() < 1024, "{msg}"),
            other => panic!(
                "{:?}: expected Decode, got {other:?}",
                String::from_utf8_lossy(body)
            ),
        }
        let (c, _) = client_for(ok_json(body)).await;
        let ws = WebSession::new(c);
        assert!(
            matches!(
                ws.session_authenticate("db", "a", "b").await,
                Err(RpcError::Decode(_))
            ),
            "session_authenticate on {:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[tokio::test]
async fn results_of_the_wrong_shape_are_decode_errors() {
    let cases: Vec<(&str, Value)> = vec![
        (
            "authenticate",
            json!({"jsonrpc": "2.0", "id": 1, "result": "abc"}),
        ),
        (
            "authenticate",
            json!({"jsonrpc": "2.0", "id": 1, "result": 1.5}),
        ),
        (
            "db_list",
            json!({"jsonrpc": "2.0", "id": 1, "result": {"a": 1}}),
        ),
        (
            "version",
            json!({"jsonrpc": "2.0", "id": 1, "result": {"server_serie": "18.0"}}),
        ),
        (
            "session",
            json!({"jsonrpc": "2.0", "id": 1, "result": [1, 2]}),
        ),
        (
            "session",
            json!({"jsonrpc": "2.0", "id": 1, "result": {"uid": "two"}}),
        ),
        (
            "push",
            json!({"jsonrpc": "2.0", "id": 1, "result": {"orders": []}}),
        ),
        (
            "push",
            json!({"jsonrpc": "2.0", "id": 1, "result": {"pos.order": [{"uuid": "u", "id": "x"}]}}),
        ),
        (
            "search_count",
            json!({"jsonrpc": "2.0", "id": 1, "result": "many"}),
        ),
    ];
    for (call, body) in cases {
        let (c, _) = client_for(ok_json(&serde_json::to_vec(&body).unwrap())).await;
        let r: Result<(), RpcError> = match call {
            "authenticate" => c.authenticate("db", "a", "b").await.map(drop),
            "db_list" => c.db_list().await.map(drop),
            "version" => c.version().await.map(drop),
            "session" => WebSession::new(c)
                .session_authenticate("db", "a", "b")
                .await
                .map(drop),
            "push" => {
                let ws = WebSession::new(c);
                let pos = odoo_rpc::Pos::new(&ws, OdooVersion::V18);
                pos.push_orders(&[PosOrder::new("u", 1)]).await.map(drop)
            }
            _ => c
                .object("db", 2, "pw")
                .search_count("res.partner", json!([]))
                .await
                .map(drop),
        };
        assert!(
            matches!(r, Err(RpcError::Decode(_))),
            "{call} on {body}: {r:?}"
        );
    }
    // A sparse error envelope still classifies without panicking.
    let (c, _) = client_for(ok_json(br#"{"jsonrpc":"2.0","id":1,"error":{"code":200}}"#)).await;
    match c.version().await {
        Err(RpcError::Odoo(odoo_rpc::OdooError::Server { name, .. })) => assert_eq!(name, ""),
        other => panic!("{other:?}"),
    }
    // A missing result with no error means null.
    let (c, _) = client_for(ok_json(br#"{"jsonrpc":"2.0","id":1}"#)).await;
    assert_eq!(
        c.call_service("common", "x", vec![], true).await.unwrap(),
        Value::Null
    );
}

#[tokio::test]
async fn html_502_is_an_http_error() {
    let html = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>";
    let (c, rec) = client_for(http_response("502 Bad Gateway", "text/html", html)).await;
    match c.version().await {
        Err(e @ RpcError::Http { .. }) => {
            assert!(e.is_retryable());
            let RpcError::Http { status, body } = e else {
                unreachable!()
            };
            assert_eq!(status, 502);
            assert!(body.contains("502 Bad Gateway"), "{body}");
        }
        other => panic!("expected Http 502, got {other:?}"),
    }
    assert_eq!(rec.len(), 1, "no retry with RetryPolicy::none");
    // The default policy retries idempotent calls (twice) and still ends typed.
    let url = fake_server(http_response("502 Bad Gateway", "text/html", html)).await;
    let rec = RecordingTransport::new(odoo_rpc::ReqwestTransport::new(&url).unwrap());
    let c = odoo_rpc::Client::new(rec.clone()).with_retry(odoo_rpc::RetryPolicy {
        max_retries: 2,
        base_delay: std::time::Duration::from_millis(1),
    });
    assert!(matches!(
        c.db_list().await,
        Err(RpcError::Http { status: 502, .. })
    ));
    assert_eq!(rec.len(), 3);
    // ...but never a non-idempotent one.
    rec.clear();
    assert!(matches!(
        c.create_database("m", "d", false, "en_US", "a", "a", None, None)
            .await,
        Err(RpcError::Http { status: 502, .. })
    ));
    assert_eq!(rec.len(), 1);
}

#[tokio::test]
async fn five_megabyte_non_json_body_is_a_bounded_error() {
    let big = vec![b'<'; 5 * 1024 * 1024];
    let (c, _) = client_for(ok_json(&big)).await;
    match c.version().await {
        Err(RpcError::Decode(msg)) => {
            assert!(msg.len() < 1024, "message is bounded: {}", msg.len())
        }
        other => panic!("expected Decode, got {other:?}"),
    }
    let (c, _) = client_for(http_response(
        "500 Internal Server Error",
        "text/plain",
        &big,
    ))
    .await;
    match c.version().await {
        Err(RpcError::Http { status, body }) => {
            assert_eq!(status, 500);
            assert!(body.len() <= 512 + 3, "snippet is bounded: {}", body.len());
        }
        other => panic!("expected Http, got {other:?}"),
    }
}

#[tokio::test]
async fn dropped_connections_are_transport_errors() {
    // Closes without answering.
    let (c, _) = client_for(Vec::new()).await;
    match c.version().await {
        Err(RpcError::Transport(e)) => assert_eq!(e.kind, TransportErrorKind::Other, "{e:?}"),
        other => panic!("expected Transport, got {other:?}"),
    }
    // Declares more body than it sends.
    let mut resp = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n".to_vec();
    resp.extend_from_slice(b"{\"jsonrpc\": \"2.0\"");
    let (c, _) = client_for(resp).await;
    assert!(matches!(c.version().await, Err(RpcError::Transport(_))));
    // Not HTTP at all.
    let (c, _) = client_for(b"SSH-2.0-OpenSSH_9.2\r\n".to_vec()).await;
    assert!(matches!(c.version().await, Err(RpcError::Transport(_))));
    // Nobody listening.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (c, _) = client(&format!("http://127.0.0.1:{port}"));
    match c.version().await {
        Err(RpcError::Transport(e)) => assert_eq!(e.kind, TransportErrorKind::Connect, "{e:?}"),
        other => panic!("expected Transport(Connect), got {other:?}"),
    }
}
