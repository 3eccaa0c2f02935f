//! cwctl's modules in one-way order (ARCHITECTURE.md, "cwctl"): each imports only the modules before it,
//! the files of `commands` import only the files before them, and the modules that decide name no I/O.
//! This list is the order; the crate root (`lib.rs`: wiring) comes last.

#[path = "../../shared/tests/support/module_order.rs"]
mod module_order;

use module_order::{Order, check};

const ORDER: Order = Order {
    modules: &[
        // pure: manifests as documents, the report's formats, and what diff, export and convert decide
        "input", "report", "diff", "export", "convert",
        // Kafka Connect: a worker's plugins as a snapshot (and the validator on it), how to reach one
        "offline", "connect", // the command line: commands, flags, help, exit codes
        "args",
        // every object through the webhook's own review, its two seams filled from here
        "validate",
        // each command's I/O: the files, Kafka Connect, standard output, the exit code
        "commands",
    ],
    exempt: &[],
    folders: &[(
        "commands",
        &["files", "validate", "snapshot", "diff", "export", "convert"],
    )],
    pure: &["input", "report", "diff", "export", "convert"],
};

#[test]
fn each_module_imports_only_the_modules_before_it() {
    let problems = check(std::path::Path::new(env!("CARGO_MANIFEST_DIR")), &ORDER);
    assert!(
        problems.is_empty(),
        "imports against the module order (ARCHITECTURE.md, \"cwctl\"):\n{}",
        problems.join("\n")
    );
}
