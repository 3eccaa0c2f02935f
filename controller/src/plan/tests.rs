use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use shared::connect::{ConnectorStatus, InitialState, ValidateResponse, apache_version};
use shared::crd::{AutoRestartStatus, ConnectorState};
use shared::redact::keyed_hash;

use super::*;
use crate::conditions::{Ready, Reason, Truth};
use crate::restart::{self, Manual, Policy, Request};

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

fn now() -> Timestamp {
    Timestamp::from_second(1_700_000_000).unwrap()
}

fn input<'a>(d: &'a Desired, observed: Observed<'a>) -> Input<'a> {
    crate::fixtures::first_input(d, observed, policy(), now())
}

fn present<'a>(st: &'a ConnectorStatus, cfg: &BTreeMap<String, String>) -> Observed<'a> {
    Observed::Present {
        status: Some(st),
        config: Some(keyed_hash(cfg)),
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
                config: Some(keyed_hash(&d.config)),
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
            config: Some(keyed_hash(&d.config)),
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
            config: Some(keyed_hash(&d.config)),
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
    i.now = now() + Duration::from_secs(5);
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
    next.now = now() + Duration::from_secs(1);
    let p = plan(&next);
    assert!(p.actions.is_empty(), "{:?}", p.actions);
    assert_eq!(p.requeue_after, Some(Duration::from_secs(9)));
    next.now = now() + Duration::from_secs(10);
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
        last_restart_time: Some(restart::format_time(now() - Duration::from_secs(601))),
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
