//! `make bench-clusters`: one controller polling several Connect clusters at once, and URL sharing.
//!
//! Uses the stack named by `$CW_STACK_ENV` (a running `cw-stack up` with the CRDs installed and no
//! controller of its own). Starts `--clusters` dedicated Connect workers, each its own Connect cluster (own
//! `group.id`), and one controller (from `$CW_BIN_DIR`, default `target/debug`; use a release build for
//! real figures). Each cluster gets a KafkaConnectCluster in its own namespace and a fleet of stopped
//! FileStreamSink connectors: `--big` on the first, `--small` on each of the others, all applied at once.
//!
//! Every figure about timing comes from two independent sides: the controller's own metrics (polls and
//! Connect requests by cluster, the list request's duration) and each worker's REST request log (every
//! `GET /connectors?expand=status&expand=info` the controller sent, when it ended and how long Connect took).
//! Per cluster it prints:
//! - the time until all of its connectors are `Ready`, while the big fleet is being created;
//! - in steady state: polls per interval and Connect requests per interval (target: 1 and 1), the poll's
//!   duration on Connect (p50, max) and in the controller (mean);
//! - the gaps between two consecutive polls, during the big fleet's creation and in steady state: a poll
//!   of a small cluster held up by the big one shows as a gap longer than the interval.
//!
//! Then `--sharing` more KafkaConnectClusters, in namespaces of their own, name the second cluster's URL:
//! the worker must still see one list request per interval, every one of them counted as a poll of each
//! KafkaConnectCluster, and their connectors are reconciled.
//!
//! `bench_clusters [--clusters 5] [--big 1000] [--small 20] [--sharing 3] [--sharing-connectors 5]
//!  [--poll-interval-seconds S] [--cycles C]`

use std::path::PathBuf;
use std::time::{Duration, Instant};

use jiff::SignedDuration;
use jiff::civil::DateTime;
use kube::api::Api;
use shared::crd::ConnectorState;

mod common;
use common::{BenchEnv, Controller, Delta, Error, LIST_PATH, wait};

#[derive(clap::Parser, Debug)]
struct Opts {
    /// Connect clusters, each on its own worker; the first one is the big one.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(2..=20))]
    clusters: u32,
    /// Connectors on the first cluster.
    #[arg(long, default_value_t = 1000)]
    big: usize,
    /// Connectors on each of the other clusters.
    #[arg(long, default_value_t = 20)]
    small: usize,
    /// KafkaConnectClusters, in other namespaces, with the URL of the second cluster (0: skip).
    #[arg(long, default_value_t = 3)]
    sharing: usize,
    /// Connectors through each of them.
    #[arg(long, default_value_t = 5)]
    sharing_connectors: usize,
    /// The controller's poll interval.
    #[arg(long, default_value_t = 5)]
    poll_interval_seconds: u64,
    /// Poll cycles measured in steady state.
    #[arg(long, default_value_t = 6)]
    cycles: u32,
}

fn main() -> Result<(), Error> {
    let (opts, env) = BenchEnv::init::<Opts>()?;
    let id = format!("clusters-{}", std::process::id());
    let mut workers = Vec::new();
    for i in 0..opts.clusters {
        eprintln!(
            "starting Connect worker {}/{} (its own Connect cluster) …",
            i + 1,
            opts.clusters
        );
        workers.push(env.worker(&format!("connect-{id}-{i}"), None)?);
    }
    let bench = Bench {
        env,
        workers: workers
            .iter()
            .map(|w| (w.url(), w.log().to_path_buf()))
            .collect(),
        id,
        interval: Duration::from_secs(opts.poll_interval_seconds),
    };
    let result = common::runtime()?.block_on(run(&opts, &bench));
    drop(workers);
    common::logs_on_failure(result, format_args!("logs in {}", bench.env.logs.display()))
}

struct Bench {
    env: BenchEnv,
    /// Each worker's URL and log.
    workers: Vec<(String, PathBuf)>,
    id: String,
    interval: Duration,
}

/// One KafkaConnectCluster of the bench: where it is, which worker it names, its fleet.
struct Target {
    ns: String,
    worker: usize,
    /// Connector name prefix (unique on its worker).
    prefix: String,
    n: usize,
    /// Time from the start of the apply to all its connectors `Ready`.
    ready_after: Option<Duration>,
}

impl Target {
    fn label(&self) -> String {
        format!("{}/main", self.ns)
    }
}

/// A list request as the worker's REST request log shows it.
#[derive(Debug, Clone, Copy)]
struct ListRequest {
    /// When it was logged (its end), worker clock.
    end: DateTime,
    /// Time Connect took, ms.
    ms: i64,
}

impl ListRequest {
    fn start(&self) -> DateTime {
        self.end - SignedDuration::from_millis(self.ms)
    }
}

/// The controller's list requests in a Connect worker's log (its Jetty request log lines, e.g.
/// `[2026-11-30T02:55:54,917] INFO  127.0.0.1 - - [...] "GET /connectors?expand=status&expand=info
/// HTTP/1.1" 200 614 "" "connect-warden/0.1.0" 39 (o.a.k.c.r.r.RestServer)`).
fn list_requests(log: &str) -> Vec<ListRequest> {
    let needle = format!("\"GET {LIST_PATH} HTTP/1.1\"");
    log.lines()
        .filter(|l| l.contains(&needle) && l.contains("\"connect-warden/"))
        .filter_map(|l| {
            let stamp = l.strip_prefix('[')?.split(']').next()?;
            let end = DateTime::strptime("%Y-%m-%dT%H:%M:%S,%3f", stamp).ok()?;
            let ms = l.rsplit(" (").nth(1)?.rsplit(' ').next()?.parse().ok()?;
            Some(ListRequest { end, ms })
        })
        .collect()
}

/// A worker log read from a byte offset onwards.
struct LogMark {
    path: PathBuf,
    offset: u64,
}

impl LogMark {
    fn now(path: &std::path::Path) -> LogMark {
        LogMark {
            path: path.to_path_buf(),
            offset: std::fs::metadata(path).map_or(0, |m| m.len()),
        }
    }

    fn since(&self) -> Result<Vec<ListRequest>, Error> {
        Ok(list_requests(&common::read_from(&self.path, self.offset)?))
    }
}

/// What the worker log says about one cluster's polls in a window.
#[derive(Debug, Default, Clone)]
struct Polls {
    count: usize,
    /// Gaps between the starts of consecutive polls, ms.
    gaps: Vec<i64>,
    /// Time Connect took, ms.
    durations: Vec<i64>,
}

impl Polls {
    fn of(reqs: &[ListRequest]) -> Polls {
        let starts: Vec<DateTime> = reqs.iter().map(ListRequest::start).collect();
        Polls {
            count: reqs.len(),
            gaps: starts
                .windows(2)
                .map(|w| i64::try_from(w[1].duration_since(w[0]).as_millis()).unwrap_or(i64::MAX))
                .collect(),
            durations: reqs.iter().map(|r| r.ms).collect(),
        }
    }

    /// Polls per interval: the interval over the mean gap.
    fn per_interval(&self, interval: Duration) -> f64 {
        if self.gaps.is_empty() {
            return f64::NAN;
        }
        let mean = self.gaps.iter().sum::<i64>() as f64 / self.gaps.len() as f64;
        interval.as_millis() as f64 / mean
    }

    fn max_gap(&self) -> Option<i64> {
        self.gaps.iter().copied().max()
    }

    fn min_gap(&self) -> Option<i64> {
        self.gaps.iter().copied().min()
    }
}

fn percentile(values: &[i64], p: f64) -> Option<i64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).copied()
}

async fn run(opts: &Opts, b: &Bench) -> Result<(), Error> {
    let kube = b.env.kube().await?;
    let args = common::controller_args(&b.id, b.interval.as_secs(), &[]);
    let controller = Controller::start(&b.env, &format!("controller-{}.log", b.id), &args)?;
    controller.ready().await?;

    let mut targets: Vec<Target> = (0..b.workers.len())
        .map(|i| Target {
            ns: format!("{}-{i}", b.id),
            worker: i,
            prefix: format!("c{i}"),
            n: if i == 0 { opts.big } else { opts.small },
            ready_after: None,
        })
        .collect();
    for t in &targets {
        common::namespace_with_cluster(&kube, &t.ns, &b.id, &b.workers[t.worker].0).await?;
    }

    // Every fleet applied at once, small and big interleaved, as one GitOps sync of many folders would.
    eprintln!(
        "applying {} + {}×{} KafkaConnectors …",
        opts.big,
        targets.len() - 1,
        opts.small
    );
    let marks: Vec<LogMark> = b.workers.iter().map(|w| LogMark::now(&w.1)).collect();
    let started = Instant::now();
    let creating = create_fleets(&kube, b, &targets);
    let watching = async {
        let mut ready_after = vec![None; targets.len()];
        while ready_after.iter().any(Option::is_none) {
            if started.elapsed() > Duration::from_secs(3600) {
                return Err::<_, Error>("timed out waiting for every fleet Ready".into());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            for (t, r) in targets.iter().zip(ready_after.iter_mut()) {
                if r.is_none() && ready_count(&kube, t).await? == t.n {
                    *r = Some(started.elapsed());
                    eprintln!("  {} Ready after {:.1?}", t.label(), started.elapsed());
                }
            }
        }
        Ok(ready_after)
    };
    let (created, ready) = futures::join!(creating, watching);
    created?;
    for (t, r) in targets.iter_mut().zip(ready?) {
        t.ready_after = r;
    }
    let filling: Vec<Polls> = marks
        .iter()
        .map(|m| m.since().map(|r| Polls::of(&r)))
        .collect::<Result<_, _>>()?;

    // Steady state over whole cycles, after the last status writes have settled.
    eprintln!("steady state …");
    tokio::time::sleep(b.interval * 2).await;
    let marks: Vec<LogMark> = b.workers.iter().map(|w| LogMark::now(&w.1)).collect();
    let d = Delta::over(&controller.metrics, b.interval, opts.cycles).await?;
    let steady: Vec<Polls> = marks
        .iter()
        .map(|m| m.since().map(|r| Polls::of(&r)))
        .collect::<Result<_, _>>()?;
    print_clusters(opts, b, &targets, &filling, &steady, &d);

    if opts.sharing > 0 {
        sharing(opts, b, &kube, &controller, &targets[1]).await?;
    }
    controller.stop()?;
    Ok(())
}

/// Creates every target's stopped connectors, round-robin across targets.
async fn create_fleets(kube: &kube::Client, b: &Bench, targets: &[Target]) -> Result<(), Error> {
    let most = targets.iter().map(|t| t.n).max().unwrap_or(0);
    let order = (0..most)
        .flat_map(|j| targets.iter().filter(move |t| j < t.n).map(move |t| (t, j)))
        .map(|(t, j)| {
            let spec = common::file_sink(ConnectorState::Stopped, "bench-clusters");
            let k = common::connector(&format!("{}-{j}", t.prefix), &b.id, spec)?;
            Ok((t.ns.clone(), k))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    common::create_all(kube, order).await
}

/// The target's connectors `Ready` (stopped).
async fn ready_count(kube: &kube::Client, t: &Target) -> Result<usize, Error> {
    common::ready_count(&Api::namespaced(kube.clone(), &t.ns), "Stopped").await
}

fn ms(v: Option<i64>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

fn print_clusters(
    opts: &Opts,
    b: &Bench,
    targets: &[Target],
    filling: &[Polls],
    steady: &[Polls],
    d: &Delta,
) {
    let interval_ms = b.interval.as_millis();
    println!();
    println!(
        "connect-warden clusters bench — {} (poll interval {} s, {} steady-state cycles, {} Connect clusters polled by one controller)",
        b.env.bin.display(),
        b.interval.as_secs(),
        opts.cycles,
        targets.len()
    );
    println!(
        "{:<30} {:>6} {:>9} | {:>9} {:>9} {:>9} {:>8} {:>8} {:>8} | {:>13} {:>13}",
        "cluster",
        "conns",
        "Ready s",
        "polls/int",
        "Connect/i",
        "lists/i",
        "p50 ms",
        "max ms",
        "ctl ms",
        "gap fill ms",
        "gap steady ms"
    );
    for (i, t) in targets.iter().enumerate() {
        let label = t.label();
        let s = &steady[t.worker];
        let f = &filling[t.worker];
        let per_interval = s.per_interval(b.interval);
        let polls = d.polls(&label);
        // Requests per poll, from the controller's counters, times polls per interval, from the worker.
        let per_poll = |x: f64| {
            if polls > 0.0 {
                x / polls * per_interval
            } else {
                f64::NAN
            }
        };
        println!(
            "{:<30} {:>6} {:>9.1} | {:>9.2} {:>9.2} {:>9.2} {:>8} {:>8} {:>8.1} | {:>6}–{:<6} {:>6}–{:<6}",
            if i == 0 {
                format!("{label} (big)")
            } else {
                label.clone()
            },
            t.n,
            t.ready_after.map_or(f64::NAN, |r| r.as_secs_f64()),
            per_interval,
            per_poll(d.requests(&label)),
            per_poll(d.lists(&label)),
            ms(percentile(&s.durations, 0.5)),
            ms(s.durations.iter().copied().max()),
            d.list_mean_ms(&label),
            ms(f.min_gap()),
            ms(f.max_gap()),
            ms(s.min_gap()),
            ms(s.max_gap()),
        );
    }
    let small_late = targets
        .iter()
        .skip(1)
        .filter_map(|t| {
            let worst = filling[t.worker]
                .max_gap()
                .max(steady[t.worker].max_gap())?;
            Some(worst - interval_ms as i64)
        })
        .max();
    println!(
        "Ready s: from the apply of every fleet at once. polls/int: the interval over the mean gap between the \
         worker's list requests. Connect/i, lists/i: Connect requests (all, list) per poll from the controller's \
         metrics, times polls/int. p50/max ms: time Connect took for the list request (worker's request log); \
         ctl ms: the controller's mean for it (send and read the answer). gap: least–most time between the starts \
         of two consecutive polls of the cluster, while the fleets were created (writes ask for early polls) and \
         in steady state."
    );
    match small_late {
        Some(late) if late > 0 => println!(
            "small clusters: the longest gap between two polls was {late} ms beyond the {interval_ms} ms interval"
        ),
        Some(late) => println!(
            "small clusters: no poll later than the interval (longest gap {} ms for a {interval_ms} ms interval)",
            interval_ms as i64 + late
        ),
        None => println!("small clusters: too few polls seen to tell"),
    }
}

/// `--sharing` KafkaConnectClusters with `shared`'s URL in namespaces of their own, with connectors: one
/// list request per interval still, counted as a poll of every one of them.
async fn sharing(
    opts: &Opts,
    b: &Bench,
    kube: &kube::Client,
    controller: &Controller,
    shared: &Target,
) -> Result<(), Error> {
    let url = &b.workers[shared.worker].0;
    eprintln!(
        "{} more KafkaConnectClusters with the URL of {} …",
        opts.sharing,
        shared.label()
    );
    let extra: Vec<Target> = (0..opts.sharing)
        .map(|k| Target {
            ns: format!("{}-shared-{k}", b.id),
            worker: shared.worker,
            prefix: format!("x{k}"),
            n: opts.sharing_connectors,
            ready_after: None,
        })
        .collect();
    let started = Instant::now();
    for t in &extra {
        common::namespace_with_cluster(kube, &t.ns, &b.id, url).await?;
    }
    create_fleets(kube, b, &extra).await?;
    wait(
        "the sharing clusters and their connectors Ready",
        Duration::from_secs(600),
        || async {
            for t in &extra {
                if !common::cluster_ready(kube, &t.ns).await? || ready_count(kube, t).await? != t.n
                {
                    return Ok(false);
                }
            }
            Ok(true)
        },
    )
    .await?;
    let took = started.elapsed();
    tokio::time::sleep(b.interval * 2).await;
    let mark = LogMark::now(&b.workers[shared.worker].1);
    let d = Delta::over(&controller.metrics, b.interval, opts.cycles).await?;
    let seen = Polls::of(&mark.since()?);

    let members: Vec<String> = std::iter::once(shared.label())
        .chain(extra.iter().map(Target::label))
        .collect();
    println!();
    println!(
        "sharing: {} KafkaConnectClusters name {url} ({} and {} in other namespaces with {} connectors each); all Ready after {:.1} s",
        members.len(),
        shared.label(),
        extra.len(),
        opts.sharing_connectors,
        took.as_secs_f64()
    );
    println!(
        "  the worker saw {} list requests in {} cycles: {:.2} per interval (gaps {}–{} ms)",
        seen.count,
        opts.cycles,
        seen.per_interval(b.interval),
        ms(seen.min_gap()),
        ms(seen.max_gap())
    );
    let lists: f64 = members.iter().map(|m| d.lists(m)).sum();
    let requests: f64 = members.iter().map(|m| d.requests(m)).sum();
    println!(
        "  the controller: {lists} list requests and {requests} Connect requests in all for that URL; polls counted per KafkaConnectCluster:"
    );
    for m in &members {
        println!(
            "    {m:<32} polls {:>4}  Connect requests under its label {:>4}",
            d.polls(m),
            d.requests(m)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_requests_are_read_from_the_request_log() {
        let log = "[2026-11-30T02:55:53,921] INFO  127.0.0.1 - - [30/Nov/2026:02:55:53 +0000] \"GET /connectors?expand=status&expand=info HTTP/1.1\" 200 2 \"\" \"connect-warden/0.1.0\" 43 (o.a.k.c.r.r.RestServer)\n\
                   [2026-11-30T02:55:54,000] INFO  127.0.0.1 - - [30/Nov/2026:02:55:54 +0000] \"GET /connectors HTTP/1.1\" 200 2 \"\" \"connect-warden/0.1.0\" 3 (o.a.k.c.r.r.RestServer)\n\
                   [2026-11-30T02:55:55,941] INFO  127.0.0.1 - - [30/Nov/2026:02:55:55 +0000] \"GET /connectors?expand=status&expand=info HTTP/1.1\" 200 614 \"\" \"connect-warden/0.1.0\" 14 (o.a.k.c.r.r.RestServer)\n";
        let r = list_requests(log);
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].ms, r[1].ms), (43, 14));
        let p = Polls::of(&r);
        // Starts: 55.927 and 53.878.
        assert_eq!(p.gaps, vec![2049]);
    }
}
