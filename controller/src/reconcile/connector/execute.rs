//! Carrying out a plan: store what must be stored before a restart is sent, send the calls, settle what a
//! failed call means, then report (status, events). All effects go through [`Effects`].

use std::time::Duration;

use jiff::Timestamp;
use shared::crd::{
    ANNOTATION_RESTART, ANNOTATION_RESTART_TASK, KafkaConnectorStatus, ProgressStatus,
};
use shared::redact::Redactor;

use super::KIND;
use super::announce::{announce, progress_events, transition_event};
use super::effects::{Called, Effects};
use crate::conditions::{Ready, Reason};
use crate::error::Result;
use crate::metrics::Metrics;
use crate::offsets::Outcome;
use crate::plan::{self, Action, Change, Desired, Input, Plan, Trigger};
use crate::restart;
use crate::retries::Retries;
use crate::status::{self, Parts, Reported};

/// What one reconcile works on, besides the plan.
pub(super) struct Job<'a> {
    /// `namespace/name`, for the retry state.
    pub key: String,
    pub prev: Option<&'a KafkaConnectorStatus>,
    pub generation: Option<i64>,
    pub desired: &'a Desired,
    pub input: &'a Input<'a>,
    pub reported: Reported<'a>,
    pub topics: Vec<String>,
    /// What lag measurement says of the connector.
    pub progress: Option<ProgressStatus>,
    /// The cluster's label, for messages.
    pub cluster: &'a str,
}

impl Job<'_> {
    fn status(
        &self,
        p: &Plan,
        offsets: Option<&Outcome>,
        redactor: &Redactor,
    ) -> KafkaConnectorStatus {
        let mut s = status::connector_status(
            self.prev,
            Parts {
                generation: self.generation,
                reported: self.reported,
                ready: &p.ready,
                auto_restart: p.auto_restart.clone(),
                contention: p.contention.clone(),
                // Topic names read through configFrom stay out of status, as everywhere.
                progress: self.progress.clone().map(|mut g| {
                    g.message = g.message.map(|m| redactor.redact(&m));
                    if let Some(d) = &mut g.dead_letters {
                        d.topic = redactor.redact(&d.topic);
                    }
                    g
                }),
                handled_restart: p.handled_restart.clone(),
                handled_task_restart: p.handled_task_restart.clone(),
                topics: self.topics.clone(),
                redactor,
                now: Timestamp::now(),
            },
        );
        if let Some(o) = offsets {
            status::record_offsets(&mut s, o, self.generation, Timestamp::now());
        }
        s
    }
}

/// A plan after its calls: what to report, and when to look again.
pub(super) struct Executed {
    pub plan: Plan,
    /// An offsets request that ended now (set after the plan's calls, by the reconciler).
    pub offsets: Option<Outcome>,
    /// The status as last written (after the write that had to come first).
    pub written: Option<KafkaConnectorStatus>,
    pub call_failed: bool,
    /// Every planned call was sent and accepted (false when there were none).
    pub sent: bool,
    pub requeue: Option<Duration>,
}

/// Writes what must be stored first, sends the plan's calls in order (stopping at the first error) and
/// settles a failure: a restart Connect refused does not count, a request Connect was not ready for stays
/// open, the `Ready` condition says what went wrong.
pub(super) async fn execute(
    job: &Job<'_>,
    mut p: Plan,
    redactor: &mut Redactor,
    fx: &impl Effects,
    retries: &Retries,
    metrics: &Metrics,
) -> Result<Executed> {
    // A restart (its count, or the request value) is recorded before it is sent, with the object's
    // resourceVersion as precondition: a new leader reading this status never repeats it, and a stale cache
    // gets a conflict instead.
    let mut written = job.prev.cloned();
    if p.persist_first {
        let s = job.status(&p, None, redactor);
        write(fx, written.as_ref(), &s, true).await?;
        written = Some(s);
    }

    let mut requeue = p.requeue_after;
    let mut call_failed = false;
    if p.actions.is_empty() {
        retries.succeeded(&job.key);
        return Ok(Executed {
            plan: p,
            offsets: None,
            written,
            call_failed,
            sent: false,
            requeue,
        });
    }
    let mut sent = Ok(());
    for a in &p.actions {
        match fx.call(a).await {
            Ok(Called::Done) => {}
            // Adopted, not created: an update at most.
            Ok(Called::Existing { updated }) => p.change = updated.then_some(Change::Updated),
            Err(e) => {
                sent = Err(e);
                break;
            }
        }
    }
    let all_sent = sent.is_ok();
    match sent {
        Ok(()) => {
            retries.succeeded(&job.key);
            announce(fx, job.cluster, &p, job.desired).await;
        }
        Err(e) => {
            let delay = retries.backoff(&job.key);
            // Connect's error bodies may echo the config.
            tracing::warn!(error = %redactor.redact(&e.to_string()), retry_in = ?delay, "Kafka Connect call failed");
            metrics.reconcile_error(KIND, e.reason());
            call_failed = settle_failure(job, &mut p, &e, &mut requeue, redactor, fx).await;
            requeue = Some(requeue.map_or(delay, |r| r.min(delay)));
        }
    }
    Ok(Executed {
        plan: p,
        offsets: None,
        written,
        call_failed,
        sent: all_sent,
        requeue,
    })
}

/// What a failed call means for the plan: a restart Connect refused does not count (and is tried again
/// soon, through `requeue`), a manual request Connect was not ready for stays open and one that failed is
/// a Warning event, and `Ready` says what went wrong. Whether `Ready` changed (a rebalance keeps the
/// planned one: it is retried without alarming anyone).
async fn settle_failure(
    job: &Job<'_>,
    p: &mut Plan,
    e: &shared::Error,
    requeue: &mut Option<Duration>,
    redactor: &mut Redactor,
    fx: &impl Effects,
) -> bool {
    if p.persist_first && e.status().is_some() {
        // Connect refused the restart (e.g. 409 during a rebalance): it did not happen, so it does
        // not count. (After a timeout it may have happened: then it counts.)
        p.auto_restart = job.prev.and_then(|s| s.auto_restart.clone());
        *requeue = Some(Duration::from_secs(1));
    }
    let manual = p
        .actions
        .iter()
        .any(|a| a.trigger() == Some(Trigger::Manual));
    if manual && retry_manual(e) {
        // Not sent, or Connect said "not now": the request stays open and is retried.
        if matches!(job.input.manual, Some(restart::Request { ask: Ok(_), .. })) {
            p.handled_restart = None;
        }
        if matches!(
            job.input.manual_task,
            Some(restart::Request { ask: Ok(_), .. })
        ) {
            p.handled_task_restart = None;
        }
    } else if manual {
        let note = format!(
            "the restart asked by {} failed: {e}; set a new value to try again",
            requested_by(job.input)
        );
        fx.event(true, "RestartFailed", "Restart", redactor.redact(&note))
            .await;
    }
    let config_refused = e.status() == Some(400)
        && p.actions
            .iter()
            .any(|a| matches!(a, Action::PutConfig | Action::Create(_)));
    let ready = if config_refused {
        Some(refused_config(fx, job.desired, e, redactor).await)
    } else {
        ready_from_error(e, job.cluster)
    };
    let failed = ready.is_some();
    if let Some(ready) = ready {
        p.ready = ready;
    }
    failed
}

/// Writes the status (only when it changed) and publishes the event a `Ready` transition deserves.
pub(super) async fn report(
    job: &Job<'_>,
    ex: &Executed,
    redactor: &Redactor,
    fx: &impl Effects,
) -> Result<KafkaConnectorStatus> {
    let new = job.status(&ex.plan, ex.offsets.as_ref(), redactor);
    let was = job.prev.and_then(|s| status::ready_of(&s.conditions));
    if let Some(now) = status::ready_of(&new.conditions)
        && let Some(r) = transition_event(was, now, &ex.plan.ready, ex.call_failed)
    {
        // The condition's message: redacted and cut already.
        let note = now.message.clone().unwrap_or_default();
        fx.event(true, r, "Reconcile", note).await;
    }
    let was = job.prev.and_then(|s| s.progress.as_ref());
    for (warning, reason, note) in progress_events(&job.desired.name, was, new.progress.as_ref()) {
        fx.event(warning, reason, "Progress", note).await;
    }
    write(fx, ex.written.as_ref(), &new, false).await?;
    Ok(new)
}

/// Patches status from `old` to `new`, and not at all when nothing changed.
async fn write(
    fx: &impl Effects,
    old: Option<&KafkaConnectorStatus>,
    new: &KafkaConnectorStatus,
    precondition: bool,
) -> Result<()> {
    match status::patch(old, new)? {
        Some(diff) => fx.patch_status(diff, precondition).await,
        None => Ok(()),
    }
}

/// `Ready` for a config Connect refused (400), with one line per key: the refusal lists the errors without
/// their keys, so the same config is validated to get them (and its PASSWORD-typed keys, for redaction).
async fn refused_config(
    fx: &impl Effects,
    d: &Desired,
    e: &shared::Error,
    redactor: &mut Redactor,
) -> Ready {
    let refusal = e.connect_message().unwrap_or_default();
    let class = d.config.get("connector.class").map_or("", String::as_str);
    match fx.validate(class, &d.config).await {
        Ok(v) => {
            *redactor = std::mem::take(redactor).with_password_keys(&d.config, &v.password_keys());
            plan::rejected_config(&d.name, Some(&v), refusal)
        }
        Err(err) => {
            tracing::warn!(error = %redactor.redact(&err.to_string()), "validating a refused config for its per-key errors");
            plan::rejected_config(&d.name, None, refusal)
        }
    }
}

/// The `Ready` condition a failed Connect call leads to; `None` keeps the planned one (a rebalance is
/// retried without alarming anyone).
pub(super) fn ready_from_error(e: &shared::Error, cluster: &str) -> Option<Ready> {
    use shared::Error as E;
    Some(match e {
        E::Rebalancing { .. } => return None,
        E::Timeout { .. } | E::Unreachable { .. } => Ready::no(
            Reason::ClusterUnreachable,
            format!("Kafka Connect cluster {cluster}: {e}"),
        ),
        E::Unauthorized { .. } => Ready::no(Reason::Unauthorized, e.to_string()),
        E::PluginNotFound { .. } => Ready::no(Reason::PluginNotFound, e.to_string()),
        E::Rejected { status: 400, .. } => Ready::no(Reason::InvalidConfig, e.to_string()),
        _ => Ready::no(Reason::ConnectError, e.to_string()),
    })
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
