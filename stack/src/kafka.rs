//! A one-node KRaft Kafka broker and distributed Kafka Connect workers, run from the jars that
//! `stack/kafka/build.sh` resolves with Maven into the cache.
//!
//! [`KafkaStack::start`] brings up, on 127.0.0.1 with free ports:
//! - the broker (`kafka.Kafka`, combined controller+broker, log dir formatted with `kafka.tools.StorageTool`),
//!   with a PLAINTEXT listener for everything, and SASL_PLAINTEXT and mTLS listeners for clients that must
//!   authenticate;
//! - the main Connect worker (`ConnectDistributed`, plain HTTP), with the built-in connectors on the classpath;
//! - a secured Connect worker on the same broker: HTTPS with a server certificate from a CA generated here,
//!   client certificates required (mTLS), and HTTP basic auth (`BasicAuthSecurityRestExtension`).
//!
//! Every worker is its own Connect cluster (own `group.id` and internal topics). Tests that need a worker to
//! die and come back start one more with [`ConnectWorker::start`]: it keeps its port, group and topics across
//! [`ConnectWorker::stop`]/[`ConnectWorker::kill`] and [`ConnectWorker::restart`], so its connectors survive.
//!
//! Layout under the state directory: `logs/<name>.log` per process, `kafka/` (broker config, data and
//! `tls/` certificates), `connect/<name>/` (worker config, certificates).
//!
//! [`tool_command`] runs Kafka's own command-line tools against the stack.

mod broker;
mod tls;
mod worker;

use std::fs;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::ports::free_ports;
use crate::process::{Proc, wait_ready};
use crate::{Error, Result, io};
use broker::{BROKER_TIMEOUT, StartedBroker, start_broker};
use tls::SecureMaterial;
pub use worker::ConnectWorker;
use worker::DEFAULT_HEAP_MIB;

/// Where the Kafka stack is, as written to the stack env JSON for tests and the demo.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KafkaEnv {
    /// `127.0.0.1:PORT` of the broker's PLAINTEXT listener.
    pub bootstrap: String,
    /// `http://127.0.0.1:PORT` of the main Connect worker.
    pub connect_url: String,
    /// The secured Connect worker (mTLS + basic auth).
    pub secure: SecureConnectEnv,
    /// The broker's SASL and mTLS listeners. `None` only in an env file written by an older `cw-stack`.
    #[serde(default)]
    pub brokers_secured: Option<SecuredBrokerEnv>,
    /// The `kafka-$VERSION` directory of the cache: `lib/` (the classpath), `log4j2.xml` and
    /// `tools-log4j2.xml`.
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

/// The broker's listeners that need authentication, on the same broker as [`KafkaEnv::bootstrap`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecuredBrokerEnv {
    /// `127.0.0.1:PORT` of the SASL_PLAINTEXT listener: mechanisms PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512,
    /// each accepting `sasl_username`/`sasl_password`. No authorizer, so that user may do anything.
    pub sasl_bootstrap: String,
    pub sasl_username: String,
    pub sasl_password: String,
    /// `127.0.0.1:PORT` of the SSL listener, which requires a client certificate signed by `ca_pem` (its
    /// server certificate, signed by the same CA, is valid for 127.0.0.1 and localhost).
    pub ssl_bootstrap: String,
    pub ca_pem: PathBuf,
    pub client_cert_pem: PathBuf,
    /// PKCS#8 PEM.
    pub client_key_pem: PathBuf,
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
        let StartedBroker {
            proc_: mut broker,
            bootstrap,
            secured,
        } = start_broker(&home, &dir)?;
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
            brokers_secured: Some(secured.clone()),
            home: home.clone(),
            version: version.clone(),
        };
        // Both workers boot at once; `broker` is killed by its Drop if either fails.
        let [main_port, secure_port] = free_ports()?;
        let mut main = ConnectWorker::spawn(
            &env_base,
            &dir,
            "connect",
            main_port,
            None,
            DEFAULT_HEAP_MIB,
        )?;
        let mut secure = ConnectWorker::spawn(
            &env_base,
            &dir,
            "connect-secure",
            secure_port,
            Some(tls.worker_tls()),
            DEFAULT_HEAP_MIB,
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
            brokers_secured: Some(secured),
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

/// `java` running one of Kafka's command-line tools, `class` (e.g. `org.apache.kafka.tools.TopicCommand`),
/// with the stack's classpath; add the tool's arguments. Its own logging goes to stderr at WARN and above, so
/// stdout carries only what the tool prints.
pub fn tool_command(env: &KafkaEnv, class: &str) -> Command {
    let mut cmd = java_logging(
        &env.home,
        &env.home.join("tools-log4j2.xml"),
        &["-Xms32m".to_string(), "-Xmx256m".to_string()],
    );
    cmd.arg(class);
    cmd
}

/// `java` with the stack's classpath, logging config and small-machine flags.
fn java(home: &Path, extra: &[String]) -> Command {
    java_logging(home, &home.join("log4j2.xml"), extra)
}

fn java_logging(home: &Path, log_config: &Path, extra: &[String]) -> Command {
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
            log_config.display()
        ))
        .arg("-cp")
        .arg(format!("{}/*", home.join("lib").display()));
    // Options meant for a developer's own JVMs must not leak into the stack's.
    cmd.env_remove("JAVA_TOOL_OPTIONS")
        .env_remove("_JAVA_OPTIONS")
        .env_remove("JDK_JAVA_OPTIONS");
    cmd
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

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(io("reading /dev/urandom"))?;
    Ok(b)
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

/// Writes a Java properties file. Values are escaped for `\` and line breaks (PEM values span lines), so
/// Windows-free paths pass through unchanged.
pub fn write_properties(path: &Path, props: &[(String, String)]) -> Result<()> {
    fs::write(path, properties_text(props)).map_err(io(format!("writing {}", path.display())))
}

fn properties_text(props: &[(String, String)]) -> String {
    let mut s = String::new();
    for (k, v) in props {
        let v = v
            .replace('\\', "\\\\")
            .replace('\n', "\\n")
            .replace('\r', "\\r");
        s.push_str(&format!("{k}={v}\n"));
    }
    s
}

fn log_contains(log: &Path, needle: &str) -> bool {
    fs::read(log)
        .map(|b| String::from_utf8_lossy(&b).contains(needle))
        .unwrap_or(false)
}

fn write_file(path: &Path, contents: impl AsRef<[u8]>) -> Result<()> {
    fs::write(path, contents).map_err(io(format!("writing {}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_escape_backslashes_and_line_breaks() {
        let props = [
            ("path".to_string(), "/a/b".to_string()),
            (
                "pem".to_string(),
                "-----BEGIN X-----\r\nAB\\C\n-----END X-----\n".to_string(),
            ),
        ];
        assert_eq!(
            properties_text(&props),
            "path=/a/b\npem=-----BEGIN X-----\\r\\nAB\\\\C\\n-----END X-----\\n\n"
        );
    }

    #[test]
    fn version_from_home() {
        assert_eq!(kafka_version(Path::new("/c/kafka-4.3.1")).unwrap(), "4.3.1");
        assert!(kafka_version(Path::new("/c/other")).is_err());
    }
}
