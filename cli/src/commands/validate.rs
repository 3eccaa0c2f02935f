//! `cwctl validate` at its edges: the snapshot or the Kafka Connect to validate with, the files, the report
//! on standard output, the exit code.

use std::io::Write as _;

use super::files::read_inputs;
use crate::args::{EXIT_FINDINGS, ValidateArgs};
use crate::{offline, report, validate};

/// Runs `cwctl validate`: 0 when nothing would be denied, 1 when something would be (or warned, with
/// `--strict`).
pub async fn run(a: ValidateArgs) -> Result<u8, String> {
    let mut notes = Vec::new();
    let snapshot = a.plugins.as_deref().map(offline::load).transpose()?;
    let target = a.connect.target().await?;
    let mode = match (target, snapshot) {
        (Some(t), snapshot) => {
            let info = t
                .client
                .server_info()
                .await
                .map_err(|e| format!("cannot reach Kafka Connect at {}: {e}", t.label))?;
            if let Some(s) = snapshot
                && s.connect.version != info.version
            {
                notes.push(format!(
                    "the snapshot {} was taken from Kafka Connect {}, but {} runs {}: take it again with `cwctl snapshot`",
                    a.plugins.as_deref().unwrap_or_default(),
                    s.connect.version,
                    t.label,
                    info.version
                ));
            }
            validate::Mode::Live {
                settings: t.settings,
                label: format!("{} (Kafka Connect {})", t.label, info.version),
            }
        }
        (None, Some(s)) => validate::Mode::Offline(s),
        (None, None) => validate::Mode::None,
    };
    let mut docs = read_inputs(&a.files);
    docs.extend(read_inputs(&a.policies));
    let outcome = validate::run(docs, &a.namespace, mode, notes).await;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(report::render(&outcome.report, a.output).as_bytes());
    let _ = out.flush();
    if let Some(e) = outcome.connection_error {
        return Err(format!("Kafka Connect could not answer: {e}"));
    }
    let s = outcome.report.summary();
    Ok(if s.errors > 0 || (a.strict && s.warnings > 0) {
        EXIT_FINDINGS
    } else {
        0
    })
}
