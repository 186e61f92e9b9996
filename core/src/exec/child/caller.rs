//! What the seccomp supervisors of init ([`super::supervisor`], [`super::broker`]) share
//! about a notified caller: reading its memory, and the short `/proc` paths (its entries, and
//! init's own descriptors by number) built on the stack, since init may not allocate.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, OwnedFd};

use crate::sys::{self, Errno, SysResult};

/// A short path built on the stack (`/proc/<n>/fd/<m>`).
pub(crate) struct ShortPath {
    bytes: [u8; 64],
    len: usize,
}

impl ShortPath {
    /// `/proc/<tid><entry>`.
    pub(crate) fn proc(tid: u32, entry: &[u8]) -> ShortPath {
        ShortPath::new().text(b"/proc/").number(u64::from(tid)).text(entry)
    }

    pub(crate) fn new() -> ShortPath {
        ShortPath { bytes: [0; 64], len: 0 }
    }

    pub(crate) fn text(mut self, text: &[u8]) -> ShortPath {
        for byte in text {
            if let Some(slot) = self.bytes.get_mut(self.len) {
                *slot = *byte;
                self.len = self.len.saturating_add(1);
            }
        }
        self
    }

    pub(crate) fn number(self, value: u64) -> ShortPath {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        let mut rest = value;
        loop {
            start = start.saturating_sub(1);
            if let Some(slot) = digits.get_mut(start) {
                *slot = b'0'.saturating_add((rest % 10) as u8);
            }
            rest /= 10;
            if rest == 0 || start == 0 {
                break;
            }
        }
        self.text(digits.get(start..).unwrap_or_default())
    }

    /// The path; the last byte stays NUL (a path cut off there fails to open, never aliases).
    pub(crate) fn c_str(&mut self) -> &CStr {
        if let Some(last) = self.bytes.last_mut() {
            *last = 0;
        }
        CStr::from_bytes_until_nul(&self.bytes).unwrap_or(c"")
    }
}

/// `/proc/self/fd/N` of `fd`: init's own descriptor, opened again by number.
pub(crate) fn own_fd_path(fd: &OwnedFd) -> ShortPath {
    ShortPath::new().text(b"/proc/self/fd/").number(fd.as_raw_fd() as u32 as u64)
}

/// Reads exactly `buf.len()` bytes at `address` of thread `tid` (EFAULT for a short read).
pub(crate) fn read_exact(tid: u32, address: u64, buf: &mut [u8]) -> SysResult<()> {
    if address == 0 {
        return Err(Errno(libc::EFAULT));
    }
    match sys::process_vm_read(tid as libc::pid_t, address, buf)? {
        n if n == buf.len() => Ok(()),
        _ => Err(Errno(libc::EFAULT)),
    }
}
