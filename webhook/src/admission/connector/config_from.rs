//! `spec.configFrom`: keys that may not come from elsewhere, the requesting user's right to read what is
//! referenced, and the values themselves for Kafka Connect's validation. A missing object or key is
//! admitted with a warning (GitOps applies folders in any order, external secrets arrive later), and Connect
//! is then not asked: validating without the value would report a "missing required" error that is not true.

use std::collections::{BTreeMap, BTreeSet};

use shared::config_from::{Fetched, Problem, SourceKind, check_keys, referenced, resolve};
use shared::crd::KafkaConnector;

use super::findings::Findings;
use crate::admission::access::{Access, denial, references_to_check};
use crate::admission::decision::Reason;
use crate::admission::objects::ObjectView;
use crate::admission::request::Request;
use crate::admission::text::{cut_long, limit_lines};

/// What later steps need from `configFrom`.
#[derive(Default)]
pub(super) struct Values {
    /// The resolved values, when every one could be read.
    pub(super) values: Option<BTreeMap<String, String>>,
    /// Why Kafka Connect cannot be asked yet (a referenced object or key not there yet).
    pub(super) not_yet: Vec<String>,
    /// Every `configFrom` key: secret in all redaction.
    pub(super) keys: BTreeSet<String>,
}

/// Checks `connector`'s `configFrom`, recording problems in `found`.
pub(super) fn check(
    req: &Request,
    connector: &KafkaConnector,
    view: &dyn ObjectView,
    found: &mut Findings,
) -> Values {
    let from = &connector.spec.config_from;
    let mut out = Values {
        keys: from.keys().cloned().collect(),
        ..Values::default()
    };
    if from.is_empty() {
        out.values = Some(BTreeMap::new());
        return out;
    }
    for p in check_keys(connector.spec.config.keys(), from) {
        let reason = match p {
            Problem::Reserved { .. } => Reason::ReservedKeyConflict,
            _ => Reason::InvalidConfig,
        };
        found.problem(reason, cut_long(&p.to_string()));
    }

    let mut denied = Vec::new();
    for (key, check) in references_to_check(req) {
        // Not asked at all would be a source's bug: deny rather than let an unchecked reference in.
        let access = view
            .read_access(&check)
            .unwrap_or_else(|| Access::Unknown("not checked".into()));
        if let Some(line) = denial(req, &key, &check, &access) {
            denied.push(line);
        }
    }
    if !denied.is_empty() {
        limit_lines(&mut denied, "references the user may not read");
        for l in denied {
            found.problem(Reason::ReferenceAccessDenied, l);
        }
        // The webhook reads nothing the user may not read.
        return out;
    }

    let ns = connector.metadata.namespace.as_deref().unwrap_or_default();
    let fetched: Fetched = referenced(from)
        .into_iter()
        .map(|(kind, name)| {
            let data = match kind {
                SourceKind::Secret => view.secret(ns, &name).map(|s| {
                    s.data
                        .iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), v.0.clone()))
                        .collect()
                }),
                SourceKind::ConfigMap => view.config_map(ns, &name).map(|m| {
                    let text = m
                        .data
                        .iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), v.clone().into_bytes()));
                    let binary = m
                        .binary_data
                        .iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), v.0.clone()));
                    text.chain(binary).collect()
                }),
            };
            ((kind, name), data)
        })
        .collect();
    match resolve(ns, from, &fetched) {
        Ok(values) => out.values = Some(values),
        Err(problems) => {
            let mut bad = Vec::new();
            for p in problems {
                let line = cut_long(&p.to_string());
                match p.missing() {
                    Some(_) => out.not_yet.push(format!(
                        "{line}; admitted without Kafka Connect validation (it needs every value), the controller applies the connector once it exists"
                    )),
                    None => bad.push(line),
                }
            }
            limit_lines(&mut bad, "values that cannot be used");
            for l in bad {
                found.problem(Reason::InvalidConfig, l);
            }
            limit_lines(&mut out.not_yet, "references not found");
        }
    }
    out
}
