//! The HTTP edges without a cluster: the envelope checks (method, content type, malformed reviews, body
//! limit), probes, and serving-certificate reloads over real TLS.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use webhook::FailurePolicy;
use webhook::server::{App, CertFiles, admission_router, probe_router, reload_certificates};

/// An App whose Kubernetes API is unreachable: enough for `/mutate`, the probes and the envelope checks.
fn app() -> Arc<App> {
    shared::tls::install_crypto_provider();
    let config = kube::Config::new("http://127.0.0.1:1".parse().unwrap());
    let kube = kube::Client::try_from(config).unwrap();
    Arc::new(App {
        world: webhook::world::World::start(kube.clone(), None),
        kube,
        clients: webhook::connect::Clients::new(Duration::from_secs(1)),
        cache: webhook::cache::ValidationCache::new(Duration::from_secs(60)),
        metrics: webhook::metrics::Metrics::new().unwrap(),
        policy: FailurePolicy::Closed,
        cert_loaded: AtomicBool::new(true),
    })
}

async fn serve_plain(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

fn mutate_review() -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "abc-123",
            "kind": {"group": "connectwarden.io", "version": "v1alpha1", "kind": "KafkaConnector"},
            "resource": {"group": "connectwarden.io", "version": "v1alpha1", "resource": "kafkaconnectors"},
            "name": "c", "namespace": "ns", "operation": "CREATE", "userInfo": {},
            "object": {"apiVersion": "connectwarden.io/v1alpha1", "kind": "KafkaConnector",
                       "metadata": {"name": "c", "namespace": "ns"},
                       "spec": {"class": "FileStreamSource", "config": {"batch.size": 5}}}
        }
    })
}

#[tokio::test]
async fn envelope_errors_are_clear_400s_and_reviews_echo_the_uid() {
    let app = app();
    let url = serve_plain(admission_router(app.clone(), 64 * 1024)).await;
    let http = reqwest::Client::new();

    let r = http.get(format!("{url}/mutate")).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.text().await.unwrap(),
        "GET is not supported: send an AdmissionReview with POST"
    );

    let r = http
        .post(format!("{url}/validate"))
        .header("Content-Type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.text().await.unwrap(),
        "Content-Type must be application/json"
    );

    let r = http
        .post(format!("{url}/validate"))
        .header("Content-Type", "application/json")
        .body("{\"apiVersion\": \"admission.k8s.io/v1\", \"kind\": \"Admiss")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .starts_with("malformed AdmissionReview: EOF while parsing")
    );

    let r = http
        .post(format!("{url}/mutate"))
        .header("Content-Type", "application/json")
        .body(vec![b' '; 128 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);

    let r = http
        .post(format!("{url}/mutate"))
        .header("Content-Type", "application/json; charset=utf-8")
        .body(serde_json::to_vec(&mutate_review()).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(v["kind"], "AdmissionReview");
    assert_eq!(v["response"]["uid"], "abc-123");
    assert_eq!(v["response"]["allowed"], true);
    assert_eq!(v["response"]["patchType"], "JSONPatch");
    assert!(
        v["response"]["warnings"][0]
            .as_str()
            .unwrap()
            .contains("batch.size: 5 → \"5\"")
    );

    let metrics = app.metrics.render();
    assert!(metrics.contains(
        "connect_warden_webhook_admission_requests_total{decision=\"patched\",operation=\"CREATE\",reason=\"mutated\",webhook=\"mutate\"} 1"
    ), "{metrics}");
}

#[tokio::test]
async fn probes_never_depend_on_connect() {
    let url = serve_plain(probe_router(app())).await;
    let r = reqwest::get(format!("{url}/healthz")).await.unwrap();
    assert_eq!(r.status(), 200);
    // The API server is unreachable: the caches cannot sync, so not ready.
    let r = reqwest::get(format!("{url}/readyz")).await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.text().await.unwrap(), "waiting for: watch caches");
    let r = reqwest::get(format!("{url}/metrics")).await.unwrap();
    assert_eq!(r.status(), 200);
}

fn tls_client(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_rustls()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()])
        .build()
        .unwrap()
}

#[tokio::test]
async fn certificates_are_reloaded_when_the_files_change() {
    let app = app();
    let dir = tempfile::tempdir().unwrap();
    let files = || CertFiles {
        cert: dir.path().join("tls.crt"),
        key: dir.path().join("tls.key"),
    };
    let write = |ca: &stack::pki::Ca| {
        let leaf = ca.server(&["127.0.0.1"]).unwrap();
        std::fs::write(dir.path().join("tls.crt"), leaf.cert_pem).unwrap();
        std::fs::write(dir.path().join("tls.key"), leaf.key_pem).unwrap();
    };
    let (ca1, ca2) = (
        stack::pki::Ca::new("first").unwrap(),
        stack::pki::Ca::new("second").unwrap(),
    );
    write(&ca1);
    let (tls, applied) = files().load().await.unwrap();
    tokio::spawn(reload_certificates(
        files(),
        tls.clone(),
        applied,
        Duration::from_millis(50),
        app.metrics.clone(),
    ));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let router = admission_router(app.clone(), 1 << 20);
    tokio::spawn(async move {
        axum_server::tls_rustls::from_tcp_rustls(listener, tls)
            .unwrap()
            .serve(router.into_make_service())
            .await
            .unwrap()
    });
    let url = format!("https://{addr}/mutate");
    let (old, new) = (tls_client(&ca1.cert_pem), tls_client(&ca2.cert_pem));
    assert_eq!(old.get(&url).send().await.unwrap().status(), 400);
    assert!(new.get(&url).send().await.is_err());

    write(&ca2);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // A fresh client: a new TLS handshake sees the new certificate.
        if tls_client(&ca2.cert_pem).get(&url).send().await.is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(tls_client(&ca1.cert_pem).get(&url).send().await.is_err());
    assert!(
        app.metrics
            .render()
            .contains("connect_warden_webhook_certificate_reloads_total{result=\"ok\"} 1")
    );
}
