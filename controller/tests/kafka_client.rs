//! The controller's Kafka client against the stack's real broker (`$CW_STACK_ENV`; `#[ignore]`d without
//! it): offsets committed with Kafka's own tools read back as `kafka-consumer-groups.sh --describe`
//! prints them, with one request per API and broker; a source connector's commits read from its Connect
//! worker's offsets topic with one Fetch per call; records compressed by Kafka's own producer; SASL (PLAIN,
//! SCRAM-SHA-256, SCRAM-SHA-512) and mTLS on the broker's secured listeners.
//!
//! The client is `pub(crate)` in the controller; this test compiles its module on its own.

#[allow(dead_code, unused_imports)]
#[path = "../src/kafka/mod.rs"]
mod kafka;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kafka::{Api, FetchedRecord, KafkaClient, KafkaError, Partition};
use kafka_protocol::ResponseError;
use shared::connect::{ClientSettings, ConnectClient};
use shared::kafka::{KafkaSettings, KafkaTls, SaslCredentials, SaslMechanism};
use stack::StackEnv;
use stack::kafka::KafkaEnv;

const PARTITIONS: i32 = 3;

/// The stack's Kafka. These tests are `#[ignore]`d in a plain `cargo test`, which has no stack; `make test`
/// runs them with the end-to-end tests, against the stack they share.
fn kafka_env() -> KafkaEnv {
    let env = StackEnv::from_env().expect("the stack named by CW_STACK_ENV");
    env.kafka
        .expect("the stack named by CW_STACK_ENV runs no Kafka")
}

fn settings(bootstrap: &str) -> KafkaSettings {
    shared::tls::install_crypto_provider();
    KafkaSettings {
        bootstrap: vec![bootstrap.to_string()],
        sasl: None,
        tls: None,
        timeout: Duration::from_secs(20),
    }
}

/// A name no earlier run used.
fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Runs one of Kafka's tools with `args` (and `stdin`), and returns what it printed; fails the test with
/// its output when it fails.
fn tool(env: &KafkaEnv, class: &str, args: &[&str], stdin: Option<&str>) -> String {
    let mut cmd = stack::kafka::tool_command(env, class);
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("starting java");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(input.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{class} {args:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A topic of `PARTITIONS` partitions holding 30 keyed records, spread over the partitions by key.
fn topic_with_records(env: &KafkaEnv) -> String {
    let topic = unique("cw-kafka-client");
    let partitions = PARTITIONS.to_string();
    tool(
        env,
        "org.apache.kafka.tools.TopicCommand",
        &[
            "--bootstrap-server",
            &env.bootstrap,
            "--create",
            "--topic",
            &topic,
            "--partitions",
            &partitions,
            "--replication-factor",
            "1",
        ],
        None,
    );
    let records: String = (0..30).map(|i| format!("key-{i}:value-{i}\n")).collect();
    tool(
        env,
        "org.apache.kafka.tools.ConsoleProducer",
        &[
            "--bootstrap-server",
            &env.bootstrap,
            "--topic",
            &topic,
            "--property",
            "parse.key=true",
            "--property",
            "key.separator=:",
        ],
        Some(&records),
    );
    topic
}

/// Commits offsets for `group` without consuming: `target` is a `--reset-offsets` option, `topic` may name
/// partitions (`t:0,1`).
fn reset(env: &KafkaEnv, group: &str, topic: &str, target: &[&str]) {
    let mut args = vec![
        "--bootstrap-server",
        &env.bootstrap,
        "--group",
        group,
        "--topic",
        topic,
        "--reset-offsets",
        "--execute",
    ];
    args.extend(target);
    tool(
        env,
        "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
        &args,
        None,
    );
}

/// What `--describe` prints for `groups` on `topic`: each group's committed offsets, and the log-end
/// offsets of the partitions it shows.
fn describe(
    env: &KafkaEnv,
    groups: &[String],
    topic: &str,
) -> (
    BTreeMap<String, BTreeMap<Partition, i64>>,
    BTreeMap<Partition, i64>,
) {
    let out = tool(
        env,
        "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
        &[
            "--bootstrap-server",
            &env.bootstrap,
            "--describe",
            "--all-groups",
        ],
        None,
    );
    let mut committed: BTreeMap<String, BTreeMap<Partition, i64>> = BTreeMap::new();
    let mut ends = BTreeMap::new();
    // GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID
    for line in out.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let [group, t, partition, current, end, ..] = cols[..] else {
            continue;
        };
        if t != topic || !groups.iter().any(|g| g == group) {
            continue;
        }
        let tp = (t.to_string(), partition.parse().unwrap());
        ends.insert(tp.clone(), end.parse().unwrap());
        if let Ok(offset) = current.parse() {
            committed
                .entry(group.to_string())
                .or_default()
                .insert(tp, offset);
        }
    }
    (committed, ends)
}

fn delta(after: &BTreeMap<&str, u64>, before: &BTreeMap<&str, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| (k.to_string(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[tokio::test]
#[ignore = "needs the stack's broker (CW_STACK_ENV); make test runs it with the end-to-end tests"]
async fn offsets_read_as_kafkas_tools_print_them_with_one_request_per_api_and_broker() {
    let env = kafka_env();
    let topic = topic_with_records(&env);
    let group = |n: &str| format!("{topic}-{n}");
    let (latest, first, earliest, never) = (
        group("latest"),
        group("first"),
        group("earliest"),
        group("never"),
    );
    reset(&env, &latest, &topic, &["--to-latest"]);
    reset(&env, &first, &format!("{topic}:0"), &["--to-offset", "1"]);
    reset(&env, &earliest, &topic, &["--to-earliest"]);
    let groups = vec![
        latest.clone(),
        first.clone(),
        earliest.clone(),
        never.clone(),
    ];
    let (described, described_ends) = describe(&env, &groups, &topic);
    assert_eq!(
        described_ends.len(),
        PARTITIONS as usize,
        "every partition is described"
    );

    let client = KafkaClient::new(settings(&env.bootstrap));
    let missing = unique("cw-kafka-client-missing");
    let asked = [topic.clone(), missing.clone()];
    let partitions: Vec<Partition> = (0..PARTITIONS)
        .map(|p| (topic.clone(), p))
        .chain([(missing.clone(), 0)])
        .collect();

    let (before, sent) = (client.requests_by_api(), client.requests_sent());
    let meta = client.metadata(Some(&asked)).await.unwrap();
    let offsets = client.group_offsets(&groups).await.unwrap();
    let ends = client.end_offsets(&meta, &partitions).await.unwrap();
    assert_eq!(client.requests_sent() - sent, 5);
    // One connection (the bootstrap server is the only broker and every group's coordinator), so one
    // ApiVersions; then one request per API for four groups and three partitions.
    assert_eq!(
        delta(&client.requests_by_api(), &before),
        counts(&[
            ("ApiVersions", 1),
            ("Metadata", 1),
            ("FindCoordinator", 1),
            ("OffsetFetch", 1),
            ("ListOffsets", 1),
        ])
    );

    assert!(meta.cluster_id.is_some());
    assert_eq!(meta.brokers.values().collect::<Vec<_>>(), [&env.bootstrap]);
    assert_eq!(
        meta.topics[&topic]
            .partitions
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        (0..PARTITIONS).collect::<Vec<_>>()
    );
    let unknown = meta.topics[&missing].error.as_ref().unwrap().to_string();
    assert!(unknown.contains("UNKNOWN_TOPIC_OR_PARTITION"), "{unknown}");

    for g in &groups {
        let want = described.get(g).cloned().unwrap_or_default();
        assert_eq!(offsets[g], Ok(want), "group {g}");
    }
    assert_eq!(offsets[&never], Ok(BTreeMap::new()));
    assert_eq!(
        offsets[&first],
        Ok(BTreeMap::from([((topic.clone(), 0), 1)]))
    );
    let read_ends: BTreeMap<Partition, i64> = ends
        .iter()
        .filter(|(tp, _)| tp.0 == topic)
        .map(|(tp, r)| (tp.clone(), *r.as_ref().unwrap()))
        .collect();
    assert_eq!(read_ends, described_ends);
    assert_eq!(read_ends.values().sum::<i64>(), 30);
    assert_eq!(offsets[&latest], Ok(read_ends.clone()));
    assert!(ends[&(missing.clone(), 0)].is_err());

    // The same reads again on the open connection: four requests.
    let before = client.requests_by_api();
    let meta = client.metadata(Some(&asked)).await.unwrap();
    assert_eq!(client.group_offsets(&groups).await.unwrap(), offsets);
    assert_eq!(client.end_offsets(&meta, &partitions).await.unwrap(), ends);
    assert_eq!(
        delta(&client.requests_by_api(), &before),
        counts(&[
            ("Metadata", 1),
            ("FindCoordinator", 1),
            ("OffsetFetch", 1),
            ("ListOffsets", 1),
        ])
    );
    // Reading did not create the missing topic.
    assert!(meta.topics[&missing].error.is_some());

    // All topics: ours among them.
    let all = client.metadata(None).await.unwrap();
    assert!(all.topics.contains_key(&topic));
    assert!(!all.topics.contains_key(&missing));

    // The same reads from brokers that offer older versions: the same answers, with one FindCoordinator
    // (before v4) and one OffsetFetch (before v8) per group.
    let ours: Vec<Partition> = (0..PARTITIONS).map(|p| (topic.clone(), p)).collect();
    let our_ends: BTreeMap<Partition, Result<i64, KafkaError>> = ends
        .iter()
        .filter(|(tp, _)| tp.0 == topic)
        .map(|(tp, r)| (tp.clone(), r.clone()))
        .collect();
    let older = [
        // The oldest versions this client speaks.
        [
            (Api::Metadata, 4),
            (Api::FindCoordinator, 1),
            (Api::OffsetFetch, 2),
            (Api::ListOffsets, 1),
        ],
        // The last versions before the flexible ones.
        [
            (Api::Metadata, 8),
            (Api::FindCoordinator, 2),
            (Api::OffsetFetch, 5),
            (Api::ListOffsets, 5),
        ],
        // The last flexible versions before batching.
        [
            (Api::Metadata, 9),
            (Api::FindCoordinator, 3),
            (Api::OffsetFetch, 7),
            (Api::ListOffsets, 6),
        ],
    ];
    for limits in older {
        let old = KafkaClient::new(settings(&env.bootstrap)).limited_to(&limits);
        let meta = old
            .metadata(Some(std::slice::from_ref(&topic)))
            .await
            .unwrap();
        assert_eq!(meta.topics[&topic].partitions.len(), PARTITIONS as usize);
        assert_eq!(
            old.group_offsets(&groups).await.unwrap(),
            offsets,
            "{limits:?}"
        );
        assert_eq!(
            old.end_offsets(&meta, &ours).await.unwrap(),
            our_ends,
            "{limits:?}"
        );
        assert_eq!(
            delta(&old.requests_by_api(), &BTreeMap::new()),
            counts(&[
                ("ApiVersions", 1),
                ("Metadata", 1),
                ("FindCoordinator", groups.len() as u64),
                ("OffsetFetch", groups.len() as u64),
                ("ListOffsets", 1),
            ]),
            "{limits:?}"
        );
    }
    // Each API is chosen on its own: FindCoordinator batched, OffsetFetch one per group.
    let old = KafkaClient::new(settings(&env.bootstrap)).limited_to(&[(Api::OffsetFetch, 7)]);
    assert_eq!(old.group_offsets(&groups).await.unwrap(), offsets);
    assert_eq!(
        delta(&old.requests_by_api(), &BTreeMap::new()),
        counts(&[
            ("ApiVersions", 1),
            ("FindCoordinator", 1),
            ("OffsetFetch", groups.len() as u64),
        ])
    );
}

#[tokio::test]
#[ignore = "needs the stack's broker (CW_STACK_ENV); make test runs it with the end-to-end tests"]
async fn sasl_mechanisms_authenticate_and_a_wrong_password_is_named_without_it() {
    let env = kafka_env();
    let secured = env
        .brokers_secured
        .as_ref()
        .expect("the stack's broker has SASL and mTLS listeners");
    let with = |mechanism, password: &str| KafkaSettings {
        sasl: Some(SaslCredentials {
            mechanism,
            username: secured.sasl_username.clone(),
            password: password.to_string(),
        }),
        ..settings(&secured.sasl_bootstrap)
    };
    for (mechanism, exchanges) in [
        (SaslMechanism::Plain, 1),
        (SaslMechanism::ScramSha256, 2),
        (SaslMechanism::ScramSha512, 2),
    ] {
        let client = KafkaClient::new(with(mechanism, &secured.sasl_password));
        let meta = client
            .metadata(None)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", mechanism.name()));
        assert!(!meta.brokers.is_empty());
        let groups = [unique("cw-sasl")];
        assert_eq!(
            client.group_offsets(&groups).await.unwrap()[&groups[0]],
            Ok(BTreeMap::new())
        );
        assert_eq!(
            delta(&client.requests_by_api(), &BTreeMap::new()),
            counts(&[
                ("ApiVersions", 1),
                ("SaslHandshake", 1),
                ("SaslAuthenticate", exchanges),
                ("Metadata", 1),
                ("FindCoordinator", 1),
                ("OffsetFetch", 1),
            ]),
            "{}",
            mechanism.name()
        );

        let wrong = "wrong-password-3c1f";
        let client = KafkaClient::new(with(mechanism, wrong));
        let e = client.metadata(None).await.unwrap_err();
        assert!(matches!(e, KafkaError::SaslAuthentication { .. }), "{e:?}");
        let text = format!("{e} {e:?} {client:?}");
        assert!(
            text.starts_with(&format!(
                "SASL authentication failed for user {:?} with {} at broker {}: ",
                secured.sasl_username,
                mechanism.name(),
                secured.sasl_bootstrap
            )),
            "{text}"
        );
        assert!(!text.contains(wrong), "{text}");
        assert!(!text.contains(&secured.sasl_password), "{text}");
    }

    // No credentials for a SASL listener.
    let e = KafkaClient::new(settings(&secured.sasl_bootstrap))
        .metadata(None)
        .await
        .unwrap_err();
    assert!(matches!(e, KafkaError::SaslRequired { .. }), "{e}");
}

#[tokio::test]
#[ignore = "needs the stack's broker (CW_STACK_ENV); make test runs it with the end-to-end tests"]
async fn mtls_reads_with_a_client_certificate_and_says_why_without_one() {
    let env = kafka_env();
    let secured = env
        .brokers_secured
        .as_ref()
        .expect("the stack's broker has SASL and mTLS listeners");
    let read = |p: &std::path::Path| std::fs::read(p).unwrap();
    let tls = KafkaTls {
        ca_pem: Some(read(&secured.ca_pem)),
        client_cert_pem: Some(read(&secured.client_cert_pem)),
        client_key_pem: Some(read(&secured.client_key_pem)),
        insecure_skip_verify: false,
    };
    let with = |tls: Option<KafkaTls>, bootstrap: &str| KafkaSettings {
        tls,
        ..settings(bootstrap)
    };

    let client = KafkaClient::new(with(Some(tls.clone()), &secured.ssl_bootstrap));
    let meta = client.metadata(None).await.unwrap();
    assert!(!meta.brokers.is_empty());
    let groups = [unique("cw-mtls")];
    assert_eq!(
        client.group_offsets(&groups).await.unwrap()[&groups[0]],
        Ok(BTreeMap::new())
    );
    // Verification skipped: still TLS, still the client certificate.
    let insecure = KafkaTls {
        ca_pem: None,
        insecure_skip_verify: true,
        ..tls.clone()
    };
    KafkaClient::new(with(Some(insecure), &secured.ssl_bootstrap))
        .metadata(None)
        .await
        .unwrap();

    // Without the client certificate the broker refuses the handshake.
    let no_cert = KafkaTls {
        client_cert_pem: None,
        client_key_pem: None,
        ..tls.clone()
    };
    let e = KafkaClient::new(with(Some(no_cert), &secured.ssl_bootstrap))
        .metadata(None)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, KafkaError::Tls { cause, .. } if cause.contains("requires a client certificate")),
        "{e}"
    );
    // A CA that did not sign the broker's certificate.
    let other_ca = KafkaTls {
        ca_pem: Some(read(&env.secure.untrusted_ca_pem)),
        ..tls.clone()
    };
    let e = KafkaClient::new(with(Some(other_ca), &secured.ssl_bootstrap))
        .metadata(None)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, KafkaError::Tls { cause, .. } if cause.contains("certificate")),
        "{e}"
    );
    // Plaintext to the TLS listener, TLS to the plaintext one.
    let e = KafkaClient::new(with(None, &secured.ssl_bootstrap))
        .metadata(None)
        .await
        .unwrap_err();
    assert!(matches!(e, KafkaError::TlsRequired { .. }), "{e}");
    let e = KafkaClient::new(with(Some(tls), &env.bootstrap))
        .metadata(None)
        .await
        .unwrap_err();
    assert!(matches!(e, KafkaError::NotTls { .. }), "{e}");
}

/// The main Connect worker's offsets topic: its `offset.storage.topic`, which the stack names
/// `cw-<worker>-offsets`.
const CONNECT_OFFSETS: &str = "cw-connect-offsets";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Every record of `topic`, from each partition's log start to its end, `max_bytes` per partition and
/// call; and how many calls it took. Each call must send exactly one Fetch (the stack has one broker).
async fn read_whole(
    client: &KafkaClient,
    topic: &str,
    max_bytes: i32,
) -> (Vec<FetchedRecord>, usize) {
    let meta = client.metadata(Some(&[topic.to_string()])).await.unwrap();
    let partitions: Vec<Partition> = meta.topics[topic]
        .partitions
        .keys()
        .map(|p| (topic.to_string(), *p))
        .collect();
    assert!(!partitions.is_empty(), "{topic} has no partitions");
    let starts = client.start_offsets(&meta, &partitions).await.unwrap();
    let mut from: Vec<(Partition, i64)> = starts
        .into_iter()
        .map(|(p, start)| (p, start.unwrap()))
        .collect();
    let (mut records, mut calls) = (vec![], 0);
    while !from.is_empty() {
        let before = client.requests_by_api()["Fetch"];
        let fetched = client.fetch(&meta, &from, max_bytes).await.unwrap();
        assert_eq!(
            client.requests_by_api()["Fetch"] - before,
            1,
            "one Fetch per call"
        );
        calls += 1;
        let mut next = vec![];
        for ((p, at), (fetched_p, f)) in from.iter().zip(fetched) {
            assert_eq!(p, &fetched_p);
            let f = f.unwrap_or_else(|e| panic!("{}-{}: {e}", p.0, p.1));
            records.extend(f.records);
            if f.next_offset < f.high_watermark {
                assert!(
                    f.next_offset > *at,
                    "{}-{} did not move from {at}",
                    p.0,
                    p.1
                );
                next.push((fetched_p, f.next_offset));
            }
        }
        from = next;
    }
    (records, calls)
}

/// Waits until Connect's offsets topic shows a commit of `name` after `after` (ms); returns its time.
async fn commit_after(client: &KafkaClient, name: &str, after: i64) -> i64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (records, _) = read_whole(client, CONNECT_OFFSETS, 1 << 20).await;
        if let Some(&t) = kafka::latest_commits(&records).get(name)
            && t > after
        {
            return t;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no commit of {name} after {after} within a minute"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
#[ignore = "needs the stack's broker (CW_STACK_ENV); make test runs it with the end-to-end tests"]
async fn a_source_connectors_commits_are_read_from_its_workers_offsets_topic() {
    let env = kafka_env();
    shared::tls::install_crypto_provider();
    let connect = ConnectClient::new(&ClientSettings::new(&env.connect_url)).unwrap();
    let name = unique("cw-file-src");
    let file = std::env::temp_dir().join(format!("{name}.txt"));
    std::fs::write(&file, "one\ntwo\nthree\n").unwrap();
    let config = BTreeMap::from([
        (
            "connector.class".to_string(),
            "FileStreamSource".to_string(),
        ),
        ("file".to_string(), file.display().to_string()),
        ("topic".to_string(), unique("cw-file-src-topic")),
    ]);
    let started = now_ms();
    connect.create(&name, &config, None).await.unwrap();
    let client = KafkaClient::new(settings(&env.bootstrap));

    let first = commit_after(&client, &name, 0).await;
    // More lines, another commit (the worker flushes offsets every second): the latest is kept.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap()
        .write_all(b"four\nfive\n")
        .unwrap();
    let second = commit_after(&client, &name, first).await;
    let now = now_ms();
    assert!(
        started - 60_000 <= first && first < second && second <= now + 60_000,
        "started {started}, commits {first} and {second}, now {now}"
    );

    // One byte per partition and call: Kafka still sends the first batch whole, so each call moves one
    // batch on; the two commits are two batches at least.
    let (records, calls) = read_whole(&client, CONNECT_OFFSETS, 1).await;
    assert!(calls >= 2, "{calls} calls");
    let commits = kafka::read_commits(&records);
    assert_eq!(commits.latest[&name], second);
    assert_eq!(
        commits.malformed, 0,
        "Connect writes every key as a JSON array"
    );
    let ours: Vec<&FetchedRecord> = records
        .iter()
        .filter(|r| {
            r.key
                .as_deref()
                .is_some_and(|k| k.starts_with(format!("[\"{name}\",").as_bytes()))
        })
        .collect();
    assert!(ours.len() >= 2 && ours.iter().all(|r| !r.tombstone));

    // Stopped and its offsets reset: Connect writes a tombstone, which is no commit.
    connect.stop(&name).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while let Err(e) = connect.reset_offsets(&name).await {
        assert!(
            std::time::Instant::now() < deadline,
            "resetting offsets: {e}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (records, _) = read_whole(&client, CONNECT_OFFSETS, 1 << 20).await;
    let commits = kafka::read_commits(&records);
    assert!(commits.tombstones >= 1);
    assert_eq!(commits.latest[&name], second);
    connect.delete(&name).await.unwrap();
    let _ = std::fs::remove_file(&file);

    // Past the end: that partition's error, not a failed call.
    let meta = client
        .metadata(Some(&[CONNECT_OFFSETS.to_string()]))
        .await
        .unwrap();
    let partition = (CONNECT_OFFSETS.to_string(), 0);
    let end = client
        .end_offsets(&meta, std::slice::from_ref(&partition))
        .await
        .unwrap()[&partition]
        .clone()
        .unwrap();
    let fetched = client
        .fetch(&meta, &[(partition.clone(), end + 100)], 1 << 20)
        .await
        .unwrap();
    assert!(
        matches!(
            &fetched[&partition],
            Err(KafkaError::Answer {
                code: ResponseError::OffsetOutOfRange,
                ..
            })
        ),
        "{:?}",
        fetched[&partition]
    );
    // At the end exactly: nothing yet, and the next fetch starts there.
    let at_end = client
        .fetch(&meta, &[(partition.clone(), end)], 1 << 20)
        .await
        .unwrap()[&partition]
        .clone()
        .unwrap();
    assert!(at_end.records.is_empty() && at_end.next_offset == end);
}

#[tokio::test]
#[ignore = "needs the stack's broker (CW_STACK_ENV); make test runs it with the end-to-end tests"]
async fn records_compressed_by_kafkas_producer_are_read_and_lz4_is_named() {
    let env = kafka_env();
    let create = |topic: &str| {
        tool(
            &env,
            "org.apache.kafka.tools.TopicCommand",
            &[
                "--bootstrap-server",
                &env.bootstrap,
                "--create",
                "--topic",
                topic,
                "--partitions",
                "1",
                "--replication-factor",
                "1",
            ],
            None,
        );
    };
    let produce = |topic: &str, codec: &str, lines: &str| {
        tool(
            &env,
            "org.apache.kafka.tools.ConsoleProducer",
            &[
                "--bootstrap-server",
                &env.bootstrap,
                "--topic",
                topic,
                "--compression-codec",
                codec,
                "--property",
                "parse.key=true",
                "--property",
                "key.separator=:",
            ],
            Some(lines),
        );
    };
    let topic = unique("cw-compressed");
    create(&topic);
    let gzip: String = (0..20)
        .map(|i| format!("gzip-{i}:{}\n", "g".repeat(100)))
        .collect();
    let snappy: String = (0..20)
        .map(|i| format!("snappy-{i}:{}\n", "s".repeat(100)))
        .collect();
    produce(&topic, "gzip", &gzip);
    produce(&topic, "snappy", &snappy);

    let keys = |records: &[FetchedRecord]| -> Vec<String> {
        records
            .iter()
            .map(|r| String::from_utf8_lossy(r.key.as_deref().unwrap()).into_owned())
            .collect()
    };
    let want: Vec<String> = (0..20)
        .map(|i| format!("gzip-{i}"))
        .chain((0..20).map(|i| format!("snappy-{i}")))
        .collect();
    let client = KafkaClient::new(settings(&env.bootstrap));
    let (records, _) = read_whole(&client, &topic, 1 << 20).await;
    assert_eq!(keys(&records), want);
    assert!(records.windows(2).all(|w| w[0].offset + 1 == w[1].offset));
    // Read by topic id (Fetch v13 and later) above: the metadata gives the ids.
    let meta = client
        .metadata(Some(std::slice::from_ref(&topic)))
        .await
        .unwrap();
    assert!(meta.topics[&topic].id.is_some());
    // The same from brokers that offer Fetch before topic ids, and from metadata without them.
    for limits in [[(Api::Fetch, 12)], [(Api::Metadata, 9)], [(Api::Fetch, 5)]] {
        let old = KafkaClient::new(settings(&env.bootstrap)).limited_to(&limits);
        let (old_records, _) = read_whole(&old, &topic, 1 << 20).await;
        assert_eq!(old_records, records, "{limits:?}");
    }

    // lz4 needs a C library: its batch fails the partition, naming the codec.
    let lz4 = unique("cw-lz4");
    create(&lz4);
    produce(&lz4, "lz4", "k:v\n");
    let meta = client
        .metadata(Some(std::slice::from_ref(&lz4)))
        .await
        .unwrap();
    let partition = (lz4.clone(), 0);
    let e = client
        .fetch(&meta, &[(partition.clone(), 0)], 1 << 20)
        .await
        .unwrap()[&partition]
        .clone()
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("is lz4-compressed, a codec this client does not read"),
        "{e}"
    );
}
