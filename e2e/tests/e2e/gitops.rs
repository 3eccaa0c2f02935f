//! The GitOps engines against the real stack, through their own code (the programs in `stack/gitops`):
//! Flux's server-side apply library and kstatus applying a folder as kustomize-controller does
//! (`flux-apply`), and Argo CD's Lua health check and resource actions run in gopher-lua the way Argo CD
//! runs them (`argocd-lua`). Each program prints a JSON report, which the tests read.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use connect_warden_e2e::connectors::{events, patch_connector, shared_metrics_url, wait_polls};
use connect_warden_e2e::*;
use serde_json::Value;

/// Bounds a wait; the shared controller polls every 2 s.
const T: Duration = Duration::from_secs(120);

/// The directory holding flux-apply and argocd-lua, built once (and cached) by stack/gitops/build.sh.
fn engines() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        stack::cache::run_build_script("stack/gitops/build.sh")
            .unwrap_or_else(|e| panic!("building the GitOps engine programs: {e}"))
    })
}

/// Runs one of the engine programs; returns its exit code and its JSON report (also printed, for the
/// record of what the engine saw).
fn engine(program: &str, args: &[&str]) -> (i32, Value) {
    let out = Command::new(engines().join(program))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("{program} printed no JSON report ({e}):\nstdout: {stdout}\nstderr: {stderr}")
    });
    eprintln!("{program} {}:\n{stdout}", args.join(" "));
    (out.status.code().unwrap_or(-1), report)
}

fn str_of<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// A live object as `kubectl get -o json` prints it.
fn live(kind: &str, ns: &str, name: &str) -> Value {
    let out = kubectl(&["get", kind, name, "-n", ns, "-o", "json"]).expect_ok();
    serde_json::from_str(&out.stdout).expect("kubectl get -o json")
}

/// The Ready condition of a live object: (status, reason, message).
fn ready_of(obj: &Value) -> (String, String, String) {
    let conditions = obj
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    conditions
        .iter()
        .find(|c| c["type"] == "Ready")
        .map(|c| {
            (
                str_of(c, "/status").to_string(),
                str_of(c, "/reason").to_string(),
                str_of(c, "/message").to_string(),
            )
        })
        .unwrap_or_default()
}

/// True when status describes the current generation.
fn current(obj: &Value) -> bool {
    obj.pointer("/status/observedGeneration") == obj.pointer("/metadata/generation")
}

/// Waits until the connector's Ready condition, for its current generation, has `reason`.
async fn wait_reason(ns: &str, name: &str, reason: &str) -> Value {
    eventually(&format!("{ns}/{name} Ready {reason}"), T, || async {
        let o = live("kafkaconnector", ns, name);
        let (s, r, m) = ready_of(&o);
        if r == reason && current(&o) {
            Ok(o)
        } else {
            Err(format!("Ready={s} {r}: {m} (current: {})", current(&o)))
        }
    })
    .await
}

// -----------------------------------------------------------------------------------------------------
// Flux
// -----------------------------------------------------------------------------------------------------

/// The GitOps folder of `e2e/testdata/gitops`, filled in for namespace `ns` and the secured Connect worker.
struct Folder {
    ns: String,
    prefix: String,
    manifests: PathBuf,
}

impl Folder {
    fn render(ns: &str) -> Folder {
        let prefix = unique("gitops");
        let root = scratch("gitops");
        let manifests = root.join("manifests");
        let work = root.join("work");
        std::fs::create_dir_all(&manifests).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        std::fs::write(work.join("lines.txt"), "one\ntwo\nthree\n").unwrap();
        let s = &kafka_env().secure;
        // YAML double-quoted strings take JSON's escapes, so JSON quoting is safe for any value.
        let quoted = |text: &str| serde_json::to_string(text).unwrap();
        let pem = |p: &Path| quoted(&std::fs::read_to_string(p).unwrap());
        let vars = [
            ("${NAMESPACE}", ns.to_string()),
            ("${PREFIX}", prefix.clone()),
            ("${URL}", quoted(&s.url)),
            ("${USERNAME}", quoted(&s.username)),
            ("${PASSWORD}", quoted(&s.password)),
            ("${CA_PEM}", pem(&s.ca_pem)),
            ("${CLIENT_CERT_PEM}", pem(&s.client_cert_pem)),
            ("${CLIENT_KEY_PEM}", pem(&s.client_key_pem)),
            ("${WORK_DIR}", work.display().to_string()),
        ];
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/gitops");
        let mut n = 0;
        for entry in std::fs::read_dir(&src).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
                continue;
            }
            let mut text = std::fs::read_to_string(&path).unwrap();
            for (k, v) in &vars {
                text = text.replace(k, v);
            }
            assert!(
                !text.contains("${"),
                "unfilled placeholder in {}",
                path.display()
            );
            std::fs::write(manifests.join(path.file_name().unwrap()), text).unwrap();
            n += 1;
        }
        assert_eq!(n, 7, "the folder holds 7 manifests");
        Folder {
            ns: ns.to_string(),
            prefix,
            manifests,
        }
    }

    fn connector(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    /// Subjects as Flux prints them (kind/namespace/name).
    fn subject(&self, kind: &str, name: &str) -> String {
        format!("{kind}/{}/{name}", self.ns)
    }

    /// Everything in the folder that becomes healthy: all but the broken sink.
    fn healthy(&self) -> Vec<String> {
        vec![
            self.subject("Secret", "connect-credentials"),
            self.subject("Secret", "connect-client"),
            self.subject("ConfigMap", "connect-ca"),
            self.subject("KafkaConnectCluster", "connect"),
            self.subject("KafkaConnector", &self.connector("lines-source")),
            self.subject("KafkaConnector", &self.connector("lines-sink")),
        ]
    }

    fn broken(&self) -> String {
        self.subject("KafkaConnector", &self.connector("broken-sink"))
    }

    fn flux_apply(&self, extra: &[&str]) -> (i32, Value) {
        let kubeconfig = kube_env().kubeconfig.display().to_string();
        let path = self.manifests.display().to_string();
        let mut args = vec![
            "-kubeconfig",
            &kubeconfig,
            "-path",
            &path,
            "-interval",
            "1s",
            "-timeout",
            "180s",
        ];
        args.extend_from_slice(extra);
        engine("flux-apply", &args)
    }
}

/// The report's objects by subject.
fn objects(report: &Value) -> Vec<(String, Value)> {
    report["objects"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|o| (str_of(&o, "/subject").to_string(), o))
        .collect()
}

fn object<'a>(report: &'a Value, subject: &str) -> &'a Value {
    report["objects"]
        .as_array()
        .and_then(|a| a.iter().find(|o| o["subject"] == subject))
        .unwrap_or_else(|| panic!("{subject} is not in the report"))
}

/// First pass of a fresh folder, in the given file order: everything is created at once (no manual step,
/// no second pass), and Flux's health checks see every object but the broken sink Current.
fn first_pass(f: &Folder, order: &[&str]) {
    let healthy = f.healthy().join(",");
    let mut args = order.to_vec();
    args.extend_from_slice(&["-health-check", &healthy]);
    let (code, r) = f.flux_apply(&args);
    assert_eq!(str_of(&r, "/applyError"), "", "{r:#}");
    assert_eq!(code, 0, "{r:#}");
    let objs = objects(&r);
    assert_eq!(objs.len(), 7, "{r:#}");
    for (subject, o) in &objs {
        assert_eq!(str_of(o, "/action"), "created", "{subject}: {r:#}");
    }
    assert_eq!(str_of(&r, "/wait/error"), "", "{r:#}");
    assert_eq!(r["wait"]["objects"].as_array().map(Vec::len), Some(6));
    assert_current(f, &r);
}

/// kstatus saw every healthy object Current: the cluster and the connectors by their Ready condition for the
/// current generation (an object without status would be "Resource is current" at once, before the
/// controller has looked at it).
fn assert_current(f: &Folder, r: &Value) {
    for subject in f.healthy() {
        let o = object(r, &subject);
        assert_eq!(str_of(o, "/status"), "Current", "{subject}: {r:#}");
        if subject.starts_with("Kafka") {
            assert_eq!(
                str_of(o, "/message"),
                "Resource is Ready",
                "{subject}: {r:#}"
            );
        }
    }
}

#[tokio::test]
async fn flux_applies_the_folder_in_one_pass_and_a_second_apply_changes_nothing() {
    let ns = namespace("gitops-flux", &[]);
    let f = Folder::render(&ns);

    // Files in reverse order: the connectors come before the cluster, its Secrets and its ConfigMap.
    first_pass(&f, &["-order", "reverse"]);

    // Data flows: the source reads the file into the topic, the sink writes it back.
    let copy = f.manifests.parent().unwrap().join("work/lines-copy.txt");
    eventually("the lines copied through Kafka", T, || async {
        let text = std::fs::read_to_string(&copy).unwrap_or_default();
        (text == "one\ntwo\nthree\n").then_some(()).ok_or(text)
    })
    .await;

    // The webhook stored the YAML number as a string.
    let source = live("kafkaconnector", &ns, &f.connector("lines-source"));
    assert_eq!(
        source.pointer("/spec/config/batch.size"),
        Some(&Value::from("200"))
    );

    // The broken sink's task fails, one automatic restart fails too, and the controller gives up.
    let broken = wait_reason(&ns, &f.connector("broken-sink"), "RestartsExhausted").await;
    let (_, _, broken_message) = ready_of(&broken);

    // Second pass, files shuffled, with Flux's `wait: true` on every object.
    let (code, r) = f.flux_apply(&["-order", "shuffle", "-seed", "7", "-wait"]);
    assert_eq!(str_of(&r, "/applyError"), "", "{r:#}");
    // Nothing changed: every object unchanged after a server-side dry-run each, and not one write.
    assert_eq!(r["dryRuns"], 7, "{r:#}");
    assert_eq!(r["writes"], serde_json::json!([]), "{r:#}");
    for (subject, o) in objects(&r) {
        assert_eq!(str_of(&o, "/action"), "unchanged", "{subject}: {r:#}");
        assert_eq!(
            o["before"]["generation"], o["after"]["generation"],
            "{subject}"
        );
        assert_eq!(
            o["before"]["managedFieldsTime"], o["after"]["managedFieldsTime"],
            "{subject}: Flux's field manager wrote"
        );
        if !subject.starts_with("Kafka") {
            // No controller writes these: their resourceVersion shows any write at all.
            assert_eq!(
                o["before"]["resourceVersion"], o["after"]["resourceVersion"],
                "{subject}"
            );
        }
    }
    // kstatus: the broken sink is Failed with the controller's Ready message; Flux fails the health check
    // early, naming it; everything else is Current.
    assert_eq!(code, 3, "{r:#}");
    assert_eq!(
        str_of(&r, "/wait/error"),
        format!(
            "failed early due to stalled resources: [{} status: 'Failed']",
            f.broken()
        )
    );
    let b = object(&r, &f.broken());
    assert_eq!(str_of(b, "/status"), "Failed", "{r:#}");
    assert_eq!(str_of(b, "/message"), broken_message);
    assert!(
        broken_message.contains("gave up after 1"),
        "{broken_message}"
    );
    assert_current(&f, &r);
}

#[tokio::test]
async fn flux_applies_the_folder_in_one_pass_in_shuffled_order() {
    let ns = namespace("gitops-flux-shuffled", &[]);
    let f = Folder::render(&ns);
    first_pass(&f, &["-order", "shuffle", "-seed", "42"]);
}

// -----------------------------------------------------------------------------------------------------
// Argo CD
// -----------------------------------------------------------------------------------------------------

/// The argocd-cm that `kubectl kustomize deploy/argocd` renders, in a file.
fn argocd_cm() -> PathBuf {
    static CM: OnceLock<PathBuf> = OnceLock::new();
    CM.get_or_init(|| {
        let dir = stack::cache::repo_root().join("deploy/argocd");
        let out = kubectl(&["kustomize", &dir.display().to_string()]).expect_ok();
        let path = scratch("argocd-cm").join("argocd-cm.yaml");
        std::fs::write(&path, out.stdout).unwrap();
        path
    })
    .clone()
}

/// Argo CD's view of a live connector: health, the actions offered, and with `action` its merge patch.
fn argocd(ns: &str, name: &str, action: Option<&str>) -> Value {
    let obj = kubectl(&["get", "kafkaconnector", name, "-n", ns, "-o", "json"]).expect_ok();
    let path = scratch("argocd-obj").join(format!("{name}.json"));
    std::fs::write(&path, obj.stdout).unwrap();
    let cm = argocd_cm().display().to_string();
    let path = path.display().to_string();
    let mut args = vec!["-argocd-cm", cm.as_str(), "-obj", path.as_str()];
    if let Some(a) = action {
        args.extend_from_slice(&["-action", a]);
    }
    let (code, r) = engine("argocd-lua", &args);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(str_of(&r, "/key"), "connectwarden.io/KafkaConnector");
    r
}

/// Waits until Argo CD's health check says `status`; returns the report.
async fn wait_health(ns: &str, name: &str, status: &str) -> Value {
    eventually(&format!("{ns}/{name} {status} in Argo CD"), T, || async {
        let r = argocd(ns, name, None);
        if str_of(&r, "/health/status") == status {
            Ok(r)
        } else {
            Err(format!("{}", r["health"]))
        }
    })
    .await
}

/// The health message Argo CD shows: the Ready condition's reason and message.
fn ready_text(ns: &str, name: &str) -> String {
    let (_, reason, message) = ready_of(&live("kafkaconnector", ns, name));
    if message.is_empty() {
        reason
    } else {
        format!("{reason}: {message}")
    }
}

/// The names of the enabled actions.
fn enabled(r: &Value) -> Vec<String> {
    r["actions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|a| a["disabled"] != true)
        .map(|a| str_of(a, "/name").to_string())
        .collect()
}

/// Runs an action as Argo CD does and applies its merge patch with kubectl; returns the patch.
fn run_action(ns: &str, name: &str, action: &str) -> Value {
    let r = argocd(ns, name, Some(action));
    assert!(
        enabled(&argocd(ns, name, None)).contains(&action.to_string()),
        "{action} is not enabled"
    );
    let patch = r["action"]["mergePatch"].clone();
    assert!(patch.is_object(), "{action} changed nothing: {r:#}");
    assert_eq!(r["action"]["patchesStatus"], false);
    patch_connector(ns, name, &patch.to_string());
    patch
}

/// A FileStreamSinkConnector (by its full class name) with one task on `cluster`, reading topic `name`.
fn sink(ns: &str, name: &str, cluster: &str) -> objects::Connector {
    objects::connector(
        ns,
        name,
        "org.apache.kafka.connect.file.FileStreamSinkConnector",
    )
    .on(cluster)
    .tasks_max(1)
    .config("topics", name)
}

#[tokio::test]
async fn argocd_health_and_actions_on_live_connectors() {
    let ns = namespace("gitops-argocd", &[]);
    objects::cluster(&ns, "main", &kafka_env().connect_url)
        .apply()
        .expect_ok();
    let work = scratch("argocd-work");
    let ok = unique("argo-ok");
    let bad = unique("argo-bad");
    let lost = unique("argo-lost");
    let missing_dir = work.join("not-yet");
    sink(&ns, &ok, "main")
        .config("file", work.join("ok.txt").display())
        .apply()
        .expect_ok();
    // Its task fails until the directory exists; no automatic restarts, so only a manual one helps.
    sink(&ns, &bad, "main")
        .no_auto_restart()
        .config("file", missing_dir.join("out.txt").display())
        .apply()
        .expect_ok();
    // Its cluster does not exist (yet).
    sink(&ns, &lost, "elsewhere").apply().expect_ok();
    let connect = connect();

    // Healthy: running. Every action but start, resume and restart-failed is offered.
    let r = wait_health(&ns, &ok, "Healthy").await;
    assert_eq!(str_of(&r, "/health/message"), ready_text(&ns, &ok));
    let mut on = enabled(&r);
    on.sort();
    assert_eq!(on, ["pause-reconciliation", "restart", "stop"]);
    assert_eq!(r["actions"].as_array().map(Vec::len), Some(6), "{r:#}");

    // Progressing: the cluster is missing, a state the controller recovers from by itself.
    let r = wait_health(&ns, &lost, "Progressing").await;
    assert_eq!(str_of(&r, "/health/message"), ready_text(&ns, &lost));

    // Degraded: a FAILED task, which restart-failed is offered for.
    let r = wait_health(&ns, &bad, "Degraded").await;
    assert_eq!(str_of(&r, "/health/message"), ready_text(&ns, &bad));
    assert!(
        str_of(&r, "/health/message").starts_with("TaskFailed"),
        "{r:#}"
    );
    assert!(enabled(&r).contains(&"restart-failed".to_string()), "{r:#}");

    // restart-failed once the directory exists: the controller records the request and the task runs.
    std::fs::create_dir_all(&missing_dir).unwrap();
    let patch = run_action(&ns, &bad, "restart-failed");
    let value = str_of(&patch, "/metadata/annotations/connectwarden.io~1restart").to_string();
    assert!(value.ends_with(",includeTasks,onlyFailed"), "{patch}");
    eventually("the restart recorded in status", T, || async {
        let o = live("kafkaconnector", &ns, &bad);
        let handled = str_of(&o, "/status/lastHandledRestart");
        (handled == value).then_some(()).ok_or(handled.to_string())
    })
    .await;
    let r = wait_health(&ns, &bad, "Healthy").await;
    assert_eq!(str_of(&r, "/health/message"), ready_text(&ns, &bad));
    // A restart is recorded in status before it is sent, and announced after.
    eventually("the restart announced", T, || async {
        let ev = events(&ns, &bad);
        ev.contains(&format!("connectwarden.io/restart=\"{value}\""))
            .then_some(())
            .ok_or(ev)
    })
    .await;

    // restart: a new value each run, each handled once.
    let first = run_action(&ns, &ok, "restart");
    let first = str_of(&first, "/metadata/annotations/connectwarden.io~1restart").to_string();
    assert!(first.ends_with(",includeTasks"), "{first}");
    eventually("the restart recorded in status", T, || async {
        let o = live("kafkaconnector", &ns, &ok);
        let handled = str_of(&o, "/status/lastHandledRestart");
        (handled == first).then_some(()).ok_or(handled.to_string())
    })
    .await;
    // Time is the subject here: the action's value is the clock's second, so a new one needs the next second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = run_action(&ns, &ok, "restart");
    let second = str_of(&second, "/metadata/annotations/connectwarden.io~1restart").to_string();
    assert_ne!(first, second);
    eventually("the second restart recorded in status", T, || async {
        let o = live("kafkaconnector", &ns, &ok);
        let handled = str_of(&o, "/status/lastHandledRestart");
        (handled == second).then_some(()).ok_or(handled.to_string())
    })
    .await;
    eventually("both restarts announced", T, || async {
        let ev = events(&ns, &ok);
        (ev.contains(&format!("=\"{first}\"")) && ev.contains(&format!("=\"{second}\"")))
            .then_some(())
            .ok_or(ev)
    })
    .await;
    wait_health(&ns, &ok, "Healthy").await;

    // stop: Suspended, and Connect shows STOPPED; start: Healthy and RUNNING again.
    let patch = run_action(&ns, &ok, "stop");
    assert_eq!(patch, serde_json::json!({"spec": {"state": "stopped"}}));
    let r = wait_health(&ns, &ok, "Suspended").await;
    assert_eq!(str_of(&r, "/health/message"), ready_text(&ns, &ok));
    let mut on = enabled(&r);
    on.sort();
    assert_eq!(on, ["pause-reconciliation", "start"]);
    eventually("STOPPED on Connect", T, || async {
        match connect.get_status(&ok).await {
            Ok(s) if s.connector.state == "STOPPED" => Ok(()),
            Ok(s) => Err(s.connector.state),
            Err(e) => Err(e.to_string()),
        }
    })
    .await;
    run_action(&ns, &ok, "start");
    wait_health(&ns, &ok, "Healthy").await;
    eventually("RUNNING on Connect", T, || async {
        match connect.get_status(&ok).await {
            Ok(s) if s.connector.state == "RUNNING" => Ok(()),
            Ok(s) => Err(s.connector.state),
            Err(e) => Err(e.to_string()),
        }
    })
    .await;

    // pause-reconciliation: Suspended, and the controller leaves the connector alone (a stop in the spec
    // waits, status is not written); resume: the stop happens.
    let patch = run_action(&ns, &ok, "pause-reconciliation");
    assert_eq!(
        patch,
        serde_json::json!({"metadata": {"annotations": {"connectwarden.io/pause-reconciliation": "true"}}})
    );
    let r = wait_health(&ns, &ok, "Suspended").await;
    assert!(
        str_of(&r, "/health/message").contains("pause-reconciliation"),
        "{r:#}"
    );
    assert_eq!(enabled(&r), ["resume-reconciliation"]);
    kubectl(&[
        "patch",
        "kafkaconnector",
        &ok,
        "-n",
        &ns,
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"state":"stopped"}}"#,
    ])
    .expect_ok();
    wait_polls(&shared_metrics_url(), &format!("{ns}/main"), 3).await;
    assert_eq!(
        settled!(connect.get_status(&ok)).unwrap().connector.state,
        "RUNNING"
    );
    let patch = run_action(&ns, &ok, "resume-reconciliation");
    assert_eq!(
        patch,
        serde_json::json!({"metadata": {"annotations": {"connectwarden.io/pause-reconciliation": null}}})
    );
    wait_health(&ns, &ok, "Suspended").await;
    eventually("STOPPED on Connect after resuming", T, || async {
        match connect.get_status(&ok).await {
            Ok(s) if s.connector.state == "STOPPED" => Ok(()),
            Ok(s) => Err(s.connector.state),
            Err(e) => Err(e.to_string()),
        }
    })
    .await;
}
