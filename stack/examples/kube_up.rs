//! Starts the real control plane once, shows it answers, and stops it:
//! `cargo run -p connect-warden-stack --example kube_up [STATE_DIR]`.
//! With `CW_KUBE_UP_HOLD_SECS=N` it keeps the control plane up N seconds before stopping it (to poke at it
//! with `kubectl --kubeconfig STATE_DIR/kubeconfig`).

use std::time::Instant;

use stack::kube::KubeStack;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("cw-kube-up-{}", std::process::id())));

    let t = Instant::now();
    let bin_dir = stack::cache::run_build_script(stack::kube::BUILD_SCRIPT)?;
    let build = t.elapsed();

    let t = Instant::now();
    let stack = KubeStack::start_with_bins(&dir, &bin_dir)?;
    let start = t.elapsed();
    let env = stack.env();
    println!("{}", serde_json::to_string_pretty(&env)?);

    for args in [&["get", "ns"][..], &["api-resources"][..], &["version"][..]] {
        let out = env.kubectl_cmd().args(args).output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        println!(
            "$ kubectl {}\n{}",
            args.join(" "),
            text.lines().take(8).collect::<Vec<_>>().join("\n")
        );
        if !out.status.success() {
            return Err(format!(
                "kubectl {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
    }

    if let Some(secs) = std::env::var("CW_KUBE_UP_HOLD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        println!(
            "holding for {secs}s; kubeconfig: {}",
            env.kubeconfig.display()
        );
        std::thread::sleep(std::time::Duration::from_secs(secs));
    }

    let t = Instant::now();
    drop(stack);
    println!(
        "build check {build:.2?}, start to ready {start:.2?}, stop {:.2?}, state in {}",
        t.elapsed(),
        dir.display()
    );
    Ok(())
}
