//! Command-line flags; each has a matching environment variable, for a Deployment's `env`.

use std::net::SocketAddr;
use std::path::PathBuf;

use shared::runtime::logging::LogFormat;
use shared::watch::Namespaces;

use crate::admission::FailurePolicy;

/// connect-warden's admission webhook: mutating (`/mutate`) and validating (`/validate`) admission for
/// KafkaConnector and KafkaConnectCluster, served over HTTPS; `/metrics`, `/healthz` and `/readyz` on a
/// separate plain-HTTP port. Kubernetes access comes from the in-cluster config or `KUBECONFIG`.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "connect-warden-webhook", version, args_override_self = true)]
pub struct Args {
    /// Address of the HTTPS admission server.
    #[arg(long, env = "CW_WEBHOOK_LISTEN_ADDR", default_value = "0.0.0.0:8443")]
    pub listen_addr: SocketAddr,

    /// PEM certificate chain of the admission server; reloaded when the file changes.
    #[arg(long, env = "CW_TLS_CERT_FILE")]
    pub tls_cert_file: PathBuf,

    /// PEM private key of the admission server; reloaded when the file changes.
    #[arg(long, env = "CW_TLS_KEY_FILE")]
    pub tls_key_file: PathBuf,

    /// How often to check the certificate and key files for changes, in seconds.
    #[arg(long, env = "CW_TLS_RELOAD_INTERVAL_SECONDS", default_value_t = 5)]
    pub tls_reload_interval_seconds: u64,

    /// Address of the plain-HTTP server for /metrics, /healthz and /readyz.
    #[arg(long, env = "CW_METRICS_ADDR", default_value = "0.0.0.0:9090")]
    pub metrics_addr: SocketAddr,

    /// When Kafka Connect is unreachable or too slow: `closed` denies, `open` admits with a warning.
    #[arg(
        long,
        env = "CW_CONNECT_FAILURE_POLICY",
        value_enum,
        default_value = "closed"
    )]
    pub connect_failure_policy: FailurePolicy,

    /// Deadline for one Kafka Connect validation, in milliseconds. Keep it below the API server's webhook
    /// timeout (10 s by default) so the user sees this webhook's message rather than a generic timeout.
    #[arg(long, env = "CW_CONNECT_TIMEOUT_MS", default_value_t = 8000)]
    pub connect_timeout_ms: u64,

    /// How long a Kafka Connect validation result is reused for the same cluster, class and config.
    #[arg(long, env = "CW_VALIDATION_CACHE_TTL_SECONDS", default_value_t = 60)]
    pub validation_cache_ttl_seconds: u64,

    /// Largest accepted AdmissionReview body, in bytes.
    #[arg(long, env = "CW_MAX_BODY_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Kafka Connect URL used for KafkaConnectors that name no `spec.clusterRef` (the variable name the
    /// kafka-autoconnector operator used). Without it such connectors are denied.
    #[arg(long, env = "KAFKA_CONNECT_ADDR")]
    pub default_connect_url: Option<String>,

    /// Only these namespaces are served, as a comma-separated list (`team-a,team-b`); empty or unset: every
    /// namespace. The caches then hold those namespaces alone, and a review of an object elsewhere is admitted
    /// with a warning that this installation does not serve its namespace (the webhook configuration's
    /// `namespaceSelector` should keep such requests away). `WATCH_NAMESPACE` is the kafka-autoconnector
    /// operator's variable.
    #[arg(long, env = "WATCH_NAMESPACE")]
    pub watch_namespaces: Option<String>,

    /// Log format: `json` (for a cluster) or `text` (for a terminal).
    #[arg(long, env = "CW_LOG_FORMAT", value_enum, default_value = "json")]
    pub log_format: LogFormat,

    /// Log filter, e.g. `info` or `info,kube=warn,webhook=debug`.
    #[arg(long, env = "CW_LOG_LEVEL", default_value = "info,kube=warn")]
    pub log_level: String,
}

impl Args {
    /// The namespaces served (every namespace when none is listed).
    pub fn watch_namespaces(&self) -> Namespaces {
        Namespaces::parse(self.watch_namespaces.as_deref().unwrap_or(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    const TLS: [&str; 5] = ["w", "--tls-cert-file", "c.pem", "--tls-key-file", "k.pem"];

    fn parse(extra: &[&str]) -> Args {
        Args::try_parse_from(TLS.iter().chain(extra)).unwrap()
    }

    #[test]
    fn watch_namespaces_from_the_flag_or_the_variable() {
        assert_eq!(
            parse(&["--watch-namespaces", "a, b,,c"])
                .watch_namespaces()
                .names(),
            ["a", "b", "c"]
        );
        // The only test that sets WATCH_NAMESPACE; no other test reads it.
        #[allow(unsafe_code)]
        // SAFETY: no other thread of this test binary reads or writes this variable.
        unsafe {
            std::env::set_var("WATCH_NAMESPACE", "team-a, team-b");
        }
        let from_env = parse(&[]).watch_namespaces();
        let flag_wins = parse(&["--watch-namespaces", "x"]).watch_namespaces();
        #[allow(unsafe_code)] // SAFETY: as above.
        unsafe {
            std::env::remove_var("WATCH_NAMESPACE");
        }
        assert_eq!(from_env.names(), ["team-a", "team-b"]);
        assert_eq!(flag_wins.names(), ["x"]);
        assert!(parse(&[]).watch_namespaces().is_all());
    }
}
