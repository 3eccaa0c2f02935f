//! The KafkaConnector reconciler: our finalizer first, then (unless paused) bring the connector to its spec
//! (`apply`), or delete it from Connect when the object goes (`cleanup`).

mod announce;
mod apply;
mod config_from;
mod effects;
mod execute;
mod offsets;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use kube::runtime::controller::Action as Requeue;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use shared::crd::{
    ANNOTATION_PAUSE_RECONCILIATION, DeletionPolicy, FINALIZER, KafkaConnector,
    KafkaConnectorStatus,
};
use shared::redact::Redactor;
use shared::target::ClusterId;

use crate::conditions::{Ready, Reason};
use crate::connect_runtime::ConnectCluster;
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::status::{self, Parts, Reported};

const KIND: &str = "KafkaConnector";

pub(crate) async fn reconcile(obj: Arc<KafkaConnector>, ctx: Arc<Ctx>) -> Result<Requeue> {
    let timer = ctx.metrics.reconcile_timer(KIND);
    let span = tracing::info_span!(
        "reconcile",
        namespace = %obj.namespace().unwrap_or_default(),
        name = %obj.name_any(),
        cluster = %ClusterId::of_connector(&obj).label()
    );
    let result = tracing::Instrument::instrument(reconcile_inner(&obj, &ctx), span).await;
    timer.failed(result.as_ref().err().map(Error::reason));
    result
}

// Not `kube::runtime::finalizer`: it writes the finalizer with its own patch, outside `KubeWrites` (no
// write permit, no write metric), and a paused connector must get no write at all, not even a finalizer.
async fn reconcile_inner(obj: &KafkaConnector, ctx: &Arc<Ctx>) -> Result<Requeue> {
    let has_finalizer = obj.finalizers().iter().any(|f| f == FINALIZER);
    if obj.meta().deletion_timestamp.is_some() {
        if !has_finalizer {
            return Ok(Requeue::await_change());
        }
        let next = cleanup(obj, ctx).await?;
        ctx.writes.set_finalizer(obj, FINALIZER, false).await?;
        return Ok(next);
    }
    if paused(obj) {
        // Hands off: no Connect call, no status write.
        return Ok(Requeue::await_change());
    }
    if !has_finalizer {
        // The update's watch event brings the object back here.
        ctx.writes.set_finalizer(obj, FINALIZER, true).await?;
        return Ok(Requeue::await_change());
    }
    if crate::policies::sync_condition(obj, &ctx.policies).await? {
        // The status write's watch event brings the object back here, with the condition as written.
        return Ok(Requeue::await_change());
    }
    apply::apply(obj, ctx).await
}

/// What the controller does after a failed reconcile: retry with backoff.
pub(crate) fn error_policy(obj: Arc<KafkaConnector>, err: &Error, ctx: Arc<Ctx>) -> Requeue {
    if err.is_conflict() {
        return Requeue::requeue(Duration::from_millis(500));
    }
    let delay = ctx.retries.backoff(&obj_key(&obj));
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

fn prev_reason(prev: Option<&KafkaConnectorStatus>) -> Option<Reason> {
    prev.and_then(|s| status::ready_of(&s.conditions))
        .and_then(|c| c.reason.as_deref())
        .and_then(Reason::parse)
}

/// Deletes the connector from Connect (unless orphaned, paused or managed by another KafkaConnector).
async fn cleanup(o: &KafkaConnector, ctx: &Arc<Ctx>) -> Result<Requeue> {
    let name = o.connector_name();
    let done = |ctx: &Arc<Ctx>| {
        ctx.metrics
            .connectors
            .forget(&(o.namespace().unwrap_or_default(), o.name_any()));
        ctx.retries.succeeded(&obj_key(o));
        ctx.fingerprints.forget(&obj_key(o));
        ctx.contention_seen.forget(&obj_key(o));
    };
    if o.spec.deletion_policy == DeletionPolicy::Orphan || paused(o) {
        let why = if paused(o) {
            "reconciliation is paused"
        } else {
            "deletionPolicy is Orphan"
        };
        ctx.writes
            .event(
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
    let name = &name;
    let blocked = |why: String| async move {
        let msg = format!(
            "waiting to delete connector {name:?} from Kafka Connect: {why}; set spec.deletionPolicy: Orphan to delete this KafkaConnector without it"
        );
        write_simple(o, ctx, &Ready::no(Reason::DeletionBlocked, msg.clone())).await?;
        Err::<Requeue, _>(Error::DeletionBlocked(msg))
    };
    let c = match ctx.deletion_target(o) {
        Ok(c) => c,
        Err(ready) => return blocked(ready.message).await,
    };
    if let Some(winner) = ctx.conflict_winner(o, &c.id) {
        tracing::info!(%winner, "not deleting a connector another KafkaConnector manages");
        done(ctx);
        return Ok(Requeue::await_change());
    }
    if o.spec.deletion_policy == DeletionPolicy::DeleteAndResetOffsets
        && let Err(why) = offsets::reset_before_delete(o, ctx, &c, name).await
    {
        return blocked(why).await;
    }
    match delete(&c, name).await {
        Ok(()) => {
            c.forget(name);
            c.wake_after_poll(ObjectRef::from_obj(o));
            ctx.writes
                .event(
                    o,
                    false,
                    "Deleted",
                    "Delete",
                    format!(
                        "deleted connector {name:?} from Kafka Connect cluster {}",
                        c.label
                    ),
                )
                .await;
            done(ctx);
            Ok(Requeue::await_change())
        }
        Err(why) => blocked(why).await,
    }
}

/// Deletes the connector from Connect, holding one of the cluster's write slots; a 404 counts as deleted
/// only as [`gone_after_not_found`] says.
async fn delete(c: &ConnectCluster, name: &str) -> std::result::Result<(), String> {
    let _permit = c.writes.acquire().await;
    match c.client().delete(name).await {
        Err(shared::Error::NotFound { .. }) => {
            let list = c.client().list().await;
            gone_after_not_found(list, name)
        }
        other => other.map_err(|e| e.to_string()),
    }
}

/// Whether a connector that Kafka Connect answered 404 for on DELETE is really gone: only when Connect's list,
/// asked right after, answers and does not name it. A worker that is starting answers 404 to every request
/// until its REST resources serve (seen with Kafka Connect 4.x right after a restart); taking that for
/// "already deleted" would drop the finalizer and leave the connector running on Connect.
fn gone_after_not_found(list: shared::Result<Vec<String>>, name: &str) -> Result<(), String> {
    match list {
        Ok(names) if names.iter().any(|n| n == name) => Err(format!(
            "Kafka Connect answered DELETE with 404 but still lists connector {name:?} (is the worker starting?)"
        )),
        Ok(_) => Ok(()),
        Err(e) => Err(format!(
            "Kafka Connect answered DELETE with 404 and its connector list failed: {e}"
        )),
    }
}

/// Writes a status whose only news is the `Ready` condition (the observed fields are kept).
async fn write_simple(o: &KafkaConnector, ctx: &Ctx, ready: &Ready) -> Result<()> {
    let prev = o.status.as_ref();
    if ready.reason.is_error() && prev_reason(prev) != Some(ready.reason) {
        tracing::warn!(namespace = %o.namespace().unwrap_or_default(), name = %o.name_any(), reason = %ready.reason, message = %ready.message, "not ready");
        if matches!(
            ready.reason,
            Reason::InvalidConfig | Reason::NameConflict | Reason::DeletionBlocked
        ) {
            ctx.writes
                .event(
                    o,
                    true,
                    ready.reason.as_str(),
                    "Reconcile",
                    ready.message.clone(),
                )
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
            contention: prev.and_then(|s| s.contention.clone()),
            progress: prev.and_then(|s| s.progress.clone()),
            handled_restart: None,
            handled_task_restart: None,
            topics: prev.map(|s| s.topics.clone()).unwrap_or_default(),
            redactor: &Redactor::default(),
            now: Timestamp::now(),
        },
    );
    ctx.writes.write_status(o, prev, &s, false).await
}
