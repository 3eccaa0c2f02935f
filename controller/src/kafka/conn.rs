//! One connection to one broker: TCP (and TLS), ApiVersions to learn the versions it speaks, SASL when
//! configured, then one request at a time. Each step has the settings' timeout.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::{
    ApiVersionsRequest, ApiVersionsResponse, SaslAuthenticateRequest, SaslHandshakeRequest,
};
use kafka_protocol::protocol::{HeaderVersion, StrBytes};
use rustls::{AlertDescription, CertificateError, ClientConfig};
use shared::kafka::{KafkaSettings, SaslCredentials};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::error::{KafkaError, code_name, connection_lost, io_cause};
use super::sasl;
use super::tls;
use super::versions::{Api, Call, Counts, Versions};
use super::wire::{self, FrameError, MAX_RESPONSE};

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Where a connection is in its life, for the hints a closed connection gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No answer yet: a plaintext request to a TLS listener ends here.
    Fresh,
    /// Only ApiVersions answered: a SASL listener closes the connection on any other request before
    /// authentication.
    Versions,
    Ready,
}

pub(crate) struct Conn {
    broker: String,
    stream: Box<dyn Stream>,
    versions: Versions,
    next_id: i32,
    timeout: Duration,
    tls: bool,
    client_cert: bool,
    sasl: bool,
    phase: Phase,
    counts: Arc<Counts>,
}

impl Conn {
    /// Connects to `broker` (`host:port`) and makes the connection ready for requests.
    pub(crate) async fn open(
        broker: &str,
        settings: &KafkaSettings,
        tls_config: Option<Arc<ClientConfig>>,
        counts: Arc<Counts>,
        limits: &[(Api, i16)],
    ) -> Result<Conn, KafkaError> {
        let timeout = settings.timeout;
        let tcp = tokio::time::timeout(timeout, TcpStream::connect(broker))
            .await
            .map_err(|_| timed_out(broker, "connecting", timeout))?
            .map_err(|e| KafkaError::Connect {
                broker: broker.to_string(),
                cause: io_cause(&e),
            })?;
        // Requests are small and each waits for its answer: no batching delay.
        let _ = tcp.set_nodelay(true);
        let client_cert = settings
            .tls
            .as_ref()
            .is_some_and(|t| t.client_cert_pem.is_some());
        let stream: Box<dyn Stream> = match &tls_config {
            Some(config) => {
                let name = tls::server_name(broker)?;
                let connector = tokio_rustls::TlsConnector::from(config.clone());
                let tls = tokio::time::timeout(timeout, connector.connect(name, tcp))
                    .await
                    .map_err(|_| timed_out(broker, "the TLS handshake", timeout))?
                    .map_err(|e| match tls_cause(&e, client_cert) {
                        Some(cause) => KafkaError::Tls {
                            broker: broker.to_string(),
                            cause,
                        },
                        None if connection_lost(e.kind()) => KafkaError::NotTls {
                            broker: broker.to_string(),
                        },
                        None => KafkaError::Tls {
                            broker: broker.to_string(),
                            cause: io_cause(&e),
                        },
                    })?;
                Box::new(tls)
            }
            None => Box::new(tcp),
        };
        let mut conn = Conn {
            broker: broker.to_string(),
            stream,
            versions: Versions::unknown(broker),
            next_id: 0,
            timeout,
            tls: tls_config.is_some(),
            client_cert,
            sasl: settings.sasl.is_some(),
            phase: Phase::Fresh,
            counts,
        };
        conn.negotiate().await?;
        conn.versions.limit(limits);
        if let Some(creds) = &settings.sasl {
            authenticate(&mut conn, creds).await?;
        }
        tracing::debug!(
            broker,
            tls = conn.tls,
            sasl = conn.sasl,
            "connected to a Kafka broker"
        );
        Ok(conn)
    }

    pub(crate) fn broker(&self) -> &str {
        &self.broker
    }

    pub(crate) fn versions(&self) -> &Versions {
        &self.versions
    }

    /// Sends `request` at `version` and decodes the answer. Any error leaves the connection in an
    /// unknown state: the caller drops it.
    pub(crate) async fn call<R: Call>(
        &mut self,
        version: i16,
        request: &R,
    ) -> Result<R::Response, KafkaError> {
        let body = self.exchange(version, request).await?;
        wire::decode_body(R::API, body, version).map_err(|cause| self.malformed(R::API, cause))
    }

    /// ApiVersions: v3, or v0 when the broker refuses v3 (it then answers in v0's layout).
    async fn negotiate(&mut self) -> Result<(), KafkaError> {
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str(wire::CLIENT_ID))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let mut version = 3;
        let mut body = self.exchange(version, &request).await?;
        if wire::leading_error_code(&body) == Some(ResponseError::UnsupportedVersion.code()) {
            version = 0;
            body = self.exchange(version, &request).await?;
        }
        let answer: ApiVersionsResponse = wire::decode_body(Api::ApiVersions, body, version)
            .map_err(|cause| self.malformed(Api::ApiVersions, cause))?;
        if let Some(code) = ResponseError::try_from_code(answer.error_code) {
            return Err(KafkaError::Answer {
                broker: self.broker.clone(),
                what: "ApiVersions".into(),
                code,
                message: None,
            });
        }
        self.versions = Versions::from_response(&self.broker, &answer);
        Ok(())
    }

    /// Writes one request and reads its answer; returns the body after the header.
    async fn exchange<R: Call>(&mut self, version: i16, request: &R) -> Result<Bytes, KafkaError> {
        let api = R::API;
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let frame = wire::encode_request(api, version, R::header_version(version), id, request)
            .map_err(|cause| KafkaError::Encode {
                api: api.name(),
                cause,
            })?;
        self.counts.add(api);
        let stream = &mut self.stream;
        let round_trip = async {
            stream.write_all(&frame).await.map_err(FrameError::Io)?;
            stream.flush().await.map_err(FrameError::Io)?;
            wire::read_frame(stream, MAX_RESPONSE).await
        };
        let raw = tokio::time::timeout(self.timeout, round_trip)
            .await
            .map_err(|_| timed_out(&self.broker, api.name(), self.timeout))?
            .map_err(|e| self.frame_error(api, e))?;
        self.phase = match api {
            Api::ApiVersions => Phase::Versions,
            _ => Phase::Ready,
        };
        wire::split_header(raw, R::Response::header_version(version), id)
            .map_err(|cause| self.malformed(api, cause))
    }

    fn frame_error(&self, api: Api, e: FrameError) -> KafkaError {
        let broker = self.broker.clone();
        match e {
            FrameError::Tls if !self.tls => KafkaError::TlsRequired { broker },
            FrameError::Tls => self.malformed(api, "it starts like a TLS record".into()),
            FrameError::TooLarge(size) => KafkaError::TooLarge {
                broker,
                size,
                max: MAX_RESPONSE,
            },
            FrameError::Negative(size) => {
                self.malformed(api, format!("its size is negative ({size})"))
            }
            FrameError::Io(e) => {
                if let Some(cause) = tls_cause(&e, self.client_cert) {
                    return KafkaError::Tls { broker, cause };
                }
                match self.phase {
                    Phase::Fresh if !self.tls && connection_lost(e.kind()) => {
                        KafkaError::TlsRequired { broker }
                    }
                    Phase::Versions if !self.sasl && connection_lost(e.kind()) => {
                        KafkaError::SaslRequired { broker }
                    }
                    _ => KafkaError::Io {
                        broker,
                        cause: io_cause(&e),
                        kind: e.kind(),
                    },
                }
            }
        }
    }

    fn malformed(&self, api: Api, cause: String) -> KafkaError {
        KafkaError::Malformed {
            broker: self.broker.clone(),
            api: api.name(),
            cause,
        }
    }
}

/// Authenticates `conn` with `creds`, as Kafka frames SASL: SaslHandshake (v1) names the mechanism, then
/// each SASL message travels in a SaslAuthenticate request and the broker's reply in its response. A refusal by the broker carries its message, never the password.
async fn authenticate(conn: &mut Conn, creds: &SaslCredentials) -> Result<(), KafkaError> {
    let broker = conn.broker().to_string();
    let mechanism = creds.mechanism.name();
    let handshake_version = conn.versions().require(Api::SaslHandshake)?;
    let authenticate_version = conn.versions().require(Api::SaslAuthenticate)?;
    let handshake =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism));
    let answer = conn.call(handshake_version, &handshake).await?;
    match ResponseError::try_from_code(answer.error_code) {
        None => {}
        Some(ResponseError::UnsupportedSaslMechanism) => {
            return Err(KafkaError::SaslMechanism {
                broker,
                mechanism,
                enabled: answer.mechanisms.iter().map(|m| m.to_string()).collect(),
            });
        }
        Some(code) => {
            return Err(KafkaError::Answer {
                broker,
                what: "SaslHandshake".into(),
                code,
                message: None,
            });
        }
    }

    let sasl_error = |cause: String| KafkaError::Sasl {
        broker: broker.clone(),
        mechanism,
        cause,
    };
    let mut session = sasl::start(creds).map_err(sasl_error)?;
    let mut challenge: Option<Bytes> = None;
    loop {
        if let Some(c) = &challenge {
            sasl::check_iterations(c).map_err(sasl_error)?;
        }
        let (message, state) =
            sasl::step(&mut session, challenge.as_deref()).map_err(sasl_error)?;
        if !state.has_sent_message() {
            // The mechanism verified the broker's last message (SCRAM's server signature).
            return Ok(());
        }
        let request = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(message));
        let answer = conn.call(authenticate_version, &request).await?;
        if let Some(code) = ResponseError::try_from_code(answer.error_code) {
            return Err(KafkaError::SaslAuthentication {
                broker,
                user: creds.username.clone(),
                mechanism,
                message: answer
                    .error_message
                    .map(|m| m.to_string())
                    .filter(|m| !m.trim().is_empty())
                    .unwrap_or_else(|| code_name(code)),
            });
        }
        if state.is_finished() {
            return Ok(());
        }
        challenge = Some(answer.auth_bytes);
    }
}

fn timed_out(broker: &str, what: &str, after: Duration) -> KafkaError {
    KafkaError::Timeout {
        broker: broker.to_string(),
        what: what.to_string(),
        after: format!("{:?}", after),
    }
}

/// The TLS failure inside an I/O error (a certificate the verifier refused, an alert from the broker), with
/// what it most likely means.
fn tls_cause(e: &std::io::Error, client_cert: bool) -> Option<String> {
    let tls = e.get_ref()?.downcast_ref::<rustls::Error>()?;
    let hint = match tls {
        rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired | AlertDescription::BadCertificate,
        ) if !client_cert => {
            " (the broker probably requires a client certificate, and none is configured)"
        }
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            " (no trusted CA signed the broker's certificate)"
        }
        _ => "",
    };
    Some(format!("{tls}{hint}"))
}
