//! `spec.version` (KIP-891): a version or Maven range that parses; a cluster whose Kafka Connect reads
//! `connector.plugin.version` (4.1+; older ones ignore it and run the latest installed version); a version
//! installed there. The cluster's version and plugins come from its status, which the controller keeps
//! from polling it, so this costs no call to Kafka Connect. With several versions installed and none
//! pinned, a warning says which one runs.

use shared::connect::apache_version;
use shared::crd::KafkaConnector;
use shared::plugin_version::{FIRST_CONNECT, Requirement, newest_first};

use super::findings::Findings;
use crate::admission::decision::Reason;
use crate::admission::objects::ObjectView;
use crate::admission::text::{cut, cut_long};

pub(super) fn check(connector: &KafkaConnector, view: &dyn ObjectView, found: &mut Findings) {
    let spec = &connector.spec;
    let wanted = match spec.version.as_deref() {
        Some(v) => match Requirement::parse(v) {
            Ok(r) => Some((v, r)),
            Err(why) => {
                found.problem(Reason::InvalidConfig, cut_long(&why));
                return;
            }
        },
        None => None,
    };
    let Some((ns, name)) = connector.cluster_key() else {
        return;
    };
    let Some(status) = view.cluster(&ns, &name).and_then(|c| c.status.clone()) else {
        return;
    };
    let class = &spec.class;
    let label = format!("{ns}/{name}");
    if let (Some((v, _)), Some(running)) = (&wanted, status.version.as_deref()) {
        let at = apache_version(running);
        if at != (0, 0) && at < FIRST_CONNECT {
            found.problem(
                Reason::InvalidConfig,
                format!(
                    "spec.version {:?} needs Kafka Connect {}.{} or later, but cluster {label} runs Kafka Connect {running}, which ignores connector.plugin.version and would run the latest installed version of {class}; remove spec.version or upgrade the cluster",
                    cut(v),
                    FIRST_CONNECT.0,
                    FIRST_CONNECT.1
                ),
            );
            return;
        }
    }
    let installed: Vec<&str> = status
        .plugins
        .iter()
        .filter(|p| (p.kind == "source" || p.kind == "sink") && same_class(&p.class, class))
        .filter_map(|p| p.version.as_deref())
        .collect();
    // Not installed at all: Kafka Connect's validation says so, with the classes that are.
    if installed.is_empty() {
        return;
    }
    let versions = newest_first(&installed);
    let listed = versions.join(", ");
    match wanted {
        Some((v, r)) if r.pick(&installed).is_none() => found.problem(
            Reason::PluginNotFound,
            format!(
                "spec.version {:?} matches no installed version of {class} on cluster {label}; installed: {listed}",
                cut(v)
            ),
        ),
        None if versions.len() > 1 => found.warnings.push(format!(
            "{} versions of {class} are installed on cluster {label} ({listed}) and spec.version pins none: Kafka Connect runs the latest, {}; set spec.version to choose",
            versions.len(),
            versions[0]
        )),
        _ => {}
    }
}

/// Whether `installed` (a class name) is what `wanted` (a class or an alias) names: Connect's aliases are
/// the simple name, with or without its `Connector` suffix.
fn same_class(installed: &str, wanted: &str) -> bool {
    let simple = |c: &str| {
        let s = c.trim();
        let s = s.rsplit('.').next().unwrap_or(s).to_string();
        s.strip_suffix("Connector").map(str::to_string).unwrap_or(s)
    };
    installed == wanted.trim() || (!wanted.contains('.') && simple(installed) == simple(wanted))
}

#[cfg(test)]
mod tests {
    use super::same_class;

    #[test]
    fn aliases_name_the_class() {
        let c = "org.apache.kafka.connect.file.FileStreamSourceConnector";
        assert!(same_class(c, c));
        assert!(same_class(c, "FileStreamSource"));
        assert!(same_class(c, "FileStreamSourceConnector"));
        assert!(!same_class(c, "FileStreamSink"));
        assert!(!same_class(c, "other.pkg.FileStreamSourceConnector"));
    }
}
