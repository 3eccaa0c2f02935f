//! Hands the material to a webhook process through files it watches: `tls.crt`, `tls.key`, `ca.crt`.

use std::io::Write;
use std::path::Path;

use crate::{Material, Result, io_err};

pub const CERT_FILE: &str = "tls.crt";
pub const KEY_FILE: &str = "tls.key";
pub const CA_FILE: &str = "ca.crt";

/// Writes the files that differ from `material` into `dir` (created if missing), each atomically (a
/// temporary file renamed over the old one), so a reader never sees half a file. The key is written first
/// and readable by the owner only. Returns whether anything changed.
pub fn write_files(dir: &Path, material: &Material) -> Result<bool> {
    std::fs::create_dir_all(dir).map_err(io_err(format!("creating {}", dir.display())))?;
    let mut changed = false;
    for (name, content, mode) in [
        (KEY_FILE, &material.key_pem, 0o600),
        (CERT_FILE, &material.cert_pem, 0o644),
        (CA_FILE, &material.ca_bundle_pem, 0o644),
    ] {
        let path = dir.join(name);
        if std::fs::read(&path).is_ok_and(|old| old == content.as_bytes()) {
            continue;
        }
        write_atomic(&path, content.as_bytes(), mode)?;
        changed = true;
    }
    Ok(changed)
}

fn write_atomic(path: &Path, content: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let what = || format!("writing {}", tmp.display());
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io_err(what()))?;
    f.write_all(content).map_err(io_err(what()))?;
    f.sync_all().map_err(io_err(what()))?;
    std::fs::rename(&tmp, path).map_err(io_err(format!("replacing {}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    fn material(cert: &str) -> Material {
        Material {
            cert_pem: cert.into(),
            key_pem: "KEY".into(),
            ca_bundle_pem: "CA".into(),
            cert_not_after: 0,
            next_check: Duration::from_secs(1),
        }
    }

    #[test]
    fn writes_only_changes_with_private_key_mode() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("tls");
        assert!(write_files(&out, &material("A")).unwrap());
        assert!(!write_files(&out, &material("A")).unwrap());
        assert!(write_files(&out, &material("B")).unwrap());
        assert_eq!(std::fs::read_to_string(out.join(CERT_FILE)).unwrap(), "B");
        assert_eq!(std::fs::read_to_string(out.join(CA_FILE)).unwrap(), "CA");
        let mode = std::fs::metadata(out.join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!out.join("tls.crt.tmp").exists());
    }
}
