use std::ops::RangeInclusive;

use kafka_protocol::messages::find_coordinator_response::Coordinator as Answered;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::protocol::Encodable;
use rstest::rstest;

use super::*;

fn tp(t: &str, p: i32) -> Partition {
    (t.to_string(), p)
}

fn meta() -> Metadata {
    let topic = |leaders: &[Option<i32>]| TopicMeta {
        partitions: leaders
            .iter()
            .enumerate()
            .map(|(i, l)| (i as i32, *l))
            .collect(),
        ..TopicMeta::default()
    };
    Metadata {
        brokers: [(1, "b1:9092".to_string()), (2, "b2:9092".to_string())].into(),
        topics: [
            ("a".to_string(), topic(&[Some(1), Some(2), Some(1)])),
            ("b".to_string(), topic(&[Some(2), None, Some(3)])),
            (
                "gone".to_string(),
                TopicMeta {
                    error: Some(KafkaError::NotInMetadata("gone".into())),
                    ..TopicMeta::default()
                },
            ),
        ]
        .into(),
        ..Metadata::default()
    }
}

#[test]
fn partitions_go_to_their_leader_once_each() {
    let asked = [
        tp("a", 0),
        tp("a", 1),
        tp("a", 2),
        tp("b", 0),
        tp("a", 0),
        tp("b", 1),
        tp("b", 2),
        tp("b", 7),
        tp("gone", 0),
        tp("nope", 0),
    ];
    let split = by_leader(&meta(), &asked);
    assert_eq!(
        split.brokers,
        BTreeMap::from([
            (1, ("b1:9092".to_string(), vec![tp("a", 0), tp("a", 2)])),
            (2, ("b2:9092".to_string(), vec![tp("a", 1), tp("b", 0)])),
        ])
    );
    let failed: Vec<String> = split
        .failed
        .iter()
        .map(|(tp, e)| format!("{}-{}: {e}", tp.0, tp.1))
        .collect();
    assert_eq!(
        failed,
        [
            "b-1: partition b-1 has no leader",
            "b-2: broker 3, the leader of b-2, is not in the metadata",
            "b-7: partition b-7 is not in the metadata (the topic has 3 partitions)",
            "gone-0: gone",
            "nope-0: topic \"nope\" is not in the metadata",
        ]
    );
}

#[test]
fn groups_go_to_their_coordinator() {
    let c = |id, a: &str| {
        Ok(Coordinator {
            node_id: id,
            address: a.to_string(),
        })
    };
    let coordinators = BTreeMap::from([
        ("g1".to_string(), c(1, "b1:9092")),
        ("g2".to_string(), c(2, "b2:9092")),
        ("g3".to_string(), c(1, "b1:9092")),
        (
            "g4".to_string(),
            Err(KafkaError::NotInMetadata("no".into())),
        ),
    ]);
    let split = by_coordinator(coordinators);
    assert_eq!(
        split.brokers,
        BTreeMap::from([
            (
                1,
                (
                    "b1:9092".to_string(),
                    vec!["g1".to_string(), "g3".to_string()]
                )
            ),
            (2, ("b2:9092".to_string(), vec!["g2".to_string()])),
        ])
    );
    assert_eq!(
        split.failed,
        vec![("g4".to_string(), KafkaError::NotInMetadata("no".into()))]
    );
}

#[test]
fn addresses_bracket_ipv6_hosts() {
    assert_eq!(address("k", 9092), "k:9092");
    assert_eq!(address("::1", 9092), "[::1]:9092");
}

#[test]
fn metadata_reads_leaders_and_reports_unknown_topics_on_the_topic() {
    let mut answer = MetadataResponse::default();
    answer.cluster_id = Some(StrBytes::from_static_str("c1"));
    answer.controller_id = BrokerId(1);
    answer.brokers = vec![
        MetadataResponseBroker::default()
            .with_node_id(BrokerId(1))
            .with_host(StrBytes::from_static_str("k"))
            .with_port(9092),
    ];
    let partition = |i, leader| {
        MetadataResponsePartition::default()
            .with_partition_index(i)
            .with_leader_id(BrokerId(leader))
    };
    answer.topics = vec![
        MetadataResponseTopic::default()
            .with_name(Some(TopicName(StrBytes::from_static_str("t"))))
            .with_partitions(vec![partition(0, 1), partition(1, -1)]),
        MetadataResponseTopic::default()
            .with_name(Some(TopicName(StrBytes::from_static_str("missing"))))
            .with_error_code(ResponseError::UnknownTopicOrPartition.code()),
    ];
    let asked = ["t".to_string(), "missing".to_string(), "silent".to_string()];
    let meta = metadata_from(answer, Some(&asked), "k:9092").unwrap();
    assert_eq!(meta.cluster_id.as_deref(), Some("c1"));
    assert_eq!(meta.brokers, BTreeMap::from([(1, "k:9092".to_string())]));
    assert_eq!(
        meta.topics["t"].partitions,
        BTreeMap::from([(0, Some(1)), (1, None)])
    );
    assert_eq!(
        meta.topics["missing"].error.as_ref().unwrap().to_string(),
        "Metadata of topic \"missing\" at broker k:9092: UNKNOWN_TOPIC_OR_PARTITION (retriable)"
    );
    assert_eq!(
        meta.topics["silent"].error.as_ref().unwrap().to_string(),
        "broker k:9092 did not describe topic \"silent\""
    );
}

#[test]
fn requests_carry_every_group_or_one_by_version() {
    let groups = groups();
    let r = find_coordinator_request(&groups, 4);
    assert_eq!(r.coordinator_keys.len(), 2);
    assert!(r.key.is_empty());
    let r = find_coordinator_request(&groups, 3);
    assert_eq!(r.key.as_str(), "g1");
    assert!(r.coordinator_keys.is_empty());

    let r = offset_fetch_request(&groups, 8);
    assert_eq!(r.groups.len(), 2);
    assert!(r.groups.iter().all(|g| g.topics.is_none()));
    let r = offset_fetch_request(&groups, 7);
    assert_eq!(r.group_id.0.as_str(), "g1");
    assert!(r.topics.is_none() && r.groups.is_empty());
}

fn groups() -> [String; 2] {
    ["g1".to_string(), "g2".to_string()]
}

/// `request` encoded as version `v` of `api`.
fn encode(api: &str, v: i16, request: &impl Encodable) {
    let mut buf = bytes::BytesMut::new();
    request
        .encode(&mut buf, v)
        .unwrap_or_else(|e| panic!("{api} v{v}: {e}"));
}

#[rstest]
#[case::offset_fetch(2..=9, |v| encode("OffsetFetch", v, &offset_fetch_request(&groups(), v)))]
#[case::find_coordinator(
    1..=6,
    |v| encode("FindCoordinator", v, &find_coordinator_request(&groups(), v))
)]
#[case::metadata_of_some_topics(
    4..=13,
    |v| encode("Metadata", v, &metadata_request(Some(&groups())))
)]
#[case::metadata_of_every_topic(4..=13, |v| encode("Metadata", v, &metadata_request(None)))]
#[case::list_offsets(
    1..=10,
    |v| encode(
        "ListOffsets",
        v,
        &list_offsets_request(&[tp("a", 0), tp("b", 1), tp("a", 2)], v, 5000, LATEST),
    )
)]
fn every_version_in_our_range_encodes(
    #[case] versions: RangeInclusive<i16>,
    #[case] encode_as: fn(i16),
) {
    for v in versions {
        encode_as(v);
    }
}

#[test]
fn list_offsets_asks_for_the_latest_offset_per_topic() {
    let r = list_offsets_request(&[tp("a", 0), tp("b", 1), tp("a", 2)], 9, 5000, LATEST);
    assert_eq!(r.replica_id, BrokerId(-1));
    let topics: Vec<(String, Vec<(i32, i64)>)> = r
        .topics
        .iter()
        .map(|t| {
            (
                t.name.0.to_string(),
                t.partitions
                    .iter()
                    .map(|p| (p.partition_index, p.timestamp))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        topics,
        vec![
            ("a".to_string(), vec![(0, -1), (2, -1)]),
            ("b".to_string(), vec![(1, -1)])
        ]
    );
}

#[test]
fn coordinators_are_read_per_group() {
    let mut answer = FindCoordinatorResponse::default();
    answer.coordinators = vec![
        Answered::default()
            .with_key(StrBytes::from_static_str("g1"))
            .with_node_id(BrokerId(2))
            .with_host(StrBytes::from_static_str("b2"))
            .with_port(9092),
        Answered::default()
            .with_key(StrBytes::from_static_str("g2"))
            .with_error_code(ResponseError::CoordinatorNotAvailable.code())
            .with_error_message(Some(StrBytes::from_static_str("loading"))),
    ];
    let asked = ["g1".to_string(), "g2".to_string(), "g3".to_string()];
    let out = coordinators_from(answer, 4, &asked, "b1:9092");
    assert_eq!(
        out["g1"],
        Ok(Coordinator {
            node_id: 2,
            address: "b2:9092".into()
        })
    );
    assert_eq!(
        out["g2"].as_ref().unwrap_err().to_string(),
        "FindCoordinator of group \"g2\" at broker b1:9092: COORDINATOR_NOT_AVAILABLE: loading (retriable)"
    );
    assert_eq!(
        out["g3"].as_ref().unwrap_err().to_string(),
        "broker b1:9092 sent a malformed FindCoordinator response: it names no coordinator for group \"g3\""
    );

    // Before v4: the top-level fields answer the one group asked.
    let mut answer = FindCoordinatorResponse::default();
    answer.node_id = BrokerId(1);
    answer.host = StrBytes::from_static_str("b1");
    answer.port = 9093;
    let out = coordinators_from(answer, 3, &asked[..1], "b1:9092");
    assert_eq!(
        out,
        BTreeMap::from([(
            "g1".to_string(),
            Ok(Coordinator {
                node_id: 1,
                address: "b1:9093".into()
            })
        )])
    );
}

#[test]
fn committed_offsets_leave_out_partitions_without_one() {
    let partition = |i, offset| {
        OffsetFetchResponsePartitions::default()
            .with_partition_index(i)
            .with_committed_offset(offset)
    };
    let mut answer = OffsetFetchResponse::default();
    answer.groups = vec![
        OffsetFetchResponseGroup::default()
            .with_group_id(GroupId(StrBytes::from_static_str("g1")))
            .with_topics(vec![
                OffsetFetchResponseTopics::default()
                    .with_name(TopicName(StrBytes::from_static_str("t")))
                    .with_partitions(vec![partition(0, 5), partition(1, -1)]),
            ]),
        OffsetFetchResponseGroup::default()
            .with_group_id(GroupId(StrBytes::from_static_str("empty"))),
        OffsetFetchResponseGroup::default()
            .with_group_id(GroupId(StrBytes::from_static_str("never")))
            .with_error_code(ResponseError::GroupIdNotFound.code()),
        OffsetFetchResponseGroup::default()
            .with_group_id(GroupId(StrBytes::from_static_str("denied")))
            .with_error_code(ResponseError::GroupAuthorizationFailed.code()),
    ];
    let asked: Vec<String> = ["g1", "empty", "never", "denied", "lost"]
        .map(String::from)
        .to_vec();
    let out = group_offsets_from(answer, 8, &asked, "b1:9092");
    assert_eq!(out["g1"], Ok(BTreeMap::from([(tp("t", 0), 5)])));
    assert_eq!(out["empty"], Ok(BTreeMap::new()));
    assert_eq!(out["never"], Ok(BTreeMap::new()));
    assert_eq!(
        out["denied"].as_ref().unwrap_err().to_string(),
        "OffsetFetch of group \"denied\" at broker b1:9092: GROUP_AUTHORIZATION_FAILED"
    );
    assert!(out["lost"].is_err());

    // Before v8: one group, its topics at the top level; a partition's error fails the group.
    let mut answer = OffsetFetchResponse::default();
    answer.topics = vec![
        OffsetFetchResponseTopic::default()
            .with_name(TopicName(StrBytes::from_static_str("t")))
            .with_partitions(vec![
                OffsetFetchResponsePartition::default()
                    .with_partition_index(3)
                    .with_committed_offset(9),
            ]),
    ];
    let out = group_offsets_from(answer.clone(), 7, &asked[..1], "b1:9092");
    assert_eq!(out["g1"], Ok(BTreeMap::from([(tp("t", 3), 9)])));
    answer.topics[0].partitions[0].error_code = ResponseError::UnstableOffsetCommit.code();
    let out = group_offsets_from(answer, 7, &asked[..1], "b1:9092");
    assert_eq!(
        out["g1"].as_ref().unwrap_err().to_string(),
        "OffsetFetch of group \"g1\", partition t-3 at broker b1:9092: UNSTABLE_OFFSET_COMMIT (retriable)"
    );
}

#[test]
fn end_offsets_are_read_per_partition() {
    let mut answer = ListOffsetsResponse::default();
    answer.topics = vec![
        ListOffsetsTopicResponse::default()
            .with_name(TopicName(StrBytes::from_static_str("t")))
            .with_partitions(vec![
                ListOffsetsPartitionResponse::default()
                    .with_partition_index(0)
                    .with_offset(42),
                ListOffsetsPartitionResponse::default()
                    .with_partition_index(1)
                    .with_error_code(ResponseError::NotLeaderOrFollower.code()),
                ListOffsetsPartitionResponse::default()
                    .with_partition_index(9)
                    .with_offset(1),
            ]),
    ];
    let out = listed_offsets_from(answer, &[tp("t", 0), tp("t", 1), tp("t", 2)], "b1:9092");
    assert_eq!(out.len(), 3);
    assert_eq!(out[&tp("t", 0)], Ok(42));
    assert_eq!(
        out[&tp("t", 1)].as_ref().unwrap_err().to_string(),
        "ListOffsets of t-1 at broker b1:9092: NOT_LEADER_OR_FOLLOWER (retriable)"
    );
    assert_eq!(
        out[&tp("t", 2)].as_ref().unwrap_err().to_string(),
        "broker b1:9092 sent a malformed ListOffsets response: it leaves out t-2"
    );
}

fn fetched(
    asked_ids: Option<&BTreeMap<String, TopicId>>,
    version: i16,
    answer: FetchResponse,
) -> BTreeMap<Partition, Result<Fetched, KafkaError>> {
    let asked = [
        (tp("o", 0), 0),
        (tp("o", 1), 50),
        (tp("o", 2), 0),
        (tp("o", 3), 0),
    ];
    fetched_from(answer, version, &asked, asked_ids, "b1:9092")
}

#[test]
fn fetch_requests_name_topics_by_name_then_by_id_and_never_wait() {
    let asked = [(tp("o", 0), 5), (tp("p", 1), 7), (tp("o", 2), 9)];
    let ids = BTreeMap::from([("o".to_string(), [1; 16]), ("p".to_string(), [2; 16])]);
    for v in 5..=18 {
        let r = fetch_request(&asked, Some(&ids), v, 1 << 20);
        let mut buf = bytes::BytesMut::new();
        r.encode(&mut buf, v)
            .unwrap_or_else(|e| panic!("Fetch v{v}: {e}"));
        assert_eq!((r.max_wait_ms, r.min_bytes, r.isolation_level), (0, 1, 0));
        assert_eq!(
            (r.session_id, r.session_epoch, r.max_bytes),
            (0, -1, FETCH_MAX_BYTES)
        );
        let names: Vec<(String, TopicId)> = r
            .topics
            .iter()
            .map(|t| (t.topic.to_string(), *t.topic_id.as_bytes()))
            .collect();
        let by_name = [("o".to_string(), [0; 16]), ("p".to_string(), [0; 16])];
        let by_id = [(String::new(), [1; 16]), (String::new(), [2; 16])];
        let want = if v >= FETCH_TOPIC_IDS { by_id } else { by_name };
        assert_eq!(names, want, "v{v}");
        let partitions: Vec<Vec<(i32, i64, i32)>> = r
            .topics
            .iter()
            .map(|t| {
                t.partitions
                    .iter()
                    .map(|p| (p.partition, p.fetch_offset, p.partition_max_bytes))
                    .collect()
            })
            .collect();
        assert_eq!(
            partitions,
            [
                vec![(0, 5, 1 << 20), (2, 9, 1 << 20)],
                vec![(1, 7, 1 << 20)]
            ],
            "v{v}"
        );
    }
    // Per-partition sizes stay within what one answer takes.
    let r = fetch_request(&asked, None, 12, i32::MAX);
    assert_eq!(
        r.topics[0].partitions[0].partition_max_bytes,
        FETCH_MAX_BYTES
    );
    let r = fetch_request(&asked, None, 12, -3);
    assert_eq!(r.topics[0].partitions[0].partition_max_bytes, 1);
}

#[test]
fn fetch_goes_by_topic_id_only_when_the_metadata_gives_every_one() {
    let mut m = meta();
    m.topics.get_mut("a").unwrap().id = Some([1; 16]);
    let asked = [(tp("a", 0), 0), (tp("a", 2), 0)];
    assert_eq!(
        topic_ids(&m, &asked),
        Some(BTreeMap::from([("a".to_string(), [1; 16])]))
    );
    assert_eq!(topic_ids(&m, &[(tp("a", 0), 0), (tp("b", 0), 0)]), None);
    assert_eq!(topic_ids(&m, &[(tp("nope", 0), 0)]), None);

    let broker = Versions::with("k:9092", &[(Api::Fetch, 4, 18)]);
    assert_eq!(fetch_version(&broker, true), Ok(18));
    assert_eq!(fetch_version(&broker, false), Ok(12));
    let newer = Versions::with("k:9092", &[(Api::Fetch, 13, 20)]);
    assert_eq!(fetch_version(&newer, true), Ok(18));
    assert_eq!(
        fetch_version(&newer, false).unwrap_err().to_string(),
        "broker k:9092 does not support Fetch v5 to v12 (it offers v13 to v20)"
    );
}

#[test]
fn fetched_partitions_carry_their_records_or_their_error() {
    use super::records::tests::{batch, record, seal};
    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    use kafka_protocol::records::Compression;
    let records = batch(
        &[
            record(0, 1_000, r#"["src",{}]"#, Some("{}")),
            record(1, 2_000, r#"["src",{}]"#, None),
        ],
        Compression::None,
    );
    let mut lz4 = records.clone();
    lz4[22] |= 3;
    seal(&mut lz4);
    let partition = |i: i32, code: ResponseError, data: Option<&[u8]>| {
        PartitionData::default()
            .with_partition_index(i)
            .with_error_code(if i == 0 { 0 } else { code.code() })
            .with_high_watermark(60)
            .with_log_start_offset(0)
            .with_records(data.map(bytes::Bytes::copy_from_slice))
    };
    let topic = FetchableTopicResponse::default().with_partitions(vec![
        partition(0, ResponseError::UnknownServerError, Some(&records)),
        partition(1, ResponseError::OffsetOutOfRange, None),
        partition(2, ResponseError::NotLeaderOrFollower, None),
        // Not asked: left out.
        partition(9, ResponseError::UnknownServerError, None),
    ]);
    let mut answer = FetchResponse::default()
        .with_responses(vec![topic.clone().with_topic(TopicName(text("o")))]);
    let out = fetched(None, 12, answer.clone());
    assert_eq!(out.len(), 4);
    let ok = out[&tp("o", 0)].as_ref().unwrap();
    assert_eq!(
        ok.records
            .iter()
            .map(|r| (r.offset, r.timestamp_ms, r.tombstone))
            .collect::<Vec<_>>(),
        [(0, 1_000, false), (1, 2_000, true)]
    );
    assert_eq!(
        (ok.high_watermark, ok.log_start_offset, ok.next_offset),
        (60, 0, 2)
    );
    assert_eq!(
        out[&tp("o", 1)].as_ref().unwrap_err().to_string(),
        "Fetch of o-1 at broker b1:9092: OFFSET_OUT_OF_RANGE"
    );
    assert_eq!(
        out[&tp("o", 2)].as_ref().unwrap_err().to_string(),
        "Fetch of o-2 at broker b1:9092: NOT_LEADER_OR_FOLLOWER (retriable)"
    );
    assert_eq!(
        out[&tp("o", 3)].as_ref().unwrap_err().to_string(),
        "broker b1:9092 sent a malformed Fetch response: it leaves out o-3"
    );

    // A batch in a codec not read fails its partition only.
    answer.responses[0].partitions[0].records = Some(bytes::Bytes::from(lz4));
    let out = fetched(None, 12, answer.clone());
    assert_eq!(
        out[&tp("o", 0)].as_ref().unwrap_err().to_string(),
        "reading the records of o-0 from broker b1:9092: the batch at offset 0 is lz4-compressed, \
         a codec this client does not read (it reads uncompressed, gzip and snappy batches)"
    );
    assert!(out[&tp("o", 1)].is_err());

    // From v13 topics are named by id.
    let ids = BTreeMap::from([("o".to_string(), [4; 16])]);
    let by_id = |id: [u8; 16]| {
        let text: String = id.iter().map(|b| format!("{b:02x}")).collect();
        FetchResponse::default()
            .with_responses(vec![topic.clone().with_topic_id(text.parse().unwrap())])
    };
    let out = fetched(Some(&ids), 13, by_id([4; 16]));
    assert_eq!(out[&tp("o", 0)].as_ref().unwrap().records.len(), 2);
    let out = fetched(Some(&ids), 13, by_id([5; 16]));
    assert!(
        out.values()
            .all(|r| matches!(r, Err(KafkaError::Malformed { .. })))
    );

    // An error for the whole request fails every partition.
    let answer =
        FetchResponse::default().with_error_code(ResponseError::InvalidFetchSessionEpoch.code());
    let out = fetched(None, 12, answer);
    assert_eq!(out.len(), 4);
    assert!(
        out[&tp("o", 0)]
            .as_ref()
            .unwrap_err()
            .to_string()
            .starts_with("Fetch at broker b1:9092: INVALID_FETCH_SESSION_EPOCH")
    );
}

#[test]
fn start_offsets_ask_for_the_earliest_offset() {
    let r = list_offsets_request(&[tp("a", 0)], 9, 5000, EARLIEST);
    assert_eq!(r.topics[0].partitions[0].timestamp, -2);
}

#[test]
fn metadata_keeps_topic_ids() {
    let mut answer = MetadataResponse::default();
    let topic = |name: &'static str| {
        MetadataResponseTopic::default().with_name(Some(TopicName(StrBytes::from_static_str(name))))
    };
    answer.topics = vec![
        topic("with").with_topic_id("0102030405060708090a0b0c0d0e0f10".parse().unwrap()),
        topic("without"),
    ];
    let meta = metadata_from(answer, None, "k:9092").unwrap();
    assert_eq!(
        meta.topics["with"].id,
        Some([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16])
    );
    assert_eq!(meta.topics["without"].id, None);
}
