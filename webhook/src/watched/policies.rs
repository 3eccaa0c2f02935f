//! KafkaConnectorPolicies and namespace labels as the webhook keeps them: both from watches. The policies
//! are compiled as their watch changes, each schema once per (uid, generation), and the compiled set is
//! swapped in whole, so a review reads one consistent set without waiting on a compiler.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use parking_lot::RwLock;
use shared::policy::{Compiler, KafkaConnectorPolicy, PolicySet};

pub(crate) struct Policies {
    client: kube::Client,
    policies: Store<KafkaConnectorPolicy>,
    namespaces: Store<PartialObjectMeta<Namespace>>,
    current: Arc<RwLock<Arc<PolicySet>>>,
}

impl Policies {
    /// Starts both watches (cluster-wide: policies and namespaces are cluster-scoped).
    pub(crate) fn start(client: &kube::Client) -> Policies {
        let current = Arc::new(RwLock::new(Arc::new(PolicySet::default())));
        let (policies, stream) = shared::watch::reflect(
            Api::<KafkaConnectorPolicy>::all(client.clone()),
            watcher::Config::default(),
        );
        let (store, set) = (policies.clone(), current.clone());
        tokio::spawn(async move {
            let mut compiler = Compiler::default();
            futures::pin_mut!(stream);
            while let Some(event) = stream.next().await {
                match event {
                    // Status writes reach us too; the compiler keeps the same set while no generation changed.
                    Ok(_) => {
                        let now = store.state();
                        let next = compiler.set(now.iter().map(|p| &**p));
                        for (name, errors) in &next.broken {
                            tracing::warn!(policy = %name, errors = %errors.join("; "), "KafkaConnectorPolicy does not compile; not enforced");
                        }
                        *set.write() = next;
                    }
                    Err(e) => {
                        tracing::warn!(cache = "kafkaconnectorpolicies", error = %e, "watch error; retrying with backoff")
                    }
                }
            }
        });
        let (namespaces, stream) = shared::watch::reflect(
            Api::<PartialObjectMeta<Namespace>>::all(client.clone()),
            watcher::Config::default(),
        );
        tokio::spawn(async move {
            stream
                .for_each(|r| async move {
                    if let Err(e) = r {
                        tracing::warn!(cache = "namespaces", error = %e, "watch error; retrying with backoff");
                    }
                })
                .await;
        });
        Policies {
            client: client.clone(),
            policies,
            namespaces,
            current,
        }
    }

    pub(crate) async fn wait_until_ready(
        &self,
    ) -> Result<(), kube::runtime::reflector::store::WriterDropped> {
        self.policies.wait_until_ready().await?;
        self.namespaces.wait_until_ready().await
    }

    pub(crate) fn set(&self) -> Arc<PolicySet> {
        self.current.read().clone()
    }

    pub(crate) fn namespace_labels(
        &self,
        namespace: &str,
    ) -> Option<Arc<BTreeMap<String, String>>> {
        let ns = self.namespaces.get(&ObjectRef::new(namespace))?;
        Some(Arc::new(ns.metadata.labels.clone().unwrap_or_default()))
    }

    /// The labels of a namespace the watch has not seen yet (created a moment ago).
    pub(crate) async fn read_namespace_labels(
        &self,
        namespace: &str,
    ) -> Option<Arc<BTreeMap<String, String>>> {
        let api = Api::<Namespace>::all(self.client.clone());
        match api.get_metadata_opt(namespace).await {
            Ok(o) => o.map(|n| Arc::new(n.metadata.labels.unwrap_or_default())),
            Err(e) => {
                tracing::warn!(namespace, error = %e, "live namespace lookup failed");
                None
            }
        }
    }
}
