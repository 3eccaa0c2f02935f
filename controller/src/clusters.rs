//! One handle per Kafka Connect cluster: its client, and **one** poller that runs
//! `GET /connectors?expand=status&expand=info` each interval (DESIGN §5). The latest poll (a snapshot) feeds
//! every connector of the cluster; a change in one connector's entry triggers the reconcile of just that
//! connector. Each poller is its own task, so a slow or unreachable cluster never delays another.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use kube::runtime::reflector::ObjectRef;
use shared::connect::{
    ClientSettings, ConnectClient, ConnectorStatus, ExpandedConnector, PluginInfo, ServerInfo,
};
use shared::crd::{ConnectorState, KafkaConnectCluster, KafkaConnector};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;

use crate::context::Ctx;
use crate::plan::{Ready, Recent, reason};

/// How long a created connector may stay unlisted (Connect lists it once its status is reported) before
/// it is created again.
const CREATE_GRACE: Duration = Duration::from_secs(30);
/// How long a pause/resume/stop is given to show before it is asked for again.
const STATE_GRACE: Duration = Duration::from_secs(30);
/// Version and plugins are read again this often (and whenever the cluster comes back).
const INFO_REFRESH: Duration = Duration::from_secs(600);
/// Pokes (after writes) are gathered for this long, so a burst of writes costs one extra poll.
const POKE_DEBOUNCE: Duration = Duration::from_millis(300);
/// Least time between two polls of one cluster.
const MIN_POLL_GAP: Duration = Duration::from_millis(1000);

/// Which cluster a connector targets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClusterKey {
    /// `--default-cluster-url`, for connectors without `clusterRef`.
    Default,
    Named {
        namespace: String,
        name: String,
    },
}

impl ClusterKey {
    pub fn of_connector(c: &KafkaConnector) -> ClusterKey {
        match c.cluster_key() {
            Some((namespace, name)) => ClusterKey::Named { namespace, name },
            None => ClusterKey::Default,
        }
    }

    pub fn of_cluster(c: &KafkaConnectCluster) -> ClusterKey {
        ClusterKey::Named {
            namespace: c.namespace().unwrap_or_default(),
            name: c.name_any(),
        }
    }

    /// `namespace/name`, or `default`: the metric label and the name in messages.
    pub fn label(&self) -> String {
        match self {
            ClusterKey::Default => "default".into(),
            ClusterKey::Named { namespace, name } => format!("{namespace}/{name}"),
        }
    }

    /// Whether connector `c` targets this cluster (without allocating: called for every connector often).
    pub fn is_target_of(&self, c: &KafkaConnector) -> bool {
        match (&c.spec.cluster_ref, self) {
            (None, ClusterKey::Default) => true,
            (Some(r), ClusterKey::Named { namespace, name }) => {
                r.name == *name
                    && r.namespace
                        .as_deref()
                        .or(c.metadata.namespace.as_deref())
                        .unwrap_or_default()
                        == namespace
            }
            _ => false,
        }
    }

    pub fn object_ref(&self) -> Option<ObjectRef<KafkaConnectCluster>> {
        match self {
            ClusterKey::Default => None,
            ClusterKey::Named { namespace, name } => Some(ObjectRef::new(name).within(namespace)),
        }
    }
}

/// `KafkaConnector::connector_name` without allocating.
pub fn connector_name(c: &KafkaConnector) -> &str {
    c.spec
        .name
        .as_deref()
        .filter(|n| !n.is_empty())
        .or(c.metadata.name.as_deref())
        .unwrap_or_default()
}

/// Why a poll failed, as a condition reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollError {
    pub reason: &'static str,
    pub message: String,
}

impl PollError {
    pub fn from_error(cluster: &str, e: &shared::Error) -> PollError {
        let reason = match e {
            shared::Error::Unauthorized { .. } => reason::UNAUTHORIZED,
            shared::Error::Rebalancing { .. } | shared::Error::Server { .. } => {
                reason::CONNECT_ERROR
            }
            _ => reason::CLUSTER_UNREACHABLE,
        };
        PollError {
            reason,
            message: format!("Kafka Connect cluster {cluster}: {e}"),
        }
    }
}

/// One connector in a poll: its status and a digest of its config.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub status: Option<ConnectorStatus>,
    pub config: Option<u64>,
}

impl Seen {
    fn from(e: ExpandedConnector) -> Seen {
        Seen {
            status: e.status,
            config: e.info.map(|i| crate::plan::config_digest(&i.config)),
        }
    }
}

/// The result of one poll.
#[derive(Debug)]
pub struct Snapshot {
    /// Number of the poll that produced it (0: none yet).
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub connectors: Result<BTreeMap<String, Seen>, PollError>,
    pub info: Option<ServerInfo>,
    pub plugins: Vec<PluginInfo>,
}

impl Snapshot {
    fn empty() -> Snapshot {
        Snapshot {
            seq: 0,
            at: Utc::now(),
            connectors: Err(PollError {
                reason: reason::CLUSTER_NOT_READY,
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

/// A write this controller made, so the next reconcile waits for a poll that can show it.
#[derive(Debug, Clone)]
struct Written {
    /// The first poll number that started after the write.
    need_seq: u64,
    at: Instant,
    created: bool,
    state: Option<ConnectorState>,
}

/// What a reconcile gets to see of one connector.
pub enum Observation {
    /// No poll yet, or none since our last write: wait for the next one.
    Wait,
    Fresh {
        snapshot: Arc<Snapshot>,
        recent: Recent,
    },
}

pub struct ClusterHandle {
    pub key: ClusterKey,
    pub label: String,
    settings: Mutex<ClientSettings>,
    client: RwLock<ConnectClient>,
    snapshot: RwLock<Arc<Snapshot>>,
    started: AtomicU64,
    poke: Notify,
    refresh_info: AtomicBool,
    waiting: Mutex<HashSet<ObjectRef<KafkaConnector>>>,
    written: Mutex<HashMap<String, Written>>,
    /// Bounds the writes in flight against this cluster.
    pub writes: Semaphore,
    task: Mutex<Option<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ClusterHandle {
    pub fn client(&self) -> ConnectClient {
        self.client
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn url(&self) -> String {
        lock(&self.settings).url.clone()
    }

    /// The latest poll for `name`, unless it is older than our last write to that connector.
    pub fn observe(&self, name: &str) -> Observation {
        let snapshot = self.snapshot();
        if snapshot.seq == 0 {
            return Observation::Wait;
        }
        let mut written = lock(&self.written);
        let Some(w) = written.get(name).cloned() else {
            return Observation::Fresh {
                snapshot,
                recent: Recent::default(),
            };
        };
        if w.need_seq > snapshot.seq {
            return Observation::Wait;
        }
        let present = matches!(&snapshot.connectors, Ok(m) if m.contains_key(name));
        let age = w.at.elapsed();
        let recent = Recent {
            created: w.created && !present && age < CREATE_GRACE,
            state_requested: w.state.filter(|_| age < STATE_GRACE),
        };
        if age >= CREATE_GRACE.max(STATE_GRACE) || (present && w.state.is_none()) {
            written.remove(name);
        }
        Observation::Fresh { snapshot, recent }
    }

    /// Asks for the reconcile of `obj` after the next poll.
    pub fn wake_after_poll(&self, obj: ObjectRef<KafkaConnector>) {
        lock(&self.waiting).insert(obj);
    }

    /// Records a write to connector `name`: its next reconcile waits for a poll started after it.
    pub fn note_write(
        &self,
        name: &str,
        obj: ObjectRef<KafkaConnector>,
        created: bool,
        state: Option<ConnectorState>,
    ) {
        let need_seq = self.started.load(Ordering::SeqCst) + 1;
        let mut written = lock(&self.written);
        let entry = written.entry(name.to_string()).or_insert(Written {
            need_seq,
            at: Instant::now(),
            created,
            state,
        });
        entry.need_seq = need_seq;
        entry.at = Instant::now();
        entry.created |= created;
        if state.is_some() {
            entry.state = state;
        }
        drop(written);
        self.wake_after_poll(obj);
        self.poke.notify_one();
    }

    /// Forgets a connector that is gone.
    pub fn forget(&self, name: &str) {
        lock(&self.written).remove(name);
    }

    fn stop(&self) {
        if let Some(t) = lock(&self.task).take() {
            t.abort();
        }
    }
}

impl Drop for ClusterHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// All cluster handles, and the clusters whose settings cannot be resolved (and the `Ready` condition that
/// says why, which their connectors show too).
#[derive(Default)]
pub struct Registry {
    handles: RwLock<HashMap<ClusterKey, Arc<ClusterHandle>>>,
    broken: RwLock<HashMap<ClusterKey, Ready>>,
}

impl Registry {
    pub fn get(&self, key: &ClusterKey) -> Option<Arc<ClusterHandle>> {
        self.handles
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    pub fn broken(&self, key: &ClusterKey) -> Option<Ready> {
        self.broken
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    pub fn mark_broken(&self, key: &ClusterKey, why: Ready) {
        self.remove(key);
        self.broken
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone(), why);
    }

    /// The handle for `key` with these settings: created (with its poller) if missing, its client replaced
    /// when the settings changed (new credentials or CA).
    pub fn ensure(
        &self,
        key: &ClusterKey,
        settings: ClientSettings,
        ctx: &Arc<Ctx>,
    ) -> shared::Result<Arc<ClusterHandle>> {
        self.broken
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        let label = key.label();
        if let Some(h) = self.get(key) {
            let mut current = lock(&h.settings);
            if *current != settings {
                let client =
                    ConnectClient::new(&settings)?.with_observer(ctx.metrics.observer(&label));
                *h.client.write().unwrap_or_else(|e| e.into_inner()) = client;
                *current = settings;
                h.refresh_info.store(true, Ordering::SeqCst);
                h.poke.notify_one();
                tracing::info!(cluster = %label, "Kafka Connect client settings changed; using the new ones");
            }
            return Ok(h.clone());
        }
        let client = ConnectClient::new(&settings)?.with_observer(ctx.metrics.observer(&label));
        let h = Arc::new(ClusterHandle {
            key: key.clone(),
            label,
            settings: Mutex::new(settings),
            client: RwLock::new(client),
            snapshot: RwLock::new(Arc::new(Snapshot::empty())),
            started: AtomicU64::new(0),
            poke: Notify::new(),
            refresh_info: AtomicBool::new(true),
            waiting: Mutex::new(HashSet::new()),
            written: Mutex::new(HashMap::new()),
            writes: Semaphore::new(ctx.settings.max_writes_per_cluster),
            task: Mutex::new(None),
        });
        // The poller holds a weak reference, so removing the handle from the registry ends it.
        let task = tokio::spawn(poll_loop(Arc::downgrade(&h), ctx.clone()));
        *lock(&h.task) = Some(task);
        self.handles
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone(), h.clone());
        Ok(h)
    }

    pub fn remove(&self, key: &ClusterKey) {
        let h = self
            .handles
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        if let Some(h) = h {
            h.stop();
        }
    }

    /// Stops every poller (when leadership is lost or on shutdown).
    pub fn clear(&self) {
        let all: Vec<_> = self
            .handles
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        for (_, h) in all {
            h.stop();
        }
        self.broken
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// What the cluster's status depends on; a change triggers the cluster's reconcile.
#[derive(Debug, Clone, PartialEq)]
struct ClusterDigest {
    up: Result<(), &'static str>,
    version: Option<String>,
    plugins: usize,
    managed: usize,
}

async fn poll_loop(weak: std::sync::Weak<ClusterHandle>, ctx: Arc<Ctx>) {
    let mut last_info: Option<Instant> = None;
    let mut last_digest: Option<ClusterDigest> = None;
    loop {
        let Some(h) = weak.upgrade() else { return };
        let began = Instant::now();
        if let ClusterKey::Named { .. } = &h.key
            && let Some(r) = h.key.object_ref()
            && ctx.clusters.get(&r).is_none()
        {
            // The KafkaConnectCluster is gone (or no longer selected): stop polling it.
            tracing::info!(cluster = %h.label, "KafkaConnectCluster gone; stopping its poller");
            ctx.metrics.forget_cluster(&h.label);
            ctx.registry.remove(&h.key);
            trigger_connectors(&ctx, &h, None);
            return;
        }
        poll_once(&h, &ctx, &mut last_info, &mut last_digest).await;

        // Sleep until the interval is over or a write asks for an early look.
        let interval = ctx.settings.poll_interval;
        let poked = tokio::select! {
            _ = tokio::time::sleep(interval.saturating_sub(began.elapsed()).max(MIN_POLL_GAP)) => false,
            _ = h.poke.notified() => true,
        };
        drop(h);
        if poked {
            tokio::time::sleep(POKE_DEBOUNCE.max(MIN_POLL_GAP.saturating_sub(began.elapsed())))
                .await;
        }
    }
}

async fn poll_once(
    h: &Arc<ClusterHandle>,
    ctx: &Arc<Ctx>,
    last_info: &mut Option<Instant>,
    last_digest: &mut Option<ClusterDigest>,
) {
    let seq = h.started.fetch_add(1, Ordering::SeqCst) + 1;
    let client = h.client();
    let result = client.list_expanded().await;
    let prev = h.snapshot();
    ctx.metrics.poll(&h.label, result.is_ok());

    let came_back = !prev.is_up() && result.is_ok();
    let refresh = h.refresh_info.swap(false, Ordering::SeqCst)
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
                h.refresh_info.store(true, Ordering::SeqCst);
                tracing::warn!(cluster = %h.label, error = %e, "reading Kafka Connect version and plugins");
            }
        }
    }
    let connectors = match result {
        Ok(map) => Ok(map.into_iter().map(|(k, v)| (k, Seen::from(v))).collect()),
        Err(e) => {
            if prev.is_up() || prev.seq == 0 {
                tracing::warn!(cluster = %h.label, error = %e, "Kafka Connect cluster unreachable");
            }
            Err(PollError::from_error(&h.label, &e))
        }
    };
    if came_back {
        tracing::info!(cluster = %h.label, "Kafka Connect cluster reachable again");
    }
    let snap = Arc::new(Snapshot {
        seq,
        at: Utc::now(),
        connectors,
        info,
        plugins,
    });
    let changed = changed_names(&prev, &snap);
    *h.snapshot.write().unwrap_or_else(|e| e.into_inner()) = snap.clone();
    let managed = trigger_connectors(ctx, h, Some(&changed));

    let digest = ClusterDigest {
        up: snap.connectors.as_ref().map(|_| ()).map_err(|e| e.reason),
        version: snap.info.as_ref().map(|i| i.version.clone()),
        plugins: snap.plugins.len(),
        managed,
    };
    if last_digest.as_ref() != Some(&digest) {
        *last_digest = Some(digest);
        if let Some(r) = h.key.object_ref() {
            let _ = ctx.cluster_tx.unbounded_send(r);
        }
    }
    if let Ok(map) = &snap.connectors {
        crate::cluster::prune(ctx, h, map).await;
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

/// Triggers the reconcile of this cluster's connectors whose entry changed (all when `changed` is `None`)
/// and of those waiting for a poll. Returns how many connectors target the cluster.
fn trigger_connectors(
    ctx: &Ctx,
    h: &ClusterHandle,
    changed: Option<&Option<HashSet<String>>>,
) -> usize {
    let waiting: HashSet<_> = std::mem::take(&mut *lock(&h.waiting));
    let mut managed = 0;
    for c in ctx.connectors.state() {
        if !h.key.is_target_of(&c) {
            continue;
        }
        managed += 1;
        let r = ObjectRef::from_obj(&*c);
        let hit = match changed {
            None | Some(None) => true,
            Some(Some(names)) => names.contains(connector_name(&c)),
        };
        if hit || waiting.contains(&r) {
            let _ = ctx.connector_tx.unbounded_send(r);
        }
    }
    managed
}

/// Connectors on the cluster no KafkaConnector claims, according to the API server: all namespaces, no
/// label selector (another controller instance may own them), and through any KafkaConnectCluster (or the
/// default cluster) with the same URL, since several objects may name one Connect cluster.
pub async fn unclaimed(
    ctx: &Ctx,
    h: &ClusterHandle,
    names: Vec<String>,
) -> kube::Result<Vec<String>> {
    let same = |url: &str| {
        shared::connect::parse_base_url(url)
            .ok()
            .map(|u| u.to_string())
    };
    let mine = same(&h.url());
    let mut aliases: HashSet<ClusterKey> = Api::<KafkaConnectCluster>::all(ctx.kube.clone())
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .filter(|c| same(&c.spec.url) == mine)
        .map(ClusterKey::of_cluster)
        .collect();
    aliases.insert(h.key.clone());
    if let Some(d) = ctx.registry.get(&ClusterKey::Default)
        && same(&d.url()) == mine
    {
        aliases.insert(ClusterKey::Default);
    }
    let claimed: HashSet<String> = Api::<KafkaConnector>::all(ctx.kube.clone())
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .filter(|c| aliases.iter().any(|k| k.is_target_of(c)))
        .map(|c| c.connector_name())
        .collect();
    Ok(names.into_iter().filter(|n| !claimed.contains(n)).collect())
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
                    Seen::from(
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
            at: Utc::now(),
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

    #[test]
    fn keys_and_labels() {
        let k = ClusterKey::Named {
            namespace: "kafka".into(),
            name: "main".into(),
        };
        assert_eq!(k.label(), "kafka/main");
        assert_eq!(ClusterKey::Default.label(), "default");
        assert!(ClusterKey::Default.object_ref().is_none());
    }
}
