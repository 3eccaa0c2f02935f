//! `spec.alterOffsets`: the ConfigMap an offsets alter applies. When a review adds or changes it, or sets a
//! new `connectwarden.io/offsets` alter request, and the ConfigMap exists, its `offsets.json` must be a
//! well-formed offsets document within bounds (the controller checks again before it stops the connector,
//! since the ConfigMap can change later). A ConfigMap that does not exist yet is admitted with a warning. The
//! applying user must be able to read it, as for `configFrom`.

use shared::crd::{KafkaConnector, OFFSETS_KEY};

use super::findings::Findings;
use crate::admission::access::{Access, VERB, offsets_reference_to_check, user_name};
use crate::admission::decision::Reason;
use crate::admission::objects::ObjectView;
use crate::admission::request::Request;
use crate::admission::text::{cut, cut_long};

const FIELD: &str = "spec.alterOffsets.fromConfigMap";

pub(super) fn check(
    req: &Request,
    _connector: &KafkaConnector,
    view: &dyn ObjectView,
    found: &mut Findings,
) {
    let Some(check) = offsets_reference_to_check(req) else {
        return;
    };
    let what = format!("ConfigMap {}/{}", check.namespace, cut(&check.name));
    let user = user_name(req);
    match view
        .read_access(&check)
        .unwrap_or_else(|| Access::Unknown("not checked".into()))
    {
        Access::Allowed => {}
        Access::Denied => {
            found.problem(
                Reason::ReferenceAccessDenied,
                format!(
                    "{FIELD}: user {user:?} may not {VERB} {what}; an offsets alter may only read a ConfigMap the applying user can read"
                ),
            );
            return;
        }
        Access::Unknown(e) => {
            found.problem(
                Reason::ReferenceAccessDenied,
                format!(
                    "{FIELD}: cannot check whether user {user:?} may {VERB} {what}: {}; try again",
                    cut_long(&e)
                ),
            );
            return;
        }
    }
    let Some(cm) = view.config_map(&check.namespace, &check.name) else {
        found.warnings.push(format!(
            "{FIELD}: {what} not found (yet); a connectwarden.io/offsets alter request fails while it is missing"
        ));
        return;
    };
    match cm.data.as_ref().and_then(|d| d.get(OFFSETS_KEY)) {
        None => found.problem(
            Reason::InvalidConfig,
            format!("{FIELD}: {what} has no key {OFFSETS_KEY:?}"),
        ),
        Some(text) => {
            if let Err(why) = shared::offsets::parse(text) {
                found.problem(
                    Reason::InvalidConfig,
                    format!("{FIELD}: {what}: {}", cut_long(&why)),
                );
            }
        }
    }
}
