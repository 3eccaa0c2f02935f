use rstest::rstest;
use serde_json::json;

use super::*;
use crate::input::split_documents;

const AUTO_CONNECTOR: &str = include_str!("../../testdata/convert/autoconnector.yaml");
const STRIMZI_V1BETA2: &str = include_str!("../../testdata/convert/strimzi-v1beta2.yaml");
const STRIMZI_V1: &str = include_str!("../../testdata/convert/strimzi-v1.yaml");
const EXTERNAL: &str = include_str!("../../testdata/convert/external.yaml");

fn load(text: &str) -> Value {
    split_documents("t.yaml", text)
        .remove(0)
        .value
        .expect("test data parses")
}

/// The conversion of the first document of `text`, which must be a kind cwctl converts.
fn converted(text: &str, cluster_ref: Option<&str>) -> Converted {
    convert(&load(text), cluster_ref)
        .expect("a kind cwctl converts")
        .expect("converts")
}

fn has(warnings: &[String], part: &str) -> bool {
    warnings.iter().any(|w| w.contains(part))
}

#[rstest]
#[case::a_generic_auto_connector_keeps_its_config_and_says_what_kafka_connect_ignored(
    AUTO_CONNECTOR,
    Some("main"),
    vec![json!({
        "apiVersion": "connectwarden.io/v1alpha1", "kind": "KafkaConnector",
        "metadata": {"name": "app-logs", "namespace": "logging"},
        "spec": {
            "clusterRef": {"name": "main"},
            "class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
            "config": {
                "topics": "app-logs,audit-logs",
                "file": "/tmp/app-logs.txt",
                "key.converter": "org.apache.kafka.connect.storage.StringConverter",
                "value.converter": "org.apache.kafka.connect.storage.StringConverter",
                "batch.size": "500",
                "max.tasks": "2"
            }
        }
    })],
    &[
        "\"max.tasks\" is not a Kafka Connect setting (did you mean \"tasks.max\"?)",
        "a generated name",
        "spec[\"connector.config\"].\"batch.size\": 500 written as the string \"500\"",
    ]
)]
#[case::a_strimzi_v1beta2_connector_maps_field_by_field(
    STRIMZI_V1BETA2,
    Some("main"),
    vec![json!({
        "apiVersion": "connectwarden.io/v1alpha1", "kind": "KafkaConnector",
        "metadata": {"name": "license-source", "namespace": "kafka", "labels": {"team": "data"}},
        "spec": {
            "clusterRef": {"name": "main"},
            "class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
            "tasksMax": 2,
            "config": {"file": "/opt/kafka/LICENSE", "topic": "license-lines", "batch.size": "100"},
            "state": "paused",
            "autoRestart": {"enabled": true, "maxRestarts": 5}
        }
    })],
    &["strimzi.io/use-connector-resources", "spec.autoRestart"]
)]
#[case::the_external_operators_address_labels_become_a_cluster(
    EXTERNAL,
    None,
    vec![
        json!({
            "apiVersion": "connectwarden.io/v1alpha1", "kind": "KafkaConnectCluster",
            "metadata": {"name": "connect-api.kafka", "namespace": "kafka"},
            "spec": {"url": "http://connect-api.kafka:8083"}
        }),
        json!({
            "apiVersion": "connectwarden.io/v1alpha1", "kind": "KafkaConnector",
            "metadata": {"name": "file-source-sample", "namespace": "kafka",
                         "labels": {"app.kubernetes.io/name": "external-connect-operator"}},
            "spec": {
                "clusterRef": {"name": "connect-api.kafka"},
                "class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
                "tasksMax": 2,
                "config": {"file": "/opt/kafka/LICENSE", "topic": "connect-test", "type": "source"}
            }
        }),
    ],
    &["as a config key \"tasksMax\""]
)]
fn converts_to_objects_with_warnings(
    #[case] text: &str,
    #[case] cluster_ref: Option<&str>,
    #[case] objects: Vec<Value>,
    #[case] warnings: &[&str],
) {
    let c = converted(text, cluster_ref);
    assert_eq!(c.objects, objects);
    for part in warnings {
        assert!(has(&c.warnings, part), "{part}");
    }
}

#[test]
fn without_a_cluster_ref_an_auto_connector_uses_the_default_cluster() {
    let c = converted(AUTO_CONNECTOR, None);
    assert!(c.objects[0]["spec"].get("clusterRef").is_none());
    assert!(has(&c.warnings, "KAFKA_CONNECT_ADDR"));
}

#[test]
fn a_strimzi_v1_connector_keeps_version_and_offsets_and_the_label_names_the_cluster() {
    let c = converted(STRIMZI_V1, None);
    let spec = &c.objects[0]["spec"];
    assert_eq!(spec["clusterRef"], json!({"name": "my-connect"}));
    assert_eq!(spec["version"], "4.3.1");
    assert_eq!(
        spec["listOffsets"],
        json!({"toConfigMap": {"name": "notice-sink-offsets"}})
    );
    assert!(spec.get("state").is_none());
    assert!(c.objects[0]["metadata"].get("labels").is_none());
    assert!(has(
        &c.warnings,
        "http://my-connect-connect-api.<namespace>.svc:8083"
    ));
}

#[test]
fn other_kinds_are_not_converted_and_broken_ones_say_why() {
    assert!(convert(&json!({"apiVersion": "v1", "kind": "ConfigMap"}), None).is_none());
    let e = convert(
        &json!({"apiVersion": "kafka.strimzi.io/v1beta2", "kind": "KafkaConnector",
                "metadata": {"name": "x"}, "spec": {"config": {}}}),
        None,
    )
    .unwrap()
    .unwrap_err();
    assert_eq!(e, "spec.class is missing");
}

#[test]
fn lists_and_maps_in_config_are_left_out_with_a_warning() {
    let c = convert(
        &json!({"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaConnector",
                "metadata": {"name": "x"},
                "spec": {"class": "C", "config": {"a": [1], "b": {"c": 1}, "d": true, "e": null}}}),
        Some("m"),
    )
    .unwrap()
    .unwrap();
    assert_eq!(c.objects[0]["spec"]["config"], json!({"d": "true"}));
    assert!(has(&c.warnings, "\"a\": a list"));
    assert!(has(&c.warnings, "\"b\": a map"));
    assert!(has(&c.warnings, "\"e\": null left out"));
}
