//! The session-info keys Odoo 18.0's modules add to `ir.http.session_info`
//! (`addons/web/models/ir_http.py` and the `session_info` overrides of `web_tour`, `mail`,
//! `partner_autocomplete` and `spreadsheet`): user settings, cache hashes, the onboarding
//! tour and the discuss store.
//!
//! Which keys appear follows the modules installed: `web_tour` is auto-installed with `web`
//! (its manifest: `auto_install: True`, depends on `web` only), so every database has the tour
//! keys. With `mail` installed, Odoo also auto-installs `iap_mail` and `partner_autocomplete`,
//! and a database with point_of_sale has `spreadsheet` (as the recordings show), so those keys
//! come with `mail`.

use crate::error::OResult;
use crate::orm::db_err;
use serde_json::{json, Map, Value};
use sha1::Digest as _;
use sqlx::PgConnection;

async fn installed(conn: &mut PgConnection) -> OResult<Vec<String>> {
    sqlx::query_scalar("SELECT name FROM ir_module_module WHERE state = 'installed' ORDER BY name")
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)
}

/// `res.users.settings._find_or_create_for_user(user)._res_users_settings_format()`: the
/// user's settings row (made on first use), `user_id` as `{"id": uid}`; `mail` adds the
/// discuss settings (`mail/models/res_users_settings.py`).
async fn user_settings(conn: &mut PgConnection, uid: i64, mail: bool) -> OResult<Value> {
    type Row = (
        i32,
        bool,
        bool,
        Option<String>,
        bool,
        i32,
        Option<String>,
        Option<String>,
    );
    // Looked for first, so an existing row takes no id from the sequence (as Odoo's search
    // then create).
    sqlx::query(
        "INSERT INTO res_users_settings (user_id) SELECT $1 \
         WHERE NOT EXISTS (SELECT 1 FROM res_users_settings WHERE user_id = $1) \
         ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(uid as i32)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    let row: Row = sqlx::query_as(
        "SELECT id, is_discuss_sidebar_category_channel_open, is_discuss_sidebar_category_chat_open, push_to_talk_key, \
                use_push_to_talk, voice_active_duration, channel_notifications, \
                to_char(mute_until_dt, 'YYYY-MM-DD HH24:MI:SS') FROM res_users_settings WHERE user_id = $1",
    )
    .bind(uid as i32)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    let (id, channel_open, chat_open, ptt_key, use_ptt, voice, notifications, mute_until) = row;
    let or_false = |v: Option<String>| v.map(Value::String).unwrap_or(Value::Bool(false));
    let mut s = json!({"id": id, "user_id": {"id": uid}});
    if mail {
        let o = s.as_object_mut().expect("object literal");
        o.insert(
            "is_discuss_sidebar_category_channel_open".into(),
            json!(channel_open),
        );
        o.insert(
            "is_discuss_sidebar_category_chat_open".into(),
            json!(chat_open),
        );
        o.insert("push_to_talk_key".into(), or_false(ptt_key));
        o.insert("use_push_to_talk".into(), json!(use_ptt));
        o.insert("voice_active_duration".into(), json!(voice));
        o.insert("channel_notifications".into(), or_false(notifications));
        o.insert("mute_until_dt".into(), or_false(mute_until));
        // volume_settings_ids, formatted as an ADD of the (no) per-partner volumes.
        o.insert("volumes".into(), json!([["ADD", []]]));
    }
    Ok(s)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `web_tour.tour.get_current_tour`: the first tour (by sequence) of the installed modules
/// the user has not consumed, for an internal user whose `tour_enabled` is set;
/// `point_of_sale_tour` (`point_of_sale/data/point_of_sale_tour.xml`, sequence 45) is the one
/// a database with point_of_sale has.
fn current_tour(modules: &[String], tour_enabled: bool, internal: bool) -> Value {
    if tour_enabled && internal && modules.iter().any(|m| m == "point_of_sale") {
        json!({"custom": false, "url": "/odoo", "name": "point_of_sale_tour", "steps": [], "rainbowManMessage": ""})
    } else {
        Value::Bool(false)
    }
}

async fn partner_store(conn: &mut PgConnection, pid: i64, secret: &str) -> OResult<Value> {
    type Row = (
        String,
        Option<String>,
        bool,
        Option<String>,
        Option<i32>,
        Option<String>,
        Option<String>,
        bool,
    );
    let (name, email, active, write_date, user_id, signature, notification, is_company): Row = sqlx::query_as(
        "SELECT COALESCE(p.name, ''), p.email, p.active, to_char(p.write_date, 'YYYY-MM-DD HH24:MI:SS'), \
                (SELECT min(u.id) FROM res_users u WHERE u.partner_id = p.id), \
                (SELECT u.signature FROM res_users u WHERE u.partner_id = p.id ORDER BY u.id LIMIT 1), \
                (SELECT u.notification_type FROM res_users u WHERE u.partner_id = p.id ORDER BY u.id LIMIT 1), \
                COALESCE(p.is_company, false) \
         FROM res_partner p WHERE p.id = $1",
    )
    .bind(pid as i32)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    // avatar_128_access_token: an HMAC of the record keyed by database.secret, as
    // ir.binary's _get_access_token (the value differs per database, as Odoo's).
    let token = hex(&sha2::Sha256::digest(
        format!(
            "{secret}:res.partner:{pid}:avatar_128:{}",
            write_date.clone().unwrap_or_default()
        )
        .as_bytes(),
    ));
    let mut p = Map::new();
    p.insert("active".into(), json!(active));
    p.insert("avatar_128_access_token".into(), json!(token));
    p.insert("id".into(), json!(pid));
    p.insert("name".into(), json!(name));
    p.insert(
        "write_date".into(),
        write_date.map(Value::String).unwrap_or(Value::Bool(false)),
    );
    if let Some(u) = user_id {
        p.insert("userId".into(), json!(u));
        p.insert("isInternalUser".into(), json!(true));
    }
    if u_is_bot(user_id) {
        p.insert("email".into(), json!(email));
        p.insert("im_status".into(), json!("bot"));
        p.insert("is_company".into(), json!(is_company));
    } else {
        let admin = match user_id {
            Some(u) => crate::users::has_group(conn, u.into(), "base.group_erp_manager").await?,
            None => false,
        };
        p.insert("isAdmin".into(), json!(admin));
        p.insert(
            "notification_preference".into(),
            json!(notification.unwrap_or_else(|| "email".into())),
        );
        p.insert(
            "signature".into(),
            signature.map(Value::String).unwrap_or(Value::Bool(false)),
        );
    }
    Ok(Value::Object(p))
}

/// OdooBot is user 1 (`base.user_root`), partner `base.partner_root`.
fn u_is_bot(user_id: Option<i32>) -> bool {
    user_id == Some(1)
}

/// Adds the keys to `info` (the dict `web` builds).
pub async fn add(
    conn: &mut PgConnection,
    uid: i64,
    internal: bool,
    info: &mut Value,
) -> OResult<()> {
    let modules = installed(conn).await?;
    let mail = modules.iter().any(|m| m == "mail");
    let settings = user_settings(conn, uid, mail).await?;
    let lang = info["user_context"]["lang"]
        .as_str()
        .unwrap_or("en_US")
        .to_string();
    let is_admin = info["is_admin"].as_bool().unwrap_or(false);
    let Some(o) = info.as_object_mut() else {
        return Ok(());
    };
    o.insert("user_settings".into(), settings.clone());

    // cache_hashes: the translations' hash changes with the installed modules and the
    // language (get_web_translations_hash, sha1); load_menus with what the user's groups
    // let them see (sha512/256 of the menus), for internal users only.
    let mut cache = Map::new();
    let translations = sha1::Sha1::digest(format!("{}|{lang}", modules.join(",")).as_bytes());
    cache.insert("translations".into(), json!(hex(&translations)));
    if internal {
        let groups: Vec<i32> =
            sqlx::query_scalar("SELECT gid FROM res_groups_users_rel WHERE uid = $1 ORDER BY gid")
                .bind(uid as i32)
                .fetch_all(&mut *conn)
                .await
                .map_err(db_err)?;
        let menus =
            sha2::Sha512::digest(format!("{}|{lang}|{groups:?}", modules.join(",")).as_bytes());
        cache.insert("load_menus".into(), json!(hex(&menus)[..64].to_string()));
    }
    o.insert("cache_hashes".into(), Value::Object(cache));

    // web_tour: res.users.tour_enabled is set for administrators of a database without demo
    // data (the simulator has none); get_current_tour as above.
    let tour_enabled = is_admin;
    o.insert("tour_enabled".into(), json!(tour_enabled));
    o.insert(
        "current_tour".into(),
        current_tour(&modules, tour_enabled, internal),
    );

    if mail {
        // mail/models/ir_http.py: the discuss store (res.users._init_store_data).
        let secret: String = sqlx::query_scalar(
            "SELECT COALESCE((SELECT value FROM ir_config_parameter WHERE key = 'database.secret'), '')",
        )
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
        let xmlid = |name: &'static str| {
            sqlx::query_scalar::<_, Option<i32>>(
                "SELECT (SELECT res_id FROM ir_model_data WHERE module || '.' || name = $1)",
            )
            .bind(name)
        };
        let internal_group = xmlid("base.group_user")
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
        let bot_partner: i32 = sqlx::query_scalar("SELECT partner_id FROM res_users WHERE id = 1")
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
        let self_partner: i32 =
            sqlx::query_scalar("SELECT partner_id FROM res_users WHERE id = $1")
                .bind(uid as i32)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
        let action_discuss = xmlid("mail.action_discuss")
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
        let mt_comment = xmlid("mail.mt_comment")
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
        let or_false = |v: Option<i32>| v.map(|i| json!(i)).unwrap_or(Value::Bool(false));
        let bot = partner_store(conn, bot_partner.into(), &secret).await?;
        let me = partner_store(conn, self_partner.into(), &secret).await?;
        o.insert(
            "storeData".into(),
            json!({
                "Store": {
                    "action_discuss_id": or_false(action_discuss),
                    "channel_types_with_seen_infos": ["chat", "group"],
                    "hasGifPickerFeature": false,
                    "hasLinkPreviewFeature": true,
                    "hasMessageTranslationFeature": false,
                    "internalUserGroupId": or_false(internal_group),
                    "mt_comment_id": or_false(mt_comment),
                    "odoobot": {"id": bot_partner, "type": "partner"},
                    "self": {"id": self_partner, "type": "partner"},
                    "settings": settings,
                },
                "res.partner": [bot, me],
            }),
        );
        // partner_autocomplete: for administrators, whether the company still awaits its
        // automatic enrichment (iap_enrich_auto_done is false on a new company).
        if is_admin {
            o.insert("iap_company_enrich".into(), json!(true));
        }
        // spreadsheet: the 'Insert in spreadsheet' button is off.
        o.insert("can_insert_in_spreadsheet".into(), json!(false));
    }
    Ok(())
}
