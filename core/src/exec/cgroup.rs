//! The run's own cgroups (see `probe::cgroup`): for each limited controller (`pids`, `memory`)
//! a child of this process's cgroup in that controller's hierarchy (one directory for both in
//! cgroup v2), made before `clone` with its limit set. The sandbox's first process is written
//! into each `cgroup.procs` by the launcher while that process waits (it does nothing until
//! told, so no process of the command ever runs outside), and the cgroups are removed once the
//! run is reaped.
//!
//! Nothing else is touched: no controller is enabled, no other cgroup is written, this process
//! stays where it is.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::{Error, Result};
use crate::probe::cgroup::DelegatedCgroup;

/// One limit of a run's cgroup.
pub(crate) enum CgroupLimit {
    /// `pids.max`: processes and threads together.
    Pids(u64),
    /// The memory of every process together (v2 `memory.max`, v1 `memory.limit_in_bytes`), and
    /// no swap beyond it where the kernel accounts swap.
    Memory(u64),
}

impl CgroupLimit {
    /// `(file, value, required)` to write, in order, for a cgroup of `hierarchy`.
    fn files(&self, hierarchy: &str) -> Vec<(&'static str, String, bool)> {
        match (self, hierarchy) {
            (CgroupLimit::Pids(max), _) => vec![("pids.max", max.to_string(), true)],
            (CgroupLimit::Memory(max), "v2") => {
                vec![("memory.max", max.to_string(), true), ("memory.swap.max", "0".into(), false)]
            }
            (CgroupLimit::Memory(max), _) => vec![
                ("memory.limit_in_bytes", max.to_string(), true),
                // Memory plus swap, where swap is accounted: the same total.
                ("memory.memsw.limit_in_bytes", max.to_string(), false),
            ],
        }
    }
}

/// The directories of a run's cgroups.
#[derive(Debug)]
pub(crate) struct RunCgroup {
    dirs: Vec<PathBuf>,
}

fn setup(stage: &'static str, dir: &Path, source: io::Error) -> Error {
    Error::Setup {
        stage,
        subject: Some(dir.display().to_string()),
        source,
        hint: " (a limit of this run needs a cgroup of its own; `--explain` shows which)",
    }
}

impl RunCgroup {
    /// Makes `codex-sandbox-<pid>-<n>` under each parent (once per directory: v2 has one
    /// hierarchy for every controller) with its limits set.
    pub(crate) fn create(limits: &[(&DelegatedCgroup, CgroupLimit)]) -> Result<RunCgroup> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        // A name left by an earlier process with this pid is skipped, never reused.
        'names: for _ in 0..64 {
            let name = format!("codex-sandbox-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
            let mut made = RunCgroup { dirs: Vec::new() };
            for (parent, limit) in limits {
                let dir = parent.parent.join(&name);
                if !made.dirs.contains(&dir) {
                    match std::fs::create_dir(&dir) {
                        Ok(()) => made.dirs.push(dir.clone()),
                        // Dropping `made` removes what was made (empty).
                        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue 'names,
                        Err(error) => return Err(setup("create the run's cgroup", &dir, error)),
                    }
                }
                for (file, value, required) in limit.files(parent.hierarchy) {
                    match write(&dir.join(file), &value) {
                        Ok(()) => {}
                        Err(error) if !required && error.kind() == io::ErrorKind::NotFound => {}
                        Err(error) => return Err(setup("set a limit of the run's cgroup", &dir.join(file), error)),
                    }
                }
            }
            return Ok(made);
        }
        let parent = limits.first().map_or(Path::new("/"), |(parent, _)| parent.parent.as_path());
        Err(setup("create the run's cgroup", parent, io::Error::from(io::ErrorKind::AlreadyExists)))
    }

    /// Puts `pid` (the sandbox's first process, waiting for this) into every cgroup of the run.
    pub(crate) fn add(&self, pid: libc::pid_t) -> Result<()> {
        for dir in &self.dirs {
            write(&dir.join("cgroup.procs"), &pid.to_string())
                .map_err(|source| setup("move the sandbox into its cgroup", dir, source))?;
        }
        Ok(())
    }

    /// The run's cgroup directories.
    pub(crate) fn paths(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Removes the cgroups once the run is reaped. The kernel drops an exiting task from its
    /// cgroup a moment after its parent can reap it, so a busy cgroup is retried for up to a
    /// second.
    pub(crate) fn remove(mut self) {
        for dir in std::mem::take(&mut self.dirs) {
            for _ in 0..200 {
                match std::fs::remove_dir(&dir) {
                    Err(error) if error.raw_os_error() == Some(libc::EBUSY) => {
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    }
                    _ => break,
                }
            }
        }
    }
}

fn write(path: &Path, value: &str) -> io::Result<()> {
    std::fs::OpenOptions::new().write(true).open(path)?.write_all(value.as_bytes())
}

impl Drop for RunCgroup {
    /// A run dropped unreaped may still have processes in it: one attempt each, which fails
    /// (and leaves the cgroup) while it is busy.
    fn drop(&mut self) {
        for dir in &self.dirs {
            let _ = std::fs::remove_dir(dir);
        }
    }
}
