//! The connector reconciler's decision, pure: the spec plus what Kafka Connect reported →
//! the actions to take and the `Ready` condition to show. No I/O here, so every transition is unit-tested.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use shared::connect::{ConnectorStatus, InitialState, ValidateResponse, apache_version};
use shared::crd::{AutoRestartStatus, ConnectorState, ContentionStatus};
use shared::redact::keyed_hash;

use crate::conditions::{Ready, Reason, Truth};
use crate::restart::{self, Manual, Policy, Request, Verdict};

/// What the KafkaConnector asks for, already checked (string config, name rules).
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// Connector name on Connect.
    pub name: String,
    /// The flat config Connect receives: user config plus `name`, `connector.class`, `tasks.max`.
    pub config: BTreeMap<String, String>,
    pub state: ConnectorState,
}

/// A digest of a connector config: polls keep this instead of the config itself (thousands of connectors
/// stay small, and no secret value is held longer than a poll). Keyed (see [`shared::redact::keyed_hash`]): it covers values
/// read from Secrets.
pub fn config_digest(config: &BTreeMap<String, String>) -> u64 {
    keyed_hash(config)
}

/// How long a created connector may stay unlisted (Connect lists it once its status is reported) before
/// it is created again.
pub const CREATE_GRACE: Duration = Duration::from_secs(30);

/// How long a pause/resume/stop is given to show before it is asked for again.
pub const STATE_GRACE: Duration = Duration::from_secs(30);

/// What the latest poll (taken after our last write) says about this connector.
#[derive(Debug, Clone, Copy)]
pub enum Observed<'a> {
    Present {
        /// Missing right after creation, until the worker reports it.
        status: Option<&'a ConnectorStatus>,
        /// `config_digest` of the config Connect has.
        config: Option<u64>,
    },
    Absent,
    /// The poll failed; `reason` is the condition reason, `message` says why.
    Unreachable {
        reason: Reason,
        message: &'a str,
    },
}

/// Writes this controller made a moment ago, which Connect applies asynchronously: not repeated while
/// Connect catches up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recent {
    /// Created a moment ago: Connect lists a connector only once its status is reported.
    pub created: bool,
    /// A pause/resume/stop asked for a moment ago.
    pub state_requested: Option<ConnectorState>,
}

/// What the Connect version supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// `POST /connectors` with `initial_state` (3.7+).
    pub initial_state: bool,
    /// `PUT /connectors/{name}/stop` (3.5+).
    pub stop: bool,
    /// `POST /connectors/{name}/restart?includeTasks&onlyFailed` (3.0+).
    pub restart_with_tasks: bool,
}

impl Caps {
    /// From the version in `GET /`; an unknown version is taken to be current.
    pub fn for_version(version: Option<&str>) -> Caps {
        let v = version.map(apache_version).filter(|v| *v != (0, 0));
        let at_least = |want: (u32, u32)| v.is_none_or(|v| v >= want);
        Caps {
            initial_state: at_least((3, 7)),
            stop: at_least((3, 5)),
            restart_with_tasks: at_least((3, 0)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Input<'a> {
    pub desired: &'a Desired,
    pub observed: Observed<'a>,
    pub recent: Recent,
    pub caps: Caps,
    /// `status.observedGeneration == metadata.generation`: this spec was applied before, so a difference
    /// found now was made behind our back (drift).
    pub applied: bool,
    /// The values read through `spec.configFrom` differ from those this process last saw applied (or it has
    /// seen none yet): a config difference then comes from our side (a rotated Secret), not drift.
    pub values_changed: bool,
    /// The connector state Connect reported at the last look (`status.connectorState`); `None` when the
    /// connector was never seen on Connect.
    pub last_state: Option<&'a str>,
    pub policy: Policy,
    pub restarts: Option<&'a AutoRestartStatus>,
    /// The `connectwarden.io/restart` request not handled yet, if any.
    pub manual: Option<Request<Manual>>,
    /// The `connectwarden.io/restart-task` request not handled yet, if any.
    pub manual_task: Option<Request<i32>>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Automatic,
    Manual,
}

impl Trigger {
    pub fn label(self) -> &'static str {
        match self {
            Trigger::Automatic => "automatic",
            Trigger::Manual => "manual",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `POST /connectors`, with an initial state unless `Running` (Connect's default, and the only one before
    /// 3.7). Unlike a PUT it cannot overwrite a connector the latest poll did not show yet: one that exists
    /// is compared and adopted when its config is the wanted one.
    Create(InitialState),
    /// `PUT /connectors/{name}/config`: updates.
    PutConfig,
    Pause,
    Resume,
    Stop,
    /// `POST /connectors/{name}/restart`.
    Restart {
        include_tasks: bool,
        only_failed: bool,
        trigger: Trigger,
    },
    /// `POST /connectors/{name}/tasks/{id}/restart`.
    RestartTask {
        id: i32,
        trigger: Trigger,
    },
}

impl Action {
    /// Who asked for a restart; `None` for other actions.
    pub fn trigger(&self) -> Option<Trigger> {
        match self {
            Action::Restart { trigger, .. } | Action::RestartTask { trigger, .. } => Some(*trigger),
            _ => None,
        }
    }
}

/// What the config actions amount to, for events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    /// Deleted behind our back, created again.
    Recreated,
    Updated,
    /// Config changed behind our back, put back.
    DriftCorrected,
    /// Paused, resumed or stopped behind our back (it was in the wanted state at the last look), put back.
    StateReverted,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub change: Option<Change>,
    pub ready: Ready,
    /// Restart bookkeeping for status.
    pub auto_restart: Option<AutoRestartStatus>,
    /// The status (with the new restart count) must be stored before the actions are sent, so that no
    /// restart is issued twice for one failure across a leader handover.
    pub persist_first: bool,
    /// When to look again although nothing changed (the next restart is due).
    pub requeue_after: Option<Duration>,
    /// `maxRestarts` reached.
    pub exhausted: bool,
    /// Restart request values handled now, for `status.lastHandledRestart` / `lastHandledTaskRestart`:
    /// acted on, refused as invalid, or moot because the connector is being created.
    pub handled_restart: Option<String>,
    pub handled_task_restart: Option<String>,
    /// Invalid request values, for Warning events (each value is handled, so warned about, once).
    pub warnings: Vec<String>,
    /// The drift corrections and hold to keep in status (set by the reconciler, from `contention`).
    pub contention: Option<ContentionStatus>,
}

pub fn plan(i: &Input<'_>) -> Plan {
    let d = i.desired;
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

    let (status, config) = match i.observed {
        Observed::Unreachable { reason, message } => {
            p.ready = Ready::no(reason, message);
            return p;
        }
        Observed::Absent if i.recent.created => {
            p.ready = Ready::no(
                Reason::Creating,
                format!(
                    "created connector {:?}; waiting for Kafka Connect to report it",
                    d.name
                ),
            );
            // The poll that lists it wakes this connector; if none does, look again once the grace is over.
            p.requeue_after = Some(CREATE_GRACE);
            return p;
        }
        Observed::Absent => {
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
            return p;
        }
        Observed::Present { status, config } => (status, config),
    };

    if config.is_some_and(|c| c != config_digest(&d.config)) {
        p.actions.push(Action::PutConfig);
        p.change = Some(if i.applied && !i.values_changed {
            Change::DriftCorrected
        } else {
            Change::Updated
        });
    }

    let Some(st) = status else {
        p.ready = if p.actions.is_empty() {
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
        };
        return p;
    };

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
        return p;
    }

    // Manual restarts first: they also start a new restart count. Their values are stored before the
    // restarts are sent, so that no value is acted on twice, across restarts and leader changes too.
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
    if manual {
        p.persist_first = true;
        // A new count, from this restart: the next automatic one is due no sooner than `base` after it.
        p.auto_restart = Some(AutoRestartStatus {
            count: 0,
            last_restart_time: Some(restart::format_time(i.now)),
            next_restart_time: None,
        });
        return p;
    }

    if d.state != ConnectorState::Running {
        return p;
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
    p
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

/// Whether Connect's state `observed` is the `want`ed one.
pub fn in_state(observed: &str, want: ConnectorState) -> bool {
    observed
        == match want {
            ConnectorState::Running => "RUNNING",
            ConnectorState::Paused => "PAUSED",
            ConnectorState::Stopped => "STOPPED",
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

fn transition_ready(d: &Desired, actions: &[Action], observed: &str) -> Ready {
    let n = &d.name;
    if actions.contains(&Action::PutConfig) {
        return Ready::no(Reason::Updating, format!("updating the config of {n:?}"));
    }
    let (r, verb) = match d.state {
        ConnectorState::Running => (Reason::Resuming, "resuming"),
        ConnectorState::Paused => (Reason::Pausing, "pausing"),
        ConnectorState::Stopped => (Reason::Stopping, "stopping"),
    };
    Ready::no(
        r,
        format!("{verb} {n:?} (Kafka Connect reports {observed})"),
    )
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

/// `Ready` from a reported status.
pub fn health(d: &Desired, st: &ConnectorStatus) -> Ready {
    let n = &d.name;
    let state = st.connector.state.as_str();
    if state == "FAILED" {
        return Ready::no(
            Reason::ConnectorFailed,
            format!(
                "connector {n:?} FAILED{}",
                first_line(st.connector.trace.as_deref())
            ),
        );
    }
    let failed: Vec<_> = st.tasks.iter().filter(|t| t.state == "FAILED").collect();
    if let Some(t) = failed.first() {
        let ids: Vec<String> = failed.iter().map(|t| t.id.to_string()).collect();
        return Ready::no(
            Reason::TaskFailed,
            format!(
                "{} of {} tasks FAILED (task {}){}",
                failed.len(),
                st.tasks.len(),
                ids.join(", task "),
                first_line(t.trace.as_deref())
            ),
        );
    }
    let running = st.tasks.iter().filter(|t| t.state == "RUNNING").count();
    let total = st.tasks.len();
    match d.state {
        ConnectorState::Running if state == "RUNNING" && running == total => Ready::yes(
            Reason::Running,
            format!("connector RUNNING, {running}/{total} tasks RUNNING"),
        ),
        ConnectorState::Running if state == "RUNNING" => {
            let others: Vec<String> = st
                .tasks
                .iter()
                .filter(|t| t.state != "RUNNING")
                .map(|t| format!("task {} {}", t.id, t.state))
                .collect();
            Ready::no(
                Reason::Starting,
                format!("{running}/{total} tasks RUNNING ({})", others.join(", ")),
            )
        }
        ConnectorState::Running => Ready::no(Reason::Starting, format!("connector {state}")),
        ConnectorState::Paused if state == "PAUSED" => {
            Ready::yes(Reason::Paused, "connector PAUSED")
        }
        ConnectorState::Paused => Ready::no(Reason::Pausing, format!("connector {state}")),
        ConnectorState::Stopped if state == "STOPPED" => {
            Ready::yes(Reason::Stopped, "connector STOPPED")
        }
        ConnectorState::Stopped => Ready::no(Reason::Stopping, format!("connector {state}")),
    }
}

/// `Ready` for a config Kafka Connect refused (`PUT /connectors/{name}/config` or `POST /connectors` answered
/// 400): one line per key, `<key>: <error>`, from Connect's validation of the same config. Without it (the
/// validation failed too), the refusal's own lines, which carry no keys. Redaction is the caller's.
pub fn rejected_config(name: &str, validation: Option<&ValidateResponse>, refusal: &str) -> Ready {
    let mut lines: Vec<String> = validation
        .map(|v| {
            v.errors()
                .into_iter()
                .map(|(k, e)| format!("{k}: {}", e.trim()))
                .collect()
        })
        .unwrap_or_default();
    if lines.is_empty() {
        // "Connector configuration is invalid and contains the following 2 error(s):", the errors, then
        // "You can also find the above list of errors at the endpoint `/connector-plugins/…/validate`".
        lines = refusal
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .filter(|l| !l.starts_with("Connector configuration is invalid"))
            .filter(|l| !l.starts_with("You can also find the above list of errors"))
            .map(String::from)
            .collect();
    }
    if lines.is_empty() {
        lines.push(refusal.trim().to_string());
    }
    Ready::no(
        Reason::InvalidConfig,
        format!(
            "Kafka Connect rejected the config of {name:?}:\n{}",
            lines.join("\n")
        ),
    )
}

/// ": <first line of the trace>", or nothing.
fn first_line(trace: Option<&str>) -> String {
    trace
        .and_then(|t| t.lines().map(str::trim).find(|l| !l.is_empty()))
        .map(|l| format!(": {}", shared::redact::cut(l, 1, 300)))
        .unwrap_or_default()
}

/// `running/total`, e.g. `2/2`.
pub fn tasks_ready(st: &ConnectorStatus) -> String {
    let running = st.tasks.iter().filter(|t| t.state == "RUNNING").count();
    format!("{running}/{}", st.tasks.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(state: ConnectorState) -> Desired {
        Desired {
            name: "orders".into(),
            config: BTreeMap::from([
                ("name".into(), "orders".into()),
                ("connector.class".into(), "FileStreamSink".into()),
                ("topics".into(), "t".into()),
            ]),
            state,
        }
    }

    use crate::fixtures::connector_status as status;

    fn policy() -> Policy {
        Policy {
            enabled: true,
            max_restarts: Some(2),
            base: Duration::from_secs(10),
            max: Duration::from_secs(60),
            stable: Duration::from_secs(600),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn input<'a>(d: &'a Desired, observed: Observed<'a>) -> Input<'a> {
        crate::fixtures::first_input(d, observed, policy(), now())
    }

    fn present<'a>(st: &'a ConnectorStatus, cfg: &BTreeMap<String, String>) -> Observed<'a> {
        Observed::Present {
            status: Some(st),
            config: Some(config_digest(cfg)),
        }
    }

    #[test]
    fn absent_running_is_created_with_post() {
        let d = desired(ConnectorState::Running);
        let p = plan(&input(&d, Observed::Absent));
        assert_eq!(p.actions, vec![Action::Create(InitialState::Running)]);
        assert_eq!(p.change, Some(Change::Created));
        assert_eq!(p.ready.reason, Reason::Creating);
        assert_eq!(p.ready.status, Truth::False);
    }

    #[test]
    fn absent_paused_or_stopped_is_created_in_that_state() {
        for (s, initial) in [
            (ConnectorState::Paused, InitialState::Paused),
            (ConnectorState::Stopped, InitialState::Stopped),
        ] {
            let d = desired(s);
            assert_eq!(
                plan(&input(&d, Observed::Absent)).actions,
                vec![Action::Create(initial)]
            );
            let mut i = input(&d, Observed::Absent);
            i.caps = Caps::for_version(Some("3.6.1"));
            let want = if s == ConnectorState::Paused {
                Action::Pause
            } else {
                Action::Stop
            };
            assert_eq!(
                plan(&i).actions,
                vec![Action::Create(InitialState::Running), want]
            );
        }
        let d = desired(ConnectorState::Stopped);
        let mut i = input(&d, Observed::Absent);
        i.caps = Caps::for_version(Some("3.4.0"));
        assert_eq!(
            plan(&i).actions,
            vec![Action::Create(InitialState::Running), Action::Pause]
        );
    }

    #[test]
    fn just_created_and_not_yet_listed_waits() {
        let d = desired(ConnectorState::Running);
        let mut i = input(&d, Observed::Absent);
        i.recent.created = true;
        let p = plan(&i);
        assert!(p.actions.is_empty());
        assert_eq!(p.ready.reason, Reason::Creating);
        assert_eq!(p.requeue_after, Some(CREATE_GRACE), "looked at again");
    }

    #[test]
    fn deleted_behind_our_back_is_recreated() {
        let d = desired(ConnectorState::Running);
        let mut i = input(&d, Observed::Absent);
        i.applied = true;
        i.last_state = Some("RUNNING");
        let p = plan(&i);
        assert_eq!(p.actions, vec![Action::Create(InitialState::Running)]);
        assert_eq!(p.change, Some(Change::Recreated));
    }

    #[test]
    fn a_state_changed_behind_our_back_is_put_back_as_drift_and_a_transient_one_is_not() {
        let d = desired(ConnectorState::Running);
        for (last, now, applied, want) in [
            // Paused by someone else after it ran as wanted.
            (Some("RUNNING"), "PAUSED", true, Some(Change::StateReverted)),
            (
                Some("RUNNING"),
                "STOPPED",
                true,
                Some(Change::StateReverted),
            ),
            // Never reached the wanted state (just created paused, an offsets request that stopped it):
            // our own transition.
            (Some("STOPPED"), "STOPPED", true, None),
            (None, "PAUSED", true, None),
            // A new spec: the user's change, not drift.
            (Some("RUNNING"), "PAUSED", false, None),
        ] {
            let st = status(now, &["RUNNING"]);
            let mut i = input(
                &d,
                Observed::Present {
                    status: Some(&st),
                    config: Some(config_digest(&d.config)),
                },
            );
            i.applied = applied;
            i.last_state = last;
            let p = plan(&i);
            assert_eq!(p.actions, vec![Action::Resume], "{last:?} → {now}");
            assert_eq!(p.change, want, "{last:?} → {now} (applied: {applied})");
        }
        // A paused connector seen UNASSIGNED during a rebalance is paused again, without counting as drift.
        let d = desired(ConnectorState::Paused);
        let st = status("UNASSIGNED", &[]);
        let mut i = input(
            &d,
            Observed::Present {
                status: Some(&st),
                config: Some(config_digest(&d.config)),
            },
        );
        i.applied = true;
        i.last_state = Some("PAUSED");
        let p = plan(&i);
        assert_eq!((p.actions, p.change), (vec![Action::Pause], None));
    }

    #[test]
    fn running_and_in_sync_does_nothing() {
        let d = desired(ConnectorState::Running);
        let st = status("RUNNING", &["RUNNING", "RUNNING"]);
        let p = plan(&input(&d, present(&st, &d.config)));
        assert!(p.actions.is_empty());
        assert_eq!(
            p.ready,
            Ready::yes(Reason::Running, "connector RUNNING, 2/2 tasks RUNNING")
        );
        assert_eq!(tasks_ready(&st), "2/2");
        assert_eq!(p.requeue_after, None);
        assert!(!p.persist_first);
    }

    #[test]
    fn changed_spec_is_an_update_and_changed_connect_is_drift() {
        let d = desired(ConnectorState::Running);
        let st = status("RUNNING", &["RUNNING"]);
        let mut old = d.config.clone();
        old.insert("topics".into(), "other".into());
        let p = plan(&input(&d, present(&st, &old)));
        assert_eq!(p.actions, vec![Action::PutConfig]);
        assert_eq!(p.change, Some(Change::Updated));
        assert_eq!(p.ready.reason, Reason::Updating);
        let mut i = input(&d, present(&st, &old));
        i.applied = true;
        assert_eq!(plan(&i).change, Some(Change::DriftCorrected));
        // ... unless a value read from a Secret changed: a rotation is an update, put at once
        i.values_changed = true;
        assert_eq!(plan(&i).actions, vec![Action::PutConfig]);
        assert_eq!(plan(&i).change, Some(Change::Updated));
        // an extra key on Connect is drift too
        let mut extra = d.config.clone();
        extra.insert("batch.size".into(), "1".into());
        assert_eq!(
            plan(&input(&d, present(&st, &extra))).actions,
            vec![Action::PutConfig]
        );
    }

    #[test]
    fn state_transitions() {
        let cases = [
            (
                ConnectorState::Running,
                "PAUSED",
                Some(Action::Resume),
                Reason::Resuming,
            ),
            (
                ConnectorState::Running,
                "STOPPED",
                Some(Action::Resume),
                Reason::Resuming,
            ),
            (
                ConnectorState::Paused,
                "RUNNING",
                Some(Action::Pause),
                Reason::Pausing,
            ),
            (
                ConnectorState::Paused,
                "STOPPED",
                Some(Action::Pause),
                Reason::Pausing,
            ),
            (ConnectorState::Paused, "PAUSED", None, Reason::Paused),
            (
                ConnectorState::Stopped,
                "RUNNING",
                Some(Action::Stop),
                Reason::Stopping,
            ),
            (
                ConnectorState::Stopped,
                "PAUSED",
                Some(Action::Stop),
                Reason::Stopping,
            ),
            (
                ConnectorState::Stopped,
                "FAILED",
                Some(Action::Stop),
                Reason::Stopping,
            ),
            (ConnectorState::Stopped, "STOPPED", None, Reason::Stopped),
            (
                ConnectorState::Running,
                "UNASSIGNED",
                None,
                Reason::Starting,
            ),
            (
                ConnectorState::Running,
                "RESTARTING",
                None,
                Reason::Starting,
            ),
        ];
        for (want, observed, action, r) in cases {
            let d = desired(want);
            let tasks: &[&str] = if observed == "STOPPED" {
                &[]
            } else {
                &["RUNNING"]
            };
            let st = status(observed, tasks);
            let p = plan(&input(&d, present(&st, &d.config)));
            assert_eq!(
                p.actions,
                action.into_iter().collect::<Vec<_>>(),
                "{want:?} {observed}"
            );
            assert_eq!(p.ready.reason, r, "{want:?} {observed}");
        }
    }

    #[test]
    fn config_and_state_change_together() {
        let d = desired(ConnectorState::Paused);
        let st = status("RUNNING", &["RUNNING"]);
        let old = BTreeMap::new();
        let p = plan(&input(&d, present(&st, &old)));
        assert_eq!(p.actions, vec![Action::PutConfig, Action::Pause]);
        assert_eq!(p.ready.reason, Reason::Updating);
    }

    #[test]
    fn a_requested_state_change_is_not_repeated_while_connect_catches_up() {
        let d = desired(ConnectorState::Paused);
        let st = status("RUNNING", &["RUNNING"]);
        let mut i = input(&d, present(&st, &d.config));
        i.recent.state_requested = Some(ConnectorState::Paused);
        let p = plan(&i);
        assert!(p.actions.is_empty());
        assert_eq!(p.ready.reason, Reason::Pausing);
        assert_eq!(
            p.requeue_after,
            Some(STATE_GRACE),
            "asked again after the grace"
        );
        // a different wish than the one requested is acted on
        let d = desired(ConnectorState::Stopped);
        let mut i = input(&d, present(&st, &d.config));
        i.recent.state_requested = Some(ConnectorState::Paused);
        assert_eq!(plan(&i).actions, vec![Action::Stop]);
    }

    #[test]
    fn stopped_on_old_connect_falls_back_to_paused() {
        let d = desired(ConnectorState::Stopped);
        let st = status("PAUSED", &["PAUSED"]);
        let mut i = input(&d, present(&st, &d.config));
        i.caps = Caps::for_version(Some("3.4.1"));
        assert!(plan(&i).actions.is_empty());
    }

    #[test]
    fn status_not_reported_yet_waits() {
        let d = desired(ConnectorState::Running);
        let p = plan(&input(
            &d,
            Observed::Present {
                status: None,
                config: Some(config_digest(&d.config)),
            },
        ));
        assert!(p.actions.is_empty());
        assert_eq!(p.ready.reason, Reason::Starting);
    }

    #[test]
    fn unreachable_is_not_ready_and_does_nothing() {
        let d = desired(ConnectorState::Running);
        let p = plan(&input(
            &d,
            Observed::Unreachable {
                reason: Reason::ClusterUnreachable,
                message: "connection refused",
            },
        ));
        assert!(p.actions.is_empty());
        assert_eq!(
            p.ready,
            Ready::no(Reason::ClusterUnreachable, "connection refused")
        );
    }

    #[test]
    fn partial_tasks_are_starting() {
        let d = desired(ConnectorState::Running);
        let st = status("RUNNING", &["RUNNING", "UNASSIGNED"]);
        let p = plan(&input(&d, present(&st, &d.config)));
        assert_eq!(p.ready.reason, Reason::Starting);
        assert!(p.ready.message.contains("1/2"), "{}", p.ready.message);
    }

    #[test]
    fn failed_task_is_restarted_at_once_then_with_backoff_then_exhausted() {
        let d = desired(ConnectorState::Running);
        let st = status("RUNNING", &["FAILED"]);
        let p = plan(&input(&d, present(&st, &d.config)));
        assert_eq!(p.ready.reason, Reason::TaskFailed);
        assert!(
            p.ready.message.contains("FileNotFoundException"),
            "{}",
            p.ready.message
        );
        assert_eq!(
            p.actions,
            vec![Action::Restart {
                include_tasks: true,
                only_failed: true,
                trigger: Trigger::Automatic
            }]
        );
        assert!(p.persist_first);
        let first = p.auto_restart.clone().unwrap();
        assert_eq!(first.count, 1);

        // 5 s later: the second restart waits until 10 s after the first
        let mut i = input(&d, present(&st, &d.config));
        i.restarts = Some(&first);
        i.now = now() + chrono::Duration::seconds(5);
        let p = plan(&i);
        assert!(p.actions.is_empty());
        assert_eq!(p.requeue_after, Some(Duration::from_secs(5)));
        assert!(p.auto_restart.as_ref().unwrap().next_restart_time.is_some());

        let two = AutoRestartStatus {
            count: 2,
            ..first.clone()
        };
        let mut i = input(&d, present(&st, &d.config));
        i.restarts = Some(&two);
        let p = plan(&i);
        assert!(p.actions.is_empty());
        assert!(p.exhausted);
        assert_eq!(p.ready.reason, Reason::RestartsExhausted);
        assert!(
            p.ready.message.starts_with("gave up after 2"),
            "{}",
            p.ready.message
        );
    }

    #[test]
    fn failed_connector_on_old_connect_restarts_connector_and_failed_tasks() {
        let d = desired(ConnectorState::Running);
        let st = status("FAILED", &["RUNNING", "FAILED"]);
        let mut i = input(&d, present(&st, &d.config));
        i.caps = Caps::for_version(Some("2.8.2"));
        let p = plan(&i);
        assert_eq!(p.ready.reason, Reason::ConnectorFailed);
        assert_eq!(
            p.actions,
            vec![
                Action::Restart {
                    include_tasks: false,
                    only_failed: false,
                    trigger: Trigger::Automatic
                },
                Action::RestartTask {
                    id: 1,
                    trigger: Trigger::Automatic
                },
            ]
        );
    }

    #[test]
    fn no_automatic_restart_when_disabled_or_not_running() {
        let d = desired(ConnectorState::Running);
        let st = status("RUNNING", &["FAILED"]);
        let mut i = input(&d, present(&st, &d.config));
        i.policy.enabled = false;
        assert!(plan(&i).actions.is_empty());
        let d = desired(ConnectorState::Paused);
        let st = status("FAILED", &[]);
        assert!(plan(&input(&d, present(&st, &d.config))).actions.is_empty());
    }

    #[test]
    fn a_failed_task_without_automatic_restarts_is_stalled() {
        let d = desired(ConnectorState::Running);
        let st = status("RUNNING", &["FAILED"]);
        let mut i = input(&d, present(&st, &d.config));
        i.policy.enabled = false;
        let p = plan(&i);
        assert_eq!(p.ready.reason, Reason::TaskFailed);
        assert!(
            p.ready.stalled,
            "only a person can restart it, so health checks fail now"
        );
        assert!(
            p.ready
                .message
                .ends_with("automatic restarts are off: fix the cause, then set a new connectwarden.io/restart value"),
            "{}",
            p.ready.message
        );
        // With automatic restarts on, the same failure waits for the next restart.
        i.policy.enabled = true;
        assert!(!plan(&i).ready.stalled);
    }

    fn request<T>(value: &str, ask: Result<T, String>) -> Option<Request<T>> {
        Some(Request {
            value: value.into(),
            ask,
        })
    }

    #[test]
    fn a_manual_restart_is_sent_once_and_its_value_stored_before() {
        let d = desired(ConnectorState::Running);
        let st = status("RUNNING", &["RUNNING", "RUNNING"]);
        let prev = AutoRestartStatus {
            count: 3,
            last_restart_time: Some("2024-01-01T00:00:00Z".into()),
            next_restart_time: None,
        };
        let mut i = input(&d, present(&st, &d.config));
        i.manual = request(
            "t1,includeTasks",
            Ok(Manual {
                include_tasks: true,
                only_failed: false,
            }),
        );
        i.manual_task = request("1,t1", Ok(1));
        i.restarts = Some(&prev);
        let p = plan(&i);
        assert_eq!(
            p.actions,
            vec![
                Action::Restart {
                    include_tasks: true,
                    only_failed: false,
                    trigger: Trigger::Manual
                },
                Action::RestartTask {
                    id: 1,
                    trigger: Trigger::Manual
                },
            ]
        );
        assert_eq!(p.handled_restart.as_deref(), Some("t1,includeTasks"));
        assert_eq!(p.handled_task_restart.as_deref(), Some("1,t1"));
        assert!(p.persist_first, "stored before it is sent");
        let a = p.auto_restart.unwrap();
        assert_eq!(a.count, 0, "a manual restart starts a new count");
        assert_eq!(
            a.last_restart_time,
            Some(restart::format_time(now())),
            "from the manual restart"
        );
        // Connect may still report the task FAILED right after: no automatic restart before `base`.
        let failed = status("RUNNING", &["FAILED", "RUNNING"]);
        let mut next = input(&d, present(&failed, &d.config));
        next.restarts = Some(&a);
        next.now = now() + chrono::Duration::seconds(1);
        let p = plan(&next);
        assert!(p.actions.is_empty(), "{:?}", p.actions);
        assert_eq!(p.requeue_after, Some(Duration::from_secs(9)));
        next.now = now() + chrono::Duration::seconds(10);
        assert_eq!(
            plan(&next).actions,
            vec![Action::Restart {
                include_tasks: true,
                only_failed: true,
                trigger: Trigger::Automatic
            }]
        );
    }

    #[test]
    fn a_manual_restart_waits_while_the_config_or_state_changes_or_connect_is_away() {
        let d = desired(ConnectorState::Running);
        let st = status("PAUSED", &["PAUSED"]);
        let mut i = input(&d, present(&st, &d.config));
        i.manual = request("t1", Ok(PLAIN));
        let p = plan(&i);
        assert_eq!(p.actions, vec![Action::Resume]);
        assert_eq!(p.handled_restart, None, "still to do");
        let mut i = input(
            &d,
            Observed::Unreachable {
                reason: Reason::ClusterUnreachable,
                message: "down",
            },
        );
        i.manual = request("t1", Ok(PLAIN));
        assert_eq!(plan(&i).handled_restart, None);
    }

    const PLAIN: Manual = Manual {
        include_tasks: false,
        only_failed: false,
    };

    #[test]
    fn a_connector_being_created_needs_no_restart_so_standing_requests_are_done() {
        let d = desired(ConnectorState::Running);
        let mut i = input(&d, Observed::Absent);
        i.manual = request("t1", Ok(PLAIN));
        i.manual_task = request("0", Ok(0));
        let p = plan(&i);
        assert_eq!(p.actions, vec![Action::Create(InitialState::Running)]);
        assert_eq!(p.handled_restart.as_deref(), Some("t1"));
        assert_eq!(p.handled_task_restart.as_deref(), Some("0"));
        assert!(!p.persist_first);
    }

    #[test]
    fn bad_annotation_values_warn_once_and_do_nothing() {
        let d = desired(ConnectorState::Running);
        let st = status("RUNNING", &["RUNNING"]);
        let mut i = input(&d, present(&st, &d.config));
        i.manual = request("includeTask", Err("bad restart".into()));
        i.manual_task = request("x", Err("bad task".into()));
        let p = plan(&i);
        assert!(p.actions.is_empty());
        assert_eq!(
            p.warnings,
            vec!["bad restart".to_string(), "bad task".to_string()]
        );
        // recorded, so the next reconcile sees no request and warns no more
        assert_eq!(p.handled_restart.as_deref(), Some("includeTask"));
        assert_eq!(p.handled_task_restart.as_deref(), Some("x"));
        assert!(!p.persist_first);
    }

    #[test]
    fn healthy_after_stable_period_resets_count() {
        let d = desired(ConnectorState::Running);
        let st = status("RUNNING", &["RUNNING"]);
        let prev = AutoRestartStatus {
            count: 2,
            last_restart_time: Some(restart::format_time(now() - chrono::Duration::seconds(601))),
            next_restart_time: None,
        };
        let mut i = input(&d, present(&st, &d.config));
        i.restarts = Some(&prev);
        assert_eq!(plan(&i).auto_restart.unwrap().count, 0);
    }

    fn validation(errors: &[(&str, &str)]) -> ValidateResponse {
        let configs: Vec<serde_json::Value> = errors
            .iter()
            .map(|(k, e)| {
                serde_json::json!({
                    "definition": {"name": k, "type": "STRING"},
                    "value": {"name": k, "value": null, "errors": if e.is_empty() { vec![] } else { vec![*e] }}
                })
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "name": "x", "error_count": errors.len(), "groups": [], "configs": configs
        }))
        .unwrap()
    }

    const REFUSAL: &str = "Connector configuration is invalid and contains the following 2 error(s):\n\
        Invalid value abc for configuration batch.size: Not a number of type INT\n\
        Must configure one of topics or topics.regex\n\
        You can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`";

    #[test]
    fn a_refused_config_shows_one_line_per_key_from_connects_validation() {
        let v = validation(&[
            ("file", ""),
            (
                "batch.size",
                "Invalid value abc for configuration batch.size: Not a number of type INT",
            ),
            ("topics", "Must configure one of topics or topics.regex"),
        ]);
        let r = rejected_config("orders", Some(&v), REFUSAL);
        assert_eq!(
            r,
            Ready::no(
                Reason::InvalidConfig,
                "Kafka Connect rejected the config of \"orders\":\n\
                 batch.size: Invalid value abc for configuration batch.size: Not a number of type INT\n\
                 topics: Must configure one of topics or topics.regex"
            )
        );
        assert!(r.reason.is_stalled());
    }

    #[test]
    fn without_a_validation_the_refusals_own_lines_are_shown() {
        let r = rejected_config("orders", None, REFUSAL);
        assert_eq!(
            r.message,
            "Kafka Connect rejected the config of \"orders\":\n\
             Invalid value abc for configuration batch.size: Not a number of type INT\n\
             Must configure one of topics or topics.regex"
        );
        // a validation without errors says nothing more
        let r = rejected_config("orders", Some(&validation(&[("file", "")])), "bad");
        assert_eq!(
            r.message,
            "Kafka Connect rejected the config of \"orders\":\nbad"
        );
    }

    #[test]
    fn caps_by_version() {
        assert_eq!(
            Caps::for_version(None),
            Caps {
                initial_state: true,
                stop: true,
                restart_with_tasks: true
            }
        );
        assert_eq!(
            Caps::for_version(Some("3.5.0")),
            Caps {
                initial_state: false,
                stop: true,
                restart_with_tasks: true
            }
        );
        assert_eq!(
            Caps::for_version(Some("2.8.0")),
            Caps {
                initial_state: false,
                stop: false,
                restart_with_tasks: false
            }
        );
        assert!(!Caps::for_version(Some("7.6.0-ccs")).initial_state);
        assert!(Caps::for_version(Some("7.7.1-ce")).initial_state);
        assert_eq!(apache_version("6.2.0-ccs"), (2, 8));
    }
}
