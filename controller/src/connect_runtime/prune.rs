//! With `spec.prune: true`, the connectors on a cluster that no KafkaConnector claims are deleted. Without
//! it (the default) such connectors are never touched.

use std::collections::{BTreeMap, HashSet};

use kube::api::ListParams;
use shared::crd::{KafkaConnectCluster, KafkaConnector};
use shared::target::{ClaimSpace, ClusterId, connector_name};
use shared::watch::{Namespaces, Watchable};

use super::{ConnectCluster, ConnectClusters, PolledConnector};

pub(super) async fn prune(
    all: &ConnectClusters,
    c: &ConnectCluster,
    connectors: &BTreeMap<String, PolledConnector>,
) {
    let w = &all.wiring;
    let Some(cluster) = w.watched.cluster(&c.id) else {
        return;
    };
    if !cluster.spec.prune || connectors.is_empty() {
        return;
    }
    // Cheap first pass against the watch cache; the API server has the final word.
    let clusters = w.watched.clusters.state();
    let space = claim_space(all, c, clusters.iter().map(|k| &**k));
    let claimed: HashSet<String> = w
        .watched
        .connectors
        .state()
        .iter()
        .filter(|k| space.through(k).is_some())
        .map(|k| connector_name(k).to_string())
        .collect();
    let candidates: Vec<String> = connectors
        .keys()
        .filter(|n| !claimed.contains(*n))
        .cloned()
        .collect();
    if candidates.is_empty() {
        return;
    }
    let unclaimed = match unclaimed(all, c, candidates).await {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(cluster = %c.label, error = %e, "listing KafkaConnectors before pruning");
            return;
        }
    };
    for name in unclaimed {
        let _permit = c.writes.acquire().await;
        match c.client().delete(&name).await {
            Ok(()) | Err(shared::Error::NotFound { .. }) => {
                tracing::info!(cluster = %c.label, connector = %name, "pruned a connector no KafkaConnector claims");
                w.writes
                    .event(
                        &*cluster,
                        false,
                        "Pruned",
                        "Prune",
                        format!("deleted connector {name:?}: no KafkaConnector claims it and spec.prune is true"),
                    )
                    .await;
            }
            Err(e) => {
                tracing::warn!(cluster = %c.label, connector = %name, error = %e, "pruning");
            }
        }
    }
}

/// Connectors on the cluster no KafkaConnector claims, according to the API server: every watched namespace
/// (all of them unless `--watch-namespaces` limits it: a namespace-scoped install may read no other, so a
/// Connect cluster it prunes must serve its namespaces alone), no label selector (another controller
/// instance may own them), and through any KafkaConnectCluster (or the default cluster) with the same URL,
/// since several objects may name one Connect cluster.
async fn unclaimed(
    all: &ConnectClusters,
    c: &ConnectCluster,
    names: Vec<String>,
) -> kube::Result<Vec<String>> {
    let kube = &all.wiring.kube;
    let namespaces = &all.wiring.watched.namespaces;
    let clusters = list::<KafkaConnectCluster>(kube, namespaces).await?;
    let space = claim_space(all, c, &clusters);
    let claimed: HashSet<String> = list::<KafkaConnector>(kube, namespaces)
        .await?
        .iter()
        .filter(|k| space.through(k).is_some())
        .map(|k| k.connector_name())
        .collect();
    Ok(names.into_iter().filter(|n| !claimed.contains(n)).collect())
}

/// The clusters whose KafkaConnectors claim connectors on `c`'s Kafka Connect, among `clusters`. `c`'s own
/// URL (the one it polls) stands in when `clusters` lacks it: a pass that missed the object must not shrink
/// the space and prune what another cluster at the URL claims.
fn claim_space<'a>(
    all: &ConnectClusters,
    c: &ConnectCluster,
    clusters: impl IntoIterator<Item = &'a KafkaConnectCluster>,
) -> ClaimSpace {
    let own = c.url();
    let default_url = all.get(&ClusterId::Default).map(|d| d.url());
    let known = clusters
        .into_iter()
        .map(|k| (ClusterId::of_cluster(k), k.spec.url.as_str()));
    ClaimSpace::of(
        &c.id,
        default_url.as_deref(),
        known.chain(std::iter::once((c.id.clone(), own.as_str()))),
    )
}

/// Every object of `K` in `namespaces`, one list per listed namespace (or one over all namespaces).
async fn list<K: Watchable>(kube: &kube::Client, namespaces: &Namespaces) -> kube::Result<Vec<K>> {
    let mut out = Vec::new();
    for api in namespaces.apis::<K>(kube) {
        out.extend(api.list(&ListParams::default()).await?.items);
    }
    Ok(out)
}
