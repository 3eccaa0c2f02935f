//! Offsets requests at the edges: reading what a request needs (the ConfigMap an alter applies), running it on
//! Kafka Connect, writing a list into its ConfigMap, and resetting offsets before a delete
//! (`deletionPolicy: DeleteAndResetOffsets`). The decisions are in `crate::offsets`.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use kube::{Resource, ResourceExt};
use shared::connect::{ConnectClient, Offsets};
use shared::crd::{ANNOTATION_OFFSETS, KafkaConnector, OFFSETS_KEY};
use shared::offsets::{parse, partitions, render};

use crate::connect_runtime::ConnectCluster;
use crate::context::Ctx;
use crate::error::Result;
use crate::offsets::{self, Op, Outcome};

/// A valid offsets request the cluster's Connect supports, with the document an alter applies.
#[derive(Debug)]
pub(super) struct Held {
    pub value: String,
    pub op: Op,
    pub doc: Option<Offsets>,
}

#[derive(Debug)]
pub(super) enum Prepared {
    Nothing,
    /// Handled at once: invalid, unsupported, or what it needs is missing or malformed.
    Refused(Outcome),
    Ready(Held),
}

/// The standing offsets request of `o`, checked before anything is stopped for it.
pub(super) async fn prepare(
    o: &KafkaConnector,
    ctx: &Ctx,
    cluster: &str,
    version: Option<&str>,
) -> Result<Prepared> {
    let Some(req) = offsets::pending(
        o.annotations().get(ANNOTATION_OFFSETS).map(String::as_str),
        o.status
            .as_ref()
            .and_then(|s| s.last_handled_offsets.as_deref()),
    ) else {
        return Ok(Prepared::Nothing);
    };
    let value = req.value;
    let op = match req.ask {
        Ok(op) => op,
        Err(why) => {
            return Ok(Prepared::Refused(Outcome {
                value,
                ok: false,
                reason: "InvalidRequest",
                message: why,
            }));
        }
    };
    let refuse = |reason, why: String| Ok(Prepared::Refused(Outcome::failed(&value, reason, why)));
    if let Some(why) = offsets::unsupported(op, version, cluster) {
        return refuse("NotSupported", why);
    }
    let ns = o.namespace().unwrap_or_default();
    let doc = match op {
        Op::List if o.spec.list_offsets.is_none() => {
            return refuse(
                "InvalidRequest",
                "spec.listOffsets.toConfigMap is not set: nowhere to write the offsets".into(),
            );
        }
        Op::Alter => {
            let Some(from) = &o.spec.alter_offsets else {
                return refuse(
                    "InvalidRequest",
                    "spec.alterOffsets.fromConfigMap is not set: no offsets to apply".into(),
                );
            };
            let name = &from.from_config_map.name;
            let cm = Api::<ConfigMap>::namespaced(ctx.kube.clone(), &ns)
                .get_opt(name)
                .await?
                .filter(|c| c.meta().deletion_timestamp.is_none());
            let Some(cm) = cm else {
                return refuse(
                    "ConfigMapNotFound",
                    format!("ConfigMap {ns}/{name} not found"),
                );
            };
            let Some(text) = cm.data.as_ref().and_then(|d| d.get(OFFSETS_KEY)) else {
                return refuse(
                    "ConfigMapNotFound",
                    format!("ConfigMap {ns}/{name} has no key {OFFSETS_KEY:?}"),
                );
            };
            match parse(text) {
                Ok(doc) => Some(doc),
                Err(why) => {
                    return refuse("InvalidOffsets", format!("ConfigMap {ns}/{name}: {why}"));
                }
            }
        }
        _ => None,
    };
    Ok(Prepared::Ready(Held { value, op, doc }))
}

/// Runs a held request on Kafka Connect (the connector is STOPPED for alter and reset). `None`: Connect was
/// not ready for it (a rebalance, unreachable, its stop not applied yet): the request stays and is retried.
pub(super) async fn run(
    h: &Held,
    o: &KafkaConnector,
    ctx: &Ctx,
    cluster: &ConnectCluster,
    name: &str,
) -> Result<Option<Outcome>> {
    let client = cluster.client();
    let result = match h.op {
        Op::List => match client.offsets(name).await {
            Ok(list) => return Ok(Some(write_list(h, o, ctx, name, &list).await)),
            Err(e) => Err(e),
        },
        Op::Alter => alter(h, o, &client, name).await,
        Op::Reset => reset(&client, name).await,
    };
    Ok(match result {
        Ok(message) => Some(Outcome::done(&h.value, h.op, message)),
        Err(e) if not_ready(&e) => {
            tracing::info!(error = %e, "offsets request: Kafka Connect not ready, trying again");
            None
        }
        Err(e) => Some(Outcome::failed(
            &h.value,
            "Failed",
            format!(
                "Kafka Connect refused {} the offsets of {name:?}: {}",
                h.op.gerund(),
                e.connect_message()
                    .map_or_else(|| e.to_string(), str::to_string)
            ),
        )),
    })
}

/// Writes the offsets Connect listed into the ConfigMap `spec.listOffsets` names.
async fn write_list(
    h: &Held,
    o: &KafkaConnector,
    ctx: &Ctx,
    name: &str,
    list: &Offsets,
) -> Outcome {
    let ns = o.namespace().unwrap_or_default();
    let cm = o
        .spec
        .list_offsets
        .as_ref()
        .map(|l| l.to_config_map.name.clone())
        .unwrap_or_default();
    let n = list.offsets.len();
    match ctx
        .writes
        .apply_config_map_key(&ns, &cm, OFFSETS_KEY, &render(list))
        .await
    {
        Ok(()) => Outcome::done(
            &h.value,
            Op::List,
            format!(
                "wrote the offsets of {} of connector {name:?} to ConfigMap {ns}/{cm} (key {OFFSETS_KEY})",
                partitions(n)
            ),
        ),
        Err(e) => Outcome::failed(
            &h.value,
            "Failed",
            format!("writing ConfigMap {ns}/{cm}: {e}"),
        ),
    }
}

/// Applies the offsets of the ConfigMap `spec.alterOffsets` names; what Connect said, for the event.
async fn alter(
    h: &Held,
    o: &KafkaConnector,
    client: &ConnectClient,
    name: &str,
) -> std::result::Result<String, shared::Error> {
    let ns = o.namespace().unwrap_or_default();
    let doc = h.doc.as_ref().map_or(&[][..], |d| &d.offsets[..]);
    let n = doc.len();
    let from = o
        .spec
        .alter_offsets
        .as_ref()
        .map(|a| a.from_config_map.name.clone())
        .unwrap_or_default();
    let body = Offsets {
        offsets: doc.to_vec(),
    };
    client.patch_offsets(name, &body).await.map(|m| {
        format!(
            "altered the offsets of {} of connector {name:?} from ConfigMap {ns}/{from}: {}",
            partitions(n),
            m.message
        )
    })
}

/// Resets the connector's offsets; what Connect said, for the event.
async fn reset(client: &ConnectClient, name: &str) -> std::result::Result<String, shared::Error> {
    // How many partitions had offsets, for the event; the reset does not say.
    let before = client.offsets(name).await.ok().map(|l| l.offsets.len());
    client.reset_offsets(name).await.map(|m| {
        let had = before
            .map(|n| format!(" ({} had offsets)", partitions(n)))
            .unwrap_or_default();
        format!(
            "reset the offsets of connector {name:?}{had}: {}",
            m.message
        )
    })
}

/// Connect said "not now": a rebalance, no connection, or its stop is not applied yet. (A 500 is the
/// connector refusing the offsets, e.g. a partition it does not have: repeating would not help.)
fn not_ready(e: &shared::Error) -> bool {
    use shared::Error as E;
    matches!(e, E::Rebalancing { .. } | E::Unreachable { .. })
        || (e.status() == Some(400)
            && e.connect_message()
                .is_some_and(|m| m.contains("STOPPED state")))
}

/// `deletionPolicy: DeleteAndResetOffsets`: stops the connector (unless it is stopped or gone), waits until
/// Connect reports it STOPPED, and resets its offsets, each step with an event. The error says why the
/// deletion must wait.
pub(super) async fn reset_before_delete(
    o: &KafkaConnector,
    ctx: &Ctx,
    c: &ConnectCluster,
    name: &str,
) -> std::result::Result<(), String> {
    let client = c.client();
    let version = c.snapshot().info.as_ref().map(|i| i.version.clone());
    if let Some(why) = offsets::unsupported(Op::Reset, version.as_deref(), &c.label) {
        return Err(format!(
            "{why}; set spec.deletionPolicy: Delete to delete the connector without resetting its offsets"
        ));
    }
    let state = match client.get_status(name).await {
        Ok(s) => s.connector.state,
        // Not on Connect: nothing to stop, and its offsets cannot be reached through the REST API.
        Err(shared::Error::NotFound { .. }) => return Ok(()),
        Err(e) => return Err(e.to_string()),
    };
    if state != "STOPPED" {
        {
            let _permit = c.writes.acquire().await;
            client.stop(name).await.map_err(|e| e.to_string())?;
        }
        ctx.writes
            .event(
                o,
                false,
                "Stopped",
                "Delete",
                format!("stopped connector {name:?} to reset its offsets before deleting it (deletionPolicy: DeleteAndResetOffsets)"),
            )
            .await;
    }
    // Connect applies a stop asynchronously, and takes offsets requests only once it has.
    let deadline = Instant::now() + Duration::from_secs(60);
    let before = client.offsets(name).await.ok().map(|l| l.offsets.len());
    loop {
        let stopped =
            matches!(client.get_status(name).await, Ok(s) if s.connector.state == "STOPPED");
        let result = if stopped {
            let _permit = c.writes.acquire().await;
            Some(client.reset_offsets(name).await)
        } else {
            None
        };
        match result {
            Some(Ok(m)) => {
                let had = before
                    .map(|n| format!(" ({} had offsets)", partitions(n)))
                    .unwrap_or_default();
                ctx.writes
                    .event(
                        o,
                        false,
                        "OffsetsReset",
                        "Delete",
                        format!(
                            "reset the offsets of connector {name:?}{had} before deleting it: {}",
                            m.message
                        ),
                    )
                    .await;
                return Ok(());
            }
            Some(Err(e)) if !not_ready(&e) => {
                return Err(format!("resetting the offsets of {name:?} failed: {e}"));
            }
            _ if Instant::now() > deadline => {
                return Err(format!(
                    "connector {name:?} did not reach STOPPED within 60 s, so its offsets cannot be reset yet"
                ));
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}
