//! The poller of one Connect cluster: `GET /connectors?expand=status&expand=info` each interval (sooner,
//! debounced, after a write), version and plugins now and then, and a reconcile for each connector whose
//! entry changed.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use kube::runtime::reflector::ObjectRef;
use shared::connect::{ConnectorStatus, ExpandedConnector, PluginInfo, ServerInfo};
use shared::target::connector_name;

use super::{ConnectCluster, ConnectClusters};
use crate::conditions::Reason;
use crate::plan::config_digest;

/// Version and plugins are read again this often (and whenever the cluster comes back).
const INFO_REFRESH: Duration = Duration::from_secs(600);
/// Pokes (after writes) are gathered for this long, so a burst of writes costs one extra poll.
const POKE_DEBOUNCE: Duration = Duration::from_millis(300);
/// Least time between two polls of one cluster.
const MIN_POLL_GAP: Duration = Duration::from_millis(1000);

/// Why a poll failed, as a condition reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PollError {
    pub reason: Reason,
    pub message: String,
}

impl PollError {
    fn from_error(cluster: &str, e: &shared::Error) -> PollError {
        let reason = match e {
            shared::Error::Unauthorized { .. } => Reason::Unauthorized,
            shared::Error::Rebalancing { .. } | shared::Error::Server { .. } => {
                Reason::ConnectError
            }
            _ => Reason::ClusterUnreachable,
        };
        PollError {
            reason,
            message: format!("Kafka Connect cluster {cluster}: {e}"),
        }
    }
}

/// One connector in a poll: its status and a digest of its config.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PolledConnector {
    pub status: Option<ConnectorStatus>,
    pub config: Option<u64>,
}

impl PolledConnector {
    fn from(e: ExpandedConnector) -> PolledConnector {
        PolledConnector {
            status: e.status,
            config: e.info.map(|i| config_digest(&i.config)),
        }
    }
}

/// The result of one poll.
#[derive(Debug)]
pub(crate) struct Snapshot {
    /// Number of the poll that produced it (0: none yet).
    pub seq: u64,
    pub connectors: Result<BTreeMap<String, PolledConnector>, PollError>,
    pub info: Option<ServerInfo>,
    pub plugins: Vec<PluginInfo>,
}

impl Snapshot {
    pub(super) fn empty() -> Snapshot {
        Snapshot {
            seq: 0,
            connectors: Err(PollError {
                reason: Reason::ClusterNotReady,
                message: "not polled yet".into(),
            }),
            info: None,
            plugins: Vec::new(),
        }
    }

    pub fn is_up(&self) -> bool {
        self.connectors.is_ok()
    }
}

/// What the cluster's status depends on; a change asks for the cluster's reconcile.
#[derive(Debug, Clone, PartialEq)]
struct ClusterDigest {
    up: Result<(), Reason>,
    version: Option<String>,
    plugins: usize,
    managed: usize,
}

pub(super) async fn run(weak: Weak<ConnectCluster>, all: Arc<ConnectClusters>) {
    let w = &all.wiring;
    let mut last_info: Option<Instant> = None;
    let mut last_digest: Option<ClusterDigest> = None;
    loop {
        let Some(c) = weak.upgrade() else { return };
        let began = Instant::now();
        if matches!(c.id, shared::target::ClusterId::Named { .. })
            && w.watched.cluster(&c.id).is_none()
        {
            // The KafkaConnectCluster is gone (or no longer selected): stop polling it.
            tracing::info!(cluster = %c.label, "KafkaConnectCluster gone; stopping its poller");
            w.metrics.forget_cluster(&c.label);
            all.remove(&c.id);
            trigger_connectors(&all, &c, None);
            return;
        }
        poll_once(&c, &all, &mut last_info, &mut last_digest).await;

        // Sleep until the interval is over or a write asks for an early look.
        let poked = tokio::select! {
            _ = tokio::time::sleep(w.poll_interval.saturating_sub(began.elapsed()).max(MIN_POLL_GAP)) => false,
            _ = c.poke.notified() => true,
        };
        drop(c);
        if poked {
            tokio::time::sleep(POKE_DEBOUNCE.max(MIN_POLL_GAP.saturating_sub(began.elapsed())))
                .await;
        }
    }
}

async fn poll_once(
    c: &Arc<ConnectCluster>,
    all: &ConnectClusters,
    last_info: &mut Option<Instant>,
    last_digest: &mut Option<ClusterDigest>,
) {
    let seq = c.started.fetch_add(1, Ordering::SeqCst) + 1;
    let client = c.client();
    let result = client.list_expanded().await;
    let prev = c.snapshot();
    all.wiring.metrics.poll(&c.label, result.is_ok());

    let came_back = !prev.is_up() && result.is_ok();
    let refresh = c.refresh_info.swap(false, Ordering::SeqCst)
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
            Err(e) => {
                c.refresh_info.store(true, Ordering::SeqCst);
                tracing::warn!(cluster = %c.label, error = %e, "reading Kafka Connect version and plugins");
            }
        }
    }
    let connectors = match result {
        Ok(map) => Ok(map
            .into_iter()
            .map(|(k, v)| (k, PolledConnector::from(v)))
            .collect()),
        Err(e) => {
            if prev.is_up() || prev.seq == 0 {
                tracing::warn!(cluster = %c.label, error = %e, "Kafka Connect cluster unreachable");
            }
            Err(PollError::from_error(&c.label, &e))
        }
    };
    if came_back {
        tracing::info!(cluster = %c.label, "Kafka Connect cluster reachable again");
    }
    let snap = Arc::new(Snapshot {
        seq,
        connectors,
        info,
        plugins,
    });
    let changed = changed_names(&prev, &snap);
    c.set_snapshot(snap.clone());
    let managed = trigger_connectors(all, c, Some(&changed));

    let digest = ClusterDigest {
        up: snap.connectors.as_ref().map(|_| ()).map_err(|e| e.reason),
        version: snap.info.as_ref().map(|i| i.version.clone()),
        plugins: snap.plugins.len(),
        managed,
    };
    if last_digest.as_ref() != Some(&digest) {
        *last_digest = Some(digest);
        all.wiring.watched.reconcile_cluster(&c.id);
    }
    if let Ok(map) = &snap.connectors {
        super::prune::prune(all, c, map).await;
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

/// Asks for the reconcile of this cluster's connectors whose entry changed (all when `changed` is `None`)
/// and of those waiting for a poll. Returns how many connectors target the cluster.
fn trigger_connectors(
    all: &ConnectClusters,
    c: &ConnectCluster,
    changed: Option<&Option<HashSet<String>>>,
) -> usize {
    let waiting = c.take_waiting();
    let watched = &all.wiring.watched;
    let mut managed = 0;
    for k in watched.connectors.state() {
        if !c.id.is_target_of(&k) {
            continue;
        }
        managed += 1;
        let r = ObjectRef::from_obj(&*k);
        let hit = match changed {
            None | Some(None) => true,
            Some(Some(names)) => names.contains(connector_name(&k)),
        };
        if hit || waiting.contains(&r) {
            watched.reconcile_connector(r);
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
                        serde_json::from_value::<ExpandedConnector>(serde_json::json!({
                            "status": {"name": n, "connector": {"state": state}, "tasks": []}
                        }))
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
