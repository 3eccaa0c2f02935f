//! The KafkaConnectorPolicies that apply to the connector, evaluated before Kafka Connect is asked: a
//! `Deny` policy's violations are problems (one line each), a `Warn` policy's are warnings. The evaluation
//! itself is `shared::policy`'s, the same the controller reports existing connectors with.

use shared::crd::KafkaConnector;
use shared::policy::Context;
use shared::target::ClusterId;

use super::findings::Findings;
use crate::admission::decision::Reason;
use crate::admission::objects::ObjectView;

pub(super) fn check(connector: &KafkaConnector, view: &dyn ObjectView, found: &mut Findings) {
    let set = view.policies();
    if set.is_empty() && set.broken.is_empty() {
        return;
    }
    for name in set.broken.keys() {
        found.warnings.push(format!(
            "KafkaConnectorPolicy {name} is not enforced: its schema does not compile (see the webhook's log)"
        ));
    }
    let ns = connector.metadata.namespace.clone().unwrap_or_default();
    let labels = view.namespace_labels(&ns);
    let cluster = match ClusterId::of_connector(connector) {
        ClusterId::Named { namespace, name } => view.cluster(&namespace, &name),
        ClusterId::Default => None,
    };
    let cx = Context {
        namespace_labels: labels.as_deref(),
        cluster: cluster.as_deref(),
    };
    let outcome = set.evaluate_connector(connector, cx);
    for v in outcome.denials() {
        found.problem(Reason::PolicyViolation, v.line());
    }
    found.warnings.extend(outcome.warnings().map(|v| v.line()));
}
