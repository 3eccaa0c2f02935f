//! `/validate` for a KafkaConnectCluster: the URL's and the Kafka bootstrap list's form, and the Secrets and ConfigMaps it references.
//! Referenced objects that exist must hold what they should; missing ones and risky settings are warned
//! about. A Secret that does not exist yet is ordering, not an error: GitOps engines dry-run a whole folder
//! first, and sealed or external secrets come later.

pub(crate) mod references;

use serde::Deserialize;
use shared::connect::parse_base_url;
use shared::crd::KafkaConnectClusterSpec;

use super::decision::{Decision, Reason};
use super::exempt::exempt;
use super::objects::ObjectView;
use super::request::{Request, object_namespace};
use super::text::cut_long;
use references::{Block, check_references};

/// The decision on a KafkaConnectCluster.
pub(crate) fn validate(req: &Request, view: &dyn ObjectView) -> Decision {
    if let Some(d) = exempt(req) {
        return d;
    }
    let Some(obj) = req.object.as_ref() else {
        return Decision::allow(Reason::NotApplicable);
    };
    let ns = object_namespace(req, obj);
    let name = obj
        .metadata
        .name
        .clone()
        .unwrap_or_else(|| req.name.clone());
    let Some(spec_value) = obj.data.get("spec") else {
        return Decision::deny(Reason::InvalidObject, vec!["spec is missing".into()]);
    };
    let spec = match KafkaConnectClusterSpec::deserialize(spec_value) {
        Ok(s) => s,
        Err(e) => {
            return Decision::deny(
                Reason::InvalidObject,
                vec![format!("spec: {}", cut_long(&e.to_string()))],
            );
        }
    };
    let mut warnings = shared::cluster::warnings(&spec);
    if let Err(e) = parse_base_url(&spec.url) {
        let detail = match &e {
            shared::Error::ClientConfig(m) => m.clone(),
            other => other.to_string(),
        };
        return Decision::deny(
            Reason::ClusterMisconfigured,
            vec![format!("spec.url: {}", cut_long(&detail))],
        )
        .with_warnings(warnings);
    }
    if let Some(k) = &spec.kafka
        && let Err(e) = shared::kafka::parse_bootstrap(&k.bootstrap_servers)
    {
        return Decision::deny(
            Reason::ClusterMisconfigured,
            vec![format!("spec.kafka.bootstrapServers: {}", cut_long(&e))],
        )
        .with_warnings(warnings);
    }
    if let Some(why) = (spec.kafka.as_ref())
        .and_then(|k| k.offsets_topic.as_deref())
        .and_then(shared::kafka::topic_name_problem)
    {
        return Decision::deny(
            Reason::ClusterMisconfigured,
            vec![format!("spec.kafka.offsetsTopic: {why}")],
        )
        .with_warnings(warnings);
    }
    let refs = check_references(&ns, &name, &spec, &[Block::Rest, Block::Kafka], view);
    if !refs.problems.is_empty() {
        return Decision::deny(Reason::ClusterMisconfigured, refs.problems).with_warnings(warnings);
    }
    if refs.missing.is_empty() {
        return Decision::allow(Reason::Valid).with_warnings(warnings);
    }
    warnings.extend(refs.missing.iter().map(|(field, what)| {
        format!(
            "{field}: {what} not found; admitted, the controller reports the cluster not Ready until it exists"
        )
    }));
    Decision::allow(Reason::ReferenceNotFound).with_warnings(warnings)
}
