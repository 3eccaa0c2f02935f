//! What the reconcilers of one leadership term share: settings, the watch caches, the Connect runtime,
//! the Kubernetes writer, metrics and per-object retry state.

use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use shared::crd::KafkaConnector;
use shared::target::{ClusterId, claims, connector_name};

use crate::conditions::{Ready, Reason};
use crate::connect_runtime::{ConnectCluster, ConnectClusters};
use crate::fingerprints::Fingerprints;
use crate::kube_writes::KubeWrites;
use crate::metrics::Metrics;
use crate::restart::Policy;
use crate::retries::Retries;
use crate::watched::Watched;

/// Settings from the flags that reconcilers need.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub poll_interval: Duration,
    pub resync: Duration,
    pub max_writes_per_cluster: usize,
    pub restart_defaults: Policy,
}

pub(crate) struct Ctx {
    pub kube: kube::Client,
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
    pub writes: Arc<KubeWrites>,
    pub connect: Arc<ConnectClusters>,
    pub watched: Watched,
    pub retries: Retries,
    pub fingerprints: Fingerprints,
    /// KafkaConnectorPolicies, compiled, and the namespace labels they select by.
    pub policies: Arc<crate::policies::Policies>,
}

impl Ctx {
    /// The cluster a connector targets, or the `Ready` condition that says why it cannot be used.
    pub fn target(&self, c: &KafkaConnector) -> Result<Arc<ConnectCluster>, Ready> {
        let id = ClusterId::of_connector(c);
        let label = id.label();
        if let ClusterId::Named { namespace, .. } = &id {
            let Some(cluster) = self.watched.cluster(&id) else {
                return Err(Ready::no(
                    Reason::ClusterNotFound,
                    format!("KafkaConnectCluster {label} not found"),
                ));
            };
            let ns = c.namespace().unwrap_or_default();
            if !cluster.spec.allows_namespace(namespace, &ns) {
                return Err(Ready::no(
                    Reason::ClusterNotAllowed,
                    format!(
                        "KafkaConnectCluster {label} does not allow namespace {ns:?} (spec.allowedNamespaces)"
                    ),
                ));
            }
        }
        if let Some(h) = self.connect.get(&id) {
            return Ok(h);
        }
        // The cluster's own reason (a missing Secret, a bad CA, …): the fix is the same for both.
        if let Some(why) = self.connect.broken(&id) {
            return Err(why);
        }
        Err(match id {
            ClusterId::Default => Ready::no(
                Reason::NoCluster,
                "spec.clusterRef is not set and the controller has no default cluster (KAFKA_CONNECT_ADDR)",
            ),
            ClusterId::Named { .. } => Ready::unknown(
                Reason::ClusterNotReady,
                format!("waiting for KafkaConnectCluster {label} to be set up"),
            ),
        })
    }

    /// Another KafkaConnector that claims the same connector on the same cluster and wins (the oldest; ties
    /// broken by namespace/name), if any.
    pub fn conflict_winner(&self, c: &KafkaConnector, id: &ClusterId) -> Option<String> {
        // Runs for every reconcile over every connector: compare without allocating.
        fn rank(o: &KafkaConnector) -> (Option<k8s_openapi::jiff::Timestamp>, &str, &str) {
            (
                o.metadata.creation_timestamp.as_ref().map(|t| t.0),
                o.metadata.namespace.as_deref().unwrap_or_default(),
                o.metadata.name.as_deref().unwrap_or_default(),
            )
        }
        let mine = rank(c);
        let (_, ns, name) = mine;
        let wanted = connector_name(c);
        let state = self.watched.connectors.state();
        state
            .iter()
            .filter(|o| claims(o, id, wanted, (ns, name)) && rank(o) < mine)
            .min_by(|a, b| rank(a).cmp(&rank(b)))
            .map(|o| format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any()))
    }
}
