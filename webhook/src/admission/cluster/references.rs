//! The Secrets and ConfigMaps a KafkaConnectCluster references: which do not exist (yet), and which exist
//! but do not hold what they should (keys, PEM a TLS client accepts). Judged for the cluster itself and for
//! each connector on it, worded as the controller's conditions word the same problems.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use shared::connect::parse_base_url;
use shared::crd::{ClusterTls, KafkaConnectClusterSpec};
use shared::kafka::KafkaTls;

use crate::admission::objects::ObjectView;
use crate::admission::text::{cut, cut_long};

/// What the Secrets and ConfigMaps a KafkaConnectCluster references say about it.
#[derive(Debug, Default)]
pub(crate) struct References {
    /// References to objects that do not exist (yet): (field, object), e.g.
    /// (`spec.authentication.secretRef`, `Secret team-a/creds`).
    pub(crate) missing: Vec<(&'static str, String)>,
    /// Objects that exist but do not hold what they should.
    pub(crate) problems: Vec<String>,
}

/// One Secret or ConfigMap a cluster references, and what it must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Auth,
    CaSecret,
    CaConfigMap,
    ClientCert,
}

/// Which block of the spec a reference is in: the REST API's (`spec.authentication`, `spec.tls`) or the
/// Kafka cluster's (`spec.kafka`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Block {
    Rest,
    Kafka,
}

/// One reference of a cluster: which part of which block, the field naming it, the object's kind and name,
/// and the key of a CA bundle.
struct Reference<'a> {
    block: Block,
    part: Part,
    field: &'static str,
    kind: &'static str,
    name: &'a str,
    ca_key: Option<&'a str>,
}

/// The key of a CA bundle when `key` is not given (as `shared::cluster::resolve` reads it).
const DEFAULT_CA_KEY: &str = "ca.crt";

fn references<'a>(spec: &'a KafkaConnectClusterSpec, blocks: &[Block]) -> Vec<Reference<'a>> {
    let mut refs = Vec::new();
    for &block in blocks {
        let (auth, tls, fields) = match block {
            Block::Rest => (
                spec.authentication.as_ref().map(|a| &a.secret_ref),
                spec.tls.as_ref(),
                [
                    "spec.authentication.secretRef",
                    "spec.tls.caSecretRef",
                    "spec.tls.caConfigMapRef",
                    "spec.tls.clientCertSecretRef",
                ],
            ),
            Block::Kafka => {
                let Some(k) = &spec.kafka else { continue };
                (
                    k.authentication.as_ref().map(|a| &a.secret_ref),
                    k.tls.as_ref(),
                    [
                        "spec.kafka.authentication.secretRef",
                        "spec.kafka.tls.caSecretRef",
                        "spec.kafka.tls.caConfigMapRef",
                        "spec.kafka.tls.clientCertSecretRef",
                    ],
                )
            }
        };
        let mut push = |part, field, kind, name, ca_key| {
            refs.push(Reference {
                block,
                part,
                field,
                kind,
                name,
                ca_key,
            })
        };
        if let Some(r) = auth {
            push(Part::Auth, fields[0], "Secret", r.name.as_str(), None);
        }
        let Some(t) = tls else { continue };
        if let Some(r) = &t.ca_secret_ref {
            let key = Some(r.key.as_deref().unwrap_or(DEFAULT_CA_KEY));
            push(Part::CaSecret, fields[1], "Secret", &r.name, key);
        }
        if let Some(r) = &t.ca_config_map_ref {
            let key = Some(r.key.as_deref().unwrap_or(DEFAULT_CA_KEY));
            push(Part::CaConfigMap, fields[2], "ConfigMap", &r.name, key);
        }
        if let Some(r) = &t.client_cert_secret_ref {
            push(Part::ClientCert, fields[3], "Secret", &r.name, None);
        }
    }
    refs
}

/// The TLS block with only the reference `part`.
fn only_tls(t: &ClusterTls, part: Part) -> ClusterTls {
    ClusterTls {
        ca_secret_ref: t.ca_secret_ref.clone().filter(|_| part == Part::CaSecret),
        ca_config_map_ref: t
            .ca_config_map_ref
            .clone()
            .filter(|_| part == Part::CaConfigMap),
        client_cert_secret_ref: t
            .client_cert_secret_ref
            .clone()
            .filter(|_| part == Part::ClientCert),
        insecure_skip_verify: t.insecure_skip_verify,
    }
}

/// Resolves only the reference `part` of `block`, so that one object's keys are checked whatever the
/// others; returns the TLS material it holds (none for credentials).
fn resolve_one(
    label: &str,
    spec: &KafkaConnectClusterSpec,
    block: Block,
    part: Part,
    secret: impl Fn(&str) -> Option<k8s_openapi::api::core::v1::Secret>,
    config_map: impl Fn(&str) -> Option<k8s_openapi::api::core::v1::ConfigMap>,
) -> shared::Result<KafkaTls> {
    let mut s = spec.clone();
    match block {
        Block::Rest => {
            if part != Part::Auth {
                s.authentication = None;
            }
            s.tls = spec.tls.as_ref().map(|t| only_tls(t, part));
            s.kafka = None;
            let c = shared::cluster::resolve(label, &s, secret, config_map)?;
            Ok(KafkaTls {
                ca_pem: c.ca_pem,
                client_cert_pem: c.client_cert_pem,
                client_key_pem: c.client_key_pem,
                insecure_skip_verify: c.insecure_skip_verify,
            })
        }
        Block::Kafka => {
            if let Some(k) = &mut s.kafka {
                if part != Part::Auth {
                    k.authentication = None;
                }
                k.tls = k.tls.as_ref().map(|t| only_tls(t, part));
                // The list's own syntax is judged on its own; here only the reference counts.
                k.bootstrap_servers = "placeholder:9092".into();
            }
            let k = shared::cluster::resolve_kafka(label, &s, secret, config_map)?;
            Ok(k.and_then(|k| k.tls).unwrap_or_default())
        }
    }
}

/// Checks each Secret and ConfigMap the cluster `ns/name` references on its own: missing ones are listed,
/// present ones must have their keys, and CA bundles and client certificates must be PEM that TLS accepts.
pub(crate) fn check_references(
    ns: &str,
    name: &str,
    spec: &KafkaConnectClusterSpec,
    blocks: &[Block],
    view: &dyn ObjectView,
) -> References {
    let label = format!("{ns}/{name}");
    let mut out = References::default();
    if let Err(e) = parse_base_url(&spec.url) {
        out.problems
            .push(cut_long(&format!("KafkaConnectCluster {label}: {e}")));
        return out;
    }
    for r in references(spec, blocks) {
        let found = if r.kind == "Secret" {
            view.secret(ns, r.name).is_some()
        } else {
            view.config_map(ns, r.name).is_some()
        };
        if !found {
            out.missing
                .push((r.field, format!("{} {ns}/{}", r.kind, cut(r.name))));
            continue;
        }
        let settings = match resolve_one(
            &label,
            spec,
            r.block,
            r.part,
            |n| view.secret(ns, n).map(|s| (*s).clone()),
            |n| view.config_map(ns, n).map(|m| (*m).clone()),
        ) {
            Ok(s) => s,
            Err(e) => {
                out.problems.push(cut_long(&e.to_string()));
                continue;
            }
        };
        let at = |k: &str| {
            format!(
                "KafkaConnectCluster {label}: {} {ns}/{} key {k:?} ({})",
                r.kind,
                cut(r.name),
                r.field
            )
        };
        match r.part {
            Part::CaSecret | Part::CaConfigMap => {
                if let (Some(pem), Some(k)) = (&settings.ca_pem, r.ca_key)
                    && let Some(why) = ca_bundle_problem(pem)
                {
                    out.problems.push(format!("{} {why}", at(k)));
                }
            }
            Part::ClientCert => {
                if let Some(pem) = &settings.client_cert_pem
                    && let Some(why) = match certificates(pem) {
                        None => Some(NOT_PEM),
                        Some(0) => Some(NO_CERTIFICATE),
                        Some(_) => None,
                    }
                {
                    out.problems.push(format!("{} {why}", at("tls.crt")));
                }
                if let Some(pem) = &settings.client_key_pem
                    && PrivateKeyDer::from_pem_slice(pem).is_err()
                {
                    out.problems.push(format!(
                        "{} holds no PEM private key (expected a \"-----BEGIN PRIVATE KEY-----\" block)",
                        at("tls.key")
                    ));
                }
            }
            Part::Auth => {}
        }
    }
    out
}

// Never the PEM parser's own text: it may quote the content (a private key, for the client certificate).
const NOT_PEM: &str = "is not valid PEM (a BEGIN/END line or the base64 between is broken)";
const NO_CERTIFICATE: &str =
    "holds no PEM certificate (expected \"-----BEGIN CERTIFICATE-----\" blocks)";

/// How many PEM certificates `pem` holds, or `None` when it is not valid PEM.
fn certificates(pem: &[u8]) -> Option<usize> {
    CertificateDer::pem_slice_iter(pem)
        .try_fold(0, |n, c| c.map(|_| n + 1))
        .ok()
}

/// Why a CA bundle cannot be used to verify Kafka Connect's certificate, if it cannot: no PEM certificate in
/// it (a placeholder, the wrong key), broken PEM, or a certificate TLS refuses as a trust anchor.
fn ca_bundle_problem(pem: &[u8]) -> Option<String> {
    let mut roots = rustls::RootCertStore::empty();
    let mut count = 0;
    for (i, cert) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let Ok(cert) = cert else {
            return Some(NOT_PEM.into());
        };
        count += 1;
        if let Err(e) = roots.add(cert) {
            return Some(format!(
                "holds a certificate (number {}) that is not a valid X.509 CA certificate: {}",
                i + 1,
                cut(&e.to_string())
            ));
        }
    }
    (count == 0).then(|| NO_CERTIFICATE.into())
}
