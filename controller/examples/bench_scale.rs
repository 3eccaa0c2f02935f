//! `make bench-scale`: how the controller's cost grows with the fleet, on the real stack.
//!
//! Uses the stack named by `$CW_STACK_ENV` (a running `cw-stack up` with the CRDs installed and no
//! controller of its own). Runs a dedicated Connect worker, then for each fleet size N (default 200, 500, 2,000
//! and 5,000 stopped FileStreamSink connectors):
//! - the direct-REST floor: the same N connectors created on Connect by a plain loop, timed to all STOPPED,
//!   then removed;
//! - a fresh controller (from `$CW_BIN_DIR`, default `target/debug`; use a release build for real figures)
//!   watching its own namespace; N KafkaConnectors applied at once; the time to all `Ready`, its ratio to the
//!   floor;
//! - steady state, from the controller's own metrics: Connect requests and Kubernetes writes per poll cycle;
//! - the controller's resident memory in steady state and its peak (VmHWM), and the per-connector slope;
//! - at `--restart-at` N: the controller is stopped (SIGTERM) and started again; its first cycles must make
//!   no Connect write and no Kubernetes write (counted with the new process's metrics);
//! - at `--leader-change-at` N: two controllers with `--leader-election` on one Lease; once one leads and
//!   the fleet is steady, the leader is killed (SIGKILL, a crash); the standby's first cycles as leader must
//!   make no Connect write, no Kubernetes write and no restart (counted with its own metrics);
//! - with `--lag`: the fleet's sinks are given committed offsets through Connect (one `PATCH
//!   /connectors/{name}/offsets` each, on the 3 partitions of topic `bench-scale`), then the same fleet is
//!   measured by two fresh controllers in turn (both with `--lag-interval-seconds` equal to the poll
//!   interval), lag off (the cluster without `spec.kafka`) and lag on (with it): broker requests per
//!   measurement, steady and peak RSS of each and the difference per connector; at the largest size, one running
//!   `StallingSinkConnector` among the N is stalled and timed to `Stalled`, beside the window. Fresh
//!   controllers on both sides, so neither carries the memory of having created the fleet.
//!
//! Then it writes a plot (SVG) of peak RSS, time to Ready and requests per cycle against N. Connectors are
//! removed from Connect directly between sizes; the KafkaConnectors stay in their namespaces (with their
//! finalizer), so use a throwaway stack (`make bench-scale` starts one).
//!
//! `bench_scale [--sizes 200,500,2000,5000] [--poll-interval-seconds S] [--cycles C] [--restart-at N]
//!  [--leader-change-at N] [--no-floor] [--plot docs/scale.svg] [--lag] [--progress-window-seconds W]`

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kube::api::Api;
use shared::connect::{ClientSettings, ConnectClient};
use shared::crd::{ConnectorState, KafkaConnector};

mod common;
use common::{BenchEnv, Controller, Delta, Error, controller_args, scrape, wait};

/// The controller's default `--lease-duration-seconds`: how long a standby waits after the leader died.
const LEASE_SECONDS: u64 = 15;
/// The fleet's topic (`common::file_sink`'s `topics`), created with `--lag` so its sinks hold partitions.
const FLEET_TOPIC: &str = "bench-scale";
const FLEET_PARTITIONS: u32 = 3;
/// Records on each fleet partition: a stopped sink's lag, from offset 0, is all of them.
const FLEET_RECORDS: usize = 30;
const STALLING_SINK: &str = "dev.connectwarden.stack.StallingSinkConnector";
const BYTES: &str = "org.apache.kafka.connect.converters.ByteArrayConverter";

#[derive(clap::Parser, Debug)]
struct Opts {
    /// Fleet sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "200,500,2000,5000")]
    sizes: Vec<usize>,
    /// The controller's poll interval.
    #[arg(long, default_value_t = 10)]
    poll_interval_seconds: u64,
    /// Poll cycles measured in steady state (and after the restart).
    #[arg(long, default_value_t = 3)]
    cycles: u32,
    /// The fleet size at which the controller is restarted (0: never).
    #[arg(long, default_value_t = 2000)]
    restart_at: usize,
    /// The fleet size at which the leader of two controllers is killed and the standby takes over (0: never).
    #[arg(long, default_value_t = 2000)]
    leader_change_at: usize,
    /// Skip the direct-REST floor (memory and request counts only).
    #[arg(long)]
    no_floor: bool,
    /// Java heap of the dedicated Connect worker, in MiB (thousands of connectors need more than the default).
    #[arg(long, default_value_t = 2048)]
    worker_heap_mib: u32,
    /// Where the plot goes.
    #[arg(long, default_value = "docs/scale.svg")]
    plot: PathBuf,
    /// Also measure the fleet with lag measurement off and on, and time a stall at the largest size. Off by
    /// default: it adds two controller runs and N offset writes per size.
    #[arg(long)]
    lag: bool,
    /// With --lag: the progress window of the lag-on controller (its lag interval is the poll interval).
    #[arg(long, default_value_t = 30)]
    progress_window_seconds: u64,
}

fn main() -> Result<(), Error> {
    let (opts, env) = BenchEnv::init::<Opts>()?;
    let id = format!("scale-{}", std::process::id());
    eprintln!("starting a dedicated Connect worker …");
    let worker = env.worker(&format!("connect-{id}"), Some(opts.worker_heap_mib))?;
    let bench = Bench {
        connect_url: worker.url(),
        env,
        id,
        interval: Duration::from_secs(opts.poll_interval_seconds),
    };
    let result = common::runtime()?.block_on(run(&opts, &bench));
    drop(worker);
    common::logs_on_failure(
        result,
        format_args!("controller logs in {}", bench.env.logs.display()),
    )
}

struct Bench {
    env: BenchEnv,
    connect_url: String,
    id: String,
    interval: Duration,
}

impl Bench {
    /// A controller watching the fleet labelled `label`, with `more` flags.
    fn controller(
        &self,
        label: &str,
        log_name: &str,
        more: &[String],
    ) -> Result<Controller, Error> {
        let args = controller_args(label, self.interval.as_secs(), more);
        Controller::start(&self.env, log_name, &args)
    }
}

#[derive(Default)]
struct Row {
    n: usize,
    floor: Option<Duration>,
    to_ready: Duration,
    polls: f64,
    requests: f64,
    lists: f64,
    kube_writes: f64,
    rss_kib: u64,
    peak_kib: u64,
    restart: Option<Restart>,
    leader_change: Option<LeaderChange>,
    lag: Option<LagRow>,
}

struct Restart {
    /// The Kubernetes write series that are not zero.
    writes: Vec<String>,
    polls: f64,
    connect_writes: f64,
    kube_writes: f64,
    peak_kib: u64,
}

async fn run(opts: &Opts, b: &Bench) -> Result<(), Error> {
    let kube = b.env.kube().await?;
    let connect = ConnectClient::new(&ClientSettings::new(&b.connect_url))?;
    let mut rows = Vec::new();
    if opts.lag {
        let kafka = &b.env.kafka;
        common::create_topic(kafka, FLEET_TOPIC, FLEET_PARTITIONS).await?;
        let records = common::records("r", FLEET_RECORDS * FLEET_PARTITIONS as usize);
        common::produce(kafka, FLEET_TOPIC, &records).await?;
    }
    for &n in &opts.sizes {
        rows.push(one_size(opts, b, &kube, &connect, n).await?);
        print_rows(opts, b, &rows);
        // Drawn after every size, so an interrupted run still leaves the sizes it measured.
        draw(&opts.plot, &rows)?;
        println!("plot: {}", opts.plot.display());
    }
    Ok(())
}

async fn one_size(
    opts: &Opts,
    b: &Bench,
    kube: &kube::Client,
    connect: &ConnectClient,
    n: usize,
) -> Result<Row, Error> {
    let mut row = Row {
        n,
        ..Row::default()
    };
    if !opts.no_floor {
        eprintln!("[N={n}] direct REST loop …");
        let floor =
            common::rest_loop(connect, &format!("rest-{n}"), n, ConnectorState::Stopped).await?;
        eprintln!("[N={n}] direct REST: {floor:.1?}");
        row.floor = Some(floor);
    }
    let label = format!("{}-{n}", b.id);
    let controller = b.controller(&label, &format!("controller-{label}.log"), &[])?;
    controller.ready().await?;
    let ns = label.clone();
    common::namespace_with_cluster(kube, &ns, &label, &b.connect_url).await?;
    let cluster_label = format!("{ns}/main");

    eprintln!("[N={n}] applying {n} KafkaConnectors …");
    let api: Api<KafkaConnector> = Api::namespaced(kube.clone(), &ns);
    let fleet = (0..n)
        .map(|i| {
            let spec = common::file_sink(ConnectorState::Stopped, "bench-scale");
            Ok((
                ns.clone(),
                common::connector(&format!("s{n}-{i}"), &label, spec)?,
            ))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let started = Instant::now();
    common::create_all(kube, fleet).await?;
    wait(
        &format!("{n} KafkaConnectors Ready"),
        Duration::from_secs(3600),
        || async { Ok(common::ready_count(&api, "Stopped").await? == n) },
    )
    .await?;
    row.to_ready = started.elapsed();
    eprintln!(
        "[N={n}] all Ready after {:.1?}; steady state …",
        row.to_ready
    );

    // Let the last status writes and events settle, then count over whole cycles.
    tokio::time::sleep(b.interval * 2).await;
    let d = Delta::over(&controller.metrics, b.interval, opts.cycles).await?;
    row.polls = d.polls(&cluster_label);
    row.requests = d.requests(&cluster_label);
    row.lists = d.lists(&cluster_label);
    row.kube_writes = d.kube_writes();
    row.rss_kib = controller.kib("VmRSS:");
    row.peak_kib = controller.kib("VmHWM:");
    controller.stop()?;

    if n == opts.leader_change_at {
        eprintln!("[N={n}] two controllers with leader election; killing the leader …");
        row.leader_change = Some(leader_change(opts, b, &ns, &label).await?);
    }

    if n == opts.restart_at {
        eprintln!("[N={n}] restarting the controller …");
        let again = b.controller(&label, &format!("controller-{label}-restart.log"), &[])?;
        again.ready().await?;
        // Its first cycles: the initial list, the first poll, a reconcile of every connector.
        tokio::time::sleep(b.interval * (2 + opts.cycles)).await;
        let m = scrape(&again.metrics)?;
        let cl = [("cluster", cluster_label.as_str())];
        let all = stack::metrics_text::sum(&m, "connect_warden_connect_requests_total", &cl);
        let gets = stack::metrics_text::sum(
            &m,
            "connect_warden_connect_requests_total",
            &[("cluster", cluster_label.as_str()), ("method", "GET")],
        );
        row.restart = Some(Restart {
            writes: common::nonzero_kube_writes(&m),
            polls: stack::metrics_text::sum(&m, "connect_warden_cluster_polls_total", &cl),
            // `+ 0.0` turns a difference of -0 into 0 for printing.
            connect_writes: all - gets + 0.0,
            kube_writes: stack::metrics_text::sum(&m, "connect_warden_kube_writes_total", &[])
                + 0.0,
            peak_kib: again.kib("VmHWM:"),
        });
        again.stop()?;
    }

    if opts.lag {
        let largest = opts.sizes.iter().max() == Some(&n);
        row.lag = Some(lag_row(opts, b, kube, connect, &ns, &label, n, largest).await?);
    }

    eprintln!("[N={n}] removing the connectors from Connect …");
    let names: Vec<String> = (0..n).map(|i| format!("s{n}-{i}")).collect();
    common::delete_all(connect, names).await;
    Ok(row)
}

/// The fleet under fresh controllers, lag measurement off and on.
struct LagRow {
    /// Writing the fleet's committed offsets through Connect, one call per connector.
    offsets: Duration,
    off: Steady,
    on: Steady,
    /// Over the lag-on steady cycles: lag measurements, the requests they sent to the broker, their summed
    /// duration.
    measurements: f64,
    kafka_requests: f64,
    measure_secs: f64,
    /// Sinks whose lag the lag-on controller reports (its metric), and the sum of their lag.
    lag_known: usize,
    lag_sum: f64,
    /// From a running sink's stall (its records acknowledged) to its first stuck judgement.
    stall: Option<common::Judged>,
}

/// A fresh controller in steady state: per-cycle counts and memory.
struct Steady {
    polls: f64,
    connect: f64,
    kube_writes: f64,
    rss_kib: u64,
    peak_kib: u64,
}

/// Gives the fleet committed offsets, then measures it under a fresh controller with lag off (no
/// `spec.kafka`) and one with lag on; with `stall`, times a stall among the fleet under the second.
#[allow(clippy::too_many_arguments)]
async fn lag_row(
    opts: &Opts,
    b: &Bench,
    kube: &kube::Client,
    connect: &ConnectClient,
    ns: &str,
    label: &str,
    n: usize,
    stall: bool,
) -> Result<LagRow, Error> {
    let cluster = format!("{ns}/main");
    let api: Api<KafkaConnector> = Api::namespaced(kube.clone(), ns);
    eprintln!("[N={n}] committed offsets for the {n} sinks through Connect …");
    let names: Vec<String> = (0..n).map(|i| format!("s{n}-{i}")).collect();
    let started = Instant::now();
    let partitions = FLEET_PARTITIONS as i32;
    common::write_sink_offsets(connect, &names, FLEET_TOPIC, partitions, 0).await?;
    let offsets = started.elapsed();
    eprintln!("[N={n}] offsets written in {offsets:.1?}; a fresh controller, lag off …");

    // The same flags for both: only the cluster's spec.kafka differs.
    let more = [
        "--lag-interval-seconds".to_string(),
        b.interval.as_secs().to_string(),
        "--progress-window-seconds".to_string(),
        opts.progress_window_seconds.to_string(),
    ];
    let off = b.controller(label, &format!("controller-{label}-lag-off.log"), &more)?;
    off.ready().await?;
    let (off_steady, _) = steady(opts, b, &off, &cluster, n).await?;
    off.stop()?;

    eprintln!("[N={n}] a fresh controller, lag on …");
    common::set_cluster_kafka(kube, ns, Some(&b.env.kafka.bootstrap)).await?;
    let on = b.controller(label, &format!("controller-{label}-lag-on.log"), &more)?;
    on.ready().await?;
    wait(
        &format!("{n} KafkaConnectors with their lag in status"),
        Duration::from_secs(3600),
        || async { Ok(common::progress_count(&api, |p| p.lag_records.is_some()).await? >= n) },
    )
    .await?;
    let (on_steady, d) = steady(opts, b, &on, &cluster, n).await?;
    let lag = stack::metrics_text::samples(&d.after)
        .filter(|s| s.matches("connect_warden_connector_lag_records", &[("namespace", ns)]))
        .map(|s| s.value)
        .collect::<Vec<_>>();
    let cl = [("cluster", cluster.as_str())];
    let m = "connect_warden_lag_measurement_duration_seconds";
    let name = format!("{label}-stall");
    let marker = std::path::absolute(b.env.dir.join(format!("{name}.stall")))?;
    let stall = match stall {
        true => Some(stall_one(opts, b, kube, &on, ns, label, &name, &marker).await),
        false => None,
    };
    on.stop()?;
    if stall.is_some() {
        // Released and removed from Connect (its controller stopped first, or it would create it again),
        // so that no later size runs beside a running connector.
        let _ = std::fs::remove_file(&marker);
        let _ = connect.delete(&name).await;
    }
    let stall = stall.transpose()?;
    Ok(LagRow {
        offsets,
        off: off_steady,
        on: on_steady,
        measurements: d.sum(&format!("{m}_count"), &cl),
        kafka_requests: d.sum("connect_warden_kafka_requests_total", &cl),
        measure_secs: d.sum(&format!("{m}_sum"), &cl),
        lag_known: lag.len(),
        lag_sum: lag.iter().sum(),
        stall,
    })
}

/// Waits for a fresh controller's steady state (two polls, a reconcile of each of the `n` connectors, and
/// its Kubernetes writes still over two whole cycles, since its first lag measurement may follow its first
/// reconciles by up to a cycle), then counts over `--cycles` cycles and reads its memory.
async fn steady(
    opts: &Opts,
    b: &Bench,
    c: &Controller,
    cluster: &str,
    n: usize,
) -> Result<(Steady, Delta), Error> {
    let figures = |m: &str| {
        (
            stack::metrics_text::sum(
                m,
                "connect_warden_cluster_polls_total",
                &[("cluster", cluster)],
            ),
            stack::metrics_text::sum(
                m,
                "connect_warden_reconcile_duration_seconds_count",
                &[("kind", "KafkaConnector")],
            ),
            stack::metrics_text::sum(m, "connect_warden_kube_writes_total", &[]),
        )
    };
    let last = std::cell::Cell::new([f64::NAN; 2]);
    wait("a steady controller", Duration::from_secs(3600), || {
        let (last, addr, figures) = (&last, &c.metrics, &figures);
        async move {
            tokio::time::sleep(b.interval).await;
            let (polls, reconciles, writes) = figures(&scrape(addr)?);
            let [older, prev] = last.replace([last.get()[1], writes]);
            Ok(polls >= 2.0 && reconciles >= n as f64 && writes == prev && writes == older)
        }
    })
    .await?;
    let d = Delta::over(&c.metrics, b.interval, opts.cycles).await?;
    let s = Steady {
        polls: d.polls(cluster),
        connect: d.requests(cluster),
        kube_writes: d.kube_writes(),
        rss_kib: c.kib("VmRSS:"),
        peak_kib: c.kib("VmHWM:"),
    };
    Ok((s, d))
}

/// One running `StallingSinkConnector` among the fleet: once it has consumed its topic and records just
/// produced (its offsets moved, as those of a sink in use), its marker file is created and records are
/// produced; the time from their acknowledgement to its first stuck judgement (`Stalled`).
#[allow(clippy::too_many_arguments)]
async fn stall_one(
    opts: &Opts,
    b: &Bench,
    kube: &kube::Client,
    c: &Controller,
    ns: &str,
    label: &str,
    name: &str,
    marker: &Path,
) -> Result<common::Judged, Error> {
    let kafka = &b.env.kafka;
    let api: Api<KafkaConnector> = Api::namespaced(kube.clone(), ns);
    eprintln!("stalling one running sink among the fleet …");
    common::create_topic(kafka, name, FLEET_PARTITIONS).await?;
    common::produce(kafka, name, &common::records("a", 30)).await?;
    let spec = serde_json::json!({
        "class": STALLING_SINK, "tasksMax": 1, "state": ConnectorState::Running,
        "config": {
            "topics": name, "marker.file": marker.display().to_string(),
            "key.converter": BYTES, "value.converter": BYTES,
        }
    });
    common::create_all(
        kube,
        [(ns.to_string(), common::connector(name, label, spec)?)],
    )
    .await?;
    wait(
        &format!("{name}: OK with lag 0"),
        Duration::from_secs(600),
        || async {
            let p = common::progress(&api, name).await?;
            Ok(p.state == "OK" && p.lag_records == Some(0))
        },
    )
    .await?;
    common::consumed_afresh(kafka, &c.metrics, ns, name, name, 30).await?;
    std::fs::write(marker, b"stall\n")?;
    common::produce(kafka, name, &common::records("b", 45)).await?;
    let timeout = Duration::from_secs(opts.progress_window_seconds * 4 + 300);
    common::time_to_stuck(&api, &c.metrics, name, Instant::now(), timeout).await
}

/// The standby's first cycles as leader, after the leader was killed.
struct LeaderChange {
    /// From the SIGKILL to the standby's `connect_warden_leader` 1.
    takeover: Duration,
    polls: f64,
    /// KafkaConnector reconciles: at least N, so every connector was looked at.
    reconciles: f64,
    connect_writes: f64,
    kube_writes: f64,
    restarts: f64,
    /// The Kubernetes write series that are not zero.
    writes: Vec<String>,
}

/// Two controllers with leader election on one Lease (in the fleet's namespace). Once one leads and its
/// first reconciles of the fleet are over (its writes stay still for a whole cycle), it is killed with
/// SIGKILL, so the Lease is not released and the standby takes over when it expires. Then the standby's
/// own metrics count its first cycles as leader.
async fn leader_change(
    opts: &Opts,
    b: &Bench,
    ns: &str,
    label: &str,
) -> Result<LeaderChange, Error> {
    let lease = format!("{label}-lease");
    let more = [
        "--leader-election",
        "--lease-name",
        &lease,
        "--lease-namespace",
        ns,
        "--lease-duration-seconds",
        &LEASE_SECONDS.to_string(),
    ]
    .map(String::from);
    let start = |name: &str| b.controller(label, &format!("controller-{label}-{name}.log"), &more);
    let (first, second) = (start("lease-a")?, start("lease-b")?);
    first.ready().await?;
    second.ready().await?;
    wait("one leader", Duration::from_secs(120), || async {
        Ok(first.leads() ^ second.leads())
    })
    .await?;
    let (leader, standby) = if first.leads() {
        (first, second)
    } else {
        (second, first)
    };
    let writes = |m: &str| {
        let all = stack::metrics_text::sum(m, "connect_warden_connect_requests_total", &[]);
        let gets = stack::metrics_text::sum(
            m,
            "connect_warden_connect_requests_total",
            &[("method", "GET")],
        );
        (
            all - gets,
            stack::metrics_text::sum(m, "connect_warden_kube_writes_total", &[]),
            stack::metrics_text::sum(m, "connect_warden_cluster_polls_total", &[]),
        )
    };
    // Steady: the leader has polled, and neither Connect nor Kubernetes writes moved over a whole cycle.
    let last = std::cell::Cell::new(writes(&scrape(&leader.metrics)?));
    wait("the leader steady", Duration::from_secs(3600), || {
        let (last, addr) = (&last, &leader.metrics);
        async move {
            tokio::time::sleep(b.interval).await;
            let w = writes(&scrape(addr)?);
            let prev = last.replace(w);
            Ok(w.2 >= 2.0 && w.0 == prev.0 && w.1 == prev.1)
        }
    })
    .await?;
    let before = scrape(&standby.metrics)?;
    let killed = Instant::now();
    leader.kill()?;
    wait(
        "the standby to lead",
        Duration::from_secs(LEASE_SECONDS * 4 + 60),
        || async { Ok(standby.leads()) },
    )
    .await?;
    let takeover = killed.elapsed();
    // Its first cycles: the initial list, the first poll, a reconcile of every connector.
    tokio::time::sleep(b.interval * (2 + opts.cycles)).await;
    let after = scrape(&standby.metrics)?;
    let (w_before, w_after) = (writes(&before), writes(&after));
    let d = Delta { before, after };
    let change = LeaderChange {
        takeover,
        polls: w_after.2 - w_before.2,
        reconciles: d.sum(
            "connect_warden_reconcile_duration_seconds_count",
            &[("kind", "KafkaConnector")],
        ),
        connect_writes: w_after.0 - w_before.0 + 0.0,
        kube_writes: w_after.1 - w_before.1 + 0.0,
        restarts: d.sum("connect_warden_connector_restarts_total", &[]),
        writes: common::nonzero_kube_writes(&d.after),
    };
    standby.stop()?;
    Ok(change)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// KiB per connector between the smallest and the largest fleet.
fn slope(rows: &[Row], f: impl Fn(&Row) -> u64) -> Option<f64> {
    let (a, z) = (rows.first()?, rows.last()?);
    (z.n > a.n).then(|| (f(z) as f64 - f(a) as f64) / (z.n - a.n) as f64)
}

fn print_rows(opts: &Opts, b: &Bench, rows: &[Row]) {
    println!();
    println!(
        "connect-warden scale bench — {} (poll interval {} s, {} steady-state cycles, Connect {})",
        b.env.bin.display(),
        b.interval.as_secs(),
        opts.cycles,
        b.connect_url
    );
    println!(
        "{:>6} {:>10} {:>11} {:>7} {:>13} {:>11} {:>13} {:>9} {:>9}",
        "N",
        "REST floor",
        "to Ready",
        "ratio",
        "Connect/cycle",
        "lists/cycle",
        "kube wr/cycle",
        "RSS MiB",
        "peak MiB"
    );
    for r in rows {
        let per = |x: f64| if r.polls > 0.0 { x / r.polls } else { f64::NAN };
        let (floor, ratio) = match r.floor {
            Some(f) => (
                format!("{:.1}s", f.as_secs_f64()),
                format!("{:.2}", r.to_ready.as_secs_f64() / f.as_secs_f64()),
            ),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{:>6} {:>10} {:>10.1}s {:>7} {:>13.2} {:>11.2} {:>13.2} {:>9.1} {:>9.1}",
            r.n,
            floor,
            r.to_ready.as_secs_f64(),
            ratio,
            per(r.requests),
            per(r.lists),
            per(r.kube_writes),
            mib(r.rss_kib),
            mib(r.peak_kib),
        );
    }
    if let (Some(peak), Some(rss)) = (slope(rows, |r| r.peak_kib), slope(rows, |r| r.rss_kib)) {
        println!(
            "per-connector slope, N {} → {}: peak {peak:.2} KiB, steady RSS {rss:.2} KiB",
            rows[0].n,
            rows[rows.len() - 1].n
        );
    }
    print_lag(opts, b, rows);
    for r in rows {
        if let Some(x) = &r.restart {
            println!(
                "restart at N={}: {} polls in its first {} cycles, Connect writes {}, Kubernetes writes {}, peak RSS {:.1} MiB",
                r.n,
                x.polls,
                2 + opts.cycles,
                x.connect_writes,
                x.kube_writes,
                mib(x.peak_kib)
            );
            for w in &x.writes {
                println!("  {w}");
            }
        }
        if let Some(x) = &r.leader_change {
            println!(
                "leader change at N={}: the leader killed (SIGKILL), the standby led {:.1} s later (lease {LEASE_SECONDS} s); \
                 in its first {} cycles: {} polls, {} connector reconciles, Connect writes {}, Kubernetes writes {}, restarts {}",
                r.n,
                x.takeover.as_secs_f64(),
                2 + opts.cycles,
                x.polls,
                x.reconciles,
                x.connect_writes,
                x.kube_writes,
                x.restarts
            );
            for w in &x.writes {
                println!("  {w}");
            }
        }
    }
}

/// The lag figures of `--lag`.
fn print_lag(opts: &Opts, b: &Bench, rows: &[Row]) {
    let lag: Vec<(usize, &LagRow)> = rows
        .iter()
        .filter_map(|r| r.lag.as_ref().map(|l| (r.n, l)))
        .collect();
    if lag.is_empty() {
        return;
    }
    println!(
        "lag measurement: the same fleet under fresh controllers (lag interval {} s, window {} s), lag off (no \
         spec.kafka) then on (spec.kafka); each sink's group committed offsets on {FLEET_PARTITIONS} partitions",
        b.interval.as_secs(),
        opts.progress_window_seconds
    );
    println!(
        "{:>6} {:>10} {:>14} {:>10} {:>10} {:>13} {:>12} {:>11} {:>12} {:>12} {:>14}",
        "N",
        "offsets",
        "Kafka req/meas",
        "meas. ms",
        "lag known",
        "Connect/cycle",
        "kube wr/cyc",
        "RSS off MiB",
        "RSS on MiB",
        "Δ KiB/conn",
        "peak off/on MiB"
    );
    for (n, l) in &lag {
        let per = |x: f64, by: f64| if by > 0.0 { x / by } else { f64::NAN };
        let diff = l.on.rss_kib as f64 - l.off.rss_kib as f64;
        println!(
            "{:>6} {:>9.1}s {:>14.2} {:>10.1} {:>10} {:>13.2} {:>12.2} {:>11.1} {:>12.1} {:>12.2} {:>14}",
            n,
            l.offsets.as_secs_f64(),
            per(l.kafka_requests, l.measurements),
            per(l.measure_secs * 1000.0, l.measurements),
            format!("{}/{n}", l.lag_known),
            per(l.on.connect, l.on.polls),
            per(l.on.kube_writes, l.on.polls),
            mib(l.off.rss_kib),
            mib(l.on.rss_kib),
            diff / *n as f64,
            format!("{:.1}/{:.1}", mib(l.off.peak_kib), mib(l.on.peak_kib)),
        );
    }
    if let (Some((a, la)), Some((z, lz))) = (lag.first(), lag.last())
        && z > a
    {
        let d = |l: &LagRow| l.on.rss_kib as f64 - l.off.rss_kib as f64;
        println!(
            "lag on − off, per connector between N {a} and {z} (fixed costs cancel): steady RSS {:.2} KiB (target ≤ 4 KiB)",
            (d(lz) - d(la)) / (z - a) as f64
        );
    }
    for (n, l) in &lag {
        let known = l.lag_known.max(1) as f64;
        println!(
            "  N={n}: lag off: {:.2} Connect requests and {:.2} Kubernetes writes per cycle; lag on: mean lag {:.1} records per sink",
            l.off.connect / l.off.polls.max(1.0),
            l.off.kube_writes / l.off.polls.max(1.0),
            l.lag_sum / known
        );
        if let Some(s) = &l.stall {
            println!(
                "  N={n}: one running StallingSinkConnector among the {n} stalled: {} in status after {:.1} s, in the metric after {:.1} s \
                 from its records acknowledged; floor W = {} s (less up to one lag interval, {} s)",
                s.state,
                s.in_status.as_secs_f64(),
                s.in_metric.as_secs_f64(),
                opts.progress_window_seconds,
                b.interval.as_secs()
            );
        }
    }
}

/// Three panels against N: peak and steady RSS, time to Ready beside the REST floor, requests per cycle.
fn draw(path: &Path, rows: &[Row]) -> Result<(), Error> {
    use plotters::prelude::*;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let root = SVGBackend::new(path, (1200, 400)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((1, 3));
    let max_n = rows.iter().map(|r| r.n).max().unwrap_or(1) as f64 * 1.05;
    let top = |v: f64| if v > 0.0 { v * 1.2 } else { 1.0 };
    type Series<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);
    let panel = |area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
                 title: &str,
                 unit: &str,
                 series: Vec<Series>|
     -> Result<(), Error> {
        let y_max = top(series
            .iter()
            .flat_map(|s| s.2.iter().map(|p| p.1))
            .fold(0.0, f64::max));
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..max_n, 0f64..y_max)?;
        chart
            .configure_mesh()
            .x_desc("connectors (N)")
            .y_desc(unit)
            .draw()?;
        for (name, color, points) in series {
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
            chart.draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, color.filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    };
    let pts = |f: &dyn Fn(&Row) -> Option<f64>| -> Vec<(f64, f64)> {
        rows.iter()
            .filter_map(|r| f(r).map(|y| (r.n as f64, y)))
            .collect()
    };
    panel(
        &panels[0],
        "controller memory",
        "MiB",
        vec![
            ("peak RSS", RED, pts(&|r| Some(mib(r.peak_kib)))),
            ("steady RSS", BLUE, pts(&|r| Some(mib(r.rss_kib)))),
        ],
    )?;
    panel(
        &panels[1],
        "apply N → all Ready",
        "seconds",
        vec![
            ("controller", RED, pts(&|r| Some(r.to_ready.as_secs_f64()))),
            (
                "direct REST floor",
                BLUE,
                pts(&|r| r.floor.map(|f| f.as_secs_f64())),
            ),
        ],
    )?;
    let per = |r: &Row, x: f64| (r.polls > 0.0).then(|| x / r.polls);
    panel(
        &panels[2],
        "steady state, per poll cycle",
        "count",
        vec![
            ("Connect requests", RED, pts(&|r| per(r, r.requests))),
            ("Kubernetes writes", BLUE, pts(&|r| per(r, r.kube_writes))),
        ],
    )?;
    root.present()?;
    Ok(())
}
