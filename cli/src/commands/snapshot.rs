//! `cwctl snapshot`: a worker's plugin definitions (`offline::take`) written as JSON.

use crate::args::SnapshotArgs;
use crate::offline;

/// Runs `cwctl snapshot`.
pub async fn run(a: SnapshotArgs) -> Result<u8, String> {
    let Some(t) = a.connect.target().await? else {
        return Err("give --connect-url or --cluster".into());
    };
    let s = offline::take(&t.client, &t.settings.url)
        .await
        .map_err(|e| format!("snapshot of {}: {e}", t.label))?;
    let text = serde_json::to_string_pretty(&s).map_err(|e| e.to_string())? + "\n";
    match a.output {
        Some(path) => std::fs::write(&path, text).map_err(|e| format!("{path}: {e}"))?,
        None => print!("{text}"),
    }
    eprintln!(
        "snapshot of Kafka Connect {} at {}: {} connector plugins",
        s.connect.version,
        t.label,
        s.plugins.len()
    );
    Ok(0)
}
