//! Distributed Kafka Connect workers, each its own Connect cluster on the stack's broker.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::tls::{ProbeTls, STORE_PASSWORD, WorkerTls};
use super::{KafkaEnv, absolute, java, path_str, write_properties};
use crate::http::Probe;
use crate::ports::free_ports;
use crate::process::{Proc, wait_ready};
use crate::{Error, Result, io};

/// How long a Connect worker may take until `/health` answers and its plugins are listed.
const WORKER_TIMEOUT: Duration = Duration::from_secs(180);

/// A distributed Connect worker that forms its own Connect cluster (group `cw-<name>`, internal topics
/// `cw-<name>-{configs,offsets,status}`) on the stack's broker. It keeps its port across stop/restart, and
/// the connectors it had come back with it. `name` must be unique within a stack.
///
/// Like every [`Proc`], the JVM gets SIGTERM when the thread that (re)started it ends: call
/// [`ConnectWorker::start`] and [`ConnectWorker::restart`] from a thread that outlives the worker's use (the
/// test's own), not from a short-lived one such as `tokio::task::spawn_blocking`'s.
pub struct ConnectWorker {
    name: String,
    port: u16,
    scheme: &'static str,
    home: PathBuf,
    props: PathBuf,
    log: PathBuf,
    jvm_args: Vec<String>,
    probe_tls: Option<ProbeTls>,
    /// `/health` (3.9+: 200 only once the worker has joined its group and read its configs), else `/`.
    health_path: &'static str,
    proc_: Option<Proc>,
}

/// The Java heap of the stack's workers: enough for the tests' few hundred connectors.
pub(super) const DEFAULT_HEAP_MIB: u32 = 384;

impl ConnectWorker {
    /// Starts a plain-HTTP worker and waits until it is ready. State goes to `dir/connect/<name>/`, its log
    /// to `dir/logs/<name>.log`.
    pub fn start(env: &KafkaEnv, dir: &Path, name: &str) -> Result<ConnectWorker> {
        ConnectWorker::start_with_heap(env, dir, name, DEFAULT_HEAP_MIB)
    }

    /// As [`ConnectWorker::start`], with a maximum Java heap of `max_heap_mib`: a worker holding thousands
    /// of connectors (benchmarks) needs more than the tests' workers.
    pub fn start_with_heap(
        env: &KafkaEnv,
        dir: &Path,
        name: &str,
        max_heap_mib: u32,
    ) -> Result<ConnectWorker> {
        let dir = absolute(dir)?;
        let [port] = free_ports()?;
        let mut w = ConnectWorker::spawn(env, &dir, name, port, None, max_heap_mib)?;
        w.wait_ready()?;
        Ok(w)
    }

    /// `http://127.0.0.1:PORT` (or `https://` for the secured worker).
    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
    }

    /// Graceful stop: SIGTERM, then SIGKILL after 20 s. A no-op when not running.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc_.take() {
            p.stop(Duration::from_secs(20));
        }
    }

    /// Crash: SIGKILL at once. A no-op when not running.
    pub fn kill(&mut self) {
        if let Some(mut p) = self.proc_.take() {
            p.kill();
        }
    }

    /// Whether the process is (still) running.
    pub fn is_running(&mut self) -> bool {
        self.proc_.as_mut().is_some_and(|p| p.check_alive().is_ok())
    }

    /// Starts the worker again (stopping it first if it still runs) on the same port, with the same group
    /// and topics, and waits until it is ready.
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        self.launch()?;
        self.wait_ready()
    }

    /// Name, pid and log while running.
    pub fn info(&self) -> Option<crate::process::ProcessInfo> {
        self.proc_.as_ref().and_then(|p| p.info())
    }

    /// The worker's log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    pub(super) fn spawn(
        env: &KafkaEnv,
        dir: &Path,
        name: &str,
        port: u16,
        tls: Option<WorkerTls>,
        max_heap_mib: u32,
    ) -> Result<ConnectWorker> {
        let state = dir.join("connect").join(name);
        fs::create_dir_all(&state).map_err(io(format!("creating {}", state.display())))?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut props = vec![
            ("bootstrap.servers".to_string(), env.bootstrap.clone()),
            ("group.id".into(), format!("cw-{name}")),
            ("config.storage.topic".into(), format!("cw-{name}-configs")),
            ("offset.storage.topic".into(), format!("cw-{name}-offsets")),
            ("status.storage.topic".into(), format!("cw-{name}-status")),
            ("config.storage.replication.factor".into(), "1".into()),
            ("offset.storage.replication.factor".into(), "1".into()),
            ("status.storage.replication.factor".into(), "1".into()),
            ("offset.storage.partitions".into(), "1".into()),
            ("status.storage.partitions".into(), "1".into()),
            (
                "key.converter".into(),
                "org.apache.kafka.connect.json.JsonConverter".into(),
            ),
            (
                "value.converter".into(),
                "org.apache.kafka.connect.json.JsonConverter".into(),
            ),
            ("key.converter.schemas.enable".into(), "false".into()),
            ("value.converter.schemas.enable".into(), "false".into()),
            // Sink tasks commit their consumer offsets on this interval (default 60 s): a second lets lag
            // tests see a sink catch up promptly.
            ("offset.flush.interval.ms".into(), "1000".into()),
            ("listeners".into(), format!("{scheme}://127.0.0.1:{port}")),
            ("rest.advertised.host.name".into(), "127.0.0.1".into()),
            ("rest.advertised.port".into(), port.to_string()),
            ("rest.advertised.listener".into(), scheme.into()),
            // Connectors are on the classpath; their ServiceLoader manifests are enough (3.6+).
            ("plugin.discovery".into(), "service_load".into()),
            // A worker that comes back after kill -9 must not wait long for its old self to leave the group
            // (session timeout, 6 s is the broker's minimum) nor for its lost assignments (default 5 min).
            ("session.timeout.ms".into(), "6000".into()),
            ("heartbeat.interval.ms".into(), "2000".into()),
            ("scheduled.rebalance.max.delay.ms".into(), "3000".into()),
            ("task.shutdown.graceful.timeout.ms".into(), "3000".into()),
            // The test connectors, each in its own directory (see build.sh).
            ("plugin.path".into(), path_str(&env.home.join("plugins"))),
            ("config.providers".into(), "file,env".into()),
            (
                "config.providers.file.class".into(),
                "org.apache.kafka.common.config.provider.FileConfigProvider".into(),
            ),
            (
                "config.providers.env.class".into(),
                "org.apache.kafka.common.config.provider.EnvVarConfigProvider".into(),
            ),
        ];
        let mut jvm_args = vec!["-Xms64m".to_string(), format!("-Xmx{max_heap_mib}m")];
        let mut probe_tls = None;
        if let Some(tls) = tls {
            let p = |k: &str| format!("listeners.https.{k}");
            props.extend([
                (p("ssl.keystore.type"), "PKCS12".into()),
                (p("ssl.keystore.location"), path_str(&tls.keystore)),
                (p("ssl.keystore.password"), STORE_PASSWORD.into()),
                (p("ssl.key.password"), STORE_PASSWORD.into()),
                (p("ssl.truststore.type"), "PKCS12".into()),
                (p("ssl.truststore.location"), path_str(&tls.truststore)),
                (p("ssl.truststore.password"), STORE_PASSWORD.into()),
                (p("ssl.client.auth"), "required".into()),
                (
                    "rest.extension.classes".into(),
                    "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension".into(),
                ),
            ]);
            jvm_args.push(format!(
                "-Djava.security.auth.login.config={}",
                tls.jaas.display()
            ));
            probe_tls = Some(tls.probe);
        }
        let props_path = state.join("worker.properties");
        write_properties(&props_path, &props)?;
        let mut w = ConnectWorker {
            name: name.to_string(),
            port,
            scheme,
            home: env.home.clone(),
            health_path: if has_health_endpoint(&env.version) {
                "/health"
            } else {
                "/"
            },
            props: props_path,
            log: dir.join("logs").join(format!("{name}.log")),
            jvm_args,
            probe_tls,
            proc_: None,
        };
        w.launch()?;
        Ok(w)
    }

    fn launch(&mut self) -> Result<()> {
        let mut cmd = java(&self.home, &self.jvm_args);
        cmd.arg("org.apache.kafka.connect.cli.ConnectDistributed")
            .arg(&self.props);
        self.proc_ = Some(Proc::spawn(&self.name, cmd, &self.log)?);
        Ok(())
    }

    pub(super) fn wait_ready(&mut self) -> Result<()> {
        let t0 = Instant::now();
        let probe = match &self.probe_tls {
            None => Probe::plain()?,
            Some(t) => t.probe()?,
        };
        let url = self.url();
        let health = format!("{url}{}", self.health_path);
        let plugins = format!("{url}/connector-plugins");
        let Some(proc_) = self.proc_.as_mut() else {
            return Err(Error::Env(format!(
                "Connect worker {} is not running",
                self.name
            )));
        };
        wait_ready(proc_, WORKER_TIMEOUT, || {
            matches!(probe.get(&health), Ok((200, _)))
                && matches!(probe.get(&plugins), Ok((200, body)) if body.contains("FileStreamSource"))
        })?;
        tracing::info!(
            name = self.name,
            url = self.url(),
            secs = t0.elapsed().as_secs_f32(),
            "Connect worker ready"
        );
        Ok(())
    }
}

impl Drop for ConnectWorker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether Connect of this version has `GET /health` (KIP-1017, 3.9+).
fn has_health_endpoint(version: &str) -> bool {
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (3, 9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_endpoint_by_version() {
        assert!(has_health_endpoint("4.3.1"));
        assert!(has_health_endpoint("3.9.1"));
        assert!(has_health_endpoint("3.10.0"));
        assert!(!has_health_endpoint("3.8.1"));
        assert!(!has_health_endpoint("2.8.2"));
    }
}
