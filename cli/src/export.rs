//! `cwctl export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {}
pub async fn run(_a: ExportArgs) -> Result<u8, String> {
    Err("not yet".into())
}
