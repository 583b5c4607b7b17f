//! Property tests: the response decoder never panics, whatever it is fed.

mod common;

use odoo_rpc::wire::{decode_response, from_value, split_concatenated};
use odoo_rpc::{ClosingResult, PushResult, RpcError, SessionInfo, VersionInfo};
use proptest::prelude::*;
use serde_json::{json, Value};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,20}".prop_map(Value::String),
        prop_oneof![
            Just("jsonrpc"),
            Just("result"),
            Just("error"),
            Just("code"),
            Just("data"),
            Just("name"),
            Just("message"),
            Just("uuid"),
            Just("id"),
            Just("pos.order"),
            Just("odoo.exceptions.UserError"),
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("jsonrpc".to_owned()),
                    Just("id".to_owned()),
                    Just("result".to_owned()),
                    Just("error".to_owned()),
                    Just("code".to_owned()),
                    Just("message".to_owned()),
                    Just("data".to_owned()),
                    Just("name".to_owned()),
                    Just("arguments".to_owned()),
                    Just("context".to_owned()),
                    Just("debug".to_owned()),
                    Just("uuid".to_owned()),
                    Just("pos.order".to_owned()),
                    Just("uid".to_owned()),
                    Just("successful".to_owned()),
                    ".{0,8}",
                ],
                inner,
                0..8,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn check_outcome(status: u16, r: &Result<Value, RpcError>) {
    match r {
        Ok(_) | Err(RpcError::Decode(_)) | Err(RpcError::Odoo(_)) => assert_eq!(status, 200),
        Err(RpcError::Http { status: s, body }) => {
            assert_eq!(*s, status);
            assert!(body.len() <= odoo_rpc::wire::SNIPPET_LEN + 4);
        }
        Err(e) => panic!("decoder produced {e:?}"),
    }
}

/// Exercises every typed decoder on a value; none may panic.
fn typed_decoders(v: &Value) {
    let _ = from_value::<VersionInfo>(v.clone());
    let _ = from_value::<Vec<String>>(v.clone());
    let _ = from_value::<bool>(v.clone());
    let _ = from_value::<ClosingResult>(v.clone());
    let _ = SessionInfo::from_value(v.clone());
    let _ = PushResult::from_sync_from_ui(v.clone());
    let _ = PushResult::from_create_from_ui(v.clone(), &[odoo_rpc::PosOrder::new("u", 1)]);
    if let Ok(vi) = from_value::<VersionInfo>(v.clone()) {
        let _ = vi.odoo_version();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, failure_persistence: None, ..ProptestConfig::default() })]

    /// Arbitrary bytes with arbitrary statuses.
    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..2048), status in prop_oneof![Just(200u16), 100u16..600]) {
        let r = decode_response(status, &body);
        check_outcome(status, &r);
        let _ = split_concatenated(&body);
    }

    /// Arbitrary JSON documents as bodies.
    #[test]
    fn arbitrary_json_never_panics(v in arb_json()) {
        let body = serde_json::to_vec(&v).unwrap();
        let r = decode_response(200, &body);
        check_outcome(200, &r);
        if let Ok(val) = &r {
            typed_decoders(val);
        }
        typed_decoders(&v);
    }

    /// Any result value inside a well-formed envelope comes back unchanged (null when absent).
    #[test]
    fn envelope_result_roundtrips(v in arb_json()) {
        let body = serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": 3, "result": v})).unwrap();
        // Compare with serde_json's own parse of the value (its float parsing is not bit-exact
        // without the `float_roundtrip` feature, which is not this test's subject).
        let reparsed: Value = serde_json::from_slice(&serde_json::to_vec(&v).unwrap()).unwrap();
        prop_assert_eq!(decode_response(200, &body).unwrap(), reparsed);
    }

    /// Any `error` member gives a typed Odoo error or a Decode error, never a result.
    #[test]
    fn arbitrary_error_member(e in arb_json()) {
        let body = serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": 3, "error": e})).unwrap();
        match decode_response(200, &body) {
            Err(RpcError::Odoo(err)) => { let _ = (err.message(), err.name(), err.code(), err.to_string()); }
            Err(RpcError::Decode(_)) => {}
            Ok(v) => prop_assert!(e.is_null() && v.is_null(), "error {:?} gave result {:?}", e, v),
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    /// Recorded bodies with one byte flipped or cut short.
    #[test]
    fn mutated_recorded_bodies(idx in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<bool>()) {
        let mut body = serde_json::to_vec(&recorded()[idx.index(recorded().len())]).unwrap();
        let at = byte as usize * body.len() / 256;
        if cut { body.truncate(at); } else { body[at] = byte; }
        check_outcome(200, &decode_response(200, &body));
    }
}

fn recorded() -> &'static Vec<Value> {
    static R: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    R.get_or_init(|| {
        let mut out = Vec::new();
        for e in std::fs::read_dir(common::testdata()).unwrap() {
            let p = e.unwrap().path();
            if p.extension().and_then(|x| x.to_str()) == Some("json") {
                let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
                if let Some(r) = v.get("response") {
                    out.push(r.clone());
                }
            }
        }
        for f in [
            "01_payment_methods.txt",
            "02_config.txt",
            "03_session.txt",
            "04_sync1.txt",
            "05_sync2.txt",
        ] {
            out.extend(common::pos_bodies(f));
        }
        out
    })
}

/// Every truncation of every recorded body (deterministic, exhaustive).
#[test]
fn every_truncation_of_recorded_bodies() {
    let mut n = 0;
    for v in recorded() {
        let body = serde_json::to_vec(v).unwrap();
        for cut in 0..body.len() {
            check_outcome(200, &decode_response(200, &body[..cut]));
            n += 1;
        }
    }
    assert!(n > 10_000, "{n}");
}

#[test]
fn huge_bodies() {
    // 8 MiB of garbage.
    let garbage = vec![b'{'; 8 << 20];
    assert!(matches!(
        decode_response(200, &garbage),
        Err(RpcError::Decode(_))
    ));
    // 100k-deep nesting hits serde_json's recursion limit: Decode, no stack overflow.
    let deep = format!(
        "{{\"result\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(matches!(
        decode_response(200, deep.as_bytes()),
        Err(RpcError::Decode(_))
    ));
    // A large valid result (~20 MB, 200k records) decodes.
    let recs: Vec<Value> = (0..200_000)
        .map(|i| json!({"id": i, "name": format!("Partner {i}"), "email": false}))
        .collect();
    let body = serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": 1, "result": recs})).unwrap();
    assert!(body.len() > 8 << 20);
    let v = decode_response(200, &body).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 200_000);
    // A huge non-200 body is cut to a short snippet.
    match decode_response(502, &vec![b'x'; 10 << 20]) {
        Err(RpcError::Http { status: 502, body }) => assert!(body.len() < 1024),
        other => panic!("{other:?}"),
    }
    // Invalid UTF-8 in an error body.
    assert!(matches!(
        decode_response(400, &[0xff, 0xfe, 0x00]),
        Err(RpcError::Http { status: 400, .. })
    ));
}
