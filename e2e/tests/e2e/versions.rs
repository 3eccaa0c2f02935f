//! Connector plugin versions (Kafka Connect 4.1+) on the stack's workers, whose plugin.path holds versions
//! 1.0.0 and 2.0.0 of a test source connector: pinning a version and seeing Connect run it, upgrading by
//! changing `spec.version`, what admission denies (a range matching nothing, an invalid range, `spec.version`
//! on a Connect 3.9 worker) and warns about, and the cluster's plugins in its status.

use std::process::Command;

use connect_warden_e2e::connectors::{
    T, event_list, get, get_cluster, shared_namespace, wait_running,
};
use connect_warden_e2e::objects::{cluster, connector};
use connect_warden_e2e::{connect, env, eventually, kafka_env, kubectl, settled, unique};
use shared::crd::KafkaConnector;

const CLASS: &str = "dev.connectwarden.stack.VersionedSourceConnector";

/// A namespace with the cluster `main` whose status lists its plugins (the webhook judges versions by it).
async fn namespace_with_plugins(prefix: &str) -> String {
    let ns = shared_namespace(prefix);
    eventually("the cluster's plugins in its status", T, || async {
        let c = get_cluster(&ns, "main").await;
        let n = c.status.as_ref().and_then(|s| s.connector_plugins);
        n.filter(|n| *n > 0).ok_or(format!("{n:?}"))
    })
    .await;
    ns
}

async fn wait_version(ns: &str, name: &str, version: &str) -> KafkaConnector {
    eventually(&format!("{ns}/{name} runs {version}"), T, || async {
        let k = get(ns, name).await.ok_or("not found")?;
        let v = k.status.as_ref().and_then(|s| s.plugin_version.clone());
        (v.as_deref() == Some(version))
            .then_some(k)
            .ok_or(format!("{v:?}"))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_lists_both_versions_and_counts_its_connector_plugins() {
    let ns = namespace_with_plugins("versions-cluster").await;
    let c = get_cluster(&ns, "main").await;
    let st = c.status.unwrap();
    let mut versions: Vec<String> = st
        .plugins
        .iter()
        .filter(|p| p.class == CLASS)
        .filter_map(|p| p.version.clone())
        .collect();
    versions.sort();
    assert_eq!(versions, ["1.0.0", "2.0.0"]);
    let connectors = st
        .plugins
        .iter()
        .filter(|p| p.kind == "source" || p.kind == "sink")
        .count() as u32;
    assert_eq!(st.connector_plugins, Some(connectors));
    let out = kubectl(&["get", "kafkaconnectclusters", "main", "-n", &ns])
        .expect_ok()
        .stdout;
    let header = out.lines().next().unwrap();
    assert!(header.contains("PLUGINS"), "{out}");
    assert!(
        out.lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .any(|f| f == connectors.to_string()),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pin_the_older_version_then_upgrade_by_changing_spec_version() {
    let ns = namespace_with_plugins("versions").await;
    let name = unique("versioned");
    connector(&ns, &name, CLASS)
        .version("1.0.0")
        .apply()
        .expect_ok();
    wait_running(&ns, &name, "1/1").await;
    wait_version(&ns, &name, "1.0.0").await;
    // Connect itself says so, for the connector and its task.
    let st = settled!(connect().get_status(&name)).unwrap();
    assert_eq!(st.connector.version.as_deref(), Some("1.0.0"), "{st:?}");
    assert_eq!(st.tasks[0].version.as_deref(), Some("1.0.0"), "{st:?}");
    let out = kubectl(&["get", "kafkaconnector", &name, "-n", &ns])
        .expect_ok()
        .stdout;
    assert!(out.lines().next().unwrap().contains("VERSION"), "{out}");
    assert!(out.lines().nth(1).unwrap().contains(" 1.0.0 "), "{out}");
    let config = settled!(connect().get_config(&name)).unwrap();
    assert_eq!(config["connector.plugin.version"], "1.0.0");

    // Upgrade with a range: Connect picks the newest match.
    connect_warden_e2e::connectors::patch_connector(
        &ns,
        &name,
        r#"{"spec":{"version":"[2.0,3.0)"}}"#,
    )
    .expect_ok();
    wait_version(&ns, &name, "2.0.0").await;
    wait_running(&ns, &name, "1/1").await;
    let events = event_list(&ns, &name);
    assert!(
        events.iter().any(|(r, m, _)| r == "VersionChanged"
            && m == &format!("connector {name:?} now runs plugin version 2.0.0 (was 1.0.0)")),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admission_denies_what_cannot_run_and_warns_when_nothing_is_pinned() {
    let ns = namespace_with_plugins("versions-deny").await;
    let name = unique("versioned");
    let out = connector(&ns, &name, CLASS)
        .version("[3.0,)")
        .apply()
        .expect_err();
    assert!(
        out.stderr.contains(&format!(
            "spec.version \"[3.0,)\" matches no installed version of {CLASS} on cluster {ns}/main; installed: 2.0.0, 1.0.0"
        )),
        "{}",
        out.stderr
    );
    let out = connector(&ns, &name, CLASS)
        .version("[2.0,1.0]")
        .apply()
        .expect_err();
    assert!(
        out.stderr.contains("spec.version \"[2.0,1.0]\" is not a version or a Maven version range: the lower bound 2.0 is above the upper bound 1.0"),
        "{}",
        out.stderr
    );
    // In config instead of spec.version: moved there by the mutating webhook, then judged the same way.
    let out = connector(&ns, &name, CLASS)
        .config("connector.plugin.version", "9.9")
        .apply()
        .expect_err();
    assert!(
        out.stderr
            .contains("spec.version \"9.9\" matches no installed version"),
        "{}",
        out.stderr
    );
    let out = connector(&ns, &name, CLASS).apply().expect_ok();
    assert!(
        out.stderr.contains(&format!(
            "2 versions of {CLASS} are installed on cluster {ns}/main (2.0.0, 1.0.0) and spec.version pins none: Kafka Connect runs the latest, 2.0.0; set spec.version to choose"
        )),
        "{}",
        out.stderr
    );
    wait_version(&ns, &name, "2.0.0").await;
}

/// The jars of Kafka 3.9.1 (resolved by the stack's build script, cached like the main ones).
fn kafka_home(version: &str) -> std::path::PathBuf {
    let script = stack::cache::repo_root().join("stack/kafka/build.sh");
    let out = Command::new("bash")
        .arg(script)
        .env("KAFKA_VERSION", version)
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("running stack/kafka/build.sh");
    assert!(out.status.success(), "build.sh for Kafka {version} failed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout.lines().last().expect("a directory").trim().into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_version_on_a_connect_3_9_worker_is_denied() {
    let ns = shared_namespace("versions-old");
    let mut old = kafka_env().clone();
    old.home = tokio::task::block_in_place(|| kafka_home("3.9.1"));
    old.version = "3.9.1".into();
    let worker = tokio::task::block_in_place(|| {
        stack::kafka::ConnectWorker::start(&old, &env().dir, &unique("connect-39"))
    })
    .expect("starting a Connect 3.9.1 worker");
    cluster(&ns, "old", &worker.url()).apply().expect_ok();
    eventually("the old cluster's version in its status", T, || async {
        let c = get_cluster(&ns, "old").await;
        let v = c.status.as_ref().and_then(|s| s.version.clone());
        (v.as_deref() == Some("3.9.1"))
            .then_some(())
            .ok_or(format!("{v:?}"))
    })
    .await;
    let name = unique("versioned-old");
    let out = connector(&ns, &name, CLASS)
        .on("old")
        .version("1.0.0")
        .apply()
        .expect_err();
    assert!(
        out.stderr.contains(&format!(
            "spec.version \"1.0.0\" needs Kafka Connect 4.1 or later, but cluster {ns}/old runs Kafka Connect 3.9.1, which ignores connector.plugin.version and would run the latest installed version of {CLASS}; remove spec.version or upgrade the cluster"
        )),
        "{}",
        out.stderr
    );
    // Without spec.version it runs there.
    connector(&ns, &name, CLASS).on("old").apply().expect_ok();
    wait_running(&ns, &name, "1/1").await;
    connect_warden_e2e::connectors::delete_connector(&ns, &name);
    drop(worker);
}
