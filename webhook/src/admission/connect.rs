//! The Kafka Connect seam: the one validation a connector review may ask for ([`ConnectCheck`]), what came
//! back ([`ConnectOutcome`]), and who asks ([`Validator`]: the server's client with its deadline and cache,
//! or a fixed answer in tests and fuzzing).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use shared::connect::{ClientSettings, ValidateResponse};
use shared::redact::Redactor;
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

/// One Kafka Connect validation to run, and what the decision needs afterwards.
#[derive(Debug, Clone)]
pub struct ConnectCheck {
    pub cluster: ClusterId,
    pub settings: ClientSettings,
    /// As given in `spec.class` (a class or an alias); the path of the validate call.
    pub class: String,
    /// The flat config Connect receives, with `name`, `connector.class` and `tasks.max`.
    pub config: BTreeMap<String, String>,
    /// Warnings found before Connect was asked.
    pub warnings: Vec<String>,
}

impl ConnectCheck {
    /// The validation-cache key: the same cluster, endpoint, class and config give the same answer.
    pub fn cache_key(&self) -> String {
        let mut h = Sha256::new();
        for (k, v) in &self.config {
            // Length prefixes keep `a=bc` and `ab=c` apart.
            h.update((k.len() as u64).to_le_bytes());
            h.update(k.as_bytes());
            h.update((v.len() as u64).to_le_bytes());
            h.update(v.as_bytes());
        }
        format!(
            "{}|{}|{}|{}",
            self.cluster.label(),
            self.settings.url,
            self.class,
            hex::encode(h.finalize())
        )
    }

    pub(crate) fn redactor(&self, password_keys: &BTreeSet<String>) -> Redactor {
        Redactor::new(&self.config, password_keys)
    }
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
