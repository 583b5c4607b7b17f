//! `pos.session.load_data` as Odoo 18.0 answers it (`addons/point_of_sale/models/
//! pos_session.py` `load_data` / `_load_pos_data_models`, `pos_load_mixin.py`, and each
//! model's `_load_pos_data_fields`): every model the POS loads, with its fields, whether or
//! not it has records.

mod common;

use common::*;
use odoo_sim::Catalogue;
use serde_json::{json, Value};

/// `pos.session._load_pos_data_models` of 18.0, in its order, after `pos.session` itself.
const MODELS_18: &[&str] = &[
    "pos.session",
    "pos.config",
    "pos.order",
    "pos.order.line",
    "pos.pack.operation.lot",
    "pos.payment",
    "pos.payment.method",
    "pos.printer",
    "pos.category",
    "pos.bill",
    "res.company",
    "account.tax",
    "account.tax.group",
    "product.product",
    "product.attribute",
    "product.attribute.custom.value",
    "product.template.attribute.line",
    "product.template.attribute.value",
    "product.combo",
    "product.combo.item",
    "product.packaging",
    "res.users",
    "res.partner",
    "decimal.precision",
    "uom.uom",
    "uom.category",
    "res.country",
    "res.country.state",
    "res.lang",
    "product.pricelist",
    "product.pricelist.item",
    "product.category",
    "account.cash.rounding",
    "account.fiscal.position",
    "account.fiscal.position.tax",
    "stock.picking.type",
    "res.currency",
    "pos.note",
    "ir.ui.view",
    "product.tag",
    "ir.module.module",
];

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

fn names(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn load_data_answers_every_model_with_its_declared_fields() {
    let (sim, sid) = open_shop().await;
    let data = sim
        .ok("pos.session", "load_data", json!([[sid], []]), json!({}))
        .await;
    let keys: Vec<&str> = data
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut want = MODELS_18.to_vec();
    want.sort_unstable();
    let mut got = keys.clone();
    got.sort_unstable();
    assert_eq!(got, want, "every model of _load_pos_data_models, no other");
    for m in MODELS_18 {
        let b = &data[*m];
        assert!(b["data"].is_array(), "{m}: data");
        assert!(b["fields"].is_array(), "{m}: fields");
        assert!(b["relations"].is_object(), "{m}: relations");
    }

    // A model with no records still declares its fields and their relations
    // (pos_printer.py _load_pos_data_fields).
    let printer = &data["pos.printer"];
    assert_eq!(printer["data"], json!([]));
    assert_eq!(
        names(&printer["fields"]),
        [
            "id",
            "name",
            "proxy_ip",
            "product_categories_ids",
            "printer_type"
        ]
    );
    assert_eq!(
        printer["relations"]["product_categories_ids"],
        json!({"name": "product_categories_ids", "model": "pos.printer", "compute": false,
               "related": false, "relation": "pos.category", "type": "many2many",
               "relation_table": "printer_category_rel"})
    );

    // Declared lists beyond what the simulator stores (res_company.py, product.py).
    assert!(names(&data["res.company"]["fields"]).contains(&"account_fiscal_country_id"));
    let company = &data["res.company"]["data"][0];
    assert_eq!(company["id"], json!(1));
    assert_eq!(
        company["tax_calculation_rounding_method"],
        json!("round_per_line")
    );
    assert_eq!(company["point_of_sale_use_ticket_qr_code"], json!(false));
    let product = &data["product.product"]["data"][0];
    for f in names(&data["product.product"]["fields"]) {
        assert!(product.get(f).is_some(), "product.product record lacks {f}");
    }
    assert_eq!(product["pos_categ_ids"], json!([]));
    assert_eq!(
        data["product.product"]["relations"]["taxes_id"]["relation"],
        json!("account.tax")
    );

    // pos.config declares no list: every field of the model, with Odoo's defaults where the
    // shop never set them (pos_config.py), and no pricelist unless pricelists are used.
    assert_eq!(data["pos.config"]["fields"], json!([]));
    let config = &data["pos.config"]["data"][0];
    assert_eq!(config["id"], json!(1));
    assert_eq!(config["name"], json!("Shop"));
    assert_eq!(config["iface_tax_included"], json!("total"));
    assert_eq!(config["use_pricelist"], json!(false));
    assert_eq!(config["pricelist_id"], json!(false));
    assert_eq!(config["_product_default_values"], json!({}));
    assert_eq!(config["payment_method_ids"], json!([1, 2]));
    let rel = data["pos.config"]["relations"]
        .as_object()
        .expect("relations");
    assert!(rel.len() > 80, "every pos.config field: {}", rel.len());
    assert_eq!(rel["session_ids"]["inverse_name"], json!("config_id"));

    // pos.session: 18.0's fields and the keys _load_pos_data adds.
    let session = &data["pos.session"]["data"][0];
    assert_eq!(session["id"], json!(sid));
    assert_eq!(session["login_number"], json!(0));
    assert_eq!(session["state"], json!("opened"));
    assert!(session["_server_version"].is_object());

    // res_users.py _load_pos_data: the role instead of the groups.
    let user = &data["res.users"]["data"][0];
    assert_eq!(user["role"], json!("manager"));
    assert!(user.get("groups_id").is_none());
    sim.stop().await;
}

#[tokio::test]
async fn load_data_only_data_and_models_to_load_follow_odoo() {
    let (sim, sid) = open_shop().await;
    // only_data: relations of pos.session only (load_data adds them unconditionally).
    let data = sim
        .ok(
            "pos.session",
            "load_data",
            json!([[sid], ["pos.config", "pos.printer"], true]),
            json!({}),
        )
        .await;
    let mut keys: Vec<&String> = data.as_object().expect("object").keys().collect();
    keys.sort();
    assert_eq!(keys, ["pos.config", "pos.printer", "pos.session"]);
    assert!(data["pos.session"]["relations"].is_object());
    assert!(data["pos.config"].get("relations").is_none());
    assert_eq!(
        data["pos.printer"],
        json!({"data": [], "fields": ["id", "name", "proxy_ip", "product_categories_ids", "printer_type"]})
    );

    // A model whose loader reads a key left out of models_to_load fails as Odoo's does
    // (product.product._load_pos_data reads data['pos.config']): KeyError.
    let r = sim
        .kw(
            "pos.session",
            "load_data",
            json!([[sid], ["product.product"]]),
            json!({}),
        )
        .await;
    assert_eq!(err_name(&r), "builtins.KeyError", "{r}");
    assert_eq!(err_msg(&r), "pos.config");
    sim.stop().await;
}

#[tokio::test]
async fn load_data_loads_the_drafts_of_the_session_and_all_payment_methods() {
    let (sim, sid) = open_shop().await;
    // A draft order with a line and a partner: its lines, payments and partner come along.
    let partner = sim
        .ok(
            "res.partner",
            "create",
            json!([{"name": "Zed Customer"}]),
            json!({}),
        )
        .await;
    let order = json!({"uuid": uuid::Uuid::new_v4().to_string(), "name": "Order 00001-001-0001",
        "session_id": sid, "partner_id": partner, "state": "draft",
        "lines": [[0, 0, {"product_id": 2, "qty": 1, "price_unit": 2.5, "price_subtotal": 2.5, "price_subtotal_incl": 2.5}]],
        "payment_ids": [], "amount_total": 2.5, "amount_paid": 0, "amount_tax": 0, "amount_return": 0});
    sim.ok("pos.order", "sync_from_ui", json!([[order]]), json!({}))
        .await;
    // An archived payment method is still sent (pos_payment_method.py: active or not).
    sim.ok(
        "pos.payment.method",
        "write",
        json!([[2], {"active": false}]),
        json!({}),
    )
    .await;
    let data = sim
        .ok("pos.session", "load_data", json!([[sid], []]), json!({}))
        .await;
    assert_eq!(data["pos.order"]["fields"], json!([]));
    assert_eq!(data["pos.order"]["data"].as_array().map(Vec::len), Some(1));
    let oid = data["pos.order"]["data"][0]["id"].clone();
    assert_eq!(data["pos.order.line"]["data"][0]["order_id"], oid);
    assert!(data["pos.order.line"]["data"][0].get("id").is_some());
    let partners: Vec<i64> = data["res.partner"]["data"]
        .as_array()
        .expect("partners")
        .iter()
        .filter_map(|p| p["id"].as_i64())
        .collect();
    assert!(
        partners.contains(&partner.as_i64().expect("id")),
        "{partners:?}"
    );
    let methods: Vec<i64> = data["pos.payment.method"]["data"]
        .as_array()
        .expect("methods")
        .iter()
        .filter_map(|p| p["id"].as_i64())
        .collect();
    assert!(methods.contains(&2), "{methods:?}");
    sim.stop().await;
}
