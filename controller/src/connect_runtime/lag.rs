//! Lag measurement of one endpoint's sink connectors: each interval, a handful of requests to the Kafka
//! cluster for all of them together (metadata, the committed offsets of every group, the log-end offsets
//! of every partition: one request per broker each, never one per connector), a Burrow-style judgement
//! per connector (`crate::progress`), the per-connector metrics, and a reconcile for each connector whose
//! report changed enough for its status.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use kube::runtime::reflector::ObjectRef;
use shared::target::{ClusterId, connector_name};

use super::ConnectClusters;
use super::cluster::{Endpoint, KafkaSource};
use super::reports::{DeadLetters, Report};
use super::snapshot::SinkKeys;
use crate::kafka::{KafkaClient, KafkaError, Metadata, latest_commits};
use crate::progress::{Judgement, PartitionSample, ProgressState, Track};
use crate::restart::{format_time, parse_time};

/// A report's figures reach status at most this often unless its state changes (status writes are not
/// free, and the metrics carry the figures every interval).
const STATUS_REFRESH: Duration = Duration::from_secs(60);
/// Dead letters per minute are counted over this span.
const MINUTE: SignedDuration = SignedDuration::from_secs(60);

/// One connector between measurements.
#[derive(Default)]
struct Tracked {
    track: Track,
    group: String,
    dead_letters: Option<DeadLetterCount>,
}

struct DeadLetterCount {
    topic: String,
    start_offset: i64,
    since: Timestamp,
    /// (time, total end offset) over the last minute and a bit.
    recent: VecDeque<(Timestamp, i64)>,
}

/// Bytes read per partition of the offsets topic per request, and requests per measurement: a large topic
/// is caught up over a few intervals rather than in one burst.
const SOURCE_FETCH_BYTES: i32 = 1 << 20;
const SOURCE_FETCH_ROUNDS: usize = 4;

/// One cluster's reading of its workers' offsets topic: how far each partition is read, and when each
/// connector last committed a source offset (ms since the epoch).
#[derive(Default)]
struct SourceCommits {
    topic: String,
    next: BTreeMap<i32, i64>,
    /// Every partition was read to its end once: a connector with no commit by then has none in the topic.
    caught_up: bool,
    last: HashMap<String, i64>,
}

/// The source connectors one cluster object measures, and where their commits are read.
struct Sources<'a> {
    names: Vec<&'a str>,
    topic: &'a str,
    commits: &'a mut SourceCommits,
}

/// Reads what was added to the offsets topic since the last measurement: one Fetch per leader (a few
/// while catching up), never one request per connector.
async fn read_source_commits(
    client: &KafkaClient,
    meta: &Metadata,
    state: &mut SourceCommits,
    topic: &str,
) -> Result<(), String> {
    if state.topic != topic {
        *state = SourceCommits {
            topic: topic.to_string(),
            ..SourceCommits::default()
        };
    }
    let t = meta.topics.get(topic).ok_or_else(|| {
        format!(
            "the offsets topic {topic} does not exist; set spec.kafka.offsetsTopic to the workers' offset.storage.topic"
        )
    })?;
    if let Some(e) = &t.error {
        return Err(format!("the offsets topic {topic}: {e}"));
    }
    let missing: Vec<(String, i32)> = (t.partitions.keys())
        .filter(|p| !state.next.contains_key(p))
        .map(|p| (topic.to_string(), *p))
        .collect();
    if !missing.is_empty() {
        let starts = (client.start_offsets(meta, &missing).await).map_err(|e| e.to_string())?;
        for ((_, p), start) in starts {
            if let Ok(o) = start {
                state.next.insert(p, o);
            }
        }
    }
    for _ in 0..SOURCE_FETCH_ROUNDS {
        let from: Vec<((String, i32), i64)> = (state.next.iter())
            .map(|(p, o)| ((topic.to_string(), *p), *o))
            .collect();
        let fetched =
            (client.fetch(meta, &from, SOURCE_FETCH_BYTES).await).map_err(|e| e.to_string())?;
        let mut behind = false;
        for ((_, p), f) in fetched {
            match f {
                Ok(f) => {
                    for (name, at) in latest_commits(&f.records) {
                        let e = state.last.entry(name).or_insert(at);
                        *e = (*e).max(at);
                    }
                    behind |= f.next_offset < f.high_watermark;
                    state.next.insert(p, f.next_offset);
                }
                // Compacted or deleted below where we were: read again from its start next time.
                Err(KafkaError::Answer {
                    code: kafka_protocol::ResponseError::OffsetOutOfRange,
                    ..
                }) => {
                    state.next.remove(&p);
                    behind = true;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        if !behind {
            state.caught_up = true;
            break;
        }
    }
    Ok(())
}

/// The report of source connector `name`: when it last committed, `Idle` after a window without a commit
/// (normal for a source with nothing to read, so not an alarm). Pure.
fn source_report(
    name: &str,
    commits: Result<&SourceCommits, &str>,
    now: Timestamp,
    window: Duration,
) -> Report {
    let commits = match commits {
        Ok(c) => c,
        Err(why) => return Report::unknown(format!("source offsets unknown: {why}")),
    };
    let Some(at) = commits
        .last
        .get(name)
        .and_then(|ms| Timestamp::from_millisecond(*ms).ok())
    else {
        let why = if commits.caught_up {
            format!(
                "no source offset of this connector in the offsets topic {}",
                commits.topic
            )
        } else {
            format!(
                "reading the offsets topic {} (not caught up yet)",
                commits.topic
            )
        };
        return Report::unknown(why);
    };
    let quiet = now.duration_since(at);
    let idle = Duration::try_from(quiet).is_ok_and(|q| q >= window);
    Report {
        state: Some(if idle {
            ProgressState::Idle
        } else {
            ProgressState::Ok
        }),
        lag: None,
        since: None,
        last_commit: Some(at),
        // A time, not an age: the message stays the same until the next commit, so status is not rewritten.
        message: if idle {
            format!(
                "last source offset committed at {}; none since, for more than the {} window (idle)",
                format_time(at),
                crate::progress::human(SignedDuration::try_from(window).unwrap_or_default())
            )
        } else {
            format!("last source offset committed at {}", format_time(at))
        },
        dead_letters: None,
    }
}

/// Measures lag for the endpoint until it is dropped or no cluster uses it. Each KafkaConnectCluster's
/// connectors are measured with its own `spec.kafka` (clusters with the same settings together), so a
/// cluster's credentials never serve another's connectors and its `KafkaReachable` condition is its own.
pub(super) async fn run(weak: Weak<Endpoint>, all: Arc<ConnectClusters>) {
    let mut tracked: HashMap<String, Tracked> = HashMap::new();
    let mut shown: HashMap<String, (Arc<Report>, Instant)> = HashMap::new();
    let mut source_commits: HashMap<ClusterId, SourceCommits> = HashMap::new();
    loop {
        let Some(e) = weak.upgrade() else { return };
        let began = Instant::now();
        let mut members = all.members(&e);
        if members.is_empty() {
            return;
        }
        members.sort_by(|a, b| a.id.cmp(&b.id));
        let snapshot = e.snapshot();
        if let Ok(polled) = &snapshot.connectors {
            let now = Timestamp::now();
            let mut reports = HashMap::new();
            for c in &members {
                let names: BTreeSet<String> = all
                    .wiring
                    .watched
                    .connectors
                    .state()
                    .iter()
                    .filter(|k| c.id.is_target_of(k))
                    .map(|k| connector_name(k).to_string())
                    .collect();
                let sinks: BTreeMap<&str, (&Arc<SinkKeys>, Option<&str>)> = polled
                    .iter()
                    .filter(|(name, _)| names.contains(*name))
                    .filter_map(|(name, p)| {
                        let state = p.status.as_ref().map(|s| s.connector.state.as_str());
                        p.sink.as_ref().map(|k| (name.as_str(), (k, state)))
                    })
                    .collect();
                let source_names: Vec<&str> = polled
                    .iter()
                    .filter(|(name, p)| {
                        names.contains(*name)
                            && (p.status.as_ref()).and_then(|s| s.kind.as_deref()) == Some("source")
                    })
                    .map(|(name, _)| name.as_str())
                    .collect();
                let topic = (all.wiring.watched.cluster(&c.id))
                    .and_then(|k| k.spec.kafka.as_ref().map(|k| k.offsets_topic().to_string()))
                    .unwrap_or_default();
                let commits = source_commits.entry(c.id.clone()).or_default();
                let mut sources = Sources {
                    names: source_names,
                    topic: &topic,
                    commits,
                };
                let health = match c.kafka() {
                    KafkaSource::NotConfigured => {
                        let why = format!(
                            "lag is not measured: KafkaConnectCluster {} has no spec.kafka",
                            c.label
                        );
                        reports.extend(all_unknown(&sinks, &why));
                        all.wiring.metrics.forget_kafka(&c.label);
                        None
                    }
                    KafkaSource::Unresolved(why) => {
                        reports.extend(all_unknown(&sinks, &format!("lag is not measured: {why}")));
                        Some(Err(why))
                    }
                    KafkaSource::Client(client) => {
                        let before = client.requests_sent();
                        let cycle = Instant::now();
                        let result =
                            measure(&client, &sinks, &mut sources, &mut tracked, &all, now).await;
                        let sent = client.requests_sent().saturating_sub(before);
                        all.wiring.metrics.lag_measured(
                            &c.label,
                            result.is_ok(),
                            sent,
                            cycle.elapsed(),
                        );
                        match result {
                            Ok(r) => {
                                reports.extend(r);
                                Some(Ok(()))
                            }
                            Err(err) => {
                                let why = format!("Kafka cluster of {}: {err}", c.label);
                                if c.kafka_health() != Some(Err(why.clone())) {
                                    tracing::warn!(cluster = %c.label, error = %err, "measuring lag");
                                }
                                // Unknown, never 0: the judgement windows wait for the next answer.
                                reports.extend(all_unknown(&sinks, &format!("lag unknown: {why}")));
                                Some(Err(why))
                            }
                        }
                    }
                };
                c.set_kafka_health(health);
            }
            // Connectors measured no more (deleted, or no longer sinks) start afresh if they come back.
            tracked.retain(|name, _| reports.contains_key(name));
            source_commits.retain(|id, _| members.iter().any(|c| c.id == *id));
            publish(&all, &members, reports, &mut shown);
        }
        drop((e, members, snapshot));
        tokio::time::sleep(all.wiring.lag_interval.saturating_sub(began.elapsed())).await;
    }
}

fn all_unknown(
    sinks: &BTreeMap<&str, (&Arc<SinkKeys>, Option<&str>)>,
    why: &str,
) -> HashMap<String, Report> {
    sinks
        .keys()
        .map(|n| (n.to_string(), Report::unknown(why.to_string())))
        .collect()
}

/// Makes the new reports visible, updates the metrics of every connector on the endpoint's clusters, and
/// asks for the reconcile of each connector whose status must change (or of a cluster whose Kafka health
/// changed).
fn publish(
    all: &ConnectClusters,
    members: &[Arc<super::ConnectCluster>],
    reports: HashMap<String, Report>,
    shown: &mut HashMap<String, (Arc<Report>, Instant)>,
) {
    let w = &all.wiring;
    let reports: HashMap<String, Arc<Report>> =
        reports.into_iter().map(|(k, v)| (k, Arc::new(v))).collect();
    let now = Instant::now();
    let mut due: BTreeSet<&str> = BTreeSet::new();
    for (name, r) in &reports {
        let show = match shown.get(name) {
            None => true,
            Some((was, at)) => {
                r.differs_in_kind(was)
                    || (**was != **r && now.duration_since(*at) >= STATUS_REFRESH)
            }
        };
        if show {
            shown.insert(name.clone(), (r.clone(), now));
            due.insert(name);
        }
    }
    shown.retain(|name, _| reports.contains_key(name));
    if let Some(c) = members.first() {
        // The endpoint's: every member sees the same reports.
        *c.lag.reports.write() = Some(reports.clone());
    }
    for c in members {
        if c.take_kafka_health_changed() {
            w.watched.reconcile_cluster(&c.id);
        }
    }
    for k in w.watched.connectors.state() {
        if !members.iter().any(|c| c.id.is_target_of(&k)) {
            continue;
        }
        let name = connector_name(&k);
        let key = (
            k.metadata.namespace.clone().unwrap_or_default(),
            k.metadata.name.clone().unwrap_or_default(),
        );
        let report = reports.get(name);
        w.metrics
            .connectors
            .set_progress(&key, report.map(|r| r.figures()));
        if due.contains(name) {
            w.watched.reconcile_connector(ObjectRef::from_obj(&*k));
        }
    }
}

/// One measurement with `client`: the reports of all `sinks`.
async fn measure(
    client: &KafkaClient,
    sinks: &BTreeMap<&str, (&Arc<SinkKeys>, Option<&str>)>,
    sources: &mut Sources<'_>,
    tracked: &mut HashMap<String, Tracked>,
    all: &ConnectClusters,
    now: Timestamp,
) -> Result<HashMap<String, Report>, KafkaError> {
    let mut out = HashMap::new();
    if sinks.is_empty() && sources.names.is_empty() {
        return Ok(out);
    }
    let meta = client.metadata(None).await?;
    if !sources.names.is_empty() {
        let read = read_source_commits(client, &meta, sources.commits, sources.topic).await;
        if let Err(why) = &read {
            tracing::debug!(topic = sources.topic, error = %why, "reading source offsets");
        }
        for name in &sources.names {
            let commits = read
                .as_ref()
                .map(|()| &*sources.commits)
                .map_err(String::as_str);
            let r = source_report(name, commits, now, all.wiring.progress_window);
            out.insert(name.to_string(), r);
        }
    }
    if sinks.is_empty() {
        return Ok(out);
    }
    let groups: Vec<String> = sinks
        .values()
        .map(|(k, _)| k.group.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let offsets = client.group_offsets(&groups).await?;
    let partitions: Vec<(String, i32)> = sinks
        .values()
        .flat_map(|(keys, _)| {
            let committed = offsets.get(&keys.group).and_then(|r| r.as_ref().ok());
            wanted_partitions(keys, committed, &meta)
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let ends = client.end_offsets(&meta, &partitions).await?;
    let ends: BTreeMap<(String, i32), i64> = ends
        .into_iter()
        .filter_map(|(k, v)| v.ok().map(|v| (k, v)))
        .collect();

    for (name, (keys, state)) in sinks {
        let t = tracked.entry(name.to_string()).or_default();
        if t.group != keys.group {
            // A new group (renamed, or consumer.override.group.id changed): a new history.
            *t = Tracked {
                group: keys.group.clone(),
                ..Tracked::default()
            };
        }
        let dead_letters = keys.dead_letter_topic.as_ref().and_then(|topic| {
            let total = topic_end(&meta, &ends, topic)?;
            // Where counting began is read from status once, when this process starts counting.
            let start = t
                .dead_letters
                .is_none()
                .then(|| start_offset(all, name))
                .flatten();
            Some(count_dead_letters(
                &mut t.dead_letters,
                topic,
                total,
                start,
                now,
            ))
        });
        if keys.dead_letter_topic.is_none() {
            t.dead_letters = None;
        }
        let committed = match offsets.get(&keys.group) {
            Some(Ok(c)) => c,
            Some(Err(err)) => {
                let mut r = Report::unknown(format!(
                    "lag unknown: reading the committed offsets of consumer group {}: {err}",
                    keys.group
                ));
                r.dead_letters = dead_letters;
                out.insert(name.to_string(), r);
                continue;
            }
            None => &BTreeMap::new(),
        };
        let samples = samples(keys, committed, &meta, &ends);
        let mut report = match judge_one(
            &mut t.track,
            keys,
            &samples,
            *state,
            now,
            all.wiring.progress_window,
        ) {
            Ok(j) => Report {
                state: Some(j.state),
                lag: Some(j.lag),
                since: Some(j.since),
                last_commit: j.last_commit,
                message: j.message,
                dead_letters: None,
            },
            Err(u) => u.into(),
        };
        report.dead_letters = dead_letters;
        out.insert(name.to_string(), report);
    }
    Ok(out)
}

/// Why a connector is not judged, and its lag when known.
#[derive(Debug)]
struct Unjudged {
    message: String,
    lag: Option<i64>,
}

impl From<Unjudged> for Report {
    fn from(u: Unjudged) -> Report {
        Report {
            lag: u.lag,
            ..Report::unknown(u.message)
        }
    }
}

/// The judgement of one connector, or why it is not judged.
fn judge_one(
    track: &mut Track,
    keys: &SinkKeys,
    samples: &[PartitionSample],
    state: Option<&str>,
    now: Timestamp,
    window: Duration,
) -> Result<Judgement, Unjudged> {
    if samples.is_empty() {
        *track = Track::default();
        let what = match (&keys.topics_regex, keys.topics.as_slice()) {
            (Some(re), _) => format!("no topic matches topics.regex {re:?}"),
            (None, []) => "the connector names no topics".to_string(),
            (None, t) => format!(
                "topic(s) {} have no partitions (do they exist?)",
                t.join(", ")
            ),
        };
        return Err(Unjudged {
            message: format!("lag not measured: {what}"),
            lag: None,
        });
    }
    if state != Some("RUNNING") {
        *track = Track::default();
        return Err(Unjudged {
            message: format!(
                "progress is not judged while the connector is {}",
                state.unwrap_or("not reported")
            ),
            lag: samples
                .iter()
                .filter_map(PartitionSample::lag)
                .reduce(|a, b| a + b),
        });
    }
    track.observe(now, samples, window).ok_or_else(|| Unjudged {
        message: format!("consumer group {} has committed no offsets yet", keys.group),
        lag: None,
    })
}

/// The partitions a sink's lag is measured on: those its group committed offsets for, and every partition
/// of its topics (named, or matching its regex). Pure.
fn wanted_partitions(
    keys: &SinkKeys,
    committed: Option<&BTreeMap<(String, i32), i64>>,
    meta: &Metadata,
) -> BTreeSet<(String, i32)> {
    let mut out: BTreeSet<(String, i32)> = committed
        .map(|c| c.keys().cloned().collect())
        .unwrap_or_default();
    let regex = keys
        .topics_regex
        .as_deref()
        .and_then(|r| regex::Regex::new(&format!("^(?:{r})$")).ok());
    for (topic, t) in &meta.topics {
        let named = keys.topics.iter().any(|n| n == topic);
        let matched = regex.as_ref().is_some_and(|re| re.is_match(topic));
        if named || matched {
            out.extend(t.partitions.keys().map(|p| (topic.clone(), *p)));
        }
    }
    if let Some(dlq) = &keys.dead_letter_topic
        && let Some(t) = meta.topics.get(dlq)
    {
        out.extend(t.partitions.keys().map(|p| (dlq.clone(), *p)));
    }
    out
}

/// One sample of a sink: each partition it consumes with a known log end. Pure.
fn samples(
    keys: &SinkKeys,
    committed: &BTreeMap<(String, i32), i64>,
    meta: &Metadata,
    ends: &BTreeMap<(String, i32), i64>,
) -> Vec<PartitionSample> {
    let mut consumed = wanted_partitions(keys, Some(committed), meta);
    if let Some(dlq) = &keys.dead_letter_topic
        && !keys.topics.contains(dlq)
        && !committed.keys().any(|(t, _)| t == dlq)
    {
        consumed.retain(|(t, _)| t != dlq);
    }
    consumed
        .into_iter()
        .filter_map(|tp| {
            let end = *ends.get(&tp)?;
            Some(PartitionSample {
                committed: committed.get(&tp).copied(),
                topic: tp.0,
                partition: tp.1,
                end,
            })
        })
        .collect()
}

/// The total log-end offset of `topic` (`None` when it does not exist or a partition's end is unknown).
fn topic_end(meta: &Metadata, ends: &BTreeMap<(String, i32), i64>, topic: &str) -> Option<i64> {
    let t = meta.topics.get(topic)?;
    t.partitions
        .keys()
        .map(|p| ends.get(&(topic.to_string(), *p)).copied())
        .sum()
}

/// Where dead letter counting of connector `name` began, from its status (so a restarted controller counts
/// on from there).
fn start_offset(all: &ConnectClusters, name: &str) -> Option<(i64, Timestamp, String)> {
    all.wiring.watched.connectors.state().iter().find_map(|k| {
        if connector_name(k) != name {
            return None;
        }
        let d = k
            .status
            .as_ref()?
            .progress
            .as_ref()?
            .dead_letters
            .as_ref()?;
        let since = parse_time(&d.since)?;
        Some((d.start_offset, since, d.topic.clone()))
    })
}

/// Counts dead letters: records added to the topic since counting began, and in the last minute. Pure
/// but for `state`.
fn count_dead_letters(
    state: &mut Option<DeadLetterCount>,
    topic: &str,
    total: i64,
    recorded: Option<(i64, Timestamp, String)>,
    now: Timestamp,
) -> DeadLetters {
    let c = match state {
        Some(c) if c.topic == topic && total >= c.start_offset => c,
        _ => {
            let (start_offset, since) = match recorded {
                Some((start, since, t)) if t == topic && start <= total => (start, since),
                _ => (total, now),
            };
            state.insert(DeadLetterCount {
                topic: topic.to_string(),
                start_offset,
                since,
                recent: VecDeque::new(),
            })
        }
    };
    c.recent.push_back((now, total));
    while c.recent.len() > 2 && now.duration_since(c.recent[1].0) >= MINUTE {
        c.recent.pop_front();
    }
    let minute_ago = c.recent.front().map_or(total, |(_, v)| *v);
    DeadLetters {
        topic: topic.to_string(),
        records: total - c.start_offset,
        per_minute: total - minute_ago,
        since: c.since,
        start_offset: c.start_offset,
    }
}

#[cfg(test)]
mod tests;
