//! The code that runs in the forked child, between `clone` and `execve`.
//!
//! The parent may be multi-threaded (Node, a C launcher, the test harness): another thread may
//! have held the allocator's lock at the moment of the fork. So everything here is
//! async-signal-safe: it reads the [`ChildImage`] prepared by the parent, calls the raw wrappers
//! of [`crate::sys`], never allocates, never panics and never returns (it ends in `execve` or
//! `_exit`, so no destructor runs in the child either).
//!
//! A failure is reported to the parent as `(stage, errno, index)` over a close-on-exec pipe:
//! the parent sees end-of-file when `execve` succeeded.

use std::ffi::CString;
use std::os::fd::RawFd;

pub(crate) mod view;

use crate::plan::landlock::LandlockImage;
use crate::sys::{self, Errno, SockFilter, SysResult};
use view::NamespaceImage;

/// Declares [`Stage`] from one table: each stage, in wire order from 1, with what it does.
macro_rules! stages {
    ($($name:ident => $what:literal,)*) => {
        /// Where the child stopped; sent to the parent with the errno.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u32)]
        pub(crate) enum Stage {
            $($name,)*
        }

        impl Stage {
            const ALL: &[Stage] = &[$(Stage::$name,)*];

            pub(crate) fn describe(self) -> &'static str {
                match self {
                    $(Stage::$name => $what,)*
                }
            }
        }
    };
}

stages! {
    ParentDeathSignal => "set the parent-death signal",
    ParentGone => "the spawning process exited before the sandbox started",
    NewSession => "start a new session (setsid)",
    Stdio => "set up standard input/output",
    SetgroupsDeny => "write /proc/self/setgroups in the new user namespace",
    UidMap => "write the uid map of the new user namespace",
    GidMap => "write the gid map of the new user namespace",
    MountPropagation => "make the mount namespace private",
    ProtectOpen => "open a path to mount over without following symlinks",
    ProtectVerify => "a path changed between planning and mounting",
    ProtectClone => "clone a path for its bind mount",
    ProtectReadOnly => "make a protected bind read-only",
    ProtectAttach => "attach a bind mount",
    ReadOnlyRoot => "make the root read-only",
    WritableBind => "bind a writable root",
    Dev => "set up /dev",
    Proc => "mount /proc",
    Mask => "mask a path with an empty tmpfs",
    ProxyListen => "listen on a proxy port inside the sandbox",
    Chdir => "change to the command's working directory",
    Fork => "fork the command under the sandbox's init",
    CloseFds => "close inherited file descriptors",
    PassFds => "keep the passed file descriptors open",
    DropCapabilities => "drop all capabilities",
    NoNewPrivs => "set no_new_privs",
    Landlock => "enforce the Landlock ruleset",
    Seccomp => "install the seccomp filter",
    Exec => "execute the command",
}

impl Stage {
    /// The value sent on the wire (never 0, so a zeroed message is not a valid report).
    fn to_wire(self) -> u32 {
        self as u32 + 1
    }

    pub(crate) fn from_wire(value: u32) -> Option<Stage> {
        Stage::ALL.iter().copied().find(|stage| stage.to_wire() == value)
    }
}

/// A path to bind over itself, with the identity it had when planned.
pub(crate) struct BindTarget {
    pub path: CString,
    pub dev: u64,
    pub ino: u64,
}

/// A failure: the stage, the errno, and which item of the stage's list (mount op, Landlock
/// rule) failed, when there is a list.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Failure {
    pub stage: Stage,
    pub errno: Errno,
    pub index: Option<usize>,
}

impl Failure {
    pub(crate) fn new(stage: Stage, errno: Errno) -> Failure {
        Failure { stage, errno, index: None }
    }

    pub(crate) fn at(mut self, index: usize) -> Failure {
        self.index.get_or_insert(index);
        self
    }

    pub(crate) const WIRE_SIZE: usize = 12;

    fn encode(self) -> [u8; Self::WIRE_SIZE] {
        let mut message = [0u8; Self::WIRE_SIZE];
        message[..4].copy_from_slice(&self.stage.to_wire().to_ne_bytes());
        message[4..8].copy_from_slice(&self.errno.0.to_ne_bytes());
        let index = self.index.map_or(u32::MAX, |i| i as u32);
        message[8..].copy_from_slice(&index.to_ne_bytes());
        message
    }

    pub(crate) fn decode(message: &[u8; Self::WIRE_SIZE]) -> Option<Failure> {
        let word = |range: std::ops::Range<usize>| {
            let mut bytes = [0u8; 4];
            bytes.copy_from_slice(&message[range]);
            bytes
        };
        let stage = Stage::from_wire(u32::from_ne_bytes(word(0..4)))?;
        let errno = Errno(i32::from_ne_bytes(word(4..8)));
        let index = match u32::from_ne_bytes(word(8..12)) {
            u32::MAX => None,
            i => Some(i as usize),
        };
        Some(Failure { stage, errno, index })
    }
}

pub(crate) type Step<T = ()> = Result<T, Failure>;

pub(crate) fn at<T>(stage: Stage, result: SysResult<T>) -> Step<T> {
    result.map_err(|errno| Failure::new(stage, errno))
}

/// What the command runs.
pub(crate) struct ExecImage {
    pub argv: Vec<*const libc::c_char>,
    pub envp: Vec<*const libc::c_char>,
    /// Paths to try for `argv[0]`, in order (what `execvp` would try).
    pub candidates: Vec<CString>,
    pub cwd: CString,
}

/// Everything the child needs, built by the parent before `clone`.
pub(crate) struct ChildImage {
    pub exec: ExecImage,
    /// Source descriptor for fds 0, 1, 2; -1 leaves the inherited one.
    pub stdio: [RawFd; 3],
    /// Descriptors ≥ 3 that the command keeps, ascending (passed fds and the report pipe).
    pub keep_fds: Vec<RawFd>,
    /// Caller-passed descriptors: they lose `FD_CLOEXEC` so they survive `execve`.
    pub pass_fds: Vec<RawFd>,
    /// Write end of the report pipe (close-on-exec).
    pub error_fd: RawFd,
    /// The spawning process, when the sandbox must die with it.
    pub die_with_parent: Option<libc::pid_t>,
    pub namespaces: Option<NamespaceImage>,
    pub drop_capabilities: bool,
    pub no_new_privs: bool,
    pub landlock: Option<LandlockImage>,
    pub seccomp: Option<Vec<SockFilter>>,
    /// Upper bound for the fallback close loop when `close_range` is unavailable.
    pub fd_limit: RawFd,
}

/// Runs the child side. Never returns.
pub(crate) fn run(image: &ChildImage) -> ! {
    let Err(failure) = setup_and_exec(image);
    report(image.error_fd, failure)
}

/// Sends `failure` to the parent and exits.
pub(crate) fn report(error_fd: RawFd, failure: Failure) -> ! {
    let _ = sys::write_all(error_fd, &failure.encode());
    sys::exit_immediately(125)
}

fn setup_and_exec(image: &ChildImage) -> Step<std::convert::Infallible> {
    let in_pid_namespace = image.namespaces.as_ref().is_some_and(|ns| ns.init.is_some());
    if let Some(parent) = image.die_with_parent {
        at(Stage::ParentDeathSignal, sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong))?;
        // The parent may have died before the signal was armed. In a new PID namespace the
        // parent has no pid here; its end of the report pipe closing says the same.
        let gone = if in_pid_namespace { sys::peer_closed(image.error_fd) } else { sys::getppid() != parent };
        if gone {
            return Err(Failure::new(Stage::ParentGone, Errno(libc::ESRCH)));
        }
    }
    at(Stage::NewSession, sys::setsid())?;
    setup_stdio(image)?;
    if let Some(ns) = &image.namespaces {
        view::enter(ns)?;
    }
    at(Stage::Chdir, sys::chdir(&image.exec.cwd))?;
    if let Some(init) = image.namespaces.as_ref().and_then(|ns| ns.init.as_ref()) {
        // This process is PID 1 of the sandbox; the command is its child.
        view::fork_command_under_init(init, image.error_fd, image.fd_limit)?;
        at(Stage::ParentDeathSignal, sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong))?;
    }
    confine_and_exec(image)
}

/// The last steps, in the process that becomes the command.
fn confine_and_exec(image: &ChildImage) -> Step<std::convert::Infallible> {
    close_other_fds(&image.keep_fds, image.fd_limit)?;
    for fd in &image.pass_fds {
        at(Stage::PassFds, sys::set_cloexec(*fd, false))?;
    }
    if image.drop_capabilities {
        drop_capabilities()?;
    }
    if image.no_new_privs {
        at(Stage::NoNewPrivs, sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1))?;
    }
    if let Some(landlock) = &image.landlock {
        landlock.enforce().map_err(|(index, errno)| {
            let failure = Failure::new(Stage::Landlock, errno);
            match index {
                Some(index) => failure.at(index),
                None => failure,
            }
        })?;
    }
    if let Some(program) = &image.seccomp {
        at(Stage::Seccomp, sys::seccomp_set_filter(program))?;
    }
    sys::reset_signals();
    Err(Failure::new(Stage::Exec, exec_first_candidate(&image.exec)))
}

/// Points fds 0-2 at their sources. Sources are first moved above 2 so that one assignment
/// cannot clobber the source of another (stdout taken from fd 0, say).
fn setup_stdio(image: &ChildImage) -> Step {
    let mut moved = [-1; 3];
    for (target, source) in image.stdio.iter().enumerate() {
        if *source >= 0 {
            moved[target] = at(Stage::Stdio, sys::dup_above(*source, 3))?;
        }
    }
    for (target, source) in moved.iter().enumerate() {
        if *source >= 0 {
            at(Stage::Stdio, sys::dup2(*source, target as RawFd))?;
            sys::close(*source);
        }
    }
    Ok(())
}

/// Closes every descriptor ≥ 3 that is not in `keep` (ascending).
pub(crate) fn close_other_fds(keep: &[RawFd], fd_limit: RawFd) -> Step {
    let mut low: RawFd = 3;
    for &fd in keep {
        if fd > low {
            close_span(low, fd - 1, fd_limit)?;
        }
        if fd >= low {
            low = fd + 1;
        }
    }
    close_span(low, RawFd::MAX, fd_limit)
}

fn close_span(first: RawFd, last: RawFd, fd_limit: RawFd) -> Step {
    match sys::close_range(first as u32, last as u32) {
        Ok(()) => Ok(()),
        // Kernels before 5.9, or a container seccomp profile that hides close_range.
        Err(errno) if errno.0 == libc::ENOSYS || errno.0 == libc::EPERM => {
            let mut fd = first;
            while fd <= last && fd < fd_limit {
                sys::close(fd);
                fd += 1;
            }
            Ok(())
        }
        Err(errno) => Err(Failure::new(Stage::CloseFds, errno)),
    }
}

/// Drops every capability: bounding set (when we may), ambient, then effective, permitted and
/// inheritable. Root — or the owner of a fresh user namespace, who holds every capability in
/// it — keeps none.
pub(crate) fn drop_capabilities() -> Step {
    let current = at(Stage::DropCapabilities, sys::capget())?;
    if current[0].effective & (1 << sys::CAP_SETPCAP) != 0 {
        for cap in 0..64 {
            match sys::prctl(libc::PR_CAPBSET_DROP, cap) {
                Ok(_) => {}
                // Past the kernel's last capability.
                Err(errno) if errno.0 == libc::EINVAL => break,
                Err(errno) => return Err(Failure::new(Stage::DropCapabilities, errno)),
            }
        }
    }
    match sys::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong) {
        Ok(_) => {}
        Err(errno) if errno.0 == libc::EINVAL => {} // no ambient capabilities before 4.3
        Err(errno) => return Err(Failure::new(Stage::DropCapabilities, errno)),
    }
    at(Stage::DropCapabilities, sys::capset(&[sys::CapData::default(); 2]))?;
    let after = at(Stage::DropCapabilities, sys::capget())?;
    if after != [sys::CapData::default(); 2] {
        return Err(Failure::new(Stage::DropCapabilities, Errno(libc::EPERM)));
    }
    Ok(())
}

/// Tries each candidate path like `execvp`: a missing file moves on, a permission error is
/// remembered (and wins over "not found"), anything else stops the search.
fn exec_first_candidate(exec: &ExecImage) -> Errno {
    let mut saw_eacces = false;
    let mut last = Errno(libc::ENOENT);
    for candidate in &exec.candidates {
        // SAFETY: argv and envp are null-terminated arrays of pointers into CStrings owned by
        // the parent's copy of the image, which this process never frees.
        let errno = unsafe { sys::execve(candidate, exec.argv.as_ptr(), exec.envp.as_ptr()) };
        match errno.0 {
            libc::ENOENT | libc::ENOTDIR => {}
            libc::EACCES => saw_eacces = true,
            _ => return errno,
        }
        last = errno;
    }
    if saw_eacces { Errno(libc::EACCES) } else { last }
}
