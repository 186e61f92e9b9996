//! Waiting for a child while passing the caller's termination signals on to it.
//!
//! The sandboxed command runs in its own session, so a terminal's Ctrl-C reaches only the
//! launcher; a launcher that wants the usual behaviour forwards the signal. The forwarder blocks
//! the signals in the calling thread and reads them from a `signalfd`, alongside the child's
//! pidfd, in one `poll` loop: no handler runs, so nothing here has to be async-signal-safe.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use super::{Child, ExitStatus};
use crate::sys;

/// The signals a launcher forwards by default.
pub const FORWARDED_SIGNALS: [i32; 4] = [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGTERM];

/// Blocks `signals` in the calling thread from creation until drop. Create it *before*
/// spawning, so that a signal arriving in between is queued rather than lost.
pub struct SignalForwarder {
    signalfd: OwnedFd,
    previous_mask: libc::sigset_t,
}

impl SignalForwarder {
    pub fn new(signals: &[i32]) -> io::Result<SignalForwarder> {
        let (signalfd, previous_mask) = sys::block_into_signalfd(signals).map_err(sys::Errno::into_io)?;
        Ok(SignalForwarder { signalfd, previous_mask })
    }

    /// Waits for `child`, sending it every forwarded signal that arrives meanwhile.
    pub fn wait(&self, child: &mut Child) -> io::Result<ExitStatus> {
        drop(child.stdin.take());
        let Some(pidfd) = child.pidfd().map(|fd| fd.as_raw_fd()) else {
            return child.wait();
        };
        loop {
            let ready = sys::poll_two(self.signalfd.as_raw_fd(), pidfd).map_err(sys::Errno::into_io)?;
            if ready.1 {
                return child.wait();
            }
            if ready.0
                && let Some(signal) = sys::read_signalfd(self.signalfd.as_raw_fd()).map_err(sys::Errno::into_io)?
            {
                // The child may exit at any moment; a failed send is then harmless.
                let _ = child.kill(signal);
            }
        }
    }
}

impl Drop for SignalForwarder {
    fn drop(&mut self) {
        sys::set_signal_mask(&self.previous_mask);
    }
}
