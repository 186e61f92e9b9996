//! Placeholders for protected paths that do not exist yet (`.codex` in the policy cwd).
//!
//! A read-only mount needs something to mount on, so the parent creates an empty directory at
//! the missing path for the duration of the run and the child binds it read-only over itself:
//! the command sees an empty, read-only `.codex` and cannot create anything there.
//!
//! Several sandboxes may share one placeholder (two commands in the same cwd). Removing it
//! while another sandbox still uses it would lift that sandbox's mount (the kernel detaches
//! mounts on a removed directory in every namespace), so each user holds a shared `flock` on
//! the directory, and only a user that can upgrade to an exclusive lock — the last one —
//! removes it. A placeholder left behind by a killed parent is an empty directory that the next
//! run treats as an existing, protected `.codex`.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::sys;

/// How often to retry when a concurrent run removes the placeholder under us.
const ATTEMPTS: usize = 16;

pub(crate) struct Placeholder {
    path: PathBuf,
    lock: OwnedFd,
    identity: (u64, u64),
}

impl std::fmt::Debug for Placeholder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Placeholder")
            .field("path", &self.path)
            .finish()
    }
}

impl Placeholder {
    /// Creates (or joins) the placeholder directory at `path` and takes a shared lock on it.
    pub(crate) fn acquire(path: &Path) -> Result<Placeholder> {
        let c_path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| Error::Internal(format!("NUL byte in {}", path.display())))?;
        for _ in 0..ATTEMPTS {
            match fs::DirBuilder::new().mode(0o755).create(path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(Error::path(
                        "cannot create a placeholder for the protected path",
                        path,
                        e,
                    ));
                }
            }
            let fd = match sys::open(
                &c_path,
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            ) {
                Ok(fd) => fd,
                Err(errno) if errno.0 == libc::ENOENT => continue,
                Err(errno) => {
                    return Err(Error::path(
                        "protected path appeared as something other than a directory",
                        path,
                        errno.into_io(),
                    ));
                }
            };
            // SAFETY: open returned a fresh descriptor that nothing else owns.
            let lock = unsafe { OwnedFd::from_raw_fd(fd) };
            sys::flock(lock.as_raw_fd(), libc::LOCK_SH)
                .map_err(|errno| Error::path("cannot lock placeholder", path, errno.into_io()))?;
            let held = sys::fstat(lock.as_raw_fd()).map_err(|errno| {
                Error::path("cannot inspect placeholder", path, errno.into_io())
            })?;
            let identity = (held.st_dev, held.st_ino);
            // The last user of an earlier placeholder may have removed it between our open and
            // our lock; then the path is gone or is a new directory, and we start over.
            match fs::symlink_metadata(path) {
                Ok(now) if (now.dev(), now.ino()) == identity => {
                    return Ok(Placeholder {
                        path: path.to_path_buf(),
                        lock,
                        identity,
                    });
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

    /// Removes the placeholder if no other run holds it. Call only once the sandboxed process
    /// is gone.
    pub(crate) fn release(self) {
        if sys::flock(self.lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB).is_ok()
            && let Ok(now) = fs::symlink_metadata(&self.path)
            && (now.dev(), now.ino()) == self.identity
        {
            // Fails (and leaves it) if someone put files in it from outside.
            let _ = fs::remove_dir(&self.path);
        }
    }
}
