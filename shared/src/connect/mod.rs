//! The Kafka Connect REST client (DESIGN §8).

mod client;
pub mod types;

pub use client::{Auth, ClientSettings, ConnectClient, RequestObserver, parse_base_url};
pub use types::*;
