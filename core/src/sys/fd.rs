//! File descriptors: duplication, closing, reading and writing, pipes, polling.

use std::os::fd::{OwnedFd, RawFd};

use super::{Errno, SysResult, check, check_int, owned};

/// Closes a descriptor given by number.
///
/// # Safety
/// `fd` must not belong to an `OwnedFd`, `File` or similar owner in this process that will be
/// used or dropped later (that owner would then act on whatever reuses the number). In the
/// forked child this holds for the parent's descriptors: the child never returns to the code
/// that owns them.
pub unsafe fn close_raw(fd: RawFd) {
    // SAFETY: upheld by the caller; EBADF is harmless.
    unsafe {
        libc::close(fd);
    }
}

/// `dup2(2)`: `from` duplicated onto `to`, closing what `to` was.
///
/// # Safety
/// As for [`close_raw`], for `to`.
pub unsafe fn dup2(from: RawFd, to: RawFd) -> SysResult<()> {
    // SAFETY: integer arguments; the caller owns what `to` was.
    check_int(unsafe { libc::dup2(from, to) }).map(drop)
}

/// Duplicates `fd` onto the lowest free descriptor at or above `min`, with `FD_CLOEXEC`.
pub fn dup_above(fd: RawFd, min: RawFd) -> SysResult<OwnedFd> {
    // SAFETY: integer arguments.
    check_int(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) }).map(owned)
}

/// `fd` itself when its number is at least `min`, else a close-on-exec duplicate at or above
/// `min` (and `fd` is closed). The launcher keeps every descriptor it creates at 3 or above so
/// that none can be mistaken for, or clobbered as, one of the command's standard streams.
pub fn renumber_above(fd: OwnedFd, min: RawFd) -> SysResult<OwnedFd> {
    use std::os::fd::AsRawFd;
    if fd.as_raw_fd() >= min { Ok(fd) } else { dup_above(fd.as_raw_fd(), min) }
}

/// Whether `fd` is open in this process.
pub fn is_open(fd: RawFd) -> bool {
    // SAFETY: integer arguments; F_GETFD has no side effect.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

pub fn set_cloexec(fd: RawFd, cloexec: bool) -> SysResult<()> {
    let flags = if cloexec { libc::FD_CLOEXEC } else { 0 };
    // SAFETY: integer arguments.
    check_int(unsafe { libc::fcntl(fd, libc::F_SETFD, flags) }).map(drop)
}

/// Closes every descriptor in `first..=last`.
///
/// # Safety
/// As for [`close_raw`], for every descriptor in the range.
pub unsafe fn close_range(first: u32, last: u32) -> SysResult<()> {
    // SAFETY: integer arguments; ownership is upheld by the caller.
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
        // The kernel never reports more than it was given; `get` keeps that an invariant
        // rather than a panic site.
        bytes = bytes.get(ret as usize..).unwrap_or_default();
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

/// A close-on-exec pipe: `(read end, write end)`.
pub fn pipe() -> SysResult<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    // SAFETY: fds has room for the two descriptors pipe2 writes.
    check_int(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }).map(|_| (owned(fds[0]), owned(fds[1])))
}

/// Whether the read end of the pipe whose write end is `fd` has been closed everywhere.
pub fn peer_closed(fd: RawFd) -> bool {
    let mut pollfd = libc::pollfd { fd, events: libc::POLLOUT, revents: 0 };
    // SAFETY: one valid pollfd, zero timeout.
    let ret = unsafe { libc::poll(&mut pollfd, 1, 0) };
    ret > 0 && pollfd.revents & libc::POLLERR != 0
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
        match poll_once(fds, timeout_ms) {
            Err(errno) if errno.0 == libc::EINTR => continue,
            other => return other,
        }
    }
}

/// Sets or clears `O_NONBLOCK` on the open file description behind `fd` (shared with every
/// duplicate of it).
pub fn set_nonblocking(fd: RawFd, nonblocking: bool) -> SysResult<()> {
    // SAFETY: F_GETFL/F_SETFL take and return integers.
    let flags = check_int(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    let wanted = if nonblocking { flags | libc::O_NONBLOCK } else { flags & !libc::O_NONBLOCK };
    if wanted == flags {
        return Ok(());
    }
    // SAFETY: as above.
    check_int(unsafe { libc::fcntl(fd, libc::F_SETFL, wanted) }).map(drop)
}

/// `poll(2)` once: EINTR comes back as an error, so a caller with a deadline can recompute it.
pub fn poll_once(fds: &mut [libc::pollfd], timeout_ms: i32) -> SysResult<usize> {
    // SAFETY: the pointer and length describe the live slice of pollfd structures.
    let ret = check_int(unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) })?;
    usize::try_from(ret).map_err(|_| Errno(libc::EINVAL))
}
