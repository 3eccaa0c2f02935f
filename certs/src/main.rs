//! `connect-warden-certs`: see [`certs::cli`].

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    shared::tls::install_crypto_provider();
    let cli = certs::cli::Cli::parse();
    shared::runtime::logging::init(cli.log_format, &cli.log_level);
    match certs::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, reason = e.reason(), "connect-warden-certs failed");
            eprintln!("connect-warden-certs: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
