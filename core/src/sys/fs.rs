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

/// The kernel's `struct statx_timestamp`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StatxTimestamp {
    pub tv_sec: i64,
    pub tv_nsec: u32,
    reserved: i32,
}

/// The kernel's `struct statx` (256 bytes), declared here because not every libc target
/// declares it.
#[repr(C)]
#[derive(Clone, Copy)]
struct KernelStatx {
    mask: u32,
    blksize: u32,
    attributes: u64,
    nlink: u32,
    uid: u32,
    gid: u32,
    mode: u16,
    spare0: u16,
    ino: u64,
    size: u64,
    blocks: u64,
    attributes_mask: u64,
    atime: StatxTimestamp,
    btime: StatxTimestamp,
    ctime: StatxTimestamp,
    mtime: StatxTimestamp,
    rdev_major: u32,
    rdev_minor: u32,
    dev_major: u32,
    dev_minor: u32,
    spare: [u64; 14],
}

const STATX_BASIC_STATS: u32 = 0x7ff;
const STATX_BTIME: u32 = 0x800;

/// What `statx(2)` says about one directory entry, the entry itself (a symlink is not
/// followed).
#[derive(Clone, Copy, Debug)]
pub struct EntryStat {
    pub mode: u32,
    /// `st_dev` as `stat(2)` encodes it.
    pub dev: u64,
    pub ino: u64,
    pub ctime: StatxTimestamp,
    /// The inode's birth time, where the file system records it.
    pub btime: Option<StatxTimestamp>,
}

impl EntryStat {
    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }
}

/// `statx(dir, name, AT_SYMLINK_NOFOLLOW)`: the entry `name` of the directory `dir`.
pub fn stat_entry(dir: RawFd, name: &CStr) -> SysResult<EntryStat> {
    // SAFETY: all-zero is a valid value of the plain-data struct.
    let mut st: KernelStatx = unsafe { std::mem::zeroed() };
    // SAFETY: `name` is NUL-terminated and `st` is a correctly sized, writable statx buffer.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_statx,
            dir,
            name.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW | libc::AT_NO_AUTOMOUNT,
            STATX_BASIC_STATS | STATX_BTIME,
            &mut st as *mut KernelStatx,
        )
    };
    check(ret)?;
    Ok(EntryStat {
        mode: u32::from(st.mode),
        dev: libc::makedev(st.dev_major, st.dev_minor),
        ino: st.ino,
        ctime: st.ctime,
        btime: (st.mask & STATX_BTIME != 0).then_some(st.btime),
    })
}

/// `getdents64(2)`: fills `buf` with `struct linux_dirent64` records; 0 at the end of the
/// directory.
pub fn getdents64(fd: RawFd, buf: &mut [u8]) -> SysResult<usize> {
    // SAFETY: the pointer and length describe `buf`, which the kernel writes at most that far.
    let ret = unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len()) };
    check(ret).map(|n| n as usize)
}

/// `unlinkat(2)`: removes the entry `name` of the directory `dir` (a directory, empty, with
/// `AT_REMOVEDIR`).
pub fn unlinkat(dir: RawFd, name: &CStr, flags: libc::c_int) -> SysResult<()> {
    // SAFETY: name is NUL-terminated.
    check_int(unsafe { libc::unlinkat(dir, name.as_ptr(), flags) }).map(drop)
}

/// The file system type (`f_type` of `fstatfs(2)`) holding `fd`.
pub fn fs_type(fd: RawFd) -> SysResult<i64> {
    let mut st = KernelStatfs::default();
    // SAFETY: `st` matches the kernel's struct statfs on 64-bit targets and outlives the call.
    check(unsafe { libc::syscall(libc::SYS_fstatfs, fd, &mut st as *mut KernelStatfs) }).map(|_| st.f_type)
}

/// `fchmod(2)`.
pub fn fchmod(fd: RawFd, mode: libc::mode_t) -> SysResult<()> {
    // SAFETY: integer arguments.
    check_int(unsafe { libc::fchmod(fd, mode) }).map(drop)
}

/// Whether the caller's effective ids may create entries in the directory `name` of `dir`
/// (`faccessat(W_OK | X_OK, AT_EACCESS)`).
pub fn may_write_at(dir: RawFd, name: &CStr) -> SysResult<()> {
    // SAFETY: name is NUL-terminated.
    check_int(unsafe { libc::faccessat(dir, name.as_ptr(), libc::W_OK | libc::X_OK, libc::AT_EACCESS) }).map(drop)
}
