//! What the tests, the fuzz target and the benchmark share: one AdmissionReview builder, builders for the
//! objects and Kafka Connect answers a review meets, and an in-memory Kafka Connect. Compiled for tests and
//! with the `testing` feature.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::ObjectMeta;
use parking_lot::Mutex;
use serde_json::{Value, json};
use shared::connect::ValidateResponse;
use shared::crd::{KafkaConnectCluster, KafkaConnector};

use crate::admission::{ConnectCheck, ConnectOutcome, Validator};

/// An AdmissionReview v1 as the API server sends it. Kind, name and namespace come from the object (or the
/// old object) unless set.
#[derive(Debug, Clone)]
pub struct Review {
    operation: &'static str,
    object: Option<Value>,
    old_object: Option<Value>,
    kind: Option<String>,
    uid: String,
    namespace: Option<String>,
    user: Option<String>,
    groups: Vec<String>,
    dry_run: bool,
}

impl Review {
    pub fn new(operation: &'static str, object: Option<Value>, old_object: Option<Value>) -> Self {
        Review {
            operation,
            object,
            old_object,
            kind: None,
            uid: "7f0c2f4e-uid".into(),
            namespace: None,
            user: None,
            groups: Vec::new(),
            dry_run: false,
        }
    }

    pub fn create(object: Value) -> Self {
        Review::new("CREATE", Some(object), None)
    }

    pub fn update(object: Value, old_object: Value) -> Self {
        Review::new("UPDATE", Some(object), Some(old_object))
    }

    pub fn delete(old_object: Value) -> Self {
        Review::new("DELETE", None, Some(old_object))
    }

    /// The kind reviewed, when the objects do not say (or should not be believed).
    pub fn kind(mut self, kind: &str) -> Self {
        self.kind = Some(kind.into());
        self
    }

    pub fn uid(mut self, uid: impl Into<String>) -> Self {
        self.uid = uid.into();
        self
    }

    /// The request's namespace (by default the object's).
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// The requesting user's name (by default, no user info).
    pub fn user(mut self, name: &str) -> Self {
        self.user = Some(name.into());
        self
    }

    /// The requesting user's groups.
    pub fn groups(mut self, groups: &[&str]) -> Self {
        self.groups = groups.iter().map(|g| g.to_string()).collect();
        self
    }

    /// A server-side dry run (`kubectl apply --dry-run=server`).
    pub fn dry_run(mut self) -> Self {
        self.dry_run = true;
        self
    }

    /// The review as JSON, for tests that bend it further.
    pub fn json(&self) -> Value {
        let either = |field: &dyn Fn(&Value) -> Option<String>| {
            self.object
                .as_ref()
                .and_then(field)
                .or_else(|| self.old_object.as_ref().and_then(field))
        };
        let kind = self
            .kind
            .clone()
            .or_else(|| either(&|o| o["kind"].as_str().map(String::from)))
            .unwrap_or_else(|| "KafkaConnector".into());
        let resource = format!("{}s", kind.to_ascii_lowercase());
        let name =
            either(&|o| o["metadata"]["name"].as_str().map(String::from)).unwrap_or_default();
        let namespace = self.namespace.clone().unwrap_or_else(|| {
            either(&|o| o["metadata"]["namespace"].as_str().map(String::from)).unwrap_or_default()
        });
        let mut user = match &self.user {
            Some(u) => json!({"username": u}),
            None => json!({}),
        };
        if !self.groups.is_empty() {
            user["groups"] = json!(self.groups);
        }
        json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": self.uid,
                "kind": {"group": shared::crd::GROUP, "version": "v1alpha1", "kind": kind},
                "resource": {"group": shared::crd::GROUP, "version": "v1alpha1", "resource": resource},
                "name": name,
                "namespace": namespace,
                "operation": self.operation,
                "userInfo": user,
                "object": self.object,
                "oldObject": self.old_object,
                "dryRun": self.dry_run
            }
        })
    }

    /// The review as the bytes of a request body.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&self.json()).expect("a JSON value serialises")
    }
}

/// A KafkaConnector `ns/name` with `spec`.
pub fn connector(ns: &str, name: &str, spec: Value) -> Value {
    object("KafkaConnector", ns, name, spec)
}

/// A KafkaConnectCluster `ns/name` with `spec`.
pub fn cluster(ns: &str, name: &str, spec: Value) -> Value {
    object("KafkaConnectCluster", ns, name, spec)
}

/// A KafkaConnector `ns/name` with `spec`, typed as a watch cache holds it.
pub fn cached_connector(ns: &str, name: &str, spec: Value) -> KafkaConnector {
    serde_json::from_value(connector(ns, name, spec)).expect("a well-formed KafkaConnector")
}

/// A KafkaConnectCluster `ns/name` with `spec`, typed as a watch cache holds it.
pub fn cached_cluster(ns: &str, name: &str, spec: Value) -> KafkaConnectCluster {
    serde_json::from_value(cluster(ns, name, spec)).expect("a well-formed KafkaConnectCluster")
}

fn object(kind: &str, ns: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": format!("{}/v1alpha1", shared::crd::GROUP),
        "kind": kind,
        "metadata": {"name": name, "namespace": ns},
        "spec": spec
    })
}

fn meta(ns: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(ns.into()),
        ..Default::default()
    }
}

/// A Secret `ns/name` holding `pairs`.
pub fn secret(ns: &str, name: &str, pairs: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: meta(ns, name),
        data: Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                .collect(),
        ),
        ..Default::default()
    }
}

/// A Secret `ns/name` holding `pairs` as raw bytes (data that need not be text).
pub fn secret_bytes(ns: &str, name: &str, pairs: &[(&str, &[u8])]) -> Secret {
    Secret {
        metadata: meta(ns, name),
        data: Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                .collect(),
        ),
        ..Default::default()
    }
}

/// A ConfigMap `ns/name` holding `pairs`.
pub fn config_map(ns: &str, name: &str, pairs: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: meta(ns, name),
        data: Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Default::default()
    }
}

/// The keys Kafka Connect defines for every connector, then `plugin`'s (name, type): the keys of a
/// [`validated`] answer.
pub fn connector_keys<'a>(plugin: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let framework = [
        ("name", "STRING"),
        ("connector.class", "STRING"),
        ("tasks.max", "INT"),
    ];
    framework.iter().chain(plugin).copied().collect()
}

/// Kafka Connect's validate answer defining `keys` (name, type) with `errors` (key, message).
pub fn validated(keys: &[(&str, &str)], errors: &[(&str, &str)]) -> ConnectOutcome {
    let configs: Vec<Value> = keys
        .iter()
        .map(|(k, t)| {
            let errs: Vec<&str> = errors
                .iter()
                .filter(|(ek, _)| ek == k)
                .map(|(_, e)| *e)
                .collect();
            json!({
                "definition": {"name": k, "type": t, "required": false, "importance": "HIGH",
                               "documentation": "", "group": "Common", "order": 1, "width": "NONE",
                               "display_name": k, "dependents": []},
                "value": {"name": k, "value": null, "recommended_values": [], "errors": errs, "visible": true}
            })
        })
        .collect();
    let v: ValidateResponse = serde_json::from_value(json!({
        "name": "org.apache.kafka.connect.file.FileStreamSourceConnector",
        "error_count": errors.len(),
        "groups": ["Common"],
        "configs": configs
    }))
    .expect("a well-formed validate answer");
    ConnectOutcome::Validated(v)
}

/// Kafka Connect in memory: every validation gets the same answer, and each check asked is kept.
pub struct FixedConnect {
    outcome: Arc<ConnectOutcome>,
    asked: Mutex<Vec<ConnectCheck>>,
}

impl FixedConnect {
    pub fn new(outcome: ConnectOutcome) -> Self {
        FixedConnect {
            outcome: Arc::new(outcome),
            asked: Mutex::new(Vec::new()),
        }
    }

    /// The validations asked so far, in order.
    pub fn asked(&self) -> Vec<ConnectCheck> {
        self.asked.lock().clone()
    }
}

impl Validator for FixedConnect {
    async fn validate(&self, check: &Arc<ConnectCheck>) -> Arc<ConnectOutcome> {
        self.asked.lock().push((**check).clone());
        self.outcome.clone()
    }
}

/// Runs `f` (such as [`admission::review`] over in-memory seams, which never wait) to completion on this
/// thread.
pub fn block_on<F: Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}
