//! connect-warden's shared library: the CRD types, the Kafka Connect REST client, config rules, cluster
//! resolution, secret redaction, and the runtime every binary shares (logging, signals, the admin server).

pub mod backoff;
pub mod cluster;
pub mod config;
pub mod config_from;
pub mod connect;
pub mod crd;
mod error;
pub mod kafka;
pub mod offsets;
pub mod plugin_version;
pub mod policy;
pub mod redact;
pub mod requests;
pub mod runtime;
pub mod target;
pub mod tls;
pub mod watch;

pub use error::{Error, Result};
