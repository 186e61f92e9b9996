//! The child handle: the core's `Child` plus what the C API reads without locking.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use codex_sandbox_core::sys;
use codex_sandbox_core::{Child, ExitStatus};

use crate::error::FfiError;

/// A running (or finished) sandboxed command, returned by codex_sandbox_spawn().
///
/// Opaque; owned by the caller, who releases it with codex_sandbox_child_free(). The handle
/// may be used from several threads at once (codex_sandbox_kill() from one thread while
/// another blocks in codex_sandbox_wait() is the intended use), except that
/// codex_sandbox_child_free() must not race with any other call on the same handle.
pub struct codex_sandbox_child {
    pid: i32,
    /// The core's pidfd, owned by `inner`, which lives as long as this handle.
    pidfd: RawFd,
    /// `pid` is the sandbox's init (namespace pipeline).
    via_init: bool,
    reaped: AtomicBool,
    /// Set once reaped: the wall-clock limit ended the run.
    wall_time_exceeded: AtomicBool,
    /// The parent ends of the pipes: stdin, stdout, stderr.
    stdio: Mutex<[Option<OwnedFd>; 3]>,
    inner: Mutex<Child>,
}

/// The protected-name failure of a reaped child, as the C API reports it.
fn violation(child: &Child) -> Option<FfiError> {
    child.protected_name_violation().map(|error| {
        FfiError::new(crate::error::codex_sandbox_result::CODEX_SANDBOX_PROTECTED_NAME_CREATED, error.to_string())
    })
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl codex_sandbox_child {
    pub(crate) fn new(mut child: Child) -> codex_sandbox_child {
        let stdio = [
            child.stdin.take().map(OwnedFd::from),
            child.stdout.take().map(OwnedFd::from),
            child.stderr.take().map(OwnedFd::from),
        ];
        codex_sandbox_child {
            pid: child.id() as i32,
            pidfd: child.pidfd().map_or(-1, |fd| fd.as_raw_fd()),
            via_init: child.is_sandbox_init(),
            reaped: AtomicBool::new(false),
            wall_time_exceeded: AtomicBool::new(false),
            stdio: Mutex::new(stdio),
            inner: Mutex::new(child),
        }
    }

    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }

    pub(crate) fn pidfd(&self) -> RawFd {
        self.pidfd
    }

    pub(crate) fn stdio_fd(&self, which: usize) -> RawFd {
        lock(&self.stdio)[which].as_ref().map_or(-1, AsRawFd::as_raw_fd)
    }

    pub(crate) fn take_stdio(&self, which: usize) -> Option<OwnedFd> {
        lock(&self.stdio)[which].take()
    }

    /// Blocks until the command exits. Closes the parent's end of a stdin pipe first, so a
    /// command reading stdin sees end of file.
    /// Also returns the run's protected-name failure (see [`Child::protected_name_violation`]).
    pub(crate) fn wait(&self) -> Result<(ExitStatus, Option<FfiError>), FfiError> {
        drop(self.take_stdio(0));
        let mut inner = lock(&self.inner);
        let status = inner.wait().map_err(|e| FfiError::io("waitpid", &e))?;
        self.wall_time_exceeded.store(inner.wall_time_exceeded(), Ordering::SeqCst);
        self.reaped.store(true, Ordering::SeqCst);
        Ok((status, violation(&inner)))
    }

    /// `None` while the command runs, or while another thread is blocked in [`Self::wait`].
    pub(crate) fn try_wait(&self) -> Result<Option<(ExitStatus, Option<FfiError>)>, FfiError> {
        let mut inner = match self.inner.try_lock() {
            Ok(inner) => inner,
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Ok(None),
        };
        let status = inner.try_wait().map_err(|e| FfiError::io("waitpid", &e))?;
        if status.is_some() {
            self.wall_time_exceeded.store(inner.wall_time_exceeded(), Ordering::SeqCst);
            self.reaped.store(true, Ordering::SeqCst);
        }
        Ok(status.map(|status| (status, violation(&inner))))
    }

    /// Whether the run's wall-clock limit ended it (known once waited for).
    pub(crate) fn wall_time_exceeded(&self) -> bool {
        self.wall_time_exceeded.load(Ordering::SeqCst)
    }

    /// Sends `signal` through the pidfd (never to a recycled pid), without taking the lock
    /// that a blocked [`Self::wait`] holds.
    pub(crate) fn kill(&self, signal: i32) -> Result<(), FfiError> {
        let esrch = || FfiError::io("send a signal to the child", &std::io::Error::from_raw_os_error(libc::ESRCH));
        if self.reaped.load(Ordering::SeqCst) {
            return Err(FfiError {
                message: "send a signal to the child: it has already been waited for".into(),
                ..esrch()
            });
        }
        let sent = if self.pidfd >= 0 {
            // SAFETY: the pidfd is owned by `inner`, which lives as long as this handle.
            let pidfd = unsafe { std::os::fd::BorrowedFd::borrow_raw(self.pidfd) };
            codex_sandbox_core::exec::signal::deliver(pidfd, self.pid, self.via_init, signal)
        } else {
            // Without a pidfd only the pid names the child: hold the lock `wait` reaps under,
            // so the pid cannot be reaped (and recycled) between the check and the signal.
            let inner = lock(&self.inner);
            if self.reaped.load(Ordering::SeqCst) {
                return Err(FfiError {
                    message: "send a signal to the child: it has already been waited for".into(),
                    ..esrch()
                });
            }
            // The pid of a child that has not been reaped.
            let sent = sys::kill(self.pid, signal).map_err(sys::Errno::into_io);
            drop(inner);
            sent
        };
        sent.map_err(|error| FfiError::io("send a signal to the child", &error))
    }
}
