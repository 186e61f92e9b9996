//! Capabilities.

use super::{SysResult, check};

/// `struct __user_cap_header_struct` / `__user_cap_data_struct`, version 3 (two data words).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct CapHeader {
    pub version: u32,
    pub pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct CapData {
    pub effective: u32,
    pub permitted: u32,
    pub inheritable: u32,
}

pub const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
pub const CAP_SETPCAP: u32 = 8;

pub fn capget() -> SysResult<[CapData; 2]> {
    let mut header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let mut data = [CapData::default(); 2];
    // SAFETY: header and data are valid for the version-3 layout (two data words).
    let ret = unsafe { libc::syscall(libc::SYS_capget, &mut header as *mut CapHeader, data.as_mut_ptr()) };
    check(ret).map(|_| data)
}

pub fn capset(data: &[CapData; 2]) -> SysResult<()> {
    let mut header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    // SAFETY: header and data are valid for the version-3 layout (two data words).
    let ret = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut CapHeader, data.as_ptr()) };
    check(ret).map(drop)
}
