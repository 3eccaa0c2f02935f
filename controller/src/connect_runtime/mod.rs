//! The per-Kafka-Connect-cluster runtime: one client per cluster (rebuilt when its settings change) and
//! **one** poller that reads every connector of the cluster in one request each interval. The latest poll
//! feeds every connector of the cluster; a change in one connector's entry asks for the reconcile of just
//! that connector. Each poller is its own task, so a slow or unreachable cluster never delays another.
//! KafkaConnectCluster objects that reach the same Connect cluster with the same settings share one
//! endpoint: one client, one poller, one request per interval for all of them.
//!
//! Below the reconcilers: this folder imports none of them; it asks for reconciles through [`Watched`].

mod cluster;
mod lag;
mod poller;
mod prune;
mod reports;
mod snapshot;

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use shared::connect::ClientSettings;
use shared::connect::registry::ClientSlot;
use shared::target::ClusterId;

pub(crate) use cluster::{ConnectCluster, LatestPoll};
use cluster::{Endpoint, EndpointKey, endpoint_key};
pub(crate) use snapshot::{PollError, PolledConnector};

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
    /// Automatic restarts per second per cluster (0: not paced).
    pub restarts_per_second: u32,
    /// How often sink lag is measured.
    pub lag_interval: Duration,
    /// The window progress is judged over.
    pub progress_window: Duration,
}

/// Every Connect cluster in use, and the clusters whose settings cannot be resolved (with the `Ready`
/// condition that says why, which their connectors show too, and the client they had before, kept only to
/// delete connectors).
pub(crate) struct ConnectClusters {
    wiring: Wiring,
    running: RwLock<HashMap<ClusterId, Arc<ConnectCluster>>>,
    /// The endpoints in use, by sharing key; alive while a cluster (running or retired) holds them.
    endpoints: Mutex<HashMap<EndpointKey, Weak<Endpoint>>>,
    broken: RwLock<HashMap<ClusterId, Ready>>,
    retired: RwLock<HashMap<ClusterId, Arc<ConnectCluster>>>,
}

impl ConnectClusters {
    pub fn new(wiring: Wiring) -> Arc<ConnectClusters> {
        Arc::new(ConnectClusters {
            wiring,
            running: RwLock::default(),
            endpoints: Mutex::default(),
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
        if let Some(c) = self.detach(id) {
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

    /// The runtime of cluster `id` with these settings: joined to the endpoint of clusters with the same
    /// settings (started, with its poller, if there is none), moved to another endpoint when its settings
    /// changed (new credentials or CA).
    pub fn ensure(
        self: &Arc<Self>,
        id: &ClusterId,
        settings: ClientSettings,
    ) -> shared::Result<Arc<ConnectCluster>> {
        self.broken.write().remove(id);
        self.retired.write().remove(id);
        let key = endpoint_key(&settings);
        if let Some(c) = self.get(id) {
            if c.endpoint.key == key {
                c.endpoint.use_settings(&settings)?;
                self.ensure_polling(&c.endpoint);
                return Ok(c);
            }
            tracing::info!(cluster = %c.label, "Kafka Connect client settings changed; using the new ones");
            self.remove(id);
        }
        let endpoint = {
            let mut endpoints = self.endpoints.lock();
            endpoints.retain(|_, e| e.strong_count() > 0);
            match endpoints.get(&key).and_then(Weak::upgrade) {
                Some(e) => {
                    // Same URL and settings, hence the same client: as is.
                    e.use_settings(&settings)?;
                    e
                }
                None => {
                    let label = id.label();
                    let observer = self.wiring.metrics.observer(&label);
                    let client = ClientSlot::new(settings, Some(observer))?;
                    let e = Arc::new(Endpoint::new(
                        key,
                        label,
                        client,
                        self.wiring.max_writes_per_cluster,
                        self.wiring.restarts_per_second,
                    ));
                    endpoints.insert(key, Arc::downgrade(&e));
                    e
                }
            }
        };
        let c = Arc::new(ConnectCluster::new(id.clone(), endpoint.clone()));
        // In the map before the poller looks for its clusters.
        self.running.write().insert(id.clone(), c.clone());
        self.ensure_polling(&endpoint);
        Ok(c)
    }

    /// Starts the endpoint's poller unless one runs. The poller ends by itself once no running cluster
    /// uses the endpoint (see [`Self::members`]).
    fn ensure_polling(self: &Arc<Self>, e: &Arc<Endpoint>) {
        let mut poller = e.poller.lock();
        if poller.as_ref().is_none_or(|t| t.is_finished()) {
            // The poller holds a weak reference, so dropping the endpoint ends it.
            *poller = Some(tokio::spawn(poller::run(Arc::downgrade(e), self.clone())));
        }
        let mut lag = e.lag.task.lock();
        if lag.as_ref().is_none_or(|t| t.is_finished()) {
            *lag = Some(tokio::spawn(lag::run(Arc::downgrade(e), self.clone())));
        }
    }

    /// The running clusters that use endpoint `e`.
    fn members(&self, e: &Arc<Endpoint>) -> Vec<Arc<ConnectCluster>> {
        self.running
            .read()
            .values()
            .filter(|c| Arc::ptr_eq(&c.endpoint, e))
            .cloned()
            .collect()
    }

    /// Takes cluster `id` out of the running ones; stops its endpoint's poller when no other cluster uses
    /// it.
    fn detach(&self, id: &ClusterId) -> Option<Arc<ConnectCluster>> {
        let c = self.running.write().remove(id)?;
        let e = &c.endpoint;
        let mut poller = e.poller.lock();
        if self.members(e).is_empty() {
            if let Some(t) = poller.take() {
                t.abort();
            }
            if let Some(t) = e.lag.task.lock().take() {
                t.abort();
            }
        }
        drop(poller);
        Some(c)
    }

    pub fn remove(&self, id: &ClusterId) {
        self.detach(id);
    }

    /// Stops every poller (when leadership is lost or on shutdown).
    pub fn clear(&self) {
        let all: Vec<_> = self.running.write().drain().collect();
        for (_, c) in all {
            c.endpoint.stop();
        }
        self.broken.write().clear();
        self.retired.write().clear();
        self.endpoints.lock().clear();
    }
}
