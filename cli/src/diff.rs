//! `cwctl diff`: what applying the files would change on Kafka Connect. The wanted config is built as the
//! controller builds it (the webhook's `/mutate`, then `configFrom` values from Secrets and ConfigMaps in the
//! files, then `name`, `connector.class`, `tasks.max` and `connector.plugin.version` from the spec) and
//! compared with the config Connect has. Secret values are never shown, only whether they change.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use shared::config::{effective_config, string_config, with_plugin_version};
use shared::config_from::{Fetched, SourceKind};
use shared::connect::ExpandedConnector;
use shared::crd::{ConnectorState, KafkaConnector};
use shared::redact::is_sensitive_key;

use crate::DiffArgs;
use crate::input::read_inputs;
use crate::validate::{CONNECTOR, mutated, objects_of};

/// One difference in a connector's config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Applying adds the key.
    Added {
        key: String,
        value: Shown,
    },
    /// Applying removes the key Connect has.
    Removed {
        key: String,
        value: Shown,
    },
    Changed {
        key: String,
        from: Shown,
        to: Shown,
    },
    /// A secret key whose value stays the same (said, so that "not listed" never means "not looked at").
    SecretUnchanged {
        key: String,
    },
}

/// A value as it may be printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    Value(String),
    Secret,
}

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shown::Value(v) => write!(f, "{v:?}"),
            Shown::Secret => f.write_str("(secret)"),
        }
    }
}

/// The changes that turn `actual` into `wanted`; keys in `secret` never show their values, keys in
/// `unknown` (values that cannot be known from the files) are not compared.
pub fn compare(
    wanted: &BTreeMap<String, String>,
    actual: &BTreeMap<String, String>,
    secret: &BTreeSet<String>,
    unknown: &BTreeSet<String>,
) -> Vec<Change> {
    let shown = |k: &str, v: &str| {
        if secret.contains(k) {
            Shown::Secret
        } else {
            Shown::Value(v.to_string())
        }
    };
    let keys: BTreeSet<&String> = wanted.keys().chain(actual.keys()).collect();
    let mut out = Vec::new();
    for k in keys {
        if unknown.contains(k) {
            continue;
        }
        match (wanted.get(k), actual.get(k)) {
            (Some(w), None) => out.push(Change::Added {
                key: k.clone(),
                value: shown(k, w),
            }),
            (None, Some(a)) => out.push(Change::Removed {
                key: k.clone(),
                value: shown(k, a),
            }),
            (Some(w), Some(a)) if w != a => out.push(Change::Changed {
                key: k.clone(),
                from: shown(k, a),
                to: shown(k, w),
            }),
            (Some(_), Some(_)) if secret.contains(k) => {
                out.push(Change::SecretUnchanged { key: k.clone() })
            }
            _ => {}
        }
    }
    out
}

pub fn render_change(c: &Change) -> String {
    match c {
        Change::Added { key, value } => format!("+ {key}: {value}"),
        Change::Removed { key, value } => format!("- {key}: {value}"),
        Change::Changed {
            key,
            from: Shown::Secret,
            ..
        } => format!("~ {key}: changed (secret value not shown)"),
        Change::Changed { key, from, to } => format!("~ {key}: {from} → {to}"),
        Change::SecretUnchanged { key } => format!("= {key}: unchanged (secret value not shown)"),
    }
}

/// Whether Connect's reported state is the wanted one.
fn state_matches(reported: &str, wanted: ConnectorState) -> bool {
    matches!(
        (reported, wanted),
        ("RUNNING", ConnectorState::Running)
            | ("PAUSED", ConnectorState::Paused)
            | ("STOPPED", ConnectorState::Stopped)
    )
}

fn state_name(s: ConnectorState) -> &'static str {
    match s {
        ConnectorState::Running => "running",
        ConnectorState::Paused => "paused",
        ConnectorState::Stopped => "stopped",
    }
}

/// The Secrets' and ConfigMaps' data of the files, as `configFrom` reads it.
fn fetched_of(values: &[serde_json::Value]) -> BTreeMap<String, Fetched> {
    use base64::Engine as _;
    let mut by_ns: BTreeMap<String, Fetched> = BTreeMap::new();
    for v in values {
        let kind = match v["kind"].as_str() {
            Some("Secret") => SourceKind::Secret,
            Some("ConfigMap") => SourceKind::ConfigMap,
            _ => continue,
        };
        let ns = v["metadata"]["namespace"].as_str().unwrap_or_default();
        let name = v["metadata"]["name"].as_str().unwrap_or_default();
        let mut data: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let field = |f: &str| v[f].as_object().cloned().unwrap_or_default();
        let (encoded, plain) = match kind {
            SourceKind::Secret => ("data", "stringData"),
            SourceKind::ConfigMap => ("binaryData", "data"),
        };
        for (k, x) in field(encoded) {
            if let Some(b) = x
                .as_str()
                .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
            {
                data.insert(k, b);
            }
        }
        for (k, x) in field(plain) {
            if let Some(s) = x.as_str() {
                data.insert(k, s.as_bytes().to_vec());
            }
        }
        by_ns
            .entry(ns.to_string())
            .or_default()
            .insert((kind, name.to_string()), Some(data));
    }
    by_ns
}

pub async fn run(a: DiffArgs) -> Result<u8, String> {
    let Some(target) = a.connect.target().await? else {
        return Err("diff needs Kafka Connect: give --connect-url or --cluster".into());
    };
    let live: BTreeMap<String, ExpandedConnector> = target
        .client
        .list_expanded()
        .await
        .map_err(|e| format!("cannot reach Kafka Connect at {}: {e}", target.label))?;
    let (objects, problems) = objects_of(read_inputs(&a.files), &a.namespace);
    let mut out = String::new();
    let mut differs = false;
    for p in &problems {
        for f in &p.findings {
            let _ = writeln!(out, "{}:{}: {}", p.file, p.line, f.message);
        }
        differs = true;
    }
    let references: Vec<serde_json::Value> = objects
        .iter()
        .filter(|o| o.api_version == "v1" && (o.kind == "Secret" || o.kind == "ConfigMap"))
        .map(|o| o.value.clone())
        .collect();
    let fetched = fetched_of(&references);
    let mut owned = BTreeSet::new();
    let mut password_keys: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for o in objects.iter().filter(|o| o.is(CONNECTOR)) {
        let head = format!(
            "{}:{}: KafkaConnector {}/{}",
            o.file, o.line, o.namespace, o.name
        );
        let c = match mutated(o).await.and_then(|v| {
            serde_json::from_value::<KafkaConnector>(v).map_err(|e| vec![e.to_string()])
        }) {
            Ok(c) => c,
            Err(lines) => {
                let _ = writeln!(out, "{head}\n  cannot be applied: {}", lines.join("; "));
                differs = true;
                continue;
            }
        };
        let name = c.connector_name();
        owned.insert(name.clone());
        let config = match string_config(&c.spec.config) {
            Ok(s) => s,
            Err(bad) => {
                let _ = writeln!(
                    out,
                    "{head}\n  cannot be applied: {}",
                    shared::config::describe_non_strings(&bad).join("; ")
                );
                differs = true;
                continue;
            }
        };
        let empty = Fetched::new();
        let in_ns = fetched.get(&o.namespace).unwrap_or(&empty);
        let mut unknown = BTreeSet::new();
        let mut with_values = config.clone();
        for (key, src) in &c.spec.config_from {
            let one = BTreeMap::from([(key.clone(), src.clone())]);
            match shared::config_from::resolve(&o.namespace, &one, in_ns) {
                Ok(v) => with_values.extend(v),
                Err(_) => {
                    unknown.insert(key.clone());
                }
            }
        }
        let wanted = with_plugin_version(
            effective_config(&name, &c.spec.class, c.spec.tasks_max, &with_values),
            c.spec.version.as_deref(),
        );
        let _ = writeln!(out, "{head} → connector {name:?}");
        let Some(entry) = live.get(&name) else {
            let _ = writeln!(
                out,
                "  would be created ({}), with {} config keys",
                state_name(c.spec.state),
                wanted.len()
            );
            differs = true;
            continue;
        };
        let actual = entry
            .info
            .as_ref()
            .map(|i| i.config.clone())
            .unwrap_or_default();
        let class = actual
            .get("connector.class")
            .cloned()
            .unwrap_or_else(|| c.spec.class.clone());
        if !password_keys.contains_key(&class) {
            let keys = target
                .client
                .plugin_config(&class)
                .await
                .map(|defs| {
                    defs.into_iter()
                        .filter(|d| d.kind.eq_ignore_ascii_case("PASSWORD"))
                        .map(|d| d.name)
                        .collect()
                })
                .unwrap_or_default();
            password_keys.insert(class.clone(), keys);
        }
        // Secret: PASSWORD-type keys, every configFrom key, and keys whose names say so.
        let mut secret = password_keys[&class].clone();
        secret.extend(c.spec.config_from.keys().cloned());
        secret.extend(
            wanted
                .keys()
                .chain(actual.keys())
                .filter(|k| is_sensitive_key(k))
                .cloned(),
        );
        let changes = compare(&wanted, &actual, &secret, &unknown);
        for ch in &changes {
            let _ = writeln!(out, "  {}", render_change(ch));
        }
        if changes
            .iter()
            .any(|c| !matches!(c, Change::SecretUnchanged { .. }))
        {
            differs = true;
        }
        for k in &unknown {
            let _ = writeln!(
                out,
                "  ? {k}: from {} (not in the given files): not compared",
                shared::config_from::source_label(&o.namespace, &c.spec.config_from[k])
            );
        }
        if let Some(st) = &entry.status {
            let reported = st.connector.state.as_str();
            if !state_matches(reported, c.spec.state) {
                let _ = writeln!(out, "  state: {reported} → {}", state_name(c.spec.state));
                differs = true;
            }
        }
        if !changes
            .iter()
            .any(|c| !matches!(c, Change::SecretUnchanged { .. }))
            && entry
                .status
                .as_ref()
                .is_none_or(|s| state_matches(&s.connector.state, c.spec.state))
        {
            let _ = writeln!(out, "  no change");
        }
    }
    let others: Vec<&String> = live.keys().filter(|n| !owned.contains(*n)).collect();
    if !others.is_empty() {
        let _ = writeln!(
            out,
            "\nconnectors on {} that no file owns (left alone unless their KafkaConnectCluster has spec.prune):",
            target.label
        );
        for n in others {
            let state = live[n]
                .status
                .as_ref()
                .map(|s| s.connector.state.clone())
                .unwrap_or_else(|| "unknown".into());
            let _ = writeln!(out, "  {n} ({state})");
        }
    }
    print!("{out}");
    Ok(if differs { crate::EXIT_FINDINGS } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn added_removed_and_changed_keys_with_secrets_hidden() {
        let wanted = map(&[
            ("a", "1"),
            ("b", "2"),
            ("password", "new"),
            ("token", "same"),
            ("from.secret", "x"),
        ]);
        let actual = map(&[
            ("b", "3"),
            ("c", "4"),
            ("password", "old"),
            ("token", "same"),
        ]);
        let secret = BTreeSet::from(["password".to_string(), "token".to_string()]);
        let unknown = BTreeSet::from(["from.secret".to_string()]);
        let lines: Vec<String> = compare(&wanted, &actual, &secret, &unknown)
            .iter()
            .map(render_change)
            .collect();
        assert_eq!(
            lines,
            vec![
                "+ a: \"1\"",
                "~ b: \"3\" → \"2\"",
                "- c: \"4\"",
                "~ password: changed (secret value not shown)",
                "= token: unchanged (secret value not shown)",
            ]
        );
        assert!(!lines.concat().contains("old") && !lines.concat().contains("new"));
    }

    #[test]
    fn secrets_in_files_resolve_config_from() {
        let f = fetched_of(&[serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "ns"},
            "data": {"password": "czNjcjN0"}, "stringData": {"user": "app"}
        })]);
        let data = f["ns"][&(SourceKind::Secret, "db".to_string())]
            .as_ref()
            .unwrap();
        assert_eq!(data["password"], b"s3cr3t");
        assert_eq!(data["user"], b"app");
    }
}
