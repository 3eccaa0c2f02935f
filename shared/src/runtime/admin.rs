//! The plain-HTTP admin server every binary serves beside its work: `/healthz` (liveness: the process
//! answers, never depending on Kafka Connect or the API server), `/readyz` (200 or 503, from a
//! [`Readiness`]) and `/metrics` (an [`Exposition`]: a Prometheus registry, plus families that write
//! themselves in chunks, in the text format).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus::proto::MetricFamily;
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
    Exposition::from(registry.clone()).render()
}

/// Metric families too large to gather whole (a few series per connector, thousands of connectors). A
/// gather builds every series as objects with owned label strings before encoding, many times the size
/// of the text; these write their text a bounded chunk at a time instead.
pub trait ChunkedFamilies: Send + Sync {
    /// Appends the families' text exposition to `out`, e.g. with [`encode_chunk`].
    fn encode(&self, out: &mut Vec<u8>);
}

/// Appends one chunk of a family with the crate's text encoder. `continued`: an earlier chunk of the same
/// family already wrote its `# HELP` and `# TYPE` lines, which a family may carry only once. An empty
/// chunk writes nothing; the answer says whether anything was written.
pub fn encode_chunk(family: &MetricFamily, continued: bool, out: &mut Vec<u8>) -> bool {
    if family.get_metric().is_empty() {
        return false;
    }
    let start = out.len();
    if let Err(e) = TextEncoder::new().encode(std::slice::from_ref(family), out) {
        tracing::warn!(error = %e, family = family.name(), "encoding metrics");
        out.truncate(start);
        return false;
    }
    if continued {
        let mut header = 0;
        for line in out[start..].split_inclusive(|b| *b == b'\n') {
            if !line.starts_with(b"# ") {
                break;
            }
            header += line.len();
        }
        out.drain(start..start + header);
    }
    true
}

/// What `/metrics` serves: a registry, then the chunked families.
#[derive(Clone)]
pub struct Exposition {
    registry: Registry,
    chunked: Vec<Arc<dyn ChunkedFamilies>>,
    /// The size of the last text: the next one is written into a buffer that size (and a little more),
    /// not grown by doubling, which briefly holds the old and the new buffer (three times the text).
    last_len: Arc<AtomicUsize>,
}

impl From<Registry> for Exposition {
    fn from(registry: Registry) -> Exposition {
        Exposition {
            registry,
            chunked: Vec::new(),
            last_len: Arc::default(),
        }
    }
}

impl Exposition {
    pub fn with_chunked(mut self, families: Arc<dyn ChunkedFamilies>) -> Exposition {
        self.chunked.push(families);
        self
    }

    /// Everything in the Prometheus text format.
    pub fn render(&self) -> String {
        let last = self.last_len.load(Ordering::Relaxed);
        let mut buf = Vec::with_capacity(last + last / 16);
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::warn!(error = %e, "encoding metrics");
        }
        for c in &self.chunked {
            c.encode(&mut buf);
        }
        self.last_len.store(buf.len(), Ordering::Relaxed);
        String::from_utf8(buf)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

#[derive(Clone)]
struct Admin {
    metrics: Exposition,
    readiness: Readiness,
}

/// The admin routes.
pub fn router(metrics: impl Into<Exposition>, readiness: Readiness) -> Router {
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
                    a.metrics.render(),
                )
                    .into_response()
            }),
        )
        .with_state(Admin {
            metrics: metrics.into(),
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

    fn family(values: std::ops::Range<u32>) -> MetricFamily {
        use prometheus::proto::{Gauge, LabelPair, Metric, MetricType};
        let mut mf = MetricFamily::default();
        mf.set_name("widgets".into());
        mf.set_help("Widgets by \"kind\".".into());
        mf.set_field_type(MetricType::GAUGE);
        for v in values {
            let mut l = LabelPair::default();
            l.set_name("kind".into());
            l.set_value(format!("k{v}"));
            let mut m = Metric::from_label(vec![l]);
            let mut g = Gauge::default();
            g.set_value(f64::from(v));
            m.set_gauge(g);
            mf.mut_metric().push(m);
        }
        mf
    }

    #[test]
    fn a_family_written_in_chunks_is_the_family_written_whole() {
        let mut whole = Vec::new();
        assert!(encode_chunk(&family(0..5), false, &mut whole));
        let mut chunked = Vec::new();
        assert!(!encode_chunk(&family(0..0), false, &mut chunked));
        assert!(encode_chunk(&family(0..2), false, &mut chunked));
        assert!(encode_chunk(&family(2..5), true, &mut chunked));
        assert_eq!(
            String::from_utf8(chunked).unwrap(),
            String::from_utf8(whole).unwrap()
        );
    }

    #[tokio::test]
    async fn chunked_families_follow_the_registry() {
        struct Widgets;
        impl ChunkedFamilies for Widgets {
            fn encode(&self, out: &mut Vec<u8>) {
                encode_chunk(&family(0..1), false, out);
                encode_chunk(&family(1..2), true, out);
            }
        }
        let registry = Registry::new();
        let c = prometheus::IntCounter::new("things_total", "Things.").unwrap();
        registry.register(Box::new(c.clone())).unwrap();
        let metrics = Exposition::from(registry).with_chunked(Arc::new(Widgets));
        let (_, body) = get(
            router(metrics, Readiness::computed(|| true, "ok", "no")),
            "/metrics",
        )
        .await;
        assert_eq!(
            body,
            "# HELP things_total Things.\n# TYPE things_total counter\nthings_total 0\n\
             # HELP widgets Widgets by \"kind\".\n# TYPE widgets gauge\nwidgets{kind=\"k0\"} 0\nwidgets{kind=\"k1\"} 1\n"
        );
    }
}
