//! connect-warden's controller binary: flags, logging, then the library does the work.

use clap::Parser;

fn main() -> std::process::ExitCode {
    connect_warden_controller::memory::limit_arenas();
    shared::tls::install_crypto_provider();
    let args = connect_warden_controller::Args::parse();
    shared::runtime::logging::init(args.log_format, &args.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "starting the async runtime");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(connect_warden_controller::run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "controller failed");
            std::process::ExitCode::FAILURE
        }
    }
}
