//! The one error type of the webhook crate. Each variant also names a metric label (`Error::reason`).

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("TLS certificate or key {path}: {source}")]
    Tls {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("Kubernetes client: {0}")]
    Kube(#[from] kube::Error),
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// A request that is not a usable AdmissionReview: answered with HTTP 400 and this text.
    #[error("{0}")]
    BadReview(String),
    #[error("watch caches stopped before they synced")]
    CacheSync,
    #[error(transparent)]
    Connect(#[from] shared::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A short, stable label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Tls { .. } => "tls",
            Error::Listen { .. } => "listen",
            Error::Kube(_) => "kube",
            Error::Metrics(_) => "metrics",
            Error::BadReview(_) => "bad_review",
            Error::CacheSync => "cache_sync",
            Error::Connect(e) => e.reason(),
        }
    }
}
