//! Host facts: what this host can enforce, found by trying rather than guessing from sysctls.
//!
//! [`HostFacts::probe`] gathers them once: the Landlock ABI, whether a child can be cloned into
//! new user, mount and PID namespaces and do there what the sandbox would (map its ids, make
//! the mount tree private, mount a fresh procfs), whether the new mount API and `openat2`
//! exist, the effective ids. [`HostFacts::get`] caches them for the process. Planning reads
//! nothing else about the host, so a test plans for any simulated host by building the facts
//! itself. `codex-linux-sandbox doctor` prints [`probe`].

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Serialize;

use crate::sys;

/// What planning needs to know about the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostFacts {
    /// The running kernel's release (`uname -r`).
    pub kernel: String,
    /// Effective ids: the ones the kernel checks (a set-uid launcher has real ≠ effective).
    pub euid: u32,
    pub egid: u32,
    /// The Landlock ABI version, or why there is none.
    pub landlock_abi: Result<u32, String>,
    /// Whether this process may create the namespace pipeline's namespaces, or why not.
    pub namespaces: Result<(), String>,
    /// Whether a fresh procfs can be mounted in them. Containers whose `/proc` has masked
    /// (over-mounted) paths forbid it; the namespace pipeline then masks `/proc` instead.
    pub fresh_proc: bool,
    /// `open_tree`, `move_mount` and `mount_setattr` (Linux 5.12), which the embedded launcher
    /// builds its view with.
    pub new_mount_api: bool,
    /// `openat2` (Linux 5.6), with which paths are opened without following symlinks.
    pub openat2: bool,
}

impl HostFacts {
    /// This host's facts, probed once per process (about a tenth of a millisecond).
    pub fn get() -> &'static HostFacts {
        static FACTS: OnceLock<HostFacts> = OnceLock::new();
        FACTS.get_or_init(HostFacts::probe)
    }

    /// Probes the host now.
    pub fn probe() -> HostFacts {
        let (namespaces, fresh_proc) = probe_namespaces();
        HostFacts {
            kernel: kernel_release(),
            euid: sys::geteuid(),
            egid: sys::getegid(),
            landlock_abi: landlock_abi(),
            namespaces,
            fresh_proc,
            new_mount_api: syscall_exists(libc::SYS_mount_setattr) && syscall_exists(libc::SYS_open_tree),
            openat2: syscall_exists(libc::SYS_openat2),
        }
    }

    /// A host with every feature this crate uses (Landlock `abi`, namespaces, a fresh procfs,
    /// the new mount API), as uid and gid 1000: the starting point of simulated hosts.
    pub fn capable(abi: u32) -> HostFacts {
        HostFacts {
            kernel: "6.12.0-simulated".into(),
            euid: 1000,
            egid: 1000,
            landlock_abi: Ok(abi),
            namespaces: Ok(()),
            fresh_proc: true,
            new_mount_api: true,
            openat2: true,
        }
    }

    /// Why the embedded namespace pipeline cannot run here, if it cannot.
    pub fn namespace_pipeline_blocker(&self) -> Option<String> {
        if let Err(reason) = &self.namespaces {
            return Some(reason.clone());
        }
        if !self.new_mount_api || !self.openat2 {
            return Some(format!(
                "kernel {} lacks the new mount API or openat2 (Linux 5.12 has both), which the embedded launcher \
                 builds its view with; use --bwrap-path /usr/bin/bwrap or the landlock pipeline",
                self.kernel
            ));
        }
        None
    }
}

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

/// This host's facts, as `doctor` prints them.
pub fn probe() -> HostProbe {
    let facts = HostFacts::get();
    let blocker = facts.namespace_pipeline_blocker();
    HostProbe {
        kernel: facts.kernel.clone(),
        uid: facts.euid,
        landlock: facts.landlock_abi.clone().map(|abi| format!("ABI {abi}")).into(),
        auto_pipeline: if blocker.is_none() { "bwrap" } else { "landlock" },
        namespaces: blocker.map_or(Ok("user, mount and PID namespaces"), Err).into(),
        fresh_proc: facts.fresh_proc,
        system_bwrap: ["/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"]
            .iter()
            .map(Path::new)
            .find(|p| p.exists())
            .map(Path::to_path_buf),
    }
}

fn kernel_release() -> String {
    sys::uname_release().unwrap_or_else(|| "unknown".into())
}

/// The running kernel's Landlock ABI version, or why there is none.
fn landlock_abi() -> Result<u32, String> {
    match sys::landlock_abi_version() {
        Ok(abi) => Ok(abi),
        Err(errno) if errno.0 == libc::ENOSYS => Err("the kernel was built without Landlock (ENOSYS)".into()),
        Err(errno) if errno.0 == libc::EOPNOTSUPP => {
            Err("Landlock is disabled at boot (EOPNOTSUPP): add `landlock` to the `lsm=` kernel parameter".into())
        }
        Err(errno) => Err(format!("landlock_create_ruleset failed: {}", errno.into_io())),
    }
}

/// Whether the kernel knows system call `number` (and no filter hides it): called with
/// arguments it must reject, it fails with something other than ENOSYS.
fn syscall_exists(number: libc::c_long) -> bool {
    sys::invalid_call_errno(number) != libc::ENOSYS
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
    let (uid, gid) = (sys::geteuid(), sys::getegid());
    let uid_map = format!("{uid} {uid} 1\n");
    let gid_map = format!("{gid} {gid} 1\n");
    let flags = (libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_NEWPID) as u64;
    let saved_mask = sys::block_all_signals();
    // SAFETY: the child only performs the async-signal-safe steps below and exits.
    let cloned = unsafe { sys::clone_process(flags) };
    if let Ok((0, _)) = cloned {
        let write = |path: &std::ffi::CStr, data: &[u8]| {
            sys::open(path, libc::O_WRONLY).and_then(|fd| sys::write_all(std::os::fd::AsRawFd::as_raw_fd(&fd), data))
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

/// Whether the embedded namespace pipeline can run on this host, or why not.
pub fn namespaces_available() -> Result<(), String> {
    HostFacts::get().namespace_pipeline_blocker().map_or(Ok(()), Err)
}
