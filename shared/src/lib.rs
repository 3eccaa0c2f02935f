//! connect-warden's shared library: the CRD types, the Kafka Connect REST client, config rules, cluster
//! resolution, secret redaction and telemetry helpers used by both the webhook and the controller.

pub mod cluster;
pub mod config;
pub mod config_from;
pub mod connect;
pub mod crd;
mod error;
pub mod redact;
pub mod shutdown;
pub mod target;
pub mod telemetry;
pub mod tls;
pub mod watch;

pub use error::{Error, Result};
