//! The answer to one review, and how it becomes an AdmissionResponse.

use json_patch::{Patch, PatchOperation};
use kube::core::admission::AdmissionResponse;

use super::request::Request;

/// Why a decision was taken; also the `reason` metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Checked and fine (Kafka Connect validated the config, or nothing needed changing).
    Valid,
    /// The mutating webhook changed the object.
    Mutated,
    /// An UPDATE that leaves `spec` unchanged.
    Unchanged,
    /// DELETE, or an object whose `deletionTimestamp` is set.
    Deleting,
    /// A kind, operation or subresource this webhook has nothing to say about.
    NotApplicable,
    /// The object does not have the shape of its kind.
    InvalidObject,
    /// Local config rules: non-string values, empty class, tasksMax < 1, connector name rules.
    InvalidConfig,
    ReservedKeyConflict,
    /// The KafkaConnectCluster does not exist (yet): admitted with a warning, or denied when no cluster is
    /// named and no default is configured.
    ClusterNotFound,
    /// A Secret or ConfigMap the KafkaConnectCluster or `spec.configFrom` references does not exist (yet):
    /// admitted with a warning.
    ReferenceNotFound,
    /// The requesting user may not read a Secret or ConfigMap that `spec.configFrom` references (or that
    /// could not be checked).
    ReferenceAccessDenied,
    NamespaceNotAllowed,
    /// The object is in a namespace this installation does not watch: admitted with a warning, since its
    /// caches hold nothing there to judge by.
    NamespaceNotServed,
    NameConflict,
    /// The KafkaConnectCluster is malformed, or its Secrets/ConfigMaps do not hold what they should (missing
    /// keys, a CA without a PEM certificate).
    ClusterMisconfigured,
    /// Kafka Connect reported errors for the config.
    ConnectRejected,
    PluginNotFound,
    /// Kafka Connect could not answer (fail-closed denies, fail-open admits).
    ConnectUnavailable,
    /// A KafkaConnectorPolicy with `action: Deny` is not satisfied.
    PolicyViolation,
    /// A KafkaConnectorPolicy whose schema or selectors do not compile.
    InvalidPolicy,
    /// A new value of a request annotation (restart, restart-task, offsets) that cannot be acted on.
    InvalidAnnotation,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Valid => "valid",
            Reason::Mutated => "mutated",
            Reason::Unchanged => "unchanged",
            Reason::Deleting => "deleting",
            Reason::NotApplicable => "not_applicable",
            Reason::InvalidObject => "invalid_object",
            Reason::InvalidConfig => "invalid_config",
            Reason::ReservedKeyConflict => "reserved_key_conflict",
            Reason::ClusterNotFound => "cluster_not_found",
            Reason::ReferenceNotFound => "reference_not_found",
            Reason::ReferenceAccessDenied => "reference_access_denied",
            Reason::NamespaceNotAllowed => "namespace_not_allowed",
            Reason::NamespaceNotServed => "namespace_not_served",
            Reason::NameConflict => "name_conflict",
            Reason::ClusterMisconfigured => "cluster_misconfigured",
            Reason::ConnectRejected => "connect_rejected",
            Reason::PluginNotFound => "plugin_not_found",
            Reason::ConnectUnavailable => "connect_unavailable",
            Reason::PolicyViolation => "policy_violation",
            Reason::InvalidPolicy => "invalid_policy",
            Reason::InvalidAnnotation => "invalid_annotation",
        }
    }
}

/// The answer to one review.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: Reason,
    /// For a denial: one line per problem (a first line may give the context).
    pub lines: Vec<String>,
    pub warnings: Vec<String>,
    pub patch: Vec<PatchOperation>,
}

impl Decision {
    pub fn allow(reason: Reason) -> Self {
        Decision {
            allowed: true,
            reason,
            lines: Vec::new(),
            warnings: Vec::new(),
            patch: Vec::new(),
        }
    }

    pub fn deny(reason: Reason, lines: Vec<String>) -> Self {
        Decision {
            allowed: false,
            reason,
            lines,
            warnings: Vec::new(),
            patch: Vec::new(),
        }
    }

    pub(crate) fn with_warnings(mut self, warnings: Vec<String>) -> Self {
        self.warnings.extend(warnings);
        self
    }

    /// The `decision` metric label.
    pub fn decision_label(&self) -> &'static str {
        match (self.allowed, self.patch.is_empty()) {
            (false, _) => "denied",
            (true, true) => "allowed",
            (true, false) => "patched",
        }
    }

    pub fn message(&self) -> String {
        self.lines.join("\n")
    }

    /// The AdmissionResponse for `req`: uid echoed, message, warnings, patch.
    pub fn into_response(self, req: &Request) -> AdmissionResponse {
        let mut resp = AdmissionResponse::from(req);
        if !self.warnings.is_empty() {
            resp.warnings = Some(self.warnings);
        }
        if !self.allowed {
            let mut resp = resp.deny(self.lines.join("\n"));
            resp.result.code = 403;
            resp.result.reason = "Forbidden".into();
            return resp;
        }
        if self.patch.is_empty() {
            return resp;
        }
        // Serialising a patch of plain JSON values cannot fail; if it ever did, denying is the safe side.
        match resp.clone().with_patch(Patch(self.patch)) {
            Ok(r) => r,
            Err(e) => resp.deny(format!("internal error: cannot encode the patch: {e}")),
        }
    }
}
