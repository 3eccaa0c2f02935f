//! The reconcilers, above the Connect runtime: each turns one watched object into Connect calls and a
//! status.

pub(crate) mod cluster;
pub(crate) mod connector;
