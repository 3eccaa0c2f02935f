//! Bad input never panics and always gets a clear answer: truncated JSON, wrong types anywhere in the review,
//! unknown operations, huge configs and values, unicode and control characters.

use proptest::prelude::*;
use serde_json::{Value, json};
use webhook::FailurePolicy;
use webhook::admission::{
    ConnectOutcome, Decision, Objects, Reason, Reviewed, Webhook, parse_review, review,
};
use webhook::testing::{self, FixedConnect, Review, block_on};

fn world() -> Objects {
    let mut w = Objects::default();
    w.add_cluster(testing::cached_cluster(
        "ns",
        "local",
        json!({"url": "http://127.0.0.1:8083"}),
    ));
    w
}

fn base_review(config: Value) -> Value {
    Review::create(testing::connector(
        "ns",
        "c",
        json!({"clusterRef": {"name": "local"}, "class": "FileStreamSource", "config": config}),
    ))
    .uid("u-1")
    .json()
}

/// The request body reviewing a connector with `config`.
fn body_with(config: Value) -> Vec<u8> {
    serde_json::to_vec(&base_review(config)).unwrap()
}

fn validated() -> ConnectOutcome {
    testing::validated(&[("topic", "STRING"), ("db.password", "PASSWORD")], &[])
}

fn outcomes() -> Vec<ConnectOutcome> {
    vec![
        validated(),
        ConnectOutcome::UnknownClass {
            installed: vec!["a.B".into()],
        },
        ConnectOutcome::Refused {
            message: "bad".into(),
        },
        ConnectOutcome::Unavailable {
            reason: "timeout",
            message: "slow".into(),
        },
    ]
}

fn decide(
    webhook: Webhook,
    body: &[u8],
    outcome: &ConnectOutcome,
    policy: FailurePolicy,
) -> webhook::Result<Reviewed> {
    block_on(review(
        webhook,
        body,
        &world(),
        &FixedConnect::new(outcome.clone()),
        policy,
    ))
}

/// The decision of `webhook` on `body`, Kafka Connect validating, failing closed.
fn decide_validated(webhook: Webhook, body: &[u8]) -> Decision {
    decide(webhook, body, &validated(), FailurePolicy::Closed)
        .unwrap()
        .decision
}

/// Ten thousand keys `key.<i>`, each with `value(i)`.
fn ten_thousand_keys_of(value: impl Fn(usize) -> Value) -> Value {
    Value::Object(
        (0..10_000)
            .map(|i| (format!("key.{i}"), value(i)))
            .collect(),
    )
}

/// Runs both webhooks with every Connect outcome and policy; checks the invariants of any answer.
fn run_all(body: &[u8]) {
    for webhook in [Webhook::Mutate, Webhook::Validate] {
        for outcome in outcomes() {
            for policy in [FailurePolicy::Closed, FailurePolicy::Open] {
                match decide(webhook, body, &outcome, policy) {
                    Err(e) => assert!(!e.to_string().is_empty()),
                    Ok(r) => {
                        let (d, resp) = (&r.decision, r.response());
                        check_bounded(d);
                        assert_eq!(resp.allowed, d.allowed);
                        // The response always serialises (the API server must be able to read it).
                        serde_json::to_vec(&resp.into_review()).unwrap();
                    }
                }
            }
        }
    }
}

/// Messages stay readable whatever the input: bounded lines, bounded line length.
fn check_bounded(d: &Decision) {
    assert!(d.lines.len() <= 22, "{} lines", d.lines.len());
    assert!(d.warnings.len() <= 12, "{} warnings", d.warnings.len());
    for l in d.lines.iter().chain(&d.warnings) {
        assert!(
            l.chars().count() <= 3000,
            "line of {} chars",
            l.chars().count()
        );
    }
    if !d.allowed {
        assert!(!d.lines.is_empty(), "a denial without a reason: {d:?}");
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::from),
        ".{0,10}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map("\\PC{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Places in a review where a wrong type can hide.
const PATHS: &[&[&str]] = &[
    &["apiVersion"],
    &["kind"],
    &["request"],
    &["request", "uid"],
    &["request", "kind"],
    &["request", "kind", "kind"],
    &["request", "resource"],
    &["request", "name"],
    &["request", "namespace"],
    &["request", "operation"],
    &["request", "userInfo"],
    &["request", "object"],
    &["request", "object", "metadata"],
    &["request", "object", "metadata", "name"],
    &["request", "object", "metadata", "deletionTimestamp"],
    &["request", "object", "spec"],
    &["request", "object", "spec", "class"],
    &["request", "object", "spec", "tasksMax"],
    &["request", "object", "spec", "name"],
    &["request", "object", "spec", "clusterRef"],
    &["request", "object", "spec", "clusterRef", "name"],
    &["request", "object", "spec", "config"],
    &["request", "object", "spec", "config", "topic"],
    &["request", "object", "spec", "config", "tasks.max"],
    &["request", "object", "spec", "state"],
    &["request", "oldObject"],
    &["request", "dryRun"],
    &["request", "subResource"],
];

fn set(review: &mut Value, path: &[&str], v: Value) {
    let mut cur = review;
    for (i, p) in path.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        let map = cur.as_object_mut().unwrap();
        if i == path.len() - 1 {
            map.insert(p.to_string(), v);
            return;
        }
        cur = map.entry(p.to_string()).or_insert(json!({}));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        run_all(&bytes);
    }

    #[test]
    fn truncated_reviews_are_malformed(cut in 0usize..1000) {
        let body = serde_json::to_vec(&base_review(json!({"topic": "t"}))).unwrap();
        let cut = cut.min(body.len() - 1);
        let e = parse_review(&body[..cut]).unwrap_err();
        prop_assert!(e.to_string().starts_with("malformed AdmissionReview"), "{}", e);
    }

    #[test]
    fn wrong_types_anywhere_get_an_answer(path in 0..PATHS.len(), v in arb_json()) {
        let mut review = base_review(json!({"topic": "t"}));
        set(&mut review, PATHS[path], v);
        run_all(&serde_json::to_vec(&review).unwrap());
    }

    #[test]
    fn unknown_operations_are_refused_clearly(op in "[A-Za-z_]{0,12}") {
        let mut review = base_review(json!({"topic": "t"}));
        review["request"]["operation"] = json!(op.clone());
        let r = parse_review(&serde_json::to_vec(&review).unwrap());
        if ["CREATE", "UPDATE", "DELETE", "CONNECT"].contains(&op.as_str()) {
            prop_assert!(r.is_ok());
        } else {
            let e = r.unwrap_err().to_string();
            prop_assert!(e.contains("unknown variant"), "{}", e);
        }
    }

    #[test]
    fn unicode_and_control_characters_in_names_and_keys(
        name in "\\PC{0,12}|[\\x00-\\x1f/\u{7f}\u{200b}]{1,4}",
        keys in prop::collection::vec(".{0,16}", 0..12),
        value in ".{0,16}",
    ) {
        let config: serde_json::Map<String, Value> =
            keys.iter().map(|k| (k.clone(), json!(value.clone()))).collect();
        let mut review = base_review(Value::Object(config));
        review["request"]["object"]["spec"]["name"] = json!(name.clone());
        review["request"]["object"]["metadata"]["name"] = json!(name.clone());
        review["request"]["name"] = json!(name.clone());
        let body = serde_json::to_vec(&review).unwrap();
        run_all(&body);
        let d = decide_validated(Webhook::Validate, &body);
        if name.chars().any(char::is_control) || name.contains('/') || name.trim().is_empty() {
            prop_assert!(!d.allowed);
            prop_assert_eq!(d.reason, Reason::InvalidConfig);
        }
    }
}

#[test]
fn ten_thousand_keys() {
    let body = body_with(ten_thousand_keys_of(|i| json!(i)));
    let d = decide_validated(Webhook::Mutate, &body);
    assert_eq!(d.patch.len(), 10_000);
    assert_eq!(d.warnings.len(), 1);
    assert!(
        d.warnings[0].contains(" and 9990 more;"),
        "{}",
        d.warnings[0]
    );

    let body = body_with(ten_thousand_keys_of(|i| json!({"n": i})));
    let d = decide_validated(Webhook::Validate, &body);
    assert!(!d.allowed);
    assert_eq!(d.lines.len(), 21);
    assert_eq!(
        d.lines[20],
        "… and 9980 more keys with values that are not strings"
    );

    let body = body_with(ten_thousand_keys_of(|_| json!("v")));
    let d = decide_validated(Webhook::Validate, &body);
    assert!(d.allowed);
    assert_eq!(d.warnings.len(), 6);
    assert_eq!(
        d.warnings[5],
        "… and 9995 more keys that are not settings of FileStreamSource"
    );
    run_all(&body);
}

#[test]
fn multi_megabyte_keys_and_values() {
    let big_value = "v".repeat(4 << 20);
    let big_key = "k".repeat(1 << 20);
    let secret = format!("S3cret-{}", "x".repeat(2 << 20));
    let body = body_with(json!({
        "topic": big_value,
        big_key.clone(): {"nested": true},
        "db.password": secret,
    }));
    run_all(&body);
    let d = decide_validated(Webhook::Validate, &body);
    assert!(!d.allowed);
    assert!(d.lines[0].starts_with("spec.config.\"kkkk"));
    assert!(d.lines[0].ends_with("…\": must be a string, got object"));

    // As strings, the huge key is just an unknown key, and the literal password is warned about, not shown.
    let body = body_with(json!({
        "topic": "v".repeat(4 << 20),
        big_key: "x",
        "db.password": "S3cret-value",
    }));
    let d = decide_validated(Webhook::Validate, &body);
    assert!(d.allowed);
    assert!(!format!("{d:?}").contains("S3cret-value"));
    assert_eq!(d.warnings.len(), 2, "{:?}", d.warnings);
}
