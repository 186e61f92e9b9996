//! The command's descriptors: its numbered descriptors set up from their sources, everything
//! else closed.

use std::os::fd::RawFd;

use super::image::FdImage;
use super::kernel::Kernel;
use crate::exec::report::{Failure, Stage, Step, at};
use crate::sys;

/// Puts each source on its number and hands inherited standard streams over as libuv does.
/// Every source sits above every target (the parent renumbered them), so no assignment can
/// clobber the source of another.
pub(crate) fn set_up(k: &impl Kernel, fds: &FdImage) -> Step {
    for &(target, source) in &fds.map {
        // dup2 leaves the new descriptor without FD_CLOEXEC: it survives execve.
        // SAFETY: `target` is one of the command's numbers; nothing of this process owns it
        // (the parent put every descriptor of its own above all targets).
        at(Stage::Stdio, unsafe { k.dup2(source, target) })?;
    }
    for (target, inherit) in (0..).zip(fds.inherit) {
        // A host that marked its stream close-on-exec (Node does) still means the command to
        // have it; a closed one stays closed.
        if inherit && k.is_open(target) {
            at(Stage::Stdio, k.set_cloexec(target, false))?;
        }
    }
    Ok(())
}

/// Closes every descriptor ≥ 3 that is not in `keep` (ascending).
pub(crate) fn close_other_fds(k: &impl Kernel, keep: &[RawFd], fd_limit: RawFd) -> Step {
    let mut low: RawFd = 3;
    for &fd in keep {
        if fd > low {
            close_span(k, low, fd.saturating_sub(1), fd_limit)?;
        }
        if fd >= low {
            low = fd.saturating_add(1);
        }
    }
    close_span(k, low, RawFd::MAX, fd_limit)
}

/// Closes `first..=last` (below `fd_limit` when done one by one).
pub(crate) fn close_span(k: &impl Kernel, first: RawFd, last: RawFd, fd_limit: RawFd) -> Step {
    let (Ok(first_u), Ok(last_u)) = (u32::try_from(first), u32::try_from(last)) else {
        return Err(Failure::new(Stage::CloseFds, sys::Errno(libc::EINVAL)));
    };
    // SAFETY: the descriptors in the range are the parent's copies or ones this process made
    // for the command; none is owned by Rust code this process returns to.
    match unsafe { k.close_range(first_u, last_u) } {
        Ok(()) => Ok(()),
        // Kernels before 5.9, or a container seccomp profile that hides close_range.
        Err(errno) if errno.0 == libc::ENOSYS || errno.0 == libc::EPERM => {
            let mut fd = first;
            while fd <= last && fd < fd_limit {
                // SAFETY: as above.
                unsafe { k.close_raw(fd) };
                fd = fd.saturating_add(1);
            }
            Ok(())
        }
        Err(errno) => Err(Failure::new(Stage::CloseFds, errno)),
    }
}
