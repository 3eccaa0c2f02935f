//! What lag measurement says of each connector, as the reconcilers read it: the reports an endpoint's
//! measuring task (`lag`) publishes, what `status.progress` shows of one, and the task's handle.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use parking_lot::{Mutex, RwLock};
use shared::crd::{DeadLetterStatus, ProgressStatus};

use crate::metrics::ProgressFigures;
use crate::progress::ProgressState;
use crate::restart::format_time;

/// What lag measurement says of one sink connector; what its `status.progress` shows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Report {
    /// `None`: not judged (`message` says why).
    pub state: Option<ProgressState>,
    pub lag: Option<i64>,
    pub since: Option<Timestamp>,
    pub last_commit: Option<Timestamp>,
    pub message: String,
    pub dead_letters: Option<DeadLetters>,
}

impl Report {
    pub(super) fn unknown(message: String) -> Report {
        Report {
            state: None,
            lag: None,
            since: None,
            last_commit: None,
            message,
            dead_letters: None,
        }
    }

    /// What `status.progress` shows.
    pub fn to_status(&self) -> ProgressStatus {
        ProgressStatus {
            state: self
                .state
                .map_or("Unknown", ProgressState::as_str)
                .to_string(),
            lag_records: self.lag,
            since: self.since.map(format_time),
            last_commit_time: self.last_commit.map(format_time),
            message: Some(self.message.clone()),
            dead_letters: self.dead_letters.as_ref().map(|d| DeadLetterStatus {
                topic: d.topic.clone(),
                records: d.records,
                per_minute: d.per_minute,
                since: format_time(d.since),
                start_offset: d.start_offset,
            }),
        }
    }

    pub(super) fn figures(&self) -> ProgressFigures {
        ProgressFigures {
            state: self.state,
            lag: self.lag,
            dead_letters: self.dead_letters.as_ref().map(|d| d.records),
            last_commit: self.last_commit.map(Timestamp::as_second),
        }
    }

    /// Whether status must show `self` at once rather than at the next refresh.
    pub(super) fn differs_in_kind(&self, shown: &Report) -> bool {
        self.state != shown.state
            || (self.state.is_none() && self.message != shown.message)
            || self.dead_letters.as_ref().map(|d| d.per_minute > 0)
                != shown.dead_letters.as_ref().map(|d| d.per_minute > 0)
    }
}

/// Records a connector sent to its dead letter queue topic.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DeadLetters {
    pub topic: String,
    pub records: i64,
    pub per_minute: i64,
    pub since: Timestamp,
    pub start_offset: i64,
}

/// The endpoint's lag state: the reports reconciles read, and the measuring task.
#[derive(Default)]
pub(crate) struct LagState {
    /// `None` until the first measurement since this process started.
    pub(super) reports: RwLock<Option<HashMap<String, Arc<Report>>>>,
    /// The measuring task, while one runs.
    pub(super) task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl LagState {
    /// What the latest measurement says of `connector`: `Err` before the first measurement since this
    /// process started, so that a restarted controller keeps what status says instead of clearing it and
    /// writing it back a moment later.
    pub fn report(&self, connector: &str) -> Result<Option<Arc<Report>>, NotYet> {
        match &*self.reports.read() {
            Some(r) => Ok(r.get(connector).cloned()),
            None => Err(NotYet),
        }
    }
}

/// No measurement yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotYet;
