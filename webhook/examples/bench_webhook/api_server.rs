//! KafkaConnector creates through the real API server, with the webhook and without it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use shared::connect::{ClientSettings, ConnectClient};
use stack::{metrics_text, warden};

use crate::figures::{cpu_time, ms, percentile};
use crate::{Error, connector};

/// Concurrent clients creating KafkaConnectors through the API server.
pub(crate) const API_CLIENTS: [usize; 3] = [1, 10, 50];
/// Rounds per case and client count; each round measures with the webhook, without it, and (for new
/// configs) Connect's validate called directly, one after the other, so the machine's noise hits each alike.
pub(crate) const API_ROUNDS: usize = 3;
pub(crate) const API_WARMUP: Duration = Duration::from_millis(500);
pub(crate) const API_MEASURE: Duration = Duration::from_secs(3);
/// The targets: the webhook's added p50 for a config validated before, added p50 beyond Connect's own
/// validate for a new config, added p99 at one client, and create throughput kept (config validated before).
pub(crate) const TARGET_HIT_P50: Duration = Duration::from_millis(1);
pub(crate) const TARGET_MISS_P50_OVER_CONNECT: Duration = Duration::from_millis(1);
pub(crate) const TARGET_P99_AT_1: Duration = Duration::from_millis(5);
pub(crate) const TARGET_THROUGHPUT: f64 = 0.8;

/// The processes whose CPU time a create costs, read from `/proc` around each measured window.
pub(crate) struct Processes {
    names: Vec<&'static str>,
    pids: Vec<u32>,
}

impl Processes {
    /// Each process's CPU time so far, then the whole machine's.
    pub(crate) fn cpu(&self) -> Vec<Duration> {
        let mut out: Vec<Duration> = self.pids.iter().map(|p| cpu_time(*p)).collect();
        out.push(machine_busy());
        out
    }
}

/// The CPU time all processes on the machine have used so far (`/proc/stat`, in USER_HZ ticks of 10 ms),
/// or zero where that is not readable: what the other processes sharing the cores took is the machine's
/// time less ours.
pub(crate) fn machine_busy() -> Duration {
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
pub(crate) struct Window {
    samples: Vec<Duration>,
    secs: f64,
    cpu: Vec<Duration>,
}

/// One measured side (with the webhook, without it, Connect directly), summed over its rounds.
#[derive(Default)]
pub(crate) struct Side {
    sorted: Vec<Duration>,
    secs: f64,
    cpu: Vec<Duration>,
}

impl Side {
    pub(crate) fn add(&mut self, w: Window) {
        self.sorted.extend(w.samples);
        self.sorted.sort();
        self.secs += w.secs;
        self.cpu.resize(w.cpu.len(), Duration::ZERO);
        for (acc, c) in self.cpu.iter_mut().zip(w.cpu) {
            *acc += c;
        }
    }
    pub(crate) fn p(&self, q: f64) -> Duration {
        percentile(&self.sorted, q)
    }
    pub(crate) fn rate(&self) -> f64 {
        self.sorted.len() as f64 / self.secs.max(f64::EPSILON)
    }
    /// CPU milliseconds per call of each process.
    pub(crate) fn cpu_per_call(&self) -> Vec<f64> {
        let ours = self.cpu.len().saturating_sub(1);
        self.cpu[..ours]
            .iter()
            .map(|c| c.as_secs_f64() * 1000.0 / self.sorted.len().max(1) as f64)
            .collect()
    }
    /// The share of the machine's cores that processes other than ours used.
    pub(crate) fn others_busy(&self) -> f64 {
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
pub(crate) async fn closed_loop<F, Fut>(
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
pub(crate) struct Breakdown {
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
    pub(crate) async fn read(
        kube: &kube::Client,
        webhook_metrics: &str,
    ) -> Result<Breakdown, Error> {
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
    pub(crate) fn add(&mut self, before: &Breakdown, after: &Breakdown) {
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

    pub(crate) fn line(&self) -> String {
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
pub(crate) async fn kube_client(kube: &stack::kube::KubeEnv) -> Result<kube::Client, Error> {
    let kubeconfig = kube::config::Kubeconfig::read_from(&kube.kubeconfig)?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    Ok(kube::Client::try_from(config)?)
}

pub(crate) fn connectors_in(
    client: &kube::Client,
    ns: &str,
) -> kube::Api<kube::api::DynamicObject> {
    let ar = kube::api::ApiResource::erase::<shared::crd::KafkaConnector>(&());
    kube::Api::namespaced_with(client.clone(), ns, &ar)
}

/// Creates KafkaConnectors in `ns` from `clients` clients back to back: the n-th of client c is named
/// `{tag}-{c}-{n}`, with the topic `topic(c, n)`. Every create must succeed.
pub(crate) async fn creates(
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
pub(crate) async fn direct_validates(
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
pub(crate) async fn clear(client: &kube::Client, ns: &str) -> Result<(), Error> {
    connectors_in(client, ns)
        .delete_collection(&Default::default(), &Default::default())
        .await?;
    Ok(())
}

pub(crate) fn over(with: Duration, without: Duration) -> String {
    let d = with.as_secs_f64() - without.as_secs_f64();
    format!("{:+.1} ms", d * 1000.0)
}

/// What the creates of a case share: one config validated before (under another name), or a new one each.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Case {
    Validated,
    New,
}

impl Case {
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Case::Validated => "a",
            Case::New => "b",
        }
    }
    pub(crate) fn tag_paren(self) -> &'static str {
        match self {
            Case::Validated => "(a)",
            Case::New => "(b)",
        }
    }
    pub(crate) fn label(self) -> &'static str {
        match self {
            Case::Validated => "(a) config validated before",
            Case::New => "(b) new config each time",
        }
    }
}

/// One case at one number of clients.
pub(crate) struct Row {
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
    pub(crate) fn ratio(&self) -> f64 {
        self.with.rate() / self.without.rate()
    }
}

/// KafkaConnector creates through the real API server, with the webhook (a namespace it reviews) and
/// without (one it does not), as Kyverno publishes its figures: (a) a config already validated (under
/// another name), (b) a new config each time, beside Kafka Connect's own validate.
pub(crate) async fn through_api_server(
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
