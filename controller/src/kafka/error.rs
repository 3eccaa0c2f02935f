//! What can go wrong reading from Kafka, in words a user can act on: each message names the broker and the
//! cause. Credentials never reach an error, so no message can carry a password.

use std::io;

use kafka_protocol::ResponseError;

/// One failure of the Kafka client. `Clone`, because one failed broker fails every group or partition it
/// serves.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum KafkaError {
    /// The settings cannot be used as given (no bootstrap server, unreadable TLS material).
    #[error("Kafka settings: {0}")]
    Settings(String),
    #[error("connecting to broker {broker}: {cause}")]
    Connect { broker: String, cause: String },
    #[error("broker {broker}: {what} timed out after {after}")]
    Timeout {
        broker: String,
        what: String,
        after: String,
    },
    #[error("TLS with broker {broker}: {cause}")]
    Tls { broker: String, cause: String },
    #[error("broker {broker} requires TLS: it refused a plaintext request")]
    TlsRequired { broker: String },
    #[error(
        "broker {broker} does not use TLS on this port: it closed the connection during the TLS handshake"
    )]
    NotTls { broker: String },
    #[error(
        "broker {broker} closed the connection after ApiVersions: it probably requires SASL \
         authentication, and none is configured"
    )]
    SaslRequired { broker: String },
    #[error("talking to broker {broker}: {cause}")]
    Io {
        broker: String,
        cause: String,
        kind: io::ErrorKind,
    },
    #[error(
        "broker {broker} announced a {size}-byte response, over the {max}-byte limit (is {broker} a \
         Kafka listener?)"
    )]
    TooLarge {
        broker: String,
        size: u64,
        max: usize,
    },
    #[error("broker {broker} sent a malformed {api} response: {cause}")]
    Malformed {
        broker: String,
        api: &'static str,
        cause: String,
    },
    /// A request this client built cannot be encoded (a topic name longer than Kafka allows).
    #[error("cannot encode the {api} request: {cause}")]
    Encode { api: &'static str, cause: String },
    #[error("broker {broker} does not support {api} {needed} (it offers {offered})")]
    Unsupported {
        broker: String,
        api: &'static str,
        needed: String,
        offered: String,
    },
    #[error(
        "broker {broker} does not enable SASL mechanism {mechanism} (it enables: {})",
        list(enabled)
    )]
    SaslMechanism {
        broker: String,
        mechanism: &'static str,
        enabled: Vec<String>,
    },
    #[error(
        "SASL authentication failed for user {user:?} with {mechanism} at broker {broker}: {message}"
    )]
    SaslAuthentication {
        broker: String,
        user: String,
        mechanism: &'static str,
        message: String,
    },
    /// The SASL exchange itself broke (a server proof that does not verify, a malformed challenge).
    #[error("SASL {mechanism} with broker {broker}: {cause}")]
    Sasl {
        broker: String,
        mechanism: &'static str,
        cause: String,
    },
    /// The broker answered, with an error code for `what` (a topic, a group, a partition, the request).
    #[error("{what} at broker {broker}: {}", describe(*code, message.as_deref()))]
    Answer {
        broker: String,
        what: String,
        code: ResponseError,
        message: Option<String>,
    },
    /// One partition's fetched records could not be read: a malformed batch, a codec this client does not
    /// read, a batch over what it decodes.
    #[error("reading the records of {partition} from broker {broker}: {cause}")]
    Records {
        broker: String,
        partition: String,
        cause: String,
    },
    /// A topic, partition or broker the request needs that the metadata does not show.
    #[error("{0}")]
    NotInMetadata(String),
    #[error("no bootstrap server answered: {}", list_errors(.0))]
    NoBootstrap(Vec<KafkaError>),
}

impl KafkaError {
    /// A failure every broker would give alike (settings, credentials, TLS): the whole call fails with it
    /// rather than one line per group or partition.
    pub(crate) fn is_settings_problem(&self) -> bool {
        matches!(
            self,
            KafkaError::Settings(_)
                | KafkaError::Tls { .. }
                | KafkaError::TlsRequired { .. }
                | KafkaError::NotTls { .. }
                | KafkaError::SaslRequired { .. }
                | KafkaError::SaslMechanism { .. }
                | KafkaError::SaslAuthentication { .. }
                | KafkaError::Sasl { .. }
        )
    }

    /// The connection died under the request: a cached connection the broker closed while idle.
    pub(crate) fn is_connection_lost(&self) -> bool {
        matches!(
            self,
            KafkaError::Io { kind, .. } if connection_lost(*kind)
        )
    }
}

pub(crate) fn connection_lost(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// An I/O failure in plain words; the OS text otherwise.
pub(crate) fn io_cause(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::ConnectionReset => "the broker reset the connection".into(),
        io::ErrorKind::UnexpectedEof => "the broker closed the connection".into(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionAborted => {
            "the connection was closed".into()
        }
        _ => e.to_string(),
    }
}

/// Kafka's own name of an error code (`UNKNOWN_TOPIC_OR_PARTITION`), as its tools and logs print it.
pub(crate) fn code_name(code: ResponseError) -> String {
    if let ResponseError::Unknown(n) = code {
        return format!("error code {n}");
    }
    // The crate's Display is the variant name in CamelCase.
    let camel = code.to_string();
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn describe(code: ResponseError, message: Option<&str>) -> String {
    let mut s = code_name(code);
    if let Some(m) = message.map(str::trim).filter(|m| !m.is_empty()) {
        s.push_str(": ");
        s.push_str(m);
    }
    if code.is_retriable() {
        s.push_str(" (retriable)");
    }
    s
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

fn list_errors(errors: &[KafkaError]) -> String {
    if errors.is_empty() {
        return "none was tried".into();
    }
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_as_kafka_names_them() {
        assert_eq!(
            code_name(ResponseError::UnknownTopicOrPartition),
            "UNKNOWN_TOPIC_OR_PARTITION"
        );
        assert_eq!(
            code_name(ResponseError::SaslAuthenticationFailed),
            "SASL_AUTHENTICATION_FAILED"
        );
        assert_eq!(code_name(ResponseError::Unknown(9999)), "error code 9999");
    }

    #[test]
    fn answers_name_the_broker_the_subject_and_whether_to_retry() {
        let e = KafkaError::Answer {
            broker: "k:9092".into(),
            what: "OffsetFetch of group \"g\"".into(),
            code: ResponseError::NotCoordinator,
            message: None,
        };
        assert_eq!(
            e.to_string(),
            "OffsetFetch of group \"g\" at broker k:9092: NOT_COORDINATOR (retriable)"
        );
        let e = KafkaError::Answer {
            broker: "k:9092".into(),
            what: "FindCoordinator of group \"g\"".into(),
            code: ResponseError::GroupAuthorizationFailed,
            message: Some("Not authorized".into()),
        };
        assert_eq!(
            e.to_string(),
            "FindCoordinator of group \"g\" at broker k:9092: GROUP_AUTHORIZATION_FAILED: Not authorized"
        );
    }

    #[test]
    fn failures_read_as_sentences() {
        let e = KafkaError::Connect {
            broker: "10.0.0.1:9092".into(),
            cause: io_cause(&io::Error::from(io::ErrorKind::ConnectionRefused)),
        };
        assert_eq!(
            e.to_string(),
            "connecting to broker 10.0.0.1:9092: connection refused"
        );
        let e = KafkaError::SaslMechanism {
            broker: "k:9093".into(),
            mechanism: "SCRAM-SHA-512",
            enabled: vec!["PLAIN".into()],
        };
        assert_eq!(
            e.to_string(),
            "broker k:9093 does not enable SASL mechanism SCRAM-SHA-512 (it enables: PLAIN)"
        );
        let e = KafkaError::NoBootstrap(vec![
            KafkaError::TlsRequired {
                broker: "a:1".into(),
            },
            KafkaError::Timeout {
                broker: "b:2".into(),
                what: "connecting".into(),
                after: "5s".into(),
            },
        ]);
        assert_eq!(
            e.to_string(),
            "no bootstrap server answered: broker a:1 requires TLS: it refused a plaintext request; \
             broker b:2: connecting timed out after 5s"
        );
    }

    #[test]
    fn only_a_dead_connection_counts_as_lost() {
        let io = |kind| KafkaError::Io {
            broker: "k:1".into(),
            cause: String::new(),
            kind,
        };
        assert!(io(io::ErrorKind::UnexpectedEof).is_connection_lost());
        assert!(io(io::ErrorKind::ConnectionReset).is_connection_lost());
        assert!(!io(io::ErrorKind::InvalidData).is_connection_lost());
        assert!(
            !KafkaError::Timeout {
                broker: "k:1".into(),
                what: String::new(),
                after: String::new()
            }
            .is_connection_lost()
        );
    }
}
