//! Test fixtures shared by the unit tests.

use shared::connect::{ConnectorStatus, ReportedConnectorState, TaskState};

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
