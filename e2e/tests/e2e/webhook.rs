//! The admission webhook through the real kubectl, the real kube-apiserver (webhooks registered by
//! url + caBundle) and the real Connect worker: what a user sees on `kubectl apply`.

use std::time::Duration;

use connect_warden_e2e::connectors::{
    delete_connector_nowait, patch_connector, remove_finalizers, try_patch_connector,
};
use connect_warden_e2e::objects::{Connector, cluster, connector, file_source, fill, yaml_stream};
use connect_warden_e2e::*;

const DENIED: &str = "admission webhook \"validate.connectwarden.io\" denied the request: ";
const MUTATE_DENIED: &str = "admission webhook \"mutate.connectwarden.io\" denied the request: ";

/// The validating webhook's message in a kubectl error (one object per apply, so one message).
#[track_caller]
pub(crate) fn denial(out: &Out) -> String {
    denial_by(out, DENIED)
}

#[track_caller]
fn denial_by(out: &Out, prefix: &str) -> String {
    assert!(!out.ok, "expected a denial, got success: {}", out.stdout);
    let at = out
        .stderr
        .find(prefix)
        .unwrap_or_else(|| panic!("no webhook denial in: {}", out.stderr));
    out.stderr[at + prefix.len()..].trim_end().to_string()
}

/// The denial of a FileStreamSink without topics on the KafkaConnectCluster `ns/cluster`: Kafka Connect's own
/// validation, a line per key.
pub(crate) fn no_topics_denial(ns: &str, cluster: &str) -> String {
    format!(
        "Kafka Connect (KafkaConnectCluster {ns}/{cluster}) rejected the config of FileStreamSink:\n\
         topics: Must configure one of topics or topics.regex\n\
         topics.regex: Must configure one of topics or topics.regex"
    )
}

/// The `Warning:` lines kubectl printed.
pub(crate) fn warnings(out: &Out) -> Vec<String> {
    out.stderr
        .lines()
        .filter_map(|l| l.strip_prefix("Warning: "))
        .map(str::to_string)
        .collect()
}

/// A namespace served by the shared webhook, with a KafkaConnectCluster `local` for the main worker.
fn setup(prefix: &str) -> String {
    let ns = namespace(prefix, &[]);
    cluster(&ns, "local", &kafka_env().connect_url)
        .apply()
        .expect_ok();
    ns
}

/// A connector of `class` on the cluster `local`.
fn on_local(ns: &str, name: &str, class: &str) -> Connector {
    connector(ns, name, class).on("local")
}

/// A FileStreamSource on `local` with one task, reading `/tmp/<name>.txt` into topic `<name>`.
fn source(ns: &str, name: &str) -> Connector {
    file_source(ns, name, name, format!("/tmp/{name}.txt"))
        .on("local")
        .tasks_max(1)
}

/// `kubectl get kafkaconnector <name>` says NotFound.
fn not_found(ns: &str, name: &str) -> bool {
    kubectl(&["get", "kafkaconnector", name, "-n", ns])
        .stderr
        .contains("NotFound")
}

fn get_json(ns: &str, kind: &str, name: &str) -> serde_json::Value {
    let out = kubectl(&["get", kind, name, "-n", ns, "-o", "json"]).expect_ok();
    serde_json::from_str(&out.stdout).unwrap()
}

pub(crate) fn shared_webhook_log() -> String {
    std::fs::read_to_string(env().dir.join("logs").join("webhook.log")).unwrap_or_default()
}

// 1 -----------------------------------------------------------------------------------------------------------
#[test]
fn valid_file_stream_source_is_admitted() {
    let ns = setup("wh-valid");
    let name = unique("src");
    let out = source(&ns, &name).apply().expect_ok();
    assert_eq!(
        out.stdout.trim(),
        format!("kafkaconnector.connectwarden.io/{name} created")
    );
    assert!(warnings(&out).is_empty(), "{}", out.stderr);
}

// 2 -----------------------------------------------------------------------------------------------------------
#[test]
fn sink_without_topics_is_denied_with_connects_message() {
    let ns = setup("wh-sink");
    let name = unique("sink");
    let msg = denial(
        &on_local(&ns, &name, "FileStreamSink")
            .config("file", "/tmp/out.txt")
            .apply(),
    );
    assert_eq!(msg, no_topics_denial(&ns, "local"));
    assert!(not_found(&ns, &name));
}

// 3 -----------------------------------------------------------------------------------------------------------
#[test]
fn numbers_and_booleans_become_strings_client_and_server_side() {
    let ns = setup("wh-coerce");
    for flags in [&[][..], &["--server-side"][..]] {
        let name = unique("src");
        let yaml = source(&ns, &name)
            .config_value("batch.size", 200.into())
            .config_value("errors.log.enable", true.into())
            .yaml();
        let out = apply(&yaml, flags).expect_ok();
        assert_eq!(
            warnings(&out),
            vec![
                "spec.config: numbers and booleans converted to strings: batch.size: 200 → \"200\", \
                 errors.log.enable: true → \"true\"; quote them in Git (e.g. batch.size: \"200\") so GitOps diffs stay clean"
            ],
            "{flags:?}"
        );
        let obj = get_json(&ns, "kafkaconnector", &name);
        assert_eq!(obj["spec"]["config"]["batch.size"], "200", "{flags:?}");
        assert_eq!(
            obj["spec"]["config"]["errors.log.enable"], "true",
            "{flags:?}"
        );
    }
}

// 4 -----------------------------------------------------------------------------------------------------------
#[test]
fn objects_lists_and_nulls_are_denied_naming_key_and_type() {
    let ns = setup("wh-types");
    let name = unique("src");
    let msg = denial(
        &source(&ns, &name)
            .config_raw("nested", "{a: 1}")
            .config_raw("list", "[a, b]")
            .apply(),
    );
    assert_eq!(
        msg,
        "spec.config.\"list\": must be a string, got list\nspec.config.\"nested\": must be a string, got object"
    );
    // kubectl apply drops nulls on create; `kubectl create` of JSON keeps them.
    let json = format!(
        r#"{{"apiVersion":"connectwarden.io/v1alpha1","kind":"KafkaConnector","metadata":{{"name":"{name}","namespace":"{ns}"}},
            "spec":{{"clusterRef":{{"name":"local"}},"class":"FileStreamSource","config":{{"topic":"t","nothing":null}}}}}}"#
    );
    let out = kubectl_with_stdin(&["create", "-f", "-"], Some(&json));
    assert_eq!(
        denial(&out),
        "spec.config.\"nothing\": must be a string, got null"
    );
}

// 5 -----------------------------------------------------------------------------------------------------------
#[test]
fn unknown_class_is_denied_with_installed_classes_and_closest_match() {
    let ns = setup("wh-class");
    let name = unique("src");
    let msg = denial(
        &on_local(&ns, &name, "org.acme.FileStreamSorce")
            .config("topic", "t")
            .apply(),
    );
    let mut lines = msg.lines();
    assert_eq!(
        lines.next().unwrap(),
        format!(
            "connector class \"org.acme.FileStreamSorce\" is not installed on KafkaConnectCluster {ns}/local; \
             did you mean \"org.apache.kafka.connect.file.FileStreamSourceConnector\"?"
        )
    );
    let installed = lines.next().unwrap();
    assert!(
        installed.starts_with("installed connector classes: "),
        "{installed}"
    );
    for c in [
        "org.apache.kafka.connect.file.FileStreamSinkConnector",
        "org.apache.kafka.connect.file.FileStreamSourceConnector",
        "org.apache.kafka.connect.mirror.MirrorSourceConnector",
    ] {
        assert!(installed.contains(c), "{installed}");
    }
}

// 6 -----------------------------------------------------------------------------------------------------------
#[test]
fn misspelt_key_gets_a_did_you_mean_warning() {
    let ns = setup("wh-typo");
    let name = unique("src");
    let out = source(&ns, &name)
        .config("batch.sise", "10")
        .apply()
        .expect_ok();
    assert_eq!(
        warnings(&out),
        vec![
            "spec.config.\"batch.sise\" is not a setting of FileStreamSource; did you mean \"batch.size\"? \
             (Kafka Connect ignores unknown keys)"
        ]
    );
    assert!(out.stdout.contains("created"));
}

// 7 -----------------------------------------------------------------------------------------------------------
#[test]
fn password_literals_are_warned_about_and_never_shown() {
    let ns = setup("wh-secret");
    let secret = format!("Tr0ub4dor-{}", unique("pw"));
    let mm = |name: &str, class: &str| {
        on_local(&ns, name, class)
            .config("source.cluster.alias", "a")
            .config("target.cluster.alias", "b")
            .config("source.cluster.bootstrap.servers", "127.0.0.1:9")
            .config("ssl.truststore.password", &secret)
            .yaml()
    };
    // Server dry-runs: the same answers, and no MirrorMaker connector left running against nothing.
    let dry = &["--dry-run=server"][..];
    let name = unique("mm");
    let out = apply(
        &mm(
            &name,
            "org.apache.kafka.connect.mirror.MirrorSourceConnector",
        ),
        dry,
    )
    .expect_ok();
    assert_eq!(
        warnings(&out),
        vec![
            "spec.config.\"ssl.truststore.password\" is a PASSWORD-type setting given as a literal value; reference it \
             instead (e.g. ${file:/mnt/secrets/connector.properties:ssl.truststore.password}) so the secret stays out \
             of Git and the API server"
        ]
    );
    // Connect's 500 for an unknown class echoes the whole config: the denial must not.
    let out = apply(&mm(&unique("mm"), "org.acme.MirrorSorceConnector"), dry);
    let msg = denial(&out);
    assert!(
        msg.starts_with("connector class \"org.acme.MirrorSorceConnector\" is not installed"),
        "{msg}"
    );
    // A Connect error on the key itself echoes nothing either.
    let yaml = on_local(
        &ns,
        &unique("mm"),
        "org.apache.kafka.connect.mirror.MirrorSourceConnector",
    )
    .config("ssl.truststore.password", &secret)
    .config("ssl.truststore.type", "NOPE")
    .yaml();
    let out = apply(&yaml, dry);
    for text in [out.stdout.as_str(), out.stderr.as_str()] {
        assert!(!text.contains(&secret), "{text}");
    }
    for text in [shared_webhook_log(), shared_webhook_metrics()] {
        assert!(!text.contains(&secret), "the secret leaked");
    }
}

// 8 -----------------------------------------------------------------------------------------------------------
#[test]
fn same_connector_name_on_the_same_cluster_is_denied_naming_the_owner() {
    let other = namespace("wh-name-b", &[]);
    let ns = namespace("wh-name-a", &[]);
    cluster(&ns, "local", &kafka_env().connect_url)
        .allow_namespaces(&[&other])
        .apply()
        .expect_ok();
    let connector_name = unique("orders");
    on_local(&ns, "orders-owner", "FileStreamSource")
        .connect_name(&connector_name)
        .config("topic", "t")
        .apply()
        .expect_ok();
    let rival = connector(&other, "orders-rival", "FileStreamSource")
        .on_cluster_in(&ns, "local")
        .connect_name(&connector_name)
        .config("topic", "t");
    assert_eq!(
        denial(&rival.apply()),
        format!(
            "connector name \"{connector_name}\" on KafkaConnectCluster {ns}/local is already claimed by KafkaConnector {ns}/orders-owner"
        )
    );
}

// 9 -----------------------------------------------------------------------------------------------------------
#[test]
fn namespace_not_allowed_by_the_cluster_is_denied() {
    let ns = setup("wh-allow");
    let outsider = namespace("wh-outsider", &[]);
    let outside = connector(&outsider, &unique("src"), "FileStreamSource")
        .on_cluster_in(&ns, "local")
        .config("topic", "t");
    assert_eq!(
        denial(&outside.apply()),
        format!(
            "KafkaConnectCluster {ns}/local does not allow connectors from namespace \"{outsider}\"; add it to the cluster's spec.allowedNamespaces"
        )
    );
}

// 10 ----------------------------------------------------------------------------------------------------------
#[test]
fn server_dry_run_gives_the_same_answers_and_creates_nothing() {
    let ns = setup("wh-dry");
    let name = unique("src");
    let yaml = source(&ns, &name)
        .config_value("batch.size", 5.into())
        .yaml();
    let out = apply(&yaml, &["--dry-run=server"]).expect_ok();
    assert_eq!(
        out.stdout.trim(),
        format!("kafkaconnector.connectwarden.io/{name} created (server dry run)")
    );
    assert_eq!(warnings(&out).len(), 1, "{}", out.stderr);
    assert!(warnings(&out)[0].starts_with(
        "spec.config: numbers and booleans converted to strings: batch.size: 5 → \"5\""
    ));
    assert!(not_found(&ns, &name));

    let sink = on_local(&ns, &name, "FileStreamSink")
        .config("file", "/tmp/x")
        .yaml();
    let dry = denial(&apply(&sink, &["--dry-run=server"]));
    let real = denial(&apply(&sink, &[]));
    assert_eq!(dry, real);
    assert!(
        dry.contains("topics: Must configure one of topics or topics.regex"),
        "{dry}"
    );
}

// 11 ----------------------------------------------------------------------------------------------------------

/// A webhook of this test's own, serving namespaces labelled `connectwarden.io/e2e-private=<label>`;
/// unregistered when dropped.
struct PrivateWebhook {
    webhook: stack::warden::Webhook,
    name: String,
}

impl PrivateWebhook {
    fn start(label: &str, extra: &[&str]) -> PrivateWebhook {
        let name = unique("cw-wh");
        let dir = scratch("webhook");
        let webhook =
            stack::warden::start_webhook(&dir, kube_env(), &name, extra).expect("start webhook");
        webhook
            .register(kube_env(), &name, Some(label))
            .expect("register webhook");
        PrivateWebhook { webhook, name }
    }
}

impl Drop for PrivateWebhook {
    fn drop(&mut self) {
        for kind in [
            "mutatingwebhookconfiguration",
            "validatingwebhookconfiguration",
        ] {
            let _ = kubectl(&["delete", kind, &self.name, "--ignore-not-found"]);
        }
        self.webhook.stop();
    }
}

/// A namespace served only by a private webhook with `extra` flags, once the API server routes to it.
fn private_namespace(prefix: &str, extra: &[&str]) -> (String, PrivateWebhook) {
    let label = unique("lbl");
    let hook = PrivateWebhook::start(&label, extra);
    let ns = namespace(prefix, &[(stack::warden::PRIVATE_LABEL, label.as_str())]);
    // The API server picks up new webhook configurations asynchronously: wait until the mutation shows.
    let probe = connector(&ns, "probe", "X")
        .on("nowhere")
        .config_value("n", 1.into())
        .yaml();
    poll_until(
        "the private webhook to be called",
        Duration::from_secs(60),
        || {
            let out = apply(&probe, &["--dry-run=server"]);
            if out.stderr.contains("numbers and booleans converted") {
                Ok(())
            } else {
                Err(out.stderr)
            }
        },
    );
    (ns, hook)
}

const CHANGE_TOPIC: &str = r#"{"spec":{"config":{"topic":"changed"}}}"#;

#[test]
fn connect_down_fail_closed_and_fail_open() {
    let dir = scratch("connect-down");
    let mut worker =
        stack::kafka::ConnectWorker::start(kafka_env(), &dir, &unique("down")).expect("worker");
    let url = worker.url();
    let (closed_ns, _closed) = private_namespace("wh-closed", &["--connect-timeout-ms", "3000"]);
    let (open_ns, _open) = private_namespace(
        "wh-open",
        &[
            "--connect-failure-policy",
            "open",
            "--connect-timeout-ms",
            "3000",
        ],
    );
    let name = unique("src");
    for ns in [&closed_ns, &open_ns] {
        cluster(ns, "local", &url).apply().expect_ok();
        // The shared controller skips objects with the private label: nothing else touches these.
        // Its own name on Connect: one Kafka Connect has one connector per name, whichever namespace.
        source(ns, &name)
            .connect_name(&format!("{ns}-{name}"))
            .label(stack::warden::PRIVATE_LABEL, "x")
            .apply()
            .expect_ok();
    }

    worker.kill();

    // Fail closed: metadata-only changes and deletion pass; a spec change is denied naming the cluster and error.
    let ns = &closed_ns;
    kubectl(&["label", "kafkaconnector", &name, "-n", ns, "team=payments"]).expect_ok();
    patch_connector(
        ns,
        &name,
        r#"{"metadata":{"finalizers":["e2e.connectwarden.io/hold"]}}"#,
    );
    let msg = denial(&try_patch_connector(ns, &name, CHANGE_TOPIC));
    let first = msg.lines().next().unwrap();
    assert!(
        first.starts_with(&format!(
            "cannot validate the config on KafkaConnectCluster {ns}/local: PUT /connector-plugins/FileStreamSource/config/validate: cannot connect: "
        )),
        "{msg}"
    );
    assert!(first.contains("Connection refused"), "{msg}");
    assert_eq!(
        msg.lines().nth(1).unwrap(),
        "the webhook fails closed while Kafka Connect is unavailable; try again once it is reachable"
    );
    delete_connector_nowait(ns, &name);
    // Removing the last finalizer of an object being deleted is an UPDATE the webhook must admit.
    remove_finalizers("kafkaconnector", ns, &name);
    poll_until("the connector to be gone", Duration::from_secs(30), || {
        if not_found(ns, &name) {
            Ok(())
        } else {
            Err("still there".to_string())
        }
    });

    // Fail open: the same change is admitted, with a warning saying it was not validated.
    let ns = &open_ns;
    let out = patch_connector(ns, &name, CHANGE_TOPIC);
    let w = warnings(&out);
    assert_eq!(w.len(), 1, "{}", out.stderr);
    assert!(
        w[0].starts_with(&format!(
            "admitted without Kafka Connect validation (fail-open): cannot validate the config on KafkaConnectCluster {ns}/local: "
        )),
        "{}",
        w[0]
    );
    assert!(w[0].contains("Connection refused"), "{}", w[0]);
    delete_connector_nowait(ns, &name);
}

// 12 ----------------------------------------------------------------------------------------------------------
#[test]
fn clusters_with_malformed_url_are_denied_and_missing_secrets_warned_about() {
    let ns = namespace("wh-cluster", &[]);
    // Raw text: the malformed URL goes to the API server exactly as written.
    let bad_url = fill(
        include_str!("fixtures/webhook/bad-url.yaml"),
        &[("NAMESPACE", &ns)],
    );
    let msg = denial(&apply(&bad_url, &[]));
    assert_eq!(
        msg,
        "spec.url: url \"connect:8083\": scheme must be http or https"
    );

    // A Secret that does not exist yet (sealed or external secrets arrive later) is ordering, not an error:
    // admitted, with a warning naming it.
    let with_auth = |name: &str, secret: &str| {
        cluster(&ns, name, "https://connect.example:8083")
            .basic_auth(secret)
            .yaml()
    };
    let out = apply(&with_auth("no-secret", "connect-credentials"), &[]).expect_ok();
    assert_eq!(
        warnings(&out),
        vec![format!(
            "spec.authentication.secretRef: Secret {ns}/connect-credentials not found; admitted, the controller \
             reports the cluster not Ready until it exists"
        )]
    );

    // With the Secret (applied in the same kubectl run, before the cluster) it is admitted without a warning.
    let secret = |name: &str, data: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {ns}}}\nstringData: {{{data}}}\n"
        )
    };
    let yaml = yaml_stream(&[
        secret("connect-credentials", "username: u, password: p"),
        with_auth("with-secret", "connect-credentials"),
    ]);
    let out = apply(&yaml, &[]).expect_ok();
    assert!(warnings(&out).is_empty(), "{}", out.stderr);

    // A Secret that exists but lacks a key is a real mistake: denied.
    let yaml = yaml_stream(&[
        secret("half", "username: u"),
        with_auth("half-secret", "half"),
    ]);
    assert_eq!(
        denial(&apply(&yaml, &[])),
        format!("KafkaConnectCluster {ns}/half-secret: Secret half has no key \"password\"")
    );
}

// 13 ----------------------------------------------------------------------------------------------------------
#[test]
fn numbers_json_decoding_has_rounded_are_denied_asking_to_quote_them() {
    let ns = setup("wh-bignum");
    let want = |arrived: &str, why: &str| {
        format!(
            "spec.config.\"id\": the number arrived as {arrived} and cannot be stored exactly ({why}); quote it in \
             Git so it is kept as written"
        )
    };
    let beyond_i64 =
        "an integer beyond the signed 64-bit range, which JSON decoding turns into a rounded float";
    // kubectl and the API server decode numbers into 64-bit integers or floats before the webhook sees them:
    // what arrives is already rounded, and says so by its form.
    let cases = [
        (
            "12345678901234567890",
            want("12345678901234567000", beyond_i64),
        ),
        (
            "123456789012345678901234",
            want(
                "1.2345678901234569e+23",
                "a whole number beyond 2^53 as a float: JSON decoding has rounded it",
            ),
        ),
        (
            "0.12345678901234567890",
            want(
                "0.12345678901234568",
                "more than 15 significant digits, which a 64-bit float does not keep exactly",
            ),
        ),
    ];
    for flags in [&[][..], &["--server-side"][..], &["--dry-run=server"][..]] {
        for (written, message) in &cases {
            let name = unique("src");
            let out = apply(&source(&ns, &name).config_raw("id", written).yaml(), flags);
            assert_eq!(&denial_by(&out, MUTATE_DENIED), message, "{flags:?}");
            assert!(not_found(&ns, &name));
        }
    }
    // Quoted, it is kept digit for digit; a big number that fits 64 bits is converted exactly.
    let name = unique("src");
    source(&ns, &name)
        .config_raw("id", "\"12345678901234567890\"")
        .config_raw("offset", "9007199254740993")
        .apply()
        .expect_ok();
    let obj = get_json(&ns, "kafkaconnector", &name);
    assert_eq!(obj["spec"]["config"]["id"], "12345678901234567890");
    assert_eq!(obj["spec"]["config"]["offset"], "9007199254740993");
}

// 14 ----------------------------------------------------------------------------------------------------------
#[test]
fn words_in_the_wrong_order_get_a_did_you_mean_warning() {
    let ns = setup("wh-order");
    let name = unique("src");
    let out = source(&ns, &name)
        .config("size.batch", "10")
        .config("max.tasks", "1")
        .apply()
        .expect_ok();
    assert_eq!(
        warnings(&out),
        vec![
            "spec.config.\"max.tasks\" is not a setting of FileStreamSource; did you mean \"tasks.max\"? \
             (Kafka Connect ignores unknown keys)",
            "spec.config.\"size.batch\" is not a setting of FileStreamSource; did you mean \"batch.size\"? \
             (Kafka Connect ignores unknown keys)",
        ]
    );
}
