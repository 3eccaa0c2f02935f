//! A crate's module order, checked from its source, three ways:
//! - the order of the top-level modules: each names (through `crate::…`, or `super::…` up to the crate
//!   root) only the modules before it;
//! - inside each folder module, its files name each other without a cycle, and in the order given for the
//!   folder when there is one;
//! - the modules the order calls pure name no I/O ([`IO`]).
//!
//! Each crate's `tests/module_order.rs` holds its order and calls [`check`]; this file is only the reading.
//!
//! The crate's files are found the way the compiler finds them, from `src/lib.rs` along its `mod x;` lines.
//! Comments and string literals are not read; `#[cfg(test)]` items and the files of `#[cfg(test)] mod x;`
//! are not checked, nor are the modules the order exempts (test fixtures). A name at the crate root that
//! is not a module (`crate::Result`, a re-export) counts as the crate root, which comes after every module:
//! import it from the module that defines it. Inside a folder, a name its `mod.rs` re-exports counts as the
//! file that defines it; the items `mod.rs` defines itself are the folder's entry (the state its files
//! share, the task they serve) and may be named by its files.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// A crate's module order.
pub struct Order<'a> {
    /// The top-level modules, lowest first. The crate root (`lib.rs`) comes after all of them.
    pub modules: &'a [&'a str],
    /// Modules that are not checked and may be named by nobody's non-test code (test fixtures).
    pub exempt: &'a [&'a str],
    /// The order of the files of a folder module (its path, as `kafka` or `reconcile::connector`; its
    /// submodules, lowest first; its `mod.rs` comes after them). A folder not listed here is only held to
    /// having no import cycle among its files.
    pub folders: &'a [(&'a str, &'a [&'a str])],
    /// Modules (paths, as `plan` or `kafka::plan`) that decide without I/O: none of their files names one
    /// of [`IO`].
    pub pure: &'a [&'a str],
}

/// What a pure module may not name: the Kubernetes client and its runtime, the async runtime, HTTP, files
/// and sockets.
pub const IO: &[&str] = &[
    "kube::Client",
    "kube::client",
    "kube::Api",
    "kube::api::Api",
    "kube::runtime",
    "tokio",
    "reqwest",
    "std::fs",
    "std::net",
    "hyper",
];

/// Every import against `order` in the crate at `crate_dir`, one line each (`file:line: what`); empty
/// when the crate keeps its order.
pub fn check(crate_dir: &Path, order: &Order) -> Vec<String> {
    let files = crate_files(crate_dir);
    let mut problems = top_level(crate_dir, &files, order);
    problems.extend(folders(crate_dir, &files, order));
    problems.extend(pure(crate_dir, &files, order));
    problems
}

/// The top-level modules against `order.modules`.
fn top_level(crate_dir: &Path, files: &[File], order: &Order) -> Vec<String> {
    let mut problems = Vec::new();
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
    for f in files {
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
            let shown = shown(crate_dir, &f.path);
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

/// `path` from the crate's folder, as messages show it.
fn shown(crate_dir: &Path, path: &Path) -> String {
    path.strip_prefix(crate_dir)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// A path in a file into the crate: its line, as written, and the module that defines what it names.
struct Named {
    line: usize,
    written: String,
    module: Vec<String>,
}

/// What each module's `use` declarations bind: module → name → path from the crate root.
type Bindings = HashMap<Vec<String>, HashMap<String, Vec<String>>>;

/// An import from one file of a folder of another: where it is written, and what it names.
struct Import {
    at: String,
    written: String,
}

/// Inside every folder module: no import cycle among its files, and the folder's order where
/// `order.folders` gives one.
fn folders(crate_dir: &Path, files: &[File], order: &Order) -> Vec<String> {
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| f.module.clone()).collect();
    let bindings = bindings(files, &modules);
    let checked: Vec<&File> = files
        .iter()
        .filter(|f| {
            f.module
                .first()
                .is_none_or(|m| !order.exempt.contains(&m.as_str()))
        })
        .collect();
    // Each file's paths into the crate, resolved to the module that defines what they name.
    let resolved: Vec<(&File, Vec<Named>)> = checked
        .iter()
        .map(|f| {
            let refs = paths(&f.code, false)
                .into_iter()
                .filter_map(|p| {
                    let abs = absolute(&f.module, &p.segments, &modules)?;
                    Some(Named {
                        line: f.code[..p.offset].matches('\n').count() + 1,
                        written: p.segments.join("::"),
                        module: resolve(abs, &modules, &bindings),
                    })
                })
                .collect();
            (*f, refs)
        })
        .collect();
    let mut problems = Vec::new();
    let folder_paths: BTreeSet<&[String]> = modules
        .iter()
        .filter(|m| m.len() >= 2)
        .map(|m| &m[..m.len() - 1])
        .collect();
    for (name, _) in order.folders {
        let path: Vec<&str> = name.split("::").collect();
        if !folder_paths.iter().any(|f| *f == path.as_slice()) {
            problems.push(format!(
                "the module order gives an order for folder `{name}`, which has no files"
            ));
        }
    }
    for folder in folder_paths {
        let label = folder.join("::");
        let children: Vec<&str> = modules
            .iter()
            .filter(|m| m.len() == folder.len() + 1 && m.starts_with(folder))
            .map(|m| m[folder.len()].as_str())
            .collect();
        let mut edges: BTreeMap<(&str, &str), Vec<Import>> = BTreeMap::new();
        for (f, refs) in &resolved {
            if f.module.len() <= folder.len() || !f.module.starts_with(folder) {
                continue;
            }
            let from = f.module[folder.len()].as_str();
            for r in refs {
                let target = &r.module;
                if target.len() > folder.len()
                    && target.starts_with(folder)
                    && target[folder.len()] != from
                {
                    let to = children
                        .iter()
                        .find(|c| **c == target[folder.len()])
                        .copied()
                        .unwrap_or("?");
                    edges.entry((from, to)).or_default().push(Import {
                        at: format!("{}:{}", shown(crate_dir, &f.path), r.line),
                        written: r.written.clone(),
                    });
                }
            }
        }
        let file_of = |child: &str| {
            let mut m = folder.to_vec();
            m.push(child.to_string());
            match files.iter().find(|f| f.module == m) {
                Some(f) if f.path.ends_with("mod.rs") => format!("{child}/"),
                _ => format!("{child}.rs"),
            }
        };
        if let Some((_, stated)) = order.folders.iter().find(|(n, _)| *n == label) {
            for c in &children {
                if !stated.contains(c) {
                    problems.push(format!(
                        "folder `{label}`: `{}` is not in the folder's order: place it in the list",
                        file_of(c)
                    ));
                }
            }
            for c in *stated {
                if !children.contains(c) {
                    problems.push(format!(
                        "folder `{label}`: the order names `{c}`, which the folder does not declare"
                    ));
                }
            }
            let rank = |m: &str| stated.iter().position(|x| *x == m);
            for ((from, to), imports) in &edges {
                if let (Some(a), Some(b)) = (rank(from), rank(to))
                    && b > a
                {
                    for i in imports {
                        problems.push(format!(
                            "{}: `{label}::{from}` imports `{}`, which comes after it in `{label}`'s order",
                            i.at, i.written
                        ));
                    }
                }
            }
        }
        for cycle in cycles(&children, &edges) {
            let files: Vec<String> = cycle.iter().map(|c| file_of(c)).collect();
            let ties: Vec<String> = edges
                .iter()
                .filter(|((a, b), _)| cycle.contains(a) && cycle.contains(b))
                .map(|((a, b), imports)| {
                    let list: Vec<String> = imports
                        .iter()
                        .map(|i| format!("{} `{}`", i.at, i.written))
                        .collect();
                    format!("`{a}` imports `{b}` ({})", list.join(", "))
                })
                .collect();
            problems.push(format!(
                "folder `{label}`: import cycle among {}: {}; move what they share down to one of them \
                 or to a file both import",
                files.join(", "),
                ties.join("; ")
            ));
        }
    }
    problems
}

/// The groups of `nodes` that reach each other along `edges` (each group sorted, two or more nodes).
fn cycles<'a>(
    nodes: &[&'a str],
    edges: &BTreeMap<(&'a str, &'a str), Vec<Import>>,
) -> Vec<Vec<&'a str>> {
    let reach = |from: &'a str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from];
        while let Some(n) = todo.pop() {
            for (a, b) in edges.keys() {
                if *a == n && seen.insert(*b) {
                    todo.push(*b);
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&str, BTreeSet<&str>> = nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut out: Vec<Vec<&str>> = Vec::new();
    for n in nodes {
        if out.iter().any(|g| g.contains(n)) || !reaches[n].contains(n) {
            continue;
        }
        out.push(
            nodes
                .iter()
                .filter(|m| reaches[n].contains(*m) && reaches[*m].contains(n))
                .copied()
                .collect(),
        );
    }
    out
}

/// The modules `order.pure` names: none of their files names one of [`IO`].
fn pure(crate_dir: &Path, files: &[File], order: &Order) -> Vec<String> {
    let mut problems = Vec::new();
    let pure: Vec<Vec<String>> = (order.pure.iter())
        .map(|p| p.split("::").map(String::from).collect())
        .collect();
    for p in &pure {
        if !files.iter().any(|f| f.module == *p) {
            problems.push(format!(
                "the module order calls `{}` pure, which the crate does not declare",
                p.join("::")
            ));
        }
    }
    for f in files {
        let Some(p) = pure.iter().find(|p| f.module.starts_with(p.as_slice())) else {
            continue;
        };
        for path in paths(&f.code, true) {
            let written = path.segments.join("::");
            if let Some(io) = IO
                .iter()
                .find(|io| written == **io || written.starts_with(&format!("{io}::")))
            {
                let line = f.code[..path.offset].matches('\n').count() + 1;
                problems.push(format!(
                    "{}:{line}: `{}` is pure and names `{written}` ({io}: I/O belongs at the edges)",
                    shown(crate_dir, &f.path),
                    p.join("::")
                ));
            }
        }
    }
    problems
}

/// One path in code, groups expanded: its segments as written and the byte offset of its last one.
struct CodePath {
    segments: Vec<String>,
    offset: usize,
    /// The name a `use` binds it to (`None` for a glob or a path outside a `use`).
    binding: Option<String>,
}

/// The paths in `code`: those that start with `crate`, `self`, `super` or a name (every path of two or
/// more segments when `all`, else only those and the `use` declarations' paths), groups expanded.
fn paths(code: &str, all: bool) -> Vec<CodePath> {
    let w = words(code);
    let mut out = Vec::new();
    let mut k = 0;
    while k < w.len() {
        let prev = k.checked_sub(1).map(|j| w[j].1);
        let is_ident = |s: &str| {
            s.chars()
                .next()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        };
        if w[k].1 == "use" && prev != Some("::") {
            let mut leaves = Vec::new();
            k = use_tree(&w, k + 1, Vec::new(), &mut leaves);
            out.extend(leaves);
            continue;
        }
        let starts = is_ident(w[k].1)
            && prev != Some("::")
            && (all || matches!(w[k].1, "crate" | "self" | "super"))
            && w.get(k + 1).map(|x| x.1) == Some("::");
        if !starts {
            k += 1;
            continue;
        }
        let mut leaves = Vec::new();
        k = use_tree(&w, k, Vec::new(), &mut leaves);
        out.extend(leaves.into_iter().map(|l| CodePath { binding: None, ..l }));
    }
    out
}

/// Reads a use tree (or any path) from `w[k]` after `prefix`; pushes its leaves and returns where it ends.
fn use_tree(
    w: &[(usize, &str)],
    mut k: usize,
    mut prefix: Vec<String>,
    out: &mut Vec<CodePath>,
) -> usize {
    let mut last = w.get(k).map_or(0, |x| x.0);
    loop {
        match w.get(k).map(|x| x.1) {
            Some("{") => {
                k += 1;
                while let Some(word) = w.get(k).map(|x| x.1) {
                    match word {
                        "}" => break,
                        "," => k += 1,
                        _ => {
                            let before = k;
                            k = use_tree(w, k, prefix.clone(), out);
                            if k == before {
                                k += 1;
                            }
                        }
                    }
                }
                return k + 1;
            }
            Some("*") => {
                prefix.push("*".into());
                out.push(CodePath {
                    segments: prefix,
                    offset: w[k].0,
                    binding: None,
                });
                return k + 1;
            }
            Some(word)
                if word
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_') =>
            {
                prefix.push(word.to_string());
                last = w[k].0;
                k += 1;
                if w.get(k).map(|x| x.1) == Some("::") {
                    k += 1;
                    continue;
                }
                let mut binding = prefix.last().cloned();
                if w.get(k).map(|x| x.1) == Some("as") {
                    binding = w.get(k + 1).map(|x| x.1.to_string());
                    k += 2;
                }
                if prefix.len() > 1 && prefix.last().map(String::as_str) == Some("self") {
                    prefix.pop();
                    if binding.as_deref() == Some("self") {
                        binding = prefix.last().cloned();
                    }
                }
                out.push(CodePath {
                    segments: prefix,
                    offset: last,
                    binding,
                });
                return k;
            }
            _ => {
                if !prefix.is_empty() {
                    out.push(CodePath {
                        segments: prefix,
                        offset: last,
                        binding: None,
                    });
                }
                return k;
            }
        }
    }
}

/// `segments` as a path from the crate root, seen from `module`: `crate::…`, `self::…`, `super::…`, or a
/// submodule of `module`. `None` for a path outside the crate.
fn absolute(
    module: &[String],
    segments: &[String],
    modules: &BTreeSet<Vec<String>>,
) -> Option<Vec<String>> {
    let first = segments.first()?;
    let (base, rest): (Vec<String>, &[String]) = match first.as_str() {
        "crate" => (Vec::new(), &segments[1..]),
        "self" => (module.to_vec(), &segments[1..]),
        "super" => {
            let n = segments.iter().take_while(|s| *s == "super").count();
            (
                module.get(..module.len().checked_sub(n)?)?.to_vec(),
                &segments[n..],
            )
        }
        _ => {
            let mut child = module.to_vec();
            child.push(first.clone());
            if !modules.contains(&child) {
                return None;
            }
            (module.to_vec(), segments)
        }
    };
    let mut out = base;
    out.extend(rest.iter().filter(|s| *s != "*").cloned());
    Some(out)
}

/// What each module's `use` declarations bind, as paths from the crate root (names from outside the crate
/// left out).
fn bindings(files: &[File], modules: &BTreeSet<Vec<String>>) -> Bindings {
    let mut out = Bindings::new();
    for f in files {
        for p in paths(&f.code, false) {
            let (Some(name), Some(abs)) = (&p.binding, absolute(&f.module, &p.segments, modules))
            else {
                continue;
            };
            out.entry(f.module.clone())
                .or_default()
                .insert(name.clone(), abs);
        }
    }
    out
}

/// The module that defines what the path `abs` (from the crate root) names: its longest prefix that is a
/// module, followed through the `use` declarations that bind the next segment there.
fn resolve(abs: Vec<String>, modules: &BTreeSet<Vec<String>>, bindings: &Bindings) -> Vec<String> {
    let mut abs = abs;
    let mut hops = 0;
    loop {
        let mut m: Vec<String> = Vec::new();
        for s in &abs {
            let mut next = m.clone();
            next.push(s.clone());
            if !modules.contains(&next) {
                break;
            }
            m = next;
        }
        let target = abs
            .get(m.len())
            .and_then(|name| bindings.get(&m)?.get(name))
            .filter(|t| **t != abs[..=m.len()]);
        match target {
            // A chain of re-exports is short; the bound guards against a name bound to itself in a loop.
            Some(t) if hops < 8 => {
                let mut t = t.clone();
                t.extend(abs[m.len() + 1..].iter().cloned());
                abs = t;
                hops += 1;
            }
            _ => return m,
        }
    }
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
