//! Policies over connectors, in one home for both binaries: the view of a connector that a policy's JSON
//! Schema sees, compiling a schema once per policy generation, the pure evaluation of a connector against the
//! compiled policies that apply to it, with violations in the user's terms and no secret value in them, and
//! (`watch`) the policies kept compiled from a watch. The `KafkaConnectorPolicy` type is defined with the
//! other CRDs in `crate::crd`. The webhook denies or warns at admission with it; the controller reports
//! existing connectors with it.

mod render;
mod view;
mod watch;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::core::{Selector, SelectorExt};
use parking_lot::Mutex;
use serde_json::Value;

pub use render::{MAX_VIOLATIONS_PER_POLICY, Violation};
pub use view::{ConnectorView, plugin_of};
pub use watch::PolicyWatch;

use crate::crd::{
    KafkaConnectCluster, KafkaConnector, KafkaConnectorPolicy, KafkaConnectorPolicySpec,
    PolicyAction,
};

/// The placeholders a message may use.
pub const PLACEHOLDERS: [&str; 6] = ["policy", "name", "namespace", "class", "type", "cluster"];

/// Most connectors a policy's status lists by name.
pub const MAX_LISTED: usize = 20;

/// One policy, ready to evaluate: its selectors parsed and its schema compiled.
pub struct Compiled {
    pub name: String,
    pub uid: String,
    pub generation: i64,
    pub action: PolicyAction,
    pub message: Option<String>,
    namespaces: Option<Selector>,
    clusters: Option<Selector>,
    classes: Vec<String>,
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("name", &self.name)
            .field("generation", &self.generation)
            .field("action", &self.action)
            .finish_non_exhaustive()
    }
}

/// Compiles a policy's schema (draft 2020-12) and selectors. The errors are one line each, in the user's
/// terms (`spec.schema…: <the compiler's message>`), as a denial of the policy shows them.
pub fn compile(policy: &KafkaConnectorPolicy) -> Result<Compiled, Vec<String>> {
    let spec = &policy.spec;
    let mut errors = Vec::new();
    let validator = match compile_schema(&spec.schema) {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let mut selector = |field: &str, s: &Option<LabelSelector>| -> Option<Selector> {
        let s = s.clone()?;
        match Selector::try_from(s) {
            Ok(s) => Some(s),
            Err(e) => {
                errors.push(format!("spec.match.{field}: {}", e.0));
                None
            }
        }
    };
    let namespaces = selector("namespaceSelector", &spec.matches.namespace_selector);
    let clusters = selector("clusterSelector", &spec.matches.cluster_selector);
    for (i, c) in spec.matches.classes.iter().enumerate() {
        if c.trim().is_empty() {
            errors.push(format!("spec.match.classes[{i}]: must not be empty"));
        }
    }
    match validator {
        Some(validator) if errors.is_empty() => Ok(Compiled {
            name: policy.metadata.name.clone().unwrap_or_default(),
            uid: policy.metadata.uid.clone().unwrap_or_default(),
            generation: policy.metadata.generation.unwrap_or_default(),
            action: spec.action,
            message: spec.message.clone(),
            namespaces,
            clusters,
            classes: spec.matches.classes.clone(),
            validator,
        }),
        _ => Err(errors),
    }
}

/// Compiles one schema as draft 2020-12 (whatever its `$schema` says), checked against the meta-schema.
/// References are resolved inside the document only: nothing is fetched. Patterns use a linear-time regex
/// engine, so no policy can make admission backtrack for long.
pub fn compile_schema(schema: &Value) -> Result<jsonschema::Validator, String> {
    if !schema.is_object() && !schema.is_boolean() {
        return Err("spec.schema: must be a JSON Schema object".into());
    }
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .with_pattern_options(jsonschema::PatternOptions::regex())
        .build(schema)
        .map_err(|e| {
            let at = render::schema_path(e.instance_path().as_str());
            format!("spec.schema{at}: {e}")
        })
}

/// Warnings about a policy that compiles: placeholders the message uses that do not exist.
pub fn warnings(spec: &KafkaConnectorPolicySpec) -> Vec<String> {
    let Some(m) = spec.message.as_deref() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut rest = m;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 1..start + len];
        if !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric())
            && !PLACEHOLDERS.contains(&name)
        {
            out.push(format!(
                "spec.message: {{{name}}} is not a placeholder and stays as written (known: {})",
                PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ")
            ));
        }
        rest = &rest[start + len + 1..];
    }
    out
}

/// What a connector is judged with besides itself: its namespace's labels and its target cluster (for
/// the cluster's labels and the plugin type).
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    pub namespace_labels: Option<&'a BTreeMap<String, String>>,
    pub cluster: Option<&'a KafkaConnectCluster>,
}

fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for p in middle {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

impl Compiled {
    /// Whether this policy applies to the connector `view` describes.
    pub fn applies_to(&self, view: &ConnectorView, cx: Context<'_>) -> bool {
        let empty = BTreeMap::new();
        if let Some(s) = &self.namespaces
            && !s.matches(cx.namespace_labels.unwrap_or(&empty))
        {
            return false;
        }
        if let Some(s) = &self.clusters {
            let labels = cx.cluster.and_then(|c| c.metadata.labels.as_ref());
            if !s.matches(labels.unwrap_or(&empty)) {
                return false;
            }
        }
        self.classes.is_empty()
            || self.classes.iter().any(|p| {
                glob(p, &view.class) || view.resolved_class.as_deref().is_some_and(|c| glob(p, c))
            })
    }

    /// The violations of this policy by `view` (which it applies to), worst first as the schema reports
    /// them, at most [`MAX_VIOLATIONS_PER_POLICY`].
    pub fn violations(&self, view: &ConnectorView) -> Vec<Violation> {
        let json = view.json();
        if self.validator.is_valid(json) {
            return Vec::new();
        }
        let message = self.message.as_deref().map(|m| view.fill(m, &self.name));
        self.validator
            .iter_errors(json)
            .take(MAX_VIOLATIONS_PER_POLICY)
            .map(|e| render::violation(self, view, &e, message.clone()))
            .collect()
    }
}

/// Evaluates `view` against every policy of `policies` that applies to it: the pure decision both binaries
/// share. Violations come grouped by policy, in the order of `policies`.
pub fn evaluate(policies: &[Arc<Compiled>], view: &ConnectorView, cx: Context<'_>) -> Evaluation {
    let mut out = Evaluation::default();
    for p in policies {
        if !p.applies_to(view, cx) {
            continue;
        }
        out.matched.push(p.name.clone());
        out.violations.extend(p.violations(view));
    }
    out
}

/// The outcome for one connector.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    /// The policies that apply, by name.
    pub matched: Vec<String>,
    pub violations: Vec<Violation>,
}

impl Evaluation {
    pub fn denials(&self) -> impl Iterator<Item = &Violation> {
        self.violations
            .iter()
            .filter(|v| v.action == PolicyAction::Deny)
    }
    pub fn warnings(&self) -> impl Iterator<Item = &Violation> {
        self.violations
            .iter()
            .filter(|v| v.action == PolicyAction::Warn)
    }
}

/// Most decisions a [`PolicySet`] remembers; past that it starts again (a burst of distinct connectors is
/// the only way to get there).
const MEMO_ENTRIES: usize = 4096;

/// The compiled policies at one set of generations, sorted by name, with the decisions already taken for
/// them: the same connector view in the same context is not evaluated twice. A policy change makes a new
/// set (reusing the compiled policies that did not change), so a remembered decision never outlives the
/// policies it was taken with.
#[derive(Default)]
pub struct PolicySet {
    policies: Vec<Arc<Compiled>>,
    /// Policies whose schema does not compile (applied before the webhook checked them): name → errors.
    pub broken: BTreeMap<String, Vec<String>>,
    memo: Mutex<HashMap<u64, Arc<Evaluation>>>,
}

impl std::fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicySet")
            .field("policies", &self.policies)
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl PolicySet {
    pub fn new(mut policies: Vec<Arc<Compiled>>, broken: BTreeMap<String, Vec<String>>) -> Self {
        policies.sort_by(|a, b| a.name.cmp(&b.name));
        PolicySet {
            policies,
            broken,
            memo: Mutex::new(HashMap::new()),
        }
    }

    pub fn policies(&self) -> &[Arc<Compiled>] {
        &self.policies
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// `(uid, generation)` of each policy: equal keys, equal sets.
    pub fn generations(&self) -> Vec<(String, i64)> {
        self.policies
            .iter()
            .map(|p| (p.uid.clone(), p.generation))
            .collect()
    }

    /// [`evaluate`], remembered by a keyed hash of the view and its context (values never leave the
    /// process, and no value sits in a key).
    pub fn evaluate(&self, view: &ConnectorView, cx: Context<'_>) -> Arc<Evaluation> {
        if self.policies.is_empty() {
            return Arc::new(Evaluation::default());
        }
        let key = crate::redact::keyed_hash(&(
            view.digest_input(),
            cx.namespace_labels,
            cx.cluster.and_then(|c| c.metadata.labels.as_ref()),
        ));
        if let Some(e) = self.memo.lock().get(&key) {
            return e.clone();
        }
        let e = Arc::new(evaluate(&self.policies, view, cx));
        let mut memo = self.memo.lock();
        if memo.len() >= MEMO_ENTRIES {
            memo.clear();
        }
        memo.insert(key, e.clone());
        e
    }

    /// The connector's evaluation (a convenience over [`ConnectorView::of`] and [`PolicySet::evaluate`]).
    pub fn evaluate_connector(&self, c: &KafkaConnector, cx: Context<'_>) -> Arc<Evaluation> {
        if self.policies.is_empty() {
            return Arc::new(Evaluation::default());
        }
        self.evaluate(&ConnectorView::of(c, cx.cluster), cx)
    }
}

/// Compiled policies by `(uid, generation)`: a set is rebuilt from a watch cache's current policies, each
/// compiled only when its generation is new.
#[derive(Default)]
pub struct Compiler {
    compiled: HashMap<(String, i64), Result<Arc<Compiled>, Vec<String>>>,
    current: Arc<PolicySet>,
    /// How many schemas were compiled (for tests and metrics).
    pub compilations: u64,
}

impl Compiler {
    /// The set for `policies`, the same `Arc` while no policy's generation changed.
    pub fn set<'a>(
        &mut self,
        policies: impl IntoIterator<Item = &'a KafkaConnectorPolicy>,
    ) -> Arc<PolicySet> {
        let mut ok = Vec::new();
        let mut broken = BTreeMap::new();
        let mut seen = Vec::new();
        for p in policies {
            let key = (
                p.metadata.uid.clone().unwrap_or_default(),
                p.metadata.generation.unwrap_or_default(),
            );
            let entry = self.compiled.entry(key.clone()).or_insert_with(|| {
                self.compilations += 1;
                compile(p).map(Arc::new)
            });
            match entry {
                Ok(c) => ok.push(c.clone()),
                Err(e) => {
                    broken.insert(p.metadata.name.clone().unwrap_or_default(), e.clone());
                }
            }
            seen.push(key);
        }
        self.compiled.retain(|k, _| seen.contains(k));
        let set = PolicySet::new(ok, broken);
        if set.generations() != self.current.generations() || set.broken != self.current.broken {
            self.current = Arc::new(set);
        }
        self.current.clone()
    }
}

#[cfg(test)]
mod tests;
