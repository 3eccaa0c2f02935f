//! The one error type of the shared crate. Each variant also names a metric label (`Error::reason`).

/// Errors from the Kafka Connect client, cluster resolution and the Kubernetes API. Messages never carry
/// secret values: Connect's bodies are redacted before they are stored here.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{context}: not found (HTTP 404): {message}")]
    NotFound { context: String, message: String },
    #[error("{context}: Kafka Connect is rebalancing, try again (HTTP {status}): {message}")]
    Rebalancing {
        context: String,
        status: u16,
        message: String,
    },
    #[error("{context}: authentication failed (HTTP {status}): {message}")]
    Unauthorized {
        context: String,
        status: u16,
        message: String,
    },
    #[error("{context}: connector plugin {class:?} is not installed on this Kafka Connect cluster")]
    PluginNotFound {
        context: String,
        class: String,
        message: String,
    },
    #[error("{context}: rejected by Kafka Connect (HTTP {status}): {message}")]
    Rejected {
        context: String,
        status: u16,
        message: String,
    },
    #[error("{context}: Kafka Connect failed (HTTP {status}): {message}")]
    Server {
        context: String,
        status: u16,
        message: String,
    },
    #[error("{context}: no answer within {secs}s")]
    Timeout { context: String, secs: u64 },
    #[error("{context}: cannot connect: {detail}")]
    Unreachable { context: String, detail: String },
    #[error("{context}: unexpected response: {detail}")]
    Decode { context: String, detail: String },
    #[error("invalid Kafka Connect client settings: {0}")]
    ClientConfig(String),
    #[error("{0}")]
    Resolve(String),
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A short, stable label for metrics and condition reasons.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "not_found",
            Error::Rebalancing { .. } => "rebalancing",
            Error::Unauthorized { .. } => "unauthorized",
            Error::PluginNotFound { .. } => "plugin_not_found",
            Error::Rejected { .. } => "rejected",
            Error::Server { .. } => "server_error",
            Error::Timeout { .. } => "timeout",
            Error::Unreachable { .. } => "unreachable",
            Error::Decode { .. } => "decode",
            Error::ClientConfig(_) => "client_config",
            Error::Resolve(_) => "resolve",
            Error::Kube(_) => "kube",
        }
    }

    /// The HTTP status Connect answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::NotFound { .. } => Some(404),
            Error::PluginNotFound { .. } => Some(500),
            Error::Rebalancing { status, .. }
            | Error::Unauthorized { status, .. }
            | Error::Rejected { status, .. }
            | Error::Server { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True when Connect could not be reached or did not answer in time (as opposed to answering "no").
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Error::Timeout { .. } | Error::Unreachable { .. })
    }

    /// Worth retrying with backoff: rebalances, 5xx, timeouts, connection failures.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Rebalancing { .. }
                | Error::Server { .. }
                | Error::Timeout { .. }
                | Error::Unreachable { .. }
        )
    }

    /// Connect's own message, when it sent one.
    pub fn connect_message(&self) -> Option<&str> {
        match self {
            Error::NotFound { message, .. }
            | Error::Rebalancing { message, .. }
            | Error::Unauthorized { message, .. }
            | Error::PluginNotFound { message, .. }
            | Error::Rejected { message, .. }
            | Error::Server { message, .. } => Some(message),
            _ => None,
        }
    }
}
