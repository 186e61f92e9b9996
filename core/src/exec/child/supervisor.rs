//! The metadata supervisor: the landlock pipeline's answer, on hosts without user namespaces,
//! to the calls Landlock has no right for — mode bits, owners, extended attributes, timestamps
//! (and `truncate` before Landlock ABI 3).
//!
//! The command installs its seccomp filter with a listener (`SECCOMP_FILTER_FLAG_NEW_LISTENER`)
//! and sends the listener to init over a socket pair made before the fork
//! ([`install_and_hand_over`]); its filter answers those calls with `SECCOMP_RET_USER_NOTIF`, so
//! each one waits until init answers it ([`handle_one`]). Init is the right process for this:
//! it shares the command's filesystem view (the same mount namespace and root), is under
//! neither its Landlock domain nor its filter, and is the ancestor of every process of the
//! sandbox (orphans are re-parented to it), which Yama's `ptrace_scope` 1 requires for reading
//! the caller's memory. It has the command's credentials exactly — the same ids and groups, no
//! capabilities, no_new_privs — so a call it performs is judged by the kernel as the command's
//! own would be; the supervisor only adds the one rule Landlock cannot express: the object must
//! lie in a writable root.
//!
//! For each call, init:
//! 1. reads the caller's arguments from its memory with `process_vm_readv` (the path into a
//!    `PATH_MAX` stack buffer; a path without its NUL within it is ENAMETOOLONG);
//! 2. opens the caller's directory or descriptor through `/proc/<tid>/cwd` or
//!    `/proc/<tid>/fd/N` (`O_PATH`), then checks the notification is still valid, so the
//!    thread id cannot have been reused by another process meanwhile;
//! 3. resolves the path itself from there with `openat2(RESOLVE_NO_MAGICLINKS)` to an `O_PATH`
//!    descriptor of the object (honouring `AT_SYMLINK_NOFOLLOW` and `AT_EMPTY_PATH`); a path
//!    through a magic link fails (ELOOP), and `/proc/self` would name init, which is outside
//!    every root, so it cannot reach anything of the command's;
//! 4. decides by inode, never by a path the command could change afterwards: the kernel's path
//!    of that descriptor is resolved again beneath each writable root's own descriptor (opened
//!    by the launcher, as Landlock's rules are) with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`,
//!    and the object is inside only if that finds the same device and inode;
//! 5. performs the call on its own descriptor (`/proc/self/fd/N`, or `AT_EMPTY_PATH`), never
//!    on the caller's path, and answers with its result; anything outside gets EPERM, the
//!    errno of a call the caller has no privilege for (as a read-only bind would give EROFS).
//!
//! Like everything after the clone it allocates nothing (the xattr value buffer is the
//! image's), takes no lock and cannot panic.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use super::caller::{ShortPath, own_fd_path, read_exact};
use super::image::{RootImage, SupervisorImage};
use super::kernel::Kernel;
use crate::exec::report::{Stage, Step, at};
use crate::sys::{self, Errno, SeccompNotif, SysResult};

/// In the command, after everything else of its confinement: installs the filter with a
/// listener, sends the listener to init and closes both.
pub(crate) fn install_and_hand_over(k: &impl Kernel, program: &[sys::SockFilter], socket: RawFd) -> Step {
    let listener = at(Stage::Seccomp, k.seccomp_set_filter_listener(program))?;
    let sent = k.send_fd(socket, 0, listener.as_raw_fd());
    drop(listener);
    // SAFETY: the command's end of the socket pair is the image's, used by nothing after this.
    unsafe { k.close_raw(socket) };
    at(Stage::Seccomp, sent)
}

const PATH_MAX: usize = libc::PATH_MAX as usize;
/// `XATTR_NAME_MAX` + its NUL.
const NAME_MAX: usize = 256;

/// Receives one notification on `listener` and answers it.
pub(crate) fn handle_one(listener: RawFd, image: &SupervisorImage) {
    let Ok(notif) = sys::notif_recv(listener) else { return };
    if super::broker::handles(&notif) {
        super::broker::answer(listener, &notif, image.broker.as_ref());
        return;
    }
    let result = answer(listener, &notif, image);
    // ENOENT: the caller was interrupted (or killed) meanwhile; its call is restarted or gone.
    let _ = sys::notif_send(listener, notif.id, result.map(|()| 0));
}

/// Where a call acts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// `dirfd` (`AT_FDCWD` or a descriptor of the caller's) and the address of a path.
    Path { dirfd: i32, path: u64, follow: bool, empty_path: bool },
    /// A descriptor of the caller's.
    Fd(i32),
}

/// What a call changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    Mode(u32),
    Owner(u32, u32),
    SetXattr {
        name: u64,
        value: u64,
        size: u64,
        flags: i32,
    },
    /// setxattrat: the value, its size and the flags are in a `struct xattr_args`.
    SetXattrArgs {
        name: u64,
        args: u64,
        size: u64,
    },
    RemoveXattr {
        name: u64,
    },
    Times(Times),
    Truncate(i64),
}

/// How a call gives its timestamps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Times {
    Now,
    /// `struct utimbuf` (two `time_t`); `utime` exists on x86_64 only.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    Utimbuf(u64),
    /// `struct timeval[2]` (`utimes`, `futimesat`: x86_64 only).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    Timevals(u64),
    /// `struct timespec[2]`.
    Timespecs(u64),
}

const NOFOLLOW: i32 = libc::AT_SYMLINK_NOFOLLOW;
const EMPTY: i32 = libc::AT_EMPTY_PATH;

fn at_flags(flags: u64, allowed: i32) -> SysResult<(bool, bool)> {
    let flags = flags as i32;
    if flags & !allowed != 0 {
        return Err(Errno(libc::EINVAL));
    }
    Ok((flags & NOFOLLOW == 0, flags & EMPTY != 0))
}

/// The call's target and change, from its number and arguments.
fn decode(nr: i64, a: [u64; 6]) -> SysResult<(Target, Change)> {
    let path =
        |dirfd: u64, path: u64, follow: bool| Target::Path { dirfd: dirfd as i32, path, follow, empty_path: false };
    let at_path = |dirfd: u64, path: u64, flags: u64, allowed: i32| {
        at_flags(flags, allowed).map(|(follow, empty_path)| Target::Path {
            dirfd: dirfd as i32,
            path,
            follow,
            empty_path,
        })
    };
    let cwd = libc::AT_FDCWD as u32 as u64;
    let set_xattr =
        |name: u64, value: u64, size: u64, flags: u64| Change::SetXattr { name, value, size, flags: flags as i32 };
    Ok(match nr {
        #[cfg(target_arch = "x86_64")]
        libc::SYS_chmod => (path(cwd, a[0], true), Change::Mode(a[1] as u32)),
        #[cfg(target_arch = "x86_64")]
        libc::SYS_chown => (path(cwd, a[0], true), Change::Owner(a[1] as u32, a[2] as u32)),
        #[cfg(target_arch = "x86_64")]
        libc::SYS_lchown => (path(cwd, a[0], false), Change::Owner(a[1] as u32, a[2] as u32)),
        #[cfg(target_arch = "x86_64")]
        libc::SYS_utime => {
            (path(cwd, a[0], true), Change::Times(if a[1] == 0 { Times::Now } else { Times::Utimbuf(a[1]) }))
        }
        #[cfg(target_arch = "x86_64")]
        libc::SYS_utimes => {
            (path(cwd, a[0], true), Change::Times(if a[1] == 0 { Times::Now } else { Times::Timevals(a[1]) }))
        }
        #[cfg(target_arch = "x86_64")]
        libc::SYS_futimesat => {
            (path(a[0], a[1], true), Change::Times(if a[2] == 0 { Times::Now } else { Times::Timevals(a[2]) }))
        }
        libc::SYS_fchmod => (Target::Fd(a[0] as i32), Change::Mode(a[1] as u32)),
        libc::SYS_fchmodat => (path(a[0], a[1], true), Change::Mode(a[2] as u32)),
        SYS_FCHMODAT2 => (at_path(a[0], a[1], a[3], NOFOLLOW | EMPTY)?, Change::Mode(a[2] as u32)),
        libc::SYS_fchown => (Target::Fd(a[0] as i32), Change::Owner(a[1] as u32, a[2] as u32)),
        libc::SYS_fchownat => (at_path(a[0], a[1], a[4], NOFOLLOW | EMPTY)?, Change::Owner(a[2] as u32, a[3] as u32)),
        libc::SYS_setxattr => (path(cwd, a[0], true), set_xattr(a[1], a[2], a[3], a[4])),
        libc::SYS_lsetxattr => (path(cwd, a[0], false), set_xattr(a[1], a[2], a[3], a[4])),
        libc::SYS_fsetxattr => (Target::Fd(a[0] as i32), set_xattr(a[1], a[2], a[3], a[4])),
        libc::SYS_removexattr => (path(cwd, a[0], true), Change::RemoveXattr { name: a[1] }),
        libc::SYS_lremovexattr => (path(cwd, a[0], false), Change::RemoveXattr { name: a[1] }),
        libc::SYS_fremovexattr => (Target::Fd(a[0] as i32), Change::RemoveXattr { name: a[1] }),
        // setxattrat(dfd, path, at_flags, name, struct xattr_args *, size): the value is read
        // with the arguments structure in `read_change`.
        SYS_SETXATTRAT => {
            (at_path(a[0], a[1], a[2], NOFOLLOW | EMPTY)?, Change::SetXattrArgs { name: a[3], args: a[4], size: a[5] })
        }
        SYS_REMOVEXATTRAT => (at_path(a[0], a[1], a[2], NOFOLLOW | EMPTY)?, Change::RemoveXattr { name: a[3] }),
        libc::SYS_utimensat => {
            let times = Change::Times(if a[2] == 0 { Times::Now } else { Times::Timespecs(a[2]) });
            if a[1] == 0 {
                // futimens: the descriptor itself (the kernel refuses flags and AT_FDCWD here).
                if a[3] != 0 {
                    return Err(Errno(libc::EINVAL));
                }
                if a[0] as i32 == libc::AT_FDCWD {
                    return Err(Errno(libc::EFAULT));
                }
                (Target::Fd(a[0] as i32), times)
            } else {
                (at_path(a[0], a[1], a[3], NOFOLLOW | EMPTY)?, times)
            }
        }
        libc::SYS_truncate => (path(cwd, a[0], true), Change::Truncate(a[1] as i64)),
        _ => return Err(Errno(libc::ENOSYS)),
    })
}

use crate::seccomp::{SYS_FCHMODAT2, SYS_REMOVEXATTRAT, SYS_SETXATTRAT};

fn proc_entry(tid: u32, entry: &[u8], fd: Option<i32>) -> ShortPath {
    let path = ShortPath::proc(tid, entry);
    match fd {
        Some(fd) => path.text(b"/").number(fd as u32 as u64),
        None => path,
    }
}

/// Reads a NUL-terminated string at `address` of thread `tid` into `buf`, one page-bounded
/// piece at a time (a string may end just before unmapped memory); its length without the NUL.
fn read_string(tid: u32, address: u64, buf: &mut [u8], too_long: Errno) -> SysResult<usize> {
    if address == 0 {
        return Err(Errno(libc::EFAULT));
    }
    let pid = tid as libc::pid_t;
    let mut filled = 0usize;
    while filled < buf.len() {
        let at = address.wrapping_add(filled as u64);
        let to_page_end = 4096usize.saturating_sub((at % 4096) as usize).max(1);
        let end = filled.saturating_add(to_page_end).min(buf.len());
        let chunk = buf.get_mut(filled..end).ok_or(Errno(libc::EFAULT))?;
        let read = sys::process_vm_read(pid, at, chunk)?;
        if read == 0 {
            return Err(Errno(libc::EFAULT));
        }
        if let Some(nul) = chunk.get(..read).and_then(|c| c.iter().position(|b| *b == 0)) {
            return Ok(filled.saturating_add(nul));
        }
        filled = filled.saturating_add(read);
    }
    Err(too_long)
}

fn answer(listener: RawFd, notif: &SeccompNotif, image: &SupervisorImage) -> SysResult<()> {
    let (target, change) = decode(i64::from(notif.data.nr), notif.data.args)?;
    let tid = notif.pid;
    // 1. Everything of the caller's memory first.
    let mut path = [0u8; PATH_MAX];
    let path_len = match target {
        Target::Path { path: address, .. } => read_string(tid, address, &mut path, Errno(libc::ENAMETOOLONG))?,
        Target::Fd(_) => 0,
    };
    let mut name = [0u8; NAME_MAX];
    let mut value_len = 0usize;
    let mut times = [libc::timespec { tv_sec: 0, tv_nsec: 0 }; 2];
    let mut times_given = false;
    let mut xattr_flags = 0;
    let Ok(mut value) = image.value.try_borrow_mut() else { return Err(Errno(libc::ENOMEM)) };
    match change {
        Change::SetXattr { .. } | Change::SetXattrArgs { .. } => {
            let (name_at, value_at, size, flags) = match change {
                Change::SetXattrArgs { name, args: args_at, size } => {
                    // struct xattr_args { __aligned_u64 value; __u32 size; __u32 flags; }
                    if size < 16 {
                        return Err(Errno(libc::EINVAL));
                    }
                    if size > 16 {
                        return Err(Errno(libc::E2BIG));
                    }
                    let mut args = [0u8; 16];
                    read_exact(tid, args_at, &mut args)?;
                    let word = |range: std::ops::Range<usize>| {
                        args.get(range).unwrap_or_default().iter().rev().fold(0u64, |v, b| (v << 8) | u64::from(*b))
                    };
                    (name, word(0..8), word(8..12), word(12..16) as i32)
                }
                Change::SetXattr { name, value, size, flags } => (name, value, size, flags),
                _ => return Err(Errno(libc::EINVAL)),
            };
            read_string(tid, name_at, &mut name, Errno(libc::ERANGE))?;
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            if size > value.len() {
                return Err(Errno(libc::E2BIG));
            }
            if size > 0 {
                read_exact(tid, value_at, value.get_mut(..size).ok_or(Errno(libc::E2BIG))?)?;
            }
            value_len = size;
            xattr_flags = flags;
        }
        Change::RemoveXattr { name: name_at } => {
            read_string(tid, name_at, &mut name, Errno(libc::ERANGE))?;
        }
        Change::Times(given) => {
            times_given = given != Times::Now;
            read_times(tid, given, &mut times)?;
        }
        Change::Mode(_) | Change::Owner(..) | Change::Truncate(_) => {}
    }
    // 2. The caller's directory or descriptor, then the check that `tid` is still the caller.
    let path_bytes = path.get(..path_len).unwrap_or_default();
    let caller_dir = match target {
        Target::Fd(fd) => Some(open_callers_fd(tid, fd)?),
        // An absolute path does not depend on the directory.
        Target::Path { .. } if path_bytes.first() == Some(&b'/') => None,
        Target::Path { dirfd, .. } if dirfd == libc::AT_FDCWD => {
            Some(sys::open(proc_entry(tid, b"/cwd", None).c_str(), libc::O_PATH).map_err(|_| Errno(libc::ENOENT))?)
        }
        Target::Path { dirfd, .. } => Some(open_callers_fd(tid, dirfd)?),
    };
    if !sys::notif_id_valid(listener, notif.id) {
        return Err(Errno(libc::ESRCH));
    }
    // 3. The object, resolved here.
    let object = match (target, caller_dir) {
        (Target::Fd(_), Some(fd)) => fd,
        (Target::Path { empty_path, .. }, Some(dir)) if path_bytes.is_empty() => {
            if !empty_path {
                return Err(Errno(libc::ENOENT));
            }
            dir
        }
        (Target::Path { follow, .. }, dir) => {
            let path_c = CStr::from_bytes_until_nul(path.get(..=path_len).unwrap_or_default())
                .map_err(|_| Errno(libc::EINVAL))?;
            let nofollow = if follow { 0 } else { libc::O_NOFOLLOW };
            let how = sys::OpenHow {
                flags: (libc::O_PATH | libc::O_CLOEXEC | nofollow) as u64,
                mode: 0,
                resolve: sys::RESOLVE_NO_MAGICLINKS,
            };
            let dir_fd = dir.as_ref().map_or(libc::AT_FDCWD, AsRawFd::as_raw_fd);
            sys::openat2_at(dir_fd, path_c, &how)?
        }
        (Target::Fd(_), None) => return Err(Errno(libc::EBADF)),
    };
    // 4. Inside a writable root?
    let st = sys::fstat(object.as_raw_fd())?;
    if !inside_a_root(&object, &st, &image.roots) {
        return Err(Errno(libc::EPERM));
    }
    // 5. Performed on our own descriptor.
    let is_symlink = st.st_mode & libc::S_IFMT == libc::S_IFLNK;
    let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
    let mut own = own_fd_path(&object);
    let name_c = CStr::from_bytes_until_nul(&name).unwrap_or(c"");
    match change {
        Change::Mode(mode) => {
            let mode = mode & 0o7777;
            if mode & libc::S_ISUID != 0 || (mode & libc::S_ISGID != 0 && !is_dir) {
                return Err(Errno(libc::EPERM));
            }
            if is_symlink {
                return Err(Errno(libc::EOPNOTSUPP));
            }
            sys::fchmodat(libc::AT_FDCWD, own.c_str(), mode)
        }
        Change::Owner(uid, gid) => sys::fchown_object(object.as_raw_fd(), uid, gid),
        Change::SetXattr { .. } | Change::SetXattrArgs { .. } if is_symlink => Err(Errno(libc::EPERM)),
        Change::SetXattr { .. } | Change::SetXattrArgs { .. } => {
            sys::setxattr(own.c_str(), name_c, value.get(..value_len).unwrap_or_default(), xattr_flags)
        }
        Change::RemoveXattr { .. } if is_symlink => Err(Errno(libc::EPERM)),
        Change::RemoveXattr { .. } => sys::removexattr(own.c_str(), name_c),
        Change::Times(_) => {
            let times = times_given.then_some(&times);
            if is_symlink {
                sys::utimensat(object.as_raw_fd(), c"", times, libc::AT_EMPTY_PATH)
            } else {
                sys::utimensat(libc::AT_FDCWD, own.c_str(), times, 0)
            }
        }
        Change::Truncate(length) => sys::truncate(own.c_str(), length),
    }
}

/// The caller's descriptor `fd` as an `O_PATH` descriptor of ours (EBADF when it has none).
fn open_callers_fd(tid: u32, fd: i32) -> SysResult<OwnedFd> {
    if fd < 0 {
        return Err(Errno(libc::EBADF));
    }
    sys::open(proc_entry(tid, b"/fd", Some(fd)).c_str(), libc::O_PATH).map_err(|errno| match errno.0 {
        libc::ENOENT => Errno(libc::EBADF),
        _ => errno,
    })
}

/// The timestamps of `given` as `timespec`s (utime's seconds, utimes' microseconds).
fn read_times(tid: u32, given: Times, out: &mut [libc::timespec; 2]) -> SysResult<()> {
    let mut raw = [0u8; 32];
    let word = |raw: &[u8; 32], index: usize| {
        let start = index.saturating_mul(8);
        raw.get(start..start.saturating_add(8))
            .unwrap_or_default()
            .iter()
            .rev()
            .fold(0i64, |v, b| (v << 8) | i64::from(*b))
    };
    match given {
        Times::Now => return Ok(()),
        Times::Utimbuf(address) => {
            read_exact(tid, address, raw.get_mut(..16).unwrap_or_default())?;
            for (index, slot) in out.iter_mut().enumerate() {
                *slot = libc::timespec { tv_sec: word(&raw, index), tv_nsec: 0 };
            }
        }
        Times::Timevals(address) => {
            read_exact(tid, address, &mut raw)?;
            for (index, slot) in out.iter_mut().enumerate() {
                let usec = word(&raw, index.saturating_mul(2).saturating_add(1));
                if !(0..1_000_000).contains(&usec) {
                    return Err(Errno(libc::EINVAL));
                }
                *slot =
                    libc::timespec { tv_sec: word(&raw, index.saturating_mul(2)), tv_nsec: usec.saturating_mul(1000) };
            }
        }
        Times::Timespecs(address) => {
            read_exact(tid, address, &mut raw)?;
            for (index, slot) in out.iter_mut().enumerate() {
                *slot = libc::timespec {
                    tv_sec: word(&raw, index.saturating_mul(2)),
                    tv_nsec: word(&raw, index.saturating_mul(2).saturating_add(1)),
                };
            }
        }
    }
    Ok(())
}

/// Whether `object` (with `st` its fstat) is a writable root or lies beneath one: its path as
/// the kernel names it, resolved again beneath the root's descriptor without any symlink, is
/// the same inode. A path that changed meanwhile finds another inode, or none: outside.
fn inside_a_root(object: &OwnedFd, st: &libc::stat, roots: &[RootImage]) -> bool {
    let mut own = own_fd_path(object);
    let mut name = [0u8; PATH_MAX];
    let Ok(length) = sys::readlink(own.c_str(), &mut name) else { return false };
    if length >= name.len() {
        return false;
    }
    let name = name.get(..length).unwrap_or_default();
    let same = |fd: RawFd| sys::fstat(fd).is_ok_and(|other| other.st_dev == st.st_dev && other.st_ino == st.st_ino);
    roots.iter().any(|root| {
        let prefix = root.path.to_bytes();
        let Some(rest) = name.strip_prefix(prefix) else { return false };
        let rest = if prefix.ends_with(b"/") {
            rest
        } else if rest.is_empty() {
            return same(root.fd.as_raw_fd());
        } else if let Some(rest) = rest.strip_prefix(b"/") {
            rest
        } else {
            return false;
        };
        if rest.is_empty() {
            return same(root.fd.as_raw_fd());
        }
        let mut beneath = [0u8; PATH_MAX];
        for (slot, byte) in beneath.iter_mut().zip(rest) {
            *slot = *byte;
        }
        let Ok(rest_c) = CStr::from_bytes_until_nul(&beneath) else { return false };
        if rest_c.to_bytes().len() != rest.len() {
            return false;
        }
        let how = sys::OpenHow {
            flags: (libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC) as u64,
            mode: 0,
            resolve: sys::RESOLVE_BENEATH | sys::RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_MAGICLINKS,
        };
        sys::openat2_at(root.fd.as_raw_fd(), rest_c, &how).is_ok_and(|found| same(found.as_raw_fd()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_paths_and_decoding() {
        assert_eq!(proc_entry(4242, b"/fd", Some(7)).c_str(), c"/proc/4242/fd/7");
        assert_eq!(proc_entry(1, b"/cwd", None).c_str(), c"/proc/1/cwd");
        assert_eq!(ShortPath::new().number(0).c_str(), c"0");
        let cwd = libc::AT_FDCWD as u32 as u64;
        assert_eq!(
            decode(SYS_FCHMODAT2, [cwd, 0x1000, 0o755, NOFOLLOW as u64, 0, 0]),
            Ok((
                Target::Path { dirfd: libc::AT_FDCWD, path: 0x1000, follow: false, empty_path: false },
                Change::Mode(0o755)
            ))
        );
        assert_eq!(decode(SYS_FCHMODAT2, [cwd, 0x1000, 0o755, 0x8000, 0, 0]), Err(Errno(libc::EINVAL)));
        assert_eq!(decode(libc::SYS_utimensat, [5, 0, 0, 0, 0, 0]), Ok((Target::Fd(5), Change::Times(Times::Now))));
        assert_eq!(decode(libc::SYS_utimensat, [cwd, 0, 0, 0, 0, 0]), Err(Errno(libc::EFAULT)));
        assert_eq!(decode(libc::SYS_getpid, [0; 6]), Err(Errno(libc::ENOSYS)));
    }
}
