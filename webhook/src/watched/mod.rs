//! The Kubernetes objects as the server knows them: KafkaConnectClusters and KafkaConnectors from watches
//! (no read per request), Secrets and ConfigMaps as in `referenced`, and live reads of what a request
//! refers to that the watches have not seen yet.

mod access;
mod policies;
mod referenced;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use shared::config_from::SourceKind;
use shared::crd::{KafkaConnectCluster, KafkaConnectClusterSpec, KafkaConnector};
use shared::watch::Namespaces;

use crate::admission::{self, ObjectSource, ObjectView, Request, Snapshot};
use referenced::{Key, Referenced};

/// The server's [`ObjectSource`].
#[derive(Clone)]
pub struct Watched {
    inner: Arc<Inner>,
}

struct Inner {
    client: kube::Client,
    clusters: Store<KafkaConnectCluster>,
    connectors: Store<KafkaConnector>,
    secrets: Referenced<Secret>,
    config_maps: Referenced<ConfigMap>,
    policies: policies::Policies,
    default_url: Option<String>,
    namespaces: Namespaces,
    synced: AtomicBool,
}

/// Watches `api` into a store for as long as the process runs, logging watch errors (retried with backoff).
fn spawn_watch<K>(client: &kube::Client, namespaces: &Namespaces, what: &'static str) -> Store<K>
where
    K: shared::watch::Watchable,
{
    let (store, stream) = shared::watch::reflect_in(client, namespaces, watcher::Config::default());
    tokio::spawn(async move {
        stream
            .for_each(|r| async move {
                if let Err(e) = r {
                    tracing::warn!(cache = what, error = %e, "watch error; retrying with backoff");
                }
            })
            .await;
    });
    store
}

impl Watched {
    /// Starts the watches; [`Watched::is_synced`] turns true once each has had its first full list.
    /// Only objects in `namespaces` are cached.
    pub fn start(
        client: kube::Client,
        default_url: Option<String>,
        namespaces: Namespaces,
    ) -> Watched {
        // Secrets and ConfigMaps: metadata-only watches (`Api<PartialObjectMeta<_>>` asks for metadata alone).
        let watched = Watched {
            inner: Arc::new(Inner {
                clusters: spawn_watch(&client, &namespaces, "kafkaconnectclusters"),
                connectors: spawn_watch(&client, &namespaces, "kafkaconnectors"),
                secrets: Referenced::new(
                    client.clone(),
                    spawn_watch::<PartialObjectMeta<Secret>>(&client, &namespaces, "secrets"),
                ),
                config_maps: Referenced::new(
                    client.clone(),
                    spawn_watch::<PartialObjectMeta<ConfigMap>>(&client, &namespaces, "configmaps"),
                ),
                policies: policies::Policies::start(&client),
                namespaces,
                client,
                default_url,
                synced: AtomicBool::new(false),
            }),
        };
        let w = watched.inner.clone();
        tokio::spawn(async move {
            let all = futures::future::try_join5(
                w.clusters.wait_until_ready(),
                w.connectors.wait_until_ready(),
                w.secrets.wait_until_ready(),
                w.config_maps.wait_until_ready(),
                w.policies.wait_until_ready(),
            )
            .await;
            match all {
                Ok(_) => {
                    w.synced.store(true, Ordering::SeqCst);
                    tracing::info!("watch caches synced");
                }
                Err(e) => tracing::error!(error = %e, "watch caches stopped before syncing"),
            }
        });
        watched
    }

    pub fn is_synced(&self) -> bool {
        self.inner.synced.load(Ordering::SeqCst)
    }

    /// The Secrets (or, with `config_maps`, the ConfigMaps) the known KafkaConnectClusters reference, and
    /// those the known KafkaConnectors' `configFrom` references.
    fn referenced(&self, config_maps: bool) -> HashSet<Key> {
        let names = |spec: &KafkaConnectClusterSpec| {
            if config_maps {
                shared::cluster::referenced_config_maps(spec)
            } else {
                shared::cluster::referenced_secrets(spec)
            }
        };
        let kind = if config_maps {
            SourceKind::ConfigMap
        } else {
            SourceKind::Secret
        };
        let mut out: HashSet<Key> = self
            .inner
            .clusters
            .state()
            .iter()
            .flat_map(|c| {
                let ns = c.metadata.namespace.clone().unwrap_or_default();
                names(&c.spec).into_iter().map(move |n| (ns.clone(), n))
            })
            .collect();
        for c in self.inner.connectors.state() {
            let ns = c.metadata.namespace.clone().unwrap_or_default();
            for (k, n) in shared::config_from::referenced(&c.spec.config_from) {
                if k == kind {
                    out.insert((ns.clone(), n));
                }
            }
        }
        out
    }

    async fn get_cluster(&self, ns: &str, name: &str) -> Option<KafkaConnectCluster> {
        let api = Api::<KafkaConnectCluster>::namespaced(self.inner.client.clone(), ns);
        match api.get_opt(name).await {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(namespace = ns, name, error = %e, "live lookup failed");
                None
            }
        }
    }
}

impl ObjectView for Watched {
    fn cluster(&self, namespace: &str, name: &str) -> Option<Arc<KafkaConnectCluster>> {
        self.inner
            .clusters
            .get(&ObjectRef::new(name).within(namespace))
    }
    fn cluster_names(&self, namespace: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .inner
            .clusters
            .state()
            .iter()
            .filter(|c| c.metadata.namespace.as_deref() == Some(namespace))
            .filter_map(|c| c.metadata.name.clone())
            .collect();
        names.sort();
        names
    }
    fn clusters(&self) -> Vec<Arc<KafkaConnectCluster>> {
        self.inner.clusters.state()
    }
    fn secret(&self, namespace: &str, name: &str) -> Option<Arc<Secret>> {
        self.inner.secrets.current(namespace, name)
    }
    fn config_map(&self, namespace: &str, name: &str) -> Option<Arc<ConfigMap>> {
        self.inner.config_maps.current(namespace, name)
    }
    fn find_connector(
        &self,
        matches: &dyn Fn(&KafkaConnector) -> bool,
    ) -> Option<Arc<KafkaConnector>> {
        self.inner.connectors.find(|c| matches(c))
    }
    fn default_cluster_url(&self) -> Option<&str> {
        self.inner.default_url.as_deref()
    }
    fn policies(&self) -> Arc<shared::policy::PolicySet> {
        self.inner.policies.set()
    }
    fn namespace_labels(
        &self,
        namespace: &str,
    ) -> Option<Arc<std::collections::BTreeMap<String, String>>> {
        self.inner.policies.namespace_labels(namespace)
    }
    fn watches(&self, namespace: &str) -> bool {
        self.inner.namespaces.contains(namespace)
    }
}

impl ObjectSource for Watched {
    fn serves(&self, namespace: &str) -> bool {
        self.inner.namespaces.contains(namespace)
    }

    /// Asks the API server whether the requesting user may read what `req`'s `configFrom` adds, then reads
    /// live what `req` refers to and the caches lack (at most two rounds: a cluster, then its Secrets and
    /// ConfigMaps). A failed read is logged and leaves the object absent, so the decision names it as
    /// missing.
    async fn snapshot<'a>(&'a self, req: &'a Request) -> Snapshot<'a> {
        let mut snapshot = Snapshot::of(self);
        // Policies select by namespace labels: a namespace created a moment ago is read live.
        if let Some(ns) = req.namespace.as_deref()
            && !self.inner.policies.set().is_empty()
            && self.inner.policies.namespace_labels(ns).is_none()
            && let Some(labels) = self.inner.policies.read_namespace_labels(ns).await
        {
            snapshot.fetched.namespaces.insert(ns.to_string(), labels);
        }
        // Read checks first: what the user may not read, the webhook does not read for them either.
        let checks = admission::read_checks(req);
        let answers = futures::future::join_all(
            checks
                .iter()
                .map(|c| access::review(self.inner.client.clone(), &req.user_info, c)),
        )
        .await;
        snapshot.access = checks.into_iter().zip(answers).collect();
        let mut tried = HashSet::new();
        for _ in 0..2 {
            let missing: Vec<_> = admission::missing_objects(req, &snapshot)
                .into_iter()
                .filter(|r| tried.insert(r.clone()))
                .collect();
            if missing.is_empty() {
                break;
            }
            for r in missing {
                // Outside the watched namespaces this installation has no rights to read anything.
                let (admission::ObjectRef::Cluster(ns, _)
                | admission::ObjectRef::Secret(ns, _)
                | admission::ObjectRef::ConfigMap(ns, _)) = &r;
                if !self.inner.namespaces.contains(ns) {
                    continue;
                }
                let fetched = &mut snapshot.fetched;
                match r {
                    admission::ObjectRef::Cluster(ns, name) => {
                        if let Some(o) = self.get_cluster(&ns, &name).await {
                            fetched.add_cluster(o);
                        }
                    }
                    admission::ObjectRef::Secret(ns, name) => {
                        let referenced = || self.referenced(false);
                        if let Some(o) = self.inner.secrets.fetch(&ns, &name, referenced).await {
                            fetched.add_secret_arc(o);
                        }
                    }
                    admission::ObjectRef::ConfigMap(ns, name) => {
                        let referenced = || self.referenced(true);
                        if let Some(o) = self.inner.config_maps.fetch(&ns, &name, referenced).await
                        {
                            fetched.add_config_map_arc(o);
                        }
                    }
                }
            }
        }
        snapshot
    }
}
