//! `cwctl diff`.
pub async fn run(_a: crate::DiffArgs) -> Result<u8, String> {
    Err("not yet".into())
}
