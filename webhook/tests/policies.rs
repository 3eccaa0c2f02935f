//! KafkaConnectorPolicies at admission: a connector's review with policies in the view (deny lines, warnings,
//! Kafka Connect not asked on a denial), and a policy's own review (an invalid schema refused with the
//! compiler's message).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};
use shared::crd::KafkaConnectorPolicy;
use shared::policy::Compiler;
use webhook::FailurePolicy;
use webhook::admission::{self, Objects, Reason, Reviewed, Webhook};
use webhook::testing::{self, FixedConnect, Review, block_on, validated};

const NS: &str = "team-a";

fn policy(name: &str, spec: Value) -> KafkaConnectorPolicy {
    let mut p = KafkaConnectorPolicy::new(name, serde_json::from_value(spec).unwrap());
    p.metadata.uid = Some(format!("uid-{name}"));
    p.metadata.generation = Some(1);
    p
}

fn world(policies: &[KafkaConnectorPolicy]) -> Objects {
    let mut w = Objects::default();
    w.add_cluster(testing::cached_cluster(
        NS,
        "local",
        json!({"url": "http://127.0.0.1:8083"}),
    ));
    w.policies = Compiler::default().set(policies.iter());
    w.namespaces.insert(
        NS.into(),
        Arc::new(BTreeMap::from([("team".to_string(), "a".to_string())])),
    );
    w
}

fn connect() -> FixedConnect {
    FixedConnect::new(validated(
        &testing::connector_keys(&[
            ("topic", "STRING"),
            ("file", "STRING"),
            ("ssl.truststore.password", "PASSWORD"),
        ]),
        &[],
    ))
}

fn review_in(w: &Objects, c: &FixedConnect, body: Vec<u8>) -> Reviewed {
    block_on(admission::review(
        Webhook::Validate,
        &body,
        w,
        c,
        FailurePolicy::Closed,
    ))
    .unwrap()
}

fn create(name: &str, spec: Value) -> Vec<u8> {
    Review::create(testing::connector(NS, name, spec))
        .user("alice")
        .body()
}

fn spec(tasks: i32, config: Value) -> Value {
    json!({"clusterRef": {"name": "local"}, "class": "FileStreamSource", "tasksMax": tasks, "config": config})
}

#[test]
fn a_deny_policy_refuses_before_connect_is_asked_one_line_per_violation() {
    let w = world(&[
        policy(
            "max-tasks",
            json!({"match": {"namespaceSelector": {"matchLabels": {"team": "a"}}},
                   "schema": {"properties": {"tasksMax": {"maximum": 8}}},
                   "message": "at most 8 tasks in {namespace}"}),
        ),
        policy(
            "prefix",
            json!({"schema": {"properties": {"name": {"pattern": "^team-a-"}}}}),
        ),
    ]);
    let c = connect();
    let r = review_in(&w, &c, create("orders", spec(16, json!({"topic": "t"}))));
    assert!(!r.decision.allowed);
    assert_eq!(r.decision.reason, Reason::PolicyViolation);
    assert_eq!(
        r.decision.lines,
        [
            "policy max-tasks: spec.tasksMax: 16 is greater than the maximum of 8 — at most 8 tasks in team-a",
            "policy prefix: metadata.name: \"orders\" does not match \"^team-a-\"",
        ]
    );
    assert!(c.asked().is_empty(), "Connect is not asked on a denial");
    let ok = review_in(
        &w,
        &c,
        create("team-a-orders", spec(8, json!({"topic": "t"}))),
    );
    assert!(ok.decision.allowed, "{:?}", ok.decision);
    assert_eq!(c.asked().len(), 1);
}

#[test]
fn warn_policies_become_warnings_and_never_show_a_password() {
    let w = world(&[policy(
        "references",
        json!({"action": "Warn",
               "schema": {"properties": {"config": {"properties": {"ssl.truststore.password": {"pattern": "^\\$\\{"}}}}},
               "message": "give passwords as ${provider:…} references"}),
    )]);
    let c = connect();
    let r = review_in(
        &w,
        &c,
        create(
            "team-a-src",
            spec(
                1,
                json!({"topic": "t", "ssl.truststore.password": "hunter2-secret"}),
            ),
        ),
    );
    assert!(r.decision.allowed, "{:?}", r.decision);
    assert!(
        r.decision.warnings.contains(
            &"policy references: spec.config.\"ssl.truststore.password\": the value of `ssl.truststore.password` does not match \"^\\$\\{\" — give passwords as ${provider:…} references".to_string()
        ),
        "{:?}",
        r.decision.warnings
    );
    let all = format!("{:?}", r.decision);
    assert!(!all.contains("hunter2"), "{all}");
}

#[test]
fn a_state_change_alone_still_answers_to_policies() {
    let w = world(&[policy(
        "running",
        json!({"schema": {"properties": {"state": {"const": "running"}}}}),
    )]);
    let c = connect();
    let old = testing::connector(NS, "team-a-x", spec(1, json!({"topic": "t"})));
    let mut new = old.clone();
    new["spec"]["state"] = json!("stopped");
    let r = review_in(&w, &c, Review::update(new, old).user("alice").body());
    assert!(!r.decision.allowed);
    assert_eq!(
        r.decision.lines,
        ["policy running: spec.state: \"running\" was expected"]
    );
    assert!(c.asked().is_empty());
}

fn policy_review(spec: Value) -> Reviewed {
    let obj = json!({
        "apiVersion": "connectwarden.io/v1alpha1",
        "kind": "KafkaConnectorPolicy",
        "metadata": {"name": "max-tasks"},
        "spec": spec
    });
    let w = Objects::default();
    review_in(&w, &connect(), Review::create(obj).user("admin").body())
}

#[test]
fn an_invalid_schema_is_refused_when_the_policy_is_applied() {
    let r = policy_review(json!({"schema": {"properties": {"tasksMax": {"maximum": "8"}}}}));
    assert!(!r.decision.allowed);
    assert_eq!(r.decision.reason, Reason::InvalidPolicy);
    assert_eq!(
        r.decision.lines[0],
        "KafkaConnectorPolicy \"max-tasks\" cannot be enforced:"
    );
    assert!(
        r.decision.lines[1].starts_with(
            "spec.schema.properties.tasksMax.maximum: \"8\" is not of type \"number\""
        ),
        "{:?}",
        r.decision.lines
    );
    let ok = policy_review(
        json!({"schema": {"properties": {"tasksMax": {"maximum": 8}}}, "message": "{nme}"}),
    );
    assert!(ok.decision.allowed);
    assert_eq!(ok.decision.reason, Reason::Valid);
    assert_eq!(ok.decision.warnings.len(), 1);
    assert!(ok.decision.warnings[0].starts_with("spec.message: {nme} is not a placeholder"));
}
