//! Test fixtures shared by the unit tests.

use jiff::Timestamp;
use shared::connect::{ConnectorStatus, ReportedConnectorState, TaskState};

use crate::plan::{Caps, Desired, Input, Observed, Recent};
use crate::restart::Policy;

/// The plan's input for a connector the controller meets for the first time (no earlier write, no
/// restarts, no requests) on Kafka Connect 4.1.
pub(crate) fn first_input<'a>(
    d: &'a Desired,
    observed: Observed<'a>,
    policy: Policy,
    now: Timestamp,
) -> Input<'a> {
    Input {
        desired: d,
        observed,
        recent: Recent::default(),
        caps: Caps::for_version(Some("4.1.0")),
        applied: false,
        values_changed: false,
        last_state: None,
        policy,
        restarts: None,
        manual: None,
        manual_task: None,
        now,
    }
}

/// What Connect reports for connector `orders` in state `conn` with one task per entry of `tasks`; a
/// FAILED connector or task carries a trace.
pub(crate) fn connector_status(conn: &str, tasks: &[&str]) -> ConnectorStatus {
    ConnectorStatus {
        name: "orders".into(),
        connector: ReportedConnectorState {
            state: conn.into(),
            worker_id: Some("w:8083".into()),
            trace: (conn == "FAILED").then(|| "org.Boom: connector broke\n\tat x".into()),
            version: None,
        },
        tasks: tasks
            .iter()
            .enumerate()
            .map(|(i, s)| TaskState {
                id: i as i32,
                state: s.to_string(),
                worker_id: Some("w:8083".into()),
                trace: (*s == "FAILED").then(|| {
                    "java.io.FileNotFoundException: /nonexistent-dir/out.txt\n\tat y".into()
                }),
                version: None,
            })
            .collect(),
        kind: Some("sink".into()),
    }
}
