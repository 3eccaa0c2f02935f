//! Status building, pure: conditions that keep their transition time, tasks with cut and redacted traces,
//! and the minimal JSON merge patch between two statuses (so a write happens only when something changed).

use jiff::Timestamp;
use serde_json::{Map, Value};
use shared::connect::ConnectorStatus;
use shared::crd::{
    AutoRestartStatus, Condition, ContentionStatus, KafkaConnectorStatus, ProgressStatus,
    TaskStatus,
};
use shared::redact::{Redactor, cut};

use crate::conditions::{Ready, Reason, Truth};
use crate::plan::tasks_ready;
use crate::restart::format_time;

pub const READY: &str = "Ready";
pub const STALLED: &str = "Stalled";
/// Whether a sink keeps up with its topics; never part of `Ready` (a lagging connector runs).
pub const PROGRESSING: &str = "Progressing";

/// Longest trace kept per task: its first lines, enough for the exception and where it came from.
const TRACE_LINES: usize = 6;
const TRACE_CHARS: usize = 1500;
const MESSAGE_CHARS: usize = 1000;
/// Lines of a refused config's message: its first line and one per key.
const CONFIG_ERROR_LINES: usize = 21;

/// What Connect reported, for the observed fields of the status.
#[derive(Debug, Clone, Copy)]
pub enum Reported<'a> {
    /// Nothing new (e.g. unreachable): keep what status says.
    Keep,
    /// Not on Connect (yet).
    Nothing,
    Status(&'a ConnectorStatus),
}

/// Everything the connector status is made of.
pub struct Parts<'a> {
    pub generation: Option<i64>,
    pub reported: Reported<'a>,
    pub ready: &'a Ready,
    pub auto_restart: Option<AutoRestartStatus>,
    pub contention: Option<ContentionStatus>,
    /// What lag measurement says (`None`: nothing, e.g. a source connector).
    pub progress: Option<ProgressStatus>,
    /// Restart request values handled now (kept from `prev` when `None`).
    pub handled_restart: Option<String>,
    pub handled_task_restart: Option<String>,
    pub topics: Vec<String>,
    pub redactor: &'a Redactor,
    pub now: Timestamp,
}

pub fn connector_status(prev: Option<&KafkaConnectorStatus>, p: Parts<'_>) -> KafkaConnectorStatus {
    let mut s = prev.cloned().unwrap_or_default();
    s.observed_generation = p.generation;
    match p.reported {
        Reported::Keep => {}
        Reported::Nothing => {
            s.connector_state = None;
            s.worker_id = None;
            s.tasks.clear();
            s.tasks_ready = None;
            s.plugin_version = None;
        }
        Reported::Status(st) => {
            s.connector_state = Some(st.connector.state.clone());
            s.worker_id = st.connector.worker_id.clone();
            s.tasks = st
                .tasks
                .iter()
                .map(|t| TaskStatus {
                    id: t.id,
                    state: t.state.clone(),
                    worker_id: t.worker_id.clone(),
                    trace: t
                        .trace
                        .as_deref()
                        .map(|tr| cut(&p.redactor.redact(tr), TRACE_LINES, TRACE_CHARS)),
                })
                .collect();
            s.tasks_ready = Some(tasks_ready(st));
            s.plugin_version = st.connector.version.clone();
        }
    }
    s.topics = p.topics;
    s.auto_restart = p.auto_restart;
    s.contention = p.contention;
    if p.handled_restart.is_some() {
        s.last_handled_restart = p.handled_restart;
    }
    if p.handled_task_restart.is_some() {
        s.last_handled_task_restart = p.handled_task_restart;
    }
    // A refused config has one line per key; other messages keep to a few lines (no stack traces).
    let lines = if p.ready.reason == Reason::InvalidConfig {
        CONFIG_ERROR_LINES
    } else {
        3
    };
    let message = cut(&p.redactor.redact(&p.ready.message), lines, MESSAGE_CHARS);
    if p.ready.status == Truth::True {
        s.last_error = None;
    } else if p.ready.status == Truth::False && p.ready.reason.is_error() {
        s.last_error = Some(message.clone());
    }
    s.conditions = conditions(&s.conditions, p.ready, &message, p.generation, p.now);
    set_progress(&mut s, p.progress, p.generation, p.now);
    s
}

/// `status.progress` and the `Progressing` condition that says the same: True while the sink keeps up or
/// merely lags, False while stalled or stopped, Unknown while not measured.
fn set_progress(
    s: &mut KafkaConnectorStatus,
    progress: Option<ProgressStatus>,
    generation: Option<i64>,
    now: Timestamp,
) {
    let Some(p) = progress else {
        s.progress = None;
        s.conditions.retain(|c| c.kind != PROGRESSING);
        return;
    };
    let (status, reason) = match p.state.as_str() {
        "OK" => ("True", "KeepingUp"),
        "Lagging" => ("True", "Lagging"),
        "Idle" => ("Unknown", "Idle"),
        "Stalled" => ("False", "Stalled"),
        "Stopped" => ("False", "Stopped"),
        _ => ("Unknown", "NotMeasured"),
    };
    let message = cut(p.message.as_deref().unwrap_or_default(), 3, MESSAGE_CHARS);
    let c = condition(
        &s.conditions,
        PROGRESSING,
        status,
        reason,
        &message,
        generation,
        now,
    );
    match s.conditions.iter_mut().find(|x| x.kind == PROGRESSING) {
        Some(x) => *x = c,
        None => s.conditions.push(c),
    }
    s.progress = Some(p);
}

/// `Ready` from `ready`, plus kstatus' `Stalled` while the reason is one no retry fixes. Transition times
/// are kept while a condition's status stays the same.
pub fn conditions(
    prev: &[Condition],
    ready: &Ready,
    message: &str,
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<Condition> {
    let mut out = vec![condition(
        prev,
        READY,
        ready.status.as_str(),
        ready.reason.as_str(),
        message,
        generation,
        now,
    )];
    if ready.stalled {
        out.push(condition(
            prev,
            STALLED,
            "True",
            ready.reason.as_str(),
            message,
            generation,
            now,
        ));
    }
    // Conditions other controllers or users put there stay.
    out.extend(
        prev.iter()
            .filter(|c| c.kind != READY && c.kind != STALLED)
            .cloned(),
    );
    out
}

pub fn condition(
    prev: &[Condition],
    kind: &str,
    status: &str,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: Timestamp,
) -> Condition {
    let old = prev.iter().find(|c| c.kind == kind);
    let last_transition_time = match old {
        Some(c) if c.status == status && c.last_transition_time.is_some() => {
            c.last_transition_time.clone()
        }
        _ => Some(format_time(now)),
    };
    Condition {
        kind: kind.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_transition_time,
        observed_generation: generation,
    }
}

/// Records an offsets request that ended: its value, and the `Offsets` condition (True with what was done,
/// or False with why not). Offsets themselves never go into status.
pub fn record_offsets(
    s: &mut KafkaConnectorStatus,
    o: &crate::offsets::Outcome,
    generation: Option<i64>,
    now: Timestamp,
) {
    s.last_handled_offsets = Some(o.value.clone());
    let c = condition(
        &s.conditions,
        crate::offsets::CONDITION,
        if o.ok { "True" } else { "False" },
        o.reason,
        &cut(&o.message, 3, MESSAGE_CHARS),
        generation,
        now,
    );
    match s.conditions.iter_mut().find(|x| x.kind == c.kind) {
        Some(x) => *x = c,
        None => s.conditions.push(c),
    }
}

/// The `Ready` condition of a list, if any.
pub fn ready_of(conds: &[Condition]) -> Option<&Condition> {
    conds.iter().find(|c| c.kind == READY)
}

/// Topics the config names (`topics` of sinks, `topic` of FileStreamSource-like sources).
pub fn topics_of(config: &std::collections::BTreeMap<String, String>) -> Vec<String> {
    let mut out: Vec<String> = ["topics", "topic"]
        .iter()
        .filter_map(|k| config.get(*k))
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The merge patch that turns status `old` into `new`; `None` when nothing changed (then nothing is written).
pub fn patch<S: serde::Serialize>(old: Option<&S>, new: &S) -> serde_json::Result<Option<Value>> {
    Ok(merge_patch(
        &serde_json::to_value(old)?,
        &serde_json::to_value(new)?,
    ))
}

/// The JSON merge patch (RFC 7396) that turns `old` into `new`: only changed keys, `null` for removed ones,
/// arrays replaced whole. `None` when they are equal.
pub fn merge_patch(old: &Value, new: &Value) -> Option<Value> {
    if old == new {
        return None;
    }
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            let mut patch = Map::new();
            for (k, nv) in n {
                match o.get(k) {
                    Some(ov) => {
                        if let Some(d) = merge_patch(ov, nv) {
                            patch.insert(k.clone(), d);
                        }
                    }
                    None => {
                        patch.insert(k.clone(), nv.clone());
                    }
                }
            }
            for k in o.keys() {
                if !n.contains_key(k) {
                    patch.insert(k.clone(), Value::Null);
                }
            }
            Some(Value::Object(patch))
        }
        _ => Some(new.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use shared::connect::{ReportedConnectorState as CS, TaskState};
    use std::collections::BTreeMap;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).unwrap()
    }

    fn st(state: &str, trace: Option<&str>) -> ConnectorStatus {
        ConnectorStatus {
            name: "c".into(),
            connector: CS {
                state: "RUNNING".into(),
                worker_id: Some("w".into()),
                trace: None,
                version: None,
            },
            tasks: vec![TaskState {
                id: 0,
                state: state.into(),
                worker_id: Some("w".into()),
                trace: trace.map(String::from),
                version: None,
            }],
            kind: None,
        }
    }

    fn parts<'a>(
        reported: Reported<'a>,
        ready: &'a Ready,
        redactor: &'a Redactor,
        now: Timestamp,
    ) -> Parts<'a> {
        Parts {
            generation: Some(2),
            reported,
            ready,
            auto_restart: None,
            contention: None,
            progress: None,
            handled_restart: None,
            handled_task_restart: None,
            topics: vec!["t".into()],
            redactor,
            now,
        }
    }

    #[test]
    fn progress_shows_as_a_condition_of_its_own_that_leaves_ready_alone() {
        let r = Redactor::default();
        let ready = Ready::yes(Reason::Running, "ok");
        let now = Timestamp::now();
        let stalled = ProgressStatus {
            state: "Stalled".into(),
            lag_records: Some(45),
            message: Some(
                "the committed offset of 3 of 3 partitions … while 45 records wait".into(),
            ),
            ..ProgressStatus::default()
        };
        let s = connector_status(
            None,
            Parts {
                progress: Some(stalled.clone()),
                ..parts(Reported::Nothing, &ready, &r, now)
            },
        );
        assert_eq!(s.progress.as_ref(), Some(&stalled));
        let kinds: Vec<(&str, &str, &str)> = s
            .conditions
            .iter()
            .map(|c| {
                (
                    c.kind.as_str(),
                    c.status.as_str(),
                    c.reason.as_deref().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("Ready", "True", "Running"),
                ("Progressing", "False", "Stalled")
            ]
        );
        // Measured no more (a source connector now, or a cluster without spec.kafka): both go.
        let later = connector_status(Some(&s), parts(Reported::Nothing, &ready, &r, now));
        assert_eq!(later.progress, None);
        assert_eq!(later.conditions.len(), 1);
        // Unknown is said as such.
        let unknown = ProgressStatus {
            state: "Unknown".into(),
            message: Some("lag unknown: …".into()),
            ..ProgressStatus::default()
        };
        let s = connector_status(
            Some(&s),
            Parts {
                progress: Some(unknown),
                ..parts(Reported::Nothing, &ready, &r, now)
            },
        );
        assert_eq!(s.conditions[1].status, "Unknown");
        assert_eq!(s.conditions[1].reason.as_deref(), Some("NotMeasured"));
    }

    #[test]
    fn same_observation_gives_same_status_so_no_write() {
        let r = Redactor::default();
        let ready = Ready::yes(Reason::Running, "ok");
        let s = st("RUNNING", None);
        let a = connector_status(None, parts(Reported::Status(&s), &ready, &r, t(0)));
        let b = connector_status(Some(&a), parts(Reported::Status(&s), &ready, &r, t(100)));
        assert_eq!(a, b);
        assert_eq!(a.tasks_ready.as_deref(), Some("1/1"));
        let va = serde_json::to_value(&a).unwrap();
        assert_eq!(merge_patch(&va, &serde_json::to_value(&b).unwrap()), None);
    }

    #[test]
    fn transition_time_moves_only_when_status_flips() {
        let r = Redactor::default();
        let s = st("RUNNING", None);
        let ok = Ready::yes(Reason::Running, "ok");
        let a = connector_status(None, parts(Reported::Status(&s), &ok, &r, t(0)));
        let paused = Ready::yes(Reason::Paused, "paused");
        let b = connector_status(Some(&a), parts(Reported::Status(&s), &paused, &r, t(50)));
        assert_eq!(
            b.conditions[0].last_transition_time,
            a.conditions[0].last_transition_time
        );
        let failed = Ready::no(Reason::TaskFailed, "boom");
        let c = connector_status(Some(&b), parts(Reported::Status(&s), &failed, &r, t(60)));
        assert_eq!(
            c.conditions[0].last_transition_time,
            Some(format_time(t(60)))
        );
        assert_eq!(c.last_error.as_deref(), Some("boom"));
        let d = connector_status(Some(&c), parts(Reported::Status(&s), &ok, &r, t(70)));
        assert_eq!(d.last_error, None);
    }

    #[test]
    fn stalled_for_terminal_reasons() {
        let r = Redactor::default();
        let bad = Ready::no(Reason::InvalidConfig, "spec.config.\"a\": must be a string");
        let s = connector_status(None, parts(Reported::Nothing, &bad, &r, t(0)));
        assert_eq!(s.conditions.len(), 2);
        assert_eq!(s.conditions[1].kind, STALLED);
        let ok = Ready::no(Reason::Starting, "x");
        let s = connector_status(Some(&s), parts(Reported::Nothing, &ok, &r, t(1)));
        assert_eq!(s.conditions.len(), 1);
    }

    #[test]
    fn traces_are_cut_and_redacted() {
        let cfg = BTreeMap::from([("db.password".to_string(), "hunter2-secret".to_string())]);
        let r = Redactor::from_config(&cfg);
        let long: String = (0..50)
            .map(|i| format!("line {i} hunter2-secret\n"))
            .collect();
        let s = st("FAILED", Some(&long));
        let ready = Ready::no(Reason::TaskFailed, "task failed: hunter2-secret");
        let out = connector_status(None, parts(Reported::Status(&s), &ready, &r, t(0)));
        let trace = out.tasks[0].trace.as_deref().unwrap();
        assert!(trace.lines().count() <= TRACE_LINES);
        assert!(!serde_json::to_string(&out).unwrap().contains("hunter2"));
    }

    #[test]
    fn unreachable_keeps_last_observation() {
        let r = Redactor::default();
        let s = st("RUNNING", None);
        let ok = Ready::yes(Reason::Running, "ok");
        let a = connector_status(None, parts(Reported::Status(&s), &ok, &r, t(0)));
        let down = Ready::no(Reason::ClusterUnreachable, "refused");
        let b = connector_status(Some(&a), parts(Reported::Keep, &down, &r, t(1)));
        assert_eq!(b.tasks, a.tasks);
        assert_eq!(
            b.conditions[0].reason.as_deref(),
            Some(Reason::ClusterUnreachable.as_str())
        );
    }

    #[test]
    fn merge_patch_is_minimal_and_nulls_removed_keys() {
        let old = json!({"a": 1, "b": {"x": 1, "y": 2}, "c": [1, 2], "gone": "x"});
        let new = json!({"a": 1, "b": {"x": 1, "y": 3}, "c": [1], "new": true});
        assert_eq!(
            merge_patch(&old, &new),
            Some(json!({"b": {"y": 3}, "c": [1], "gone": null, "new": true}))
        );
        assert_eq!(
            merge_patch(&Value::Null, &json!({"a": 1})),
            Some(json!({"a": 1}))
        );
    }

    #[test]
    fn handled_restart_values_are_recorded_and_kept() {
        let r = Redactor::default();
        let ok = Ready::yes(Reason::Running, "ok");
        let s = st("RUNNING", None);
        let mut p = parts(Reported::Status(&s), &ok, &r, t(0));
        p.handled_restart = Some("t1".into());
        let a = connector_status(None, p);
        assert_eq!(a.last_handled_restart.as_deref(), Some("t1"));
        assert_eq!(a.last_handled_task_restart, None);
        let mut p = parts(Reported::Status(&s), &ok, &r, t(1));
        p.handled_task_restart = Some("0,t1".into());
        let b = connector_status(Some(&a), p);
        assert_eq!(b.last_handled_restart.as_deref(), Some("t1"), "kept");
        assert_eq!(b.last_handled_task_restart.as_deref(), Some("0,t1"));
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(v["lastHandledRestart"], "t1");
        assert_eq!(v["lastHandledTaskRestart"], "0,t1");
    }

    #[test]
    fn topics_from_config() {
        let cfg = BTreeMap::from([
            ("topics".to_string(), "b, a,,a".to_string()),
            ("topic".to_string(), "c".to_string()),
        ]);
        assert_eq!(topics_of(&cfg), vec!["a", "b", "c"]);
    }

    #[test]
    fn an_offsets_outcome_is_recorded_without_offsets_and_keeps_ready() {
        let mut s = KafkaConnectorStatus {
            conditions: conditions(&[], &Ready::yes(Reason::Running, "ok"), "ok", Some(1), t(0)),
            ..Default::default()
        };
        let ok = crate::offsets::Outcome::done(
            "list",
            crate::offsets::Op::List,
            "wrote the offsets of 1 partition".into(),
        );
        record_offsets(&mut s, &ok, Some(1), t(1));
        assert_eq!(s.last_handled_offsets.as_deref(), Some("list"));
        let c = s.conditions.iter().find(|c| c.kind == "Offsets").unwrap();
        assert_eq!(
            (c.status.as_str(), c.reason.as_deref()),
            ("True", Some("Listed"))
        );
        let failed = crate::offsets::Outcome::failed("reset,2", "Failed", "boom");
        record_offsets(&mut s, &failed, Some(1), t(2));
        let offsets: Vec<_> = s
            .conditions
            .iter()
            .filter(|c| c.kind == "Offsets")
            .collect();
        assert_eq!(offsets.len(), 1, "replaced, not added");
        assert_eq!(offsets[0].status, "False");
        assert_eq!(s.last_handled_offsets.as_deref(), Some("reset,2"));
        assert!(ready_of(&s.conditions).is_some(), "Ready kept");
        // a later status keeps the Offsets condition
        let next = conditions(
            &s.conditions,
            &Ready::yes(Reason::Running, "ok"),
            "ok",
            Some(1),
            t(3),
        );
        assert!(next.iter().any(|c| c.kind == "Offsets"));
    }
}
