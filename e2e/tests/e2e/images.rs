//! The container images (`make images`) run as a Pod runs them: from the image, as user 65532, with a
//! read-only root filesystem and no capabilities, the ServiceAccount token and the TLS files mounted
//! read-only where a Pod has them, and host networking to reach the real stack. podman runs them with the
//! OCI runtime runc.
//!
//! The ServiceAccount is bound to cluster-admin: what the shipped RBAC allows is proven elsewhere; here the
//! token only shows that the binaries find the API server the in-cluster way.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use connect_warden_e2e::connectors::{delete_connector, ready, wait_running};
use connect_warden_e2e::objects::{cluster, connector, file_sink, file_source, fill};
use connect_warden_e2e::*;
use stack::process::Proc;
use stack::warden::PRIVATE_LABEL;

use crate::install::ca_bundle;
use crate::webhook::{denial, no_topics_denial, warnings};

/// Where a Pod finds its ServiceAccount token, CA and namespace.
const SA_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// Where the webhook's certificate files are mounted (a Secret volume; the certs init container writes it).
const TLS_DIR: &str = "/etc/connect-warden/tls";
const NONROOT: u32 = 65532;

/// `localhost/connect-warden/<component>:<tag>`, as `scripts/images.sh` tags it.
fn image(component: &str) -> String {
    let tag = std::env::var("CW_IMAGE_TAG").unwrap_or_else(|_| "dev".into());
    format!("localhost/connect-warden/{component}:{tag}")
}

/// The image, after checking that podman has it: a missing image fails with the command that builds it.
fn require_image(component: &str) -> String {
    let name = image(component);
    let exists = Command::new("podman")
        .args(["image", "exists", &name])
        .status()
        .unwrap_or_else(|e| panic!("running podman: {e}; install it with scripts/deps.sh"));
    assert!(
        exists.success(),
        "image {name} is missing: build the images with `make images` (scripts/images.sh)"
    );
    name
}

/// The hard limit of `resource` (a /proc/self/limits row) for this process.
fn hard_limit(resource: &str) -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    limits
        .lines()
        .find(|l| l.starts_with(resource))
        .and_then(|l| l.split_whitespace().rev().nth(1)?.parse().ok())
        .unwrap_or(u64::MAX)
}

/// `podman run` with a Pod's restrictions. runc, not crun: crun refuses hybrid cgroups ("cgroups in hybrid
/// mode not supported"). Explicit rlimits: podman's defaults for root (about a million open files and
/// processes) can exceed the host's hard limits in a sandbox, and runc fails when it cannot set one.
fn podman_run(
    name: &str,
    image: &str,
    mounts: &[(&Path, &str, bool)],
    env: &[(&str, &str)],
) -> Command {
    let nofile = hard_limit("Max open files").min(65536);
    let mut cmd = Command::new("podman");
    cmd.args(["--runtime", "runc", "run", "--rm", "--pull", "never"])
        .args(["--name", name, "--network", "host"])
        .arg(format!("--user={NONROOT}:{NONROOT}"))
        .args(["--read-only", "--cap-drop", "all"])
        .args(["--security-opt", "no-new-privileges"])
        .arg(format!("--ulimit=nofile={nofile}:{nofile}"))
        .arg("--ulimit=nproc=4096:4096");
    for (host, inside, read_only) in mounts {
        let mode = if *read_only { "ro" } else { "rw" };
        cmd.arg("--volume")
            .arg(format!("{}:{inside}:{mode}", host.display()));
    }
    for (k, v) in env {
        cmd.arg("--env").arg(format!("{k}={v}"));
    }
    cmd.arg(image);
    cmd
}

/// A container running in the background (`podman run` attached, its output in the stack's logs); stopped
/// with SIGTERM, which podman passes on, and removed even when the test fails.
struct Container {
    name: String,
    proc_: Proc,
}

impl Container {
    fn start(name: &str, cmd: Command) -> Container {
        let log = env().dir.join("logs").join(format!("{name}.log"));
        let proc_ = Proc::spawn(name, cmd, &log).expect("starting podman");
        Container {
            name: name.to_string(),
            proc_,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.proc_.log).unwrap_or_default()
    }

    /// Waits for a 200 from `url` (a probe on host networking), failing with the container's log.
    fn wait_ready(&mut self, url: &str) {
        let what = format!("{} ready at {url}", self.name);
        poll_until(&what, Duration::from_secs(60), || {
            if let Err(e) = self.proc_.check_alive() {
                panic!("{}: {e}\n{}", self.name, self.log());
            }
            match stack::http::get(url) {
                Ok((200, _)) => Ok(()),
                answer => Err(format!("{answer:?}; its log:\n{}", self.log())),
            }
        });
    }

    /// The user ids (real, effective, saved, filesystem) of the container's process, as the host sees them.
    fn uids(&self) -> String {
        let out = Command::new("podman")
            .args(["inspect", "--format", "{{.State.Pid}}", &self.name])
            .output()
            .unwrap();
        let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_else(|e| panic!("reading the status of {} (pid {pid:?}): {e}", self.name));
        status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .map(|u| u.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        self.proc_.stop(Duration::from_secs(15));
        let _ = Command::new("podman")
            .args(["rm", "--force", "--time", "0", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn free_port() -> u16 {
    stack::ports::free_port().expect("a free port")
}

/// A ServiceAccount `connect-warden` in `ns` and the files a Pod of it gets in [`SA_DIR`]: a token from
/// the TokenRequest API, the API server's CA and the namespace. Returns the directory and the binding's
/// guard.
fn service_account(ns: &str, dir: &Path) -> (PathBuf, Deleted) {
    let binding = unique("cw-images");
    apply(
        &fill(
            include_str!("fixtures/images/service-account.yaml"),
            &[("NAMESPACE", ns), ("BINDING", &binding)],
        ),
        &[],
    )
    .expect_ok();
    let guard = Deleted(vec![("clusterrolebinding".into(), binding)]);
    let token = kubectl(&[
        "create",
        "token",
        "connect-warden",
        "-n",
        ns,
        "--duration",
        "2h",
    ])
    .expect_ok()
    .stdout;
    let sa = dir.join("serviceaccount");
    std::fs::create_dir_all(&sa).unwrap();
    std::fs::write(sa.join("token"), token.trim()).unwrap();
    std::fs::copy(&kube_env().ca_file, sa.join("ca.crt")).unwrap();
    std::fs::write(sa.join("namespace"), ns).unwrap();
    (sa, guard)
}

/// What a Pod's environment says about the API server (the `kubernetes` Service, here the apiserver on
/// the host's loopback).
fn service_env() -> (String, String) {
    let server = kube_env().server.trim_start_matches("https://");
    let (host, port) = server.rsplit_once(':').expect("host:port");
    (host.to_string(), port.to_string())
}

/// Cluster-scoped objects deleted when the test ends, however it ends.
struct Deleted(Vec<(String, String)>);

impl Drop for Deleted {
    fn drop(&mut self) {
        for (kind, name) in &self.0 {
            let _ = kubectl(&["delete", kind, name, "--ignore-not-found"]);
        }
    }
}

/// `kubectl apply` until the API server routes to the newly registered webhook (registrations reach it
/// asynchronously) and `done` accepts the answer.
#[track_caller]
fn apply_until(yaml: &str, what: &str, done: impl Fn(&Out) -> bool) -> Out {
    poll_until(what, Duration::from_secs(60), || {
        let out = apply(yaml, &[]);
        if done(&out) {
            Ok(out)
        } else {
            Err(format!("{}{}", out.stdout, out.stderr))
        }
    })
}

#[test]
fn the_certs_image_writes_the_certificates_and_the_webhook_image_admits_and_denies() {
    let (certs_image, webhook_image) = (require_image("certs"), require_image("webhook"));
    let id = unique("images-wh");
    let ns = namespace("images-wh", &[(PRIVATE_LABEL, id.as_str())]);
    let dir = scratch("images-wh");
    let (sa, _binding) = service_account(&ns, &dir);
    let (host, port) = service_env();
    let in_cluster = [
        ("KUBERNETES_SERVICE_HOST", host.as_str()),
        ("KUBERNETES_SERVICE_PORT", port.as_str()),
    ];

    // A private registration: only this namespace, so the shared webhook is not involved. No caBundle
    // yet: connect-warden-certs writes it.
    let (webhook_port, metrics_port) = (free_port(), free_port());
    let hook_name = unique("cw-images");
    let url = format!("https://127.0.0.1:{webhook_port}");
    apply(
        &stack::warden::webhook_configurations(&hook_name, &url, None, Some(&id)),
        &[],
    )
    .expect_ok();
    let _registered = Deleted(vec![
        ("mutatingwebhookconfiguration".into(), hook_name.clone()),
        ("validatingwebhookconfiguration".into(), hook_name.clone()),
    ]);

    // `connect-warden-certs ensure`, configured as the self-managed overlay's init container does, writing
    // into a volume the webhook mounts next (writable by the non-root user only, like an emptyDir with
    // fsGroup).
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    std::os::unix::fs::chown(&tls, Some(NONROOT), Some(NONROOT)).unwrap();
    let mut ensure = podman_run(
        &unique("cw-img-certs"),
        &certs_image,
        &[(&sa, SA_DIR, true), (&tls, TLS_DIR, false)],
        &[
            in_cluster[0],
            in_cluster[1],
            ("CW_CERTS_NAMESPACE", &ns),
            ("CW_CERTS_SECRET", "connect-warden-webhook-tls"),
            ("CW_CERTS_SERVICE", "connect-warden-webhook"),
            ("CW_CERTS_WEBHOOK_CONFIG", &hook_name),
            // The API server reaches this webhook by URL on the loopback address.
            ("CW_CERTS_EXTRA_SANS", "127.0.0.1"),
            ("CW_CERTS_OUT_DIR", TLS_DIR),
            ("CW_LOG_FORMAT", "text"),
        ],
    );
    let Output {
        status,
        stdout,
        stderr,
    } = ensure.arg("ensure").output().expect("running podman");
    let stderr = String::from_utf8_lossy(&stderr);
    assert!(status.success(), "certs ensure failed: {stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{stderr}", String::from_utf8_lossy(&stdout)));
    assert_eq!(summary["filesChanged"], true, "{summary}");

    // The Secret it made, the files it wrote (as 65532) and the caBundle it put into both registrations.
    let secret = |key: &str| {
        kubectl(&[
            "get",
            "secret",
            "connect-warden-webhook-tls",
            "-n",
            &ns,
            "-o",
            &format!("go-template={{{{index .data \"{key}\" | base64decode}}}}"),
        ])
        .expect_ok()
        .stdout
    };
    let secret_type = kubectl(&[
        "get",
        "secret",
        "connect-warden-webhook-tls",
        "-n",
        &ns,
        "-o",
        "jsonpath={.type}",
    ])
    .expect_ok()
    .stdout;
    assert_eq!(secret_type, "kubernetes.io/tls");
    let keys = kubectl(&[
        "get",
        "secret",
        "connect-warden-webhook-tls",
        "-n",
        &ns,
        "-o",
        "go-template={{range $k, $v := .data}}{{$k}} {{end}}",
    ])
    .expect_ok()
    .stdout;
    assert_eq!(keys, "ca-signer.crt ca-signer.key ca.crt tls.crt tls.key ");
    for file in ["tls.crt", "tls.key", "ca.crt"] {
        let path = tls.join(file);
        let written = std::fs::read_to_string(&path).unwrap();
        assert_eq!(written, secret(file), "{file} differs from the Secret");
        assert_eq!(std::fs::metadata(&path).unwrap().uid(), NONROOT, "{file}");
    }
    let bundle = std::fs::read_to_string(tls.join("ca.crt")).unwrap();
    assert_eq!(bundle.matches("BEGIN CERTIFICATE").count(), 1, "{bundle}");
    for kind in [
        "mutatingwebhookconfiguration",
        "validatingwebhookconfiguration",
    ] {
        assert_eq!(ca_bundle(kind, &hook_name), bundle, "{kind}");
    }

    // The webhook, serving those files from a read-only mount.
    let name = unique("cw-img-webhook");
    let mut cmd = podman_run(
        &name,
        &webhook_image,
        &[(&sa, SA_DIR, true), (&tls, TLS_DIR, true)],
        &in_cluster,
    );
    cmd.arg(format!("--listen-addr=127.0.0.1:{webhook_port}"))
        .arg(format!("--metrics-addr=127.0.0.1:{metrics_port}"))
        .arg(format!("--tls-cert-file={TLS_DIR}/tls.crt"))
        .arg(format!("--tls-key-file={TLS_DIR}/tls.key"))
        .arg(format!("--watch-namespaces={ns}"))
        .arg("--log-format=text");
    let mut webhook = Container::start(&name, cmd);
    webhook.wait_ready(&format!("http://127.0.0.1:{metrics_port}/readyz"));
    assert_eq!(
        webhook.uids(),
        "65532 65532 65532 65532",
        "the webhook runs as root"
    );

    // Admitted: the cluster, then a connector (the mutating webhook's warning shows which webhook answered).
    let local = cluster(&ns, "local", &kafka_env().connect_url)
        .label(PRIVATE_LABEL, &id)
        .yaml();
    let out = apply_until(&local, "the cluster admitted", |o| o.ok);
    assert_eq!(
        out.stdout.trim(),
        "kafkaconnectcluster.connectwarden.io/local created"
    );
    let source = unique("src");
    let yaml = file_source(&ns, &source, &source, dir.join("in.txt").display())
        .on("local")
        .label(PRIVATE_LABEL, &id)
        .tasks_max(1)
        .config_value("batch.size", 200.into())
        .yaml();
    let out = apply_until(&yaml, "the connector admitted by this webhook", |o| {
        o.ok && o.stderr.contains("Warning:")
    });
    assert_eq!(
        out.stdout.trim(),
        format!("kafkaconnector.connectwarden.io/{source} created")
    );
    assert_eq!(
        warnings(&out),
        vec![
            "spec.config: numbers and booleans converted to strings: batch.size: 200 → \"200\"; quote them \
             in Git (e.g. batch.size: \"200\") so GitOps diffs stay clean"
        ]
    );

    // Denied, with Kafka Connect's own validation reached from the container.
    let sink = unique("sink");
    let out = connector(&ns, &sink, "FileStreamSink")
        .on("local")
        .label(PRIVATE_LABEL, &id)
        .config("file", dir.join("out.txt").display())
        .apply();
    assert_eq!(denial(&out), no_topics_denial(&ns, "local"));
    assert!(
        kubectl(&["get", "kafkaconnector", &sink, "-n", &ns])
            .stderr
            .contains("NotFound")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_image_creates_a_connector_and_reports_ready() {
    let controller_image = require_image("controller");
    let id = unique("images-ctl");
    let ns = namespace("images-ctl", &[(PRIVATE_LABEL, id.as_str())]);
    let dir = scratch("images-ctl");
    let (sa, _binding) = service_account(&ns, &dir);
    let (host, port) = service_env();

    // Only this namespace and only objects with this test's label: the shared controller and this one
    // never meet. Its own Lease, so it elects itself without waiting for the shared controller's.
    let (name, lease, metrics_port) = (
        unique("cw-img-controller"),
        unique("cw-images"),
        free_port(),
    );
    let mut cmd = podman_run(
        &name,
        &controller_image,
        &[(&sa, SA_DIR, true)],
        &[
            ("KUBERNETES_SERVICE_HOST", &host),
            ("KUBERNETES_SERVICE_PORT", &port),
            ("POD_NAME", &name),
            ("POD_NAMESPACE", &ns),
        ],
    );
    cmd.arg(format!("--watch-namespaces={ns}"))
        .arg(format!("--label-selector={PRIVATE_LABEL}={id}"))
        .arg(format!("--metrics-addr=127.0.0.1:{metrics_port}"))
        .args(["--leader-election", "--lease-name", &lease])
        .args(["--poll-interval-seconds", "1", "--log-format", "text"]);
    let controller = tokio::task::block_in_place(|| {
        let mut c = Container::start(&name, cmd);
        c.wait_ready(&format!("http://127.0.0.1:{metrics_port}/readyz"));
        c
    });
    assert_eq!(
        controller.uids(),
        "65532 65532 65532 65532",
        "the controller runs as root"
    );
    // The Lease in the Pod's namespace ($POD_NAMESPACE), held by the Pod's name ($POD_NAME).
    let holder = kubectl(&[
        "get",
        "lease",
        &lease,
        "-n",
        &ns,
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ])
    .expect_ok()
    .stdout;
    assert_eq!(holder, name);

    cluster(&ns, "main", &kafka_env().connect_url)
        .label(PRIVATE_LABEL, &id)
        .apply()
        .expect_ok();
    let sink = unique("cw-img-sink");
    file_sink(&ns, &sink, &sink, dir.join("out.txt").display())
        .label(PRIVATE_LABEL, &id)
        .tasks_max(1)
        .apply()
        .expect_ok();
    let k = wait_running(&ns, &sink, "1/1").await;
    assert_eq!(
        ready(&k),
        (
            "True".to_string(),
            "Running".to_string(),
            "connector RUNNING, 1/1 tasks RUNNING".to_string()
        )
    );
    let on_connect = settled!(connect().list()).expect("listing connectors");
    assert!(on_connect.contains(&sink), "{on_connect:?}");

    // Deleting goes through the containerized controller's finalizer, and off Connect.
    tokio::task::block_in_place(|| delete_connector(&ns, &sink));
    let on_connect = settled!(connect().list()).expect("listing connectors");
    assert!(!on_connect.contains(&sink), "{on_connect:?}");
    // SIGTERM, as the kubelet sends it.
    tokio::task::block_in_place(|| drop(controller));
}

#[test]
fn the_cli_image_validates_manifests_mounted_read_only() {
    let image = require_image("cli");
    let dir = env().dir.join(unique("cli-image"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("connectors.yaml"),
        include_str!("fixtures/images/connectors.yaml"),
    )
    .unwrap();
    let name = unique("cli-image");
    let mut cmd = podman_run(&name, &image, &[(&dir, "/manifests", true)], &[]);
    cmd.args(["validate", "-f", "/manifests"]);
    let out = cmd.output().expect("running podman");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Exit 1: findings; every line a user needs is there, with the file and line of the object.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("/manifests/connectors.yaml:1: KafkaConnector team-a/Orders_Sink (denied)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  error: metadata.name: Invalid value: \"Orders_Sink\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"),
        "{stdout}"
    );
    assert!(stdout.contains("batch.size: 200 → \"200\""), "{stdout}");
    assert!(
        stdout.contains("1 object checked, 1 error, 1 warning"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
