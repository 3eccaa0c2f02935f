//! The Helm chart (`charts/connect-warden`) with the real `helm`, built from its Go module by
//! `stack/tools/build.sh`: lint, templates the API server accepts in both certificate modes, install,
//! upgrade and uninstall on the real API server, the same objects as the kustomize install (so the two
//! cannot drift), the same permissions under the chart's own ServiceAccounts, and the release workflow
//! checked by actionlint. One file per subject below; the tools and readers of rendered objects they share
//! are here.

mod install;
mod kustomize;
mod release;
mod templates;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use connect_warden_e2e::rbac;
use connect_warden_e2e::*;
use serde_json::{Value, json};
use stack::warden::PRIVATE_LABEL;

// Tools and files --------------------------------------------------------------------------------------

/// The directory holding helm and actionlint, built once (and cached) by stack/tools/build.sh.
fn tools() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        stack::cache::tools_dir().unwrap_or_else(|e| panic!("building helm and actionlint: {e}"))
    })
}

fn repo(rel: &str) -> PathBuf {
    stack::cache::repo_root().join(rel)
}

fn chart() -> String {
    repo("charts/connect-warden").to_string_lossy().into_owned()
}

/// Runs the real helm with its own cache, config and data directories (never the user's), against the
/// stack's API server.
fn helm(args: &[&str]) -> Out {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    let home = HOME.get_or_init(|| scratch("helm-home"));
    let out = Command::new(tools().join("helm"))
        .args(args)
        .arg("--kubeconfig")
        .arg(&kube_env().kubeconfig)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .unwrap_or_else(|e| panic!("running helm: {e}"));
    out.into()
}

/// `helm template <release> charts/connect-warden -n <namespace>` with `--set` values.
fn template(release: &str, namespace: &str, set: &[&str], extra: &[&str]) -> String {
    let chart = chart();
    let mut args = vec!["template", release, chart.as_str(), "-n", namespace];
    for s in set {
        args.extend(["--set", s]);
    }
    args.extend_from_slice(extra);
    helm(&args).expect_ok().stdout
}

/// `kubectl kustomize deploy/<sub>`, as `kubectl apply -k` renders it.
fn kustomize(sub: &str) -> String {
    let dir = repo("deploy").join(sub);
    kubectl(&["kustomize", &dir.to_string_lossy()])
        .expect_ok()
        .stdout
}

/// The objects of a multi-document YAML stream, as JSON.
fn objects(yaml: &str) -> Vec<Value> {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(yaml).unwrap_or_else(|e| panic!("bad YAML ({e}):\n{yaml}"));
    docs.into_iter().filter(|v| !v.is_null()).collect()
}

fn kind(o: &Value) -> &str {
    o["kind"].as_str().unwrap_or_default()
}

fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or_default()
}

fn key(o: &Value) -> String {
    let ns = o["metadata"]["namespace"].as_str().unwrap_or("");
    format!("{} {ns}/{}", kind(o), name(o))
}

fn find<'a>(objs: &'a [Value], kind_: &str, name_: &str) -> &'a Value {
    objs.iter()
        .find(|o| kind(o) == kind_ && name(o) == name_)
        .unwrap_or_else(|| {
            let all: Vec<String> = objs.iter().map(key).collect();
            panic!("no {kind_} {name_} among {all:#?}")
        })
}

fn yaml_of(objs: &[&Value]) -> String {
    objs.iter()
        .map(|o| serde_json::to_string(o).unwrap())
        .collect::<Vec<_>>()
        .join("\n---\n")
}

/// A namespace where Pod Security `restricted` is enforced and warned about, private to this test (the
/// shared webhook leaves it alone).
fn restricted_namespace(prefix: &str) -> String {
    namespace(
        prefix,
        &[
            (PRIVATE_LABEL, "helm"),
            ("pod-security.kubernetes.io/enforce", "restricted"),
            ("pod-security.kubernetes.io/warn", "restricted"),
        ],
    )
}
