//! connect-warden's admission webhook (DESIGN §4): mutating and validating admission for KafkaConnector and
//! KafkaConnectCluster. The decisions live in [`decision`] as pure functions; everything else is the I/O
//! around them: HTTPS serving, watch caches, Kafka Connect calls, the validation cache and metrics.

pub mod args;
pub mod cache;
pub mod connect;
pub mod decision;
mod error;
pub mod lookup;
pub mod metrics;
pub mod server;
pub mod world;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub use args::{Args, FailurePolicy};
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
    let world = world::World::start(kube.clone(), args.default_connect_url.clone());
    let app = Arc::new(server::App {
        world,
        kube,
        clients: connect::Clients::new(Duration::from_millis(args.connect_timeout_ms.max(1))),
        cache: cache::ValidationCache::new(Duration::from_secs(args.validation_cache_ttl_seconds)),
        metrics: metrics.clone(),
        policy: args.connect_failure_policy,
        cert_loaded: AtomicBool::new(true),
    });

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
    let server = axum_server::tls_rustls::from_tcp_rustls(listener, tls)
        .map_err(listen_err)?
        .handle(handle.clone());
    tracing::info!(
        listen = %args.listen_addr,
        metrics = %args.metrics_addr,
        policy = ?args.connect_failure_policy,
        "admission webhook serving"
    );
    tokio::spawn(async move {
        server::shutdown_signal().await;
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
