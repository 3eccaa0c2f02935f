//! Certificate generation (rcgen) and inspection (x509-parser). Times are Unix seconds so the decisions in
//! [`crate::plan`] can be tested with any clock.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::SystemTime;

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::{Error, Result};

/// Certificates are dated this far back, so a node whose clock lags a little still accepts them.
pub const BACKDATE_SECS: i64 = 300;

/// A PEM certificate and its PEM private key.
#[derive(Clone, PartialEq, Eq)]
pub struct Pair {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for Pair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a private key.
        f.debug_struct("Pair")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// What the decisions need to know about one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub der: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
    pub is_ca: bool,
    /// DNS names (lower case) and IP addresses (as text).
    pub sans: BTreeSet<String>,
    /// The raw public key (the subjectPublicKey bit string's bytes).
    pub public_key: Vec<u8>,
}

impl CertInfo {
    /// When it was made: certificates from [`new_ca`] and [`issue_serving`] are back-dated by
    /// [`BACKDATE_SECS`].
    pub fn created(&self) -> i64 {
        self.not_before.saturating_add(BACKDATE_SECS)
    }
}

/// rcgen dates certificates with the `time` crate's type, which converts from a `SystemTime`. jiff checks
/// the range first: its range lies inside `time`'s, so that conversion cannot overflow.
fn datetime(unix: i64) -> Result<SystemTime> {
    jiff::Timestamp::from_second(unix)
        .map(SystemTime::from)
        .map_err(|e| Error::Parse(format!("time {unix}: {e}")))
}

/// A new self-signed CA valid from (about) `now` until `not_after`. The common name carries the creation
/// time, so successive CAs are told apart in a bundle.
pub fn new_ca(now: i64, not_after: i64) -> Result<Pair> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(
        DnType::CommonName,
        format!("connect-warden-webhook-ca@{now}"),
    );
    params
        .distinguished_name
        .push(DnType::OrganizationName, "connect-warden");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = datetime(now - BACKDATE_SECS)?.into();
    params.not_after = datetime(not_after)?.into();
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok(Pair {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// A serving certificate for `names` (DNS names or IP addresses) signed by `signer`.
pub fn issue_serving(signer: &Pair, names: &[String], now: i64, not_after: i64) -> Result<Pair> {
    let signer_key = KeyPair::from_pem(&signer.key_pem)?;
    let issuer = Issuer::from_ca_cert_pem(&signer.cert_pem, signer_key)?;
    let mut params = CertificateParams::new(names.to_vec())?;
    let cn = names.get(2).or(names.first()).cloned().unwrap_or_default();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = datetime(now - BACKDATE_SECS)?.into();
    params.not_after = datetime(not_after)?.into();
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    Ok(Pair {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Every certificate in a PEM bundle, in order, with its PEM block. Blocks that are not certificates or do
/// not parse are skipped: a damaged entry must not hide the good ones.
pub fn parse_bundle(pem: &str) -> Vec<(String, CertInfo)> {
    let mut out = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()) {
        let Ok(block) = block else { break };
        if block.label != "CERTIFICATE" {
            continue;
        }
        if let Ok(info) = inspect_der(&block.contents) {
            out.push((to_pem(&block.contents), info));
        }
    }
    out
}

/// The first certificate of a PEM text.
pub fn parse_cert(pem: &str) -> Result<CertInfo> {
    parse_bundle(pem)
        .into_iter()
        .next()
        .map(|(_, info)| info)
        .ok_or_else(|| Error::Parse("no certificate found in PEM".into()))
}

fn inspect_der(der: &[u8]) -> Result<CertInfo> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| Error::Parse(format!("certificate: {e}")))?;
    let mut sans = BTreeSet::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(d) => {
                    sans.insert(d.to_ascii_lowercase());
                }
                GeneralName::IPAddress(bytes) => {
                    let ip = match bytes.len() {
                        4 => <[u8; 4]>::try_from(*bytes).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(*bytes).ok().map(IpAddr::from),
                        _ => None,
                    };
                    if let Some(ip) = ip {
                        sans.insert(ip.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    Ok(CertInfo {
        der: der.to_vec(),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        is_ca: cert.is_ca(),
        sans,
        public_key: cert.public_key().subject_public_key.data.to_vec(),
    })
}

fn to_pem(der: &[u8]) -> String {
    const LINE: usize = 64;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(LINE) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Whether `leaf` carries a valid signature by `issuer`'s key.
pub fn signed_by(leaf: &CertInfo, issuer: &CertInfo) -> bool {
    let (Ok((_, leaf)), Ok((_, issuer))) = (
        X509Certificate::from_der(&leaf.der),
        X509Certificate::from_der(&issuer.der),
    ) else {
        return false;
    };
    leaf.verify_signature(Some(issuer.public_key())).is_ok()
}

/// Whether the PEM private key belongs to the certificate.
pub fn key_matches(cert: &CertInfo, key_pem: &str) -> bool {
    KeyPair::from_pem(key_pem)
        .map(|k| k.public_key_raw() == cert.public_key.as_slice())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn ca_and_serving_certificate_fit_together() {
        let ca = new_ca(NOW, NOW + 1000).unwrap();
        let names = vec!["hook".to_string(), "hook.ns.svc".into(), "127.0.0.1".into()];
        let leaf = issue_serving(&ca, &names, NOW, NOW + 100).unwrap();
        let ca_info = parse_cert(&ca.cert_pem).unwrap();
        let leaf_info = parse_cert(&leaf.cert_pem).unwrap();
        assert!(ca_info.is_ca);
        assert!(!leaf_info.is_ca);
        assert_eq!(leaf_info.not_after, NOW + 100);
        assert_eq!(leaf_info.not_before, NOW - BACKDATE_SECS);
        assert_eq!(
            leaf_info.sans,
            ["127.0.0.1", "hook", "hook.ns.svc"]
                .into_iter()
                .map(String::from)
                .collect()
        );
        assert!(signed_by(&leaf_info, &ca_info));
        assert!(key_matches(&leaf_info, &leaf.key_pem));
        assert!(!key_matches(&leaf_info, &ca.key_pem));
        assert!(!key_matches(&leaf_info, "not a key"));

        let other = new_ca(NOW, NOW + 1000).unwrap();
        assert!(!signed_by(
            &leaf_info,
            &parse_cert(&other.cert_pem).unwrap()
        ));
    }

    #[test]
    fn bundles_round_trip_and_skip_garbage() {
        let a = new_ca(NOW, NOW + 10).unwrap();
        let b = new_ca(NOW + 1, NOW + 20).unwrap();
        let text = format!(
            "{}junk\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n{}",
            a.cert_pem, b.cert_pem
        );
        let parsed = parse_bundle(&text);
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].1.not_after, NOW + 10);
        // Re-encoded PEM parses to the same certificate.
        assert_eq!(parse_cert(&parsed[1].0).unwrap(), parsed[1].1);
        assert!(parse_bundle("").is_empty());
        assert!(parse_cert("garbage").is_err());
    }

    #[test]
    fn dates_past_the_representable_range_are_errors() {
        assert!(matches!(new_ca(NOW, i64::MAX), Err(Error::Parse(_))));
        assert!(matches!(
            new_ca(i64::MIN + BACKDATE_SECS, NOW),
            Err(Error::Parse(_))
        ));
        // The last second the check lets through converts without overflow.
        let last = jiff::Timestamp::MAX.as_second();
        let ca = new_ca(NOW, last).unwrap();
        assert_eq!(parse_cert(&ca.cert_pem).unwrap().not_after, last);
    }
}
