use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::crd::{
    KafkaConnectClusterSpec, KafkaConnectClusterStatus, KafkaConnectorPolicyStatus, PluginStatus,
};

fn policy(name: &str, spec: serde_json::Value) -> KafkaConnectorPolicy {
    let mut p = KafkaConnectorPolicy::new(name, serde_json::from_value(spec).unwrap());
    p.metadata.uid = Some(format!("uid-{name}"));
    p.metadata.generation = Some(1);
    p
}

fn compiled(name: &str, spec: serde_json::Value) -> Arc<Compiled> {
    Arc::new(compile(&policy(name, spec)).unwrap())
}

fn connector(ns: &str, name: &str, spec: serde_json::Value) -> KafkaConnector {
    let mut c = KafkaConnector::new(name, serde_json::from_value(spec).unwrap());
    c.metadata.namespace = Some(ns.into());
    c
}

fn cluster(labels: &[(&str, &str)]) -> KafkaConnectCluster {
    let mut c = KafkaConnectCluster::new(
        "main",
        serde_json::from_value::<KafkaConnectClusterSpec>(json!({"url": "http://c:8083"})).unwrap(),
    );
    c.metadata.namespace = Some("kafka".into());
    c.metadata.labels = Some(
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    let plugin = |class: &str, kind: &str| PluginStatus {
        class: class.into(),
        kind: kind.into(),
        version: None,
    };
    c.status = Some(KafkaConnectClusterStatus {
        plugins: vec![
            plugin(
                "org.apache.kafka.connect.file.FileStreamSinkConnector",
                "sink",
            ),
            plugin(
                "org.apache.kafka.connect.file.FileStreamSourceConnector",
                "source",
            ),
        ],
        ..Default::default()
    });
    c
}

fn lines(e: &Evaluation) -> Vec<String> {
    e.violations.iter().map(Violation::line).collect()
}

fn run(p: &[Arc<Compiled>], c: &KafkaConnector, cl: Option<&KafkaConnectCluster>) -> Evaluation {
    let cx = Context {
        namespace_labels: None,
        cluster: cl,
    };
    evaluate(p, &ConnectorView::of(c, cl), cx)
}

fn sink(ns: &str, name: &str, config: serde_json::Value) -> KafkaConnector {
    connector(
        ns,
        name,
        json!({"clusterRef": {"name": "main", "namespace": "kafka"}, "class": "FileStreamSink", "tasksMax": 2, "config": config}),
    )
}

#[test]
fn tasks_max_cap_names_the_field_the_rule_and_the_message() {
    let p = compiled(
        "max-tasks",
        json!({"schema": {"properties": {"tasksMax": {"maximum": 8}}},
               "message": "{namespace}/{name}: at most 8 tasks on {cluster}"}),
    );
    let mut c = sink("team-a", "orders", json!({}));
    c.spec.tasks_max = Some(16);
    assert_eq!(
        lines(&run(std::slice::from_ref(&p), &c, None)),
        [
            "policy max-tasks: spec.tasksMax: 16 is greater than the maximum of 8 — team-a/orders: at most 8 tasks on kafka/main"
        ]
    );
    c.spec.tasks_max = Some(8);
    assert!(run(&[p], &c, None).violations.is_empty());
}

#[test]
fn sinks_need_error_tolerance_and_a_dead_letter_topic() {
    let p = compiled(
        "sink-dlq",
        json!({"schema": {
            "if": {"properties": {"type": {"const": "sink"}}, "required": ["type"]},
            "then": {"properties": {"config": {
                "required": ["errors.tolerance", "errors.deadletterqueue.topic.name"],
                "properties": {"errors.tolerance": {"const": "all"}}}}}},
            "message": "sinks tolerate errors into a dead-letter topic"}),
    );
    let cl = cluster(&[]);
    let c = sink("a", "s", json!({"errors.tolerance": "none"}));
    assert_eq!(
        lines(&run(std::slice::from_ref(&p), &c, Some(&cl))),
        [
            "policy sink-dlq: spec.config.\"errors.deadletterqueue.topic.name\": is required — sinks tolerate errors into a dead-letter topic",
            "policy sink-dlq: spec.config.\"errors.tolerance\": \"all\" was expected — sinks tolerate errors into a dead-letter topic",
        ]
    );
    // Sources are not concerned; nor is a connector whose plugin type the cluster does not report.
    let mut src = c.clone();
    src.spec.class = "FileStreamSource".into();
    assert!(
        run(std::slice::from_ref(&p), &src, Some(&cl))
            .violations
            .is_empty()
    );
    assert!(
        run(std::slice::from_ref(&p), &c, None)
            .violations
            .is_empty()
    );
    let ok = sink(
        "a",
        "s",
        json!({"errors.tolerance": "all", "errors.deadletterqueue.topic.name": "dlq"}),
    );
    assert!(run(&[p], &ok, Some(&cl)).violations.is_empty());
}

#[test]
fn names_in_a_namespace_need_its_prefix() {
    let p = compiled(
        "team-a-names",
        json!({"match": {"namespaceSelector": {"matchLabels": {"team": "a"}}},
               "schema": {"properties": {"name": {"pattern": "^team-a-"}}}}),
    );
    let c = sink("team-a", "orders", json!({}));
    let team_a: BTreeMap<String, String> = [("team".to_string(), "a".to_string())].into();
    let view = ConnectorView::of(&c, None);
    let cx = Context {
        namespace_labels: Some(&team_a),
        cluster: None,
    };
    assert_eq!(
        lines(&evaluate(std::slice::from_ref(&p), &view, cx)),
        ["policy team-a-names: metadata.name: \"orders\" does not match \"^team-a-\""]
    );
    // Other namespaces are not matched.
    assert!(
        evaluate(std::slice::from_ref(&p), &view, Context::default())
            .matched
            .is_empty()
    );
    // spec.name, when set, is the name.
    let mut named = c.clone();
    named.spec.name = Some("orders-v2".into());
    assert_eq!(
        lines(&evaluate(&[p], &ConnectorView::of(&named, None), cx)),
        ["policy team-a-names: spec.name: \"orders-v2\" does not match \"^team-a-\""]
    );
}

#[test]
fn transforms_classes_from_an_allow_list_and_classes_on_a_cluster() {
    let transforms = compiled(
        "transforms",
        json!({"action": "Warn", "schema": {"properties": {"config": {
            "patternProperties": {"^transforms\\.[^.]+\\.type$": {"enum": [
                "org.apache.kafka.connect.transforms.InsertField$Value",
                "org.apache.kafka.connect.transforms.TimestampRouter"]}}}}}}),
    );
    let classes = compiled(
        "classes",
        json!({"match": {"clusterSelector": {"matchLabels": {"env": "prod"}}},
               "schema": {"properties": {"class": {"enum": ["FileStreamSink", "org.apache.kafka.connect.file.FileStreamSinkConnector"]}}}}),
    );
    let c = connector(
        "a",
        "s",
        json!({"clusterRef": {"name": "main", "namespace": "kafka"}, "class": "FileStreamSource",
               "config": {"transforms": "x", "transforms.x.type": "com.example.Evil"}}),
    );
    let prod = cluster(&[("env", "prod")]);
    let e = run(&[classes.clone(), transforms.clone()], &c, Some(&prod));
    assert_eq!(
        lines(&e),
        [
            "policy classes: spec.class: \"FileStreamSource\" is not one of \"FileStreamSink\" or \"org.apache.kafka.connect.file.FileStreamSinkConnector\"",
            "policy transforms: spec.config.\"transforms.x.type\": \"com.example.Evil\" is not one of \"org.apache.kafka.connect.transforms.InsertField$Value\" or \"org.apache.kafka.connect.transforms.TimestampRouter\"",
        ]
    );
    assert_eq!(e.denials().count(), 1);
    assert_eq!(e.warnings().count(), 1);
    // A cluster without the label is not concerned by the class list.
    let dev = cluster(&[("env", "dev")]);
    assert_eq!(
        run(&[classes, transforms], &c, Some(&dev)).matched,
        ["transforms"]
    );
}

#[test]
fn secret_values_are_named_never_shown() {
    let p = compiled(
        "refs",
        json!({"schema": {"properties": {
            "config": {"properties": {"ssl.truststore.password": {"pattern": "^\\$\\{"}}},
            "configFrom": {"propertyNames": {"pattern": "^x$"}, "additionalProperties": {"required": ["configMapKeyRef"]}}},
            "not": {"properties": {"config": {"properties": {"topics": {"const": "t"}}, "required": ["topics"]}}}}}),
    );
    let c = connector(
        "a",
        "s",
        json!({"class": "FileStreamSink",
               "config": {"ssl.truststore.password": "hunter2-secret", "topics": "t"},
               "configFrom": {"db.password": {"secretKeyRef": {"name": "db", "key": "pw"}}}}),
    );
    let out = lines(&run(&[p], &c, None)).join("\n");
    assert!(!out.contains("hunter2"), "{out}");
    assert!(
        out.contains("policy refs: spec.config.\"ssl.truststore.password\": the value of `ssl.truststore.password` does not match \"^\\$\\{\""),
        "{out}"
    );
    assert!(
        out.contains("policy refs: spec.configFrom.\"db.password\".configMapKeyRef: is required"),
        "{out}"
    );
    assert!(
        out.contains("policy refs: spec.configFrom: \"db.password\" does not match \"^x$\""),
        "{out}"
    );
    // The whole connector is named, not printed (the schema is the policy's own text).
    assert!(
        out.contains("policy refs: the connector: {\"properties\":{\"config\":{\"properties\":{\"topics\":{\"const\":\"t\"}},\"required\":[\"topics\"]}}} is not allowed for the connector"),
        "{out}"
    );
}

#[test]
fn invalid_schemas_are_refused_with_the_compilers_message() {
    let bad = policy(
        "bad",
        json!({"schema": {"properties": {"tasksMax": {"maximum": "eight"}}}}),
    );
    let errors = compile(&bad).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with(
            "spec.schema.properties.tasksMax.maximum: \"eight\" is not of type \"number\""
        ),
        "{errors:?}"
    );
    let regex = policy(
        "re",
        json!({"schema": {"properties": {"name": {"pattern": "(?=x)"}}}}),
    );
    assert!(compile(&regex).unwrap_err()[0].starts_with("spec.schema"));
    let remote = policy(
        "remote",
        json!({"schema": {"$ref": "https://example.com/s.json"}}),
    );
    assert!(compile(&remote).is_err());
    let selector = policy(
        "sel",
        json!({"schema": {}, "match": {"namespaceSelector": {"matchExpressions": [{"key": "a", "operator": "Near"}]}}}),
    );
    assert_eq!(
        compile(&selector).unwrap_err(),
        ["spec.match.namespaceSelector: Invalid expression operator"]
    );
}

#[test]
fn unknown_placeholders_are_warned_about() {
    let p = policy(
        "p",
        json!({"schema": {}, "message": "{name} in {team} ${file:x}"}),
    );
    assert_eq!(
        warnings(&p.spec),
        [
            "spec.message: {team} is not a placeholder and stays as written (known: {policy}, {name}, {namespace}, {class}, {type}, {cluster})"
        ]
    );
    let c = sink("a", "s", json!({}));
    assert_eq!(
        ConnectorView::of(&c, None).fill("{name} in {team} {", "p"),
        "s in {team} {"
    );
}

#[test]
fn class_patterns() {
    assert!(glob("*Sink*", "FileStreamSinkConnector"));
    assert!(glob(
        "io.debezium.*",
        "io.debezium.connector.postgresql.PostgresConnector"
    ));
    assert!(!glob("io.debezium.*", "FileStreamSink"));
    assert!(glob("FileStreamSink", "FileStreamSink"));
    assert!(!glob("FileStreamSink", "FileStreamSinkX"));
    assert!(glob("*", ""));
    assert!(!glob("a*a", "a"));
    let p = compiled(
        "p",
        json!({"match": {"classes": ["*FileStreamSinkConnector"]}, "schema": false}),
    );
    let cl = cluster(&[]);
    let c = sink("a", "s", json!({}));
    // Matched through the class the cluster resolves the alias to.
    assert_eq!(run(std::slice::from_ref(&p), &c, Some(&cl)).matched, ["p"]);
    assert!(run(&[p], &c, None).matched.is_empty());
}

#[test]
fn compiled_once_per_generation_and_decisions_remembered() {
    let mut compiler = Compiler::default();
    let mut p = policy(
        "p",
        json!({"schema": {"properties": {"tasksMax": {"maximum": 1}}}}),
    );
    let a = compiler.set([&p]);
    // A status change (same generation) keeps the set and what it remembered.
    p.status = Some(KafkaConnectorPolicyStatus::default());
    let b = compiler.set([&p]);
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(compiler.compilations, 1);
    let c = sink("a", "s", json!({}));
    let e1 = a.evaluate_connector(&c, Context::default());
    let e2 = a.evaluate_connector(&c, Context::default());
    assert!(Arc::ptr_eq(&e1, &e2));
    assert_eq!(e1.violations.len(), 1);
    p.metadata.generation = Some(2);
    p.spec.schema = json!({});
    let d = compiler.set([&p]);
    assert!(!Arc::ptr_eq(&a, &d));
    assert_eq!(compiler.compilations, 2);
    assert!(
        d.evaluate_connector(&c, Context::default())
            .violations
            .is_empty()
    );
    // A broken policy is kept aside with its errors.
    let mut bad = policy("bad", json!({"schema": {"type": 5}}));
    bad.metadata.uid = Some("uid-bad".into());
    let e = compiler.set([&p, &bad]);
    assert_eq!(e.policies().len(), 1);
    assert!(e.broken.contains_key("bad"));
    assert!(compiler.set([]).is_empty());
}
