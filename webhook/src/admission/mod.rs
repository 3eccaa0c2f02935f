//! Admission as one pipeline: parse the review, then `/mutate` (string coercion, reserved keys) or
//! `/validate` (the objects the request refers to → local rules → Kafka Connect's validation → the
//! response). The server, the tests, the fuzz target and the benchmark all run [`review`]. What it reads
//! from Kubernetes and what it asks Kafka Connect pass through two seams, [`ObjectSource`] and
//! [`Validator`]: watch caches and the real client in the server, plain maps and fixed answers elsewhere.
//! Everything between the seams decides without I/O.
//!
//! Module order (each imports only modules listed before it): `text` → `request` → `access` → `decision` →
//! `exempt`, `reserved` → `objects` (the Kubernetes seam), `connect` (the Kafka Connect seam) → `mutate`,
//! `cluster` (`references`, then the cluster's decision), `policy` (a KafkaConnectorPolicy's own checks) →
//! `connector` (`findings` → `local_rules`, `config_from`, `target`, `policies`, `response` → the plan) →
//! this pipeline.

mod access;
mod cluster;
mod connect;
mod connector;
mod decision;
mod exempt;
mod mutate;
mod objects;
mod policy;
mod request;
mod reserved;
mod text;

use std::sync::Arc;

use kube::core::admission::AdmissionResponse;

pub use access::{Access, ReadCheck, VERB, read_checks};
pub use connect::{ConnectCheck, ConnectOutcome, FailurePolicy, Validator};
use connector::Plan;
pub use decision::{Decision, Reason};
pub(crate) use objects::{ObjectRef, missing_objects};
pub use objects::{ObjectSource, ObjectView, Objects, Snapshot};
use request::Kind;
pub use request::{Request, Webhook, parse_review};

use crate::error::Result;

/// A review and the decision on it.
#[derive(Debug)]
pub struct Reviewed {
    pub request: Request,
    pub decision: Decision,
}

impl Reviewed {
    /// The AdmissionResponse to send back.
    pub fn response(&self) -> AdmissionResponse {
        self.decision.clone().into_response(&self.request)
    }
}

/// Reviews `body` (an AdmissionReview as received) for `webhook`. An error is a request that is not a usable
/// AdmissionReview, answered with HTTP 400.
pub async fn review(
    webhook: Webhook,
    body: &[u8],
    objects: &impl ObjectSource,
    connect: &impl Validator,
    policy: FailurePolicy,
) -> Result<Reviewed> {
    let request = parse_review(body)?;
    let decision = match webhook {
        Webhook::Mutate => mutate::mutate(&request, body),
        Webhook::Validate => validate(&request, objects, connect, policy).await,
    };
    Ok(Reviewed { request, decision })
}

async fn validate(
    req: &Request,
    objects: &impl ObjectSource,
    connect: &impl Validator,
    policy: FailurePolicy,
) -> Decision {
    // Caches cover the served namespaces alone: elsewhere they would make every reference look missing.
    if let Some(ns) = req.namespace.as_deref()
        && matches!(request::kind(req), Some(Kind::Connector | Kind::Cluster))
        && !objects.serves(ns)
    {
        return Decision::allow(Reason::NamespaceNotServed).with_warnings(vec![format!(
            "namespace {ns:?} is not served by this connect-warden installation (see its --watch-namespaces): \
             admitted without checks, and no controller of this installation will act on it"
        )]);
    }
    let view = objects.snapshot(req).await;
    let plan = match request::kind(req) {
        Some(Kind::Connector) => connector::plan(req, &view),
        Some(Kind::Cluster) => Plan::Done(cluster::validate(req, &view)),
        Some(Kind::Policy) => Plan::Done(policy::validate(req)),
        None => Plan::Done(Decision::allow(Reason::NotApplicable)),
    };
    let check: Arc<ConnectCheck> = match plan {
        Plan::Done(d) => return d,
        Plan::Connect(check) => Arc::from(check),
    };
    let outcome = connect.validate(&check).await;
    connector::respond(&check, &outcome, policy)
}
