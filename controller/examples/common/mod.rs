//! Helpers the controller's benchmarks share (each uses a part of them): the stack and its processes, the
//! bench's Kubernetes objects, Connect's direct REST floor, the controller's metrics, and Kafka's own tools.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams, PostParams};
use shared::connect::{ConnectClient, InitialState};
use shared::crd::{ConnectorState, KafkaConnectCluster, KafkaConnector, ProgressStatus};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The label on everything a bench creates: its own controller selects by it, so it sees nothing else.
pub const PRIVATE_LABEL: &str = "connectwarden.io/e2e-private";
/// KafkaConnectors created at once through the API, as a GitOps tool applying a folder would.
pub const CREATE_CONCURRENCY: usize = 32;
/// The controller's one bulk list request per poll.
pub const LIST_PATH: &str = "/connectors?expand=status&expand=info";

// ---------------------------------------------------------------------------------------------------------
// The stack and the processes a bench starts.

/// What a bench uses of a running stack.
pub struct BenchEnv {
    /// The stack's state directory (workers keep theirs below it).
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
    pub kafka: stack::kafka::KafkaEnv,
    /// The controller under test, from `$CW_BIN_DIR` (a release build for real figures).
    pub bin: PathBuf,
    /// Where the controllers' logs go.
    pub logs: PathBuf,
}

impl BenchEnv {
    /// What every bench does first: parse its flags `O`, install the TLS crypto provider (the Kubernetes
    /// client needs it), find the stack named by `$CW_STACK_ENV`.
    pub fn init<O: clap::Parser>() -> Result<(O, BenchEnv), Error> {
        let opts = O::parse();
        shared::tls::install_crypto_provider();
        Ok((opts, BenchEnv::from_env()?))
    }

    /// The stack named by `$CW_STACK_ENV`.
    pub fn from_env() -> Result<BenchEnv, Error> {
        let env = stack::StackEnv::from_env()
            .map_err(|e| format!("CW_STACK_ENV must name a running stack: {e}"))?;
        BenchEnv::of(&env)
    }

    pub fn of(env: &stack::StackEnv) -> Result<BenchEnv, Error> {
        Ok(BenchEnv {
            dir: env.dir.clone(),
            kubeconfig: env
                .kube
                .as_ref()
                .ok_or("the stack has no Kubernetes")?
                .kubeconfig
                .clone(),
            kafka: env.kafka.clone().ok_or("the stack has no Kafka")?,
            bin: stack::warden::bin_dir().join("connect-warden-controller"),
            logs: env.dir.join("logs"),
        })
    }

    /// A Connect worker of the bench's own (its own Connect cluster), with `heap_mib` of Java heap or the
    /// stack's default. Processes of the stack stop when the thread that started them ends: call this on
    /// the main thread, not inside the runtime.
    pub fn worker(
        &self,
        name: &str,
        heap_mib: Option<u32>,
    ) -> Result<stack::kafka::ConnectWorker, Error> {
        let w = match heap_mib {
            Some(h) => {
                stack::kafka::ConnectWorker::start_with_heap(&self.kafka, &self.dir, name, h)
            }
            None => stack::kafka::ConnectWorker::start(&self.kafka, &self.dir, name),
        };
        Ok(w?)
    }

    /// A Kubernetes client with the stack's admin kubeconfig.
    pub async fn kube(&self) -> Result<kube::Client, Error> {
        let kc = kube::config::Kubeconfig::read_from(&self.kubeconfig)?;
        let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
        Ok(kube::Client::try_from(cfg)?)
    }
}

/// The tokio runtime of a bench; built after the stack's processes, which belong to the main thread.
pub fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Passes a bench's result on; a failure first says where the logs are, as the error alone seldom says why.
pub fn logs_on_failure(
    result: Result<(), Error>,
    logs: impl std::fmt::Display,
) -> Result<(), Error> {
    if let Err(e) = &result {
        eprintln!("bench failed: {e}; {logs}");
    }
    result
}

/// The controller flags every bench sets: watch only objects labelled `label`, poll every
/// `interval_seconds`, log warnings only (thousands of reconciles would flood the log), then `more`.
pub fn controller_args(label: &str, interval_seconds: u64, more: &[String]) -> Vec<String> {
    let base = [
        "--label-selector",
        &format!("{PRIVATE_LABEL}={label}"),
        "--poll-interval-seconds",
        &interval_seconds.to_string(),
        "--log-format",
        "text",
        "--log-level",
        "warn",
    ]
    .map(String::from);
    base.into_iter().chain(more.iter().cloned()).collect()
}

/// A controller process of a benchmark's own, and the address of its `/metrics`.
pub struct Controller {
    child: std::process::Child,
    pub metrics: String,
}

impl Controller {
    /// Starts the env's controller with its metrics on a free port, `args`, stderr to `logs/<log_name>`.
    pub fn start(env: &BenchEnv, log_name: &str, args: &[String]) -> Result<Controller, Error> {
        use std::process::{Command, Stdio};
        let port = stack::ports::free_port()?;
        std::fs::create_dir_all(&env.logs)?;
        let child = Command::new(&env.bin)
            .env("KUBECONFIG", &env.kubeconfig)
            .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(env.logs.join(log_name))?)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", env.bin.display()))?;
        Ok(Controller {
            child,
            metrics: format!("127.0.0.1:{port}"),
        })
    }

    /// Waits for `/readyz` (a standby with leader election is ready too).
    pub async fn ready(&self) -> Result<(), Error> {
        wait(
            "the controller's /readyz",
            Duration::from_secs(120),
            || async { Ok(http_get(&self.metrics, "/readyz").is_ok_and(|(c, _)| c == 200)) },
        )
        .await
    }

    /// Whether its `connect_warden_leader` gauge is 1.
    pub fn leads(&self) -> bool {
        scrape(&self.metrics).is_ok_and(|m| {
            stack::metrics_text::value(&m, "connect_warden_leader", &[]) == Some(1.0)
        })
    }

    /// A `kB` field of its `/proc/<pid>/status` (`VmRSS:`, `VmHWM:`), 0 when unreadable.
    pub fn kib(&self, field: &str) -> u64 {
        proc_status_kib(self.child.id(), field).unwrap_or(0)
    }

    /// SIGTERM (the controller finishes what it is doing), then waits for it to exit.
    pub fn stop(mut self) -> Result<(), Error> {
        std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        for _ in 0..300 {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.kill()
    }

    /// SIGKILL, as a crash would.
    pub fn kill(mut self) -> Result<(), Error> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

/// A bench that fails part-way leaves no controller behind.
impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `kB` field of `/proc/<pid>/status`.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(PathBuf::from(format!("/proc/{pid}/status"))).ok()?;
    text.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

pub async fn wait<F, Fut>(what: &str, timeout: Duration, mut f: F) -> Result<(), Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, Error>>,
{
    let started = Instant::now();
    let mut last = String::new();
    while started.elapsed() < timeout {
        match f().await {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(format!("timed out waiting for {what} ({last})").into())
}

// ---------------------------------------------------------------------------------------------------------
// The bench's Kubernetes objects.

/// A namespace labelled `label`, with a KafkaConnectCluster `main` in it that names `url`.
pub async fn namespace_with_cluster(
    kube: &kube::Client,
    ns: &str,
    label: &str,
    url: &str,
) -> Result<(), Error> {
    namespace_with_cluster_spec(kube, ns, label, serde_json::json!({ "url": url })).await
}

/// As [`namespace_with_cluster`], the cluster's lag measured on the broker at `bootstrap` (PLAINTEXT).
pub async fn namespace_with_kafka_cluster(
    kube: &kube::Client,
    ns: &str,
    label: &str,
    url: &str,
    bootstrap: &str,
) -> Result<(), Error> {
    let spec = serde_json::json!({"url": url, "kafka": {"bootstrapServers": bootstrap}});
    namespace_with_cluster_spec(kube, ns, label, spec).await
}

/// Sets (or, with `None`, removes) the `spec.kafka` of the KafkaConnectCluster `main` of `ns`.
pub async fn set_cluster_kafka(
    kube: &kube::Client,
    ns: &str,
    bootstrap: Option<&str>,
) -> Result<(), Error> {
    let kafka = bootstrap.map(|b| serde_json::json!({ "bootstrapServers": b }));
    Api::<KafkaConnectCluster>::namespaced(kube.clone(), ns)
        .patch(
            "main",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(serde_json::json!({"spec": {"kafka": kafka}})),
        )
        .await?;
    Ok(())
}

/// A namespace labelled `label`, with a KafkaConnectCluster `main` in it whose spec is `spec`.
pub async fn namespace_with_cluster_spec(
    kube: &kube::Client,
    ns: &str,
    label: &str,
    spec: serde_json::Value,
) -> Result<(), Error> {
    let meta = serde_json::json!({"name": ns, "labels": {PRIVATE_LABEL: label}});
    Api::<Namespace>::all(kube.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({ "metadata": meta }))?,
        )
        .await?;
    Api::<KafkaConnectCluster>::namespaced(kube.clone(), ns)
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({
                "apiVersion": "connectwarden.io/v1alpha1", "kind": "KafkaConnectCluster",
                "metadata": {"name": "main", "labels": {PRIVATE_LABEL: label}},
                "spec": spec
            }))?,
        )
        .await?;
    Ok(())
}

/// A KafkaConnector `name` labelled `label` on its namespace's cluster `main`; `spec` is the rest of its
/// spec.
pub fn connector(
    name: &str,
    label: &str,
    mut spec: serde_json::Value,
) -> Result<KafkaConnector, Error> {
    spec["clusterRef"] = serde_json::json!({"name": "main"});
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "connectwarden.io/v1alpha1", "kind": "KafkaConnector",
        "metadata": {"name": name, "labels": {PRIVATE_LABEL: label}},
        "spec": spec
    }))?)
}

/// The spec of a FileStreamSink to `/dev/null`: it costs Connect next to nothing, so a fleet of thousands
/// measures the controller rather than the connectors.
pub fn file_sink(state: ConnectorState, topic: &str) -> serde_json::Value {
    serde_json::json!({
        "class": "FileStreamSink",
        "state": state,
        "config": {"topics": topic, "file": "/dev/null"}
    })
}

/// Creates each (namespace, KafkaConnector) through the API, `CREATE_CONCURRENCY` at a time.
pub async fn create_all(
    kube: &kube::Client,
    connectors: impl IntoIterator<Item = (String, KafkaConnector)>,
) -> Result<(), Error> {
    futures::stream::iter(connectors)
        .map(|(ns, k)| async move {
            Api::<KafkaConnector>::namespaced(kube.clone(), &ns)
                .create(&PostParams::default(), &k)
                .await?;
            Ok::<_, Error>(())
        })
        .buffer_unordered(CREATE_CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}

/// KafkaConnectors whose `Ready` condition is `True` with `reason` (`Stopped`, `Running`), a page at a time.
pub async fn ready_count(api: &Api<KafkaConnector>, reason: &str) -> Result<usize, Error> {
    let mut count = 0;
    let mut lp = ListParams::default().limit(500);
    loop {
        let list = api.list(&lp).await?;
        count += list
            .items
            .iter()
            .filter(|k| {
                k.status.as_ref().is_some_and(|s| {
                    s.conditions.iter().any(|c| {
                        c.kind == "Ready"
                            && c.status == "True"
                            && c.reason.as_deref() == Some(reason)
                    })
                })
            })
            .count();
        match list.metadata.continue_ {
            Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
            _ => return Ok(count),
        }
    }
}

/// KafkaConnectors whose `status.progress` satisfies `ok`, a page at a time.
pub async fn progress_count(
    api: &Api<KafkaConnector>,
    ok: impl Fn(&ProgressStatus) -> bool,
) -> Result<usize, Error> {
    let mut count = 0;
    let mut lp = ListParams::default().limit(500);
    loop {
        let list = api.list(&lp).await?;
        count += list
            .items
            .iter()
            .filter_map(|k| k.status.as_ref()?.progress.as_ref())
            .filter(|p| ok(p))
            .count();
        match list.metadata.continue_ {
            Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
            _ => return Ok(count),
        }
    }
}

/// The `status.progress` of a KafkaConnector (default when it has none yet).
pub async fn progress(api: &Api<KafkaConnector>, name: &str) -> Result<ProgressStatus, Error> {
    Ok(api
        .get(name)
        .await?
        .status
        .and_then(|s| s.progress)
        .unwrap_or_default())
}

/// When a sink was first judged stuck, from a start: the state (`Stalled`, or `Stopped` when it skipped
/// `Stalled`) and the time until the controller's metric showed it and until its status did.
#[derive(Debug, Clone)]
pub struct Judged {
    pub state: String,
    pub in_metric: Duration,
    pub in_status: Duration,
}

/// From `start` until the KafkaConnector `name` is judged `Stalled` or `Stopped`: in the controller's
/// metric at `metrics` (`connect_warden_connector_progress`) and in its `status.progress`. Looked at
/// every 100 ms, finer than a lag interval, so the times are the controller's; fails after `timeout`.
pub async fn time_to_stuck(
    api: &Api<KafkaConnector>,
    metrics: &str,
    name: &str,
    start: Instant,
    timeout: Duration,
) -> Result<Judged, Error> {
    const STUCK: [&str; 2] = ["Stalled", "Stopped"];
    let ns = api.namespace().unwrap_or_default().to_string();
    let (mut in_metric, mut in_status) = (None, None);
    loop {
        let page = scrape(metrics)?;
        let shown = |state: &str| {
            let labels = [("namespace", ns.as_str()), ("name", name), ("state", state)];
            stack::metrics_text::value(&page, "connect_warden_connector_progress", &labels)
                == Some(1.0)
        };
        if in_metric.is_none() && STUCK.iter().any(|s| shown(s)) {
            in_metric = Some(start.elapsed());
        }
        if in_status.is_none() {
            let state = progress(api, name).await?.state;
            if STUCK.contains(&state.as_str()) {
                in_status = Some((state, start.elapsed()));
            }
        }
        if let (Some(m), Some((state, s))) = (in_metric, &in_status) {
            return Ok(Judged {
                state: state.clone(),
                in_metric: m,
                in_status: *s,
            });
        }
        if start.elapsed() > timeout {
            let p = progress(api, name).await?;
            return Err(format!("{name}: not Stalled after {timeout:?}: {p:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Produces `n` records to sink `name`'s `topic` and waits until a lag measurement that began after them
/// found its lag 0: its committed offsets have just moved, as those of a sink in use do.
pub async fn consumed_afresh(
    kafka: &stack::kafka::KafkaEnv,
    metrics: &str,
    ns: &str,
    name: &str,
    topic: &str,
    n: usize,
) -> Result<(), Error> {
    let cluster = format!("{ns}/main");
    let count = |page: &str| {
        stack::metrics_text::sum(
            page,
            "connect_warden_lag_measurement_duration_seconds_count",
            &[("cluster", cluster.as_str())],
        )
    };
    produce(kafka, topic, &records("fresh", n)).await?;
    let after = count(&scrape(metrics)?);
    wait(
        &format!("{name}: lag 0 after new records"),
        Duration::from_secs(300),
        || async {
            let page = scrape(metrics)?;
            let lag = stack::metrics_text::value(
                &page,
                "connect_warden_connector_lag_records",
                &[("namespace", ns), ("name", name)],
            );
            // A measurement counted after the records may have begun before them, and the count moves
            // before the figures are published: three more means one begun after them is published.
            Ok(count(&page) >= after + 3.0 && lag == Some(0.0))
        },
    )
    .await
}

/// Whether the KafkaConnectCluster `main` of `ns` is `Ready`.
pub async fn cluster_ready(kube: &kube::Client, ns: &str) -> Result<bool, Error> {
    let c = Api::<KafkaConnectCluster>::namespaced(kube.clone(), ns)
        .get("main")
        .await?;
    Ok(c.status.is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.kind == "Ready" && c.status == "True")
    }))
}

// ---------------------------------------------------------------------------------------------------------
// Connect directly: the floor the controller is compared with.

/// Creates `n` FileStreamSinks (`<prefix>-<i>`) straight on Connect, one request after the other, in
/// `state` (running or stopped), and waits until Connect reports them all so; then removes them. Returns
/// the time to all in state.
pub async fn rest_loop(
    c: &ConnectClient,
    prefix: &str,
    n: usize,
    state: ConnectorState,
) -> Result<Duration, Error> {
    let names: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}")).collect();
    let running = state == ConnectorState::Running;
    let started = Instant::now();
    for name in &names {
        let config: BTreeMap<String, String> = [
            ("name", name.as_str()),
            ("connector.class", "FileStreamSink"),
            ("topics", "bench-rest"),
            ("file", "/dev/null"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        if running {
            c.put_config(name, &config).await?;
        } else {
            c.create(name, &config, Some(InitialState::Stopped)).await?;
        }
    }
    let want = if running { "RUNNING" } else { "STOPPED" };
    wait(
        &format!("connectors {want} on Connect"),
        Duration::from_secs(3600),
        || async {
            let all = c.list_expanded().await?;
            Ok(names.iter().all(|n| {
                all.get(n).and_then(|e| e.status.as_ref()).is_some_and(|s| {
                    s.connector.state == want
                        && (!running
                            || (!s.tasks.is_empty()
                                && s.tasks.iter().all(|t| t.state == "RUNNING")))
                })
            }))
        },
    )
    .await?;
    let took = started.elapsed();
    delete_all(c, names).await;
    Ok(took)
}

/// Deletes the connectors from Connect, 8 at a time; failures are ignored (cleanup between sizes).
pub async fn delete_all(c: &ConnectClient, names: Vec<String>) {
    let c = Arc::new(c.clone());
    futures::stream::iter(names)
        .map(|n| {
            let c = c.clone();
            async move { c.delete(&n).await }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
}

// ---------------------------------------------------------------------------------------------------------
// The controller's metrics.

/// A plain HTTP/1.0 GET on loopback: (status code, body).
pub fn http_get(addr: &str, path: &str) -> Result<(u16, String), Error> {
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    let code = buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or("bad HTTP answer")?;
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((code, body))
}

pub fn scrape(addr: &str) -> Result<String, Error> {
    Ok(http_get(addr, "/metrics")?.1)
}

/// Counter differences between two scrapes of the controller.
pub struct Delta {
    pub before: String,
    pub after: String,
}

impl Delta {
    /// Scrapes `metrics`, waits `cycles` poll intervals, scrapes again: whole cycles of steady state.
    pub async fn over(metrics: &str, interval: Duration, cycles: u32) -> Result<Delta, Error> {
        let before = scrape(metrics)?;
        tokio::time::sleep(interval * cycles).await;
        let after = scrape(metrics)?;
        Ok(Delta { before, after })
    }

    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        // `+ 0.0` turns a difference of -0 into 0 for printing.
        stack::metrics_text::sum(&self.after, name, labels)
            - stack::metrics_text::sum(&self.before, name, labels)
            + 0.0
    }

    pub fn polls(&self, cluster: &str) -> f64 {
        self.sum(
            "connect_warden_cluster_polls_total",
            &[("cluster", cluster)],
        )
    }

    pub fn requests(&self, cluster: &str) -> f64 {
        self.sum(
            "connect_warden_connect_requests_total",
            &[("cluster", cluster)],
        )
    }

    pub fn lists(&self, cluster: &str) -> f64 {
        self.sum(
            "connect_warden_connect_requests_total",
            &[("cluster", cluster), ("path", LIST_PATH)],
        )
    }

    /// Kubernetes writes of every kind.
    pub fn kube_writes(&self) -> f64 {
        self.sum("connect_warden_kube_writes_total", &[])
    }

    /// Mean duration of the list request as the controller timed it (sending it and reading the answer), ms.
    pub fn list_mean_ms(&self, cluster: &str) -> f64 {
        let name = "connect_warden_connect_request_duration_seconds";
        let l = [("cluster", cluster), ("path", LIST_PATH)];
        let n = self.sum(&format!("{name}_count"), &l);
        if n > 0.0 {
            self.sum(&format!("{name}_sum"), &l) / n * 1000.0
        } else {
            f64::NAN
        }
    }
}

/// The `connect_warden_kube_writes_total` series of a scrape that are not zero, to show which writes a
/// controller made when it should have made none.
pub fn nonzero_kube_writes(metrics: &str) -> Vec<String> {
    metrics
        .lines()
        .filter(|l| l.starts_with("connect_warden_kube_writes_total{"))
        .filter(|l| l.rsplit(' ').next().is_some_and(|v| v != "0"))
        .map(String::from)
        .collect()
}

/// Reads a file from a byte offset on (a log grown during a phase of the bench).
pub fn read_from(path: &Path, offset: u64) -> Result<String, Error> {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Writes committed offsets for each stopped sink connector of `names` on Connect (`PATCH
/// /connectors/{name}/offsets`, one call per connector, 8 at a time): `offset` on each of the `partitions`
/// of `topic`, so that its consumer group holds partitions without running it.
pub async fn write_sink_offsets(
    c: &ConnectClient,
    names: &[String],
    topic: &str,
    partitions: i32,
    offset: i64,
) -> Result<(), Error> {
    let offsets = shared::connect::Offsets {
        offsets: (0..partitions)
            .map(|p| shared::connect::PartitionOffset {
                partition: serde_json::json!({"kafka_topic": topic, "kafka_partition": p}),
                offset: Some(serde_json::json!({ "kafka_offset": offset })),
            })
            .collect(),
    };
    futures::stream::iter(names)
        .map(|n| {
            let offsets = &offsets;
            async move {
                c.patch_offsets(n, offsets)
                    .await
                    .map_err(|e| format!("offsets of {n}: {e}"))
            }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Kafka's own tools on the stack's classpath (the end-to-end tests' helpers), next to which connect-warden's
// lag is printed.

#[allow(unused_imports, reason = "each bench uses a part of them")]
pub use e2e::kafka::{Producer, create_topic, describe_group, produce, summed_lag};

/// `n` records `<prefix>-<i>`, without keys.
pub fn records(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}
