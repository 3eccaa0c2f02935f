//! The command line: its commands and flags, the help that explains them, and the exit codes it promises.

use clap::{Parser, Subcommand};

use crate::connect::ConnectArgs;
use crate::report::Format;

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
    Export(ExportArgs),
    /// Converts other operators' connector resources into KafkaConnectors.
    #[command(after_long_help = CONVERT_HELP)]
    Convert(ConvertArgs),
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

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Namespace of the KafkaConnectors (and of the Secret).
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// The KafkaConnectCluster the KafkaConnectors name (default: none, the installation's default cluster).
    #[arg(long, value_name = "NAME")]
    pub cluster_ref: Option<String>,
    /// Directory to write into: one `<name>.yaml` per connector, `secrets.yaml` when there are secret values.
    #[arg(short = 'd', long, value_name = "DIR")]
    pub dir: String,
    /// Only these connectors (default: all).
    #[arg(long = "connector", value_name = "NAME")]
    pub connectors: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct ConvertArgs {
    /// Files or directories (read recursively) of manifests; `-` reads standard input.
    #[arg(short = 'f', long = "filename", required = true, value_name = "PATH")]
    pub files: Vec<String>,
    /// The KafkaConnectCluster the converted connectors name in spec.clusterRef (Strimzi's strimzi.io/cluster
    /// label, and the external operator's address labels, map to it).
    #[arg(long, value_name = "NAME")]
    pub cluster_ref: Option<String>,
    /// Where to write the result (default: standard output).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

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
