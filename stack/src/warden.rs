//! connect-warden itself on the local stack: installs the CRDs and the shipped RBAC, runs the webhook and the
//! controller binaries built in `target/debug` (or `$CW_BIN_DIR`) under the ServiceAccounts those manifests
//! create (kubeconfigs holding TokenRequest tokens, never the admin's), and registers the webhook by `url` +
//! `caBundle`. Every end-to-end behaviour thus also proves that the shipped RBAC is enough.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::http::Probe;
use crate::kube::KubeEnv;
use crate::pki::Ca;
use crate::ports::free_port;
use crate::process::{Proc, wait_ready};

/// Label of namespaces the shared webhook skips, so a test can register a webhook of its own for them.
pub const PRIVATE_LABEL: &str = "connectwarden.io/e2e-private";

/// The namespace the shipped manifests install into.
pub const INSTALL_NAMESPACE: &str = "connect-warden";
/// The controller's ServiceAccount in the shipped manifests.
pub const CONTROLLER_SA: &str = "connect-warden-controller";
/// The webhook's ServiceAccount in the shipped manifests (connect-warden-certs runs under it too).
pub const WEBHOOK_SA: &str = "connect-warden-webhook";
/// Lifetime of a minted token: longer than any test run (the API server sets no maximum here). A kubeconfig
/// older than half of it is minted again.
const TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The shipped RBAC of the self-managed install, from the repository root: the install namespace first.
pub const SHIPPED_RBAC: &[&str] = &[
    "deploy/base/namespace.yaml",
    "deploy/base/rbac-controller.yaml",
    "deploy/base/rbac-webhook.yaml",
    "deploy/overlays/self-managed/rbac-certs.yaml",
];

fn read_repo_file(rel: &str) -> crate::Result<String> {
    let p = crate::cache::repo_root().join(rel);
    std::fs::read_to_string(&p).map_err(crate::io(format!("reading {}", p.display())))
}

/// Applies [`SHIPPED_RBAC`] into [`INSTALL_NAMESPACE`], as `kubectl apply -k` of the self-managed overlay
/// would (the files leave the namespace of their namespaced objects to kustomize).
pub fn install_rbac(kube: &KubeEnv) -> crate::Result<()> {
    for rel in SHIPPED_RBAC {
        let text = read_repo_file(rel)?;
        kubectl(
            kube,
            &["apply", "-n", INSTALL_NAMESPACE, "-f", "-"],
            Some(&text),
        )?;
    }
    Ok(())
}

/// The documents of a multi-document YAML file whose `kind:` is one of `kinds`, joined again.
fn documents_of_kind(yaml: &str, kinds: &[&str]) -> String {
    yaml.split("\n---\n")
        .filter(|d| {
            d.lines()
                .filter_map(|l| l.strip_prefix("kind: "))
                .any(|k| kinds.contains(&k.trim()))
        })
        .collect::<Vec<_>>()
        .join("\n---\n")
}

/// Grants the controller's shipped leader-election Role and RoleBinding in `namespace`, for the Lease
/// `lease` instead of `connect-warden-controller`: what installing into that namespace gives a controller
/// with `--lease-namespace <namespace> --lease-name <lease>`. Bound to the shared install's ServiceAccount.
pub fn grant_leader_election(kube: &KubeEnv, namespace: &str, lease: &str) -> crate::Result<()> {
    let text = documents_of_kind(
        &read_repo_file("deploy/base/rbac-controller.yaml")?,
        &["Role", "RoleBinding"],
    )
    .replace(
        "resourceNames: [\"connect-warden-controller\"]",
        &format!("resourceNames: [{lease:?}]"),
    );
    kubectl(kube, &["apply", "-n", namespace, "-f", "-"], Some(&text))?;
    Ok(())
}

/// The webhook ServiceAccount of a private install in `namespace` with the self-managed overlay's certs
/// rights (`rbac-certs.yaml`): its Secret in `namespace`, and the caBundle of the webhook configurations
/// named `config` instead of `connect-warden`. Returns its kubeconfig, for connect-warden-certs. The shared
/// install's ServiceAccounts gain nothing, so their permissions stay exactly the shipped ones.
pub fn grant_certs(kube: &KubeEnv, namespace: &str, config: &str) -> crate::Result<PathBuf> {
    let account = documents_of_kind(
        &read_repo_file("deploy/base/rbac-webhook.yaml")?,
        &["ServiceAccount"],
    );
    let text = read_repo_file("deploy/overlays/self-managed/rbac-certs.yaml")?
        .replace(
            "resourceNames: [\"connect-warden\"]",
            &format!("resourceNames: [{config:?}]"),
        )
        .replace(
            &format!("namespace: {INSTALL_NAMESPACE}"),
            &format!("namespace: {namespace}"),
        )
        // Cluster-scoped names must not clash with the shared install's.
        .replace(
            "name: connect-warden-webhook-certs",
            &format!("name: {config}-certs"),
        );
    let text = format!("{account}\n---\n{text}");
    kubectl(kube, &["apply", "-n", namespace, "-f", "-"], Some(&text))?;
    service_account_kubeconfig(kube, namespace, WEBHOOK_SA)
}

/// A kubeconfig for the ServiceAccount `namespace`/`name`, with a token from the TokenRequest API (`kubectl
/// create token`) and the API server's CA: what a Pod of that ServiceAccount gets. Kept under the control
/// plane's directory and shared by every process of the stack and its tests; minted again once older than
/// half the token's lifetime.
pub fn service_account_kubeconfig(
    kube: &KubeEnv,
    namespace: &str,
    name: &str,
) -> crate::Result<PathBuf> {
    static MINTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = MINTING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = kube
        .kubeconfig
        .parent()
        .unwrap_or(Path::new("."))
        .join("identities");
    let path = dir.join(format!("{namespace}.{name}.kubeconfig"));
    let fresh = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age < TOKEN_LIFETIME / 2);
    if fresh {
        return Ok(path);
    }
    std::fs::create_dir_all(&dir).map_err(crate::io(format!("creating {}", dir.display())))?;
    let duration = format!("{}s", TOKEN_LIFETIME.as_secs());
    let token = kubectl(
        kube,
        &[
            "create",
            "token",
            name,
            "-n",
            namespace,
            "--duration",
            &duration,
        ],
        None,
    )?;
    let ca = std::fs::read_to_string(&kube.ca_file)
        .map_err(crate::io(format!("reading {}", kube.ca_file.display())))?;
    let text = token_kubeconfig(
        &kube.server,
        &ca,
        &format!("{namespace}:{name}"),
        token.trim(),
    );
    // Written whole, then renamed: a process starting meanwhile reads the old file or the new one.
    let tmp = dir.join(format!(".{namespace}.{name}.{}", std::process::id()));
    std::fs::write(&tmp, text).map_err(crate::io(format!("writing {}", tmp.display())))?;
    std::fs::rename(&tmp, &path).map_err(crate::io(format!("writing {}", path.display())))?;
    Ok(path)
}

/// A kubeconfig (JSON, which every client reads as YAML) with a bearer token.
pub fn token_kubeconfig(server: &str, ca_pem: &str, user: &str, token: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(ca_pem.as_bytes());
    let doc = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": "connect-warden",
            "cluster": { "server": server, "certificate-authority-data": b64 },
        }],
        "users": [{ "name": user, "user": { "token": token } }],
        "contexts": [{
            "name": "connect-warden",
            "context": { "cluster": "connect-warden", "user": user },
        }],
        "current-context": "connect-warden",
    });
    serde_json::to_string_pretty(&doc).expect("a JSON value serializes")
}

/// The kubeconfig of the shared install's webhook ServiceAccount.
pub fn webhook_kubeconfig(kube: &KubeEnv) -> crate::Result<PathBuf> {
    service_account_kubeconfig(kube, INSTALL_NAMESPACE, WEBHOOK_SA)
}

/// The kubeconfig of the shared install's controller ServiceAccount.
pub fn controller_kubeconfig(kube: &KubeEnv) -> crate::Result<PathBuf> {
    service_account_kubeconfig(kube, INSTALL_NAMESPACE, CONTROLLER_SA)
}

/// The shared webhook and controller of a stack.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WardenEnv {
    pub webhook_url: String,
    pub webhook_metrics_url: String,
    pub controller_metrics_url: String,
    /// The CA that signed the webhook's serving certificate (the `caBundle` of its registration).
    pub webhook_ca_pem: PathBuf,
    /// The webhook's serving certificate and key, as passed to `--tls-cert-file` and `--tls-key-file`.
    #[serde(default)]
    pub webhook_cert_pem: PathBuf,
    #[serde(default)]
    pub webhook_key_pem: PathBuf,
}

/// Where the connect-warden binaries are: `$CW_BIN_DIR`, else `$CARGO_TARGET_DIR/debug`, else the directory
/// of the running executable when the binaries were built next to it (`cw-stack` run from anywhere), else
/// the repository's `target/debug`.
pub fn bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CW_BIN_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(d).join("debug");
    }
    if let Some(d) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
        .filter(|d| d.join("connect-warden-controller").exists())
    {
        return d;
    }
    crate::cache::repo_root().join("target").join("debug")
}

fn binary(name: &str) -> crate::Result<PathBuf> {
    let p = bin_dir().join(name);
    if !p.exists() {
        return Err(crate::Error::Env(format!(
            "{} is missing: build it with `cargo build --bins`",
            p.display()
        )));
    }
    Ok(p)
}

/// `kubectl --kubeconfig … <args>`, with `stdin`; an error carries kubectl's output.
pub fn kubectl(kube: &KubeEnv, args: &[&str], stdin: Option<&str>) -> crate::Result<String> {
    use std::io::Write;
    let mut cmd = Command::new(&kube.kubectl);
    cmd.arg("--kubeconfig").arg(&kube.kubeconfig).args(args);
    cmd.stdin(if stdin.is_some() {
        std::process::Stdio::piped()
    } else {
        std::process::Stdio::null()
    });
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().map_err(crate::io("running kubectl"))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes())
            .map_err(crate::io("writing to kubectl"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(crate::io("running kubectl"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(crate::Error::Env(format!(
            "kubectl {}: {}{}",
            args.join(" "),
            text,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(text)
}

/// Applies the generated CRDs and waits until the API server serves them.
pub fn install_crds(kube: &KubeEnv) -> crate::Result<()> {
    let dir = crate::cache::repo_root().join("deploy").join("crds");
    let dir = dir.to_string_lossy().into_owned();
    kubectl(
        kube,
        &["apply", "--server-side", "--force-conflicts", "-f", &dir],
        None,
    )?;
    kubectl(
        kube,
        &[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "-f",
            &dir,
        ],
        None,
    )?;
    Ok(())
}

/// A running webhook process with its own serving certificate.
pub struct Webhook {
    proc_: Proc,
    pub port: u16,
    pub metrics_port: u16,
    pub ca_pem: String,
    pub ca_file: PathBuf,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub ca: Ca,
}

/// Starts the webhook on free loopback ports with a fresh CA and serving certificate, under the shared
/// install's webhook ServiceAccount, and waits for `/readyz`. `extra` are more flags, e.g.
/// `["--connect-failure-policy", "open"]`.
pub fn start_webhook(
    dir: &Path,
    kube: &KubeEnv,
    name: &str,
    extra: &[&str],
) -> crate::Result<Webhook> {
    start_webhook_as(dir, &webhook_kubeconfig(kube)?, name, extra)
}

/// [`start_webhook`] with the identity in `kubeconfig`.
pub fn start_webhook_as(
    dir: &Path,
    kubeconfig: &Path,
    name: &str,
    extra: &[&str],
) -> crate::Result<Webhook> {
    let bin = binary("connect-warden-webhook")?;
    let cert_dir = dir.join(name);
    std::fs::create_dir_all(&cert_dir)
        .map_err(crate::io(format!("creating {}", cert_dir.display())))?;
    let ca = Ca::new("connect-warden webhook test CA")?;
    let leaf = ca.server(&["127.0.0.1", "localhost"])?;
    let (ca_file, cert_file, key_file) = (
        cert_dir.join("ca.crt"),
        cert_dir.join("tls.crt"),
        cert_dir.join("tls.key"),
    );
    for (p, c) in [
        (&ca_file, &ca.cert_pem),
        (&cert_file, &leaf.cert_pem),
        (&key_file, &leaf.key_pem),
    ] {
        std::fs::write(p, c).map_err(crate::io(format!("writing {}", p.display())))?;
    }
    let (port, metrics_port) = (free_port()?, free_port()?);
    let mut cmd = Command::new(bin);
    cmd.env("KUBECONFIG", kubeconfig)
        .arg("--listen-addr")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--metrics-addr")
        .arg(format!("127.0.0.1:{metrics_port}"))
        .arg("--tls-cert-file")
        .arg(&cert_file)
        .arg("--tls-key-file")
        .arg(&key_file)
        .args(["--log-format", "text"])
        .args(extra);
    let mut proc_ = Proc::spawn(name, cmd, &dir.join("logs").join(format!("{name}.log")))?;
    let ready = format!("http://127.0.0.1:{metrics_port}/readyz");
    let probe = Probe::plain()?;
    wait_ready(&mut proc_, Duration::from_secs(60), || {
        matches!(probe.get(&ready), Ok((200, _)))
    })?;
    Ok(Webhook {
        proc_,
        port,
        metrics_port,
        ca_pem: ca.cert_pem.clone(),
        ca_file,
        cert_file,
        key_file,
        ca,
    })
}

impl Webhook {
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    pub fn metrics_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.metrics_port)
    }

    /// Registers this webhook for kafkaconnectors and kafkaconnectclusters under `name`. With
    /// `private = Some(v)` it serves only namespaces labelled `connectwarden.io/e2e-private=v`; with `None`
    /// every namespace but those carrying that label.
    pub fn register(&self, kube: &KubeEnv, name: &str, private: Option<&str>) -> crate::Result<()> {
        kubectl(
            kube,
            &["apply", "-f", "-"],
            Some(&webhook_configurations(
                name,
                &self.url(),
                Some(self.ca_pem.as_str()),
                private,
            )),
        )?;
        Ok(())
    }

    pub fn stop(&mut self) {
        self.proc_.stop(Duration::from_secs(10));
    }

    pub fn pid(&self) -> Option<u32> {
        self.proc_.pid()
    }

    /// Name, pid and log while running.
    pub fn info(&self) -> Option<crate::process::ProcessInfo> {
        self.proc_.info()
    }
}

/// The Mutating- and ValidatingWebhookConfiguration for a webhook reached by URL. Without `ca_pem` there is
/// no `caBundle`, for a certificate manager to write it.
pub fn webhook_configurations(
    name: &str,
    url: &str,
    ca_pem: Option<&str>,
    private: Option<&str>,
) -> String {
    let ca_bundle = ca_pem
        .map(|pem| {
            format!(
                "\n      caBundle: {}",
                base64::engine::general_purpose::STANDARD.encode(pem)
            )
        })
        .unwrap_or_default();
    let selector = match private {
        Some(v) => format!("matchLabels:\n        {PRIVATE_LABEL}: \"{v}\""),
        None => format!(
            "matchExpressions:\n      - key: {PRIVATE_LABEL}\n        operator: DoesNotExist"
        ),
    };
    let hook = |kind: &str, path: &str, ops: &str| {
        format!(
            r#"apiVersion: admissionregistration.k8s.io/v1
kind: {kind}
metadata:
  name: {name}
webhooks:
  - name: {path}.connectwarden.io
    admissionReviewVersions: ["v1"]
    sideEffects: None
    timeoutSeconds: 10
    failurePolicy: Fail
    clientConfig:
      url: {url}/{path}{ca_bundle}
    namespaceSelector:
      {selector}
    rules:
      - apiGroups: ["connectwarden.io"]
        apiVersions: ["v1alpha1"]
        operations: [{ops}]
        resources: ["kafkaconnectors", "kafkaconnectclusters"]
"#
        )
    };
    // KafkaConnectorPolicies are cluster-scoped: only the shared webhook judges them (a namespaceSelector
    // does not keep a cluster-scoped object away from a test's private webhook).
    let policies = if private.is_none() {
        "      - apiGroups: [\"connectwarden.io\"]\n        apiVersions: [\"v1alpha1\"]\n        operations: [\"CREATE\", \"UPDATE\"]\n        resources: [\"kafkaconnectorpolicies\"]\n"
    } else {
        ""
    };
    format!(
        "{}---\n{}{policies}",
        hook(
            "MutatingWebhookConfiguration",
            "mutate",
            "\"CREATE\", \"UPDATE\""
        ),
        hook(
            "ValidatingWebhookConfiguration",
            "validate",
            "\"CREATE\", \"UPDATE\""
        )
    )
}

/// A running controller process.
pub struct Controller {
    proc_: Proc,
    pub metrics_port: u16,
}

/// Starts the controller under the shared install's controller ServiceAccount with `--metrics-addr
/// 127.0.0.1:<free>` plus `extra`, and waits for `/readyz` (unless `wait` is false, e.g. for a standby
/// replica that is not ready until it leads).
pub fn start_controller(
    dir: &Path,
    kube: &KubeEnv,
    name: &str,
    extra: &[&str],
    wait: bool,
) -> crate::Result<Controller> {
    start_controller_as(dir, &controller_kubeconfig(kube)?, name, extra, wait)
}

/// [`start_controller`] with the identity in `kubeconfig`.
pub fn start_controller_as(
    dir: &Path,
    kubeconfig: &Path,
    name: &str,
    extra: &[&str],
    wait: bool,
) -> crate::Result<Controller> {
    let bin = binary("connect-warden-controller")?;
    let metrics_port = free_port()?;
    let mut cmd = Command::new(bin);
    cmd.env("KUBECONFIG", kubeconfig)
        .arg("--metrics-addr")
        .arg(format!("127.0.0.1:{metrics_port}"))
        .args(["--log-format", "text"])
        .args(extra);
    let mut proc_ = Proc::spawn(name, cmd, &dir.join("logs").join(format!("{name}.log")))?;
    if wait {
        let ready = format!("http://127.0.0.1:{metrics_port}/readyz");
        let probe = Probe::plain()?;
        wait_ready(&mut proc_, Duration::from_secs(60), || {
            matches!(probe.get(&ready), Ok((200, _)))
        })?;
    }
    Ok(Controller {
        proc_,
        metrics_port,
    })
}

impl Controller {
    pub fn metrics_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.metrics_port)
    }

    pub fn stop(&mut self) {
        self.proc_.stop(Duration::from_secs(15));
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        self.proc_.kill();
    }

    pub fn is_alive(&mut self) -> bool {
        self.proc_.check_alive().is_ok()
    }

    pub fn pid(&self) -> Option<u32> {
        self.proc_.pid()
    }

    /// Name, pid and log while running.
    pub fn info(&self) -> Option<crate::process::ProcessInfo> {
        self.proc_.info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_select_namespaces() {
        let shared = webhook_configurations("cw", "https://127.0.0.1:1", Some("PEM"), None);
        assert!(shared.contains("operator: DoesNotExist"));
        assert!(shared.contains("url: https://127.0.0.1:1/validate"));
        // DELETE is not intercepted: removing a connector must never depend on the webhook or on Connect.
        assert!(!shared.contains("DELETE"));
        let private = webhook_configurations("cw-t1", "https://127.0.0.1:1", None, Some("t1"));
        assert!(private.contains("matchLabels:\n        connectwarden.io/e2e-private: \"t1\""));
        assert!(shared.contains("url: https://127.0.0.1:1/mutate\n      caBundle: UEVN\n"));
        assert!(!private.contains("caBundle"));
    }
}
