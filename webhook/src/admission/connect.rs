//! The Kafka Connect seam: the one validation a connector review may ask for ([`ConnectCheck`]), what came
//! back ([`ConnectOutcome`]), and who asks ([`Validator`]: the server's client with its deadline and cache,
//! or a fixed answer in tests and fuzzing).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use shared::connect::{ClientSettings, ValidateResponse};
use shared::redact::{REDACTED, Redactor, keyed_hash};
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
    /// config enters only as a keyed hash (`shared::redact::keyed_hash`): it holds values read from Secrets,
    /// and a plain digest of a short password could be reversed by trying candidates.
    pub fn cache_key(&self) -> String {
        format!(
            "{}|{}|{}|{:016x}",
            self.cluster.label(),
            self.settings.url,
            self.class,
            keyed_hash(&self.config)
        )
    }

    pub(crate) fn redactor(&self, password_keys: &BTreeSet<String>) -> Redactor {
        let mut secret = password_keys.clone();
        secret.extend(self.secret_keys.iter().cloned());
        Redactor::new(&self.config, &secret)
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
