//! The release workflow: actionlint with shellcheck, and the manifests it attaches.

use super::*;

// The release workflow -----------------------------------------------------------------------------------

/// shellcheck on PATH (a Debian package that scripts/deps.sh installs): actionlint runs it on every `run:`
/// script, and silently skips that check when it is missing, so the tests require it.
fn shellcheck() -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("shellcheck"))
                .find(|f| f.is_file())
        })
        .expect("shellcheck is not installed (scripts/deps.sh installs it)")
}

/// actionlint (with shellcheck, without pyflakes: the workflows hold no Python) on `files`, from `dir`.
fn actionlint(dir: &Path, files: &[PathBuf]) -> Out {
    let out = Command::new(tools().join("actionlint"))
        .current_dir(dir)
        .arg("-shellcheck")
        .arg(shellcheck())
        .arg("-pyflakes=")
        .arg("-debug")
        .args(files)
        .output()
        .expect("running actionlint");
    out.into()
}

#[test]
fn the_release_workflow_passes_actionlint_with_shellcheck() {
    let root = stack::cache::repo_root();
    let files: Vec<PathBuf> = std::fs::read_dir(root.join(".github/workflows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(
        files.iter().any(|f| f.ends_with("release.yaml")),
        "{files:?}"
    );
    let out = actionlint(&root, &files);
    assert!(out.ok, "actionlint found problems:\n{}", out.stdout);
    // Its debug log shows shellcheck running on the scripts.
    let runs = out
        .stdout
        .lines()
        .chain(out.stderr.lines())
        .filter(|l| l.contains("[shellcheck]") && l.contains("Running "))
        .count();
    assert!(
        runs >= 5,
        "shellcheck ran {runs} times:\n{}{}",
        out.stdout,
        out.stderr
    );

    // And it reports what shellcheck finds: an unquoted variable in a copy of the workflow.
    let dir = scratch("actionlint");
    std::fs::create_dir_all(dir.join(".github/workflows")).unwrap();
    let bad = dir.join(".github/workflows/release.yaml");
    let text = std::fs::read_to_string(root.join(".github/workflows/release.yaml")).unwrap();
    let broken = text.replacen(
        "chmod +x dist/bin/*",
        "chmod +x dist/bin/*\n          echo $ARCH",
        1,
    );
    assert_ne!(broken, text);
    std::fs::write(&bad, broken).unwrap();
    let out = actionlint(&dir, &[bad]);
    assert!(!out.ok, "{}", out.stdout);
    assert!(out.stdout.contains("SC2086"), "{}", out.stdout);
}

/// What the release workflow attaches, rendered by the script it runs with the real kubectl and helm: the
/// CRDs, both overlays, the monitoring objects and both chart modes, every image at the release's registry
/// and version.
#[test]
fn the_release_manifests_name_the_released_images() {
    let out_dir = scratch("release-manifests");
    let path = std::env::join_paths(
        [
            tools().to_path_buf(),
            kube_env().kubectl.parent().unwrap().to_path_buf(),
        ]
        .into_iter()
        .chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )),
    )
    .unwrap();
    let home = scratch("release-manifests-helm");
    let out = Command::new("bash")
        .arg(repo("scripts/release-manifests.sh"))
        .args(["1.2.3", "ghcr.io/example"])
        .arg(&out_dir)
        .env("PATH", path)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .expect("running scripts/release-manifests.sh");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |f: &str| std::fs::read_to_string(out_dir.join(f)).unwrap();
    let crds = objects(&read("connect-warden-crds.yaml"));
    assert!(crds.len() >= 2 && crds.iter().all(|o| kind(o) == "CustomResourceDefinition"));
    for (file, images) in [
        ("connect-warden-self-managed.yaml", 4),
        ("connect-warden-cert-manager.yaml", 2),
        ("connect-warden-helm-self-managed.yaml", 4),
        ("connect-warden-helm-cert-manager.yaml", 2),
    ] {
        let text = read(file);
        let found: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("image: "))
            .collect();
        assert_eq!(found.len(), images, "{file}: {found:?}");
        for image in found {
            let (repo_, tag) = image.rsplit_once(':').unwrap();
            assert!(
                ["webhook", "controller", "certs"]
                    .iter()
                    .any(|c| repo_ == format!("ghcr.io/example/{c}")),
                "{file}: {image}"
            );
            assert_eq!(tag, "1.2.3", "{file}: {image}");
        }
    }
    let kinds: BTreeSet<String> = objects(&read("connect-warden-monitoring.yaml"))
        .iter()
        .map(|o| kind(o).to_string())
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            "ConfigMap".into(),
            "PrometheusRule".into(),
            "ServiceMonitor".into()
        ])
    );
    assert!(
        read("connect-warden-helm-self-managed.yaml")
            .contains("helm.sh/chart: connect-warden-1.2.3")
    );
}
