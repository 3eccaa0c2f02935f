//! Which Kafka Connect cluster a connector targets, and which KafkaConnector claims a connector name there:
//! the webhook checks these at admission and the controller acts on them, so both read them from here.

use std::fmt;

use crate::crd::{KafkaConnectCluster, KafkaConnector};

/// The Connect cluster a connector targets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClusterId {
    /// A KafkaConnectCluster.
    Named { namespace: String, name: String },
    /// The cluster configured by flag (`KAFKA_CONNECT_ADDR`), for connectors without `spec.clusterRef`.
    Default,
}

impl ClusterId {
    /// The cluster `connector` targets: its `spec.clusterRef` (namespace defaulting to the connector's), or
    /// the default cluster when it names none.
    pub fn of_connector(connector: &KafkaConnector) -> Self {
        match connector.cluster_key() {
            Some((namespace, name)) => ClusterId::Named { namespace, name },
            None => ClusterId::Default,
        }
    }

    pub fn of_cluster(cluster: &KafkaConnectCluster) -> Self {
        ClusterId::Named {
            namespace: cluster.metadata.namespace.clone().unwrap_or_default(),
            name: cluster.metadata.name.clone().unwrap_or_default(),
        }
    }

    /// `namespace/name`, or `default`: the metric label.
    pub fn label(&self) -> String {
        match self {
            ClusterId::Named { namespace, name } => format!("{namespace}/{name}"),
            ClusterId::Default => "default".into(),
        }
    }

    /// Whether `connector` targets this cluster (without allocating: called for every connector).
    pub fn is_target_of(&self, connector: &KafkaConnector) -> bool {
        match (&connector.spec.cluster_ref, self) {
            (None, ClusterId::Default) => true,
            (Some(r), ClusterId::Named { namespace, name }) => {
                r.name == *name
                    && r.namespace
                        .as_deref()
                        .or(connector.metadata.namespace.as_deref())
                        .unwrap_or_default()
                        == namespace
            }
            _ => false,
        }
    }
}

/// How users read the cluster in messages.
impl fmt::Display for ClusterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClusterId::Named { namespace, name } => {
                write!(f, "KafkaConnectCluster {namespace}/{name}")
            }
            ClusterId::Default => {
                write!(f, "the default Kafka Connect cluster (KAFKA_CONNECT_ADDR)")
            }
        }
    }
}

/// [`KafkaConnector::connector_name`] without allocating.
pub fn connector_name(c: &KafkaConnector) -> &str {
    c.spec
        .name
        .as_deref()
        .filter(|n| !n.is_empty())
        .or(c.metadata.name.as_deref())
        .unwrap_or_default()
}

/// Whether `other` claims the connector name `wanted` on `cluster`, unless it is the KafkaConnector `except`
/// (namespace, name) itself: one name may be managed by one KafkaConnector per cluster.
pub fn claims(
    other: &KafkaConnector,
    cluster: &ClusterId,
    wanted: &str,
    except: (&str, &str),
) -> bool {
    let ns = other.metadata.namespace.as_deref().unwrap_or_default();
    let name = other.metadata.name.as_deref().unwrap_or_default();
    (ns, name) != except && cluster.is_target_of(other) && connector_name(other) == wanted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector(ns: &str, name: &str, spec: serde_json::Value) -> KafkaConnector {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "connectwarden.io/v1alpha1", "kind": "KafkaConnector",
            "metadata": {"name": name, "namespace": ns}, "spec": spec
        }))
        .unwrap()
    }

    #[test]
    fn the_target_defaults_to_the_connectors_namespace_and_the_name_to_its_own() {
        let c = connector(
            "team-a",
            "orders",
            serde_json::json!({"clusterRef": {"name": "main"}, "class": "X"}),
        );
        let main = ClusterId::Named {
            namespace: "team-a".into(),
            name: "main".into(),
        };
        assert_eq!(ClusterId::of_connector(&c), main);
        assert!(main.is_target_of(&c));
        assert!(!ClusterId::Default.is_target_of(&c));
        assert_eq!(main.label(), "team-a/main");
        assert_eq!(main.to_string(), "KafkaConnectCluster team-a/main");
        assert_eq!(connector_name(&c), "orders");
        assert!(claims(&c, &main, "orders", ("team-b", "other")));
        assert!(!claims(&c, &main, "orders", ("team-a", "orders")));
        assert!(!claims(&c, &main, "payments", ("team-b", "other")));

        let d = connector(
            "team-b",
            "x",
            serde_json::json!({"name": "orders", "class": "X"}),
        );
        assert_eq!(ClusterId::of_connector(&d), ClusterId::Default);
        assert!(ClusterId::Default.is_target_of(&d));
        assert_eq!(ClusterId::Default.label(), "default");
        assert!(claims(
            &d,
            &ClusterId::Default,
            "orders",
            ("team-a", "orders")
        ));
    }
}
