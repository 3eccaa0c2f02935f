//! The SASL mechanisms (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), `rsasl`'s: a client session and its steps,
//! and the bound on what a SCRAM server may ask. The credentials go into the session and nowhere else. How
//! Kafka frames the messages is the connection's (`conn`).

use std::sync::Arc;

use rsasl::prelude::{Mechname, SASLClient, SASLConfig, Session, State};
use shared::kafka::SaslCredentials;

/// The most SCRAM iterations Kafka lets a credential have.
const MAX_SCRAM_ITERATIONS: u64 = 16384;

/// Refuses a SCRAM server-first message that asks for more iterations than Kafka allows: the key derivation
/// runs on the async runtime's thread, and a broker asking for four billion would hold it for hours.
pub(crate) fn check_iterations(challenge: &[u8]) -> Result<(), String> {
    let Ok(text) = std::str::from_utf8(challenge) else {
        return Ok(());
    };
    match text.split(',').find_map(|a| a.strip_prefix("i=")) {
        Some(i) if i.parse::<u64>().is_ok_and(|i| i <= MAX_SCRAM_ITERATIONS) => Ok(()),
        Some(i) => Err(format!(
            "the broker asks for {i:?} SCRAM iterations; Kafka allows at most {MAX_SCRAM_ITERATIONS}"
        )),
        None => Ok(()),
    }
}

/// A client session of `creds.mechanism` only.
pub(crate) fn start(creds: &SaslCredentials) -> Result<Session, String> {
    let config: Arc<SASLConfig> =
        SASLConfig::with_credentials(None, creds.username.clone(), creds.password.clone())
            .map_err(|e| e.to_string())?;
    let mechanism =
        Mechname::parse(creds.mechanism.name().as_bytes()).map_err(|e| e.to_string())?;
    SASLClient::new(config)
        .start_suggested(&[mechanism])
        .map_err(|e| e.to_string())
}

/// One step: the message to send (if the state says one is sent) for the broker's last message.
pub(crate) fn step(
    session: &mut Session,
    input: Option<&[u8]>,
) -> Result<(Vec<u8>, State), String> {
    let mut out = Vec::new();
    let state = session.step(input, &mut out).map_err(|e| e.to_string())?;
    Ok((out, state))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::kafka::SaslMechanism;

    fn creds(mechanism: SaslMechanism) -> SaslCredentials {
        SaslCredentials {
            mechanism,
            username: "lag".into(),
            password: "hunter2".into(),
        }
    }

    #[test]
    fn plain_sends_one_message_with_the_user_and_password() {
        let mut s = start(&creds(SaslMechanism::Plain)).unwrap();
        let (message, state) = step(&mut s, None).unwrap();
        assert_eq!(message, b"\0lag\0hunter2");
        assert!(state.is_finished() && state.has_sent_message());
    }

    #[test]
    fn scram_starts_with_the_user_and_a_nonce_and_no_channel_binding() {
        for m in [SaslMechanism::ScramSha256, SaslMechanism::ScramSha512] {
            let mut s = start(&creds(m)).unwrap();
            let (message, state) = step(&mut s, None).unwrap();
            let text = String::from_utf8(message).unwrap();
            assert!(text.starts_with("n,,n=lag,r="), "{text}");
            assert!(!text.contains("hunter2"));
            assert!(state.is_running());
            // A server message that is not SCRAM is an error, not a panic.
            assert!(step(&mut s, Some(b"garbage")).is_err());
        }
    }

    #[test]
    fn scram_iterations_beyond_kafkas_limit_are_refused() {
        assert!(check_iterations(b"r=abc,s=c2FsdA==,i=4096").is_ok());
        assert!(check_iterations(b"r=abc,s=c2FsdA==,i=16384").is_ok());
        assert_eq!(
            check_iterations(b"r=abc,s=c2FsdA==,i=4294967295").unwrap_err(),
            "the broker asks for \"4294967295\" SCRAM iterations; Kafka allows at most 16384"
        );
        assert!(check_iterations(b"r=abc,s=c2FsdA==,i=-1").is_err());
        // Not a server-first message: nothing to check.
        assert!(check_iterations(b"v=c2lnbmF0dXJl").is_ok());
        assert!(check_iterations(&[0xff, 0xfe]).is_ok());
    }
}
