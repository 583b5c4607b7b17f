//! Point of Sale (Odoo 18): sessions, `sync_from_ui`, `load_data`, closing.

use crate::error::{OResult, OdooError};
use crate::methods::{apply_x2m, create_one, pytype, write};
use crate::models;
use crate::orm::{self, db_err, py_repr, Env};
use serde_json::{json, Map, Value};
use sqlx::PgConnection;

fn model(name: &str) -> OResult<&'static models::Model> {
    models::model(name).ok_or_else(|| OdooError::user(format!("Object {name} doesn't exist")))
}

fn singleton(m: &str, ids: &[i64]) -> OResult<i64> {
    if ids.len() == 1 {
        Ok(ids[0])
    } else {
        Err(OdooError::value_error(format!(
            "Expected singleton: {m}({})",
            ids.iter().map(|i| format!("{i},")).collect::<String>()
        )))
    }
}

/// Next value of an `ir.sequence` ("standard" implementation = a PG sequence).
pub async fn next_sequence(conn: &mut PgConnection, seq_id: i64) -> OResult<String> {
    let row: Option<(Option<String>, i32)> =
        sqlx::query_as("SELECT prefix, padding FROM ir_sequence WHERE id = $1")
            .bind(seq_id as i32)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    let Some((prefix, padding)) = row else {
        return Ok("/".into());
    };
    let (n,): (i64,) = sqlx::query_as(&format!("SELECT nextval('ir_sequence_{seq_id:03}')"))
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(format!(
        "{}{:0width$}",
        prefix.unwrap_or_default(),
        n,
        width = padding.max(0) as usize
    ))
}

pub async fn create_config_sequence(conn: &mut PgConnection, config_id: i64) -> OResult<()> {
    let (name,): (String,) = sqlx::query_as("SELECT name FROM pos_config WHERE id = $1")
        .bind(config_id as i32)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    let (sid,): (i32,) = sqlx::query_as(
        "INSERT INTO ir_sequence (name, code, prefix, padding, company_id) VALUES ($1, 'pos.order', $2, 4, 1) RETURNING id",
    )
    .bind(format!("POS Order {name}"))
    .bind(format!("{name}/"))
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    sqlx::raw_sql(&format!(
        "CREATE SEQUENCE ir_sequence_{sid:03} INCREMENT BY 1 START WITH 1"
    ))
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    sqlx::query("UPDATE pos_config SET sequence_id = $1 WHERE id = $2")
        .bind(sid)
        .bind(config_id as i32)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// pos.session create: name `<config>/<nnnnn>`, one non-closed session per config.
pub async fn create_session(
    conn: &mut PgConnection,
    env: &Env,
    mut p: orm::Prepared,
) -> OResult<i64> {
    let m = model("pos.session")?;
    let Some(cfg) = p
        .cols
        .iter()
        .find(|c| c.0 == "config_id")
        .and_then(|c| c.1.clone())
    else {
        return Err(OdooError::user(
            "You should assign a Point of Sale to your session.",
        ));
    };
    let cfg: i64 = cfg.parse().map_err(|_| {
        OdooError::value_error(format!("invalid literal for int() with base 10: '{cfg}'"))
    })?;
    let (open,): (i64,) = sqlx::query_as("SELECT count(*) FROM pos_session WHERE config_id = $1 AND state != 'closed' AND NOT rescue")
        .bind(cfg as i32)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    if open > 0 {
        return Err(OdooError::validation(
            "Another session is already opened for this point of sale.",
        ));
    }
    let row: Option<(String, i64)> = sqlx::query_as(
        "SELECT c.name, (SELECT count(*) FROM pos_session s WHERE s.config_id = c.id) FROM pos_config c WHERE c.id = $1",
    )
    .bind(cfg as i32)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let Some((cname, n)) = row else {
        return Err(orm::missing_error(model("pos.config")?, &[cfg], env.uid));
    };
    p.cols.retain(|c| c.0 != "name");
    p.cols
        .push(("name", Some(format!("{cname}/{n:05}")), "text"));
    if !p.cols.iter().any(|c| c.0 == "user_id") {
        p.cols.push(("user_id", Some(env.uid.to_string()), "int"));
    }
    p.cols.push((
        "access_token",
        Some(uuid::Uuid::new_v4().to_string()),
        "text",
    ));
    let id = orm::insert(conn, env, m, &p.cols).await?;
    Ok(id)
}

pub async fn open_ui(conn: &mut PgConnection, env: &Env, ids: &[i64]) -> OResult<Value> {
    let cid = singleton("pos.config", ids)?;
    let m = model("pos.config")?;
    orm::ensure_exist(conn, env, m, &[cid]).await?;
    let cur: Option<(i32,)> = sqlx::query_as("SELECT id FROM pos_session WHERE config_id = $1 AND state != 'closed' AND NOT rescue LIMIT 1")
        .bind(cid as i32)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    if cur.is_none() {
        let (npm,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pos_config_pos_payment_method_rel WHERE pos_config_id = $1",
        )
        .bind(cid as i32)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
        if npm == 0 {
            return Err(OdooError::user(
                "You must have at least one payment method configured to launch a session.",
            ));
        }
        let mut vals = Map::new();
        vals.insert("user_id".into(), json!(env.uid));
        vals.insert("config_id".into(), json!(cid));
        create_one(conn, env, "pos.session", &vals).await?;
    }
    Ok(
        json!({"type": "ir.actions.act_url", "url": format!("/pos/ui?config_id={cid}&from_backend=True"), "target": "self"}),
    )
}

async fn session_cash_pm(conn: &mut PgConnection, sid: i64) -> OResult<Option<i64>> {
    let row: Option<(i32,)> = sqlx::query_as(
        "SELECT m.id FROM pos_session s JOIN pos_config_pos_payment_method_rel r ON r.pos_config_id = s.config_id \
         JOIN pos_payment_method m ON m.id = r.pos_payment_method_id WHERE s.id = $1 AND m.is_cash_count ORDER BY m.sequence, m.id LIMIT 1",
    )
    .bind(sid as i32)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(row.map(|r| r.0 as i64))
}

pub async fn set_opening_control(
    conn: &mut PgConnection,
    env: &Env,
    ids: &[i64],
    cash: Value,
    notes: Value,
) -> OResult<()> {
    let m = model("pos.session")?;
    orm::ensure_exist(conn, env, m, ids).await?;
    for sid in ids {
        let name = next_sequence(conn, 1).await?;
        let has_cash = session_cash_pm(conn, *sid).await?.is_some();
        let cash_v = cash.as_f64().unwrap_or(0.0);
        sqlx::query(
            "UPDATE pos_session SET state = 'opened', name = $2, start_at = COALESCE(start_at, now() at time zone 'utc'), \
             cash_register_balance_start = CASE WHEN $3 THEN $4 ELSE 0 END, opening_notes = CASE WHEN $3 THEN $5 ELSE opening_notes END, \
             write_uid = $6, write_date = now() at time zone 'utc' WHERE id = $1",
        )
        .bind(*sid as i32)
        .bind(name)
        .bind(has_cash)
        .bind(cash_v)
        .bind(notes.as_str())
        .bind(env.uid as i32)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

pub async fn action_open(conn: &mut PgConnection, env: &Env, ids: &[i64]) -> OResult<Value> {
    let m = model("pos.session")?;
    orm::ensure_exist(conn, env, m, ids).await?;
    for sid in ids {
        let cash = session_cash_pm(conn, *sid).await?.is_some();
        sqlx::query(
            "UPDATE pos_session SET start_at = COALESCE(start_at, now() at time zone 'utc'), \
             state = CASE WHEN $2 THEN state ELSE 'opened' END WHERE id = $1 AND state = 'opening_control'",
        )
        .bind(*sid as i32)
        .bind(cash)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    Ok(json!(true))
}

async fn cannot_close(conn: &mut PgConnection, sid: i64) -> OResult<Option<Value>> {
    let (state, drafts): (String, i64) = sqlx::query_as(
        "SELECT s.state, (SELECT count(*) FROM pos_order o WHERE o.session_id = s.id AND o.state = 'draft') FROM pos_session s WHERE s.id = $1",
    )
    .bind(sid as i32)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    if drafts > 0 {
        return Ok(Some(
            json!({"successful": false, "message": "You cannot close the POS when orders are still in draft", "redirect": false}),
        ));
    }
    if state == "closed" {
        return Ok(Some(
            json!({"successful": false, "message": "This session is already closed.", "redirect": true}),
        ));
    }
    Ok(None)
}

pub async fn post_closing_cash_details(
    conn: &mut PgConnection,
    env: &Env,
    ids: &[i64],
    counted: Value,
) -> OResult<Value> {
    let sid = singleton("pos.session", ids)?;
    orm::ensure_exist(conn, env, model("pos.session")?, &[sid]).await?;
    if let Some(r) = cannot_close(conn, sid).await? {
        return Ok(r);
    }
    if session_cash_pm(conn, sid).await?.is_none() {
        return Err(OdooError::user(
            "There is no cash register in this session.",
        ));
    }
    sqlx::query("UPDATE pos_session SET cash_register_balance_end_real = $2 WHERE id = $1")
        .bind(sid as i32)
        .bind(counted.as_f64().unwrap_or(0.0))
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(json!({"successful": true}))
}

pub async fn update_closing_control_state_session(
    conn: &mut PgConnection,
    env: &Env,
    ids: &[i64],
    notes: Value,
) -> OResult<()> {
    let sid = singleton("pos.session", ids)?;
    orm::ensure_exist(conn, env, model("pos.session")?, &[sid]).await?;
    let (state,): (String,) = sqlx::query_as("SELECT state FROM pos_session WHERE id = $1")
        .bind(sid as i32)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    if state == "closed" {
        return Err(OdooError::user("This session is already closed."));
    }
    sqlx::query("UPDATE pos_session SET state = 'closing_control', stop_at = now() at time zone 'utc', closing_notes = $2 WHERE id = $1")
        .bind(sid as i32)
        .bind(notes.as_str())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

pub async fn close_session_from_ui(
    conn: &mut PgConnection,
    env: &Env,
    ids: &[i64],
) -> OResult<Value> {
    let sid = singleton("pos.session", ids)?;
    orm::ensure_exist(conn, env, model("pos.session")?, &[sid]).await?;
    if let Some(r) = cannot_close(conn, sid).await? {
        return Ok(r);
    }
    sqlx::query("UPDATE pos_session SET state = 'closed', stop_at = COALESCE(stop_at, now() at time zone 'utc') WHERE id = $1")
        .bind(sid as i32)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(json!({"successful": true}))
}

// ------------------------------------------------------------------ load_data

fn load_fields(model: &str) -> &'static [&'static str] {
    match model {
        "pos.session" => &[
            "id",
            "name",
            "user_id",
            "config_id",
            "start_at",
            "stop_at",
            "sequence_number",
            "payment_method_ids",
            "state",
            "update_stock_at_closing",
            "cash_register_balance_start",
            "access_token",
        ],
        "pos.config" => &[],
        "pos.order" => &[],
        "pos.order.line" => &[],
        "pos.payment" => &[
            "id",
            "name",
            "pos_order_id",
            "amount",
            "payment_method_id",
            "payment_date",
            "currency_id",
            "session_id",
            "uuid",
            "is_change",
            "card_type",
            "transaction_id",
            "payment_status",
            "ticket",
        ],
        "pos.payment.method" => &[
            "id",
            "name",
            "is_cash_count",
            "use_payment_terminal",
            "split_transactions",
            "type",
            "image",
            "sequence",
            "payment_method_type",
            "default_qr",
        ],
        "account.tax" => &[
            "id",
            "name",
            "price_include",
            "include_base_amount",
            "is_base_affected",
            "has_negative_factor",
            "amount_type",
            "children_tax_ids",
            "amount",
            "company_id",
            "sequence",
            "tax_group_id",
        ],
        "product.product" => &[
            "id",
            "display_name",
            "lst_price",
            "standard_price",
            "taxes_id",
            "barcode",
            "default_code",
            "to_weight",
            "product_tmpl_id",
            "write_date",
            "available_in_pos",
            "type",
            "name",
            "active",
        ],
        "res.partner" => &[
            "id",
            "name",
            "street",
            "city",
            "country_id",
            "vat",
            "lang",
            "phone",
            "zip",
            "mobile",
            "email",
            "barcode",
            "write_date",
        ],
        "res.company" => &[
            "id",
            "currency_id",
            "email",
            "name",
            "partner_id",
            "country_id",
            "country_code",
        ],
        "res.currency" => &[
            "id",
            "name",
            "symbol",
            "position",
            "rounding",
            "decimal_places",
        ],
        "res.users" => &["id", "name", "partner_id"],
        _ => &[],
    }
}

const LOADABLE: &[&str] = &[
    "pos.config",
    "pos.order",
    "pos.order.line",
    "pos.payment",
    "pos.payment.method",
    "res.company",
    "account.tax",
    "product.product",
    "res.users",
    "res.partner",
    "res.currency",
];

pub async fn load_data(
    conn: &mut PgConnection,
    env: &Env,
    ids: &[i64],
    models_to_load: Value,
    only_data: bool,
) -> OResult<Value> {
    let sid = singleton("pos.session", ids)?;
    let sm = model("pos.session")?;
    orm::ensure_exist(conn, env, sm, &[sid]).await?;
    let wanted: Vec<String> = match &models_to_load {
        Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        Value::Null | Value::Bool(false) => vec![],
        other => {
            return Err(OdooError::type_error(format!(
                "'{}' object is not iterable",
                pytype(other)
            )))
        }
    };
    let (config_id, company_id): (i32, i32) = sqlx::query_as("SELECT s.config_id, c.company_id FROM pos_session s JOIN pos_config c ON c.id = s.config_id WHERE s.id = $1")
        .bind(sid as i32).fetch_one(&mut *conn).await.map_err(db_err)?;
    let mut out = Map::new();
    // pos.session first, with its extra keys
    let sf: Vec<String> = load_fields("pos.session")
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut srec = orm::read(conn, env, sm, &[sid], &sf, false).await?;
    let (base_url,): (String,) = sqlx::query_as(
        "SELECT COALESCE((SELECT value FROM ir_config_parameter WHERE key = 'web.base.url'), '')",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    let (has_products,): (bool,) = sqlx::query_as("SELECT EXISTS (SELECT 1 FROM product_template WHERE available_in_pos AND sale_ok AND active)")
        .fetch_one(&mut *conn).await.map_err(db_err)?;
    if let Some(Value::Object(o)) = srec.first_mut() {
        o.insert(
            "_partner_commercial_fields".into(),
            json!(["vat", "company_registry", "industry_id"]),
        );
        o.insert("_server_version".into(), crate::version_value());
        o.insert("_base_url".into(), json!(base_url));
        o.insert(
            "_data_server_date".into(),
            json!(chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string()),
        );
        o.insert(
            "_has_cash_move_perm".into(),
            json!(crate::users::has_group(conn, env.uid, "base.group_system").await?),
        );
        o.insert("_has_available_products".into(), json!(has_products));
        o.insert("_pos_special_products_ids".into(), json!([1]));
    }
    out.insert("pos.session".into(), wrap(sm, &sf, srec, only_data));
    for name in LOADABLE {
        if !wanted.is_empty() && !wanted.iter().any(|w| w == name) {
            continue;
        }
        let m = model(name)?;
        let fields: Vec<String> = load_fields(name).iter().map(|s| s.to_string()).collect();
        let domain = match *name {
            "pos.config" => json!([["id", "=", config_id]]),
            "pos.order" => json!([["session_id", "=", sid], ["state", "=", "draft"]]),
            "pos.order.line" => json!([
                ["order_id.session_id", "=", sid],
                ["order_id.state", "=", "draft"]
            ]),
            "pos.payment" => json!([
                ["pos_order_id.session_id", "=", sid],
                ["pos_order_id.state", "=", "draft"]
            ]),
            "pos.payment.method" => json!([["config_ids", "in", [config_id]]]),
            "res.company" => json!([["id", "=", company_id]]),
            "account.tax" => json!([["company_id", "=", company_id]]),
            "product.product" => {
                json!(["&", ["available_in_pos", "=", true], ["sale_ok", "=", true]])
            }
            "res.users" => json!([["id", "=", env.uid]]),
            "res.partner" => json!(["|", ["id", "=", env.uid], ["id", "in", []]]),
            "res.currency" => json!([["id", "in", [1]]]),
            _ => json!([]),
        };
        let domain = if *name == "res.partner" {
            let (pid,): (i32,) = sqlx::query_as("SELECT partner_id FROM res_users WHERE id = $1")
                .bind(env.uid as i32)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
            json!([["id", "=", pid]])
        } else if *name == "res.currency" {
            let (cid,): (i32,) =
                sqlx::query_as("SELECT currency_id FROM res_company WHERE id = $1")
                    .bind(company_id)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
            json!([["id", "=", cid]])
        } else {
            domain
        };
        let ids = orm::search(
            conn,
            env,
            m,
            &domain,
            &orm::SearchOpts {
                offset: 0,
                limit: None,
                order: Some("id"),
            },
        )
        .await?;
        let recs = orm::read(conn, env, m, &ids, &fields, false).await?;
        out.insert(name.to_string(), wrap(m, &fields, recs, only_data));
    }
    Ok(Value::Object(out))
}

fn wrap(m: &models::Model, fields: &[String], data: Vec<Value>, only_data: bool) -> Value {
    if only_data {
        return json!({"data": data});
    }
    let names: Vec<&str> = if fields.is_empty() {
        m.fields.iter().map(|f| f.name).collect()
    } else {
        fields.iter().map(String::as_str).collect()
    };
    let mut rel = Map::new();
    for n in &names {
        let Some(f) = m.field(n) else { continue };
        let (ty, relation, inverse) = match f.kind {
            models::Kind::M2o(t) => ("many2one", Some(t), None),
            models::Kind::M2m(s) => ("many2many", Some(s.model), None),
            models::Kind::O2m(t, inv) => ("one2many", Some(t), Some(inv)),
            models::Kind::Id | models::Kind::Int => ("integer", None, None),
            models::Kind::Float => ("float", None, None),
            models::Kind::Bool => ("boolean", None, None),
            models::Kind::Datetime => ("datetime", None, None),
            models::Kind::Date => ("date", None, None),
            models::Kind::Selection => ("selection", None, None),
            models::Kind::Text => ("text", None, None),
            models::Kind::Char => ("char", None, None),
        };
        let mut d =
            json!({"name": f.name, "type": ty, "compute": !f.stored(), "related": f.via.is_some()});
        if let (Some(r), Value::Object(o)) = (relation, &mut d) {
            o.insert("model".into(), json!(m.name));
            o.insert("relation".into(), json!(r));
            if let Some(inv) = inverse {
                o.insert("inverse_name".into(), json!(inv));
            }
        }
        rel.insert(f.name.to_string(), d);
    }
    json!({"data": data, "fields": names, "relations": rel})
}

// ------------------------------------------------------------------ orders

const ORDER_KEYS: &[&str] = &[
    "id",
    "message_is_follower",
    "message_follower_ids",
    "message_partner_ids",
    "message_ids",
    "has_message",
    "message_needaction",
    "message_needaction_counter",
    "message_has_error",
    "message_has_error_counter",
    "message_attachment_count",
    "website_message_ids",
    "message_has_sms_error",
    "access_token",
    "access_url",
    "access_warning",
    "name",
    "last_order_preparation_change",
    "date_order",
    "user_id",
    "amount_difference",
    "amount_tax",
    "amount_total",
    "amount_paid",
    "amount_return",
    "margin",
    "margin_percent",
    "is_total_cost_computed",
    "lines",
    "company_id",
    "country_code",
    "pricelist_id",
    "partner_id",
    "sequence_number",
    "session_id",
    "config_id",
    "currency_id",
    "currency_rate",
    "state",
    "account_move",
    "picking_ids",
    "picking_count",
    "failed_pickings",
    "picking_type_id",
    "procurement_group_id",
    "floating_order_name",
    "general_note",
    "nb_print",
    "pos_reference",
    "sale_journal",
    "fiscal_position_id",
    "payment_ids",
    "session_move_id",
    "to_invoice",
    "shipping_date",
    "is_invoiced",
    "is_tipped",
    "tip_amount",
    "refund_orders_count",
    "refunded_order_id",
    "has_refundable_lines",
    "ticket_code",
    "tracking_number",
    "uuid",
    "email",
    "mobile",
    "is_edited",
    "has_deleted_line",
    "order_edit_tracking",
    "available_payment_method_ids",
    "display_name",
    "create_uid",
    "create_date",
    "write_uid",
    "write_date",
    "online_payment_method_id",
    "next_online_payment_amount",
];
const PAYMENT_KEYS: &[&str] = &[
    "id",
    "name",
    "pos_order_id",
    "amount",
    "payment_method_id",
    "payment_date",
    "currency_id",
    "currency_rate",
    "partner_id",
    "session_id",
    "user_id",
    "company_id",
    "card_type",
    "card_brand",
    "card_no",
    "cardholder_name",
    "payment_ref_no",
    "payment_method_authcode",
    "payment_method_issuer_bank",
    "payment_method_payment_mode",
    "transaction_id",
    "payment_status",
    "ticket",
    "is_change",
    "account_move_id",
    "uuid",
    "display_name",
    "create_uid",
    "create_date",
    "write_uid",
    "write_date",
    "online_account_payment_id",
];
const LINE_KEYS: &[&str] = &[
    "id",
    "qty",
    "attribute_value_ids",
    "custom_attribute_value_ids",
    "price_unit",
    "skip_change",
    "uuid",
    "price_subtotal",
    "price_subtotal_incl",
    "order_id",
    "note",
    "price_type",
    "write_date",
    "product_id",
    "discount",
    "tax_ids",
    "pack_lot_ids",
    "customer_note",
    "refunded_qty",
    "price_extra",
    "full_product_name",
    "refunded_orderline_id",
    "combo_parent_id",
    "combo_line_ids",
    "combo_item_id",
    "refund_orderline_ids",
];

async fn read_keys(
    conn: &mut PgConnection,
    env: &Env,
    model_name: &str,
    ids: &[i64],
    keys: &[&str],
) -> OResult<Vec<Value>> {
    let m = model(model_name)?;
    let fields: Vec<String> = keys.iter().map(|s| s.to_string()).collect();
    let recs = orm::read(conn, env, m, ids, &fields, false).await?;
    Ok(recs
        .into_iter()
        .map(|r| {
            let mut o = Map::new();
            for k in keys {
                let mut v = r.get(*k).cloned().unwrap_or(Value::Bool(false));
                if model_name == "pos.order" && *k == "email" && v == Value::Bool(false) {
                    v = json!("");
                }
                o.insert(k.to_string(), v);
            }
            Value::Object(o)
        })
        .collect())
}

/// `pos.order.sync_from_ui(orders)` (Odoo 18).
pub async fn sync_from_ui(conn: &mut PgConnection, env: &Env, orders: Value) -> OResult<Value> {
    let list = match orders {
        Value::Array(a) => a,
        other => {
            return Err(OdooError::type_error(format!(
                "'{}' object is not iterable",
                pytype(&other)
            )))
        }
    };
    let mut order_ids: Vec<i64> = Vec::new();
    for o in &list {
        let Value::Object(order) = o else {
            return Err(OdooError::builtin(
                "AttributeError",
                format!("'{}' object has no attribute 'get'", pytype(o)),
            ));
        };
        // _get_refunded_orders: order['lines'], line[0], line[2]
        let lines = order
            .get("lines")
            .ok_or_else(|| OdooError::key_error("lines"))?;
        let mut refunded = std::collections::BTreeSet::new();
        if let Value::Array(ls) = lines {
            for l in ls {
                match l {
                    Value::Array(c) => {
                        let code = c.first().and_then(Value::as_i64);
                        if matches!(code, Some(0) | Some(1)) {
                            let vals = c.get(2).ok_or_else(|| {
                                OdooError::builtin("IndexError", "list index out of range")
                            })?;
                            if let Some(r) =
                                vals.get("refunded_orderline_id").and_then(Value::as_i64)
                            {
                                refunded.insert(r);
                            }
                        }
                    }
                    Value::Object(_) => return Err(OdooError::key_error_int(0)),
                    other => {
                        return Err(OdooError::type_error(format!(
                            "'{}' object is not subscriptable",
                            pytype(other)
                        )))
                    }
                }
            }
        }
        if !refunded.is_empty() {
            let ids: Vec<i32> = refunded.iter().map(|i| *i as i32).collect();
            let (n,): (i64,) = sqlx::query_as(
                "SELECT count(DISTINCT order_id) FROM pos_order_line WHERE id = ANY($1)",
            )
            .bind(&ids)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
            if n > 1 {
                return Err(OdooError::validation(
                    "You can only refund products from the same order.",
                ));
            }
        }
        // _get_open_order: search uuid = order.get('uuid'), limit 1
        let uuid = order.get("uuid").cloned().unwrap_or(Value::Null);
        let m = model("pos.order")?;
        let found = orm::search(
            conn,
            env,
            m,
            &json!([["uuid", "=", uuid]]),
            &orm::SearchOpts {
                offset: 0,
                limit: Some(1),
                order: Some("id"),
            },
        )
        .await?;
        match found.first() {
            None => order_ids.push(process_order(conn, env, order.clone(), None).await?),
            Some(id) => {
                let (state,): (String,) =
                    sqlx::query_as("SELECT state FROM pos_order WHERE id = $1")
                        .bind(*id as i32)
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(db_err)?;
                if state == "draft" {
                    order_ids.push(process_order(conn, env, order.clone(), Some(*id)).await?);
                } else {
                    order_ids.push(*id);
                }
            }
        }
    }
    // _ensure_access_token
    for id in &order_ids {
        sqlx::query(
            "UPDATE pos_order SET access_token = $2 WHERE id = $1 AND access_token IS NULL",
        )
        .bind(*id as i32)
        .bind(uuid::Uuid::new_v4().to_string())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    let mut ids = order_ids.clone();
    ids.dedup();
    let orders_v = read_keys(conn, env, "pos.order", &ids, ORDER_KEYS).await?;
    let mut line_ids = Vec::new();
    let mut pay_ids = Vec::new();
    for o in &orders_v {
        line_ids.extend(
            o["lines"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_i64),
        );
        pay_ids.extend(
            o["payment_ids"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_i64),
        );
    }
    let pays = read_keys(conn, env, "pos.payment", &pay_ids, PAYMENT_KEYS).await?;
    let lines = read_keys(conn, env, "pos.order.line", &line_ids, LINE_KEYS).await?;
    Ok(json!({
        "pos.order": orders_v,
        "pos.session": [],
        "pos.payment": pays,
        "pos.order.line": lines,
        "pos.pack.operation.lot": [],
        "product.attribute.custom.value": [],
    }))
}

async fn session_state(
    conn: &mut PgConnection,
    env: &Env,
    sid_v: &Value,
) -> OResult<(i64, String, i64)> {
    let sid = match sid_v {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::Bool(false) | Value::Null => 0,
        other => {
            return Err(OdooError::type_error(format!(
                "Invalid session id {}",
                py_repr(other)
            )))
        }
    };
    let row: Option<(String, i32)> =
        sqlx::query_as("SELECT state, config_id FROM pos_session WHERE id = $1")
            .bind(sid as i32)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    match row {
        Some((s, c)) => Ok((sid, s, c as i64)),
        None => Err(orm::missing_error(model("pos.session")?, &[sid], env.uid)),
    }
}

async fn process_order(
    conn: &mut PgConnection,
    env: &Env,
    mut order: Map<String, Value>,
    existing: Option<i64>,
) -> OResult<i64> {
    let draft = order.get("state").and_then(Value::as_str) == Some("draft");
    let sid_v = order
        .get("session_id")
        .cloned()
        .ok_or_else(|| OdooError::key_error("session_id"))?;
    let (sid, state, config) = session_state(conn, env, &sid_v).await?;
    if state == "closing_control" || state == "closed" {
        let open: Option<(i32,)> = sqlx::query_as("SELECT id FROM pos_session WHERE state NOT IN ('closed', 'closing_control') AND config_id = $1 ORDER BY id DESC LIMIT 1")
            .bind(config as i32).fetch_optional(&mut *conn).await.map_err(db_err)?;
        match open {
            Some((o,)) => {
                order.insert("session_id".into(), json!(o));
            }
            None => {
                return Err(OdooError::user(
                    "No open session available. Please open a new session to capture the order.",
                ))
            }
        }
    }
    let _ = sid;
    if let Some(pid) = order.get("partner_id").and_then(Value::as_i64) {
        let ex: Option<(i32,)> = sqlx::query_as("SELECT id FROM res_partner WHERE id = $1")
            .bind(pid as i32)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
        if ex.is_none() {
            order.insert("partner_id".into(), json!(false));
            order.insert("to_invoice".into(), json!(false));
        }
    }
    let m = model("pos.order")?;
    let id = match existing {
        None => {
            let mut vals: Map<String, Value> = order
                .iter()
                .filter(|(k, _)| *k != "name")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            vals.insert(
                "pricelist_id".into(),
                order
                    .get("pricelist_id")
                    .filter(|v| !matches!(v, Value::Bool(false) | Value::Null))
                    .cloned()
                    .unwrap_or(json!(false)),
            );
            create_order(conn, env, &vals, true).await?
        }
        Some(id) => {
            let cur_session: (i32,) =
                sqlx::query_as("SELECT session_id FROM pos_order WHERE id = $1")
                    .bind(id as i32)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
            if let Some(s) = order.get("session_id").and_then(Value::as_i64) {
                if s != cur_session.0 as i64 {
                    let mut v = Map::new();
                    v.insert("session_id".into(), json!(s));
                    write(conn, env, m, &[id], &v).await?;
                }
            }
            for field in ["lines", "payment_ids"] {
                let nonempty = order.get(field).is_some_and(|v| {
                    !matches!(v, Value::Array(a) if a.is_empty())
                        && !matches!(v, Value::Bool(false) | Value::Null)
                });
                if nonempty {
                    let mut v = Map::new();
                    v.insert(field.into(), order[field].clone());
                    write_order(conn, env, id, &v).await?;
                    order.remove(field);
                }
            }
            if order.remove("uuid").is_none() {
                return Err(OdooError::key_error("uuid"));
            }
            if order.remove("access_token").is_none() {
                return Err(OdooError::key_error("access_token"));
            }
            write_order(conn, env, id, &order).await?;
            id
        }
    };
    // _process_payment_lines
    sqlx::query("UPDATE pos_order SET amount_paid = (SELECT COALESCE(sum(amount), 0) FROM pos_payment WHERE pos_order_id = $1) WHERE id = $1")
        .bind(id as i32).execute(&mut *conn).await.map_err(db_err)?;
    let amount_return = order
        .get("amount_return")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    if !draft && amount_return.abs() >= 0.005 {
        let (osid,): (i32,) = sqlx::query_as("SELECT session_id FROM pos_order WHERE id = $1")
            .bind(id as i32)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
        let Some(cash) = session_cash_pm(conn, osid as i64).await? else {
            return Err(OdooError::user(
                "No cash statement found for this session. Unable to record returned cash.",
            ));
        };
        let mut pv = Map::new();
        pv.insert("name".into(), json!("return"));
        pv.insert("pos_order_id".into(), json!(id));
        pv.insert("amount".into(), json!(-amount_return));
        pv.insert("payment_method_id".into(), json!(cash));
        pv.insert("is_change".into(), json!(true));
        create_payment(conn, env, &pv).await?;
        sqlx::query("UPDATE pos_order SET amount_paid = (SELECT COALESCE(sum(amount), 0) FROM pos_payment WHERE pos_order_id = $1) WHERE id = $1")
            .bind(id as i32).execute(&mut *conn).await.map_err(db_err)?;
    }
    // _process_saved_order
    if !draft {
        let (total, paid, name, state, config_seq): (f64, f64, String, String, Option<i32>) = sqlx::query_as(
            "SELECT o.amount_total, o.amount_paid, o.name, o.state, c.sequence_id FROM pos_order o JOIN pos_config c ON c.id = o.config_id WHERE o.id = $1",
        )
        .bind(id as i32).fetch_one(&mut *conn).await.map_err(db_err)?;
        // action_pos_order_paid: UserError "Order X is not fully paid." is logged and swallowed
        if (total - paid).abs() < 0.005 {
            let new_name = if name == "/" && state != "paid" {
                match config_seq {
                    Some(s) => next_sequence(conn, s as i64).await?,
                    None => name,
                }
            } else {
                name
            };
            sqlx::query("UPDATE pos_order SET state = 'paid', name = $2 WHERE id = $1")
                .bind(id as i32)
                .bind(new_name)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
        } else {
            tracing::warn!(
                order = id,
                "Could not fully process the POS Order: Order is not fully paid."
            );
        }
        // _create_order_picking: goods lines get a picking
        let (goods,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM pos_order_line l JOIN product_product pp ON pp.id = l.product_id JOIN product_template pt ON pt.id = pp.product_tmpl_id WHERE l.order_id = $1 AND pt.type = 'consu')",
        )
        .bind(id as i32).fetch_one(&mut *conn).await.map_err(db_err)?;
        let (has_picking,): (bool,) =
            sqlx::query_as("SELECT EXISTS (SELECT 1 FROM stock_picking WHERE pos_order_id = $1)")
                .bind(id as i32)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
        if goods && !has_picking {
            sqlx::query("INSERT INTO stock_picking (name, pos_order_id, pos_session_id, state) SELECT 'POS/' || o.name, o.id, o.session_id, 'done' FROM pos_order o WHERE o.id = $1")
                .bind(id as i32).execute(&mut *conn).await.map_err(db_err)?;
        }
        sqlx::query("UPDATE pos_order SET is_total_cost_computed = true WHERE id = $1")
            .bind(id as i32)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    Ok(id)
}

async fn write_order(
    conn: &mut PgConnection,
    env: &Env,
    id: i64,
    vals: &Map<String, Value>,
) -> OResult<()> {
    let m = model("pos.order")?;
    let mut vals = vals.clone();
    // write(): state paid on an unnamed order draws the name
    if vals.get("state").and_then(Value::as_str) == Some("paid") {
        let (name, seq): (String, Option<i32>) = sqlx::query_as("SELECT o.name, c.sequence_id FROM pos_order o JOIN pos_config c ON c.id = o.config_id WHERE o.id = $1")
            .bind(id as i32).fetch_one(&mut *conn).await.map_err(db_err)?;
        if name == "/" {
            if let Some(s) = seq {
                vals.insert("name".into(), json!(next_sequence(conn, s as i64).await?));
            }
        }
    }
    let mut p = orm::prepare(m, &vals)?;
    orm::update(conn, env, m, &[id], &p.cols).await?;
    apply_order_x2m(conn, env, m, id, std::mem::take(&mut p.x2m)).await
}

/// Applies an order's one2many/many2many commands: new lines and payments go through
/// their own creation (with Odoo's checks), anything else through the generic ORM.
async fn apply_order_x2m(
    conn: &mut PgConnection,
    env: &Env,
    m: &'static models::Model,
    id: i64,
    x2m: Vec<(&'static models::Field, Value)>,
) -> OResult<()> {
    for (f, v) in x2m {
        let cmds = orm::parse_commands(f, m, &v)?;
        for c in cmds {
            match (f.name, c) {
                ("lines", orm::Cmd::Create(mut lv)) => {
                    lv.insert("order_id".into(), json!(id));
                    create_line(conn, env, &lv).await?;
                }
                ("payment_ids", orm::Cmd::Create(mut pv)) => {
                    pv.insert("pos_order_id".into(), json!(id));
                    create_payment(conn, env, &pv).await?;
                }
                (_, c) => {
                    apply_x2m(conn, env, m, id, vec![(f, command_value(c))]).await?;
                }
            }
        }
    }
    Ok(())
}

fn command_value(c: orm::Cmd) -> Value {
    match c {
        orm::Cmd::Create(v) => json!([[0, 0, v]]),
        orm::Cmd::Update(i, v) => json!([[1, i, v]]),
        orm::Cmd::Delete(i) => json!([[2, i]]),
        orm::Cmd::Unlink(i) => json!([[3, i]]),
        orm::Cmd::Link(i) => json!([[4, i]]),
        orm::Cmd::Clear => json!([[5]]),
        orm::Cmd::Set(ids) => json!([[6, 0, ids]]),
    }
}

/// pos.order create (`_complete_values_from_session` + ORM create with lines/payments).
pub async fn create_order(
    conn: &mut PgConnection,
    env: &Env,
    vals: &Map<String, Value>,
    _from_ui: bool,
) -> OResult<i64> {
    let m = model("pos.order")?;
    let sid_v = vals
        .get("session_id")
        .cloned()
        .ok_or_else(|| OdooError::key_error("session_id"))?;
    let (sid, _, config) = session_state(conn, env, &sid_v).await?;
    let mut vals = vals.clone();
    let (company, seq, sess_seq): (i32, Option<i32>, i32) = sqlx::query_as(
        "SELECT c.company_id, c.sequence_id, COALESCE(s.sequence_number, 1) FROM pos_config c JOIN pos_session s ON s.config_id = c.id WHERE c.id = $1 AND s.id = $2",
    )
    .bind(config as i32).bind(sid as i32).fetch_one(&mut *conn).await.map_err(db_err)?;
    if vals.get("state").and_then(Value::as_str) == Some("paid")
        && vals.get("name").is_none_or(|v| {
            matches!(v, Value::Bool(false) | Value::Null | Value::String(_))
                && v.as_str().is_none_or(|s| s.is_empty())
        })
    {
        if let Some(s) = seq {
            vals.insert("name".into(), json!(next_sequence(conn, s as i64).await?));
        }
    }
    vals.entry("company_id").or_insert(json!(company));
    let mut p = orm::prepare(m, &vals)?;
    p.cols.push(("config_id", Some(config.to_string()), "int"));
    if !p.cols.iter().any(|c| c.0 == "user_id") {
        p.cols.push(("user_id", Some(env.uid.to_string()), "int"));
    }
    let seqn = match vals.get("sequence_number").and_then(Value::as_i64) {
        Some(n) if n != 0 => n,
        _ => {
            sqlx::query("UPDATE pos_session SET sequence_number = COALESCE(sequence_number, 1) + 1 WHERE id = $1").bind(sid as i32).execute(&mut *conn).await.map_err(db_err)?;
            p.cols.retain(|c| c.0 != "sequence_number");
            p.cols
                .push(("sequence_number", Some(sess_seq.to_string()), "int"));
            sess_seq as i64
        }
    };
    if !vals.get("tracking_number").is_some_and(|v| v.is_string()) {
        p.cols.retain(|c| c.0 != "tracking_number");
        p.cols.push((
            "tracking_number",
            Some(format!("{:03}", (sid % 10) * 100 + seqn % 100)),
            "text",
        ));
    }
    let id = orm::insert(conn, env, m, &p.cols).await?;
    apply_order_x2m(conn, env, m, id, std::mem::take(&mut p.x2m)).await?;
    Ok(id)
}

async fn create_line(
    conn: &mut PgConnection,
    env: &Env,
    vals: &Map<String, Value>,
) -> OResult<i64> {
    let m = model("pos.order.line")?;
    let mut p = orm::prepare(m, vals)?;
    let id = orm::insert(conn, env, m, &p.cols).await?;
    apply_x2m(conn, env, m, id, std::mem::take(&mut p.x2m)).await?;
    Ok(id)
}

async fn create_payment(
    conn: &mut PgConnection,
    env: &Env,
    vals: &Map<String, Value>,
) -> OResult<i64> {
    let m = model("pos.payment")?;
    let mut p = orm::prepare(m, vals)?;
    if let Some(oid) = vals.get("pos_order_id").and_then(Value::as_i64) {
        let (sid,): (i32,) = sqlx::query_as("SELECT session_id FROM pos_order WHERE id = $1")
            .bind(oid as i32)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
        p.cols.retain(|c| c.0 != "session_id");
        p.cols.push(("session_id", Some(sid.to_string()), "int"));
    }
    let id = orm::insert(conn, env, m, &p.cols).await?;
    // _check_payment_method_id
    let (ok,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM pos_payment p JOIN pos_session s ON s.id = p.session_id JOIN pos_config_pos_payment_method_rel r \
         ON r.pos_config_id = s.config_id AND r.pos_payment_method_id = p.payment_method_id WHERE p.id = $1)",
    )
    .bind(id as i32).fetch_one(&mut *conn).await.map_err(db_err)?;
    if !ok {
        return Err(OdooError::validation(
            "The payment method selected is not allowed in the config of the POS session.",
        ));
    }
    Ok(id)
}
