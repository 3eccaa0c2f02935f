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

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, ListParams};
use shared::connect::{ClientSettings, ConnectClient};
use shared::crd::{ConnectorState, KafkaConnector};

mod common;
use common::{BenchEnv, Controller, Delta, Error, wait};

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
    cycles: u32,
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
    let env = BenchEnv::of(&env)?;
    let id = format!("bench-{}", std::process::id());
    eprintln!("starting a dedicated Connect worker …");
    let worker = env.worker(&format!("connect-{id}"), None)?;
    let log = format!("controller-{id}.log");
    let args = common::controller_args(&id, opts.poll_interval_seconds, &[]);
    let controller = Controller::start(&env, &log, &args)?;
    let result = common::runtime()?.block_on(bench(&opts, &env, &worker.url(), &id, &controller));
    let _ = controller.kill();
    drop(worker);
    common::logs_on_failure(
        result,
        format_args!("controller log: {}", env.logs.join(log).display()),
    )
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
    env: &BenchEnv,
    connect_url: &str,
    id: &str,
    controller: &Controller,
) -> Result<(), Error> {
    let kube = env.kube().await?;
    let connect = ConnectClient::new(&ClientSettings::new(connect_url))?;
    controller.ready().await?;

    let ns = id.to_string();
    common::namespace_with_cluster(&kube, &ns, id, connect_url).await?;
    let cluster_label = format!("{ns}/main");
    wait(
        "the KafkaConnectCluster Ready",
        Duration::from_secs(60),
        || common::cluster_ready(&kube, &ns),
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
        let rest = common::rest_loop(&connect, &format!("rest-{scenario}"), n, state).await?;
        eprintln!("[{scenario} × {n}] direct REST: {rest:.1?}; now through the controller …");
        let api: Api<KafkaConnector> = Api::namespaced(kube.clone(), &ns);
        let fleet = (0..n)
            .map(|i| {
                let spec = common::file_sink(state, &format!("bench-{scenario}"));
                Ok((
                    ns.clone(),
                    common::connector(&format!("{scenario}-{i}"), id, spec)?,
                ))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let started = Instant::now();
        common::create_all(&kube, fleet).await?;
        let apply = started.elapsed();
        let reason = if state == ConnectorState::Running {
            "Running"
        } else {
            "Stopped"
        };
        wait(
            &format!("{n} KafkaConnectors Ready"),
            Duration::from_secs(1800),
            || async { Ok(common::ready_count(&api, reason).await? == n) },
        )
        .await?;
        let to_ready = started.elapsed();
        eprintln!("[{scenario} × {n}] all Ready after {to_ready:.1?}; measuring steady state …");

        // Steady state: let the last status writes and events settle, then count over whole cycles.
        let interval = Duration::from_secs(opts.poll_interval_seconds);
        tokio::time::sleep(interval * 2).await;
        let d = Delta::over(&controller.metrics, interval, opts.cycles).await?;
        let polls = d.polls(&cluster_label);
        let requests = d.requests(&cluster_label);
        let lists = d.lists(&cluster_label);
        let writes = d.kube_writes();
        let rss_kib = controller.kib("VmRSS:");

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
    let peak = controller.kib("VmHWM:");
    let _ = Api::<Namespace>::all(kube.clone())
        .delete(&ns, &DeleteParams::default())
        .await;

    println!();
    println!(
        "connect-warden controller bench — {} (poll interval {} s, {} steady-state cycles, Connect {connect_url})",
        env.bin.display(),
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
