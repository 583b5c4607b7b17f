//! The sync engine against odoo-sim in real PostgreSQL: the same engine code the PWA runs,
//! here over reqwest, with faults injected in the transport (an answer lost after Odoo
//! committed, no network) and Odoo's own refusals. Orders are counted by uuid in the
//! tenant's database.

mod support;

use odoo_rpc::{KwCaller, OdooVersion, WebSession};
use pos_core::order::PartnerRef;
use pos_core::sync::memory::MemStore;
use pos_core::sync::{
    NewPartner, QueuedOrder, QueuedPartner, Stop, SyncEngine, SyncStatus, SyncStore,
};
use serde_json::{json, Map, Value};
use support::*;

#[tokio::test]
async fn lost_answer_after_commit_creates_no_duplicate_and_totals_match() {
    let env = Env::start().await;
    let t = env.transport();
    let ws = env.session(t.clone()).await;
    let cat = open_catalogue(&ws).await;
    let store = MemStore::default();
    let mut expected = Vec::new();
    for i in 0..120 {
        let o = paid_order(&cat, i + 1, 2 + (i % 4), 1.0 + (i % 3) as f64, 1 + (i % 2));
        expected.push((o.uuid.clone(), o.totals().total, o.totals().tax));
        store.add(QueuedOrder::new(o, 0.0));
    }
    // Odoo commits the first batch, then the connection drops before the answer arrives.
    t.lose_next("sync_from_ui", 1);
    let engine = SyncEngine::default();
    let mut rnd = || 0.5;
    let first = engine
        .run_cycle(&store, &ws, OdooVersion::V18, now(), &mut rnd)
        .await
        .unwrap();
    assert!(matches!(first.stop, Stop::Offline { .. }), "{first:?}");
    assert_eq!(first.synced, 0);
    assert_eq!(store.count(|s| *s == SyncStatus::Waiting), 120);
    // Later (after the backoff), everything goes; the first batch again.
    let mut rounds = 0;
    while store.count(|s| *s == SyncStatus::Waiting) > 0 && rounds < 10 {
        engine
            .run_cycle(&store, &ws, OdooVersion::V18, now() + 3_600_000.0, &mut rnd)
            .await
            .unwrap();
        rounds += 1;
    }
    assert_eq!(store.count(|s| matches!(s, SyncStatus::Synced { .. })), 120);
    let uuids: Vec<String> = expected.iter().map(|e| e.0.clone()).collect();
    let rows = orders_in_odoo(&ws, &uuids).await;
    assert_eq!(rows.len(), 120, "every order exactly once");
    for (uuid, total, tax) in &expected {
        let row = rows.iter().find(|r| r["uuid"] == *uuid).expect("row");
        assert!(row["amount_total"].is_number(), "{row}");
        assert_eq!(
            row["amount_total"].as_f64().unwrap(),
            *total,
            "total of {uuid}"
        );
        assert_eq!(row["amount_tax"].as_f64().unwrap(), *tax, "tax of {uuid}");
        assert!(row["pos_reference"]
            .as_str()
            .unwrap()
            .starts_with("Order 0000"));
    }
    // 3 batches of 50 in all, plus the lost one.
    assert_eq!(t.calls_to("sync_from_ui"), 4);
    env.stop().await;
}

#[tokio::test]
async fn a_refused_order_is_isolated_and_the_others_sync() {
    let env = Env::start().await;
    let t = env.transport();
    let ws = env.session(t.clone()).await;
    let cat = open_catalogue(&ws).await;
    // A payment method the shop does not accept (a manager removed it while offline).
    let mut vals = Map::new();
    vals.insert("name".into(), json!("Voucher"));
    let voucher = ws
        .call_kw_value(
            "pos.payment.method",
            "create",
            vec![Value::Object(vals)],
            Map::new(),
            false,
        )
        .await
        .expect("create method")
        .as_i64()
        .unwrap();
    let store = MemStore::default();
    let mut uuids = Vec::new();
    let mut bad = String::new();
    for i in 0..20 {
        let method = if i == 13 { voucher } else { 1 };
        let o = paid_order(&cat, i + 1, 2, 1.0, method);
        if i == 13 {
            bad = o.uuid.clone();
        }
        uuids.push(o.uuid.clone());
        store.add(QueuedOrder::new(o, i as f64));
    }
    let engine = SyncEngine {
        batch_size: 20,
        ..SyncEngine::default()
    };
    let report = engine
        .run_cycle(&store, &ws, OdooVersion::V18, now(), &mut || 0.5)
        .await
        .unwrap();
    assert_eq!(report.stop, Stop::Done);
    assert_eq!((report.synced, report.refused), (19, 1));
    // Halving 20 → 10 → 5 → 3 → 2 → 1: a handful of calls, not one per order.
    assert!(report.calls <= 12, "{} calls", report.calls);
    let refused = store.orders.borrow()[&bad].status.clone();
    assert_eq!(
        refused,
        SyncStatus::Refused {
            reason: "The payment method selected is not allowed in the config of the POS session."
                .into()
        }
    );
    let rows = orders_in_odoo(&ws, &uuids).await;
    assert_eq!(rows.len(), 19);
    assert!(!rows.iter().any(|r| r["uuid"] == *bad));
    env.stop().await;
}

#[tokio::test]
async fn expired_session_and_no_network_lose_nothing() {
    let env = Env::start().await;
    let t = env.transport();
    let ws = env.session(t.clone()).await;
    let cat = open_catalogue(&ws).await;
    let store = MemStore::default();
    for i in 0..5 {
        store.add(QueuedOrder::new(
            paid_order(&cat, i + 1, 3, 2.0, 2),
            i as f64,
        ));
    }
    let engine = SyncEngine::default();

    // A session Odoo no longer knows: code 100.
    let stale = WebSession::with_session_id(env.client(env.transport()), "not-a-session");
    let r = engine
        .run_cycle(&store, &stale, OdooVersion::V18, now(), &mut || 0.5)
        .await
        .unwrap();
    assert!(matches!(r.stop, Stop::SignIn(_)), "{r:?}");
    assert_eq!(store.count(|s| *s == SyncStatus::Waiting), 5);
    assert!(
        store.orders.borrow().values().all(|q| q.attempts == 0),
        "no attempt spent on a sign-in"
    );

    // No network at all: waiting, with a backoff.
    let offline = WebSession::new(env.client(Lossy::default()));
    let at = now();
    let r = engine
        .run_cycle(&store, &offline, OdooVersion::V18, at, &mut || 0.0)
        .await
        .unwrap();
    let Stop::Offline { retry_at, .. } = r.stop else {
        panic!("{r:?}")
    };
    assert_eq!(retry_at, at + 500.0);
    assert_eq!(store.count(|s| *s == SyncStatus::Waiting), 5);
    // Not due yet: the next cycle before retry_at does nothing.
    let r = engine
        .run_cycle(&store, &ws, OdooVersion::V18, at + 100.0, &mut || 0.0)
        .await
        .unwrap();
    assert_eq!((r.synced, r.calls), (0, 0));
    let r = engine
        .run_cycle(&store, &ws, OdooVersion::V18, retry_at, &mut || 0.0)
        .await
        .unwrap();
    assert_eq!(r.synced, 5);
    env.stop().await;
}

#[tokio::test]
async fn a_customer_created_offline_is_created_once_before_its_orders() {
    let env = Env::start().await;
    let t = env.transport();
    let ws = env.session(t.clone()).await;
    let cat = open_catalogue(&ws).await;
    let store = MemStore::default();
    let local = next_uuid();
    let name = format!("Walk-in {}", &local[..8]);
    store
        .put_partner(&QueuedPartner {
            uuid: local.clone(),
            partner: NewPartner {
                name: name.clone(),
                email: Some("walkin@example.com".into()),
                ..NewPartner::default()
            },
            status: SyncStatus::Waiting,
            attempts: 0,
            next_attempt_at: 0.0,
            last_error: None,
        })
        .await
        .unwrap();
    let mut o = paid_order(&cat, 1, 2, 1.0, 1);
    o.partner = Some(PartnerRef::Local {
        uuid: local.clone(),
        name: name.clone(),
    });
    let uuid = o.uuid.clone();
    store.add(QueuedOrder::new(o, 0.0));

    // Odoo creates the customer, the answer is lost.
    t.lose_next("res.partner/create", 1);
    let engine = SyncEngine::default();
    let r = engine
        .run_cycle(&store, &ws, OdooVersion::V18, now(), &mut || 0.5)
        .await
        .unwrap();
    assert!(matches!(r.stop, Stop::Offline { .. }), "{r:?}");
    assert_eq!(r.synced, 0, "the order waits for its customer");
    let r = engine
        .run_cycle(&store, &ws, OdooVersion::V18, now() + 60_000.0, &mut || 0.5)
        .await
        .unwrap();
    assert_eq!((r.partners_synced, r.synced), (1, 1), "{r:?}");

    let mut kw = Map::new();
    kw.insert("fields".into(), json!(["id"]));
    let partners = ws
        .call_kw_value(
            "res.partner",
            "search_read",
            vec![json!([["name", "=", name]])],
            kw,
            true,
        )
        .await
        .unwrap();
    let partners = partners.as_array().unwrap();
    assert_eq!(partners.len(), 1, "created once");
    let rows = orders_in_odoo(&ws, std::slice::from_ref(&uuid)).await;
    assert_eq!(rows[0]["partner_id"][0], partners[0]["id"]);
    env.stop().await;
}
