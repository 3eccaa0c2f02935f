//! The decision for one connector, step by step: requests refused at once, a connector Connect does not
//! list, its config, its state, then restarts. Each step adds to the plan; while the config or the state
//! changes, or a manual restart is sent, the later steps wait for the next look at what Connect reports.

use std::ops::ControlFlow;

use shared::connect::{ConnectorStatus, InitialState};
use shared::crd::ConnectorState;
use shared::redact::keyed_hash;

use super::model::{
    Action, CREATE_GRACE, Caps, Change, Desired, Input, Observed, Plan, STATE_GRACE, in_state,
};
use super::ready::{health, transition_ready};
use super::restarts;
use crate::conditions::{Ready, Reason};
use crate::restart::Request;

/// The spec plus what Kafka Connect reported → the actions to take and the `Ready` condition to show.
pub fn plan(i: &Input<'_>) -> Plan {
    let mut p = begin(i);
    let (status, config) = match i.observed {
        Observed::Unreachable { reason, message } => {
            p.ready = Ready::no(reason, message);
            return p;
        }
        Observed::Absent => {
            absent(i, &mut p);
            return p;
        }
        Observed::Present { status, config } => (status, config),
    };
    put_config(i, config, &mut p);
    let Some(st) = status else {
        p.ready = unreported(i.desired, &p.actions);
        return p;
    };
    if move_state(i, st, &mut p).is_break() || restarts::manual(i, st, &mut p).is_break() {
        return p;
    }
    restarts::automatic(i, st, &mut p);
    p
}

/// A plan that changes nothing and keeps the restart bookkeeping, with the request values that cannot be
/// acted on handled at once (each is warned about once).
fn begin(i: &Input<'_>) -> Plan {
    let mut p = Plan {
        actions: Vec::new(),
        change: None,
        ready: Ready::no(Reason::Starting, ""),
        auto_restart: i.restarts.cloned(),
        persist_first: false,
        requeue_after: None,
        exhausted: false,
        handled_restart: None,
        handled_task_restart: None,
        warnings: Vec::new(),
        contention: None,
    };
    if let Some(Request { value, ask: Err(w) }) = &i.manual {
        p.warnings.push(w.clone());
        p.handled_restart = Some(value.clone());
    }
    if let Some(Request { value, ask: Err(w) }) = &i.manual_task {
        p.warnings.push(w.clone());
        p.handled_task_restart = Some(value.clone());
    }
    p
}

/// A connector the latest poll does not list: on its way when this controller created it a moment ago,
/// else created (again).
fn absent(i: &Input<'_>, p: &mut Plan) {
    let d = i.desired;
    if i.recent.created {
        p.ready = Ready::no(
            Reason::Creating,
            format!(
                "created connector {:?}; waiting for Kafka Connect to report it",
                d.name
            ),
        );
        // The poll that lists it wakes this connector; if none does, look again once the grace is over.
        p.requeue_after = Some(CREATE_GRACE);
        return;
    }
    p.change = Some(if i.applied && i.last_state.is_some() {
        Change::Recreated
    } else {
        Change::Created
    });
    p.actions = create(d.state, &i.caps);
    p.ready = Ready::no(Reason::Creating, format!("creating connector {:?}", d.name));
    // A new connector needs no restart: requests standing now (e.g. in the manifest it was
    // created from) are done.
    if let Some(r) = &i.manual {
        p.handled_restart = Some(r.value.clone());
    }
    if let Some(r) = &i.manual_task {
        p.handled_task_restart = Some(r.value.clone());
    }
}

/// Puts the wanted config when Connect's differs (`config`: its keyed hash): an update, or drift put back
/// when this spec was applied before and the values read through `configFrom` did not change.
fn put_config(i: &Input<'_>, config: Option<u64>, p: &mut Plan) {
    if config.is_some_and(|c| c != keyed_hash(&i.desired.config)) {
        p.actions.push(Action::PutConfig);
        p.change = Some(if i.applied && !i.values_changed {
            Change::DriftCorrected
        } else {
            Change::Updated
        });
    }
}

/// `Ready` while Connect has not reported the connector's state yet.
fn unreported(d: &Desired, actions: &[Action]) -> Ready {
    if actions.is_empty() {
        Ready::no(
            Reason::Starting,
            format!(
                "waiting for Kafka Connect to report the state of {:?}",
                d.name
            ),
        )
    } else {
        Ready::no(
            Reason::Updating,
            format!("updating the config of {:?}", d.name),
        )
    }
}

/// The pause, resume or stop that moves Connect's state to the wanted one, and `Ready` from the reported
/// status. `Break` while the config or the state changes, or Connect catches up with a state we asked for:
/// nothing else is decided then.
fn move_state(i: &Input<'_>, st: &ConnectorStatus, p: &mut Plan) -> ControlFlow<()> {
    let d = i.desired;
    let state = st.connector.state.as_str();
    let waiting_for_requested =
        i.recent.state_requested == Some(d.state) && !in_state(state, d.state);
    if !waiting_for_requested && let Some(a) = state_action(state, d.state, &i.caps) {
        p.actions.push(a);
        // Another writer's doing only when the connector had reached the wanted state and now holds another
        // target state; UNASSIGNED or RESTARTING come and go with rebalances.
        let reverted = i.applied
            && i.last_state.is_some_and(|s| in_state(s, d.state))
            && matches!(state, "RUNNING" | "PAUSED" | "STOPPED");
        if reverted && p.change.is_none() {
            p.change = Some(Change::StateReverted);
        }
    }

    p.ready = health(d, st);
    if !p.actions.is_empty() || waiting_for_requested {
        p.ready = transition_ready(d, &p.actions, state);
        if waiting_for_requested {
            // No poll may change while Connect takes its time; once the grace is over, ask again.
            p.requeue_after = Some(STATE_GRACE);
        }
        return ControlFlow::Break(());
    }
    ControlFlow::Continue(())
}

/// How to create the connector in the wanted state.
fn create(state: ConnectorState, caps: &Caps) -> Vec<Action> {
    match state {
        ConnectorState::Running => vec![Action::Create(InitialState::Running)],
        ConnectorState::Paused if caps.initial_state => vec![Action::Create(InitialState::Paused)],
        ConnectorState::Stopped if caps.initial_state => {
            vec![Action::Create(InitialState::Stopped)]
        }
        ConnectorState::Paused => vec![Action::Create(InitialState::Running), Action::Pause],
        ConnectorState::Stopped if caps.stop => {
            vec![Action::Create(InitialState::Running), Action::Stop]
        }
        ConnectorState::Stopped => vec![Action::Create(InitialState::Running), Action::Pause],
    }
}

/// The pause/resume/stop that moves Connect's state towards the wanted one, if any.
fn state_action(observed: &str, want: ConnectorState, caps: &Caps) -> Option<Action> {
    match (want, observed) {
        (ConnectorState::Running, "PAUSED" | "STOPPED") => Some(Action::Resume),
        // A FAILED connector stays FAILED when paused; restarting it is the restart policy's business.
        (ConnectorState::Paused, "RUNNING" | "UNASSIGNED" | "RESTARTING" | "STOPPED") => {
            Some(Action::Pause)
        }
        (ConnectorState::Stopped, "STOPPED") => None,
        (ConnectorState::Stopped, _) if caps.stop => Some(Action::Stop),
        // Before 3.5 there is no stop: paused is the closest.
        (ConnectorState::Stopped, "PAUSED") => None,
        (ConnectorState::Stopped, _) => Some(Action::Pause),
        _ => None,
    }
}
