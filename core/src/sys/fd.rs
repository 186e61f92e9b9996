//! File descriptors: duplication, closing, reading and writing, pipes, polling.

use std::os::fd::{OwnedFd, RawFd};

use super::{Errno, SysResult, check, check_int, owned};

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
