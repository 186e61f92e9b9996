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
//! Three modes:
//! - `Restricted`: no network. Only AF_UNIX stream/seqpacket sockets and socketpairs; nothing
//!   can connect, bind, listen or accept, so only descriptors already connected (socketpairs,
//!   inherited pipes) carry data.
//! - `Proxy`: TCP only (AF_INET/AF_INET6 stream sockets), no AF_UNIX sockets (a connect to the
//!   host's docker or ssh-agent socket would be allowed otherwise), no TCP Fast Open (a connect
//!   hidden in `sendto`/`sendmsg`). Where it goes is decided elsewhere: the empty network
//!   namespace of the bwrap pipeline, or Landlock's TCP connect rules on the landlock pipeline,
//!   where binding, listening and accepting are refused too.
//! - `Full`: everything but packet sockets (raw frames on the host's interfaces) and vsock
//!   (WSL2's interop channel to Windows, hypervisor channels).
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
    #[serde(skip)]
    pub program: Vec<SockFilter>,
}

impl SeccompPlan {
    /// The filter for `network`. `own_network_namespace` says whether the command sits in an
    /// empty network namespace (bwrap pipeline), which then decides where proxy-mode TCP can go;
    /// `own_process_namespaces` whether it has its own PID and IPC namespaces (the namespace
    /// pipeline) or shares the host's, which adds [`host_process_rules`].
    pub fn new(network: NetworkMode, own_network_namespace: bool, own_process_namespaces: bool) -> SeccompPlan {
        let mut rules = always_denied();
        if !own_process_namespaces {
            rules.extend(host_process_rules());
        }
        rules.extend(match network {
            NetworkMode::Restricted => restricted_network(),
            NetworkMode::Proxy => proxy_network(own_network_namespace),
            NetworkMode::Full => full_network(),
        });
        let program = compile(&rules);
        SeccompPlan { network, architecture: ARCH_NAME, foreign_abi: FOREIGN_ABI_POLICY, rules, program }
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

/// The `Restricted` network rules.
fn restricted_network() -> Vec<SyscallRule> {
    const DGRAM_NOTE: &str = "Codex allows any AF_UNIX type; datagram sockets can send to any named unix socket \
                              with sendmsg, whose address seccomp cannot inspect, so only stream and seqpacket are allowed";
    vec![
        rule("socket", libc::SYS_socket, unix_stream_only(), Some(DGRAM_NOTE)),
        rule("socketpair", libc::SYS_socketpair, unix_stream_only(), Some(DGRAM_NOTE)),
        rule("connect", libc::SYS_connect, vec![], None),
        rule("bind", libc::SYS_bind, vec![], None),
        rule("listen", libc::SYS_listen, vec![], None),
        rule("accept", libc::SYS_accept, vec![], None),
        rule("accept4", libc::SYS_accept4, vec![], None),
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

/// The `Proxy` network rules.
fn proxy_network(own_network_namespace: bool) -> Vec<SyscallRule> {
    const TFO_NOTE: &str = "TCP Fast Open connects from sendto/sendmsg, past connect(2) checks";
    let mut rules = vec![
        rule(
            "socket",
            libc::SYS_socket,
            sockets_of(
                &[libc::AF_INET, libc::AF_INET6],
                "domain is AF_INET or AF_INET6",
                &[libc::SOCK_STREAM],
                "type is SOCK_STREAM",
                &[libc::IPPROTO_TCP],
                "protocol is TCP (MPTCP, SCTP and SMC are stream sockets too, and Landlock's TCP rules do not cover them)",
            ),
            Some("Codex also allows UDP and raw types; only TCP can reach an HTTP or SOCKS proxy"),
        ),
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
/// block per rule (each block ends in a return, so the accumulator it clobbers never leaks
/// into the next rule's number comparison), then "allow".
pub fn compile(rules: &[SyscallRule]) -> Vec<SockFilter> {
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
    for rule in rules {
        let deny = stmt(BPF_RET_K, SECCOMP_RET_ERRNO | (rule.errno as u32 & 0xffff));
        let mut body = Vec::new();
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
                Condition::ArgIsZero { arg, .. } => {
                    for offset in [offset_arg_low(*arg), offset_arg_low(*arg) + 4] {
                        body.push(stmt(BPF_LD_W_ABS, offset));
                        body.push(jump(BPF_JEQ_K, 0, 1, 0));
                        body.push(deny);
                    }
                }
            }
        }
        body.push(if rule.allow_if.is_empty() { deny } else { stmt(BPF_RET_K, SECCOMP_RET_ALLOW) });
        assert!(body.len() <= u8::MAX as usize, "seccomp rule block for {} too long", rule.syscall);
        program.push(jump(BPF_JEQ_K, rule.number as u32, 0, body.len() as u8));
        program.extend(body);
    }
    program.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
    program
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
    fn restricted_allows_only_unix_stream_sockets() {
        let plan = SeccompPlan::new(NetworkMode::Restricted, false, true);
        let unix = libc::AF_UNIX as u64;
        let stream = libc::SOCK_STREAM as u64;
        assert_eq!(call(&plan, libc::SYS_socket, [unix, stream, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(
            call(&plan, libc::SYS_socket, [unix, stream | libc::SOCK_CLOEXEC as u64, 0, 0, 0, 0]),
            SECCOMP_RET_ALLOW
        );
        assert_eq!(call(&plan, libc::SYS_socket, [unix, libc::SOCK_SEQPACKET as u64, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(call(&plan, libc::SYS_socket, [unix, libc::SOCK_DGRAM as u64, 0, 0, 0, 0]), EPERM);
        assert_eq!(call(&plan, libc::SYS_socket, [libc::AF_INET as u64, stream, 0, 0, 0, 0]), EPERM);
        assert_eq!(call(&plan, libc::SYS_socket, [libc::AF_INET6 as u64, stream, 0, 0, 0, 0]), EPERM);
        assert_eq!(call(&plan, libc::SYS_socket, [libc::AF_NETLINK as u64, libc::SOCK_RAW as u64, 0, 0, 0, 0]), EPERM);
        // High bits of the domain argument are ignored by the kernel, and by the filter.
        assert_eq!(call(&plan, libc::SYS_socket, [(1 << 32) | unix, stream, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(call(&plan, libc::SYS_socketpair, [unix, stream, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(call(&plan, libc::SYS_socketpair, [libc::AF_INET as u64, stream, 0, 0, 0, 0]), EPERM);
    }

    #[test]
    fn restricted_refuses_connectivity_but_not_send_on_connected_sockets() {
        let plan = SeccompPlan::new(NetworkMode::Restricted, false, true);
        for nr in [libc::SYS_connect, libc::SYS_bind, libc::SYS_listen, libc::SYS_accept, libc::SYS_accept4] {
            assert_eq!(call(&plan, nr, [3, 0, 0, 0, 0, 0]), EPERM);
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
            let plan = SeccompPlan::new(mode, false, true);
            for nr in [libc::SYS_io_uring_setup, libc::SYS_ptrace, libc::SYS_process_vm_writev] {
                assert_eq!(call(&plan, nr, [0; 6]), EPERM);
            }
            assert_eq!(run(&plan.program, 0x4000_0003, libc::SYS_getpid as u32, [0; 6]), SECCOMP_RET_KILL_PROCESS);
            if cfg!(target_arch = "x86_64") {
                assert_eq!(call(&plan, X32_SYSCALL_BIT as i64 | libc::SYS_getpid, [0; 6]), EPERM);
            }
        }
        let full = SeccompPlan::new(NetworkMode::Full, false, true);
        assert_eq!(
            call(&full, libc::SYS_socket, [libc::AF_INET as u64, libc::SOCK_STREAM as u64, 0, 0, 0, 0]),
            SECCOMP_RET_ALLOW
        );
        assert_eq!(call(&full, libc::SYS_connect, [3, 0, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(
            call(&full, libc::SYS_socket, [libc::AF_UNIX as u64, libc::SOCK_DGRAM as u64, 0, 0, 0, 0]),
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
            let plan = SeccompPlan::new(NetworkMode::Proxy, own_netns, true);
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
                let plan = SeccompPlan::new(mode, own_netns, true);
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
            for plan in [SeccompPlan::new(mode, true, true), SeccompPlan::new(mode, false, false)] {
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
            let plan = SeccompPlan::new(mode, true, true);
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
            let shared = SeccompPlan::new(mode, false, false);
            let own = SeccompPlan::new(mode, true, true);
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
    fn every_rule_says_why() {
        for rule in always_denied() {
            assert!(rule.note.is_some_and(|n| !n.is_empty()), "{} has no note", rule.syscall);
        }
        let plan = SeccompPlan::new(NetworkMode::Full, false, true);
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
