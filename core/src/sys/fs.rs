//! Paths and files: open, `openat2`, stat, locks, extended attributes, directories.

use std::ffi::CStr;
use std::os::fd::{OwnedFd, RawFd};

use super::{SysResult, check, check_int, owned};

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

/// `open(2)`, always close-on-exec.
pub fn open(path: &CStr, flags: libc::c_int) -> SysResult<OwnedFd> {
    // SAFETY: path is NUL-terminated; the mode argument is ignored without O_CREAT.
    check_int(unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, 0) }).map(owned)
}

/// `openat2(2)` relative to the current directory (or absolute).
pub fn openat2(path: &CStr, how: &OpenHow) -> SysResult<OwnedFd> {
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
    check(ret).map(|fd| owned(fd as RawFd))
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

pub fn memfd_create(name: &CStr) -> SysResult<OwnedFd> {
    // SAFETY: name is NUL-terminated.
    check_int(unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) }).map(owned)
}

/// Creates an empty file (failing if it exists) and returns it opened for writing.
pub fn create_file(path: &CStr, mode: libc::mode_t) -> SysResult<OwnedFd> {
    // SAFETY: path is NUL-terminated; mode is used with O_CREAT.
    check_int(unsafe {
        libc::open(path.as_ptr(), libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC, mode)
    })
    .map(owned)
}

pub fn mkdir(path: &CStr, mode: libc::mode_t) -> SysResult<()> {
    // SAFETY: path is NUL-terminated.
    check_int(unsafe { libc::mkdir(path.as_ptr(), mode) }).map(drop)
}

pub fn symlink(target: &CStr, link: &CStr) -> SysResult<()> {
    // SAFETY: both paths are NUL-terminated.
    check_int(unsafe { libc::symlink(target.as_ptr(), link.as_ptr()) }).map(drop)
}
