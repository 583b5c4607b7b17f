//! The till's sync, measured: 1,000 orders waiting on the device sent to odoo-sim by the
//! sync engine the PWA runs (batches of 50, over HTTP, into real PostgreSQL), against one
//! single-order `sync_from_ui` call measured in the same run.
//!
//! `cargo bench -p pos-core --bench sync` (PostgreSQL at 127.0.0.1:5432, as the tests).
//! Target: the 1,000 orders in at most 5 s.
#![allow(clippy::print_stdout)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use odoo_rpc::{KwCaller, OdooVersion};
use pos_core::sync::memory::MemStore;
use pos_core::sync::{QueuedOrder, SyncEngine, SyncStatus};
use support::*;

const ORDERS: usize = 1_000;
const SINGLES: usize = 30;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let env = Env::start().await;
    let ws = env.session(env.transport()).await;
    let cat = open_catalogue(&ws).await;
    let pos = ws.pos(OdooVersion::V18);

    // Warm up connections and the sim's caches.
    for i in 0..5 {
        let o = paid_order(&cat, 90_000 + i, 2, 1.0, 1);
        pos.push_orders(&[o.to_pos_order(None)])
            .await
            .expect("warm-up");
    }

    // Baseline: one order, one sync_from_ui call.
    let mut single = Vec::new();
    for i in 0..SINGLES {
        let o = paid_order(&cat, 80_000 + i as i64, 3, 2.0, 2).to_pos_order(None);
        let t = Instant::now();
        let r = pos
            .push_orders(std::slice::from_ref(&o))
            .await
            .expect("single push");
        single.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(r.is_synced(&o.uuid));
    }
    let single_ms = median(&mut single);

    // 1,000 orders waiting on the device, mixed baskets and payment methods.
    let store = MemStore::default();
    let mut uuids = Vec::with_capacity(ORDERS);
    for i in 0..ORDERS {
        let o = paid_order(
            &cat,
            i as i64 + 1,
            2 + (i % 4) as i64,
            1.0 + (i % 3) as f64,
            1 + (i % 2) as i64,
        );
        uuids.push(o.uuid.clone());
        store.add(QueuedOrder::new(o, i as f64));
    }
    let engine = SyncEngine::default();
    let t = Instant::now();
    let mut cycles = 0;
    let mut calls = 0;
    while store.count(|s| *s == SyncStatus::Waiting) > 0 && cycles < 10 {
        let r = engine
            .run_cycle(&store, &ws, OdooVersion::V18, now(), &mut || 0.5)
            .await
            .expect("cycle");
        calls += r.calls;
        cycles += 1;
    }
    let total_s = t.elapsed().as_secs_f64();
    let synced = store.count(|s| matches!(s, SyncStatus::Synced { .. }));
    let in_odoo = orders_in_odoo(&ws, &uuids).await.len();
    assert_eq!(
        (synced, in_odoo),
        (ORDERS, ORDERS),
        "every order synced, once"
    );

    println!("POS sync (pos-core engine → odoo-sim, real PostgreSQL)");
    println!("  one order, one sync_from_ui call (median of {SINGLES}): {single_ms:.1} ms");
    println!(
        "  {ORDERS} waiting orders: {total_s:.2} s in {calls} calls ({:.2} ms per order), target ≤ 5 s: {}",
        total_s * 1000.0 / ORDERS as f64,
        if total_s <= 5.0 { "met" } else { "MISSED" }
    );
    println!(
        "  ratio: {ORDERS} orders = {:.0}× one single-order call ({:.1}× fewer than {ORDERS} single calls would take)",
        total_s * 1000.0 / single_ms,
        (ORDERS as f64 * single_ms) / (total_s * 1000.0)
    );
    env.stop().await;
}
