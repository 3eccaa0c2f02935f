//! KafkaConnectorPolicies through the real kubectl: the shipped example rules deny and warn at admission,
//! an invalid schema is refused at apply, and a policy created after a connector flags it without touching
//! it. Policies are cluster-scoped while tests share one stack: every policy here selects only its test's
//! namespace, by a label that namespace alone carries.

use connect_warden_e2e::connectors::{T, event_list, get, get_cluster, ready, wait_running};
use connect_warden_e2e::objects::{Connector, cluster, connector, file_sink, file_source, fill};
use connect_warden_e2e::*;
use serde_json::Value;
use shared::crd::KafkaConnectorPolicy;

use crate::webhook::{denial, warnings};

/// The label that scopes a test's policies to its namespace.
const SCOPE: &str = "connectwarden.io/e2e-policy";

/// A namespace of its own (labelled for its policies) with a KafkaConnectCluster `main` labelled
/// `environment: production`, once the cluster reports its plugins (policies read the plugin type).
async fn setup(prefix: &str) -> (String, String) {
    let scope = unique(prefix);
    let ns = namespace(prefix, &[(SCOPE, &scope)]);
    cluster(&ns, "main", &kafka_env().connect_url)
        .label("environment", "production")
        .apply()
        .expect_ok();
    eventually("the cluster's plugins in its status", T, || async {
        let c = get_cluster(&ns, "main").await;
        match c.status.map(|s| s.plugins) {
            Some(p) if p.iter().any(|p| p.kind == "sink") => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    (ns, scope)
}

/// Deletes the policy when the test ends, whatever happened.
struct Applied(String);

impl Drop for Applied {
    fn drop(&mut self) {
        let _ = kubectl(&[
            "delete",
            "kafkaconnectorpolicy",
            &self.0,
            "--ignore-not-found",
            "--wait=false",
        ]);
    }
}

/// The shipped example `deploy/examples/policies/<example>.yaml`, named `name`, selecting the namespaces
/// labelled `scope` (in place of its own namespace selector), with `action` when given.
fn example(example: &str, name: &str, scope: &str, action: Option<&str>) -> String {
    let path = stack::cache::repo_root()
        .join("deploy/examples/policies")
        .join(format!("{example}.yaml"));
    let mut v: Value = serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    v["metadata"]["name"] = Value::from(name);
    let selector: Value =
        serde_saphyr::from_str(&format!("matchLabels:\n  {SCOPE}: \"{scope}\"\n")).unwrap();
    if v["spec"].get("match").is_none() {
        v["spec"]["match"] = Value::Object(Default::default());
    }
    v["spec"]["match"]["namespaceSelector"] = selector;
    if let Some(a) = action {
        v["spec"]["action"] = Value::from(a);
    }
    shared::crd::manifest_yaml(&v).unwrap()
}

fn apply_policy(yaml: &str) -> Out {
    apply(yaml, &[])
}

/// Applies example `ex` as Deny, then as Warn: `bad` is refused with exactly `lines` (one per violation),
/// then admitted with them as warnings; `good` is admitted either way without a policy warning. Server-side
/// dry runs: admission runs in full (Kafka Connect validates what the policies let through), nothing is
/// created.
fn deny_then_warn(
    ex: &str,
    name: &str,
    scope: &str,
    bad: &Connector,
    good: &Connector,
    lines: &[String],
) {
    let _cleanup = Applied(name.to_string());
    let dry = &["--dry-run=server"][..];
    apply_policy(&example(ex, name, scope, Some("Deny"))).expect_ok();
    let want = lines.join("\n");
    poll_until(&format!("{name} to deny"), T, || {
        let out = apply(&bad.yaml(), dry);
        if out.ok {
            return Err("admitted".into());
        }
        let got = denial(&out);
        if got == want { Ok(()) } else { Err(got) }
    });
    let out = apply(&good.yaml(), dry).expect_ok();
    assert!(
        !warnings(&out).iter().any(|w| w.starts_with("policy ")),
        "{:?}",
        warnings(&out)
    );

    apply_policy(&example(ex, name, scope, Some("Warn"))).expect_ok();
    poll_until(&format!("{name} to warn"), T, || {
        let out = apply(&bad.yaml(), dry);
        if !out.ok {
            return Err(out.stderr);
        }
        let got: Vec<String> = warnings(&out)
            .into_iter()
            .filter(|w| w.starts_with("policy "))
            .collect();
        if got == lines {
            Ok(())
        } else {
            Err(format!("{got:?}"))
        }
    });
}

#[tokio::test]
async fn example_rules_deny_and_warn_at_admission() {
    let (ns, scope) = setup("policy-rules").await;
    let p = |rule: &str| unique(rule);

    // tasks.max at most 8.
    let name = p("max-tasks");
    deny_then_warn(
        "max-tasks",
        &name,
        &scope,
        &file_source(&ns, "src", "t", "/tmp/policy-src.txt").tasks_max(16),
        &file_source(&ns, "src", "t", "/tmp/policy-src.txt").tasks_max(8),
        &[format!(
            "policy {name}: spec.tasksMax: 16 is greater than the maximum of 8 — connectors run at most 8 tasks here; ask the platform team for more"
        )],
    );

    // Only these classes on production clusters (the cluster is labelled so): the class as written.
    let name = p("allowed-classes");
    deny_then_warn(
        "allowed-classes",
        &name,
        &scope,
        &connector(&ns, "sink", "FileStreamSinkConnector")
            .config("topics", "t")
            .config("file", "/tmp/policy-sink.txt"),
        &file_sink(&ns, "sink", "t", "/tmp/policy-sink.txt"),
        &[format!(
            "policy {name}: spec.class: \"FileStreamSinkConnector\" is not one of \"org.apache.kafka.connect.file.FileStreamSourceConnector\", \"org.apache.kafka.connect.file.FileStreamSinkConnector\" or 2 other candidates — {ns}/main runs only the connector classes the platform team supports; ask them to add FileStreamSinkConnector"
        )],
    );

    // Sinks tolerate errors into a dead-letter topic (the plugin type comes from the cluster's status).
    let name = p("sink-dead-letter-queue");
    let msg = "sinks set errors.tolerance: all and a dead-letter topic (errors.deadletterqueue.topic.name)";
    deny_then_warn(
        "sink-dead-letter-queue",
        &name,
        &scope,
        &file_sink(&ns, "sink", "t", "/tmp/policy-sink.txt").config("errors.tolerance", "none"),
        &file_sink(&ns, "sink", "t", "/tmp/policy-sink.txt")
            .config("errors.tolerance", "all")
            .config("errors.deadletterqueue.topic.name", "dlq"),
        &[
            format!(
                "policy {name}: spec.config.\"errors.deadletterqueue.topic.name\": is required — {msg}"
            ),
            format!(
                "policy {name}: spec.config.\"errors.tolerance\": \"all\" was expected — {msg}"
            ),
        ],
    );

    // Names in the team's namespace start with its prefix.
    // The connector names on Connect (spec.name) are this run's own: Connect has one connector per name.
    let name = p("team-a-names");
    let (bad, good) = (unique("orders"), unique("team-a-orders"));
    deny_then_warn(
        "team-a-names",
        &name,
        &scope,
        &file_source(&ns, "orders", "t", "/tmp/policy-src.txt").connect_name(&bad),
        &file_source(&ns, "team-a-orders", "t", "/tmp/policy-src.txt").connect_name(&good),
        &[format!(
            "policy {name}: spec.name: \"{bad}\" does not match \"^team-a-\" — connector names in {ns} start with team-a- (Kafka Connect names are shared by every team)"
        )],
    );

    // Transforms from an allow-list only.
    let name = p("transforms-allow-list");
    deny_then_warn(
        "transforms-allow-list",
        &name,
        &scope,
        &file_source(&ns, "src", "t", "/tmp/policy-src.txt")
            .config("transforms", "wrap")
            .config(
                "transforms.wrap.type",
                "org.apache.kafka.connect.transforms.HoistField$Value",
            )
            .config("transforms.wrap.field", "line"),
        &file_source(&ns, "src", "t", "/tmp/policy-src.txt")
            .config("transforms", "route")
            .config(
                "transforms.route.type",
                "org.apache.kafka.connect.transforms.TimestampRouter",
            ),
        &[format!(
            "policy {name}: spec.config.\"transforms.wrap.type\": \"org.apache.kafka.connect.transforms.HoistField$Value\" is not one of \"org.apache.kafka.connect.transforms.InsertField$Value\", \"org.apache.kafka.connect.transforms.ReplaceField$Value\" or 2 other candidates — transforms come from the platform's allow-list; ask the platform team to review FileStreamSource's transforms"
        )],
    );
}

#[tokio::test]
async fn a_policy_selects_namespaces_by_label_and_never_shows_a_password() {
    let (ns, scope) = setup("policy-label").await;
    let name = unique("no-literal-passwords");
    let _cleanup = Applied(name.clone());
    apply_policy(&format!(
        r#"apiVersion: connectwarden.io/v1alpha1
kind: KafkaConnectorPolicy
metadata:
  name: {name}
spec:
  match:
    namespaceSelector:
      matchLabels:
        {SCOPE}: "{scope}"
  schema:
    properties:
      config:
        properties:
          ssl.truststore.password:
            pattern: "^\\$\\{{"
  message: give secrets as ${{provider:…}} references
"#
    ))
    .expect_ok();
    let bad = file_source(&ns, "src", "t", "/tmp/policy-src.txt")
        .config("ssl.truststore.password", "hunter2-secret");
    let out = poll_until("the policy to deny", T, || {
        let out = apply(&bad.yaml(), &["--dry-run=server"]);
        if out.ok {
            Err("admitted".into())
        } else {
            Ok(out)
        }
    });
    assert_eq!(
        denial(&out),
        format!(
            "policy {name}: spec.config.\"ssl.truststore.password\": the value of `ssl.truststore.password` does not match \"^\\$\\{{\" — give secrets as ${{provider:…}} references"
        )
    );
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);

    // A namespace without the label is not concerned.
    let other = namespace("policy-label-other", &[]);
    cluster(&other, "main", &kafka_env().connect_url)
        .apply()
        .expect_ok();
    let elsewhere = file_source(&other, "src", "t", "/tmp/policy-src.txt")
        .config("ssl.truststore.password", "hunter2-secret");
    let out = apply(&elsewhere.yaml(), &["--dry-run=server"]).expect_ok();
    assert!(
        !warnings(&out).iter().any(|w| w.starts_with("policy ")),
        "{out:?}"
    );
}

#[test]
fn an_invalid_schema_is_refused_when_the_policy_is_applied() {
    let name = unique("invalid-schema");
    let _cleanup = Applied(name.clone());
    let out = apply_policy(&fill(
        include_str!("fixtures/policies/invalid-schema.yaml"),
        &[("NAME", &name), ("SCOPE", SCOPE)],
    ));
    assert_eq!(
        denial(&out),
        format!(
            "KafkaConnectorPolicy {name:?} cannot be enforced:\nspec.schema.properties.tasksMax.maximum: \"8\" is not of type \"number\""
        )
    );
    let got = kubectl(&[
        "get",
        "kafkaconnectorpolicy",
        &name,
        "--ignore-not-found",
        "-o",
        "name",
    ]);
    assert_eq!(got.expect_ok().stdout, "");
}

fn condition(k: &shared::crd::KafkaConnector) -> Option<shared::crd::Condition> {
    k.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.kind == "PolicyViolation")
        .cloned()
}

async fn policy_status(name: &str) -> Option<shared::crd::KafkaConnectorPolicyStatus> {
    let api: kube::Api<KafkaConnectorPolicy> = kube::Api::all(kube_client().await);
    api.get_opt(name).await.unwrap().and_then(|p| p.status)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_policy_flags_existing_connectors_without_touching_them_until_it_goes() {
    let (ns, scope) = setup("policy-existing").await;
    let conn = unique("src");
    let file = scratch("policy-existing").join("in.txt");
    std::fs::write(&file, "a\n").unwrap();
    file_source(&ns, &conn, &conn, file.display())
        .tasks_max(9)
        .apply()
        .expect_ok();
    wait_running(&ns, &conn, "1/1").await;

    let name = unique("max-tasks");
    let cleanup = Applied(name.clone());
    apply_policy(&example("max-tasks", &name, &scope, None)).expect_ok();
    let line = format!(
        "policy {name}: spec.tasksMax: 9 is greater than the maximum of 8 — connectors run at most 8 tasks here; ask the platform team for more"
    );
    let (k, c) = eventually("the PolicyViolation condition", T, || async {
        let k = get(&ns, &conn).await.ok_or("gone")?;
        match condition(&k) {
            Some(c) => Ok((k, c)),
            None => Err("no condition".to_string()),
        }
    })
    .await;
    assert_eq!(c.status, "True");
    assert_eq!(c.reason.as_deref(), Some("DenyPolicy"));
    assert_eq!(c.message.as_deref(), Some(line.as_str()));
    // Not disrupted: still Ready and running on Connect.
    assert_eq!(ready(&k).0, "True");
    assert_eq!(ready(&k).1, "Running");
    let on_connect = settled!(connect().get_status(&conn)).unwrap();
    assert_eq!(on_connect.connector.state, "RUNNING");
    poll_until("the PolicyViolation event", T, || {
        let evs = event_list(&ns, &conn);
        evs.iter()
            .any(|(r, m, _)| r == "PolicyViolation" && *m == line)
            .then_some(())
            .ok_or(format!("{evs:?}"))
    });
    let st = eventually("the policy's status", T, || async {
        match policy_status(&name).await {
            Some(s) if s.violating_connectors == Some(1) => Ok(s),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(st.matching_connectors, Some(1));
    assert_eq!(st.violating, [format!("{ns}/{conn}")]);
    let printed = kubectl(&["get", "kafkaconnectorpolicy", &name])
        .expect_ok()
        .stdout;
    assert!(printed.starts_with("NAME"), "{printed}");
    assert!(printed.contains("Deny"), "{printed}");

    // The policy goes: so does the condition, with an event; the connector ran throughout.
    kubectl(&["delete", "kafkaconnectorpolicy", &name]).expect_ok();
    drop(cleanup);
    eventually("the condition to clear", T, || async {
        let k = get(&ns, &conn).await.ok_or("gone")?;
        match condition(&k) {
            None => Ok(()),
            Some(c) => Err(format!("{c:?}")),
        }
    })
    .await;
    poll_until("the PolicySatisfied event", T, || {
        let evs = event_list(&ns, &conn);
        evs.iter()
            .any(|(r, _, _)| r == "PolicySatisfied")
            .then_some(())
            .ok_or(format!("{evs:?}"))
    });
    let k = get(&ns, &conn).await.unwrap();
    assert_eq!(ready(&k).0, "True");
}
