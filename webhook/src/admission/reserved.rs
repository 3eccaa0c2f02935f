//! Reserved config keys (`name`, `connector.class`, `tasks.max`, `connector.plugin.version`) belong in their
//! spec fields. `/mutate` moves
//! them there; `/validate` denies them when the mutating webhook was bypassed. Both judge a key the same way.

use serde_json::{Map, Value};
use shared::config::{RESERVED_CLASS, RESERVED_NAME, RESERVED_PLUGIN_VERSION, RESERVED_TASKS_MAX};

use super::text::cut;

/// A reserved config key and the spec field it belongs in.
pub(crate) struct ReservedKey {
    pub(crate) key: &'static str,
    pub(crate) field: &'static str,
}

pub(crate) const RESERVED: [ReservedKey; 4] = [
    ReservedKey {
        key: RESERVED_NAME,
        field: "name",
    },
    ReservedKey {
        key: RESERVED_CLASS,
        field: "class",
    },
    ReservedKey {
        key: RESERVED_TASKS_MAX,
        field: "tasksMax",
    },
    ReservedKey {
        key: RESERVED_PLUGIN_VERSION,
        field: "version",
    },
];

/// What a reserved key in `spec.config` means next to its spec field.
pub(crate) enum ReservedCheck {
    /// The field is empty: move the value there.
    Move(Value),
    /// The field already says the same.
    Duplicate,
    /// They disagree, or the value cannot be moved: one line saying why.
    Conflict(String),
}

/// A JSON scalar as the string Kafka Connect would read.
pub(crate) fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `org.apache.kafka.connect.file.FileStreamSourceConnector` and `FileStreamSource` name the same class.
fn simple_class(c: &str) -> &str {
    let s = c.trim();
    let s = s.rsplit('.').next().unwrap_or(s);
    s.strip_suffix("Connector").unwrap_or(s)
}

/// Judges the reserved key `r`, found in `spec.config` with `value`, against the spec's own field.
pub(crate) fn check_reserved(
    r: &ReservedKey,
    value: &Value,
    spec: &Map<String, Value>,
) -> ReservedCheck {
    let Some(text) = scalar_string(value) else {
        return ReservedCheck::Conflict(format!(
            "spec.config.{:?} belongs in spec.{} and must be a string, got {}",
            r.key,
            r.field,
            shared::config::json_type(value)
        ));
    };
    let field = spec.get(r.field).filter(|v| !v.is_null());
    let field_text = field.and_then(scalar_string).filter(|s| !s.is_empty());
    if r.field == "tasksMax" {
        let Some(n) = text.trim().parse::<i32>().ok().filter(|n| *n >= 1) else {
            return ReservedCheck::Conflict(format!(
                "spec.config.\"tasks.max\" is {:?}, not a whole number ≥ 1; set spec.tasksMax instead",
                cut(&text)
            ));
        };
        return match field {
            None => ReservedCheck::Move(Value::from(n)),
            Some(f) if f.as_i64() == Some(n.into()) => ReservedCheck::Duplicate,
            Some(f) => ReservedCheck::Conflict(format!(
                "spec.config.\"tasks.max\" is {:?} but spec.tasksMax is {}: set it in spec.tasksMax only",
                cut(&text),
                cut(&f.to_string())
            )),
        };
    }
    match field_text {
        None => ReservedCheck::Move(Value::String(text)),
        Some(f) if f == text => ReservedCheck::Duplicate,
        Some(f) if r.field == "class" && simple_class(&f) == simple_class(&text) => {
            ReservedCheck::Duplicate
        }
        Some(f) => ReservedCheck::Conflict(format!(
            "spec.config.{:?} is {:?} but spec.{} is {:?}: set it in spec.{} only",
            r.key,
            cut(&text),
            r.field,
            cut(&f),
            r.field
        )),
    }
}
