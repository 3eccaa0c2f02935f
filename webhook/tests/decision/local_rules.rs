//! The validating webhook's own rules, before Kafka Connect is asked: value types, names, namespaces, what an
//! update may change.

use rstest::rstest;
use serde_json::{Value, json};
use webhook::FailurePolicy;
use webhook::admission::{self, ConnectOutcome, Decision, Objects, Reason, Webhook};
use webhook::testing::{self, FixedConnect, block_on};

use super::{
    NS, connector, connector_in, decide, ok, on_cluster, review, review_in, source_spec, validate,
    world,
};

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

#[rstest]
#[case::metadata_only(
    "UPDATE",
    |c: &mut Value| {
        c["metadata"]["labels"] = json!({"team": "payments"});
        c["metadata"]["finalizers"] = json!([]);
    },
    (true, Reason::Unchanged)
)]
#[case::delete("DELETE", |_: &mut Value| {}, (true, Reason::Deleting))]
// Pausing touches nothing Connect validates: no Connect call either.
#[case::pause(
    "UPDATE",
    |c: &mut Value| c["spec"]["state"] = json!("paused"),
    (true, Reason::Unchanged)
)]
#[case::an_unknown_state(
    "UPDATE",
    |c: &mut Value| c["spec"]["state"] = json!("sleeping"),
    (false, Reason::InvalidObject)
)]
#[case::a_spec_change_while_deleting(
    "UPDATE",
    |c: &mut Value| {
        c["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        c["spec"]["class"] = json!("Changed");
    },
    (true, Reason::Deleting)
)]
fn updates_that_leave_spec_alone_and_deletions_never_need_connect(
    #[case] operation: &'static str,
    #[case] change: fn(&mut Value),
    #[case] want: (bool, Reason),
) {
    // The cluster does not even exist: the answer must not depend on it.
    let spec = json!({"clusterRef": {"name": "gone"}, "class": "X", "config": {}});
    let old = connector("orders", spec);
    let mut new = old.clone();
    change(&mut new);
    let unavailable = ConnectOutcome::Unavailable {
        reason: "unreachable",
        message: "down".into(),
    };
    let d = decide(
        Webhook::Validate,
        &review(
            "KafkaConnector",
            operation,
            (operation != "DELETE").then_some(new),
            Some(old),
        ),
        &unavailable,
    );
    assert_eq!((d.allowed, d.reason), want);
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
        w.add_cluster(testing::cached_cluster(ns, name, json!({"url": url})));
    }
    w.add_connector(testing::cached_connector(
        "team-b",
        "orders-owner",
        json!({"clusterRef": {"name": "main"}, "name": "orders", "class": "FileStreamSink", "config": {}}),
    ));
    w
}

/// The decision on creating team-a/orders, named "orders", on team-a/local in `w`.
fn orders_on_local_in(w: &Objects) -> Decision {
    let create = review(
        "KafkaConnector",
        "CREATE",
        Some(connector("orders", source_spec())),
        None,
    );
    review_in(w, Webhook::Validate, &create, &ok(), FailurePolicy::Closed).decision
}

#[test]
fn connector_names_are_unique_per_kafka_connect_whichever_cluster_object_names_it() {
    let d = orders_on_local_in(&two_clusters("http://connect:8083", "http://connect:8083"));
    assert_eq!((d.allowed, d.reason), (false, Reason::NameConflict));
    assert_eq!(
        d.message(),
        "connector name \"orders\" on KafkaConnectCluster team-a/local is already claimed by KafkaConnector \
         team-b/orders-owner through KafkaConnectCluster team-b/main, which points at the same Kafka Connect \
         (http://connect:8083/)"
    );

    // The default cluster, when KAFKA_CONNECT_ADDR names the same Kafka Connect.
    let mut w = two_clusters("http://connect:8083", "http://other:8083");
    w.add_connector(testing::cached_connector(
        "team-c",
        "orders-default",
        json!({"name": "orders", "class": "FileStreamSink", "config": {}}),
    ));
    assert!(orders_on_local_in(&w).allowed);
    w.default_url = Some("http://Connect:8083/".into());
    let d = orders_on_local_in(&w);
    assert_eq!((d.allowed, d.reason), (false, Reason::NameConflict));
    assert_eq!(
        d.message(),
        "connector name \"orders\" on KafkaConnectCluster team-a/local is already claimed by KafkaConnector \
         team-c/orders-default through the default Kafka Connect cluster (KAFKA_CONNECT_ADDR), which points at \
         the same Kafka Connect (http://connect:8083/)"
    );
}

#[rstest]
#[case::case_and_a_trailing_slash(
    "http://connect:8083",
    "HTTP://Connect:8083/",
    "http://connect:8083/"
)]
#[case::the_default_http_port("http://connect", "http://connect:80/", "http://connect/")]
#[case::the_default_https_port_under_a_path(
    "https://connect/base",
    "https://CONNECT:443/base/",
    "https://connect/base/"
)]
fn spellings_of_one_url_are_one_kafka_connect(
    #[case] local: &str,
    #[case] main: &str,
    #[case] endpoint: &str,
) {
    let d = orders_on_local_in(&two_clusters(local, main));
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

#[rstest]
#[case::another_port("http://connect:8083", "http://connect:8084")]
#[case::another_host("http://connect:8083", "http://other:8083")]
#[case::another_scheme("http://connect", "https://connect")]
#[case::another_path("http://connect:8083/a", "http://connect:8083/b")]
fn another_kafka_connects_names_are_its_own(#[case] local: &str, #[case] main: &str) {
    let d = orders_on_local_in(&two_clusters(local, main));
    assert!(d.allowed, "{local} {main}: {d:?}");
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
            Some(testing::cluster(
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
