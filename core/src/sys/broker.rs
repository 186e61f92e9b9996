//! The calls the connect broker makes for the command: taking a duplicate of one of its
//! sockets (`pidfd_getfd`), asking that duplicate what it is, and connecting it with an
//! address the broker holds in its own memory.

use std::os::fd::{OwnedFd, RawFd};

use super::{SysResult, check, check_int, owned};

/// `pidfd_getfd(2)` (Linux 5.6): a close-on-exec duplicate of descriptor `fd` of the process
/// `pidfd` refers to: the same open file (the same socket object), now ours.
pub fn pidfd_getfd(pidfd: RawFd, fd: RawFd) -> SysResult<OwnedFd> {
    // SAFETY: integer arguments; the kernel checks ptrace access to the target itself.
    check(unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd, fd, 0) }).map(|new| owned(new as RawFd))
}

/// An integer socket option of `fd` (`SO_DOMAIN`, `SO_TYPE`, `SO_ERROR`).
pub fn socket_option(fd: RawFd, level: libc::c_int, name: libc::c_int) -> SysResult<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: value and len are valid out parameters of the stated size.
    check_int(unsafe { libc::getsockopt(fd, level, name, (&mut value as *mut libc::c_int).cast(), &mut len) })?;
    Ok(value)
}

/// `connect(2)` with the address bytes `address` (a `struct sockaddr` of that length, in our
/// own memory).
pub fn connect_bytes(fd: RawFd, address: &[u8]) -> SysResult<()> {
    let len = libc::socklen_t::try_from(address.len()).unwrap_or(libc::socklen_t::MAX);
    // SAFETY: the kernel reads `len` bytes from the slice, which is live for the call; it
    // copies the address in before using it, so alignment does not matter.
    check_int(unsafe { libc::connect(fd, address.as_ptr().cast(), len) }).map(drop)
}

/// The file status flags of `fd` (`F_GETFL`): `O_NONBLOCK` belongs to the open file, so a
/// duplicate shares the caller's.
pub fn file_status_flags(fd: RawFd) -> SysResult<libc::c_int> {
    // SAFETY: F_GETFL takes no argument.
    check_int(unsafe { libc::fcntl(fd, libc::F_GETFL) })
}

/// `getsockname(2)` into `buf` (a `struct sockaddr`); the address length (the kernel's, which
/// may exceed `buf`: the copy is then cut off).
pub fn socket_name(fd: RawFd, buf: &mut [u8]) -> SysResult<usize> {
    let mut len = libc::socklen_t::try_from(buf.len()).unwrap_or(libc::socklen_t::MAX);
    // SAFETY: buf is writable for `len` bytes; len is a valid in/out parameter.
    check_int(unsafe { libc::getsockname(fd, buf.as_mut_ptr().cast(), &mut len) })?;
    Ok(len as usize)
}

/// `listen(2)`.
pub fn listen(fd: RawFd, backlog: libc::c_int) -> SysResult<()> {
    // SAFETY: integer arguments.
    check_int(unsafe { libc::listen(fd, backlog) }).map(drop)
}
