//! `/validate` for a KafkaConnector, step by step: requests that need no checks, the object's shape, the
//! local rules, `configFrom` (the user's right to read what it references, then the values), the target
//! cluster (and who else claims the name there), then either a decision already or
//! the one Kafka Connect validation to run; [`respond`] turns Connect's answer into the decision.

mod config_from;
mod findings;
mod local_rules;
mod offsets;
mod policies;
mod requests;
mod response;
mod target;
mod version;

use kube::core::admission::Operation;
use serde::Deserialize;
use serde_json::{Map, Value};
use shared::config::{effective_config, with_plugin_version};
use shared::crd::{KafkaConnector, KafkaConnectorSpec};

use super::access::alter_newly_requested;
use super::connect::ConnectCheck;
use super::decision::{Decision, Reason};
use super::exempt::exempt;
use super::objects::ObjectView;
use super::request::{Request, object_namespace};
use super::text::{MAX_LINES, cut_long};
use findings::Findings;
pub(crate) use response::respond;

/// What `/validate` needs next.
#[derive(Debug)]
pub(crate) enum Plan {
    Done(Decision),
    /// Local checks passed: ask Kafka Connect.
    Connect(Box<ConnectCheck>),
}

/// The decision on a KafkaConnector, or the Kafka Connect validation it needs first.
pub(crate) fn plan(req: &Request, view: &dyn ObjectView) -> Plan {
    if let Some(d) = exempt(req) {
        // Annotations alone can ask for an offsets alter, which reads a ConfigMap that must hold a valid
        // document.
        if d.reason == Reason::Unchanged {
            return Plan::Done(unvalidated_update(req, view, false));
        }
        return Plan::Done(d);
    }
    if leaves_validated_part_alone(req) {
        return Plan::Done(unvalidated_update(req, view, true));
    }
    let (connector, spec) = match read(req) {
        Ok(c) => c,
        Err(d) => return Plan::Done(d),
    };
    let mut found = Findings::default();
    requests::check(req, &mut found);
    let local = local_rules::check(req, &connector, &spec, &mut found);
    let from = config_from::check(req, &connector, view, &mut found);
    let target = target::check(&connector, view, &mut found);
    offsets::check(req, &connector, view, &mut found);
    version::check(&connector, view, &mut found);
    if local.name_ok && target.may_use {
        target::check_claim(&connector, &target.cluster, view, &mut found);
    }
    policies::check(&connector, view, &mut found);

    // Non-string values were already summarised; this bounds the rest (one line of slack for that summary).
    let mut warnings = match found.denial(MAX_LINES + 1) {
        Ok(warnings) => warnings,
        Err(denial) => return Plan::Done(denial),
    };
    let not_yet = target.not_yet.is_some() || !from.not_yet.is_empty();
    let mut reason = Reason::ReferenceNotFound;
    if let Some((r, warning)) = target.not_yet {
        reason = r;
        warnings.push(warning);
    }
    if not_yet {
        warnings.extend(from.not_yet);
        return Plan::Done(Decision::allow(reason).with_warnings(warnings));
    }
    let (Some(mut strings), Some(settings), Some(values)) =
        (local.strings, target.settings, from.values)
    else {
        // Unreachable: each None above recorded a problem. Deny rather than trust that.
        return Plan::Done(Decision::deny(
            Reason::InvalidConfig,
            vec!["internal error: incomplete checks".into()],
        ));
    };
    strings.extend(values);
    let spec = &connector.spec;
    let config = with_plugin_version(
        effective_config(
            &connector.connector_name(),
            &spec.class,
            spec.tasks_max,
            &strings,
        ),
        spec.version.as_deref(),
    );
    Plan::Connect(Box::new(ConnectCheck {
        cluster: target.cluster,
        settings,
        class: spec.class.clone(),
        config,
        warnings,
        secret_keys: from.keys,
    }))
}

/// An update that Kafka Connect need not see still answers for its new request annotations, to the policies
/// when its spec changed (`state` is in their view), and to the offsets rules when it asks for a new alter.
fn unvalidated_update(req: &Request, view: &dyn ObjectView, spec_changed: bool) -> Decision {
    let mut found = Findings::default();
    requests::check(req, &mut found);
    let alter = alter_newly_requested(req);
    let set = view.policies();
    let policies = spec_changed && !(set.is_empty() && set.broken.is_empty());
    if (alter || policies)
        && let Ok((connector, _)) = read(req)
    {
        if alter {
            offsets::check(req, &connector, view, &mut found);
        }
        if policies {
            policies::check(&connector, view, &mut found);
        }
    }
    match found.denial(MAX_LINES) {
        Ok(warnings) => Decision::allow(Reason::Unchanged).with_warnings(warnings),
        Err(denial) => denial,
    }
}

/// Spec fields Kafka Connect's validation does not look at: pausing, stopping or changing the restart
/// policy must work while Connect is down.
const NOT_VALIDATED_FIELDS: [&str; 3] = ["state", "autoRestart", "deletionPolicy"];

/// Whether two specs agree on everything but [`NOT_VALIDATED_FIELDS`], compared in place (this runs on
/// every UPDATE, status writes included).
fn same_validated_part(old: &Value, new: &Value) -> bool {
    let (Some(old), Some(new)) = (old.as_object(), new.as_object()) else {
        return old == new;
    };
    let validated = |m: &Map<String, Value>| {
        m.keys()
            .filter(|k| !NOT_VALIDATED_FIELDS.contains(&k.as_str()))
            .count()
    };
    validated(old) == validated(new)
        && old
            .iter()
            .filter(|(k, _)| !NOT_VALIDATED_FIELDS.contains(&k.as_str()))
            .all(|(k, v)| new.get(k) == Some(v))
}

/// An UPDATE of a well-formed connector that changes only what Connect does not validate.
fn leaves_validated_part_alone(req: &Request) -> bool {
    let (Some(old), Some(new)) = (req.old_object.as_ref(), req.object.as_ref()) else {
        return false;
    };
    let (Some(old), Some(new)) = (old.data.get("spec"), new.data.get("spec")) else {
        return false;
    };
    req.operation == Operation::Update
        && same_validated_part(old, new)
        && KafkaConnectorSpec::deserialize(new).is_ok()
}

/// The connector under review, typed, with its namespace and name filled in, and its spec as sent (for the
/// reserved-key checks, which look at the fields as written).
fn read(req: &Request) -> Result<(KafkaConnector, Map<String, Value>), Decision> {
    let Some(obj) = req.object.as_ref() else {
        return Err(Decision::allow(Reason::NotApplicable));
    };
    let Some(spec_value) = obj.data.get("spec") else {
        return Err(Decision::deny(
            Reason::InvalidObject,
            vec!["spec is missing".into()],
        ));
    };
    let spec = KafkaConnectorSpec::deserialize(spec_value).map_err(|e| {
        Decision::deny(
            Reason::InvalidObject,
            vec![format!("spec: {}", cut_long(&e.to_string()))],
        )
    })?;
    let mut metadata = obj.metadata.clone();
    metadata.namespace = Some(object_namespace(req, obj));
    metadata.name = Some(
        obj.metadata
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| req.name.clone()),
    );
    let connector = KafkaConnector {
        metadata,
        spec,
        status: None,
    };
    Ok((
        connector,
        spec_value.as_object().cloned().unwrap_or_default(),
    ))
}
