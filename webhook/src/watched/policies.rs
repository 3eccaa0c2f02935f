//! KafkaConnectorPolicies and namespace labels as a review reads them: the compiled set and the labels
//! from `shared::policy::PolicyWatch`, and a live read of a namespace the watch has not seen yet.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use kube::runtime::reflector::store::WriterDropped;
use shared::policy::{PolicySet, PolicyWatch};

pub(crate) struct Policies {
    client: kube::Client,
    watch: Arc<PolicyWatch>,
}

impl Policies {
    /// Starts both watches, for as long as the process runs.
    pub(crate) fn start(client: &kube::Client) -> Policies {
        let (watch, _tasks) = PolicyWatch::start(client);
        Policies {
            client: client.clone(),
            watch,
        }
    }

    pub(crate) async fn wait_until_ready(&self) -> Result<(), WriterDropped> {
        self.watch.wait_until_ready().await
    }

    pub(crate) fn set(&self) -> Arc<PolicySet> {
        self.watch.set()
    }

    pub(crate) fn namespace_labels(
        &self,
        namespace: &str,
    ) -> Option<Arc<BTreeMap<String, String>>> {
        self.watch.namespace_labels(namespace).map(Arc::new)
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
