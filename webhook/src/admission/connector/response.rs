//! Kafka Connect's answer (or its absence) → the decision on a KafkaConnector: its errors one line per key,
//! an unknown class with the installed ones, an outage by the failure policy; typo suspects and literal
//! passwords as warnings. Connect's texts can echo any value, so every line passes the redactor, which treats
//! every `configFrom` value as a secret.

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;

use shared::config::{
    RESERVED_CLASS, RESERVED_NAME, RESERVED_PLUGIN_VERSION, RESERVED_TASKS_MAX, closest,
    closest_class, is_pass_through,
};
use shared::connect::ValidateResponse;
use shared::redact::is_config_reference;

use crate::admission::connect::{ConnectCheck, ConnectOutcome, FailurePolicy};
use crate::admission::decision::{Decision, Reason};
use crate::admission::text::{cut, limit_lines};

/// Most unknown keys warned about one by one: past that, a count.
const MAX_UNKNOWN_KEY_WARNINGS: usize = 5;

/// The decision once Kafka Connect answered `check` with `outcome` (or failed to).
pub(crate) fn respond(
    check: &ConnectCheck,
    outcome: &ConnectOutcome,
    policy: FailurePolicy,
) -> Decision {
    let cluster = &check.cluster;
    let class = &check.class;
    let password_keys = match outcome {
        ConnectOutcome::Validated(v) => v.password_keys(),
        _ => BTreeSet::new(),
    };
    let redactor = check.redactor(&password_keys);
    let mut warnings = check.warnings.clone();
    let decision = match outcome {
        ConnectOutcome::Validated(v) => {
            warnings.extend(config_warnings(check, v, &password_keys));
            let errors = v.errors();
            if errors.is_empty() && v.error_count == 0 {
                Decision::allow(Reason::Valid)
            } else {
                let mut lines = vec![format!(
                    "Kafka Connect ({cluster}) rejected the config of {class}:"
                )];
                lines.extend(errors.iter().map(|(k, e)| format!("{k}: {e}")));
                if errors.is_empty() {
                    lines.push(format!(
                        "{} error(s) without a key were reported",
                        v.error_count
                    ));
                }
                limit_lines(&mut lines, "errors");
                Decision::deny(Reason::ConnectRejected, lines)
            }
        }
        ConnectOutcome::UnknownClass { installed } => {
            let mut first = format!("connector class {:?} is not installed on {cluster}", cut(class));
            if let Some(c) = closest_class(class, installed.iter().map(String::as_str)) {
                let _ = write!(first, "; did you mean {c:?}?");
            }
            let list = if installed.is_empty() {
                "(none)".to_string()
            } else {
                installed.join(", ")
            };
            Decision::deny(
                Reason::PluginNotFound,
                vec![first, format!("installed connector classes: {list}")],
            )
        }
        ConnectOutcome::Refused { message } => Decision::deny(
            Reason::ConnectRejected,
            vec![format!(
                "Kafka Connect ({cluster}) refused to validate the config of {class}: {message}"
            )],
        ),
        ConnectOutcome::Misconfigured { message } => Decision::deny(
            Reason::ClusterMisconfigured,
            vec![format!(
                "cannot validate the config on {cluster}: {message}; fix the KafkaConnectCluster's TLS settings"
            )],
        ),
        ConnectOutcome::Unavailable { message, .. } => match policy {
            FailurePolicy::Closed => Decision::deny(
                Reason::ConnectUnavailable,
                vec![
                    format!("cannot validate the config on {cluster}: {message}"),
                    "the webhook fails closed while Kafka Connect is unavailable; try again once it is reachable".into(),
                ],
            ),
            FailurePolicy::Open => {
                warnings.push(format!(
                    "admitted without Kafka Connect validation (fail-open): cannot validate the config on {cluster}: {message}"
                ));
                Decision::allow(Reason::ConnectUnavailable)
            }
        },
    };
    let mut d = decision.with_warnings(warnings);
    for l in d.lines.iter_mut().chain(d.warnings.iter_mut()) {
        *l = redactor.redact(l);
    }
    d
}

/// Typo suspects and PASSWORD-type literals.
fn config_warnings(
    check: &ConnectCheck,
    v: &ValidateResponse,
    password_keys: &BTreeSet<String>,
) -> Vec<String> {
    let class = &check.class;
    let defined: HashSet<&str> = v.defined_keys().collect();
    let reserved = [
        RESERVED_NAME,
        RESERVED_CLASS,
        RESERVED_TASKS_MAX,
        RESERVED_PLUGIN_VERSION,
    ];
    let unknown: Vec<&str> = check
        .config
        .keys()
        .map(String::as_str)
        .filter(|k| !defined.contains(k) && !is_pass_through(k) && !reserved.contains(k))
        .collect();
    let mut out = Vec::new();
    for k in unknown.iter().take(MAX_UNKNOWN_KEY_WARNINGS) {
        // Very long keys are not typos of a real key; skip the comparison (it costs their length).
        let suggestion = (k.len() <= 256)
            .then(|| closest(k, defined.iter().copied()))
            .flatten();
        let field = if check.secret_keys.contains(*k) {
            "configFrom"
        } else {
            "config"
        };
        out.push(match suggestion {
            Some(s) => format!(
                "spec.{field}.{:?} is not a setting of {class}; did you mean {s:?}? (Kafka Connect ignores unknown keys)",
                cut(k)
            ),
            None => format!(
                "spec.{field}.{:?} is not a setting of {class} (Kafka Connect ignores unknown keys)",
                cut(k)
            ),
        });
    }
    if unknown.len() > MAX_UNKNOWN_KEY_WARNINGS {
        out.push(format!(
            "… and {} more keys that are not settings of {class}",
            unknown.len() - MAX_UNKNOWN_KEY_WARNINGS
        ));
    }
    // A value from configFrom is not a literal in the spec: it is how a secret should be given.
    for k in password_keys.difference(&check.secret_keys) {
        if let Some(value) = check.config.get(k)
            && !value.is_empty()
            && value != "[hidden]"
            && !is_config_reference(value)
        {
            out.push(format!(
                "spec.config.{k:?} is a PASSWORD-type setting given as a literal value; reference it instead \
                 (e.g. ${{file:/mnt/secrets/connector.properties:{k}}}) so the secret stays out of Git and the API server"
            ));
        }
    }
    out
}
