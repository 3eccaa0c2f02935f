//! Deleting a whole namespace, as kube-controller-manager's namespace controller does it: every object in it
//! gets its deletion timestamp at once, in no set order (the KafkaConnectCluster, its KafkaConnectors and the
//! Secrets and ConfigMaps the cluster reads), and the namespace goes when the last finalizer is removed.
//!
//! The project creates no object with owner references (the controller writes finalizers, status and
//! events; `certs` writes a Secret and webhook configurations), so there is no garbage collection of ours to
//! prove here.

use connect_warden_e2e::connectors::*;
use connect_warden_e2e::objects::{cluster, file_sink};
use connect_warden_e2e::*;
use shared::connect::ConnectClient;
use shared::crd::FINALIZER;
use std::time::Duration;

/// Bounds the whole deletion of a namespace: the namespace controller looks again at most every few
/// seconds while finalizers remain, and Connect deletes each connector in turn.
const GONE: Duration = Duration::from_secs(180);

/// The namespace as `kubectl get namespace -o json` shows it, or `None` once it is gone.
fn get_namespace(ns: &str) -> Option<serde_json::Value> {
    let out = kubectl(&["get", "namespace", ns, "-o", "json"]);
    if !out.ok {
        assert_eq!(
            out.stderr.trim(),
            format!("Error from server (NotFound): namespaces \"{ns}\" not found"),
            "{out:?}"
        );
        return None;
    }
    Some(serde_json::from_str(&out.stdout).expect("a namespace as JSON"))
}

/// `kubectl delete namespace <ns> --wait=false`, as a user deletes one.
fn delete_namespace(ns: &str) {
    let out = kubectl(&["delete", "namespace", ns, "--wait=false"]).expect_ok();
    assert_eq!(out.stdout.trim(), format!("namespace \"{ns}\" deleted"));
}

async fn wait_namespace_gone(ns: &str) {
    eventually(&format!("namespace {ns} gone"), GONE, || async {
        match get_namespace(ns) {
            None => Ok(()),
            Some(v) => Err(format!(
                "{}: {}",
                v["status"]["phase"], v["status"]["conditions"]
            )),
        }
    })
    .await
}

/// The message of the namespace condition `kind` (set by the namespace controller while it deletes).
fn namespace_condition(v: &serde_json::Value, kind: &str) -> Option<String> {
    v["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind && c["status"] == "True")
        .map(|c| c["message"].as_str().unwrap_or_default().to_string())
}

async fn listed(c: &ConnectClient) -> Vec<String> {
    settled!(c.list()).expect("listing connectors on Connect")
}

fn secure_client() -> ConnectClient {
    ConnectClient::new(&secure_settings()).expect("a client for the secured worker")
}

/// A namespace with two KafkaConnectClusters: `main` (the plain worker) and `secure` (the secured worker,
/// whose credentials, client certificate and CA are a Secret, a Secret and a ConfigMap in the same
/// namespace, so the namespace controller deletes them together with the connectors that still need them).
/// Two FileStreamSinks run on `main`, one on `secure`, each Ready; returns their names.
async fn given_connectors_on_both_clusters(prefix: &str, orphan: bool) -> (String, Vec<String>) {
    let ns = namespace(prefix, &[]);
    let k = kafka_env();
    cluster(&ns, "main", &k.connect_url).apply().expect_ok();
    credentials::worker_basic_auth_secret("creds").create(&ns);
    credentials::client_cert_secret("client").create(&ns);
    credentials::ca_config_map("ca").create(&ns);
    cluster(&ns, "secure", &k.secure.url)
        .basic_auth("creds")
        .client_cert("client")
        .ca_config_map("ca")
        .apply()
        .expect_ok();
    let dir = scratch(prefix);
    let names: Vec<String> = (0..3).map(|_| unique(prefix)).collect();
    for (i, name) in names.iter().enumerate() {
        let mut c = file_sink(
            &ns,
            name,
            "ns-life-t",
            dir.join(format!("{name}.txt")).display(),
        );
        if i == 2 {
            c = c.on("secure");
        }
        if orphan {
            c = c.orphan();
        }
        c.apply().expect_ok();
    }
    for name in &names {
        wait_running(&ns, name, "1/1").await;
    }
    let (plain, secure) = (listed(&connect()).await, listed(&secure_client()).await);
    assert!(
        names[..2].iter().all(|n| plain.contains(n)),
        "{names:?} on {plain:?}"
    );
    assert!(secure.contains(&names[2]), "{:?} on {secure:?}", names[2]);
    (ns, names)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_namespace_deletes_its_connectors_from_connect_and_then_the_namespace_goes() {
    let (ns, names) = given_connectors_on_both_clusters("ns-delete", false).await;

    delete_namespace(&ns);
    wait_namespace_gone(&ns).await;

    let (plain, secure) = (listed(&connect()).await, listed(&secure_client()).await);
    for name in &names[..2] {
        assert!(!plain.contains(name), "{name} still on the plain worker");
    }
    assert!(
        !secure.contains(&names[2]),
        "{} still on the secured worker, whose credentials went with the namespace",
        names[2]
    );
}

/// The order the namespace controller deletes in is not set: here the cluster's Secrets surely go first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_namespace_whose_cluster_credentials_went_first_still_deletes_its_connectors() {
    let (ns, names) = given_connectors_on_both_clusters("ns-creds", false).await;
    kubectl(&["delete", "secret", "creds", "client", "-n", &ns]).expect_ok();
    let k = wait_reason(&ns, &names[2], "False", "SecretNotFound").await;
    assert_eq!(
        ready(&k).2,
        format!(
            "KafkaConnectCluster {ns}/secure: Secret {ns}/creds not found (spec.authentication.secretRef, key \"username\", \"password\"); \
             Secret {ns}/client not found (spec.tls.clientCertSecretRef, key \"tls.crt\", \"tls.key\")"
        )
    );

    delete_namespace(&ns);
    wait_namespace_gone(&ns).await;

    assert!(
        !listed(&secure_client()).await.contains(&names[2]),
        "{} still on the secured worker",
        names[2]
    );
    let plain = listed(&connect()).await;
    assert!(names[..2].iter().all(|n| !plain.contains(n)), "{plain:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_namespace_leaves_orphaned_connectors_running_on_connect() {
    let (ns, names) = given_connectors_on_both_clusters("ns-orphan", true).await;

    delete_namespace(&ns);
    wait_namespace_gone(&ns).await;

    let (plain, secure) = (connect(), secure_client());
    for (name, c) in names.iter().zip([&plain, &plain, &secure]) {
        let st = c
            .get_status(name)
            .await
            .unwrap_or_else(|e| panic!("{name} left on Connect: {e}"));
        assert_eq!(st.connector.state, "RUNNING", "{name}");
    }
    // Nobody manages them any more: clean up through Connect's REST API.
    for (name, c) in names.iter().zip([&plain, &plain, &secure]) {
        settled!(c.delete(name)).expect("deleting an orphan");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_connect_down_the_namespace_stays_terminating_and_says_why_until_connect_is_back() {
    let mut worker = tokio::task::block_in_place(|| {
        stack::kafka::ConnectWorker::start(kafka_env(), &env().dir, &unique("connect-ns-down"))
    })
    .expect("starting a private Connect worker");
    let ns = namespace("ns-down", &[]);
    cluster(&ns, "main", &worker.url()).apply().expect_ok();
    let name = unique("ns-down");
    let out = scratch("ns-down").join("out.txt");
    file_sink(&ns, &name, "ns-down-t", out.display())
        .apply()
        .expect_ok();
    wait_running(&ns, &name, "1/1").await;
    let c = ConnectClient::new(&shared::connect::ClientSettings::new(worker.url())).unwrap();
    assert!(listed(&c).await.contains(&name));

    tokio::task::block_in_place(|| worker.stop());
    wait_reason(&ns, &name, "False", "ClusterUnreachable").await;
    delete_namespace(&ns);

    // The connector says why it waits, in its Ready condition (events cannot be created in a namespace
    // being deleted), and the namespace names the finalizers it waits for.
    let k = wait_reason(&ns, &name, "False", "DeletionBlocked").await;
    let (_, _, message) = ready(&k);
    let prefix = format!(
        "waiting to delete connector {name:?} from Kafka Connect: DELETE /connectors/{name}: cannot connect: "
    );
    let suffix = "; set spec.deletionPolicy: Orphan to delete this KafkaConnector without it";
    assert!(
        message.starts_with(&prefix) && message.ends_with(suffix),
        "{message}"
    );
    assert!(message.contains(&worker.url()), "{message}");
    // The cluster, kept by its in-use finalizer meanwhile, says Connect cannot be reached.
    eventually("the cluster Ready=False ClusterUnreachable", T, || async {
        let r = cluster_ready(&get_cluster(&ns, "main").await.status.unwrap_or_default());
        (r.status == "False" && r.reason.as_deref() == Some("ClusterUnreachable"))
            .then_some(())
            .ok_or(format!("{r:?}"))
    })
    .await;
    let table = kubectl(&["get", "kafkaconnector", &name, "-n", &ns])
        .expect_ok()
        .stdout;
    let row = table.lines().nth(1).unwrap_or_default();
    assert!(
        row.split_whitespace().any(|c| c == "False"),
        "READY column: {table}"
    );
    let v = eventually("the namespace's finalizer condition", T, || async {
        let v = get_namespace(&ns).ok_or("namespace gone".to_string())?;
        namespace_condition(&v, "NamespaceFinalizersRemaining")
            .map(|_| v.clone())
            .ok_or(format!("{}", v["status"]))
    })
    .await;
    assert_eq!(v["status"]["phase"], "Terminating");
    assert_eq!(
        namespace_condition(&v, "NamespaceFinalizersRemaining").unwrap(),
        format!(
            "Some content in the namespace has finalizers remaining: {} in 1 resource instances, {FINALIZER} in 1 resource instances",
            controller_cluster_finalizer()
        )
    );

    // It stays so while Connect is away: the controller tries the deletion twice more meanwhile, and fails.
    wait_counter_rise(
        &shared_metrics_url(),
        "connect_warden_connect_requests_total",
        &[
            ("cluster", &format!("{ns}/main")),
            ("method", "DELETE"),
            ("path", "/connectors/{name}"),
        ],
        2.0,
    )
    .await;
    let v = get_namespace(&ns).expect("the namespace is still there");
    assert_eq!(v["status"]["phase"], "Terminating");
    assert!(get(&ns, &name).await.is_some());

    // Connect is back: the connector is deleted from it, then the namespace goes.
    tokio::task::block_in_place(|| worker.restart()).expect("restarting the worker");
    wait_namespace_gone(&ns).await;
    assert!(
        !listed(&c).await.contains(&name),
        "{name} still on the worker"
    );
    tokio::task::block_in_place(|| worker.stop());
}

/// The KafkaConnectCluster's in-use finalizer (the controller crate is not a dependency of the tests).
fn controller_cluster_finalizer() -> &'static str {
    "connectwarden.io/cluster-in-use"
}
