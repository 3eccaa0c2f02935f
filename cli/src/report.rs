//! What `cwctl validate` found, and its four renderings: text for people, JSON for programs, JUnit XML for CI
//! test reports, and GitHub Actions workflow commands (annotations on the file and line).

use std::fmt::Write as _;

use serde::Serialize;

/// How bad a finding is: errors fail the run (the webhook would deny), warnings are what kubectl would print,
/// notes say what cwctl did or could not check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub message: String,
}

/// One object (or one unusable document) of the inputs and what was found about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    pub file: String,
    pub line: usize,
    /// e.g. `KafkaConnector`, empty for a document that could not be read.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    /// Whether the object was checked (false: skipped or unreadable).
    pub checked: bool,
    pub findings: Vec<Finding>,
}

impl Item {
    pub fn new(file: &str, line: usize, kind: &str, namespace: Option<&str>, name: &str) -> Self {
        Item {
            file: file.to_string(),
            line,
            kind: kind.to_string(),
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
            checked: true,
            findings: Vec::new(),
        }
    }

    pub fn push(&mut self, severity: Severity, message: impl Into<String>) {
        self.findings.push(Finding {
            severity,
            message: message.into(),
        });
    }

    /// `Kind namespace/name`, or the place for an unreadable document.
    pub fn subject(&self) -> String {
        match (&self.namespace, self.kind.is_empty()) {
            (_, true) => "document".to_string(),
            (Some(ns), false) => format!("{} {ns}/{}", self.kind, self.name),
            (None, false) => format!("{} {}", self.kind, self.name),
        }
    }

    pub fn count(&self, s: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == s).count()
    }
}

/// A whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// How Kafka Connect's side was checked: `live`, `offline` or `none`.
    pub mode: String,
    /// About the run as a whole (mode, what was not checked, a stale snapshot).
    pub notes: Vec<String>,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub objects: usize,
    pub checked: usize,
    pub errors: usize,
    pub warnings: usize,
}

impl Report {
    pub fn summary(&self) -> Summary {
        Summary {
            objects: self.items.len(),
            checked: self.items.iter().filter(|i| i.checked).count(),
            errors: self.items.iter().map(|i| i.count(Severity::Error)).sum(),
            warnings: self.items.iter().map(|i| i.count(Severity::Warning)).sum(),
        }
    }
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people: `file:line: Kind namespace/name` and one line per finding.
    Text,
    /// One JSON document with every object and finding.
    Json,
    /// JUnit XML: one test case per object, failed when the webhook would deny it.
    Junit,
    /// GitHub Actions workflow commands: annotations on the file and line of each object.
    Github,
}

pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Text => text(report),
        Format::Json => json(report),
        Format::Junit => junit(report),
        Format::Github => github(report),
    }
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

fn summary_line(s: &Summary) -> String {
    format!(
        "{} checked, {}, {}",
        plural(s.checked, "object"),
        plural(s.errors, "error"),
        plural(s.warnings, "warning")
    )
}

pub fn text(report: &Report) -> String {
    let mut out = String::new();
    for n in &report.notes {
        let _ = writeln!(out, "note: {n}");
    }
    if !report.notes.is_empty() {
        out.push('\n');
    }
    for item in &report.items {
        let verdict = if item.count(Severity::Error) > 0 {
            "denied"
        } else if !item.checked {
            "skipped"
        } else {
            "ok"
        };
        let _ = writeln!(
            out,
            "{}:{}: {} ({verdict})",
            item.file,
            item.line,
            item.subject()
        );
        for f in &item.findings {
            let mut lines = f.message.lines();
            let _ = writeln!(
                out,
                "  {}: {}",
                f.severity.as_str(),
                lines.next().unwrap_or_default()
            );
            for l in lines {
                let _ = writeln!(out, "    {l}");
            }
        }
    }
    let _ = writeln!(out, "\n{}", summary_line(&report.summary()));
    out
}

pub fn json(report: &Report) -> String {
    #[derive(Serialize)]
    struct Out<'a> {
        mode: &'a str,
        notes: &'a [String],
        objects: &'a [Item],
        summary: Summary,
    }
    let out = Out {
        mode: &report.mode,
        notes: &report.notes,
        objects: &report.items,
        summary: report.summary(),
    };
    // Plain data: serialising cannot fail.
    serde_json::to_string_pretty(&out).unwrap_or_default() + "\n"
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 has no place for other control characters.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

pub fn junit(report: &Report) -> String {
    let s = report.summary();
    let failures = report
        .items
        .iter()
        .filter(|i| i.count(Severity::Error) > 0)
        .count();
    let skipped = report.items.iter().filter(|i| !i.checked).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"cwctl validate\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">",
        s.objects
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"cwctl validate\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">",
        s.objects
    );
    if !report.notes.is_empty() {
        out.push_str("    <properties>\n");
        for n in &report.notes {
            let _ = writeln!(
                out,
                "      <property name=\"note\" value=\"{}\"/>",
                xml_escape(n)
            );
        }
        out.push_str("    </properties>\n");
    }
    for item in &report.items {
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" line=\"{}\"",
            xml_escape(&item.file),
            xml_escape(&format!("{} ({}:{})", item.subject(), item.file, item.line)),
            xml_escape(&item.file),
            item.line
        );
        let errors: Vec<&Finding> = item
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .collect();
        let others: Vec<&Finding> = item
            .findings
            .iter()
            .filter(|f| f.severity != Severity::Error)
            .collect();
        if errors.is_empty() && others.is_empty() && item.checked {
            out.push_str("/>\n");
            continue;
        }
        out.push_str(">\n");
        if !item.checked && errors.is_empty() {
            let why = others.first().map(|f| f.message.as_str()).unwrap_or("");
            let _ = writeln!(out, "      <skipped message=\"{}\"/>", xml_escape(why));
        }
        if !errors.is_empty() {
            let body: Vec<&str> = errors.iter().map(|f| f.message.as_str()).collect();
            let _ = writeln!(
                out,
                "      <failure message=\"{}\" type=\"denied\">{}</failure>",
                xml_escape(errors[0].message.lines().next().unwrap_or_default()),
                xml_escape(&body.join("\n"))
            );
        }
        if !others.is_empty() {
            let body: Vec<String> = others
                .iter()
                .map(|f| format!("{}: {}", f.severity.as_str(), f.message))
                .collect();
            let _ = writeln!(
                out,
                "      <system-out>{}</system-out>",
                xml_escape(&body.join("\n"))
            );
        }
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// Escaping of a workflow command's message.
fn gh_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escaping of a workflow command's property value.
fn gh_property(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}

pub fn github(report: &Report) -> String {
    let mut out = String::new();
    for n in &report.notes {
        let _ = writeln!(out, "::notice title=cwctl::{}", gh_data(n));
    }
    for item in &report.items {
        for f in &item.findings {
            let command = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Note => "notice",
            };
            let _ = writeln!(
                out,
                "::{command} file={},line={},title={}::{}",
                gh_property(&item.file),
                item.line,
                gh_property(&item.subject()),
                gh_data(&f.message)
            );
        }
    }
    // The log line a person reads in the job's output.
    let _ = writeln!(out, "{}", summary_line(&report.summary()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut bad = Item::new(
            "deploy/a.yaml",
            7,
            "KafkaConnector",
            Some("team-a"),
            "orders",
        );
        bad.push(
            Severity::Error,
            "Kafka Connect rejected the config:\nfile: Missing required configuration \"file\" which has no default value.",
        );
        bad.push(
            Severity::Warning,
            "spec.config.\"topci\" is not a setting; did you mean \"topic\"?",
        );
        let ok = Item::new(
            "deploy/b.yaml",
            1,
            "KafkaConnectCluster",
            Some("team-a"),
            "main",
        );
        let mut skipped = Item::new("deploy/b.yaml", 12, "Deployment", Some("team-a"), "app");
        skipped.checked = false;
        skipped.push(
            Severity::Note,
            "skipped: apps/v1 Deployment is not a kind cwctl checks",
        );
        Report {
            mode: "offline".into(),
            notes: vec!["offline: a, b & <c>".into()],
            items: vec![bad, ok, skipped],
        }
    }

    #[test]
    fn text_names_file_line_and_object_then_each_finding() {
        let t = text(&sample());
        assert_eq!(t, include_str!("../testdata/report/text.txt"));
    }

    #[test]
    fn json_holds_every_object_and_the_summary() {
        let v: serde_json::Value = serde_json::from_str(&json(&sample())).unwrap();
        assert_eq!(v["mode"], "offline");
        assert_eq!(v["objects"][0]["file"], "deploy/a.yaml");
        assert_eq!(v["objects"][0]["line"], 7);
        assert_eq!(v["objects"][0]["findings"][0]["severity"], "error");
        assert_eq!(v["objects"][2]["checked"], false);
        assert_eq!(
            v["summary"],
            serde_json::json!({"objects": 3, "checked": 2, "errors": 1, "warnings": 1})
        );
    }

    #[test]
    fn junit_fails_denied_objects_and_skips_unchecked_ones() {
        let x = junit(&sample());
        assert!(x.contains(
            "<testsuites name=\"cwctl validate\" tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\">"
        ));
        assert!(x.contains("<property name=\"note\" value=\"offline: a, b &amp; &lt;c&gt;\"/>"));
        assert!(x.contains(
            "<testcase classname=\"deploy/a.yaml\" name=\"KafkaConnector team-a/orders (deploy/a.yaml:7)\" file=\"deploy/a.yaml\" line=\"7\">"
        ));
        assert!(x.contains(
            "<failure message=\"Kafka Connect rejected the config:\" type=\"denied\">Kafka Connect rejected the config:\nfile: Missing required configuration &quot;file&quot; which has no default value.</failure>"
        ));
        assert!(x.contains("name=\"KafkaConnectCluster team-a/main (deploy/b.yaml:1)\" file=\"deploy/b.yaml\" line=\"1\"/>"));
        assert!(x.contains(
            "<skipped message=\"skipped: apps/v1 Deployment is not a kind cwctl checks\"/>"
        ));
    }

    #[test]
    fn github_annotates_the_file_and_line_with_escaped_text() {
        let g = github(&sample());
        let lines: Vec<&str> = g.lines().collect();
        assert_eq!(lines[0], "::notice title=cwctl::offline: a, b & <c>");
        assert_eq!(
            lines[1],
            "::error file=deploy/a.yaml,line=7,title=KafkaConnector team-a/orders::Kafka Connect rejected the config:%0Afile: Missing required configuration \"file\" which has no default value."
        );
        assert_eq!(
            lines[2],
            "::warning file=deploy/a.yaml,line=7,title=KafkaConnector team-a/orders::spec.config.\"topci\" is not a setting; did you mean \"topic\"?"
        );
        assert_eq!(
            lines[3],
            "::notice file=deploy/b.yaml,line=12,title=Deployment team-a/app::skipped: apps/v1 Deployment is not a kind cwctl checks"
        );
        assert_eq!(lines[4], "2 objects checked, 1 error, 1 warning");
        assert_eq!(gh_property("a:b,c%"), "a%3Ab%2Cc%25");
    }
}
