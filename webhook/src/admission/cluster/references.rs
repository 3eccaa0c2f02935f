//! The Secrets and ConfigMaps a KafkaConnectCluster references, as admission words what
//! `shared::cluster::references::check` finds: which do not exist (yet), and which exist but do not hold
//! what they should. Judged for the cluster itself and for each connector on it.

use shared::cluster::references::{PemProblem, Problem, What, check, unresolved};
use shared::connect::parse_base_url;
use shared::crd::KafkaConnectClusterSpec;

pub(crate) use shared::cluster::references::Block;

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
    if let Err(e) = parse_base_url(&spec.url) {
        return References {
            problems: vec![cut_long(&format!("KafkaConnectCluster {label}: {e}"))],
            ..References::default()
        };
    }
    let found = check(
        spec,
        blocks,
        |n| view.secret(ns, n),
        |n| view.config_map(ns, n),
    );
    worded(&label, ns, &found)
}

/// `found` worded: a reference's first missing key only (one key at a time, as resolving reads them), but
/// every PEM problem.
fn worded(label: &str, ns: &str, found: &[Problem]) -> References {
    let mut out = References::default();
    let mut keyless: Option<&Problem> = None;
    for p in found {
        let r = &p.reference;
        let object = format!("{} {ns}/{}", r.kind(), cut(&r.name));
        match &p.what {
            What::Absent => out.missing.push((r.field(), object)),
            What::NoKey(key) | What::NotText(key) => {
                if keyless.is_some_and(|k| k.reference == *r) {
                    continue;
                }
                keyless = Some(p);
                let line = unresolved(label, r.kind(), &r.name, Some(key));
                out.problems.push(cut_long(&line));
            }
            What::BadPem { key, why } => {
                let why = match why {
                    PemProblem::NotCaCertificate { number, detail } => {
                        PemProblem::NotCaCertificate {
                            number: *number,
                            detail: cut(detail),
                        }
                    }
                    other => other.clone(),
                };
                out.problems.push(format!(
                    "KafkaConnectCluster {label}: {object} key {key:?} ({}) {why}",
                    r.field()
                ));
            }
        }
    }
    out
}
