//! connect-warden's controller: the Kafka Connect connector lifecycle on any Connect cluster reachable
//! over REST. The lifecycle: watch → observe (the cluster's latest poll) → plan (pure) → act → status.
//!
//! Modules in one-way order; each imports only modules above it in this list, and the files inside a
//! folder module import each other without a cycle (`tests/module_order.rs` holds the order, the orders
//! inside folders and the pure modules, and fails on an import against them or I/O in a pure module):
//! - `error`;
//! - pure: `conditions` (the `Ready` vocabulary) → `restart` (restart policy) → `plan` (spec + observed
//!   Connect state → actions and `Ready`) → `offsets` (what an offsets request asks and needs, its outcome)
//!   → `contention` (when to stop fighting another writer) → `progress` (a sink's judgement over a window)
//!   → `status` (statuses and the minimal patches between them);
//! - edges: `metrics`, `events` (the event publisher), `kube_writes` (every Kubernetes write), `watched`
//!   (watch caches and reconcile queues), `retries`, `fingerprints` (keyed hashes of `configFrom` values),
//!   `policies` (over `shared`'s `PolicyWatch`: the sweep, policy status, the `PolicyViolation` condition),
//!   `kafka` (the Kafka admin-read client lag is measured with);
//! - `connect_runtime`: one client and **one** poller per Connect cluster, lag, pruning; imports no
//!   reconciler;
//! - `context` (what the reconcilers share) → `reconcile::{connector, cluster}` → `args`, `memory` → this
//!   file (wiring, leadership, and the health and metrics endpoints through `shared::runtime::admin`).
//!
//! With `--leader-election`, all of this runs only while this replica holds the Lease.

mod args;
mod conditions;
mod connect_runtime;
mod contention;
mod context;
mod error;
mod events;
mod fingerprints;
#[cfg(test)]
mod fixtures;
pub(crate) mod kafka;
mod kube_writes;
pub mod memory;
mod metrics;
mod offsets;
mod plan;
mod policies;
mod progress;
mod reconcile;
mod restart;
mod retries;
mod status;
mod watched;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{self, Controller};
use kube::runtime::events::Reporter;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use shared::config_from::SourceKind;
use shared::connect::ClientSettings;
use shared::crd::{KafkaConnectCluster, KafkaConnector};
use shared::runtime::admin::{self, AdminServer, Readiness, ReadyHandle};
use shared::target::ClusterId;
use shared::watch::{Namespaces, touched_in};
use tokio::sync::watch;

pub use args::Args;
pub use error::{Error, Result};

use crate::connect_runtime::{ConnectClusters, Wiring};
use crate::contention::LastSeen;
use crate::context::{Ctx, Settings};
use crate::events::Recorder;
use crate::fingerprints::Fingerprints;
use crate::kube_writes::KubeWrites;
use crate::metrics::Metrics;
use crate::reconcile::{cluster, connector};
use crate::restart::Policy;
use crate::retries::Retries;
use crate::watched::Watched;

/// The name events are reported under.
pub const CONTROLLER_NAME: &str = "connect-warden-controller";

/// Runs until SIGTERM/SIGINT: the metrics server, and the controllers (while leader, with leader election).
pub async fn run(args: Args) -> Result<()> {
    validate(&args)?;
    let kube = Client::try_default().await?;
    let metrics = Metrics::new(args.autoconnector_metrics)?;
    let (readiness, ready) = Readiness::handle("ready", "caches not synced yet");
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shared::runtime::signal::received().await;
        tracing::info!("shutting down: finishing the reconciles in progress");
        let _ = stop_tx.send(true);
    });

    let addr = args.metrics_addr();
    let server = AdminServer::bind(addr, admin::router(metrics.exposition(), readiness))
        .await
        .map_err(|source| Error::Io {
            what: format!("listening on {addr}"),
            source,
        })?;
    let server = tokio::spawn(server.serve(stopped(stop_rx.clone())));
    tracing::info!(
        metrics = %addr,
        label_selector = args.label_selector.as_deref().unwrap_or(""),
        namespaces = %args.watch_namespaces(),
        poll_interval_seconds = args.poll_interval_seconds,
        leader_election = args.leader_election,
        default_cluster = args.default_cluster_url().is_some(),
        "connect-warden controller starting"
    );

    let result = if args.leader_election {
        run_with_lease(&kube, &args, &metrics, &ready, stop_rx).await
    } else {
        metrics.set_leader(true);
        run_engine(kube, &args, metrics, ready, stop_rx).await
    };
    match server.await {
        Ok(r) => r.map_err(|source| Error::Io {
            what: "serving metrics".into(),
            source,
        })?,
        Err(e) => tracing::warn!(error = %e, "metrics server task"),
    }
    result
}

fn validate(args: &Args) -> Result<()> {
    if let Some(url) = args.default_cluster_url() {
        shared::connect::parse_base_url(&url)
            .map_err(|e| Error::Settings(format!("--default-cluster-url: {e}")))?;
    }
    if args.restart_backoff_base_seconds > args.restart_backoff_max_seconds {
        return Err(Error::Settings(
            "--restart-backoff-base-seconds must not exceed --restart-backoff-max-seconds".into(),
        ));
    }
    Ok(())
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Leader election on a Lease: the controllers run only while this replica holds it. A lost lease stops
/// them at once; a shutdown lets the reconciles in progress finish, then releases the lease so a standby
/// takes over without waiting for it to expire.
async fn run_with_lease(
    kube: &Client,
    args: &Args,
    metrics: &Arc<Metrics>,
    ready: &ReadyHandle,
    stop: watch::Receiver<bool>,
) -> Result<()> {
    let duration = args.lease_duration_seconds;
    let grace = (duration / 3).clamp(1, duration - 1);
    let identity = args.identity();
    let manager = kube_lease_manager::LeaseManagerBuilder::new(kube.clone(), &args.lease_name)
        .with_namespace(args.lease_namespace())
        .with_identity(&identity)
        .with_duration(duration)
        .with_grace(grace)
        .build()
        .await
        .map_err(|e| Error::Lease(e.to_string()))?;
    let (mut leader, task) = manager.watch().await;
    // A standby is healthy and ready: it is waiting, by design.
    ready.set(true);
    tracing::info!(%identity, lease = %args.lease_name, "waiting for the lease");
    loop {
        tokio::select! {
            r = leader.wait_for(|l| *l) => {
                if r.is_err() {
                    return Err(Error::Lease("the lease manager stopped".into()));
                }
            }
            _ = stopped(stop.clone()) => break,
        }
        tracing::info!(%identity, "became the leader");
        metrics.set_leader(true);
        ready.set(false);
        let (engine_stop_tx, engine_stop_rx) = watch::channel(false);
        let mut engine = Box::pin(run_engine(
            kube.clone(),
            args,
            metrics.clone(),
            ready.clone(),
            engine_stop_rx,
        ));
        let shutting_down = tokio::select! {
            r = &mut engine => {
                r?;
                false
            }
            _ = leader.wait_for(|l| !*l) => {
                tracing::warn!(%identity, "lost the lease; stopping at once");
                false
            }
            _ = stopped(stop.clone()) => {
                let _ = engine_stop_tx.send(true);
                engine.as_mut().await?;
                true
            }
        };
        drop(engine);
        metrics.set_leader(false);
        ready.set(true);
        if shutting_down {
            break;
        }
    }
    // Closing the channel makes the manager release the lease.
    drop(leader);
    match task.await {
        Ok(Ok(_)) => tracing::info!("released the lease"),
        Ok(Err(e)) => tracing::warn!(error = %e, "releasing the lease"),
        Err(e) => tracing::warn!(error = %e, "lease manager task"),
    }
    Ok(())
}

/// Stops every poller and helper task when the engine ends or is dropped (a lost lease).
struct EngineGuard {
    ctx: Arc<Ctx>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    ready: ReadyHandle,
}

impl Drop for EngineGuard {
    fn drop(&mut self) {
        self.ctx.connect.clear();
        for t in &self.tasks {
            t.abort();
        }
        self.ready.set(false);
    }
}

/// The two controllers (KafkaConnector, KafkaConnectCluster) and the pollers, until `stop`.
async fn run_engine(
    kube: Client,
    args: &Args,
    metrics: Arc<Metrics>,
    ready: ReadyHandle,
    stop: watch::Receiver<bool>,
) -> Result<()> {
    let wc = match args.label_selector.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => watcher::Config::default().labels(s),
        _ => watcher::Config::default(),
    };
    let synced = [
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    ];
    // Objects outside the watched namespaces never enter a cache, so nothing reconciles them.
    let namespaces = args.watch_namespaces();
    let (connector_store, connector_stream) =
        watched::<KafkaConnector>(&kube, &namespaces, wc.clone(), synced[0].clone());
    let (cluster_store, cluster_stream) =
        watched::<KafkaConnectCluster>(&kube, &namespaces, wc, synced[1].clone());
    let connectors = Controller::for_stream(connector_stream, connector_store)
        .with_config(controller::Config::default().debounce(Duration::from_millis(100)));
    let (connector_tx, connector_rx) = futures::channel::mpsc::unbounded();
    let (cluster_tx, cluster_rx) = futures::channel::mpsc::unbounded();
    // A cluster that appears, changes its spec or goes: its connectors are reconciled at once (objects may
    // be applied in any order).
    let cluster_stream = {
        let (clusters_now, connectors_now) = (cluster_store.clone(), connectors.store());
        let tx = connector_tx.clone();
        let mut changes = cluster::Changes::default();
        cluster_stream.inspect(move |e| {
            if let Ok(c) = e {
                let r = ObjectRef::from_obj(c);
                let now = clusters_now.get(&r);
                if changes.changed(r, now.as_deref()) {
                    let id = ClusterId::of_cluster(c);
                    for k in connectors_now.state().iter().filter(|k| id.is_target_of(k)) {
                        let _ = tx.unbounded_send(ObjectRef::from_obj(&**k));
                    }
                }
            }
        })
    };
    let clusters = Controller::for_stream(cluster_stream, cluster_store)
        .with_config(controller::Config::default().debounce(Duration::from_millis(500)));
    let recorder = Recorder::new(
        kube.clone(),
        Reporter {
            controller: CONTROLLER_NAME.into(),
            instance: Some(args.identity()),
        },
    );
    let settings = Settings {
        poll_interval: args.poll_interval(),
        resync: Duration::from_secs(args.resync_seconds),
        max_writes_per_cluster: usize::try_from(args.max_writes_per_cluster).unwrap_or(8),
        restart_defaults: Policy {
            enabled: true,
            max_restarts: None,
            base: Duration::from_secs(args.restart_backoff_base_seconds),
            max: Duration::from_secs(args.restart_backoff_max_seconds),
            stable: Duration::from_secs(args.restart_stable_seconds),
        },
        contention: args.contention_limits(),
    };
    let watched = Watched::new(
        connectors.store(),
        clusters.store(),
        connector_tx,
        cluster_tx,
        namespaces.clone(),
    );
    let writes = Arc::new(KubeWrites::new(kube.clone(), recorder, metrics.clone()));
    let connect = ConnectClusters::new(Wiring {
        kube: kube.clone(),
        watched: watched.clone(),
        metrics: metrics.clone(),
        writes: writes.clone(),
        poll_interval: settings.poll_interval,
        max_writes_per_cluster: settings.max_writes_per_cluster,
        restarts_per_second: args.max_restarts_per_second,
        lag_interval: Duration::from_secs(args.lag_interval_seconds),
        progress_window: Duration::from_secs(args.progress_window_seconds),
    });
    let (policies, policy_watches) = policies::Policies::start(
        &kube,
        watched.clone(),
        writes.clone(),
        args.writes_policy_status(),
    );
    let ctx = Arc::new(Ctx {
        kube: kube.clone(),
        settings,
        metrics: metrics.clone(),
        writes,
        connect,
        watched,
        retries: Retries::default(),
        fingerprints: Fingerprints::default(),
        contention_seen: LastSeen::default(),
        policies,
    });
    let mut guard = EngineGuard {
        ctx: ctx.clone(),
        tasks: policy_watches,
        ready: ready.clone(),
    };
    guard
        .tasks
        .push(tokio::spawn(policies::sweep_forever(ctx.policies.clone())));

    if let Some(url) = args.default_cluster_url() {
        let mut s = ClientSettings::new(url);
        s.timeout = Duration::from_secs(args.default_cluster_timeout_seconds);
        ctx.connect.ensure(&ClusterId::Default, s)?;
    }

    guard.tasks.push(tokio::spawn(collect_garbage(ctx.clone())));
    guard.tasks.push(tokio::spawn(async move {
        while !synced.iter().all(|s| s.load(Ordering::SeqCst)) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tracing::info!("caches synced; ready");
        ready.set(true);
    }));

    let (s1, s2) = (ctx.watched.clusters.clone(), ctx.watched.clusters.clone());
    let (w1, w2) = (ctx.watched.clone(), ctx.watched.clone());
    // Metadata-only watches: a changed Secret or ConfigMap (new credentials, a rotated CA, a rotated
    // `configFrom` value) re-resolves the clusters that use it and queues the connectors whose `configFrom`
    // references it, without caching any secret data here. One watch per kind serves both.
    let cluster_loop = clusters
        .watches_stream(
            touched_in::<PartialObjectMeta<Secret>>(&kube, &namespaces, watcher::Config::default()),
            move |s: PartialObjectMeta<Secret>| {
                let (ns, name) = (s.namespace().unwrap_or_default(), s.name_any());
                w1.reconcile_referencing(&ns, SourceKind::Secret, &name);
                cluster::referencing(&s1, &ns, &name, false)
            },
        )
        .watches_stream(
            touched_in::<PartialObjectMeta<ConfigMap>>(
                &kube,
                &namespaces,
                watcher::Config::default(),
            ),
            move |c: PartialObjectMeta<ConfigMap>| {
                let (ns, name) = (c.namespace().unwrap_or_default(), c.name_any());
                w2.reconcile_referencing(&ns, SourceKind::ConfigMap, &name);
                cluster::referencing(&s2, &ns, &name, true)
            },
        )
        .reconcile_on(cluster_rx)
        .graceful_shutdown_on(stopped(stop.clone()))
        .run(cluster::reconcile, cluster::error_policy, ctx.clone())
        .for_each(|r| async move { log_outcome("KafkaConnectCluster", r) });
    let connector_loop = connectors
        .reconcile_on(connector_rx)
        .graceful_shutdown_on(stopped(stop))
        .run(gated_reconcile, connector::error_policy, ctx.clone())
        .for_each(|r| async move { log_outcome("KafkaConnector", r) });
    tokio::join!(cluster_loop, connector_loop);
    drop(guard);
    Ok(())
}

/// A connector's reconcile, once its Connect cluster has a free reconcile slot. After thousands of
/// KafkaConnectors are applied at once, each waits here as a small future instead of a whole reconcile
/// (kilobytes each, which made the peak memory), and one cluster's backlog takes no other cluster's slots.
async fn gated_reconcile(
    obj: Arc<KafkaConnector>,
    ctx: Arc<Ctx>,
) -> Result<kube::runtime::controller::Action> {
    let cluster = ctx.connect.get(&ClusterId::of_connector(&obj));
    let _slot = match &cluster {
        Some(c) => Some(c.reconciles.acquire().await),
        None => None,
    };
    Box::pin(connector::reconcile(obj, ctx)).await
}

fn log_outcome<K, E1, E2>(
    kind: &str,
    r: std::result::Result<
        (kube::runtime::reflector::ObjectRef<K>, controller::Action),
        controller::Error<E1, E2>,
    >,
) where
    K: kube::Resource,
    E1: std::error::Error,
    E2: std::error::Error,
{
    match r {
        Ok(_) | Err(controller::Error::ReconcilerFailed(..)) => {}
        // Watch errors (RBAC, API server away) are retried by the watcher with backoff.
        Err(controller::Error::QueueError(e)) => {
            tracing::warn!(kind, error = %e, "watch failed; retrying")
        }
        Err(e) => tracing::debug!(kind, error = %e, "controller"),
    }
}

/// A watch of `K` in `namespaces` feeding a cache (without the bulky fields no decision reads: thousands of
/// connectors stay cheap). `synced` turns true once the initial list is in the cache.
fn watched<K>(
    kube: &Client,
    namespaces: &Namespaces,
    wc: watcher::Config,
    synced: Arc<AtomicBool>,
) -> (
    Store<K>,
    impl futures::Stream<Item = std::result::Result<K, watcher::Error>> + Send + 'static,
)
where
    K: kube::Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, stream) = shared::watch::reflect_in(kube, namespaces, wc);
    let stream = stream
        .inspect(move |e| {
            if matches!(e, Ok(watcher::Event::InitDone)) {
                synced.store(true, Ordering::SeqCst);
            }
        })
        .touched_objects();
    (reader, stream)
}

/// Removes metric series of connectors that left the cache (deleted without a finalizer run, or no longer
/// selected).
async fn collect_garbage(ctx: Arc<Ctx>) {
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    loop {
        tick.tick().await;
        memory::trim();
        for key in ctx.metrics.connectors.keys() {
            let r =
                kube::runtime::reflector::ObjectRef::<KafkaConnector>::new(&key.1).within(&key.0);
            if ctx.watched.connectors.get(&r).is_none() {
                ctx.fingerprints.forget(&format!("{}/{}", key.0, key.1));
                ctx.metrics.connectors.forget(&key);
            }
        }
    }
}
