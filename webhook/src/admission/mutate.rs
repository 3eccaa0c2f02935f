//! `/mutate`: numbers and booleans in `spec.config` become strings and reserved keys move to their spec
//! fields, both as a JSON patch with a warning. Numbers that may have been rounded on the way are denied:
//! storing a changed value silently is worse. Everything else is left for `/validate` to judge, so one bad
//! value never hides another.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, PatchOperation, RemoveOperation, ReplaceOperation};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::decision::{Decision, Reason};
use super::exempt::exempt;
use super::request::{Kind, Request, kind};
use super::reserved::{RESERVED, ReservedCheck, check_reserved, scalar_string};
use super::text::{MAX_KEYS_IN_WARNING, cut, limit_lines};

/// The patch and warnings for a KafkaConnector under review. `body` is the review as received, for the
/// numbers' exact text.
pub(crate) fn mutate(req: &Request, body: &[u8]) -> Decision {
    if kind(req) != Some(Kind::Connector) {
        return Decision::allow(Reason::NotApplicable);
    }
    if let Some(d) = exempt(req) {
        return d;
    }
    let Some(spec) = req
        .object
        .as_ref()
        .and_then(|o| o.data.get("spec"))
        .and_then(Value::as_object)
    else {
        return Decision::allow(Reason::Valid);
    };
    let Some(config) = spec.get("config").and_then(Value::as_object) else {
        return Decision::allow(Reason::Valid);
    };

    let inexact = if config.values().any(Value::is_number) {
        inexact_numbers(config, &config_number_texts(body))
    } else {
        Vec::new()
    };
    if !inexact.is_empty() {
        return Decision::deny(Reason::InvalidConfig, inexact);
    }

    let mut patch = Vec::new();
    let mut warnings = Vec::new();
    if let Err(conflicts) = move_reserved_keys(spec, config, &mut patch, &mut warnings) {
        return Decision::deny(Reason::ReservedKeyConflict, conflicts);
    }
    let converted = stringify_scalars(config, &mut patch);
    if !converted.is_empty() {
        warnings.push(conversion_warning(&converted));
    }
    let reason = if patch.is_empty() {
        Reason::Valid
    } else {
        Reason::Mutated
    };
    Decision {
        patch,
        ..Decision::allow(reason)
    }
    .with_warnings(warnings)
}

fn pointer(tokens: &[&str]) -> PointerBuf {
    PointerBuf::from_tokens(tokens.iter().copied())
}

/// Moves each reserved key to its empty spec field, or drops it where the field says the same. The lines of
/// the conflicts, when any.
fn move_reserved_keys(
    spec: &Map<String, Value>,
    config: &Map<String, Value>,
    patch: &mut Vec<PatchOperation>,
    warnings: &mut Vec<String>,
) -> Result<(), Vec<String>> {
    let mut conflicts = Vec::new();
    for r in &RESERVED {
        let Some(value) = config.get(r.key) else {
            continue;
        };
        let remove = PatchOperation::Remove(RemoveOperation {
            path: pointer(&["spec", "config", r.key]),
        });
        match check_reserved(r, value, spec) {
            ReservedCheck::Move(v) => {
                warnings.push(format!(
                    "spec.config.{:?} moved to spec.{} ({}): it belongs in the spec field; move it there in Git too",
                    r.key,
                    r.field,
                    cut(&scalar_string(&v).unwrap_or_default())
                ));
                patch.push(PatchOperation::Add(AddOperation {
                    path: pointer(&["spec", r.field]),
                    value: v,
                }));
                patch.push(remove);
            }
            ReservedCheck::Duplicate => {
                warnings.push(format!(
                    "spec.config.{:?} removed: it repeats spec.{}; remove it in Git too",
                    r.key, r.field
                ));
                patch.push(remove);
            }
            ReservedCheck::Conflict(line) => conflicts.push(line),
        }
    }
    if conflicts.is_empty() {
        Ok(())
    } else {
        Err(conflicts)
    }
}

/// Replaces each number and boolean (other than reserved keys) by its string; returns (key, value, string)
/// of each.
fn stringify_scalars<'a>(
    config: &'a Map<String, Value>,
    patch: &mut Vec<PatchOperation>,
) -> Vec<(&'a str, &'a Value, String)> {
    let mut converted = Vec::new();
    for (k, v) in config {
        if RESERVED.iter().any(|r| r.key == k) {
            continue;
        }
        if let (Value::Number(_) | Value::Bool(_), Some(s)) = (v, scalar_string(v)) {
            patch.push(PatchOperation::Replace(ReplaceOperation {
                path: pointer(&["spec", "config", k]),
                value: Value::String(s.clone()),
            }));
            converted.push((k.as_str(), v, s));
        }
    }
    converted
}

/// One warning naming each converted key with its value before and after: YAML `1.50` arrives as 1.5, and the
/// user should see that.
fn conversion_warning(converted: &[(&str, &Value, String)]) -> String {
    let mut w = String::from("spec.config: numbers and booleans converted to strings: ");
    for (i, (k, v, s)) in converted.iter().take(MAX_KEYS_IN_WARNING).enumerate() {
        if i > 0 {
            w.push_str(", ");
        }
        let _ = write!(w, "{}: {} → {:?}", cut(k), cut(&v.to_string()), cut(s));
    }
    if converted.len() > MAX_KEYS_IN_WARNING {
        let _ = write!(w, " and {} more", converted.len() - MAX_KEYS_IN_WARNING);
    }
    let (k, _, s) = &converted[0];
    let _ = write!(
        w,
        "; quote them in Git (e.g. {}: {:?}) so GitOps diffs stay clean",
        cut(k),
        cut(s)
    );
    w
}

/// The text of each number in `spec.config` of the review's object, exactly as it was sent. Decoding into a
/// `Value` keeps only an f64 or a 64-bit integer, which is the very loss the number check looks for; the raw
/// text is read in a second, narrow pass. Anything unexpected gives an empty map (the `Value` then speaks).
fn config_number_texts(body: &[u8]) -> BTreeMap<String, String> {
    #[derive(Deserialize)]
    struct Review<'a> {
        #[serde(borrow)]
        request: Option<Req<'a>>,
    }
    #[derive(Deserialize)]
    struct Req<'a> {
        #[serde(borrow)]
        object: Option<Obj<'a>>,
    }
    #[derive(Deserialize)]
    struct Obj<'a> {
        #[serde(borrow)]
        spec: Option<Spec<'a>>,
    }
    #[derive(Deserialize)]
    struct Spec<'a> {
        #[serde(borrow)]
        config: Option<BTreeMap<String, &'a RawValue>>,
    }
    let Ok(review) = serde_json::from_slice::<Review>(body) else {
        return BTreeMap::new();
    };
    review
        .request
        .and_then(|r| r.object)
        .and_then(|o| o.spec)
        .and_then(|s| s.config)
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, v)| {
            let t = v.get();
            t.starts_with(|c: char| c == '-' || c.is_ascii_digit())
        })
        .map(|(k, v)| (k, v.get().to_string()))
        .collect()
}

/// One denial line per number in `config` that cannot have been decoded exactly (`texts`: the numbers as
/// sent, from [`config_number_texts`]; a number missing there is judged by its decoded form).
fn inexact_numbers(config: &Map<String, Value>, texts: &BTreeMap<String, String>) -> Vec<String> {
    let mut lines = Vec::new();
    for (k, v) in config {
        let Value::Number(n) = v else {
            continue;
        };
        let text = texts.get(k).cloned().unwrap_or_else(|| n.to_string());
        if let Some(why) = shared::config::inexact_number(&text) {
            lines.push(format!(
                "spec.config.{:?}: the number arrived as {} and cannot be stored exactly ({why}); quote it in Git so it is kept as written",
                cut(k),
                cut(&text)
            ));
        }
    }
    limit_lines(&mut lines, "numbers");
    lines
}
