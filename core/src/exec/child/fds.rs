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
///
/// With `close_range` (Linux 5.9) the gaps between kept descriptors are closed in one call
/// each. Without it (older kernels, or a container profile that hides it) the open
/// descriptors are listed from `/proc/self/fd`, which names exactly this process's copy of
/// the table, whatever numbers the host used; only where that cannot be read either does it
/// fall back to trying every number below `fd_limit`.
pub(crate) fn close_other_fds(k: &impl Kernel, keep: &[RawFd], fd_limit: RawFd) -> Step {
    match close_gaps(k, keep) {
        Err(Gaps::Unsupported) => {}
        Err(Gaps::Failed(errno)) => return Err(Failure::new(Stage::CloseFds, errno)),
        Ok(()) => return Ok(()),
    }
    if close_listed(k, keep).is_ok() {
        return Ok(());
    }
    let mut fd: RawFd = 3;
    while fd < fd_limit {
        if !keep.contains(&fd) {
            // SAFETY: as in `close_span`.
            unsafe { k.close_raw(fd) };
        }
        fd = fd.saturating_add(1);
    }
    Ok(())
}

enum Gaps {
    /// `close_range` is missing or hidden.
    Unsupported,
    Failed(sys::Errno),
}

fn close_gaps(k: &impl Kernel, keep: &[RawFd]) -> Result<(), Gaps> {
    let mut low: RawFd = 3;
    for &fd in keep {
        if fd > low {
            close_range_of(k, low, fd.saturating_sub(1))?;
        }
        if fd >= low {
            low = fd.saturating_add(1);
        }
    }
    close_range_of(k, low, RawFd::MAX)
}

fn close_range_of(k: &impl Kernel, first: RawFd, last: RawFd) -> Result<(), Gaps> {
    let (Ok(first), Ok(last)) = (u32::try_from(first), u32::try_from(last)) else {
        return Err(Gaps::Failed(sys::Errno(libc::EINVAL)));
    };
    // SAFETY: the descriptors in the range are the parent's copies or ones this process made
    // for the command; none is owned by Rust code this process returns to.
    match unsafe { k.close_range(first, last) } {
        Ok(()) => Ok(()),
        Err(errno) if errno.0 == libc::ENOSYS || errno.0 == libc::EPERM => Err(Gaps::Unsupported),
        Err(errno) => Err(Gaps::Failed(errno)),
    }
}

/// Closes what `/proc/self/fd` lists, but 0–2, `keep` and the listing's own descriptor. The
/// directory is read by descriptor number, so closing entries already read skips nothing.
fn close_listed(k: &impl Kernel, keep: &[RawFd]) -> sys::SysResult<()> {
    let listing = k.open(c"/proc/self/fd", libc::O_RDONLY | libc::O_DIRECTORY)?;
    let own = std::os::fd::AsRawFd::as_raw_fd(&listing);
    let mut buf = [0u8; 2048];
    loop {
        let filled = k.read_dir(own, &mut buf)?;
        if filled == 0 {
            return Ok(());
        }
        for fd in listed_fds(buf.get(..filled).unwrap_or_default()) {
            if fd >= 3 && fd != own && !keep.contains(&fd) {
                // SAFETY: as in `close_range_of`.
                unsafe { k.close_raw(fd) };
            }
        }
    }
}

/// The descriptor numbers named by the `linux_dirent64` records in `records` (`.` and `..`
/// are not numbers and are skipped).
pub(crate) fn listed_fds(mut records: &[u8]) -> impl Iterator<Item = RawFd> + '_ {
    // d_ino (8), d_off (8), d_reclen (2), d_type (1), then the NUL-terminated name.
    const NAME_OFFSET: usize = 19;
    std::iter::from_fn(move || {
        loop {
            let reclen = usize::from(u16::from_ne_bytes([*records.get(16)?, *records.get(17)?]));
            let record = records.get(..reclen).filter(|_| reclen > NAME_OFFSET)?;
            records = records.get(reclen..)?;
            let name = record.get(NAME_OFFSET..)?;
            let name = name.split(|&b| b == 0).next().unwrap_or_default();
            if let Some(fd) = parse_fd(name) {
                return Some(fd);
            }
        }
    })
}

fn parse_fd(name: &[u8]) -> Option<RawFd> {
    if name.is_empty() {
        return None;
    }
    name.iter().try_fold(0 as RawFd, |value, &digit| {
        let digit = RawFd::from(digit.checked_sub(b'0').filter(|d| *d <= 9)?);
        value.checked_mul(10)?.checked_add(digit)
    })
}

/// Closes `first..=last` (one by one below `fd_limit` without `close_range`).
pub(crate) fn close_span(k: &impl Kernel, first: RawFd, last: RawFd, fd_limit: RawFd) -> Step {
    match close_range_of(k, first, last) {
        Ok(()) => Ok(()),
        Err(Gaps::Failed(errno)) => Err(Failure::new(Stage::CloseFds, errno)),
        Err(Gaps::Unsupported) => {
            let mut fd = first;
            while fd <= last && fd < fd_limit {
                // SAFETY: as in `close_range_of`.
                unsafe { k.close_raw(fd) };
                fd = fd.saturating_add(1);
            }
            Ok(())
        }
    }
}
