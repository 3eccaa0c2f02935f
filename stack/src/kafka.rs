//! A one-node KRaft Kafka broker and distributed Kafka Connect workers, run from the jars that
//! `stack/kafka/build.sh` resolves with Maven into the cache.
//!
//! [`KafkaStack::start`] brings up, on 127.0.0.1 with free ports:
//! - the broker (`kafka.Kafka`, combined controller+broker, log dir formatted with `kafka.tools.StorageTool`);
//! - the main Connect worker (`ConnectDistributed`, plain HTTP), with the built-in connectors on the classpath;
//! - a secured Connect worker on the same broker: HTTPS with a server certificate from a CA generated here,
//!   client certificates required (mTLS), and HTTP basic auth (`BasicAuthSecurityRestExtension`).
//!
//! Every worker is its own Connect cluster (own `group.id` and internal topics). Tests that need a worker to
//! die and come back start one more with [`ConnectWorker::start`]: it keeps its port, group and topics across
//! [`ConnectWorker::stop`]/[`ConnectWorker::kill`] and [`ConnectWorker::restart`], so its connectors survive.
//!
//! Layout under the state directory: `logs/<name>.log` per process, `kafka/` (broker config and data),
//! `connect/<name>/` (worker config, certificates).

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::pki::Ca;
use crate::process::{Proc, wait_ready};
use crate::{Error, Result, io};

/// How long the broker may take to come up (2 cores, possibly shared with a cargo or Go build).
const BROKER_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a Connect worker may take until `/health` answers and its plugins are listed.
const WORKER_TIMEOUT: Duration = Duration::from_secs(180);
/// Password of the generated PKCS12 key and trust stores (local test material only).
const STORE_PASSWORD: &str = "changeit";
/// The user of the secured worker's basic auth.
const BASIC_AUTH_USER: &str = "cw-admin";

/// Where the Kafka stack is, as written to the stack env JSON for tests and the demo.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KafkaEnv {
    /// `127.0.0.1:PORT` of the broker's PLAINTEXT listener.
    pub bootstrap: String,
    /// `http://127.0.0.1:PORT` of the main Connect worker.
    pub connect_url: String,
    /// The secured Connect worker (mTLS + basic auth).
    pub secure: SecureConnectEnv,
    /// The `kafka-$VERSION` directory of the cache: `lib/` (the classpath) and `log4j2.xml`.
    pub home: PathBuf,
    /// The Kafka version the jars are of, e.g. `4.3.1`.
    pub version: String,
}

/// The secured Connect worker: HTTPS with a server certificate signed by `ca_pem`, requiring a client
/// certificate signed by the same CA, and HTTP basic auth with `username`/`password`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecureConnectEnv {
    /// `https://127.0.0.1:PORT` (the server certificate is valid for 127.0.0.1 and localhost).
    pub url: String,
    /// The CA that signed the server and client certificates (and that the worker trusts for clients).
    pub ca_pem: PathBuf,
    pub client_cert_pem: PathBuf,
    /// PKCS#8 PEM.
    pub client_key_pem: PathBuf,
    pub username: String,
    pub password: String,
    /// An unrelated CA: a client that trusts only this one must fail the TLS handshake.
    pub untrusted_ca_pem: PathBuf,
}

/// The broker and the two standing Connect workers. Dropping it stops the workers, then the broker.
pub struct KafkaStack {
    env: KafkaEnv,
    main: ConnectWorker,
    secure: ConnectWorker,
    broker: Option<Proc>,
}

impl KafkaStack {
    /// Resolves the jars (cached), starts the broker and, once it is up, both Connect workers concurrently;
    /// returns when every worker answers `/health` and lists the FileStream connectors.
    pub fn start(dir: &Path) -> Result<KafkaStack> {
        let home = crate::cache::run_build_script("stack/kafka/build.sh")?;
        let version = kafka_version(&home)?;
        let dir = absolute(dir)?;
        let logs = dir.join("logs");
        fs::create_dir_all(&logs).map_err(io(format!("creating {}", logs.display())))?;

        let t0 = Instant::now();
        // Certificates and key stores (openssl, keytool) are made while the log dir is formatted and the
        // broker boots.
        let tls_dir = dir.join("connect").join("connect-secure");
        let tls = std::thread::spawn(move || SecureMaterial::create(&tls_dir));
        let (mut broker, bootstrap) = start_broker(&home, &dir)?;
        let tls = tls
            .join()
            .unwrap_or_else(|_| Err(Error::Env("generating certificates panicked".into())))?;
        let broker_log = broker.log.clone();
        let broker_port = port_of(&bootstrap);
        wait_ready(&mut broker, BROKER_TIMEOUT, || {
            TcpStream::connect_timeout(
                &SocketAddr::from(([127, 0, 0, 1], broker_port)),
                Duration::from_secs(1),
            )
            .is_ok()
                && log_contains(&broker_log, "Kafka Server started")
        })?;
        tracing::info!(
            bootstrap,
            secs = t0.elapsed().as_secs_f32(),
            "Kafka broker ready"
        );

        let env_base = KafkaEnv {
            bootstrap: bootstrap.clone(),
            connect_url: String::new(),
            secure: tls.env(String::new()),
            home: home.clone(),
            version: version.clone(),
        };
        // Both workers boot at once; `broker` is killed by its Drop if either fails.
        let [main_port, secure_port] = free_ports()?;
        let mut main = ConnectWorker::spawn(&env_base, &dir, "connect", main_port, None)?;
        let mut secure = ConnectWorker::spawn(
            &env_base,
            &dir,
            "connect-secure",
            secure_port,
            Some(tls.worker_tls()),
        )?;
        main.wait_ready()?;
        secure.wait_ready()?;
        tracing::info!(
            secs = t0.elapsed().as_secs_f32(),
            "Kafka Connect workers ready"
        );

        let env = KafkaEnv {
            bootstrap,
            connect_url: main.url(),
            secure: tls.env(secure.url()),
            home,
            version,
        };
        Ok(KafkaStack {
            env,
            main,
            secure,
            broker: Some(broker),
        })
    }

    pub fn env(&self) -> KafkaEnv {
        self.env.clone()
    }

    /// The broker and both workers, for the env file.
    pub fn processes(&self) -> Vec<crate::process::ProcessInfo> {
        let mut out: Vec<_> = self.broker.iter().filter_map(|p| p.info()).collect();
        out.extend(self.main.info());
        out.extend(self.secure.info());
        out
    }
}

impl Drop for KafkaStack {
    fn drop(&mut self) {
        // Workers first (concurrently), so they do not spin on a vanished broker; then the broker.
        std::thread::scope(|s| {
            s.spawn(|| self.main.stop());
            s.spawn(|| self.secure.stop());
        });
        if let Some(mut broker) = self.broker.take() {
            broker.stop(Duration::from_secs(20));
        }
    }
}

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

impl ConnectWorker {
    /// Starts a plain-HTTP worker and waits until it is ready. State goes to `dir/connect/<name>/`, its log
    /// to `dir/logs/<name>.log`.
    pub fn start(env: &KafkaEnv, dir: &Path, name: &str) -> Result<ConnectWorker> {
        let dir = absolute(dir)?;
        let [port] = free_ports()?;
        let mut w = ConnectWorker::spawn(env, &dir, name, port, None)?;
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

    fn spawn(
        env: &KafkaEnv,
        dir: &Path,
        name: &str,
        port: u16,
        tls: Option<WorkerTls>,
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
        let mut jvm_args = vec!["-Xms64m".to_string(), "-Xmx384m".to_string()];
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

    fn wait_ready(&mut self) -> Result<()> {
        let Some(proc_) = self.proc_.as_mut() else {
            return Err(Error::Env(format!(
                "Connect worker {} is not running",
                self.name
            )));
        };
        let t0 = Instant::now();
        let port = self.port;
        let tls = self.probe_tls.as_ref();
        let health_path = self.health_path;
        wait_ready(proc_, WORKER_TIMEOUT, || {
            let get = |path: &str| match tls {
                None => http_get(port, path, None),
                Some(t) => https_get(port, path, t),
            };
            matches!(get(health_path), Some((200, _)))
                && matches!(get("/connector-plugins"), Some((200, body)) if body.contains("FileStreamSource"))
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

/// Formats the log dir and starts `kafka.Kafka`; returns the process and `127.0.0.1:PORT`.
fn start_broker(home: &Path, dir: &Path) -> Result<(Proc, String)> {
    let state = dir.join("kafka");
    let data = state.join("data");
    fs::create_dir_all(&state).map_err(io(format!("creating {}", state.display())))?;
    let [port, controller_port] = free_ports()?;
    let bootstrap = format!("127.0.0.1:{port}");
    let props: Vec<(String, String)> = [
        ("process.roles", "broker,controller".to_string()),
        ("node.id", "1".into()),
        // A static quorum of one: understood by every KRaft version, and no --standalone needed.
        (
            "controller.quorum.voters",
            format!("1@127.0.0.1:{controller_port}"),
        ),
        (
            "listeners",
            format!("PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}"),
        ),
        (
            "advertised.listeners",
            format!("PLAINTEXT://127.0.0.1:{port}"),
        ),
        ("controller.listener.names", "CONTROLLER".into()),
        ("inter.broker.listener.name", "PLAINTEXT".into()),
        (
            "listener.security.protocol.map",
            "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT".into(),
        ),
        ("log.dirs", path_str(&data)),
        ("num.partitions", "1".into()),
        ("default.replication.factor", "1".into()),
        ("min.insync.replicas", "1".into()),
        ("offsets.topic.replication.factor", "1".into()),
        ("offsets.topic.num.partitions", "3".into()),
        ("transaction.state.log.replication.factor", "1".into()),
        ("transaction.state.log.min.isr", "1".into()),
        ("transaction.state.log.num.partitions", "1".into()),
        (
            "share.coordinator.state.topic.replication.factor",
            "1".into(),
        ),
        ("share.coordinator.state.topic.min.isr", "1".into()),
        ("share.coordinator.state.topic.num.partitions", "1".into()),
        ("group.initial.rebalance.delay.ms", "0".into()),
        ("auto.create.topics.enable", "true".into()),
        ("num.network.threads", "2".into()),
        ("num.io.threads", "2".into()),
        ("background.threads", "2".into()),
        ("num.recovery.threads.per.data.dir", "1".into()),
        ("log.cleaner.threads", "1".into()),
        ("log.cleaner.dedupe.buffer.size", "8388608".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let props_path = state.join("server.properties");
    write_properties(&props_path, &props)?;

    let format_log = dir.join("logs").join("kafka-format.log");
    let mut fmt = java(home, &["-Xmx256m".to_string()]);
    fmt.args([
        "kafka.tools.StorageTool",
        "format",
        "--cluster-id",
        &cluster_id()?,
        "--config",
    ])
    .arg(&props_path);
    let mut formatter = Proc::spawn("kafka-storage-format", fmt, &format_log)?;
    let deadline = Instant::now() + BROKER_TIMEOUT;
    loop {
        match formatter.check_alive() {
            Ok(()) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Ok(()) => {
                return Err(Error::NotReady {
                    what: "kafka-storage-format".into(),
                    secs: BROKER_TIMEOUT.as_secs(),
                    log: format_log.display().to_string(),
                });
            }
            Err(Error::Exited { status, .. }) if status.contains("exit status: 0") => break,
            Err(e) => return Err(e),
        }
    }

    let mut cmd = java(home, &["-Xms128m".to_string(), "-Xmx512m".to_string()]);
    cmd.arg("kafka.Kafka").arg(&props_path);
    let broker = Proc::spawn(
        "kafka-broker",
        cmd,
        &dir.join("logs").join("kafka-broker.log"),
    )?;
    Ok((broker, bootstrap))
}

/// `java` with the stack's classpath, logging config and small-machine flags.
fn java(home: &Path, extra: &[String]) -> Command {
    let java = std::env::var_os("JAVA_HOME")
        .map(|h| PathBuf::from(h).join("bin").join("java"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("java"));
    let mut cmd = Command::new(java);
    cmd.args(extra)
        .args([
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
        ])
        .arg(format!(
            "-Dlog4j2.configurationFile={}",
            home.join("log4j2.xml").display()
        ))
        .arg("-cp")
        .arg(format!("{}/*", home.join("lib").display()));
    // Options meant for a developer's own JVMs must not leak into the stack's.
    cmd.env_remove("JAVA_TOOL_OPTIONS")
        .env_remove("_JAVA_OPTIONS")
        .env_remove("JDK_JAVA_OPTIONS");
    cmd
}

/// Whether Connect of this version has `GET /health` (KIP-1017, 3.9+).
fn has_health_endpoint(version: &str) -> bool {
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (3, 9)
}

/// The version from the `kafka-$VERSION` directory name.
fn kafka_version(home: &Path) -> Result<String> {
    home.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("kafka-"))
        .map(str::to_string)
        .ok_or_else(|| Error::Build {
            what: "stack/kafka/build.sh".into(),
            detail: format!("unexpected output directory {}", home.display()),
        })
}

/// A random KRaft cluster id: 16 bytes, URL-safe base64 without padding (what `random-uuid` prints).
fn cluster_id() -> Result<String> {
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<16>()?))
}

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(io("reading /dev/urandom"))?;
    Ok(b)
}

/// `N` distinct free loopback ports (all held at once while choosing, so no two are the same).
fn free_ports<const N: usize>() -> Result<[u16; N]> {
    let listeners = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").map_err(io("binding a free port")))
        .collect::<Result<Vec<_>>>()?;
    let mut ports = [0u16; N];
    for (p, l) in ports.iter_mut().zip(&listeners) {
        *p = l.local_addr().map_err(io("reading a free port"))?.port();
    }
    Ok(ports)
}

fn absolute(dir: &Path) -> Result<PathBuf> {
    fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    std::path::absolute(dir).map_err(io(format!("resolving {}", dir.display())))
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

fn port_of(addr: &str) -> u16 {
    addr.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}

/// Writes a Java properties file (values escaped for `\`, so Windows-free paths pass through unchanged).
fn write_properties(path: &Path, props: &[(String, String)]) -> Result<()> {
    let mut s = String::new();
    for (k, v) in props {
        s.push_str(&format!("{k}={}\n", v.replace('\\', "\\\\")));
    }
    fs::write(path, s).map_err(io(format!("writing {}", path.display())))
}

fn log_contains(log: &Path, needle: &str) -> bool {
    fs::read(log)
        .map(|b| String::from_utf8_lossy(&b).contains(needle))
        .unwrap_or(false)
}

fn write_file(path: &Path, contents: impl AsRef<[u8]>) -> Result<()> {
    fs::write(path, contents).map_err(io(format!("writing {}", path.display())))
}

/// Runs a short helper command (openssl, keytool) to completion.
fn run_tool(what: &str, cmd: &mut Command) -> Result<()> {
    let out = cmd.output().map_err(io(format!("running {what}")))?;
    if !out.status.success() {
        return Err(Error::Build {
            what: what.into(),
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(())
}

/// The certificates and files of the secured worker.
struct SecureMaterial {
    dir: PathBuf,
    password: String,
    probe: ProbeTls,
}

/// What the secured worker's process needs.
struct WorkerTls {
    keystore: PathBuf,
    truststore: PathBuf,
    jaas: PathBuf,
    probe: ProbeTls,
}

/// What the readiness probe needs to talk to the secured worker.
#[derive(Clone)]
struct ProbeTls {
    config: Arc<rustls::ClientConfig>,
    authorization: String,
}

impl SecureMaterial {
    /// Generates a CA, a server certificate (127.0.0.1, localhost), a client certificate and an unrelated
    /// CA; writes them as PEM plus the PKCS12 key store and trust store the worker's Jetty needs (Connect's
    /// REST listener cannot read PEM stores), the credentials file and the JAAS file.
    fn create(dir: &Path) -> Result<SecureMaterial> {
        fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        let ca = Ca::new("connect-warden test Connect CA")?;
        let other = Ca::new("connect-warden untrusted CA")?;
        let server = ca.server(&["127.0.0.1", "localhost"])?;
        let client = ca.client("connect-warden-client", None)?;

        let f = |n: &str| dir.join(n);
        write_file(&f("ca.pem"), &ca.cert_pem)?;
        write_file(&f("untrusted-ca.pem"), &other.cert_pem)?;
        write_file(&f("server.pem"), &server.cert_pem)?;
        write_file(&f("server-key.pem"), &server.key_pem)?;
        write_file(&f("client.pem"), &client.cert_pem)?;
        write_file(&f("client-key.pem"), &client.key_pem)?;

        let password =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<12>()?);
        write_file(
            &f("credentials.properties"),
            format!("{BASIC_AUTH_USER}: {password}\n"),
        )?;
        write_file(
            &f("jaas.conf"),
            format!(
                "KafkaConnect {{\n  org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required\n  file=\"{}\";\n}};\n",
                f("credentials.properties").display()
            ),
        )?;

        // The key and trust stores, built by openssl and keytool at the same time.
        for store in ["server.p12", "truststore.p12"] {
            let _ = fs::remove_file(f(store));
        }
        let pass = format!("pass:{STORE_PASSWORD}");
        let mut keystore = Command::new("openssl");
        keystore
            .args([
                "pkcs12", "-export", "-name", "connect", "-passout", &pass, "-in",
            ])
            .arg(f("server.pem"))
            .arg("-inkey")
            .arg(f("server-key.pem"))
            .arg("-certfile")
            .arg(f("ca.pem"))
            .arg("-out")
            .arg(f("server.p12"));
        let mut truststore = Command::new("keytool");
        truststore
            .args([
                "-importcert",
                "-noprompt",
                "-alias",
                "ca",
                "-storetype",
                "PKCS12",
                "-storepass",
                STORE_PASSWORD,
            ])
            .arg("-file")
            .arg(f("ca.pem"))
            .arg("-keystore")
            .arg(f("truststore.p12"));
        std::thread::scope(|s| {
            let ks = s.spawn(|| run_tool("openssl pkcs12 (Connect key store)", &mut keystore));
            let ts = run_tool("keytool -importcert (Connect trust store)", &mut truststore);
            ks.join()
                .unwrap_or_else(|_| Err(Error::Env("key store thread panicked".into())))
                .and(ts)
        })?;

        let config = ca.client_tls(&client)?;
        let authorization = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{BASIC_AUTH_USER}:{password}"))
        );
        Ok(SecureMaterial {
            dir: dir.to_path_buf(),
            password,
            probe: ProbeTls {
                config: Arc::new(config),
                authorization,
            },
        })
    }

    fn env(&self, url: String) -> SecureConnectEnv {
        SecureConnectEnv {
            url,
            ca_pem: self.dir.join("ca.pem"),
            client_cert_pem: self.dir.join("client.pem"),
            client_key_pem: self.dir.join("client-key.pem"),
            username: BASIC_AUTH_USER.to_string(),
            password: self.password.clone(),
            untrusted_ca_pem: self.dir.join("untrusted-ca.pem"),
        }
    }

    fn worker_tls(&self) -> WorkerTls {
        WorkerTls {
            keystore: self.dir.join("server.p12"),
            truststore: self.dir.join("truststore.p12"),
            jaas: self.dir.join("jaas.conf"),
            probe: self.probe.clone(),
        }
    }
}

/// The request a probe sends: HTTP/1.0, so the server closes the connection after the response.
fn request(path: &str, authorization: Option<&str>) -> String {
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n{auth}Connection: close\r\n\r\n"
    )
}

fn connect(port: u16) -> Option<TcpStream> {
    let tcp = TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(2),
    )
    .ok()?;
    tcp.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    tcp.set_write_timeout(Some(Duration::from_secs(5))).ok()?;
    Some(tcp)
}

/// Splits a raw HTTP response into its status code and body.
fn parse_response(raw: &[u8]) -> Option<(u16, String)> {
    let text = String::from_utf8_lossy(raw);
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

/// A plain HTTP GET with a short timeout; `None` when the worker does not answer (yet).
fn http_get(port: u16, path: &str, authorization: Option<&str>) -> Option<(u16, String)> {
    let mut tcp = connect(port)?;
    tcp.write_all(request(path, authorization).as_bytes())
        .ok()?;
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).ok()?;
    parse_response(&raw)
}

/// An HTTPS GET with the client certificate and basic auth of the secured worker.
fn https_get(port: u16, path: &str, tls: &ProbeTls) -> Option<(u16, String)> {
    let tcp = connect(port)?;
    let name = rustls::pki_types::ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
    let conn = rustls::ClientConnection::new(tls.config.clone(), name).ok()?;
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    stream
        .write_all(request(path, Some(&tls.authorization)).as_bytes())
        .ok()?;
    let mut raw = Vec::new();
    // A server that closes without close_notify ends the read with an error after the whole response.
    let _ = stream.read_to_end(&mut raw);
    parse_response(&raw)
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

    #[test]
    fn version_from_home() {
        assert_eq!(kafka_version(Path::new("/c/kafka-4.3.1")).unwrap(), "4.3.1");
        assert!(kafka_version(Path::new("/c/other")).is_err());
    }

    #[test]
    fn cluster_id_is_a_base64_uuid() {
        let id = cluster_id().unwrap();
        assert_eq!(id.len(), 22);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn response_parsing() {
        let raw = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 5\r\n\r\nnope!";
        assert_eq!(parse_response(raw), Some((401, "nope!".to_string())));
        assert_eq!(parse_response(b""), None);
    }
}
