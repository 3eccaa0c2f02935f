//! A crate's one-way module order, checked from its source: each top-level module names (through
//! `crate::…`, or `super::…` up to the crate root) only the modules before it. Each crate's
//! `tests/module_order.rs` holds its order and calls [`check`]; this file is only the reading.
//!
//! The crate's files are found the way the compiler finds them, from `src/lib.rs` along its `mod x;` lines.
//! Comments and string literals are not read; `#[cfg(test)]` items and the files of `#[cfg(test)] mod x;`
//! are not checked, nor are the modules the order exempts (test fixtures). A name at the crate root that
//! is not a module (`crate::Result`, a re-export) counts as the crate root, which comes after every module:
//! import it from the module that defines it.

use std::path::{Path, PathBuf};

/// A crate's module order.
pub struct Order<'a> {
    /// The top-level modules, lowest first. The crate root (`lib.rs`) comes after all of them.
    pub modules: &'a [&'a str],
    /// Modules that are not checked and may be named by nobody's non-test code (test fixtures).
    pub exempt: &'a [&'a str],
}

/// Every import against `order` in the crate at `crate_dir`, one line each (`file:line: what`); empty
/// when the crate keeps its order.
pub fn check(crate_dir: &Path, order: &Order) -> Vec<String> {
    let mut problems = Vec::new();
    let files = crate_files(crate_dir);
    let top: Vec<&str> = files
        .iter()
        .filter(|f| f.module.len() == 1)
        .map(|f| f.module[0].as_str())
        .collect();
    for m in &top {
        if !order.modules.contains(m) && !order.exempt.contains(m) {
            problems.push(format!(
                "src/lib.rs: module `{m}` is not in the module order: place it in the list"
            ));
        }
    }
    for m in order.modules {
        if !top.contains(m) {
            problems.push(format!(
                "src/lib.rs: the module order names `{m}`, which the crate does not declare"
            ));
        }
    }
    let rank = |m: &str| order.modules.iter().position(|x| *x == m);
    for f in &files {
        let Some(own) = f.module.first() else {
            continue; // the crate root: last, so it may name anything
        };
        if order.exempt.contains(&own.as_str()) {
            continue;
        }
        let Some(own_rank) = rank(own) else { continue };
        for r in references(&f.code, f.module.len()) {
            if r.name == *own || order.exempt.contains(&r.name.as_str()) {
                continue;
            }
            let shown = f.path.strip_prefix(crate_dir).unwrap_or(&f.path).display();
            match rank(&r.name) {
                Some(i) if i < own_rank => {}
                Some(_) => problems.push(format!(
                    "{shown}:{}: `{own}` imports `{}`, which comes after it in the module order",
                    r.line, r.path
                )),
                None if top.contains(&r.name.as_str()) => {}
                None => problems.push(format!(
                    "{shown}:{}: `{own}` imports `{}` from the crate root, which comes after every \
                     module: import it from the module that defines it",
                    r.line, r.path
                )),
            }
        }
    }
    problems
}

/// One file of the crate: its module path (empty for the crate root) and its code without comments,
/// literals and `#[cfg(test)]` items.
struct File {
    path: PathBuf,
    module: Vec<String>,
    code: String,
}

fn crate_files(crate_dir: &Path) -> Vec<File> {
    let mut out = Vec::new();
    let mut todo = vec![(crate_dir.join("src/lib.rs"), Vec::<String>::new())];
    while let Some((path, module)) = todo.pop() {
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let (code, test_mods) = without_test_items(&strip(&text));
        if code.contains("#![cfg(test)]") {
            continue;
        }
        // Where `mod x;` looks for x: beside lib.rs/mod.rs, else in the folder named after the file.
        let dir = match path.file_name().and_then(|n| n.to_str()) {
            Some("lib.rs" | "mod.rs" | "main.rs") => path.parent().unwrap().to_path_buf(),
            _ => path.with_extension(""),
        };
        for child in declared_mods(&code) {
            if test_mods.contains(&child) {
                continue;
            }
            let file = dir.join(format!("{child}.rs"));
            let file = if file.exists() {
                file
            } else {
                dir.join(&child).join("mod.rs")
            };
            let mut m = module.clone();
            m.push(child);
            todo.push((file, m));
        }
        out.push(File { path, module, code });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// `src` with comments, string and char literals blanked (lines kept, so line numbers hold).
fn strip(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |out: &mut String, s: &[char]| {
        out.extend(s.iter().map(|&ch| if ch == '\n' { '\n' } else { ' ' }))
    };
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < c.len() {
        let rest = &c[i..];
        let end = if rest.starts_with(&['/', '/']) {
            i + rest.iter().position(|&ch| ch == '\n').unwrap_or(rest.len())
        } else if rest.starts_with(&['/', '*']) {
            let (mut j, mut depth) = (i + 2, 1);
            while j < c.len() && depth > 0 {
                if c[j..].starts_with(&['/', '*']) {
                    depth += 1;
                    j += 2;
                } else if c[j..].starts_with(&['*', '/']) {
                    depth -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            j
        } else if c[i] == 'r'
            && (i == 0 || !ident(c[i - 1]) || (c[i - 1] == 'b' && (i < 2 || !ident(c[i - 2]))))
            && raw_string_start(rest).is_some()
        {
            let hashes = raw_string_start(rest).unwrap();
            let mut j = i + 2 + hashes;
            let close: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            while j < c.len() && !c[j..].starts_with(&close) {
                j += 1;
            }
            (j + close.len()).min(c.len())
        } else if c[i] == '"' {
            let mut j = i + 1;
            while j < c.len() && c[j] != '"' {
                j += if c[j] == '\\' { 2 } else { 1 };
            }
            (j + 1).min(c.len())
        } else if c[i] == '\'' && c.get(i + 1) == Some(&'\\') {
            let mut j = i + 2;
            while j < c.len() && c[j] != '\'' {
                j += 1;
            }
            (j + 1).min(c.len())
        } else if c[i] == '\'' && c.get(i + 2) == Some(&'\'') {
            i + 3
        } else {
            out.push(c[i]);
            i += 1;
            continue;
        };
        blank(&mut out, &c[i..end]);
        i = end;
    }
    out
}

/// The number of `#` of a raw string starting at `s` (`r"…"`, `r#"…"#`), if one does.
fn raw_string_start(s: &[char]) -> Option<usize> {
    let hashes = s[1..].iter().take_while(|&&ch| ch == '#').count();
    (s.get(1 + hashes) == Some(&'"')).then_some(hashes)
}

/// `code` with every `#[cfg(test)]` item blanked, and the names of the `#[cfg(test)] mod x;` it declares.
fn without_test_items(code: &str) -> (String, Vec<String>) {
    let mut c: Vec<char> = code.chars().collect();
    let mut test_mods = Vec::new();
    let mut i = 0;
    while i < c.len() {
        if c[i] != '#' || c.get(i + 1) != Some(&'[') {
            i += 1;
            continue;
        }
        let attr_end = matching(&c, i + 1);
        let attr: String = c[i + 2..attr_end]
            .iter()
            .filter(|ch| !ch.is_whitespace())
            .collect();
        if attr != "cfg(test)" {
            i = attr_end + 1;
            continue;
        }
        // The item: up to its first `;` at the top, or through the block it opens.
        let mut j = attr_end + 1;
        let end = loop {
            match c.get(j) {
                None => break c.len(),
                Some(';') => break j + 1,
                Some('{') => break matching(&c, j) + 1,
                Some('[' | '(') => j = matching(&c, j) + 1,
                Some(_) => j += 1,
            }
        };
        let item: String = c[attr_end + 1..end].iter().collect();
        let words: Vec<&str> = item
            .split(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
            .filter(|w| !w.is_empty())
            .collect();
        if item.trim_end().ends_with(';')
            && let Some(k) = words.iter().position(|w| *w == "mod")
            && let Some(name) = words.get(k + 1)
        {
            test_mods.push(name.to_string());
        }
        for ch in &mut c[i..end] {
            if *ch != '\n' {
                *ch = ' ';
            }
        }
        i = end;
    }
    (c.into_iter().collect(), test_mods)
}

/// The index of the bracket that closes the one at `open`.
fn matching(c: &[char], open: usize) -> usize {
    let (o, cl) = match c[open] {
        '{' => ('{', '}'),
        '[' => ('[', ']'),
        _ => ('(', ')'),
    };
    let mut depth = 0;
    for (k, &ch) in c.iter().enumerate().skip(open) {
        if ch == o {
            depth += 1;
        } else if ch == cl {
            depth -= 1;
            if depth == 0 {
                return k;
            }
        }
    }
    c.len() - 1
}

/// The `mod x;` declarations (files of submodules).
fn declared_mods(code: &str) -> Vec<String> {
    let words = words(code);
    words
        .windows(3)
        .filter(|w| w[0].1 == "mod" && w[2].1 == ";")
        .map(|w| w[1].1.to_string())
        .collect()
}

/// A name at the crate root that a file uses.
struct Reference {
    /// The first segment after the crate root: the top-level module (or a root item).
    name: String,
    /// As written, for the message (`crate::plan`, `super::context`).
    path: String,
    line: usize,
}

/// The names at the crate root that `code` uses: `crate::x…`, `crate::{x…, y…}`, and `super::x…` with as
/// many `super` as the file is deep (`depth` segments of module path).
fn references(code: &str, depth: usize) -> Vec<Reference> {
    let w = words(code);
    let line = |offset: usize| code[..offset].matches('\n').count() + 1;
    let mut out = Vec::new();
    let mut k = 0;
    while k < w.len() {
        let start_of_path = k == 0 || w[k - 1].1 != "::";
        let (root, next) = if w[k].1 == "crate" && start_of_path {
            ("crate".to_string(), k + 1)
        } else if w[k].1 == "super" && start_of_path && depth > 0 {
            let mut n = k;
            let mut supers = 0;
            while w.get(n).map(|x| x.1) == Some("super") && w.get(n + 1).map(|x| x.1) == Some("::")
            {
                supers += 1;
                n += 2;
            }
            if supers != depth {
                k += 1;
                continue;
            }
            (vec!["super"; supers].join("::"), n - 1)
        } else {
            k += 1;
            continue;
        };
        if w.get(next).map(|x| x.1) != Some("::") {
            k += 1;
            continue;
        }
        let names: Vec<&str> = match w.get(next + 1).map(|x| x.1) {
            Some("{") => {
                // The first word of each entry at the group's top level.
                let mut names = Vec::new();
                let (mut depth, mut first) = (0, true);
                for x in &w[next + 1..] {
                    match x.1 {
                        "{" => {
                            depth += 1;
                            if depth == 1 {
                                first = true;
                                continue;
                            }
                        }
                        "}" => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        "," if depth == 1 => first = true,
                        word if depth == 1 && first => {
                            names.push(word);
                            first = false;
                        }
                        _ => {}
                    }
                }
                names
            }
            Some(name) => vec![name],
            None => vec![],
        };
        for name in names {
            if matches!(name, "self" | "super" | "crate" | "*") {
                continue;
            }
            out.push(Reference {
                name: name.to_string(),
                path: format!("{root}::{name}"),
                line: line(w[k].0),
            });
        }
        k = next + 1;
    }
    out
}

/// The words of `code` with their byte offsets: identifiers, `::`, and single punctuation characters.
fn words(code: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let b = code.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let ch = b[i];
        if ch.is_ascii_alphanumeric() || ch == b'_' || ch >= 0x80 {
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80) {
                i += 1;
            }
            out.push((s, &code[s..i]));
        } else if ch == b':' && b.get(i + 1) == Some(&b':') {
            out.push((i, "::"));
            i += 2;
        } else if ch.is_ascii_whitespace() {
            i += 1;
        } else {
            out.push((i, &code[i..i + 1]));
            i += 1;
        }
    }
    out
}
