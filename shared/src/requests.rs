//! One-shot requests made with annotations on a KafkaConnector: restart it, restart one task, run an offsets
//! operation. Each new value is one request. Reading a value lives here, so that the webhook denies a new
//! value nobody could act on, and the controller, which acts on new values, reads them the same way.

use std::collections::BTreeMap;

use crate::crd::{ANNOTATION_OFFSETS, ANNOTATION_RESTART, ANNOTATION_RESTART_TASK};

/// What a `connectwarden.io/restart` value asks for besides the restart itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restart {
    pub include_tasks: bool,
    pub only_failed: bool,
}

const RESTART_OPTIONS: [&str; 2] = ["includeTasks", "onlyFailed"];

/// Whether a `connectwarden.io/restart` value asks for nothing (`false`).
pub fn restart_declined(value: &str) -> bool {
    value.trim().eq_ignore_ascii_case("false")
}

/// A `connectwarden.io/restart` value: comma-separated parts, where `includeTasks` and `onlyFailed` are
/// options and any other part (a timestamp, a token, `true`) only makes the value new, e.g.
/// `2024-05-01T10:00:00Z,includeTasks`. An empty value, or a part that looks like a misspelled option, is
/// refused: a typo must not silently restart without the option.
pub fn restart(value: &str) -> Result<Restart, String> {
    let mut r = Restart {
        include_tasks: false,
        only_failed: false,
    };
    if value.trim().is_empty() {
        return Err(format!(
            "{ANNOTATION_RESTART} is empty: set a new value to restart, e.g. a timestamp (optionally with ,includeTasks and ,onlyFailed)"
        ));
    }
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part.eq_ignore_ascii_case("includeTasks") {
            r.include_tasks = true;
        } else if part.eq_ignore_ascii_case("onlyFailed") {
            r.only_failed = true;
        } else if let Some(o) = RESTART_OPTIONS
            .iter()
            .find(|o| strsim::levenshtein(&part.to_ascii_lowercase(), &o.to_ascii_lowercase()) <= 2)
        {
            return Err(format!(
                "{ANNOTATION_RESTART}: {value:?}: {part:?} looks like a misspelled option (did you mean {o}?); the options are includeTasks and onlyFailed, next to any token such as a timestamp"
            ));
        }
    }
    Ok(r)
}

/// A `connectwarden.io/restart-task` value: `<task id>` or `<task id>,<token>` (the token makes a request for
/// the same task new).
pub fn restart_task(value: &str) -> Result<i32, String> {
    let id = value.split(',').next().unwrap_or_default().trim();
    id.parse::<i32>().ok().filter(|id| *id >= 0).ok_or_else(|| {
        format!(
            "{ANNOTATION_RESTART_TASK}: {value:?} does not start with a task id: use \"<id>\" or \"<id>,<token>\", e.g. \"1,2024-05-01T10:00:00Z\""
        )
    })
}

/// An offsets operation the `connectwarden.io/offsets` annotation asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    List,
    Alter,
    Reset,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::List => "list",
            Op::Alter => "alter",
            Op::Reset => "reset",
        }
    }

    /// "listing", … for messages.
    pub fn gerund(self) -> &'static str {
        match self {
            Op::List => "listing",
            Op::Alter => "altering",
            Op::Reset => "resetting",
        }
    }

    /// Whether the connector must be STOPPED.
    pub fn needs_stopped(self) -> bool {
        !matches!(self, Op::List)
    }
}

/// A `connectwarden.io/offsets` value: `list`, `alter` or `reset` (any case), optionally followed by
/// `,<token>` so that the same operation can be asked again (e.g. `reset,2024-05-01T10:00:00Z`).
pub fn offsets(value: &str) -> Result<Op, String> {
    let op = value.split(',').next().unwrap_or_default().trim();
    match op.to_ascii_lowercase().as_str() {
        "list" => Ok(Op::List),
        "alter" => Ok(Op::Alter),
        "reset" => Ok(Op::Reset),
        _ => Err(format!(
            "{ANNOTATION_OFFSETS}: {value:?} does not start with list, alter or reset; use e.g. \"list\" or \"reset,2024-05-01T10:00:00Z\" (the token makes a repeated request new)"
        )),
    }
}

/// Why each request annotation that `new` sets to a value `old` did not have cannot be read. Values already
/// there were judged when they were set, so an object that holds an old unreadable value (admitted before
/// these rules) can still be updated.
pub fn unreadable_new(
    old: Option<&BTreeMap<String, String>>,
    new: Option<&BTreeMap<String, String>>,
) -> Vec<String> {
    let Some(new) = new else {
        return Vec::new();
    };
    let is_new = |key: &str| {
        new.get(key)
            .filter(|v| old.and_then(|o| o.get(key)) != Some(*v))
    };
    let mut out = Vec::new();
    if let Some(v) = is_new(ANNOTATION_RESTART).filter(|v| !restart_declined(v)) {
        out.extend(restart(v).err());
    }
    if let Some(v) = is_new(ANNOTATION_RESTART_TASK) {
        out.extend(restart_task(v).err());
    }
    if let Some(v) = is_new(ANNOTATION_OFFSETS) {
        out.extend(offsets(v).err());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_options_and_tokens() {
        let opts = |v| restart(v).unwrap();
        assert_eq!(
            opts("true"),
            Restart {
                include_tasks: false,
                only_failed: false
            }
        );
        assert_eq!(
            opts("2024-05-01T10:00:00Z,includeTasks, ONLYFAILED"),
            Restart {
                include_tasks: true,
                only_failed: true
            }
        );
        // A token far from every option is only a token.
        assert!(!opts("includeEverything-7").include_tasks);
        assert_eq!(
            restart("includeTask").unwrap_err(),
            "connectwarden.io/restart: \"includeTask\": \"includeTask\" looks like a misspelled option (did you mean includeTasks?); the options are includeTasks and onlyFailed, next to any token such as a timestamp"
        );
        assert!(restart(" ").is_err());
        assert!(restart_declined(" False "));
    }

    #[test]
    fn task_ids() {
        assert_eq!(restart_task(" 2 "), Ok(2));
        assert_eq!(restart_task("1,2024-05-01T10:00:00Z"), Ok(1));
        for bad in ["x", "-1", "", ",1"] {
            assert!(restart_task(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn offsets_operations() {
        assert_eq!(offsets("list"), Ok(Op::List));
        assert_eq!(offsets("Alter,2024-05-01"), Ok(Op::Alter));
        assert_eq!(offsets(" reset , t2"), Ok(Op::Reset));
        assert_eq!(
            offsets("rewind").unwrap_err(),
            "connectwarden.io/offsets: \"rewind\" does not start with list, alter or reset; use e.g. \"list\" or \"reset,2024-05-01T10:00:00Z\" (the token makes a repeated request new)"
        );
    }

    #[test]
    fn only_new_unreadable_values_are_reported() {
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let bad = map(&[
            (ANNOTATION_RESTART, "onlyFaild"),
            (ANNOTATION_RESTART_TASK, "first"),
            (ANNOTATION_OFFSETS, "rewind"),
            ("other", "anything"),
        ]);
        let found = unreadable_new(None, Some(&bad));
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].starts_with("connectwarden.io/restart: \"onlyFaild\""));
        assert!(found[1].starts_with("connectwarden.io/restart-task: \"first\""));
        assert!(found[2].starts_with("connectwarden.io/offsets: \"rewind\""));
        // Unchanged values were judged before; `false` asks for nothing; good values pass.
        assert!(unreadable_new(Some(&bad), Some(&bad)).is_empty());
        let good = map(&[
            (ANNOTATION_RESTART, "false"),
            (ANNOTATION_RESTART_TASK, "0,t1"),
            (ANNOTATION_OFFSETS, "reset,t1"),
        ]);
        assert!(unreadable_new(Some(&bad), Some(&good)).is_empty());
        assert!(unreadable_new(None, None).is_empty());
    }
}
