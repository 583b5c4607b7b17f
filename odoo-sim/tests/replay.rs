//! Replays every exchange recorded from a real Odoo 18 (testdata/odoo18/*.json)
//! against a fresh database in the recorded state and compares the bodies.
//!
//! Compared: HTTP status and the whole response body, except
//! - `error.data.debug` (tracebacks are elided in the recordings and synthetic here);
//! - 07_db_list: the recording machine's database names (we check it is a sorted
//!   list of names that contains ours);
//! - 09 session info: values that differ per database or per moment: `partner_write_date`,
//!   the two `cache_hashes` (hex digests of the same lengths), and in `storeData` the
//!   partners' `write_date`, `avatar_128_access_token` and `signature`; `action_discuss_id`
//!   and `mt_comment_id` are `false` (the simulator has no actions or message subtypes, see
//!   the README); every other key and value must match.
//!
//! The database name `ref_pos1` is rewritten to the test's unique name in the
//! request, the Host header and the expected response.

mod common;
use common::*;
use odoo_sim::Catalogue;
use serde_json::Value;

/// Removes from a session_info what differs per database or per moment, checking its shape.
fn strip_volatile_session(r: &mut serde_json::Map<String, Value>, sim: bool) {
    assert!(r.get("partner_write_date").is_some_and(Value::is_string));
    r.remove("partner_write_date");
    let hashes = r.remove("cache_hashes").expect("cache_hashes");
    let hex_len = |k: &str| {
        hashes[k]
            .as_str()
            .filter(|h| h.chars().all(|c| c.is_ascii_hexdigit()))
            .map(str::len)
    };
    assert_eq!(hex_len("translations"), Some(40), "{hashes}");
    assert_eq!(hex_len("load_menus"), Some(64), "{hashes}");
    let store = r
        .get_mut("storeData")
        .and_then(Value::as_object_mut)
        .expect("storeData");
    for p in store["res.partner"].as_array_mut().expect("partners") {
        let p = p.as_object_mut().expect("partner");
        for k in ["write_date", "avatar_128_access_token"] {
            assert!(p.remove(k).is_some_and(|v| v.is_string()), "{k}");
        }
        p.remove("signature");
    }
    let s = store["Store"].as_object_mut().expect("Store");
    for k in ["action_discuss_id", "mt_comment_id"] {
        let v = s.remove(k).expect(k);
        if sim {
            assert_eq!(v, Value::Bool(false), "{k}");
        }
    }
}

fn strip_debug(v: &mut Value) {
    if let Some(d) = v.pointer_mut("/error/data") {
        if let Some(o) = d.as_object_mut() {
            let debug = o.remove("debug");
            // the synthetic traceback still ends with "<name>: <message>"
            if let Some(Value::String(dbg)) = debug {
                assert!(
                    dbg.starts_with("Traceback (most recent call last):\n"),
                    "{dbg}"
                );
            }
        }
    }
}

#[tokio::test]
async fn replay_recorded_exchanges() {
    let sim = Sim::start(Catalogue::Recording).await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/odoo18");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("testdata")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    files.sort();
    let mut cookie = String::new();
    let mut replayed = 0;
    let re = regex::Regex::new(r"^session_id=([A-Za-z0-9_\-]+); Expires=\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT; Max-Age=604800; HttpOnly; Path=/$").expect("re");
    for path in files {
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let raw = std::fs::read_to_string(&path)
            .expect("read")
            .replace("ref_pos1", &sim.db);
        let rec: Value = serde_json::from_str(&raw).expect("json");
        let Some(request) = rec.get("request") else {
            continue;
        };
        let name = rec["name"].as_str().unwrap_or("").to_string();
        let mut headers: Vec<(String, String)> = vec![];
        if let Some(h) = rec["headers"].as_object() {
            for (k, v) in h {
                if k == "Cookie" {
                    headers.push(("Cookie".into(), cookie.clone()));
                } else {
                    headers.push((k.clone(), v.as_str().unwrap_or("").to_string()));
                }
            }
        }
        let hdr: Vec<(&str, &str)> = headers
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let (status, resp_headers, mut got) = sim
            .post(rec["path"].as_str().unwrap_or("/"), &hdr, request)
            .await;
        assert_eq!(
            status as i64,
            rec["response_http_status"].as_i64().unwrap_or(0),
            "{name}"
        );
        let mut exp = rec["response"].clone();
        strip_debug(&mut got);
        strip_debug(&mut exp);
        match name.as_str() {
            "07_db_list" => {
                let list = got["result"].as_array().expect("list");
                assert!(
                    list.iter().any(|d| d == &Value::String(sim.db.clone())),
                    "{got}"
                );
                let names: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
                let mut sorted = names.clone();
                sorted.sort();
                assert_eq!(names, sorted);
            }
            "09_web_session_authenticate_good_hostheader" => {
                let set_cookie = resp_headers
                    .get("set-cookie")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let caps = re
                    .captures(&set_cookie)
                    .unwrap_or_else(|| panic!("cookie {set_cookie}"));
                cookie = format!("session_id={}", &caps[1]);
                let (g, e) = (
                    got["result"].as_object_mut().expect("obj"),
                    exp["result"].as_object_mut().expect("obj"),
                );
                strip_volatile_session(g, true);
                strip_volatile_session(e, false);
                assert_eq!(got, exp, "{name}");
            }
            _ => assert_eq!(got, exp, "{name}"),
        }
        replayed += 1;
    }
    assert_eq!(replayed, 18);
    sim.stop().await;
}
