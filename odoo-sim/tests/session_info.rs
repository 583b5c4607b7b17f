//! The session-info keys Odoo 18.0's modules add (`addons/web/models/ir_http.py`
//! `session_info` and the overrides in web_tour, mail, partner_autocomplete, spreadsheet):
//! they follow the modules installed and the user, as Odoo's do.

mod common;

use common::*;
use odoo_sim::Catalogue;
use serde_json::{json, Value};

async fn authenticate(sim: &Sim, login: &str, password: &str) -> Value {
    let body = json!({"jsonrpc": "2.0", "method": "call", "id": 1,
        "params": {"db": sim.db, "login": login, "password": password}});
    // dbfilter ^%d$: the database is picked by the first label of the host, as in Odoo.
    let host = format!("{}.localhost", sim.db);
    let (status, _, v) = sim
        .post(
            "/web/session/authenticate",
            &[("Host", host.as_str())],
            &body,
        )
        .await;
    assert_eq!(status, 200);
    assert!(v.get("error").is_none(), "{v}");
    v["result"].clone()
}

#[tokio::test]
async fn a_fresh_database_has_settings_hashes_and_the_tour_keys_only() {
    // base + web: no mail, so no discuss store, no partner_autocomplete, no spreadsheet.
    let sim = Sim::start(Catalogue::None).await;
    let info = authenticate(&sim, "admin", "admin").await;
    assert_eq!(info["uid"], json!(2), "{info}");
    assert_eq!(
        info["user_settings"],
        json!({"id": 1, "user_id": {"id": 2}}),
        "{info}"
    );
    assert_eq!(
        info["cache_hashes"]["translations"].as_str().map(str::len),
        Some(40)
    );
    assert_eq!(
        info["cache_hashes"]["load_menus"].as_str().map(str::len),
        Some(64)
    );
    assert_eq!(info["tour_enabled"], json!(true));
    assert_eq!(info["current_tour"], json!(false));
    for k in [
        "storeData",
        "iap_company_enrich",
        "can_insert_in_spreadsheet",
    ] {
        assert!(info.get(k).is_none(), "{k} without mail: {info}");
    }
    sim.stop().await;
}

#[tokio::test]
async fn with_point_of_sale_the_store_and_the_pos_tour_come() {
    let sim = Sim::start(Catalogue::Demo).await;
    let first = authenticate(&sim, "admin", "admin").await;
    let settings = json!({"id": 1, "user_id": {"id": 2},
        "is_discuss_sidebar_category_channel_open": true, "is_discuss_sidebar_category_chat_open": true,
        "push_to_talk_key": false, "use_push_to_talk": false, "voice_active_duration": 200,
        "channel_notifications": false, "mute_until_dt": false, "volumes": [["ADD", []]]});
    assert_eq!(first["user_settings"], settings);
    assert_eq!(
        first["current_tour"],
        json!({"custom": false, "url": "/odoo", "name": "point_of_sale_tour", "steps": [], "rainbowManMessage": ""})
    );
    assert_eq!(first["iap_company_enrich"], json!(true));
    assert_eq!(first["can_insert_in_spreadsheet"], json!(false));
    let store = &first["storeData"];
    assert_eq!(store["Store"]["self"], json!({"id": 3, "type": "partner"}));
    assert_eq!(
        store["Store"]["odoobot"],
        json!({"id": 2, "type": "partner"})
    );
    assert_eq!(store["Store"]["settings"], settings);
    assert_eq!(store["res.partner"][1]["isAdmin"], json!(true));
    assert_eq!(store["res.partner"][0]["im_status"], json!("bot"));

    // The settings row is found again, not made twice; the hashes are stable.
    let again = authenticate(&sim, "admin", "admin").await;
    assert_eq!(again["user_settings"]["id"], json!(1));
    assert_eq!(again["cache_hashes"], first["cache_hashes"]);

    // Another user: settings of their own; not an administrator, so no tour and no
    // company enrichment (web_tour res_users.py, partner_autocomplete ir_http.py).
    let uid = sim
        .ok(
            "res.users",
            "create",
            json!([{"name": "Cashier", "login": "cashier", "password": "cashier-pass-1"}]),
            json!({}),
        )
        .await;
    let cashier = authenticate(&sim, "cashier", "cashier-pass-1").await;
    assert_eq!(cashier["uid"], uid);
    assert_eq!(cashier["user_settings"]["id"], json!(2));
    assert_eq!(cashier["user_settings"]["user_id"], json!({"id": uid}));
    assert_eq!(cashier["tour_enabled"], json!(false));
    assert_eq!(cashier["current_tour"], json!(false));
    assert!(cashier.get("iap_company_enrich").is_none());
    assert_ne!(
        cashier["cache_hashes"]["load_menus"], first["cache_hashes"]["load_menus"],
        "menus differ with the user's groups"
    );
    sim.stop().await;
}
