//! Self-managed TLS for the connect-warden admission webhook.
//!
//! A CA and a serving certificate for the webhook Service's DNS names live in one Secret, which is the source
//! of truth: every webhook replica converges on it (create-if-absent, optimistic concurrency on updates). The
//! CA bundle is written into the `caBundle` of the named Mutating- and ValidatingWebhookConfigurations. The
//! serving certificate is renewed before it expires; the CA is rotated before it expires with the old and new
//! CA both in the bundle, and a certificate from a new CA is only issued once the bundle holding that CA has
//! been written to the webhook configurations, so the API server trusts every certificate a replica serves.
//!
//! Use from a binary:
//! ```no_run
//! # async fn demo(client: kube::Client, settings: certs::Settings) -> Result<(), certs::Error> {
//! let material = certs::ensure(&client, &settings).await?;
//! certs::write_files(std::path::Path::new("/tls"), &material)?;
//! let shutdown = async { let _ = tokio::signal::ctrl_c().await; };
//! certs::run_rotation_loop(client, settings, |m| certs::write_files(std::path::Path::new("/tls"), m).map(|_| ()), shutdown).await
//! # }
//! ```
//!
//! The decisions (is the CA or the certificate due? which bundle? does a webhook configuration need a patch?
//! when to look again?) are pure functions in [`plan`], tested without a server.

pub mod cli;
pub mod files;
pub mod pki;
pub mod plan;
pub mod settings;
pub mod store;

pub use files::write_files;
pub use settings::{Settings, SettingsArgs};
pub use store::{Material, ensure, run_rotation_loop};

/// The one error type of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid settings: {0}")]
    Settings(String),
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("invalid certificate data: {0}")]
    Parse(String),
    #[error("Kubernetes API: {what}: {source}")]
    Kube {
        what: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("the Secret {0} kept changing under us; giving up for now")]
    Contended(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// A short, stable label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Settings(_) => "settings",
            Error::Generate(_) => "generate",
            Error::Parse(_) => "parse",
            Error::Kube { .. } => "kube",
            Error::Contended(_) => "contended",
            Error::Io { .. } => "io",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn kube_err(what: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
    let what = what.into();
    move |source| Error::Kube {
        what,
        source: Box::new(source),
    }
}

pub(crate) fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}
