//! Optional resource limits of a sandbox: memory, CPU time, file size, open files (each an
//! rlimit of the command, inherited by every process it starts) and wall-clock time (enforced
//! by the sandbox's init, which ends the whole tree when it expires).
//!
//! None is on by default: an agent's commands are builds, test suites and package installs,
//! whose needs vary by orders of magnitude, and a default low enough to matter (nsjail's 1 MiB
//! file size, 32 open files, 600 s of CPU) would break them. Only the process budget
//! (`max_processes`) has a default, because a fork bomb harms the host's other processes.
//!
//! Every limit only ever lowers what the launcher has: a value above the launcher's own hard
//! limit is clamped to it (the command could not get more anyway, and "at most N" still holds),
//! and the plan's warnings say so.

use std::time::Duration;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::probe::cgroup::DelegatedCgroup;

/// What the caller asks for; every field `None` by default (no limit).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceLimits {
    /// Address space of each process (`RLIMIT_AS`), in bytes.
    pub memory_bytes: Option<u64>,
    /// CPU time of each process (`RLIMIT_CPU`), in seconds: SIGXCPU at the limit, SIGKILL one
    /// second later.
    pub cpu_seconds: Option<u64>,
    /// The largest file a process may write (`RLIMIT_FSIZE`), in bytes: a write past it fails
    /// with EFBIG after SIGXFSZ (which kills unless caught or ignored).
    pub file_size_bytes: Option<u64>,
    /// Open descriptors of each process (`RLIMIT_NOFILE`): a higher one fails with EMFILE.
    pub open_files: Option<u64>,
    /// Wall-clock time of the whole sandbox, from its start: when it expires the sandbox's init
    /// kills the command (SIGKILL) and ends every other process of the run.
    pub wall_time: Option<Duration>,
}

/// The valid range of each limit: below it nothing could run, above it no kernel enforces less
/// than no limit at all.
const MEMORY: (&str, u64, u64) = ("max-memory", 1 << 20, 1 << 47);
const CPU: (&str, u64, u64) = ("max-cpu-seconds", 1, 1 << 32);
const FILE_SIZE: (&str, u64, u64) = ("max-file-size", 1, i64::MAX as u64);
/// Below 3 the command would lose a standard stream's number; above, the kernel's default
/// `fs.nr_open`.
const OPEN_FILES: (&str, u64, u64) = ("max-open-files", 3, 1 << 20);
/// From one millisecond to a year.
const WALL_MS: (&str, u64, u64) = ("max-wall-time", 1, 365 * 24 * 3600 * 1000);

/// One rlimit the command gets (soft and hard), for `--explain` and the child.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Rlimit {
    /// `RLIMIT_AS`, `RLIMIT_CPU`, `RLIMIT_FSIZE` or `RLIMIT_NOFILE`.
    pub name: &'static str,
    #[serde(skip)]
    pub resource: i32,
    pub soft: u64,
    pub hard: u64,
}

/// The planned limits.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LimitsPlan {
    /// Set in the command's process after the launcher's own setup, just before `execve`;
    /// inherited by everything it starts.
    pub rlimits: Vec<Rlimit>,
    /// The sandbox's wall-clock limit, in milliseconds (its init enforces it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wall_time_ms: Option<u64>,
    /// Where a memory cgroup can be made: the memory limit also bounds the whole sandbox
    /// (every process of it together, tmpfs pages included; the kernel's OOM killer ends a
    /// process of the run with SIGKILL at the limit), in a child cgroup of this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_cgroup: Option<MemoryCgroup>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemoryCgroup {
    #[serde(flatten)]
    pub cgroup: DelegatedCgroup,
    pub max_bytes: u64,
}

impl LimitsPlan {
    pub fn is_empty(&self) -> bool {
        self.rlimits.is_empty() && self.wall_time_ms.is_none()
    }
}

fn check(field: &(&str, u64, u64), value: u64, unit: &str) -> Result<u64> {
    let (name, low, high) = *field;
    if value < low || value > high {
        return Err(Error::argument(
            name,
            format!("{value}{unit} is outside the valid range {low}{unit}..={high}{unit}"),
        ));
    }
    Ok(value)
}

/// Validates `limits` and plans them against the launcher's own hard limits (`current_hard`
/// gives the hard limit of a resource; a limit above it is clamped, with a warning) and, for
/// memory, the memory cgroup this process may make (or why not).
pub(crate) fn plan(
    limits: &ResourceLimits,
    current_hard: impl Fn(i32) -> u64,
    memory_cgroup: &std::result::Result<DelegatedCgroup, String>,
    warnings: &mut Vec<String>,
) -> Result<LimitsPlan> {
    let mut rlimits = Vec::new();
    let mut add = |name: &'static str, resource: i32, soft: u64, hard: u64| {
        let launcher = current_hard(resource);
        if hard > launcher {
            warnings.push(format!(
                "{name}: {hard} is above this launcher's own hard limit {launcher}; the command gets {launcher} (limits \
                 are only ever lowered)"
            ));
        }
        let hard = hard.min(launcher);
        rlimits.push(Rlimit { name, resource, soft: soft.min(hard), hard });
    };
    if let Some(bytes) = limits.memory_bytes {
        let bytes = check(&MEMORY, bytes, " bytes")?;
        add("RLIMIT_AS", libc::RLIMIT_AS as i32, bytes, bytes);
    }
    if let Some(seconds) = limits.cpu_seconds {
        let seconds = check(&CPU, seconds, " s")?;
        // SIGXCPU at the soft limit, SIGKILL at the hard one a second later.
        add("RLIMIT_CPU", libc::RLIMIT_CPU as i32, seconds, seconds.saturating_add(1));
    }
    if let Some(bytes) = limits.file_size_bytes {
        let bytes = check(&FILE_SIZE, bytes, " bytes")?;
        add("RLIMIT_FSIZE", libc::RLIMIT_FSIZE as i32, bytes, bytes);
    }
    if let Some(count) = limits.open_files {
        let count = check(&OPEN_FILES, count, "")?;
        add("RLIMIT_NOFILE", libc::RLIMIT_NOFILE as i32, count, count);
    }
    let wall_time_ms = limits
        .wall_time
        .map(|wall| check(&WALL_MS, u64::try_from(wall.as_millis()).unwrap_or(u64::MAX), " ms"))
        .transpose()?;
    let memory_cgroup = match (limits.memory_bytes, memory_cgroup) {
        (Some(max_bytes), Ok(cgroup)) => Some(MemoryCgroup { cgroup: cgroup.clone(), max_bytes }),
        (Some(_), Err(why)) => {
            warnings.push(format!(
                "the memory limit is per process (RLIMIT_AS), not for the sandbox as a whole: no memory cgroup can \
                 be made ({why})"
            ));
            None
        }
        (None, _) => None,
    };
    Ok(LimitsPlan { rlimits, wall_time_ms, memory_cgroup })
}

/// The launcher's own hard limit of `resource`.
pub(crate) fn launcher_hard_limit(resource: i32) -> u64 {
    let mut current = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `current` is a valid out parameter; `resource` is one of the constants above.
    if unsafe { libc::getrlimit(resource as crate::sys::RlimitResource, &mut current) } != 0 {
        return u64::MAX;
    }
    current.rlim_max
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(limits: ResourceLimits, hard: u64) -> (Result<LimitsPlan>, Vec<String>) {
        let mut warnings = Vec::new();
        (plan(&limits, |_| hard, &Err("none".into()), &mut warnings), warnings)
    }

    #[test]
    fn every_limit_is_planned_as_an_rlimit() {
        let limits = ResourceLimits {
            memory_bytes: Some(64 << 20),
            cpu_seconds: Some(5),
            file_size_bytes: Some(4096),
            open_files: Some(32),
            wall_time: Some(Duration::from_millis(1500)),
        };
        let (plan, warnings) = planned(limits, u64::MAX);
        let plan = plan.unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("per process (RLIMIT_AS)"), "{warnings:?}");
        let pairs: Vec<_> = plan.rlimits.iter().map(|r| (r.name, r.soft, r.hard)).collect();
        assert_eq!(
            pairs,
            [
                ("RLIMIT_AS", 64 << 20, 64 << 20),
                ("RLIMIT_CPU", 5, 6),
                ("RLIMIT_FSIZE", 4096, 4096),
                ("RLIMIT_NOFILE", 32, 32)
            ]
        );
        assert_eq!(plan.wall_time_ms, Some(1500));
    }

    #[test]
    fn zero_and_absurd_values_name_the_field_and_value() {
        let cases = [
            (ResourceLimits { memory_bytes: Some(0), ..Default::default() }, "`max-memory`: 0 bytes"),
            (ResourceLimits { memory_bytes: Some(1 << 60), ..Default::default() }, "`max-memory`"),
            (ResourceLimits { cpu_seconds: Some(0), ..Default::default() }, "`max-cpu-seconds`: 0 s"),
            (ResourceLimits { file_size_bytes: Some(0), ..Default::default() }, "`max-file-size`: 0 bytes"),
            (ResourceLimits { open_files: Some(2), ..Default::default() }, "`max-open-files`: 2 is outside"),
            (ResourceLimits { wall_time: Some(Duration::ZERO), ..Default::default() }, "`max-wall-time`: 0 ms"),
        ];
        for (limits, expected) in cases {
            let error = planned(limits, u64::MAX).0.unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn a_limit_above_the_launchers_hard_limit_is_clamped_never_raised() {
        let (plan, warnings) =
            planned(ResourceLimits { open_files: Some(4096), cpu_seconds: Some(10), ..Default::default() }, 100);
        let plan = plan.unwrap();
        assert_eq!(plan.rlimits.iter().map(|r| (r.soft, r.hard)).collect::<Vec<_>>(), [(10, 11), (100, 100)]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("RLIMIT_NOFILE: 4096 is above"), "{warnings:?}");
    }
}
