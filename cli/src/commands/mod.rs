//! Each command at its edges: reading the files, asking Kafka Connect, printing and writing, and the exit
//! code. What a command decides is in the modules before this one.

mod files;

pub mod convert;
pub mod diff;
pub mod export;
pub mod snapshot;
pub mod validate;
