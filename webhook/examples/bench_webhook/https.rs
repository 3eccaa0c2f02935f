//! HTTPS clients of the webhook, one keep-alive connection each, and the load they send.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::Error;
use crate::figures::cpu_time;

/// One HTTPS client of the webhook: its own connection pool, kept to one keep-alive connection when it
/// sends one review at a time.
pub(crate) struct Client {
    pub(crate) http: reqwest::Client,
    pub(crate) url: String,
}

impl Client {
    pub(crate) fn new(url: &str, ca: &reqwest::Certificate) -> Result<Client, Error> {
        let http = reqwest::Client::builder()
            .tls_backend_rustls()
            .tls_certs_only([ca.clone()])
            .http1_only()
            .pool_max_idle_per_host(1)
            .tcp_nodelay(true)
            .build()?;
        Ok(Client {
            http,
            url: format!("{url}/validate"),
        })
    }

    pub(crate) async fn send_raw(&self, body: Vec<u8>) -> Result<Vec<u8>, Error> {
        let resp = self
            .http
            .post(&self.url)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if !status.is_success() {
            return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes)).into());
        }
        Ok(bytes.to_vec())
    }

    pub(crate) async fn send(&self, body: Vec<u8>) -> Result<Value, Error> {
        Ok(serde_json::from_slice(&self.send_raw(body).await?)?)
    }

    /// Sends `body` and fails unless the review is admitted. Looks for the field in the bytes rather than
    /// parsing them, to keep the load generator's share of the two cores small.
    pub(crate) async fn admit(&self, body: Vec<u8>) -> Result<(), Error> {
        let answer = self.send_raw(body).await?;
        let allowed = b"\"allowed\":true";
        if !answer.windows(allowed.len()).any(|w| w == allowed) {
            return Err(format!("not admitted: {}", String::from_utf8_lossy(&answer)).into());
        }
        Ok(())
    }
}

/// The n-th review body of client c.
pub(crate) type Bodies = Arc<dyn Fn(usize, usize) -> Vec<u8> + Send + Sync>;

/// What one load run measured: every answer's latency (sorted), the answers per second, and the CPU the
/// webhook and this load generator used in the window.
pub(crate) struct Load {
    pub(crate) sorted: Vec<Duration>,
    pub(crate) rate: f64,
    pub(crate) webhook_cpu: Duration,
    pub(crate) client_cpu: Duration,
}

/// `clients` clients, each with one keep-alive HTTPS connection, sending reviews back to back, or with
/// `every` set, each one review per `every` (an open loop, far below what the webhook can answer; a
/// latency counts from the actual send, since the timer that paces the sends is only as fine as 1 ms). Answers during `warmup` (connections opened, both sides warm) are not
/// counted; every answer begun and received within the `measure` window after it is a sample. Every review
/// must be admitted.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn load(
    webhook_pid: u32,
    url: &str,
    ca: &reqwest::Certificate,
    clients: usize,
    every: Option<Duration>,
    bodies: Bodies,
    warmup: Duration,
    measure: Duration,
) -> Result<Load, Error> {
    let t0 = Instant::now();
    let (from, to) = (t0 + warmup, t0 + warmup + measure);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let client = Client::new(url, ca)?;
        let bodies = bodies.clone();
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            // Paced clients start spread over one interval.
            let mut due = every.map(|e| t0 + e.mul_f64(c as f64 / clients as f64));
            for n in 0.. {
                let body = bodies(c, n);
                if let (Some(d), Some(e)) = (due.as_mut(), every) {
                    tokio::time::sleep_until((*d).into()).await;
                    *d += e;
                }
                let started = Instant::now();
                if started >= to {
                    break;
                }
                client.admit(body).await?;
                let done = Instant::now();
                if started >= from && done <= to {
                    samples.push(done - started);
                }
            }
            Ok::<_, Error>(samples)
        }));
    }
    let me = std::process::id();
    tokio::time::sleep_until(from.into()).await;
    let (w0, c0) = (cpu_time(webhook_pid), cpu_time(me));
    tokio::time::sleep_until(to.into()).await;
    let (w1, c1) = (cpu_time(webhook_pid), cpu_time(me));
    let mut sorted = Vec::new();
    for t in tasks {
        sorted.extend(t.await??);
    }
    sorted.sort();
    let rate = sorted.len() as f64 / measure.as_secs_f64();
    Ok(Load {
        sorted,
        rate,
        webhook_cpu: w1.saturating_sub(w0),
        client_cpu: c1.saturating_sub(c0),
    })
}
