//! The stack's real Prometheus and Alertmanager (started by `cw-stack up --monitoring`): PromQL queries,
//! scrape targets of a test's own (private controllers), and the webhook receiver that Alertmanager
//! notifies. One receiver listens for the whole test process, at the address in the env file; every test
//! picks its own notifications out by their labels (its namespace, connector or cluster).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::Deserialize;
pub use stack::monitoring::{CONTROLLER_JOB, MonitoringEnv, WEBHOOK_JOB};

/// The stack's monitoring. Panics with the way out when the stack runs without it.
pub fn monitoring() -> &'static MonitoringEnv {
    crate::env().monitoring.as_ref().expect(
        "the stack runs without Prometheus and Alertmanager: start it with `cw-stack up --warden --monitoring` (as `make test` does)",
    )
}

/// One alert of an Alertmanager webhook notification.
#[derive(Debug, Clone, Deserialize)]
pub struct Notified {
    /// `firing` or `resolved`.
    pub status: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    #[serde(rename = "startsAt")]
    pub starts_at: String,
    #[serde(rename = "endsAt")]
    pub ends_at: String,
}

#[derive(Deserialize)]
struct Notification {
    alerts: Vec<Notified>,
}

/// Everything Alertmanager has sent to this process so far.
fn inbox() -> &'static Mutex<Vec<Notified>> {
    static INBOX: OnceLock<&'static Mutex<Vec<Notified>>> = OnceLock::new();
    INBOX.get_or_init(|| {
        let inbox: &'static Mutex<Vec<Notified>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        let addr = &monitoring().receiver_addr;
        let listener = TcpListener::bind(addr).unwrap_or_else(|e| {
            panic!(
                "listening for Alertmanager's notifications on {addr}: {e} (is another e2e run using this stack?)"
            )
        });
        // A thread of its own, not a task: each #[tokio::test] has its own runtime, which ends with it.
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                match read_notification(conn) {
                    Ok(alerts) => inbox.lock().unwrap_or_else(|e| e.into_inner()).extend(alerts),
                    Err(e) => eprintln!("alert receiver: {e}"),
                }
            }
        });
        inbox
    })
}

/// Starts the receiver (once per process). Call it before causing an alert, so no notification is missed.
pub fn start_receiver() {
    inbox();
}

/// Reads one HTTP POST of Alertmanager's webhook and answers 200.
fn read_notification(mut conn: TcpStream) -> Result<Vec<Notified>, String> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(conn.try_clone().map_err(|e| e.to_string())?);
    let mut length = 0usize;
    let mut request_line = String::new();
    reader
        .read_line(&mut request_line)
        .map_err(|e| e.to_string())?;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).map_err(|e| e.to_string())?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().map_err(|_| format!("bad header {line}"))?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).map_err(|e| e.to_string())?;
    let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    if !request_line.starts_with("POST ") {
        return Err(format!("unexpected request {}", request_line.trim_end()));
    }
    serde_json::from_slice::<Notification>(&body)
        .map(|n| n.alerts)
        .map_err(|e| format!("{e}: {}", String::from_utf8_lossy(&body)))
}

/// Waits until Alertmanager has notified `alertname` with `status` (`firing` or `resolved`) and all of
/// `labels`, and returns that alert.
pub async fn wait_notified(
    alertname: &str,
    status: &str,
    labels: &[(&str, &str)],
    timeout: Duration,
) -> Notified {
    start_receiver();
    let matches = |a: &Notified| {
        a.status == status
            && a.labels.get("alertname").map(String::as_str) == Some(alertname)
            && labels
                .iter()
                .all(|(k, v)| a.labels.get(*k).map(String::as_str) == Some(*v))
    };
    let what = format!("a {status} {alertname} notification with {labels:?}");
    crate::eventually(&what, timeout, || async {
        let inbox = inbox().lock().unwrap_or_else(|e| e.into_inner());
        inbox.iter().find(|a| matches(a)).cloned().ok_or_else(|| {
            let seen: Vec<String> = inbox
                .iter()
                .filter(|a| a.labels.get("alertname").map(String::as_str) == Some(alertname))
                .map(|a| format!("{} {:?}", a.status, a.labels))
                .collect();
            format!("{alertname} notifications so far: {seen:?}")
        })
    })
    .await
}

/// Every notification received so far for an alert with all of `labels`.
pub fn notified(labels: &[(&str, &str)]) -> Vec<Notified> {
    inbox()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|a| {
            labels
                .iter()
                .all(|(k, v)| a.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .cloned()
        .collect()
}

/// One series of an instant query's result.
#[derive(Debug, Clone, Deserialize)]
pub struct Sample {
    pub metric: BTreeMap<String, String>,
    /// `[unix time, "value"]`.
    pub value: (f64, String),
}

impl Sample {
    pub fn number(&self) -> f64 {
        self.value.1.parse().unwrap_or(f64::NAN)
    }
}

#[derive(Deserialize)]
struct QueryResponse {
    status: String,
    #[serde(default)]
    data: Option<QueryData>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct QueryData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

/// An instant query (`/api/v1/query`); an error carries Prometheus's message. Scalars come back as one
/// sample without labels.
pub async fn query(expr: &str) -> Result<Vec<Sample>, String> {
    let url = format!("{}/api/v1/query", monitoring().prometheus_url);
    let resp = reqwest::Client::new()
        .get(&url)
        .query(&[("query", expr)])
        .send()
        .await
        .map_err(|e| format!("querying {url}: {e}"))?;
    let body: QueryResponse = resp
        .json()
        .await
        .map_err(|e| format!("reading the answer to {expr}: {e}"))?;
    if body.status != "success" {
        return Err(body.error.unwrap_or(body.status));
    }
    let data = body.data.ok_or("no data")?;
    match data.result_type.as_str() {
        "vector" => serde_json::from_value(data.result).map_err(|e| e.to_string()),
        "scalar" => {
            let value: (f64, String) =
                serde_json::from_value(data.result).map_err(|e| e.to_string())?;
            Ok(vec![Sample {
                metric: BTreeMap::new(),
                value,
            }])
        }
        other => Err(format!("unexpected result type {other}")),
    }
}

/// Waits until `expr` returns at least one series, and returns them.
pub async fn wait_series(expr: &str, timeout: Duration) -> Vec<Sample> {
    crate::eventually(&format!("series for {expr}"), timeout, || async {
        let r = query(expr).await?;
        if r.is_empty() {
            Err("no series".into())
        } else {
            Ok(r)
        }
    })
    .await
}

/// Waits until Prometheus has evaluated the rule group holding the alerting rule `alert` `n` more times than
/// when called (the first evaluation may have begun before the call): whatever those evaluations would make
/// pending or firing, they have.
pub async fn wait_evaluations(alert: &str, n: u32) {
    let url = format!("{}/api/v1/rules", monitoring().prometheus_url);
    let rules: serde_json::Value = reqwest::get(&url)
        .await
        .and_then(reqwest::Response::error_for_status)
        .unwrap_or_else(|e| panic!("reading {url}: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("reading {url}: {e}"));
    let holds = |g: &&serde_json::Value| {
        g["rules"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["name"] == alert))
    };
    let group = rules["data"]["groups"]
        .as_array()
        .and_then(|groups| groups.iter().find(holds))
        .unwrap_or_else(|| panic!("no rule group holds {alert}: {rules}"));
    // Prometheus labels a group's own metrics with `<file>;<name>`.
    let key = format!(
        "{};{}",
        group["file"].as_str().unwrap_or_default(),
        group["name"].as_str().unwrap_or_default()
    );
    crate::connectors::wait_counter_rise(
        &monitoring().prometheus_url,
        "prometheus_rule_group_iterations_total",
        &[("rule_group", &key)],
        f64::from(n),
    )
    .await
}

/// A scrape target of a test's own, as the ServiceMonitor would find it: `job` (the Service's
/// `app.kubernetes.io/name`) and `namespace` (where it runs). Prometheus stops scraping it when dropped.
pub struct ScrapeTarget {
    file: PathBuf,
    pub addr: String,
}

impl ScrapeTarget {
    /// Adds `addr` (`host:port`, plain http, `/metrics`).
    pub fn add(job: &str, namespace: &str, addr: &str) -> ScrapeTarget {
        let dir = &monitoring().targets_dir;
        let id = crate::unique("target");
        let file = dir.join(format!("{id}.json"));
        let tmp = dir.join(format!("{id}.tmp"));
        let json = serde_json::json!([{
            "targets": [addr],
            "labels": {"job": job, "namespace": namespace},
        }]);
        std::fs::write(&tmp, json.to_string()).unwrap();
        // Renamed into place, so Prometheus never reads a half-written file.
        std::fs::rename(&tmp, &file).unwrap();
        ScrapeTarget {
            file,
            addr: addr.to_string(),
        }
    }
}

impl Drop for ScrapeTarget {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

/// `host:port` of an `http://host:port` URL.
pub fn host_port(url: &str) -> &str {
    url.trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/')
}

/// Polls Prometheus until `up` of the target at `addr` is `value`.
pub async fn wait_up(addr: &str, value: f64, timeout: Duration) {
    let expr = format!("up{{instance=\"{addr}\"}}");
    crate::eventually(&format!("{expr} == {value}"), timeout, || async {
        let r = query(&expr).await?;
        match r.first() {
            Some(s) if s.number() == value => Ok(()),
            Some(s) => Err(format!("up is {}", s.value.1)),
            None => Err("not scraped yet".into()),
        }
    })
    .await
}

/// How long since `start`, for log lines.
pub fn since(start: Instant) -> String {
    format!("{:.1}s", start.elapsed().as_secs_f64())
}
