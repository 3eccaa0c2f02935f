//! One Connect cluster's runtime: its client, its latest poll, and the writes this controller made that
//! the next reconcile must see reflected (it waits for a poll that started after them).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kube::runtime::reflector::ObjectRef;
use parking_lot::{Mutex, RwLock};
use shared::connect::registry::ClientSlot;
use shared::connect::{ClientSettings, ConnectClient};
use shared::crd::{ConnectorState, KafkaConnector};
use shared::target::ClusterId;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;

use super::poller::Snapshot;
use crate::plan::Recent;

/// How long a created connector may stay unlisted (Connect lists it once its status is reported) before
/// it is created again.
const CREATE_GRACE: Duration = Duration::from_secs(30);
/// How long a pause/resume/stop is given to show before it is asked for again.
const STATE_GRACE: Duration = Duration::from_secs(30);

/// A write this controller made, so the next reconcile waits for a poll that can show it.
#[derive(Debug, Clone)]
struct Written {
    /// The first poll number that started after the write.
    need_seq: u64,
    at: Instant,
    created: bool,
    state: Option<ConnectorState>,
}

/// The latest poll as a reconcile may use it.
pub(crate) enum LatestPoll {
    /// No poll yet, or none since our last write: wait for the next one.
    Stale,
    Fresh {
        snapshot: Arc<Snapshot>,
        recent: Recent,
    },
}

pub(crate) struct ConnectCluster {
    pub id: ClusterId,
    pub label: String,
    client: ClientSlot,
    snapshot: RwLock<Arc<Snapshot>>,
    /// Number of the last poll started.
    pub(super) started: AtomicU64,
    pub(super) poke: Notify,
    pub(super) refresh_info: AtomicBool,
    waiting: Mutex<HashSet<ObjectRef<KafkaConnector>>>,
    written: Mutex<HashMap<String, Written>>,
    /// Bounds the writes in flight against this cluster.
    pub writes: Semaphore,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl ConnectCluster {
    pub(super) fn new(id: ClusterId, client: ClientSlot, max_writes: usize) -> ConnectCluster {
        ConnectCluster {
            label: id.label(),
            id,
            client,
            snapshot: RwLock::new(Arc::new(Snapshot::empty())),
            started: AtomicU64::new(0),
            poke: Notify::new(),
            refresh_info: AtomicBool::new(true),
            waiting: Mutex::new(HashSet::new()),
            written: Mutex::new(HashMap::new()),
            writes: Semaphore::new(max_writes),
            task: Mutex::new(None),
        }
    }

    pub fn client(&self) -> ConnectClient {
        self.client.client()
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.read().clone()
    }

    pub(super) fn set_snapshot(&self, s: Arc<Snapshot>) {
        *self.snapshot.write() = s;
    }

    pub fn url(&self) -> String {
        self.client.url()
    }

    /// Replaces the client when the settings changed, and reads version and plugins again soon.
    pub(super) fn use_settings(&self, settings: &ClientSettings) -> shared::Result<()> {
        if self.client.use_settings(settings)? {
            self.refresh_info.store(true, Ordering::SeqCst);
            self.poke.notify_one();
            tracing::info!(cluster = %self.label, "Kafka Connect client settings changed; using the new ones");
        }
        Ok(())
    }

    /// The latest poll for `name`, unless it is older than our last write to that connector.
    pub fn latest_poll(&self, name: &str) -> LatestPoll {
        let snapshot = self.snapshot();
        if snapshot.seq == 0 {
            return LatestPoll::Stale;
        }
        let mut written = self.written.lock();
        let Some(w) = written.get(name).cloned() else {
            return LatestPoll::Fresh {
                snapshot,
                recent: Recent::default(),
            };
        };
        if w.need_seq > snapshot.seq {
            return LatestPoll::Stale;
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
        LatestPoll::Fresh { snapshot, recent }
    }

    /// Asks for the reconcile of `obj` after the next poll.
    pub fn wake_after_poll(&self, obj: ObjectRef<KafkaConnector>) {
        self.waiting.lock().insert(obj);
    }

    /// The connectors waiting for a poll; empties the list.
    pub(super) fn take_waiting(&self) -> HashSet<ObjectRef<KafkaConnector>> {
        std::mem::take(&mut *self.waiting.lock())
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
        let mut written = self.written.lock();
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
        self.written.lock().remove(name);
    }

    pub(super) fn set_task(&self, task: JoinHandle<()>) {
        *self.task.lock() = Some(task);
    }

    pub(super) fn stop(&self) {
        if let Some(t) = self.task.lock().take() {
            t.abort();
        }
    }
}

impl Drop for ConnectCluster {
    fn drop(&mut self) {
        self.stop();
    }
}
