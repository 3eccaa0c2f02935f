//! `make bench-storm`: a restart storm on the real stack.
//!
//! Uses the stack named by `$CW_STACK_ENV` (a running `cw-stack up` with the CRDs installed and no
//! controller of its own). Runs a dedicated Connect worker and a fresh controller (from `$CW_BIN_DIR`,
//! default `target/debug`; use a release build for real figures) with short restart backoff, and N
//! KafkaConnectors of the stack's `MarkerFailSourceConnector`, whose one task fails for real while a marker
//! file exists. Once all N run:
//! - the marker is created: every task fails within a fraction of a second (the cause), and the controller
//!   restarts them with backoff for `--storm-seconds`; the marker is then removed (the fix);
//! - Connect requests per second, from the controller's own `connect_warden_connect_requests_total`
//!   sampled every second (all requests, and the restart POSTs), peak and mean, beside the per-cluster write
//!   limit and restart pace the controller runs with;
//! - the time from the fix until Connect (its bulk `GET /connectors?expand=status`, read directly) reports
//!   all N connectors and their tasks RUNNING;
//! - restarts lost (a connector left FAILED while its budget allowed a restart) or doubled (Connect accepted
//!   more restarts of a connector than its `status.autoRestart.count` records), comparing per connector
//!   the restart POSTs in Connect's request log, the count in status and the controller's
//!   `connect_warden_connector_restarts_total`;
//! - the worker group's rebalances during the storm, from the worker's log.
//!
//! The KafkaConnectors stay in their namespace (with their finalizer) and the worker is stopped at the end,
//! so use a throwaway stack (`make bench-storm` starts one).
//!
//! `bench_storm [--connectors 500] [--storm-seconds 30] [--poll-interval-seconds 2]
//!  [--restart-backoff-base-seconds 1] [--restart-backoff-max-seconds 8] [--max-restarts 1000]
//!  [--max-writes-per-cluster 8] [--max-restarts-per-second 20] [--worker-heap-mib 1024]
//!  [--controller-arg=--flag=value …]`

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kube::api::{Api, ListParams};
use shared::connect::ExpandedConnector;
use shared::crd::KafkaConnector;

mod common;
use common::{BenchEnv, Controller, Error, http_get, scrape, wait};

const CLASS: &str = "dev.connectwarden.stack.MarkerFailSourceConnector";
const REQUESTS: &str = "connect_warden_connect_requests_total";
const RESTARTS: &str = "connect_warden_connector_restarts_total";
const RESTART_PATH: &str = "/connectors/{name}/restart";

#[derive(clap::Parser, Debug)]
struct Opts {
    /// Connectors (one task each) that fail at once.
    #[arg(long, default_value_t = 500)]
    connectors: usize,
    /// How long the cause (the marker file) stays before the fix.
    #[arg(long, default_value_t = 30)]
    storm_seconds: u64,
    /// The controller's poll interval.
    #[arg(long, default_value_t = 2)]
    poll_interval_seconds: u64,
    /// The controller's default delay before the second restart (doubled for each further one).
    #[arg(long, default_value_t = 1)]
    restart_backoff_base_seconds: u64,
    /// The controller's default upper bound of the delay between restarts.
    #[arg(long, default_value_t = 8)]
    restart_backoff_max_seconds: u64,
    /// Each KafkaConnector's spec.autoRestart.maxRestarts: a budget the storm does not exhaust.
    #[arg(long, default_value_t = 1000)]
    max_restarts: u32,
    /// The controller's --max-writes-per-cluster.
    #[arg(long, default_value_t = 8)]
    max_writes_per_cluster: u32,
    /// How long to wait for all connectors RUNNING after the fix.
    #[arg(long, default_value_t = 600)]
    recovery_timeout_seconds: u64,
    /// The controller's --max-restarts-per-second (20 is its default; 0: no pacing).
    #[arg(long, default_value_t = 20)]
    max_restarts_per_second: u32,
    /// Java heap of the dedicated Connect worker, in MiB (N source tasks each hold a producer).
    #[arg(long, default_value_t = 1024)]
    worker_heap_mib: u32,
    /// More flags for the controller (repeat; e.g. `--controller-arg=--resync-seconds=60`).
    #[arg(long, allow_hyphen_values = true)]
    controller_arg: Vec<String>,
}

fn main() -> Result<(), Error> {
    let (opts, env) = BenchEnv::init::<Opts>()?;
    let id = format!("storm-{}", std::process::id());
    eprintln!("starting a dedicated Connect worker …");
    let worker = env.worker(&format!("connect-{id}"), Some(opts.worker_heap_mib))?;
    let bench = Bench {
        worker_log: worker.log().to_path_buf(),
        connect_url: worker.url(),
        marker: std::path::absolute(env.dir.join(format!("{id}.marker")))?,
        env,
        id,
    };
    let result = common::runtime()?.block_on(run(&opts, &bench));
    let _ = std::fs::remove_file(&bench.marker);
    drop(worker);
    common::logs_on_failure(
        result,
        format_args!("controller and worker logs in {}", bench.env.logs.display()),
    )
}

struct Bench {
    env: BenchEnv,
    worker_log: PathBuf,
    connect_url: String,
    /// The cause: the tasks fail while this file exists.
    marker: PathBuf,
    id: String,
}

impl Bench {
    /// `127.0.0.1:PORT` of the worker, for plain HTTP/1.0 reads.
    fn connect_addr(&self) -> &str {
        self.connect_url.trim_start_matches("http://")
    }

    /// The controller with short restart backoff, watching the connectors labelled `label`.
    fn controller(&self, opts: &Opts, label: &str) -> Result<Controller, Error> {
        let more = [
            "--restart-backoff-base-seconds",
            &opts.restart_backoff_base_seconds.to_string(),
            "--restart-backoff-max-seconds",
            &opts.restart_backoff_max_seconds.to_string(),
            // The count in status must not reset during the bench: it is compared with what Connect got.
            "--restart-stable-seconds",
            "86400",
            "--max-writes-per-cluster",
            &opts.max_writes_per_cluster.to_string(),
            "--max-restarts-per-second",
            &opts.max_restarts_per_second.to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .chain(opts.controller_arg.iter().cloned())
        .collect::<Vec<_>>();
        let args = common::controller_args(label, opts.poll_interval_seconds, &more);
        Controller::start(&self.env, &format!("controller-{label}.log"), &args)
    }
}

/// One second's look: the controller's request counters and Connect's view.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    requests: f64,
    restart_posts: f64,
    /// Connectors with a task FAILED, when Connect answered.
    failed: Option<usize>,
}

async fn run(opts: &Opts, b: &Bench) -> Result<(), Error> {
    let n = opts.connectors;
    let kube = b.env.kube().await?;
    let plugins = http_get(b.connect_addr(), "/connector-plugins")?.1;
    if !plugins.contains(CLASS) {
        return Err(format!(
            "the worker has no {CLASS}: stack/kafka/build.sh builds it into the Kafka cache; rebuild with `cw-stack build`"
        )
        .into());
    }
    let _ = std::fs::remove_file(&b.marker);

    let label = b.id.clone();
    let controller = b.controller(opts, &label)?;
    controller.ready().await?;
    let ns = label.clone();
    common::namespace_with_cluster(&kube, &ns, &label, &b.connect_url).await?;
    let cluster_label = format!("{ns}/main");

    eprintln!("applying {n} KafkaConnectors …");
    let api: Api<KafkaConnector> = Api::namespaced(kube.clone(), &ns);
    let spec = serde_json::json!({
        "class": CLASS,
        "config": {"fail.while.exists": b.marker.display().to_string()},
        "autoRestart": {"enabled": true, "maxRestarts": opts.max_restarts}
    });
    let fleet = (0..n)
        .map(|i| {
            let k = common::connector(&format!("storm-{i}"), &label, spec.clone())?;
            Ok((ns.clone(), k))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    common::create_all(&kube, fleet).await?;
    let started = Instant::now();
    wait(
        &format!("{n} connectors RUNNING on Connect"),
        Duration::from_secs(1800),
        || async { Ok(connect_view(b)?.running == n) },
    )
    .await?;
    eprintln!("all {n} RUNNING after {:.1?}", started.elapsed());
    // The controller's reconciles of the creation settle.
    tokio::time::sleep(Duration::from_secs(3 * opts.poll_interval_seconds)).await;

    let log_start = std::fs::metadata(&b.worker_log)?.len();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (stop, metrics, addr) = (
            stop.clone(),
            controller.metrics.clone(),
            b.connect_addr().to_string(),
        );
        let cluster = cluster_label.clone();
        std::thread::spawn(move || sample_every_second(&stop, &metrics, &addr, &cluster))
    };

    eprintln!("the cause: creating {} …", b.marker.display());
    let storm_start = Instant::now();
    std::fs::write(&b.marker, b"fail\n")?;
    tokio::time::sleep(Duration::from_secs(opts.storm_seconds)).await;
    eprintln!("the fix: removing the marker …");
    std::fs::remove_file(&b.marker)?;
    let fixed = Instant::now();
    let recovered = loop {
        let v = connect_view(b);
        if v.as_ref().is_ok_and(|v| v.running == n) {
            break Some(fixed.elapsed());
        }
        if fixed.elapsed() > Duration::from_secs(opts.recovery_timeout_seconds) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let recovered_at = Instant::now();
    match recovered {
        Some(d) => eprintln!("all {n} RUNNING {d:.1?} after the fix; settling …"),
        None => eprintln!(
            "not all RUNNING after {}s; settling …",
            opts.recovery_timeout_seconds
        ),
    }
    // Late restarts would show here (and must not happen): a few more cycles.
    tokio::time::sleep(Duration::from_secs(
        3 * opts.poll_interval_seconds + opts.restart_backoff_max_seconds,
    ))
    .await;
    stop.store(true, Ordering::SeqCst);
    let samples = sampler.join().map_err(|_| "the sampler panicked")??;

    // What each side recorded, per connector.
    let final_view = connect_view(b)?;
    let metrics = scrape(&controller.metrics)?;
    let mut controller_restarts: BTreeMap<String, f64> = BTreeMap::new();
    for s in stack::metrics_text::samples(&metrics) {
        if s.matches(
            RESTARTS,
            &[("namespace", ns.as_str()), ("trigger", "automatic")],
        ) {
            *controller_restarts
                .entry(s.labels.get("name").cloned().unwrap_or_default())
                .or_default() += s.value;
        }
    }
    let status_counts = status_counts(&api).await?;
    let log = common::read_from(&b.worker_log, log_start)?;
    let connect_log = parse_worker_log(&log);
    controller.stop()?;

    let report = Report::new(
        opts,
        &samples,
        storm_start,
        recovered,
        recovered_at,
        &final_view,
        &status_counts,
        &controller_restarts,
        &connect_log,
    );
    report.print(opts, b, &cluster_label);
    Ok(())
}

/// Samples the controller's request counters (and Connect's FAILED count) every second until `stop`.
fn sample_every_second(
    stop: &AtomicBool,
    metrics: &str,
    connect: &str,
    cluster: &str,
) -> Result<Vec<Sample>, Error> {
    let mut out = Vec::new();
    let mut next = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        let at = Instant::now();
        let m = scrape(metrics)?;
        let cl = [("cluster", cluster)];
        let requests = stack::metrics_text::sum(&m, REQUESTS, &cl);
        let restart_posts = stack::metrics_text::sum(
            &m,
            REQUESTS,
            &[("cluster", cluster), ("path", RESTART_PATH)],
        );
        let failed = list(connect).ok().map(|all| {
            all.values()
                .filter(|e| {
                    e.status
                        .as_ref()
                        .is_some_and(|s| s.tasks.iter().any(|t| t.state == "FAILED"))
                })
                .count()
        });
        out.push(Sample {
            at,
            requests,
            restart_posts,
            failed,
        });
        next += Duration::from_secs(1);
        if let Some(d) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
    }
    Ok(out)
}

fn list(addr: &str) -> Result<BTreeMap<String, ExpandedConnector>, Error> {
    let (code, body) = http_get(addr, "/connectors?expand=status")?;
    if code != 200 {
        return Err(format!("GET /connectors?expand=status: {code}").into());
    }
    Ok(serde_json::from_str(&body)?)
}

/// Connect's own view of the bench's connectors.
struct ConnectView {
    /// Connector and every task RUNNING (at least one task).
    running: usize,
    /// Names of connectors with the connector or a task FAILED.
    failed: Vec<String>,
}

fn connect_view(b: &Bench) -> Result<ConnectView, Error> {
    let all = list(b.connect_addr())?;
    let mut v = ConnectView {
        running: 0,
        failed: Vec::new(),
    };
    for (name, e) in all.iter().filter(|(n, _)| n.starts_with("storm-")) {
        let Some(s) = &e.status else { continue };
        if s.connector.state == "RUNNING"
            && !s.tasks.is_empty()
            && s.tasks.iter().all(|t| t.state == "RUNNING")
        {
            v.running += 1;
        }
        if s.connector.state == "FAILED" || s.tasks.iter().any(|t| t.state == "FAILED") {
            v.failed.push(name.clone());
        }
    }
    Ok(v)
}

/// `status.autoRestart.count` per Connect connector name (the KafkaConnectors are named alike).
async fn status_counts(api: &Api<KafkaConnector>) -> Result<BTreeMap<String, u32>, Error> {
    let mut out = BTreeMap::new();
    let mut lp = ListParams::default().limit(500);
    loop {
        let list = api.list(&lp).await?;
        for k in &list.items {
            let count = k
                .status
                .as_ref()
                .and_then(|s| s.auto_restart.as_ref())
                .map_or(0, |r| r.count);
            out.insert(k.metadata.name.clone().unwrap_or_default(), count);
        }
        match list.metadata.continue_ {
            Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
            _ => return Ok(out),
        }
    }
}

/// What the worker's log says happened.
#[derive(Default, Debug, PartialEq)]
struct WorkerLog {
    /// Restart POSTs Connect accepted (2xx), per connector.
    accepted: BTreeMap<String, u32>,
    /// Restart POSTs Connect refused, by HTTP code.
    refused: BTreeMap<u16, u32>,
    rebalances: u32,
}

/// Reads Connect's request log lines (`"POST /connectors/<name>/restart?… HTTP/1.1" 202 …`) and its group
/// rebalances (`Rebalance started`).
fn parse_worker_log(log: &str) -> WorkerLog {
    let mut out = WorkerLog::default();
    for line in log.lines() {
        if line.contains("Rebalance started") {
            out.rebalances += 1;
        }
        let Some(rest) = line.split_once("\"POST /connectors/").map(|(_, r)| r) else {
            continue;
        };
        let Some((name, tail)) = rest.split_once('/') else {
            continue;
        };
        if !tail.starts_with("restart") {
            continue;
        }
        let code = tail
            .split_once("\" ")
            .and_then(|(_, r)| r.split_whitespace().next())
            .and_then(|c| c.parse::<u16>().ok())
            .unwrap_or(0);
        if (200..300).contains(&code) {
            *out.accepted.entry(name.to_string()).or_default() += 1;
        } else {
            *out.refused.entry(code).or_default() += 1;
        }
    }
    out
}

/// One second of the timeline: restart POSTs, and connectors FAILED (when Connect answered).
type Second = (f64, Option<usize>);

struct Report {
    n: usize,
    storm: Duration,
    /// Requests/s over each sampled second of the storm (cause → all RUNNING).
    peak_rps: f64,
    mean_rps: f64,
    peak_restarts_ps: f64,
    mean_restarts_ps: f64,
    peak_failed: usize,
    recovered: Option<Duration>,
    /// Requests of the whole storm, and those after all were RUNNING again.
    storm_requests: f64,
    restart_posts: f64,
    restart_posts_after_recovery: f64,
    accepted: u32,
    refused: BTreeMap<u16, u32>,
    status_total: u64,
    metric_total: f64,
    /// Connectors FAILED at the end with budget left, and those whose budget is spent.
    lost: Vec<String>,
    exhausted: Vec<String>,
    /// Connectors with more restarts accepted by Connect than counted in status, and the reverse.
    doubled: Vec<String>,
    short: Vec<String>,
    /// Connectors whose controller metric differs from status.
    metric_mismatch: Vec<String>,
    rebalances: u32,
    /// Per second from the cause until the end.
    timeline: Vec<Second>,
}

impl Report {
    #[allow(clippy::too_many_arguments)]
    fn new(
        opts: &Opts,
        samples: &[Sample],
        storm_start: Instant,
        recovered: Option<Duration>,
        recovered_at: Instant,
        view: &ConnectView,
        status: &BTreeMap<String, u32>,
        metric: &BTreeMap<String, f64>,
        log: &WorkerLog,
    ) -> Report {
        // Rates between consecutive samples inside the storm window.
        let window: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.at + Duration::from_secs(1) >= storm_start && s.at <= recovered_at)
            .collect();
        let mut peak_rps: f64 = 0.0;
        let mut peak_restarts: f64 = 0.0;
        for w in window.windows(2) {
            let dt = (w[1].at - w[0].at).as_secs_f64().max(1e-3);
            peak_rps = peak_rps.max((w[1].requests - w[0].requests) / dt);
            peak_restarts = peak_restarts.max((w[1].restart_posts - w[0].restart_posts) / dt);
        }
        let (first, last) = (window.first(), window.last());
        let span = match (first, last) {
            (Some(a), Some(z)) => (z.at - a.at).as_secs_f64().max(1e-3),
            _ => 1.0,
        };
        let delta = |f: fn(&Sample) -> f64| first.zip(last).map_or(0.0, |(a, z)| f(z) - f(a)) + 0.0;
        let storm_requests = delta(|s| s.requests);
        let restart_posts = delta(|s| s.restart_posts);
        let after = samples.iter().filter(|s| s.at >= recovered_at);
        let restart_posts_after_recovery = match (after.clone().next(), samples.last()) {
            (Some(a), Some(z)) => z.restart_posts - a.restart_posts + 0.0,
            _ => 0.0,
        };
        let lost = view
            .failed
            .iter()
            .filter(|n| status.get(*n).copied().unwrap_or(0) < opts.max_restarts)
            .cloned()
            .collect();
        let exhausted = view
            .failed
            .iter()
            .filter(|n| status.get(*n).copied().unwrap_or(0) >= opts.max_restarts)
            .cloned()
            .collect();
        let mut doubled = Vec::new();
        let mut short = Vec::new();
        let mut metric_mismatch = Vec::new();
        for (name, &count) in status {
            let got = log.accepted.get(name).copied().unwrap_or(0);
            if got > count {
                doubled.push(name.clone());
            } else if got < count {
                short.push(name.clone());
            }
            if metric.get(name).copied().unwrap_or(0.0) != f64::from(count) {
                metric_mismatch.push(name.clone());
            }
        }
        Report {
            n: opts.connectors,
            storm: Duration::from_secs(opts.storm_seconds),
            peak_rps,
            mean_rps: storm_requests / span,
            peak_restarts_ps: peak_restarts,
            mean_restarts_ps: restart_posts / span,
            peak_failed: samples.iter().filter_map(|s| s.failed).max().unwrap_or(0),
            recovered,
            storm_requests,
            restart_posts,
            restart_posts_after_recovery,
            accepted: log.accepted.values().sum(),
            refused: log.refused.clone(),
            status_total: status.values().map(|c| u64::from(*c)).sum(),
            metric_total: metric.values().sum(),
            lost,
            exhausted,
            doubled,
            short,
            metric_mismatch,
            rebalances: log.rebalances,
            timeline: samples
                .windows(2)
                .filter(|w| w[1].at >= storm_start)
                .map(|w| (w[1].restart_posts - w[0].restart_posts + 0.0, w[1].failed))
                .collect(),
        }
    }

    fn print(&self, opts: &Opts, b: &Bench, cluster: &str) {
        let pace = match opts.max_restarts_per_second {
            0 => "none (--max-restarts-per-second 0)".to_string(),
            r => format!("{r} automatic restarts/s (--max-restarts-per-second)"),
        };
        println!();
        println!(
            "connect-warden restart-storm bench — {} (cluster {cluster}, Connect {})",
            b.env.bin.display(),
            b.connect_url
        );
        println!(
            "{} connectors × 1 task on one Connect worker ({} MiB heap); cause held {} s; poll interval {} s; restart backoff {}–{} s; maxRestarts {}",
            self.n,
            opts.worker_heap_mib,
            self.storm.as_secs(),
            opts.poll_interval_seconds,
            opts.restart_backoff_base_seconds,
            opts.restart_backoff_max_seconds,
            opts.max_restarts
        );
        println!(
            "per-cluster limits: {} Connect writes in flight (--max-writes-per-cluster); restart pace: {pace}",
            opts.max_writes_per_cluster
        );
        println!(
            "peak connectors FAILED at once:        {:>8}",
            self.peak_failed
        );
        println!(
            "Connect requests/s (cause → recovered): peak {:>7.1}  mean {:>7.1}  ({} requests)",
            self.peak_rps, self.mean_rps, self.storm_requests
        );
        println!(
            "restart POSTs/s:                        peak {:>7.1}  mean {:>7.1}  ({} POSTs, {} after recovery)",
            self.peak_restarts_ps,
            self.mean_restarts_ps,
            self.restart_posts,
            self.restart_posts_after_recovery
        );
        match self.recovered {
            Some(d) => println!(
                "fix → all {} RUNNING (Connect's bulk status): {:.1} s",
                self.n,
                d.as_secs_f64()
            ),
            None => println!(
                "fix → all {} RUNNING: not within {} s",
                self.n, opts.recovery_timeout_seconds
            ),
        }
        println!(
            "restarts: Connect accepted {} (refused: {}), status.autoRestart.count total {}, controller metric total {}",
            self.accepted,
            if self.refused.is_empty() {
                "none".to_string()
            } else {
                self.refused
                    .iter()
                    .map(|(c, k)| format!("{k}×{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            self.status_total,
            self.metric_total
        );
        for (what, v) in [
            ("lost (FAILED at the end with budget left): ", &self.lost),
            (
                "exhausted (FAILED, budget spent):          ",
                &self.exhausted,
            ),
            (
                "doubled (Connect accepted more restarts than status counts): ",
                &self.doubled,
            ),
            (
                "counted but not accepted by Connect (e.g. timed out):        ",
                &self.short,
            ),
            (
                "controller metric ≠ status count:                            ",
                &self.metric_mismatch,
            ),
        ] {
            println!("{what}{}{}", v.len(), names(v));
        }
        let line = |f: &dyn Fn(&Second) -> String| {
            self.timeline.iter().map(f).collect::<Vec<_>>().join(" ")
        };
        println!("per second from the cause (each column one second):");
        println!("  restart POSTs: {}", line(&|(p, _)| format!("{p}")));
        println!(
            "  FAILED:        {}",
            line(&|(_, f)| f.map_or("?".into(), |f| f.to_string()))
        );
        println!(
            "worker group rebalances during the storm (\"Rebalance started\" in the worker log): {}",
            self.rebalances
        );
    }
}

/// The first few names, for a line of the report.
fn names(v: &[String]) -> String {
    if v.is_empty() {
        return String::new();
    }
    let shown: Vec<&str> = v.iter().take(5).map(String::as_str).collect();
    let more = if v.len() > 5 { ", …" } else { "" };
    format!(" ({}{more})", shown.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_log_and_rebalances_are_read() {
        let log = r#"[2026-11-30T07:26:21,924] INFO  [Worker clientId=connect-1, groupId=cw-c] Rebalance started (o.a.k.c.r.d.WorkerCoordinator)
[2026-11-30T07:26:22,001] INFO  127.0.0.1 - - [30/Nov/2026:07:26:22 +0000] "POST /connectors/storm-1/restart?includeTasks=true&onlyFailed=true HTTP/1.1" 202 120 "-" "-" 12 (o.a.k.c.r.r.RestServer)
[2026-11-30T07:26:22,002] INFO  127.0.0.1 - - [30/Nov/2026:07:26:22 +0000] "POST /connectors/storm-1/restart?includeTasks=true&onlyFailed=true HTTP/1.1" 409 80 "-" "-" 3 (o.a.k.c.r.r.RestServer)
[2026-11-30T07:26:22,003] INFO  127.0.0.1 - - [30/Nov/2026:07:26:22 +0000] "POST /connectors/storm-2/tasks/0/restart HTTP/1.1" 204 0 "-" "-" 3 (o.a.k.c.r.r.RestServer)
[2026-11-30T07:26:22,004] INFO  127.0.0.1 - - [30/Nov/2026:07:26:22 +0000] "POST /connectors HTTP/1.1" 201 80 "-" "-" 3 (o.a.k.c.r.r.RestServer)"#;
        let w = parse_worker_log(log);
        assert_eq!(w.rebalances, 1);
        assert_eq!(w.accepted.get("storm-1"), Some(&1));
        assert_eq!(w.refused.get(&409), Some(&1));
        assert_eq!(
            w.accepted.get("storm-2"),
            None,
            "a task restart is not a connector restart"
        );
    }
}
