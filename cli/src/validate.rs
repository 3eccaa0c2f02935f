//! `cwctl validate`: every object of the inputs goes through the admission webhook's own pipeline
//! (`webhook::admission::review`), `/mutate` then `/validate`, as a CREATE. The two seams are filled from here:
//! the objects come from the files ([`FileObjects`]), and Kafka Connect is a live cluster, a snapshot, or
//! nobody. The webhook's answer becomes findings at the object's file and line.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::ObjectMeta;
use serde_json::{Value, json};
use shared::config_from::SourceKind;
use shared::connect::ClientSettings;
use shared::crd::{GROUP, KafkaConnectCluster, KafkaConnector};
use webhook::admission::{
    Access, ConnectCheck, ConnectOutcome, Decision, FailurePolicy, ObjectSource, ObjectView,
    Objects, ReadCheck, Request, Snapshot, Validator, Webhook, review,
};

use crate::input::Doc;
use crate::offline::{NOT_CHECKED_OFFLINE, OfflineValidator, PluginSnapshot};
use crate::report::{Item, Report, Severity};

/// Where a connector's config is validated on Kafka Connect's side.
pub enum Mode {
    /// A live worker: the webhook's own client code, with cwctl's connection settings.
    Live {
        settings: ClientSettings,
        label: String,
    },
    /// A snapshot of a worker's plugins.
    Offline(PluginSnapshot),
    /// Local rules only.
    None,
}

/// The URL connectors are validated against when no live cluster is given (never contacted).
const OFFLINE_URL: &str = "http://kafka-connect.cwctl.invalid:8083";

const FAIL_OPEN_PREFIX: &str = "admitted without Kafka Connect validation (fail-open)";

/// The kinds cwctl checks.
pub(crate) const CONNECTOR: &str = "KafkaConnector";
const CLUSTER: &str = "KafkaConnectCluster";
const POLICY: &str = "KafkaConnectorPolicy";

/// Kinds without a namespace.
fn cluster_scoped(api_version: &str, kind: &str) -> bool {
    (kind == POLICY && api_version.starts_with(&format!("{GROUP}/")))
        || (api_version == "v1" && kind == "Namespace")
}

/// One object of the inputs.
pub(crate) struct Object {
    pub(crate) file: String,
    pub(crate) line: usize,
    pub(crate) api_version: String,
    pub(crate) kind: String,
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) value: Value,
}

impl Object {
    pub(crate) fn is(&self, kind: &str) -> bool {
        self.kind == kind && self.api_version.starts_with(&format!("{GROUP}/"))
    }
}

/// `o` as the API server stores it after the webhook's `/mutate` (numbers as strings, reserved keys in their
/// fields), or the webhook's denial lines.
pub(crate) async fn mutated(o: &Object) -> Result<Value, Vec<String>> {
    let r = review(
        Webhook::Mutate,
        &review_body(o, 0),
        &Objects::default(),
        &Skip,
        FailurePolicy::Closed,
    )
    .await
    .map_err(|e| vec![e.to_string()])?;
    if !r.decision.allowed {
        return Err(r.decision.lines);
    }
    let mut v = o.value.clone();
    json_patch::patch(&mut v, &r.decision.patch).map_err(|e| vec![e.to_string()])?;
    Ok(v)
}

/// The outcome of a run: the report, and a connection failure to exit 2 with, if any.
pub struct Outcome {
    pub report: Report,
    pub connection_error: Option<String>,
}

/// Validates every object of `docs`; objects without a namespace are in `namespace`.
pub async fn run(docs: Vec<Doc>, namespace: &str, mode: Mode, notes: Vec<String>) -> Outcome {
    let mut report = Report {
        mode: match &mode {
            Mode::Live { .. } => "live",
            Mode::Offline(_) => "offline",
            Mode::None => "none",
        }
        .into(),
        notes,
        items: Vec::new(),
    };
    match &mode {
        Mode::Live { label, .. } => report
            .notes
            .push(format!("live: Kafka Connect's validation by {label}")),
        Mode::Offline(s) => {
            report.notes.push(format!(
                "offline: against the snapshot of Kafka Connect {} taken {} from {} ({} connector plugins): checked types, required keys, recommended values, unknown keys (with did-you-mean), PASSWORD literals and plugin versions",
                s.connect.version,
                s.taken_at,
                s.url,
                s.plugins.len()
            ));
            report.notes.push(NOT_CHECKED_OFFLINE.into());
        }
        Mode::None => report.notes.push(
            "Kafka Connect's validation skipped: give --connect-url or --cluster (live) or --plugins (a snapshot) to check configs against the connector plugins".into(),
        ),
    }

    let (objects, mut items) = objects_of(docs, namespace);
    let mut checked: Vec<(Object, Item)> = Vec::new();
    let mut seen: BTreeMap<(String, String, String), (String, usize)> = BTreeMap::new();
    let mut references = Vec::new();
    for o in objects {
        if o.api_version == "v1" && ["Secret", "ConfigMap", "Namespace"].contains(&o.kind.as_str())
        {
            references.push(o.value);
            continue;
        }
        let ns = (!cluster_scoped(&o.api_version, &o.kind)).then_some(o.namespace.as_str());
        let mut item = Item::new(&o.file, o.line, &o.kind, ns, &o.name);
        let known = o.api_version.starts_with(&format!("{GROUP}/"))
            && (o.kind == CONNECTOR || o.kind == CLUSTER || o.kind == POLICY);
        if !known {
            item.checked = false;
            item.push(Severity::Note, skipped_note(&o.api_version, &o.kind));
            items.push(item);
            continue;
        }
        // The API server refuses these before any webhook sees them, so no review would say it.
        if let Some(problem) = invalid_object_name(&o.name) {
            item.push(Severity::Error, format!("metadata.name: {problem}"));
        }
        let id = (o.kind.clone(), o.namespace.clone(), o.name.clone());
        if let Some((f, l)) = seen.get(&id) {
            item.push(
                Severity::Error,
                format!(
                    "{} {}/{} is also defined at {f}:{l}; applying both keeps only the last one",
                    o.kind, o.namespace, o.name
                ),
            );
        } else {
            seen.insert(id, (o.file.clone(), o.line));
        }
        checked.push((o, item));
    }

    // /mutate first, as the API server does: its patch is what /validate and the claims of others see.
    let mut uid = 0;
    let mut mutated: Vec<(Object, Item, bool)> = Vec::new();
    for (mut o, mut item) in checked {
        uid += 1;
        let body = review_body(&o, uid);
        let ok = match review(
            Webhook::Mutate,
            &body,
            &Objects::default(),
            &Skip,
            FailurePolicy::Closed,
        )
        .await
        {
            Err(e) => {
                item.push(Severity::Error, e.to_string());
                false
            }
            Ok(r) => {
                let d = r.decision;
                push_decision(&mut item, &d, &mode);
                if d.allowed
                    && !d.patch.is_empty()
                    && let Err(e) = json_patch::patch(&mut o.value, &d.patch)
                {
                    item.push(
                        Severity::Error,
                        format!("cannot apply the webhook's patch: {e}"),
                    );
                }
                d.allowed
            }
        };
        mutated.push((o, item, ok));
    }

    let source = FileObjects::new(&mutated, &references, &mode);
    let validator = match &mode {
        Mode::Live { settings, .. } => Connect::Live(Box::new(Live::new(settings.clone()))),
        Mode::Offline(s) => Connect::Offline(OfflineValidator {
            snapshot: s.clone(),
        }),
        Mode::None => Connect::Skip(Skip),
    };
    for (o, mut item, ok) in mutated {
        if ok {
            for n in source.assumptions(&o) {
                item.push(Severity::Note, n);
            }
            uid += 1;
            let body = review_body(&o, uid);
            let policy = match mode {
                Mode::Live { .. } => FailurePolicy::Closed,
                _ => FailurePolicy::Open,
            };
            match review(Webhook::Validate, &body, &source, &validator, policy).await {
                Err(e) => item.push(Severity::Error, e.to_string()),
                Ok(r) => push_decision(&mut item, &r.decision, &mode),
            }
        }
        items.push(item);
    }
    items.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    report.items = items;
    let connection_error = match &validator {
        Connect::Live(l) => l.unavailable.lock().ok().and_then(|u| u.clone()),
        _ => None,
    };
    Outcome {
        report,
        connection_error,
    }
}

fn skipped_note(api_version: &str, kind: &str) -> String {
    let hint = match (api_version.split('/').next().unwrap_or_default(), kind) {
        ("kafka.strimzi.io", "KafkaConnector")
        | ("skynet.walmartdigital.cl", "GenericAutoConnector")
        | ("external.saiello.github.io", "KafkaConnector") => {
            "; `cwctl convert` turns it into a connect-warden KafkaConnector"
        }
        _ => "",
    };
    format!("skipped: {api_version} {kind} is not a kind cwctl validates{hint}")
}

/// The denial lines and warnings of `d` as findings. A first line ending in `:` introduces the others and
/// goes in front of each.
fn push_decision(item: &mut Item, d: &Decision, mode: &Mode) {
    if !d.allowed {
        let lines: Vec<&String> = d
            .lines
            .iter()
            // About the server's failure policy, not about the file.
            .filter(|l| !l.starts_with("the webhook fails closed"))
            .collect();
        match lines.split_first() {
            Some((head, rest)) if head.ends_with(':') && !rest.is_empty() => {
                for l in rest {
                    item.push(Severity::Error, format!("{head} {l}"));
                }
            }
            _ => {
                for l in lines {
                    item.push(Severity::Error, l.clone());
                }
            }
        }
    }
    for w in &d.warnings {
        if w.starts_with(FAIL_OPEN_PREFIX) && matches!(mode, Mode::None) {
            continue;
        }
        item.push(Severity::Warning, w.clone());
    }
}

/// The AdmissionReview the API server would send for creating `o` (a dry run, by user `cwctl`).
fn review_body(o: &Object, uid: usize) -> Vec<u8> {
    let version = o.api_version.split('/').nth(1).unwrap_or("v1alpha1");
    let resource = format!("{}s", o.kind.to_ascii_lowercase());
    let body = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": format!("cwctl-{uid}"),
            "kind": {"group": GROUP, "version": version, "kind": o.kind},
            "resource": {"group": GROUP, "version": version, "resource": resource},
            "name": o.name,
            "namespace": (!o.namespace.is_empty()).then_some(&o.namespace),
            "operation": "CREATE",
            "userInfo": {"username": "cwctl"},
            "object": o.value,
            "oldObject": null,
            "dryRun": true
        }
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The objects of `docs` (Lists expanded, namespaces defaulted) and the items of documents that are no
/// objects at all.
pub(crate) fn objects_of(docs: Vec<Doc>, namespace: &str) -> (Vec<Object>, Vec<Item>) {
    let mut objects = Vec::new();
    let mut items = Vec::new();
    for d in docs {
        match d.value {
            Err(e) => {
                let mut item = Item::new(&d.file, e.line, "", None, "");
                item.checked = false;
                item.push(Severity::Error, e.message);
                items.push(item);
            }
            Ok(v) => {
                let list = v["kind"].as_str().is_some_and(|k| k.ends_with("List"))
                    && v["items"].is_array();
                let values = if list {
                    v["items"].as_array().cloned().unwrap_or_default()
                } else {
                    vec![v]
                };
                for v in values {
                    match object(&d.file, d.line, v, namespace) {
                        Ok(o) => objects.push(o),
                        Err(item) => items.push(*item),
                    }
                }
            }
        }
    }
    (objects, items)
}

/// Why the API server would refuse `name` for a custom resource (a lowercase RFC 1123 subdomain), in its
/// own words; `None` when it is valid.
fn invalid_object_name(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("Required value: name is required".into());
    }
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if name.len() > 253 {
        return Some(format!(
            "Invalid value: {name:?}: must be no more than 253 characters"
        ));
    }
    let ok = name.chars().all(|c| alnum(c) || c == '-' || c == '.')
        && name.starts_with(alnum)
        && name.ends_with(alnum);
    (!ok).then(|| {
        format!(
            "Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
        )
    })
}

fn object(file: &str, line: usize, mut value: Value, namespace: &str) -> Result<Object, Box<Item>> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let api_version = text(&value["apiVersion"]);
    let kind = text(&value["kind"]);
    if !value.is_object() || api_version.is_empty() || kind.is_empty() {
        let mut item = Item::new(file, line, "", None, "");
        item.checked = false;
        // A plugin snapshot kept next to the manifests is no manifest, and no mistake either.
        if value.get("plugins").is_some() && value.get("connect").is_some() {
            item.push(
                Severity::Note,
                "skipped: a plugin snapshot written by `cwctl snapshot` (give it with --plugins)",
            );
        } else {
            item.push(
                Severity::Error,
                "not a Kubernetes object: apiVersion and kind are required",
            );
        }
        return Err(Box::new(item));
    }
    let name = text(&value["metadata"]["name"]);
    let ns = match value["metadata"]["namespace"].as_str() {
        _ if cluster_scoped(&api_version, &kind) => String::new(),
        Some(n) if !n.is_empty() => n.to_string(),
        _ => {
            if let Some(m) = value.get_mut("metadata").and_then(Value::as_object_mut) {
                m.insert("namespace".into(), Value::String(namespace.into()));
            } else if let Some(o) = value.as_object_mut() {
                o.insert("metadata".into(), json!({"namespace": namespace}));
            }
            namespace.to_string()
        }
    };
    Ok(Object {
        file: file.into(),
        line,
        api_version,
        kind,
        namespace: ns,
        name,
        value,
    })
}

/// The webhook's Kubernetes seam over the objects of the files. A cluster's own review sees the objects as
/// written. A connector's review sees its clusters with cwctl's way to Kafka Connect in place of theirs
/// (their Secrets are rarely in Git, and cwctl reaches Connect its own way), clusters it names that are not
/// in the files as existing, and `configFrom` Secrets and ConfigMaps that are not in the files as holding a
/// placeholder: so every connector gets Kafka Connect's validation, and the notes say what was assumed.
struct FileObjects {
    written: Objects,
    reachable: Objects,
    /// Per connector (namespace, name): what was assumed for it.
    assumed: BTreeMap<(String, String), Vec<String>>,
}

/// A value given to configFrom keys whose Secret or ConfigMap is not in the files.
const PLACEHOLDER: &str = "cwctl-placeholder";

impl FileObjects {
    fn new(objects: &[(Object, Item, bool)], references: &[Value], mode: &Mode) -> Self {
        let url = match mode {
            Mode::Live { settings, .. } => settings.url.clone(),
            _ => OFFLINE_URL.to_string(),
        };
        let mut written = Objects::default();
        let mut namespace_labels: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut connectors = Vec::new();
        for (o, _, _) in objects {
            match o.kind.as_str() {
                CLUSTER => {
                    if let Ok(c) = serde_json::from_value::<KafkaConnectCluster>(o.value.clone()) {
                        written.add_cluster(c);
                    }
                }
                CONNECTOR => {
                    if let Ok(c) = serde_json::from_value::<KafkaConnector>(o.value.clone()) {
                        written.add_connector(c.clone());
                        connectors.push(c);
                    }
                }
                _ => {}
            }
        }
        // Secrets and ConfigMaps are read for references, never reported (nor, of course, their values).
        for v in references {
            match v["kind"].as_str() {
                Some("Secret") => {
                    if let Ok(s) = serde_json::from_value::<Secret>(v.clone()) {
                        written.add_secret(s);
                    }
                }
                Some("ConfigMap") => {
                    if let Ok(m) = serde_json::from_value::<ConfigMap>(v.clone()) {
                        written.add_config_map(m);
                    }
                }
                Some("Namespace") => {
                    if let Some(name) = v["metadata"]["name"].as_str() {
                        let labels: BTreeMap<String, String> =
                            serde_json::from_value(v["metadata"]["labels"].clone())
                                .unwrap_or_default();
                        namespace_labels.insert(name.to_string(), labels);
                    }
                }
                _ => {}
            }
        }
        // Every namespace has the label Kubernetes gives it; a Namespace in the files adds its own.
        for (o, _, _) in objects {
            if !o.namespace.is_empty() {
                namespace_labels.entry(o.namespace.clone()).or_default();
            }
        }
        for (ns, mut labels) in namespace_labels {
            labels.insert("kubernetes.io/metadata.name".into(), ns.clone());
            written.namespaces.insert(ns, Arc::new(labels));
        }
        written.policies = Arc::new(policy_set(objects));
        let mut reachable = written.clone();
        reachable.default_url = Some(url.clone());
        for c in reachable.clusters.values_mut() {
            let mut c2 = (**c).clone();
            c2.spec.url = url.clone();
            c2.spec.authentication = None;
            c2.spec.tls = None;
            *c = Arc::new(c2);
        }
        let mut assumed: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for c in &connectors {
            let ns = c.metadata.namespace.clone().unwrap_or_default();
            let key = (ns.clone(), c.metadata.name.clone().unwrap_or_default());
            let notes = assumed.entry(key).or_default();
            if let Some((cns, cname)) = c.cluster_key()
                && !written.clusters.contains_key(&(cns.clone(), cname.clone()))
            {
                let mut cluster: KafkaConnectCluster = serde_json::from_value(json!({
                    "apiVersion": format!("{GROUP}/v1alpha1"), "kind": CLUSTER,
                    "metadata": {"name": cname, "namespace": cns},
                    "spec": {"url": url, "allowedNamespaces": ["*"]}
                }))
                .expect("a minimal KafkaConnectCluster");
                cluster.spec.allowed_namespaces = vec!["*".into()];
                reachable.add_cluster(cluster);
                notes.push(format!(
                    "KafkaConnectCluster {cns}/{cname} is not in the given files: assumed to exist and to let namespace {ns:?} use it"
                ));
            }
            for (kind, name) in shared::config_from::referenced(&c.spec.config_from) {
                let keys: BTreeSet<String> = c
                    .spec
                    .config_from
                    .values()
                    .filter(|s| s.selector().name == name)
                    .map(|s| s.selector().key.clone())
                    .collect();
                let meta = ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(ns.clone()),
                    ..Default::default()
                };
                let missing = match kind {
                    SourceKind::Secret => {
                        !written.secrets.contains_key(&(ns.clone(), name.clone()))
                    }
                    SourceKind::ConfigMap => !written
                        .config_maps
                        .contains_key(&(ns.clone(), name.clone())),
                };
                if !missing {
                    continue;
                }
                match kind {
                    SourceKind::Secret => {
                        reachable.add_secret(Secret {
                            metadata: meta,
                            data: Some(
                                keys.iter()
                                    .map(|k| {
                                        (k.clone(), ByteString(PLACEHOLDER.as_bytes().to_vec()))
                                    })
                                    .collect(),
                            ),
                            ..Default::default()
                        });
                    }
                    SourceKind::ConfigMap => {
                        reachable.add_config_map(ConfigMap {
                            metadata: meta,
                            data: Some(
                                keys.iter()
                                    .map(|k| (k.clone(), PLACEHOLDER.to_string()))
                                    .collect(),
                            ),
                            ..Default::default()
                        });
                    }
                }
                let what = match kind {
                    SourceKind::Secret => "Secret",
                    SourceKind::ConfigMap => "ConfigMap",
                };
                notes.push(format!(
                    "{what} {ns}/{name} (spec.configFrom) is not in the given files: its keys {} were validated with a placeholder value",
                    keys.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        FileObjects {
            written,
            reachable,
            assumed,
        }
    }

    /// What was assumed for `o`, as notes.
    fn assumptions(&self, o: &Object) -> Vec<String> {
        self.assumed
            .get(&(o.namespace.clone(), o.name.clone()))
            .filter(|_| o.kind == CONNECTOR)
            .cloned()
            .unwrap_or_default()
    }
}

/// The KafkaConnectorPolicies of the files, compiled as the webhook compiles them; one whose schema does not
/// compile is left out, as the webhook leaves it out (its own review says why).
fn policy_set(objects: &[(Object, Item, bool)]) -> shared::policy::PolicySet {
    let mut ok = Vec::new();
    let mut broken = BTreeMap::new();
    for (i, (o, _, _)) in objects.iter().enumerate() {
        if o.kind != POLICY {
            continue;
        }
        let Ok(mut p) =
            serde_json::from_value::<shared::crd::KafkaConnectorPolicy>(o.value.clone())
        else {
            continue;
        };
        // Compiled policies are told apart by uid; objects in files have none yet.
        p.metadata.uid = Some(format!("cwctl-{i}"));
        match shared::policy::compile(&p) {
            Ok(c) => ok.push(Arc::new(c)),
            Err(e) => {
                broken.insert(o.name.clone(), e);
            }
        }
    }
    shared::policy::PolicySet::new(ok, broken)
}

/// A connector's view: the reachable objects, except that claims on connector names follow the URLs the
/// clusters have in the files (in `reachable` every cluster points at cwctl's Kafka Connect, so any two would
/// share their names). A cluster cwctl assumed has no URL of its own: its claims are its own.
impl ObjectView for FileObjects {
    fn cluster(&self, namespace: &str, name: &str) -> Option<Arc<KafkaConnectCluster>> {
        self.reachable.cluster(namespace, name)
    }
    fn cluster_names(&self, namespace: &str) -> Vec<String> {
        self.reachable.cluster_names(namespace)
    }
    fn clusters(&self) -> Vec<Arc<KafkaConnectCluster>> {
        self.written.clusters()
    }
    fn secret(&self, namespace: &str, name: &str) -> Option<Arc<Secret>> {
        self.reachable.secret(namespace, name)
    }
    fn config_map(&self, namespace: &str, name: &str) -> Option<Arc<ConfigMap>> {
        self.reachable.config_map(namespace, name)
    }
    fn find_connector(
        &self,
        matches: &dyn Fn(&KafkaConnector) -> bool,
    ) -> Option<Arc<KafkaConnector>> {
        self.reachable.find_connector(matches)
    }
    fn default_cluster_url(&self) -> Option<&str> {
        self.reachable.default_cluster_url()
    }
    fn read_access(&self, check: &ReadCheck) -> Option<Access> {
        self.reachable.read_access(check)
    }
    fn policies(&self) -> Arc<shared::policy::PolicySet> {
        self.reachable.policies()
    }
    fn namespace_labels(&self, namespace: &str) -> Option<Arc<BTreeMap<String, String>>> {
        self.reachable.namespace_labels(namespace)
    }
    fn watches(&self, namespace: &str) -> bool {
        self.reachable.watches(namespace)
    }
}

impl ObjectSource for FileObjects {
    async fn snapshot<'a>(&'a self, req: &'a Request) -> Snapshot<'a> {
        if req.kind.kind == CONNECTOR {
            Snapshot::of(self)
        } else {
            Snapshot::of(&self.written)
        }
    }
}

/// Nobody to ask: the webhook then admits with its fail-open warning, which cwctl leaves out (the run's note
/// says Connect's validation was skipped).
pub struct Skip;

impl Validator for Skip {
    async fn validate(&self, _check: &Arc<ConnectCheck>) -> Arc<ConnectOutcome> {
        Arc::new(ConnectOutcome::Unavailable {
            reason: "skipped",
            message: "no Kafka Connect given".into(),
        })
    }
}

/// The webhook's own live client (its deadline, its unknown-class handling), pointed at cwctl's cluster.
pub struct Live {
    inner: webhook::connect::LiveConnect,
    settings: ClientSettings,
    /// The first failure to reach Kafka Connect: the run exits 2 with it.
    unavailable: std::sync::Mutex<Option<String>>,
}

impl Live {
    fn new(settings: ClientSettings) -> Self {
        let metrics = webhook::metrics::Metrics::new().expect("metrics registry");
        Live {
            inner: webhook::connect::LiveConnect::new(
                settings.timeout,
                Duration::from_secs(60),
                metrics,
            ),
            settings,
            unavailable: std::sync::Mutex::new(None),
        }
    }
}

impl Validator for Live {
    async fn validate(&self, check: &Arc<ConnectCheck>) -> Arc<ConnectOutcome> {
        let mut c = (**check).clone();
        c.settings = self.settings.clone();
        let out = self.inner.validate(&Arc::new(c)).await;
        if let ConnectOutcome::Unavailable { message, .. }
        | ConnectOutcome::Misconfigured { message } = &*out
            && let Ok(mut u) = self.unavailable.lock()
            && u.is_none()
        {
            *u = Some(message.clone());
        }
        out
    }
}

enum Connect {
    Live(Box<Live>),
    Offline(OfflineValidator),
    Skip(Skip),
}

impl Validator for Connect {
    async fn validate(&self, check: &Arc<ConnectCheck>) -> Arc<ConnectOutcome> {
        match self {
            Connect::Live(l) => l.validate(check).await,
            Connect::Offline(o) => o.validate(check).await,
            Connect::Skip(s) => s.validate(check).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Mode, invalid_object_name, run};
    use crate::input::Doc;
    use crate::report::Severity;
    use serde_json::json;

    /// The errors of a run over two clusters at `url_a` and `url_b`, each with a connector "orders".
    async fn claim_errors(url_a: &str, url_b: &str) -> Vec<String> {
        let cluster = |name: &str, url: &str| {
            json!({"apiVersion": "connectwarden.io/v1alpha1", "kind": "KafkaConnectCluster",
                   "metadata": {"name": name, "namespace": "team-a"}, "spec": {"url": url}})
        };
        let connector = |name: &str, cluster: &str| {
            json!({"apiVersion": "connectwarden.io/v1alpha1", "kind": "KafkaConnector",
                   "metadata": {"name": name, "namespace": "team-a"},
                   "spec": {"clusterRef": {"name": cluster}, "name": "orders", "class": "X", "config": {}}})
        };
        let docs = [
            cluster("a", url_a),
            cluster("b", url_b),
            connector("first", "a"),
            connector("second", "b"),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, v)| Doc {
            file: "claims.yaml".into(),
            line: i + 1,
            value: Ok(v),
        })
        .collect();
        let out = run(docs, "team-a", Mode::None, Vec::new()).await;
        out.report
            .items
            .iter()
            .flat_map(|i| &i.findings)
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.message.clone())
            .collect()
    }

    #[tokio::test]
    async fn claims_follow_the_urls_in_the_files_not_cwctls_own() {
        assert_eq!(
            claim_errors("http://connect-a:8083", "http://connect-b:8083").await,
            Vec::<String>::new()
        );
        assert_eq!(
            claim_errors("http://connect:8083", "HTTP://Connect:8083/").await,
            [
                "connector name \"orders\" on KafkaConnectCluster team-a/a is already claimed by KafkaConnector \
                 team-a/second through KafkaConnectCluster team-a/b, which points at the same Kafka Connect \
                 (http://connect:8083/)",
                "connector name \"orders\" on KafkaConnectCluster team-a/b is already claimed by KafkaConnector \
                 team-a/first through KafkaConnectCluster team-a/a, which points at the same Kafka Connect \
                 (http://connect:8083/)",
            ]
        );
    }

    #[test]
    fn object_names_follow_the_api_servers_rule() {
        for ok in ["orders", "team-a.orders-1", "a"] {
            assert_eq!(invalid_object_name(ok), None, "{ok}");
        }
        assert_eq!(
            invalid_object_name("Bad_Name").unwrap(),
            "Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
        );
        for bad in ["-orders", "orders.", "ORDERS"] {
            assert!(invalid_object_name(bad).is_some(), "{bad}");
        }
        assert_eq!(
            invalid_object_name("").unwrap(),
            "Required value: name is required"
        );
        assert!(
            invalid_object_name(&"a".repeat(254))
                .unwrap()
                .contains("253")
        );
    }
}
