//! The view of a connector that policies see: a small, documented JSON document, so policies do not depend
//! on the CRD's layout and never see a value that `configFrom` holds.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::crd::{ConnectorState, KafkaConnectCluster, KafkaConnector};
use crate::redact::is_sensitive_key;

/// A connector as policies see it.
#[derive(Debug, Clone)]
pub struct ConnectorView {
    /// The document the schema is applied to.
    json: Value,
    /// `spec.class` as written.
    pub class: String,
    /// The class the cluster resolves `spec.class` to, when the cluster reports its plugins.
    pub resolved_class: Option<String>,
    pub name: String,
    pub namespace: String,
    pub cluster: Option<String>,
    pub plugin_type: Option<String>,
    /// Whether `spec.name` is set (else the name is `metadata.name`).
    pub(super) spec_name: bool,
    /// Config keys whose values are never shown: PASSWORD-like keys and every `configFrom` key.
    pub(super) hidden: BTreeSet<String>,
}

/// The installed plugin `class` names on `cluster`, as Kafka Connect resolves it: the full class name, the
/// simple name, or the simple name without `Connector`. Returns (full class name, type).
pub fn plugin_of<'a>(class: &str, cluster: &'a KafkaConnectCluster) -> Option<(&'a str, &'a str)> {
    let plugins = &cluster.status.as_ref()?.plugins;
    let simple = |c: &'a str| c.rsplit('.').next().unwrap_or(c);
    plugins
        .iter()
        .find(|p| p.class == class)
        .or_else(|| {
            plugins.iter().find(|p| {
                let s = simple(&p.class);
                s == class || s.strip_suffix("Connector") == Some(class)
            })
        })
        .map(|p| (p.class.as_str(), p.kind.as_str()))
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl ConnectorView {
    /// The view of `c`, targeting `cluster` (when known).
    pub fn of(c: &KafkaConnector, cluster: Option<&KafkaConnectCluster>) -> ConnectorView {
        let spec = &c.spec;
        let name = c.connector_name();
        let namespace = c.metadata.namespace.clone().unwrap_or_default();
        let plugin = cluster.and_then(|cl| plugin_of(&spec.class, cl));
        let plugin_type = plugin
            .map(|(_, t)| t)
            .filter(|t| matches!(*t, "source" | "sink"))
            .map(String::from);
        // Values that are not strings are refused by the webhook's own rules; numbers and booleans read as
        // the strings they become.
        let config: Map<String, Value> = spec
            .config
            .iter()
            .filter_map(|(k, v)| scalar_string(v).map(|s| (k.clone(), Value::String(s))))
            .collect();
        let config_from: Map<String, Value> = spec
            .config_from
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or(Value::Null)))
            .collect();
        let mut doc = Map::new();
        doc.insert("name".into(), json!(name));
        doc.insert("namespace".into(), json!(namespace));
        doc.insert("class".into(), json!(spec.class));
        if let Some(t) = &plugin_type {
            doc.insert("type".into(), json!(t));
        }
        if let Some(n) = spec.tasks_max {
            doc.insert("tasksMax".into(), json!(n));
        }
        let state = match spec.state {
            ConnectorState::Running => "running",
            ConnectorState::Paused => "paused",
            ConnectorState::Stopped => "stopped",
        };
        doc.insert("state".into(), json!(state));
        doc.insert("config".into(), Value::Object(config));
        doc.insert("configFrom".into(), Value::Object(config_from));
        let cluster_name = c.cluster_key().map(|(ns, n)| {
            doc.insert("clusterRef".into(), json!({"name": n, "namespace": ns}));
            format!("{ns}/{n}")
        });
        let hidden = spec
            .config
            .keys()
            .filter(|k| is_sensitive_key(k))
            .chain(spec.config_from.keys())
            .cloned()
            .collect();
        ConnectorView {
            json: Value::Object(doc),
            class: spec.class.clone(),
            resolved_class: plugin.map(|(c, _)| c.to_string()),
            name,
            namespace,
            cluster: cluster_name,
            plugin_type,
            spec_name: spec.name.as_deref().is_some_and(|n| !n.is_empty()),
            hidden,
        }
    }

    /// The document a schema is applied to.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// What decides the evaluation besides the context (for a keyed memo key): the document, and the
    /// resolved class that class patterns also match.
    pub(super) fn digest_input(&self) -> (String, Option<&str>) {
        (self.json.to_string(), self.resolved_class.as_deref())
    }

    /// `message` with its placeholders filled in.
    pub(super) fn fill(&self, message: &str, policy: &str) -> String {
        let values: BTreeMap<&str, &str> = [
            ("policy", policy),
            ("name", self.name.as_str()),
            ("namespace", self.namespace.as_str()),
            ("class", self.class.as_str()),
            ("type", self.plugin_type.as_deref().unwrap_or("unknown")),
            ("cluster", self.cluster.as_deref().unwrap_or("default")),
        ]
        .into_iter()
        .collect();
        let mut out = String::with_capacity(message.len());
        let mut rest = message;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            match after
                .find('}')
                .and_then(|end| values.get(&after[..end]).map(|v| (end, v)))
            {
                Some((end, v)) => {
                    out.push_str(v);
                    rest = &after[end + 1..];
                }
                None => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// The config values a message must never show (PASSWORD-like keys; `configFrom` has no values here).
    pub fn secret_values(&self) -> BTreeMap<String, String> {
        self.json["config"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| self.hidden.contains(*k))
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect()
    }
}
