//! The description of a running stack, written as JSON by `cw-stack up` and read by tests and the demo
//! through `$CW_STACK_ENV`, so one stack is started per test run and shared by every test.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The name under which `cw-stack up` records itself in [`StackEnv::processes`].
pub const OWNER: &str = "cw-stack";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StackEnv {
    /// State directory: data, certificates and one log file per process.
    pub dir: PathBuf,
    pub kube: Option<crate::kube::KubeEnv>,
    pub kafka: Option<crate::kafka::KafkaEnv>,
    /// The shared webhook and controller, when started with `--warden`.
    #[serde(default)]
    pub warden: Option<crate::warden::WardenEnv>,
    /// Prometheus and Alertmanager, when started with `--monitoring`.
    #[serde(default)]
    pub monitoring: Option<crate::monitoring::MonitoringEnv>,
    /// `cw-stack up` itself (named `cw-stack`, first) and every process it started, with their pids and
    /// logs. `cw-stack down` stops the first, which stops the others in order.
    #[serde(default)]
    pub processes: Vec<crate::process::ProcessInfo>,
}

impl StackEnv {
    pub fn write(&self, path: &Path) -> crate::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| crate::Error::Env(e.to_string()))?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, json).map_err(crate::io(format!("writing {}", tmp.display())))?;
        std::fs::rename(&tmp, path).map_err(crate::io(format!("writing {}", path.display())))
    }

    pub fn read(path: &Path) -> crate::Result<StackEnv> {
        let bytes =
            std::fs::read(path).map_err(crate::io(format!("reading {}", path.display())))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| crate::Error::Env(format!("{}: {e}", path.display())))
    }

    /// The `cw-stack up` process that runs this stack.
    pub fn owner(&self) -> Option<&crate::process::ProcessInfo> {
        self.processes.iter().find(|p| p.name == OWNER)
    }

    /// The stack named by `$CW_STACK_ENV`. Tests call this and fail loudly when it is missing: the README's
    /// test command (`make test`) starts the stack and sets the variable.
    pub fn from_env() -> crate::Result<StackEnv> {
        let path = std::env::var_os("CW_STACK_ENV").ok_or_else(|| {
            crate::Error::Env(
                "CW_STACK_ENV is not set: run the tests with `make test`, which starts the real stack".into(),
            )
        })?;
        Self::read(Path::new(&path))
    }
}
