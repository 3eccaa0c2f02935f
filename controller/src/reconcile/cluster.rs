//! The KafkaConnectCluster reconciler: resolves the client settings (credentials and CA from Secrets and
//! ConfigMaps, read again whenever they change), keeps the cluster's handle and poller, and reports
//! reachability, version, commit, Kafka cluster id and plugins in status.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use kube::runtime::controller::Action as Requeue;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use shared::cluster::references::{Block, Kind, Problem, What, check};
use shared::cluster::{referenced_config_maps, referenced_secrets, resolve, resolve_kafka};
use shared::connect::ClientSettings;
use shared::crd::{KafkaConnectCluster, KafkaConnectClusterStatus, PluginStatus};
use shared::kafka::KafkaSettings;
use shared::target::ClusterId;

use crate::conditions::{Ready, Reason};
use crate::connect_runtime::ConnectCluster;
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::status;

const KIND: &str = "KafkaConnectCluster";
/// Keeps a KafkaConnectCluster while KafkaConnectors use it.
pub const CLUSTER_FINALIZER: &str = "connectwarden.io/cluster-in-use";

pub async fn reconcile(obj: Arc<KafkaConnectCluster>, ctx: Arc<Ctx>) -> Result<Requeue> {
    let timer = ctx.metrics.reconcile_timer(KIND);
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let r = tracing::Instrument::instrument(
        apply(&obj, &ctx),
        tracing::info_span!("reconcile_cluster", namespace = %ns, cluster = %name),
    )
    .await;
    timer.failed(r.as_ref().err().map(Error::reason));
    r
}

pub fn error_policy(obj: Arc<KafkaConnectCluster>, err: &Error, ctx: Arc<Ctx>) -> Requeue {
    let delay = ctx.retries.backoff(&format!(
        "cluster/{}/{}",
        obj.namespace().unwrap_or_default(),
        obj.name_any()
    ));
    tracing::warn!(cluster = %obj.name_any(), error = %err, retry_in = ?delay, "cluster reconcile failed");
    Requeue::requeue(delay)
}

async fn apply(c: &KafkaConnectCluster, ctx: &Arc<Ctx>) -> Result<Requeue> {
    let ns = c.namespace().unwrap_or_default();
    let key = ClusterId::of_cluster(c);
    let label = key.label();

    // In-use protection: the cluster stays (deleting) while KafkaConnectors still use it, so deleting a
    // namespace with both still deletes the connectors from Connect first. Not `kube::runtime::finalizer`:
    // it removes the finalizer as soon as cleanup returns Ok, and "still in use" is neither a success nor
    // a failure here (the status keeps being reported meanwhile); it also writes outside `KubeWrites`.
    let has_finalizer = c.finalizers().iter().any(|f| f == CLUSTER_FINALIZER);
    let mut requeue = ctx.settings.resync;
    if c.meta().deletion_timestamp.is_some() {
        if !has_finalizer {
            return Ok(Requeue::await_change());
        }
        if ctx.watched.connectors_of(&key).is_empty() {
            ctx.writes
                .set_finalizer(c, CLUSTER_FINALIZER, false)
                .await?;
            ctx.connect.forget(&key);
            return Ok(Requeue::await_change());
        }
        requeue = std::time::Duration::from_secs(2);
    } else if !has_finalizer {
        ctx.writes.set_finalizer(c, CLUSTER_FINALIZER, true).await?;
        return Ok(Requeue::await_change());
    }
    let secrets = fetch::<Secret>(ctx, &ns, referenced_secrets(&c.spec)).await?;
    let maps = fetch::<ConfigMap>(ctx, &ns, referenced_config_maps(&c.spec)).await?;
    let handle = settings(c, &secrets, &maps).and_then(|s| {
        ctx.connect.ensure(&key, s).map_err(|e| {
            Ready::no(
                Reason::InvalidSettings,
                format!("KafkaConnectCluster {label}: {e}"),
            )
        })
    });
    let handle = match handle {
        Ok(h) => {
            h.set_kafka(kafka_settings(c, &secrets, &maps));
            Some(h)
        }
        Err(why) => {
            if ctx.connect.broken(&key).as_ref() != Some(&why) {
                tracing::warn!(cluster = %label, reason = %why.reason, error = %why.message, "cannot set up the Kafka Connect client");
                ctx.connect.mark_broken(&key, why.clone());
                ctx.writes
                    .event(c, true, why.reason.as_str(), "Resolve", why.message)
                    .await;
                // Its connectors now say why they wait.
                for k in ctx.watched.connectors_of(&key) {
                    ctx.watched.reconcile_connector(k);
                }
            }
            None
        }
    };
    // Counted once the connector cache holds its initial list: right after a start, a count taken from a
    // half-filled cache would be written and then taken back.
    let _ = ctx.watched.connectors.wait_until_ready().await;
    let managed = ctx.watched.connectors_of(&key).len();
    let new = cluster_status(c, handle.as_deref(), ctx.connect.broken(&key), managed);
    let prev_ready = c
        .status
        .as_ref()
        .and_then(|s| status::ready_of(&s.conditions))
        .map(|r| r.status.clone());
    let now_ready = status::ready_of(&new.conditions).map(|r| r.status.clone());
    let flipped = matches!(
        (prev_ready.as_deref(), now_ready.as_deref()),
        (Some("True"), Some("False")) | (Some("False"), Some("True"))
    );
    if flipped {
        let cond = status::ready_of(&new.conditions);
        let msg = cond.and_then(|r| r.message.clone()).unwrap_or_default();
        let up = now_ready.as_deref() == Some("True");
        ctx.writes
            .event(
                c,
                !up,
                if up {
                    Reason::Reachable
                } else {
                    Reason::ClusterUnreachable
                }
                .as_str(),
                "Poll",
                msg,
            )
            .await;
    }
    ctx.writes
        .write_status(c, c.status.as_ref(), &new, false)
        .await?;
    ctx.retries
        .succeeded(&format!("cluster/{ns}/{}", c.name_any()));
    Ok(Requeue::requeue(requeue))
}

async fn fetch<K>(ctx: &Ctx, ns: &str, names: Vec<String>) -> Result<HashMap<String, K>>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(ctx.kube.clone(), ns);
    let mut out = HashMap::new();
    for n in names {
        if let Some(obj) = api.get_opt(&n).await? {
            out.insert(n, obj);
        }
    }
    Ok(out)
}

/// `s` with the conditions of `prev`.
fn prev_with(
    mut s: KafkaConnectClusterStatus,
    prev: &KafkaConnectClusterStatus,
) -> KafkaConnectClusterStatus {
    s.conditions = prev.conditions.clone();
    s
}

/// The status from the cluster's latest poll, pure.
pub fn cluster_status(
    c: &KafkaConnectCluster,
    h: Option<&ConnectCluster>,
    broken: Option<Ready>,
    managed: usize,
) -> KafkaConnectClusterStatus {
    let prev = c.status.clone().unwrap_or_default();
    let generation = c.meta().generation;
    let mut s = prev.clone();
    s.observed_generation = generation;
    s.managed_connectors = Some(u32::try_from(managed).unwrap_or(u32::MAX));
    let ready = match (h, broken) {
        (_, Some(why)) => why,
        (None, None) => Ready::unknown(Reason::Connecting, "setting up the Kafka Connect client"),
        (Some(h), None) => {
            let snap = h.snapshot();
            if let Some(info) = &snap.info {
                s.version = Some(info.version.clone());
                s.commit = info.commit.clone();
                s.kafka_cluster_id = info.kafka_cluster_id.clone();
            }
            if !snap.plugins.is_empty() {
                s.plugins = snap
                    .plugins
                    .iter()
                    .map(|p| PluginStatus {
                        class: p.class.clone(),
                        kind: p.kind.clone(),
                        version: p.version.clone(),
                    })
                    .collect();
                s.connector_plugins = Some(
                    snap.plugins
                        .iter()
                        .filter(|p| p.kind == "source" || p.kind == "sink")
                        .count()
                        .try_into()
                        .unwrap_or(u32::MAX),
                );
            }
            match (&snap.connectors, snap.seq) {
                // Not polled yet (e.g. the controller just started): what status says still stands.
                (_, 0) if status::ready_of(&prev.conditions).is_some() => {
                    return prev_with(s, &prev);
                }
                (_, 0) => Ready::unknown(Reason::Connecting, format!("connecting to {}", h.url())),
                (Ok(_), _) => Ready::yes(
                    Reason::Reachable,
                    format!(
                        "Kafka Connect {} reachable at {}",
                        s.version.as_deref().unwrap_or("(version unknown)"),
                        h.url()
                    ),
                ),
                (Err(e), _) => Ready::no(e.reason, e.message.clone()),
            }
        }
    };
    let now = Timestamp::now();
    s.conditions = status::conditions(&prev.conditions, &ready, &ready.message, generation, now);
    s.conditions.retain(|c| c.kind != KAFKA_REACHABLE);
    if let Some(health) = h.and_then(|h| h.kafka_health()) {
        let (status, reason, message) = match health {
            Ok(()) => (
                "True",
                Reason::Reachable,
                "lag of its sink connectors measured".to_string(),
            ),
            Err(why) => ("False", Reason::KafkaUnreachable, why),
        };
        s.conditions.push(status::condition(
            &prev.conditions,
            KAFKA_REACHABLE,
            status,
            reason.as_str(),
            &message,
            generation,
            now,
        ));
    }
    s
}

/// The cluster condition that says whether lag measurement reaches the Kafka cluster of `spec.kafka`
/// (absent without it).
pub const KAFKA_REACHABLE: &str = "KafkaReachable";

/// The client settings of a cluster, or the `Ready` condition that says what is missing or wrong: a Secret
/// or ConfigMap (or a key in it) that does not exist yet, a CA or client certificate TLS would refuse. Pure:
/// `secrets` and `maps` hold the referenced objects that exist. Messages name objects and keys, never a value.
pub fn settings(
    c: &KafkaConnectCluster,
    secrets: &HashMap<String, Secret>,
    maps: &HashMap<String, ConfigMap>,
) -> Result<ClientSettings, Ready> {
    let (ns, label) = names(c);
    let found = check(&c.spec, &[Block::Rest], |n| secrets.get(n), |n| maps.get(n));
    // What is not there (yet) first, every object and key of it: the rest waits for it.
    let missing: Vec<&Problem> = found.iter().filter(|p| p.is_missing()).collect();
    if let Some(first) = missing.first() {
        let why = match first.reference.kind() {
            Kind::Secret => Reason::SecretNotFound,
            Kind::ConfigMap => Reason::ConfigMapNotFound,
        };
        return Err(Ready::no(why, worded(&ns, &label, &missing)));
    }
    let s = resolve(
        &label,
        &c.spec,
        |n| secrets.get(n).cloned(),
        |n| maps.get(n).cloned(),
    )
    .map_err(|e| Ready::no(Reason::InvalidSettings, e.to_string()))?;
    let bad = bad_pem(&found);
    if let Some(first) = bad.first() {
        let why = if first.is_bad_ca() {
            Reason::InvalidCa
        } else {
            Reason::InvalidSettings
        };
        return Err(Ready::no(why, worded(&ns, &label, &bad)));
    }
    Ok(s)
}

/// The settings of the Kafka client `spec.kafka` describes (`None` without it), or why there are none, for
/// its `KafkaReachable` condition: what resolving says, or the CA bundles and client certificates TLS would
/// refuse. Pure, like [`settings`].
pub fn kafka_settings(
    c: &KafkaConnectCluster,
    secrets: &HashMap<String, Secret>,
    maps: &HashMap<String, ConfigMap>,
) -> Result<Option<KafkaSettings>, String> {
    let (ns, label) = names(c);
    let k = resolve_kafka(
        &label,
        &c.spec,
        |n| secrets.get(n).cloned(),
        |n| maps.get(n).cloned(),
    )
    .map_err(|e| e.to_string())?;
    let found = check(
        &c.spec,
        &[Block::Kafka],
        |n| secrets.get(n),
        |n| maps.get(n),
    );
    let bad = bad_pem(&found);
    if !bad.is_empty() {
        return Err(worded(&ns, &label, &bad));
    }
    Ok(k)
}

/// The cluster's namespace, and its `namespace/name` for messages.
fn names(c: &KafkaConnectCluster) -> (String, String) {
    let ns = c.namespace().unwrap_or_default();
    let label = format!("{ns}/{}", c.name_any());
    (ns, label)
}

fn bad_pem(found: &[Problem]) -> Vec<&Problem> {
    (found.iter())
        .filter(|p| matches!(p.what, What::BadPem { .. }))
        .collect()
}

/// `problems` in one condition message, one clause each.
fn worded(ns: &str, label: &str, problems: &[&Problem]) -> String {
    let clauses: Vec<String> = problems.iter().map(|p| clause(ns, p)).collect();
    format!("KafkaConnectCluster {label}: {}", clauses.join("; "))
}

fn clause(ns: &str, p: &Problem) -> String {
    let r = &p.reference;
    let (kind, name, field) = (r.kind(), &r.name, r.field());
    match &p.what {
        What::Absent => {
            let keys: Vec<String> = r.keys.iter().map(|k| format!("{k:?}")).collect();
            let keys = keys.join(", ");
            format!("{kind} {ns}/{name} not found ({field}, key {keys})")
        }
        What::NoKey(key) | What::NotText(key) => {
            format!("{kind} {ns}/{name} has no key {key:?} ({field})")
        }
        What::BadPem { key, why } => format!("{kind} {ns}/{name} key {key:?} ({field}) {why}"),
    }
}

/// What of a KafkaConnectCluster its connectors depend on (which object it is, its spec, whether it is being
/// deleted): when that changes, or the object appears or goes, they are reconciled at once, so a connector
/// applied before its cluster turns Ready as soon as the cluster is there, not at the next resync. Status
/// updates of the cluster change none of it, so they trigger nothing.
#[derive(Default)]
pub struct Changes {
    seen: HashMap<ObjectRef<KafkaConnectCluster>, (Option<String>, Option<i64>, bool)>,
}

impl Changes {
    /// Whether a watch event for `r` matters to its connectors; `now` is the object the cache holds after
    /// the event (`None`: deleted).
    pub fn changed(
        &mut self,
        r: ObjectRef<KafkaConnectCluster>,
        now: Option<&KafkaConnectCluster>,
    ) -> bool {
        match now {
            Some(c) => {
                let m = &c.metadata;
                let fp = (m.uid.clone(), m.generation, m.deletion_timestamp.is_some());
                self.seen.insert(r, fp.clone()).as_ref() != Some(&fp)
            }
            None => {
                self.seen.remove(&r);
                true
            }
        }
    }
}

/// Maps a changed Secret or ConfigMap to the clusters that reference it.
pub fn referencing(
    store: &Store<KafkaConnectCluster>,
    ns: &str,
    name: &str,
    config_map: bool,
) -> Vec<ObjectRef<KafkaConnectCluster>> {
    store
        .state()
        .iter()
        .filter(|c| c.namespace().as_deref() == Some(ns))
        .filter(|c| {
            let refs = if config_map {
                referenced_config_maps(&c.spec)
            } else {
                referenced_secrets(&c.spec)
            };
            refs.iter().any(|r| r == name)
        })
        .map(|c| ObjectRef::from_obj(&**c))
        .collect()
}

/// The cases of a cluster's references that shared's and the webhook's tests run too.
#[cfg(test)]
#[path = "../../../shared/tests/support/cluster_references.rs"]
mod table;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_without_handle_says_why() {
        let c = KafkaConnectCluster::new(
            "main",
            serde_json::from_value(json!({"url": "http://c:8083"})).unwrap(),
        );
        let why = Ready::no(Reason::SecretNotFound, "Secret kafka/creds not found");
        let s = cluster_status(&c, None, Some(why), 3);
        let r = status::ready_of(&s.conditions).unwrap();
        assert_eq!(r.status, "False");
        assert_eq!(r.reason.as_deref(), Some(Reason::SecretNotFound.as_str()));
        assert_eq!(r.message.as_deref(), Some("Secret kafka/creds not found"));
        assert_eq!(s.managed_connectors, Some(3));
        let s = cluster_status(&c, None, None, 0);
        assert_eq!(status::ready_of(&s.conditions).unwrap().status, "Unknown");
    }

    fn cluster(spec: serde_json::Value) -> KafkaConnectCluster {
        let mut c = KafkaConnectCluster::new("main", serde_json::from_value(spec).unwrap());
        c.metadata.namespace = Some("kafka".into());
        c
    }

    fn secret(pairs: &[(&str, &str)]) -> Secret {
        Secret {
            data: Some(
                pairs
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.to_string(),
                            k8s_openapi::ByteString(v.as_bytes().to_vec()),
                        )
                    })
                    .collect(),
            ),
            ..Default::default()
        }
    }

    fn config_map(pairs: &[(&str, &str)]) -> ConfigMap {
        ConfigMap {
            data: Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    // A CA TLS accepts, and PEM a client certificate's checks accept.
    use super::table::{CA_PEM as PEM, KEY_PEM};

    fn secure() -> KafkaConnectCluster {
        cluster(json!({"url": "https://c:8083",
            "authentication": {"type": "basic", "secretRef": {"name": "creds"}},
            "tls": {"caConfigMapRef": {"name": "ca"}, "clientCertSecretRef": {"name": "client"}}}))
    }

    #[test]
    fn a_missing_secret_is_named_with_its_field_and_keys_and_every_missing_object_is_listed() {
        let no = HashMap::new();
        let r = settings(&secure(), &no, &HashMap::new()).unwrap_err();
        assert_eq!(r.reason, Reason::SecretNotFound);
        assert_eq!(
            r.message,
            "KafkaConnectCluster kafka/main: Secret kafka/creds not found (spec.authentication.secretRef, key \"username\", \"password\"); \
             ConfigMap kafka/ca not found (spec.tls.caConfigMapRef, key \"ca.crt\"); \
             Secret kafka/client not found (spec.tls.clientCertSecretRef, key \"tls.crt\", \"tls.key\")"
        );
    }

    #[test]
    fn a_missing_config_map_is_config_map_not_found_and_a_missing_key_is_named_without_values() {
        let secrets = HashMap::from([
            (
                "creds".to_string(),
                secret(&[("username", "u"), ("pass", "hunter2-secret")]),
            ),
            (
                "client".to_string(),
                secret(&[("tls.crt", "C"), ("tls.key", "K")]),
            ),
        ]);
        let r = settings(&secure(), &secrets, &HashMap::new()).unwrap_err();
        assert_eq!(
            r.reason,
            Reason::SecretNotFound,
            "the first problem names the reason"
        );
        assert_eq!(
            r.message,
            "KafkaConnectCluster kafka/main: Secret kafka/creds has no key \"password\" (spec.authentication.secretRef); \
             ConfigMap kafka/ca not found (spec.tls.caConfigMapRef, key \"ca.crt\")"
        );
        let mut secrets = secrets;
        secrets.insert(
            "creds".into(),
            secret(&[("username", "u"), ("password", "hunter2-secret")]),
        );
        let r = settings(&secure(), &secrets, &HashMap::new()).unwrap_err();
        assert_eq!(r.reason, Reason::ConfigMapNotFound);
        let maps = HashMap::from([("ca".to_string(), config_map(&[("other", PEM)]))]);
        let r = settings(&secure(), &secrets, &maps).unwrap_err();
        assert_eq!(
            (r.reason, r.message.as_str()),
            (
                Reason::ConfigMapNotFound,
                "KafkaConnectCluster kafka/main: ConfigMap kafka/ca has no key \"ca.crt\" (spec.tls.caConfigMapRef)"
            )
        );
        assert!(!r.message.contains("hunter2"));
    }

    #[test]
    fn a_ca_without_a_certificate_is_invalid_ca_and_says_which_and_what() {
        let secrets = HashMap::from([
            (
                "creds".to_string(),
                secret(&[("username", "u"), ("password", "p")]),
            ),
            (
                "client".to_string(),
                secret(&[("tls.crt", PEM), ("tls.key", KEY_PEM)]),
            ),
        ]);
        let maps = HashMap::from([(
            "ca".to_string(),
            config_map(&[("ca.crt", "not a certificate")]),
        )]);
        let r = settings(&secure(), &secrets, &maps).unwrap_err();
        assert_eq!(r.reason, Reason::InvalidCa);
        assert_eq!(
            r.message,
            "KafkaConnectCluster kafka/main: ConfigMap kafka/ca key \"ca.crt\" (spec.tls.caConfigMapRef) holds no PEM certificate (expected \"-----BEGIN CERTIFICATE-----\" blocks)"
        );
        assert!(r.reason.is_stalled());
        let broken = "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n";
        let maps = HashMap::from([("ca".to_string(), config_map(&[("ca.crt", broken)]))]);
        let r = settings(&secure(), &secrets, &maps).unwrap_err();
        assert_eq!(r.reason, Reason::InvalidCa);
        assert!(r.message.contains("is not valid PEM"), "{}", r.message);
        assert!(
            !r.message.contains("!!!"),
            "never the content: {}",
            r.message
        );

        let maps = HashMap::from([("ca".to_string(), config_map(&[("ca.crt", PEM)]))]);
        let s = settings(&secure(), &secrets, &maps).unwrap();
        assert_eq!(s.ca_pem.as_deref(), Some(PEM.as_bytes()));

        let in_secret = cluster(
            json!({"url": "https://c", "tls": {"caSecretRef": {"name": "ca", "key": "root.pem"}}}),
        );
        let secrets = HashMap::from([("ca".to_string(), secret(&[("root.pem", "")]))]);
        let r = settings(&in_secret, &secrets, &HashMap::new()).unwrap_err();
        assert_eq!(
            (r.reason, r.message.as_str()),
            (
                Reason::InvalidCa,
                "KafkaConnectCluster kafka/main: Secret kafka/ca key \"root.pem\" (spec.tls.caSecretRef) holds no PEM certificate (expected \"-----BEGIN CERTIFICATE-----\" blocks)"
            )
        );
    }

    #[test]
    fn bearer_keys_and_plain_clusters() {
        let c = cluster(
            json!({"url": "http://c", "authentication": {"type": "bearer", "secretRef": {"name": "tok"}, "tokenKey": "t"}}),
        );
        let r = settings(&c, &HashMap::new(), &HashMap::new()).unwrap_err();
        assert_eq!(
            r.message,
            "KafkaConnectCluster kafka/main: Secret kafka/tok not found (spec.authentication.secretRef, key \"t\")"
        );
        let plain = cluster(json!({"url": "http://c:8083"}));
        assert!(settings(&plain, &HashMap::new(), &HashMap::new()).is_ok());
    }

    #[test]
    fn the_shared_table_of_references_is_worded_as_conditions() {
        for case in super::table::cases() {
            let mut c = KafkaConnectCluster::new(super::table::CLUSTER, case.spec());
            c.metadata.namespace = Some(super::table::NAMESPACE.into());
            let by_name = |o: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
                o.name.clone().unwrap_or_default()
            };
            let secrets: HashMap<_, _> = (case.secrets().into_iter())
                .map(|s| (by_name(&s.metadata), s))
                .collect();
            let maps: HashMap<_, _> = (case.config_maps().into_iter())
                .map(|m| (by_name(&m.metadata), m))
                .collect();
            let rest = settings(&c, &secrets, &maps).err();
            let rest = rest
                .as_ref()
                .map(|r| (r.reason.as_str(), r.message.as_str()));
            assert_eq!(rest, case.controller.rest, "{}", case.name);
            let kafka = kafka_settings(&c, &secrets, &maps).err();
            assert_eq!(kafka.as_deref(), case.controller.kafka, "{}", case.name);
            assert!(
                !format!("{rest:?} {kafka:?}").contains(super::table::SECRET_MARK),
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn connectors_hear_of_a_cluster_that_appears_changes_its_spec_or_goes_but_not_of_status_writes()
    {
        let mut changes = Changes::default();
        let mut c = cluster(json!({"url": "http://c:8083"}));
        c.metadata.uid = Some("u1".into());
        c.metadata.generation = Some(1);
        let r = ObjectRef::from_obj(&c);
        assert!(changes.changed(r.clone(), Some(&c)), "appears");
        c.status = Some(Default::default());
        assert!(!changes.changed(r.clone(), Some(&c)), "status only");
        c.metadata.generation = Some(2);
        assert!(changes.changed(r.clone(), Some(&c)), "spec changed");
        c.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            Timestamp::UNIX_EPOCH,
        ));
        assert!(changes.changed(r.clone(), Some(&c)), "being deleted");
        assert!(changes.changed(r.clone(), None), "gone");
        c.metadata.uid = Some("u2".into());
        c.metadata.deletion_timestamp = None;
        assert!(changes.changed(r, Some(&c)), "created again");
    }
}
