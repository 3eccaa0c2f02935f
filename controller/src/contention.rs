//! Contention, pure: whether another writer keeps changing a connector on Kafka Connect, so that the
//! controller stops putting its config back instead of fighting it forever.
//!
//! Each drift correction (the config or the state changed, or the connector deleted, behind the
//! controller's back, and put back) is recorded in status with its time. Once `corrections` of them fall within `window`, the next
//! drift is not corrected: writes to the connector are held. They resume when Connect's config has stayed
//! unchanged for `quiet` (the other writer stopped), or at once when the spec's generation changes.
//! Corrections stay counted after a quiet resume, so a fight that starts again is held after one more
//! correction, not after `corrections` more.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use jiff::Timestamp;
use parking_lot::Mutex;
use shared::crd::ContentionStatus;

use crate::restart::{elapsed, format_time, parse_time};

/// How many corrections within which window hold the writes, and how long Connect must stay unchanged
/// before they resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// 0: never hold.
    pub corrections: u32,
    pub window: Duration,
    pub quiet: Duration,
}

/// Why held writes resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resumed {
    /// Connect's config stayed unchanged for the quiet period.
    Quiet,
    /// The spec changed: the user's new intent is written.
    SpecChanged,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Write as planned; `status` is the record to keep (`None`: nothing worth keeping).
    Write {
        status: Option<ContentionStatus>,
        resumed: Option<Resumed>,
    },
    /// Make no write to the connector. `started`: the hold begins now. Look again after `recheck_after`,
    /// when the quiet period would be over.
    Hold {
        status: ContentionStatus,
        started: bool,
        recheck_after: Duration,
    },
}

/// What a reconcile saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// The plan puts the config back (drift corrected, or the connector recreated).
    pub drift: bool,
    /// Connect's config changed since the last look (only asked while held).
    pub changed: bool,
}

pub fn judge(
    limits: &Limits,
    prev: Option<&ContentionStatus>,
    generation: Option<i64>,
    seen: Seen,
    now: Timestamp,
) -> Verdict {
    let mut s = prev.cloned().unwrap_or_default();
    let mut resumed = None;
    if let Some(since) = s.held_since.as_deref().and_then(parse_time) {
        if s.held_generation != generation {
            resumed = Some(Resumed::SpecChanged);
            s.corrections.clear();
        } else {
            let mut last = s
                .last_change_time
                .as_deref()
                .and_then(parse_time)
                .map_or(since, |c| c.max(since));
            // A writer at work changes Connect every few seconds: recording each change would write status
            // as often. A change is recorded when the last record is a quarter of the quiet period old, so
            // the record may be that much older than the latest change: the wait is that much longer, and
            // the quiet period is never cut short.
            let slack = limits.quiet / 4;
            if seen.changed && elapsed(last, now) >= slack {
                s.last_change_time = Some(format_time(now));
                last = now;
            }
            let quiet_for = elapsed(last, now);
            if quiet_for < limits.quiet + slack {
                return Verdict::Hold {
                    status: s,
                    started: false,
                    recheck_after: limits.quiet + slack - quiet_for,
                };
            }
            resumed = Some(Resumed::Quiet);
        }
        s.held_since = None;
        s.held_generation = None;
        s.last_change_time = None;
        s.keys.clear();
    }
    // While held, the corrections that led to the hold stay as they were, for the message.
    s.corrections
        .retain(|t| parse_time(t).is_some_and(|t| elapsed(t, now) < limits.window));
    if seen.drift {
        let limit = usize::try_from(limits.corrections).unwrap_or(usize::MAX);
        // After a quiet resume the config is put back once, whatever the count.
        if limits.corrections > 0 && s.corrections.len() >= limit && resumed.is_none() {
            s.held_since = Some(format_time(now));
            s.held_generation = generation;
            s.last_change_time = None;
            return Verdict::Hold {
                status: s,
                started: true,
                recheck_after: limits.quiet + limits.quiet / 4,
            };
        }
        s.corrections.push(format_time(now));
        // Only the latest count; the record stays small whatever the window.
        let keep = limit.saturating_add(1);
        if s.corrections.len() > keep {
            s.corrections.drain(..s.corrections.len() - keep);
        }
    }
    Verdict::Write {
        status: (s != ContentionStatus::default()).then_some(s),
        resumed,
    }
}

/// The `Ready` message while writes are held.
pub fn held_message(name: &str, s: &ContentionStatus, limits: &Limits) -> String {
    let keys = if s.keys.is_empty() {
        String::new()
    } else {
        format!(" (keys: {})", s.keys.join(", "))
    };
    format!(
        "another writer keeps changing connector {name:?} on Kafka Connect{keys}: its config was put back {} \
         times within {}, so the controller leaves it alone; it writes again once the config stays unchanged \
         for {}, or at once when the spec changes",
        s.corrections.len(),
        human(limits.window),
        human(limits.quiet)
    )
}

/// The event when writes resume.
pub fn resumed_message(name: &str, why: Resumed, limits: &Limits) -> String {
    match why {
        Resumed::Quiet => format!(
            "connector {name:?} on Kafka Connect stayed unchanged for {}: writing its config again",
            human(limits.quiet)
        ),
        Resumed::SpecChanged => {
            format!("the spec changed: writing connector {name:?} again")
        }
    }
}

/// The config keys whose values differ between the spec and Connect, or that only one of them has: names
/// only, never values. At most `MAX_KEYS`.
pub fn differing_keys(
    wanted: &BTreeMap<String, String>,
    on_connect: &BTreeMap<String, String>,
) -> Vec<String> {
    let all: BTreeSet<&String> = wanted.keys().chain(on_connect.keys()).collect();
    all.into_iter()
        .filter(|k| wanted.get(*k) != on_connect.get(*k))
        .take(MAX_KEYS)
        .cloned()
        .collect()
}

const MAX_KEYS: usize = 20;

/// Connect's config digest per held connector, as last seen: a changed digest means the other writer is
/// still at work. In memory only (the digests are keyed per process); after a restart the first look just
/// records it.
#[derive(Default)]
pub struct LastSeen(Mutex<HashMap<String, u64>>);

impl LastSeen {
    /// Whether `digest` differs from the one last seen for `key`; records it.
    pub fn changed(&self, key: &str, digest: Option<u64>) -> bool {
        let mut m = self.0.lock();
        match digest {
            Some(d) => m.insert(key.to_string(), d).is_some_and(|old| old != d),
            None => m.remove(key).is_some(),
        }
    }

    pub fn forget(&self, key: &str) {
        self.0.lock().remove(key);
    }
}

/// `90s`, `5m`, `1h30m`: how flags and messages read a duration.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        corrections: 3,
        window: Duration::from_secs(600),
        quiet: Duration::from_secs(120),
    };

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    const DRIFT: Seen = Seen {
        drift: true,
        changed: false,
    };
    const CALM: Seen = Seen {
        drift: false,
        changed: false,
    };
    const STILL_CHANGING: Seen = Seen {
        drift: true,
        changed: true,
    };

    fn record(v: Verdict) -> ContentionStatus {
        match v {
            Verdict::Write { status, .. } => status.unwrap_or_default(),
            Verdict::Hold { status, .. } => status,
        }
    }

    #[test]
    fn nothing_to_keep_without_drift() {
        assert_eq!(
            judge(&LIMITS, None, Some(1), CALM, at(0)),
            Verdict::Write {
                status: None,
                resumed: None
            }
        );
    }

    #[test]
    fn n_corrections_within_the_window_hold_the_next_one() {
        let mut s = None;
        for i in 0..3 {
            let v = judge(&LIMITS, s.as_ref(), Some(1), DRIFT, at(i * 10));
            assert!(matches!(v, Verdict::Write { resumed: None, .. }), "{v:?}");
            s = Some(record(v));
        }
        assert_eq!(s.as_ref().unwrap().corrections.len(), 3);
        match judge(&LIMITS, s.as_ref(), Some(1), DRIFT, at(30)) {
            Verdict::Hold {
                status,
                started,
                recheck_after,
            } => {
                assert!(started);
                assert_eq!(
                    recheck_after,
                    Duration::from_secs(150),
                    "quiet and its slack"
                );
                assert_eq!(status.held_since.as_deref(), Some(&*format_time(at(30))));
                assert_eq!(status.held_generation, Some(1));
                assert_eq!(
                    status.corrections.len(),
                    3,
                    "the held drift is not a correction"
                );
            }
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn one_correction_a_day_never_holds() {
        let mut s = None;
        for day in 0..30 {
            let v = judge(&LIMITS, s.as_ref(), Some(1), DRIFT, at(day * 86_400));
            assert!(matches!(v, Verdict::Write { .. }), "day {day}: {v:?}");
            s = Some(record(v));
            assert_eq!(s.as_ref().unwrap().corrections.len(), 1);
        }
    }

    #[test]
    fn held_while_connect_keeps_changing_then_resumes_after_the_quiet_period() {
        let held = ContentionStatus {
            corrections: vec![format_time(at(0)), format_time(at(10)), format_time(at(20))],
            held_since: Some(format_time(at(30))),
            held_generation: Some(1),
            keys: vec!["file".into()],
            ..Default::default()
        };
        // Still changing at 100 s: the quiet period starts again from there.
        let v = judge(&LIMITS, Some(&held), Some(1), STILL_CHANGING, at(100));
        let Verdict::Hold {
            status,
            started: false,
            recheck_after,
        } = v
        else {
            panic!("{v:?}")
        };
        assert_eq!(recheck_after, Duration::from_secs(150));
        assert_eq!(status.corrections.len(), 3, "kept while held");
        assert_eq!(
            status.last_change_time.as_deref(),
            Some(&*format_time(at(100)))
        );
        // A change 10 s later is not written again (within a quarter of the quiet period).
        let v = judge(&LIMITS, Some(&status), Some(1), STILL_CHANGING, at(110));
        assert_eq!(record(v.clone()), status, "{v:?}");
        // Unchanged since, but not for long enough: the change at 110 s may have been the last one.
        let v = judge(&LIMITS, Some(&status), Some(1), DRIFT, at(230));
        assert!(
            matches!(v, Verdict::Hold { recheck_after, .. } if recheck_after == Duration::from_secs(20)),
            "{v:?}"
        );
        // Quiet for 120 s after any change seen: put back once, although three corrections are still in
        // the window.
        let v = judge(&LIMITS, Some(&status), Some(1), DRIFT, at(250));
        let Verdict::Write {
            status: Some(after),
            resumed: Some(Resumed::Quiet),
        } = v
        else {
            panic!("{v:?}")
        };
        assert_eq!(after.held_since, None);
        assert!(after.keys.is_empty());
        assert_eq!(after.corrections.len(), 4);
        // The other writer starts again: held after one more drift, not three.
        let v = judge(&LIMITS, Some(&after), Some(1), DRIFT, at(260));
        assert!(matches!(v, Verdict::Hold { started: true, .. }), "{v:?}");
    }

    #[test]
    fn a_long_hold_keeps_the_corrections_that_led_to_it() {
        let held = ContentionStatus {
            corrections: vec![format_time(at(0)), format_time(at(10)), format_time(at(20))],
            held_since: Some(format_time(at(30))),
            held_generation: Some(1),
            last_change_time: Some(format_time(at(3000))),
            ..Default::default()
        };
        let v = judge(&LIMITS, Some(&held), Some(1), STILL_CHANGING, at(3060));
        assert!(
            matches!(&v, Verdict::Hold { status, .. } if status.corrections.len() == 3),
            "{v:?}"
        );
        // Once resumed, corrections older than the window no longer count.
        let v = judge(&LIMITS, Some(&held), Some(1), DRIFT, at(3200));
        assert!(
            matches!(&v, Verdict::Write { status: Some(s), resumed: Some(Resumed::Quiet) } if s.corrections.len() == 1),
            "{v:?}"
        );
    }

    #[test]
    fn a_new_generation_resumes_at_once_with_a_fresh_count() {
        let held = ContentionStatus {
            corrections: vec![format_time(at(0)), format_time(at(10)), format_time(at(20))],
            held_since: Some(format_time(at(30))),
            held_generation: Some(1),
            last_change_time: Some(format_time(at(39))),
            keys: vec!["file".into()],
        };
        let v = judge(&LIMITS, Some(&held), Some(2), STILL_CHANGING, at(40));
        assert_eq!(
            v,
            Verdict::Write {
                status: Some(ContentionStatus {
                    corrections: vec![format_time(at(40))],
                    ..Default::default()
                }),
                resumed: Some(Resumed::SpecChanged)
            }
        );
    }

    #[test]
    fn a_hold_survives_a_controller_restart_through_status() {
        // The record is all there is after a restart: a first look reports no change.
        let held = ContentionStatus {
            corrections: vec![format_time(at(0)), format_time(at(10)), format_time(at(20))],
            held_since: Some(format_time(at(30))),
            held_generation: Some(1),
            ..Default::default()
        };
        let seen = LastSeen::default();
        let changed = seen.changed("ns/x", Some(7));
        assert!(!changed);
        let v = judge(
            &LIMITS,
            Some(&held),
            Some(1),
            Seen {
                drift: true,
                changed,
            },
            at(60),
        );
        assert!(matches!(v, Verdict::Hold { started: false, .. }), "{v:?}");
        assert!(seen.changed("ns/x", Some(8)));
        assert!(!seen.changed("ns/x", Some(8)));
    }

    #[test]
    fn zero_corrections_never_holds() {
        let off = Limits {
            corrections: 0,
            ..LIMITS
        };
        let mut s = None;
        for i in 0..10 {
            let v = judge(&off, s.as_ref(), Some(1), DRIFT, at(i));
            assert!(matches!(v, Verdict::Write { .. }), "{v:?}");
            s = Some(record(v));
            assert!(s.as_ref().unwrap().corrections.len() <= 1);
        }
    }

    #[test]
    fn messages_name_keys_counts_and_periods_never_values() {
        let wanted = BTreeMap::from([
            ("file".to_string(), "/a".to_string()),
            ("topics".to_string(), "t".to_string()),
            ("db.password".to_string(), "s3cret".to_string()),
        ]);
        let theirs = BTreeMap::from([
            ("file".to_string(), "/b".to_string()),
            ("topics".to_string(), "t".to_string()),
            ("db.password".to_string(), "hunter2".to_string()),
            ("extra".to_string(), "1".to_string()),
        ]);
        let keys = differing_keys(&wanted, &theirs);
        assert_eq!(keys, ["db.password", "extra", "file"]);
        let s = ContentionStatus {
            corrections: vec!["a".into(); 3],
            keys,
            ..Default::default()
        };
        let m = held_message("orders", &s, &LIMITS);
        assert_eq!(
            m,
            "another writer keeps changing connector \"orders\" on Kafka Connect (keys: db.password, extra, \
             file): its config was put back 3 times within 10m, so the controller leaves it alone; it writes \
             again once the config stays unchanged for 2m, or at once when the spec changes"
        );
        assert!(!m.contains("s3cret") && !m.contains("hunter2"));
        assert_eq!(human(Duration::from_secs(90)), "1m30s");
        assert_eq!(human(Duration::from_secs(3600)), "1h");
        assert_eq!(human(Duration::from_secs(45)), "45s");
    }
}
