//! The connector reconciler's decision, pure: the spec plus what Kafka Connect reported →
//! the actions to take and the `Ready` condition to show. No I/O here, so every transition is unit-tested.
//!
//! Files, each importing only the ones before it: `model` (the types, the graces) → `ready` (`Ready` from
//! what Connect reports) → `restarts` (manual, then automatic) → `decide` (the steps of [`plan`]).

mod decide;
mod model;
mod ready;
mod restarts;
#[cfg(test)]
mod tests;

pub use decide::plan;
pub use model::{
    Action, CREATE_GRACE, Caps, Change, Desired, Input, Observed, Plan, Recent, STATE_GRACE,
    Trigger, in_state,
};
pub use ready::{rejected_config, tasks_ready};
