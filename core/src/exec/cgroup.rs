//! The run's own pids cgroup (see `probe::cgroup`): a child of this process's cgroup, made
//! before `clone` with `pids.max` set, the sandbox's first process written into its
//! `cgroup.procs` by the launcher while that process waits (it does nothing until told, so no
//! process of the command ever runs outside), removed once the run is reaped.
//!
//! Nothing else is touched: no controller is enabled, no other cgroup is written, this process
//! stays where it is.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::{Error, Result};
use crate::probe::cgroup::PidsCgroup;

/// Where a run's cgroup lives.
#[derive(Debug)]
pub(crate) struct RunCgroup {
    dir: PathBuf,
}

impl RunCgroup {
    /// Makes `codex-sandbox-<pid>-<n>` under `parent` with `pids.max` = `budget`.
    pub(crate) fn create(parent: &PidsCgroup, budget: u64) -> Result<RunCgroup> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let setup = |stage: &'static str, dir: &Path, source: io::Error| Error::Setup {
            stage,
            subject: Some(dir.display().to_string()),
            source,
            hint: " (the process budget of this run needs its own pids cgroup; run without --max-processes to \
                   accept none where the plan warns)",
        };
        // A name left by an earlier process with this pid is skipped, never reused.
        for _ in 0..64 {
            let dir = parent.parent.join(format!(
                "codex-sandbox-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            match std::fs::create_dir(&dir) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(error) => return Err(setup("create the run's pids cgroup", &dir, error)),
            }
            let cgroup = RunCgroup { dir };
            if let Err(error) = cgroup.write("pids.max", &budget.to_string()) {
                // Dropped: removed again (it is empty).
                return Err(setup("set pids.max of the run's cgroup", &cgroup.dir.clone(), error));
            }
            return Ok(cgroup);
        }
        Err(setup("create the run's pids cgroup", &parent.parent, io::Error::from(io::ErrorKind::AlreadyExists)))
    }

    /// Puts `pid` (the sandbox's first process, waiting for this) into the cgroup.
    pub(crate) fn add(&self, pid: libc::pid_t) -> Result<()> {
        self.write("cgroup.procs", &pid.to_string()).map_err(|source| Error::Setup {
            stage: "move the sandbox into its pids cgroup",
            subject: Some(self.dir.display().to_string()),
            source,
            hint: "",
        })
    }

    fn write(&self, file: &str, value: &str) -> io::Result<()> {
        std::fs::OpenOptions::new().write(true).open(self.dir.join(file))?.write_all(value.as_bytes())
    }

    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }

    /// Removes the cgroup once the run is reaped. The kernel drops an exiting task from its
    /// cgroup a moment after its parent can reap it, so a busy cgroup is retried for up to a
    /// second.
    pub(crate) fn remove(self) {
        for _ in 0..200 {
            match std::fs::remove_dir(&self.dir) {
                Err(error) if error.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                _ => break,
            }
        }
    }
}

impl Drop for RunCgroup {
    /// A run dropped unreaped may still have processes in it: one attempt, which fails (and
    /// leaves the cgroup) while it is busy.
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}
