//! Kafka Connect's offsets document (`{"offsets":[{"partition":{…},"offset":{…}}]}`, as `GET
//! /connectors/{name}/offsets` answers and `PATCH` takes, and as Strimzi stores it under `offsets.json`),
//! checked before anything is sent: the webhook denies a malformed one at admission, the controller refuses it
//! before it stops a connector for it.

use serde_json::Value;

use crate::connect::{Offsets, PartitionOffset};

/// Largest `offsets.json` accepted. A ConfigMap holds at most 1 MiB; a document this large already names
/// thousands of partitions.
pub const MAX_DOCUMENT_BYTES: usize = 512 * 1024;
/// Most partitions one document may name.
pub const MAX_PARTITIONS: usize = 10_000;

/// Parses and checks an offsets document: a JSON object with exactly the key `offsets`, a list whose
/// entries have exactly `partition` (a non-empty object) and `offset` (an object, or `null` to reset that
/// partition). The error is one line saying what is wrong and where.
pub fn parse(text: &str) -> Result<Offsets, String> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(format!(
            "offsets.json is {} bytes; at most {} KiB is accepted",
            text.len(),
            MAX_DOCUMENT_BYTES / 1024
        ));
    }
    let doc: Value =
        serde_json::from_str(text).map_err(|e| format!("offsets.json is not valid JSON: {e}"))?;
    let Value::Object(top) = doc else {
        return Err(format!(
            "offsets.json must be an object {{\"offsets\": [...]}}, not {}",
            crate::config::json_type(&doc)
        ));
    };
    if let Some(k) = top.keys().find(|k| *k != "offsets") {
        return Err(format!(
            "offsets.json: unknown key {k:?}; the document is {{\"offsets\": [{{\"partition\": {{…}}, \"offset\": {{…}}}}]}}"
        ));
    }
    let Some(list) = top.get("offsets") else {
        return Err("offsets.json: the key \"offsets\" is missing".into());
    };
    let Value::Array(list) = list else {
        return Err(format!(
            "offsets.json: \"offsets\" must be a list, not {}",
            crate::config::json_type(list)
        ));
    };
    if list.len() > MAX_PARTITIONS {
        return Err(format!(
            "offsets.json names {} partitions; at most {MAX_PARTITIONS} are accepted",
            list.len()
        ));
    }
    let mut out = Vec::with_capacity(list.len());
    for (i, e) in list.iter().enumerate() {
        let Value::Object(entry) = e else {
            return Err(format!(
                "offsets.json: offsets[{i}] must be an object with \"partition\" and \"offset\", not {}",
                crate::config::json_type(e)
            ));
        };
        if let Some(k) = entry.keys().find(|k| *k != "partition" && *k != "offset") {
            return Err(format!(
                "offsets.json: offsets[{i}] has unknown key {k:?} (only \"partition\" and \"offset\")"
            ));
        }
        let partition = match entry.get("partition") {
            Some(Value::Object(p)) if !p.is_empty() => Value::Object(p.clone()),
            Some(Value::Object(_)) => {
                return Err(format!("offsets.json: offsets[{i}].partition is empty"));
            }
            Some(other) => {
                return Err(format!(
                    "offsets.json: offsets[{i}].partition must be an object, not {}",
                    crate::config::json_type(other)
                ));
            }
            None => return Err(format!("offsets.json: offsets[{i}] has no \"partition\"")),
        };
        let offset = match entry.get("offset") {
            Some(Value::Object(o)) => Some(Value::Object(o.clone())),
            Some(Value::Null) => None,
            Some(other) => {
                return Err(format!(
                    "offsets.json: offsets[{i}].offset must be an object (or null to reset the partition), not {}",
                    crate::config::json_type(other)
                ));
            }
            None => {
                return Err(format!(
                    "offsets.json: offsets[{i}] has no \"offset\" (use null to reset the partition)"
                ));
            }
        };
        out.push(PartitionOffset { partition, offset });
    }
    if out.is_empty() {
        return Err("offsets.json: \"offsets\" is empty: nothing to alter (use the reset operation to clear all offsets)".into());
    }
    Ok(Offsets { offsets: out })
}

/// The document as written to a ConfigMap: Connect's JSON, indented for people.
pub fn render(offsets: &Offsets) -> String {
    serde_json::to_string_pretty(offsets).unwrap_or_else(|_| "{\"offsets\":[]}".into())
}

/// "1 partition", "3 partitions".
pub fn partitions(n: usize) -> String {
    if n == 1 {
        "1 partition".into()
    } else {
        format!("{n} partitions")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn connects_own_format_round_trips() {
        let text = r#"{"offsets":[{"partition":{"filename":"/data/in.txt"},"offset":{"position":42}},
            {"partition":{"kafka_topic":"t","kafka_partition":0},"offset":null}]}"#;
        let o = parse(text).unwrap();
        assert_eq!(o.offsets.len(), 2);
        assert_eq!(o.offsets[0].offset, Some(json!({"position": 42})));
        assert_eq!(o.offsets[1].offset, None);
        assert_eq!(parse(&render(&o)).unwrap(), o);
        // null offsets are written as null, as Connect takes them
        assert!(render(&o).contains("\"offset\": null"));
    }

    #[test]
    fn malformed_documents_say_what_is_wrong() {
        let cases = [
            (
                "{",
                "offsets.json is not valid JSON: EOF while parsing an object at line 1 column 1",
            ),
            (
                "[]",
                "offsets.json must be an object {\"offsets\": [...]}, not list",
            ),
            ("{}", "offsets.json: the key \"offsets\" is missing"),
            (
                r#"{"offsets":{}}"#,
                "offsets.json: \"offsets\" must be a list, not object",
            ),
            (
                r#"{"offsets":[],"x":1}"#,
                "offsets.json: unknown key \"x\"; the document is {\"offsets\": [{\"partition\": {…}, \"offset\": {…}}]}",
            ),
            (
                r#"{"offsets":[1]}"#,
                "offsets.json: offsets[0] must be an object with \"partition\" and \"offset\", not number",
            ),
            (
                r#"{"offsets":[{"offset":{}}]}"#,
                "offsets.json: offsets[0] has no \"partition\"",
            ),
            (
                r#"{"offsets":[{"partition":{},"offset":{}}]}"#,
                "offsets.json: offsets[0].partition is empty",
            ),
            (
                r#"{"offsets":[{"partition":"p","offset":{}}]}"#,
                "offsets.json: offsets[0].partition must be an object, not string",
            ),
            (
                r#"{"offsets":[{"partition":{"a":1}}]}"#,
                "offsets.json: offsets[0] has no \"offset\" (use null to reset the partition)",
            ),
            (
                r#"{"offsets":[{"partition":{"a":1},"offset":5}]}"#,
                "offsets.json: offsets[0].offset must be an object (or null to reset the partition), not number",
            ),
            (
                r#"{"offsets":[{"partition":{"a":1},"offset":{},"extra":1}]}"#,
                "offsets.json: offsets[0] has unknown key \"extra\" (only \"partition\" and \"offset\")",
            ),
            (
                r#"{"offsets":[]}"#,
                "offsets.json: \"offsets\" is empty: nothing to alter (use the reset operation to clear all offsets)",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).unwrap_err(), want, "{text}");
        }
    }

    #[test]
    fn bounds() {
        let big = format!(
            "{{\"offsets\":[{{\"partition\":{{\"a\":\"{}\"}},\"offset\":null}}]}}",
            "x".repeat(MAX_DOCUMENT_BYTES)
        );
        assert!(
            parse(&big)
                .unwrap_err()
                .ends_with("bytes; at most 512 KiB is accepted")
        );
        let many: Vec<_> = (0..=MAX_PARTITIONS)
            .map(|i| json!({"partition": {"p": i}, "offset": null}))
            .collect();
        let text = json!({ "offsets": many }).to_string();
        assert_eq!(
            parse(&text).unwrap_err(),
            "offsets.json names 10001 partitions; at most 10000 are accepted"
        );
        assert_eq!(partitions(1), "1 partition");
        assert_eq!(partitions(0), "0 partitions");
    }
}
