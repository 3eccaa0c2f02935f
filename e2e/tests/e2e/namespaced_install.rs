//! A namespace-scoped install (`deploy/overlays/namespaced`) under its own ServiceAccounts: the team's part
//! holds nothing cluster-scoped, its Roles (and the admin's few ClusterRoles) give exactly the reviewed
//! permissions, and a controller and a
//! webhook running with those tokens and `--watch-namespaces` carry a connector through its whole
//! lifecycle (admission, create, update, pause, prune, delete) without one Forbidden, while the objects of
//! another namespace stay untouched.

use std::collections::BTreeMap;
use std::time::Duration;

use connect_warden_e2e::connectors::{
    delete_connector, patch_connector, unreconciled, wait_polls, wait_pruned, wait_reason,
    wait_running,
};
use connect_warden_e2e::objects::{cluster, file_sink};
use connect_warden_e2e::rbac::{assert_expected, can_i_list};
use connect_warden_e2e::*;
use shared::connect::{ClientSettings, ConnectClient};
use stack::warden::{CONTROLLER_SA, PRIVATE_LABEL, WEBHOOK_SA};

const T: Duration = Duration::from_secs(90);

/// One document of `kubectl kustomize` output and its kind.
struct Doc {
    kind: String,
    text: String,
}

/// `kubectl kustomize deploy/<sub>`, split into documents.
fn render(sub: &str) -> Vec<Doc> {
    let dir = stack::cache::repo_root().join("deploy").join(sub);
    let yaml = kubectl(&["kustomize", &dir.to_string_lossy()])
        .expect_ok()
        .stdout;
    yaml.split("\n---\n")
        .filter_map(|text| {
            let kind = text.lines().find_map(|l| l.strip_prefix("kind: "))?;
            Some(Doc {
                kind: kind.trim().to_string(),
                text: format!("{}\n", text.trim_end()),
            })
        })
        .collect()
}

/// The overlay's example, moved to install namespace `install` watching `watched`. Cluster-scoped objects
/// get names of their own so they cannot clash with the stack's install.
fn moved(doc: &Doc, install: &str, watched: &str) -> String {
    let mut previous = "";
    let mut out = String::new();
    for l in doc.text.lines() {
        let moved = l.replace("team-a", watched);
        let moved = match moved.trim_start() {
            "namespace: connect-warden" => moved.replace("connect-warden", install),
            // A ServiceAccount subject keeps its name; the admin's ClusterRoles and bindings get new ones.
            "name: connect-warden-webhook-certs"
            | "name: connect-warden-controller"
            | "name: connect-warden-webhook"
                if doc.kind.starts_with("Cluster") && previous != "- kind: ServiceAccount" =>
            {
                moved.replace("connect-warden", install)
            }
            _ => moved,
        };
        previous = l.trim_start();
        out.push_str(&moved);
        out.push('\n');
    }
    out
}

fn join(docs: &[String]) -> String {
    docs.join("---\n")
}

const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// A private webhook registration, removed when dropped.
struct Registration(String);

impl Drop for Registration {
    fn drop(&mut self) {
        for kind in [
            "mutatingwebhookconfiguration",
            "validatingwebhookconfiguration",
        ] {
            let _ = kubectl(&["delete", kind, &self.0, "--ignore-not-found"]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_scoped_install_works_with_roles_only_and_leaves_other_namespaces_alone() {
    let id = unique("nsi");
    let install = namespace("cw-install", &[]);
    let watched = namespace("cw-watched", &[(PRIVATE_LABEL, id.as_str())]);
    // Served by no webhook (its label matches neither the stack's nor ours).
    let other = namespace("cw-other", &[(PRIVATE_LABEL, "none")]);

    // The team's part holds nothing cluster-scoped; the admin's part nothing else.
    let team = render("overlays/namespaced");
    let admin = render("overlays/namespaced/admin");
    for d in &team {
        assert!(!CLUSTER_SCOPED.contains(&d.kind.as_str()), "{}", d.text);
    }
    for d in &admin {
        assert!(CLUSTER_SCOPED.contains(&d.kind.as_str()), "{}", d.text);
    }
    let hooks: Vec<&Doc> = admin
        .iter()
        .filter(|d| d.kind.ends_with("WebhookConfiguration"))
        .collect();
    assert_eq!(hooks.len(), 2);
    for d in hooks {
        assert!(
            d.text
                .contains("      operator: In\n      values:\n      - team-a\n"),
            "{}",
            d.text
        );
    }
    let team: Vec<String> = team.iter().map(|d| moved(d, &install, &watched)).collect();
    let admin_moved: Vec<String> = admin
        .iter()
        .filter(|d| d.kind != "Namespace")
        .map(|d| moved(d, &install, &watched))
        .collect();
    // Everything `kubectl apply -k` would send is accepted by the API server.
    for docs in [&team, &admin_moved] {
        let out = apply(&join(docs), &["--dry-run=server"]).expect_ok();
        let accepted = out.dry_run_accepted();
        assert_eq!(accepted, docs.len(), "{}{}", out.stdout, out.stderr);
    }
    // Its RBAC for real: the ServiceAccounts, Roles and RoleBindings of the team's part and the admin's
    // ClusterRole for the certs (the webhook is registered by URL below, as everywhere in these tests).
    let is = |t: &str, kinds: &[&str]| kinds.iter().any(|k| t.lines().any(|l| l == *k));
    let rbac: Vec<String> = team
        .iter()
        .filter(|t| {
            is(
                t,
                &["kind: ServiceAccount", "kind: Role", "kind: RoleBinding"],
            )
        })
        .chain(admin_moved.iter().filter(|t| {
            is(t, &["kind: ClusterRole", "kind: ClusterRoleBinding"])
                && t.contains(&format!("name: {install}-"))
        }))
        .cloned()
        .collect();
    apply(&join(&rbac), &[]).expect_ok();

    // Exactly the reviewed permissions: in a watched namespace the same as the cluster-wide install's in any
    // app namespace (the Roles mirror its ClusterRoles), elsewhere only Kubernetes' defaults.
    for (file, sa) in [("controller", CONTROLLER_SA), ("webhook", WEBHOOK_SA)] {
        for (expected, ns) in [
            (format!("namespaced.{file}.install-namespace"), &install),
            (format!("{file}.app-namespace"), &watched),
            (format!("namespaced.{file}.unwatched-namespace"), &other),
        ] {
            assert_expected(&expected, &install, &can_i_list(ns, &install, sa));
        }
    }

    // The install, with the tokens of its ServiceAccounts.
    let kube = kube_env();
    let (controller_kc, webhook_kc) = tokio::task::block_in_place(|| {
        (
            stack::warden::service_account_kubeconfig(kube, &install, CONTROLLER_SA).unwrap(),
            stack::warden::service_account_kubeconfig(kube, &install, WEBHOOK_SA).unwrap(),
        )
    });
    let dir = scratch("nsi");
    let mut worker = tokio::task::block_in_place(|| {
        stack::kafka::ConnectWorker::start(kafka_env(), &dir, &unique("connect-nsi"))
    })
    .expect("starting a private Connect worker");
    let (hook_name, ctl_name) = (unique("cw-nsi-webhook"), unique("cw-nsi-controller"));
    let mut webhook = tokio::task::block_in_place(|| {
        stack::warden::start_webhook_as(
            &dir,
            &webhook_kc,
            &hook_name,
            &["--watch-namespaces", &watched],
        )
    })
    .expect("starting the webhook");
    webhook.register(kube, &hook_name, Some(&id)).unwrap();
    let _registration = Registration(hook_name.clone());
    let mut controller = tokio::task::block_in_place(|| {
        stack::warden::start_controller_as(
            &dir,
            &controller_kc,
            &ctl_name,
            &[
                "--watch-namespaces",
                &watched,
                "--leader-election",
                "--lease-namespace",
                &install,
                "--poll-interval-seconds",
                "1",
            ],
            true,
        )
    })
    .expect("starting the controller");

    // Both namespaces name the private worker; pruning is on in the watched one. The label keeps the
    // stack's own controller away.
    let c = ConnectClient::new(&ClientSettings::new(worker.url())).unwrap();
    cluster(&watched, "main", &worker.url())
        .label(PRIVATE_LABEL, &id)
        .prune()
        .apply()
        .expect_ok();
    cluster(&other, "main", &worker.url())
        .label(PRIVATE_LABEL, "none")
        .apply()
        .expect_ok();

    // Admission through this install's webhook: a number becomes a string (the mutating webhook answered),
    // and a cluster in a namespace it does not watch is named as such.
    let name = unique("cw-nsi");
    let out = dir.join("out.txt");
    let connector = |topics: &str, tasks: i32| {
        file_sink(&watched, &name, topics, out.display())
            .label(PRIVATE_LABEL, &id)
            .tasks_max(tasks)
    };
    let applied = poll_until("this install's webhook to be called", T, || {
        let o = connector("nsi-a", 1)
            .config_value("batch.size", 100.into())
            .apply();
        if o.ok && o.stderr.contains("numbers and booleans converted") {
            Ok(o)
        } else {
            Err(format!("{o:?}"))
        }
    });
    assert!(applied.ok);
    let denied = file_sink(&watched, &unique("cw-nsi-x"), "nsi-x", out.display())
        .label(PRIVATE_LABEL, &id)
        .on_cluster_in(&other, "main")
        .apply()
        .expect_err();
    assert!(
        denied.stderr.contains(&format!(
            "spec.clusterRef: KafkaConnectCluster {other}/main is in namespace \"{other}\", which this \
             connect-warden installation does not watch (see its --watch-namespaces); name a \
             KafkaConnectCluster in a watched namespace"
        )),
        "{}",
        denied.stderr
    );

    // Lifecycle: created, updated, paused, resumed.
    wait_running(&watched, &name, "1/1").await;
    connector("nsi-b", 2).apply().expect_ok();
    wait_running(&watched, &name, "2/2").await;
    assert_eq!(settled!(c.get_config(&name)).unwrap()["topics"], "nsi-b");
    patch_connector(&watched, &name, r#"{"spec":{"state":"paused"}}"#);
    wait_reason(&watched, &name, "True", "Paused").await;
    patch_connector(&watched, &name, r#"{"spec":{"state":"running"}}"#);
    wait_running(&watched, &name, "2/2").await;

    // A connector no KafkaConnector in the watched namespaces claims is pruned.
    let stray = unique("cw-nsi-stray");
    let cfg: BTreeMap<String, String> = [
        ("connector.class", "FileStreamSink"),
        ("topics", "nsi-stray"),
        ("file", &dir.join("stray.txt").to_string_lossy()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    c.put_config(&stray, &cfg)
        .await
        .expect("creating a stray connector");
    wait_pruned(&c, &stray, &watched).await;

    // The same connector in the other namespace: never created, never given a status or a finalizer.
    let unwatched = unique("cw-nsi-other");
    file_sink(&other, &unwatched, "nsi-o", dir.join("o.txt").display())
        .label(PRIVATE_LABEL, "none")
        .apply()
        .expect_ok();
    wait_polls(&controller.metrics_url(), &format!("{watched}/main"), 4).await;
    assert!(!settled!(c.list()).unwrap().contains(&unwatched));
    let untouched = unreconciled(&other, &unwatched).await;
    assert!(
        untouched.metadata.finalizers.unwrap_or_default().is_empty(),
        "a namespace-scoped controller put a finalizer outside its namespaces"
    );
    let cluster_status = kubectl(&[
        "get",
        "kafkaconnectcluster",
        "main",
        "-n",
        &other,
        "-o",
        "jsonpath={.status.conditions}{.metadata.finalizers}",
    ])
    .expect_ok()
    .stdout;
    assert_eq!(
        cluster_status, "",
        "the other namespace's cluster was touched"
    );

    // Deleted: gone from Connect, through the finalizer.
    delete_connector(&watched, &name);
    assert!(!settled!(c.list()).unwrap().contains(&name));

    // Not one request was refused along the way.
    tokio::task::block_in_place(|| {
        controller.stop();
        webhook.stop();
        worker.stop();
    });
    for log in [&ctl_name, &hook_name] {
        let path = dir.join("logs").join(format!("{log}.log"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.is_empty(), "{} is empty", path.display());
        for l in text.lines() {
            assert!(
                !l.contains("Forbidden") && !l.contains("forbidden"),
                "{}: {l}",
                path.display()
            );
        }
    }
}
