//! The shared table of KafkaConnectCluster references, worded by admission: the decision on each case's
//! cluster, denied with its lines or admitted with its warnings.

#[path = "../../shared/tests/support/cluster_references.rs"]
mod table;

use webhook::FailurePolicy;
use webhook::admission::{self, Objects, Reason, Webhook};
use webhook::testing::{FixedConnect, Review, block_on, validated};

use table::{CLUSTER, NAMESPACE, SECRET_MARK, Webhook as Says, cases};

#[test]
fn each_case_is_denied_or_admitted_in_its_words() {
    for case in cases() {
        let mut w = Objects::default();
        for s in case.secrets() {
            w.add_secret(s);
        }
        for m in case.config_maps() {
            w.add_config_map(m);
        }
        let body = Review::create(webhook::testing::cluster(
            NAMESPACE,
            CLUSTER,
            case.spec.clone(),
        ))
        .kind("KafkaConnectCluster")
        .namespace(NAMESPACE)
        .user("alice")
        .body();
        let d = block_on(admission::review(
            Webhook::Validate,
            &body,
            &w,
            &FixedConnect::new(validated(&[], &[])),
            FailurePolicy::Closed,
        ))
        .unwrap()
        .decision;
        let name = case.name;
        match &case.webhook {
            Says::Denied(lines) => {
                assert_eq!(
                    (d.allowed, d.reason),
                    (false, Reason::ClusterMisconfigured),
                    "{name}"
                );
                assert_eq!(d.lines, *lines, "{name}");
                assert!(d.warnings.is_empty(), "{name}: {:?}", d.warnings);
            }
            Says::Admitted(warnings) => {
                let reason = if warnings.is_empty() {
                    Reason::Valid
                } else {
                    Reason::ReferenceNotFound
                };
                assert_eq!((d.allowed, d.reason), (true, reason), "{name}: {d:?}");
                assert_eq!(d.warnings, *warnings, "{name}");
            }
        }
        assert!(!format!("{d:?}").contains(SECRET_MARK), "{name}: {d:?}");
    }
}
