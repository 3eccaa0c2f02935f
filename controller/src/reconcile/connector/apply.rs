//! Bringing one KafkaConnector to its spec, in named steps: resolve the target → observe → plan →
//! execute → report → record metrics.

use std::ops::ControlFlow;
use std::sync::Arc;

use jiff::Timestamp;
use kube::runtime::controller::Action as Requeue;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use shared::config::{
    check_connector_name, describe_non_strings, effective_config, string_config,
    with_plugin_version,
};
use shared::config_from::source_label;
use shared::connect::{ConnectorStatus, InitialState};
use shared::crd::{
    ANNOTATION_OFFSETS, ANNOTATION_RESTART, ANNOTATION_RESTART_TASK, ConnectorState,
    KafkaConnector, KafkaConnectorStatus,
};
use shared::redact::Redactor;

use super::config_from;
use super::effects::{Effects, Live};
use super::execute::{Executed, Job, execute, report};
use super::offsets::{self, Held, Prepared};
use super::{obj_key, prev_reason, write_simple};
use crate::conditions::{Ready, Reason, Truth};
use crate::connect_runtime::{ConnectCluster, LatestPoll, PollError, PolledConnector};
use crate::contention;
use crate::context::{Ctx, WINNER_LEAVING_RECHECK};
use crate::error::Result;
use crate::fingerprints::{Fingerprints, Prints, ValueChange, changes};
use crate::plan::{self, Action, Caps, Change, Desired, Input, Observed, Recent};
use crate::restart::{self, Policy};
use crate::status::{self, Reported};

pub(super) async fn apply(o: &KafkaConnector, ctx: &Arc<Ctx>) -> Result<Requeue> {
    let resync = Requeue::requeue(ctx.settings.resync);
    let (cluster, desired, prints) = match resolve(o, ctx).await? {
        ControlFlow::Continue(go) => go,
        ControlFlow::Break(again) => return Ok(again),
    };
    let Some(seen) = observe(o, &cluster, &desired.name) else {
        return Ok(resync);
    };
    // An offsets alter or reset holds the wanted state at stopped until it ran; then the spec's state is
    // restored by the same plan that keeps it.
    let held = offsets::prepare(o, ctx, &cluster.label, seen.version.as_deref()).await?;
    let holding = match &held {
        Prepared::Ready(h) if h.op.needs_stopped() => Some(h),
        _ => None,
    };
    let mut desired = desired;
    if holding.is_some() {
        desired.state = ConnectorState::Stopped;
    }

    let key = obj_key(o);
    let before = ctx.fingerprints.previous(&key);
    // Without an earlier record (a new connector, or a restarted controller) a difference cannot be told
    // from drift: it is reported as an update.
    let values_changed = match &before {
        Some(b) => *b != prints,
        None => !prints.is_empty(),
    };
    let input = plan_input(o, ctx, &desired, &seen, values_changed);
    let mut p = plan::plan(&input);
    tracing::debug!(actions = ?p.actions, ready = ?p.ready.reason, "planned");

    let fx = Live {
        ctx,
        o,
        cluster: &cluster,
        desired: &desired,
        reported: seen.status(),
    };
    contend(o, ctx, &cluster, &desired, &seen, &mut p, &fx).await;
    warn_once(ctx, &key, &p.warnings, &fx).await;
    if let Some(h) = holding {
        hold_for_offsets(o, &desired, h, &mut p, &fx).await;
    }
    let job = job(o, key, &desired, &input, &seen, &cluster);
    // Every value read through configFrom is a secret here, whatever its key or its type on Connect.
    let from_keys = o.spec.config_from.keys().cloned().collect();
    let mut redactor = Redactor::new(&desired.config, &from_keys);
    let puts_config = p
        .actions
        .iter()
        .any(|a| matches!(a, Action::PutConfig | Action::Create(_)));
    let in_sync = !puts_config && matches!(seen.observed(), Observed::Present { .. });
    let mut ex = execute(&job, p, &mut redactor, &fx, &ctx.retries, &ctx.metrics).await?;
    offsets_step(&held, &mut ex, &fx).await?;
    if (puts_config && ex.sent) || in_sync {
        if ex.sent
            && let Some(b) = &before
        {
            announce_values(&fx, o, b, &prints).await;
        }
        ctx.fingerprints.record(&job.key, prints);
    }
    let new = report(&job, &ex, &redactor, &fx).await?;
    announce_version(&fx, &desired.name, o.status.as_ref(), &new).await;
    record_metrics(o, ctx, &cluster, &desired, seen.status(), &new);

    Ok(match ex.requeue {
        Some(d) => Requeue::requeue(d.min(ctx.settings.resync)),
        None => resync,
    })
}

/// A Warning event for each request value that cannot be acted on, once per value.
async fn warn_once(ctx: &Ctx, key: &str, warnings: &[String], fx: &impl Effects) {
    for w in warnings {
        if ctx.retries.first_warning(key, w) {
            fx.event(true, "InvalidAnnotation", "Restart", w.clone())
                .await;
        }
    }
}

/// While an offsets alter or reset holds the connector stopped: an event when the plan stops it, and
/// `Ready` saying why it is not in its spec's state.
async fn hold_for_offsets(
    o: &KafkaConnector,
    desired: &Desired,
    h: &Held,
    p: &mut plan::Plan,
    fx: &impl Effects,
) {
    let wanted = o.spec.state;
    let stopping = p.actions.iter().any(|a| {
        matches!(
            a,
            Action::Stop | Action::Pause | Action::Create(InitialState::Stopped)
        )
    });
    if stopping {
        let note = crate::offsets::stopping_note(
            &desired.name,
            h.op,
            &h.value,
            &format!("{wanted:?}").to_lowercase(),
        );
        fx.event(false, "OffsetsStopping", "Offsets", note).await;
    }
    if p.ready.status != Truth::True {
        p.ready.message = format!(
            "{}; to {} its offsets as asked by {ANNOTATION_OFFSETS}={:?}",
            p.ready.message,
            h.op.as_str(),
            h.value
        );
    }
}

/// What this reconcile works on, besides the plan.
fn job<'a>(
    o: &'a KafkaConnector,
    key: String,
    desired: &'a Desired,
    input: &'a Input<'a>,
    seen: &'a Seen,
    cluster: &'a ConnectCluster,
) -> Job<'a> {
    Job {
        key,
        prev: o.status.as_ref(),
        generation: o.meta().generation,
        desired,
        input,
        reported: seen.reported(),
        // Values read through configFrom stay out of status, topic names too.
        topics: status::topics_of(
            &desired
                .config
                .iter()
                .filter(|(k, _)| !o.spec.config_from.contains_key(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        progress: match cluster.lag.report(&desired.name) {
            Ok(r) => r.map(|r| r.to_status()),
            Err(_) => o.status.as_ref().and_then(|s| s.progress.clone()),
        },
        cluster: &cluster.label,
    }
}

/// After the plan's calls: a refused offsets request ends, and a held one runs once Connect reports the
/// connector as the request needs it and nothing else is under way (`fx.reported`: what Connect reported
/// before the calls). Its outcome is an event and, in `ex`, a status change.
async fn offsets_step(held: &Prepared, ex: &mut Executed, fx: &Live<'_>) -> Result<()> {
    let (o, ctx, cluster, desired) = (fx.o, fx.ctx, fx.cluster, fx.desired);
    let outcome = match held {
        Prepared::Nothing => None,
        Prepared::Refused(out) => Some(out.clone()),
        Prepared::Ready(h) => {
            let state = fx.reported.map(|s| s.connector.state.as_str());
            let run = ex.plan.actions.is_empty()
                && !ex.call_failed
                && crate::offsets::step(h.op, state) == crate::offsets::Step::Run;
            let out = if run {
                offsets::run(h, o, ctx, cluster, &desired.name).await?
            } else {
                None
            };
            if out.is_none() {
                // Look again soon: the stop, or Connect, may be ready then.
                ex.requeue = Some(ex.requeue.map_or(OFFSETS_RETRY, |r| r.min(OFFSETS_RETRY)));
            }
            out
        }
    };
    if let Some(out) = outcome {
        fx.event(!out.ok, out.event_reason(), "Offsets", out.message.clone())
            .await;
        let holding = matches!(held, Prepared::Ready(h) if h.op.needs_stopped());
        if holding && o.spec.state != ConnectorState::Stopped {
            // Done or failed, the wanted state comes back: at once rather than at the next resync.
            ex.requeue = Some(OFFSETS_RETRY);
        }
        ex.offsets = Some(out);
    }
    Ok(())
}

/// Holds every write of the plan while another writer keeps changing the connector on Connect, and
/// records the drift corrections that tell (see `contention`).
async fn contend(
    o: &KafkaConnector,
    ctx: &Ctx,
    cluster: &ConnectCluster,
    desired: &Desired,
    seen: &Seen,
    p: &mut plan::Plan,
    fx: &impl Effects,
) {
    let key = obj_key(o);
    let limits = &ctx.settings.contention;
    let prev = o.status.as_ref().and_then(|s| s.contention.as_ref());
    let held = prev.is_some_and(|c| c.held_since.is_some());
    let digest = match seen.observed() {
        Observed::Present { config, .. } => config,
        _ => None,
    };
    let looked = contention::Seen {
        drift: matches!(
            p.change,
            Some(Change::DriftCorrected | Change::Recreated | Change::StateReverted)
        ),
        changed: held && ctx.contention_seen.changed(&key, digest),
    };
    match contention::judge(limits, prev, o.meta().generation, looked, Timestamp::now()) {
        contention::Verdict::Write { status, resumed } => {
            if let Some(why) = resumed {
                ctx.contention_seen.forget(&key);
                let note = contention::resumed_message(&desired.name, why, limits);
                fx.event(false, "ContentionEnded", "Reconcile", note).await;
            }
            p.contention = status;
        }
        contention::Verdict::Hold {
            mut status,
            started,
            recheck_after,
        } => {
            if started {
                // The first look of the hold: what Connect has now is what later looks compare with.
                ctx.contention_seen.changed(&key, digest);
                status.keys = keys_on_connect(cluster, desired).await;
            }
            let message = contention::held_message(&desired.name, &status, limits);
            if started {
                fx.event(true, "Contended", "Reconcile", message.clone())
                    .await;
            }
            // No write at all: no config, no state change, no restart; requests wait for the resume.
            p.actions.clear();
            p.change = None;
            p.persist_first = false;
            p.exhausted = false;
            p.auto_restart = o.status.as_ref().and_then(|s| s.auto_restart.clone());
            p.handled_restart = None;
            p.handled_task_restart = None;
            p.ready = Ready::no(Reason::Contended, message);
            p.requeue_after = Some(
                p.requeue_after
                    .map_or(recheck_after, |r| r.min(recheck_after)),
            );
            p.contention = Some(status);
        }
    }
}

/// How soon a reconcile looks again while an offsets request waits for Connect.
const OFFSETS_RETRY: std::time::Duration = std::time::Duration::from_secs(2);

/// An event when the plugin version Connect runs changed (after `spec.version` changed), naming both.
async fn announce_version(
    fx: &impl Effects,
    name: &str,
    prev: Option<&KafkaConnectorStatus>,
    new: &KafkaConnectorStatus,
) {
    let was = prev.and_then(|s| s.plugin_version.as_deref());
    if let (Some(was), Some(now)) = (was, new.plugin_version.as_deref())
        && was != now
    {
        fx.event(
            false,
            "VersionChanged",
            "Update",
            format!("connector {name:?} now runs plugin version {now} (was {was})"),
        )
        .await;
    }
}

/// Events naming the config keys whose values read through configFrom changed (never the values).
async fn announce_values(fx: &impl Effects, o: &KafkaConnector, before: &Prints, now: &Prints) {
    let ns = o.namespace().unwrap_or_default();
    for change in changes(before, now) {
        let note = match &change {
            ValueChange::Updated(k) => match o.spec.config_from.get(k) {
                Some(src) => format!("config key {k:?} updated from {}", source_label(&ns, src)),
                None => format!("config key {k:?} updated"),
            },
            ValueChange::LeftOut(k) => match o.spec.config_from.get(k) {
                Some(src) => format!(
                    "config key {k:?} left out: {} or its key {:?} is missing (optional)",
                    source_label(&ns, src),
                    src.selector().key
                ),
                None => format!("config key {k:?} no longer set from configFrom"),
            },
        };
        fx.event(false, "ConfigValueUpdated", "Update", note).await;
    }
}

/// Where and what: the cluster must exist, allow this namespace and be set up; one KafkaConnector per
/// connector name and Kafka Connect; the config as strings (the webhook may have been bypassed), with the
/// values `configFrom` names, and a usable name. `Break` with when to look again when the connector cannot
/// go on (its status says why). With the desired config come the fingerprints of the values read through
/// `configFrom`.
async fn resolve(
    o: &KafkaConnector,
    ctx: &Ctx,
) -> Result<ControlFlow<Requeue, (Arc<ConnectCluster>, Desired, Prints)>> {
    let resync = Requeue::requeue(ctx.settings.resync);
    let name = o.connector_name();
    let cluster = match ctx.target(o) {
        Ok(c) => c,
        // The cluster exists but its client is being set up (e.g. at start-up): its first poll triggers
        // this connector again. Nothing to report meanwhile, unless status still says the cluster is
        // missing or broken (it was just created or fixed).
        Err(ready) if ready.status == Truth::Unknown => {
            if prev_reason(o.status.as_ref())
                .is_some_and(|r| r.is_cluster_problem() && r != ready.reason)
            {
                write_simple(o, ctx, &ready).await?;
            }
            return Ok(ControlFlow::Break(resync));
        }
        Err(ready) => {
            write_simple(o, ctx, &ready).await?;
            return Ok(ControlFlow::Break(resync));
        }
    };
    let mut again = resync;
    let refusal = if let Some(winner) = ctx.conflict_winner(o, &cluster.id) {
        // A winner being deleted: look again soon, to take over once it is gone (nothing else wakes us).
        if winner.leaving {
            again = Requeue::requeue(WINNER_LEAVING_RECHECK);
        }
        Some(Ready::no(
            Reason::NameConflict,
            format!(
                "connector {name:?} on cluster {} is already managed by {winner}",
                cluster.label
            ),
        ))
    } else {
        match string_config(&o.spec.config) {
            Err(bad) => Some(Ready::no(
                Reason::InvalidConfig,
                describe_non_strings(&bad).join("; "),
            )),
            Ok(config) => match check_connector_name(&name) {
                Err(why) => Some(Ready::no(Reason::InvalidConfig, why)),
                Ok(()) => match config_from::values(o, ctx, &config).await? {
                    Err(ready) => Some(ready),
                    Ok(values) => {
                        let prints = Fingerprints::of(&values);
                        let mut config = config;
                        config.extend(values);
                        let desired = Desired {
                            config: with_plugin_version(
                                effective_config(&name, &o.spec.class, o.spec.tasks_max, &config),
                                o.spec.version.as_deref(),
                            ),
                            name,
                            state: o.spec.state,
                        };
                        return Ok(ControlFlow::Continue((cluster, desired, prints)));
                    }
                },
            },
        }
    };
    if let Some(ready) = refusal {
        write_simple(o, ctx, &ready).await?;
    }
    Ok(ControlFlow::Break(again))
}

/// This connector's entry in the cluster's latest poll, kept alone: a reconcile waiting on a write must not
/// hold a whole poll alive.
struct Seen {
    version: Option<String>,
    entry: Result<Option<PolledConnector>, PollError>,
    recent: Recent,
}

impl Seen {
    fn observed(&self) -> Observed<'_> {
        match &self.entry {
            Err(e) => Observed::Unreachable {
                reason: e.reason,
                message: &e.message,
            },
            Ok(None) => Observed::Absent,
            Ok(Some(x)) => Observed::Present {
                status: x.status.as_ref(),
                config: x.config,
            },
        }
    }

    fn status(&self) -> Option<&ConnectorStatus> {
        match &self.entry {
            Ok(Some(x)) => x.status.as_ref(),
            _ => None,
        }
    }

    fn reported(&self) -> Reported<'_> {
        match &self.entry {
            Err(_) => Reported::Keep,
            Ok(_) => self.status().map_or(Reported::Nothing, Reported::Status),
        }
    }
}

/// The latest poll, if it can show our last write; else `None`, and the connector is reconciled after the
/// next poll.
fn observe(o: &KafkaConnector, cluster: &ConnectCluster, name: &str) -> Option<Seen> {
    match cluster.latest_poll(name) {
        LatestPoll::Stale => {
            cluster.wake_after_poll(ObjectRef::from_obj(o));
            None
        }
        LatestPoll::Fresh { snapshot, recent } => Some(Seen {
            version: snapshot.info.as_ref().map(|i| i.version.clone()),
            entry: match &snapshot.connectors {
                Err(e) => Err(e.clone()),
                Ok(map) => Ok(map.get(name).cloned()),
            },
            recent,
        }),
    }
}

fn plan_input<'a>(
    o: &'a KafkaConnector,
    ctx: &Ctx,
    desired: &'a Desired,
    seen: &'a Seen,
    values_changed: bool,
) -> Input<'a> {
    let prev = o.status.as_ref();
    let annotations = o.annotations();
    Input {
        desired,
        observed: seen.observed(),
        recent: seen.recent,
        caps: Caps::for_version(seen.version.as_deref()),
        applied: prev.and_then(|s| s.observed_generation) == o.meta().generation
            && o.meta().generation.is_some(),
        values_changed,
        last_state: prev.and_then(|s| s.connector_state.as_deref()),
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
        now: Timestamp::now(),
    }
}

/// The connector's series: what Connect reported, uptime since Ready turned True with reason Running
/// (so it survives a controller restart), and whether automatic restarts gave up.
fn record_metrics(
    o: &KafkaConnector,
    ctx: &Ctx,
    cluster: &ConnectCluster,
    desired: &Desired,
    reported: Option<&ConnectorStatus>,
    new: &KafkaConnectorStatus,
) {
    let key = (o.namespace().unwrap_or_default(), o.name_any());
    let ready = status::ready_of(&new.conditions);
    let reason = ready
        .and_then(|c| c.reason.as_deref())
        .and_then(Reason::parse);
    let healthy_since = ready
        .filter(|c| c.status == "True" && reason == Some(Reason::Running))
        .and_then(|c| c.last_transition_time.as_deref())
        .and_then(restart::parse_time);
    ctx.metrics
        .connectors
        .observe(&key, &cluster.label, &desired.name, reported, healthy_since);
    ctx.metrics.connectors.set_given_up(
        &key,
        reason == Some(Reason::RestartsExhausted),
        reason == Some(Reason::Contended),
    );
}

/// The config keys the other writer changes, as Connect has them now: names only, one read per hold. That
/// writer's PUT has usually just started a rebalance, during which Connect answers 409: waited out briefly,
/// so the hold's message names the keys. Empty if Connect cannot say.
async fn keys_on_connect(cluster: &ConnectCluster, desired: &Desired) -> Vec<String> {
    for _ in 0..5 {
        match cluster.client().get_config(&desired.name).await {
            Ok(theirs) => return contention::differing_keys(&desired.config, &theirs),
            Err(shared::Error::Rebalancing { .. }) => {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await
            }
            Err(_) => break,
        }
    }
    Vec::new()
}
