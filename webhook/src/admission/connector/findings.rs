//! What the steps of a connector review found, gathered in order.

use crate::admission::decision::{Decision, Reason};
use crate::admission::text::limit_lines_to;

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

    /// The denial when something was found wrong, at most `max_lines` lines, with the warnings; else the
    /// warnings alone.
    pub(super) fn denial(self, max_lines: usize) -> Result<Vec<String>, Decision> {
        let Some((reason, _)) = self.problems.first() else {
            return Ok(self.warnings);
        };
        let reason = *reason;
        let mut lines: Vec<String> = self.problems.into_iter().map(|(_, l)| l).collect();
        limit_lines_to(&mut lines, max_lines, "problems");
        Err(Decision::deny(reason, lines).with_warnings(self.warnings))
    }
}
