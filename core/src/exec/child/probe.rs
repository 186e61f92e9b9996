//! The host probe's children. The namespace probe ([`run`]), cloned into the namespace
//! pipeline's namespaces, tries the pipeline's steps one by one and writes each step's errno
//! (0: it worked) to the probe's pipe. The listener probe ([`run_listener_probe`]), forked
//! without namespaces, installs a seccomp filter with a listener as the metadata supervisor's
//! command would, and writes that errno.
//!
//! It runs between `clone` and `_exit` in a copy of a possibly multi-threaded host, so it
//! obeys the rules of [`super`]: the same lints, raw system calls only, no allocation (the maps
//! are formatted by the parent), and a panic ends it with exit 125 and no report, which the
//! parent reads as a probe that could not run.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, RawFd};

use crate::sys::{self, SysResult};

/// The steps, in the order their errnos are reported.
pub(crate) const STEP_COUNT: usize = 7;
/// The steps that must work for the namespace pipeline to run at all come first.
pub(crate) const REQUIRED_STEPS: usize = 4;
pub(crate) const PROC_STEP: usize = 4;
pub(crate) const LOOPBACK_STEP: usize = 5;
pub(crate) const MOUNT_API_STEP: usize = 6;
/// The report: one native-endian `i32` errno per step; -1 for a step that was not tried.
pub(crate) const REPORT_LEN: usize = STEP_COUNT * 4;

/// What the parent prepared for the probe child.
pub(crate) struct ProbeImage<'a> {
    pub report_fd: RawFd,
    /// `"<uid> <uid> 1\n"`, formatted before the clone.
    pub uid_map: &'a [u8],
    pub gid_map: &'a [u8],
    /// Whether the child is in a new network namespace whose `lo` it should bring up.
    pub network: bool,
    pub try_mount_api: bool,
}

/// Runs the probe and exits. Never returns.
pub(crate) fn run(image: &ProbeImage) -> ! {
    // -1: a panic exits without writing, so the parent sees a short report.
    super::panic::enter(-1);
    let guard = ExitOnUnwind;
    let results = try_steps(image);
    let mut bytes = [0u8; REPORT_LEN];
    for (chunk, result) in bytes.chunks_mut(4).zip(results) {
        chunk.copy_from_slice(&result.to_ne_bytes());
    }
    let _ = sys::write_all(image.report_fd, &bytes);
    std::mem::forget(guard);
    sys::exit_immediately(0)
}

fn try_steps(image: &ProbeImage) -> [i32; STEP_COUNT] {
    let mut results = [-1i32; STEP_COUNT];
    let required = [
        write_file(c"/proc/self/setgroups", b"deny"),
        write_file(c"/proc/self/uid_map", image.uid_map),
        write_file(c"/proc/self/gid_map", image.gid_map),
        sys::mount_propagation(c"/", libc::MS_REC | libc::MS_PRIVATE),
    ];
    for (slot, result) in results.iter_mut().zip(required) {
        *slot = errno_of(result);
        if *slot != 0 {
            return results;
        }
    }
    // This child is PID 1 of its PID namespace, as the sandbox's init would be.
    let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    set(&mut results, PROC_STEP, errno_of(sys::mount(c"proc", c"/proc", c"proc", flags, None)));
    set(&mut results, LOOPBACK_STEP, if image.network { errno_of(sys::bring_up_loopback()) } else { 0 });
    if image.try_mount_api {
        let attr = sys::MountAttr { attr_set: sys::MOUNT_ATTR_RDONLY, ..Default::default() };
        let clone = sys::OPEN_TREE_CLONE | sys::OPEN_TREE_CLOEXEC | libc::AT_RECURSIVE as u32;
        let tried = sys::open(c"/", libc::O_PATH | libc::O_DIRECTORY)
            .and_then(|root| sys::open_tree(root.as_raw_fd(), clone))
            .and_then(|tree| sys::mount_setattr(tree.as_raw_fd(), libc::AT_RECURSIVE as u32, &attr));
        set(&mut results, MOUNT_API_STEP, errno_of(tried));
    }
    results
}

/// Tries what the metadata supervisor's command does — no_new_privs, then a seccomp filter
/// (one that allows everything) with a listener — and writes the errno (0: it worked) as a
/// native-endian `i32`, then exits. It inherited the launcher's filters, as the command will:
/// where one of them already has a listener (a container runtime's seccomp agent), the kernel
/// refuses a second one with EBUSY. Never returns.
pub(crate) fn run_listener_probe(report_fd: RawFd) -> ! {
    super::panic::enter(-1);
    let guard = ExitOnUnwind;
    const ALLOW_EVERYTHING: [sys::SockFilter; 1] = [sys::SockFilter { code: 0x06, jt: 0, jf: 0, k: 0x7fff_0000 }];
    let installed = sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1)
        .and_then(|_| sys::seccomp_set_filter_listener(&ALLOW_EVERYTHING))
        .map(drop);
    let _ = sys::write_all(report_fd, &errno_of(installed).to_ne_bytes());
    std::mem::forget(guard);
    sys::exit_immediately(0)
}

fn set(results: &mut [i32; STEP_COUNT], step: usize, errno: i32) {
    if let Some(slot) = results.get_mut(step) {
        *slot = errno;
    }
}

fn errno_of(result: SysResult<()>) -> i32 {
    result.err().map_or(0, |errno| errno.0)
}

fn write_file(path: &CStr, data: &[u8]) -> SysResult<()> {
    sys::open(path, libc::O_WRONLY).and_then(|fd| sys::write_all(fd.as_raw_fd(), data))
}

/// Ends the probe child if a panic unwinds past [`run`] despite the hook.
struct ExitOnUnwind;

impl Drop for ExitOnUnwind {
    fn drop(&mut self) {
        sys::exit_immediately(125)
    }
}
