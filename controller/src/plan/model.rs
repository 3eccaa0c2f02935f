//! The plan's model: what the KafkaConnector asks for, what Connect reported, what this controller wrote a
//! moment ago, what the Connect version supports, and the plan (actions, `Ready`, restart bookkeeping).

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use shared::connect::{ConnectorStatus, InitialState, apache_version};
use shared::crd::{AutoRestartStatus, ConnectorState, ContentionStatus};

use crate::conditions::{Ready, Reason};
use crate::restart::{Manual, Policy, Request};

/// What the KafkaConnector asks for, already checked (string config, name rules).
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// Connector name on Connect.
    pub name: String,
    /// The flat config Connect receives: user config plus `name`, `connector.class`, `tasks.max`.
    pub config: BTreeMap<String, String>,
    pub state: ConnectorState,
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
        /// A keyed hash ([`shared::redact::keyed_hash`]) of the config Connect has: polls keep this instead
        /// of the config itself (thousands of connectors stay small, and no secret value is held longer than
        /// a poll); keyed, since it covers values read from Secrets.
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
    pub now: Timestamp,
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

/// Whether Connect's state `observed` is the `want`ed one.
pub fn in_state(observed: &str, want: ConnectorState) -> bool {
    observed
        == match want {
            ConnectorState::Running => "RUNNING",
            ConnectorState::Paused => "PAUSED",
            ConnectorState::Stopped => "STOPPED",
        }
}
