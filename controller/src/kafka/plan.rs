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
mod tests;
