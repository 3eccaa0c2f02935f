//! `cwctl` (also installed as the kubectl plugin `kubectl-connect_warden`): connect-warden's verdict before
//! `kubectl apply`, with the admission webhook's own decision code; a diff against Kafka Connect; an export
//! of running connectors for adoption; conversion from other operators' resources.
//!
//! Modules in one-way order (`tests/module_order.rs` holds it): pure `input`, `report`, `diff`, `export`,
//! `convert` → `offline`, `connect` → `args` → `validate` → `commands` (each command's I/O) → this file
//! (wiring).

pub mod input;
pub mod report;

pub mod convert;
pub mod diff;
pub mod export;

pub mod connect;
pub mod offline;

pub mod args;
pub mod validate;

pub mod commands;

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser as _};

use args::{Cli, Command, EXIT_USAGE};

/// Runs cwctl with the process's arguments.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    shared::tls::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cwctl: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("cwctl: {e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Runs one command; `Err` is a usage or connection error (exit 2).
pub async fn run(cli: Cli) -> Result<u8, String> {
    match cli.command {
        Command::Validate(a) => commands::validate::run(a).await,
        Command::Snapshot(a) => commands::snapshot::run(a).await,
        Command::Diff(a) => commands::diff::run(a).await,
        Command::Export(a) => commands::export::run(a).await,
        Command::Convert(a) => commands::convert::run(a),
        Command::Completion { shell } => {
            let mut cmd = Cli::command();
            let name = cmd.get_name().to_string();
            clap_complete::generate(shell, &mut cmd, name, &mut std::io::stdout());
            Ok(0)
        }
    }
}
