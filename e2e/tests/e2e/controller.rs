//! The controller against the real kube-apiserver, kubectl and Kafka Connect: lifecycle,
//! finalizer, drift, unowned connectors, cluster status, an unreachable cluster, restarts, metrics and
//! leader election. Tests that stop Connect or run their own controllers use a private Connect worker and
//! private controllers in a namespace labelled `connectwarden.io/e2e-private=<id>`, which the shared
//! webhook and the shared controller (`--label-selector '!connectwarden.io/e2e-private'`) leave alone.

use std::collections::BTreeMap;
use std::time::Duration;

use connect_warden_e2e::connectors::*;
use connect_warden_e2e::objects::{cluster, file_sink, file_source};
use connect_warden_e2e::*;
use shared::connect::ConnectClient;
use shared::crd::ConnectorState;
use stack::warden::PRIVATE_LABEL;

/// Waits until Connect reports `state` for connector `name`.
async fn wait_connect_state(c: &shared::connect::ConnectClient, name: &str, state: &str) {
    eventually(&format!("{name} {state} on Connect"), T, || async {
        match c.get_status(name).await {
            Ok(s) if s.connector.state == state => Ok(()),
            Ok(s) => Err(s.connector.state),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
}

async fn wait_gone_from_connect(c: &shared::connect::ConnectClient, name: &str) {
    eventually(&format!("{name} deleted from Connect"), T, || async {
        match c.list().await {
            Ok(l) if !l.iter().any(|n| n == name) => Ok(()),
            Ok(_) => Err("still listed".into()),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------------------------
// Lifecycle on the shared controller
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn lifecycle_create_update_pause_stop_resume_delete() {
    let ns = shared_namespace("ctl-life");
    let c = connect();
    let name = unique("cw-life");
    let out = scratch("ctl-life").join("out.txt");
    let yaml = |topics: &str, state: ConnectorState| {
        file_sink(&ns, &name, topics, out.display())
            .tasks_max(2)
            .state(state)
            .yaml()
    };
    apply(&yaml("life-a", ConnectorState::Running), &[]).expect_ok();

    // created → RUNNING with 2/2 tasks, in status and on Connect
    let k = wait_running(&ns, &name, "2/2").await;
    let st = k.status.unwrap();
    assert_eq!(st.connector_state.as_deref(), Some("RUNNING"));
    assert_eq!(st.tasks.len(), 2);
    assert_eq!(st.topics, vec!["life-a".to_string()]);
    assert!(
        k.metadata
            .finalizers
            .unwrap_or_default()
            .contains(&shared::crd::FINALIZER.to_string())
    );
    assert_eq!(settled!(c.get_config(&name)).unwrap()["tasks.max"], "2");
    let pretty = kubectl(&["get", "kafkaconnector", &name, "-n", &ns])
        .expect_ok()
        .stdout;
    assert!(
        pretty.contains("2/2") && pretty.contains("True"),
        "{pretty}"
    );

    // update → applied
    apply(&yaml("life-b", ConnectorState::Running), &[]).expect_ok();
    eventually("the new config on Connect", T, || async {
        let cfg = c.get_config(&name).await.map_err(|e| e.to_string())?;
        (cfg.get("topics").map(String::as_str) == Some("life-b"))
            .then_some(())
            .ok_or(format!("topics = {:?}", cfg.get("topics")))
    })
    .await;
    wait_running(&ns, &name, "2/2").await;

    // pause, stop, resume
    apply(&yaml("life-b", ConnectorState::Paused), &[]).expect_ok();
    wait_connect_state(&c, &name, "PAUSED").await;
    wait_reason(&ns, &name, "True", "Paused").await;
    apply(&yaml("life-b", ConnectorState::Stopped), &[]).expect_ok();
    wait_connect_state(&c, &name, "STOPPED").await;
    wait_reason(&ns, &name, "True", "Stopped").await;
    apply(&yaml("life-b", ConnectorState::Running), &[]).expect_ok();
    wait_connect_state(&c, &name, "RUNNING").await;
    wait_running(&ns, &name, "2/2").await;

    let ev = events(&ns, &name);
    for reason in ["Created", "Updated", "Paused", "Stopped", "Resumed"] {
        assert!(ev.contains(reason), "no {reason} event in:\n{ev}");
    }

    // delete → gone from Connect, then the object goes
    delete_connector(&ns, &name);
    wait_gone_from_connect(&c, &name).await;
    assert!(get(&ns, &name).await.is_none());
}

#[tokio::test]
async fn orphan_keeps_the_connector_and_created_stopped_stays_stopped() {
    let ns = shared_namespace("ctl-orphan");
    let c = connect();
    let name = unique("cw-orphan");
    let input = scratch("ctl-orphan").join("in.txt");
    std::fs::write(&input, "a\n").unwrap();
    file_source(&ns, &name, "orphan-t", input.display())
        .state(ConnectorState::Stopped)
        .orphan()
        .apply()
        .expect_ok();
    wait_reason(&ns, &name, "True", "Stopped").await;
    wait_connect_state(&c, &name, "STOPPED").await;

    delete_connector(&ns, &name);
    assert!(get(&ns, &name).await.is_none());
    // still there, still stopped, a few poll cycles later
    tokio::time::sleep(Duration::from_secs(5)).await;
    let st = c
        .get_status(&name)
        .await
        .expect("the orphaned connector is kept");
    assert_eq!(st.connector.state, "STOPPED");
    settled!(c.delete(&name)).unwrap();
}

#[tokio::test]
async fn drift_by_rest_is_restored() {
    let RunningSink { ns, name, .. } = given_a_running_sink("cw-drift", "drift-a").await;
    let c = connect();
    let want = settled!(c.get_config(&name)).unwrap();

    // config changed behind our back → put back
    let mut changed = want.clone();
    changed.insert("topics".into(), "drift-hacked".into());
    settled!(c.put_config(&name, &changed)).unwrap();
    eventually("the config restored", T, || async {
        let cfg = c.get_config(&name).await.map_err(|e| e.to_string())?;
        (cfg == want)
            .then_some(())
            .ok_or(format!("{:?}", cfg.get("topics")))
    })
    .await;

    // paused behind our back → resumed
    wait_connect_state(&c, &name, "RUNNING").await;
    settled!(c.pause(&name)).unwrap();
    // (PAUSED may last less than a look: the event below says the controller saw it.)
    eventually("the state put back", T, || async {
        let ev = events(&ns, &name);
        ev.contains("the state of connector")
            .then_some(())
            .ok_or(ev)
    })
    .await;
    wait_connect_state(&c, &name, "RUNNING").await;

    // deleted behind our back → created again
    settled!(c.delete(&name)).unwrap();
    eventually("the connector recreated", T, || async {
        let cfg = c.get_config(&name).await.map_err(|e| e.to_string())?;
        (cfg == want)
            .then_some(())
            .ok_or("different config".to_string())
    })
    .await;
    wait_running(&ns, &name, "1/1").await;
    // The event follows the write Connect already shows.
    eventually("the three drift corrections reported", T, || async {
        let ev = events(&ns, &name);
        (ev.matches("DriftCorrected").count() >= 3
            && ev.contains("deleted from Kafka Connect")
            && ev.contains("config of connector")
            && ev.contains(&format!("the state of connector {name:?} was changed on Kafka Connect behind our back; restoring the spec's state (running)")))
        .then_some(())
        .ok_or(ev)
    })
    .await;

    delete_connector(&ns, &name);
    wait_gone_from_connect(&c, &name).await;
}

#[tokio::test]
async fn a_connector_created_on_connect_directly_is_never_touched() {
    let ns = shared_namespace("ctl-unowned");
    let c = connect();
    let unowned = unique("cw-unowned");
    let dir = scratch("ctl-unowned");
    let cfg: BTreeMap<String, String> = [
        ("connector.class", "FileStreamSink"),
        ("topics", "unowned-t"),
        ("file", &dir.join("u.txt").to_string_lossy()),
        ("name", &unowned),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    settled!(c.put_config(&unowned, &cfg)).unwrap();
    settled!(c.pause(&unowned)).unwrap();

    // a managed connector on the same cluster, so the controller is busy with it
    let managed = unique("cw-managed");
    file_sink(&ns, &managed, "managed-t", dir.join("m.txt").display())
        .apply()
        .expect_ok();
    wait_running(&ns, &managed, "1/1").await;
    delete_connector(&ns, &managed);
    tokio::time::sleep(Duration::from_secs(6)).await;

    assert_eq!(settled!(c.get_config(&unowned)).unwrap(), cfg);
    wait_connect_state(&c, &unowned, "PAUSED").await;
    settled!(c.delete(&unowned)).unwrap();
}

#[tokio::test]
async fn cluster_status_shows_version_plugins_and_managed_connectors() {
    let ns = shared_namespace("ctl-cluster");
    let name = unique("cw-count");
    file_sink(&ns, &name, "count-t", "/tmp/count.txt")
        .state(ConnectorState::Stopped)
        .apply()
        .expect_ok();
    let cl = eventually("cluster status", T, || async {
        let cl = get_cluster(&ns, "main").await;
        let st = cl.status.clone().ok_or("no status")?;
        let ready = st
            .conditions
            .iter()
            .find(|c| c.kind == "Ready")
            .ok_or("no Ready")?;
        if ready.status == "True" && st.managed_connectors == Some(1) && !st.plugins.is_empty() {
            Ok(cl)
        } else {
            Err(format!("{st:?}"))
        }
    })
    .await;
    let st = cl.status.unwrap();
    assert_eq!(st.version.as_deref(), Some(kafka_env().version.as_str()));
    assert!(
        st.commit.is_some() && st.kafka_cluster_id.is_some(),
        "{st:?}"
    );
    assert!(
        st.plugins.iter().any(|p| p.class
            == "org.apache.kafka.connect.file.FileStreamSinkConnector"
            && p.kind == "sink"),
        "{:?}",
        st.plugins
    );
    let wide = kubectl(&["get", "kafkaconnectcluster", "main", "-n", &ns])
        .expect_ok()
        .stdout;
    assert!(wide.contains(&kafka_env().version), "{wide}");
    delete_connector(&ns, &name);
}

// ---------------------------------------------------------------------------------------------------------
// A private Connect worker and controller
// ---------------------------------------------------------------------------------------------------------

/// A namespace for a private controller, with the label it selects on.
pub(crate) fn private_setup(prefix: &str) -> (String, String) {
    let id = unique(prefix);
    let ns = namespace(prefix, &[(PRIVATE_LABEL, id.as_str())]);
    (ns, id)
}

/// The KafkaConnectCluster `main` for the main worker in a private namespace, labelled for its controller.
pub(crate) fn private_cluster(ns: &str, id: &str) {
    cluster(ns, "main", &kafka_env().connect_url)
        .label(PRIVATE_LABEL, id)
        .apply()
        .expect_ok();
}

pub(crate) fn private_controller(id: &str, extra: &[&str]) -> stack::warden::Controller {
    let selector = format!("{PRIVATE_LABEL}={id}");
    let mut args = vec![
        "--label-selector",
        selector.as_str(),
        "--poll-interval-seconds",
        "1",
    ];
    args.extend_from_slice(extra);
    start_controller("controller-private", &args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_down_is_cluster_unreachable_then_recovers_and_steady_state_is_cheap() {
    let (ns, id) = private_setup("ctl-down");
    let mut worker = tokio::task::block_in_place(|| {
        stack::kafka::ConnectWorker::start(kafka_env(), &env().dir, &unique("connect-down"))
    })
    .expect("starting a private Connect worker");
    let ctl = private_controller(&id, &[]);
    cluster(&ns, "main", &worker.url())
        .label(PRIVATE_LABEL, &id)
        .apply()
        .expect_ok();
    let name = unique("cw-down");
    let out = scratch("ctl-down").join("out.txt");
    file_sink(&ns, &name, "down-t", out.display())
        .label(PRIVATE_LABEL, &id)
        .tasks_max(2)
        .apply()
        .expect_ok();
    wait_running(&ns, &name, "2/2").await;

    // Steady state: one list request per poll (1 s) and no other Connect request, no Kubernetes write.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cluster = format!("{ns}/main");
    let before = scrape(&ctl.metrics_url()).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let after = scrape(&ctl.metrics_url()).await;
    let reqs = |t: &str| {
        total(
            t,
            "connect_warden_connect_requests_total",
            &[("cluster", &cluster)],
        )
    };
    let lists = |t: &str| {
        total(
            t,
            "connect_warden_connect_requests_total",
            &[
                ("cluster", &cluster),
                ("path", "/connectors?expand=status&expand=info"),
            ],
        )
    };
    let writes = |t: &str| total(t, "connect_warden_kube_writes_total", &[]);
    let polls = lists(&after) - lists(&before);
    assert!((4.0..=8.0).contains(&polls), "{polls} polls in 6 s");
    assert_eq!(
        reqs(&after) - reqs(&before),
        polls,
        "only list requests in steady state"
    );
    assert_eq!(
        writes(&after),
        writes(&before),
        "Kubernetes writes in steady state"
    );
    assert_eq!(
        sample(
            &after,
            "connect_warden_cluster_up",
            &[("cluster", &cluster)]
        ),
        Some(1.0)
    );

    // Connect goes away → ClusterUnreachable on the connector and the cluster
    tokio::task::block_in_place(|| worker.stop());
    let k = wait_reason(&ns, &name, "False", "ClusterUnreachable").await;
    assert!(ready(&k).2.contains(&cluster), "{:?}", ready(&k));
    eventually("cluster Ready=False", T, || async {
        let st = get_cluster(&ns, "main").await.status.unwrap_or_default();
        let r = cluster_ready(&st);
        (r.status == "False").then_some(()).ok_or(format!("{r:?}"))
    })
    .await;
    let m = scrape(&ctl.metrics_url()).await;
    assert_eq!(
        sample(&m, "connect_warden_cluster_up", &[("cluster", &cluster)]),
        Some(0.0)
    );

    // ... and back: recovers by itself
    tokio::task::block_in_place(|| worker.restart()).expect("restarting the worker");
    wait_running(&ns, &name, "2/2").await;
    eventually("cluster Ready=True", T, || async {
        let st = get_cluster(&ns, "main").await.status.unwrap_or_default();
        let r = cluster_ready(&st);
        (r.status == "True").then_some(()).ok_or(format!("{r:?}"))
    })
    .await;

    // Delete while the cluster is down: Delete waits and says why; Orphan goes at once.
    tokio::task::block_in_place(|| worker.stop());
    wait_reason(&ns, &name, "False", "ClusterUnreachable").await;
    delete_connector_nowait(&ns, &name);
    let k = wait_reason(&ns, &name, "False", "DeletionBlocked").await;
    assert!(ready(&k).2.contains("Orphan"), "{:?}", ready(&k));
    patch_connector(&ns, &name, r#"{"spec":{"deletionPolicy":"Orphan"}}"#);
    eventually("the KafkaConnector gone", T, || async {
        get(&ns, &name)
            .await
            .is_none()
            .then_some(())
            .ok_or("still there".to_string())
    })
    .await;
    drop(ctl);
}

#[tokio::test]
async fn failed_task_is_restarted_with_backoff_until_exhausted_then_manually() {
    let ns = shared_namespace("ctl-restart");
    let name = unique("cw-restart");
    let dir = scratch("ctl-restart").join("missing");
    let file = dir.join("out.txt");
    file_sink(&ns, &name, "restart-t", file.display())
        .restarts(3, 3)
        .apply()
        .expect_ok();

    // Each restart is recorded in status; the gaps grow.
    let mut times = Vec::new();
    for n in 1..=3u32 {
        let k = eventually(&format!("restart {n}"), T, || async {
            let k = get(&ns, &name).await.ok_or("gone")?;
            let count = k
                .status
                .as_ref()
                .and_then(|s| s.auto_restart.as_ref())
                .map_or(0, |a| a.count);
            if count >= n {
                Ok(k)
            } else {
                Err(format!("count {count}: {:?}", ready(&k)))
            }
        })
        .await;
        let a = k.status.unwrap().auto_restart.unwrap();
        assert_eq!(
            a.count, n,
            "no restart may be skipped in observation at 250 ms"
        );
        let t: k8s_openapi::jiff::Timestamp =
            a.last_restart_time.as_deref().unwrap().parse().unwrap();
        times.push(t.as_second());
    }
    // Backoff base 3 s: the second restart comes at least 3 s after the first, the third at least 6 s after
    // the second (times have second resolution, hence one less). Only lower bounds: a loaded machine makes
    // restarts late, never early.
    let gap1 = times[1] - times[0];
    let gap2 = times[2] - times[1];
    assert!(gap1 >= 2 && gap2 >= 5, "gaps {gap1}s then {gap2}s");

    let k = wait_reason(&ns, &name, "False", "RestartsExhausted").await;
    assert!(ready(&k).2.contains("gave up after 3"), "{:?}", ready(&k));
    let st = k.status.unwrap();
    assert_eq!(st.tasks_ready.as_deref(), Some("0/1"));
    assert!(
        st.tasks[0]
            .trace
            .as_deref()
            .unwrap_or("")
            .contains("out.txt")
    );
    let ev = events(&ns, &name);
    assert!(
        ev.contains("RestartsExhausted") && ev.contains("Restarted"),
        "{ev}"
    );
    // Each restart has its own event, whose text says which one it was, and no event claims a count its
    // text does not tell.
    let restarted: Vec<_> = event_list(&ns, &name)
        .into_iter()
        .filter(|e| e.0 == "Restarted")
        .collect();
    for n in 1..=3 {
        let text =
            format!("restarted the failed connector and tasks of {name:?} (automatic restart {n})");
        let hits: Vec<_> = restarted.iter().filter(|e| e.1 == text).collect();
        assert_eq!(hits.len(), 1, "{text:?} in {restarted:#?}");
        assert_eq!(hits[0].2, 1, "{text:?} happened once: {restarted:#?}");
    }
    assert_eq!(restarted.len(), 3, "{restarted:#?}");

    let m = scrape(&shared_metrics_url()).await;
    let cn = [("namespace", ns.as_str()), ("name", name.as_str())];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut l = cn.to_vec();
        l.extend_from_slice(extra);
        l
    };
    assert_eq!(
        sample(
            &m,
            "connect_warden_connector_restarts_total",
            &with(&[("target", "task"), ("trigger", "automatic")])
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &m,
            "connect_warden_connector_tasks",
            &with(&[("state", "FAILED")])
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &m,
            "connect_warden_connector_state",
            &with(&[("state", "RUNNING")])
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&m, "connect_warden_connector_uptime_seconds", &cn),
        Some(0.0)
    );

    // The directory appears; a manual restart brings it back. The request stays in place (GitOps would put
    // it back anyway); status records it as handled.
    std::fs::create_dir_all(&dir).unwrap();
    annotate_connector(
        &ns,
        &name,
        "connectwarden.io/restart=includeTasks,onlyFailed",
        &[],
    );
    let k = wait_running(&ns, &name, "1/1").await;
    assert_eq!(
        k.metadata
            .annotations
            .clone()
            .unwrap_or_default()
            .get("connectwarden.io/restart")
            .map(String::as_str),
        Some("includeTasks,onlyFailed"),
        "the annotation stays"
    );
    let st = k.status.unwrap();
    assert_eq!(
        st.last_handled_restart.as_deref(),
        Some("includeTasks,onlyFailed")
    );
    assert_eq!(st.auto_restart.map(|a| a.count), Some(0));
    let ev = events(&ns, &name);
    assert!(
        ev.contains(&format!(
            "restarted the failed connector and tasks of {name:?} as asked by connectwarden.io/restart=\"includeTasks,onlyFailed\""
        )),
        "{ev}"
    );
    let m = scrape(&shared_metrics_url()).await;
    assert_eq!(
        sample(
            &m,
            "connect_warden_connector_restarts_total",
            &with(&[("target", "task"), ("trigger", "manual")])
        ),
        Some(1.0)
    );
    let up = sample(&m, "connect_warden_connector_uptime_seconds", &cn).unwrap();
    assert!(up < 30.0, "uptime starts again from zero, got {up}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let up2 = sample(
        &scrape(&shared_metrics_url()).await,
        "connect_warden_connector_uptime_seconds",
        &cn,
    )
    .unwrap();
    assert!(up2 >= up + 2.0, "uptime grows: {up} then {up2}");
    assert!(
        sample(
            &m,
            "connect_warden_connect_requests_total",
            &[
                ("path", "/connectors?expand=status&expand=info"),
                ("code", "200")
            ]
        )
        .unwrap_or(0.0)
            > 0.0
    );

    // Series of a deleted connector disappear.
    delete_connector(&ns, &name);
    let m = scrape(&shared_metrics_url()).await;
    assert!(
        !m.contains(&format!("name=\"{name}\"")),
        "series of {name} left"
    );
}

/// How many manual restarts of `target` (connector or task) the shared controller sent for `name`.
async fn manual_restarts(name: &str, target: &str) -> f64 {
    total(
        &scrape(&shared_metrics_url()).await,
        "connect_warden_connector_restarts_total",
        &[("name", name), ("target", target), ("trigger", "manual")],
    )
}

async fn handled(ns: &str, name: &str) -> (Option<String>, Option<String>) {
    let st = get(ns, name)
        .await
        .and_then(|k| k.status)
        .unwrap_or_default();
    (st.last_handled_restart, st.last_handled_task_restart)
}

/// Request annotations the webhook never judged (a namespace it does not serve, as with the webhook not
/// installed or failing open): the controller refuses an unreadable value once, visibly, and acts on nothing.
#[tokio::test]
async fn unreadable_requests_the_webhook_never_saw_are_refused_once_by_the_controller() {
    let ns = namespace(
        "ctl-unjudged",
        &[(PRIVATE_LABEL, unique("ctl-unjudged").as_str())],
    );
    cluster(&ns, "main", &kafka_env().connect_url)
        .apply()
        .expect_ok();
    let name = unique("cw-unjudged");
    let out = scratch("ctl-unjudged").join("out.txt");
    file_sink(&ns, &name, "unjudged-t", out.display())
        .annotation("connectwarden.io/restart", "t0")
        .apply()
        .expect_ok();
    wait_running(&ns, &name, "1/1").await;

    annotate_connector(
        &ns,
        &name,
        "connectwarden.io/restart=t1,includeTask",
        &["--overwrite"],
    );
    annotate_connector(&ns, &name, "connectwarden.io/offsets=rewind", &[]);
    // The event and the status write are two requests; wait for both.
    eventually(
        "Warnings about both values, recorded as handled",
        T,
        || async {
            let k = get(&ns, &name).await.ok_or("not found")?;
            let st = k.status.clone().unwrap_or_default();
            let ev = events(&ns, &name);
            (ev.contains("InvalidAnnotation")
                && st.last_handled_restart.as_deref() == Some("t1,includeTask")
                && st.last_handled_offsets.as_deref() == Some("rewind"))
            .then_some(())
            .ok_or(format!(
                "handled {:?} {:?}; events: {ev}",
                st.last_handled_restart, st.last_handled_offsets
            ))
        },
    )
    .await;
    let k = get(&ns, &name).await.unwrap();
    assert_eq!(
        condition(&k, "Offsets"),
        (
            "False".into(),
            "InvalidRequest".into(),
            "connectwarden.io/offsets: \"rewind\" does not start with list, alter or reset; use e.g. \"list\" or \"reset,2024-05-01T10:00:00Z\" (the token makes a repeated request new)".into()
        )
    );
    // Warned about once, though the controller reconciles the connector again and again.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let list = event_list(&ns, &name);
    let warned: Vec<_> = list
        .iter()
        .filter(|e| {
            e.1.contains("\"includeTask\" looks like a misspelled option")
        })
        .collect();
    assert!(
        warned.len() == 1 && warned[0].2 == 1,
        "one warning in {list:#?}"
    );
    assert_eq!(manual_restarts(&name, "connector").await, 0.0);
    delete_connector(&ns, &name);
}

#[tokio::test]
async fn restart_requests_are_values_handled_once_and_left_in_place() {
    let ns = shared_namespace("ctl-manual");
    let name = unique("cw-manual");
    let out = scratch("ctl-manual").join("out.txt");
    let yaml = |restart: Option<&str>| {
        let c = file_sink(&ns, &name, "manual-t", out.display()).tasks_max(2);
        match restart {
            Some(v) => c.annotation("connectwarden.io/restart", v),
            None => c,
        }
        .yaml()
    };
    apply(&yaml(None), &[]).expect_ok();
    wait_running(&ns, &name, "2/2").await;

    // One task, by id: restarted once, recorded, the annotation left in place.
    annotate_connector(&ns, &name, "connectwarden.io/restart-task=1", &[]);
    eventually("the task restart done and recorded", T, || async {
        let n = manual_restarts(&name, "task").await;
        let h = handled(&ns, &name).await;
        (n == 1.0 && h.1.as_deref() == Some("1"))
            .then_some(())
            .ok_or(format!("{n} restarts, handled {h:?}"))
    })
    .await;
    let k = get(&ns, &name).await.unwrap();
    assert_eq!(
        k.metadata.annotations.unwrap_or_default()["connectwarden.io/restart-task"],
        "1"
    );

    // A misspelled option: denied at admission, so the annotation never changes and nothing restarts.
    let out = try_annotate_connector(&ns, &name, "connectwarden.io/restart=includeTask", &[])
        .expect_err();
    assert!(
        out.stderr.contains(
            "connectwarden.io/restart: \"includeTask\": \"includeTask\" looks like a misspelled option (did you mean includeTasks?)"
        ),
        "{}",
        out.stderr
    );
    let k = get(&ns, &name).await.unwrap();
    assert!(
        !k.metadata
            .annotations
            .unwrap_or_default()
            .contains_key("connectwarden.io/restart")
    );

    // GitOps: the manifest carries a value. Applied: one restart. Applied again, as a sync does: nothing.
    let v1 = "2024-05-01T10:00:00Z";
    apply(&yaml(Some(v1)), &[]).expect_ok();
    eventually("the restart done and recorded", T, || async {
        let n = manual_restarts(&name, "connector").await;
        let h = handled(&ns, &name).await;
        (n == 1.0 && h.0.as_deref() == Some(v1))
            .then_some(())
            .ok_or(format!("{n} restarts, handled {h:?}"))
    })
    .await;
    apply(&yaml(Some(v1)), &[]).expect_ok();
    annotate_connector(
        &ns,
        &name,
        &format!("connectwarden.io/restart={v1}"),
        &["--overwrite"],
    );
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        manual_restarts(&name, "connector").await,
        1.0,
        "same value, no restart"
    );
    assert_eq!(manual_restarts(&name, "task").await, 1.0);

    // A new value: exactly one more.
    let v2 = "2024-05-01T10:05:00Z";
    apply(&yaml(Some(v2)), &[]).expect_ok();
    eventually("the second restart done", T, || async {
        let n = manual_restarts(&name, "connector").await;
        (n >= 2.0).then_some(()).ok_or(format!("{n} restarts"))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(manual_restarts(&name, "connector").await, 2.0);
    let k = wait_running(&ns, &name, "2/2").await;
    assert_eq!(
        k.status.as_ref().unwrap().last_handled_restart.as_deref(),
        Some(v2)
    );
    assert_eq!(
        k.metadata.annotations.unwrap_or_default()["connectwarden.io/restart"],
        v2
    );

    // Each event tells its own request, once.
    let list = event_list(&ns, &name);
    let once = |text: &str| {
        let hits: Vec<_> = list.iter().filter(|e| e.1 == text).collect();
        assert!(
            hits.len() == 1 && hits[0].2 == 1,
            "{text:?} once in {list:#?}"
        );
    };
    once(&format!(
        "restarted task 1 of {name:?} as asked by connectwarden.io/restart-task=\"1\""
    ));
    once(&format!(
        "restarted the connector of {name:?} as asked by connectwarden.io/restart=\"{v1}\""
    ));
    once(&format!(
        "restarted the connector of {name:?} as asked by connectwarden.io/restart=\"{v2}\""
    ));
    // The denied value never reached the controller.
    assert!(
        !list.iter().any(|e| e.1.contains("misspelled")),
        "{list:#?}"
    );
    delete_connector(&ns, &name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_takes_over_and_restarts_continue_without_duplicates() {
    let (ns, id) = private_setup("ctl-lease");
    let lease = unique("cw-lease");
    let lease_args = [
        "--leader-election",
        "--lease-name",
        lease.as_str(),
        "--lease-namespace",
        ns.as_str(),
        "--lease-duration-seconds",
        "4",
        "--log-level",
        "info,connect_warden_controller=debug",
    ];
    stack::warden::grant_leader_election(kube_env(), &ns, &lease)
        .expect("granting leader election");
    let mut a = private_controller(&id, &lease_args);
    let mut b = private_controller(&id, &lease_args);
    private_cluster(&ns, &id);
    let name = unique("cw-lease");
    let file = scratch("ctl-lease").join("missing").join("out.txt");
    file_sink(&ns, &name, "lease-t", file.display())
        .label(PRIVATE_LABEL, &id)
        .restarts(4, 4)
        .apply()
        .expect_ok();

    let leader_of = |m: &str| sample(m, "connect_warden_leader", &[]) == Some(1.0);
    let (a_url, b_url) = (a.metrics_url(), b.metrics_url());
    let a_leads = eventually("exactly one leader", T, || async {
        let (ma, mb) = (scrape(&a_url).await, scrape(&b_url).await);
        (leader_of(&ma) ^ leader_of(&mb))
            .then_some(leader_of(&ma))
            .ok_or("no single leader yet".to_string())
    })
    .await;
    let (leader, standby) = if a_leads {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };

    // Right after the first restart, the leader dies (the next one is due 4 s later).
    let leader_url = leader.metrics_url();
    let by_leader = eventually("the first restart", T, || async {
        let k = get(&ns, &name).await.ok_or("gone")?;
        let c = k.status.and_then(|s| s.auto_restart).map_or(0, |a| a.count);
        let sent = total(
            &scrape(&leader_url).await,
            "connect_warden_connector_restarts_total",
            &[("name", name.as_str()), ("trigger", "automatic")],
        );
        (c >= 1 && sent >= 1.0)
            .then_some(sent)
            .ok_or(format!("count {c}, sent {sent}"))
    })
    .await;
    leader.kill();
    let counted = get(&ns, &name)
        .await
        .unwrap()
        .status
        .unwrap()
        .auto_restart
        .unwrap()
        .count;
    assert_eq!(
        by_leader,
        f64::from(counted),
        "the leader's restarts match status at the handover"
    );

    // The standby takes over within the lease duration and continues the count until exhausted.
    let k = wait_reason(&ns, &name, "False", "RestartsExhausted").await;
    assert_eq!(k.status.unwrap().auto_restart.unwrap().count, 4);
    let m = scrape(&standby.metrics_url()).await;
    assert!(leader_of(&m));
    let by_standby = total(
        &m,
        "connect_warden_connector_restarts_total",
        &[("name", name.as_str()), ("trigger", "automatic")],
    );
    let lines: Vec<&str> = m.lines().filter(|l| l.contains(name.as_str())).collect();
    assert_eq!(
        by_leader + by_standby,
        4.0,
        "no restart issued twice across the handover (leader {by_leader}, standby: {lines:#?})"
    );

    delete_connector(&ns, &name);
    wait_gone_from_connect(&connect(), &name).await;
}

#[tokio::test]
async fn credentials_and_ca_come_from_secrets_and_are_picked_up_again() {
    let ns = namespace("ctl-secure", &[]);
    let s = &kafka_env().secure;
    credentials::basic_auth_secret("creds", &s.username, "wrong-password").create(&ns);
    credentials::ca_secret("ca").create(&ns);
    credentials::client_cert_secret("client").create(&ns);
    cluster(&ns, "secure", &s.url)
        .basic_auth("creds")
        .ca_secret("ca")
        .client_cert("client")
        .apply()
        .expect_ok();
    let cond = cluster_ready;
    eventually("Ready=False Unauthorized", T, || async {
        let st = get_cluster(&ns, "secure").await.status.unwrap_or_default();
        let r = cond(&st);
        (r.status == "False" && r.reason.as_deref() == Some("Unauthorized"))
            .then_some(())
            .ok_or(format!("{r:?}"))
    })
    .await;
    let st = get_cluster(&ns, "secure").await.status.unwrap_or_default();
    assert!(
        !serde_json::to_string(&st)
            .unwrap()
            .contains("wrong-password")
    );

    // The right password arrives in the Secret: picked up without touching the cluster object.
    credentials::worker_basic_auth_secret("creds").apply(&ns);
    let st = eventually("Ready=True", T, || async {
        let st = get_cluster(&ns, "secure").await.status.unwrap_or_default();
        let r = cond(&st);
        (r.status == "True").then_some(st).ok_or(format!("{r:?}"))
    })
    .await;
    assert_eq!(st.version.as_deref(), Some(kafka_env().version.as_str()));
    assert!(!serde_json::to_string(&st).unwrap().contains(&s.password));
}

#[tokio::test]
async fn a_slow_cluster_does_not_delay_the_others() {
    let ns = shared_namespace("ctl-slow");
    // Accepts connections, never answers: every request waits for its deadline.
    let hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let slow_url = format!("http://{}", hole.local_addr().unwrap());
    cluster(&ns, "slow", &slow_url)
        .request_timeout_seconds(30)
        .apply()
        .expect_ok();
    let stuck = unique("cw-stuck");
    let fast = unique("cw-fast");
    let dir = scratch("ctl-slow");
    // The shared webhook may refuse it (it cannot validate against a silent cluster); either way the
    // controller's poller for `slow` is stuck waiting, which is what matters.
    let _ = file_sink(&ns, &stuck, "slow-t", dir.join("s.txt").display())
        .on("slow")
        .apply();
    let started = std::time::Instant::now();
    file_sink(&ns, &fast, "fast-t", dir.join("f.txt").display())
        .apply()
        .expect_ok();
    wait_running(&ns, &fast, "1/1").await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    delete_connector(&ns, &fast);
    let _ = try_patch_connector(&ns, &stuck, r#"{"spec":{"deletionPolicy":"Orphan"}}"#);
    let _ = try_delete_connector_nowait(&ns, &stuck);
    drop(hole);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_webhook_bad_config_and_name_conflicts_are_reported() {
    let (ns, id) = private_setup("ctl-nohook");
    let ctl = private_controller(&id, &[]);
    private_cluster(&ns, &id);
    let dir = scratch("ctl-nohook");

    // A number where Connect wants a string (the webhook would have converted it).
    let bad = unique("cw-bad");
    file_sink(&ns, &bad, "nohook-t", dir.join("b.txt").display())
        .label(PRIVATE_LABEL, &id)
        .config_value("batch.size", 5.into())
        .apply()
        .expect_ok();
    let k = wait_reason(&ns, &bad, "False", "InvalidConfig").await;
    assert!(ready(&k).2.contains("batch.size"), "{:?}", ready(&k));
    assert!(is_stalled(&k), "{:?}", k.status);
    assert!(
        connect().get_status(&bad).await.is_err(),
        "nothing created on Connect"
    );

    // Two KafkaConnectors for one connector name: the older one wins, the other says so.
    let shared_name = unique("cw-same");
    let first = unique("cw-first");
    let second = unique("cw-second");
    for n in [&first, &second] {
        file_sink(&ns, n, "same-t", dir.join("x.txt").display())
            .label(PRIVATE_LABEL, &id)
            .connect_name(&shared_name)
            .apply()
            .expect_ok();
        if n == &first {
            wait_running(&ns, &first, "1/1").await;
        }
    }
    let k = wait_reason(&ns, &second, "False", "NameConflict").await;
    assert!(ready(&k).2.contains(&first), "{:?}", ready(&k));
    // Deleting the loser leaves the winner's connector alone.
    delete_connector(&ns, &second);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        connect()
            .get_status(&shared_name)
            .await
            .unwrap()
            .connector
            .state,
        "RUNNING"
    );
    kubectl(&[
        "delete",
        "kafkaconnector",
        &first,
        &bad,
        "-n",
        &ns,
        "--wait=true",
        "--timeout=60s",
    ])
    .expect_ok();
    wait_gone_from_connect(&connect(), &shared_name).await;
    drop(ctl);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_webhook_connects_own_errors_are_shown_one_line_per_key() {
    let (ns, id) = private_setup("ctl-refused");
    let ctl = private_controller(&id, &[]);
    private_cluster(&ns, &id);
    let name = unique("cw-refused");
    let input = scratch("ctl-refused").join("in.txt");
    std::fs::write(&input, "a\n").unwrap();
    let yaml = |batch: &str| {
        file_source(&ns, &name, "refused-t", input.display())
            .label(PRIVATE_LABEL, &id)
            .config("batch.size", batch)
            .config("db.password", "hunter2-refused")
            .yaml()
    };
    // Strings everywhere, so only Kafka Connect can tell: it refuses the PUT with its own errors.
    apply(&yaml("abc"), &[]).expect_ok();
    let k = wait_reason(&ns, &name, "False", "InvalidConfig").await;
    assert_eq!(
        ready(&k).2,
        format!(
            "Kafka Connect rejected the config of \"{name}\":\n\
             batch.size: Invalid value abc for configuration batch.size: Not a number of type INT"
        )
    );
    assert!(is_stalled(&k), "{:?}", k.status);
    let st = k.status.clone().unwrap();
    assert!(
        connect().get_status(&name).await.is_err(),
        "nothing created on Connect"
    );
    let ev = eventually("an InvalidConfig event", T, || async {
        let ev = events(&ns, &name);
        ev.contains("InvalidConfig").then_some(ev.clone()).ok_or(ev)
    })
    .await;
    assert!(
        ev.contains("batch.size: Invalid value abc for configuration batch.size"),
        "{ev}"
    );
    assert!(
        !format!("{ev}{st:?}").contains("hunter2-refused"),
        "a secret leaked"
    );

    // Fixed in the spec: created and running.
    apply(&yaml("5"), &[]).expect_ok();
    wait_running(&ns, &name, "1/1").await;
    delete_connector(&ns, &name);
    drop(ctl);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_deletes_only_connectors_no_kafkaconnector_claims() {
    let ns = namespace("ctl-prune", &[]);
    let worker = tokio::task::block_in_place(|| {
        stack::kafka::ConnectWorker::start(kafka_env(), &env().dir, &unique("connect-prune"))
    })
    .expect("starting a private Connect worker");
    let c = ConnectClient::new(&shared::connect::ClientSettings::new(worker.url())).unwrap();
    let dir = scratch("ctl-prune");
    let stray = unique("cw-stray");
    let cfg: BTreeMap<String, String> = [
        ("connector.class", "FileStreamSink"),
        ("topics", "prune-t"),
        ("file", &dir.join("stray.txt").to_string_lossy()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    settled!(c.put_config(&stray, &cfg)).unwrap();

    cluster(&ns, "main", &worker.url())
        .prune()
        .apply()
        .expect_ok();
    let kept = unique("cw-kept");
    file_sink(&ns, &kept, "prune-t", dir.join("kept.txt").display())
        .apply()
        .expect_ok();
    wait_running(&ns, &kept, "1/1").await;
    // Claimed through another KafkaConnectCluster object at the same Connect (spelled differently), which
    // does not prune: the pruning cluster leaves it alone too.
    let other_ns = namespace("ctl-prune-alias", &[]);
    cluster(
        &other_ns,
        "alias",
        &format!("{}/", worker.url().replacen("http://", "HTTP://", 1)),
    )
    .apply()
    .expect_ok();
    let aliased = unique("cw-aliased");
    file_sink(
        &other_ns,
        &aliased,
        "prune-t",
        dir.join("aliased.txt").display(),
    )
    .on("alias")
    .apply()
    .expect_ok();
    wait_running(&other_ns, &aliased, "1/1").await;
    eventually("the stray connector pruned", T, || async {
        let names = c.list().await.map_err(|e| e.to_string())?;
        (!names.contains(&stray))
            .then_some(())
            .ok_or(format!("{names:?}"))
    })
    .await;
    eventually("the prune reported", T, || async {
        let ev = events(&ns, "main");
        ev.contains("Pruned").then_some(()).ok_or(ev)
    })
    .await;
    let names = settled!(c.list()).unwrap();
    assert!(
        names.contains(&kept) && names.contains(&aliased),
        "{names:?}"
    );
    delete_connector(&ns, &kept);
    delete_connector(&other_ns, &aliased);
    drop(worker);
}

#[tokio::test]
async fn deleting_cluster_and_connector_together_deletes_the_connector_from_connect() {
    let RunningSink { ns, name, .. } = given_a_running_sink("cw-both", "both-t").await;
    let c = connect();
    let cl = get_cluster(&ns, "main").await;
    assert!(
        cl.metadata
            .finalizers
            .unwrap_or_default()
            .iter()
            .any(|f| f == "connectwarden.io/cluster-in-use"),
        "the cluster is protected while in use"
    );
    // As when a namespace or an Argo CD application goes: both at once. The cluster waits for the
    // connector, which deletes its connector from Connect through it.
    kubectl(&[
        "delete",
        "kafkaconnectcluster/main",
        &format!("kafkaconnector/{name}"),
        "-n",
        &ns,
        "--wait=false",
    ])
    .expect_ok();
    wait_gone_from_connect(&c, &name).await;
    eventually("both objects gone", T, || async {
        let out = kubectl(&[
            "get",
            "kafkaconnectclusters,kafkaconnectors",
            "-n",
            &ns,
            "-o",
            "name",
        ]);
        out.stdout.trim().is_empty().then_some(()).ok_or(out.stdout)
    })
    .await;
}
