//! `/validate` for a KafkaConnectorPolicy: its schema must compile (draft 2020-12) and its selectors
//! parse, so a broken rule is refused when it is applied, with the compiler's own message, rather than
//! found later while nothing is enforced.

use kube::core::admission::Operation;
use shared::crd::KafkaConnectorPolicy;
use shared::policy::{compile, warnings};

use super::decision::{Decision, Reason};
use super::request::Request;
use super::text::{cut_long, limit_lines};

pub(crate) fn validate(req: &Request) -> Decision {
    if !matches!(req.operation, Operation::Create | Operation::Update) {
        return Decision::allow(Reason::NotApplicable);
    }
    let Some(obj) = req.object.as_ref() else {
        return Decision::allow(Reason::NotApplicable);
    };
    if obj.metadata.deletion_timestamp.is_some() {
        return Decision::allow(Reason::Deleting);
    }
    let value = match serde_json::to_value(obj) {
        Ok(v) => v,
        Err(e) => return Decision::deny(Reason::InvalidObject, vec![cut_long(&e.to_string())]),
    };
    let policy: KafkaConnectorPolicy = match serde_json::from_value(value) {
        Ok(p) => p,
        Err(e) => {
            return Decision::deny(
                Reason::InvalidObject,
                vec![format!("spec: {}", cut_long(&e.to_string()))],
            );
        }
    };
    match compile(&policy) {
        Ok(_) => Decision::allow(Reason::Valid).with_warnings(warnings(&policy.spec)),
        Err(errors) => {
            let mut lines = vec![format!(
                "KafkaConnectorPolicy {:?} cannot be enforced:",
                req.name
            )];
            lines.extend(errors.iter().map(|e| cut_long(e)));
            limit_lines(&mut lines, "problems");
            Decision::deny(Reason::InvalidPolicy, lines)
        }
    }
}
