//! Child processes that never outlive their owner: logs go to a file, the child gets SIGTERM when the thread
//! that spawned it dies (PR_SET_PDEATHSIG), and dropping the handle stops it (SIGTERM, then SIGKILL).

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
