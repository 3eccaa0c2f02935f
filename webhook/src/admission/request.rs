//! The AdmissionReview as it arrives: which endpoint, its parsing, and what every step reads from it.

use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionReview};
use shared::crd::GROUP;

use super::text::cut;
use crate::error::{Error, Result};

pub type Request = AdmissionRequest<DynamicObject>;

/// Which endpoint a review came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Webhook {
    Mutate,
    Validate,
}

impl Webhook {
    pub fn as_str(self) -> &'static str {
        match self {
            Webhook::Mutate => "mutate",
            Webhook::Validate => "validate",
        }
    }
}

/// Reads an AdmissionReview v1. Errors are the text of an HTTP 400.
pub fn parse_review(body: &[u8]) -> Result<Request> {
    let review: AdmissionReview<DynamicObject> = serde_json::from_slice(body)
        .map_err(|e| Error::BadReview(format!("malformed AdmissionReview: {e}")))?;
    if review.types.api_version != "admission.k8s.io/v1" || review.types.kind != "AdmissionReview" {
        return Err(Error::BadReview(format!(
            "expected kind AdmissionReview, apiVersion admission.k8s.io/v1; got kind {:?}, apiVersion {:?}",
            cut(&review.types.kind),
            cut(&review.types.api_version)
        )));
    }
    review
        .try_into()
        .map_err(|_| Error::BadReview("the AdmissionReview has no request".into()))
}

/// The kinds this webhook judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Connector,
    Cluster,
    Policy,
}

/// Which of this webhook's kinds `req` is about, if any.
pub(crate) fn kind(req: &Request) -> Option<Kind> {
    if req.kind.group != GROUP {
        return None;
    }
    match req.kind.kind.as_str() {
        "KafkaConnector" => Some(Kind::Connector),
        "KafkaConnectCluster" => Some(Kind::Cluster),
        "KafkaConnectorPolicy" => Some(Kind::Policy),
        _ => None,
    }
}

/// The namespace of the object under review (the request's when the object does not say).
pub(crate) fn object_namespace(req: &Request, obj: &DynamicObject) -> String {
    obj.metadata
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| req.namespace.clone())
        .unwrap_or_default()
}
