//! Restart policy, pure: what a FAILED connector or task gets, and when.
//!
//! The first restart happens as soon as the failure is seen; each further one waits `base · 2^(n-1)`, capped
//! at `max`, and the first after a manual restart waits `base`. The count lives in status (so a new leader or
//! a restarted controller continues it) and resets once the connector has been healthy for `stable` since the
//! last restart. (Automatic restarts are also paced per Connect cluster: see `connect_runtime`.)

use std::time::Duration;

use jiff::Timestamp;
use shared::crd::{AutoRestart, AutoRestartStatus};

/// Restart settings of one connector: its spec over the controller's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub enabled: bool,
    pub max_restarts: Option<u32>,
    pub base: Duration,
    pub max: Duration,
    pub stable: Duration,
}

impl Policy {
    pub fn new(spec: Option<&AutoRestart>, defaults: &Policy) -> Policy {
        let secs = |v: Option<u32>, d: Duration| v.map_or(d, |s| Duration::from_secs(s.into()));
        match spec {
            None => *defaults,
            Some(s) => Policy {
                enabled: s.enabled,
                max_restarts: s.max_restarts.or(defaults.max_restarts),
                base: secs(s.backoff_base_seconds, defaults.base),
                max: secs(s.backoff_max_seconds, defaults.max),
                stable: secs(s.stable_period_seconds, defaults.stable),
            },
        }
    }

    /// The wait after the `count`-th restart before the next one: base, 2·base, 4·base, … ≤ max.
    pub fn delay_after(&self, count: u32) -> Duration {
        shared::backoff::exponential(self.base, count, self.max)
    }
}

/// What the policy says about the connector now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing failed; `status` is the bookkeeping to keep (reset after a stable period).
    Healthy { status: Option<AutoRestartStatus> },
    /// Restart now; `status` already counts this restart and must be stored before the restart is sent, so
    /// that a new leader never repeats it.
    Restart { status: AutoRestartStatus },
    /// Failed, but the next restart is due later.
    Wait {
        status: AutoRestartStatus,
        after: Duration,
    },
    /// Failed and `maxRestarts` reached: no more automatic restarts.
    Exhausted { status: AutoRestartStatus },
    /// Failed, automatic restarts are disabled.
    Disabled { status: Option<AutoRestartStatus> },
}

pub fn decide(
    policy: &Policy,
    prev: Option<&AutoRestartStatus>,
    failed: bool,
    healthy: bool,
    now: Timestamp,
) -> Verdict {
    let last = prev
        .and_then(|p| p.last_restart_time.as_deref())
        .and_then(parse_time);
    let count = prev.map_or(0, |p| p.count);
    if !failed {
        let mut status = prev.cloned();
        if let Some(s) = status.as_mut() {
            s.next_restart_time = None;
            let stable_since_last = last.is_none_or(|l| elapsed(l, now) >= policy.stable);
            if healthy && s.count > 0 && stable_since_last {
                s.count = 0;
            }
        }
        return Verdict::Healthy { status };
    }
    if !policy.enabled {
        return Verdict::Disabled {
            status: prev.cloned(),
        };
    }
    if policy.max_restarts.is_some_and(|m| count >= m) {
        return Verdict::Exhausted {
            status: AutoRestartStatus {
                count,
                last_restart_time: prev.and_then(|p| p.last_restart_time.clone()),
                next_restart_time: None,
            },
        };
    }
    // Never restarted: at once. Otherwise a restart just issued (a manual one too, which starts the count
    // again at 0) first gets its delay: until Connect reports it, a poll may still show the old FAILED.
    let due = match last {
        None => now,
        // A delay past the last representable time waits until then.
        Some(l) => l
            .checked_add(policy.delay_after(count))
            .unwrap_or(Timestamp::MAX),
    };
    if due <= now {
        Verdict::Restart {
            status: AutoRestartStatus {
                count: count.saturating_add(1),
                last_restart_time: Some(format_time(now)),
                next_restart_time: None,
            },
        }
    } else {
        Verdict::Wait {
            status: AutoRestartStatus {
                count,
                last_restart_time: prev.and_then(|p| p.last_restart_time.clone()),
                next_restart_time: Some(format_time(due)),
            },
            after: elapsed(now, due),
        }
    }
}

/// The time from `since` to `now`; zero when `now` is earlier.
pub fn elapsed(since: Timestamp, now: Timestamp) -> Duration {
    Duration::try_from(now.duration_since(since)).unwrap_or_default()
}

/// A time in status or an annotation: RFC 3339, any offset.
pub fn parse_time(s: &str) -> Option<Timestamp> {
    s.parse().ok()
}

/// A time as status and annotations show it: RFC 3339 in UTC, whole seconds (truncated), `Z`.
pub fn format_time(t: Timestamp) -> String {
    format!("{t:.0}")
}

/// A manual restart asked for with the `connectwarden.io/restart` annotation.
/// What a manual restart asks for besides the restart itself.
pub use shared::requests::Restart as Manual;

/// A one-shot request read from an annotation: the value that identifies it (recorded in status once
/// handled) and what it asks for, or why it is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<T> {
    pub value: String,
    pub ask: Result<T, String>,
}

/// The restart the `connectwarden.io/restart` annotation asks for (see [`shared::requests::restart`]),
/// unless its value was handled already. `false` asks for nothing.
pub fn pending_restart(value: Option<&str>, handled: Option<&str>) -> Option<Request<Manual>> {
    let value = value.filter(|v| Some(*v) != handled)?;
    if shared::requests::restart_declined(value) {
        return None;
    }
    Some(Request {
        value: value.to_string(),
        ask: shared::requests::restart(value),
    })
}

/// The task restart the `connectwarden.io/restart-task` annotation asks for (see
/// [`shared::requests::restart_task`]), unless its value was handled already.
pub fn pending_task_restart(value: Option<&str>, handled: Option<&str>) -> Option<Request<i32>> {
    let value = value.filter(|v| Some(*v) != handled)?;
    Some(Request {
        value: value.to_string(),
        ask: shared::requests::restart_task(value),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            enabled: true,
            max_restarts: Some(3),
            base: Duration::from_secs(10),
            max: Duration::from_secs(25),
            stable: Duration::from_secs(600),
        }
    }

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn st(count: u32, last: Option<i64>) -> AutoRestartStatus {
        AutoRestartStatus {
            count,
            last_restart_time: last.map(|l| format_time(t(l))),
            next_restart_time: None,
        }
    }

    #[test]
    fn times_are_written_to_the_second_in_utc_and_read_with_any_offset() {
        let subsecond = Timestamp::new(1_700_000_000, 999_999_999).unwrap();
        assert_eq!(format_time(subsecond), "2023-11-14T22:13:20Z");
        assert_eq!(format_time(t(0)), "2023-11-14T22:13:20Z");
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Some(t(0)));
        assert_eq!(parse_time("2023-11-14T23:13:20+01:00"), Some(t(0)));
        assert_eq!(
            parse_time("2023-11-14T22:13:20.5Z")
                .map(format_time)
                .as_deref(),
            Some("2023-11-14T22:13:20Z")
        );
        assert_eq!(parse_time("2023-11-14 22:13:20"), None);
        assert_eq!(parse_time("soon"), None);
    }

    #[test]
    fn first_restart_is_immediate() {
        let d = decide(&policy(), None, true, false, t(0));
        assert_eq!(
            d,
            Verdict::Restart {
                status: st(1, Some(0))
            }
        );
    }

    #[test]
    fn gaps_grow_and_are_capped() {
        let p = policy();
        assert_eq!(p.delay_after(1), Duration::from_secs(10));
        assert_eq!(p.delay_after(2), Duration::from_secs(20));
        assert_eq!(p.delay_after(3), Duration::from_secs(25));
        assert_eq!(p.delay_after(100), Duration::from_secs(25));
        // after the first restart at 0, the second is due at 10
        match decide(&p, Some(&st(1, Some(0))), true, false, t(4)) {
            Verdict::Wait { status, after } => {
                assert_eq!(after, Duration::from_secs(6));
                assert_eq!(status.next_restart_time, Some(format_time(t(10))));
                assert_eq!(status.count, 1);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            decide(&p, Some(&st(1, Some(0))), true, false, t(10)),
            Verdict::Restart {
                status: st(2, Some(10))
            }
        );
        // the third waits 20 s after the second
        assert!(matches!(
            decide(&p, Some(&st(2, Some(10))), true, false, t(29)),
            Verdict::Wait { .. }
        ));
        assert!(matches!(
            decide(&p, Some(&st(2, Some(10))), true, false, t(30)),
            Verdict::Restart { .. }
        ));
    }

    #[test]
    fn max_restarts_exhausts() {
        let d = decide(&policy(), Some(&st(3, Some(0))), true, false, t(1000));
        assert_eq!(
            d,
            Verdict::Exhausted {
                status: st(3, Some(0))
            }
        );
        let mut unlimited = policy();
        unlimited.max_restarts = None;
        assert!(matches!(
            decide(&unlimited, Some(&st(300, Some(0))), true, false, t(1000)),
            Verdict::Restart { .. }
        ));
    }

    #[test]
    fn counter_resets_after_stable_period_only() {
        let p = policy();
        let d = decide(&p, Some(&st(2, Some(0))), false, true, t(599));
        assert_eq!(
            d,
            Verdict::Healthy {
                status: Some(st(2, Some(0)))
            }
        );
        let d = decide(&p, Some(&st(2, Some(0))), false, true, t(600));
        assert_eq!(
            d,
            Verdict::Healthy {
                status: Some(st(0, Some(0)))
            }
        );
        // not failed but not healthy either (e.g. paused): keep the count
        let d = decide(&p, Some(&st(2, Some(0))), false, false, t(9999));
        assert_eq!(
            d,
            Verdict::Healthy {
                status: Some(st(2, Some(0)))
            }
        );
        assert_eq!(
            decide(&p, None, false, true, t(0)),
            Verdict::Healthy { status: None }
        );
    }

    #[test]
    fn disabled_does_nothing() {
        let mut p = policy();
        p.enabled = false;
        assert_eq!(
            decide(&p, None, true, false, t(0)),
            Verdict::Disabled { status: None }
        );
    }

    #[test]
    fn spec_overrides_defaults() {
        let spec = AutoRestart {
            enabled: true,
            max_restarts: Some(5),
            backoff_base_seconds: Some(1),
            backoff_max_seconds: None,
            stable_period_seconds: Some(30),
        };
        let p = Policy::new(Some(&spec), &policy());
        assert_eq!(p.max_restarts, Some(5));
        assert_eq!(p.base, Duration::from_secs(1));
        assert_eq!(p.max, Duration::from_secs(25));
        assert_eq!(p.stable, Duration::from_secs(30));
    }

    #[test]
    fn garbage_times_do_not_panic() {
        let s = AutoRestartStatus {
            count: 4,
            last_restart_time: Some("yesterday".into()),
            next_restart_time: None,
        };
        assert!(matches!(
            decide(&policy(), Some(&s), true, false, t(0)),
            Verdict::Exhausted { .. }
        ));
        let mut p = policy();
        p.max_restarts = None;
        assert!(matches!(
            decide(&p, Some(&s), true, false, t(0)),
            Verdict::Restart { .. }
        ));
    }

    fn asks(value: &str) -> Result<Manual, String> {
        pending_restart(Some(value), None).unwrap().ask
    }

    const PLAIN: Manual = Manual {
        include_tasks: false,
        only_failed: false,
    };

    #[test]
    fn a_restart_request_is_a_new_value_with_optional_options() {
        assert_eq!(asks("true"), Ok(PLAIN));
        assert_eq!(asks("2024-05-01T10:00:00Z"), Ok(PLAIN));
        assert_eq!(asks("please"), Ok(PLAIN));
        assert_eq!(
            asks("includeTasks"),
            Ok(Manual {
                include_tasks: true,
                only_failed: false
            })
        );
        assert_eq!(
            asks("1714557600, onlyFailed,includetasks"),
            Ok(Manual {
                include_tasks: true,
                only_failed: true
            })
        );
        let r = pending_restart(Some("2024-05-01T10:00:00Z,includeTasks"), Some("true")).unwrap();
        assert_eq!(r.value, "2024-05-01T10:00:00Z,includeTasks");
    }

    #[test]
    fn a_handled_value_false_or_no_annotation_asks_for_nothing() {
        assert_eq!(pending_restart(Some("t1"), Some("t1")), None);
        assert_eq!(pending_restart(Some("false"), None), None);
        assert_eq!(pending_restart(None, Some("t1")), None);
        assert_eq!(pending_task_restart(Some("1,t1"), Some("1,t1")), None);
        assert_eq!(pending_task_restart(None, None), None);
    }

    #[test]
    fn empty_values_and_misspelled_options_are_invalid_and_say_why() {
        assert_eq!(
            asks(" "),
            Err("connectwarden.io/restart is empty: set a new value to restart, e.g. a timestamp (optionally with ,includeTasks and ,onlyFailed)".into())
        );
        assert_eq!(
            asks("t1,includeTask"),
            Err("connectwarden.io/restart: \"t1,includeTask\": \"includeTask\" looks like a misspelled option (did you mean includeTasks?); the options are includeTasks and onlyFailed, next to any token such as a timestamp".into())
        );
        assert!(asks("onlyfailled").is_err());
        // an invalid value is still a request: it is recorded, so it is warned about once
        assert_eq!(
            pending_restart(Some("includeTask"), None).map(|r| r.value),
            Some("includeTask".to_string())
        );
    }

    #[test]
    fn a_task_restart_is_an_id_optionally_with_a_token() {
        let r = pending_task_restart(Some(" 2 "), None).unwrap();
        assert_eq!((r.value.as_str(), r.ask), (" 2 ", Ok(2)));
        assert_eq!(
            pending_task_restart(Some("1,2024-05-01T10:00:00Z"), Some("1"))
                .unwrap()
                .ask,
            Ok(1)
        );
        assert_eq!(
            pending_task_restart(Some("x"), None).unwrap().ask,
            Err("connectwarden.io/restart-task: \"x\" does not start with a task id: use \"<id>\" or \"<id>,<token>\", e.g. \"1,2024-05-01T10:00:00Z\"".into())
        );
        assert!(pending_task_restart(Some("-1"), None).unwrap().ask.is_err());
        assert!(pending_task_restart(Some(""), None).unwrap().ask.is_err());
    }
}
