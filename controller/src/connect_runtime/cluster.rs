//! One Connect cluster's runtime: its client, its latest poll, and the writes this controller made that
//! the next reconcile must see reflected (it waits for a poll that started after them), and where the
//! cluster's Kafka is, for lag.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use kube::runtime::reflector::ObjectRef;
use parking_lot::{Mutex, RwLock};
use shared::connect::registry::ClientSlot;
use shared::connect::{Auth, ClientSettings, ConnectClient};
use shared::crd::{ConnectorState, KafkaConnector};
use shared::kafka::KafkaSettings;
use shared::redact::keyed_hash;
use shared::target::ClusterId;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;

use super::reports::LagState;
use super::snapshot::Snapshot;
use crate::kafka::KafkaClient;
use crate::plan::{CREATE_GRACE, Recent, STATE_GRACE, in_state};

/// Reconciles in progress per write slot: enough to keep the writes busy while others read and plan.
const RECONCILES_PER_WRITE: usize = 4;

/// A write this controller made, so the next reconcile waits for a poll that can show it.
#[derive(Debug, Clone)]
struct Written {
    /// The first poll number that started after the write.
    need_seq: u64,
    at: Instant,
    created: bool,
    state: Option<ConnectorState>,
}

/// The latest poll as a reconcile may use it.
pub(crate) enum LatestPoll {
    /// No poll yet, or none since our last write: wait for the next one.
    Stale,
    Fresh {
        snapshot: Arc<Snapshot>,
        recent: Recent,
    },
}

/// Identifies what may be shared: KafkaConnectCluster objects (and the default cluster) whose client
/// settings are the same (URL, credentials, CA, client certificate, timeout) share one client and one
/// poller. A keyed hash of the settings (see `shared::redact::keyed_hash`): no credential sits in it in
/// clear, and it is never written anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct EndpointKey(u64);

/// The sharing decision: equal keys share one client and one poller. Pure.
pub(crate) fn endpoint_key(s: &ClientSettings) -> EndpointKey {
    // The same base URL however it is written (a trailing slash, the default port).
    let url = shared::target::Endpoint::of_url(&s.url)
        .map(|e| e.to_string())
        .unwrap_or_else(|| s.url.clone());
    let auth = match &s.auth {
        None => (0u8, "", ""),
        Some(Auth::Basic { username, password }) => (1, username.as_str(), password.as_str()),
        Some(Auth::Bearer { token }) => (2, token.as_str(), ""),
    };
    EndpointKey(keyed_hash(&(
        url,
        auth,
        &s.ca_pem,
        &s.client_cert_pem,
        &s.client_key_pem,
        s.insecure_skip_verify,
        s.timeout,
    )))
}

/// One Connect cluster as reached with one set of settings: its client, its poller and latest poll, and
/// the writes made through it. Shared by every [`ConnectCluster`] with the same [`EndpointKey`].
pub(crate) struct Endpoint {
    pub key: EndpointKey,
    /// The cluster label its requests are counted under: the first cluster that used it.
    pub label: String,
    client: ClientSlot,
    snapshot: RwLock<Arc<Snapshot>>,
    /// Number of the last poll started.
    pub(super) started: AtomicU64,
    pub(super) poke: Notify,
    pub(super) refresh_info: AtomicBool,
    waiting: Mutex<HashSet<ObjectRef<KafkaConnector>>>,
    written: Mutex<HashMap<String, Written>>,
    /// Bounds the writes in flight against this Connect cluster.
    pub writes: Semaphore,
    /// Paces automatic restarts: the write bound caps restarts in flight, not their rate, and a mass
    /// failure (a broker or a database down) would otherwise be answered with a burst as fast as Connect
    /// takes them. `None`: not paced.
    pub restarts: Option<DefaultDirectRateLimiter>,
    /// Bounds the connector reconciles in progress for this Connect cluster (see `gated_reconcile`).
    pub reconciles: Semaphore,
    /// The poller task, while one runs.
    pub(super) poller: Mutex<Option<JoinHandle<()>>>,
    /// Lag measurement of its sink connectors.
    pub lag: LagState,
}

/// Where a cluster's Kafka is, as its KafkaConnectCluster says.
#[derive(Clone, Default)]
pub(crate) enum KafkaSource {
    /// No `spec.kafka`.
    #[default]
    NotConfigured,
    /// `spec.kafka` does not resolve (a Secret missing, a key absent): why.
    Unresolved(String),
    Client(Arc<KafkaClient>),
}

impl KafkaSource {
    /// The source for resolved settings, keeping `prev`'s client (and its connections) when they are the same.
    pub fn of(prev: &KafkaSource, resolved: Result<Option<KafkaSettings>, String>) -> KafkaSource {
        match resolved {
            Ok(None) => KafkaSource::NotConfigured,
            Err(why) => KafkaSource::Unresolved(why),
            Ok(Some(settings)) => match prev {
                KafkaSource::Client(c) if *c.settings() == settings => {
                    KafkaSource::Client(c.clone())
                }
                _ => KafkaSource::Client(Arc::new(KafkaClient::new(settings))),
            },
        }
    }
}

/// One KafkaConnectCluster (or the default cluster) in use: its id and label, and the endpoint it polls
/// and writes through.
pub(crate) struct ConnectCluster {
    pub id: ClusterId,
    pub label: String,
    pub(super) endpoint: Arc<Endpoint>,
    /// Its Kafka cluster, as its `spec.kafka` resolves.
    kafka: RwLock<KafkaSource>,
    /// Whether the last lag measurement with its `spec.kafka` worked (`None`: not measured), and whether
    /// that changed since the cluster's reconcile last asked.
    kafka_health: Mutex<(Option<Result<(), String>>, bool)>,
}

impl std::ops::Deref for ConnectCluster {
    type Target = Endpoint;
    fn deref(&self) -> &Endpoint {
        &self.endpoint
    }
}

impl ConnectCluster {
    pub(super) fn new(id: ClusterId, endpoint: Arc<Endpoint>) -> ConnectCluster {
        ConnectCluster {
            label: id.label(),
            id,
            endpoint,
            kafka: RwLock::default(),
            kafka_health: Mutex::default(),
        }
    }

    pub fn kafka_health(&self) -> Option<Result<(), String>> {
        self.kafka_health.lock().0.clone()
    }

    pub(super) fn set_kafka_health(&self, health: Option<Result<(), String>>) {
        let mut h = self.kafka_health.lock();
        if h.0 != health {
            *h = (health, true);
        }
    }

    /// Whether the health changed since the last call.
    pub(super) fn take_kafka_health_changed(&self) -> bool {
        std::mem::take(&mut self.kafka_health.lock().1)
    }

    pub fn kafka(&self) -> KafkaSource {
        self.kafka.read().clone()
    }

    /// Uses the Kafka settings `spec.kafka` resolves to (`Err`: why they do not), keeping the client when
    /// they did not change.
    pub fn set_kafka(&self, resolved: Result<Option<KafkaSettings>, String>) {
        let mut k = self.kafka.write();
        *k = KafkaSource::of(&k, resolved);
    }
}

impl Endpoint {
    pub(super) fn new(
        key: EndpointKey,
        label: String,
        client: ClientSlot,
        max_writes: usize,
        restarts_per_second: u32,
    ) -> Endpoint {
        Endpoint {
            key,
            label,
            client,
            snapshot: RwLock::new(Arc::new(Snapshot::empty())),
            started: AtomicU64::new(0),
            poke: Notify::new(),
            refresh_info: AtomicBool::new(true),
            waiting: Mutex::new(HashSet::new()),
            written: Mutex::new(HashMap::new()),
            writes: Semaphore::new(max_writes),
            // A burst of one second's worth after a quiet spell, then the rate.
            restarts: NonZeroU32::new(restarts_per_second)
                .map(|r| RateLimiter::direct(Quota::per_second(r).allow_burst(r))),
            reconciles: Semaphore::new(max_writes.saturating_mul(RECONCILES_PER_WRITE).max(1)),
            poller: Mutex::new(None),
            lag: LagState::default(),
        }
    }

    pub fn client(&self) -> ConnectClient {
        self.client.client()
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.read().clone()
    }

    pub(super) fn set_snapshot(&self, s: Arc<Snapshot>) {
        *self.snapshot.write() = s;
    }

    pub fn url(&self) -> String {
        self.client.url()
    }

    /// Replaces the client when the settings changed, and reads version and plugins again soon.
    pub(super) fn use_settings(&self, settings: &ClientSettings) -> shared::Result<()> {
        if self.client.use_settings(settings)? {
            self.refresh_info.store(true, Ordering::SeqCst);
            self.poke.notify_one();
            tracing::info!(cluster = %self.label, "Kafka Connect client settings changed; using the new ones");
        }
        Ok(())
    }

    /// The latest poll for `name`, unless it is older than our last write to that connector.
    pub fn latest_poll(&self, name: &str) -> LatestPoll {
        let snapshot = self.snapshot();
        if snapshot.seq == 0 {
            return LatestPoll::Stale;
        }
        let mut written = self.written.lock();
        let Some(w) = written.get(name).cloned() else {
            return LatestPoll::Fresh {
                snapshot,
                recent: Recent::default(),
            };
        };
        if w.need_seq > snapshot.seq {
            return LatestPoll::Stale;
        }
        let polled = match &snapshot.connectors {
            Ok(m) => m.get(name),
            Err(_) => None,
        };
        let present = polled.is_some();
        // A requested state Connect has shown is done: a later other state is someone else's doing, not
        // ours still on its way (later writes, e.g. a config put back, must not keep it pending).
        let reached = polled
            .and_then(|c| c.status.as_ref())
            .zip(w.state)
            .is_some_and(|(st, want)| in_state(&st.connector.state, want));
        let age = w.at.elapsed();
        let recent = Recent {
            created: w.created && !present && age < CREATE_GRACE,
            state_requested: w.state.filter(|_| age < STATE_GRACE && !reached),
        };
        if age >= CREATE_GRACE.max(STATE_GRACE) || (present && (w.state.is_none() || reached)) {
            written.remove(name);
        } else if present && let Some(e) = written.get_mut(name) {
            // Reported once: from now on its absence is a deletion, not a create still on its way.
            e.created = false;
        }
        LatestPoll::Fresh { snapshot, recent }
    }

    /// Asks for the reconcile of `obj` after the next poll.
    pub fn wake_after_poll(&self, obj: ObjectRef<KafkaConnector>) {
        self.waiting.lock().insert(obj);
    }

    /// The connectors waiting for a poll; empties the list.
    pub(super) fn take_waiting(&self) -> HashSet<ObjectRef<KafkaConnector>> {
        std::mem::take(&mut *self.waiting.lock())
    }

    /// Records a write to connector `name`: its next reconcile waits for a poll started after it.
    pub fn note_write(
        &self,
        name: &str,
        obj: ObjectRef<KafkaConnector>,
        created: bool,
        state: Option<ConnectorState>,
    ) {
        let need_seq = self.started.load(Ordering::SeqCst) + 1;
        let mut written = self.written.lock();
        let entry = written.entry(name.to_string()).or_insert(Written {
            need_seq,
            at: Instant::now(),
            created,
            state,
        });
        entry.need_seq = need_seq;
        entry.at = Instant::now();
        entry.created |= created;
        if state.is_some() {
            entry.state = state;
        }
        drop(written);
        self.wake_after_poll(obj);
        self.poke.notify_one();
    }

    /// Forgets a connector that is gone.
    pub fn forget(&self, name: &str) {
        self.written.lock().remove(name);
    }

    /// Stops the poller and lag measurement.
    pub(super) fn stop(&self) {
        if let Some(t) = self.poller.lock().take() {
            t.abort();
        }
        if let Some(t) = self.lag.task.lock().take() {
            t.abort();
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::PolledConnector;
    use super::*;

    fn settings(url: &str) -> ClientSettings {
        ClientSettings::new(url)
    }

    #[test]
    fn automatic_restarts_are_paced_per_endpoint_after_a_burst_of_one_second() {
        let endpoint = |rate| {
            let key = endpoint_key(&settings("http://connect:8083"));
            let client = ClientSlot::new(settings("http://connect:8083"), None).unwrap();
            Endpoint::new(key, "ns/c".into(), client, 8, rate)
        };
        assert!(endpoint(0).restarts.is_none(), "0 turns pacing off");
        let (a, b) = (endpoint(4), endpoint(4));
        let pace = a.restarts.as_ref().unwrap();
        assert!((0..4).all(|_| pace.check().is_ok()), "a burst of 4 at once");
        assert!(pace.check().is_err(), "the fifth waits");
        assert!(
            b.restarts.as_ref().unwrap().check().is_ok(),
            "each endpoint has its own pace"
        );
    }

    fn endpoint() -> Endpoint {
        let key = endpoint_key(&settings("http://connect:8083"));
        let client = ClientSlot::new(settings("http://connect:8083"), None).unwrap();
        Endpoint::new(key, "ns/c".into(), client, 8, 0)
    }

    /// Poll number `seq` of `e` done, listing connector `c` as `polled` (absent with `None`).
    fn polled(e: &Endpoint, seq: u64, polled: Option<PolledConnector>) {
        let connectors = polled.map(|p| ("c".to_string(), p)).into_iter().collect();
        e.set_snapshot(Arc::new(Snapshot {
            seq,
            connectors: Ok(connectors),
            info: None,
            plugins: Vec::new(),
        }));
        e.started.store(seq, Ordering::SeqCst);
    }

    #[test]
    fn a_created_connector_is_waited_for_until_reported_then_its_absence_is_a_deletion() {
        let e = endpoint();
        let poll = |seq: u64, present: bool| {
            polled(&e, seq, present.then(PolledConnector::default));
        };
        let created = || match e.latest_poll("c") {
            LatestPoll::Fresh { recent, .. } => Some(recent.created),
            LatestPoll::Stale => None,
        };
        let obj = ObjectRef::<KafkaConnector>::new("c").within("ns");
        poll(1, false);
        e.note_write("c", obj.clone(), true, Some(ConnectorState::Running));
        assert_eq!(created(), None, "no poll since the write");
        poll(2, false);
        assert_eq!(created(), Some(true), "created, not listed yet: wait");
        poll(3, true);
        assert_eq!(created(), Some(false));
        // A later write (e.g. a config put back) does not make it new again.
        e.note_write("c", obj, false, None);
        poll(4, true);
        assert_eq!(created(), Some(false));
        poll(5, false);
        assert_eq!(created(), Some(false), "gone after it was seen: deleted");
    }

    #[test]
    fn a_requested_state_connect_has_shown_is_done_whatever_is_written_later() {
        let e = endpoint();
        let poll = |seq: u64, state: &str| {
            let status = Some(crate::fixtures::connector_status(state, &[]));
            polled(
                &e,
                seq,
                Some(PolledConnector {
                    status,
                    ..PolledConnector::default()
                }),
            );
        };
        let requested = || match e.latest_poll("c") {
            LatestPoll::Fresh { recent, .. } => Some(recent.state_requested),
            LatestPoll::Stale => None,
        };
        let obj = ObjectRef::<KafkaConnector>::new("c").within("ns");
        poll(1, "RUNNING");
        e.note_write("c", obj.clone(), true, Some(ConnectorState::Running));
        poll(2, "UNASSIGNED");
        assert_eq!(
            requested(),
            Some(Some(ConnectorState::Running)),
            "not shown yet: ours, on its way"
        );
        poll(3, "RUNNING");
        assert_eq!(requested(), Some(None), "shown: done");
        // A config put back a moment later, then paused by someone else: nothing of ours is pending.
        e.note_write("c", obj, false, None);
        poll(4, "PAUSED");
        assert_eq!(requested(), Some(None));
    }

    #[test]
    fn clusters_with_the_same_url_and_settings_share_one_endpoint() {
        let a = settings("http://connect:8083");
        assert_eq!(endpoint_key(&a), endpoint_key(&a.clone()));
        assert_eq!(
            endpoint_key(&a),
            endpoint_key(&settings("http://connect:8083/")),
            "the same base URL however written"
        );
        assert_ne!(
            endpoint_key(&a),
            endpoint_key(&settings("http://other:8083"))
        );
    }

    #[test]
    fn other_credentials_or_tls_settings_make_another_endpoint() {
        let base = settings("https://connect:8443");
        let with = |f: &dyn Fn(&mut ClientSettings)| {
            let mut s = base.clone();
            f(&mut s);
            endpoint_key(&s)
        };
        let basic = |p: &'static str| {
            move |s: &mut ClientSettings| {
                s.auth = Some(Auth::Basic {
                    username: "u".into(),
                    password: p.into(),
                })
            }
        };
        assert_ne!(endpoint_key(&base), with(&basic("hunter2")));
        assert_ne!(with(&basic("hunter2")), with(&basic("hunter3")));
        assert_eq!(with(&basic("hunter2")), with(&basic("hunter2")));
        assert_ne!(
            with(&basic("t")),
            with(&|s| s.auth = Some(Auth::Bearer { token: "t".into() }))
        );
        assert_ne!(
            endpoint_key(&base),
            with(&|s| s.ca_pem = Some(b"ca".to_vec()))
        );
        assert_ne!(
            endpoint_key(&base),
            with(&|s| s.client_key_pem = Some(b"key".to_vec()))
        );
        assert_ne!(
            endpoint_key(&base),
            with(&|s| s.insecure_skip_verify = true)
        );
        assert_ne!(
            endpoint_key(&base),
            with(&|s| s.timeout = std::time::Duration::from_secs(5))
        );
    }

    #[test]
    fn no_secret_is_in_a_key_in_clear() {
        let mut s = settings("https://user:url-secret@connect:8443");
        s.auth = Some(Auth::Basic {
            username: "u".into(),
            password: "hunter2".into(),
        });
        s.client_key_pem = Some(b"PRIVATE KEY".to_vec());
        let shown = format!("{:?}", endpoint_key(&s));
        for secret in ["hunter2", "url-secret", "PRIVATE", "connect"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
