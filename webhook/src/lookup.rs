//! What the decision functions may know about the cluster: a read-only view that the server backs with its
//! watch caches and tests back with plain maps.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use shared::crd::{KafkaConnectCluster, KafkaConnector};

/// Which Connect cluster a connector targets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClusterId {
    Named {
        namespace: String,
        name: String,
    },
    /// The cluster from `KAFKA_CONNECT_ADDR`, for connectors without `spec.clusterRef`.
    Default,
}

impl fmt::Display for ClusterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClusterId::Named { namespace, name } => {
                write!(f, "KafkaConnectCluster {namespace}/{name}")
            }
            ClusterId::Default => {
                write!(f, "the default Kafka Connect cluster (KAFKA_CONNECT_ADDR)")
            }
        }
    }
}

impl ClusterId {
    /// The metric label: `namespace/name` or `default`.
    pub fn label(&self) -> String {
        match self {
            ClusterId::Named { namespace, name } => format!("{namespace}/{name}"),
            ClusterId::Default => "default".into(),
        }
    }

    /// The cluster a connector targets (`None` when it names none).
    pub fn of(connector: &KafkaConnector) -> Self {
        match connector.cluster_key() {
            Some((namespace, name)) => ClusterId::Named { namespace, name },
            None => ClusterId::Default,
        }
    }
}

/// A read-only view of the objects admission decisions depend on.
pub trait Lookup: Send + Sync {
    fn cluster(&self, namespace: &str, name: &str) -> Option<Arc<KafkaConnectCluster>>;
    /// The names of the KafkaConnectClusters in `namespace`, sorted (for "did you mean").
    fn cluster_names(&self, namespace: &str) -> Vec<String>;
    fn secret(&self, namespace: &str, name: &str) -> Option<Arc<Secret>>;
    fn config_map(&self, namespace: &str, name: &str) -> Option<Arc<ConfigMap>>;
    /// Some KafkaConnector other than `except` (namespace, name) that claims `connector_name` on `cluster`.
    fn claimant(
        &self,
        cluster: &ClusterId,
        connector_name: &str,
        except: (&str, &str),
    ) -> Option<Arc<KafkaConnector>>;
    /// The URL of the default cluster, when one is configured.
    fn default_cluster_url(&self) -> Option<&str>;
}

/// Whether `other` (not `except`) claims `connector_name` on `cluster`: shared by every `Lookup`.
pub fn claims(
    other: &KafkaConnector,
    cluster: &ClusterId,
    connector_name: &str,
    except: (&str, &str),
) -> bool {
    let ns = other.metadata.namespace.as_deref().unwrap_or_default();
    let name = other.metadata.name.as_deref().unwrap_or_default();
    (ns, name) != except
        && ClusterId::of(other) == *cluster
        && other.connector_name() == connector_name
}

type Key = (String, String);

/// A `Lookup` over plain maps, for tests, the fuzz target and as an overlay of objects fetched live when the
/// watch caches have not seen them yet.
#[derive(Debug, Clone, Default)]
pub struct Objects {
    pub clusters: BTreeMap<Key, Arc<KafkaConnectCluster>>,
    pub connectors: BTreeMap<Key, Arc<KafkaConnector>>,
    pub secrets: BTreeMap<Key, Arc<Secret>>,
    pub config_maps: BTreeMap<Key, Arc<ConfigMap>>,
    pub default_url: Option<String>,
}

fn key(namespace: &str, name: &str) -> Key {
    (namespace.to_string(), name.to_string())
}

fn meta_key(m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Key {
    key(
        m.namespace.as_deref().unwrap_or_default(),
        m.name.as_deref().unwrap_or_default(),
    )
}

impl Objects {
    pub fn add_cluster(&mut self, c: KafkaConnectCluster) -> &mut Self {
        self.clusters.insert(meta_key(&c.metadata), Arc::new(c));
        self
    }
    pub fn add_connector(&mut self, c: KafkaConnector) -> &mut Self {
        self.connectors.insert(meta_key(&c.metadata), Arc::new(c));
        self
    }
    pub fn add_secret(&mut self, s: Secret) -> &mut Self {
        self.secrets.insert(meta_key(&s.metadata), Arc::new(s));
        self
    }
    pub fn add_config_map(&mut self, c: ConfigMap) -> &mut Self {
        self.config_maps.insert(meta_key(&c.metadata), Arc::new(c));
        self
    }
    pub fn is_empty(&self) -> bool {
        self.clusters.is_empty()
            && self.connectors.is_empty()
            && self.secrets.is_empty()
            && self.config_maps.is_empty()
    }
}

impl Lookup for Objects {
    fn cluster(&self, namespace: &str, name: &str) -> Option<Arc<KafkaConnectCluster>> {
        self.clusters.get(&key(namespace, name)).cloned()
    }
    fn cluster_names(&self, namespace: &str) -> Vec<String> {
        self.clusters
            .keys()
            .filter(|(ns, _)| ns == namespace)
            .map(|(_, n)| n.clone())
            .collect()
    }
    fn secret(&self, namespace: &str, name: &str) -> Option<Arc<Secret>> {
        self.secrets.get(&key(namespace, name)).cloned()
    }
    fn config_map(&self, namespace: &str, name: &str) -> Option<Arc<ConfigMap>> {
        self.config_maps.get(&key(namespace, name)).cloned()
    }
    fn claimant(
        &self,
        cluster: &ClusterId,
        connector_name: &str,
        except: (&str, &str),
    ) -> Option<Arc<KafkaConnector>> {
        self.connectors
            .values()
            .find(|c| claims(c, cluster, connector_name, except))
            .cloned()
    }
    fn default_cluster_url(&self) -> Option<&str> {
        self.default_url.as_deref()
    }
}

/// Objects fetched live (`top`) in front of the watch caches (`base`): the caches lag a few milliseconds
/// behind writes, and `kubectl apply -f` of a Secret, a cluster and a connector in one go must not fail on
/// that.
pub struct Overlay<'a> {
    pub top: &'a Objects,
    pub base: &'a dyn Lookup,
}

impl Lookup for Overlay<'_> {
    fn cluster(&self, namespace: &str, name: &str) -> Option<Arc<KafkaConnectCluster>> {
        self.top
            .cluster(namespace, name)
            .or_else(|| self.base.cluster(namespace, name))
    }
    fn cluster_names(&self, namespace: &str) -> Vec<String> {
        let mut names = self.top.cluster_names(namespace);
        names.extend(self.base.cluster_names(namespace));
        names.sort();
        names.dedup();
        names
    }
    fn secret(&self, namespace: &str, name: &str) -> Option<Arc<Secret>> {
        self.top
            .secret(namespace, name)
            .or_else(|| self.base.secret(namespace, name))
    }
    fn config_map(&self, namespace: &str, name: &str) -> Option<Arc<ConfigMap>> {
        self.top
            .config_map(namespace, name)
            .or_else(|| self.base.config_map(namespace, name))
    }
    fn claimant(
        &self,
        cluster: &ClusterId,
        connector_name: &str,
        except: (&str, &str),
    ) -> Option<Arc<KafkaConnector>> {
        self.top
            .claimant(cluster, connector_name, except)
            .or_else(|| self.base.claimant(cluster, connector_name, except))
    }
    fn default_cluster_url(&self) -> Option<&str> {
        self.base.default_cluster_url()
    }
}
