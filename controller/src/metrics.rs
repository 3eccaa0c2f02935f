//! Prometheus metrics (DESIGN §6): connector state, tasks by state, uptime, restarts, reconciles, Connect
//! requests, cluster reachability and Kubernetes writes. Series of deleted connectors are removed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use shared::connect::{ConnectorStatus, RequestObserver};

use crate::Result;

const CONNECTOR_STATES: &[&str] = &[
    "RUNNING",
    "PAUSED",
    "STOPPED",
    "FAILED",
    "UNASSIGNED",
    "RESTARTING",
];
const TASK_STATES: &[&str] = &["RUNNING", "PAUSED", "FAILED", "UNASSIGNED", "RESTARTING"];
const RESTART_TARGETS: &[&str] = &["connector", "task"];
const RESTART_TRIGGERS: &[&str] = &["automatic", "manual"];

/// (namespace, name) of a KafkaConnector.
pub type ObjKey = (String, String);

#[derive(Debug, Clone)]
struct Tracked {
    cluster: String,
    connector: String,
    /// Since when the connector and all its tasks are RUNNING.
    healthy_since: Option<DateTime<Utc>>,
}

pub struct Metrics {
    registry: Registry,
    connector_state: IntGaugeVec,
    connector_tasks: IntGaugeVec,
    connector_uptime: IntGaugeVec,
    restarts: IntCounterVec,
    reconcile_duration: HistogramVec,
    reconcile_errors: IntCounterVec,
    connect_requests: IntCounterVec,
    connect_duration: HistogramVec,
    cluster_up: IntGaugeVec,
    polls: IntCounterVec,
    kube_writes: IntCounterVec,
    leader: IntGauge,
    autoconnector: Option<[IntGaugeVec; 3]>,
    tracked: Mutex<HashMap<ObjKey, Tracked>>,
}

impl Metrics {
    pub fn new(autoconnector: bool) -> Result<Arc<Metrics>> {
        let registry = Registry::new();
        let cn = &["namespace", "name", "cluster"];
        let gauge = |name: &str, help: &str, labels: &[&str]| -> Result<IntGaugeVec> {
            let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let counter = |name: &str, help: &str, labels: &[&str]| -> Result<IntCounterVec> {
            let c = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let histogram = |name: &str, help: &str, labels: &[&str]| -> Result<HistogramVec> {
            let h = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 90.0,
                ]),
                labels,
            )?;
            registry.register(Box::new(h.clone()))?;
            Ok(h)
        };
        let with = |extra: &[&'static str]| -> Vec<&'static str> {
            let mut v = vec!["namespace", "name", "cluster"];
            v.extend_from_slice(extra);
            v
        };
        let autoconnector = if autoconnector {
            let l = &["ns", "rn", "connector_name"];
            Some([
                gauge(
                    "kafka_autoconnector_total_connector_tasks",
                    "Total number of tasks of the connector (kafka-autoconnector compatible).",
                    l,
                )?,
                gauge(
                    "kafka_autoconnector_running_connector_tasks",
                    "Number of RUNNING tasks of the connector (kafka-autoconnector compatible).",
                    l,
                )?,
                gauge(
                    "kafka_autoconnector_connector_uptime",
                    "Seconds the connector and all its tasks have been RUNNING without interruption (kafka-autoconnector compatible).",
                    l,
                )?,
            ])
        } else {
            None
        };
        let leader = IntGauge::new(
            "connect_warden_leader",
            "1 while this replica is the leader (always 1 without leader election).",
        )?;
        registry.register(Box::new(leader.clone()))?;
        Ok(Arc::new(Metrics {
            connector_state: gauge(
                "connect_warden_connector_state",
                "Connector state reported by Kafka Connect: 1 for the current state, 0 for the others.",
                &with(&["state"]),
            )?,
            connector_tasks: gauge(
                "connect_warden_connector_tasks",
                "Tasks of the connector by state.",
                &with(&["state"]),
            )?,
            connector_uptime: gauge(
                "connect_warden_connector_uptime_seconds",
                "Seconds the connector and all its tasks have been RUNNING; 0 when not.",
                cn,
            )?,
            restarts: counter(
                "connect_warden_connector_restarts_total",
                "Restarts issued by the controller, by target (connector, task) and trigger (automatic, manual).",
                &with(&["target", "trigger"]),
            )?,
            reconcile_duration: histogram(
                "connect_warden_reconcile_duration_seconds",
                "Duration of reconciles by kind (KafkaConnector, KafkaConnectCluster).",
                &["kind"],
            )?,
            reconcile_errors: counter(
                "connect_warden_reconcile_errors_total",
                "Failed reconciles by kind and reason.",
                &["kind", "reason"],
            )?,
            connect_requests: counter(
                "connect_warden_connect_requests_total",
                "Kafka Connect REST requests by cluster, method, path template and HTTP code (`none` when no answer came).",
                &["cluster", "method", "path", "code"],
            )?,
            connect_duration: histogram(
                "connect_warden_connect_request_duration_seconds",
                "Duration of Kafka Connect REST requests.",
                &["cluster", "method", "path"],
            )?,
            cluster_up: gauge(
                "connect_warden_cluster_up",
                "1 when the last poll of the Kafka Connect cluster succeeded.",
                &["cluster"],
            )?,
            polls: counter(
                "connect_warden_cluster_polls_total",
                "Polls (GET /connectors?expand=status&expand=info) by cluster and result.",
                &["cluster", "result"],
            )?,
            kube_writes: counter(
                "connect_warden_kube_writes_total",
                "Writes to the Kubernetes API by resource and verb (status, finalizer, annotation, event).",
                &["resource", "verb"],
            )?,
            leader,
            autoconnector,
            tracked: Mutex::new(HashMap::new()),
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

    pub fn reconciled(&self, kind: &str, took: Duration, error: Option<&str>) {
        self.reconcile_duration
            .with_label_values(&[kind])
            .observe(took.as_secs_f64());
        if let Some(r) = error {
            self.reconcile_errors.with_label_values(&[kind, r]).inc();
        }
    }

    /// A failure handled inside a reconcile (a Connect call that failed and is retried with backoff).
    pub fn reconcile_error(&self, kind: &str, reason: &str) {
        self.reconcile_errors
            .with_label_values(&[kind, reason])
            .inc();
    }

    pub fn poll(&self, cluster: &str, ok: bool) {
        self.polls
            .with_label_values(&[cluster, if ok { "ok" } else { "error" }])
            .inc();
        self.cluster_up
            .with_label_values(&[cluster])
            .set(i64::from(ok));
    }

    pub fn forget_cluster(&self, cluster: &str) {
        let _ = self.cluster_up.remove_label_values(&[cluster]);
        for r in ["ok", "error"] {
            let _ = self.polls.remove_label_values(&[cluster, r]);
        }
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    pub fn restarted(&self, key: &ObjKey, cluster: &str, target: &str, trigger: &str) {
        self.restarts
            .with_label_values(&[&key.0, &key.1, cluster, target, trigger])
            .inc();
    }

    /// Records what Connect reported for a connector. `healthy_since` is when it became healthy (from the
    /// Ready condition, so uptime survives a controller restart), `None` while it is not.
    pub fn observe_connector(
        &self,
        key: &ObjKey,
        cluster: &str,
        connector: &str,
        status: Option<&ConnectorStatus>,
        healthy_since: Option<DateTime<Utc>>,
    ) {
        let moved = {
            let mut tracked = self.tracked.lock().unwrap_or_else(|e| e.into_inner());
            let previous = tracked.insert(
                key.clone(),
                Tracked {
                    cluster: cluster.to_string(),
                    connector: connector.to_string(),
                    healthy_since,
                },
            );
            previous.filter(|p| p.cluster != cluster || p.connector != connector)
        };
        if let Some(old) = moved {
            self.remove_series(key, &old);
        }
        let Some(st) = status else { return };
        let l = |extra: &'static str| [key.0.as_str(), key.1.as_str(), cluster, extra];
        for s in CONNECTOR_STATES {
            self.connector_state
                .with_label_values(&l(s))
                .set(i64::from(st.connector.state == *s));
        }
        for s in TASK_STATES {
            let n = st.tasks.iter().filter(|t| t.state == *s).count();
            self.connector_tasks
                .with_label_values(&l(s))
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        if let Some([total, running, _]) = &self.autoconnector {
            let al = [key.0.as_str(), key.1.as_str(), connector];
            total
                .with_label_values(&al)
                .set(i64::try_from(st.tasks.len()).unwrap_or(i64::MAX));
            let r = st.tasks.iter().filter(|t| t.state == "RUNNING").count();
            running
                .with_label_values(&al)
                .set(i64::try_from(r).unwrap_or(i64::MAX));
        }
    }

    /// Removes every series of a connector that is gone (deleted, or no longer selected).
    pub fn forget_connector(&self, key: &ObjKey) {
        let old = self
            .tracked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        if let Some(old) = old {
            self.remove_series(key, &old);
        }
    }

    /// Connectors with series, for garbage collection against the watch cache.
    pub fn tracked_keys(&self) -> Vec<ObjKey> {
        self.tracked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    fn remove_series(&self, key: &ObjKey, t: &Tracked) {
        let (ns, name, c) = (key.0.as_str(), key.1.as_str(), t.cluster.as_str());
        for s in CONNECTOR_STATES {
            let _ = self.connector_state.remove_label_values(&[ns, name, c, s]);
        }
        for s in TASK_STATES {
            let _ = self.connector_tasks.remove_label_values(&[ns, name, c, s]);
        }
        let _ = self.connector_uptime.remove_label_values(&[ns, name, c]);
        for target in RESTART_TARGETS {
            for trigger in RESTART_TRIGGERS {
                let _ = self
                    .restarts
                    .remove_label_values(&[ns, name, c, target, trigger]);
            }
        }
        if let Some(gs) = &self.autoconnector {
            for g in gs {
                let _ = g.remove_label_values(&[ns, name, &t.connector]);
            }
        }
    }

    /// Sets the uptime gauges for `now` (called on every scrape, so they keep counting between reconciles).
    fn refresh_uptime(&self, now: DateTime<Utc>) {
        let tracked = self.tracked.lock().unwrap_or_else(|e| e.into_inner());
        for ((ns, name), t) in tracked.iter() {
            let secs = t
                .healthy_since
                .map_or(0, |s| (now - s).num_seconds().max(0));
            self.connector_uptime
                .with_label_values(&[ns, name, &t.cluster])
                .set(secs);
            if let Some([_, _, up]) = &self.autoconnector {
                up.with_label_values(&[ns, name, &t.connector]).set(secs);
            }
        }
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        self.refresh_uptime(Utc::now());
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::warn!(error = %e, "encoding metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

struct ConnectObserver {
    cluster: String,
    metrics: Arc<Metrics>,
}

impl RequestObserver for ConnectObserver {
    fn observe(&self, method: &str, path: &str, status: Option<u16>, elapsed: Duration) {
        let code = status.map_or_else(|| "none".to_string(), |s| s.to_string());
        self.metrics
            .connect_requests
            .with_label_values(&[self.cluster.as_str(), method, path, &code])
            .inc();
        self.metrics
            .connect_duration
            .with_label_values(&[self.cluster.as_str(), method, path])
            .observe(elapsed.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::connect::{ConnectorState, TaskState};

    fn status(tasks: &[&str]) -> ConnectorStatus {
        ConnectorStatus {
            name: "c".into(),
            connector: ConnectorState {
                state: "RUNNING".into(),
                worker_id: None,
                trace: None,
            },
            tasks: tasks
                .iter()
                .enumerate()
                .map(|(i, s)| TaskState {
                    id: i as i32,
                    state: s.to_string(),
                    worker_id: None,
                    trace: None,
                })
                .collect(),
            kind: None,
        }
    }

    #[test]
    fn series_appear_and_disappear() {
        let m = Metrics::new(true).unwrap();
        let key = ("ns".to_string(), "orders".to_string());
        let since = Utc::now() - chrono::Duration::seconds(42);
        m.observe_connector(
            &key,
            "ns/c",
            "orders",
            Some(&status(&["RUNNING", "FAILED"])),
            Some(since),
        );
        m.restarted(&key, "ns/c", "task", "automatic");
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
        m.forget_connector(&key);
        let text = m.render();
        assert!(!text.contains("orders"), "{text}");
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
