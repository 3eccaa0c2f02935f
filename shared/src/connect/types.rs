//! Kafka Connect REST payloads, tolerant of version differences: `order` vs `order_in_group`,
//! missing `trace` and `version`, unknown fields ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `GET /`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ServerInfo {
    pub version: String,
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub kafka_cluster_id: Option<String>,
}

impl ServerInfo {
    /// (major, minor) of the Connect version, e.g. `3.9.1` → (3, 9). Unknown forms give (0, 0).
    pub fn major_minor(&self) -> (u32, u32) {
        parse_major_minor(&self.version)
    }
}

pub fn parse_major_minor(version: &str) -> (u32, u32) {
    let mut parts = version.split(|c: char| !c.is_ascii_digit());
    let major = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor)
}

/// The Apache Kafka (major, minor) of a Connect version. Confluent Platform reports its own numbers
/// (`7.6.0-ccs` is Apache Kafka 3.6, `8.0.0-ce` is 4.0).
pub fn apache_version(version: &str) -> (u32, u32) {
    let (major, minor) = parse_major_minor(version);
    let confluent = version.contains("-ccs") || version.contains("-ce");
    match (confluent, major) {
        (true, 5) => (2, minor),
        (true, 6) => (2, minor + 6),
        (true, 7) => (3, minor),
        (true, 8) => (4, minor),
        _ => (major, minor),
    }
}

/// `GET /health` (3.9+).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Health {
    pub status: String,
    #[serde(default)]
    pub message: Option<String>,
}

/// One entry of `GET /connector-plugins`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct PluginInfo {
    pub class: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub version: Option<String>,
}

/// `PUT /connector-plugins/{class}/config/validate`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ValidateResponse {
    pub name: String,
    pub error_count: u32,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub configs: Vec<ConfigInfo>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ConfigInfo {
    pub definition: ConfigDefinition,
    pub value: ConfigValue,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ConfigDefinition {
    pub name: String,
    /// STRING, INT, PASSWORD, LIST, CLASS, …
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub default_value: Option<String>,
    #[serde(default)]
    pub importance: Option<String>,
    #[serde(default)]
    pub documentation: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    /// `order` before Kafka 4.2, `order_in_group` since.
    #[serde(default, alias = "order_in_group")]
    pub order: Option<i32>,
    #[serde(default)]
    pub width: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub dependents: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ConfigValue {
    pub name: String,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub recommended_values: Vec<String>,
    #[serde(default)]
    pub errors: Vec<String>,
    #[serde(default = "yes")]
    pub visible: bool,
}

fn yes() -> bool {
    true
}

impl ValidateResponse {
    /// `(key, error)` for every error Connect reported, in Connect's order.
    pub fn errors(&self) -> Vec<(String, String)> {
        self.configs
            .iter()
            .flat_map(|c| {
                c.value
                    .errors
                    .iter()
                    .map(|e| (c.value.name.clone(), e.clone()))
            })
            .collect()
    }

    /// Keys the connector defines.
    pub fn defined_keys(&self) -> impl Iterator<Item = &str> {
        self.configs.iter().map(|c| c.definition.name.as_str())
    }

    /// Keys of type PASSWORD.
    pub fn password_keys(&self) -> std::collections::BTreeSet<String> {
        self.configs
            .iter()
            .filter(|c| c.definition.kind.eq_ignore_ascii_case("PASSWORD"))
            .map(|c| c.definition.name.clone())
            .collect()
    }
}

/// `POST /connectors` body.
#[derive(Debug, Clone, Serialize)]
pub struct CreateConnector<'a> {
    pub name: &'a str,
    pub config: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_state: Option<InitialState>,
}

/// `initial_state` of a new connector (Connect 3.7+).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum InitialState {
    Running,
    Paused,
    Stopped,
}

/// `GET /connectors/{name}`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ConnectorInfo {
    pub name: String,
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    #[serde(default)]
    pub tasks: Vec<TaskId>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct TaskId {
    pub connector: String,
    pub task: i32,
}

/// `GET /connectors/{name}/status`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ConnectorStatus {
    pub name: String,
    pub connector: ReportedConnectorState,
    #[serde(default)]
    pub tasks: Vec<TaskState>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// The connector's own state as Connect reports it (the wanted state is `crd::ConnectorState`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ReportedConnectorState {
    pub state: String,
    #[serde(default)]
    pub worker_id: Option<String>,
    /// Omitted by Connect when empty.
    #[serde(default)]
    pub trace: Option<String>,
    /// The plugin version running (Connect 4.1+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct TaskState {
    pub id: i32,
    pub state: String,
    #[serde(default)]
    pub worker_id: Option<String>,
    #[serde(default)]
    pub trace: Option<String>,
    /// The plugin version running (Connect 4.1+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl ConnectorStatus {
    pub fn failed_tasks(&self) -> impl Iterator<Item = &TaskState> {
        self.tasks.iter().filter(|t| t.state == "FAILED")
    }
}

/// One value of `GET /connectors?expand=status&expand=info`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
pub struct ExpandedConnector {
    #[serde(default)]
    pub status: Option<ConnectorStatus>,
    #[serde(default)]
    pub info: Option<ConnectorInfo>,
}

/// Outcome of `PUT /connectors/{name}/config`.
#[derive(Debug, Clone, PartialEq)]
pub struct PutConfigResult {
    /// 201 (created) rather than 200 (updated).
    pub created: bool,
    pub info: ConnectorInfo,
}

/// Outcome of `POST /connectors/{name}/restart`.
#[derive(Debug, Clone, PartialEq)]
pub enum RestartOutcome {
    /// 202 with the status after the restart was requested (`includeTasks`/`onlyFailed`, 3.0+).
    Accepted(Option<ConnectorStatus>),
    /// 204: the plain restart of the connector only.
    Done,
}

/// `GET /connectors/{name}/offsets` (3.5+) and the body of `PATCH` (3.6+).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Offsets {
    pub offsets: Vec<PartitionOffset>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct PartitionOffset {
    pub partition: serde_json::Value,
    pub offset: Option<serde_json::Value>,
}

/// Answer to offset PATCH/DELETE.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Message {
    pub message: String,
}

/// Connect's error body.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_accepts_order_and_order_in_group() {
        for key in ["order", "order_in_group"] {
            let body = format!(
                r#"{{"name":"x","error_count":1,"groups":["Common"],"configs":[{{"definition":{{"name":"topics","type":"LIST","required":false,"default_value":"","importance":"HIGH","documentation":"d","group":"Common","{key}":4,"width":"LONG","display_name":"Topics","dependents":[]}},"value":{{"name":"topics","value":null,"recommended_values":[],"errors":["Must configure one of topics or topics.regex"],"visible":true}}}}]}}"#
            );
            let v: ValidateResponse = serde_json::from_str(&body).unwrap();
            assert_eq!(v.configs[0].definition.order, Some(4));
            assert_eq!(
                v.errors(),
                vec![(
                    "topics".into(),
                    "Must configure one of topics or topics.regex".into()
                )]
            );
        }
    }

    #[test]
    fn status_without_trace_or_type() {
        let s: ConnectorStatus = serde_json::from_str(
            r#"{"name":"a","connector":{"state":"RUNNING","worker_id":"w:8083"},"tasks":[{"id":0,"state":"FAILED","worker_id":"w","trace":"boom"}]}"#,
        )
        .unwrap();
        assert_eq!(s.connector.trace, None);
        assert_eq!(s.failed_tasks().count(), 1);
    }

    #[test]
    fn plugin_without_version() {
        let p: Vec<PluginInfo> =
            serde_json::from_str(r#"[{"class":"a.B","type":"source"}]"#).unwrap();
        assert_eq!(p[0].version, None);
    }

    #[test]
    fn versions() {
        assert_eq!(parse_major_minor("4.1.0"), (4, 1));
        assert_eq!(parse_major_minor("3.9.1-ce"), (3, 9));
        assert_eq!(parse_major_minor("7.6.0-ccs"), (7, 6));
        assert_eq!(parse_major_minor("weird"), (0, 0));
    }

    #[test]
    fn initial_state_is_uppercase() {
        let cfg = BTreeMap::new();
        let body = CreateConnector {
            name: "n",
            config: &cfg,
            initial_state: Some(InitialState::Stopped),
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"name":"n","config":{},"initial_state":"STOPPED"}"#
        );
    }
}
