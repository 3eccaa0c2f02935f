//! The `connect-warden-certs` command line: `ensure` once (an init container, a script) or `run` the
//! rotation loop (a sidecar next to the webhook, sharing the output directory).

use std::path::PathBuf;

use sha2::{Digest, Sha256};
use shared::runtime::logging::LogFormat;

use crate::{Material, Result, SettingsArgs, ensure, run_rotation_loop, write_files};

/// Creates and rotates the connect-warden webhook's CA and serving certificate, keeps them in a Secret,
/// writes the CA bundle into the webhook configurations and the certificate files for the webhook.
/// Kubernetes access comes from the in-cluster config or `KUBECONFIG`.
#[derive(Debug, clap::Parser)]
#[command(name = "connect-warden-certs", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log format: `json` (for a cluster) or `text` (for a terminal).
    #[arg(long, env = "CW_LOG_FORMAT", default_value = "json", global = true)]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `debug`.
    #[arg(
        long,
        env = "CW_LOG_LEVEL",
        default_value = "info,kube=warn",
        global = true
    )]
    pub log_level: String,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Bring Secret, caBundle and files up to date once, print a JSON summary and exit.
    Ensure(Target),
    /// Like `ensure`, then keep renewing until SIGTERM or Ctrl-C.
    Run(Target),
}

#[derive(Debug, clap::Args)]
pub struct Target {
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Directory for `tls.crt`, `tls.key` and `ca.crt` (not written when omitted).
    #[arg(long, env = "CW_CERTS_OUT_DIR")]
    pub out_dir: Option<PathBuf>,
}

/// What `ensure` prints: enough to compare runs without showing key material.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub secret: String,
    pub cert_sha256: String,
    pub ca_bundle_sha256: String,
    pub cert_not_after: i64,
    pub files_changed: bool,
}

fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

pub fn summary(secret: String, m: &Material, files_changed: bool) -> Summary {
    Summary {
        secret,
        cert_sha256: sha256(&m.cert_pem),
        ca_bundle_sha256: sha256(&m.ca_bundle_pem),
        cert_not_after: m.cert_not_after,
        files_changed,
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<()> {
    let (target, keep_running) = match cli.command {
        Command::Ensure(t) => (t, false),
        Command::Run(t) => (t, true),
    };
    let settings = target.settings.into_settings()?;
    let client = kube::Client::try_default()
        .await
        .map_err(crate::kube_err("connecting to Kubernetes"))?;
    let material = ensure(&client, &settings).await?;
    let files_changed = match &target.out_dir {
        Some(dir) => write_files(dir, &material)?,
        None => false,
    };
    let secret = format!("{}/{}", settings.namespace, settings.secret_name);
    let line = serde_json::to_string(&summary(secret, &material, files_changed))
        .map_err(|e| crate::Error::Parse(e.to_string()))?;
    println!("{line}");
    if !keep_running {
        return Ok(());
    }
    let out_dir = target.out_dir;
    run_rotation_loop(
        client,
        settings,
        move |m| match &out_dir {
            Some(dir) => write_files(dir, m).map(|_| ()),
            None => Ok(()),
        },
        shared::runtime::signal::received(),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn flags_parse_into_settings() {
        let cli = Cli::try_parse_from([
            "connect-warden-certs",
            "run",
            "--namespace",
            "cw",
            "--secret",
            "s",
            "--service",
            "hook",
            "--webhook-config",
            "cw-a,cw-b",
            "--validating-config",
            "only-v",
            "--extra-san",
            "127.0.0.1",
            "--cert-validity",
            "60s",
            "--cert-renew-before",
            "30s",
            "--ca-validity",
            "10m",
            "--ca-renew-before",
            "5m",
            "--check-interval",
            "2s",
            "--out-dir",
            "/tmp/x",
        ])
        .unwrap();
        let Command::Run(t) = cli.command else {
            panic!("run expected")
        };
        assert_eq!(t.out_dir, Some(PathBuf::from("/tmp/x")));
        let s = t.settings.into_settings().unwrap();
        assert_eq!(s.mutating_configs, ["cw-a", "cw-b"]);
        assert_eq!(s.validating_configs, ["cw-a", "cw-b", "only-v"]);
        assert_eq!(s.extra_sans, ["127.0.0.1"]);
        assert_eq!(s.cert_validity.as_secs(), 60);
        assert_eq!(s.check_interval.as_secs(), 2);
    }

    #[test]
    fn inconsistent_windows_are_refused() {
        let cli = Cli::try_parse_from([
            "connect-warden-certs",
            "ensure",
            "--namespace",
            "cw",
            "--cert-validity",
            "10s",
            "--cert-renew-before",
            "20s",
        ])
        .unwrap();
        let Command::Ensure(t) = cli.command else {
            panic!("ensure expected")
        };
        assert!(t.settings.into_settings().is_err());
    }
}
