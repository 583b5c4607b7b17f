//! Point of Sale (Odoo 18): sessions, `sync_from_ui`, closing (`load_data` is in `pos_load`).

use crate::error::{OResult, OdooError};
use crate::methods::{apply_x2m, create_one, pytype, write};
use crate::models;
use crate::orm::{self, db_err, py_repr, singleton, Env};
use serde_json::{json, Map, Value};
use sqlx::PgConnection;

fn model(name: &str) -> OResult<&'static models::Model> {
    models::model(name).ok_or_else(|| OdooError::user(format!("Object {name} doesn't exist")))
}

/// Next value of an `ir.sequence` ("standard" implementation = a PG sequence).
pub async fn next_sequence(conn: &mut PgConnection, seq_id: i64) -> OResult<String> {
    // One round trip: the PG sequence advances only when the ir.sequence row exists.
    let row: Option<(Option<String>, i32, i64)> = sqlx::query_as(&format!(
        "SELECT prefix, padding, nextval('ir_sequence_{seq_id:03}') FROM ir_sequence WHERE id = $1"
    ))
    .bind(seq_id as i32)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let Some((prefix, padding, n)) = row else {
        return Ok("/".into());
    };
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

/// Draft order ids of a session (`get_session_orders().filtered(state == 'draft')`).
async fn draft_order_ids(conn: &mut PgConnection, sid: i64) -> OResult<Vec<i64>> {
    let ids: Vec<i32> = sqlx::query_scalar(
        "SELECT id FROM pos_order WHERE session_id = $1 AND state = 'draft' ORDER BY id",
    )
    .bind(sid as i32)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(ids.into_iter().map(i64::from).collect())
}

async fn session_state_of(conn: &mut PgConnection, sid: i64) -> OResult<String> {
    sqlx::query_scalar("SELECT state FROM pos_session WHERE id = $1")
        .bind(sid as i32)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)
}

/// `pos.session._cannot_close_session` (plus the `open_order_ids` its callers add): why the
/// session cannot be closed from the POS, as the dict the front end shows.
async fn cannot_close(conn: &mut PgConnection, sid: i64) -> OResult<Option<Value>> {
    let drafts = draft_order_ids(conn, sid).await?;
    if !drafts.is_empty() {
        return Ok(Some(json!({
            "successful": false,
            "message": "You cannot close the POS when orders are still in draft",
            "redirect": false,
            "open_order_ids": drafts,
        })));
    }
    if session_state_of(conn, sid).await? == "closed" {
        return Ok(Some(json!({
            "successful": false,
            "type": "alert",
            "title": "Session already closed",
            "message": "The session has been already closed by another User. All sales completed in the meantime have been saved in a Rescue Session, which can be reviewed anytime and posted to Accounting from Point of Sale's dashboard.",
            "redirect": true,
            "open_order_ids": drafts,
        })));
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
    if session_state_of(conn, sid).await? == "closed" {
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

/// `pos.session.close_session_from_ui`: the refusals of `_cannot_close_session` as a dict,
/// else `action_pos_session_closing_control` and `{'successful': True}`.
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
    closing_control(conn, &[sid]).await?;
    Ok(json!({"successful": true}))
}

/// `pos.session.action_pos_session_closing_control` (also what `action_pos_session_close` /
/// `action_pos_session_validate` end in): draft orders or an already closed session raise
/// Odoo's UserError; else the session goes through closing control and `_validate_session`
/// closes it, moving its paid orders to `done` (Odoo does so once the session's journal
/// entry is posted, i.e. when it has orders with amounts).
pub async fn action_closing_control(
    conn: &mut PgConnection,
    env: &Env,
    ids: &[i64],
) -> OResult<Value> {
    orm::ensure_exist(conn, env, model("pos.session")?, ids).await?;
    closing_control(conn, ids).await?;
    Ok(json!(true))
}

async fn closing_control(conn: &mut PgConnection, ids: &[i64]) -> OResult<()> {
    for sid in ids {
        // `any(order.state == 'draft' for order in self.get_session_orders())`
        if !draft_order_ids(conn, *sid).await?.is_empty() {
            return Err(OdooError::user(
                "You cannot close the POS when orders are still in draft",
            ));
        }
        if session_state_of(conn, *sid).await? == "closed" {
            return Err(OdooError::user("This session is already closed."));
        }
        sqlx::query(
            "UPDATE pos_session SET state = 'closing_control', stop_at = COALESCE(stop_at, now() at time zone 'utc') WHERE id = $1",
        )
        .bind(*sid as i32)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        validate_session(conn, *sid).await?;
    }
    Ok(())
}

/// `pos.session.action_pos_session_validate` / `action_pos_session_close`: straight to
/// `_validate_session` (no closing-control step).
pub async fn action_validate(conn: &mut PgConnection, env: &Env, ids: &[i64]) -> OResult<Value> {
    let sid = singleton("pos.session", ids)?;
    orm::ensure_exist(conn, env, model("pos.session")?, &[sid]).await?;
    validate_session(conn, sid).await?;
    Ok(json!(true))
}

/// `pos.session._validate_session` without the accounting. A session with orders refuses
/// to be closed twice and to close with drafts (`_check_if_no_draft_orders`); its paid
/// orders become `done` when it has orders with amounts (the entry Odoo posts then has
/// lines); the session is closed.
async fn validate_session(conn: &mut PgConnection, sid: i64) -> OResult<()> {
    let has_orders: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pos_order WHERE session_id = $1 AND state <> 'cancel')",
    )
    .bind(sid as i32)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    if has_orders {
        if session_state_of(conn, sid).await? == "closed" {
            return Err(OdooError::user("This session is already closed."));
        }
        let drafts: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM pos_order WHERE session_id = $1 AND state = 'draft' ORDER BY date_order DESC, name DESC, id DESC",
        )
        .bind(sid as i32)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        if !drafts.is_empty() {
            return Err(OdooError::user(format!(
                "There are still orders in draft state in the session. Pay or cancel the following orders to validate the session:\n{}",
                drafts.join(", ")
            )));
        }
    }
    sqlx::query(
        "UPDATE pos_order SET state = 'done', write_date = now() at time zone 'utc' WHERE session_id = $1 AND state = 'paid' \
         AND EXISTS (SELECT 1 FROM pos_order o WHERE o.session_id = $1 AND o.state <> 'cancel' AND o.amount_total <> 0)",
    )
    .bind(sid as i32)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    sqlx::query("UPDATE pos_session SET state = 'closed', write_date = now() at time zone 'utc' WHERE id = $1")
        .bind(sid as i32)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

// ------------------------------------------------------------------ pos.config rules

/// `account.journal._ensure_company_account_journal`: the company's `POSS` journal, made
/// when missing (`addons/point_of_sale/models/account_journal.py`).
pub async fn ensure_company_account_journal(
    conn: &mut PgConnection,
    env: &Env,
    company: i64,
) -> OResult<i64> {
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT id FROM account_journal WHERE code = 'POSS' AND company_id = $1 ORDER BY id LIMIT 1",
    )
    .bind(company as i32)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    if let Some(id) = found {
        return Ok(i64::from(id));
    }
    let mut v = Map::new();
    v.insert("name".into(), json!("Point of Sale"));
    v.insert("code".into(), json!("POSS"));
    v.insert("type".into(), json!("general"));
    v.insert("company_id".into(), json!(company));
    create_one(conn, env, "account.journal", &v).await
}

/// Whether a journal (a many2one value) is of type `cash`: `pos.payment.method`'s
/// `_compute_type` / `_compute_is_cash_count`.
pub async fn journal_is_cash(conn: &mut PgConnection, journal: Option<&Value>) -> OResult<bool> {
    let Some(id) = journal.and_then(|v| match v {
        Value::Array(a) => a.first().and_then(Value::as_i64),
        other => other.as_i64(),
    }) else {
        return Ok(false);
    };
    let kind: Option<String> = sqlx::query_scalar("SELECT type FROM account_journal WHERE id = $1")
        .bind(id as i32)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(kind.as_deref() == Some("cash"))
}

/// `pos.config._default_payment_methods`: the company's payment methods that do not split
/// transactions and whose journal (if any) is in the company currency — every non-cash one,
/// plus one cash method no other point of sale uses. When there is none at all,
/// `_create_journal_and_payment_methods` makes them (a cash journal and "Cash", "Card" on
/// the bank journal, "Customer Account").
pub async fn default_payment_methods(
    conn: &mut PgConnection,
    env: &Env,
    company: i64,
) -> OResult<Vec<i64>> {
    let usable = "m.company_id = $1 AND m.active AND NOT m.split_transactions";
    let non_cash: Vec<i32> = sqlx::query_scalar(&format!(
        "SELECT m.id FROM pos_payment_method m WHERE {usable} AND NOT m.is_cash_count ORDER BY m.sequence, m.id"
    ))
    .bind(company as i32)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    let cash: Option<i32> = sqlx::query_scalar(&format!(
        "SELECT m.id FROM pos_payment_method m WHERE {usable} AND m.is_cash_count \
         AND NOT EXISTS (SELECT 1 FROM pos_config_pos_payment_method_rel r WHERE r.pos_payment_method_id = m.id) \
         ORDER BY m.sequence, m.id LIMIT 1"
    ))
    .bind(company as i32)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    if non_cash.is_empty() && cash.is_none() {
        return create_journal_and_payment_methods(conn, env, company, "Cash").await;
    }
    let mut ids: Vec<i64> = non_cash.into_iter().map(i64::from).collect();
    ids.extend(cash.map(i64::from));
    Ok(ids)
}

/// `pos.config._create_journal_and_payment_methods`: a new cash journal and its "Cash"
/// method for this point of sale, the company's "Card" method on its bank journal and its
/// "Customer Account" method (both made only if missing). Returns their ids.
pub async fn create_journal_and_payment_methods(
    conn: &mut PgConnection,
    env: &Env,
    company: i64,
    cash_journal_name: &str,
) -> OResult<Vec<i64>> {
    // A journal code unique per company, as account.journal's _get_next_journal_default_code.
    let taken: Vec<String> =
        sqlx::query_scalar("SELECT code FROM account_journal WHERE company_id = $1")
            .bind(company as i32)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
    let code = (1..)
        .map(|n| format!("CSH{n}"))
        .find(|c| !taken.contains(c))
        .unwrap_or_else(|| "CSH".into());
    let mut j = Map::new();
    j.insert("name".into(), json!(cash_journal_name));
    j.insert("code".into(), json!(code));
    j.insert("type".into(), json!("cash"));
    j.insert("company_id".into(), json!(company));
    let journal = create_one(conn, env, "account.journal", &j).await?;
    let mut cash = Map::new();
    cash.insert("name".into(), json!("Cash"));
    cash.insert("journal_id".into(), json!(journal));
    cash.insert("company_id".into(), json!(company));
    let mut ids = vec![create_one(conn, env, "pos.payment.method", &cash).await?];
    let bank: Option<i32> = sqlx::query_scalar(
        "SELECT m.id FROM pos_payment_method m JOIN account_journal j ON j.id = m.journal_id \
         WHERE j.type = 'bank' AND m.company_id = $1 ORDER BY m.id LIMIT 1",
    )
    .bind(company as i32)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let bank = match bank {
        Some(b) => i64::from(b),
        None => {
            let journal: Option<i32> = sqlx::query_scalar(
                "SELECT id FROM account_journal WHERE type = 'bank' AND company_id = $1 ORDER BY id LIMIT 1",
            )
            .bind(company as i32)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
            let Some(journal) = journal else {
                return Err(OdooError::user(
                    "Ensure that there is an existing bank journal. Check if chart of accounts is installed in your company.",
                ));
            };
            let mut card = Map::new();
            card.insert("name".into(), json!("Card"));
            card.insert("journal_id".into(), json!(journal));
            card.insert("company_id".into(), json!(company));
            card.insert("sequence".into(), json!(1));
            create_one(conn, env, "pos.payment.method", &card).await?
        }
    };
    ids.push(bank);
    let later: Option<i32> = sqlx::query_scalar(
        "SELECT id FROM pos_payment_method WHERE journal_id IS NULL AND company_id = $1 ORDER BY id LIMIT 1",
    )
    .bind(company as i32)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let later = match later {
        Some(l) => i64::from(l),
        None => {
            let mut pay_later = Map::new();
            pay_later.insert("name".into(), json!("Customer Account"));
            pay_later.insert("company_id".into(), json!(company));
            pay_later.insert("split_transactions".into(), json!(true));
            pay_later.insert("sequence".into(), json!(2));
            create_one(conn, env, "pos.payment.method", &pay_later).await?
        }
    };
    ids.push(later);
    Ok(ids)
}

/// The products of Odoo 18's bakery onboarding scenario
/// (`addons/point_of_sale/data/scenarios/bakery_data.xml`): xml id, name, sales price, cost,
/// sales description, sold by weight. Images, weights, units and the POS categories
/// (`pos_category_breads`, `pos_category_pastries`) are not modelled by the sim.
pub const BAKERY_PRODUCTS: &[(&str, &str, f64, f64, &str, bool)] = &[
    (
        "product_wholemeal_loaf",
        "Wholemeal loaf",
        2.99,
        2.69,
        "High fibre loaf. Baked with fine wholemeal flour to give a soft texture.",
        false,
    ),
    (
        "product_flour",
        "Flour",
        2.99,
        2.69,
        "Flour sold by the kilogram.",
        true,
    ),
    (
        "product_tiger_white_loaf",
        "Tiger white loaf",
        2.75,
        2.48,
        "Tiger bloomer. Baked for a soft inside, with its distinctive savoury crackled crust.",
        false,
    ),
    (
        "product_butter_croissant",
        "Butter Croissant",
        1.20,
        1.08,
        "Flaky all butter pastry, layered for a light and golden croissant.",
        false,
    ),
    (
        "product_apple_pie",
        "Apple Pie",
        12.00,
        10.8,
        "Shortcrust pastry with a Bramley apple filling.",
        false,
    ),
    (
        "product_cherry_pie",
        "Cherry Pie",
        14.00,
        12.6,
        "Shortcrust pastry with a Morello cherry filling.",
        false,
    ),
    (
        "product_sourdough_loaf",
        "Sourdough Loaf",
        3.50,
        3.15,
        "Artisan sourdough bread with a crisp crust and soft interior.",
        false,
    ),
    (
        "product_multigrain_bread",
        "Multigrain Bread",
        3.25,
        2.93,
        "Hearty multigrain loaf with seeds and grains for extra nutrition.",
        false,
    ),
    (
        "product_rye_bread",
        "Rye Bread",
        4.00,
        3.60,
        "Dense and dark, made with rye flour, perfect for sandwiches.",
        false,
    ),
    (
        "product_cinnamon_roll",
        "Cinnamon Roll",
        1.75,
        1.57,
        "Soft dough with a buttery cinnamon filling, topped with cream cheese icing.",
        false,
    ),
    (
        "product_pain_au_chocolat",
        "Pain au Chocolat",
        1.50,
        1.35,
        "Rich buttery pastry with a dark chocolate center.",
        false,
    ),
    (
        "product_blueberry_muffin",
        "Blueberry Muffin",
        1.80,
        1.62,
        "Moist and fluffy muffins bursting with blueberries.",
        false,
    ),
    (
        "product_bagel",
        "Bagel",
        1.25,
        1.13,
        "Chewy and dense bagel, perfect for sandwiches or with cream cheese.",
        false,
    ),
    (
        "product_cheese_croissant",
        "Cheese Croissant",
        1.65,
        1.49,
        "Flaky croissant filled with creamy cheese, a savory twist on a classic.",
        false,
    ),
    (
        "product_pecan_pie",
        "Pecan Pie",
        15.00,
        13.50,
        "Sweet pie filled with pecans, with a rich, buttery filling and flaky saltt.",
        false,
    ),
];

/// `pos.config.load_onboarding_bakery_scenario` (18.0, `addons/point_of_sale/models/
/// pos_config.py`): the scenario's products are loaded once per database (skipped when
/// `point_of_sale.pos_config_bakery` already exists), then, on every call, a cash journal
/// "Cash Bakery" with its Cash method and the company's Card and Customer Account methods
/// (`_create_journal_and_payment_methods`), and a "Bakery Shop" on the company's POS journal
/// with `limit_categories`, its xml id suffixed with the company id outside the main
/// company (`_get_suffixed_ref_name`).
pub async fn load_onboarding_bakery_scenario(
    conn: &mut PgConnection,
    env: &Env,
    company: i64,
) -> OResult<i64> {
    if crate::users::xmlid_res_id(conn, "point_of_sale.pos_config_bakery")
        .await?
        .is_none()
    {
        for (xml, name, price, cost, description, to_weight) in BAKERY_PRODUCTS {
            let mut v = Map::new();
            v.insert("name".into(), json!(name));
            v.insert("list_price".into(), json!(price));
            v.insert("standard_price".into(), json!(cost));
            v.insert("description_sale".into(), json!(description));
            v.insert("type".into(), json!("consu"));
            v.insert("available_in_pos".into(), json!(true));
            v.insert("to_weight".into(), json!(to_weight));
            let id = create_one(conn, env, "product.product", &v).await?;
            set_xmlid(conn, xml, "product.product", id).await?;
        }
    }
    let journal = ensure_company_account_journal(conn, env, company).await?;
    let methods = create_journal_and_payment_methods(conn, env, company, "Cash Bakery").await?;
    let mut v = Map::new();
    v.insert("name".into(), json!("Bakery Shop"));
    v.insert("company_id".into(), json!(company));
    v.insert("journal_id".into(), json!(journal));
    v.insert("payment_method_ids".into(), json!([[6, 0, methods]]));
    v.insert("limit_categories".into(), json!(true));
    let config = create_one(conn, env, "pos.config", &v).await?;
    let main_company = crate::users::xmlid_res_id(conn, "base.main_company").await?;
    let xml = if main_company == Some(company) {
        "pos_config_bakery".to_owned()
    } else {
        format!("pos_config_bakery_{company}")
    };
    set_xmlid(conn, &xml, "pos.config", config).await?;
    Ok(config)
}

/// `ir.model.data._update_xmlids` for one `point_of_sale.<name>` record (noupdate).
async fn set_xmlid(conn: &mut PgConnection, name: &str, model: &str, res_id: i64) -> OResult<()> {
    sqlx::query("DELETE FROM ir_model_data WHERE module = 'point_of_sale' AND name = $1")
        .bind(name)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    sqlx::query(
        "INSERT INTO ir_model_data (name, module, model, res_id, noupdate) VALUES ($1, 'point_of_sale', $2, $3, true)",
    )
    .bind(name)
    .bind(model)
    .bind(res_id as i32)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// `pos.config._check_payment_method_ids_journal`: a cash payment method (its journal is of
/// type cash) belongs to one point of sale only, and a cash journal to one method only.
pub async fn check_payment_method_ids_journal(conn: &mut PgConnection, config: i64) -> OResult<()> {
    let rows: Vec<(bool, i64)> = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM pos_config_pos_payment_method_rel o \
                        WHERE o.pos_payment_method_id = m.id AND o.pos_config_id <> $1), \
                (SELECT count(*) FROM pos_payment_method m2 WHERE m2.journal_id = m.journal_id) \
         FROM pos_config_pos_payment_method_rel r JOIN pos_payment_method m ON m.id = r.pos_payment_method_id \
         JOIN account_journal j ON j.id = m.journal_id WHERE r.pos_config_id = $1 AND j.type = 'cash' ORDER BY m.id",
    )
    .bind(config as i32)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    for (elsewhere, on_journal) in rows {
        if elsewhere {
            return Err(OdooError::validation(
                "This cash payment method is already used in another Point of Sale.\nA new cash payment method should be created for this Point of Sale.",
            ));
        }
        if on_journal > 1 {
            return Err(OdooError::validation(
                "You cannot use the same journal on multiples cash payment methods.",
            ));
        }
    }
    Ok(())
}

/// `pos.session.login()` (18.0): the next number of the session's own `ir.sequence`
/// (code `pos.session.login_number<id>`, created on first use); a string, as
/// `next_by_code` returns. Each device calls it once, so two devices of one session
/// number their orders apart.
pub async fn login(conn: &mut PgConnection, env: &Env, ids: &[i64]) -> OResult<Value> {
    let sid = singleton("pos.session", ids)?;
    orm::ensure_exist(conn, env, model("pos.session")?, &[sid]).await?;
    let (n,): (i32,) = sqlx::query_as(
        "UPDATE pos_session SET login_number = COALESCE(login_number, 0) + 1 WHERE id = $1 RETURNING login_number",
    )
    .bind(sid as i32)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(json!(n.to_string()))
}

/// `pos.session.get_closing_control_data()` (18.0): what the closing popup shows: the
/// session's paid orders, the expected cash (opening + cash payments; the sim has no cash
/// moves), and the other methods' totals.
pub async fn get_closing_control_data(
    conn: &mut PgConnection,
    env: &Env,
    ids: &[i64],
) -> OResult<Value> {
    if !crate::users::has_group(conn, env.uid, "point_of_sale.group_pos_user").await? {
        return Err(OdooError::access_error(
            "You don't have the access rights to get the point of sale closing control data.",
        ));
    }
    let sid = singleton("pos.session", ids)?;
    orm::ensure_exist(conn, env, model("pos.session")?, &[sid]).await?;
    let (count, amount, opening, notes): (i64, f64, f64, Option<String>) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM pos_order o WHERE o.session_id = s.id AND o.state NOT IN ('draft', 'cancel')), \
         (SELECT COALESCE(sum(o.amount_total), 0)::float8 FROM pos_order o WHERE o.session_id = s.id AND o.state NOT IN ('draft', 'cancel')), \
         COALESCE(s.cash_register_balance_start, 0)::float8, s.opening_notes FROM pos_session s WHERE s.id = $1",
    )
    .bind(sid as i32)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    let methods: Vec<(i32, String, bool, f64, i64)> = sqlx::query_as(
        "SELECT m.id, m.name, m.is_cash_count, \
         COALESCE((SELECT sum(p.amount) FROM pos_payment p JOIN pos_order o ON o.id = p.pos_order_id \
                   WHERE o.session_id = s.id AND o.state NOT IN ('draft', 'cancel') AND p.payment_method_id = m.id), 0)::float8, \
         (SELECT count(*) FROM pos_payment p JOIN pos_order o ON o.id = p.pos_order_id \
                   WHERE o.session_id = s.id AND o.state NOT IN ('draft', 'cancel') AND p.payment_method_id = m.id) \
         FROM pos_session s JOIN pos_config_pos_payment_method_rel r ON r.pos_config_id = s.config_id \
         JOIN pos_payment_method m ON m.id = r.pos_payment_method_id WHERE s.id = $1 ORDER BY m.sequence, m.id",
    )
    .bind(sid as i32)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    let cash = methods.iter().find(|m| m.2);
    let default_cash = match cash {
        Some((id, name, _, paid, _)) => json!({
            "name": name, "amount": opening + paid, "opening": opening,
            "payment_amount": paid, "moves": [], "id": id,
        }),
        None => json!({}),
    };
    let others: Vec<Value> = methods
        .iter()
        .filter(|m| Some(m.0) != cash.map(|c| c.0))
        .map(|(id, name, is_cash, paid, n)| {
            json!({"name": name, "amount": paid, "number": n, "id": id,
                   "type": if *is_cash { "cash" } else { "bank" }})
        })
        .collect();
    let is_manager =
        crate::users::has_group(conn, env.uid, "point_of_sale.group_pos_manager").await?;
    Ok(json!({
        "orders_details": {"quantity": count, "amount": amount},
        "opening_notes": notes.map(Value::String).unwrap_or(Value::Bool(false)),
        "default_cash_details": default_cash,
        "non_cash_payment_methods": others,
        "is_manager": is_manager,
        "amount_authorized_diff": Value::Null,
    }))
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

/// `pos.order.sync_from_ui(orders)` (Odoo 18, `addons/point_of_sale/models/pos_order.py`).
///
/// The checks run in Odoo's order: the log line reads `name` and `uuid` of every order
/// (`_get_order_log_representation`, so a non-dict order fails first, before any work);
/// then, per order, the refund check reads `order['lines']` (`_get_refunded_orders`), the
/// uuid is looked up (`_get_open_order`), and only `_process_order` reads the session.
pub async fn sync_from_ui(conn: &mut PgConnection, env: &Env, orders: Value) -> OResult<Value> {
    let list = match orders {
        Value::Array(a) => a,
        Value::Object(o) => o.keys().map(|k| json!(k)).collect(),
        Value::String(s) => s.chars().map(|c| json!(c.to_string())).collect(),
        other => {
            return Err(OdooError::type_error(format!(
                "'{}' object is not iterable",
                pytype(&other)
            )))
        }
    };
    // _get_order_log_representation: order.get(...) for every order, before anything else.
    if let Some(bad) = list.iter().find(|o| !o.is_object()) {
        return Err(OdooError::builtin(
            "AttributeError",
            format!("'{}' object has no attribute 'get'", pytype(bad)),
        ));
    }
    let mut order_ids: Vec<i64> = Vec::new();
    for o in &list {
        let Value::Object(order) = o else { continue };
        let refunded = refunded_line_ids(order)?;
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
                    // "sync ignored for existing PoS order": its id is still returned
                    order_ids.push(*id);
                }
            }
        }
    }
    // _ensure_access_token: one uuid4 per order that has none, in one statement.
    let token_ids: Vec<i32> = order_ids.iter().map(|id| *id as i32).collect();
    sqlx::query(
        "UPDATE pos_order SET access_token = gen_random_uuid()::text WHERE id = ANY($1) AND access_token IS NULL",
    )
    .bind(&token_ids)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
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

/// The entries of `order['lines']` as Python iterates them: a list's items, a dict's keys,
/// a string's characters; anything else is not iterable.
fn py_items(v: &Value) -> OResult<Vec<Value>> {
    match v {
        Value::Array(a) => Ok(a.clone()),
        Value::Object(o) => Ok(o.keys().map(|k| json!(k)).collect()),
        Value::String(s) => Ok(s.chars().map(|c| json!(c.to_string())).collect()),
        other => Err(OdooError::type_error(format!(
            "'{}' object is not iterable",
            pytype(other)
        ))),
    }
}

/// `line[0] in [0, 1]` and, when it is, `line[2]`, with Python's errors for each shape.
fn create_or_update_vals(line: &Value) -> OResult<Option<&Value>> {
    let first = match line {
        Value::Array(c) => c
            .first()
            .ok_or_else(|| OdooError::builtin("IndexError", "list index out of range"))?,
        Value::Object(_) => return Err(OdooError::key_error_int(0)),
        Value::String(s) if s.is_empty() => {
            return Err(OdooError::builtin(
                "IndexError",
                "string index out of range",
            ))
        }
        Value::String(_) => return Ok(None), // a character is never 0 or 1
        other => {
            return Err(OdooError::type_error(format!(
                "'{}' object is not subscriptable",
                pytype(other)
            )))
        }
    };
    if !matches!(first.as_f64(), Some(c) if c == 0.0 || c == 1.0)
        && first != &json!(false)
        && first != &json!(true)
    {
        return Ok(None);
    }
    match line {
        Value::Array(c) => c
            .get(2)
            .map(Some)
            .ok_or_else(|| OdooError::builtin("IndexError", "list index out of range")),
        _ => Ok(None),
    }
}

/// `_get_refunded_orders`: `line[2].get('refunded_orderline_id')` of every create/update
/// command of `order['lines']` (a missing `lines` key is a KeyError, before the session is
/// looked at).
fn refunded_line_ids(order: &Map<String, Value>) -> OResult<std::collections::BTreeSet<i64>> {
    let lines = order
        .get("lines")
        .ok_or_else(|| OdooError::key_error("lines"))?;
    let mut refunded = std::collections::BTreeSet::new();
    for l in py_items(lines)? {
        let Some(vals) = create_or_update_vals(&l)? else {
            continue;
        };
        let Value::Object(vals) = vals else {
            return Err(OdooError::builtin(
                "AttributeError",
                format!("'{}' object has no attribute 'get'", pytype(vals)),
            ));
        };
        if let Some(r) = vals.get("refunded_orderline_id").and_then(Value::as_i64) {
            if r != 0 {
                refunded.insert(r);
            }
        }
    }
    Ok(refunded)
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
    let (mut sid, state, config) = session_state(conn, env, &sid_v).await?;
    if state == "closing_control" || state == "closed" {
        // _get_valid_session logs order['name'] and order['amount_total'] first.
        for key in ["name", "amount_total"] {
            if !order.contains_key(key) {
                return Err(OdooError::key_error(key));
            }
        }
        let open: Option<(i32,)> = sqlx::query_as("SELECT id FROM pos_session WHERE state NOT IN ('closed', 'closing_control') AND config_id = $1 ORDER BY id DESC LIMIT 1")
            .bind(config as i32).fetch_optional(&mut *conn).await.map_err(db_err)?;
        match open {
            Some((o,)) => {
                order.insert("session_id".into(), json!(o));
                sid = o as i64;
            }
            None => {
                return Err(OdooError::user(
                    "No open session available. Please open a new session to capture the order.",
                ))
            }
        }
    }
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
    prepare_combo_lines(&mut order)?;
    let m = model("pos.order")?;
    let id = match existing {
        None => {
            // pos_order.py _process_order (18.0): create every key but `name`, and
            // `'pos_reference': order.get('name')`.
            let mut vals: Map<String, Value> = order
                .iter()
                .filter(|(k, _)| *k != "name")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            vals.insert(
                "pos_reference".into(),
                order.get("name").cloned().unwrap_or(Value::Null),
            );
            vals.insert(
                "pricelist_id".into(),
                order
                    .get("pricelist_id")
                    .filter(|v| !matches!(v, Value::Bool(false) | Value::Null))
                    .cloned()
                    .unwrap_or(json!(false)),
            );
            create_order(conn, env, &vals, Some((sid, config))).await?
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
            // Lines and payments first; commands on records that no longer exist are dropped.
            for field in ["lines", "payment_ids"] {
                let nonempty = order.get(field).is_some_and(|v| {
                    !matches!(v, Value::Array(a) if a.is_empty())
                        && !matches!(v, Value::Bool(false) | Value::Null)
                });
                if nonempty {
                    let cmds = existing_record_commands(conn, field, &order[field]).await?;
                    let mut v = Map::new();
                    v.insert(field.into(), cmds);
                    write_order(conn, env, id, &v).await?;
                    order.insert(field.into(), json!([]));
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
    // _process_payment_lines; what _process_saved_order reads comes back with it.
    let mut saved: (f64, f64, String, String, Option<i32>) = sqlx::query_as(
        "UPDATE pos_order o SET amount_paid = (SELECT COALESCE(sum(amount), 0) FROM pos_payment WHERE pos_order_id = $1) \
         FROM pos_config c WHERE c.id = o.config_id AND o.id = $1 \
         RETURNING o.amount_total, o.amount_paid, o.name, o.state, c.sequence_id",
    )
    .bind(id as i32)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    let amount_return = if draft {
        0.0
    } else {
        // not float_is_zero(pos_order['amount_return'], ...): a KeyError when absent
        let v = order
            .get("amount_return")
            .ok_or_else(|| OdooError::key_error("amount_return"))?;
        v.as_f64().unwrap_or(0.0)
    };
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
        create_payment(conn, env, &pv, Some(osid as i64)).await?;
        // add_payment, then order._compute_prices()
        compute_prices(conn, id).await?;
        saved = sqlx::query_as(
            "SELECT o.amount_total, o.amount_paid, o.name, o.state, c.sequence_id FROM pos_order o JOIN pos_config c ON c.id = o.config_id WHERE o.id = $1",
        )
        .bind(id as i32).fetch_one(&mut *conn).await.map_err(db_err)?;
    }
    // _process_saved_order
    if !draft {
        let (total, paid, name, state, config_seq) = saved;
        // action_pos_order_paid: UserError "Order X is not fully paid." is logged and swallowed
        let fully_paid = (total - paid).abs() < 0.005;
        if fully_paid {
            let new_name = if name == "/" && state != "paid" {
                match config_seq {
                    Some(s) => next_sequence(conn, s as i64).await?,
                    None => name,
                }
            } else {
                name
            };
            // The cost is computed at the end of _process_saved_order either way; nothing
            // in between reads it, so a paid order gets both in one write.
            sqlx::query("UPDATE pos_order SET state = 'paid', name = $2, is_total_cost_computed = true WHERE id = $1")
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
        // _create_order_picking: goods lines get a picking (once)
        let (goods, has_picking): (bool, bool) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM pos_order_line l JOIN product_product pp ON pp.id = l.product_id JOIN product_template pt ON pt.id = pp.product_tmpl_id WHERE l.order_id = $1 AND pt.type = 'consu'), \
             EXISTS (SELECT 1 FROM stock_picking WHERE pos_order_id = $1)",
        )
        .bind(id as i32).fetch_one(&mut *conn).await.map_err(db_err)?;
        if goods && !has_picking {
            sqlx::query("INSERT INTO stock_picking (name, pos_order_id, pos_session_id, state) SELECT 'POS/' || o.name, o.id, o.session_id, 'done' FROM pos_order o WHERE o.id = $1")
                .bind(id as i32).execute(&mut *conn).await.map_err(db_err)?;
        }
        if !fully_paid {
            sqlx::query("UPDATE pos_order SET is_total_cost_computed = true WHERE id = $1")
                .bind(id as i32)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
        }
    }
    Ok(id)
}

/// `_prepare_combo_line_uuids`: a line that names combo children must carry a `uuid` (and so
/// must the children); Odoo then clears `combo_line_ids` / `combo_parent_id` on every
/// created or updated line before saving (the links are made afterwards by uuid, which the
/// simulator does not keep: combos are not simulated).
fn prepare_combo_lines(order: &mut Map<String, Value>) -> OResult<()> {
    let Some(lines) = order.get_mut("lines") else {
        return Err(OdooError::key_error("lines"));
    };
    let Value::Array(items) = lines else {
        return Ok(()); // dict keys and characters are never create/update commands
    };
    let mut vals: Vec<&mut Map<String, Value>> = items
        .iter_mut()
        .filter_map(|l| match l {
            Value::Array(c) if matches!(c.first().and_then(Value::as_i64), Some(0) | Some(1)) => {
                c.get_mut(2).and_then(Value::as_object_mut)
            }
            _ => None,
        })
        .collect();
    let children: Vec<Value> = vals
        .iter()
        .filter_map(|v| v.get("combo_line_ids"))
        .filter(|c| py_truthy(c))
        .flat_map(|c| c.as_array().cloned().unwrap_or_default())
        .collect();
    for v in vals.iter() {
        if v.get("combo_line_ids").is_some_and(py_truthy) && !v.contains_key("uuid") {
            return Err(OdooError::key_error("uuid"));
        }
        if v.get("id").is_some_and(|id| children.contains(id)) && !v.contains_key("uuid") {
            return Err(OdooError::key_error("uuid"));
        }
    }
    for v in vals.iter_mut() {
        v.remove("combo_line_ids");
        v.remove("combo_parent_id");
    }
    Ok(())
}

fn py_truthy(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => false,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(true) => true,
    }
}

/// The update path of `_process_order`: commands 1-4 on records that no longer exist are
/// dropped (`browse(...).exists()`), every other command is kept.
async fn existing_record_commands(
    conn: &mut PgConnection,
    field: &str,
    cmds: &Value,
) -> OResult<Value> {
    let Value::Array(items) = cmds else {
        return Ok(cmds.clone());
    };
    let table = if field == "lines" {
        "pos_order_line"
    } else {
        "pos_payment"
    };
    let ids: Vec<i32> = items
        .iter()
        .filter_map(|c| c.get(1).and_then(Value::as_i64))
        .filter(|id| *id != 0)
        .map(|id| id as i32)
        .collect();
    let existing: Vec<i32> =
        sqlx::query_scalar(&format!("SELECT id FROM {table} WHERE id = ANY($1)"))
            .bind(&ids)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
    Ok(Value::Array(
        items
            .iter()
            .filter(|c| {
                let code = c.get(0).and_then(Value::as_i64);
                let id = c.get(1).and_then(Value::as_i64).unwrap_or(0);
                !matches!(code, Some(1..=4)) || existing.contains(&(id as i32))
            })
            .cloned()
            .collect(),
    ))
}

/// `pos.order._compute_prices()`: paid and returned amounts from the payments, taxes and
/// total from the lines (`price_unit × qty × (1 − discount%)`, percent taxes included in
/// the price or added to it, rounded per line to the currency's decimals).
async fn compute_prices(conn: &mut PgConnection, id: i64) -> OResult<()> {
    sqlx::query(
        "WITH l AS ( \
           SELECT ol.id, round((ol.price_unit * ol.qty * (1 - COALESCE(ol.discount, 0) / 100))::numeric, 6) AS base, \
             COALESCE((SELECT sum(t.amount) FROM account_tax_pos_order_line_rel r JOIN account_tax t ON t.id = r.account_tax_id \
                       WHERE r.pos_order_line_id = ol.id AND t.amount_type = 'percent' AND NOT t.price_include)::numeric, 0) AS excl, \
             COALESCE((SELECT sum(t.amount) FROM account_tax_pos_order_line_rel r JOIN account_tax t ON t.id = r.account_tax_id \
                       WHERE r.pos_order_line_id = ol.id AND t.amount_type = 'percent' AND t.price_include)::numeric, 0) AS incl \
           FROM pos_order_line ol WHERE ol.order_id = $1), \
         cur AS (SELECT COALESCE(cu.decimal_places, 2) AS d FROM pos_order o JOIN res_company co ON co.id = o.company_id \
                 JOIN res_currency cu ON cu.id = co.currency_id WHERE o.id = $1), \
         amounts AS (SELECT \
           COALESCE(sum(round(base / (1 + incl / 100) * (excl + incl) / 100, (SELECT d FROM cur))), 0) AS tax, \
           COALESCE(sum(round(base / (1 + incl / 100) * (1 + (excl + incl) / 100), (SELECT d FROM cur))), 0) AS total FROM l) \
         UPDATE pos_order SET \
           amount_paid = (SELECT COALESCE(sum(amount), 0) FROM pos_payment WHERE pos_order_id = $1), \
           amount_return = -(SELECT COALESCE(sum(amount), 0) FROM pos_payment WHERE pos_order_id = $1 AND amount < 0), \
           amount_tax = (SELECT (CASE WHEN amount_total < 0 THEN -tax ELSE tax END)::float8 FROM amounts), \
           amount_total = (SELECT (CASE WHEN amount_total < 0 THEN -total ELSE total END)::float8 FROM amounts) \
         WHERE id = $1",
    )
    .bind(id as i32)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
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
    apply_order_x2m(conn, env, m, id, None, std::mem::take(&mut p.x2m)).await
}

/// Applies an order's one2many/many2many commands: new lines and payments go through
/// their own creation (with Odoo's checks), anything else through the generic ORM.
/// `session` is the order's session when the caller knows it (a new order).
async fn apply_order_x2m(
    conn: &mut PgConnection,
    env: &Env,
    m: &'static models::Model,
    id: i64,
    session: Option<i64>,
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
                    create_payment(conn, env, &pv, session).await?;
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
/// `session` is the (session, config) pair the caller has already read for
/// `vals["session_id"]` (`_process_order` reads it to check the state), so it is not read
/// twice; `None` reads it here.
pub async fn create_order(
    conn: &mut PgConnection,
    env: &Env,
    vals: &Map<String, Value>,
    session: Option<(i64, i64)>,
) -> OResult<i64> {
    let m = model("pos.order")?;
    let (sid, config) = match session {
        Some(known) => known,
        None => {
            let sid_v = vals
                .get("session_id")
                .cloned()
                .ok_or_else(|| OdooError::key_error("session_id"))?;
            let (sid, _, config) = session_state(conn, env, &sid_v).await?;
            (sid, config)
        }
    };
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
    apply_order_x2m(conn, env, m, id, Some(sid), std::mem::take(&mut p.x2m)).await?;
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

/// `order_session`: the session of `vals["pos_order_id"]` when the caller knows it
/// (`pos.payment.session_id` is `related='pos_order_id.session_id'`, stored).
async fn create_payment(
    conn: &mut PgConnection,
    env: &Env,
    vals: &Map<String, Value>,
    order_session: Option<i64>,
) -> OResult<i64> {
    let m = model("pos.payment")?;
    let mut p = orm::prepare(m, vals)?;
    if let Some(oid) = vals.get("pos_order_id").and_then(Value::as_i64) {
        let sid = match order_session {
            Some(sid) => sid,
            None => {
                let (sid,): (i32,) =
                    sqlx::query_as("SELECT session_id FROM pos_order WHERE id = $1")
                        .bind(oid as i32)
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(db_err)?;
                sid as i64
            }
        };
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
