//! The server's [`Validator`]: Kafka Connect's validate call through one client per cluster (rebuilt when
//! its settings change), within the webhook's deadline, behind the validation cache, with metrics.

mod validation_cache;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use shared::connect::{ClientSettings, ConnectClient, registry};
use shared::target::ClusterId;

use crate::admission::{ConnectCheck, ConnectOutcome, Validator};
use crate::metrics::Metrics;
use validation_cache::ValidationCache;

/// Kafka Connect as the server reaches it.
pub struct LiveConnect {
    clients: Clients,
    cache: ValidationCache,
    metrics: Metrics,
}

impl LiveConnect {
    /// `deadline`: for one validation (keep it below the API server's webhook timeout); `cache_ttl`: how long
    /// an answer is reused.
    pub fn new(deadline: Duration, cache_ttl: Duration, metrics: Metrics) -> Self {
        LiveConnect {
            clients: Clients::new(deadline),
            cache: ValidationCache::new(cache_ttl),
            metrics,
        }
    }
}

impl Validator for LiveConnect {
    async fn validate(&self, check: &Arc<ConnectCheck>) -> Arc<ConnectOutcome> {
        let client = match self.clients.get(&check.cluster, &check.settings) {
            Ok(c) => c,
            Err(e) => return Arc::new(ConnectOutcome::from_error(&e, Vec::new())),
        };
        let deadline = self.clients.deadline;
        let metrics = self.metrics.clone();
        // Shared with the cache's call, which only runs on a miss: a hit copies nothing.
        let call_check = check.clone();
        let (outcome, result) = self
            .cache
            .get_or_call(check.cache_key(), check.name(), move || {
                async move {
                    let started = Instant::now();
                    let out = call(client, &call_check, deadline).await;
                    metrics
                        .connect_validate
                        .with_label_values(&[call_check.cluster.label().as_str(), out.label()])
                        .observe(started.elapsed().as_secs_f64());
                    out
                }
                .boxed()
            })
            .await;
        self.metrics
            .cache
            .with_label_values(&[result.as_str()])
            .inc();
        outcome
    }
}

/// Connect clients by cluster, with the admission deadline as their timeout.
struct Clients {
    deadline: Duration,
    clients: registry::Clients<ClusterId>,
}

impl Clients {
    fn new(deadline: Duration) -> Self {
        Clients {
            deadline,
            clients: registry::Clients::default(),
        }
    }

    fn get(
        &self,
        cluster: &ClusterId,
        settings: &ClientSettings,
    ) -> Result<ConnectClient, shared::Error> {
        let mut settings = settings.clone();
        // The cluster's own timeout may be long (30 s); admission must answer before the API server gives up.
        settings.timeout = settings.timeout.min(self.deadline);
        self.clients.get(cluster, &settings)
    }
}

/// Runs the validate call for `check` within `deadline`. For an unknown class, also lists the installed
/// connector classes (for the denial's did-you-mean).
async fn call(client: ConnectClient, check: &ConnectCheck, deadline: Duration) -> ConnectOutcome {
    let started = Instant::now();
    let timed_out = || ConnectOutcome::Unavailable {
        reason: "timeout",
        message: format!(
            "PUT /connector-plugins/{}/config/validate: no answer within {} ms",
            check.class,
            deadline.as_millis()
        ),
    };
    match tokio::time::timeout(deadline, client.validate(&check.class, &check.config)).await {
        Err(_) => timed_out(),
        Ok(Ok(v)) => ConnectOutcome::Validated(v),
        Ok(Err(e @ shared::Error::PluginNotFound { .. })) => {
            let left = deadline.saturating_sub(started.elapsed());
            let installed = match tokio::time::timeout(left, client.plugins(true)).await {
                Ok(Ok(p)) => {
                    let mut classes: Vec<String> = p
                        .into_iter()
                        .filter(|p| p.kind == "source" || p.kind == "sink")
                        .map(|p| p.class)
                        .collect();
                    classes.sort();
                    classes.dedup();
                    classes
                }
                _ => Vec::new(),
            };
            ConnectOutcome::from_error(&e, installed)
        }
        Ok(Err(e)) => ConnectOutcome::from_error(&e, Vec::new()),
    }
}
