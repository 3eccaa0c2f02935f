//! Config rules shared by the webhook and the controller: string coercion, reserved keys,
//! connector-name rules, the keys Connect passes through, and did-you-mean suggestions.

use std::collections::BTreeMap;

use serde_json::Value;

/// Keys that belong in spec fields, not in `spec.config`.
pub const RESERVED_NAME: &str = "name";
pub const RESERVED_CLASS: &str = "connector.class";
pub const RESERVED_TASKS_MAX: &str = "tasks.max";
/// `spec.version` (Kafka Connect 4.1+).
pub const RESERVED_PLUGIN_VERSION: &str = "connector.plugin.version";

/// Prefixes Connect passes on to converters, transforms, clients, …: never typo suspects.
pub const PASS_THROUGH_PREFIXES: &[&str] = &[
    "transforms.",
    "predicates.",
    "key.converter.",
    "value.converter.",
    "header.converter.",
    "errors.",
    "producer.override.",
    "consumer.override.",
    "admin.override.",
    "topic.creation.",
];

/// Longest connector name accepted (Connect uses it in topic-record keys and URLs).
pub const MAX_CONNECTOR_NAME: usize = 249;

/// The JSON type of a value, as users know it from YAML.
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

/// What the mutating webhook does with a config.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Coercion {
    /// Numbers and booleans with their string form, in key order.
    pub converted: Vec<(String, String)>,
    /// Values that cannot be strings: (key, JSON type).
    pub invalid: Vec<(String, &'static str)>,
}

/// Numbers and booleans become strings (`1.50` in YAML arrives as 1.5 and becomes "1.5"); objects, lists and
/// nulls cannot be config values.
pub fn coerce(config: &BTreeMap<String, Value>) -> Coercion {
    let mut c = Coercion::default();
    for (k, v) in config {
        match v {
            Value::String(_) => {}
            Value::Number(n) => c.converted.push((k.clone(), n.to_string())),
            Value::Bool(b) => c.converted.push((k.clone(), b.to_string())),
            other => c.invalid.push((k.clone(), json_type(other))),
        }
    }
    c
}

/// Why the JSON number `text` cannot be trusted to hold what was written, if it cannot. JSON decoders (kubectl,
/// the API server) keep 64-bit integers and 64-bit floats: an integer beyond the signed 64-bit range becomes a
/// float (12345678901234567890 arrives as 12345678901234567000, larger ones as 1.2345678901234568e+23), and a
/// decimal keeps about 15 significant digits (0.12345678901234567890 arrives as 0.12345678901234568). The
/// original text is gone by then, so the signs are judged: an integer outside i64, a float that is a whole
/// number beyond 2^53 (only rounding makes one), or more than 15 significant digits (DBL_DIG: up to 15 always
/// survive a float unchanged; beyond that there is no telling).
pub fn inexact_number(text: &str) -> Option<&'static str> {
    let t = text.trim();
    let is_integer = !t.contains(['.', 'e', 'E']);
    if is_integer {
        return match t.parse::<i64>() {
            Ok(_) => None,
            Err(_) => Some(
                "an integer beyond the signed 64-bit range, which JSON decoding turns into a rounded float",
            ),
        };
    }
    let Ok(v) = t.parse::<f64>() else {
        return Some("not a number a 64-bit float can hold");
    };
    if !v.is_finite() {
        return Some("beyond the range of a 64-bit float");
    }
    if v.fract() == 0.0 && v.abs() >= 9_007_199_254_740_992.0 {
        return Some("a whole number beyond 2^53 as a float: JSON decoding has rounded it");
    }
    if significant_digits(t).len() > 15 {
        return Some("more than 15 significant digits, which a 64-bit float does not keep exactly");
    }
    None
}

/// The significant digits of a number's text: no sign, point, exponent, leading or trailing zeros.
fn significant_digits(text: &str) -> String {
    let mantissa = text.split(['e', 'E']).next().unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    digits
        .trim_start_matches('0')
        .trim_end_matches('0')
        .to_string()
}

/// The config as strings, or the keys whose values are not strings (the controller's defence when the
/// webhook was bypassed).
pub fn string_config(
    config: &BTreeMap<String, Value>,
) -> Result<BTreeMap<String, String>, Vec<(String, &'static str)>> {
    let mut out = BTreeMap::new();
    let mut bad = Vec::new();
    for (k, v) in config {
        match v {
            Value::String(s) => {
                out.insert(k.clone(), s.clone());
            }
            other => bad.push((k.clone(), json_type(other))),
        }
    }
    if bad.is_empty() { Ok(out) } else { Err(bad) }
}

/// One line per non-string value: "spec.config.\"batch\": must be a string, got object".
pub fn describe_non_strings(bad: &[(String, &'static str)]) -> Vec<String> {
    bad.iter()
        .map(|(k, t)| format!("spec.config.{k:?}: must be a string, got {t}"))
        .collect()
}

/// Why a connector name is unusable, if it is.
pub fn check_connector_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("connector name must not be empty".into());
    }
    if name.chars().count() > MAX_CONNECTOR_NAME {
        return Err(format!(
            "connector name is longer than {MAX_CONNECTOR_NAME} characters"
        ));
    }
    if name.contains('/') {
        return Err(format!("connector name {name:?} must not contain '/'"));
    }
    if name.chars().any(char::is_control) {
        return Err(format!(
            "connector name {:?} must not contain control characters",
            name.escape_debug().to_string()
        ));
    }
    if name != name.trim() {
        return Err(format!(
            "connector name {name:?} must not start or end with whitespace"
        ));
    }
    Ok(())
}

/// The flat config with `connector.plugin.version` from `spec.version`, when set.
pub fn with_plugin_version(
    mut config: BTreeMap<String, String>,
    version: Option<&str>,
) -> BTreeMap<String, String> {
    if let Some(v) = version.map(str::trim).filter(|v| !v.is_empty()) {
        config.insert(RESERVED_PLUGIN_VERSION.into(), v.into());
    }
    config
}

/// The flat config Connect receives: the user's config plus `name`, `connector.class` and `tasks.max` from the
/// spec.
pub fn effective_config(
    name: &str,
    class: &str,
    tasks_max: Option<i32>,
    config: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut out = config.clone();
    out.insert(RESERVED_NAME.into(), name.into());
    out.insert(RESERVED_CLASS.into(), class.into());
    if let Some(t) = tasks_max {
        out.insert(RESERVED_TASKS_MAX.into(), t.to_string());
    }
    out
}

/// Prefixes MirrorMaker connectors pass on to the clients of each cluster; Connect does not list them among
/// the connector's settings.
pub const MIRROR_PASS_THROUGH_PREFIXES: &[&str] = &[
    "source.cluster.",
    "target.cluster.",
    "source.consumer.",
    "source.producer.",
    "source.admin.",
    "target.consumer.",
    "target.producer.",
    "target.admin.",
];

/// Whether Connect (or a MirrorMaker connector) passes `key` on rather than reading it itself: such keys are
/// never typo suspects.
pub fn is_pass_through(key: &str) -> bool {
    PASS_THROUGH_PREFIXES
        .iter()
        .chain(MIRROR_PASS_THROUGH_PREFIXES)
        .any(|p| key.starts_with(p))
}

/// The closest candidate to `word`, if one is close enough to be a plausible typo. Compares the characters
/// and also the words (split at `.`, `-`, `_`) in sorted order, so `max.tasks` finds `tasks.max`.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let w = word.to_ascii_lowercase();
    let w_sorted = sorted_words(&w);
    candidates
        .into_iter()
        .map(|c| {
            let lc = c.to_ascii_lowercase();
            let chars = strsim::jaro_winkler(&w, &lc);
            let words = strsim::jaro_winkler(&w_sorted, &sorted_words(&lc));
            (chars.max(words), c)
        })
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// The words of a key in sorted order, joined by `.`: `max.tasks` and `tasks.max` give the same text.
fn sorted_words(key: &str) -> String {
    let mut words: Vec<&str> = key.split(['.', '-', '_']).collect();
    words.sort_unstable();
    words.join(".")
}

/// The closest connector class to an unknown one: compares full names and simple names (`FileStreamSink`).
pub fn closest_class<'a>(
    class: &str,
    installed: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let simple = |c: &str| {
        c.rsplit('.')
            .next()
            .unwrap_or(c)
            .trim_end_matches("Connector")
            .to_ascii_lowercase()
    };
    let want = simple(class);
    installed
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&want, &simple(c)), c))
        .filter(|(score, _)| *score >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn numbers_and_booleans_become_strings() {
        let c = coerce(&map(
            json!({"batch.size": 200, "ratio": 1.50, "errors.log.enable": true, "topic": "t"}),
        ));
        assert_eq!(
            c.converted,
            vec![
                ("batch.size".into(), "200".into()),
                ("errors.log.enable".into(), "true".into()),
                ("ratio".into(), "1.5".into())
            ]
        );
        assert!(c.invalid.is_empty());
    }

    #[test]
    fn objects_lists_nulls_are_invalid() {
        let c = coerce(&map(json!({"a": {"x": 1}, "b": [1], "c": null})));
        assert_eq!(
            c.invalid,
            vec![
                ("a".into(), "object"),
                ("b".into(), "list"),
                ("c".into(), "null")
            ]
        );
        assert_eq!(
            describe_non_strings(&c.invalid)[0],
            "spec.config.\"a\": must be a string, got object"
        );
    }

    #[test]
    fn string_config_refuses_non_strings() {
        assert!(string_config(&map(json!({"a": "1"}))).is_ok());
        assert_eq!(
            string_config(&map(json!({"a": 1}))).unwrap_err(),
            vec![("a".to_string(), "number")]
        );
    }

    #[test]
    fn numbers_that_cannot_have_survived_decoding() {
        // As the API server sends them after decoding 12345678901234567890 into a float.
        assert!(inexact_number("12345678901234567000").is_some());
        assert!(inexact_number("1.2345678901234568e+19").is_some());
        assert!(inexact_number("1.2345678901234568e+21").is_some());
        assert!(inexact_number("18446744073709551615").is_some());
        assert!(inexact_number("-9223372036854775809").is_some());
        assert!(inexact_number("9007199254740993.0").is_some());
        assert!(inexact_number("0.12345678901234567890").is_some());
        assert!(inexact_number("0.12345678901234568").is_some());
        assert!(inexact_number("0.30000000000000004").is_some());
        assert!(inexact_number("1e400").is_some());
        assert_eq!(
            inexact_number("9223372036854775808"),
            Some(
                "an integer beyond the signed 64-bit range, which JSON decoding turns into a rounded float"
            )
        );
        // Exact: every i64, short decimals, trailing zeros, exponents of exact values.
        for ok in [
            "0",
            "-1",
            "200",
            "9223372036854775807",
            "-9223372036854775808",
            "9007199254740993",
            "1.5",
            "1.50",
            "0.1",
            "0.123456789012345",
            "1e-7",
            "1.5E3",
            "4.5e15",
            "-0.0",
        ] {
            assert_eq!(inexact_number(ok), None, "{ok}");
        }
    }

    #[test]
    fn name_rules() {
        assert!(check_connector_name("orders-sink.v2").is_ok());
        assert!(check_connector_name("").is_err());
        assert!(check_connector_name("a/b").is_err());
        assert!(check_connector_name("a\u{7}b").is_err());
        assert!(check_connector_name(" a").is_err());
        assert!(check_connector_name(&"x".repeat(250)).is_err());
        assert!(check_connector_name("ünïcødé-名前").is_ok());
    }

    #[test]
    fn did_you_mean() {
        let keys = ["topics", "file", "batch.size", "topics.regex"];
        assert_eq!(closest("topcis", keys), Some("topics"));
        assert_eq!(closest("fiel", keys), Some("file"));
        assert_eq!(closest("completely.unrelated", keys), None);
        // Word order: the same words, or nearly, in another order.
        let keys = ["tasks.max", "topics", "errors.retry.timeout", "batch.size"];
        assert_eq!(closest("max.tasks", keys), Some("tasks.max"));
        assert_eq!(closest("Max.Tasks", keys), Some("tasks.max"));
        assert_eq!(
            closest("timeout.retry.errors", keys),
            Some("errors.retry.timeout")
        );
        assert_eq!(closest("size.batch", keys), Some("batch.size"));
        assert_eq!(closest("size_batch", keys), Some("batch.size"));
        assert_eq!(closest("max.taks", keys), Some("tasks.max"));
        assert_eq!(closest("max.size.topics", keys), None);
        assert_eq!(
            closest("local-connect", ["connect-local", "prod"]),
            Some("connect-local")
        );
        let classes = [
            "org.apache.kafka.connect.file.FileStreamSinkConnector",
            "org.apache.kafka.connect.file.FileStreamSourceConnector",
            "org.apache.kafka.connect.mirror.MirrorSourceConnector",
        ];
        assert_eq!(closest_class("FileStreamSnk", classes), Some(classes[0]));
        assert_eq!(
            closest_class("org.acme.FileStreamSourceConector", classes),
            Some(classes[1])
        );
    }

    #[test]
    fn effective_config_adds_reserved_keys() {
        let c = effective_config(
            "n",
            "FileStreamSink",
            Some(2),
            &BTreeMap::from([("topics".into(), "t".into())]),
        );
        assert_eq!(c["name"], "n");
        assert_eq!(c["connector.class"], "FileStreamSink");
        assert_eq!(c["tasks.max"], "2");
        assert!(is_pass_through("transforms.route.type"));
        assert!(is_pass_through("source.cluster.bootstrap.servers"));
        assert!(!is_pass_through("topics"));
    }

    proptest::proptest! {
        #[test]
        fn coercion_never_panics_and_partitions(keys in proptest::collection::vec("\\PC{0,12}", 0..20), n in proptest::num::f64::NORMAL) {
            let mut m = BTreeMap::new();
            for (i, k) in keys.iter().enumerate() {
                let v = match i % 5 { 0 => json!(n), 1 => json!(true), 2 => json!("s"), 3 => json!(null), _ => json!([1]) };
                m.insert(k.clone(), v);
            }
            let c = coerce(&m);
            let strings = m.values().filter(|v| v.is_string()).count();
            proptest::prop_assert_eq!(c.converted.len() + c.invalid.len() + strings, m.len());
            let _ = check_connector_name(keys.first().map(String::as_str).unwrap_or(""));
        }
    }
}
