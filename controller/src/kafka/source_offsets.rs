//! When each source connector last committed a source offset, from the records of a Connect cluster's
//! offsets topic (`offset.storage.topic`). Connect writes each commit as a record whose key is the JSON
//! array `["<connector>", {<source partition>}]` and whose value is the offset (null once reset), at the
//! time of the commit. Pure: the records come from [`super::KafkaClient::fetch`].

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserializer;
use serde::de::{self, IgnoredAny, SeqAccess, Visitor};

use super::records::FetchedRecord;

/// What a pass over the offsets records found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Commits {
    /// The latest commit time (ms since the epoch) by connector name.
    pub(crate) latest: BTreeMap<String, i64>,
    /// Deletions (offsets reset), which are not commits.
    pub(crate) tombstones: usize,
    /// Records whose key is not a JSON array starting with a string (written by something else than
    /// Connect).
    pub(crate) malformed: usize,
}

/// The latest commit time of each connector in `records`; tombstones and malformed keys are left out
/// ([`read_commits`] counts them).
pub(crate) fn latest_commits(records: &[FetchedRecord]) -> BTreeMap<String, i64> {
    read_commits(records).latest
}

/// [`latest_commits`], with what was left out counted.
pub(crate) fn read_commits(records: &[FetchedRecord]) -> Commits {
    let mut out = Commits::default();
    for r in records {
        if r.tombstone {
            out.tombstones += 1;
            continue;
        }
        let Some(name) = r.key.as_deref().and_then(connector_name) else {
            out.malformed += 1;
            continue;
        };
        out.latest
            .entry(name)
            .and_modify(|t| *t = (*t).max(r.timestamp_ms))
            .or_insert(r.timestamp_ms);
    }
    out
}

/// The connector a key names: the first element of its JSON array, the rest skipped unread.
fn connector_name(key: &[u8]) -> Option<String> {
    let mut de = serde_json::Deserializer::from_slice(key);
    let name = (&mut de).deserialize_seq(FirstString).ok()?;
    de.end().ok()?;
    Some(name)
}

struct FirstString;

impl<'de> Visitor<'de> for FirstString {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array starting with a connector name")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<String, A::Error> {
        let name: String = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn record(offset: i64, timestamp_ms: i64, key: Option<&str>, tombstone: bool) -> FetchedRecord {
        FetchedRecord {
            offset,
            timestamp_ms,
            key: key.map(|k| Bytes::copy_from_slice(k.as_bytes())),
            tombstone,
        }
    }

    #[test]
    fn the_latest_commit_of_each_connector_is_kept() {
        let records = [
            record(
                0,
                1_000,
                Some(r#"["jdbc-orders",{"table":"orders"}]"#),
                false,
            ),
            record(
                1,
                5_000,
                Some(r#"["file-src",{"filename":"/tmp/x"}]"#),
                false,
            ),
            record(
                2,
                3_000,
                Some(r#"["jdbc-orders",{"table":"customers"}]"#),
                false,
            ),
            // Written late but with an older timestamp: the time, not the offset, decides.
            record(
                3,
                2_000,
                Some(r#"["jdbc-orders",{"table":"orders"}]"#),
                false,
            ),
            // Whitespace and unicode as any JSON writer may produce them.
            record(4, 4_000, Some(" [ \"caf\\u00e9\" , {} ] "), false),
        ];
        let commits = read_commits(&records);
        assert_eq!(
            commits.latest,
            BTreeMap::from([
                ("café".to_string(), 4_000),
                ("file-src".to_string(), 5_000),
                ("jdbc-orders".to_string(), 3_000),
            ])
        );
        assert_eq!((commits.tombstones, commits.malformed), (0, 0));
        assert_eq!(latest_commits(&records), commits.latest);
    }

    #[test]
    fn tombstones_and_malformed_keys_are_counted_not_kept() {
        let records = [
            record(
                0,
                1_000,
                Some(r#"["file-src",{"filename":"/tmp/x"}]"#),
                false,
            ),
            // An offsets reset: the latest commit stays the one before.
            record(
                1,
                9_000,
                Some(r#"["file-src",{"filename":"/tmp/x"}]"#),
                true,
            ),
            record(2, 9_000, Some(r#"{"connector":"x"}"#), false),
            record(3, 9_000, Some(r#"[42,{}]"#), false),
            record(4, 9_000, Some("[]"), false),
            record(5, 9_000, Some(r#"["trailing"] junk"#), false),
            record(6, 9_000, Some(r#"["unclosed",{"#), false),
            record(7, 9_000, Some("\u{0}\u{1}binary"), false),
            record(8, 9_000, None, false),
        ];
        let commits = read_commits(&records);
        assert_eq!(
            commits.latest,
            BTreeMap::from([("file-src".to_string(), 1_000)])
        );
        assert_eq!(commits.tombstones, 1);
        assert_eq!(commits.malformed, 7);
        assert_eq!(read_commits(&[]), Commits::default());
    }
}
