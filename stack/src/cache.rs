//! Where built binaries and resolved jars live: `~/.cache/connect-warden/` (or `$CW_CACHE_DIR`), so only the
//! first run pays for them.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CW_CACHE_DIR") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    home.join(".cache").join("connect-warden")
}

/// A file only a connect-warden checkout has; it marks the repository root.
const MARKER: &str = "stack/kube/build.sh";

static REPO_OVERRIDE: OnceLock<PathBuf> = OnceLock::new();

/// Makes [`repo_root`] return `dir` (from `cw-stack --repo` / `$CW_REPO`). An error if `dir` is not a
/// connect-warden checkout.
pub fn set_repo_root(dir: &Path) -> crate::Result<()> {
    if !dir.join(MARKER).is_file() {
        return Err(crate::Error::Env(format!(
            "{} is not a connect-warden checkout (no {MARKER} there)",
            dir.display()
        )));
    }
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let _ = REPO_OVERRIDE.set(dir);
    Ok(())
}

/// The repository root, whose build scripts and manifests the stack uses: the one set by
/// [`set_repo_root`], else the nearest checkout at or above the current directory, else the checkout this
/// crate was built from (this crate lives in `<root>/stack`).
pub fn repo_root() -> PathBuf {
    if let Some(d) = REPO_OVERRIDE.get() {
        return d.clone();
    }
    if let Some(d) = std::env::current_dir()
        .ok()
        .and_then(|cwd| find_checkout(&cwd))
    {
        return d;
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("stack/ has a parent")
        .to_path_buf()
}

/// The nearest directory at or above `start` that is a connect-warden checkout.
pub fn find_checkout(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|d| d.join(MARKER).is_file())
        .map(Path::to_path_buf)
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

/// The directory holding `helm` and `actionlint` (the release tools the tests run), built once and cached
/// by `stack/tools/build.sh`.
pub fn tools_dir() -> crate::Result<PathBuf> {
    run_build_script("stack/tools/build.sh")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkout_is_found_from_any_directory_inside_it() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        assert_eq!(
            find_checkout(&root.join("stack").join("src")).as_deref(),
            Some(root)
        );
        assert_eq!(find_checkout(root).as_deref(), Some(root));
        assert_eq!(find_checkout(Path::new("/")), None);
        let err = set_repo_root(&root.join("stack")).unwrap_err().to_string();
        assert!(err.contains("is not a connect-warden checkout"), "{err}");
    }
}
