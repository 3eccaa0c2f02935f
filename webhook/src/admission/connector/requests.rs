//! The request annotations (`connectwarden.io/restart`, `restart-task`, `offsets`): a new value that the
//! controller could not act on is denied here, where the user who set it reads why, rather than ending as a
//! Warning event on the object later.

use std::collections::BTreeMap;

use kube::core::DynamicObject;
use kube::core::admission::Operation;

use super::findings::Findings;
use crate::admission::decision::Reason;
use crate::admission::request::Request;
use crate::admission::text::cut_long;

fn annotations(o: Option<&DynamicObject>) -> Option<&BTreeMap<String, String>> {
    o?.metadata.annotations.as_ref()
}

pub(super) fn check(req: &Request, found: &mut Findings) {
    let old = match req.operation {
        Operation::Update => annotations(req.old_object.as_ref()),
        _ => None,
    };
    for why in shared::requests::unreadable_new(old, annotations(req.object.as_ref())) {
        found.problem(Reason::InvalidAnnotation, cut_long(&why));
    }
}
