//! The HTTP edges: the HTTPS admission envelope (`/mutate`, `/validate`: method, content type, body limit,
//! metrics and the log line around [`admission::review`]), the plain-HTTP probe and metrics server, and
//! serving-certificate reloads.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use kube::core::admission::Operation;
use sha2::{Digest, Sha256};
use shared::runtime::admin::{self, AdminServer, Readiness};

use crate::admission::{self, FailurePolicy, Webhook};
use crate::connect::LiveConnect;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::watched::Watched;

/// Everything a request handler needs.
pub struct App {
    objects: Watched,
    connect: LiveConnect,
    pub metrics: Metrics,
    policy: FailurePolicy,
}

impl App {
    pub fn new(
        objects: Watched,
        connect: LiveConnect,
        metrics: Metrics,
        policy: FailurePolicy,
    ) -> Self {
        App {
            objects,
            connect,
            metrics,
            policy,
        }
    }
}

fn bad_request(msg: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, msg.into()).into_response()
}

/// One review: checks the HTTP envelope, decides, answers, logs and counts.
async fn admission(
    app: Arc<App>,
    webhook: Webhook,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        return bad_request(format!(
            "{method} is not supported: send an AdmissionReview with POST"
        ));
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return bad_request("Content-Type must be application/json");
    }
    let started = Instant::now();
    let reviewed =
        match admission::review(webhook, &body, &app.objects, &app.connect, app.policy).await {
            Ok(r) => r,
            Err(e) => {
                app.metrics
                    .requests
                    .with_label_values(&[webhook.as_str(), "unknown", "bad_request", e.reason()])
                    .inc();
                tracing::warn!(webhook = webhook.as_str(), error = %e, "bad admission request");
                return bad_request(e.to_string());
            }
        };
    let (req, d) = (&reviewed.request, &reviewed.decision);
    let elapsed = started.elapsed();
    let operation = operation_label(&req.operation);
    app.metrics
        .requests
        .with_label_values(&[
            webhook.as_str(),
            operation,
            d.decision_label(),
            d.reason.as_str(),
        ])
        .inc();
    app.metrics
        .duration
        .with_label_values(&[webhook.as_str()])
        .observe(elapsed.as_secs_f64());
    // The log line's fields cost allocations: only when it is written.
    if tracing::enabled!(tracing::Level::INFO) {
        let cluster = req
            .object
            .as_ref()
            .and_then(|o| o.data.get("spec"))
            .and_then(|s| s.get("clusterRef"))
            .and_then(|c| c.get("name"))
            .and_then(|n| n.as_str())
            .unwrap_or_default();
        // Messages have been redacted by the decision; they are safe to log.
        let message = d.message();
        tracing::info!(
            uid = %req.uid,
            webhook = webhook.as_str(),
            kind = %req.kind.kind,
            operation,
            namespace = req.namespace.as_deref().unwrap_or_default(),
            name = %req.name,
            cluster,
            dry_run = req.dry_run,
            decision = d.decision_label(),
            reason = d.reason.as_str(),
            warnings = d.warnings.len(),
            elapsed_ms = elapsed.as_secs_f64() * 1000.0,
            message = %message,
            "admission review"
        );
    }
    axum::Json(reviewed.response().into_review()).into_response()
}

/// The `operation` metric label and log field.
fn operation_label(op: &Operation) -> &'static str {
    match op {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
        Operation::Connect => "CONNECT",
    }
}

/// `/mutate` and `/validate`: the path says which.
async fn admission_handler(
    State(app): State<Arc<App>>,
    uri: Uri,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let webhook = if uri.path() == "/mutate" {
        Webhook::Mutate
    } else {
        Webhook::Validate
    };
    admission(app, webhook, method, headers, body).await
}

pub fn admission_router(app: Arc<App>, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/mutate", any(admission_handler))
        .route("/validate", any(admission_handler))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::map_response(close_after_unread_body))
        .with_state(app)
}

/// A 413 is answered before the body is read, and the unread rest of it makes the connection unusable:
/// say so with `Connection: close`, so a keep-alive client (the API server) opens a new one for its next
/// request instead of failing on this one. (HTTP/2 drops the header; there a stream ends on its own.)
async fn close_after_unread_body(mut resp: Response) -> Response {
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE {
        resp.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
    }
    resp
}

/// How the HTTPS server accepts a connection: `TCP_NODELAY`, then the TLS handshake. Without it, a response
/// written in more than one segment waits for the peer's delayed ACK (Nagle's algorithm): up to 40 ms on
/// Linux, the tail of every admission.
pub fn https_acceptor(tls: RustlsConfig) -> RustlsAcceptor<NoDelayAcceptor> {
    RustlsAcceptor::new(tls).acceptor(NoDelayAcceptor::new())
}

/// The HTTPS admission server on `listener` (non-blocking, bound already).
pub fn https_server(
    listener: std::net::TcpListener,
    tls: RustlsConfig,
) -> std::io::Result<axum_server::Server<SocketAddr, RustlsAcceptor<NoDelayAcceptor>>> {
    Ok(axum_server::from_tcp(listener)?.acceptor(https_acceptor(tls)))
}

/// The probe and metrics routes: ready once each watch has its first list (the certificate is loaded
/// before anything serves).
pub fn probe_router(app: Arc<App>) -> Router {
    let registry = app.metrics.registry.clone();
    let synced = move || app.objects.is_synced();
    admin::router(
        registry,
        Readiness::computed(synced, "ok", "waiting for: watch caches"),
    )
}

/// The certificate and key files, read together.
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CertFiles {
    async fn read(&self) -> Result<(Vec<u8>, Vec<u8>)> {
        let read = |p: PathBuf| async move {
            tokio::fs::read(&p).await.map_err(|source| Error::Tls {
                path: p.display().to_string(),
                source,
            })
        };
        Ok((
            read(self.cert.clone()).await?,
            read(self.key.clone()).await?,
        ))
    }

    pub async fn load(&self, metrics: &Metrics) -> Result<(RustlsConfig, [u8; 32])> {
        let (cert, key) = self.read().await?;
        let digest = digest(&cert, &key);
        metrics.observe_certificate(&cert);
        let config = tls_config(&cert, &key).map_err(|source| Error::Tls {
            path: format!("{} / {}", self.cert.display(), self.key.display()),
            source,
        })?;
        Ok((RustlsConfig::from_config(config), digest))
    }
}

/// The serving TLS settings for a PEM certificate chain and key. HTTP/1.1 only: the API server calls an
/// admission webhook over HTTP/1.1 (over HTTP/2 only at a loopback URL), so the local stack measures the
/// protocol a cluster uses, and HTTP/2's stream floods (rapid reset) have nothing to aim at.
pub fn tls_config(cert: &[u8], key: &[u8]) -> std::io::Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_slice_iter(cert)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(std::io::Error::other)?;
    let key = PrivateKeyDer::from_pem_slice(key).map_err(std::io::Error::other)?;
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(std::io::Error::other)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn digest(cert: &[u8], key: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(cert);
    h.update([0]);
    h.update(key);
    h.finalize().into()
}

/// Polls the files and swaps the certificate in when their content changes. Content, not mtime: mounted
/// Secrets change through symlink swaps. A half-written pair fails to load and is retried on the next tick;
/// the old certificate keeps serving meanwhile, and connections in flight are never dropped.
pub async fn reload_certificates(
    files: CertFiles,
    config: RustlsConfig,
    mut applied: [u8; 32],
    every: Duration,
    metrics: Metrics,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (cert, key) = match files.read().await {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the serving certificate; keeping the current one");
                continue;
            }
        };
        let d = digest(&cert, &key);
        if d == applied {
            continue;
        }
        match tls_config(&cert, &key) {
            Ok(new) => {
                config.reload_from_config(new);
                applied = d;
                metrics.observe_certificate(&cert);
                metrics.cert_reloads.with_label_values(&["ok"]).inc();
                tracing::info!(cert = %files.cert.display(), "serving certificate reloaded");
            }
            Err(e) => {
                metrics.cert_reloads.with_label_values(&["error"]).inc();
                tracing::warn!(error = %e, "new serving certificate does not load yet; keeping the current one");
            }
        }
    }
}

/// Binds the probe server now (so a port clash fails at start) and serves until `stop` resolves.
pub async fn serve_probes(
    addr: SocketAddr,
    app: Arc<App>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<tokio::task::JoinHandle<()>> {
    let server = AdminServer::bind(addr, probe_router(app))
        .await
        .map_err(|source| Error::Listen {
            addr: addr.to_string(),
            source,
        })?;
    Ok(tokio::spawn(async move {
        if let Err(e) = server.serve(stop).await {
            tracing::error!(error = %e, "metrics server failed");
        }
    }))
}
