//! How to reach the Kafka cluster a Connect cluster works on (`KafkaConnectCluster.spec.kafka`), once its
//! Secrets are resolved: what the controller's lag measurement connects with. The bootstrap list's syntax is
//! checked here, for admission and resolution alike.

use std::fmt;
use std::time::Duration;

/// The SASL mechanisms the controller speaks to brokers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SaslMechanism {
    Plain,
    ScramSha256,
    ScramSha512,
}

impl SaslMechanism {
    /// The name brokers know the mechanism by.
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// SASL credentials; the password never shows in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslCredentials {
    pub mechanism: SaslMechanism,
    pub username: String,
    pub password: String,
}

impl fmt::Debug for SaslCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SaslCredentials({}, {}, [redacted])",
            self.mechanism.name(),
            self.username
        )
    }
}

/// TLS to the brokers: the CA to trust (the platform's roots when none), a client certificate for mTLS.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct KafkaTls {
    pub ca_pem: Option<Vec<u8>>,
    pub client_cert_pem: Option<Vec<u8>>,
    pub client_key_pem: Option<Vec<u8>>,
    pub insecure_skip_verify: bool,
}

impl fmt::Debug for KafkaTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaTls")
            .field("ca_pem", &self.ca_pem.as_ref().map(|c| c.len()))
            .field("client_cert", &self.client_cert_pem.is_some())
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .finish()
    }
}

/// Everything needed to reach one Kafka cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaSettings {
    /// `host:port` of each bootstrap broker, in the order given.
    pub bootstrap: Vec<String>,
    pub sasl: Option<SaslCredentials>,
    pub tls: Option<KafkaTls>,
    /// Deadline for connecting and for one request.
    pub timeout: Duration,
}

/// Reads a bootstrap list as Kafka's `bootstrap.servers` takes it: comma-separated `host:port`, with
/// whitespace around entries ignored and IPv6 hosts in brackets. Every malformed entry is named.
pub fn parse_bootstrap(list: &str) -> Result<Vec<String>, String> {
    let entries: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    if entries.is_empty() {
        return Err("no bootstrap server given (expected host:port[,host:port…])".into());
    }
    let bad: Vec<String> = entries
        .iter()
        .filter_map(|e| bootstrap_entry_problem(e).map(|p| format!("{e:?}: {p}")))
        .collect();
    if bad.is_empty() {
        Ok(entries.into_iter().map(str::to_string).collect())
    } else {
        Err(format!("malformed bootstrap server {}", bad.join("; ")))
    }
}

fn bootstrap_entry_problem(entry: &str) -> Option<&'static str> {
    if entry.contains("://") {
        return Some("give host:port without a scheme or listener name");
    }
    let (host, port) = match entry.strip_prefix('[') {
        Some(rest) => match rest.split_once("]:") {
            Some((h, p)) => (h, p),
            None => return Some("expected [ipv6]:port"),
        },
        None => match entry.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, p),
            Some(_) => return Some("put an IPv6 address in brackets: [addr]:port"),
            None => return Some("no port (expected host:port)"),
        },
    };
    if host.is_empty() {
        return Some("no host");
    }
    if host
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '/' | '@' | '?' | '#'))
    {
        return Some("the host has characters a host name cannot have");
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => None,
        _ => Some("the port must be a number from 1 to 65535"),
    }
}

/// What is wrong with a topic name, as Kafka judges it: 1 to 249 of `a-z A-Z 0-9 . _ -`, not `.` or `..`.
pub fn topic_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("a topic name cannot be empty");
    }
    if name.len() > 249 {
        return Some("a topic name has at most 249 characters");
    }
    if name == "." || name == ".." {
        return Some("a topic name cannot be \".\" or \"..\"");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Some("a topic name has only ASCII letters, digits, '.', '_' and '-'");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_lists_are_read_as_kafka_reads_them() {
        assert_eq!(
            parse_bootstrap(" b-0.kafka:9092, b-1.kafka:9093 ,").unwrap(),
            vec!["b-0.kafka:9092", "b-1.kafka:9093"]
        );
        assert_eq!(
            parse_bootstrap("[::1]:9092,10.0.0.1:9092").unwrap(),
            vec!["[::1]:9092", "10.0.0.1:9092"]
        );
    }

    #[test]
    fn every_malformed_entry_is_named() {
        assert_eq!(
            parse_bootstrap(" , ").unwrap_err(),
            "no bootstrap server given (expected host:port[,host:port…])"
        );
        assert_eq!(
            parse_bootstrap("kafka:9092,kafka,SASL_SSL://k:9093,k:0,::1:9092,:9092").unwrap_err(),
            "malformed bootstrap server \"kafka\": no port (expected host:port); \
             \"SASL_SSL://k:9093\": give host:port without a scheme or listener name; \
             \"k:0\": the port must be a number from 1 to 65535; \
             \"::1:9092\": put an IPv6 address in brackets: [addr]:port; \":9092\": no host"
        );
    }

    #[test]
    fn topic_names_are_judged_as_kafka_judges_them() {
        assert_eq!(topic_name_problem("connect-offsets"), None);
        assert_eq!(topic_name_problem("cw_Connect.offsets-2"), None);
        assert!(topic_name_problem("").is_some());
        assert!(topic_name_problem("..").is_some());
        assert!(topic_name_problem("offsets topic").is_some());
        assert!(topic_name_problem(&"x".repeat(250)).is_some());
    }

    #[test]
    fn credentials_never_print_the_password() {
        let c = SaslCredentials {
            mechanism: SaslMechanism::ScramSha512,
            username: "lag".into(),
            password: "hunter2".into(),
        };
        assert_eq!(
            format!("{c:?}"),
            "SaslCredentials(SCRAM-SHA-512, lag, [redacted])"
        );
    }
}
