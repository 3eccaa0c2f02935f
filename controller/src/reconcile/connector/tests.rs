//! The connector reconciler's steps with a recording fake in place of Connect and the API server: the
//! order of writes, without a stack.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use parking_lot::Mutex;
use serde_json::{Value, json};
use shared::connect::{ConnectorStatus, InitialState, ValidateResponse};
use shared::crd::{ConnectorState, KafkaConnectorStatus};
use shared::redact::Redactor;

use super::effects::{Called, Effects, already_exists};
use super::execute::{Job, execute, ready_from_error, report};
use crate::conditions::Reason;
use crate::metrics::Metrics;
use crate::plan::{self, Action, Caps, Desired, Input, Observed, Recent};
use crate::restart::{self, Policy};
use crate::retries::Retries;
use crate::status::Reported;

/// A connector RUNNING with task 0 FAILED and task 1 RUNNING.
pub(crate) fn two_tasks_one_failed() -> ConnectorStatus {
    crate::fixtures::connector_status("RUNNING", &["FAILED", "RUNNING"])
}

#[test]
fn errors_map_to_reasons() {
    let e = shared::Error::Rebalancing {
        context: "x".into(),
        status: 409,
        message: "m".into(),
    };
    assert!(ready_from_error(&e, "c").is_none());
    let e = shared::Error::Unreachable {
        context: "x".into(),
        detail: "refused".into(),
    };
    assert_eq!(
        ready_from_error(&e, "c").unwrap().reason,
        Reason::ClusterUnreachable
    );
    let e = shared::Error::Rejected {
        context: "x".into(),
        status: 400,
        message: "bad".into(),
    };
    assert_eq!(
        ready_from_error(&e, "c").unwrap().reason,
        Reason::InvalidConfig
    );
    let e = shared::Error::Server {
        context: "x".into(),
        status: 500,
        message: "m".into(),
    };
    assert_eq!(
        ready_from_error(&e, "c").unwrap().reason,
        Reason::ConnectError
    );
    let e = shared::Error::Rebalancing {
        context: "x".into(),
        status: 409,
        message: "Connector c already exists".into(),
    };
    assert!(already_exists(&e));
}

/// One effect, as the fake saw it.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Patch { diff: Value, precondition: bool },
    Call(Action),
    Event { reason: String, note: String },
}

/// Records every effect; Connect calls fail with `fail`'s error when set, and a create finds the connector
/// there already when `found` is set (with its config to be replaced if `Some(true)`).
#[derive(Default)]
struct Recorder {
    steps: Mutex<Vec<Step>>,
    fail: Option<fn() -> shared::Error>,
    found: Option<bool>,
}

impl Recorder {
    fn steps(&self) -> Vec<Step> {
        self.steps.lock().clone()
    }

    fn patches(&self) -> Vec<(Value, bool)> {
        self.steps()
            .into_iter()
            .filter_map(|s| match s {
                Step::Patch { diff, precondition } => Some((diff, precondition)),
                _ => None,
            })
            .collect()
    }

    fn events(&self) -> Vec<String> {
        self.steps()
            .into_iter()
            .filter_map(|s| match s {
                Step::Event { reason, .. } => Some(reason),
                _ => None,
            })
            .collect()
    }
}

impl Effects for Recorder {
    async fn call(&self, action: &Action) -> Result<Called, shared::Error> {
        self.steps.lock().push(Step::Call(action.clone()));
        match (self.fail, self.found, action) {
            (Some(e), _, _) => Err(e()),
            (None, Some(updated), Action::Create(_)) => Ok(Called::Existing { updated }),
            _ => Ok(Called::Done),
        }
    }

    async fn validate(
        &self,
        _class: &str,
        _config: &BTreeMap<String, String>,
    ) -> Result<ValidateResponse, shared::Error> {
        Err(shared::Error::Unreachable {
            context: "validate".into(),
            detail: "not in this test".into(),
        })
    }

    async fn patch_status(&self, diff: Value, precondition: bool) -> crate::error::Result<()> {
        self.steps.lock().push(Step::Patch { diff, precondition });
        Ok(())
    }

    async fn event(&self, _warning: bool, reason: &str, _action: &str, note: String) {
        self.steps.lock().push(Step::Event {
            reason: reason.into(),
            note,
        });
    }
}

fn desired() -> Desired {
    Desired {
        name: "c".into(),
        config: BTreeMap::from([
            ("name".into(), "c".into()),
            ("connector.class".into(), "FileStreamSink".into()),
            ("topics".into(), "t".into()),
        ]),
        state: ConnectorState::Running,
    }
}

fn policy() -> Policy {
    Policy {
        enabled: true,
        max_restarts: Some(3),
        base: Duration::from_secs(10),
        max: Duration::from_secs(60),
        stable: Duration::from_secs(600),
    }
}

/// Plans, executes and reports one reconcile of connector `c` that Connect reports as `st`.
async fn reconcile_once(
    fx: &Recorder,
    prev: Option<&KafkaConnectorStatus>,
    st: &ConnectorStatus,
    restart_value: Option<&str>,
) -> (KafkaConnectorStatus, Option<Duration>) {
    let d = desired();
    let input = Input {
        desired: &d,
        observed: Observed::Present {
            status: Some(st),
            config: Some(shared::redact::keyed_hash(&d.config)),
        },
        recent: Recent::default(),
        caps: Caps::for_version(Some("4.1.0")),
        applied: true,
        values_changed: false,
        last_state: Some("RUNNING"),
        policy: policy(),
        restarts: prev.and_then(|s| s.auto_restart.as_ref()),
        manual: restart::pending_restart(
            restart_value,
            prev.and_then(|s| s.last_handled_restart.as_deref()),
        ),
        manual_task: None,
        now: Timestamp::now(),
    };
    let job = Job {
        key: "ns/c".into(),
        prev,
        generation: Some(1),
        desired: &d,
        input: &input,
        reported: Reported::Status(st),
        topics: vec!["t".into()],
        progress: None,
        cluster: "ns/main",
    };
    let metrics = Metrics::new(false).unwrap();
    let mut redactor = Redactor::default();
    let p = plan::plan(&input);
    let ex = execute(&job, p, &mut redactor, fx, &Retries::default(), &metrics)
        .await
        .unwrap();
    let status = report(&job, &ex, &redactor, fx).await.unwrap();
    (status, ex.requeue)
}

fn rebalancing() -> shared::Error {
    shared::Error::Rebalancing {
        context: "restarting".into(),
        status: 409,
        message: "rebalance in progress".into(),
    }
}

fn no_such_task() -> shared::Error {
    shared::Error::NotFound {
        context: "restarting".into(),
        message: "no such task".into(),
    }
}

fn healthy() -> ConnectorStatus {
    let mut st = two_tasks_one_failed();
    st.tasks[0].state = "RUNNING".into();
    st
}

#[tokio::test]
async fn an_automatic_restart_is_counted_in_status_before_it_is_sent() {
    let fx = Recorder::default();
    let (status, _) = reconcile_once(&fx, None, &two_tasks_one_failed(), None).await;
    let steps = fx.steps();
    let Step::Patch { diff, precondition } = &steps[0] else {
        panic!("the count is stored first: {steps:?}")
    };
    assert!(precondition, "with the resourceVersion as precondition");
    assert_eq!(diff["autoRestart"]["count"], json!(1));
    assert!(matches!(
        steps[1],
        Step::Call(Action::Restart {
            trigger: plan::Trigger::Automatic,
            ..
        })
    ));
    assert_eq!(fx.patches().len(), 1, "nothing else changed: {steps:?}");
    assert_eq!(fx.events(), vec!["Restarted", "Failed"]);
    assert_eq!(status.auto_restart.map(|r| r.count), Some(1));
}

/// Plans, executes and reports the first reconcile of connector `c`, which the latest poll did not show.
async fn create_once(fx: &Recorder) -> Vec<String> {
    let d = desired();
    let input = crate::fixtures::first_input(&d, Observed::Absent, policy(), Timestamp::now());
    let job = Job {
        key: "ns/c".into(),
        prev: None,
        generation: Some(1),
        desired: &d,
        input: &input,
        reported: Reported::Nothing,
        topics: vec!["t".into()],
        progress: None,
        cluster: "ns/main",
    };
    let metrics = Metrics::new(false).unwrap();
    let mut redactor = Redactor::default();
    let ex = execute(
        &job,
        plan::plan(&input),
        &mut redactor,
        fx,
        &Retries::default(),
        &metrics,
    )
    .await
    .unwrap();
    report(&job, &ex, &redactor, fx).await.unwrap();
    fx.events()
}

#[tokio::test]
async fn a_connector_created_after_the_poll_is_adopted_not_announced_as_created() {
    let created = Recorder::default();
    assert_eq!(create_once(&created).await, vec!["Created"]);
    // There with the wanted config: nothing written, nothing announced.
    let adopted = Recorder {
        found: Some(false),
        ..Recorder::default()
    };
    assert_eq!(create_once(&adopted).await, Vec::<String>::new());
    // There with another config: replaced, and that is an update.
    let updated = Recorder {
        found: Some(true),
        ..Recorder::default()
    };
    assert_eq!(create_once(&updated).await, vec!["Updated"]);
    for fx in [&created, &adopted, &updated] {
        assert_eq!(
            fx.steps()
                .iter()
                .filter(|s| matches!(s, Step::Call(_)))
                .collect::<Vec<_>>(),
            vec![&Step::Call(Action::Create(InitialState::Running))]
        );
    }
}

#[tokio::test]
async fn nothing_is_written_when_nothing_changed() {
    let fx = Recorder::default();
    let (first, _) = reconcile_once(&fx, None, &healthy(), None).await;
    assert_eq!(fx.patches().len(), 1, "the first status");
    let again = Recorder::default();
    let (second, requeue) = reconcile_once(&again, Some(&first), &healthy(), None).await;
    assert_eq!(again.steps(), vec![], "no call, no event, no write");
    assert_eq!(second, first);
    assert_eq!(requeue, None);
}

#[tokio::test]
async fn a_restart_connect_refused_does_not_count() {
    let fx = Recorder {
        fail: Some(rebalancing),
        ..Default::default()
    };
    let (status, requeue) = reconcile_once(&fx, None, &two_tasks_one_failed(), None).await;
    let patches = fx.patches();
    assert_eq!(patches.len(), 2, "{patches:?}");
    assert_eq!(patches[0].0["autoRestart"]["count"], json!(1));
    assert_eq!(patches[1].0["autoRestart"], Value::Null, "taken back");
    assert!(!patches[1].1, "the second write needs no precondition");
    assert_eq!(status.auto_restart, None);
    assert_eq!(requeue, Some(Duration::from_secs(1)));
}

#[tokio::test]
async fn a_manual_restart_connect_was_not_ready_for_stays_open() {
    let fx = Recorder {
        fail: Some(rebalancing),
        ..Default::default()
    };
    let (status, _) = reconcile_once(&fx, None, &healthy(), Some("v1")).await;
    let patches = fx.patches();
    assert_eq!(patches[0].0["lastHandledRestart"], json!("v1"));
    assert!(patches[0].1, "stored before the restart is sent");
    let Step::Call(Action::Restart { trigger, .. }) = &fx.steps()[1] else {
        panic!("{:?}", fx.steps())
    };
    assert_eq!(*trigger, plan::Trigger::Manual);
    assert_eq!(
        patches[1].0["lastHandledRestart"],
        Value::Null,
        "open again"
    );
    assert_eq!(status.last_handled_restart, None);
    assert!(!fx.events().contains(&"RestartFailed".to_string()));
}

#[tokio::test]
async fn a_manual_restart_refused_for_good_is_done_and_said_so() {
    let fx = Recorder {
        fail: Some(no_such_task),
        ..Default::default()
    };
    let (status, _) = reconcile_once(&fx, None, &healthy(), Some("v1")).await;
    assert_eq!(status.last_handled_restart.as_deref(), Some("v1"));
    assert!(
        fx.patches()
            .iter()
            .all(|(p, _)| p.get("lastHandledRestart") != Some(&Value::Null)),
        "never taken back: {:?}",
        fx.patches()
    );
    let note = fx
        .steps()
        .into_iter()
        .find_map(|s| match s {
            Step::Event { reason, note } if reason == "RestartFailed" => Some(note),
            _ => None,
        })
        .expect("a RestartFailed event");
    assert!(
        note.starts_with("the restart asked by connectwarden.io/restart=\"v1\" failed:"),
        "{note}"
    );
}

#[test]
fn a_404_on_delete_counts_as_deleted_only_when_connects_list_answers_without_the_connector() {
    use super::gone_after_not_found;
    let listed = |names: &[&str]| Ok(names.iter().map(|n| n.to_string()).collect());
    assert_eq!(gone_after_not_found(listed(&["other"]), "orders"), Ok(()));
    assert_eq!(gone_after_not_found(listed(&[]), "orders"), Ok(()));
    assert_eq!(
        gone_after_not_found(listed(&["other", "orders"]), "orders"),
        Err(
            "Kafka Connect answered DELETE with 404 but still lists connector \"orders\" (is the worker starting?)"
                .into()
        )
    );
    // A starting worker answers 404 to the list too: not deleted, and said why.
    let starting = shared::Error::NotFound {
        context: "GET /connectors".into(),
        message: "HTTP 404 Not Found".into(),
    };
    assert_eq!(
        gone_after_not_found(Err(starting), "orders"),
        Err(
            "Kafka Connect answered DELETE with 404 and its connector list failed: GET /connectors: not found (HTTP 404): HTTP 404 Not Found"
                .into()
        )
    );
}
