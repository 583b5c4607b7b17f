//! Behaviours taken from Odoo 18's source where the recordings are silent (each test names
//! the function it follows): the POS order push, payment methods, closing a session,
//! `has_group`, `read` and error formatting.

mod common;

use common::*;
use odoo_sim::Catalogue;
use serde_json::{json, Value};

/// A demo database with its "Shop" (config 1: Cash 1, Card 2) session opened.
async fn open_shop() -> (Sim, i64) {
    let sim = Sim::start(Catalogue::Demo).await;
    sim.ok("pos.config", "open_ui", json!([[1]]), json!({}))
        .await;
    let sid = sim
        .ok(
            "pos.config",
            "read",
            json!([[1], ["current_session_id"]]),
            json!({}),
        )
        .await[0]["current_session_id"][0]
        .as_i64()
        .expect("session");
    sim.ok(
        "pos.session",
        "set_opening_control",
        json!([[sid], 0.0, ""]),
        json!({}),
    )
    .await;
    (sim, sid)
}

fn order(sid: i64, state: &str) -> Value {
    json!({
        "uuid": uuid::Uuid::new_v4().to_string(),
        "name": format!("Order 0000{sid}-001-{:04}", rand_suffix()),
        "session_id": sid,
        "state": state,
        "lines": [[0, 0, {"product_id": 2, "qty": 1, "price_unit": 2.5, "price_subtotal": 2.5, "price_subtotal_incl": 2.5}]],
        "payment_ids": [[0, 0, {"payment_method_id": 2, "amount": 2.5}]],
        "amount_total": 2.5, "amount_paid": 2.5, "amount_tax": 0.0, "amount_return": 0.0,
    })
}

fn rand_suffix() -> u16 {
    (uuid::Uuid::new_v4().as_u128() % 10_000) as u16
}

async fn order_count(sim: &Sim) -> i64 {
    sim.ok("pos.order", "search_count", json!([[]]), json!({}))
        .await
        .as_i64()
        .expect("count")
}

/// `pos.order._process_order`: `create({**order without 'name', 'pos_reference':
/// order.get('name')})`; the order's own name comes from the config's sequence.
#[tokio::test]
async fn sync_from_ui_keeps_the_name_as_pos_reference() {
    let (sim, sid) = open_shop().await;
    let paid = order(sid, "paid");
    let r = sim
        .ok(
            "pos.order",
            "sync_from_ui",
            json!([[paid.clone()]]),
            json!({}),
        )
        .await;
    let o = &r["pos.order"][0];
    assert_eq!(o["pos_reference"], paid["name"], "{o}");
    assert_eq!(o["name"], "Shop/0001");

    // A draft, then the same uuid paid: the reference stays, the name is drawn at payment.
    let mut draft = order(sid, "draft");
    let r = sim
        .ok(
            "pos.order",
            "sync_from_ui",
            json!([[draft.clone()]]),
            json!({}),
        )
        .await;
    assert_eq!(r["pos.order"][0]["pos_reference"], draft["name"]);
    assert_eq!(r["pos.order"][0]["name"], "/");
    draft["state"] = json!("paid");
    draft["access_token"] = r["pos.order"][0]["access_token"].clone();
    let r = sim
        .ok(
            "pos.order",
            "sync_from_ui",
            json!([[draft.clone()]]),
            json!({}),
        )
        .await;
    let o = &r["pos.order"][0];
    assert_eq!(
        (o["state"].as_str(), o["name"].as_str()),
        (Some("paid"), Some("Shop/0002"))
    );
    assert_eq!(o["pos_reference"], draft["name"]);
    sim.stop().await;
}

/// `pos.order.sync_from_ui` reads every order's `name`/`uuid` for its log line first
/// (`_get_order_log_representation`), then per order `order['lines']`
/// (`_get_refunded_orders`), and only then, in `_process_order`, the session.
#[tokio::test]
async fn sync_from_ui_checks_run_in_odoos_order() {
    let (sim, sid) = open_shop().await;
    let before = order_count(&sim).await;

    // No `lines` and a session that does not exist: the KeyError comes first, and a
    // KeyError's message is the bare key (odoo/loglevels.py exception_to_unicode).
    let mut no_lines = order(999, "paid");
    no_lines.as_object_mut().expect("obj").remove("lines");
    let r = sim
        .kw("pos.order", "sync_from_ui", json!([[no_lines]]), json!({}))
        .await;
    assert_eq!(
        (err_name(&r), err_msg(&r)),
        ("builtins.KeyError".into(), "lines".into())
    );
    assert_eq!(r["error"]["data"]["arguments"], json!(["lines"]));
    let debug = r["error"]["data"]["debug"].as_str().unwrap_or("");
    assert!(debug.ends_with("KeyError: 'lines'\n"), "{debug}");

    // With lines, the session is read: a missing key, then a missing record.
    let mut no_session = order(sid, "paid");
    no_session
        .as_object_mut()
        .expect("obj")
        .remove("session_id");
    let r = sim
        .kw(
            "pos.order",
            "sync_from_ui",
            json!([[no_session]]),
            json!({}),
        )
        .await;
    assert_eq!(
        (err_name(&r), err_msg(&r)),
        ("builtins.KeyError".into(), "session_id".into())
    );
    let r = sim
        .kw(
            "pos.order",
            "sync_from_ui",
            json!([[order(999, "paid")]]),
            json!({}),
        )
        .await;
    assert_eq!(err_name(&r), "odoo.exceptions.MissingError");

    // A good order followed by a non-dict: refused before the first is processed.
    let r = sim
        .kw(
            "pos.order",
            "sync_from_ui",
            json!([[order(sid, "paid"), [1, 2]]]),
            json!({}),
        )
        .await;
    assert_eq!(
        (err_name(&r), err_msg(&r)),
        (
            "builtins.AttributeError".into(),
            "'list' object has no attribute 'get'".into()
        )
    );
    // `lines` that cannot be iterated, or a line that is a dict.
    let mut bad = order(sid, "paid");
    bad["lines"] = json!(false);
    let r = sim
        .kw("pos.order", "sync_from_ui", json!([[bad]]), json!({}))
        .await;
    assert_eq!(
        (err_name(&r), err_msg(&r)),
        (
            "builtins.TypeError".into(),
            "'bool' object is not iterable".into()
        )
    );
    let mut bad = order(sid, "paid");
    bad["lines"] = json!([{"product_id": 2}]);
    let r = sim
        .kw("pos.order", "sync_from_ui", json!([[bad]]), json!({}))
        .await;
    assert_eq!(
        (err_name(&r), err_msg(&r)),
        ("builtins.KeyError".into(), "0".into())
    );

    // Paying an existing draft reads order['amount_return'] (_process_payment_lines).
    let draft = order(sid, "draft");
    let r = sim
        .ok(
            "pos.order",
            "sync_from_ui",
            json!([[draft.clone()]]),
            json!({}),
        )
        .await;
    let mut paid = draft.clone();
    paid["state"] = json!("paid");
    paid["access_token"] = r["pos.order"][0]["access_token"].clone();
    paid.as_object_mut().expect("obj").remove("amount_return");
    let r = sim
        .kw("pos.order", "sync_from_ui", json!([[paid]]), json!({}))
        .await;
    assert_eq!(
        (err_name(&r), err_msg(&r)),
        ("builtins.KeyError".into(), "amount_return".into())
    );
    assert_eq!(
        order_count(&sim).await,
        before + 1,
        "only the draft was saved"
    );
    sim.stop().await;
}

/// `pos.config._check_payment_method_ids_journal`, `_default_payment_methods` and
/// `_create_journal_and_payment_methods`.
#[tokio::test]
async fn a_cash_payment_method_belongs_to_one_point_of_sale() {
    let sim = Sim::start(Catalogue::Demo).await;
    let r = sim
        .kw(
            "pos.config",
            "create",
            json!([{"name": "Bar", "payment_method_ids": [[6, 0, [1, 2]]]}]),
            json!({}),
        )
        .await;
    assert_eq!(err_name(&r), "odoo.exceptions.ValidationError", "{r}");
    assert_eq!(
        err_msg(&r),
        "This cash payment method is already used in another Point of Sale.\nA new cash payment method should be created for this Point of Sale."
    );
    // Without payment methods, a second point of sale gets the non-cash ones only: the one
    // cash method is taken.
    let bar = sim
        .ok("pos.config", "create", json!([{"name": "Bar"}]), json!({}))
        .await;
    let pms = sim
        .ok(
            "pos.config",
            "read",
            json!([[bar], ["payment_method_ids"]]),
            json!({}),
        )
        .await;
    assert_eq!(pms[0]["payment_method_ids"], json!([2]));
    // A second cash method on the same cash journal is refused where it is used.
    let cash2 = sim
        .ok(
            "pos.payment.method",
            "create",
            json!([{"name": "Cash 2", "journal_id": 7}]),
            json!({}),
        )
        .await;
    let read = sim
        .ok(
            "pos.payment.method",
            "read",
            json!([[cash2], ["is_cash_count", "type"]]),
            json!({}),
        )
        .await;
    assert_eq!(
        (read[0]["is_cash_count"].clone(), read[0]["type"].clone()),
        (json!(true), json!("cash")),
        "computed from the journal's type"
    );
    let r = sim
        .kw(
            "pos.config",
            "write",
            json!([[bar], {"payment_method_ids": [[4, cash2]]}]),
            json!({}),
        )
        .await;
    assert_eq!(
        (err_name(&r), err_msg(&r)),
        (
            "odoo.exceptions.ValidationError".into(),
            "You cannot use the same journal on multiples cash payment methods.".into()
        )
    );
    sim.stop().await;
}

#[tokio::test]
async fn the_first_point_of_sale_makes_its_payment_methods() {
    // point_of_sale installed, no payment method yet (as after installing the module)
    let sim = Sim::start(Catalogue::Recording).await;
    let shop = sim
        .ok("pos.config", "create", json!([{"name": "Shop"}]), json!({}))
        .await;
    let cfg = sim
        .ok(
            "pos.config",
            "read",
            json!([[shop], ["payment_method_ids", "journal_id"]]),
            json!({"load": ""}),
        )
        .await;
    let ids = cfg[0]["payment_method_ids"].clone();
    let pms = sim
        .ok(
            "pos.payment.method",
            "read",
            json!([ids, ["name", "type", "split_transactions", "journal_id"]]),
            json!({"load": ""}),
        )
        .await;
    let summary: Vec<(String, String, bool)> = pms
        .as_array()
        .expect("list")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or("").to_owned(),
                p["type"].as_str().unwrap_or("").to_owned(),
                p["split_transactions"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("Cash".into(), "cash".into(), false),
            ("Card".into(), "bank".into(), false),
            ("Customer Account".into(), "pay_later".into(), true),
        ]
    );
    // The cash method has a journal of its own; the point of sale posts to POSS.
    let journal = sim
        .ok(
            "account.journal",
            "read",
            json!([[pms[0]["journal_id"].clone()], ["type", "name"]]),
            json!({}),
        )
        .await;
    assert_eq!(journal[0]["type"], "cash");
    assert_ne!(pms[0]["journal_id"], json!(7), "a new cash journal");
    let poss = sim
        .ok(
            "account.journal",
            "read",
            json!([[cfg[0]["journal_id"].clone()], ["code"]]),
            json!({}),
        )
        .await;
    assert_eq!(poss[0]["code"], "POSS");
    sim.stop().await;
}

/// `pos.config.load_onboarding_bakery_scenario` (18.0 `pos_config.py`): the scenario's
/// products once per database, a "Bakery Shop" with a cash method of its own on every call,
/// `None` as the answer, and no arguments accepted.
#[tokio::test]
async fn the_bakery_onboarding_scenario_makes_a_shop_with_its_products() {
    let sim = Sim::start(Catalogue::Recording).await;
    let answer = sim
        .ok(
            "pos.config",
            "load_onboarding_bakery_scenario",
            json!([]),
            json!({}),
        )
        .await;
    assert_eq!(answer, Value::Null);
    let products = sim
        .ok(
            "product.product",
            "search_read",
            json!([[
                ["available_in_pos", "=", true],
                ["name", "in", ["Flour", "Apple Pie"]]
            ]]),
            json!({"fields": ["name", "lst_price", "to_weight"], "order": "id"}),
        )
        .await;
    let seen: Vec<(String, f64, bool)> = products
        .as_array()
        .expect("list")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or("").to_owned(),
                p["lst_price"].as_f64().unwrap_or(0.0),
                p["to_weight"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("Flour".into(), 2.99, true),
            ("Apple Pie".into(), 12.0, false)
        ]
    );
    let count_products = || async {
        sim.ok(
            "product.product",
            "search_count",
            json!([[["name", "=", "Wholemeal loaf"]]]),
            json!({}),
        )
        .await
    };
    assert_eq!(count_products().await, json!(1));

    // Again: another shop with its own cash method, the products not loaded twice.
    sim.ok(
        "pos.config",
        "load_onboarding_bakery_scenario",
        json!([]),
        json!({}),
    )
    .await;
    assert_eq!(count_products().await, json!(1));
    let shops = sim
        .ok(
            "pos.config",
            "search_read",
            json!([[["name", "=", "Bakery Shop"]]]),
            json!({"fields": ["payment_method_ids", "limit_categories"]}),
        )
        .await;
    let shops = shops.as_array().expect("list");
    assert_eq!(shops.len(), 2, "{shops:?}");
    assert_eq!(shops[0]["limit_categories"], true);
    let cash_of = |shop: &Value| -> Vec<i64> {
        shop["payment_method_ids"]
            .as_array()
            .map(|ids| ids.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default()
    };
    let (first, second) = (cash_of(&shops[0]), cash_of(&shops[1]));
    assert_eq!(first.len(), 3, "{first:?}");
    assert_ne!(
        first[0], second[0],
        "each shop has a Cash method of its own"
    );
    let xml = sim
        .ok(
            "ir.model.data",
            "search_count",
            json!([[
                ["module", "=", "point_of_sale"],
                ["name", "=", "pos_config_bakery"]
            ]]),
            json!({}),
        )
        .await;
    assert_eq!(xml, json!(1));

    // An @api.model method without parameters: an argument is Python's TypeError.
    let r = sim
        .kw(
            "pos.config",
            "load_onboarding_bakery_scenario",
            json!([1]),
            json!({}),
        )
        .await;
    assert_eq!(err_name(&r), "builtins.TypeError", "{r}");
    sim.stop().await;
}

/// `pos.session.close_session_from_ui`, `_cannot_close_session`,
/// `action_pos_session_closing_control` and `_validate_session`.
#[tokio::test]
async fn closing_a_session_follows_odoos_rules() {
    let (sim, sid) = open_shop().await;
    let draft = order(sid, "draft");
    let r = sim
        .ok("pos.order", "sync_from_ui", json!([[draft]]), json!({}))
        .await;
    let draft_id = r["pos.order"][0]["id"].clone();
    let refused = sim
        .ok(
            "pos.session",
            "close_session_from_ui",
            json!([[sid]]),
            json!({}),
        )
        .await;
    assert_eq!(
        refused,
        json!({"successful": false, "message": "You cannot close the POS when orders are still in draft",
               "redirect": false, "open_order_ids": [draft_id]})
    );
    let r = sim
        .kw(
            "pos.session",
            "action_pos_session_closing_control",
            json!([[sid]]),
            json!({}),
        )
        .await;
    assert_eq!(
        (err_name(&r), err_msg(&r)),
        (
            "odoo.exceptions.UserError".into(),
            "You cannot close the POS when orders are still in draft".into()
        )
    );
    sim.ok("pos.order", "unlink", json!([[draft_id]]), json!({}))
        .await;

    let r = sim
        .ok(
            "pos.order",
            "sync_from_ui",
            json!([[order(sid, "paid")]]),
            json!({}),
        )
        .await;
    let paid_id = r["pos.order"][0]["id"].clone();
    assert_eq!(
        sim.ok(
            "pos.session",
            "close_session_from_ui",
            json!([[sid]]),
            json!({})
        )
        .await,
        json!({"successful": true})
    );
    let state = |model: &'static str, id: Value| {
        let sim = &sim;
        async move {
            sim.ok(model, "read", json!([[id], ["state"]]), json!({}))
                .await[0]["state"]
                .clone()
        }
    };
    assert_eq!(state("pos.session", json!(sid)).await, "closed");
    assert_eq!(
        state("pos.order", paid_id).await,
        "done",
        "closing posts the paid orders"
    );

    // Closed already: the front end's dict, and Odoo's UserError from the back-end method.
    let again = sim
        .ok(
            "pos.session",
            "close_session_from_ui",
            json!([[sid]]),
            json!({}),
        )
        .await;
    assert_eq!(again["successful"], false);
    assert_eq!(again["title"], "Session already closed");
    assert_eq!(again["redirect"], true);
    assert_eq!(again["open_order_ids"], json!([]));
    let r = sim
        .kw(
            "pos.session",
            "action_pos_session_closing_control",
            json!([[sid]]),
            json!({}),
        )
        .await;
    assert_eq!(
        (err_name(&r), err_msg(&r)),
        (
            "odoo.exceptions.UserError".into(),
            "This session is already closed.".into()
        )
    );
    let r = sim
        .kw(
            "pos.session",
            "action_pos_session_close",
            json!([[sid]]),
            json!({}),
        )
        .await;
    assert_eq!(err_msg(&r), "This session is already closed.");
    sim.stop().await;
}

/// `res.users.has_group` (18.0): `base.group_no_one` needs a debug session, ids are not
/// asserted any more, and only internal users may ask about others.
#[tokio::test]
async fn has_group_is_odoos() {
    let sim = Sim::start(Catalogue::None).await;
    let has = |ids: Value, xmlid: &'static str| {
        let sim = &sim;
        async move {
            sim.kw("res.users", "has_group", json!([ids, xmlid]), json!({}))
                .await
        }
    };
    assert_eq!(has(json!([2]), "base.group_no_one").await["result"], false);
    assert_eq!(has(json!([2]), "base.group_system").await["result"], true);
    assert_eq!(has(json!([2]), "group_system").await["result"], false);
    assert_eq!(has(json!([2]), "base.no_such_group").await["result"], false);
    let r = has(json!([1, 2]), "base.group_system").await;
    assert_eq!(
        (err_name(&r), err_msg(&r)),
        (
            "builtins.ValueError".into(),
            "Expected singleton: res.users(1, 2)".into()
        )
    );
    // A portal user may only ask about itself.
    let portal = sim
        .ok(
            "res.users",
            "create",
            json!([{"name": "Pat", "login": "pat", "password": "pat-secret", "share": true, "groups_id": [[6, 0, []]]}]),
            json!({}),
        )
        .await;
    let r = sim
        .rpc(
            "object",
            "execute_kw",
            json!([
                sim.db,
                portal,
                "pat-secret",
                "res.users",
                "has_group",
                [[2], "base.group_system"]
            ]),
        )
        .await;
    assert_eq!(
        (err_name(&r), err_msg(&r)),
        (
            "odoo.exceptions.AccessError".into(),
            "You can ony call user.has_group() with your current user.".into()
        )
    );
    let r = sim
        .rpc(
            "object",
            "execute_kw",
            json!([
                sim.db,
                portal,
                "pat-secret",
                "res.users",
                "has_group",
                [[portal], "base.group_user"]
            ]),
        )
        .await;
    assert_eq!(r["result"], false, "{r}");
    sim.stop().await;
}
