//! Whether the requesting user may read what a KafkaConnector's `spec.configFrom` references. A connector
//! puts the value into a config anyone with access to Kafka Connect can read (and a sink can write it
//! anywhere), so referencing a Secret or ConfigMap must need the right to `get` it: the webhook asks the API
//! server, as the requesting user, for every reference a request adds or changes. Here: which reads to ask
//! about, and how answers read in a denial. The asking itself is the object source's.

use std::collections::{BTreeMap, BTreeSet};

use kube::core::admission::Operation;
use serde::Deserialize;
use shared::config_from::SourceKind;
use shared::crd::{ANNOTATION_OFFSETS, ConfigValueSource, KafkaConnectorSpec};

use super::request::{Kind, Request, kind, object_namespace};
use super::text::cut;

/// The verb a reference needs.
pub const VERB: &str = "get";

/// A read to ask about for the requesting user: `get` on `kind` `namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReadCheck {
    pub kind: SourceKind,
    pub namespace: String,
    pub name: String,
}

impl ReadCheck {
    /// The resource (plural, core group) of the SubjectAccessReview.
    pub fn resource(&self) -> &'static str {
        match self.kind {
            SourceKind::Secret => "secrets",
            SourceKind::ConfigMap => "configmaps",
        }
    }
}

/// The API server's answer for one [`ReadCheck`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    Allowed,
    Denied,
    /// The check itself failed (the text says why): treated as a denial, nothing unchecked gets in.
    Unknown(String),
}

fn config_from(spec: Option<&serde_json::Value>) -> Option<BTreeMap<String, ConfigValueSource>> {
    let spec = KafkaConnectorSpec::deserialize(spec?).ok()?;
    Some(spec.config_from)
}

/// The references of a KafkaConnector review that need a read check, by config key: all of them on CREATE;
/// on UPDATE those added or changed since the old object (an unchanged one was checked when it came in).
pub(crate) fn references_to_check(req: &Request) -> Vec<(String, ReadCheck)> {
    if kind(req) != Some(Kind::Connector)
        || !matches!(req.operation, Operation::Create | Operation::Update)
    {
        return Vec::new();
    }
    let Some(obj) = req.object.as_ref() else {
        return Vec::new();
    };
    let Some(new) = config_from(obj.data.get("spec")) else {
        return Vec::new();
    };
    let old = match req.operation {
        Operation::Update => req
            .old_object
            .as_ref()
            .and_then(|o| config_from(o.data.get("spec")))
            .unwrap_or_default(),
        _ => BTreeMap::new(),
    };
    let ns = object_namespace(req, obj);
    new.into_iter()
        .filter(|(key, src)| old.get(key) != Some(src))
        .map(|(key, src)| {
            let check = ReadCheck {
                kind: SourceKind::of(&src),
                namespace: ns.clone(),
                name: src.selector().name.clone(),
            };
            (key, check)
        })
        .collect()
}

/// Whether the review sets a new `connectwarden.io/offsets` value that asks for an alter: a new request to
/// apply what the ConfigMap holds now, even when nothing else changed.
pub(crate) fn alter_newly_requested(req: &Request) -> bool {
    fn value(o: &kube::core::DynamicObject) -> Option<&str> {
        o.metadata
            .annotations
            .as_ref()?
            .get(ANNOTATION_OFFSETS)
            .map(String::as_str)
    }
    let Some(new) = req.object.as_ref().and_then(value) else {
        return false;
    };
    let old = match req.operation {
        Operation::Update => req.old_object.as_ref().and_then(value),
        _ => None,
    };
    old != Some(new) && shared::requests::offsets(new) == Ok(shared::requests::Op::Alter)
}

/// The ConfigMap an offsets alter reads (`spec.alterOffsets.fromConfigMap`) when the review adds or changes
/// it, or asks for a new alter: the controller would apply what it holds, so the applying user must be able
/// to read it.
pub(crate) fn offsets_reference_to_check(req: &Request) -> Option<ReadCheck> {
    if kind(req) != Some(Kind::Connector)
        || !matches!(req.operation, Operation::Create | Operation::Update)
    {
        return None;
    }
    let obj = req.object.as_ref()?;
    let name = |o: &kube::core::DynamicObject| {
        o.data
            .get("spec")
            .and_then(|s| s.get("alterOffsets"))
            .and_then(|a| a.get("fromConfigMap"))
            .and_then(|c| c.get("name"))
            .and_then(|n| n.as_str())
            .map(str::to_string)
    };
    let new = name(obj)?;
    let old = match req.operation {
        Operation::Update => req.old_object.as_ref().and_then(name),
        _ => None,
    };
    (old.as_deref() != Some(new.as_str()) || alter_newly_requested(req)).then(|| ReadCheck {
        kind: SourceKind::ConfigMap,
        namespace: object_namespace(req, obj),
        name: new,
    })
}

/// The reads to ask about for `req`, each once.
pub fn read_checks(req: &Request) -> BTreeSet<ReadCheck> {
    references_to_check(req)
        .into_iter()
        .map(|(_, c)| c)
        .chain(offsets_reference_to_check(req))
        .collect()
}

/// The requesting user as messages name them.
pub(crate) fn user_name(req: &Request) -> String {
    match req.user_info.username.as_deref() {
        Some(u) if !u.is_empty() => cut(u),
        _ => "system:anonymous".into(),
    }
}

/// The denial line for config key `key` referencing `check`, when the answer is not [`Access::Allowed`].
pub(crate) fn denial(
    req: &Request,
    key: &str,
    check: &ReadCheck,
    access: &Access,
) -> Option<String> {
    let what = format!(
        "{} {}/{}",
        check.kind.as_str(),
        check.namespace,
        cut(&check.name)
    );
    let user = user_name(req);
    let key = cut(key);
    match access {
        Access::Allowed => None,
        Access::Denied => Some(format!(
            "spec.configFrom.{key:?}: user {user:?} may not {VERB} {what}; configFrom may only reference {}s the applying user can read",
            check.kind.as_str()
        )),
        Access::Unknown(e) => Some(format!(
            "spec.configFrom.{key:?}: cannot check whether user {user:?} may {VERB} {what}: {}; try again",
            super::text::cut_long(e)
        )),
    }
}
