//! `cwctl export` at its edges: Kafka Connect's connectors and their PASSWORD-type keys, each made a
//! KafkaConnector by `export`, written into the directory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use shared::config::RESERVED_CLASS;
use shared::crd::manifest_yaml;

use crate::args::ExportArgs;
use crate::export::{Running, export, secrets_manifest};

/// Runs `cwctl export`.
pub async fn run(a: ExportArgs) -> Result<u8, String> {
    let Some(target) = a.connect.target().await? else {
        return Err("export needs Kafka Connect: give --connect-url or --cluster".into());
    };
    let live = target
        .client
        .list_expanded()
        .await
        .map_err(|e| format!("cannot reach Kafka Connect at {}: {e}", target.label))?;
    let mut password_keys: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut exported = Vec::new();
    for (name, entry) in &live {
        if !a.connectors.is_empty() && !a.connectors.contains(name) {
            continue;
        }
        let config = entry
            .info
            .as_ref()
            .map(|i| i.config.clone())
            .unwrap_or_default();
        let class = config.get(RESERVED_CLASS).cloned().unwrap_or_default();
        if !password_keys.contains_key(&class) {
            let keys = match target.client.plugin_config(&class).await {
                Ok(defs) => defs
                    .into_iter()
                    .filter(|d| d.kind.eq_ignore_ascii_case("PASSWORD"))
                    .map(|d| d.name)
                    .collect(),
                Err(e) => {
                    eprintln!(
                        "warning: {name}: the config definitions of {class} are not available ({e}); only keys named like secrets are moved to the Secret"
                    );
                    BTreeSet::new()
                }
            };
            password_keys.insert(class.clone(), keys);
        }
        let r = Running {
            name: name.clone(),
            config,
            state: entry.status.as_ref().map(|s| s.connector.state.clone()),
            password_keys: password_keys[&class].clone(),
        };
        exported.push(export(&r, &a.namespace, a.cluster_ref.as_deref()));
    }
    for c in &a.connectors {
        if !live.contains_key(c) {
            return Err(format!("no connector {c:?} on {}", target.label));
        }
    }
    let dir = Path::new(&a.dir);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", a.dir))?;
    let write = |file: &str, text: &str| {
        let p = dir.join(file);
        std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))
    };
    let mut secret_count = 0;
    for e in &exported {
        let text = manifest_yaml(&e.connector).map_err(|e| e.to_string())?;
        write(&e.file_name, &text)?;
        for w in &e.warnings {
            eprintln!("warning: {}: {w}", e.file_name);
        }
        secret_count += e.secret_values.len();
    }
    if let Some(text) = secrets_manifest(&exported, &a.namespace) {
        write("secrets.yaml", &text)?;
    }
    eprintln!(
        "wrote {} KafkaConnector(s) to {}{}",
        exported.len(),
        a.dir,
        if secret_count > 0 {
            format!(
                " and {secret_count} secret value(s) to {} (values not shown)",
                dir.join("secrets.yaml").display()
            )
        } else {
            String::new()
        }
    );
    Ok(0)
}
