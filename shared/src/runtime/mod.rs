//! What every binary runs around its work: logging set-up, shutdown on a signal, and the admin server
//! (`/healthz`, `/readyz` with a readiness handle, `/metrics`).

pub mod admin;
pub mod logging;
pub mod signal;
