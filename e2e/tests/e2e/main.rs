//! End-to-end tests: one test binary, so one run shares one stack (see `e2e/src/lib.rs`). Run them with
//! `make test`, which starts the stack and sets `CW_STACK_ENV`.

mod aggregation;
mod alerts;
mod cli;
mod client;
mod config_from;
mod config_from_admission;
mod controller;
mod gitops;
mod helm;
mod images;
mod install;
mod kafka_stack;
mod kube_api;
mod lag;
mod namespace_lifecycle;
mod namespaced_install;
mod offsets;
mod ordering;
mod ownership;
mod policies;
mod rbac;
mod recovery;
mod sharing;
mod versions;
mod watch_namespaces;
mod webhook;
