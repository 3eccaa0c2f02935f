//! The shared library's tests through its public API, built as one test binary rather than one per file; each
//! module is one subject. `support` holds what the other crates' tests include too.

mod support {
    pub mod cluster_references;
    pub mod module_order;
}

mod cluster_references;
mod crds_up_to_date;
mod example_policies;
mod module_order;
