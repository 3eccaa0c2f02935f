//! Helpers the controller's benchmarks share (each uses a part of them).
#![allow(dead_code)]

use std::future::Future;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

pub async fn wait<F, Fut>(what: &str, timeout: Duration, mut f: F) -> Result<(), Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, Error>>,
{
    let started = Instant::now();
    let mut last = String::new();
    while started.elapsed() < timeout {
        match f().await {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(format!("timed out waiting for {what} ({last})").into())
}

/// A plain HTTP/1.0 GET on loopback: (status code, body).
pub fn http_get(addr: &str, path: &str) -> Result<(u16, String), Error> {
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    let code = buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or("bad HTTP answer")?;
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((code, body))
}

pub fn scrape(addr: &str) -> Result<String, Error> {
    Ok(http_get(addr, "/metrics")?.1)
}

/// A `kB` field of `/proc/<pid>/status`.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(PathBuf::from(format!("/proc/{pid}/status"))).ok()?;
    text.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// A controller process of a benchmark's own, and the address of its `/metrics`.
pub struct Controller {
    child: std::process::Child,
    pub metrics: String,
}

impl Controller {
    /// Starts `bin` with `KUBECONFIG=kubeconfig`, its metrics on a free port, `args`, stderr to `log`.
    pub fn start(
        bin: &std::path::Path,
        kubeconfig: &std::path::Path,
        log: &std::path::Path,
        args: &[String],
    ) -> Result<Controller, Error> {
        use std::process::{Command, Stdio};
        let port = stack::ports::free_port()?;
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let child = Command::new(bin)
            .env("KUBECONFIG", kubeconfig)
            .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log)?)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", bin.display()))?;
        Ok(Controller {
            child,
            metrics: format!("127.0.0.1:{port}"),
        })
    }

    /// Waits for `/readyz` (a standby with leader election is ready too).
    pub async fn ready(&self) -> Result<(), Error> {
        wait(
            "the controller's /readyz",
            Duration::from_secs(120),
            || async { Ok(http_get(&self.metrics, "/readyz").is_ok_and(|(c, _)| c == 200)) },
        )
        .await
    }

    /// Whether its `connect_warden_leader` gauge is 1.
    pub fn leads(&self) -> bool {
        scrape(&self.metrics).is_ok_and(|m| {
            stack::metrics_text::value(&m, "connect_warden_leader", &[]) == Some(1.0)
        })
    }

    pub fn kib(&self, field: &str) -> u64 {
        proc_status_kib(self.child.id(), field).unwrap_or(0)
    }

    /// SIGTERM (the controller finishes what it is doing), then waits for it to exit.
    pub fn stop(mut self) -> Result<(), Error> {
        std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        for _ in 0..300 {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.kill()
    }

    /// SIGKILL, as a crash would.
    pub fn kill(mut self) -> Result<(), Error> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}
