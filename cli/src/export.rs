//! `cwctl export`: a KafkaConnector for each connector on a Kafka Connect cluster, written so that applying it
//! adopts the connector as it runs: the config the controller then wants is exactly the one Connect has (same
//! class text, same `tasks.max`, every value a string), so it sends nothing. Secret values go into one Secret
//! manifest beside the KafkaConnectors (referenced with `configFrom`) and are never printed.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};
use shared::config::{RESERVED_CLASS, RESERVED_NAME, RESERVED_PLUGIN_VERSION, RESERVED_TASKS_MAX};
use shared::crd::{GROUP, manifest_yaml};
use shared::redact::{is_config_reference, is_sensitive_key};

/// A connector as Connect reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Running {
    pub name: String,
    pub config: BTreeMap<String, String>,
    /// RUNNING, PAUSED, STOPPED, …
    pub state: Option<String>,
    /// Keys whose values are secret (PASSWORD-type, or named so).
    pub password_keys: BTreeSet<String>,
}

/// What one connector becomes.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    pub file_name: String,
    pub connector: Value,
    /// Secret keys → values, for the Secret manifest.
    pub secret_values: BTreeMap<String, String>,
    pub warnings: Vec<String>,
}

/// A Kubernetes object name for a connector name: lower case, `[a-z0-9-.]`, at most 253 characters.
pub fn object_name(connector: &str) -> String {
    let mut s: String = connector
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    s = s.trim_matches(|c| c == '-' || c == '.').to_string();
    s.truncate(253);
    if s.is_empty() {
        s = "connector".into();
    }
    s
}

/// The name of the Secret holding the exported secret values.
pub fn secret_name(object: &str) -> String {
    let mut s = format!("{object}-config");
    if s.len() > 253 {
        s = format!("{}-config", &object[..246]);
    }
    s
}

/// The KafkaConnector for `r` (pure).
pub fn export(r: &Running, namespace: &str, cluster_ref: Option<&str>) -> Exported {
    let object = object_name(&r.name);
    let mut warnings = Vec::new();
    let mut spec = Map::new();
    if let Some(c) = cluster_ref {
        spec.insert("clusterRef".into(), json!({"name": c}));
    }
    if object != r.name {
        spec.insert("name".into(), json!(r.name));
    }
    spec.insert(
        "class".into(),
        json!(r.config.get(RESERVED_CLASS).cloned().unwrap_or_default()),
    );
    if let Some(t) = r.config.get(RESERVED_TASKS_MAX) {
        match t.parse::<i32>() {
            Ok(n) if n.to_string() == *t => {
                spec.insert("tasksMax".into(), json!(n));
            }
            Ok(n) => {
                spec.insert("tasksMax".into(), json!(n));
                warnings.push(format!(
                    "tasks.max is {t:?} on Kafka Connect: the KafkaConnector says {n}, and the controller will send \"{n}\" once"
                ));
            }
            Err(_) => warnings.push(format!(
                "tasks.max is {t:?} on Kafka Connect, which is not a number: left out; set spec.tasksMax"
            )),
        }
    }
    if let Some(v) = r.config.get(RESERVED_PLUGIN_VERSION) {
        spec.insert("version".into(), json!(v));
    }
    let mut config = Map::new();
    let mut from = Map::new();
    let mut secret_values = BTreeMap::new();
    let secret = secret_name(&object);
    for (k, v) in &r.config {
        if [
            RESERVED_NAME,
            RESERVED_CLASS,
            RESERVED_TASKS_MAX,
            RESERVED_PLUGIN_VERSION,
        ]
        .contains(&k.as_str())
        {
            continue;
        }
        // A reference is not a secret, and is the right way to give one: it stays in the config.
        let is_secret = (r.password_keys.contains(k) || is_sensitive_key(k))
            && !is_config_reference(v)
            && !v.is_empty();
        if is_secret {
            from.insert(
                k.clone(),
                json!({"secretKeyRef": {"name": secret, "key": k}}),
            );
            secret_values.insert(k.clone(), v.clone());
        } else {
            config.insert(k.clone(), Value::String(v.clone()));
        }
    }
    spec.insert("config".into(), Value::Object(config));
    if !from.is_empty() {
        spec.insert("configFrom".into(), Value::Object(from));
    }
    let state = match r.state.as_deref() {
        Some("PAUSED") => Some("paused"),
        Some("STOPPED") => Some("stopped"),
        _ => None,
    };
    if let Some(s) = state {
        spec.insert("state".into(), json!(s));
    }
    if let Some(s) = r.state.as_deref().filter(|s| *s == "FAILED") {
        warnings.push(format!(
            "the connector is {s} on Kafka Connect: exported as running (the controller restarts it per spec.autoRestart)"
        ));
    }
    Exported {
        file_name: format!("{object}.yaml"),
        connector: json!({
            "apiVersion": format!("{GROUP}/v1alpha1"),
            "kind": "KafkaConnector",
            "metadata": {"name": object, "namespace": namespace},
            "spec": Value::Object(spec),
        }),
        secret_values,
        warnings,
    }
}

/// The Secret manifests for the exported values (base64, as the API server stores them).
pub fn secrets_manifest(exported: &[Exported], namespace: &str) -> Option<String> {
    use base64::Engine as _;
    let mut docs = Vec::new();
    for e in exported.iter().filter(|e| !e.secret_values.is_empty()) {
        let object = e.connector["metadata"]["name"].as_str().unwrap_or_default();
        let data: Map<String, Value> = e
            .secret_values
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    json!(base64::engine::general_purpose::STANDARD.encode(v)),
                )
            })
            .collect();
        let secret = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": secret_name(object), "namespace": namespace},
            "type": "Opaque",
            "data": data,
        });
        docs.push(manifest_yaml(&secret).unwrap_or_default());
    }
    (!docs.is_empty()).then(|| {
        "# Secret values of exported connectors: keep this file out of Git (seal or encrypt it, or move the values to your secret store).\n".to_string()
            + &docs.join("---\n")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(state: &str, pairs: &[(&str, &str)]) -> Running {
        Running {
            name: "Orders_Sink".into(),
            config: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            state: Some(state.into()),
            password_keys: BTreeSet::from(["connection.password".to_string()]),
        }
    }

    #[test]
    fn a_connector_becomes_spec_fields_string_config_and_config_from() {
        let r = running(
            "PAUSED",
            &[
                ("name", "Orders_Sink"),
                ("connector.class", "FileStreamSink"),
                ("tasks.max", "2"),
                ("topics", "orders"),
                ("batch.size", "200"),
                ("connection.password", "s3cr3t"),
                ("ssl.key.password", "${file:/mnt/s.properties:key}"),
            ],
        );
        let e = export(&r, "kafka", Some("main"));
        assert_eq!(e.file_name, "orders-sink.yaml");
        assert_eq!(
            e.connector,
            json!({
                "apiVersion": "connectwarden.io/v1alpha1", "kind": "KafkaConnector",
                "metadata": {"name": "orders-sink", "namespace": "kafka"},
                "spec": {
                    "clusterRef": {"name": "main"},
                    "name": "Orders_Sink",
                    "class": "FileStreamSink",
                    "tasksMax": 2,
                    "config": {
                        "topics": "orders", "batch.size": "200",
                        "ssl.key.password": "${file:/mnt/s.properties:key}"
                    },
                    "configFrom": {
                        "connection.password": {"secretKeyRef": {"name": "orders-sink-config", "key": "connection.password"}}
                    },
                    "state": "paused"
                }
            })
        );
        assert!(!e.connector.to_string().contains("s3cr3t"));
        assert_eq!(e.secret_values["connection.password"], "s3cr3t");
        assert!(e.warnings.is_empty());
        let secrets = secrets_manifest(&[e], "kafka").unwrap();
        assert!(secrets.contains("name: orders-sink-config"));
        assert!(secrets.contains("connection.password: czNjcjN0"));
        assert!(!secrets.contains("s3cr3t"));
    }

    #[test]
    fn odd_tasks_max_and_failed_state_are_warned() {
        let e = export(
            &running("FAILED", &[("connector.class", "X"), ("tasks.max", "02")]),
            "ns",
            None,
        );
        assert_eq!(e.connector["spec"]["tasksMax"], 2);
        assert!(e.connector["spec"].get("state").is_none());
        assert!(e.connector["spec"].get("clusterRef").is_none());
        assert_eq!(e.warnings.len(), 2, "{:?}", e.warnings);
    }

    #[test]
    fn object_names_are_kubernetes_names() {
        assert_eq!(object_name("My Connector_1"), "my-connector-1");
        assert_eq!(object_name("__"), "connector");
        assert_eq!(object_name("a.b-c"), "a.b-c");
    }
}
