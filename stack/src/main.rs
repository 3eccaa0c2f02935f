//! `cw-stack`: starts the real local stack (Kubernetes control plane, Kafka broker, Connect workers and,
//! with `--warden`, connect-warden's webhook and controller), writes its description to a JSON file for the
//! tests and the demo, and stops everything on Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use stack::{StackEnv, kafka::KafkaStack, kube::KubeStack, warden};

#[derive(Parser)]
#[command(
    name = "cw-stack",
    about = "The real local stack for connect-warden's tests and demo"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build what is missing, start the stack, write the env file, and run until interrupted.
    Up {
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
        /// Extra flags for the shared controller, space-separated.
        #[arg(long, default_value = "", allow_hyphen_values = true)]
        controller_args: String,
        /// Extra flags for the shared webhook, space-separated.
        #[arg(long, default_value = "", allow_hyphen_values = true)]
        webhook_args: String,
    },
    /// Only build (or check the cache of) the control plane and the Kafka jars.
    Build,
    /// Print `export …` lines for a running stack's env file.
    Env {
        #[arg(default_value = ".stack/env.json")]
        env_file: PathBuf,
    },
}

fn main() {
    install_crypto();
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Build => build(),
        Cmd::Env { env_file } => print_env(&env_file),
        Cmd::Up {
            dir,
            env_file,
            no_kube,
            no_kafka,
            warden,
            controller_args,
            webhook_args,
        } => up(
            dir,
            env_file,
            !no_kube,
            !no_kafka,
            warden,
            &controller_args,
            &webhook_args,
        ),
    };
    if let Err(e) = result {
        eprintln!("cw-stack: {e}");
        std::process::exit(1);
    }
}

fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn build() -> stack::Result<()> {
    let kube = stack::cache::run_build_script("stack/kube/build.sh")?;
    let kafka = stack::cache::run_build_script("stack/kafka/build.sh")?;
    println!(
        "control plane: {}\nkafka: {}",
        kube.display(),
        kafka.display()
    );
    Ok(())
}

fn print_env(path: &std::path::Path) -> stack::Result<()> {
    let env = StackEnv::read(path)?;
    println!(
        "export CW_STACK_ENV={}",
        std::fs::canonicalize(path)
            .unwrap_or(path.to_path_buf())
            .display()
    );
    if let Some(k) = &env.kube {
        println!("export KUBECONFIG={}", k.kubeconfig.display());
        println!("export PATH={}:$PATH", k.bin_dir.display());
    }
    if let Some(k) = &env.kafka {
        println!("export CONNECT_URL={}", k.connect_url);
    }
    Ok(())
}

fn up(
    dir: PathBuf,
    env_file: Option<PathBuf>,
    with_kube: bool,
    with_kafka: bool,
    with_warden: bool,
    controller_args: &str,
    webhook_args: &str,
) -> stack::Result<()> {
    let started = Instant::now();
    // Start from a clean state directory, keeping nothing of an earlier run but making room for its logs.
    if dir.exists() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| stack::Error::Env(format!("creating {}: {e}", dir.display())))?;
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    let env_file = env_file.unwrap_or_else(|| dir.join("env.json"));

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
    };
    let mut running_warden = None;
    if with_warden {
        let k = env
            .kube
            .as_ref()
            .ok_or_else(|| stack::Error::Env("--warden needs the control plane".into()))?;
        warden::install_crds(k)?;
        let wargs: Vec<&str> = webhook_args.split_whitespace().collect();
        let mut cargs: Vec<String> = vec![
            "--label-selector".into(),
            format!("!{}", warden::PRIVATE_LABEL),
        ];
        cargs.extend(controller_args.split_whitespace().map(String::from));
        let cargs: Vec<&str> = cargs.iter().map(String::as_str).collect();
        let webhook = warden::start_webhook(&dir, k, "webhook", &wargs)?;
        webhook.register(k, "connect-warden", None)?;
        let controller = warden::start_controller(&dir, k, "controller", &cargs, true)?;
        env.warden = Some(warden::WardenEnv {
            webhook_url: webhook.url(),
            webhook_metrics_url: webhook.metrics_url(),
            controller_metrics_url: controller.metrics_url(),
            webhook_ca_pem: webhook.ca_file.clone(),
        });
        running_warden = Some((webhook, controller));
    }
    env.write(&env_file)?;

    eprintln!(
        "cw-stack: up in {:.1}s; state and logs in {}",
        started.elapsed().as_secs_f64(),
        dir.display()
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
    eprintln!("  env file         {}", env_file.display());
    eprintln!("cw-stack: running; Ctrl-C stops everything");

    wait_for_signal();
    eprintln!("cw-stack: stopping");
    let _ = std::fs::remove_file(&env_file);
    drop(running_warden);
    drop(kafka);
    drop(kube);
    eprintln!("cw-stack: stopped");
    Ok(())
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
