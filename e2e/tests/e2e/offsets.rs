//! Connector offsets as a user works with them: `connectwarden.io/offsets` requests (list into a ConfigMap,
//! alter from one, reset), each step in events and status; the controller stopping a running connector for
//! alter and reset and restoring it; `deletionPolicy: DeleteAndResetOffsets`; a MirrorSourceConnector's
//! offsets; bad input refused with what is wrong.

use connect_warden_e2e::connectors::{
    T, annotate_connector, condition, delete_connector, get, get_events, shared_metrics_url,
    shared_namespace, try_annotate_connector, wait_polls, wait_running,
};
use connect_warden_e2e::objects::{file_sink, file_source, mirror_source};
use connect_warden_e2e::{
    apply, connect, eventually, kafka_env, kubectl, kubectl_with_stdin, scratch, unique,
};
use serde_json::{Value, json};
use shared::crd::{KafkaConnector, OFFSETS_KEY};

const ANNOTATION: &str = "connectwarden.io/offsets";

/// (status, reason, message) of the `Offsets` condition.
fn offsets_condition(k: &KafkaConnector) -> (String, String, String) {
    condition(k, "Offsets")
}

/// Sets the offsets annotation to `value` and waits until status records it as handled.
async fn request(ns: &str, name: &str, value: &str) -> KafkaConnector {
    annotate_connector(ns, name, &format!("{ANNOTATION}={value}"), &["--overwrite"]);
    eventually(&format!("{ns}/{name} handles {value}"), T, || async {
        let k = get(ns, name).await.ok_or("not found")?;
        let handled = k
            .status
            .as_ref()
            .and_then(|s| s.last_handled_offsets.clone());
        if handled.as_deref() == Some(value) {
            Ok(k)
        } else {
            Err(format!(
                "lastHandledOffsets {handled:?}; Offsets {:?}",
                offsets_condition(&k)
            ))
        }
    })
    .await
}

/// The data of ConfigMap `name`, as `kubectl get` shows it.
fn config_map_data(ns: &str, name: &str) -> serde_json::Map<String, Value> {
    let out = kubectl(&["get", "configmap", name, "-n", ns, "-o", "json"])
        .expect_ok()
        .stdout;
    let v: Value = serde_json::from_str(&out).unwrap();
    v["data"].as_object().cloned().unwrap_or_default()
}

/// Creates (or replaces) ConfigMap `name` with `pairs`, server-side (large values fit).
fn put_config_map(ns: &str, name: &str, pairs: &[(&str, &str)]) {
    let data: serde_json::Map<String, Value> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": data});
    kubectl_with_stdin(
        &["apply", "--server-side", "--force-conflicts", "-f", "-"],
        Some(&cm.to_string()),
    )
    .expect_ok();
}

/// The reasons of the events about `name`, oldest first (by their microsecond eventTime), with their
/// messages.
fn events_of(ns: &str, name: &str) -> Vec<(String, String)> {
    let out = get_events(ns, name, "json").expect_ok().stdout;
    let v: Value = serde_json::from_str(&out).unwrap();
    let mut items: Vec<(String, String, String)> = v["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            let at = e["eventTime"]
                .as_str()
                .or_else(|| e["firstTimestamp"].as_str())
                .unwrap_or_default()
                .to_string();
            let reason = e["reason"].as_str().unwrap_or_default().to_string();
            let message = e["message"].as_str().unwrap_or_default().to_string();
            (at, reason, message)
        })
        .collect();
    items.sort();
    items.into_iter().map(|(_, r, m)| (r, m)).collect()
}

/// Waits until the file has exactly `lines` (what a FileStreamSink wrote).
async fn wait_lines(file: &std::path::Path, lines: &[&str]) {
    eventually(
        &format!("{} holds {lines:?}", file.display()),
        T,
        || async {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            let got: Vec<&str> = text.lines().collect();
            if got == lines {
                Ok(())
            } else {
                Err(format!("{got:?}"))
            }
        },
    )
    .await
}

/// Connect's offsets of connector `name`, as `GET /connectors/{name}/offsets` has them.
async fn connect_offsets(name: &str) -> Value {
    serde_json::to_value(connect().offsets(name).await.expect("GET offsets")).unwrap()
}

/// A FileStreamSource reading `lines` into a new topic, a FileStreamSink copying that topic into a file (so
/// what the source sends shows), both running.
struct Pipeline {
    ns: String,
    source: String,
    input: std::path::PathBuf,
    output: std::path::PathBuf,
}

async fn given_a_pipeline(prefix: &str, lines: &[&str], reset_on_delete: bool) -> Pipeline {
    let ns = shared_namespace(prefix);
    let dir = scratch(prefix);
    let input = dir.join("in.txt");
    let output = dir.join("out.txt");
    std::fs::write(
        &input,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    let topic = unique(prefix);
    let source = unique(&format!("{prefix}-src"));
    let mut s = file_source(&ns, &source, &topic, input.display())
        .offsets_config_maps("listed-offsets", "wanted-offsets");
    if reset_on_delete {
        s = s.reset_offsets_on_delete();
    }
    s.apply().expect_ok();
    let sink = unique(&format!("{prefix}-sink"));
    file_sink(&ns, &sink, &topic, output.display())
        .apply()
        .expect_ok();
    wait_running(&ns, &source, "1/1").await;
    wait_running(&ns, &sink, "1/1").await;
    wait_lines(&output, lines).await;
    Pipeline {
        ns,
        source,
        input,
        output,
    }
}

/// The offsets document of a FileStreamSource at `position`.
fn file_offsets(input: &std::path::Path, position: u64) -> Value {
    json!({"offsets": [{"partition": {"filename": input.display().to_string()}, "offset": {"position": position}}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_then_alter_and_reset_a_running_source_each_step_visible() {
    let p = given_a_pipeline("offsets", &["a", "b", "c"], false).await;
    let (ns, name) = (&p.ns, &p.source);
    // Connect flushes source offsets every second: wait until it has the whole file (3 lines of 2 bytes).
    eventually("Connect's offsets at position 6", T, || async {
        let o = connect_offsets(name).await;
        (o == file_offsets(&p.input, 6))
            .then_some(())
            .ok_or(o.to_string())
    })
    .await;

    // List: into the ConfigMap the spec names, next to a key someone else keeps there.
    put_config_map(ns, "listed-offsets", &[("note", "kept")]);
    let k = request(ns, name, "list").await;
    let data = config_map_data(ns, "listed-offsets");
    assert_eq!(data["note"], "kept", "other keys stay");
    let listed: Value = serde_json::from_str(data[OFFSETS_KEY].as_str().unwrap()).unwrap();
    assert_eq!(listed, file_offsets(&p.input, 6), "Connect's own format");
    let listed_note = format!(
        "wrote the offsets of 1 partition of connector {name:?} to ConfigMap {ns}/listed-offsets (key offsets.json)"
    );
    assert_eq!(
        offsets_condition(&k),
        ("True".into(), "Listed".into(), listed_note.clone())
    );
    let status = serde_json::to_string(&k.status).unwrap();
    assert!(
        !status.contains("position"),
        "no offsets in status: {status}"
    );
    assert!(events_of(ns, name).contains(&("OffsetsListed".into(), listed_note.clone())));

    // The same value again is no new request: nothing is written.
    kubectl(&[
        "patch",
        "configmap",
        "listed-offsets",
        "-n",
        ns,
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/data/offsets.json"}]"#,
    ])
    .expect_ok();
    annotate_connector(ns, name, &format!("{ANNOTATION}=list"), &["--overwrite"]);
    patch_annotation_noop(ns, name);
    wait_polls(&shared_metrics_url(), &format!("{ns}/main"), 3).await;
    assert!(!config_map_data(ns, "listed-offsets").contains_key(OFFSETS_KEY));
    let listed_events = events_of(ns, name)
        .iter()
        .filter(|(r, _)| r == "OffsetsListed")
        .count();
    assert_eq!(listed_events, 1);

    // Alter while running: the controller stops the connector, alters, and resumes it; the source reads
    // again from the position given (after "a"), so the sink sees "b" and "c" once more.
    put_config_map(
        ns,
        "wanted-offsets",
        &[(OFFSETS_KEY, &file_offsets(&p.input, 2).to_string())],
    );
    let k = request(ns, name, "alter,1").await;
    let (status, reason, message) = offsets_condition(&k);
    assert_eq!((status.as_str(), reason.as_str()), ("True", "Altered"));
    assert_eq!(
        message,
        format!(
            "altered the offsets of 1 partition of connector {name:?} from ConfigMap {ns}/wanted-offsets: The offsets for this connector have been altered successfully"
        )
    );
    wait_running(ns, name, "1/1").await;
    wait_lines(&p.output, &["a", "b", "c", "b", "c"]).await;
    let reasons: Vec<String> = events_of(ns, name).into_iter().map(|(r, _)| r).collect();
    let steps = ["OffsetsStopping", "Stopped", "OffsetsAltered", "Resumed"];
    assert!(in_order(&reasons, &steps), "{reasons:?}");
    assert!(events_of(ns, name).contains(&(
        "OffsetsStopping".into(),
        format!("stopping connector {name:?} to alter its offsets as asked by connectwarden.io/offsets=\"alter,1\"; its wanted state (running) is restored afterwards")
    )));

    // Reset: the same sequence, and the source starts over.
    let k = request(ns, name, "reset,1").await;
    assert_eq!(
        offsets_condition(&k),
        (
            "True".into(),
            "Reset".into(),
            format!(
                "reset the offsets of connector {name:?} (1 partition had offsets): The offsets for this connector have been reset successfully"
            )
        )
    );
    wait_running(ns, name, "1/1").await;
    wait_lines(&p.output, &["a", "b", "c", "b", "c", "a", "b", "c"]).await;
    let reasons: Vec<String> = events_of(ns, name).into_iter().map(|(r, _)| r).collect();
    assert!(reasons.contains(&"OffsetsReset".to_string()), "{reasons:?}");
}

/// A label change: an update of the object that leaves the annotation's value as it was.
fn patch_annotation_noop(ns: &str, name: &str) {
    kubectl(&[
        "label",
        "kafkaconnector",
        name,
        "-n",
        ns,
        "touched=yes",
        "--overwrite",
    ])
    .expect_ok();
}

/// Whether `steps` appear in `all` in this order (other entries between them allowed).
fn in_order(all: &[String], steps: &[&str]) -> bool {
    let mut it = all.iter();
    steps.iter().all(|s| it.any(|r| r == s))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_on_delete_lets_a_recreated_connector_start_from_zero() {
    let p = given_a_pipeline("offsets-del", &["x", "y"], true).await;
    let (ns, name) = (&p.ns, &p.source);
    eventually("Connect's offsets at position 4", T, || async {
        let o = connect_offsets(name).await;
        (o == file_offsets(&p.input, 4))
            .then_some(())
            .ok_or(o.to_string())
    })
    .await;
    delete_connector(ns, name);
    let events = events_of(ns, name);
    let reasons: Vec<String> = events.iter().map(|(r, _)| r.clone()).collect();
    assert!(
        in_order(&reasons, &["Stopped", "OffsetsReset", "Deleted"]),
        "{reasons:?}"
    );
    assert!(events.contains(&(
        "OffsetsReset".into(),
        format!("reset the offsets of connector {name:?} (1 partition had offsets) before deleting it: The offsets for this connector have been reset successfully")
    )));
    // The same connector created again reads the file from the start: the sink sees x and y twice.
    file_source(ns, name, &topic_of(ns).await, p.input.display())
        .apply()
        .expect_ok();
    wait_running(ns, name, "1/1").await;
    wait_lines(&p.output, &["x", "y", "x", "y"]).await;
}

/// The topic the namespace's sink reads.
async fn topic_of(ns: &str) -> String {
    let out = kubectl(&["get", "kafkaconnectors", "-n", ns, "-o", "json"])
        .expect_ok()
        .stdout;
    let v: Value = serde_json::from_str(&out).unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|k| k["spec"]["config"]["topics"].as_str().map(String::from))
        .expect("a sink")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_source_connectors_offsets_are_listed() {
    let p = given_a_pipeline("offsets-mm2", &["m1", "m2"], false).await;
    let ns = &p.ns;
    let topic = topic_of(ns).await;
    let name = unique("offsets-mirror");
    mirror_source(ns, &name, &kafka_env().bootstrap)
        .config("topics", &topic)
        .config("replication.factor", "1")
        .config("offset-syncs.topic.replication.factor", "1")
        .config("sync.topic.acls.enabled", "false")
        .offsets_config_maps("mirror-offsets", "mirror-wanted")
        .apply()
        .expect_ok();
    wait_running(ns, &name, "1/1").await;
    // Both lines replicated: the source partition's offset is 1 (the last record replicated).
    eventually("MirrorSource offsets", T, || async {
        let o = connect_offsets(&name).await;
        let want = json!({"offsets": [{"partition": {"cluster": "src", "partition": 0, "topic": topic}, "offset": {"offset": 1}}]});
        (o == want).then_some(()).ok_or(o.to_string())
    })
    .await;
    let k = request(ns, &name, "list").await;
    assert_eq!(
        offsets_condition(&k).2,
        format!(
            "wrote the offsets of 1 partition of connector {name:?} to ConfigMap {ns}/mirror-offsets (key offsets.json)"
        )
    );
    let listed: Value = serde_json::from_str(
        config_map_data(ns, "mirror-offsets")[OFFSETS_KEY]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(listed["offsets"][0]["partition"]["topic"], json!(topic));
    assert_eq!(listed["offsets"][0]["offset"], json!({"offset": 1}));

    // Altered back to the first record: the connector is stopped, altered and running again.
    let doc = json!({"offsets": [{"partition": {"cluster": "src", "partition": 0, "topic": topic}, "offset": {"offset": 0}}]});
    put_config_map(ns, "mirror-wanted", &[(OFFSETS_KEY, &doc.to_string())]);
    let k = request(ns, &name, "alter").await;
    assert_eq!(
        (
            offsets_condition(&k).0.as_str(),
            offsets_condition(&k).1.as_str()
        ),
        ("True", "Altered"),
        "{:?}",
        offsets_condition(&k)
    );
    wait_running(ns, &name, "1/1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_offsets_input_is_refused_with_what_is_wrong() {
    let ns = shared_namespace("offsets-bad");
    let input = scratch("offsets-bad").join("in.txt");
    std::fs::write(&input, "1\n").unwrap();

    // A malformed document in a ConfigMap that exists: denied at admission.
    put_config_map(
        &ns,
        "broken",
        &[(
            OFFSETS_KEY,
            r#"{"offsets": [{"partition": {"filename": "f"}}]}"#,
        )],
    );
    let name = unique("offsets-bad");
    let manifest = |alter_from: &str| {
        file_source(&ns, &name, "offsets-bad-t", input.display())
            .offsets_config_maps("listed", alter_from)
            .yaml()
    };
    let out = apply(&manifest("broken"), &[]).expect_err();
    assert!(
        out.stderr.contains("spec.alterOffsets.fromConfigMap: ConfigMap ")
            && out.stderr.contains("/broken: offsets.json: offsets[0] has no \"offset\" (use null to reset the partition)"),
        "{}",
        out.stderr
    );
    // Too large: denied too.
    let big = format!(
        r#"{{"offsets":[{{"partition":{{"f":"{}"}},"offset":null}}]}}"#,
        "x".repeat(600 * 1024)
    );
    put_config_map(&ns, "huge", &[(OFFSETS_KEY, &big)]);
    let out = apply(&manifest("huge"), &[]).expect_err();
    assert!(
        out.stderr.contains("bytes; at most 512 KiB is accepted"),
        "{}",
        out.stderr
    );

    // A ConfigMap that does not exist: admitted with a warning; the request then fails clearly and the
    // connector is never stopped.
    let out = apply(&manifest("absent"), &[]).expect_ok();
    assert!(
        out.stderr.contains(&format!(
            "spec.alterOffsets.fromConfigMap: ConfigMap {ns}/absent not found (yet); a connectwarden.io/offsets alter request fails while it is missing"
        )),
        "{}",
        out.stderr
    );
    wait_running(&ns, &name, "1/1").await;
    let k = request(&ns, &name, "alter,1").await;
    let failed = format!(
        "connectwarden.io/offsets=\"alter,1\": ConfigMap {ns}/absent not found; set a new value to try again"
    );
    assert_eq!(
        offsets_condition(&k),
        ("False".into(), "ConfigMapNotFound".into(), failed.clone())
    );
    assert!(events_of(&ns, &name).contains(&("OffsetsFailed".into(), failed)));
    assert!(!events_of(&ns, &name).iter().any(|(r, _)| r == "Stopped"));

    // Offsets for a partition the connector does not have: Connect's refusal, and the connector runs again.
    put_config_map(
        &ns,
        "absent",
        &[(
            OFFSETS_KEY,
            r#"{"offsets":[{"partition":{"file":"other.txt"},"offset":{"position":1}}]}"#,
        )],
    );
    let k = request(&ns, &name, "alter,2").await;
    let (status, reason, message) = offsets_condition(&k);
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "Failed"),
        "{message}"
    );
    assert!(
        message.starts_with(&format!(
            "connectwarden.io/offsets=\"alter,2\": Kafka Connect refused altering the offsets of {name:?}: "
        )) && message.contains("filename"),
        "{message}"
    );
    wait_running(&ns, &name, "1/1").await;
    assert!(events_of(&ns, &name).iter().any(|(r, _)| r == "Resumed"));

    // A new alter asked by the annotation alone, with a malformed document: denied at admission, so the
    // controller never sees the request.
    put_config_map(&ns, "absent", &[(OFFSETS_KEY, "{\"offsets\": 1}")]);
    let out = try_annotate_connector(
        &ns,
        &name,
        &format!("{ANNOTATION}=alter,3"),
        &["--overwrite"],
    )
    .expect_err();
    assert!(
        out.stderr.contains(&format!(
            "spec.alterOffsets.fromConfigMap: ConfigMap {ns}/absent: offsets.json: "
        )),
        "{}",
        out.stderr
    );
    let k = get(&ns, &name).await.unwrap();
    assert_eq!(
        k.metadata.annotations.unwrap_or_default()[ANNOTATION],
        "alter,2"
    );

    // An unknown operation: denied at admission (the controller's own refusal, for a value the webhook
    // never saw, is tested in
    // controller::restarts::unreadable_requests_the_webhook_never_saw_are_refused_once_by_the_controller).
    let out = try_annotate_connector(
        &ns,
        &name,
        &format!("{ANNOTATION}=rewind"),
        &["--overwrite"],
    )
    .expect_err();
    assert!(
        out.stderr.contains(
            "connectwarden.io/offsets: \"rewind\" does not start with list, alter or reset; use e.g. \"list\" or \"reset,2024-05-01T10:00:00Z\" (the token makes a repeated request new)"
        ),
        "{}",
        out.stderr
    );
}
