//! A real Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver and kube-controller-manager, plus
//! kubectl, built from the published Go modules by `stack/kube/build.sh` and cached.
//!
//! [`KubeStack::start`] generates a throwaway PKI (CA, apiserver serving cert, `system:masters` admin client
//! cert, the controller manager's client and serving certs, service-account signing key), starts etcd with an
//! empty data directory and kube-apiserver on free ports, writes an admin kubeconfig and waits for
//! `/readyz`, then starts kube-controller-manager with its default controllers and waits until it is healthy
//! and has created the `default` ServiceAccount. So namespaces are finalized, owner references are garbage
//! collected and ClusterRoles aggregate, as in a real cluster. There is no scheduler or kubelet: no Pod runs.

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
/// How long kube-controller-manager gets to be healthy and to have run its first controllers.
pub const CONTROLLER_MANAGER_READY_TIMEOUT: Duration = Duration::from_secs(120);
/// The user kube-controller-manager authenticates as: the bootstrap RBAC binds the
/// `system:kube-controller-manager` ClusterRole to it, which lets it mint a token per controller
/// (`--use-service-account-credentials`).
pub const CONTROLLER_MANAGER_USER: &str = "system:kube-controller-manager";
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
    /// Directory holding `etcd`, `kube-apiserver`, `kube-controller-manager` and `kubectl`.
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

/// etcd + kube-apiserver + kube-controller-manager, stopped (controller manager first, then the apiserver,
/// then etcd) when dropped.
pub struct KubeStack {
    env: KubeEnv,
    controller_manager: Proc,
    apiserver: Proc,
    etcd: Proc,
}

impl KubeStack {
    /// Builds the binaries if needed (cached), then starts a fresh, empty control plane whose state —
    /// `pki/`, `etcd/`, `kubeconfig`, `kube-controller-manager.kubeconfig`,
    /// `logs/{etcd,kube-apiserver,kube-controller-manager}.log` — lives under `dir`.
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

        let kcm_kubeconfig = dir.join("kube-controller-manager.kubeconfig");
        let rendered = render_kubeconfig(
            &server,
            &pki.ca.cert_pem,
            &pki.controller_manager.cert_pem,
            &pki.controller_manager.key_pem,
        );
        write_file(&kcm_kubeconfig, rendered.as_bytes())?;
        let kcm_port = free_port()?;
        let mut cmd = command(&bin_dir.join("kube-controller-manager"));
        cmd.args(controller_manager_args(kcm_port, &kcm_kubeconfig, &files));
        let mut controller_manager = Proc::spawn(
            "kube-controller-manager",
            cmd,
            &logs.join("kube-controller-manager.log"),
        )?;
        // Healthy, and its controllers running: the ServiceAccount controller has made `default/default`.
        let healthz = format!("https://127.0.0.1:{kcm_port}/healthz");
        let default_sa = format!("{server}/api/v1/namespaces/default/serviceaccounts/default");
        let mut last = String::new();
        let ready = wait_ready(
            &mut controller_manager,
            CONTROLLER_MANAGER_READY_TIMEOUT,
            || {
                for url in [&healthz, &default_sa] {
                    match probe.get(url) {
                        Ok((200, _)) => {}
                        Ok((code, body)) => {
                            last = format!("{url}: HTTP {code}: {}", truncate(&body, 2000));
                            return false;
                        }
                        Err(e) => {
                            last = e;
                            return false;
                        }
                    }
                }
                true
            },
        );
        if let Err(e) = ready {
            tracing::error!(last = %last, "kube-controller-manager did not become ready");
            return Err(e);
        }
        tracing::info!(
            port = kcm_port,
            secs = started.elapsed().as_secs_f32(),
            "kube-controller-manager is ready"
        );

        let env = KubeEnv {
            kubeconfig,
            server,
            kubectl: bin_dir.join("kubectl"),
            bin_dir: bin_dir.to_path_buf(),
            ca_file: files.ca_cert,
        };
        Ok(KubeStack {
            env,
            controller_manager,
            apiserver,
            etcd,
        })
    }

    pub fn env(&self) -> KubeEnv {
        self.env.clone()
    }

    /// etcd, kube-apiserver and kube-controller-manager, for the env file.
    pub fn processes(&self) -> Vec<crate::process::ProcessInfo> {
        [&self.etcd, &self.apiserver, &self.controller_manager]
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

    pub fn controller_manager(&mut self) -> &mut Proc {
        &mut self.controller_manager
    }
}

impl Drop for KubeStack {
    fn drop(&mut self) {
        self.controller_manager.stop(Duration::from_secs(10));
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

/// The paths of the PEM files kube-apiserver and kube-controller-manager read.
#[derive(Debug, Clone)]
struct PkiFiles {
    ca_cert: PathBuf,
    serving_cert: PathBuf,
    serving_key: PathBuf,
    sa_key: PathBuf,
    sa_pub: PathBuf,
    kcm_serving_cert: PathBuf,
    kcm_serving_key: PathBuf,
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

/// kube-controller-manager flags: the controllers a cluster runs by default (`*`: namespace deletion, garbage
/// collection, ClusterRole aggregation, ServiceAccounts and their tokens, the root CA ConfigMap, workloads…),
/// each with its own ServiceAccount's token as in kubeadm clusters; one instance, so no leader election;
/// HTTPS with a certificate of the stack's CA on a loopback port, whose `/healthz` needs no credentials.
/// No cloud provider, no node CIDRs, no CSR signing (nothing asks for it here).
fn controller_manager_args(port: u16, kubeconfig: &Path, f: &PkiFiles) -> Vec<String> {
    let p = |p: &Path| p.display().to_string();
    vec![
        format!("--kubeconfig={}", p(kubeconfig)),
        format!("--authentication-kubeconfig={}", p(kubeconfig)),
        format!("--authorization-kubeconfig={}", p(kubeconfig)),
        // Client certificates of the stack's CA, given here: the lookup in kube-system would also look for a
        // front-proxy CA, which this apiserver has none of, and log that it is missing every few seconds.
        "--authentication-skip-lookup=true".into(),
        format!("--client-ca-file={}", p(&f.ca_cert)),
        "--controllers=*".into(),
        "--use-service-account-credentials=true".into(),
        format!("--service-account-private-key-file={}", p(&f.sa_key)),
        format!("--root-ca-file={}", p(&f.ca_cert)),
        "--leader-elect=false".into(),
        "--bind-address=127.0.0.1".into(),
        format!("--secure-port={port}"),
        format!("--tls-cert-file={}", p(&f.kcm_serving_cert)),
        format!("--tls-private-key-file={}", p(&f.kcm_serving_key)),
        format!("--service-cluster-ip-range={SERVICE_CIDR}"),
        "--cluster-name=connect-warden".into(),
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
    controller_manager: Leaf,
    controller_manager_serving: Leaf,
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
        let controller_manager = ca.client(CONTROLLER_MANAGER_USER, None)?;
        let controller_manager_serving = ca.server(&["127.0.0.1", "localhost"])?;
        let (sa_key_pem, sa_pub_pem) = crate::pki::key_pair_pem()?;
        Ok(Pki {
            ca,
            serving,
            admin,
            controller_manager,
            controller_manager_serving,
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
            kcm_serving_cert: dir.join("kube-controller-manager.crt"),
            kcm_serving_key: dir.join("kube-controller-manager.key"),
        };
        write_file(&files.ca_cert, self.ca.cert_pem.as_bytes())?;
        write_file(&files.serving_cert, self.serving.cert_pem.as_bytes())?;
        write_file(&files.serving_key, self.serving.key_pem.as_bytes())?;
        write_file(&files.sa_key, self.sa_key_pem.as_bytes())?;
        write_file(&files.sa_pub, self.sa_pub_pem.as_bytes())?;
        write_file(
            &files.kcm_serving_cert,
            self.controller_manager_serving.cert_pem.as_bytes(),
        )?;
        write_file(
            &files.kcm_serving_key,
            self.controller_manager_serving.key_pem.as_bytes(),
        )?;
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

    fn files() -> PkiFiles {
        PkiFiles {
            ca_cert: "/p/ca.crt".into(),
            serving_cert: "/p/apiserver.crt".into(),
            serving_key: "/p/apiserver.key".into(),
            sa_key: "/p/sa.key".into(),
            sa_pub: "/p/sa.pub".into(),
            kcm_serving_cert: "/p/kube-controller-manager.crt".into(),
            kcm_serving_key: "/p/kube-controller-manager.key".into(),
        }
    }

    #[test]
    fn apiserver_args_name_every_file_and_port() {
        let f = files();
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
        // kube-controller-manager creates the `default` ServiceAccounts, so the plugin stays on as in a
        // real cluster.
        assert!(!args.iter().any(|a| a.contains("admission-plugins")));
    }

    #[test]
    fn controller_manager_args_run_the_default_controllers_on_loopback_without_leader_election() {
        let args = controller_manager_args(10257, Path::new("/d/kcm.kubeconfig"), &files());
        for want in [
            "--kubeconfig=/d/kcm.kubeconfig",
            "--authentication-kubeconfig=/d/kcm.kubeconfig",
            "--authorization-kubeconfig=/d/kcm.kubeconfig",
            "--controllers=*",
            "--use-service-account-credentials=true",
            "--service-account-private-key-file=/p/sa.key",
            "--root-ca-file=/p/ca.crt",
            "--client-ca-file=/p/ca.crt",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            "--secure-port=10257",
            "--tls-cert-file=/p/kube-controller-manager.crt",
            "--tls-private-key-file=/p/kube-controller-manager.key",
        ] {
            assert!(args.iter().any(|a| a == want), "missing {want} in {args:?}");
        }
        let flags: Vec<&str> = args.iter().filter_map(|a| a.split('=').next()).collect();
        let mut unique = flags.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), flags.len(), "a flag given twice: {args:?}");
        assert!(!args.iter().any(|a| a.starts_with("--cloud-provider")));
    }

    #[test]
    fn the_controller_manager_authenticates_as_its_bootstrap_user_outside_system_masters() {
        let pki = Pki::generate().unwrap();
        let der = pki.controller_manager.cert_der.as_ref();
        let has = |needle: &[u8]| der.windows(needle.len()).any(|w| w == needle);
        assert!(has(CONTROLLER_MANAGER_USER.as_bytes()));
        assert!(!has(b"system:masters"));
    }
}
