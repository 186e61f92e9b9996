//! The raw system-call layer.
//!
//! Every `unsafe` call into the kernel that the sandbox makes lives in this module (plus the
//! child routine in `spawn::child`, which only calls functions defined here). Each wrapper is
//! async-signal-safe: it allocates nothing, takes no lock and cannot panic, so the forked child
//! may call any of them. Errors come back as [`Errno`], a plain integer.

use std::ffi::CStr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// An `errno` value from a failed system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// The calling thread's current `errno`.
    pub fn last() -> Errno {
        // SAFETY: __errno_location always returns a valid pointer to this thread's errno.
        Errno(unsafe { *libc::__errno_location() })
    }

    pub fn into_io(self) -> std::io::Error {
        std::io::Error::from_raw_os_error(self.0)
    }
}

pub type SysResult<T> = Result<T, Errno>;

/// Takes ownership of a descriptor a system call has just returned.
fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: only called on fresh descriptors from a successful system call, which nothing
    // else owns yet.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Turns the `-1 means errno` convention into a `Result`.
fn check(ret: libc::c_long) -> SysResult<libc::c_long> {
    if ret == -1 { Err(Errno::last()) } else { Ok(ret) }
}

fn check_int(ret: libc::c_int) -> SysResult<libc::c_int> {
    if ret == -1 { Err(Errno::last()) } else { Ok(ret) }
}

// ---------------------------------------------------------------------------------------------
// Kernel ABI constants and structures that the libc crate does not (reliably) provide.

pub const LANDLOCK_CREATE_RULESET_VERSION: u32 = 1 << 0;
pub const LANDLOCK_RULE_PATH_BENEATH: u32 = 1;

/// `struct landlock_ruleset_attr`, in its largest known form. Older kernels receive a prefix of
/// it (the size argument tells them how much).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct LandlockRulesetAttr {
    pub handled_access_fs: u64,
    pub handled_access_net: u64,
    pub scoped: u64,
}

/// `struct landlock_path_beneath_attr`; the kernel declares it packed.
#[repr(C, packed)]
#[derive(Clone, Copy)]
pub struct LandlockPathBeneathAttr {
    pub allowed_access: u64,
    pub parent_fd: i32,
}

/// `struct landlock_net_port_attr`.
#[repr(C, packed)]
#[derive(Clone, Copy)]
pub struct LandlockNetPortAttr {
    pub allowed_access: u64,
    pub port: u64,
}

pub const LANDLOCK_RULE_NET_PORT: u32 = 2;

/// `struct open_how` for `openat2(2)`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct OpenHow {
    pub flags: u64,
    pub mode: u64,
    pub resolve: u64,
}

pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;

/// `struct mount_attr` for `mount_setattr(2)`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    pub propagation: u64,
    pub userns_fd: u64,
}

pub const MOUNT_ATTR_RDONLY: u64 = 0x0000_0001;
pub const OPEN_TREE_CLONE: u32 = 1;
pub const OPEN_TREE_CLOEXEC: u32 = libc::O_CLOEXEC as u32;
pub const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x0000_0004;
pub const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x0000_0040;

/// `struct __user_cap_header_struct` / `__user_cap_data_struct`, version 3 (two data words).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct CapHeader {
    pub version: u32,
    pub pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct CapData {
    pub effective: u32,
    pub permitted: u32,
    pub inheritable: u32,
}

pub const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
pub const CAP_SETPCAP: u32 = 8;

/// `struct sock_filter`, one classic-BPF instruction.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;

// ---------------------------------------------------------------------------------------------
// Process creation and control.

/// `clone(2)` without a new stack: the child continues on a copy of the caller's stack, as
/// with `fork`. With `CLONE_PIDFD` in `flags` the parent also gets a pidfd for the child.
///
/// Returns `(0, None)` in the child and `(pid, pidfd)` in the parent.
///
/// # Safety
/// The child shares nothing with the parent but runs on a copy of a possibly multi-threaded
/// address space: until `execve` it may only call async-signal-safe functions.
pub unsafe fn clone_process(flags: u64) -> SysResult<(libc::pid_t, Option<OwnedFd>)> {
    let flags = flags | libc::SIGCHLD as u64;
    let mut pidfd: RawFd = -1;
    // SAFETY: a null stack makes clone behave like fork; the pidfd pointer is valid for the
    // duration of the call. The caller upholds the async-signal-safety of the child.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags,
            std::ptr::null_mut::<libc::c_void>(),
            &mut pidfd as *mut RawFd,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    // The kernel writes the pidfd into the parent's memory only: the child's copy stays -1.
    check(ret).map(|pid| (pid as libc::pid_t, (pid > 0 && pidfd >= 0).then(|| owned(pidfd))))
}

pub fn exit_immediately(code: i32) -> ! {
    // SAFETY: _exit never returns and runs no atexit handlers, which is what a forked child
    // must do.
    unsafe { libc::_exit(code) }
}

pub fn getpid() -> libc::pid_t {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::getpid() }
}

pub fn getuid() -> libc::uid_t {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::getuid() }
}

pub fn getgid() -> libc::gid_t {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::getgid() }
}

/// How far a close-everything loop must go: the hard limit on descriptors (a process may have
/// lowered its soft limit after opening more), capped at 2^20; 2^16 when unknown.
pub fn fd_limit() -> RawFd {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: limit is a valid out parameter.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    if ok { limit.rlim_cur.max(limit.rlim_max).min(1 << 20) as RawFd } else { 1 << 16 }
}

pub fn getppid() -> libc::pid_t {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::getppid() }
}

pub fn setsid() -> SysResult<()> {
    // SAFETY: no arguments.
    check_int(unsafe { libc::setsid() }).map(drop)
}

pub fn prctl(option: libc::c_int, arg2: libc::c_ulong) -> SysResult<libc::c_int> {
    // SAFETY: the prctl options used by this crate take integer arguments only.
    check_int(unsafe { libc::prctl(option, arg2, 0 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong) })
}

pub fn pidfd_send_signal(pidfd: RawFd, signal: i32) -> SysResult<()> {
    // SAFETY: integer arguments; a null siginfo means "as if by kill(2)".
    let ret =
        unsafe { libc::syscall(libc::SYS_pidfd_send_signal, pidfd, signal, std::ptr::null::<libc::siginfo_t>(), 0) };
    check(ret).map(drop)
}

/// `waitpid(2)`, retried on EINTR. Returns the pid reaped (0 with `WNOHANG` when the child is
/// still running) and the raw wait status.
pub fn waitpid(pid: libc::pid_t, flags: libc::c_int) -> SysResult<(libc::pid_t, libc::c_int)> {
    loop {
        let mut status = 0;
        // SAFETY: status is a valid out parameter.
        let ret = unsafe { libc::waitpid(pid, &mut status, flags) };
        if ret >= 0 {
            return Ok((ret, status));
        }
        let errno = Errno::last();
        if errno.0 != libc::EINTR {
            return Err(errno);
        }
    }
}

pub fn kill(pid: libc::pid_t, signal: i32) -> SysResult<()> {
    // SAFETY: integer arguments.
    check_int(unsafe { libc::kill(pid, signal) }).map(drop)
}

/// Blocks every signal in the calling thread and returns the previous mask.
pub fn block_all_signals() -> libc::sigset_t {
    // SAFETY: the sets are plain data initialised by sigfillset/sigemptyset before use.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        old
    }
}

pub fn set_signal_mask(mask: &libc::sigset_t) {
    // SAFETY: mask points to a valid sigset_t.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, mask, std::ptr::null_mut());
    }
}

/// Blocks `signals` in the calling thread and returns a signalfd for them plus the previous
/// signal mask.
pub fn block_into_signalfd(signals: &[i32]) -> SysResult<(OwnedFd, libc::sigset_t)> {
    // SAFETY: the sets are plain data initialised by sigemptyset before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in signals {
            libc::sigaddset(&mut set, *signal);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
        match check_int(libc::signalfd(-1, &set, libc::SFD_CLOEXEC)) {
            Ok(fd) => Ok((owned(fd), old)),
            Err(errno) => {
                libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
                Err(errno)
            }
        }
    }
}

/// Reads one signal from a signalfd; `None` if nothing was pending.
pub fn read_signalfd(fd: RawFd) -> SysResult<Option<i32>> {
    // SAFETY: signalfd_siginfo is plain data; read fills at most its size.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    // SAFETY: the pointer and length describe `info`.
    let ret = unsafe { libc::read(fd, (&mut info as *mut libc::signalfd_siginfo).cast(), size) };
    match ret {
        n if n == size as isize => Ok(Some(info.ssi_signo as i32)),
        -1 if Errno::last().0 == libc::EAGAIN || Errno::last().0 == libc::EINTR => Ok(None),
        -1 => Err(Errno::last()),
        _ => Ok(None),
    }
}

/// Polls two descriptors for input; returns which are readable.
pub fn poll_two(first: RawFd, second: RawFd) -> SysResult<(bool, bool)> {
    let mut fds = [
        libc::pollfd { fd: first, events: libc::POLLIN, revents: 0 },
        libc::pollfd { fd: second, events: libc::POLLIN, revents: 0 },
    ];
    loop {
        // SAFETY: fds is a valid array of two pollfd structures.
        let ret = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if ret >= 0 {
            return Ok((fds[0].revents != 0, fds[1].revents != 0));
        }
        let errno = Errno::last();
        if errno.0 != libc::EINTR {
            return Err(errno);
        }
    }
}

/// `poll(2)`, retried on EINTR; `timeout_ms` -1 waits for ever.
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> SysResult<usize> {
    loop {
        // SAFETY: the pointer and length describe the live slice of pollfd structures.
        let ret = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if ret >= 0 {
            return Ok(ret as usize);
        }
        let errno = Errno::last();
        if errno.0 != libc::EINTR {
            return Err(errno);
        }
    }
}

/// Restores the default disposition of every signal and unblocks them all. Used by the child
/// right before `execve`: handlers installed by a host (Node, a C program) must not run there,
/// and ignored signals (Rust ignores SIGPIPE) must not leak into the command.
pub fn reset_signals() {
    reset_signal_handlers();
    unblock_all_signals();
}

/// Sets every signal's disposition to the default.
pub fn reset_signal_handlers() {
    // SAFETY: sigaction with a zeroed struct (SIG_DFL, empty mask) on each signal number;
    // failures (SIGKILL, SIGSTOP, libc-reserved numbers) are expected and ignored.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = libc::SIG_DFL;
        for signal in 1..=libc::SIGRTMAX() {
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

pub fn unblock_all_signals() {
    // SAFETY: the set is plain data initialised by sigemptyset before use.
    unsafe {
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    }
}

/// Installs `handler` for `signal` (with `SA_RESTART`). The handler must be async-signal-safe.
pub fn set_signal_handler(signal: i32, handler: extern "C" fn(libc::c_int)) {
    // SAFETY: the action is fully initialised; the handler is a plain function.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler as usize;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signal, &action, std::ptr::null_mut());
    }
}

// ---------------------------------------------------------------------------------------------
// File descriptors.

pub fn close(fd: RawFd) {
    // SAFETY: closing an fd is always memory-safe; EBADF is harmless here.
    unsafe {
        libc::close(fd);
    }
}

pub fn dup2(from: RawFd, to: RawFd) -> SysResult<()> {
    // SAFETY: integer arguments.
    check_int(unsafe { libc::dup2(from, to) }).map(drop)
}

/// Duplicates `fd` onto the lowest free descriptor at or above `min`, with `FD_CLOEXEC`.
pub fn dup_above(fd: RawFd, min: RawFd) -> SysResult<RawFd> {
    // SAFETY: integer arguments.
    check_int(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) })
}

pub fn set_cloexec(fd: RawFd, cloexec: bool) -> SysResult<()> {
    let flags = if cloexec { libc::FD_CLOEXEC } else { 0 };
    // SAFETY: integer arguments.
    check_int(unsafe { libc::fcntl(fd, libc::F_SETFD, flags) }).map(drop)
}

/// Closes every descriptor in `first..=last`.
pub fn close_range(first: u32, last: u32) -> SysResult<()> {
    // SAFETY: integer arguments.
    check(unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) }).map(drop)
}

pub fn write_all(fd: RawFd, mut bytes: &[u8]) -> SysResult<()> {
    while !bytes.is_empty() {
        // SAFETY: the pointer and length describe the live slice.
        let ret = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if ret < 0 {
            let errno = Errno::last();
            if errno.0 == libc::EINTR {
                continue;
            }
            return Err(errno);
        }
        bytes = &bytes[ret as usize..];
    }
    Ok(())
}

pub fn read(fd: RawFd, buf: &mut [u8]) -> SysResult<usize> {
    loop {
        // SAFETY: the pointer and length describe the live, writable slice.
        let ret = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if ret >= 0 {
            return Ok(ret as usize);
        }
        let errno = Errno::last();
        if errno.0 != libc::EINTR {
            return Err(errno);
        }
    }
}

pub fn open(path: &CStr, flags: libc::c_int) -> SysResult<RawFd> {
    // SAFETY: path is NUL-terminated; the mode argument is ignored without O_CREAT.
    check_int(unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, 0) })
}

/// `openat2(2)` relative to the current directory (or absolute).
pub fn openat2(path: &CStr, how: &OpenHow) -> SysResult<RawFd> {
    // SAFETY: path is NUL-terminated and `how` points to a correctly sized open_how.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            path.as_ptr(),
            how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    check(ret).map(|fd| fd as RawFd)
}

pub fn fstat(fd: RawFd) -> SysResult<libc::stat> {
    // SAFETY: `st` is a plain-data out parameter fully written on success.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        check_int(libc::fstat(fd, &mut st)).map(|_| st)
    }
}

pub fn flock(fd: RawFd, operation: libc::c_int) -> SysResult<()> {
    loop {
        // SAFETY: integer arguments.
        match check_int(unsafe { libc::flock(fd, operation) }) {
            Err(errno) if errno.0 == libc::EINTR => continue,
            other => return other.map(drop),
        }
    }
}

/// Sets an extended attribute on an open file.
pub fn fsetxattr(fd: RawFd, name: &CStr, value: &[u8]) -> SysResult<()> {
    // SAFETY: name is NUL-terminated; the pointer and length describe `value`.
    check_int(unsafe { libc::fsetxattr(fd, name.as_ptr(), value.as_ptr().cast(), value.len(), 0) }).map(drop)
}

/// Whether an open file carries the extended attribute `name`.
pub fn has_xattr(fd: RawFd, name: &CStr) -> bool {
    // SAFETY: a null buffer of size 0 only asks for the value's size.
    unsafe { libc::fgetxattr(fd, name.as_ptr(), std::ptr::null_mut(), 0) >= 0 }
}

pub fn chdir(path: &CStr) -> SysResult<()> {
    // SAFETY: path is NUL-terminated.
    check_int(unsafe { libc::chdir(path.as_ptr()) }).map(drop)
}

/// A close-on-exec pipe: `(read end, write end)`.
pub fn pipe() -> SysResult<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    // SAFETY: fds has room for the two descriptors pipe2 writes.
    check_int(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }).map(|_| (owned(fds[0]), owned(fds[1])))
}

/// `open(2)` for the parent side: the descriptor comes back owned.
pub fn open_owned(path: &CStr, flags: libc::c_int) -> SysResult<OwnedFd> {
    open(path, flags).map(owned)
}

pub fn memfd_create(name: &CStr) -> SysResult<OwnedFd> {
    // SAFETY: name is NUL-terminated.
    check_int(unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) }).map(owned)
}

/// Whether the read end of the pipe whose write end is `fd` has been closed everywhere.
pub fn peer_closed(fd: RawFd) -> bool {
    let mut pollfd = libc::pollfd { fd, events: libc::POLLOUT, revents: 0 };
    // SAFETY: one valid pollfd, zero timeout.
    let ret = unsafe { libc::poll(&mut pollfd, 1, 0) };
    ret > 0 && pollfd.revents & libc::POLLERR != 0
}

/// Creates an empty file (failing if it exists) and returns it opened for writing.
pub fn create_file(path: &CStr, mode: libc::mode_t) -> SysResult<RawFd> {
    // SAFETY: path is NUL-terminated; mode is used with O_CREAT.
    check_int(unsafe {
        libc::open(path.as_ptr(), libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC, mode)
    })
}

pub fn mkdir(path: &CStr, mode: libc::mode_t) -> SysResult<()> {
    // SAFETY: path is NUL-terminated.
    check_int(unsafe { libc::mkdir(path.as_ptr(), mode) }).map(drop)
}

pub fn symlink(target: &CStr, link: &CStr) -> SysResult<()> {
    // SAFETY: both paths are NUL-terminated.
    check_int(unsafe { libc::symlink(target.as_ptr(), link.as_ptr()) }).map(drop)
}

/// Sets `IFF_UP` on `lo`. In a new network namespace the kernel then adds 127.0.0.1 and ::1
/// by itself, so no `RTM_NEWADDR` (which AppArmor-restricted hosts refuse) is needed.
pub fn bring_up_loopback() -> SysResult<()> {
    // SAFETY: plain socket and ioctl calls on a zero-initialised ifreq naming "lo".
    unsafe {
        let sock = check_int(libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0))?;
        let mut request: libc::ifreq = std::mem::zeroed();
        for (dst, src) in request.ifr_name.iter_mut().zip(b"lo") {
            *dst = *src as libc::c_char;
        }
        // `as _`: the request is c_ulong on glibc, c_int on musl.
        let result = check_int(libc::ioctl(sock, libc::SIOCGIFFLAGS as _, &mut request)).and_then(|_| {
            request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            check_int(libc::ioctl(sock, libc::SIOCSIFFLAGS as _, &request))
        });
        libc::close(sock);
        result.map(drop)
    }
}

/// `addr` as a `sockaddr_storage`, its family and its length. Pure: safe in the child.
fn sockaddr_of(addr: std::net::SocketAddr) -> (libc::sockaddr_storage, libc::c_int, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data, large and aligned enough for either address
    // type, and is fully initialised (zeroed) before the typed write.
    unsafe {
        let mut storage: libc::sockaddr_storage = std::mem::zeroed();
        match addr {
            std::net::SocketAddr::V4(v4) => {
                let mut sin: libc::sockaddr_in = std::mem::zeroed();
                sin.sin_family = libc::AF_INET as libc::sa_family_t;
                sin.sin_port = v4.port().to_be();
                sin.sin_addr.s_addr = u32::from_ne_bytes(v4.ip().octets());
                std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin);
                (storage, libc::AF_INET, std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t)
            }
            std::net::SocketAddr::V6(v6) => {
                let mut sin6: libc::sockaddr_in6 = std::mem::zeroed();
                sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sin6.sin6_port = v6.port().to_be();
                sin6.sin6_addr.s6_addr = v6.ip().octets();
                std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6);
                (storage, libc::AF_INET6, std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t)
            }
        }
    }
}

/// Starts a non-blocking TCP connection to `addr`; it completes (or fails) later.
pub fn tcp_connect_nonblocking(addr: std::net::SocketAddr) -> SysResult<OwnedFd> {
    let (storage, family, len) = sockaddr_of(addr);
    // SAFETY: plain socket calls with a fully initialised address of the stated length.
    unsafe {
        let fd =
            owned(check_int(libc::socket(family, libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0))?);
        let ret = libc::connect(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            (&storage as *const libc::sockaddr_storage).cast(),
            len,
        );
        if ret == 0 || Errno::last().0 == libc::EINPROGRESS { Ok(fd) } else { Err(Errno::last()) }
    }
}

/// A listening TCP socket on `127.0.0.1:port` or `[::1]:port` of the current network namespace.
pub fn listen_loopback(ipv6: bool, port: u16) -> SysResult<RawFd> {
    let ip = if ipv6 {
        std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
    } else {
        std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
    };
    let (storage, family, len) = sockaddr_of(std::net::SocketAddr::new(ip, port));
    // SAFETY: plain socket calls with a fully initialised address of the stated length.
    unsafe {
        let fd = check_int(libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0))?;
        if ipv6 {
            let only_v6: libc::c_int = 1;
            libc::setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, (&only_v6 as *const libc::c_int).cast(), 4);
        }
        let bound = libc::bind(fd, (&storage as *const libc::sockaddr_storage).cast(), len);
        match check_int(bound).and_then(|_| check_int(libc::listen(fd, 128))) {
            Ok(_) => Ok(fd),
            Err(errno) => {
                libc::close(fd);
                Err(errno)
            }
        }
    }
}

/// Space for one `SCM_RIGHTS` control message carrying one descriptor (`CMSG_SPACE(4)` is 24
/// on 64-bit Linux), aligned for `cmsghdr`.
#[repr(C, align(8))]
struct OneFdControl([u8; 32]);

/// A message of one data buffer (`iov`) and room for one descriptor (`control`, whole).
fn one_fd_message(iov: &mut libc::iovec, control: &mut OneFdControl) -> libc::msghdr {
    // SAFETY: msghdr is plain data; the zeroed fields are "no address, no flags".
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    // `as _`: socklen_t on musl, size_t on glibc.
    msg.msg_controllen = control.0.len() as _;
    msg
}

/// Sends `fd` with a 4-byte `tag` over a unix socket.
pub fn send_fd(socket: RawFd, tag: u32, fd: RawFd) -> SysResult<()> {
    let mut payload = tag.to_ne_bytes();
    let mut control = OneFdControl([0; 32]);
    let mut iov = libc::iovec { iov_base: payload.as_mut_ptr().cast(), iov_len: payload.len() };
    // SAFETY: the iovec and control buffer live on the stack for the call; the CMSG macros
    // stay within the buffer, which is larger than CMSG_SPACE(sizeof(int)).
    unsafe {
        let mut msg = one_fd_message(&mut iov, &mut control);
        msg.msg_controllen = libc::CMSG_SPACE(4) as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(4) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
        check(libc::sendmsg(socket, &msg, libc::MSG_NOSIGNAL) as libc::c_long).map(drop)
    }
}

/// Receives one `(tag, fd)` sent by [`send_fd`] without blocking; `None` when nothing is queued.
pub fn recv_fd(socket: RawFd) -> SysResult<Option<(u32, OwnedFd)>> {
    let mut payload = [0u8; 4];
    let mut control = OneFdControl([0; 32]);
    let mut iov = libc::iovec { iov_base: payload.as_mut_ptr().cast(), iov_len: payload.len() };
    // SAFETY: as in send_fd; received descriptors are taken over by the caller.
    unsafe {
        let mut msg = one_fd_message(&mut iov, &mut control);
        let received = libc::recvmsg(socket, &mut msg, libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC);
        if received < 0 {
            let errno = Errno::last();
            return if errno.0 == libc::EAGAIN { Ok(None) } else { Err(errno) };
        }
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if received != 4 || cmsg.is_null() || (*cmsg).cmsg_type != libc::SCM_RIGHTS {
            return if received == 0 { Ok(None) } else { Err(Errno(libc::EPROTO)) };
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>());
        Ok(Some((u32::from_ne_bytes(payload), owned(fd))))
    }
}

pub fn socketpair_seqpacket() -> SysResult<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    // SAFETY: fds has room for the two descriptors socketpair writes.
    check_int(unsafe {
        libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr())
    })
    .map(|_| (owned(fds[0]), owned(fds[1])))
}

// ---------------------------------------------------------------------------------------------
// Mounts.

/// `mount(2)` of a new filesystem instance (no source path).
pub fn mount(source: &CStr, target: &CStr, fstype: &CStr, flags: libc::c_ulong, data: Option<&CStr>) -> SysResult<()> {
    let data = data.map_or(std::ptr::null(), |d| d.as_ptr().cast());
    // SAFETY: all strings are NUL-terminated; data is null or a NUL-terminated option string.
    check_int(unsafe { libc::mount(source.as_ptr(), target.as_ptr(), fstype.as_ptr(), flags, data) }).map(drop)
}

pub fn mount_propagation(target: &CStr, flags: libc::c_ulong) -> SysResult<()> {
    // SAFETY: target is NUL-terminated; the other pointers may be null for a propagation change.
    check_int(unsafe { libc::mount(std::ptr::null(), target.as_ptr(), std::ptr::null(), flags, std::ptr::null()) })
        .map(drop)
}

/// `pivot_root(".", ".")`: the current directory (a mount point) becomes the root, and the
/// old root ends up mounted on top of it, ready to be detached.
pub fn pivot_root_here() -> SysResult<()> {
    // SAFETY: both arguments are NUL-terminated strings.
    check(unsafe { libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) }).map(drop)
}

/// Lazily unmounts the mount at `path` (`umount2(MNT_DETACH)`).
pub fn detach_mount(path: &CStr) -> SysResult<()> {
    // SAFETY: path is NUL-terminated.
    check_int(unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) }).map(drop)
}

/// `open_tree(2)` on an fd with `AT_EMPTY_PATH`.
pub fn open_tree(fd: RawFd, flags: u32) -> SysResult<RawFd> {
    // SAFETY: an empty NUL-terminated path with AT_EMPTY_PATH designates `fd` itself.
    let ret = unsafe { libc::syscall(libc::SYS_open_tree, fd, c"".as_ptr(), flags | libc::AT_EMPTY_PATH as u32) };
    check(ret).map(|fd| fd as RawFd)
}

/// `mount_setattr(2)` on an fd with `AT_EMPTY_PATH`.
pub fn mount_setattr(fd: RawFd, flags: u32, attr: &MountAttr) -> SysResult<()> {
    // SAFETY: empty path plus AT_EMPTY_PATH designates `fd`; attr is a correctly sized struct.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd,
            c"".as_ptr(),
            flags | libc::AT_EMPTY_PATH as u32,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    check(ret).map(drop)
}

/// `move_mount(2)` from one fd onto another (both with empty paths).
pub fn move_mount(from: RawFd, to: RawFd) -> SysResult<()> {
    // SAFETY: empty NUL-terminated paths with the *_EMPTY_PATH flags designate the fds.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from,
            c"".as_ptr(),
            to,
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    check(ret).map(drop)
}

// ---------------------------------------------------------------------------------------------
// Credentials and capabilities.

pub fn capget() -> SysResult<[CapData; 2]> {
    let mut header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let mut data = [CapData::default(); 2];
    // SAFETY: header and data are valid for the version-3 layout (two data words).
    let ret = unsafe { libc::syscall(libc::SYS_capget, &mut header as *mut CapHeader, data.as_mut_ptr()) };
    check(ret).map(|_| data)
}

pub fn capset(data: &[CapData; 2]) -> SysResult<()> {
    let mut header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    // SAFETY: header and data are valid for the version-3 layout (two data words).
    let ret = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut CapHeader, data.as_ptr()) };
    check(ret).map(drop)
}

// ---------------------------------------------------------------------------------------------
// Landlock and seccomp.

pub fn landlock_abi_version() -> SysResult<u32> {
    // SAFETY: a null attribute with size 0 and the VERSION flag only queries the ABI.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<LandlockRulesetAttr>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    check(ret).map(|v| v as u32)
}

/// Creates a ruleset; `size` is how many leading bytes of `attr` this kernel understands.
pub fn landlock_create_ruleset(attr: &LandlockRulesetAttr, size: usize) -> SysResult<RawFd> {
    debug_assert!(size <= std::mem::size_of::<LandlockRulesetAttr>());
    // SAFETY: attr is valid for at least `size` bytes.
    let ret =
        unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, attr as *const LandlockRulesetAttr, size, 0u32) };
    check(ret).map(|fd| fd as RawFd)
}

pub fn landlock_add_path_rule(ruleset: RawFd, rule: &LandlockPathBeneathAttr) -> SysResult<()> {
    // SAFETY: rule points to a valid packed path-beneath attribute.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset,
            LANDLOCK_RULE_PATH_BENEATH,
            rule as *const LandlockPathBeneathAttr,
            0u32,
        )
    };
    check(ret).map(drop)
}

pub fn landlock_add_net_rule(ruleset: RawFd, rule: &LandlockNetPortAttr) -> SysResult<()> {
    // SAFETY: rule points to a valid packed net-port attribute.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset,
            LANDLOCK_RULE_NET_PORT,
            rule as *const LandlockNetPortAttr,
            0u32,
        )
    };
    check(ret).map(drop)
}

pub fn landlock_restrict_self(ruleset: RawFd) -> SysResult<()> {
    // SAFETY: integer arguments.
    check(unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset, 0u32) }).map(drop)
}

/// Installs a seccomp filter on the calling thread (no_new_privs must already be set).
pub fn seccomp_set_filter(program: &[SockFilter]) -> SysResult<()> {
    let prog = SockFprog { len: program.len() as u16, filter: program.as_ptr() };
    // SAFETY: prog describes the live instruction slice for the duration of the call.
    let ret = unsafe {
        libc::syscall(libc::SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0 as libc::c_ulong, &prog as *const SockFprog)
    };
    check(ret).map(drop)
}

/// `execve(2)`; returns only on failure.
///
/// # Safety
/// `argv` and `envp` must be null-terminated arrays of pointers to NUL-terminated strings that
/// stay alive for the call.
pub unsafe fn execve(path: &CStr, argv: *const *const libc::c_char, envp: *const *const libc::c_char) -> Errno {
    // SAFETY: upheld by the caller.
    unsafe {
        libc::execve(path.as_ptr(), argv, envp);
    }
    Errno::last()
}
