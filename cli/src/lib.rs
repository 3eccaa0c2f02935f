//! `cwctl` (also installed as the kubectl plugin `kubectl-connect_warden`): connect-warden's verdict before
//! `kubectl apply`, with the admission webhook's own decision code; a diff against Kafka Connect; an export
//! of running connectors for adoption; conversion from other operators' resources.
//!
//! Module order: `input`, `report`, `connect`, `offline` → `validate`, `diff`, `export`, `convert` → this
//! file (the command line).

pub mod connect;
pub mod convert;
pub mod diff;
pub mod export;
pub mod input;
pub mod offline;
pub mod report;
pub mod validate;

use std::io::Write as _;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use connect::ConnectArgs;
use report::Format;

/// Exit codes: 0 clean, 1 findings, 2 usage or connection error.
pub const EXIT_FINDINGS: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

const ABOUT: &str = "connect-warden's command line: the admission webhook's verdict before you apply, a diff against Kafka Connect, export of running connectors, conversion from other operators";

const LONG_ABOUT: &str = "\
connect-warden's command line.

cwctl runs the admission webhook's own decision code (the same functions, not a copy) on your manifests, so
a pull request gets the verdict `kubectl apply` would get, with the file and line of every problem. It also
shows what applying would change on Kafka Connect, writes KafkaConnectors for connectors that already run
(adoption without a restart), and converts other operators' resources.

Installed as `kubectl-connect_warden`, it is also `kubectl connect-warden …`.";

const VALIDATE_HELP: &str = "\
Examples:
  # Offline, in CI: local rules plus the plugins' config definitions from a snapshot
  cwctl validate -f deploy/ --plugins connect-plugins.json

  # Live: Kafka Connect validates each config, as the webhook would ask it
  cwctl validate -f connectors/ --connect-url http://localhost:8083

  # A KafkaConnectCluster's own URL, credentials and TLS, read with your kubeconfig
  cwctl validate -f connectors/ --cluster main --cluster-namespace kafka --context prod

  # The organisation's KafkaConnectorPolicies from another folder or repository
  cwctl validate -f connectors/ --policies platform/policies/ --plugins connect-plugins.json

  # Kustomize output on standard input, annotations on the pull request
  kustomize build overlays/prod | cwctl validate -f - --plugins connect-plugins.json --output github

Every file is read and every problem is reported in one run. A document that is not valid YAML is reported
with its file and line and the others are still checked. Kinds cwctl does not validate are skipped with a
note. Secrets and ConfigMaps in the inputs are read for the references that need them (never printed).

What is checked: everything the webhook checks at admission (string coercion warnings, reserved keys, name
rules, which KafkaConnector claims a connector name on a cluster across all the files, the cluster's
references, the KafkaConnectorPolicies in the inputs or under --policies), then Kafka Connect's validation: live, or offline from a snapshot (`cwctl snapshot`), which
checks types, required keys, recommended values, unknown keys with did-you-mean, PASSWORD literals and
spec.version, and says which checks need a live cluster.

Exit status: 0 nothing would be denied, 1 something would be denied (or a warning with --strict),
2 usage or connection error.";

const SNAPSHOT_HELP: &str = "\
Examples:
  cwctl snapshot --connect-url http://localhost:8083 > connect-plugins.json
  cwctl snapshot --cluster main --cluster-namespace kafka -o connect-plugins.json

Commit the file next to your manifests and run `cwctl validate --plugins connect-plugins.json` in CI; take it
again when the plugins or Kafka Connect change (validate warns when the snapshot's Connect version differs
from a live cluster's).";

const DIFF_HELP: &str = "\
Examples:
  cwctl diff -f connectors/ --connect-url http://localhost:8083

For each KafkaConnector in the files: config keys added, removed or changed on Kafka Connect (PASSWORD-type
values only as changed or unchanged), and the state. Connectors on Kafka Connect that no file owns are listed
for information. Exit status: 0 no difference, 1 differences, 2 usage or connection error.";

const EXPORT_HELP: &str = "\
Examples:
  cwctl export --connect-url http://localhost:8083 --namespace kafka --cluster-ref main --dir adopted/
  kubectl apply -f adopted/

Writes one KafkaConnector per connector on Kafka Connect (class, tasks.max and state in spec fields, every
other value a string). PASSWORD-type values are not written into the KafkaConnectors: they become configFrom
references to a Secret manifest written beside them (secrets.yaml), and are never printed. Applying the
export adopts the running connectors: the controller sees an equal config and does not touch them.";

const CONVERT_HELP: &str = "\
Examples:
  cwctl convert -f strimzi/ --cluster-ref main > connectors.yaml
  cwctl convert -f autoconnector.yaml --cluster-ref main

Reads kafka-autoconnector GenericAutoConnectors (skynet.walmartdigital.cl/v1alpha1), Strimzi KafkaConnectors
(kafka.strimzi.io/v1 and v1beta2) and the external-kafka-connect-operator's KafkaConnectors
(external.saiello.github.io/v1alpha1, whose cluster address in labels becomes a KafkaConnectCluster), and
writes connect-warden KafkaConnectors. What has no equivalent is said on standard error.";

#[derive(Debug, Parser)]
#[command(name = "cwctl", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Checks KafkaConnectors and KafkaConnectClusters with the admission webhook's rules.
    #[command(after_long_help = VALIDATE_HELP)]
    Validate(ValidateArgs),
    /// Writes a snapshot of a Kafka Connect worker's plugins for offline validation.
    #[command(after_long_help = SNAPSHOT_HELP)]
    Snapshot(SnapshotArgs),
    /// Shows what applying the files would change on Kafka Connect.
    #[command(after_long_help = DIFF_HELP)]
    Diff(DiffArgs),
    /// Writes a KafkaConnector for each connector running on Kafka Connect.
    #[command(after_long_help = EXPORT_HELP)]
    Export(export::ExportArgs),
    /// Converts other operators' connector resources into KafkaConnectors.
    #[command(after_long_help = CONVERT_HELP)]
    Convert(convert::ConvertArgs),
    /// Prints a shell completion script (bash, zsh, fish, powershell, elvish).
    #[command(
        after_long_help = "Examples:\n  cwctl completion bash > /etc/bash_completion.d/cwctl\n  cwctl completion zsh > \"${fpath[1]}/_cwctl\""
    )]
    Completion { shell: clap_complete::Shell },
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Files or directories (read recursively) of manifests; `-` reads standard input.
    #[arg(short = 'f', long = "filename", required = true, value_name = "PATH")]
    pub files: Vec<String>,
    /// Namespace of objects that name none.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// KafkaConnectorPolicies to apply (files or directories), besides those in the inputs.
    #[arg(long, value_name = "PATH")]
    pub policies: Vec<String>,
    /// Offline: a snapshot written by `cwctl snapshot`.
    #[arg(long, value_name = "FILE")]
    pub plugins: Option<String>,
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// Warnings fail the run too (exit 1).
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, clap::Args)]
pub struct SnapshotArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Where to write it (default: standard output).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// Files or directories (read recursively) of manifests; `-` reads standard input.
    #[arg(short = 'f', long = "filename", required = true, value_name = "PATH")]
    pub files: Vec<String>,
    /// Namespace of objects that name none.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// Runs cwctl with the process's arguments.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    shared::tls::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cwctl: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("cwctl: {e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Runs one command; `Err` is a usage or connection error (exit 2).
pub async fn run(cli: Cli) -> Result<u8, String> {
    match cli.command {
        Command::Validate(a) => run_validate(a).await,
        Command::Snapshot(a) => run_snapshot(a).await,
        Command::Diff(a) => diff::run(a).await,
        Command::Export(a) => export::run(a).await,
        Command::Convert(a) => convert::run(a),
        Command::Completion { shell } => {
            let mut cmd = Cli::command();
            let name = cmd.get_name().to_string();
            clap_complete::generate(shell, &mut cmd, name, &mut std::io::stdout());
            Ok(0)
        }
    }
}

async fn run_validate(a: ValidateArgs) -> Result<u8, String> {
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
    let mut docs = input::read_inputs(&a.files);
    docs.extend(input::read_inputs(&a.policies));
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

async fn run_snapshot(a: SnapshotArgs) -> Result<u8, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn completions_know_the_commands_and_their_flags() {
        let mut out = Vec::new();
        clap_complete::generate(
            clap_complete::Shell::Bash,
            &mut Cli::command(),
            "cwctl",
            &mut out,
        );
        let script = String::from_utf8(out).unwrap();
        for word in [
            "complete -F _cwctl",
            "validate",
            "--plugins",
            "--output",
            "export",
            "convert",
        ] {
            assert!(script.contains(word), "{word}");
        }
    }
}
