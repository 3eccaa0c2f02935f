//! `connect-warden-certs`: see [`certs::cli`].

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // The Kubernetes client uses ring, the one TLS crypto provider every connect-warden binary links.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = certs::cli::Cli::parse();
    certs::cli::init_logging(cli.log_format, &cli.log_level);
    match certs::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, reason = e.reason(), "connect-warden-certs failed");
            eprintln!("connect-warden-certs: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
