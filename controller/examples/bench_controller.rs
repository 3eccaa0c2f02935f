//! `make bench-controller`: the controller's cost at scale on the real stack.
//!
//! Uses the stack named by `$CW_STACK_ENV` (a running `cw-stack up`), or starts its own control plane and
//! Kafka broker when that is unset. Runs a dedicated Connect worker and its own controller (from
//! `$CW_BIN_DIR`, default `target/debug`; use a release build for representative numbers) in a private
//! namespace, then for each scenario (200 running FileStreamSink connectors, 2,000 stopped ones) prints:
//! - the time from creating the KafkaConnectors to all `Ready`, next to the same connectors created by a
//!   direct REST loop against Connect (the floor);
//! - Connect REST requests and Kubernetes writes per poll cycle in steady state, from the controller's own
//!   metrics (targets: 1 and 0), next to what per-connector polling would cost (~4 requests per connector);
//! - the controller's resident memory, and its peak (VmHWM) over the whole run.
//!
//! `cargo run -p connect-warden-controller --example bench_controller -- [--running N] [--stopped N]
//!  [--poll-interval-seconds S] [--cycles C]`

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use shared::connect::{ClientSettings, ConnectClient, InitialState};
use shared::crd::{ConnectorState, KafkaConnectCluster, KafkaConnector};

mod common;
use common::{http_get, proc_status_kib, scrape, wait};

type Error = Box<dyn std::error::Error + Send + Sync>;

const PRIVATE_LABEL: &str = "connectwarden.io/e2e-private";
/// KafkaConnectors created at once through the API, as a GitOps tool applying a folder would.
const CREATE_CONCURRENCY: usize = 32;

#[derive(clap::Parser, Debug)]
struct Opts {
    /// Running connectors in the first scenario.
    #[arg(long, default_value_t = 200)]
    running: usize,
    /// Stopped connectors in the second scenario.
    #[arg(long, default_value_t = 2000)]
    stopped: usize,
    /// The controller's poll interval.
    #[arg(long, default_value_t = 10)]
    poll_interval_seconds: u64,
    /// Poll cycles measured in steady state.
    #[arg(long, default_value_t = 3)]
    cycles: u64,
}

fn main() -> Result<(), Error> {
    use clap::Parser;
    let opts = Opts::parse();
    shared::tls::install_crypto_provider();
    // Processes of the stack stop when the thread that started them ends: start everything on this thread.
    let (env, _own_stack) = match stack::StackEnv::from_env() {
        Ok(env) => (env, None),
        Err(_) => {
            let dir = std::env::temp_dir().join(format!("cw-bench-{}", std::process::id()));
            eprintln!(
                "CW_STACK_ENV is not set: starting a stack in {}",
                dir.display()
            );
            let kube = stack::kube::KubeStack::start(&dir)?;
            let kafka = stack::kafka::KafkaStack::start(&dir)?;
            let env = stack::StackEnv {
                dir: dir.clone(),
                kube: Some(kube.env()),
                kafka: Some(kafka.env()),
                warden: None,
                monitoring: None,
                processes: Vec::new(),
            };
            stack::warden::install_crds(env.kube.as_ref().ok_or("no kube")?)?;
            (env, Some((kube, kafka)))
        }
    };
    let kube_env = env.kube.clone().ok_or("the stack has no Kubernetes")?;
    let kafka_env = env.kafka.clone().ok_or("the stack has no Kafka")?;
    let id = format!("bench-{}", std::process::id());
    eprintln!("starting a dedicated Connect worker …");
    let worker =
        stack::kafka::ConnectWorker::start(&kafka_env, &env.dir, &format!("connect-{id}"))?;
    let port = stack::ports::free_port()?;
    let bin = stack::warden::bin_dir().join("connect-warden-controller");
    let log = env.dir.join("logs").join(format!("controller-{id}.log"));
    std::fs::create_dir_all(log.parent().ok_or("log dir")?)?;
    let mut controller = Command::new(&bin)
        .env("KUBECONFIG", &kube_env.kubeconfig)
        .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
        .args(["--label-selector", &format!("{PRIVATE_LABEL}={id}")])
        .args([
            "--poll-interval-seconds",
            &opts.poll_interval_seconds.to_string(),
        ])
        .args(["--log-format", "text", "--log-level", "warn"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", bin.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(bench(
        &opts,
        &kube_env.kubeconfig,
        &worker.url(),
        &id,
        port,
        &mut controller,
        &bin,
    ));
    let _ = controller.kill();
    let _ = controller.wait();
    drop(worker);
    if let Err(e) = &result {
        eprintln!("bench failed: {e}; controller log: {}", log.display());
    }
    result
}

struct Row {
    scenario: String,
    n: usize,
    rest: Duration,
    controller: Duration,
    apply: Duration,
    polls: f64,
    requests: f64,
    lists: f64,
    writes: f64,
    rss_kib: u64,
    delete: Duration,
}

async fn bench(
    opts: &Opts,
    kubeconfig: &Path,
    connect_url: &str,
    id: &str,
    port: u16,
    controller: &mut Child,
    bin: &Path,
) -> Result<(), Error> {
    let kube = {
        let kc = kube::config::Kubeconfig::read_from(kubeconfig)?;
        let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
        kube::Client::try_from(cfg)?
    };
    let connect = ConnectClient::new(&ClientSettings::new(connect_url))?;
    let metrics = format!("127.0.0.1:{port}");
    let pid = controller.id();
    wait(
        "the controller's /readyz",
        Duration::from_secs(60),
        || async { Ok(http_get(&metrics, "/readyz").is_ok_and(|(code, _)| code == 200)) },
    )
    .await?;

    let ns = id.to_string();
    let ns_api: Api<Namespace> = Api::all(kube.clone());
    ns_api
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({
                "metadata": {"name": ns, "labels": {PRIVATE_LABEL: id}}
            }))?,
        )
        .await?;
    let clusters: Api<KafkaConnectCluster> = Api::namespaced(kube.clone(), &ns);
    clusters
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({
                "apiVersion": "connectwarden.io/v1alpha1", "kind": "KafkaConnectCluster",
                "metadata": {"name": "main", "labels": {PRIVATE_LABEL: id}},
                "spec": {"url": connect_url}
            }))?,
        )
        .await?;
    let cluster_label = format!("{ns}/main");
    wait(
        "the KafkaConnectCluster Ready",
        Duration::from_secs(60),
        || async {
            let c = clusters.get("main").await?;
            Ok(c.status
                .unwrap_or_default()
                .conditions
                .iter()
                .any(|c| c.kind == "Ready" && c.status == "True"))
        },
    )
    .await?;

    let mut rows = Vec::new();
    for (scenario, n, state) in [
        ("running", opts.running, ConnectorState::Running),
        ("stopped", opts.stopped, ConnectorState::Stopped),
    ] {
        if n == 0 {
            continue;
        }
        eprintln!("[{scenario} × {n}] direct REST loop …");
        let rest = rest_loop(&connect, scenario, n, state).await?;
        eprintln!("[{scenario} × {n}] direct REST: {rest:.1?}; now through the controller …");
        let api: Api<KafkaConnector> = Api::namespaced(kube.clone(), &ns);
        let started = Instant::now();
        futures::stream::iter(0..n)
            .map(|i| {
                let api = api.clone();
                async move {
                    let k = connector(id, scenario, i, state)?;
                    api.create(&PostParams::default(), &k).await?;
                    Ok::<_, Error>(())
                }
            })
            .buffer_unordered(CREATE_CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await?;
        let apply = started.elapsed();
        let reason = if state == ConnectorState::Running {
            "Running"
        } else {
            "Stopped"
        };
        wait(
            &format!("{n} KafkaConnectors Ready"),
            Duration::from_secs(1800),
            || async {
                let list = api.list(&ListParams::default()).await?;
                let ready = list
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
                Ok(ready == n)
            },
        )
        .await?;
        let to_ready = started.elapsed();
        eprintln!("[{scenario} × {n}] all Ready after {to_ready:.1?}; measuring steady state …");

        // Steady state: let the last status writes and events settle, then count over whole cycles.
        let interval = Duration::from_secs(opts.poll_interval_seconds);
        tokio::time::sleep(interval * 2).await;
        let before = scrape(&metrics)?;
        tokio::time::sleep(interval * u32::try_from(opts.cycles).unwrap_or(3)).await;
        let after = scrape(&metrics)?;
        let d = |name: &str, labels: &[(&str, &str)]| {
            stack::metrics_text::sum(&after, name, labels)
                - stack::metrics_text::sum(&before, name, labels)
        };
        let cl = [("cluster", cluster_label.as_str())];
        let polls = d("connect_warden_cluster_polls_total", &cl);
        let requests = d("connect_warden_connect_requests_total", &cl);
        let lists = d(
            "connect_warden_connect_requests_total",
            &[
                ("cluster", cluster_label.as_str()),
                ("path", "/connectors?expand=status&expand=info"),
            ],
        );
        let writes = d("connect_warden_kube_writes_total", &[]);
        let rss_kib = proc_status_kib(pid, "VmRSS:").unwrap_or(0);

        eprintln!("[{scenario} × {n}] deleting through the controller …");
        let started = Instant::now();
        api.delete_collection(&DeleteParams::default(), &ListParams::default())
            .await?;
        wait(
            &format!("{n} KafkaConnectors deleted"),
            Duration::from_secs(1800),
            || async {
                Ok(api
                    .list(&ListParams::default().limit(1))
                    .await?
                    .items
                    .is_empty())
            },
        )
        .await?;
        let delete = started.elapsed();
        wait("Connect empty", Duration::from_secs(300), || async {
            Ok(connect.list().await?.is_empty())
        })
        .await?;
        rows.push(Row {
            scenario: scenario.into(),
            n,
            rest,
            controller: to_ready,
            apply,
            polls,
            requests,
            lists,
            writes,
            rss_kib,
            delete,
        });
    }
    let peak = proc_status_kib(pid, "VmHWM:").unwrap_or(0);
    let _ = ns_api.delete(&ns, &DeleteParams::default()).await;

    println!();
    println!(
        "connect-warden controller bench — {} (poll interval {} s, {} steady-state cycles, Connect {connect_url})",
        bin.display(),
        opts.poll_interval_seconds,
        opts.cycles
    );
    println!(
        "{:<9} {:>6} {:>12} {:>14} {:>9} {:>12} {:>12} {:>12} {:>18} {:>10} {:>10}",
        "scenario",
        "N",
        "REST loop",
        "controller",
        "(apply)",
        "Connect/poll",
        "lists/poll",
        "kube wr/poll",
        "per-conn polling",
        "RSS MiB",
        "delete"
    );
    for r in &rows {
        let per = |x: f64| if r.polls > 0.0 { x / r.polls } else { f64::NAN };
        println!(
            "{:<9} {:>6} {:>11.1}s {:>13.1}s {:>8.1}s {:>12.2} {:>12.2} {:>12.2} {:>18} {:>10.1} {:>9.1}s",
            r.scenario,
            r.n,
            r.rest.as_secs_f64(),
            r.controller.as_secs_f64(),
            r.apply.as_secs_f64(),
            per(r.requests),
            per(r.lists),
            per(r.writes),
            format!("~{}", 4 * r.n),
            r.rss_kib as f64 / 1024.0,
            r.delete.as_secs_f64(),
        );
    }
    println!(
        "controller peak RSS (VmHWM) over the run: {:.1} MiB",
        peak as f64 / 1024.0
    );
    Ok(())
}

fn connector(
    id: &str,
    scenario: &str,
    i: usize,
    state: ConnectorState,
) -> Result<KafkaConnector, Error> {
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "connectwarden.io/v1alpha1", "kind": "KafkaConnector",
        "metadata": {"name": format!("{scenario}-{i}"), "labels": {PRIVATE_LABEL: id}},
        "spec": {
            "clusterRef": {"name": "main"},
            "class": "FileStreamSink",
            "state": state,
            "config": {"topics": format!("bench-{scenario}"), "file": "/dev/null"}
        }
    }))?)
}

/// Creates `n` connectors straight on Connect, one request after the other, and waits until Connect reports
/// them all in the wanted state; then removes them. Returns the time to all in state.
async fn rest_loop(
    c: &ConnectClient,
    scenario: &str,
    n: usize,
    state: ConnectorState,
) -> Result<Duration, Error> {
    let names: Vec<String> = (0..n).map(|i| format!("rest-{scenario}-{i}")).collect();
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
        match state {
            ConnectorState::Running => {
                c.put_config(name, &config).await?;
            }
            _ => {
                c.create(name, &config, Some(InitialState::Stopped)).await?;
            }
        }
    }
    let want = if state == ConnectorState::Running {
        "RUNNING"
    } else {
        "STOPPED"
    };
    wait(
        "connectors in state on Connect",
        Duration::from_secs(1800),
        || async {
            let all = c.list_expanded().await?;
            Ok(names.iter().all(|n| {
                all.get(n).and_then(|e| e.status.as_ref()).is_some_and(|s| {
                    s.connector.state == want
                        && (want != "RUNNING"
                            || (!s.tasks.is_empty()
                                && s.tasks.iter().all(|t| t.state == "RUNNING")))
                })
            }))
        },
    )
    .await?;
    let took = started.elapsed();
    let c = Arc::new(c.clone());
    futures::stream::iter(names)
        .map(|n| {
            let c = c.clone();
            async move { c.delete(&n).await }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    Ok(took)
}
