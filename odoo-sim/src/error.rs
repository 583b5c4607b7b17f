//! Odoo's JSON-RPC error envelope (`odoo/http.py serialize_exception`).

use serde_json::{json, Value};

/// An exception as Odoo would serialise it into `error.data`.
#[derive(Debug, Clone)]
pub struct OdooError {
    /// `error.code`: 200 generic, 100 session expired, 404 werkzeug NotFound.
    pub code: i64,
    /// `<module>.<Class>` as in `data.name`.
    pub name: String,
    pub message: String,
    pub arguments: Vec<Value>,
    /// Python class name as it appears on the last traceback line (defaults to `name`).
    pub tb_name: Option<String>,
    /// When true the envelope carries `"id": null` (raised before the JSON dispatcher read the id).
    pub null_id: bool,
}

impl OdooError {
    fn new(name: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        OdooError {
            code: 200,
            name: name.to_string(),
            arguments: vec![Value::String(message.clone())],
            message,
            tb_name: None,
            null_id: false,
        }
    }
    pub fn user(msg: impl Into<String>) -> Self {
        Self::new("odoo.exceptions.UserError", msg)
    }
    pub fn validation(msg: impl Into<String>) -> Self {
        Self::new("odoo.exceptions.ValidationError", msg)
    }
    pub fn access_error(msg: impl Into<String>) -> Self {
        Self::new("odoo.exceptions.AccessError", msg)
    }
    pub fn access_denied() -> Self {
        Self::new("odoo.exceptions.AccessDenied", "Access Denied")
    }
    pub fn access_denied_msg(msg: impl Into<String>) -> Self {
        Self::new("odoo.exceptions.AccessDenied", msg)
    }
    pub fn missing(msg: impl Into<String>) -> Self {
        Self::new("odoo.exceptions.MissingError", msg)
    }
    /// Python builtin exception (`builtins.X`); the traceback line shows bare `X`.
    pub fn builtin(class: &str, msg: impl Into<String>) -> Self {
        let mut e = Self::new(&format!("builtins.{class}"), msg);
        e.tb_name = Some(class.to_string());
        e
    }
    pub fn type_error(msg: impl Into<String>) -> Self {
        Self::builtin("TypeError", msg)
    }
    pub fn value_error(msg: impl Into<String>) -> Self {
        Self::builtin("ValueError", msg)
    }
    /// `KeyError('x')`. `data.message` is Odoo's `exception_to_unicode` (`odoo/loglevels.py`):
    /// the arguments joined by newlines with `str()`, so no quotes; only the traceback's last
    /// line shows Python's `KeyError: 'x'`.
    pub fn key_error(key: &str) -> Self {
        Self::builtin("KeyError", key)
    }
    pub fn key_error_int(key: i64) -> Self {
        let mut e = Self::builtin("KeyError", key.to_string());
        e.arguments = vec![json!(key)];
        e
    }
    pub fn invalid_field(field: &str, model: &str) -> Self {
        Self::value_error(format!("Invalid field '{field}' on model '{model}'"))
    }
    pub fn generic(msg: impl Into<String>) -> Self {
        let mut e = Self::builtin("Exception", msg);
        e.tb_name = Some("Exception".into());
        e
    }
    pub fn operational(msg: impl Into<String>) -> Self {
        Self::new("psycopg2.OperationalError", msg)
    }
    pub fn session_expired() -> Self {
        let mut e = Self::new("odoo.http.SessionExpiredException", "Session expired");
        e.code = 100;
        e.null_id = true;
        e
    }
    pub fn not_found() -> Self {
        let mut e = Self::new(
            "werkzeug.exceptions.NotFound",
            "404 Not Found: The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.",
        );
        e.code = 404;
        e.arguments = vec![];
        e.null_id = true;
        e
    }
    /// Python-style "missing positional argument" TypeError.
    pub fn missing_args(func: &str, names: &[&str]) -> Self {
        let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
        let list = match quoted.len() {
            0 => String::new(),
            1 => quoted[0].clone(),
            n => format!("{} and {}", quoted[..n - 1].join(", "), quoted[n - 1]),
        };
        let plural = if names.len() == 1 {
            "argument"
        } else {
            "arguments"
        };
        Self::type_error(format!(
            "{func}() missing {} required positional {plural}: {list}",
            names.len()
        ))
    }
    /// Python-style "takes N positional arguments but M were given".
    pub fn too_many_args(func: &str, min: usize, max: usize, given: usize) -> Self {
        let takes = if min == max {
            format!("{max}")
        } else {
            format!("from {min} to {max}")
        };
        let plural = if max == 1 && min == max {
            "argument"
        } else {
            "arguments"
        };
        let were = if given == 1 { "was" } else { "were" };
        Self::type_error(format!(
            "{func}() takes {takes} positional {plural} but {given} {were} given"
        ))
    }

    pub fn message_text(&self) -> &str {
        &self.message
    }

    /// The `error` member of the envelope.
    pub fn to_error_value(&self) -> Value {
        let message = if self.code == 100 {
            "Odoo Session Expired"
        } else if self.code == 404 {
            "404: Not Found"
        } else {
            "Odoo Server Error"
        };
        let tb = self.tb_name.as_deref().unwrap_or(&self.name);
        // str(KeyError('x')) is "'x'": only the traceback shows the quotes.
        let tb_message = match (self.name.as_str(), self.arguments.first()) {
            ("builtins.KeyError", Some(Value::String(k))) => format!("'{k}'"),
            _ => self.message.clone(),
        };
        json!({
            "code": self.code,
            "message": message,
            "data": {
                "name": self.name,
                "debug": format!("Traceback (most recent call last):\n  (odoo-sim)\n{tb}: {tb_message}\n"),
                "message": self.message,
                "arguments": self.arguments,
                "context": {},
            }
        })
    }

    pub fn envelope(&self, id: &Value) -> Value {
        let id = if self.null_id {
            Value::Null
        } else {
            id.clone()
        };
        json!({"jsonrpc": "2.0", "id": id, "error": self.to_error_value()})
    }
}

impl std::fmt::Display for OdooError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl std::error::Error for OdooError {}

pub type OResult<T> = Result<T, OdooError>;

/// (model description, model name, field label, field name).
pub type FieldDesc = (String, String, String, String);

/// Convert a database error the way `odoo/service/model.py _as_validation_error` does
/// for integrity errors; anything else becomes a psycopg2-looking error.
pub fn from_sqlx(e: sqlx::Error, describe: &dyn Fn(&str, &str) -> Option<FieldDesc>) -> OdooError {
    if let sqlx::Error::Database(db) = &e {
        if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
            let table = pg.table().unwrap_or("");
            let column = pg.column().unwrap_or("");
            let (model_desc, model_name, field_string, field_name) = describe(table, column)
                .unwrap_or_else(|| {
                    (
                        "Unknown".into(),
                        "unknown".into(),
                        "Unknown".into(),
                        "unknown".into(),
                    )
                });
            match pg.code() {
                "23502" => {
                    return OdooError::validation(format!(
                        "The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n- Delete: another model requires the record being deleted. If possible, archive it instead.\n\nModel: {model_desc} ({model_name})\nField: {field_string} ({field_name})\n"
                    ))
                }
                "23503" => {
                    return OdooError::validation(format!(
                        "The operation cannot be completed: another model requires the record being deleted. If possible, archive it instead.\n\nModel: {model_desc} ({model_name})\nConstraint: {}\n",
                        pg.constraint().unwrap_or("")
                    ))
                }
                "23505" => {
                    return OdooError::validation(format!(
                        "The operation cannot be completed: {}",
                        pg.message()
                    ))
                }
                "22P02" | "22003" | "22007" | "22008" | "42883" => {
                    let mut err = OdooError::new("psycopg2.errors.InvalidTextRepresentation", pg.message());
                    if pg.code() != "22P02" {
                        err.name = "psycopg2.errors.DataError".into();
                    }
                    return err;
                }
                _ => {}
            }
            return OdooError::new("psycopg2.errors.DatabaseError", pg.message());
        }
    }
    OdooError::operational(e.to_string())
}
