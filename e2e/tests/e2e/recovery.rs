//! Objects in any order, as GitOps tools apply them: a KafkaConnector before its KafkaConnectCluster, a
//! cluster before its Secrets and ConfigMap. The controller says precisely what is missing and turns Ready by
//! itself when it appears, through its watches: these tests run private controllers whose resync period
//! (an hour) is far longer than any wait here. Private namespaces have no webhook, as for objects that
//! reached the API server without admission checks. And one-shot requests across controller restarts.

use std::time::{Duration, Instant};

use connect_warden_e2e::connectors::*;
use connect_warden_e2e::objects::{cluster, file_sink};
use connect_warden_e2e::*;
use stack::warden::PRIVATE_LABEL;

use crate::controller::{private_cluster, private_controller, private_setup};

/// A private controller that never resyncs within a test: whatever happens, a watch triggered it.
const NO_RESYNC: &[&str] = &["--resync-seconds", "3600"];

/// (status, reason, message) of a KafkaConnectCluster's Ready condition.
async fn cluster_condition(ns: &str, name: &str) -> (String, String, String) {
    let c = cluster_ready(&get_cluster(ns, name).await.status.unwrap_or_default());
    (
        c.status,
        c.reason.unwrap_or_default(),
        c.message.unwrap_or_default(),
    )
}

/// Waits until the KafkaConnectCluster's Ready condition has `status` and `reason`, and `message` when given
/// (objects appearing one after another pass through states with the same reason and a longer message).
async fn wait_cluster_ready(
    ns: &str,
    name: &str,
    status: &str,
    reason: &str,
    message: Option<&str>,
) {
    eventually(
        &format!("KafkaConnectCluster {ns}/{name} Ready={status} {reason} {message:?}"),
        T,
        || async {
            let (s, r, m) = cluster_condition(ns, name).await;
            (s == status && r == reason && message.is_none_or(|want| m == want))
                .then_some(())
                .ok_or(format!("Ready={s} {r}: {m}"))
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_applied_before_its_cluster_turns_ready_when_the_cluster_appears() {
    let (ns, id) = private_setup("rec-order");
    let ctl = private_controller(&id, NO_RESYNC);
    let name = unique("cw-early");
    let out = scratch("rec-order").join("out.txt");
    file_sink(&ns, &name, "early-t", out.display())
        .label(PRIVATE_LABEL, &id)
        .apply()
        .expect_ok();
    let k = wait_reason(&ns, &name, "False", "ClusterNotFound").await;
    assert_eq!(
        ready(&k).2,
        format!("KafkaConnectCluster {ns}/main not found")
    );

    let applied = Instant::now();
    private_cluster(&ns, &id);
    wait_running(&ns, &name, "1/1").await;
    assert!(
        applied.elapsed() < Duration::from_secs(60),
        "Ready {:?} after the cluster appeared: triggered by the watch, not the hourly resync",
        applied.elapsed()
    );
    delete_connector(&ns, &name);
    drop(ctl);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_applied_before_its_secrets_and_ca_says_what_is_missing_until_each_appears() {
    let (ns, id) = private_setup("rec-secrets");
    let ctl = private_controller(&id, NO_RESYNC);
    let s = &kafka_env().secure;
    cluster(&ns, "secure", &s.url)
        .label(PRIVATE_LABEL, &id)
        .basic_auth("creds")
        .ca_config_map("ca")
        .client_cert("client")
        .apply()
        .expect_ok();
    let name = unique("cw-secure");
    let out = scratch("rec-secrets").join("out.txt");
    file_sink(&ns, &name, "secure-t", out.display())
        .label(PRIVATE_LABEL, &id)
        .on("secure")
        .apply()
        .expect_ok();

    // Nothing there yet: every missing object is named with the field and keys it must provide; the
    // connector says the same.
    let want = format!(
        "KafkaConnectCluster {ns}/secure: Secret {ns}/creds not found (spec.authentication.secretRef, key \"username\", \"password\"); \
         ConfigMap {ns}/ca not found (spec.tls.caConfigMapRef, key \"ca.crt\"); \
         Secret {ns}/client not found (spec.tls.clientCertSecretRef, key \"tls.crt\", \"tls.key\")"
    );
    wait_cluster_ready(&ns, "secure", "False", "SecretNotFound", Some(&want)).await;
    wait_ready_message(&ns, &name, "False", "SecretNotFound", &want).await;

    // The Secrets appear: only the ConfigMap is missing.
    credentials::worker_basic_auth_secret("creds").create(&ns);
    credentials::client_cert_secret("client").create(&ns);
    let want = format!(
        "KafkaConnectCluster {ns}/secure: ConfigMap {ns}/ca not found (spec.tls.caConfigMapRef, key \"ca.crt\")"
    );
    wait_cluster_ready(&ns, "secure", "False", "ConfigMapNotFound", Some(&want)).await;
    wait_ready_message(&ns, &name, "False", "ConfigMapNotFound", &want).await;

    // A CA without a certificate: said so, on both; no retry fixes it, so the connector is Stalled.
    credentials::ca_config_map_text("ca", "not a certificate").create(&ns);
    let want = format!(
        "KafkaConnectCluster {ns}/secure: ConfigMap {ns}/ca key \"ca.crt\" (spec.tls.caConfigMapRef) holds no PEM certificate (expected \"-----BEGIN CERTIFICATE-----\" blocks)"
    );
    wait_cluster_ready(&ns, "secure", "False", "InvalidCA", Some(&want)).await;
    let k = wait_ready_message(&ns, &name, "False", "InvalidCA", &want).await;
    assert!(is_stalled(&k), "{:?}", k.status);

    // The right CA: Ready on its own, long before any resync.
    let fixed = Instant::now();
    credentials::ca_config_map("ca").apply(&ns);
    wait_cluster_ready(&ns, "secure", "True", "Reachable", None).await;
    let k = wait_running(&ns, &name, "1/1").await;
    assert!(
        fixed.elapsed() < Duration::from_secs(60),
        "Ready {:?} after the CA was fixed",
        fixed.elapsed()
    );
    assert_eq!(k.status.as_ref().unwrap().last_error, None);

    let ev = events(&ns, "secure");
    for reason in ["SecretNotFound", "ConfigMapNotFound", "InvalidCA"] {
        assert!(ev.contains(reason), "no {reason} event in:\n{ev}");
    }
    let everything = format!(
        "{ev}{}{:?}",
        events(&ns, &name),
        get(&ns, &name).await.unwrap().status
    );
    assert!(!everything.contains(&s.password), "a secret leaked");

    delete_connector(&ns, &name);
    drop(ctl);
}

/// Manual restarts of `name` a controller sent, by its metrics.
async fn manual_restarts(metrics_url: &str, name: &str) -> f64 {
    total(
        &scrape(metrics_url).await,
        "connect_warden_connector_restarts_total",
        &[("name", name), ("trigger", "manual")],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handled_restart_value_is_not_repeated_by_the_next_controller_and_a_new_value_restarts_once()
 {
    let (ns, id) = private_setup("rec-restart");
    let mut first = private_controller(&id, &[]);
    private_cluster(&ns, &id);
    let name = unique("cw-once");
    let out = scratch("rec-restart").join("out.txt");
    file_sink(&ns, &name, "once-t", out.display())
        .label(PRIVATE_LABEL, &id)
        .apply()
        .expect_ok();
    wait_running(&ns, &name, "1/1").await;
    let annotate = |v: &str| {
        annotate_connector(
            &ns,
            &name,
            &format!("connectwarden.io/restart={v}"),
            &["--overwrite"],
        );
    };
    let handled = || async {
        get(&ns, &name)
            .await
            .and_then(|k| k.status)
            .and_then(|s| s.last_handled_restart)
    };

    annotate("t1");
    let url = first.metrics_url();
    eventually("the first controller restarts once", T, || async {
        let n = manual_restarts(&url, &name).await;
        let h = handled().await;
        (n == 1.0 && h.as_deref() == Some("t1"))
            .then_some(())
            .ok_or(format!("{n} restarts, handled {h:?}"))
    })
    .await;

    // A new controller (a restart, a new leader) finds the request handled in status: nothing to do.
    tokio::task::block_in_place(|| first.stop());
    let second = private_controller(&id, &[]);
    let url = second.metrics_url();
    eventually("the second controller sees the connector", T, || async {
        let m = scrape(&url).await;
        sample(
            &m,
            "connect_warden_connector_state",
            &[("name", name.as_str()), ("state", "RUNNING")],
        )
        .filter(|v| *v == 1.0)
        .ok_or("not observed yet".to_string())
    })
    .await;
    wait_polls(&url, &format!("{ns}/main"), 4).await;
    assert_eq!(manual_restarts(&url, &name).await, 0.0, "t1 repeated");

    // A new value: one restart.
    annotate("t2");
    eventually("the new value handled", T, || async {
        let n = manual_restarts(&url, &name).await;
        let h = handled().await;
        (n >= 1.0 && h.as_deref() == Some("t2"))
            .then_some(())
            .ok_or(format!("{n} restarts, handled {h:?}"))
    })
    .await;
    wait_polls(&url, &format!("{ns}/main"), 4).await;
    assert_eq!(manual_restarts(&url, &name).await, 1.0);
    wait_running(&ns, &name, "1/1").await;
    delete_connector(&ns, &name);
    drop(second);
}
