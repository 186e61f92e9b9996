//! The panic hook of the sandbox's child.
//!
//! Rust runs the panic hook before it unwinds, so the [`super::UnwindGuard`] alone comes too
//! late: std's default hook reads `RUST_BACKTRACE` (allocating) and locks stderr, and in a
//! child cloned from a multi-threaded host either may wait forever on a lock that another
//! thread of the host held at the moment of the clone. [`install`] chains a hook in front of
//! whatever hook the host has; in the child, after [`enter`], it reports the panic over the
//! report pipe and exits without looking at the panic's message and without returning, so
//! nothing unwinds either. In the host it calls the previous hook unchanged.
//!
//! What remains: for a panic with a formatted message (`panic!("{x}")`, an out-of-bounds
//! index) std formats the message into a `String` before it calls any hook. The lints of
//! [`super`] turn those panic sites into compile errors; a literal message allocates nothing.

use std::os::fd::RawFd;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use crate::exec::report::{Failure, Stage};
use crate::sys::Errno;

/// Set in the child's copy of memory only (the clone is fork-like), so the host never sees it.
static IN_CHILD: AtomicBool = AtomicBool::new(false);
static REPORT_FD: AtomicI32 = AtomicI32::new(-1);

/// Installs the hook once per process; called by the parent before its first clone.
pub(crate) fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_CHILD.load(Ordering::Relaxed) {
                super::report(REPORT_FD.load(Ordering::Relaxed), Failure::new(Stage::Panic, Errno(0)));
            }
            previous(info)
        }));
    });
}

/// Marks this process as a sandbox child whose panics are reported on `report_fd`.
pub(crate) fn enter(report_fd: RawFd) {
    REPORT_FD.store(report_fd, Ordering::Relaxed);
    IN_CHILD.store(true, Ordering::Relaxed);
}
