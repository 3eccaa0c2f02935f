//! The Kafka Connect side of validation: one client per cluster (rebuilt when its settings change) and the
//! validate call with the webhook's deadline.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use shared::connect::{ClientSettings, ConnectClient};

use crate::decision::{ConnectCheck, ConnectOutcome};
use crate::lookup::ClusterId;

/// Connect clients by cluster. A client keeps its connections, so reusing it keeps validations fast.
pub struct Clients {
    deadline: Duration,
    clients: Mutex<HashMap<ClusterId, (ClientSettings, ConnectClient)>>,
}

impl Clients {
    pub fn new(deadline: Duration) -> Self {
        Clients {
            deadline,
            clients: Mutex::new(HashMap::new()),
        }
    }

    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// The client for `cluster` with `settings`; a new one when the settings (URL, credentials, CA) changed.
    pub fn get(
        &self,
        cluster: &ClusterId,
        settings: &ClientSettings,
    ) -> Result<ConnectClient, shared::Error> {
        let mut settings = settings.clone();
        // The cluster's own timeout may be long (30 s); admission must answer before the API server gives up.
        settings.timeout = settings.timeout.min(self.deadline);
        let mut clients = self.clients.lock();
        if let Some((s, c)) = clients.get(cluster)
            && *s == settings
        {
            return Ok(c.clone());
        }
        let client = ConnectClient::new(&settings)?;
        clients.insert(cluster.clone(), (settings, client.clone()));
        Ok(client)
    }
}

/// Runs the validate call for `check` within `deadline`. For an unknown class, also lists the installed
/// connector classes (for the denial's did-you-mean).
pub async fn validate(
    client: ConnectClient,
    check: &ConnectCheck,
    deadline: Duration,
) -> ConnectOutcome {
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
