//! The real local stack for tests and the demo: etcd + kube-apiserver + kubectl built from the
//! published Go modules, and a KRaft Kafka broker + distributed Connect worker(s) run from Maven-resolved jars.
//! Everything listens on 127.0.0.1 with free ports; every process dies with its owner.

pub mod cache;
pub mod env;
pub mod http;
pub mod kafka;
pub mod kube;
pub mod metrics_text;
pub mod monitoring;
pub mod pki;
pub mod ports;
pub mod process;
pub mod warden;

pub use env::StackEnv;

/// The one error type of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("building {what} failed: {detail}")]
    Build { what: String, detail: String },
    #[error("{what} did not become ready within {secs}s; see its log at {log}")]
    NotReady {
        what: String,
        secs: u64,
        log: String,
    },
    #[error("{what} exited early with {status}; see its log at {log}")]
    Exited {
        what: String,
        status: String,
        log: String,
    },
    #[error("certificate generation failed: {0}")]
    Cert(#[from] rcgen::Error),
    #[error("stack environment: {0}")]
    Env(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}
