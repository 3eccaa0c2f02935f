//! The `connect-warden-webhook` binary: flags in, [`webhook::run`] out.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    shared::tls::install_crypto_provider();
    let args = webhook::Args::parse();
    shared::runtime::logging::init(args.log_format, &args.log_level);
    match webhook::run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, reason = e.reason(), "webhook failed");
            ExitCode::FAILURE
        }
    }
}
