//! The code that runs in the forked child, between `clone` and `execve`.
//!
//! The parent may be multi-threaded (Node, a C launcher, the test harness): another thread may
//! have held the allocator's lock at the moment of the fork. So everything here is
//! async-signal-safe: it reads the [`ChildImage`] prepared by the parent, calls the raw wrappers
//! of [`crate::sys`], never allocates, never panics and never returns (it ends in `execve` or
//! `_exit`, so no destructor runs in the child either).
//!
//! A failure is reported to the parent as `(stage, errno)` over a close-on-exec pipe: the parent
//! sees end-of-file when `execve` succeeded.

use std::ffi::CString;
use std::os::fd::RawFd;

use crate::sys::{self, Errno, SockFilter, SysResult};

/// Where the child stopped; sent to the parent with the errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Stage {
    ParentDeathSignal = 1,
    ParentGone,
    NewSession,
    Stdio,
    SetgroupsDeny,
    UidMap,
    GidMap,
    MountPropagation,
    ProtectOpen,
    ProtectVerify,
    ProtectClone,
    ProtectReadOnly,
    ProtectAttach,
    Chdir,
    CloseFds,
    PassFds,
    DropCapabilities,
    NoNewPrivs,
    Landlock,
    Seccomp,
    Exec,
}

impl Stage {
    pub(crate) fn from_u32(value: u32) -> Option<Stage> {
        use Stage::*;
        const ALL: [Stage; 21] = [
            ParentDeathSignal,
            ParentGone,
            NewSession,
            Stdio,
            SetgroupsDeny,
            UidMap,
            GidMap,
            MountPropagation,
            ProtectOpen,
            ProtectVerify,
            ProtectClone,
            ProtectReadOnly,
            ProtectAttach,
            Chdir,
            CloseFds,
            PassFds,
            DropCapabilities,
            NoNewPrivs,
            Landlock,
            Seccomp,
            Exec,
        ];
        ALL.into_iter().find(|stage| *stage as u32 == value)
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Stage::ParentDeathSignal => "set the parent-death signal",
            Stage::ParentGone => "the spawning process exited before the sandbox started",
            Stage::NewSession => "start a new session (setsid)",
            Stage::Stdio => "set up standard input/output",
            Stage::SetgroupsDeny => "write /proc/self/setgroups in the new user namespace",
            Stage::UidMap => "write the uid map of the new user namespace",
            Stage::GidMap => "write the gid map of the new user namespace",
            Stage::MountPropagation => "make the mount namespace private",
            Stage::ProtectOpen => "open a protected path without following symlinks",
            Stage::ProtectVerify => "a protected path changed between planning and mounting",
            Stage::ProtectClone => "clone a protected path for its read-only bind",
            Stage::ProtectReadOnly => "make a protected bind read-only",
            Stage::ProtectAttach => "attach a read-only bind over a protected path",
            Stage::Chdir => "change to the command's working directory",
            Stage::CloseFds => "close inherited file descriptors",
            Stage::PassFds => "keep the passed file descriptors open",
            Stage::DropCapabilities => "drop all capabilities",
            Stage::NoNewPrivs => "set no_new_privs",
            Stage::Landlock => "enforce the Landlock ruleset",
            Stage::Seccomp => "install the seccomp filter",
            Stage::Exec => "execute the command",
        }
    }
}

/// A path to re-bind read-only, with the identity it had when planned.
pub(crate) struct BindTarget {
    pub path: CString,
    pub dev: u64,
    pub ino: u64,
}

/// Everything the child needs, built by the parent before `clone`.
pub(crate) struct ChildImage {
    pub argv: Vec<*const libc::c_char>,
    pub envp: Vec<*const libc::c_char>,
    /// Paths to try for `argv[0]`, in order (what `execvp` would try).
    pub candidates: Vec<CString>,
    pub cwd: CString,
    /// Source descriptor for fds 0, 1, 2; -1 leaves the inherited one.
    pub stdio: [RawFd; 3],
    /// Descriptors ≥ 3 that survive the close-everything step, ascending.
    pub keep_fds: Vec<RawFd>,
    /// Caller-passed descriptors: they lose `FD_CLOEXEC` so they survive `execve`.
    pub pass_fds: Vec<RawFd>,
    pub error_fd: RawFd,
    pub die_with_parent: Option<libc::pid_t>,
    /// `(uid_map, gid_map)` contents when the child was cloned into a new user namespace.
    pub id_maps: Option<(Vec<u8>, Vec<u8>)>,
    pub binds: Vec<BindTarget>,
    pub drop_capabilities: bool,
    pub no_new_privs: bool,
    pub landlock_fd: Option<RawFd>,
    pub seccomp: Option<Vec<SockFilter>>,
    /// Upper bound for the fallback close loop when `close_range` is unavailable.
    pub fd_limit: RawFd,
}

/// Runs the child side. Never returns.
pub(crate) fn run(image: &ChildImage) -> ! {
    let Err((stage, errno)) = setup_and_exec(image);
    let mut message = [0u8; 8];
    message[..4].copy_from_slice(&(stage as u32).to_ne_bytes());
    message[4..].copy_from_slice(&errno.0.to_ne_bytes());
    let _ = sys::write_all(image.error_fd, &message);
    sys::exit_immediately(125)
}

type Failure = (Stage, Errno);

fn at<T>(stage: Stage, result: SysResult<T>) -> Result<T, Failure> {
    result.map_err(|errno| (stage, errno))
}

fn setup_and_exec(image: &ChildImage) -> Result<std::convert::Infallible, Failure> {
    if let Some(parent) = image.die_with_parent {
        at(
            Stage::ParentDeathSignal,
            sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong),
        )?;
        // The parent may have died before the signal was armed.
        if sys::getppid() != parent {
            return Err((Stage::ParentGone, Errno(libc::ESRCH)));
        }
    }
    at(Stage::NewSession, sys::setsid())?;
    setup_stdio(image)?;

    if let Some((uid_map, gid_map)) = &image.id_maps {
        write_file(c"/proc/self/setgroups", b"deny", Stage::SetgroupsDeny)?;
        write_file(c"/proc/self/uid_map", uid_map, Stage::UidMap)?;
        write_file(c"/proc/self/gid_map", gid_map, Stage::GidMap)?;
    }
    if !image.binds.is_empty() {
        at(
            Stage::MountPropagation,
            sys::mount_propagation(c"/", libc::MS_REC | libc::MS_SLAVE),
        )?;
        for target in &image.binds {
            bind_read_only(target)?;
        }
    }
    at(Stage::Chdir, sys::chdir(&image.cwd))?;
    close_other_fds(image)?;
    for fd in &image.pass_fds {
        at(Stage::PassFds, sys::set_cloexec(*fd, false))?;
    }
    if image.drop_capabilities {
        drop_capabilities()?;
    }
    if image.no_new_privs {
        at(Stage::NoNewPrivs, sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1))?;
    }
    if let Some(fd) = image.landlock_fd {
        at(Stage::Landlock, sys::landlock_restrict_self(fd))?;
        sys::close(fd);
    }
    if let Some(program) = &image.seccomp {
        at(Stage::Seccomp, sys::seccomp_set_filter(program))?;
    }
    sys::reset_signals();
    Err((Stage::Exec, exec_first_candidate(image)))
}

fn write_file(path: &std::ffi::CStr, contents: &[u8], stage: Stage) -> Result<(), Failure> {
    let fd = at(stage, sys::open(path, libc::O_WRONLY))?;
    let result = sys::write_all(fd, contents);
    sys::close(fd);
    at(stage, result)
}

/// Points fds 0-2 at their sources. Sources are first moved above 2 so that one assignment
/// cannot clobber the source of another (stdout taken from fd 0, say).
fn setup_stdio(image: &ChildImage) -> Result<(), Failure> {
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

/// Re-binds `target` read-only over itself. The path is reopened here, inside the new mount
/// namespace, refusing every symlink, and must still be the inode the parent planned with: a
/// path swapped since then (a directory replaced by a symlink to elsewhere) is refused, not
/// followed. The bind is made read-only while still detached, so it is never visible writable.
fn bind_read_only(target: &BindTarget) -> Result<(), Failure> {
    let how = sys::OpenHow {
        flags: (libc::O_PATH | libc::O_CLOEXEC | libc::O_NOFOLLOW) as u64,
        mode: 0,
        resolve: sys::RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_MAGICLINKS,
    };
    let fd = at(Stage::ProtectOpen, sys::openat2(&target.path, &how))?;
    let st = at(Stage::ProtectVerify, sys::fstat(fd))?;
    if st.st_dev != target.dev || st.st_ino != target.ino {
        return Err((Stage::ProtectVerify, Errno(libc::ESTALE)));
    }
    let tree = at(
        Stage::ProtectClone,
        sys::open_tree(
            fd,
            sys::OPEN_TREE_CLONE | sys::OPEN_TREE_CLOEXEC | libc::AT_RECURSIVE as u32,
        ),
    )?;
    let read_only = sys::MountAttr {
        attr_set: sys::MOUNT_ATTR_RDONLY,
        ..Default::default()
    };
    at(
        Stage::ProtectReadOnly,
        sys::mount_setattr(tree, libc::AT_RECURSIVE as u32, &read_only),
    )?;
    at(Stage::ProtectAttach, sys::move_mount(tree, fd))?;
    sys::close(tree);
    sys::close(fd);
    Ok(())
}

/// Closes every descriptor ≥ 3 that is not in `keep_fds`.
fn close_other_fds(image: &ChildImage) -> Result<(), Failure> {
    let mut low: RawFd = 3;
    for &keep in &image.keep_fds {
        if keep > low {
            close_span(low, keep - 1, image.fd_limit)?;
        }
        if keep >= low {
            low = keep + 1;
        }
    }
    close_span(low, RawFd::MAX, image.fd_limit)
}

fn close_span(first: RawFd, last: RawFd, fd_limit: RawFd) -> Result<(), Failure> {
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
        Err(errno) => Err((Stage::CloseFds, errno)),
    }
}

/// Drops every capability: bounding set (when we may), ambient, then effective, permitted and
/// inheritable. Root — or the owner of a fresh user namespace, who holds every capability in
/// it — keeps none.
fn drop_capabilities() -> Result<(), Failure> {
    let current = at(Stage::DropCapabilities, sys::capget())?;
    if current[0].effective & (1 << sys::CAP_SETPCAP) != 0 {
        for cap in 0..64 {
            match sys::prctl(libc::PR_CAPBSET_DROP, cap) {
                Ok(_) => {}
                // Past the kernel's last capability.
                Err(errno) if errno.0 == libc::EINVAL => break,
                Err(errno) => return Err((Stage::DropCapabilities, errno)),
            }
        }
    }
    match sys::prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
    ) {
        Ok(_) => {}
        Err(errno) if errno.0 == libc::EINVAL => {} // no ambient capabilities before 4.3
        Err(errno) => return Err((Stage::DropCapabilities, errno)),
    }
    at(
        Stage::DropCapabilities,
        sys::capset(&[sys::CapData::default(); 2]),
    )?;
    let after = at(Stage::DropCapabilities, sys::capget())?;
    if after != [sys::CapData::default(); 2] {
        return Err((Stage::DropCapabilities, Errno(libc::EPERM)));
    }
    Ok(())
}

/// Tries each candidate path like `execvp`: a missing file moves on, a permission error is
/// remembered (and wins over "not found"), anything else stops the search.
fn exec_first_candidate(image: &ChildImage) -> Errno {
    let mut saw_eacces = false;
    let mut last = Errno(libc::ENOENT);
    for candidate in &image.candidates {
        // SAFETY: argv and envp are null-terminated arrays of pointers into CStrings owned by
        // the parent's copy of the image, which this process never frees.
        let errno = unsafe { sys::execve(candidate, image.argv.as_ptr(), image.envp.as_ptr()) };
        match errno.0 {
            libc::ENOENT | libc::ENOTDIR => {}
            libc::EACCES => saw_eacces = true,
            _ => return errno,
        }
        last = errno;
    }
    if saw_eacces {
        Errno(libc::EACCES)
    } else {
        last
    }
}
