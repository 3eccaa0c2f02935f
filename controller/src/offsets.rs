//! Offsets requests, pure: what the `connectwarden.io/offsets` annotation asks for, whether the cluster's
//! Kafka Connect can do it, what the request needs before it can run, and the texts of its outcome.
//!
//! `alter` and `reset` need a STOPPED connector. The controller stops a running or paused connector itself,
//! runs the operation, and restores the wanted state, each step with an event; the request is recorded in
//! status once it ran (or was refused), never repeated after that.

use shared::connect::apache_version;
use shared::crd::ANNOTATION_OFFSETS;

pub use shared::requests::Op;

use crate::restart::Request;

/// The `Offsets` condition type.
pub const CONDITION: &str = "Offsets";

/// The first Kafka Connect that has the call: GET 3.5, PATCH/DELETE 3.6.
fn since(op: Op) -> (u32, u32) {
    match op {
        Op::List => (3, 5),
        Op::Alter | Op::Reset => (3, 6),
    }
}

/// The offsets operation the annotation asks for (see [`shared::requests::offsets`]), unless its value was
/// handled already.
pub fn pending(value: Option<&str>, handled: Option<&str>) -> Option<Request<Op>> {
    let value = value.filter(|v| Some(*v) != handled)?;
    Some(Request {
        value: value.to_string(),
        ask: shared::requests::offsets(value),
    })
}

/// Why the cluster's Kafka Connect cannot do `op`, if it cannot. An unknown version is taken to be current.
pub fn unsupported(op: Op, version: Option<&str>, cluster: &str) -> Option<String> {
    let v = version?;
    let (major, minor) = apache_version(v);
    let (want_major, want_minor) = since(op);
    ((major, minor) != (0, 0) && (major, minor) < (want_major, want_minor)).then(|| {
        format!(
            "{} offsets is not supported by Kafka Connect {major}.{minor} on cluster {cluster}: it needs Kafka Connect {want_major}.{want_minor} or later",
            capitalise(op.gerund())
        )
    })
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// What a valid, supported request needs now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Not yet: the connector is not on Connect or has not reported its state yet.
    Wait,
    /// Stop the connector first (the plan does it: the wanted state is held at stopped).
    Stop,
    /// Run the operation now.
    Run,
}

/// `state` is what Connect reports for the connector (`None`: not reported, or not there).
pub fn step(op: Op, state: Option<&str>) -> Step {
    match state {
        None => {
            if op.needs_stopped() {
                // Created stopped (the wanted state is held at stopped), then altered.
                Step::Stop
            } else {
                Step::Wait
            }
        }
        Some(_) if !op.needs_stopped() => Step::Run,
        Some("STOPPED") => Step::Run,
        Some(_) => Step::Stop,
    }
}

/// How an offsets request ended, for the `Offsets` condition, `status.lastHandledOffsets` and an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The annotation value handled.
    pub value: String,
    pub ok: bool,
    /// The condition reason (and event reason).
    pub reason: &'static str,
    pub message: String,
}

impl Outcome {
    pub fn done(value: &str, op: Op, message: String) -> Outcome {
        Outcome {
            value: value.to_string(),
            ok: true,
            reason: match op {
                Op::List => "Listed",
                Op::Alter => "Altered",
                Op::Reset => "Reset",
            },
            message,
        }
    }

    pub fn failed(value: &str, reason: &'static str, why: impl std::fmt::Display) -> Outcome {
        Outcome {
            value: value.to_string(),
            ok: false,
            reason,
            message: format!("{ANNOTATION_OFFSETS}={value:?}: {why}; set a new value to try again"),
        }
    }

    /// The event reason: `OffsetsListed`, `OffsetsFailed`, …
    pub fn event_reason(&self) -> &'static str {
        match (self.ok, self.reason) {
            (true, "Listed") => "OffsetsListed",
            (true, "Altered") => "OffsetsAltered",
            (true, _) => "OffsetsReset",
            (false, _) => "OffsetsFailed",
        }
    }
}

/// The note of the event sent when the connector is stopped for `op`.
pub fn stopping_note(name: &str, op: Op, value: &str, wanted: &str) -> String {
    format!(
        "stopping connector {name:?} to {} its offsets as asked by {ANNOTATION_OFFSETS}={value:?}; its wanted state ({wanted}) is restored afterwards",
        op.as_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_value_is_one_request() {
        assert_eq!(pending(None, None), None);
        assert_eq!(pending(Some("list"), Some("list")), None, "handled");
        let r = pending(Some("reset,2024-05-01"), Some("list")).unwrap();
        assert_eq!(r.ask, Ok(Op::Reset));
        assert_eq!(r.value, "reset,2024-05-01");
        assert_eq!(pending(Some(" Alter "), None).unwrap().ask, Ok(Op::Alter));
        assert_eq!(
            pending(Some("rest,1"), None).unwrap().ask,
            Err("connectwarden.io/offsets: \"rest,1\" does not start with list, alter or reset; use e.g. \"list\" or \"reset,2024-05-01T10:00:00Z\" (the token makes a repeated request new)".into())
        );
    }

    #[test]
    fn old_connect_is_named() {
        assert_eq!(unsupported(Op::List, Some("3.5.2"), "kafka/main"), None);
        assert_eq!(
            unsupported(Op::Reset, Some("3.5.2"), "kafka/main").unwrap(),
            "Resetting offsets is not supported by Kafka Connect 3.5 on cluster kafka/main: it needs Kafka Connect 3.6 or later"
        );
        assert_eq!(
            unsupported(Op::List, Some("7.4.0-ccs"), "kafka/main").unwrap(),
            "Listing offsets is not supported by Kafka Connect 3.4 on cluster kafka/main: it needs Kafka Connect 3.5 or later"
        );
        assert_eq!(unsupported(Op::Alter, Some("4.3.1"), "c"), None);
        assert_eq!(unsupported(Op::Alter, None, "c"), None);
        assert_eq!(unsupported(Op::Alter, Some("weird"), "c"), None);
    }

    #[test]
    fn alter_and_reset_wait_for_stopped_list_does_not() {
        assert_eq!(step(Op::List, Some("RUNNING")), Step::Run);
        assert_eq!(step(Op::List, None), Step::Wait);
        assert_eq!(step(Op::Alter, Some("RUNNING")), Step::Stop);
        assert_eq!(step(Op::Reset, Some("PAUSED")), Step::Stop);
        assert_eq!(step(Op::Reset, Some("FAILED")), Step::Stop);
        assert_eq!(step(Op::Reset, Some("STOPPED")), Step::Run);
        assert_eq!(step(Op::Alter, None), Step::Stop);
    }

    #[test]
    fn outcome_texts() {
        let f = Outcome::failed(
            "alter,1",
            "InvalidOffsets",
            "offsets.json is not valid JSON",
        );
        assert_eq!(
            f.message,
            "connectwarden.io/offsets=\"alter,1\": offsets.json is not valid JSON; set a new value to try again"
        );
        assert_eq!(f.event_reason(), "OffsetsFailed");
        assert!(!f.ok);
        let d = Outcome::done("list", Op::List, "x".into());
        assert_eq!((d.reason, d.event_reason()), ("Listed", "OffsetsListed"));
        assert_eq!(
            stopping_note("orders", Op::Reset, "reset,1", "running"),
            "stopping connector \"orders\" to reset its offsets as asked by connectwarden.io/offsets=\"reset,1\"; its wanted state (running) is restored afterwards"
        );
    }
}
