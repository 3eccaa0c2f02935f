//! Secrets and ConfigMaps as the webhook keeps them: every object's metadata from a watch, and the data of
//! only those a KafkaConnectCluster or a KafkaConnector's `configFrom` references (and the requesting user
//! may read), read with `get` when first needed and reused while the watch
//! shows the same resourceVersion. Credentials of unrelated workloads never enter this process's memory, and
//! a rotated Secret is read again as soon as the watch sees it change.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use kube::Resource;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::store::WriterDropped;
use kube::runtime::reflector::{ObjectRef, Store};
use parking_lot::Mutex;

/// (namespace, name).
pub(crate) type Key = (String, String);

/// Stored data is swept (keeping what clusters and connectors still reference) when it grows past this, or past twice
/// what the last sweep kept.
const SWEEP_AT: usize = 256;

/// The data read so far, by (namespace, name), each object with its own resourceVersion.
struct Stored<K> {
    objects: HashMap<Key, Arc<K>>,
    sweep_at: usize,
}

impl<K: Resource> Stored<K> {
    fn new() -> Self {
        Stored {
            objects: HashMap::new(),
            sweep_at: SWEEP_AT,
        }
    }

    /// The object at `key`, if stored at `version`.
    fn get(&self, key: &Key, version: &str) -> Option<Arc<K>> {
        let stored = self.objects.get(key)?;
        (stored.meta().resource_version.as_deref() == Some(version)).then(|| stored.clone())
    }

    fn insert(&mut self, key: Key, o: Arc<K>, referenced: impl FnOnce() -> HashSet<Key>) {
        self.objects.insert(key, o);
        if self.objects.len() > self.sweep_at {
            let keep = referenced();
            self.objects.retain(|k, _| keep.contains(k));
            self.sweep_at = SWEEP_AT.max(2 * self.objects.len());
        }
    }
}

pub(crate) struct Referenced<K: Resource<DynamicType = ()> + 'static> {
    client: kube::Client,
    meta: Store<PartialObjectMeta<K>>,
    data: Mutex<Stored<K>>,
}

impl<K> Referenced<K>
where
    K: shared::watch::Watchable,
{
    /// Objects of kind `K` whose metadata `meta` (a watch) holds.
    pub(crate) fn new(client: kube::Client, meta: Store<PartialObjectMeta<K>>) -> Self {
        Referenced {
            client,
            meta,
            data: Mutex::new(Stored::new()),
        }
    }

    pub(crate) async fn wait_until_ready(&self) -> Result<(), WriterDropped> {
        self.meta.wait_until_ready().await
    }

    /// The stored object, when the watch shows it unchanged since it was read.
    pub(crate) fn current(&self, namespace: &str, name: &str) -> Option<Arc<K>> {
        let meta = self.meta.get(&ObjectRef::new(name).within(namespace))?;
        let version = meta.metadata.resource_version.as_deref()?;
        self.data
            .lock()
            .get(&(namespace.to_string(), name.to_string()), version)
    }

    /// Reads the object now and stores it. When the read fails, the stored copy (if any) is better than
    /// nothing. `referenced` gives the objects clusters and connectors reference, for a sweep.
    pub(crate) async fn fetch(
        &self,
        namespace: &str,
        name: &str,
        referenced: impl FnOnce() -> HashSet<Key>,
    ) -> Option<Arc<K>> {
        let key = (namespace.to_string(), name.to_string());
        match Api::<K>::namespaced(self.client.clone(), namespace)
            .get_opt(name)
            .await
        {
            Ok(Some(mut o)) => {
                shared::watch::strip(&mut o);
                let o = Arc::new(o);
                self.data.lock().insert(key, o.clone(), referenced);
                Some(o)
            }
            Ok(None) => {
                self.data.lock().objects.remove(&key);
                None
            }
            Err(e) => {
                tracing::warn!(namespace, name, error = %e, "live lookup failed");
                self.data.lock().objects.get(&key).cloned()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Secret;
    use kube::api::ObjectMeta;

    use super::*;

    fn secret(name: &str, version: &str) -> Arc<Secret> {
        Arc::new(Secret {
            metadata: ObjectMeta {
                namespace: Some("ns".into()),
                name: Some(name.into()),
                resource_version: Some(version.into()),
                ..Default::default()
            },
            ..Default::default()
        })
    }

    fn key(name: &str) -> Key {
        ("ns".into(), name.into())
    }

    #[test]
    fn data_is_reused_only_at_the_version_the_watch_shows() {
        let mut stored = Stored::new();
        stored.insert(key("creds"), secret("creds", "7"), HashSet::new);
        assert!(stored.get(&key("creds"), "7").is_some());
        assert!(stored.get(&key("creds"), "8").is_none(), "rotated since");
        assert!(stored.get(&key("other"), "7").is_none());
    }

    #[test]
    fn sweeps_keep_what_clusters_reference() {
        let mut stored = Stored::new();
        for i in 0..=SWEEP_AT {
            let name = format!("s{i}");
            stored.insert(key(&name), secret(&name, "1"), || {
                HashSet::from([key("s0"), key("s1")])
            });
        }
        assert_eq!(stored.objects.len(), 2);
        assert!(stored.get(&key("s1"), "1").is_some());
        assert_eq!(stored.sweep_at, SWEEP_AT);
    }
}
