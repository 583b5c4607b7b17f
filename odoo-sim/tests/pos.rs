//! Replays testdata/odoo18/pos/ step by step: setup over execute_kw, open_ui,
//! set_opening_control, sync_from_ui (twice: identical answers, one order), the
//! field variants of 06_variants.txt (ids, names, states, amounts and error texts
//! must match the recording), the minimal payload (07) and the draft update (08).
//!
//! Ignored in the sync_from_ui comparison: timestamps (date_order, create_date,
//! write_date, payment_date, checked to be "YYYY-MM-DD HH:MM:SS"), the
//! access_token value (a uuid4) and the mail-thread ids message_follower_ids /
//! message_ids (the simulator has no mail module: they are empty lists).

mod common;
use common::*;
use odoo_sim::Catalogue;
use serde_json::{json, Value};

fn testdata(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../testdata/odoo18/pos/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("testdata")
}

/// The JSON lines (responses) of a recording file, in order.
fn responses(name: &str) -> Vec<Value> {
    let mut out = vec![];
    for line in testdata(name).lines() {
        let mut rest = line.trim();
        while rest.starts_with('{') {
            let mut de = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
            match de.next() {
                Some(Ok(v)) => {
                    let used = de.byte_offset();
                    out.push(v);
                    rest = rest[used..].trim_start();
                }
                _ => break,
            }
        }
    }
    out
}

fn is_ts(v: &Value) -> bool {
    let re = regex::Regex::new(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$").expect("re");
    v.as_str().is_some_and(|s| re.is_match(s))
}

fn normalize_sync(mut v: Value) -> Value {
    for (model, keys) in [
        (
            "pos.order",
            &["date_order", "create_date", "write_date"][..],
        ),
        (
            "pos.payment",
            &["payment_date", "create_date", "write_date"][..],
        ),
        ("pos.order.line", &["write_date"][..]),
    ] {
        for rec in v[model].as_array_mut().into_iter().flatten() {
            for k in keys {
                assert!(is_ts(&rec[*k]), "{model}.{k} = {}", rec[*k]);
                rec[*k] = json!("<ts>");
            }
            if model == "pos.order" {
                let tok = rec["access_token"].as_str().unwrap_or("");
                assert!(uuid::Uuid::parse_str(tok).is_ok(), "access_token {tok}");
                rec["access_token"] = json!("<token>");
                rec["message_follower_ids"] = json!("<mail>");
                rec["message_ids"] = json!("<mail>");
            }
        }
    }
    v
}

fn base_order(uuid: &str) -> Value {
    let t = testdata("04_sync1.txt");
    let start = t.find("ORDER=").expect("ORDER") + 6;
    let end = t[start..].find('\n').map(|e| start + e).unwrap_or(t.len());
    let mut o: Value = serde_json::from_str(&t[start..end]).expect("order json");
    o["uuid"] = json!(uuid);
    o
}

#[tokio::test]
async fn pos_sequence_matches_recording() {
    let sim = Sim::start(Catalogue::Recording).await;
    let r01 = responses("01_payment_methods.txt");
    let cash = sim
        .kw(
            "pos.payment.method",
            "create",
            json!([{"name": "Cash", "journal_id": 7, "is_cash_count": true}]),
            json!({}),
        )
        .await;
    assert_eq!(cash, r01[0]);
    let card = sim
        .kw(
            "pos.payment.method",
            "create",
            json!([{"name": "Card", "journal_id": 6}]),
            json!({}),
        )
        .await;
    assert_eq!(card, r01[1]);

    let r02 = responses("02_config.txt");
    let cfg = sim
        .kw(
            "pos.config",
            "create",
            json!([{"name": "Shop", "payment_method_ids": [[6, 0, [1, 2]]]}]),
            json!({}),
        )
        .await;
    assert_eq!(cfg, r02[0]);
    let prod = sim.kw("product.product", "create", json!([{"name": "Widget", "list_price": 10.0, "available_in_pos": true, "taxes_id": [[6, 0, []]]}]), json!({})).await;
    assert_eq!(prod, r02[1]);
    let open = sim
        .kw("pos.config", "open_ui", json!([[1]]), json!({}))
        .await;
    assert_eq!(open, r02[2]);
    let cfg_read = sim
        .kw(
            "pos.config",
            "read",
            json!([
                [1],
                [
                    "current_session_id",
                    "current_session_state",
                    "journal_id",
                    "pricelist_id",
                    "payment_method_ids"
                ]
            ]),
            json!({}),
        )
        .await;
    assert_eq!(cfg_read, r02[3]);

    let r03 = responses("03_session.txt");
    assert_eq!(
        sim.kw(
            "pos.session",
            "action_pos_session_open",
            json!([[1]]),
            json!({})
        )
        .await,
        r03[0]
    );
    assert_eq!(
        sim.kw(
            "pos.session",
            "read",
            json!([[1], ["name", "state", "config_id", "user_id"]]),
            json!({})
        )
        .await,
        r03[1]
    );
    let soc = sim
        .kw(
            "pos.session",
            "set_opening_control",
            json!([[1], 0, ""]),
            json!({}),
        )
        .await;
    assert_eq!(soc, r03[2]);
    assert!(soc.get("result").is_none());
    let mut after = sim
        .kw(
            "pos.session",
            "read",
            json!([[1], ["name", "state", "config_id", "user_id", "start_at"]]),
            json!({}),
        )
        .await;
    let mut exp = r03[3].clone();
    assert!(is_ts(&after["result"][0]["start_at"]));
    after["result"][0]["start_at"] = json!("<ts>");
    exp["result"][0]["start_at"] = json!("<ts>");
    assert_eq!(after, exp);

    // sync_from_ui: first push, then the same uuid again
    let order = base_order("11111111-2222-4333-8444-555555555555");
    let s1 = sim
        .kw(
            "pos.order",
            "sync_from_ui",
            json!([[order.clone()]]),
            json!({}),
        )
        .await;
    let e1 = responses("04_sync1.txt").remove(0);
    assert_eq!(
        normalize_sync(s1["result"].clone()),
        normalize_sync(e1["result"].clone())
    );
    let s2 = sim
        .kw(
            "pos.order",
            "sync_from_ui",
            json!([[order.clone()]]),
            json!({}),
        )
        .await;
    assert_eq!(s1, s2, "second push must answer byte-identically");
    let r05 = responses("05_sync2.txt");
    assert_eq!(
        normalize_sync(s2["result"].clone()),
        normalize_sync(r05[0]["result"].clone())
    );
    assert_eq!(
        sim.ok(
            "pos.order",
            "search_count",
            json!([[["uuid", "=", order["uuid"]]]]),
            json!({})
        )
        .await,
        json!(1)
    );
    assert_eq!(
        sim.ok("pos.order", "search_count", json!([[]]), json!({}))
            .await,
        json!(1)
    );
    assert_eq!(
        sim.ok("pos.order.line", "search_count", json!([[]]), json!({}))
            .await,
        json!(1)
    );
    assert_eq!(
        sim.ok("pos.payment", "search_count", json!([[]]), json!({}))
            .await,
        json!(1)
    );

    // 06 variants, in the recorded order
    let variants = testdata("06_variants.txt");
    let mut n = 0;
    for line in variants.lines().filter(|l| !l.trim().is_empty()) {
        n += 1;
        let label = line[..33].trim().to_string();
        let mut o = base_order(&uuid::Uuid::new_v4().to_string());
        match label.as_str() {
            "lines=[] (no lines)" => o["lines"] = json!([]),
            "underpaid: payment 5 of 10" => o["payment_ids"][0][2]["amount"] = json!(5.0),
            "lines as dicts not commands" => o["lines"] = json!([o["lines"][0][2].clone()]),
            l => {
                let what = l.strip_prefix("drop ").expect("drop");
                if let Some(f) = what.strip_prefix("order.") {
                    o.as_object_mut().expect("obj").remove(f);
                } else if let Some(f) = what.strip_prefix("line.") {
                    o["lines"][0][2].as_object_mut().expect("obj").remove(f);
                } else {
                    o.as_object_mut().expect("obj").remove(what);
                }
            }
        }
        let r = sim
            .kw("pos.order", "sync_from_ui", json!([[o]]), json!({}))
            .await;
        let outcome = &line[33..];
        let outcome = outcome[outcome.find("  ").expect("sep") + 2..].to_string();
        if let Some(err) = outcome.strip_prefix("ERROR ") {
            let arg = match &r["error"]["data"]["arguments"][0] {
                Value::String(s) => s.replace('\n', " "),
                other => other.to_string(),
            };
            assert_eq!(format!("{}: {}", err_name(&r), arg), err, "{label}: {r}");
        } else {
            let rec = &r["result"]["pos.order"][0];
            let got = format!(
                "OK id={} state={} name={} amount_total={:?} amount_paid={:?} amount_tax={:?} lines={} payments={}",
                rec["id"], rec["state"].as_str().unwrap_or(""), rec["name"].as_str().unwrap_or(""),
                rec["amount_total"].as_f64().unwrap_or(-1.0), rec["amount_paid"].as_f64().unwrap_or(-1.0),
                rec["amount_tax"].as_f64().unwrap_or(-1.0), rec["lines"], rec["payment_ids"]
            );
            assert_eq!(
                got.replace(',', ", ").replace(",  ", ", "),
                outcome.trim_end(),
                "{label}"
            );
        }
    }
    assert_eq!(n, 16);

    // 07: the smallest payload Odoo accepts → a draft order named "/"
    let min: Value = json!({"uuid": "9d329637-e882-4793-bfb4-8c6097d456df", "session_id": 1, "lines": [[0, 0, {"product_id": 2, "price_subtotal": 10.0, "price_subtotal_incl": 10.0}]], "amount_total": 10.0, "amount_paid": 0.0, "amount_tax": 0.0, "amount_return": 0.0});
    let r = sim
        .ok(
            "pos.order",
            "sync_from_ui",
            json!([[min.clone()]]),
            json!({}),
        )
        .await;
    let o = &r["pos.order"][0];
    assert_eq!(
        (o["id"].clone(), o["name"].clone(), o["state"].clone()),
        (json!(16), json!("/"), json!("draft"))
    );
    assert_eq!(
        (o["amount_total"].clone(), o["amount_paid"].clone()),
        (json!(10.0), json!(0.0))
    );
    assert_eq!(
        (
            o["lines"].clone(),
            o["payment_ids"].clone(),
            o["picking_ids"].clone()
        ),
        (json!([11]), json!([]), json!([9]))
    );
    let l = &r["pos.order.line"][0];
    assert_eq!(
        (
            l["qty"].clone(),
            l["price_unit"].clone(),
            l["price_subtotal"].clone(),
            l["price_subtotal_incl"].clone()
        ),
        (json!(1.0), json!(0.0), json!(10.0), json!(10.0))
    );

    // 08: updating the draft needs the access_token key
    let mut upd = min.clone();
    upd["lines"] = json!([]);
    upd["payment_ids"] = json!([[0, 0, {"payment_method_id": 1, "amount": 10.0}]]);
    upd["amount_paid"] = json!(10.0);
    let r = sim
        .kw(
            "pos.order",
            "sync_from_ui",
            json!([[upd.clone()]]),
            json!({}),
        )
        .await;
    assert_eq!(
        format!(
            "{}: {}",
            err_name(&r),
            r["error"]["data"]["arguments"][0].as_str().unwrap_or("")
        ),
        "builtins.KeyError: access_token"
    );
    upd["access_token"] = json!(false);
    let r = sim
        .ok("pos.order", "sync_from_ui", json!([[upd]]), json!({}))
        .await;
    let o = &r["pos.order"][0];
    assert_eq!(
        (o["id"].clone(), o["name"].clone(), o["state"].clone()),
        (json!(16), json!("Shop/0016"), json!("paid"))
    );
    assert_eq!(
        (
            o["amount_paid"].clone(),
            o["lines"].clone(),
            o["payment_ids"].clone()
        ),
        (json!(10.0), json!([11]), json!([10]))
    );
    assert!(o["access_token"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(
        sim.ok(
            "pos.order",
            "search_count",
            json!([[["uuid", "=", min["uuid"]]]]),
            json!({})
        )
        .await,
        json!(1)
    );
    assert_eq!(
        sim.ok("pos.order", "search_count", json!([[]]), json!({}))
            .await,
        json!(10)
    );
    sim.stop().await;
}

#[tokio::test]
async fn session_lifecycle_and_load_data() {
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
        .clone();
    sim.ok(
        "pos.session",
        "set_opening_control",
        json!([[sid], 50.0, "float"]),
        json!({}),
    )
    .await;
    let data = sim
        .ok("pos.session", "load_data", json!([[sid], []]), json!({}))
        .await;
    for m in [
        "pos.session",
        "pos.config",
        "product.product",
        "pos.payment.method",
        "account.tax",
        "res.partner",
        "res.company",
        "res.currency",
    ] {
        assert!(data[m]["data"].is_array(), "{m}: {}", data[m]);
        assert!(
            data[m]["fields"].is_array() && data[m]["relations"].is_object(),
            "{m}"
        );
    }
    assert_eq!(data["pos.session"]["data"][0]["state"], json!("opened"));
    assert_eq!(
        data["pos.session"]["data"][0]["_server_version"]["server_serie"],
        json!("18.0")
    );
    assert_eq!(
        data["product.product"]["data"].as_array().map(Vec::len),
        Some(5)
    );
    assert_eq!(data["pos.payment.method"]["data"][0]["type"], json!("cash"));
    // a paid order with change
    let order = json!({"uuid": uuid::Uuid::new_v4().to_string(), "session_id": sid, "lines": [[0, 0, {"product_id": 2, "qty": 2, "price_unit": 2.5, "price_subtotal": 5.0, "price_subtotal_incl": 5.75, "tax_ids": [[6, 0, [1]]]}]],
        "payment_ids": [[0, 0, {"payment_method_id": 1, "amount": 10.0}]], "amount_total": 5.75, "amount_paid": 10.0, "amount_tax": 0.75, "amount_return": 4.25});
    let r = sim
        .ok("pos.order", "sync_from_ui", json!([[order]]), json!({}))
        .await;
    assert_eq!(r["pos.order"][0]["state"], json!("paid"));
    assert_eq!(r["pos.order"][0]["amount_paid"], json!(5.75));
    assert_eq!(r["pos.payment"].as_array().map(Vec::len), Some(2));
    assert_eq!(r["pos.order.line"][0]["tax_ids"], json!([1]));
    // closing
    assert_eq!(
        sim.ok(
            "pos.session",
            "post_closing_cash_details",
            json!([[sid], 55.75]),
            json!({})
        )
        .await,
        json!({"successful": true})
    );
    let upd = sim
        .kw(
            "pos.session",
            "update_closing_control_state_session",
            json!([[sid], "bye"]),
            json!({}),
        )
        .await;
    assert!(
        upd.get("result").is_none() && upd.get("error").is_none(),
        "{upd}"
    );
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
    assert_eq!(
        sim.ok("pos.session", "read", json!([[sid], ["state"]]), json!({}))
            .await[0]["state"],
        json!("closed")
    );
    // pushing into a closed session: _get_valid_session logs order['name'] first, so a
    // payload without a name fails with Odoo's KeyError before any session is looked for
    let mut late = json!({"uuid": uuid::Uuid::new_v4().to_string(), "session_id": sid, "lines": [], "amount_total": 0.0, "amount_paid": 0.0, "amount_tax": 0.0, "amount_return": 0.0});
    let r = sim
        .kw(
            "pos.order",
            "sync_from_ui",
            json!([[late.clone()]]),
            json!({}),
        )
        .await;
    assert_eq!(
        (err_name(&r), err_msg(&r)),
        ("builtins.KeyError".into(), "name".into())
    );
    // with no other open session
    late["name"] = json!("Order 00001-001-0009");
    let r = sim
        .kw(
            "pos.order",
            "sync_from_ui",
            json!([[late.clone()]]),
            json!({}),
        )
        .await;
    assert_eq!(err_name(&r), "odoo.exceptions.UserError");
    assert_eq!(
        err_msg(&r),
        "No open session available. Please open a new session to capture the order."
    );
    // with another open session the order moves there
    sim.ok("pos.config", "open_ui", json!([[1]]), json!({}))
        .await;
    let sid2 = sim
        .ok(
            "pos.config",
            "read",
            json!([[1], ["current_session_id"]]),
            json!({}),
        )
        .await[0]["current_session_id"][0]
        .clone();
    assert_ne!(sid, sid2);
    let r = sim
        .ok("pos.order", "sync_from_ui", json!([[late]]), json!({}))
        .await;
    assert_eq!(r["pos.order"][0]["session_id"], sid2);
    // unknown product / payment method
    let bad = json!({"uuid": uuid::Uuid::new_v4().to_string(), "session_id": sid2, "lines": [[0, 0, {"product_id": 999, "price_subtotal": 1.0, "price_subtotal_incl": 1.0}]], "amount_total": 1.0, "amount_paid": 0.0, "amount_tax": 0.0, "amount_return": 0.0});
    let r = sim
        .kw("pos.order", "sync_from_ui", json!([[bad]]), json!({}))
        .await;
    assert_eq!(err_name(&r), "odoo.exceptions.ValidationError");
    assert!(
        err_msg(&r).contains("Constraint: pos_order_line_product_id_fkey"),
        "{r}"
    );
    let bad = json!({"uuid": uuid::Uuid::new_v4().to_string(), "session_id": sid2, "bogus": 1, "lines": [], "amount_total": 1.0, "amount_paid": 0.0, "amount_tax": 0.0, "amount_return": 0.0});
    let r = sim
        .kw("pos.order", "sync_from_ui", json!([[bad]]), json!({}))
        .await;
    assert_eq!(
        (err_name(&r), err_msg(&r)),
        (
            "builtins.ValueError".into(),
            "Invalid field 'bogus' on model 'pos.order'".into()
        )
    );
    sim.stop().await;
}
