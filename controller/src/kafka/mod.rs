//! A small Kafka client for the reads that measure consumer lag and source connectors' commits, at a cost
//! that grows with the brokers, not with the consumer groups or connectors:
//! - [`KafkaClient::metadata`]: one Metadata request (partitions and their leaders);
//! - [`KafkaClient::group_offsets`]: one FindCoordinator for all groups, then one OffsetFetch per
//!   coordinator carrying all its groups (one per group only for a broker older than OffsetFetch v8);
//! - [`KafkaClient::end_offsets`], [`KafkaClient::start_offsets`]: one ListOffsets per leader for all the
//!   partitions it leads;
//! - [`KafkaClient::fetch`]: one Fetch per leader for all the partitions it leads (Connect's offsets topic,
//!   read whole to learn when each source connector last committed: `source_offsets`).
//!
//! Requests to different brokers run concurrently; one connection per broker carries one request at a time.
//! Connections are kept per broker address (a broker id resolves to its address through the metadata or
//! the coordinator answer, and a bootstrap server that is also a broker is the same connection) and
//! reopened on the next use after an error. Versions are negotiated per connection with ApiVersions.
//!
//! Layers, each importing only the ones before it: `error`, `versions` → `shape` (the layout walk that
//! keeps a crafted response from aborting the process) → `records` (the same for record batches, then
//! decoded) → `wire` (framing) → `tls` → `conn` and `sasl` (one connection) → `plan` (pure: who gets what,
//! requests, answers) → `source_offsets` (pure: commit times from Connect's offsets records) → this file.

mod conn;
mod error;
mod plan;
mod records;
mod sasl;
mod shape;
mod source_offsets;
mod tls;
mod versions;
mod wire;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, OnceLock};

use futures::future::join_all;
use rustls::ClientConfig;
use shared::kafka::KafkaSettings;

pub(crate) use error::KafkaError;
#[allow(
    unused_imports,
    reason = "the type of `Metadata::topics`, for callers that build one"
)]
pub(crate) use plan::TopicMeta;
pub(crate) use plan::{Fetched, Metadata, Offsets, Partition};
pub(crate) use source_offsets::latest_commits;
pub(crate) use versions::Api;
#[cfg(test)]
#[allow(
    unused_imports,
    reason = "for the tests against a real broker, which compile this module on its own"
)]
pub(crate) use {records::FetchedRecord, source_offsets::read_commits};

use conn::Conn;
use versions::{Call, Counts, FIND_COORDINATOR_KEYS, OFFSET_FETCH_GROUPS, Versions};

type Slot = Arc<tokio::sync::Mutex<Option<Conn>>>;

/// The client of one Kafka cluster. Cheap to share behind an `Arc`; calls may run concurrently.
pub(crate) struct KafkaClient {
    settings: KafkaSettings,
    /// Built on first use (the platform verifier reads the system's roots), then shared by every
    /// connection.
    tls: OnceLock<Result<Arc<ClientConfig>, KafkaError>>,
    connections: parking_lot::Mutex<HashMap<String, Slot>>,
    /// The bootstrap server that answered last: tried first next time.
    last_bootstrap: parking_lot::Mutex<Option<String>>,
    counts: Arc<Counts>,
    /// Versions to send at most, whatever the broker offers (tests of the paths for older brokers).
    limits: Vec<(Api, i16)>,
}

impl fmt::Debug for KafkaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The settings' own Debug leaves out the password and the client key.
        f.debug_struct("KafkaClient")
            .field("settings", &self.settings)
            .field("requests_sent", &self.requests_sent())
            .finish_non_exhaustive()
    }
}

impl KafkaClient {
    /// A client for `settings`; connects on first use.
    pub(crate) fn new(settings: KafkaSettings) -> KafkaClient {
        KafkaClient {
            settings,
            tls: OnceLock::new(),
            connections: parking_lot::Mutex::new(HashMap::new()),
            last_bootstrap: parking_lot::Mutex::new(None),
            counts: Arc::new(Counts::default()),
            limits: Vec::new(),
        }
    }

    /// This client as one for brokers that offer at most these versions.
    #[cfg(test)]
    #[allow(
        dead_code,
        reason = "the real broker's test (tests/kafka_client.rs) calls it"
    )]
    pub(crate) fn limited_to(mut self, limits: &[(Api, i16)]) -> KafkaClient {
        self.limits = limits.to_vec();
        self
    }

    pub(crate) fn settings(&self) -> &KafkaSettings {
        &self.settings
    }

    /// Requests sent since creation, every API together (ApiVersions and SASL included).
    pub(crate) fn requests_sent(&self) -> u64 {
        Api::ALL.iter().map(|a| self.counts.get(*a)).sum()
    }

    /// Requests sent since creation, by API name.
    #[allow(
        dead_code,
        reason = "read by the tests and the benchmark; the metrics take the total"
    )]
    pub(crate) fn requests_by_api(&self) -> BTreeMap<&'static str, u64> {
        Api::ALL
            .iter()
            .map(|a| (a.name(), self.counts.get(*a)))
            .collect()
    }

    /// The partitions of `topics` (all topics when `None`) with their leaders, and the brokers. A topic
    /// that does not exist carries its error in [`TopicMeta::error`]; the call itself does not fail for it.
    /// One Metadata request to a bootstrap server.
    pub(crate) async fn metadata(&self, topics: Option<&[String]>) -> Result<Metadata, KafkaError> {
        let topics: Option<Vec<String>> = topics.map(|ts| {
            ts.iter()
                .cloned()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        });
        let (broker, _, answer) = self
            .exchange_any(|v| {
                let version = v.require(Api::Metadata)?;
                Ok((version, plan::metadata_request(topics.as_deref())))
            })
            .await?;
        plan::metadata_from(answer, topics.as_deref(), &broker)
    }

    /// The committed offsets of each of `groups`: a group that never committed has none; a partition whose
    /// offset is -1 is left out. One FindCoordinator for all groups, then one OffsetFetch per coordinator
    /// for all its groups, concurrently. A failure that concerns one broker or group is that group's
    /// entry; one that every broker would give (settings, credentials, TLS) fails the call.
    pub(crate) async fn group_offsets(
        &self,
        groups: &[String],
    ) -> Result<BTreeMap<String, Result<Offsets, KafkaError>>, KafkaError> {
        let groups: Vec<String> = groups
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if groups.is_empty() {
            return Ok(BTreeMap::new());
        }
        let split = plan::by_coordinator(self.coordinators(&groups).await?);
        let fetches = split
            .brokers
            .values()
            .map(|(address, groups)| self.offset_fetch(address, groups));
        let answers = join_all(fetches).await;
        let mut out: BTreeMap<_, _> = split.failed.into_iter().map(|(g, e)| (g, Err(e))).collect();
        for ((_, groups), answer) in split.brokers.into_values().zip(answers) {
            match answer {
                Ok(offsets) => out.extend(offsets),
                Err(e) if e.is_settings_problem() => return Err(e),
                Err(e) => out.extend(groups.into_iter().map(|g| (g, Err(e.clone())))),
            }
        }
        Ok(out)
    }

    /// The log-end offset of each of `partitions`, from their leaders in `meta`: one ListOffsets per
    /// leader, concurrently. A partition without a leader, of a topic that does not exist, or whose leader
    /// fails, carries its error; failures every broker would give fail the call.
    pub(crate) async fn end_offsets(
        &self,
        meta: &Metadata,
        partitions: &[Partition],
    ) -> Result<BTreeMap<Partition, Result<i64, KafkaError>>, KafkaError> {
        self.list_offsets(meta, partitions, plan::LATEST).await
    }

    /// The log-start offset of each of `partitions` (where a fetch of the whole log starts), as
    /// [`KafkaClient::end_offsets`] reads the end.
    pub(crate) async fn start_offsets(
        &self,
        meta: &Metadata,
        partitions: &[Partition],
    ) -> Result<BTreeMap<Partition, Result<i64, KafkaError>>, KafkaError> {
        self.list_offsets(meta, partitions, plan::EARLIEST).await
    }

    /// The records of each partition in `from`, from its offset there: one Fetch per leader in `meta` for
    /// all the partitions it leads, concurrently, answered at once (no waiting for records), at most
    /// `max_bytes` per partition. A partition named twice is fetched from its first offset. Each partition
    /// carries its records or its error (`OFFSET_OUT_OF_RANGE` for an offset outside its log: fetch again
    /// from [`KafkaClient::start_offsets`]); failures every broker would give fail the call.
    pub(crate) async fn fetch(
        &self,
        meta: &Metadata,
        from: &[(Partition, i64)],
        max_bytes: i32,
    ) -> Result<BTreeMap<Partition, Result<Fetched, KafkaError>>, KafkaError> {
        let mut offsets: BTreeMap<Partition, i64> = BTreeMap::new();
        for (p, offset) in from {
            offsets.entry(p.clone()).or_insert(*offset);
        }
        let partitions: Vec<Partition> = offsets.keys().cloned().collect();
        let split = plan::by_leader(meta, &partitions);
        let asked: Vec<(String, Vec<(Partition, i64)>)> = split
            .brokers
            .into_values()
            .map(|(address, ps)| {
                let with_offsets = ps
                    .into_iter()
                    .map(|p| {
                        let offset = offsets.get(&p).copied().unwrap_or_default();
                        (p, offset)
                    })
                    .collect();
                (address, with_offsets)
            })
            .collect();
        let ids: Vec<_> = asked
            .iter()
            .map(|(_, partitions)| plan::topic_ids(meta, partitions))
            .collect();
        let fetches = asked.iter().zip(&ids).map(|((address, partitions), ids)| {
            self.exchange(address, move |v| {
                let version = plan::fetch_version(v, ids.is_some())?;
                Ok((
                    version,
                    plan::fetch_request(partitions, ids.as_ref(), version, max_bytes),
                ))
            })
        });
        let answers = join_all(fetches).await;
        let mut out: BTreeMap<_, _> = split.failed.into_iter().map(|(p, e)| (p, Err(e))).collect();
        for (((address, partitions), ids), answer) in asked.iter().zip(&ids).zip(answers) {
            match answer {
                Ok((version, answer)) => out.extend(plan::fetched_from(
                    answer,
                    version,
                    partitions,
                    ids.as_ref(),
                    address,
                )),
                Err(e) if e.is_settings_problem() => return Err(e),
                Err(e) => out.extend(partitions.iter().map(|(p, _)| (p.clone(), Err(e.clone())))),
            }
        }
        Ok(out)
    }

    /// One ListOffsets per leader of `partitions` for the offset at `timestamp`, concurrently.
    async fn list_offsets(
        &self,
        meta: &Metadata,
        partitions: &[Partition],
        timestamp: i64,
    ) -> Result<BTreeMap<Partition, Result<i64, KafkaError>>, KafkaError> {
        let split = plan::by_leader(meta, partitions);
        let timeout_ms = i32::try_from(self.settings.timeout.as_millis()).unwrap_or(i32::MAX);
        let lists = split.brokers.values().map(|(address, partitions)| {
            self.exchange(address, move |v| {
                let version = v.require(Api::ListOffsets)?;
                Ok((
                    version,
                    plan::list_offsets_request(partitions, version, timeout_ms, timestamp),
                ))
            })
        });
        let answers = join_all(lists).await;
        let mut out: BTreeMap<_, _> = split.failed.into_iter().map(|(p, e)| (p, Err(e))).collect();
        for ((address, partitions), answer) in split.brokers.into_values().zip(answers) {
            match answer {
                Ok((_, answer)) => {
                    out.extend(plan::listed_offsets_from(answer, &partitions, &address))
                }
                Err(e) if e.is_settings_problem() => return Err(e),
                Err(e) => out.extend(partitions.into_iter().map(|p| (p, Err(e.clone())))),
            }
        }
        Ok(out)
    }

    /// The coordinator of each group: one FindCoordinator for all from v4, else one per group, to the
    /// same bootstrap server.
    async fn coordinators(
        &self,
        groups: &[String],
    ) -> Result<BTreeMap<String, Result<plan::Coordinator, KafkaError>>, KafkaError> {
        let Some((first, rest)) = groups.split_first() else {
            return Ok(BTreeMap::new());
        };
        let (broker, version, answer) = self
            .exchange_any(|v| {
                let version = v.require(Api::FindCoordinator)?;
                let asked = if version >= FIND_COORDINATOR_KEYS {
                    groups
                } else {
                    std::slice::from_ref(first)
                };
                Ok((version, plan::find_coordinator_request(asked, version)))
            })
            .await?;
        if version >= FIND_COORDINATOR_KEYS {
            return Ok(plan::coordinators_from(answer, version, groups, &broker));
        }
        let mut out =
            plan::coordinators_from(answer, version, std::slice::from_ref(first), &broker);
        for group in rest {
            let one = std::slice::from_ref(group);
            let answer = self
                .exchange(&broker, |v| {
                    let version = v.require(Api::FindCoordinator)?;
                    Ok((version, plan::find_coordinator_request(one, version)))
                })
                .await;
            match answer {
                Ok((version, answer)) => {
                    out.extend(plan::coordinators_from(answer, version, one, &broker))
                }
                Err(e) if e.is_settings_problem() => return Err(e),
                Err(e) => {
                    out.insert(group.clone(), Err(e));
                }
            }
        }
        Ok(out)
    }

    /// The committed offsets of `groups`, all coordinated by the broker at `address`: one OffsetFetch from
    /// v8, else one per group.
    async fn offset_fetch(
        &self,
        address: &str,
        groups: &[String],
    ) -> Result<BTreeMap<String, Result<Offsets, KafkaError>>, KafkaError> {
        let Some((first, rest)) = groups.split_first() else {
            return Ok(BTreeMap::new());
        };
        let (version, answer) = self
            .exchange(address, |v| {
                let version = v.require(Api::OffsetFetch)?;
                let asked = if version >= OFFSET_FETCH_GROUPS {
                    groups
                } else {
                    std::slice::from_ref(first)
                };
                Ok((version, plan::offset_fetch_request(asked, version)))
            })
            .await?;
        if version >= OFFSET_FETCH_GROUPS {
            return Ok(plan::group_offsets_from(answer, version, groups, address));
        }
        let mut out =
            plan::group_offsets_from(answer, version, std::slice::from_ref(first), address);
        for group in rest {
            let one = std::slice::from_ref(group);
            let answer = self
                .exchange(address, |v| {
                    let version = v.require(Api::OffsetFetch)?;
                    Ok((version, plan::offset_fetch_request(one, version)))
                })
                .await;
            match answer {
                Ok((version, answer)) => {
                    out.extend(plan::group_offsets_from(answer, version, one, address))
                }
                Err(e) if e.is_settings_problem() => return Err(e),
                Err(e) => {
                    out.insert(group.clone(), Err(e));
                }
            }
        }
        Ok(out)
    }

    /// One request to any bootstrap server: the one that answered last first, then the others in the
    /// order given, until one answers. Returns that server's address, the version sent and the answer.
    async fn exchange_any<R: Call>(
        &self,
        make: impl Fn(&Versions) -> Result<(i16, R), KafkaError> + Sync,
    ) -> Result<(String, i16, R::Response), KafkaError> {
        if self.settings.bootstrap.is_empty() {
            return Err(KafkaError::Settings("no bootstrap server given".into()));
        }
        let last = self.last_bootstrap.lock().clone();
        let order = last.iter().chain(
            self.settings
                .bootstrap
                .iter()
                .filter(|b| Some(*b) != last.as_ref()),
        );
        let mut failures = Vec::new();
        for broker in order {
            match self.exchange(broker, &make).await {
                Ok((version, answer)) => {
                    *self.last_bootstrap.lock() = Some(broker.clone());
                    return Ok((broker.clone(), version, answer));
                }
                Err(e) if e.is_settings_problem() => return Err(e),
                Err(e) => {
                    tracing::debug!(broker, error = %e, "bootstrap server did not answer");
                    failures.push(e);
                }
            }
        }
        Err(match failures.len() {
            1 => failures.remove(0),
            _ => KafkaError::NoBootstrap(failures),
        })
    }

    /// One request to the broker at `address` over its connection (opened if there is none). `make` builds
    /// the request for the versions the broker speaks. A cached connection the broker closed meanwhile
    /// (idle connections are closed after `connections.max.idle.ms`) is reopened and the request sent once
    /// more; these reads are safe to repeat.
    async fn exchange<R: Call>(
        &self,
        address: &str,
        make: impl Fn(&Versions) -> Result<(i16, R), KafkaError>,
    ) -> Result<(i16, R::Response), KafkaError> {
        let slot = self.slot(address);
        let mut guard = slot.lock().await;
        let mut retried = false;
        loop {
            let reused = guard.is_some();
            let conn = match guard.as_mut() {
                Some(conn) => conn,
                None => guard.insert(self.open(address).await?),
            };
            let (version, request) = make(conn.versions())?;
            match conn.call(version, &request).await {
                Ok(answer) => return Ok((version, answer)),
                Err(e) => {
                    *guard = None;
                    if reused && !retried && e.is_connection_lost() {
                        tracing::debug!(broker = address, error = %e, "reconnecting");
                        retried = true;
                        continue;
                    }
                    return Err(e);
                }
            }
        }
    }

    async fn open(&self, address: &str) -> Result<Conn, KafkaError> {
        let tls = match &self.settings.tls {
            Some(tls) => Some(self.tls.get_or_init(|| tls::client_config(tls)).clone()?),
            None => None,
        };
        Conn::open(
            address,
            &self.settings,
            tls,
            self.counts.clone(),
            &self.limits,
        )
        .await
    }

    fn slot(&self, address: &str) -> Slot {
        self.connections
            .lock()
            .entry(address.to_string())
            .or_default()
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::kafka::{SaslCredentials, SaslMechanism};
    use std::time::Duration;

    fn settings(bootstrap: &[&str]) -> KafkaSettings {
        KafkaSettings {
            bootstrap: bootstrap.iter().map(|b| b.to_string()).collect(),
            sasl: Some(SaslCredentials {
                mechanism: SaslMechanism::ScramSha512,
                username: "lag".into(),
                password: "hunter2".into(),
            }),
            tls: None,
            timeout: Duration::from_secs(2),
        }
    }

    #[test]
    fn the_client_is_shareable() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<KafkaClient>();
    }

    #[test]
    fn the_password_never_shows() {
        let client = KafkaClient::new(settings(&["k:9092"]));
        let debug = format!("{client:?}");
        assert!(
            debug.contains("lag") && !debug.contains("hunter2"),
            "{debug}"
        );
    }

    #[tokio::test]
    async fn an_unreachable_cluster_is_named_per_server_without_the_password() {
        // Two ports nothing listens on (bound, then released).
        let free = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .to_string()
        };
        let (a, b) = (free(), free());
        let client = KafkaClient::new(settings(&[&a, &b]));
        let e = client.metadata(None).await.unwrap_err();
        let text = e.to_string();
        assert_eq!(
            text,
            format!(
                "no bootstrap server answered: connecting to broker {a}: connection refused; \
                 connecting to broker {b}: connection refused"
            )
        );
        assert!(!format!("{e:?}").contains("hunter2"));
        // Nothing was sent: no connection was made.
        assert_eq!(client.requests_sent(), 0);
        assert_eq!(client.group_offsets(&[]).await, Ok(BTreeMap::new()));
    }

    /// A server that answers every request with `answer(api key, version)` after a v0 header echoing the
    /// correlation id, and closes the connection after it when `answer` says so; its address.
    async fn fake_broker(answer: fn(i16, i16) -> (Vec<u8>, bool)) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut size = [0u8; 4];
                    while s.read_exact(&mut size).await.is_ok() {
                        let mut req = vec![0u8; u32::from_be_bytes(size) as usize];
                        if s.read_exact(&mut req).await.is_err() {
                            return;
                        }
                        let key = i16::from_be_bytes([req[0], req[1]]);
                        let version = i16::from_be_bytes([req[2], req[3]]);
                        let mut body = req[4..8].to_vec();
                        let (answer, close) = answer(key, version);
                        body.extend(answer);
                        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
                        frame.extend(body);
                        if s.write_all(&frame).await.is_err() || close {
                            return;
                        }
                    }
                });
            }
        });
        address
    }

    fn plain(address: &str) -> KafkaClient {
        let mut s = settings(&[address]);
        s.sasl = None;
        KafkaClient::new(s)
    }

    #[tokio::test]
    async fn a_crafted_answer_is_refused_without_a_panic() {
        // An array of four billion elements it does not send: what would abort a decoder that reserves
        // room first.
        let address = fake_broker(|_, _| (vec![0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f], false)).await;
        let client = plain(&address);
        let e = client.metadata(None).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "broker {address} sent a malformed ApiVersions response: it announces 4294967294 \
                 elements with 0 bytes left"
            )
        );
        assert_eq!(client.requests_by_api()["ApiVersions"], 1);
    }

    /// An ApiVersions answer in v0's layout (error code, INT32 count, key, min, max each): a refusal of v3,
    /// else ApiVersions v0 and `more` (key, max) from v1.
    fn api_versions_v0(version: i16, more: &[(i16, i16)]) -> Vec<u8> {
        let error: i16 = if version == 3 { 35 } else { 0 };
        let mut body = error.to_be_bytes().to_vec();
        body.extend((1 + more.len() as i32).to_be_bytes());
        for (key, min, max) in [(18, 0, 0)]
            .into_iter()
            .chain(more.iter().map(|(k, m)| (*k, 1, *m)))
        {
            for v in [key, min, max] {
                body.extend(v.to_be_bytes());
            }
        }
        body
    }

    #[tokio::test]
    async fn a_broker_that_refuses_api_versions_v3_is_asked_with_v0() {
        let address = fake_broker(|_, version| (api_versions_v0(version, &[]), false)).await;
        let client = plain(&address);
        let e = client.metadata(None).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "broker {address} does not support Metadata v4 to v13 (it offers no version of it)"
            )
        );
        assert_eq!(client.requests_by_api()["ApiVersions"], 2);
        assert_eq!(client.requests_by_api()["Metadata"], 0);
    }

    #[tokio::test]
    async fn a_connection_closed_while_idle_is_reopened_once() {
        // Closes the connection after each Metadata answer (v4: no throttle, no brokers, no cluster id,
        // controller 1, no topics), as a broker closes idle connections.
        let address = fake_broker(|key, version| match key {
            18 => (api_versions_v0(version, &[(3, 4)]), false),
            _ => {
                let mut body = 0i32.to_be_bytes().to_vec();
                body.extend(0i32.to_be_bytes());
                body.extend((-1i16).to_be_bytes());
                body.extend(1i32.to_be_bytes());
                body.extend(0i32.to_be_bytes());
                (body, true)
            }
        })
        .await;
        let client = plain(&address);
        let meta = client.metadata(None).await.unwrap();
        assert_eq!(meta.controller_id, Some(1));
        // The cached connection is dead: the request goes again on a new one.
        assert_eq!(client.metadata(None).await.unwrap(), meta);
        assert_eq!(client.requests_by_api()["Metadata"], 3);
        assert_eq!(client.requests_by_api()["ApiVersions"], 4);
    }

    /// A broker that speaks Fetch up to v12 and answers every Fetch with `records` for "o-0" and
    /// OFFSET_OUT_OF_RANGE for "o-1".
    fn fetch_broker(key: i16, version: i16, records: &[u8]) -> (Vec<u8>, bool) {
        use shape::tests::{Answered, fetch_response};
        if key == 18 {
            return (api_versions_v0(version, &[(1, 12)]), false);
        }
        let p = |partition, error, records| Answered {
            topic: "o",
            id: [0; 16],
            partition,
            error,
            high_watermark: 3,
            log_start_offset: 0,
            records,
        };
        // Header v1: a tagged-field count after the correlation id.
        let mut body = vec![0];
        let out_of_range = kafka_protocol::ResponseError::OffsetOutOfRange.code();
        body.extend(fetch_response(
            version,
            &[p(0, 0, Some(records)), p(1, out_of_range, None)],
        ));
        (body, false)
    }

    fn fetch_meta(address: &str) -> Metadata {
        Metadata {
            brokers: BTreeMap::from([(1, address.to_string())]),
            topics: BTreeMap::from([(
                "o".to_string(),
                TopicMeta {
                    partitions: BTreeMap::from([(0, Some(1)), (1, Some(1)), (2, None)]),
                    ..TopicMeta::default()
                },
            )]),
            ..Metadata::default()
        }
    }

    fn from(ps: &[(i32, i64)]) -> Vec<(Partition, i64)> {
        ps.iter()
            .map(|(p, o)| (("o".to_string(), *p), *o))
            .collect()
    }

    #[tokio::test]
    async fn one_fetch_per_leader_carries_every_partition() {
        let address = fake_broker(|key, version| {
            let records = records::tests::batch(
                &[
                    records::tests::record(0, 1_000, "a", Some("x")),
                    records::tests::record(1, 2_000, "b", Some("y")),
                ],
                kafka_protocol::records::Compression::Snappy,
            );
            fetch_broker(key, version, &records)
        })
        .await;
        let client = plain(&address);
        let out = client
            .fetch(
                &fetch_meta(&address),
                &from(&[(0, 1), (1, 99), (2, 0), (0, 0)]),
                1 << 20,
            )
            .await
            .unwrap();
        assert_eq!(
            client.requests_by_api()["Fetch"],
            1,
            "{:?}",
            client.requests_by_api()
        );
        let o0 = out[&("o".to_string(), 0)].as_ref().unwrap();
        // Fetched from offset 1, the first given for the partition.
        assert_eq!(
            o0.records
                .iter()
                .map(|r| (r.offset, r.timestamp_ms))
                .collect::<Vec<_>>(),
            [(1, 2_000)]
        );
        assert_eq!((o0.high_watermark, o0.next_offset), (3, 2));
        assert_eq!(
            out[&("o".to_string(), 1)].as_ref().unwrap_err().to_string(),
            format!("Fetch of o-1 at broker {address}: OFFSET_OUT_OF_RANGE")
        );
        assert_eq!(
            out[&("o".to_string(), 2)].as_ref().unwrap_err().to_string(),
            "partition o-2 has no leader"
        );
    }

    #[tokio::test]
    async fn a_crafted_fetch_answer_fails_its_partitions_without_a_panic() {
        // A batch announcing two billion records in a few bytes.
        let address = fake_broker(|key, version| {
            let mut records = records::tests::batch(
                &[records::tests::record(0, 1_000, "a", Some("x"))],
                kafka_protocol::records::Compression::None,
            );
            records[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
            records::tests::seal(&mut records);
            fetch_broker(key, version, &records)
        })
        .await;
        let client = plain(&address);
        let out = client
            .fetch(&fetch_meta(&address), &from(&[(0, 0), (1, 0)]), 1 << 20)
            .await
            .unwrap();
        assert_eq!(
            out[&("o".to_string(), 0)].as_ref().unwrap_err().to_string(),
            format!(
                "reading the records of o-0 from broker {address}: the batch at offset 0 holds \
                 2147483647 records, more than the 262144 read at once"
            )
        );
        assert!(out[&("o".to_string(), 1)].is_err());
    }
}
