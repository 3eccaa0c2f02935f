//! `make bench-lag`: sink lag and progress as the controller measures them, on the real stack, beside
//! Kafka's own `kafka-consumer-groups --describe`.
//!
//! Uses the stack named by `$CW_STACK_ENV` (a running `cw-stack up` with the CRDs installed and no
//! controller of its own). Runs a dedicated Connect worker, a KafkaConnectCluster with `spec.kafka` (the
//! broker's PLAINTEXT listener) and a controller of its own (from `$CW_BIN_DIR`) with `--lag-interval-seconds
//! I --progress-window-seconds W`, then:
//! - two **stalled** sinks (the stack's `StallingSinkConnector`, 3 partitions each), one in use (its offsets
//!   moved just before) and one idle (its offsets still for two windows at lag 0): they consume what is
//!   there, then their marker file is created and more records are produced. The first one's lag from status
//!   and from the metric, beside the group's summed LAG from Kafka's tool (offsets frozen, so the same
//!   offsets); for both, the time from the stall to the first stuck judgement (`Stalled`, or `Stopped`) in
//!   the metric and in status, beside the floor W;
//! - a **lagging** sink (one task per partition, each `put()` slowed by `put.delay.ms` and bounded by the
//!   consumer's `max.poll.records`) while a console producer writes faster than it consumes: the time to
//!   `Lagging` beside the floor W, and its lag beside Kafka's tool's at one moment (offsets move, so the two
//!   readings are a moment apart and not at identical offsets: both times are printed);
//! - **broker requests per measurement** in steady state (`connect_warden_kafka_requests_total` over
//!   `connect_warden_lag_measurement_duration_seconds_count`) with the three sinks, then with stopped sinks
//!   added (KafkaConnectors with `state: stopped`, committed offsets written through Connect), to show that
//!   it does not grow with the connectors.
//!
//! `bench_lag [--lag-interval-seconds I] [--progress-window-seconds W] [--poll-interval-seconds S]
//!  [--measurements M] [--sinks 3,10,50] [--produce-per-second R] [--put-delay-ms D] [--max-poll-records P]`

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kube::api::Api;
use shared::connect::{ClientSettings, ConnectClient};
use shared::crd::{ConnectorState, KafkaConnector};

mod common;
use common::{BenchEnv, Controller, Delta, Error, scrape, wait};

const STALLING_SINK: &str = "dev.connectwarden.stack.StallingSinkConnector";
/// Records taken as they are (the workers' default converter is JSON).
const BYTES: &str = "org.apache.kafka.connect.converters.ByteArrayConverter";
const PARTITIONS: u32 = 3;
/// The stalled sinks and the lagging one.
const RUNNING_SINKS: usize = 3;
/// Records on each sink's topic before it starts.
const FIRST_RECORDS: usize = 30;
/// Records produced to each stalled sink's topic once its put() blocks.
const STALL_RECORDS: usize = 45;
/// How often the bench looks for a judgement: finer than the lag interval, so the times are the
/// controller's, not the bench's.
const LOOK: Duration = Duration::from_millis(100);

#[derive(clap::Parser, Debug)]
struct Opts {
    /// The controller's lag interval (I).
    #[arg(long, default_value_t = 2)]
    lag_interval_seconds: u64,
    /// The controller's progress window (W).
    #[arg(long, default_value_t = 20)]
    progress_window_seconds: u64,
    /// The controller's poll interval of Connect.
    #[arg(long, default_value_t = 2)]
    poll_interval_seconds: u64,
    /// Lag measurements counted in steady state for each number of sinks.
    #[arg(long, default_value_t = 5)]
    measurements: u32,
    /// Numbers of sink connectors for requests per measurement: the three running sinks, then stopped ones.
    #[arg(long, value_delimiter = ',', default_value = "3,10,50")]
    sinks: Vec<usize>,
    /// Records per second written to the lagging sink's topic.
    #[arg(long, default_value_t = 100)]
    produce_per_second: u32,
    /// The lagging sink's `put.delay.ms`.
    #[arg(long, default_value_t = 1000)]
    put_delay_ms: u64,
    /// The lagging sink's `consumer.override.max.poll.records`: records per `put()` at most.
    #[arg(long, default_value_t = 5)]
    max_poll_records: u32,
}

fn main() -> Result<(), Error> {
    let (opts, env) = BenchEnv::init::<Opts>()?;
    let id = format!("lag-{}", std::process::id());
    eprintln!("starting a dedicated Connect worker …");
    let worker = env.worker(&format!("connect-{id}"), None)?;
    let markers = std::path::absolute(env.dir.join(&id))?;
    std::fs::create_dir_all(&markers)?;
    let bench = Bench {
        connect_url: worker.url(),
        env,
        id,
        markers,
        opts,
    };
    let result = common::runtime()?.block_on(run(&bench));
    // A stalled task holds its worker's shutdown until its marker is gone.
    let _ = std::fs::remove_dir_all(&bench.markers);
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
    /// Where the sinks' marker files go.
    markers: PathBuf,
    opts: Opts,
}

impl Bench {
    fn interval(&self) -> Duration {
        Duration::from_secs(self.opts.lag_interval_seconds)
    }

    fn window(&self) -> Duration {
        Duration::from_secs(self.opts.progress_window_seconds)
    }
}

/// The bench's namespace, its connectors and its controller.
struct Scene<'a> {
    b: &'a Bench,
    ns: String,
    kube: kube::Client,
    api: Api<KafkaConnector>,
    controller: &'a Controller,
}

impl Scene<'_> {
    /// The metric labels of connector `name`.
    fn labels<'n>(&'n self, name: &'n str) -> [(&'n str, &'n str); 2] {
        [("namespace", self.ns.as_str()), ("name", name)]
    }

    fn cluster(&self) -> String {
        format!("{}/main", self.ns)
    }

    /// Whether the metric shows `name` in progress state `state`.
    fn metric_state(&self, page: &str, name: &str, state: &str) -> bool {
        let [ns, n] = self.labels(name);
        stack::metrics_text::value(
            page,
            "connect_warden_connector_progress",
            &[ns, n, ("state", state)],
        ) == Some(1.0)
    }

    fn metric_lag(&self, page: &str, name: &str) -> Option<f64> {
        stack::metrics_text::value(
            page,
            "connect_warden_connector_lag_records",
            &self.labels(name),
        )
    }
}

async fn run(b: &Bench) -> Result<(), Error> {
    let kube = b.env.kube().await?;
    let connect = ConnectClient::new(&ClientSettings::new(&b.connect_url))?;
    let kafka = &b.env.kafka;
    let label = b.id.clone();
    let more = [
        "--lag-interval-seconds".to_string(),
        b.opts.lag_interval_seconds.to_string(),
        "--progress-window-seconds".to_string(),
        b.opts.progress_window_seconds.to_string(),
    ];
    let args = common::controller_args(&label, b.opts.poll_interval_seconds, &more);
    let controller = Controller::start(&b.env, &format!("controller-{label}.log"), &args)?;
    controller.ready().await?;
    common::namespace_with_kafka_cluster(&kube, &label, &label, &b.connect_url, &kafka.bootstrap)
        .await?;
    let scene = Scene {
        b,
        ns: label.clone(),
        kube: kube.clone(),
        api: Api::namespaced(kube.clone(), &label),
        controller: &controller,
    };

    let (stalled, idle_stalled, lagging) = ("stalled", "stalled-idle", "lagging");
    let topic = |name: &str| format!("{}-{name}", b.id);
    let idle = topic("idle");
    let topics = [stalled, idle_stalled, lagging].map(topic);
    let first = common::records("a", FIRST_RECORDS);
    eprintln!("topics and first records …");
    tokio::try_join!(
        common::create_topic(kafka, &topics[0], PARTITIONS),
        common::create_topic(kafka, &topics[1], PARTITIONS),
        common::create_topic(kafka, &topics[2], PARTITIONS),
        common::create_topic(kafka, &idle, PARTITIONS),
    )?;
    tokio::try_join!(
        common::produce(kafka, &topics[0], &first),
        common::produce(kafka, &topics[1], &first),
        common::produce(kafka, &topics[2], &first),
    )?;
    // Both stalled sinks block on one marker, so they stall at the same moment.
    let marker = b.markers.join("stall.marker");
    let sink = |name: &str, tasks: u32, marker: &Path, extra: serde_json::Value| {
        let mut config = serde_json::json!({
            "topics": topic(name),
            "marker.file": marker.display().to_string(),
            "key.converter": BYTES,
            "value.converter": BYTES,
        });
        if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        let spec = serde_json::json!({
            "class": STALLING_SINK, "tasksMax": tasks, "state": ConnectorState::Running, "config": config
        });
        Ok::<_, Error>((label.clone(), common::connector(name, &label, spec)?))
    };
    let slow = serde_json::json!({
        "put.delay.ms": b.opts.put_delay_ms.to_string(),
        "consumer.override.max.poll.records": b.opts.max_poll_records.to_string(),
    });
    let none = serde_json::json!({});
    common::create_all(
        &kube,
        [
            sink(stalled, 1, &marker, none.clone())?,
            sink(idle_stalled, 1, &marker, none)?,
            sink(lagging, PARTITIONS, &b.markers.join("never.marker"), slow)?,
        ],
    )
    .await?;
    wait("the sinks running", Duration::from_secs(180), || async {
        Ok(common::ready_count(&scene.api, "Running").await? == RUNNING_SINKS)
    })
    .await?;
    for name in [stalled, idle_stalled, lagging] {
        wait(
            &format!("{name}: OK with lag 0"),
            Duration::from_secs(180),
            || async {
                let p = common::progress(&scene.api, name).await?;
                Ok(p.state == "OK" && p.lag_records == Some(0))
            },
        )
        .await?;
    }
    let caught_up = Instant::now();

    // The idle sink's offsets stay still for over two windows before the stall; the other one's move
    // just before it, as those of a sink in use.
    let still = b.window() * 2 + b.interval();
    eprintln!(
        "waiting {:.0?} for {idle_stalled}'s offsets to be still for two windows …",
        still.saturating_sub(caught_up.elapsed())
    );
    tokio::time::sleep(still.saturating_sub(caught_up.elapsed())).await;
    common::consumed_afresh(
        kafka,
        &controller.metrics,
        &scene.ns,
        stalled,
        &topics[0],
        FIRST_RECORDS,
    )
    .await?;
    eprintln!("stalling {stalled} and {idle_stalled} …");
    let (stall, idle_stall) = stall(
        &scene,
        [stalled, idle_stalled],
        [&topics[0], &topics[1]],
        &marker,
    )
    .await?;
    eprintln!("producing faster than {lagging} consumes …");
    let lag = lag(&scene, lagging, &topics[2]).await?;
    eprintln!("requests per measurement …");
    let requests = requests(&scene, &connect, &idle).await?;
    controller.stop()?;
    print(b, &stall, &idle_stall, &lag, &requests);
    Ok(())
}

/// The stalled sink's figures.
struct Stall {
    status_lag: Option<i64>,
    metric_lag: Option<f64>,
    kafka_lag: i64,
    /// Partitions in Kafka's answer, and those without a committed offset.
    kafka_partitions: usize,
    kafka_uncommitted: usize,
    /// From the stall's records acknowledged to the first stuck judgement.
    judged: common::Judged,
    /// From the marker's creation (the producer's JVM start lies between) to the judgement in status.
    marker_to_status: Duration,
    message: String,
}

/// Creates the marker (the sinks' `put()` blocks from then on), produces records to both sinks' topics,
/// and times the judgements; then reads the first sink's lag beside Kafka's tool.
async fn stall(
    s: &Scene<'_>,
    names: [&str; 2],
    topics: [&str; 2],
    marker: &Path,
) -> Result<(Stall, common::Judged), Error> {
    let kafka = &s.b.env.kafka;
    std::fs::write(marker, b"stall\n")?;
    let marked = Instant::now();
    let more = common::records("b", STALL_RECORDS);
    tokio::try_join!(
        common::produce(kafka, topics[0], &more),
        common::produce(kafka, topics[1], &more),
    )?;
    let produced = Instant::now();
    let timeout = s.b.window() * 4 + Duration::from_secs(120);
    let metrics = &s.controller.metrics;
    let (judged, idle) = tokio::try_join!(
        common::time_to_stuck(&s.api, metrics, names[0], produced, timeout),
        common::time_to_stuck(&s.api, metrics, names[1], produced, timeout),
    )?;
    let p = common::progress(&s.api, names[0]).await?;
    let metric_lag = s.metric_lag(&scrape(metrics)?, names[0]);
    // Offsets are frozen while put() blocks: Kafka's tool reads the same offsets.
    let rows = common::describe_group(kafka, &format!("connect-{}", names[0])).await?;
    let stall = Stall {
        status_lag: p.lag_records,
        metric_lag,
        kafka_lag: common::summed_lag(&rows),
        kafka_partitions: rows.len(),
        kafka_uncommitted: rows.iter().filter(|r| r.current_offset.is_none()).count(),
        marker_to_status: produced.duration_since(marked) + judged.in_status,
        judged,
        message: p.message.unwrap_or_default(),
    };
    Ok((stall, idle))
}

/// The lagging sink's figures.
struct Lag {
    /// From the first measurement that showed lag (the metric above 0) to `Lagging` in the metric and in
    /// status.
    to_metric: Duration,
    to_status: Duration,
    /// From the producer's start (its JVM start included) to `Lagging` in status.
    producer_to_status: Duration,
    /// connect-warden's lag (the metric) just before Kafka's tool ran, and just after it.
    metric_before: f64,
    metric_after: f64,
    /// Kafka's summed LAG, and when the tool ran: from its start to its exit, after the first metric read.
    kafka_lag: i64,
    kafka_from: Duration,
    kafka_to: Duration,
    status_lag: Option<i64>,
    message: String,
    produced: u64,
}

/// Writes faster than the sink consumes until it is `Lagging`, then reads its lag beside Kafka's tool.
async fn lag(s: &Scene<'_>, name: &str, topic: &str) -> Result<Lag, Error> {
    let kafka = &s.b.env.kafka;
    let producer = common::Producer::start(kafka, topic, s.b.opts.produce_per_second)?;
    let started = Instant::now();
    let deadline = s.b.window() * 4 + Duration::from_secs(120);
    let (mut first_lag, mut metric_at, mut status_at) = (None, None, None);
    // The lag at each measurement seen, for a failure to show how it moved.
    let mut seen: Vec<f64> = Vec::new();
    while metric_at.is_none() || status_at.is_none() {
        if started.elapsed() > deadline {
            let p = common::progress(&s.api, name).await?;
            let _ = producer.stop().await;
            return Err(format!(
                "{name}: not Lagging after {deadline:?}: {p:?}; lag seen: {seen:?}"
            )
            .into());
        }
        let page = scrape(&s.controller.metrics)?;
        if let Some(l) = s.metric_lag(&page, name) {
            if seen.last() != Some(&l) {
                seen.push(l);
            }
            if l > 0.0 && first_lag.is_none() {
                first_lag = Some(Instant::now());
            }
        }
        if metric_at.is_none() && s.metric_state(&page, name, "Lagging") {
            metric_at = Some(Instant::now());
        }
        if status_at.is_none() && common::progress(&s.api, name).await?.state == "Lagging" {
            status_at = Some(Instant::now());
        }
        tokio::time::sleep(LOOK).await;
    }
    let (first_lag, metric_at, status_at) = (
        first_lag.unwrap_or(started),
        metric_at.unwrap_or(started),
        status_at.unwrap_or(started),
    );
    let p = common::progress(&s.api, name).await?;
    let before = Instant::now();
    let metric_before = s.metric_lag(&scrape(&s.controller.metrics)?, name);
    let kafka_from = before.elapsed();
    let rows = common::describe_group(kafka, &format!("connect-{name}")).await?;
    let kafka_to = before.elapsed();
    let metric_after = s.metric_lag(&scrape(&s.controller.metrics)?, name);
    let produced = producer.stop().await?;
    Ok(Lag {
        to_metric: metric_at.saturating_duration_since(first_lag),
        to_status: status_at.saturating_duration_since(first_lag),
        producer_to_status: status_at.saturating_duration_since(started),
        metric_before: metric_before.unwrap_or(f64::NAN),
        metric_after: metric_after.unwrap_or(f64::NAN),
        kafka_lag: common::summed_lag(&rows),
        kafka_from,
        kafka_to,
        status_lag: p.lag_records,
        message: p.message.unwrap_or_default(),
        produced,
    })
}

/// Requests per measurement at one number of sinks.
struct Requests {
    sinks: usize,
    measurements: f64,
    requests: f64,
    mean_ms: f64,
}

/// Requests per measurement in steady state at each of `--sinks`, adding stopped sinks (each with committed
/// offsets on the idle topic, so its group holds partitions) between the figures.
async fn requests(
    s: &Scene<'_>,
    connect: &ConnectClient,
    idle: &str,
) -> Result<Vec<Requests>, Error> {
    let b = s.b;
    let cluster = s.cluster();
    let cl = [("cluster", cluster.as_str())];
    let mut have = RUNNING_SINKS;
    let mut out = Vec::new();
    for &n in &b.opts.sinks {
        if n < have {
            return Err(format!(
                "--sinks must grow from {RUNNING_SINKS} (the running sinks); got {n}"
            )
            .into());
        }
        if n > have {
            let names: Vec<String> = (have..n).map(|i| format!("idle-{i}")).collect();
            let fleet = names
                .iter()
                .map(|name| {
                    let spec = common::file_sink(ConnectorState::Stopped, idle);
                    Ok((s.ns.clone(), common::connector(name, &s.ns, spec)?))
                })
                .collect::<Result<Vec<_>, Error>>()?;
            common::create_all(&s.kube, fleet).await?;
            wait(
                &format!("{} stopped sinks Ready", n - RUNNING_SINKS),
                Duration::from_secs(300),
                || async { Ok(common::ready_count(&s.api, "Stopped").await? == n - RUNNING_SINKS) },
            )
            .await?;
            common::write_sink_offsets(connect, &names, idle, PARTITIONS as i32, 0).await?;
            have = n;
        }
        // Every sink measured with a known lag, then one more measurement before counting.
        wait(
            &format!("{n} sinks with a lag"),
            Duration::from_secs(300),
            || async {
                let page = scrape(&s.controller.metrics)?;
                let with_lag = stack::metrics_text::samples(&page)
                    .filter(|x| {
                        x.matches(
                            "connect_warden_connector_lag_records",
                            &[("namespace", s.ns.as_str())],
                        )
                    })
                    .count();
                Ok(with_lag == n)
            },
        )
        .await?;
        tokio::time::sleep(b.interval()).await;
        let d = Delta::over(&s.controller.metrics, b.interval(), b.opts.measurements).await?;
        let name = "connect_warden_lag_measurement_duration_seconds";
        let measurements = d.sum(&format!("{name}_count"), &cl);
        out.push(Requests {
            sinks: n,
            measurements,
            requests: d.sum("connect_warden_kafka_requests_total", &cl),
            mean_ms: d.sum(&format!("{name}_sum"), &cl) / measurements * 1000.0,
        });
        eprintln!(
            "[{n} sinks] {} requests in {measurements} measurements",
            out[out.len() - 1].requests
        );
    }
    Ok(out)
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or("-".to_string(), |v| v.to_string())
}

fn print(b: &Bench, stall: &Stall, idle: &common::Judged, lag: &Lag, requests: &[Requests]) {
    let o = &b.opts;
    let (w, i) = (o.progress_window_seconds, o.lag_interval_seconds);
    println!();
    println!(
        "connect-warden lag bench — {} (lag interval I = {i} s, progress window W = {w} s, poll interval {} s, Connect {})",
        b.env.bin.display(),
        o.poll_interval_seconds,
        b.connect_url
    );
    println!();
    println!(
        "stalled sinks: 1 task each, {PARTITIONS} partitions, {STALL_RECORDS} records produced once their put() blocks"
    );
    println!(
        "  lag: status.progress.lagRecords {}, connect_warden_connector_lag_records {}, kafka-consumer-groups --describe {} \
         ({} partitions, {} without a committed offset; offsets frozen, so the same offsets)",
        opt(stall.status_lag),
        opt(stall.metric_lag),
        stall.kafka_lag,
        stall.kafka_partitions,
        stall.kafka_uncommitted
    );
    println!(
        "  in use (offsets moved just before): {} in the metric after {}, in status after {}, from the records acknowledged \
         ({} from the marker); floor W = {w} s, less up to I = {i} s \
         and the producer's exit (the last measurement at lag 0 may precede the records)",
        stall.judged.state,
        secs(stall.judged.in_metric),
        secs(stall.judged.in_status),
        secs(stall.marker_to_status)
    );
    println!("    status message: {}", stall.message);
    println!(
        "  idle (offsets still for 2W before, at lag 0): {} in the metric after {}, in status after {}{}",
        idle.state,
        secs(idle.in_metric),
        secs(idle.in_status),
        if idle.state == "Stopped" {
            " — Stalled skipped: Stopped's 2W counts from the last offset move, even one made while there was no lag"
        } else {
            ""
        }
    );
    println!(
        "lagging sink: {PARTITIONS} tasks, ≤ {} records per put(), put() {} ms (≤ {:.0} records/s); producer {} records/s ({} written)",
        o.max_poll_records,
        o.put_delay_ms,
        PARTITIONS as f64 * o.max_poll_records as f64 * 1000.0 / o.put_delay_ms.max(1) as f64,
        o.produce_per_second,
        lag.produced
    );
    println!(
        "  → Lagging: metric {}, status {} after the first measurement with lag ({} after the producer started); floor W = {w} s",
        secs(lag.to_metric),
        secs(lag.to_status),
        secs(lag.producer_to_status)
    );
    println!(
        "  lag at one moment (offsets move, so the readings are not at identical offsets): connect-warden (metric) {:.0} at 0.0 s, \
         kafka-consumer-groups {} read between {:.1} s and {:.1} s (its JVM's start and exit), connect-warden {:.0} at {:.1} s; \
         each metric reading is its last measurement's, up to I = {i} s older; status.progress.lagRecords {} (written when the state changed)",
        lag.metric_before,
        lag.kafka_lag,
        lag.kafka_from.as_secs_f64(),
        lag.kafka_to.as_secs_f64(),
        lag.metric_after,
        lag.kafka_to.as_secs_f64(),
        opt(lag.status_lag)
    );
    println!("    status message: {}", lag.message);
    println!();
    println!(
        "{:<50} {:>20} {:>22} {:>7}",
        "figure", "connect-warden", "kafka-consumer-groups", "floor"
    );
    let row = |what: &str, ours: String, theirs: String, floor: String| {
        println!("{what:<50} {ours:>20} {theirs:>22} {floor:>7}");
    };
    row(
        "stalled: lag, records (status / metric)",
        format!("{} / {}", opt(stall.status_lag), opt(stall.metric_lag)),
        stall.kafka_lag.to_string(),
        "-".into(),
    );
    for (what, j) in [("stalled, in use", &stall.judged), ("stalled, idle", idle)] {
        row(
            &format!("{what}: stall → {} (status / metric)", j.state),
            format!(
                "{:.1} / {:.1} s",
                j.in_status.as_secs_f64(),
                j.in_metric.as_secs_f64()
            ),
            "-".into(),
            format!("{w} s"),
        );
    }
    row(
        "lagging: first lag → Lagging (status / metric)",
        format!(
            "{:.1} / {:.1} s",
            lag.to_status.as_secs_f64(),
            lag.to_metric.as_secs_f64()
        ),
        "-".into(),
        format!("{w} s"),
    );
    row(
        &format!(
            "lagging: lag, records (metric, {:.1} s apart)",
            lag.kafka_to.as_secs_f64()
        ),
        format!("{:.0} → {:.0}", lag.metric_before, lag.metric_after),
        format!("{} (read between)", lag.kafka_lag),
        "-".into(),
    );
    for r in requests {
        row(
            &format!("Kafka requests per measurement, {} sinks", r.sinks),
            format!("{:.2}", r.requests / r.measurements),
            "-".into(),
            "-".into(),
        );
    }
    println!();
    println!(
        "{:>6} {:>13} {:>9} {:>16} {:>14}",
        "sinks", "measurements", "requests", "per measurement", "mean duration"
    );
    for r in requests {
        println!(
            "{:>6} {:>13} {:>9} {:>16.2} {:>11.1} ms",
            r.sinks,
            r.measurements,
            r.requests,
            r.requests / r.measurements,
            r.mean_ms
        );
    }
}
