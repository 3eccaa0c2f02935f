//! The chart on its own: its copies of the shipped files, `helm lint`, templates the API server accepts in
//! both certificate modes, the monitoring values, and flags the binaries accept.

use super::*;

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
        let accepted = out.dry_run_accepted();
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

/// Every flag the chart can pass, with every value set, is one the binaries accept: each container's
/// arguments go through the binary's own parser (clap checks each argument and value before `--help`).
#[test]
fn every_flag_the_chart_renders_is_accepted_by_the_binaries() {
    let values = scratch("helm-flags").join("values.yaml");
    std::fs::write(
        &values,
        include_str!("../fixtures/helm/every-flag.values.yaml"),
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
