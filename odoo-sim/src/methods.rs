//! Model method dispatch (`odoo.api.call_kw`): generic ORM methods plus the
//! model-specific ones the simulator implements.

use crate::error::{OResult, OdooError};
use crate::models::{self, Kind, Model};
use crate::orm::{self, db_err, py_repr, Cmd, Env, SearchOpts};
use serde_json::{json, Map, Value};
use sqlx::PgConnection;

/// Outcome of a call: `None` = Python `None` (the envelope omits `result`).
pub type Ret = OResult<Option<Value>>;

/// Python-like binding of positional + keyword args to named parameters.
pub struct Sig {
    pub func: &'static str,
    pub params: &'static [&'static str],
    pub required: usize,
    /// Accepts **kwargs (extra keywords are returned separately).
    pub varkw: bool,
    /// Count `self` in "takes N positional arguments" messages.
    pub has_self: bool,
}

/// Bound positional values and the extra keywords (for `**kwargs`).
pub type Bound = (Vec<Option<Value>>, Map<String, Value>);

pub fn bind(sig: &Sig, args: &[Value], kwargs: &Map<String, Value>) -> OResult<Bound> {
    let s = usize::from(sig.has_self);
    if args.len() > sig.params.len() {
        return Err(OdooError::too_many_args(
            sig.func,
            sig.required + s,
            sig.params.len() + s,
            args.len() + s,
        ));
    }
    let mut out: Vec<Option<Value>> = vec![None; sig.params.len()];
    for (i, a) in args.iter().enumerate() {
        out[i] = Some(a.clone());
    }
    let mut extra = Map::new();
    for (k, v) in kwargs {
        match sig.params.iter().position(|p| p == k) {
            Some(i) => {
                if out[i].is_some() {
                    return Err(OdooError::type_error(format!(
                        "{}() got multiple values for argument '{k}'",
                        sig.func
                    )));
                }
                out[i] = Some(v.clone());
            }
            None if sig.varkw => {
                extra.insert(k.clone(), v.clone());
            }
            None => {
                return Err(OdooError::type_error(format!(
                    "{}() got an unexpected keyword argument '{k}'",
                    sig.func
                )))
            }
        }
    }
    let missing: Vec<&str> = (0..sig.required)
        .filter(|i| out[*i].is_none())
        .map(|i| sig.params[i])
        .collect();
    if !missing.is_empty() {
        return Err(OdooError::missing_args(sig.func, &missing));
    }
    Ok((out, extra))
}

fn sig(func: &'static str, params: &'static [&'static str], required: usize) -> Sig {
    Sig {
        func,
        params,
        required,
        varkw: false,
        has_self: true,
    }
}

/// Record ids from `args[0]` of a multi method (int or list of ints).
pub fn ids_of(v: &Value) -> OResult<Vec<i64>> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(|i| vec![i])
            .ok_or_else(|| OdooError::type_error("ids must be integers")),
        Value::Array(a) => a
            .iter()
            .map(|x| match x {
                Value::Number(n) => n
                    .as_i64()
                    .ok_or_else(|| OdooError::type_error("ids must be integers")),
                other => Err(OdooError::type_error(format!(
                    "unhashable type: '{}'",
                    match other {
                        Value::Array(_) => "list",
                        Value::Object(_) => "dict",
                        _ => "str",
                    }
                ))),
            })
            .collect(),
        Value::Bool(false) | Value::Null => Ok(vec![]),
        other => Err(OdooError::type_error(format!(
            "Invalid ids {}",
            py_repr(other)
        ))),
    }
}

fn opt_i64(v: &Option<Value>) -> OResult<Option<i64>> {
    match v {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_i64()),
        Some(other) => Err(OdooError::type_error(format!(
            "'<' not supported between instances of '{}' and 'int'",
            match other {
                Value::String(_) => "str",
                Value::Array(_) => "list",
                _ => "dict",
            }
        ))),
    }
}

fn opt_str(v: &Option<Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

fn field_list(v: &Option<Value>) -> OResult<Vec<String>> {
    match v {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(vec![]),
        Some(Value::Array(a)) => Ok(a
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(other) => Err(OdooError::type_error(format!(
            "Invalid fields {}",
            py_repr(other)
        ))),
    }
}

fn is_load_none(v: &Option<Value>) -> bool {
    matches!(v, Some(Value::Bool(false)) | Some(Value::Null))
        || matches!(v, Some(Value::String(s)) if s != "_classic_read")
}

/// Names of the methods a model offers (for the AttributeError check).
pub fn has_method(model: &str, method: &str) -> bool {
    const GENERIC: &[&str] = &[
        "search_read",
        "search",
        "search_count",
        "read",
        "create",
        "write",
        "unlink",
        "name_search",
        "fields_get",
        "default_get",
        "exists",
        "check_access_rights",
        "has_access",
        "browse",
        "web_search_read",
    ];
    if GENERIC.contains(&method) {
        return true;
    }
    let specific: &[&str] = match model {
        "res.users" => &["context_get", "has_group", "check"],
        "ir.module.module" => &[
            "button_immediate_install",
            "button_install",
            "update_list",
            "button_immediate_uninstall",
        ],
        "pos.config" => &["open_ui", "load_onboarding_bakery_scenario"],
        "pos.session" => &[
            "set_opening_control",
            "action_pos_session_open",
            "load_data",
            "post_closing_cash_details",
            "update_closing_control_state_session",
            "close_session_from_ui",
            "action_pos_session_closing_control",
            "action_pos_session_validate",
            "action_pos_session_close",
            "login",
            "get_closing_control_data",
        ],
        "pos.order" => &["sync_from_ui"],
        "ir.config_parameter" => &["get_param", "set_param"],
        _ => &[],
    };
    specific.contains(&method)
}

/// Call `model.method(*args, **kwargs)` (after auth, private and model checks).
pub async fn call(
    conn: &mut PgConnection,
    env: &Env,
    model: &'static Model,
    method: &str,
    args: Vec<Value>,
    mut kwargs: Map<String, Value>,
) -> Ret {
    let mut env = env.clone();
    if let Some(Value::Object(c)) = kwargs.remove("context") {
        env.context = c;
    }
    if !has_method(model.name, method) {
        return Err(OdooError::builtin(
            "AttributeError",
            format!("The method '{}.{}' does not exist", model.name, method),
        ));
    }
    crate::users::check_model_access(conn, &env, model, method).await?;
    let api_model = matches!(
        method,
        "search_read"
            | "search"
            | "search_count"
            | "create"
            | "name_search"
            | "fields_get"
            | "default_get"
            | "check_access_rights"
            | "has_access"
            | "context_get"
            | "update_list"
            | "sync_from_ui"
            | "web_search_read"
            | "get_param"
            | "set_param"
            | "load_onboarding_bakery_scenario"
    );
    if api_model {
        return call_model(conn, &env, model, method, &args, &kwargs).await;
    }
    // multi: args[0] are the ids
    let Some(first) = args.first() else {
        return Err(OdooError::builtin("IndexError", "list index out of range"));
    };
    let ids = ids_of(first)?;
    call_multi(conn, &env, model, method, ids, &args[1..], &kwargs).await
}

async fn call_model(
    conn: &mut PgConnection,
    env: &Env,
    m: &'static Model,
    method: &str,
    args: &[Value],
    kwargs: &Map<String, Value>,
) -> Ret {
    match method {
        "search_read" | "web_search_read" => {
            let s = Sig {
                func: "BaseModel.search_read",
                params: &["domain", "fields", "offset", "limit", "order"],
                required: 0,
                varkw: true,
                has_self: true,
            };
            let (a, extra) = bind(&s, args, kwargs)?;
            let fields = field_list(&a[1])?;
            let ids = orm::search(
                conn,
                env,
                m,
                a[0].as_ref().unwrap_or(&Value::Null),
                &SearchOpts {
                    offset: opt_i64(&a[2])?.unwrap_or(0),
                    limit: opt_i64(&a[3])?,
                    order: opt_str(&a[4]).as_deref(),
                },
            )
            .await?;
            let load = !is_load_none(&extra.get("load").cloned());
            Ok(Some(Value::Array(
                orm::read(conn, env, m, &ids, &fields, load).await?,
            )))
        }
        "search" => {
            let (a, _) = bind(
                &sig(
                    "BaseModel.search",
                    &["domain", "offset", "limit", "order"],
                    1,
                ),
                args,
                kwargs,
            )?;
            let ids = orm::search(
                conn,
                env,
                m,
                a[0].as_ref().unwrap_or(&Value::Null),
                &SearchOpts {
                    offset: opt_i64(&a[1])?.unwrap_or(0),
                    limit: opt_i64(&a[2])?,
                    order: opt_str(&a[3]).as_deref(),
                },
            )
            .await?;
            Ok(Some(json!(ids)))
        }
        "search_count" => {
            let (a, _) = bind(
                &sig("BaseModel.search_count", &["domain", "limit"], 1),
                args,
                kwargs,
            )?;
            let n = orm::search_count(
                conn,
                env,
                m,
                a[0].as_ref().unwrap_or(&Value::Null),
                opt_i64(&a[1])?,
            )
            .await?;
            Ok(Some(json!(n)))
        }
        "create" => {
            let (a, _) = bind(&sig("BaseModel.create", &["vals_list"], 1), args, kwargs)?;
            match a[0].as_ref() {
                Some(Value::Object(vals)) => {
                    Ok(Some(json!(create_one(conn, env, m.name, vals).await?)))
                }
                Some(Value::Array(list)) => {
                    let mut ids = Vec::new();
                    for v in list {
                        let Value::Object(vals) = v else {
                            return Err(OdooError::builtin(
                                "AttributeError",
                                format!("'{}' object has no attribute 'items'", pytype(v)),
                            ));
                        };
                        ids.push(create_one(conn, env, m.name, vals).await?);
                    }
                    Ok(Some(json!(ids)))
                }
                Some(other) => Err(OdooError::builtin(
                    "AttributeError",
                    format!("'{}' object has no attribute 'items'", pytype(other)),
                )),
                None => Err(OdooError::missing_args("BaseModel.create", &["vals_list"])),
            }
        }
        "name_search" => {
            let (a, _) = bind(
                &sig(
                    "BaseModel.name_search",
                    &["name", "domain", "operator", "limit"],
                    0,
                ),
                args,
                kwargs,
            )?;
            let name = opt_str(&a[0]).unwrap_or_default();
            let op = opt_str(&a[2]).unwrap_or_else(|| "ilike".into());
            let limit = opt_i64(&a[3])?.unwrap_or(100);
            let mut dom = match a[1].clone() {
                Some(Value::Array(d)) => d,
                _ => vec![],
            };
            if !name.is_empty() || op != "ilike" {
                let mut nd = vec![json!("&")];
                nd.push(json!(["display_name", op, name]));
                if dom.is_empty() {
                    dom = vec![json!(["display_name", op, name])];
                } else {
                    nd.push(json!("&"));
                    nd.pop();
                    let mut full = vec![json!("&"), json!(["display_name", op, name])];
                    if dom.len() > 1 {
                        let mut conj = vec![json!("&"); dom.len().saturating_sub(1)];
                        conj.extend(dom);
                        full.extend(conj);
                    } else {
                        full.extend(dom);
                    }
                    dom = full;
                }
            }
            let ids = orm::search(
                conn,
                env,
                m,
                &Value::Array(dom),
                &SearchOpts {
                    offset: 0,
                    limit: Some(limit),
                    order: None,
                },
            )
            .await?;
            let recs = orm::read(conn, env, m, &ids, &["display_name".to_string()], false).await?;
            Ok(Some(Value::Array(
                recs.into_iter()
                    .map(|r| json!([r["id"], r["display_name"]]))
                    .collect(),
            )))
        }
        "fields_get" => {
            let (a, _) = bind(
                &sig("BaseModel.fields_get", &["allfields", "attributes"], 0),
                args,
                kwargs,
            )?;
            let only = field_list(&a[0])?;
            let attrs = field_list(&a[1])?;
            let mut out = Map::new();
            for f in &m.fields {
                if !only.is_empty() && !only.iter().any(|o| o == f.name) {
                    continue;
                }
                let (ty, rel) = match f.kind {
                    Kind::Id | Kind::Int => ("integer", None),
                    Kind::Char => ("char", None),
                    Kind::Text => ("text", None),
                    Kind::Float => ("float", None),
                    Kind::Bool => ("boolean", None),
                    Kind::Datetime => ("datetime", None),
                    Kind::Date => ("date", None),
                    Kind::Selection => ("selection", None),
                    Kind::M2o(t) => ("many2one", Some(t)),
                    Kind::M2m(s) => ("many2many", Some(s.model)),
                    Kind::O2m(t, _) => ("one2many", Some(t)),
                };
                let mut d = Map::new();
                d.insert("type".into(), json!(ty));
                d.insert("string".into(), json!(f.string));
                d.insert("readonly".into(), json!(!f.writable() || f.name == "id"));
                d.insert("store".into(), json!(f.stored()));
                if let Some(r) = rel {
                    d.insert("relation".into(), json!(r));
                }
                if !attrs.is_empty() {
                    d.retain(|k, _| attrs.iter().any(|a| a == k));
                }
                out.insert(f.name.to_string(), Value::Object(d));
            }
            Ok(Some(Value::Object(out)))
        }
        "default_get" => {
            bind(
                &sig("BaseModel.default_get", &["fields_list"], 1),
                args,
                kwargs,
            )?;
            Ok(Some(json!({})))
        }
        "check_access_rights" | "has_access" => Ok(Some(json!(true))),
        "context_get" => {
            bind(&sig("ResUsers.context_get", &[], 0), args, kwargs)?;
            crate::users::context_get(conn, env).await.map(Some)
        }
        "update_list" => {
            bind(&sig("IrModuleModule.update_list", &[], 0), args, kwargs)?;
            Ok(Some(json!([0, 0])))
        }
        "get_param" => {
            let (a, _) = bind(
                &sig("IrConfigParameter.get_param", &["key", "default"], 1),
                args,
                kwargs,
            )?;
            crate::users::require_system(conn, env).await?;
            let key = opt_str(&a[0]).unwrap_or_default();
            let row: Option<(String,)> =
                sqlx::query_as("SELECT value FROM ir_config_parameter WHERE key = $1")
                    .bind(&key)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_err)?;
            Ok(Some(row.map(|r| json!(r.0)).unwrap_or_else(|| {
                a[1].clone().unwrap_or(Value::Bool(false))
            })))
        }
        "set_param" => {
            let (a, _) = bind(
                &sig("IrConfigParameter.set_param", &["key", "value"], 2),
                args,
                kwargs,
            )?;
            crate::users::require_system(conn, env).await?;
            let key = opt_str(&a[0]).unwrap_or_default();
            let old: Option<(String,)> =
                sqlx::query_as("SELECT value FROM ir_config_parameter WHERE key = $1")
                    .bind(&key)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_err)?;
            match a[1].as_ref() {
                Some(Value::Bool(false)) | Some(Value::Null) | None => {
                    sqlx::query("DELETE FROM ir_config_parameter WHERE key = $1")
                        .bind(&key)
                        .execute(&mut *conn)
                        .await
                        .map_err(db_err)?;
                }
                Some(v) => {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        o => o.to_string(),
                    };
                    sqlx::query("INSERT INTO ir_config_parameter (key, value, create_uid, write_uid) VALUES ($1, $2, $3, $3) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, write_uid = EXCLUDED.write_uid, write_date = now() at time zone 'utc'")
                        .bind(&key).bind(text).bind(env.uid as i32).execute(&mut *conn).await.map_err(db_err)?;
                }
            }
            Ok(Some(old.map(|r| json!(r.0)).unwrap_or(Value::Bool(false))))
        }
        "load_onboarding_bakery_scenario" => {
            bind(
                &sig("PosConfig.load_onboarding_bakery_scenario", &[], 0),
                args,
                kwargs,
            )?;
            let company = user_company(conn, env.uid).await?;
            crate::pos::load_onboarding_bakery_scenario(conn, env, company).await?;
            // An @api.model method that returns None: JSON-RPC answers null.
            Ok(Some(Value::Null))
        }
        "sync_from_ui" => {
            let (a, _) = bind(&sig("PosOrder.sync_from_ui", &["orders"], 1), args, kwargs)?;
            crate::pos::sync_from_ui(conn, env, a[0].clone().unwrap_or(Value::Null))
                .await
                .map(Some)
        }
        _ => Err(OdooError::builtin(
            "AttributeError",
            format!("The method '{}.{}' does not exist", m.name, method),
        )),
    }
}

pub fn pytype(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "int",
        Value::Number(_) => "float",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

async fn call_multi(
    conn: &mut PgConnection,
    env: &Env,
    m: &'static Model,
    method: &str,
    ids: Vec<i64>,
    args: &[Value],
    kwargs: &Map<String, Value>,
) -> Ret {
    match method {
        "read" => {
            let (a, _) = bind(&sig("BaseModel.read", &["fields", "load"], 0), args, kwargs)?;
            let fields = field_list(&a[0])?;
            let load = !is_load_none(&a[1]);
            Ok(Some(Value::Array(
                orm::read(conn, env, m, &ids, &fields, load).await?,
            )))
        }
        "write" => {
            let (a, _) = bind(&sig("BaseModel.write", &["vals"], 1), args, kwargs)?;
            let Some(Value::Object(vals)) = a[0].as_ref() else {
                return Err(OdooError::builtin(
                    "AttributeError",
                    format!(
                        "'{}' object has no attribute 'items'",
                        pytype(a[0].as_ref().unwrap_or(&Value::Null))
                    ),
                ));
            };
            write(conn, env, m, &ids, vals).await?;
            Ok(Some(json!(true)))
        }
        "unlink" => {
            bind(&sig("BaseModel.unlink", &[], 0), args, kwargs)?;
            unlink(conn, env, m, &ids).await?;
            Ok(Some(json!(true)))
        }
        "exists" => {
            bind(&sig("BaseModel.exists", &[], 0), args, kwargs)?;
            Ok(Some(json!(orm::existing(conn, m, &ids).await?)))
        }
        "browse" => Ok(Some(json!(ids))),
        "has_group" => {
            let (a, _) = bind(
                &sig("ResUsers.has_group", &["group_ext_id"], 1),
                args,
                kwargs,
            )?;
            // res.users.has_group (odoo/addons/base/models/res_users.py, 18.0)
            let uid = orm::singleton("res.users", &ids)?;
            if uid != env.uid
                && env.uid != 1
                && !crate::users::has_group(conn, env.uid, "base.group_user").await?
            {
                return Err(OdooError::access_error(
                    "You can ony call user.has_group() with your current user.",
                ));
            }
            let xml = opt_str(&a[0]).unwrap_or_default();
            // group_no_one counts only in debug mode (`request.session.debug`), and an RPC
            // call has no debug session: always false here.
            if xml == "base.group_no_one" {
                return Ok(Some(json!(false)));
            }
            // An unknown or unqualified id is simply not a group of the user (18.0 looks it
            // up in the group definitions; no assertion any more).
            Ok(Some(json!(crate::users::has_group(conn, uid, &xml).await?)))
        }
        "check" => Err(OdooError::access_denied()),
        "button_immediate_install" | "button_install" => {
            bind(
                &sig("IrModuleModule.button_immediate_install", &[], 0),
                args,
                kwargs,
            )?;
            crate::users::install_modules(conn, env, &ids).await?;
            if method == "button_install" {
                return Ok(Some(json!(true)));
            }
            Ok(Some(
                json!({"type": "ir.actions.act_url", "target": "self", "url": "/odoo"}),
            ))
        }
        "button_immediate_uninstall" => {
            Err(OdooError::user("odoo-sim does not uninstall modules."))
        }
        "open_ui" => crate::pos::open_ui(conn, env, &ids).await.map(Some),
        "set_opening_control" => {
            let (a, _) = bind(
                &sig(
                    "PosSession.set_opening_control",
                    &["cashbox_value", "notes"],
                    2,
                ),
                args,
                kwargs,
            )?;
            crate::pos::set_opening_control(
                conn,
                env,
                &ids,
                a[0].clone().unwrap_or(Value::Null),
                a[1].clone().unwrap_or(Value::Null),
            )
            .await?;
            Ok(None)
        }
        "action_pos_session_open" => {
            bind(
                &sig("PosSession.action_pos_session_open", &[], 0),
                args,
                kwargs,
            )?;
            crate::pos::action_open(conn, env, &ids).await.map(Some)
        }
        "login" => {
            bind(&sig("PosSession.login", &[], 0), args, kwargs)?;
            crate::pos::login(conn, env, &ids).await.map(Some)
        }
        "get_closing_control_data" => {
            bind(
                &sig("PosSession.get_closing_control_data", &[], 0),
                args,
                kwargs,
            )?;
            crate::pos::get_closing_control_data(conn, env, &ids)
                .await
                .map(Some)
        }
        "load_data" => {
            let (a, _) = bind(
                &sig("PosSession.load_data", &["models_to_load", "only_data"], 1),
                args,
                kwargs,
            )?;
            crate::pos_load::load_data(
                conn,
                env,
                &ids,
                a[0].clone().unwrap_or(Value::Null),
                matches!(a[1], Some(Value::Bool(true))),
            )
            .await
            .map(Some)
        }
        "post_closing_cash_details" => {
            let (a, _) = bind(
                &sig("PosSession.post_closing_cash_details", &["counted_cash"], 1),
                args,
                kwargs,
            )?;
            crate::pos::post_closing_cash_details(
                conn,
                env,
                &ids,
                a[0].clone().unwrap_or(Value::Null),
            )
            .await
            .map(Some)
        }
        "update_closing_control_state_session" => {
            let (a, _) = bind(
                &sig(
                    "PosSession.update_closing_control_state_session",
                    &["notes"],
                    1,
                ),
                args,
                kwargs,
            )?;
            crate::pos::update_closing_control_state_session(
                conn,
                env,
                &ids,
                a[0].clone().unwrap_or(Value::Null),
            )
            .await?;
            Ok(None)
        }
        "close_session_from_ui" => {
            bind(
                &sig(
                    "PosSession.close_session_from_ui",
                    &["bank_payment_method_diff_pairs"],
                    0,
                ),
                args,
                kwargs,
            )?;
            crate::pos::close_session_from_ui(conn, env, &ids)
                .await
                .map(Some)
        }
        "action_pos_session_validate" | "action_pos_session_close" => {
            bind(
                &sig(
                    "PosSession.action_pos_session_close",
                    &[
                        "balancing_account",
                        "amount_to_balance",
                        "bank_payment_method_diffs",
                    ],
                    0,
                ),
                args,
                kwargs,
            )?;
            crate::pos::action_validate(conn, env, &ids).await.map(Some)
        }
        "action_pos_session_closing_control" => {
            bind(
                &sig(
                    "PosSession.action_pos_session_closing_control",
                    &[
                        "balancing_account",
                        "amount_to_balance",
                        "bank_payment_method_diffs",
                    ],
                    0,
                ),
                args,
                kwargs,
            )?;
            crate::pos::action_closing_control(conn, env, &ids)
                .await
                .map(Some)
        }
        _ => Err(OdooError::builtin(
            "AttributeError",
            format!("The method '{}.{}' does not exist", m.name, method),
        )),
    }
}

// ------------------------------------------------------------------ create

async fn user_company(conn: &mut PgConnection, uid: i64) -> OResult<i64> {
    let row: Option<(i32,)> = sqlx::query_as("SELECT company_id FROM res_users WHERE id = $1")
        .bind(uid as i32)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(row.map(|r| r.0 as i64).unwrap_or(1))
}

fn set_default(p: &mut orm::Prepared, col: &'static str, val: String, cast: &'static str) {
    if !p.cols.iter().any(|(c, _, _)| *c == col) {
        p.cols.push((col, Some(val), cast));
    }
}

fn take_via(p: &mut orm::Prepared) -> Map<String, Value> {
    let mut m = Map::new();
    for (f, v) in p.via.drain(..) {
        m.insert(f.name.to_string(), v);
    }
    m
}

pub type BoxFut<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + 'a>>;

/// Create one record of `model` from `vals` (Odoo `create`), with model hooks.
pub fn create_one<'a>(
    conn: &'a mut PgConnection,
    env: &'a Env,
    model: &'a str,
    vals: &'a Map<String, Value>,
) -> BoxFut<'a, OResult<i64>> {
    Box::pin(create_one_impl(conn, env, model, vals))
}

async fn create_one_impl(
    conn: &mut PgConnection,
    env: &Env,
    model: &str,
    vals: &Map<String, Value>,
) -> OResult<i64> {
    let m = models::model(model)
        .ok_or_else(|| OdooError::user(format!("Object {model} doesn't exist")))?;
    if model == "pos.order" {
        return crate::pos::create_order(conn, env, vals, None).await;
    }
    let mut vals_clean = vals.clone();
    let no_variant = vals_clean.remove("__no_variant").is_some();
    let vals = &vals_clean;
    let mut p = orm::prepare(m, vals)?;
    let company = user_company(conn, env.uid).await?;
    match model {
        "res.partner"
            if vals
                .get("name")
                .is_none_or(|v| matches!(v, Value::Bool(false) | Value::Null))
                && !vals.contains_key("parent_id") =>
        {
            return Err(OdooError::validation("Contacts require a name"));
        }
        "res.company" => {
            if !p.cols.iter().any(|c| c.0 == "partner_id") {
                let mut pv = Map::new();
                pv.insert(
                    "name".into(),
                    vals.get("name").cloned().unwrap_or(Value::Bool(false)),
                );
                pv.insert("is_company".into(), json!(true));
                for k in ["email", "phone"] {
                    if let Some(v) = vals.get(k) {
                        pv.insert(k.into(), v.clone());
                    }
                }
                let pid = (create_one(conn, env, "res.partner", &pv)).await?;
                p.cols.push(("partner_id", Some(pid.to_string()), "int"));
            }
            set_default(&mut p, "currency_id", "1".into(), "int");
        }
        "res.users" => {
            let via = take_via(&mut p);
            if !p.cols.iter().any(|c| c.0 == "partner_id") {
                let mut pv = via.clone();
                pv.insert(
                    "company_id".into(),
                    json!(vals.get("company_id").cloned().unwrap_or(json!(company))),
                );
                if !pv.contains_key("name") {
                    pv.insert(
                        "name".into(),
                        vals.get("login").cloned().unwrap_or(Value::Bool(false)),
                    );
                }
                let pid = (create_one(conn, env, "res.partner", &pv)).await?;
                p.cols.push(("partner_id", Some(pid.to_string()), "int"));
            }
            if let Some(i) = p.cols.iter().position(|c| c.0 == "password") {
                let plain = p.cols[i].1.clone().unwrap_or_default();
                p.cols[i].1 = if plain.is_empty() {
                    None
                } else {
                    Some(crate::template::hash_password(&plain).await)
                };
            }
            set_default(&mut p, "company_id", company.to_string(), "int");
            if !p.x2m.iter().any(|(f, _)| f.name == "company_ids") {
                let cid = p
                    .cols
                    .iter()
                    .find(|c| c.0 == "company_id")
                    .and_then(|c| c.1.clone())
                    .unwrap_or_default();
                let f = m
                    .field("company_ids")
                    .ok_or_else(|| OdooError::generic("no company_ids"))?;
                p.x2m
                    .push((f, json!([[6, 0, [cid.parse::<i64>().unwrap_or(company)]]])));
            }
            if !p.x2m.iter().any(|(f, _)| f.name == "groups_id")
                && !vals.get("share").is_some_and(|v| v == &json!(true))
            {
                let f = m
                    .field("groups_id")
                    .ok_or_else(|| OdooError::generic("no groups_id"))?;
                let gid = crate::users::xmlid_res_id(conn, "base.group_user")
                    .await?
                    .unwrap_or(1);
                p.x2m.push((f, json!([[6, 0, [gid]]])));
            }
        }
        "product.product" => {
            let via = take_via(&mut p);
            let mut tv = via;
            for k in ["default_code", "barcode"] {
                if let Some(v) = vals.get(k) {
                    tv.insert(k.into(), v.clone());
                }
            }
            tv.insert("__no_variant".into(), json!(true));
            let tid = (create_one(conn, env, "product.template", &tv)).await?;
            p.cols
                .push(("product_tmpl_id", Some(tid.to_string()), "int"));
        }
        "pos.config" => {
            set_default(&mut p, "company_id", company.to_string(), "int");
            if !p.cols.iter().any(|c| c.0 == "journal_id") {
                let j = crate::pos::ensure_company_account_journal(conn, env, company).await?;
                p.cols.push(("journal_id", Some(j.to_string()), "int"));
            }
            set_default(&mut p, "picking_type_id", "9".into(), "int");
            if !p.x2m.iter().any(|(f, _)| f.name == "payment_method_ids") {
                let pms = crate::pos::default_payment_methods(conn, env, company).await?;
                let f = m
                    .field("payment_method_ids")
                    .ok_or_else(|| OdooError::generic("no payment_method_ids"))?;
                p.x2m.push((f, json!([[6, 0, pms]])));
            }
        }
        "pos.payment.method" => {
            set_default(&mut p, "company_id", company.to_string(), "int");
            // is_cash_count is computed (stored) from the journal's type: cash.
            if !vals.contains_key("is_cash_count") {
                let cash = crate::pos::journal_is_cash(conn, vals.get("journal_id")).await?;
                p.cols
                    .push(("is_cash_count", Some(cash.to_string()), "boolean"));
            }
        }
        "account.tax" | "account.journal" => {
            set_default(&mut p, "company_id", company.to_string(), "int");
        }
        "pos.session" => {
            return crate::pos::create_session(conn, env, p).await;
        }
        _ => {}
    }
    let id = orm::insert(conn, env, m, &p.cols).await?;
    apply_x2m(conn, env, m, id, std::mem::take(&mut p.x2m)).await?;
    match model {
        "res.company" => {
            let f = models::model("res.users").and_then(|u| u.field("company_ids"));
            for uid in [env.uid, 1] {
                if let (Some(f), Some(um)) = (f, models::model("res.users")) {
                    apply_x2m(conn, env, um, uid, vec![(f, json!([[4, id]]))]).await?;
                }
            }
            crate::users::sync_multi_company(conn, &[env.uid, 1]).await?;
        }
        "res.users" => {
            crate::users::sync_multi_company(conn, &[id]).await?;
        }
        "product.template" if !no_variant => {
            sqlx::query("INSERT INTO product_product (product_tmpl_id, default_code, barcode, create_uid, write_uid) VALUES ($1, $2, $3, $4, $4)")
                .bind(id as i32)
                .bind(vals.get("default_code").and_then(Value::as_str))
                .bind(vals.get("barcode").and_then(Value::as_str))
                .bind(env.uid as i32)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
        }
        "pos.config" => {
            crate::pos::check_payment_method_ids_journal(conn, id).await?;
            crate::pos::create_config_sequence(conn, id).await?
        }
        _ => {}
    }
    Ok(id)
}

/// Apply x2many values after the main row exists.
pub fn apply_x2m<'a>(
    conn: &'a mut PgConnection,
    env: &'a Env,
    m: &'static Model,
    id: i64,
    x2m: Vec<(&'static models::Field, Value)>,
) -> BoxFut<'a, OResult<()>> {
    Box::pin(apply_x2m_impl(conn, env, m, id, x2m))
}

async fn apply_x2m_impl(
    conn: &mut PgConnection,
    env: &Env,
    m: &'static Model,
    id: i64,
    x2m: Vec<(&'static models::Field, Value)>,
) -> OResult<()> {
    for (f, v) in x2m {
        let cmds = orm::parse_commands(f, m, &v)?;
        match f.kind {
            Kind::M2m(spec) => {
                let key = if spec.key == "id" {
                    id
                } else {
                    let row: (i32,) = sqlx::query_as(&format!(
                        "SELECT {}::int FROM {} WHERE id = $1",
                        spec.key, m.table
                    ))
                    .bind(id as i32)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
                    row.0 as i64
                };
                orm::apply_m2m(conn, spec, key, cmds).await?;
            }
            Kind::O2m(child, inverse) => {
                let cm = models::model(child)
                    .ok_or_else(|| OdooError::user(format!("Object {child} doesn't exist")))?;
                for c in cmds {
                    match c {
                        Cmd::Create(mut vals) => {
                            vals.insert(inverse.to_string(), json!(id));
                            (create_one(conn, env, child, &vals)).await?;
                        }
                        Cmd::Update(cid, vals) => (write(conn, env, cm, &[cid], &vals)).await?,
                        Cmd::Delete(cid) => (unlink(conn, env, cm, &[cid])).await?,
                        Cmd::Link(cid) => {
                            orm::update(conn, env, cm, &[cid], &[(inverse_col(cm, inverse), Some(id.to_string()), "int")]).await?
                        }
                        Cmd::Unlink(cid) => orm::update(conn, env, cm, &[cid], &[(inverse_col(cm, inverse), None, "int")]).await?,
                        Cmd::Clear | Cmd::Set(_) => {
                            return Err(OdooError::user("odoo-sim supports only create/update/delete/link commands on one2many fields."))
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn inverse_col(m: &Model, inverse: &str) -> &'static str {
    m.fields
        .iter()
        .find(|f| f.name == inverse)
        .and_then(|f| f.column)
        .unwrap_or("id")
}

pub fn write<'a>(
    conn: &'a mut PgConnection,
    env: &'a Env,
    m: &'static Model,
    ids: &'a [i64],
    vals: &'a Map<String, Value>,
) -> BoxFut<'a, OResult<()>> {
    Box::pin(write_impl(conn, env, m, ids, vals))
}

async fn write_impl(
    conn: &mut PgConnection,
    env: &Env,
    m: &'static Model,
    ids: &[i64],
    vals: &Map<String, Value>,
) -> OResult<()> {
    let mut p = orm::prepare(m, vals)?;
    orm::ensure_exist(conn, env, m, ids).await?;
    if m.name == "res.users" {
        if let Some(i) = p.cols.iter().position(|c| c.0 == "password") {
            let plain = p.cols[i].1.clone().unwrap_or_default();
            p.cols[i].1 = Some(crate::template::hash_password(&plain).await);
        }
    }
    let via = take_via(&mut p);
    orm::update(conn, env, m, ids, &p.cols).await?;
    if !via.is_empty() {
        let (target, key) = match m.name {
            "res.users" => ("res.partner", "partner_id"),
            "product.product" => ("product.template", "product_tmpl_id"),
            _ => return Err(OdooError::user("unsupported related write")),
        };
        let tm = models::model(target).ok_or_else(|| OdooError::generic("model"))?;
        let mut q = orm::Sql::default();
        let pids = q.arr(ids.iter().map(|i| i.to_string()).collect(), "bigint");
        let sql = format!(
            "SELECT DISTINCT {key}::bigint FROM {} WHERE id = ANY({pids})",
            m.table
        );
        let rows: Vec<(i64,)> = sqlx::query_as_with(&sql, q.args())
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        let tids: Vec<i64> = rows.into_iter().map(|r| r.0).collect();
        for tid in tids {
            (write(conn, env, tm, &[tid], &via)).await?;
        }
    }
    let x2m = std::mem::take(&mut p.x2m);
    let touches_companies = x2m.iter().any(|(f, _)| f.name == "company_ids");
    for id in ids {
        apply_x2m(conn, env, m, *id, x2m.clone()).await?;
    }
    if m.name == "res.users" && touches_companies {
        crate::users::sync_multi_company(conn, ids).await?;
    }
    if m.name == "pos.config" && vals.contains_key("payment_method_ids") {
        for id in ids {
            crate::pos::check_payment_method_ids_journal(conn, *id).await?;
        }
    }
    if m.name == "pos.payment.method"
        && vals.contains_key("journal_id")
        && !vals.contains_key("is_cash_count")
    {
        let cash = crate::pos::journal_is_cash(conn, vals.get("journal_id")).await?;
        let col = [("is_cash_count", Some(cash.to_string()), "boolean")];
        orm::update(conn, env, m, ids, &col).await?;
    }
    // product_template.py write (18.0): archiving a template archives its variants.
    if m.name == "product.template"
        && vals
            .get("active")
            .is_some_and(|v| !v.as_bool().unwrap_or(true))
    {
        let ids32: Vec<i32> = ids.iter().map(|i| *i as i32).collect();
        sqlx::query("UPDATE product_product SET active = false WHERE product_tmpl_id = ANY($1)")
            .bind(&ids32)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

pub fn unlink<'a>(
    conn: &'a mut PgConnection,
    env: &'a Env,
    m: &'static Model,
    ids: &'a [i64],
) -> BoxFut<'a, OResult<()>> {
    Box::pin(unlink_impl(conn, env, m, ids))
}

async fn unlink_impl(
    conn: &mut PgConnection,
    env: &Env,
    m: &'static Model,
    ids: &[i64],
) -> OResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    orm::ensure_exist(conn, env, m, ids).await?;
    match m.name {
        "res.users" if ids.iter().any(|i| *i <= 2) => {
            return Err(OdooError::user("You can not remove the admin user as it is used internally for resources created by Odoo (updates, module installation, ...)"))
        }
        "res.company" if ids.contains(&1) => return Err(OdooError::user("You cannot delete the main company.")),
        "pos.order" => {
            let mut q = orm::Sql::default();
            let p = q.arr(ids.iter().map(|i| i.to_string()).collect(), "bigint");
            let sql = format!("SELECT count(*)::bigint FROM pos_order WHERE id = ANY({p}) AND state NOT IN ('draft', 'cancel')");
            let (n,): (i64,) = sqlx::query_as_with(&sql, q.args()).fetch_one(&mut *conn).await.map_err(db_err)?;
            if n > 0 {
                return Err(OdooError::user("In order to delete a sale, it must be new or cancelled."));
            }
        }
        _ => {}
    }
    let mut q = orm::Sql::default();
    let p = q.arr(ids.iter().map(|i| i.to_string()).collect(), "bigint");
    let sql = format!("DELETE FROM {} WHERE id = ANY({p})", m.table);
    sqlx::query_with(&sql, q.args())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}
