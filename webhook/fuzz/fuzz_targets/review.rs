//! Any bytes as an AdmissionReview, through either webhook, with every Kafka Connect outcome and failure
//! policy: the decision must never panic, and a denial must always say why.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use shared::connect::ValidateResponse;
use shared::crd::KafkaConnectCluster;
use webhook::FailurePolicy;
use webhook::decision::{ConnectOutcome, Webhook, review_offline};
use webhook::lookup::Objects;

fn world() -> &'static Objects {
    static W: OnceLock<Objects> = OnceLock::new();
    W.get_or_init(|| {
        let mut w = Objects::default();
        if let Ok(c) = serde_json::from_value::<KafkaConnectCluster>(json!({
            "apiVersion": "connectwarden.io/v1alpha1", "kind": "KafkaConnectCluster",
            "metadata": {"name": "local", "namespace": "ns"},
            "spec": {"url": "http://127.0.0.1:8083", "allowedNamespaces": ["*"]}
        })) {
            w.add_cluster(c);
        }
        w
    })
}

fn outcome(selector: u8) -> ConnectOutcome {
    match selector % 4 {
        0 => ConnectOutcome::Validated(
            serde_json::from_value::<ValidateResponse>(json!({
                "name": "X", "error_count": 1, "groups": [],
                "configs": [{"definition": {"name": "topic", "type": "STRING"},
                             "value": {"name": "topic", "errors": ["bad topic"]}},
                            {"definition": {"name": "db.password", "type": "PASSWORD"},
                             "value": {"name": "db.password", "errors": []}}]
            }))
            .expect("static response"),
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
    if let Ok((decision, response)) =
        review_offline(webhook, body, world(), &outcome(selector >> 2), policy)
    {
        assert!(decision.allowed || !decision.lines.is_empty());
        assert_eq!(decision.allowed, response.allowed);
    }
});
