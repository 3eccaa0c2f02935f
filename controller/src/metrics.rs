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

/// What the per-connector series are rendered from at scrape time: a few bytes per connector instead of a
/// dozen metric objects, so thousands of connectors stay cheap.
#[derive(Debug, Clone, Default)]
struct Tracked {
    cluster: String,
    connector: String,
    /// Index in `CONNECTOR_STATES`, once Connect reported one.
    state: Option<usize>,
    /// Tasks per `TASK_STATES` entry.
    tasks: [u32; TASK_STATES.len()],
    /// Since when the connector and all its tasks are RUNNING.
    healthy_since: Option<DateTime<Utc>>,
    /// Restarts per (target, trigger), as in `RESTART_TARGETS` × `RESTART_TRIGGERS`.
    restarts: [[u64; 2]; 2],
    /// Ready=False with reason RestartsExhausted: automatic restarts have given up.
    exhausted: bool,
}

impl Tracked {
    /// Points the entry at `cluster`/`connector`; a connector that moved or was renamed starts afresh.
    fn retarget(&mut self, cluster: &str, connector: &str) {
        if self.cluster != cluster || self.connector != connector {
            *self = Tracked {
                cluster: cluster.to_string(),
                connector: connector.to_string(),
                ..Tracked::default()
            };
        }
    }
}

pub struct Metrics {
    registry: Registry,
    reconcile_duration: HistogramVec,
    reconcile_errors: IntCounterVec,
    connect_requests: IntCounterVec,
    connect_duration: HistogramVec,
    cluster_up: IntGaugeVec,
    polls: IntCounterVec,
    kube_writes: IntCounterVec,
    leader: IntGauge,
    autoconnector: bool,
    tracked: Mutex<HashMap<ObjKey, Tracked>>,
}

impl Metrics {
    pub fn new(autoconnector: bool) -> Result<Arc<Metrics>> {
        let registry = Registry::new();
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
        let leader = IntGauge::new(
            "connect_warden_leader",
            "1 while this replica is the leader (always 1 without leader election).",
        )?;
        registry.register(Box::new(leader.clone()))?;
        Ok(Arc::new(Metrics {
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

    pub fn restarted(
        &self,
        key: &ObjKey,
        cluster: &str,
        connector: &str,
        target: &str,
        trigger: &str,
    ) {
        let mut tracked = self.tracked.lock().unwrap_or_else(|e| e.into_inner());
        let t = tracked.entry(key.clone()).or_default();
        t.retarget(cluster, connector);
        let ti = RESTART_TARGETS
            .iter()
            .position(|x| *x == target)
            .unwrap_or(0);
        let gi = RESTART_TRIGGERS
            .iter()
            .position(|x| *x == trigger)
            .unwrap_or(0);
        t.restarts[ti][gi] = t.restarts[ti][gi].saturating_add(1);
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
        let mut tracked = self.tracked.lock().unwrap_or_else(|e| e.into_inner());
        let t = tracked.entry(key.clone()).or_default();
        t.retarget(cluster, connector);
        t.healthy_since = healthy_since;
        let Some(st) = status else { return };
        t.state = CONNECTOR_STATES
            .iter()
            .position(|s| *s == st.connector.state);
        for (i, s) in TASK_STATES.iter().enumerate() {
            let n = st.tasks.iter().filter(|t| t.state == *s).count();
            t.tasks[i] = u32::try_from(n).unwrap_or(u32::MAX);
        }
    }

    /// Records whether automatic restarts gave up on a connector (its Ready reason is RestartsExhausted).
    pub fn set_restarts_exhausted(&self, key: &ObjKey, exhausted: bool) {
        let mut tracked = self.tracked.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = tracked.get_mut(key) {
            t.exhausted = exhausted;
        }
    }

    /// Removes every series of a connector that is gone (deleted, or no longer selected).
    pub fn forget_connector(&self, key: &ObjKey) {
        self.tracked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
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

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::warn!(error = %e, "encoding metrics");
        }
        let mut out = String::from_utf8(buf).unwrap_or_default();
        self.render_connectors(&mut out, Utc::now());
        out
    }

    /// The per-connector families, written straight from `tracked`.
    fn render_connectors(&self, out: &mut String, now: DateTime<Utc>) {
        use std::fmt::Write as _;
        let tracked = self.tracked.lock().unwrap_or_else(|e| e.into_inner());
        let mut keys: Vec<&ObjKey> = tracked.keys().collect();
        keys.sort();
        let uptime = |t: &Tracked| {
            t.healthy_since
                .map_or(0, |s| (now - s).num_seconds().max(0))
        };
        let head = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        head(
            out,
            "connect_warden_connector_state",
            "gauge",
            "Connector state reported by Kafka Connect: 1 for the current state, 0 for the others.",
        );
        for k in &keys {
            let t = &tracked[*k];
            let Some(current) = t.state else { continue };
            for (i, s) in CONNECTOR_STATES.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "connect_warden_connector_state{{cluster=\"{}\",name=\"{}\",namespace=\"{}\",state=\"{s}\"}} {}",
                    esc(&t.cluster),
                    esc(&k.1),
                    esc(&k.0),
                    u8::from(i == current)
                );
            }
        }
        head(
            out,
            "connect_warden_connector_tasks",
            "gauge",
            "Tasks of the connector by state.",
        );
        for k in &keys {
            let t = &tracked[*k];
            if t.state.is_none() {
                continue;
            }
            for (i, s) in TASK_STATES.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "connect_warden_connector_tasks{{cluster=\"{}\",name=\"{}\",namespace=\"{}\",state=\"{s}\"}} {}",
                    esc(&t.cluster),
                    esc(&k.1),
                    esc(&k.0),
                    t.tasks[i]
                );
            }
        }
        head(
            out,
            "connect_warden_connector_uptime_seconds",
            "gauge",
            "Seconds the connector and all its tasks have been RUNNING; 0 when not.",
        );
        for k in &keys {
            let t = &tracked[*k];
            let _ = writeln!(
                out,
                "connect_warden_connector_uptime_seconds{{cluster=\"{}\",name=\"{}\",namespace=\"{}\"}} {}",
                esc(&t.cluster),
                esc(&k.1),
                esc(&k.0),
                uptime(t)
            );
        }
        head(
            out,
            "connect_warden_connector_restarts_exhausted",
            "gauge",
            "1 while automatic restarts have given up on the connector (maxRestarts reached), else 0.",
        );
        for k in &keys {
            let t = &tracked[*k];
            let _ = writeln!(
                out,
                "connect_warden_connector_restarts_exhausted{{cluster=\"{}\",name=\"{}\",namespace=\"{}\"}} {}",
                esc(&t.cluster),
                esc(&k.1),
                esc(&k.0),
                u8::from(t.exhausted)
            );
        }
        head(
            out,
            "connect_warden_connector_restarts_total",
            "counter",
            "Restarts issued by the controller, by target (connector, task) and trigger (automatic, manual).",
        );
        for k in &keys {
            let t = &tracked[*k];
            for (ti, target) in RESTART_TARGETS.iter().enumerate() {
                for (gi, trigger) in RESTART_TRIGGERS.iter().enumerate() {
                    let n = t.restarts[ti][gi];
                    if n > 0 {
                        let _ = writeln!(
                            out,
                            "connect_warden_connector_restarts_total{{cluster=\"{}\",name=\"{}\",namespace=\"{}\",target=\"{target}\",trigger=\"{trigger}\"}} {n}",
                            esc(&t.cluster),
                            esc(&k.1),
                            esc(&k.0)
                        );
                    }
                }
            }
        }
        if !self.autoconnector {
            return;
        }
        // The kafka-autoconnector operator's gauges, labelled as it did (ns, rn, connector_name).
        let running = TASK_STATES
            .iter()
            .position(|s| *s == "RUNNING")
            .unwrap_or(0);
        for (name, help, value) in [
            (
                "kafka_autoconnector_total_connector_tasks",
                "Total number of tasks of the connector (kafka-autoconnector compatible).",
                0u8,
            ),
            (
                "kafka_autoconnector_running_connector_tasks",
                "Number of RUNNING tasks of the connector (kafka-autoconnector compatible).",
                1,
            ),
            (
                "kafka_autoconnector_connector_uptime",
                "Seconds the connector and all its tasks have been RUNNING without interruption (kafka-autoconnector compatible).",
                2,
            ),
        ] {
            head(out, name, "gauge", help);
            for k in &keys {
                let t = &tracked[*k];
                if t.state.is_none() {
                    continue;
                }
                let v = match value {
                    0 => i64::from(t.tasks.iter().sum::<u32>()),
                    1 => i64::from(t.tasks[running]),
                    _ => uptime(t),
                };
                let _ = writeln!(
                    out,
                    "{name}{{connector_name=\"{}\",ns=\"{}\",rn=\"{}\"}} {v}",
                    esc(&t.connector),
                    esc(&k.0),
                    esc(&k.1)
                );
            }
        }
    }
}

/// A label value in the text format: backslash, double quote and newline escaped.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
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
        m.restarted(&key, "ns/c", "orders", "task", "automatic");
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
        m.set_restarts_exhausted(&key, true);
        assert!(m.render().contains(r#"connect_warden_connector_restarts_exhausted{cluster="ns/c",name="orders",namespace="ns"} 1"#));
        m.forget_connector(&key);
        let text = m.render();
        assert!(!text.contains("orders"), "{text}");
    }

    #[test]
    fn a_restart_counted_before_the_first_observation_is_kept() {
        let m = Metrics::new(false).unwrap();
        let key = ("ns".to_string(), "orders".to_string());
        m.restarted(&key, "ns/c", "orders", "task", "automatic");
        m.observe_connector(&key, "ns/c", "orders", Some(&status(&["FAILED"])), None);
        assert!(
            m.render()
                .contains(r#"target="task",trigger="automatic"} 1"#)
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(esc(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(esc("x\ny"), "x\\ny");
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
