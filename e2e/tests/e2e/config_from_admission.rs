//! `spec.configFrom` at admission, through the real kubectl, the real kube-apiserver (with RBAC, and
//! impersonation for the users) and the real Connect worker: who may reference a Secret, which keys may come
//! from one, what a missing or binary Secret gives, and that a resolved value shows nowhere.

use connect_warden_e2e::connectors::delete_connector_nowait;
use connect_warden_e2e::objects::{Connector, cluster, connector};
use connect_warden_e2e::*;

use crate::webhook::{denial, shared_webhook_log, warnings};

const MIRROR: &str = "org.apache.kafka.connect.mirror.MirrorSourceConnector";

/// A namespace served by the shared webhook, with a KafkaConnectCluster `local` for the main worker.
fn setup(prefix: &str) -> String {
    let ns = namespace(prefix, &[]);
    cluster(&ns, "local", &kafka_env().connect_url)
        .apply()
        .expect_ok();
    ns
}

/// Creates the Secret (or, with `config_map`, the ConfigMap) `name` holding `data` byte for byte.
fn create_object(ns: &str, config_map: bool, name: &str, data: &[(&str, &[u8])]) {
    let dir = scratch("config-from-admission");
    let mut args: Vec<String> = vec!["-n".into(), ns.into(), "create".into()];
    if config_map {
        args.push("configmap".into());
    } else {
        args.extend(["secret".into(), "generic".into()]);
    }
    args.push(name.into());
    for (k, v) in data {
        let f = dir.join(format!("{}-{k}", unique("data")));
        std::fs::write(&f, v).unwrap();
        args.push(format!("--from-file={k}={}", f.display()));
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    kubectl(&a).expect_ok();
}

/// A MirrorSourceConnector on `local` whose `ssl.truststore.password` comes from `secret`/`key`: Connect
/// validates it without reaching any cluster.
fn mirror(ns: &str, secret: &str, key: &str) -> Connector {
    connector(ns, &unique("mm"), MIRROR)
        .on("local")
        .config("source.cluster.alias", "a")
        .config("target.cluster.alias", "b")
        .config("source.cluster.bootstrap.servers", "127.0.0.1:9")
        .config_from("ssl.truststore.password", false, secret, key)
}

/// The shared webhook's log file and its /metrics page.
fn webhook_log_and_metrics() -> [String; 2] {
    [shared_webhook_log(), shared_webhook_metrics()]
}

#[track_caller]
fn assert_not_shown(out: &Out, value: &str) {
    for text in [out.stdout.as_str(), out.stderr.as_str()] {
        assert!(!text.contains(value), "the value leaked: {text}");
    }
}

/// Users `alice` and `bob` may create and update KafkaConnectors and read ConfigMaps in `ns`; only `bob` may
/// read the Secret `db-creds`.
fn roles(ns: &str) {
    let yaml = format!(
        r#"apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: connector-editor, namespace: {ns}}}
rules:
  - apiGroups: ["connectwarden.io"]
    resources: ["kafkaconnectors"]
    verbs: ["get", "list", "create", "update", "patch"]
  - apiGroups: [""]
    resources: ["configmaps"]
    verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: connector-editors, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: connector-editor}}
subjects:
  - {{apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}}
  - {{apiGroup: rbac.authorization.k8s.io, kind: User, name: bob}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: db-creds-reader, namespace: {ns}}}
rules:
  - apiGroups: [""]
    resources: ["secrets"]
    resourceNames: ["db-creds"]
    verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: db-creds-readers, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: db-creds-reader}}
subjects:
  - {{apiGroup: rbac.authorization.k8s.io, kind: User, name: bob}}
"#
    );
    apply(&yaml, &[]).expect_ok();
}

fn as_user<'a>(user: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut flags = vec!["--as", user, "--as-group", "team-editors"];
    flags.extend_from_slice(extra);
    flags
}

// -------------------------------------------------------------------------------------------------------------
#[test]
fn only_a_user_who_may_read_the_secret_may_reference_it() {
    let ns = setup("cfa-rbac");
    roles(&ns);
    let secret = format!("Tr0ub4dor-{}", unique("pw"));
    create_object(&ns, false, "db-creds", &[("password", secret.as_bytes())]);
    let out_file = format!("/tmp/{}.txt", unique("cfa-sink"));
    create_object(&ns, true, "paths", &[("out", out_file.as_bytes())]);
    let mm = mirror(&ns, "db-creds", "password");

    // alice may create connectors but not read db-creds.
    let out = apply(&mm.yaml(), &as_user("alice", &[]));
    assert_eq!(
        denial(&out),
        format!(
            "spec.configFrom.\"ssl.truststore.password\": user \"alice\" may not get Secret {ns}/db-creds; \
             configFrom may only reference Secrets the applying user can read"
        )
    );
    // A server dry-run gets the same answer.
    let out = apply(&mm.yaml(), &as_user("alice", &["--dry-run=server"]));
    assert!(denial(&out).contains("user \"alice\" may not get Secret"));

    // bob may: Connect validates the config with the value (a server dry-run: no MirrorMaker left running).
    let out = apply(&mm.yaml(), &as_user("bob", &["--dry-run=server"])).expect_ok();
    assert_eq!(warnings(&out), Vec::<String>::new());
    assert_not_shown(&out, &secret);

    // And really creates a sink whose file comes from a ConfigMap both may read.
    let name = unique("sink");
    let yaml = connector(&ns, &name, "FileStreamSink")
        .on("local")
        .tasks_max(1)
        .config("topics", unique("orders"))
        .config_from("file", true, "paths", "out")
        .yaml();
    let out = apply(&yaml, &as_user("bob", &[])).expect_ok();
    assert!(out.stdout.contains("created"), "{}", out.stdout);
    // alice, too: she may read the ConfigMap.
    let yaml_a = yaml.replace(&name, &unique("sink"));
    apply(&yaml_a, &as_user("alice", &["--dry-run=server"])).expect_ok();
    delete_connector_nowait(&ns, &name);

    for text in webhook_log_and_metrics() {
        assert!(!text.contains(&secret), "the secret leaked");
    }
}

// -------------------------------------------------------------------------------------------------------------
#[test]
fn keys_missing_objects_binary_data_and_huge_values_at_admission() {
    let ns = setup("cfa-rules");
    let dry = &["--dry-run=server"][..];
    let secret = format!("Corr3ct-Horse-{}", unique("pw"));
    create_object(
        &ns,
        false,
        "creds",
        &[
            ("password", secret.as_bytes()),
            ("binary", &[0xfe, 0xed, 0xfe, 0xed, 0x00, 0xff]),
        ],
    );

    // A key in both config and configFrom.
    let out = apply(
        &mirror(&ns, "creds", "password")
            .config("ssl.truststore.password", "literal")
            .yaml(),
        dry,
    );
    assert_eq!(
        denial(&out),
        "spec.configFrom.\"ssl.truststore.password\": also set in spec.config; set it in one place only"
    );

    // A reserved key.
    let out = apply(
        &mirror(&ns, "creds", "password")
            .config_from("tasks.max", false, "creds", "password")
            .yaml(),
        dry,
    );
    assert_eq!(
        denial(&out),
        "spec.configFrom.\"tasks.max\": reserved key; name, connector.class and tasks.max come from spec.name, \
         spec.class and spec.tasksMax"
    );

    // A Secret not there yet: admitted with a warning, Connect not asked.
    let out = apply(&mirror(&ns, "not-yet", "password").yaml(), dry).expect_ok();
    assert_eq!(
        warnings(&out),
        [format!(
            "spec.configFrom.\"ssl.truststore.password\": Secret {ns}/not-yet not found; admitted without Kafka \
             Connect validation (it needs every value), the controller applies the connector once it exists"
        )]
    );
    // A key the Secret lacks: the same.
    let out = apply(&mirror(&ns, "creds", "nope").yaml(), dry).expect_ok();
    assert_eq!(
        warnings(&out),
        [format!(
            "spec.configFrom.\"ssl.truststore.password\": Secret {ns}/creds has no key \"nope\"; admitted without \
             Kafka Connect validation (it needs every value), the controller applies the connector once it exists"
        )]
    );

    // Binary data: denied, naming the Secret and key, no bytes.
    let out = apply(&mirror(&ns, "creds", "binary").yaml(), dry);
    assert_eq!(
        denial(&out),
        format!(
            "spec.configFrom.\"ssl.truststore.password\": key \"binary\" of Secret {ns}/creds is not UTF-8 text \
             (Kafka Connect config values are strings)"
        )
    );

    // A value of almost 1 MiB (the API server's limit for a Secret): validated, never quoted.
    let marker = unique("huge");
    let mut huge = marker.repeat((1000 * 1024) / marker.len());
    huge.truncate(1000 * 1024);
    create_object(&ns, false, "huge", &[("password", huge.as_bytes())]);
    let out = apply(&mirror(&ns, "huge", "password").yaml(), dry).expect_ok();
    assert_not_shown(&out, &marker);
    assert!(out.stderr.len() < 4096, "{} bytes", out.stderr.len());

    // The value validated (and admitted) shows nowhere.
    let out = apply(&mirror(&ns, "creds", "password").yaml(), dry).expect_ok();
    assert_not_shown(&out, &secret);
    for text in webhook_log_and_metrics() {
        assert!(!text.contains(&secret), "the secret leaked");
        assert!(!text.contains(&marker), "the huge value leaked");
    }
}
