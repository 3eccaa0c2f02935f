//! Lag, progress and dead letters of sink connectors, measured by the shared controller on the stack's
//! broker (through its SASL and mTLS listeners, as a cluster's `spec.kafka` says) and checked against
//! Kafka's own `kafka-consumer-groups --describe` at the same offsets. The shared controller measures every
//! 2 s and judges progress over a 20 s window (`scripts/e2e-stack.sh`).

use std::time::{Duration, Instant};

use connect_warden_e2e::connectors::{
    condition, delete_connector, event_list, get, get_cluster, sample, scrape, shared_metrics_url,
    wait_running,
};
use connect_warden_e2e::credentials::{
    broker_ca_secret, broker_client_cert_secret, broker_sasl_secret, brokers_secured,
};
use connect_warden_e2e::kafka::{create_topic, describe_group, produce, summed_lag};
use connect_warden_e2e::objects::{Cluster, cluster, connector, file_source};
use connect_warden_e2e::prom::{self, Notified};
use connect_warden_e2e::*;
use shared::crd::{KafkaAuthenticationType, KafkaConnector, ProgressStatus};

const STALLING_SINK: &str = "dev.connectwarden.stack.StallingSinkConnector";
/// Records taken as they are (the workers' default converter is JSON with schemas).
const BYTES: &str = "org.apache.kafka.connect.converters.ByteArrayConverter";
/// Bounds each wait: a stall is judged after the 20 s window, alerts add `for:` (5 s in the test rules)
/// and Prometheus' and Alertmanager's one-second intervals.
const T: Duration = Duration::from_secs(180);

fn progress(k: &KafkaConnector) -> ProgressStatus {
    k.status
        .as_ref()
        .and_then(|s| s.progress.clone())
        .unwrap_or_default()
}

/// Waits until the connector's `status.progress` satisfies `ok`, and returns the connector.
async fn wait_progress(
    ns: &str,
    name: &str,
    what: &str,
    ok: impl Fn(&ProgressStatus) -> bool,
) -> KafkaConnector {
    eventually(&format!("{ns}/{name}: {what}"), T, || async {
        let k = get(ns, name).await.ok_or("not found")?;
        let p = progress(&k);
        if ok(&p) { Ok(k) } else { Err(format!("{p:?}")) }
    })
    .await
}

/// Kafka's own figure: the group's lag summed over its partitions (every partition with a committed
/// offset), and the partitions without one.
async fn ground_truth(group: &str) -> (i64, usize) {
    let rows = describe_group(kafka_env(), group)
        .await
        .expect("kafka-consumer-groups --describe");
    let lag = summed_lag(&rows);
    (lag, rows.iter().filter(|r| r.lag.is_none()).count())
}

fn records(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{{\"{prefix}\":{i}}}")).collect()
}

/// A cluster `main` on the stack's Connect whose `spec.kafka` reaches the broker with SCRAM-SHA-512.
fn scram_cluster(ns: &str) -> Cluster {
    broker_sasl_secret("kafka-user").create(ns).expect_ok();
    cluster(ns, "main", &kafka_env().connect_url)
        .kafka(&brokers_secured().sasl_bootstrap)
        .kafka_sasl(KafkaAuthenticationType::ScramSha512, "kafka-user")
}

#[tokio::test]
async fn a_stalled_sink_pages_with_the_lag_kafka_reports_and_resolves_once_it_moves() {
    prom::start_receiver();
    let ns = namespace("lag-stall", &[]);
    let topic = unique("lag-stall");
    create_topic(kafka_env(), &topic, 3).await.expect("topic");
    produce(kafka_env(), &topic, &records("a", 30))
        .await
        .expect("records");
    scram_cluster(&ns).apply().expect_ok();
    let name = unique("cw-lag-stall");
    let marker = scratch("lag-stall").join(format!("{name}.stall"));
    connector(&ns, &name, STALLING_SINK)
        .tasks_max(1)
        .config("topics", &topic)
        .config("marker.file", marker.display())
        .config("key.converter", BYTES)
        .config("value.converter", BYTES)
        .apply()
        .expect_ok();
    wait_running(&ns, &name, "1/1").await;
    let group = format!("connect-{name}");

    // It consumes everything: OK with lag 0, as Kafka says.
    let k = wait_progress(&ns, &name, "caught up", |p| {
        p.state == "OK" && p.lag_records == Some(0)
    })
    .await;
    assert_eq!(ground_truth(&group).await, (0, 0));
    assert_eq!(condition(&k, "Progressing").0, "True");
    assert_eq!(condition(&k, "Progressing").1, "KeepingUp");

    // Its put() blocks from now on: records wait and no offset is committed.
    std::fs::write(&marker, b"stall").unwrap();
    let stalled_at = Instant::now();
    produce(kafka_env(), &topic, &records("b", 45))
        .await
        .expect("records");
    let k = wait_progress(&ns, &name, "Stalled", |p| p.state == "Stalled").await;
    eprintln!("Stalled after {}", prom::since(stalled_at));
    let p = progress(&k);
    // The offsets are frozen, so both figures are taken at the same offsets.
    let (kafka_lag, uncommitted) = ground_truth(&group).await;
    assert_eq!((kafka_lag, uncommitted), (45, 0));
    assert_eq!(p.lag_records, Some(kafka_lag), "{p:?}");
    let message = p.message.clone().unwrap_or_default();
    assert!(
        message.starts_with("the committed offset of 3 of 3 partitions (")
            && message.ends_with(" while 45 records wait"),
        "{message}"
    );
    // Ready is about running, not keeping up: the connector still runs.
    assert_eq!(condition(&k, "Ready").1, "Running");
    assert_eq!(
        condition(&k, "Progressing"),
        ("False".into(), "Stalled".into(), message.clone())
    );
    assert!(
        event_list(&ns, &name)
            .iter()
            .any(|(reason, note, _)| reason == "Stalled" && note.contains("is not keeping up")),
        "{:?}",
        event_list(&ns, &name)
    );
    // The metrics say the same.
    let page = scrape(&shared_metrics_url()).await;
    let ours = [("namespace", ns.as_str()), ("name", name.as_str())];
    assert_eq!(
        sample(&page, "connect_warden_connector_lag_records", &ours),
        Some(45.0)
    );
    // Stalled, or already Stopped (one window later) on a slow machine: either is "not keeping up".
    let not_moving: f64 = ["Stalled", "Stopped"]
        .iter()
        .filter_map(|s| {
            sample(
                &page,
                "connect_warden_connector_progress",
                &[ours[0], ours[1], ("state", s)],
            )
        })
        .sum();
    assert_eq!(not_moving, 1.0, "{page}");

    // It pages through the real Alertmanager, with its runbook.
    let cluster = format!("{ns}/main");
    let labels = [ours[0], ours[1], ("cluster", cluster.as_str())];
    let firing: Notified =
        prom::wait_notified("ConnectWardenSinkStalled", "firing", &labels, T).await;
    eprintln!(
        "ConnectWardenSinkStalled firing after {}",
        prom::since(stalled_at)
    );
    assert_eq!(firing.labels["severity"], "warning");
    assert!(
        firing.annotations["runbook"]
            .starts_with(&format!("kubectl -n {ns} describe kafkaconnector {name}")),
        "{:?}",
        firing.annotations
    );

    // It moves again: OK, lag 0, and the page resolves.
    let moved_at = Instant::now();
    std::fs::remove_file(&marker).unwrap();
    wait_progress(&ns, &name, "caught up again", |p| {
        p.state == "OK" && p.lag_records == Some(0)
    })
    .await;
    assert_eq!(ground_truth(&group).await, (0, 0));
    let resolved = prom::wait_notified("ConnectWardenSinkStalled", "resolved", &labels, T).await;
    eprintln!(
        "ConnectWardenSinkStalled resolved after {}",
        prom::since(moved_at)
    );
    assert_eq!(resolved.starts_at, firing.starts_at, "the same alert");
    assert!(
        event_list(&ns, &name)
            .iter()
            .any(|(reason, _, _)| reason == "Progressing"),
        "{:?}",
        event_list(&ns, &name)
    );
    delete_connector(&ns, &name);
}

#[tokio::test]
async fn dead_letters_are_counted_shown_and_announced() {
    let ns = namespace("lag-dlq", &[]);
    let topic = unique("lag-dlq");
    let dlq = format!("{topic}-dlq");
    create_topic(kafka_env(), &topic, 1).await.expect("topic");
    create_topic(kafka_env(), &dlq, 1).await.expect("dlq");
    // mTLS this time: the broker's TLS listener with a client certificate.
    broker_ca_secret("kafka-ca").create(&ns).expect_ok();
    broker_client_cert_secret("kafka-client")
        .create(&ns)
        .expect_ok();
    cluster(&ns, "main", &kafka_env().connect_url)
        .kafka(&brokers_secured().ssl_bootstrap)
        .kafka_tls("kafka-ca", Some("kafka-client"))
        .apply()
        .expect_ok();
    let name = unique("cw-lag-dlq");
    let marker = scratch("lag-dlq").join(format!("{name}.never"));
    connector(&ns, &name, STALLING_SINK)
        .config("topics", &topic)
        .config("marker.file", marker.display())
        .config(
            "value.converter",
            "org.apache.kafka.connect.json.JsonConverter",
        )
        .config("value.converter.schemas.enable", "false")
        .config("errors.tolerance", "all")
        .config("errors.deadletterqueue.topic.name", &dlq)
        .config("errors.deadletterqueue.topic.replication.factor", "1")
        .apply()
        .expect_ok();
    wait_running(&ns, &name, "1/1").await;
    wait_progress(&ns, &name, "dead letters counted from 0", |p| {
        p.dead_letters.as_ref().is_some_and(|d| d.records == 0)
    })
    .await;

    // Records the converter cannot read go to the dead letter queue; the connector stays RUNNING.
    let bad: Vec<String> = (0..7).map(|i| format!("not json {i}")).collect();
    produce(kafka_env(), &topic, &bad).await.expect("records");
    let k = wait_progress(&ns, &name, "7 dead letters", |p| {
        p.dead_letters.as_ref().is_some_and(|d| d.records == 7)
    })
    .await;
    let d = progress(&k).dead_letters.unwrap();
    assert_eq!(d.topic, dlq);
    assert_eq!(condition(&k, "Ready").1, "Running");
    let page = scrape(&shared_metrics_url()).await;
    let ours = [("namespace", ns.as_str()), ("name", name.as_str())];
    assert_eq!(
        sample(
            &page,
            "connect_warden_connector_dead_letter_records_total",
            &ours
        ),
        Some(7.0)
    );
    eventually("a DeadLetters event", T, || async {
        let events = event_list(&ns, &name);
        events
            .iter()
            .find(|(reason, _, _)| reason == "DeadLetters")
            .map(|(_, note, _)| note.clone())
            .ok_or(format!("{events:?}"))
    })
    .await;
    delete_connector(&ns, &name);
}

#[tokio::test]
async fn lag_is_unknown_never_zero_when_kafka_refuses_and_says_why_without_spec_kafka() {
    let ns = namespace("lag-unknown", &[]);
    let topic = unique("lag-unknown");
    create_topic(kafka_env(), &topic, 1).await.expect("topic");
    let wrong_password = "not-the-password-9f2c";
    kubectl(&[
        "-n",
        &ns,
        "create",
        "secret",
        "generic",
        "kafka-user",
        &format!(
            "--from-literal=username={}",
            brokers_secured().sasl_username
        ),
        &format!("--from-literal=password={wrong_password}"),
    ])
    .expect_ok();
    cluster(&ns, "main", &kafka_env().connect_url)
        .kafka(&brokers_secured().sasl_bootstrap)
        .kafka_sasl(KafkaAuthenticationType::ScramSha256, "kafka-user")
        .apply()
        .expect_ok();
    let name = unique("cw-lag-unknown");
    let marker = scratch("lag-unknown").join(format!("{name}.never"));
    connector(&ns, &name, STALLING_SINK)
        .config("topics", &topic)
        .config("marker.file", marker.display())
        .config("value.converter", BYTES)
        .apply()
        .expect_ok();
    wait_running(&ns, &name, "1/1").await;

    // The cluster names the cause; lag is unknown, not 0; the connector runs on.
    let reachable = eventually("KafkaReachable=False", T, || async {
        let c = get_cluster(&ns, "main").await;
        let cond = c.status.as_ref().and_then(|s| {
            s.conditions
                .iter()
                .find(|c| c.kind == "KafkaReachable")
                .cloned()
        });
        match cond {
            Some(c) if c.status == "False" => Ok(c),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let why = reachable.message.clone().unwrap_or_default();
    assert_eq!(reachable.reason.as_deref(), Some("KafkaUnreachable"));
    assert!(why.contains("SCRAM-SHA-256"), "{why}");
    assert!(!why.contains(wrong_password), "{why}");
    let k = wait_progress(&ns, &name, "Unknown", |p| {
        p.state == "Unknown"
            && p.message
                .as_deref()
                .is_some_and(|m| m.starts_with("lag unknown: "))
    })
    .await;
    let p = progress(&k);
    assert_eq!(p.lag_records, None, "{p:?}");
    assert!(!format!("{:?}", k.status).contains(wrong_password));
    assert_eq!(condition(&k, "Ready").1, "Running");
    assert_eq!(condition(&k, "Progressing").0, "Unknown");
    let page = scrape(&shared_metrics_url()).await;
    let ours = [("namespace", ns.as_str()), ("name", name.as_str())];
    assert_eq!(
        sample(&page, "connect_warden_connector_lag_records", &ours),
        None
    );
    let cluster_label = format!("{ns}/main");
    assert_eq!(
        sample(
            &page,
            "connect_warden_kafka_up",
            &[("cluster", cluster_label.as_str())]
        ),
        Some(0.0)
    );
    assert!(!page.contains(wrong_password));
    let log = std::fs::read_to_string(env().dir.join("logs").join("controller.log")).unwrap();
    assert!(log.contains("measuring lag"), "the refusal is logged");
    assert!(
        !log.contains(wrong_password),
        "no password in the controller's log"
    );

    // Without spec.kafka, everything works as before and the status says lag is not measured.
    kubectl(&[
        "-n",
        &ns,
        "patch",
        "kafkaconnectcluster",
        "main",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/spec/kafka"}]"#,
    ])
    .expect_ok();
    wait_progress(&ns, &name, "not measured", |p| {
        p.state == "Unknown"
            && p.message.as_deref()
                == Some(&*format!(
                    "lag is not measured: KafkaConnectCluster {ns}/main has no spec.kafka"
                ))
    })
    .await;
    eventually("no KafkaReachable condition", T, || async {
        let c = get_cluster(&ns, "main").await;
        let has = c
            .status
            .as_ref()
            .is_some_and(|s| s.conditions.iter().any(|c| c.kind == "KafkaReachable"));
        if has {
            Err("still there".to_string())
        } else {
            Ok(())
        }
    })
    .await;
    delete_connector(&ns, &name);
}

#[tokio::test]
async fn a_source_shows_when_it_last_committed_and_goes_idle_without_an_alarm() {
    let ns = namespace("lag-source", &[]);
    // The stack's main worker keeps its source offsets in `cw-connect-offsets`.
    cluster(&ns, "main", &kafka_env().connect_url)
        .kafka(&kafka_env().bootstrap)
        .kafka_offsets_topic("cw-connect-offsets")
        .apply()
        .expect_ok();
    let name = unique("cw-lag-source");
    let input = scratch("lag-source").join(format!("{name}.txt"));
    std::fs::write(&input, "one\ntwo\nthree\n").unwrap();
    file_source(&ns, &name, &unique("lag-source"), input.display())
        .apply()
        .expect_ok();
    wait_running(&ns, &name, "1/1").await;
    let k = wait_progress(&ns, &name, "a commit seen", |p| {
        p.state == "OK" && p.last_commit_time.is_some()
    })
    .await;
    let p = progress(&k);
    assert_eq!(p.lag_records, None, "a source has no lag: {p:?}");
    assert!(
        p.message
            .as_deref()
            .is_some_and(|m| m.starts_with("last source offset committed ")),
        "{p:?}"
    );
    assert_eq!(condition(&k, "Progressing").1, "KeepingUp");
    let page = scrape(&shared_metrics_url()).await;
    let ours = [("namespace", ns.as_str()), ("name", name.as_str())];
    assert!(
        sample(
            &page,
            "connect_warden_connector_last_commit_timestamp_seconds",
            &ours
        )
        .is_some_and(|t| t > 1.7e9),
        "{page}"
    );

    // Nothing new to read, nothing to commit: after the window it is idle, which is no failure.
    let k = wait_progress(&ns, &name, "Idle", |p| p.state == "Idle").await;
    assert_eq!(
        condition(&k, "Progressing"),
        (
            "Unknown".into(),
            "Idle".into(),
            progress(&k).message.unwrap_or_default()
        )
    );
    assert_eq!(condition(&k, "Ready").1, "Running");
    delete_connector(&ns, &name);
}
