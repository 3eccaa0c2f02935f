//! The cluster a KafkaConnector targets: whether it exists (yet), lets this namespace in and can be reached
//! with its settings, and whether another KafkaConnector already claims the connector name there.

use shared::config::closest;
use shared::connect::{ClientSettings, parse_base_url};
use shared::crd::{KafkaConnectCluster, KafkaConnector};
use shared::target::ClusterId;

use super::findings::Findings;
use crate::admission::cluster::references::{Block, check_references};
use crate::admission::decision::Reason;
use crate::admission::objects::ObjectView;
use crate::admission::text::{MAX_KEYS_IN_WARNING, cut};

/// What later steps need from the target.
pub(super) struct Target {
    pub(super) cluster: ClusterId,
    /// Whether the connector may use the cluster (or it does not exist yet): only there does a clash of
    /// connector names matter.
    pub(super) may_use: bool,
    /// How to reach Kafka Connect, once everything it needs is there.
    pub(super) settings: Option<ClientSettings>,
    /// Why Kafka Connect cannot be asked yet (an object not there yet): admitted with this warning.
    pub(super) not_yet: Option<(Reason, String)>,
}

/// How far Kafka Connect can be reached through the target.
#[derive(Default)]
struct Reach {
    may_use: bool,
    settings: Option<ClientSettings>,
    not_yet: Option<(Reason, String)>,
}

/// Checks the target of `connector`, recording problems in `found`.
pub(super) fn check(
    connector: &KafkaConnector,
    view: &dyn ObjectView,
    found: &mut Findings,
) -> Target {
    let cluster = ClusterId::of_connector(connector);
    let reach = match &cluster {
        ClusterId::Named { namespace, name } if !view.watches(namespace) => {
            found.problem(
                Reason::NamespaceNotAllowed,
                unwatched_cluster(namespace, name),
            );
            Reach::default()
        }
        ClusterId::Named { namespace, name } => match view.cluster(namespace, name) {
            None => Reach {
                may_use: true,
                settings: None,
                not_yet: Some((
                    Reason::ClusterNotFound,
                    missing_cluster_warning(namespace, name, &view.cluster_names(namespace)),
                )),
            },
            Some(c) => named(connector, &cluster, (namespace, name), &c, view, found),
        },
        ClusterId::Default => default(view, found),
    };
    Target {
        cluster,
        may_use: reach.may_use,
        settings: reach.settings,
        not_yet: reach.not_yet,
    }
}

/// The cluster configured by flag, for connectors that name none.
fn default(view: &dyn ObjectView, found: &mut Findings) -> Reach {
    let Some(url) = view.default_cluster_url() else {
        found.problem(
            Reason::ClusterNotFound,
            "spec.clusterRef is required: no default Kafka Connect cluster is configured (KAFKA_CONNECT_ADDR)",
        );
        return Reach::default();
    };
    match parse_base_url(url) {
        Ok(_) => Reach {
            may_use: true,
            settings: Some(ClientSettings::new(url)),
            not_yet: None,
        },
        Err(e) => {
            found.problem(Reason::ClusterMisconfigured, e.to_string());
            Reach::default()
        }
    }
}

/// A KafkaConnectCluster `c` (`cns/cname`) that exists: the namespace must be allowed, its Secrets and
/// ConfigMaps must hold what they should; when they are all there, its client settings.
fn named(
    connector: &KafkaConnector,
    cluster: &ClusterId,
    (cns, cname): (&str, &str),
    c: &KafkaConnectCluster,
    view: &dyn ObjectView,
    found: &mut Findings,
) -> Reach {
    let ns = connector.metadata.namespace.as_deref().unwrap_or_default();
    if !c.spec.allows_namespace(cns, ns) {
        found.problem(
            Reason::NamespaceNotAllowed,
            format!(
                "{cluster} does not allow connectors from namespace {ns:?}; add it to the cluster's spec.allowedNamespaces"
            ),
        );
        return Reach::default();
    }
    let mut reach = Reach {
        may_use: true,
        ..Reach::default()
    };
    // A connector needs the REST API's references only; Kafka's serve lag measurement.
    let refs = check_references(cns, cname, &c.spec, &[Block::Rest], view);
    if !refs.problems.is_empty() {
        for l in refs.problems {
            found.problem(Reason::ClusterMisconfigured, l);
        }
        return reach;
    }
    if !refs.missing.is_empty() {
        reach.not_yet = Some((
            Reason::ReferenceNotFound,
            format!(
                "Kafka Connect validation skipped: {cluster} cannot reach Kafka Connect with its settings yet: {} not found; the controller validates the connector and reports it once {}",
                refs.missing
                    .iter()
                    .map(|(field, what)| format!("{what} (its {field})"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if refs.missing.len() == 1 {
                    "it exists"
                } else {
                    "they exist"
                }
            ),
        ));
        return reach;
    }
    match shared::cluster::resolve(
        &cluster.label(),
        &c.spec,
        |n| view.secret(cns, n).map(|s| (*s).clone()),
        |n| view.config_map(cns, n).map(|m| (*m).clone()),
    ) {
        Ok(s) => reach.settings = Some(s),
        Err(e) => found.problem(Reason::ClusterMisconfigured, e.to_string()),
    }
    reach
}

/// One connector name, one KafkaConnector per Kafka Connect: claims through another KafkaConnectCluster
/// object (or the default cluster) at the same URL count too, since Connect tells them apart by name alone.
pub(super) fn check_claim(
    connector: &KafkaConnector,
    cluster: &ClusterId,
    view: &dyn ObjectView,
    found: &mut Findings,
) {
    let name = connector.connector_name();
    let ns = connector.metadata.namespace.as_deref().unwrap_or_default();
    let obj_name = connector.metadata.name.as_deref().unwrap_or_default();
    let space = view.claim_space(cluster);
    if let Some(owner) = view.claimant(&space, &name, (ns, obj_name)) {
        let through = match (space.through(&owner), space.endpoint()) {
            (Some(other), Some(endpoint)) if other != cluster => {
                format!(" through {other}, which points at the same Kafka Connect ({endpoint})")
            }
            _ => String::new(),
        };
        found.problem(
            Reason::NameConflict,
            format!(
                "connector name {:?} on {cluster} is already claimed by KafkaConnector {}/{}{through}",
                cut(&name),
                owner.metadata.namespace.as_deref().unwrap_or_default(),
                owner.metadata.name.as_deref().unwrap_or_default()
            ),
        );
    }
}

/// The warning for a connector whose KafkaConnectCluster does not exist (yet), with the closest existing
/// name so that a typo shows at once.
/// A clusterRef into a namespace this installation does not watch: nothing of it can be read, and no
/// controller of this installation would ever use it.
pub(crate) fn unwatched_cluster(ns: &str, name: &str) -> String {
    format!(
        "spec.clusterRef: KafkaConnectCluster {ns}/{} is in namespace {ns:?}, which this connect-warden \
         installation does not watch (see its --watch-namespaces); name a KafkaConnectCluster in a watched namespace",
        cut(name)
    )
}

fn missing_cluster_warning(ns: &str, name: &str, existing: &[String]) -> String {
    let hint = match closest(name, existing.iter().map(String::as_str)) {
        Some(c) => format!(" (did you mean {c:?}?)"),
        None if existing.is_empty() => {
            format!(" (there is no KafkaConnectCluster in namespace {ns})")
        }
        None => {
            let mut list: Vec<String> = existing
                .iter()
                .take(MAX_KEYS_IN_WARNING)
                .map(|n| cut(n))
                .collect();
            if existing.len() > MAX_KEYS_IN_WARNING {
                list.push(format!("… {} more", existing.len() - MAX_KEYS_IN_WARNING));
            }
            format!(
                " (KafkaConnectClusters in namespace {ns}: {})",
                list.join(", ")
            )
        }
    };
    format!(
        "spec.clusterRef: KafkaConnectCluster {ns}/{} not found{hint}; admitted without Kafka Connect validation, \
         the controller validates the connector and reports it once the cluster exists",
        cut(name)
    )
}
