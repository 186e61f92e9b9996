//! Seccomp filter installation.

use super::{SysResult, check};

/// `struct sock_filter`, one classic-BPF instruction.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;

/// Installs a seccomp filter on the calling thread (no_new_privs must already be set).
pub fn seccomp_set_filter(program: &[SockFilter]) -> SysResult<()> {
    let prog = SockFprog { len: program.len() as u16, filter: program.as_ptr() };
    // SAFETY: prog describes the live instruction slice for the duration of the call.
    let ret = unsafe {
        libc::syscall(libc::SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0 as libc::c_ulong, &prog as *const SockFprog)
    };
    check(ret).map(drop)
}
