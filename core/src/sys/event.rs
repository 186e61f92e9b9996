//! Event notification for hosts that wait on many children at once: epoll and eventfd.

use std::os::fd::{OwnedFd, RawFd};

use super::{Errno, SysResult, check_int, owned};

/// A close-on-exec epoll instance.
pub fn epoll_create() -> SysResult<OwnedFd> {
    // SAFETY: integer arguments.
    check_int(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) }).map(owned)
}

/// `epoll_ctl(op)` for `fd`, reporting readability with `token`.
pub fn epoll_ctl(epoll: RawFd, op: libc::c_int, fd: RawFd, token: u64) -> SysResult<()> {
    let mut event = libc::epoll_event { events: libc::EPOLLIN as u32, u64: token };
    // SAFETY: `event` is a valid epoll_event for the duration of the call.
    check_int(unsafe { libc::epoll_ctl(epoll, op, fd, &mut event) }).map(drop)
}

/// Waits up to `timeout_ms` (-1: for ever) and returns the tokens of the ready descriptors,
/// written into `events`. EINTR comes back as an error for the caller to retry.
pub fn epoll_wait(epoll: RawFd, events: &mut [libc::epoll_event], timeout_ms: i32) -> SysResult<usize> {
    let capacity = i32::try_from(events.len()).unwrap_or(i32::MAX);
    // SAFETY: `events` is a writable buffer of at least `capacity` entries.
    let ready = check_int(unsafe { libc::epoll_wait(epoll, events.as_mut_ptr(), capacity, timeout_ms) })?;
    usize::try_from(ready).map_err(|_| Errno(libc::EINVAL))
}

/// A close-on-exec, non-blocking eventfd counter starting at 0.
pub fn eventfd() -> SysResult<OwnedFd> {
    // SAFETY: integer arguments.
    check_int(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) }).map(owned)
}

/// Adds one to an eventfd's counter. A full counter (EAGAIN) still leaves it readable, which is
/// all a wake-up needs, so that error is not one.
pub fn eventfd_signal(fd: RawFd) -> SysResult<()> {
    match super::write_all(fd, &1u64.to_ne_bytes()) {
        Err(errno) if errno.0 == libc::EAGAIN => Ok(()),
        other => other,
    }
}

/// Resets an eventfd's counter (non-blocking: nothing pending is not an error).
pub fn eventfd_drain(fd: RawFd) -> SysResult<()> {
    let mut count = [0u8; 8];
    match super::read(fd, &mut count) {
        Err(errno) if errno.0 == libc::EAGAIN => Ok(()),
        other => other.map(drop),
    }
}
