//! One TLS crypto provider (ring) for the whole process.

/// Installs ring as the process-wide rustls provider. Call first thing in `main` (and in tests); calling it
/// again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
