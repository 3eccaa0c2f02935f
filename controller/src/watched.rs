//! What the controller watches (KafkaConnectors and KafkaConnectClusters, in caches) and the queues that
//! ask for a reconcile of one of them now, shared by the reconcilers and the Connect pollers.

use futures::channel::mpsc::UnboundedSender;
use kube::runtime::reflector::{ObjectRef, Store};
use shared::config_from::{SourceKind, references};
use shared::crd::{KafkaConnectCluster, KafkaConnector};
use shared::target::ClusterId;
use shared::watch::Namespaces;

#[derive(Clone)]
pub(crate) struct Watched {
    pub connectors: Store<KafkaConnector>,
    pub clusters: Store<KafkaConnectCluster>,
    /// The namespaces the caches cover (`--watch-namespaces`).
    pub namespaces: Namespaces,
    connector_tx: UnboundedSender<ObjectRef<KafkaConnector>>,
    cluster_tx: UnboundedSender<ObjectRef<KafkaConnectCluster>>,
}

impl Watched {
    pub fn new(
        connectors: Store<KafkaConnector>,
        clusters: Store<KafkaConnectCluster>,
        connector_tx: UnboundedSender<ObjectRef<KafkaConnector>>,
        cluster_tx: UnboundedSender<ObjectRef<KafkaConnectCluster>>,
        namespaces: Namespaces,
    ) -> Watched {
        Watched {
            connectors,
            clusters,
            namespaces,
            connector_tx,
            cluster_tx,
        }
    }

    /// Asks for the reconcile of a connector now.
    pub fn reconcile_connector(&self, r: ObjectRef<KafkaConnector>) {
        let _ = self.connector_tx.unbounded_send(r);
    }

    /// Asks for the reconcile of a cluster now (nothing for the default cluster, which has no object).
    pub fn reconcile_cluster(&self, id: &ClusterId) {
        if let Some(r) = cluster_ref(id) {
            let _ = self.cluster_tx.unbounded_send(r);
        }
    }

    /// The KafkaConnectCluster object of `id`, if it is in the cache.
    pub fn cluster(&self, id: &ClusterId) -> Option<std::sync::Arc<KafkaConnectCluster>> {
        cluster_ref(id).and_then(|r| self.clusters.get(&r))
    }

    /// Asks for the reconcile of the connectors in `namespace` whose `configFrom` references the object.
    pub fn reconcile_referencing(&self, namespace: &str, kind: SourceKind, name: &str) {
        for k in self.connectors.state().iter().filter(|k| {
            k.metadata.namespace.as_deref() == Some(namespace)
                && references(&k.spec.config_from, kind, name)
        }) {
            self.reconcile_connector(ObjectRef::from_obj(&**k));
        }
    }

    /// The connectors that target `id`.
    pub fn connectors_of(&self, id: &ClusterId) -> Vec<ObjectRef<KafkaConnector>> {
        self.connectors
            .state()
            .iter()
            .filter(|k| id.is_target_of(k))
            .map(|k| ObjectRef::from_obj(&**k))
            .collect()
    }
}

/// The reference of a KafkaConnectCluster; `None` for the default cluster.
pub(crate) fn cluster_ref(id: &ClusterId) -> Option<ObjectRef<KafkaConnectCluster>> {
    match id {
        ClusterId::Default => None,
        ClusterId::Named { namespace, name } => Some(ObjectRef::new(name).within(namespace)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_labels() {
        let k = ClusterId::Named {
            namespace: "kafka".into(),
            name: "main".into(),
        };
        assert_eq!(k.label(), "kafka/main");
        assert_eq!(ClusterId::Default.label(), "default");
        assert!(cluster_ref(&ClusterId::Default).is_none());
        let id = ClusterId::Named {
            namespace: "kafka".into(),
            name: "main".into(),
        };
        assert_eq!(
            cluster_ref(&id),
            Some(ObjectRef::new("main").within("kafka"))
        );
    }
}
