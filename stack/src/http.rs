//! Readiness probes and plain GETs over HTTP(S) on loopback, with reqwest's blocking client: the stack starts
//! and waits for its processes on plain threads, and a probe only needs a status code and a body.
//!
//! A probe client runs its own runtime thread, so build it where it is used (on the waiting thread) rather
//! than keeping it in a value that an async test may drop.

use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION};

use crate::{Error, Result};

/// `GET url` over plain HTTP: the status code and the body, or why nothing answered (yet). For one look, e.g.
/// a metrics page from a test; the stack's own waits keep one `Probe` for all their looks.
/// Blocking: from an async test, call it inside `tokio::task::block_in_place`.
pub fn get(url: &str) -> std::result::Result<(u16, String), String> {
    Probe::plain().map_err(|e| e.to_string())?.get(url)
}

/// GET requests to one server: plain HTTP, or HTTPS with a preconfigured TLS client (the server's CA and a
/// client certificate) and an `Authorization` header.
pub(crate) struct Probe {
    client: reqwest::blocking::Client,
    authorization: Option<String>,
}

impl Probe {
    pub(crate) fn plain() -> Result<Probe> {
        Probe::build(reqwest::blocking::Client::builder(), None)
    }

    pub(crate) fn tls(
        config: rustls::ClientConfig,
        authorization: Option<String>,
    ) -> Result<Probe> {
        Probe::build(
            reqwest::blocking::Client::builder().tls_backend_preconfigured(config),
            authorization,
        )
    }

    fn build(
        builder: reqwest::blocking::ClientBuilder,
        authorization: Option<String>,
    ) -> Result<Probe> {
        // reqwest builds its TLS settings from the process's crypto provider even for plain HTTP; ring is the
        // one every part of the stack uses.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = builder
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| Error::Env(format!("building an HTTP probe client: {e}")))?;
        Ok(Probe {
            client,
            authorization,
        })
    }

    /// `GET url`: the status code and the body, or why nothing answered (yet).
    pub(crate) fn get(&self, url: &str) -> std::result::Result<(u16, String), String> {
        let mut request = self.client.get(url).header(ACCEPT, "application/json");
        if let Some(a) = &self.authorization {
            request = request.header(AUTHORIZATION, a);
        }
        let response = request.send().map_err(|e| format!("GET {url}: {e}"))?;
        let code = response.status().as_u16();
        Ok((code, response.text().unwrap_or_default()))
    }
}
