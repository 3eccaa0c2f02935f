//! The per-connector series, kept as a few bytes of state per connector (thousands of connectors stay
//! cheap) and written only when scraped, a chunk of connectors at a time ([`ChunkedFamilies`]): gathered
//! whole, 2,000 connectors' series took over ten times the size of their text as objects.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use parking_lot::Mutex;
use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};
use shared::connect::ConnectorStatus;
use shared::runtime::admin::{ChunkedFamilies, encode_chunk};

use crate::plan::Trigger;
use crate::progress::ProgressState;

const CONNECTOR_STATES: [&str; 6] = [
    "RUNNING",
    "PAUSED",
    "STOPPED",
    "FAILED",
    "UNASSIGNED",
    "RESTARTING",
];
const TASK_STATES: [&str; 5] = ["RUNNING", "PAUSED", "FAILED", "UNASSIGNED", "RESTARTING"];
const RUNNING_TASKS: usize = 0;
/// Connectors whose series are built and written at once during a scrape.
const CHUNK: usize = 256;

/// (namespace, name) of a KafkaConnector.
pub(crate) type ObjKey = (String, String);

/// What a restart restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RestartTarget {
    Connector,
    Task,
}

impl RestartTarget {
    const ALL: [RestartTarget; 2] = [RestartTarget::Connector, RestartTarget::Task];

    fn label(self) -> &'static str {
        match self {
            RestartTarget::Connector => "connector",
            RestartTarget::Task => "task",
        }
    }
}

const TRIGGERS: [Trigger; 2] = [Trigger::Automatic, Trigger::Manual];

/// What one connector's series are made from.
#[derive(Debug, Clone, Default)]
struct Tracked {
    cluster: String,
    connector: String,
    /// Index in `CONNECTOR_STATES`, once Connect reported one.
    state: Option<usize>,
    /// Tasks per `TASK_STATES` entry.
    tasks: [u32; TASK_STATES.len()],
    /// Since when the connector and all its tasks are RUNNING.
    healthy_since: Option<Timestamp>,
    /// Restarts per (target, trigger), in the order of `RestartTarget::ALL` × `TRIGGERS`.
    restarts: [[u64; 2]; 2],
    /// Ready=False with reason RestartsExhausted: automatic restarts have given up.
    exhausted: bool,
    /// Ready=False with reason Contended: writes are held while another writer changes the connector.
    contended: bool,
    /// Lag, progress and dead letters of a sink, while measured.
    progress: Option<ProgressFigures>,
}

/// What lag measurement last said of one sink connector; each figure only while known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ProgressFigures {
    pub state: Option<ProgressState>,
    pub lag: Option<i64>,
    pub dead_letters: Option<i64>,
    /// Seconds since the epoch.
    pub last_commit: Option<i64>,
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

    fn uptime(&self, now: Timestamp) -> i64 {
        self.healthy_since
            .map_or(0, |s| now.duration_since(s).as_secs().max(0))
    }
}

/// Samples of one connector in one family: extra labels and a value.
type Samples = Vec<(Vec<(&'static str, &'static str)>, f64)>;

/// One family the collector writes: its name, help and type; the samples come from `Tracked`.
struct Family {
    name: &'static str,
    help: &'static str,
    counter: bool,
    samples: fn(&Tracked, Timestamp) -> Samples,
    /// kafka-autoconnector's labels (connector_name, ns, rn) instead of ours (cluster, name, namespace).
    autoconnector: bool,
}

fn states(t: &Tracked, _: Timestamp) -> Samples {
    let Some(current) = t.state else {
        return Vec::new();
    };
    (CONNECTOR_STATES.iter().enumerate())
        .map(|(i, s)| (vec![("state", *s)], f64::from(u8::from(i == current))))
        .collect()
}

fn tasks(t: &Tracked, _: Timestamp) -> Samples {
    if t.state.is_none() {
        return Vec::new();
    }
    (TASK_STATES.iter().zip(t.tasks))
        .map(|(s, n)| (vec![("state", *s)], f64::from(n)))
        .collect()
}

fn restarts(t: &Tracked, _: Timestamp) -> Samples {
    let mut out = Vec::new();
    for (ti, target) in RestartTarget::ALL.iter().enumerate() {
        for (gi, trigger) in TRIGGERS.iter().enumerate() {
            let n = t.restarts[ti][gi];
            if n > 0 {
                let labels = vec![("target", target.label()), ("trigger", trigger.label())];
                out.push((labels, n as f64));
            }
        }
    }
    out
}

fn progress_states(t: &Tracked, _: Timestamp) -> Samples {
    let Some(current) = t.progress.and_then(|p| p.state) else {
        return Vec::new();
    };
    (ProgressState::ALL.iter())
        .map(|s| {
            (
                vec![("state", s.as_str())],
                f64::from(u8::from(*s == current)),
            )
        })
        .collect()
}

fn figure(v: Option<i64>) -> Samples {
    v.map(|v| vec![(Vec::new(), v as f64)]).unwrap_or_default()
}

/// A single sample without extra labels; `reported` only once Connect reported a state.
fn one(value: f64, reported: bool, t: &Tracked) -> Samples {
    if reported && t.state.is_none() {
        return Vec::new();
    }
    vec![(Vec::new(), value)]
}

const FAMILIES: &[Family] = &[
    Family {
        name: "connect_warden_connector_state",
        help: "Connector state reported by Kafka Connect: 1 for the current state, 0 for the others.",
        counter: false,
        samples: states,
        autoconnector: false,
    },
    Family {
        name: "connect_warden_connector_tasks",
        help: "Tasks of the connector by state.",
        counter: false,
        samples: tasks,
        autoconnector: false,
    },
    Family {
        name: "connect_warden_connector_uptime_seconds",
        help: "Seconds the connector and all its tasks have been RUNNING; 0 when not.",
        counter: false,
        samples: |t, now| one(t.uptime(now) as f64, false, t),
        autoconnector: false,
    },
    Family {
        name: "connect_warden_connector_restarts_exhausted",
        help: "1 while automatic restarts have given up on the connector (maxRestarts reached), else 0.",
        counter: false,
        samples: |t, _| one(f64::from(u8::from(t.exhausted)), false, t),
        autoconnector: false,
    },
    Family {
        name: "connect_warden_connector_contended",
        help: "1 while the controller holds its writes to the connector because another writer keeps changing it on Kafka Connect, else 0.",
        counter: false,
        samples: |t, _| one(f64::from(u8::from(t.contended)), false, t),
        autoconnector: false,
    },
    Family {
        name: "connect_warden_connector_lag_records",
        help: "Records a sink connector's consumer group is behind the log end, over the partitions it has committed offsets for; absent while not measured.",
        counter: false,
        samples: |t, _| figure(t.progress.and_then(|p| p.lag)),
        autoconnector: false,
    },
    Family {
        name: "connect_warden_connector_progress",
        help: "Progress of a sink connector judged over the window (OK, Lagging, Stalled, Stopped): 1 for the current state, 0 for the others; absent while not judged.",
        counter: false,
        samples: progress_states,
        autoconnector: false,
    },
    Family {
        name: "connect_warden_connector_last_commit_timestamp_seconds",
        help: "When the connector's committed offsets last moved (a sink's consumer group) or it last committed a source offset (from the workers' offsets topic), in seconds since the epoch; absent while unknown. Alert on `time() - …` where a quiet source is not normal.",
        counter: false,
        samples: |t, _| figure(t.progress.and_then(|p| p.last_commit)),
        autoconnector: false,
    },
    Family {
        name: "connect_warden_connector_dead_letter_records_total",
        help: "Records added to the connector's dead letter queue topic since counting began; absent without errors.deadletterqueue.topic.name.",
        counter: true,
        samples: |t, _| figure(t.progress.and_then(|p| p.dead_letters)),
        autoconnector: false,
    },
    Family {
        name: "connect_warden_connector_restarts_total",
        help: "Restarts issued by the controller, by target (connector, task) and trigger (automatic, manual).",
        counter: true,
        samples: restarts,
        autoconnector: false,
    },
    // The kafka-autoconnector operator's gauges, labelled as it did (ns, rn, connector_name).
    Family {
        name: "kafka_autoconnector_total_connector_tasks",
        help: "Total number of tasks of the connector (kafka-autoconnector compatible).",
        counter: false,
        samples: |t, _| one(f64::from(t.tasks.iter().sum::<u32>()), true, t),
        autoconnector: true,
    },
    Family {
        name: "kafka_autoconnector_running_connector_tasks",
        help: "Number of RUNNING tasks of the connector (kafka-autoconnector compatible).",
        counter: false,
        samples: |t, _| one(f64::from(t.tasks[RUNNING_TASKS]), true, t),
        autoconnector: true,
    },
    Family {
        name: "kafka_autoconnector_connector_uptime",
        help: "Seconds the connector and all its tasks have been RUNNING without interruption (kafka-autoconnector compatible).",
        counter: false,
        samples: |t, now| one(t.uptime(now) as f64, true, t),
        autoconnector: true,
    },
];

/// The per-connector state; [`ConnectorFamilies`] writes its series.
pub(crate) struct Connectors {
    tracked: Arc<Mutex<HashMap<ObjKey, Tracked>>>,
    families: Arc<ConnectorFamilies>,
}

struct ConnectorFamilies {
    tracked: Arc<Mutex<HashMap<ObjKey, Tracked>>>,
    families: Vec<&'static Family>,
}

impl Connectors {
    /// With `autoconnector`, kafka-autoconnector's gauges too.
    pub fn new(autoconnector: bool) -> Connectors {
        let tracked = Arc::default();
        let families = FAMILIES
            .iter()
            .filter(|f| autoconnector || !f.autoconnector)
            .collect();
        Connectors {
            families: Arc::new(ConnectorFamilies {
                tracked: Arc::clone(&tracked),
                families,
            }),
            tracked,
        }
    }

    /// What `/metrics` adds to the registry for these series.
    pub fn families(&self) -> Arc<dyn ChunkedFamilies> {
        self.families.clone()
    }

    pub fn restarted(
        &self,
        key: &ObjKey,
        cluster: &str,
        connector: &str,
        target: RestartTarget,
        trigger: Trigger,
    ) {
        let mut tracked = self.tracked.lock();
        let t = tracked.entry(key.clone()).or_default();
        t.retarget(cluster, connector);
        let ti = RestartTarget::ALL.iter().position(|x| *x == target);
        let gi = TRIGGERS.iter().position(|x| *x == trigger);
        if let (Some(ti), Some(gi)) = (ti, gi) {
            t.restarts[ti][gi] = t.restarts[ti][gi].saturating_add(1);
        }
    }

    pub fn observe(
        &self,
        key: &ObjKey,
        cluster: &str,
        connector: &str,
        status: Option<&ConnectorStatus>,
        healthy_since: Option<Timestamp>,
    ) {
        let mut tracked = self.tracked.lock();
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

    /// What the `Ready` reason says the controller gave up on: automatic restarts (`RestartsExhausted`), or
    /// writes (`Contended`).
    pub fn set_given_up(&self, key: &ObjKey, exhausted: bool, contended: bool) {
        if let Some(t) = self.tracked.lock().get_mut(key) {
            t.exhausted = exhausted;
            t.contended = contended;
        }
    }

    /// What lag measurement says of the connector (`None`: not measured), for a connector already tracked.
    pub fn set_progress(&self, key: &ObjKey, figures: Option<ProgressFigures>) {
        if let Some(t) = self.tracked.lock().get_mut(key) {
            t.progress = figures;
        }
    }

    pub fn forget(&self, key: &ObjKey) {
        self.tracked.lock().remove(key);
    }

    pub fn keys(&self) -> Vec<ObjKey> {
        self.tracked.lock().keys().cloned().collect()
    }
}

fn label(name: &str, value: &str) -> LabelPair {
    let mut l = LabelPair::default();
    l.set_name(name.to_string());
    l.set_value(value.to_string());
    l
}

impl ChunkedFamilies for ConnectorFamilies {
    fn encode(&self, out: &mut Vec<u8>) {
        let now = Timestamp::now();
        let tracked = self.tracked.lock();
        // In a stable order, so consecutive scrapes read alike.
        let mut entries: Vec<(&ObjKey, &Tracked)> = tracked.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for f in &self.families {
            let mut continued = false;
            for chunk in entries.chunks(CHUNK) {
                continued |= encode_chunk(&family(f, chunk, now), continued, out);
            }
        }
    }
}

/// One family's series of some connectors.
fn family(f: &Family, connectors: &[(&ObjKey, &Tracked)], now: Timestamp) -> MetricFamily {
    let mut mf = MetricFamily::default();
    mf.set_name(f.name.to_string());
    mf.set_help(f.help.to_string());
    mf.set_field_type(if f.counter {
        MetricType::COUNTER
    } else {
        MetricType::GAUGE
    });
    for ((ns, name), t) in connectors {
        let own = if f.autoconnector {
            [
                ("connector_name", t.connector.as_str()),
                ("ns", ns.as_str()),
                ("rn", name.as_str()),
            ]
        } else {
            [
                ("cluster", t.cluster.as_str()),
                ("name", name.as_str()),
                ("namespace", ns.as_str()),
            ]
        };
        for (extra, value) in (f.samples)(t, now) {
            // Label names in order, as the text format conventionally lists them.
            let labels = own
                .iter()
                .chain(extra.iter())
                .map(|(k, v)| label(k, v))
                .collect();
            let mut m = Metric::from_label(labels);
            if f.counter {
                let mut c = Counter::default();
                c.set_value(value);
                m.set_counter(c);
            } else {
                let mut g = Gauge::default();
                g.set_value(value);
                m.set_gauge(g);
            }
            mf.mut_metric().push(m);
        }
    }
    mf
}
