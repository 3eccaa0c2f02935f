//! Throwaway certificate authorities for the local stack (never used outside tests and the demo): the
//! apiserver's CA, the secured Connect worker's CA and the webhook's CA are all made here.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA that can issue leaf certificates.
pub struct Ca {
    pub cert_pem: String,
    pub cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

/// A leaf certificate and its key, PEM and DER.
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_der: CertificateDer<'static>,
    pub key_der: Vec<u8>,
}

impl Ca {
    pub fn new(common_name: &str) -> crate::Result<Ca> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(Ca {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        })
    }

    /// A serving certificate for `sans` (DNS names or IP addresses); the first one is also the common name.
    pub fn server(&self, sans: &[&str]) -> crate::Result<Leaf> {
        let mut params =
            CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
        params.distinguished_name.push(
            DnType::CommonName,
            sans.first().copied().unwrap_or("localhost"),
        );
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.leaf(params)
    }

    /// A client certificate; `organization` becomes the O (Kubernetes reads it as the group).
    pub fn client(&self, common_name: &str, organization: Option<&str>) -> crate::Result<Leaf> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        if let Some(o) = organization {
            params.distinguished_name.push(DnType::OrganizationName, o);
        }
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.leaf(params)
    }

    fn leaf(&self, params: CertificateParams) -> crate::Result<Leaf> {
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().clone(),
            key_der: key.serialize_der(),
        })
    }

    /// A rustls client config (ring) that trusts this CA and presents `client`: for readiness probes of
    /// servers that require mTLS.
    pub fn client_tls(&self, client: &Leaf) -> crate::Result<rustls::ClientConfig> {
        let tls_err = |e: rustls::Error| crate::Error::Env(format!("TLS client config: {e}"));
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert_der.clone()).map_err(tls_err)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(client.key_der.clone()));
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .with_root_certificates(roots)
        .with_client_auth_cert(vec![client.cert_der.clone()], key)
        .map_err(tls_err)
    }
}

/// A fresh key pair (e.g. for service-account token signing), PEM private and public.
pub fn key_pair_pem() -> crate::Result<(String, String)> {
    let k = KeyPair::generate()?;
    Ok((k.serialize_pem(), k.public_key_pem()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_server_and_client_leaves_and_a_probe_config() {
        let ca = Ca::new("test CA").unwrap();
        let server = ca.server(&["127.0.0.1", "localhost"]).unwrap();
        let client = ca.client("admin", Some("system:masters")).unwrap();
        assert!(ca.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(server.key_pem.contains("PRIVATE KEY"));
        assert_ne!(server.cert_der, client.cert_der);
        assert!(ca.client_tls(&client).is_ok());
    }
}
