//! Reading KafkaConnectors and KafkaConnectClusters back as a user would (status, conditions, events,
//! metrics), waiting for them, and the "given a running sink" start most controller tests share.

use std::path::PathBuf;
use std::time::Duration;

use kube::api::Api;
use shared::connect::ConnectClient;
use shared::crd::{KafkaConnectCluster, KafkaConnectClusterStatus, KafkaConnector};

use crate::objects::{cluster, file_sink};
use crate::{Out, eventually, kafka_env, kube_client, kubectl, namespace, scratch, unique};

/// Bounds a wait; the shared controller polls every 2 s, so most changes show within seconds.
pub const T: Duration = Duration::from_secs(90);

/// A namespace served by the shared controller, with a KafkaConnectCluster `main` for the main worker.
pub fn shared_namespace(prefix: &str) -> String {
    let ns = namespace(prefix, &[]);
    cluster(&ns, "main", &kafka_env().connect_url)
        .apply()
        .expect_ok();
    ns
}

/// A FileStreamSink running with its one task on the shared controller.
pub struct RunningSink {
    pub ns: String,
    /// The KafkaConnector's name, also the connector's name on Connect.
    pub name: String,
    /// The file it writes.
    pub file: PathBuf,
}

/// Given a running sink: a namespace with the cluster `main` (see [`shared_namespace`]) and a FileStreamSink
/// `<prefix>-…` reading topic `topic`, Ready=True Running with 1/1 tasks.
pub async fn given_a_running_sink(prefix: &str, topic: &str) -> RunningSink {
    let ns = shared_namespace(prefix);
    let name = unique(prefix);
    let file = scratch(prefix).join("out.txt");
    file_sink(&ns, &name, topic, file.display())
        .apply()
        .expect_ok();
    wait_running(&ns, &name, "1/1").await;
    RunningSink { ns, name, file }
}

pub async fn get(ns: &str, name: &str) -> Option<KafkaConnector> {
    let api: Api<KafkaConnector> = Api::namespaced(kube_client().await, ns);
    api.get_opt(name).await.expect("reading a KafkaConnector")
}

pub async fn get_cluster(ns: &str, name: &str) -> KafkaConnectCluster {
    let api: Api<KafkaConnectCluster> = Api::namespaced(kube_client().await, ns);
    api.get(name).await.expect("reading a KafkaConnectCluster")
}

/// (status, reason, message) of the Ready condition.
pub fn ready(k: &KafkaConnector) -> (String, String, String) {
    condition(k, "Ready")
}

/// (status, reason, message) of the condition of type `kind`; empty strings when there is none.
pub fn condition(k: &KafkaConnector, kind: &str) -> (String, String, String) {
    k.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.kind == kind))
        .map(|c| {
            (
                c.status.clone(),
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )
        })
        .unwrap_or_default()
}

/// Whether the KafkaConnector has the condition Stalled=True (no retry fixes it).
pub fn is_stalled(k: &KafkaConnector) -> bool {
    k.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.kind == "Stalled" && c.status == "True")
    })
}

/// The Ready condition of a KafkaConnectCluster's status (a default one when there is none).
pub fn cluster_ready(st: &KafkaConnectClusterStatus) -> shared::crd::Condition {
    st.conditions
        .iter()
        .find(|c| c.kind == "Ready")
        .cloned()
        .unwrap_or_default()
}

/// Waits until the KafkaConnector's Ready condition has `reason` (and `status`), for its current generation.
pub async fn wait_reason(ns: &str, name: &str, status: &str, reason: &str) -> KafkaConnector {
    wait_ready(ns, name, status, reason, None).await
}

/// [`wait_reason`], and the condition's message is `message` (objects appearing one after another pass
/// through states with the same reason and another message).
pub async fn wait_ready_message(
    ns: &str,
    name: &str,
    status: &str,
    reason: &str,
    message: &str,
) -> KafkaConnector {
    wait_ready(ns, name, status, reason, Some(message)).await
}

async fn wait_ready(
    ns: &str,
    name: &str,
    status: &str,
    reason: &str,
    message: Option<&str>,
) -> KafkaConnector {
    eventually(
        &format!("{ns}/{name} Ready={status} {reason} {message:?}"),
        T,
        || async {
            let k = get(ns, name).await.ok_or("not found")?;
            let (s, r, m) = ready(&k);
            let current =
                k.status.as_ref().and_then(|s| s.observed_generation) == k.metadata.generation;
            if s == status && r == reason && message.is_none_or(|want| m == want) && current {
                Ok(k)
            } else {
                Err(format!(
                    "Ready={s} {r}: {m} (current generation: {current})"
                ))
            }
        },
    )
    .await
}

pub async fn wait_running(ns: &str, name: &str, tasks: &str) -> KafkaConnector {
    eventually(
        &format!("{ns}/{name} running with {tasks} tasks"),
        T,
        || async {
            let k = get(ns, name).await.ok_or("not found")?;
            let (s, r, m) = ready(&k);
            let tr = k
                .status
                .as_ref()
                .and_then(|s| s.tasks_ready.clone())
                .unwrap_or_default();
            let current =
                k.status.as_ref().and_then(|s| s.observed_generation) == k.metadata.generation;
            if s == "True" && r == "Running" && tr == tasks && current {
                Ok(k)
            } else {
                Err(format!("Ready={s} {r}: {m}; tasks {tr}"))
            }
        },
    )
    .await
}

/// Waits until the connector `stray` is gone from the Connect worker `c` and the KafkaConnectCluster `main`
/// in `ns`, which prunes, has reported it.
pub async fn wait_pruned(c: &ConnectClient, stray: &str, ns: &str) {
    eventually("the stray connector pruned", T, || async {
        let names = c.list().await.map_err(|e| e.to_string())?;
        (!names.iter().any(|n| n == stray))
            .then_some(())
            .ok_or(format!("{names:?}"))
    })
    .await;
    eventually("the prune reported", T, || async {
        let ev = events(ns, "main");
        ev.contains("Pruned").then_some(()).ok_or(ev)
    })
    .await;
}

/// The KafkaConnector `ns/name`, which no controller has reconciled: it has no status conditions. Its
/// finalizers are the caller's to judge.
pub async fn unreconciled(ns: &str, name: &str) -> KafkaConnector {
    let untouched = get(ns, name).await.expect("the object is there");
    assert!(
        untouched
            .status
            .as_ref()
            .is_none_or(|s| s.conditions.is_empty()),
        "{:?}",
        untouched.status
    );
    untouched
}

/// `kubectl delete kafkaconnector <name> --wait=true`: returns once the object is gone (after the
/// controller's finalizer ran).
pub fn delete_connector(ns: &str, name: &str) {
    kubectl(&[
        "delete",
        "kafkaconnector",
        name,
        "-n",
        ns,
        "--wait=true",
        "--timeout=60s",
    ])
    .expect_ok();
}

/// `kubectl delete kafkaconnector <name> --wait=false`, as it went: returns at once, finalizers or not.
pub fn try_delete_connector_nowait(ns: &str, name: &str) -> Out {
    kubectl(&["delete", "kafkaconnector", name, "-n", ns, "--wait=false"])
}

/// `kubectl delete kafkaconnector <name> --wait=false`, which must succeed.
pub fn delete_connector_nowait(ns: &str, name: &str) {
    try_delete_connector_nowait(ns, name).expect_ok();
}

/// `kubectl patch <kind> <name> -n <ns> --type <patch_type> -p <patch>`, as it went.
pub fn patch(kind: &str, ns: &str, name: &str, patch_type: &str, patch: &str) -> Out {
    kubectl(&[
        "patch", kind, name, "-n", ns, "--type", patch_type, "-p", patch,
    ])
}

/// `kubectl patch kafkaconnector <name> --type merge -p <patch>`, as it went (a denial is an answer).
pub fn try_patch_connector(ns: &str, name: &str, merge_patch: &str) -> Out {
    patch("kafkaconnector", ns, name, "merge", merge_patch)
}

/// `kubectl patch kafkaconnector <name> --type merge -p <patch>`, which must succeed.
pub fn patch_connector(ns: &str, name: &str, merge_patch: &str) -> Out {
    try_patch_connector(ns, name, merge_patch).expect_ok()
}

/// `kubectl patch kafkaconnectcluster <name> --type merge -p <patch>`, which must succeed.
pub fn patch_cluster(ns: &str, name: &str, merge_patch: &str) -> Out {
    patch("kafkaconnectcluster", ns, name, "merge", merge_patch).expect_ok()
}

/// Removes every finalizer of `<kind> <name>` (what a controller does last), which must succeed.
pub fn remove_finalizers(kind: &str, ns: &str, name: &str) {
    patch(
        kind,
        ns,
        name,
        "json",
        r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
    )
    .expect_ok();
}

/// `kubectl annotate kafkaconnector <name> <key=value> [flags]`.
pub fn try_annotate_connector(ns: &str, name: &str, annotation: &str, flags: &[&str]) -> Out {
    let mut args = vec!["annotate", "kafkaconnector", name, "-n", ns, annotation];
    args.extend_from_slice(flags);
    kubectl(&args)
}

/// `kubectl annotate kafkaconnector <name> <key=value> [flags]`, which must succeed.
pub fn annotate_connector(ns: &str, name: &str, annotation: &str, flags: &[&str]) {
    try_annotate_connector(ns, name, annotation, flags).expect_ok();
}

/// `kubectl get events -o <output>` of the events about `name`.
pub fn get_events(ns: &str, name: &str, output: &str) -> Out {
    kubectl(&[
        "get",
        "events",
        "-n",
        ns,
        "--field-selector",
        &format!("involvedObject.name={name}"),
        "-o",
        output,
    ])
}

/// The REASON and MESSAGE columns of the events about `name`.
pub fn events(ns: &str, name: &str) -> String {
    get_events(ns, name, "custom-columns=REASON:.reason,MESSAGE:.message").stdout
}

/// (reason, message, occurrences) of each event about `name`, as `kubectl get events` has them: an event
/// that happened again is one entry with a count (its series).
pub fn event_list(ns: &str, name: &str) -> Vec<(String, String, i64)> {
    let out = get_events(ns, name, "json").expect_ok().stdout;
    let v: serde_json::Value = serde_json::from_str(&out).expect("events as JSON");
    v["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            let count = e["series"]["count"]
                .as_i64()
                .or_else(|| e["count"].as_i64())
                .unwrap_or(1);
            (
                e["reason"].as_str().unwrap_or_default().to_string(),
                e["message"].as_str().unwrap_or_default().to_string(),
                count,
            )
        })
        .collect()
}

/// The `/metrics` page under `base`.
pub async fn scrape(base: &str) -> String {
    reqwest::get(format!("{base}/metrics"))
        .await
        .expect("scraping /metrics")
        .text()
        .await
        .expect("reading /metrics")
}

pub use stack::metrics_text::{sum as total, value as sample};

/// Waits until the counter `name{labels…}` on the metrics page under `base` has risen by `by` since the call.
/// A period measured so has passed in the counting process's own time, which a loaded machine stretches
/// along with everything else, where wall time does not.
pub async fn wait_counter_rise(base: &str, name: &str, labels: &[(&str, &str)], by: f64) {
    let from = total(&scrape(base).await, name, labels);
    eventually(
        &format!("{name} {labels:?} to rise by {by} from {from}"),
        T,
        || async {
            let now = total(&scrape(base).await, name, labels);
            (now >= from + by).then_some(()).ok_or(format!("{now}"))
        },
    )
    .await
}

/// Waits until the controller behind `base` has counted `n` more polls of the Connect cluster `cluster`
/// (`namespace/name`) than when called: `n` looks at Connect, each of which queues the connectors whose
/// entry changed, so `n` chances to act on anything (the first poll may have begun before the call). What a
/// test proves does *not* happen, it proves over a count of polls rather than a span of wall time.
pub async fn wait_polls(base: &str, cluster: &str, n: u32) {
    wait_counter_rise(
        base,
        "connect_warden_cluster_polls_total",
        &[("cluster", cluster)],
        f64::from(n),
    )
    .await
}

/// The shared controller's metrics, `http://host:port`.
pub fn shared_metrics_url() -> String {
    crate::env()
        .warden
        .as_ref()
        .expect("the stack runs the shared controller")
        .controller_metrics_url
        .clone()
}

/// The main Connect worker's log, with its REST request log (one line per request, e.g.
/// `"PUT /connectors/x/config HTTP/1.1" 200`).
pub fn connect_log() -> String {
    std::fs::read_to_string(crate::env().dir.join("logs").join("connect.log")).unwrap_or_default()
}

/// How often `needle` occurs in `text`.
pub fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}
