//! Namespaces outside the installation: an object there is admitted unjudged, a cluster there is named as
//! unwatched rather than missing.

use serde_json::json;
use webhook::FailurePolicy;
use webhook::admission::{self, ConnectOutcome, Objects, Reason, Webhook};
use webhook::testing::{FixedConnect, block_on};

use super::{connector, ok, review, review_in, source_spec, world};

/// An installation that serves only `team-b`.
struct ServesTeamB(Objects);

impl admission::ObjectSource for ServesTeamB {
    async fn snapshot<'a>(&'a self, req: &'a admission::Request) -> admission::Snapshot<'a> {
        self.0.snapshot(req).await
    }
    fn serves(&self, namespace: &str) -> bool {
        namespace == "team-b"
    }
}

#[test]
fn an_object_in_a_namespace_not_served_is_admitted_with_a_warning_not_judged() {
    // Nothing in the (empty) caches: judged, it would be denied for its missing cluster.
    let body = review(
        "KafkaConnector",
        "CREATE",
        Some(connector("orders", source_spec())),
        None,
    );
    let r = block_on(admission::review(
        Webhook::Validate,
        &body,
        &ServesTeamB(Objects::default()),
        &FixedConnect::new(ConnectOutcome::Unavailable {
            reason: "test",
            message: "must not be asked".into(),
        }),
        FailurePolicy::Closed,
    ))
    .unwrap();
    assert_eq!(
        (r.decision.allowed, r.decision.reason),
        (true, Reason::NamespaceNotServed)
    );
    assert_eq!(
        r.decision.warnings,
        [
            "namespace \"team-a\" is not served by this connect-warden installation (see its \
             --watch-namespaces): admitted without checks, and no controller of this installation \
             will act on it"
        ]
    );
}

#[test]
fn a_cluster_in_a_namespace_not_watched_is_named_as_such_not_as_missing() {
    let mut w = world();
    w.unwatched.insert("kafka".into());
    let mut spec = source_spec();
    spec["clusterRef"] = json!({"name": "shared", "namespace": "kafka"});
    let body = review(
        "KafkaConnector",
        "CREATE",
        Some(connector("orders", spec)),
        None,
    );
    let d = review_in(&w, Webhook::Validate, &body, &ok(), FailurePolicy::Closed).decision;
    assert_eq!((d.allowed, d.reason), (false, Reason::NamespaceNotAllowed));
    assert_eq!(
        d.message(),
        "spec.clusterRef: KafkaConnectCluster kafka/shared is in namespace \"kafka\", which this \
         connect-warden installation does not watch (see its --watch-namespaces); name a \
         KafkaConnectCluster in a watched namespace"
    );
}
