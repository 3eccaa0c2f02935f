//! The chart renders the same objects as the kustomize install, and every name an object refers to.

use super::*;

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
