//! Prometheus metrics, by concern: reconciles, Kafka Connect requests, cluster polls, Kubernetes writes,
//! leadership, and the per-connector series (see [`connectors`]). Each group registers its own metrics.

mod connectors;

use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus::{
    HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};
use shared::connect::RequestObserver;
use shared::runtime::admin::Exposition;

pub(crate) use connectors::{ProgressFigures, RestartTarget};

use crate::error::Result;

const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 90.0,
];

fn registered<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    c: C,
) -> Result<C> {
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> Result<IntCounterVec> {
    registered(registry, IntCounterVec::new(Opts::new(name, help), labels)?)
}

fn histogram(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> Result<HistogramVec> {
    let opts = HistogramOpts::new(name, help).buckets(BUCKETS.to_vec());
    registered(registry, HistogramVec::new(opts, labels)?)
}

/// Reconciles by kind: duration and failures.
struct Reconciles {
    duration: HistogramVec,
    errors: IntCounterVec,
}

impl Reconciles {
    fn register(r: &Registry) -> Result<Reconciles> {
        Ok(Reconciles {
            duration: histogram(
                r,
                "connect_warden_reconcile_duration_seconds",
                "Duration of reconciles by kind (KafkaConnector, KafkaConnectCluster).",
                &["kind"],
            )?,
            errors: counter(
                r,
                "connect_warden_reconcile_errors_total",
                "Failed reconciles by kind and reason.",
                &["kind", "reason"],
            )?,
        })
    }
}

/// Kafka Connect REST requests by cluster.
struct ConnectRequests {
    total: IntCounterVec,
    duration: HistogramVec,
}

impl ConnectRequests {
    fn register(r: &Registry) -> Result<ConnectRequests> {
        Ok(ConnectRequests {
            total: counter(
                r,
                "connect_warden_connect_requests_total",
                "Kafka Connect REST requests by cluster, method, path template and HTTP code (`none` when no answer came).",
                &["cluster", "method", "path", "code"],
            )?,
            duration: histogram(
                r,
                "connect_warden_connect_request_duration_seconds",
                "Duration of Kafka Connect REST requests.",
                &["cluster", "method", "path"],
            )?,
        })
    }
}

/// Polls of the Connect clusters and their outcome.
struct Polls {
    up: IntGaugeVec,
    total: IntCounterVec,
}

impl Polls {
    fn register(r: &Registry) -> Result<Polls> {
        Ok(Polls {
            up: registered(
                r,
                IntGaugeVec::new(
                    Opts::new(
                        "connect_warden_cluster_up",
                        "1 when the last poll of the Kafka Connect cluster succeeded.",
                    ),
                    &["cluster"],
                )?,
            )?,
            total: counter(
                r,
                "connect_warden_cluster_polls_total",
                "Polls (GET /connectors?expand=status&expand=info) by cluster and result.",
                &["cluster", "result"],
            )?,
        })
    }
}

/// Lag measurement's reads of a Kafka cluster.
struct KafkaReads {
    up: IntGaugeVec,
    requests: IntCounterVec,
    cycle: HistogramVec,
}

impl KafkaReads {
    fn register(r: &Registry) -> Result<KafkaReads> {
        Ok(KafkaReads {
            up: registered(
                r,
                IntGaugeVec::new(
                    Opts::new(
                        "connect_warden_kafka_up",
                        "1 when the last lag measurement of the Connect cluster's Kafka cluster (spec.kafka) succeeded, else 0.",
                    ),
                    &["cluster"],
                )?,
            )?,
            requests: counter(
                r,
                "connect_warden_kafka_requests_total",
                "Requests sent to Kafka brokers to measure lag (connection set-up included).",
                &["cluster"],
            )?,
            cycle: histogram(
                r,
                "connect_warden_lag_measurement_duration_seconds",
                "Duration of one lag measurement of all sink connectors of a Connect cluster.",
                &["cluster"],
            )?,
        })
    }
}

pub(crate) struct Metrics {
    registry: Registry,
    reconciles: Reconciles,
    connect: ConnectRequests,
    polls: Polls,
    kafka: KafkaReads,
    kube_writes: IntCounterVec,
    leader: IntGauge,
    /// The per-connector series.
    pub connectors: connectors::Connectors,
}

impl Metrics {
    pub fn new(autoconnector: bool) -> Result<Arc<Metrics>> {
        let registry = Registry::new();
        Ok(Arc::new(Metrics {
            reconciles: Reconciles::register(&registry)?,
            connect: ConnectRequests::register(&registry)?,
            polls: Polls::register(&registry)?,
            kafka: KafkaReads::register(&registry)?,
            kube_writes: counter(
                &registry,
                "connect_warden_kube_writes_total",
                "Writes to the Kubernetes API by resource and verb (status, finalizer, annotation, event).",
                &["resource", "verb"],
            )?,
            leader: registered(
                &registry,
                IntGauge::new(
                    "connect_warden_leader",
                    "1 while this replica is the leader (always 1 without leader election).",
                )?,
            )?,
            connectors: connectors::Connectors::new(autoconnector),
            registry,
        }))
    }

    /// A request observer for one cluster's client.
    pub fn observer(self: &Arc<Self>, cluster: &str) -> Arc<dyn RequestObserver> {
        Arc::new(ConnectObserver {
            cluster: cluster.to_string(),
            metrics: self.clone(),
        })
    }

    pub fn kube_write(&self, resource: &str, verb: &str) {
        self.kube_writes.with_label_values(&[resource, verb]).inc();
    }

    /// Times a reconcile of `kind` until the timer is dropped; [`ReconcileTimer::failed`] counts an error.
    pub fn reconcile_timer(&self, kind: &'static str) -> ReconcileTimer<'_> {
        ReconcileTimer {
            reconciles: &self.reconciles,
            kind,
            started: Instant::now(),
        }
    }

    /// A failure handled inside a reconcile (a Connect call that failed and is retried with backoff).
    pub fn reconcile_error(&self, kind: &str, reason: &str) {
        self.reconciles
            .errors
            .with_label_values(&[kind, reason])
            .inc();
    }

    pub fn poll(&self, cluster: &str, ok: bool) {
        self.polls
            .total
            .with_label_values(&[cluster, if ok { "ok" } else { "error" }])
            .inc();
        self.polls
            .up
            .with_label_values(&[cluster])
            .set(i64::from(ok));
    }

    /// One lag measurement of `cluster`'s Kafka: whether it worked, the requests it sent, how long it took.
    pub fn lag_measured(&self, cluster: &str, ok: bool, requests: u64, took: Duration) {
        let k = &self.kafka;
        k.up.with_label_values(&[cluster]).set(i64::from(ok));
        k.requests.with_label_values(&[cluster]).inc_by(requests);
        k.cycle
            .with_label_values(&[cluster])
            .observe(took.as_secs_f64());
    }

    /// `cluster` no longer measures lag (no spec.kafka any more).
    pub fn forget_kafka(&self, cluster: &str) {
        let _ = self.kafka.up.remove_label_values(&[cluster]);
    }

    pub fn forget_cluster(&self, cluster: &str) {
        self.forget_kafka(cluster);
        let _ = self.polls.up.remove_label_values(&[cluster]);
        for r in ["ok", "error"] {
            let _ = self.polls.total.remove_label_values(&[cluster, r]);
        }
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// What `/metrics` serves: the registry, then the per-connector series.
    pub fn exposition(&self) -> Exposition {
        Exposition::from(self.registry.clone()).with_chunked(self.connectors.families())
    }

    /// The text exposition of every metric.
    #[cfg(test)]
    pub fn render(&self) -> String {
        self.exposition().render()
    }
}

/// Observes a reconcile's duration when dropped, however the reconcile ends.
pub(crate) struct ReconcileTimer<'a> {
    reconciles: &'a Reconciles,
    kind: &'static str,
    started: Instant,
}

impl ReconcileTimer<'_> {
    /// Counts the reconcile as failed for `reason`, if any.
    pub fn failed(self, reason: Option<&str>) {
        if let Some(r) = reason {
            self.reconciles
                .errors
                .with_label_values(&[self.kind, r])
                .inc();
        }
    }
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        self.reconciles
            .duration
            .with_label_values(&[self.kind])
            .observe(self.started.elapsed().as_secs_f64());
    }
}

struct ConnectObserver {
    cluster: String,
    metrics: Arc<Metrics>,
}

impl RequestObserver for ConnectObserver {
    fn observe(&self, method: &str, path: &str, status: Option<u16>, elapsed: Duration) {
        let code = status.map_or_else(|| "none".to_string(), |s| s.to_string());
        let c = &self.metrics.connect;
        c.total
            .with_label_values(&[self.cluster.as_str(), method, path, &code])
            .inc();
        c.duration
            .with_label_values(&[self.cluster.as_str(), method, path])
            .observe(elapsed.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Trigger;
    use jiff::Timestamp;
    use shared::connect::ConnectorStatus;

    fn status(tasks: &[&str]) -> ConnectorStatus {
        crate::fixtures::connector_status("RUNNING", tasks)
    }

    fn automatic_task_restart(m: &Metrics, key: &(String, String)) {
        m.connectors.restarted(
            key,
            "ns/c",
            "orders",
            RestartTarget::Task,
            Trigger::Automatic,
        );
    }

    #[test]
    fn series_appear_and_disappear() {
        let m = Metrics::new(true).unwrap();
        let key = ("ns".to_string(), "orders".to_string());
        let since = Timestamp::now() - Duration::from_secs(42);
        m.connectors.observe(
            &key,
            "ns/c",
            "orders",
            Some(&status(&["RUNNING", "FAILED"])),
            Some(since),
        );
        automatic_task_restart(&m, &key);
        let text = m.render();
        assert!(text.contains(r#"connect_warden_connector_state{cluster="ns/c",name="orders",namespace="ns",state="RUNNING"} 1"#), "{text}");
        assert!(text.contains(r#"connect_warden_connector_tasks{cluster="ns/c",name="orders",namespace="ns",state="FAILED"} 1"#));
        assert!(text.contains(r#"kafka_autoconnector_total_connector_tasks{connector_name="orders",ns="ns",rn="orders"} 2"#));
        assert!(text.contains(r#"kafka_autoconnector_running_connector_tasks{connector_name="orders",ns="ns",rn="orders"} 1"#));
        assert!(text.contains(r#"connect_warden_connector_restarts_total{cluster="ns/c",name="orders",namespace="ns",target="task",trigger="automatic"} 1"#));
        let up = text
            .lines()
            .find(|l| l.starts_with("connect_warden_connector_uptime_seconds{"))
            .unwrap();
        let v: i64 = up.rsplit(' ').next().unwrap().parse().unwrap();
        assert!((42..50).contains(&v), "{up}");
        assert!(text.contains(r#"connect_warden_connector_restarts_exhausted{cluster="ns/c",name="orders",namespace="ns"} 0"#));
        assert!(text.contains(
            r#"connect_warden_connector_contended{cluster="ns/c",name="orders",namespace="ns"} 0"#
        ));
        m.connectors.set_given_up(&key, true, false);
        assert!(m.render().contains(r#"connect_warden_connector_restarts_exhausted{cluster="ns/c",name="orders",namespace="ns"} 1"#));
        m.connectors.set_given_up(&key, false, true);
        let text = m.render();
        assert!(text.contains(
            r#"connect_warden_connector_contended{cluster="ns/c",name="orders",namespace="ns"} 1"#
        ));
        assert!(text.contains(r#"connect_warden_connector_restarts_exhausted{cluster="ns/c",name="orders",namespace="ns"} 0"#));
        m.connectors.forget(&key);
        let text = m.render();
        assert!(!text.contains("orders"), "{text}");
    }

    #[test]
    fn a_restart_counted_before_the_first_observation_is_kept() {
        let m = Metrics::new(false).unwrap();
        let key = ("ns".to_string(), "orders".to_string());
        automatic_task_restart(&m, &key);
        m.connectors
            .observe(&key, "ns/c", "orders", Some(&status(&["FAILED"])), None);
        assert!(
            m.render()
                .contains(r#"target="task",trigger="automatic"} 1"#)
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::new(false).unwrap();
        let key = ("ns".to_string(), "x\ny".to_string());
        m.connectors.observe(&key, r#"a"b\c"#, "c", None, None);
        let text = m.render();
        assert!(text.contains(r#"cluster="a\"b\\c""#), "{text}");
        assert!(text.contains(r#"name="x\ny""#), "{text}");
    }

    #[test]
    fn connect_requests_are_counted_by_template() {
        let m = Metrics::new(false).unwrap();
        let o = m.observer("ns/c");
        o.observe(
            "GET",
            "/connectors?expand=status&expand=info",
            Some(200),
            Duration::from_millis(3),
        );
        o.observe(
            "GET",
            "/connectors?expand=status&expand=info",
            None,
            Duration::from_millis(3),
        );
        let text = m.render();
        assert!(text.contains(r#"connect_warden_connect_requests_total{cluster="ns/c",code="200",method="GET",path="/connectors?expand=status&expand=info"} 1"#), "{text}");
        assert!(text.contains(r#"code="none""#));
        assert!(!text.contains("kafka_autoconnector"));
    }
}
