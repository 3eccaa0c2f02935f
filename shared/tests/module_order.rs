//! The shared library's modules in one-way order: each imports only the modules before it, and the pure
//! ones name no I/O. This list is the order; the crate root (`lib.rs`) comes last.

use crate::support::module_order::{Order, check};

const ORDER: Order = Order {
    modules: &[
        "error",
        "tls",
        "redact",
        "backoff",
        // the API: the CRD types (KafkaConnectorPolicy's too) and the CRD generator
        "crd",
        // config rules and request annotations
        "config",
        "config_from",
        "requests",
        "plugin_version",
        // the Kafka Connect REST client, and what is built on it
        "connect",
        "offsets",
        // how to reach a Connect cluster's Kafka (settings, the bootstrap list)
        "kafka",
        "cluster",
        "target",
        // Kubernetes watches
        "watch",
        // policies: the connector view, compiling, the evaluation, the compiled set kept from a watch
        "policy",
        // what every binary runs around its work
        "runtime",
    ],
    exempt: &[],
    folders: &[],
    // decisions without I/O, shared by both binaries
    pure: &[
        "redact",
        "config",
        "config_from",
        "requests",
        "plugin_version",
        "policy::view",
        "policy::render",
        "offsets",
        "target",
    ],
};

#[test]
fn each_module_imports_only_the_modules_before_it() {
    let problems = check(std::path::Path::new(env!("CARGO_MANIFEST_DIR")), &ORDER);
    assert!(
        problems.is_empty(),
        "imports against the module order:\n{}",
        problems.join("\n")
    );
}
