//! Requests whose answer depends on nothing: deletions, subresources and updates that leave `spec` alone
//! (labels, finalizers) are never held up by a missing cluster or an unreachable Kafka Connect, so that
//! removing a finalizer always works.

use kube::core::admission::Operation;

use super::decision::{Decision, Reason};
use super::request::Request;

/// The answer for `req` when it needs no checks; `None` when the object must be judged.
pub(crate) fn exempt(req: &Request) -> Option<Decision> {
    match req.operation {
        Operation::Delete => return Some(Decision::allow(Reason::Deleting)),
        Operation::Connect => return Some(Decision::allow(Reason::NotApplicable)),
        Operation::Create | Operation::Update => {}
    }
    if req.sub_resource.as_deref().is_some_and(|s| !s.is_empty()) {
        return Some(Decision::allow(Reason::NotApplicable));
    }
    let Some(obj) = &req.object else {
        return Some(Decision::deny(
            Reason::InvalidObject,
            vec!["the AdmissionReview carries no object".into()],
        ));
    };
    if obj.metadata.deletion_timestamp.is_some() {
        return Some(Decision::allow(Reason::Deleting));
    }
    if req.operation == Operation::Update
        && let Some(old) = &req.old_object
        && old.data.get("spec") == obj.data.get("spec")
    {
        return Some(Decision::allow(Reason::Unchanged));
    }
    None
}
