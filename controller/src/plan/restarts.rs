//! Restarts: the manual ones a request annotation asks for, then the automatic ones the restart policy
//! decides for a failure.

use std::ops::ControlFlow;

use shared::connect::ConnectorStatus;
use shared::crd::{AutoRestartStatus, ConnectorState};

use super::model::{Action, Caps, Input, Plan, Trigger};
use crate::conditions::{Ready, Reason, Truth};
use crate::restart::{self, Request, Verdict};

/// Manual restarts first: they also start a new restart count. Their values are stored before the
/// restarts are sent, so that no value is acted on twice, across restarts and leader changes too. `Break`
/// when one is sent: nothing else is decided then.
pub(super) fn manual(i: &Input<'_>, st: &ConnectorStatus, p: &mut Plan) -> ControlFlow<()> {
    let mut manual = false;
    if let Some(Request { value, ask: Ok(m) }) = &i.manual {
        p.actions.extend(restart_actions(
            st,
            m.include_tasks,
            m.only_failed,
            Trigger::Manual,
            &i.caps,
        ));
        p.handled_restart = Some(value.clone());
        manual = true;
    }
    if let Some(Request { value, ask: Ok(id) }) = &i.manual_task {
        p.actions.push(Action::RestartTask {
            id: *id,
            trigger: Trigger::Manual,
        });
        p.handled_task_restart = Some(value.clone());
        manual = true;
    }
    if !manual {
        return ControlFlow::Continue(());
    }
    p.persist_first = true;
    // A new count, from this restart: the next automatic one is due no sooner than `base` after it.
    p.auto_restart = Some(AutoRestartStatus {
        count: 0,
        last_restart_time: Some(restart::format_time(i.now)),
        next_restart_time: None,
    });
    ControlFlow::Break(())
}

/// The restart policy's verdict on a connector meant to run: its bookkeeping, a restart now, one due
/// later, or none left.
pub(super) fn automatic(i: &Input<'_>, st: &ConnectorStatus, p: &mut Plan) {
    if i.desired.state != ConnectorState::Running {
        return;
    }
    let failed = is_failed(st);
    let healthy = p.ready.status == Truth::True;
    match restart::decide(&i.policy, i.restarts, failed, healthy, i.now) {
        Verdict::Healthy { status } => p.auto_restart = status,
        Verdict::Disabled { status } => {
            // Connect never restarts a failed task by itself: without automatic restarts only a person
            // can, so GitOps health checks should fail now rather than wait for their timeout.
            if failed {
                p.ready.stalled = true;
                p.ready.message = format!(
                    "{}; automatic restarts are off: fix the cause, then set a new connectwarden.io/restart value",
                    p.ready.message
                );
            }
            p.auto_restart = status;
        }
        Verdict::Restart { status } => {
            p.actions = restart_actions(st, true, true, Trigger::Automatic, &i.caps);
            p.ready.message = format!("{}; restart {} issued", p.ready.message, status.count);
            p.auto_restart = Some(status);
            p.persist_first = true;
        }
        Verdict::Wait { status, after } => {
            p.ready.message = format!(
                "{}; restart {} due at {}",
                p.ready.message,
                status.count + 1,
                status.next_restart_time.as_deref().unwrap_or("?")
            );
            p.auto_restart = Some(status);
            p.requeue_after = Some(after);
        }
        Verdict::Exhausted { status } => {
            p.ready = Ready::no(
                Reason::RestartsExhausted,
                format!(
                    "gave up after {} automatic restarts: {}",
                    status.count, p.ready.message
                ),
            );
            p.auto_restart = Some(status);
            p.exhausted = true;
        }
    }
}

fn is_failed(st: &ConnectorStatus) -> bool {
    st.connector.state == "FAILED" || st.tasks.iter().any(|t| t.state == "FAILED")
}

/// The restart requests for a failure: one call on 3.0+, else the connector and each failed task.
fn restart_actions(
    st: &ConnectorStatus,
    include_tasks: bool,
    only_failed: bool,
    trigger: Trigger,
    caps: &Caps,
) -> Vec<Action> {
    if caps.restart_with_tasks || (!include_tasks && !only_failed) {
        return vec![Action::Restart {
            include_tasks,
            only_failed,
            trigger,
        }];
    }
    let mut out = Vec::new();
    if !only_failed || st.connector.state == "FAILED" {
        out.push(Action::Restart {
            include_tasks: false,
            only_failed: false,
            trigger,
        });
    }
    if include_tasks {
        out.extend(
            st.tasks
                .iter()
                .filter(|t| !only_failed || t.state == "FAILED")
                .map(|t| Action::RestartTask { id: t.id, trigger }),
        );
    }
    out
}
