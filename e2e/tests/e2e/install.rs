//! Installing connect-warden: every shipped manifest against the real kube-apiserver, the flags the
//! manifests pass against the real binaries, the webhook configurations' rules (deletion never waits for the
//! webhook), and self-managed certificates end to end: connect-warden-certs (the library, through its CLI)
//! creates the Secret and writes caBundle, the real webhook serves its files, and the API server admits
//! connectors through it while the certificate and the CA rotate.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use connect_warden_e2e::connectors::{patch, remove_finalizers};
use connect_warden_e2e::objects::{Cluster, cluster, file_source};
use connect_warden_e2e::*;
use stack::warden::PRIVATE_LABEL;

// Manifests ----------------------------------------------------------------------------------------------

fn deploy_dir(sub: &str) -> PathBuf {
    stack::cache::repo_root().join("deploy").join(sub)
}

/// `kubectl kustomize deploy/<sub>`: the real kustomize built into kubectl, as `kubectl apply -k` uses.
fn render(sub: &str) -> String {
    let dir = deploy_dir(sub);
    kubectl(&["kustomize", &dir.to_string_lossy()])
        .expect_ok()
        .stdout
}

/// One object of a rendered multi-document YAML.
#[derive(Debug, Clone)]
struct Doc {
    api_version: String,
    kind: String,
    name: String,
    text: String,
}

/// Splits kustomize output (documents separated by `---`, keys sorted, two-space indentation).
fn documents(yaml: &str) -> Vec<Doc> {
    let mut docs = Vec::new();
    for text in yaml.split("\n---\n") {
        let top = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let name = text
            .lines()
            .skip_while(|l| *l != "metadata:")
            .skip(1)
            .take_while(|l| l.starts_with(' '))
            .find_map(|l| l.strip_prefix("  name: "))
            .unwrap_or_default()
            .trim()
            .to_string();
        let doc = Doc {
            api_version: top("apiVersion: "),
            kind: top("kind: "),
            name,
            text: format!("{}\n", text.trim_end()),
        };
        if !doc.kind.is_empty() {
            docs.push(doc);
        }
    }
    docs
}

fn join(docs: &[&Doc]) -> String {
    docs.iter()
        .map(|d| d.text.as_str())
        .collect::<Vec<_>>()
        .join("---\n")
}

/// `kubectl apply --dry-run=server` of `docs`; every object must be reported as accepted.
#[track_caller]
fn server_dry_run(docs: &[&Doc], extra: &[&str]) {
    let mut flags = vec!["--dry-run=server"];
    flags.extend_from_slice(extra);
    let out = apply(&join(docs), &flags).expect_ok();
    let accepted = out.dry_run_accepted();
    assert_eq!(
        accepted,
        docs.len(),
        "not every object was accepted:\n{}\n{}",
        out.stdout,
        out.stderr
    );
}

/// API groups whose CRDs come from other projects and are not installed on the test API server: their
/// objects are checked client-side only (kustomize renders them; their shape is checked below).
const FOREIGN_GROUPS: &[&str] = &["cert-manager.io/", "monitoring.coreos.com/"];

fn is_foreign(d: &Doc) -> bool {
    FOREIGN_GROUPS.iter().any(|g| d.api_version.starts_with(g))
}

/// The namespace the base installs into must exist for namespaced objects to pass a server-side dry run.
pub(crate) fn ensure_install_namespace() {
    ensure_namespace(stack::warden::INSTALL_NAMESPACE);
}

#[test]
fn crds_and_both_overlays_are_accepted_by_the_api_server() {
    ensure_install_namespace();
    // The documented first step (the CRDs are kept out of the kustomizations on purpose).
    let crds = deploy_dir("crds");
    let out = kubectl(&[
        "apply",
        "--server-side",
        "--dry-run=server",
        "-f",
        &crds.to_string_lossy(),
    ])
    .expect_ok();
    let crd_files = std::fs::read_dir(&crds).unwrap().count();
    assert_eq!(crd_files, 3, "deploy/crds: one file per CRD");
    assert_eq!(
        out.stdout.matches("serverside-applied").count(),
        crd_files,
        "{}",
        out.stdout
    );

    for overlay in ["base", "overlays/self-managed", "overlays/cert-manager"] {
        let docs = documents(&render(overlay));
        let (foreign, ours): (Vec<&Doc>, Vec<&Doc>) = docs.iter().partition(|d| is_foreign(d));
        assert!(ours.len() >= 15, "{overlay}: only {} objects", ours.len());
        server_dry_run(&ours, &[]);
        if overlay == "overlays/cert-manager" {
            // Client-side only (cert-manager's CRDs are not installed here).
            let kinds: Vec<_> = foreign
                .iter()
                .map(|d| (d.kind.as_str(), d.name.as_str()))
                .collect();
            assert_eq!(
                kinds,
                [
                    ("Certificate", "connect-warden-webhook"),
                    ("Certificate", "connect-warden-webhook-ca"),
                    ("Issuer", "connect-warden-ca"),
                    ("Issuer", "connect-warden-selfsigned"),
                ]
            );
            let serving = foreign
                .iter()
                .find(|d| d.name == "connect-warden-webhook")
                .unwrap();
            for dns in [
                "connect-warden-webhook.connect-warden.svc",
                "connect-warden-webhook.connect-warden.svc.cluster.local",
                "secretName: connect-warden-webhook-tls",
            ] {
                assert!(serving.text.contains(dns), "{}", serving.text);
            }
            for d in docs
                .iter()
                .filter(|d| d.kind.ends_with("WebhookConfiguration"))
            {
                assert!(
                    d.text.contains(
                        "cert-manager.io/inject-ca-from: connect-warden/connect-warden-webhook"
                    ),
                    "{}",
                    d.text
                );
            }
        } else {
            assert!(foreign.is_empty(), "{overlay}: {foreign:?}");
        }
    }
}

#[test]
fn examples_and_argocd_config_are_accepted_by_the_api_server() {
    // No webhook serves this namespace, so the API server alone judges the objects.
    let ns = namespace("install-examples", &[(PRIVATE_LABEL, "none")]);
    let examples = documents(&render("examples"));
    let kinds: BTreeSet<_> = examples.iter().map(|d| d.kind.as_str()).collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["KafkaConnectCluster", "KafkaConnector", "Secret"])
    );
    server_dry_run(&examples.iter().collect::<Vec<_>>(), &["-n", &ns]);

    let argocd = documents(&render("argocd"));
    assert_eq!(argocd.len(), 1);
    assert_eq!(argocd[0].kind, "ConfigMap");
    assert_eq!(argocd[0].name, "argocd-cm");
    assert!(
        argocd[0]
            .text
            .contains("resource.customizations.health.connectwarden.io_KafkaConnector: |"),
        "{}",
        argocd[0].text
    );
    let moved = Doc {
        text: argocd[0]
            .text
            .replace("namespace: argocd", &format!("namespace: {ns}")),
        ..argocd[0].clone()
    };
    server_dry_run(&[&moved], &[]);
}

/// The Prometheus Operator's CRDs are not installed on the test API server: the ServiceMonitor and the
/// PrometheusRule are checked client-side only (`deploy/monitoring/check.sh` runs promtool on the rules).
#[test]
fn monitoring_objects_match_the_services_they_scrape() {
    let docs = documents(&render("monitoring"));
    let kinds: Vec<_> = docs.iter().map(|d| d.kind.as_str()).collect();
    // The ConfigMap is the Grafana dashboard (checked in alerts.rs).
    assert_eq!(kinds, ["ConfigMap", "PrometheusRule", "ServiceMonitor"]);
    let monitor = &docs[2];
    assert!(
        monitor.text.contains("connectwarden.io/metrics: \"true\""),
        "{}",
        monitor.text
    );
    assert!(monitor.text.contains("port: metrics"), "{}", monitor.text);
    // Both Services of the base carry the label and a port named `metrics`.
    let base = documents(&render("base"));
    let services: Vec<&Doc> = base.iter().filter(|d| d.kind == "Service").collect();
    assert_eq!(services.len(), 2);
    for s in services {
        assert!(
            s.text.contains("connectwarden.io/metrics: \"true\""),
            "{}",
            s.text
        );
        assert!(s.text.contains("name: metrics"), "{}", s.text);
    }
    let rule = &docs[1];
    for alert in [
        "ConnectWardenConnectorFailed",
        "ConnectWardenTaskFailed",
        "ConnectWardenRestartsExhausted",
        "ConnectWardenClusterUnreachable",
        "ConnectWardenReconcileErrors",
        "ConnectWardenWebhookDown",
        "ConnectWardenWebhookErrors",
    ] {
        assert!(rule.text.contains(&format!("alert: {alert}")), "{alert}");
    }
    assert_eq!(
        rule.text.matches("alert: ").count(),
        rule.text.matches("runbook: ").count(),
        "every alert has a runbook line"
    );
}

// Flags in the manifests against the real binaries ------------------------------------------------------

fn help(binary: &str, args: &[&str]) -> String {
    let bin = stack::warden::bin_dir().join(binary);
    let out = Command::new(&bin)
        .args(args)
        .arg("--help")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "running {}: {e} (build with `cargo build --bins`)",
                bin.display()
            )
        });
    assert!(out.status.success(), "{binary} --help failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `--flag` names in the `args:` of the Deployment `name`'s containers (kustomize output).
fn container_flags(docs: &[Doc], deployment: &str) -> Vec<String> {
    let d = docs
        .iter()
        .find(|d| d.kind == "Deployment" && d.name == deployment)
        .unwrap_or_else(|| panic!("no Deployment {deployment}"));
    d.text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- --"))
        .map(|f| format!("--{}", f.split('=').next().unwrap_or(f)))
        .collect()
}

#[test]
fn manifests_pass_only_flags_and_variables_the_binaries_know() {
    let base = documents(&render("base"));
    for (deployment, binary) in [
        ("connect-warden-controller", "connect-warden-controller"),
        ("connect-warden-webhook", "connect-warden-webhook"),
    ] {
        let text = help(binary, &[]);
        let flags = container_flags(&base, deployment);
        assert!(flags.len() >= 3, "{deployment}: {flags:?}");
        for flag in flags {
            assert!(text.contains(&flag), "{binary} has no {flag}:\n{text}");
        }
    }
    let self_managed = render("overlays/self-managed");
    let text = help("connect-warden-certs", &["run"]);
    let vars: BTreeSet<&str> = self_managed
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- name: "))
        .filter(|v| v.starts_with("CW_CERTS_"))
        .collect();
    assert!(vars.len() >= 5, "{vars:?}");
    for v in vars {
        assert!(
            text.contains(&format!("env: {v}=")),
            "connect-warden-certs has no {v}:\n{text}"
        );
    }
}

// The shipped webhook rules: deletion and metadata-only updates never depend on the webhook ---------------

/// The base's two webhook configurations as JSON, via kubectl's own YAML reading.
fn shipped_webhook_configurations() -> Vec<serde_json::Value> {
    let docs = documents(&render("base"));
    docs.iter()
        .filter(|d| d.kind.ends_with("WebhookConfiguration"))
        .map(|d| {
            let out = kubectl_with_stdin(
                &["create", "--dry-run=client", "-o", "json", "-f", "-"],
                Some(&d.text),
            )
            .expect_ok();
            serde_json::from_str(&out.stdout).expect("kubectl printed JSON")
        })
        .collect()
}

fn closed_port() -> u16 {
    // Bound and released at once: nothing listens there afterwards.
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Deletes the webhook configurations `name` when dropped.
struct Registered(String);

impl Drop for Registered {
    fn drop(&mut self) {
        for kind in [
            "mutatingwebhookconfiguration",
            "validatingwebhookconfiguration",
        ] {
            let _ = kubectl(&["delete", kind, &self.0, "--ignore-not-found"]);
        }
    }
}

/// A KafkaConnectCluster with the private label, which keeps the shared controller away from it.
fn private_cluster(ns: &str, name: &str, url: &str) -> Cluster {
    cluster(ns, name, url).label(PRIVATE_LABEL, "x")
}

#[test]
fn deletion_and_metadata_updates_never_wait_for_the_webhook() {
    let label = unique("lbl");
    let ns = namespace("install-rules", &[(PRIVATE_LABEL, &label)]);
    let hold = "connectwarden.io/e2e-hold";
    private_cluster(&ns, "held", "http://127.0.0.1:1")
        .finalizer(hold)
        .apply()
        .expect_ok();

    // The shipped configurations, pointed at a port nothing listens on, for this namespace only.
    let name = unique("cw-rules");
    let url = format!("https://127.0.0.1:{}", closed_port());
    let mut yaml = String::new();
    for mut cfg in shipped_webhook_configurations() {
        cfg["metadata"]["name"] = name.clone().into();
        let hooks = cfg["webhooks"].as_array_mut().expect("webhooks");
        assert!(!hooks.is_empty());
        for hook in hooks {
            assert_eq!(hook["failurePolicy"], "Fail");
            assert_eq!(hook["sideEffects"], "None");
            let ops = hook["rules"][0]["operations"].to_string();
            assert!(!ops.contains("DELETE"), "{ops}");
            let path = hook["clientConfig"]["service"]["path"]
                .as_str()
                .unwrap_or("/")
                .to_string();
            hook["clientConfig"] = serde_json::json!({ "url": format!("{url}{path}") });
            hook["namespaceSelector"] =
                serde_json::json!({ "matchLabels": { PRIVATE_LABEL: label } });
        }
        yaml.push_str(&serde_json::to_string(&cfg).unwrap());
        yaml.push('\n');
    }
    apply(&yaml, &[]).expect_ok();
    let _registered = Registered(name);

    // Creating goes through the (dead) webhook, so it fails once the API server has the configuration.
    poll_until("the webhook called", Duration::from_secs(60), || {
        let out = apply(
            &private_cluster(&ns, "probe", "http://127.0.0.1:1").yaml(),
            &["--dry-run=server"],
        );
        if !out.ok && out.stderr.contains("failed calling webhook") {
            Ok(())
        } else {
            Err(format!("webhook never called: {out:?}"))
        }
    });

    // A spec change is refused: the webhook is consulted...
    let out = patch(
        "kafkaconnectcluster",
        &ns,
        "held",
        "merge",
        r#"{"spec":{"url":"http://127.0.0.1:2"}}"#,
    );
    assert!(
        !out.ok && out.stderr.contains("failed calling webhook"),
        "{out:?}"
    );
    // ...but labels and annotations change without it,
    kubectl(&[
        "label",
        "kafkaconnectcluster",
        "held",
        "-n",
        &ns,
        "team=payments",
    ])
    .expect_ok();
    kubectl(&[
        "annotate",
        "kafkaconnectcluster",
        "held",
        "-n",
        &ns,
        "note=x",
    ])
    .expect_ok();
    // and deleting, including the finalizer removal a controller does, never waits for it.
    kubectl(&[
        "delete",
        "kafkaconnectcluster",
        "held",
        "-n",
        &ns,
        "--wait=false",
    ])
    .expect_ok();
    remove_finalizers("kafkaconnectcluster", &ns, "held");
    let out = kubectl(&[
        "get",
        "kafkaconnectcluster",
        "held",
        "-n",
        &ns,
        "--ignore-not-found",
        "-o",
        "name",
    ]);
    assert_eq!(out.expect_ok().stdout.trim(), "");
}

// Self-managed certificates end to end -------------------------------------------------------------------

/// Short lifetimes so a minute shows serving-certificate renewals and a CA rotation: the certificate is
/// renewed every 15 s, the CA rotated 40 s after it was made (with a trust delay of 7 s, half of 15 s).
const SHORT_LIFETIMES: &[&str] = &[
    "--cert-validity",
    "30s",
    "--cert-renew-before",
    "15s",
    "--ca-validity",
    "80s",
    "--ca-renew-before",
    "40s",
    "--check-interval",
    "1s",
];

struct CertsTarget {
    namespace: String,
    secret: String,
    config: String,
}

/// connect-warden-certs under the webhook's ServiceAccount of the target's install, as in the self-managed
/// overlay's webhook pods.
fn certs_command(sub: &str, t: &CertsTarget, out_dir: &Path) -> Command {
    let kubeconfig = stack::warden::service_account_kubeconfig(
        kube_env(),
        &t.namespace,
        stack::warden::WEBHOOK_SA,
    )
    .expect("the webhook's kubeconfig");
    let mut cmd = Command::new(stack::warden::bin_dir().join("connect-warden-certs"));
    cmd.env("KUBECONFIG", kubeconfig)
        .args([sub, "--log-format", "text", "--log-level", "info"])
        .args(["--namespace", &t.namespace, "--secret", &t.secret])
        .args([
            "--service",
            "connect-warden-webhook",
            "--webhook-config",
            &t.config,
        ])
        // The API server reaches this webhook by URL on the loopback address.
        .args(["--extra-san", "127.0.0.1", "--out-dir"])
        .arg(out_dir)
        .args(SHORT_LIFETIMES);
    cmd
}

/// The decoded caBundle of the first webhook of configuration `kind`/`name`.
pub(crate) fn ca_bundle(kind: &str, name: &str) -> String {
    kubectl(&[
        "get",
        kind,
        name,
        "-o",
        r#"go-template={{(index .webhooks 0).clientConfig.caBundle | base64decode}}"#,
    ])
    .expect_ok()
    .stdout
}

/// The leaf certificate (DER) the webhook at `url` serves right now, on a fresh connection.
fn served_certificate(rt: &tokio::runtime::Runtime, url: &str) -> Option<Vec<u8>> {
    rt.block_on(async {
        // Trust is the API server's business here; this only records what is served.
        let client = reqwest::Client::builder()
            .tls_danger_accept_invalid_certs(true)
            .tls_info(true)
            .timeout(Duration::from_secs(5))
            .build()
            .ok()?;
        let resp = client.get(format!("{url}/healthz")).send().await.ok()?;
        resp.extensions()
            .get::<reqwest::tls::TlsInfo>()?
            .peer_certificate()
            .map(<[u8]>::to_vec)
    })
}

/// Whether the webhook at `url` serves a certificate that `ca_pem` vouches for.
fn trusted_by(rt: &tokio::runtime::Runtime, url: &str, ca_pem: &str) -> bool {
    rt.block_on(async {
        let Ok(certs) = reqwest::Certificate::from_pem_bundle(ca_pem.as_bytes()) else {
            return false;
        };
        let Ok(client) = reqwest::Client::builder()
            .tls_certs_only(certs)
            .timeout(Duration::from_secs(5))
            .build()
        else {
            return false;
        };
        client.get(format!("{url}/healthz")).send().await.is_ok()
    })
}

fn connector(ns: &str, name: &str) -> String {
    // `batch.size` as a number: the mutating webhook turns it into a string with a warning, which shows
    // that this webhook (and not just the API server) handled the request.
    file_source(ns, name, name, format!("/tmp/{name}.txt"))
        // Its own name on the shared Connect (one connector per name there, whichever namespace).
        .connect_name(&format!("{ns}-{name}"))
        .label(PRIVATE_LABEL, "x")
        .on("local")
        .tasks_max(1)
        .config_value("batch.size", 100.into())
        .yaml()
}

#[test]
fn self_managed_certificates_admit_connectors_through_rotation() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let label = unique("lbl");
    let ns = namespace("install-certs", &[(PRIVATE_LABEL, &label)]);
    let dir = scratch("install-certs");
    let hook_name = unique("cw-certs");

    // The real webhook, reloading its certificate files every second. It starts with the stack's own test
    // certificate; connect-warden-certs replaces the files below.
    let mut webhook = stack::warden::start_webhook(
        &dir,
        kube_env(),
        &hook_name,
        &["--tls-reload-interval-seconds", "1"],
    )
    .expect("start the webhook");
    let served_dir = webhook.cert_file.parent().unwrap().to_path_buf();
    let url = webhook.url();

    // No caBundle yet: connect-warden-certs writes it.
    let hooks = stack::warden::webhook_configurations(&hook_name, &url, None, Some(&label));
    apply(&hooks, &[]).expect_ok();
    let _registered = Registered(hook_name.clone());
    let target = CertsTarget {
        namespace: ns.clone(),
        secret: "connect-warden-webhook-tls".into(),
        config: hook_name.clone(),
    };
    // The self-managed overlay's certs rights, for an install in this namespace with these configurations.
    stack::warden::grant_certs(kube_env(), &ns, &hook_name).expect("granting the certs rights");

    // Two replicas start at once and converge on one Secret.
    let other_dir = dir.join("replica-2");
    let runs: Vec<_> = [served_dir.clone(), other_dir.clone()]
        .into_iter()
        .map(|out_dir| {
            let mut cmd = certs_command("ensure", &target, &out_dir);
            std::thread::spawn(move || cmd.output().expect("run connect-warden-certs"))
        })
        .collect();
    let summaries: Vec<serde_json::Value> = runs
        .into_iter()
        .map(|h| {
            let out = h.join().unwrap();
            assert!(
                out.status.success(),
                "connect-warden-certs ensure failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice(&out.stdout).expect("a JSON summary")
        })
        .collect();
    assert_eq!(summaries[0]["certSha256"], summaries[1]["certSha256"]);
    assert_eq!(
        summaries[0]["caBundleSha256"],
        summaries[1]["caBundleSha256"]
    );
    let secret_type = kubectl(&[
        "get",
        "secret",
        &target.secret,
        "-n",
        &ns,
        "-o",
        "jsonpath={.type}",
    ]);
    assert_eq!(secret_type.expect_ok().stdout, "kubernetes.io/tls");
    let first_bundle = std::fs::read_to_string(served_dir.join("ca.crt")).unwrap();
    assert!(first_bundle.contains("BEGIN CERTIFICATE"));
    for kind in [
        "mutatingwebhookconfiguration",
        "validatingwebhookconfiguration",
    ] {
        assert_eq!(ca_bundle(kind, &hook_name), first_bundle, "{kind}");
    }

    // Both replicas keep renewing from now on, as the sidecars do in the self-managed overlay.
    let logs = dir.join("logs");
    let _run_1 = stack::process::Proc::spawn(
        "certs-1",
        certs_command("run", &target, &served_dir),
        &logs.join("certs-1.log"),
    )
    .expect("start connect-warden-certs run");
    let _run_2 = stack::process::Proc::spawn(
        "certs-2",
        certs_command("run", &target, &other_dir),
        &logs.join("certs-2.log"),
    )
    .expect("start connect-warden-certs run");

    // The webhook serves the new files once it has reloaded them.
    poll_until(
        "the new certificate served",
        Duration::from_secs(30),
        || {
            trusted_by(&rt, &url, &first_bundle)
                .then_some(())
                .ok_or_else(|| "the webhook never served the new certificate".to_string())
        },
    );

    // Admission through the caBundle connect-warden-certs wrote: the cluster, then a connector once the API
    // server routes to this webhook (its configurations reach the API server asynchronously).
    let cluster = private_cluster(&ns, "local", &kafka_env().connect_url).yaml();
    poll_until("the cluster admitted", Duration::from_secs(60), || {
        let out = apply(&cluster, &[]);
        if out.ok {
            Ok(())
        } else {
            Err(format!("cluster never admitted: {out:?}"))
        }
    });
    poll_until("a connector admitted", Duration::from_secs(60), || {
        let out = apply(&connector(&ns, "probe"), &["--dry-run=server"]);
        if out.ok && out.stderr.contains("Warning:") {
            Ok(())
        } else {
            Err(format!("connector never admitted by the webhook: {out:?}"))
        }
    });
    apply(&connector(&ns, "orders"), &[]).expect_ok();

    // Rotation: for 70 s, admit connectors continuously; not one may fail while certificates and the CA
    // change underneath.
    let mut admitted = 0usize;
    let mut failures = Vec::new();
    let mut served = BTreeSet::new();
    let mut bundles = BTreeSet::new();
    let start = Instant::now();
    let mut n = 0usize;
    while start.elapsed() < Duration::from_secs(70) {
        n += 1;
        let out = apply(
            &connector(&ns, &format!("rot-{}", n % 5)),
            &["--dry-run=server"],
        );
        if out.ok && out.stderr.contains("Warning:") {
            admitted += 1;
        } else {
            failures.push(format!(
                "t+{:?}: {}{}",
                start.elapsed(),
                out.stdout,
                out.stderr
            ));
        }
        if let Some(der) = served_certificate(&rt, &url) {
            served.insert(der);
        }
        bundles.insert(ca_bundle("validatingwebhookconfiguration", &hook_name));
        // Paced, not waiting for anything: the run is over a span of time, whatever happens in it.
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "rotation: {admitted} admissions, {} serving certificates, {} CA bundles seen",
        served.len(),
        bundles.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {n} admissions failed: {:#?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(admitted >= 15, "only {admitted} admissions in 70 s");
    assert!(
        served.len() >= 3,
        "only {} serving certificates seen in 70 s",
        served.len()
    );
    assert!(
        bundles.len() >= 2,
        "the CA never rotated: {} bundle(s)",
        bundles.len()
    );
    let last_bundle = ca_bundle("validatingwebhookconfiguration", &hook_name);
    assert_ne!(last_bundle, first_bundle);
    // Old and new CA overlap in the bundle after a rotation.
    assert!(
        bundles
            .iter()
            .any(|b| b.matches("BEGIN CERTIFICATE").count() == 2),
        "no bundle held two CAs"
    );

    // The replicas agree on what to serve.
    poll_until(
        "the replicas' certificates to agree",
        Duration::from_secs(10),
        || {
            let a = std::fs::read(served_dir.join("tls.crt")).unwrap();
            let b = std::fs::read(other_dir.join("tls.crt")).unwrap();
            (a == b)
                .then_some(())
                .ok_or_else(|| "the replicas' certificates differ".to_string())
        },
    );
    webhook.stop();
}
