//! Model metadata: which tables back which Odoo models, and how each field is
//! read (stored column or SQL expression over the row alias `{t}`).

use std::sync::LazyLock;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Id,
    Char,
    Text,
    Int,
    Float,
    Bool,
    Datetime,
    Date,
    Selection,
    M2o(&'static str),
    M2m(&'static M2m),
    O2m(&'static str, &'static str),
}

#[derive(Debug, PartialEq)]
pub struct M2m {
    pub rel: &'static str,
    pub col1: &'static str,
    pub col2: &'static str,
    pub model: &'static str,
    /// Column of the record matched against `col1` (usually `id`).
    pub key: &'static str,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub string: &'static str,
    /// Stored column; `None` for computed fields.
    pub column: Option<&'static str>,
    /// SQL expression over `{t}` for computed/related fields.
    pub expr: Option<&'static str>,
    /// Related field written through to another table (handled by model hooks).
    pub via: Option<&'static str>,
}

impl Field {
    pub fn stored(&self) -> bool {
        self.column.is_some()
    }
    pub fn searchable(&self) -> bool {
        self.column.is_some()
            || self.expr.is_some()
            || matches!(self.kind, Kind::M2m(_) | Kind::O2m(..))
    }
    pub fn writable(&self) -> bool {
        self.column.is_some()
            || self.via.is_some()
            || matches!(self.kind, Kind::M2m(_) | Kind::O2m(..))
    }
}

pub struct Model {
    pub name: &'static str,
    pub table: &'static str,
    pub description: &'static str,
    /// SQL expression over `{t}` giving display_name.
    pub display: &'static str,
    pub has_active: bool,
    pub order: &'static str,
    pub fields: Vec<Field>,
}

impl Model {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

fn s(name: &'static str, kind: Kind, string: &'static str) -> Field {
    Field {
        name,
        kind,
        string,
        column: Some(name),
        expr: None,
        via: None,
    }
}
fn c(name: &'static str, kind: Kind, string: &'static str, expr: &'static str) -> Field {
    Field {
        name,
        kind,
        string,
        column: None,
        expr: Some(expr),
        via: None,
    }
}
/// Related field stored on another table, writable through a hook.
fn r(
    name: &'static str,
    kind: Kind,
    string: &'static str,
    expr: &'static str,
    via: &'static str,
) -> Field {
    Field {
        name,
        kind,
        string,
        column: None,
        expr: Some(expr),
        via: Some(via),
    }
}

fn audit(mut v: Vec<Field>) -> Vec<Field> {
    v.push(s("create_uid", Kind::M2o("res.users"), "Created by"));
    v.push(s("create_date", Kind::Datetime, "Created on"));
    v.push(s("write_uid", Kind::M2o("res.users"), "Last Updated by"));
    v.push(s("write_date", Kind::Datetime, "Last Updated on"));
    v
}

static USERS_GROUPS: M2m = M2m {
    rel: "res_groups_users_rel",
    col1: "uid",
    col2: "gid",
    model: "res.groups",
    key: "id",
};
static GROUPS_USERS: M2m = M2m {
    rel: "res_groups_users_rel",
    col1: "gid",
    col2: "uid",
    model: "res.users",
    key: "id",
};
static GROUPS_IMPLIED: M2m = M2m {
    rel: "res_groups_implied_rel",
    col1: "gid",
    col2: "hid",
    model: "res.groups",
    key: "id",
};
static USERS_COMPANIES: M2m = M2m {
    rel: "res_company_users_rel",
    col1: "user_id",
    col2: "cid",
    model: "res.company",
    key: "id",
};
static COMPANY_USERS: M2m = M2m {
    rel: "res_company_users_rel",
    col1: "cid",
    col2: "user_id",
    model: "res.users",
    key: "id",
};
static TMPL_TAXES: M2m = M2m {
    rel: "product_taxes_rel",
    col1: "prod_id",
    col2: "tax_id",
    model: "account.tax",
    key: "id",
};
static PRODUCT_TAXES: M2m = M2m {
    rel: "product_taxes_rel",
    col1: "prod_id",
    col2: "tax_id",
    model: "account.tax",
    key: "product_tmpl_id",
};
static CONFIG_PM: M2m = M2m {
    rel: "pos_config_pos_payment_method_rel",
    col1: "pos_config_id",
    col2: "pos_payment_method_id",
    model: "pos.payment.method",
    key: "id",
};
static PM_CONFIG: M2m = M2m {
    rel: "pos_config_pos_payment_method_rel",
    col1: "pos_payment_method_id",
    col2: "pos_config_id",
    model: "pos.config",
    key: "id",
};
static SESSION_PM: M2m = M2m {
    rel: "pos_config_pos_payment_method_rel",
    col1: "pos_config_id",
    col2: "pos_payment_method_id",
    model: "pos.payment.method",
    key: "config_id",
};
static LINE_TAXES: M2m = M2m {
    rel: "account_tax_pos_order_line_rel",
    col1: "pos_order_line_id",
    col2: "account_tax_id",
    model: "account.tax",
    key: "id",
};
static ORDER_PM: M2m = M2m {
    rel: "pos_config_pos_payment_method_rel",
    col1: "pos_config_id",
    col2: "pos_payment_method_id",
    model: "pos.payment.method",
    key: "config_id",
};

use Kind::*;

pub static MODELS: LazyLock<Vec<Model>> = LazyLock::new(|| {
    vec![
        Model {
            name: "res.partner", table: "res_partner", description: "Contact",
            display: "COALESCE({t}.name, '')", has_active: true, order: "name, id",
            fields: audit(vec![
                s("id", Id, "ID"), s("name", Char, "Name"), s("email", Char, "Email"),
                s("phone", Char, "Phone"), s("mobile", Char, "Mobile"), s("is_company", Bool, "Is a Company"),
                s("active", Bool, "Active"), s("company_id", M2o("res.company"), "Company"),
                s("parent_id", M2o("res.partner"), "Related Company"), s("street", Char, "Street"),
                s("street2", Char, "Street2"), s("city", Char, "City"), s("zip", Char, "Zip"),
                s("country_id", M2o("res.country"), "Country"), s("vat", Char, "Tax ID"),
                s("lang", Selection, "Language"), s("tz", Selection, "Timezone"), s("type", Selection, "Address Type"),
                s("ref", Char, "Reference"), s("barcode", Char, "Barcode"), s("comment", Text, "Notes"),
                s("customer_rank", Int, "Customer Rank"), s("supplier_rank", Int, "Supplier Rank"),
                c("display_name", Char, "Display Name", "COALESCE({t}.name, '')"),
                c("child_ids", O2m("res.partner", "parent_id"), "Contact", "COALESCE((SELECT json_agg(ch.id ORDER BY ch.id) FROM res_partner ch WHERE ch.parent_id = {t}.id AND ch.active), '[]'::json)"),
                c("user_ids", O2m("res.users", "partner_id"), "Users", "COALESCE((SELECT json_agg(u.id ORDER BY u.id) FROM res_users u WHERE u.partner_id = {t}.id AND u.active), '[]'::json)"),
                c("commercial_partner_id", M2o("res.partner"), "Commercial Entity", "COALESCE({t}.parent_id, {t}.id)"),
            ]),
        },
        Model {
            name: "res.company", table: "res_company", description: "Companies",
            display: "{t}.name", has_active: true, order: "sequence, name",
            fields: audit(vec![
                s("id", Id, "ID"), s("name", Char, "Company Name"), s("partner_id", M2o("res.partner"), "Partner"),
                s("currency_id", M2o("res.currency"), "Currency"), s("sequence", Int, "Sequence"),
                s("parent_id", M2o("res.company"), "Parent Company"), s("email", Char, "Email"),
                s("phone", Char, "Phone"), s("active", Bool, "Active"),
                c("display_name", Char, "Display Name", "{t}.name"),
                c("child_ids", O2m("res.company", "parent_id"), "Branches", "COALESCE((SELECT json_agg(ch.id ORDER BY ch.id) FROM res_company ch WHERE ch.parent_id = {t}.id), '[]'::json)"),
                c("user_ids", M2m(&COMPANY_USERS), "Accepted Users", ""),
                c("country_id", M2o("res.country"), "Country", "(SELECT p.country_id FROM res_partner p WHERE p.id = {t}.partner_id)"),
                c("country_code", Char, "Country Code", "(SELECT co.code FROM res_partner p JOIN res_country co ON co.id = p.country_id WHERE p.id = {t}.partner_id)"),
            ]),
        },
        Model {
            name: "res.users", table: "res_users", description: "User",
            display: "(SELECT p.name FROM res_partner p WHERE p.id = {t}.partner_id)", has_active: true, order: "name, login",
            fields: audit(vec![
                s("id", Id, "ID"), s("login", Char, "Login"),
                Field { name: "password", kind: Char, string: "Password", column: Some("password"), expr: Some("''"), via: None },
                s("active", Bool, "Active"), s("partner_id", M2o("res.partner"), "Related Partner"),
                s("company_id", M2o("res.company"), "Company"), s("share", Bool, "Share User"),
                s("signature", Text, "Email Signature"), s("login_date", Datetime, "Latest authentication"),
                s("notification_type", Selection, "Notification"),
                c("company_ids", M2m(&USERS_COMPANIES), "Companies", ""),
                c("groups_id", M2m(&USERS_GROUPS), "Groups", ""),
                r("name", Char, "Name", "(SELECT p.name FROM res_partner p WHERE p.id = {t}.partner_id)", "partner"),
                r("email", Char, "Email", "(SELECT p.email FROM res_partner p WHERE p.id = {t}.partner_id)", "partner"),
                r("lang", Selection, "Language", "(SELECT p.lang FROM res_partner p WHERE p.id = {t}.partner_id)", "partner"),
                r("tz", Selection, "Timezone", "(SELECT p.tz FROM res_partner p WHERE p.id = {t}.partner_id)", "partner"),
                c("display_name", Char, "Display Name", "(SELECT p.name FROM res_partner p WHERE p.id = {t}.partner_id)"),
            ]),
        },
        Model {
            name: "res.groups", table: "res_groups", description: "Access Groups",
            display: "{t}.name", has_active: false, order: "name",
            fields: vec![
                s("id", Id, "ID"), s("name", Char, "Name"), s("share", Bool, "Share Group"),
                c("full_name", Char, "Group Name", "{t}.name"),
                c("display_name", Char, "Display Name", "{t}.name"),
                c("users", M2m(&GROUPS_USERS), "Users", ""),
                c("implied_ids", M2m(&GROUPS_IMPLIED), "Inherits", ""),
            ],
        },
        Model {
            name: "res.currency", table: "res_currency", description: "Currency",
            display: "{t}.name", has_active: true, order: "active desc, name",
            fields: vec![
                s("id", Id, "ID"), s("name", Char, "Currency"), s("full_name", Char, "Name"),
                s("symbol", Char, "Symbol"), s("position", Selection, "Symbol Position"),
                s("decimal_places", Int, "Decimal Places"), s("rounding", Float, "Rounding Factor"),
                s("active", Bool, "Active"), c("display_name", Char, "Display Name", "{t}.name"),
            ],
        },
        Model {
            name: "res.country", table: "res_country", description: "Country",
            display: "{t}.name", has_active: false, order: "name",
            fields: vec![
                s("id", Id, "ID"), s("name", Char, "Country Name"), s("code", Char, "Country Code"),
                s("currency_id", M2o("res.currency"), "Currency"), c("display_name", Char, "Display Name", "{t}.name"),
            ],
        },
        Model {
            name: "ir.config_parameter", table: "ir_config_parameter", description: "System Parameter",
            display: "{t}.key", has_active: false, order: "key",
            fields: audit(vec![
                s("id", Id, "ID"), s("key", Char, "Key"), s("value", Text, "Value"),
                c("display_name", Char, "Display Name", "{t}.key"),
            ]),
        },
        Model {
            name: "ir.model.data", table: "ir_model_data", description: "Model Data",
            display: "{t}.module || '.' || {t}.name", has_active: false, order: "module, model, name",
            fields: vec![
                s("id", Id, "ID"), s("name", Char, "External Identifier"), s("module", Char, "Module"),
                s("model", Char, "Model Name"), s("res_id", Int, "Record ID"), s("noupdate", Bool, "Non Updatable"),
                c("complete_name", Char, "Complete ID", "{t}.module || '.' || {t}.name"),
                c("display_name", Char, "Display Name", "{t}.module || '.' || {t}.name"),
            ],
        },
        Model {
            name: "ir.module.module", table: "ir_module_module", description: "Module",
            display: "COALESCE({t}.shortdesc, {t}.name)", has_active: false, order: "application desc, sequence, name",
            fields: vec![
                s("id", Id, "ID"), s("name", Char, "Technical Name"), s("shortdesc", Char, "Module Name"),
                s("summary", Char, "Summary"), s("state", Selection, "Status"), s("application", Bool, "Application"),
                s("latest_version", Char, "Latest Version"), s("author", Char, "Author"), s("license", Selection, "License"),
                s("auto_install", Bool, "Automatic Installation"),
                c("category_id", Char, "Category", "{t}.category"),
                c("display_name", Char, "Display Name", "COALESCE({t}.shortdesc, {t}.name)"),
                c("dependencies_id", O2m("ir.module.module.dependency", "module_id"), "Dependencies", "COALESCE((SELECT json_agg(d.id ORDER BY d.id) FROM ir_module_module_dependency d WHERE d.module_id = {t}.id), '[]'::json)"),
                c("sequence", Int, "Sequence", "100"),
            ],
        },
        Model {
            name: "ir.module.module.dependency", table: "ir_module_module_dependency", description: "Module dependency",
            display: "{t}.name", has_active: false, order: "name",
            fields: vec![
                s("id", Id, "ID"), s("name", Char, "Name"), s("module_id", M2o("ir.module.module"), "Module"),
                c("depend_id", M2o("ir.module.module"), "Dependency", "(SELECT m.id FROM ir_module_module m WHERE m.name = {t}.name)"),
                c("state", Selection, "Status", "COALESCE((SELECT m.state FROM ir_module_module m WHERE m.name = {t}.name), 'unknown')"),
                c("display_name", Char, "Display Name", "{t}.name"),
            ],
        },
        Model {
            name: "account.journal", table: "account_journal", description: "Journal",
            display: "{t}.name", has_active: true, order: "sequence, type, code",
            fields: vec![
                s("id", Id, "ID"), s("name", Char, "Journal Name"), s("code", Char, "Short Code"),
                s("type", Selection, "Type"), s("company_id", M2o("res.company"), "Company"), s("active", Bool, "Active"),
                c("display_name", Char, "Display Name", "{t}.name"),
            ],
        },
        Model {
            name: "account.tax", table: "account_tax", description: "Tax",
            display: "{t}.name", has_active: true, order: "sequence, id",
            fields: audit(vec![
                s("id", Id, "ID"), s("name", Char, "Tax Name"), s("amount", Float, "Amount"),
                s("amount_type", Selection, "Tax Computation"), s("type_tax_use", Selection, "Tax Type"),
                s("price_include", Bool, "Included in Price"), s("include_base_amount", Bool, "Affect Base of Subsequent Taxes"),
                s("is_base_affected", Bool, "Base Affected by Previous Taxes"), s("has_negative_factor", Bool, "Has Negative Factor"),
                s("company_id", M2o("res.company"), "Company"), s("sequence", Int, "Sequence"),
                s("tax_group_id", Int, "Tax Group"), s("description", Char, "Description"), s("active", Bool, "Active"),
                c("children_tax_ids", M2m(&LINE_TAXES), "Children Taxes", "'[]'::json"),
                c("display_name", Char, "Display Name", "{t}.name"),
            ]),
        },
        Model {
            name: "product.template", table: "product_template", description: "Product",
            display: "(CASE WHEN {t}.default_code IS NOT NULL THEN '[' || {t}.default_code || '] ' ELSE '' END) || {t}.name",
            has_active: true, order: "is_favorite desc, name, id",
            fields: audit(vec![
                s("id", Id, "ID"), s("name", Char, "Name"), s("list_price", Float, "Sales Price"),
                s("standard_price", Float, "Cost"), s("available_in_pos", Bool, "Available in POS"),
                s("sale_ok", Bool, "Can be Sold"), s("purchase_ok", Bool, "Can be Purchased"),
                s("type", Selection, "Product Type"), s("default_code", Char, "Internal Reference"),
                s("barcode", Char, "Barcode"), s("active", Bool, "Active"), s("company_id", M2o("res.company"), "Company"),
                s("description_sale", Text, "Sales Description"), s("to_weight", Bool, "To Weigh With Scale"),
                s("sequence", Int, "Sequence"),
                c("taxes_id", M2m(&TMPL_TAXES), "Sales Taxes", ""),
                c("is_favorite", Bool, "Favorite", "false"),
                c("product_variant_ids", O2m("product.product", "product_tmpl_id"), "Products", "COALESCE((SELECT json_agg(pp.id ORDER BY pp.id) FROM product_product pp WHERE pp.product_tmpl_id = {t}.id), '[]'::json)"),
                c("product_variant_id", M2o("product.product"), "Product", "(SELECT min(pp.id) FROM product_product pp WHERE pp.product_tmpl_id = {t}.id)"),
                c("display_name", Char, "Display Name", "(CASE WHEN {t}.default_code IS NOT NULL THEN '[' || {t}.default_code || '] ' ELSE '' END) || {t}.name"),
            ]),
        },
        Model {
            name: "product.product", table: "product_product", description: "Product Variant",
            display: "(CASE WHEN {t}.default_code IS NOT NULL THEN '[' || {t}.default_code || '] ' ELSE '' END) || (SELECT pt.name FROM product_template pt WHERE pt.id = {t}.product_tmpl_id)",
            has_active: true, order: "default_code, id",
            fields: audit(vec![
                s("id", Id, "ID"), s("product_tmpl_id", M2o("product.template"), "Product Template"),
                s("default_code", Char, "Internal Reference"), s("barcode", Char, "Barcode"), s("active", Bool, "Active"),
                r("name", Char, "Name", "(SELECT pt.name FROM product_template pt WHERE pt.id = {t}.product_tmpl_id)", "tmpl"),
                r("list_price", Float, "Sales Price", "(SELECT pt.list_price FROM product_template pt WHERE pt.id = {t}.product_tmpl_id)", "tmpl"),
                c("lst_price", Float, "Sales Price", "(SELECT pt.list_price FROM product_template pt WHERE pt.id = {t}.product_tmpl_id)"),
                r("standard_price", Float, "Cost", "(SELECT pt.standard_price FROM product_template pt WHERE pt.id = {t}.product_tmpl_id)", "tmpl"),
                r("available_in_pos", Bool, "Available in POS", "(SELECT pt.available_in_pos FROM product_template pt WHERE pt.id = {t}.product_tmpl_id)", "tmpl"),
                r("sale_ok", Bool, "Can be Sold", "(SELECT pt.sale_ok FROM product_template pt WHERE pt.id = {t}.product_tmpl_id)", "tmpl"),
                r("purchase_ok", Bool, "Can be Purchased", "(SELECT pt.purchase_ok FROM product_template pt WHERE pt.id = {t}.product_tmpl_id)", "tmpl"),
                r("type", Selection, "Product Type", "(SELECT pt.type FROM product_template pt WHERE pt.id = {t}.product_tmpl_id)", "tmpl"),
                r("company_id", M2o("res.company"), "Company", "(SELECT pt.company_id FROM product_template pt WHERE pt.id = {t}.product_tmpl_id)", "tmpl"),
                r("to_weight", Bool, "To Weigh With Scale", "(SELECT pt.to_weight FROM product_template pt WHERE pt.id = {t}.product_tmpl_id)", "tmpl"),
                r("description_sale", Text, "Sales Description", "(SELECT pt.description_sale FROM product_template pt WHERE pt.id = {t}.product_tmpl_id)", "tmpl"),
                Field { name: "taxes_id", kind: M2m(&PRODUCT_TAXES), string: "Sales Taxes", column: None, expr: None, via: Some("tmpl") },
                c("display_name", Char, "Display Name", "(CASE WHEN {t}.default_code IS NOT NULL THEN '[' || {t}.default_code || '] ' ELSE '' END) || (SELECT pt.name FROM product_template pt WHERE pt.id = {t}.product_tmpl_id)"),
            ]),
        },
        Model {
            name: "pos.payment.method", table: "pos_payment_method", description: "Point of Sale Payment Methods",
            display: "{t}.name", has_active: true, order: "sequence, id",
            fields: audit(vec![
                s("id", Id, "ID"), s("name", Char, "Method"), s("is_cash_count", Bool, "Cash"),
                s("journal_id", M2o("account.journal"), "Journal"), s("split_transactions", Bool, "Identify Customer"),
                s("use_payment_terminal", Selection, "Use a Payment Terminal"), s("payment_method_type", Selection, "Integration"),
                s("sequence", Int, "Sequence"), s("company_id", M2o("res.company"), "Company"), s("active", Bool, "Active"),
                c("type", Selection, "Type", "COALESCE((SELECT CASE WHEN j.type IN ('cash', 'bank') THEN j.type END FROM account_journal j WHERE j.id = {t}.journal_id), 'pay_later')"),
                c("config_ids", M2m(&PM_CONFIG), "Point of Sale", ""),
                c("image", Char, "Image", "false"), c("default_qr", Char, "Default QR", "false"),
                c("display_name", Char, "Display Name", "{t}.name"),
            ]),
        },
        Model {
            name: "pos.config", table: "pos_config", description: "Point of Sale Configuration",
            display: "{t}.name", has_active: true, order: "id",
            fields: audit(vec![
                s("id", Id, "ID"), s("name", Char, "Point of Sale"), s("journal_id", M2o("account.journal"), "Point of Sale Journal"),
                s("pricelist_id", Int, "Default Pricelist"), s("company_id", M2o("res.company"), "Company"),
                s("active", Bool, "Active"), s("sequence_id", Int, "Order IDs Sequence"),
                s("picking_type_id", Int, "Operation Type"), s("iface_tipproduct", Bool, "Product tips"),
                s("module_pos_restaurant", Bool, "Is a Bar/Restaurant"), s("limit_categories", Bool, "Restrict Categories"),
                c("payment_method_ids", M2m(&CONFIG_PM), "Payment Methods", ""),
                c("current_session_id", M2o("pos.session"), "Current Session", "(SELECT ps.id FROM pos_session ps WHERE ps.config_id = {t}.id AND ps.state != 'closed' AND NOT ps.rescue ORDER BY ps.id DESC LIMIT 1)"),
                c("current_session_state", Char, "Current Session State", "(SELECT ps.state FROM pos_session ps WHERE ps.config_id = {t}.id AND ps.state != 'closed' AND NOT ps.rescue ORDER BY ps.id DESC LIMIT 1)"),
                c("session_ids", O2m("pos.session", "config_id"), "Sessions", "COALESCE((SELECT json_agg(ps.id ORDER BY ps.id) FROM pos_session ps WHERE ps.config_id = {t}.id), '[]'::json)"),
                c("currency_id", M2o("res.currency"), "Currency", "(SELECT co.currency_id FROM res_company co WHERE co.id = {t}.company_id)"),
                c("cash_control", Bool, "Advanced Cash Control", "EXISTS (SELECT 1 FROM pos_config_pos_payment_method_rel rl JOIN pos_payment_method m ON m.id = rl.pos_payment_method_id WHERE rl.pos_config_id = {t}.id AND m.is_cash_count)"),
                c("display_name", Char, "Display Name", "{t}.name"),
            ]),
        },
        Model {
            name: "pos.session", table: "pos_session", description: "Point of Sale Session",
            display: "{t}.name", has_active: false, order: "id desc",
            fields: audit(vec![
                s("id", Id, "ID"), s("name", Char, "Session ID"), s("config_id", M2o("pos.config"), "Point of Sale"),
                s("user_id", M2o("res.users"), "Opened By"), s("state", Selection, "Status"),
                s("start_at", Datetime, "Opening Date"), s("stop_at", Datetime, "Closing Date"),
                s("cash_register_balance_start", Float, "Starting Balance"),
                s("cash_register_balance_end_real", Float, "Ending Balance"),
                s("opening_notes", Text, "Opening Notes"), s("closing_notes", Text, "Closing Notes"),
                s("sequence_number", Int, "Order Sequence Number"), s("login_number", Int, "Login Sequence Number"),
                s("rescue", Bool, "Recovery Session"), s("update_stock_at_closing", Bool, "Stock should be updated at closing"),
                s("access_token", Char, "Access Token"),
                c("company_id", M2o("res.company"), "Company", "(SELECT pc.company_id FROM pos_config pc WHERE pc.id = {t}.config_id)"),
                c("currency_id", M2o("res.currency"), "Currency", "(SELECT co.currency_id FROM pos_config pc JOIN res_company co ON co.id = pc.company_id WHERE pc.id = {t}.config_id)"),
                c("payment_method_ids", M2m(&SESSION_PM), "Payment Methods", ""),
                c("order_ids", O2m("pos.order", "session_id"), "Orders", "COALESCE((SELECT json_agg(o.id ORDER BY o.id) FROM pos_order o WHERE o.session_id = {t}.id), '[]'::json)"),
                c("order_count", Int, "Order Count", "(SELECT count(*) FROM pos_order o WHERE o.session_id = {t}.id)"),
                c("total_payments_amount", Float, "Total Payments Amount", "(SELECT COALESCE(sum(p.amount), 0) FROM pos_payment p WHERE p.session_id = {t}.id)"),
                c("cash_register_balance_end", Float, "Theoretical Closing Balance", "{t}.cash_register_balance_start + (SELECT COALESCE(sum(p.amount), 0) FROM pos_payment p JOIN pos_payment_method m ON m.id = p.payment_method_id WHERE p.session_id = {t}.id AND m.is_cash_count)"),
                c("display_name", Char, "Display Name", "{t}.name"),
            ]),
        },
        Model {
            name: "pos.order", table: "pos_order", description: "Point of Sale Orders",
            display: "{t}.name", has_active: false, order: "date_order desc, name desc, id desc",
            fields: audit(vec![
                s("id", Id, "ID"), s("name", Char, "Order Ref"), s("uuid", Char, "Uuid"),
                s("access_token", Char, "Security Token"), s("session_id", M2o("pos.session"), "Session"),
                s("config_id", M2o("pos.config"), "Point of Sale"), s("company_id", M2o("res.company"), "Company"),
                s("user_id", M2o("res.users"), "Employee"), s("partner_id", M2o("res.partner"), "Customer"),
                s("pricelist_id", Int, "Pricelist"), s("fiscal_position_id", Int, "Fiscal Position"),
                s("date_order", Datetime, "Date"), s("state", Selection, "Status"),
                s("amount_tax", Float, "Taxes"), s("amount_total", Float, "Total"),
                s("amount_paid", Float, "Paid"), s("amount_return", Float, "Returned"),
                s("sequence_number", Int, "Sequence Number"), s("pos_reference", Char, "Receipt Number"),
                s("to_invoice", Bool, "To invoice"), s("is_tipped", Bool, "Is this already tipped?"),
                s("tip_amount", Float, "Tip Amount"), s("nb_print", Int, "Number of Print"),
                s("general_note", Text, "General Note"), s("ticket_code", Char, "Ticket Code"),
                s("tracking_number", Char, "Order Number"), s("email", Char, "Email"), s("mobile", Char, "Mobile"),
                s("shipping_date", Date, "Shipping Date"), s("last_order_preparation_change", Text, "Last preparation change"),
                s("floating_order_name", Char, "Order Name"), s("currency_rate", Float, "Currency Rate"),
                s("is_edited", Bool, "Edited"), s("has_deleted_line", Bool, "Has Deleted Line"),
                c("lines", O2m("pos.order.line", "order_id"), "Order Lines", "COALESCE((SELECT json_agg(l.id ORDER BY l.id) FROM pos_order_line l WHERE l.order_id = {t}.id), '[]'::json)"),
                c("payment_ids", O2m("pos.payment", "pos_order_id"), "Payments", "COALESCE((SELECT json_agg(p.id ORDER BY p.id) FROM pos_payment p WHERE p.pos_order_id = {t}.id), '[]'::json)"),
                c("picking_ids", O2m("stock.picking", "pos_order_id"), "Pickings", "COALESCE((SELECT json_agg(sp.id ORDER BY sp.id) FROM stock_picking sp WHERE sp.pos_order_id = {t}.id), '[]'::json)"),
                c("picking_count", Int, "Picking Count", "(SELECT count(*) FROM stock_picking sp WHERE sp.pos_order_id = {t}.id)"),
                c("currency_id", M2o("res.currency"), "Currency", "(SELECT co.currency_id FROM res_company co WHERE co.id = {t}.company_id)"),
                c("country_code", Char, "Country Code", "(SELECT co2.code FROM res_company c3 JOIN res_partner p3 ON p3.id = c3.partner_id JOIN res_country co2 ON co2.id = p3.country_id WHERE c3.id = {t}.company_id)"),
                c("available_payment_method_ids", M2m(&ORDER_PM), "Available Payment Methods", ""),
                c("display_name", Char, "Display Name", "{t}.name"),
                s("is_total_cost_computed", Bool, "Is Total Cost Computed"),
                c("message_is_follower", Bool, "Is Follower", "true"),
                c("message_follower_ids", O2m("mail.followers", "res_id"), "Followers", "'[]'::json"),
                c("message_partner_ids", M2m(&ORDER_PM), "Followers (Partners)", "json_build_array((SELECT u.partner_id FROM res_users u WHERE u.id = {t}.create_uid))"),
                c("message_ids", O2m("mail.message", "res_id"), "Messages", "'[]'::json"),
                c("has_message", Bool, "Has Message", "true"),
                c("message_needaction", Bool, "Action Needed", "false"),
                c("message_needaction_counter", Int, "Number of Actions", "0"),
                c("message_has_error", Bool, "Message Delivery error", "false"),
                c("message_has_error_counter", Int, "Number of errors", "0"),
                c("message_attachment_count", Int, "Attachment Count", "0"),
                c("website_message_ids", O2m("mail.message", "res_id"), "Website Messages", "'[]'::json"),
                c("message_has_sms_error", Bool, "SMS Delivery error", "false"),
                c("access_url", Char, "Portal Access URL", "'#'"),
                c("access_warning", Text, "Access warning", "''"),
                c("amount_difference", Float, "Difference", "{t}.amount_paid - {t}.amount_total"),
                c("margin", Float, "Margin", "CASE WHEN {t}.is_total_cost_computed THEN (SELECT COALESCE(sum(l.price_subtotal - l.qty * COALESCE(pt.standard_price, 0)), 0) FROM pos_order_line l JOIN product_product pp ON pp.id = l.product_id JOIN product_template pt ON pt.id = pp.product_tmpl_id WHERE l.order_id = {t}.id) ELSE 0 END"),
                c("margin_percent", Float, "Margin (%)", "CASE WHEN {t}.is_total_cost_computed AND {t}.amount_total - {t}.amount_tax != 0 THEN (SELECT COALESCE(sum(l.price_subtotal - l.qty * COALESCE(pt.standard_price, 0)), 0) FROM pos_order_line l JOIN product_product pp ON pp.id = l.product_id JOIN product_template pt ON pt.id = pp.product_tmpl_id WHERE l.order_id = {t}.id) / ({t}.amount_total - {t}.amount_tax) ELSE 0 END"),
                c("account_move", M2o("account.move"), "Invoice", "NULL"),
                c("failed_pickings", Bool, "Failed Pickings", "false"),
                c("picking_type_id", Int, "Operation Type", "(SELECT pc.picking_type_id FROM pos_config pc WHERE pc.id = {t}.config_id)"),
                c("procurement_group_id", Int, "Procurement Group", "NULL"),
                c("sale_journal", M2o("account.journal"), "Sales Journal", "(SELECT pc.journal_id FROM pos_config pc WHERE pc.id = {t}.config_id)"),
                c("session_move_id", Int, "Session Journal Entry", "NULL"),
                c("is_invoiced", Bool, "Is Invoiced", "false"),
                c("refund_orders_count", Int, "Number of Refund Orders", "0"),
                c("refunded_order_id", M2o("pos.order"), "Refunded Order", "NULL"),
                c("has_refundable_lines", Bool, "Has Refundable Lines", "EXISTS (SELECT 1 FROM pos_order_line l WHERE l.order_id = {t}.id AND l.qty > 0)"),
                c("order_edit_tracking", Bool, "Order Edit Tracking", "false"),
                c("online_payment_method_id", Int, "Online Payment Method", "NULL"),
                c("next_online_payment_amount", Float, "Next online payment amount to pay", "CASE WHEN {t}.state = 'draft' THEN {t}.amount_total - {t}.amount_paid ELSE 0 END"),
            ]),
        },
        Model {
            name: "pos.order.line", table: "pos_order_line", description: "Point of Sale Order Lines",
            display: "COALESCE({t}.name, '')", has_active: false, order: "id",
            fields: audit(vec![
                s("id", Id, "ID"), s("name", Char, "Line No"), s("order_id", M2o("pos.order"), "Order Ref"),
                s("product_id", M2o("product.product"), "Product"), s("qty", Float, "Quantity"),
                s("price_unit", Float, "Unit Price"), s("price_subtotal", Float, "Tax Excl."),
                s("price_subtotal_incl", Float, "Tax Incl."), s("discount", Float, "Discount (%)"),
                s("full_product_name", Char, "Full Product Name"), s("customer_note", Char, "Customer Note"),
                s("note", Char, "Product Note"), s("uuid", Char, "Uuid"), s("skip_change", Bool, "Skip line when sending ticket to kitchen printers."),
                s("price_extra", Float, "Price extra"), s("price_type", Selection, "Price Type"),
                s("refunded_orderline_id", M2o("pos.order.line"), "Refunded Order Line"),
                c("tax_ids", M2m(&LINE_TAXES), "Taxes", ""),
                c("attribute_value_ids", M2m(&LINE_TAXES), "Selected Attributes", "'[]'::json"),
                c("custom_attribute_value_ids", O2m("product.attribute.custom.value", "pos_order_line_id"), "Custom Values", "'[]'::json"),
                c("pack_lot_ids", O2m("pos.pack.operation.lot", "pos_order_line_id"), "Lot/serial Number", "'[]'::json"),
                c("refunded_qty", Float, "Refunded Quantity", "0"),
                c("combo_parent_id", M2o("pos.order.line"), "Combo Parent", "NULL"),
                c("combo_line_ids", O2m("pos.order.line", "combo_parent_id"), "Combo Lines", "'[]'::json"),
                c("combo_item_id", Int, "Combo Item", "NULL"),
                c("refund_orderline_ids", O2m("pos.order.line", "refunded_orderline_id"), "Refund Order Lines", "COALESCE((SELECT json_agg(rl.id ORDER BY rl.id) FROM pos_order_line rl WHERE rl.refunded_orderline_id = {t}.id), '[]'::json)"),
                c("company_id", M2o("res.company"), "Company", "(SELECT o.company_id FROM pos_order o WHERE o.id = {t}.order_id)"),
                c("display_name", Char, "Display Name", "COALESCE({t}.name, '')"),
            ]),
        },
        Model {
            name: "pos.payment", table: "pos_payment", description: "Point of Sale Payments",
            display: "(SELECT CASE WHEN cu.position = 'before' THEN cu.symbol || chr(160) || to_char({t}.amount, 'FM999999999990.00') ELSE to_char({t}.amount, 'FM999999999990.00') || chr(160) || cu.symbol END FROM pos_order o JOIN res_company co ON co.id = o.company_id JOIN res_currency cu ON cu.id = co.currency_id WHERE o.id = {t}.pos_order_id)",
            has_active: false, order: "id desc",
            fields: audit(vec![
                s("id", Id, "ID"), s("name", Char, "Label"), s("pos_order_id", M2o("pos.order"), "Order"),
                s("amount", Float, "Amount"), s("payment_method_id", M2o("pos.payment.method"), "Payment Method"),
                s("payment_date", Datetime, "Date"), s("session_id", M2o("pos.session"), "Session"),
                s("card_type", Char, "Type of card used"), s("card_brand", Char, "Card Brand"), s("card_no", Char, "Card Number(Last 4 Digit)"),
                s("cardholder_name", Char, "Card Holder Name"), s("payment_ref_no", Char, "Payment reference number"),
                s("payment_method_authcode", Char, "Payment APPR Code"), s("payment_method_issuer_bank", Char, "Payment Issuer Bank"),
                s("payment_method_payment_mode", Char, "Payment Mode"), s("transaction_id", Char, "Payment Transaction ID"),
                s("payment_status", Char, "Payment Status"), s("ticket", Char, "Payment Receipt Info"),
                s("is_change", Bool, "Is this payment change?"), s("uuid", Char, "Uuid"),
                c("currency_id", M2o("res.currency"), "Currency", "(SELECT co.currency_id FROM pos_order o JOIN res_company co ON co.id = o.company_id WHERE o.id = {t}.pos_order_id)"),
                c("partner_id", M2o("res.partner"), "Customer", "(SELECT o.partner_id FROM pos_order o WHERE o.id = {t}.pos_order_id)"),
                c("user_id", M2o("res.users"), "Employee", "(SELECT o.user_id FROM pos_order o WHERE o.id = {t}.pos_order_id)"),
                c("company_id", M2o("res.company"), "Company", "(SELECT o.company_id FROM pos_order o WHERE o.id = {t}.pos_order_id)"),
                c("display_name", Char, "Display Name", "''"),
                c("currency_rate", Float, "Conversion Rate", "1.0"),
                c("account_move_id", Int, "Account Move", "NULL"),
                c("online_account_payment_id", Int, "Online accounting payment", "NULL"),
            ]),
        },
    ]
});

pub fn model(name: &str) -> Option<&'static Model> {
    MODELS.iter().find(|m| m.name == name)
}

/// (model description, model name, field label, field name) for a table/column, as
/// `_as_validation_error` reports them.
pub fn describe(table: &str, column: &str) -> Option<crate::error::FieldDesc> {
    let m = MODELS.iter().find(|m| m.table == table)?;
    let (fs, fname) = match m.fields.iter().find(|f| f.column == Some(column)) {
        Some(f) => (f.string.to_string(), f.name.to_string()),
        None => ("Unknown".to_string(), "unknown".to_string()),
    };
    Some((m.description.to_string(), m.name.to_string(), fs, fname))
}
