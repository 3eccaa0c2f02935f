//! `--watch-namespaces`: a controller that serves some namespaces never touches objects in the others, on
//! Kafka Connect or in Kubernetes.

use connect_warden_e2e::connectors::{delete_connector, unreconciled, wait_polls, wait_running};
use connect_warden_e2e::objects::{cluster, file_sink};
use connect_warden_e2e::*;
use stack::warden::PRIVATE_LABEL;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_watching_one_namespace_leaves_the_others_alone() {
    let id = unique("watch-ns");
    let served = namespace("watch-a", &[(PRIVATE_LABEL, id.as_str())]);
    let other = namespace("watch-b", &[(PRIVATE_LABEL, id.as_str())]);
    let selector = format!("{PRIVATE_LABEL}={id}");
    let ctl = start_controller(
        "controller-watch-ns",
        &[
            "--label-selector",
            &selector,
            "--poll-interval-seconds",
            "1",
            "--watch-namespaces",
            &served,
        ],
    );
    for ns in [&served, &other] {
        cluster(ns, "main", &kafka_env().connect_url)
            .label(PRIVATE_LABEL, &id)
            .apply()
            .expect_ok();
    }
    let (watched, unwatched) = (unique("cw-watched"), unique("cw-unwatched"));
    let out = scratch("watch-ns");
    file_sink(&served, &watched, "watch-t", out.join("a.txt").display())
        .label(PRIVATE_LABEL, &id)
        .apply()
        .expect_ok();
    file_sink(&other, &unwatched, "watch-t", out.join("b.txt").display())
        .label(PRIVATE_LABEL, &id)
        .apply()
        .expect_ok();

    wait_running(&served, &watched, "1/1").await;
    // Several polls later, the controller has had every chance to act on the other namespace too.
    wait_polls(&ctl.metrics_url(), &format!("{served}/main"), 5).await;
    let on_connect = settled!(connect().list()).expect("listing connectors");
    assert!(on_connect.contains(&watched), "{on_connect:?}");
    assert!(
        !on_connect.contains(&unwatched),
        "a controller watching only {served} created {unwatched} from {other}"
    );
    let untouched = unreconciled(&other, &unwatched).await;
    assert!(
        untouched
            .metadata
            .finalizers
            .as_ref()
            .is_none_or(|f| f.is_empty()),
        "{:?}",
        untouched.metadata.finalizers
    );
    delete_connector(&served, &watched);
}
