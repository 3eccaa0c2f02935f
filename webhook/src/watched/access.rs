//! Read checks as the API server answers them: one LocalSubjectAccessReview per check, as the requesting
//! user (name, uid, groups, extra from the AdmissionRequest). Asking the API server, rather than reading
//! Roles, gives exactly the answer the user would get, whatever authorizers the cluster runs. The local
//! kind, created in the namespace it asks about, needs a right in that namespace only, so a
//! namespace-scoped install grants it with a Role.

use k8s_openapi::api::authentication::v1::UserInfo;
use k8s_openapi::api::authorization::v1::{
    LocalSubjectAccessReview, ResourceAttributes, SubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};

use crate::admission::{Access, ReadCheck, VERB};

/// Whether `user` may do `check`. A failed review is [`Access::Unknown`] (and denies).
pub(super) async fn review(client: kube::Client, user: &UserInfo, check: &ReadCheck) -> Access {
    let sar = LocalSubjectAccessReview {
        metadata: kube::api::ObjectMeta {
            namespace: Some(check.namespace.clone()),
            ..Default::default()
        },
        spec: SubjectAccessReviewSpec {
            user: user.username.clone(),
            uid: user.uid.clone(),
            groups: user.groups.clone(),
            extra: user.extra.clone(),
            resource_attributes: Some(ResourceAttributes {
                namespace: Some(check.namespace.clone()),
                verb: Some(VERB.into()),
                group: Some(String::new()),
                resource: Some(check.resource().into()),
                name: Some(check.name.clone()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    match Api::<LocalSubjectAccessReview>::namespaced(client, &check.namespace)
        .create(&PostParams::default(), &sar)
        .await
    {
        Ok(r) => match r.status {
            Some(s) if s.allowed => Access::Allowed,
            Some(_) => Access::Denied,
            None => {
                Access::Unknown("the LocalSubjectAccessReview came back without a status".into())
            }
        },
        Err(e) => {
            tracing::warn!(
                namespace = %check.namespace,
                name = %check.name,
                resource = check.resource(),
                error = %e,
                "LocalSubjectAccessReview failed"
            );
            Access::Unknown(format!("LocalSubjectAccessReview failed: {e}"))
        }
    }
}
