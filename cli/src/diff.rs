//! What `cwctl diff` decides: the changes between the config Connect has and the one applying would send
//! (secret values never shown, only whether they change), whether Connect's state is the wanted one, and the
//! files' Secret and ConfigMap data as `configFrom` reads it.

use std::collections::{BTreeMap, BTreeSet};

use shared::config_from::{Fetched, SourceKind};
use shared::crd::ConnectorState;

/// One difference in a connector's config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Applying adds the key.
    Added {
        key: String,
        value: Shown,
    },
    /// Applying removes the key Connect has.
    Removed {
        key: String,
        value: Shown,
    },
    Changed {
        key: String,
        from: Shown,
        to: Shown,
    },
    /// A secret key whose value stays the same (said, so that "not listed" never means "not looked at").
    SecretUnchanged {
        key: String,
    },
}

/// A value as it may be printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    Value(String),
    Secret,
}

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shown::Value(v) => write!(f, "{v:?}"),
            Shown::Secret => f.write_str("(secret)"),
        }
    }
}

/// The changes that turn `actual` into `wanted`; keys in `secret` never show their values, keys in
/// `unknown` (values that cannot be known from the files) are not compared.
pub fn compare(
    wanted: &BTreeMap<String, String>,
    actual: &BTreeMap<String, String>,
    secret: &BTreeSet<String>,
    unknown: &BTreeSet<String>,
) -> Vec<Change> {
    let shown = |k: &str, v: &str| {
        if secret.contains(k) {
            Shown::Secret
        } else {
            Shown::Value(v.to_string())
        }
    };
    let keys: BTreeSet<&String> = wanted.keys().chain(actual.keys()).collect();
    let mut out = Vec::new();
    for k in keys {
        if unknown.contains(k) {
            continue;
        }
        match (wanted.get(k), actual.get(k)) {
            (Some(w), None) => out.push(Change::Added {
                key: k.clone(),
                value: shown(k, w),
            }),
            (None, Some(a)) => out.push(Change::Removed {
                key: k.clone(),
                value: shown(k, a),
            }),
            (Some(w), Some(a)) if w != a => out.push(Change::Changed {
                key: k.clone(),
                from: shown(k, a),
                to: shown(k, w),
            }),
            (Some(_), Some(_)) if secret.contains(k) => {
                out.push(Change::SecretUnchanged { key: k.clone() })
            }
            _ => {}
        }
    }
    out
}

pub fn render_change(c: &Change) -> String {
    match c {
        Change::Added { key, value } => format!("+ {key}: {value}"),
        Change::Removed { key, value } => format!("- {key}: {value}"),
        Change::Changed {
            key,
            from: Shown::Secret,
            ..
        } => format!("~ {key}: changed (secret value not shown)"),
        Change::Changed { key, from, to } => format!("~ {key}: {from} → {to}"),
        Change::SecretUnchanged { key } => format!("= {key}: unchanged (secret value not shown)"),
    }
}

/// Whether Connect's reported state is the wanted one.
pub fn state_matches(reported: &str, wanted: ConnectorState) -> bool {
    matches!(
        (reported, wanted),
        ("RUNNING", ConnectorState::Running)
            | ("PAUSED", ConnectorState::Paused)
            | ("STOPPED", ConnectorState::Stopped)
    )
}

pub fn state_name(s: ConnectorState) -> &'static str {
    match s {
        ConnectorState::Running => "running",
        ConnectorState::Paused => "paused",
        ConnectorState::Stopped => "stopped",
    }
}

/// The Secrets' and ConfigMaps' data of the files, as `configFrom` reads it.
pub fn fetched_of(values: &[serde_json::Value]) -> BTreeMap<String, Fetched> {
    use base64::Engine as _;
    let mut by_ns: BTreeMap<String, Fetched> = BTreeMap::new();
    for v in values {
        let kind = match v["kind"].as_str() {
            Some("Secret") => SourceKind::Secret,
            Some("ConfigMap") => SourceKind::ConfigMap,
            _ => continue,
        };
        let ns = v["metadata"]["namespace"].as_str().unwrap_or_default();
        let name = v["metadata"]["name"].as_str().unwrap_or_default();
        let mut data: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let field = |f: &str| v[f].as_object().cloned().unwrap_or_default();
        let (encoded, plain) = match kind {
            SourceKind::Secret => ("data", "stringData"),
            SourceKind::ConfigMap => ("binaryData", "data"),
        };
        for (k, x) in field(encoded) {
            if let Some(b) = x
                .as_str()
                .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
            {
                data.insert(k, b);
            }
        }
        for (k, x) in field(plain) {
            if let Some(s) = x.as_str() {
                data.insert(k, s.as_bytes().to_vec());
            }
        }
        by_ns
            .entry(ns.to_string())
            .or_default()
            .insert((kind, name.to_string()), Some(data));
    }
    by_ns
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn added_removed_and_changed_keys_with_secrets_hidden() {
        let wanted = map(&[
            ("a", "1"),
            ("b", "2"),
            ("password", "new"),
            ("token", "same"),
            ("from.secret", "x"),
        ]);
        let actual = map(&[
            ("b", "3"),
            ("c", "4"),
            ("password", "old"),
            ("token", "same"),
        ]);
        let secret = BTreeSet::from(["password".to_string(), "token".to_string()]);
        let unknown = BTreeSet::from(["from.secret".to_string()]);
        let lines: Vec<String> = compare(&wanted, &actual, &secret, &unknown)
            .iter()
            .map(render_change)
            .collect();
        assert_eq!(
            lines,
            vec![
                "+ a: \"1\"",
                "~ b: \"3\" → \"2\"",
                "- c: \"4\"",
                "~ password: changed (secret value not shown)",
                "= token: unchanged (secret value not shown)",
            ]
        );
        assert!(!lines.concat().contains("old") && !lines.concat().contains("new"));
    }

    #[test]
    fn secrets_in_files_resolve_config_from() {
        let f = fetched_of(&[serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "ns"},
            "data": {"password": "czNjcjN0"}, "stringData": {"user": "app"}
        })]);
        let data = f["ns"][&(SourceKind::Secret, "db".to_string())]
            .as_ref()
            .unwrap();
        assert_eq!(data["password"], b"s3cr3t");
        assert_eq!(data["user"], b"app");
    }
}
