//! KafkaConnectorPolicies and namespace labels as both binaries keep them: from cluster-wide watches (both
//! kinds are cluster-scoped). The policies are compiled as their watch changes, each schema once per (uid,
//! generation), and the compiled set is swapped in whole, so a reader takes one consistent set without
//! waiting on a compiler.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::store::WriterDropped;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;
use tokio::sync::futures::Notified;
use tokio::task::JoinHandle;

use super::{Compiler, PolicySet};
use crate::crd::KafkaConnectorPolicy;

/// The policies and namespaces from their watches, and the compiled set of the policies.
pub struct PolicyWatch {
    policies: Store<KafkaConnectorPolicy>,
    namespaces: Store<PartialObjectMeta<Namespace>>,
    compiler: Mutex<Compiler>,
    current: RwLock<Arc<PolicySet>>,
    synced: AtomicBool,
    changed: Notify,
}

impl PolicyWatch {
    /// Starts both watches; the returned tasks run them (abort them to stop watching).
    pub fn start(client: &kube::Client) -> (Arc<PolicyWatch>, Vec<JoinHandle<()>>) {
        let (policies, policy_stream) = crate::watch::reflect(
            Api::<KafkaConnectorPolicy>::all(client.clone()),
            watcher::Config::default(),
        );
        let (namespaces, ns_stream) = crate::watch::reflect(
            Api::<PartialObjectMeta<Namespace>>::all(client.clone()),
            watcher::Config::default(),
        );
        let me = Arc::new(PolicyWatch::new(policies, namespaces));
        let p = me.clone();
        let watch_policies = tokio::spawn(async move {
            futures::pin_mut!(policy_stream);
            while let Some(e) = policy_stream.next().await {
                match e {
                    Ok(e) => p.policy_event(&e),
                    Err(e) => {
                        tracing::warn!(kind = "KafkaConnectorPolicy", error = %e, "watch failed; retrying")
                    }
                }
            }
        });
        let p = me.clone();
        let watch_namespaces = tokio::spawn(async move {
            futures::pin_mut!(ns_stream);
            while let Some(e) = ns_stream.next().await {
                match e {
                    Ok(watcher::Event::Apply(_) | watcher::Event::InitDone) => {
                        p.changed.notify_one()
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(kind = "Namespace", error = %e, "watch failed; retrying")
                    }
                }
            }
        });
        (me, vec![watch_policies, watch_namespaces])
    }

    fn new(
        policies: Store<KafkaConnectorPolicy>,
        namespaces: Store<PartialObjectMeta<Namespace>>,
    ) -> PolicyWatch {
        PolicyWatch {
            policies,
            namespaces,
            compiler: Mutex::new(Compiler::default()),
            current: RwLock::new(Arc::default()),
            synced: AtomicBool::new(false),
            changed: Notify::new(),
        }
    }

    /// Recompiles after a policy event the store has applied. A (re)list in progress leaves the store as it
    /// was, so it waits for its end; status writes reach us too, and the compiler keeps the same set while
    /// no generation changed.
    fn policy_event(&self, e: &watcher::Event<KafkaConnectorPolicy>) {
        if matches!(e, watcher::Event::Init | watcher::Event::InitApply(_)) {
            return;
        }
        let state = self.policies.state();
        let set = self.compiler.lock().set(state.iter().map(|x| &**x));
        for (name, errors) in &set.broken {
            tracing::warn!(policy = %name, errors = %errors.join("; "), "KafkaConnectorPolicy does not compile; not enforced");
        }
        *self.current.write() = set;
        self.synced.store(true, Ordering::SeqCst);
        self.changed.notify_one();
    }

    /// The compiled policies as last swapped in.
    pub fn set(&self) -> Arc<PolicySet> {
        self.current.read().clone()
    }

    /// Whether the policies have been listed and compiled once.
    pub fn synced(&self) -> bool {
        self.synced.load(Ordering::SeqCst)
    }

    /// Completes on the next change of the policies or of a namespace (one waiter; a change with nobody
    /// waiting is kept for the next).
    pub fn changed(&self) -> Notified<'_> {
        self.changed.notified()
    }

    /// The policies as watched (with their status).
    pub fn policies(&self) -> Vec<Arc<KafkaConnectorPolicy>> {
        self.policies.state()
    }

    /// The labels of `namespace`, when the watch has seen it.
    pub fn namespace_labels(&self, namespace: &str) -> Option<BTreeMap<String, String>> {
        self.namespaces
            .get(&ObjectRef::new(namespace))
            .map(|n| n.metadata.labels.clone().unwrap_or_default())
    }

    /// Completes once both watches have had their first full list.
    pub async fn wait_until_ready(&self) -> Result<(), WriterDropped> {
        self.policies.wait_until_ready().await?;
        self.namespaces.wait_until_ready().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::reflector;
    use serde_json::json;

    fn policy(generation: i64) -> KafkaConnectorPolicy {
        let mut p =
            KafkaConnectorPolicy::new("p", serde_json::from_value(json!({"schema": {}})).unwrap());
        p.metadata.uid = Some("uid-p".into());
        p.metadata.generation = Some(generation);
        p
    }

    #[test]
    fn a_list_swaps_in_once_it_ends_and_a_status_write_keeps_the_set() {
        let (policies, mut writer) = reflector::store();
        let (namespaces, _) = reflector::store();
        let w = PolicyWatch::new(policies, namespaces);
        let mut feed = |e: watcher::Event<KafkaConnectorPolicy>| {
            writer.apply_watcher_event(&e);
            w.policy_event(&e);
        };
        feed(watcher::Event::Init);
        feed(watcher::Event::InitApply(policy(1)));
        assert!(!w.synced());
        assert!(w.set().is_empty());
        feed(watcher::Event::InitDone);
        assert!(w.synced());
        let first = w.set();
        assert_eq!(first.generations(), [("uid-p".to_string(), 1)]);
        let mut written = policy(1);
        written.status = Some(Default::default());
        feed(watcher::Event::Apply(written));
        assert!(Arc::ptr_eq(&first, &w.set()));
        feed(watcher::Event::Apply(policy(2)));
        assert_eq!(w.set().generations(), [("uid-p".to_string(), 2)]);
        assert_eq!(w.compiler.lock().compilations, 2);
    }
}
