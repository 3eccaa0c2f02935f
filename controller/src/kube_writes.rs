//! Every write to the Kubernetes API goes through here: status patches, finalizers, events and the offsets
//! a list request writes into a ConfigMap. Each takes a permit (a burst of thousands of status updates must
//! not open thousands of connections to the API server) and counts `connect_warden_kube_writes_total`.

use std::sync::Arc;

use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::error::Result;
use crate::events::Recorder;
use crate::metrics::Metrics;
use crate::status;

/// Kubernetes writes in flight at once.
const IN_FLIGHT: usize = 16;

pub(crate) struct KubeWrites {
    kube: kube::Client,
    recorder: Recorder,
    permits: Semaphore,
    metrics: Arc<Metrics>,
}

/// The kinds written to: namespaced custom resources.
pub(crate) trait Written:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + std::fmt::Debug
{
}
impl<K> Written for K where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
{
}

impl KubeWrites {
    pub fn new(kube: kube::Client, recorder: Recorder, metrics: Arc<Metrics>) -> KubeWrites {
        KubeWrites {
            kube,
            recorder,
            permits: Semaphore::new(IN_FLIGHT),
            metrics,
        }
    }

    fn api<K: Written>(&self, obj: &K) -> Api<K> {
        Api::namespaced(self.kube.clone(), &obj.namespace().unwrap_or_default())
    }

    /// Patches status from `old` to `new` with the minimal merge patch, and not at all when nothing changed.
    /// With `precondition` the patch carries the object's resourceVersion, so it fails with a conflict if the
    /// object moved on.
    pub async fn write_status<K: Written, S: Serialize>(
        &self,
        obj: &K,
        old: Option<&S>,
        new: &S,
        precondition: bool,
    ) -> Result<()> {
        match status::patch(old, new)? {
            Some(diff) => self.patch_status(obj, diff, precondition).await,
            None => Ok(()),
        }
    }

    /// Sends a status merge patch (`diff` is what goes under `status`).
    pub async fn patch_status<K: Written>(
        &self,
        obj: &K,
        diff: Value,
        precondition: bool,
    ) -> Result<()> {
        let mut patch = json!({ "status": diff });
        if precondition {
            patch["metadata"] = json!({ "resourceVersion": obj.resource_version() });
        }
        let _permit = self.permits.acquire().await;
        self.api(obj)
            .patch_status(
                &obj.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
        self.count::<K>("patch_status");
        Ok(())
    }

    /// Writes a KafkaConnectorPolicy's status (cluster-scoped, so not through [`Self::write_status`]).
    pub async fn write_policy_status(
        &self,
        policy: &shared::crd::KafkaConnectorPolicy,
        status: &shared::crd::KafkaConnectorPolicyStatus,
    ) -> Result<()> {
        let Some(diff) = status::patch(policy.status.as_ref(), status)? else {
            return Ok(());
        };
        let _permit = self.permits.acquire().await;
        Api::<shared::crd::KafkaConnectorPolicy>::all(self.kube.clone())
            .patch_status(
                &policy.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&json!({ "status": diff })),
            )
            .await?;
        self.count::<shared::crd::KafkaConnectorPolicy>("patch_status");
        Ok(())
    }

    /// Adds or removes `finalizer`. The whole list is written with the object's resourceVersion as
    /// precondition, so a concurrent change of the list fails with a conflict (and is retried) instead of
    /// being lost.
    pub async fn set_finalizer<K: Written>(
        &self,
        obj: &K,
        finalizer: &str,
        add: bool,
    ) -> Result<()> {
        let mut list: Vec<String> = obj
            .finalizers()
            .iter()
            .filter(|f| *f != finalizer)
            .cloned()
            .collect();
        if add {
            list.push(finalizer.to_string());
        }
        let patch = json!({ "metadata": { "finalizers": list, "resourceVersion": obj.resource_version() } });
        let _permit = self.permits.acquire().await;
        self.api(obj)
            .patch(
                &obj.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
        self.count::<K>("patch_finalizer");
        Ok(())
    }

    /// Sets one key of a ConfigMap by server-side apply under its own field manager: the ConfigMap is created
    /// when missing, and its other keys (owned by whoever wrote them) stay.
    pub async fn apply_config_map_key(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
        value: &str,
    ) -> Result<()> {
        let patch = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": { "name": name, "namespace": namespace },
            "data": { key: value },
        });
        let _permit = self.permits.acquire().await;
        Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(self.kube.clone(), namespace)
            .patch(
                name,
                &PatchParams::apply("connect-warden-offsets").force(),
                &Patch::Apply(&patch),
            )
            .await?;
        self.metrics.kube_write("configmaps", "apply");
        Ok(())
    }

    /// Publishes an event; a failure is logged, never fatal.
    pub async fn event<K>(&self, obj: &K, warning: bool, reason: &str, action: &str, note: String)
    where
        K: Resource<DynamicType = ()>,
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
        let _permit = self.permits.acquire().await;
        match self.recorder.publish(&ev, &obj.object_ref(&())).await {
            Ok(()) => self.metrics.kube_write("events", "create"),
            Err(e) => tracing::warn!(error = %e, reason, "publishing an event"),
        }
    }

    fn count<K: Resource<DynamicType = ()>>(&self, verb: &str) {
        self.metrics.kube_write(&K::plural(&()), verb);
    }
}

#[cfg(test)]
mod tests {
    use kube::Resource;
    use shared::crd::{KafkaConnectCluster, KafkaConnector};

    #[test]
    fn writes_are_counted_under_the_resources_plural() {
        assert_eq!(KafkaConnector::plural(&()), "kafkaconnectors");
        assert_eq!(KafkaConnectCluster::plural(&()), "kafkaconnectclusters");
    }
}
