//! What the POS till (issue 11) needs from Odoo 18, checked against the sim:
//! `pos.session.login` (one login number per device), `get_closing_control_data`, and the
//! POS models' access rights (a user without Point of Sale rights gets Odoo's AccessError).

mod common;
use common::*;
use odoo_sim::Catalogue;
use serde_json::{json, Value};

async fn open_session(sim: &Sim) -> i64 {
    sim.ok("pos.config", "open_ui", json!([[1]]), json!({}))
        .await;
    let cfg = sim
        .ok(
            "pos.config",
            "read",
            json!([[1]]),
            json!({"fields": ["current_session_id"]}),
        )
        .await;
    let sid = cfg[0]["current_session_id"][0].as_i64().expect("session");
    sim.ok(
        "pos.session",
        "set_opening_control",
        json!([[sid], 20.0, ""]),
        json!({}),
    )
    .await;
    sid
}

#[tokio::test]
async fn login_numbers_are_strings_and_never_repeat() {
    let sim = Sim::start(Catalogue::Demo).await;
    let sid = open_session(&sim).await;
    let a = sim
        .ok("pos.session", "login", json!([[sid]]), json!({}))
        .await;
    let b = sim
        .ok("pos.session", "login", json!([[sid]]), json!({}))
        .await;
    assert_eq!(a, json!("1"));
    assert_eq!(b, json!("2"));
    // ensure_one, as Odoo.
    let r = sim.kw("pos.session", "login", json!([[]]), json!({})).await;
    assert_eq!(err_name(&r), "builtins.ValueError");
    sim.stop().await;
}

#[tokio::test]
async fn closing_control_data_counts_the_paid_orders() {
    let sim = Sim::start(Catalogue::Demo).await;
    let sid = open_session(&sim).await;
    let order = |uuid: &str, method: i64, amount: f64| {
        json!({"uuid": uuid, "name": format!("Order {uuid}"), "session_id": sid, "state": "paid",
               "lines": [[0, 0, {"product_id": 2, "qty": 2, "price_unit": amount / 2.0,
                                 "price_subtotal": amount, "price_subtotal_incl": amount, "tax_ids": [[6, 0, []]]}]],
               "payment_ids": [[0, 0, {"payment_method_id": method, "amount": amount}]],
               "amount_total": amount, "amount_paid": amount, "amount_tax": 0.0, "amount_return": 0.0})
    };
    sim.ok(
        "pos.order",
        "sync_from_ui",
        json!([[
            order("11111111-0000-4000-8000-000000000001", 1, 5.0),
            order("11111111-0000-4000-8000-000000000002", 2, 7.5)
        ]]),
        json!({}),
    )
    .await;
    let d = sim
        .ok(
            "pos.session",
            "get_closing_control_data",
            json!([[sid]]),
            json!({}),
        )
        .await;
    assert_eq!(d["orders_details"], json!({"quantity": 2, "amount": 12.5}));
    assert_eq!(d["default_cash_details"]["opening"], json!(20.0));
    assert_eq!(d["default_cash_details"]["payment_amount"], json!(5.0));
    assert_eq!(d["default_cash_details"]["amount"], json!(25.0));
    let card: &Value = &d["non_cash_payment_methods"][0];
    assert_eq!(
        (
            card["name"].as_str(),
            card["amount"].as_f64(),
            card["number"].as_i64()
        ),
        (Some("Card"), Some(7.5), Some(1))
    );
    assert_eq!(d["is_manager"], json!(true));
    sim.stop().await;
}

#[tokio::test]
async fn a_user_without_pos_rights_is_refused_with_odoos_message() {
    let sim = Sim::start(Catalogue::Demo).await;
    let uid = sim
        .ok(
            "res.users",
            "create",
            json!([{"name": "Clerk", "login": "clerk@example.com", "password": "clerk-pass-1"}]),
            json!({}),
        )
        .await
        .as_i64()
        .expect("uid");
    let as_clerk = |model: &str, method: &str, args: Value| json!([sim.db, uid, "clerk-pass-1", model, method, args, {"fields": ["name"]}]);
    let r = sim
        .rpc(
            "object",
            "execute_kw",
            as_clerk("pos.config", "search_read", json!([[]])),
        )
        .await;
    assert_eq!(err_name(&r), "odoo.exceptions.AccessError");
    assert_eq!(
        err_msg(&r),
        "You are not allowed to access 'Point of Sale Configuration' (pos.config) records.\n\n\
         This operation is allowed for the following groups:\n\t- Administration/Settings\n\t- Point of Sale/Administrator\n\t- Point of Sale/User\n\n\
         Contact your administrator to request access if necessary."
    );
    let r = sim
        .rpc(
            "object",
            "execute_kw",
            as_clerk("pos.order", "sync_from_ui", json!([[]])),
        )
        .await;
    assert_eq!(err_name(&r), "odoo.exceptions.AccessError");
    // has_group says so up front (what the till asks at sign-in).
    let r = sim
        .rpc(
            "object",
            "execute_kw",
            json!([
                sim.db,
                uid,
                "clerk-pass-1",
                "res.users",
                "has_group",
                [[uid], "point_of_sale.group_pos_user"],
                {}
            ]),
        )
        .await;
    assert_eq!(r["result"], json!(false));
    // Given the group, the same call works.
    sim.ok(
        "res.users",
        "write",
        json!([[uid], {"groups_id": [[4, sim.ok("ir.model.data", "search_read", json!([[["module", "=", "point_of_sale"], ["name", "=", "group_pos_user"]]]), json!({"fields": ["res_id"]})).await[0]["res_id"]]]}]),
        json!({}),
    )
    .await;
    let r = sim
        .rpc(
            "object",
            "execute_kw",
            as_clerk("pos.config", "search_read", json!([[]])),
        )
        .await;
    assert_eq!(r["result"][0]["name"], json!("Shop"), "{r}");
    sim.stop().await;
}

#[tokio::test]
async fn archiving_a_product_template_archives_its_variants() {
    let sim = Sim::start(Catalogue::Demo).await;
    sim.ok(
        "product.template",
        "write",
        json!([[3], {"active": false}]),
        json!({}),
    )
    .await;
    let found = sim
        .ok(
            "product.product",
            "search_read",
            json!([[["id", "in", [2, 3]]]]),
            json!({"fields": ["id"]}),
        )
        .await;
    assert_eq!(
        found,
        json!([{"id": 2}]),
        "Croissant's variant is archived with its template"
    );
    sim.stop().await;
}
