//! The real API server serves connect-warden's CRDs: apply, printer columns, `kubectl explain`, and the
//! schema's own checks — in a namespace no webhook serves, so the API server alone answers.

use connect_warden_e2e::*;

fn no_webhook_namespace() -> String {
    // The shared webhook skips namespaces carrying this label, and no private webhook claims "none".
    namespace("kube-api", &[("connectwarden.io/e2e-private", "none")])
}

#[test]
fn crds_are_established_with_short_names() {
    let out = kubectl(&[
        "get",
        "crd",
        "kafkaconnectors.connectwarden.io",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Established\")].status}",
    ])
    .expect_ok();
    assert_eq!(out.stdout, "True");
    let out = kubectl(&[
        "api-resources",
        "--api-group=connectwarden.io",
        "--no-headers",
    ])
    .expect_ok();
    assert!(out.stdout.contains("cwconnector,cwk"), "{}", out.stdout);
    assert!(
        out.stdout.contains("kafkaconnectclusters"),
        "{}",
        out.stdout
    );
}

#[test]
fn apply_and_get_show_printer_columns() {
    let ns = no_webhook_namespace();
    let yaml = format!(
        r#"apiVersion: connectwarden.io/v1alpha1
kind: KafkaConnectCluster
metadata: {{name: local, namespace: {ns}}}
spec:
  url: http://127.0.0.1:1
---
apiVersion: connectwarden.io/v1alpha1
kind: KafkaConnector
metadata: {{name: orders-source, namespace: {ns}}}
spec:
  clusterRef: {{name: local}}
  class: FileStreamSource
  tasksMax: 1
  config:
    topic: orders
    file: /tmp/orders.txt
"#
    );
    let out = apply(&yaml, &[]).expect_ok();
    assert!(
        out.stdout
            .contains("kafkaconnector.connectwarden.io/orders-source created"),
        "{}",
        out.stdout
    );
    let out = kubectl(&["get", "kafkaconnectors", "-n", &ns]).expect_ok();
    let header: Vec<&str> = out
        .stdout
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAME", "CLUSTER", "CLASS", "STATE", "TASKS", "READY", "AGE"]
    );
    let row = out.stdout.lines().nth(1).unwrap();
    assert!(
        row.starts_with("orders-source")
            && row.contains("local")
            && row.contains("FileStreamSource"),
        "{row}"
    );
    let out = kubectl(&[
        "get",
        "cwk",
        "orders-source",
        "-n",
        &ns,
        "-o",
        "jsonpath={.spec.config.topic}",
    ])
    .expect_ok();
    assert_eq!(out.stdout, "orders");
    let out = kubectl(&["get", "kafkaconnectclusters", "-n", &ns]).expect_ok();
    assert!(
        out.stdout.lines().next().unwrap().contains("URL"),
        "{}",
        out.stdout
    );
}

#[test]
fn explain_shows_field_descriptions() {
    let out = kubectl(&["explain", "kafkaconnector.spec.config"]).expect_ok();
    assert!(
        out.stdout
            .contains("Values are strings, as Kafka Connect takes them"),
        "{}",
        out.stdout
    );
    let out = kubectl(&["explain", "kafkaconnectcluster.spec.allowedNamespaces"]).expect_ok();
    assert!(
        out.stdout.contains("Default: this namespace only"),
        "{}",
        out.stdout
    );
}

#[test]
fn schema_rejects_wrong_types_without_a_webhook() {
    let ns = no_webhook_namespace();
    let yaml = format!(
        r#"apiVersion: connectwarden.io/v1alpha1
kind: KafkaConnector
metadata: {{name: bad-tasks, namespace: {ns}}}
spec:
  clusterRef: {{name: local}}
  class: FileStreamSource
  tasksMax: "two"
"#
    );
    let out = apply(&yaml, &[]).expect_err();
    assert!(out.stderr.contains("spec.tasksMax"), "{}", out.stderr);
    assert!(
        out.stderr.contains("must be of type integer") || out.stderr.contains("Invalid value"),
        "{}",
        out.stderr
    );

    let zero = yaml
        .replace("\"two\"", "0")
        .replace("bad-tasks", "zero-tasks");
    let out = apply(&zero, &[]).expect_err();
    assert!(
        out.stderr.contains("spec.tasksMax")
            && out.stderr.contains("should be greater than or equal to 1"),
        "{}",
        out.stderr
    );

    let state = yaml
        .replace("tasksMax: \"two\"", "state: sleeping")
        .replace("bad-tasks", "bad-state");
    let out = apply(&state, &[]).expect_err();
    assert!(
        out.stderr.contains("spec.state") && out.stderr.contains("supported values"),
        "{}",
        out.stderr
    );
}

#[test]
fn connector_name_is_immutable() {
    let ns = no_webhook_namespace();
    let yaml = |name: &str| {
        format!(
            "apiVersion: connectwarden.io/v1alpha1\nkind: KafkaConnector\nmetadata: {{name: renamed, namespace: {ns}}}\nspec:\n  class: FileStreamSource\n  name: {name}\n"
        )
    };
    apply(&yaml("first"), &[]).expect_ok();
    let out = apply(&yaml("second"), &[]).expect_err();
    assert_eq!(
        out.stderr.trim_end(),
        "The KafkaConnector \"renamed\" is invalid: spec.name: Forbidden: field is immutable: the connector on \
         Kafka Connect keeps its name"
    );
}
