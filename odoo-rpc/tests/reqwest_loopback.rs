//! ReqwestTransport against a tiny HTTP server on 127.0.0.1: headers, cookies, timeouts.
#![cfg(feature = "reqwest")]

use std::time::Duration;

use odoo_rpc::{
    Client, HttpRequest, ReqwestTransport, RpcError, Transport, TransportErrorKind, WebSession,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Accepts `n` connections; answers each with `response` and returns the raw requests seen.
async fn serve(n: usize, response: String) -> (String, tokio::task::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let h = tokio::spawn(async move {
        let mut seen = Vec::new();
        for _ in 0..n {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read headers, then Content-Length bytes of body.
            loop {
                let k = sock.read(&mut chunk).await.unwrap();
                if k == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..k]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(pos) = text.find("\r\n\r\n") {
                    let len = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if buf.len() >= pos + 4 + len {
                        break;
                    }
                }
            }
            seen.push(String::from_utf8_lossy(&buf).to_string());
            sock.write_all(response.as_bytes()).await.unwrap();
            sock.shutdown().await.ok();
        }
        seen
    });
    (addr, h)
}

/// A complete HTTP/1.1 response with a correct Content-Length.
fn http(status: &str, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn auth_ok() -> String {
    http(
        "200 OK",
        "Content-Type: application/json; charset=utf-8\r\nSet-Cookie: session_id=s3cr3t; Expires=Thu, 25 Nov 2027 11:59:11 GMT; Max-Age=604800; HttpOnly; Path=/\r\n",
        r#"{"jsonrpc": "2.0", "id": 1, "result": {"uid": 2}}"#,
    )
}

#[tokio::test]
async fn host_cookie_and_set_cookie_round_trip() {
    let (addr, h1) = serve(1, auth_ok()).await;
    let transport = ReqwestTransport::new(addr.clone()).unwrap();
    let ws = WebSession::new(Client::new(transport).with_host("ref_pos1.localhost"));
    let info = ws
        .session_authenticate("ref_pos1", "admin", "admin")
        .await
        .unwrap();
    assert_eq!(info.uid, Some(2));
    assert_eq!(ws.session_id().as_deref(), Some("s3cr3t"));
    let raw = h1.await.unwrap().remove(0);
    let lower = raw.to_ascii_lowercase();
    assert!(
        raw.starts_with("POST /web/session/authenticate HTTP/1.1\r\n"),
        "{raw}"
    );
    assert!(lower.contains("\r\nhost: ref_pos1.localhost\r\n"), "{raw}");
    assert!(
        lower.contains("\r\ncontent-type: application/json\r\n"),
        "{raw}"
    );
    assert!(!lower.contains("\r\ncookie:"), "{raw}");

    // Next call on a new server port: the cookie goes along.
    let (addr2, h2) = serve(
        1,
        http(
            "200 OK",
            "Content-Type: application/json\r\n",
            r#"{"jsonrpc": "2.0", "id": 2, "result": [1]}"#,
        ),
    )
    .await;
    let ws2 = WebSession::with_session_id(
        Client::new(ReqwestTransport::new(addr2).unwrap()).with_host("ref_pos1.localhost"),
        ws.session_id().unwrap(),
    );
    let v = ws2
        .call_kw(
            "res.partner",
            "search",
            vec![serde_json::json!([])],
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(v, serde_json::json!([1]));
    let raw = h2.await.unwrap().remove(0);
    assert!(
        raw.starts_with("POST /web/dataset/call_kw/res.partner/search HTTP/1.1\r\n"),
        "{raw}"
    );
    assert!(
        raw.to_ascii_lowercase()
            .contains("\r\ncookie: session_id=s3cr3t\r\n"),
        "{raw}"
    );
}

#[tokio::test]
async fn plain_text_400_is_an_http_error() {
    let (addr, h) = serve(
        1,
        http(
            "400 BAD REQUEST",
            "Content-Type: text/plain\r\n",
            "Invalid JSON data",
        ),
    )
    .await;
    let client = Client::new(ReqwestTransport::new(addr).unwrap());
    match client.version().await.unwrap_err() {
        RpcError::Http { status, body } => {
            assert_eq!(status, 400);
            assert_eq!(body, "Invalid JSON data");
        }
        e => panic!("{e:?}"),
    }
    h.await.unwrap();
}

#[tokio::test]
async fn timeout_and_connect_errors() {
    // A server that accepts but never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let hold = tokio::spawn(async move {
        let mut socks = Vec::new();
        for _ in 0..1 {
            let (s, _) = listener.accept().await.unwrap();
            socks.push(s);
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        drop(socks);
    });
    let t = ReqwestTransport::builder(addr)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let req = HttpRequest {
        path: "/jsonrpc".into(),
        body: b"{}".to_vec(),
        host: None,
        cookie: None,
        idempotent: false,
    };
    let e = t.post(req.clone()).await.unwrap_err();
    assert_eq!(e.kind, TransportErrorKind::Timeout, "{e:?}");
    hold.abort();

    // Nothing listening.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let t = ReqwestTransport::new(format!("http://127.0.0.1:{port}")).unwrap();
    let e = t.post(req).await.unwrap_err();
    assert_eq!(e.kind, TransportErrorKind::Connect, "{e:?}");
}
