//! Reading what `spec.configFrom` references: each referenced Secret or ConfigMap is read with one `get`
//! (nothing else of either kind is read, and nothing read is cached), then resolved by the pure
//! `shared::config_from`. Problems become the `Ready` condition; values never appear in it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use kube::{Resource, ResourceExt};
use shared::config_from::{self, Fetched, Problem, SourceKind};
use shared::crd::KafkaConnector;

use crate::conditions::{Ready, Reason};
use crate::context::Ctx;
use crate::error::Result;

/// The config values `configFrom` names, or the `Ready` condition that says why they cannot be had. Keys
/// already in `config` (and reserved keys) are refused before anything is read.
pub(super) async fn values(
    o: &KafkaConnector,
    ctx: &Ctx,
    config: &BTreeMap<String, String>,
) -> Result<Result<BTreeMap<String, String>, Ready>> {
    let from = &o.spec.config_from;
    if from.is_empty() {
        return Ok(Ok(BTreeMap::new()));
    }
    let refused = config_from::check_keys(config.keys(), from);
    if !refused.is_empty() {
        return Ok(Err(ready_for(&refused)));
    }
    let ns = o.namespace().unwrap_or_default();
    let mut fetched = Fetched::new();
    for (kind, name) in config_from::referenced(from) {
        let data = read(ctx, &ns, kind, &name).await?;
        fetched.insert((kind, name), data);
    }
    Ok(config_from::resolve(&ns, from, &fetched).map_err(|p| ready_for(&p)))
}

/// The data of one object, as bytes by key; `None` when it does not exist (or is being deleted).
async fn read(
    ctx: &Ctx,
    ns: &str,
    kind: SourceKind,
    name: &str,
) -> Result<Option<BTreeMap<String, Vec<u8>>>> {
    Ok(match kind {
        SourceKind::Secret => Api::<Secret>::namespaced(ctx.kube.clone(), ns)
            .get_opt(name)
            .await?
            .filter(|s| s.meta().deletion_timestamp.is_none())
            .map(|s| {
                s.data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.0))
                    .collect()
            }),
        SourceKind::ConfigMap => Api::<ConfigMap>::namespaced(ctx.kube.clone(), ns)
            .get_opt(name)
            .await?
            .filter(|c| c.meta().deletion_timestamp.is_none())
            .map(|c| {
                let text = c
                    .data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.into_bytes()));
                let binary = c
                    .binary_data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.0));
                text.chain(binary).collect()
            }),
    })
}

/// `InvalidConfig` for anything a person must fix in the spec or the data; otherwise `SecretNotFound` when
/// a Secret or its key is missing, else `ConfigMapNotFound`. One line per problem.
fn ready_for(problems: &[Problem]) -> Ready {
    let reason = if problems.iter().any(|p| p.missing().is_none()) {
        Reason::InvalidConfig
    } else if problems
        .iter()
        .any(|p| p.missing() == Some(SourceKind::Secret))
    {
        Reason::SecretNotFound
    } else {
        Reason::ConfigMapNotFound
    };
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    Ready::no(reason, lines.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_follow_the_worst_problem() {
        let missing = Problem::KeyMissing {
            key: "a.password".into(),
            kind: SourceKind::Secret,
            object: "ns/db".into(),
            object_key: "pw".into(),
        };
        let no_map = Problem::ObjectMissing {
            key: "file".into(),
            kind: SourceKind::ConfigMap,
            object: "ns/paths".into(),
        };
        let r = ready_for(&[missing.clone(), no_map.clone()]);
        assert_eq!(r.reason, Reason::SecretNotFound);
        assert_eq!(
            r.message,
            r#"spec.configFrom."a.password": Secret ns/db has no key "pw"; spec.configFrom."file": ConfigMap ns/paths not found"#
        );
        assert!(!r.stalled);
        assert_eq!(
            ready_for(std::slice::from_ref(&no_map)).reason,
            Reason::ConfigMapNotFound
        );
        let r = ready_for(&[missing, Problem::Reserved { key: "name".into() }]);
        assert_eq!(r.reason, Reason::InvalidConfig);
        assert!(r.stalled);
    }
}
