//! What the lag tests stand on, against the real broker and Connect worker: Kafka's own tools (topics,
//! records, a group's offsets and lag), the stalling sink, which holds back its group's offsets while its
//! marker file exists, and the broker's SASL and mTLS listeners.

use std::collections::BTreeMap;
use std::time::Duration;

use connect_warden_e2e::kafka::{
    Access, GroupPartition, create_topic, describe_group, describe_group_as, end_offsets,
    list_topics, produce, secured,
};
use connect_warden_e2e::{connect, eventually, kafka_env, scratch, settled, unique};
use shared::kafka::SaslMechanism;

/// Bounds a wait; each look at a group starts a JVM (a second or two).
const T: Duration = Duration::from_secs(120);

fn summary(rows: &[GroupPartition]) -> String {
    rows.iter()
        .map(|r| {
            format!(
                "{}: current {:?}, end {}, lag {:?}, member {}",
                r.partition,
                r.current_offset,
                r.log_end_offset,
                r.lag,
                r.consumer_id.is_some()
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_sink_holds_back_its_offsets_until_its_marker_goes() {
    let env = kafka_env();
    let topic = unique("lag-stall");
    let name = unique("lag-stall");
    let group = format!("connect-{name}");
    let marker = scratch("lag-stall").join("stall");
    std::fs::write(&marker, "").unwrap();

    create_topic(env, &topic, 3).await.unwrap();
    let records: Vec<String> = (0..30).map(|i| format!("record-{i}")).collect();
    produce(env, &topic, &records).await.unwrap();
    let ends = end_offsets(env, &topic).await.unwrap();
    assert_eq!(ends.len(), 3, "{ends:?}");
    assert_eq!(ends.values().sum::<i64>(), 30, "{ends:?}");
    assert!(ends.values().all(|n| *n > 0), "not spread: {ends:?}");
    assert_eq!(describe_group(env, &group).await.unwrap(), vec![]);

    let client = connect();
    let config: BTreeMap<String, String> = [
        (
            "connector.class",
            "dev.connectwarden.stack.StallingSinkConnector",
        ),
        ("tasks.max", "1"),
        ("topics", topic.as_str()),
        ("marker.file", &marker.display().to_string()),
        // The records are plain text, not the worker's JSON.
        (
            "key.converter",
            "org.apache.kafka.connect.converters.ByteArrayConverter",
        ),
        (
            "value.converter",
            "org.apache.kafka.connect.converters.ByteArrayConverter",
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    settled!(client.put_config(&name, &config)).unwrap();

    // Stalled: the task runs and its consumer holds all three partitions, yet it has committed nothing, so
    // Kafka knows no offset and no lag for them (not a lag of 30).
    let assigned =
        |rows: &[GroupPartition]| rows.len() == 3 && rows.iter().all(|r| r.consumer_id.is_some());
    eventually(
        "the stalled task running with its partitions",
        T,
        || async {
            let status = client.get_status(&name).await.map_err(|e| e.to_string())?;
            let running = status.tasks.len() == 1 && status.tasks[0].state == "RUNNING";
            let rows = describe_group(env, &group).await?;
            if running && assigned(&rows) {
                Ok(())
            } else {
                Err(format!(
                    "tasks {:?}; group: {}",
                    status.tasks,
                    summary(&rows)
                ))
            }
        },
    )
    .await;
    // Looked at again a flush interval (1 s) later, still nothing committed.
    let rows = describe_group(env, &group).await.unwrap();
    assert!(assigned(&rows), "{}", summary(&rows));
    for r in &rows {
        assert_eq!(r.topic, topic);
        assert_eq!(
            (r.current_offset, r.lag),
            (None, None),
            "{}",
            summary(&rows)
        );
        assert_eq!(Some(&r.log_end_offset), ends.get(&r.partition));
    }
    let status = settled!(client.get_status(&name)).unwrap();
    assert_eq!(status.tasks[0].state, "RUNNING", "{status:?}");

    // Released: everything is accepted and committed, lag 0 at the log-end offsets.
    std::fs::remove_file(&marker).unwrap();
    let rows = eventually("the sink caught up", T, || async {
        let rows = describe_group(env, &group).await?;
        if rows.len() == 3 && rows.iter().all(|r| r.lag == Some(0)) {
            Ok(rows)
        } else {
            Err(summary(&rows))
        }
    })
    .await;
    let committed: BTreeMap<i32, i64> = rows
        .iter()
        .map(|r| (r.partition, r.current_offset.unwrap()))
        .collect();
    assert_eq!(committed, end_offsets(env, &topic).await.unwrap());
    assert_eq!(committed, ends);

    settled!(client.delete(&name)).unwrap();
}

#[tokio::test]
async fn the_brokers_sasl_and_tls_listeners_take_the_stacks_credentials_only() {
    let env = kafka_env();
    let topic = unique("lag-listeners");
    create_topic(env, &topic, 1).await.unwrap();

    // Each run is a JVM of its own: they start together.
    let sasl = |mechanism| async move {
        let access = Access::sasl(env, mechanism).unwrap();
        (mechanism, list_topics(env, &access).await)
    };
    let wrong = |mechanism| async move {
        let access = Access::Sasl {
            mechanism,
            username: secured(env).unwrap().sasl_username.clone(),
            password: "not-the-password".into(),
        };
        (mechanism, list_topics(env, &access).await)
    };
    let (tls, nobody) = (Access::Ssl, unique("lag-no-group"));
    let (plain, scram256, scram512, ssl, no_group, wrong_plain, wrong_scram) = tokio::join!(
        sasl(SaslMechanism::Plain),
        sasl(SaslMechanism::ScramSha256),
        sasl(SaslMechanism::ScramSha512),
        list_topics(env, &tls),
        describe_group_as(env, &tls, &nobody),
        wrong(SaslMechanism::Plain),
        wrong(SaslMechanism::ScramSha512),
    );
    for (mechanism, topics) in [plain, scram256, scram512] {
        let topics = topics.unwrap();
        assert!(topics.contains(&topic), "{mechanism:?}: {topics:?}");
    }
    let topics = ssl.unwrap();
    assert!(topics.contains(&topic), "{topics:?}");
    // A group nobody joined is no error, through a secured listener too.
    assert_eq!(no_group.unwrap(), vec![]);
    for (mechanism, result) in [wrong_plain, wrong_scram] {
        let err = result.unwrap_err();
        assert!(
            err.contains("Authentication failed"),
            "{mechanism:?}: {err}"
        );
    }
}
