//! The mutating webhook: numbers and booleans to strings, reserved keys to their spec fields, and numbers that
//! JSON decoding may have changed.

use rstest::rstest;
use serde_json::{Value, json};
use webhook::FailurePolicy;
use webhook::admission::{Reason, Webhook};
use webhook::testing;

use super::{
    NS, connector, decide, mutate, ok, patch_json, review, review_in, source_spec, validate, world,
};

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
        Some(testing::cluster(NS, "c", json!({"url": "http://x:1"}))),
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

#[rstest]
// What kubectl and the API server send after decoding 12345678901234567890, 123456789012345678901234 and
// 0.12345678901234567890 into floats.
#[case::beyond_i64_decoded(
    "12345678901234567000",
    "an integer beyond the signed 64-bit range, which JSON decoding turns into a rounded float"
)]
#[case::beyond_2_53_decoded(
    "1.2345678901234569e+23",
    "a whole number beyond 2^53 as a float: JSON decoding has rounded it"
)]
#[case::too_many_digits_decoded(
    "0.12345678901234568",
    "more than 15 significant digits, which a 64-bit float does not keep exactly"
)]
// Sent as written (another client): the text shows the loss too.
#[case::beyond_i64_as_written(
    "123456789012345678901234567890",
    "an integer beyond the signed 64-bit range, which JSON decoding turns into a rounded float"
)]
#[case::too_many_digits_as_written(
    "0.12345678901234567890",
    "more than 15 significant digits, which a 64-bit float does not keep exactly"
)]
fn numbers_that_may_have_been_rounded_are_denied_asking_to_quote_them(
    #[case] raw: &str,
    #[case] why: &str,
) {
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

/// Exact numbers are converted as before, digit for digit.
#[rstest]
#[case::beyond_2_53("9007199254740993")]
#[case::i64_min("-9223372036854775808")]
#[case::decimal("0.1")]
#[case::exponent("1.5e3")]
fn exact_numbers_become_the_same_digits_as_a_string(#[case] raw: &str) {
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

#[test]
fn the_warning_shows_an_exact_number_digit_for_digit() {
    let d = decide(Webhook::Mutate, &with_raw_number("9007199254740993"), &ok());
    assert!(
        d.warnings[0].contains("id: 9007199254740993 → \"9007199254740993\""),
        "{:?}",
        d.warnings
    );
}
