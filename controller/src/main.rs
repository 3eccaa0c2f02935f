//! connect-warden's controller binary: flags, logging, then the library does the work.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    shared::tls::install_crypto_provider();
    let args = connect_warden_controller::Args::parse();
    shared::telemetry::init_logging(args.log_format, &args.log_level);
    match connect_warden_controller::run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "controller failed");
            std::process::ExitCode::FAILURE
        }
    }
}
