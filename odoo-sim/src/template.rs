//! Creating Odoo-shaped databases (what `odoo-sim init-template` and
//! `db.create_database` do).

use crate::error::{OResult, OdooError};
use crate::orm::db_err;
use crate::pg::{ident, Pools};
use crate::schema;
use sqlx::{ConnectOptions, Connection, PgConnection};

/// Which business data to seed on top of the fresh-database records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Catalogue {
    /// Only what a fresh database has: base and web installed, nothing else.
    None,
    /// point_of_sale installed with a small catalogue: taxes, products, Cash and
    /// Card payment methods, a pos.config "Shop" (the default).
    #[default]
    Demo,
    /// point_of_sale installed, with exactly the records the testdata/odoo18
    /// recordings start from (journals, the "Tips" product; no payment method,
    /// no pos.config: the recorded exchanges create them).
    Recording,
}

#[derive(Debug, Clone)]
pub struct TemplateOptions {
    pub catalogue: Catalogue,
    pub login: String,
    pub password: String,
    pub lang: String,
    pub country_code: Option<String>,
    pub phone: Option<String>,
    pub company_name: String,
    pub base_url: String,
}

impl Default for TemplateOptions {
    fn default() -> Self {
        TemplateOptions {
            catalogue: Catalogue::Demo,
            login: "admin".into(),
            password: "admin".into(),
            lang: "en_US".into(),
            country_code: None,
            phone: None,
            company_name: "My Company".into(),
            base_url: "http://localhost:8069".into(),
        }
    }
}

/// passlib hash of "admin" (600 000 rounds, fixed salt): avoids spending a second
/// of PBKDF2 per template for the default password.
const ADMIN_HASH: &str = "$pbkdf2-sha512$600000$MDEyMzQ1Njc4OWFiY2RlZg$K2ny/LUfga/mB/towFBfrZB30XOxTc9I1aS4OK7vR/9FiXJSM0GSngInRQBqQGg6xag5mDu41orb5dPzS3Wu2Q";

pub async fn hash_password(plain: &str) -> String {
    if plain == "admin" {
        return ADMIN_HASH.to_string();
    }
    let p = plain.to_string();
    tokio::task::spawn_blocking(move || odoo_passlib::hash_password(&p))
        .await
        .unwrap_or_default()
}

/// Create database `name` on the server at `server_url` (a postgres:// URL whose
/// database part is the maintenance db) and seed it. Fails if it exists.
pub async fn init_template(
    server_url: &str,
    name: &str,
    options: &TemplateOptions,
) -> anyhow::Result<()> {
    let pools = Pools::new(server_url)?;
    create_empty(&pools, name)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut c = pools
        .options(name)
        .connect()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let r = seed(&mut c, options).await;
    let _ = c.close().await;
    r.map_err(|e| anyhow::anyhow!("{e}"))
}

/// Odoo's `_create_empty_database`: DatabaseExists when the name is taken.
pub async fn create_empty(pools: &Pools, name: &str) -> OResult<()> {
    if pools.exists(name).await? {
        let mut e = OdooError::generic(format!("database '{name}' already exists!"));
        e.name = "odoo.service.db.DatabaseExists".into();
        e.tb_name = Some("odoo.service.db.DatabaseExists".into());
        return Err(e);
    }
    let mut c = pools.maintenance().await?;
    let r = sqlx::query(&format!(
        "CREATE DATABASE {} ENCODING 'unicode' LC_COLLATE 'C' TEMPLATE template0",
        ident(name)
    ))
    .execute(&mut c)
    .await;
    let _ = c.close().await;
    r.map_err(crate::pg::pg_error)?;
    Ok(())
}

async fn exec(c: &mut PgConnection, sql: &str) -> OResult<()> {
    sqlx::raw_sql(sql).execute(&mut *c).await.map_err(db_err)?;
    Ok(())
}

fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Create the schema and seed a fresh-Odoo-18 state in one transaction.
pub async fn seed(c: &mut PgConnection, o: &TemplateOptions) -> OResult<()> {
    let mut tx = c.begin().await.map_err(db_err)?;
    exec(&mut tx, schema::DDL).await?;
    let hash = hash_password(&o.password).await;
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
    let mut sql = String::new();
    sql.push_str("INSERT INTO res_currency (id, name, full_name, symbol, position, decimal_places, rounding, active) VALUES \
        (1, 'USD', 'United States dollar', '$', 'before', 2, 0.01, true), (2, 'EUR', 'Euro', '€', 'after', 2, 0.01, false);\n");
    for (i, (code, name)) in schema::COUNTRIES.iter().enumerate() {
        let cur = if *code == "US" { "1" } else { "NULL" };
        sql.push_str(&format!(
            "INSERT INTO res_country (id, code, name, currency_id) VALUES ({}, {}, {}, {cur});\n",
            i + 1,
            q(code),
            q(name)
        ));
    }
    let admin_email = if o.login.contains('@') {
        q(&o.login)
    } else {
        "'admin@example.com'".to_string()
    };
    sql.push_str(&format!(
        "INSERT INTO res_partner (id, name, is_company, active, email, lang, tz) VALUES \
         (1, {company}, true, true, NULL, {lang}, NULL), \
         (2, 'OdooBot', false, false, 'odoobot@example.com', {lang}, NULL), \
         (3, 'Administrator', false, true, {admin_email}, {lang}, NULL), \
         (4, 'Public user', false, false, NULL, {lang}, NULL);\n\
         INSERT INTO res_company (id, name, partner_id, currency_id, sequence) VALUES (1, {company}, 1, 1, 0);\n\
         UPDATE res_partner SET company_id = 1 WHERE id IN (1, 4);\n\
         INSERT INTO res_users (id, login, password, active, partner_id, company_id, share) VALUES \
         (1, '__system__', NULL, false, 2, 1, false), (2, {login}, {hash}, true, 3, 1, false), \
         (3, 'public', NULL, false, 4, 1, true);\n\
         INSERT INTO res_company_users_rel (cid, user_id) VALUES (1, 1), (1, 2), (1, 3);\n",
        company = q(&o.company_name),
        lang = q(&o.lang),
        login = q(&o.login),
        hash = q(&hash),
    ));
    if let Some(cc) = &o.country_code {
        sql.push_str(&format!(
            "UPDATE res_partner SET country_id = (SELECT id FROM res_country WHERE code = upper({})) WHERE id = 1;\n",
            q(cc)
        ));
    }
    if let Some(phone) = o.phone.as_deref().filter(|p| !p.is_empty()) {
        sql.push_str(&format!("UPDATE res_partner SET phone = {} WHERE id = 1; UPDATE res_company SET phone = {} WHERE id = 1;\n", q(phone), q(phone)));
    }
    if o.login.contains('@') {
        sql.push_str(&format!("UPDATE res_partner SET email = {} WHERE id = 1; UPDATE res_company SET email = {} WHERE id = 1;\n", q(&o.login), q(&o.login)));
    }
    // groups
    for (i, (module, name, label, _)) in schema::GROUPS.iter().enumerate() {
        let id = i + 1;
        sql.push_str(&format!(
            "INSERT INTO res_groups (id, name, share) VALUES ({id}, {}, {});\n\
             INSERT INTO ir_model_data (name, module, model, res_id, noupdate) VALUES ({}, {}, 'res.groups', {id}, false);\n",
            q(label),
            matches!(*name, "group_portal" | "group_public"),
            q(name),
            q(module)
        ));
    }
    for (i, (_, _, _, implied)) in schema::GROUPS.iter().enumerate() {
        for imp in implied.iter() {
            if let Some(j) = schema::GROUPS
                .iter()
                .position(|g| format!("{}.{}", g.0, g.1) == *imp)
            {
                sql.push_str(&format!(
                    "INSERT INTO res_groups_implied_rel (gid, hid) VALUES ({}, {});\n",
                    i + 1,
                    j + 1
                ));
            }
        }
    }
    let pos = o.catalogue != Catalogue::None;
    let gid = |x: &str| {
        schema::GROUPS
            .iter()
            .position(|g| format!("{}.{}", g.0, g.1) == x)
            .map(|p| p + 1)
            .unwrap_or(0)
    };
    let mut admin_groups = vec![
        "base.group_user",
        "base.group_system",
        "base.group_erp_manager",
        "base.group_partner_manager",
        "base.group_allow_export",
        "base.group_no_one",
    ];
    if pos {
        admin_groups.extend([
            "point_of_sale.group_pos_user",
            "point_of_sale.group_pos_manager",
        ]);
    }
    for uid in [1, 2] {
        for g in &admin_groups {
            sql.push_str(&format!(
                "INSERT INTO res_groups_users_rel (gid, uid) VALUES ({}, {uid});\n",
                gid(g)
            ));
        }
    }
    sql.push_str(&format!(
        "INSERT INTO res_groups_users_rel (gid, uid) VALUES ({}, 3);\n",
        gid("base.group_public")
    ));
    for (xml, model, id) in [
        ("main_company", "res.company", 1),
        ("main_partner", "res.partner", 1),
        ("partner_root", "res.partner", 2),
        ("partner_admin", "res.partner", 3),
        ("public_partner", "res.partner", 4),
        ("user_root", "res.users", 1),
        ("user_admin", "res.users", 2),
        ("public_user", "res.users", 3),
        ("USD", "res.currency", 1),
        ("EUR", "res.currency", 2),
    ] {
        sql.push_str(&format!("INSERT INTO ir_model_data (name, module, model, res_id, noupdate) VALUES ('{xml}', 'base', '{model}', {id}, true);\n"));
    }
    // config parameters (ir.config_parameter._default_parameters)
    let uuid1 = new_uuid1();
    let secret = uuid::Uuid::new_v4().to_string();
    for (k, v) in [
        ("database.secret", secret.as_str()),
        ("database.uuid", uuid1.as_str()),
        ("database.create_date", now.as_str()),
        ("web.base.url", o.base_url.as_str()),
        ("base.login_cooldown_after", "10"),
        ("base.login_cooldown_duration", "60"),
    ] {
        sql.push_str(&format!("INSERT INTO ir_config_parameter (key, value, create_uid, write_uid) VALUES ({}, {}, 1, 1);\n", q(k), q(v)));
    }
    // sequences: pos.session (global)
    sql.push_str("INSERT INTO ir_sequence (id, name, code, prefix, padding) VALUES (1, 'POS Session', 'pos.session', 'POS/', 5);\n\
                  CREATE SEQUENCE ir_sequence_001 INCREMENT BY 1 START WITH 1;\n");
    // modules
    let mut installed: Vec<&str> = vec!["base", "web"];
    if pos {
        let mut stack = vec!["point_of_sale"];
        while let Some(m) = stack.pop() {
            if installed.contains(&m) {
                continue;
            }
            installed.push(m);
            if let Some(def) = schema::MODULES.iter().find(|d| d.0 == m) {
                stack.extend(def.4.iter());
            }
        }
    }
    for (i, (name, short, app, cat, deps)) in schema::MODULES.iter().enumerate() {
        let id = i + 1;
        let state = if installed.contains(name) {
            "installed"
        } else {
            "uninstalled"
        };
        sql.push_str(&format!(
            "INSERT INTO ir_module_module (id, name, shortdesc, state, application, category, latest_version) VALUES ({id}, {}, {}, '{state}', {app}, {}, {});\n\
             INSERT INTO ir_model_data (name, module, model, res_id, noupdate) VALUES ({}, 'base', 'ir.module.module', {id}, true);\n",
            q(name), q(short), q(cat),
            if state == "installed" { "'18.0.1.0'" } else { "NULL" },
            q(&format!("module_{name}"))
        ));
        for d in deps.iter() {
            sql.push_str(&format!(
                "INSERT INTO ir_module_module_dependency (module_id, name) VALUES ({id}, {});\n",
                q(d)
            ));
        }
    }
    if pos {
        // journals of a fresh company with the generic chart of accounts + point_of_sale
        sql.push_str("INSERT INTO account_journal (id, name, code, type, company_id) VALUES \
            (1, 'Customer Invoices', 'INV', 'sale', 1), (2, 'Vendor Bills', 'BILL', 'purchase', 1), \
            (3, 'Miscellaneous Operations', 'MISC', 'general', 1), (4, 'Exchange Difference', 'EXCH', 'general', 1), \
            (5, 'Cash Basis Taxes', 'CABA', 'general', 1), (6, 'Bank', 'BNK1', 'bank', 1), (7, 'Cash', 'CSH1', 'cash', 1), \
            (8, 'Inventory Valuation', 'STJ', 'general', 1), (9, 'Point of Sale', 'POSS', 'general', 1);\n\
            INSERT INTO account_tax (id, name, amount, amount_type, type_tax_use, company_id, sequence, tax_group_id, description) VALUES \
            (1, '15%', 15, 'percent', 'sale', 1, 1, 1, '15%'), (2, '15%', 15, 'percent', 'purchase', 1, 1, 1, '15%');\n\
            INSERT INTO product_template (id, name, list_price, available_in_pos, sale_ok, type, company_id) VALUES (1, 'Tips', 0, true, true, 'service', NULL);\n\
            INSERT INTO product_product (id, product_tmpl_id) VALUES (1, 1);\n\
            INSERT INTO ir_model_data (name, module, model, res_id, noupdate) VALUES ('product_product_tip', 'point_of_sale', 'product.product', 1, true);\n");
        sql.push_str("UPDATE res_partner SET country_id = COALESCE(country_id, (SELECT id FROM res_country WHERE code = 'US')) WHERE id = 1;\n");
    }
    if o.catalogue == Catalogue::Demo {
        sql.push_str("INSERT INTO product_template (id, name, list_price, standard_price, available_in_pos, sale_ok, type, default_code) VALUES \
            (2, 'Coffee', 2.5, 0.8, true, true, 'consu', 'COF'), (3, 'Croissant', 1.8, 0.5, true, true, 'consu', 'CRO'), \
            (4, 'Sparkling Water', 1.5, 0.3, true, true, 'consu', 'WAT'), (5, 'Club Sandwich', 5.9, 2.1, true, true, 'consu', 'SAN'), \
            (6, 'Gift Card', 25, 0, false, true, 'service', 'GIFT');\n\
            INSERT INTO product_product (id, product_tmpl_id, default_code) VALUES (2, 2, 'COF'), (3, 3, 'CRO'), (4, 4, 'WAT'), (5, 5, 'SAN'), (6, 6, 'GIFT');\n\
            INSERT INTO product_taxes_rel (prod_id, tax_id) VALUES (2, 1), (3, 1), (4, 1), (5, 1), (6, 1);\n\
            INSERT INTO pos_payment_method (id, name, is_cash_count, journal_id, company_id, sequence) VALUES (1, 'Cash', true, 7, 1, 1), (2, 'Card', false, 6, 1, 2);\n");
    }
    sql.push_str("DO $$ DECLARE r record; BEGIN FOR r IN SELECT table_name FROM information_schema.columns \
        WHERE table_schema = 'public' AND column_name = 'id' AND column_default LIKE 'nextval%' LOOP \
        EXECUTE format('SELECT setval(pg_get_serial_sequence(%L, ''id''), COALESCE((SELECT max(id) FROM %I), 0) + 1, false)', r.table_name, r.table_name); \
        END LOOP; END $$;\n");
    exec(&mut tx, &sql).await?;
    if o.catalogue == Catalogue::Demo {
        let env = crate::orm::Env {
            db: String::new(),
            uid: 2,
            context: Default::default(),
        };
        let vals = serde_json::json!({"name": "Shop", "payment_method_ids": [[6, 0, [1, 2]]]});
        if let serde_json::Value::Object(v) = vals {
            crate::methods::create_one(&mut tx, &env, "pos.config", &v).await?;
        }
    }
    tx.commit().await.map_err(db_err)?;
    Ok(())
}

pub fn new_uuid1() -> String {
    let mut node = [0u8; 6];
    let _ = getrandom::getrandom(&mut node);
    uuid::Uuid::now_v1(&node).to_string()
}
