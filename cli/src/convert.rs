//! `cwctl convert`: other operators' connector resources → connect-warden KafkaConnectors (and
//! KafkaConnectClusters where the source names a Connect address). Pure per document: what has an equivalent
//! is carried over, what has none is said in a warning.

use serde_json::{Map, Value, json};
use shared::config::{RESERVED_CLASS, RESERVED_NAME, RESERVED_TASKS_MAX, closest};
use shared::crd::GROUP;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Converted {
    pub objects: Vec<Value>,
    pub warnings: Vec<String>,
}

const AUTOCONNECTOR_GROUP: &str = "skynet.walmartdigital.cl";
const STRIMZI_GROUP: &str = "kafka.strimzi.io";
const EXTERNAL_GROUP: &str = "external.saiello.github.io";
const STRIMZI_CLUSTER_LABEL: &str = "strimzi.io/cluster";

/// The source kinds, by (group, kind), with the versions read.
pub fn recognizes(api_version: &str, kind: &str) -> bool {
    matches!(
        (api_version, kind),
        ("skynet.walmartdigital.cl/v1alpha1", "GenericAutoConnector")
            | (
                "kafka.strimzi.io/v1beta2" | "kafka.strimzi.io/v1",
                "KafkaConnector"
            )
            | ("external.saiello.github.io/v1alpha1", "KafkaConnector")
    )
}

/// Converts one object; `None` when it is not a kind cwctl converts.
pub fn convert(obj: &Value, cluster_ref: Option<&str>) -> Option<Result<Converted, String>> {
    let api_version = obj["apiVersion"].as_str().unwrap_or_default();
    let kind = obj["kind"].as_str().unwrap_or_default();
    if !recognizes(api_version, kind) {
        return None;
    }
    let group = api_version.split('/').next().unwrap_or_default();
    Some(match group {
        AUTOCONNECTOR_GROUP => autoconnector(obj, cluster_ref),
        STRIMZI_GROUP => strimzi(obj, cluster_ref),
        EXTERNAL_GROUP => external(obj, cluster_ref),
        _ => return None,
    })
}

/// The metadata a converted object keeps: name, namespace, labels and annotations other than the source
/// operator's own.
fn metadata(obj: &Value, drop_prefixes: &[&str]) -> Result<Map<String, Value>, String> {
    let name = obj["metadata"]["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .ok_or("metadata.name is missing")?;
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    if let Some(ns) = obj["metadata"]["namespace"].as_str() {
        m.insert("namespace".into(), json!(ns));
    }
    for field in ["labels", "annotations"] {
        let kept: Map<String, Value> = obj["metadata"][field]
            .as_object()
            .map(|l| {
                l.iter()
                    .filter(|(k, _)| !drop_prefixes.iter().any(|p| k.starts_with(p)))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        if !kept.is_empty() {
            m.insert(field.into(), Value::Object(kept));
        }
    }
    Ok(m)
}

/// Config values as strings (what Kafka Connect receives anyway); other types are warned about.
fn string_config(
    config: &Map<String, Value>,
    field: &str,
    warnings: &mut Vec<String>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in config {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(_) | Value::Bool(_) => {
                warnings.push(format!(
                    "{field}.{k:?}: {v} written as the string {:?} (connect-warden keeps config values as strings)",
                    v.to_string()
                ));
                v.to_string()
            }
            Value::Null => {
                warnings.push(format!("{field}.{k:?}: null left out"));
                continue;
            }
            other => {
                warnings.push(format!(
                    "{field}.{k:?}: a {} is not a Kafka Connect value; left out",
                    if other.is_array() { "list" } else { "map" }
                ));
                continue;
            }
        };
        out.insert(k.clone(), Value::String(s));
    }
    out
}

fn connector(meta: Map<String, Value>, spec: Map<String, Value>) -> Value {
    json!({
        "apiVersion": format!("{GROUP}/v1alpha1"),
        "kind": "KafkaConnector",
        "metadata": Value::Object(meta),
        "spec": Value::Object(spec),
    })
}

/// `tasks.max` text → spec.tasksMax.
fn tasks_max(text: &str, warnings: &mut Vec<String>, field: &str) -> Option<Value> {
    match text.trim().parse::<i32>() {
        Ok(n) if n >= 1 => Some(json!(n)),
        _ => {
            warnings.push(format!(
                "{field}: {text:?} is not a number of tasks; left out (Kafka Connect's default is 1)"
            ));
            None
        }
    }
}

/// kafka-autoconnector's GenericAutoConnector: the whole Connect config under `spec["connector.config"]`.
fn autoconnector(obj: &Value, cluster_ref: Option<&str>) -> Result<Converted, String> {
    let mut warnings = Vec::new();
    let meta = metadata(obj, &[])?;
    let name = meta["name"].as_str().unwrap_or_default().to_string();
    let source = obj["spec"]["connector.config"]
        .as_object()
        .ok_or("spec[\"connector.config\"] is missing")?;
    let mut config = string_config(source, "spec[\"connector.config\"]", &mut warnings);
    let mut spec = Map::new();
    if let Some(c) = cluster_ref {
        spec.insert("clusterRef".into(), json!({"name": c}));
    } else {
        warnings.push(
            "no --cluster-ref: the connector targets the default cluster (KAFKA_CONNECT_ADDR, as kafka-autoconnector did)".into(),
        );
    }
    let class = config
        .remove(RESERVED_CLASS)
        .and_then(|v| v.as_str().map(str::to_string))
        .ok_or("spec[\"connector.config\"][\"connector.class\"] is missing")?;
    if let Some(n) = config
        .remove(RESERVED_NAME)
        .and_then(|v| v.as_str().map(str::to_string))
        && n != name
    {
        spec.insert("name".into(), json!(n));
    }
    spec.insert("class".into(), json!(class));
    if let Some(t) = config.remove(RESERVED_TASKS_MAX)
        && let Some(n) = tasks_max(t.as_str().unwrap_or_default(), &mut warnings, "tasks.max")
    {
        spec.insert("tasksMax".into(), n);
    }
    // A near miss of tasks.max (e.g. max.tasks) was ignored by Kafka Connect: the connector ran with the
    // default. Kept as it was, and said.
    let keys: Vec<String> = config.keys().cloned().collect();
    for k in keys {
        if k != RESERVED_TASKS_MAX && closest(&k, [RESERVED_TASKS_MAX]).is_some() {
            warnings.push(format!(
                "spec[\"connector.config\"].{k:?} is not a Kafka Connect setting (did you mean \"tasks.max\"?): Kafka Connect ignored it, so the connector ran with its default number of tasks; kept in spec.config as it was — set spec.tasksMax for more tasks"
            ));
        }
    }
    warnings.push(format!(
        "kafka-autoconnector chose the connector's name on Kafka Connect itself (a generated name); this KafkaConnector manages a connector named {:?}: the old connector keeps running until you delete it — to take it over instead, set spec.name to its name on Kafka Connect (`cwctl export` lists them)",
        spec.get("name").and_then(Value::as_str).unwrap_or(&name)
    ));
    if obj.get("status").is_some() {
        warnings.push("status is not converted: the controller writes its own".into());
    }
    spec.insert("config".into(), Value::Object(config));
    Ok(Converted {
        objects: vec![connector(meta, spec)],
        warnings,
    })
}

/// Strimzi's KafkaConnector (`v1beta2` and `v1`).
fn strimzi(obj: &Value, cluster_ref: Option<&str>) -> Result<Converted, String> {
    let mut warnings = Vec::new();
    let meta = metadata(obj, &["strimzi.io/"])?;
    let s = obj["spec"].as_object().ok_or("spec is missing")?;
    let mut spec = Map::new();
    let label = obj["metadata"]["labels"][STRIMZI_CLUSTER_LABEL].as_str();
    match (cluster_ref, label) {
        (Some(c), _) => {
            spec.insert("clusterRef".into(), json!({"name": c}));
        }
        (None, Some(l)) => {
            spec.insert("clusterRef".into(), json!({"name": l}));
            warnings.push(format!(
                "clusterRef {l:?} taken from the {STRIMZI_CLUSTER_LABEL} label: create a KafkaConnectCluster of that name with the Connect REST address (Strimzi's is http://{l}-connect-api.<namespace>.svc:8083), or give --cluster-ref"
            ));
        }
        (None, None) => warnings.push(format!(
            "no {STRIMZI_CLUSTER_LABEL} label and no --cluster-ref: the connector targets the default cluster"
        )),
    }
    let class = s
        .get("class")
        .and_then(Value::as_str)
        .ok_or("spec.class is missing")?;
    spec.insert("class".into(), json!(class));
    match s.get("tasksMax") {
        Some(Value::Number(n)) => {
            spec.insert("tasksMax".into(), Value::Number(n.clone()));
        }
        Some(Value::String(t)) => {
            if let Some(n) = tasks_max(t, &mut warnings, "spec.tasksMax") {
                spec.insert("tasksMax".into(), n);
            }
        }
        _ => {}
    }
    let config = s
        .get("config")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    spec.insert(
        "config".into(),
        Value::Object(string_config(&config, "spec.config", &mut warnings)),
    );
    let state = match (s.get("state").and_then(Value::as_str), s.get("pause")) {
        (Some(st), _) => Some(st.to_string()),
        (None, Some(Value::Bool(true))) => Some("paused".to_string()),
        _ => None,
    };
    if let Some(st) = state.filter(|st| st != "running") {
        spec.insert("state".into(), json!(st));
    }
    if s.contains_key("pause") {
        warnings.push("spec.pause (deprecated in Strimzi) written as spec.state".into());
    }
    if let Some(a) = s.get("autoRestart").and_then(Value::as_object) {
        let mut r = Map::new();
        r.insert(
            "enabled".into(),
            json!(a.get("enabled").and_then(Value::as_bool).unwrap_or(false)),
        );
        if let Some(m) = a.get("maxRestarts").and_then(Value::as_u64) {
            r.insert("maxRestarts".into(), json!(m));
        }
        spec.insert("autoRestart".into(), Value::Object(r));
        warnings.push(
            "spec.autoRestart: connect-warden backs off exponentially (10 s doubling to 600 s, counter reset after 600 s RUNNING); Strimzi's own schedule differs — tune spec.autoRestart.backoff* if needed".into(),
        );
    }
    if let Some(v) = s.get("version").and_then(Value::as_str) {
        spec.insert("version".into(), json!(v));
    }
    for f in ["listOffsets", "alterOffsets"] {
        if let Some(v) = s.get(f) {
            spec.insert(f.into(), v.clone());
        }
    }
    for (k, _) in s.iter() {
        if ![
            "class",
            "tasksMax",
            "config",
            "state",
            "pause",
            "autoRestart",
            "version",
            "listOffsets",
            "alterOffsets",
        ]
        .contains(&k.as_str())
        {
            warnings.push(format!(
                "spec.{k} has no equivalent in connect-warden; left out"
            ));
        }
    }
    warnings.push(
        "before deleting the Strimzi KafkaConnector, stop Strimzi from managing connectors (annotation strimzi.io/use-connector-resources: \"false\" on the KafkaConnect), or Strimzi deletes the connector on Kafka Connect".into(),
    );
    Ok(Converted {
        objects: vec![connector(meta, spec)],
        warnings,
    })
}

const EXTERNAL_SCHEMA: &str = "external.saiello.github.io/api-schema";
const EXTERNAL_HOST: &str = "external.saiello.github.io/api-host";
const EXTERNAL_PORT: &str = "external.saiello.github.io/api-port";

/// A KafkaConnectCluster name for a Connect host.
fn cluster_name_for(host: &str) -> String {
    let n = crate::export::object_name(host);
    if n.len() > 63 {
        n[..63].trim_end_matches(['-', '.']).to_string()
    } else {
        n
    }
}

/// The external-kafka-connect-operator's KafkaConnector: the Connect address in labels becomes a
/// KafkaConnectCluster.
fn external(obj: &Value, cluster_ref: Option<&str>) -> Result<Converted, String> {
    let mut warnings = Vec::new();
    let meta = metadata(obj, &["external.saiello.github.io/"])?;
    let s = obj["spec"].as_object().ok_or("spec is missing")?;
    let labels = &obj["metadata"]["labels"];
    let mut objects = Vec::new();
    let mut spec = Map::new();
    match labels[EXTERNAL_HOST].as_str() {
        Some(host) => {
            let scheme = labels[EXTERNAL_SCHEMA].as_str().unwrap_or("http");
            let port = labels[EXTERNAL_PORT].as_str().unwrap_or("8083");
            let name = cluster_ref
                .map(str::to_string)
                .unwrap_or_else(|| cluster_name_for(host));
            let mut cmeta = Map::new();
            cmeta.insert("name".into(), json!(name));
            if let Some(ns) = obj["metadata"]["namespace"].as_str() {
                cmeta.insert("namespace".into(), json!(ns));
            }
            objects.push(json!({
                "apiVersion": format!("{GROUP}/v1alpha1"),
                "kind": "KafkaConnectCluster",
                "metadata": Value::Object(cmeta),
                "spec": {"url": format!("{scheme}://{host}:{port}")},
            }));
            spec.insert("clusterRef".into(), json!({"name": name}));
        }
        None => match cluster_ref {
            Some(c) => {
                spec.insert("clusterRef".into(), json!({"name": c}));
            }
            None => warnings.push(format!(
                "no {EXTERNAL_HOST} label and no --cluster-ref: the connector targets the default cluster"
            )),
        },
    }
    let class = s
        .get("class")
        .and_then(Value::as_str)
        .ok_or("spec.class is missing")?;
    spec.insert("class".into(), json!(class));
    if let Some(t) = s.get("tasksMax") {
        let text = match t {
            Value::String(t) => t.clone(),
            other => other.to_string(),
        };
        if let Some(n) = tasks_max(&text, &mut warnings, "spec.tasksMax") {
            spec.insert("tasksMax".into(), n.clone());
            warnings.push(format!(
                "spec.tasksMax: the external operator sent it to Kafka Connect as a config key \"tasksMax\", which Kafka Connect ignores (the connector ran 1 task); connect-warden sends tasks.max={n}"
            ));
        }
    }
    let config = s
        .get("config")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    spec.insert(
        "config".into(),
        Value::Object(string_config(&config, "spec.config", &mut warnings)),
    );
    if let Some(st) = s
        .get("state")
        .and_then(Value::as_str)
        .filter(|st| *st != "running")
    {
        spec.insert("state".into(), json!(st));
    }
    match s.get("autoRestart") {
        None | Some(Value::Null) => {}
        Some(Value::Object(a)) if a.is_empty() => {}
        Some(_) => warnings.push(
            "spec.autoRestart has no defined meaning in the external operator; left out (connect-warden restarts failed connectors by default)".into(),
        ),
    }
    objects.push(connector(meta, spec));
    Ok(Converted { objects, warnings })
}

#[cfg(test)]
mod tests;
