//! The shipped aggregated ClusterRoles (`deploy/base/rbac-aggregate.yaml`) through kube-controller-manager's
//! clusterrole-aggregation controller: users bound only to Kubernetes' built-in `edit` or `view` role in a
//! namespace, impersonated with `kubectl --as`, as the apiserver's RBAC judges them.

use connect_warden_e2e::connectors::*;
use connect_warden_e2e::objects::{cluster, file_sink};
use connect_warden_e2e::*;

/// `kubectl apply -f deploy/base/rbac-aggregate.yaml`, the file as shipped (idempotent: every test that
/// needs the roles may apply it).
fn apply_aggregated_roles() {
    let file = stack::cache::repo_root().join("deploy/base/rbac-aggregate.yaml");
    kubectl(&["apply", "-f", &file.display().to_string()]).expect_ok();
}

/// Whether the built-in ClusterRole `role` holds a rule granting `verb` on `resource` of connectwarden.io.
fn grants(role: &str, resource: &str, verb: &str) -> bool {
    let out = kubectl(&["get", "clusterrole", role, "-o", "json"]).expect_ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    v["rules"].as_array().into_iter().flatten().any(|r| {
        let has = |field: &str, want: &str| {
            r[field]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == want))
        };
        has("apiGroups", "connectwarden.io") && has("resources", resource) && has("verbs", verb)
    })
}

/// A RoleBinding `<user>` in `ns` of the ClusterRole `role` to the user `user`.
fn bind(ns: &str, user: &str, role: &str) {
    kubectl(&[
        "create",
        "rolebinding",
        user,
        "-n",
        ns,
        &format!("--clusterrole={role}"),
        &format!("--user={user}"),
    ])
    .expect_ok();
}

/// Runs kubectl as `user` (impersonated by the admin), with `stdin` piped in.
fn kubectl_as(user: &str, args: &[&str], stdin: Option<&str>) -> Out {
    let mut all = vec!["--as", user];
    all.extend_from_slice(args);
    kubectl_with_stdin(&all, stdin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_builtin_edit_role_creates_and_updates_connectors_and_view_only_reads_them() {
    apply_aggregated_roles();
    poll_until("the aggregated rules in edit and view", T, || {
        let ok = grants("edit", "kafkaconnectors", "create")
            && grants("edit", "kafkaconnectors", "patch")
            && grants("edit", "kafkaconnectors", "deletecollection")
            && grants("view", "kafkaconnectors", "get")
            && grants("view", "kafkaconnectclusters/status", "watch")
            && grants("admin", "kafkaconnectors", "update");
        ok.then_some(()).ok_or("not aggregated yet".to_string())
    });
    // Clusters stay the platform team's: no built-in role writes them.
    for role in ["view", "edit", "admin"] {
        assert!(grants(role, "kafkaconnectclusters", "get"), "{role}");
        for verb in ["create", "update", "patch", "delete"] {
            assert!(
                !grants(role, "kafkaconnectclusters", verb),
                "{role} may {verb} kafkaconnectclusters"
            );
        }
    }

    let ns = shared_namespace("rbac-agg");
    let (editor, viewer) = (unique("editor"), unique("viewer"));
    bind(&ns, &editor, "edit");
    bind(&ns, &viewer, "view");

    // edit: creates and updates a KafkaConnector with kubectl apply, which the controller then runs.
    let name = unique("agg");
    let file = scratch("rbac-agg").join("out.txt");
    let sink = file_sink(&ns, &name, "agg-t", file.display());
    let out = kubectl_as(&editor, &["apply", "-f", "-"], Some(&sink.yaml())).expect_ok();
    assert_eq!(
        out.stdout.trim(),
        format!("kafkaconnector.connectwarden.io/{name} created")
    );
    wait_running(&ns, &name, "1/1").await;
    let out = kubectl_as(
        &editor,
        &["apply", "-f", "-"],
        Some(&sink.clone().tasks_max(2).yaml()),
    )
    .expect_ok();
    assert_eq!(
        out.stdout.trim(),
        format!("kafkaconnector.connectwarden.io/{name} configured")
    );
    wait_running(&ns, &name, "2/2").await;
    // ... but not a KafkaConnectCluster.
    let out = kubectl_as(
        &editor,
        &["apply", "-f", "-"],
        Some(&cluster(&ns, "mine", &kafka_env().connect_url).yaml()),
    )
    .expect_err();
    assert_eq!(
        out.stderr.trim(),
        format!(
            "Error from server (Forbidden): error when creating \"STDIN\": kafkaconnectclusters.connectwarden.io is forbidden: User \"{editor}\" cannot create resource \"kafkaconnectclusters\" in API group \"connectwarden.io\" in the namespace \"{ns}\""
        )
    );

    // view: reads the connector and its status ...
    let out = kubectl_as(
        &viewer,
        &[
            "get",
            "kafkaconnector",
            &name,
            "-n",
            &ns,
            "-o",
            "jsonpath={.status.tasksReady}",
        ],
        None,
    )
    .expect_ok();
    assert_eq!(out.stdout, "2/2");
    kubectl_as(&viewer, &["get", "kafkaconnectclusters", "-n", &ns], None).expect_ok();
    // ... and may change nothing.
    // A create names no object yet: the denial names none.
    let forbidden = |verb: &str, what: Option<&str>| {
        let what = what.map(|w| format!(" \"{w}\"")).unwrap_or_default();
        format!(
            "kafkaconnectors.connectwarden.io{what} is forbidden: User \"{viewer}\" cannot {verb} resource \"kafkaconnectors\" in API group \"connectwarden.io\" in the namespace \"{ns}\""
        )
    };
    let other = unique("agg-view");
    let out = kubectl_as(
        &viewer,
        &["apply", "-f", "-"],
        Some(&file_sink(&ns, &other, "agg-t", file.display()).yaml()),
    )
    .expect_err();
    assert_eq!(
        out.stderr.trim(),
        format!(
            "Error from server (Forbidden): error when creating \"STDIN\": {}",
            forbidden("create", None)
        )
    );
    let out = kubectl_as(
        &viewer,
        &[
            "patch",
            "kafkaconnector",
            &name,
            "-n",
            &ns,
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"tasksMax":1}}"#,
        ],
        None,
    )
    .expect_err();
    assert_eq!(
        out.stderr.trim(),
        format!(
            "Error from server (Forbidden): {}",
            forbidden("patch", Some(&name))
        )
    );
    let out = kubectl_as(
        &viewer,
        &["delete", "kafkaconnector", &name, "-n", &ns],
        None,
    )
    .expect_err();
    assert_eq!(
        out.stderr.trim(),
        format!(
            "Error from server (Forbidden): {}",
            forbidden("delete", Some(&name))
        )
    );
    assert!(get(&ns, &name).await.is_some());

    // The binding is per namespace: the editor may not create in another one.
    let elsewhere = shared_namespace("rbac-agg-other");
    let out = kubectl_as(
        &editor,
        &["apply", "-f", "-"],
        Some(&file_sink(&elsewhere, &other, "agg-t", file.display()).yaml()),
    )
    .expect_err();
    assert!(
        out.stderr.contains(&format!(
            "User \"{editor}\" cannot get resource \"kafkaconnectors\" in API group \"connectwarden.io\" in the namespace \"{elsewhere}\""
        )),
        "{}",
        out.stderr
    );

    // The editor deletes what it made; the controller removes it from Connect first.
    let out = kubectl_as(
        &editor,
        &[
            "delete",
            "kafkaconnector",
            &name,
            "-n",
            &ns,
            "--wait=true",
            "--timeout=60s",
        ],
        None,
    )
    .expect_ok();
    assert_eq!(
        out.stdout.trim(),
        format!("kafkaconnector.connectwarden.io \"{name}\" deleted from {ns} namespace")
    );
}
