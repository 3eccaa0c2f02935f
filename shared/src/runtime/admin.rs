//! The plain-HTTP admin server every binary serves beside its work: `/healthz` (liveness: the process
//! answers, never depending on Kafka Connect or the API server), `/readyz` (200 or 503, from a
//! [`Readiness`]) and `/metrics` (a Prometheus registry in the text format).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus::{Encoder, Registry, TextEncoder};

/// What `/readyz` answers: 200 with the ready text, or 503 with the waiting text.
#[derive(Clone)]
pub struct Readiness {
    check: Arc<dyn Fn() -> bool + Send + Sync>,
    ready: &'static str,
    waiting: &'static str,
}

impl Readiness {
    /// Readiness the process sets through the returned handle; not ready until it does.
    pub fn handle(ready: &'static str, waiting: &'static str) -> (Readiness, ReadyHandle) {
        let handle = ReadyHandle::default();
        let flag = handle.clone();
        (
            Readiness::computed(move || flag.is_ready(), ready, waiting),
            handle,
        )
    }

    /// Readiness worked out on each request (e.g. "have the watch caches synced?").
    pub fn computed(
        check: impl Fn() -> bool + Send + Sync + 'static,
        ready: &'static str,
        waiting: &'static str,
    ) -> Readiness {
        Readiness {
            check: Arc::new(check),
            ready,
            waiting,
        }
    }

    fn answer(&self) -> (StatusCode, &'static str) {
        if (self.check)() {
            (StatusCode::OK, self.ready)
        } else {
            (StatusCode::SERVICE_UNAVAILABLE, self.waiting)
        }
    }
}

/// Turns readiness on and off; clones share the state.
#[derive(Clone, Default)]
pub struct ReadyHandle(Arc<AtomicBool>);

impl ReadyHandle {
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::SeqCst);
    }

    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The registry's metrics in the Prometheus text format.
pub fn render(registry: &Registry) -> String {
    let mut buf = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&registry.gather(), &mut buf) {
        tracing::warn!(error = %e, "encoding metrics");
    }
    String::from_utf8_lossy(&buf).into_owned()
}

#[derive(Clone)]
struct Admin {
    registry: Registry,
    readiness: Readiness,
}

/// The admin routes.
pub fn router(registry: Registry, readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|State(a): State<Admin>| async move { a.readiness.answer() }),
        )
        .route(
            "/metrics",
            get(|State(a): State<Admin>| async move {
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    render(&a.registry),
                )
                    .into_response()
            }),
        )
        .with_state(Admin {
            registry,
            readiness,
        })
}

/// The admin server, bound to its port (binding first makes a port clash fail at start).
pub struct AdminServer {
    listener: tokio::net::TcpListener,
    router: Router,
}

impl AdminServer {
    pub async fn bind(addr: SocketAddr, router: Router) -> std::io::Result<AdminServer> {
        Ok(AdminServer {
            listener: tokio::net::TcpListener::bind(addr).await?,
            router,
        })
    }

    /// Serves until `stop` resolves, then finishes the requests in flight.
    pub async fn serve(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(stop)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(router: Router, path: &str) -> (StatusCode, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let req = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        let code = out[9..12].parse().unwrap();
        let body = out.split_once("\r\n\r\n").unwrap().1.to_string();
        (StatusCode::from_u16(code).unwrap(), body)
    }

    #[tokio::test]
    async fn readyz_follows_the_handle_and_healthz_always_answers() {
        let (readiness, handle) = Readiness::handle("ready", "caches not synced yet");
        let r = router(Registry::new(), readiness);
        assert_eq!(
            get(r.clone(), "/readyz").await,
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "caches not synced yet".into()
            )
        );
        assert_eq!(
            get(r.clone(), "/healthz").await,
            (StatusCode::OK, "ok".into())
        );
        handle.set(true);
        assert_eq!(get(r, "/readyz").await, (StatusCode::OK, "ready".into()));
    }

    #[tokio::test]
    async fn metrics_are_the_registry_in_text_format() {
        let registry = Registry::new();
        let c = prometheus::IntCounter::new("things_total", "Things.").unwrap();
        registry.register(Box::new(c.clone())).unwrap();
        c.inc();
        let r = router(registry, Readiness::computed(|| true, "ok", "no"));
        let (code, body) = get(r, "/metrics").await;
        assert_eq!(code, StatusCode::OK);
        assert!(body.contains("things_total 1"), "{body}");
    }
}
