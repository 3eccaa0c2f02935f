//! Violations in the user's terms: where (a path into the KafkaConnector as written, e.g.
//! `spec.config."tasks.max"`), which rule (the schema's), and the policy's message. Values of PASSWORD-like
//! keys and of `configFrom` keys are named, never shown; objects are named by their path rather than
//! printed whole.

use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use super::Compiled;
use super::view::ConnectorView;
use crate::crd::PolicyAction;
use crate::redact::Redactor;

/// Most violations reported per policy and connector.
pub const MAX_VIOLATIONS_PER_POLICY: usize = 10;

/// Longest rule text kept (a schema's `enum` or `const` can be long).
const MAX_RULE_CHARS: usize = 300;

/// One failed rule of one policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub policy: String,
    pub action: PolicyAction,
    /// Where, in the KafkaConnector as written: `spec.tasksMax`, `spec.config."errors.tolerance"`, …
    pub path: String,
    /// The rule, as the schema states it: `16 is greater than the maximum of 8`.
    pub rule: String,
    /// The policy's message, placeholders filled in.
    pub message: Option<String>,
}

impl Violation {
    /// `policy <name>: <path>: <rule> — <message>`: one line of a denial, a warning or a condition.
    pub fn line(&self) -> String {
        match &self.message {
            Some(m) if !m.trim().is_empty() => format!(
                "policy {}: {}: {} — {}",
                self.policy,
                self.path,
                self.rule,
                m.trim()
            ),
            _ => format!("policy {}: {}: {}", self.policy, self.path, self.rule),
        }
    }
}

/// Unescapes the segments of a JSON pointer (`/config/a~1b` → `config`, `a/b`).
fn segments(pointer: &str) -> Vec<String> {
    if pointer.is_empty() {
        return Vec::new();
    }
    pointer
        .trim_start_matches('/')
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// A map key in a path: quoted, as kubectl users write keys with dots.
fn key(k: &str) -> String {
    format!("{k:?}")
}

/// The view's path `segs` in the KafkaConnector as written.
fn user_path(view: &ConnectorView, segs: &[String]) -> String {
    let Some((first, rest)) = segs.split_first() else {
        return "the connector".into();
    };
    let mut out = match first.as_str() {
        "name" if view.spec_name => "spec.name".to_string(),
        "name" => "metadata.name".to_string(),
        "namespace" => "metadata.namespace".to_string(),
        "class" => "spec.class".to_string(),
        "type" => "the plugin type of spec.class".to_string(),
        "tasksMax" => "spec.tasksMax".to_string(),
        "state" => "spec.state".to_string(),
        "config" => "spec.config".to_string(),
        "configFrom" => "spec.configFrom".to_string(),
        "clusterRef" => "spec.clusterRef".to_string(),
        other => other.to_string(),
    };
    let maps = matches!(first.as_str(), "config" | "configFrom");
    for (i, s) in rest.iter().enumerate() {
        if i == 0 && maps {
            out.push('.');
            out.push_str(&key(s));
        } else if s.parse::<usize>().is_ok() {
            out.push_str(&format!("[{s}]"));
        } else {
            out.push('.');
            out.push_str(s);
        }
    }
    out
}

/// A schema location (a JSON pointer into `spec.schema`) as a path: `.properties.tasksMax.maximum`.
pub(super) fn schema_path(pointer: &str) -> String {
    segments(pointer)
        .iter()
        .map(|s| {
            if s.parse::<usize>().is_ok() {
                format!("[{s}]")
            } else if s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
            {
                format!(".{s}")
            } else {
                format!(".{}", key(s))
            }
        })
        .collect()
}

fn cut(s: String) -> String {
    if s.chars().count() <= MAX_RULE_CHARS {
        return s;
    }
    let mut out: String = s.chars().take(MAX_RULE_CHARS).collect();
    out.push_str(" …");
    out
}

/// One schema error of `policy` on `view` as a violation.
pub(super) fn violation(
    policy: &Compiled,
    view: &ConnectorView,
    e: &jsonschema::ValidationError<'_>,
    message: Option<String>,
) -> Violation {
    let mut segs = segments(e.instance_path().as_str());
    let mut rule = None;
    if let ValidationErrorKind::Required { property } = e.kind() {
        // Where the missing value belongs, rather than the object that lacks it.
        segs.push(
            property
                .as_str()
                .map_or_else(|| property.to_string(), String::from),
        );
        rule = Some("is required".to_string());
    }
    let path = user_path(view, &segs);
    let hidden_key = match segs.as_slice() {
        [map, k, ..] if map == "config" && view.hidden.contains(k) => Some(k.clone()),
        [map, k, ..] if map == "configFrom" => Some(k.clone()),
        _ => None,
    };
    let rule = rule.unwrap_or_else(|| match (&hidden_key, e.instance().as_ref()) {
        (Some(k), _) => e.masked_with(format!("the value of `{k}`")).to_string(),
        (None, Value::Object(_) | Value::Array(_)) => e.masked_with(path.clone()).to_string(),
        (None, _) => e.to_string(),
    });
    // A schema's own texts (`const`, `enum`) could still quote a secret value: a last pass over the line.
    let redactor = Redactor::from_config(&view.secret_values());
    Violation {
        policy: policy.name.clone(),
        action: policy.action,
        path,
        rule: cut(redactor.redact(&rule)),
        message: message.map(|m| redactor.redact(&m)),
    }
}
