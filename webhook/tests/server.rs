//! The HTTP edges without a cluster: the envelope checks (method, content type, malformed reviews, body
//! limit) and probes through the routers alone; over real sockets only what is about them: a connection
//! after a too-large body, how connections are accepted (`TCP_NODELAY`, HTTP/1.1), serving-certificate
//! reloads over TLS.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use webhook::FailurePolicy;
use webhook::connect::LiveConnect;
use webhook::metrics::Metrics;
use webhook::server::{
    App, CertFiles, admission_router, https_acceptor, https_server, probe_router,
    reload_certificates, tls_config,
};
use webhook::testing::{self, Review};
use webhook::watched::Watched;

/// An App whose Kubernetes API is unreachable: enough for `/mutate`, the probes and the envelope checks.
fn app() -> Arc<App> {
    shared::tls::install_crypto_provider();
    let config = kube::Config::new("http://127.0.0.1:1".parse().unwrap());
    let kube = kube::Client::try_from(config).unwrap();
    let metrics = Metrics::new().unwrap();
    Arc::new(App::new(
        Watched::start(kube, None, shared::watch::Namespaces::all()),
        LiveConnect::new(
            Duration::from_secs(1),
            Duration::from_secs(60),
            metrics.clone(),
        ),
        metrics,
        FailurePolicy::Closed,
    ))
}

async fn serve_plain(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// Sends `req` through `router` (no socket) and returns the status and the body as text.
async fn send(router: &axum::Router, req: Request<Body>) -> (StatusCode, String) {
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// A POST of `body` to `path` with `content_type`.
fn post(path: &str, content_type: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
        .unwrap()
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

async fn post_json(
    http: &reqwest::Client,
    url: String,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    http.post(url)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// A body past the 64 KiB limit the tests serve with.
fn too_large() -> Vec<u8> {
    vec![b' '; 128 * 1024]
}

fn mutate_review() -> Value {
    Review::create(testing::connector(
        "ns",
        "c",
        json!({"class": "FileStreamSource", "config": {"batch.size": 5}}),
    ))
    .uid("abc-123")
    .json()
}

#[tokio::test]
async fn envelope_errors_are_clear_400s_and_reviews_echo_the_uid() {
    let app = app();
    let router = admission_router(app.clone(), 64 * 1024);

    let (status, text) = send(&router, get("/mutate")).await;
    assert_eq!(status, 400);
    assert_eq!(
        text,
        "GET is not supported: send an AdmissionReview with POST"
    );

    let (status, text) = send(&router, post("/validate", "text/plain", "{}")).await;
    assert_eq!(status, 400);
    assert_eq!(text, "Content-Type must be application/json");

    let (status, text) = send(
        &router,
        post(
            "/validate",
            "application/json",
            "{\"apiVersion\": \"admission.k8s.io/v1\", \"kind\": \"Admiss",
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert!(text.starts_with("malformed AdmissionReview: EOF while parsing"));

    let (status, _) = send(&router, post("/mutate", "application/json", too_large())).await;
    assert_eq!(status, 413);

    let (status, text) = send(
        &router,
        post(
            "/mutate",
            "application/json; charset=utf-8",
            serde_json::to_vec(&mutate_review()).unwrap(),
        ),
    )
    .await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&text).unwrap();
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

/// Reads one HTTP/1.1 response (head and a Content-Length body) from `s`.
async fn read_response(s: &mut tokio::net::TcpStream) -> (String, String) {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = s.read(&mut chunk).await.unwrap();
                assert!(n > 0, "connection closed inside a response");
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned();
            return (head, body);
        }
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before a response");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// After a 413 the rest of the body is unread, so that connection cannot carry another request: the answer
/// must say `Connection: close`, and a keep-alive client then succeeds with its next request.
#[tokio::test]
async fn a_too_large_body_closes_the_connection_cleanly_for_keep_alive_clients() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = serve_plain(admission_router(app(), 64 * 1024)).await;
    let review = serde_json::to_vec(&mutate_review()).unwrap();

    // A pooled keep-alive client (hyper, as the API server's Go client pools too): the next review succeeds.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    for _ in 0..3 {
        let r = post_json(&http, format!("{url}/mutate"), too_large()).await;
        assert_eq!(r.status(), 413);
        assert_eq!(r.headers()["connection"], "close");
        let r = post_json(&http, format!("{url}/mutate"), review.clone()).await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.json::<Value>().await.unwrap()["response"]["uid"],
            "abc-123"
        );
    }

    // On one raw keep-alive connection: a good review, the connection is reused; a too-large one, the answer
    // says close and the server closes; a fresh connection works.
    let addr = url.strip_prefix("http://").unwrap();
    let request = |body: &[u8]| {
        let mut r = format!(
            "POST /mutate HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        r.extend_from_slice(body);
        r
    };
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    for _ in 0..2 {
        s.write_all(&request(&review)).await.unwrap();
        let (head, body) = read_response(&mut s).await;
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(!head.contains("connection: close"), "{head}");
        assert!(body.contains("abc-123"), "{body}");
    }
    s.write_all(&request(&too_large())).await.unwrap();
    let (head, _) = read_response(&mut s).await;
    assert!(head.starts_with("http/1.1 413"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest)).await;
    assert!(
        matches!(closed, Ok(Ok(_)) | Ok(Err(_))),
        "the server kept a connection it announced as closed"
    );
}

#[tokio::test]
async fn probes_never_depend_on_connect() {
    let router = probe_router(app());
    let (status, _) = send(&router, get("/healthz")).await;
    assert_eq!(status, 200);
    // The API server is unreachable: the caches cannot sync, so not ready.
    let (status, text) = send(&router, get("/readyz")).await;
    assert_eq!(status, 503);
    assert_eq!(text, "waiting for: watch caches");
    let (status, _) = send(&router, get("/metrics")).await;
    assert_eq!(status, 200);
}

/// The HTTPS acceptor sets `TCP_NODELAY` before the TLS handshake (without it a response written in pieces
/// waits for the client's delayed ACK), and the handshake settles on HTTP/1.1 even for a client that
/// offers HTTP/2 first.
#[tokio::test]
async fn accepted_connections_send_without_delay_and_speak_http_1_1() {
    use axum_server::accept::Accept;
    use rustls::pki_types::pem::PemObject;
    shared::tls::install_crypto_provider();
    let ca = stack::pki::Ca::new("nodelay").unwrap();
    let leaf = ca.server(&["127.0.0.1"]).unwrap();
    let tls = axum_server::tls_rustls::RustlsConfig::from_config(
        tls_config(leaf.cert_pem.as_bytes(), leaf.key_pem.as_bytes()).unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = tokio::task::spawn_blocking(move || {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca.cert_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let mut config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let name = "127.0.0.1".try_into().unwrap();
        let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let mut sock = std::net::TcpStream::connect(addr).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut sock).unwrap();
        }
        conn.alpn_protocol().map(<[u8]>::to_vec)
    });
    let (stream, _) = listener.accept().await.unwrap();
    assert!(!stream.nodelay().unwrap(), "accepted sockets start without");
    let (tls_stream, ()) = https_acceptor(tls).accept(stream, ()).await.unwrap();
    let (tcp, session) = tls_stream.get_ref();
    assert!(tcp.nodelay().unwrap());
    assert_eq!(session.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(client.await.unwrap().as_deref(), Some(&b"http/1.1"[..]));
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
    let (tls, applied) = files().load(&app.metrics).await.unwrap();
    assert!(
        app.metrics.cert_expiry.get() > 0,
        "the expiry of the loaded certificate is exported"
    );
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
        https_server(listener, tls)
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
