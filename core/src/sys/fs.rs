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

/// `openat(2)` of `name` (one path component) relative to the directory `dir`, always
/// close-on-exec.
pub fn openat(dir: RawFd, name: &CStr, flags: libc::c_int) -> SysResult<OwnedFd> {
    // SAFETY: name is NUL-terminated; the mode argument is ignored without O_CREAT.
    check_int(unsafe { libc::openat(dir, name.as_ptr(), flags | libc::O_CLOEXEC, 0) }).map(owned)
}

/// Reads directory entries of `dir` into `buf` as the kernel's `struct linux_dirent64` records
/// (`getdents64`); 0 at the end.
pub fn read_dir(dir: RawFd, buf: &mut [u8]) -> SysResult<usize> {
    // SAFETY: the pointer and length describe the live, writable slice.
    let ret = unsafe { libc::syscall(libc::SYS_getdents64, dir, buf.as_mut_ptr(), buf.len()) };
    check(ret).map(|n| n as usize)
}

/// The kernel's `struct statfs` on 64-bit Linux (libc's hides `f_flags`).
#[repr(C)]
#[derive(Default)]
struct KernelStatfs {
    f_type: i64,
    f_bsize: i64,
    f_blocks: u64,
    f_bfree: u64,
    f_bavail: u64,
    f_files: u64,
    f_ffree: u64,
    f_fsid: [i32; 2],
    f_namelen: i64,
    f_frsize: i64,
    f_flags: i64,
    f_spare: [i64; 4],
}

/// The mount flags (`ST_*`) of the mount holding `fd`, from the `fstatfs(2)` system call
/// (glibc's `fstatvfs` may read `/proc/mounts` instead, which a forked child must not).
pub fn mount_flags(fd: RawFd) -> SysResult<u64> {
    let mut st = KernelStatfs::default();
    // SAFETY: `st` matches the kernel's struct statfs on 64-bit targets and outlives the call.
    check(unsafe { libc::syscall(libc::SYS_fstatfs, fd, &mut st as *mut KernelStatfs) }).map(|_| st.f_flags as u64)
}

/// Whether the caller's effective ids may create entries in the directory `path`
/// (`faccessat(W_OK, AT_EACCESS)`): EROFS on a read-only mount, EACCES without permission.
pub fn may_write(path: &CStr) -> SysResult<()> {
    // SAFETY: path is NUL-terminated.
    check_int(unsafe { libc::faccessat(libc::AT_FDCWD, path.as_ptr(), libc::W_OK, libc::AT_EACCESS) }).map(drop)
}
