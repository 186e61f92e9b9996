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

use crate::exec::child::probe as probe_child;
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
    /// Whether the landlock pipeline's metadata supervisor can run here (seccomp user
    /// notifications, `openat2`, reading a child's memory), or why not. Probed only where user
    /// namespaces are refused, the only hosts that need it (`Ok` unprobed elsewhere).
    pub metadata_supervisor: Result<(), Refusal>,
    /// Whether the connect broker (per-path unix-socket grants) can run here, or the first
    /// thing it lacks: what the metadata supervisor needs, and `pidfd_open` (5.3) and
    /// `pidfd_getfd` (5.6). Without it granted paths are not granted.
    pub connect_broker: Result<(), Refusal>,
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
        cached(&FACTS, false)
    }

    /// This host's facts including whether `lo` can be brought up in a new network namespace
    /// (about 0.5 ms more), probed once per process.
    pub fn get_with_loopback() -> &'static HostFacts {
        static FACTS: OnceLock<HostFacts> = OnceLock::new();
        cached(&FACTS, true)
    }

    /// Whether the namespace probe failed for want of a resource of this process or of the
    /// moment (descriptors, memory, processes) rather than because of the host.
    fn short_of_resources(&self) -> bool {
        let transient = |refusal: &Refusal| {
            matches!(refusal.errno, Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::EAGAIN))
        };
        self.namespaces.as_ref().err().is_some_and(transient) || self.loopback.as_ref().err().is_some_and(transient)
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
        let metadata_supervisor = if namespaces.is_err() { metadata_supervisor() } else { Ok(()) };
        let connect_broker = connect_broker();
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
            metadata_supervisor,
            connect_broker,
            working_system_bwrap,
            pids_cgroup: cgroup::find(),
            memory_cgroup: cgroup::find_for("memory"),
        }
    }

    /// This host's facts without the namespace probe child, whose checks are assumed to pass:
    /// user, mount and PID namespaces, a fresh procfs, `lo`, and the new mount
    /// API wherever its calls exist. For a launcher that plans with these, spawns, and only
    /// where that spawn fails plans again with [`HostFacts::get`] (the CLI, which would
    /// otherwise pay the probe child on every run). Sound because every assumed fact is one the
    /// spawn exercises before the command runs (the clone, the id maps, the proc mount, the
    /// mount API, `lo`), and assuming them only ever picks the stronger pipeline: a host where
    /// one does not hold fails the first spawn at setup, never runs the command weaker.
    pub fn optimistic() -> HostFacts {
        let kernel = kernel_release();
        let mount_api_calls = [libc::SYS_open_tree, libc::SYS_move_mount, libc::SYS_mount_setattr];
        HostFacts {
            landlock_abi: landlock_abi().map_err(|errno| {
                Refusal::new("landlock_create_ruleset", Some(errno), landlock_hint(errno, &kernel, &Evidence::gather()))
            }),
            kernel,
            euid: sys::geteuid(),
            egid: sys::getegid(),
            namespaces: Ok(()),
            fresh_proc: true,
            loopback: Ok(()),
            new_mount_api: mount_api_calls.into_iter().all(syscall_usable),
            openat2: syscall_usable(libc::SYS_openat2),
            // Only consulted without namespaces, which this assumes.
            metadata_supervisor: Ok(()),
            connect_broker: connect_broker(),
            working_system_bwrap: None,
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
            metadata_supervisor: Ok(()),
            connect_broker: Ok(()),
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
    checks.push(metadata_guard_check(facts));
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

/// The name of `doctor`'s row for the landlock pipeline's metadata guard.
pub const METADATA_GUARD_CHECK: &str = "landlock metadata guard";

/// What stops chmod, chown, xattrs and utimes outside the writable roots on the landlock
/// pipeline here (`--explain`'s `metadata`, per policy): the read-only view with user
/// namespaces, the metadata supervisor without them, or a refusal everywhere where the
/// supervisor cannot run, with the check that failed and its errno.
fn metadata_guard_check(facts: &HostFacts) -> Check {
    let row = |ok: bool, meaning: String| Check {
        check: METADATA_GUARD_CHECK,
        ok,
        tried: facts.landlock_abi.is_ok(),
        optional: false,
        errno: None,
        meaning,
        fix: String::new(),
    };
    if facts.landlock_abi.is_err() {
        return row(false, "not tried: no Landlock".into());
    }
    match (&facts.namespaces, &facts.metadata_supervisor) {
        (Ok(()), _) => row(
            true,
            "read-only-view: outside the writable roots is read-only in the sandbox's view (EROFS)".into(),
        ),
        (Err(_), Ok(())) => row(
            true,
            "supervisor: no user namespaces; the sandbox's init performs metadata calls only inside the writable roots (EPERM outside)".into(),
        ),
        (Err(_), Err(refusal)) => Check {
            errno: refusal.errno.map(|errno| (errno_name(errno), errno)),
            fix: refusal.hint.clone(),
            ..row(
                false,
                format!(
                    "refused-everywhere: {} failed, so metadata calls are refused inside the writable roots too (chmod +x fails)",
                    refusal.check
                ),
            )
        },
    }
}

/// The landlock pipeline's residual risks on a host with these facts, in short.
fn landlock_risks_here(facts: &HostFacts) -> Vec<String> {
    let Ok(abi) = facts.landlock_abi else { return Vec::new() };
    let mut risks = Vec::new();
    match (&facts.namespaces, &facts.metadata_supervisor) {
        (Ok(()), _) => {}
        (Err(_), Ok(())) => risks.push("no user namespaces: metadata calls (chmod, chown, xattrs, utimes) are performed by the sandbox's init only inside the writable roots (set-uid bits refused); policies with protected paths (workspace-write) do not run".to_owned()),
        (Err(_), Err(refusal)) => risks.push(format!("no user namespaces and no metadata supervisor ({refusal}): chmod, chown, xattrs and utimes are refused everywhere, inside the writable roots too; policies with protected paths (workspace-write) do not run")),
    }
    if facts.namespaces.is_err() || !facts.fresh_proc {
        risks.push("host /proc: every host process and its command line are listed".to_owned());
    }
    if abi < 6 {
        risks.push(format!("Landlock ABI {abi} < 6: signals are not scoped"));
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

/// Whether the metadata supervisor can work here, or the first thing it lacks: seccomp's
/// `SECCOMP_RET_USER_NOTIF` (Linux 5.0), `openat2` (5.6, resolving the caller's paths without
/// magic links), reading a child's memory with `process_vm_readv` (refused to a process
/// without `CAP_SYS_PTRACE`, as the sandbox's init is, when Yama's `ptrace_scope` is 2 or 3),
/// and, tried for real in a child, a filter with a listener under the filters this process
/// inherited ([`run_listener_probe_child`]).
fn metadata_supervisor() -> Result<(), Refusal> {
    const FIX: &str =
        "metadata calls (chmod, chown, xattrs, utimes) are refused everywhere, inside the writable roots too";
    if !sys::seccomp_action_available(sys::SECCOMP_RET_USER_NOTIF) {
        return Err(Refusal::new("seccomp SECCOMP_RET_USER_NOTIF (Linux 5.0)", None, FIX));
    }
    if !syscall_usable(libc::SYS_openat2) {
        return Err(Refusal::new("openat2 (Linux 5.6)", None, FIX));
    }
    if !syscall_usable(libc::SYS_process_vm_readv) {
        return Err(Refusal::new("process_vm_readv", Some(libc::ENOSYS), FIX));
    }
    let scope = std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope").unwrap_or_default();
    if let "2" | "3" = scope.trim() {
        return Err(Refusal::new(
            format!("process_vm_readv under Yama ptrace_scope {} (needs 0 or 1)", scope.trim()),
            Some(libc::EPERM),
            FIX,
        ));
    }
    match run_listener_probe_child() {
        Ok(()) => Ok(()),
        Err((check, errno)) => {
            let hint = if errno == libc::EBUSY {
                format!(
                    "a seccomp filter this process inherited already has a listener (a container runtime's seccomp agent), and the kernel allows one per filter chain: {FIX}"
                )
            } else {
                FIX.to_owned()
            };
            Err(Refusal::new(check, Some(errno), hint))
        }
    }
}

/// Forks a child that installs a seccomp filter with a listener, as the supervised command
/// will (it inherits this process's filters just the same), and reads back its errno. Static
/// facts cannot tell: a filter installed by a container runtime with a listener makes the
/// kernel refuse the second listener (EBUSY), which would otherwise surface as a failed spawn.
fn run_listener_probe_child() -> Result<(), (&'static str, i32)> {
    const CHECK: &str = "install a seccomp filter with a listener (SECCOMP_FILTER_FLAG_NEW_LISTENER)";
    let (report_read, report_write) = sys::pipe().map_err(|errno| ("create the listener probe's pipe", errno.0))?;
    crate::exec::child::panic::install();
    let saved_mask = sys::block_all_signals();
    // SAFETY: the child only runs `run_listener_probe`, which is async-signal-safe and exits.
    let cloned = unsafe { sys::clone_process(0) };
    if let Ok((0, _)) = cloned {
        probe_child::run_listener_probe(report_write.as_raw_fd());
    }
    sys::set_signal_mask(&saved_mask);
    drop(report_write);
    let (pid, _) = cloned.map_err(|errno| ("fork the listener probe", errno.0))?;
    let mut bytes = [0u8; 4];
    let mut filled = 0;
    while filled < bytes.len() {
        match sys::read(report_read.as_raw_fd(), &mut bytes[filled..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => filled += n,
        }
    }
    let _ = sys::waitpid(pid, 0);
    if filled < bytes.len() {
        return Err(("run the listener probe child", libc::EPROTO));
    }
    match i32::from_ne_bytes(bytes) {
        0 => Ok(()),
        errno => Err((CHECK, errno)),
    }
}

/// Whether the connect broker can work here, or the first thing it lacks: seccomp's
/// `SECCOMP_RET_USER_NOTIF` (5.0), `openat2` (5.6), `pidfd_open` (5.3), `pidfd_getfd` (5.6),
/// and reading the command's memory (`process_vm_readv`, which Yama's `ptrace_scope` 2 or 3
/// refuses to an init without `CAP_SYS_PTRACE`; `pidfd_getfd` needs the same access).
fn connect_broker() -> Result<(), Refusal> {
    const FIX: &str = "the connect broker needs it for per-path unix-socket grants";
    if !sys::seccomp_action_available(sys::SECCOMP_RET_USER_NOTIF) {
        return Err(Refusal::new("seccomp SECCOMP_RET_USER_NOTIF (Linux 5.0)", None, FIX));
    }
    for (number, name) in [
        (libc::SYS_openat2, "openat2 (Linux 5.6)"),
        (libc::SYS_pidfd_open, "pidfd_open (Linux 5.3)"),
        (libc::SYS_pidfd_getfd, "pidfd_getfd (Linux 5.6)"),
        (libc::SYS_process_vm_readv, "process_vm_readv"),
    ] {
        if !syscall_usable(number) {
            return Err(Refusal::new(name, Some(sys::invalid_call_errno(number)), FIX));
        }
    }
    let scope = std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope").unwrap_or_default();
    if let "2" | "3" = scope.trim() {
        return Err(Refusal::new(
            format!("pidfd_getfd and process_vm_readv under Yama ptrace_scope {} (needs 0 or 1)", scope.trim()),
            Some(libc::EPERM),
            FIX,
        ));
    }
    // A listener can be installed here: not where an outer sandbox's filter already has one
    // (one listener per filter chain: EBUSY), nor where an outer filter refuses seccomp(2).
    // Tried in a short-lived thread of our own: no_new_privs and a seccomp filter belong to
    // the thread that sets them and end with it.
    let installed = std::thread::spawn(|| {
        sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1)?;
        let allow_all = [sys::SockFilter { code: 0x06, jt: 0, jf: 0, k: 0x7fff_0000 }];
        sys::seccomp_set_filter_listener(&allow_all).map(drop)
    })
    .join();
    match installed {
        Ok(Ok(())) => Ok(()),
        Ok(Err(errno)) => Err(Refusal::new("install a seccomp filter with a listener", Some(errno.0), FIX)),
        Err(_) => Err(Refusal::new("install a seccomp filter with a listener", None, FIX)),
    }
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
const STEPS: [&str; probe_child::STEP_COUNT] = [
    "write /proc/self/setgroups in a new user namespace",
    "write /proc/self/uid_map in a new user namespace",
    "write /proc/self/gid_map in a new user namespace",
    "make the mount tree private in a new mount namespace",
    "mount a fresh /proc in a new PID namespace",
    "bring up lo in a new network namespace",
    "clone a mount tree and make it read-only with the new mount API",
];
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
    let image = probe_child::ProbeImage {
        report_fd: report_write.as_raw_fd(),
        uid_map: uid_map.as_bytes(),
        gid_map: gid_map.as_bytes(),
        network,
        try_mount_api,
    };
    crate::exec::child::panic::install();
    let saved_mask = sys::block_all_signals();
    // SAFETY: the child only runs `probe_child::run`, which is async-signal-safe and exits;
    // the image and the maps it points to stay alive in its copy of memory.
    let cloned = unsafe { sys::clone_process(flags) };
    if let Ok((0, _)) = cloned {
        probe_child::run(&image);
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
    let mut bytes = [0u8; probe_child::REPORT_LEN];
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
    let failed_step = results[..probe_child::REQUIRED_STEPS]
        .iter()
        .position(|errno| *errno != 0)
        .map(|step| (STEPS[step].to_owned(), results[step]));
    ProbeOutcome {
        fresh_proc: failed_step.is_none() && results[probe_child::PROC_STEP] == 0,
        loopback: match results[probe_child::LOOPBACK_STEP] {
            0 => Ok(()),
            errno => Err(errno),
        },
        new_mount_api: results[probe_child::MOUNT_API_STEP] == 0,
        failed_step,
    }
}

/// The facts in `slot`, probing the first time; a probe that failed for want of resources
/// ([`HostFacts::short_of_resources`]: out of descriptors at the first spawn) is not kept, so a
/// later spawn probes again instead of refusing the namespace pipeline for the rest of the
/// process. Each such probe's facts stay allocated (one small value per failed probe).
fn cached(slot: &'static OnceLock<HostFacts>, network: bool) -> &'static HostFacts {
    if let Some(facts) = slot.get() {
        return facts;
    }
    let facts = HostFacts::probe_with(network);
    if facts.short_of_resources() {
        return Box::leak(Box::new(facts));
    }
    slot.get_or_init(|| facts)
}

/// Whether the embedded namespace pipeline can run on this host, or why not.
pub fn namespaces_available() -> Result<(), String> {
    HostFacts::get().namespace_pipeline_blocker().map_or(Ok(()), |refusal| Err(refusal.to_string()))
}
