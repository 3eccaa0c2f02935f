use super::*;
use crate::kafka::TopicMeta;

fn meta(topics: &[(&str, i32)]) -> Metadata {
    let mut m = Metadata::default();
    for (t, n) in topics {
        m.topics.insert(
            t.to_string(),
            TopicMeta {
                partitions: (0..*n).map(|p| (p, Some(1))).collect(),
                ..TopicMeta::default()
            },
        );
    }
    m
}

fn keys(topics: &[&str], regex: Option<&str>, dlq: Option<&str>) -> SinkKeys {
    SinkKeys {
        group: "connect-s".into(),
        topics: topics.iter().map(|t| t.to_string()).collect(),
        topics_regex: regex.map(str::to_string),
        dead_letter_topic: dlq.map(str::to_string),
    }
}

fn tp(t: &str, p: i32) -> (String, i32) {
    (t.to_string(), p)
}

#[test]
fn a_sink_is_measured_on_its_topics_its_regex_and_what_its_group_committed() {
    let m = meta(&[("orders", 2), ("orders-eu", 1), ("payments", 1), ("dlq", 1)]);
    let committed = BTreeMap::from([(tp("old-topic", 0), 5)]);
    let k = keys(&["payments"], Some("orders.*"), Some("dlq"));
    let wanted = wanted_partitions(&k, Some(&committed), &m);
    assert_eq!(
        wanted.into_iter().collect::<Vec<_>>(),
        vec![
            tp("dlq", 0),
            tp("old-topic", 0),
            tp("orders", 0),
            tp("orders", 1),
            tp("orders-eu", 0),
            tp("payments", 0)
        ]
    );
    // The dead letter topic is measured for its end, not counted as consumed.
    let ends: BTreeMap<_, _> = [
        (tp("dlq", 0), 3),
        (tp("old-topic", 0), 9),
        (tp("orders", 0), 10),
        (tp("orders", 1), 0),
        (tp("orders-eu", 0), 1),
    ]
    .into_iter()
    .collect();
    let s = samples(&k, &committed, &m, &ends);
    assert_eq!(
        s.iter()
            .map(|p| (p.topic.as_str(), p.partition, p.committed, p.end))
            .collect::<Vec<_>>(),
        vec![
            ("old-topic", 0, Some(5), 9),
            ("orders", 0, None, 10),
            ("orders", 1, None, 0),
            ("orders-eu", 0, None, 1)
        ]
    );
    assert_eq!(topic_end(&m, &ends, "dlq"), Some(3));
    assert_eq!(topic_end(&m, &ends, "payments"), None);
    assert_eq!(topic_end(&m, &ends, "nope"), None);
}

#[test]
fn what_is_not_judged_says_why() {
    let now = Timestamp::from_second(1_700_000_000).unwrap();
    let w = Duration::from_secs(600);
    let mut t = Track::default();
    let r = judge_one(
        &mut t,
        &keys(&["gone"], None, None),
        &[],
        Some("RUNNING"),
        now,
        w,
    )
    .unwrap_err();
    assert_eq!(
        r.message,
        "lag not measured: topic(s) gone have no partitions (do they exist?)"
    );
    let r = judge_one(
        &mut t,
        &keys(&[], Some("x.*"), None),
        &[],
        Some("RUNNING"),
        now,
        w,
    )
    .unwrap_err();
    assert_eq!(
        r.message,
        "lag not measured: no topic matches topics.regex \"x.*\""
    );
    let s = [PartitionSample {
        topic: "t".into(),
        partition: 0,
        committed: None,
        end: 4,
    }];
    let r = judge_one(
        &mut t,
        &keys(&["t"], None, None),
        &s,
        Some("RUNNING"),
        now,
        w,
    )
    .unwrap_err();
    assert_eq!(
        (r.message.as_str(), r.lag),
        (
            "consumer group connect-s has committed no offsets yet",
            None
        )
    );
    let s = [PartitionSample {
        topic: "t".into(),
        partition: 0,
        committed: Some(1),
        end: 4,
    }];
    let r = judge_one(
        &mut t,
        &keys(&["t"], None, None),
        &s,
        Some("PAUSED"),
        now,
        w,
    )
    .unwrap_err();
    assert_eq!(
        (r.message.as_str(), r.lag),
        (
            "progress is not judged while the connector is PAUSED",
            Some(3)
        )
    );
    let j = judge_one(
        &mut t,
        &keys(&["t"], None, None),
        &s,
        Some("RUNNING"),
        now,
        w,
    )
    .unwrap();
    assert_eq!((j.state, j.lag), (ProgressState::Ok, 3));
}

#[test]
fn dead_letters_count_from_where_counting_began_and_per_minute() {
    let t0 = Timestamp::from_second(1_700_000_000).unwrap();
    let at = |s: i64| t0 + SignedDuration::from_secs(s);
    let mut state = None;
    let d = count_dead_letters(&mut state, "dlq", 100, None, at(0));
    assert_eq!(
        (d.records, d.per_minute, d.start_offset, d.since),
        (0, 0, 100, at(0))
    );
    count_dead_letters(&mut state, "dlq", 104, None, at(30));
    let d = count_dead_letters(&mut state, "dlq", 110, None, at(60));
    assert_eq!((d.records, d.per_minute), (10, 10));
    let d = count_dead_letters(&mut state, "dlq", 110, None, at(150));
    assert_eq!((d.records, d.per_minute), (10, 0));
    // A restarted controller counts on from the start its status recorded.
    let mut fresh = None;
    let d = count_dead_letters(
        &mut fresh,
        "dlq",
        110,
        Some((100, at(0), "dlq".into())),
        at(200),
    );
    assert_eq!((d.records, d.since), (10, at(0)));
    // Another topic (or a recreated one, smaller than the start) starts afresh.
    let d = count_dead_letters(
        &mut fresh,
        "dlq-2",
        7,
        Some((100, at(0), "dlq".into())),
        at(210),
    );
    assert_eq!((d.records, d.start_offset, d.since), (0, 7, at(210)));
}

#[test]
fn a_source_reports_its_last_commit_and_goes_idle_after_a_window_without_one() {
    let t0 = Timestamp::from_second(1_700_000_000).unwrap();
    let w = Duration::from_secs(600);
    let mut c = SourceCommits {
        topic: "connect-offsets".into(),
        caught_up: false,
        ..SourceCommits::default()
    };
    let r = source_report("jdbc", Ok(&c), t0, w);
    assert_eq!(
        (r.state, r.message.as_str()),
        (
            None,
            "reading the offsets topic connect-offsets (not caught up yet)"
        )
    );
    c.caught_up = true;
    let r = source_report("jdbc", Ok(&c), t0, w);
    assert_eq!(
        r.message,
        "no source offset of this connector in the offsets topic connect-offsets"
    );
    c.last.insert("jdbc".into(), t0.as_millisecond());
    let r = source_report("jdbc", Ok(&c), t0 + SignedDuration::from_secs(90), w);
    assert_eq!(
        (r.state, r.last_commit, r.message.as_str()),
        (
            Some(ProgressState::Ok),
            Some(t0),
            "last source offset committed at 2023-11-14T22:13:20Z"
        )
    );
    let r = source_report("jdbc", Ok(&c), t0 + SignedDuration::from_secs(700), w);
    assert_eq!(
        (r.state, r.message.as_str()),
        (
            Some(ProgressState::Idle),
            "last source offset committed at 2023-11-14T22:13:20Z; none since, for more than the 10m window (idle)"
        )
    );
    let r = source_report("jdbc", Err("the offsets topic x does not exist"), t0, w);
    assert_eq!(
        r.message,
        "source offsets unknown: the offsets topic x does not exist"
    );
}

#[test]
fn status_changes_at_once_only_when_the_report_changes_in_kind() {
    let r = |state, lag, msg: &str| Report {
        state,
        lag,
        since: None,
        last_commit: None,
        message: msg.into(),
        dead_letters: None,
    };
    let ok = r(
        Some(ProgressState::Ok),
        Some(5),
        "lag 5 records, not growing",
    );
    assert!(
        !r(
            Some(ProgressState::Ok),
            Some(9),
            "lag 9 records, not growing"
        )
        .differs_in_kind(&ok)
    );
    assert!(r(Some(ProgressState::Stalled), Some(9), "x").differs_in_kind(&ok));
    // A sink with steady traffic goes between lag 0 and a little every interval: not a change in kind.
    assert!(!r(Some(ProgressState::Ok), Some(0), "caught up: lag 0 records").differs_in_kind(&ok));
    assert!(r(None, None, "lag unknown: a").differs_in_kind(&r(None, None, "lag unknown: b")));
}
