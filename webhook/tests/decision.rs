//! The admission pipeline, fed AdmissionReviews as the API server sends them, with the cluster's objects in
//! memory and Kafka Connect answering as told.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use serde_json::{Value, json};
use shared::crd::{KafkaConnectCluster, KafkaConnector};
use webhook::FailurePolicy;
use webhook::admission::{
    self, ConnectOutcome, Decision, Objects, Reason, Reviewed, Webhook, parse_review,
};
use webhook::testing::{self, FixedConnect, Review, block_on, validated};

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

fn cluster_obj(ns: &str, name: &str, spec: Value) -> Value {
    testing::cluster(ns, name, spec)
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
    let c: KafkaConnectCluster = serde_json::from_value(cluster_obj(
        NS,
        "local",
        json!({"url": "http://127.0.0.1:8083", "allowedNamespaces": ["team-b"]}),
    ))
    .unwrap();
    w.add_cluster(c);
    let other: KafkaConnector = serde_json::from_value(connector_in(
        "team-b",
        "orders-owner",
        json!({"clusterRef": {"name": "local", "namespace": NS}, "name": "orders", "class": "FileStreamSink", "config": {}}),
    ))
    .unwrap();
    w.add_connector(other);
    w
}

fn source_keys() -> Vec<(&'static str, &'static str)> {
    vec![
        ("name", "STRING"),
        ("connector.class", "STRING"),
        ("tasks.max", "INT"),
        ("topic", "STRING"),
        ("file", "STRING"),
        ("batch.size", "INT"),
    ]
}

fn ok() -> ConnectOutcome {
    validated(&source_keys(), &[])
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

// ----- mutation --------------------------------------------------------------------------------------------

#[test]
fn numbers_and_booleans_become_strings_with_one_warning() {
    let mut spec = source_spec();
    spec["config"]["batch.size"] = json!(200);
    spec["config"]["errors.log.enable"] = json!(true);
    spec["config"]["ratio"] = json!(1.50);
    let d = mutate(connector("orders", spec));
    assert!(d.allowed);
    assert_eq!(d.reason, Reason::Mutated);
    assert_eq!(
        patch_json(&d),
        json!([
            {"op": "replace", "path": "/spec/config/batch.size", "value": "200"},
            {"op": "replace", "path": "/spec/config/errors.log.enable", "value": "true"},
            {"op": "replace", "path": "/spec/config/ratio", "value": "1.5"},
        ])
    );
    assert_eq!(d.warnings.len(), 1);
    assert_eq!(
        d.warnings[0],
        "spec.config: numbers and booleans converted to strings: batch.size: 200 → \"200\", \
         errors.log.enable: true → \"true\", ratio: 1.5 → \"1.5\"; quote them in Git (e.g. batch.size: \"200\") \
         so GitOps diffs stay clean"
    );
}

#[test]
fn keys_with_slashes_and_tildes_are_escaped_in_the_patch() {
    let mut spec = source_spec();
    spec["config"]["a/b~c"] = json!(1);
    let d = mutate(connector("orders", spec));
    assert_eq!(
        patch_json(&d),
        json!([{"op": "replace", "path": "/spec/config/a~1b~0c", "value": "1"}])
    );
}

#[test]
fn string_configs_need_no_patch() {
    let d = mutate(connector("orders", source_spec()));
    assert!(d.allowed && d.patch.is_empty() && d.warnings.is_empty());
    let resp = serde_json::to_value(
        review_in(
            &world(),
            Webhook::Mutate,
            &review(
                "KafkaConnector",
                "CREATE",
                Some(connector("orders", source_spec())),
                None,
            ),
            &ok(),
            FailurePolicy::Closed,
        )
        .response()
        .into_review(),
    )
    .unwrap();
    assert_eq!(resp["response"]["uid"], "7f0c2f4e-uid");
    assert_eq!(resp["response"]["allowed"], true);
    assert!(resp["response"].get("patch").is_none());
}

#[test]
fn reserved_keys_move_to_empty_spec_fields() {
    let spec = json!({
        "clusterRef": {"name": "local"},
        "class": "FileStreamSource",
        "config": {"topic": "t", "tasks.max": "3", "name": "orders-v2"}
    });
    let d = mutate(connector("orders", spec));
    assert!(d.allowed, "{d:?}");
    assert_eq!(
        patch_json(&d),
        json!([
            {"op": "add", "path": "/spec/name", "value": "orders-v2"},
            {"op": "remove", "path": "/spec/config/name"},
            {"op": "add", "path": "/spec/tasksMax", "value": 3},
            {"op": "remove", "path": "/spec/config/tasks.max"},
        ])
    );
    assert_eq!(
        d.warnings,
        vec![
            "spec.config.\"name\" moved to spec.name (orders-v2): it belongs in the spec field; move it there in Git too",
            "spec.config.\"tasks.max\" moved to spec.tasksMax (3): it belongs in the spec field; move it there in Git too",
        ]
    );
}

#[test]
fn reserved_key_repeating_the_field_is_removed_and_a_conflict_denied() {
    let mut spec = source_spec();
    spec["config"]["connector.class"] =
        json!("org.apache.kafka.connect.file.FileStreamSourceConnector");
    let d = mutate(connector("orders", spec));
    assert!(d.allowed);
    assert_eq!(
        patch_json(&d),
        json!([{"op": "remove", "path": "/spec/config/connector.class"}])
    );

    let mut spec = source_spec();
    spec["config"]["tasks.max"] = json!(4);
    let d = mutate(connector("orders", spec.clone()));
    assert!(!d.allowed);
    assert_eq!(d.reason, Reason::ReservedKeyConflict);
    assert_eq!(
        d.message(),
        "spec.config.\"tasks.max\" is \"4\" but spec.tasksMax is 1: set it in spec.tasksMax only"
    );
    // The validating webhook says the same when the mutating one was bypassed.
    let d = validate(connector("orders", spec), &ok());
    assert!(!d.allowed);
    assert!(
        d.message()
            .contains("spec.config.\"tasks.max\" is \"4\" but spec.tasksMax is 1")
    );
}

#[test]
fn mutation_leaves_other_kinds_deletions_and_finalizer_updates_alone() {
    let body = review(
        "KafkaConnectCluster",
        "CREATE",
        Some(cluster_obj(NS, "c", json!({"url": "http://x:1"}))),
        None,
    );
    assert_eq!(
        decide(Webhook::Mutate, &body, &ok()).reason,
        Reason::NotApplicable
    );
    let mut deleting = connector("orders", json!({"class": "X", "config": {"a": 1}}));
    deleting["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    let d = mutate(deleting);
    assert!(d.allowed && d.patch.is_empty());
    assert_eq!(d.reason, Reason::Deleting);
}

// ----- validation: local checks ----------------------------------------------------------------------------

#[test]
fn non_string_values_are_denied_naming_key_and_type() {
    let mut spec = source_spec();
    spec["config"]["nested"] = json!({"a": 1});
    spec["config"]["list"] = json!(["a"]);
    spec["config"]["nothing"] = Value::Null;
    let d = validate(connector("orders-new", spec), &ok());
    assert!(!d.allowed);
    assert_eq!(d.reason, Reason::InvalidConfig);
    assert_eq!(
        d.lines,
        vec![
            "spec.config.\"list\": must be a string, got list",
            "spec.config.\"nested\": must be a string, got object",
            "spec.config.\"nothing\": must be a string, got null",
        ]
    );
}

#[test]
fn updates_that_leave_spec_alone_and_deletions_never_need_connect() {
    // The cluster does not even exist: the answer must not depend on it.
    let spec = json!({"clusterRef": {"name": "gone"}, "class": "X", "config": {}});
    let old = connector("orders", spec.clone());
    let mut new = old.clone();
    new["metadata"]["labels"] = json!({"team": "payments"});
    new["metadata"]["finalizers"] = json!([]);
    let unavailable = ConnectOutcome::Unavailable {
        reason: "unreachable",
        message: "down".into(),
    };
    let d = decide(
        Webhook::Validate,
        &review("KafkaConnector", "UPDATE", Some(new), Some(old.clone())),
        &unavailable,
    );
    assert!(d.allowed);
    assert_eq!(d.reason, Reason::Unchanged);
    let d = decide(
        Webhook::Validate,
        &review("KafkaConnector", "DELETE", None, Some(old.clone())),
        &unavailable,
    );
    assert_eq!((d.allowed, d.reason), (true, Reason::Deleting));
    // Pausing touches nothing Connect validates: no Connect call either.
    let mut paused = old.clone();
    paused["spec"]["state"] = json!("paused");
    let d = decide(
        Webhook::Validate,
        &review("KafkaConnector", "UPDATE", Some(paused), Some(old.clone())),
        &unavailable,
    );
    assert_eq!((d.allowed, d.reason), (true, Reason::Unchanged));
    let mut bad_state = old.clone();
    bad_state["spec"]["state"] = json!("sleeping");
    let d = decide(
        Webhook::Validate,
        &review(
            "KafkaConnector",
            "UPDATE",
            Some(bad_state),
            Some(old.clone()),
        ),
        &unavailable,
    );
    assert_eq!((d.allowed, d.reason), (false, Reason::InvalidObject));
    let mut deleting = old.clone();
    deleting["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    deleting["spec"]["class"] = json!("Changed");
    let d = decide(
        Webhook::Validate,
        &review("KafkaConnector", "UPDATE", Some(deleting), Some(old)),
        &unavailable,
    );
    assert_eq!((d.allowed, d.reason), (true, Reason::Deleting));
}

#[test]
fn cluster_must_allow_the_namespace() {
    let mut spec = source_spec();
    spec["clusterRef"] = json!({"name": "local", "namespace": NS});
    let d = validate(connector_in("team-c", "orders", spec), &ok());
    assert_eq!(d.reason, Reason::NamespaceNotAllowed);
    assert_eq!(
        d.message(),
        "KafkaConnectCluster team-a/local does not allow connectors from namespace \"team-c\"; add it to the cluster's spec.allowedNamespaces"
    );

    let mut spec = source_spec();
    spec.as_object_mut().unwrap().remove("clusterRef");
    let d = validate(connector("orders", spec), &ok());
    assert_eq!(d.reason, Reason::ClusterNotFound);
    assert!(d.message().contains("no default Kafka Connect cluster"));
}

#[test]
fn connector_names_are_unique_per_cluster() {
    // team-b/orders-owner already claims "orders" on team-a/local.
    let d = validate(connector("orders", source_spec()), &ok());
    assert!(!d.allowed);
    assert_eq!(d.reason, Reason::NameConflict);
    assert_eq!(
        d.message(),
        "connector name \"orders\" on KafkaConnectCluster team-a/local is already claimed by KafkaConnector team-b/orders-owner"
    );
    // The owner itself may be updated.
    let mut spec = source_spec();
    spec["clusterRef"]["namespace"] = json!(NS);
    spec["name"] = json!("orders");
    let body = review(
        "KafkaConnector",
        "UPDATE",
        Some(connector_in("team-b", "orders-owner", spec.clone())),
        Some(connector_in(
            "team-b",
            "orders-owner",
            json!({"clusterRef": {"name": "local", "namespace": NS}, "name": "orders", "class": "FileStreamSink", "config": {}}),
        )),
    );
    let d = decide(Webhook::Validate, &body, &ok());
    assert!(d.allowed, "{d:?}");
}

/// team-a/local at `local` and team-b/main at `main`; team-b/orders-owner claims "orders" through main.
fn two_clusters(local: &str, main: &str) -> Objects {
    let mut w = Objects::default();
    for (ns, name, url) in [(NS, "local", local), ("team-b", "main", main)] {
        w.add_cluster(serde_json::from_value(cluster_obj(ns, name, json!({"url": url}))).unwrap());
    }
    w.add_connector(
        serde_json::from_value(connector_in(
            "team-b",
            "orders-owner",
            json!({"clusterRef": {"name": "main"}, "name": "orders", "class": "FileStreamSink", "config": {}}),
        ))
        .unwrap(),
    );
    w
}

#[test]
fn connector_names_are_unique_per_kafka_connect_whichever_cluster_object_names_it() {
    let create = review(
        "KafkaConnector",
        "CREATE",
        Some(connector("orders", source_spec())),
        None,
    );
    let decide_in = |w: &Objects| {
        review_in(w, Webhook::Validate, &create, &ok(), FailurePolicy::Closed).decision
    };

    let d = decide_in(&two_clusters("http://connect:8083", "http://connect:8083"));
    assert_eq!((d.allowed, d.reason), (false, Reason::NameConflict));
    assert_eq!(
        d.message(),
        "connector name \"orders\" on KafkaConnectCluster team-a/local is already claimed by KafkaConnector \
         team-b/orders-owner through KafkaConnectCluster team-b/main, which points at the same Kafka Connect \
         (http://connect:8083/)"
    );
    // Spellings of one URL are one Kafka Connect.
    for (local, main, endpoint) in [
        (
            "http://connect:8083",
            "HTTP://Connect:8083/",
            "http://connect:8083/",
        ),
        ("http://connect", "http://connect:80/", "http://connect/"),
        (
            "https://connect/base",
            "https://CONNECT:443/base/",
            "https://connect/base/",
        ),
    ] {
        let d = decide_in(&two_clusters(local, main));
        assert_eq!(
            (d.allowed, d.reason),
            (false, Reason::NameConflict),
            "{local} {main}"
        );
        assert!(
            d.message().ends_with(&format!(
                "which points at the same Kafka Connect ({endpoint})"
            )),
            "{d:?}"
        );
    }
    // Another Kafka Connect: its names are its own.
    for (local, main) in [
        ("http://connect:8083", "http://connect:8084"),
        ("http://connect:8083", "http://other:8083"),
        ("http://connect", "https://connect"),
        ("http://connect:8083/a", "http://connect:8083/b"),
    ] {
        let d = decide_in(&two_clusters(local, main));
        assert!(d.allowed, "{local} {main}: {d:?}");
    }

    // The default cluster, when KAFKA_CONNECT_ADDR names the same Kafka Connect.
    let mut w = two_clusters("http://connect:8083", "http://other:8083");
    w.add_connector(
        serde_json::from_value(connector_in(
            "team-c",
            "orders-default",
            json!({"name": "orders", "class": "FileStreamSink", "config": {}}),
        ))
        .unwrap(),
    );
    assert!(decide_in(&w).allowed);
    w.default_url = Some("http://Connect:8083/".into());
    let d = decide_in(&w);
    assert_eq!((d.allowed, d.reason), (false, Reason::NameConflict));
    assert_eq!(
        d.message(),
        "connector name \"orders\" on KafkaConnectCluster team-a/local is already claimed by KafkaConnector \
         team-c/orders-default through the default Kafka Connect cluster (KAFKA_CONNECT_ADDR), which points at \
         the same Kafka Connect (http://connect:8083/)"
    );
}

#[test]
fn class_tasks_and_names_are_checked() {
    let mut spec = source_spec();
    spec["class"] = json!(" ");
    spec["tasksMax"] = json!(0);
    spec["name"] = json!("a/b");
    let d = validate(connector("x", spec), &ok());
    assert_eq!(
        d.lines,
        vec![
            "spec.class must name a connector class, e.g. FileStreamSource",
            "spec.tasksMax must be at least 1, got 0",
            "connector name \"a/b\" must not contain '/'",
        ]
    );
    let mut spec = source_spec();
    spec["name"] = json!("bell\u{7}");
    let d = validate(connector("x", spec), &ok());
    assert!(d.message().contains("control characters"), "{d:?}");
}

#[test]
fn the_connector_name_is_immutable() {
    let old = connector("orders-x", source_spec());
    let mut new = old.clone();
    new["spec"]["name"] = json!("renamed");
    let d = decide(
        Webhook::Validate,
        &review("KafkaConnector", "UPDATE", Some(new), Some(old)),
        &ok(),
    );
    assert_eq!(
        d.message(),
        "the connector name is immutable: it was \"orders-x\", now \"renamed\""
    );
}

#[test]
fn kafka_connect_is_asked_only_once_every_local_rule_passes() {
    let connect = FixedConnect::new(ok());
    let run = |webhook: Webhook, body: Vec<u8>| {
        block_on(admission::review(
            webhook,
            &body,
            &world(),
            &connect,
            FailurePolicy::Closed,
        ))
        .unwrap()
        .decision
    };
    let create = |object: Value| review("KafkaConnector", "CREATE", Some(object), None);
    // The mutating webhook never asks; neither do a local problem, a cluster not there yet, or a cluster.
    run(
        Webhook::Mutate,
        create(connector("orders-src", source_spec())),
    );
    let mut spec = source_spec();
    spec["tasksMax"] = json!(0);
    run(Webhook::Validate, create(connector("orders-src", spec)));
    run(Webhook::Validate, on_cluster(json!({"name": "not-yet"})));
    run(
        Webhook::Validate,
        review(
            "KafkaConnectCluster",
            "CREATE",
            Some(cluster_obj(
                NS,
                "prod",
                json!({"url": "http://connect:8083"}),
            )),
            None,
        ),
    );
    assert!(connect.asked().is_empty(), "{:?}", connect.asked());
    let d = run(
        Webhook::Validate,
        create(connector("orders-src", source_spec())),
    );
    assert_eq!((d.allowed, d.reason), (true, Reason::Valid));
    assert_eq!(connect.asked().len(), 1);
}

// ----- validation: Kafka Connect's answer ------------------------------------------------------------------

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

// ----- KafkaConnectCluster ---------------------------------------------------------------------------------

fn validate_cluster(spec: Value, w: &Objects) -> Decision {
    review_in(
        w,
        Webhook::Validate,
        &review(
            "KafkaConnectCluster",
            "CREATE",
            Some(cluster_obj(NS, "prod", spec)),
            None,
        ),
        &ok(),
        FailurePolicy::Closed,
    )
    .decision
}

#[test]
fn clusters_need_a_valid_url_and_existing_secrets() {
    let d = validate_cluster(json!({"url": "connect:8083"}), &world());
    assert!(!d.allowed);
    assert_eq!(
        d.message(),
        "spec.url: url \"connect:8083\": scheme must be http or https"
    );
    let spec = json!({
        "url": "https://connect:8083",
        "authentication": {"type": "basic", "secretRef": {"name": "creds"}},
        "tls": {"caConfigMapRef": {"name": "ca"}, "insecureSkipVerify": true}
    });
    // Secrets and ConfigMaps that do not exist yet are ordering, not an error: admitted, each named.
    let d = validate_cluster(spec.clone(), &world());
    assert_eq!((d.allowed, d.reason), (true, Reason::ReferenceNotFound));
    assert_eq!(d.warnings.len(), 3);
    assert!(d.warnings[0].contains("insecureSkipVerify"));
    assert_eq!(
        d.warnings[1..],
        [
            "spec.authentication.secretRef: Secret team-a/creds not found; admitted, the controller reports the \
             cluster not Ready until it exists",
            "spec.tls.caConfigMapRef: ConfigMap team-a/ca not found; admitted, the controller reports the cluster \
             not Ready until it exists",
        ]
    );

    let mut w = world();
    w.add_secret(secret("creds", &[("username", "u")]));
    let spec = json!({"url": "https://connect:8083", "authentication": {"type": "basic", "secretRef": {"name": "creds"}}});
    let d = validate_cluster(spec, &w);
    assert_eq!(
        d.message(),
        "KafkaConnectCluster team-a/prod: Secret creds has no key \"password\""
    );
    let d = validate_cluster(json!({"url": "http://connect:8083"}), &w);
    assert!(d.allowed && d.warnings.is_empty());
}

#[test]
fn a_clusters_kafka_block_is_checked_like_the_rest_of_its_spec() {
    // A malformed bootstrap list is a denial, every bad entry named.
    let d = validate_cluster(
        json!({"url": "http://connect:8083", "kafka": {"bootstrapServers": "kafka-0:9092,kafka-1"}}),
        &world(),
    );
    assert_eq!((d.allowed, d.reason), (false, Reason::ClusterMisconfigured));
    assert_eq!(
        d.message(),
        "spec.kafka.bootstrapServers: malformed bootstrap server \"kafka-1\": no port (expected host:port)"
    );
    let d = validate_cluster(
        json!({"url": "http://connect:8083", "kafka": {"bootstrapServers": "kafka-0:9092", "offsetsTopic": "connect offsets"}}),
        &world(),
    );
    assert_eq!(
        (d.allowed, d.message()),
        (
            false,
            "spec.kafka.offsetsTopic: a topic name has only ASCII letters, digits, '.', '_' and '-'".to_string()
        )
    );
    // A missing Secret is a warning, as for the REST API's.
    let spec = json!({"url": "http://connect:8083", "kafka": {
        "bootstrapServers": "kafka-0:9093",
        "authentication": {"type": "scram-sha-512", "secretRef": {"name": "kafka-user"}},
        "tls": {"caSecretRef": {"name": "kafka-ca"}}}});
    let d = validate_cluster(spec.clone(), &world());
    assert_eq!((d.allowed, d.reason), (true, Reason::ReferenceNotFound));
    assert_eq!(
        d.warnings,
        [
            "spec.kafka.authentication.secretRef: Secret team-a/kafka-user not found; admitted, the controller \
             reports the cluster not Ready until it exists",
            "spec.kafka.tls.caSecretRef: Secret team-a/kafka-ca not found; admitted, the controller reports the \
             cluster not Ready until it exists",
        ]
    );
    // Present, but without the key: the key is named.
    let mut w = world();
    w.add_secret(secret("kafka-user", &[("username", "lag")]));
    w.add_secret(secret("kafka-ca", &[("ca.crt", "not pem")]));
    let d = validate_cluster(spec, &w);
    assert!(!d.allowed);
    assert_eq!(
        d.message(),
        "KafkaConnectCluster team-a/prod: Secret kafka-user has no key \"password\"\n\
         KafkaConnectCluster team-a/prod: Secret team-a/kafka-ca key \"ca.crt\" (spec.kafka.tls.caSecretRef) holds no \
         PEM certificate (expected \"-----BEGIN CERTIFICATE-----\" blocks)"
    );
    // SASL PLAIN without TLS is admitted with a warning.
    let d = validate_cluster(
        json!({"url": "http://connect:8083", "kafka": {"bootstrapServers": "kafka-0:9092",
            "authentication": {"type": "plain", "secretRef": {"name": "kafka-user"}}}}),
        &w,
    );
    assert!(
        d.warnings[0].starts_with("spec.kafka uses SASL PLAIN without TLS"),
        "{:?}",
        d.warnings
    );
}

// ----- malformed reviews -----------------------------------------------------------------------------------

#[test]
fn malformed_reviews_are_clear_errors() {
    let good = review(
        "KafkaConnector",
        "CREATE",
        Some(connector("src", source_spec())),
        None,
    );
    let truncated = &good[..good.len() / 2];
    let e = parse_review(truncated).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("malformed AdmissionReview: EOF while parsing"),
        "{e}"
    );

    let e = parse_review(
        br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":null}"#,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("expected kind AdmissionReview, apiVersion admission.k8s.io/v1"),
        "{e}"
    );

    let e = parse_review(br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#)
        .unwrap_err();
    assert_eq!(e.to_string(), "the AdmissionReview has no request");

    let odd = String::from_utf8(good.clone())
        .unwrap()
        .replace("\"CREATE\"", "\"PATCH\"");
    let e = parse_review(odd.as_bytes()).unwrap_err();
    assert!(e.to_string().contains("unknown variant `PATCH`"), "{e}");

    let odd = String::from_utf8(good)
        .unwrap()
        .replace("\"uid\":\"7f0c2f4e-uid\"", "\"uid\":17");
    assert!(parse_review(odd.as_bytes()).is_err());
}

#[test]
fn wrong_spec_shapes_are_denied_not_crashed() {
    for spec in [
        json!("a string"),
        json!({"class": 5}),
        json!({"class": "X", "tasksMax": "many"}),
        json!({"class": "X", "config": ["a"]}),
        json!({"class": "X", "state": "sleeping"}),
        json!(null),
    ] {
        let d = validate(connector("x", spec.clone()), &ok());
        assert!(!d.allowed, "{spec}");
        assert_eq!(d.reason, Reason::InvalidObject, "{spec}: {d:?}");
        assert!(d.lines[0].starts_with("spec: "), "{:?}", d.lines);
        let m = mutate(connector("x", spec));
        assert!(m.allowed);
    }
    let mut no_spec = connector("x", json!({}));
    no_spec.as_object_mut().unwrap().remove("spec");
    assert_eq!(validate(no_spec, &ok()).message(), "spec is missing");
}

// ----- ordering: objects that do not exist yet -------------------------------------------------------------

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
    w.add_cluster(
        serde_json::from_value(cluster_obj(
            NS,
            "secured",
            json!({"url": "https://connect.example:8083",
                   "authentication": {"type": "basic", "secretRef": {"name": "creds"}},
                   "tls": {"caConfigMapRef": {"name": "ca"}}}),
        ))
        .unwrap(),
    );
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

#[test]
fn a_connector_before_its_cluster_is_admitted_with_a_warning_naming_the_closest() {
    let tail = "admitted without Kafka Connect validation, the controller validates the connector and reports \
                it once the cluster exists";
    for dry_run in [false, true] {
        let body = |cluster: Value| {
            let r = on_cluster_review(cluster);
            if dry_run {
                r.dry_run().body()
            } else {
                r.body()
            }
        };
        // A typo: the closest existing cluster in that namespace is named.
        let d = validate_in(&world(), &body(json!({"name": "locl"})));
        assert_eq!((d.allowed, d.reason), (true, Reason::ClusterNotFound));
        assert_eq!(
            d.warnings,
            vec![format!(
                "spec.clusterRef: KafkaConnectCluster team-a/locl not found (did you mean \"local\"?); {tail}"
            )]
        );
        // Nothing close: the clusters that exist there.
        let d = validate_in(&world(), &body(json!({"name": "warehouse"})));
        assert!(d.allowed);
        assert_eq!(
            d.warnings,
            vec![format!(
                "spec.clusterRef: KafkaConnectCluster team-a/warehouse not found (KafkaConnectClusters in namespace \
                 team-a: local); {tail}"
            )]
        );
        // None at all in that namespace.
        let d = validate_in(
            &world(),
            &body(json!({"name": "local", "namespace": "team-z"})),
        );
        assert!(d.allowed);
        assert_eq!(
            d.warnings,
            vec![format!(
                "spec.clusterRef: KafkaConnectCluster team-z/local not found (there is no KafkaConnectCluster in \
                 namespace team-z); {tail}"
            )]
        );
    }
}

#[test]
fn local_rules_stay_strict_without_the_cluster() {
    let mut spec = source_spec();
    spec["clusterRef"] = json!({"name": "not-yet"});
    spec["config"]["nested"] = json!({"a": 1});
    spec["tasksMax"] = json!(0);
    let d = validate(connector("orders-src", spec), &ok());
    assert_eq!((d.allowed, d.reason), (false, Reason::InvalidConfig));
    assert_eq!(
        d.lines,
        vec![
            "spec.config.\"nested\": must be a string, got object",
            "spec.tasksMax must be at least 1, got 0",
        ]
    );
    // A clash of connector names on a cluster that does not exist yet is still a clash.
    let mut w = world();
    w.add_connector(
        serde_json::from_value(connector(
            "first",
            json!({"clusterRef": {"name": "not-yet"}, "name": "orders", "class": "FileStreamSink", "config": {}}),
        ))
        .unwrap(),
    );
    let mut spec = source_spec();
    spec["clusterRef"] = json!({"name": "not-yet"});
    spec["name"] = json!("orders");
    let d = validate_in(
        &w,
        &review(
            "KafkaConnector",
            "CREATE",
            Some(connector("second", spec)),
            None,
        ),
    );
    assert_eq!((d.allowed, d.reason), (false, Reason::NameConflict));
}

#[test]
fn a_connector_whose_cluster_lacks_its_secrets_is_admitted_without_validation() {
    let d = validate_in(&secured_world(), &on_cluster(json!({"name": "secured"})));
    assert_eq!((d.allowed, d.reason), (true, Reason::ReferenceNotFound));
    assert_eq!(
        d.warnings,
        vec![
            "Kafka Connect validation skipped: KafkaConnectCluster team-a/secured cannot reach Kafka Connect with its \
             settings yet: Secret team-a/creds (its spec.authentication.secretRef), ConfigMap team-a/ca (its \
             spec.tls.caConfigMapRef) not found; the controller validates the connector and reports it once they exist"
        ]
    );
    // Once both exist, Connect is asked with the cluster's credentials and CA.
    let mut w = secured_world();
    w.add_secret(secret("creds", &[("username", "u"), ("password", "p")]));
    w.add_config_map(config_map(
        "ca",
        &[("ca.crt", &stack::pki::Ca::new("test ca").unwrap().cert_pem)],
    ));
    let connect = FixedConnect::new(ok());
    block_on(admission::review(
        Webhook::Validate,
        &on_cluster(json!({"name": "secured"})),
        &w,
        &connect,
        FailurePolicy::Closed,
    ))
    .unwrap();
    let [check] = connect.asked().try_into().expect("one Connect check");
    assert_eq!(check.settings.url, "https://connect.example:8083");
    assert!(check.settings.auth.is_some() && check.settings.ca_pem.is_some());
    // Still strict: a namespace the cluster does not allow.
    let mut spec = source_spec();
    spec["clusterRef"] = json!({"name": "secured", "namespace": NS});
    let d = validate_in(
        &w,
        &review(
            "KafkaConnector",
            "CREATE",
            Some(connector_in("team-b", "x", spec)),
            None,
        ),
    );
    assert_eq!((d.allowed, d.reason), (false, Reason::NamespaceNotAllowed));
}

#[test]
fn a_ca_without_a_certificate_is_denied_for_the_cluster_and_its_connectors() {
    let spec =
        json!({"url": "https://connect.example:8083", "tls": {"caConfigMapRef": {"name": "ca"}}});
    let mut w = secured_world();
    w.add_secret(secret("creds", &[("username", "u"), ("password", "p")]));
    w.add_config_map(config_map(
        "ca",
        &[("ca.crt", "# Replace with the PEM CA certificate\n")],
    ));
    let d = validate_cluster(spec.clone(), &w);
    assert_eq!((d.allowed, d.reason), (false, Reason::ClusterMisconfigured));
    assert_eq!(
        d.message(),
        "KafkaConnectCluster team-a/prod: ConfigMap team-a/ca key \"ca.crt\" (spec.tls.caConfigMapRef) holds no PEM \
         certificate (expected \"-----BEGIN CERTIFICATE-----\" blocks)"
    );
    // A connector on a cluster whose CA went bad after the cluster was admitted: the real cause.
    let d = validate_in(&w, &on_cluster(json!({"name": "secured"})));
    assert_eq!((d.allowed, d.reason), (false, Reason::ClusterMisconfigured));
    assert_eq!(
        d.message(),
        "KafkaConnectCluster team-a/secured: ConfigMap team-a/ca key \"ca.crt\" (spec.tls.caConfigMapRef) holds no \
         PEM certificate (expected \"-----BEGIN CERTIFICATE-----\" blocks)"
    );

    // A PEM block that is no certificate, in a Secret with its own key.
    let mut w = world();
    w.add_secret(secret(
        "ca-secret",
        &[(
            "bundle.pem",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )],
    ));
    let d = validate_cluster(
        json!({"url": "https://c:8083", "tls": {"caSecretRef": {"name": "ca-secret", "key": "bundle.pem"}}}),
        &w,
    );
    assert!(!d.allowed);
    assert!(
        d.message().starts_with(
            "KafkaConnectCluster team-a/prod: Secret team-a/ca-secret key \"bundle.pem\" (spec.tls.caSecretRef) holds \
             a certificate (number 1) that is not a valid X.509 CA certificate: "
        ),
        "{}",
        d.message()
    );

    // A client certificate Secret without PEM in it; the key's content never appears.
    let mut w = world();
    w.add_secret(secret(
        "client",
        &[
            ("tls.crt", "not a cert"),
            ("tls.key", "s3cr3t-key-material"),
        ],
    ));
    let d = validate_cluster(
        json!({"url": "https://c:8083", "tls": {"clientCertSecretRef": {"name": "client"}}}),
        &w,
    );
    assert_eq!(
        d.lines,
        vec![
            "KafkaConnectCluster team-a/prod: Secret team-a/client key \"tls.crt\" (spec.tls.clientCertSecretRef) holds \
             no PEM certificate (expected \"-----BEGIN CERTIFICATE-----\" blocks)",
            "KafkaConnectCluster team-a/prod: Secret team-a/client key \"tls.key\" (spec.tls.clientCertSecretRef) holds \
             no PEM private key (expected a \"-----BEGIN PRIVATE KEY-----\" block)",
        ]
    );

    // Broken PEM is said so, without the parser's text.
    let mut w = world();
    w.add_config_map(config_map(
        "ca",
        &[("ca.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n")],
    ));
    let d = validate_cluster(
        json!({"url": "https://c:8083", "tls": {"caConfigMapRef": {"name": "ca"}}}),
        &w,
    );
    assert_eq!(
        d.message(),
        "KafkaConnectCluster team-a/prod: ConfigMap team-a/ca key \"ca.crt\" (spec.tls.caConfigMapRef) is not valid \
         PEM (a BEGIN/END line or the base64 between is broken)"
    );

    // A good CA and a good client certificate pass.
    let ca = stack::pki::Ca::new("test ca").unwrap();
    let leaf = ca.server(&["client"]).unwrap();
    let mut w = world();
    w.add_config_map(config_map("ca", &[("ca.crt", &ca.cert_pem)]));
    w.add_secret(secret(
        "client",
        &[("tls.crt", &leaf.cert_pem), ("tls.key", &leaf.key_pem)],
    ));
    let d = validate_cluster(
        json!({"url": "https://c:8083", "tls": {"caConfigMapRef": {"name": "ca"}, "clientCertSecretRef": {"name": "client"}}}),
        &w,
    );
    assert_eq!((d.allowed, d.reason), (true, Reason::Valid), "{d:?}");
}

#[test]
fn settings_tls_refuses_are_a_cluster_problem_not_an_outage() {
    let e = shared::Error::ClientConfig("CA bundle holds no PEM certificate".into());
    for policy in [FailurePolicy::Closed, FailurePolicy::Open] {
        let d = review_in(
            &world(),
            Webhook::Validate,
            &on_cluster(json!({"name": "local"})),
            &ConnectOutcome::from_error(&e, Vec::new()),
            policy,
        )
        .decision;
        assert_eq!((d.allowed, d.reason), (false, Reason::ClusterMisconfigured));
        assert_eq!(
            d.message(),
            "cannot validate the config on KafkaConnectCluster team-a/local: invalid Kafka Connect client settings: \
             CA bundle holds no PEM certificate; fix the KafkaConnectCluster's TLS settings"
        );
    }
}

// ----- numbers that JSON decoding may have changed ---------------------------------------------------------

/// A mutate review whose `spec.config.id` is the number `raw`, exactly as written in the body.
fn with_raw_number(raw: &str) -> Vec<u8> {
    let mut spec = source_spec();
    spec["config"]["id"] = json!("@RAW@");
    spec["config"]["batch.size"] = json!(5);
    let body = review("KafkaConnector", "CREATE", Some(connector("n", spec)), None);
    String::from_utf8(body)
        .unwrap()
        .replace("\"@RAW@\"", raw)
        .into_bytes()
}

#[test]
fn numbers_that_may_have_been_rounded_are_denied_asking_to_quote_them() {
    for (raw, why) in [
        // What kubectl and the API server send after decoding 12345678901234567890, 123456789012345678901234
        // and 0.12345678901234567890 into floats.
        (
            "12345678901234567000",
            "an integer beyond the signed 64-bit range, which JSON decoding turns into a rounded float",
        ),
        (
            "1.2345678901234569e+23",
            "a whole number beyond 2^53 as a float: JSON decoding has rounded it",
        ),
        (
            "0.12345678901234568",
            "more than 15 significant digits, which a 64-bit float does not keep exactly",
        ),
        // Sent as written (another client): the text shows the loss too.
        (
            "123456789012345678901234567890",
            "an integer beyond the signed 64-bit range, which JSON decoding turns into a rounded float",
        ),
        (
            "0.12345678901234567890",
            "more than 15 significant digits, which a 64-bit float does not keep exactly",
        ),
    ] {
        let d = decide(Webhook::Mutate, &with_raw_number(raw), &ok());
        assert_eq!(
            (d.allowed, d.reason),
            (false, Reason::InvalidConfig),
            "{raw}"
        );
        assert_eq!(
            d.message(),
            format!(
                "spec.config.\"id\": the number arrived as {raw} and cannot be stored exactly ({why}); quote it in Git so it is kept as written"
            )
        );
        assert!(d.patch.is_empty());
    }
    // Exact numbers are converted as before, digit for digit.
    for raw in ["9007199254740993", "-9223372036854775808", "0.1", "1.5e3"] {
        let d = decide(Webhook::Mutate, &with_raw_number(raw), &ok());
        assert!(d.allowed, "{raw}: {d:?}");
        let patch = patch_json(&d);
        let id = patch
            .as_array()
            .unwrap()
            .iter()
            .find(|op| op["path"] == "/spec/config/id")
            .unwrap();
        assert_eq!(
            id["value"],
            json!(serde_json::from_str::<Value>(raw).unwrap().to_string())
        );
    }
    let d = decide(Webhook::Mutate, &with_raw_number("9007199254740993"), &ok());
    assert!(
        d.warnings[0].contains("id: 9007199254740993 → \"9007199254740993\""),
        "{:?}",
        d.warnings
    );
}

/// An installation that serves only `team-b`.
struct ServesTeamB(Objects);

impl admission::ObjectSource for ServesTeamB {
    async fn snapshot<'a>(&'a self, req: &'a admission::Request) -> admission::Snapshot<'a> {
        self.0.snapshot(req).await
    }
    fn serves(&self, namespace: &str) -> bool {
        namespace == "team-b"
    }
}

#[test]
fn an_object_in_a_namespace_not_served_is_admitted_with_a_warning_not_judged() {
    // Nothing in the (empty) caches: judged, it would be denied for its missing cluster.
    let body = review(
        "KafkaConnector",
        "CREATE",
        Some(connector("orders", source_spec())),
        None,
    );
    let r = block_on(admission::review(
        Webhook::Validate,
        &body,
        &ServesTeamB(Objects::default()),
        &FixedConnect::new(ConnectOutcome::Unavailable {
            reason: "test",
            message: "must not be asked".into(),
        }),
        FailurePolicy::Closed,
    ))
    .unwrap();
    assert_eq!(
        (r.decision.allowed, r.decision.reason),
        (true, Reason::NamespaceNotServed)
    );
    assert_eq!(
        r.decision.warnings,
        [
            "namespace \"team-a\" is not served by this connect-warden installation (see its \
             --watch-namespaces): admitted without checks, and no controller of this installation \
             will act on it"
        ]
    );
}

#[test]
fn a_cluster_in_a_namespace_not_watched_is_named_as_such_not_as_missing() {
    let mut w = world();
    w.unwatched.insert("kafka".into());
    let mut spec = source_spec();
    spec["clusterRef"] = json!({"name": "shared", "namespace": "kafka"});
    let body = review(
        "KafkaConnector",
        "CREATE",
        Some(connector("orders", spec)),
        None,
    );
    let d = review_in(&w, Webhook::Validate, &body, &ok(), FailurePolicy::Closed).decision;
    assert_eq!((d.allowed, d.reason), (false, Reason::NamespaceNotAllowed));
    assert_eq!(
        d.message(),
        "spec.clusterRef: KafkaConnectCluster kafka/shared is in namespace \"kafka\", which this \
         connect-warden installation does not watch (see its --watch-namespaces); name a \
         KafkaConnectCluster in a watched namespace"
    );
}
