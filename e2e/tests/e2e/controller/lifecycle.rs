//! A connector's lifecycle on the shared controller: create, update, pause, stop, resume, delete, orphan,
//! drift put back, connectors it does not own left alone, and the cluster's status.

use super::*;

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
    wait_polls(&shared_metrics_url(), &format!("{ns}/main"), 3).await;
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
    wait_polls(&shared_metrics_url(), &format!("{ns}/main"), 3).await;

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
