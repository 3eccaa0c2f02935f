//! Connector plugin versions (Kafka Connect 4.1+): `spec.version` is a version or a Maven version range, as
//! Connect reads `connector.plugin.version`. A plain version asks for exactly that version (Connect turns it
//! into `[v]`); a range is one or more `[a,b]`, `(a,b)`, `[a,)`, `(,b]`, `[v]` joined by commas. Versions
//! compare as Maven compares them: numbers numerically, `1.0` equal to `1.0.0`, qualifiers
//! `alpha < beta < milestone < rc < snapshot < release < sp`, other qualifiers after those, by text.

use std::cmp::Ordering;
use std::fmt;

/// The first Kafka Connect (major, minor) that reads `connector.plugin.version`.
pub const FIRST_CONNECT: (u32, u32) = (4, 1);

/// A parsed version requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    ranges: Vec<Range>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Range {
    lower: Option<(Version, bool)>,
    upper: Option<(Version, bool)>,
}

/// A version, compared as Maven does.
#[derive(Debug, Clone)]
pub struct Version {
    text: String,
    items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Number(u64),
    Qualifier(String),
}

impl Version {
    pub fn parse(text: &str) -> Version {
        let text = text.trim();
        let mut items = Vec::new();
        for part in text.split(['.', '-', '_']) {
            // "1rc2" is 1, rc, 2: a change between digits and letters starts a new item.
            let mut cur = String::new();
            let mut digits = None;
            for c in part.chars() {
                let d = c.is_ascii_digit();
                if digits.is_some_and(|was| was != d) {
                    items.push(item(&cur));
                    cur.clear();
                }
                digits = Some(d);
                cur.push(c);
            }
            if !cur.is_empty() {
                items.push(item(&cur));
            }
        }
        // Trailing zeros and release qualifiers say nothing: 1.0.0 == 1 == 1.0-final.
        while items
            .last()
            .is_some_and(|i| *i == Item::Number(0) || qualifier_rank(i) == Some(RELEASE))
        {
            items.pop();
        }
        Version {
            text: text.to_string(),
            items,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn item(s: &str) -> Item {
    match s.parse::<u64>() {
        Ok(n) => Item::Number(n),
        Err(_) => Item::Qualifier(s.to_ascii_lowercase()),
    }
}

const RELEASE: u8 = 5;

fn qualifier_rank(i: &Item) -> Option<u8> {
    let Item::Qualifier(q) = i else { return None };
    Some(match q.as_str() {
        "alpha" | "a" => 1,
        "beta" | "b" => 2,
        "milestone" | "m" => 3,
        "rc" | "cr" => 4,
        "snapshot" => 4,
        "" | "ga" | "final" | "release" => RELEASE,
        "sp" => 6,
        _ => 7,
    })
}

/// Compares item by item; a missing item counts as the release (0 / "").
fn cmp_items(a: &[Item], b: &[Item]) -> Ordering {
    let n = a.len().max(b.len());
    for i in 0..n {
        let o = match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) => cmp_item(x, y),
            (Some(x), None) => cmp_to_release(x),
            (None, Some(y)) => cmp_to_release(y).reverse(),
            (None, None) => Ordering::Equal,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn cmp_to_release(x: &Item) -> Ordering {
    match x {
        Item::Number(n) => n.cmp(&0),
        q => qualifier_rank(q).unwrap_or(RELEASE).cmp(&RELEASE),
    }
}

fn cmp_item(x: &Item, y: &Item) -> Ordering {
    match (x, y) {
        (Item::Number(a), Item::Number(b)) => a.cmp(b),
        // A number is newer than any qualifier: 1.1 > 1-rc.
        (Item::Number(_), Item::Qualifier(_)) => Ordering::Greater,
        (Item::Qualifier(_), Item::Number(_)) => Ordering::Less,
        (Item::Qualifier(a), Item::Qualifier(b)) => {
            let (ra, rb) = (qualifier_rank(x), qualifier_rank(y));
            ra.cmp(&rb).then_with(|| {
                if ra == Some(7) {
                    a.cmp(b)
                } else {
                    Ordering::Equal
                }
            })
        }
    }
}

impl PartialEq for Version {
    fn eq(&self, o: &Version) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Version {}
impl PartialOrd for Version {
    fn partial_cmp(&self, o: &Version) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Version {
    fn cmp(&self, o: &Version) -> Ordering {
        cmp_items(&self.items, &o.items)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Requirement {
    /// Parses `spec.version`. The error says what is wrong, for a denial.
    pub fn parse(spec: &str) -> Result<Requirement, String> {
        let s = spec.trim();
        let bad = |why: &str| {
            Err(format!(
                "spec.version {spec:?} is not a version or a Maven version range: {why} (e.g. \"2.0.0\", \"[1.0,2.0)\", \"[2.0,)\")"
            ))
        };
        if s.is_empty() {
            return bad("it is empty");
        }
        if !s.starts_with(['[', '(']) {
            if s.contains([',', '[', ']', '(', ')']) || s.contains(char::is_whitespace) {
                return bad("a range starts with [ or (");
            }
            let v = Version::parse(s);
            return Ok(Requirement {
                ranges: vec![Range {
                    lower: Some((v.clone(), true)),
                    upper: Some((v, true)),
                }],
            });
        }
        let mut ranges = Vec::new();
        let mut rest = s;
        while !rest.is_empty() {
            let open_inclusive = match rest.as_bytes()[0] {
                b'[' => true,
                b'(' => false,
                _ => return bad("ranges are joined by commas, each in [ ] or ( )"),
            };
            let Some(end) = rest.find([']', ')']) else {
                return bad("a range is not closed");
            };
            let close_inclusive = rest.as_bytes()[end] == b']';
            let inner = &rest[1..end];
            if inner.contains(['[', '(']) {
                return bad("a range is not closed");
            }
            let range = match inner.split(',').map(str::trim).collect::<Vec<_>>()[..] {
                [v] => {
                    if v.is_empty() || !open_inclusive || !close_inclusive {
                        return bad("a single version in a range is written [v]");
                    }
                    let v = Version::parse(v);
                    Range {
                        lower: Some((v.clone(), true)),
                        upper: Some((v, true)),
                    }
                }
                [lo, hi] => {
                    if lo.is_empty() && hi.is_empty() {
                        return bad("a range needs at least one bound");
                    }
                    if (lo.is_empty() && open_inclusive) || (hi.is_empty() && close_inclusive) {
                        return bad("an open bound is written with ( or )");
                    }
                    let lower = (!lo.is_empty()).then(|| (Version::parse(lo), open_inclusive));
                    let upper = (!hi.is_empty()).then(|| (Version::parse(hi), close_inclusive));
                    if let (Some((l, _)), Some((u, _))) = (&lower, &upper)
                        && l > u
                    {
                        return bad(&format!("the lower bound {l} is above the upper bound {u}"));
                    }
                    Range { lower, upper }
                }
                _ => return bad("a range has at most two bounds"),
            };
            ranges.push(range);
            rest = rest[end + 1..].trim_start();
            if let Some(r) = rest.strip_prefix(',') {
                rest = r.trim_start();
                if rest.is_empty() {
                    return bad("a comma must be followed by another range");
                }
            } else if !rest.is_empty() {
                return bad("ranges are joined by commas");
            }
        }
        Ok(Requirement { ranges })
    }

    pub fn matches(&self, version: &str) -> bool {
        let v = Version::parse(version);
        self.ranges.iter().any(|r| {
            r.lower
                .as_ref()
                .is_none_or(|(l, inc)| if *inc { v >= *l } else { v > *l })
                && r.upper
                    .as_ref()
                    .is_none_or(|(u, inc)| if *inc { v <= *u } else { v < *u })
        })
    }

    /// The newest of `installed` that matches: the one Connect picks.
    pub fn pick<'a>(&self, installed: &[&'a str]) -> Option<&'a str> {
        installed
            .iter()
            .filter(|v| self.matches(v))
            .max_by(|a, b| Version::parse(a).cmp(&Version::parse(b)))
            .copied()
    }
}

/// `installed`, newest first, without duplicates.
pub fn newest_first(installed: &[&str]) -> Vec<String> {
    let mut v: Vec<Version> = installed.iter().map(|s| Version::parse(s)).collect();
    v.sort_by(|a, b| b.cmp(a));
    v.dedup_by(|a, b| a.text == b.text);
    v.into_iter().map(|v| v.text).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s)
    }

    #[test]
    fn versions_compare_as_maven_does() {
        assert_eq!(v("1.0"), v("1.0.0"));
        assert_eq!(v("1"), v("1.0-final"));
        assert!(v("1.10") > v("1.9"));
        assert!(v("2.0.0") > v("1.99.99"));
        assert!(v("1.0-alpha") < v("1.0-beta"));
        assert!(v("1.0-beta") < v("1.0-rc1"));
        assert!(v("1.0-rc1") < v("1.0"));
        assert!(v("1.0-SNAPSHOT") < v("1.0"));
        assert!(v("1.0") < v("1.0-sp1"));
        assert!(v("1.0") < v("1.0.1"));
        assert!(v("1.0.1") > v("1.0-rc1"));
        assert!(v("4.1.0") < v("4.1.1"));
        assert!(v("1.0-foo") > v("1.0-sp"));
    }

    #[test]
    fn a_plain_version_is_exact() {
        let r = Requirement::parse("2.0.0").unwrap();
        assert!(r.matches("2.0.0"));
        assert!(r.matches("2.0"));
        assert!(!r.matches("2.0.1"));
        assert!(!r.matches("1.0.0"));
    }

    #[test]
    fn ranges() {
        let r = Requirement::parse("[1.0,2.0)").unwrap();
        assert!(r.matches("1.0.0") && r.matches("1.9.9"));
        assert!(!r.matches("2.0.0") && !r.matches("0.9"));
        let r = Requirement::parse("(1.0,2.0]").unwrap();
        assert!(!r.matches("1.0") && r.matches("2.0") && r.matches("1.5"));
        let r = Requirement::parse("[2.0,)").unwrap();
        assert!(r.matches("2.0") && r.matches("9") && !r.matches("1.9"));
        let r = Requirement::parse("(,1.0]").unwrap();
        assert!(r.matches("0.1") && r.matches("1.0") && !r.matches("1.0.1"));
        let r = Requirement::parse("[1.5]").unwrap();
        assert!(r.matches("1.5.0") && !r.matches("1.6"));
        let r = Requirement::parse("(,1.0],[1.2,)").unwrap();
        assert!(r.matches("1.0") && !r.matches("1.1") && r.matches("1.2"));
        let r = Requirement::parse(" [1.0 , 2.0) ").unwrap();
        assert!(r.matches("1.5"));
    }

    #[test]
    fn invalid_requirements_are_explained() {
        let tail = " (e.g. \"2.0.0\", \"[1.0,2.0)\", \"[2.0,)\")";
        let cases = [
            ("", "it is empty"),
            ("1.0,2.0", "a range starts with [ or ("),
            ("[1.0,2.0", "a range is not closed"),
            (
                "[2.0,1.0]",
                "the lower bound 2.0 is above the upper bound 1.0",
            ),
            ("(1.0)", "a single version in a range is written [v]"),
            ("[,1.0]", "an open bound is written with ( or )"),
            ("(,)", "a range needs at least one bound"),
            ("[1,2,3]", "a range has at most two bounds"),
            ("[1.0,2.0),", "a comma must be followed by another range"),
            ("[1.0,2.0)x", "ranges are joined by commas"),
        ];
        for (spec, why) in cases {
            assert_eq!(
                Requirement::parse(spec).unwrap_err(),
                format!(
                    "spec.version {spec:?} is not a version or a Maven version range: {why}{tail}"
                ),
                "{spec}"
            );
        }
    }

    #[test]
    fn pick_the_newest_match() {
        let installed = ["1.0.0", "2.0.0", "4.3.1"];
        assert_eq!(
            Requirement::parse("[1.0,3.0)").unwrap().pick(&installed),
            Some("2.0.0")
        );
        assert_eq!(Requirement::parse("[5.0,)").unwrap().pick(&installed), None);
        assert_eq!(
            newest_first(&["1.0.0", "4.3.1", "2.0.0", "1.0.0"]),
            vec!["4.3.1", "2.0.0", "1.0.0"]
        );
    }
}
