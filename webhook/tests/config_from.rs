//! `spec.configFrom` at admission: the requesting user's right to read what is referenced, the keys it may
//! not set, the values sent to Kafka Connect, and that no value shows anywhere else.

use rstest::rstest;
use serde_json::{Value, json};
use shared::config_from::SourceKind;
use webhook::FailurePolicy;
use webhook::admission::{
    self, Access, ConnectOutcome, Decision, Objects, ReadCheck, Reason, Webhook, parse_review,
    read_checks,
};
use webhook::testing::{self, FixedConnect, Review, block_on, validated};

const NS: &str = "team-a";
const PASSWORD: &str = "s3cr3t-Pa55word-value";

fn world() -> Objects {
    let mut w = Objects::default();
    w.add_cluster(testing::cached_cluster(
        NS,
        "local",
        json!({"url": "http://127.0.0.1:8083"}),
    ));
    w.add_secret(testing::secret(NS, "db-creds", &[("password", PASSWORD)]));
    w.add_config_map(testing::config_map(
        NS,
        "paths",
        &[("out", "/data/out.txt")],
    ));
    w
}

fn spec(config_from: Value) -> Value {
    json!({
        "clusterRef": {"name": "local"},
        "class": "FileStreamSink",
        "tasksMax": 1,
        "config": {"topics": "orders"},
        "configFrom": config_from
    })
}

fn secret_ref(name: &str, key: &str) -> Value {
    json!({"secretKeyRef": {"name": name, "key": key}})
}

fn sink_keys() -> Vec<(&'static str, &'static str)> {
    testing::connector_keys(&[
        ("topics", "LIST"),
        ("file", "STRING"),
        ("database.password", "STRING"),
    ])
}

fn body(review: Review) -> Vec<u8> {
    review
        .namespace(NS)
        .user("alice")
        .groups(&["team-a"])
        .body()
}

fn run(w: &Objects, body: &[u8], outcome: ConnectOutcome) -> (Decision, FixedConnect) {
    let connect = FixedConnect::new(outcome);
    let d = block_on(admission::review(
        Webhook::Validate,
        body,
        w,
        &connect,
        FailurePolicy::Closed,
    ))
    .unwrap()
    .decision;
    (d, connect)
}

fn create(w: &Objects, from: Value, outcome: ConnectOutcome) -> (Decision, FixedConnect) {
    let obj = testing::connector(NS, "sink", spec(from));
    run(w, &body(Review::create(obj)), outcome)
}

/// Everything a user or operator could see of a decision.
fn shown(d: &Decision) -> String {
    format!("{}\n{}", d.message(), d.warnings.join("\n"))
}

#[rstest]
#[case::a_user_who_may_not_read_the_secret_is_denied_by_name_and_connect_is_not_asked(
    |w: &mut Objects| {
        w.deny_read(SourceKind::Secret, NS, "db-creds");
    },
    json!({"database.password": secret_ref("db-creds", "password")}),
    Reason::ReferenceAccessDenied,
    r#"spec.configFrom."database.password": user "alice" may not get Secret team-a/db-creds; configFrom may only reference Secrets the applying user can read"#
)]
#[case::a_key_in_both_config_and_config_from_is_denied(
    |_: &mut Objects| {},
    json!({"topics": secret_ref("db-creds", "password")}),
    Reason::InvalidConfig,
    r#"spec.configFrom."topics": also set in spec.config; set it in one place only"#
)]
#[case::binary_secret_data_is_denied_without_showing_it(
    |w: &mut Objects| {
        w.add_secret(testing::secret_bytes(
            NS,
            "keystore",
            &[("ks", &[0xfe, 0xed, 0xfe, 0xed, 0x00, 0xff])],
        ));
    },
    json!({"ssl.keystore.password": secret_ref("keystore", "ks")}),
    Reason::InvalidConfig,
    r#"spec.configFrom."ssl.keystore.password": key "ks" of Secret team-a/keystore is not UTF-8 text (Kafka Connect config values are strings)"#
)]
fn denied_before_connect_is_asked(
    #[case] change: fn(&mut Objects),
    #[case] from: Value,
    #[case] reason: Reason,
    #[case] message: &str,
) {
    let mut w = world();
    change(&mut w);
    let (d, connect) = create(&w, from, validated(&sink_keys(), &[]));
    assert_eq!((d.allowed, d.reason), (false, reason));
    assert_eq!(d.message(), message);
    assert!(connect.asked().is_empty());
}

#[test]
fn config_maps_are_checked_the_same_way() {
    let mut w = world();
    w.deny_read(SourceKind::ConfigMap, NS, "paths");
    let (d, _) = create(
        &w,
        json!({"file": {"configMapKeyRef": {"name": "paths", "key": "out"}}}),
        validated(&sink_keys(), &[]),
    );
    assert_eq!(
        d.message(),
        r#"spec.configFrom."file": user "alice" may not get ConfigMap team-a/paths; configFrom may only reference ConfigMaps the applying user can read"#
    );
}

#[test]
fn a_failed_check_denies() {
    let mut w = world();
    w.reads.insert(
        ReadCheck {
            kind: SourceKind::Secret,
            namespace: NS.into(),
            name: "db-creds".into(),
        },
        Access::Unknown("SubjectAccessReview failed: connection refused".into()),
    );
    let (d, _) = create(
        &w,
        json!({"database.password": secret_ref("db-creds", "password")}),
        validated(&sink_keys(), &[]),
    );
    assert_eq!(
        d.message(),
        r#"spec.configFrom."database.password": cannot check whether user "alice" may get Secret team-a/db-creds: SubjectAccessReview failed: connection refused; try again"#
    );
}

#[test]
fn reads_are_checked_on_create_and_for_references_an_update_adds_or_changes() {
    let from = json!({
        "database.password": secret_ref("db-creds", "password"),
        "file": {"configMapKeyRef": {"name": "paths", "key": "out"}}
    });
    let obj = testing::connector(NS, "sink", spec(from.clone()));
    let req = parse_review(&body(Review::create(obj.clone()))).unwrap();
    let check = |kind, name: &str| ReadCheck {
        kind,
        namespace: NS.into(),
        name: name.into(),
    };
    assert_eq!(
        read_checks(&req).into_iter().collect::<Vec<_>>(),
        [
            check(SourceKind::Secret, "db-creds"),
            check(SourceKind::ConfigMap, "paths")
        ]
    );
    // Unchanged references: nothing to ask (they were checked when they came in).
    let mut changed = obj.clone();
    changed["spec"]["config"]["topics"] = json!("payments");
    let req = parse_review(&body(Review::update(changed.clone(), obj.clone()))).unwrap();
    assert!(read_checks(&req).is_empty());
    // A reference pointed at another key, or added: asked.
    changed["spec"]["configFrom"]["database.password"] = secret_ref("db-creds", "admin");
    let req = parse_review(&body(Review::update(changed, obj.clone()))).unwrap();
    assert_eq!(
        read_checks(&req).into_iter().collect::<Vec<_>>(),
        [check(SourceKind::Secret, "db-creds")]
    );

    // So an update by a user who may not read the Secret passes while it keeps the reference ...
    let mut w = world();
    w.deny_read(SourceKind::Secret, NS, "db-creds");
    let mut updated = obj.clone();
    updated["spec"]["config"]["topics"] = json!("payments");
    let (d, _) = run(
        &w,
        &body(Review::update(updated, obj.clone())),
        validated(&sink_keys(), &[]),
    );
    assert_eq!((d.allowed, d.reason), (true, Reason::Valid));
    // ... and is denied when it adds one.
    let mut added = obj.clone();
    added["spec"]["configFrom"]["other.password"] = secret_ref("db-creds", "password");
    let (d, _) = run(
        &w,
        &body(Review::update(added, obj)),
        validated(&sink_keys(), &[]),
    );
    assert_eq!(
        d.message(),
        r#"spec.configFrom."other.password": user "alice" may not get Secret team-a/db-creds; configFrom may only reference Secrets the applying user can read"#
    );
}

#[test]
fn connect_validates_the_resolved_values_and_no_value_shows_elsewhere() {
    let (d, connect) = create(
        &world(),
        json!({
            "database.password": secret_ref("db-creds", "password"),
            "file": {"configMapKeyRef": {"name": "paths", "key": "out"}}
        }),
        validated(&sink_keys(), &[]),
    );
    assert_eq!((d.allowed, d.reason), (true, Reason::Valid), "{d:?}");
    let asked = connect.asked();
    assert_eq!(asked.len(), 1);
    let check = &asked[0];
    assert_eq!(check.config["database.password"], PASSWORD);
    assert_eq!(check.config["file"], "/data/out.txt");
    assert!(!shown(&d).contains(PASSWORD));
    assert!(!check.cache_key().contains(PASSWORD));
    assert!(!format!("{check:?}").contains(PASSWORD));
    assert!(!format!("{check:?}").contains("/data/out.txt"));
    // The same config gives the same key, another value another.
    let mut other = check.clone();
    other
        .config
        .insert("database.password".into(), "another".into());
    assert_eq!(check.cache_key(), asked[0].cache_key());
    assert_ne!(check.cache_key(), other.cache_key());
}

#[test]
fn values_that_connect_echoes_are_redacted_whatever_their_type() {
    // Connect's errors quote values; `file` is a STRING, not a PASSWORD, and its name looks harmless.
    let echo = |v: &str| ConnectOutcome::Refused {
        message: format!("400 Bad Request: invalid config {{file={v}, topics=orders}}"),
    };
    let (d, _) = create(
        &world(),
        json!({"file": secret_ref("db-creds", "password")}),
        echo(PASSWORD),
    );
    assert!(!d.allowed);
    assert!(!shown(&d).contains(PASSWORD), "{}", shown(&d));
    assert!(shown(&d).contains("[redacted]"));
    let (d, _) = create(
        &world(),
        json!({"file": secret_ref("db-creds", "password")}),
        validated(&sink_keys(), &[("file", &format!("bad value {PASSWORD}"))]),
    );
    assert_eq!(d.reason, Reason::ConnectRejected);
    assert!(!shown(&d).contains(PASSWORD), "{}", shown(&d));
}

#[test]
fn a_password_setting_from_a_secret_is_not_called_a_literal() {
    let keys = [("name", "STRING"), ("database.password", "PASSWORD")];
    let (d, _) = create(
        &world(),
        json!({"database.password": secret_ref("db-creds", "password")}),
        validated(&keys, &[]),
    );
    assert!(d.allowed);
    assert!(
        d.warnings.iter().all(|w| !w.contains("literal")),
        "{:?}",
        d.warnings
    );
}

#[test]
fn reserved_keys_are_denied() {
    let (d, _) = create(
        &world(),
        json!({"tasks.max": secret_ref("db-creds", "password")}),
        validated(&sink_keys(), &[]),
    );
    assert_eq!((d.allowed, d.reason), (false, Reason::ReservedKeyConflict));
    assert_eq!(
        d.message(),
        r#"spec.configFrom."tasks.max": reserved key; name, connector.class and tasks.max come from spec.name, spec.class and spec.tasksMax"#
    );
}

#[test]
fn a_missing_secret_or_key_is_admitted_with_a_warning_and_connect_is_not_asked() {
    let (d, connect) = create(
        &world(),
        json!({
            "database.password": secret_ref("not-yet", "password"),
            "other.password": secret_ref("db-creds", "nope")
        }),
        validated(&sink_keys(), &[]),
    );
    assert_eq!((d.allowed, d.reason), (true, Reason::ReferenceNotFound));
    assert_eq!(
        d.warnings,
        [
            r#"spec.configFrom."database.password": Secret team-a/not-yet not found; admitted without Kafka Connect validation (it needs every value), the controller applies the connector once it exists"#,
            r#"spec.configFrom."other.password": Secret team-a/db-creds has no key "nope"; admitted without Kafka Connect validation (it needs every value), the controller applies the connector once it exists"#,
        ]
    );
    assert!(connect.asked().is_empty());
}

#[test]
fn an_optional_reference_to_a_missing_secret_leaves_the_key_out() {
    let (d, connect) = create(
        &world(),
        json!({"database.password": {"secretKeyRef": {"name": "not-yet", "key": "k", "optional": true}}}),
        validated(&sink_keys(), &[]),
    );
    assert_eq!((d.allowed, d.reason), (true, Reason::Valid));
    assert!(!connect.asked()[0].config.contains_key("database.password"));
}

#[test]
fn a_one_mebibyte_value_is_validated_and_never_quoted() {
    let big = "x".repeat(1024 * 1024 - 64);
    let mut w = world();
    w.add_secret(testing::secret(NS, "big", &[("v", &big)]));
    let echo = ConnectOutcome::Refused {
        message: format!("400 Bad Request: {{file={big}}}"),
    };
    let (d, connect) = create(&w, json!({"file": secret_ref("big", "v")}), echo);
    assert_eq!(connect.asked()[0].config["file"].len(), big.len());
    assert!(shown(&d).len() < 4096, "{} bytes", shown(&d).len());
    let (d, _) = create(
        &w,
        json!({"file": secret_ref("big", "v")}),
        validated(&sink_keys(), &[]),
    );
    assert!(d.allowed);
}
