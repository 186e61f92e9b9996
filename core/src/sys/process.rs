//! Processes: creation, identity, control, waiting, `execve`.

use std::ffi::CStr;
use std::os::fd::{OwnedFd, RawFd};

use super::{Errno, SysResult, check, check_int, owned};

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

pub fn geteuid() -> libc::uid_t {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::geteuid() }
}

pub fn getegid() -> libc::gid_t {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::getegid() }
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

/// Makes the calling process the leader of a process group of its own (`setpgid(0, 0)`).
pub fn lead_process_group() -> SysResult<()> {
    // SAFETY: no pointers; 0 and 0 name the caller.
    check_int(unsafe { libc::setpgid(0, 0) }).map(drop)
}

// The three id calls below are raw system calls, not libc's wrappers: glibc's broadcast the
// change to every thread it knows of (its `setxid` signal), which in a child cloned from a
// multi-threaded process are threads of the parent's that do not exist here. The raw call
// changes the calling thread's credentials, all a single-threaded child has.

/// `setgroups(0, NULL)`: no supplementary group.
pub fn clear_groups() -> SysResult<()> {
    // SAFETY: a zero-length list; the null pointer is never read.
    check(unsafe { libc::syscall(libc::SYS_setgroups, 0 as libc::size_t, std::ptr::null::<libc::gid_t>()) }).map(drop)
}

/// `setresgid(gid, gid, gid)`: real, effective and saved gid.
pub fn set_all_gids(gid: libc::gid_t) -> SysResult<()> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) }).map(drop)
}

/// `setresuid(uid, uid, uid)`: real, effective and saved uid (so none can be switched back).
pub fn set_all_uids(uid: libc::uid_t) -> SysResult<()> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) }).map(drop)
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

/// The kernel's release string (`uname -r`), or `None` if `uname` failed.
pub fn uname_release() -> Option<String> {
    // SAFETY: utsname is plain data, fully written by a successful uname.
    let mut name: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: name is a valid out parameter.
    if unsafe { libc::uname(&mut name) } != 0 {
        return None;
    }
    let bytes: Vec<u8> = name.release.iter().take_while(|c| **c != 0).map(|c| *c as u8).collect();
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The errno of system call `number` called with arguments every kernel that has it rejects
/// (descriptor -1, null pointers, zero sizes and flags): ENOSYS when the kernel lacks it or a
/// filter hides it, something else (EBADF, EFAULT, EINVAL) when it exists.
pub fn invalid_call_errno(number: libc::c_long) -> i32 {
    let null = std::ptr::null::<libc::c_void>();
    // SAFETY: with a descriptor of -1 and null pointers the call fails before touching memory
    // or any object; no pointer is dereferenced by the kernel successfully.
    let ret = unsafe { libc::syscall(number, -1 as libc::c_long, null, null, 0 as libc::c_long, 0 as libc::c_long) };
    if ret == -1 { Errno::last().0 } else { 0 }
}

/// The type of `setrlimit`'s resource argument, which differs between C libraries.
#[cfg(target_env = "gnu")]
pub type RlimitResource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
pub type RlimitResource = libc::c_int;

/// Lowers both the soft and the hard limit of `resource` to `limit` (never raises them: a
/// hard limit already below it stays, as raising it would need privilege).
pub fn set_rlimit(resource: RlimitResource, limit: u64) -> SysResult<()> {
    set_rlimit_pair(resource, limit, limit)
}

/// Lowers the hard limit of `resource` to `hard` and the soft one to `soft` (each at most the
/// resulting hard limit). Never raises a hard limit: one already below `hard` stays.
pub fn set_rlimit_pair(resource: RlimitResource, soft: u64, hard: u64) -> SysResult<()> {
    let mut current = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `current` is a valid out parameter.
    check_int(unsafe { libc::getrlimit(resource, &mut current) })?;
    let hard = hard.min(current.rlim_max);
    let value = libc::rlimit { rlim_cur: soft.min(hard), rlim_max: hard };
    // SAFETY: `value` is a valid rlimit for the duration of the call.
    check_int(unsafe { libc::setrlimit(resource, &value) }).map(drop)
}

/// `CLOCK_MONOTONIC` in milliseconds (async-signal-safe).
pub fn monotonic_ms() -> u64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid out parameter; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    (now.tv_sec as u64).saturating_mul(1000).saturating_add(now.tv_nsec as u64 / 1_000_000)
}

/// Arms this process's real-time interval timer (`ITIMER_REAL`): SIGALRM in `ms`
/// milliseconds, then every 100 ms until disarmed (so a signal lost to a race is sent again).
/// Not inherited across `fork`.
pub fn arm_alarm_ms(ms: u64) -> SysResult<()> {
    let at = |ms: u64| libc::timeval {
        tv_sec: (ms / 1000) as libc::time_t,
        tv_usec: (ms % 1000).saturating_mul(1000) as libc::suseconds_t,
    };
    let timer = libc::itimerval { it_interval: at(100), it_value: at(ms.max(1)) };
    // SAFETY: `timer` is valid for the call; the old value is not asked for.
    check_int(unsafe { libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut()) }).map(drop)
}

/// `pidfd_open(2)`: a close-on-exec pidfd for `pid`.
pub fn pidfd_open(pid: libc::pid_t) -> SysResult<OwnedFd> {
    // SAFETY: integer arguments.
    check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) }).map(|fd| owned(fd as RawFd))
}

/// The pid a pidfd refers to, in this process's PID namespace (from `/proc/self/fdinfo`).
pub fn pidfd_pid(pidfd: RawFd) -> SysResult<u32> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{pidfd}")).map_err(|_| Errno(libc::ENOENT))?;
    info.lines()
        .find_map(|line| line.strip_prefix("Pid:"))
        .and_then(|pid| pid.trim().parse::<i64>().ok())
        .and_then(|pid| u32::try_from(pid).ok())
        .ok_or(Errno(libc::ESRCH))
}
