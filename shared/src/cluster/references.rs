//! The Secrets and ConfigMaps a KafkaConnectCluster references, and what is wrong with them: an object that
//! does not exist (yet), one without a key it must hold, or a key holding what TLS refuses. Pure: callers
//! pass lookups backed by their watch caches. The problems are typed and hold no value; the webhook words
//! them as denials and warnings, the controller as its conditions.

use std::borrow::Borrow;
use std::fmt;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::crd::{AuthenticationType, ClusterTls, KafkaConnectClusterSpec};

/// The key of a CA bundle when its reference names none.
pub const DEFAULT_CA_KEY: &str = "ca.crt";

/// Which block of the spec a reference is in: the REST API's (`spec.authentication`, `spec.tls`) or the
/// Kafka cluster's (`spec.kafka`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    Rest,
    Kafka,
}

/// What a reference is for, within its block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The credentials (`authentication.secretRef`).
    Authentication,
    /// A CA bundle in a Secret (`tls.caSecretRef`).
    CaSecret,
    /// A CA bundle in a ConfigMap (`tls.caConfigMapRef`).
    CaConfigMap,
    /// The client certificate and its key (`tls.clientCertSecretRef`).
    ClientCert,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Secret,
    ConfigMap,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Secret => "Secret",
            Kind::ConfigMap => "ConfigMap",
        })
    }
}

/// One Secret or ConfigMap a cluster references, and the keys it must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub block: Block,
    pub part: Part,
    pub name: String,
    /// In the order they are read.
    pub keys: Vec<String>,
}

impl Reference {
    pub fn kind(&self) -> Kind {
        match self.part {
            Part::CaConfigMap => Kind::ConfigMap,
            _ => Kind::Secret,
        }
    }

    /// The spec field that names the object.
    pub fn field(&self) -> &'static str {
        match (self.block, self.part) {
            (Block::Rest, Part::Authentication) => "spec.authentication.secretRef",
            (Block::Rest, Part::CaSecret) => "spec.tls.caSecretRef",
            (Block::Rest, Part::CaConfigMap) => "spec.tls.caConfigMapRef",
            (Block::Rest, Part::ClientCert) => "spec.tls.clientCertSecretRef",
            (Block::Kafka, Part::Authentication) => "spec.kafka.authentication.secretRef",
            (Block::Kafka, Part::CaSecret) => "spec.kafka.tls.caSecretRef",
            (Block::Kafka, Part::CaConfigMap) => "spec.kafka.tls.caConfigMapRef",
            (Block::Kafka, Part::ClientCert) => "spec.kafka.tls.clientCertSecretRef",
        }
    }

    fn is_ca(&self) -> bool {
        matches!(self.part, Part::CaSecret | Part::CaConfigMap)
    }
}

/// Every Secret and ConfigMap the `blocks` of `spec` reference, in the order of the spec.
pub fn references(spec: &KafkaConnectClusterSpec, blocks: &[Block]) -> Vec<Reference> {
    let mut out = Vec::new();
    for &block in blocks {
        let reference = |part, name: &str, keys: &[&str]| Reference {
            block,
            part,
            name: name.to_string(),
            keys: keys.iter().map(|k| k.to_string()).collect(),
        };
        let tls = match block {
            Block::Rest => {
                if let Some(a) = &spec.authentication {
                    let keys = match a.kind {
                        AuthenticationType::Basic => vec![
                            a.username_key.as_deref().unwrap_or("username"),
                            a.password_key.as_deref().unwrap_or("password"),
                        ],
                        AuthenticationType::Bearer => {
                            vec![a.token_key.as_deref().unwrap_or("token")]
                        }
                    };
                    out.push(reference(Part::Authentication, &a.secret_ref.name, &keys));
                }
                spec.tls.as_ref()
            }
            Block::Kafka => {
                let Some(k) = &spec.kafka else { continue };
                if let Some(a) = &k.authentication {
                    let keys = [
                        a.username_key.as_deref().unwrap_or("username"),
                        a.password_key.as_deref().unwrap_or("password"),
                    ];
                    out.push(reference(Part::Authentication, &a.secret_ref.name, &keys));
                }
                k.tls.as_ref()
            }
        };
        out.extend(tls.into_iter().flat_map(|t| tls_references(t, &reference)));
    }
    out
}

fn tls_references(
    t: &ClusterTls,
    reference: &impl Fn(Part, &str, &[&str]) -> Reference,
) -> Vec<Reference> {
    let ca_key = |key: &Option<String>| key.as_deref().unwrap_or(DEFAULT_CA_KEY).to_string();
    let mut out = Vec::new();
    if let Some(r) = &t.ca_secret_ref {
        out.push(reference(Part::CaSecret, &r.name, &[&ca_key(&r.key)]));
    }
    if let Some(r) = &t.ca_config_map_ref {
        out.push(reference(Part::CaConfigMap, &r.name, &[&ca_key(&r.key)]));
    }
    if let Some(r) = &t.client_cert_secret_ref {
        out.push(reference(
            Part::ClientCert,
            &r.name,
            &["tls.crt", "tls.key"],
        ));
    }
    out
}

/// What is wrong with one referenced object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    /// The object does not exist (yet).
    Absent,
    /// The object exists without this key.
    NoKey(String),
    /// A credential under this key is not UTF-8 text.
    NotText(String),
    /// The key holds something TLS refuses.
    BadPem { key: String, why: PemProblem },
}

/// Why a CA bundle, client certificate or key cannot be used. Never the PEM parser's own text: it may quote
/// the content (a private key, for the client certificate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PemProblem {
    NotPem,
    NoCertificate,
    /// A certificate of a CA bundle (`number`, from 1) that TLS refuses as a trust anchor, and TLS's reason.
    NotCaCertificate {
        number: usize,
        detail: String,
    },
    NoPrivateKey,
}

impl fmt::Display for PemProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PemProblem::NotPem => {
                f.write_str("is not valid PEM (a BEGIN/END line or the base64 between is broken)")
            }
            PemProblem::NoCertificate => f.write_str(
                "holds no PEM certificate (expected \"-----BEGIN CERTIFICATE-----\" blocks)",
            ),
            PemProblem::NotCaCertificate { number, detail } => write!(
                f,
                "holds a certificate (number {number}) that is not a valid X.509 CA certificate: {detail}"
            ),
            PemProblem::NoPrivateKey => f.write_str(
                "holds no PEM private key (expected a \"-----BEGIN PRIVATE KEY-----\" block)",
            ),
        }
    }
}

/// One problem of one reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub reference: Reference,
    pub what: What,
}

impl Problem {
    /// Whether the object or a key is not there: what may still come (ordering), unlike content that is
    /// there and wrong.
    pub fn is_missing(&self) -> bool {
        matches!(self.what, What::Absent | What::NoKey(_))
    }

    /// Whether it is about a CA bundle's content.
    pub fn is_bad_ca(&self) -> bool {
        self.reference.is_ca() && matches!(self.what, What::BadPem { .. })
    }
}

/// How cluster resolution words an object it cannot read (`key`: `None` for the object itself).
pub fn unresolved(cluster: &str, kind: Kind, name: &str, key: Option<&str>) -> String {
    match key {
        None => format!("KafkaConnectCluster {cluster}: {kind} {name} not found"),
        Some(key) => format!("KafkaConnectCluster {cluster}: {kind} {name} has no key {key:?}"),
    }
}

/// Checks each Secret and ConfigMap the `blocks` of `spec` reference on its own, in the order of the spec:
/// absent ones, then for present ones each key that is missing (or, for credentials, not text), and when
/// all keys are there, CA bundles and client certificates that TLS would refuse. `secret` and `config_map`
/// look objects up by name in the cluster's namespace.
pub fn check<S: Borrow<Secret>, C: Borrow<ConfigMap>>(
    spec: &KafkaConnectClusterSpec,
    blocks: &[Block],
    secret: impl Fn(&str) -> Option<S>,
    config_map: impl Fn(&str) -> Option<C>,
) -> Vec<Problem> {
    let mut out = Vec::new();
    for r in references(spec, blocks) {
        let found = match r.kind() {
            Kind::Secret => secret(&r.name).map(|s| held(&r, |k| secret_data(s.borrow(), k))),
            Kind::ConfigMap => {
                config_map(&r.name).map(|m| held(&r, |k| config_map_data(m.borrow(), k)))
            }
        };
        let whats = found.unwrap_or_else(|| vec![What::Absent]);
        out.extend(whats.into_iter().map(|what| Problem {
            reference: r.clone(),
            what,
        }));
    }
    out
}

/// The problems of an object that exists, whose key `k` holds `data(k)`.
fn held<'a>(r: &Reference, data: impl Fn(&str) -> Option<&'a [u8]>) -> Vec<What> {
    let keys: Vec<What> = (r.keys.iter())
        .filter_map(|k| match data(k) {
            None => Some(What::NoKey(k.clone())),
            Some(v) if r.part == Part::Authentication && std::str::from_utf8(v).is_err() => {
                Some(What::NotText(k.clone()))
            }
            Some(_) => None,
        })
        .collect();
    if !keys.is_empty() {
        return keys;
    }
    let bad = |key: &str, why: PemProblem| What::BadPem {
        key: key.to_string(),
        why,
    };
    let mut out = Vec::new();
    for k in &r.keys {
        let v = data(k).unwrap_or_default();
        let why = match (r.part, k.as_str()) {
            (Part::CaSecret | Part::CaConfigMap, _) => ca_bundle_problem(v),
            (Part::ClientCert, "tls.crt") => match certificates(v) {
                None => Some(PemProblem::NotPem),
                Some(0) => Some(PemProblem::NoCertificate),
                Some(_) => None,
            },
            (Part::ClientCert, _) => PrivateKeyDer::from_pem_slice(v)
                .is_err()
                .then_some(PemProblem::NoPrivateKey),
            (Part::Authentication, _) => None,
        };
        out.extend(why.map(|why| bad(k, why)));
    }
    out
}

/// What a Secret holds under `key`: `data`, else `stringData` (an object not yet through the API server).
pub(super) fn secret_data<'a>(s: &'a Secret, key: &str) -> Option<&'a [u8]> {
    if let Some(v) = s.data.as_ref().and_then(|d| d.get(key)) {
        return Some(&v.0);
    }
    (s.string_data.as_ref())
        .and_then(|d| d.get(key))
        .map(|v| v.as_bytes())
}

pub(super) fn config_map_data<'a>(m: &'a ConfigMap, key: &str) -> Option<&'a [u8]> {
    (m.data.as_ref())
        .and_then(|d| d.get(key))
        .map(|v| v.as_bytes())
}

/// How many PEM certificates `pem` holds, or `None` when it is not valid PEM.
fn certificates(pem: &[u8]) -> Option<usize> {
    CertificateDer::pem_slice_iter(pem)
        .try_fold(0, |n, c| c.map(|_| n + 1))
        .ok()
}

/// Why a CA bundle cannot be used to verify a server's certificate, if it cannot: no PEM certificate in it
/// (a placeholder, the wrong key), broken PEM, or a certificate TLS refuses as a trust anchor.
fn ca_bundle_problem(pem: &[u8]) -> Option<PemProblem> {
    let mut roots = rustls::RootCertStore::empty();
    let mut count = 0;
    for (i, cert) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let Ok(cert) = cert else {
            return Some(PemProblem::NotPem);
        };
        count += 1;
        if let Err(e) = roots.add(cert) {
            return Some(PemProblem::NotCaCertificate {
                number: i + 1,
                detail: e.to_string(),
            });
        }
    }
    (count == 0).then_some(PemProblem::NoCertificate)
}
