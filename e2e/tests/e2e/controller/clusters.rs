//! Connect clusters as the controller meets them: unreachable and back (and cheap while steady), secured
//! by credentials from Secrets, slow, and pruned.

use super::*;

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
    // It has begun once a whole poll goes by without a Kubernetes write (the start's writes are done).
    let cluster = format!("{ns}/main");
    let url = ctl.metrics_url();
    let kube_writes =
        || async { total(&scrape(&url).await, "connect_warden_kube_writes_total", &[]) };
    eventually("a poll without a Kubernetes write", T, || async {
        let from = kube_writes().await;
        wait_polls(&url, &cluster, 2).await;
        let to = kube_writes().await;
        (to == from)
            .then_some(())
            .ok_or(format!("{} writes", to - from))
    })
    .await;
    let before = scrape(&ctl.metrics_url()).await;
    // Time is the subject here: how many polls fit in 6 s of wall time is the poll interval at work.
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
async fn credentials_and_ca_come_from_secrets_and_are_picked_up_again() {
    let ns = namespace("ctl-secure", &[]);
    let s = &kafka_env().secure;
    credentials::basic_auth_secret("creds", &s.username, "wrong-password").create(&ns);
    credentials::secure_cluster(&ns);
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
    wait_pruned(&c, &stray, &ns).await;
    let names = settled!(c.list()).unwrap();
    assert!(
        names.contains(&kept) && names.contains(&aliased),
        "{names:?}"
    );
    delete_connector(&ns, &kept);
    delete_connector(&other_ns, &aliased);
    drop(worker);
}
