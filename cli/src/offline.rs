//! Kafka Connect without a cluster: a snapshot of a worker's plugins and their config definitions
//! (`cwctl snapshot`), and a [`Validator`] that answers the webhook's validation from it. It checks what the
//! definitions say (types, required keys, recommended values, plugin versions); the webhook's own response
//! code then adds unknown keys with did-you-mean and PASSWORD literals, exactly as for a live answer.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use shared::connect::{
    ConfigDefinition, ConfigInfo, ConfigValue, ConnectClient, PluginInfo, ServerInfo,
    ValidateResponse,
};
use shared::plugin_version::Requirement;
use shared::redact::is_config_reference;
use webhook::admission::{ConnectCheck, ConnectOutcome, Validator};

/// The file format's version.
pub const FORMAT: u32 = 1;

/// What `cwctl snapshot` writes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PluginSnapshot {
    pub format: u32,
    /// When it was taken (RFC 3339).
    pub taken_at: String,
    /// The worker it was taken from.
    pub url: String,
    /// `GET /`: the worker's Kafka Connect version.
    pub connect: ServerInfo,
    pub plugins: Vec<Plugin>,
}

/// One connector plugin and every setting a connector of it reads: its own definitions
/// (`GET /connector-plugins/{class}/config`) and those every connector has (from a validation of an empty
/// config), with the values Connect recommends for each.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Plugin {
    pub class: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Other installed versions of the same class (Connect 4.1+ lists each).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    pub configs: Vec<Setting>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Setting {
    pub definition: ConfigDefinition,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recommended_values: Vec<String>,
}

/// Takes a snapshot of the worker behind `client`. Errors name the request that failed.
pub async fn take(client: &ConnectClient, url: &str) -> Result<PluginSnapshot, shared::Error> {
    let connect = client.server_info().await?;
    let listed: Vec<PluginInfo> = client.plugins(true).await?;
    let mut by_class: BTreeMap<String, Plugin> = BTreeMap::new();
    for p in listed {
        if p.kind != "source" && p.kind != "sink" {
            continue;
        }
        if let Some(existing) = by_class.get_mut(&p.class) {
            existing.versions.extend(p.version);
            continue;
        }
        by_class.insert(
            p.class.clone(),
            Plugin {
                class: p.class,
                kind: p.kind,
                versions: p.version.iter().cloned().collect(),
                version: p.version,
                configs: Vec::new(),
            },
        );
    }
    for plugin in by_class.values_mut() {
        let own = client.plugin_config(&plugin.class).await?;
        // Validating a config that holds nothing but the class lists every setting, the common ones too, with
        // Connect's recommended values. Its errors (missing required keys) do not matter here.
        let minimal = BTreeMap::from([
            ("connector.class".to_string(), plugin.class.clone()),
            ("name".to_string(), "cwctl-snapshot".to_string()),
        ]);
        let validated = client.validate(&plugin.class, &minimal).await?;
        let mut settings: BTreeMap<String, Setting> = validated
            .configs
            .into_iter()
            .map(|c| {
                (
                    c.definition.name.clone(),
                    Setting {
                        definition: c.definition,
                        recommended_values: c.value.recommended_values,
                    },
                )
            })
            .collect();
        for d in own {
            settings.entry(d.name.clone()).or_insert(Setting {
                definition: d,
                recommended_values: Vec::new(),
            });
        }
        plugin.configs = settings.into_values().collect();
        plugin.versions.sort();
        plugin.versions.dedup();
    }
    Ok(PluginSnapshot {
        format: FORMAT,
        taken_at: format!("{:.0}", jiff::Timestamp::now()),
        url: url.to_string(),
        connect,
        plugins: by_class.into_values().collect(),
    })
}

/// Reads a snapshot file.
pub fn load(path: &str) -> Result<PluginSnapshot, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("--plugins {path}: {e}"))?;
    let s: PluginSnapshot = serde_json::from_str(&text).map_err(|e| {
        format!("--plugins {path}: not a snapshot written by `cwctl snapshot`: {e}")
    })?;
    if s.format != FORMAT {
        return Err(format!(
            "--plugins {path}: snapshot format {} is not supported (this cwctl reads format {FORMAT}); take it again with `cwctl snapshot`",
            s.format
        ));
    }
    Ok(s)
}

impl PluginSnapshot {
    /// The plugin `class` names: a full class name, or an alias as Connect accepts it (the simple name, with or
    /// without `Connector`).
    pub fn plugin(&self, class: &str) -> Option<&Plugin> {
        let class = class.trim();
        self.plugins.iter().find(|p| p.class == class).or_else(|| {
            self.plugins.iter().find(|p| {
                let simple = p.class.rsplit('.').next().unwrap_or(&p.class);
                simple == class || simple.strip_suffix("Connector") == Some(class)
            })
        })
    }

    pub fn connector_classes(&self) -> Vec<String> {
        self.plugins.iter().map(|p| p.class.clone()).collect()
    }
}

/// What the offline validation cannot know: said in every offline run.
pub const NOT_CHECKED_OFFLINE: &str = "not checked offline (they need a live Kafka Connect cluster, `--connect-url` or `--cluster`): the connector's own validation (connector-specific validators, e.g. reaching its database), Connect's validators on values (ranges, patterns, class names that must load), settings whose definitions depend on other values, and `${provider:…}` references, which only the worker can resolve";

/// The error Connect gives for a value its type does not accept, or `None` when it parses.
fn type_error(kind: &str, key: &str, value: &str) -> Option<String> {
    let v = value.trim();
    let ok = match kind.to_ascii_uppercase().as_str() {
        "INT" => v.parse::<i32>().is_ok(),
        "SHORT" => v.parse::<i16>().is_ok(),
        "LONG" => v.parse::<i64>().is_ok(),
        "DOUBLE" => v.parse::<f64>().is_ok(),
        "BOOLEAN" => {
            if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false") {
                return None;
            }
            return Some(format!(
                "Invalid value {value} for configuration {key}: Expected value to be either true or false"
            ));
        }
        _ => true,
    };
    (!ok).then(|| {
        format!(
            "Invalid value {value} for configuration {key}: Not a number of type {}",
            kind.to_ascii_uppercase()
        )
    })
}

/// Whether `value` is the recommended value `r`; a class may also be named by its alias (its simple name,
/// with or without the plugin kind's suffix), as Connect accepts.
fn recommended(kind: &str, r: &str, value: &str) -> bool {
    if r == value {
        return true;
    }
    if !kind.eq_ignore_ascii_case("CLASS") {
        return false;
    }
    let simple = r.rsplit('.').next().unwrap_or(r);
    simple == value
        || ["Converter", "Connector", "Transformation", "Predicate"]
            .iter()
            .any(|s| simple.strip_suffix(s) == Some(value))
}

/// The validation Connect would answer for `config` as far as `plugin`'s definitions tell, plus the number
/// of values not checked because they are `${provider:…}` references.
pub fn validate_offline(plugin: &Plugin, config: &BTreeMap<String, String>) -> ValidateResponse {
    let mut configs = Vec::new();
    let mut error_count = 0;
    let mut groups = BTreeSet::new();
    for s in &plugin.configs {
        let d = &s.definition;
        if let Some(g) = &d.group {
            groups.insert(g.clone());
        }
        let given = config.get(&d.name);
        let mut errors = Vec::new();
        match given {
            None if d.required && d.default_value.is_none() => errors.push(format!(
                "Missing required configuration \"{}\" which has no default value.",
                d.name
            )),
            Some(v) if !is_config_reference(v) && !d.kind.eq_ignore_ascii_case("PASSWORD") => {
                if v.trim().is_empty() && d.required && d.default_value.is_none() {
                    errors.push(format!(
                        "Missing required configuration \"{}\" which has no default value.",
                        d.name
                    ));
                } else if let Some(e) = type_error(&d.kind, &d.name, v) {
                    errors.push(e);
                } else if !s.recommended_values.is_empty()
                    && !d.kind.eq_ignore_ascii_case("LIST")
                    // Plugin versions may be ranges: checked below against the installed versions.
                    && !d.name.ends_with("plugin.version")
                    && !s.recommended_values.iter().any(|r| recommended(&d.kind, r, v.trim()))
                {
                    errors.push(format!(
                        "Invalid value {v} for configuration {}: must be one of {}",
                        d.name,
                        s.recommended_values.join(", ")
                    ));
                }
            }
            _ => {}
        }
        error_count += errors.len() as u32;
        configs.push(ConfigInfo {
            definition: d.clone(),
            value: ConfigValue {
                name: d.name.clone(),
                value: given.cloned().or_else(|| d.default_value.clone()),
                recommended_values: s.recommended_values.clone(),
                errors,
                visible: true,
            },
        });
    }
    if let Some(wanted) = config.get(shared::config::RESERVED_PLUGIN_VERSION) {
        let error = match Requirement::parse(wanted) {
            Err(e) => Some(format!(
                "Invalid value {wanted} for configuration connector.plugin.version: {e}"
            )),
            Ok(req) => {
                let installed: Vec<&str> = plugin.versions.iter().map(String::as_str).collect();
                req.pick(&installed).is_none().then(|| {
                    format!(
                        "no installed version of {} matches {wanted:?}; installed: {}",
                        plugin.class,
                        if installed.is_empty() {
                            "(none reported)".to_string()
                        } else {
                            installed.join(", ")
                        }
                    )
                })
            }
        };
        if let Some(e) = error {
            error_count += 1;
            configs.push(ConfigInfo {
                definition: ConfigDefinition {
                    name: shared::config::RESERVED_PLUGIN_VERSION.into(),
                    kind: "STRING".into(),
                    required: false,
                    default_value: None,
                    importance: None,
                    documentation: None,
                    group: None,
                    order: None,
                    width: None,
                    display_name: None,
                    dependents: Vec::new(),
                },
                value: ConfigValue {
                    name: shared::config::RESERVED_PLUGIN_VERSION.into(),
                    value: Some(wanted.clone()),
                    recommended_values: Vec::new(),
                    errors: vec![e],
                    visible: true,
                },
            });
        }
    }
    ValidateResponse {
        name: plugin.class.clone(),
        error_count,
        groups: groups.into_iter().collect(),
        configs,
    }
}

/// The webhook's Kafka Connect seam answered from a snapshot.
pub struct OfflineValidator {
    pub snapshot: PluginSnapshot,
}

impl Validator for OfflineValidator {
    async fn validate(&self, check: &Arc<ConnectCheck>) -> Arc<ConnectOutcome> {
        Arc::new(match self.snapshot.plugin(&check.class) {
            None => ConnectOutcome::UnknownClass {
                installed: self.snapshot.connector_classes(),
            },
            Some(p) => ConnectOutcome::Validated(validate_offline(p, &check.config)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(name: &str, kind: &str, required: bool, default: Option<&str>) -> Setting {
        Setting {
            definition: ConfigDefinition {
                name: name.into(),
                kind: kind.into(),
                required,
                default_value: default.map(str::to_string),
                importance: None,
                documentation: None,
                group: Some("Common".into()),
                order: None,
                width: None,
                display_name: None,
                dependents: Vec::new(),
            },
            recommended_values: Vec::new(),
        }
    }

    fn plugin() -> Plugin {
        let mut mode = def("mode", "STRING", false, Some("bulk"));
        mode.recommended_values = vec!["bulk".into(), "incrementing".into()];
        Plugin {
            class: "org.example.JdbcSourceConnector".into(),
            kind: "source".into(),
            version: Some("2.1.0".into()),
            versions: vec!["1.0.0".into(), "2.1.0".into()],
            configs: vec![
                def("file", "STRING", true, None),
                def("batch.size", "INT", false, Some("2000")),
                def("flag", "BOOLEAN", false, Some("false")),
                def("password", "PASSWORD", false, None),
                mode,
            ],
        }
    }

    fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn types_required_keys_and_recommended_values_give_connects_errors() {
        let v = validate_offline(
            &plugin(),
            &config(&[("batch.size", "lots"), ("flag", "yes"), ("mode", "bulky")]),
        );
        assert_eq!(v.error_count, 4);
        assert_eq!(
            v.errors(),
            vec![
                (
                    "file".to_string(),
                    "Missing required configuration \"file\" which has no default value.".to_string()
                ),
                (
                    "batch.size".to_string(),
                    "Invalid value lots for configuration batch.size: Not a number of type INT"
                        .to_string()
                ),
                (
                    "flag".to_string(),
                    "Invalid value yes for configuration flag: Expected value to be either true or false"
                        .to_string()
                ),
                (
                    "mode".to_string(),
                    "Invalid value bulky for configuration mode: must be one of bulk, incrementing"
                        .to_string()
                ),
            ]
        );
        assert_eq!(v.password_keys(), BTreeSet::from(["password".to_string()]));
    }

    #[test]
    fn a_class_may_be_named_by_its_alias() {
        let r = "org.apache.kafka.connect.json.JsonConverter";
        for v in [r, "JsonConverter", "Json"] {
            assert!(recommended("CLASS", r, v), "{v}");
        }
        assert!(!recommended("CLASS", r, "Jso"));
        assert!(!recommended("STRING", "bulk", "Bulk"));
    }

    #[test]
    fn references_and_good_values_pass() {
        let v = validate_offline(
            &plugin(),
            &config(&[
                ("file", "${file:/x:y}"),
                ("batch.size", " 10 "),
                ("flag", "TRUE"),
                ("password", "whatever"),
            ]),
        );
        assert_eq!(v.error_count, 0, "{:?}", v.errors());
    }

    #[test]
    fn plugin_versions_are_checked_against_the_installed_ones() {
        let ok = validate_offline(
            &plugin(),
            &config(&[("file", "f"), ("connector.plugin.version", "[2.0,3.0)")]),
        );
        assert_eq!(ok.error_count, 0);
        let bad = validate_offline(
            &plugin(),
            &config(&[("file", "f"), ("connector.plugin.version", "3.0.0")]),
        );
        assert_eq!(
            bad.errors(),
            vec![(
                "connector.plugin.version".to_string(),
                "no installed version of org.example.JdbcSourceConnector matches \"3.0.0\"; installed: 1.0.0, 2.1.0".to_string()
            )]
        );
    }

    #[test]
    fn aliases_find_the_plugin() {
        let s = PluginSnapshot {
            format: FORMAT,
            taken_at: String::new(),
            url: String::new(),
            connect: ServerInfo {
                version: "4.1.0".into(),
                commit: None,
                kafka_cluster_id: None,
            },
            plugins: vec![plugin()],
        };
        for alias in [
            "org.example.JdbcSourceConnector",
            "JdbcSourceConnector",
            "JdbcSource",
        ] {
            assert!(s.plugin(alias).is_some(), "{alias}");
        }
        assert!(s.plugin("Jdbc").is_none());
    }
}
