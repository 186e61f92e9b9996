//! What this host can enforce, found by trying rather than guessing from sysctls: a child is
//! cloned into new user, mount and PID namespaces and does what the sandbox would do there
//! (map its ids, make the mount tree private); its exit code names the first step that failed.
//! `auto` uses the result to pick a pipeline; `codex-linux-sandbox doctor` prints all of it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Serialize;

use crate::landlock;
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
        // SAFETY: getuid cannot fail.
        uid: unsafe { libc::getuid() },
        landlock: landlock::probe_abi().map(|abi| format!("ABI {abi}")).into(),
        auto_pipeline: if namespaces.is_ok() { "bwrap" } else { "landlock" },
        namespaces: namespaces.map(|()| "user, mount and PID namespaces").into(),
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
    static RESULT: OnceLock<Result<(), String>> = OnceLock::new();
    RESULT.get_or_init(probe_namespaces).clone()
}

const STEPS: [&str; 5] = [
    "",
    "write /proc/self/setgroups",
    "write /proc/self/uid_map",
    "write /proc/self/gid_map",
    "make the mount tree private",
];

fn probe_namespaces() -> Result<(), String> {
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let uid_map = format!("{uid} {uid} 1\n");
    let gid_map = format!("{gid} {gid} 1\n");
    let flags = (libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_NEWPID) as u64;
    let mut pidfd = -1;
    let saved_mask = sys::block_all_signals();
    // SAFETY: the child only performs the async-signal-safe steps below and exits.
    let cloned = unsafe { sys::clone_process(flags, &mut pidfd) };
    if let Ok(0) = cloned {
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
            sys::mount_propagation(c"/", libc::MS_REC | libc::MS_SLAVE),
        ];
        let failed = steps.iter().position(Result::is_err).map_or(0, |i| i + 1);
        sys::exit_immediately(failed as i32);
    }
    sys::set_signal_mask(&saved_mask);
    let pid = cloned.map_err(|errno| format!("cannot create user, mount and PID namespaces: {}", errno.into_io()))?;
    let status = sys::waitpid(pid, 0).map_err(|errno| format!("probe child lost: {}", errno.into_io()))?.1;
    match libc::WEXITSTATUS(status) as usize {
        0 if libc::WIFEXITED(status) => Ok(()),
        step if (1..STEPS.len()).contains(&step) => Err(format!("cannot {} in a new user namespace", STEPS[step])),
        _ => Err(format!("probe child ended with status {status:#x}")),
    }
}
