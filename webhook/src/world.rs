//! Watch-backed caches of KafkaConnectClusters, KafkaConnectors, Secrets and ConfigMaps (no GET per request),
//! plus the live fetch of the few objects a request names that the caches have not seen yet.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;
use shared::crd::{KafkaConnectCluster, KafkaConnector};

use crate::decision;
use crate::lookup::{ClusterId, Lookup, Objects, claims};

#[derive(Clone)]
pub struct World {
    clusters: Store<KafkaConnectCluster>,
    connectors: Store<KafkaConnector>,
    secrets: Store<Secret>,
    config_maps: Store<ConfigMap>,
    default_url: Option<String>,
    synced: Arc<AtomicBool>,
}

fn watch<K>(client: kube::Client, what: &'static str) -> Store<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(
        writer,
        watcher(Api::<K>::all(client), watcher::Config::default()),
    )
    .default_backoff()
    .applied_objects();
    tokio::spawn(async move {
        stream
            .for_each(|r| async move {
                if let Err(e) = r {
                    tracing::warn!(cache = what, error = %e, "watch error; retrying with backoff");
                }
            })
            .await;
    });
    reader
}

impl World {
    /// Starts the watches; `is_synced` turns true once every cache has had its first full list.
    pub fn start(client: kube::Client, default_url: Option<String>) -> World {
        let world = World {
            clusters: watch(client.clone(), "kafkaconnectclusters"),
            connectors: watch(client.clone(), "kafkaconnectors"),
            secrets: watch(client.clone(), "secrets"),
            config_maps: watch(client, "configmaps"),
            default_url,
            synced: Arc::new(AtomicBool::new(false)),
        };
        let w = world.clone();
        tokio::spawn(async move {
            let all = futures::future::try_join4(
                w.clusters.wait_until_ready(),
                w.connectors.wait_until_ready(),
                w.secrets.wait_until_ready(),
                w.config_maps.wait_until_ready(),
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
        world
    }

    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::SeqCst)
    }
}

impl Lookup for World {
    fn cluster(&self, namespace: &str, name: &str) -> Option<Arc<KafkaConnectCluster>> {
        self.clusters.get(&ObjectRef::new(name).within(namespace))
    }
    fn cluster_names(&self, namespace: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .clusters
            .state()
            .iter()
            .filter(|c| c.metadata.namespace.as_deref() == Some(namespace))
            .filter_map(|c| c.metadata.name.clone())
            .collect();
        names.sort();
        names
    }
    fn secret(&self, namespace: &str, name: &str) -> Option<Arc<Secret>> {
        self.secrets.get(&ObjectRef::new(name).within(namespace))
    }
    fn config_map(&self, namespace: &str, name: &str) -> Option<Arc<ConfigMap>> {
        self.config_maps
            .get(&ObjectRef::new(name).within(namespace))
    }
    fn claimant(
        &self,
        cluster: &ClusterId,
        connector_name: &str,
        except: (&str, &str),
    ) -> Option<Arc<KafkaConnector>> {
        self.connectors
            .find(|c| claims(c, cluster, connector_name, except))
    }
    fn default_cluster_url(&self) -> Option<&str> {
        self.default_url.as_deref()
    }
}

/// Fetches the objects `req` names that `base` lacks (at most two rounds: a cluster, then its Secrets).
/// Failures are logged and leave the object absent, so the decision names it as missing.
pub async fn fetch_missing(
    client: &kube::Client,
    req: &decision::Request,
    base: &dyn Lookup,
) -> Objects {
    let mut top = Objects::default();
    let mut tried = std::collections::HashSet::new();
    for _ in 0..2 {
        let overlay = crate::lookup::Overlay { top: &top, base };
        let missing: Vec<_> = decision::missing_refs(req, &overlay)
            .into_iter()
            .filter(|r| tried.insert(r.clone()))
            .collect();
        if missing.is_empty() {
            break;
        }
        for r in missing {
            match r {
                decision::ObjectRef::Cluster(ns, name) => {
                    if let Some(o) = get::<KafkaConnectCluster>(client, &ns, &name).await {
                        top.add_cluster(o);
                    }
                }
                decision::ObjectRef::Secret(ns, name) => {
                    if let Some(o) = get::<Secret>(client, &ns, &name).await {
                        top.add_secret(o);
                    }
                }
                decision::ObjectRef::ConfigMap(ns, name) => {
                    if let Some(o) = get::<ConfigMap>(client, &ns, &name).await {
                        top.add_config_map(o);
                    }
                }
            }
        }
    }
    top
}

async fn get<K>(client: &kube::Client, ns: &str, name: &str) -> Option<K>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + DeserializeOwned,
{
    match Api::<K>::namespaced(client.clone(), ns).get_opt(name).await {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(namespace = ns, name, error = %e, "live lookup failed");
            None
        }
    }
}
