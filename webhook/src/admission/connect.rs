//! The Kafka Connect seam: the one validation a connector review may ask for ([`ConnectCheck`]), what came
//! back ([`ConnectOutcome`]), and who asks ([`Validator`]: the server's client with its deadline and cache,
//! or a fixed answer in tests and fuzzing).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use shared::config::{RESERVED_NAME, check_connector_name};
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
    /// The connector name Connect is asked to validate the config under.
    pub fn name(&self) -> &str {
        self.config.get(RESERVED_NAME).map_or("", String::as_str)
    }

    /// The validation-cache key: the same cluster, endpoint, class and config give the same answer. The
    /// config enters only as a keyed hash (`shared::redact::keyed_hash`): it holds values read from Secrets,
    /// and a plain digest of a short password could be reversed by trying candidates.
    ///
    /// A name Connect takes as it stands (the local rules' name check is stricter than Connect's: not empty,
    /// no ISO control characters) leaves the key, so a config validated under one name is not sent again for
    /// every new connector that copies it; any other name stays in it, so Connect still judges it. An answer
    /// whose texts quote the name it was asked under is not given under another name (the cache checks
    /// [`ConnectOutcome::mentions`]).
    pub fn cache_key(&self) -> String {
        let judged_name = Some(self.name()).filter(|n| check_connector_name(n).is_err());
        format!(
            "{}|{}|{}|{:016x}",
            self.cluster.label(),
            self.settings.url,
            self.class,
            keyed_hash(&(WithoutName(&self.config), judged_name))
        )
    }

    pub(crate) fn redactor(&self, password_keys: &BTreeSet<String>) -> Redactor {
        let mut secret = password_keys.clone();
        secret.extend(self.secret_keys.iter().cloned());
        Redactor::new(&self.config, &secret)
    }
}

/// A config's entries but `name`, for hashing.
struct WithoutName<'a>(&'a BTreeMap<String, String>);

impl Hash for WithoutName<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // `str` hashes end with a marker byte, so the entries cannot run into each other.
        for (k, v) in self.0.iter().filter(|(k, _)| *k != RESERVED_NAME) {
            k.hash(state);
            v.hash(state);
        }
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

    /// Whether a text of this answer that a decision shows quotes `text` (a connector name: such an answer
    /// is not given under another name).
    pub fn mentions(&self, text: &str) -> bool {
        match self {
            ConnectOutcome::Validated(v) => v
                .configs
                .iter()
                .flat_map(|c| &c.value.errors)
                .any(|e| e.contains(text)),
            ConnectOutcome::UnknownClass { .. } => false,
            ConnectOutcome::Refused { message }
            | ConnectOutcome::Misconfigured { message }
            | ConnectOutcome::Unavailable { message, .. } => message.contains(text),
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

    fn check(name: &str, topic: &str) -> ConnectCheck {
        let config = [
            ("name", name),
            ("connector.class", "FileStreamSource"),
            ("topic", topic),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
        ConnectCheck {
            cluster: ClusterId::Default,
            settings: ClientSettings::new("http://connect:8083"),
            class: "FileStreamSource".into(),
            config,
            warnings: Vec::new(),
            secret_keys: BTreeSet::new(),
        }
    }

    #[test]
    fn the_cache_key_leaves_out_a_name_connect_takes_as_it_stands() {
        let key = check("orders-a", "orders").cache_key();
        assert_eq!(key, check("orders-b", "orders").cache_key());
        assert_ne!(key, check("orders-a", "payments").cache_key());
        // A name Connect may refuse stays in the key, so Connect judges it.
        for odd in ["", " ", "orders\u{7}", " orders"] {
            assert_ne!(key, check(odd, "orders").cache_key(), "{odd:?}");
            assert_ne!(
                check(odd, "orders").cache_key(),
                check(&format!("{odd}x"), "orders").cache_key(),
                "{odd:?}"
            );
        }
    }

    #[test]
    fn an_answer_mentions_a_name_only_in_what_a_decision_shows() {
        let refused = ConnectOutcome::Refused {
            message: "invalid config {name=orders-a}".into(),
        };
        assert!(refused.mentions("orders-a"));
        assert!(!refused.mentions("orders-b"));
        let validated = |errors: Vec<String>| {
            let info: shared::connect::ConfigInfo = serde_json::from_value(serde_json::json!({
                "definition": {"name": "name", "type": "STRING"},
                "value": {"name": "name", "value": "orders-a", "errors": errors}
            }))
            .unwrap();
            ConnectOutcome::Validated(ValidateResponse {
                name: "FileStreamSource".into(),
                error_count: 0,
                groups: Vec::new(),
                configs: vec![info],
            })
        };
        // The echoed value is not shown; an error is.
        assert!(!validated(Vec::new()).mentions("orders-a"));
        assert!(validated(vec!["orders-a is taken".into()]).mentions("orders-a"));
    }
}
