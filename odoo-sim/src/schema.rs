//! The Odoo-shaped schema the simulator keeps in PostgreSQL, and its seed data.
//!
//! Table and column names follow Odoo 18's; only the columns the simulator
//! serves exist. Sequences that Odoo implements as PostgreSQL sequences
//! (`ir_sequence` "standard" implementation) are real PG sequences here too,
//! so numbers consumed by a failed transaction stay consumed as in Odoo.

pub const DDL: &str = r#"
CREATE TABLE ir_config_parameter (
    id serial PRIMARY KEY, key varchar NOT NULL UNIQUE, value text NOT NULL,
    create_uid int, create_date timestamp DEFAULT (now() at time zone 'utc'),
    write_uid int, write_date timestamp DEFAULT (now() at time zone 'utc'));
CREATE TABLE ir_model_data (
    id serial PRIMARY KEY, name varchar NOT NULL, module varchar NOT NULL,
    model varchar NOT NULL, res_id int, noupdate boolean DEFAULT false,
    UNIQUE (module, name));
CREATE TABLE ir_sequence (
    id serial PRIMARY KEY, name varchar NOT NULL, code varchar, prefix varchar,
    padding int NOT NULL DEFAULT 0, number_increment int NOT NULL DEFAULT 1,
    implementation varchar NOT NULL DEFAULT 'standard', company_id int, active boolean DEFAULT true);
CREATE TABLE res_currency (
    id serial PRIMARY KEY, name varchar NOT NULL UNIQUE, full_name varchar, symbol varchar NOT NULL,
    position varchar DEFAULT 'after', decimal_places int DEFAULT 2, rounding double precision DEFAULT 0.01,
    active boolean DEFAULT true);
CREATE TABLE res_country (
    id serial PRIMARY KEY, code varchar(2) NOT NULL UNIQUE, name varchar NOT NULL, currency_id int);
CREATE TABLE res_partner (
    id serial PRIMARY KEY, name varchar, display_name varchar, email varchar, phone varchar, mobile varchar,
    is_company boolean DEFAULT false, active boolean DEFAULT true, company_id int,
    parent_id int REFERENCES res_partner(id) ON DELETE SET NULL, street varchar, street2 varchar, city varchar,
    zip varchar, country_id int REFERENCES res_country(id), vat varchar, lang varchar, tz varchar,
    type varchar DEFAULT 'contact', ref varchar, barcode varchar, comment text,
    customer_rank int DEFAULT 0, supplier_rank int DEFAULT 0,
    create_uid int, create_date timestamp DEFAULT (now() at time zone 'utc'),
    write_uid int, write_date timestamp DEFAULT (now() at time zone 'utc'));
CREATE TABLE res_company (
    id serial PRIMARY KEY, name varchar NOT NULL UNIQUE, partner_id int NOT NULL REFERENCES res_partner(id),
    currency_id int NOT NULL REFERENCES res_currency(id), sequence int DEFAULT 10,
    parent_id int REFERENCES res_company(id), email varchar, phone varchar, active boolean DEFAULT true,
    create_uid int, create_date timestamp DEFAULT (now() at time zone 'utc'),
    write_uid int, write_date timestamp DEFAULT (now() at time zone 'utc'));
ALTER TABLE res_partner ADD FOREIGN KEY (company_id) REFERENCES res_company(id) ON DELETE SET NULL;
CREATE TABLE res_users (
    id serial PRIMARY KEY, login varchar NOT NULL UNIQUE, password varchar, active boolean DEFAULT true,
    partner_id int NOT NULL REFERENCES res_partner(id), company_id int NOT NULL REFERENCES res_company(id),
    share boolean DEFAULT false, signature text, login_date timestamp, notification_type varchar DEFAULT 'email',
    create_uid int, create_date timestamp DEFAULT (now() at time zone 'utc'),
    write_uid int, write_date timestamp DEFAULT (now() at time zone 'utc'));
-- res.users.settings (base; mail adds the discuss columns): one row per user, made on the
-- first session_info (_find_or_create_for_user).
CREATE TABLE res_users_settings (
    id serial PRIMARY KEY, user_id int NOT NULL UNIQUE REFERENCES res_users(id) ON DELETE CASCADE,
    is_discuss_sidebar_category_channel_open boolean DEFAULT true,
    is_discuss_sidebar_category_chat_open boolean DEFAULT true, push_to_talk_key varchar,
    use_push_to_talk boolean DEFAULT false, voice_active_duration int DEFAULT 200,
    channel_notifications varchar, mute_until_dt timestamp);
CREATE TABLE res_groups (
    id serial PRIMARY KEY, name varchar NOT NULL, category varchar, share boolean DEFAULT false,
    create_date timestamp DEFAULT (now() at time zone 'utc'), write_date timestamp DEFAULT (now() at time zone 'utc'));
CREATE TABLE res_groups_implied_rel (gid int NOT NULL REFERENCES res_groups(id) ON DELETE CASCADE,
    hid int NOT NULL REFERENCES res_groups(id) ON DELETE CASCADE, PRIMARY KEY (gid, hid));
CREATE TABLE res_groups_users_rel (gid int NOT NULL REFERENCES res_groups(id) ON DELETE CASCADE,
    uid int NOT NULL REFERENCES res_users(id) ON DELETE CASCADE, PRIMARY KEY (gid, uid));
CREATE TABLE res_company_users_rel (cid int NOT NULL REFERENCES res_company(id) ON DELETE CASCADE,
    user_id int NOT NULL REFERENCES res_users(id) ON DELETE CASCADE, PRIMARY KEY (cid, user_id));
CREATE TABLE ir_module_module (
    id serial PRIMARY KEY, name varchar NOT NULL UNIQUE, shortdesc varchar, summary varchar,
    state varchar NOT NULL DEFAULT 'uninstalled', application boolean DEFAULT false,
    category varchar, latest_version varchar, author varchar DEFAULT 'Odoo S.A.', license varchar DEFAULT 'LGPL-3',
    auto_install boolean DEFAULT false,
    create_date timestamp DEFAULT (now() at time zone 'utc'), write_date timestamp DEFAULT (now() at time zone 'utc'));
CREATE TABLE ir_module_module_dependency (
    id serial PRIMARY KEY, module_id int NOT NULL REFERENCES ir_module_module(id) ON DELETE CASCADE,
    name varchar NOT NULL);
CREATE TABLE account_journal (
    id serial PRIMARY KEY, name varchar NOT NULL, code varchar NOT NULL, type varchar NOT NULL,
    company_id int NOT NULL REFERENCES res_company(id), active boolean DEFAULT true);
CREATE TABLE account_tax (
    id serial PRIMARY KEY, name varchar NOT NULL, amount double precision NOT NULL DEFAULT 0,
    amount_type varchar NOT NULL DEFAULT 'percent', type_tax_use varchar NOT NULL DEFAULT 'sale',
    price_include boolean DEFAULT false, include_base_amount boolean DEFAULT false,
    is_base_affected boolean DEFAULT true, has_negative_factor boolean DEFAULT false,
    company_id int NOT NULL REFERENCES res_company(id), sequence int DEFAULT 1, tax_group_id int,
    description varchar, active boolean DEFAULT true,
    create_uid int, create_date timestamp DEFAULT (now() at time zone 'utc'),
    write_uid int, write_date timestamp DEFAULT (now() at time zone 'utc'));
CREATE TABLE product_template (
    id serial PRIMARY KEY, name varchar NOT NULL, list_price double precision DEFAULT 1.0,
    standard_price double precision DEFAULT 0.0, available_in_pos boolean DEFAULT false,
    sale_ok boolean DEFAULT true, purchase_ok boolean DEFAULT true, type varchar NOT NULL DEFAULT 'consu',
    default_code varchar, barcode varchar, active boolean DEFAULT true, company_id int REFERENCES res_company(id),
    description_sale text, to_weight boolean DEFAULT false, sequence int DEFAULT 1,
    create_uid int, create_date timestamp DEFAULT (now() at time zone 'utc'),
    write_uid int, write_date timestamp DEFAULT (now() at time zone 'utc'));
CREATE TABLE product_taxes_rel (prod_id int NOT NULL REFERENCES product_template(id) ON DELETE CASCADE,
    tax_id int NOT NULL REFERENCES account_tax(id) ON DELETE CASCADE, PRIMARY KEY (prod_id, tax_id));
CREATE TABLE product_product (
    id serial PRIMARY KEY, product_tmpl_id int NOT NULL REFERENCES product_template(id) ON DELETE CASCADE,
    default_code varchar, barcode varchar, active boolean DEFAULT true,
    create_uid int, create_date timestamp DEFAULT (now() at time zone 'utc'),
    write_uid int, write_date timestamp DEFAULT (now() at time zone 'utc'));
CREATE TABLE pos_payment_method (
    id serial PRIMARY KEY, name varchar NOT NULL, is_cash_count boolean DEFAULT false,
    journal_id int REFERENCES account_journal(id), split_transactions boolean DEFAULT false,
    use_payment_terminal varchar, payment_method_type varchar DEFAULT 'none', sequence int DEFAULT 1,
    company_id int NOT NULL REFERENCES res_company(id), active boolean DEFAULT true,
    create_uid int, create_date timestamp DEFAULT (now() at time zone 'utc'),
    write_uid int, write_date timestamp DEFAULT (now() at time zone 'utc'));
CREATE TABLE pos_config (
    id serial PRIMARY KEY, name varchar NOT NULL, journal_id int REFERENCES account_journal(id),
    pricelist_id int, company_id int NOT NULL REFERENCES res_company(id), active boolean DEFAULT true,
    sequence_id int REFERENCES ir_sequence(id), picking_type_id int, iface_tipproduct boolean DEFAULT false,
    module_pos_restaurant boolean DEFAULT false, limit_categories boolean DEFAULT false,
    create_uid int, create_date timestamp DEFAULT (now() at time zone 'utc'),
    write_uid int, write_date timestamp DEFAULT (now() at time zone 'utc'));
CREATE TABLE pos_config_pos_payment_method_rel (
    pos_config_id int NOT NULL REFERENCES pos_config(id) ON DELETE CASCADE,
    pos_payment_method_id int NOT NULL REFERENCES pos_payment_method(id) ON DELETE CASCADE,
    PRIMARY KEY (pos_config_id, pos_payment_method_id));
CREATE TABLE pos_session (
    id serial PRIMARY KEY, name varchar NOT NULL UNIQUE, config_id int NOT NULL REFERENCES pos_config(id),
    user_id int NOT NULL REFERENCES res_users(id), state varchar NOT NULL DEFAULT 'opening_control',
    start_at timestamp, stop_at timestamp, cash_register_balance_start double precision DEFAULT 0,
    cash_register_balance_end_real double precision DEFAULT 0, opening_notes text, closing_notes text,
    sequence_number int DEFAULT 1, login_number int DEFAULT 0, rescue boolean DEFAULT false,
    update_stock_at_closing boolean DEFAULT false, access_token varchar,
    create_uid int, create_date timestamp DEFAULT (now() at time zone 'utc'),
    write_uid int, write_date timestamp DEFAULT (now() at time zone 'utc'));
CREATE TABLE pos_order (
    id serial PRIMARY KEY, name varchar NOT NULL DEFAULT '/', uuid varchar, access_token varchar,
    session_id int NOT NULL REFERENCES pos_session(id), config_id int REFERENCES pos_config(id),
    company_id int NOT NULL REFERENCES res_company(id), user_id int REFERENCES res_users(id),
    partner_id int REFERENCES res_partner(id), pricelist_id int, fiscal_position_id int,
    date_order timestamp DEFAULT (now() at time zone 'utc'), state varchar NOT NULL DEFAULT 'draft',
    amount_tax double precision NOT NULL, amount_total double precision NOT NULL,
    amount_paid double precision NOT NULL, amount_return double precision NOT NULL,
    sequence_number int DEFAULT 0, pos_reference varchar, to_invoice boolean DEFAULT false,
    is_tipped boolean DEFAULT false, tip_amount double precision DEFAULT 0, nb_print int DEFAULT 0,
    general_note text, ticket_code varchar, tracking_number varchar, email varchar, mobile varchar,
    shipping_date date, last_order_preparation_change text, floating_order_name varchar,
    currency_rate double precision DEFAULT 1.0, is_edited boolean DEFAULT false, is_total_cost_computed boolean DEFAULT false, has_deleted_line boolean DEFAULT false,
    create_uid int, create_date timestamp DEFAULT (now() at time zone 'utc'),
    write_uid int, write_date timestamp DEFAULT (now() at time zone 'utc'));
CREATE TABLE pos_order_line (
    id serial PRIMARY KEY, name varchar, order_id int NOT NULL REFERENCES pos_order(id) ON DELETE CASCADE,
    product_id int NOT NULL REFERENCES product_product(id), qty double precision DEFAULT 1,
    price_unit double precision DEFAULT 0, price_subtotal double precision NOT NULL,
    price_subtotal_incl double precision NOT NULL, discount double precision DEFAULT 0,
    full_product_name varchar, customer_note varchar, note varchar, uuid varchar, skip_change boolean DEFAULT false,
    price_extra double precision DEFAULT 0, price_type varchar DEFAULT 'original',
    refunded_orderline_id int REFERENCES pos_order_line(id), company_id int,
    create_uid int, create_date timestamp DEFAULT (now() at time zone 'utc'),
    write_uid int, write_date timestamp DEFAULT (now() at time zone 'utc'));
CREATE TABLE account_tax_pos_order_line_rel (
    pos_order_line_id int NOT NULL REFERENCES pos_order_line(id) ON DELETE CASCADE,
    account_tax_id int NOT NULL REFERENCES account_tax(id), PRIMARY KEY (pos_order_line_id, account_tax_id));
CREATE TABLE pos_payment (
    id serial PRIMARY KEY, name varchar, pos_order_id int NOT NULL REFERENCES pos_order(id) ON DELETE CASCADE,
    amount double precision NOT NULL, payment_method_id int NOT NULL REFERENCES pos_payment_method(id),
    payment_date timestamp NOT NULL DEFAULT (now() at time zone 'utc'), session_id int REFERENCES pos_session(id),
    card_type varchar, card_brand varchar, card_no varchar, cardholder_name varchar, payment_ref_no varchar,
    payment_method_authcode varchar, payment_method_issuer_bank varchar, payment_method_payment_mode varchar,
    transaction_id varchar, payment_status varchar, ticket varchar, is_change boolean DEFAULT false, uuid varchar,
    create_uid int, create_date timestamp DEFAULT (now() at time zone 'utc'),
    write_uid int, write_date timestamp DEFAULT (now() at time zone 'utc'));
CREATE TABLE stock_picking (
    id serial PRIMARY KEY, name varchar, pos_order_id int REFERENCES pos_order(id) ON DELETE CASCADE,
    pos_session_id int, state varchar DEFAULT 'done');
"#;

/// Modules known to the simulated addons path: (name, shortdesc, application, category, depends).
pub const MODULES: &[(&str, &str, bool, &str, &[&str])] = &[
    ("base", "Base", false, "Hidden", &[]),
    ("web", "Web", false, "Hidden", &["base"]),
    ("bus", "IM Bus", false, "Hidden", &["base", "web"]),
    (
        "base_setup",
        "Initial Setup Tools",
        false,
        "Hidden",
        &["base", "web"],
    ),
    (
        "mail",
        "Discuss",
        true,
        "Productivity/Discuss",
        &["base", "base_setup", "bus", "web"],
    ),
    ("contacts", "Contacts", true, "Sales/CRM", &["base", "mail"]),
    ("uom", "Units of Measure", false, "Sales/Sales", &["base"]),
    (
        "product",
        "Products & Pricelists",
        false,
        "Sales/Sales",
        &["base", "mail", "uom"],
    ),
    (
        "analytic",
        "Analytic Accounting",
        false,
        "Accounting/Accounting",
        &["base", "mail", "uom"],
    ),
    (
        "account",
        "Invoicing",
        true,
        "Accounting/Accounting",
        &["base_setup", "product", "analytic"],
    ),
    (
        "stock",
        "Inventory",
        true,
        "Inventory/Inventory",
        &["product", "barcodes_gs1_nomenclature"],
    ),
    ("barcodes", "Barcode", false, "Hidden", &["web"]),
    (
        "barcodes_gs1_nomenclature",
        "Barcode - GS1 Nomenclature",
        false,
        "Hidden",
        &["barcodes", "uom"],
    ),
    (
        "stock_account",
        "WMS Accounting",
        false,
        "Inventory/Inventory",
        &["stock", "account"],
    ),
    (
        "sales_team",
        "Sales Teams",
        false,
        "Sales/Sales",
        &["base", "mail"],
    ),
    (
        "sale",
        "Sales",
        false,
        "Sales/Sales",
        &["sales_team", "account", "product"],
    ),
    ("sale_management", "Sales", true, "Sales/Sales", &["sale"]),
    (
        "crm",
        "CRM",
        true,
        "Sales/CRM",
        &["base_setup", "sales_team", "mail", "contacts"],
    ),
    (
        "point_of_sale",
        "Point of Sale",
        true,
        "Sales/Point of Sale",
        &[
            "stock_account",
            "barcodes",
            "web_editor",
            "digest",
            "phone_validation",
        ],
    ),
    ("web_editor", "Web Editor", false, "Hidden", &["bus", "web"]),
    (
        "digest",
        "KPI Digests",
        false,
        "Productivity",
        &["mail", "web", "resource"],
    ),
    ("resource", "Resource", false, "Hidden", &["base", "web"]),
    (
        "phone_validation",
        "Phone Numbers Validation",
        false,
        "Hidden",
        &["base", "mail"],
    ),
    (
        "pos_restaurant",
        "Restaurant",
        true,
        "Sales/Point of Sale",
        &["point_of_sale"],
    ),
    (
        "website",
        "Website",
        true,
        "Website/Website",
        &["digest", "web", "web_editor", "mail", "portal"],
    ),
    (
        "portal",
        "Customer Portal",
        false,
        "Hidden",
        &["web", "web_editor", "http_routing", "mail", "auth_signup"],
    ),
    ("http_routing", "Web Routing", false, "Hidden", &["web"]),
    (
        "auth_signup",
        "Signup",
        false,
        "Hidden",
        &["base_setup", "mail", "web"],
    ),
    (
        "hr",
        "Employees",
        true,
        "Human Resources/Employees",
        &[
            "base_setup",
            "digest",
            "phone_validation",
            "resource",
            "web",
        ],
    ),
    (
        "purchase",
        "Purchase",
        true,
        "Inventory/Purchase",
        &["account"],
    ),
    (
        "l10n_us",
        "United States - Accounting",
        false,
        "Accounting/Localizations",
        &["account"],
    ),
];

/// Groups: (xml module, xml name, name, implied xml ids).
pub const GROUPS: &[(&str, &str, &str, &[&str])] = &[
    ("base", "group_user", "Role / User", &[]),
    (
        "base",
        "group_system",
        "Administration / Settings",
        &["base.group_erp_manager"],
    ),
    (
        "base",
        "group_erp_manager",
        "Administration / Access Rights",
        &["base.group_user"],
    ),
    ("base", "group_multi_company", "Multi Companies", &[]),
    ("base", "group_multi_currency", "Multi Currencies", &[]),
    ("base", "group_no_one", "Technical Features", &[]),
    ("base", "group_partner_manager", "Contact Creation", &[]),
    ("base", "group_portal", "Role / Portal", &[]),
    ("base", "group_public", "Role / Public", &[]),
    (
        "base",
        "group_allow_export",
        "Access to export feature",
        &[],
    ),
    (
        "point_of_sale",
        "group_pos_user",
        "Point of Sale / User",
        &["base.group_user"],
    ),
    (
        "point_of_sale",
        "group_pos_manager",
        "Point of Sale / Administrator",
        &["point_of_sale.group_pos_user"],
    ),
];

/// Which modules a model belongs to (the model "exists" once that module is installed).
pub fn model_module(model: &str) -> &'static str {
    if model.starts_with("pos.") || model == "stock.picking" {
        "point_of_sale"
    } else if model.starts_with("product.") {
        "product"
    } else if model.starts_with("account.") {
        "account"
    } else {
        "base"
    }
}

/// Countries for `db.list_countries` and company country setup: (code, name).
pub const COUNTRIES: &[(&str, &str)] = &[
    ("AR", "Argentina"),
    ("AT", "Austria"),
    ("AU", "Australia"),
    ("BE", "Belgium"),
    ("BR", "Brazil"),
    ("CA", "Canada"),
    ("CH", "Switzerland"),
    ("CL", "Chile"),
    ("CN", "China"),
    ("CO", "Colombia"),
    ("CZ", "Czech Republic"),
    ("DE", "Germany"),
    ("DK", "Denmark"),
    ("ES", "Spain"),
    ("FI", "Finland"),
    ("FR", "France"),
    ("GB", "United Kingdom"),
    ("GR", "Greece"),
    ("IE", "Ireland"),
    ("IN", "India"),
    ("IT", "Italy"),
    ("JP", "Japan"),
    ("LU", "Luxembourg"),
    ("MA", "Morocco"),
    ("MX", "Mexico"),
    ("NL", "Netherlands"),
    ("NO", "Norway"),
    ("NZ", "New Zealand"),
    ("PE", "Peru"),
    ("PL", "Poland"),
    ("PT", "Portugal"),
    ("SE", "Sweden"),
    ("TN", "Tunisia"),
    ("US", "United States"),
    ("ZA", "South Africa"),
];

/// Languages for `db.list_lang`: (code, name) as Odoo's `scan_languages` lists them.
pub const LANGS: &[(&str, &str)] = &[
    ("de_DE", "German / Deutsch"),
    ("en_US", "English (US)"),
    ("en_GB", "English (UK)"),
    ("es_ES", "Spanish / Español"),
    ("fr_FR", "French / Français"),
    ("it_IT", "Italian / Italiano"),
    ("nl_NL", "Dutch / Nederlands"),
    ("pt_BR", "Portuguese (BR) / Português (BR)"),
    ("pt_PT", "Portuguese / Português"),
];
