//! `make bench-webhook`: the webhook's speed on the real local stack (a running `cw-stack`, found through
//! `$CW_STACK_ENV`). Starts its own webhook from `$CW_BIN_DIR` (use a release build), registers it for a
//! private namespace, and prints (`--api-server-only`: the first two):
//! - the admission pipeline alone (`admission::review` in this process, objects and Connect's answer in
//!   memory): p50/p99;
//! - KafkaConnector creates through the real API server at 1, 10 and 50 clients, with the webhook and without
//!   (a namespace it does not review) side by side: p50, p99 and creates/s for a config validated before
//!   (under another name) and for a new config each time, beside Kafka Connect's own validate called
//!   directly at the same rate; where the time goes (the API server's and the webhook's latency metrics,
//!   each process's CPU per create), and the targets;
//! - under concurrency: p50/p99 and reviews/s with 1, 16 and 64 clients, each one keep-alive HTTPS
//!   connection sending back to back, on the local path (no Connect call: a spec-unchanged UPDATE, and a
//!   validation-cache hit) and on the Connect path (every review a config Connect has not seen);
//! - the Connect path: the webhook's added latency over calling the same validate endpoint directly, side by
//!   side in one run;
//! - GitOps re-sync: how many Connect validate calls 100 identical `kubectl apply --dry-run=server` cause;
//! - KafkaConnectorPolicies: the local path for connectors that 0, 10 and 100 policies match, their reviews
//!   alternating in one run (so the machine's noise hits each alike); the evaluation alone, without and
//!   with the decision memo (in process), and compiling a 100-rule schema.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::connect::{ClientSettings, ConnectClient};
use stack::{metrics_text, warden};
use webhook::FailurePolicy;
use webhook::admission::{self, Objects, Webhook};
use webhook::testing::{self, FixedConnect, Review, block_on};

const WARMUP: usize = 200;
const LATENCY_SAMPLES: usize = 5_000;
/// Concurrent clients, each one keep-alive HTTPS connection sending back to back.
const CLIENTS: [usize; 3] = [1, 16, 64];
const LOAD_WARMUP: Duration = Duration::from_millis(700);
const LOAD_LOCAL: Duration = Duration::from_secs(3);
const LOAD_CONNECT: Duration = Duration::from_secs(4);
/// The paced run: 64 clients sending this many reviews per second in total.
const PACED_RATE: u32 = 2_000;
/// The local path's p99 target at 64 clients.
const TARGET_P99: Duration = Duration::from_millis(2);
/// Policies on the local path: rounds, the quiet time after the policies are applied, the warm-up and the
/// samples per case and round.
const POLICY_ROUNDS: usize = 3;
const POLICY_SETTLE: Duration = Duration::from_secs(2);
const POLICY_WARMUP: usize = 1_000;
const POLICY_SAMPLES: usize = 10_000;
/// The policies target: 10 matching policies add at most this to the local path's p99.
const POLICY_TARGET_PCT: f64 = 10.0;
const CONNECT_SAMPLES: usize = 200;
const DRY_RUNS: usize = 100;
const COMPILES: usize = 50;
const EVALUATIONS: usize = 2_000;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn review(op: &'static str, object: &Value, old: Option<&Value>, uid: usize) -> Vec<u8> {
    Review::new(op, Some(object.clone()), old.cloned())
        .uid(format!("bench-{uid}"))
        .user("bench")
        .body()
}

fn connector(ns: &str, name: &str, topic: &str) -> Value {
    let mut c = testing::connector(
        ns,
        name,
        json!({
            "clusterRef": {"name": "local"},
            "class": "FileStreamSource",
            "tasksMax": 1,
            "config": {"topic": topic, "file": "/tmp/bench.txt"}
        }),
    );
    c["metadata"]["labels"] = json!({"app": "bench"});
    c
}

/// One HTTPS client of the webhook: its own connection pool, kept to one keep-alive connection when it
/// sends one review at a time.
struct Client {
    http: reqwest::Client,
    url: String,
}

impl Client {
    fn new(url: &str, ca: &reqwest::Certificate) -> Result<Client, Error> {
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

    async fn send_raw(&self, body: Vec<u8>) -> Result<Vec<u8>, Error> {
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

    async fn send(&self, body: Vec<u8>) -> Result<Value, Error> {
        Ok(serde_json::from_slice(&self.send_raw(body).await?)?)
    }

    /// Sends `body` and fails unless the review is admitted. Looks for the field in the bytes rather than
    /// parsing them, to keep the load generator's share of the two cores small.
    async fn admit(&self, body: Vec<u8>) -> Result<(), Error> {
        let answer = self.send_raw(body).await?;
        let allowed = b"\"allowed\":true";
        if !answer.windows(allowed.len()).any(|w| w == allowed) {
            return Err(format!("not admitted: {}", String::from_utf8_lossy(&answer)).into());
        }
        Ok(())
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// CPU time a process has used so far (its threads' time on a CPU, from `/proc`), or zero where that is
/// not readable. CPU per review does not depend on what else shares the cores, unlike latency.
fn cpu_time(pid: u32) -> Duration {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten();
    let ns: u64 = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(ns)
}

/// CPU per review, in µs.
fn per_review(cpu: Duration, reviews: usize) -> f64 {
    cpu.as_secs_f64() * 1e6 / reviews.max(1) as f64
}

/// The n-th review body of client c.
type Bodies = Arc<dyn Fn(usize, usize) -> Vec<u8> + Send + Sync>;

/// What one load run measured: every answer's latency (sorted), the answers per second, and the CPU the
/// webhook and this load generator used in the window.
struct Load {
    sorted: Vec<Duration>,
    rate: f64,
    webhook_cpu: Duration,
    client_cpu: Duration,
}

/// `clients` clients, each with one keep-alive HTTPS connection, sending reviews back to back, or with
/// `every` set, each one review per `every` (an open loop, far below what the webhook can answer; a
/// latency counts from the actual send, since the timer that paces the sends is only as fine as 1 ms). Answers during `warmup` (connections opened, both sides warm) are not
/// counted; every answer begun and received within the `measure` window after it is a sample. Every review
/// must be admitted.
#[allow(clippy::too_many_arguments)]
async fn load(
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

/// The admission pipeline alone, in this process: `admission::review` of `body` with the cluster in memory
/// and Kafka Connect answering at once. What the HTTPS numbers add to it is transport and the server.
fn in_process(ns: &str, label: &str, body: &[u8]) -> Result<(), Error> {
    let mut objects = Objects::default();
    objects.add_cluster(serde_json::from_value(testing::cluster(
        ns,
        "local",
        json!({"url": "http://127.0.0.1:8083"}),
    ))?);
    let connect = FixedConnect::new(testing::validated(
        &[("topic", "STRING"), ("file", "STRING")],
        &[],
    ));
    let run = || {
        block_on(admission::review(
            Webhook::Validate,
            body,
            &objects,
            &connect,
            FailurePolicy::Closed,
        ))
    };
    for _ in 0..WARMUP {
        run()?;
    }
    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    for _ in 0..LATENCY_SAMPLES {
        let t = Instant::now();
        let r = run()?;
        samples.push(t.elapsed());
        assert!(r.decision.allowed, "{:?}", r.decision);
    }
    samples.sort();
    println!(
        "  {label:<34} p50 {}  p99 {}  ({} sequential)",
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.99)),
        LATENCY_SAMPLES
    );
    Ok(())
}

async fn metric_sum(metrics_url: &str, name: &str) -> Result<f64, Error> {
    let text = reqwest::get(format!("{metrics_url}/metrics"))
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

/// A bench policy: rules a platform team writes (a task cap, a name prefix, allowed classes, a required key,
/// a transforms allow-list), all satisfied by the bench connectors, for the namespaces `namespace_selector`
/// selects. With `probe`, it also refuses `config.probe` other than `ok`, so a probe shows when the
/// webhook has it.
fn policy_json(i: usize, namespace_selector: Value, probe: bool) -> Value {
    let mut config = json!({
        "required": ["topic"],
        "properties": {"topic": {"maxLength": 200}},
        "patternProperties": {"^transforms\\.[^.]+\\.type$": {"enum": [
            "org.apache.kafka.connect.transforms.InsertField$Value",
            "org.apache.kafka.connect.transforms.TimestampRouter"]}}
    });
    if probe {
        config["properties"]["probe"] = json!({"const": "ok"});
    }
    json!({
        "apiVersion": "connectwarden.io/v1alpha1",
        "kind": "KafkaConnectorPolicy",
        "metadata": {"name": format!("bench-policy-{i:03}")},
        "spec": {
            "match": {"namespaceSelector": namespace_selector},
            "action": "Deny",
            "schema": {"properties": {
                "tasksMax": {"maximum": 8},
                "name": {"pattern": "^bench-"},
                "class": {"enum": ["FileStreamSource", "FileStreamSink"]},
                "config": config
            }},
            "message": "bench rule {policy}"
        }
    })
}

/// The label saying how many bench policies select a namespace.
const TIER_LABEL: &str = "bench.connectwarden.io/policies";

/// A namespace served by the bench webhook alone (`label`), selected by `policies` bench policies, with a
/// KafkaConnectCluster `local`.
fn namespace_yaml(ns: &str, label: &str, policies: usize, connect_url: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n  labels: {{{}: \"{label}\", {TIER_LABEL}: \"{policies}\"}}\n---\n\
         apiVersion: connectwarden.io/v1alpha1\nkind: KafkaConnectCluster\nmetadata: {{name: local, namespace: {ns}}}\n\
         spec: {{url: \"{connect_url}\"}}\n",
        warden::PRIVATE_LABEL,
    )
}

/// Waits until each `(probe review, text)` is denied with `text` in its message.
async fn wait_enforced(client: &Client, probes: &[(Vec<u8>, String)]) -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(60);
    for (body, want) in probes {
        loop {
            let v = client.send(body.clone()).await?;
            if v["response"]["status"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(want.as_str()))
            {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("the webhook does not enforce the bench policies: {v}").into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

/// Policy evaluation alone, in process and without the decision memo: `n` compiled bench policies against
/// one connector view; and the compilation of a 100-rule schema.
fn policy_costs(ns: &str) -> Result<(), Error> {
    use shared::crd::KafkaConnectorPolicy;
    use shared::policy::{ConnectorView, Context, PolicySet, compile, compile_schema, evaluate};
    let connector: shared::crd::KafkaConnector =
        serde_json::from_value(connector(ns, "bench-eval", "bench-eval"))?;
    let view = ConnectorView::of(&connector, None);
    let labels = std::collections::BTreeMap::from([("k".to_string(), "v".to_string())]);
    let cx = Context {
        namespace_labels: Some(&labels),
        cluster: None,
    };
    for n in [1, 10, 100] {
        let compiled: Vec<Arc<shared::policy::Compiled>> = (0..n)
            .map(|i| {
                let p: KafkaConnectorPolicy = serde_json::from_value(policy_json(
                    i,
                    json!({"matchLabels": {"k": "v"}}),
                    i + 1 == n,
                ))?;
                compile(&p)
                    .map(Arc::new)
                    .map_err(|e| Error::from(e.join("; ")))
            })
            .collect::<Result<_, Error>>()?;
        let mut samples = Vec::with_capacity(EVALUATIONS);
        for _ in 0..EVALUATIONS {
            let t = Instant::now();
            let e = evaluate(&compiled, &view, cx);
            samples.push(t.elapsed());
            assert!(e.violations.is_empty(), "{e:?}");
            assert_eq!(e.matched.len(), n);
        }
        samples.sort();
        println!(
            "  evaluate {n:>3} matching policies (no memo) p50 {}  p99 {}  ({EVALUATIONS} evaluations)",
            us(percentile(&samples, 0.5)),
            us(percentile(&samples, 0.99))
        );
        // What admission does per review: the connector's view, then the memo (a repeat is a hit).
        let set = PolicySet::new(compiled, Default::default());
        set.evaluate_connector(&connector, cx);
        let mut samples = Vec::with_capacity(EVALUATIONS);
        for _ in 0..EVALUATIONS {
            let t = Instant::now();
            let e = set.evaluate_connector(&connector, cx);
            samples.push(t.elapsed());
            assert_eq!(e.matched.len(), n);
        }
        samples.sort();
        println!(
            "  evaluate {n:>3} matching policies (memo hit) p50 {}  p99 {}  ({EVALUATIONS} evaluations)",
            us(percentile(&samples, 0.5)),
            us(percentile(&samples, 0.99))
        );
    }
    // 100 rules over config keys, of the kinds policies use.
    let mut props = serde_json::Map::new();
    for i in 0..100 {
        let rule = match i % 4 {
            0 => json!({"pattern": format!("^[a-z0-9.-]{{1,{}}}$", 50 + i)}),
            1 => json!({"enum": [format!("v{i}"), "all", "none"]}),
            2 => json!({"maxLength": 100 + i}),
            _ => json!({"not": {"const": format!("forbidden-{i}")}}),
        };
        props.insert(format!("key.{i}"), rule);
    }
    let schema = json!({"properties": {"config": {"properties": props}}});
    let mut samples = Vec::with_capacity(COMPILES);
    for _ in 0..COMPILES {
        let t = Instant::now();
        compile_schema(&schema)?;
        samples.push(t.elapsed());
    }
    samples.sort();
    println!(
        "  compile a 100-rule schema              p50 {}  p99 {}  ({COMPILES} compilations; once per policy generation)",
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.99))
    );
    Ok(())
}

/// Concurrent clients creating KafkaConnectors through the API server.
const API_CLIENTS: [usize; 3] = [1, 10, 50];
/// Rounds per case and client count; each round measures with the webhook, without it, and (for new
/// configs) Connect's validate called directly, one after the other, so the machine's noise hits each alike.
const API_ROUNDS: usize = 3;
const API_WARMUP: Duration = Duration::from_millis(500);
const API_MEASURE: Duration = Duration::from_secs(3);
/// The targets: the webhook's added p50 for a config validated before, added p50 beyond Connect's own
/// validate for a new config, added p99 at one client, and create throughput kept (config validated before).
const TARGET_HIT_P50: Duration = Duration::from_millis(1);
const TARGET_MISS_P50_OVER_CONNECT: Duration = Duration::from_millis(1);
const TARGET_P99_AT_1: Duration = Duration::from_millis(5);
const TARGET_THROUGHPUT: f64 = 0.8;

/// The processes whose CPU time a create costs, read from `/proc` around each measured window.
struct Processes {
    names: Vec<&'static str>,
    pids: Vec<u32>,
}

impl Processes {
    /// Each process's CPU time so far, then the whole machine's.
    fn cpu(&self) -> Vec<Duration> {
        let mut out: Vec<Duration> = self.pids.iter().map(|p| cpu_time(*p)).collect();
        out.push(machine_busy());
        out
    }
}

/// The CPU time all processes on the machine have used so far (`/proc/stat`, in USER_HZ ticks of 10 ms),
/// or zero where that is not readable: what the other processes sharing the cores took is the machine's
/// time less ours.
fn machine_busy() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("cpu "))
        .map(|l| {
            l.split_whitespace()
                .filter_map(|v| v.parse::<u64>().ok())
                .enumerate()
                // user nice system idle iowait irq softirq steal: all but idle and iowait.
                .filter(|(i, _)| ![3, 4].contains(i) && *i < 8)
                .map(|(_, v)| v)
                .sum()
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// What one closed loop measured: the latencies of the calls begun and answered within the window, the
/// window's length, and the CPU time each of the processes used in it.
struct Window {
    samples: Vec<Duration>,
    secs: f64,
    cpu: Vec<Duration>,
}

/// One measured side (with the webhook, without it, Connect directly), summed over its rounds.
#[derive(Default)]
struct Side {
    sorted: Vec<Duration>,
    secs: f64,
    cpu: Vec<Duration>,
}

impl Side {
    fn add(&mut self, w: Window) {
        self.sorted.extend(w.samples);
        self.sorted.sort();
        self.secs += w.secs;
        self.cpu.resize(w.cpu.len(), Duration::ZERO);
        for (acc, c) in self.cpu.iter_mut().zip(w.cpu) {
            *acc += c;
        }
    }
    fn p(&self, q: f64) -> Duration {
        percentile(&self.sorted, q)
    }
    fn rate(&self) -> f64 {
        self.sorted.len() as f64 / self.secs.max(f64::EPSILON)
    }
    /// CPU milliseconds per call of each process.
    fn cpu_per_call(&self) -> Vec<f64> {
        let ours = self.cpu.len().saturating_sub(1);
        self.cpu[..ours]
            .iter()
            .map(|c| c.as_secs_f64() * 1000.0 / self.sorted.len().max(1) as f64)
            .collect()
    }
    /// The share of the machine's cores that processes other than ours used.
    fn others_busy(&self) -> f64 {
        let Some((machine, ours)) = self.cpu.split_last() else {
            return 0.0;
        };
        let ours: Duration = ours.iter().sum();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        machine.saturating_sub(ours).as_secs_f64() / self.secs.max(f64::EPSILON) / cores
    }
}

/// `clients` tasks each calling `op(client, n)` back to back (a closed loop), or with `every`, each at most
/// one call per `every` (their starts spread over one interval); the calls begun and answered within
/// [`API_MEASURE`] after [`API_WARMUP`] are the samples.
async fn closed_loop<F, Fut>(
    clients: usize,
    every: Option<Duration>,
    procs: &Processes,
    op: F,
) -> Result<Window, Error>
where
    F: Fn(usize, usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), Error>> + Send,
{
    let t0 = Instant::now();
    let (from, to) = (t0 + API_WARMUP, t0 + API_WARMUP + API_MEASURE);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut due = every.map(|e| t0 + e.mul_f64(c as f64 / clients as f64));
            for n in 0.. {
                if let (Some(d), Some(e)) = (due.as_mut(), every) {
                    tokio::time::sleep_until((*d).into()).await;
                    *d += e;
                }
                let started = Instant::now();
                if started >= to {
                    break;
                }
                op(c, n).await?;
                let done = Instant::now();
                if started >= from && done <= to {
                    samples.push(done - started);
                }
            }
            Ok::<_, Error>(samples)
        }));
    }
    tokio::time::sleep_until(from.into()).await;
    let before = procs.cpu();
    tokio::time::sleep_until(to.into()).await;
    let cpu = procs
        .cpu()
        .into_iter()
        .zip(before)
        .map(|(a, b)| a.saturating_sub(b))
        .collect();
    let mut samples = Vec::new();
    for t in tasks {
        samples.extend(t.await??);
    }
    Ok(Window {
        samples,
        secs: API_MEASURE.as_secs_f64(),
        cpu,
    })
}

/// Where a create's time goes with the webhook, as sums and counts read from the API server's and the
/// webhook's metrics around the measured rounds.
#[derive(Default, Clone, Copy)]
struct Breakdown {
    /// The API server's view of each webhook call (`apiserver_admission_webhook_admission_duration_seconds`):
    /// /mutate, /validate, as (sum of seconds, count).
    api_mutate: (f64, f64),
    api_validate: (f64, f64),
    /// The time inside the webhook (`connect_warden_webhook_admission_duration_seconds`).
    in_mutate: (f64, f64),
    in_validate: (f64, f64),
    /// The webhook's Kafka Connect validate calls.
    connect: (f64, f64),
}

impl Breakdown {
    async fn read(kube: &kube::Client, webhook_metrics: &str) -> Result<Breakdown, Error> {
        let api = kube
            .request_text(axum::http::Request::get("/metrics").body(Vec::new())?)
            .await?;
        let hook = reqwest::get(format!("{webhook_metrics}/metrics"))
            .await?
            .text()
            .await?;
        let pair = |text: &str, name: &str, labels: &[(&str, &str)]| {
            (
                metrics_text::sum(text, &format!("{name}_sum"), labels),
                metrics_text::sum(text, &format!("{name}_count"), labels),
            )
        };
        let api_name = "apiserver_admission_webhook_admission_duration_seconds";
        let in_name = "connect_warden_webhook_admission_duration_seconds";
        Ok(Breakdown {
            api_mutate: pair(&api, api_name, &[("name", "mutate.connectwarden.io")]),
            api_validate: pair(&api, api_name, &[("name", "validate.connectwarden.io")]),
            in_mutate: pair(&hook, in_name, &[("webhook", "mutate")]),
            in_validate: pair(&hook, in_name, &[("webhook", "validate")]),
            connect: pair(
                &hook,
                "connect_warden_webhook_connect_validate_duration_seconds",
                &[],
            ),
        })
    }

    /// `self` plus what happened between `before` and `after`.
    fn add(&mut self, before: &Breakdown, after: &Breakdown) {
        let d = |a: (f64, f64), b: (f64, f64), acc: &mut (f64, f64)| {
            acc.0 += a.0 - b.0;
            acc.1 += a.1 - b.1;
        };
        d(after.api_mutate, before.api_mutate, &mut self.api_mutate);
        d(
            after.api_validate,
            before.api_validate,
            &mut self.api_validate,
        );
        d(after.in_mutate, before.in_mutate, &mut self.in_mutate);
        d(after.in_validate, before.in_validate, &mut self.in_validate);
        d(after.connect, before.connect, &mut self.connect);
    }

    fn line(&self) -> String {
        let mean = |(s, n): (f64, f64)| {
            if n > 0.0 {
                format!("{:.2} ms", s / n * 1000.0)
            } else {
                "-".into()
            }
        };
        format!(
            "means: API server → /mutate {} (in the webhook {}), → /validate {} (in the webhook {}); \
             Kafka Connect calls per /validate {:.2}, {} each",
            mean(self.api_mutate),
            mean(self.in_mutate),
            mean(self.api_validate),
            mean(self.in_validate),
            self.connect.1 / self.in_validate.1.max(1.0),
            mean(self.connect),
        )
    }
}

/// A Kubernetes client as the stack's admin, with its own connection.
async fn kube_client(kube: &stack::kube::KubeEnv) -> Result<kube::Client, Error> {
    let kubeconfig = kube::config::Kubeconfig::read_from(&kube.kubeconfig)?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    Ok(kube::Client::try_from(config)?)
}

fn connectors_in(client: &kube::Client, ns: &str) -> kube::Api<kube::api::DynamicObject> {
    let ar = kube::api::ApiResource::erase::<shared::crd::KafkaConnector>(&());
    kube::Api::namespaced_with(client.clone(), ns, &ar)
}

/// Creates KafkaConnectors in `ns` from `clients` clients back to back: the n-th of client c is named
/// `{tag}-{c}-{n}`, with the topic `topic(c, n)`. Every create must succeed.
async fn creates(
    clients: &Arc<Vec<kube::Client>>,
    n_clients: usize,
    procs: &Processes,
    ns: &str,
    tag: String,
    topic: Arc<dyn Fn(usize, usize) -> String + Send + Sync>,
) -> Result<Window, Error> {
    let (clients, ns) = (clients.clone(), ns.to_string());
    closed_loop(n_clients, None, procs, move |c, n| {
        let api = connectors_in(&clients[c], &ns);
        let obj = connector(&ns, &format!("{tag}-{c}-{n}"), &topic(c, n));
        async move {
            let obj: kube::api::DynamicObject = serde_json::from_value(obj)?;
            api.create(&Default::default(), &obj).await?;
            Ok(())
        }
    })
    .await
}

/// Connect's validate called directly by `n_clients` clients, each call a config not seen before, at
/// `rate` calls per second in all: Connect answers a busy caller faster than one that leaves it idle
/// between calls, so the yardstick runs at the rate the creates with the webhook asked it.
async fn direct_validates(
    connect: &Arc<Vec<ConnectClient>>,
    n_clients: usize,
    rate: f64,
    procs: &Processes,
    tag: String,
) -> Result<Window, Error> {
    let connect = connect.clone();
    let every = Duration::from_secs_f64(n_clients as f64 / rate.max(1.0));
    closed_loop(n_clients, Some(every), procs, move |c, n| {
        let client = connect[c].clone();
        let topic = format!("{tag}-{c}-{n}");
        async move {
            let flat = shared::config::effective_config(
                &format!("direct-{c}-{n}"),
                "FileStreamSource",
                Some(1),
                &[("topic", topic.as_str()), ("file", "/tmp/bench.txt")]
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .into(),
            );
            let v = client.validate("FileStreamSource", &flat).await?;
            if v.error_count > 0 {
                return Err(format!("Connect found errors: {:?}", v.errors()).into());
            }
            Ok(())
        }
    })
    .await
}

/// Deletes every KafkaConnector in `ns` (between rounds, so the stores stay small and alike).
async fn clear(client: &kube::Client, ns: &str) -> Result<(), Error> {
    connectors_in(client, ns)
        .delete_collection(&Default::default(), &Default::default())
        .await?;
    Ok(())
}

fn over(with: Duration, without: Duration) -> String {
    let d = with.as_secs_f64() - without.as_secs_f64();
    format!("{:+.1} ms", d * 1000.0)
}

/// What the creates of a case share: one config validated before (under another name), or a new one each.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Case {
    Validated,
    New,
}

impl Case {
    fn tag(self) -> &'static str {
        match self {
            Case::Validated => "a",
            Case::New => "b",
        }
    }
    fn tag_paren(self) -> &'static str {
        match self {
            Case::Validated => "(a)",
            Case::New => "(b)",
        }
    }
    fn label(self) -> &'static str {
        match self {
            Case::Validated => "(a) config validated before",
            Case::New => "(b) new config each time",
        }
    }
}

/// One case at one number of clients.
struct Row {
    case: Case,
    clients: usize,
    with: Side,
    without: Side,
    /// Connect's validate called directly (case (b) only).
    direct: Side,
    breakdown: Breakdown,
}

impl Row {
    /// Creates per second with the webhook over those without it.
    fn ratio(&self) -> f64 {
        self.with.rate() / self.without.rate()
    }
}

/// KafkaConnector creates through the real API server, with the webhook (a namespace it reviews) and
/// without (one it does not), as Kyverno publishes its figures: (a) a config already validated (under
/// another name), (b) a new config each time, beside Kafka Connect's own validate.
async fn through_api_server(
    env: &stack::StackEnv,
    reviewed: &str,
    plain: &str,
    webhook: &warden::Webhook,
) -> Result<(), Error> {
    let kube = env
        .kube
        .as_ref()
        .ok_or("the stack runs without Kubernetes")?;
    let connect_url = &env
        .kafka
        .as_ref()
        .ok_or("the stack runs without Kafka")?
        .connect_url;
    let webhook_metrics = &webhook.metrics_url();
    let pid = |name: &str| {
        env.processes
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.pid)
            .ok_or(format!("the stack has no {name}"))
    };
    let procs = Processes {
        names: vec!["API server", "etcd", "webhook", "Connect", "this client"],
        pids: vec![
            pid("kube-apiserver")?,
            pid("etcd")?,
            webhook.pid().ok_or("the webhook has exited")?,
            pid("connect")?,
            std::process::id(),
        ],
    };
    let max = API_CLIENTS.iter().copied().max().unwrap_or(1);
    let mut kubes = Vec::new();
    let mut connects = Vec::new();
    for _ in 0..max {
        kubes.push(kube_client(kube).await?);
        connects.push(ConnectClient::new(&ClientSettings::new(
            connect_url.to_string(),
        ))?);
    }
    let (kubes, connects) = (Arc::new(kubes), Arc::new(connects));
    let admin = kubes[0].clone();
    let run = std::process::id();
    let mut rows = Vec::new();
    for clients in API_CLIENTS {
        for case in [Case::Validated, Case::New] {
            let mut row = Row {
                case,
                clients,
                with: Side::default(),
                without: Side::default(),
                direct: Side::default(),
                breakdown: Breakdown::default(),
            };
            for round in 0..API_ROUNDS {
                let mut with_rate = 0.0;
                // The order alternates, so neither side always runs right after a clean-up.
                let mut sides = [(true, reviewed), (false, plain)];
                if round % 2 == 1 {
                    sides.reverse();
                }
                for (reviewed, ns) in sides {
                    let tag = format!(
                        "{}{clients}-{}{round}",
                        case.tag(),
                        if reviewed { "w" } else { "o" }
                    );
                    let topic: Arc<dyn Fn(usize, usize) -> String + Send + Sync> = match case {
                        // One config for every create of the run, whatever the name.
                        Case::Validated => Arc::new(move |_, _| format!("bench-a-{run}")),
                        Case::New => {
                            let tag = tag.clone();
                            Arc::new(move |c, n| format!("bench-b-{run}-{tag}-{c}-{n}"))
                        }
                    };
                    let before = Breakdown::read(&admin, webhook_metrics).await?;
                    let window = creates(&kubes, clients, &procs, ns, tag, topic).await?;
                    if reviewed {
                        with_rate = window.samples.len() as f64 / window.secs;
                        let after = Breakdown::read(&admin, webhook_metrics).await?;
                        row.breakdown.add(&before, &after);
                        row.with.add(window);
                    } else {
                        row.without.add(window);
                    }
                    clear(&admin, ns).await?;
                }
                if case == Case::New {
                    let window = direct_validates(
                        &connects,
                        clients,
                        with_rate,
                        &procs,
                        format!("direct-{run}-{clients}-{round}"),
                    )
                    .await?;
                    row.direct.add(window);
                }
            }
            if row.with.sorted.is_empty()
                || row.without.sorted.is_empty()
                || (case == Case::New && row.direct.sorted.is_empty())
            {
                return Err(format!(
                    "{} at {clients} clients: no create finished in time",
                    case.label()
                )
                .into());
            }
            rows.push(row);
        }
    }

    println!(
        "through the API server: KafkaConnector creates with unique names, each client its own connection, \
         back to back, with the webhook (a namespace it reviews) and without (one it does not; same objects), \
         {API_ROUNDS} alternating rounds of {} s each; (a) one config for every create, validated before under \
         another name, (b) a new config each time; Connect: its validate called directly, a new config each \
         time, at the rate of (b)'s creates with the webhook:",
        API_MEASURE.as_secs()
    );
    println!(
        "  {:<28} {:>7} {:>24} {:>24} {:>17} {:>9} {:>9} {:>10}",
        "case",
        "clients",
        "p50 with / without",
        "p99 with / without",
        "creates/s w / w/o",
        "added p50",
        "added p99",
        "throughput"
    );
    for r in &rows {
        println!(
            "  {:<28} {:>7} {:>24} {:>24} {:>17} {:>9} {:>9} {:>9.0}%",
            r.case.label(),
            r.clients,
            format!("{} / {}", ms(r.with.p(0.5)), ms(r.without.p(0.5))),
            format!("{} / {}", ms(r.with.p(0.99)), ms(r.without.p(0.99))),
            format!("{:.0} / {:.0}", r.with.rate(), r.without.rate()),
            over(r.with.p(0.5), r.without.p(0.5)),
            over(r.with.p(0.99), r.without.p(0.99)),
            r.ratio() * 100.0,
        );
        if r.case == Case::New {
            println!(
                "  {:<28} {:>7} {:>24} {:>24} {:>17}",
                "Connect validate, directly",
                r.clients,
                ms(r.direct.p(0.5)),
                ms(r.direct.p(0.99)),
                format!("{:.0}/s", r.direct.rate()),
            );
        }
    }
    println!("  where the time goes, with the webhook:");
    for r in &rows {
        println!(
            "    {} at {}: {}",
            r.case.label(),
            r.clients,
            r.breakdown.line()
        );
        let cpu: Vec<String> = procs
            .names
            .iter()
            .zip(r.with.cpu_per_call().iter().zip(r.without.cpu_per_call()))
            .map(|(name, (w, o))| format!("{name} {w:.2} / {o:.2}"))
            .collect();
        println!(
            "      CPU ms per create with / without the webhook: {}; other processes on the machine \
             busy {:.0}% / {:.0}% of its cores",
            cpu.join(", "),
            r.with.others_busy() * 100.0,
            r.without.others_busy() * 100.0,
        );
    }
    let met = |ok: bool| if ok { "met" } else { "NOT met" };
    let mut verdicts = Vec::new();
    for r in &rows {
        let (p50_over, p99_over) = (
            r.with.p(0.5).saturating_sub(r.without.p(0.5)),
            r.with.p(0.99).saturating_sub(r.without.p(0.99)),
        );
        let clients = r.clients;
        match r.case {
            Case::Validated => verdicts.push(format!(
                "(a) at {clients:>2}: added p50 {} ≤ {}: {}; creates/s {:.0}% of without ≥ {:.0}%: {}",
                ms(p50_over),
                ms(TARGET_HIT_P50),
                met(p50_over <= TARGET_HIT_P50),
                r.ratio() * 100.0,
                TARGET_THROUGHPUT * 100.0,
                met(r.ratio() >= TARGET_THROUGHPUT),
            )),
            Case::New => verdicts.push(format!(
                "(b) at {clients:>2}: added p50 {} ≤ Connect's validate p50 {} + {}: {}",
                ms(p50_over),
                ms(r.direct.p(0.5)),
                ms(TARGET_MISS_P50_OVER_CONNECT),
                met(p50_over <= r.direct.p(0.5) + TARGET_MISS_P50_OVER_CONNECT),
            )),
        }
        if clients == 1 {
            verdicts.push(format!(
                "{} at  1: added p99 {} ≤ {}: {}",
                r.case.tag_paren(),
                ms(p99_over),
                ms(TARGET_P99_AT_1),
                met(p99_over <= TARGET_P99_AT_1),
            ));
        }
    }
    println!("  targets (clients):");
    for v in verdicts {
        println!("    {v}");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::tls::install_crypto_provider();
    let env = stack::StackEnv::from_env()?;
    let kube = env
        .kube
        .clone()
        .ok_or("the stack runs without Kubernetes")?;
    let kafka = env.kafka.clone().ok_or("the stack runs without Kafka")?;
    let dir = env
        .dir
        .join("bench")
        .join(format!("run-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    // Our own webhook, for a namespace only it serves.
    let label = format!("bench-{}", std::process::id());
    // Under the webhook's own ServiceAccount, as the tests run it: the shipped RBAC first.
    warden::install_rbac(&kube)?;
    let mut hook = warden::start_webhook(&dir, &kube, "bench-webhook", &["--log-level", "warn"])?;
    let config_name = format!("cw-bench-{}", std::process::id());
    hook.register(&kube, &config_name, Some(&label))?;
    let ns = format!("bench-{}", std::process::id());
    warden::kubectl(
        &kube,
        &["apply", "-f", "-"],
        Some(&namespace_yaml(&ns, &label, 0, &kafka.connect_url)),
    )?;

    let ca = reqwest::Certificate::from_pem(hook.ca_pem.as_bytes())?;
    let webhook_pid = hook.pid().ok_or("the webhook has exited")?;
    let url = hook.url();
    let client = Arc::new(Client::new(&url, &ca)?);
    let metrics_url = hook.metrics_url();
    let calls = || {
        metric_sum(
            &metrics_url,
            "connect_warden_webhook_connect_validate_duration_seconds_count",
        )
    };

    // The webhook's cluster cache must have the cluster before the cache-hit path is meaningful.
    let first = connector(&ns, "bench-hit", "bench-hit");
    let hit_body = review("CREATE", &first, None, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = client.send(hit_body.clone()).await?;
        if v["response"]["allowed"] == true {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("the bench connector is not admitted: {v}").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    println!(
        "connect-warden webhook benchmark (HTTPS keep-alive on loopback, {} cores shared by the webhook and \
         this load generator)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!("in process (no HTTP, no Kafka Connect call):");
    in_process(&ns, "admission::review (CREATE)", &hit_body)?;

    // The same cluster object in a namespace no webhook reviews: the API server's cost alone.
    let plain = format!("{ns}-plain");
    warden::kubectl(
        &kube,
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {plain}}}\n---\n\
             apiVersion: connectwarden.io/v1alpha1\nkind: KafkaConnectCluster\nmetadata: {{name: local, namespace: {plain}}}\n\
             spec: {{url: \"{}\"}}\n",
            kafka.connect_url
        )),
    )?;
    through_api_server(&env, &ns, &plain, &hook).await?;

    if std::env::args().any(|a| a == "--api-server-only") {
        clean_up(&kube, &config_name, &ns);
        hook.stop();
        return Ok(());
    }

    // Under concurrency.
    let mut relabelled = first.clone();
    relabelled["metadata"]["labels"]["app"] = json!("bench-2");
    let unchanged_body = review("UPDATE", &relabelled, Some(&first), 1);
    let run = std::process::id();
    let template = first.clone();
    let paths: [(&str, Bodies, Duration); 3] = [
        (
            "local: spec-unchanged UPDATE",
            {
                let b = unchanged_body.clone();
                Arc::new(move |_, _| b.clone())
            },
            LOAD_LOCAL,
        ),
        (
            "local: validation-cache hit",
            {
                let b = hit_body.clone();
                Arc::new(move |_, _| b.clone())
            },
            LOAD_LOCAL,
        ),
        // A topic no review used before: a cache miss, one Connect call each.
        (
            "Connect: cache miss",
            Arc::new(move |c, n| {
                let mut obj = template.clone();
                obj["metadata"]["name"] = json!("bench-miss");
                obj["spec"]["config"]["topic"] = json!(format!("bench-{run}-{c}-{n}"));
                review("CREATE", &obj, None, n)
            }),
            LOAD_CONNECT,
        ),
    ];
    println!(
        "under concurrency (each client one keep-alive HTTPS connection, reviews back to back; a closed loop, \
         so the mean latency is clients ÷ reviews/s):"
    );
    println!(
        "  {:<30} {:>7} {:>11} {:>10} {:>10} {:>9} {:>14} {:>13}",
        "path", "clients", "reviews/s", "p50", "p99", "samples", "webhook CPU/r", "client CPU/r"
    );
    let mut local_p99_at_64 = Vec::new();
    for (path, bodies, measure) in &paths {
        let before = calls().await?;
        for clients in CLIENTS {
            let l = load(
                webhook_pid,
                &url,
                &ca,
                clients,
                None,
                bodies.clone(),
                LOAD_WARMUP,
                *measure,
            )
            .await?;
            if l.sorted.is_empty() {
                return Err(format!("{path}: no answer within {measure:?}").into());
            }
            let p99 = percentile(&l.sorted, 0.99);
            println!(
                "  {path:<30} {clients:>7} {:>11.0} {:>10} {:>10} {:>9} {:>11.1} µs {:>10.1} µs",
                l.rate,
                ms(percentile(&l.sorted, 0.5)),
                ms(p99),
                l.sorted.len(),
                per_review(l.webhook_cpu, l.sorted.len()),
                per_review(l.client_cpu, l.sorted.len()),
            );
            if path.starts_with("local") && clients == 64 {
                local_p99_at_64.push((*path, p99));
            }
        }
        let made = calls().await? - before;
        println!(
            "  {:<30} ({made} Kafka Connect validate calls over its runs)",
            ""
        );
    }
    // The API server does not send back to back: 64 connections at a steady, high admission rate.
    let paced = load(
        webhook_pid,
        &url,
        &ca,
        64,
        Some(Duration::from_secs(64) / PACED_RATE),
        paths[0].1.clone(),
        LOAD_WARMUP,
        LOAD_LOCAL,
    )
    .await?;
    println!(
        "  {:<30} {:>7} {:>11.0} {:>10} {:>10} {:>9} {:>11.1} µs {:>10.1} µs  (paced: {PACED_RATE}/s in all, open loop)",
        paths[0].0,
        64,
        paced.rate,
        ms(percentile(&paced.sorted, 0.5)),
        ms(percentile(&paced.sorted, 0.99)),
        paced.sorted.len(),
        per_review(paced.webhook_cpu, paced.sorted.len()),
        per_review(paced.client_cpu, paced.sorted.len()),
    );
    for (path, p99) in local_p99_at_64 {
        println!(
            "  target p99 ≤ {} at 64 clients ({path}): measured {}",
            ms(TARGET_P99),
            ms(p99)
        );
    }

    // KafkaConnectorPolicies on the local path. A p99 over sequential reviews of ~0.1 ms is set by the
    // worst 1%: a few milliseconds in all, which any burst of another process on these cores decides. Phases
    // measured one after the other (and after a policy change, which keeps the API server busy) therefore
    // compare moments more than policy counts. So all three cases run at once: 100 policies exist, 10 of
    // them select one namespace, all 100 another, none a third, and the reviews of the three namespaces
    // alternate on one connection, so every stall hits them alike.
    let tiers = [
        (0usize, ns.clone()),
        (10, format!("{ns}-p10")),
        (100, format!("{ns}-p100")),
    ];
    for (n, tier_ns) in &tiers[1..] {
        warden::kubectl(
            &kube,
            &["apply", "-f", "-"],
            Some(&namespace_yaml(tier_ns, &label, *n, &kafka.connect_url)),
        )?;
    }
    let docs: Vec<String> = (0..100)
        .map(|i| {
            let selected = if i < 10 { json!(["10", "100"]) } else { json!(["100"]) };
            let selector = json!({"matchExpressions": [{"key": TIER_LABEL, "operator": "In", "values": selected}]});
            serde_json::to_string(&policy_json(i, selector, i == 9 || i == 99)).unwrap()
        })
        .collect();
    warden::kubectl(&kube, &["apply", "-f", "-"], Some(&docs.join("\n---\n")))?;
    let probe_in = |tier_ns: &str| {
        let mut p = connector(tier_ns, "bench-hit", "bench-hit");
        p["spec"]["config"]["probe"] = json!("x");
        review("CREATE", &p, None, 0)
    };
    wait_enforced(
        &client,
        &[
            (
                probe_in(&tiers[1].1),
                "policy bench-policy-009: spec.config.\"probe\"".into(),
            ),
            (
                probe_in(&tiers[2].1),
                "policy bench-policy-099: spec.config.\"probe\"".into(),
            ),
        ],
    )
    .await?;
    tokio::time::sleep(POLICY_SETTLE).await;
    let bodies: Vec<Vec<u8>> = tiers
        .iter()
        .map(|(_, tier_ns)| {
            let old = connector(tier_ns, "bench-hit", "bench-hit");
            let mut new = old.clone();
            new["metadata"]["labels"]["app"] = json!("bench-2");
            review("UPDATE", &new, Some(&old), 1)
        })
        .collect();
    let c = Client::new(&url, &ca)?;
    for b in &bodies {
        for _ in 0..POLICY_WARMUP {
            c.admit(b.clone()).await?;
        }
    }
    println!(
        "KafkaConnectorPolicies on the local path (spec-unchanged UPDATE, one connection, one review at a time; \
         100 policies exist; the three cases alternate, {POLICY_ROUNDS} rounds of {POLICY_SAMPLES} reviews each):"
    );
    let mut all: Vec<Vec<Duration>> = vec![Vec::new(); tiers.len()];
    for round in 0..POLICY_ROUNDS {
        let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(POLICY_SAMPLES); tiers.len()];
        for i in 0..POLICY_SAMPLES * tiers.len() {
            // Each triple in a rotated order, so no case always follows the same one.
            let k = (i % tiers.len() + i / tiers.len()) % tiers.len();
            let body = bodies[k].clone();
            let t = Instant::now();
            c.admit(body).await?;
            samples[k].push(t.elapsed());
        }
        let mut line = format!("  round {}:", round + 1);
        for (k, s) in samples.iter_mut().enumerate() {
            s.sort();
            line += &format!(
                "  {:>3} matching p99 {}",
                tiers[k].0,
                ms(percentile(s, 0.99))
            );
            all[k].extend(s.iter());
        }
        println!("{line}");
    }
    let mut p99 = Vec::new();
    for (k, s) in all.iter_mut().enumerate() {
        s.sort();
        p99.push(percentile(s, 0.99));
        println!(
            "  {:>3} matching policies: p50 {}  p99 {}  ({} samples)",
            tiers[k].0,
            ms(percentile(s, 0.5)),
            ms(percentile(s, 0.99)),
            s.len()
        );
    }
    let over = |k: usize| (p99[k].as_secs_f64() / p99[0].as_secs_f64() - 1.0) * 100.0;
    println!(
        "  10 policies: {:+.1}% p99 over 0 policies, target ≤ {POLICY_TARGET_PCT:.0}%",
        over(1)
    );
    println!("  100 policies: {:+.1}% p99 over 0 policies", over(2));
    warden::kubectl(&kube, &["delete", "kafkaconnectorpolicies", "--all"], None)?;
    println!("KafkaConnectorPolicies in process (no HTTP):");
    policy_costs(&ns)?;

    // Connect path: each sample a config never seen before, so every review misses the cache.
    let direct = ConnectClient::new(&ClientSettings::new(kafka.connect_url.clone()))?;
    let mut via_webhook = Vec::new();
    let mut straight = Vec::new();
    for i in 0..CONNECT_SAMPLES + 20 {
        let topic = format!("bench-{}-{i}", std::process::id());
        let obj = connector(&ns, "bench-miss", &topic);
        let flat = shared::config::effective_config(
            "bench-miss",
            "FileStreamSource",
            Some(1),
            &[("topic", topic.as_str()), ("file", "/tmp/bench-direct.txt")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into(),
        );
        let t = Instant::now();
        direct.validate("FileStreamSource", &flat).await?;
        let d = t.elapsed();
        let t = Instant::now();
        let v = client.send(review("CREATE", &obj, None, i)).await?;
        let w = t.elapsed();
        assert_eq!(v["response"]["allowed"], true, "{v}");
        if i >= 20 {
            straight.push(d);
            via_webhook.push(w);
        }
    }
    straight.sort();
    via_webhook.sort();
    let (d50, w50) = (percentile(&straight, 0.5), percentile(&via_webhook, 0.5));
    println!("Connect path ({CONNECT_SAMPLES} cache misses, interleaved with direct calls):");
    println!(
        "  direct PUT …/config/validate      p50 {}  p99 {}",
        ms(d50),
        ms(percentile(&straight, 0.99))
    );
    println!(
        "  through the webhook               p50 {}  p99 {}",
        ms(w50),
        ms(percentile(&via_webhook, 0.99))
    );
    println!(
        "  added by the webhook at the median: {}",
        ms(w50.saturating_sub(d50))
    );

    // GitOps re-sync: 100 identical server-side dry-runs, 10 at a time.
    let yaml = format!(
        "apiVersion: connectwarden.io/v1alpha1\nkind: KafkaConnector\nmetadata: {{name: resync, namespace: {ns}}}\n\
         spec:\n  clusterRef: {{name: local}}\n  class: FileStreamSource\n  tasksMax: 1\n  config:\n    topic: resync-{}\n    file: /tmp/resync.txt\n    batch.size: 100\n",
        std::process::id()
    );
    let before = calls().await?;
    let started = Instant::now();
    let yaml = Arc::new(yaml);
    for _ in 0..DRY_RUNS / 10 {
        let mut batch = Vec::new();
        for _ in 0..10 {
            let (kube, yaml) = (kube.clone(), yaml.clone());
            batch.push(tokio::task::spawn_blocking(move || {
                warden::kubectl(
                    &kube,
                    &["apply", "--dry-run=server", "-f", "-"],
                    Some(&yaml),
                )
            }));
        }
        for b in batch {
            b.await??;
        }
    }
    let after = calls().await?;
    println!(
        "GitOps re-sync: {DRY_RUNS} identical `kubectl apply --dry-run=server` ({:.1}s) → {} Kafka Connect validate call(s)",
        started.elapsed().as_secs_f64(),
        after - before
    );

    clean_up(&kube, &config_name, &ns);
    hook.stop();
    Ok(())
}

/// Removes what the run registered and created.
fn clean_up(kube: &stack::kube::KubeEnv, config_name: &str, ns: &str) {
    for kind in [
        "mutatingwebhookconfiguration",
        "validatingwebhookconfiguration",
    ] {
        let _ = warden::kubectl(
            kube,
            &["delete", kind, config_name, "--ignore-not-found"],
            None,
        );
    }
    for n in [
        ns.to_string(),
        format!("{ns}-p10"),
        format!("{ns}-p100"),
        format!("{ns}-plain"),
    ] {
        let _ = warden::kubectl(kube, &["delete", "namespace", &n, "--wait=false"], None);
    }
}
