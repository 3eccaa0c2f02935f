//! Paging for real: the stack's Prometheus scrapes the shared webhook and controller (and the private
//! controllers these tests register) the way the shipped ServiceMonitor does, evaluates the shipped
//! PrometheusRule (with `for:` shortened), and its Alertmanager notifies a webhook receiver in this process.
//! Each test waits for the notification of its own alert, picked out by its namespace, connector or cluster
//! labels, then fixes the cause and waits for the resolved notification.

use std::time::{Duration, Instant};

use connect_warden_e2e::connectors::{
    delete_connector, delete_connector_nowait, patch_cluster, patch_connector,
};
use connect_warden_e2e::kafka::{create_topic, produce};
use connect_warden_e2e::objects::{cluster, connector, file_sink};
use connect_warden_e2e::prom::{self, CONTROLLER_JOB, Notified, ScrapeTarget};
use connect_warden_e2e::*;
use stack::warden::PRIVATE_LABEL;

/// Bounds a wait for an alert: the failure shows within seconds (2 s polls), `for:` is 5 s in the test
/// rules, and Prometheus and Alertmanager work at one-second intervals.
const T: Duration = Duration::from_secs(120);

fn show(what: &str, started: Instant, a: &Notified) {
    eprintln!(
        "{what} after {}: status={} labels={:?} annotations={:?}",
        prom::since(started),
        a.status,
        a.labels,
        a.annotations
    );
}

#[tokio::test]
async fn a_failed_task_pages_with_its_runbook_and_the_fix_resolves_it() {
    prom::start_receiver();
    let ns = namespace("alert-task", &[]);
    cluster(&ns, "main", &kafka_env().connect_url)
        .apply()
        .expect_ok();
    let name = unique("cw-alert-task");
    // The task fails on start, and again on every restart, until the file can be written.
    let connector =
        file_sink(&ns, &name, "alert-task-t", "/nonexistent-dir/out.txt").no_auto_restart();
    let started = Instant::now();
    connector.apply().expect_ok();

    let cluster = format!("{ns}/main");
    let ours = [
        ("namespace", ns.as_str()),
        ("name", name.as_str()),
        ("cluster", cluster.as_str()),
    ];
    let firing = prom::wait_notified("ConnectWardenTaskFailed", "firing", &ours, T).await;
    show("ConnectWardenTaskFailed firing", started, &firing);
    assert_eq!(firing.labels["severity"], "warning");
    assert_eq!(
        firing.annotations["summary"],
        format!("Connector {ns}/{name} on {cluster} has 1 FAILED task(s).")
    );
    assert_eq!(
        firing.annotations["runbook"],
        format!(
            "kubectl -n {ns} get kafkaconnector {name} -o yaml: read status.tasks[].trace, fix the cause, then let autoRestart retry or annotate --overwrite connectwarden.io/restart=$(date -u +%FT%TZ),includeTasks,onlyFailed (each new value is one restart)."
        )
    );
    // Only the task failed: the connector itself runs, and autoRestart is off, so nothing else pages.
    assert!(
        prom::notified(&ours)
            .iter()
            .all(|a| a.labels["alertname"] == "ConnectWardenTaskFailed"),
        "{:#?}",
        prom::notified(&ours)
    );

    // The fix: a file that can be written. The new config restarts the task.
    let fixed = scratch("alert-task").join("out.txt");
    let fixed_at = Instant::now();
    patch_connector(
        &ns,
        &name,
        &format!(
            r#"{{"spec":{{"config":{{"file":"{}"}}}}}}"#,
            fixed.display()
        ),
    );
    let resolved = prom::wait_notified("ConnectWardenTaskFailed", "resolved", &ours, T).await;
    show("ConnectWardenTaskFailed resolved", fixed_at, &resolved);
    assert_eq!(resolved.labels, firing.labels);
    assert_eq!(resolved.starts_at, firing.starts_at, "the same alert");

    delete_connector(&ns, &name);
}

#[tokio::test]
async fn a_connect_cluster_that_stops_answering_pages_until_it_answers_again() {
    prom::start_receiver();
    let ns = namespace("alert-down", &[]);
    // A port that was just closed: nothing answers there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    cluster(&ns, "gone", &format!("http://127.0.0.1:{port}"))
        .apply()
        .expect_ok();

    let cluster = format!("{ns}/gone");
    let ours = [("cluster", cluster.as_str())];
    let firing = prom::wait_notified("ConnectWardenClusterUnreachable", "firing", &ours, T).await;
    show("ConnectWardenClusterUnreachable firing", started, &firing);
    assert_eq!(firing.labels["severity"], "critical");
    assert_eq!(
        firing.annotations["summary"],
        format!("Kafka Connect cluster {cluster} is unreachable.")
    );
    assert!(
        firing.annotations["runbook"].starts_with(&format!(
            "kubectl get kafkaconnectcluster -A and describe {cluster}: check spec.url"
        )),
        "{:?}",
        firing.annotations
    );

    // Pointed at a worker that answers, it resolves.
    let fixed_at = Instant::now();
    patch_cluster(
        &ns,
        "gone",
        &format!(r#"{{"spec":{{"url":"{}"}}}}"#, kafka_env().connect_url),
    );
    let resolved =
        prom::wait_notified("ConnectWardenClusterUnreachable", "resolved", &ours, T).await;
    show(
        "ConnectWardenClusterUnreachable resolved",
        fixed_at,
        &resolved,
    );
    assert_eq!(resolved.labels, firing.labels);
}

/// A controller installation of its own (namespace, Lease, scrape target with that namespace, as its
/// Service would give it), next to the shared one that keeps leading: only this installation pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_installation_without_a_leader_pages_until_a_replica_leads_again() {
    prom::start_receiver();
    let id = unique("alert-lease");
    let ns = namespace("alert-lease", &[(PRIVATE_LABEL, id.as_str())]);
    let selector = format!("{PRIVATE_LABEL}={id}");
    let args = [
        "--label-selector",
        selector.as_str(),
        "--leader-election",
        "--lease-name",
        "connect-warden-controller",
        "--lease-namespace",
        ns.as_str(),
        "--lease-duration-seconds",
        "4",
    ];
    // This installation's leader-election Role, as installing into `ns` creates it.
    stack::warden::grant_leader_election(kube_env(), &ns, "connect-warden-controller")
        .expect("granting leader election");
    let start = || start_controller("controller-alert", &args);
    let leading = format!("connect_warden_leader{{namespace=\"{ns}\"}} == 1");
    let alert = format!("ALERTS{{alertname=\"ConnectWardenNoLeader\",namespace=\"{ns}\"}}");

    let mut first = start();
    let target = ScrapeTarget::add(CONTROLLER_JOB, &ns, prom::host_port(&first.metrics_url()));
    prom::wait_series(&leading, T).await;
    // Leading: no alert, not even pending, however often the rule looks.
    prom::wait_evaluations("ConnectWardenNoLeader", 3).await;
    assert_eq!(prom::query(&alert).await.unwrap().len(), 0);
    let ours = [("namespace", ns.as_str()), ("job", CONTROLLER_JOB)];
    assert!(
        prom::notified(&ours).is_empty(),
        "{:?}",
        prom::notified(&ours)
    );

    // Its only replica stops (and releases the Lease): nobody leads this installation.
    let stopped_at = Instant::now();
    tokio::task::block_in_place(|| first.stop());
    let firing = prom::wait_notified("ConnectWardenNoLeader", "firing", &ours, T).await;
    show("ConnectWardenNoLeader firing", stopped_at, &firing);
    assert_eq!(firing.labels["severity"], "critical");
    assert_eq!(
        firing.annotations["summary"],
        format!("No connect-warden controller replica in {ns} is leading.")
    );
    assert_eq!(
        firing.annotations["runbook"],
        format!(
            "kubectl -n {ns} get pods,lease: check that the controller pods run and that the Lease connect-warden-controller is renewed; read the controller logs."
        )
    );
    // The shared installation leads all along and never pages.
    assert!(
        prom::notified(&[
            ("alertname", "ConnectWardenNoLeader"),
            ("namespace", stack::monitoring::INSTALL_NAMESPACE)
        ])
        .is_empty()
    );

    // A new replica (a new pod: new address) takes the Lease.
    let restarted_at = Instant::now();
    let second = start();
    let target2 = ScrapeTarget::add(CONTROLLER_JOB, &ns, prom::host_port(&second.metrics_url()));
    drop(target);
    let resolved = prom::wait_notified("ConnectWardenNoLeader", "resolved", &ours, T).await;
    show("ConnectWardenNoLeader resolved", restarted_at, &resolved);
    assert_eq!(resolved.labels, firing.labels);
    drop(target2);
    drop(second);
}

// ---------------------------------------------------------------------------------------------------------
// The Grafana dashboard
// ---------------------------------------------------------------------------------------------------------

fn dashboard_file() -> std::path::PathBuf {
    stack::cache::repo_root().join("deploy/monitoring/dashboards/connect-warden.json")
}

/// Every `expr` in the dashboard (panels, rows and their panels), in order.
fn exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr", serde_json::Value::String(e)) => out.push(e.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

/// The expression as Grafana sends it with every variable at "All" (a match-all regex) and a rate window
/// of five minutes (what Grafana picks for a few hours' range at the ServiceMonitor's 30 s interval).
fn substitute(expr: &str, variables: &[String]) -> String {
    let mut e = expr.replace("$__rate_interval", "5m");
    for v in variables {
        e = e
            .replace(&format!("${{{v}}}"), ".*")
            .replace(&format!("${v}"), ".*");
    }
    e
}

/// Connectors in every state the panels show, admissions allowed and denied, restarts, and reconcile errors;
/// then every query of the dashboard must return a value from the stack's Prometheus.
#[tokio::test]
async fn every_dashboard_query_returns_data() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dashboard_file()).unwrap())
            .expect("the dashboard is JSON");
    let variables: Vec<String> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(variables, ["datasource", "cluster", "namespace"]);

    // Traffic.
    let ns = namespace("dash", &[]);
    // `main` measures lag (its sinks' lag, progress and dead letter panels), `flaky` does not.
    cluster(&ns, "main", &kafka_env().connect_url)
        .kafka(&kafka_env().bootstrap)
        .apply()
        .expect_ok();
    cluster(&ns, "flaky", &kafka_env().connect_url)
        .apply()
        .expect_ok();
    let (ok, broken, stuck) = (
        unique("dash-ok"),
        unique("dash-broken"),
        unique("dash-stuck"),
    );
    let (topic, dlq) = (unique("dash-t"), unique("dash-dlq"));
    create_topic(kafka_env(), &topic, 1).await.expect("topic");
    create_topic(kafka_env(), &dlq, 1).await.expect("dlq");
    produce(kafka_env(), &topic, &["one".into(), "two".into()])
        .await
        .expect("records");
    let out = scratch("dash").join("out.txt");
    file_sink(&ns, &ok, &topic, out.display())
        .config("errors.tolerance", "all")
        .config("errors.deadletterqueue.topic.name", &dlq)
        .config("errors.deadletterqueue.topic.replication.factor", "1")
        .apply()
        .expect_ok();
    file_sink(&ns, &broken, &topic, "/nonexistent-dir/out.txt")
        .restarts(1, 1)
        .apply()
        .expect_ok();
    file_sink(&ns, &stuck, &topic, out.display())
        .on("flaky")
        .apply()
        .expect_ok();
    // Denied: a sink needs topics.
    connector(&ns, &unique("dash-bad"), "FileStreamSink")
        .config_value("tasks.max", 1.into())
        .apply()
        .expect_err();
    // The cluster of `stuck` stops answering and `stuck` is deleted: deletion waits for Connect and each
    // reconcile fails (reconcile errors).
    let ready_reason = |name: &str| {
        kubectl(&[
            "get",
            "kafkaconnector",
            name,
            "-n",
            &ns,
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].reason}",
        ])
        .stdout
    };
    eventually("both connectors running", T, || async {
        let (a, b) = (ready_reason(&ok), ready_reason(&stuck));
        (a == "Running" && b == "Running")
            .then_some(())
            .ok_or(format!("{a} {b}"))
    })
    .await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    patch_cluster(
        &ns,
        "flaky",
        &format!(r#"{{"spec":{{"url":"http://127.0.0.1:{closed}"}}}}"#),
    );
    eventually("the flaky cluster unreachable", T, || async {
        let r = ready_reason(&stuck);
        (r == "ClusterUnreachable").then_some(()).ok_or(r)
    })
    .await;
    delete_connector_nowait(&ns, &stuck);
    eventually("restarts given up on the broken connector", T, || async {
        let r = ready_reason(&broken);
        (r == "RestartsExhausted").then_some(()).ok_or(r)
    })
    .await;

    // Every query, with the variables at "All", until each has returned a value (scrapes lag a second or
    // two); then all those that never did are named at once.
    let mut all = Vec::new();
    exprs(&dashboard, &mut all);
    assert!(all.len() >= 15, "{all:#?}");
    let mut pending: Vec<String> = all.iter().map(|e| substitute(e, &variables)).collect();
    for q in &pending {
        assert!(!q.contains('$'), "an unknown variable in {q}");
    }
    let mut checked = Vec::new();
    let mut last = std::collections::BTreeMap::new();
    let deadline = Instant::now() + T;
    while !pending.is_empty() && Instant::now() < deadline {
        let mut still = Vec::new();
        for q in pending {
            let finite: Result<Vec<String>, String> = prom::query(&q).await.map(|r| {
                r.iter()
                    .filter(|s| s.number().is_finite())
                    .map(|s| format!("{:?} {}", s.metric, s.value.1))
                    .collect()
            });
            match finite {
                Ok(v) if !v.is_empty() => {
                    checked.push(format!("{q}\n    => {}", v.join("\n       ")))
                }
                other => {
                    last.insert(q.clone(), format!("{other:?}"));
                    still.push(q);
                }
            }
        }
        pending = still;
        if !pending.is_empty() {
            // The interval of this poll, which names every query still without data when it gives up.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    eprintln!("dashboard queries with data:\n{}", checked.join("\n"));
    assert!(
        pending.is_empty(),
        "dashboard queries without data after {T:?}:\n{}",
        pending
            .iter()
            .map(|q| format!("{q}\n    last: {}", last[q]))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The variables' own queries: label_values(metric, label) has values.
    for v in dashboard["templating"]["list"].as_array().unwrap() {
        let Some(def) = v["definition"].as_str() else {
            continue;
        };
        let (metric, label) = def
            .strip_prefix("label_values(")
            .and_then(|d| d.strip_suffix(')'))
            .and_then(|d| d.split_once(", "))
            .unwrap_or_else(|| panic!("unexpected variable query {def}"));
        prom::wait_series(&format!("count by ({label}) ({metric})"), T).await;
    }

    // Clean up: Orphan lets the blocked deletion finish; the orphan goes from Connect directly.
    patch_connector(&ns, &stuck, r#"{"spec":{"deletionPolicy":"Orphan"}}"#);
    for name in [&ok, &broken] {
        delete_connector(&ns, name);
    }
    eventually("the orphan deleted from Connect", T, || async {
        match connect().delete(&stuck).await {
            Ok(()) => Ok(()),
            Err(e) if e.to_string().contains("404") => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    })
    .await;
}

/// The ConfigMap of `kubectl apply -k deploy/monitoring` carries the dashboard file unchanged, labelled for
/// Grafana's dashboard sidecar, and the API server accepts it.
#[test]
fn the_dashboard_ships_in_a_configmap_grafana_picks_up() {
    let dir = stack::cache::repo_root().join("deploy/monitoring");
    let rendered = kubectl(&["kustomize", &dir.to_string_lossy()])
        .expect_ok()
        .stdout;
    let doc = rendered
        .split("\n---\n")
        .find(|d| d.contains("kind: ConfigMap"))
        .expect("a ConfigMap in deploy/monitoring");
    crate::install::ensure_install_namespace();
    let out = apply(doc, &["--dry-run=server", "-o", "json"])
        .expect_ok()
        .stdout;
    let cm: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(cm["metadata"]["name"], "connect-warden-dashboard");
    assert_eq!(cm["metadata"]["namespace"], "connect-warden");
    assert_eq!(cm["metadata"]["labels"]["grafana_dashboard"], "1");
    let shipped: serde_json::Value = serde_json::from_str(
        cm["data"]["connect-warden.json"]
            .as_str()
            .expect("data connect-warden.json"),
    )
    .unwrap();
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dashboard_file()).unwrap()).unwrap();
    assert_eq!(shipped, file);
    assert_eq!(file["uid"], "connect-warden");
}
