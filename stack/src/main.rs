//! `cw-stack`: starts the real local stack (Kubernetes control plane, Kafka broker, Connect workers and,
//! with `--warden`, connect-warden's webhook and controller), writes its description to a JSON file for the
//! tests and the demo, and stops everything on Ctrl-C or SIGTERM. With `--detach` it returns once the env
//! file is written and the stack runs on in the background until `cw-stack down`.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use stack::process::ProcessInfo;
use stack::{StackEnv, kafka::KafkaStack, kube::KubeStack, warden};

#[derive(Parser)]
#[command(
    name = "cw-stack",
    about = "The real local stack for connect-warden's tests and demo"
)]
struct Cli {
    /// The connect-warden checkout whose build scripts and manifests to use [default: the nearest checkout
    /// at or above the current directory, else the one cw-stack was built from].
    #[arg(long, global = true, env = "CW_REPO")]
    repo: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build what is missing, start the stack, write the env file, and run until interrupted (or, with
    /// `--detach`, return and keep running in the background).
    Up(UpArgs),
    /// Stop a stack started with `up` (e.g. `up --detach`), by the process ids in its env file.
    Down {
        #[arg(long, default_value = ".stack/env.json")]
        env_file: PathBuf,
    },
    /// Only build (or check the cache of) the control plane, the Kafka jars, the GitOps engine programs and
    /// the release tools (helm, actionlint).
    Build,
    /// Print `export …` lines for a running stack's env file.
    Env {
        #[arg(default_value = ".stack/env.json")]
        env_file: PathBuf,
    },
}

#[derive(Args, Clone)]
struct UpArgs {
    /// State directory: data, certificates, logs.
    #[arg(long, env = "CW_STACK_DIR", default_value = ".stack")]
    dir: PathBuf,
    /// Where to write the stack description (default: <dir>/env.json).
    #[arg(long)]
    env_file: Option<PathBuf>,
    /// Skip the Kubernetes control plane.
    #[arg(long)]
    no_kube: bool,
    /// Skip Kafka and Connect.
    #[arg(long)]
    no_kafka: bool,
    /// Also install the CRDs, run the webhook and the controller from target/debug, and register the
    /// webhook (for every namespace not labelled connectwarden.io/e2e-private).
    #[arg(long)]
    warden: bool,
    /// Also run Prometheus and Alertmanager (Debian packages): Prometheus scrapes the shared webhook and
    /// controller and evaluates deploy/monitoring's rules; Alertmanager notifies a webhook receiver whose
    /// address is in the env file.
    #[arg(long)]
    monitoring: bool,
    /// Extra flags for the shared controller, space-separated.
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    controller_args: String,
    /// Extra flags for the shared webhook, space-separated.
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    webhook_args: String,
    /// Return once the env file is written; the stack keeps running in the background (its output goes
    /// to <dir>/logs/cw-stack.log) until `cw-stack down --env-file …`.
    #[arg(long)]
    detach: bool,
    /// Set on the background process that `--detach` starts: the state directory is already prepared.
    #[arg(long, hide = true)]
    detached_child: bool,
}

impl UpArgs {
    /// The env file: `--env-file`, or `env.json` in the state directory `dir`.
    fn env_file_in(&self, dir: &Path) -> PathBuf {
        self.env_file
            .clone()
            .unwrap_or_else(|| dir.join("env.json"))
    }
}

fn main() {
    install_crypto();
    let cli = Cli::parse();
    let result = run(cli);
    if let Err(e) = result {
        eprintln!("cw-stack: {e}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> stack::Result<()> {
    if let Some(repo) = &cli.repo {
        stack::cache::set_repo_root(repo)?;
    }
    match cli.cmd {
        Cmd::Build => build(),
        Cmd::Env { env_file } => print_env(&env_file),
        Cmd::Down { env_file } => down(&env_file),
        Cmd::Up(args) if args.detach => up_detached(args),
        Cmd::Up(args) => up(args),
    }
}

fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn build() -> stack::Result<()> {
    let kube = stack::cache::run_build_script("stack/kube/build.sh")?;
    let kafka = stack::cache::run_build_script("stack/kafka/build.sh")?;
    let gitops = stack::cache::run_build_script("stack/gitops/build.sh")?;
    let tools = stack::cache::tools_dir()?;
    println!(
        "control plane: {}\nkafka: {}\ngitops engines: {}\nhelm, actionlint: {}",
        kube.display(),
        kafka.display(),
        gitops.display(),
        tools.display()
    );
    Ok(())
}

fn print_env(path: &Path) -> stack::Result<()> {
    let env = StackEnv::read(path)?;
    println!(
        "export CW_STACK_ENV={}",
        std::fs::canonicalize(path)
            .unwrap_or(path.to_path_buf())
            .display()
    );
    if let Some(p) = env.owner() {
        println!("export CW_STACK_PID={}", p.pid);
    }
    if let Some(k) = &env.kube {
        println!("export KUBECONFIG={}", k.kubeconfig.display());
        println!("export PATH={}:$PATH", k.bin_dir.display());
    }
    if let Some(k) = &env.kafka {
        println!("export CONNECT_URL={}", k.connect_url);
    }
    if let Some(m) = &env.monitoring {
        println!("export PROMETHEUS_URL={}", m.prometheus_url);
        println!("export ALERTMANAGER_URL={}", m.alertmanager_url);
    }
    Ok(())
}

/// An error if `env_file` describes a stack whose `cw-stack up` still runs: starting another one there
/// would leave that one running without a record.
fn refuse_running(env_file: &Path) -> stack::Result<()> {
    let Ok(env) = StackEnv::read(env_file) else {
        return Ok(());
    };
    match env.owner() {
        Some(p) if p.is_running() => Err(stack::Error::Env(format!(
            "a stack (pid {}) is still running with {}: stop it first with `cw-stack down --env-file {}`",
            p.pid,
            env_file.display(),
            env_file.display()
        ))),
        _ => Ok(()),
    }
}

/// A fresh state directory: nothing of an earlier run is kept. Returns its absolute path.
fn prepare_dir(dir: &Path) -> stack::Result<PathBuf> {
    if dir.exists() {
        let _ = std::fs::remove_dir_all(dir);
    }
    std::fs::create_dir_all(dir.join("logs"))
        .map_err(|e| stack::Error::Env(format!("creating {}: {e}", dir.display())))?;
    Ok(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()))
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

fn up(args: UpArgs) -> stack::Result<()> {
    let started = Instant::now();
    let dir = if args.detached_child {
        absolute(&args.dir)
    } else {
        refuse_running(&args.env_file_in(&args.dir))?;
        prepare_dir(&args.dir)?
    };
    let env_file = args.env_file_in(&dir);
    let owner_log = if args.detached_child {
        dir.join("logs").join(DETACHED_LOG)
    } else {
        PathBuf::new()
    };
    let (with_kube, with_kafka) = (!args.no_kube, !args.no_kafka);

    // The control plane starts on its own thread while Kafka starts on this one. That thread then stays
    // parked for the life of the process, because children get SIGTERM when their spawning thread ends.
    let (tx, rx) = mpsc::channel();
    if with_kube {
        let kdir = dir.clone();
        std::thread::spawn(move || {
            let _ = tx.send(KubeStack::start(&kdir));
            loop {
                std::thread::park();
            }
        });
    } else {
        drop(tx);
    }
    let kafka = if with_kafka {
        Some(KafkaStack::start(&dir)?)
    } else {
        None
    };
    let kube = if with_kube {
        Some(
            rx.recv()
                .map_err(|_| stack::Error::Env("control plane thread died".into()))??,
        )
    } else {
        None
    };

    let mut env = StackEnv {
        dir: dir.clone(),
        kube: kube.as_ref().map(|k| k.env()),
        kafka: kafka.as_ref().map(|k| k.env()),
        warden: None,
        monitoring: None,
        processes: vec![ProcessInfo::current(stack::env::OWNER, owner_log)],
    };
    env.processes
        .extend(kube.iter().flat_map(|k| k.processes()));
    env.processes
        .extend(kafka.iter().flat_map(|k| k.processes()));
    let mut running_warden = None;
    if args.warden {
        let k = env
            .kube
            .as_ref()
            .ok_or_else(|| stack::Error::Env("--warden needs the control plane".into()))?;
        warden::install_crds(k)?;
        // The webhook and the controller run under the ServiceAccounts these create, not as admin.
        warden::install_rbac(k)?;
        let wargs: Vec<&str> = args.webhook_args.split_whitespace().collect();
        // The shared controller leaves the tests' private objects to their own controllers, yet it is the
        // one that counts for the policies' status.
        let mut cargs: Vec<String> = vec![
            "--label-selector".into(),
            format!("!{}", warden::PRIVATE_LABEL),
            "--write-policy-status".into(),
            "true".into(),
        ];
        cargs.extend(args.controller_args.split_whitespace().map(String::from));
        let cargs: Vec<&str> = cargs.iter().map(String::as_str).collect();
        let webhook = warden::start_webhook(&dir, k, "webhook", &wargs)?;
        webhook.register(k, "connect-warden", None)?;
        let controller = warden::start_controller(&dir, k, "controller", &cargs, true)?;
        env.warden = Some(warden::WardenEnv {
            webhook_url: webhook.url(),
            webhook_metrics_url: webhook.metrics_url(),
            controller_metrics_url: controller.metrics_url(),
            webhook_ca_pem: webhook.ca_file.clone(),
            webhook_cert_pem: webhook.cert_file.clone(),
            webhook_key_pem: webhook.key_file.clone(),
        });
        env.processes.extend(webhook.info());
        env.processes.extend(controller.info());
        running_warden = Some((webhook, controller));
    }
    let mut monitoring = None;
    if args.monitoring {
        let addr = |url: &str| url.trim_start_matches("http://").to_string();
        let webhook = env.warden.as_ref().map(|w| addr(&w.webhook_metrics_url));
        let controller = env.warden.as_ref().map(|w| addr(&w.controller_metrics_url));
        let m = stack::monitoring::Monitoring::start(
            &dir,
            &stack::monitoring::Targets {
                webhook: webhook.as_deref(),
                controller: controller.as_deref(),
            },
        )?;
        env.monitoring = Some(m.env());
        env.processes.extend(m.processes());
        monitoring = Some(m);
    }
    env.write(&env_file)?;

    print_summary(&env, &env_file, started.elapsed());
    eprintln!("cw-stack: running; Ctrl-C stops everything");

    wait_for_signal();
    eprintln!("cw-stack: stopping");
    let _ = std::fs::remove_file(&env_file);
    drop(monitoring);
    drop(running_warden);
    drop(kafka);
    drop(kube);
    eprintln!("cw-stack: stopped");
    Ok(())
}

/// The output of the background process of `up --detach`, under `<dir>/logs/`.
const DETACHED_LOG: &str = "cw-stack.log";

/// `up --detach`: prepares the state directory, runs `up` as a background process in its own session
/// (so a terminal's Ctrl-C or a script's exit does not reach it) with its output in the logs, and returns
/// once that process has written the env file. If it fails first, its log is printed; if this command is
/// interrupted first, the background process is stopped.
// Its own session (setsid) and stopping it (kill) are only reachable through libc.
#[allow(unsafe_code)]
fn up_detached(args: UpArgs) -> stack::Result<()> {
    let started = Instant::now();
    refuse_running(&args.env_file_in(&args.dir))?;
    let dir = prepare_dir(&args.dir)?;
    let env_file = absolute(&args.env_file_in(&dir));
    let _ = std::fs::remove_file(&env_file);
    let log_path = dir.join("logs").join(DETACHED_LOG);
    let log = std::fs::File::create(&log_path)
        .map_err(|e| stack::Error::Env(format!("creating {}: {e}", log_path.display())))?;
    let log_err = log
        .try_clone()
        .map_err(|e| stack::Error::Env(format!("cloning a log handle: {e}")))?;
    let exe = std::env::current_exe()
        .map_err(|e| stack::Error::Env(format!("locating cw-stack itself: {e}")))?;

    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--repo")
        .arg(stack::cache::repo_root())
        .args(["up", "--detached-child", "--dir"])
        .arg(&dir)
        .arg("--env-file")
        .arg(&env_file)
        .arg(format!("--controller-args={}", args.controller_args))
        .arg(format!("--webhook-args={}", args.webhook_args));
    for (on, flag) in [
        (args.no_kube, "--no-kube"),
        (args.no_kafka, "--no-kafka"),
        (args.warden, "--warden"),
        (args.monitoring, "--monitoring"),
    ] {
        if on {
            cmd.arg(flag);
        }
    }
    cmd.stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(log_err);
    // SAFETY: setsid is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| stack::Error::Env(format!("starting the background cw-stack: {e}")))?;
    let pid = child.id();

    enum Outcome {
        Up,
        Failed(std::process::ExitStatus),
        Interrupted,
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let outcome = rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        loop {
            if env_file.exists() {
                return Outcome::Up;
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Outcome::Failed(status);
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(300)) => {}
                _ = tokio::signal::ctrl_c() => return Outcome::Interrupted,
                _ = term.recv() => return Outcome::Interrupted,
            }
        }
    });
    match outcome {
        Outcome::Up => {
            let env = StackEnv::read(&env_file)?;
            print_summary(&env, &env_file, started.elapsed());
            eprintln!(
                "cw-stack: running in the background (pid {pid}, output in {}); stop it with\n  cw-stack down --env-file {}",
                log_path.display(),
                env_file.display()
            );
            Ok(())
        }
        Outcome::Failed(status) => {
            print_tail(&log_path, 40);
            Err(stack::Error::Env(format!(
                "the stack failed to start ({status}); logs in {}",
                dir.join("logs").display()
            )))
        }
        Outcome::Interrupted => {
            eprintln!("cw-stack: interrupted; stopping the background stack");
            // SAFETY: kill(2) on our own child, which has not been reaped.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(90);
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(200));
            }
            let _ = child.kill();
            let _ = child.wait();
            std::process::exit(130);
        }
    }
}

fn print_tail(path: &Path, lines: usize) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    eprintln!("----- last lines of {}", path.display());
    for l in &all[all.len().saturating_sub(lines)..] {
        eprintln!("{l}");
    }
}

fn print_summary(env: &StackEnv, env_file: &Path, took: Duration) {
    eprintln!(
        "cw-stack: up in {:.1}s; state and logs in {}",
        took.as_secs_f64(),
        env.dir.display()
    );
    if let Some(k) = &env.kube {
        eprintln!(
            "  kube-apiserver   {}   (export KUBECONFIG={})",
            k.server,
            k.kubeconfig.display()
        );
    }
    if let Some(k) = &env.kafka {
        eprintln!("  kafka            {}", k.bootstrap);
        eprintln!("  connect          {}", k.connect_url);
        eprintln!("  connect (https)  {}", k.secure.url);
    }
    if let Some(w) = &env.warden {
        eprintln!(
            "  webhook          {}   metrics {}",
            w.webhook_url, w.webhook_metrics_url
        );
        eprintln!("  controller       metrics {}", w.controller_metrics_url);
    }
    if let Some(m) = &env.monitoring {
        eprintln!("  prometheus       {}", m.prometheus_url);
        eprintln!(
            "  alertmanager     {}   (notifies http://{}/alerts)",
            m.alertmanager_url, m.receiver_addr
        );
    }
    eprintln!("  env file         {}", env_file.display());
}

/// Stops the stack recorded in `env_file`: SIGTERM to its `cw-stack up` process, which stops every
/// process it started in order; whatever is still running after that is killed.
fn down(env_file: &Path) -> stack::Result<()> {
    let env = StackEnv::read(env_file)?;
    let owner = env.owner().cloned().ok_or_else(|| {
        stack::Error::Env(format!(
            "{} records no cw-stack process (written by an older cw-stack?)",
            env_file.display()
        ))
    })?;
    if owner.signal(libc::SIGTERM) {
        eprintln!(
            "cw-stack: stopping the stack in {} (pid {})",
            env.dir.display(),
            owner.pid
        );
        if !wait_stopped(&[&owner], Duration::from_secs(120)) {
            owner.signal(libc::SIGKILL);
            wait_stopped(&[&owner], Duration::from_secs(5));
        }
    }
    // Each process gets SIGTERM when its owner is gone; give them a moment, then kill what is left.
    let rest: Vec<&ProcessInfo> = env
        .processes
        .iter()
        .filter(|p| p.name != stack::env::OWNER)
        .collect();
    if !wait_stopped(&rest, Duration::from_secs(20)) {
        for p in rest {
            if p.signal(libc::SIGKILL) {
                eprintln!(
                    "cw-stack: killed {} (pid {}), which outlived the stack",
                    p.name, p.pid
                );
            }
        }
    }
    let _ = std::fs::remove_file(env_file);
    eprintln!("cw-stack: stopped");
    Ok(())
}

/// Waits until none of `procs` runs; false if some still run after `timeout`.
fn wait_stopped(procs: &[&ProcessInfo], timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !procs.iter().any(|p| p.is_running()) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Blocks until SIGINT or SIGTERM.
fn wait_for_signal() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    });
    // Give in-flight output a moment before the children go.
    std::thread::sleep(Duration::from_millis(100));
}
