//! Mounts: the classic `mount(2)` family and the new mount API (`open_tree`, `move_mount`,
//! `mount_setattr`).

use std::ffi::CStr;
use std::os::fd::{OwnedFd, RawFd};

use super::{SysResult, check, check_int, owned};

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
pub const MOUNT_ATTR_NOSUID: u64 = 0x0000_0002;
pub const MOUNT_ATTR_NODEV: u64 = 0x0000_0004;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x0000_0008;
pub const OPEN_TREE_CLONE: u32 = 1;
pub const OPEN_TREE_CLOEXEC: u32 = libc::O_CLOEXEC as u32;
pub const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x0000_0004;
pub const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x0000_0040;

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

/// `open_tree(2)` on an fd with `AT_EMPTY_PATH`: with `OPEN_TREE_CLONE`, a detached copy of the
/// mount tree at `fd`, ready to be attached elsewhere with [`move_mount`].
pub fn open_tree(fd: RawFd, flags: u32) -> SysResult<OwnedFd> {
    // SAFETY: an empty NUL-terminated path with AT_EMPTY_PATH designates `fd` itself.
    let ret = unsafe { libc::syscall(libc::SYS_open_tree, fd, c"".as_ptr(), flags | libc::AT_EMPTY_PATH as u32) };
    check(ret).map(|fd| owned(fd as RawFd))
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

/// `pivot_root(new_root, put_old)`.
pub fn pivot_root(new_root: &CStr, put_old: &CStr) -> SysResult<()> {
    // SAFETY: both arguments are NUL-terminated strings.
    check(unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) }).map(drop)
}

/// `mount(2)` of an existing path (`MS_BIND`, with `MS_REC` for its submounts too).
pub fn bind_mount(source: &CStr, target: &CStr, flags: libc::c_ulong) -> SysResult<()> {
    // SAFETY: both paths are NUL-terminated; fstype and data may be null for a bind.
    check_int(unsafe {
        libc::mount(source.as_ptr(), target.as_ptr(), std::ptr::null(), flags | libc::MS_BIND, std::ptr::null())
    })
    .map(drop)
}
