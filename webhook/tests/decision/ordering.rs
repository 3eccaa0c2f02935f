//! Objects applied before what they reference: a connector before its cluster, a cluster before its Secrets and
//! ConfigMaps. Admitted with a warning naming what is missing; the local rules stay strict.

use serde_json::{Value, json};
use webhook::FailurePolicy;
use webhook::admission::{self, Reason, Webhook};
use webhook::testing::{FixedConnect, block_on};

use super::{
    NS, config_map, connector, connector_in, ok, on_cluster, on_cluster_review, review, secret,
    secured_world, source_spec, validate, validate_in, world,
};

#[test]
fn a_connector_before_its_cluster_is_admitted_with_a_warning_naming_the_closest() {
    let tail = "admitted without Kafka Connect validation, the controller validates the connector and reports \
                it once the cluster exists";
    for dry_run in [false, true] {
        let body = |cluster: Value| {
            let r = on_cluster_review(cluster);
            if dry_run {
                r.dry_run().body()
            } else {
                r.body()
            }
        };
        // A typo: the closest existing cluster in that namespace is named.
        let d = validate_in(&world(), &body(json!({"name": "locl"})));
        assert_eq!((d.allowed, d.reason), (true, Reason::ClusterNotFound));
        assert_eq!(
            d.warnings,
            vec![format!(
                "spec.clusterRef: KafkaConnectCluster team-a/locl not found (did you mean \"local\"?); {tail}"
            )]
        );
        // Nothing close: the clusters that exist there.
        let d = validate_in(&world(), &body(json!({"name": "warehouse"})));
        assert!(d.allowed);
        assert_eq!(
            d.warnings,
            vec![format!(
                "spec.clusterRef: KafkaConnectCluster team-a/warehouse not found (KafkaConnectClusters in namespace \
                 team-a: local); {tail}"
            )]
        );
        // None at all in that namespace.
        let d = validate_in(
            &world(),
            &body(json!({"name": "local", "namespace": "team-z"})),
        );
        assert!(d.allowed);
        assert_eq!(
            d.warnings,
            vec![format!(
                "spec.clusterRef: KafkaConnectCluster team-z/local not found (there is no KafkaConnectCluster in \
                 namespace team-z); {tail}"
            )]
        );
    }
}

#[test]
fn local_rules_stay_strict_without_the_cluster() {
    let mut spec = source_spec();
    spec["clusterRef"] = json!({"name": "not-yet"});
    spec["config"]["nested"] = json!({"a": 1});
    spec["tasksMax"] = json!(0);
    let d = validate(connector("orders-src", spec), &ok());
    assert_eq!((d.allowed, d.reason), (false, Reason::InvalidConfig));
    assert_eq!(
        d.lines,
        vec![
            "spec.config.\"nested\": must be a string, got object",
            "spec.tasksMax must be at least 1, got 0",
        ]
    );
    // A clash of connector names on a cluster that does not exist yet is still a clash.
    let mut w = world();
    w.add_connector(
        serde_json::from_value(connector(
            "first",
            json!({"clusterRef": {"name": "not-yet"}, "name": "orders", "class": "FileStreamSink", "config": {}}),
        ))
        .unwrap(),
    );
    let mut spec = source_spec();
    spec["clusterRef"] = json!({"name": "not-yet"});
    spec["name"] = json!("orders");
    let d = validate_in(
        &w,
        &review(
            "KafkaConnector",
            "CREATE",
            Some(connector("second", spec)),
            None,
        ),
    );
    assert_eq!((d.allowed, d.reason), (false, Reason::NameConflict));
}

#[test]
fn a_connector_whose_cluster_lacks_its_secrets_is_admitted_without_validation() {
    let d = validate_in(&secured_world(), &on_cluster(json!({"name": "secured"})));
    assert_eq!((d.allowed, d.reason), (true, Reason::ReferenceNotFound));
    assert_eq!(
        d.warnings,
        vec![
            "Kafka Connect validation skipped: KafkaConnectCluster team-a/secured cannot reach Kafka Connect with its \
             settings yet: Secret team-a/creds (its spec.authentication.secretRef), ConfigMap team-a/ca (its \
             spec.tls.caConfigMapRef) not found; the controller validates the connector and reports it once they exist"
        ]
    );
    // Once both exist, Connect is asked with the cluster's credentials and CA.
    let mut w = secured_world();
    w.add_secret(secret("creds", &[("username", "u"), ("password", "p")]));
    w.add_config_map(config_map(
        "ca",
        &[("ca.crt", &stack::pki::Ca::new("test ca").unwrap().cert_pem)],
    ));
    let connect = FixedConnect::new(ok());
    block_on(admission::review(
        Webhook::Validate,
        &on_cluster(json!({"name": "secured"})),
        &w,
        &connect,
        FailurePolicy::Closed,
    ))
    .unwrap();
    let [check] = connect.asked().try_into().expect("one Connect check");
    assert_eq!(check.settings.url, "https://connect.example:8083");
    assert!(check.settings.auth.is_some() && check.settings.ca_pem.is_some());
    // Still strict: a namespace the cluster does not allow.
    let mut spec = source_spec();
    spec["clusterRef"] = json!({"name": "secured", "namespace": NS});
    let d = validate_in(
        &w,
        &review(
            "KafkaConnector",
            "CREATE",
            Some(connector_in("team-b", "x", spec)),
            None,
        ),
    );
    assert_eq!((d.allowed, d.reason), (false, Reason::NamespaceNotAllowed));
}
