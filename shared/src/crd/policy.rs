//! `KafkaConnectorPolicy`: a platform rule over connectors, checked at admission and reported on existing
//! connectors by the controller.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A platform guardrail for KafkaConnectors: which connectors it applies to, a JSON Schema (draft 2020-12)
/// over a documented view of each (see the README), and what happens when one does not satisfy it.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "connectwarden.io",
    version = "v1alpha1",
    kind = "KafkaConnectorPolicy",
    doc = "A rule over KafkaConnectors (a JSON Schema over a view of each), enforced at admission (Deny) or reported (Warn).",
    status = "KafkaConnectorPolicyStatus",
    shortname = "cwpolicy",
    category = "connectwarden",
    printcolumn = r#"{"name":"Action","type":"string","jsonPath":".spec.action"}"#,
    printcolumn = r#"{"name":"Matching","type":"integer","jsonPath":".status.matchingConnectors"}"#,
    printcolumn = r#"{"name":"Violating","type":"integer","jsonPath":".status.violatingConnectors"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct KafkaConnectorPolicySpec {
    /// Which connectors the policy applies to; every connector when omitted. All given criteria must hold.
    #[serde(default, rename = "match")]
    pub matches: PolicyMatch,
    /// A JSON Schema (draft 2020-12) that the connector's view must satisfy: `name`, `namespace`, `class`,
    /// `type` (`source` or `sink`, when the cluster reports the plugin), `tasksMax`, `state`, `config`
    /// (values as strings), `configFrom` (key → source, never a value), `clusterRef` (`name`,
    /// `namespace`). Checked when the policy is applied.
    #[schemars(schema_with = "free_form_object")]
    pub schema: Value,
    /// `Deny` (default): admission refuses a connector that does not satisfy the schema. `Warn`: it is
    /// admitted with a warning. Either way, existing connectors get a `PolicyViolation` condition.
    #[serde(default)]
    pub action: PolicyAction,
    /// Said after each violation. `{policy}`, `{name}`, `{namespace}`, `{class}`, `{type}` and `{cluster}`
    /// are replaced by the policy's name and the connector's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Which connectors a policy applies to.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyMatch {
    /// Labels of the connector's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// Connector classes, as written in `spec.class` or as the cluster resolves them; `*` matches any run
    /// of characters (e.g. `*Sink*`, `io.debezium.*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
    /// Labels of the KafkaConnectCluster the connector targets (a connector on the default cluster, or on a
    /// cluster that does not exist yet, has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_selector: Option<LabelSelector>,
}

/// What a violation does.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum PolicyAction {
    #[default]
    Deny,
    Warn,
}

impl PolicyAction {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyAction::Deny => "Deny",
            PolicyAction::Warn => "Warn",
        }
    }
}

/// What the controller found among the connectors it manages.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KafkaConnectorPolicyStatus {
    /// The generation of the spec these counts are for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Connectors the policy applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<i64>")]
    pub matching_connectors: Option<u32>,
    /// Connectors that do not satisfy the schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<i64>")]
    pub violating_connectors: Option<u32>,
    /// The first of them (`namespace/name`, sorted), at most 20.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violating: Vec<String>,
}

fn free_form_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
        "description": "A JSON Schema (draft 2020-12) that the connector's view must satisfy: `name`, `namespace`, `class`, `type` (`source` or `sink`, when the cluster reports the plugin), `tasksMax`, `state`, `config` (values as strings), `configFrom` (key → source, never a value), `clusterRef` (`name`, `namespace`). Checked when the policy is applied."
    })
}
