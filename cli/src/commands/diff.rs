//! `cwctl diff`: what applying the files would change on Kafka Connect. The wanted config is built as the
//! controller builds it (the webhook's `/mutate`, then `configFrom` values from Secrets and ConfigMaps in the
//! files, then `name`, `connector.class`, `tasks.max` and `connector.plugin.version` from the spec) and
//! compared (`diff`) with the config Connect has. Secret values are never shown, only whether they change.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use shared::config::{effective_config, string_config, with_plugin_version};
use shared::config_from::Fetched;
use shared::connect::ExpandedConnector;
use shared::crd::KafkaConnector;
use shared::redact::is_sensitive_key;

use super::files::read_inputs;
use crate::args::{DiffArgs, EXIT_FINDINGS};
use crate::diff::{Change, compare, fetched_of, render_change, state_matches, state_name};
use crate::validate::{CONNECTOR, mutated, objects_of};

/// Runs `cwctl diff`: 0 when applying would change nothing, 1 when it would.
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
    Ok(if differs { EXIT_FINDINGS } else { 0 })
}
