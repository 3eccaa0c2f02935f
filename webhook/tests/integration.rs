//! The webhook's tests through its public API, built as one test binary rather than one per file (a binary
//! each cost a link and its own copies of the generic code); each module is one subject.

mod bad_input;
mod cluster_references;
mod config_from;
mod day2;
mod decision;
mod module_order;
mod policies;
mod server;
