//! What the reconcilers of one leadership term share: settings, the watch caches, the Connect runtime,
//! the Kubernetes writer, metrics and per-object retry state.

use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use shared::crd::KafkaConnector;
use shared::target::{ClaimSpace, ClusterId, Winner, claim_winner};
use shared::watch::Namespaces;

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
    /// When drift corrections amount to a fight with another writer.
    pub contention: crate::contention::Limits,
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
    /// Connect's config digests of connectors whose writes are held.
    pub contention_seen: crate::contention::LastSeen,
    /// KafkaConnectorPolicies, compiled, and the namespace labels they select by.
    pub policies: Arc<crate::policies::Policies>,
}

impl Ctx {
    /// The cluster a connector targets, or the `Ready` condition that says why it cannot be used.
    pub fn target(&self, c: &KafkaConnector) -> Result<Arc<ConnectCluster>, Ready> {
        let id = ClusterId::of_connector(c);
        let label = id.label();
        if let ClusterId::Named { namespace, .. } = &id {
            if !self.watched.namespaces.contains(namespace) {
                return Err(Ready::no(
                    Reason::ClusterNotAllowed,
                    unwatched_cluster(&label, namespace, &self.watched.namespaces),
                ));
            }
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

    /// The cluster that deletes a connector from Connect: as [`Self::target`], or the client the cluster had
    /// before its settings stopped resolving (see [`deletion_target`]).
    pub fn deletion_target(&self, c: &KafkaConnector) -> Result<Arc<ConnectCluster>, Ready> {
        let retired = || self.connect.retired(&ClusterId::of_connector(c));
        deletion_target(self.target(c), retired)
    }

    /// Another KafkaConnector that claims the same connector name on the same Kafka Connect (through `id`
    /// or another cluster at its URL) and wins, if any: see [`claim_winner`].
    pub fn conflict_winner(&self, c: &KafkaConnector, id: &ClusterId) -> Option<Winner> {
        // Clusters are few: the space once, then one cheap pass over the connectors.
        let clusters = self.watched.clusters.state();
        let default_url = self.connect.get(&ClusterId::Default).map(|d| d.url());
        let space = ClaimSpace::of(
            id,
            default_url.as_deref(),
            clusters
                .iter()
                .map(|k| (ClusterId::of_cluster(k), k.spec.url.as_str())),
        );
        let state = self.watched.connectors.state();
        claim_winner(c, space.ids(), state.iter().map(|o| &**o)).map(|w| Winner::of(w, id, &space))
    }
}

/// How soon a connector that lost a claim to a KafkaConnector being deleted looks again: it takes over once
/// the winner is gone, and nothing else would wake it then.
pub(crate) const WINNER_LEAVING_RECHECK: Duration = Duration::from_secs(2);

/// Where a connector being deleted is deleted from: its cluster as for any reconcile, or, when the cluster's
/// settings no longer resolve (a Secret or ConfigMap it reads is gone or broken), the client it had before.
/// Deleting a namespace deletes those Secrets together with the KafkaConnectors, in no set order; without
/// this, their finalizers would wait for a Secret that never comes back and the namespace would never go.
/// A cluster that is missing, not allowed or not set up yet gives no client.
pub(crate) fn deletion_target<T>(
    target: Result<T, Ready>,
    retired: impl FnOnce() -> Option<T>,
) -> Result<T, Ready> {
    match target {
        Err(why) if why.reason.is_settings_problem() => retired().ok_or(why),
        other => other,
    }
}

#[cfg(test)]
mod deletion_target_tests {
    use super::*;

    #[test]
    fn a_connector_being_deleted_uses_the_client_its_cluster_had_before_its_secrets_went() {
        let gone = Ready::no(Reason::SecretNotFound, "Secret kafka/creds not found");
        assert_eq!(
            deletion_target(Err(gone.clone()), || Some("old")),
            Ok("old")
        );
        for why in [
            Reason::ConfigMapNotFound,
            Reason::InvalidCa,
            Reason::InvalidSettings,
        ] {
            assert_eq!(
                deletion_target(Err(Ready::no(why, "x")), || Some("old")),
                Ok("old")
            );
        }
        // Never set up with these settings: nothing to delete with, the reason stands.
        assert_eq!(
            deletion_target::<&str>(Err(gone.clone()), || None),
            Err(gone)
        );
    }

    #[test]
    fn a_running_client_wins_and_other_problems_are_never_bypassed() {
        assert_eq!(deletion_target(Ok("now"), || Some("old")), Ok("now"));
        for why in [
            Reason::ClusterNotFound,
            Reason::ClusterNotAllowed,
            Reason::ClusterNotReady,
            Reason::NoCluster,
        ] {
            let r = Ready::no(why, "x");
            assert_eq!(deletion_target(Err(r.clone()), || Some("old")), Err(r));
        }
    }
}

/// Why a connector cannot use a cluster in a namespace this installation does not watch: nothing there is
/// cached or may be read, and no other reconcile will change that.
pub(crate) fn unwatched_cluster(label: &str, namespace: &str, watched: &Namespaces) -> String {
    format!(
        "KafkaConnectCluster {label} is in namespace {namespace:?}, which this connect-warden installation \
         does not watch (--watch-namespaces {watched}); name a KafkaConnectCluster in a watched namespace"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unwatched_cluster_namespace_is_named() {
        assert_eq!(
            unwatched_cluster("kafka/main", "kafka", &Namespaces::parse("team-a,team-b")),
            "KafkaConnectCluster kafka/main is in namespace \"kafka\", which this connect-warden \
             installation does not watch (--watch-namespaces team-a,team-b); name a KafkaConnectCluster in a \
             watched namespace"
        );
    }
}
