//! connect-warden's admission webhook: mutating and validating admission for KafkaConnector and
//! KafkaConnectCluster.
//!
//! - [`admission`]: the one review pipeline, deciding without I/O between two seams (the Kubernetes objects
//!   a review reads, and Kafka Connect's validation).
//! - [`watched`] and [`connect`]: the server's side of those seams (watch caches and live reads; the
//!   Connect client with its deadline and validation cache).
//! - [`server`]: the HTTPS envelope, probes and metrics, and certificate reloads; [`run`] wires it all up.
//!
//! Module order (each may import only modules before it): `error` → `admission` → `args`, `metrics` →
//! `watched`, `connect` → `server` → [`run`]. `testing` (tests, fuzzing, benchmarks) imports only
//! `admission`.

pub mod admission;
pub mod args;
pub mod connect;
mod error;
pub mod metrics;
pub mod server;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod watched;

use std::sync::Arc;
use std::time::Duration;

pub use admission::FailurePolicy;
pub use args::Args;
pub use error::{Error, Result};

/// Runs the webhook until SIGTERM: loads the certificate, starts the watches, serves admission over HTTPS
/// and probes/metrics over plain HTTP, then drains in-flight reviews and exits.
pub async fn run(args: Args) -> Result<()> {
    let metrics = metrics::Metrics::new()?;
    let files = server::CertFiles {
        cert: args.tls_cert_file.clone(),
        key: args.tls_key_file.clone(),
    };
    let (tls, applied) = files.load(&metrics).await?;
    let kube = kube::Client::try_default().await?;
    let app = Arc::new(server::App::new(
        watched::Watched::start(
            kube,
            args.default_connect_url.clone(),
            args.watch_namespaces(),
        ),
        connect::LiveConnect::new(
            Duration::from_millis(args.connect_timeout_ms.max(1)),
            Duration::from_secs(args.validation_cache_ttl_seconds),
            metrics.clone(),
        ),
        metrics.clone(),
        args.connect_failure_policy,
    ));

    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let probes = server::serve_probes(args.metrics_addr, app.clone(), async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    })
    .await?;
    tokio::spawn(server::reload_certificates(
        files,
        tls.clone(),
        applied,
        Duration::from_secs(args.tls_reload_interval_seconds.max(1)),
        metrics,
    ));

    let listen_err = |source| Error::Listen {
        addr: args.listen_addr.to_string(),
        source,
    };
    let listener = std::net::TcpListener::bind(args.listen_addr).map_err(listen_err)?;
    listener.set_nonblocking(true).map_err(listen_err)?;
    let handle = axum_server::Handle::new();
    let server = server::https_server(listener, tls)
        .map_err(listen_err)?
        .handle(handle.clone());
    tracing::info!(
        listen = %args.listen_addr,
        metrics = %args.metrics_addr,
        policy = ?args.connect_failure_policy,
        "admission webhook serving"
    );
    tokio::spawn(async move {
        shared::runtime::signal::received().await;
        tracing::info!("shutting down: no new connections, finishing in-flight reviews");
        handle.graceful_shutdown(Some(Duration::from_secs(30)));
    });
    server
        .serve(server::admission_router(app, args.max_body_bytes).into_make_service())
        .await
        .map_err(listen_err)?;
    let _ = stop_tx.send(true);
    let _ = probes.await;
    tracing::info!("stopped");
    Ok(())
}
