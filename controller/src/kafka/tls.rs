//! TLS to the brokers with the process-wide ring provider: the given CA, else the platform's roots; a
//! client certificate for mTLS; or, when asked, no verification of the certificate at all.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use shared::kafka::KafkaTls;

use super::error::KafkaError;

/// The client configuration for `tls`. Reads no file: the platform verifier loads the system roots here.
pub(crate) fn client_config(tls: &KafkaTls) -> Result<Arc<ClientConfig>, KafkaError> {
    shared::tls::install_crypto_provider();
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| settings(format!("TLS: {e}")))?;
    let builder = if tls.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate {
                algorithms: provider.signature_verification_algorithms,
            }))
    } else if let Some(ca) = &tls.ca_pem {
        builder.with_root_certificates(roots(ca)?)
    } else {
        let verifier = rustls_platform_verifier::Verifier::new(provider)
            .map_err(|e| settings(format!("TLS: the platform's CA certificates: {e}")))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
    };
    let config = match (&tls.client_cert_pem, &tls.client_key_pem) {
        (Some(cert), Some(key)) => builder
            .with_client_auth_cert(certificates(cert, "client certificate")?, private_key(key)?)
            .map_err(|e| settings(format!("TLS client certificate: {e}")))?,
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(settings(
                "TLS: a client certificate and its key must be given together".into(),
            ));
        }
    };
    Ok(Arc::new(config))
}

/// The name to verify the certificate of `broker` (`host:port`, `[v6]:port`) against: a DNS name or an IP
/// address.
pub(crate) fn server_name(broker: &str) -> Result<ServerName<'static>, KafkaError> {
    let host = match broker.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map(|(h, _)| h),
        None => broker.rsplit_once(':').map(|(h, _)| h),
    }
    .unwrap_or(broker);
    ServerName::try_from(host.to_string())
        .map_err(|e| settings(format!("TLS: {host:?} is not a host name to verify: {e}")))
}

fn settings(message: String) -> KafkaError {
    KafkaError::Settings(message)
}

fn roots(pem: &[u8]) -> Result<RootCertStore, KafkaError> {
    let mut roots = RootCertStore::empty();
    for (i, cert) in certificates(pem, "CA bundle")?.into_iter().enumerate() {
        roots.add(cert).map_err(|e| {
            settings(format!(
                "TLS CA bundle: certificate number {} is not a usable CA certificate: {e}",
                i + 1
            ))
        })?;
    }
    Ok(roots)
}

fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, KafkaError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| settings(format!("TLS {what}: not valid PEM")))?;
    if certs.is_empty() {
        return Err(settings(format!(
            "TLS {what}: no PEM certificate (expected \"-----BEGIN CERTIFICATE-----\" blocks)"
        )));
    }
    Ok(certs)
}

fn private_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, KafkaError> {
    // The key's bytes never reach the message.
    PrivateKeyDer::from_pem_slice(pem).map_err(|_| {
        settings("TLS client key: no PEM private key (PKCS#8, PKCS#1 or SEC1) in it".into())
    })
}

/// Accepts any certificate (`insecure_skip_verify`), but still checks that the handshake is signed by the
/// key of the certificate presented, with the provider's algorithms.
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_come_from_the_host_part() {
        assert_eq!(
            server_name("kafka-0.kafka:9093").unwrap(),
            ServerName::try_from("kafka-0.kafka").unwrap()
        );
        assert!(matches!(
            server_name("127.0.0.1:9093").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("[::1]:9093").unwrap(),
            ServerName::IpAddress(_)
        ));
    }

    #[test]
    fn unusable_material_is_named_without_its_content() {
        let tls = |ca: &[u8], cert: Option<&[u8]>, key: Option<&[u8]>| KafkaTls {
            ca_pem: Some(ca.to_vec()),
            client_cert_pem: cert.map(<[u8]>::to_vec),
            client_key_pem: key.map(<[u8]>::to_vec),
            insecure_skip_verify: false,
        };
        let err = |t: KafkaTls| client_config(&t).unwrap_err().to_string();
        assert_eq!(
            err(tls(b"placeholder", None, None)),
            "Kafka settings: TLS CA bundle: no PEM certificate (expected \"-----BEGIN CERTIFICATE-----\" blocks)"
        );
        let secret_key =
            b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n";
        let broken_cert = b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n";
        assert_eq!(
            err(tls(broken_cert, None, None)),
            "Kafka settings: TLS CA bundle: not valid PEM"
        );
        let insecure = KafkaTls {
            client_cert_pem: Some(b"cert".to_vec()),
            insecure_skip_verify: true,
            ..KafkaTls::default()
        };
        assert_eq!(
            err(insecure),
            "Kafka settings: TLS: a client certificate and its key must be given together"
        );
        let insecure = KafkaTls {
            client_cert_pem: Some(b"not a cert".to_vec()),
            client_key_pem: Some(secret_key.to_vec()),
            insecure_skip_verify: true,
            ..KafkaTls::default()
        };
        let e = err(insecure);
        assert!(e.contains("client certificate"), "{e}");
        assert!(!e.contains("c2VjcmV0"), "{e}");
    }

    #[test]
    fn skipping_verification_builds_a_config() {
        let t = KafkaTls {
            insecure_skip_verify: true,
            ..KafkaTls::default()
        };
        assert!(client_config(&t).is_ok());
    }
}
