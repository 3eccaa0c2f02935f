//! Secret redaction. Connect echoes whole configs in some error bodies (a 500 for an unknown class prints the
//! Java map), so every message that came from Connect passes through a [`Redactor`] built from the config
//! that was sent, before it reaches a log line, event, status or admission response.

use std::collections::{BTreeMap, BTreeSet};

pub const REDACTED: &str = "[redacted]";

/// Fragments of key names that mark a value as secret even when the connector's PASSWORD-typed keys are not
/// known (e.g. while Connect is the one failing).
const SENSITIVE_KEY_FRAGMENTS: &[&str] = &[
    "password",
    "secret",
    "token",
    "jaas",
    "credential",
    "api.key",
    "apikey",
    "user.info",
    "private.key",
    "access.key",
];

/// Shortest secret replaced wherever it appears in a message; shorter ones (which would match ordinary text)
/// are still removed where they follow their key (`key=value`, `"key":"value"`).
const MIN_FREE_TEXT_SECRET: usize = 4;

pub fn is_sensitive_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    SENSITIVE_KEY_FRAGMENTS.iter().any(|f| k.contains(f))
}

/// A `${provider:path:key}` reference: not itself a secret, and the right way to give one.
pub fn is_config_reference(value: &str) -> bool {
    let v = value.trim();
    v.starts_with("${") && v.ends_with('}')
}

/// Removes the secret values of one config from any text.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    keys: BTreeSet<String>,
    values: Vec<String>,
}

impl Redactor {
    /// Secrets are the values of keys that look sensitive or that `password_keys` (PASSWORD-typed keys from
    /// the connector's config definition) names.
    pub fn new<'a>(
        config: impl IntoIterator<Item = (&'a String, &'a String)>,
        password_keys: &BTreeSet<String>,
    ) -> Self {
        let mut keys = BTreeSet::new();
        let mut values = Vec::new();
        for (k, v) in config {
            if is_sensitive_key(k) || password_keys.contains(k) {
                keys.insert(k.clone());
                if !v.is_empty() && v != "[hidden]" {
                    values.push(v.clone());
                }
            }
        }
        // Longest first, so a secret that contains another is removed whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Redactor { keys, values }
    }

    pub fn from_config(config: &BTreeMap<String, String>) -> Self {
        Self::new(config, &BTreeSet::new())
    }

    /// Adds PASSWORD-typed keys learned later (from a validate response).
    pub fn with_password_keys(
        mut self,
        config: &BTreeMap<String, String>,
        keys: &BTreeSet<String>,
    ) -> Self {
        let extra = Redactor::new(config.iter().filter(|(k, _)| keys.contains(*k)), keys);
        self.keys.extend(extra.keys);
        self.values.extend(extra.values);
        self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        self.values.dedup();
        self
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            if v.len() >= MIN_FREE_TEXT_SECRET {
                out = out.replace(v.as_str(), REDACTED);
            }
        }
        for k in &self.keys {
            out = redact_after_key(&out, &format!("{k}="), &[',', '}', '\n']);
            out = redact_after_key(&out, &format!("\"{k}\":\""), &['"']);
        }
        out
    }
}

/// Replaces what follows each `prefix` up to the first terminator.
fn redact_after_key(text: &str, prefix: &str, terminators: &[char]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(prefix) {
        let start = pos + prefix.len();
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail
            .find(|c| terminators.contains(&c))
            .unwrap_or(tail.len());
        if tail[..end] != *REDACTED {
            out.push_str(REDACTED);
        } else {
            out.push_str(&tail[..end]);
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Cuts a text to at most `max_lines` lines and `max_chars` characters, saying that it was cut.
pub fn cut(text: &str, max_lines: usize, max_chars: usize) -> String {
    let mut out: String = text.lines().take(max_lines).collect::<Vec<_>>().join("\n");
    let mut cut = text.lines().count() > max_lines;
    if out.chars().count() > max_chars {
        out = out.chars().take(max_chars).collect();
        cut = true;
    }
    if cut {
        out.push_str(" …");
    }
    out
}

/// A hash keyed with a random key chosen once per process (SipHash, a keyed pseudo-random function): the same
/// input gives the same output within this process, and nobody without the key can test guesses of a secret
/// value against it. For in-memory digests of configs that hold secrets (cache keys, drift digests); never
/// written anywhere.
pub fn keyed_hash<T: std::hash::Hash + ?Sized>(value: &T) -> u64 {
    use std::hash::BuildHasher;
    static KEY: std::sync::LazyLock<std::collections::hash_map::RandomState> =
        std::sync::LazyLock::new(std::collections::hash_map::RandomState::new);
    KEY.hash_one(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_hashes_are_stable_within_the_process_and_tell_inputs_apart() {
        let a = keyed_hash("hunter2");
        assert_eq!(a, keyed_hash("hunter2"));
        assert_ne!(a, keyed_hash("hunter3"));
    }

    fn cfg(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn java_map_echo_is_redacted() {
        let c = cfg(&[
            ("ssl.truststore.password", "hunter2-secret"),
            ("topic", "orders"),
        ]);
        let r = Redactor::from_config(&c);
        let msg = "org.apache.kafka.connect.errors.ConnectException: Failed to find any class that implements \
                   Connector and which name matches Foo, config {ssl.truststore.password=hunter2-secret, topic=orders}";
        let out = r.redact(msg);
        assert!(!out.contains("hunter2"), "{out}");
        assert!(out.contains("ssl.truststore.password=[redacted]"), "{out}");
        assert!(out.contains("topic=orders"));
    }

    #[test]
    fn short_secrets_are_redacted_after_their_key_only() {
        let c = cfg(&[("db.password", "ab"), ("topic", "abc")]);
        let out = Redactor::from_config(&c)
            .redact("{db.password=ab, topic=abc} and \"db.password\":\"ab\"");
        assert_eq!(
            out,
            "{db.password=[redacted], topic=abc} and \"db.password\":\"[redacted]\""
        );
    }

    #[test]
    fn declared_password_keys_count_even_with_innocent_names() {
        let c = cfg(&[("connection.url.auth", "s3cr3t-value")]);
        let keys = ["connection.url.auth".to_string()].into_iter().collect();
        let out = Redactor::new(&c, &keys).redact("bad value s3cr3t-value");
        assert_eq!(out, "bad value [redacted]");
    }

    #[test]
    fn references_and_hidden_are_fine() {
        assert!(is_config_reference("${file:/etc/secrets.properties:pw}"));
        assert!(!is_config_reference("hunter2"));
        let c = cfg(&[("x.password", "[hidden]")]);
        assert_eq!(
            Redactor::from_config(&c).redact("[hidden] ok"),
            "[hidden] ok"
        );
    }

    #[test]
    fn cut_marks_truncation() {
        assert_eq!(cut("a\nb\nc", 2, 100), "a\nb …");
        assert_eq!(cut("abcdef", 5, 3), "abc …");
        assert_eq!(cut("abc", 5, 10), "abc");
    }
}
