//! The one error type of the controller crate. Each variant also names a metric label (`Error::reason`).

/// Why a reconcile (or start-up) failed. Messages never carry secret values: Connect's messages are
/// redacted by the client before they get here.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Kafka Connect answered with an error or could not be reached.
    #[error(transparent)]
    Connect(#[from] shared::Error),
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The connector's deletion waits for something (the cluster, Connect); the message says what.
    #[error("{0}")]
    DeletionBlocked(String),
    #[error("encoding JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid setting: {0}")]
    Settings(String),
    #[error("leader election: {0}")]
    Lease(String),
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A short, stable label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Connect(e) => e.reason(),
            Error::Kube(kube::Error::Api(s)) if s.code == 409 => "kube_conflict",
            Error::Kube(_) => "kube",
            Error::DeletionBlocked(_) => "deletion_blocked",
            Error::Json(_) => "json",
            Error::Settings(_) => "settings",
            Error::Lease(_) => "lease",
            Error::Metrics(_) => "metrics",
            Error::Io { .. } => "io",
        }
    }

    /// A Kubernetes optimistic-concurrency conflict: the object changed under us; retry soon.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Kube(kube::Error::Api(s)) if s.code == 409)
    }
}
