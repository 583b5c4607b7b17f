//! res.users behaviour: credentials, groups, context, multi-company group, module install.

use crate::error::{OResult, OdooError};
use crate::orm::{db_err, Env};
use serde_json::{json, Value};
use sqlx::PgConnection;

pub async fn xmlid_res_id(conn: &mut PgConnection, xmlid: &str) -> OResult<Option<i64>> {
    let Some((module, name)) = xmlid.split_once('.') else {
        return Ok(None);
    };
    let row: Option<(i32,)> =
        sqlx::query_as("SELECT res_id FROM ir_model_data WHERE module = $1 AND name = $2")
            .bind(module)
            .bind(name)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    Ok(row.map(|r| r.0 as i64))
}

/// All groups of a user, implied groups included.
pub async fn user_group_ids(conn: &mut PgConnection, uid: i64) -> OResult<Vec<i64>> {
    let rows: Vec<(i32,)> = sqlx::query_as(
        "WITH RECURSIVE g(id) AS (SELECT gid FROM res_groups_users_rel WHERE uid = $1 \
         UNION SELECT r.hid FROM res_groups_implied_rel r JOIN g ON g.id = r.gid) SELECT id FROM g",
    )
    .bind(uid as i32)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(rows.into_iter().map(|r| r.0 as i64).collect())
}

pub async fn has_group(conn: &mut PgConnection, uid: i64, xmlid: &str) -> OResult<bool> {
    let Some(gid) = xmlid_res_id(conn, xmlid).await? else {
        return Ok(false);
    };
    Ok(user_group_ids(conn, uid).await?.contains(&gid))
}

pub async fn require_system(conn: &mut PgConnection, env: &Env) -> OResult<()> {
    if env.uid == 1 || has_group(conn, env.uid, "base.group_system").await? {
        Ok(())
    } else {
        Err(OdooError::access_error(
            "You are not allowed to access 'System Parameter' (ir.config_parameter) records.\n\nThis operation is allowed for the following groups:\n\t- Administration/Settings\n\nContact your administrator to request access if necessary.",
        ))
    }
}

/// The POS models' access rights (`point_of_sale/security/ir.model.access.csv`, 18.0):
/// per model and mode, the groups granted (xml id, display name as `_make_access_error`
/// lists them). Models not listed here are not checked by the sim.
type AccessRule = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const POS_ACCESS: &[AccessRule] = &[
    (
        "pos.config",
        "read",
        &[
            ("base.group_system", "Administration/Settings"),
            (
                "point_of_sale.group_pos_manager",
                "Point of Sale/Administrator",
            ),
            ("point_of_sale.group_pos_user", "Point of Sale/User"),
        ],
    ),
    (
        "pos.config",
        "write",
        &[
            ("base.group_system", "Administration/Settings"),
            (
                "point_of_sale.group_pos_manager",
                "Point of Sale/Administrator",
            ),
            ("point_of_sale.group_pos_user", "Point of Sale/User"),
        ],
    ),
    (
        "pos.config",
        "create",
        &[(
            "point_of_sale.group_pos_manager",
            "Point of Sale/Administrator",
        )],
    ),
    (
        "pos.config",
        "unlink",
        &[(
            "point_of_sale.group_pos_manager",
            "Point of Sale/Administrator",
        )],
    ),
    (
        "pos.session",
        "read",
        &[("point_of_sale.group_pos_user", "Point of Sale/User")],
    ),
    (
        "pos.session",
        "write",
        &[("point_of_sale.group_pos_user", "Point of Sale/User")],
    ),
    (
        "pos.session",
        "create",
        &[("point_of_sale.group_pos_user", "Point of Sale/User")],
    ),
    ("pos.session", "unlink", &[]),
    (
        "pos.order",
        "read",
        &[
            ("stock.group_stock_user", "Inventory/User"),
            ("point_of_sale.group_pos_user", "Point of Sale/User"),
        ],
    ),
    (
        "pos.order",
        "write",
        &[("point_of_sale.group_pos_user", "Point of Sale/User")],
    ),
    (
        "pos.order",
        "create",
        &[("point_of_sale.group_pos_user", "Point of Sale/User")],
    ),
    (
        "pos.order",
        "unlink",
        &[("point_of_sale.group_pos_user", "Point of Sale/User")],
    ),
    (
        "pos.order.line",
        "*",
        &[("point_of_sale.group_pos_user", "Point of Sale/User")],
    ),
    (
        "pos.payment",
        "*",
        &[("point_of_sale.group_pos_user", "Point of Sale/User")],
    ),
    (
        "pos.payment.method",
        "read",
        &[
            (
                "point_of_sale.group_pos_manager",
                "Point of Sale/Administrator",
            ),
            ("point_of_sale.group_pos_user", "Point of Sale/User"),
        ],
    ),
    (
        "pos.payment.method",
        "*",
        &[(
            "point_of_sale.group_pos_manager",
            "Point of Sale/Administrator",
        )],
    ),
];

/// The access mode a method needs (a simplification of the ORM's per-operation checks).
fn access_mode(method: &str) -> &'static str {
    match method {
        "create" => "create",
        "unlink" => "unlink",
        "search_read"
        | "web_search_read"
        | "search"
        | "search_count"
        | "read"
        | "web_read"
        | "read_group"
        | "name_search"
        | "fields_get"
        | "default_get"
        | "exists"
        | "check_access_rights"
        | "has_access" => "read",
        // Model methods of the POS that only read.
        "load_data" | "get_closing_control_data" | "login" => "read",
        // sync_from_ui creates orders.
        "sync_from_ui" => "create",
        _ => "write",
    }
}

/// Refuses a call on a POS model the user has no access right for, with Odoo's
/// `AccessError` text (`ir.model.access._make_access_error`). The superuser passes.
pub async fn check_model_access(
    conn: &mut PgConnection,
    env: &Env,
    model: &crate::models::Model,
    method: &str,
) -> OResult<()> {
    if env.uid == 1 {
        return Ok(());
    }
    let mode = access_mode(method);
    let rule = POS_ACCESS
        .iter()
        .find(|(m, md, _)| *m == model.name && *md == mode)
        .or_else(|| {
            POS_ACCESS
                .iter()
                .find(|(m, md, _)| *m == model.name && *md == "*")
        });
    let Some((_, _, groups)) = rule else {
        return Ok(());
    };
    for (xmlid, _) in groups.iter() {
        if has_group(conn, env.uid, xmlid).await? {
            return Ok(());
        }
    }
    let verb = match mode {
        "read" => "access",
        "write" => "modify",
        "create" => "create",
        _ => "delete",
    };
    let group_info = if groups.is_empty() {
        "No group currently allows this operation.".to_owned()
    } else {
        format!(
            "This operation is allowed for the following groups:\n{}",
            groups
                .iter()
                .map(|(_, name)| format!("\t- {name}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    };
    Err(OdooError::access_error(format!(
        "You are not allowed to {verb} '{}' ({}) records.\n\n{group_info}\n\nContact your administrator to request access if necessary.",
        model.description, model.name
    )))
}

pub async fn context_get(conn: &mut PgConnection, env: &Env) -> OResult<Value> {
    let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT p.lang, p.tz FROM res_users u JOIN res_partner p ON p.id = u.partner_id WHERE u.id = $1",
    )
    .bind(env.uid as i32)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let (lang, tz) = row.unwrap_or((None, None));
    Ok(json!({
        "lang": lang.map(Value::String).unwrap_or(Value::Bool(false)),
        "tz": tz.map(Value::String).unwrap_or(Value::Bool(false)),
        "uid": env.uid,
    }))
}

/// `base.group_multi_company` follows the number of allowed companies (res.users write/create).
pub async fn sync_multi_company(conn: &mut PgConnection, uids: &[i64]) -> OResult<()> {
    let Some(gid) = xmlid_res_id(conn, "base.group_multi_company").await? else {
        return Ok(());
    };
    for uid in uids {
        let (n,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM res_company_users_rel WHERE user_id = $1")
                .bind(*uid as i32)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
        if n > 1 {
            sqlx::query("INSERT INTO res_groups_users_rel (gid, uid) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(gid as i32)
                .bind(*uid as i32)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
        } else {
            sqlx::query("DELETE FROM res_groups_users_rel WHERE gid = $1 AND uid = $2")
                .bind(gid as i32)
                .bind(*uid as i32)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
        }
    }
    Ok(())
}

/// `button_immediate_install`: needs Access Rights admin; marks modules and their
/// dependencies installed.
pub async fn install_modules(conn: &mut PgConnection, env: &Env, ids: &[i64]) -> OResult<()> {
    if env.uid != 1 && !has_group(conn, env.uid, "base.group_erp_manager").await? {
        return Err(OdooError::access_denied());
    }
    let m = crate::models::model("ir.module.module").ok_or_else(|| OdooError::generic("model"))?;
    crate::orm::ensure_exist(conn, env, m, ids).await?;
    let ids32: Vec<i32> = ids.iter().map(|i| *i as i32).collect();
    sqlx::query(
        "WITH RECURSIVE deps(name) AS (SELECT name FROM ir_module_module WHERE id = ANY($1) \
         UNION SELECT d.name FROM ir_module_module_dependency d JOIN ir_module_module mm ON mm.id = d.module_id JOIN deps ON deps.name = mm.name) \
         UPDATE ir_module_module SET state = 'installed', latest_version = '18.0.1.0', write_date = now() at time zone 'utc' \
         WHERE name IN (SELECT name FROM deps) AND state IN ('uninstalled', 'to install')",
    )
    .bind(&ids32)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    // group of an installed application
    let pos: Option<(String,)> =
        sqlx::query_as("SELECT state FROM ir_module_module WHERE name = 'point_of_sale'")
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    if pos.is_some_and(|p| p.0 == "installed") {
        for x in [
            "point_of_sale.group_pos_user",
            "point_of_sale.group_pos_manager",
        ] {
            if let Some(g) = xmlid_res_id(conn, x).await? {
                sqlx::query("INSERT INTO res_groups_users_rel (gid, uid) VALUES ($1, 1), ($1, 2) ON CONFLICT DO NOTHING")
                    .bind(g as i32)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
            }
        }
        let has_journal: Option<(i32,)> = sqlx::query_as("SELECT id FROM account_journal LIMIT 1")
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
        if has_journal.is_none() {
            sqlx::raw_sql("INSERT INTO account_journal (id, name, code, type, company_id) VALUES \
                (1, 'Customer Invoices', 'INV', 'sale', 1), (2, 'Vendor Bills', 'BILL', 'purchase', 1), \
                (3, 'Miscellaneous Operations', 'MISC', 'general', 1), (4, 'Exchange Difference', 'EXCH', 'general', 1), \
                (5, 'Cash Basis Taxes', 'CABA', 'general', 1), (6, 'Bank', 'BNK1', 'bank', 1), (7, 'Cash', 'CSH1', 'cash', 1), \
                (8, 'Inventory Valuation', 'STJ', 'general', 1), (9, 'Point of Sale', 'POSS', 'general', 1); \
                SELECT setval(pg_get_serial_sequence('account_journal', 'id'), 10, false);")
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
        }
    }
    Ok(())
}

/// Stored credentials of a user: (password hash, active, login).
pub async fn user_credentials(
    conn: &mut PgConnection,
    uid: i64,
) -> OResult<Option<(Option<String>, bool, String)>> {
    let row: Option<(Option<String>, Option<bool>, String)> =
        sqlx::query_as("SELECT password, active, login FROM res_users WHERE id = $1")
            .bind(uid as i32)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    Ok(row.map(|(p, a, l)| (p, a.unwrap_or(false), l)))
}

pub async fn uid_by_login(conn: &mut PgConnection, login: &str) -> OResult<Option<i64>> {
    let row: Option<(i32,)> =
        sqlx::query_as("SELECT id FROM res_users WHERE login = $1 AND active ORDER BY id LIMIT 1")
            .bind(login)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    Ok(row.map(|r| r.0 as i64))
}

/// Odoo 18 `session_info()` (`addons/web/models/ir_http.py`); the keys other modules add
/// come from `session_keys`.
pub async fn session_info(conn: &mut PgConnection, db: &str, uid: i64) -> OResult<Value> {
    type Row = (
        String,
        Option<String>,
        i32,
        Option<String>,
        Option<String>,
        i32,
        Option<bool>,
        Option<String>,
    );
    let row: Row = sqlx::query_as(
        "SELECT u.login, p.name, p.id, p.lang, p.tz, u.company_id, u.share, to_char(p.write_date, 'YYYY-MM-DD HH24:MI:SS') \
         FROM res_users u JOIN res_partner p ON p.id = u.partner_id WHERE u.id = $1",
    )
    .bind(uid as i32)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    let (login, pname, pid, lang, tz, company_id, share, pwrite) = row;
    let is_system = uid == 1 || has_group(conn, uid, "base.group_system").await?;
    let is_internal = has_group(conn, uid, "base.group_user").await?;
    let (base_url,): (String,) = sqlx::query_as(
        "SELECT COALESCE((SELECT value FROM ir_config_parameter WHERE key = 'web.base.url'), '')",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    let companies: Vec<(i32, String, i32, Option<i32>)> = sqlx::query_as(
        "SELECT c.id, c.name, COALESCE(c.sequence, 10), c.parent_id FROM res_company c JOIN res_company_users_rel r ON r.cid = c.id \
         WHERE r.user_id = $1 ORDER BY c.sequence, c.name",
    )
    .bind(uid as i32)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    let mut allowed = serde_json::Map::new();
    for (id, name, seq, parent) in &companies {
        let children: Vec<i32> = companies
            .iter()
            .filter(|c| c.3 == Some(*id))
            .map(|c| c.0)
            .collect();
        allowed.insert(
            id.to_string(),
            json!({"id": id, "name": name, "sequence": seq, "child_ids": children,
                   "parent_id": parent.map(|p| json!(p)).unwrap_or(json!(false))}),
        );
    }
    let currencies: Vec<(i32, String, String, i32)> = sqlx::query_as(
        "SELECT id, symbol, COALESCE(position, 'after'), COALESCE(decimal_places, 2) FROM res_currency WHERE active ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    let mut cur = serde_json::Map::new();
    for (id, symbol, position, digits) in currencies {
        cur.insert(
            id.to_string(),
            json!({"symbol": symbol, "position": position, "digits": [69, digits]}),
        );
    }
    let lang_v = lang.clone().map(Value::String).unwrap_or(json!("en_US"));
    let mut info = json!({
        "uid": uid,
        "is_system": is_system,
        "is_admin": is_system || has_group(conn, uid, "base.group_erp_manager").await?,
        "is_public": share.unwrap_or(false) && !is_internal && login == "public",
        "is_internal_user": is_internal,
        "user_context": {"lang": lang_v, "tz": tz.map(Value::String).unwrap_or(Value::Bool(false)), "uid": uid},
        "db": db,
        "server_version": crate::VERSION,
        "server_version_info": crate::version_info(),
        "support_url": "https://www.odoo.com/buy",
        "name": pname.clone().unwrap_or_default(),
        "username": login,
        "partner_write_date": pwrite.map(Value::String).unwrap_or(Value::Bool(false)),
        "partner_display_name": pname.unwrap_or_default(),
        "partner_id": pid,
        "web.base.url": base_url,
        "active_ids_limit": 20000,
        "profile_session": null,
        "profile_collectors": null,
        "profile_params": null,
        "max_file_upload_size": 134217728,
        "home_action_id": false,
        "currencies": cur,
        "bundle_params": {"lang": lang.unwrap_or_else(|| "en_US".into())},
        "test_mode": false,
        "view_info": {
            "list": {"display_name": "List", "icon": "oi oi-view-list", "multi_record": true},
            "form": {"display_name": "Form", "icon": "fa fa-address-card", "multi_record": false},
            "graph": {"display_name": "Graph", "icon": "fa fa-area-chart", "multi_record": true},
            "pivot": {"display_name": "Pivot", "icon": "oi oi-view-pivot", "multi_record": true},
            "calendar": {"display_name": "Calendar", "icon": "fa fa-calendar", "multi_record": true},
            "kanban": {"display_name": "Kanban", "icon": "oi oi-view-kanban", "multi_record": true},
            "search": {"display_name": "Search", "icon": "oi oi-search", "multi_record": true},
            "activity": {"display_name": "Activity", "icon": "fa fa-clock-o", "multi_record": true}
        },
        "show_effect": true,
        "display_switch_company_menu": companies.len() > 1,
        "max_time_between_keys_in_ms": 150,
        "websocket_worker_version": "18.0-5",
    });
    if is_internal {
        if let Value::Object(o) = &mut info {
            o.insert(
                "user_companies".into(),
                json!({"current_company": company_id, "allowed_companies": allowed, "disallowed_ancestor_companies": {}}),
            );
        }
    }
    crate::session_keys::add(conn, uid, is_internal, &mut info).await?;
    Ok(info)
}
