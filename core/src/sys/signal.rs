//! Signal masks, dispositions and signalfd.

use std::os::fd::{OwnedFd, RawFd};

use super::{Errno, SysResult, check_int, owned};

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
