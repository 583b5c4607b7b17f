//! Generic ORM operations over [`crate::models`]: domains, search, read, create, write, unlink.

use crate::error::{OResult, OdooError};
use crate::models::{self, Field, Kind, Model};
use serde_json::{json, Map, Value};
use sqlx::PgConnection;

/// Who is calling, and with which context.
#[derive(Debug, Clone)]
pub struct Env {
    pub db: String,
    pub uid: i64,
    pub context: Map<String, Value>,
}

impl Env {
    pub fn active_test(&self) -> bool {
        !matches!(self.context.get("active_test"), Some(Value::Bool(false)))
    }
}

/// Python `repr()` of a JSON value (for error messages).
pub fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            if s.contains('\'') && !s.contains('"') {
                format!("\"{s}\"")
            } else {
                format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
            }
        }
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("'{k}': {}", py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Text form of a JSON scalar for binding with an SQL cast.
fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::Null | Value::Bool(false) => None,
        Value::Bool(true) => Some("true".into()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn bool_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some((n.as_f64().unwrap_or(0.0) != 0.0).to_string()),
        Value::String(s) => Some((!s.is_empty()).to_string()),
        Value::Array(a) => Some((!a.is_empty()).to_string()),
        Value::Object(o) => Some((!o.is_empty()).to_string()),
    }
}

/// Query parameters (text, each used with an explicit SQL cast), in slot order.
#[derive(Default)]
pub struct Sql {
    params: Vec<Option<String>>,
    arrays: Vec<Vec<String>>,
    order: Vec<bool>,
}

impl Sql {
    /// Add a scalar parameter; returns its placeholder with the cast.
    pub fn p(&mut self, v: Option<String>, cast: &str) -> String {
        self.params.push(v);
        self.order.push(false);
        format!("${}::{}", self.order.len(), cast)
    }
    /// Add an array parameter (bound as text[] and cast).
    pub fn arr(&mut self, v: Vec<String>, cast: &str) -> String {
        self.arrays.push(v);
        self.order.push(true);
        format!("${}::text[]::{}[]", self.order.len(), cast)
    }
}

pub fn cast_of(kind: Kind) -> &'static str {
    match kind {
        Kind::Id | Kind::Int | Kind::M2o(_) | Kind::M2m(_) | Kind::O2m(..) => "bigint",
        Kind::Float => "float8",
        Kind::Bool => "boolean",
        Kind::Datetime => "timestamp",
        Kind::Date => "date",
        Kind::Char | Kind::Text | Kind::Selection => "text",
    }
}

pub fn db_err(e: sqlx::Error) -> OdooError {
    crate::error::from_sqlx(e, &models::describe)
}

pub fn tsub(expr: &str, alias: &str) -> String {
    expr.replace("{t}", alias)
}

/// SQL for a field value (raw, no many2one name) over `alias`.
fn field_sql(m: &Model, f: &Field, alias: &str) -> String {
    if f.name == "display_name" {
        return tsub(m.display, alias);
    }
    if let (Some(col), None) = (f.column, f.expr) {
        return format!("{alias}.{col}");
    }
    match f.kind {
        Kind::M2m(spec) if f.expr.is_none_or(|e| e.is_empty()) => format!(
            "COALESCE((SELECT json_agg(r.{c2} ORDER BY r.{c2}) FROM {rel} r WHERE r.{c1} = {alias}.{key}), '[]'::json)",
            c2 = spec.col2, rel = spec.rel, c1 = spec.col1, key = spec.key
        ),
        _ => tsub(f.expr.unwrap_or("NULL"), alias),
    }
}

static MISC_ALIAS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
fn fresh_alias() -> String {
    let n = MISC_ALIAS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 1_000_000;
    format!("a{n}")
}

fn select_sql(m: &Model, f: &Field, alias: &str, load_names: bool) -> String {
    let base = field_sql(m, f, alias);
    match f.kind {
        Kind::Datetime if f.column.is_some() => format!("to_char({base}, 'YYYY-MM-DD HH24:MI:SS')"),
        Kind::Date if f.column.is_some() => format!("to_char({base}, 'YYYY-MM-DD')"),
        Kind::M2o(target) if load_names => match models::model(target) {
            Some(tm) => {
                let x = fresh_alias();
                format!(
                    "CASE WHEN ({base}) IS NULL THEN NULL ELSE json_build_array(({base}), (SELECT {disp} FROM {tt} {x} WHERE {x}.id = ({base}))) END",
                    disp = tsub(tm.display, &x),
                    tt = tm.table
                )
            }
            None => base,
        },
        _ => base,
    }
}

fn normalize(f: &Field, v: Value) -> Value {
    match (f.kind, v) {
        (_, Value::Null) => Value::Bool(false),
        (Kind::Float, Value::Number(n)) => json!(n.as_f64().unwrap_or(0.0)),
        (Kind::M2o(_), Value::Array(a)) => {
            let mut a = a;
            if a.len() == 2 && a[1].is_null() {
                a[1] = json!("");
            }
            Value::Array(a)
        }
        (_, v) => v,
    }
}

/// Fields readable on a model when `fields` is empty (all of them).
pub fn all_field_names(m: &Model) -> Vec<&'static str> {
    m.fields.iter().map(|f| f.name).collect()
}

/// `read(ids, fields, load)`: records in the order of `ids`. Ids that do not exist are left
/// out, as Odoo 18's `_read_format` does (`odoo/models.py`: "one dictionary per record that
/// exists"); no MissingError.
pub async fn read(
    conn: &mut PgConnection,
    _env: &Env,
    m: &Model,
    ids: &[i64],
    fields: &[String],
    load_names: bool,
) -> OResult<Vec<Value>> {
    let mut names: Vec<&Field> = Vec::new();
    let idf = m.field("id");
    if let Some(f) = idf {
        names.push(f);
    }
    if fields.is_empty() {
        for f in &m.fields {
            if f.name != "id" {
                names.push(f);
            }
        }
    } else {
        for fname in fields {
            match m.field(fname) {
                Some(f) => {
                    if !names.iter().any(|g| g.name == f.name) {
                        names.push(f)
                    }
                }
                None => {
                    return Err(OdooError::value_error(format!(
                        "Invalid field {} on {}",
                        py_repr(&json!(fname)),
                        m.name
                    )))
                }
            }
        }
    }
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let cols: Vec<String> = names
        .iter()
        .map(|f| format!("{} AS \"{}\"", select_sql(m, f, "t", load_names), f.name))
        .collect();
    let mut q = Sql::default();
    let idp = q.arr(ids.iter().map(|i| i.to_string()).collect(), "bigint");
    let sql = format!(
        "SELECT row_to_json(x)::text FROM (SELECT {} FROM {} t WHERE t.id = ANY({idp})) x",
        cols.join(", "),
        m.table
    );
    let rows: Vec<(String,)> = sqlx::query_as_with(&sql, q.args())
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    let mut by_id = std::collections::HashMap::new();
    for (txt,) in rows {
        let v: Value = serde_json::from_str(&txt).map_err(|e| OdooError::generic(e.to_string()))?;
        let id = v.get("id").and_then(Value::as_i64).unwrap_or(0);
        by_id.insert(id, v);
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(Value::Object(o)) = by_id.get(id) {
            let mut rec = Map::new();
            for f in &names {
                // the requested field order as Odoo returns it: id first, then requested
                let v = o.get(f.name).cloned().unwrap_or(Value::Null);
                rec.insert(f.name.to_string(), normalize(f, v));
            }
            out.push(Value::Object(rec));
        }
    }
    Ok(out)
}

/// `repr()` of a recordset (`BaseModel.__repr__`: the model name and the ids' tuple):
/// `res.users(2,)`, `res.users(1, 2)`, `res.users()`.
pub fn recordset_repr(model: &str, ids: &[i64]) -> String {
    let list = ids
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() == 1 {
        format!("{model}({list},)")
    } else {
        format!("{model}({list})")
    }
}

/// `ensure_one()`: `ValueError: Expected singleton: <recordset>`.
pub fn singleton(model: &str, ids: &[i64]) -> OResult<i64> {
    match ids {
        [id] => Ok(*id),
        _ => Err(OdooError::value_error(format!(
            "Expected singleton: {}",
            recordset_repr(model, ids)
        ))),
    }
}

pub fn missing_error(m: &Model, ids: &[i64], uid: i64) -> OdooError {
    OdooError::missing(format!(
        "Record does not exist or has been deleted.\n(Record: {}, User: {uid})",
        recordset_repr(m.name, ids)
    ))
}

// ----------------------------------------------------------------- domains

fn leaf_repr(leaf: &[Value]) -> String {
    format!(
        "({})",
        leaf.iter().map(py_repr).collect::<Vec<_>>().join(", ")
    )
}

fn parse_domain(dom: &Value) -> OResult<Vec<Value>> {
    match dom {
        Value::Null | Value::Bool(false) => Ok(vec![]),
        Value::Array(a) => Ok(a.clone()),
        other => Err(OdooError::value_error(format!(
            "Invalid domain: {}",
            py_repr(other)
        ))),
    }
}

struct DomCtx<'a> {
    q: &'a mut Sql,
}

fn domain_expr(
    m: &Model,
    alias: &str,
    toks: &[Value],
    pos: &mut usize,
    dc: &mut DomCtx,
) -> OResult<String> {
    let Some(tok) = toks.get(*pos) else {
        return Err(OdooError::value_error(format!(
            "Domain {} syntax error: missing operand",
            py_repr(&Value::Array(toks.to_vec()))
        )));
    };
    *pos += 1;
    match tok {
        Value::String(op) if op == "&" || op == "|" => {
            let a = domain_expr(m, alias, toks, pos, dc)?;
            let b = domain_expr(m, alias, toks, pos, dc)?;
            let j = if op == "&" { "AND" } else { "OR" };
            Ok(format!("(({a}) {j} ({b}))"))
        }
        Value::String(op) if op == "!" => {
            let a = domain_expr(m, alias, toks, pos, dc)?;
            Ok(format!("(NOT ({a}))"))
        }
        Value::Array(leaf) if leaf.len() == 3 => leaf_sql(m, alias, leaf, dc),
        other => Err(OdooError::value_error(format!(
            "Invalid leaf {}",
            py_repr(other)
        ))),
    }
}

/// SQL for a whole domain (implicit AND between top-level terms).
pub fn domain_sql(m: &Model, alias: &str, dom: &Value, q: &mut Sql) -> OResult<String> {
    let toks = parse_domain(dom)?;
    let mut dc = DomCtx { q };
    let mut pos = 0;
    let mut parts = Vec::new();
    while pos < toks.len() {
        parts.push(domain_expr(m, alias, &toks, &mut pos, &mut dc)?);
    }
    if parts.is_empty() {
        Ok("TRUE".into())
    } else {
        Ok(parts.join(" AND "))
    }
}

/// Does the domain mention the `active` field (disables the implicit active test)?
pub fn mentions_active(dom: &Value) -> bool {
    match dom {
        Value::Array(a) => a.iter().any(|t| {
            matches!(t, Value::Array(l) if l.first().and_then(Value::as_str).is_some_and(|f| f == "active" || f.ends_with(".active")))
        }),
        _ => false,
    }
}

fn leaf_sql(m: &Model, alias: &str, leaf: &[Value], dc: &mut DomCtx) -> OResult<String> {
    let op_v = leaf[1].as_str().map(|s| s.to_lowercase());
    // TRUE_LEAF / FALSE_LEAF
    if leaf[0].as_i64().is_some() {
        return Ok(if leaf[0] == leaf[2] {
            "TRUE".into()
        } else {
            "FALSE".into()
        });
    }
    let Some(path) = leaf[0].as_str() else {
        return Err(OdooError::value_error(format!(
            "Invalid leaf {}",
            leaf_repr(leaf)
        )));
    };
    let Some(op) = op_v else {
        return Err(OdooError::value_error(format!(
            "Invalid leaf {}",
            leaf_repr(leaf)
        )));
    };
    const OPS: &[&str] = &[
        "=",
        "!=",
        "<>",
        "<",
        ">",
        "<=",
        ">=",
        "=?",
        "=like",
        "=ilike",
        "like",
        "not like",
        "ilike",
        "not ilike",
        "in",
        "not in",
        "child_of",
        "parent_of",
        "any",
        "not any",
    ];
    if !OPS.contains(&op.as_str()) {
        return Err(OdooError::value_error(format!(
            "Invalid leaf {}",
            leaf_repr(leaf)
        )));
    }
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let f = if head == "id" {
        m.field("id")
    } else {
        m.field(head)
    };
    let Some(f) = f.filter(|f| f.searchable() || f.name == "display_name") else {
        return Err(OdooError::value_error(format!(
            "Invalid field {}.{} in leaf {}",
            m.name,
            head,
            leaf_repr(leaf)
        )));
    };
    let value = &leaf[2];
    if let Some(rest) = rest {
        let target = match f.kind {
            Kind::M2o(t) => t,
            Kind::M2m(spec) => spec.model,
            Kind::O2m(t, _) => t,
            _ => {
                return Err(OdooError::value_error(format!(
                    "Invalid field {}.{} in leaf {}",
                    m.name,
                    path,
                    leaf_repr(leaf)
                )))
            }
        };
        let tm = models::model(target)
            .ok_or_else(|| OdooError::user(format!("Object {target} doesn't exist")))?;
        let x = fresh_alias();
        let sub_leaf = vec![json!(rest), leaf[1].clone(), value.clone()];
        let inner = leaf_sql(tm, &x, &sub_leaf, dc)?;
        let ids_sql = format!("SELECT {x}.id FROM {} {x} WHERE {inner}", tm.table);
        return Ok(match f.kind {
            Kind::M2o(_) => format!("({}) IN ({ids_sql})", field_sql(m, f, alias)),
            Kind::M2m(spec) => format!(
                "EXISTS (SELECT 1 FROM {rel} r WHERE r.{c1} = {alias}.{key} AND r.{c2} IN ({ids_sql}))",
                rel = spec.rel, c1 = spec.col1, key = spec.key, c2 = spec.col2
            ),
            Kind::O2m(t, inv) => {
                let tt = models::model(t).map(|m| m.table).unwrap_or("");
                format!("EXISTS (SELECT 1 FROM {tt} ch WHERE ch.{inv} = {alias}.id AND ch.id IN ({ids_sql}))")
            }
            _ => "FALSE".into(),
        });
    }
    let op = if op == "<>" { "!=".to_string() } else { op };
    // x2many fields
    if let Kind::M2m(spec) = f.kind {
        let exists = |ids: &str| {
            format!(
                "EXISTS (SELECT 1 FROM {rel} r WHERE r.{c1} = {alias}.{key}{ids})",
                rel = spec.rel,
                c1 = spec.col1,
                key = spec.key
            )
        };
        return x2many_leaf(&op, value, leaf, dc, |cond| match cond {
            None => exists(""),
            Some(c) => exists(&format!(" AND r.{} {c}", spec.col2)),
        });
    }
    if let Kind::O2m(t, inv) = f.kind {
        let tt = models::model(t).map(|m| m.table).unwrap_or("");
        return x2many_leaf(&op, value, leaf, dc, |cond| match cond {
            None => format!("EXISTS (SELECT 1 FROM {tt} ch WHERE ch.{inv} = {alias}.id)"),
            Some(c) => {
                format!("EXISTS (SELECT 1 FROM {tt} ch WHERE ch.{inv} = {alias}.id AND ch.id {c})")
            }
        });
    }
    let col = field_sql(m, f, alias);
    let kind = if f.name == "display_name" {
        Kind::Char
    } else {
        f.kind
    };
    scalar_leaf(&col, kind, &op, value, leaf, dc)
}

fn x2many_leaf(
    op: &str,
    value: &Value,
    leaf: &[Value],
    dc: &mut DomCtx,
    exists: impl Fn(Option<String>) -> String,
) -> OResult<String> {
    let ids: Vec<String> = match value {
        Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_i64())
            .map(|i| i.to_string())
            .collect(),
        Value::Number(n) => vec![n.to_string()],
        Value::Bool(false) | Value::Null => {
            return Ok(match op {
                "=" | "in" => format!("NOT {}", exists(None)),
                _ => exists(None),
            })
        }
        _ => {
            return Err(OdooError::value_error(format!(
                "Invalid leaf {}",
                leaf_repr(leaf)
            )))
        }
    };
    let p = dc.q.arr(ids, "bigint");
    match op {
        "=" | "in" | "child_of" | "parent_of" => Ok(exists(Some(format!("= ANY({p})")))),
        "!=" | "not in" => Ok(format!("NOT {}", exists(Some(format!("= ANY({p})"))))),
        _ => Err(OdooError::value_error(format!(
            "Invalid leaf {}",
            leaf_repr(leaf)
        ))),
    }
}

fn like_pattern(op: &str, v: &Value) -> Option<String> {
    let s = as_text(v)?;
    if op.starts_with('=') {
        Some(s)
    } else {
        Some(format!("%{s}%"))
    }
}

fn scalar_leaf(
    col: &str,
    kind: Kind,
    op: &str,
    value: &Value,
    leaf: &[Value],
    dc: &mut DomCtx,
) -> OResult<String> {
    let cast = cast_of(kind);
    let is_false = matches!(value, Value::Bool(false) | Value::Null);
    match op {
        "=?" => {
            if is_false {
                Ok("TRUE".into())
            } else {
                scalar_leaf(col, kind, "=", value, leaf, dc)
            }
        }
        "=" | "!=" => {
            if let Value::Array(_) = value {
                let nop = if op == "=" { "in" } else { "not in" };
                return scalar_leaf(col, kind, nop, value, leaf, dc);
            }
            if kind == Kind::Bool {
                let b = bool_text(value).unwrap_or_else(|| "false".into()) == "true";
                let cond = if b {
                    format!("{col} = true")
                } else {
                    format!("({col} IS NULL OR {col} = false)")
                };
                return Ok(if op == "=" {
                    cond
                } else {
                    format!("NOT ({cond})")
                });
            }
            if is_false {
                return Ok(if op == "=" {
                    format!("{col} IS NULL")
                } else {
                    format!("{col} IS NOT NULL")
                });
            }
            if let (Kind::M2o(target), Value::String(s)) = (kind, value) {
                // many2one compared to a string: match on the display name
                let tm = models::model(target)
                    .ok_or_else(|| OdooError::user(format!("Object {target} doesn't exist")))?;
                let x = fresh_alias();
                let p = dc.q.p(Some(s.clone()), "text");
                let sql = format!(
                    "{col} IN (SELECT {x}.id FROM {} {x} WHERE {} = {p})",
                    tm.table,
                    tsub(tm.display, &x)
                );
                return Ok(if op == "=" {
                    sql
                } else {
                    format!("({col} IS NULL OR NOT ({sql}))")
                });
            }
            let p = dc.q.p(as_text(value), cast);
            Ok(if op == "=" {
                format!("{col} = {p}")
            } else {
                format!("({col} IS NULL OR {col} != {p})")
            })
        }
        "<" | ">" | "<=" | ">=" => {
            if is_false {
                return Ok("FALSE".into());
            }
            let p = dc.q.p(as_text(value), cast);
            Ok(format!("{col} {op} {p}"))
        }
        "like" | "ilike" | "=like" | "=ilike" | "not like" | "not ilike" => {
            if let Kind::M2o(target) = kind {
                let tm = models::model(target)
                    .ok_or_else(|| OdooError::user(format!("Object {target} doesn't exist")))?;
                let x = fresh_alias();
                let pat = like_pattern(op.trim_start_matches("not "), value);
                let p = dc.q.p(pat, "text");
                let sqlop = if op.contains("ilike") {
                    "ILIKE"
                } else {
                    "LIKE"
                };
                let sub = format!(
                    "{col} IN (SELECT {x}.id FROM {} {x} WHERE {} {sqlop} {p})",
                    tm.table,
                    tsub(tm.display, &x)
                );
                return Ok(if op.starts_with("not") {
                    format!("({col} IS NULL OR NOT ({sub}))")
                } else {
                    sub
                });
            }
            let base = op.trim_start_matches("not ");
            let pat = like_pattern(base, value);
            let p = dc.q.p(pat, "text");
            let sqlop = if base.contains("ilike") {
                "ILIKE"
            } else {
                "LIKE"
            };
            if op.starts_with("not") {
                Ok(format!("({col} IS NULL OR NOT ({col}::text {sqlop} {p}))"))
            } else {
                Ok(format!("{col}::text {sqlop} {p}"))
            }
        }
        "in" | "not in" | "child_of" | "parent_of" => {
            let items: Vec<Value> = match value {
                Value::Array(a) => a.clone(),
                Value::Bool(false) | Value::Null => vec![Value::Bool(false)],
                v if op == "child_of" || op == "parent_of" => vec![v.clone()],
                v => vec![v.clone()],
            };
            let has_false = items
                .iter()
                .any(|v| matches!(v, Value::Bool(false) | Value::Null));
            let vals: Vec<String> = items.iter().filter_map(as_text).collect();
            let p = dc.q.arr(vals, cast);
            let base = format!("{col} = ANY({p})");
            let cond = if has_false {
                format!("({base} OR {col} IS NULL)")
            } else {
                base
            };
            Ok(if op == "not in" {
                if has_false {
                    format!("NOT {cond}")
                } else {
                    format!("({col} IS NULL OR NOT {cond})")
                }
            } else {
                cond
            })
        }
        _ => Err(OdooError::value_error(format!(
            "Invalid leaf {}",
            leaf_repr(leaf)
        ))),
    }
}

/// Parse an `order` spec into SQL, validating field names.
pub fn order_sql(m: &Model, alias: &str, order: Option<&str>) -> OResult<String> {
    let spec = order.filter(|s| !s.trim().is_empty()).unwrap_or(m.order);
    let mut parts = Vec::new();
    for item in spec.split(',') {
        let words: Vec<&str> = item.split_whitespace().collect();
        let bad = || {
            OdooError::value_error(format!(
                "Invalid \"order\" specified ({spec}). A valid \"order\" specification is a comma-separated list of valid field names (optionally followed by asc/desc for the direction)"
            ))
        };
        let (fname, dir) = match words.as_slice() {
            [f] => (*f, "ASC"),
            [f, d] if d.eq_ignore_ascii_case("asc") => (*f, "ASC"),
            [f, d] if d.eq_ignore_ascii_case("desc") => (*f, "DESC"),
            _ => return Err(bad()),
        };
        let f = m.field(fname).ok_or_else(bad)?;
        if matches!(f.kind, Kind::M2m(_) | Kind::O2m(..)) {
            return Err(bad());
        }
        let expr = match f.kind {
            Kind::M2o(target) => match models::model(target) {
                Some(tm) => {
                    let x = fresh_alias();
                    format!(
                        "(SELECT {} FROM {} {x} WHERE {x}.id = {})",
                        tsub(tm.display, &x),
                        tm.table,
                        field_sql(m, f, alias)
                    )
                }
                None => field_sql(m, f, alias),
            },
            _ => field_sql(m, f, alias),
        };
        let nulls = if dir == "ASC" {
            "NULLS LAST"
        } else {
            "NULLS FIRST"
        };
        // COALESCE(x, NULL): a constant expression must not be read as a column position
        let expr = if f.column.is_some() {
            expr
        } else {
            format!("COALESCE({expr}, NULL)")
        };
        parts.push(format!("{expr} {dir} {nulls}"));
    }
    if !parts.iter().any(|p| p.starts_with(&format!("{alias}.id "))) {
        parts.push(format!("{alias}.id ASC"));
    }
    Ok(parts.join(", "))
}

pub struct SearchOpts<'a> {
    pub offset: i64,
    pub limit: Option<i64>,
    pub order: Option<&'a str>,
}

pub async fn search(
    conn: &mut PgConnection,
    env: &Env,
    m: &Model,
    domain: &Value,
    opts: &SearchOpts<'_>,
) -> OResult<Vec<i64>> {
    let mut q = Sql::default();
    let mut wh = domain_sql(m, "t", domain, &mut q)?;
    if m.has_active && env.active_test() && !mentions_active(domain) {
        wh = format!("({wh}) AND t.active = true");
    }
    let ord = order_sql(m, "t", opts.order)?;
    let mut sql = format!(
        "SELECT t.id::bigint FROM {} t WHERE {wh} ORDER BY {ord}",
        m.table
    );
    if let Some(l) = opts.limit {
        sql.push_str(&format!(" LIMIT {}", l.max(0)));
    }
    if opts.offset > 0 {
        sql.push_str(&format!(" OFFSET {}", opts.offset));
    }
    let rows: Vec<(i64,)> = sqlx::query_as_with(&sql, q.args())
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

pub async fn search_count(
    conn: &mut PgConnection,
    env: &Env,
    m: &Model,
    domain: &Value,
    limit: Option<i64>,
) -> OResult<i64> {
    let mut q = Sql::default();
    let mut wh = domain_sql(m, "t", domain, &mut q)?;
    if m.has_active && env.active_test() && !mentions_active(domain) {
        wh = format!("({wh}) AND t.active = true");
    }
    let mut sql = format!(
        "SELECT count(*)::bigint FROM (SELECT 1 FROM {} t WHERE {wh}",
        m.table
    );
    if let Some(l) = limit {
        sql.push_str(&format!(" LIMIT {}", l.max(0)));
    }
    sql.push_str(") s");
    let (n,): (i64,) = sqlx::query_as_with(&sql, q.args())
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(n)
}

/// Ids that exist among `ids`.
pub async fn existing(conn: &mut PgConnection, m: &Model, ids: &[i64]) -> OResult<Vec<i64>> {
    let mut q = Sql::default();
    let p = q.arr(ids.iter().map(|i| i.to_string()).collect(), "bigint");
    let sql = format!(
        "SELECT id::bigint FROM {} WHERE id = ANY({p}) ORDER BY id",
        m.table
    );
    let rows: Vec<(i64,)> = sqlx::query_as_with(&sql, q.args())
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

pub async fn ensure_exist(
    conn: &mut PgConnection,
    env: &Env,
    m: &Model,
    ids: &[i64],
) -> OResult<()> {
    let have = existing(conn, m, ids).await?;
    let missing: Vec<i64> = ids.iter().copied().filter(|i| !have.contains(i)).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(missing_error(m, &missing, env.uid))
    }
}

// ------------------------------------------------------------ create/write

/// Stored column values to insert/update, plus x2many commands to apply after.
pub struct Prepared {
    pub cols: Vec<(&'static str, Option<String>, &'static str)>,
    pub x2m: Vec<(&'static Field, Value)>,
    pub via: Vec<(&'static Field, Value)>,
}

/// Validate keys and split values; unknown key → `ValueError: Invalid field 'x' on model 'y'`.
pub fn prepare(m: &'static Model, vals: &Map<String, Value>) -> OResult<Prepared> {
    let mut p = Prepared {
        cols: vec![],
        x2m: vec![],
        via: vec![],
    };
    for (k, v) in vals {
        let Some(f) = m.fields.iter().find(|f| f.name == k) else {
            return Err(OdooError::invalid_field(k, m.name));
        };
        if f.name == "id" || f.name == "display_name" {
            continue;
        }
        if let Some(col) = f.column {
            let val = match f.kind {
                Kind::Bool => bool_text(v),
                Kind::M2o(_) => match v {
                    Value::Array(a) => a.first().and_then(as_text),
                    _ => as_text(v),
                },
                Kind::Float | Kind::Int if matches!(v, Value::Bool(false) | Value::Null) => None,
                _ => as_text(v),
            };
            p.cols.push((col, val, cast_of(f.kind)));
        } else if f.via.is_some() {
            p.via.push((f, v.clone()));
        } else if matches!(f.kind, Kind::M2m(_) | Kind::O2m(..)) {
            p.x2m.push((f, v.clone()));
        }
        // other computed fields without inverse: ignored, as Odoo does on create/write
    }
    Ok(p)
}

pub async fn insert(
    conn: &mut PgConnection,
    env: &Env,
    m: &Model,
    cols: &[(&'static str, Option<String>, &'static str)],
) -> OResult<i64> {
    let mut q = Sql::default();
    let mut names = Vec::new();
    let mut ph = Vec::new();
    let has_audit = m.field("create_uid").is_some();
    for (c, v, cast) in cols {
        if has_audit && (*c == "create_uid" || *c == "write_uid") {
            continue;
        }
        names.push(c.to_string());
        ph.push(q.p(v.clone(), cast));
    }
    if has_audit {
        for c in ["create_uid", "write_uid"] {
            names.push(c.to_string());
            ph.push(q.p(Some(env.uid.to_string()), "int"));
        }
    }
    let sql = if names.is_empty() {
        format!(
            "INSERT INTO {} DEFAULT VALUES RETURNING id::bigint",
            m.table
        )
    } else {
        format!(
            "INSERT INTO {} ({}) VALUES ({}) RETURNING id::bigint",
            m.table,
            names.join(", "),
            ph.join(", ")
        )
    };
    let (id,): (i64,) = sqlx::query_as_with(&sql, q.args())
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(id)
}

pub async fn update(
    conn: &mut PgConnection,
    env: &Env,
    m: &Model,
    ids: &[i64],
    cols: &[(&'static str, Option<String>, &'static str)],
) -> OResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut q = Sql::default();
    let mut sets: Vec<String> = cols
        .iter()
        .map(|(c, v, cast)| format!("{c} = {}", q.p(v.clone(), cast)))
        .collect();
    if m.field("write_uid").is_some() {
        sets.push(format!(
            "write_uid = {}",
            q.p(Some(env.uid.to_string()), "int")
        ));
        sets.push("write_date = (now() at time zone 'utc')".into());
    }
    if sets.is_empty() {
        return Ok(());
    }
    let p = q.arr(ids.iter().map(|i| i.to_string()).collect(), "bigint");
    let sql = format!(
        "UPDATE {} SET {} WHERE id = ANY({p})",
        m.table,
        sets.join(", ")
    );
    sqlx::query_with(&sql, q.args())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Parse x2many commands into a normalized list.
pub enum Cmd {
    Create(Map<String, Value>),
    Update(i64, Map<String, Value>),
    Delete(i64),
    Unlink(i64),
    Link(i64),
    Clear,
    Set(Vec<i64>),
}

pub fn parse_commands(f: &Field, m: &Model, v: &Value) -> OResult<Vec<Cmd>> {
    let bad = || {
        OdooError::value_error(format!(
            "Wrong value for {}.{}: {}",
            m.name,
            f.name,
            py_repr(v)
        ))
    };
    let Value::Array(items) = v else {
        if matches!(v, Value::Bool(false) | Value::Null) {
            return Ok(vec![Cmd::Clear]);
        }
        return Err(bad());
    };
    if items.is_empty() {
        return Ok(vec![]);
    }
    if items.iter().all(|i| i.is_i64()) {
        return Ok(vec![Cmd::Set(
            items.iter().filter_map(Value::as_i64).collect(),
        )]);
    }
    let mut out = Vec::new();
    for it in items {
        let Value::Array(c) = it else {
            if let Some(id) = it.as_i64() {
                out.push(Cmd::Link(id));
                continue;
            }
            return Err(bad());
        };
        let code = c.first().and_then(Value::as_i64).ok_or_else(bad)?;
        let id = c.get(1).and_then(Value::as_i64).unwrap_or(0);
        let vals = || match c.get(2) {
            Some(Value::Object(o)) => Ok(o.clone()),
            _ => Err(bad()),
        };
        out.push(match code {
            0 => Cmd::Create(vals()?),
            1 => Cmd::Update(id, vals()?),
            2 => Cmd::Delete(id),
            3 => Cmd::Unlink(id),
            4 => Cmd::Link(id),
            5 => Cmd::Clear,
            6 => Cmd::Set(match c.get(2) {
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_i64).collect(),
                Some(Value::Bool(false)) | Some(Value::Null) | None => vec![],
                _ => return Err(bad()),
            }),
            _ => return Err(bad()),
        });
    }
    Ok(out)
}

/// Apply many2many commands for one record key.
pub async fn apply_m2m(
    conn: &mut PgConnection,
    spec: &crate::models::M2m,
    key: i64,
    cmds: Vec<Cmd>,
) -> OResult<()> {
    for cmd in cmds {
        let (sql, ids): (String, Vec<i64>) = match cmd {
            Cmd::Link(id) => (
                format!("INSERT INTO {} ({}, {}) VALUES ($1, $2) ON CONFLICT DO NOTHING", spec.rel, spec.col1, spec.col2),
                vec![id],
            ),
            Cmd::Unlink(id) | Cmd::Delete(id) => (
                format!("DELETE FROM {} WHERE {} = $1 AND {} = $2", spec.rel, spec.col1, spec.col2),
                vec![id],
            ),
            Cmd::Clear => (format!("DELETE FROM {} WHERE {} = $1", spec.rel, spec.col1), vec![]),
            Cmd::Set(ids) => {
                sqlx::query(&format!("DELETE FROM {} WHERE {} = $1", spec.rel, spec.col1))
                    .bind(key as i32)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
                for id in ids {
                    sqlx::query(&format!(
                        "INSERT INTO {} ({}, {}) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                        spec.rel, spec.col1, spec.col2
                    ))
                    .bind(key as i32)
                    .bind(id as i32)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
                }
                continue;
            }
            Cmd::Create(_) | Cmd::Update(..) => {
                return Err(OdooError::user("Creating or updating related records through a many2many field is not supported by odoo-sim."))
            }
        };
        let mut qq = sqlx::query(&sql).bind(key as i32);
        for id in ids {
            qq = qq.bind(id as i32);
        }
        qq.execute(&mut *conn).await.map_err(db_err)?;
    }
    Ok(())
}

impl Sql {
    pub fn args(&self) -> sqlx::postgres::PgArguments {
        use sqlx::Arguments;
        let mut a = sqlx::postgres::PgArguments::default();
        let (mut si, mut ai) = (0, 0);
        for is_arr in &self.order {
            if *is_arr {
                let _ = a.add(self.arrays[ai].clone());
                ai += 1;
            } else {
                let _ = a.add(self.params[si].clone());
                si += 1;
            }
        }
        a
    }
}
