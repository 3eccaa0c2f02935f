//! The webhook's modules in one-way order (ARCHITECTURE.md, "Webhook modules"): each imports only the
//! modules before it, and `admission` decides without I/O. This list is the order; the crate root (`lib.rs`:
//! `run`) comes last.

#[path = "../../shared/tests/support/module_order.rs"]
mod support;

use support::{Order, check};

const ORDER: Order = Order {
    modules: &[
        "error",
        // the one review pipeline, between its two seams
        "admission",
        // for tests, the fuzz target and the benchmark: the seams filled with maps and fixed answers
        "testing",
        "args",
        "metrics",
        // the server's side of the seams: watch caches and live reads, the Connect client
        "watched",
        "connect",
        // the HTTPS envelope, probes and metrics, certificate reloads
        "server",
    ],
    exempt: &[],
    folders: &[
        (
            "admission",
            &[
                "text",
                "request",
                "access",
                "decision",
                "exempt",
                "reserved",
                "objects",
                "connect",
                "mutate",
                "cluster",
                "policy",
                "connector",
            ],
        ),
        (
            "admission::connector",
            &[
                "findings",
                "requests",
                "local_rules",
                "config_from",
                "target",
                "policies",
                "offsets",
                "version",
                "response",
            ],
        ),
    ],
    pure: &["admission"],
};

#[test]
fn each_module_imports_only_the_modules_before_it() {
    let problems = check(std::path::Path::new(env!("CARGO_MANIFEST_DIR")), &ORDER);
    assert!(
        problems.is_empty(),
        "imports against the module order (ARCHITECTURE.md, \"Webhook modules\"):\n{}",
        problems.join("\n")
    );
}
