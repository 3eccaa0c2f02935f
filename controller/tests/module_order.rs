//! The controller's modules in one-way order (ARCHITECTURE.md, "Controller modules"): each imports only
//! the modules before it, the files inside the folders listed import only the files before them, and the
//! pure modules name no I/O. This list is the order; the crate root (`lib.rs`: wiring, leadership) comes
//! last.

#[path = "../../shared/tests/support/module_order.rs"]
mod support;

use support::{Order, check};

const ORDER: Order = Order {
    modules: &[
        "error",
        // pure
        "conditions",
        "restart",
        "plan",
        "offsets",
        "contention",
        "progress",
        "status",
        // edges
        "metrics",
        "events",
        "kube_writes",
        "watched",
        "retries",
        "fingerprints",
        "policies",
        // the Kafka admin-read client lag is measured with
        "kafka",
        // one client and one poller per Connect cluster
        "connect_runtime",
        // what the reconcilers share, and the reconcilers
        "context",
        "reconcile",
        // the flags, and the allocator settings `main` applies
        "args",
        "memory",
    ],
    exempt: &["fixtures"],
    folders: &[
        ("plan", &["model", "ready", "restarts", "decide"]),
        (
            "kafka",
            &[
                "error",
                "versions",
                "shape",
                "records",
                "wire",
                "tls",
                "sasl",
                "conn",
                "plan",
                "source_offsets",
            ],
        ),
        (
            "connect_runtime",
            &["snapshot", "reports", "cluster", "prune", "poller", "lag"],
        ),
        (
            "reconcile::connector",
            &[
                "effects",
                "config_from",
                "offsets",
                "announce",
                "execute",
                "apply",
            ],
        ),
    ],
    pure: &[
        "conditions",
        "restart",
        "plan",
        "offsets",
        "contention",
        "progress",
        "status",
        "kafka::plan",
    ],
};

#[test]
fn each_module_imports_only_the_modules_before_it() {
    let problems = check(std::path::Path::new(env!("CARGO_MANIFEST_DIR")), &ORDER);
    assert!(
        problems.is_empty(),
        "imports against the module order (ARCHITECTURE.md, \"Controller modules\"):\n{}",
        problems.join("\n")
    );
}
