//! KafkaConnectorPolicies over the connectors that already exist. Admission keeps new violations out; a
//! policy created (or tightened) later finds connectors that violate it. Those are not disrupted: they keep
//! running and keep `Ready`; they get a `PolicyViolation` condition and an event, and the policy's status
//! counts and lists them. The evaluation is `shared::policy`'s, the same the webhook denies with.
//!
//! One sweep (on a policy or namespace change, else every few seconds) evaluates every cached connector:
//! it writes each policy's status and queues the connectors whose condition is out of date. Each
//! connector's own reconcile writes its condition, so the connector status keeps a single writer.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use serde_json::json;
use shared::crd::{Condition, KafkaConnector, KafkaConnectorPolicy, KafkaConnectorPolicyStatus};
use shared::policy::{Context, Evaluation, MAX_LISTED, PolicyWatch};
use shared::target::ClusterId;

use crate::error::Result;
use crate::kube_writes::KubeWrites;
use crate::watched::Watched;

pub(crate) const POLICY_VIOLATION: &str = "PolicyViolation";

/// Most violation lines a condition and its event carry.
const CONDITION_LINES: usize = 10;
/// A sweep runs at least this often (cluster plugin lists and new connectors change what policies see).
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// The compiled policies and namespace labels (`shared::policy::PolicyWatch`), with the connector caches
/// and the Kubernetes writer the sweep and the `PolicyViolation` condition use.
pub(crate) struct Policies {
    watch: Arc<PolicyWatch>,
    watched: Watched,
    writes: Arc<KubeWrites>,
    /// Whether the sweep writes the policies' status (only a controller that sees every connector).
    write_status: bool,
}

impl Policies {
    /// Starts the watches; the returned tasks run them (aborted with the leadership term).
    pub(crate) fn start(
        kube: &kube::Client,
        watched: Watched,
        writes: Arc<KubeWrites>,
        write_status: bool,
    ) -> (Arc<Policies>, Vec<tokio::task::JoinHandle<()>>) {
        let (watch, tasks) = PolicyWatch::start(kube);
        let me = Policies {
            watch,
            watched,
            writes,
            write_status,
        };
        (Arc::new(me), tasks)
    }

    /// Whether the policies have been listed: before that, no condition is written or removed.
    pub(crate) fn synced(&self) -> bool {
        self.watch.synced()
    }

    /// The evaluation of `c` against the current policies.
    pub(crate) fn evaluate(&self, c: &KafkaConnector) -> Arc<Evaluation> {
        let set = self.watch.set();
        let labels = self
            .watch
            .namespace_labels(&c.namespace().unwrap_or_default());
        let cluster = self.watched.cluster(&ClusterId::of_connector(c));
        set.evaluate_connector(
            c,
            Context {
                namespace_labels: labels.as_ref(),
                cluster: cluster.as_deref(),
            },
        )
    }
}

/// The `PolicyViolation` condition `eval` calls for: none when no policy is violated.
pub(crate) fn condition(
    prev: &[Condition],
    eval: &Evaluation,
    generation: Option<i64>,
    now: Timestamp,
) -> Option<Condition> {
    if eval.violations.is_empty() {
        return None;
    }
    let reason = if eval.denials().next().is_some() {
        "DenyPolicy"
    } else {
        "WarnPolicy"
    };
    let mut lines: Vec<String> = eval
        .violations
        .iter()
        .take(CONDITION_LINES)
        .map(|v| v.line())
        .collect();
    if eval.violations.len() > CONDITION_LINES {
        lines.push(format!(
            "… and {} more",
            eval.violations.len() - CONDITION_LINES
        ));
    }
    Some(crate::status::condition(
        prev,
        POLICY_VIOLATION,
        "True",
        reason,
        &lines.join("\n"),
        generation,
        now,
    ))
}

/// Whether the stored condition says what `want` says (times and generations aside).
fn same(stored: Option<&Condition>, want: Option<&Condition>) -> bool {
    match (stored, want) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a.status == b.status && a.reason == b.reason && a.message == b.message
        }
        _ => false,
    }
}

fn stored(c: &KafkaConnector) -> Option<&Condition> {
    c.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|x| x.kind == POLICY_VIOLATION))
}

/// Brings the connector's `PolicyViolation` condition up to date, with an event when it appears, changes or
/// goes. Returns whether it wrote (the write's watch event brings the connector back for the rest of its
/// reconcile, with the status as written).
pub(crate) async fn sync_condition(obj: &KafkaConnector, policies: &Policies) -> Result<bool> {
    if !policies.synced() {
        return Ok(false);
    }
    let eval = policies.evaluate(obj);
    let prev: &[Condition] = obj
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let want = condition(prev, &eval, obj.meta().generation, Timestamp::now());
    let was = stored(obj);
    if same(was, want.as_ref()) {
        return Ok(false);
    }
    let mut conditions: Vec<Condition> = prev
        .iter()
        .filter(|c| c.kind != POLICY_VIOLATION)
        .cloned()
        .collect();
    conditions.extend(want.clone());
    policies
        .writes
        .patch_status(obj, json!({ "conditions": conditions }), false)
        .await?;
    match want {
        Some(c) => {
            let note = c.message.unwrap_or_default();
            policies
                .writes
                .event(obj, true, POLICY_VIOLATION, "Reconcile", note)
                .await
        }
        None => {
            policies
                .writes
                .event(
                    obj,
                    false,
                    "PolicySatisfied",
                    "Reconcile",
                    "the connector satisfies every KafkaConnectorPolicy that applies to it".into(),
                )
                .await
        }
    }
    Ok(true)
}

/// The status of each policy after a sweep: `(matched, violating)` by policy name.
pub(crate) fn statuses(
    policies: &[Arc<KafkaConnectorPolicy>],
    found: &HashMap<String, (u32, BTreeSet<String>)>,
) -> Vec<(Arc<KafkaConnectorPolicy>, KafkaConnectorPolicyStatus)> {
    policies
        .iter()
        .map(|p| {
            let name = p.name_any();
            let (matched, violating) = found.get(&name).cloned().unwrap_or_default();
            let status = KafkaConnectorPolicyStatus {
                observed_generation: p.metadata.generation,
                matching_connectors: Some(matched),
                violating_connectors: Some(u32::try_from(violating.len()).unwrap_or(u32::MAX)),
                violating: violating.into_iter().take(MAX_LISTED).collect(),
            };
            (p.clone(), status)
        })
        .collect()
}

/// Sweeps until the leadership term ends.
pub(crate) async fn sweep_forever(policies: Arc<Policies>) {
    loop {
        let _ = tokio::time::timeout(SWEEP_EVERY, policies.watch.changed()).await;
        // Let a burst of changes (kubectl apply of a folder) settle into one sweep.
        tokio::time::sleep(Duration::from_millis(300)).await;
        if policies.synced() {
            sweep(&policies).await;
        }
    }
}

async fn sweep(p: &Policies) {
    let mut found: HashMap<String, (u32, BTreeSet<String>)> = HashMap::new();
    for c in p.watched.connectors.state() {
        if c.meta().deletion_timestamp.is_some() {
            continue;
        }
        let eval = p.evaluate(&c);
        let key = format!("{}/{}", c.namespace().unwrap_or_default(), c.name_any());
        for name in &eval.matched {
            found.entry(name.clone()).or_default().0 += 1;
        }
        for v in &eval.violations {
            found
                .entry(v.policy.clone())
                .or_default()
                .1
                .insert(key.clone());
        }
        let prev: &[Condition] = c
            .status
            .as_ref()
            .map(|s| s.conditions.as_slice())
            .unwrap_or_default();
        let want = condition(prev, &eval, c.meta().generation, Timestamp::now());
        if !same(stored(&c), want.as_ref()) {
            p.watched.reconcile_connector(ObjectRef::from_obj(&*c));
        }
    }
    if !p.write_status {
        return;
    }
    let policies = p.watch.policies();
    for (policy, status) in statuses(&policies, &found) {
        if policy.status.as_ref() == Some(&status) {
            continue;
        }
        if let Err(e) = p.writes.write_policy_status(&policy, &status).await {
            tracing::warn!(policy = %policy.name_any(), error = %e, "writing policy status");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use shared::policy::{ConnectorView, compile};

    fn eval(schema: serde_json::Value, action: &str, tasks: i32) -> Evaluation {
        let p = KafkaConnectorPolicy::new(
            "max-tasks",
            serde_json::from_value(
                json!({"schema": schema, "action": action, "message": "at most 8"}),
            )
            .unwrap(),
        );
        let compiled = Arc::new(compile(&p).unwrap());
        let mut c = KafkaConnector::new(
            "orders",
            serde_json::from_value(json!({"class": "FileStreamSink", "tasksMax": tasks})).unwrap(),
        );
        c.metadata.namespace = Some("team-a".into());
        shared::policy::evaluate(
            &[compiled],
            &ConnectorView::of(&c, None),
            Context::default(),
        )
    }

    #[test]
    fn a_violation_is_a_condition_of_its_own_that_keeps_its_transition_time() {
        let now = Timestamp::now();
        let schema = json!({"properties": {"tasksMax": {"maximum": 8}}});
        let c = condition(&[], &eval(schema.clone(), "Deny", 16), Some(3), now).unwrap();
        assert_eq!(c.kind, "PolicyViolation");
        assert_eq!(c.status, "True");
        assert_eq!(c.reason.as_deref(), Some("DenyPolicy"));
        assert_eq!(
            c.message.as_deref(),
            Some(
                "policy max-tasks: spec.tasksMax: 16 is greater than the maximum of 8 — at most 8"
            )
        );
        let later = now + jiff::SignedDuration::from_mins(5);
        let again = condition(
            std::slice::from_ref(&c),
            &eval(schema.clone(), "Deny", 16),
            Some(4),
            later,
        )
        .unwrap();
        assert_eq!(again.last_transition_time, c.last_transition_time);
        assert!(same(Some(&c), Some(&again)));
        let warn = condition(&[], &eval(schema.clone(), "Warn", 16), None, now).unwrap();
        assert_eq!(warn.reason.as_deref(), Some("WarnPolicy"));
        assert!(condition(&[], &eval(schema, "Deny", 8), None, now).is_none());
    }

    #[test]
    fn policy_status_counts_and_lists_a_bounded_number() {
        let mut p =
            KafkaConnectorPolicy::new("p", serde_json::from_value(json!({"schema": {}})).unwrap());
        p.metadata.generation = Some(2);
        let violating: BTreeSet<String> = (0..30).map(|i| format!("ns/c{i:02}")).collect();
        let found = HashMap::from([("p".to_string(), (40, violating))]);
        let out = statuses(&[Arc::new(p.clone())], &found);
        let s = &out[0].1;
        assert_eq!(s.observed_generation, Some(2));
        assert_eq!(s.matching_connectors, Some(40));
        assert_eq!(s.violating_connectors, Some(30));
        assert_eq!(s.violating.len(), MAX_LISTED);
        assert_eq!(s.violating[0], "ns/c00");
        let none = statuses(&[Arc::new(p)], &HashMap::new());
        assert_eq!(none[0].1.violating_connectors, Some(0));
        assert!(none[0].1.violating.is_empty());
    }
}
