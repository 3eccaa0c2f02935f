//! The KafkaConnector reconciler: observe (the cluster's latest poll) → plan (pure, `plan.rs`) → act
//! (Connect REST calls), then write status only when it changed, and publish events on transitions.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use serde_json::json;
use shared::config::{check_connector_name, describe_non_strings, effective_config, string_config};
use shared::connect::{ConnectorStatus, RestartOutcome};
use shared::crd::{
    ANNOTATION_PAUSE_RECONCILIATION, ANNOTATION_RESTART, ANNOTATION_RESTART_TASK, Condition,
    ConnectorState, DeletionPolicy, FINALIZER, KafkaConnector, KafkaConnectorStatus,
};
use shared::redact::Redactor;

use crate::clusters::{ClusterHandle, ClusterKey, Observation};
use crate::context::Ctx;
use crate::plan::{
    self, Action, Caps, Change, Desired, Input, Observed, Ready, Trigger, Truth, reason,
};
use crate::restart::{self, Policy};
use crate::status::{self, Parts, Reported};
use crate::{Error, Result};

const KIND: &str = "KafkaConnector";

pub async fn reconcile(obj: Arc<KafkaConnector>, ctx: Arc<Ctx>) -> Result<Requeue> {
    let started = Instant::now();
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let span = tracing::info_span!("reconcile", namespace = %ns, name = %name, cluster = %ClusterKey::of_connector(&obj).label());
    let result = async {
        let api: Api<KafkaConnector> = Api::namespaced(ctx.kube.clone(), &ns);
        let has_finalizer = obj.finalizers().iter().any(|f| f == FINALIZER);
        if obj.meta().deletion_timestamp.is_some() {
            if !has_finalizer {
                return Ok(Requeue::await_change());
            }
            let next = cleanup(&obj, &api, &ctx).await?;
            set_finalizer(&obj, &api, &ctx, false).await?;
            return Ok(next);
        }
        if paused(&obj) {
            // Hands off: no Connect call, no status write.
            return Ok(Requeue::await_change());
        }
        if !has_finalizer {
            // The update's watch event brings the object back here.
            set_finalizer(&obj, &api, &ctx, true).await?;
            return Ok(Requeue::await_change());
        }
        apply(&obj, &api, &ctx).await
    }
    .instrument_in(span)
    .await;
    ctx.metrics.reconciled(
        KIND,
        started.elapsed(),
        result.as_ref().err().map(Error::reason),
    );
    result
}

/// What the controller does after a failed reconcile: retry with backoff.
pub fn error_policy(obj: Arc<KafkaConnector>, err: &Error, ctx: Arc<Ctx>) -> Requeue {
    let key = obj_key(&obj);
    if err.is_conflict() {
        return Requeue::requeue(Duration::from_millis(500));
    }
    let delay = ctx.backoff(&key);
    tracing::warn!(namespace = %obj.namespace().unwrap_or_default(), name = %obj.name_any(), error = %err, retry_in = ?delay, "reconcile failed");
    Requeue::requeue(delay)
}

fn obj_key(o: &KafkaConnector) -> String {
    format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any())
}

fn paused(o: &KafkaConnector) -> bool {
    o.annotations()
        .get(ANNOTATION_PAUSE_RECONCILIATION)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

trait InstrumentIn: std::future::Future + Sized {
    fn instrument_in(self, span: tracing::Span) -> tracing::instrument::Instrumented<Self> {
        tracing::Instrument::instrument(self, span)
    }
}
impl<F: std::future::Future> InstrumentIn for F {}

async fn apply(o: &KafkaConnector, api: &Api<KafkaConnector>, ctx: &Arc<Ctx>) -> Result<Requeue> {
    let key = obj_key(o);
    let mkey = (o.namespace().unwrap_or_default(), o.name_any());
    let resync = Requeue::requeue(ctx.settings.resync);
    let name = o.connector_name();
    let prev = o.status.as_ref();

    // Where: the cluster must exist, allow this namespace and be set up.
    let h = match ctx.target(o) {
        Ok(h) => h,
        // The cluster exists but its client is being set up (e.g. at start-up): its first poll triggers
        // this connector again. Nothing to report meanwhile, unless status still says the cluster is
        // missing or broken (it was just created or fixed).
        Err(ready) if ready.status == Truth::Unknown => {
            if prev_reason(prev).is_some_and(|r| reason::is_cluster_problem(r) && r != ready.reason)
            {
                write_simple(o, api, ctx, &ready).await?;
            }
            return Ok(resync);
        }
        Err(ready) => {
            write_simple(o, api, ctx, &ready).await?;
            return Ok(resync);
        }
    };
    // Who: one KafkaConnector per connector name and cluster.
    if let Some(winner) = ctx.conflict_winner(o, &h.key) {
        let ready = Ready::no(
            reason::NAME_CONFLICT,
            format!(
                "connector {name:?} on cluster {} is already managed by KafkaConnector {winner}",
                h.label
            ),
        );
        write_simple(o, api, ctx, &ready).await?;
        return Ok(resync);
    }
    // What: the config as strings (the webhook may have been bypassed) and a usable name.
    let config = match string_config(&o.spec.config) {
        Ok(c) => c,
        Err(bad) => {
            let ready = Ready::no(
                reason::INVALID_CONFIG,
                describe_non_strings(&bad).join("; "),
            );
            write_simple(o, api, ctx, &ready).await?;
            return Ok(resync);
        }
    };
    if let Err(why) = check_connector_name(&name) {
        write_simple(o, api, ctx, &Ready::no(reason::INVALID_CONFIG, why)).await?;
        return Ok(resync);
    }
    let desired = Desired {
        config: effective_config(&name, &o.spec.class, o.spec.tasks_max, &config),
        name,
        state: o.spec.state,
    };
    let mut redactor = Redactor::from_config(&desired.config);

    // Observe: the latest poll, if it can show our last write.
    let oref = ObjectRef::from_obj(o);
    let (snapshot, recent) = match h.observe(&desired.name) {
        Observation::Wait => {
            h.wake_after_poll(oref);
            return Ok(resync);
        }
        Observation::Fresh { snapshot, recent } => (snapshot, recent),
    };
    // Keep only this connector's entry: a reconcile waiting on a write must not hold a whole poll alive.
    let version = snapshot.info.as_ref().map(|i| i.version.clone());
    let seen = match &snapshot.connectors {
        Err(e) => Err((e.reason, e.message.clone())),
        Ok(map) => Ok(map.get(&desired.name).cloned()),
    };
    drop(snapshot);
    let observed = match &seen {
        Err((reason, message)) => Observed::Unreachable { reason, message },
        Ok(None) => Observed::Absent,
        Ok(Some(x)) => Observed::Present {
            status: x.status.as_ref(),
            config: x.config,
        },
    };
    let reported_status = match observed {
        Observed::Present { status, .. } => status,
        _ => None,
    };

    // Plan.
    let annotations = o.annotations();
    let input = Input {
        desired: &desired,
        observed,
        recent,
        caps: Caps::for_version(version.as_deref()),
        applied: prev.and_then(|s| s.observed_generation) == o.meta().generation
            && o.meta().generation.is_some(),
        seen_before: prev.is_some_and(|s| s.connector_state.is_some()),
        policy: Policy::new(o.spec.auto_restart.as_ref(), &ctx.settings.restart_defaults),
        restarts: prev.and_then(|s| s.auto_restart.as_ref()),
        manual: restart::pending_restart(
            annotations.get(ANNOTATION_RESTART).map(String::as_str),
            prev.and_then(|s| s.last_handled_restart.as_deref()),
        ),
        manual_task: restart::pending_task_restart(
            annotations.get(ANNOTATION_RESTART_TASK).map(String::as_str),
            prev.and_then(|s| s.last_handled_task_restart.as_deref()),
        ),
        now: Utc::now(),
    };
    let mut p = plan::plan(&input);
    tracing::debug!(actions = ?p.actions, ready = ?p.ready.reason, "planned");

    for w in &p.warnings {
        if ctx.first_warning(&key, w) {
            ctx.event(o, true, "InvalidAnnotation", "Restart", w.clone())
                .await;
        }
    }

    let reported = match observed {
        Observed::Unreachable { .. } => Reported::Keep,
        Observed::Absent => Reported::Nothing,
        Observed::Present {
            status: Some(s), ..
        } => Reported::Status(s),
        Observed::Present { status: None, .. } => Reported::Nothing,
    };
    let topics = status::topics_of(&desired.config);
    let build = |p: &plan::Plan, redactor: &Redactor| {
        status::connector_status(
            prev,
            Parts {
                generation: o.meta().generation,
                reported,
                ready: &p.ready,
                auto_restart: p.auto_restart.clone(),
                handled_restart: p.handled_restart.clone(),
                handled_task_restart: p.handled_task_restart.clone(),
                topics: topics.clone(),
                redactor,
                now: Utc::now(),
            },
        )
    };

    // A restart (its count, or the request value) is recorded before it is sent, with the object's
    // resourceVersion as precondition: a new leader reading this status never repeats it, and a stale cache
    // gets a conflict instead.
    let mut current = prev.cloned();
    if p.persist_first {
        let s = build(&p, &redactor);
        write_status(o, api, ctx, current.as_ref(), &s, true).await?;
        current = Some(s);
    }

    // Act.
    let mut requeue = p.requeue_after;
    let mut call_failed = false;
    if !p.actions.is_empty() {
        match act(o, &h, &desired, &p.actions, reported_status, ctx).await {
            Ok(()) => {
                ctx.succeeded(&key);
                announce(o, ctx, &h, &p, &desired).await;
            }
            Err(e) => {
                let delay = ctx.backoff(&key);
                tracing::warn!(error = %e, retry_in = ?delay, "Kafka Connect call failed");
                ctx.metrics.reconcile_error(KIND, e.reason());
                if p.persist_first && e.status().is_some() {
                    // Connect refused the restart (e.g. 409 during a rebalance): it did not happen, so
                    // it does not count. (After a timeout it may have happened: then it counts.)
                    p.auto_restart = prev.and_then(|s| s.auto_restart.clone());
                    requeue = Some(Duration::from_secs(1));
                }
                let manual = p
                    .actions
                    .iter()
                    .any(|a| a.trigger() == Some(Trigger::Manual));
                if manual && retry_manual(&e) {
                    // Not sent, or Connect said "not now": the request stays open and is retried.
                    if matches!(input.manual, Some(restart::Request { ask: Ok(_), .. })) {
                        p.handled_restart = None;
                    }
                    if matches!(input.manual_task, Some(restart::Request { ask: Ok(_), .. })) {
                        p.handled_task_restart = None;
                    }
                } else if manual {
                    ctx.event(
                        o,
                        true,
                        "RestartFailed",
                        "Restart",
                        redactor.redact(&format!(
                            "the restart asked by {} failed: {e}; set a new value to try again",
                            requested_by(&input)
                        )),
                    )
                    .await;
                }
                let config_refused = e.status() == Some(400)
                    && p.actions
                        .iter()
                        .any(|a| matches!(a, Action::PutConfig | Action::Create(_)));
                let ready = if config_refused {
                    Some(refused_config(&h, &desired, &e, &mut redactor).await)
                } else {
                    ready_from_error(&e, &h.label)
                };
                if let Some(ready) = ready {
                    p.ready = ready;
                    call_failed = true;
                }
                requeue = Some(requeue.map_or(delay, |r| r.min(delay)));
            }
        }
    } else {
        ctx.succeeded(&key);
    }

    // Status, only when it changed; events on Ready transitions.
    let new = build(&p, &redactor);
    let was = prev.and_then(|s| status::ready_of(&s.conditions));
    if let Some(now) = status::ready_of(&new.conditions)
        && let Some(r) = transition_event(was, now, &p.ready, call_failed)
    {
        // The condition's message: redacted and cut already.
        let note = now.message.clone().unwrap_or_default();
        ctx.event(o, true, r, "Reconcile", note).await;
    }
    write_status(o, api, ctx, current.as_ref(), &new, false).await?;

    // Metrics.
    let healthy_since = status::ready_of(&new.conditions)
        .filter(|c| c.status == "True" && c.reason.as_deref() == Some(reason::RUNNING))
        .and_then(|c| c.last_transition_time.as_deref())
        .and_then(restart::parse_time);
    ctx.metrics.observe_connector(
        &mkey,
        &h.label,
        &desired.name,
        reported_status,
        healthy_since,
    );
    let exhausted = status::ready_of(&new.conditions)
        .is_some_and(|c| c.reason.as_deref() == Some(reason::RESTARTS_EXHAUSTED));
    ctx.metrics.set_restarts_exhausted(&mkey, exhausted);

    Ok(match requeue {
        Some(d) => Requeue::requeue(d.min(ctx.settings.resync)),
        None => resync,
    })
}

async fn cleanup(o: &KafkaConnector, api: &Api<KafkaConnector>, ctx: &Arc<Ctx>) -> Result<Requeue> {
    let name = o.connector_name();
    let mkey = (o.namespace().unwrap_or_default(), o.name_any());
    let done = |ctx: &Arc<Ctx>| {
        ctx.metrics.forget_connector(&mkey);
        ctx.succeeded(&obj_key(o));
    };
    if o.spec.deletion_policy == DeletionPolicy::Orphan || paused(o) {
        let why = if paused(o) {
            "reconciliation is paused"
        } else {
            "deletionPolicy is Orphan"
        };
        ctx.event(
            o,
            false,
            "Orphaned",
            "Delete",
            format!("left connector {name:?} on Kafka Connect: {why}"),
        )
        .await;
        done(ctx);
        return Ok(Requeue::await_change());
    }
    let blocked = |why: String| {
        format!(
            "waiting to delete connector {name:?} from Kafka Connect: {why}; set spec.deletionPolicy: Orphan to delete this KafkaConnector without it"
        )
    };
    let h = match ctx.target(o) {
        Ok(h) => h,
        Err(ready) => {
            let msg = blocked(ready.message);
            write_simple(
                o,
                api,
                ctx,
                &Ready::no(reason::DELETION_BLOCKED, msg.clone()),
            )
            .await?;
            return Err(Error::DeletionBlocked(msg));
        }
    };
    if let Some(winner) = ctx.conflict_winner(o, &h.key) {
        tracing::info!(%winner, "not deleting a connector another KafkaConnector manages");
        done(ctx);
        return Ok(Requeue::await_change());
    }
    let result = {
        let _permit = h.writes.acquire().await;
        h.client().delete(&name).await
    };
    match result {
        Ok(()) | Err(shared::Error::NotFound { .. }) => {
            h.forget(&name);
            h.wake_after_poll(ObjectRef::from_obj(o));
            ctx.event(
                o,
                false,
                "Deleted",
                "Delete",
                format!(
                    "deleted connector {name:?} from Kafka Connect cluster {}",
                    h.label
                ),
            )
            .await;
            done(ctx);
            Ok(Requeue::await_change())
        }
        Err(e) => {
            let msg = blocked(e.to_string());
            write_simple(
                o,
                api,
                ctx,
                &Ready::no(reason::DELETION_BLOCKED, msg.clone()),
            )
            .await?;
            Err(Error::DeletionBlocked(msg))
        }
    }
}

/// Sends the planned calls in order; stops at the first error.
async fn act(
    o: &KafkaConnector,
    h: &ClusterHandle,
    d: &Desired,
    actions: &[Action],
    st: Option<&ConnectorStatus>,
    ctx: &Ctx,
) -> Result<(), shared::Error> {
    let client = h.client();
    let oref = ObjectRef::from_obj(o);
    let mkey = (o.namespace().unwrap_or_default(), o.name_any());
    let name = d.name.as_str();
    for a in actions {
        let _permit = h.writes.acquire().await;
        match a {
            Action::Create(initial) => match client.create(name, &d.config, Some(*initial)).await {
                Ok(_) => h.note_write(name, oref.clone(), true, Some(d.state)),
                // Exists but was not listed yet (its status was not reported): update it instead.
                Err(e) if already_exists(&e) => {
                    client.put_config(name, &d.config).await?;
                    h.note_write(name, oref.clone(), false, None);
                }
                Err(e) => return Err(e),
            },
            Action::PutConfig => {
                let r = client.put_config(name, &d.config).await?;
                h.note_write(name, oref.clone(), r.created, None);
            }
            Action::Pause => {
                client.pause(name).await?;
                h.note_write(name, oref.clone(), false, Some(ConnectorState::Paused));
            }
            Action::Resume => {
                client.resume(name).await?;
                h.note_write(name, oref.clone(), false, Some(ConnectorState::Running));
            }
            Action::Stop => {
                client.stop(name).await?;
                h.note_write(name, oref.clone(), false, Some(ConnectorState::Stopped));
            }
            Action::Restart {
                include_tasks,
                only_failed,
                trigger,
            } => {
                let outcome = client.restart(name, *include_tasks, *only_failed).await?;
                h.note_write(name, oref.clone(), false, None);
                let (conn, tasks) = restarted_counts(st, *include_tasks, *only_failed, &outcome);
                for _ in 0..conn {
                    ctx.metrics
                        .restarted(&mkey, &h.label, name, "connector", trigger.label());
                }
                for _ in 0..tasks {
                    ctx.metrics
                        .restarted(&mkey, &h.label, name, "task", trigger.label());
                }
            }
            Action::RestartTask { id, trigger } => {
                client.restart_task(name, *id).await?;
                h.note_write(name, oref.clone(), false, None);
                ctx.metrics
                    .restarted(&mkey, &h.label, name, "task", trigger.label());
            }
        }
    }
    Ok(())
}

fn already_exists(e: &shared::Error) -> bool {
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

/// The `Ready` condition a failed Connect call leads to; `None` keeps the planned one (a rebalance is
/// retried without alarming anyone).
fn ready_from_error(e: &shared::Error, cluster: &str) -> Option<Ready> {
    use shared::Error as E;
    Some(match e {
        E::Rebalancing { .. } => return None,
        E::Timeout { .. } | E::Unreachable { .. } => Ready::no(
            reason::CLUSTER_UNREACHABLE,
            format!("Kafka Connect cluster {cluster}: {e}"),
        ),
        E::Unauthorized { .. } => Ready::no(reason::UNAUTHORIZED, e.to_string()),
        E::PluginNotFound { .. } => Ready::no(reason::PLUGIN_NOT_FOUND, e.to_string()),
        E::Rejected { status: 400, .. } => Ready::no(reason::INVALID_CONFIG, e.to_string()),
        _ => Ready::no(reason::CONNECT_ERROR, e.to_string()),
    })
}

fn prev_reason(prev: Option<&KafkaConnectorStatus>) -> Option<&str> {
    prev.and_then(|s| status::ready_of(&s.conditions))
        .and_then(|c| c.reason.as_deref())
}

/// Events for what the actions did.
async fn announce(o: &KafkaConnector, ctx: &Ctx, h: &ClusterHandle, p: &plan::Plan, d: &Desired) {
    let n = &d.name;
    let c = &h.label;
    match p.change {
        Some(Change::Created) => {
            ctx.event(o, false, "Created", "Create", format!("created connector {n:?} on Kafka Connect cluster {c}"))
                .await
        }
        Some(Change::Recreated) => {
            ctx.event(o, true, "DriftCorrected", "Create", format!("connector {n:?} was deleted from Kafka Connect cluster {c} behind our back; created it again"))
                .await
        }
        Some(Change::Updated) => {
            ctx.event(o, false, "Updated", "Update", format!("updated the config of connector {n:?}"))
                .await
        }
        Some(Change::DriftCorrected) => {
            ctx.event(o, true, "DriftCorrected", "Update", format!("the config of connector {n:?} was changed on Kafka Connect behind our back; restored the spec's config"))
                .await
        }
        None => {}
    }
    for a in &p.actions {
        let (warning, reason, note) = match a {
            Action::Pause if p.change.is_none() => {
                (false, "Paused", format!("paused connector {n:?}"))
            }
            Action::Resume => (false, "Resumed", format!("resumed connector {n:?}")),
            Action::Stop if p.change.is_none() => {
                (false, "Stopped", format!("stopped connector {n:?}"))
            }
            Action::Restart {
                trigger,
                include_tasks,
                only_failed,
            } => {
                let what = match (include_tasks, only_failed) {
                    (true, true) => "the failed connector and tasks",
                    (true, false) => "the connector and its tasks",
                    (false, true) => "the connector if failed",
                    (false, false) => "the connector",
                };
                match trigger {
                    Trigger::Automatic => (
                        true,
                        "Restarted",
                        format!(
                            "restarted {what} of {n:?} (automatic restart {})",
                            p.auto_restart.as_ref().map_or(0, |r| r.count)
                        ),
                    ),
                    Trigger::Manual => (
                        false,
                        "Restarted",
                        format!(
                            "restarted {what} of {n:?} as asked by {ANNOTATION_RESTART}={:?}",
                            p.handled_restart.as_deref().unwrap_or_default()
                        ),
                    ),
                }
            }
            Action::RestartTask { id, trigger } => match trigger {
                Trigger::Automatic => (
                    true,
                    "Restarted",
                    format!(
                        "restarted task {id} of {n:?} (automatic restart {})",
                        p.auto_restart.as_ref().map_or(0, |r| r.count)
                    ),
                ),
                Trigger::Manual => (
                    false,
                    "Restarted",
                    format!(
                        "restarted task {id} of {n:?} as asked by {ANNOTATION_RESTART_TASK}={:?}",
                        p.handled_task_restart.as_deref().unwrap_or_default()
                    ),
                ),
            },
            _ => continue,
        };
        ctx.event(o, warning, reason, "Reconcile", note).await;
    }
}

/// The reason of the event a change of `Ready` deserves, if any: failures, exhausted restarts and problems
/// only a change fixes; after a failed Connect call (`call_failed`), any error. A refused config whose errors
/// changed is announced again. `was` and `now` are the conditions as stored (messages redacted and cut).
fn transition_event(
    was: Option<&Condition>,
    now: &Condition,
    ready: &Ready,
    call_failed: bool,
) -> Option<&'static str> {
    let r = ready.reason;
    let was_reason = was.and_then(|c| c.reason.as_deref());
    if ready.status == Truth::True {
        return None;
    }
    if was_reason == Some(r) {
        let new_errors = was.and_then(|c| c.message.as_deref()) != now.message.as_deref();
        return (r == reason::INVALID_CONFIG && new_errors).then_some(r);
    }
    match r {
        reason::CONNECTOR_FAILED | reason::TASK_FAILED
            if was_reason != Some(reason::RESTARTS_EXHAUSTED) =>
        {
            Some("Failed")
        }
        reason::RESTARTS_EXHAUSTED => Some("RestartsExhausted"),
        reason::INVALID_CONFIG | reason::NAME_CONFLICT | reason::PLUGIN_NOT_FOUND => Some(r),
        _ if call_failed && reason::is_error(r) => Some(r),
        _ => None,
    }
}

/// `Ready` for a config Connect refused (400), with one line per key: the refusal lists the errors without
/// their keys, so the same config is validated to get them (and its PASSWORD-typed keys, for redaction).
async fn refused_config(
    h: &ClusterHandle,
    d: &Desired,
    e: &shared::Error,
    redactor: &mut Redactor,
) -> Ready {
    let refusal = e.connect_message().unwrap_or_default();
    let class = d.config.get("connector.class").map_or("", String::as_str);
    match h.client().validate(class, &d.config).await {
        Ok(v) => {
            *redactor = std::mem::take(redactor).with_password_keys(&d.config, &v.password_keys());
            plan::rejected_config(&d.name, Some(&v), refusal)
        }
        Err(err) => {
            tracing::warn!(error = %err, "validating a refused config for its per-key errors");
            plan::rejected_config(&d.name, None, refusal)
        }
    }
}

/// Adds or removes our finalizer. The whole list is written with the object's resourceVersion as
/// precondition, so a concurrent change of the list fails with a conflict (and is retried) instead of
/// being lost.
async fn set_finalizer(
    o: &KafkaConnector,
    api: &Api<KafkaConnector>,
    ctx: &Ctx,
    add: bool,
) -> Result<()> {
    let mut list: Vec<String> = o
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    if add {
        list.push(FINALIZER.to_string());
    }
    let patch =
        json!({ "metadata": { "finalizers": list, "resourceVersion": o.resource_version() } });
    let _permit = ctx.kube_writes.acquire().await;
    api.patch(
        &o.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    ctx.metrics.kube_write("kafkaconnectors", "patch_finalizer");
    Ok(())
}

/// Writes a status whose only news is the `Ready` condition (the observed fields are kept).
async fn write_simple(
    o: &KafkaConnector,
    api: &Api<KafkaConnector>,
    ctx: &Ctx,
    ready: &Ready,
) -> Result<()> {
    let prev = o.status.as_ref();
    if reason::is_error(ready.reason) && prev_reason(prev) != Some(ready.reason) {
        let name = (o.namespace().unwrap_or_default(), o.name_any());
        tracing::warn!(namespace = %name.0, name = %name.1, reason = ready.reason, message = %ready.message, "not ready");
        if matches!(
            ready.reason,
            reason::INVALID_CONFIG | reason::NAME_CONFLICT | reason::DELETION_BLOCKED
        ) {
            ctx.event(o, true, ready.reason, "Reconcile", ready.message.clone())
                .await;
        }
    }
    let s = status::connector_status(
        prev,
        Parts {
            generation: o.meta().generation,
            reported: Reported::Keep,
            ready,
            auto_restart: prev.and_then(|s| s.auto_restart.clone()),
            handled_restart: None,
            handled_task_restart: None,
            topics: prev.map(|s| s.topics.clone()).unwrap_or_default(),
            redactor: &Redactor::default(),
            now: Utc::now(),
        },
    );
    write_status(o, api, ctx, prev, &s, false).await
}

/// Patches status with the minimal merge patch, and not at all when nothing changed. With `precondition`
/// the patch carries the object's resourceVersion, so it fails with a conflict if the object moved on.
async fn write_status(
    o: &KafkaConnector,
    api: &Api<KafkaConnector>,
    ctx: &Ctx,
    old: Option<&KafkaConnectorStatus>,
    new: &KafkaConnectorStatus,
    precondition: bool,
) -> Result<()> {
    let old = serde_json::to_value(old)?;
    let new_v = serde_json::to_value(new)?;
    let Some(diff) = status::merge_patch(&old, &new_v) else {
        return Ok(());
    };
    let mut patch = json!({ "status": diff });
    if precondition {
        patch["metadata"] = json!({ "resourceVersion": o.resource_version() });
    }
    api.patch_status(
        &o.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    ctx.metrics.kube_write("kafkaconnectors", "patch_status");
    Ok(())
}

/// Whether a manual restart that failed this way may simply be sent again: it was not sent (no
/// connection), or Connect answered "not now" (a rebalance, a server error). After a timeout it may have
/// happened; other refusals (no such task, …) would only repeat.
fn retry_manual(e: &shared::Error) -> bool {
    matches!(
        e,
        shared::Error::Rebalancing { .. }
            | shared::Error::Server { .. }
            | shared::Error::Unreachable { .. }
    )
}

/// `connectwarden.io/restart="…"` and/or `connectwarden.io/restart-task="…"`: the valid requests of a plan.
fn requested_by(i: &Input<'_>) -> String {
    let mut out = Vec::new();
    if let Some(restart::Request { value, ask: Ok(_) }) = &i.manual {
        out.push(format!("{ANNOTATION_RESTART}={value:?}"));
    }
    if let Some(restart::Request { value, ask: Ok(_) }) = &i.manual_task {
        out.push(format!("{ANNOTATION_RESTART_TASK}={value:?}"));
    }
    out.join(" and ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::connect::{ConnectorState as CS, TaskState};

    fn st() -> ConnectorStatus {
        ConnectorStatus {
            name: "c".into(),
            connector: CS {
                state: "RUNNING".into(),
                worker_id: None,
                trace: None,
            },
            tasks: vec![
                TaskState {
                    id: 0,
                    state: "FAILED".into(),
                    worker_id: None,
                    trace: None,
                },
                TaskState {
                    id: 1,
                    state: "RUNNING".into(),
                    worker_id: None,
                    trace: None,
                },
            ],
            kind: None,
        }
    }

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

    fn cond(reason: &str, message: &str) -> Condition {
        Condition {
            kind: "Ready".into(),
            status: "False".into(),
            reason: Some(reason.into()),
            message: Some(message.into()),
            ..Default::default()
        }
    }

    #[test]
    fn events_on_transitions_and_on_new_config_errors_only() {
        let bad = Ready::no(reason::INVALID_CONFIG, "x");
        let now = cond(reason::INVALID_CONFIG, "rejected:\ntopics: missing");
        // a refused config is announced, once
        assert_eq!(
            transition_event(None, &now, &bad, true),
            Some(reason::INVALID_CONFIG)
        );
        assert_eq!(transition_event(Some(&now), &now, &bad, true), None);
        // ... and again when its errors change
        let other = cond(reason::INVALID_CONFIG, "rejected:\nfile: missing");
        assert_eq!(
            transition_event(Some(&now), &other, &bad, true),
            Some(reason::INVALID_CONFIG)
        );
        // a failed call announces its error; a poll that finds the cluster down does not (the cluster does)
        let down = Ready::no(reason::CLUSTER_UNREACHABLE, "refused");
        let c = cond(reason::CLUSTER_UNREACHABLE, "refused");
        assert_eq!(
            transition_event(None, &c, &down, true),
            Some(reason::CLUSTER_UNREACHABLE)
        );
        assert_eq!(transition_event(None, &c, &down, false), None);
        let failed = Ready::no(reason::TASK_FAILED, "boom");
        let c = cond(reason::TASK_FAILED, "boom");
        assert_eq!(transition_event(None, &c, &failed, false), Some("Failed"));
        let exhausted = cond(reason::RESTARTS_EXHAUSTED, "gave up");
        assert_eq!(transition_event(Some(&exhausted), &c, &failed, false), None);
        let ok = Ready::yes(reason::RUNNING, "fine");
        assert_eq!(
            transition_event(Some(&c), &cond(reason::RUNNING, "fine"), &ok, false),
            None
        );
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
            reason::CLUSTER_UNREACHABLE
        );
        let e = shared::Error::Rejected {
            context: "x".into(),
            status: 400,
            message: "bad".into(),
        };
        assert_eq!(
            ready_from_error(&e, "c").unwrap().reason,
            reason::INVALID_CONFIG
        );
        let e = shared::Error::Server {
            context: "x".into(),
            status: 500,
            message: "m".into(),
        };
        assert_eq!(
            ready_from_error(&e, "c").unwrap().reason,
            reason::CONNECT_ERROR
        );
        let e = shared::Error::Rebalancing {
            context: "x".into(),
            status: 409,
            message: "Connector c already exists".into(),
        };
        assert!(already_exists(&e));
    }
}
