//! Day-2 operations at admission: `spec.alterOffsets` (a malformed or oversized `offsets.json` in a
//! ConfigMap that exists is denied; one that does not exist yet is admitted with a warning; the applying
//! user must be able to read it) and `spec.version` (a range that parses, a cluster whose Kafka Connect reads
//! it, a version installed there, a warning when several are installed and none is pinned).

use rstest::rstest;
use serde_json::{Value, json};
use shared::config_from::SourceKind;
use shared::crd::{KafkaConnectCluster, KafkaConnectClusterStatus, PluginStatus};
use webhook::FailurePolicy;
use webhook::admission::{
    self, ConnectOutcome, Decision, Objects, ReadCheck, Reason, Webhook, read_checks,
};
use webhook::testing::{self, FixedConnect, Review, block_on, validated};

const NS: &str = "team-a";
const CLASS: &str = "dev.example.VersionedSourceConnector";

/// Offsets documents, as a ConfigMap's `offsets.json` holds them.
const POSITION: &str = include_str!("fixtures/offsets/position.json");
const NO_OFFSET: &str = include_str!("fixtures/offsets/no-offset.json");
const RESET: &str = include_str!("fixtures/offsets/reset.json");

fn cluster(name: &str, version: &str, plugins: &[&str]) -> KafkaConnectCluster {
    let mut c = testing::cached_cluster(NS, name, json!({"url": "http://127.0.0.1:8083"}));
    let mut list: Vec<PluginStatus> = plugins
        .iter()
        .map(|v| PluginStatus {
            class: CLASS.into(),
            kind: "source".into(),
            version: Some(v.to_string()),
        })
        .collect();
    list.push(PluginStatus {
        class: "org.apache.kafka.connect.file.FileStreamSourceConnector".into(),
        kind: "source".into(),
        version: Some(version.into()),
    });
    c.status = Some(KafkaConnectClusterStatus {
        version: Some(version.into()),
        plugins: list,
        ..Default::default()
    });
    c
}

fn world() -> Objects {
    let mut w = Objects::default();
    w.add_cluster(cluster("main", "4.3.1", &["1.0.0", "2.0.0"]));
    w.add_cluster(cluster("old", "3.9.1", &["1.0.0"]));
    w
}

fn run(w: &Objects, review: Review) -> (Decision, FixedConnect) {
    let keys = testing::connector_keys(&[
        ("topic", "STRING"),
        ("file", "STRING"),
        ("connector.plugin.version", "STRING"),
    ]);
    let connect = FixedConnect::new(validated(&keys, &[]));
    let d = block_on(admission::review(
        Webhook::Validate,
        &review.namespace(NS).user("alice").body(),
        w,
        &connect,
        FailurePolicy::Closed,
    ))
    .unwrap()
    .decision;
    (d, connect)
}

fn source(extra: Value) -> Value {
    let mut spec = json!({
        "clusterRef": {"name": "main"},
        "class": "FileStreamSource",
        "tasksMax": 1,
        "config": {"topic": "orders", "file": "/data/orders.txt"}
    });
    spec.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    spec
}

fn create(w: &Objects, spec: Value) -> (Decision, FixedConnect) {
    run(w, Review::create(testing::connector(NS, "c", spec)))
}

fn alter_from(name: &str) -> Value {
    json!({"alterOffsets": {"fromConfigMap": {"name": name}}})
}

fn with_offsets(text: &str) -> Objects {
    let mut w = world();
    w.add_config_map(testing::config_map(
        NS,
        "offsets",
        &[("offsets.json", text)],
    ));
    w
}

#[test]
fn a_well_formed_offsets_document_is_admitted() {
    let w = with_offsets(POSITION);
    let (d, connect) = create(&w, source(alter_from("offsets")));
    assert!(d.allowed, "{}", d.message());
    assert_eq!(connect.asked().len(), 1);
}

#[test]
fn a_malformed_offsets_document_is_denied_naming_the_configmap() {
    let w = with_offsets(NO_OFFSET);
    let (d, connect) = create(&w, source(alter_from("offsets")));
    assert_eq!((d.allowed, d.reason), (false, Reason::InvalidConfig));
    assert_eq!(
        d.message(),
        "spec.alterOffsets.fromConfigMap: ConfigMap team-a/offsets: offsets.json: offsets[0] has no \"offset\" (use null to reset the partition)"
    );
    assert!(connect.asked().is_empty(), "denied before Connect is asked");
    let w = with_offsets("not json");
    let (d, _) = create(&w, source(alter_from("offsets")));
    assert_eq!(
        d.message(),
        "spec.alterOffsets.fromConfigMap: ConfigMap team-a/offsets: offsets.json is not valid JSON: expected ident at line 1 column 2"
    );
}

#[test]
fn an_oversized_document_or_a_missing_key_is_denied() {
    let big = format!(
        r#"{{"offsets":[{{"partition":{{"f":"{}"}},"offset":null}}]}}"#,
        "x".repeat(600 * 1024)
    );
    let (d, _) = create(&with_offsets(&big), source(alter_from("offsets")));
    assert!(!d.allowed);
    assert!(
        d.message().ends_with("bytes; at most 512 KiB is accepted"),
        "{}",
        d.message()
    );
    let mut w = world();
    w.add_config_map(testing::config_map(NS, "offsets", &[("other", "x")]));
    let (d, _) = create(&w, source(alter_from("offsets")));
    assert_eq!(
        d.message(),
        "spec.alterOffsets.fromConfigMap: ConfigMap team-a/offsets has no key \"offsets.json\""
    );
}

#[test]
fn a_configmap_not_there_yet_is_admitted_with_a_warning() {
    let (d, connect) = create(&world(), source(alter_from("later")));
    assert!(d.allowed);
    assert_eq!(
        d.warnings,
        vec!["spec.alterOffsets.fromConfigMap: ConfigMap team-a/later not found (yet); a connectwarden.io/offsets alter request fails while it is missing".to_string()]
    );
    assert_eq!(connect.asked().len(), 1);
}

#[test]
fn the_user_must_be_able_to_read_the_offsets_configmap() {
    let mut w = with_offsets(RESET);
    w.deny_read(SourceKind::ConfigMap, NS, "offsets");
    let review = Review::create(testing::connector(NS, "c", source(alter_from("offsets"))));
    assert_eq!(
        read_checks(&admission::parse_review(&review.clone().namespace(NS).body()).unwrap()),
        [ReadCheck {
            kind: SourceKind::ConfigMap,
            namespace: NS.into(),
            name: "offsets".into()
        }]
        .into()
    );
    let (d, _) = run(&w, review);
    assert_eq!(
        (d.allowed, d.reason),
        (false, Reason::ReferenceAccessDenied)
    );
    assert_eq!(
        d.message(),
        "spec.alterOffsets.fromConfigMap: user \"alice\" may not get ConfigMap team-a/offsets; an offsets alter may only read a ConfigMap the applying user can read"
    );
    // An update that leaves alterOffsets as it was does not ask again.
    let old = testing::connector(NS, "c", source(alter_from("offsets")));
    let mut new = old.clone();
    new["spec"]["tasksMax"] = json!(2);
    let body = Review::update(new, old).namespace(NS).body();
    assert!(read_checks(&admission::parse_review(&body).unwrap()).is_empty());
}

/// The connector with `alterOffsets` from ConfigMap "offsets" and, if given, the offsets annotation.
fn annotated(offsets: Option<&str>) -> Value {
    let mut c = testing::connector(NS, "c", source(alter_from("offsets")));
    if let Some(v) = offsets {
        c["metadata"]["annotations"] = json!({"connectwarden.io/offsets": v});
    }
    c
}

#[test]
fn a_new_alter_request_by_annotation_alone_checks_the_document_it_would_apply() {
    let broken = with_offsets(NO_OFFSET);
    let denial = "spec.alterOffsets.fromConfigMap: ConfigMap team-a/offsets: offsets.json: offsets[0] has no \"offset\" (use null to reset the partition)";
    for (old, new) in [
        (None, "alter"),
        (Some("alter,1"), "alter,2"),
        (Some("list"), "ALTER"),
    ] {
        let review = Review::update(annotated(Some(new)), annotated(old));
        let (d, connect) = run(&broken, review);
        assert_eq!(
            (d.allowed, d.reason, d.message().as_str()),
            (false, Reason::InvalidConfig, denial),
            "{old:?} → {new:?}"
        );
        assert!(
            connect.asked().is_empty(),
            "the spec did not change: Connect is not asked"
        );
    }
    // The applying user must be able to read it, as when the reference is added.
    let mut hidden = world();
    hidden.deny_read(SourceKind::ConfigMap, NS, "offsets");
    let review = Review::update(annotated(Some("alter,2")), annotated(Some("alter,1")));
    assert_eq!(
        read_checks(&admission::parse_review(&review.clone().namespace(NS).body()).unwrap()).len(),
        1
    );
    let (d, _) = run(&hidden, review);
    assert_eq!(
        (d.allowed, d.reason),
        (false, Reason::ReferenceAccessDenied)
    );

    // Not a new alter: the value unchanged, another operation, or the annotation removed.
    for (old, new) in [
        (Some("alter,1"), Some("alter,1")),
        (Some("alter,1"), Some("reset,2")),
        (Some("alter,1"), None),
    ] {
        let review = Review::update(annotated(new), annotated(old));
        let (d, _) = run(&broken, review.clone());
        assert_eq!(
            (d.allowed, d.reason),
            (true, Reason::Unchanged),
            "{old:?} → {new:?}"
        );
        let body = review.namespace(NS).body();
        assert!(read_checks(&admission::parse_review(&body).unwrap()).is_empty());
    }
    // A well-formed document: admitted, still without asking Connect.
    let good = with_offsets(RESET);
    let (d, connect) = run(
        &good,
        Review::update(annotated(Some("alter,2")), annotated(Some("alter,1"))),
    );
    assert_eq!((d.allowed, d.reason), (true, Reason::Unchanged));
    assert!(connect.asked().is_empty());
}

/// The connector `c` with the given annotations.
fn with_annotations(pairs: &[(&str, &str)]) -> Value {
    let mut c = testing::connector(NS, "c", source(json!({})));
    let map: serde_json::Map<String, Value> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    c["metadata"]["annotations"] = Value::Object(map);
    c
}

#[test]
fn a_new_request_annotation_nobody_could_act_on_is_denied_without_asking_connect() {
    let w = world();
    let rewind = "connectwarden.io/offsets: \"rewind\" does not start with list, alter or reset; use e.g. \"list\" or \"reset,2024-05-01T10:00:00Z\" (the token makes a repeated request new)";
    let task = "connectwarden.io/restart-task: \"first\" does not start with a task id: use \"<id>\" or \"<id>,<token>\", e.g. \"1,2024-05-01T10:00:00Z\"";
    let typo = "connectwarden.io/restart: \"t2,onlyFaild\": \"onlyFaild\" looks like a misspelled option (did you mean onlyFailed?); the options are includeTasks and onlyFailed, next to any token such as a timestamp";

    // Set on create, with everything else valid.
    let (d, connect) = run(
        &w,
        Review::create(with_annotations(&[("connectwarden.io/offsets", "rewind")])),
    );
    assert_eq!(
        (d.allowed, d.reason, d.message().as_str()),
        (false, Reason::InvalidAnnotation, rewind)
    );
    assert!(connect.asked().is_empty());

    // Set by `kubectl annotate` alone: one line per unreadable value.
    let old = with_annotations(&[("connectwarden.io/restart", "t1")]);
    let new = with_annotations(&[
        ("connectwarden.io/restart", "t2,onlyFaild"),
        ("connectwarden.io/restart-task", "first"),
    ]);
    let (d, connect) = run(&w, Review::update(new, old));
    assert_eq!(
        (d.allowed, d.reason, d.message()),
        (false, Reason::InvalidAnnotation, format!("{typo}\n{task}"))
    );
    assert!(connect.asked().is_empty());

    // Next to a spec change, the request is denied before Connect is asked.
    let old = with_annotations(&[]);
    let mut new = with_annotations(&[("connectwarden.io/offsets", "rewind")]);
    new["spec"]["tasksMax"] = json!(2);
    let (d, connect) = run(&w, Review::update(new, old));
    assert_eq!((d.allowed, d.reason), (false, Reason::InvalidAnnotation));
    assert!(connect.asked().is_empty());

    // A value already there was judged when it was set: other changes still go through, and `false` or a
    // readable value is admitted.
    let stale = with_annotations(&[("connectwarden.io/offsets", "rewind")]);
    let mut paused = stale.clone();
    paused["spec"]["state"] = json!("paused");
    let (d, _) = run(&w, Review::update(paused, stale.clone()));
    assert_eq!((d.allowed, d.reason), (true, Reason::Unchanged));
    for (k, v) in [
        ("connectwarden.io/restart", "false"),
        (
            "connectwarden.io/restart",
            "2024-05-01T10:00:00Z,includeTasks",
        ),
        ("connectwarden.io/restart-task", "0,t1"),
        ("connectwarden.io/offsets", "list,t1"),
    ] {
        let (d, _) = run(
            &w,
            Review::update(with_annotations(&[(k, v)]), stale.clone()),
        );
        assert_eq!((d.allowed, d.reason), (true, Reason::Unchanged), "{k}={v}");
    }
}

#[test]
fn a_pinned_version_that_is_installed_is_sent_to_connect() {
    let spec = source(json!({"class": CLASS, "version": "[1.0,2.0)"}));
    let (d, connect) = create(&world(), spec);
    assert!(d.allowed, "{}", d.message());
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    assert_eq!(
        connect.asked()[0]
            .config
            .get("connector.plugin.version")
            .map(String::as_str),
        Some("[1.0,2.0)")
    );
}

#[test]
fn a_version_matching_nothing_installed_is_denied_with_the_installed_ones() {
    let (d, connect) = create(
        &world(),
        source(json!({"class": CLASS, "version": "[3.0,)"})),
    );
    assert_eq!((d.allowed, d.reason), (false, Reason::PluginNotFound));
    assert_eq!(
        d.message(),
        "spec.version \"[3.0,)\" matches no installed version of dev.example.VersionedSourceConnector on cluster team-a/main; installed: 2.0.0, 1.0.0"
    );
    assert!(connect.asked().is_empty());
}

#[rstest]
#[case::an_invalid_range_is_denied(
    source(json!({"class": CLASS, "version": "[2.0,1.0]"})),
    "spec.version \"[2.0,1.0]\" is not a version or a Maven version range: the lower bound 2.0 is above the upper bound 1.0 (e.g. \"2.0.0\", \"[1.0,2.0)\", \"[2.0,)\")"
)]
#[case::a_version_on_connect_older_than_4_1_is_denied(
    json!({"clusterRef": {"name": "old"}, "class": CLASS, "version": "1.0.0", "config": {}}),
    "spec.version \"1.0.0\" needs Kafka Connect 4.1 or later, but cluster team-a/old runs Kafka Connect 3.9.1, which ignores connector.plugin.version and would run the latest installed version of dev.example.VersionedSourceConnector; remove spec.version or upgrade the cluster"
)]
fn a_version_that_cannot_be_read_or_honoured_is_invalid(
    #[case] spec: Value,
    #[case] message: &str,
) {
    let (d, _) = create(&world(), spec);
    assert_eq!((d.allowed, d.reason), (false, Reason::InvalidConfig));
    assert_eq!(d.message(), message);
}

#[test]
fn several_versions_and_none_pinned_is_a_warning() {
    let (d, _) = create(&world(), source(json!({"class": CLASS})));
    assert!(d.allowed);
    assert_eq!(
        d.warnings,
        vec!["2 versions of dev.example.VersionedSourceConnector are installed on cluster team-a/main (2.0.0, 1.0.0) and spec.version pins none: Kafka Connect runs the latest, 2.0.0; set spec.version to choose".to_string()]
    );
    // one version installed: nothing to choose
    let (d, _) = create(&world(), source(json!({})));
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
}

#[test]
fn connector_plugin_version_in_config_moves_to_spec_version() {
    let obj = testing::connector(
        NS,
        "c",
        json!({"clusterRef": {"name": "main"}, "class": CLASS, "config": {"connector.plugin.version": "2.0.0"}}),
    );
    let connect = FixedConnect::new(ConnectOutcome::Refused {
        message: "unused".into(),
    });
    let r = block_on(admission::review(
        Webhook::Mutate,
        &Review::create(obj).namespace(NS).body(),
        &world(),
        &connect,
        FailurePolicy::Closed,
    ))
    .unwrap();
    let patch = serde_json::to_string(&r.decision.patch).unwrap();
    assert!(patch.contains("/spec/version"), "{patch}");
}
