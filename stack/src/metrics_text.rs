//! The Prometheus text format read back: the samples of a `/metrics` page, for the end-to-end tests and the
//! benchmarks that check what the binaries count.

use std::collections::BTreeMap;

/// One sample line: `name{labels} value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    /// Whether this is a sample of `name` whose labels include every pair of `labels`.
    pub fn matches(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.name == name
            && labels
                .iter()
                .all(|(k, v)| self.labels.get(*k).map(String::as_str) == Some(*v))
    }
}

/// Every sample of a `/metrics` page; comments, blank lines and lines that are no sample are skipped.
pub fn samples(text: &str) -> impl Iterator<Item = Sample> + '_ {
    text.lines().filter_map(parse_line)
}

/// The value of the first sample of `name` whose labels include every pair of `labels`.
pub fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples(text)
        .find(|s| s.matches(name, labels))
        .map(|s| s.value)
}

/// The sum of the samples of `name` whose labels include every pair of `labels` (0 when there are none).
pub fn sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples(text)
        .filter(|s| s.matches(name, labels))
        .map(|s| s.value)
        .sum()
}

fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line.find(['{', ' ', '\t'])?;
    let name = &line[..name_end];
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(inner) = rest.strip_prefix('{') {
        rest = parse_labels(inner, &mut labels)?;
    }
    // The value, then an optional timestamp.
    let value = rest.split_whitespace().next()?.parse().ok()?;
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// Reads `k="v",...}` into `labels` and returns what follows the `}`.
fn parse_labels<'a>(mut s: &'a str, labels: &mut BTreeMap<String, String>) -> Option<&'a str> {
    loop {
        s = s.trim_start_matches([' ', ',']);
        if let Some(rest) = s.strip_prefix('}') {
            return Some(rest);
        }
        let (key, after) = s.split_once('=')?;
        let mut chars = after.strip_prefix('"')?.char_indices();
        let mut value = String::new();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.trim().to_string(), value);
        s = &after[1 + end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"# HELP connect_warden_connector_restarts_total Restarts.
# TYPE connect_warden_connector_restarts_total counter
connect_warden_connector_restarts_total{name="a",target="task",trigger="manual"} 2
connect_warden_connector_restarts_total{name="b",target="task",trigger="automatic"} 3
connect_warden_connector_restarts_total_extra{name="a"} 100
connect_warden_leader 1
connect_warden_message{text="say \"hi\", a\\b\nc"} 4 1700000000000
not a sample
"#;

    #[test]
    fn values_and_sums_by_name_and_labels() {
        let name = "connect_warden_connector_restarts_total";
        assert_eq!(value(PAGE, name, &[("name", "b")]), Some(3.0));
        assert_eq!(sum(PAGE, name, &[]), 5.0);
        assert_eq!(sum(PAGE, name, &[("trigger", "manual")]), 2.0);
        assert_eq!(sum(PAGE, name, &[("name", "c")]), 0.0);
        assert_eq!(value(PAGE, "connect_warden_leader", &[]), Some(1.0));
        assert_eq!(value(PAGE, "connect_warden_leader", &[("a", "b")]), None);
    }

    #[test]
    fn escaped_label_values_and_timestamps() {
        let s: Vec<Sample> = samples(PAGE)
            .filter(|s| s.name == "connect_warden_message")
            .collect();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].labels["text"], "say \"hi\", a\\b\nc");
        assert_eq!(s[0].value, 4.0);
    }

    #[test]
    fn special_values() {
        let page = "a NaN\nb +Inf\nc -Inf\n";
        assert!(value(page, "a", &[]).unwrap().is_nan());
        assert_eq!(value(page, "b", &[]), Some(f64::INFINITY));
        assert_eq!(value(page, "c", &[]), Some(f64::NEG_INFINITY));
    }
}
