//! The seccomp filter: which system calls the command may make, compiled to classic BPF.
//!
//! The filter is described as data ([`SyscallRule`]) so that `--explain` can print exactly
//! what is enforced, and compiled by a small compiler of our own so that the program's shape
//! (architecture check, x32 refusal, per-syscall blocks) is visible and unit-testable with the
//! interpreter in the tests below. It is compiled in the parent; the child only installs it.
//!
//! Where the rules depart from Codex's table the rule's `note` says why;
//! `--explain` prints the notes.
//!
//! Three network modes:
//! - `Restricted`: no network. Nothing can connect or bind, and no socket the command makes
//!   can listen, so only descriptors the launcher passed (socketpairs, pipes, a listener it
//!   handed over) carry data.
//! - `Proxy`: TCP only (AF_INET/AF_INET6 stream sockets), no TCP Fast Open (a connect hidden
//!   in `sendto`/`sendmsg`). Where it goes is decided elsewhere: the empty network namespace
//!   of the bwrap pipeline, or Landlock's TCP connect rules on the landlock pipeline, where
//!   binding, listening and accepting are refused too.
//! - `Full`: everything but packet sockets (raw frames on the host's interfaces) and vsock
//!   (WSL2's interop channel to Windows, hypervisor channels).
//!
//! On top of every mode, the unix-socket capability ([`unix_socket_rules`]): by default
//! `socket(AF_UNIX, …)` is refused and only stream and seqpacket socketpairs are made, so no
//! host unix socket (pathname or abstract) is reachable whatever the network mode; with every
//! unix socket granted, restricted mode makes AF_UNIX sockets of any type (and nothing else)
//! and proxy mode unix stream sockets besides TCP. A call named by several rules must pass
//! all of them.
//!
//! Every mode refuses io_uring (its socket and file operations bypass these argument checks),
//! ptrace and process_vm_* (reading or writing another process's memory), new namespaces
//! (`unshare` and `clone` with a namespace flag; `clone3` answers ENOSYS so libc falls back to
//! `clone`), `setns`, the keyring (`keyctl`, `add_key`, `request_key`), `perf_event_open`,
//! `userfaultfd`, `bpf`, the `TIOCSTI` and `TIOCLINUX` ioctls, system calls of another
//! architecture and x32 system-call numbers.
//!
//! Where the command shares the host's PID and IPC namespaces (the landlock pipeline),
//! [`host_process_rules`] also refuses System V IPC and POSIX message queues
//! (the host's objects) and lets the calls that change another process's resource limits,
//! priority, CPU affinity, scheduling or I/O priority act on the caller only: the kernel
//! checks them by uid alone, so a same-uid host process would otherwise be in reach past
//! Landlock's signal and ptrace scoping (`prlimit64` with `RLIMIT_CPU` kills it).

use serde::Serialize;

use crate::policy::UnixSockets;
use crate::sys::SockFilter;

/// How much network the command gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkMode {
    /// No network: only AF_UNIX stream/seqpacket sockets and socketpairs, no connect/bind.
    Restricted,
    /// TCP to the loopback proxies named in the environment, nothing else.
    Proxy,
    /// Unrestricted network (but for packet and vsock sockets).
    Full,
}

/// What a rule does when its syscall is called and its conditions do not all hold.
#[derive(Clone, Debug, Serialize)]
pub struct SyscallRule {
    pub syscall: &'static str,
    #[serde(skip)]
    pub number: i64,
    /// The call is allowed only if every condition holds; empty means it is always refused.
    pub allow_if: Vec<Condition>,
    /// errno returned when refused.
    pub errno: i32,
    /// Why the rule exists, or why it differs from Codex's filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
}

/// A test on one system-call argument.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "test", rename_all = "kebab-case")]
pub enum Condition {
    /// `(arg & mask)`, as a 32-bit value, is one of `values`.
    ArgIn { arg: u8, mask: u32, values: Vec<u32>, meaning: &'static str },
    /// `(arg & mask)`, as a 32-bit value, is none of `values`.
    ArgNotIn { arg: u8, mask: u32, values: Vec<u32>, meaning: &'static str },
    /// The 64-bit argument is zero (a NULL pointer).
    ArgIsZero { arg: u8, meaning: &'static str },
    /// When argument `when_arg`, as a 32-bit value, is `when_value`, `(arg & mask)` is one of
    /// `values`; any other `when_arg` passes (e.g. "an AF_UNIX socket is a stream or seqpacket
    /// one", leaving the other families to the network mode's rules).
    ArgInWhen { when_arg: u8, when_value: u32, arg: u8, mask: u32, values: Vec<u32>, meaning: &'static str },
}

/// The seccomp part of a plan.
#[derive(Clone, Debug, Serialize)]
pub struct SeccompPlan {
    pub network: NetworkMode,
    pub architecture: &'static str,
    /// What happens to system calls of another architecture (i386 via `int 0x80`) and to x32
    /// system-call numbers, which would otherwise bypass these rules.
    pub foreign_abi: &'static str,
    pub rules: Vec<SyscallRule>,
    /// Calls handed to the sandbox's metadata supervisor (`SECCOMP_RET_USER_NOTIF`): the
    /// landlock pipeline without user namespaces ([`metadata_calls`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub supervised: Vec<SupervisedCall>,
    /// With the connect broker: what the network mode's own rule answers `listen` with, which
    /// the broker then answers for every family without listening (0 in restricted mode, EPERM
    /// in proxy mode on the host's network stack); `None` where the mode lets it run.
    #[serde(skip)]
    pub broker_listen_answer: Option<i32>,
    #[serde(skip)]
    pub program: Vec<SockFilter>,
}

/// A system call the filter hands to the supervisor instead of deciding itself.
#[derive(Clone, Debug, Serialize)]
pub struct SupervisedCall {
    pub syscall: &'static str,
    #[serde(skip)]
    pub number: i64,
}

impl SeccompPlan {
    /// The filter for `network`. `own_network_namespace` says whether the command sits in an
    /// empty network namespace (bwrap pipeline), which then decides where proxy-mode TCP can go;
    /// `own_process_namespaces` whether it has its own PID and IPC namespaces (the namespace
    /// pipeline) or shares the host's, which adds [`host_process_rules`].
    ///
    /// `unix_sockets` is the unix-socket capability ([`unix_socket_rules`]): only
    /// [`UnixSockets::All`] lifts the AF_UNIX restriction; a list of paths is not granted.
    pub fn new(
        network: NetworkMode,
        own_network_namespace: bool,
        own_process_namespaces: bool,
        unix_sockets: &UnixSockets,
    ) -> SeccompPlan {
        let unix = if unix_sockets.allows_all() { UnixRules::All } else { UnixRules::Refused };
        SeccompPlan::build(network, own_network_namespace, own_process_namespaces, unix)
    }

    /// The filter of a sandbox whose init brokers unix-socket connects
    /// (`exec::child::broker`): unix stream and seqpacket sockets may be made (datagram ones
    /// still not: their `sendto`/`sendmsg` address is out of the broker's reach), and every
    /// `connect`, of any family, is handed to init, which performs it itself on its own
    /// duplicate of the socket after checking the address. No `connect` is decided here: the
    /// descriptor number and the address are the caller's and could change under a racing
    /// thread after any check of ours.
    pub fn with_connect_broker(
        network: NetworkMode,
        own_network_namespace: bool,
        own_process_namespaces: bool,
    ) -> SeccompPlan {
        let mut plan = SeccompPlan::build(network, own_network_namespace, own_process_namespaces, UnixRules::Brokered);
        // The broker answers for `connect` (in restricted mode it refuses every family but
        // unix, with this rule's EPERM) and for `listen` (a unix socket bound to an abstract
        // name may not listen: under full network a host client could reach it instead of the
        // server it meant; where the mode answers `listen` itself, the broker gives the same
        // answer): no rule decides them any more.
        plan.broker_listen_answer =
            plan.rules.iter().find(|rule| rule.number == libc::SYS_listen).map(|rule| rule.errno);
        plan.rules.retain(|rule| rule.number != libc::SYS_connect && rule.number != libc::SYS_listen);
        plan.supervised.push(SupervisedCall { syscall: "connect", number: libc::SYS_connect });
        plan.supervised.push(SupervisedCall { syscall: "listen", number: libc::SYS_listen });
        refuse_new_listeners(&mut plan.rules);
        plan.program = compile_with_supervised(&plan.rules, &plan.supervised);
        plan
    }

    fn build(
        network: NetworkMode,
        own_network_namespace: bool,
        own_process_namespaces: bool,
        unix: UnixRules,
    ) -> SeccompPlan {
        let mut rules = always_denied();
        rules.extend(set_id_mode_rules());
        if !own_process_namespaces {
            rules.extend(host_process_rules());
        }
        rules.extend(match network {
            NetworkMode::Restricted => restricted_network(unix == UnixRules::All),
            NetworkMode::Proxy => proxy_network(own_network_namespace, unix),
            NetworkMode::Full => full_network(),
        });
        rules.extend(unix_socket_rules(unix));
        let program = compile(&rules);
        SeccompPlan {
            network,
            architecture: ARCH_NAME,
            foreign_abi: FOREIGN_ABI_POLICY,
            rules,
            supervised: Vec::new(),
            broker_listen_answer: None,
            program,
        }
    }

    /// Whether the filter hands `connect` to the sandbox's connect broker.
    pub fn brokers_connect(&self) -> bool {
        self.supervised.iter().any(|call| call.number == libc::SYS_connect)
    }

    /// Adds the metadata rules of a command that shares the host's filesystem without a
    /// read-only view (the landlock pipeline without user namespaces): every call that changes
    /// an existing file's mode, owner, extended attributes or timestamps (and, where Landlock
    /// cannot restrict it, `truncate`) goes to the supervisor, or, without one, is refused with
    /// EPERM; the inode-attribute ioctls are refused either way.
    pub fn with_metadata_rules(mut self, metadata: MetadataRules) -> SeccompPlan {
        refuse_inode_attribute_ioctls(&mut self.rules);
        let calls = metadata_calls(metadata.truncate);
        if metadata.supervised {
            self.supervised.extend(calls.into_iter().map(|(syscall, number)| SupervisedCall { syscall, number }));
            refuse_new_listeners(&mut self.rules);
        } else {
            self.rules.extend(calls.into_iter().map(|(name, number)| refused(name, number, METADATA_REFUSED)));
        }
        self.rules.push(refused(
            "file_setattr",
            SYS_FILE_SETATTR,
            "sets inode flags and project ids by path (Linux 6.17), as the refused inode-attribute ioctls do",
        ));
        self.program = compile_with_supervised(&self.rules, &self.supervised);
        self
    }
}

/// A supervised command may install no seccomp listener of its own. While init holds the
/// sandbox's listener the kernel refuses a second one in the chain (EBUSY), but a listener is
/// freed with its last descriptor: were init killed (a subreaper init on Landlock ABI < 6 can
/// be signalled by the command), the supervised calls would fail with ENOSYS and a listener of
/// the command's own, answering CONTINUE, would let them through unchecked. The flag is in a
/// register, so the filter sees the call as made.
fn refuse_new_listeners(rules: &mut Vec<SyscallRule>) {
    if rules.iter().any(|rule| rule.number == libc::SYS_seccomp) {
        return;
    }
    rules.push(rule(
        "seccomp",
        libc::SYS_seccomp,
        vec![Condition::ArgIn {
            arg: 1,
            mask: SECCOMP_FILTER_FLAG_NEW_LISTENER,
            values: vec![0],
            meaning: "flags without SECCOMP_FILTER_FLAG_NEW_LISTENER",
        }],
        Some(
            "the command's calls are answered by the sandbox's init; a filter of its own with a listener could answer CONTINUE past it should init be gone",
        ),
    ));
}

/// `SECCOMP_FILTER_FLAG_NEW_LISTENER` (Linux 5.0).
const SECCOMP_FILTER_FLAG_NEW_LISTENER: u32 = 1 << 3;

/// Which metadata rules a plan needs ([`SeccompPlan::with_metadata_rules`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetadataRules {
    /// A supervisor performs the calls (else they are refused).
    pub supervised: bool,
    /// `truncate(2)` too: Landlock before ABI 3 does not restrict it.
    pub truncate: bool,
}

const METADATA_REFUSED: &str = "changes an existing file's metadata, which Landlock has no right for; this host has neither a user namespace for a read-only view nor what the metadata supervisor needs, so it is refused everywhere (inside the writable roots too)";

/// Numbers of calls newer than some libc targets know. x86_64 (`syscall_64.tbl`) and aarch64
/// (the generic table, `asm-generic/unistd.h`) give them the same numbers: fchmodat2 452
/// (Linux 6.6), setxattrat 463 and removexattrat 466 (6.13), file_setattr 469 (6.17),
/// checked against the kernel's tables; a test compares them with libc's where it has them.
pub(crate) const SYS_FCHMODAT2: i64 = 452;
pub(crate) const SYS_SETXATTRAT: i64 = 463;
pub(crate) const SYS_REMOVEXATTRAT: i64 = 466;
const SYS_FILE_SETATTR: i64 = 469;

/// The mode bits that make an executable run with its owner's or group's ids.
const SET_ID_BITS: u32 = libc::S_ISUID | libc::S_ISGID;

const SET_ID_NOTE: &str = "no set-uid or set-gid file made in the writable roots: the command's files belong to the launcher's ids (to the host's root when root launches the namespace pipeline), so another host user running one would run with them; the filter cannot see whether chmod's target is a directory, so `chmod g+s dir` is refused too (the metadata supervisor, which sees it, allows it)";

/// Set-id bits in the modes of calls that create a file or change its mode, refused on every
/// pipeline (EPERM): a set-uid binary left in the workspace runs, for any host user, with the
/// launcher's uid. The mode is a register argument of each of these calls (for `open` and
/// `openat` it counts only with `O_CREAT` or `O_TMPFILE`, and libcs pass 0 otherwise);
/// `openat2` carries it in memory the filter cannot read, so it answers ENOSYS and libc falls
/// back to `openat`. Where the metadata supervisor performs chmod it checks the same bits on
/// the object it resolved (and allows set-gid directories).
pub fn set_id_mode_rules() -> Vec<SyscallRule> {
    let no_set_id = |arg: u8| {
        vec![Condition::ArgIn {
            arg,
            mask: SET_ID_BITS,
            values: vec![0],
            meaning: "mode has neither S_ISUID nor S_ISGID",
        }]
    };
    let calls = [
        ("fchmod", libc::SYS_fchmod, 1),
        ("fchmodat", libc::SYS_fchmodat, 2),
        ("fchmodat2", SYS_FCHMODAT2, 2),
        ("openat", libc::SYS_openat, 3),
        ("mknodat", libc::SYS_mknodat, 2),
    ];
    // aarch64 has only the *at calls.
    #[cfg(target_arch = "x86_64")]
    let legacy = [
        ("chmod", libc::SYS_chmod, 1),
        ("open", libc::SYS_open, 2),
        ("creat", libc::SYS_creat, 1),
        ("mknod", libc::SYS_mknod, 1),
    ];
    #[cfg(not(target_arch = "x86_64"))]
    let legacy: [(&'static str, i64, u8); 0] = [];
    let mut rules: Vec<SyscallRule> = calls
        .into_iter()
        .chain(legacy)
        .map(|(name, number, arg)| rule(name, number, no_set_id(arg), Some(SET_ID_NOTE)))
        .collect();
    rules.push(SyscallRule {
        errno: libc::ENOSYS,
        ..refused(
            "openat2",
            libc::SYS_openat2,
            "its mode sits in memory seccomp cannot read (a set-uid file could be created); ENOSYS makes libc and runtimes fall back to openat, whose mode is checked",
        )
    });
    rules
}

/// Every call that changes the mode, owner, extended attributes or timestamps of an existing
/// file by path or descriptor, with `truncate` where Landlock leaves it open. (`ftruncate`,
/// `fallocate` and `open(O_TRUNC)` need a descriptor opened for writing, which Landlock
/// grants only in the writable roots.)
pub fn metadata_calls(truncate: bool) -> Vec<(&'static str, i64)> {
    let mut calls = vec![
        ("fchmod", libc::SYS_fchmod),
        ("fchmodat", libc::SYS_fchmodat),
        ("fchmodat2", SYS_FCHMODAT2),
        ("fchown", libc::SYS_fchown),
        ("fchownat", libc::SYS_fchownat),
        ("setxattr", libc::SYS_setxattr),
        ("lsetxattr", libc::SYS_lsetxattr),
        ("fsetxattr", libc::SYS_fsetxattr),
        ("removexattr", libc::SYS_removexattr),
        ("lremovexattr", libc::SYS_lremovexattr),
        ("fremovexattr", libc::SYS_fremovexattr),
        ("setxattrat", SYS_SETXATTRAT),
        ("removexattrat", SYS_REMOVEXATTRAT),
        ("utimensat", libc::SYS_utimensat),
    ];
    #[cfg(target_arch = "x86_64")]
    calls.extend([
        ("chmod", libc::SYS_chmod),
        ("chown", libc::SYS_chown),
        ("lchown", libc::SYS_lchown),
        ("utime", libc::SYS_utime),
        ("utimes", libc::SYS_utimes),
        ("futimesat", libc::SYS_futimesat),
    ]);
    if truncate {
        calls.push(("truncate", libc::SYS_truncate));
    }
    calls
}

/// The ioctls that change an inode's attributes through any descriptor, even one opened
/// read-only: flags (`chattr`: append-only, immutable for the owner with the capability,
/// no-dump, no-atime...), `fsxattr` (flags and project id), the generation number, an
/// encryption policy, fs-verity, a btrfs subvolume's read-only flag. The filter sees only the
/// request number, not the file, so they are refused everywhere (EPERM); nothing a coding
/// agent needs.
pub const INODE_ATTRIBUTE_IOCTLS: [(u32, &str); 9] = [
    (0x4008_6602, "FS_IOC_SETFLAGS"),
    (0x4004_6602, "FS_IOC32_SETFLAGS"),
    (0x401c_5820, "FS_IOC_FSSETXATTR"),
    (0x4008_7602, "FS_IOC_SETVERSION"),
    (0x4004_7602, "FS_IOC32_SETVERSION"),
    (0x4008_6604, "EXT4_IOC_SETVERSION"),
    (0x800c_6613, "FS_IOC_SET_ENCRYPTION_POLICY"),
    (0x4080_6685, "FS_IOC_ENABLE_VERITY"),
    (0x4008_941a, "BTRFS_IOC_SUBVOL_SETFLAGS"),
];

/// Adds [`INODE_ATTRIBUTE_IOCTLS`] to the refused ioctl requests of the ioctl rule.
fn refuse_inode_attribute_ioctls(rules: &mut [SyscallRule]) {
    let Some(ioctl) = rules.iter_mut().find(|rule| rule.number == libc::SYS_ioctl) else { return };
    for condition in &mut ioctl.allow_if {
        if let Condition::ArgNotIn { arg: 1, values, meaning, .. } = condition {
            values.extend(INODE_ATTRIBUTE_IOCTLS.iter().map(|(request, _)| *request));
            *meaning = "request is not TIOCSTI, TIOCLINUX, USERFAULTFD_IOC_NEW or an inode-attribute ioctl (FS_IOC_SETFLAGS, FS_IOC_FSSETXATTR, FS_IOC_SETVERSION, EXT4_IOC_SETVERSION, FS_IOC_SET_ENCRYPTION_POLICY, FS_IOC_ENABLE_VERITY, BTRFS_IOC_SUBVOL_SETFLAGS)";
        }
    }
}

fn rule(syscall: &'static str, number: i64, allow_if: Vec<Condition>, note: Option<&'static str>) -> SyscallRule {
    SyscallRule { syscall, number, allow_if, errno: libc::EPERM, note }
}

/// A system call refused outright, with why.
fn refused(syscall: &'static str, number: i64, note: &'static str) -> SyscallRule {
    rule(syscall, number, vec![], Some(note))
}

/// `CLONE_NEWTIME` (Linux 5.6); `libc` has no constant for it on every target.
const CLONE_NEWTIME: u32 = 0x0000_0080;

/// Every namespace flag of `clone` and `unshare`. The command gets no namespace of its own
/// making: a new user namespace gives it every capability over the kernel's namespaced code
/// (the main source of local privilege escalations), and the others would let it undo the
/// view it was given. For `clone`, `CLONE_NEWTIME` lies in the exit-signal byte, which the
/// kernel reads as a signal number; refusing signal numbers of 128 and above loses nothing.
pub const NAMESPACE_FLAGS: u32 = libc::CLONE_NEWUSER as u32
    | libc::CLONE_NEWNS as u32
    | libc::CLONE_NEWPID as u32
    | libc::CLONE_NEWNET as u32
    | libc::CLONE_NEWIPC as u32
    | libc::CLONE_NEWUTS as u32
    | libc::CLONE_NEWCGROUP as u32
    | CLONE_NEWTIME;

/// The terminal ioctls that act on another process's terminal input or console.
const TIOCSTI: u32 = 0x5412;
const TIOCLINUX: u32 = 0x541c;
/// `USERFAULTFD_IOC_NEW` on `/dev/userfaultfd`: a userfaultfd without the refused system call.
const USERFAULTFD_IOC_NEW: u32 = 0xaa00;

fn no_namespace_flags() -> Vec<Condition> {
    vec![Condition::ArgIn {
        arg: 0,
        mask: NAMESPACE_FLAGS,
        values: vec![0],
        meaning: "no namespace flag (CLONE_NEWUSER, NEWNS, NEWPID, NEWNET, NEWIPC, NEWUTS, NEWCGROUP, NEWTIME)",
    }]
}

/// Refused in every mode. The sandbox's own setup (namespaces, the init that forks the
/// command) is done before the filter is installed, right before `execve`, so none of these
/// rules constrains it.
fn always_denied() -> Vec<SyscallRule> {
    vec![
        rule(
            "io_uring_setup",
            libc::SYS_io_uring_setup,
            vec![],
            Some("io_uring performs socket and file operations that bypass seccomp argument checks"),
        ),
        refused("io_uring_enter", libc::SYS_io_uring_enter, "as io_uring_setup"),
        refused("io_uring_register", libc::SYS_io_uring_register, "as io_uring_setup"),
        refused("ptrace", libc::SYS_ptrace, "reads and writes another process's memory and registers"),
        refused("process_vm_readv", libc::SYS_process_vm_readv, "reads another process's memory"),
        refused("process_vm_writev", libc::SYS_process_vm_writev, "writes another process's memory"),
        refused(
            "pidfd_getfd",
            libc::SYS_pidfd_getfd,
            "copies a descriptor out of another process (the launcher's sockets, where no Landlock scope or PID namespace stands between)",
        ),
        refused("kcmp", libc::SYS_kcmp, "compares other processes' kernel objects (descriptors, memory maps)"),
        refused("process_madvise", libc::SYS_process_madvise, "advises on another process's memory"),
        rule(
            "unshare",
            libc::SYS_unshare,
            no_namespace_flags(),
            Some(
                "no new namespaces: a nested user namespace hands the command full capabilities over namespaced kernel code; CLONE_FS, CLONE_FILES and CLONE_SYSVSEM stay allowed",
            ),
        ),
        rule(
            "clone",
            libc::SYS_clone,
            no_namespace_flags(),
            Some(
                "fork, vfork and threads stay allowed; clone with a namespace flag is refused (flags are argument 0 on x86_64 and aarch64)",
            ),
        ),
        SyscallRule {
            errno: libc::ENOSYS,
            ..refused(
                "clone3",
                libc::SYS_clone3,
                "its flags sit in memory seccomp cannot read; ENOSYS makes libc fall back to clone, whose flags are checked (this also makes CLONE_INTO_CGROUP impossible)",
            )
        },
        refused(
            "setns",
            libc::SYS_setns,
            "no joining other namespaces through an inherited or /proc namespace descriptor",
        ),
        refused(
            "keyctl",
            libc::SYS_keyctl,
            "the kernel keyring is shared with the host session: its keys (secrets) must not be readable or changeable",
        ),
        refused("add_key", libc::SYS_add_key, "the kernel keyring is shared with the host session"),
        refused("request_key", libc::SYS_request_key, "the kernel keyring is shared with the host session"),
        refused(
            "perf_event_open",
            libc::SYS_perf_event_open,
            "performance counters observe other processes and the kernel (side channels, a frequent source of kernel bugs)",
        ),
        refused(
            "userfaultfd",
            libc::SYS_userfaultfd,
            "user fault handling stalls the kernel at chosen points, the usual way to win races in kernel exploits",
        ),
        refused("bpf", libc::SYS_bpf, "eBPF programs and maps are kernel attack surface and observe the host"),
        rule(
            "fcntl",
            libc::SYS_fcntl,
            vec![Condition::ArgNotIn {
                arg: 1,
                mask: u32::MAX,
                values: vec![libc::F_SETLEASE as u32],
                meaning: "cmd is not F_SETLEASE",
            }],
            Some(
                "a read lease needs only a read descriptor of a file the user owns: it would make every host process that opens the file for writing wait (lease-break-time, 45 s by default)",
            ),
        ),
        rule(
            "ioctl",
            libc::SYS_ioctl,
            vec![Condition::ArgNotIn {
                arg: 1,
                mask: u32::MAX,
                values: vec![TIOCSTI, TIOCLINUX, USERFAULTFD_IOC_NEW],
                meaning: "request is not TIOCSTI, TIOCLINUX or USERFAULTFD_IOC_NEW (the kernel reads only the low 32 bits)",
            }],
            Some(
                "TIOCSTI types into a terminal the host reads from; TIOCLINUX drives the console (selection paste); USERFAULTFD_IOC_NEW makes a userfaultfd from /dev/userfaultfd",
            ),
        ),
    ]
}

/// `which` of `setpriority`: one process (`who` 0: the caller) or a process group (`who` 0:
/// the caller's, inside the sandbox's own session). `PRIO_USER` with `who` 0 would name every
/// process of the caller's uid, host processes included.
const PRIO_PROCESS: u32 = 0;
const PRIO_PGRP: u32 = 1;
/// `which` of `ioprio_set`, with the same meaning for `who` 0 as above (`IOPRIO_WHO_USER` 0 is
/// the caller's whole uid).
const IOPRIO_WHO_PROCESS: u32 = 1;
const IOPRIO_WHO_PGRP: u32 = 2;

fn is_zero(arg: u8, meaning: &'static str) -> Condition {
    Condition::ArgIn { arg, mask: u32::MAX, values: vec![0], meaning }
}

/// The rules for a command that shares the host's PID and IPC namespaces.
///
/// Only pid 0 (the caller) is allowed, not the caller's own pid or its threads' ids: those are
/// known only after the filter is built, and differ for every process the command forks. So
/// `renice -p $$`, `prlimit --pid $$` and `pthread_setaffinity_np` on another thread fail with
/// EPERM, while `setrlimit`, `nice`, `ulimit`, `taskset <command>` and
/// `sched_setaffinity(0, …)` keep working (glibc passes 0 for the caller).
fn host_process_rules() -> Vec<SyscallRule> {
    const IPC_NOTE: &str = "System V IPC: the command shares the host's IPC namespace, so every segment, semaphore set and queue of the host's processes would be in reach (the kernel checks only their mode bits)";
    const ONLY_SELF: &str = "the caller itself (pid 0): the kernel checks these calls by uid alone, so another process of the same uid on the host would be in reach past Landlock's scoping";
    let self_only = |arg: u8| vec![is_zero(arg, "pid is 0 (the caller itself)")];
    let who_self = |which: [u32; 2], meaning: &'static str| {
        vec![
            Condition::ArgIn { arg: 0, mask: u32::MAX, values: which.to_vec(), meaning },
            is_zero(1, "who is 0 (the caller itself, or its own process group)"),
        ]
    };
    let mut rules: Vec<SyscallRule> = [
        ("shmget", libc::SYS_shmget),
        ("shmat", libc::SYS_shmat),
        ("shmctl", libc::SYS_shmctl),
        ("shmdt", libc::SYS_shmdt),
        ("semget", libc::SYS_semget),
        ("semop", libc::SYS_semop),
        ("semtimedop", libc::SYS_semtimedop),
        ("semctl", libc::SYS_semctl),
        ("msgget", libc::SYS_msgget),
        ("msgsnd", libc::SYS_msgsnd),
        ("msgrcv", libc::SYS_msgrcv),
        ("msgctl", libc::SYS_msgctl),
    ]
    .into_iter()
    .map(|(name, number)| refused(name, number, IPC_NOTE))
    .collect();
    // x86_64 and aarch64 have no `ipc` multiplexer; i386's is behind the architecture check.
    rules.push(refused(
        "mq_open",
        libc::SYS_mq_open,
        "POSIX message queues of the host's IPC namespace (without a queue descriptor the other mq_* calls have nothing to act on)",
    ));
    rules.push(refused("mq_unlink", libc::SYS_mq_unlink, "as mq_open"));
    rules.extend([
        rule("prlimit64", libc::SYS_prlimit64, self_only(0), Some(ONLY_SELF)),
        rule(
            "setpriority",
            libc::SYS_setpriority,
            who_self([PRIO_PROCESS, PRIO_PGRP], "which is PRIO_PROCESS or PRIO_PGRP (not PRIO_USER)"),
            Some(ONLY_SELF),
        ),
        rule("sched_setaffinity", libc::SYS_sched_setaffinity, self_only(0), Some(ONLY_SELF)),
        rule("sched_setscheduler", libc::SYS_sched_setscheduler, self_only(0), Some(ONLY_SELF)),
        rule("sched_setparam", libc::SYS_sched_setparam, self_only(0), Some(ONLY_SELF)),
        rule("sched_setattr", libc::SYS_sched_setattr, self_only(0), Some(ONLY_SELF)),
        rule(
            "ioprio_set",
            libc::SYS_ioprio_set,
            who_self(
                [IOPRIO_WHO_PROCESS, IOPRIO_WHO_PGRP],
                "which is IOPRIO_WHO_PROCESS or IOPRIO_WHO_PGRP (not IOPRIO_WHO_USER)",
            ),
            Some(ONLY_SELF),
        ),
    ]);
    rules
}

const SOCKET_TYPE_FLAGS: u32 = (libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) as u32;

/// The obsolete packet-socket type of AF_INET (`libc` deprecates its constant); the kernel
/// still turns `socket(AF_INET, SOCK_PACKET, ...)` into a packet socket.
const SOCK_PACKET: i32 = 10;

fn unix_stream_only() -> Vec<Condition> {
    sockets_of(
        &[libc::AF_UNIX],
        "domain is AF_UNIX",
        &[libc::SOCK_STREAM, libc::SOCK_SEQPACKET],
        "type is SOCK_STREAM or SOCK_SEQPACKET",
        &[],
        "protocol is the default (0)",
    )
}

/// The `Restricted` network rules. With every unix socket granted (`all_unix`), AF_UNIX
/// sockets of any type may be made and connected, bound, listened on: `socket()` makes no
/// other family, so connectivity can only be unix (or through a descriptor the launcher
/// passed, which is its grant).
fn restricted_network(all_unix: bool) -> Vec<SyscallRule> {
    const DGRAM_NOTE: &str = "Codex allows any AF_UNIX type; datagram sockets can send to any named unix socket \
                              with sendmsg, whose address seccomp cannot inspect, so only stream and seqpacket are allowed";
    if all_unix {
        const ALL_NOTE: &str = "every unix socket is granted (unix sockets: all), and no other family can be made";
        return vec![
            rule("socket", libc::SYS_socket, unix_any_type(), Some(ALL_NOTE)),
            rule("socketpair", libc::SYS_socketpair, unix_any_type(), Some(ALL_NOTE)),
        ];
    }
    vec![
        rule("socket", libc::SYS_socket, unix_stream_only(), Some(DGRAM_NOTE)),
        rule("socketpair", libc::SYS_socketpair, unix_stream_only(), Some(DGRAM_NOTE)),
        rule("connect", libc::SYS_connect, vec![], None),
        rule("bind", libc::SYS_bind, vec![], None),
        SyscallRule {
            syscall: "listen",
            number: libc::SYS_listen,
            allow_if: vec![],
            errno: 0,
            note: Some(LISTEN_NOTE),
        },
        rule(
            "sendto",
            libc::SYS_sendto,
            vec![Condition::ArgIsZero { arg: 4, meaning: "no destination address" }],
            Some(
                "Codex refuses sendto outright, which breaks send(2) on socketpairs (glibc's send is sendto without an address); only sendto with an address is refused",
            ),
        ),
        rule("sendmmsg", libc::SYS_sendmmsg, vec![], None),
        rule("recvmmsg", libc::SYS_recvmmsg, vec![], None),
    ]
}

/// Restricted mode's `listen`: answered 0 and never run. `accept` is allowed, for it acts only
/// on a socket already listening, and the command can make none listen.
const LISTEN_NOTE: &str = "answered 0 without running it: a listener the launcher passed (Node's send(message, server), whose \
                           receiver calls listen on it again) keeps listening and can accept; any other socket is not made to \
                           listen (a passed, unbound one would bind itself on the host's network)";

fn unix_any_type() -> Vec<Condition> {
    vec![Condition::ArgIn { arg: 0, mask: u32::MAX, values: vec![libc::AF_UNIX as u32], meaning: "domain is AF_UNIX" }]
}

/// Allows `socket(domain, type, protocol)` only for the given domains and types, with the
/// default protocol (0) or `protocols`.
fn sockets_of(
    domains: &[i32],
    meaning: &'static str,
    types: &[i32],
    type_meaning: &'static str,
    protocols: &[i32],
    protocol_meaning: &'static str,
) -> Vec<Condition> {
    let values = |list: &[i32]| list.iter().map(|v| *v as u32).collect();
    vec![
        Condition::ArgIn { arg: 0, mask: u32::MAX, values: values(domains), meaning },
        Condition::ArgIn { arg: 1, mask: !SOCKET_TYPE_FLAGS, values: values(types), meaning: type_meaning },
        Condition::ArgIn {
            arg: 2,
            mask: u32::MAX,
            values: std::iter::once(0).chain(protocols.iter().map(|p| *p as u32)).collect(),
            meaning: protocol_meaning,
        },
    ]
}

fn no_fast_open(arg: u8) -> Vec<Condition> {
    vec![Condition::ArgIn { arg, mask: libc::MSG_FASTOPEN as u32, values: vec![0], meaning: "no MSG_FASTOPEN" }]
}

/// The unix-socket capability as the filter sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UnixRules {
    /// `socket(AF_UNIX)` refused (none, and paths without a broker).
    Refused,
    /// No unix-socket restriction.
    All,
    /// Unix stream and seqpacket sockets, every connect through the broker.
    Brokered,
}

/// The `Proxy` network rules. With every unix socket granted (`UnixRules::All`), AF_UNIX
/// sockets too, as Codex allows them with `dangerously_allow_all_unix_sockets`; with the
/// broker, the same unix stream sockets (connected only by the broker).
fn proxy_network(own_network_namespace: bool, unix: UnixRules) -> Vec<SyscallRule> {
    let all_unix = unix != UnixRules::Refused;
    const TFO_NOTE: &str = "TCP Fast Open connects from sendto/sendmsg, past connect(2) checks";
    let tcp_only = || {
        sockets_of(
            &[libc::AF_INET, libc::AF_INET6],
            "domain is AF_INET or AF_INET6",
            &[libc::SOCK_STREAM],
            "type is SOCK_STREAM",
            &[libc::IPPROTO_TCP],
            "protocol is TCP (MPTCP, SCTP and SMC are stream sockets too, and Landlock's TCP rules do not cover them)",
        )
    };
    let socket = if all_unix {
        // One condition list cannot say "TCP, or AF_UNIX of any type": the domain, the type
        // and the protocol are checked apart. So with every unix socket granted the unix
        // sockets are stream ones, like the TCP ones: a datagram or seqpacket type would also
        // let AF_INET through as UDP or SCTP (protocol 0 picks SCTP for seqpacket).
        rule(
            "socket",
            libc::SYS_socket,
            sockets_of(
                &[libc::AF_INET, libc::AF_INET6, libc::AF_UNIX],
                "domain is AF_INET, AF_INET6 or AF_UNIX",
                &[libc::SOCK_STREAM],
                "type is SOCK_STREAM",
                &[libc::IPPROTO_TCP],
                "protocol is the default or TCP",
            ),
            Some(
                "unix sockets: all (Codex allows AF_UNIX with dangerously_allow_all_unix_sockets); unix stream sockets only, as the type check is shared with TCP",
            ),
        )
    } else {
        rule(
            "socket",
            libc::SYS_socket,
            tcp_only(),
            Some("Codex also allows UDP and raw types; only TCP can reach an HTTP or SOCKS proxy"),
        )
    };
    let mut rules = vec![
        socket,
        rule("socketpair", libc::SYS_socketpair, unix_stream_only(), None),
        rule("sendto", libc::SYS_sendto, no_fast_open(3), Some(TFO_NOTE)),
        rule("sendmsg", libc::SYS_sendmsg, no_fast_open(2), Some(TFO_NOTE)),
        rule("sendmmsg", libc::SYS_sendmmsg, no_fast_open(3), Some(TFO_NOTE)),
    ];
    if !own_network_namespace {
        // On the host's network stack a listening socket would be reachable from outside.
        const NOTE: &str = "landlock pipeline: the command shares the host's network stack";
        rules.extend([
            rule("bind", libc::SYS_bind, vec![], Some(NOTE)),
            rule("listen", libc::SYS_listen, vec![], Some(NOTE)),
            rule("accept", libc::SYS_accept, vec![], Some(NOTE)),
            rule("accept4", libc::SYS_accept4, vec![], Some(NOTE)),
        ]);
    }
    rules
}

/// The `Full` network rules.
fn full_network() -> Vec<SyscallRule> {
    vec![rule(
        "socket",
        libc::SYS_socket,
        vec![
            Condition::ArgNotIn {
                arg: 0,
                mask: u32::MAX,
                values: vec![libc::AF_PACKET as u32, libc::AF_VSOCK as u32],
                meaning: "domain is not AF_PACKET or AF_VSOCK",
            },
            Condition::ArgNotIn {
                arg: 1,
                mask: !SOCKET_TYPE_FLAGS,
                values: vec![SOCK_PACKET as u32],
                meaning: "type is not SOCK_PACKET (the old packet-socket alias of AF_INET)",
            },
        ],
        Some("packet sockets see and forge raw frames; vsock reaches the hypervisor or, on WSL2, Windows"),
    )]
}

// ---------------------------------------------------------------------------------------------
// The unix-socket capability (`crate::policy::UnixSockets`), on top of every network mode.

/// Why `socket(AF_UNIX, …)` is refused, for `--explain`.
const UNIX_NONE_NOTE: &str = "unix sockets: none (the default, whatever the network mode): no host unix socket, pathname or abstract, is reachable without a socket of one's own, and read-only mounts and Landlock's file rules do not stop a connect; EPERM as for every refusal here (EAFNOSUPPORT would read as a kernel without unix sockets and send some clients to TCP instead). Socketpairs and descriptors the launcher passes keep working";

/// The unix-socket rules, checked in addition to (not instead of) the network mode's rules:
/// a call must pass both. With [`UnixSockets::None`], and with paths (which this version
/// cannot grant), `socket(AF_UNIX, …)` is refused and only stream and seqpacket socketpairs
/// are made. A datagram socketpair is refused too: a datagram socket can be `connect`ed again,
/// or `sendto`/`sendmsg` a named or abstract address (a host's `/dev/log`, a notify socket)
/// whatever it was paired with, and `sendmsg`'s address is in memory seccomp cannot read. A
/// stream or seqpacket socketpair cannot: `connect` on it fails with EISCONN (also once its
/// peer is closed), `listen` with EINVAL, and an addressed send with EISCONN.
/// [`UnixSockets::All`] adds nothing.
fn unix_socket_rules(unix: UnixRules) -> Vec<SyscallRule> {
    match unix {
        UnixRules::All => return Vec::new(),
        UnixRules::Brokered => return brokered_unix_socket_rules(),
        UnixRules::Refused => {}
    }
    vec![
        rule(
            "socket",
            libc::SYS_socket,
            vec![Condition::ArgNotIn {
                arg: 0,
                mask: u32::MAX,
                values: vec![libc::AF_UNIX as u32],
                meaning: "domain is not AF_UNIX (AF_LOCAL)",
            }],
            Some(UNIX_NONE_NOTE),
        ),
        rule(
            "socketpair",
            libc::SYS_socketpair,
            unix_stream_only(),
            Some(
                "unix sockets: none: stream and seqpacket socketpairs only; a datagram one could be connected or addressed to a host socket",
            ),
        ),
    ]
}

/// With the connect broker: AF_UNIX sockets of stream and seqpacket type (connected only by
/// the broker), no datagram ones (an addressed `sendto`/`sendmsg` would reach any named
/// socket past the broker; `SOCK_RAW` is a datagram socket to the kernel), and socketpairs as
/// under none. Other families are the network mode's business.
fn brokered_unix_socket_rules() -> Vec<SyscallRule> {
    const NOTE: &str = "unix sockets: granted paths through the connect broker: unix stream and seqpacket sockets only (a datagram socket's sendto/sendmsg address is out of the broker's reach); every connect is performed by the sandbox's init after its check";
    let stream_or_seqpacket = Condition::ArgInWhen {
        when_arg: 0,
        when_value: libc::AF_UNIX as u32,
        arg: 1,
        mask: !SOCKET_TYPE_FLAGS,
        values: vec![libc::SOCK_STREAM as u32, libc::SOCK_SEQPACKET as u32],
        meaning: "an AF_UNIX socket is SOCK_STREAM or SOCK_SEQPACKET",
    };
    vec![
        rule("socket", libc::SYS_socket, vec![stream_or_seqpacket], Some(NOTE)),
        rule(
            "socketpair",
            libc::SYS_socketpair,
            unix_stream_only(),
            Some(
                "unix sockets: stream and seqpacket socketpairs only; a datagram one could be addressed to a host socket",
            ),
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Compiler.

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "x86_64")]
const ARCH_NAME: &str = "x86_64";
#[cfg(target_arch = "x86_64")]
const FOREIGN_ABI_POLICY: &str = "other architectures (i386) kill the process; x32 numbers are refused with EPERM";
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xc000_00b7;
#[cfg(target_arch = "aarch64")]
const ARCH_NAME: &str = "aarch64";
#[cfg(target_arch = "aarch64")]
const FOREIGN_ABI_POLICY: &str = "other architectures (arm32 compat) kill the process";
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("the seccomp filter is written for x86_64 and aarch64 (little-endian) only");

const X32_SYSCALL_BIT: u32 = 0x4000_0000;

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JEQ_K: u16 = 0x15;
const BPF_JGE_K: u16 = 0x35;
const BPF_AND_K: u16 = 0x54;
const BPF_JA: u16 = 0x05;
const BPF_RET_K: u16 = 0x06;

const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;

const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
fn offset_arg_low(arg: u8) -> u32 {
    16 + 8 * arg as u32
}

fn stmt(code: u16, k: u32) -> SockFilter {
    SockFilter { code, jt: 0, jf: 0, k }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> SockFilter {
    SockFilter { code, jt, jf, k }
}

/// Compiles rules into a program: architecture check, x32 refusal, then one self-contained
/// block per system-call number holding the checks of every rule for it (each block ends in a
/// return, so the accumulator it clobbers never leaks into the next number's comparison), then
/// "allow".
pub fn compile(rules: &[SyscallRule]) -> Vec<SockFilter> {
    compile_with_supervised(rules, &[])
}

/// As [`compile`], with the `supervised` calls answered `SECCOMP_RET_USER_NOTIF` right after
/// the architecture checks (no rule names them).
pub fn compile_with_supervised(rules: &[SyscallRule], supervised: &[SupervisedCall]) -> Vec<SockFilter> {
    let mut program = vec![
        stmt(BPF_LD_W_ABS, OFFSET_ARCH),
        jump(BPF_JEQ_K, AUDIT_ARCH, 1, 0),
        stmt(BPF_RET_K, SECCOMP_RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, OFFSET_NR),
    ];
    if cfg!(target_arch = "x86_64") {
        program.push(jump(BPF_JGE_K, X32_SYSCALL_BIT, 0, 1));
        program.push(stmt(BPF_RET_K, SECCOMP_RET_ERRNO | libc::EPERM as u32));
    }
    for call in supervised {
        program.push(jump(BPF_JEQ_K, call.number as u32, 0, 1));
        program.push(stmt(BPF_RET_K, crate::sys::SECCOMP_RET_USER_NOTIF));
    }
    for (number, group) in rules_by_number(rules) {
        let mut body = Vec::new();
        // Past a rule that refuses outright nothing is reachable.
        if !group.iter().any(|rule| rule_body(rule, &mut body)) {
            body.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
        }
        let names: Vec<&str> = group.iter().map(|rule| rule.syscall).collect();
        assert!(body.len() <= u8::MAX as usize, "seccomp rule block for {} too long", names.join(", "));
        program.push(jump(BPF_JEQ_K, number as u32, 0, body.len() as u8));
        program.extend(body);
    }
    program.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
    program
}

/// The rules grouped by system-call number, in the order each number first appears: a call is
/// allowed only if every rule for its number allows it, so a rule added later for the same
/// call (a set-id mode check, a refusal) can only narrow what an earlier one allows.
fn rules_by_number(rules: &[SyscallRule]) -> Vec<(i64, Vec<&SyscallRule>)> {
    let mut groups: Vec<(i64, Vec<&SyscallRule>)> = Vec::new();
    for rule in rules {
        match groups.iter_mut().find(|(number, _)| *number == rule.number) {
            Some((_, group)) => group.push(rule),
            None => groups.push((rule.number, vec![rule])),
        }
    }
    groups
}

/// Appends `rule`'s checks to a block: each failing condition returns the rule's errno, a
/// passing one falls through to the next check. Returns whether the rule refuses outright
/// (the block then ends with its errno).
fn rule_body(rule: &SyscallRule, body: &mut Vec<SockFilter>) -> bool {
    let deny = stmt(BPF_RET_K, SECCOMP_RET_ERRNO | (rule.errno as u32 & 0xffff));
    for condition in &rule.allow_if {
        match condition {
            Condition::ArgIn { arg, mask, values, .. } | Condition::ArgNotIn { arg, mask, values, .. } => {
                body.push(stmt(BPF_LD_W_ABS, offset_arg_low(*arg)));
                if *mask != u32::MAX {
                    body.push(stmt(BPF_AND_K, *mask));
                }
                // Each match jumps over the remaining comparisons and one instruction more.
                // For ArgIn that is the deny: a match goes on, no match is denied. For
                // ArgNotIn it is a jump over the deny: a match lands on it, no match skips it.
                let count = values.len();
                for (i, value) in values.iter().enumerate() {
                    body.push(jump(BPF_JEQ_K, *value, (count - i) as u8, 0));
                }
                if matches!(condition, Condition::ArgNotIn { .. }) {
                    body.push(stmt(BPF_JA, 1));
                }
                body.push(deny);
            }
            Condition::ArgInWhen { when_arg, when_value, arg, mask, values, .. } => {
                // The check of `arg`, as ArgIn's, skipped as a whole when `when_arg` differs.
                let mut check = vec![stmt(BPF_LD_W_ABS, offset_arg_low(*arg))];
                if *mask != u32::MAX {
                    check.push(stmt(BPF_AND_K, *mask));
                }
                let count = values.len();
                for (i, value) in values.iter().enumerate() {
                    check.push(jump(BPF_JEQ_K, *value, (count - i) as u8, 0));
                }
                check.push(deny);
                body.push(stmt(BPF_LD_W_ABS, offset_arg_low(*when_arg)));
                body.push(jump(BPF_JEQ_K, *when_value, 0, check.len() as u8));
                body.extend(check);
            }
            Condition::ArgIsZero { arg, .. } => {
                for offset in [offset_arg_low(*arg), offset_arg_low(*arg) + 4] {
                    body.push(stmt(BPF_LD_W_ABS, offset));
                    body.push(jump(BPF_JEQ_K, 0, 1, 0));
                    body.push(deny);
                }
            }
        }
    }
    if rule.allow_if.is_empty() {
        body.push(deny);
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the kernel would return for a call, computed by interpreting the program.
    fn run(program: &[SockFilter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_le_bytes());
        data[4..8].copy_from_slice(&arch.to_le_bytes());
        for (i, arg) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&arg.to_le_bytes());
        }
        let mut acc: u32 = 0;
        let mut pc = 0usize;
        for _ in 0..program.len() {
            let ins = program[pc];
            match ins.code {
                BPF_LD_W_ABS => {
                    let k = ins.k as usize;
                    acc = u32::from_le_bytes(data[k..k + 4].try_into().unwrap());
                    pc += 1;
                }
                BPF_AND_K => {
                    acc &= ins.k;
                    pc += 1;
                }
                BPF_JEQ_K => pc += 1 + if acc == ins.k { ins.jt as usize } else { ins.jf as usize },
                BPF_JGE_K => pc += 1 + if acc >= ins.k { ins.jt as usize } else { ins.jf as usize },
                BPF_JA => pc += 1 + ins.k as usize,
                BPF_RET_K => return ins.k,
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
        panic!("program ran off its end");
    }

    const EPERM: u32 = SECCOMP_RET_ERRNO | libc::EPERM as u32;

    fn call(plan: &SeccompPlan, nr: i64, args: [u64; 6]) -> u32 {
        run(&plan.program, AUDIT_ARCH, nr as u32, args)
    }

    #[test]
    fn the_connect_broker_gets_every_connect_and_unix_stream_sockets_only() {
        const NOTIFY: u32 = crate::sys::SECCOMP_RET_USER_NOTIF;
        let (unix, inet) = (libc::AF_UNIX as u64, libc::AF_INET as u64);
        let (stream, dgram, seqpacket) =
            (libc::SOCK_STREAM as u64, libc::SOCK_DGRAM as u64, libc::SOCK_SEQPACKET as u64);
        let flags = (libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK) as u64;
        for (mode, own_netns) in [
            (NetworkMode::Restricted, false),
            (NetworkMode::Full, false),
            (NetworkMode::Proxy, false),
            (NetworkMode::Proxy, true),
        ] {
            let context = format!("{mode:?} own netns {own_netns}");
            let plan = SeccompPlan::with_connect_broker(mode, own_netns, own_netns);
            assert!(plan.brokers_connect(), "{context}");
            assert!(plan.rules.iter().all(|rule| rule.number != libc::SYS_connect), "{context}");
            assert_eq!(call(&plan, libc::SYS_listen, [3, 5, 0, 0, 0, 0]), NOTIFY, "{context}");
            // The broker answers listen as the mode's own rule would have.
            let answer = match (mode, own_netns) {
                (NetworkMode::Restricted, _) => Some(0),
                (NetworkMode::Proxy, false) => Some(libc::EPERM),
                _ => None,
            };
            assert_eq!(plan.broker_listen_answer, answer, "{context}");
            for fd in [3u64, 1 << 40] {
                assert_eq!(call(&plan, libc::SYS_connect, [fd, 0x1000, 110, 0, 0, 0]), NOTIFY, "{context}");
            }
            assert_eq!(
                call(&plan, libc::SYS_socket, [unix, stream | flags, 0, 0, 0, 0]),
                SECCOMP_RET_ALLOW,
                "{context}"
            );
            // Datagram unix sockets (SOCK_RAW is one too) are refused in every mode.
            for kind in [dgram, libc::SOCK_RAW as u64, dgram | flags] {
                assert_eq!(call(&plan, libc::SYS_socket, [unix, kind, 0, 0, 0, 0]), EPERM, "{context} {kind}");
            }
            assert_eq!(call(&plan, libc::SYS_socketpair, [unix, dgram, 0, 0, 0, 0]), EPERM, "{context}");
            assert_eq!(call(&plan, libc::SYS_socketpair, [unix, stream, 0, 0, 0, 0]), SECCOMP_RET_ALLOW, "{context}");
            let (inet_stream, inet_dgram, unix_seqpacket) = (
                call(&plan, libc::SYS_socket, [inet, stream, 0, 0, 0, 0]),
                call(&plan, libc::SYS_socket, [inet, dgram, 0, 0, 0, 0]),
                call(&plan, libc::SYS_socket, [unix, seqpacket, 0, 0, 0, 0]),
            );
            match mode {
                NetworkMode::Restricted => {
                    assert_eq!([inet_stream, inet_dgram, unix_seqpacket], [EPERM, EPERM, SECCOMP_RET_ALLOW]);
                    assert_eq!(call(&plan, libc::SYS_bind, [3, 0, 0, 0, 0, 0]), EPERM);
                }
                NetworkMode::Full => {
                    assert_eq!([inet_stream, inet_dgram, unix_seqpacket], [SECCOMP_RET_ALLOW; 3]);
                }
                // Proxy mode's type check is shared with TCP: unix stream sockets only.
                NetworkMode::Proxy => {
                    assert_eq!(
                        [inet_stream, inet_dgram, unix_seqpacket],
                        [SECCOMP_RET_ALLOW, EPERM, EPERM],
                        "{context}"
                    );
                }
            }
        }
        // No listener of the command's own under a supervisor; plain filters stay possible.
        let plan = SeccompPlan::with_connect_broker(NetworkMode::Full, false, false);
        assert_eq!(call(&plan, libc::SYS_seccomp, [1, 1 << 3, 0x1000, 0, 0, 0]), EPERM);
        assert_eq!(call(&plan, libc::SYS_seccomp, [1, (1 << 3) | 1, 0x1000, 0, 0, 0]), EPERM);
        assert_eq!(call(&plan, libc::SYS_seccomp, [1, 0, 0x1000, 0, 0, 0]), SECCOMP_RET_ALLOW);
        // The metadata supervisor's calls join the broker's, they do not replace them.
        let both = SeccompPlan::with_connect_broker(NetworkMode::Full, false, false)
            .with_metadata_rules(MetadataRules { supervised: true, truncate: false });
        assert!(both.brokers_connect());
        assert_eq!(call(&both, libc::SYS_connect, [3, 0, 0, 0, 0, 0]), NOTIFY);
        assert_eq!(call(&both, libc::SYS_fchmod, [3, 0o644, 0, 0, 0, 0]), NOTIFY);
        assert_eq!(both.rules.iter().filter(|rule| rule.number == libc::SYS_seccomp).count(), 1);
        assert_eq!(call(&both, libc::SYS_seccomp, [1, 1 << 3, 0x1000, 0, 0, 0]), EPERM);
        // Without the broker, nothing changes: connect is not handed over.
        let none = SeccompPlan::new(NetworkMode::Full, false, false, &UnixSockets::Paths(vec!["/x".into()]));
        assert!(!none.brokers_connect());
        assert_eq!(call(&none, libc::SYS_socket, [unix, stream, 0, 0, 0, 0]), EPERM);
    }

    #[test]
    fn restricted_with_every_unix_socket_allows_only_af_unix() {
        // Unix sockets of one's own only with the capability `all`; see the tests below for none.
        let plan = SeccompPlan::new(NetworkMode::Restricted, false, true, &UnixSockets::All);
        let unix = libc::AF_UNIX as u64;
        let stream = libc::SOCK_STREAM as u64;
        assert_eq!(call(&plan, libc::SYS_socket, [unix, stream, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(
            call(&plan, libc::SYS_socket, [unix, stream | libc::SOCK_CLOEXEC as u64, 0, 0, 0, 0]),
            SECCOMP_RET_ALLOW
        );
        assert_eq!(call(&plan, libc::SYS_socket, [unix, libc::SOCK_SEQPACKET as u64, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(call(&plan, libc::SYS_socket, [unix, libc::SOCK_DGRAM as u64, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(call(&plan, libc::SYS_socket, [libc::AF_INET as u64, stream, 0, 0, 0, 0]), EPERM);
        assert_eq!(call(&plan, libc::SYS_socket, [libc::AF_INET6 as u64, stream, 0, 0, 0, 0]), EPERM);
        assert_eq!(call(&plan, libc::SYS_socket, [libc::AF_NETLINK as u64, libc::SOCK_RAW as u64, 0, 0, 0, 0]), EPERM);
        // High bits of the domain argument are ignored by the kernel, and by the filter.
        assert_eq!(call(&plan, libc::SYS_socket, [(1 << 32) | unix, stream, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(call(&plan, libc::SYS_socketpair, [unix, stream, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(call(&plan, libc::SYS_socketpair, [libc::AF_INET as u64, stream, 0, 0, 0, 0]), EPERM);
        // With `all` and no other family, connectivity is unix connectivity.
        for nr in [libc::SYS_connect, libc::SYS_bind, libc::SYS_listen, libc::SYS_accept4, libc::SYS_sendto] {
            assert_eq!(call(&plan, nr, [3, 0x1000, 16, 0, 0x1000, 16]), SECCOMP_RET_ALLOW);
        }
    }

    #[test]
    fn restricted_refuses_connectivity_but_not_send_on_connected_sockets() {
        let plan = SeccompPlan::new(NetworkMode::Restricted, false, true, &UnixSockets::None);
        for nr in [libc::SYS_connect, libc::SYS_bind] {
            assert_eq!(call(&plan, nr, [3, 0, 0, 0, 0, 0]), EPERM);
        }
        // listen is answered 0 without running (no socket is made to listen); accept runs, and
        // only a listener the launcher passed can be listening.
        assert_eq!(call(&plan, libc::SYS_listen, [3, 16, 0, 0, 0, 0]), SECCOMP_RET_ERRNO);
        for nr in [libc::SYS_accept, libc::SYS_accept4] {
            assert_eq!(call(&plan, nr, [3, 0, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        }
        assert_eq!(call(&plan, libc::SYS_sendto, [3, 0x1000, 10, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(call(&plan, libc::SYS_sendto, [3, 0x1000, 10, 0, 0x7fff_0000, 16]), EPERM);
        assert_eq!(call(&plan, libc::SYS_sendto, [3, 0x1000, 10, 0, 0x7f00_0000_0000, 16]), EPERM);
        for nr in [libc::SYS_sendmsg, libc::SYS_recvmsg, libc::SYS_recvfrom, libc::SYS_read, libc::SYS_write] {
            assert_eq!(call(&plan, nr, [3, 0, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        }
    }

    #[test]
    fn every_mode_refuses_io_uring_ptrace_and_foreign_abis() {
        for mode in [NetworkMode::Restricted, NetworkMode::Proxy, NetworkMode::Full] {
            let plan = SeccompPlan::new(mode, false, true, &UnixSockets::None);
            for nr in [libc::SYS_io_uring_setup, libc::SYS_ptrace, libc::SYS_process_vm_writev] {
                assert_eq!(call(&plan, nr, [0; 6]), EPERM);
            }
            assert_eq!(run(&plan.program, 0x4000_0003, libc::SYS_getpid as u32, [0; 6]), SECCOMP_RET_KILL_PROCESS);
            if cfg!(target_arch = "x86_64") {
                assert_eq!(call(&plan, X32_SYSCALL_BIT as i64 | libc::SYS_getpid, [0; 6]), EPERM);
            }
        }
        let full = SeccompPlan::new(NetworkMode::Full, false, true, &UnixSockets::None);
        assert_eq!(
            call(&full, libc::SYS_socket, [libc::AF_INET as u64, libc::SOCK_STREAM as u64, 0, 0, 0, 0]),
            SECCOMP_RET_ALLOW
        );
        assert_eq!(call(&full, libc::SYS_connect, [3, 0, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(call(&full, libc::SYS_socket, [libc::AF_UNIX as u64, libc::SOCK_DGRAM as u64, 0, 0, 0, 0]), EPERM);
        let full_all = SeccompPlan::new(NetworkMode::Full, false, true, &UnixSockets::All);
        assert_eq!(
            call(&full_all, libc::SYS_socket, [libc::AF_UNIX as u64, libc::SOCK_DGRAM as u64, 0, 0, 0, 0]),
            SECCOMP_RET_ALLOW
        );
        for family in [libc::AF_PACKET, libc::AF_VSOCK] {
            assert_eq!(call(&full, libc::SYS_socket, [family as u64, libc::SOCK_RAW as u64, 0, 0, 0, 0]), EPERM);
        }
        let sock_packet = [libc::AF_INET as u64, SOCK_PACKET as u64, 0, 0, 0, 0];
        assert_eq!(call(&full, libc::SYS_socket, sock_packet), EPERM);
        let mptcp = [libc::AF_INET as u64, libc::SOCK_STREAM as u64, libc::IPPROTO_MPTCP as u64, 0, 0, 0];
        assert_eq!(call(&full, libc::SYS_socket, mptcp), SECCOMP_RET_ALLOW);
    }

    #[test]
    fn proxy_mode_allows_tcp_only_and_no_fast_open() {
        let stream = libc::SOCK_STREAM as u64;
        for own_netns in [true, false] {
            let plan = SeccompPlan::new(NetworkMode::Proxy, own_netns, true, &UnixSockets::None);
            assert_eq!(call(&plan, libc::SYS_socket, [libc::AF_INET as u64, stream, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
            assert_eq!(
                call(&plan, libc::SYS_socket, [libc::AF_INET6 as u64, stream | libc::SOCK_NONBLOCK as u64, 0, 0, 0, 0]),
                SECCOMP_RET_ALLOW
            );
            assert_eq!(
                call(&plan, libc::SYS_socket, [libc::AF_INET as u64, libc::SOCK_DGRAM as u64, 0, 0, 0, 0]),
                EPERM
            );
            assert_eq!(call(&plan, libc::SYS_socket, [libc::AF_INET as u64, libc::SOCK_RAW as u64, 0, 0, 0, 0]), EPERM);
            assert_eq!(call(&plan, libc::SYS_socket, [libc::AF_UNIX as u64, stream, 0, 0, 0, 0]), EPERM);
            assert_eq!(
                call(&plan, libc::SYS_socketpair, [libc::AF_UNIX as u64, stream, 0, 0, 0, 0]),
                SECCOMP_RET_ALLOW
            );
            assert_eq!(call(&plan, libc::SYS_connect, [3, 0, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
            assert_eq!(call(&plan, libc::SYS_sendto, [3, 0, 1, 0, 0, 0]), SECCOMP_RET_ALLOW);
            assert_eq!(call(&plan, libc::SYS_sendto, [3, 0, 1, libc::MSG_FASTOPEN as u64, 0x1000, 16]), EPERM);
            assert_eq!(
                call(&plan, libc::SYS_sendmsg, [3, 0, (libc::MSG_FASTOPEN | libc::MSG_NOSIGNAL) as u64, 0, 0, 0]),
                EPERM
            );
            assert_eq!(call(&plan, libc::SYS_sendmsg, [3, 0, libc::MSG_NOSIGNAL as u64, 0, 0, 0]), SECCOMP_RET_ALLOW);
            let listen = call(&plan, libc::SYS_listen, [3, 16, 0, 0, 0, 0]);
            assert_eq!(listen, if own_netns { SECCOMP_RET_ALLOW } else { EPERM });
        }
    }

    #[test]
    fn every_mode_refuses_new_namespaces_but_not_fork_or_threads() {
        const ENOSYS: u32 = SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
        let sigchld = libc::SIGCHLD as u64;
        let thread = (libc::CLONE_VM
            | libc::CLONE_FS
            | libc::CLONE_FILES
            | libc::CLONE_SIGHAND
            | libc::CLONE_THREAD
            | libc::CLONE_SYSVSEM
            | libc::CLONE_SETTLS
            | libc::CLONE_PARENT_SETTID
            | libc::CLONE_CHILD_CLEARTID) as u64;
        let vfork = (libc::CLONE_VM | libc::CLONE_VFORK) as u64 | sigchld;
        let namespaces = [
            libc::CLONE_NEWUSER,
            libc::CLONE_NEWNS,
            libc::CLONE_NEWPID,
            libc::CLONE_NEWNET,
            libc::CLONE_NEWIPC,
            libc::CLONE_NEWUTS,
            libc::CLONE_NEWCGROUP,
            CLONE_NEWTIME as i32,
        ];
        for mode in [NetworkMode::Restricted, NetworkMode::Proxy, NetworkMode::Full] {
            for own_netns in [true, false] {
                let plan = SeccompPlan::new(mode, own_netns, true, &UnixSockets::None);
                for allowed in [sigchld, thread, vfork, 0] {
                    assert_eq!(
                        call(&plan, libc::SYS_clone, [allowed, 0, 0, 0, 0, 0]),
                        SECCOMP_RET_ALLOW,
                        "{allowed:#x}"
                    );
                }
                for flag in namespaces {
                    let flag = flag as u32 as u64;
                    assert_eq!(call(&plan, libc::SYS_clone, [flag | sigchld, 0, 0, 0, 0, 0]), EPERM, "clone {flag:#x}");
                    assert_eq!(call(&plan, libc::SYS_clone, [flag | thread, 0, 0, 0, 0, 0]), EPERM, "clone {flag:#x}");
                    assert_eq!(call(&plan, libc::SYS_unshare, [flag, 0, 0, 0, 0, 0]), EPERM, "unshare {flag:#x}");
                    // The kernel reads the low 32 bits; high bits cannot hide a flag.
                    assert_eq!(call(&plan, libc::SYS_unshare, [(1 << 40) | flag, 0, 0, 0, 0, 0]), EPERM);
                }
                for allowed in [0, libc::CLONE_FS, libc::CLONE_FILES, libc::CLONE_SYSVSEM] {
                    assert_eq!(call(&plan, libc::SYS_unshare, [allowed as u64, 0, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
                }
                assert_eq!(call(&plan, libc::SYS_clone3, [0x1000, 88, 0, 0, 0, 0]), ENOSYS);
                assert_eq!(call(&plan, libc::SYS_setns, [3, 0, 0, 0, 0, 0]), EPERM);
            }
        }
    }

    #[test]
    fn every_mode_refuses_leases_and_keeps_locks() {
        for mode in [NetworkMode::Restricted, NetworkMode::Proxy, NetworkMode::Full] {
            for plan in [
                SeccompPlan::new(mode, true, true, &UnixSockets::None),
                SeccompPlan::new(mode, false, false, &UnixSockets::None),
            ] {
                let lease = libc::F_SETLEASE as u64;
                assert_eq!(call(&plan, libc::SYS_fcntl, [3, lease, libc::F_RDLCK as u64, 0, 0, 0]), EPERM);
                assert_eq!(call(&plan, libc::SYS_fcntl, [3, (1 << 32) | lease, 0, 0, 0, 0]), EPERM);
                for allowed in
                    [libc::F_GETFL, libc::F_SETLK, libc::F_OFD_SETLK, libc::F_GETLEASE, libc::F_DUPFD_CLOEXEC]
                {
                    assert_eq!(call(&plan, libc::SYS_fcntl, [3, allowed as u64, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
                }
            }
        }
    }

    #[test]
    fn every_mode_refuses_keyring_perf_userfaultfd_bpf_and_terminal_injection() {
        for mode in [NetworkMode::Restricted, NetworkMode::Proxy, NetworkMode::Full] {
            let plan = SeccompPlan::new(mode, true, true, &UnixSockets::None);
            for nr in [
                libc::SYS_keyctl,
                libc::SYS_add_key,
                libc::SYS_request_key,
                libc::SYS_perf_event_open,
                libc::SYS_userfaultfd,
                libc::SYS_bpf,
            ] {
                assert_eq!(call(&plan, nr, [0; 6]), EPERM, "syscall {nr}");
                assert_eq!(call(&plan, nr, [1, 2, 3, 4, 5, 6]), EPERM, "syscall {nr}");
            }
            for request in [TIOCSTI, TIOCLINUX] {
                assert_eq!(call(&plan, libc::SYS_ioctl, [0, request as u64, 0x1000, 0, 0, 0]), EPERM);
                assert_eq!(call(&plan, libc::SYS_ioctl, [0, (7 << 32) | request as u64, 0x1000, 0, 0, 0]), EPERM);
            }
            // libc's ioctl request type differs between targets.
            #[allow(clippy::unnecessary_cast)]
            let harmless = [libc::TIOCGWINSZ as u64, libc::FIONREAD as u64, libc::TCGETS as u64, libc::FIOCLEX as u64];
            for request in harmless {
                assert_eq!(call(&plan, libc::SYS_ioctl, [0, request, 0x1000, 0, 0, 0]), SECCOMP_RET_ALLOW);
            }
        }
    }

    #[test]
    fn shared_process_namespaces_refuse_sysv_ipc_and_limit_process_calls_to_the_caller() {
        let ipc = [
            libc::SYS_shmget,
            libc::SYS_shmat,
            libc::SYS_shmctl,
            libc::SYS_shmdt,
            libc::SYS_semget,
            libc::SYS_semop,
            libc::SYS_semtimedop,
            libc::SYS_semctl,
            libc::SYS_msgget,
            libc::SYS_msgsnd,
            libc::SYS_msgrcv,
            libc::SYS_msgctl,
            libc::SYS_mq_open,
            libc::SYS_mq_unlink,
        ];
        let pid_first = [
            libc::SYS_prlimit64,
            libc::SYS_sched_setaffinity,
            libc::SYS_sched_setscheduler,
            libc::SYS_sched_setparam,
            libc::SYS_sched_setattr,
        ];
        for mode in [NetworkMode::Restricted, NetworkMode::Proxy, NetworkMode::Full] {
            let shared = SeccompPlan::new(mode, false, false, &UnixSockets::None);
            let own = SeccompPlan::new(mode, true, true, &UnixSockets::None);
            for nr in ipc {
                assert_eq!(call(&shared, nr, [0x0c0d_0001, 4096, 0o1666, 0, 0, 0]), EPERM, "syscall {nr}");
                assert_eq!(call(&own, nr, [0x0c0d_0001, 4096, 0o1666, 0, 0, 0]), SECCOMP_RET_ALLOW, "syscall {nr}");
            }
            for nr in pid_first {
                assert_eq!(call(&shared, nr, [0, 7, 0x1000, 0, 0, 0]), SECCOMP_RET_ALLOW, "syscall {nr}");
                assert_eq!(call(&shared, nr, [4242, 7, 0x1000, 0, 0, 0]), EPERM, "syscall {nr}");
                // The kernel reads a pid_t: the low 32 bits. A high word cannot pass for 0
                // either, as the kernel would still see the low word's pid.
                assert_eq!(call(&shared, nr, [(1 << 32) | 4242, 7, 0x1000, 0, 0, 0]), EPERM, "syscall {nr}");
                assert_eq!(call(&own, nr, [4242, 7, 0x1000, 0, 0, 0]), SECCOMP_RET_ALLOW, "syscall {nr}");
            }
            for (nr, own_kinds, user) in [
                (libc::SYS_setpriority, [PRIO_PROCESS, PRIO_PGRP], 2u64),
                (libc::SYS_ioprio_set, [IOPRIO_WHO_PROCESS, IOPRIO_WHO_PGRP], 3u64),
            ] {
                for which in own_kinds {
                    assert_eq!(call(&shared, nr, [which as u64, 0, 19, 0, 0, 0]), SECCOMP_RET_ALLOW, "syscall {nr}");
                    assert_eq!(call(&shared, nr, [which as u64, 4242, 19, 0, 0, 0]), EPERM, "syscall {nr}");
                }
                // `who` 0 of a user is the caller's whole uid, host processes included.
                assert_eq!(call(&shared, nr, [user, 0, 19, 0, 0, 0]), EPERM, "syscall {nr}");
                assert_eq!(call(&own, nr, [user, 4242, 19, 0, 0, 0]), SECCOMP_RET_ALLOW, "syscall {nr}");
            }
            for nr in [libc::SYS_getpriority, libc::SYS_sched_getaffinity, libc::SYS_getrusage] {
                assert_eq!(call(&shared, nr, [4242, 0, 0, 0, 0, 0]), SECCOMP_RET_ALLOW, "syscall {nr}");
            }
            for rule in host_process_rules() {
                assert!(rule.note.is_some_and(|n| !n.is_empty()), "{} has no note", rule.syscall);
            }
        }
    }

    #[test]
    fn metadata_calls_go_to_the_supervisor_or_are_refused_and_inode_attribute_ioctls_are_refused() {
        const NOTIFY: u32 = crate::sys::SECCOMP_RET_USER_NOTIF;
        for mode in [NetworkMode::Restricted, NetworkMode::Full] {
            let plain = SeccompPlan::new(mode, false, false, &UnixSockets::None);
            for truncate in [false, true] {
                let supervised = SeccompPlan::new(mode, false, false, &UnixSockets::None)
                    .with_metadata_rules(MetadataRules { supervised: true, truncate });
                let refused = SeccompPlan::new(mode, false, false, &UnixSockets::None)
                    .with_metadata_rules(MetadataRules { supervised: false, truncate });
                for (name, nr) in metadata_calls(truncate) {
                    assert_eq!(call(&supervised, nr, [0xffff_ff9c, 0x1000, 0o755, 0, 0, 0]), NOTIFY, "{name}");
                    assert_eq!(call(&refused, nr, [0xffff_ff9c, 0x1000, 0o755, 0, 0, 0]), EPERM, "{name}");
                    assert_eq!(call(&plain, nr, [3, 0x1000, 0o755, 0, 0, 0]), SECCOMP_RET_ALLOW, "{name}");
                }
                let truncate_answer = call(&supervised, libc::SYS_truncate, [0x1000, 0, 0, 0, 0, 0]);
                assert_eq!(truncate_answer, if truncate { NOTIFY } else { SECCOMP_RET_ALLOW });
                for plan in [&supervised, &refused] {
                    for (request, name) in INODE_ATTRIBUTE_IOCTLS {
                        assert_eq!(call(plan, libc::SYS_ioctl, [3, request as u64, 0x1000, 0, 0, 0]), EPERM, "{name}");
                        assert_eq!(
                            call(&plain, libc::SYS_ioctl, [3, request as u64, 0x1000, 0, 0, 0]),
                            SECCOMP_RET_ALLOW
                        );
                    }
                    // The terminal refusals stay, harmless requests pass.
                    assert_eq!(call(plan, libc::SYS_ioctl, [0, TIOCSTI as u64, 0, 0, 0, 0]), EPERM);
                    // libc's ioctl request type differs between targets.
                    #[allow(clippy::unnecessary_cast)]
                    let fionread = libc::FIONREAD as u64;
                    assert_eq!(call(plan, libc::SYS_ioctl, [0, fionread, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
                    assert_eq!(call(plan, SYS_FILE_SETATTR, [3, 0x1000, 0, 0, 0, 0]), EPERM);
                    // Reading metadata and ordinary file calls are untouched.
                    for nr in [libc::SYS_newfstatat, libc::SYS_getxattr, libc::SYS_openat, libc::SYS_ftruncate] {
                        assert_eq!(call(plan, nr, [3, 0x1000, 0, 0, 0, 0]), SECCOMP_RET_ALLOW, "syscall {nr}");
                    }
                }
            }
        }
    }

    #[test]
    fn unix_sockets_none_refuses_af_unix_in_every_mode_and_keeps_stream_socketpairs() {
        let (unix, stream, seqpacket, dgram) =
            (libc::AF_UNIX as u64, libc::SOCK_STREAM as u64, libc::SOCK_SEQPACKET as u64, libc::SOCK_DGRAM as u64);
        let cloexec = libc::SOCK_CLOEXEC as u64 | libc::SOCK_NONBLOCK as u64;
        let paths = UnixSockets::Paths(vec!["/run/docker.sock".into()]);
        for unix_sockets in [UnixSockets::None, paths] {
            for mode in [NetworkMode::Restricted, NetworkMode::Proxy, NetworkMode::Full] {
                for (own_netns, own_processes) in [(true, true), (false, false), (false, true)] {
                    let plan = SeccompPlan::new(mode, own_netns, own_processes, &unix_sockets);
                    for kind in [stream, seqpacket, dgram, stream | cloexec, libc::SOCK_RAW as u64] {
                        assert_eq!(call(&plan, libc::SYS_socket, [unix, kind, 0, 0, 0, 0]), EPERM, "{mode:?}");
                        // The kernel reads an int: high bits cannot hide AF_UNIX.
                        assert_eq!(call(&plan, libc::SYS_socket, [(1 << 32) | unix, kind, 0, 0, 0, 0]), EPERM);
                    }
                    for kind in [stream, seqpacket, stream | cloexec, seqpacket | libc::SOCK_CLOEXEC as u64] {
                        assert_eq!(call(&plan, libc::SYS_socketpair, [unix, kind, 0, 0x1000, 0, 0]), SECCOMP_RET_ALLOW);
                    }
                    assert_eq!(call(&plan, libc::SYS_socketpair, [unix, dgram, 0, 0x1000, 0, 0]), EPERM, "{mode:?}");
                    assert_eq!(call(&plan, libc::SYS_socketpair, [unix, dgram | cloexec, 0, 0x1000, 0, 0]), EPERM);
                }
            }
        }
        // The IP side of each mode is what it was.
        let full = SeccompPlan::new(NetworkMode::Full, false, true, &UnixSockets::None);
        let inet = [libc::AF_INET as u64, libc::SOCK_DGRAM as u64, 0, 0, 0, 0];
        assert_eq!(call(&full, libc::SYS_socket, inet), SECCOMP_RET_ALLOW);
        let proxy = SeccompPlan::new(NetworkMode::Proxy, true, true, &UnixSockets::None);
        assert_eq!(call(&proxy, libc::SYS_socket, [libc::AF_INET6 as u64, stream, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        let rule = full.rules.iter().rfind(|r| r.syscall == "socket").unwrap();
        assert!(rule.note.is_some_and(|n| n.contains("EPERM")), "{rule:?}");
    }

    #[test]
    fn unix_sockets_all_lifts_the_af_unix_restriction_but_not_the_ip_one() {
        let (unix, stream, dgram) = (libc::AF_UNIX as u64, libc::SOCK_STREAM as u64, libc::SOCK_DGRAM as u64);
        let all = UnixSockets::All;
        let full = SeccompPlan::new(NetworkMode::Full, false, false, &all);
        for kind in [stream, dgram, libc::SOCK_SEQPACKET as u64] {
            assert_eq!(call(&full, libc::SYS_socket, [unix, kind, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
            assert_eq!(call(&full, libc::SYS_socketpair, [unix, kind, 0, 0x1000, 0, 0]), SECCOMP_RET_ALLOW);
        }
        for own_netns in [true, false] {
            let proxy = SeccompPlan::new(NetworkMode::Proxy, own_netns, !own_netns, &all);
            assert_eq!(call(&proxy, libc::SYS_socket, [unix, stream, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
            assert_eq!(
                call(&proxy, libc::SYS_socket, [unix, stream | libc::SOCK_CLOEXEC as u64, 0, 0, 0, 0]),
                SECCOMP_RET_ALLOW
            );
            // Still TCP only on the IP side: no UDP, no SCTP through seqpacket, no raw.
            for (domain, kind) in [
                (libc::AF_INET, libc::SOCK_DGRAM),
                (libc::AF_INET, libc::SOCK_SEQPACKET),
                (libc::AF_INET6, libc::SOCK_RAW),
                (libc::AF_UNIX, libc::SOCK_DGRAM),
                (libc::AF_NETLINK, libc::SOCK_STREAM),
            ] {
                assert_eq!(call(&proxy, libc::SYS_socket, [domain as u64, kind as u64, 0, 0, 0, 0]), EPERM);
            }
            let mptcp = [libc::AF_INET as u64, stream, libc::IPPROTO_MPTCP as u64, 0, 0, 0];
            assert_eq!(call(&proxy, libc::SYS_socket, mptcp), EPERM);
            assert_eq!(call(&proxy, libc::SYS_socket, [libc::AF_INET as u64, stream, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        }
    }

    #[test]
    fn a_call_must_pass_every_rule_that_names_it() {
        let rules = vec![
            rule(
                "socket",
                libc::SYS_socket,
                vec![Condition::ArgIn { arg: 0, mask: u32::MAX, values: vec![1, 2], meaning: "1 or 2" }],
                None,
            ),
            rule(
                "socket",
                libc::SYS_socket,
                vec![Condition::ArgNotIn { arg: 0, mask: u32::MAX, values: vec![1], meaning: "not 1" }],
                None,
            ),
            refused("bpf", libc::SYS_bpf, "refused"),
        ];
        let program = compile(&rules);
        let socket = |domain| run(&program, AUDIT_ARCH, libc::SYS_socket as u32, [domain, 0, 0, 0, 0, 0]);
        assert_eq!(socket(1), EPERM);
        assert_eq!(socket(2), SECCOMP_RET_ALLOW);
        assert_eq!(socket(3), EPERM);
        // A call that passed the socket rules is not compared against a clobbered accumulator.
        assert_eq!(run(&program, AUDIT_ARCH, libc::SYS_bpf as u32, [2, 0, 0, 0, 0, 0]), EPERM);
        assert_eq!(run(&program, AUDIT_ARCH, libc::SYS_getpid as u32, [2, 0, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
    }

    #[test]
    fn set_id_modes_are_refused_on_every_pipeline_and_openat2_answers_enosys() {
        const ENOSYS: u32 = SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
        const NOTIFY: u32 = crate::sys::SECCOMP_RET_USER_NOTIF;
        // aarch64 has only the *at calls: nothing is added there.
        #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
        let mut calls = vec![
            (libc::SYS_fchmod, 1usize),
            (libc::SYS_fchmodat, 2),
            (SYS_FCHMODAT2, 2),
            (libc::SYS_openat, 3),
            (libc::SYS_mknodat, 2),
        ];
        #[cfg(target_arch = "x86_64")]
        calls.extend([(libc::SYS_chmod, 1), (libc::SYS_open, 2), (libc::SYS_creat, 1), (libc::SYS_mknod, 1)]);
        let with_mode = |arg: usize, mode: u64| {
            let mut args = [0xffff_ff9c, 0x1000, (libc::O_CREAT | libc::O_WRONLY) as u64, 0, 0, 0];
            args[arg] = mode;
            args
        };
        for mode in [NetworkMode::Restricted, NetworkMode::Proxy, NetworkMode::Full] {
            for (own_netns, own_pids) in [(true, true), (false, false), (false, true)] {
                let plan = SeccompPlan::new(mode, own_netns, own_pids, &UnixSockets::None);
                for (nr, arg) in &calls {
                    for set_id in [0o4755, 0o2755, 0o6755, libc::S_IFREG as u64 | 0o4755, (1 << 32) | 0o4000] {
                        assert_eq!(call(&plan, *nr, with_mode(*arg, set_id)), EPERM, "syscall {nr} mode {set_id:o}");
                    }
                    for plain in [0o755, 0o644, 0o1777, libc::S_IFREG as u64 | 0o600, 0] {
                        assert_eq!(call(&plan, *nr, with_mode(*arg, plain)), SECCOMP_RET_ALLOW, "syscall {nr}");
                    }
                }
                assert_eq!(call(&plan, libc::SYS_openat2, [0xffff_ff9c, 0x1000, 0x2000, 24, 0, 0]), ENOSYS);
            }
        }
        // Added to a plan whose rules refuse the same calls already, the checks never allow what
        // a refusal refuses: every rule for a number must allow the call.
        let refused = SeccompPlan::new(NetworkMode::Restricted, false, false, &UnixSockets::None)
            .with_metadata_rules(MetadataRules { supervised: false, truncate: false });
        assert_eq!(call(&refused, libc::SYS_fchmodat, with_mode(2, 0o755)), EPERM);
        assert_eq!(call(&refused, libc::SYS_fchmod, with_mode(1, 0o644)), EPERM);
        assert_eq!(call(&refused, libc::SYS_openat, with_mode(3, 0o644)), SECCOMP_RET_ALLOW);
        assert_eq!(call(&refused, libc::SYS_openat, with_mode(3, 0o4755)), EPERM);
        // Supervised chmod goes to the supervisor (which checks the bits on the object);
        // creating calls are the filter's.
        let supervised = SeccompPlan::new(NetworkMode::Restricted, false, false, &UnixSockets::None)
            .with_metadata_rules(MetadataRules { supervised: true, truncate: false });
        assert_eq!(call(&supervised, libc::SYS_fchmodat, with_mode(2, 0o4755)), NOTIFY);
        assert_eq!(call(&supervised, libc::SYS_mknodat, with_mode(2, 0o4755)), EPERM);
        assert_eq!(call(&supervised, libc::SYS_openat, with_mode(3, 0o2755)), EPERM);
        for rule in set_id_mode_rules() {
            assert!(rule.note.is_some_and(|n| !n.is_empty()), "{} has no note", rule.syscall);
        }
    }

    #[test]
    fn hard_coded_syscall_numbers_agree_with_libc_where_it_has_them() {
        // x86_64 glibc's libc has fchmodat2; the others are checked against the kernel's tables
        // (see the constants).
        #[cfg(target_arch = "x86_64")]
        assert_eq!(SYS_FCHMODAT2, libc::SYS_fchmodat2);
    }

    #[test]
    fn every_rule_says_why() {
        for rule in always_denied() {
            assert!(rule.note.is_some_and(|n| !n.is_empty()), "{} has no note", rule.syscall);
        }
        let plan = SeccompPlan::new(NetworkMode::Full, false, true, &UnixSockets::None);
        for name in [
            "unshare",
            "clone",
            "clone3",
            "setns",
            "keyctl",
            "add_key",
            "request_key",
            "perf_event_open",
            "userfaultfd",
            "bpf",
            "ioctl",
        ] {
            let rule = plan.rules.iter().find(|r| r.syscall == name).unwrap_or_else(|| panic!("no rule for {name}"));
            assert!(rule.note.is_some_and(|n| !n.is_empty()), "{name} has no note");
        }
        let json = serde_json::to_value(&plan).unwrap();
        let clone3 = json["rules"].as_array().unwrap().iter().find(|r| r["syscall"] == "clone3").unwrap();
        assert_eq!(clone3["errno"], libc::ENOSYS);
    }
}
