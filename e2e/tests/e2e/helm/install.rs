//! Install, upgrade and uninstall on the real API server, and the permissions of the chart's
//! ServiceAccounts.

use connect_warden_e2e::objects::{cluster, fill};

use super::*;

// install, upgrade, uninstall on the real API server ----------------------------------------------------

/// Uninstalls the release when dropped, so a failed test leaves no cluster-wide objects behind.
struct Release {
    name: String,
    namespace: String,
}

impl Drop for Release {
    fn drop(&mut self) {
        let _ = helm(&[
            "uninstall",
            &self.name,
            "-n",
            &self.namespace,
            "--ignore-not-found",
        ]);
    }
}

fn get_json(args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend(["-o", "json"]);
    serde_json::from_str(&kubectl(&all).expect_ok().stdout).expect("kubectl printed JSON")
}

fn exists(args: &[&str]) -> bool {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend(["--ignore-not-found", "-o", "name"]);
    !kubectl(&all).expect_ok().stdout.trim().is_empty()
}

/// (status, revision) of the release, from `helm list`.
fn release_state(release: &str, ns: &str) -> Option<(String, u64)> {
    let out = helm(&["list", "-n", ns, "-o", "json"]).expect_ok();
    let list: Vec<Value> = serde_json::from_str(&out.stdout).expect("helm list -o json");
    list.iter().find(|r| r["name"] == release).map(|r| {
        let revision = match &r["revision"] {
            Value::String(s) => s.parse().unwrap_or(0),
            v => v.as_u64().unwrap_or(0),
        };
        (
            r["status"].as_str().unwrap_or_default().to_string(),
            revision,
        )
    })
}

fn crd_uid(name: &str) -> String {
    get_json(&["crd", name])["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The label that sends an object to the test release's webhook (its objectSelector).
const HELM_PROBE: &str = "connectwarden.io/e2e-helm";

/// The webhook configurations of a release never reach beyond the test's own objects: no pod serves them here
/// (the stack runs no kubelet), and every other test's KafkaConnectors and KafkaConnectorPolicies go through
/// the API server too. The namespaceSelector keeps the namespaced objects of other namespaces out; the
/// objectSelector keeps out every object without the test's label, including the cluster-scoped
/// KafkaConnectorPolicies, which no namespaceSelector limits.
#[track_caller]
fn assert_scoped_to(fullname: &str, ns: &str, review_ns: &str, failure_policy: &str) {
    for kind in [
        "mutatingwebhookconfiguration",
        "validatingwebhookconfiguration",
    ] {
        let cfg = get_json(&[kind, fullname]);
        let hooks = cfg["webhooks"].as_array().unwrap();
        assert_eq!(hooks.len(), 1, "{cfg}");
        let hook = &hooks[0];
        assert_eq!(
            hook["namespaceSelector"],
            json!({ "matchLabels": { "kubernetes.io/metadata.name": review_ns } }),
            "{kind}"
        );
        assert_eq!(
            hook["objectSelector"],
            json!({ "matchLabels": { HELM_PROBE: fullname } }),
            "{kind}"
        );
        assert_eq!(hook["failurePolicy"], failure_policy, "{kind}");
        let service = &hook["clientConfig"]["service"];
        assert_eq!(service["name"], format!("{fullname}-webhook"));
        assert_eq!(service["namespace"], ns);
    }
}

/// A KafkaConnectCluster in `ns`, with the label that the release's webhook selects when `probe`.
fn connect_cluster(ns: &str, probe: Option<&str>) -> String {
    let c = cluster(ns, "probe", "http://127.0.0.1:1").label(PRIVATE_LABEL, "helm");
    match probe {
        Some(v) => c.label(HELM_PROBE, v),
        None => c,
    }
    .yaml()
}

#[test]
fn helm_installs_upgrades_and_uninstalls_on_the_api_server() {
    let ns = restricted_namespace("helm-install");
    let crds = [
        "kafkaconnectors.connectwarden.io",
        "kafkaconnectclusters.connectwarden.io",
    ];
    let uids: Vec<String> = crds.iter().map(|c| crd_uid(c)).collect();

    let (guard, fullname, out) = install_scoped("cwh", &ns, &ns, "");
    let release = guard.name.clone();
    eprintln!("helm install:\n{}{}", out.stdout, out.stderr);
    // Restricted Pod Security is enforced in the namespace: the API server would warn about any pod template
    // that violates it.
    assert!(!out.stderr.contains("PodSecurity"), "{}", out.stderr);
    assert!(out.stdout.contains("STATUS: deployed"), "{}", out.stdout);
    let chart = chart();
    assert_eq!(release_state(&release, &ns), Some(("deployed".into(), 1)));

    // What the release holds: every object under its prefix, and never a CRD (those in crds/ are
    // installed once, outside the release, and the stack has them already).
    let manifest = helm(&["get", "manifest", &release, "-n", &ns])
        .expect_ok()
        .stdout;
    let installed = objects(&manifest);
    assert!(installed.len() >= 20, "{manifest}");
    for o in &installed {
        assert_ne!(kind(o), "CustomResourceDefinition");
        assert!(name(o).starts_with(&fullname), "{}", key(o));
        let ns_arg = o["metadata"]["namespace"].as_str();
        let mut args = vec![kind(o), name(o)];
        if let Some(n) = ns_arg {
            args.extend(["-n", n]);
        }
        assert!(exists(&args), "{} was not created", key(o));
    }
    let controller = get_json(&["deployment", &format!("{fullname}-controller"), "-n", &ns]);
    assert_eq!(controller["spec"]["replicas"], 2);
    let args = controller["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    assert!(args.contains("--poll-interval-seconds=10"), "{args}");
    assert!(
        args.contains(&format!("--lease-name={fullname}-controller")),
        "{args}"
    );

    // The release's webhook is consulted in its namespace (and fails: nothing serves it here)...
    let out = apply(
        &connect_cluster(&ns, Some(&fullname)),
        &["--dry-run=server"],
    )
    .expect_err();
    assert!(
        out.stderr.contains("failed calling webhook")
            && out.stderr.contains(&format!("{fullname}-webhook")),
        "{}",
        out.stderr
    );
    // ...and for nothing else: not for objects without the label in its namespace, nor in another one.
    apply(&connect_cluster(&ns, None), &["--dry-run=server"]).expect_ok();
    let elsewhere = namespace("helm-elsewhere", &[(PRIVATE_LABEL, "helm")]);
    apply(
        &connect_cluster(&elsewhere, Some(&fullname)),
        &["--dry-run=server"],
    )
    .expect_ok();

    // Upgrade: a changed value lands.
    let out = helm(&[
        "upgrade",
        &release,
        &chart,
        "-n",
        &ns,
        "--reuse-values",
        "--set",
        "controller.pollIntervalSeconds=30",
        "--set",
        "controller.replicas=1",
        "--set",
        "webhook.failurePolicy=Ignore",
    ])
    .expect_ok();
    eprintln!("helm upgrade:\n{}{}", out.stdout, out.stderr);
    assert_eq!(release_state(&release, &ns), Some(("deployed".into(), 2)));
    let controller = get_json(&["deployment", &format!("{fullname}-controller"), "-n", &ns]);
    assert_eq!(controller["spec"]["replicas"], 1);
    let args = controller["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    assert!(args.contains("--poll-interval-seconds=30"), "{args}");
    assert!(!args.contains("--poll-interval-seconds=10"), "{args}");
    assert_scoped_to(&fullname, &ns, &ns, "Ignore");

    // Uninstall: every object of the release goes, the CRDs (and so every KafkaConnector) stay.
    let out = helm(&["uninstall", &release, "-n", &ns, "--wait"]).expect_ok();
    eprintln!("helm uninstall:\n{}{}", out.stdout, out.stderr);
    assert_eq!(release_state(&release, &ns), None);
    for o in &installed {
        let ns_arg = o["metadata"]["namespace"].as_str();
        let mut args = vec![kind(o), name(o)];
        if let Some(n) = ns_arg {
            args.extend(["-n", n]);
        }
        assert!(!exists(&args), "{} is still there", key(o));
    }
    let after: Vec<String> = crds.iter().map(|c| crd_uid(c)).collect();
    assert_eq!(after, uids, "the CRDs were replaced or removed");
}

// The chart's ServiceAccounts may do what the kustomize install's may ---------------------------------------

/// Installs the chart as release `<unique>-connect-warden` into `ns` with `values` (YAML) added to the
/// scoping values of [`assert_scoped_to`]; returns the release (uninstalled when dropped), its full name
/// and what helm printed.
fn install_scoped(prefix: &str, ns: &str, review_ns: &str, values: &str) -> (Release, String, Out) {
    let release = unique(prefix);
    let fullname = format!("{release}-connect-warden");
    let file = scratch(prefix).join("values.yaml");
    std::fs::write(
        &file,
        fill(
            include_str!("../fixtures/helm/scoped.values.yaml"),
            &[
                ("VALUES", values),
                ("REVIEW_NAMESPACE", review_ns),
                ("PROBE_LABEL", HELM_PROBE),
                ("FULLNAME", &fullname),
            ],
        ),
    )
    .unwrap();
    let chart = chart();
    // The stack has the CRDs already, applied server-side by kubectl from deploy/crds. Helm 4 would apply
    // the chart's crds/ server-side too and stop at kubectl's field ownership, so they are skipped here (as
    // README's install section says); another test shows the chart carries the same files.
    let out = helm(&[
        "install",
        &release,
        &chart,
        "-n",
        ns,
        "-f",
        &file.to_string_lossy(),
        "--skip-crds",
    ])
    .expect_ok();
    let r = Release {
        name: release,
        namespace: ns.into(),
    };
    assert_scoped_to(&fullname, ns, review_ns, "Fail");
    (r, fullname, out)
}

/// `kubectl auth can-i --list` for a ServiceAccount of the release, with the release's full name written as
/// the kustomize install's prefix, so the same reviewed lists apply.
fn release_can_i(ns: &str, install_ns: &str, fullname: &str, component: &str) -> String {
    rbac::can_i_list(ns, install_ns, &format!("{fullname}-{component}"))
        .replace(fullname, "connect-warden")
}

#[test]
fn the_charts_service_accounts_may_do_exactly_what_the_kustomize_installs_may() {
    // Cluster-wide: the same lists as the kustomize install's, in its namespace and in any other.
    let ns = restricted_namespace("helm-rbac");
    let app = namespace("helm-rbac-app", &[(PRIVATE_LABEL, "helm")]);
    let (_release, fullname, _) = install_scoped("cwr", &ns, &ns, "");
    for component in ["controller", "webhook"] {
        for (scope, at) in [("install-namespace", &ns), ("app-namespace", &app)] {
            rbac::assert_expected(
                &format!("{component}.{scope}"),
                &ns,
                &release_can_i(at, &ns, &fullname, component),
            );
        }
    }

    // watchNamespaces: the namespace-scoped overlay's lists; in the watched namespace the cluster-wide
    // install's rights there, elsewhere only the rights on cluster-scoped objects.
    let ns = restricted_namespace("helm-rbac-ns");
    let watched = namespace("helm-rbac-watched", &[(PRIVATE_LABEL, "helm")]);
    let other = namespace("helm-rbac-other", &[(PRIVATE_LABEL, "helm")]);
    let (_release, fullname, _) = install_scoped(
        "cwn",
        &ns,
        &watched,
        &format!("watchNamespaces: [{watched}]"),
    );
    for component in ["controller", "webhook"] {
        for (list, at) in [
            (format!("namespaced.{component}.install-namespace"), &ns),
            (format!("{component}.app-namespace"), &watched),
            (
                format!("namespaced.{component}.unwatched-namespace"),
                &other,
            ),
        ] {
            rbac::assert_expected(&list, &ns, &release_can_i(at, &ns, &fullname, component));
        }
    }
}
