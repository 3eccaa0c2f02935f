//! KafkaConnectCluster reviews: the URL, the Secrets and ConfigMaps it references, its `spec.kafka` block, its CA
//! and client certificate, and what its connectors are told when those are wrong.

use rstest::rstest;
use serde_json::{Value, json};
use webhook::FailurePolicy;
use webhook::admission::{ConnectOutcome, Decision, Objects, Reason, Webhook};
use webhook::testing;

use super::{
    NS, config_map, ok, on_cluster, review, review_in, secret, secured_world, validate_in, world,
};

fn validate_cluster(spec: Value, w: &Objects) -> Decision {
    review_in(
        w,
        Webhook::Validate,
        &review(
            "KafkaConnectCluster",
            "CREATE",
            Some(testing::cluster(NS, "prod", spec)),
            None,
        ),
        &ok(),
        FailurePolicy::Closed,
    )
    .decision
}

#[test]
fn clusters_need_a_valid_url_and_existing_secrets() {
    let d = validate_cluster(json!({"url": "connect:8083"}), &world());
    assert!(!d.allowed);
    assert_eq!(
        d.message(),
        "spec.url: url \"connect:8083\": scheme must be http or https"
    );
    let spec = json!({
        "url": "https://connect:8083",
        "authentication": {"type": "basic", "secretRef": {"name": "creds"}},
        "tls": {"caConfigMapRef": {"name": "ca"}, "insecureSkipVerify": true}
    });
    // Secrets and ConfigMaps that do not exist yet are ordering, not an error: admitted, each named.
    let d = validate_cluster(spec.clone(), &world());
    assert_eq!((d.allowed, d.reason), (true, Reason::ReferenceNotFound));
    assert_eq!(d.warnings.len(), 3);
    assert!(d.warnings[0].contains("insecureSkipVerify"));
    assert_eq!(
        d.warnings[1..],
        [
            "spec.authentication.secretRef: Secret team-a/creds not found; admitted, the controller reports the \
             cluster not Ready until it exists",
            "spec.tls.caConfigMapRef: ConfigMap team-a/ca not found; admitted, the controller reports the cluster \
             not Ready until it exists",
        ]
    );

    let mut w = world();
    w.add_secret(secret("creds", &[("username", "u")]));
    let spec = json!({"url": "https://connect:8083", "authentication": {"type": "basic", "secretRef": {"name": "creds"}}});
    let d = validate_cluster(spec, &w);
    assert_eq!(
        d.message(),
        "KafkaConnectCluster team-a/prod: Secret creds has no key \"password\""
    );
    let d = validate_cluster(json!({"url": "http://connect:8083"}), &w);
    assert!(d.allowed && d.warnings.is_empty());
}

#[test]
fn a_clusters_kafka_block_is_checked_like_the_rest_of_its_spec() {
    // A malformed bootstrap list is a denial, every bad entry named.
    let d = validate_cluster(
        json!({"url": "http://connect:8083", "kafka": {"bootstrapServers": "kafka-0:9092,kafka-1"}}),
        &world(),
    );
    assert_eq!((d.allowed, d.reason), (false, Reason::ClusterMisconfigured));
    assert_eq!(
        d.message(),
        "spec.kafka.bootstrapServers: malformed bootstrap server \"kafka-1\": no port (expected host:port)"
    );
    let d = validate_cluster(
        json!({"url": "http://connect:8083", "kafka": {"bootstrapServers": "kafka-0:9092", "offsetsTopic": "connect offsets"}}),
        &world(),
    );
    assert_eq!(
        (d.allowed, d.message()),
        (
            false,
            "spec.kafka.offsetsTopic: a topic name has only ASCII letters, digits, '.', '_' and '-'".to_string()
        )
    );
    // A missing Secret is a warning, as for the REST API's.
    let spec = json!({"url": "http://connect:8083", "kafka": {
        "bootstrapServers": "kafka-0:9093",
        "authentication": {"type": "scram-sha-512", "secretRef": {"name": "kafka-user"}},
        "tls": {"caSecretRef": {"name": "kafka-ca"}}}});
    let d = validate_cluster(spec.clone(), &world());
    assert_eq!((d.allowed, d.reason), (true, Reason::ReferenceNotFound));
    assert_eq!(
        d.warnings,
        [
            "spec.kafka.authentication.secretRef: Secret team-a/kafka-user not found; admitted, the controller \
             reports the cluster not Ready until it exists",
            "spec.kafka.tls.caSecretRef: Secret team-a/kafka-ca not found; admitted, the controller reports the \
             cluster not Ready until it exists",
        ]
    );
    // Present, but without the key: the key is named.
    let mut w = world();
    w.add_secret(secret("kafka-user", &[("username", "lag")]));
    w.add_secret(secret("kafka-ca", &[("ca.crt", "not pem")]));
    let d = validate_cluster(spec, &w);
    assert!(!d.allowed);
    assert_eq!(
        d.message(),
        "KafkaConnectCluster team-a/prod: Secret kafka-user has no key \"password\"\n\
         KafkaConnectCluster team-a/prod: Secret team-a/kafka-ca key \"ca.crt\" (spec.kafka.tls.caSecretRef) holds no \
         PEM certificate (expected \"-----BEGIN CERTIFICATE-----\" blocks)"
    );
    // SASL PLAIN without TLS is admitted with a warning.
    let d = validate_cluster(
        json!({"url": "http://connect:8083", "kafka": {"bootstrapServers": "kafka-0:9092",
            "authentication": {"type": "plain", "secretRef": {"name": "kafka-user"}}}}),
        &w,
    );
    assert!(
        d.warnings[0].starts_with("spec.kafka uses SASL PLAIN without TLS"),
        "{:?}",
        d.warnings
    );
}

#[test]
fn a_ca_without_a_certificate_is_denied_for_the_cluster_and_its_connectors() {
    let spec =
        json!({"url": "https://connect.example:8083", "tls": {"caConfigMapRef": {"name": "ca"}}});
    let mut w = secured_world();
    w.add_secret(secret("creds", &[("username", "u"), ("password", "p")]));
    w.add_config_map(config_map(
        "ca",
        &[("ca.crt", "# Replace with the PEM CA certificate\n")],
    ));
    let d = validate_cluster(spec.clone(), &w);
    assert_eq!((d.allowed, d.reason), (false, Reason::ClusterMisconfigured));
    assert_eq!(
        d.message(),
        "KafkaConnectCluster team-a/prod: ConfigMap team-a/ca key \"ca.crt\" (spec.tls.caConfigMapRef) holds no PEM \
         certificate (expected \"-----BEGIN CERTIFICATE-----\" blocks)"
    );
    // A connector on a cluster whose CA went bad after the cluster was admitted: the real cause.
    let d = validate_in(&w, &on_cluster(json!({"name": "secured"})));
    assert_eq!((d.allowed, d.reason), (false, Reason::ClusterMisconfigured));
    assert_eq!(
        d.message(),
        "KafkaConnectCluster team-a/secured: ConfigMap team-a/ca key \"ca.crt\" (spec.tls.caConfigMapRef) holds no \
         PEM certificate (expected \"-----BEGIN CERTIFICATE-----\" blocks)"
    );

    // A PEM block that is no certificate, in a Secret with its own key.
    let mut w = world();
    w.add_secret(secret(
        "ca-secret",
        &[(
            "bundle.pem",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )],
    ));
    let d = validate_cluster(
        json!({"url": "https://c:8083", "tls": {"caSecretRef": {"name": "ca-secret", "key": "bundle.pem"}}}),
        &w,
    );
    assert!(!d.allowed);
    assert!(
        d.message().starts_with(
            "KafkaConnectCluster team-a/prod: Secret team-a/ca-secret key \"bundle.pem\" (spec.tls.caSecretRef) holds \
             a certificate (number 1) that is not a valid X.509 CA certificate: "
        ),
        "{}",
        d.message()
    );

    // A client certificate Secret without PEM in it; the key's content never appears.
    let mut w = world();
    w.add_secret(secret(
        "client",
        &[
            ("tls.crt", "not a cert"),
            ("tls.key", "s3cr3t-key-material"),
        ],
    ));
    let d = validate_cluster(
        json!({"url": "https://c:8083", "tls": {"clientCertSecretRef": {"name": "client"}}}),
        &w,
    );
    assert_eq!(
        d.lines,
        vec![
            "KafkaConnectCluster team-a/prod: Secret team-a/client key \"tls.crt\" (spec.tls.clientCertSecretRef) holds \
             no PEM certificate (expected \"-----BEGIN CERTIFICATE-----\" blocks)",
            "KafkaConnectCluster team-a/prod: Secret team-a/client key \"tls.key\" (spec.tls.clientCertSecretRef) holds \
             no PEM private key (expected a \"-----BEGIN PRIVATE KEY-----\" block)",
        ]
    );

    // Broken PEM is said so, without the parser's text.
    let mut w = world();
    w.add_config_map(config_map(
        "ca",
        &[("ca.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n")],
    ));
    let d = validate_cluster(
        json!({"url": "https://c:8083", "tls": {"caConfigMapRef": {"name": "ca"}}}),
        &w,
    );
    assert_eq!(
        d.message(),
        "KafkaConnectCluster team-a/prod: ConfigMap team-a/ca key \"ca.crt\" (spec.tls.caConfigMapRef) is not valid \
         PEM (a BEGIN/END line or the base64 between is broken)"
    );

    // A good CA and a good client certificate pass.
    let ca = stack::pki::Ca::new("test ca").unwrap();
    let leaf = ca.server(&["client"]).unwrap();
    let mut w = world();
    w.add_config_map(config_map("ca", &[("ca.crt", &ca.cert_pem)]));
    w.add_secret(secret(
        "client",
        &[("tls.crt", &leaf.cert_pem), ("tls.key", &leaf.key_pem)],
    ));
    let d = validate_cluster(
        json!({"url": "https://c:8083", "tls": {"caConfigMapRef": {"name": "ca"}, "clientCertSecretRef": {"name": "client"}}}),
        &w,
    );
    assert_eq!((d.allowed, d.reason), (true, Reason::Valid), "{d:?}");
}

#[rstest]
fn settings_tls_refuses_are_a_cluster_problem_not_an_outage(
    #[values(FailurePolicy::Closed, FailurePolicy::Open)] policy: FailurePolicy,
) {
    let e = shared::Error::ClientConfig("CA bundle holds no PEM certificate".into());
    let d = review_in(
        &world(),
        Webhook::Validate,
        &on_cluster(json!({"name": "local"})),
        &ConnectOutcome::from_error(&e, Vec::new()),
        policy,
    )
    .decision;
    assert_eq!((d.allowed, d.reason), (false, Reason::ClusterMisconfigured));
    assert_eq!(
        d.message(),
        "cannot validate the config on KafkaConnectCluster team-a/local: invalid Kafka Connect client settings: \
         CA bundle holds no PEM certificate; fix the KafkaConnectCluster's TLS settings"
    );
}
