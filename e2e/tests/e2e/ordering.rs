//! GitOps sync is never blocked by ordering: Flux and Argo CD dry-run every object of a folder before applying
//! any, and sealed or external secrets create Secrets later. Through the real kubectl, API server, webhook,
//! controller and the secured Connect worker (https, mTLS, basic auth): a folder with Secrets, a ConfigMap, a
//! KafkaConnectCluster and KafkaConnectors passes a server-side dry run in any file order, applies connectors
//! first and the cluster last, and everything becomes Ready; what is really wrong is still denied at once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use connect_warden_e2e::objects::fill;
use connect_warden_e2e::*;

use crate::webhook::{denial, no_topics_denial, warnings};

/// The (name, YAML) files of a folder, written under `dir` in the given order: kubectl applies a folder's
/// files in name order, so a numeric prefix fixes the order.
fn write_folder(dir: &Path, files: &[(&str, String)]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for (i, (name, yaml)) in files.iter().enumerate() {
        std::fs::write(dir.join(format!("{i:02}-{name}")), yaml).unwrap();
    }
    dir.to_path_buf()
}

/// Each line of `text` indented by `n` spaces (PEM into a YAML block), the last without its line end (the
/// fixture has it).
fn indent(text: &str, n: usize) -> String {
    text.lines()
        .map(|l| format!("{}{l}", " ".repeat(n)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The ConfigMap `connect-ca` in `ns` whose `ca.crt` is `text`.
fn ca_config_map(ns: &str, text: &str) -> String {
    fill(
        include_str!("fixtures/ordering/configmap-ca.yaml"),
        &[("NAMESPACE", ns), ("CA_CRT", &indent(text, 4))],
    )
}

/// The objects of a GitOps folder for the secured worker: credentials, client certificate, CA, the cluster
/// and two connectors, by file name.
fn secure_folder(ns: &str, out_dir: &Path) -> Vec<(&'static str, String)> {
    let s = &kafka_env().secure;
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    vec![
        (
            "secret-credentials.yaml",
            fill(
                include_str!("fixtures/ordering/secret-credentials.yaml"),
                &[
                    ("NAMESPACE", ns),
                    ("USERNAME", &s.username),
                    ("PASSWORD", &s.password),
                ],
            ),
        ),
        (
            "secret-client.yaml",
            fill(
                include_str!("fixtures/ordering/secret-client.yaml"),
                &[
                    ("NAMESPACE", ns),
                    ("TLS_CRT", &indent(&read(&s.client_cert_pem), 4)),
                    ("TLS_KEY", &indent(&read(&s.client_key_pem), 4)),
                ],
            ),
        ),
        ("configmap-ca.yaml", ca_config_map(ns, &read(&s.ca_pem))),
        (
            "cluster.yaml",
            objects::cluster(ns, "secure", &s.url)
                .basic_auth("connect-credentials")
                .ca_config_map("connect-ca")
                .client_cert("connect-client")
                .yaml(),
        ),
        (
            "connector-source.yaml",
            objects::file_source(
                ns,
                "ord-source",
                &format!("{ns}-lines"),
                out_dir.join("in.txt").display(),
            )
            .on("secure")
            .connect_name(&format!("{ns}-source"))
            .tasks_max(1)
            .yaml(),
        ),
        (
            "connector-sink.yaml",
            objects::file_sink(
                ns,
                "ord-sink",
                &format!("{ns}-lines"),
                out_dir.join("out.txt").display(),
            )
            .on("secure")
            .connect_name(&format!("{ns}-sink"))
            .tasks_max(1)
            .yaml(),
        ),
    ]
}

fn missing_cluster_warning(ns: &str, cluster: &str, hint: &str) -> String {
    format!(
        "spec.clusterRef: KafkaConnectCluster {ns}/{cluster} not found ({hint}); admitted without Kafka Connect \
         validation, the controller validates the connector and reports it once the cluster exists"
    )
}

fn missing_ref_warning(field: &str, what: &str) -> String {
    format!(
        "{field}: {what} not found; admitted, the controller reports the cluster not Ready until it exists"
    )
}

/// The warnings kubectl printed, sorted (their order follows the file order).
fn sorted_warnings(out: &Out) -> Vec<String> {
    let mut w = warnings(out);
    w.sort();
    w
}

/// A permutation of `0..n` from a seed (printed on failure, so a failing order can be replayed).
fn shuffled(n: usize, mut seed: u64) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        v.swap(i, (seed >> 33) as usize % (i + 1));
    }
    v
}

/// The Ready condition's (status, reason) of a KafkaConnector.
fn ready(ns: &str, name: &str) -> (String, String) {
    let out = kubectl(&["get", "kafkaconnector", name, "-n", ns, "-o", "json"]).expect_ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let cond = v["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready").cloned())
        .unwrap_or_default();
    (
        cond["status"].as_str().unwrap_or_default().to_string(),
        cond["reason"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn a_folder_dry_runs_in_any_order_then_applies_connectors_first_and_becomes_ready() {
    let ns = namespace("ord-folder", &[]);
    let work = scratch("ord-folder");
    std::fs::write(work.join("in.txt"), "one\ntwo\n").unwrap();
    let files = secure_folder(&ns, &work);
    let names: Vec<&str> = files.iter().map(|(n, _)| *n).collect();
    let objects = [
        "secret/connect-credentials created (server dry run)",
        "secret/connect-client created (server dry run)",
        "configmap/connect-ca created (server dry run)",
        "kafkaconnectcluster.connectwarden.io/secure created (server dry run)",
        "kafkaconnector.connectwarden.io/ord-source created (server dry run)",
        "kafkaconnector.connectwarden.io/ord-sink created (server dry run)",
    ];
    // A server-side dry run judges each object alone, as if none of the others existed: every reference is
    // "not there yet", and every one is admitted with a warning saying so.
    let mut expected = vec![
        missing_cluster_warning(
            &ns,
            "secure",
            &format!("there is no KafkaConnectCluster in namespace {ns}"),
        ),
        missing_ref_warning(
            "spec.authentication.secretRef",
            &format!("Secret {ns}/connect-credentials"),
        ),
        missing_ref_warning(
            "spec.tls.caConfigMapRef",
            &format!("ConfigMap {ns}/connect-ca"),
        ),
        missing_ref_warning(
            "spec.tls.clientCertSecretRef",
            &format!("Secret {ns}/connect-client"),
        ),
    ];
    expected.sort();
    let seed = u64::from(std::process::id());
    let reverse: Vec<usize> = (0..files.len()).rev().collect();
    for (label, order) in [
        ("reverse", reverse),
        ("shuffled", shuffled(files.len(), seed)),
    ] {
        let ordered: Vec<(&str, String)> = order.iter().map(|&i| files[i].clone()).collect();
        let dir = write_folder(&work.join(format!("dry-{label}")), &ordered);
        let out = kubectl(&["apply", "--dry-run=server", "-f", &dir.to_string_lossy()]);
        let order_names: Vec<&str> = order.iter().map(|&i| names[i]).collect();
        assert!(
            out.ok,
            "{label} {order_names:?} (seed {seed}):\n{}\n{}",
            out.stdout, out.stderr
        );
        for o in &objects {
            assert!(
                out.stdout.lines().any(|l| l == *o),
                "{label} {order_names:?} (seed {seed}): {o} missing in\n{}",
                out.stdout
            );
        }
        assert_eq!(
            sorted_warnings(&out),
            expected,
            "{label} {order_names:?} (seed {seed})"
        );
    }
    // A dry run creates nothing.
    let out = kubectl(&[
        "get",
        "kafkaconnectors,kafkaconnectclusters",
        "-n",
        &ns,
        "-o",
        "name",
    ])
    .expect_ok();
    assert_eq!(out.stdout.trim(), "");

    // Applied for real, connectors first and the cluster last: the connectors are admitted with the warning,
    // the cluster finds everything it references.
    let order = [4, 5, 0, 1, 2, 3];
    let ordered: Vec<(&str, String)> = order.iter().map(|&i| files[i].clone()).collect();
    let dir = write_folder(&work.join("apply"), &ordered);
    let out = kubectl(&["apply", "-f", &dir.to_string_lossy()]).expect_ok();
    assert_eq!(out.stdout.matches(" created").count(), 6, "{}", out.stdout);
    assert_eq!(
        warnings(&out),
        vec![missing_cluster_warning(
            &ns,
            "secure",
            &format!("there is no KafkaConnectCluster in namespace {ns}")
        )]
    );

    // The controller takes it from there: both connectors run on the secured worker.
    for name in ["ord-source", "ord-sink"] {
        poll_until(
            &format!("{name} to be Ready"),
            Duration::from_secs(180),
            || match ready(&ns, name) {
                (s, _) if s == "True" => Ok(()),
                other => Err(format!("{other:?}")),
            },
        );
    }

    // The next sync of the same folder changes nothing and warns about nothing.
    let out = kubectl(&["apply", "-f", &dir.to_string_lossy()]).expect_ok();
    assert!(warnings(&out).is_empty(), "{}", out.stderr);
    // Now that everything exists, a new connector is validated by Kafka Connect through the cluster's
    // credentials, client certificate and CA: a valid one passes silently, a mistake is denied at once.
    let extra = |class: &str, key: &str, value: &str| {
        objects::connector(&ns, "ord-extra", class)
            .on("secure")
            .config(key, value)
            .yaml()
    };
    let out = apply(
        &extra("FileStreamSource", "topic", &format!("{ns}-x")),
        &["--dry-run=server"],
    )
    .expect_ok();
    assert!(warnings(&out).is_empty(), "{}", out.stderr);
    assert_eq!(
        denial(&apply(
            &extra("FileStreamSink", "file", "/tmp/x"),
            &["--dry-run=server"]
        )),
        no_topics_denial(&ns, "secure")
    );
}

#[test]
fn a_typo_in_the_cluster_name_shows_at_once() {
    let ns = namespace("ord-typo", &[]);
    objects::cluster(&ns, "local", &kafka_env().connect_url)
        .apply()
        .expect_ok();
    let connector = |ns: &str, cluster: &str| {
        objects::connector(ns, "typo", "FileStreamSource")
            .on(cluster)
            .config("topic", "t")
            .yaml()
    };
    for flags in [&["--dry-run=server"][..], &[][..]] {
        let out = apply(&connector(&ns, "locl"), flags).expect_ok();
        assert_eq!(
            warnings(&out),
            vec![missing_cluster_warning(
                &ns,
                "locl",
                "did you mean \"local\"?"
            )],
            "{flags:?}"
        );
    }
    let out = apply(&connector(&ns, "warehouse"), &["--dry-run=server"]).expect_ok();
    assert_eq!(
        warnings(&out),
        vec![missing_cluster_warning(
            &ns,
            "warehouse",
            &format!("KafkaConnectClusters in namespace {ns}: local")
        )]
    );
}

#[test]
fn a_ca_without_a_certificate_is_named_for_the_cluster_and_its_connectors() {
    let ns = namespace("ord-ca", &[]);
    let work = scratch("ord-ca");
    let files = secure_folder(&ns, &work);
    let by_name = |n: &str| files.iter().find(|(f, _)| *f == n).unwrap().1.clone();
    // Credentials and client certificate first, the cluster before its CA: admitted, the CA named.
    let out = apply(
        &[
            by_name("secret-credentials.yaml"),
            by_name("secret-client.yaml"),
            by_name("cluster.yaml"),
        ]
        .join("---\n"),
        &[],
    )
    .expect_ok();
    assert_eq!(
        warnings(&out),
        vec![missing_ref_warning(
            "spec.tls.caConfigMapRef",
            &format!("ConfigMap {ns}/connect-ca")
        )]
    );
    // A connector meanwhile: admitted, Connect cannot be asked yet, and the warning says why.
    let connector = |name: &str| {
        objects::connector(&ns, name, "FileStreamSource")
            // A Connect name of this namespace's own: the connector stays on the worker after the test.
            .connect_name(&format!("{ns}-{name}"))
            .on("secure")
            .config("topic", format!("{ns}-t"))
            .yaml()
    };
    let out = apply(&connector("early"), &[]).expect_ok();
    assert_eq!(
        warnings(&out),
        vec![format!(
            "Kafka Connect validation skipped: KafkaConnectCluster {ns}/secure cannot reach Kafka Connect with its \
             settings yet: ConfigMap {ns}/connect-ca (its spec.tls.caConfigMapRef) not found; the controller \
             validates the connector and reports it once it exists"
        )]
    );

    // The CA arrives, but holds a placeholder: connectors are denied naming the CA, not "unavailable".
    let placeholder = ca_config_map(
        &ns,
        "# Replace with the PEM CA certificate of your Connect REST API.",
    );
    apply(&placeholder, &[]).expect_ok();
    let bad_ca = |cluster: &str| {
        format!(
            "KafkaConnectCluster {ns}/{cluster}: ConfigMap {ns}/connect-ca key \"ca.crt\" (spec.tls.caConfigMapRef) \
             holds no PEM certificate (expected \"-----BEGIN CERTIFICATE-----\" blocks)"
        )
    };
    // The watch cache sees the ConfigMap within moments.
    poll_until("the CA to be judged", Duration::from_secs(30), || {
        let out = apply(&connector("late"), &["--dry-run=server"]);
        if out.ok {
            return Err(out.stderr);
        }
        let msg = denial(&out);
        if msg == bad_ca("secure") {
            Ok(())
        } else {
            Err(msg)
        }
    });
    // A cluster applied now, with that CA, is denied naming it too.
    let msg = denial(&apply(
        &by_name("cluster.yaml").replace("name: secure", "name: secure-2"),
        &[],
    ));
    assert_eq!(msg, bad_ca("secure-2"));

    // The real CA: connectors are validated by Connect through TLS again.
    apply(&by_name("configmap-ca.yaml"), &[]).expect_ok();
    poll_until("the CA to be accepted", Duration::from_secs(30), || {
        let out = apply(&connector("late"), &["--dry-run=server"]);
        if out.ok && warnings(&out).is_empty() {
            Ok(())
        } else {
            Err(out.stderr)
        }
    });
}

/// The repository's `deploy/examples`.
fn examples_dir() -> PathBuf {
    stack::cache::repo_root().join("deploy").join("examples")
}

/// The warnings of the examples in a namespace without their cluster and their CA ConfigMap.
fn no_examples_cluster_nor_ca(ns: &str) -> Vec<String> {
    vec![
        missing_cluster_warning(
            ns,
            "connect",
            &format!("there is no KafkaConnectCluster in namespace {ns}"),
        ),
        missing_ref_warning(
            "spec.tls.caConfigMapRef",
            &format!("ConfigMap {ns}/connect-rest-ca"),
        ),
    ]
}

/// Asserts kubectl printed `<object> <what>` for each object.
#[track_caller]
fn assert_printed(out: &Out, objects: &[&str], what: &str) {
    for o in objects {
        assert!(
            out.stdout.contains(&format!("{o} {what}")),
            "{o}: {}",
            out.stdout
        );
    }
}

/// Leaves the connectors of `namespaces` on Connect (reconciliation paused) and deletes them: the examples'
/// cluster cannot be reached, so a deletion would wait for it, and their names (claimed on that Kafka
/// Connect) must be free for the next run on the same stack.
struct ReleaseClaims(Vec<String>);

impl Drop for ReleaseClaims {
    fn drop(&mut self) {
        for ns in &self.0 {
            let all = ["kafkaconnectors", "--all", "-n", ns.as_str()];
            kubectl(
                &[
                    &["annotate"][..],
                    &all,
                    &["connectwarden.io/pause-reconciliation=true"],
                ]
                .concat(),
            );
            kubectl(&[&["delete"][..], &all, &["--wait=false"]].concat());
        }
    }
}

#[test]
fn the_examples_apply_in_any_order_with_f_and_k() {
    let dir = examples_dir();
    let mut release = ReleaseClaims(Vec::new());
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    assert_eq!(files.len(), 4, "{files:?}");
    let created = [
        "kafkaconnector.connectwarden.io/orders-archive",
        "secret/connect-rest-credentials",
        "kafkaconnectcluster.connectwarden.io/connect",
        "kafkaconnector.connectwarden.io/lines-sink",
        "kafkaconnector.connectwarden.io/lines-source",
    ];

    // A server-side dry run of the folder, in reverse file order: every object admitted.
    let ns = namespace("ord-examples", &[]);
    release.0.push(ns.clone());
    let reversed: Vec<(&str, String)> = files
        .iter()
        .rev()
        .map(|(n, y)| (n.as_str(), y.clone()))
        .collect();
    let rev_dir = write_folder(&scratch("ord-examples").join("reversed"), &reversed);
    let out = kubectl(&[
        "apply",
        "-n",
        &ns,
        "--dry-run=server",
        "-f",
        &rev_dir.to_string_lossy(),
    ])
    .expect_ok();
    assert_printed(&out, &created, "created (server dry run)");
    let mut expected = no_examples_cluster_nor_ca(&ns);
    expected.push(missing_ref_warning(
        "spec.authentication.secretRef",
        &format!("Secret {ns}/connect-rest-credentials"),
    ));
    expected.sort();
    assert_eq!(sorted_warnings(&out), expected);

    // The folder itself, for real, as a user runs it: the CA ConfigMap is theirs to create, so the cluster
    // and the connectors say so.
    let out = kubectl(&["apply", "-n", &ns, "-f", &dir.to_string_lossy()]).expect_ok();
    assert_printed(&out, &created, "created");
    let mut expected = no_examples_cluster_nor_ca(&ns);
    expected.push(format!(
            "Kafka Connect validation skipped: KafkaConnectCluster {ns}/connect cannot reach Kafka Connect with its \
             settings yet: ConfigMap {ns}/connect-rest-ca (its spec.tls.caConfigMapRef) not found; the controller \
             validates the connector and reports it once it exists"
    ));
    expected.sort();
    assert_eq!(sorted_warnings(&out), expected);

    // The same folder in another namespace, for the same Kafka Connect: the connector names are claimed
    // there already, through the first namespace's cluster.
    let ns_b = namespace("ord-examples-k", &[]);
    release.0.push(ns_b.clone());
    let out = kubectl(&["apply", "-n", &ns_b, "-k", &dir.to_string_lossy()]);
    assert!(
        denial(&out).contains(&format!(
            "connector name \"lines-to-file\" on KafkaConnectCluster {ns_b}/connect is already claimed by \
             KafkaConnector {ns}/lines-sink through KafkaConnectCluster {ns}/connect, which points at the same \
             Kafka Connect (https://connect.kafka.svc:8083/)"
        )),
        "{out:?}"
    );
    // Another team reuses the examples with kustomize for its own Kafka Connect: an overlay over them.
    let ns = namespace("ord-examples-k", &[]);
    release.0.push(ns.clone());
    // kustomize takes bases by relative path: the examples are copied beside the overlay.
    let work = scratch("ord-examples");
    let (base, overlay) = (work.join("examples"), work.join("team-b"));
    for d in [&base, &overlay] {
        std::fs::create_dir_all(d).unwrap();
    }
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, base.join(p.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(
        overlay.join("kustomization.yaml"),
        include_str!("fixtures/ordering/team-b-kustomization.yaml"),
    )
    .unwrap();
    let out = kubectl(&["apply", "-n", &ns, "-k", &overlay.to_string_lossy()]).expect_ok();
    assert_printed(&out, &created, "created");
}

#[test]
fn the_demo_folder_applies_with_r_in_any_order_and_its_mistake_is_judged_once_it_can_be() {
    let src = examples_dir().join("demo");
    let work = scratch("ord-demo");
    let input = work.join("orders.txt");
    std::fs::write(&input, "order-1\n").unwrap();
    // Rendered as `make demo` renders it, into a namespace of this test; the connectors get names on Connect
    // of their own (two copies of the demo on one Kafka Connect would claim the same names).
    let render = |ns: &str, name: &str| {
        let text = std::fs::read_to_string(src.join(name))
            .unwrap()
            .replace("${CONNECT_URL}", &kafka_env().connect_url)
            .replace("${DEMO_FILE}", &input.to_string_lossy())
            .replace("namespace: demo", &format!("namespace: {ns}"));
        if text.contains("kind: KafkaConnector\n") {
            text.replacen(
                "spec:\n",
                &format!("spec:\n  name: {ns}-{}\n", name.trim_end_matches(".yaml")),
                1,
            )
        } else {
            text
        }
    };
    let names = ["bad-connector.yaml", "cluster.yaml", "good-connector.yaml"];

    // The folder as it is (the mistake sorts first): nothing is denied; the mistake waits for its cluster.
    let ns = namespace("ord-demo", &[]);
    let dir = work.join("as-is").join("demo");
    std::fs::create_dir_all(&dir).unwrap();
    for n in names {
        std::fs::write(dir.join(n), render(&ns, n)).unwrap();
    }
    let out = kubectl(&["apply", "-R", "-f", &work.join("as-is").to_string_lossy()]).expect_ok();
    for o in [
        "kafkaconnector.connectwarden.io/orders-sink created",
        "kafkaconnectcluster.connectwarden.io/local created",
        "kafkaconnector.connectwarden.io/orders-source created",
    ] {
        assert!(out.stdout.contains(o), "{o}: {}", out.stdout);
    }
    assert!(
        warnings(&out).contains(&missing_cluster_warning(
            &ns,
            "local",
            &format!("there is no KafkaConnectCluster in namespace {ns}")
        )),
        "{}",
        out.stderr
    );

    // The cluster first: the mistake is judged by Kafka Connect and denied, the rest is applied.
    let ns = namespace("ord-demo", &[]);
    let ordered: Vec<(&str, String)> = [1, 2, 0]
        .iter()
        .map(|&i| (names[i], render(&ns, names[i])))
        .collect();
    let dir = write_folder(&work.join("cluster-first").join("demo"), &ordered);
    let out = kubectl(&[
        "apply",
        "-R",
        "-f",
        &dir.parent().unwrap().to_string_lossy(),
    ]);
    assert_eq!(denial(&out), no_topics_denial(&ns, "local"));
    for o in [
        "kafkaconnectcluster.connectwarden.io/local created",
        "kafkaconnector.connectwarden.io/orders-source created",
    ] {
        assert!(out.stdout.contains(o), "{o}: {}", out.stdout);
    }
}
