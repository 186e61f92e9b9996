//! The raw system-call layer, one module per concern.
//!
//! Every `unsafe` call into the kernel that the sandbox makes lives here; the only other
//! `unsafe` code is at the FFI and N-API boundaries (`ffi`, `node`), which call the helpers
//! exported from here rather than libc. Each wrapper is async-signal-safe: it allocates
//! nothing, takes no lock and cannot panic, so the forked child may call any of them. Errors
//! come back as [`Errno`], a plain integer.
//!
//! Wrappers that could break an invariant of safe Rust are `unsafe fn` ([`process::clone_process`],
//! [`process::execve`], [`fd::close_raw`]) or take typed arguments (owned descriptors).
#![deny(
    clippy::indexing_slicing,
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arithmetic_side_effects
)]

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// An `errno` value from a failed system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// The calling thread's current `errno`.
    pub fn last() -> Errno {
        // SAFETY: __errno_location always returns a valid pointer to this thread's errno.
        Errno(unsafe { *libc::__errno_location() })
    }

    pub fn into_io(self) -> std::io::Error {
        std::io::Error::from_raw_os_error(self.0)
    }
}

pub type SysResult<T> = Result<T, Errno>;

/// Takes ownership of a descriptor a system call has just returned.
fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: only called on fresh descriptors from a successful system call, which nothing
    // else owns yet.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Turns the `-1 means errno` convention into a `Result`.
fn check(ret: libc::c_long) -> SysResult<libc::c_long> {
    if ret == -1 { Err(Errno::last()) } else { Ok(ret) }
}

fn check_int(ret: libc::c_int) -> SysResult<libc::c_int> {
    if ret == -1 { Err(Errno::last()) } else { Ok(ret) }
}

pub mod broker;
pub mod caps;
pub mod event;
pub mod fd;
pub mod fs;
pub mod landlock;
pub mod mount;
pub mod net;
pub mod notify;
pub mod process;
pub mod seccomp;
pub mod signal;

pub use broker::*;
pub use caps::*;
pub use event::*;
pub use fd::*;
pub use fs::*;
pub use landlock::*;
pub use mount::*;
pub use net::*;
pub use notify::*;
pub use process::*;
pub use seccomp::*;
pub use signal::*;
