//! `cwctl` against the real stack: validate live and offline on the same files (the same webhook decision
//! code, so the same texts where both can tell), bad input reported in one run, a stale snapshot and an
//! unreachable Connect; diff after a change made behind connect-warden's back; export, apply and adoption
//! without a restart (read from Connect's own request log); convert, apply, Ready; the kubectl plugin name.

use std::path::{Path, PathBuf};
use std::process::Command;

use connect_warden_e2e::connectors::{
    T, annotate_connector, connect_log, count, shared_namespace, wait_running,
};
use connect_warden_e2e::objects::{cluster, file_sink, file_source, fill};
use connect_warden_e2e::*;

/// What a cwctl run printed, and its exit status.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn bin(name: &str) -> PathBuf {
    stack::warden::bin_dir().join(name)
}

impl From<std::process::Output> for Run {
    fn from(out: std::process::Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

fn run_with(program: &Path, args: &[&str], stdin: Option<&str>, path: Option<&Path>) -> Run {
    let mut cmd = Command::new(program);
    cmd.args(args).env("KUBECONFIG", &kube_env().kubeconfig);
    if let Some(dir) = path {
        let old = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![dir.to_path_buf()];
        paths.extend(std::env::split_paths(&old));
        cmd.env("PATH", std::env::join_paths(paths).unwrap());
    }
    output_with_stdin(&mut cmd, stdin)
        .unwrap_or_else(|e| {
            panic!(
                "running {}: {e} (build it with `cargo build --bins`)",
                program.display()
            )
        })
        .into()
}

fn cwctl(args: &[&str]) -> Run {
    run_with(&bin("cwctl"), args, None, None)
}

/// `cwctl snapshot` of the main worker into `path`, which must succeed.
fn snapshot_to(path: &Path) -> Run {
    let snap = cwctl(&[
        "snapshot",
        "--connect-url",
        connect_url(),
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(snap.code, 0, "{snap:?}");
    snap
}

/// Given a namespace and a scratch directory `<prefix>-…` holding a snapshot of the main worker,
/// `plugins.json`: the namespace, the directory and the snapshot's path.
fn given_a_snapshot(prefix: &str) -> (String, PathBuf, String) {
    let ns = namespace(prefix, &[]);
    let dir = scratch(prefix);
    let snapshot = dir.join("plugins.json");
    snapshot_to(&snapshot);
    (ns, dir, snapshot.display().to_string())
}

fn write(dir: &Path, file: &str, text: &str) -> String {
    let p = dir.join(file);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn connect_url() -> &'static str {
    &kafka_env().connect_url
}

/// The manifests of one test: a cluster, a good connector, a sink without topics (only Connect's own
/// validation knows), a value of the wrong type, two connectors claiming one name, broken YAML, a kind
/// cwctl does not check, and a snapshot kept beside them.
fn manifests(ns: &str, dir: &Path) {
    write(
        dir,
        "cluster.yaml",
        &cluster(ns, "main", connect_url()).yaml(),
    );
    write(
        dir,
        "good.yaml",
        &file_source(ns, "good", "cli-good", "/tmp/cli-good.txt")
            .config_raw("batch.size", "200")
            .yaml(),
    );
    write(
        dir,
        "bad/sink.yaml",
        &file_sink(ns, "no-topics", "x", "/tmp/cli-sink.txt")
            .config("topic", "cli-sink")
            .yaml()
            .replace("    topics: x\n", ""),
    );
    write(
        dir,
        "bad/types.yaml",
        &format!(
            "# batch.size is an INT\n\n{}",
            file_source(ns, "bad-batch", "cli-bad", "/tmp/cli-bad.txt")
                .config("batch.size", "many")
                .yaml()
        ),
    );
    write(
        dir,
        "claims.yaml",
        &objects::yaml_stream(&[
            file_source(ns, "claim-a", "cli-a", "/tmp/cli-a.txt")
                .connect_name("shared-name")
                .yaml(),
            file_source(ns, "claim-b", "cli-b", "/tmp/cli-b.txt")
                .connect_name("shared-name")
                .yaml(),
        ]),
    );
    write(
        dir,
        "broken.yaml",
        &fill(
            include_str!("fixtures/cli/broken.yaml"),
            &[("NAMESPACE", ns)],
        ),
    );
    write(
        dir,
        "other.yaml",
        &fill(
            include_str!("fixtures/cli/deployment.yaml"),
            &[("NAMESPACE", ns)],
        ),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_live_and_offline_on_the_same_files() {
    let ns = namespace("cli-validate", &[]);
    let dir = scratch("cli-validate");
    let files = dir.join("manifests");
    manifests(&ns, &files);
    let snapshot = dir.join("manifests").join("connect-plugins.json");
    let snap = snapshot_to(&snapshot);
    // As many plugins as the worker lists connector classes.
    let mut classes: Vec<String> = connect()
        .plugins(true)
        .await
        .unwrap()
        .into_iter()
        .filter(|p| p.kind == "source" || p.kind == "sink")
        .map(|p| p.class)
        .collect();
    classes.sort();
    classes.dedup();
    assert_eq!(
        snap.stderr,
        format!(
            "snapshot of Kafka Connect {} at {}: {} connector plugins\n",
            kafka_env().version,
            connect_url(),
            classes.len()
        )
    );
    let f = files.display().to_string();
    let live = cwctl(&["validate", "-f", &f, "--connect-url", connect_url()]);
    let offline = cwctl(&[
        "validate",
        "-f",
        &f,
        "--plugins",
        snapshot.to_str().unwrap(),
    ]);
    assert_eq!(live.code, 1, "{live:?}");
    assert_eq!(offline.code, 1, "{offline:?}");

    let main = format!("KafkaConnectCluster {ns}/main");
    // The same webhook code answers both: Connect's type error as Connect words it, offline too.
    let bad_batch = format!(
        "{f}/bad/types.yaml:3: KafkaConnector {ns}/bad-batch (denied)\n  \
         error: Kafka Connect ({main}) rejected the config of FileStreamSource: batch.size: Invalid value many for configuration batch.size: Not a number of type INT\n"
    );
    let claims = format!(
        "{f}/claims.yaml:1: KafkaConnector {ns}/claim-a (denied)\n  \
         error: connector name \"shared-name\" on {main} is already claimed by KafkaConnector {ns}/claim-b\n\
         {f}/claims.yaml:15: KafkaConnector {ns}/claim-b (denied)\n  \
         error: connector name \"shared-name\" on {main} is already claimed by KafkaConnector {ns}/claim-a\n"
    );
    let good = format!(
        "{f}/good.yaml:1: KafkaConnector {ns}/good (ok)\n  \
         warning: spec.config: numbers and booleans converted to strings: batch.size: 200 → \"200\"; quote them in Git (e.g. batch.size: \"200\") so GitOps diffs stay clean\n"
    );
    let broken = format!(
        "{f}/broken.yaml:5: document (denied)\n  \
         error: invalid YAML: illegal placement of ':' indicator at line 5, column 12\n"
    );
    let other = format!(
        "{f}/other.yaml:1: Deployment {ns}/app (skipped)\n  \
         note: skipped: apps/v1 Deployment is not a kind cwctl validates\n"
    );
    let snapshot_note = format!(
        "{f}/connect-plugins.json:1: document (skipped)\n  \
         note: skipped: a plugin snapshot written by `cwctl snapshot` (give it with --plugins)\n"
    );
    for (mode, out) in [("live", &live.stdout), ("offline", &offline.stdout)] {
        for block in [&bad_batch, &claims, &good, &broken, &other, &snapshot_note] {
            assert!(
                out.contains(block.as_str()),
                "{mode}: missing\n{block}\nin\n{out}"
            );
        }
    }
    // Only a live Connect runs the sink's own validation; offline says what it could not check.
    let typo = "  warning: spec.config.\"topic\" is not a setting of FileStreamSink; did you mean \"topics\"? (Kafka Connect ignores unknown keys)\n";
    assert!(live.stdout.contains(&format!(
        "{f}/bad/sink.yaml:1: KafkaConnector {ns}/no-topics (denied)\n  \
         error: Kafka Connect ({main}) rejected the config of FileStreamSink: topics: Must configure one of topics or topics.regex\n  \
         error: Kafka Connect ({main}) rejected the config of FileStreamSink: topics.regex: Must configure one of topics or topics.regex\n{typo}"
    )), "{}", live.stdout);
    assert!(
        offline.stdout.contains(&format!(
            "{f}/bad/sink.yaml:1: KafkaConnector {ns}/no-topics (ok)\n{typo}"
        )),
        "{}",
        offline.stdout
    );
    assert!(offline.stdout.starts_with(&format!(
        "note: offline: against the snapshot of Kafka Connect {} taken ",
        kafka_env().version
    )));
    assert!(offline.stdout.contains(
        "note: not checked offline (they need a live Kafka Connect cluster, `--connect-url` or `--cluster`): the connector's own validation (connector-specific validators, e.g. reaching its database)"
    ));
    assert!(live.stdout.starts_with(&format!(
        "note: live: Kafka Connect's validation by {} (Kafka Connect {})\n",
        connect_url(),
        kafka_env().version
    )));
    assert!(
        live.stdout
            .ends_with("\n6 objects checked, 6 errors, 2 warnings\n"),
        "{}",
        live.stdout
    );
    assert!(
        offline
            .stdout
            .ends_with("\n6 objects checked, 4 errors, 2 warnings\n"),
        "{}",
        offline.stdout
    );

    // Machine-readable forms of the same run.
    let json = cwctl(&[
        "validate",
        "-f",
        &f,
        "--connect-url",
        connect_url(),
        "-o",
        "json",
    ]);
    assert_eq!(json.code, 1);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["mode"], "live");
    assert_eq!(
        v["summary"],
        serde_json::json!({"objects": 9, "checked": 6, "errors": 6, "warnings": 2})
    );
    let github = cwctl(&[
        "validate",
        "-f",
        &f,
        "--plugins",
        snapshot.to_str().unwrap(),
        "-o",
        "github",
    ]);
    assert!(github.stdout.contains(&format!(
        "::error file={f}/bad/types.yaml,line=3,title=KafkaConnector {ns}/bad-batch::Kafka Connect ({main}) rejected the config of FileStreamSource: batch.size: Invalid value many for configuration batch.size: Not a number of type INT\n"
    )), "{}", github.stdout);
    let junit = cwctl(&[
        "validate",
        "-f",
        &f,
        "--plugins",
        snapshot.to_str().unwrap(),
        "-o",
        "junit",
    ]);
    assert!(junit.stdout.contains(
        "<testsuite name=\"cwctl validate\" tests=\"9\" failures=\"4\" errors=\"0\" skipped=\"3\">"
    ), "{}", junit.stdout);

    // Kustomize-style output on standard input, one file's worth.
    let stdin = std::fs::read_to_string(files.join("bad/types.yaml")).unwrap();
    let piped = run_with(
        &bin("cwctl"),
        &[
            "validate",
            "-f",
            "-",
            "--plugins",
            snapshot.to_str().unwrap(),
        ],
        Some(&stdin),
        None,
    );
    assert_eq!(piped.code, 1);
    assert!(
        piped.stdout.contains(&format!(
            "<stdin>:3: KafkaConnector {ns}/bad-batch (denied)\n"
        )),
        "{}",
        piped.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_snapshot_is_warned_and_an_unreachable_connect_exits_2() {
    let ns = namespace("cli-stale", &[]);
    let dir = scratch("cli-stale");
    let file = write(
        &dir,
        "c.yaml",
        &file_source(&ns, "c", "cli-stale", "/tmp/cli-stale.txt").yaml(),
    );
    let snapshot = dir.join("old.json");
    snapshot_to(&snapshot);
    let mut s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&snapshot).unwrap()).unwrap();
    s["connect"]["version"] = "3.9.0".into();
    std::fs::write(&snapshot, s.to_string()).unwrap();
    let p = snapshot.display().to_string();
    let stale = cwctl(&[
        "validate",
        "-f",
        &file,
        "--plugins",
        &p,
        "--connect-url",
        connect_url(),
    ]);
    assert_eq!(stale.code, 0, "{stale:?}");
    assert!(stale.stdout.starts_with(&format!(
        "note: the snapshot {p} was taken from Kafka Connect 3.9.0, but {} runs {}: take it again with `cwctl snapshot`\n",
        connect_url(),
        kafka_env().version
    )), "{}", stale.stdout);

    // Nothing listens on port 9 of the loopback.
    let down = cwctl(&[
        "validate",
        "-f",
        &file,
        "--connect-url",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(down.code, 2, "{down:?}");
    assert_eq!(down.stdout, "");
    assert!(
        down.stderr
            .starts_with("cwctl: cannot reach Kafka Connect at http://127.0.0.1:9: "),
        "{}",
        down.stderr
    );
    let no_file = cwctl(&[
        "validate",
        "-f",
        &file,
        "--plugins",
        "/nonexistent/plugins.json",
    ]);
    assert_eq!(no_file.code, 2);
    assert!(
        no_file
            .stderr
            .starts_with("cwctl: --plugins /nonexistent/plugins.json: "),
        "{}",
        no_file.stderr
    );
    let usage = cwctl(&["validate"]);
    assert_eq!(usage.code, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn diff_shows_a_change_made_behind_connect_wardens_back() {
    let ns = shared_namespace("cli-diff");
    let name = unique("cli-diff");
    let out = scratch("cli-diff").join("out.txt");
    let manifest = file_sink(&ns, &name, "cli-diff", out.display())
        .config("consumer.override.sasl.jaas.config", "jaas-in-git")
        .yaml();
    apply(&manifest, &[]).expect_ok();
    wait_running(&ns, &name, "1/1").await;
    let dir = scratch("cli-diff-files");
    let file = write(&dir, "sink.yaml", &manifest);
    let clean = cwctl(&["diff", "-f", &file, "--connect-url", connect_url()]);
    assert_eq!(clean.code, 0, "{clean:?}");
    assert!(clean.stdout.starts_with(&format!(
        "{file}:1: KafkaConnector {ns}/{name} → connector {name:?}\n  = consumer.override.sasl.jaas.config: unchanged (secret value not shown)\n  no change\n"
    )), "{}", clean.stdout);

    // Behind connect-warden's back: its reconciliation paused, the config changed and the connector paused
    // directly on Connect.
    annotate_connector(
        &ns,
        &name,
        "connectwarden.io/pause-reconciliation=true",
        &[],
    );
    let client = connect();
    let changed = eventually("the diff of the change", T, || async {
        let mut config = client.get_config(&name).await.map_err(|e| e.to_string())?;
        config.insert("file".into(), "/tmp/elsewhere.txt".into());
        config.insert(
            "consumer.override.sasl.jaas.config".into(),
            "jaas-changed".into(),
        );
        config.insert("errors.tolerance".into(), "all".into());
        client
            .put_config(&name, &config)
            .await
            .map_err(|e| e.to_string())?;
        client.pause(&name).await.map_err(|e| e.to_string())?;
        let d = cwctl(&["diff", "-f", &file, "--connect-url", connect_url()]);
        if d.stdout.contains("  state: PAUSED → running\n") {
            Ok(d)
        } else {
            Err(d.stdout)
        }
    })
    .await;
    assert_eq!(changed.code, 1);
    assert!(
        changed.stdout.starts_with(&format!(
            "{file}:1: KafkaConnector {ns}/{name} → connector {name:?}\n  \
         ~ consumer.override.sasl.jaas.config: changed (secret value not shown)\n  \
         - errors.tolerance: \"all\"\n  \
         ~ file: \"/tmp/elsewhere.txt\" → \"{}\"\n  \
         state: PAUSED → running\n",
            out.display()
        )),
        "{}",
        changed.stdout
    );
    assert!(!changed.stdout.contains("jaas-"), "{}", changed.stdout);

    // A connector on Connect that no file owns is listed, for information.
    let stray = unique("cli-stray");
    client
        .put_config(
            &stray,
            &[
                ("connector.class", "FileStreamSource"),
                ("topic", "cli-stray"),
                ("file", "/tmp/cli-stray.txt"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        )
        .await
        .unwrap();
    // Connect lists a new connector only once its status is written, a moment after the PUT.
    let listed = eventually("the stray connector in the diff", T, || async {
        let d = cwctl(&["diff", "-f", &file, "--connect-url", connect_url()]);
        if d.stdout.contains(&format!("\n  {stray} (")) {
            Ok(d)
        } else {
            Err(d.stdout)
        }
    })
    .await;
    assert!(listed.stdout.contains(&format!(
        "\nconnectors on {} that no file owns (left alone unless their KafkaConnectCluster has spec.prune):\n",
        connect_url()
    )), "{}", listed.stdout);
    assert!(
        listed.stdout.contains(&format!("\n  {stray} (")),
        "{}",
        listed.stdout
    );
    settled!(client.delete(&stray)).unwrap();
    annotate_connector(&ns, &name, "connectwarden.io/pause-reconciliation-", &[]);
}

#[tokio::test(flavor = "multi_thread")]
async fn export_then_apply_adopts_running_connectors_without_a_restart() {
    let ns = shared_namespace("cli-export");
    let name = format!("Adopt_{}", unique("me").replace('-', "_"));
    let secret = format!("s3cr3t-{}", unique("v"));
    let client = connect();
    let config: std::collections::BTreeMap<String, String> = [
        ("connector.class", "FileStreamSource"),
        ("tasks.max", "1"),
        ("topic", "cli-export"),
        ("file", "/tmp/cli-export.txt"),
        ("batch.size", "100"),
        ("connection.password", secret.as_str()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    settled!(client.put_config(&name, &config)).unwrap();
    eventually("the connector running on Connect", T, || async {
        match client.get_status(&name).await {
            Ok(s)
                if s.connector.state == "RUNNING"
                    && s.tasks.iter().any(|t| t.state == "RUNNING") =>
            {
                Ok(())
            }
            other => Err(format!("{other:?}")),
        }
    })
    .await;

    let dir = scratch("cli-export");
    let d = dir.display().to_string();
    let out = cwctl(&[
        "export",
        "--connect-url",
        connect_url(),
        "-n",
        &ns,
        "--cluster-ref",
        "main",
        "--dir",
        &d,
        "--connector",
        &name,
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.stderr,
        format!(
            "wrote 1 KafkaConnector(s) to {d} and 1 secret value(s) to {d}/secrets.yaml (values not shown)\n"
        )
    );
    let object = name.to_ascii_lowercase().replace('_', "-");
    let exported = std::fs::read_to_string(dir.join(format!("{object}.yaml"))).unwrap();
    assert_eq!(
        exported,
        fill(
            include_str!("fixtures/cli/exported-connector.yaml"),
            &[("OBJECT", &object), ("NAMESPACE", &ns), ("NAME", &name)],
        )
    );
    let secrets = std::fs::read_to_string(dir.join("secrets.yaml")).unwrap();
    assert!(!secrets.contains(&secret) && !out.stdout.contains(&secret));
    assert!(secrets.contains(&format!("name: {object}-config")));

    // Apply, and watch Connect: the controller must find the config equal and leave the connector alone.
    let before = connect_log();
    let put = format!("\"PUT /connectors/{name}/config ");
    let started = format!("Starting task {name}-0 ");
    assert_eq!((count(&before, &put), count(&before, &started)), (1, 1));
    kubectl(&["apply", "-f", &d]).expect_ok();
    wait_running(&ns, &object, "1/1").await;
    // Three more of the controller's polls after Ready: any PUT it planned would have gone out by then.
    let polls = count(
        &connect_log(),
        "\"GET /connectors?expand=status&expand=info ",
    );
    eventually("three more polls", T, || async {
        let n = count(
            &connect_log(),
            "\"GET /connectors?expand=status&expand=info ",
        );
        if n >= polls + 3 {
            Ok(())
        } else {
            Err(format!("{n} polls"))
        }
    })
    .await;
    let after = connect_log();
    assert_eq!(
        count(&after, &put),
        1,
        "the controller sent the config again"
    );
    assert_eq!(
        count(&after, &format!("\"POST /connectors/{name}/restart")),
        0
    );
    assert_eq!(count(&after, &started), 1, "the task was restarted");
    let diff = cwctl(&["diff", "-f", &d, "--connect-url", connect_url()]);
    assert!(diff.stdout.contains(&format!(
        "KafkaConnector {ns}/{object} → connector {name:?}\n  = connection.password: unchanged (secret value not shown)\n  no change\n"
    )), "{}", diff.stdout);
    assert!(!diff.stdout.contains(&secret));
    connectors::delete_connector(&ns, &object);
}

#[tokio::test(flavor = "multi_thread")]
async fn converted_resources_apply_and_become_ready() {
    let ns = shared_namespace("cli-convert");
    let dir = scratch("cli-convert");
    let port = connect_url().rsplit(':').next().unwrap().to_string();
    let out = |n: &str| dir.join(n).display().to_string();
    let input = |file: &str, fixture: &str, sink_file: &str, more: &[(&str, &str)]| {
        let mut values = vec![("NAMESPACE", ns.as_str()), ("FILE", sink_file)];
        values.extend_from_slice(more);
        write(&dir, file, &fill(fixture, &values))
    };
    let strimzi = input(
        "in/strimzi.yaml",
        include_str!("fixtures/cli/strimzi.yaml"),
        &out("strimzi.txt"),
        &[],
    );
    let auto = input(
        "in/auto.yaml",
        include_str!("fixtures/cli/autoconnector.yaml"),
        &out("auto.txt"),
        &[],
    );
    let external = input(
        "ext/external.yaml",
        include_str!("fixtures/cli/external.yaml"),
        &out("external.txt"),
        &[("PORT", &port)],
    );
    let converted = cwctl(&[
        "convert",
        "-f",
        &dir.join("in").display().to_string(),
        "--cluster-ref",
        "main",
    ]);
    assert_eq!(converted.code, 0, "{converted:?}");
    assert!(converted.stderr.contains(&format!(
        "{auto}:1: warning: spec[\"connector.config\"].\"max.tasks\" is not a Kafka Connect setting (did you mean \"tasks.max\"?)"
    )), "{}", converted.stderr);
    assert!(converted.stderr.contains(&format!(
        "{strimzi}:1: warning: before deleting the Strimzi KafkaConnector, stop Strimzi from managing connectors"
    )), "{}", converted.stderr);
    let ext = cwctl(&["convert", "-f", &external]);
    assert_eq!(ext.code, 0, "{ext:?}");
    assert!(ext.stdout.contains(&format!(
        "kind: KafkaConnectCluster\nmetadata:\n  name: \"127.0.0.1\"\n  namespace: {ns}\nspec:\n  url: http://127.0.0.1:{port}\n"
    )), "{}", ext.stdout);

    // What convert wrote passes cwctl's own validation, then the real admission, then runs.
    let all = format!("{}{}", converted.stdout, ext.stdout);
    let checked = run_with(
        &bin("cwctl"),
        &["validate", "-f", "-", "--connect-url", connect_url()],
        Some(&all),
        None,
    );
    assert_eq!(checked.code, 0, "{checked:?}");
    apply(&all, &[]).expect_ok();
    for name in ["from-strimzi", "from-autoconnector", "from-external"] {
        wait_running(&ns, name, "1/1").await;
    }
    for name in ["from-strimzi", "from-autoconnector", "from-external"] {
        connectors::delete_connector(&ns, name);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_kubectl_plugin_is_cwctl_under_kubectls_name() {
    let ns = namespace("cli-plugin", &[]);
    let dir = scratch("cli-plugin");
    let file = write(
        &dir,
        "c.yaml",
        &file_source(&ns, "c", "cli-plugin", "/tmp/cli-plugin.txt")
            .config("batch.size", "many")
            .yaml(),
    );
    let plugin = run_with(
        &kube_env().kubectl,
        &[
            "connect-warden",
            "validate",
            "-f",
            &file,
            "--connect-url",
            connect_url(),
        ],
        None,
        Some(&stack::warden::bin_dir()),
    );
    let direct = cwctl(&["validate", "-f", &file, "--connect-url", connect_url()]);
    assert_eq!(plugin.code, 1, "{plugin:?}");
    assert_eq!(plugin.stdout, direct.stdout);
    assert!(plugin.stdout.contains(
        "batch.size: Invalid value many for configuration batch.size: Not a number of type INT"
    ));
    let help = run_with(
        &kube_env().kubectl,
        &["connect-warden", "validate", "--help"],
        None,
        Some(&stack::warden::bin_dir()),
    );
    assert_eq!(help.code, 0);
    assert!(
        help.stdout
            .contains("cwctl validate -f deploy/ --plugins connect-plugins.json"),
        "{}",
        help.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_reaches_a_secured_worker_by_flags_or_by_a_clusters_own_settings() {
    let ns = namespace("cli-secure", &[]);
    let s = &kafka_env().secure;
    credentials::worker_basic_auth_secret("creds").create(&ns);
    credentials::secure_cluster(&ns);
    let dir = scratch("cli-secure");
    let file = write(
        &dir,
        "c.yaml",
        &file_source(&ns, "c", "cli-secure", "/tmp/cli-secure.txt")
            .on("secure")
            .config("batch.size", "many")
            .yaml(),
    );
    let context = kubectl(&["config", "current-context"]).expect_ok().stdout;
    let by_cluster = cwctl(&[
        "validate",
        "-f",
        &file,
        "--cluster",
        "secure",
        "--cluster-namespace",
        &ns,
        "--context",
        context.trim(),
    ]);
    let by_flags = {
        let mut cmd = Command::new(bin("cwctl"));
        cmd.args([
            "validate",
            "-f",
            &file,
            "--connect-url",
            &s.url,
            "--user",
            &s.username,
        ])
        .args(["--ca-file", s.ca_pem.to_str().unwrap()])
        .args(["--cert-file", s.client_cert_pem.to_str().unwrap()])
        .args(["--key-file", s.client_key_pem.to_str().unwrap()])
        .env("CWCTL_CONNECT_PASSWORD", &s.password);
        Run::from(cmd.output().unwrap())
    };
    let error = format!(
        "{file}:1: KafkaConnector {ns}/c (denied)\n  \
         note: KafkaConnectCluster {ns}/secure is not in the given files: assumed to exist and to let namespace \"{ns}\" use it\n  \
         error: Kafka Connect (KafkaConnectCluster {ns}/secure) rejected the config of FileStreamSource: batch.size: Invalid value many for configuration batch.size: Not a number of type INT\n"
    );
    for (how, r) in [("--cluster", &by_cluster), ("flags", &by_flags)] {
        assert_eq!(r.code, 1, "{how}: {r:?}");
        assert!(r.stdout.contains(&error), "{how}: {}", r.stdout);
        assert!(!r.stdout.contains(&s.password) && !r.stderr.contains(&s.password));
    }
    assert!(by_cluster.stdout.starts_with(&format!(
        "note: live: Kafka Connect's validation by KafkaConnectCluster {ns}/secure ({}) (Kafka Connect {})\n",
        s.url,
        kafka_env().version
    )), "{}", by_cluster.stdout);

    // Without the password the worker refuses: a connection error, exit 2.
    let refused = cwctl(&[
        "validate",
        "-f",
        &file,
        "--connect-url",
        &s.url,
        "--insecure-skip-tls-verify",
    ]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused
            .stderr
            .starts_with(&format!("cwctl: cannot reach Kafka Connect at {}: ", s.url)),
        "{}",
        refused.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn offline_spec_version_is_checked_against_the_snapshots_plugins() {
    let (ns, dir, snapshot) = given_a_snapshot("cli-version");
    let file = write(
        &dir,
        "m/c.yaml",
        &objects::yaml_stream(&[
            file_source(&ns, "old", "cli-version", "/tmp/cli-version.txt")
                .version("[9.0,)")
                .yaml(),
            file_source(&ns, "current", "cli-version", "/tmp/cli-version.txt")
                .version(&kafka_env().version)
                .yaml(),
        ]),
    );
    let r = cwctl(&["validate", "-f", &file, "--plugins", &snapshot]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains(&format!(
        "{file}:1: KafkaConnector {ns}/old (denied)\n  \
         note: KafkaConnectCluster {ns}/main is not in the given files: assumed to exist and to let namespace \"{ns}\" use it\n  \
         error: Kafka Connect (KafkaConnectCluster {ns}/main) rejected the config of FileStreamSource: connector.plugin.version: no installed version of org.apache.kafka.connect.file.FileStreamSourceConnector matches \"[9.0,)\"; installed: {v}\n",
        v = kafka_env().version
    )), "{}", r.stdout);
    assert!(
        r.stdout
            .contains(&format!("KafkaConnector {ns}/current (ok)\n")),
        "{}",
        r.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn offline_and_live_agree_on_required_keys_and_password_literals() {
    let (ns, dir, snapshot) = given_a_snapshot("cli-agree");
    let file = write(
        &dir,
        "m/heartbeat.yaml",
        &objects::connector(&ns, "heartbeat", "MirrorHeartbeatConnector")
            .config("target.cluster.alias", "b")
            .config("ssl.key.password", "hunter2-literal")
            .yaml(),
    );
    let live = cwctl(&["validate", "-f", &file, "--connect-url", connect_url()]);
    let offline = cwctl(&["validate", "-f", &file, "--plugins", &snapshot]);
    // After the notes about the mode, both runs print the same lines.
    let body = |s: &str| {
        s.split_once("\n\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    };
    assert_eq!(body(&live.stdout), body(&offline.stdout));
    assert_eq!((live.code, offline.code), (1, 1));
    assert_eq!(
        body(&offline.stdout),
        format!(
            "{file}:1: KafkaConnector {ns}/heartbeat (denied)\n  \
             note: KafkaConnectCluster {ns}/main is not in the given files: assumed to exist and to let namespace \"{ns}\" use it\n  \
             error: Kafka Connect (KafkaConnectCluster {ns}/main) rejected the config of MirrorHeartbeatConnector: source.cluster.alias: Missing required configuration \"source.cluster.alias\" which has no default value.\n  \
             warning: spec.config.\"ssl.key.password\" is a PASSWORD-type setting given as a literal value; reference it instead (e.g. ${{file:/mnt/secrets/connector.properties:ssl.key.password}}) so the secret stays out of Git and the API server\n\
             \n1 object checked, 1 error, 1 warning\n"
        )
    );
    assert!(!live.stdout.contains("hunter2") && !offline.stdout.contains("hunter2"));
}
