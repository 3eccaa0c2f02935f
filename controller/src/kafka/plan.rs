//! The pure half of each call: which broker gets which partitions or groups, the requests, and the answers
//! read into maps. Nothing here does I/O.

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::ResponseError;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::find_coordinator_response::FindCoordinatorResponse;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestGroup;
use kafka_protocol::messages::{
    BrokerId, FetchRequest, FetchResponse, FindCoordinatorRequest, GroupId, ListOffsetsRequest,
    ListOffsetsResponse, MetadataRequest, MetadataResponse, OffsetFetchRequest,
    OffsetFetchResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::error::KafkaError;
use super::records::{self, Budget, FetchedRecord};
use super::versions::{Api, FETCH_TOPIC_IDS, FIND_COORDINATOR_KEYS, OFFSET_FETCH_GROUPS, Versions};

/// A topic and a partition number.
pub(crate) type Partition = (String, i32);
/// Committed offsets of one group.
pub(crate) type Offsets = BTreeMap<Partition, i64>;

/// What the cluster said about its brokers and topics.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Metadata {
    pub(crate) cluster_id: Option<String>,
    pub(crate) controller_id: Option<i32>,
    /// `host:port` of each broker, by id.
    pub(crate) brokers: BTreeMap<i32, String>,
    pub(crate) topics: BTreeMap<String, TopicMeta>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TopicMeta {
    /// Each partition's leader, `None` while it has none.
    pub(crate) partitions: BTreeMap<i32, Option<i32>>,
    /// A topic of Kafka's own (`__consumer_offsets`).
    pub(crate) internal: bool,
    /// Why the topic is not described: `UNKNOWN_TOPIC_OR_PARTITION` for one that does not exist.
    pub(crate) error: Option<KafkaError>,
    /// Kafka's id of the topic (Metadata v10 and later), which Fetch names topics by from v13.
    pub(crate) id: Option<TopicId>,
}

/// A topic id: a UUID's 16 bytes.
pub(crate) type TopicId = [u8; 16];

/// A group's coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Coordinator {
    pub(crate) node_id: i32,
    pub(crate) address: String,
}

/// Work split by broker: what each broker (by id, with its address) gets, and what no broker can take,
/// with why.
#[derive(Debug, PartialEq)]
pub(crate) struct Split<T> {
    pub(crate) brokers: BTreeMap<i32, (String, Vec<T>)>,
    pub(crate) failed: Vec<(T, KafkaError)>,
}

impl<T> Default for Split<T> {
    fn default() -> Self {
        Split {
            brokers: BTreeMap::new(),
            failed: Vec::new(),
        }
    }
}

impl<T> Split<T> {
    fn add(&mut self, id: i32, address: &str, item: T) {
        self.brokers
            .entry(id)
            .or_insert_with(|| (address.to_string(), Vec::new()))
            .1
            .push(item);
    }
}

/// Partitions by the broker that leads them: ListOffsets goes to the leader, one request per leader.
pub(crate) fn by_leader(meta: &Metadata, partitions: &[Partition]) -> Split<Partition> {
    let mut split = Split::default();
    let unique: BTreeSet<&Partition> = partitions.iter().collect();
    for tp in unique {
        let (topic, partition) = tp;
        let leader = match meta.topics.get(topic) {
            None => Err(KafkaError::NotInMetadata(format!(
                "topic {topic:?} is not in the metadata"
            ))),
            Some(TopicMeta { error: Some(e), .. }) => Err(e.clone()),
            Some(t) => match t.partitions.get(partition) {
                None => Err(KafkaError::NotInMetadata(format!(
                    "partition {topic}-{partition} is not in the metadata (the topic has {} \
                     partitions)",
                    t.partitions.len()
                ))),
                Some(None) => Err(KafkaError::NotInMetadata(format!(
                    "partition {topic}-{partition} has no leader"
                ))),
                Some(Some(id)) => match meta.brokers.get(id) {
                    Some(address) => Ok((*id, address)),
                    None => Err(KafkaError::NotInMetadata(format!(
                        "broker {id}, the leader of {topic}-{partition}, is not in the metadata"
                    ))),
                },
            },
        };
        match leader {
            Ok((id, address)) => split.add(id, address, tp.clone()),
            Err(e) => split.failed.push((tp.clone(), e)),
        }
    }
    split
}

/// Groups by their coordinator: OffsetFetch goes to the coordinator, one request per coordinator.
pub(crate) fn by_coordinator(
    coordinators: BTreeMap<String, Result<Coordinator, KafkaError>>,
) -> Split<String> {
    let mut split = Split::default();
    for (group, coordinator) in coordinators {
        match coordinator {
            Ok(c) => split.add(c.node_id, &c.address, group),
            Err(e) => split.failed.push((group, e)),
        }
    }
    split
}

/// `host:port`, with an IPv6 host in brackets.
pub(crate) fn address(host: &str, port: i32) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn error(code: i16) -> Option<ResponseError> {
    ResponseError::try_from_code(code)
}

// ----- Metadata -----------------------------------------------------------------------------------------

/// Metadata of `topics` (all when `None`), without creating any.
pub(crate) fn metadata_request(topics: Option<&[String]>) -> MetadataRequest {
    let topics = topics.map(|ts| {
        ts.iter()
            .map(|t| MetadataRequestTopic::default().with_name(Some(TopicName(text(t)))))
            .collect()
    });
    MetadataRequest::default()
        .with_topics(topics)
        .with_allow_auto_topic_creation(false)
}

/// The brokers and the topics' partitions with their leaders. A topic asked for that the answer does not
/// describe is reported on that topic.
pub(crate) fn metadata_from(
    answer: MetadataResponse,
    asked: Option<&[String]>,
    broker: &str,
) -> Result<Metadata, KafkaError> {
    if let Some(code) = error(answer.error_code) {
        return Err(KafkaError::Answer {
            broker: broker.to_string(),
            what: "Metadata".into(),
            code,
            message: None,
        });
    }
    let mut meta = Metadata {
        cluster_id: answer.cluster_id.map(|c| c.to_string()),
        controller_id: Some(answer.controller_id.0).filter(|id| *id >= 0),
        brokers: answer
            .brokers
            .iter()
            .map(|b| (b.node_id.0, address(&b.host, b.port)))
            .collect(),
        topics: BTreeMap::new(),
    };
    for t in answer.topics {
        // Only a lookup by topic id leaves the name out; this client looks up by name.
        let Some(name) = t.name.map(|n| n.0.to_string()) else {
            continue;
        };
        let topic = TopicMeta {
            partitions: t
                .partitions
                .iter()
                .map(|p| (p.partition_index, Some(p.leader_id.0).filter(|l| *l >= 0)))
                .collect(),
            internal: t.is_internal,
            id: Some(*t.topic_id.as_bytes()).filter(|id| *id != TopicId::default()),
            error: error(t.error_code).map(|code| KafkaError::Answer {
                broker: broker.to_string(),
                what: format!("Metadata of topic {name:?}"),
                code,
                message: None,
            }),
        };
        meta.topics.insert(name, topic);
    }
    for t in asked.unwrap_or_default() {
        meta.topics.entry(t.clone()).or_insert_with(|| TopicMeta {
            error: Some(KafkaError::NotInMetadata(format!(
                "broker {broker} did not describe topic {t:?}"
            ))),
            ..TopicMeta::default()
        });
    }
    Ok(meta)
}

// ----- FindCoordinator ----------------------------------------------------------------------------------

/// The coordinators of `groups`: all of them from v4, else the first only (the caller sends one request
/// per group).
pub(crate) fn find_coordinator_request(groups: &[String], version: i16) -> FindCoordinatorRequest {
    let request = FindCoordinatorRequest::default().with_key_type(0);
    if version >= FIND_COORDINATOR_KEYS {
        request.with_coordinator_keys(groups.iter().map(|g| text(g)).collect())
    } else {
        request.with_key(groups.first().map(|g| text(g)).unwrap_or_default())
    }
}

pub(crate) fn coordinators_from(
    answer: FindCoordinatorResponse,
    version: i16,
    asked: &[String],
    broker: &str,
) -> BTreeMap<String, Result<Coordinator, KafkaError>> {
    let failed = |group: &str, code, message: Option<StrBytes>| KafkaError::Answer {
        broker: broker.to_string(),
        what: format!("FindCoordinator of group {group:?}"),
        code,
        message: message.map(|m| m.to_string()),
    };
    let mut out = BTreeMap::new();
    if version >= FIND_COORDINATOR_KEYS {
        let asked: BTreeSet<&str> = asked.iter().map(String::as_str).collect();
        for c in answer.coordinators {
            let group = c.key.to_string();
            if !asked.contains(group.as_str()) {
                continue;
            }
            let result = match error(c.error_code) {
                Some(code) => Err(failed(&group, code, c.error_message)),
                None => Ok(Coordinator {
                    node_id: c.node_id.0,
                    address: address(&c.host, c.port),
                }),
            };
            out.insert(group, result);
        }
    } else if let Some(group) = asked.first() {
        let result = match error(answer.error_code) {
            Some(code) => Err(failed(group, code, answer.error_message)),
            None => Ok(Coordinator {
                node_id: answer.node_id.0,
                address: address(&answer.host, answer.port),
            }),
        };
        out.insert(group.clone(), result);
    }
    for group in asked {
        out.entry(group.clone()).or_insert_with(|| {
            Err(KafkaError::Malformed {
                broker: broker.to_string(),
                api: "FindCoordinator",
                cause: format!("it names no coordinator for group {group:?}"),
            })
        });
    }
    out
}

// ----- OffsetFetch --------------------------------------------------------------------------------------

/// The committed offsets of all partitions of `groups`: all of them from v8, else the first only.
pub(crate) fn offset_fetch_request(groups: &[String], version: i16) -> OffsetFetchRequest {
    if version >= OFFSET_FETCH_GROUPS {
        OffsetFetchRequest::default().with_groups(
            groups
                .iter()
                .map(|g| {
                    OffsetFetchRequestGroup::default()
                        .with_group_id(GroupId(text(g)))
                        .with_topics(None)
                })
                .collect(),
        )
    } else {
        OffsetFetchRequest::default()
            .with_group_id(GroupId(groups.first().map(|g| text(g)).unwrap_or_default()))
            .with_topics(None)
    }
}

/// Each asked group's committed offsets. A group that never committed (or does not exist) has none; an
/// offset of -1 means none for that partition and is left out.
pub(crate) fn group_offsets_from(
    answer: OffsetFetchResponse,
    version: i16,
    asked: &[String],
    broker: &str,
) -> BTreeMap<String, Result<Offsets, KafkaError>> {
    let failed = |group: &str, what: String, code| KafkaError::Answer {
        broker: broker.to_string(),
        what: format!("OffsetFetch of group {group:?}{what}"),
        code,
        message: None,
    };
    let read = |group: &str, code: i16, partitions: Vec<(String, i32, i64, i16)>| {
        match error(code) {
            Some(ResponseError::GroupIdNotFound) => return Ok(Offsets::new()),
            Some(code) => return Err(failed(group, String::new(), code)),
            None => {}
        }
        let mut offsets = Offsets::new();
        for (topic, partition, offset, code) in partitions {
            if let Some(code) = error(code) {
                return Err(failed(
                    group,
                    format!(", partition {topic}-{partition}"),
                    code,
                ));
            }
            if offset >= 0 {
                offsets.insert((topic, partition), offset);
            }
        }
        Ok(offsets)
    };
    let mut out = BTreeMap::new();
    if version >= OFFSET_FETCH_GROUPS {
        let asked: BTreeSet<&str> = asked.iter().map(String::as_str).collect();
        for g in answer.groups {
            let group = g.group_id.0.to_string();
            if !asked.contains(group.as_str()) {
                continue;
            }
            let partitions = g
                .topics
                .into_iter()
                .flat_map(|t| {
                    let topic = t.name.0.to_string();
                    t.partitions.into_iter().map(move |p| {
                        (
                            topic.clone(),
                            p.partition_index,
                            p.committed_offset,
                            p.error_code,
                        )
                    })
                })
                .collect();
            let result = read(&group, g.error_code, partitions);
            out.insert(group, result);
        }
    } else if let Some(group) = asked.first() {
        let partitions = answer
            .topics
            .into_iter()
            .flat_map(|t| {
                let topic = t.name.0.to_string();
                t.partitions.into_iter().map(move |p| {
                    (
                        topic.clone(),
                        p.partition_index,
                        p.committed_offset,
                        p.error_code,
                    )
                })
            })
            .collect();
        out.insert(group.clone(), read(group, answer.error_code, partitions));
    }
    for group in asked {
        out.entry(group.clone()).or_insert_with(|| {
            Err(KafkaError::Malformed {
                broker: broker.to_string(),
                api: "OffsetFetch",
                cause: format!("it leaves out group {group:?}"),
            })
        });
    }
    out
}

// ----- ListOffsets --------------------------------------------------------------------------------------

/// ListOffsets' timestamp for the log-end offset (read uncommitted).
pub(crate) const LATEST: i64 = -1;
/// ListOffsets' timestamp for the log-start offset.
pub(crate) const EARLIEST: i64 = -2;

/// The offset at `timestamp` ([`LATEST`] or [`EARLIEST`]) of each of `partitions`.
pub(crate) fn list_offsets_request(
    partitions: &[Partition],
    version: i16,
    timeout_ms: i32,
    timestamp: i64,
) -> ListOffsetsRequest {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (topic, partition) in partitions {
        by_topic.entry(topic).or_default().push(*partition);
    }
    let topics = by_topic
        .into_iter()
        .map(|(topic, ps)| {
            ListOffsetsTopic::default()
                .with_name(TopicName(text(topic)))
                .with_partitions(
                    ps.into_iter()
                        .map(|p| {
                            ListOffsetsPartition::default()
                                .with_partition_index(p)
                                .with_timestamp(timestamp)
                        })
                        .collect(),
                )
        })
        .collect();
    ListOffsetsRequest::default()
        // A consumer's request, not a follower's.
        .with_replica_id(BrokerId(-1))
        .with_isolation_level(0)
        .with_topics(topics)
        .with_timeout_ms(if version >= 10 { timeout_ms } else { 0 })
}

pub(crate) fn listed_offsets_from(
    answer: ListOffsetsResponse,
    asked: &[Partition],
    broker: &str,
) -> BTreeMap<Partition, Result<i64, KafkaError>> {
    let asked: BTreeSet<&Partition> = asked.iter().collect();
    let mut out = BTreeMap::new();
    for t in answer.topics {
        let topic = t.name.0.to_string();
        for p in t.partitions {
            let key = (topic.clone(), p.partition_index);
            if !asked.contains(&key) {
                continue;
            }
            let result = match error(p.error_code) {
                Some(code) => Err(KafkaError::Answer {
                    broker: broker.to_string(),
                    what: format!("ListOffsets of {topic}-{}", p.partition_index),
                    code,
                    message: None,
                }),
                None if p.offset < 0 => Err(KafkaError::Malformed {
                    broker: broker.to_string(),
                    api: "ListOffsets",
                    cause: format!("no offset for {topic}-{}", p.partition_index),
                }),
                None => Ok(p.offset),
            };
            out.insert(key, result);
        }
    }
    for (topic, partition) in asked {
        out.entry((topic.clone(), *partition)).or_insert_with(|| {
            Err(KafkaError::Malformed {
                broker: broker.to_string(),
                api: "ListOffsets",
                cause: format!("it leaves out {topic}-{partition}"),
            })
        });
    }
    out
}

// ----- Fetch --------------------------------------------------------------------------------------------

/// The records of one partition as fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fetched {
    /// At the offset asked or after, control batches left out.
    pub(crate) records: Vec<FetchedRecord>,
    pub(crate) high_watermark: i64,
    pub(crate) log_start_offset: i64,
    /// Where to fetch from next time: after the last batch read, or at a batch left for later (cut by
    /// `max_bytes`, or past what one answer decodes).
    pub(crate) next_offset: i64,
}

/// What one Fetch answer may take, all partitions together: Kafka's Java consumer's default
/// (`fetch.max.bytes`), which leaves room under the response cap for the one batch Kafka sends whole
/// beyond it.
pub(crate) const FETCH_MAX_BYTES: i32 = 50 << 20;

/// The ids of the topics of `asked`, when the metadata gives every one: Fetch names topics by id from v13.
pub(crate) fn topic_ids(
    meta: &Metadata,
    asked: &[(Partition, i64)],
) -> Option<BTreeMap<String, TopicId>> {
    asked
        .iter()
        .map(|((topic, _), _)| Some((topic.clone(), meta.topics.get(topic)?.id?)))
        .collect()
}

/// The Fetch version for a broker: the highest shared, below v13 when a topic's id is not known.
pub(crate) fn fetch_version(versions: &Versions, ids_known: bool) -> Result<i16, KafkaError> {
    if ids_known {
        versions.require(Api::Fetch)
    } else {
        versions.require_at_most(Api::Fetch, FETCH_TOPIC_IDS - 1)
    }
}

/// One sessionless Fetch of every partition in `asked` from its offset, read uncommitted, answered at once
/// (`max_wait_ms` 0): at most `max_bytes` per partition and [`FETCH_MAX_BYTES`] in all. From v13 topics go
/// by their id in `ids`.
pub(crate) fn fetch_request(
    asked: &[(Partition, i64)],
    ids: Option<&BTreeMap<String, TopicId>>,
    version: i16,
    max_bytes: i32,
) -> FetchRequest {
    let per_partition = max_bytes.clamp(1, FETCH_MAX_BYTES);
    let mut by_topic: BTreeMap<&str, Vec<(i32, i64)>> = BTreeMap::new();
    for ((topic, partition), offset) in asked {
        by_topic
            .entry(topic)
            .or_default()
            .push((*partition, *offset));
    }
    let topics = by_topic
        .into_iter()
        .map(|(topic, ps)| {
            let t = FetchTopic::default().with_partitions(
                ps.into_iter()
                    .map(|(p, offset)| {
                        FetchPartition::default()
                            .with_partition(p)
                            .with_fetch_offset(offset)
                            .with_partition_max_bytes(per_partition)
                    })
                    .collect(),
            );
            if version >= FETCH_TOPIC_IDS {
                let id = ids
                    .and_then(|ids| ids.get(topic))
                    .copied()
                    .unwrap_or_default();
                // The crate's UUID type (not a dependency of ours) parses its text form.
                let text: String = id.iter().map(|b| format!("{b:02x}")).collect();
                t.with_topic_id(text.parse().unwrap_or_default())
            } else {
                t.with_topic(TopicName(text(topic)))
            }
        })
        .collect();
    FetchRequest::default()
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(FETCH_MAX_BYTES)
        .with_isolation_level(0)
        // No fetch session: every request names all its partitions.
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(topics)
}

/// Each asked partition's records, or its error (`OFFSET_OUT_OF_RANGE` for an offset before the log start
/// or past its end). Records are decoded within one [`Budget`] for the whole answer.
pub(crate) fn fetched_from(
    answer: FetchResponse,
    version: i16,
    asked: &[(Partition, i64)],
    ids: Option<&BTreeMap<String, TopicId>>,
    broker: &str,
) -> BTreeMap<Partition, Result<Fetched, KafkaError>> {
    let from: BTreeMap<&Partition, i64> = asked.iter().map(|(p, o)| (p, *o)).collect();
    let mut out = BTreeMap::new();
    if let Some(code) = error(answer.error_code) {
        return from
            .into_keys()
            .map(|p| {
                let e = KafkaError::Answer {
                    broker: broker.to_string(),
                    what: "Fetch".into(),
                    code,
                    message: None,
                };
                (p.clone(), Err(e))
            })
            .collect();
    }
    let names: BTreeMap<TopicId, &str> = ids
        .into_iter()
        .flatten()
        .map(|(name, id)| (*id, name.as_str()))
        .collect();
    let mut budget = Budget::default();
    for t in answer.responses {
        let topic = if version >= FETCH_TOPIC_IDS {
            match names.get(t.topic_id.as_bytes()) {
                Some(name) => name.to_string(),
                None => continue,
            }
        } else {
            t.topic.0.to_string()
        };
        for p in t.partitions {
            let key = (topic.clone(), p.partition_index);
            let Some(&offset) = from.get(&key) else {
                continue;
            };
            if out.contains_key(&key) {
                continue;
            }
            let result = match error(p.error_code) {
                Some(code) => Err(KafkaError::Answer {
                    broker: broker.to_string(),
                    what: format!("Fetch of {topic}-{}", p.partition_index),
                    code,
                    message: None,
                }),
                None => records::read(p.records.unwrap_or_default(), offset, &mut budget)
                    .map(|read| Fetched {
                        records: read.records,
                        high_watermark: p.high_watermark,
                        log_start_offset: p.log_start_offset,
                        next_offset: read.next_offset,
                    })
                    .map_err(|cause| KafkaError::Records {
                        broker: broker.to_string(),
                        partition: format!("{topic}-{}", p.partition_index),
                        cause,
                    }),
            };
            out.insert(key, result);
        }
    }
    for (topic, partition) in from.into_keys() {
        out.entry((topic.clone(), *partition)).or_insert_with(|| {
            Err(KafkaError::Malformed {
                broker: broker.to_string(),
                api: "Fetch",
                cause: format!("it leaves out {topic}-{partition}"),
            })
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let groups = ["g1".to_string(), "g2".to_string()];
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

        // Every version in our range encodes.
        use kafka_protocol::protocol::Encodable;
        for v in 2..=9 {
            let mut buf = bytes::BytesMut::new();
            offset_fetch_request(&groups, v)
                .encode(&mut buf, v)
                .unwrap_or_else(|e| panic!("OffsetFetch v{v}: {e}"));
        }
        for v in 1..=6 {
            let mut buf = bytes::BytesMut::new();
            find_coordinator_request(&groups, v)
                .encode(&mut buf, v)
                .unwrap_or_else(|e| panic!("FindCoordinator v{v}: {e}"));
        }
        for v in 4..=13 {
            let mut buf = bytes::BytesMut::new();
            metadata_request(Some(&groups))
                .encode(&mut buf, v)
                .unwrap_or_else(|e| panic!("Metadata v{v}: {e}"));
            metadata_request(None)
                .encode(&mut buf, v)
                .unwrap_or_else(|e| panic!("Metadata v{v}: {e}"));
        }
        for v in 1..=10 {
            let mut buf = bytes::BytesMut::new();
            list_offsets_request(&[tp("a", 0), tp("b", 1), tp("a", 2)], v, 5000, LATEST)
                .encode(&mut buf, v)
                .unwrap_or_else(|e| panic!("ListOffsets v{v}: {e}"));
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
        use kafka_protocol::protocol::Encodable;
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
        let answer = FetchResponse::default()
            .with_error_code(ResponseError::InvalidFetchSessionEpoch.code());
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
            MetadataResponseTopic::default()
                .with_name(Some(TopicName(StrBytes::from_static_str(name))))
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
}
