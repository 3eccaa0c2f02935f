//! `cwctl convert`.
#[derive(Debug, clap::Args)]
pub struct ConvertArgs {}
pub fn run(_a: ConvertArgs) -> Result<u8, String> {
    Err("not yet".into())
}
