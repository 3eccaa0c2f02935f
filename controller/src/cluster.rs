//! The KafkaConnectCluster reconciler: resolves the client settings (credentials and CA from Secrets and
//! ConfigMaps, read again whenever they change), keeps the cluster's handle and poller, and reports
//! reachability, version, commit, Kafka cluster id and plugins in status. Also pruning, when asked for.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use serde_json::json;
use shared::cluster::{referenced_config_maps, referenced_secrets, resolve};
use shared::crd::{KafkaConnectCluster, KafkaConnectClusterStatus, PluginStatus};

use crate::clusters::{ClusterHandle, ClusterKey, Seen, connector_name};
use crate::context::Ctx;
use crate::plan::{Ready, Truth, reason};
use crate::{Error, Result, status};

const KIND: &str = "KafkaConnectCluster";
pub const REASON_REACHABLE: &str = "Reachable";
pub const REASON_INVALID_SETTINGS: &str = "InvalidSettings";
pub const REASON_CONNECTING: &str = "Connecting";
/// Keeps a KafkaConnectCluster while KafkaConnectors use it.
pub const CLUSTER_FINALIZER: &str = "connectwarden.io/cluster-in-use";

pub async fn reconcile(obj: Arc<KafkaConnectCluster>, ctx: Arc<Ctx>) -> Result<Requeue> {
    let started = Instant::now();
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let r = tracing::Instrument::instrument(
        apply(&obj, &ctx),
        tracing::info_span!("reconcile_cluster", namespace = %ns, cluster = %name),
    )
    .await;
    ctx.metrics
        .reconciled(KIND, started.elapsed(), r.as_ref().err().map(Error::reason));
    r
}

pub fn error_policy(obj: Arc<KafkaConnectCluster>, err: &Error, ctx: Arc<Ctx>) -> Requeue {
    let delay = ctx.backoff(&format!(
        "cluster/{}/{}",
        obj.namespace().unwrap_or_default(),
        obj.name_any()
    ));
    tracing::warn!(cluster = %obj.name_any(), error = %err, retry_in = ?delay, "cluster reconcile failed");
    Requeue::requeue(delay)
}

async fn apply(c: &KafkaConnectCluster, ctx: &Arc<Ctx>) -> Result<Requeue> {
    let ns = c.namespace().unwrap_or_default();
    let key = ClusterKey::of_cluster(c);
    let label = key.label();

    // In-use protection: the cluster stays (deleting) while KafkaConnectors still use it, so deleting a
    // namespace with both still deletes the connectors from Connect first.
    let has_finalizer = c.finalizers().iter().any(|f| f == CLUSTER_FINALIZER);
    let mut requeue = ctx.settings.resync;
    if c.meta().deletion_timestamp.is_some() {
        if !has_finalizer {
            return Ok(Requeue::await_change());
        }
        if connectors_of(&ctx.connectors, &key).is_empty() {
            set_finalizer(c, ctx, false).await?;
            return Ok(Requeue::await_change());
        }
        requeue = std::time::Duration::from_secs(2);
    } else if !has_finalizer {
        set_finalizer(c, ctx, true).await?;
        return Ok(Requeue::await_change());
    }
    let secrets = fetch::<Secret>(ctx, &ns, referenced_secrets(&c.spec)).await?;
    let maps = fetch::<ConfigMap>(ctx, &ns, referenced_config_maps(&c.spec)).await?;
    let settings = resolve(
        &label,
        &c.spec,
        |n| secrets.get(n).cloned(),
        |n| maps.get(n).cloned(),
    );
    let handle = match settings.and_then(|s| ctx.registry.ensure(&key, s, ctx)) {
        Ok(h) => Some(h),
        Err(e) => {
            let was_broken = ctx.registry.broken(&key);
            let why = e.to_string();
            if was_broken.as_deref() != Some(why.as_str()) {
                tracing::warn!(cluster = %label, error = %why, "cannot set up the Kafka Connect client");
                ctx.registry.mark_broken(&key, why.clone());
                ctx.event(c, true, REASON_INVALID_SETTINGS, "Resolve", why)
                    .await;
                // Its connectors now say why they wait.
                for k in connectors_of(&ctx.connectors, &key) {
                    let _ = ctx.connector_tx.unbounded_send(k);
                }
            }
            None
        }
    };
    let managed = connectors_of(&ctx.connectors, &key).len();
    let new = cluster_status(c, handle.as_deref(), ctx.registry.broken(&key), managed);
    let prev_ready = c
        .status
        .as_ref()
        .and_then(|s| status::ready_of(&s.conditions))
        .map(|r| r.status.clone());
    let now_ready = status::ready_of(&new.conditions).map(|r| r.status.clone());
    let flipped = matches!(
        (prev_ready.as_deref(), now_ready.as_deref()),
        (Some("True"), Some("False")) | (Some("False"), Some("True"))
    );
    if flipped {
        let cond = status::ready_of(&new.conditions);
        let msg = cond.and_then(|r| r.message.clone()).unwrap_or_default();
        let up = now_ready.as_deref() == Some("True");
        ctx.event(
            c,
            !up,
            if up {
                REASON_REACHABLE
            } else {
                reason::CLUSTER_UNREACHABLE
            },
            "Poll",
            msg,
        )
        .await;
    }
    write_status(c, ctx, &new).await?;
    ctx.succeeded(&format!("cluster/{ns}/{}", c.name_any()));
    Ok(Requeue::requeue(requeue))
}

/// Adds or removes the in-use finalizer (the whole list, with the resourceVersion as precondition).
async fn set_finalizer(c: &KafkaConnectCluster, ctx: &Ctx, add: bool) -> Result<()> {
    let mut list: Vec<String> = c
        .finalizers()
        .iter()
        .filter(|f| *f != CLUSTER_FINALIZER)
        .cloned()
        .collect();
    if add {
        list.push(CLUSTER_FINALIZER.to_string());
    }
    let patch =
        json!({ "metadata": { "finalizers": list, "resourceVersion": c.resource_version() } });
    let api: Api<KafkaConnectCluster> =
        Api::namespaced(ctx.kube.clone(), &c.namespace().unwrap_or_default());
    let _permit = ctx.kube_writes.acquire().await;
    api.patch(
        &c.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    ctx.metrics
        .kube_write("kafkaconnectclusters", "patch_finalizer");
    Ok(())
}

async fn fetch<K>(ctx: &Ctx, ns: &str, names: Vec<String>) -> Result<HashMap<String, K>>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(ctx.kube.clone(), ns);
    let mut out = HashMap::new();
    for n in names {
        if let Some(obj) = api.get_opt(&n).await? {
            out.insert(n, obj);
        }
    }
    Ok(out)
}

fn connectors_of(
    store: &Store<shared::crd::KafkaConnector>,
    key: &ClusterKey,
) -> Vec<ObjectRef<shared::crd::KafkaConnector>> {
    store
        .state()
        .iter()
        .filter(|k| key.is_target_of(k))
        .map(|k| ObjectRef::from_obj(&**k))
        .collect()
}

/// `s` with the conditions of `prev`.
fn prev_with(
    mut s: KafkaConnectClusterStatus,
    prev: &KafkaConnectClusterStatus,
) -> KafkaConnectClusterStatus {
    s.conditions = prev.conditions.clone();
    s
}

/// The status from the cluster's latest poll, pure.
pub fn cluster_status(
    c: &KafkaConnectCluster,
    h: Option<&ClusterHandle>,
    broken: Option<String>,
    managed: usize,
) -> KafkaConnectClusterStatus {
    let prev = c.status.clone().unwrap_or_default();
    let generation = c.meta().generation;
    let mut s = prev.clone();
    s.observed_generation = generation;
    s.managed_connectors = Some(u32::try_from(managed).unwrap_or(u32::MAX));
    let ready = match (h, broken) {
        (_, Some(why)) => Ready::no(REASON_INVALID_SETTINGS, why),
        (None, None) => Ready {
            status: Truth::Unknown,
            reason: REASON_CONNECTING,
            message: "setting up the Kafka Connect client".into(),
        },
        (Some(h), None) => {
            let snap = h.snapshot();
            if let Some(info) = &snap.info {
                s.version = Some(info.version.clone());
                s.commit = info.commit.clone();
                s.kafka_cluster_id = info.kafka_cluster_id.clone();
            }
            if !snap.plugins.is_empty() {
                s.plugins = snap
                    .plugins
                    .iter()
                    .map(|p| PluginStatus {
                        class: p.class.clone(),
                        kind: p.kind.clone(),
                        version: p.version.clone(),
                    })
                    .collect();
            }
            match (&snap.connectors, snap.seq) {
                // Not polled yet (e.g. the controller just started): what status says still stands.
                (_, 0) if status::ready_of(&prev.conditions).is_some() => {
                    return prev_with(s, &prev);
                }
                (_, 0) => Ready {
                    status: Truth::Unknown,
                    reason: REASON_CONNECTING,
                    message: format!("connecting to {}", h.url()),
                },
                (Ok(_), _) => Ready::yes(
                    REASON_REACHABLE,
                    format!(
                        "Kafka Connect {} reachable at {}",
                        s.version.as_deref().unwrap_or("(version unknown)"),
                        h.url()
                    ),
                ),
                (Err(e), _) => Ready::no(e.reason, e.message.clone()),
            }
        }
    };
    let now = Utc::now();
    s.conditions = status::conditions(&prev.conditions, &ready, &ready.message, generation, now);
    s
}

async fn write_status(
    c: &KafkaConnectCluster,
    ctx: &Ctx,
    new: &KafkaConnectClusterStatus,
) -> Result<()> {
    let old = serde_json::to_value(&c.status)?;
    let Some(diff) = status::merge_patch(&old, &serde_json::to_value(new)?) else {
        return Ok(());
    };
    let api: Api<KafkaConnectCluster> =
        Api::namespaced(ctx.kube.clone(), &c.namespace().unwrap_or_default());
    let _permit = ctx.kube_writes.acquire().await;
    api.patch_status(
        &c.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&json!({ "status": diff })),
    )
    .await?;
    ctx.metrics
        .kube_write("kafkaconnectclusters", "patch_status");
    Ok(())
}

/// With `spec.prune: true`, deletes the connectors on the cluster that no KafkaConnector claims. Without it
/// (the default) such connectors are never touched.
pub async fn prune(ctx: &Ctx, h: &ClusterHandle, connectors: &BTreeMap<String, Seen>) {
    let Some(r) = h.key.object_ref() else { return };
    let Some(cluster) = ctx.clusters.get(&r) else {
        return;
    };
    if !cluster.spec.prune || connectors.is_empty() {
        return;
    }
    // Cheap first pass against the watch cache; the API server has the final word.
    let claimed: std::collections::HashSet<String> = ctx
        .connectors
        .state()
        .iter()
        .filter(|k| h.key.is_target_of(k))
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
    let unclaimed = match crate::clusters::unclaimed(ctx, h, candidates).await {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(cluster = %h.label, error = %e, "listing KafkaConnectors before pruning");
            return;
        }
    };
    for name in unclaimed {
        let _permit = h.writes.acquire().await;
        match h.client().delete(&name).await {
            Ok(()) | Err(shared::Error::NotFound { .. }) => {
                tracing::info!(cluster = %h.label, connector = %name, "pruned a connector no KafkaConnector claims");
                ctx.event(&*cluster, false, "Pruned", "Prune", format!("deleted connector {name:?}: no KafkaConnector claims it and spec.prune is true"))
                    .await;
            }
            Err(e) => {
                tracing::warn!(cluster = %h.label, connector = %name, error = %e, "pruning");
            }
        }
    }
}

/// Maps a changed Secret or ConfigMap to the clusters that reference it.
pub fn referencing(
    store: &Store<KafkaConnectCluster>,
    ns: &str,
    name: &str,
    config_map: bool,
) -> Vec<ObjectRef<KafkaConnectCluster>> {
    store
        .state()
        .iter()
        .filter(|c| c.namespace().as_deref() == Some(ns))
        .filter(|c| {
            let refs = if config_map {
                referenced_config_maps(&c.spec)
            } else {
                referenced_secrets(&c.spec)
            };
            refs.iter().any(|r| r == name)
        })
        .map(|c| ObjectRef::from_obj(&**c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_without_handle_says_why() {
        let c = KafkaConnectCluster::new(
            "main",
            serde_json::from_value(json!({"url": "http://c:8083"})).unwrap(),
        );
        let s = cluster_status(&c, None, Some("Secret creds not found".into()), 3);
        let r = status::ready_of(&s.conditions).unwrap();
        assert_eq!(r.status, "False");
        assert_eq!(r.reason.as_deref(), Some(REASON_INVALID_SETTINGS));
        assert_eq!(s.managed_connectors, Some(3));
        let s = cluster_status(&c, None, None, 0);
        assert_eq!(status::ready_of(&s.conditions).unwrap().status, "Unknown");
    }
}
