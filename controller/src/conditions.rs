//! The vocabulary of the `Ready` condition: its truth value, its reasons (an enum, so a typo does not
//! compile) and which reasons mean what. Pure; every other module may use it.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    True,
    False,
    Unknown,
}

impl Truth {
    pub fn as_str(self) -> &'static str {
        match self {
            Truth::True => "True",
            Truth::False => "False",
            Truth::Unknown => "Unknown",
        }
    }
}

/// The `Ready` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    pub status: Truth,
    pub reason: Reason,
    pub message: String,
    /// No retry by the controller fixes this (kstatus `Stalled`): a person has to act. Set from the reason;
    /// a plan may set it for other reasons too (a failed task without automatic restarts).
    pub stalled: bool,
}

impl Ready {
    fn new(status: Truth, reason: Reason, message: impl Into<String>) -> Ready {
        Ready {
            status,
            reason,
            message: message.into(),
            stalled: reason.is_stalled(),
        }
    }
    pub fn yes(reason: Reason, message: impl Into<String>) -> Ready {
        Ready::new(Truth::True, reason, message)
    }
    pub fn no(reason: Reason, message: impl Into<String>) -> Ready {
        Ready::new(Truth::False, reason, message)
    }
    pub fn unknown(reason: Reason, message: impl Into<String>) -> Ready {
        Ready::new(Truth::Unknown, reason, message)
    }
}

macro_rules! reasons {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)*) => {
        /// Condition reasons, as written to `Ready` (and `Stalled`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Reason {
            $($(#[$doc])* $variant,)*
        }

        impl Reason {
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Reason::$variant => $text,)*
                }
            }

            /// The reason a condition stored this text for, if it is one of ours.
            pub fn parse(s: &str) -> Option<Reason> {
                match s {
                    $($text => Some(Reason::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

reasons! {
    Running = "Running",
    Paused = "Paused",
    Stopped = "Stopped",
    Starting = "Starting",
    Creating = "Creating",
    Updating = "Updating",
    Pausing = "Pausing",
    Resuming = "Resuming",
    Stopping = "Stopping",
    ConnectorFailed = "ConnectorFailed",
    TaskFailed = "TaskFailed",
    RestartsExhausted = "RestartsExhausted",
    ClusterUnreachable = "ClusterUnreachable",
    ClusterNotFound = "ClusterNotFound",
    ClusterNotAllowed = "ClusterNotAllowed",
    ClusterNotReady = "ClusterNotReady",
    /// A Secret the cluster's credentials or TLS settings, or the connector's `configFrom`, name is missing,
    /// or lacks the key.
    SecretNotFound = "SecretNotFound",
    /// The ConfigMap holding the cluster's CA, or one the connector's `configFrom` names, is missing, or
    /// lacks the key.
    ConfigMapNotFound = "ConfigMapNotFound",
    /// The cluster's CA bundle holds no usable PEM certificate.
    InvalidCa = "InvalidCA",
    /// Other cluster settings no client can be built from (e.g. a client certificate that does not parse).
    InvalidSettings = "InvalidSettings",
    NoCluster = "NoCluster",
    InvalidConfig = "InvalidConfig",
    NameConflict = "NameConflict",
    PluginNotFound = "PluginNotFound",
    Unauthorized = "Unauthorized",
    Rebalancing = "Rebalancing",
    ConnectError = "ConnectError",
    Deleting = "Deleting",
    DeletionBlocked = "DeletionBlocked",
    ReconciliationPaused = "ReconciliationPaused",
    /// Another writer keeps changing the connector on Kafka Connect: the controller holds its writes.
    Contended = "Contended",
    /// A KafkaConnectCluster whose last poll succeeded.
    Reachable = "Reachable",
    /// A KafkaConnectCluster whose client is being set up or not polled yet.
    Connecting = "Connecting",
    /// Lag measurement cannot read the Kafka cluster of `spec.kafka` (unreachable, refused credentials,
    /// settings that do not resolve).
    KafkaUnreachable = "KafkaUnreachable",
}

impl Reason {
    /// Reasons no retry fixes: kstatus `Stalled`, so Flux and Argo CD fail fast instead of waiting.
    pub fn is_stalled(self) -> bool {
        use Reason::*;
        matches!(
            self,
            InvalidConfig
                | NameConflict
                | PluginNotFound
                | RestartsExhausted
                | ClusterNotAllowed
                | InvalidCa
                | InvalidSettings
        )
    }

    /// Reasons that say the connector's cluster cannot be used at all (missing, not allowed, not set up).
    pub fn is_cluster_problem(self) -> bool {
        use Reason::*;
        matches!(
            self,
            ClusterNotFound
                | ClusterNotAllowed
                | ClusterNotReady
                | NoCluster
                | SecretNotFound
                | ConfigMapNotFound
                | InvalidCa
                | InvalidSettings
        )
    }

    /// Reasons that say the cluster's settings (the Secrets and ConfigMaps it reads, their content) give no
    /// client, though the cluster itself exists and may be used.
    pub fn is_settings_problem(self) -> bool {
        use Reason::*;
        matches!(
            self,
            SecretNotFound | ConfigMapNotFound | InvalidCa | InvalidSettings
        )
    }

    /// Reasons that describe an error worth keeping in `status.lastError`.
    pub fn is_error(self) -> bool {
        use Reason::*;
        self.is_cluster_problem()
            || matches!(
                self,
                ConnectorFailed
                    | TaskFailed
                    | RestartsExhausted
                    | ClusterUnreachable
                    | InvalidConfig
                    | NameConflict
                    | PluginNotFound
                    | Unauthorized
                    | ConnectError
                    | DeletionBlocked
                    | Contended
            )
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_back_and_set_stalled() {
        for r in [Reason::InvalidCa, Reason::Running, Reason::Connecting] {
            assert_eq!(Reason::parse(r.as_str()), Some(r));
        }
        assert_eq!(Reason::InvalidCa.as_str(), "InvalidCA");
        assert_eq!(Reason::parse("Failed"), None);
        assert!(Ready::no(Reason::InvalidConfig, "x").stalled);
        assert!(!Ready::no(Reason::TaskFailed, "x").stalled);
    }
}
