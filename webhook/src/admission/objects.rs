//! The Kubernetes seam: what a review may read about other objects. Decisions read an [`ObjectView`]; an
//! [`ObjectSource`] gives the view for one request (the server's watch caches plus live reads, or plain maps
//! in tests and fuzzing).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use shared::config_from::SourceKind;
use shared::crd::{
    ConfigValueSource, KafkaConnectCluster, KafkaConnectClusterSpec, KafkaConnector,
};
use shared::policy::PolicySet;
use shared::target::{ClaimSpace, ClusterId, claims};

use super::access::{Access, ReadCheck};
use super::request::{Kind, Request, kind, object_namespace};

/// A read-only view of the objects admission decisions depend on.
pub trait ObjectView: Send + Sync {
    fn cluster(&self, namespace: &str, name: &str) -> Option<Arc<KafkaConnectCluster>>;
    /// The names of the KafkaConnectClusters in `namespace`, sorted (for "did you mean").
    fn cluster_names(&self, namespace: &str) -> Vec<String>;
    /// Every KafkaConnectCluster known, with the URL it points at: which of them reach one Kafka Connect.
    fn clusters(&self) -> Vec<Arc<KafkaConnectCluster>>;
    fn secret(&self, namespace: &str, name: &str) -> Option<Arc<Secret>>;
    fn config_map(&self, namespace: &str, name: &str) -> Option<Arc<ConfigMap>>;
    /// Some KafkaConnector for which `matches` holds.
    fn find_connector(
        &self,
        matches: &dyn Fn(&KafkaConnector) -> bool,
    ) -> Option<Arc<KafkaConnector>>;
    /// The URL of the default cluster, when one is configured.
    fn default_cluster_url(&self) -> Option<&str>;
    /// Whether the requesting user may do `check` (asked for this request), if it was asked.
    fn read_access(&self, _check: &ReadCheck) -> Option<Access> {
        None
    }
    /// The KafkaConnectorPolicies, compiled.
    fn policies(&self) -> Arc<PolicySet> {
        Arc::default()
    }
    /// The labels of `namespace`, when it is known.
    fn namespace_labels(&self, _namespace: &str) -> Option<Arc<BTreeMap<String, String>>> {
        None
    }
    /// Whether objects in `namespace` are watched by this installation (see `--watch-namespaces`): elsewhere
    /// nothing is cached or read, so an object there is not "missing" but out of reach.
    fn watches(&self, _namespace: &str) -> bool {
        true
    }

    /// The clusters that share `cluster`'s connector names: those at the same Kafka Connect.
    fn claim_space(&self, cluster: &ClusterId) -> ClaimSpace {
        let clusters = self.clusters();
        ClaimSpace::of(
            cluster,
            self.default_cluster_url(),
            clusters
                .iter()
                .map(|c| (ClusterId::of_cluster(c), c.spec.url.as_str())),
        )
    }

    /// Some KafkaConnector other than `except` (namespace, name) that claims `connector_name` in `space`.
    fn claimant(
        &self,
        space: &ClaimSpace,
        connector_name: &str,
        except: (&str, &str),
    ) -> Option<Arc<KafkaConnector>> {
        self.find_connector(&|c| claims(c, space.ids(), connector_name, except))
    }
}

/// Where the objects for one review come from.
pub trait ObjectSource: Sync {
    /// The view to decide `req` on: fresh enough that objects the request refers to and that exist are in
    /// it, even when a watch has not caught up with them yet.
    fn snapshot<'a>(&'a self, req: &'a Request) -> impl Future<Output = Snapshot<'a>> + Send;

    /// Whether this installation serves objects in `namespace` (its caches cover it).
    fn serves(&self, _namespace: &str) -> bool {
        true
    }
}

type Key = (String, String);

/// A view over plain maps: the objects a test or the fuzz target sets up, and the objects the server has
/// just read live for one request.
#[derive(Debug, Clone, Default)]
pub struct Objects {
    pub clusters: BTreeMap<Key, Arc<KafkaConnectCluster>>,
    pub connectors: BTreeMap<Key, Arc<KafkaConnector>>,
    pub secrets: BTreeMap<Key, Arc<Secret>>,
    pub config_maps: BTreeMap<Key, Arc<ConfigMap>>,
    pub default_url: Option<String>,
    /// Fixed answers to read checks; any other read is allowed.
    pub reads: BTreeMap<ReadCheck, Access>,
    pub policies: Arc<PolicySet>,
    /// Namespace labels by namespace.
    pub namespaces: BTreeMap<String, Arc<BTreeMap<String, String>>>,
    /// Namespaces this installation does not watch; every other one is watched.
    pub unwatched: std::collections::BTreeSet<String>,
}

fn key(namespace: &str, name: &str) -> Key {
    (namespace.to_string(), name.to_string())
}

fn meta_key(m: &ObjectMeta) -> Key {
    key(
        m.namespace.as_deref().unwrap_or_default(),
        m.name.as_deref().unwrap_or_default(),
    )
}

impl Objects {
    pub fn add_cluster(&mut self, c: KafkaConnectCluster) -> &mut Self {
        self.add_cluster_arc(Arc::new(c))
    }
    pub fn add_connector(&mut self, c: KafkaConnector) -> &mut Self {
        self.connectors.insert(meta_key(&c.metadata), Arc::new(c));
        self
    }
    pub fn add_secret(&mut self, s: Secret) -> &mut Self {
        self.add_secret_arc(Arc::new(s))
    }
    pub fn add_config_map(&mut self, c: ConfigMap) -> &mut Self {
        self.add_config_map_arc(Arc::new(c))
    }
    /// The requesting user may not `get` `kind` `namespace/name`.
    pub fn deny_read(&mut self, kind: SourceKind, namespace: &str, name: &str) -> &mut Self {
        self.reads.insert(
            ReadCheck {
                kind,
                namespace: namespace.into(),
                name: name.into(),
            },
            Access::Denied,
        );
        self
    }
    pub(crate) fn add_cluster_arc(&mut self, c: Arc<KafkaConnectCluster>) -> &mut Self {
        self.clusters.insert(meta_key(&c.metadata), c);
        self
    }
    pub(crate) fn add_secret_arc(&mut self, s: Arc<Secret>) -> &mut Self {
        self.secrets.insert(meta_key(&s.metadata), s);
        self
    }
    pub(crate) fn add_config_map_arc(&mut self, c: Arc<ConfigMap>) -> &mut Self {
        self.config_maps.insert(meta_key(&c.metadata), c);
        self
    }
}

impl ObjectView for Objects {
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
    fn clusters(&self) -> Vec<Arc<KafkaConnectCluster>> {
        self.clusters.values().cloned().collect()
    }
    fn secret(&self, namespace: &str, name: &str) -> Option<Arc<Secret>> {
        self.secrets.get(&key(namespace, name)).cloned()
    }
    fn config_map(&self, namespace: &str, name: &str) -> Option<Arc<ConfigMap>> {
        self.config_maps.get(&key(namespace, name)).cloned()
    }
    fn find_connector(
        &self,
        matches: &dyn Fn(&KafkaConnector) -> bool,
    ) -> Option<Arc<KafkaConnector>> {
        self.connectors.values().find(|c| matches(c)).cloned()
    }
    fn default_cluster_url(&self) -> Option<&str> {
        self.default_url.as_deref()
    }
    fn read_access(&self, check: &ReadCheck) -> Option<Access> {
        Some(self.reads.get(check).cloned().unwrap_or(Access::Allowed))
    }
    fn policies(&self) -> Arc<PolicySet> {
        self.policies.clone()
    }
    fn namespace_labels(&self, namespace: &str) -> Option<Arc<BTreeMap<String, String>>> {
        self.namespaces.get(namespace).cloned()
    }
    fn watches(&self, namespace: &str) -> bool {
        !self.unwatched.contains(namespace)
    }
}

/// Plain maps hold everything there is: nothing to read live.
impl ObjectSource for Objects {
    async fn snapshot<'a>(&'a self, _req: &'a Request) -> Snapshot<'a> {
        Snapshot::of(self)
    }
}

/// The objects one review decides on: those read live for it (`fetched`) in front of the caches (`cached`).
/// Watch caches lag a few milliseconds behind writes, and `kubectl apply -f` of a Secret, a cluster and a
/// connector in one go must not fail on that. `access`: the answers to this request's read checks.
pub struct Snapshot<'a> {
    pub fetched: Objects,
    pub cached: &'a dyn ObjectView,
    pub access: BTreeMap<ReadCheck, Access>,
}

impl<'a> Snapshot<'a> {
    /// `cached` alone.
    pub fn of(cached: &'a dyn ObjectView) -> Self {
        Snapshot {
            fetched: Objects::default(),
            cached,
            access: BTreeMap::new(),
        }
    }
}

impl ObjectView for Snapshot<'_> {
    fn cluster(&self, namespace: &str, name: &str) -> Option<Arc<KafkaConnectCluster>> {
        self.fetched
            .cluster(namespace, name)
            .or_else(|| self.cached.cluster(namespace, name))
    }
    fn cluster_names(&self, namespace: &str) -> Vec<String> {
        let mut names = self.fetched.cluster_names(namespace);
        names.extend(self.cached.cluster_names(namespace));
        names.sort();
        names.dedup();
        names
    }
    /// The fetched object of a cluster in front of its cached one.
    fn clusters(&self) -> Vec<Arc<KafkaConnectCluster>> {
        let mut all = self.fetched.clusters();
        all.extend(
            self.cached
                .clusters()
                .into_iter()
                .filter(|c| !self.fetched.clusters.contains_key(&meta_key(&c.metadata))),
        );
        all
    }
    fn secret(&self, namespace: &str, name: &str) -> Option<Arc<Secret>> {
        self.fetched
            .secret(namespace, name)
            .or_else(|| self.cached.secret(namespace, name))
    }
    fn config_map(&self, namespace: &str, name: &str) -> Option<Arc<ConfigMap>> {
        self.fetched
            .config_map(namespace, name)
            .or_else(|| self.cached.config_map(namespace, name))
    }
    fn find_connector(
        &self,
        matches: &dyn Fn(&KafkaConnector) -> bool,
    ) -> Option<Arc<KafkaConnector>> {
        self.fetched
            .find_connector(matches)
            .or_else(|| self.cached.find_connector(matches))
    }
    fn default_cluster_url(&self) -> Option<&str> {
        self.cached.default_cluster_url()
    }
    fn read_access(&self, check: &ReadCheck) -> Option<Access> {
        self.access
            .get(check)
            .cloned()
            .or_else(|| self.cached.read_access(check))
    }
    fn policies(&self) -> Arc<PolicySet> {
        self.cached.policies()
    }
    fn namespace_labels(&self, namespace: &str) -> Option<Arc<BTreeMap<String, String>>> {
        self.fetched
            .namespace_labels(namespace)
            .or_else(|| self.cached.namespace_labels(namespace))
    }
    fn watches(&self, namespace: &str) -> bool {
        self.cached.watches(namespace)
    }
}

/// An object a review refers to: (namespace, name).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ObjectRef {
    Cluster(String, String),
    Secret(String, String),
    ConfigMap(String, String),
}

/// The objects `req` refers to that `view` does not have (yet): a connector's KafkaConnectCluster, the
/// Secrets and ConfigMaps of the cluster under review or targeted, and those a connector's `configFrom`
/// references (unless the requesting user may not read them: then the webhook does not either). A source
/// reads these live before the decision; the Secrets and ConfigMaps of a cluster it has only just read show
/// up in a second round.
pub(crate) fn missing_objects(req: &Request, view: &dyn ObjectView) -> Vec<ObjectRef> {
    let Some(obj) = req.object.as_ref() else {
        return Vec::new();
    };
    let ns = object_namespace(req, obj);
    let mut out = Vec::new();
    let mut want_cluster_refs = |cns: &str, spec: &KafkaConnectClusterSpec| {
        for n in shared::cluster::referenced_secrets(spec) {
            if view.secret(cns, &n).is_none() {
                out.push(ObjectRef::Secret(cns.to_string(), n));
            }
        }
        for n in shared::cluster::referenced_config_maps(spec) {
            if view.config_map(cns, &n).is_none() {
                out.push(ObjectRef::ConfigMap(cns.to_string(), n));
            }
        }
    };
    let spec = obj.data.get("spec");
    match kind(req) {
        Some(Kind::Connector) => {
            let Some(r) = spec
                .and_then(|s| s.get("clusterRef"))
                .and_then(|r| shared::crd::ClusterRef::deserialize(r).ok())
            else {
                let mut refs = config_from_refs(&ns, spec, view);
                refs.extend(offsets_ref(req, view));
                return refs;
            };
            let cns = r.namespace.clone().unwrap_or_else(|| ns.clone());
            match view.cluster(&cns, &r.name) {
                None => out.push(ObjectRef::Cluster(cns, r.name)),
                Some(c) => want_cluster_refs(&cns, &c.spec),
            }
            out.extend(config_from_refs(&ns, spec, view));
            out.extend(offsets_ref(req, view));
        }
        Some(Kind::Cluster) => {
            if let Some(spec) = spec.and_then(|s| KafkaConnectClusterSpec::deserialize(s).ok()) {
                want_cluster_refs(&ns, &spec);
            }
        }
        Some(Kind::Policy) | None => {}
    }
    out
}

/// The ConfigMap an offsets alter reads, when the review adds or changes it, `view` lacks it and the
/// requesting user may read it.
fn offsets_ref(req: &Request, view: &dyn ObjectView) -> Option<ObjectRef> {
    let check = super::access::offsets_reference_to_check(req)?;
    if matches!(
        view.read_access(&check),
        Some(Access::Denied | Access::Unknown(_))
    ) || view.config_map(&check.namespace, &check.name).is_some()
    {
        return None;
    }
    Some(ObjectRef::ConfigMap(check.namespace, check.name))
}

/// The objects a connector's `configFrom` references that `view` lacks and the requesting user may read.
fn config_from_refs(
    ns: &str,
    spec: Option<&serde_json::Value>,
    view: &dyn ObjectView,
) -> Vec<ObjectRef> {
    let from = spec
        .and_then(|s| s.get("configFrom"))
        .and_then(|f| BTreeMap::<String, ConfigValueSource>::deserialize(f).ok())
        .unwrap_or_default();
    let mut out = Vec::new();
    for (kind, name) in shared::config_from::referenced(&from) {
        let check = ReadCheck {
            kind,
            namespace: ns.to_string(),
            name: name.clone(),
        };
        if matches!(
            view.read_access(&check),
            Some(Access::Denied | Access::Unknown(_))
        ) {
            continue;
        }
        match kind {
            SourceKind::Secret if view.secret(ns, &name).is_none() => {
                out.push(ObjectRef::Secret(ns.to_string(), name))
            }
            SourceKind::ConfigMap if view.config_map(ns, &name).is_none() => {
                out.push(ObjectRef::ConfigMap(ns.to_string(), name))
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    fn cluster(ns: &str, name: &str, url: &str) -> KafkaConnectCluster {
        serde_json::from_value(testing::cluster(ns, name, serde_json::json!({"url": url}))).unwrap()
    }

    #[test]
    fn a_snapshot_shares_claims_between_a_cluster_read_live_and_those_cached() {
        let mut cached = Objects::default();
        cached
            .add_cluster(cluster("team-a", "local", "http://stale:8083"))
            .add_cluster(cluster("team-b", "main", "http://connect:8083"));
        let mut snapshot = Snapshot::of(&cached);
        // Read live: newer than the cache.
        snapshot
            .fetched
            .add_cluster(cluster("team-a", "local", "http://Connect:8083/"));
        let local = ClusterId::Named {
            namespace: "team-a".into(),
            name: "local".into(),
        };
        let main = ClusterId::Named {
            namespace: "team-b".into(),
            name: "main".into(),
        };
        assert_eq!(snapshot.clusters().len(), 2);
        assert_eq!(snapshot.claim_space(&local).ids(), [local.clone(), main]);
        assert_eq!(cached.claim_space(&local).ids(), [local]);
    }
}
