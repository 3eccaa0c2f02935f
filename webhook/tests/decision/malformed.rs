//! Reviews the API server would never send, and specs of the wrong shape: clear errors and denials, never a
//! crash.

use rstest::rstest;
use serde_json::{Value, json};
use webhook::admission::{Reason, parse_review};

use super::{connector, mutate, ok, review, source_spec, validate};

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

#[rstest]
#[case::a_string(json!("a string"))]
#[case::a_number_for_the_class(json!({"class": 5}))]
#[case::a_word_for_tasks_max(json!({"class": "X", "tasksMax": "many"}))]
#[case::a_list_for_the_config(json!({"class": "X", "config": ["a"]}))]
#[case::an_unknown_state(json!({"class": "X", "state": "sleeping"}))]
#[case::null(json!(null))]
fn wrong_spec_shapes_are_denied_not_crashed(#[case] spec: Value) {
    let d = validate(connector("x", spec.clone()), &ok());
    assert!(!d.allowed, "{spec}");
    assert_eq!(d.reason, Reason::InvalidObject, "{spec}: {d:?}");
    assert!(d.lines[0].starts_with("spec: "), "{:?}", d.lines);
    let m = mutate(connector("x", spec));
    assert!(m.allowed);
}

#[test]
fn a_connector_without_a_spec_is_denied_saying_so() {
    let mut no_spec = connector("x", json!({}));
    no_spec.as_object_mut().unwrap().remove("spec");
    assert_eq!(validate(no_spec, &ok()).message(), "spec is missing");
}
