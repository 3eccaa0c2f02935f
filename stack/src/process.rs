//! Child processes that never outlive their owner: logs go to a file, the child gets SIGTERM when the thread
//! that spawned it dies (PR_SET_PDEATHSIG), and dropping the handle stops it (SIGTERM, then SIGKILL).

// Signals and the parent-death signal are only reachable through libc.
#![allow(unsafe_code)]

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// One process of a running stack, as recorded in the env file for scripts and `cw-stack down`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessInfo {
    pub name: String,
    pub pid: u32,
    /// When the process started (clock ticks after boot, from `/proc/<pid>/stat`): a pid that was reused by
    /// another process after ours exited has a different value, so it is never signalled by mistake.
    #[serde(default)]
    pub start_ticks: u64,
    #[serde(default)]
    pub log: PathBuf,
}

impl ProcessInfo {
    /// This process (`cw-stack` itself).
    pub fn current(name: &str, log: PathBuf) -> ProcessInfo {
        let pid = std::process::id();
        ProcessInfo {
            name: name.to_string(),
            pid,
            start_ticks: start_ticks(pid).unwrap_or(0),
            log,
        }
    }

    /// Whether the recorded process still runs (not a zombie, and not a later process with the same pid).
    pub fn is_running(&self) -> bool {
        start_ticks(self.pid).is_some_and(|t| self.start_ticks == 0 || t == self.start_ticks)
    }

    /// Sends `signal` if the recorded process still runs; true if it was sent.
    pub fn signal(&self, signal: libc::c_int) -> bool {
        if !self.is_running() {
            return false;
        }
        // SAFETY: kill(2) on a pid we checked is still the process we recorded.
        unsafe { libc::kill(self.pid as libc::pid_t, signal) == 0 }
    }
}

/// The start time of a live, non-zombie process, from field 22 of `/proc/<pid>/stat`.
pub fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces: fields are counted after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state).
    if fields.first() == Some(&"Z") || fields.first() == Some(&"X") {
        return None;
    }
    fields.get(22 - 3)?.parse().ok()
}

pub struct Proc {
    pub name: String,
    pub log: PathBuf,
    child: Option<Child>,
}

impl Proc {
    /// Spawns `cmd` with stdout and stderr appended to `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> crate::Result<Proc> {
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir)
                .map_err(crate::io(format!("creating {}", dir.display())))?;
        }
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .map_err(crate::io(format!("opening {}", log.display())))?;
        let err = out.try_clone().map_err(crate::io("cloning a log handle"))?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        // SAFETY: prctl and setpgid are async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                // Own process group, so Ctrl-C in a terminal reaches only the owner, which then stops us in order.
                libc::setpgid(0, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(crate::io(format!("starting {name}")))?;
        Ok(Proc {
            name: name.to_string(),
            log: log.to_path_buf(),
            child: Some(child),
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Name, pid and log, for the env file; `None` once stopped.
    pub fn info(&self) -> Option<ProcessInfo> {
        let pid = self.pid()?;
        Some(ProcessInfo {
            name: self.name.clone(),
            pid,
            start_ticks: start_ticks(pid).unwrap_or(0),
            log: self.log.clone(),
        })
    }

    /// An error if the process has already exited.
    pub fn check_alive(&mut self) -> crate::Result<()> {
        if let Some(child) = self.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            return Err(crate::Error::Exited {
                what: self.name.clone(),
                status: status.to_string(),
                log: self.log.display().to_string(),
            });
        }
        Ok(())
    }

    /// SIGTERM, wait up to `grace`, then SIGKILL.
    pub fn stop(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id() as libc::pid_t;
        // SAFETY: plain kill(2) on our own child's pid, which cannot have been reaped yet.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// SIGKILL at once (to simulate a crash).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(10));
    }
}

/// Polls `ready` every 200 ms until it returns true, the process dies, or `timeout` passes.
pub fn wait_ready(
    proc_: &mut Proc,
    timeout: Duration,
    mut ready: impl FnMut() -> bool,
) -> crate::Result<()> {
    let start = Instant::now();
    loop {
        proc_.check_alive()?;
        if ready() {
            return Ok(());
        }
        if start.elapsed() > timeout {
            return Err(crate::Error::NotReady {
                what: proc_.name.clone(),
                secs: timeout.as_secs(),
                log: proc_.log.display().to_string(),
            });
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_process_is_recognised_until_it_exits() {
        let me = ProcessInfo::current("me", PathBuf::new());
        assert!(me.start_ticks > 0 && me.is_running());
        let reused = ProcessInfo {
            start_ticks: me.start_ticks + 1,
            ..me.clone()
        };
        assert!(
            !reused.is_running(),
            "a different start time is another process"
        );

        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let mut p = Proc::spawn(
            "sleeper",
            cmd,
            &std::env::temp_dir().join(format!("cw-proc-test-{}.log", std::process::id())),
        )
        .unwrap();
        let info = p.info().unwrap();
        assert!(info.is_running());
        p.stop(Duration::from_secs(5));
        assert!(!info.is_running());
        assert!(
            !info.signal(libc::SIGTERM),
            "nothing to signal once it is gone"
        );
        let _ = std::fs::remove_file(&info.log);
    }
}
