//! Kafka's own command-line tools (from `kafka-tools`, on the stack's classpath) against the stack's broker:
//! topics, records, and consumer groups' offsets and lag, as a test sets them up and checks them. Each call
//! starts one JVM (a second or two); errors carry the tool's stderr.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use shared::kafka::SaslMechanism;
use stack::kafka::{KafkaEnv, SecuredBrokerEnv};
use tokio::io::AsyncWriteExt;

/// Bounds one tool run: a hang fails the test instead of stalling it.
const TOOL_TIMEOUT: Duration = Duration::from_secs(120);

/// How a tool reaches the broker.
#[derive(Clone)]
pub enum Access {
    /// The PLAINTEXT listener, [`KafkaEnv::bootstrap`].
    Plaintext,
    /// The SASL_PLAINTEXT listener with these credentials.
    Sasl {
        mechanism: SaslMechanism,
        username: String,
        password: String,
    },
    /// The SSL listener with the stack's client certificate.
    Ssl,
}

impl Access {
    /// The SASL listener with the stack's user and password.
    pub fn sasl(env: &KafkaEnv, mechanism: SaslMechanism) -> Result<Access, String> {
        let s = secured(env)?;
        Ok(Access::Sasl {
            mechanism,
            username: s.sasl_username.clone(),
            password: s.sasl_password.clone(),
        })
    }
}

/// Names the listener and the user, never the password (it shows in failure messages).
impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Access::Plaintext => write!(f, "PLAINTEXT"),
            Access::Sasl {
                mechanism,
                username,
                ..
            } => write!(f, "SASL {} as {username}", mechanism.name()),
            Access::Ssl => write!(f, "SSL with the stack's client certificate"),
        }
    }
}

/// The broker's SASL and mTLS listeners.
pub fn secured(env: &KafkaEnv) -> Result<&SecuredBrokerEnv, String> {
    env.brokers_secured.as_ref().ok_or_else(|| {
        "the stack's env file has no brokers_secured (written by an older cw-stack): restart the stack".into()
    })
}

/// One partition's row of `kafka-consumer-groups --describe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPartition {
    pub topic: String,
    pub partition: i32,
    /// The group's committed offset; `None` when it has committed none for this partition.
    pub current_offset: Option<i64>,
    pub log_end_offset: i64,
    /// `None` when there is no committed offset to measure from.
    pub lag: Option<i64>,
    /// The member the partition is assigned to; `None` when no member holds it (e.g. the group is empty).
    pub consumer_id: Option<String>,
}

/// Creates `topic` with `partitions` partitions (replication factor 1); fails if it exists.
pub async fn create_topic(env: &KafkaEnv, topic: &str, partitions: u32) -> Result<(), String> {
    let args = [
        "--create",
        "--topic",
        topic,
        "--partitions",
        &partitions.to_string(),
        "--replication-factor",
        "1",
    ];
    run_with(
        env,
        &Access::Plaintext,
        "org.apache.kafka.tools.TopicCommand",
        &args,
        None,
    )
    .await
    .map(drop)
}

/// The topics, as listed through `access` (a listener check).
pub async fn list_topics(env: &KafkaEnv, access: &Access) -> Result<Vec<String>, String> {
    let out = run_with(
        env,
        access,
        "org.apache.kafka.tools.TopicCommand",
        &["--list"],
        None,
    )
    .await?;
    Ok(out.lines().map(str::to_string).collect())
}

/// Produces `records` as values without keys, spread round-robin over the partitions, and returns once
/// every one is acknowledged by all in-sync replicas (`acks=all`). Records must not contain line breaks.
pub async fn produce(env: &KafkaEnv, topic: &str, records: &[String]) -> Result<(), String> {
    if let Some(r) = records.iter().find(|r| r.contains(['\n', '\r'])) {
        return Err(format!(
            "record {r:?} has a line break (the console producer reads one per line)"
        ));
    }
    let (class, args) = console_producer(env, topic);
    let mut input = records.join("\n");
    input.push('\n');
    // The producer sends everything before it exits at the end of input; a record that failed is only
    // logged ("Error when sending message", which `run_with` fails on).
    run_with(env, &Access::Plaintext, class, &args, Some(input))
        .await
        .map(drop)
}

/// The console producer's class and arguments for `topic`: round-robin over the partitions, `acks=all`,
/// batches sent within 50 ms (its default waits up to a second, which moves the log end in steps). The tool
/// moved to Java in 4.0 and renamed its producer-property flag.
fn console_producer<'a>(env: &KafkaEnv, topic: &'a str) -> (&'static str, [&'a str; 8]) {
    let (class, property) = if major_version(env) >= 4 {
        (
            "org.apache.kafka.tools.ConsoleProducer",
            "--command-property",
        )
    } else {
        ("kafka.tools.ConsoleProducer", "--producer-property")
    };
    let args = [
        "--topic",
        topic,
        "--timeout",
        "50",
        property,
        "acks=all",
        property,
        "partitioner.class=org.apache.kafka.clients.producer.RoundRobinPartitioner",
    ];
    (class, args)
}

/// A console producer on the PLAINTEXT listener fed at a steady rate until stopped (a topic that keeps
/// growing, for a sink to fall behind on).
pub struct Producer {
    child: tokio::process::Child,
    feeder: tokio::task::JoinHandle<std::io::Result<u64>>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Producer {
    /// Starts a console producer on `topic` and writes it `per_second` records a second, a tenth of them
    /// every 100 ms.
    pub fn start(env: &KafkaEnv, topic: &str, per_second: u32) -> Result<Producer, String> {
        let (class, args) = console_producer(env, topic);
        let mut cmd = stack::kafka::tool_command(env, class);
        cmd.arg("--bootstrap-server").arg(&env.bootstrap).args(args);
        let mut child = tokio::process::Command::from(cmd)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting the console producer: {e}"))?;
        let mut pipe = child.stdin.take().ok_or("no stdin pipe")?;
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let burst = u64::from((per_second / 10).max(1));
        let feeder = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            let mut sent = 0u64;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.changed() => break,
                }
                let lines: String = (sent..sent + burst).map(|i| format!("r-{i}\n")).collect();
                pipe.write_all(lines.as_bytes()).await?;
                sent += burst;
            }
            pipe.shutdown().await?;
            Ok(sent)
        });
        Ok(Producer {
            child,
            feeder,
            stop,
        })
    }

    /// Stops feeding, lets the producer send what it has and exit; returns the records written to it.
    pub async fn stop(mut self) -> Result<u64, String> {
        let _ = self.stop.send(true);
        let sent = (self.feeder.await)
            .map_err(|e| format!("the producer's feeder: {e}"))?
            .map_err(|e| format!("feeding the producer: {e}"))?;
        // End of input: the producer flushes and exits.
        tokio::time::timeout(TOOL_TIMEOUT, self.child.wait())
            .await
            .map_err(|_| format!("the producer did not exit within {TOOL_TIMEOUT:?}"))?
            .map_err(|e| format!("waiting for the producer: {e}"))?;
        Ok(sent)
    }
}

/// The group's lag as Kafka's tool reports it: the LAG column summed over the partitions that have one.
pub fn summed_lag(rows: &[GroupPartition]) -> i64 {
    rows.iter().filter_map(|r| r.lag).sum()
}

/// The group's partitions with committed offsets, log-end offsets and lag, from `kafka-consumer-groups
/// --describe`. Empty when the group does not exist (no member has joined and nothing was committed). An
/// empty group that committed offsets still has its rows, without consumer ids.
pub async fn describe_group(env: &KafkaEnv, group: &str) -> Result<Vec<GroupPartition>, String> {
    describe_group_as(env, &Access::Plaintext, group).await
}

/// [`describe_group`] through `access`.
pub async fn describe_group_as(
    env: &KafkaEnv,
    access: &Access,
    group: &str,
) -> Result<Vec<GroupPartition>, String> {
    let args = ["--describe", "--group", group];
    match run_with(
        env,
        access,
        "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
        &args,
        None,
    )
    .await
    {
        Ok(out) => parse_describe(&out),
        Err(e) if group_missing(&e) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// The log-end offset of each partition of `topic`.
pub async fn end_offsets(env: &KafkaEnv, topic: &str) -> Result<BTreeMap<i32, i64>, String> {
    let args = ["--topic", topic, "--time", "-1"];
    let out = run_with(
        env,
        &Access::Plaintext,
        "org.apache.kafka.tools.GetOffsetShell",
        &args,
        None,
    )
    .await?;
    let offsets = parse_offsets(&out)?;
    if offsets.is_empty() {
        return Err(format!("no partitions of topic {topic} listed"));
    }
    Ok(offsets)
}

/// Runs `class` with `--bootstrap-server` (and `--command-config` for a secured listener) before `args`;
/// returns stdout. A non-zero exit, or an `Error…` line (some tools exit 0 after one), fails.
async fn run_with(
    env: &KafkaEnv,
    access: &Access,
    class: &str,
    args: &[&str],
    stdin: Option<String>,
) -> Result<String, String> {
    let config = CommandConfig::write(env, access)?;
    let mut std_cmd = stack::kafka::tool_command(env, class);
    std_cmd
        .arg("--bootstrap-server")
        .arg(bootstrap(env, access)?);
    if let Some(c) = &config {
        std_cmd.arg("--command-config").arg(&c.0);
    }
    std_cmd.args(args);
    let what = format!(
        "{} {}",
        class.rsplit('.').next().unwrap_or(class),
        args.join(" ")
    );
    let mut cmd = tokio::process::Command::from(std_cmd);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("{what}: starting java: {e}"))?;
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().ok_or("no stdin pipe")?;
        pipe.write_all(input.as_bytes())
            .await
            .map_err(|e| format!("{what}: writing stdin: {e}"))?;
        // Dropping the pipe closes it: end of input.
    }
    let out = tokio::time::timeout(TOOL_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| format!("{what}: no exit within {TOOL_TIMEOUT:?}"))?
        .map_err(|e| format!("{what}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // Some tools print their errors to stdout.
    let error_line = stderr.lines().chain(stdout.lines()).any(|l| {
        let l = l.trim_start();
        l.starts_with("Error") || l.contains("Error when sending message")
    });
    if !out.status.success() || error_line {
        return Err(format!(
            "{what} via {access:?} failed ({}):\nstderr: {}\nstdout: {}",
            out.status,
            stderr.trim(),
            stdout.trim()
        ));
    }
    Ok(stdout)
}

fn bootstrap(env: &KafkaEnv, access: &Access) -> Result<String, String> {
    Ok(match access {
        Access::Plaintext => env.bootstrap.clone(),
        Access::Sasl { .. } => secured(env)?.sasl_bootstrap.clone(),
        Access::Ssl => secured(env)?.ssl_bootstrap.clone(),
    })
}

/// A client properties file for a secured listener, removed when dropped.
struct CommandConfig(PathBuf);

impl CommandConfig {
    fn write(env: &KafkaEnv, access: &Access) -> Result<Option<CommandConfig>, String> {
        let props: Vec<(String, String)> = match access {
            Access::Plaintext => return Ok(None),
            Access::Sasl {
                mechanism,
                username,
                password,
            } => {
                let module = match mechanism {
                    SaslMechanism::Plain => {
                        "org.apache.kafka.common.security.plain.PlainLoginModule"
                    }
                    SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => {
                        "org.apache.kafka.common.security.scram.ScramLoginModule"
                    }
                };
                vec![
                    ("security.protocol".into(), "SASL_PLAINTEXT".into()),
                    ("sasl.mechanism".into(), mechanism.name().into()),
                    (
                        "sasl.jaas.config".into(),
                        format!(
                            "{module} required username=\"{}\" password=\"{}\";",
                            jaas_quote(username),
                            jaas_quote(password)
                        ),
                    ),
                ]
            }
            Access::Ssl => {
                let s = secured(env)?;
                let read = |p: &PathBuf| {
                    std::fs::read_to_string(p).map_err(|e| format!("reading {}: {e}", p.display()))
                };
                // PEM values inline: a PEM key store file would need an encrypted key.
                vec![
                    ("security.protocol".into(), "SSL".into()),
                    ("ssl.keystore.type".into(), "PEM".into()),
                    (
                        "ssl.keystore.certificate.chain".into(),
                        read(&s.client_cert_pem)?,
                    ),
                    ("ssl.keystore.key".into(), read(&s.client_key_pem)?),
                    ("ssl.truststore.type".into(), "PEM".into()),
                    ("ssl.truststore.certificates".into(), read(&s.ca_pem)?),
                ]
            }
        };
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "cw-e2e-kafka-{}-{}.properties",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        stack::kafka::write_properties(&path, &props).map_err(|e| e.to_string())?;
        Ok(Some(CommandConfig(path)))
    }
}

impl Drop for CommandConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn jaas_quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn major_version(env: &KafkaEnv) -> u32 {
    env.version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

/// Whether a describe failed only because the group is unknown to the broker.
fn group_missing(error: &str) -> bool {
    error.contains("GroupIdNotFoundException") || error.contains("does not exist")
}

/// The rows of `--describe`'s table: `GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID
/// HOST CLIENT-ID`, `-` for an unknown value. Rows of members without partitions are skipped.
fn parse_describe(out: &str) -> Result<Vec<GroupPartition>, String> {
    let mut rows = Vec::new();
    let mut header: Option<Vec<&str>> = None;
    for line in out.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.first() == Some(&"GROUP") {
            header = Some(fields);
            continue;
        }
        let Some(h) = &header else { continue };
        if fields.len() < 6 {
            continue;
        }
        let col = |name: &str| {
            h.iter()
                .position(|c| *c == name)
                .and_then(|i| fields.get(i).copied())
                .ok_or_else(|| format!("no {name} column in {line:?} under {h:?}"))
        };
        let opt = |name: &str| -> Result<Option<i64>, String> {
            match col(name)? {
                "-" => Ok(None),
                v => v
                    .parse()
                    .map(Some)
                    .map_err(|e| format!("{name} {v:?} in {line:?}: {e}")),
            }
        };
        if col("PARTITION")? == "-" {
            continue;
        }
        let partition = col("PARTITION")?
            .parse()
            .map_err(|e| format!("PARTITION in {line:?}: {e}"))?;
        let log_end_offset =
            opt("LOG-END-OFFSET")?.ok_or_else(|| format!("no LOG-END-OFFSET in {line:?}"))?;
        let consumer_id = match h.iter().position(|c| *c == "CONSUMER-ID") {
            Some(i) => fields.get(i).filter(|v| **v != "-").map(|v| v.to_string()),
            None => None,
        };
        rows.push(GroupPartition {
            topic: col("TOPIC")?.to_string(),
            partition,
            current_offset: opt("CURRENT-OFFSET")?,
            log_end_offset,
            lag: opt("LAG")?,
            consumer_id,
        });
    }
    if header.is_none() && !out.trim().is_empty() && !out.contains("has no active members") {
        return Err(format!("no table in the describe output: {out}"));
    }
    rows.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    Ok(rows)
}

/// `topic:partition:offset` lines.
fn parse_offsets(out: &str) -> Result<BTreeMap<i32, i64>, String> {
    let mut offsets = BTreeMap::new();
    for line in out.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let mut parts = line.rsplitn(3, ':');
        let (Some(offset), Some(partition), Some(_topic)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("unexpected offsets line {line:?}"));
        };
        let bad = |e: std::num::ParseIntError| format!("{line:?}: {e}");
        offsets.insert(
            partition.parse().map_err(bad)?,
            offset.parse().map_err(bad)?,
        );
    }
    Ok(offsets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_describe_tables() {
        let active = "\nGROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID                                                      HOST            CLIENT-ID
connect-s2      t               1          -               10              -               connector-consumer-s2-0-35a3 /127.0.0.1      connector-consumer-s2-0
connect-s2      t               0          4               10              6               connector-consumer-s2-0-35a3 /127.0.0.1      connector-consumer-s2-0
connect-s2      -               -          -               -               -               connector-consumer-s2-1-9f00 /127.0.0.1      connector-consumer-s2-1
";
        let rows = parse_describe(active).unwrap();
        assert_eq!(
            rows,
            vec![
                GroupPartition {
                    topic: "t".into(),
                    partition: 0,
                    current_offset: Some(4),
                    log_end_offset: 10,
                    lag: Some(6),
                    consumer_id: Some("connector-consumer-s2-0-35a3".into()),
                },
                GroupPartition {
                    topic: "t".into(),
                    partition: 1,
                    current_offset: None,
                    log_end_offset: 10,
                    lag: None,
                    consumer_id: Some("connector-consumer-s2-0-35a3".into()),
                },
            ]
        );
        let empty = "\nConsumer group 'connect-s2' has no active members.\n\nGROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID     HOST            CLIENT-ID
connect-s2      t               0          10              12              2               -               -               -
";
        let rows = parse_describe(empty).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].lag, Some(2));
        assert_eq!(rows[0].consumer_id, None);
        assert!(parse_describe("something else entirely").is_err());
        assert_eq!(parse_describe("").unwrap(), vec![]);
    }

    #[test]
    fn parses_offsets() {
        assert_eq!(
            parse_offsets("t-1:0:10\nt-1:2:7\n").unwrap(),
            BTreeMap::from([(0, 10), (2, 7)])
        );
        assert!(parse_offsets("nonsense\n").is_err());
    }

    #[test]
    fn knows_a_missing_group() {
        assert!(group_missing(
            "stderr: Error: Executing consumer group command failed due to org.apache.kafka.common.errors.GroupIdNotFoundException: Group g not found."
        ));
        assert!(group_missing("Error: Consumer group 'g' does not exist."));
        assert!(!group_missing("SaslAuthenticationException"));
    }
}
