//! Planning: from what the caller asked for ([`SandboxSpec`]) and what the host can do
//! ([`HostFacts`]) to everything the child will do ([`SandboxPlan`]).
//!
//! Planning creates no process and changes nothing: it reads the policy, the host's facts
//! (injected, so a test can plan for any simulated host) and the filesystem (canonical paths,
//! inodes of protected paths). Every error a caller can cause happens here. The plan is plain
//! data, printed as JSON by `--explain`, and cannot be edited once made: the executor
//! (`crate::exec`) only reads it.
//!
//! - [`pipeline`]: which pipeline, and why;
//! - [`mounts`]: the namespace pipeline's filesystem view; [`bwrap_args`]: the same view for an
//!   installed bubblewrap;
//! - [`landlock`]: the Landlock rules; [`devices`]: the one table of device nodes;
//! - [`crate::resolve`] (writable roots, protected paths), [`crate::seccomp`] (the BPF
//!   program) and [`crate::proxy`] (proxy routes) supply the rest.

pub mod bwrap_args;
pub mod devices;
pub mod landlock;
pub mod limits;
pub mod mounts;
pub mod pipeline;
mod process;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::policy::{ManagedNetwork, Policy, UnixSockets};
use crate::probe::HostFacts;
use crate::proxy::{self, ProxyEndpoint, ProxyPlan};
use crate::resolve::{self, FilesystemView, ProtectedPath, ReadScope};
use crate::seccomp::{MetadataRules, NetworkMode, SeccompPlan};
use landlock::LandlockPlan;
use mounts::{MountOp, ViewOptions};
pub use pipeline::{Pipeline, PipelineRequest};
pub use process::SwitchIds;

/// Who carries out a `bwrap` plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Executor {
    /// This library, in the forked child: no helper executable.
    Embedded,
    /// An installed `bwrap`, given the same view as arguments and the seccomp program as a
    /// descriptor. It applies no Landlock layer.
    SystemBwrap {
        path: PathBuf,
        /// The arguments it gets before the command (`FD`: the seccomp program's descriptor,
        /// known at spawn time).
        args: Vec<String>,
    },
}

/// How the embedded launcher builds mounts on this kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MountApi {
    /// `open_tree`, `move_mount` and `mount_setattr` (Linux 5.12): trees cloned aside and
    /// made read-only while detached.
    New,
    /// The classic sequence bubblewrap uses, for older kernels and containers whose seccomp
    /// profile hides the new calls: the view staged under a temporary root, binds through
    /// descriptors opened without following symlinks, then `MS_BIND|MS_REMOUNT|MS_RDONLY` on
    /// every mount of each read-only tree.
    Classic,
}

/// What the embedded launcher uses of the kernel, as the probe found it (`--explain`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LauncherPlan {
    pub mount_api: MountApi,
    /// How paths are opened without following symlinks: `openat2` (Linux 5.6) or one
    /// `O_NOFOLLOW` component at a time.
    pub open_without_symlinks: &'static str,
}

impl LauncherPlan {
    pub fn for_host(host: &HostFacts) -> LauncherPlan {
        LauncherPlan {
            mount_api: if host.new_mount_api { MountApi::New } else { MountApi::Classic },
            open_without_symlinks: if host.openat2 { "openat2" } else { "O_NOFOLLOW component walk" },
        }
    }
}

/// The namespaces of a `bwrap` plan.
#[derive(Clone, Debug, Serialize)]
pub struct NamespacePlan {
    pub user: bool,
    pub mount: bool,
    /// The sandbox's PID 1 is our init: it reaps, forwards every catchable signal but SIGCHLD
    /// (and its own fault signals) to the command, and exits with the command's status.
    pub pid: bool,
    /// IPC, UTS and cgroup namespaces: the host's System V and POSIX IPC objects are out of
    /// reach.
    pub ipc_uts_cgroup: bool,
    /// An empty network namespace.
    pub network: bool,
    /// How `lo` is brought up in that namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loopback: Option<&'static str>,
    /// The caller's effective uid and gid, mapped to themselves (and the ids the command switches
    /// to, where it does).
    pub id_map: String,
}

/// Everything the caller decides.
#[derive(Clone, Debug)]
pub struct SandboxSpec {
    /// The legacy policy, or one in the split model (split policies, permission profile).
    pub policy: Policy,
    /// The directory the policy's cwd-relative parts (the cwd writable root, `.codex`) refer to.
    pub policy_cwd: PathBuf,
    /// Where the command runs; defaults to `policy_cwd`.
    pub command_cwd: Option<PathBuf>,
    /// The command and its arguments; `argv[0]` is looked up in the child's `PATH` when it has
    /// no slash.
    pub argv: Vec<OsString>,
    /// What the command receives as `argv[0]` when it differs from the program (`exec -a`,
    /// Node's `argv0`); the program run is still `argv[0]` of `argv`.
    pub argv0: Option<OsString>,
    /// The command's whole environment (nothing is inherited implicitly).
    pub env: Vec<(OsString, OsString)>,
    pub pipeline: PipelineRequest,
    /// Codex's `--allow-network-for-proxy`: network only through the proxies named in `env`.
    pub proxy_network: bool,
    /// Codex's `--managed-network`: network only to these loopback proxy ports.
    pub managed_network: Option<ManagedNetwork>,
    /// Which unix sockets the command may reach beyond its own socketpairs, whatever the
    /// network mode (a managed network's unix-socket fields must agree with it).
    pub unix_sockets: UnixSockets,
    /// Do not mount a fresh `/proc` (namespace pipeline).
    pub no_proc: bool,
    /// The sandbox's process budget; `None` for [`DEFAULT_MAX_PROCESSES`].
    pub max_processes: Option<u64>,
    /// Optional memory, CPU-time, file-size, open-files and wall-clock limits (none by default).
    pub limits: limits::ResourceLimits,
    /// Run a `bwrap` plan with this installed `bwrap` instead of the embedded launcher.
    pub bwrap_path: Option<PathBuf>,
    /// Names protected in every writable root besides the defaults (`.envrc`, `.vscode`):
    /// plain final path components.
    pub protect: Vec<OsString>,
    /// Default protected names to leave unprotected (`.git` for a `git init` workflow).
    pub unprotect: Vec<OsString>,
    /// Keep the caller's session and process group, and so its controlling terminal, instead
    /// of `setsid`. Allowed only where the seccomp filter refuses TIOCSTI and TIOCLINUX (every
    /// sandboxed pipeline): the terminal can then be read and written, not typed into.
    pub keep_session: bool,
    /// Add Codex's marker `CODEX_SANDBOX_NETWORK_DISABLED=1` to the environment when the policy
    /// lacks full network access, as Codex's spawner does (the CLI and the C ABI; Node only
    /// when asked, since `child_process` passes exactly the environment it is given).
    pub network_marker: bool,
    /// Run the command as this uid (Node's `uid`): only a root caller may ask for another id;
    /// the supplementary groups are then cleared (as libuv does). `None` keeps the caller's.
    pub uid: Option<u32>,
    /// Run the command as this gid (Node's `gid`), on the same terms as [`SandboxSpec::uid`].
    pub gid: Option<u32>,
}

impl SandboxSpec {
    pub fn new(policy: impl Into<Policy>, policy_cwd: impl Into<PathBuf>, argv: Vec<OsString>) -> SandboxSpec {
        SandboxSpec {
            policy: policy.into(),
            policy_cwd: policy_cwd.into(),
            command_cwd: None,
            argv,
            argv0: None,
            env: Vec::new(),
            pipeline: PipelineRequest::Auto,
            proxy_network: false,
            managed_network: None,
            unix_sockets: UnixSockets::None,
            no_proc: false,
            max_processes: None,
            limits: limits::ResourceLimits::default(),
            bwrap_path: None,
            protect: Vec::new(),
            unprotect: Vec::new(),
            keep_session: false,
            network_marker: true,
            uid: None,
            gid: None,
        }
    }
}

/// How a plan is enforced: one variant per pipeline, each holding exactly what that pipeline
/// uses, so an impossible combination (a mount view without namespaces, Landlock without
/// seccomp) cannot be represented.
#[derive(Clone, Debug)]
pub(crate) enum Enforcement {
    Unsandboxed,
    SeccompOnly {
        seccomp: SeccompPlan,
    },
    Landlock {
        landlock: LandlockPlan,
        seccomp: SeccompPlan,
        protected: ProtectedBinds,
        proxy: Option<ProxyPlan>,
        /// Where user namespaces are available, the view of [`mounts::landlock_view`] (in a
        /// user + mount namespace); empty where they are not.
        view: Vec<MountOp>,
        /// What stops metadata changes outside the writable roots.
        metadata: MetadataGuard,
    },
    Namespaces {
        namespaces: NamespacePlan,
        mounts: Vec<MountOp>,
        protected: ProtectedBinds,
        /// A second layer where the kernel has Landlock and the embedded launcher runs.
        landlock: Option<LandlockPlan>,
        seccomp: SeccompPlan,
        executor: Executor,
        proxy: Option<ProxyPlan>,
    },
}

/// What stops changes of mode bits, owners, extended attributes and timestamps of files outside
/// the writable roots on the landlock pipeline (Landlock has no rights for them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum MetadataGuard {
    /// A full-write policy: nothing is outside.
    NotNeeded,
    /// User namespaces: everything outside the writable roots is read-only in the sandbox's
    /// view, so these calls fail there with EROFS.
    ReadOnlyView,
    /// No user namespaces: the seccomp filter hands every metadata call to the sandbox's init,
    /// which resolves the target itself, performs the call only when the object lies in a
    /// writable root (by inode, beneath the root's own descriptor) and answers EPERM otherwise.
    Supervisor {
        calls: Vec<&'static str>,
        /// What it refuses inside the writable roots too.
        refuses: &'static str,
    },
    /// No user namespaces and no supervisor here: the metadata calls are refused everywhere
    /// (EPERM), inside the writable roots too.
    RefusedEverywhere { reason: String },
}

/// What the supervisor refuses even inside the writable roots (`--explain`, docs/security.md).
pub const SUPERVISOR_REFUSES: &str = "set-uid bits, and set-gid bits on anything but a directory (EPERM: a sandboxed command has no business making set-id programs others may run); symlinks' own xattrs (EPERM); paths through magic links such as /proc/<pid>/fd/N or /dev/fd/N (ELOOP); a target that cannot be shown to lie in a writable root (EPERM), e.g. a deleted file through its descriptor. The inode-attribute ioctls (chattr) are refused everywhere (EPERM). chown follows the kernel's rules for the caller's own ids (no capabilities: only the group, to one of the caller's groups)";

/// Protected paths inside writable roots, re-bound read-only in the sandbox's mount namespace
/// (a missing one gets an empty placeholder directory first), and the directories above them
/// bound over themselves first, so the command cannot rename them to carry a protected path
/// away (see [`FilesystemView::directories_to_pin`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct ProtectedBinds {
    pub read_only: Vec<ProtectedPath>,
    pub pins: Vec<PathBuf>,
    /// Missing protected paths that get no placeholder because nobody can create them here
    /// (a read-only workspace, a directory the user may not write to): `(path, why)`.
    pub uncreatable: Vec<(PathBuf, String)>,
}

/// What the sweep after the run covers (see [`SandboxPlan::sweep_scope`]).
pub(crate) struct SweepScope<'a> {
    pub roots: Vec<PathBuf>,
    pub names: &'a resolve::ProtectedNames,
    /// Directories (device, inode) not walked.
    pub skip: Vec<(u64, u64)>,
}

/// What the child does, decided in full before `clone`. Read-only: the executor and `--explain`
/// read it through the accessors; nothing can change it between planning and spawning.
#[derive(Clone, Debug)]
pub struct SandboxPlan {
    pub(crate) reason: String,
    pub(crate) policy: Policy,
    pub(crate) filesystem: FilesystemView,
    pub(crate) network: NetworkMode,
    pub(crate) unix_sockets: UnixSocketsPlan,
    pub(crate) enforcement: Enforcement,
    pub(crate) process: ProcessPlan,
    pub(crate) env_added: Vec<(String, String)>,
    pub(crate) warnings: Vec<String>,
    pub(crate) exec: ExecPlan,
    /// Set when the embedded launcher creates namespaces.
    pub(crate) launcher: Option<LauncherPlan>,
    /// The installed bwrap's launcher plan with a wall-clock limit: it runs bwrap under an init
    /// of ours (a subreaper), which enforces the limit and ends the whole tree.
    pub(crate) init_around_bwrap: bool,
}

/// The unix-socket capability as planned (`--explain`'s `unix_sockets`).
#[derive(Clone, Debug, Serialize)]
pub struct UnixSocketsPlan {
    /// What the caller asked for (its own setting and a managed network's fields, combined).
    pub requested: UnixSockets,
    /// What is enforced: `none` (`socket(AF_UNIX)` refused, stream and seqpacket socketpairs
    /// allowed), `all` (no unix-socket restriction) or `paths` (the sockets of
    /// [`UnixSocketsPlan::granted_paths`], through the connect broker).
    pub granted: &'static str,
    /// The granted sockets (canonical paths; `granted` is `paths`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub granted_paths: Vec<PathBuf>,
    /// What enforces the grant of `granted_paths`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforced_by: Option<&'static str>,
    /// What that means on this pipeline, in words.
    pub meaning: String,
    /// Requested paths that are not granted, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_granted: Vec<String>,
}

/// Who enforces a per-path grant (`--explain`).
pub const CONNECT_BROKER: &str = "the connect broker: the sandbox's init performs every connect of the command \
     itself (seccomp user notification), on its own duplicate of the socket (pidfd_getfd), after resolving a \
     pathname itself (no magic links) and finding one of the granted sockets by device and inode; it connects \
     through its own descriptor of that socket, so nothing the command changes after the check can redirect it";

impl UnixSocketsPlan {
    /// `broker` is `Ok` where the connect broker can run for this plan, or why not.
    fn new(requested: UnixSockets, pipeline: Pipeline, broker: std::result::Result<(), String>) -> UnixSocketsPlan {
        let all = requested.allows_all();
        let mut not_granted = Vec::new();
        let mut granted_paths = Vec::new();
        if let UnixSockets::Paths(paths) = &requested {
            for path in paths {
                match (&broker, grantable_socket(path)) {
                    (Err(why), _) => not_granted.push(UnixSockets::not_granted_because(path, why)),
                    (Ok(()), Err(why)) => not_granted.push(UnixSockets::not_granted_because(path, &why)),
                    (Ok(()), Ok(canonical)) => granted_paths.push(canonical),
                }
            }
        }
        granted_paths.sort();
        granted_paths.dedup();
        let brokered = !granted_paths.is_empty();
        let meaning = match (all, brokered, pipeline) {
            (_, _, Pipeline::Unsandboxed) => "unsandboxed: every unix socket of the host is reachable".to_owned(),
            (true, _, Pipeline::Bwrap) => "every unix socket in the sandbox's view is reachable (pathname sockets of the \
                                        host's tree, and with full network the host's abstract sockets; in an empty \
                                        network namespace only the sandbox's own abstract sockets)"
                .to_owned(),
            (true, _, _) => "every unix socket in the command's view is reachable, pathname and abstract (the host's \
                          network namespace, no Landlock abstract-socket scope)"
                .to_owned(),
            (false, true, _) => "unix stream and seqpacket sockets may be made, and every connect (of any family) is \
                                 performed by the sandbox's init: a unix socket connects only to a granted socket \
                                 (found again by device and inode in the sandbox's view; anything else, abstract \
                                 names included, fails with EACCES); other families connect as the network mode \
                                 allows. Datagram unix sockets fail with EPERM"
                .to_owned(),
            (false, false, _) => "socket(AF_UNIX) fails with EPERM, so no unix socket of the host, pathname or abstract, is \
                           reachable; stream and seqpacket socketpairs and descriptors the launcher passes keep working; \
                           datagram socketpairs fail with EPERM"
                .to_owned(),
        };
        UnixSocketsPlan {
            not_granted,
            granted: if all {
                "all"
            } else if brokered {
                "paths"
            } else {
                "none"
            },
            enforced_by: brokered.then_some(CONNECT_BROKER),
            granted_paths,
            meaning,
            requested,
        }
    }

    /// Whether the connect broker enforces a grant.
    pub fn brokered(&self) -> bool {
        !self.granted_paths.is_empty()
    }
}

/// The canonical path of a socket that exists now, or why it cannot be granted: the broker
/// grants sockets by device and inode, so a socket must exist when the sandbox starts.
fn grantable_socket(path: &Path) -> std::result::Result<PathBuf, String> {
    use std::os::unix::fs::FileTypeExt;
    let canonical = std::fs::canonicalize(path).map_err(|error| {
        format!("it cannot be resolved ({error}); the connect broker grants sockets that exist when the sandbox starts")
    })?;
    match std::fs::symlink_metadata(&canonical) {
        Ok(meta) if meta.file_type().is_socket() => Ok(canonical),
        Ok(_) => Err(format!("`{}` is not a socket", canonical.display())),
        Err(error) => Err(format!("`{}` cannot be read ({error})", canonical.display())),
    }
}

/// Why the connect broker cannot run for this plan, if it cannot.
fn connect_broker_blocker(
    spec: &SandboxSpec,
    pipeline: Pipeline,
    bwrap_path: Option<&Path>,
    host: &HostFacts,
) -> std::result::Result<(), String> {
    match pipeline {
        Pipeline::Unsandboxed | Pipeline::SeccompOnly => {
            return Err(
                "this pipeline runs the command without an init of the sandbox's own, which the connect broker \
                        needs"
                    .into(),
            );
        }
        Pipeline::Bwrap if bwrap_path.is_some() => {
            return Err("an installed bwrap (--bwrap-path) runs no init of ours, which the connect broker needs".into());
        }
        // The broker names the command's threads in /proc: it must be the sandbox's own procfs.
        Pipeline::Bwrap if spec.no_proc || !host.fresh_proc => {
            return Err(
                "without a fresh /proc in the sandbox the connect broker cannot name the command's threads".into()
            );
        }
        Pipeline::Bwrap | Pipeline::Landlock => {}
    }
    host.connect_broker.clone().map_err(|refusal| format!("the connect broker cannot run on this host: {refusal}"))
}

/// How the command is started.
#[derive(Clone, Debug, Serialize)]
pub struct ProcessPlan {
    pub argv: Vec<String>,
    /// `argv[0]` as the command receives it, when it is not the program.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub argv0: Option<String>,
    pub cwd: PathBuf,
    /// `setsid`: no controlling terminal, so no TIOCSTI injection into the caller's terminal.
    pub new_session: bool,
    pub no_new_privs: bool,
    /// All capabilities (effective, permitted, inheritable, ambient, bounding) are dropped.
    pub drop_capabilities: bool,
    /// `RLIMIT_NPROC` of the command: the sandbox's processes and threads, counted in its own
    /// user namespace (so the host's processes of the same uid neither count nor can be starved
    /// of their budget). `None` where the command shares the host's user namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_processes: Option<u64>,
    /// Where `RLIMIT_NPROC` cannot count the sandbox apart (the host's root, whom the kernel
    /// exempts; a command sharing the host's user namespace; an installed bwrap), the budget is
    /// a child cgroup of this one in this pids hierarchy (`pids.max`), made for the run and
    /// removed after it; the sandbox is in it before anything of the command runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids_cgroup: Option<crate::probe::cgroup::DelegatedCgroup>,
    /// The optional resource limits (see [`limits`]).
    #[serde(skip_serializing_if = "limits::LimitsPlan::is_empty")]
    pub limits: limits::LimitsPlan,
    /// Every descriptor except stdio and those passed explicitly is closed.
    pub close_other_fds: bool,
    /// Where `argv[0]` is looked for, in order.
    pub exec_candidates: Vec<PathBuf>,
    /// The ids the command runs as, when the caller (root) asked for others than its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ids: Option<process::SwitchIds>,
}

/// The non-printable part of the plan: exact bytes for the child.
#[derive(Clone, Debug, Default)]
pub(crate) struct ExecPlan {
    pub argv: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
    pub cwd: PathBuf,
    pub candidates: Vec<PathBuf>,
}

impl SandboxPlan {
    pub fn pipeline(&self) -> Pipeline {
        match self.enforcement {
            Enforcement::Unsandboxed => Pipeline::Unsandboxed,
            Enforcement::SeccompOnly { .. } => Pipeline::SeccompOnly,
            Enforcement::Landlock { .. } => Pipeline::Landlock,
            Enforcement::Namespaces { .. } => Pipeline::Bwrap,
        }
    }

    /// Why this pipeline, in words.
    pub fn pipeline_reason(&self) -> &str {
        &self.reason
    }

    pub fn network(&self) -> NetworkMode {
        self.network
    }

    /// The unix-socket capability: what was asked for and what is enforced.
    pub fn unix_sockets(&self) -> &UnixSocketsPlan {
        &self.unix_sockets
    }

    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn process(&self) -> &ProcessPlan {
        &self.process
    }

    /// Variables set on top of the caller's environment.
    pub fn env_added(&self) -> &[(String, String)] {
        &self.env_added
    }

    pub fn landlock(&self) -> Option<&LandlockPlan> {
        match &self.enforcement {
            Enforcement::Landlock { landlock, .. } => Some(landlock),
            Enforcement::Namespaces { landlock, .. } => landlock.as_ref(),
            _ => None,
        }
    }

    pub fn seccomp(&self) -> Option<&SeccompPlan> {
        match &self.enforcement {
            Enforcement::Unsandboxed => None,
            Enforcement::SeccompOnly { seccomp }
            | Enforcement::Landlock { seccomp, .. }
            | Enforcement::Namespaces { seccomp, .. } => Some(seccomp),
        }
    }

    /// The namespace pipeline's filesystem view, in order (empty on the other pipelines).
    pub fn mounts(&self) -> &[MountOp] {
        match &self.enforcement {
            Enforcement::Namespaces { mounts, .. } | Enforcement::Landlock { view: mounts, .. } => mounts,
            _ => &[],
        }
    }

    /// What stops metadata changes outside the writable roots (landlock pipeline).
    pub fn metadata_guard(&self) -> Option<&MetadataGuard> {
        match &self.enforcement {
            Enforcement::Landlock { metadata, .. } => Some(metadata),
            _ => None,
        }
    }

    pub fn namespaces(&self) -> Option<&NamespacePlan> {
        match &self.enforcement {
            Enforcement::Namespaces { namespaces, .. } => Some(namespaces),
            _ => None,
        }
    }

    pub fn proxy(&self) -> Option<&ProxyPlan> {
        match &self.enforcement {
            Enforcement::Landlock { proxy, .. } | Enforcement::Namespaces { proxy, .. } => proxy.as_ref(),
            _ => None,
        }
    }

    /// How the embedded launcher builds the namespaces' mounts, when it creates any.
    pub fn launcher(&self) -> Option<&LauncherPlan> {
        self.launcher.as_ref()
    }

    pub fn executor(&self) -> &Executor {
        match &self.enforcement {
            Enforcement::Namespaces { executor, .. } => executor,
            _ => &Executor::Embedded,
        }
    }

    pub(crate) fn protected(&self) -> &ProtectedBinds {
        static NONE: ProtectedBinds =
            ProtectedBinds { read_only: Vec::new(), pins: Vec::new(), uncreatable: Vec::new() };
        match &self.enforcement {
            Enforcement::Landlock { protected, .. } | Enforcement::Namespaces { protected, .. } => protected,
            _ => &NONE,
        }
    }

    /// What the sweep after the run covers (see `exec::sweep`): the writable roots, the
    /// protected names, and the directories not walked (the read-only protected directories,
    /// where nothing can be created). `None` where the command may write everywhere or there
    /// is nothing to sweep.
    pub(crate) fn sweep_scope(&self) -> Option<SweepScope<'_>> {
        let names = &self.filesystem.protected_names;
        let confined = matches!(self.enforcement, Enforcement::Landlock { .. } | Enforcement::Namespaces { .. });
        if !confined
            || self.filesystem.full_write
            || names.names().is_empty()
            || self.filesystem.writable_roots.is_empty()
        {
            return None;
        }
        let skip = self
            .protected()
            .read_only
            .iter()
            .filter(|p| p.kind == resolve::ProtectedKind::Directory)
            .filter_map(|p| p.identity)
            .collect();
        // `/tmp` and `$TMPDIR` are shared with every process of the host, whose own `.git`s
        // appear there during the run too: the sweep could not tell them from the command's
        // and would delete other programs' files (docs/security.md, residual risks).
        let roots: Vec<PathBuf> = self
            .filesystem
            .writable_roots
            .iter()
            .filter(|root| matches!(root.source, resolve::RootSource::Explicit | resolve::RootSource::PolicyCwd))
            .map(|root| root.path.clone())
            .collect();
        if roots.is_empty() {
            return None;
        }
        Some(SweepScope { roots, names, skip })
    }

    /// Protected paths re-bound read-only in the sandbox, shallowest first.
    pub fn read_only_binds(&self) -> &[ProtectedPath] {
        &self.protected().read_only
    }

    /// The plan that starts an installed bwrap (`bwrap_argv`, the command included) as a plain
    /// child: bwrap does the isolation.
    pub(crate) fn bwrap_launcher(&self, bwrap: &Path, bwrap_argv: Vec<OsString>) -> SandboxPlan {
        let mut outer = self.clone();
        outer.enforcement = Enforcement::Unsandboxed;
        outer.process.no_new_privs = false;
        outer.process.drop_capabilities = false;
        outer.exec.argv = bwrap_argv;
        outer.exec.candidates = vec![bwrap.to_path_buf()];
        // Always under an init of ours, a subreaper: an installed bwrap exits as soon as its
        // command has, while its PID 1 is still ending the rest of its namespace (a daemon the
        // command left, with its open files and locks). Re-parented to init when bwrap exits,
        // that PID 1 is reaped before init reports, so the run ends once nothing of it is
        // left, as on the embedded launcher (and init enforces the wall-clock limit).
        outer.init_around_bwrap = true;
        outer
    }
}

/// `--explain`'s view of a plan: every field, including those a pipeline does not use (empty
/// or null), so the JSON has one shape.
#[derive(Serialize)]
struct Explained<'a> {
    pipeline: Pipeline,
    pipeline_reason: &'a str,
    policy: &'a Policy,
    filesystem: &'a FilesystemView,
    read_only_binds: &'a [ProtectedPath],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pinned_directories: &'a [PathBuf],
    /// Missing protected paths left without a placeholder, and why.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    uncreatable_protected_paths: &'a [(PathBuf, String)],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    mounts: &'a [MountOp],
    #[serde(skip_serializing_if = "Option::is_none")]
    namespaces: Option<&'a NamespacePlan>,
    executor: &'a Executor,
    #[serde(skip_serializing_if = "Option::is_none")]
    launcher: Option<&'a LauncherPlan>,
    landlock: Option<&'a LandlockPlan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a MetadataGuard>,
    network: NetworkMode,
    unix_sockets: &'a UnixSocketsPlan,
    #[serde(skip_serializing_if = "Option::is_none")]
    proxy: Option<&'a ProxyPlan>,
    seccomp: Option<&'a SeccompPlan>,
    process: &'a ProcessPlan,
    env_added: &'a [(String, String)],
    warnings: &'a [String],
}

impl Serialize for SandboxPlan {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        Explained {
            pipeline: self.pipeline(),
            pipeline_reason: &self.reason,
            policy: &self.policy,
            filesystem: &self.filesystem,
            read_only_binds: &self.protected().read_only,
            pinned_directories: &self.protected().pins,
            uncreatable_protected_paths: &self.protected().uncreatable,
            mounts: self.mounts(),
            namespaces: self.namespaces(),
            executor: self.executor(),
            launcher: self.launcher(),
            landlock: self.landlock(),
            metadata: self.metadata_guard(),
            network: self.network,
            unix_sockets: &self.unix_sockets,
            proxy: self.proxy(),
            seccomp: self.seccomp(),
            process: &self.process,
            env_added: &self.env_added,
            warnings: &self.warnings,
        }
        .serialize(serializer)
    }
}

/// Validates `spec` and decides everything the child will do on this host.
pub fn prepare(spec: &SandboxSpec) -> Result<SandboxPlan> {
    let proxy_mode = spec.proxy_network || spec.managed_network.as_ref().is_some_and(|m| !m.loopback_ports.is_empty());
    prepare_for(spec, if proxy_mode { HostFacts::get_with_loopback() } else { HostFacts::get() })
}

/// Validates `spec` and decides everything the child will do on a host with these facts.
/// Reads the filesystem, creates no process, changes nothing.
pub fn prepare_for(spec: &SandboxSpec, host: &HostFacts) -> Result<SandboxPlan> {
    let program = process::check_argv(&spec.argv)?;
    process::check_argv0(spec.argv0.as_deref())?;
    process::check_env(&spec.env)?;
    let ids = process::switch_ids(spec.uid, spec.gid, host)?;
    if spec.max_processes == Some(0) {
        return Err(Error::argument("max-processes", "0 would let not even the command run; give at least 1"));
    }
    // Proxy mode routes exactly the proxies the environment names (or, with a managed network,
    // the loopback ports it names), or nothing runs.
    let proxy_endpoints = match &spec.managed_network {
        Some(managed) if managed.loopback_ports.is_empty() => None,
        Some(managed) => Some(managed_endpoints(managed)),
        None if spec.proxy_network => Some(proxy::endpoints::infer(&spec.env).require_all_usable()?.to_vec()),
        None => None,
    };

    let tmpdir = spec.env.iter().find(|(k, _)| k == "TMPDIR").map(|(_, v)| v.as_os_str());
    let names = resolve::ProtectedNames::new(&spec.protect, &spec.unprotect, "protect", "unprotect")?;
    let filesystem = resolve::resolve_with_names(&spec.policy.lower(), &spec.policy_cwd, tmpdir, &names)?;
    let command_cwd = match &spec.command_cwd {
        Some(cwd) => resolve::canonical_dir(cwd, "command-cwd")?,
        None => resolve::canonical_dir(&spec.policy_cwd, "sandbox-policy-cwd")?,
    };
    let network = match &proxy_endpoints {
        Some(_) => NetworkMode::Proxy,
        // A managed network without ports reaches nothing.
        None if spec.managed_network.is_some() => NetworkMode::Restricted,
        None if spec.policy.has_full_network_access() => NetworkMode::Full,
        None => NetworkMode::Restricted,
    };
    if let (Some(ids), Some(_)) = (&ids, &spec.bwrap_path) {
        return Err(installed_bwrap_cannot_switch(ids));
    }
    if spec.bwrap_path.is_some() && spec.pipeline == PipelineRequest::Landlock {
        return Err(Error::argument("bwrap-path", "a system bwrap can only run the bwrap pipeline (--pipeline bwrap)"));
    }
    if let Some(bwrap) = &spec.bwrap_path {
        resolve::check_bwrap_path(bwrap, &filesystem, "bwrap-path")?;
    }
    let choice = pipeline::choose(spec, &filesystem, network, host)?;
    let (pipeline, reason) = (choice.pipeline, choice.reason);
    let bwrap_path = spec.bwrap_path.clone().or(choice.system_bwrap);
    let managed_unix = spec.managed_network.as_ref().map(ManagedNetwork::unix_sockets).unwrap_or_default();
    let broker = connect_broker_blocker(spec, pipeline, bwrap_path.as_deref(), host);
    let unix_sockets =
        UnixSocketsPlan::new(UnixSockets::combine(spec.unix_sockets.clone(), managed_unix)?, pipeline, broker);
    let mut warnings: Vec<String> = Vec::new();
    if pipeline != Pipeline::Unsandboxed {
        warnings.extend(unix_sockets.not_granted.iter().cloned());
        if unix_sockets.requested.allows_all() {
            warnings.push(format!("unix sockets: all: {}", unix_sockets.meaning));
        }
        warnings.extend(local_binding_warning(spec, pipeline, network));
    }
    let unix = &unix_sockets.requested;
    let brokered = unix_sockets.brokered();
    let enforcement = match pipeline {
        Pipeline::Unsandboxed => Enforcement::Unsandboxed,
        // A full-write policy (external-sandbox): the caller's own sandbox decides about host
        // processes and IPC (a container has namespaces of its own), so not the host-process
        // rules of the landlock pipeline. The unix-socket capability holds here too: it is a
        // network right, which the policy states.
        Pipeline::SeccompOnly => Enforcement::SeccompOnly { seccomp: SeccompPlan::new(network, false, true, unix) },
        Pipeline::Landlock => {
            let connectivity = Connectivity { network, unix_sockets: unix, brokered, proxy_endpoints };
            plan_landlock(spec, host, &filesystem, connectivity, &mut warnings)?
        }
        Pipeline::Bwrap => {
            let connectivity = Connectivity { network, unix_sockets: unix, brokered, proxy_endpoints };
            plan_namespaces(spec, bwrap_path, host, &filesystem, connectivity, &mut warnings)?
        }
    };
    if spec.bwrap_path.is_some() && !matches!(enforcement, Enforcement::Namespaces { .. }) {
        return Err(Error::argument("bwrap-path", "a system bwrap can only run the bwrap pipeline (--pipeline bwrap)"));
    }

    let mut env = spec.env.clone();
    let mut env_added = Vec::new();
    // Codex's marker follows the policy: in proxy mode a policy without network keeps it.
    if spec.network_marker && !spec.policy.has_full_network_access() {
        process::set_env(&mut env, &mut env_added, "CODEX_SANDBOX_NETWORK_DISABLED", "1");
    }
    let candidates = process::exec_candidates(program, &env);
    let sandboxed = pipeline != Pipeline::Unsandboxed;
    let (max_processes, pids_cgroup) = process_budget(spec, &enforcement, host, &mut warnings)?;
    let limits = resource_limits(spec, &enforcement, host, &mut warnings)?;
    let embedded_namespaces = match &enforcement {
        Enforcement::Namespaces { executor, .. } => *executor == Executor::Embedded,
        Enforcement::Landlock { protected, view, .. } => !protected.read_only.is_empty() || !view.is_empty(),
        _ => false,
    };
    let mut plan = SandboxPlan {
        reason,
        policy: spec.policy.clone(),
        filesystem,
        network,
        unix_sockets,
        enforcement,
        process: ProcessPlan {
            argv: spec.argv.iter().map(|a| a.to_string_lossy().into_owned()).collect(),
            argv0: spec.argv0.as_ref().map(|a| a.to_string_lossy().into_owned()),
            cwd: command_cwd.clone(),
            new_session: !spec.keep_session,
            no_new_privs: sandboxed,
            drop_capabilities: matches!(pipeline, Pipeline::Landlock | Pipeline::Bwrap),
            max_processes,
            pids_cgroup,
            limits,
            close_other_fds: true,
            exec_candidates: candidates.clone(),
            ids,
        },
        env_added,
        warnings,
        exec: ExecPlan { argv: process::exec_argv(&spec.argv, spec.argv0.as_ref()), env, cwd: command_cwd, candidates },
        launcher: embedded_namespaces.then(|| LauncherPlan::for_host(host)),
        init_around_bwrap: false,
    };
    if spec.keep_session && plan.seccomp().is_none() {
        return Err(Error::argument(
            "keep-session",
            "the caller's terminal can be kept only where the seccomp filter refuses TIOCSTI and TIOCLINUX; this plan has no seccomp filter",
        ));
    }
    // An installed bwrap executes the argv it is given, so it could not run one program under
    // another argv[0].
    if spec.argv0.as_ref().is_some_and(|argv0| Some(argv0) != spec.argv.first())
        && matches!(plan.executor(), Executor::SystemBwrap { .. })
    {
        return Err(Error::argument(
            "argv0",
            "an installed bwrap (bwrap-path) cannot start a program under another argv[0]; use the embedded launcher",
        ));
    }
    // `auto` may have chosen an installed bwrap.
    if let (Some(ids), Executor::SystemBwrap { .. }) = (&plan.process.ids, plan.executor()) {
        return Err(installed_bwrap_cannot_switch(ids));
    }
    if let (Some(ids), Enforcement::Namespaces { namespaces, .. }) = (plan.process.ids, &mut plan.enforcement) {
        namespaces.id_map = format!(
            "uid {0} -> {0} and {1} -> {1}, gid {2} -> {2} and {3} -> {3} (written by the launcher); the command runs as uid {1}, gid {3}",
            host.euid, ids.uid, host.egid, ids.gid
        );
    }
    // What the system bwrap will get, for --explain.
    if let Executor::SystemBwrap { path, .. } = plan.executor() {
        let rendered = bwrap_args::command_line(&plan, &path.clone(), plan.seccomp().map(|_| "FD"), "STATUS_FD");
        if let Enforcement::Namespaces { executor: Executor::SystemBwrap { args, .. }, .. } = &mut plan.enforcement {
            *args = rendered;
        }
    }
    Ok(plan)
}

/// An installed bwrap writes its user namespace's maps itself (the caller's ids only), and a
/// setuid bwrap refuses callers that switched ids: it cannot run the command as other ids.
fn installed_bwrap_cannot_switch(ids: &SwitchIds) -> Error {
    Error::argument(
        ids.field(),
        "an installed bwrap (bwrap-path) cannot run the command as another uid or gid; use the embedded launcher",
    )
}

/// Processes and threads a sandbox may have at once, by default.
pub const DEFAULT_MAX_PROCESSES: u64 = 4096;

/// The command's process budget: in the sandbox's own user namespace the kernel counts only
/// the sandbox's processes, so a fork bomb exhausts the sandbox's budget, never the uid's.
/// Sharing the host's user namespace, the limit would count the uid's processes everywhere (and
/// could stop the command from starting at all), so none is set there. The kernel never applies
/// it to the host's root (uid 0 outside any user namespace owns every process budget). Where
/// `RLIMIT_NPROC` cannot do it, a pids cgroup of the run's own does, if this process may make
/// one; otherwise there is no budget (a default is dropped with a warning, an explicit one is
/// refused).
fn process_budget(
    spec: &SandboxSpec,
    enforcement: &Enforcement,
    host: &HostFacts,
    warnings: &mut Vec<String>,
) -> Result<(Option<u64>, Option<crate::probe::cgroup::DelegatedCgroup>)> {
    let budget = spec.max_processes.unwrap_or(DEFAULT_MAX_PROCESSES);
    let why_not = match enforcement {
        // An installed bwrap is started by a plain child of the host's user namespace, where
        // the limit would count the uid's processes everywhere.
        Enforcement::Namespaces { executor: Executor::SystemBwrap { .. }, .. } => Some("with an installed bwrap"),
        Enforcement::Namespaces { .. } => None,
        Enforcement::Landlock { protected, view, .. } if !view.is_empty() || !protected.read_only.is_empty() => None,
        Enforcement::Landlock { .. } => Some("where the command shares the host's user namespace"),
        Enforcement::Unsandboxed | Enforcement::SeccompOnly { .. } => return Ok((None, None)),
    }
    // The kernel never applies RLIMIT_NPROC to the host's uid 0.
    .or((host.euid == 0).then_some("for the host's uid 0, whom the kernel exempts"));
    let Some(why) = why_not else { return Ok((Some(budget), None)) };
    if let Ok(cgroup) = &host.pids_cgroup {
        return Ok((Some(budget), Some(cgroup.clone())));
    }
    let no_cgroup = host.pids_cgroup.as_ref().err().map(String::as_str).unwrap_or_default();
    match spec.max_processes {
        // Asked for explicitly: a budget the run would not have is refused, not dropped.
        Some(asked) => Err(Error::Unsupported {
            what: format!("a process budget of {asked}"),
            reason: format!(
                "RLIMIT_NPROC cannot be enforced {why}, and no pids cgroup can be made ({no_cgroup}); run without \
                 --max-processes (maxProcesses) to accept that"
            ),
        }),
        None => {
            warnings.push(format!("no process budget {why}, and no pids cgroup ({no_cgroup})"));
            Ok((None, None))
        }
    }
}

/// What a pipeline's planner is told about the network: the IP mode, the unix-socket
/// capability, and in proxy mode the endpoints to route.
struct Connectivity<'a> {
    network: NetworkMode,
    unix_sockets: &'a UnixSockets,
    /// The connect broker enforces granted unix-socket paths.
    brokered: bool,
    proxy_endpoints: Option<Vec<ProxyEndpoint>>,
}

/// The optional limits. The rlimits hold on every pipeline (an installed bwrap inherits them
/// from the process that executes it); the wall-clock limit needs an init of ours, which ends
/// the whole tree (with an installed bwrap, a subreaper init of ours runs bwrap): asked for
/// where there is none, the run is refused.
fn resource_limits(
    spec: &SandboxSpec,
    enforcement: &Enforcement,
    host: &HostFacts,
    warnings: &mut Vec<String>,
) -> Result<limits::LimitsPlan> {
    let planned = limits::plan(&spec.limits, limits::launcher_hard_limit, &host.memory_cgroup, warnings)?;
    if let Some(ms) = planned.wall_time_ms {
        let why_not = match enforcement {
            Enforcement::Namespaces { .. } | Enforcement::Landlock { .. } => None,
            Enforcement::Unsandboxed | Enforcement::SeccompOnly { .. } => Some(
                "without the sandbox's init, which only the bwrap and landlock pipelines have (this policy runs \
                 the command directly)",
            ),
        };
        if let Some(why) = why_not {
            return Err(Error::Unsupported {
                what: format!("a wall-clock limit of {ms} ms"),
                reason: format!("it needs the sandbox's own init to end the tree; it has none {why}"),
            });
        }
    }
    Ok(planned)
}

/// The proxy endpoints of a managed network: its loopback ports on `127.0.0.1`.
fn managed_endpoints(managed: &ManagedNetwork) -> Vec<ProxyEndpoint> {
    managed
        .loopback_ports
        .iter()
        .enumerate()
        .map(|(index, port)| ProxyEndpoint {
            variable: format!("managed-network.loopbackPorts[{index}]"),
            addr: std::net::SocketAddr::from(([127, 0, 0, 1], *port)),
        })
        .collect()
}

/// Protected paths inside writable roots, shallowest first (the order they are bound in).
fn protected_binds(filesystem: &FilesystemView) -> ProtectedBinds {
    let mut uncreatable = Vec::new();
    let mut read_only: Vec<ProtectedPath> = filesystem
        .protected_paths()
        .filter(|p| filesystem.is_under_writable_root(&p.path))
        .filter(|p| match uncreatable_reason(p) {
            Some(why) => {
                uncreatable.push((p.path.clone(), why));
                false
            }
            None => true,
        })
        .cloned()
        .collect();
    read_only.sort_by_key(|p| p.path.components().count());
    let pins = filesystem.directories_to_pin(&read_only);
    ProtectedBinds { read_only, pins, uncreatable }
}

fn uncreatable_warnings(protected: &ProtectedBinds) -> impl Iterator<Item = String> + '_ {
    protected.uncreatable.iter().map(|(path, why)| format!("`{}` is {why}", path.display()))
}

/// Why a missing protected path needs no placeholder: its directory cannot get a new entry,
/// by us or by the command (same ids, and the sandbox only takes rights away). A read-only
/// mount (EROFS) stays read-only in the sandbox; a directory the user may not write to
/// (EACCES) stays so unless the user owns it, who could `chmod` it — that case keeps the
/// placeholder, and its refusal.
fn uncreatable_reason(protected: &ProtectedPath) -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;
    if protected.kind != resolve::ProtectedKind::Missing || !protected.placeholder_if_missing {
        return None;
    }
    let parent = protected.path.parent()?;
    let c_parent = std::ffi::CString::new(parent.as_os_str().as_bytes()).ok()?;
    let errno = crate::sys::may_write(&c_parent).err()?.0;
    let owned = std::fs::metadata(parent).is_ok_and(|m| m.uid() == crate::sys::geteuid());
    let why = match errno {
        libc::EROFS => "on a read-only file system",
        libc::EACCES if !owned => "in a directory this user may not write to (and does not own)",
        _ => return None,
    };
    Some(format!(
        "missing and {why} ({}): the command cannot create it either, so it gets no placeholder",
        std::io::Error::from_raw_os_error(errno)
    ))
}

fn readable_roots(filesystem: &FilesystemView) -> Vec<PathBuf> {
    match &filesystem.read {
        ReadScope::Full => vec![PathBuf::from("/")],
        ReadScope::Restricted { roots, .. } => roots.clone(),
    }
}

fn writable_roots(filesystem: &FilesystemView) -> Vec<PathBuf> {
    filesystem.writable_roots.iter().map(|r| r.path.clone()).collect()
}

fn plan_landlock(
    spec: &SandboxSpec,
    host: &HostFacts,
    filesystem: &FilesystemView,
    connectivity: Connectivity<'_>,
    warnings: &mut Vec<String>,
) -> Result<Enforcement> {
    let Connectivity { network, unix_sockets, brokered, proxy_endpoints } = connectivity;
    // Landlock only grants; a path inside a readable tree cannot be taken away again without a
    // mount namespace. Never run with it silently readable.
    if let Some(deny) = filesystem.deny_read.first() {
        return Err(Error::Unsupported {
            what: format!("deny-read of `{}` on the landlock pipeline", deny.path.display()),
            reason: "Landlock cannot take back reads inside a readable tree and this pipeline masks nothing; \
                     use the bwrap pipeline (a host that allows user namespaces)"
                .into(),
        });
    }
    let abi = host.landlock_abi.clone().map_err(|refusal| Error::host_refused("the Landlock pipeline", refusal))?;
    let protected = protected_binds(filesystem);
    warnings.extend(uncreatable_warnings(&protected));
    if let (false, Err(refusal)) = (protected.read_only.is_empty(), &host.namespaces) {
        let paths: Vec<String> = protected.read_only.iter().map(|p| p.path.display().to_string()).collect();
        return Err(Error::host_refused(
            format!("read-only protection of {} on the landlock pipeline", paths.join(", ")),
            refusal.clone(),
        ));
    }
    let mut landlock = if filesystem.full_write {
        LandlockPlan::network_only(abi)
    } else {
        LandlockPlan::new(abi, &readable_roots(filesystem), &writable_roots(filesystem), &[])
            // `/dev` is not part of a full read: only the harmless devices and the command's own
            // terminal are (Landlock cannot take a subtree back out of a grant on `/`).
            .without_dev_reads(&landlock::top_level_entries(), &landlock::own_terminals())
    };
    let mut proxy = None;
    if let Some(endpoints) = proxy_endpoints {
        let route = ProxyPlan::landlock_ports(endpoints);
        landlock = landlock.with_tcp_connect_only(route.ports()).map_err(|reason| Error::Unsupported {
            what: "proxy-only networking on the landlock pipeline".into(),
            reason: format!("{reason}; use the bwrap pipeline"),
        })?;
        proxy = Some(route);
    }
    if unix_sockets.allows_all() {
        landlock = landlock.without_abstract_unix_scope();
    }
    warnings.extend(landlock.not_enforced.iter().map(|gap| format!("landlock: {gap}")));
    if spec.no_proc {
        warnings.push(
            "--no-proc on the landlock pipeline: no fresh /proc, so no PID namespace either (the host's /proc stays)"
                .into(),
        );
    }
    // With user namespaces everything outside the writable roots is read-only in the view.
    let mut view = if host.namespaces.is_ok() && !filesystem.full_write {
        mounts::landlock_view(filesystem, &protected.pins, &protected.read_only)
    } else {
        Vec::new()
    };
    // And, where a fresh procfs can be mounted, PID and IPC namespaces of its own (init is
    // their PID 1) with that /proc, whose Landlock rule is added in the sandbox's view.
    let own_pids = !view.is_empty() && host.fresh_proc && !spec.no_proc;
    if own_pids {
        view.push(MountOp::Proc);
        landlock = landlock.in_sandbox_view(&[Path::new("/proc")]);
    }
    let metadata = metadata_guard(filesystem, host, !view.is_empty());
    let mut seccomp = if brokered {
        SeccompPlan::with_connect_broker(network, false, false)
    } else {
        SeccompPlan::new(network, false, false, unix_sockets)
    };
    if let MetadataGuard::Supervisor { .. } | MetadataGuard::RefusedEverywhere { .. } = &metadata {
        if !protected.read_only.is_empty() {
            // The supervisor's check knows the writable roots only; planning refused read-only
            // subpaths without a view above.
            return Err(Error::Internal("protected paths on the landlock pipeline without a view".into()));
        }
        let supervised = matches!(metadata, MetadataGuard::Supervisor { .. });
        seccomp = seccomp.with_metadata_rules(MetadataRules { supervised, truncate: abi < 3 });
    }
    warnings.extend(landlock_residual_risks(abi, &metadata, own_pids));
    Ok(Enforcement::Landlock { landlock, seccomp, protected, proxy, view, metadata })
}

/// Which guard the landlock pipeline's metadata gets on this host.
fn metadata_guard(filesystem: &FilesystemView, host: &HostFacts, view: bool) -> MetadataGuard {
    if filesystem.full_write {
        return MetadataGuard::NotNeeded;
    }
    if view {
        return MetadataGuard::ReadOnlyView;
    }
    match &host.metadata_supervisor {
        Ok(()) => MetadataGuard::Supervisor {
            calls: crate::seccomp::metadata_calls(host.landlock_abi.as_ref().is_ok_and(|abi| *abi < 3))
                .into_iter()
                .map(|(name, _)| name)
                .collect(),
            refuses: SUPERVISOR_REFUSES,
        },
        Err(refusal) => MetadataGuard::RefusedEverywhere { reason: refusal.to_string() },
    }
}

/// What the landlock pipeline leaves open on this host, for `--explain`'s `warnings` (and
/// `docs/security.md`, which lists the same with the escape probes that show them).
fn landlock_residual_risks(abi: u32, metadata: &MetadataGuard, own_pids: bool) -> Vec<String> {
    let mut risks = Vec::new();
    match metadata {
        MetadataGuard::RefusedEverywhere { reason } => risks.push(format!(
            "landlock pipeline without user namespaces: chmod, chown, xattr and utimes calls are refused with EPERM \
             everywhere, inside the writable roots too (`chmod +x` in the workspace fails): the metadata supervisor \
             cannot run here ({reason})"
        )),
        MetadataGuard::Supervisor { .. } => risks.push(
            "landlock pipeline without user namespaces: metadata calls (chmod, chown, xattrs, utimes) go through the \
             sandbox's init, which performs them only inside the writable roots; it refuses set-uid/set-gid bits and \
             paths through magic links there too, and reading a file outside still updates its access time"
                .to_owned(),
        ),
        MetadataGuard::NotNeeded | MetadataGuard::ReadOnlyView => {}
    }
    if own_pids {
        return risks;
    }
    risks.push(
        "landlock pipeline: no PID namespace: /proc lists every host process and its command line (environments \
         and memory are refused)"
            .to_owned(),
    );
    risks.push(
        "landlock pipeline: the sandbox's init is a subreaper in the host's PID namespace: it ends every descendant \
         when the command exits or the launcher dies, but a SIGKILL sent to init's own pid from outside (not through \
         the sandbox's kill, which signals the command) leaves the command's descendants running"
            .to_owned(),
    );
    if abi < 6 {
        risks.push(
            "landlock pipeline: Landlock ABI < 6 does not scope signals, so the command can also kill its init \
             (and then its descendants outlive the run)"
                .to_owned(),
        );
    }
    risks
}

/// What `allowLocalBinding` of a managed network gets here: granted where the command has a
/// network namespace of its own (the namespace pipeline's proxy mode: a listener on its
/// loopback is reachable from the sandbox only, so binding is allowed there anyway); not on the
/// landlock pipeline, whose command shares the host's network stack (a listener would be
/// reachable from the host and, bound to a wildcard address, from the network; Landlock's
/// bind rules name ports, not addresses, and seccomp cannot read the address), nor without
/// proxy ports (no network at all).
fn local_binding_warning(spec: &SandboxSpec, pipeline: Pipeline, network: NetworkMode) -> Option<String> {
    if !spec.managed_network.as_ref().is_some_and(|m| m.allow_local_binding) {
        return None;
    }
    match (pipeline, network) {
        (Pipeline::Bwrap, NetworkMode::Proxy) => None,
        (Pipeline::Landlock, _) => Some(
            "managed-network: allowLocalBinding is not granted on the landlock pipeline: the command shares the host's \
             network stack, where a listener would be reachable from the host (and, on a wildcard address, from the \
             network), and neither Landlock (ports, not addresses) nor seccomp (the address is in memory) can hold a \
             bind to loopback; bind, listen and accept stay refused with EPERM. The bwrap pipeline grants it (its own \
             network namespace)"
                .to_owned(),
        ),
        _ => Some(
            "managed-network: allowLocalBinding is not granted without loopbackPorts: the command has no network at all"
                .to_owned(),
        ),
    }
}

fn plan_namespaces(
    spec: &SandboxSpec,
    bwrap_path: Option<PathBuf>,
    host: &HostFacts,
    filesystem: &FilesystemView,
    connectivity: Connectivity<'_>,
    warnings: &mut Vec<String>,
) -> Result<Enforcement> {
    let Connectivity { network, unix_sockets, brokered, proxy_endpoints } = connectivity;
    let protected = protected_binds(filesystem);
    warnings.extend(uncreatable_warnings(&protected));
    let new_netns = network != NetworkMode::Full;
    let mut no_proc = spec.no_proc;
    if !no_proc && !host.fresh_proc {
        warnings.push(
            "this host refuses a fresh /proc in new namespaces (a container's masked /proc?): /proc is masked instead"
                .into(),
        );
        no_proc = true;
    }
    let options = ViewOptions { no_proc, new_netns };
    let (view, view_warnings) = mounts::plan(filesystem, &protected.pins, &protected.read_only, options);
    warnings.extend(view_warnings);
    let namespaces = NamespacePlan {
        user: true,
        mount: true,
        pid: true,
        ipc_uts_cgroup: true,
        network: new_netns,
        loopback: new_netns.then_some(if network == NetworkMode::Proxy {
            "IFF_UP only (the kernel then adds 127.0.0.1 and ::1; no RTM_NEWADDR, which AppArmor-restricted \
             hosts refuse); required: the proxy routes listen on lo, so a refusal stops the setup"
        } else {
            "IFF_UP only (the kernel then adds 127.0.0.1 and ::1; no RTM_NEWADDR, which AppArmor-restricted \
             hosts refuse); best effort: where even that is refused the command runs with lo as the host left it"
        }),
        id_map: format!("uid {0} -> {0}, gid {1} -> {1}", host.euid, host.egid),
    };
    let proxy = match proxy_endpoints {
        Some(_) if bwrap_path.is_some() => {
            return Err(Error::Unsupported {
                what: "proxy-only networking with a system bwrap".into(),
                reason: "the proxy bridge needs the embedded launcher; drop --bwrap-path".into(),
            });
        }
        Some(endpoints) => Some(ProxyPlan::bridged(endpoints)),
        None => None,
    };
    let landlock = match &host.landlock_abi {
        Ok(_) if filesystem.full_write => None,
        Ok(_) if bwrap_path.is_some() => {
            warnings.push("the system bwrap executor applies no Landlock layer".into());
            None
        }
        Ok(abi) => {
            // The view itself hides what may not be read, so the second layer only restricts
            // writes.
            let mut plan = LandlockPlan::new(*abi, &[PathBuf::from("/")], &writable_roots(filesystem), &["/dev/pts"]);
            if matches!(filesystem.read, ReadScope::Restricted { .. }) {
                // The view's root is a new tmpfs, not the host's.
                plan = plan.in_sandbox_view(&[Path::new("/")]);
            }
            if unix_sockets.allows_all() {
                plan = plan.without_abstract_unix_scope();
            }
            warnings.extend(plan.not_enforced.iter().map(|gap| format!("landlock: {gap}")));
            Some(plan)
        }
        Err(reason) => {
            warnings.push(format!("no Landlock layer under the namespaces: {reason}"));
            None
        }
    };
    let executor = match bwrap_path {
        None => Executor::Embedded,
        // An installed bwrap runs outside every confinement (given, or found by `auto`): it
        // must be out of the command's reach, an absolute path, an executable file.
        Some(path) => Executor::SystemBwrap {
            path: resolve::check_bwrap_path(&path, filesystem, "bwrap-path")?,
            args: Vec::new(),
        },
    };
    Ok(Enforcement::Namespaces {
        namespaces,
        mounts: view,
        protected,
        landlock,
        seccomp: if brokered {
            SeccompPlan::with_connect_broker(network, new_netns, true)
        } else {
            SeccompPlan::new(network, new_netns, true, unix_sockets)
        },
        executor,
        proxy,
    })
}

#[cfg(test)]
mod tests;
