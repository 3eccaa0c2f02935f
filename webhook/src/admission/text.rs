//! Bounds on what messages quote: one absurd input (a megabyte-long key, ten thousand keys) must not make an
//! absurd message. The API server and kubectl handle long messages, but nobody reads ten thousand lines.

/// Most problem lines in one denial: past that, a count.
pub(crate) const MAX_LINES: usize = 20;
/// Most keys named in one warning: past that, a count.
pub(crate) const MAX_KEYS_IN_WARNING: usize = 10;
/// Keys and values quoted in messages are cut to this many characters.
const MAX_QUOTED: usize = 80;
/// Texts from elsewhere (a parser's error, a cluster's problem) are cut to this many characters.
const MAX_QUOTED_LONG: usize = 500;

/// Cuts a quoted key or value.
pub(crate) fn cut(s: &str) -> String {
    cut_to(s, MAX_QUOTED)
}

/// Cuts a quoted error text.
pub(crate) fn cut_long(s: &str) -> String {
    cut_to(s, MAX_QUOTED_LONG)
}

fn cut_to(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}

/// Keeps the first [`MAX_LINES`] lines and counts the rest as "… and N more `what`".
pub(crate) fn limit_lines(lines: &mut Vec<String>, what: &str) {
    limit_lines_to(lines, MAX_LINES, what)
}

pub(crate) fn limit_lines_to(lines: &mut Vec<String>, max: usize, what: &str) {
    if lines.len() > max {
        let more = lines.len() - max;
        lines.truncate(max);
        lines.push(format!("… and {more} more {what}"));
    }
}
