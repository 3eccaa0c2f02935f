//! The table of KafkaConnectCluster references (`support/cluster_references.rs`, which the webhook's and the
//! controller's tests word): what `check` finds for each case, over both blocks of the spec.

use crate::support::cluster_references::{SECRET_MARK, cases};
use shared::cluster::references::{Block, check};

#[test]
fn each_case_finds_its_problems_and_no_value() {
    for case in cases() {
        let (secrets, maps) = (case.secrets(), case.config_maps());
        let problems = check(
            &case.spec(),
            &[Block::Rest, Block::Kafka],
            |n| {
                secrets
                    .iter()
                    .find(|s| s.metadata.name.as_deref() == Some(n))
            },
            |n| maps.iter().find(|m| m.metadata.name.as_deref() == Some(n)),
        );
        let found: Vec<_> = (problems.iter())
            .map(|p| {
                (
                    p.reference.field(),
                    p.reference.name.as_str(),
                    p.what.clone(),
                )
            })
            .collect();
        assert_eq!(found, case.problems, "{}", case.name);
        assert!(
            !format!("{problems:?}").contains(SECRET_MARK),
            "{}: {problems:?}",
            case.name
        );
    }
}
