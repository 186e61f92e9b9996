//! Host facts: what this host can enforce, found by trying rather than guessing from sysctls.
//!
//! [`HostFacts::probe`] gathers them: the Landlock ABI, whether a child can be cloned into the
//! namespace pipeline's namespaces and do there what the sandbox would (map its ids, make the
//! mount tree private, mount a fresh procfs, clone a tree with the new mount API, bring `lo`
//! up), each failure kept as a [`Refusal`] with its errno and a hint chosen from the host's
//! [`Evidence`]; whether `openat2` exists; the effective ids. [`HostFacts::get`] caches them
//! for the process (the network check only for proxy mode: [`HostFacts::get_with_loopback`]).
//! Planning reads nothing else about the host, so a test plans for any simulated host by
//! building the facts itself. `codex-linux-sandbox doctor` prints [`probe`].

pub mod cgroup;
mod evidence;

use std::fmt;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Serialize;

pub use evidence::{Evidence, errno_name, landlock_hint, loopback_hint, namespace_hint};

use crate::sys;

/// A check the host failed: what was tried, the errno it failed with, and what that means
/// here and what to do (chosen from [`Evidence`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// The step that failed, in words (`write /proc/self/uid_map in a new user namespace`).
    pub check: String,
    pub errno: Option<i32>,
    /// The cause the evidence points to and the remedy that applies on this host.
    pub hint: String,
}

impl Refusal {
    pub fn new(check: impl Into<String>, errno: Option<i32>, hint: impl Into<String>) -> Refusal {
        Refusal { check: check.into(), errno, hint: hint.into() }
    }

    /// The errno as text (`Operation not permitted (os error 1)`), or empty.
    pub fn errno_text(&self) -> String {
        self.errno.map(|errno| std::io::Error::from_raw_os_error(errno).to_string()).unwrap_or_default()
    }
}

/// A refusal described by its check only (simulated hosts in tests).
impl From<&str> for Refusal {
    fn from(check: &str) -> Refusal {
        Refusal::new(check, None, "")
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.check)?;
        if let Some(errno) = self.errno {
            write!(f, ": {}", std::io::Error::from_raw_os_error(errno))?;
        }
        if !self.hint.is_empty() {
            write!(f, " ({})", self.hint)?;
        }
        Ok(())
    }
}

/// What planning needs to know about the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostFacts {
    /// The running kernel's release (`uname -r`).
    pub kernel: String,
    /// Effective ids: the ones the kernel checks (a set-uid launcher has real ≠ effective).
    pub euid: u32,
    pub egid: u32,
    /// The Landlock ABI version, or why there is none.
    pub landlock_abi: Result<u32, Refusal>,
    /// Whether this process may create the namespace pipeline's namespaces and map its ids
    /// there, or the step that failed.
    pub namespaces: Result<(), Refusal>,
    /// Whether a fresh procfs can be mounted in them. Containers whose `/proc` has masked
    /// (over-mounted) paths forbid it; the namespace pipeline then masks `/proc` instead.
    pub fresh_proc: bool,
    /// Whether `lo` can be brought up in a new network namespace (proxy mode needs it).
    pub loopback: Result<(), Refusal>,
    /// `open_tree`, `move_mount` and `mount_setattr` (Linux 5.12) exist and work in the new
    /// namespaces; without them the embedded launcher takes the classic path.
    pub new_mount_api: bool,
    /// `openat2` (Linux 5.6); without it paths are walked one `O_NOFOLLOW` component at a time.
    pub openat2: bool,
    /// An installed bubblewrap that creates its namespaces here, looked for only where the
    /// embedded launcher cannot create them (Ubuntu's AppArmor grants `/usr/bin/bwrap`
    /// user namespaces that other programs are refused): `auto` runs it then.
    pub working_system_bwrap: Option<PathBuf>,
    /// A child cgroup of this process's own with `pids.max` can be made here (a process
    /// budget that holds for root too), or why not.
    pub pids_cgroup: Result<cgroup::DelegatedCgroup, String>,
    /// The same for the `memory` controller: a memory limit then bounds the whole sandbox.
    pub memory_cgroup: Result<cgroup::DelegatedCgroup, String>,
}

impl HostFacts {
    /// This host's facts, probed once per process (about 0.6 ms), without the network
    /// namespace check: [`HostFacts::loopback`] is then `Ok` (unprobed). Proxy mode, which
    /// needs `lo`, plans with [`HostFacts::get_with_loopback`].
    pub fn get() -> &'static HostFacts {
        static FACTS: OnceLock<HostFacts> = OnceLock::new();
        FACTS.get_or_init(|| HostFacts::probe_with(false))
    }

    /// This host's facts including whether `lo` can be brought up in a new network namespace
    /// (about 0.5 ms more), probed once per process.
    pub fn get_with_loopback() -> &'static HostFacts {
        static FACTS: OnceLock<HostFacts> = OnceLock::new();
        FACTS.get_or_init(HostFacts::probe)
    }

    /// Probes the host now, everything.
    pub fn probe() -> HostFacts {
        HostFacts::probe_with(true)
    }

    fn probe_with(network: bool) -> HostFacts {
        let kernel = kernel_release();
        let evidence = std::cell::OnceCell::new();
        let evidence = || evidence.get_or_init(Evidence::gather).clone();
        let mount_api_calls = [libc::SYS_open_tree, libc::SYS_move_mount, libc::SYS_mount_setattr];
        let mount_api_exists = mount_api_calls.into_iter().all(syscall_usable);
        let child = run_probe_child(mount_api_exists, network);
        let namespaces = match child.failed_step {
            None => Ok(()),
            Some((step, errno)) => Err(Refusal::new(step, Some(errno), namespace_hint(errno, &evidence()))),
        };
        let loopback = match child.loopback {
            Ok(()) => Ok(()),
            Err(errno) => Err(Refusal::new(
                "bring up lo in a new network namespace",
                Some(errno),
                loopback_hint(errno, &evidence()),
            )),
        };
        let working_system_bwrap = if namespaces.is_err() { find_working_bwrap() } else { None };
        HostFacts {
            landlock_abi: landlock_abi().map_err(|errno| {
                Refusal::new("landlock_create_ruleset", Some(errno), landlock_hint(errno, &kernel, &evidence()))
            }),
            kernel,
            euid: sys::geteuid(),
            egid: sys::getegid(),
            namespaces,
            fresh_proc: child.fresh_proc,
            loopback,
            new_mount_api: mount_api_exists && child.new_mount_api,
            openat2: syscall_usable(libc::SYS_openat2),
            working_system_bwrap,
            pids_cgroup: cgroup::find(),
            memory_cgroup: cgroup::find_for("memory"),
        }
    }

    /// A host with every feature this crate uses (Landlock `abi`, namespaces, a fresh procfs,
    /// `lo`, the new mount API), as uid and gid 1000: the starting point of simulated hosts.
    pub fn capable(abi: u32) -> HostFacts {
        HostFacts {
            kernel: "6.12.0-simulated".into(),
            euid: 1000,
            egid: 1000,
            landlock_abi: Ok(abi),
            namespaces: Ok(()),
            fresh_proc: true,
            loopback: Ok(()),
            new_mount_api: true,
            openat2: true,
            working_system_bwrap: None,
            pids_cgroup: Err("simulated host: no cgroup".into()),
            memory_cgroup: Err("simulated host: no cgroup".into()),
        }
    }

    /// Why the embedded namespace pipeline cannot run here, if it cannot.
    pub fn namespace_pipeline_blocker(&self) -> Option<Refusal> {
        // Without the new mount API or openat2 the launcher takes the classic path
        // (`plan::LauncherPlan`): only the namespaces themselves matter.
        self.namespaces.clone().err()
    }
}

/// Everything `doctor` reports. The first fields keep their meaning across versions
/// (front ends read `namespaces.available` and `auto_pipeline`); `checks` is the table.
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
    /// Every check, in the order the table prints them.
    pub checks: Vec<Check>,
    /// What `auto` does here with workspace-write and restricted network (Codex's default):
    /// the pipeline, or the refusal with every cause.
    pub workspace_write: Verdict,
    /// What the landlock pipeline leaves open on this host (its `--explain` lists the same
    /// per policy under `warnings`); empty where it cannot run.
    pub landlock_risks: Vec<String>,
    /// What the hints were chosen from.
    pub evidence: Evidence,
}

/// Whether a policy runs here: the pipeline and why, or the refusal.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub runs: bool,
    /// The pipeline and the reason, or the refusal naming every cause.
    pub detail: String,
}

/// One row of `doctor`'s table.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub check: &'static str,
    pub ok: bool,
    /// False when an earlier failure made the check moot (nothing to try it in).
    pub tried: bool,
    /// A check whose absence the sandbox works around (printed `absent`, not `FAILED`).
    pub optional: bool,
    /// The errno's symbolic name (`EPERM`) and number, when the check failed with one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno: Option<(&'static str, i32)>,
    /// What the result means for the sandbox.
    pub meaning: String,
    /// What to do, when there is something to do.
    pub fix: String,
}

/// One thing the host can or cannot do.
#[derive(Clone, Debug, Serialize)]
pub struct Capability {
    pub available: bool,
    /// The version when available, the reason when not.
    pub detail: String,
}

impl<T: ToString> From<Result<T, Refusal>> for Capability {
    fn from(result: Result<T, Refusal>) -> Capability {
        match result {
            Ok(value) => Capability { available: true, detail: value.to_string() },
            Err(refusal) => Capability { available: false, detail: refusal.to_string() },
        }
    }
}

impl HostProbe {
    /// Whether some pipeline enforces workspace-write with restricted network here.
    pub fn can_enforce_workspace_write(&self) -> bool {
        self.workspace_write.runs
    }

    /// The table `doctor` prints: check, result, errno, meaning, fix.
    pub fn table(&self) -> String {
        let mut out = format!("codex-linux-sandbox doctor: kernel {}, uid {}\n\n", self.kernel, self.uid);
        let width = self.checks.iter().map(|c| c.check.chars().count()).max().unwrap_or(0);
        for check in &self.checks {
            let result = match (check.ok, check.tried, check.optional) {
                (true, ..) => "ok",
                (false, false, _) => "n/a",
                (false, true, true) => "absent",
                (false, true, false) => "FAILED",
            };
            let errno = check.errno.map(|(name, _)| name).unwrap_or("-");
            out.push_str(&format!("{:width$}  {result:6}  {errno:13}  {}\n", check.check, check.meaning));
            if !check.fix.is_empty() {
                out.push_str(&format!("{:width$}  {:6}  {:13}  fix: {}\n", "", "", "", check.fix));
            }
        }
        out.push('\n');
        let Verdict { runs, detail } = &self.workspace_write;
        if *runs {
            out.push_str(&format!("workspace-write with restricted network runs on: {detail}\n"));
        } else {
            out.push_str(&format!("workspace-write with restricted network CANNOT run here: {detail}\n"));
        }
        if !self.landlock_risks.is_empty() {
            out.push_str(&format!("landlock pipeline here, residual risks: {}\n", self.landlock_risks.join("; ")));
        }
        out
    }
}

/// This host's facts, as `doctor` prints them.
pub fn probe() -> HostProbe {
    let facts = HostFacts::get_with_loopback();
    let blocker = facts.namespace_pipeline_blocker();
    let system_bwrap = installed_bwrap();
    let mut checks = Vec::new();
    let refused = |refusal: &Refusal| refusal.errno.map(|errno| (errno_name(errno), errno));
    checks.push(match &facts.namespaces {
        Ok(()) => Check {
            check: "user, mount, PID, network namespaces",
            ok: true,
            tried: true,
            optional: false,
            errno: None,
            meaning: "the embedded namespace pipeline (bwrap) runs here".into(),
            fix: String::new(),
        },
        Err(refusal) => Check {
            check: "user, mount, PID, network namespaces",
            ok: false,
            tried: true,
            optional: false,
            errno: refused(refusal),
            meaning: format!("{} failed: no embedded namespace pipeline", refusal.check),
            fix: refusal.hint.clone(),
        },
    });
    let namespaces_ok = facts.namespaces.is_ok();
    checks.push(Check {
        check: "fresh /proc in them",
        ok: facts.fresh_proc,
        tried: namespaces_ok,
        optional: false,
        errno: None,
        meaning: if facts.fresh_proc {
            "the sandbox sees only its own processes".into()
        } else if namespaces_ok {
            "refused (a container's masked /proc): the sandbox's /proc is masked instead".into()
        } else {
            "not tried: no namespaces".into()
        },
        fix: String::new(),
    });
    checks.push(match &facts.loopback {
        Ok(()) => Check {
            check: "lo up in a new network namespace",
            ok: true,
            tried: true,
            optional: false,
            errno: None,
            meaning: "proxy mode reaches its bridge on the namespace pipeline".into(),
            fix: String::new(),
        },
        Err(refusal) => Check {
            check: "lo up in a new network namespace",
            ok: false,
            tried: namespaces_ok,
            optional: false,
            errno: refused(refusal).filter(|_| namespaces_ok),
            meaning: if namespaces_ok {
                "proxy mode cannot use the namespace pipeline; auto uses landlock (ABI ≥ 4) for it".into()
            } else {
                "not tried: no namespaces".into()
            },
            fix: if namespaces_ok { refusal.hint.clone() } else { String::new() },
        },
    });
    checks.push(Check {
        check: "new mount API (Linux 5.12)",
        ok: facts.new_mount_api,
        tried: namespaces_ok,
        optional: true,
        errno: None,
        meaning: if !namespaces_ok {
            "not tried: no namespaces".into()
        } else if facts.new_mount_api {
            "open_tree/move_mount/mount_setattr: views built from detached trees".into()
        } else {
            "missing or refused: the launcher uses classic bind + read-only remounts (same guarantees)".into()
        },
        fix: String::new(),
    });
    checks.push(Check {
        check: "openat2 (Linux 5.6)",
        ok: facts.openat2,
        tried: true,
        optional: true,
        errno: None,
        meaning: if facts.openat2 {
            "paths opened with RESOLVE_NO_SYMLINKS".into()
        } else {
            "missing or refused: paths walked one O_NOFOLLOW component at a time".into()
        },
        fix: String::new(),
    });
    checks.push(match &facts.landlock_abi {
        Ok(abi) => Check {
            check: "Landlock",
            ok: true,
            tried: true,
            optional: false,
            errno: None,
            meaning: format!(
                "ABI {abi}: the landlock pipeline runs{}",
                if *abi >= 4 { ", with TCP port rules (proxy mode)" } else { "; proxy mode needs ABI ≥ 4" }
            ),
            fix: String::new(),
        },
        Err(refusal) => Check {
            check: "Landlock",
            ok: false,
            tried: true,
            optional: false,
            errno: refused(refusal),
            meaning: "no landlock pipeline and no Landlock layer under the namespaces".into(),
            fix: refusal.hint.clone(),
        },
    });
    checks.push(Check {
        check: "installed bwrap",
        ok: system_bwrap.is_some(),
        tried: true,
        optional: true,
        errno: None,
        meaning: match (&system_bwrap, &facts.working_system_bwrap) {
            (_, Some(path)) => format!("{} creates namespaces here: auto runs it", path.display()),
            (Some(path), None) if !namespaces_ok => {
                format!("{} is installed but cannot create its namespaces here either", path.display())
            }
            (Some(path), None) => format!("{} (--bwrap-path)", path.display()),
            (None, None) => "none (optional: --bwrap-path)".into(),
        },
        fix: String::new(),
    });
    HostProbe {
        kernel: facts.kernel.clone(),
        uid: facts.euid,
        landlock: facts.landlock_abi.clone().map(|abi| format!("ABI {abi}")).into(),
        auto_pipeline: if blocker.is_none() || facts.working_system_bwrap.is_some() { "bwrap" } else { "landlock" },
        namespaces: blocker.map_or(Ok("user, mount and PID namespaces"), Err).into(),
        fresh_proc: facts.fresh_proc,
        system_bwrap,
        checks,
        workspace_write: workspace_write_here(facts),
        landlock_risks: landlock_risks_here(facts),
        evidence: Evidence::gather(),
    }
}

/// The landlock pipeline's residual risks on a host with these facts, in short.
fn landlock_risks_here(facts: &HostFacts) -> Vec<String> {
    let Ok(abi) = facts.landlock_abi else { return Vec::new() };
    let mut risks = Vec::new();
    if facts.namespaces.is_err() {
        risks.push("no user namespaces: metadata of files outside the writable roots (chmod incl. set-uid, chown, xattrs, timestamps) can be changed, and only read-only policies run".to_owned());
    }
    risks.push("host /proc: every host process and its command line are listed".to_owned());
    risks.push("full network: host unix sockets are reachable".to_owned());
    if abi < 6 {
        risks.push(format!("Landlock ABI {abi} < 6: signals and abstract unix sockets are not scoped"));
    }
    risks
}

/// What `auto` does with workspace-write and restricted network in the current directory.
fn workspace_write_here(facts: &HostFacts) -> Verdict {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let spec = crate::SandboxSpec::new(crate::SandboxPolicy::workspace_write(), cwd, vec!["true".into()]);
    match crate::prepare_for(&spec, facts) {
        Ok(plan) => {
            let pipeline = serde_json::to_value(plan.pipeline()).ok().and_then(|v| v.as_str().map(str::to_owned));
            Verdict { runs: true, detail: format!("{} ({})", pipeline.unwrap_or_default(), plan.pipeline_reason()) }
        }
        Err(error) => Verdict { runs: false, detail: error.to_string() },
    }
}

/// The first installed `bwrap` in the usual places.
fn installed_bwrap() -> Option<PathBuf> {
    ["/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"]
        .iter()
        .map(Path::new)
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .find(|p| root_owned_all_the_way(p))
}

/// Whether `path` and every directory above it belong to root and are writable by nobody else:
/// a bwrap the probe runs (unconfined) must not be one a sandboxed command could have planted.
fn root_owned_all_the_way(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let safe = |p: &Path, file: bool| {
        std::fs::symlink_metadata(p)
            .is_ok_and(|m| m.uid() == 0 && m.mode() & 0o022 == 0 && if file { m.is_file() } else { m.is_dir() })
    };
    safe(path, true) && path.ancestors().skip(1).all(|dir| safe(dir, false))
}

/// An installed bwrap that creates user, mount, PID and network namespaces here (it runs
/// `true` in them, about a millisecond), for hosts that refuse them to us but grant them to
/// bwrap.
fn find_working_bwrap() -> Option<PathBuf> {
    let bwrap = installed_bwrap()?;
    let status = std::process::Command::new(&bwrap)
        .args(["--unshare-all", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--", "/bin/true"])
        .env_clear()
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    status.success().then_some(bwrap)
}

fn kernel_release() -> String {
    sys::uname_release().unwrap_or_else(|| "unknown".into())
}

/// The running kernel's Landlock ABI version, or the errno of the failed call.
fn landlock_abi() -> Result<u32, i32> {
    sys::landlock_abi_version().map_err(|errno| errno.0)
}

/// Whether the kernel knows system call `number` and no filter hides it: called with arguments
/// it must reject, it fails with something other than ENOSYS, or EPERM (what a container's
/// seccomp profile answers for calls it does not list; these calls check their arguments
/// before any permission, except `move_mount`, whose EPERM is the unprivileged caller's).
fn syscall_usable(number: libc::c_long) -> bool {
    match sys::invalid_call_errno(number) {
        libc::ENOSYS => false,
        libc::EPERM => number == libc::SYS_move_mount,
        _ => true,
    }
}

/// The probe child's steps, each reported with its errno (0: it worked; -1: not reached).
const STEPS: [&str; 7] = [
    "write /proc/self/setgroups in a new user namespace",
    "write /proc/self/uid_map in a new user namespace",
    "write /proc/self/gid_map in a new user namespace",
    "make the mount tree private in a new mount namespace",
    "mount a fresh /proc in a new PID namespace",
    "bring up lo in a new network namespace",
    "clone a mount tree and make it read-only with the new mount API",
];
/// The steps that must work for the namespace pipeline to run at all.
const REQUIRED_STEPS: usize = 4;
const PROC_STEP: usize = 4;
const LOOPBACK_STEP: usize = 5;
const MOUNT_API_STEP: usize = 6;

/// What the probe child found.
struct ProbeOutcome {
    /// The first required step that failed (or the `clone` itself), with its errno.
    failed_step: Option<(String, i32)>,
    fresh_proc: bool,
    loopback: Result<(), i32>,
    new_mount_api: bool,
}

/// Clones a child into the namespace pipeline's namespaces, where it tries the pipeline's
/// steps and reports each one's errno over a pipe.
fn run_probe_child(try_mount_api: bool, network: bool) -> ProbeOutcome {
    let not_run = |check: String, errno: i32| ProbeOutcome {
        failed_step: Some((check, errno)),
        fresh_proc: false,
        loopback: Err(errno),
        new_mount_api: false,
    };
    let (uid, gid) = (sys::geteuid(), sys::getegid());
    let uid_map = format!("{uid} {uid} 1\n");
    let gid_map = format!("{gid} {gid} 1\n");
    let mut flags = (libc::CLONE_NEWUSER
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWCGROUP) as u64;
    if network {
        flags |= libc::CLONE_NEWNET as u64;
    }
    let (report_read, report_write) = match sys::pipe() {
        Ok(pair) => pair,
        Err(errno) => return not_run("create the probe's pipe".into(), errno.0),
    };
    let saved_mask = sys::block_all_signals();
    // SAFETY: the child only performs the async-signal-safe steps below and exits.
    let cloned = unsafe { sys::clone_process(flags) };
    if let Ok((0, _)) = cloned {
        let mut results = [-1i32; STEPS.len()];
        let errno_of = |result: sys::SysResult<()>| result.err().map_or(0, |errno| errno.0);
        let write = |path: &std::ffi::CStr, data: &[u8]| {
            sys::open(path, libc::O_WRONLY).and_then(|fd| sys::write_all(fd.as_raw_fd(), data))
        };
        let required = [
            write(c"/proc/self/setgroups", b"deny"),
            write(c"/proc/self/uid_map", uid_map.as_bytes()),
            write(c"/proc/self/gid_map", gid_map.as_bytes()),
            sys::mount_propagation(c"/", libc::MS_REC | libc::MS_PRIVATE),
        ];
        let mut usable = true;
        for (slot, result) in results.iter_mut().zip(required) {
            if usable {
                *slot = errno_of(result);
                usable = *slot == 0;
            }
        }
        if usable {
            // This child is PID 1 of its PID namespace, as the sandbox's init would be.
            let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
            results[PROC_STEP] = errno_of(sys::mount(c"proc", c"/proc", c"proc", flags, None));
            results[LOOPBACK_STEP] = if network { errno_of(sys::bring_up_loopback()) } else { 0 };
            if try_mount_api {
                let attr = sys::MountAttr { attr_set: sys::MOUNT_ATTR_RDONLY, ..Default::default() };
                let clone = sys::OPEN_TREE_CLONE | sys::OPEN_TREE_CLOEXEC | libc::AT_RECURSIVE as u32;
                let tried = sys::open(c"/", libc::O_PATH | libc::O_DIRECTORY)
                    .and_then(|root| sys::open_tree(root.as_raw_fd(), clone))
                    .and_then(|tree| sys::mount_setattr(tree.as_raw_fd(), libc::AT_RECURSIVE as u32, &attr));
                results[MOUNT_API_STEP] = errno_of(tried);
            }
        }
        let mut bytes = [0u8; STEPS.len() * 4];
        for (chunk, result) in bytes.chunks_mut(4).zip(results) {
            chunk.copy_from_slice(&result.to_ne_bytes());
        }
        let _ = sys::write_all(report_write.as_raw_fd(), &bytes);
        sys::exit_immediately(0);
    }
    sys::set_signal_mask(&saved_mask);
    drop(report_write);
    let pid = match cloned {
        Ok((pid, _)) => pid,
        Err(errno) => {
            let check = "create user, mount, PID and network namespaces (clone with CLONE_NEWUSER)";
            return not_run(check.into(), errno.0);
        }
    };
    let mut bytes = [0u8; STEPS.len() * 4];
    let mut filled = 0;
    while filled < bytes.len() {
        match sys::read(report_read.as_raw_fd(), &mut bytes[filled..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => filled += n,
        }
    }
    let _ = sys::waitpid(pid, 0);
    if filled < bytes.len() {
        return not_run("run the namespace probe child".into(), libc::EPROTO);
    }
    let results: Vec<i32> =
        bytes.chunks(4).map(|chunk| i32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]])).collect();
    let failed_step = results[..REQUIRED_STEPS]
        .iter()
        .position(|errno| *errno != 0)
        .map(|step| (STEPS[step].to_owned(), results[step]));
    ProbeOutcome {
        fresh_proc: failed_step.is_none() && results[PROC_STEP] == 0,
        loopback: match results[LOOPBACK_STEP] {
            0 => Ok(()),
            errno => Err(errno),
        },
        new_mount_api: results[MOUNT_API_STEP] == 0,
        failed_step,
    }
}

/// Whether the embedded namespace pipeline can run on this host, or why not.
pub fn namespaces_available() -> Result<(), String> {
    HostFacts::get().namespace_pipeline_blocker().map_or(Ok(()), |refusal| Err(refusal.to_string()))
}
