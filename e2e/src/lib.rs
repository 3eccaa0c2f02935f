//! Helpers for the end-to-end tests. Every test runs against the one real stack that `make test` starts
//! (etcd + kube-apiserver + kubectl, a KRaft broker, Connect workers, and the shared webhook and controller),
//! described by the JSON file `$CW_STACK_ENV`. Each test works in its own namespace with its own connector
//! names, so tests can run in parallel without disturbing each other.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use shared::connect::{Auth, ClientSettings, ConnectClient};
pub use stack::StackEnv;

pub mod connectors;
pub mod credentials;
pub mod kafka;
pub mod objects;
pub mod prom;
pub mod rbac;

/// The running stack. Panics with the way out when the tests were not started by `make test`.
pub fn env() -> &'static StackEnv {
    static ENV: OnceLock<StackEnv> = OnceLock::new();
    ENV.get_or_init(|| {
        shared::tls::install_crypto_provider();
        StackEnv::from_env().unwrap_or_else(|e| panic!("{e}"))
    })
}

pub fn kube_env() -> &'static stack::kube::KubeEnv {
    env()
        .kube
        .as_ref()
        .expect("the stack was started without Kubernetes")
}

pub fn kafka_env() -> &'static stack::kafka::KafkaEnv {
    env()
        .kafka
        .as_ref()
        .expect("the stack was started without Kafka")
}

/// A name unique to this test run and call: `<prefix>-<pid>-<n>` (DNS-1123 safe when the prefix is).
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id() % 100_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// What a kubectl run printed.
#[derive(Debug, Clone)]
pub struct Out {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    #[track_caller]
    pub fn expect_ok(self) -> Out {
        assert!(
            self.ok,
            "command failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    /// How many objects a `--dry-run=server` run said the API server accepted.
    pub fn dry_run_accepted(&self) -> usize {
        self.stdout
            .lines()
            .filter(|l| l.ends_with("(server dry run)"))
            .count()
    }

    #[track_caller]
    pub fn expect_err(self) -> Out {
        assert!(
            !self.ok,
            "command unexpectedly succeeded:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

impl From<std::process::Output> for Out {
    fn from(out: std::process::Output) -> Out {
        Out {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Runs `cmd` to its end with `stdin` written to it (or nothing to read), capturing what it prints.
pub fn output_with_stdin(
    cmd: &mut Command,
    stdin: Option<&str>,
) -> std::io::Result<std::process::Output> {
    use std::io::Write;
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes())?;
    }
    child.wait_with_output()
}

/// Runs the real kubectl against the stack's API server, as a user would, with `stdin` piped in.
pub fn kubectl_with_stdin(args: &[&str], stdin: Option<&str>) -> Out {
    let k = kube_env();
    let mut cmd = Command::new(&k.kubectl);
    cmd.arg("--kubeconfig").arg(&k.kubeconfig).args(args);
    output_with_stdin(&mut cmd, stdin)
        .unwrap_or_else(|e| panic!("running {}: {e}", k.kubectl.display()))
        .into()
}

pub fn kubectl(args: &[&str]) -> Out {
    kubectl_with_stdin(args, None)
}

/// `kubectl apply -f -` with extra flags (e.g. `--server-side`, `--dry-run=server`, `-n ns`).
pub fn apply(yaml: &str, extra: &[&str]) -> Out {
    let mut args = vec!["apply", "-f", "-"];
    args.extend_from_slice(extra);
    kubectl_with_stdin(&args, Some(yaml))
}

/// Creates a fresh namespace with the given labels.
pub fn namespace(prefix: &str, labels: &[(&str, &str)]) -> String {
    let ns = unique(prefix);
    let mut all = vec![("e2e", "true")];
    all.extend_from_slice(labels);
    apply(&namespace_object(&ns, &all), &[]).expect_ok();
    ns
}

/// The namespace `name` (e.g. the install namespace the shipped manifests name), created unless it exists.
pub fn ensure_namespace(name: &str) {
    apply(&namespace_object(name, &[]), &[]).expect_ok();
}

/// A Namespace object as JSON (which kubectl reads as YAML).
fn namespace_object(name: &str, labels: &[(&str, &str)]) -> String {
    let mut metadata = serde_json::json!({ "name": name });
    if !labels.is_empty() {
        let labels: serde_json::Map<String, serde_json::Value> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string().into()))
            .collect();
        metadata["labels"] = labels.into();
    }
    serde_json::json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": metadata }).to_string()
}

/// A Kubernetes client for the stack, as admin.
pub async fn kube_client() -> kube::Client {
    env();
    let kubeconfig = kube::config::Kubeconfig::read_from(&kube_env().kubeconfig)
        .expect("reading the kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("kubeconfig");
    kube::Client::try_from(config).expect("kube client")
}

/// A client for the main (plain http) Connect worker.
pub fn connect() -> ConnectClient {
    env();
    ConnectClient::new(&ClientSettings::new(kafka_env().connect_url.clone()))
        .expect("connect client")
}

/// Settings for the secured worker (https, mTLS, basic auth), correct unless a test changes them.
pub fn secure_settings() -> ClientSettings {
    let s = &kafka_env().secure;
    let mut c = ClientSettings::new(s.url.clone());
    c.ca_pem = Some(std::fs::read(&s.ca_pem).unwrap());
    c.client_cert_pem = Some(std::fs::read(&s.client_cert_pem).unwrap());
    c.client_key_pem = Some(std::fs::read(&s.client_key_pem).unwrap());
    c.auth = Some(Auth::Basic {
        username: s.username.clone(),
        password: s.password.clone(),
    });
    c
}

/// A Kafka Connect call from a test, asked again while the worker group rebalances: other tests share the
/// workers, and their connectors trigger rebalances during which Connect answers 409 or 500 "rebalance is
/// expected". The controller retries those too; any other answer is the result.
#[macro_export]
macro_rules! settled {
    ($call:expr) => {{
        let start = std::time::Instant::now();
        loop {
            match $call.await {
                Err($crate::ConnectError::Rebalancing { .. })
                    if start.elapsed() < std::time::Duration::from_secs(90) =>
                {
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await
                }
                other => break other,
            }
        }
    }};
}

#[doc(hidden)]
pub use shared::Error as ConnectError;

/// Polls `f` every 250 ms until it returns `Some`, or panics with `what` and the last observation after
/// `timeout`. Timeouts are generous: they bound a hang, they do not measure speed.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < timeout {
        match f().await {
            Ok(v) => return v,
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("timed out after {timeout:?} waiting for {what}; last seen: {last}");
}

/// Calls `f` every 250 ms until it returns `Ok`, or panics with `what` and the last error after `timeout`;
/// the blocking twin of [`eventually`] for tests without a runtime.
#[track_caller]
pub fn poll_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Result<T, String>) -> T {
    let start = Instant::now();
    loop {
        match f() {
            Ok(v) => return v,
            Err(e) if start.elapsed() > timeout => panic!("timed out waiting for {what}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// Starts a controller of the test's own, `<prefix>-…`, with `args`; returns once it serves its probes.
/// Needs a multi-threaded runtime (it blocks while the controller starts).
pub fn start_controller(prefix: &str, args: &[&str]) -> stack::warden::Controller {
    tokio::task::block_in_place(|| {
        stack::warden::start_controller(&env().dir, kube_env(), &unique(prefix), args, true)
    })
    .expect("starting a private controller")
}

/// A scratch directory for one test under the stack's state directory (kept for post-mortems).
pub fn scratch(name: &str) -> PathBuf {
    let d = env().dir.join("scratch").join(unique(name));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The shared webhook's `/metrics` page, for tests without a runtime.
pub fn shared_webhook_metrics() -> String {
    let url = format!(
        "{}/metrics",
        env()
            .warden
            .as_ref()
            .expect("the stack runs the shared webhook")
            .webhook_metrics_url
    );
    stack::http::get(&url).unwrap_or_else(|e| panic!("{e}")).1
}
