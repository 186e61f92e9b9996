//! What this host can enforce, found by trying rather than guessing from sysctls: a child is
//! cloned into new user, mount and PID namespaces and does what the sandbox would do there
//! (map its ids, make the mount tree private); its exit code names the first step that failed.
//! `auto` uses the result to pick a pipeline; `codex-linux-sandbox doctor` prints all of it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Serialize;

use crate::plan::landlock;
use crate::sys;

/// Everything `doctor` reports.
#[derive(Clone, Debug, Serialize)]
pub struct HostProbe {
    pub kernel: String,
    pub uid: u32,
    /// The Landlock ABI version, or why there is none.
    pub landlock: Capability,
    /// Whether the namespace pipeline can run, or why not.
    pub namespaces: Capability,
    /// Whether a fresh `/proc` can be mounted there (else the bwrap pipeline masks `/proc`).
    pub fresh_proc: bool,
    /// An installed `bwrap`, for `--bwrap-path`.
    pub system_bwrap: Option<PathBuf>,
    /// The pipeline `auto` picks for a policy that restricts the filesystem.
    pub auto_pipeline: &'static str,
}

/// One thing the host can or cannot do.
#[derive(Clone, Debug, Serialize)]
pub struct Capability {
    pub available: bool,
    /// The version when available, the reason when not.
    pub detail: String,
}

impl<T: ToString> From<Result<T, String>> for Capability {
    fn from(result: Result<T, String>) -> Capability {
        match result {
            Ok(value) => Capability { available: true, detail: value.to_string() },
            Err(reason) => Capability { available: false, detail: reason },
        }
    }
}

pub fn probe() -> HostProbe {
    let namespaces = namespaces_available();
    HostProbe {
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_owned()).unwrap_or_default(),
        uid: sys::getuid(),
        landlock: landlock::probe_abi().map(|abi| format!("ABI {abi}")).into(),
        auto_pipeline: if namespaces.is_ok() { "bwrap" } else { "landlock" },
        namespaces: namespaces.map(|()| "user, mount and PID namespaces").into(),
        fresh_proc: fresh_proc_available(),
        system_bwrap: ["/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"]
            .iter()
            .map(Path::new)
            .find(|p| p.exists())
            .map(Path::to_path_buf),
    }
}

/// Whether this process may create the namespaces of the `bwrap` pipeline. Probed once per
/// process (about a tenth of a millisecond) and cached.
pub fn namespaces_available() -> Result<(), String> {
    cached().0.clone()
}

/// Whether a fresh procfs can be mounted in those namespaces. Containers whose `/proc` has
/// masked (over-mounted) paths forbid it; the bwrap pipeline then masks `/proc` instead.
pub fn fresh_proc_available() -> bool {
    cached().1
}

fn cached() -> &'static (Result<(), String>, bool) {
    static RESULT: OnceLock<(Result<(), String>, bool)> = OnceLock::new();
    RESULT.get_or_init(probe_namespaces)
}

/// The probe child's exit code when everything but the procfs mount worked.
const PROC_REFUSED: i32 = 10;

const STEPS: [&str; 5] = [
    "",
    "write /proc/self/setgroups",
    "write /proc/self/uid_map",
    "write /proc/self/gid_map",
    "make the mount tree private",
];

fn probe_namespaces() -> (Result<(), String>, bool) {
    match run_probe_child() {
        Ok(()) => (Ok(()), true),
        Err(None) => (Ok(()), false),
        Err(Some(reason)) => (Err(reason), false),
    }
}

/// `Err(None)`: namespaces work but a fresh procfs was refused.
fn run_probe_child() -> Result<(), Option<String>> {
    let (uid, gid) = (sys::getuid(), sys::getgid());
    let uid_map = format!("{uid} {uid} 1\n");
    let gid_map = format!("{gid} {gid} 1\n");
    let flags = (libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_NEWPID) as u64;
    let saved_mask = sys::block_all_signals();
    // SAFETY: the child only performs the async-signal-safe steps below and exits.
    let cloned = unsafe { sys::clone_process(flags) };
    if let Ok((0, _)) = cloned {
        let write = |path: &std::ffi::CStr, data: &[u8]| {
            sys::open(path, libc::O_WRONLY).and_then(|fd| {
                let result = sys::write_all(fd, data);
                sys::close(fd);
                result
            })
        };
        let steps = [
            write(c"/proc/self/setgroups", b"deny"),
            write(c"/proc/self/uid_map", uid_map.as_bytes()),
            write(c"/proc/self/gid_map", gid_map.as_bytes()),
            sys::mount_propagation(c"/", libc::MS_REC | libc::MS_PRIVATE),
        ];
        let failed = steps.iter().position(Result::is_err).map_or(0, |i| i + 1);
        if failed != 0 {
            sys::exit_immediately(failed as i32);
        }
        // This child is PID 1 of its PID namespace, as the sandbox's init would be.
        let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        let proc = sys::mount(c"proc", c"/proc", c"proc", flags, None);
        sys::exit_immediately(if proc.is_ok() { 0 } else { PROC_REFUSED });
    }
    sys::set_signal_mask(&saved_mask);
    let (pid, _) =
        cloned.map_err(|errno| Some(format!("cannot create user, mount and PID namespaces: {}", errno.into_io())))?;
    let status = sys::waitpid(pid, 0).map_err(|errno| Some(format!("probe child lost: {}", errno.into_io())))?.1;
    if !libc::WIFEXITED(status) {
        return Err(Some(format!("probe child ended with status {status:#x}")));
    }
    match libc::WEXITSTATUS(status) {
        0 => Ok(()),
        PROC_REFUSED => Err(None),
        step if (1..STEPS.len() as i32).contains(&step) => {
            Err(Some(format!("cannot {} in a new user namespace", STEPS[step as usize])))
        }
        other => Err(Some(format!("probe child exited with {other}"))),
    }
}
