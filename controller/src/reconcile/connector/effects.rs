//! The seam between the connector reconciler's steps and the world: Kafka Connect calls, status patches
//! and events. `Live` does them; the tests put a recording fake in its place to check the order of writes
//! without a stack.

use std::collections::BTreeMap;

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use serde_json::Value;
use shared::connect::{ConnectorStatus, InitialState, RestartOutcome, ValidateResponse};
use shared::crd::{ConnectorState, KafkaConnector};

use crate::connect_runtime::ConnectCluster;
use crate::context::Ctx;
use crate::error::Result;
use crate::metrics::RestartTarget;
use crate::plan::{Action, Desired};

/// What a call found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Called {
    Done,
    /// A create found the connector there already (created after the poll the plan saw): it was adopted,
    /// its config replaced with the wanted one if `updated`.
    Existing {
        updated: bool,
    },
}

pub(super) trait Effects {
    /// Sends one planned call to Kafka Connect.
    async fn call(&self, action: &Action) -> Result<Called, shared::Error>;
    /// Validates a config on Kafka Connect (for the per-key errors of a refused config).
    async fn validate(
        &self,
        class: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<ValidateResponse, shared::Error>;
    /// Patches the KafkaConnector's status; with `precondition`, only if the object did not move on.
    async fn patch_status(&self, diff: Value, precondition: bool) -> Result<()>;
    /// Publishes an event about the KafkaConnector (never fails).
    async fn event(&self, warning: bool, reason: &str, action: &str, note: String);
}

/// The real effects for one reconcile of `o` on `cluster`.
pub(super) struct Live<'a> {
    pub ctx: &'a Ctx,
    pub o: &'a KafkaConnector,
    pub cluster: &'a ConnectCluster,
    pub desired: &'a Desired,
    /// What Connect reported before the calls: how many restarts a restart request amounts to.
    pub reported: Option<&'a ConnectorStatus>,
}

impl Effects for Live<'_> {
    async fn call(&self, action: &Action) -> Result<Called, shared::Error> {
        let (c, d) = (self.cluster, self.desired);
        let client = c.client();
        let oref = ObjectRef::from_obj(self.o);
        let name = d.name.as_str();
        if action.trigger() == Some(crate::plan::Trigger::Automatic) {
            // Before taking a write slot: waiting for the pace holds none.
            if let Some(pace) = &c.restarts {
                pace.until_ready().await;
            }
        }
        let _permit = c.writes.acquire().await;
        match action {
            Action::Create(initial) => {
                let state = (*initial != InitialState::Running).then_some(*initial);
                match client.create(name, &d.config, state).await {
                    Ok(_) => c.note_write(name, oref, true, Some(d.state)),
                    // There already, but not in the poll the plan saw: adopted as it is when its config is
                    // the wanted one (no write, so its tasks keep running), updated otherwise.
                    Err(e) if already_exists(&e) => {
                        let updated = client.get_config(name).await? != d.config;
                        if updated {
                            client.put_config(name, &d.config).await?;
                        }
                        c.note_write(name, oref, false, None);
                        return Ok(Called::Existing { updated });
                    }
                    Err(e) => return Err(e),
                }
            }
            Action::PutConfig => {
                let r = client.put_config(name, &d.config).await?;
                c.note_write(name, oref, r.created, None);
            }
            Action::Pause => {
                client.pause(name).await?;
                c.note_write(name, oref, false, Some(ConnectorState::Paused));
            }
            Action::Resume => {
                client.resume(name).await?;
                c.note_write(name, oref, false, Some(ConnectorState::Running));
            }
            Action::Stop => {
                client.stop(name).await?;
                c.note_write(name, oref, false, Some(ConnectorState::Stopped));
            }
            Action::Restart {
                include_tasks,
                only_failed,
                trigger,
            } => {
                let outcome = client.restart(name, *include_tasks, *only_failed).await?;
                c.note_write(name, oref, false, None);
                let (conn, tasks) =
                    restarted_counts(self.reported, *include_tasks, *only_failed, &outcome);
                self.count_restarts(RestartTarget::Connector, *trigger, conn);
                self.count_restarts(RestartTarget::Task, *trigger, tasks);
            }
            Action::RestartTask { id, trigger } => {
                client.restart_task(name, *id).await?;
                c.note_write(name, oref, false, None);
                self.count_restarts(RestartTarget::Task, *trigger, 1);
            }
        }
        Ok(Called::Done)
    }

    async fn validate(
        &self,
        class: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<ValidateResponse, shared::Error> {
        self.cluster.client().validate(class, config).await
    }

    async fn patch_status(&self, diff: Value, precondition: bool) -> Result<()> {
        self.ctx
            .writes
            .patch_status(self.o, diff, precondition)
            .await
    }

    async fn event(&self, warning: bool, reason: &str, action: &str, note: String) {
        self.ctx
            .writes
            .event(self.o, warning, reason, action, note)
            .await
    }
}

impl Live<'_> {
    fn count_restarts(&self, target: RestartTarget, trigger: crate::plan::Trigger, n: usize) {
        let key = (self.o.namespace().unwrap_or_default(), self.o.name_any());
        for _ in 0..n {
            self.ctx.metrics.connectors.restarted(
                &key,
                &self.cluster.label,
                &self.desired.name,
                target,
                trigger,
            );
        }
    }
}

pub(super) fn already_exists(e: &shared::Error) -> bool {
    e.status() == Some(409)
        && e.connect_message()
            .is_some_and(|m| m.contains("already exists"))
}

/// How many connector and task restarts a restart request amounts to.
fn restarted_counts(
    st: Option<&ConnectorStatus>,
    include_tasks: bool,
    only_failed: bool,
    outcome: &RestartOutcome,
) -> (usize, usize) {
    let Some(st) = st else { return (1, 0) };
    // A plain restart (204) restarts the connector only.
    if matches!(outcome, RestartOutcome::Done) && !include_tasks {
        return (1, 0);
    }
    let conn = usize::from(!only_failed || st.connector.state == "FAILED");
    let tasks = if include_tasks {
        st.tasks
            .iter()
            .filter(|t| !only_failed || t.state == "FAILED")
            .count()
    } else {
        0
    };
    (conn, tasks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::connector::tests::two_tasks_one_failed as st;

    #[test]
    fn restart_counts() {
        let a = RestartOutcome::Accepted(None);
        assert_eq!(restarted_counts(Some(&st()), true, true, &a), (0, 1));
        assert_eq!(restarted_counts(Some(&st()), true, false, &a), (1, 2));
        assert_eq!(
            restarted_counts(Some(&st()), false, false, &RestartOutcome::Done),
            (1, 0)
        );
        assert_eq!(restarted_counts(None, true, true, &a), (1, 0));
    }
}
