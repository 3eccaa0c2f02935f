//! Where built binaries and resolved jars live: `~/.cache/connect-warden/` (or `$CW_CACHE_DIR`), so only the
//! first run pays for them.

use std::path::{Path, PathBuf};

pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CW_CACHE_DIR") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    home.join(".cache").join("connect-warden")
}

/// The repository root (this crate lives in `<root>/stack`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("stack/ has a parent")
        .to_path_buf()
}

/// Runs a build script from the repository (idempotent and cached by the script itself) and returns the
/// last line it printed on stdout, which by convention is the directory of its outputs.
pub fn run_build_script(rel: &str) -> crate::Result<PathBuf> {
    let script = repo_root().join(rel);
    let out = std::process::Command::new("bash")
        .arg(&script)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(crate::io(format!("running {rel}")))?;
    if !out.status.success() {
        return Err(crate::Error::Build {
            what: rel.into(),
            detail: format!("exit status {}", out.status),
        });
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim();
    if last.is_empty() {
        return Err(crate::Error::Build {
            what: rel.into(),
            detail: "printed no output directory".into(),
        });
    }
    Ok(PathBuf::from(last))
}
