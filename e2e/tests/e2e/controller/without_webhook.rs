//! Without the webhook: bad config, name conflicts and Kafka Connect's own errors reported by the controller.

use super::*;

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
    wait_polls(&ctl.metrics_url(), &format!("{ns}/main"), 3).await;
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
