//! `pos.session.load_data` as Odoo 18.0 answers it.
//!
//! Source (18.0): `addons/point_of_sale/models/pos_session.py` (`load_data`,
//! `_load_pos_data_models`, `_load_pos_data_relations`, `_load_pos_data`),
//! `pos_load_mixin.py` (`_load_pos_data`: `{"data": search_read(domain, fields, load=False),
//! "fields": fields}`, an empty list meaning every field), and each model's
//! `_load_pos_data_domain` / `_load_pos_data_fields` in `addons/point_of_sale/models/*.py`.
//!
//! Every model of `_load_pos_data_models` is answered, in Odoo's order, with its declared
//! fields ([`crate::pos_fields`]). Models the simulator keeps in tables are read with Odoo's
//! domain; a field the simulator does not store carries the value Odoo gives a record that
//! never set it (the field's declared default, else `false`, `0`, `0.0` or `[]`). Models the
//! simulator does not keep answer no records (see the README's list of differences).

use crate::error::{OResult, OdooError};
use crate::methods::pytype;
use crate::models;
use crate::orm::{self, db_err, singleton, Env};
use crate::pos_fields::POS_MODELS;
use serde_json::{json, Map, Value};
use sqlx::PgConnection;

/// One field of a model as `_load_pos_data_relations` describes it.
pub struct PosField {
    pub name: &'static str,
    /// Odoo's field type (`many2one`, `char`, ...).
    pub ty: &'static str,
    pub relation: Option<&'static str>,
    /// `inverse_name` of a one2many.
    pub inverse: Option<&'static str>,
    /// `relation_table` of a many2many.
    pub table: Option<&'static str>,
    pub compute: bool,
    pub related: bool,
    /// JSON of the value a record that never set the field reads.
    pub empty: &'static str,
}

/// A model the POS loads: `declared` is its `_load_pos_data_fields` (empty = every field),
/// `fields` the description of each field answered.
pub struct PosModel {
    pub name: &'static str,
    pub declared: &'static [&'static str],
    pub fields: &'static [PosField],
}

pub fn pos_model(name: &str) -> Option<&'static PosModel> {
    POS_MODELS.iter().find(|m| m.name == name)
}

/// The keys of the answer so far each model's `_load_pos_data` reads (a missing one is
/// Python's `KeyError`, as when `models_to_load` leaves it out). Every model but
/// `ir.module.module` reads `data['pos.config']` for its fields.
fn needs(model: &str) -> &'static [&'static str] {
    match model {
        "pos.config" => &["pos.session"],
        "ir.module.module" => &[],
        "pos.order" => &["pos.config", "pos.session"],
        "pos.order.line" | "pos.payment" | "res.partner" => &["pos.config", "pos.order"],
        "pos.pack.operation.lot" | "product.attribute.custom.value" => {
            &["pos.config", "pos.order.line"]
        }
        "product.product" => &["pos.config", "pos.order.line"],
        "account.tax.group" => &["pos.config", "account.tax"],
        "product.template.attribute.line" | "product.combo" | "product.packaging" => {
            &["pos.config", "product.product"]
        }
        "product.template.attribute.value" => &[
            "pos.config",
            "product.product",
            "product.template.attribute.line",
            "product.attribute",
        ],
        "product.combo.item" => &["pos.config", "product.combo"],
        "uom.category" => &["pos.config", "uom.uom"],
        "product.pricelist.item" => &["pos.config", "product.product", "product.pricelist"],
        "account.fiscal.position.tax" => &["pos.config", "account.fiscal.position"],
        _ => &["pos.config"],
    }
}

fn ids_of(out: &Map<String, Value>, model: &str, field: &str) -> Vec<i64> {
    let mut v: Vec<i64> = out
        .get(model)
        .and_then(|b| b.get("data"))
        .and_then(Value::as_array)
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r.get(field).and_then(Value::as_i64))
                .collect()
        })
        .unwrap_or_default();
    v.sort_unstable();
    v.dedup();
    v
}

struct Ctx {
    sid: i64,
    config_id: i64,
    company_id: i64,
}

/// The domain (over the simulator's tables) of a model the simulator keeps, as the model's
/// `_load_pos_data_domain` in 18.0; `None` for a model it does not keep.
async fn domain_of(
    conn: &mut PgConnection,
    env: &Env,
    model: &str,
    c: &Ctx,
    out: &Map<String, Value>,
) -> OResult<Option<Value>> {
    Ok(Some(match model {
        "pos.session" => json!([["id", "=", c.sid]]),
        "pos.config" => json!([["id", "=", c.config_id]]),
        "pos.order" => json!([["state", "=", "draft"], ["session_id", "=", c.sid]]),
        "pos.order.line" => json!([["order_id", "in", ids_of(out, "pos.order", "id")]]),
        "pos.payment" => json!([["pos_order_id", "in", ids_of(out, "pos.order", "id")]]),
        // Active or not; the multi-company record rule keeps the company's.
        "pos.payment.method" => json!([
            ["company_id", "=", c.company_id],
            "|",
            ["active", "=", false],
            ["active", "=", true]
        ]),
        "res.company" => json!([["id", "=", c.company_id]]),
        // _check_company_domain(company): the company's and those of no company.
        "account.tax" => json!([
            "|",
            ["company_id", "=", false],
            ["company_id", "=", c.company_id]
        ]),
        // pos.config._get_available_product_domain (no category limit in the simulator).
        "product.product" => json!([
            "|",
            ["company_id", "=", false],
            ["company_id", "=", c.company_id],
            ["available_in_pos", "=", true],
            ["sale_ok", "=", true]
        ]),
        "res.users" => json!([["id", "=", env.uid]]),
        "res.partner" => {
            // get_limited_partners_loading: the company's partners (or of no company) with
            // the most POS orders first, then by name, 100 at most; plus the user's partner
            // and the partners of the loaded orders.
            let mut ids: Vec<i64> = sqlx::query_scalar(
                "WITH pm AS (SELECT partner_id, count(partner_id) AS order_count FROM pos_order GROUP BY partner_id) \
                 SELECT p.id::bigint FROM res_partner p LEFT JOIN pm ON p.id = pm.partner_id \
                 WHERE p.company_id = $1 OR p.company_id IS NULL \
                 ORDER BY COALESCE(pm.order_count, 0) DESC, p.name LIMIT 100",
            )
            .bind(c.company_id as i32)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
            let own: i32 = sqlx::query_scalar("SELECT partner_id FROM res_users WHERE id = $1")
                .bind(env.uid as i32)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
            ids.push(i64::from(own));
            ids.extend(ids_of(out, "pos.order", "partner_id"));
            json!([["id", "in", ids]])
        }
        "res.currency" => {
            let cur: i32 = sqlx::query_scalar("SELECT currency_id FROM res_company WHERE id = $1")
                .bind(c.company_id as i32)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
            json!([["id", "=", cur]])
        }
        "res.country" => json!([]),
        "ir.module.module" => json!([["name", "=", "pos_settle_due"]]),
        _ => return Ok(None),
    }))
}

/// Reads `ids` of `pm` from the simulator's table and gives each record exactly Odoo's
/// fields: the simulator's value where it has the field, the never-set value otherwise.
async fn read_as_odoo(
    conn: &mut PgConnection,
    env: &Env,
    pm: &PosModel,
    sim: &models::Model,
    ids: &[i64],
) -> OResult<Vec<Value>> {
    let wanted: Vec<&PosField> = pm.fields.iter().collect();
    let have: Vec<String> = wanted
        .iter()
        .filter(|f| sim.field(f.name).is_some())
        .map(|f| f.name.to_string())
        .chain(std::iter::once("id".to_string()))
        .collect();
    let rows = orm::read(conn, env, sim, ids, &have, false).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let Value::Object(mut r) = row else { continue };
        let mut rec = Map::new();
        rec.insert("id".into(), r.remove("id").unwrap_or(Value::Bool(false)));
        for f in wanted.iter().filter(|f| f.name != "id") {
            let v = match r.remove(f.name) {
                Some(v) => v,
                None => serde_json::from_str(f.empty).unwrap_or(Value::Bool(false)),
            };
            rec.insert(f.name.to_string(), v);
        }
        out.push(Value::Object(rec));
    }
    Ok(out)
}

/// `_load_pos_data_relations`: every answered field (every field when the declared list is
/// empty) with its type, and for relational ones the comodel, the one2many's inverse and the
/// many2many's table.
fn relations(pm: &PosModel) -> Value {
    let mut rel = Map::new();
    for f in pm.fields {
        let mut d = Map::new();
        d.insert("name".into(), json!(f.name));
        if let Some(r) = f.relation {
            d.insert("model".into(), json!(pm.name));
            d.insert("compute".into(), json!(f.compute));
            d.insert("related".into(), json!(f.related));
            d.insert("relation".into(), json!(r));
            d.insert("type".into(), json!(f.ty));
            if let (Some(inv), "one2many") = (f.inverse, f.ty) {
                d.insert("inverse_name".into(), json!(inv));
            }
            if let (Some(t), "many2many") = (f.table, f.ty) {
                d.insert("relation_table".into(), json!(t));
            }
        } else {
            d.insert("type".into(), json!(f.ty));
            d.insert("compute".into(), json!(f.compute));
            d.insert("related".into(), json!(f.related));
        }
        rel.insert(f.name.to_string(), Value::Object(d));
    }
    Value::Object(rel)
}

async fn load_model(
    conn: &mut PgConnection,
    env: &Env,
    pm: &PosModel,
    c: &Ctx,
    out: &Map<String, Value>,
) -> OResult<Vec<Value>> {
    let Some(domain) = domain_of(conn, env, pm.name, c, out).await? else {
        return Ok(vec![]);
    };
    let sim = models::model(pm.name)
        .ok_or_else(|| OdooError::generic(format!("{} has no table in odoo-sim", pm.name)))?;
    let mut ids = orm::search(
        conn,
        env,
        sim,
        &domain,
        &orm::SearchOpts {
            offset: 0,
            limit: None,
            order: Some("id"),
        },
    )
    .await?;
    if pm.name == "product.product" {
        // _add_missing_products: the products of the loaded lines, archived or not.
        for p in ids_of(out, "pos.order.line", "product_id") {
            if !ids.contains(&p) {
                ids.push(p);
            }
        }
    }
    read_as_odoo(conn, env, pm, sim, &ids).await
}

pub async fn load_data(
    conn: &mut PgConnection,
    env: &Env,
    ids: &[i64],
    models_to_load: Value,
    only_data: bool,
) -> OResult<Value> {
    let sid = singleton("pos.session", ids)?;
    let sm = models::model("pos.session")
        .ok_or_else(|| OdooError::generic("pos.session has no table in odoo-sim"))?;
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
    let (config_id, company_id): (i32, i32) = sqlx::query_as(
        "SELECT s.config_id, c.company_id FROM pos_session s JOIN pos_config c ON c.id = s.config_id WHERE s.id = $1",
    )
    .bind(sid as i32)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    let c = Ctx {
        sid,
        config_id: config_id.into(),
        company_id: company_id.into(),
    };
    let mut out = Map::new();

    // pos.session first, with the keys its _load_pos_data adds; its relations always.
    let spm = pos_model("pos.session")
        .ok_or_else(|| OdooError::generic("pos.session is not described"))?;
    let mut srec = load_model(conn, env, spm, &c, &out).await?;
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
    out.insert(
        "pos.session".into(),
        json!({"data": srec, "fields": spm.declared, "relations": relations(spm)}),
    );

    for pm in POS_MODELS.iter().filter(|m| m.name != "pos.session") {
        if !wanted.is_empty() && !wanted.iter().any(|w| w == pm.name) {
            continue;
        }
        if let Some(k) = needs(pm.name).iter().find(|k| !out.contains_key(**k)) {
            return Err(OdooError::key_error(k));
        }
        let mut data = load_model(conn, env, pm, &c, &out).await?;
        match pm.name {
            // pos.config._load_pos_data: no pricelist unless pricelists are used.
            "pos.config" => {
                for r in data.iter_mut().filter_map(Value::as_object_mut) {
                    if r.get("use_pricelist") != Some(&Value::Bool(true)) {
                        r.insert("pricelist_id".into(), Value::Bool(false));
                    }
                }
            }
            // res.users._load_pos_data: the POS role instead of the groups.
            "res.users" => {
                let manager =
                    crate::users::has_group(conn, env.uid, "point_of_sale.group_pos_manager")
                        .await?;
                for r in data.iter_mut().filter_map(Value::as_object_mut) {
                    r.remove("groups_id");
                    r.insert(
                        "role".into(),
                        json!(if manager { "manager" } else { "cashier" }),
                    );
                }
            }
            _ => {}
        }
        if pm.name == "product.product" {
            // product.product._load_pos_data sets the config's default values of the
            // product fields 'formula' taxes use (none without account_tax_python).
            if let Some(Value::Object(cfg)) = out
                .get_mut("pos.config")
                .and_then(|b| b.get_mut("data"))
                .and_then(|d| d.get_mut(0))
            {
                cfg.insert("_product_default_values".into(), json!({}));
            }
        }
        let mut block = json!({"data": data, "fields": pm.declared});
        if !only_data {
            block["relations"] = relations(pm);
        }
        out.insert(pm.name.to_string(), block);
    }
    Ok(Value::Object(out))
}
