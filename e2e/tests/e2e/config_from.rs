//! `spec.configFrom`: config values from Secrets and ConfigMaps, resolved by the shared controller and put on
//! the real Connect worker. The namespaces are private (the shared webhook skips them) while the objects
//! carry no private label, so the shared controller manages them: the controller's side holds whatever the
//! webhook admits.

use std::time::Duration;

use connect_warden_e2e::connectors::*;
use connect_warden_e2e::objects::{cluster, connector, file_sink, mirror_source};
use connect_warden_e2e::*;
use stack::warden::PRIVATE_LABEL;

/// A namespace the shared webhook skips, with the cluster `main` for the shared controller.
fn setup(prefix: &str) -> String {
    let ns = namespace(prefix, &[(PRIVATE_LABEL, unique(prefix).as_str())]);
    cluster(&ns, "main", &kafka_env().connect_url)
        .apply()
        .expect_ok();
    ns
}

/// Writes a Secret (or ConfigMap) `name` with `data` (key → bytes): created, or replaced when it exists.
fn put_object(ns: &str, kind: &str, name: &str, data: &[(&str, &[u8])], replace: bool) {
    let dir = scratch("config-from-data");
    let mut args: Vec<String> = vec!["-n".into(), ns.into(), "create".into()];
    if kind == "secret" {
        args.extend(["secret".into(), "generic".into()]);
    } else {
        args.push("configmap".into());
    }
    args.push(name.into());
    for (k, v) in data {
        let f = dir.join(k);
        std::fs::write(&f, v).unwrap();
        args.push(format!("--from-file={k}={}", f.display()));
    }
    if replace {
        args.extend(["--dry-run=client".into(), "-o".into(), "yaml".into()]);
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let manifest = kubectl(&a).expect_ok().stdout;
        kubectl_with_stdin(&["replace", "-f", "-"], Some(&manifest)).expect_ok();
    } else {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        kubectl(&a).expect_ok();
    }
}

async fn connect_config(name: &str) -> Option<std::collections::BTreeMap<String, String>> {
    connect().get_config(name).await.ok()
}

/// Connect's config of a connector that exists, read again while Connect answers with a passing error
/// (a 409 during a rebalance, a timeout under load).
async fn existing_connect_config(name: &str) -> std::collections::BTreeMap<String, String> {
    eventually(&format!("Connect's config of {name}"), T, || async {
        connect().get_config(name).await.map_err(|e| e.to_string())
    })
    .await
}

/// Waits until Connect's config of `name` has `key` = `value`.
async fn wait_connect_value(name: &str, key: &str, value: &str, timeout: Duration) {
    eventually(
        &format!("Connect's config of {name} to have the new {key}"),
        timeout,
        || async {
            match connect_config(name).await {
                Some(c) if c.get(key).map(String::as_str) == Some(value) => Ok(()),
                Some(c) => Err(format!(
                    "{key} has {} bytes",
                    c.get(key).map_or(0, String::len)
                )),
                None => Err("no config on Connect".into()),
            }
        },
    )
    .await
}

/// Everything a user or operator sees of the connector besides Connect: its object (status), the events of
/// the namespace, the controller's /metrics and log file.
async fn visible_outside_connect(ns: &str, name: &str) -> String {
    let object = kubectl(&["-n", ns, "get", "kafkaconnector", name, "-o", "yaml"])
        .expect_ok()
        .stdout;
    let events = kubectl(&["-n", ns, "get", "events", "-o", "yaml"])
        .expect_ok()
        .stdout;
    let metrics = scrape(&shared_metrics_url()).await;
    let log = std::fs::read_to_string(env().dir.join("logs").join("controller.log"))
        .expect("reading the controller's log");
    format!("{object}\n{events}\n{metrics}\n{log}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_sink_takes_its_file_from_a_config_map() {
    let ns = setup("cf-map");
    let name = unique("cf-map");
    let file = scratch("cf-map").join("out.txt");
    put_object(
        &ns,
        "configmap",
        "paths",
        &[("out", file.display().to_string().as_bytes())],
        false,
    );
    connector(&ns, &name, "FileStreamSink")
        .config("topics", unique("cf-map-topic"))
        .config_from("file", true, "paths", "out")
        .apply()
        .expect_ok();
    wait_running(&ns, &name, "1/1").await;
    let config = existing_connect_config(&name).await;
    assert_eq!(config["file"], file.display().to_string());
    // a value read through configFrom is treated as a secret: not in status either
    assert!(
        !visible_outside_connect(&ns, &name)
            .await
            .contains(&file.display().to_string())
    );
    delete_connector(&ns, &name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_source_password_from_a_secret_rotates_survives_deletion_and_never_shows() {
    let ns = setup("cf-mirror");
    let name = unique("cf-mirror");
    let (one, two) = (unique("pw-first-value"), unique("pw-second-value"));
    put_object(
        &ns,
        "secret",
        "db-creds",
        &[("truststore-password", one.as_bytes())],
        false,
    );
    mirror_source(&ns, &name, &kafka_env().bootstrap)
        .config("topics", unique("cf-mirror-topic"))
        .config_from(
            "ssl.truststore.password",
            false,
            "db-creds",
            "truststore-password",
        )
        .apply()
        .expect_ok();
    wait_reason(&ns, &name, "True", "Running").await;
    let config = existing_connect_config(&name).await;
    assert_eq!(config["ssl.truststore.password"], one);

    // Rotation: the new value is on Connect within a poll interval (2 s; the bound is generous), with an
    // event naming the key and the Secret, not the value.
    put_object(
        &ns,
        "secret",
        "db-creds",
        &[("truststore-password", two.as_bytes())],
        true,
    );
    wait_connect_value(
        &name,
        "ssl.truststore.password",
        &two,
        Duration::from_secs(30),
    )
    .await;
    let note = format!("config key \"ssl.truststore.password\" updated from Secret {ns}/db-creds");
    eventually("the rotation event", T, || async {
        let ev = event_list(&ns, &name);
        ev.iter()
            .any(|(r, m, _)| r == "ConfigValueUpdated" && *m == note)
            .then_some(())
            .ok_or(format!("{ev:?}"))
    })
    .await;

    // The Secret goes: SecretNotFound naming it; the connector keeps running on Connect with its config.
    kubectl(&["-n", &ns, "delete", "secret", "db-creds"]).expect_ok();
    let k = wait_reason(&ns, &name, "False", "SecretNotFound").await;
    assert_eq!(
        ready(&k).2,
        format!("spec.configFrom.\"ssl.truststore.password\": Secret {ns}/db-creds not found")
    );
    let st = settled!(connect().get_status(&name)).expect("still on Connect");
    assert_eq!(st.connector.state, "RUNNING");
    assert_eq!(
        existing_connect_config(&name).await["ssl.truststore.password"],
        two
    );

    // It comes back: Ready again.
    put_object(
        &ns,
        "secret",
        "db-creds",
        &[("truststore-password", two.as_bytes())],
        false,
    );
    wait_reason(&ns, &name, "True", "Running").await;

    let seen = visible_outside_connect(&ns, &name).await;
    for v in [&one, &two] {
        assert!(
            !seen.contains(v.as_str()),
            "a Secret value showed outside Connect"
        );
    }
    delete_connector(&ns, &name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_key_is_secret_not_found_naming_it() {
    let ns = setup("cf-nokey");
    let name = unique("cf-nokey");
    put_object(&ns, "secret", "db-creds", &[("other", b"whatever")], false);
    file_sink(&ns, &name, "t", "/dev/null")
        .config_from("db.password", false, "db-creds", "password")
        .apply()
        .expect_ok();
    let k = wait_reason(&ns, &name, "False", "SecretNotFound").await;
    assert_eq!(
        ready(&k).2,
        format!("spec.configFrom.\"db.password\": Secret {ns}/db-creds has no key \"password\"")
    );
    assert!(connect_config(&name).await.is_none(), "nothing was created");
    // the key appears: the watch brings the connector up
    put_object(
        &ns,
        "secret",
        "db-creds",
        &[("other", b"whatever"), ("password", b"now-there")],
        true,
    );
    wait_running(&ns, &name, "1/1").await;
    delete_connector(&ns, &name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_data_and_reserved_keys_are_invalid_config() {
    let ns = setup("cf-bad");
    put_object(
        &ns,
        "secret",
        "bin",
        &[("key", &[0xff, 0xfe, 0x00, 0x80])],
        false,
    );
    let name = unique("cf-bin");
    file_sink(&ns, &name, "t", "/dev/null")
        .config_from("ssl.keystore.key", false, "bin", "key")
        .apply()
        .expect_ok();
    let k = wait_reason(&ns, &name, "False", "InvalidConfig").await;
    assert_eq!(
        ready(&k).2,
        format!(
            "spec.configFrom.\"ssl.keystore.key\": key \"key\" of Secret {ns}/bin is not UTF-8 text (Kafka Connect config values are strings)"
        )
    );
    assert!(is_stalled(&k));

    let reserved = unique("cf-reserved");
    file_sink(&ns, &reserved, "t", "/dev/null")
        .config_from("tasks.max", false, "bin", "key")
        .apply()
        .expect_ok();
    let k = wait_reason(&ns, &reserved, "False", "InvalidConfig").await;
    assert_eq!(
        ready(&k).2,
        "spec.configFrom.\"tasks.max\": reserved key; name, connector.class and tasks.max come from spec.name, spec.class and spec.tasksMax"
    );
    let twice = unique("cf-twice");
    file_sink(&ns, &twice, "t", "/dev/null")
        .config_from("file", false, "bin", "key")
        .apply()
        .expect_ok();
    let k = wait_reason(&ns, &twice, "False", "InvalidConfig").await;
    assert_eq!(
        ready(&k).2,
        "spec.configFrom.\"file\": also set in spec.config; set it in one place only"
    );
    for n in [&name, &reserved, &twice] {
        assert!(connect_config(n).await.is_none());
        delete_connector(&ns, n);
    }
}

/// A 1 MiB value (the most a Secret holds) reaches Connect, which cannot store it: its config topic record
/// would exceed the worker producer's default 1 MiB. The refusal is Connect's, shown as is, without the value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_mib_secret_value() {
    let ns = setup("cf-huge");
    let name = unique("cf-huge");
    let value: String = (0..1024 * 1024)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    put_object(&ns, "secret", "huge", &[("v", value.as_bytes())], false);
    file_sink(&ns, &name, "t", "/dev/null")
        .config_from("x.huge.password", false, "huge", "v")
        .apply()
        .expect_ok();
    let outcome = eventually(
        "the 1 MiB value on Connect or a clear refusal",
        T,
        || async {
            if let Some(c) = connect_config(&name).await
                && c.get("x.huge.password").map(String::len) == Some(value.len())
            {
                return Ok("on Connect".to_string());
            }
            let k = get(&ns, &name).await.ok_or("gone")?;
            let (s, r, m) = ready(&k);
            if s == "False" && !["Creating", "Starting", "Updating", ""].contains(&r.as_str()) {
                return Ok(format!("{r}: {m}"));
            }
            Err(format!("Ready={s} {r}: {m}"))
        },
    )
    .await;
    // Connect refuses it: the record for its config topic exceeds the producer's default 1 MiB limit.
    assert_eq!(
        outcome,
        "ConnectError: POST /connectors: Kafka Connect failed (HTTP 500): Error writing connector configuration to Kafka"
    );
    assert!(!outcome.contains(&value[..64]));
    let seen = visible_outside_connect(&ns, &name).await;
    assert!(
        !seen.contains(&value[..64]),
        "the value showed outside Connect"
    );
    delete_connector(&ns, &name);
}
