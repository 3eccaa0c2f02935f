//! Command-line flags, each with an environment variable.

use std::net::SocketAddr;
use std::time::Duration;

use shared::runtime::logging::LogFormat;
use shared::watch::Namespaces;

/// connect-warden's controller: creates, updates, pauses, stops, restarts and deletes Kafka Connect
/// connectors from KafkaConnector objects, and reports their health in status, events and metrics.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "connect-warden-controller", version, about, long_about = None)]
pub struct Args {
    /// Address of the plain-HTTP server for /metrics, /healthz and /readyz [default: 0.0.0.0:8080, or
    /// 0.0.0.0:$CUSTOM_METRICS_PORT when that is set].
    #[arg(long, env = "CW_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// Port of the metrics server when --metrics-addr is not given (the kafka-autoconnector operator's
    /// variable).
    #[arg(long, env = "CUSTOM_METRICS_PORT")]
    pub custom_metrics_port: Option<u16>,

    /// Seconds between two `GET /connectors?expand=status&expand=info` of one Connect cluster.
    #[arg(long, env = "CW_POLL_INTERVAL_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub poll_interval_seconds: u64,

    /// Seconds between two full reconciles of an unchanged object (a safety net; changes are handled at once).
    #[arg(long, env = "CW_RESYNC_SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(5..=86400))]
    pub resync_seconds: u64,

    /// Only KafkaConnectors and KafkaConnectClusters matching this label selector are managed, e.g.
    /// `team=payments` or `!connectwarden.io/e2e-private`. Several controllers can thus share an API server.
    #[arg(long, env = "CW_LABEL_SELECTOR")]
    pub label_selector: Option<String>,

    /// Only these namespaces are watched, as a comma-separated list (`team-a,team-b`); empty or unset: every
    /// namespace. KafkaConnectors, KafkaConnectClusters, Secrets and ConfigMaps elsewhere are never read or
    /// touched. `WATCH_NAMESPACE` is the kafka-autoconnector operator's variable.
    #[arg(long, env = "WATCH_NAMESPACE")]
    pub watch_namespaces: Option<String>,

    /// Write the KafkaConnectorPolicies' status (how many connectors match and violate each). Policies are
    /// cluster-scoped, so only a controller that sees every connector should count them; controllers that
    /// share an API server by label selector or namespace would otherwise overwrite each other's partial
    /// counts. Unset: true exactly when neither --label-selector nor --watch-namespaces is given.
    /// Connectors get their PolicyViolation condition either way.
    #[arg(long, env = "CW_WRITE_POLICY_STATUS")]
    pub write_policy_status: Option<bool>,

    /// Kafka Connect URL for KafkaConnectors that name no clusterRef (`http://connect:8083`; a bare
    /// `host:port` means http).
    #[arg(long, env = "KAFKA_CONNECT_ADDR")]
    pub default_cluster_url: Option<String>,

    /// Request timeout in seconds for the default cluster.
    #[arg(long, env = "CW_DEFAULT_CLUSTER_TIMEOUT_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub default_cluster_timeout_seconds: u64,

    /// Most writes (create, update, pause, …) in flight at once against one Connect cluster.
    #[arg(long, env = "CW_MAX_WRITES_PER_CLUSTER", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub max_writes_per_cluster: u32,

    /// Log format: `json` (for a cluster) or `text` (for a terminal).
    #[arg(long, env = "CW_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,

    /// Log filter, e.g. `info` or `info,connect_warden_controller=debug`.
    #[arg(long, env = "CW_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// Elect a leader on a coordination.k8s.io Lease: only the leader reconciles, so replicas are safe.
    #[arg(long, env = "CW_LEADER_ELECTION", default_value_t = false)]
    pub leader_election: bool,

    /// Name of the Lease used for leader election.
    #[arg(
        long,
        env = "CW_LEASE_NAME",
        default_value = "connect-warden-controller"
    )]
    pub lease_name: String,

    /// Namespace of the Lease [default: $POD_NAMESPACE, else `default`].
    #[arg(long, env = "CW_LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,

    /// Seconds a Lease stays valid without renewal: how long a standby waits when the leader dies.
    #[arg(long, env = "CW_LEASE_DURATION_SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(2..=600))]
    pub lease_duration_seconds: u64,

    /// This replica's identity in the Lease and in events [default: $POD_NAME, else host name and pid].
    #[arg(long, env = "CW_IDENTITY")]
    pub identity: Option<String>,

    /// Default delay before the second automatic restart, doubled for each further one, and before the first
    /// automatic restart after a manual one (a KafkaConnector's spec.autoRestart.backoffBaseSeconds overrides
    /// it). The first restart is immediate.
    #[arg(long, env = "CW_RESTART_BACKOFF_BASE_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub restart_backoff_base_seconds: u64,

    /// Most automatic restarts sent per second to one Kafka Connect cluster (per URL and client settings),
    /// after a burst of as many: when many connectors fail at once (a broker or a database down), their
    /// restarts are spread out instead of reaching Connect all at once. 0: no pacing. Manual restarts are
    /// never paced.
    #[arg(long, env = "CW_MAX_RESTARTS_PER_SECOND", default_value_t = 20, value_parser = clap::value_parser!(u32).range(0..=10000))]
    pub max_restarts_per_second: u32,

    /// Default upper bound of the delay between automatic restarts.
    #[arg(long, env = "CW_RESTART_BACKOFF_MAX_SECONDS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub restart_backoff_max_seconds: u64,

    /// Default time a connector must stay healthy after a restart before its restart count resets.
    #[arg(long, env = "CW_RESTART_STABLE_SECONDS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub restart_stable_seconds: u64,

    /// Drift corrections of one connector (its config, state or the connector itself put back) within
    /// --contention-window-seconds after which the controller stops putting it back: another writer (a script, another operator, a KafkaConnector of another
    /// installation) keeps changing it. The connector then reports Ready=False with reason Contended, and
    /// writes resume after --contention-quiet-seconds without a change on Kafka Connect, or at once when its
    /// spec changes. 0: never stop.
    #[arg(long, env = "CW_CONTENTION_CORRECTIONS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub contention_corrections: u32,

    /// The sliding window in which drift corrections are counted (see --contention-corrections).
    #[arg(long, env = "CW_CONTENTION_WINDOW_SECONDS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub contention_window_seconds: u64,

    /// How long a contended connector's config must stay unchanged on Kafka Connect before the controller
    /// writes it again.
    #[arg(long, env = "CW_CONTENTION_QUIET_SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub contention_quiet_seconds: u64,

    /// How often the lag of sink connectors is measured, for each KafkaConnectCluster with spec.kafka: a few
    /// requests per broker for all its connectors together.
    #[arg(long, env = "CW_LAG_INTERVAL_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub lag_interval_seconds: u64,

    /// The window a sink connector's progress is judged over: Stalled when its committed offsets have not
    /// moved for the window while records wait, Stopped after twice the window, Lagging when its lag grew at
    /// every measurement across the window. Make it several times Connect's offset.flush.interval.ms.
    #[arg(long, env = "CW_PROGRESS_WINDOW_SECONDS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub progress_window_seconds: u64,

    /// Also export the kafka-autoconnector operator's gauges (kafka_autoconnector_total_connector_tasks,
    /// kafka_autoconnector_running_connector_tasks, kafka_autoconnector_connector_uptime).
    #[arg(long, env = "CW_AUTOCONNECTOR_METRICS", default_value_t = false)]
    pub autoconnector_metrics: bool,
}

impl Args {
    /// Where the metrics server listens: the flag, else `CUSTOM_METRICS_PORT`, else port 8080.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_addr.unwrap_or_else(|| {
            SocketAddr::from(([0, 0, 0, 0], self.custom_metrics_port.unwrap_or(8080)))
        })
    }

    /// When drift corrections amount to a fight with another writer (see --contention-corrections).
    pub fn contention_limits(&self) -> crate::contention::Limits {
        crate::contention::Limits {
            corrections: self.contention_corrections,
            window: Duration::from_secs(self.contention_window_seconds),
            quiet: Duration::from_secs(self.contention_quiet_seconds),
        }
    }

    /// Whether this controller writes the KafkaConnectorPolicies' status (see `--write-policy-status`).
    pub fn writes_policy_status(&self) -> bool {
        self.write_policy_status.unwrap_or_else(|| {
            self.label_selector
                .as_deref()
                .is_none_or(|s| s.trim().is_empty())
                && self.watch_namespaces().is_all()
        })
    }

    /// The namespaces to watch (every namespace when none is listed).
    pub fn watch_namespaces(&self) -> Namespaces {
        Namespaces::parse(self.watch_namespaces.as_deref().unwrap_or(""))
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_secs(self.poll_interval_seconds)
    }

    pub fn identity(&self) -> String {
        self.identity
            .clone()
            .or_else(|| std::env::var("POD_NAME").ok())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| {
                let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "controller".into());
                format!("{host}-{}", std::process::id())
            })
    }

    pub fn lease_namespace(&self) -> String {
        self.lease_namespace
            .clone()
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "default".into())
    }

    /// The default cluster's URL with a scheme (KAFKA_CONNECT_ADDR was often a bare `host:port`).
    pub fn default_cluster_url(&self) -> Option<String> {
        let raw = self.default_cluster_url.as_deref()?.trim();
        if raw.is_empty() {
            return None;
        }
        Some(if raw.contains("://") {
            raw.to_string()
        } else {
            format!("http://{raw}")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn defaults_and_metrics_port() {
        let a = Args::try_parse_from(["c"]).unwrap();
        assert_eq!(a.poll_interval_seconds, 10);
        assert!(!a.leader_election);
        let mut a = a;
        a.metrics_addr = None;
        a.custom_metrics_port = Some(5555);
        assert_eq!(a.metrics_addr().to_string(), "0.0.0.0:5555");
        a.metrics_addr = Some("127.0.0.1:9000".parse().unwrap());
        assert_eq!(a.metrics_addr().to_string(), "127.0.0.1:9000");
    }

    #[test]
    fn bare_default_url_gets_http() {
        let a = Args::try_parse_from(["c", "--default-cluster-url", "connect:8083"]).unwrap();
        assert_eq!(
            a.default_cluster_url().as_deref(),
            Some("http://connect:8083")
        );
        let a = Args::try_parse_from(["c", "--default-cluster-url", "https://c"]).unwrap();
        assert_eq!(a.default_cluster_url().as_deref(), Some("https://c"));
    }

    #[test]
    fn policy_status_is_written_by_a_controller_that_sees_every_connector() {
        let writes = |args: &[&str]| {
            let mut all = vec!["c"];
            all.extend_from_slice(args);
            Args::try_parse_from(all).unwrap().writes_policy_status()
        };
        assert!(writes(&[]));
        assert!(!writes(&["--label-selector", "team=a"]));
        assert!(!writes(&["--watch-namespaces", "a,b"]));
        assert!(writes(&[
            "--label-selector",
            "team=a",
            "--write-policy-status",
            "true"
        ]));
        assert!(!writes(&["--write-policy-status", "false"]));
        assert!(Args::try_parse_from(["c", "--write-policy-status", "yes"]).is_err());
    }

    #[test]
    fn watch_namespaces_from_the_flag_or_the_variable() {
        let a = Args::try_parse_from(["c", "--watch-namespaces", "a, b,,c"]).unwrap();
        assert_eq!(a.watch_namespaces().names(), ["a", "b", "c"]);
        assert!(
            Args::try_parse_from(["c", "--watch-namespaces", ""])
                .unwrap()
                .watch_namespaces()
                .is_all()
        );
        // The only test that sets WATCH_NAMESPACE; no other test reads it.
        #[allow(unsafe_code)]
        // SAFETY: no other thread of this test binary reads or writes this variable.
        unsafe {
            std::env::set_var("WATCH_NAMESPACE", "team-a,team-b");
        }
        let from_env = Args::try_parse_from(["c"]).map(|a| a.watch_namespaces());
        let flag_wins =
            Args::try_parse_from(["c", "--watch-namespaces", "x"]).map(|a| a.watch_namespaces());
        #[allow(unsafe_code)] // SAFETY: as above.
        unsafe {
            std::env::remove_var("WATCH_NAMESPACE");
        }
        assert_eq!(from_env.unwrap().names(), ["team-a", "team-b"]);
        assert_eq!(flag_wins.unwrap().names(), ["x"]);
        assert!(
            Args::try_parse_from(["c"])
                .unwrap()
                .watch_namespaces()
                .is_all()
        );
    }

    #[test]
    fn bad_values_are_refused_not_panicked() {
        assert!(Args::try_parse_from(["c", "--poll-interval-seconds", "0"]).is_err());
        assert!(Args::try_parse_from(["c", "--lease-duration-seconds", "1"]).is_err());
        assert!(Args::try_parse_from(["c", "--log-format", "xml"]).is_err());
        assert!(Args::try_parse_from(["c", "--max-restarts-per-second", "10001"]).is_err());
    }
}
