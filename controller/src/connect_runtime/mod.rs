//! The per-Kafka-Connect-cluster runtime: one client per cluster (rebuilt when its settings change) and
//! **one** poller that reads every connector of the cluster in one request each interval. The latest poll
//! feeds every connector of the cluster; a change in one connector's entry asks for the reconcile of just
//! that connector. Each poller is its own task, so a slow or unreachable cluster never delays another.
//!
//! Below the reconcilers: this folder imports none of them; it asks for reconciles through [`Watched`].

mod cluster;
mod poller;
mod prune;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use shared::connect::ClientSettings;
use shared::connect::registry::ClientSlot;
use shared::target::ClusterId;

pub(crate) use cluster::{ConnectCluster, LatestPoll};
pub(crate) use poller::{PollError, PolledConnector};

use crate::conditions::Ready;
use crate::kube_writes::KubeWrites;
use crate::metrics::Metrics;
use crate::watched::Watched;

/// What the pollers need from the rest of the controller.
pub(crate) struct Wiring {
    pub kube: kube::Client,
    pub watched: Watched,
    pub metrics: Arc<Metrics>,
    pub writes: Arc<KubeWrites>,
    pub poll_interval: Duration,
    /// Connect writes in flight per cluster.
    pub max_writes_per_cluster: usize,
}

/// Every Connect cluster in use, and the clusters whose settings cannot be resolved (with the `Ready`
/// condition that says why, which their connectors show too, and the client they had before, kept only to
/// delete connectors).
pub(crate) struct ConnectClusters {
    wiring: Wiring,
    running: RwLock<HashMap<ClusterId, Arc<ConnectCluster>>>,
    broken: RwLock<HashMap<ClusterId, Ready>>,
    retired: RwLock<HashMap<ClusterId, Arc<ConnectCluster>>>,
}

impl ConnectClusters {
    pub fn new(wiring: Wiring) -> Arc<ConnectClusters> {
        Arc::new(ConnectClusters {
            wiring,
            running: RwLock::default(),
            broken: RwLock::default(),
            retired: RwLock::default(),
        })
    }

    pub fn get(&self, id: &ClusterId) -> Option<Arc<ConnectCluster>> {
        self.running.read().get(id).cloned()
    }

    pub fn broken(&self, id: &ClusterId) -> Option<Ready> {
        self.broken.read().get(id).cloned()
    }

    /// The cluster's settings no longer resolve: its poller stops and its connectors show `why`. Its
    /// client is kept apart, for deletions only: deleting a namespace deletes the Secrets a
    /// KafkaConnectCluster reads together with the KafkaConnectors on it, in no set order, and those
    /// connectors must still be deleted from Connect.
    pub fn mark_broken(&self, id: &ClusterId, why: Ready) {
        let c = self.running.write().remove(id);
        if let Some(c) = c {
            c.stop();
            self.retired.write().insert(id.clone(), c);
        }
        self.broken.write().insert(id.clone(), why);
    }

    /// The client the cluster had before its settings stopped resolving (see [`Self::mark_broken`]).
    pub fn retired(&self, id: &ClusterId) -> Option<Arc<ConnectCluster>> {
        self.retired.read().get(id).cloned()
    }

    /// Forgets everything about a cluster that is gone: its client, retired client and broken reason.
    pub fn forget(&self, id: &ClusterId) {
        self.remove(id);
        self.retired.write().remove(id);
        self.broken.write().remove(id);
    }

    /// The runtime of cluster `id` with these settings: started (with its poller) if missing, its client
    /// replaced when the settings changed (new credentials or CA).
    pub fn ensure(
        self: &Arc<Self>,
        id: &ClusterId,
        settings: ClientSettings,
    ) -> shared::Result<Arc<ConnectCluster>> {
        self.broken.write().remove(id);
        self.retired.write().remove(id);
        if let Some(c) = self.get(id) {
            c.use_settings(&settings)?;
            return Ok(c);
        }
        let observer = self.wiring.metrics.observer(&id.label());
        let client = ClientSlot::new(settings, Some(observer))?;
        let c = Arc::new(ConnectCluster::new(
            id.clone(),
            client,
            self.wiring.max_writes_per_cluster,
        ));
        // The poller holds a weak reference, so removing the cluster from here ends it.
        c.set_task(tokio::spawn(poller::run(Arc::downgrade(&c), self.clone())));
        self.running.write().insert(id.clone(), c.clone());
        Ok(c)
    }

    pub fn remove(&self, id: &ClusterId) {
        let c = self.running.write().remove(id);
        if let Some(c) = c {
            c.stop();
        }
    }

    /// Stops every poller (when leadership is lost or on shutdown).
    pub fn clear(&self) {
        let all: Vec<_> = self.running.write().drain().collect();
        for (_, c) in all {
            c.stop();
        }
        self.broken.write().clear();
        self.retired.write().clear();
    }
}
