//! One table of KafkaConnectCluster references, run by three crates' tests: a spec and the Secrets and
//! ConfigMaps that exist → the typed problems `shared::cluster::references::check` finds, and how the
//! webhook (its decision on the cluster) and the controller (its conditions) word them. Each crate includes
//! this file with `#[path]` and reads its own side.
// Each including test reads only its side of a case.
#![allow(dead_code)]

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};
use shared::cluster::references::{PemProblem, What};
use shared::crd::KafkaConnectClusterSpec;

/// Where every case's cluster lives: `team-a/prod`.
pub const NAMESPACE: &str = "team-a";
pub const CLUSTER: &str = "prod";

/// Written into Secrets of the table; no problem and no message may quote it.
pub const SECRET_MARK: &str = "s3cr3t";

/// A CA certificate TLS accepts as a trust anchor (self-signed, P-256).
pub const CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBhzCCAS2gAwIBAgIUNrzulCPUd4Sk5QuiJNpyHMl5Q2QwCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNdGFibGUgdGVzdCBjYTAgFw0yNjEyMDcxOTI1NDlaGA8yMTI2
MTExMzE5MjU0OVowGDEWMBQGA1UEAwwNdGFibGUgdGVzdCBjYTBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABOyWaYuVmLv6nEKSkjzlZ9bsCK2qn5CB3mK+HPr+aX6g
GsJGfvW1lDqWUJrM9d+tDcwB490vkx5F9epEwOW9ZHKjUzBRMB0GA1UdDgQWBBTx
4KcjmF90nIfd3jgHjcoosMbtpTAfBgNVHSMEGDAWgBTx4KcjmF90nIfd3jgHjcoo
sMbtpTAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQCUT1FtxA2e
5o2D1XZCKdgwYdl9iVLSdMTT0kzq5HwVZwIgW0KukVh4QMrTBX9nf/yV/Qf5fZ7/
sC87ZEeCCvmmn58=
-----END CERTIFICATE-----
";

/// A PEM private key block: the checks read its PEM, not the key inside.
pub const KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
const PLACEHOLDER: &str = "# Replace with the PEM CA certificate\n";

/// Objects by name, each with its (key, value) pairs.
pub type Objects<V> = Vec<(&'static str, Vec<(&'static str, V)>)>;

pub struct Case {
    pub name: &'static str,
    pub spec: Value,
    pub secrets: Objects<&'static [u8]>,
    pub config_maps: Objects<&'static str>,
    /// What `check` finds over both blocks, in order: (field, object name, what).
    pub problems: Vec<(&'static str, &'static str, What)>,
    pub webhook: Webhook,
    pub controller: Controller,
}

/// The webhook's decision on the cluster.
pub enum Webhook {
    /// Admitted with these warnings.
    Admitted(Vec<&'static str>),
    /// Denied with these lines.
    Denied(Vec<&'static str>),
}

pub struct Controller {
    /// The `Ready` condition's (reason, message) when the REST API's settings do not resolve.
    pub rest: Option<(&'static str, &'static str)>,
    /// Why `spec.kafka`'s settings do not resolve (the `KafkaReachable` condition's message).
    pub kafka: Option<&'static str>,
}

impl Case {
    pub fn spec(&self) -> KafkaConnectClusterSpec {
        serde_json::from_value(self.spec.clone()).expect("the table's specs are valid")
    }

    pub fn secrets(&self) -> Vec<Secret> {
        let secret = |(name, pairs): &(&str, Vec<(&str, &[u8])>)| Secret {
            metadata: meta(name),
            data: Some(
                (pairs.iter())
                    .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                    .collect(),
            ),
            ..Default::default()
        };
        self.secrets.iter().map(secret).collect()
    }

    pub fn config_maps(&self) -> Vec<ConfigMap> {
        let config_map = |(name, pairs): &(&str, Vec<(&str, &str)>)| ConfigMap {
            metadata: meta(name),
            data: Some(
                (pairs.iter())
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        };
        self.config_maps.iter().map(config_map).collect()
    }
}

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(NAMESPACE.into()),
        ..Default::default()
    }
}

fn no_key(key: &str) -> What {
    What::NoKey(key.into())
}

fn bad(key: &str, why: PemProblem) -> What {
    What::BadPem {
        key: key.into(),
        why,
    }
}

fn rest_ok() -> Controller {
    Controller {
        rest: None,
        kafka: None,
    }
}

fn rest(reason: &'static str, message: &'static str) -> Controller {
    Controller {
        rest: Some((reason, message)),
        kafka: None,
    }
}

fn kafka(message: &'static str) -> Controller {
    Controller {
        rest: None,
        kafka: Some(message),
    }
}

fn kafka_spec(tls: Value) -> Value {
    json!({"url": "https://c:8083", "kafka": {"bootstrapServers": "k-0:9093",
        "authentication": {"type": "scram-sha-512", "secretRef": {"name": "kafka-user"}}, "tls": tls}})
}

pub fn cases() -> Vec<Case> {
    let secure = json!({"url": "https://c:8083",
        "authentication": {"type": "basic", "secretRef": {"name": "creds"}},
        "tls": {"caConfigMapRef": {"name": "ca"}, "clientCertSecretRef": {"name": "client"}}});
    let creds = || {
        (
            "creds",
            vec![("username", &b"u"[..]), ("password", b"s3cr3t-password")],
        )
    };
    let client = || {
        (
            "client",
            vec![
                ("tls.crt", CA_PEM.as_bytes()),
                ("tls.key", KEY_PEM.as_bytes()),
            ],
        )
    };
    let kafka_user = || {
        (
            "kafka-user",
            vec![("username", &b"lag"[..]), ("password", b"s3cr3t-kafka")],
        )
    };
    vec![
        Case {
            name: "no references",
            spec: json!({"url": "https://c:8083"}),
            secrets: vec![],
            config_maps: vec![],
            problems: vec![],
            webhook: Webhook::Admitted(vec![]),
            controller: rest_ok(),
        },
        Case {
            name: "every object of the REST API absent",
            spec: secure.clone(),
            secrets: vec![],
            config_maps: vec![],
            problems: vec![
                ("spec.authentication.secretRef", "creds", What::Absent),
                ("spec.tls.caConfigMapRef", "ca", What::Absent),
                ("spec.tls.clientCertSecretRef", "client", What::Absent),
            ],
            webhook: Webhook::Admitted(vec![
                "spec.authentication.secretRef: Secret team-a/creds not found; admitted, the controller reports \
                 the cluster not Ready until it exists",
                "spec.tls.caConfigMapRef: ConfigMap team-a/ca not found; admitted, the controller reports the \
                 cluster not Ready until it exists",
                "spec.tls.clientCertSecretRef: Secret team-a/client not found; admitted, the controller reports \
                 the cluster not Ready until it exists",
            ]),
            controller: rest(
                "SecretNotFound",
                "KafkaConnectCluster team-a/prod: Secret team-a/creds not found (spec.authentication.secretRef, \
                 key \"username\", \"password\"); ConfigMap team-a/ca not found (spec.tls.caConfigMapRef, key \
                 \"ca.crt\"); Secret team-a/client not found (spec.tls.clientCertSecretRef, key \"tls.crt\", \
                 \"tls.key\")",
            ),
        },
        Case {
            name: "a credential without its key, and a ConfigMap absent",
            spec: secure.clone(),
            secrets: vec![
                (
                    "creds",
                    vec![("username", b"u"), ("pass", b"s3cr3t-password")],
                ),
                client(),
            ],
            config_maps: vec![],
            problems: vec![
                ("spec.authentication.secretRef", "creds", no_key("password")),
                ("spec.tls.caConfigMapRef", "ca", What::Absent),
            ],
            webhook: Webhook::Denied(vec![
                "KafkaConnectCluster team-a/prod: Secret creds has no key \"password\"",
            ]),
            controller: rest(
                "SecretNotFound",
                "KafkaConnectCluster team-a/prod: Secret team-a/creds has no key \"password\" \
                 (spec.authentication.secretRef); ConfigMap team-a/ca not found (spec.tls.caConfigMapRef, key \
                 \"ca.crt\")",
            ),
        },
        Case {
            name: "a client certificate Secret without either key",
            spec: json!({"url": "https://c:8083", "tls": {"clientCertSecretRef": {"name": "client"}}}),
            secrets: vec![("client", vec![("other", b"x")])],
            config_maps: vec![],
            problems: vec![
                ("spec.tls.clientCertSecretRef", "client", no_key("tls.crt")),
                ("spec.tls.clientCertSecretRef", "client", no_key("tls.key")),
            ],
            webhook: Webhook::Denied(vec![
                "KafkaConnectCluster team-a/prod: Secret client has no key \"tls.crt\"",
            ]),
            controller: rest(
                "SecretNotFound",
                "KafkaConnectCluster team-a/prod: Secret team-a/client has no key \"tls.crt\" \
                 (spec.tls.clientCertSecretRef); Secret team-a/client has no key \"tls.key\" \
                 (spec.tls.clientCertSecretRef)",
            ),
        },
        Case {
            name: "a ConfigMap's CA is a placeholder",
            spec: secure.clone(),
            secrets: vec![creds(), client()],
            config_maps: vec![("ca", vec![("ca.crt", PLACEHOLDER)])],
            problems: vec![(
                "spec.tls.caConfigMapRef",
                "ca",
                bad("ca.crt", PemProblem::NoCertificate),
            )],
            webhook: Webhook::Denied(vec![
                "KafkaConnectCluster team-a/prod: ConfigMap team-a/ca key \"ca.crt\" (spec.tls.caConfigMapRef) \
                 holds no PEM certificate (expected \"-----BEGIN CERTIFICATE-----\" blocks)",
            ]),
            controller: rest(
                "InvalidCA",
                "KafkaConnectCluster team-a/prod: ConfigMap team-a/ca key \"ca.crt\" (spec.tls.caConfigMapRef) \
                 holds no PEM certificate (expected \"-----BEGIN CERTIFICATE-----\" blocks)",
            ),
        },
        Case {
            name: "a CA with broken PEM",
            spec: json!({"url": "https://c:8083", "tls": {"caConfigMapRef": {"name": "ca"}}}),
            secrets: vec![],
            config_maps: vec![(
                "ca",
                vec![("ca.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n")],
            )],
            problems: vec![(
                "spec.tls.caConfigMapRef",
                "ca",
                bad("ca.crt", PemProblem::NotPem),
            )],
            webhook: Webhook::Denied(vec![
                "KafkaConnectCluster team-a/prod: ConfigMap team-a/ca key \"ca.crt\" (spec.tls.caConfigMapRef) \
                 is not valid PEM (a BEGIN/END line or the base64 between is broken)",
            ]),
            controller: rest(
                "InvalidCA",
                "KafkaConnectCluster team-a/prod: ConfigMap team-a/ca key \"ca.crt\" (spec.tls.caConfigMapRef) \
                 is not valid PEM (a BEGIN/END line or the base64 between is broken)",
            ),
        },
        Case {
            name: "a CA whose PEM block is no certificate, in a Secret with its own key",
            spec: json!({"url": "https://c:8083", "tls": {"caSecretRef": {"name": "ca-secret", "key": "bundle.pem"}}}),
            secrets: vec![(
                "ca-secret",
                vec![(
                    "bundle.pem",
                    b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                )],
            )],
            config_maps: vec![],
            problems: vec![(
                "spec.tls.caSecretRef",
                "ca-secret",
                bad(
                    "bundle.pem",
                    PemProblem::NotCaCertificate {
                        number: 1,
                        detail: "invalid peer certificate: BadEncoding".into(),
                    },
                ),
            )],
            webhook: Webhook::Denied(vec![
                "KafkaConnectCluster team-a/prod: Secret team-a/ca-secret key \"bundle.pem\" (spec.tls.caSecretRef) \
                 holds a certificate (number 1) that is not a valid X.509 CA certificate: invalid peer certificate: BadEncoding",
            ]),
            controller: rest(
                "InvalidCA",
                "KafkaConnectCluster team-a/prod: Secret team-a/ca-secret key \"bundle.pem\" (spec.tls.caSecretRef) \
                 holds a certificate (number 1) that is not a valid X.509 CA certificate: invalid peer certificate: BadEncoding",
            ),
        },
        Case {
            name: "a CA Secret without a certificate beside a good CA ConfigMap",
            spec: json!({"url": "https://c:8083",
                "tls": {"caSecretRef": {"name": "ca-secret"}, "caConfigMapRef": {"name": "ca"}}}),
            secrets: vec![("ca-secret", vec![("ca.crt", PLACEHOLDER.as_bytes())])],
            config_maps: vec![("ca", vec![("ca.crt", CA_PEM)])],
            problems: vec![(
                "spec.tls.caSecretRef",
                "ca-secret",
                bad("ca.crt", PemProblem::NoCertificate),
            )],
            webhook: Webhook::Denied(vec![
                "KafkaConnectCluster team-a/prod: Secret team-a/ca-secret key \"ca.crt\" (spec.tls.caSecretRef) \
                 holds no PEM certificate (expected \"-----BEGIN CERTIFICATE-----\" blocks)",
            ]),
            controller: rest(
                "InvalidCA",
                "KafkaConnectCluster team-a/prod: Secret team-a/ca-secret key \"ca.crt\" (spec.tls.caSecretRef) \
                 holds no PEM certificate (expected \"-----BEGIN CERTIFICATE-----\" blocks)",
            ),
        },
        Case {
            name: "a client certificate and key that are not PEM",
            spec: json!({"url": "https://c:8083", "tls": {"clientCertSecretRef": {"name": "client"}}}),
            secrets: vec![(
                "client",
                vec![
                    ("tls.crt", b"not a cert"),
                    ("tls.key", b"s3cr3t-key-material"),
                ],
            )],
            config_maps: vec![],
            problems: vec![
                (
                    "spec.tls.clientCertSecretRef",
                    "client",
                    bad("tls.crt", PemProblem::NoCertificate),
                ),
                (
                    "spec.tls.clientCertSecretRef",
                    "client",
                    bad("tls.key", PemProblem::NoPrivateKey),
                ),
            ],
            webhook: Webhook::Denied(vec![
                "KafkaConnectCluster team-a/prod: Secret team-a/client key \"tls.crt\" \
                 (spec.tls.clientCertSecretRef) holds no PEM certificate (expected \"-----BEGIN CERTIFICATE-----\" \
                 blocks)",
                "KafkaConnectCluster team-a/prod: Secret team-a/client key \"tls.key\" \
                 (spec.tls.clientCertSecretRef) holds no PEM private key (expected a \"-----BEGIN PRIVATE \
                 KEY-----\" block)",
            ]),
            controller: rest(
                "InvalidSettings",
                "KafkaConnectCluster team-a/prod: Secret team-a/client key \"tls.crt\" \
                 (spec.tls.clientCertSecretRef) holds no PEM certificate (expected \"-----BEGIN CERTIFICATE-----\" \
                 blocks); Secret team-a/client key \"tls.key\" (spec.tls.clientCertSecretRef) holds no PEM \
                 private key (expected a \"-----BEGIN PRIVATE KEY-----\" block)",
            ),
        },
        Case {
            name: "credentials, a good CA and a good client certificate",
            spec: secure.clone(),
            secrets: vec![creds(), client()],
            config_maps: vec![("ca", vec![("ca.crt", CA_PEM)])],
            problems: vec![],
            webhook: Webhook::Admitted(vec![]),
            controller: rest_ok(),
        },
        Case {
            name: "a token that is not text",
            spec: json!({"url": "https://c:8083",
                "authentication": {"type": "bearer", "secretRef": {"name": "tok"}}}),
            secrets: vec![("tok", vec![("token", &[0xff, 0xfe][..])])],
            config_maps: vec![],
            problems: vec![(
                "spec.authentication.secretRef",
                "tok",
                What::NotText("token".into()),
            )],
            webhook: Webhook::Denied(vec![
                "KafkaConnectCluster team-a/prod: Secret tok has no key \"token\"",
            ]),
            controller: rest(
                "InvalidSettings",
                "KafkaConnectCluster team-a/prod: Secret tok has no key \"token\"",
            ),
        },
        Case {
            name: "a token Secret with its own key, absent",
            spec: json!({"url": "https://c:8083",
                "authentication": {"type": "bearer", "secretRef": {"name": "tok"}, "tokenKey": "t"}}),
            secrets: vec![],
            config_maps: vec![],
            problems: vec![("spec.authentication.secretRef", "tok", What::Absent)],
            webhook: Webhook::Admitted(vec![
                "spec.authentication.secretRef: Secret team-a/tok not found; admitted, the controller reports \
                 the cluster not Ready until it exists",
            ]),
            controller: rest(
                "SecretNotFound",
                "KafkaConnectCluster team-a/prod: Secret team-a/tok not found (spec.authentication.secretRef, \
                 key \"t\")",
            ),
        },
        Case {
            name: "spec.kafka's objects absent",
            spec: kafka_spec(json!({"caSecretRef": {"name": "kafka-ca"}})),
            secrets: vec![],
            config_maps: vec![],
            problems: vec![
                (
                    "spec.kafka.authentication.secretRef",
                    "kafka-user",
                    What::Absent,
                ),
                ("spec.kafka.tls.caSecretRef", "kafka-ca", What::Absent),
            ],
            webhook: Webhook::Admitted(vec![
                "spec.kafka.authentication.secretRef: Secret team-a/kafka-user not found; admitted, the \
                 controller reports the cluster not Ready until it exists",
                "spec.kafka.tls.caSecretRef: Secret team-a/kafka-ca not found; admitted, the controller reports \
                 the cluster not Ready until it exists",
            ]),
            controller: kafka("KafkaConnectCluster team-a/prod: Secret kafka-user not found"),
        },
        Case {
            name: "spec.kafka's credentials without a password and its CA not PEM",
            spec: kafka_spec(json!({"caSecretRef": {"name": "kafka-ca"}})),
            secrets: vec![
                ("kafka-user", vec![("username", b"lag")]),
                ("kafka-ca", vec![("ca.crt", b"not pem")]),
            ],
            config_maps: vec![],
            problems: vec![
                (
                    "spec.kafka.authentication.secretRef",
                    "kafka-user",
                    no_key("password"),
                ),
                (
                    "spec.kafka.tls.caSecretRef",
                    "kafka-ca",
                    bad("ca.crt", PemProblem::NoCertificate),
                ),
            ],
            webhook: Webhook::Denied(vec![
                "KafkaConnectCluster team-a/prod: Secret kafka-user has no key \"password\"",
                "KafkaConnectCluster team-a/prod: Secret team-a/kafka-ca key \"ca.crt\" \
                 (spec.kafka.tls.caSecretRef) holds no PEM certificate (expected \"-----BEGIN CERTIFICATE-----\" \
                 blocks)",
            ]),
            controller: kafka(
                "KafkaConnectCluster team-a/prod: Secret kafka-user has no key \"password\"",
            ),
        },
        Case {
            name: "spec.kafka's CA without a certificate",
            spec: kafka_spec(json!({"caSecretRef": {"name": "kafka-ca"}})),
            secrets: vec![kafka_user(), ("kafka-ca", vec![("ca.crt", b"not pem")])],
            config_maps: vec![],
            problems: vec![(
                "spec.kafka.tls.caSecretRef",
                "kafka-ca",
                bad("ca.crt", PemProblem::NoCertificate),
            )],
            webhook: Webhook::Denied(vec![
                "KafkaConnectCluster team-a/prod: Secret team-a/kafka-ca key \"ca.crt\" \
                 (spec.kafka.tls.caSecretRef) holds no PEM certificate (expected \"-----BEGIN CERTIFICATE-----\" \
                 blocks)",
            ]),
            controller: kafka(
                "KafkaConnectCluster team-a/prod: Secret team-a/kafka-ca key \"ca.crt\" \
                 (spec.kafka.tls.caSecretRef) holds no PEM certificate (expected \"-----BEGIN CERTIFICATE-----\" \
                 blocks)",
            ),
        },
        Case {
            name: "spec.kafka with a good CA ConfigMap and client certificate",
            spec: kafka_spec(
                json!({"caConfigMapRef": {"name": "kafka-ca"}, "clientCertSecretRef": {"name": "client"}}),
            ),
            secrets: vec![kafka_user(), client()],
            config_maps: vec![("kafka-ca", vec![("ca.crt", CA_PEM)])],
            problems: vec![],
            webhook: Webhook::Admitted(vec![]),
            controller: rest_ok(),
        },
    ]
}
