//! What a ServiceAccount may do, as the API server answers it, against the checked-in lists in
//! `deploy/rbac/expected/`. A new permission then shows up as a reviewed change of those files.
//!
//! The lists sit beside the manifests, not with the tests: they are the readable statement of what an
//! installation is allowed to do, and every install method (kustomize, the Helm chart, namespace-scoped or
//! not) is compared against the same files.
//!
//! ```ignore
//! let actual = rbac::can_i_list("connect-warden", "connect-warden", "connect-warden-controller");
//! rbac::assert_expected("controller.install-namespace", "connect-warden", &actual);
//! ```

use std::path::PathBuf;

use crate::kubectl;

/// The folder of the expected lists, from the repository root.
pub const EXPECTED_DIR: &str = "deploy/rbac/expected";

/// Stands for the install namespace in an expected list, so one file serves any install namespace.
pub const INSTALL_NAMESPACE_PLACEHOLDER: &str = "${INSTALL_NAMESPACE}";

/// `kubectl auth can-i --list -n <namespace> --as=system:serviceaccount:<sa_namespace>:<service_account>`,
/// normalized by [`normalize`]. Panics with kubectl's output when kubectl fails.
pub fn can_i_list(namespace: &str, sa_namespace: &str, service_account: &str) -> String {
    let user = format!("system:serviceaccount:{sa_namespace}:{service_account}");
    let out = kubectl(&[
        "auth",
        "can-i",
        "--list",
        "--no-headers",
        "-n",
        namespace,
        "--as",
        &user,
    ])
    .expect_ok();
    normalize(&out.stdout)
}

/// One rule per line, each run of blanks one space, lines sorted and unique, with a final newline. kubectl
/// prints a padded table whose column widths depend on the longest entry; this keeps only its content.
pub fn normalize(table: &str) -> String {
    let mut lines: Vec<String> = table
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty() && !l.starts_with("Resources Non-Resource URLs"))
        .collect();
    lines.sort();
    lines.dedup();
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// The path of the expected list `name` (e.g. `controller.install-namespace`).
pub fn expected_path(name: &str) -> PathBuf {
    stack::cache::repo_root()
        .join(EXPECTED_DIR)
        .join(format!("{name}.txt"))
}

/// The expected list `name` for an installation in `install_namespace`, normalized like [`can_i_list`].
/// Lines starting with `#` are comments.
pub fn expected(name: &str, install_namespace: &str) -> String {
    let path = expected_path(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let body: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| l.replace(INSTALL_NAMESPACE_PLACEHOLDER, install_namespace) + "\n")
        .collect();
    normalize(&body)
}

/// The lines only in `expected` (`-`) and only in `actual` (`+`); empty when they are equal.
pub fn diff(expected: &str, actual: &str) -> String {
    let e: std::collections::BTreeSet<&str> = expected.lines().collect();
    let a: std::collections::BTreeSet<&str> = actual.lines().collect();
    let mut out = String::new();
    for l in e.difference(&a) {
        out.push_str(&format!("- {l}\n"));
    }
    for l in a.difference(&e) {
        out.push_str(&format!("+ {l}\n"));
    }
    out
}

/// With this variable set to 1, [`assert_expected`] writes what it found into the expected files (keeping
/// their leading comments) instead of failing: review the result with `git diff`.
pub const UPDATE_VARIABLE: &str = "CW_UPDATE_RBAC_EXPECTED";

/// Asserts that `actual` (from [`can_i_list`]) equals the expected list `name`, or panics with the
/// difference and how to accept it.
#[track_caller]
pub fn assert_expected(name: &str, install_namespace: &str, actual: &str) {
    let want = expected(name, install_namespace);
    if want != actual && std::env::var(UPDATE_VARIABLE).as_deref() == Ok("1") {
        let path = expected_path(name);
        let comments: String = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .take_while(|l| l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&path, format!("{comments}{actual}"))
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        return;
    }
    if want != actual {
        panic!(
            "the permissions differ from {} (- expected, + actual):\n{}\n\
             If the change is intended, review it and update that file: its content is the list above \
             with the + lines added and the - lines removed (the namespace {install_namespace:?} written \
             as {INSTALL_NAMESPACE_PLACEHOLDER} where it appears), or run the test again with \
             {UPDATE_VARIABLE}=1 and review `git diff`.",
            expected_path(name).display(),
            diff(&want, actual)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_keeps_the_content_of_the_table() {
        let table = "Resources      Non-Resource URLs   Resource Names   Verbs\n\
                     leases.coordination.k8s.io   []   [cw]   [get watch]\n\
                     \x20                         [/api/*]   []   [get]\n\
                     leases.coordination.k8s.io   []   [cw]   [get watch]\n";
        assert_eq!(
            normalize(table),
            "[/api/*] [] [get]\nleases.coordination.k8s.io [] [cw] [get watch]\n"
        );
    }

    #[test]
    fn diff_names_both_sides() {
        assert_eq!(diff("a\nb\n", "b\nc\n"), "- a\n+ c\n");
        assert_eq!(diff("a\n", "a\n"), "");
    }
}
