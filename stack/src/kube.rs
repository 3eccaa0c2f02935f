//! A real Kubernetes control plane on 127.0.0.1: etcd and kube-apiserver, plus kubectl, built
//! from the published Go modules by `stack/kube/build.sh` and cached.
//!
//! [`KubeStack::start`] generates a throwaway PKI (CA, apiserver serving cert, `system:masters` admin client
//! cert, service-account signing key), starts etcd with an empty data directory and kube-apiserver on free
//! ports, writes an admin kubeconfig and waits for `/readyz`. There is no kube-controller-manager, scheduler
//! or kubelet: objects are stored and served (CRDs with schemas, RBAC, admission webhooks registered by
//! `url:` + `caBundle`), but nothing reconciles them — no garbage collection of owner references, no
//! namespace finalization (a deleted namespace stays `Terminating`), no pods running.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::http::Probe;
use crate::pki::{Ca, Leaf};
use crate::ports::free_port;
use crate::process::{Proc, wait_ready};

/// The build script, relative to the repository root.
pub const BUILD_SCRIPT: &str = "stack/kube/build.sh";
/// How long kube-apiserver gets to answer `/readyz` with 200.
pub const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// The Service CIDR handed to kube-apiserver; its first address is the `kubernetes` Service's ClusterIP.
pub const SERVICE_CIDR: &str = "10.0.0.0/24";
pub const SERVICE_ACCOUNT_ISSUER: &str = "https://kubernetes.default.svc";

/// How to reach a running control plane. Serialized into the stack environment file (see [`crate::env`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubeEnv {
    /// Admin kubeconfig (client certificate in `system:masters`, all data embedded).
    pub kubeconfig: PathBuf,
    /// `https://127.0.0.1:<port>`.
    pub server: String,
    /// The kubectl binary built alongside the apiserver.
    pub kubectl: PathBuf,
    /// Directory holding `etcd`, `kube-apiserver` and `kubectl`.
    pub bin_dir: PathBuf,
    /// PEM of the CA that signed the apiserver's serving certificate and the client certificates.
    pub ca_file: PathBuf,
}

impl KubeEnv {
    /// `kubectl --kubeconfig <admin kubeconfig>`, ready for more arguments.
    pub fn kubectl_cmd(&self) -> Command {
        let mut cmd = Command::new(&self.kubectl);
        cmd.arg("--kubeconfig").arg(&self.kubeconfig);
        cmd
    }
}

/// etcd + kube-apiserver, stopped (apiserver first, then etcd) when dropped.
pub struct KubeStack {
    env: KubeEnv,
    apiserver: Proc,
    etcd: Proc,
}

impl KubeStack {
    /// Builds the binaries if needed (cached), then starts a fresh, empty control plane whose state —
    /// `pki/`, `etcd/`, `kubeconfig`, `logs/{etcd,kube-apiserver}.log` — lives under `dir`.
    pub fn start(dir: &Path) -> crate::Result<KubeStack> {
        let bin_dir = crate::cache::run_build_script(BUILD_SCRIPT)?;
        Self::start_with_bins(dir, &bin_dir)
    }

    /// Like [`KubeStack::start`] with binaries already built into `bin_dir`.
    pub fn start_with_bins(dir: &Path, bin_dir: &Path) -> crate::Result<KubeStack> {
        let started = Instant::now();
        std::fs::create_dir_all(dir).map_err(crate::io(format!("creating {}", dir.display())))?;
        let dir = dir
            .canonicalize()
            .map_err(crate::io(format!("resolving {}", dir.display())))?;
        let logs = dir.join("logs");

        let pki = Pki::generate()?;
        let files = pki.write(&dir.join("pki"))?;

        // etcd: an empty data directory every time, so every start is a fresh cluster.
        let etcd_data = dir.join("etcd");
        if etcd_data.exists() {
            std::fs::remove_dir_all(&etcd_data)
                .map_err(crate::io(format!("removing {}", etcd_data.display())))?;
        }
        let client_port = free_port()?;
        let peer_port = loop {
            let p = free_port()?;
            if p != client_port {
                break p;
            }
        };
        let etcd_url = format!("http://127.0.0.1:{client_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let mut cmd = command(&bin_dir.join("etcd"));
        cmd.arg("--name=cw")
            .arg(format!("--data-dir={}", etcd_data.display()))
            .arg(format!("--listen-client-urls={etcd_url}"))
            .arg(format!("--advertise-client-urls={etcd_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=cw={peer_url}"))
            .arg("--initial-cluster-state=new")
            // Throwaway data: skipping fsync makes every write several times faster on a busy disk.
            .arg("--unsafe-no-fsync")
            .arg("--log-level=warn");
        let mut etcd = Proc::spawn("etcd", cmd, &logs.join("etcd.log"))?;
        let etcd_probe = Probe::plain()?;
        let etcd_health = format!("http://127.0.0.1:{client_port}/health");
        wait_ready(
            &mut etcd,
            Duration::from_secs(30),
            || matches!(etcd_probe.get(&etcd_health), Ok((200, body)) if body.contains("\"health\":\"true\"")),
        )?;
        tracing::info!(url = %etcd_url, secs = started.elapsed().as_secs_f32(), "etcd is ready");

        let port = free_port()?;
        let server = format!("https://127.0.0.1:{port}");
        let mut cmd = command(&bin_dir.join("kube-apiserver"));
        cmd.args(apiserver_args(
            port,
            &etcd_url,
            &files,
            &dir.join("apiserver"),
        ));
        let mut apiserver = Proc::spawn("kube-apiserver", cmd, &logs.join("kube-apiserver.log"))?;

        let kubeconfig = dir.join("kubeconfig");
        let rendered = render_kubeconfig(
            &server,
            &pki.ca.cert_pem,
            &pki.admin.cert_pem,
            &pki.admin.key_pem,
        );
        write_file(&kubeconfig, rendered.as_bytes())?;

        let probe = Probe::tls(pki.ca.client_tls(&pki.admin)?, None)?;
        let readyz = format!("{server}/readyz");
        let mut last = String::new();
        let ready = wait_ready(&mut apiserver, READY_TIMEOUT, || match probe.get(&readyz) {
            Ok((200, _)) => true,
            Ok((code, body)) => {
                last = format!("HTTP {code}: {}", truncate(&body, 2000));
                false
            }
            Err(e) => {
                last = e;
                false
            }
        });
        if let Err(e) = ready {
            tracing::error!(last_readyz = %last, "kube-apiserver did not become ready");
            return Err(e);
        }
        tracing::info!(%server, secs = started.elapsed().as_secs_f32(), "kube-apiserver is ready");

        let env = KubeEnv {
            kubeconfig,
            server,
            kubectl: bin_dir.join("kubectl"),
            bin_dir: bin_dir.to_path_buf(),
            ca_file: files.ca_cert,
        };
        Ok(KubeStack {
            env,
            apiserver,
            etcd,
        })
    }

    pub fn env(&self) -> KubeEnv {
        self.env.clone()
    }

    /// etcd and kube-apiserver, for the env file.
    pub fn processes(&self) -> Vec<crate::process::ProcessInfo> {
        [&self.etcd, &self.apiserver]
            .into_iter()
            .filter_map(|p| p.info())
            .collect()
    }

    /// The processes, for tests that want to crash or restart them.
    pub fn apiserver(&mut self) -> &mut Proc {
        &mut self.apiserver
    }

    pub fn etcd(&mut self) -> &mut Proc {
        &mut self.etcd
    }
}

impl Drop for KubeStack {
    fn drop(&mut self) {
        self.apiserver.stop(Duration::from_secs(10));
        self.etcd.stop(Duration::from_secs(10));
    }
}

/// A command for one of our binaries, with proxy variables removed so that nothing the apiserver dials
/// (etcd, admission webhooks at `https://127.0.0.1:<port>`) is routed through a proxy.
fn command(bin: &Path) -> Command {
    let mut cmd = Command::new(bin);
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// The paths of the PEM files kube-apiserver reads.
#[derive(Debug, Clone)]
struct PkiFiles {
    ca_cert: PathBuf,
    serving_cert: PathBuf,
    serving_key: PathBuf,
    sa_key: PathBuf,
    sa_pub: PathBuf,
}

/// kube-apiserver flags for a standalone control plane: no cloud, no kubelet, no egress selector (so
/// admission webhooks given by URL are dialled directly).
fn apiserver_args(port: u16, etcd_url: &str, f: &PkiFiles, cert_dir: &Path) -> Vec<String> {
    let p = |p: &Path| p.display().to_string();
    vec![
        format!("--etcd-servers={etcd_url}"),
        "--bind-address=127.0.0.1".into(),
        "--advertise-address=127.0.0.1".into(),
        format!("--secure-port={port}"),
        format!("--cert-dir={}", p(cert_dir)),
        format!("--tls-cert-file={}", p(&f.serving_cert)),
        format!("--tls-private-key-file={}", p(&f.serving_key)),
        format!("--client-ca-file={}", p(&f.ca_cert)),
        "--authorization-mode=RBAC".into(),
        format!("--service-account-issuer={SERVICE_ACCOUNT_ISSUER}"),
        format!("--service-account-key-file={}", p(&f.sa_pub)),
        format!("--service-account-signing-key-file={}", p(&f.sa_key)),
        format!("--service-cluster-ip-range={SERVICE_CIDR}"),
        // Nothing creates the `default` ServiceAccount without kube-controller-manager, so the ServiceAccount
        // admission plugin would reject every Pod (as in controller-runtime's envtest).
        "--disable-admission-plugins=ServiceAccount".into(),
        "--allow-privileged=true".into(),
        // There are no nodes: keep the `kubernetes` Service without loopback endpoints.
        "--endpoint-reconciler-type=none".into(),
        // The mixed-version peer proxy (beta, on by default since 1.36) is useless with one apiserver, and its
        // pre-shutdown hook blocks forever when etcd is already gone (as when our owner is killed and both
        // processes get SIGTERM at once), leaving an orphaned apiserver behind.
        "--feature-gates=UnknownVersionInteroperabilityProxy=false".into(),
        "--profiling=false".into(),
    ]
}

fn write_file(path: &Path, data: &[u8]) -> crate::Result<()> {
    std::fs::write(path, data).map_err(crate::io(format!("writing {}", path.display())))
}

/// The admin kubeconfig, rendered as JSON (which kubectl and every client library read as YAML).
pub fn render_kubeconfig(server: &str, ca_pem: &str, cert_pem: &str, key_pem: &str) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    let doc = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": "connect-warden",
            "cluster": { "server": server, "certificate-authority-data": b64(ca_pem) },
        }],
        "users": [{
            "name": "admin",
            "user": { "client-certificate-data": b64(cert_pem), "client-key-data": b64(key_pem) },
        }],
        "contexts": [{
            "name": "connect-warden",
            "context": { "cluster": "connect-warden", "user": "admin" },
        }],
        "current-context": "connect-warden",
        "preferences": {},
    });
    serde_json::to_string_pretty(&doc).expect("a JSON value serializes")
}

/// The throwaway PKI of one control plane. All keys are ECDSA P-256.
struct Pki {
    ca: Ca,
    serving: Leaf,
    admin: Leaf,
    sa_key_pem: String,
    sa_pub_pem: String,
}

/// SANs of the apiserver's serving certificate: loopback, and the in-cluster names and ClusterIP.
pub const SERVING_SANS: &[&str] = &[
    "127.0.0.1",
    "::1",
    "localhost",
    "10.0.0.1",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];

impl Pki {
    fn generate() -> crate::Result<Pki> {
        let ca = Ca::new("connect-warden-kube-ca")?;
        let serving = ca.server(SERVING_SANS)?;
        let admin = ca.client("admin", Some("system:masters"))?;
        let (sa_key_pem, sa_pub_pem) = crate::pki::key_pair_pem()?;
        Ok(Pki {
            ca,
            serving,
            admin,
            sa_key_pem,
            sa_pub_pem,
        })
    }

    fn write(&self, dir: &Path) -> crate::Result<PkiFiles> {
        std::fs::create_dir_all(dir).map_err(crate::io(format!("creating {}", dir.display())))?;
        let files = PkiFiles {
            ca_cert: dir.join("ca.crt"),
            serving_cert: dir.join("apiserver.crt"),
            serving_key: dir.join("apiserver.key"),
            sa_key: dir.join("sa.key"),
            sa_pub: dir.join("sa.pub"),
        };
        write_file(&files.ca_cert, self.ca.cert_pem.as_bytes())?;
        write_file(&files.serving_cert, self.serving.cert_pem.as_bytes())?;
        write_file(&files.serving_key, self.serving.key_pem.as_bytes())?;
        write_file(&files.sa_key, self.sa_key_pem.as_bytes())?;
        write_file(&files.sa_pub, self.sa_pub_pem.as_bytes())?;
        write_file(&dir.join("admin.crt"), self.admin.cert_pem.as_bytes())?;
        write_file(&dir.join("admin.key"), self.admin.key_pem.as_bytes())?;
        Ok(files)
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_embeds_server_and_credentials() {
        let text = render_kubeconfig("https://127.0.0.1:6443", "CA PEM", "CERT PEM", "KEY PEM");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["kind"], "Config");
        assert_eq!(v["current-context"], "connect-warden");
        assert_eq!(
            v["contexts"][0]["context"]["cluster"],
            v["clusters"][0]["name"]
        );
        assert_eq!(v["contexts"][0]["context"]["user"], v["users"][0]["name"]);
        assert_eq!(
            v["clusters"][0]["cluster"]["server"],
            "https://127.0.0.1:6443"
        );
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(
            v["clusters"][0]["cluster"]["certificate-authority-data"],
            b64("CA PEM")
        );
        assert_eq!(
            v["users"][0]["user"]["client-certificate-data"],
            b64("CERT PEM")
        );
        assert_eq!(v["users"][0]["user"]["client-key-data"], b64("KEY PEM"));
    }

    #[test]
    fn pki_is_pem_and_admin_is_in_system_masters() {
        let pki = Pki::generate().unwrap();
        for pem in [&pki.ca.cert_pem, &pki.serving.cert_pem, &pki.admin.cert_pem] {
            assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        }
        for pem in [&pki.serving.key_pem, &pki.admin.key_pem, &pki.sa_key_pem] {
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
        }
        assert!(pki.sa_pub_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        // The subject is DER inside the certificate; both names must appear verbatim.
        let der = pki.admin.cert_der.as_ref();
        let has = |needle: &[u8]| der.windows(needle.len()).any(|w| w == needle);
        assert!(has(b"system:masters") && has(b"admin"));
        pki.ca.client_tls(&pki.admin).unwrap();
    }

    #[test]
    fn apiserver_args_name_every_file_and_port() {
        let f = PkiFiles {
            ca_cert: "/p/ca.crt".into(),
            serving_cert: "/p/apiserver.crt".into(),
            serving_key: "/p/apiserver.key".into(),
            sa_key: "/p/sa.key".into(),
            sa_pub: "/p/sa.pub".into(),
        };
        let args = apiserver_args(4443, "http://127.0.0.1:2379", &f, Path::new("/d/apiserver"));
        for want in [
            "--secure-port=4443",
            "--etcd-servers=http://127.0.0.1:2379",
            "--client-ca-file=/p/ca.crt",
            "--tls-cert-file=/p/apiserver.crt",
            "--tls-private-key-file=/p/apiserver.key",
            "--service-account-key-file=/p/sa.pub",
            "--service-account-signing-key-file=/p/sa.key",
            "--authorization-mode=RBAC",
        ] {
            assert!(args.iter().any(|a| a == want), "missing {want} in {args:?}");
        }
        assert!(!args.iter().any(|a| a.starts_with("--egress-selector")));
    }
}
