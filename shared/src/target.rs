//! Which Kafka Connect cluster a connector targets, and which KafkaConnector claims a connector name there:
//! the webhook checks these at admission and the controller acts on them, so both read them from here.

use std::fmt;

use kube::ResourceExt;

use crate::connect::parse_base_url;
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

/// A Kafka Connect REST endpoint: a base URL as [`parse_base_url`] normalises it (scheme and host
/// lowercased, the scheme's default port dropped, a trailing slash added), so spellings of one URL are equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint(String);

impl Endpoint {
    /// `None` when `url` is not a usable Connect base URL.
    pub fn of_url(url: &str) -> Option<Endpoint> {
        parse_base_url(url).ok().map(|u| Endpoint(u.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The normalised URL.
impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The clusters among which a connector name may be claimed once: Kafka Connect knows one connector per
/// name, whichever KafkaConnectCluster object (or the default cluster) it is reached through, so every
/// cluster at the target's endpoint shares the target's claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimSpace {
    /// The target first, then the other clusters at its endpoint, sorted.
    ids: Vec<ClusterId>,
    endpoint: Option<Endpoint>,
}

impl ClaimSpace {
    /// The claim space of `target`, given the default cluster's URL and the known KafkaConnectClusters (id
    /// and `spec.url`; when an id comes twice, the first counts). When the target's URL is unknown (its
    /// object is not there yet) or unusable, the space is the target alone.
    pub fn of<'a>(
        target: &ClusterId,
        default_url: Option<&str>,
        clusters: impl IntoIterator<Item = (ClusterId, &'a str)>,
    ) -> ClaimSpace {
        let mut known: Vec<(ClusterId, Option<Endpoint>)> = clusters
            .into_iter()
            .map(|(id, url)| (id, Endpoint::of_url(url)))
            .collect();
        known.push((ClusterId::Default, default_url.and_then(Endpoint::of_url)));
        let endpoint = known
            .iter()
            .find(|(id, _)| id == target)
            .and_then(|(_, e)| e.clone());
        let mut ids = vec![target.clone()];
        if let Some(e) = &endpoint {
            let mut others: Vec<ClusterId> = known
                .into_iter()
                .filter(|(id, at)| id != target && at.as_ref() == Some(e))
                .map(|(id, _)| id)
                .collect();
            others.sort();
            others.dedup();
            ids.extend(others);
        }
        ClaimSpace { ids, endpoint }
    }

    pub fn ids(&self) -> &[ClusterId] {
        &self.ids
    }

    /// The endpoint the clusters share; `None` when the space is the target alone for want of a URL.
    pub fn endpoint(&self) -> Option<&Endpoint> {
        self.endpoint.as_ref()
    }

    /// The cluster of the space `connector` targets, if any.
    pub fn through(&self, connector: &KafkaConnector) -> Option<&ClusterId> {
        self.ids.iter().find(|id| id.is_target_of(connector))
    }
}

/// Whether `other` claims the connector name `wanted` in `space` (see [`ClaimSpace::ids`]), unless it is the
/// KafkaConnector `except` (namespace, name) itself: one name may be managed by one KafkaConnector per Kafka
/// Connect.
pub fn claims(
    other: &KafkaConnector,
    space: &[ClusterId],
    wanted: &str,
    except: (&str, &str),
) -> bool {
    let ns = other.metadata.namespace.as_deref().unwrap_or_default();
    let name = other.metadata.name.as_deref().unwrap_or_default();
    connector_name(other) == wanted
        && (ns, name) != except
        && space.iter().any(|id| id.is_target_of(other))
}

/// The KafkaConnector other than `c` that manages the connector name `c` claims in `space`, when there is
/// one: the oldest claimant (by creationTimestamp, then namespace/name), `c` included. Admission lets one
/// claim in; this settles claims it did not see (admitted before, or with the webhook bypassed).
pub fn claim_winner<'a>(
    c: &KafkaConnector,
    space: &[ClusterId],
    connectors: impl IntoIterator<Item = &'a KafkaConnector>,
) -> Option<&'a KafkaConnector> {
    // Runs for every reconcile over every connector: compare without allocating.
    fn rank(o: &KafkaConnector) -> (Option<k8s_openapi::jiff::Timestamp>, &str, &str) {
        (
            o.metadata.creation_timestamp.as_ref().map(|t| t.0),
            o.metadata.namespace.as_deref().unwrap_or_default(),
            o.metadata.name.as_deref().unwrap_or_default(),
        )
    }
    let mine = rank(c);
    let (_, ns, name) = mine;
    let wanted = connector_name(c);
    connectors
        .into_iter()
        .filter(|o| claims(o, space, wanted, (ns, name)) && rank(o) < mine)
        .min_by(|a, b| rank(a).cmp(&rank(b)))
}

/// The KafkaConnector that manages a connector name another one also claims ([`claim_winner`]), as the
/// loser reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Winner {
    /// `namespace/name`.
    pub key: String,
    /// The cluster it claims through and the Kafka Connect they share, when that is another cluster than
    /// the loser's.
    pub through: Option<(ClusterId, Endpoint)>,
    /// Being deleted: it still wins (it may be deleting the connector from Connect), but not for long.
    pub leaving: bool,
}

impl Winner {
    /// `w`, having won against a connector that targets `id`, in `space`. Pure.
    pub fn of(w: &KafkaConnector, id: &ClusterId, space: &ClaimSpace) -> Winner {
        let through = match (space.through(w), space.endpoint()) {
            (Some(other), Some(e)) if other != id => Some((other.clone(), e.clone())),
            _ => None,
        };
        Winner {
            key: format!("{}/{}", w.namespace().unwrap_or_default(), w.name_any()),
            through,
            leaving: w.metadata.deletion_timestamp.is_some(),
        }
    }
}

/// `KafkaConnector ns/name`, and the other cluster when it claims through one.
impl fmt::Display for Winner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KafkaConnector {}", self.key)?;
        if let Some((cluster, endpoint)) = &self.through {
            write!(
                f,
                " through {cluster} at the same Kafka Connect ({endpoint})"
            )?;
        }
        Ok(())
    }
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
        let only_main = [main.clone()];
        assert!(claims(&c, &only_main, "orders", ("team-b", "other")));
        assert!(!claims(&c, &only_main, "orders", ("team-a", "orders")));
        assert!(!claims(&c, &only_main, "payments", ("team-b", "other")));
        assert!(!claims(
            &c,
            &[ClusterId::Default],
            "orders",
            ("team-b", "other")
        ));

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
            &[main, ClusterId::Default],
            "orders",
            ("team-a", "orders")
        ));
    }

    fn named(namespace: &str, name: &str) -> ClusterId {
        ClusterId::Named {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    #[test]
    fn spellings_of_one_url_are_one_endpoint() {
        let same = |a: &str, b: &str| {
            let (a, b) = (Endpoint::of_url(a).unwrap(), Endpoint::of_url(b).unwrap());
            a == b
        };
        for (a, b, equal) in [
            ("HTTP://Connect.Kafka:80/", "http://connect.kafka", true),
            ("https://connect:443", "https://connect/", true),
            ("http://connect:8083", "http://connect:8083/", true),
            ("http://c:8083/base", "http://c:8083/base/", true),
            (" http://c:8083 ", "http://c:8083", true),
            ("http://connect:8083", "http://connect", false),
            ("http://connect:80", "https://connect:80", false),
            ("http://connect", "https://connect", false),
            ("http://connect:8083", "http://connect:8084", false),
            ("http://c:8083/base", "http://c:8083/", false),
            ("http://c:8083/Base", "http://c:8083/base", false),
        ] {
            assert_eq!(same(a, b), equal, "{a} vs {b}");
        }
        assert_eq!(
            Endpoint::of_url("HTTP://Connect.Kafka:80")
                .unwrap()
                .to_string(),
            "http://connect.kafka/"
        );
        assert_eq!(
            Endpoint::of_url("https://C:8443/Base").unwrap().as_str(),
            "https://c:8443/Base/"
        );
        assert_eq!(Endpoint::of_url("ftp://c"), None);
        assert_eq!(Endpoint::of_url("not a url"), None);
    }

    #[test]
    fn clusters_at_one_endpoint_share_one_claim_space() {
        let (a, b, other) = (
            named("team-a", "main"),
            named("team-b", "main"),
            named("team-c", "main"),
        );
        let clusters = || {
            [
                (other.clone(), "http://elsewhere:8083"),
                (b.clone(), "HTTP://Connect:8083/"),
                (a.clone(), "http://connect:8083"),
            ]
        };
        let space = ClaimSpace::of(&a, None, clusters());
        assert_eq!(space.ids(), [a.clone(), b.clone()]);
        assert_eq!(space.endpoint().unwrap().as_str(), "http://connect:8083/");
        assert_eq!(
            ClaimSpace::of(&b, None, clusters()).ids(),
            [b.clone(), a.clone()]
        );
        assert_eq!(
            ClaimSpace::of(&other, None, clusters()).ids(),
            std::slice::from_ref(&other)
        );

        // The default cluster joins when KAFKA_CONNECT_ADDR names the same Kafka Connect, and the other way.
        let with_default = ClaimSpace::of(&a, Some("http://connect:8083/"), clusters());
        assert_eq!(
            with_default.ids(),
            [a.clone(), b.clone(), ClusterId::Default]
        );
        assert_eq!(
            ClaimSpace::of(&ClusterId::Default, Some("http://Connect:8083"), clusters()).ids(),
            [ClusterId::Default, a.clone(), b.clone()]
        );
        assert_eq!(
            ClaimSpace::of(&a, Some("http://elsewhere:8083"), clusters()).ids(),
            [a.clone(), b.clone()]
        );

        // A target not known (yet), or with a URL that does not parse: itself alone.
        let missing = named("team-d", "main");
        let alone = ClaimSpace::of(&missing, Some("http://connect:8083"), clusters());
        assert_eq!((alone.ids(), alone.endpoint()), (&[missing][..], None));
        let broken = ClaimSpace::of(
            &a,
            None,
            [(a.clone(), "ftp://connect"), (b.clone(), "ftp://connect")],
        );
        assert_eq!(broken.ids(), std::slice::from_ref(&a));
        assert_eq!(
            ClaimSpace::of(&ClusterId::Default, None, clusters()).ids(),
            [ClusterId::Default]
        );
    }

    #[test]
    fn a_claim_through_another_cluster_at_the_same_endpoint_counts() {
        let (a, b) = (named("team-a", "main"), named("team-b", "main"));
        let space = ClaimSpace::of(
            &a,
            Some("http://connect:8083"),
            [
                (a.clone(), "http://connect:8083"),
                (b.clone(), "http://connect:8083"),
            ],
        );
        let mine = connector(
            "team-a",
            "orders",
            serde_json::json!({"clusterRef": {"name": "main"}, "class": "X"}),
        );
        let theirs = connector(
            "team-b",
            "orders",
            serde_json::json!({"clusterRef": {"name": "main"}, "class": "X"}),
        );
        let default = connector("team-c", "orders", serde_json::json!({"class": "X"}));
        assert!(claims(&theirs, space.ids(), "orders", ("team-a", "orders")));
        assert!(claims(
            &default,
            space.ids(),
            "orders",
            ("team-a", "orders")
        ));
        assert_eq!(space.through(&mine), Some(&a));
        assert_eq!(space.through(&theirs), Some(&b));
        assert_eq!(space.through(&default), Some(&ClusterId::Default));
        let elsewhere = connector(
            "team-c",
            "x",
            serde_json::json!({"clusterRef": {"name": "other"}, "name": "orders", "class": "X"}),
        );
        assert_eq!(space.through(&elsewhere), None);
        assert!(!claims(
            &elsewhere,
            space.ids(),
            "orders",
            ("team-a", "orders")
        ));
    }

    fn created(mut c: KafkaConnector, at: &str) -> KafkaConnector {
        c.metadata.creation_timestamp =
            Some(serde_json::from_value(serde_json::json!(at)).expect("a timestamp"));
        c
    }

    #[test]
    fn the_oldest_claimant_wins_then_namespace_and_name() {
        let (a, b) = (named("team-a", "main"), named("team-b", "main"));
        let space = ClaimSpace::of(
            &a,
            None,
            [
                (a.clone(), "http://connect:8083"),
                (b.clone(), "http://connect"),
            ],
        );
        let spec =
            serde_json::json!({"clusterRef": {"name": "main"}, "name": "orders", "class": "X"});
        let mine = created(
            connector("team-a", "x", spec.clone()),
            "2024-01-02T00:00:00Z",
        );
        let older = created(
            connector("team-b", "y", spec.clone()),
            "2024-01-01T00:00:00Z",
        );
        let same_age_first = created(
            connector("team-a", "a", spec.clone()),
            "2024-01-02T00:00:00Z",
        );
        let newer = created(
            connector("team-b", "z", spec.clone()),
            "2024-01-03T00:00:00Z",
        );
        let unrelated = created(
            connector("team-c", "w", spec.clone()),
            "2023-01-01T00:00:00Z",
        );

        // b is at another endpoint: its claims do not count.
        let winner = |all: &[&KafkaConnector]| {
            claim_winner(&mine, space.ids(), all.iter().copied())
                .map(|w| w.metadata.name.clone().unwrap())
        };
        assert_eq!(winner(&[&mine, &newer, &unrelated]), None);
        assert_eq!(
            winner(&[&mine, &same_age_first, &newer]).as_deref(),
            Some("a")
        );
        let shared = ClaimSpace::of(
            &a,
            None,
            [
                (a.clone(), "http://connect:8083"),
                (b.clone(), "http://Connect:8083/"),
            ],
        );
        let winner = |all: &[&KafkaConnector]| {
            claim_winner(&mine, shared.ids(), all.iter().copied())
                .map(|w| w.metadata.name.clone().unwrap())
        };
        assert_eq!(
            winner(&[&newer, &mine, &same_age_first, &older]).as_deref(),
            Some("y")
        );
        assert_eq!(winner(&[&newer, &mine]), None);
        // The winner itself sees none.
        assert!(claim_winner(&older, shared.ids(), [&mine, &newer, &older]).is_none());
    }

    #[test]
    fn a_winner_names_the_other_cluster_it_claims_through() {
        let named = |ns: &str| ClusterId::Named {
            namespace: ns.into(),
            name: "main".into(),
        };
        let (a, b) = (named("team-a"), named("team-b"));
        let space = ClaimSpace::of(
            &a,
            Some("http://connect:8083"),
            [
                (a.clone(), "http://connect:8083"),
                (b.clone(), "HTTP://Connect:8083/"),
            ],
        );
        let spec =
            serde_json::json!({"clusterRef": {"name": "main"}, "name": "orders", "class": "X"});
        let same = Winner::of(&connector("team-a", "y", spec.clone()), &a, &space);
        assert_eq!((same.through.as_ref(), same.leaving), (None, false));
        assert_eq!(same.to_string(), "KafkaConnector team-a/y");

        let mut other = connector("team-b", "y", spec);
        other.metadata.deletion_timestamp =
            Some(serde_json::from_value(serde_json::json!("2024-01-01T00:00:00Z")).unwrap());
        let w = Winner::of(&other, &a, &space);
        assert!(w.leaving);
        assert_eq!(
            w.to_string(),
            "KafkaConnector team-b/y through KafkaConnectCluster team-b/main at the same Kafka Connect \
             (http://connect:8083/)"
        );
        let default = Winner::of(
            &connector(
                "team-c",
                "z",
                serde_json::json!({"name": "orders", "class": "X"}),
            ),
            &a,
            &space,
        );
        assert_eq!(
            default.to_string(),
            "KafkaConnector team-c/z through the default Kafka Connect cluster (KAFKA_CONNECT_ADDR) at the \
             same Kafka Connect (http://connect:8083/)"
        );
    }
}
