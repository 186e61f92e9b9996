//! Seccomp user notifications and the calls the metadata supervisor makes on their behalf:
//! the listener, reading the caller's memory, and the metadata changes themselves, each on a
//! path or descriptor the supervisor resolved itself.
//!
//! The structures and ioctl numbers are the kernel's (`linux/seccomp.h`, Linux 5.0); the libc
//! crate does not have all of them on every target.

use std::ffi::CStr;
use std::os::fd::{OwnedFd, RawFd};

use super::{OpenHow, SockFilter, SysResult, check, check_int, owned};

/// `SECCOMP_RET_USER_NOTIF`: the filter's verdict that hands the call to the listener.
pub const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;

const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
const SECCOMP_GET_ACTION_AVAIL: libc::c_ulong = 2;
const SECCOMP_FILTER_FLAG_NEW_LISTENER: libc::c_ulong = 1 << 3;

/// `_IOWR('!', 0, struct seccomp_notif)`.
const SECCOMP_IOCTL_NOTIF_RECV: libc::c_ulong = 0xc050_2100;
/// `_IOWR('!', 1, struct seccomp_notif_resp)`.
const SECCOMP_IOCTL_NOTIF_SEND: libc::c_ulong = 0xc018_2101;
/// `_IOR('!', 2, __u64)`: the number every kernel since 5.0 accepts (5.17 added the `_IOW`
/// spelling and kept this one).
const SECCOMP_IOCTL_NOTIF_ID_VALID: libc::c_ulong = 0x8008_2102;

pub const RESOLVE_BENEATH: u64 = 0x08;

/// `struct seccomp_data`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SeccompData {
    pub nr: i32,
    pub arch: u32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

/// `struct seccomp_notif`: one intercepted call. `pid` is the calling thread's id.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SeccompNotif {
    pub id: u64,
    pub pid: u32,
    pub flags: u32,
    pub data: SeccompData,
}

/// `struct seccomp_notif_resp`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct SeccompNotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

/// Installs a seccomp filter on the calling thread and returns its listener: the descriptor on
/// which the calls the filter answers with [`SECCOMP_RET_USER_NOTIF`] arrive.
pub fn seccomp_set_filter_listener(program: &[SockFilter]) -> SysResult<OwnedFd> {
    let prog = SockFprog { len: u16::try_from(program.len()).unwrap_or(u16::MAX), filter: program.as_ptr() };
    // SAFETY: prog describes the live instruction slice for the duration of the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            SECCOMP_FILTER_FLAG_NEW_LISTENER,
            &prog as *const SockFprog,
        )
    };
    check(ret).map(|fd| owned(fd as RawFd))
}

/// Whether the kernel knows the filter return value `action` (`SECCOMP_GET_ACTION_AVAIL`).
pub fn seccomp_action_available(action: u32) -> bool {
    // SAFETY: the kernel reads one u32 from the pointer.
    let ret = unsafe { libc::syscall(libc::SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0 as libc::c_ulong, &action) };
    ret == 0
}

/// Waits for the next notification on `listener` (blocking).
pub fn notif_recv(listener: RawFd) -> SysResult<SeccompNotif> {
    // The kernel refuses a buffer that is not zeroed.
    let mut notif = SeccompNotif::default();
    // SAFETY: notif is a correctly sized, writable seccomp_notif.
    check_int(unsafe { libc::ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV as _, &mut notif as *mut SeccompNotif) })
        .map(|_| notif)
}

/// Whether notification `id` is still pending: its caller still waits for this very call, so
/// the thread id it named has not been reused since.
pub fn notif_id_valid(listener: RawFd, id: u64) -> bool {
    let mut id = id;
    // SAFETY: the kernel reads one u64 from the pointer.
    unsafe { libc::ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID as _, &mut id as *mut u64) == 0 }
}

/// Answers notification `id`: the call returns `Ok(value)`, or fails with the errno.
pub fn notif_send(listener: RawFd, id: u64, result: SysResult<i64>) -> SysResult<()> {
    let mut resp = match result {
        Ok(val) => SeccompNotifResp { id, val, error: 0, flags: 0 },
        Err(super::Errno(errno)) => SeccompNotifResp { id, val: 0, error: errno.saturating_neg(), flags: 0 },
    };
    // SAFETY: resp is a correctly sized seccomp_notif_resp.
    check_int(unsafe { libc::ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND as _, &mut resp as *mut SeccompNotifResp) })
        .map(drop)
}

/// Reads `buf.len()` bytes at `address` in process (thread) `pid`; returns how many were
/// read (fewer when the range crosses into unmapped memory).
pub fn process_vm_read(pid: libc::pid_t, address: u64, buf: &mut [u8]) -> SysResult<usize> {
    let local = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    let remote = libc::iovec { iov_base: address as usize as *mut libc::c_void, iov_len: buf.len() };
    // SAFETY: the local iovec describes `buf`, which the kernel fills; the remote address is
    // only read in the other process, never dereferenced here.
    let ret = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    check(ret as libc::c_long).map(|n| n as usize)
}

/// `openat2(2)` relative to `dir` (`AT_FDCWD` for the current directory).
pub fn openat2_at(dir: RawFd, path: &CStr, how: &OpenHow) -> SysResult<OwnedFd> {
    // SAFETY: path is NUL-terminated and `how` points to a correctly sized open_how.
    let ret = unsafe {
        libc::syscall(libc::SYS_openat2, dir, path.as_ptr(), how as *const OpenHow, std::mem::size_of::<OpenHow>())
    };
    check(ret).map(|fd| owned(fd as RawFd))
}

/// `readlink(2)` into `buf`; the length read (equal to `buf.len()` when it may be cut off).
pub fn readlink(path: &CStr, buf: &mut [u8]) -> SysResult<usize> {
    // SAFETY: buf is writable for its length; path is NUL-terminated.
    let ret = unsafe { libc::readlink(path.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    check(ret as libc::c_long).map(|n| n as usize)
}

/// `fchmodat(dir, path, mode, 0)` (follows a final symlink, as the kernel's `chmod` does).
pub fn fchmodat(dir: RawFd, path: &CStr, mode: libc::mode_t) -> SysResult<()> {
    // SAFETY: path is NUL-terminated.
    check_int(unsafe { libc::fchmodat(dir, path.as_ptr(), mode, 0) }).map(drop)
}

/// `fchownat(fd, "", uid, gid, AT_EMPTY_PATH)`: the object `fd` (an `O_PATH` descriptor too)
/// refers to, a symlink itself included.
pub fn fchown_object(fd: RawFd, uid: libc::uid_t, gid: libc::gid_t) -> SysResult<()> {
    // SAFETY: the empty path is a NUL-terminated literal.
    check_int(unsafe { libc::fchownat(fd, c"".as_ptr(), uid, gid, libc::AT_EMPTY_PATH) }).map(drop)
}

/// `setxattr(2)` (follows the path).
pub fn setxattr(path: &CStr, name: &CStr, value: &[u8], flags: libc::c_int) -> SysResult<()> {
    // SAFETY: strings are NUL-terminated; value is readable for its length.
    check_int(unsafe { libc::setxattr(path.as_ptr(), name.as_ptr(), value.as_ptr().cast(), value.len(), flags) })
        .map(drop)
}

/// `removexattr(2)` (follows the path).
pub fn removexattr(path: &CStr, name: &CStr) -> SysResult<()> {
    // SAFETY: strings are NUL-terminated.
    check_int(unsafe { libc::removexattr(path.as_ptr(), name.as_ptr()) }).map(drop)
}

/// `utimensat(dir, path, times, flags)`; `times` `None` sets both to now.
pub fn utimensat(dir: RawFd, path: &CStr, times: Option<&[libc::timespec; 2]>, flags: libc::c_int) -> SysResult<()> {
    let times = times.map_or(std::ptr::null(), |t| t.as_ptr());
    // SAFETY: path is NUL-terminated; times is NULL or two timespecs.
    check_int(unsafe { libc::utimensat(dir, path.as_ptr(), times, flags) }).map(drop)
}

/// `truncate(2)` (follows the path).
pub fn truncate(path: &CStr, length: i64) -> SysResult<()> {
    // SAFETY: path is NUL-terminated.
    check_int(unsafe { libc::truncate(path.as_ptr(), length) }).map(drop)
}
