//! The Kafka Connect client against the real worker: every call, real error shapes, and real
//! authentication (https with mTLS and the basic-auth REST extension) on the secured worker.

use std::collections::BTreeMap;
use std::time::Duration;

use connect_warden_e2e::*;
use shared::Error;
use shared::connect::{Auth, ConnectClient, InitialState, Offsets, RestartOutcome};

const WAIT: Duration = Duration::from_secs(90);

fn cfg(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn source_config(name: &str, file: &str) -> BTreeMap<String, String> {
    cfg(&[
        ("name", name),
        ("connector.class", "FileStreamSource"),
        ("tasks.max", "1"),
        ("topic", name),
        ("file", file),
    ])
}

async fn state_of(c: &ConnectClient, name: &str) -> Result<(String, Vec<String>), String> {
    let s = settled!(c.get_status(name)).map_err(|e| e.to_string())?;
    Ok((
        s.connector.state.clone(),
        s.tasks.iter().map(|t| t.state.clone()).collect(),
    ))
}

async fn wait_state(c: &ConnectClient, name: &str, connector: &str, task: Option<&str>) {
    eventually(
        &format!("{name} to be {connector}/{task:?}"),
        WAIT,
        || async {
            let (cs, ts) = state_of(c, name).await?;
            let tasks_ok = match task {
                Some(t) => !ts.is_empty() && ts.iter().all(|s| s == t),
                None => true,
            };
            if cs == connector && tasks_ok {
                Ok(())
            } else {
                Err(format!("{cs} {ts:?}"))
            }
        },
    )
    .await
}

#[tokio::test]
async fn server_info_health_and_plugins() {
    let c = connect();
    let info = settled!(c.server_info()).unwrap();
    assert_eq!(info.version, kafka_env().version);
    assert!(
        info.kafka_cluster_id
            .as_deref()
            .is_some_and(|id| !id.is_empty())
    );
    assert_eq!(settled!(c.health()).unwrap().status, "healthy");
    let connectors = settled!(c.plugins(true)).unwrap();
    let classes: Vec<&str> = connectors.iter().map(|p| p.class.as_str()).collect();
    assert!(
        classes.contains(&"org.apache.kafka.connect.file.FileStreamSourceConnector"),
        "{classes:?}"
    );
    assert!(
        classes.contains(&"org.apache.kafka.connect.mirror.MirrorSourceConnector"),
        "{classes:?}"
    );
    assert!(
        connectors
            .iter()
            .all(|p| p.kind == "source" || p.kind == "sink")
    );
    let all = settled!(c.plugins(false)).unwrap();
    assert!(
        all.iter().any(|p| p.kind == "converter"),
        "connectorsOnly=false lists converters too"
    );
    assert!(all.len() > connectors.len());
}

#[tokio::test]
async fn validate_valid_source() {
    let c = connect();
    let r = settled!(c.validate(
        "FileStreamSource",
        &source_config(&unique("v-ok"), "/tmp/x"),
    ))
    .unwrap();
    assert_eq!(r.error_count, 0, "{:?}", r.errors());
    assert!(r.defined_keys().any(|k| k == "topic"));
    assert!(
        r.configs.iter().any(|ci| ci.definition.order.is_some()),
        "order or order_in_group is read"
    );
}

#[tokio::test]
async fn validate_sink_without_topics_gives_per_key_errors() {
    let c = connect();
    let config = cfg(&[
        ("name", "no-topics"),
        ("connector.class", "FileStreamSink"),
        ("tasks.max", "1"),
        ("file", "/tmp/o"),
    ]);
    let r = settled!(c.validate("FileStreamSink", &config)).unwrap();
    assert!(r.error_count >= 1);
    let errors = r.errors();
    let keys: Vec<&str> = errors.iter().map(|(k, _)| k.as_str()).collect();
    assert!(keys.contains(&"topics"), "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|(k, e)| k == "topics"
                && e.contains("Must configure one of topics or topics.regex")),
        "{errors:?}"
    );
}

#[tokio::test]
async fn validate_unknown_class_is_plugin_not_found_and_redacted() {
    let c = connect();
    let config = cfg(&[
        ("name", "nope"),
        ("connector.class", "com.acme.NopeConnector"),
        ("ssl.truststore.password", "sup3r-s3cret-value"),
    ]);
    let e = settled!(c.validate("com.acme.NopeConnector", &config)).unwrap_err();
    match &e {
        Error::PluginNotFound { class, message, .. } => {
            assert_eq!(class, "com.acme.NopeConnector");
            assert!(message.contains("Failed to find any class"), "{message}");
        }
        other => panic!("expected PluginNotFound, got {other:?}"),
    }
    assert!(!format!("{e} {e:?}").contains("sup3r-s3cret-value"));
}

#[tokio::test]
async fn lifecycle_create_update_pause_resume_stop_delete() {
    let c = connect();
    let name = unique("life");
    let file = scratch("life").join("in.txt");
    std::fs::write(&file, "a\nb\n").unwrap();
    let file = file.to_string_lossy().into_owned();

    let info = settled!(c.create(
        &name,
        &source_config(&name, &file),
        Some(InitialState::Paused),
    ))
    .unwrap();
    assert_eq!(info.name, name);
    wait_state(&c, &name, "PAUSED", None).await;

    settled!(c.resume(&name)).unwrap();
    wait_state(&c, &name, "RUNNING", Some("RUNNING")).await;

    let mut updated = source_config(&name, &file);
    updated.insert("batch.size".into(), "100".into());
    let put = settled!(c.put_config(&name, &updated)).unwrap();
    assert!(!put.created, "an update answers 200, not 201");
    assert_eq!(
        settled!(c.get_config(&name))
            .unwrap()
            .get("batch.size")
            .map(String::as_str),
        Some("100")
    );
    let info = settled!(c.get_info(&name)).unwrap();
    assert_eq!(info.config["topic"], name);

    let all = settled!(c.list_expanded()).unwrap();
    let mine = all
        .get(&name)
        .expect("listed with expand=status&expand=info");
    assert!(mine.status.is_some() && mine.info.is_some());
    assert!(settled!(c.list()).unwrap().contains(&name));

    settled!(c.pause(&name)).unwrap();
    wait_state(&c, &name, "PAUSED", Some("PAUSED")).await;
    settled!(c.stop(&name)).unwrap();
    wait_state(&c, &name, "STOPPED", None).await;
    settled!(c.resume(&name)).unwrap();
    wait_state(&c, &name, "RUNNING", Some("RUNNING")).await;

    settled!(c.delete(&name)).unwrap();
    eventually("the connector to be gone", WAIT, || async {
        match settled!(c.get_status(&name)) {
            Err(Error::NotFound { .. }) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert!(matches!(
        settled!(c.delete(&name)),
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn put_config_creates_with_201() {
    let c = connect();
    let name = unique("put");
    let r = settled!(c.put_config(&name, &source_config(&name, "/tmp/does-not-matter"))).unwrap();
    assert!(r.created);
    settled!(c.delete(&name)).unwrap();
}

#[tokio::test]
async fn failed_task_is_seen_and_restarted() {
    let c = connect();
    let name = unique("fail");
    let config = cfg(&[
        ("name", &name),
        ("connector.class", "FileStreamSink"),
        ("tasks.max", "1"),
        ("topics", &name),
        ("file", "/nonexistent-dir/out.txt"),
    ]);
    settled!(c.put_config(&name, &config)).unwrap();
    wait_state(&c, &name, "RUNNING", Some("FAILED")).await;
    let status = settled!(c.get_status(&name)).unwrap();
    let trace = status.tasks[0].trace.as_deref().unwrap_or_default();
    assert!(trace.contains("nonexistent-dir"), "{trace}");

    match settled!(c.restart(&name, true, true)).unwrap() {
        RestartOutcome::Accepted(Some(s)) => {
            assert_eq!(s.tasks[0].state, "RESTARTING", "{s:?}");
        }
        other => panic!("expected 202 with a status, got {other:?}"),
    }
    // The directory still does not exist, so the task fails again: Connect never restarts it by itself.
    wait_state(&c, &name, "RUNNING", Some("FAILED")).await;
    settled!(c.restart_task(&name, 0)).unwrap();
    assert!(matches!(
        settled!(c.restart(&name, false, false)).unwrap(),
        RestartOutcome::Done
    ));
    assert!(matches!(
        settled!(c.restart_task(&name, 7)),
        Err(Error::NotFound { .. })
    ));
    settled!(c.delete(&name)).unwrap();
}

#[tokio::test]
async fn offsets_get_patch_reset() {
    let c = connect();
    let name = unique("offsets");
    let file = scratch("offsets").join("in.txt");
    std::fs::write(&file, "one\ntwo\nthree\n").unwrap();
    let file = file.to_string_lossy().into_owned();
    settled!(c.put_config(&name, &source_config(&name, &file))).unwrap();
    wait_state(&c, &name, "RUNNING", Some("RUNNING")).await;
    let offsets = eventually("source offsets to be committed", WAIT, || async {
        let o = settled!(c.offsets(&name)).map_err(|e| e.to_string())?;
        if o.offsets.is_empty() {
            Err("no offsets yet".into())
        } else {
            Ok(o)
        }
    })
    .await;
    assert_eq!(offsets.offsets[0].partition["filename"], file.as_str());

    // PATCH and DELETE need a STOPPED connector; while running Connect says so.
    let e = settled!(c.reset_offsets(&name)).unwrap_err();
    assert!(matches!(e, Error::Rejected { status: 400, .. }), "{e:?}");
    settled!(c.stop(&name)).unwrap();
    wait_state(&c, &name, "STOPPED", None).await;
    let patch = Offsets {
        offsets: vec![shared::connect::PartitionOffset {
            partition: serde_json::json!({"filename": file}),
            offset: Some(serde_json::json!({"position": 4})),
        }],
    };
    let msg = settled!(c.patch_offsets(&name, &patch)).unwrap();
    assert!(
        msg.message.contains("altered successfully"),
        "{}",
        msg.message
    );
    let now = settled!(c.offsets(&name)).unwrap();
    assert_eq!(now.offsets[0].offset.as_ref().unwrap()["position"], 4);
    let msg = settled!(c.reset_offsets(&name)).unwrap();
    assert!(
        msg.message.contains("reset successfully"),
        "{}",
        msg.message
    );
    settled!(c.delete(&name)).unwrap();
}

#[tokio::test]
async fn secured_worker_with_right_credentials() {
    let c = ConnectClient::new(&secure_settings()).unwrap();
    assert!(settled!(c.list()).is_ok());
    assert_eq!(
        settled!(c.server_info()).unwrap().version,
        kafka_env().version
    );
}

#[tokio::test]
async fn secured_worker_wrong_password_is_401_with_plain_text() {
    let mut s = secure_settings();
    s.auth = Some(Auth::Basic {
        username: kafka_env().secure.username.clone(),
        password: "wrong-password".into(),
    });
    let e = ConnectClient::new(&s).unwrap().list().await.unwrap_err();
    match &e {
        Error::Unauthorized {
            status: 401,
            message,
            ..
        } => assert!(!message.is_empty()),
        other => panic!("expected 401, got {other:?}"),
    }
    assert!(!e.to_string().contains("wrong-password"));
    assert!(
        e.to_string().contains("authentication failed (HTTP 401)"),
        "{e}"
    );
}

#[tokio::test]
async fn secured_worker_untrusted_certificate_fails_clearly() {
    let mut s = secure_settings();
    s.ca_pem = Some(std::fs::read(&kafka_env().secure.untrusted_ca_pem).unwrap());
    let e = ConnectClient::new(&s).unwrap().list().await.unwrap_err();
    assert!(e.is_unreachable(), "{e:?}");
    let text = e.to_string().to_lowercase();
    assert!(
        text.contains("certificate") || text.contains("unknownissuer"),
        "{e}"
    );
}

#[tokio::test]
async fn secured_worker_requires_a_client_certificate() {
    let mut s = secure_settings();
    s.client_cert_pem = None;
    s.client_key_pem = None;
    let e = ConnectClient::new(&s).unwrap().list().await.unwrap_err();
    assert!(
        e.is_unreachable() || matches!(e, Error::Decode { .. }),
        "{e:?}"
    );
}
