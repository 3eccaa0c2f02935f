//! Starts the Kafka stack (broker + main and secured Connect workers), prints its env as JSON, lists the
//! main worker's plugins, then starts, kills and restarts an extra worker. Stops everything on exit.
//! `cargo run -p connect-warden-stack --example kafka_up -- [STATE_DIR] [--hold]`

use std::time::Instant;

use stack::kafka::{ConnectWorker, KafkaStack};

/// Restarts the stopped `worker` and says how long that took; returns when the restart began.
fn restart(worker: &mut ConnectWorker, after: &str) -> Result<Instant, Box<dyn std::error::Error>> {
    let t = Instant::now();
    worker.restart()?;
    println!(
        "extra worker restarted after {after} in {:.1}s",
        t.elapsed().as_secs_f32()
    );
    Ok(t)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let hold = args.iter().any(|a| a == "--hold");
    let dir = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("cw-kafka-up-{}", std::process::id()))
        });

    let t0 = Instant::now();
    let stack = KafkaStack::start(&dir)?;
    let ready = t0.elapsed();
    let env = stack.env();
    println!("{}", serde_json::to_string_pretty(&env)?);
    println!(
        "stack ready in {:.1}s (state in {})",
        ready.as_secs_f32(),
        dir.display()
    );

    let plugins = std::process::Command::new("curl")
        .args(["-sS", &format!("{}/connector-plugins", env.connect_url)])
        .output()?;
    println!(
        "connector-plugins: {}",
        String::from_utf8_lossy(&plugins.stdout)
    );

    if args.iter().any(|a| a == "--extra") {
        let t = Instant::now();
        let mut extra = ConnectWorker::start(&env, &dir, "connect-extra")?;
        println!(
            "extra worker {} ready in {:.1}s",
            extra.url(),
            t.elapsed().as_secs_f32()
        );
        let curl = |args: &[&str]| -> std::io::Result<String> {
            let out = std::process::Command::new("curl")
                .args(["-sS", "-H", "Content-Type: application/json"])
                .args(args)
                .output()?;
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        };
        let cfg = format!(
            r#"{{"connector.class":"FileStreamSink","file":"{}/extra-out.txt","topics":"t-extra"}}"#,
            dir.display()
        );
        curl(&[
            "-X",
            "PUT",
            &format!("{}/connectors/keep/config", extra.url()),
            "-d",
            &cfg,
        ])?;
        extra.kill();
        let t = restart(&mut extra, "kill -9")?;
        for _ in 0..50 {
            let status = curl(&[&format!("{}/connectors/keep/status", extra.url())])?;
            if status.contains(r#""tasks":[{"id":0,"state":"RUNNING""#) {
                println!(
                    "connector survived the kill after {:.1}s: {status}",
                    t.elapsed().as_secs_f32()
                );
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        extra.stop();
        restart(&mut extra, "graceful stop")?;
    }

    if hold {
        println!("holding; press Enter to stop");
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
    }
    let t = Instant::now();
    drop(stack);
    println!("stopped in {:.1}s", t.elapsed().as_secs_f32());
    Ok(())
}
