//! Per connector, keyed fingerprints of the values read through `spec.configFrom` as last seen applied on
//! Kafka Connect. In memory only: enough to name the config keys a rotated Secret changed, without keeping
//! any value (and a fingerprint cannot be turned back into one without this process's key).

use std::collections::{BTreeMap, HashMap};

use parking_lot::Mutex;
use shared::redact::keyed_hash;

/// Config key → keyed hash of its value.
pub(crate) type Prints = BTreeMap<String, u64>;

#[derive(Default)]
pub(crate) struct Fingerprints {
    by_connector: Mutex<HashMap<String, Prints>>,
}

impl Fingerprints {
    /// The fingerprints of resolved values.
    pub fn of(values: &BTreeMap<String, String>) -> Prints {
        values
            .iter()
            .map(|(k, v)| (k.clone(), keyed_hash(v.as_str())))
            .collect()
    }

    /// What was last recorded for `key` (`namespace/name`), if anything.
    pub fn previous(&self, key: &str) -> Option<Prints> {
        self.by_connector.lock().get(key).cloned()
    }

    /// Records the values now applied; a connector without `configFrom` takes no room.
    pub fn record(&self, key: &str, prints: Prints) {
        let mut m = self.by_connector.lock();
        if prints.is_empty() {
            m.remove(key);
        } else {
            m.insert(key.to_string(), prints);
        }
    }

    pub fn forget(&self, key: &str) {
        self.by_connector.lock().remove(key);
    }
}

/// How one config key's value changed between two recordings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ValueChange {
    /// New or different value.
    Updated(String),
    /// No value any more (an optional reference to a missing object or key).
    LeftOut(String),
}

/// The config keys whose values differ between `before` and `now`.
pub(crate) fn changes(before: &Prints, now: &Prints) -> Vec<ValueChange> {
    let mut out: Vec<ValueChange> = now
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(v))
        .map(|(k, _)| ValueChange::Updated(k.clone()))
        .collect();
    out.extend(
        before
            .keys()
            .filter(|k| !now.contains_key(*k))
            .map(|k| ValueChange::LeftOut(k.clone())),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn changed_keys_are_named_and_values_not_kept() {
        let before = Fingerprints::of(&values(&[("a.password", "one"), ("b", "x"), ("c", "y")]));
        let now = Fingerprints::of(&values(&[("a.password", "two"), ("b", "x"), ("d", "z")]));
        assert_eq!(
            changes(&before, &now),
            vec![
                ValueChange::Updated("a.password".into()),
                ValueChange::Updated("d".into()),
                ValueChange::LeftOut("c".into()),
            ]
        );
        assert!(changes(&now, &now).is_empty());
        let f = Fingerprints::default();
        f.record("ns/a", now.clone());
        assert_eq!(f.previous("ns/a"), Some(now));
        f.record("ns/a", Prints::new());
        assert_eq!(f.previous("ns/a"), None);
    }
}
