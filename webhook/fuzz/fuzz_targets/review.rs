//! Any bytes as an AdmissionReview, through either webhook, with every Kafka Connect outcome and failure
//! policy: the review must never panic, and a denial must always say why.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use shared::crd::KafkaConnectCluster;
use webhook::FailurePolicy;
use webhook::admission::{ConnectOutcome, Objects, Webhook, review};
use webhook::testing::{self, FixedConnect, block_on};

fn world() -> &'static Objects {
    static W: OnceLock<Objects> = OnceLock::new();
    W.get_or_init(|| {
        let mut w = Objects::default();
        if let Ok(c) = serde_json::from_value::<KafkaConnectCluster>(testing::cluster(
            "ns",
            "local",
            json!({"url": "http://127.0.0.1:8083", "allowedNamespaces": ["*"]}),
        )) {
            w.add_cluster(c);
        }
        w
    })
}

fn outcome(selector: u8) -> ConnectOutcome {
    match selector % 4 {
        0 => testing::validated(
            &[("topic", "STRING"), ("db.password", "PASSWORD")],
            &[("topic", "bad topic")],
        ),
        1 => ConnectOutcome::UnknownClass {
            installed: vec!["org.apache.kafka.connect.file.FileStreamSourceConnector".into()],
        },
        2 => ConnectOutcome::Refused {
            message: "400".into(),
        },
        _ => ConnectOutcome::Unavailable {
            reason: "timeout",
            message: "slow".into(),
        },
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let webhook = if selector & 1 == 0 {
        Webhook::Mutate
    } else {
        Webhook::Validate
    };
    let policy = if selector & 2 == 0 {
        FailurePolicy::Closed
    } else {
        FailurePolicy::Open
    };
    let connect = FixedConnect::new(outcome(selector >> 2));
    if let Ok(reviewed) = block_on(review(webhook, body, world(), &connect, policy)) {
        let decision = &reviewed.decision;
        assert!(decision.allowed || !decision.lines.is_empty());
        assert_eq!(decision.allowed, reviewed.response().allowed);
    }
});
