//! POS 18 over a web session: open_session (open_ui → opening_control → opened), load_data,
//! push of a paid order, idempotent re-push, close_session and a push to a closed session.

use conformance::*;
use odoo_rpc::{KwCaller, OdooError, OdooVersion, PosOrder, PosOrderLine, PosPayment, WebSession};
use serde_json::{json, Map, Value};

const SIX_KEYS: [&str; 6] = [
    "pos.order",
    "pos.order.line",
    "pos.pack.operation.lot",
    "pos.payment",
    "pos.session",
    "product.attribute.custom.value",
];

async fn login(db: &TestDb) -> (WebSession<Rec>, Rec) {
    let (c, rec) = client_with_host(&shared_sim().url, &db.host());
    let ws = WebSession::new(c);
    ws.session_authenticate(&db.name, "admin", "admin")
        .await
        .expect("session_authenticate");
    (ws, rec)
}

fn coffee_order(uuid: &str, session_id: i64) -> PosOrder {
    PosOrder::new(uuid, session_id)
        .line(
            PosOrderLine::new(2, 1.0, 2.5)
                .taxes(vec![1])
                .subtotals(2.5, 2.88),
        )
        .payment(PosPayment::new(2, 2.88))
        .amounts(2.88, 2.88, 0.38, 0.0)
        .date_order("2026-11-25 11:59:41")
}

async fn session_state(ws: &WebSession<Rec>, sid: i64) -> String {
    let mut kw = Map::new();
    kw.insert("fields".into(), json!(["state"]));
    let r = ws
        .call_kw("pos.session", "read", vec![json!([sid])], kw)
        .await
        .expect("read session");
    r[0]["state"].as_str().expect("state").to_owned()
}

async fn order_count(ws: &WebSession<Rec>, domain: Value) -> i64 {
    ws.call_kw("pos.order", "search_count", vec![domain], Map::new())
        .await
        .expect("search_count")
        .as_i64()
        .expect("int")
}

fn call_params(ex: &Exchange) -> Value {
    ex.request_json()["params"].clone()
}

#[tokio::test]
async fn open_session_goes_from_opening_control_to_opened() {
    let db = TestDb::new(SimCatalogue::Demo).await;
    let (ws, rec) = login(&db).await;
    let pos = ws.pos(OdooVersion::V18);
    rec.clear();
    let sid = pos
        .open_session(1, 0.0, "conformance")
        .await
        .expect("open_session");
    let ex = rec.exchanges();
    assert_eq!(ex.len(), 3, "open_ui, read, set_opening_control");
    assert_eq!(
        ex[0].request.path,
        "/web/dataset/call_kw/pos.config/open_ui"
    );
    assert_eq!(
        call_params(&ex[0]),
        json!({"model": "pos.config", "method": "open_ui", "args": [[1]], "kwargs": {}})
    );
    let read = assert_ok_envelope(&ex[1].response_json(), &ex[1].request_json()["id"]);
    assert_eq!(
        read[0]["current_session_state"], "opening_control",
        "open_ui leaves it in opening_control"
    );
    let m2o = read[0]["current_session_id"].as_array().expect("many2one");
    assert_eq!(m2o[0], json!(sid));
    assert_eq!(
        call_params(&ex[2]),
        json!({"model": "pos.session", "method": "set_opening_control",
               "args": [[sid], 0.0, "conformance"], "kwargs": {}})
    );
    assert_eq!(session_state(&ws, sid).await, "opened");
    // Opening again reuses the session and sends no set_opening_control.
    rec.clear();
    assert_eq!(pos.open_session(1, 0.0, "").await.unwrap(), sid);
    assert_eq!(rec.len(), 2);
}

#[tokio::test]
async fn load_data_returns_data_fields_and_relations_per_model() {
    let db = TestDb::new(SimCatalogue::Demo).await;
    let (ws, rec) = login(&db).await;
    let pos = ws.pos(OdooVersion::V18);
    let sid = pos.open_session(1, 0.0, "").await.unwrap();
    let data = pos.load_data(sid, &[]).await.expect("load_data");
    let ex = rec.last();
    assert_eq!(
        call_params(&ex),
        json!({"model": "pos.session", "method": "load_data", "args": [sid, []], "kwargs": {}})
    );
    assert_eq!(
        assert_ok_envelope(&ex.response_json(), &ex.request_json()["id"]),
        data
    );
    let models = data.as_object().expect("dict keyed by model");
    for m in [
        "pos.config",
        "pos.session",
        "pos.payment.method",
        "product.product",
        "res.partner",
        "account.tax",
    ] {
        let entry = models.get(m).unwrap_or_else(|| panic!("{m} missing"));
        assert!(entry["data"].is_array(), "{m}.data");
        assert!(entry.get("fields").is_some(), "{m}.fields");
        assert!(entry["relations"].is_object(), "{m}.relations");
    }
    let sess = &models["pos.session"]["data"][0];
    assert_eq!(sess["id"], json!(sid));
    assert_eq!(sess["state"], "opened");
    assert!(sess.get("_server_version").is_some(), "{sess}");
    let pms: Vec<&str> = models["pos.payment.method"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(pms.contains(&"Cash") && pms.contains(&"Card"), "{pms:?}");
    // Only some models: pos.session always, then those asked for, in Odoo's order.
    let part = pos
        .load_data(sid, &["pos.config", "pos.payment.method"])
        .await
        .expect("load_data subset");
    let mut keys: Vec<&String> = part.as_object().expect("dict").keys().collect();
    keys.sort();
    assert_eq!(keys, ["pos.config", "pos.payment.method", "pos.session"]);
    // Without pos.config, Odoo 18's loaders fail (pos_load_mixin.py reads
    // data['pos.config']): a KeyError the client surfaces as an error.
    let err = pos
        .load_data(sid, &["pos.payment.method"])
        .await
        .expect_err("pos.config left out");
    assert!(format!("{err:?}").contains("KeyError"), "{err:?}");
}

#[tokio::test]
async fn paid_order_push_is_acknowledged_by_uuid() {
    let db = TestDb::new(SimCatalogue::Demo).await;
    let (ws, rec) = login(&db).await;
    let pos = ws.pos(OdooVersion::V18);
    let sid = pos.open_session(1, 0.0, "").await.unwrap();
    let uuid = uuid::Uuid::new_v4().to_string();
    let order = coffee_order(&uuid, sid);
    let pushed = pos
        .push_orders(std::slice::from_ref(&order))
        .await
        .expect("push");
    assert!(pushed.is_synced(&uuid));
    assert!(pushed.missing(std::slice::from_ref(&order)).is_empty());
    let so = &pushed.orders[0];
    assert_eq!(so.state.as_deref(), Some("paid"));
    assert_eq!(so.name.as_deref(), Some("Shop/0001"));
    assert!(so.id > 0);

    let ex = rec.last();
    assert_eq!(
        ex.request.path,
        "/web/dataset/call_kw/pos.order/sync_from_ui"
    );
    let p = call_params(&ex);
    assert_eq!(p["model"], "pos.order");
    assert_eq!(p["method"], "sync_from_ui");
    assert_eq!(p["kwargs"], json!({}));
    let sent = &p["args"][0][0];
    assert_eq!(
        sent,
        &order.to_wire(OdooVersion::V18).unwrap(),
        "flat order dict"
    );
    assert_eq!(sent["uuid"], json!(uuid));
    assert_eq!(sent["session_id"], json!(sid));
    assert_eq!(sent["state"], "paid");
    assert_eq!(sent["lines"][0][0], 0);
    assert_eq!(sent["lines"][0][2]["tax_ids"], json!([[6, 0, [1]]]));
    assert_eq!(sent["payment_ids"][0][2]["payment_method_id"], 2);

    let result = assert_ok_envelope(&ex.response_json(), &ex.request_json()["id"]);
    let mut keys: Vec<&str> = result
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, SIX_KEYS);
    assert_eq!(result["pos.order"][0]["uuid"], json!(uuid));
    assert_eq!(
        result["pos.order"][0]["session_id"],
        json!(sid),
        "load=False: many2one as int"
    );
    assert_eq!(result["pos.order.line"].as_array().unwrap().len(), 1);
    assert_eq!(result["pos.payment"].as_array().unwrap().len(), 1);
    assert_eq!(pushed.raw, vec![result]);
    assert_eq!(order_count(&ws, json!([["uuid", "=", uuid]])).await, 1);
}

#[tokio::test]
async fn duplicate_order_push_creates_nothing_new() {
    let db = TestDb::new(SimCatalogue::Demo).await;
    let (ws, rec) = login(&db).await;
    let pos = ws.pos(OdooVersion::V18);
    let sid = pos.open_session(1, 0.0, "").await.unwrap();
    let uuid = uuid::Uuid::new_v4().to_string();
    let order = coffee_order(&uuid, sid);
    let first = pos
        .push_orders(std::slice::from_ref(&order))
        .await
        .expect("push 1");
    let raw1 = rec.last().response_json();
    let second = pos
        .push_orders(std::slice::from_ref(&order))
        .await
        .expect("push 2");
    let raw2 = rec.last().response_json();
    assert_eq!(first.orders, second.orders);
    assert_eq!(first.raw, second.raw, "identical answer");
    assert_eq!(raw1["result"], raw2["result"]);
    assert!(second.is_synced(&uuid));
    assert_eq!(order_count(&ws, json!([["uuid", "=", uuid]])).await, 1);
    assert_eq!(order_count(&ws, json!([])).await, 1);
    let lines = ws
        .call_kw(
            "pos.order.line",
            "search_count",
            vec![json!([])],
            Map::new(),
        )
        .await
        .unwrap();
    assert_eq!(lines, json!(1), "no new lines either");
}

#[tokio::test]
async fn close_session_moves_it_to_closed() {
    let db = TestDb::new(SimCatalogue::Demo).await;
    let (ws, rec) = login(&db).await;
    let pos = ws.pos(OdooVersion::V18);
    let sid = pos.open_session(1, 0.0, "").await.unwrap();
    pos.push_orders(&[coffee_order(&uuid::Uuid::new_v4().to_string(), sid)])
        .await
        .unwrap();
    rec.clear();
    let closing = pos
        .close_session(sid, Some(0.0), "end of day", &[])
        .await
        .expect("close");
    assert!(closing.successful, "{closing:?}");
    let ex = rec.exchanges();
    let methods: Vec<Value> = ex
        .iter()
        .map(|e| call_params(e)["method"].clone())
        .collect();
    assert_eq!(
        methods,
        vec![
            json!("post_closing_cash_details"),
            json!("update_closing_control_state_session"),
            json!("close_session_from_ui")
        ]
    );
    assert_eq!(call_params(&ex[0])["kwargs"], json!({"counted_cash": 0.0}));
    assert_eq!(call_params(&ex[2])["args"], json!([[sid], []]));
    let raw = assert_ok_envelope(&ex[2].response_json(), &ex[2].request_json()["id"]);
    assert_eq!(raw["successful"], json!(true));
    assert_eq!(session_state(&ws, sid).await, "closed");
}

#[tokio::test]
async fn push_to_a_closed_session_is_a_user_error_and_saves_nothing() {
    let db = TestDb::new(SimCatalogue::Demo).await;
    let (ws, rec) = login(&db).await;
    let pos = ws.pos(OdooVersion::V18);
    let sid = pos.open_session(1, 0.0, "").await.unwrap();
    pos.close_session(sid, Some(0.0), "", &[])
        .await
        .expect("close");
    assert_eq!(session_state(&ws, sid).await, "closed");
    let uuid = uuid::Uuid::new_v4().to_string();
    let e = odoo_err(pos.push_orders(&[coffee_order(&uuid, sid)]).await);
    let msg = "No open session available. Please open a new session to capture the order.";
    assert!(matches!(e, OdooError::UserError(_)), "{e:?}");
    assert_eq!(e.message(), msg);
    let ex = rec.last();
    assert_eq!(call_params(&ex)["method"], "sync_from_ui");
    let raw = assert_error_envelope(
        &ex.response_json(),
        Some(&ex.request_json()["id"]),
        200,
        "odoo.exceptions.UserError",
        msg,
    );
    assert_eq!(raw["data"]["arguments"], json!([msg]));
    assert_payload_matches(&e, &raw);
    assert_eq!(
        order_count(&ws, json!([["uuid", "=", uuid]])).await,
        0,
        "nothing saved"
    );
    assert_eq!(order_count(&ws, json!([])).await, 0);
}

#[tokio::test]
async fn pos_calls_work_over_execute_kw_too() {
    let db = TestDb::new(SimCatalogue::Demo).await;
    let (c, rec) = client(&shared_sim().url);
    let obj = c.object(&db.name, 2, "admin");
    let pos = obj.pos(OdooVersion::V18);
    let sid = pos.open_session(1, 0.0, "").await.unwrap();
    let uuid = uuid::Uuid::new_v4().to_string();
    let r = pos.push_orders(&[coffee_order(&uuid, sid)]).await.unwrap();
    assert!(r.is_synced(&uuid));
    let args = &rec.last().request_json()["params"]["args"];
    assert_eq!(args[3], "pos.order");
    assert_eq!(args[4], "sync_from_ui");
    assert_eq!(args[5][0][0]["uuid"], json!(uuid));
}
