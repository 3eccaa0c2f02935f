//! The rules a KafkaConnector must follow whatever its cluster says: config values are strings, reserved
//! keys sit in their spec fields, a class is named, `tasksMax ≥ 1`, the connector name is valid and never
//! changes. They hold even when the cluster does not exist yet.

use std::collections::BTreeMap;

use kube::core::admission::Operation;
use serde::Deserialize;
use serde_json::{Map, Value};
use shared::config::{check_connector_name, string_config};
use shared::crd::{KafkaConnector, KafkaConnectorSpec};

use super::findings::Findings;
use crate::admission::decision::Reason;
use crate::admission::request::Request;
use crate::admission::reserved::{RESERVED, ReservedCheck, check_reserved};
use crate::admission::text::{cut, cut_long, limit_lines};

/// What later steps need from the local rules.
pub(super) struct Local {
    /// The config as strings, when every value is one.
    pub(super) strings: Option<BTreeMap<String, String>>,
    /// Whether the connector name is valid (a clash of invalid names is beside the point).
    pub(super) name_ok: bool,
}

/// Applies the rules to `connector` (`spec`: its spec as sent), recording problems and warnings in `found`.
pub(super) fn check(
    req: &Request,
    connector: &KafkaConnector,
    spec: &Map<String, Value>,
    found: &mut Findings,
) -> Local {
    let strings = config_strings(connector, found);
    reserved_keys(connector, spec, found);
    let typed = &connector.spec;
    if typed.class.trim().is_empty() {
        found.problem(
            Reason::InvalidConfig,
            "spec.class must name a connector class, e.g. FileStreamSource",
        );
    }
    if let Some(t) = typed.tasks_max.filter(|t| *t < 1) {
        found.problem(
            Reason::InvalidConfig,
            format!("spec.tasksMax must be at least 1, got {t}"),
        );
    }
    let name = connector.connector_name();
    let name_ok = match check_connector_name(&name) {
        Ok(()) => true,
        Err(e) => {
            found.problem(Reason::InvalidConfig, cut_long(&e));
            false
        }
    };
    name_unchanged(req, &name, found);
    Local { strings, name_ok }
}

/// The config as strings, or one problem per value that is not a string.
fn config_strings(
    connector: &KafkaConnector,
    found: &mut Findings,
) -> Option<BTreeMap<String, String>> {
    match string_config(&connector.spec.config) {
        Ok(s) => Some(s),
        Err(bad) => {
            // Keys are cut: a megabyte-long key must not make a megabyte-long message.
            let mut lines: Vec<String> = bad
                .iter()
                .map(|(k, t)| format!("spec.config.{:?}: must be a string, got {t}", cut(k)))
                .collect();
            limit_lines(&mut lines, "keys with values that are not strings");
            for l in lines {
                found.problem(Reason::InvalidConfig, l);
            }
            None
        }
    }
}

/// Reserved keys in `spec.config`: a repeat of the spec field is a warning (the mutating webhook removes
/// it), anything else a problem (the mutating webhook was bypassed or refused it).
fn reserved_keys(connector: &KafkaConnector, spec: &Map<String, Value>, found: &mut Findings) {
    for r in &RESERVED {
        let Some(v) = connector.spec.config.get(r.key) else {
            continue;
        };
        match check_reserved(r, v, spec) {
            ReservedCheck::Duplicate => found.warnings.push(format!(
                "spec.config.{:?} repeats spec.{}; remove it from spec.config",
                r.key, r.field
            )),
            ReservedCheck::Move(_) => found.problem(
                Reason::ReservedKeyConflict,
                format!("spec.config.{:?} belongs in spec.{}", r.key, r.field),
            ),
            ReservedCheck::Conflict(line) => found.problem(Reason::ReservedKeyConflict, line),
        }
    }
}

/// The connector name is immutable: Kafka Connect knows the connector by it.
fn name_unchanged(req: &Request, name: &str, found: &mut Findings) {
    if req.operation != Operation::Update {
        return;
    }
    let Some(old) = req.old_object.as_ref() else {
        return;
    };
    let Some(old_spec) = old
        .data
        .get("spec")
        .and_then(|s| KafkaConnectorSpec::deserialize(s).ok())
    else {
        return;
    };
    let old_name = old_spec
        .name
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| old.metadata.name.clone().unwrap_or_default());
    if old_name != name {
        found.problem(
            Reason::InvalidConfig,
            format!(
                "the connector name is immutable: it was {:?}, now {:?}",
                cut(&old_name),
                cut(name)
            ),
        );
    }
}
