//! The Helm chart (`charts/connect-warden`) with the real `helm`, built from its Go module by
//! `stack/tools/build.sh`: lint, templates the API server accepts in both certificate modes, install,
//! upgrade and uninstall on the real API server, the same objects as the kustomize install (so the two
//! cannot drift), the same permissions under the chart's own ServiceAccounts, and the release workflow
//! checked by actionlint.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use connect_warden_e2e::rbac;
use connect_warden_e2e::*;
use serde::Deserialize;
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
    Out {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
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
    serde_yaml::Deserializer::from_str(yaml)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("bad YAML ({e}):\n{yaml}")))
        .filter(|v| !v.is_null())
        .collect()
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

// The chart's copies of the shipped files -----------------------------------------------------------------

/// The CRDs, alert rules and dashboard have one home in `deploy/`; the chart carries copies
/// (`make chart-files`), which must be identical.
#[test]
fn the_charts_crds_rules_and_dashboard_are_the_shipped_files() {
    let listing = |dir: &Path| -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    let (shipped, copied) = (repo("deploy/crds"), repo("charts/connect-warden/crds"));
    assert_eq!(
        listing(&shipped),
        listing(&copied),
        "the chart's crds/ differ from deploy/crds: run `make chart-files`"
    );
    let mut pairs: Vec<(PathBuf, PathBuf)> = listing(&shipped)
        .into_iter()
        .map(|f| (shipped.join(&f), copied.join(&f)))
        .collect();
    pairs.push((
        repo("deploy/monitoring/prometheusrule.yaml"),
        repo("charts/connect-warden/files/prometheusrule.yaml"),
    ));
    pairs.push((
        repo("deploy/monitoring/dashboards/connect-warden.json"),
        repo("charts/connect-warden/files/dashboards/connect-warden.json"),
    ));
    for (a, b) in pairs {
        assert!(
            std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
            "{} differs from {}: run `make chart-files`",
            b.display(),
            a.display()
        );
    }
    // Helm reads them as the chart's CRDs: installed before the release's objects, never upgraded or
    // deleted with the release.
    let shown = objects(&helm(&["show", "crds", &chart()]).expect_ok().stdout);
    let names: BTreeSet<&str> = shown.iter().map(name).collect();
    let files: Vec<Value> = listing(&shipped)
        .iter()
        .flat_map(|f| objects(&std::fs::read_to_string(shipped.join(f)).unwrap()))
        .collect();
    assert_eq!(names, files.iter().map(name).collect::<BTreeSet<_>>());
    assert!(shown.iter().all(|o| kind(o) == "CustomResourceDefinition"));
}

// helm lint and the templates against the API server ------------------------------------------------------

#[test]
fn helm_lint_is_clean_in_every_mode() {
    let chart = chart();
    for set in [
        "webhook.certificates=selfManaged",
        "webhook.certificates=certManager",
        "watchNamespaces={team-a,team-b}",
        "serviceMonitor.enabled=true,prometheusRule.enabled=true,grafanaDashboard.enabled=true",
    ] {
        let out = helm(&["lint", "--strict", &chart, "--set", set]).expect_ok();
        eprintln!("helm lint --set {set}:\n{}{}", out.stdout, out.stderr);
        assert!(
            out.stdout.contains("1 chart(s) linted, 0 chart(s) failed"),
            "{}",
            out.stdout
        );
        for bad in ["[WARNING]", "[ERROR]"] {
            assert!(!out.stdout.contains(bad), "{set}: {}", out.stdout);
        }
    }
    // Bad values are refused with a message that names them: values.schema.json catches typos and values
    // outside a set; the templates' own checks say the same when the schema is skipped.
    for (set, message) in [
        (
            "controller.pollIntervalSecond=3",
            "at '/controller': additional properties 'pollIntervalSecond' not allowed",
        ),
        (
            "webhook.certificates=vault",
            "at '/webhook/certificates': value must be one of 'selfManaged', 'certManager'",
        ),
        (
            "webhook.failurePolicy=Sometimes",
            "at '/webhook/failurePolicy': value must be one of 'Fail', 'Ignore'",
        ),
    ] {
        let out = helm(&["template", "x", &chart, "--set", set]).expect_err();
        assert!(out.stderr.contains(message), "{set}: {}", out.stderr);
    }
    for (set, message) in [
        (
            "webhook.certificates=vault",
            "webhook.certificates must be selfManaged or certManager, not \"vault\"",
        ),
        (
            "webhook.failurePolicy=Sometimes",
            "webhook.failurePolicy must be Fail or Ignore, not \"Sometimes\"",
        ),
    ] {
        let out = helm(&[
            "template",
            "x",
            &chart,
            "--skip-schema-validation",
            "--set",
            set,
        ])
        .expect_err();
        assert!(out.stderr.contains(message), "{set}: {}", out.stderr);
    }
}

/// cert-manager's Certificate and Issuer CRDs, a subset written for this test
/// (`e2e/testdata/cert-manager-crds.yaml`), so the certManager mode's objects are judged by the API server
/// too. Installing them twice is harmless.
fn install_cert_manager_crds() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/cert-manager-crds.yaml");
    kubectl(&["apply", "--server-side", "-f", &file.to_string_lossy()]).expect_ok();
    for crd in ["certificates.cert-manager.io", "issuers.cert-manager.io"] {
        kubectl(&[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd",
            crd,
        ])
        .expect_ok();
    }
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

/// The Prometheus Operator's kinds, whose CRDs the test API server does not have: checked client-side.
fn is_prometheus_operator(o: &Value) -> bool {
    o["apiVersion"]
        .as_str()
        .is_some_and(|v| v.starts_with("monitoring.coreos.com/"))
}

#[test]
fn helm_template_passes_a_server_side_dry_run_in_both_certificate_modes() {
    install_cert_manager_crds();
    for mode in ["selfManaged", "certManager"] {
        let ns = restricted_namespace("helm-template");
        let release = unique("cwt");
        let mode_value = format!("webhook.certificates={mode}");
        let rendered = template(
            &release,
            &ns,
            &[
                &mode_value,
                "serviceMonitor.enabled=true",
                "prometheusRule.enabled=true",
                "grafanaDashboard.enabled=true",
            ],
            &["--include-crds"],
        );
        let objs = objects(&rendered);
        let (foreign, ours): (Vec<&Value>, Vec<&Value>) =
            objs.iter().partition(|o| is_prometheus_operator(o));
        let foreign_kinds: BTreeSet<&str> = foreign.iter().map(|o| kind(o)).collect();
        assert_eq!(
            foreign_kinds,
            BTreeSet::from(["PrometheusRule", "ServiceMonitor"])
        );
        let cert_manager = ours
            .iter()
            .filter(|o| o["apiVersion"] == "cert-manager.io/v1")
            .count();
        assert_eq!(cert_manager, if mode == "certManager" { 4 } else { 0 });

        // Server-side apply, so the CRDs the stack already has are compared field by field too.
        let out = apply(
            &yaml_of(&ours),
            &[
                "--server-side",
                "--force-conflicts",
                "--field-manager=helm-e2e",
                "--dry-run=server",
            ],
        )
        .expect_ok();
        let accepted = out
            .stdout
            .lines()
            .filter(|l| l.ends_with("(server dry run)"))
            .count();
        assert_eq!(
            accepted,
            ours.len(),
            "{mode}: not every object was accepted:\n{}\n{}",
            out.stdout,
            out.stderr
        );
        // Restricted Pod Security: the API server warns about any pod template that would violate it.
        assert!(
            !out.stderr.contains("PodSecurity"),
            "{mode}: {}",
            out.stderr
        );
        assert!(ours.len() >= 20, "{mode}: only {} objects", ours.len());
    }

    // The check above would see a violation: a container allowed to escalate privileges is warned about.
    let ns = restricted_namespace("helm-template-psa");
    let loose = objects(&template(
        "loose",
        &ns,
        &["controller.securityContext.allowPrivilegeEscalation=true"],
        &[],
    ));
    let deployment = find(&loose, "Deployment", "loose-connect-warden-controller");
    let out = apply(&yaml_of(&[deployment]), &["--dry-run=server"]).expect_ok();
    assert!(
        out.stderr.contains(
            "would violate PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false"
        ),
        "{}",
        out.stderr
    );
}

/// The alert rules and the dashboard the chart renders are deploy/monitoring's, with the labels asked for.
#[test]
fn monitoring_values_render_the_shipped_rules_and_dashboard() {
    let objs = objects(&template(
        "connect-warden",
        "monitoring",
        &[
            "serviceMonitor.enabled=true",
            "serviceMonitor.labels.release=kube-prometheus-stack",
            "prometheusRule.enabled=true",
            "prometheusRule.labels.release=kube-prometheus-stack",
            "grafanaDashboard.enabled=true",
        ],
        &[],
    ));
    let shipped =
        objects(&std::fs::read_to_string(repo("deploy/monitoring/prometheusrule.yaml")).unwrap());
    let rule = find(&objs, "PrometheusRule", "connect-warden");
    assert_eq!(rule["spec"], shipped[0]["spec"]);
    assert_eq!(
        rule["metadata"]["labels"]["release"],
        "kube-prometheus-stack"
    );

    let monitor = find(&objs, "ServiceMonitor", "connect-warden");
    assert_eq!(
        monitor["metadata"]["labels"]["release"],
        "kube-prometheus-stack"
    );
    assert_eq!(monitor["spec"]["jobLabel"], "app.kubernetes.io/name");
    assert_eq!(
        monitor["spec"]["selector"]["matchLabels"],
        json!({ "connectwarden.io/metrics": "true", "app.kubernetes.io/instance": "connect-warden" })
    );
    assert_eq!(monitor["spec"]["endpoints"][0]["honorLabels"], true);
    // The scraped Services carry the selected labels, and the job names the alert rules use.
    for (service, job) in [
        (
            "connect-warden-controller-metrics",
            "connect-warden-controller",
        ),
        ("connect-warden-webhook", "connect-warden-webhook"),
    ] {
        let labels = &find(&objs, "Service", service)["metadata"]["labels"];
        assert_eq!(labels["connectwarden.io/metrics"], "true");
        assert_eq!(labels["app.kubernetes.io/instance"], "connect-warden");
        assert_eq!(labels["app.kubernetes.io/name"], job);
    }

    let dashboard = find(&objs, "ConfigMap", "connect-warden-dashboard");
    assert_eq!(dashboard["metadata"]["labels"]["grafana_dashboard"], "1");
    let json_text = dashboard["data"]["connect-warden.json"].as_str().unwrap();
    let shipped_dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(repo("deploy/monitoring/dashboards/connect-warden.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(json_text).unwrap(),
        shipped_dashboard
    );
}

// The same objects as the kustomize install ------------------------------------------------------------

/// An object reduced to its substance: no labels (the chart adds Helm's and the release's), selectors
/// without the chart's release label, images without their registry, and the defaults the chart spells out.
fn substance(o: &Value) -> Value {
    let mut o = o.clone();
    if let Some(meta) = o["metadata"].as_object_mut() {
        meta.remove("labels");
    }
    if let Some(meta) = o
        .pointer_mut("/spec/template/metadata")
        .and_then(Value::as_object_mut)
    {
        meta.remove("labels");
    }
    normalize(&mut o);
    o
}

fn normalize(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                match k.as_str() {
                    // A Service's selector is a plain map; the others hold matchLabels.
                    "selector" | "podSelector" | "labelSelector" => strip_release_labels(child),
                    "image" => {
                        if let Some(s) = child.as_str() {
                            // ghcr.io/connect-warden/controller:0.1.0 and connect-warden/controller:0.1.0.
                            *child = s.rsplit('/').next().unwrap_or(s).into();
                        }
                    }
                    _ => {}
                }
                normalize(child);
            }
            // The chart names Kubernetes' default pull policy for a tagged image.
            if map.get("imagePullPolicy").and_then(Value::as_str) == Some("IfNotPresent") {
                map.remove("imagePullPolicy");
            }
            // A role's rules are a set: the chart keeps those on namespaced and on cluster-scoped objects
            // apart (they go to different roles with watchNamespaces).
            if let Some(Value::Array(rules)) = map.get_mut("rules")
                && rules.iter().all(|r| r.get("verbs").is_some())
            {
                rules.sort_by_key(|r| r.to_string());
            }
            if let Some(Value::Array(args)) = map.get_mut("args") {
                // The Lease name, the binary's default, spelled out so the Lease and the Role that names it
                // follow the release's name.
                args.retain(|a| a != "--lease-name=connect-warden-controller");
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize),
        _ => {}
    }
}

/// Drops the chart's release labels from a selector (the kustomize install owns its namespace; a release
/// shares it), and an emptied matchLabels.
fn strip_release_labels(selector: &mut Value) {
    let drop = ["app.kubernetes.io/instance", "app.kubernetes.io/part-of"];
    if let Some(map) = selector.as_object_mut() {
        for k in drop {
            map.remove(k);
        }
        if let Some(Value::Object(labels)) = map.get_mut("matchLabels") {
            for k in drop {
                labels.remove(k);
            }
            if labels.is_empty() {
                map.remove("matchLabels");
            }
        }
    }
}

/// The first place where two JSON values differ, as a JSON pointer with both sides.
fn first_difference(path: &str, a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                let p = format!("{path}/{k}");
                match (x.get(k), y.get(k)) {
                    (Some(a), Some(b)) => first_difference(&p, a, b),
                    (a, b) => Some(format!("{p}: kustomize {a:?}, chart {b:?}")),
                }
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (a, b))| first_difference(&format!("{path}/{i}"), a, b)),
        (Value::Array(x), Value::Array(y)) => {
            let only = |p: &[Value], q: &[Value]| -> Vec<String> {
                p.iter()
                    .filter(|v| !q.contains(v))
                    .map(Value::to_string)
                    .collect()
            };
            Some(format!(
                "{path}: only kustomize has {:?}, only the chart has {:?}",
                only(x, y),
                only(y, x)
            ))
        }
        _ if a == b => None,
        _ => Some(format!("{path}: kustomize {a}, chart {b}")),
    }
}

/// Asserts that the chart renders exactly the kustomize objects, in substance; `kustomize_only` names
/// objects only kustomize has (the Namespace: a chart installs into the release's namespace).
#[track_caller]
fn assert_same_objects(
    what: &str,
    kustomized: &[Value],
    charted: &[Value],
    kustomize_only: &[&str],
) {
    let index = |objs: &[Value]| -> BTreeMap<String, Value> {
        objs.iter().map(|o| (key(o), substance(o))).collect()
    };
    let (k, c) = (index(kustomized), index(charted));
    let only_k: Vec<&String> = k
        .keys()
        .filter(|n| !c.contains_key(*n) && !kustomize_only.contains(&n.as_str()))
        .collect();
    let only_c: Vec<&String> = c.keys().filter(|n| !k.contains_key(*n)).collect();
    assert!(
        only_k.is_empty() && only_c.is_empty(),
        "{what}: objects only kustomize renders: {only_k:#?}\nonly the chart renders: {only_c:#?}"
    );
    let differences: Vec<String> = k
        .iter()
        .filter_map(|(n, a)| c.get(n).and_then(|b| first_difference(n, a, b)))
        .collect();
    assert!(
        differences.is_empty(),
        "{what}: the chart and the kustomize install differ:\n{}",
        differences.join("\n")
    );
    assert!(k.len() >= 15, "{what}: only {} objects", k.len());
}

#[test]
fn the_chart_renders_the_kustomize_install_in_substance() {
    for (overlay, mode) in [
        ("overlays/self-managed", "selfManaged"),
        ("overlays/cert-manager", "certManager"),
    ] {
        let kustomized = objects(&kustomize(overlay));
        let set = format!("webhook.certificates={mode}");
        // Release `connect-warden` in namespace `connect-warden` gives the kustomize install's names.
        let charted = objects(&template("connect-warden", "connect-warden", &[&set], &[]));
        assert_same_objects(
            overlay,
            &kustomized,
            &charted,
            &["Namespace /connect-warden"],
        );
    }
}

/// `watchNamespaces` installs what the namespace-scoped overlay's two parts (the team's and the admin's)
/// install together.
#[test]
fn watch_namespaces_renders_the_namespaced_overlay_in_substance() {
    let mut kustomized = objects(&kustomize("overlays/namespaced"));
    kustomized.extend(objects(&kustomize("overlays/namespaced/admin")));
    let charted = objects(&template(
        "connect-warden",
        "connect-warden",
        &["watchNamespaces={team-a}"],
        &[],
    ));
    assert_same_objects(
        "overlays/namespaced + admin",
        &kustomized,
        &charted,
        &["Namespace /connect-warden"],
    );
}

/// Under any release name and namespace, every name an object refers to is one the chart renders, and two
/// releases in one namespace share no object.
#[test]
fn every_reference_resolves_and_two_releases_coexist() {
    for mode in ["selfManaged", "certManager"] {
        let set = format!("webhook.certificates={mode}");
        let a = objects(&template("payments", "apps", &[&set], &[]));
        let b = objects(&template("orders", "apps", &[&set], &[]));
        let names_a: BTreeSet<String> = a.iter().map(key).collect();
        let names_b: BTreeSet<String> = b.iter().map(key).collect();
        let shared: Vec<&String> = names_a.intersection(&names_b).collect();
        assert!(shared.is_empty(), "{mode}: both releases render {shared:?}");
        assert!(names_a.contains("Deployment apps/payments-connect-warden-controller"));

        for o in &a {
            let ns = o["metadata"]["namespace"].as_str().unwrap_or("");
            // RBAC: bindings name a role and ServiceAccounts of this release.
            if let Some(role) = o.get("roleRef") {
                let k = role["kind"].as_str().unwrap();
                let n = role["name"].as_str().unwrap();
                let want = if k == "Role" {
                    format!("{k} {ns}/{n}")
                } else {
                    format!("{k} /{n}")
                };
                assert!(names_a.contains(&want), "{}: no {want}", key(o));
                for s in o["subjects"].as_array().unwrap() {
                    let sa = format!(
                        "ServiceAccount {}/{}",
                        s["namespace"].as_str().unwrap(),
                        s["name"].as_str().unwrap()
                    );
                    assert!(names_a.contains(&sa), "{}: no {sa}", key(o));
                }
            }
            if kind(o) == "Deployment" {
                let spec = &o["spec"]["template"]["spec"];
                let sa = format!(
                    "ServiceAccount {ns}/{}",
                    spec["serviceAccountName"].as_str().unwrap()
                );
                assert!(names_a.contains(&sa), "{}: no {sa}", key(o));
                // The selector selects the pod template.
                let labels = o["spec"]["template"]["metadata"]["labels"]
                    .as_object()
                    .unwrap();
                for (k, v) in o["spec"]["selector"]["matchLabels"].as_object().unwrap() {
                    assert_eq!(labels.get(k), Some(v), "{}: selector {k}", key(o));
                }
            }
            if kind(o).ends_with("WebhookConfiguration") {
                for hook in o["webhooks"].as_array().unwrap() {
                    let svc = &hook["clientConfig"]["service"];
                    let want = format!(
                        "Service {}/{}",
                        svc["namespace"].as_str().unwrap(),
                        svc["name"].as_str().unwrap()
                    );
                    assert!(names_a.contains(&want), "{}: no {want}", key(o));
                }
            }
        }
        let webhook = find(&a, "Deployment", "payments-connect-warden-webhook");
        let volumes = webhook["spec"]["template"]["spec"]["volumes"].to_string();
        let pod = webhook["spec"]["template"]["spec"].to_string();
        if mode == "selfManaged" {
            // connect-warden-certs writes the Secret and the configurations its Roles name.
            let certs_role = find(&a, "Role", "payments-connect-warden-webhook-certs");
            assert!(
                certs_role
                    .to_string()
                    .contains("\"payments-connect-warden-webhook-tls\"")
            );
            let cluster_role = find(&a, "ClusterRole", "payments-connect-warden-webhook-certs");
            assert!(
                cluster_role
                    .to_string()
                    .contains("[\"payments-connect-warden\"]")
            );
            for env in [
                r#"{"name":"CW_CERTS_SECRET","value":"payments-connect-warden-webhook-tls"}"#,
                r#"{"name":"CW_CERTS_SERVICE","value":"payments-connect-warden-webhook"}"#,
                r#"{"name":"CW_CERTS_WEBHOOK_CONFIG","value":"payments-connect-warden"}"#,
            ] {
                assert!(pod.contains(env), "{env} not in {pod}");
            }
            assert!(volumes.contains("emptyDir"), "{volumes}");
        } else {
            let cert = find(&a, "Certificate", "payments-connect-warden-webhook");
            assert_eq!(
                cert["spec"]["secretName"],
                "payments-connect-warden-webhook-tls"
            );
            assert!(
                cert.to_string()
                    .contains("payments-connect-warden-webhook.apps.svc")
            );
            assert!(
                volumes.contains("payments-connect-warden-webhook-tls"),
                "{volumes}"
            );
            let hooks = find(
                &a,
                "ValidatingWebhookConfiguration",
                "payments-connect-warden",
            );
            assert_eq!(
                hooks["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
                "apps/payments-connect-warden-webhook"
            );
        }
        // The Lease the controller takes is the one its Role names.
        let controller = find(&a, "Deployment", "payments-connect-warden-controller").to_string();
        assert!(controller.contains("--lease-name=payments-connect-warden-controller"));
        let lease_role = find(
            &a,
            "Role",
            "payments-connect-warden-controller-leader-election",
        );
        assert!(
            lease_role
                .to_string()
                .contains("[\"payments-connect-warden-controller\"]")
        );
    }
}

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
    let label = probe
        .map(|v| format!("    {HELM_PROBE}: {v}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: connectwarden.io/v1alpha1\nkind: KafkaConnectCluster\nmetadata:\n  name: probe\n  \
         namespace: {ns}\n  labels:\n    {PRIVATE_LABEL}: helm\n{label}spec:\n  url: http://127.0.0.1:1\n"
    )
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
    Out {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
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
        format!(
            "{values}\nwebhook:\n  namespaceSelector:\n    matchLabels:\n      kubernetes.io/metadata.name: \
             {review_ns}\n  objectSelector:\n    matchLabels:\n      {HELM_PROBE}: {fullname}\n"
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

/// Every flag the chart can pass, with every value set, is one the binaries accept: each container's
/// arguments go through the binary's own parser (clap checks each argument and value before `--help`).
#[test]
fn every_flag_the_chart_renders_is_accepted_by_the_binaries() {
    let values = scratch("helm-flags").join("values.yaml");
    std::fs::write(
        &values,
        "watchNamespaces: [team-a, team-b]\n\
         controller:\n  resyncSeconds: 60\n  labelSelector: team=payments\n  \
         defaultClusterUrl: http://connect:8083\n  defaultClusterTimeoutSeconds: 20\n  maxWritesPerCluster: 4\n  \
         leaseDurationSeconds: 20\n  restartBackoffBaseSeconds: 5\n  restartBackoffMaxSeconds: 300\n  \
         restartStableSeconds: 120\n  maxRestartsPerSecond: 0\n  contentionCorrections: 3\n  \
         contentionWindowSeconds: 300\n  contentionQuietSeconds: 60\n  lagIntervalSeconds: 15\n  \
         progressWindowSeconds: 300\n  writePolicyStatus: false\n  autoconnectorMetrics: true\n  logFormat: text\n  logLevel: debug\n\
         webhook:\n  connectFailurePolicy: open\n  connectTimeoutMs: 5000\n  validationCacheTtlSeconds: 30\n  \
         defaultClusterUrl: http://connect:8083\n  logFormat: text\n  logLevel: debug\n",
    )
    .unwrap();
    let objs = objects(&template(
        "connect-warden",
        "connect-warden",
        &[],
        &["-f", &values.to_string_lossy()],
    ));
    for (deployment, container, binary, flags) in [
        (
            "connect-warden-controller",
            0,
            "connect-warden-controller",
            25,
        ),
        ("connect-warden-webhook", 0, "connect-warden-webhook", 11),
    ] {
        let c = &find(&objs, "Deployment", deployment)["spec"]["template"]["spec"]["containers"]
            [container];
        let args: Vec<&str> = c["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(args.len(), flags, "{deployment}: {args:?}");
        assert!(
            args.contains(&"--watch-namespaces=team-a,team-b"),
            "{args:?}"
        );
        let out = Command::new(stack::warden::bin_dir().join(binary))
            .args(&args)
            .arg("--help")
            .output()
            .unwrap_or_else(|e| panic!("running {binary}: {e} (build with `cargo build --bins`)"));
        assert!(
            out.status.success(),
            "{binary} refuses the chart's arguments {args:?}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // connect-warden-certs takes its settings from the environment the chart sets.
    let help = Command::new(stack::warden::bin_dir().join("connect-warden-certs"))
        .args(["run", "--help"])
        .output()
        .expect("running connect-warden-certs");
    let help = String::from_utf8_lossy(&help.stdout);
    let webhook = find(&objs, "Deployment", "connect-warden-webhook");
    let init = &webhook["spec"]["template"]["spec"]["initContainers"];
    for c in init.as_array().unwrap() {
        for env in c["env"].as_array().unwrap() {
            let name = env["name"].as_str().unwrap();
            assert!(
                help.contains(&format!("env: {name}=")),
                "connect-warden-certs has no {name}:\n{help}"
            );
        }
    }
}
