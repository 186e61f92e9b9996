//! What the child reads: everything it needs, built by the parent before `clone`
//! (`exec::image`). Plain data — C strings, descriptor numbers, prepared system-call arguments
//! — so the child can act on it without allocating.

use std::cell::{Cell, RefCell};
use std::ffi::CString;
use std::os::fd::{OwnedFd, RawFd};

use crate::plan::devices::DEVICE_COUNT;
use crate::sys::SockFilter;

/// Everything the child needs.
pub(crate) struct ChildImage {
    pub exec: ExecImage,
    pub fds: FdImage,
    /// Write end of the report pipe (close-on-exec).
    pub report_fd: RawFd,
    /// The parent's read end of the report pipe, which the child closes first: while the child
    /// holds a copy, the write end could never see its reader go away.
    pub report_read_fd: RawFd,
    /// The spawning process, when the sandbox must die with it.
    pub die_with_parent: Option<libc::pid_t>,
    pub namespaces: Option<NamespaceImage>,
    /// The sandbox's init, which forks the command: PID 1 of its own PID namespace (namespace
    /// pipeline) or a subreaper in the host's (landlock pipeline).
    pub init: Option<InitImage>,
    pub drop_capabilities: bool,
    pub no_new_privs: bool,
    /// `setsid` (see [`crate::plan::ProcessPlan::new_session`]).
    pub new_session: bool,
    /// `RLIMIT_NPROC` to set (soft and hard) before the command runs.
    pub max_processes: Option<u64>,
    /// `(read, write)` of the pipe on which the launcher says it has done its part after the
    /// clone (put the sandbox into the run's cgroups, written its user namespace's id maps):
    /// the child waits for it before anything else.
    pub launcher_gate: Option<(RawFd, RawFd)>,
    /// `(uid, gid)` the command runs as instead of the caller's: the supplementary groups are
    /// cleared, then both are set (real, effective, saved), after the view and before init.
    pub switch_ids: Option<(libc::uid_t, libc::gid_t)>,
    /// Further rlimits `(resource, soft, hard)`, set (only ever lowered) just before `execve`.
    pub rlimits: Vec<(crate::sys::RlimitResource, u64, u64)>,
    pub landlock: Option<LandlockImage>,
    pub seccomp: Option<Vec<SockFilter>>,
    /// The metadata supervisor (landlock pipeline without user namespaces): the command
    /// installs its filter with a listener and hands it to init over this socket pair.
    pub supervisor: Option<SupervisorImage>,
    /// Upper bound for the fallback close loop when `close_range` is unavailable.
    pub fd_limit: RawFd,
}

/// What the command runs.
pub(crate) struct ExecImage {
    pub argv: Vec<*const libc::c_char>,
    pub envp: Vec<*const libc::c_char>,
    /// Paths to try for `argv[0]`, in order (what `execvp` would try).
    pub candidates: Vec<CString>,
    pub cwd: CString,
}

/// The command's descriptors.
pub(crate) struct FdImage {
    /// `(number in the command, source)`: each source (at 3 or above, above every target, so no
    /// assignment can clobber another's source) is duplicated onto its number.
    pub map: Vec<(RawFd, RawFd)>,
    /// Standard streams inherited from the host as they are; like libuv, the command gets them
    /// even when the host marked them close-on-exec (Node does).
    pub inherit: [bool; 3],
    /// Descriptors at 3 or above that survive into the command, ascending: the mapped targets,
    /// the passed descriptors and the report pipe (which closes on exec).
    pub keep: Vec<RawFd>,
    /// Caller-passed descriptors kept at their own numbers: they lose `FD_CLOEXEC`.
    pub pass: Vec<RawFd>,
}

/// A path to bind over itself, with the identity it had when planned.
pub(crate) struct BindTarget {
    pub path: CString,
    pub dev: u64,
    pub ino: u64,
}

/// One prepared mount operation (see [`crate::plan::mounts::MountOp`]).
pub(crate) enum PreparedOp {
    ReadOnlyRoot,
    /// Mount a tmpfs on `staging` (any directory of the old view) and make it the root.
    EmptyRoot {
        staging: CString,
    },
    /// Attach the clone in `slot` at `target`, with the mount attributes `attr` set first
    /// (`MOUNT_ATTR_*`; 0 leaves the tree as it is).
    Attach {
        target: CString,
        slot: usize,
        is_dir: bool,
        attr: u64,
    },
    Symlink {
        link: CString,
        target: CString,
    },
    /// Bind the directory over itself as it is, so that it cannot be renamed.
    Pin(BindTarget),
    ReadOnlyBind(BindTarget),
    Dev {
        node_slots: [usize; DEVICE_COUNT],
        host_shm_slot: Option<usize>,
    },
    Proc,
    Mask(CString),
    Sysfs,
    SealRoot,
}

/// A tree cloned from the host's view before the view changes (the root becomes read-only or
/// is replaced): writable and readable roots, device nodes, the host's /dev/shm.
pub(crate) struct CloneSource {
    pub target: BindTarget,
    /// Checked against the planned inode; device nodes (which some hosts lack) are not.
    pub checked: bool,
    /// Filled by the child with the cloned tree, taken by the operation that attaches it.
    pub tree: Cell<Option<OwnedFd>>,
}

/// Runs as the sandbox's init: PID 1 of a new PID namespace, or, without one, a subreaper that
/// ends every descendant once the command has exited.
pub(crate) struct InitImage {
    /// Write end of the pipe on which init reports the command's raw wait status.
    pub status_fd: RawFd,
    /// Descriptors init keeps until the sandbox ends, the status pipe's included, ascending:
    /// the placeholders' shared locks, so that they outlive a launcher that dies or lets go.
    pub keep_fds: Vec<RawFd>,
    /// Present when init shares the host's PID namespace (landlock pipeline): room for
    /// `/proc/thread-self/children`, read after the command exits to kill what is left.
    pub subreaper: Option<Subreaper>,
    /// The sandbox's wall-clock limit: init kills the command when it expires, then ends the
    /// rest of the tree, and reports it.
    pub wall_time_ms: Option<u64>,
}

/// What a subreaper init needs to end the command's descendants without allocating.
pub(crate) struct Subreaper {
    /// Room for one reading of the children list (pids, space-separated); a list longer than
    /// this is read again after the pids it held are killed.
    pub children: RefCell<Box<[u8]>>,
}

/// What init needs to supervise the command's metadata calls without allocating.
pub(crate) struct SupervisorImage {
    /// Init's end of the socket pair the listener arrives on.
    pub init_socket: RawFd,
    /// The command's end, closed once the listener is sent.
    pub command_socket: RawFd,
    /// The writable roots, each opened (without following symlinks) by the parent as Landlock's
    /// rules were: the supervisor acts only on objects it finds again beneath one of these.
    pub roots: Vec<RootImage>,
    /// Room for one extended attribute's value (`XATTR_SIZE_MAX`, 64 KiB).
    pub value: RefCell<Box<[u8]>>,
    /// The connect broker (`super::broker`), when unix-socket paths are granted.
    pub broker: Option<BrokerImage>,
}

/// What init needs to broker the command's connects without allocating.
pub(crate) struct BrokerImage {
    /// The granted sockets' `(device, inode)`, from the launcher's own descriptor of each path.
    pub granted: Vec<(u64, u64)>,
    /// Restricted network mode: only unix sockets may be connected (anything else is EPERM).
    pub unix_only: bool,
    /// The command's Landlock ruleset, where it has TCP rules (proxy mode on the landlock
    /// pipeline): a connect of another family is made by a child of init restricted by it.
    pub landlock_ruleset: Option<RawFd>,
    /// The network mode's own answer to `listen`, given without listening: 0 in restricted
    /// mode (a listener the launcher passed keeps listening, nothing else starts to), EPERM in
    /// proxy mode on the host's network stack. `None`: the checked listen below.
    pub listen_answer: Option<i32>,
}

pub(crate) struct RootImage {
    /// The root's canonical path, as planned (no trailing slash but for `/`).
    pub path: CString,
    /// An `O_PATH` descriptor of it.
    pub fd: OwnedFd,
}

pub(crate) struct NamespaceImage {
    /// `(uid_map, gid_map)` contents the child writes (after `setgroups deny`): the caller's
    /// effective ids, mapped to themselves. `None` when the launcher writes them (the command
    /// switches ids: a process may map only its own id into its namespace, and the switch
    /// needs `setgroups` allowed).
    pub id_maps: Option<(Vec<u8>, Vec<u8>)>,
    pub ops: Vec<PreparedOp>,
    pub clone_first: Vec<CloneSource>,
    /// Bring `lo` up (new network namespace).
    pub loopback: bool,
    /// The child becomes PID 1 of a new PID namespace ([`ChildImage::init`] says how it runs).
    pub pid_namespace: bool,
    /// Proxy mode: listen on these ports at 127.0.0.1 and ::1 and hand each listening socket,
    /// tagged with its route index, to the spawning process over `control_fd`.
    pub proxy_listeners: Option<ProxyListeners>,
    /// Present where the kernel lacks the new mount API: the view is built with classic
    /// `mount(2)` calls (`exec::child::classic`); the clones of `clone_first` are then not
    /// made, their paths are bound from the host's tree instead.
    pub classic: Option<ClassicMounts>,
}

/// What the classic build needs besides the operations.
pub(crate) struct ClassicMounts {
    /// Stage the view (the namespace pipeline: the operations change `/`); the Landlock
    /// pipeline's binds are made in place.
    pub staged: bool,
    /// A directory of the host's view to mount the staging tmpfs on.
    pub base: CString,
    /// Room for `/proc/self/mountinfo`, read by the child to find every mount of a tree it
    /// makes read-only.
    pub mountinfo: RefCell<Box<[u8]>>,
}

pub(crate) struct ProxyListeners {
    pub control_fd: RawFd,
    pub ports: Vec<u16>,
}

/// A Landlock ruleset for the child to finish and enforce. The parent created it (with the
/// `landlock` crate) holding every rule whose inode is the host's; the child adds the rules on
/// inodes that exist only in its own view (a private devpts, the empty root of a restricted-
/// read view) after its mounts, then restricts itself.
pub(crate) struct LandlockImage {
    /// The ruleset, at the launch's descriptor floor or above.
    pub ruleset: OwnedFd,
    pub rules: Vec<LandlockRuleImage>,
}

pub(crate) struct LandlockRuleImage {
    pub path: CString,
    pub access: u64,
    /// Rights valid on a non-directory (the kernel rejects the others on file rules).
    pub file_access: u64,
    pub optional: bool,
}
