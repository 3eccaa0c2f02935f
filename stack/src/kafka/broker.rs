//! The one-node KRaft broker: combined controller and broker, its log dir formatted with
//! `kafka.tools.StorageTool` first. Besides the PLAINTEXT listener everything uses, it has a SASL_PLAINTEXT
//! listener (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; one user) and an SSL listener requiring client certificates,
//! for clients that must authenticate (lag measurement).

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::tls::BrokerTls;
use super::{SecuredBrokerEnv, java, path_str, random_bytes, write_properties};
use crate::ports::free_ports;
use crate::process::Proc;
use crate::{Error, Result, io};

/// How long the broker may take to come up (2 cores, possibly shared with a cargo or Go build).
pub(super) const BROKER_TIMEOUT: Duration = Duration::from_secs(120);

/// The user of the SASL listener, known to all three mechanisms.
const SASL_USER: &str = "lag-reader";

/// A started broker (not yet ready).
pub(super) struct StartedBroker {
    pub(super) proc_: Proc,
    /// `127.0.0.1:PORT` of the PLAINTEXT listener.
    pub(super) bootstrap: String,
    pub(super) secured: SecuredBrokerEnv,
}

/// Formats the log dir (with the SASL user's SCRAM credentials) and starts `kafka.Kafka`.
pub(super) fn start_broker(home: &Path, dir: &Path) -> Result<StartedBroker> {
    let state = dir.join("kafka");
    let data = state.join("data");
    fs::create_dir_all(&state).map_err(io(format!("creating {}", state.display())))?;
    let [port, controller_port, sasl_port, ssl_port] = free_ports()?;
    let bootstrap = format!("127.0.0.1:{port}");
    let sasl_bootstrap = format!("127.0.0.1:{sasl_port}");
    let ssl_bootstrap = format!("127.0.0.1:{ssl_port}");
    let tls = BrokerTls::create(&state.join("tls"))?;
    // Hex: nothing in it needs quoting in the JAAS value or the storage tool's SCRAM argument.
    let sasl_password: String = random_bytes::<16>()?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let sasl = |k: &str| format!("listener.name.sasl_plaintext.{k}");
    let ssl = |k: &str| format!("listener.name.ssl.{k}");
    let scram_login = "org.apache.kafka.common.security.scram.ScramLoginModule required;";
    let mut props: Vec<(String, String)> = [
        ("process.roles", "broker,controller".to_string()),
        ("node.id", "1".into()),
        // A static quorum of one: understood by every KRaft version, and no --standalone needed.
        (
            "controller.quorum.voters",
            format!("1@127.0.0.1:{controller_port}"),
        ),
        (
            "listeners",
            format!(
                "PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port},\
                 SASL_PLAINTEXT://{sasl_bootstrap},SSL://{ssl_bootstrap}"
            ),
        ),
        (
            "advertised.listeners",
            format!(
                "PLAINTEXT://127.0.0.1:{port},SASL_PLAINTEXT://{sasl_bootstrap},SSL://{ssl_bootstrap}"
            ),
        ),
        ("controller.listener.names", "CONTROLLER".into()),
        ("inter.broker.listener.name", "PLAINTEXT".into()),
        (
            "listener.security.protocol.map",
            "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL".into(),
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
    // SASL: PLAIN users live in the listener's JAAS config, SCRAM credentials in the metadata log (added
    // when formatting, below). No authorizer: an authenticated client may do anything.
    props.extend([
        (
            sasl("sasl.enabled.mechanisms"),
            "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512".into(),
        ),
        (
            sasl("plain.sasl.jaas.config"),
            format!(
                "org.apache.kafka.common.security.plain.PlainLoginModule required \
                 user_{SASL_USER}=\"{sasl_password}\";"
            ),
        ),
        (sasl("scram-sha-256.sasl.jaas.config"), scram_login.into()),
        (sasl("scram-sha-512.sasl.jaas.config"), scram_login.into()),
        // SSL with PEM stores given inline (a PEM key store file would need an encrypted key).
        (ssl("ssl.client.auth"), "required".into()),
        (ssl("ssl.keystore.type"), "PEM".into()),
        (ssl("ssl.keystore.certificate.chain"), tls.server_chain_pem),
        (ssl("ssl.keystore.key"), tls.server_key_pem),
        (ssl("ssl.truststore.type"), "PEM".into()),
        (ssl("ssl.truststore.certificates"), tls.ca_pem),
    ]);
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
    for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
        fmt.arg("--add-scram").arg(format!(
            "{mechanism}=[name={SASL_USER},password={sasl_password}]"
        ));
    }
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
    let proc_ = Proc::spawn(
        "kafka-broker",
        cmd,
        &dir.join("logs").join("kafka-broker.log"),
    )?;
    Ok(StartedBroker {
        proc_,
        bootstrap,
        secured: SecuredBrokerEnv {
            sasl_bootstrap,
            sasl_username: SASL_USER.into(),
            sasl_password,
            ssl_bootstrap,
            ca_pem: tls.ca_path,
            client_cert_pem: tls.client_cert_path,
            client_key_pem: tls.client_key_path,
        },
    })
}

/// A random KRaft cluster id: 16 bytes, URL-safe base64 without padding (what `random-uuid` prints).
fn cluster_id() -> Result<String> {
    loop {
        if let Some(id) = cluster_id_from(random_bytes::<16>()?) {
            return Ok(id);
        }
    }
}

/// The id for `bytes`, unless it starts with `-`: the storage tool would read it as an option (1 draw in
/// 64), so Kafka's own `Uuid.randomUuid` draws again too.
fn cluster_id_from(bytes: [u8; 16]) -> Option<String> {
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    (!id.starts_with('-')).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_id_is_a_base64_uuid() {
        let id = cluster_id().unwrap();
        assert_eq!(id.len(), 22);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        // 0xF8: the first six bits are 62, which encodes as '-'.
        let mut dash = [0u8; 16];
        dash[0] = 0xF8;
        assert_eq!(cluster_id_from(dash), None);
        dash[0] = 0xF4;
        assert_eq!(cluster_id_from(dash).unwrap().chars().next(), Some('9'));
    }
}
