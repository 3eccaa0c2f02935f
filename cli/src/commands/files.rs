//! Reading manifests: files, directories (recursively) and standard input, each split into its YAML
//! documents by `input`.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::input::{Doc, Located, split_documents};

/// The name used for standard input in reports.
pub const STDIN: &str = "<stdin>";

/// Reads every input (`-` is standard input; a directory is read recursively, `.yaml`, `.yml` and `.json`
/// files in name order). An input that cannot be read becomes one document carrying the error.
pub fn read_inputs(inputs: &[String]) -> Vec<Doc> {
    let mut docs = Vec::new();
    for input in inputs {
        if input == "-" {
            let mut text = String::new();
            match std::io::stdin().read_to_string(&mut text) {
                Ok(_) => docs.extend(split_documents(STDIN, &text)),
                Err(e) => docs.push(unreadable(STDIN, &e.to_string())),
            }
            continue;
        }
        let path = Path::new(input);
        let files = if path.is_dir() {
            let mut files = Vec::new();
            collect_dir(path, &mut files, &mut docs);
            files.sort();
            files
        } else {
            vec![path.to_path_buf()]
        };
        for f in files {
            let name = f.display().to_string();
            match std::fs::read(&f) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => docs.extend(split_documents(&name, &text)),
                    Err(_) => docs.push(unreadable(&name, "not UTF-8 text")),
                },
                Err(e) => docs.push(unreadable(&name, &e.to_string())),
            }
        }
    }
    docs
}

fn unreadable(file: &str, why: &str) -> Doc {
    Doc {
        file: file.to_string(),
        line: 1,
        value: Err(Located {
            line: 1,
            message: format!("cannot read: {why}"),
        }),
    }
}

fn is_manifest(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

fn collect_dir(dir: &Path, files: &mut Vec<PathBuf>, docs: &mut Vec<Doc>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            docs.push(unreadable(&dir.display().to_string(), &e.to_string()));
            return;
        }
    };
    for entry in entries.flatten() {
        let p = entry.path();
        // Hidden directories (.git, .github) hold no manifests to check.
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if p.is_dir() && !hidden {
            collect_dir(&p, files, docs);
        } else if p.is_file() && is_manifest(&p) {
            files.push(p);
        }
    }
}
