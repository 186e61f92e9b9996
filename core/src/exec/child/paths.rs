//! Paths the child opens or creates: without following symlinks (with `openat2`, or one
//! component at a time on kernels before 5.6), and mount points made where the view lacks them.
//! Shared by the new-mount-API view (`view`) and the classic one (`classic`).

use std::ffi::CStr;
use std::os::fd::{AsRawFd, OwnedFd};

use super::kernel::Kernel;
use crate::exec::report::{Failure, Stage, Step};
use crate::sys::{self, Errno, SysResult};

/// `openat2` resolution for Landlock rule paths: no symlink anywhere. Rule paths are
/// canonical, so a symlink on the way means the path was swapped since planning (a background
/// process of an earlier run, say), and following it could grant access elsewhere. Used by the
/// parent for the host's rules and by the child for its own view's.
pub(crate) const RULE_PATH: sys::OpenHow = sys::OpenHow {
    flags: (libc::O_PATH | libc::O_CLOEXEC) as u64,
    mode: 0,
    resolve: sys::RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_MAGICLINKS,
};

/// Creates the missing parent directories of `path` (an absolute path).
pub(super) fn ensure_parents(k: &impl Kernel, path: &CStr) -> Step {
    let bytes = path.to_bytes();
    let mut buffer = [0u8; libc::PATH_MAX as usize];
    if bytes.len() >= buffer.len() {
        return Err(Failure::new(Stage::ProtectOpen, Errno(libc::ENAMETOOLONG)));
    }
    for (slot, byte) in buffer.iter_mut().zip(bytes) {
        *slot = *byte;
    }
    for (end, byte) in bytes.iter().enumerate().skip(1) {
        if *byte != b'/' {
            continue;
        }
        // Cut the copy at this slash, create the prefix, then restore the slash.
        if let Some(slot) = buffer.get_mut(end) {
            *slot = 0;
        }
        let prefix =
            CStr::from_bytes_until_nul(&buffer).map_err(|_| Failure::new(Stage::ProtectOpen, Errno(libc::EINVAL)))?;
        match k.mkdir(prefix, 0o755) {
            Ok(()) => {}
            Err(errno) if errno.0 == libc::EEXIST => {}
            Err(errno) => return Err(Failure::new(Stage::ProtectOpen, errno)),
        }
        if let Some(slot) = buffer.get_mut(end) {
            *slot = b'/';
        }
    }
    Ok(())
}

/// Makes sure `path` exists to be mounted on: a directory, or an empty file.
pub(super) fn ensure_mountpoint(k: &impl Kernel, path: &CStr, is_dir: bool) -> Step {
    ensure_parents(k, path)?;
    let created = if is_dir { k.mkdir(path, 0o755) } else { k.create_file(path, 0o644).map(drop) };
    match created {
        Ok(()) => Ok(()),
        Err(errno) if errno.0 == libc::EEXIST => Ok(()),
        // A read-only view already holding the path answers EROFS for mkdir on it.
        Err(errno) if errno.0 == libc::EROFS => Ok(()),
        Err(errno) => Err(Failure::new(Stage::ProtectOpen, errno)),
    }
}

/// `openat2` with `how`, or where the kernel (before 5.6) or a filter lacks it, the same
/// resolution done one component at a time ([`open_no_symlinks`]).
pub(crate) fn open_without_symlinks(k: &impl Kernel, path: &CStr, how: &sys::OpenHow) -> sys::SysResult<OwnedFd> {
    match k.openat2(path, how) {
        Err(errno) if matches!(errno.0, libc::ENOSYS | libc::EPERM) => open_no_symlinks(k, path),
        other => other,
    }
}

/// Opens absolute `path` one component at a time with `O_PATH|O_NOFOLLOW`, refusing any
/// symlink on the way or at the end (ELOOP) and `.`/`..` (EINVAL): what `openat2` with
/// `RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS` does, for kernels before 5.6.
pub(crate) fn open_no_symlinks(k: &impl Kernel, path: &CStr) -> SysResult<OwnedFd> {
    if path.to_bytes().first() != Some(&b'/') {
        return Err(Errno(libc::EINVAL));
    }
    let mut current = k.open(c"/", libc::O_PATH | libc::O_DIRECTORY)?;
    let mut name = [0u8; 256];
    for component in path.to_bytes().split(|byte| *byte == b'/').filter(|c| !c.is_empty()) {
        if component == b"." || component == b".." {
            return Err(Errno(libc::EINVAL));
        }
        let mut slots = name.iter_mut();
        for byte in component {
            *slots.next().ok_or(Errno(libc::ENAMETOOLONG))? = *byte;
        }
        *slots.next().ok_or(Errno(libc::ENAMETOOLONG))? = 0;
        let component = CStr::from_bytes_until_nul(&name).map_err(|_| Errno(libc::EINVAL))?;
        let next = k.openat(current.as_raw_fd(), component, libc::O_PATH | libc::O_NOFOLLOW)?;
        if k.fstat(next.as_raw_fd())?.st_mode & libc::S_IFMT == libc::S_IFLNK {
            return Err(Errno(libc::ELOOP));
        }
        current = next;
    }
    Ok(current)
}
