//! Kafka Connect's answer, once every local rule passes: the config it is asked about, its errors one line per
//! key, unknown keys and classes, PASSWORD literals never echoed, and an outage failing closed or open.

use std::collections::BTreeMap;

use serde_json::json;
use webhook::FailurePolicy;
use webhook::admission::{self, ConnectOutcome, Reason, Webhook};
use webhook::testing::{FixedConnect, block_on, validated};

use super::{connector, ok, review, review_in, source_spec, validate, world};

#[test]
fn a_valid_connector_reaches_connect_with_the_effective_config() {
    let connect = FixedConnect::new(ok());
    let d = block_on(admission::review(
        Webhook::Validate,
        &review(
            "KafkaConnector",
            "CREATE",
            Some(connector("orders-src", source_spec())),
            None,
        ),
        &world(),
        &connect,
        FailurePolicy::Closed,
    ))
    .unwrap()
    .decision;
    let [check] = connect.asked().try_into().expect("one Connect check");
    assert_eq!(check.class, "FileStreamSource");
    assert_eq!(check.settings.url, "http://127.0.0.1:8083");
    assert_eq!(
        check.config,
        BTreeMap::from(
            [
                ("connector.class", "FileStreamSource"),
                ("file", "/tmp/orders.txt"),
                ("name", "orders-src"),
                ("tasks.max", "1"),
                ("topic", "orders"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        )
    );
    assert!(d.allowed && d.warnings.is_empty(), "{d:?}");
    assert_eq!(d.reason, Reason::Valid);
}

#[test]
fn connect_errors_become_one_line_per_key() {
    let mut spec = source_spec();
    spec["class"] = json!("FileStreamSink");
    spec["config"] = json!({"file": "/tmp/x"});
    let d = validate(
        connector("sink", spec),
        &validated(
            &[
                ("topics", "LIST"),
                ("topics.regex", "STRING"),
                ("file", "STRING"),
            ],
            &[
                ("topics", "Must configure one of topics or topics.regex"),
                (
                    "topics.regex",
                    "Must configure one of topics or topics.regex",
                ),
            ],
        ),
    );
    assert!(!d.allowed);
    assert_eq!(d.reason, Reason::ConnectRejected);
    assert_eq!(
        d.lines,
        vec![
            "Kafka Connect (KafkaConnectCluster team-a/local) rejected the config of FileStreamSink:",
            "topics: Must configure one of topics or topics.regex",
            "topics.regex: Must configure one of topics or topics.regex",
        ]
    );
}

#[test]
fn unknown_keys_get_a_did_you_mean() {
    let mut spec = source_spec();
    spec["config"]["topcis"] = json!("x");
    spec["config"]["transforms.route.type"] = json!("x");
    spec["config"]["completely.unrelated.setting"] = json!("x");
    let d = validate(connector("src", spec), &ok());
    assert!(d.allowed);
    assert_eq!(
        d.warnings,
        vec![
            "spec.config.\"completely.unrelated.setting\" is not a setting of FileStreamSource (Kafka Connect ignores unknown keys)",
            "spec.config.\"topcis\" is not a setting of FileStreamSource; did you mean \"topic\"? (Kafka Connect ignores unknown keys)",
        ]
    );
}

#[test]
fn password_literals_are_warned_about_and_never_echoed() {
    let secret = "Sup3r-Secr3t-Value";
    let mut spec = source_spec();
    spec["class"] = json!("MirrorSourceConnector");
    spec["config"] = json!({
        "ssl.truststore.password": secret,
        "ssl.keystore.password": "${file:/etc/kafka/secrets.properties:ks}",
        "source.cluster.alias": "a"
    });
    let keys = [
        ("ssl.truststore.password", "PASSWORD"),
        ("ssl.keystore.password", "PASSWORD"),
        ("source.cluster.alias", "STRING"),
    ];
    // Connect's message echoes the value: it must be redacted.
    let echo = format!("Invalid value {secret} for configuration ssl.truststore.password");
    let d = validate(
        connector("mm", spec.clone()),
        &validated(&keys, &[("ssl.truststore.password", &echo)]),
    );
    assert!(!d.allowed);
    let all = format!("{d:?}");
    assert!(!all.contains(secret), "{all}");
    assert!(d.lines[1].starts_with("ssl.truststore.password: Invalid value [redacted]"));
    assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
    assert!(d.warnings[0].starts_with(
        "spec.config.\"ssl.truststore.password\" is a PASSWORD-type setting given as a literal value"
    ));

    // Outages echo nothing either, open or closed.
    let outage = ConnectOutcome::Unavailable {
        reason: "server_error",
        message: format!("boom {{ssl.truststore.password={secret}}}"),
    };
    for policy in [FailurePolicy::Closed, FailurePolicy::Open] {
        let r = review_in(
            &world(),
            Webhook::Validate,
            &review(
                "KafkaConnector",
                "CREATE",
                Some(connector("mm", spec.clone())),
                None,
            ),
            &outage,
            policy,
        );
        let all = format!("{:?}", (&r.decision, r.response()));
        assert!(!all.contains(secret), "{all}");
    }
}

#[test]
fn unknown_class_names_installed_classes_and_the_closest() {
    let mut spec = source_spec();
    spec["class"] = json!("FileStreamSorce");
    let d = validate(
        connector("src", spec),
        &ConnectOutcome::UnknownClass {
            installed: vec![
                "org.apache.kafka.connect.file.FileStreamSinkConnector".into(),
                "org.apache.kafka.connect.file.FileStreamSourceConnector".into(),
                "org.apache.kafka.connect.mirror.MirrorSourceConnector".into(),
            ],
        },
    );
    assert_eq!(d.reason, Reason::PluginNotFound);
    assert_eq!(
        d.lines,
        vec![
            "connector class \"FileStreamSorce\" is not installed on KafkaConnectCluster team-a/local; did you mean \"org.apache.kafka.connect.file.FileStreamSourceConnector\"?",
            "installed connector classes: org.apache.kafka.connect.file.FileStreamSinkConnector, org.apache.kafka.connect.file.FileStreamSourceConnector, org.apache.kafka.connect.mirror.MirrorSourceConnector",
        ]
    );
}

#[test]
fn connect_outage_fails_closed_or_open() {
    let outage = ConnectOutcome::Unavailable {
        reason: "unreachable",
        message: "PUT /connector-plugins/FileStreamSource/config/validate: cannot connect: Connection refused (os error 111)".into(),
    };
    let body = review(
        "KafkaConnector",
        "CREATE",
        Some(connector("src", source_spec())),
        None,
    );
    let d = review_in(
        &world(),
        Webhook::Validate,
        &body,
        &outage,
        FailurePolicy::Closed,
    )
    .decision;
    assert!(!d.allowed);
    assert_eq!(d.reason, Reason::ConnectUnavailable);
    assert_eq!(
        d.lines[0],
        "cannot validate the config on KafkaConnectCluster team-a/local: PUT /connector-plugins/FileStreamSource/config/validate: cannot connect: Connection refused (os error 111)"
    );
    let r = review_in(
        &world(),
        Webhook::Validate,
        &body,
        &outage,
        FailurePolicy::Open,
    );
    let (d, resp) = (&r.decision, r.response());
    assert!(d.allowed && resp.allowed);
    assert!(d.warnings[0].starts_with(
        "admitted without Kafka Connect validation (fail-open): cannot validate the config on KafkaConnectCluster team-a/local"
    ));
}
