//! The Kafka Connect REST client, and a client per cluster ([`registry`]).

mod client;
pub mod registry;
pub mod types;

pub use client::{Auth, ClientSettings, ConnectClient, RequestObserver, parse_base_url};
pub use types::*;
