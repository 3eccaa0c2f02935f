//! Progress of a sink connector, pure: is its consumer group keeping up? Judged the way LinkedIn's Burrow
//! judges consumer groups, over a sliding window of samples (committed offset and log-end offset per
//! partition), never from one sample:
//!
//! - **OK**: a partition whose lag was 0 at some point in the window is fine; so is a group whose lag is
//!   not growing.
//! - **Stalled**: a partition with lag whose committed offset has not moved for the whole window (Burrow's
//!   "offsets do not change while lag is non-zero").
//! - **Stopped**: the same for twice the window (Burrow's "the last commit is older than the window's
//!   span": Connect commits nothing when nothing moved, so silence outlasting a whole window of it is a
//!   consumer that stopped, not one that paused).
//! - **Lagging**: offsets move, but the group's lag grew at every sample across a full window (Burrow's
//!   warning).
//!
//! The worst partition decides, in that order: Stopped, Stalled, then Lagging for the group. Memory is a
//! few dozen bytes per partition plus one lag figure per sample in the window.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// What the judgement says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProgressState {
    Ok,
    /// A source connector that committed no offset for the window: normal when it has nothing to read, so
    /// said, never alarmed on. Never a sink's judgement.
    Idle,
    Lagging,
    Stalled,
    Stopped,
}

impl ProgressState {
    pub const ALL: [ProgressState; 5] = [
        ProgressState::Ok,
        ProgressState::Idle,
        ProgressState::Lagging,
        ProgressState::Stalled,
        ProgressState::Stopped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProgressState::Ok => "OK",
            ProgressState::Idle => "Idle",
            ProgressState::Lagging => "Lagging",
            ProgressState::Stalled => "Stalled",
            ProgressState::Stopped => "Stopped",
        }
    }
}

impl fmt::Display for ProgressState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One partition in one sample: the group's committed offset (`None`: nothing committed yet) and the
/// partition's log-end offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionSample {
    pub topic: String,
    pub partition: i32,
    pub committed: Option<i64>,
    pub end: i64,
}

impl PartitionSample {
    /// Records behind the log end; `None` without a committed offset. Never negative: after a topic is
    /// recreated, an old committed offset can lie beyond the new log end.
    pub fn lag(&self) -> Option<i64> {
        self.committed.map(|c| (self.end - c).max(0))
    }
}

/// A judgement at one sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub state: ProgressState,
    /// Records behind, over the partitions with a committed offset.
    pub lag: i64,
    /// When `state` began (as far as this process has seen).
    pub since: Timestamp,
    /// When the committed offsets last moved (any partition).
    pub last_commit: Option<Timestamp>,
    pub message: String,
}

/// What is remembered of one partition between samples.
#[derive(Debug, Clone, Copy)]
struct PartitionTrack {
    committed: i64,
    /// When `committed` last changed, or when it was first seen.
    moved_at: Timestamp,
    /// Whether `moved_at` is a change seen, not just the first sight.
    moved_seen: bool,
    /// Last sample whose lag was 0.
    zero_at: Option<Timestamp>,
    lag: i64,
}

/// The window of one connector's group, sample after sample.
#[derive(Debug, Clone, Default)]
pub struct Track {
    partitions: BTreeMap<(String, i32), PartitionTrack>,
    /// (time, total lag) of the samples within the window, plus the one just before it.
    lags: VecDeque<(Timestamp, i64)>,
    last: Option<(ProgressState, Timestamp)>,
    last_commit: Option<Timestamp>,
}

/// The partitions named in a message, at most this many.
const NAMED_PARTITIONS: usize = 3;

impl Track {
    /// Takes one sample (`at` later than the previous one) and judges the group over `window`. `None` when
    /// no partition has a committed offset yet: nothing to judge.
    pub fn observe(
        &mut self,
        at: Timestamp,
        sample: &[PartitionSample],
        window: Duration,
    ) -> Option<Judgement> {
        let window = SignedDuration::try_from(window).unwrap_or(SignedDuration::MAX);
        let mut seen = BTreeMap::new();
        for p in sample {
            let (Some(committed), Some(lag)) = (p.committed, p.lag()) else {
                continue;
            };
            let key = (p.topic.clone(), p.partition);
            let t = match self.partitions.remove(&key) {
                Some(mut t) => {
                    if t.committed != committed {
                        t.committed = committed;
                        t.moved_at = at;
                        t.moved_seen = true;
                        self.last_commit = Some(at);
                    }
                    t.lag = lag;
                    t
                }
                None => PartitionTrack {
                    committed,
                    moved_at: at,
                    moved_seen: false,
                    zero_at: None,
                    lag,
                },
            };
            let t = PartitionTrack {
                zero_at: if lag == 0 { Some(at) } else { t.zero_at },
                ..t
            };
            seen.insert(key, t);
        }
        // Partitions no longer in the sample (a topic deleted, a regex that no longer matches) are forgotten.
        self.partitions = seen;
        if self.partitions.is_empty() {
            self.lags.clear();
            self.last = None;
            return None;
        }
        let lag: i64 = self.partitions.values().map(|t| t.lag).sum();
        self.lags.push_back((at, lag));
        while self.lags.len() > 2 && at.duration_since(self.lags[1].0) >= window {
            self.lags.pop_front();
        }

        let (state, message) = self.judge(at, window, lag);
        let since = match self.last {
            Some((s, since)) if s == state => since,
            _ => at,
        };
        self.last = Some((state, since));
        Some(Judgement {
            state,
            lag,
            since,
            last_commit: self.last_commit,
            message,
        })
    }

    fn judge(&self, at: Timestamp, window: SignedDuration, lag: i64) -> (ProgressState, String) {
        // Partitions with lag whose offset has not moved for a whole window and whose lag was not 0 in it.
        // A partition waits from when its offset last moved or its lag was last 0, whichever is later: a
        // caught-up partition commits nothing and is not stuck.
        let waited = |t: &PartitionTrack| {
            at.duration_since(t.zero_at.map_or(t.moved_at, |z| z.max(t.moved_at)))
        };
        let mut stuck: Vec<(&(String, i32), &PartitionTrack, bool)> = self
            .partitions
            .iter()
            .filter(|(_, t)| t.lag > 0 && waited(t) >= window)
            .map(|(k, t)| (k, t, waited(t) >= window.saturating_mul(2)))
            .collect();
        if !stuck.is_empty() {
            let stopped = stuck.iter().any(|(_, _, s)| *s);
            if stopped {
                stuck.retain(|(_, _, s)| *s);
            }
            let longest = stuck
                .iter()
                .map(|(_, t, _)| waited(t))
                .max()
                .unwrap_or_default();
            let waiting: i64 = stuck.iter().map(|(_, t, _)| t.lag).sum();
            let names: Vec<String> = stuck
                .iter()
                .take(NAMED_PARTITIONS)
                .map(|((topic, p), _, _)| format!("{topic}-{p}"))
                .collect();
            let more = stuck.len().saturating_sub(NAMED_PARTITIONS);
            let list = if more > 0 {
                format!("{} and {more} more", names.join(", "))
            } else {
                names.join(", ")
            };
            let first_seen = if stuck.iter().all(|(_, t, _)| t.moved_seen) {
                ""
            } else {
                " (since it was first seen)"
            };
            let message = format!(
                "the committed offset of {} of {} partitions ({list}) has not moved for {}{first_seen} while {waiting} records wait",
                stuck.len(),
                self.partitions.len(),
                human(longest),
            );
            let state = if stopped {
                ProgressState::Stopped
            } else {
                ProgressState::Stalled
            };
            return (state, message);
        }
        if let Some(grew) = self.grew_across(at, window) {
            let message = format!(
                "lag grew at every sample over the last {}, from {} to {lag} records, while offsets were committed",
                human(window),
                grew,
            );
            return (ProgressState::Lagging, message);
        }
        let message = if lag == 0 {
            "caught up: lag 0 records".to_string()
        } else {
            format!("lag {lag} records, not growing")
        };
        (ProgressState::Ok, message)
    }

    /// The lag at the start of the window when it grew at every sample across a full window (never 0 in
    /// it), else `None`.
    fn grew_across(&self, at: Timestamp, window: SignedDuration) -> Option<i64> {
        let (first_at, first) = *self.lags.front()?;
        if at.duration_since(first_at) < window || self.lags.len() < 3 {
            return None;
        }
        let growing = self
            .lags
            .iter()
            .zip(self.lags.iter().skip(1))
            .all(|((_, a), (_, b))| *a > 0 && b > a);
        growing.then_some(first)
    }
}

/// `90s` → `1m30s`; whole seconds.
pub fn human(d: SignedDuration) -> String {
    let s = d.as_secs().max(0);
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, _) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_secs(600);

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn p(topic: &str, partition: i32, committed: i64, end: i64) -> PartitionSample {
        PartitionSample {
            topic: topic.into(),
            partition,
            committed: Some(committed),
            end,
        }
    }

    /// Feeds one partition's (committed, end) every 60 s from t=0, as Burrow's examples list offsets, and
    /// returns the last judgement.
    fn feed(series: &[(i64, i64)]) -> Judgement {
        let mut track = Track::default();
        let mut last = None;
        for (i, (c, e)) in series.iter().enumerate() {
            last = track.observe(t(i as i64 * 60), &[p("orders", 0, *c, *e)], W);
        }
        last.unwrap()
    }

    // Burrow's documented examples, one partition, a window of 10 samples a minute apart.

    #[test]
    fn burrow_example_ok_offsets_move_and_lag_reaches_zero() {
        let j = feed(&[
            (10, 20),
            (20, 30),
            (30, 40),
            (40, 50),
            (50, 60),
            (60, 70),
            (70, 70),
            (80, 90),
            (90, 100),
            (100, 110),
            (110, 120),
        ]);
        assert_eq!(j.state, ProgressState::Ok);
        assert_eq!(j.lag, 10);
        assert_eq!(j.message, "lag 10 records, not growing");
    }

    #[test]
    fn burrow_example_warning_lag_grows_at_every_sample() {
        let series: Vec<(i64, i64)> = (0..11).map(|i| (i * 10, i * 10 + 5 + i * 3)).collect();
        let j = feed(&series);
        assert_eq!(j.state, ProgressState::Lagging);
        assert_eq!(j.lag, 35);
        assert_eq!(
            j.message,
            "lag grew at every sample over the last 10m, from 5 to 35 records, while offsets were committed"
        );
    }

    #[test]
    fn lag_that_only_sometimes_grows_is_not_lagging() {
        let mut series: Vec<(i64, i64)> = (0..11).map(|i| (i * 10, i * 10 + 5 + i * 3)).collect();
        series[6].1 = series[6].0 + 1;
        assert_eq!(feed(&series).state, ProgressState::Ok);
    }

    #[test]
    fn burrow_example_error_offsets_do_not_move_while_lag_stays() {
        let series: Vec<(i64, i64)> = (0..11).map(|i| (100, 150 + i)).collect();
        let j = feed(&series);
        assert_eq!(j.state, ProgressState::Stalled);
        assert_eq!(j.lag, 60);
        assert_eq!(
            j.message,
            "the committed offset of 1 of 1 partitions (orders-0) has not moved for 10m (since it was first seen) while 60 records wait"
        );
    }

    #[test]
    fn burrow_example_stop_silence_outlasts_the_window() {
        let mut series: Vec<(i64, i64)> = (0..5).map(|i| (i * 10, i * 10 + 40)).collect();
        series.extend((0..21).map(|_| (40, 80)));
        let j = feed(&series);
        assert_eq!(j.state, ProgressState::Stopped);
        assert_eq!(j.since, t(24 * 60));
        assert_eq!(j.last_commit, Some(t(4 * 60)));
        assert!(j.message.contains("has not moved for 21m"), "{}", j.message);
    }

    #[test]
    fn a_caught_up_idle_consumer_is_ok_however_long_nothing_moves() {
        let series: Vec<(i64, i64)> = (0..30).map(|_| (500, 500)).collect();
        let j = feed(&series);
        assert_eq!(j.state, ProgressState::Ok);
        assert_eq!(j.message, "caught up: lag 0 records");
    }

    #[test]
    fn lag_that_was_zero_within_the_window_is_not_a_stall() {
        // Caught up, then new records arrive and the commit has not happened yet.
        let mut series: Vec<(i64, i64)> = (0..8).map(|_| (500, 500)).collect();
        series.extend([(500, 520), (500, 540), (500, 560)]);
        assert_eq!(feed(&series).state, ProgressState::Ok);
    }

    #[test]
    fn a_stall_is_timed_from_when_records_began_to_wait_not_from_the_last_commit() {
        // Caught up for half an hour (nothing to commit), then records arrive and the sink hangs.
        let mut series: Vec<(i64, i64)> = (0..30).map(|_| (500, 500)).collect();
        series.extend((0..9).map(|_| (500, 560)));
        let j = feed(&series);
        assert_eq!(j.state, ProgressState::Ok, "waiting 9m < the 10m window");
        series.push((500, 560));
        let j = feed(&series);
        assert_eq!(j.state, ProgressState::Stalled);
        assert!(j.message.contains("has not moved for 10m"), "{}", j.message);
        series.extend((0..10).map(|_| (500, 560)));
        assert_eq!(feed(&series).state, ProgressState::Stopped);
    }

    #[test]
    fn the_window_must_be_full_before_a_stall_is_called() {
        let series: Vec<(i64, i64)> = (0..10).map(|_| (100, 150)).collect();
        assert_eq!(feed(&series).state, ProgressState::Ok);
    }

    #[test]
    fn one_stuck_partition_among_moving_ones_is_a_stall_named() {
        let mut track = Track::default();
        let mut last = None;
        for i in 0..12 {
            let sample = [
                p("orders", 0, 100, 200),
                p("orders", 1, i * 10, i * 10 + 3),
                p("orders", 2, i * 10, i * 10),
            ];
            last = track.observe(t(i * 60), &sample, W);
        }
        let j = last.unwrap();
        assert_eq!(j.state, ProgressState::Stalled);
        assert_eq!(j.lag, 103);
        assert_eq!(j.since, t(600));
        assert!(
            j.message
                .starts_with("the committed offset of 1 of 3 partitions (orders-0)"),
            "{}",
            j.message
        );
    }

    #[test]
    fn a_stall_ends_once_offsets_move_and_the_state_keeps_its_start() {
        let mut track = Track::default();
        for i in 0..12 {
            track.observe(t(i * 60), &[p("orders", 0, 100, 200)], W);
        }
        let j = track
            .observe(t(12 * 60), &[p("orders", 0, 150, 200)], W)
            .unwrap();
        assert_eq!(j.state, ProgressState::Ok);
        assert_eq!(j.since, t(12 * 60));
        assert_eq!(j.last_commit, Some(t(12 * 60)));
        let j = track
            .observe(t(13 * 60), &[p("orders", 0, 200, 200)], W)
            .unwrap();
        assert_eq!(
            (j.state, j.since, j.lag),
            (ProgressState::Ok, t(12 * 60), 0)
        );
    }

    #[test]
    fn nothing_committed_yet_is_nothing_to_judge_and_gone_partitions_are_forgotten() {
        let mut track = Track::default();
        let none = PartitionSample {
            topic: "orders".into(),
            partition: 0,
            committed: None,
            end: 50,
        };
        assert_eq!(track.observe(t(0), std::slice::from_ref(&none), W), None);
        assert_eq!(track.observe(t(60), &[], W), None);
        for i in 0..12 {
            track.observe(t(i * 60), &[p("orders", 0, 1, 9)], W);
        }
        // The topic was deleted and recreated: a new partition history, no stall carried over.
        let j = track
            .observe(t(13 * 60), &[p("orders-v2", 0, 1, 9)], W)
            .unwrap();
        assert_eq!(j.state, ProgressState::Ok);
    }

    #[test]
    fn a_committed_offset_beyond_the_end_counts_no_negative_lag() {
        // After a topic is recreated the old committed offset can exceed the new log end.
        let j = feed(&[(100, 10)]);
        assert_eq!(j.lag, 0);
    }

    #[test]
    fn the_window_keeps_only_what_it_needs() {
        let mut track = Track::default();
        for i in 0..1000 {
            track.observe(t(i * 30), &[p("orders", 0, i, i + 1)], W);
        }
        assert!(track.lags.len() <= 22, "{}", track.lags.len());
    }

    #[test]
    fn durations_read_as_people_write_them() {
        let d = SignedDuration::from_secs;
        assert_eq!(human(d(45)), "45s");
        assert_eq!(human(d(600)), "10m");
        assert_eq!(human(d(90)), "1m30s");
        assert_eq!(human(d(7200)), "2h");
        assert_eq!(human(d(3900)), "1h5m");
    }
}
