//! State shared by the reconcilers and pollers of one leadership term.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::channel::mpsc::UnboundedSender;
use kube::ResourceExt;
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::{ObjectRef, Store};
use shared::crd::{KafkaConnectCluster, KafkaConnector};

use crate::clusters::{ClusterHandle, ClusterKey, Registry};
use crate::events::Recorder;
use crate::metrics::Metrics;
use crate::plan::{Ready, reason};
use crate::restart::Policy;

/// Kubernetes writes in flight at once.
const KUBE_WRITES_IN_FLIGHT: usize = 16;

/// Settings from the flags that reconcilers need.
#[derive(Debug, Clone)]
pub struct Settings {
    pub poll_interval: Duration,
    pub resync: Duration,
    pub max_writes_per_cluster: usize,
    pub restart_defaults: Policy,
}

pub struct Ctx {
    pub kube: kube::Client,
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
    pub recorder: Recorder,
    pub registry: Registry,
    pub connectors: Store<KafkaConnector>,
    pub clusters: Store<KafkaConnectCluster>,
    pub connector_tx: UnboundedSender<ObjectRef<KafkaConnector>>,
    pub cluster_tx: UnboundedSender<ObjectRef<KafkaConnectCluster>>,
    /// Bounds the Kubernetes writes in flight: a burst of thousands of status updates must not open
    /// thousands of connections to the API server.
    pub kube_writes: tokio::sync::Semaphore,
    /// Consecutive failures per object, for the retry backoff.
    failures: Mutex<HashMap<String, u32>>,
    /// Bad annotation values already warned about, so a Warning event is sent once per value.
    warned: Mutex<HashSet<(String, String)>>,
}

impl Ctx {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kube: kube::Client,
        settings: Settings,
        metrics: Arc<Metrics>,
        recorder: Recorder,
        connectors: Store<KafkaConnector>,
        clusters: Store<KafkaConnectCluster>,
        connector_tx: UnboundedSender<ObjectRef<KafkaConnector>>,
        cluster_tx: UnboundedSender<ObjectRef<KafkaConnectCluster>>,
    ) -> Ctx {
        Ctx {
            kube,
            settings,
            metrics,
            recorder,
            registry: Registry::default(),
            connectors,
            clusters,
            connector_tx,
            cluster_tx,
            kube_writes: tokio::sync::Semaphore::new(KUBE_WRITES_IN_FLIGHT),
            failures: Mutex::new(HashMap::new()),
            warned: Mutex::new(HashSet::new()),
        }
    }

    /// The cluster a connector targets, or the `Ready` condition that says why it cannot be used.
    pub fn target(&self, c: &KafkaConnector) -> Result<Arc<ClusterHandle>, Ready> {
        let key = ClusterKey::of_connector(c);
        let label = key.label();
        if let ClusterKey::Named { namespace, name } = &key {
            let Some(cluster) = self.clusters.get(&ObjectRef::new(name).within(namespace)) else {
                return Err(Ready::no(
                    reason::CLUSTER_NOT_FOUND,
                    format!("KafkaConnectCluster {label} not found"),
                ));
            };
            let ns = c.namespace().unwrap_or_default();
            if !cluster.spec.allows_namespace(namespace, &ns) {
                return Err(Ready::no(
                    reason::CLUSTER_NOT_ALLOWED,
                    format!(
                        "KafkaConnectCluster {label} does not allow namespace {ns:?} (spec.allowedNamespaces)"
                    ),
                ));
            }
        }
        if let Some(h) = self.registry.get(&key) {
            return Ok(h);
        }
        // The cluster's own reason (a missing Secret, a bad CA, …): the fix is the same for both.
        if let Some(why) = self.registry.broken(&key) {
            return Err(why);
        }
        Err(match key {
            ClusterKey::Default => Ready::no(
                reason::NO_CLUSTER,
                "spec.clusterRef is not set and the controller has no default cluster (KAFKA_CONNECT_ADDR)",
            ),
            ClusterKey::Named { .. } => Ready::unknown(
                reason::CLUSTER_NOT_READY,
                format!("waiting for KafkaConnectCluster {label} to be set up"),
            ),
        })
    }

    /// Another KafkaConnector that claims the same connector on the same cluster and wins (the oldest; ties
    /// broken by namespace/name), if any.
    pub fn conflict_winner(&self, c: &KafkaConnector, key: &ClusterKey) -> Option<String> {
        use crate::clusters::connector_name;
        let name = connector_name(c);
        // Runs for every reconcile over every connector: compare without allocating.
        fn rank(o: &KafkaConnector) -> (Option<k8s_openapi::jiff::Timestamp>, &str, &str) {
            (
                o.metadata.creation_timestamp.as_ref().map(|t| t.0),
                o.metadata.namespace.as_deref().unwrap_or_default(),
                o.metadata.name.as_deref().unwrap_or_default(),
            )
        }
        let mine = rank(c);
        let state = self.connectors.state();
        state
            .iter()
            .filter(|o| connector_name(o) == name && key.is_target_of(o))
            .filter(|o| o.metadata.uid != c.metadata.uid && rank(o) < mine)
            .min_by(|a, b| rank(a).cmp(&rank(b)))
            .map(|o| format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any()))
    }

    /// The delay before retrying a failed object: 1 s, 2 s, 4 s, … ≤ 5 min.
    pub fn backoff(&self, key: &str) -> Duration {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = f.entry(key.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        Duration::from_secs(1u64 << (*n - 1).min(8)).min(Duration::from_secs(300))
    }

    pub fn succeeded(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    /// True the first time this (object, warning) pair is seen.
    pub fn first_warning(&self, key: &str, warning: &str) -> bool {
        self.warned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((key.to_string(), warning.to_string()))
    }

    /// Publishes an event; a failure is logged, never fatal.
    pub async fn event<K>(&self, obj: &K, warning: bool, reason: &str, action: &str, note: String)
    where
        K: kube::Resource<DynamicType = ()>,
    {
        let ev = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.into(),
            // At most 1 kB, as the API requires; enough lines for a refused config's keys.
            note: Some(shared::redact::cut(&note, 21, 1000)),
            action: action.into(),
            secondary: None,
        };
        let _permit = self.kube_writes.acquire().await;
        match self.recorder.publish(&ev, &obj.object_ref(&())).await {
            Ok(()) => self.metrics.kube_write("events", "create"),
            Err(e) => tracing::warn!(error = %e, reason, "publishing an event"),
        }
    }
}
