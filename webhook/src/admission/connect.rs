//! The Kafka Connect seam: the one validation a connector review may ask for ([`ConnectCheck`]), what came
//! back ([`ConnectOutcome`]), and who asks ([`Validator`]: the server's client with its deadline and cache,
//! or a fixed answer in tests and fuzzing).

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::hash::BuildHasher;
use std::sync::{Arc, OnceLock};

use sha2::{Digest, Sha256};
use shared::connect::{ClientSettings, ValidateResponse};
use shared::redact::{REDACTED, Redactor};
use shared::target::ClusterId;

/// What to do when Kafka Connect cannot answer a validation in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailurePolicy {
    /// Deny the request, naming the cluster and the error (the default: nothing unchecked gets in).
    Closed,
    /// Admit the request with a warning (availability over validation).
    Open,
}

/// Asks Kafka Connect to validate a config.
pub trait Validator: Sync {
    /// Kafka Connect's answer for `check`, or why there is none.
    fn validate(
        &self,
        check: &Arc<ConnectCheck>,
    ) -> impl Future<Output = Arc<ConnectOutcome>> + Send;
}

/// One Kafka Connect validation to run, and what the decision needs afterwards. Its `Debug` shows no value
/// of a `secret_keys` key.
#[derive(Clone)]
pub struct ConnectCheck {
    pub cluster: ClusterId,
    pub settings: ClientSettings,
    /// As given in `spec.class` (a class or an alias); the path of the validate call.
    pub class: String,
    /// The flat config Connect receives, with `name`, `connector.class` and `tasks.max`.
    pub config: BTreeMap<String, String>,
    /// Warnings found before Connect was asked.
    pub warnings: Vec<String>,
    /// Keys whose values came from `spec.configFrom`: secret in all redaction, whatever Connect's type.
    pub secret_keys: BTreeSet<String>,
}

impl fmt::Debug for ConnectCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config: BTreeMap<&String, &str> = self
            .config
            .iter()
            .map(|(k, v)| {
                let shown = if self.secret_keys.contains(k) {
                    REDACTED
                } else {
                    v.as_str()
                };
                (k, shown)
            })
            .collect();
        f.debug_struct("ConnectCheck")
            .field("cluster", &self.cluster)
            .field("settings", &self.settings)
            .field("class", &self.class)
            .field("config", &config)
            .field("warnings", &self.warnings)
            .field("secret_keys", &self.secret_keys)
            .finish()
    }
}

impl ConnectCheck {
    /// The validation-cache key: the same cluster, endpoint, class and config give the same answer. The
    /// config enters as a keyed hash (HMAC-SHA256 with a key chosen once per process): it holds values read
    /// from Secrets, and a plain digest of a short password could be reversed by trying candidates.
    pub fn cache_key(&self) -> String {
        let mut message = Vec::new();
        for (k, v) in &self.config {
            // Length prefixes keep `a=bc` and `ab=c` apart.
            message.extend_from_slice(&(k.len() as u64).to_le_bytes());
            message.extend_from_slice(k.as_bytes());
            message.extend_from_slice(&(v.len() as u64).to_le_bytes());
            message.extend_from_slice(v.as_bytes());
        }
        format!(
            "{}|{}|{}|{}",
            self.cluster.label(),
            self.settings.url,
            self.class,
            hex::encode(hmac_sha256(process_key(), &message))
        )
    }

    pub(crate) fn redactor(&self, password_keys: &BTreeSet<String>) -> Redactor {
        let mut secret = password_keys.clone();
        secret.extend(self.secret_keys.iter().cloned());
        Redactor::new(&self.config, &secret)
    }
}

/// The cache key's HMAC key: random, chosen once per process, never written anywhere. `RandomState` takes
/// its keys from the operating system's randomness.
fn process_key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(|| {
        let state = RandomState::new();
        let mut key = [0u8; 32];
        for (i, chunk) in key.chunks_mut(8).enumerate() {
            chunk.copy_from_slice(&state.hash_one(i).to_le_bytes());
        }
        key
    })
}

/// HMAC-SHA256 (RFC 2104) with a 32-byte key.
fn hmac_sha256(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// What Kafka Connect said about one config. Cloneable, so one answer serves every identical request.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectOutcome {
    Validated(ValidateResponse),
    /// The class is not installed; the connector classes that are.
    UnknownClass {
        installed: Vec<String>,
    },
    /// Connect answered but refused the request (4xx): a problem with the request, not an outage.
    Refused {
        message: String,
    },
    /// No client could be built from the cluster's settings (a CA or client certificate TLS refuses): a
    /// problem of the KafkaConnectCluster, not an outage.
    Misconfigured {
        message: String,
    },
    /// No usable answer: unreachable, too slow, 5xx, authentication failed.
    Unavailable {
        reason: &'static str,
        message: String,
    },
}

impl ConnectOutcome {
    /// Classifies a client error (`installed` is only used for an unknown class).
    pub fn from_error(e: &shared::Error, installed: Vec<String>) -> Self {
        match e {
            shared::Error::PluginNotFound { .. } => ConnectOutcome::UnknownClass { installed },
            shared::Error::Rejected { .. } => ConnectOutcome::Refused {
                message: e.to_string(),
            },
            shared::Error::ClientConfig(_) | shared::Error::Resolve(_) => {
                ConnectOutcome::Misconfigured {
                    message: e.to_string(),
                }
            }
            _ => ConnectOutcome::Unavailable {
                reason: e.reason(),
                message: e.to_string(),
            },
        }
    }

    /// Outages are not cached: the next request should try again.
    pub fn is_cacheable(&self) -> bool {
        !matches!(
            self,
            ConnectOutcome::Unavailable { .. } | ConnectOutcome::Misconfigured { .. }
        )
    }

    /// The `outcome` metric label.
    pub fn label(&self) -> &'static str {
        match self {
            ConnectOutcome::Validated(v) if v.error_count > 0 => "errors",
            ConnectOutcome::Validated(_) => "valid",
            ConnectOutcome::UnknownClass { .. } => "plugin_not_found",
            ConnectOutcome::Refused { .. } => "refused",
            ConnectOutcome::Misconfigured { .. } => "misconfigured",
            ConnectOutcome::Unavailable { reason, .. } => reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_is_standard_hmac_sha256() {
        // The value any HMAC-SHA256 implementation gives for this key and message.
        let key = [0x0bu8; 32];
        let got = hmac_sha256(&key, b"Hi There");
        assert_eq!(
            hex::encode(got),
            "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7"
        );
    }
}
