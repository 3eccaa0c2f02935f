//! The API, group `connectwarden.io`, version `v1alpha1`: `KafkaConnectCluster` says where a
//! Kafka Connect REST API is and how to reach it; `KafkaConnector` is one connector on such a cluster;
//! `KafkaConnectorPolicy` (in the submodule `policy`) is a rule over connectors. And the generator of the
//! three CRDs. The types import nothing from the rest of the crate, so every other module may build on them.

mod policy;

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use self::policy::{
    KafkaConnectorPolicy, KafkaConnectorPolicySpec, KafkaConnectorPolicyStatus, PolicyAction,
    PolicyMatch,
};

pub const GROUP: &str = "connectwarden.io";
pub const VERSION: &str = "v1alpha1";

/// Annotation asking the controller to restart the connector. Each new value is one request (a timestamp or
/// any token; `true` works too), optionally with `includeTasks` and/or `onlyFailed`, comma-separated. The
/// handled value is recorded in `status.lastHandledRestart` and the annotation stays in place.
pub const ANNOTATION_RESTART: &str = "connectwarden.io/restart";
/// Annotation asking the controller to restart one task: `<task id>` or `<task id>,<token>`; each new value is
/// one request, recorded in `status.lastHandledTaskRestart`; the annotation stays in place.
pub const ANNOTATION_RESTART_TASK: &str = "connectwarden.io/restart-task";
/// Annotation asking the controller for one offsets operation: `list`, `alter` or `reset`, optionally followed
/// by `,<token>` (a timestamp, any token) so that the same operation can be asked again. Each new value is one
/// request, recorded in `status.lastHandledOffsets`; the annotation stays in place. `list` writes the offsets
/// to `spec.listOffsets.toConfigMap`, `alter` applies `spec.alterOffsets.fromConfigMap`; `alter` and `reset`
/// stop a running or paused connector first and restore the wanted state afterwards.
pub const ANNOTATION_OFFSETS: &str = "connectwarden.io/offsets";
/// The ConfigMap key offsets are listed to and altered from (Kafka Connect's own JSON, as Strimzi uses).
pub const OFFSETS_KEY: &str = "offsets.json";
/// Annotation that stops every controller action on this connector while `"true"`.
pub const ANNOTATION_PAUSE_RECONCILIATION: &str = "connectwarden.io/pause-reconciliation";
/// Finalizer that lets the controller delete the connector from Connect before the object goes.
pub const FINALIZER: &str = "connectwarden.io/connector";

// ---------------------------------------------------------------------------------------------------------
// KafkaConnectCluster
// ---------------------------------------------------------------------------------------------------------

/// A Kafka Connect cluster reachable over its REST API: self-hosted, Confluent Platform, a Strimzi-deployed
/// worker or VMs outside Kubernetes.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "connectwarden.io",
    version = "v1alpha1",
    kind = "KafkaConnectCluster",
    doc = "A Kafka Connect cluster reachable over its REST API, targeted by KafkaConnectors.",
    namespaced,
    status = "KafkaConnectClusterStatus",
    shortname = "cwcluster",
    shortname = "cwkc",
    category = "connectwarden",
    printcolumn = r#"{"name":"URL","type":"string","jsonPath":".spec.url"}"#,
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".status.version"}"#,
    printcolumn = r#"{"name":"Connectors","type":"integer","jsonPath":".status.managedConnectors"}"#,
    printcolumn = r#"{"name":"Plugins","type":"integer","jsonPath":".status.connectorPlugins"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct KafkaConnectClusterSpec {
    /// Base URL of the Kafka Connect REST API, `http://` or `https://`, e.g. `https://connect.kafka.svc:8083`.
    pub url: String,
    /// How to authenticate to the REST API; none when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<ClusterAuthentication>,
    /// TLS settings for an `https://` URL: the CA to trust and a client certificate for mTLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClusterTls>,
    /// Deadline for one REST request, in seconds (default 30). Connect itself waits up to 90 s inside a request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 300))]
    #[schemars(with = "Option<i64>")]
    pub request_timeout_seconds: Option<u32>,
    /// Namespaces whose KafkaConnectors may target this cluster, besides the cluster's own namespace.
    /// `*` allows every namespace. Default: this namespace only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_namespaces: Vec<String>,
    /// When true, the controller deletes connectors on this cluster that no KafkaConnector owns.
    /// Default false: connectors created outside connect-warden are never touched.
    #[serde(default)]
    pub prune: bool,
    /// How to reach the Kafka cluster the Connect cluster works on, so the controller can measure sink lag,
    /// progress and dead letters. Without it, connectors work as before and their status says lag is not
    /// measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka: Option<ClusterKafka>,
}

/// The Kafka cluster behind a Connect cluster, read with a few admin requests per interval (committed
/// offsets of the connectors' consumer groups, log-end offsets), never one per connector.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterKafka {
    /// Comma-separated `host:port` list, as Kafka's `bootstrap.servers`, e.g. `kafka-0.kafka:9092,kafka-1.kafka:9092`.
    pub bootstrap_servers: String,
    /// SASL authentication; none when omitted (mTLS alone goes in `tls.clientCertSecretRef`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<KafkaAuthentication>,
    /// TLS to the brokers (its presence turns TLS on): the CA to trust and a client certificate for mTLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClusterTls>,
    /// The Connect workers' `offset.storage.topic`, where source connectors' offsets are read to tell when
    /// each last committed (default `connect-offsets`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offsets_topic: Option<String>,
}

impl ClusterKafka {
    /// The workers' offsets topic.
    pub fn offsets_topic(&self) -> &str {
        self.offsets_topic
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or("connect-offsets")
    }
}

/// SASL credentials for the brokers, read from a Secret in the cluster's namespace.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KafkaAuthentication {
    /// `plain`, `scram-sha-256` or `scram-sha-512`.
    #[serde(rename = "type")]
    pub kind: KafkaAuthenticationType,
    /// The Secret holding the user name and password.
    pub secret_ref: LocalObjectRef,
    /// Key of the user name in the Secret (default `username`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_key: Option<String>,
    /// Key of the password in the Secret (default `password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_key: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum KafkaAuthenticationType {
    #[serde(rename = "plain")]
    Plain,
    #[serde(rename = "scram-sha-256")]
    ScramSha256,
    #[serde(rename = "scram-sha-512")]
    ScramSha512,
}

/// Credentials for the Connect REST API, read from a Secret in the cluster's namespace.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterAuthentication {
    /// `basic` (HTTP basic auth, e.g. Connect's BasicAuthSecurityRestExtension) or `bearer` (a token).
    #[serde(rename = "type")]
    pub kind: AuthenticationType,
    /// The Secret holding the credentials.
    pub secret_ref: LocalObjectRef,
    /// Key of the user name in the Secret, for `basic` (default `username`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_key: Option<String>,
    /// Key of the password in the Secret, for `basic` (default `password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_key: Option<String>,
    /// Key of the token in the Secret, for `bearer` (default `token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_key: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuthenticationType {
    Basic,
    Bearer,
}

/// TLS for the REST API.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterTls {
    /// A Secret holding the PEM CA bundle to trust (key default `ca.crt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_secret_ref: Option<KeyRef>,
    /// A ConfigMap holding the PEM CA bundle to trust (key default `ca.crt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_config_map_ref: Option<KeyRef>,
    /// A `kubernetes.io/tls` Secret (`tls.crt`, `tls.key`) with the client certificate for mTLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert_secret_ref: Option<LocalObjectRef>,
    /// Skip server certificate verification. Allowed for experiments, warned about on admission; never use in
    /// production.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

/// A reference to an object in the same namespace.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct LocalObjectRef {
    /// Name of the object.
    pub name: String,
}

/// A key in a Secret or ConfigMap in the same namespace.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct KeyRef {
    /// Name of the Secret or ConfigMap.
    pub name: String,
    /// Key inside it (default `ca.crt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// Observed state of a Kafka Connect cluster.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KafkaConnectClusterStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`: the REST API is reachable and healthy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Kafka Connect version (`GET /`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Kafka Connect commit id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Id of the Kafka cluster the workers use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka_cluster_id: Option<String>,
    /// Installed plugins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<PluginStatus>,
    /// Number of installed connector plugins (source and sink; each installed version counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<i64>")]
    pub connector_plugins: Option<u32>,
    /// Number of KafkaConnectors targeting this cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<i64>")]
    pub managed_connectors: Option<u32>,
}

/// One installed plugin.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct PluginStatus {
    /// Fully qualified class name.
    pub class: String,
    /// `source`, `sink`, `converter`, `transformation`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Plugin version, when the plugin reports one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

// ---------------------------------------------------------------------------------------------------------
// KafkaConnector
// ---------------------------------------------------------------------------------------------------------

/// A Kafka Connect connector, managed the GitOps way.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "connectwarden.io",
    version = "v1alpha1",
    kind = "KafkaConnector",
    doc = "A Kafka Connect connector managed the GitOps way by connect-warden.",
    namespaced,
    status = "KafkaConnectorStatus",
    shortname = "cwconnector",
    shortname = "cwk",
    category = "connectwarden",
    printcolumn = r#"{"name":"Cluster","type":"string","jsonPath":".spec.clusterRef.name"}"#,
    printcolumn = r#"{"name":"Class","type":"string","jsonPath":".spec.class"}"#,
    printcolumn = r#"{"name":"State","type":"string","jsonPath":".status.connectorState"}"#,
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".status.pluginVersion"}"#,
    printcolumn = r#"{"name":"Tasks","type":"string","jsonPath":".status.tasksReady"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Lag","type":"integer","jsonPath":".status.progress.lagRecords"}"#,
    printcolumn = r#"{"name":"Progress","type":"string","priority":1,"jsonPath":".status.progress.state"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = Rule::new("!has(oldSelf.spec.name) || (has(self.spec.name) && self.spec.name == oldSelf.spec.name)").message("field is immutable: the connector on Kafka Connect keeps its name").field_path(".spec.name").reason(Reason::FieldValueForbidden)
)]
#[serde(rename_all = "camelCase")]
pub struct KafkaConnectorSpec {
    /// The KafkaConnectCluster (in this namespace, or one that allows this namespace) to run on. When
    /// omitted, the default cluster from the controller's `KAFKA_CONNECT_ADDR` is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_ref: Option<ClusterRef>,
    /// Connector name on Kafka Connect (default: `metadata.name`). Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Connector class or alias, e.g. `org.apache.kafka.connect.file.FileStreamSourceConnector` or
    /// `FileStreamSource`.
    pub class: String,
    /// Maximum number of tasks (`tasks.max`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub tasks_max: Option<i32>,
    /// Connector configuration. Values are strings, as Kafka Connect takes them: numbers and booleans are
    /// turned into strings by the admission webhook (quote them in Git to keep diffs clean); objects, lists and
    /// nulls are rejected. `name`, `connector.class` and `tasks.max` belong in the spec fields. Use
    /// `${provider:path:key}` references for secrets.
    #[serde(default)]
    #[schemars(schema_with = "free_form_string_map")]
    pub config: BTreeMap<String, Value>,
    /// Config values read from Secrets or ConfigMaps in this namespace, by config key. The controller puts the
    /// resolved values into the config it sends to Kafka Connect (where anyone with access to Connect's REST
    /// API can read them; a worker-side config provider such as `${file:…}` keeps them off Connect). The
    /// admission webhook checks that the user applying the connector may `get` each Secret. A key may not
    /// be in both `config` and `configFrom`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config_from: BTreeMap<String, ConfigValueSource>,
    /// Wanted state: `running` (default), `paused` or `stopped`.
    #[serde(default)]
    pub state: ConnectorState,
    /// Automatic restarts of a FAILED connector or its FAILED tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_restart: Option<AutoRestart>,
    /// What happens to the connector on Kafka Connect when this object is deleted: `Delete` (default),
    /// `Orphan` (keep it running) or `DeleteAndResetOffsets` (stop it, reset its offsets, then delete it, so
    /// that a connector created later with the same name starts from the beginning; Connect 3.6+).
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// The connector plugin version to run (Kafka Connect 4.1+): a version such as `2.0.0` or a Maven range
    /// such as `[1.0,2.0)`. Sent as `connector.plugin.version`. When omitted, Connect runs the latest
    /// installed version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Where the `connectwarden.io/offsets: list` request writes the offsets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_offsets: Option<ListOffsets>,
    /// Where the `connectwarden.io/offsets: alter` request reads the offsets from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alter_offsets: Option<AlterOffsets>,
}

/// The target of an offsets list.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListOffsets {
    /// A ConfigMap in this namespace; the offsets go under key `offsets.json` (created if missing, other keys
    /// kept).
    pub to_config_map: LocalObjectRef,
}

/// The source of an offsets alter.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlterOffsets {
    /// A ConfigMap in this namespace holding Kafka Connect's offsets JSON under key `offsets.json`.
    pub from_config_map: LocalObjectRef,
}

/// Where one config value comes from: exactly one of a Secret key or a ConfigMap key, in the connector's
/// namespace.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ConfigValueSource {
    /// A key of a Secret.
    SecretKeyRef(KeySelector),
    /// A key of a ConfigMap.
    ConfigMapKeyRef(KeySelector),
}

/// A key of a Secret or ConfigMap in the connector's namespace.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct KeySelector {
    /// Name of the Secret or ConfigMap.
    pub name: String,
    /// The key whose value becomes the config value.
    pub key: String,
    /// As in Kubernetes: when true, a missing object or key leaves the config key out instead of holding the
    /// connector back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

impl ConfigValueSource {
    pub fn selector(&self) -> &KeySelector {
        match self {
            ConfigValueSource::SecretKeyRef(s) | ConfigValueSource::ConfigMapKeyRef(s) => s,
        }
    }
}

/// Reference to a KafkaConnectCluster.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct ClusterRef {
    /// Name of the KafkaConnectCluster.
    pub name: String,
    /// Its namespace (default: this connector's namespace). The cluster must allow this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Wanted connector state.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorState {
    #[default]
    Running,
    Paused,
    Stopped,
}

/// What to do with the connector on Connect when the KafkaConnector is deleted.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    #[default]
    Delete,
    Orphan,
    DeleteAndResetOffsets,
}

/// Automatic restart policy.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoRestart {
    /// Restart FAILED connectors and tasks automatically (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Give up after this many restarts without a stable period in between (default: unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    #[schemars(with = "Option<i64>")]
    pub max_restarts: Option<u32>,
    /// Delay before the second restart, doubled for each further one, and before the first automatic
    /// restart after a manual one (default 10 s). Otherwise the first restart is immediate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    #[schemars(with = "Option<i64>")]
    pub backoff_base_seconds: Option<u32>,
    /// Upper bound of the delay between restarts (default 600 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    #[schemars(with = "Option<i64>")]
    pub backoff_max_seconds: Option<u32>,
    /// After this long RUNNING, the restart counter resets (default 600 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    #[schemars(with = "Option<i64>")]
    pub stable_period_seconds: Option<u32>,
}

impl Default for AutoRestart {
    fn default() -> Self {
        AutoRestart {
            enabled: true,
            max_restarts: None,
            backoff_base_seconds: None,
            backoff_max_seconds: None,
            stable_period_seconds: None,
        }
    }
}

fn default_true() -> bool {
    true
}

/// Observed state of a connector (kstatus-compatible: `observedGeneration` and a `Ready` condition).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KafkaConnectorStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` with a precise reason: Running, Paused, Stopped, ConnectorFailed, TaskFailed,
    /// ClusterUnreachable, InvalidConfig, NameConflict, RestartsExhausted, …
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Connector state reported by Connect: RUNNING, PAUSED, STOPPED, FAILED, UNASSIGNED, RESTARTING.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_state: Option<String>,
    /// Worker running the connector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    /// Tasks as reported by Connect.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<TaskStatus>,
    /// RUNNING tasks over all tasks, e.g. `2/2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks_ready: Option<String>,
    /// Topics the connector uses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<String>,
    /// Automatic restart bookkeeping; kept here so it survives controller restarts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_restart: Option<AutoRestartStatus>,
    /// The last error, cut to a readable length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The last `connectwarden.io/restart` value handled (restarted, or refused as invalid). Only a different
    /// value is a new request, so the annotation can stay in Git.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_restart: Option<String>,
    /// The last `connectwarden.io/restart-task` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_task_restart: Option<String>,
    /// The last `connectwarden.io/offsets` value handled (done, failed or refused; the `Offsets` condition
    /// says which). Offsets themselves never go into status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_offsets: Option<String>,
    /// The connector plugin version Kafka Connect reports running (Connect 4.1+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_version: Option<String>,
    /// Config changes made behind the controller's back, and whether its writes are held because another
    /// writer keeps changing the connector; kept here so a restarted controller keeps its judgement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contention: Option<ContentionStatus>,
    /// Whether a sink connector keeps up with its topics, judged over a window of samples (the
    /// `Progressing` condition says it too; it never changes `Ready`), and its dead letters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<ProgressStatus>,
}

/// Progress of a sink connector's consumer group.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProgressStatus {
    /// `OK`, `Lagging` (lag grew across the whole window), `Stalled` (committed offsets have not moved for
    /// the window while records wait), `Stopped` (not for twice the window), or `Unknown` (not measured; the
    /// message says why).
    pub state: String,
    /// Records behind the log end, over the partitions the group has committed offsets for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_records: Option<i64>,
    /// When `state` began (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// When the committed offsets were last seen to move (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_commit_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Records the connector sent to its dead letter queue topic (`errors.deadletterqueue.topic.name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letters: Option<DeadLetterStatus>,
}

/// Records added to a connector's dead letter queue topic since counting began.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterStatus {
    pub topic: String,
    /// Records added since `since`.
    pub records: i64,
    /// Records added in the last minute.
    pub per_minute: i64,
    /// When counting began (RFC 3339): the connector first seen running with this topic.
    pub since: String,
    /// The topic's total log-end offset when counting began; kept so a restarted controller counts on.
    pub start_offset: i64,
}

/// Drift corrections of one connector, and the hold on writes while another writer keeps changing it.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContentionStatus {
    /// When the controller put the config back (RFC 3339), oldest first; only those within the window count.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub corrections: Vec<String>,
    /// Since when writes to the connector are held (RFC 3339); absent while the controller writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_since: Option<String>,
    /// The spec generation writes were held for: a new generation resumes them at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_generation: Option<i64>,
    /// When Kafka Connect's config of the connector was last seen to change while writes were held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_change_time: Option<String>,
    /// The config keys whose values on Kafka Connect differed from the spec when writes were held (names only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
}

/// One task.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatus {
    pub id: i32,
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    /// The failure trace, cut to its first lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

/// Restart bookkeeping.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoRestartStatus {
    /// Restarts since the connector was last stable.
    #[schemars(with = "i64")]
    pub count: u32,
    /// When the last restart was issued (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_restart_time: Option<String>,
    /// When the next restart is due (RFC 3339), if one is planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_restart_time: Option<String>,
}

/// A status condition, shaped like `metav1.Condition`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// `config` is a free-form object (as in Strimzi), so server-side apply reaches the webhook, which turns
/// numbers and booleans into strings, instead of failing on a schema type error first.
fn free_form_string_map(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
        "description": "Connector configuration. Values are strings, as Kafka Connect takes them: numbers and booleans are turned into strings by the admission webhook (quote them in Git to keep diffs clean); objects, lists and nulls are rejected. `name`, `connector.class` and `tasks.max` belong in the spec fields. Use `${provider:path:key}` references for secrets."
    })
}

impl KafkaConnector {
    /// The connector's name on Kafka Connect.
    pub fn connector_name(&self) -> String {
        self.spec
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| self.metadata.name.clone().unwrap_or_default())
    }

    /// The (namespace, name) of the KafkaConnectCluster this connector targets, if it names one.
    pub fn cluster_key(&self) -> Option<(String, String)> {
        let r = self.spec.cluster_ref.as_ref()?;
        let ns = r
            .namespace
            .clone()
            .or_else(|| self.metadata.namespace.clone())
            .unwrap_or_default();
        Some((ns, r.name.clone()))
    }
}

impl KafkaConnectClusterSpec {
    /// Whether connectors in `namespace` may target a cluster living in `cluster_namespace`.
    pub fn allows_namespace(&self, cluster_namespace: &str, namespace: &str) -> bool {
        namespace == cluster_namespace
            || self
                .allowed_namespaces
                .iter()
                .any(|n| n == "*" || n == namespace)
    }
}

/// The CRDs as installed. `status` defaults to `{observedGeneration: -1}`: kstatus (Flux's health checks)
/// counts an object without a status as Current, so without the default a sync would report a connector
/// healthy before the controller has looked at it.
pub fn crds()
-> Vec<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>
{
    use kube::CustomResourceExt;
    let mut crds = vec![
        KafkaConnectCluster::crd(),
        KafkaConnector::crd(),
        KafkaConnectorPolicy::crd(),
    ];
    for crd in &mut crds {
        for version in &mut crd.spec.versions {
            let status = version
                .schema
                .as_mut()
                .and_then(|s| s.open_api_v3_schema.as_mut())
                .and_then(|s| s.properties.as_mut())
                .and_then(|p| p.get_mut("status"));
            if let Some(status) = status {
                status.default = Some(
                    k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSON(
                        serde_json::json!({ "observedGeneration": -1 }),
                    ),
                );
            }
        }
    }
    crds
}

/// Renders each CRD as YAML, as checked in under `deploy/crds/`.
pub fn crd_yaml() -> Result<Vec<(&'static str, String)>, serde_saphyr::SerializeError> {
    let [cluster, connector, policy]: [_; 3] = crds().try_into().expect("three CRDs");
    Ok(vec![
        ("kafkaconnectclusters.yaml", manifest_yaml(&cluster)?),
        ("kafkaconnectors.yaml", manifest_yaml(&connector)?),
        ("kafkaconnectorpolicies.yaml", manifest_yaml(&policy)?),
    ])
}

/// Renders a manifest as YAML, the one style of every manifest connect-warden writes (the CRDs, `cwctl`'s
/// exports and conversions). A long string stays on one line, as `kubectl get -o yaml` shows it, where the
/// serializer's default would fold it at 80 columns.
pub fn manifest_yaml<T: Serialize>(v: &T) -> Result<String, serde_saphyr::SerializeError> {
    let options = serde_saphyr::ser_options! { folded_wrap_chars: usize::MAX };
    serde_saphyr::to_string_with_options(v, options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::CustomResourceExt;

    #[test]
    fn status_defaults_so_kstatus_waits_for_the_controller() {
        for crd in crds() {
            let crd = serde_json::to_value(crd).unwrap();
            let status =
                &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"];
            assert_eq!(
                status["default"],
                serde_json::json!({ "observedGeneration": -1 })
            );
        }
    }

    #[test]
    fn config_is_free_form_and_documented() {
        let crd = serde_json::to_value(KafkaConnector::crd()).unwrap();
        let config = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
            ["properties"]["config"];
        assert_eq!(config["x-kubernetes-preserve-unknown-fields"], true);
        assert_eq!(config["type"], "object");
        assert!(
            config["description"]
                .as_str()
                .unwrap()
                .contains("numbers and booleans")
        );
    }

    #[test]
    fn short_names_do_not_collide_with_strimzi_or_confluent() {
        let crd = KafkaConnector::crd();
        let names = crd.spec.names.short_names.unwrap();
        for taken in ["kctr", "kc", "connector", "connectors", "connect"] {
            assert!(!names.iter().any(|n| n == taken), "{taken}");
        }
    }

    #[test]
    fn connector_name_defaults_to_metadata_name() {
        let mut k = KafkaConnector::new(
            "orders-sink",
            KafkaConnectorSpec {
                cluster_ref: None,
                name: None,
                class: "FileStreamSink".into(),
                tasks_max: None,
                config: BTreeMap::new(),
                config_from: BTreeMap::new(),
                state: ConnectorState::Running,
                auto_restart: None,
                deletion_policy: DeletionPolicy::Delete,
                version: None,
                list_offsets: None,
                alter_offsets: None,
            },
        );
        assert_eq!(k.connector_name(), "orders-sink");
        k.spec.name = Some("orders".into());
        assert_eq!(k.connector_name(), "orders");
    }

    #[test]
    fn namespace_allow_list() {
        let mut spec: KafkaConnectClusterSpec =
            serde_json::from_value(serde_json::json!({"url": "http://c:8083"})).unwrap();
        assert!(spec.allows_namespace("kafka", "kafka"));
        assert!(!spec.allows_namespace("kafka", "team-a"));
        spec.allowed_namespaces = vec!["team-a".into()];
        assert!(spec.allows_namespace("kafka", "team-a"));
        spec.allowed_namespaces = vec!["*".into()];
        assert!(spec.allows_namespace("kafka", "anything"));
    }
}
