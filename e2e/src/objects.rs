//! KafkaConnectCluster and KafkaConnector manifests built from the `shared::crd` types, as YAML for
//! `kubectl apply`. Fields a test does not set stay out of the manifest (not even their defaults), as in a
//! hand-written file: the API server defaults them, and `kubectl apply` leaves them to other writers. Where
//! the test is about a file's own text, it is a fixture (`e2e/tests/e2e/fixtures/`) filled in by [`fill`].

use std::collections::BTreeMap;

use serde_json::Value;
use shared::crd::{
    AuthenticationType, AutoRestart, ClusterAuthentication, ClusterKafka, ClusterRef, ClusterTls,
    ConfigValueSource, ConnectorState, DeletionPolicy, KafkaAuthentication,
    KafkaAuthenticationType, KafkaConnectCluster, KafkaConnectClusterSpec, KafkaConnector,
    KafkaConnectorSpec, KeyRef, KeySelector, LocalObjectRef,
};

use crate::{Out, apply};

/// Several manifests as one YAML stream.
pub fn yaml_stream(docs: &[String]) -> String {
    docs.join("---\n")
}

/// A fixture's text (`e2e/tests/e2e/fixtures/`) with each `${KEY}` placeholder replaced by its value. Panics
/// when a placeholder has no value or a value no placeholder, so a fixture and its test cannot drift apart.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut placeholders = Vec::new();
    let mut rest = template;
    while let Some(at) = rest.find("${") {
        rest = &rest[at + 2..];
        let end = rest.find('}').unwrap_or(rest.len());
        let key = &rest[..end];
        if !key.is_empty() && key.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
            placeholders.push(key);
        }
    }
    for key in &placeholders {
        assert!(
            values.iter().any(|(k, _)| k == key),
            "no value for ${{{key}}} in:\n{template}"
        );
    }
    let mut text = template.to_string();
    for (key, value) in values {
        assert!(placeholders.contains(key), "no ${{{key}}} in:\n{template}");
        text = text.replace(&format!("${{{key}}}"), value);
    }
    text
}

/// A KafkaConnectCluster manifest.
#[derive(Clone)]
pub struct Cluster {
    object: KafkaConnectCluster,
    prune_set: bool,
}

/// A KafkaConnectCluster `name` in `ns` for the Connect REST API at `url`.
pub fn cluster(ns: &str, name: &str, url: &str) -> Cluster {
    let mut object = KafkaConnectCluster::new(
        name,
        KafkaConnectClusterSpec {
            url: url.to_string(),
            authentication: None,
            tls: None,
            request_timeout_seconds: None,
            allowed_namespaces: Vec::new(),
            prune: false,
            kafka: None,
        },
    );
    object.metadata.namespace = Some(ns.to_string());
    Cluster {
        object,
        prune_set: false,
    }
}

impl Cluster {
    pub fn label(mut self, key: &str, value: &str) -> Cluster {
        label(&mut self.object.metadata, key, value);
        self
    }

    pub fn finalizer(mut self, finalizer: &str) -> Cluster {
        self.object
            .metadata
            .finalizers
            .get_or_insert_default()
            .push(finalizer.to_string());
        self
    }

    /// HTTP basic auth with the credentials in Secret `secret` (default keys).
    pub fn basic_auth(mut self, secret: &str) -> Cluster {
        self.object.spec.authentication = Some(ClusterAuthentication {
            kind: AuthenticationType::Basic,
            secret_ref: LocalObjectRef {
                name: secret.to_string(),
            },
            username_key: None,
            password_key: None,
            token_key: None,
        });
        self
    }

    /// Trust the CA in Secret `secret` (key `ca.crt`).
    pub fn ca_secret(mut self, secret: &str) -> Cluster {
        self.tls().ca_secret_ref = Some(key_ref(secret));
        self
    }

    /// Trust the CA in ConfigMap `config_map` (key `ca.crt`).
    pub fn ca_config_map(mut self, config_map: &str) -> Cluster {
        self.tls().ca_config_map_ref = Some(key_ref(config_map));
        self
    }

    /// mTLS with the `kubernetes.io/tls` Secret `secret`.
    pub fn client_cert(mut self, secret: &str) -> Cluster {
        self.tls().client_cert_secret_ref = Some(LocalObjectRef {
            name: secret.to_string(),
        });
        self
    }

    /// `spec.kafka` with these bootstrap servers (plain, no credentials).
    pub fn kafka(mut self, bootstrap: &str) -> Cluster {
        self.object.spec.kafka = Some(ClusterKafka {
            bootstrap_servers: bootstrap.to_string(),
            authentication: None,
            tls: None,
            offsets_topic: None,
        });
        self
    }

    /// `spec.kafka.offsetsTopic`: the workers' offset.storage.topic.
    pub fn kafka_offsets_topic(mut self, topic: &str) -> Cluster {
        if let Some(k) = &mut self.object.spec.kafka {
            k.offsets_topic = Some(topic.to_string());
        }
        self
    }

    /// SASL for `spec.kafka` with the user name and password in Secret `secret` (default keys).
    pub fn kafka_sasl(mut self, kind: KafkaAuthenticationType, secret: &str) -> Cluster {
        if let Some(k) = &mut self.object.spec.kafka {
            k.authentication = Some(KafkaAuthentication {
                kind,
                secret_ref: LocalObjectRef {
                    name: secret.to_string(),
                },
                username_key: None,
                password_key: None,
            });
        }
        self
    }

    /// TLS for `spec.kafka`: the CA in Secret `ca` (key `ca.crt`) and, for mTLS, the `kubernetes.io/tls`
    /// Secret `client_cert`.
    pub fn kafka_tls(mut self, ca: &str, client_cert: Option<&str>) -> Cluster {
        if let Some(k) = &mut self.object.spec.kafka {
            k.tls = Some(ClusterTls {
                ca_secret_ref: Some(key_ref(ca)),
                client_cert_secret_ref: client_cert.map(|n| LocalObjectRef {
                    name: n.to_string(),
                }),
                ..ClusterTls::default()
            });
        }
        self
    }

    pub fn request_timeout_seconds(mut self, seconds: u32) -> Cluster {
        self.object.spec.request_timeout_seconds = Some(seconds);
        self
    }

    /// `spec.allowedNamespaces`: other namespaces whose connectors may run on this cluster.
    pub fn allow_namespaces(mut self, namespaces: &[&str]) -> Cluster {
        self.object.spec.allowed_namespaces = namespaces.iter().map(|n| n.to_string()).collect();
        self
    }

    pub fn prune(mut self) -> Cluster {
        self.object.spec.prune = true;
        self.prune_set = true;
        self
    }

    fn tls(&mut self) -> &mut ClusterTls {
        self.object.spec.tls.get_or_insert_default()
    }

    pub fn yaml(&self) -> String {
        let mut v = serde_json::to_value(&self.object).expect("a KafkaConnectCluster as JSON");
        let spec = v["spec"].as_object_mut().expect("spec");
        if !self.prune_set {
            spec.remove("prune");
        }
        if let Some(tls) = spec.get_mut("tls").and_then(Value::as_object_mut)
            && tls.get("insecureSkipVerify") == Some(&Value::Bool(false))
        {
            tls.remove("insecureSkipVerify");
        }
        to_yaml(&v)
    }

    /// `kubectl apply -f -` of this manifest.
    pub fn apply(&self) -> Out {
        apply(&self.yaml(), &[])
    }
}

/// A KafkaConnector manifest.
#[derive(Clone)]
pub struct Connector {
    object: KafkaConnector,
    state_set: bool,
    deletion_policy_set: bool,
    /// Config values written as raw YAML text: (the placeholder standing in the manifest, the text).
    raw_config: Vec<(String, String)>,
}

/// A KafkaConnector `name` in `ns` of connector `class` on the KafkaConnectCluster `main`.
pub fn connector(ns: &str, name: &str, class: &str) -> Connector {
    let mut object = KafkaConnector::new(
        name,
        KafkaConnectorSpec {
            cluster_ref: Some(ClusterRef {
                name: "main".into(),
                namespace: None,
            }),
            name: None,
            class: class.to_string(),
            tasks_max: None,
            config: BTreeMap::new(),
            config_from: BTreeMap::new(),
            state: ConnectorState::default(),
            auto_restart: None,
            deletion_policy: DeletionPolicy::default(),
            version: None,
            list_offsets: None,
            alter_offsets: None,
        },
    );
    object.metadata.namespace = Some(ns.to_string());
    Connector {
        object,
        state_set: false,
        deletion_policy_set: false,
        raw_config: Vec::new(),
    }
}

/// A `FileStreamSink` on `main` reading `topics` into `file`.
pub fn file_sink(ns: &str, name: &str, topics: &str, file: impl std::fmt::Display) -> Connector {
    connector(ns, name, "FileStreamSink")
        .config("topics", topics)
        .config("file", file)
}

/// A `FileStreamSource` on `main` writing the lines of `file` to `topic`.
pub fn file_source(ns: &str, name: &str, topic: &str, file: impl std::fmt::Display) -> Connector {
    connector(ns, name, "FileStreamSource")
        .config("topic", topic)
        .config("file", file)
}

/// A `MirrorSourceConnector` on `main` with one task, mirroring the broker at `bootstrap` into itself (cluster
/// aliases `src` and `dst`); the caller says which topics.
pub fn mirror_source(ns: &str, name: &str, bootstrap: &str) -> Connector {
    connector(
        ns,
        name,
        "org.apache.kafka.connect.mirror.MirrorSourceConnector",
    )
    .tasks_max(1)
    .config("source.cluster.alias", "src")
    .config("target.cluster.alias", "dst")
    .config("source.cluster.bootstrap.servers", bootstrap)
    .config("target.cluster.bootstrap.servers", bootstrap)
}

impl Connector {
    /// Runs on the KafkaConnectCluster `cluster` (in the connector's namespace).
    pub fn on(mut self, cluster: &str) -> Connector {
        self.object.spec.cluster_ref = Some(ClusterRef {
            name: cluster.to_string(),
            namespace: None,
        });
        self
    }

    /// Runs on the KafkaConnectCluster `cluster` in namespace `namespace`.
    pub fn on_cluster_in(mut self, namespace: &str, cluster: &str) -> Connector {
        self.object.spec.cluster_ref = Some(ClusterRef {
            name: cluster.to_string(),
            namespace: Some(namespace.to_string()),
        });
        self
    }

    /// No `spec.clusterRef` at all.
    pub fn without_cluster_ref(mut self) -> Connector {
        self.object.spec.cluster_ref = None;
        self
    }

    pub fn label(mut self, key: &str, value: &str) -> Connector {
        label(&mut self.object.metadata, key, value);
        self
    }

    pub fn annotation(mut self, key: &str, value: &str) -> Connector {
        self.object
            .metadata
            .annotations
            .get_or_insert_default()
            .insert(key.to_string(), value.to_string());
        self
    }

    /// `spec.name`: the connector's name on Kafka Connect.
    pub fn connect_name(mut self, name: &str) -> Connector {
        self.object.spec.name = Some(name.to_string());
        self
    }

    pub fn tasks_max(mut self, n: i32) -> Connector {
        self.object.spec.tasks_max = Some(n);
        self
    }

    pub fn state(mut self, state: ConnectorState) -> Connector {
        self.object.spec.state = state;
        self.state_set = true;
        self
    }

    /// `spec.deletionPolicy: DeleteAndResetOffsets`.
    pub fn reset_offsets_on_delete(mut self) -> Connector {
        self.object.spec.deletion_policy = DeletionPolicy::DeleteAndResetOffsets;
        self.deletion_policy_set = true;
        self
    }

    /// `spec.version`: the plugin version or Maven range to run.
    pub fn version(mut self, version: &str) -> Connector {
        self.object.spec.version = Some(version.to_string());
        self
    }

    /// `spec.listOffsets.toConfigMap` and `spec.alterOffsets.fromConfigMap`.
    pub fn offsets_config_maps(mut self, list_to: &str, alter_from: &str) -> Connector {
        self.object.spec.list_offsets = Some(shared::crd::ListOffsets {
            to_config_map: shared::crd::LocalObjectRef {
                name: list_to.to_string(),
            },
        });
        self.object.spec.alter_offsets = Some(shared::crd::AlterOffsets {
            from_config_map: shared::crd::LocalObjectRef {
                name: alter_from.to_string(),
            },
        });
        self
    }

    pub fn orphan(mut self) -> Connector {
        self.object.spec.deletion_policy = DeletionPolicy::Orphan;
        self.deletion_policy_set = true;
        self
    }

    pub fn auto_restart(mut self, a: AutoRestart) -> Connector {
        self.object.spec.auto_restart = Some(a);
        self
    }

    /// Automatic restarts on, at most `max` of them, the second after `backoff_base_seconds`.
    pub fn restarts(self, max: u32, backoff_base_seconds: u32) -> Connector {
        self.auto_restart(AutoRestart {
            max_restarts: Some(max),
            backoff_base_seconds: Some(backoff_base_seconds),
            ..AutoRestart::default()
        })
    }

    /// Automatic restarts off.
    pub fn no_auto_restart(self) -> Connector {
        self.auto_restart(AutoRestart {
            enabled: false,
            ..AutoRestart::default()
        })
    }

    /// A config entry with a string value, as Kafka Connect takes it.
    pub fn config(self, key: &str, value: impl std::fmt::Display) -> Connector {
        self.config_value(key, Value::String(value.to_string()))
    }

    /// A config entry with any JSON value (a number, a boolean), as a user may write it in YAML.
    pub fn config_value(mut self, key: &str, value: Value) -> Connector {
        self.object.spec.config.insert(key.to_string(), value);
        self
    }

    /// A `spec.configFrom` entry: config key `key` takes the value of `object_key` in the Secret (or, with
    /// `config_map`, the ConfigMap) `object` of the connector's namespace.
    pub fn config_from(
        mut self,
        key: &str,
        config_map: bool,
        object: &str,
        object_key: &str,
    ) -> Connector {
        let sel = KeySelector {
            name: object.to_string(),
            key: object_key.to_string(),
            optional: None,
        };
        let src = if config_map {
            ConfigValueSource::ConfigMapKeyRef(sel)
        } else {
            ConfigValueSource::SecretKeyRef(sel)
        };
        self.object.spec.config_from.insert(key.to_string(), src);
        self
    }

    /// A config entry written as raw YAML text and kept byte for byte (a number beyond 64 bits, a long
    /// decimal, a flow mapping), for tests about what decoding that text does to it.
    pub fn config_raw(mut self, key: &str, yaml: &str) -> Connector {
        let placeholder = format!("raw-config-value-{}", self.raw_config.len());
        self.raw_config
            .push((placeholder.clone(), yaml.to_string()));
        self.config(key, placeholder)
    }

    pub fn yaml(&self) -> String {
        let mut v = serde_json::to_value(&self.object).expect("a KafkaConnector as JSON");
        let spec = v["spec"].as_object_mut().expect("spec");
        if !self.state_set {
            spec.remove("state");
        }
        if !self.deletion_policy_set {
            spec.remove("deletionPolicy");
        }
        if self.object.spec.config.is_empty() {
            spec.remove("config");
        }
        let mut yaml = to_yaml(&v);
        for (placeholder, text) in &self.raw_config {
            yaml = yaml.replace(&format!(": {placeholder}\n"), &format!(": {text}\n"));
        }
        yaml
    }

    /// `kubectl apply -f -` of this manifest.
    pub fn apply(&self) -> Out {
        apply(&self.yaml(), &[])
    }
}

fn label(meta: &mut kube::api::ObjectMeta, key: &str, value: &str) {
    meta.labels
        .get_or_insert_default()
        .insert(key.to_string(), value.to_string());
}

fn key_ref(name: &str) -> KeyRef {
    KeyRef {
        name: name.to_string(),
        key: None,
    }
}

fn to_yaml(v: &Value) -> String {
    shared::crd::manifest_yaml(v).expect("a manifest as YAML")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connector_holds_only_what_was_set() {
        let y = file_sink("ns", "a", "t", "/x").tasks_max(2).yaml();
        let v: Value = serde_saphyr::from_str(&y).unwrap();
        assert_eq!(v["apiVersion"], "connectwarden.io/v1alpha1");
        assert_eq!(v["kind"], "KafkaConnector");
        assert_eq!(v["metadata"]["namespace"], "ns");
        assert_eq!(
            v["spec"],
            serde_json::json!({"clusterRef": {"name": "main"}, "class": "FileStreamSink", "tasksMax": 2,
                "config": {"topics": "t", "file": "/x"}})
        );
        let y = connector("ns", "a", "C")
            .state(ConnectorState::Stopped)
            .orphan()
            .config_value("batch.size", 5.into())
            .yaml();
        let v: Value = serde_saphyr::from_str(&y).unwrap();
        assert_eq!(v["spec"]["state"], "stopped");
        assert_eq!(v["spec"]["deletionPolicy"], "Orphan");
        assert_eq!(v["spec"]["config"]["batch.size"], 5);
    }

    #[test]
    fn config_values_are_written_as_a_user_writes_them() {
        let y = connector("ns", "a", "C")
            .config_value("batch.size", 200.into())
            .config_value("errors.log.enable", true.into())
            .config_value("offset", 9007199254740993u64.into())
            .config("id", "12345678901234567890")
            .config_raw("ratio", "0.12345678901234567890")
            .config_raw("nested", "{a: 1}")
            .config_raw("list", "[a, b]")
            .yaml();
        for line in [
            "    batch.size: 200\n",
            "    errors.log.enable: true\n",
            "    offset: 9007199254740993\n",
            "    id: \"12345678901234567890\"\n",
            "    ratio: 0.12345678901234567890\n",
            "    nested: {a: 1}\n",
            "    list: [a, b]\n",
        ] {
            assert!(y.contains(line), "{line:?} in\n{y}");
        }
        // Still one valid manifest.
        let v: Value = serde_saphyr::from_str(&y).unwrap();
        let config = &v["spec"]["config"];
        assert_eq!(config["nested"]["a"], 1);
        assert_eq!(config["id"], "12345678901234567890");
    }

    #[test]
    fn a_connector_may_name_the_clusters_namespace_or_no_cluster() {
        let v: Value =
            serde_saphyr::from_str(&connector("a", "c", "C").on_cluster_in("b", "x").yaml())
                .unwrap();
        assert_eq!(
            v["spec"]["clusterRef"],
            serde_json::json!({"name": "x", "namespace": "b"})
        );
        let v: Value =
            serde_saphyr::from_str(&connector("a", "c", "C").without_cluster_ref().yaml()).unwrap();
        assert_eq!(v["spec"], serde_json::json!({"class": "C"}));
    }

    #[test]
    fn a_cluster_holds_only_what_was_set() {
        let v: Value = serde_saphyr::from_str(&cluster("ns", "c", "http://x").yaml()).unwrap();
        assert_eq!(v["spec"], serde_json::json!({"url": "http://x"}));
        let v: Value = serde_saphyr::from_str(
            &cluster("ns", "c", "http://x")
                .allow_namespaces(&["a", "b"])
                .yaml(),
        )
        .unwrap();
        assert_eq!(
            v["spec"]["allowedNamespaces"],
            serde_json::json!(["a", "b"])
        );
        let y = cluster("ns", "c", "https://x")
            .basic_auth("creds")
            .ca_config_map("ca")
            .client_cert("client")
            .prune()
            .yaml();
        let v: Value = serde_saphyr::from_str(&y).unwrap();
        assert_eq!(
            v["spec"],
            serde_json::json!({"url": "https://x", "prune": true,
                "authentication": {"type": "basic", "secretRef": {"name": "creds"}},
                "tls": {"caConfigMapRef": {"name": "ca"}, "clientCertSecretRef": {"name": "client"}}})
        );
    }
}
