//! KRaft broker + Connect workers. Being written.
use serde::{Deserialize, Serialize};
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KafkaEnv {
    pub connect_url: String,
}
