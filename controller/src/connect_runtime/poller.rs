//! The poller of one Connect cluster: `GET /connectors?expand=status&expand=info` each interval (sooner,
//! debounced, after a write), version and plugins now and then, and a reconcile for each connector whose
//! entry changed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use kube::runtime::reflector::ObjectRef;
use shared::crd::KafkaConnector;
use shared::target::{ClusterId, connector_name};

use super::ConnectClusters;
use super::cluster::{ConnectCluster, Endpoint};
use super::snapshot::{PollError, PolledConnector, Snapshot};
use crate::conditions::Reason;

/// Version and plugins are read again this often (and whenever the cluster comes back).
const INFO_REFRESH: Duration = Duration::from_secs(600);
/// Pokes (after writes) are gathered for this long, so a burst of writes costs one extra poll.
const POKE_DEBOUNCE: Duration = Duration::from_millis(300);
/// Least time between two polls of one cluster.
const MIN_POLL_GAP: Duration = Duration::from_millis(1000);

/// What the cluster's status depends on; a change asks for the cluster's reconcile.
#[derive(Debug, Clone, PartialEq)]
struct ClusterDigest {
    up: Result<(), Reason>,
    version: Option<String>,
    plugins: usize,
    managed: usize,
}

/// Polls one endpoint for every cluster that uses it, until none does.
pub(super) async fn run(weak: Weak<Endpoint>, all: Arc<ConnectClusters>) {
    let w = &all.wiring;
    let mut last_info: Option<Instant> = None;
    let mut last_digest: HashMap<ClusterId, ClusterDigest> = HashMap::new();
    loop {
        let Some(e) = weak.upgrade() else { return };
        let began = Instant::now();
        let mut members = all.members(&e);
        members.retain(|c| {
            if matches!(c.id, ClusterId::Named { .. }) && w.watched.cluster(&c.id).is_none() {
                // The KafkaConnectCluster is gone (or no longer selected): stop polling for it.
                tracing::info!(cluster = %c.label, "KafkaConnectCluster gone; stopping its poller");
                w.metrics.forget_cluster(&c.label);
                all.remove(&c.id);
                trigger_connectors(&all, &c.id, None, &HashSet::new());
                false
            } else {
                true
            }
        });
        if members.is_empty() {
            // Checked again under the poller's lock, so a cluster joining now starts a new poller.
            let mut poller = e.poller.lock();
            if all.members(&e).is_empty() {
                poller.take();
                return;
            }
            continue;
        }
        last_digest.retain(|id, _| members.iter().any(|c| c.id == *id));
        poll_once(&e, &members, &all, &mut last_info, &mut last_digest).await;

        // Sleep until the interval is over or a write asks for an early look.
        let poked = tokio::select! {
            _ = tokio::time::sleep(w.poll_interval.saturating_sub(began.elapsed()).max(MIN_POLL_GAP)) => false,
            _ = e.poke.notified() => true,
        };
        drop((e, members));
        if poked {
            tokio::time::sleep(POKE_DEBOUNCE.max(MIN_POLL_GAP.saturating_sub(began.elapsed())))
                .await;
        }
    }
}

async fn poll_once(
    e: &Arc<Endpoint>,
    members: &[Arc<ConnectCluster>],
    all: &ConnectClusters,
    last_info: &mut Option<Instant>,
    last_digest: &mut HashMap<ClusterId, ClusterDigest>,
) {
    let seq = e.started.fetch_add(1, Ordering::SeqCst) + 1;
    let client = e.client();
    let result = client
        .list_expanded_as::<BTreeMap<String, PolledConnector>>()
        .await;
    let prev = e.snapshot();
    for c in members {
        all.wiring.metrics.poll(&c.label, result.is_ok());
    }

    let came_back = !prev.is_up() && result.is_ok();
    let refresh = e.refresh_info.swap(false, Ordering::SeqCst)
        || came_back
        || last_info.is_none_or(|t| t.elapsed() >= INFO_REFRESH);
    let (mut info, mut plugins) = (prev.info.clone(), prev.plugins.clone());
    if result.is_ok() && refresh {
        match tokio::try_join!(client.server_info(), client.plugins(false)) {
            Ok((i, mut p)) => {
                p.sort_by(|a, b| (&a.kind, &a.class).cmp(&(&b.kind, &b.class)));
                info = Some(i);
                plugins = p;
                *last_info = Some(Instant::now());
            }
            Err(err) => {
                e.refresh_info.store(true, Ordering::SeqCst);
                tracing::warn!(cluster = %e.label, error = %err, "reading Kafka Connect version and plugins");
            }
        }
    }
    let connectors = match result {
        Ok(map) => Ok(map),
        Err(err) => {
            if prev.is_up() || prev.seq == 0 {
                tracing::warn!(cluster = %e.label, error = %err, "Kafka Connect cluster unreachable");
            }
            Err(PollError::from_error(&e.label, &err))
        }
    };
    if came_back {
        tracing::info!(cluster = %e.label, "Kafka Connect cluster reachable again");
    }
    let snap = Arc::new(Snapshot {
        seq,
        connectors,
        info,
        plugins,
    });
    let changed = changed_names(&prev, &snap);
    drop(prev);
    e.set_snapshot(snap.clone());
    let waiting = e.take_waiting();
    // Everything counts as changed for a cluster polled here for the first time (it may have joined an
    // endpoint that was already polling): its connectors may have waited for it to run.
    let everything: Option<HashSet<String>> = None;
    for c in members {
        let first = !last_digest.contains_key(&c.id);
        let changed = if first { &everything } else { &changed };
        let managed = trigger_connectors(all, &c.id, Some(changed), &waiting);
        let digest = ClusterDigest {
            up: snap.connectors.as_ref().map(|_| ()).map_err(|e| e.reason),
            version: snap.info.as_ref().map(|i| i.version.clone()),
            plugins: snap.plugins.len(),
            managed,
        };
        if last_digest.get(&c.id) != Some(&digest) {
            last_digest.insert(c.id.clone(), digest);
            all.wiring.watched.reconcile_cluster(&c.id);
        }
    }
    if let Ok(map) = &snap.connectors {
        for c in members {
            super::prune::prune(all, c, map).await;
        }
    }
}

/// Names whose entry differs between two polls; `None` means all (reachability changed).
fn changed_names(prev: &Snapshot, next: &Snapshot) -> Option<HashSet<String>> {
    match (&prev.connectors, &next.connectors) {
        (Ok(a), Ok(b)) => {
            let mut out: HashSet<String> = a
                .iter()
                .filter(|(k, v)| b.get(*k) != Some(*v))
                .map(|(k, _)| k.clone())
                .collect();
            out.extend(
                b.iter()
                    .filter(|(k, _)| !a.contains_key(*k))
                    .map(|(k, _)| k.clone()),
            );
            Some(out)
        }
        (Err(a), Err(b)) if a.reason == b.reason => Some(HashSet::new()),
        _ => None,
    }
}

/// Asks for the reconcile of cluster `id`'s connectors whose entry changed (all when `changed` is `None`)
/// and of those waiting for a poll. Returns how many connectors target the cluster.
fn trigger_connectors(
    all: &ConnectClusters,
    id: &ClusterId,
    changed: Option<&Option<HashSet<String>>>,
    waiting: &HashSet<ObjectRef<KafkaConnector>>,
) -> usize {
    let watched = &all.wiring.watched;
    let mut managed = 0;
    for k in watched.connectors.state() {
        if !id.is_target_of(&k) {
            continue;
        }
        managed += 1;
        let hit = match changed {
            None | Some(None) => true,
            Some(Some(names)) => names.contains(connector_name(&k)),
        };
        if hit {
            watched.reconcile_connector(ObjectRef::from_obj(&*k));
        } else if !waiting.is_empty() {
            let r = ObjectRef::from_obj(&*k);
            if waiting.contains(&r) {
                watched.reconcile_connector(r);
            }
        }
    }
    managed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(seq: u64, entries: &[(&str, &str)]) -> Snapshot {
        let map = entries
            .iter()
            .map(|(n, state)| {
                (
                    n.to_string(),
                    PolledConnector::from(
                        serde_json::from_value::<shared::connect::ExpandedConnector>(
                            serde_json::json!({
                                "status": {"name": n, "connector": {"state": state}, "tasks": []}
                            }),
                        )
                        .unwrap(),
                    ),
                )
            })
            .collect();
        Snapshot {
            seq,
            connectors: Ok(map),
            info: None,
            plugins: vec![],
        }
    }

    #[test]
    fn only_changed_entries_are_named() {
        let a = snap(
            1,
            &[("x", "RUNNING"), ("y", "RUNNING"), ("gone", "RUNNING")],
        );
        let b = snap(2, &[("x", "RUNNING"), ("y", "PAUSED"), ("new", "RUNNING")]);
        let mut c: Vec<_> = changed_names(&a, &b).unwrap().into_iter().collect();
        c.sort();
        assert_eq!(c, vec!["gone", "new", "y"]);
        assert!(changed_names(&a, &a).unwrap().is_empty());
        let down = Snapshot::empty();
        assert!(changed_names(&a, &down).is_none());
        assert!(changed_names(&down, &a).is_none());
    }
}
