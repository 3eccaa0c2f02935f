//! The controller against the real kube-apiserver, kubectl and Kafka Connect: lifecycle,
//! finalizer, drift, unowned connectors, cluster status, an unreachable cluster, restarts, metrics and
//! leader election. Tests that stop Connect or run their own controllers use a private Connect worker and
//! private controllers in a namespace labelled `connectwarden.io/e2e-private=<id>`, which the shared
//! webhook and the shared controller (`--label-selector '!connectwarden.io/e2e-private'`) leave alone. One
//! file per subject below; the waits and the private set-up they share are here.

mod clusters;
mod lifecycle;
mod restarts;
mod without_webhook;

use std::collections::BTreeMap;
use std::time::Duration;

use connect_warden_e2e::connectors::*;
use connect_warden_e2e::objects::{cluster, file_sink, file_source};
use connect_warden_e2e::*;
use shared::connect::ConnectClient;
use shared::crd::ConnectorState;
use stack::warden::PRIVATE_LABEL;

/// Waits until Connect reports `state` for connector `name`.
async fn wait_connect_state(c: &shared::connect::ConnectClient, name: &str, state: &str) {
    eventually(&format!("{name} {state} on Connect"), T, || async {
        match c.get_status(name).await {
            Ok(s) if s.connector.state == state => Ok(()),
            Ok(s) => Err(s.connector.state),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
}

async fn wait_gone_from_connect(c: &shared::connect::ConnectClient, name: &str) {
    eventually(&format!("{name} deleted from Connect"), T, || async {
        match c.list().await {
            Ok(l) if !l.iter().any(|n| n == name) => Ok(()),
            Ok(_) => Err("still listed".into()),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
}

/// A namespace for a private controller, with the label it selects on.
pub(crate) fn private_setup(prefix: &str) -> (String, String) {
    let id = unique(prefix);
    let ns = namespace(prefix, &[(PRIVATE_LABEL, id.as_str())]);
    (ns, id)
}

/// The KafkaConnectCluster `main` for the main worker in a private namespace, labelled for its controller.
pub(crate) fn private_cluster(ns: &str, id: &str) {
    cluster(ns, "main", &kafka_env().connect_url)
        .label(PRIVATE_LABEL, id)
        .apply()
        .expect_ok();
}

pub(crate) fn private_controller(id: &str, extra: &[&str]) -> stack::warden::Controller {
    let selector = format!("{PRIVATE_LABEL}={id}");
    let mut args = vec![
        "--label-selector",
        selector.as_str(),
        "--poll-interval-seconds",
        "1",
    ];
    args.extend_from_slice(extra);
    start_controller("controller-private", &args)
}
