//! `cwctl convert` at its edges: the files, each document converted by `convert`, the result and what has no
//! equivalent on standard output and error.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use shared::crd::manifest_yaml;

use super::files::read_inputs;
use crate::args::{ConvertArgs, EXIT_FINDINGS};
use crate::convert::convert;

/// Runs `cwctl convert`: 0 when everything recognised converted, 1 when some object could not be.
pub fn run(a: ConvertArgs) -> Result<u8, String> {
    let mut out = String::new();
    let mut failed = false;
    let mut clusters: BTreeMap<String, String> = BTreeMap::new();
    for d in read_inputs(&a.files) {
        let value = match d.value {
            Ok(v) => v,
            Err(e) => {
                eprintln!("{}:{}: error: {}", d.file, e.line, e.message);
                failed = true;
                continue;
            }
        };
        let at = format!("{}:{}", d.file, d.line);
        match convert(&value, a.cluster_ref.as_deref()) {
            None => eprintln!(
                "{at}: note: skipped {} {} (not a kind cwctl converts)",
                value["apiVersion"].as_str().unwrap_or("?"),
                value["kind"].as_str().unwrap_or("?")
            ),
            Some(Err(e)) => {
                eprintln!("{at}: error: {e}");
                failed = true;
            }
            Some(Ok(c)) => {
                for w in &c.warnings {
                    eprintln!("{at}: warning: {w}");
                }
                for o in c.objects {
                    // One KafkaConnectCluster per address, however many connectors name it.
                    if o["kind"] == "KafkaConnectCluster" {
                        let key =
                            format!("{}/{}", o["metadata"]["namespace"], o["metadata"]["name"]);
                        let url = o["spec"]["url"].as_str().unwrap_or_default().to_string();
                        match clusters.get(&key) {
                            Some(u) if *u == url => continue,
                            Some(u) => {
                                eprintln!(
                                    "{at}: error: KafkaConnectCluster {key} was already written with url {u}, this connector's labels say {url}; give them different --cluster-ref runs"
                                );
                                failed = true;
                                continue;
                            }
                            None => {
                                clusters.insert(key, url);
                            }
                        }
                    }
                    let _ = write!(out, "---\n# converted from {at}\n");
                    out.push_str(&manifest_yaml(&o).map_err(|e| e.to_string())?);
                }
            }
        }
    }
    match a.output {
        Some(p) => std::fs::write(&p, out).map_err(|e| format!("{p}: {e}"))?,
        None => print!("{out}"),
    }
    Ok(if failed { EXIT_FINDINGS } else { 0 })
}
