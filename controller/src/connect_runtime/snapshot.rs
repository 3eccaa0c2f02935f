//! The result of one poll of a Connect cluster, as the pollers write it and reconciles read it: each
//! connector's status and a digest of its config, the version and the plugins, or why the poll failed.

use std::collections::BTreeMap;

use serde::Deserialize;
use shared::connect::{ConnectorStatus, PluginInfo, ServerInfo};

use crate::conditions::Reason;
use crate::plan::config_digest;

/// Why a poll failed, as a condition reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PollError {
    pub reason: Reason,
    pub message: String,
}

impl PollError {
    pub(super) fn from_error(cluster: &str, e: &shared::Error) -> PollError {
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

/// One connector in a poll: its status and a digest of its config. Read straight from the poll's answer,
/// one entry at a time: each config is hashed and dropped as it is read, so thousands of connectors never
/// sit in memory as full configs (nor as a generic JSON tree).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub(crate) struct PolledConnector {
    #[serde(default)]
    pub status: Option<ConnectorStatus>,
    #[serde(default, rename = "info", deserialize_with = "info_digest")]
    pub config: Option<u64>,
}

/// `info` of an entry: only the digest of its `config` is kept.
fn info_digest<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    struct Info {
        #[serde(default)]
        config: BTreeMap<String, String>,
    }
    Ok(Option::<Info>::deserialize(d)?.map(|i| config_digest(&i.config)))
}

#[cfg(test)]
impl PolledConnector {
    pub(super) fn from(e: shared::connect::ExpandedConnector) -> PolledConnector {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poll_is_read_into_digests_as_the_full_answer_would_give() {
        let body = r#"{
            "a": {"status": {"name": "a", "connector": {"state": "RUNNING", "worker_id": "w:1"},
                             "tasks": [{"id": 0, "state": "FAILED", "worker_id": "w:1", "trace": "Boom"}],
                             "type": "sink"},
                  "info": {"name": "a", "config": {"topics": "t", "connector.class": "X", "password": "s"},
                           "tasks": [{"connector": "a", "task": 0}], "type": "sink"}},
            "b": {"status": {"name": "b", "connector": {"state": "STOPPED"}, "tasks": []}},
            "c": {}
        }"#;
        let typed: BTreeMap<String, PolledConnector> = serde_json::from_str(body).unwrap();
        let full: BTreeMap<String, shared::connect::ExpandedConnector> =
            serde_json::from_str(body).unwrap();
        let via_full: BTreeMap<String, PolledConnector> = full
            .into_iter()
            .map(|(k, v)| (k, PolledConnector::from(v)))
            .collect();
        assert_eq!(typed, via_full);
        assert!(typed["a"].config.is_some());
        assert_eq!(typed["b"].config, None);
        assert_eq!(
            typed["c"],
            PolledConnector {
                status: None,
                config: None
            }
        );
    }
}
