//! The real API server serves connect-warden's CRDs: apply, printer columns, `kubectl explain`, and the
//! schema's own checks — in a namespace no webhook serves, so the API server alone answers.

use connect_warden_e2e::objects::{cluster, connector, file_source, fill, yaml_stream};
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
    let yaml = yaml_stream(&[
        cluster(&ns, "local", "http://127.0.0.1:1").yaml(),
        file_source(&ns, "orders-source", "orders", "/tmp/orders.txt")
            .on("local")
            .tasks_max(1)
            .yaml(),
    ]);
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
        [
            "NAME", "CLUSTER", "CLASS", "STATE", "VERSION", "TASKS", "READY", "LAG", "AGE"
        ]
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
    // Raw text: a string, a zero and an unknown state are what the schema must refuse, and the typed
    // builders cannot write the first and the last.
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
        connector(&ns, "renamed", "FileStreamSource")
            .without_cluster_ref()
            .connect_name(name)
            .yaml()
    };
    apply(&yaml("first"), &[]).expect_ok();
    let out = apply(&yaml("second"), &[]).expect_err();
    assert_eq!(
        out.stderr.trim_end(),
        "The KafkaConnector \"renamed\" is invalid: spec.name: Forbidden: field is immutable: the connector on \
         Kafka Connect keeps its name"
    );
}

#[test]
fn config_from_names_one_object_in_the_connectors_own_namespace() {
    let ns = no_webhook_namespace();
    let connector = |reference: &str| {
        fill(
            include_str!("fixtures/kube_api/config-from.yaml"),
            &[("NAMESPACE", &ns), ("REFERENCE", reference)],
        )
    };
    // There is no field for another namespace: kubectl's strict field validation refuses one.
    let out = kubectl_with_stdin(
        &["apply", "-f", "-"],
        Some(&connector(
            "{secretKeyRef: {name: creds, key: file, namespace: other}}",
        )),
    )
    .expect_err();
    assert!(
        out.stderr
            .contains(r#"unknown field "spec.configFrom.file.secretKeyRef.namespace""#),
        "{}",
        out.stderr
    );
    // One source per key.
    let out = kubectl_with_stdin(
        &["apply", "-f", "-"],
        Some(&connector(
            "{secretKeyRef: {name: creds, key: file}, configMapKeyRef: {name: paths, key: file}}",
        )),
    )
    .expect_err();
    assert!(
        out.stderr
            .contains("must validate one and only one schema (oneOf)"),
        "{}",
        out.stderr
    );
    kubectl_with_stdin(
        &["apply", "-f", "-"],
        Some(&connector("{configMapKeyRef: {name: paths, key: file}}")),
    )
    .expect_ok();
}
