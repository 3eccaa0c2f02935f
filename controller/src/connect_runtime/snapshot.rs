//! The result of one poll of a Connect cluster, as the pollers write it and reconciles read it: each
//! connector's status and a digest of its config (and a sink's group and topics, for lag), the version and
//! the plugins, or why the poll failed.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use shared::connect::{ConnectorStatus, PluginInfo, ServerInfo};
use shared::redact::keyed_hash;

use crate::conditions::Reason;

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

/// One connector in a poll: its status, a digest of its config, and for a sink what its lag is measured
/// on. Read straight from the poll's answer, one entry at a time: each config is hashed and dropped as it is
/// read, so thousands of connectors never sit in memory as full configs (nor as a generic JSON tree).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(from = "RawPolled")]
pub(crate) struct PolledConnector {
    pub status: Option<ConnectorStatus>,
    pub config: Option<u64>,
    pub sink: Option<Arc<SinkKeys>>,
}

/// What a sink connector's lag is measured on, from its config on Connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SinkKeys {
    /// Its consumer group: `consumer.override.group.id`, else Connect's `connect-<name>`.
    pub group: String,
    pub topics: Vec<String>,
    pub topics_regex: Option<String>,
    /// `errors.deadletterqueue.topic.name`, when set.
    pub dead_letter_topic: Option<String>,
}

impl SinkKeys {
    /// The keys of connector `name` when it is a sink (Connect's `type`, or, when absent, a topic setting).
    pub fn of(
        name: &str,
        kind: Option<&str>,
        config: &BTreeMap<String, String>,
    ) -> Option<SinkKeys> {
        let value = |k: &str| {
            config
                .get(k)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let topics: Vec<String> = value("topics")
            .map(|t| {
                t.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let topics_regex = value("topics.regex");
        let sink = match kind {
            Some(k) => k.eq_ignore_ascii_case("sink"),
            None => !topics.is_empty() || topics_regex.is_some(),
        };
        sink.then(|| SinkKeys {
            group: value("consumer.override.group.id").unwrap_or_else(|| format!("connect-{name}")),
            topics,
            topics_regex,
            dead_letter_topic: value("errors.deadletterqueue.topic.name"),
        })
    }
}

/// An entry as Connect writes it; the config lives only while it is read.
#[derive(Deserialize)]
struct RawPolled {
    #[serde(default)]
    status: Option<ConnectorStatus>,
    #[serde(default)]
    info: Option<RawInfo>,
}

#[derive(Deserialize)]
struct RawInfo {
    #[serde(default)]
    name: String,
    #[serde(default)]
    config: BTreeMap<String, String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

impl From<RawPolled> for PolledConnector {
    fn from(r: RawPolled) -> PolledConnector {
        let (config, sink) = match r.info {
            Some(i) => {
                let name = config_name(&i.name, &i.config, r.status.as_ref());
                let sink = SinkKeys::of(&name, i.kind.as_deref(), &i.config).map(Arc::new);
                (Some(keyed_hash(&i.config)), sink)
            }
            None => (None, None),
        };
        PolledConnector {
            status: r.status,
            config,
            sink,
        }
    }
}

/// The connector's name: from `info`, its config, or its status.
fn config_name(
    info: &str,
    config: &BTreeMap<String, String>,
    status: Option<&ConnectorStatus>,
) -> String {
    [
        Some(info),
        config.get("name").map(String::as_str),
        status.map(|s| s.name.as_str()),
    ]
    .into_iter()
    .flatten()
    .find(|n| !n.is_empty())
    .unwrap_or_default()
    .to_string()
}

#[cfg(test)]
impl PolledConnector {
    pub(super) fn from(e: shared::connect::ExpandedConnector) -> PolledConnector {
        let sink = e
            .info
            .as_ref()
            .and_then(|i| SinkKeys::of(&i.name, i.kind.as_deref(), &i.config).map(Arc::new));
        PolledConnector {
            status: e.status,
            config: e.info.map(|i| keyed_hash(&i.config)),
            sink,
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
        assert_eq!(typed["c"], PolledConnector::default());
        assert_eq!(
            typed["a"].sink.as_deref(),
            Some(&SinkKeys {
                group: "connect-a".into(),
                topics: vec!["t".into()],
                topics_regex: None,
                dead_letter_topic: None,
            })
        );
    }
}
