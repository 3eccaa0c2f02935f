//! Manifests as YAML documents that each know the file and line they start at. A document that does not
//! parse is reported with its own file and line, and the others are still read.

use serde_json::Value;

/// One YAML document of an input.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    pub file: String,
    /// 1-based line of the document's first line of content (not its `---`).
    pub line: usize,
    /// The document as JSON, or why it is not usable (with the line of the problem).
    pub value: Result<Value, Located>,
}

/// A problem at a place in a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub line: usize,
    pub message: String,
}

/// Whether `line` is a document marker (`---` or `...`, alone or followed by a space or a comment): the
/// parser's own rule, so line numbers agree with it. The text after `---` belongs to the next document.
fn marker(line: &str) -> Option<&str> {
    for m in ["---", "..."] {
        if let Some(rest) = line.strip_prefix(m)
            && (rest.is_empty() || rest.starts_with([' ', '\t']))
        {
            return Some(if m == "---" { rest } else { "" });
        }
    }
    None
}

/// Splits `text` into documents, each parsed on its own so that one broken document does not hide the others.
/// Documents with nothing but comments and blank lines are left out.
pub fn split_documents(file: &str, text: &str) -> Vec<Doc> {
    let mut docs = Vec::new();
    // (first line number of the chunk, its lines); marker lines are kept blank so lines stay aligned.
    let mut chunk: (usize, Vec<String>) = (1, Vec::new());
    let mut flush = |chunk: &mut (usize, Vec<String>), next_start: usize| {
        let lines = std::mem::take(&mut chunk.1);
        let start = chunk.0;
        chunk.0 = next_start;
        let Some(first) = lines.iter().position(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        }) else {
            return;
        };
        let body = lines.join("\n");
        docs.push(Doc {
            file: file.to_string(),
            line: start + first,
            value: parse(&body, start),
        });
    };
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        match marker(line) {
            Some(rest) => {
                flush(&mut chunk, n);
                // Keep columns: the marker becomes spaces, what follows it stays on this line.
                chunk.1.push(format!("   {rest}"));
            }
            None => chunk.1.push(line.to_string()),
        }
    }
    flush(&mut chunk, 0);
    docs
}

/// Parses one document whose first line is line `start` of its file.
fn parse(body: &str, start: usize) -> Result<Value, Located> {
    // YAML 1.2's core schema, where the parser's defaults follow YAML 1.1: `on`, `0755` and `1_000` stay
    // strings and `<<` is an ordinary key. `.inf` becomes null; a duplicate key is an error.
    let options = serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
        merge_keys: serde_saphyr::MergeKeyPolicy::AsOrdinary,
        non_finite_float_policy: serde_saphyr::NonFiniteFloatPolicy::PassThrough,
    };
    serde_saphyr::from_str_with_options(body, options).map_err(|e| {
        let offset = start.saturating_sub(1);
        // The parser counts lines within the document; the message says the file's line, on one line.
        let message = e.render_with_options(serde_saphyr::render_options! {
            snippets: serde_saphyr::SnippetMode::Off,
            line_offset: offset as u64,
        });
        let last = start + body.lines().count().max(1) - 1;
        let line = e
            .location()
            .and_then(|l| usize::try_from(l.line()).ok())
            .filter(|&l| l > 0)
            .map_or(start, |l| (offset + l).min(last));
        Located {
            line,
            message: format!("invalid YAML: {message}"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_document_knows_the_line_it_starts_at() {
        let text = include_str!("../testdata/input/markers.yaml");
        let docs = split_documents("f.yaml", text);
        let lines: Vec<usize> = docs.iter().map(|d| d.line).collect();
        assert_eq!(lines, vec![3, 8, 10]);
        assert_eq!(docs[1].value.as_ref().unwrap()["kind"], "B");
    }

    #[test]
    fn a_broken_document_is_reported_at_its_file_line_and_the_next_one_is_read() {
        let text = include_str!("../testdata/input/broken-flow-sequence.yaml");
        let docs = split_documents("f.yaml", text);
        assert_eq!(docs.len(), 3);
        let err = docs[1].value.as_ref().unwrap_err();
        assert!(err.line >= 5, "{err:?}");
        assert!(err.message.starts_with("invalid YAML: "), "{err:?}");
        assert_eq!(
            err.message,
            format!(
                "invalid YAML: unclosed bracket '[' at line {}, column 9",
                err.line
            )
        );
        assert_eq!(docs[2].value.as_ref().unwrap()["kind"], "C");
        assert_eq!(docs[2].line, 7);
    }

    #[test]
    fn a_document_after_an_inline_marker_keeps_its_content() {
        let docs = split_documents("f.yaml", "--- {kind: A}\n");
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].line, 1);
        assert_eq!(docs[0].value.as_ref().unwrap()["kind"], "A");
    }

    #[test]
    fn dashes_inside_a_value_are_not_markers() {
        let text = include_str!("../testdata/input/dashes-in-values.yaml");
        let docs = split_documents("f.yaml", text);
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].value.as_ref().unwrap()["a"], "---\nx\n");
    }

    #[test]
    fn duplicate_keys_are_an_error() {
        let docs = split_documents("f.yaml", "a: 1\na: 2\n");
        assert!(docs[0].value.is_err());
    }
}
