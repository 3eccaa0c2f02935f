//! The admission pipeline, fed AdmissionReviews as the API server sends them, with the cluster's objects in
//! memory and Kafka Connect answering as told. This file holds the world the reviews meet and how a review is
//! run; each module is one subject.

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use serde_json::{Value, json};
use webhook::FailurePolicy;
use webhook::admission::{self, ConnectOutcome, Decision, Objects, Reviewed, Webhook};
use webhook::testing::{self, FixedConnect, Review, block_on, validated};

mod clusters;
mod connect_answer;
mod local_rules;
mod malformed;
mod mutation;
mod namespaces;
mod ordering;

const NS: &str = "team-a";

fn review(kind: &str, op: &'static str, object: Option<Value>, old: Option<Value>) -> Vec<u8> {
    Review::new(op, object, old)
        .kind(kind)
        .namespace(NS)
        .user("alice")
        .body()
}

fn connector_in(ns: &str, name: &str, spec: Value) -> Value {
    testing::connector(ns, name, spec)
}

fn connector(name: &str, spec: Value) -> Value {
    connector_in(NS, name, spec)
}

fn source_spec() -> Value {
    json!({
        "clusterRef": {"name": "local"},
        "class": "FileStreamSource",
        "tasksMax": 1,
        "config": {"topic": "orders", "file": "/tmp/orders.txt"}
    })
}

fn world() -> Objects {
    let mut w = Objects::default();
    w.add_cluster(testing::cached_cluster(
        NS,
        "local",
        json!({"url": "http://127.0.0.1:8083", "allowedNamespaces": ["team-b"]}),
    ));
    w.add_connector(testing::cached_connector(
        "team-b",
        "orders-owner",
        json!({"clusterRef": {"name": "local", "namespace": NS}, "name": "orders", "class": "FileStreamSink", "config": {}}),
    ));
    w
}

fn ok() -> ConnectOutcome {
    validated(
        &testing::connector_keys(&[
            ("topic", "STRING"),
            ("file", "STRING"),
            ("batch.size", "INT"),
        ]),
        &[],
    )
}

/// The review of `body` by `webhook` in `w`, with Kafka Connect answering `outcome` and failing closed.
fn review_in(
    w: &Objects,
    webhook: Webhook,
    body: &[u8],
    outcome: &ConnectOutcome,
    policy: FailurePolicy,
) -> Reviewed {
    block_on(admission::review(
        webhook,
        body,
        w,
        &FixedConnect::new(outcome.clone()),
        policy,
    ))
    .unwrap()
}

fn decide(webhook: Webhook, body: &[u8], outcome: &ConnectOutcome) -> Decision {
    review_in(&world(), webhook, body, outcome, FailurePolicy::Closed).decision
}

fn validate(object: Value, outcome: &ConnectOutcome) -> Decision {
    decide(
        Webhook::Validate,
        &review("KafkaConnector", "CREATE", Some(object), None),
        outcome,
    )
}

fn mutate(object: Value) -> Decision {
    decide(
        Webhook::Mutate,
        &review("KafkaConnector", "CREATE", Some(object), None),
        &ok(),
    )
}

fn patch_json(d: &Decision) -> Value {
    serde_json::to_value(json_patch::Patch(d.patch.clone())).unwrap()
}

/// Never consulted when the decision is taken before Connect is asked.
fn outage() -> ConnectOutcome {
    ConnectOutcome::Unavailable {
        reason: "unreachable",
        message: "connection refused".into(),
    }
}

fn validate_in(w: &Objects, body: &[u8]) -> Decision {
    review_in(w, Webhook::Validate, body, &outage(), FailurePolicy::Closed).decision
}

fn secret(name: &str, pairs: &[(&str, &str)]) -> Secret {
    testing::secret(NS, name, pairs)
}

fn config_map(name: &str, pairs: &[(&str, &str)]) -> ConfigMap {
    testing::config_map(NS, name, pairs)
}

/// The world plus `secured`: https with basic auth from Secret `creds` and a CA from ConfigMap `ca`.
fn secured_world() -> Objects {
    let mut w = world();
    w.add_cluster(testing::cached_cluster(
        NS,
        "secured",
        json!({"url": "https://connect.example:8083",
               "authentication": {"type": "basic", "secretRef": {"name": "creds"}},
               "tls": {"caConfigMapRef": {"name": "ca"}}}),
    ));
    w
}

/// A connector on `cluster` (a `spec.clusterRef`).
fn on_cluster_review(cluster: Value) -> Review {
    let mut spec = source_spec();
    spec["clusterRef"] = cluster;
    Review::create(connector("orders-src", spec)).namespace(NS)
}

fn on_cluster(cluster: Value) -> Vec<u8> {
    on_cluster_review(cluster).body()
}
