//! The `Ready` condition from what Connect reports: a connector's health, a change on its way, a config
//! Connect refused, and the task count shown beside it.

use shared::connect::{ConnectorStatus, ValidateResponse};
use shared::crd::ConnectorState;

use super::model::{Action, Desired};
use crate::conditions::{Ready, Reason};

/// `Ready` from a reported status.
pub(super) fn health(d: &Desired, st: &ConnectorStatus) -> Ready {
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

/// `Ready` while a change is on its way: the config, or the state Connect reports moving to the wanted one.
pub(super) fn transition_ready(d: &Desired, actions: &[Action], observed: &str) -> Ready {
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
