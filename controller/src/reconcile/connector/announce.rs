//! Which events a connector's reconcile publishes, and their texts.

use shared::crd::{ANNOTATION_RESTART, ANNOTATION_RESTART_TASK, Condition, ProgressStatus};

use super::effects::Effects;
use crate::conditions::{Ready, Reason, Truth};
use crate::plan::{Action, Change, Desired, Plan, Trigger};

/// Events for what the actions did (all of them succeeded).
pub(super) async fn announce(fx: &impl Effects, cluster: &str, p: &Plan, d: &Desired) {
    let n = &d.name;
    let c = cluster;
    let change = match p.change {
        Some(Change::Created) => Some((
            false,
            "Created",
            "Create",
            format!("created connector {n:?} on Kafka Connect cluster {c}"),
        )),
        Some(Change::Recreated) => Some((
            true,
            "DriftCorrected",
            "Create",
            format!(
                "connector {n:?} was deleted from Kafka Connect cluster {c} behind our back; created it again"
            ),
        )),
        Some(Change::Updated) => Some((
            false,
            "Updated",
            "Update",
            format!("updated the config of connector {n:?}"),
        )),
        Some(Change::DriftCorrected) => Some((
            true,
            "DriftCorrected",
            "Update",
            format!(
                "the config of connector {n:?} was changed on Kafka Connect behind our back; restored the spec's config"
            ),
        )),
        Some(Change::StateReverted) => Some((
            true,
            "DriftCorrected",
            "Reconcile",
            format!(
                "the state of connector {n:?} was changed on Kafka Connect behind our back; restoring the spec's state ({})",
                format!("{:?}", d.state).to_lowercase()
            ),
        )),
        None => None,
    };
    if let Some((warning, reason, action, note)) = change {
        fx.event(warning, reason, action, note).await;
    }
    for a in &p.actions {
        let (warning, reason, note) = match a {
            Action::Pause if p.change.is_none() => {
                (false, "Paused", format!("paused connector {n:?}"))
            }
            Action::Resume => (false, "Resumed", format!("resumed connector {n:?}")),
            Action::Stop if p.change.is_none() => {
                (false, "Stopped", format!("stopped connector {n:?}"))
            }
            Action::Restart {
                trigger,
                include_tasks,
                only_failed,
            } => {
                let what = match (include_tasks, only_failed) {
                    (true, true) => "the failed connector and tasks",
                    (true, false) => "the connector and its tasks",
                    (false, true) => "the connector if failed",
                    (false, false) => "the connector",
                };
                restarted(p, *trigger, &format!("{what} of {n:?}"))
            }
            Action::RestartTask { id, trigger } => {
                restarted(p, *trigger, &format!("task {id} of {n:?}"))
            }
            _ => continue,
        };
        fx.event(warning, reason, "Reconcile", note).await;
    }
}

/// Events for a change of a sink's progress: it stalled or stopped (a warning), it moves again, or its dead
/// letter queue started to grow (a warning). `was` and `now` as stored (messages redacted).
pub(super) fn progress_events(
    connector: &str,
    was: Option<&ProgressStatus>,
    now: Option<&ProgressStatus>,
) -> Vec<(bool, &'static str, String)> {
    let mut out = Vec::new();
    let Some(now) = now else { return out };
    let state = |p: Option<&ProgressStatus>| p.map(|p| p.state.clone()).unwrap_or_default();
    let (before, after) = (state(was), state(Some(now)));
    let message = now.message.as_deref().unwrap_or_default();
    if before != after {
        match after.as_str() {
            "Stalled" | "Stopped" => out.push((
                true,
                if after == "Stalled" {
                    "Stalled"
                } else {
                    "Stopped"
                },
                format!("sink connector {connector:?} is not keeping up: {message}"),
            )),
            "OK" | "Lagging" if matches!(before.as_str(), "Stalled" | "Stopped") => out.push((
                false,
                "Progressing",
                format!("sink connector {connector:?} commits offsets again: {message}"),
            )),
            _ => {}
        }
    }
    let growing = |p: Option<&ProgressStatus>| {
        p.and_then(|p| p.dead_letters.as_ref())
            .is_some_and(|d| d.per_minute > 0)
    };
    if growing(Some(now))
        && !growing(was)
        && let Some(d) = &now.dead_letters
    {
        out.push((
            true,
            "DeadLetters",
            format!(
                "connector {connector:?} sent {} records to its dead letter queue topic {} in the last minute ({} since {})",
                d.per_minute, d.topic, d.records, d.since
            ),
        ));
    }
    out
}

/// The event of a restart of `what`: which automatic restart it was, or which request asked for it.
fn restarted(p: &Plan, trigger: Trigger, what: &str) -> (bool, &'static str, String) {
    let task = what.starts_with("task ");
    match trigger {
        Trigger::Automatic => (
            true,
            "Restarted",
            format!(
                "restarted {what} (automatic restart {})",
                p.auto_restart.as_ref().map_or(0, |r| r.count)
            ),
        ),
        Trigger::Manual => {
            let (annotation, value) = if task {
                (ANNOTATION_RESTART_TASK, &p.handled_task_restart)
            } else {
                (ANNOTATION_RESTART, &p.handled_restart)
            };
            (
                false,
                "Restarted",
                format!(
                    "restarted {what} as asked by {annotation}={:?}",
                    value.as_deref().unwrap_or_default()
                ),
            )
        }
    }
}

/// The reason of the event a change of `Ready` deserves, if any: failures, exhausted restarts and problems
/// only a change fixes; after a failed Connect call (`call_failed`), any error. A refused config whose errors
/// changed is announced again. `was` and `now` are the conditions as stored (messages redacted and cut).
pub(super) fn transition_event(
    was: Option<&Condition>,
    now: &Condition,
    ready: &Ready,
    call_failed: bool,
) -> Option<&'static str> {
    let r = ready.reason;
    let was_reason = was
        .and_then(|c| c.reason.as_deref())
        .and_then(Reason::parse);
    if ready.status == Truth::True {
        return None;
    }
    if was_reason == Some(r) {
        let new_errors = was.and_then(|c| c.message.as_deref()) != now.message.as_deref();
        return (r == Reason::InvalidConfig && new_errors).then_some(r.as_str());
    }
    match r {
        Reason::ConnectorFailed | Reason::TaskFailed
            if was_reason != Some(Reason::RestartsExhausted) =>
        {
            Some("Failed")
        }
        Reason::RestartsExhausted => Some("RestartsExhausted"),
        Reason::InvalidConfig | Reason::NameConflict | Reason::PluginNotFound => Some(r.as_str()),
        _ if call_failed && r.is_error() => Some(r.as_str()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(reason: Reason, message: &str) -> Condition {
        Condition {
            kind: "Ready".into(),
            status: "False".into(),
            reason: Some(reason.as_str().into()),
            message: Some(message.into()),
            ..Default::default()
        }
    }

    #[test]
    fn events_on_transitions_and_on_new_config_errors_only() {
        let bad = Ready::no(Reason::InvalidConfig, "x");
        let now = cond(Reason::InvalidConfig, "rejected:\ntopics: missing");
        // a refused config is announced, once
        assert_eq!(
            transition_event(None, &now, &bad, true),
            Some(Reason::InvalidConfig.as_str())
        );
        assert_eq!(transition_event(Some(&now), &now, &bad, true), None);
        // ... and again when its errors change
        let other = cond(Reason::InvalidConfig, "rejected:\nfile: missing");
        assert_eq!(
            transition_event(Some(&now), &other, &bad, true),
            Some(Reason::InvalidConfig.as_str())
        );
        // a failed call announces its error; a poll that finds the cluster down does not (the cluster does)
        let down = Ready::no(Reason::ClusterUnreachable, "refused");
        let c = cond(Reason::ClusterUnreachable, "refused");
        assert_eq!(
            transition_event(None, &c, &down, true),
            Some(Reason::ClusterUnreachable.as_str())
        );
        assert_eq!(transition_event(None, &c, &down, false), None);
        let failed = Ready::no(Reason::TaskFailed, "boom");
        let c = cond(Reason::TaskFailed, "boom");
        assert_eq!(transition_event(None, &c, &failed, false), Some("Failed"));
        let exhausted = cond(Reason::RestartsExhausted, "gave up");
        assert_eq!(transition_event(Some(&exhausted), &c, &failed, false), None);
        let ok = Ready::yes(Reason::Running, "fine");
        assert_eq!(
            transition_event(Some(&c), &cond(Reason::Running, "fine"), &ok, false),
            None
        );
    }
}
