//! Landlock: ruleset creation, rules and self-restriction.

use std::os::fd::{OwnedFd, RawFd};

use super::{Errno, SysResult, check, owned};

pub const LANDLOCK_CREATE_RULESET_VERSION: u32 = 1 << 0;
pub const LANDLOCK_RULE_PATH_BENEATH: u32 = 1;

/// `struct landlock_ruleset_attr`, in its largest known form. Older kernels receive a prefix of
/// it (the size argument tells them how much).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct LandlockRulesetAttr {
    pub handled_access_fs: u64,
    pub handled_access_net: u64,
    pub scoped: u64,
}

/// `struct landlock_path_beneath_attr`; the kernel declares it packed.
#[repr(C, packed)]
#[derive(Clone, Copy)]
pub struct LandlockPathBeneathAttr {
    pub allowed_access: u64,
    pub parent_fd: i32,
}

/// `struct landlock_net_port_attr`.
#[repr(C, packed)]
#[derive(Clone, Copy)]
pub struct LandlockNetPortAttr {
    pub allowed_access: u64,
    pub port: u64,
}

pub const LANDLOCK_RULE_NET_PORT: u32 = 2;

pub fn landlock_abi_version() -> SysResult<u32> {
    // SAFETY: a null attribute with size 0 and the VERSION flag only queries the ABI.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<LandlockRulesetAttr>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    check(ret).map(|v| v as u32)
}

/// Creates a ruleset; `size` is how many leading bytes of `attr` this kernel understands.
pub fn landlock_create_ruleset(attr: &LandlockRulesetAttr, size: usize) -> SysResult<OwnedFd> {
    if size > std::mem::size_of::<LandlockRulesetAttr>() {
        return Err(Errno(libc::EINVAL));
    }
    // SAFETY: attr is valid for at least `size` bytes.
    let ret =
        unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, attr as *const LandlockRulesetAttr, size, 0u32) };
    check(ret).map(|fd| owned(fd as RawFd))
}

pub fn landlock_add_path_rule(ruleset: RawFd, rule: &LandlockPathBeneathAttr) -> SysResult<()> {
    // SAFETY: rule points to a valid packed path-beneath attribute.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset,
            LANDLOCK_RULE_PATH_BENEATH,
            rule as *const LandlockPathBeneathAttr,
            0u32,
        )
    };
    check(ret).map(drop)
}

pub fn landlock_add_net_rule(ruleset: RawFd, rule: &LandlockNetPortAttr) -> SysResult<()> {
    // SAFETY: rule points to a valid packed net-port attribute.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset,
            LANDLOCK_RULE_NET_PORT,
            rule as *const LandlockNetPortAttr,
            0u32,
        )
    };
    check(ret).map(drop)
}

pub fn landlock_restrict_self(ruleset: RawFd) -> SysResult<()> {
    // SAFETY: integer arguments.
    check(unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset, 0u32) }).map(drop)
}
