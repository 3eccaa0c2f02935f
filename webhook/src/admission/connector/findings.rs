//! What the steps of a connector review found, gathered in order.

use crate::admission::decision::Reason;

/// What the steps found: problems deny (the first one's reason is the decision's), warnings are returned
/// whatever the decision.
#[derive(Debug, Default)]
pub(super) struct Findings {
    pub(super) problems: Vec<(Reason, String)>,
    pub(super) warnings: Vec<String>,
}

impl Findings {
    pub(super) fn problem(&mut self, reason: Reason, line: impl Into<String>) {
        self.problems.push((reason, line.into()));
    }
}
