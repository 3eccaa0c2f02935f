//! The admission decisions, as pure functions (DESIGN §4): `review (+ what the caches know) → plan`, and
//! `plan + Kafka Connect's validation result → decision`. No I/O here: the server does the fetching and
//! calling, tests and the fuzz target feed these functions directly.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, Patch, PatchOperation, RemoveOperation, ReplaceOperation};
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use shared::config::{
    RESERVED_CLASS, RESERVED_NAME, RESERVED_TASKS_MAX, check_connector_name, closest,
    closest_class, effective_config, is_pass_through, string_config,
};
use shared::connect::{ClientSettings, ValidateResponse, parse_base_url};
use shared::crd::{ClusterTls, GROUP, KafkaConnectClusterSpec, KafkaConnector, KafkaConnectorSpec};
use shared::redact::{Redactor, is_config_reference};

use crate::args::FailurePolicy;
use crate::lookup::{ClusterId, Lookup};
use crate::{Error, Result};

pub type Request = AdmissionRequest<DynamicObject>;

/// Most problem lines in one denial, and most keys named in one warning: past that, a count. The API server
/// and kubectl handle long messages, but nobody reads ten thousand lines.
const MAX_LINES: usize = 20;
const MAX_KEYS_IN_WARNING: usize = 10;
const MAX_UNKNOWN_KEY_WARNINGS: usize = 5;
/// MirrorMaker connectors pass settings with these prefixes on to the clients of each cluster; Connect does
/// not list them among the connector's settings, so they are no typo suspects either.
const MIRROR_PASS_THROUGH_PREFIXES: &[&str] = &[
    "source.cluster.",
    "target.cluster.",
    "source.consumer.",
    "source.producer.",
    "source.admin.",
    "target.consumer.",
    "target.producer.",
    "target.admin.",
];
/// Keys and values quoted in messages are cut to this many characters.
const MAX_QUOTED: usize = 80;

/// Which endpoint a review came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Webhook {
    Mutate,
    Validate,
}

impl Webhook {
    pub fn as_str(self) -> &'static str {
        match self {
            Webhook::Mutate => "mutate",
            Webhook::Validate => "validate",
        }
    }
}

/// Why a decision was taken; also the `reason` metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Checked and fine (Kafka Connect validated the config, or nothing needed changing).
    Valid,
    /// The mutating webhook changed the object.
    Mutated,
    /// An UPDATE that leaves `spec` unchanged.
    Unchanged,
    /// DELETE, or an object whose `deletionTimestamp` is set.
    Deleting,
    /// A kind, operation or subresource this webhook has nothing to say about.
    NotApplicable,
    /// The object does not have the shape of its kind.
    InvalidObject,
    /// Local config rules: non-string values, empty class, tasksMax < 1, connector name rules.
    InvalidConfig,
    ReservedKeyConflict,
    /// The KafkaConnectCluster does not exist (yet): admitted with a warning, or denied when no cluster is
    /// named and no default is configured.
    ClusterNotFound,
    /// A Secret or ConfigMap the KafkaConnectCluster references does not exist (yet): admitted with a warning.
    ReferenceNotFound,
    NamespaceNotAllowed,
    NameConflict,
    /// The KafkaConnectCluster is malformed, or its Secrets/ConfigMaps do not hold what they should (missing
    /// keys, a CA without a PEM certificate).
    ClusterMisconfigured,
    /// Kafka Connect reported errors for the config.
    ConnectRejected,
    PluginNotFound,
    /// Kafka Connect could not answer (fail-closed denies, fail-open admits).
    ConnectUnavailable,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Valid => "valid",
            Reason::Mutated => "mutated",
            Reason::Unchanged => "unchanged",
            Reason::Deleting => "deleting",
            Reason::NotApplicable => "not_applicable",
            Reason::InvalidObject => "invalid_object",
            Reason::InvalidConfig => "invalid_config",
            Reason::ReservedKeyConflict => "reserved_key_conflict",
            Reason::ClusterNotFound => "cluster_not_found",
            Reason::ReferenceNotFound => "reference_not_found",
            Reason::NamespaceNotAllowed => "namespace_not_allowed",
            Reason::NameConflict => "name_conflict",
            Reason::ClusterMisconfigured => "cluster_misconfigured",
            Reason::ConnectRejected => "connect_rejected",
            Reason::PluginNotFound => "plugin_not_found",
            Reason::ConnectUnavailable => "connect_unavailable",
        }
    }
}

/// The answer to one review.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: Reason,
    /// For a denial: one line per problem (a first line may give the context).
    pub lines: Vec<String>,
    pub warnings: Vec<String>,
    pub patch: Vec<PatchOperation>,
}

impl Decision {
    pub fn allow(reason: Reason) -> Self {
        Decision {
            allowed: true,
            reason,
            lines: Vec::new(),
            warnings: Vec::new(),
            patch: Vec::new(),
        }
    }

    pub fn deny(reason: Reason, lines: Vec<String>) -> Self {
        Decision {
            allowed: false,
            reason,
            lines,
            warnings: Vec::new(),
            patch: Vec::new(),
        }
    }

    fn with_warnings(mut self, warnings: Vec<String>) -> Self {
        self.warnings.extend(warnings);
        self
    }

    pub fn decision_label(&self) -> &'static str {
        match (self.allowed, self.patch.is_empty()) {
            (false, _) => "denied",
            (true, true) => "allowed",
            (true, false) => "patched",
        }
    }

    pub fn message(&self) -> String {
        self.lines.join("\n")
    }

    /// The AdmissionResponse for `req`: uid echoed, message, warnings, patch.
    pub fn into_response(self, req: &Request) -> AdmissionResponse {
        let mut resp = AdmissionResponse::from(req);
        if !self.warnings.is_empty() {
            resp.warnings = Some(self.warnings);
        }
        if !self.allowed {
            let mut resp = resp.deny(self.lines.join("\n"));
            resp.result.code = 403;
            resp.result.reason = "Forbidden".into();
            return resp;
        }
        if self.patch.is_empty() {
            return resp;
        }
        // Serialising a patch of plain JSON values cannot fail; if it ever did, denying is the safe side.
        match resp.clone().with_patch(Patch(self.patch)) {
            Ok(r) => r,
            Err(e) => resp.deny(format!("internal error: cannot encode the patch: {e}")),
        }
    }
}

/// Reads an AdmissionReview v1. Errors are the text of an HTTP 400.
pub fn parse_review(body: &[u8]) -> Result<Request> {
    let review: AdmissionReview<DynamicObject> = serde_json::from_slice(body)
        .map_err(|e| Error::BadReview(format!("malformed AdmissionReview: {e}")))?;
    if review.types.api_version != "admission.k8s.io/v1" || review.types.kind != "AdmissionReview" {
        return Err(Error::BadReview(format!(
            "expected kind AdmissionReview, apiVersion admission.k8s.io/v1; got kind {:?}, apiVersion {:?}",
            cut(&review.types.kind),
            cut(&review.types.api_version)
        )));
    }
    review
        .try_into()
        .map_err(|_| Error::BadReview("the AdmissionReview has no request".into()))
}

/// The whole review → response path without Connect or the API server: the fuzz target and property tests
/// use it; the server uses the same pieces with real I/O in between.
pub fn review_offline(
    webhook: Webhook,
    body: &[u8],
    lookup: &dyn Lookup,
    outcome: &ConnectOutcome,
    policy: FailurePolicy,
) -> Result<(Decision, AdmissionResponse)> {
    let req = parse_review(body)?;
    let decision = match webhook {
        Webhook::Mutate => mutate(&req, body),
        Webhook::Validate => match plan_validate(&req, lookup) {
            Plan::Done(d) => d,
            Plan::Connect(check) => finish(&check, outcome, policy),
        },
    };
    let resp = decision.clone().into_response(&req);
    Ok((decision, resp))
}

fn is_kind(req: &Request, kind: &str) -> bool {
    req.kind.group == GROUP && req.kind.kind == kind
}

/// Shared first steps: deletions, finalizer-only updates and subresources never depend on anything.
fn quick_answer(req: &Request) -> Option<Decision> {
    match req.operation {
        Operation::Delete => return Some(Decision::allow(Reason::Deleting)),
        Operation::Connect => return Some(Decision::allow(Reason::NotApplicable)),
        Operation::Create | Operation::Update => {}
    }
    if req.sub_resource.as_deref().is_some_and(|s| !s.is_empty()) {
        return Some(Decision::allow(Reason::NotApplicable));
    }
    let Some(obj) = &req.object else {
        return Some(Decision::deny(
            Reason::InvalidObject,
            vec!["the AdmissionReview carries no object".into()],
        ));
    };
    if obj.metadata.deletion_timestamp.is_some() {
        return Some(Decision::allow(Reason::Deleting));
    }
    if req.operation == Operation::Update
        && let Some(old) = &req.old_object
        && old.data.get("spec") == obj.data.get("spec")
    {
        return Some(Decision::allow(Reason::Unchanged));
    }
    None
}

// ---------------------------------------------------------------------------------------------------------
// Mutation
// ---------------------------------------------------------------------------------------------------------

/// A reserved config key and the spec field it belongs in.
struct ReservedKey {
    key: &'static str,
    field: &'static str,
}

const RESERVED: [ReservedKey; 3] = [
    ReservedKey {
        key: RESERVED_NAME,
        field: "name",
    },
    ReservedKey {
        key: RESERVED_CLASS,
        field: "class",
    },
    ReservedKey {
        key: RESERVED_TASKS_MAX,
        field: "tasksMax",
    },
];

/// What a reserved key in `spec.config` means next to its spec field.
enum ReservedCheck {
    /// The field is empty: move the value there.
    Move(Value),
    /// The field already says the same.
    Duplicate,
    /// They disagree, or the value cannot be moved: one line saying why.
    Conflict(String),
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn simple_class(c: &str) -> &str {
    let s = c.trim();
    let s = s.rsplit('.').next().unwrap_or(s);
    s.strip_suffix("Connector").unwrap_or(s)
}

fn check_reserved(r: &ReservedKey, value: &Value, spec: &Map<String, Value>) -> ReservedCheck {
    let Some(text) = scalar_string(value) else {
        return ReservedCheck::Conflict(format!(
            "spec.config.{:?} belongs in spec.{} and must be a string, got {}",
            r.key,
            r.field,
            shared::config::json_type(value)
        ));
    };
    let field = spec.get(r.field).filter(|v| !v.is_null());
    let field_text = field.and_then(scalar_string).filter(|s| !s.is_empty());
    if r.field == "tasksMax" {
        let Some(n) = text.trim().parse::<i32>().ok().filter(|n| *n >= 1) else {
            return ReservedCheck::Conflict(format!(
                "spec.config.\"tasks.max\" is {:?}, not a whole number ≥ 1; set spec.tasksMax instead",
                cut(&text)
            ));
        };
        return match field {
            None => ReservedCheck::Move(Value::from(n)),
            Some(f) if f.as_i64() == Some(n.into()) => ReservedCheck::Duplicate,
            Some(f) => ReservedCheck::Conflict(format!(
                "spec.config.\"tasks.max\" is {:?} but spec.tasksMax is {}: set it in spec.tasksMax only",
                cut(&text),
                cut(&f.to_string())
            )),
        };
    }
    match field_text {
        None => ReservedCheck::Move(Value::String(text)),
        Some(f) if f == text => ReservedCheck::Duplicate,
        Some(f) if r.field == "class" && simple_class(&f) == simple_class(&text) => {
            ReservedCheck::Duplicate
        }
        Some(f) => ReservedCheck::Conflict(format!(
            "spec.config.{:?} is {:?} but spec.{} is {:?}: set it in spec.{} only",
            r.key,
            cut(&text),
            r.field,
            cut(&f),
            r.field
        )),
    }
}

fn pointer(tokens: &[&str]) -> PointerBuf {
    PointerBuf::from_tokens(tokens.iter().copied())
}

/// The text of each number in `spec.config` of the review's object, exactly as it was sent. Decoding into a
/// `Value` keeps only an f64 or a 64-bit integer, which is the very loss the number check looks for; the raw
/// text is read in a second, narrow pass. Anything unexpected gives an empty map (the `Value` then speaks).
pub fn config_number_texts(body: &[u8]) -> BTreeMap<String, String> {
    #[derive(Deserialize)]
    struct Review<'a> {
        #[serde(borrow)]
        request: Option<Req<'a>>,
    }
    #[derive(Deserialize)]
    struct Req<'a> {
        #[serde(borrow)]
        object: Option<Obj<'a>>,
    }
    #[derive(Deserialize)]
    struct Obj<'a> {
        #[serde(borrow)]
        spec: Option<Spec<'a>>,
    }
    #[derive(Deserialize)]
    struct Spec<'a> {
        #[serde(borrow)]
        config: Option<BTreeMap<String, &'a RawValue>>,
    }
    let Ok(review) = serde_json::from_slice::<Review>(body) else {
        return BTreeMap::new();
    };
    review
        .request
        .and_then(|r| r.object)
        .and_then(|o| o.spec)
        .and_then(|s| s.config)
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, v)| {
            let t = v.get();
            t.starts_with(|c: char| c == '-' || c.is_ascii_digit())
        })
        .map(|(k, v)| (k, v.get().to_string()))
        .collect()
}

/// One denial line per number in `config` that cannot have been decoded exactly (`texts`: the numbers as
/// sent, from [`config_number_texts`]; a number missing there is judged by its decoded form).
fn inexact_numbers(config: &Map<String, Value>, texts: &BTreeMap<String, String>) -> Vec<String> {
    let mut lines = Vec::new();
    for (k, v) in config {
        let Value::Number(n) = v else {
            continue;
        };
        let text = texts.get(k).cloned().unwrap_or_else(|| n.to_string());
        if let Some(why) = shared::config::inexact_number(&text) {
            lines.push(format!(
                "spec.config.{:?}: the number arrived as {} and cannot be stored exactly ({why}); quote it in Git so it is kept as written",
                cut(k),
                cut(&text)
            ));
        }
    }
    limit_lines(&mut lines, "numbers");
    lines
}

/// `/mutate`: numbers and booleans in `spec.config` become strings, reserved keys move to their spec fields.
/// Numbers that may have been rounded on the way are denied: storing a changed value silently is worse.
/// Everything else is left for `/validate` to judge, so one bad value never hides another. `body` is the
/// review as received, for the numbers' exact text.
pub fn mutate(req: &Request, body: &[u8]) -> Decision {
    if !is_kind(req, "KafkaConnector") {
        return Decision::allow(Reason::NotApplicable);
    }
    if let Some(d) = quick_answer(req) {
        return d;
    }
    let Some(spec) = req
        .object
        .as_ref()
        .and_then(|o| o.data.get("spec"))
        .and_then(Value::as_object)
    else {
        return Decision::allow(Reason::Valid);
    };
    let Some(config) = spec.get("config").and_then(Value::as_object) else {
        return Decision::allow(Reason::Valid);
    };

    let inexact = if config.values().any(Value::is_number) {
        inexact_numbers(config, &config_number_texts(body))
    } else {
        Vec::new()
    };
    if !inexact.is_empty() {
        return Decision::deny(Reason::InvalidConfig, inexact);
    }

    let mut patch = Vec::new();
    let mut warnings = Vec::new();
    let mut conflicts = Vec::new();
    for r in &RESERVED {
        let Some(value) = config.get(r.key) else {
            continue;
        };
        match check_reserved(r, value, spec) {
            ReservedCheck::Move(v) => {
                warnings.push(format!(
                    "spec.config.{:?} moved to spec.{} ({}): it belongs in the spec field; move it there in Git too",
                    r.key,
                    r.field,
                    cut(&scalar_string(&v).unwrap_or_default())
                ));
                patch.push(PatchOperation::Add(AddOperation {
                    path: pointer(&["spec", r.field]),
                    value: v,
                }));
                patch.push(PatchOperation::Remove(RemoveOperation {
                    path: pointer(&["spec", "config", r.key]),
                }));
            }
            ReservedCheck::Duplicate => {
                warnings.push(format!(
                    "spec.config.{:?} removed: it repeats spec.{}; remove it in Git too",
                    r.key, r.field
                ));
                patch.push(PatchOperation::Remove(RemoveOperation {
                    path: pointer(&["spec", "config", r.key]),
                }));
            }
            ReservedCheck::Conflict(line) => conflicts.push(line),
        }
    }
    if !conflicts.is_empty() {
        return Decision::deny(Reason::ReservedKeyConflict, conflicts);
    }

    let mut converted = Vec::new();
    for (k, v) in config {
        if RESERVED.iter().any(|r| r.key == k) {
            continue;
        }
        if let (Value::Number(_) | Value::Bool(_), Some(s)) = (v, scalar_string(v)) {
            patch.push(PatchOperation::Replace(ReplaceOperation {
                path: pointer(&["spec", "config", k]),
                value: Value::String(s.clone()),
            }));
            converted.push((k.as_str(), v, s));
        }
    }
    if !converted.is_empty() {
        warnings.push(conversion_warning(&converted));
    }
    let reason = if patch.is_empty() {
        Reason::Valid
    } else {
        Reason::Mutated
    };
    Decision {
        patch,
        ..Decision::allow(reason)
    }
    .with_warnings(warnings)
}

/// One warning naming each converted key with its value before and after: YAML `1.50` arrives as 1.5, and the
/// user should see that.
fn conversion_warning(converted: &[(&str, &Value, String)]) -> String {
    let mut w = String::from("spec.config: numbers and booleans converted to strings: ");
    for (i, (k, v, s)) in converted.iter().take(MAX_KEYS_IN_WARNING).enumerate() {
        if i > 0 {
            w.push_str(", ");
        }
        let _ = write!(w, "{}: {} → {:?}", cut(k), cut(&v.to_string()), cut(s));
    }
    if converted.len() > MAX_KEYS_IN_WARNING {
        let _ = write!(w, " and {} more", converted.len() - MAX_KEYS_IN_WARNING);
    }
    let (k, _, s) = &converted[0];
    let _ = write!(
        w,
        "; quote them in Git (e.g. {}: {:?}) so GitOps diffs stay clean",
        cut(k),
        cut(s)
    );
    w
}

// ---------------------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------------------

/// What `/validate` needs next.
#[derive(Debug)]
pub enum Plan {
    Done(Decision),
    /// Local checks passed: ask Kafka Connect.
    Connect(Box<ConnectCheck>),
}

/// One Kafka Connect validation to run, and what the decision needs afterwards.
#[derive(Debug, Clone)]
pub struct ConnectCheck {
    pub cluster: ClusterId,
    pub settings: ClientSettings,
    /// As given in `spec.class` (a class or an alias); the path of the validate call.
    pub class: String,
    /// The flat config Connect receives, with `name`, `connector.class` and `tasks.max`.
    pub config: BTreeMap<String, String>,
    /// Warnings found before Connect was asked.
    pub warnings: Vec<String>,
}

impl ConnectCheck {
    /// The validation-cache key: the same cluster, endpoint, class and config give the same answer.
    pub fn cache_key(&self) -> String {
        let mut h = Sha256::new();
        for (k, v) in &self.config {
            // Length prefixes keep `a=bc` and `ab=c` apart.
            h.update((k.len() as u64).to_le_bytes());
            h.update(k.as_bytes());
            h.update((v.len() as u64).to_le_bytes());
            h.update(v.as_bytes());
        }
        format!(
            "{}|{}|{}|{}",
            self.cluster.label(),
            self.settings.url,
            self.class,
            hex::encode(h.finalize())
        )
    }

    fn redactor(&self, password_keys: &BTreeSet<String>) -> Redactor {
        Redactor::new(&self.config, password_keys)
    }
}

/// What Kafka Connect said about one config. Cloneable, so one answer serves every identical request.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectOutcome {
    Validated(ValidateResponse),
    /// The class is not installed; the connector classes that are.
    UnknownClass {
        installed: Vec<String>,
    },
    /// Connect answered but refused the request (4xx): a problem with the request, not an outage.
    Refused {
        message: String,
    },
    /// No client could be built from the cluster's settings (a CA or client certificate TLS refuses): a
    /// problem of the KafkaConnectCluster, not an outage.
    Misconfigured {
        message: String,
    },
    /// No usable answer: unreachable, too slow, 5xx, authentication failed.
    Unavailable {
        reason: &'static str,
        message: String,
    },
}

impl ConnectOutcome {
    /// Classifies a client error (`installed` is only used for an unknown class).
    pub fn from_error(e: &shared::Error, installed: Vec<String>) -> Self {
        match e {
            shared::Error::PluginNotFound { .. } => ConnectOutcome::UnknownClass { installed },
            shared::Error::Rejected { .. } => ConnectOutcome::Refused {
                message: e.to_string(),
            },
            shared::Error::ClientConfig(_) | shared::Error::Resolve(_) => {
                ConnectOutcome::Misconfigured {
                    message: e.to_string(),
                }
            }
            _ => ConnectOutcome::Unavailable {
                reason: e.reason(),
                message: e.to_string(),
            },
        }
    }

    /// Outages are not cached: the next request should try again.
    pub fn is_cacheable(&self) -> bool {
        !matches!(
            self,
            ConnectOutcome::Unavailable { .. } | ConnectOutcome::Misconfigured { .. }
        )
    }

    pub fn label(&self) -> &'static str {
        match self {
            ConnectOutcome::Validated(v) if v.error_count > 0 => "errors",
            ConnectOutcome::Validated(_) => "valid",
            ConnectOutcome::UnknownClass { .. } => "plugin_not_found",
            ConnectOutcome::Refused { .. } => "refused",
            ConnectOutcome::Misconfigured { .. } => "misconfigured",
            ConnectOutcome::Unavailable { reason, .. } => reason,
        }
    }
}

/// `/validate`, up to the point where Kafka Connect must be asked.
pub fn plan_validate(req: &Request, lookup: &dyn Lookup) -> Plan {
    if is_kind(req, "KafkaConnector") {
        plan_connector(req, lookup)
    } else if is_kind(req, "KafkaConnectCluster") {
        Plan::Done(validate_cluster(req, lookup))
    } else {
        Plan::Done(Decision::allow(Reason::NotApplicable))
    }
}

/// Objects the decision refers to that `lookup` does not have (yet): the server fetches these live before
/// deciding, because watch caches lag a little behind writes.
pub fn missing_refs(req: &Request, lookup: &dyn Lookup) -> Vec<ObjectRef> {
    let Some(obj) = req.object.as_ref() else {
        return Vec::new();
    };
    let ns = object_namespace(req, obj);
    let mut out = Vec::new();
    let mut want_cluster_refs = |cns: &str, spec: &KafkaConnectClusterSpec| {
        for n in shared::cluster::referenced_secrets(spec) {
            if lookup.secret(cns, &n).is_none() {
                out.push(ObjectRef::Secret(cns.to_string(), n));
            }
        }
        for n in shared::cluster::referenced_config_maps(spec) {
            if lookup.config_map(cns, &n).is_none() {
                out.push(ObjectRef::ConfigMap(cns.to_string(), n));
            }
        }
    };
    let spec = obj.data.get("spec");
    if is_kind(req, "KafkaConnector") {
        let Some(r) = spec
            .and_then(|s| s.get("clusterRef"))
            .and_then(|r| shared::crd::ClusterRef::deserialize(r).ok())
        else {
            return Vec::new();
        };
        let cns = r.namespace.clone().unwrap_or_else(|| ns.clone());
        match lookup.cluster(&cns, &r.name) {
            None => return vec![ObjectRef::Cluster(cns, r.name)],
            Some(c) => want_cluster_refs(&cns, &c.spec),
        }
    } else if is_kind(req, "KafkaConnectCluster")
        && let Some(spec) = spec.and_then(|s| KafkaConnectClusterSpec::deserialize(s).ok())
    {
        want_cluster_refs(&ns, &spec);
    }
    out
}

/// An object to fetch: (namespace, name).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ObjectRef {
    Cluster(String, String),
    Secret(String, String),
    ConfigMap(String, String),
}

fn object_namespace(req: &Request, obj: &DynamicObject) -> String {
    obj.metadata
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| req.namespace.clone())
        .unwrap_or_default()
}

/// Spec fields Kafka Connect's validation does not look at: pausing, stopping or changing the restart
/// policy must work while Connect is down.
const NOT_VALIDATED_FIELDS: [&str; 3] = ["state", "autoRestart", "deletionPolicy"];

fn validated_part(obj: &DynamicObject) -> Option<Value> {
    let mut spec = obj.data.get("spec")?.clone();
    if let Some(m) = spec.as_object_mut() {
        for f in NOT_VALIDATED_FIELDS {
            m.remove(f);
        }
    }
    Some(spec)
}

fn plan_connector(req: &Request, lookup: &dyn Lookup) -> Plan {
    if let Some(d) = quick_answer(req) {
        return Plan::Done(d);
    }
    if req.operation == Operation::Update
        && let (Some(old), Some(new)) = (req.old_object.as_ref(), req.object.as_ref())
        && validated_part(old).is_some()
        && validated_part(old) == validated_part(new)
        && new
            .data
            .get("spec")
            .is_some_and(|s| KafkaConnectorSpec::deserialize(s).is_ok())
    {
        return Plan::Done(Decision::allow(Reason::Unchanged));
    }
    let Some(obj) = req.object.as_ref() else {
        return Plan::Done(Decision::allow(Reason::NotApplicable));
    };
    let ns = object_namespace(req, obj);
    let obj_name = obj
        .metadata
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| req.name.clone());
    let Some(spec_value) = obj.data.get("spec") else {
        return Plan::Done(Decision::deny(
            Reason::InvalidObject,
            vec!["spec is missing".into()],
        ));
    };
    let spec = match KafkaConnectorSpec::deserialize(spec_value) {
        Ok(s) => s,
        Err(e) => {
            return Plan::Done(Decision::deny(
                Reason::InvalidObject,
                vec![format!("spec: {}", cut_long(&e.to_string()))],
            ));
        }
    };
    let mut metadata = obj.metadata.clone();
    metadata.namespace = Some(ns.clone());
    metadata.name = Some(obj_name.clone());
    let connector = KafkaConnector {
        metadata,
        spec,
        status: None,
    };
    let spec = &connector.spec;

    let mut problems: Vec<(Reason, String)> = Vec::new();
    let mut warnings = Vec::new();
    let strings = match string_config(&spec.config) {
        Ok(s) => Some(s),
        Err(bad) => {
            // Keys are cut: a megabyte-long key must not make a megabyte-long message.
            let mut lines: Vec<String> = bad
                .iter()
                .map(|(k, t)| format!("spec.config.{:?}: must be a string, got {t}", cut(k)))
                .collect();
            limit_lines(&mut lines, "keys with values that are not strings");
            problems.extend(lines.into_iter().map(|l| (Reason::InvalidConfig, l)));
            None
        }
    };
    let spec_map = spec_value.as_object().cloned().unwrap_or_default();
    for r in &RESERVED {
        let Some(v) = spec.config.get(r.key) else {
            continue;
        };
        match check_reserved(r, v, &spec_map) {
            ReservedCheck::Duplicate => warnings.push(format!(
                "spec.config.{:?} repeats spec.{}; remove it from spec.config",
                r.key, r.field
            )),
            ReservedCheck::Move(_) => problems.push((
                Reason::ReservedKeyConflict,
                format!("spec.config.{:?} belongs in spec.{}", r.key, r.field),
            )),
            ReservedCheck::Conflict(line) => problems.push((Reason::ReservedKeyConflict, line)),
        }
    }
    if spec.class.trim().is_empty() {
        problems.push((
            Reason::InvalidConfig,
            "spec.class must name a connector class, e.g. FileStreamSource".into(),
        ));
    }
    if let Some(t) = spec.tasks_max.filter(|t| *t < 1) {
        problems.push((
            Reason::InvalidConfig,
            format!("spec.tasksMax must be at least 1, got {t}"),
        ));
    }
    let name = connector.connector_name();
    let name_ok = match check_connector_name(&name) {
        Ok(()) => true,
        Err(e) => {
            problems.push((Reason::InvalidConfig, cut_long(&e)));
            false
        }
    };
    if req.operation == Operation::Update
        && let Some(old) = req.old_object.as_ref()
        && let Some(old_spec) = old
            .data
            .get("spec")
            .and_then(|s| KafkaConnectorSpec::deserialize(s).ok())
    {
        let old_name = old_spec
            .name
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| old.metadata.name.clone().unwrap_or_default());
        if old_name != name {
            problems.push((
                Reason::InvalidConfig,
                format!(
                    "the connector name is immutable: it was {:?}, now {:?}",
                    cut(&old_name),
                    cut(&name)
                ),
            ));
        }
    }

    let cluster = ClusterId::of(&connector);
    // False when the namespace may not use the cluster (a name clash there is beside the point).
    let mut cluster_ok = false;
    let mut settings = None;
    // Why Kafka Connect cannot be asked yet (an object not there yet): admitted with this warning.
    let mut not_yet: Option<(Reason, String)> = None;
    match &cluster {
        ClusterId::Named {
            namespace: cns,
            name: cname,
        } => match lookup.cluster(cns, cname) {
            None => {
                cluster_ok = true;
                not_yet = Some((
                    Reason::ClusterNotFound,
                    missing_cluster_warning(cns, cname, &lookup.cluster_names(cns)),
                ));
            }
            Some(c) if !c.spec.allows_namespace(cns, &ns) => problems.push((
                Reason::NamespaceNotAllowed,
                format!(
                    "{cluster} does not allow connectors from namespace {ns:?}; add it to the cluster's spec.allowedNamespaces"
                ),
            )),
            Some(c) => {
                cluster_ok = true;
                let refs = check_cluster_refs(cns, cname, &c.spec, lookup);
                if !refs.problems.is_empty() {
                    problems.extend(
                        refs.problems
                            .into_iter()
                            .map(|l| (Reason::ClusterMisconfigured, l)),
                    );
                } else if !refs.missing.is_empty() {
                    not_yet = Some((
                        Reason::ReferenceNotFound,
                        format!(
                            "Kafka Connect validation skipped: {cluster} cannot reach Kafka Connect with its settings yet: {} not found; the controller validates the connector and reports it once {}",
                            refs.missing
                                .iter()
                                .map(|(field, what)| format!("{what} (its {field})"))
                                .collect::<Vec<_>>()
                                .join(", "),
                            if refs.missing.len() == 1 { "it exists" } else { "they exist" }
                        ),
                    ));
                } else {
                    match shared::cluster::resolve(
                        &cluster.label(),
                        &c.spec,
                        |n| lookup.secret(cns, n).map(|s| (*s).clone()),
                        |n| lookup.config_map(cns, n).map(|m| (*m).clone()),
                    ) {
                        Ok(s) => settings = Some(s),
                        Err(e) => problems.push((Reason::ClusterMisconfigured, e.to_string())),
                    }
                }
            }
        },
        ClusterId::Default => match lookup.default_cluster_url() {
            None => problems.push((
                Reason::ClusterNotFound,
                "spec.clusterRef is required: no default Kafka Connect cluster is configured (KAFKA_CONNECT_ADDR)".into(),
            )),
            Some(url) => match parse_base_url(url) {
                Ok(_) => {
                    cluster_ok = true;
                    settings = Some(ClientSettings::new(url));
                }
                Err(e) => problems.push((Reason::ClusterMisconfigured, e.to_string())),
            },
        },
    }
    if name_ok
        && cluster_ok
        && let Some(owner) = lookup.claimant(&cluster, &name, (&ns, &obj_name))
    {
        problems.push((
            Reason::NameConflict,
            format!(
                "connector name {:?} on {cluster} is already claimed by KafkaConnector {}/{}",
                cut(&name),
                owner.metadata.namespace.as_deref().unwrap_or_default(),
                owner.metadata.name.as_deref().unwrap_or_default()
            ),
        ));
    }

    if let Some((reason, _)) = problems.first() {
        let reason = *reason;
        let mut lines: Vec<String> = problems.into_iter().map(|(_, l)| l).collect();
        // Non-string values were already summarised; this bounds the rest (one line of slack for that summary).
        limit_lines_to(&mut lines, MAX_LINES + 1, "problems");
        return Plan::Done(Decision::deny(reason, lines).with_warnings(warnings));
    }
    if let Some((reason, warning)) = not_yet {
        warnings.push(warning);
        return Plan::Done(Decision::allow(reason).with_warnings(warnings));
    }
    let (Some(strings), Some(settings)) = (strings, settings) else {
        // Unreachable: each None above recorded a problem. Deny rather than trust that.
        return Plan::Done(Decision::deny(
            Reason::InvalidConfig,
            vec!["internal error: incomplete checks".into()],
        ));
    };
    let config = effective_config(&name, &spec.class, spec.tasks_max, &strings);
    Plan::Connect(Box::new(ConnectCheck {
        cluster,
        settings,
        class: spec.class.clone(),
        config,
        warnings,
    }))
}

/// `/validate` after Kafka Connect answered (or failed to).
pub fn finish(check: &ConnectCheck, outcome: &ConnectOutcome, policy: FailurePolicy) -> Decision {
    let cluster = &check.cluster;
    let class = &check.class;
    let password_keys = match outcome {
        ConnectOutcome::Validated(v) => v.password_keys(),
        _ => BTreeSet::new(),
    };
    let redactor = check.redactor(&password_keys);
    let mut warnings = check.warnings.clone();
    let decision = match outcome {
        ConnectOutcome::Validated(v) => {
            warnings.extend(config_warnings(check, v, &password_keys));
            let errors = v.errors();
            if errors.is_empty() && v.error_count == 0 {
                Decision::allow(Reason::Valid)
            } else {
                let mut lines = vec![format!(
                    "Kafka Connect ({cluster}) rejected the config of {class}:"
                )];
                lines.extend(errors.iter().map(|(k, e)| format!("{k}: {e}")));
                if errors.is_empty() {
                    lines.push(format!(
                        "{} error(s) without a key were reported",
                        v.error_count
                    ));
                }
                limit_lines(&mut lines, "errors");
                Decision::deny(Reason::ConnectRejected, lines)
            }
        }
        ConnectOutcome::UnknownClass { installed } => {
            let mut first = format!("connector class {:?} is not installed on {cluster}", cut(class));
            if let Some(c) = closest_class(class, installed.iter().map(String::as_str)) {
                let _ = write!(first, "; did you mean {c:?}?");
            }
            let list = if installed.is_empty() {
                "(none)".to_string()
            } else {
                installed.join(", ")
            };
            Decision::deny(
                Reason::PluginNotFound,
                vec![first, format!("installed connector classes: {list}")],
            )
        }
        ConnectOutcome::Refused { message } => Decision::deny(
            Reason::ConnectRejected,
            vec![format!(
                "Kafka Connect ({cluster}) refused to validate the config of {class}: {message}"
            )],
        ),
        ConnectOutcome::Misconfigured { message } => Decision::deny(
            Reason::ClusterMisconfigured,
            vec![format!(
                "cannot validate the config on {cluster}: {message}; fix the KafkaConnectCluster's TLS settings"
            )],
        ),
        ConnectOutcome::Unavailable { message, .. } => match policy {
            FailurePolicy::Closed => Decision::deny(
                Reason::ConnectUnavailable,
                vec![
                    format!("cannot validate the config on {cluster}: {message}"),
                    "the webhook fails closed while Kafka Connect is unavailable; try again once it is reachable".into(),
                ],
            ),
            FailurePolicy::Open => {
                warnings.push(format!(
                    "admitted without Kafka Connect validation (fail-open): cannot validate the config on {cluster}: {message}"
                ));
                Decision::allow(Reason::ConnectUnavailable)
            }
        },
    };
    let mut d = decision.with_warnings(warnings);
    // Connect's texts can echo any value: nothing leaves without passing the redactor.
    for l in d.lines.iter_mut().chain(d.warnings.iter_mut()) {
        *l = redactor.redact(l);
    }
    d
}

/// Typo suspects and PASSWORD-type literals.
fn config_warnings(
    check: &ConnectCheck,
    v: &ValidateResponse,
    password_keys: &BTreeSet<String>,
) -> Vec<String> {
    let class = &check.class;
    let defined: HashSet<&str> = v.defined_keys().collect();
    let reserved = [RESERVED_NAME, RESERVED_CLASS, RESERVED_TASKS_MAX];
    let unknown: Vec<&str> = check
        .config
        .keys()
        .map(String::as_str)
        .filter(|k| {
            !defined.contains(k)
                && !is_pass_through(k)
                && !reserved.contains(k)
                && !MIRROR_PASS_THROUGH_PREFIXES
                    .iter()
                    .any(|p| k.starts_with(p))
        })
        .collect();
    let mut out = Vec::new();
    for k in unknown.iter().take(MAX_UNKNOWN_KEY_WARNINGS) {
        // Very long keys are not typos of a real key; skip the comparison (it costs their length).
        let suggestion = (k.len() <= 256)
            .then(|| closest(k, defined.iter().copied()))
            .flatten();
        out.push(match suggestion {
            Some(s) => format!(
                "spec.config.{:?} is not a setting of {class}; did you mean {s:?}? (Kafka Connect ignores unknown keys)",
                cut(k)
            ),
            None => format!(
                "spec.config.{:?} is not a setting of {class} (Kafka Connect ignores unknown keys)",
                cut(k)
            ),
        });
    }
    if unknown.len() > MAX_UNKNOWN_KEY_WARNINGS {
        out.push(format!(
            "… and {} more keys that are not settings of {class}",
            unknown.len() - MAX_UNKNOWN_KEY_WARNINGS
        ));
    }
    for k in password_keys {
        if let Some(value) = check.config.get(k)
            && !value.is_empty()
            && value != "[hidden]"
            && !is_config_reference(value)
        {
            out.push(format!(
                "spec.config.{k:?} is a PASSWORD-type setting given as a literal value; reference it instead \
                 (e.g. ${{file:/mnt/secrets/connector.properties:{k}}}) so the secret stays out of Git and the API server"
            ));
        }
    }
    out
}

/// `KafkaConnectCluster`: URL form; referenced Secrets and ConfigMaps that exist hold what they should (keys,
/// a PEM CA); missing ones and risky settings are warned about. A Secret that does not exist yet is ordering,
/// not an error: GitOps engines dry-run a whole folder first, and sealed or external secrets come later.
pub fn validate_cluster(req: &Request, lookup: &dyn Lookup) -> Decision {
    if let Some(d) = quick_answer(req) {
        return d;
    }
    let Some(obj) = req.object.as_ref() else {
        return Decision::allow(Reason::NotApplicable);
    };
    let ns = object_namespace(req, obj);
    let name = obj
        .metadata
        .name
        .clone()
        .unwrap_or_else(|| req.name.clone());
    let Some(spec_value) = obj.data.get("spec") else {
        return Decision::deny(Reason::InvalidObject, vec!["spec is missing".into()]);
    };
    let spec = match KafkaConnectClusterSpec::deserialize(spec_value) {
        Ok(s) => s,
        Err(e) => {
            return Decision::deny(
                Reason::InvalidObject,
                vec![format!("spec: {}", cut_long(&e.to_string()))],
            );
        }
    };
    let mut warnings = shared::cluster::warnings(&spec);
    if let Err(e) = parse_base_url(&spec.url) {
        let detail = match &e {
            shared::Error::ClientConfig(m) => m.clone(),
            other => other.to_string(),
        };
        return Decision::deny(
            Reason::ClusterMisconfigured,
            vec![format!("spec.url: {}", cut_long(&detail))],
        )
        .with_warnings(warnings);
    }
    let refs = check_cluster_refs(&ns, &name, &spec, lookup);
    if !refs.problems.is_empty() {
        return Decision::deny(Reason::ClusterMisconfigured, refs.problems).with_warnings(warnings);
    }
    if refs.missing.is_empty() {
        return Decision::allow(Reason::Valid).with_warnings(warnings);
    }
    warnings.extend(refs.missing.iter().map(|(field, what)| {
        format!(
            "{field}: {what} not found; admitted, the controller reports the cluster not Ready until it exists"
        )
    }));
    Decision::allow(Reason::ReferenceNotFound).with_warnings(warnings)
}

/// The warning for a connector whose KafkaConnectCluster does not exist (yet), with the closest existing
/// name so that a typo shows at once.
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

/// What the Secrets and ConfigMaps a KafkaConnectCluster references say about it.
#[derive(Debug, Default)]
struct RefCheck {
    /// References to objects that do not exist (yet): (field, object), e.g.
    /// (`spec.authentication.secretRef`, `Secret team-a/creds`).
    missing: Vec<(&'static str, String)>,
    /// Objects that exist but do not hold what they should.
    problems: Vec<String>,
}

/// One Secret or ConfigMap a cluster references, and what it must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefPart {
    Auth,
    CaSecret,
    CaConfigMap,
    ClientCert,
}

/// The key of a CA bundle when `key` is not given (as `shared::cluster::resolve` reads it).
const DEFAULT_CA_KEY: &str = "ca.crt";

/// The spec with only the reference `part`: resolving it checks that one object's keys, whatever the others.
fn only_ref(spec: &KafkaConnectClusterSpec, part: RefPart) -> KafkaConnectClusterSpec {
    let mut s = spec.clone();
    if part != RefPart::Auth {
        s.authentication = None;
    }
    s.tls = spec.tls.as_ref().map(|t| ClusterTls {
        ca_secret_ref: t
            .ca_secret_ref
            .clone()
            .filter(|_| part == RefPart::CaSecret),
        ca_config_map_ref: t
            .ca_config_map_ref
            .clone()
            .filter(|_| part == RefPart::CaConfigMap),
        client_cert_secret_ref: t
            .client_cert_secret_ref
            .clone()
            .filter(|_| part == RefPart::ClientCert),
        insecure_skip_verify: t.insecure_skip_verify,
    });
    s
}

/// Checks each Secret and ConfigMap the cluster `ns/name` references on its own: missing ones are listed,
/// present ones must have their keys, and CA bundles and client certificates must be PEM that TLS accepts.
/// The spec's URL must parse (callers check it first).
fn check_cluster_refs(
    ns: &str,
    name: &str,
    spec: &KafkaConnectClusterSpec,
    lookup: &dyn Lookup,
) -> RefCheck {
    let label = format!("{ns}/{name}");
    let mut out = RefCheck::default();
    if let Err(e) = parse_base_url(&spec.url) {
        out.problems
            .push(cut_long(&format!("KafkaConnectCluster {label}: {e}")));
        return out;
    }
    let mut refs: Vec<(RefPart, &'static str, &str, &str, Option<&str>)> = Vec::new();
    if let Some(a) = &spec.authentication {
        refs.push((
            RefPart::Auth,
            "spec.authentication.secretRef",
            "Secret",
            &a.secret_ref.name,
            None,
        ));
    }
    if let Some(t) = &spec.tls {
        if let Some(r) = &t.ca_secret_ref {
            let key = r.key.as_deref().unwrap_or(DEFAULT_CA_KEY);
            refs.push((
                RefPart::CaSecret,
                "spec.tls.caSecretRef",
                "Secret",
                &r.name,
                Some(key),
            ));
        }
        if let Some(r) = &t.ca_config_map_ref {
            let key = r.key.as_deref().unwrap_or(DEFAULT_CA_KEY);
            refs.push((
                RefPart::CaConfigMap,
                "spec.tls.caConfigMapRef",
                "ConfigMap",
                &r.name,
                Some(key),
            ));
        }
        if let Some(r) = &t.client_cert_secret_ref {
            refs.push((
                RefPart::ClientCert,
                "spec.tls.clientCertSecretRef",
                "Secret",
                &r.name,
                None,
            ));
        }
    }
    for (part, field, kind, obj, key) in refs {
        let found = if kind == "Secret" {
            lookup.secret(ns, obj).is_some()
        } else {
            lookup.config_map(ns, obj).is_some()
        };
        if !found {
            out.missing
                .push((field, format!("{kind} {ns}/{}", cut(obj))));
            continue;
        }
        let settings = match shared::cluster::resolve(
            &label,
            &only_ref(spec, part),
            |n| lookup.secret(ns, n).map(|s| (*s).clone()),
            |n| lookup.config_map(ns, n).map(|m| (*m).clone()),
        ) {
            Ok(s) => s,
            Err(e) => {
                out.problems.push(cut_long(&e.to_string()));
                continue;
            }
        };
        // Worded as the controller words the same problems in its conditions.
        let at = |k: &str| {
            format!(
                "KafkaConnectCluster {label}: {kind} {ns}/{} key {k:?} ({field})",
                cut(obj)
            )
        };
        match part {
            RefPart::CaSecret | RefPart::CaConfigMap => {
                if let (Some(pem), Some(k)) = (&settings.ca_pem, key)
                    && let Some(why) = ca_bundle_problem(pem)
                {
                    out.problems.push(format!("{} {why}", at(k)));
                }
            }
            RefPart::ClientCert => {
                if let Some(pem) = &settings.client_cert_pem
                    && let Some(why) = match certificates(pem) {
                        None => Some(NOT_PEM),
                        Some(0) => Some(NO_CERTIFICATE),
                        Some(_) => None,
                    }
                {
                    out.problems.push(format!("{} {why}", at("tls.crt")));
                }
                if let Some(pem) = &settings.client_key_pem
                    && PrivateKeyDer::from_pem_slice(pem).is_err()
                {
                    out.problems.push(format!(
                        "{} holds no PEM private key (expected a \"-----BEGIN PRIVATE KEY-----\" block)",
                        at("tls.key")
                    ));
                }
            }
            RefPart::Auth => {}
        }
    }
    out
}

// Never the PEM parser's own text: it may quote the content (a private key, for the client certificate).
const NOT_PEM: &str = "is not valid PEM (a BEGIN/END line or the base64 between is broken)";
const NO_CERTIFICATE: &str =
    "holds no PEM certificate (expected \"-----BEGIN CERTIFICATE-----\" blocks)";

/// How many PEM certificates `pem` holds, or `None` when it is not valid PEM.
fn certificates(pem: &[u8]) -> Option<usize> {
    CertificateDer::pem_slice_iter(pem)
        .try_fold(0, |n, c| c.map(|_| n + 1))
        .ok()
}

/// Why a CA bundle cannot be used to verify Kafka Connect's certificate, if it cannot: no PEM certificate in
/// it (a placeholder, the wrong key), broken PEM, or a certificate TLS refuses as a trust anchor.
fn ca_bundle_problem(pem: &[u8]) -> Option<String> {
    let mut roots = rustls::RootCertStore::empty();
    let mut count = 0;
    for (i, cert) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let Ok(cert) = cert else {
            return Some(NOT_PEM.into());
        };
        count += 1;
        if let Err(e) = roots.add(cert) {
            return Some(format!(
                "holds a certificate (number {}) that is not a valid X.509 CA certificate: {}",
                i + 1,
                cut(&e.to_string())
            ));
        }
    }
    (count == 0).then(|| NO_CERTIFICATE.into())
}

// ---------------------------------------------------------------------------------------------------------
// Small text helpers
// ---------------------------------------------------------------------------------------------------------

/// Cuts a quoted key or value so one absurd input cannot make a message absurd.
fn cut(s: &str) -> String {
    cut_to(s, MAX_QUOTED)
}

fn cut_long(s: &str) -> String {
    cut_to(s, 500)
}

fn cut_to(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}

fn limit_lines(lines: &mut Vec<String>, what: &str) {
    limit_lines_to(lines, MAX_LINES, what)
}

fn limit_lines_to(lines: &mut Vec<String>, max: usize, what: &str) {
    if lines.len() > max {
        let more = lines.len() - max;
        lines.truncate(max);
        lines.push(format!("… and {more} more {what}"));
    }
}
