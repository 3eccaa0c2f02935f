//! `spec.configFrom`: config values taken from keys of Secrets and ConfigMaps in the connector's namespace.
//! Pure: the spec and the referenced objects' data in, the flat values (or precise problems) out. A problem's
//! text names the config key, the object and its key, never a value.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::config::{RESERVED_CLASS, RESERVED_NAME, RESERVED_TASKS_MAX};
use crate::crd::ConfigValueSource;

/// The kind of object a reference points into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKind {
    Secret,
    ConfigMap,
}

impl SourceKind {
    pub fn of(src: &ConfigValueSource) -> SourceKind {
        match src {
            ConfigValueSource::SecretKeyRef(_) => SourceKind::Secret,
            ConfigValueSource::ConfigMapKeyRef(_) => SourceKind::ConfigMap,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Secret => "Secret",
            SourceKind::ConfigMap => "ConfigMap",
        }
    }
}

/// The referenced objects as read: by kind and name, their data (`None`: the object does not exist). A
/// ConfigMap's `data` and `binaryData` go in as bytes alike.
pub type Fetched = BTreeMap<(SourceKind, String), Option<BTreeMap<String, Vec<u8>>>>;

/// Why a `configFrom` entry cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// `name`, `connector.class` or `tasks.max`: set from the spec's own fields.
    Reserved { key: String },
    /// The key is in `config` too.
    AlsoInConfig { key: String },
    /// The referenced object does not exist (and the reference is not optional).
    ObjectMissing {
        key: String,
        kind: SourceKind,
        object: String,
    },
    /// The object exists but lacks the key (and the reference is not optional).
    KeyMissing {
        key: String,
        kind: SourceKind,
        object: String,
        object_key: String,
    },
    /// The value is not UTF-8 text; Kafka Connect config values are strings.
    NotUtf8 {
        key: String,
        kind: SourceKind,
        object: String,
        object_key: String,
    },
}

impl Problem {
    /// Whether the problem is a missing object or key (which appearing later fixes), and in which kind.
    pub fn missing(&self) -> Option<SourceKind> {
        match self {
            Problem::ObjectMissing { kind, .. } | Problem::KeyMissing { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Reserved { key } => write!(
                f,
                "spec.configFrom.{key:?}: reserved key; name, connector.class and tasks.max come from spec.name, spec.class and spec.tasksMax"
            ),
            Problem::AlsoInConfig { key } => write!(
                f,
                "spec.configFrom.{key:?}: also set in spec.config; set it in one place only"
            ),
            Problem::ObjectMissing { key, kind, object } => write!(
                f,
                "spec.configFrom.{key:?}: {} {object} not found",
                kind.as_str()
            ),
            Problem::KeyMissing {
                key,
                kind,
                object,
                object_key,
            } => write!(
                f,
                "spec.configFrom.{key:?}: {} {object} has no key {object_key:?}",
                kind.as_str()
            ),
            Problem::NotUtf8 {
                key,
                kind,
                object,
                object_key,
            } => write!(
                f,
                "spec.configFrom.{key:?}: key {object_key:?} of {} {object} is not UTF-8 text (Kafka Connect config values are strings)",
                kind.as_str()
            ),
        }
    }
}

/// Problems visible in the spec alone: reserved keys and keys also in `config`.
pub fn check_keys<'a>(
    config_keys: impl IntoIterator<Item = &'a String>,
    from: &BTreeMap<String, ConfigValueSource>,
) -> Vec<Problem> {
    let config: BTreeSet<&String> = config_keys.into_iter().collect();
    let mut out = Vec::new();
    for key in from.keys() {
        if [RESERVED_NAME, RESERVED_CLASS, RESERVED_TASKS_MAX].contains(&key.as_str()) {
            out.push(Problem::Reserved { key: key.clone() });
        } else if config.contains(key) {
            out.push(Problem::AlsoInConfig { key: key.clone() });
        }
    }
    out
}

/// The objects to read (by kind and name), each once.
pub fn referenced(from: &BTreeMap<String, ConfigValueSource>) -> BTreeSet<(SourceKind, String)> {
    from.values()
        .map(|s| (SourceKind::of(s), s.selector().name.clone()))
        .collect()
}

/// Whether any reference points into the object `kind`/`name` (of the same namespace).
pub fn references(
    from: &BTreeMap<String, ConfigValueSource>,
    kind: SourceKind,
    name: &str,
) -> bool {
    from.values()
        .any(|s| SourceKind::of(s) == kind && s.selector().name == name)
}

/// `Secret ns/name` or `ConfigMap ns/name`: where a config key's value comes from, for messages.
pub fn source_label(namespace: &str, src: &ConfigValueSource) -> String {
    format!(
        "{} {namespace}/{}",
        SourceKind::of(src).as_str(),
        src.selector().name
    )
}

/// The config values `from` names, read from `fetched`. An optional reference to a missing object or key
/// leaves its config key out (Kubernetes' meaning of `optional`). All problems are reported at once.
pub fn resolve(
    namespace: &str,
    from: &BTreeMap<String, ConfigValueSource>,
    fetched: &Fetched,
) -> Result<BTreeMap<String, String>, Vec<Problem>> {
    let mut values = BTreeMap::new();
    let mut problems = Vec::new();
    for (key, src) in from {
        let kind = SourceKind::of(src);
        let sel = src.selector();
        let optional = sel.optional == Some(true);
        let object = format!("{namespace}/{}", sel.name);
        let data = fetched
            .get(&(kind, sel.name.clone()))
            .and_then(Option::as_ref);
        let Some(data) = data else {
            if !optional {
                problems.push(Problem::ObjectMissing {
                    key: key.clone(),
                    kind,
                    object,
                });
            }
            continue;
        };
        let Some(bytes) = data.get(&sel.key) else {
            if !optional {
                problems.push(Problem::KeyMissing {
                    key: key.clone(),
                    kind,
                    object,
                    object_key: sel.key.clone(),
                });
            }
            continue;
        };
        match std::str::from_utf8(bytes) {
            Ok(v) => {
                values.insert(key.clone(), v.to_string());
            }
            Err(_) => problems.push(Problem::NotUtf8 {
                key: key.clone(),
                kind,
                object,
                object_key: sel.key.clone(),
            }),
        }
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::KeySelector;

    fn secret(name: &str, key: &str, optional: bool) -> ConfigValueSource {
        ConfigValueSource::SecretKeyRef(KeySelector {
            name: name.into(),
            key: key.into(),
            optional: optional.then_some(true),
        })
    }

    fn config_map(name: &str, key: &str) -> ConfigValueSource {
        ConfigValueSource::ConfigMapKeyRef(KeySelector {
            name: name.into(),
            key: key.into(),
            optional: None,
        })
    }

    fn from(pairs: &[(&str, ConfigValueSource)]) -> BTreeMap<String, ConfigValueSource> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn object(kind: SourceKind, name: &str, data: &[(&str, &[u8])]) -> Fetched {
        let d = data
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_vec()))
            .collect();
        [((kind, name.to_string()), Some(d))].into_iter().collect()
    }

    #[test]
    fn values_come_from_secrets_and_config_maps() {
        let f = from(&[
            ("ssl.truststore.password", secret("db-creds", "pw", false)),
            ("file", config_map("paths", "out")),
        ]);
        let mut fetched = object(SourceKind::Secret, "db-creds", &[("pw", b"hunter2")]);
        fetched.extend(object(
            SourceKind::ConfigMap,
            "paths",
            &[("out", b"/tmp/x")],
        ));
        let got = resolve("ns", &f, &fetched).unwrap();
        assert_eq!(got["ssl.truststore.password"], "hunter2");
        assert_eq!(got["file"], "/tmp/x");
        assert_eq!(
            referenced(&f),
            [
                (SourceKind::Secret, "db-creds".to_string()),
                (SourceKind::ConfigMap, "paths".to_string())
            ]
            .into_iter()
            .collect()
        );
        assert!(references(&f, SourceKind::Secret, "db-creds"));
        assert!(!references(&f, SourceKind::ConfigMap, "db-creds"));
    }

    #[test]
    fn missing_objects_and_keys_are_named_without_values() {
        let f = from(&[
            ("a.password", secret("gone", "pw", false)),
            ("b.password", secret("db-creds", "nope", false)),
            ("file", config_map("paths", "out")),
        ]);
        let mut fetched = object(SourceKind::Secret, "db-creds", &[("pw", b"hunter2")]);
        fetched.insert((SourceKind::ConfigMap, "paths".into()), None);
        let problems = resolve("ns", &f, &fetched).unwrap_err();
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                r#"spec.configFrom."a.password": Secret ns/gone not found"#,
                r#"spec.configFrom."b.password": Secret ns/db-creds has no key "nope""#,
                r#"spec.configFrom."file": ConfigMap ns/paths not found"#,
            ]
        );
        assert!(text.iter().all(|t| !t.contains("hunter2")));
        assert_eq!(problems[0].missing(), Some(SourceKind::Secret));
        assert_eq!(problems[2].missing(), Some(SourceKind::ConfigMap));
    }

    #[test]
    fn optional_references_leave_the_key_out() {
        let f = from(&[
            ("a.password", secret("gone", "pw", true)),
            ("b.password", secret("db-creds", "nope", true)),
            ("c.password", secret("db-creds", "pw", true)),
        ]);
        let fetched = object(SourceKind::Secret, "db-creds", &[("pw", b"x")]);
        let got = resolve("ns", &f, &fetched).unwrap();
        assert_eq!(got.keys().collect::<Vec<_>>(), ["c.password"]);
    }

    #[test]
    fn binary_data_is_refused_without_showing_it() {
        let f = from(&[("ssl.key", secret("bin", "k", false))]);
        let fetched = object(SourceKind::Secret, "bin", &[("k", &[0xff, 0xfe, 0x00])]);
        let p = resolve("ns", &f, &fetched).unwrap_err();
        assert_eq!(
            p[0].to_string(),
            r#"spec.configFrom."ssl.key": key "k" of Secret ns/bin is not UTF-8 text (Kafka Connect config values are strings)"#
        );
        assert_eq!(p[0].missing(), None);
        // optional does not excuse bad data
        let f = from(&[("ssl.key", secret("bin", "k", true))]);
        assert!(resolve("ns", &f, &fetched).is_err());
    }

    #[test]
    fn reserved_and_duplicate_keys() {
        let f = from(&[
            ("name", secret("s", "k", false)),
            ("tasks.max", secret("s", "k", false)),
            ("topics", secret("s", "k", false)),
            ("file", secret("s", "k", false)),
        ]);
        let config = ["topics".to_string()];
        let text: Vec<String> = check_keys(&config, &f)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            text,
            [
                r#"spec.configFrom."name": reserved key; name, connector.class and tasks.max come from spec.name, spec.class and spec.tasksMax"#,
                r#"spec.configFrom."tasks.max": reserved key; name, connector.class and tasks.max come from spec.name, spec.class and spec.tasksMax"#,
                r#"spec.configFrom."topics": also set in spec.config; set it in one place only"#,
            ]
        );
        assert_eq!(source_label("ns", &f["file"]), "Secret ns/s".to_string());
    }
}
