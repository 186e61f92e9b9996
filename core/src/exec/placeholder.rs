//! Placeholders for protected paths that do not exist yet (`.codex` in the policy cwd).
//!
//! A read-only mount needs something to mount on, so the parent creates an empty directory at
//! the missing path for the duration of the run and the child binds it read-only over itself:
//! the command sees an empty, read-only `.codex` and cannot create anything there.
//!
//! Placeholders carry the extended attribute [`MARKER`], so a later run can tell one from a
//! `.codex` the user made. Several sandboxes may share one placeholder (two commands in the
//! same cwd); removing it while another sandbox still uses it would lift that sandbox's mount
//! (the kernel detaches mounts on a removed directory in every namespace). So each user holds a
//! shared `flock` on the directory, and only a user that can upgrade to an exclusive lock — the
//! last one — removes it. A placeholder left behind by a killed parent is joined and removed by
//! the next run in that directory. On a filesystem without user xattrs only the run that
//! created a placeholder may remove it.

use std::ffi::{CStr, CString};
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::sys;

/// The extended attribute that marks a directory as our placeholder.
pub(crate) const MARKER: &CStr = c"user.codex-sandbox.placeholder";

/// How often to retry when a concurrent run removes the placeholder under us.
const ATTEMPTS: usize = 16;

pub(crate) struct Placeholder {
    path: PathBuf,
    lock: OwnedFd,
    identity: (u64, u64),
    created: bool,
}

impl std::fmt::Debug for Placeholder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Placeholder").field("path", &self.path).field("created", &self.created).finish()
    }
}

/// What is at a placeholder-eligible path right now.
pub(crate) enum Found {
    /// Nothing, or a directory: create or join it. A directory may be another run's
    /// placeholder whose marker is not set yet, so it is never told apart here; whether this
    /// run may remove it is decided at release.
    Placeholder,
    /// Something else (a file): protect it as planned.
    Real,
}

impl Placeholder {
    pub(crate) fn inspect(path: &Path) -> Result<Found> {
        match fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Found::Placeholder),
            Err(e) => Err(Error::path("cannot inspect protected path", path, e)),
            Ok(metadata) if metadata.is_dir() => Ok(Found::Placeholder),
            Ok(_) => Ok(Found::Real),
        }
    }

    /// Creates (or joins) the placeholder directory at `path` and takes a shared lock on it
    /// through a descriptor at `fd_floor` or above.
    pub(crate) fn acquire(path: &Path, fd_floor: RawFd) -> Result<Placeholder> {
        for _ in 0..ATTEMPTS {
            let created = match fs::DirBuilder::new().mode(0o755).create(path) {
                Ok(()) => true,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
                Err(e) => {
                    return Err(Error::path("cannot create a placeholder for the protected path", path, e));
                }
            };
            let lock = match open_dir(path).and_then(|fd| sys::renumber_above(fd, fd_floor)) {
                Ok(fd) => fd,
                Err(errno) if errno.0 == libc::ENOENT => continue,
                Err(errno) => {
                    return Err(Error::path("protected path is not a plain directory", path, errno.into_io()));
                }
            };
            if created {
                // Best effort: without user xattrs, only this run will remove it.
                let _ = sys::fsetxattr(lock.as_raw_fd(), MARKER, b"1");
            }
            // A directory someone else made is joined as it is: this run only protects it and,
            // unless it carries the marker when this run ends, never removes it.
            sys::flock(lock.as_raw_fd(), libc::LOCK_SH)
                .map_err(|errno| Error::path("cannot lock placeholder", path, errno.into_io()))?;
            let held = sys::fstat(lock.as_raw_fd())
                .map_err(|errno| Error::path("cannot inspect placeholder", path, errno.into_io()))?;
            let identity = (held.st_dev, held.st_ino);
            // The last user of an earlier placeholder may have removed it between our open and
            // our lock; then the path is gone or is a new directory, and we start over.
            match fs::symlink_metadata(path) {
                Ok(now) if (now.dev(), now.ino()) == identity => {
                    return Ok(Placeholder { path: path.to_path_buf(), lock, identity, created });
                }
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::path("cannot inspect placeholder", path, e)),
            }
        }
        Err(Error::path(
            "cannot hold a placeholder for the protected path",
            path,
            io::Error::other("it kept being removed by concurrent runs"),
        ))
    }

    pub(crate) fn identity(&self) -> (u64, u64) {
        self.identity
    }

    /// Whether this run or another created it as a placeholder (this run made it, or it
    /// carries [`MARKER`]), rather than joining a directory someone else made.
    pub(crate) fn is_a_placeholder(&self) -> bool {
        self.created || sys::has_xattr(self.lock.as_raw_fd(), MARKER)
    }

    /// The descriptor holding the shared lock (another holder keeps the placeholder alive).
    pub(crate) fn lock_fd(&self) -> RawFd {
        self.lock.as_raw_fd()
    }

    /// Keeps the shared lock for the rest of this process's life: for a sandbox that may still
    /// be running when its handle goes away. Its placeholder is then removed by a later run.
    pub(crate) fn hold_forever(self) {
        std::mem::forget(self.lock);
    }

    /// Removes the placeholder if no other run holds it. Call only once the sandboxed process
    /// is gone.
    pub(crate) fn release(self) {
        let last_user = sys::flock(self.lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB).is_ok();
        let ours = self.is_a_placeholder();
        let unchanged = fs::symlink_metadata(&self.path).is_ok_and(|now| (now.dev(), now.ino()) == self.identity);
        if last_user && ours && unchanged {
            // Fails, and leaves it, if someone put files in it from outside.
            let _ = fs::remove_dir(&self.path);
        }
    }
}

fn open_dir(path: &Path) -> std::result::Result<OwnedFd, sys::Errno> {
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| sys::Errno(libc::EINVAL))?;
    sys::open(&c_path, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW)
}
