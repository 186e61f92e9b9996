//! Landlock: path-based access control applied by the child to itself.
//!
//! Which rights exist depends on the kernel's Landlock ABI. This module makes the split explicit:
//! restricting writes (and reads, when the policy restricts them) is a **hard requirement** —
//! without Landlock the pipeline refuses to run — while rights added by later ABIs (truncate,
//! device ioctl, signal and abstract-socket scoping) are **best effort** and listed in the plan
//! as enforced or not.
//!
//! The ruleset is built in the parent (it allocates and opens paths); the child only calls
//! `landlock_restrict_self` on the prepared descriptor.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::sys;

/// Filesystem access rights (`LANDLOCK_ACCESS_FS_*`) with the ABI that introduced them.
pub mod fs_access {
    pub const EXECUTE: u64 = 1 << 0;
    pub const WRITE_FILE: u64 = 1 << 1;
    pub const READ_FILE: u64 = 1 << 2;
    pub const READ_DIR: u64 = 1 << 3;
    pub const REMOVE_DIR: u64 = 1 << 4;
    pub const REMOVE_FILE: u64 = 1 << 5;
    pub const MAKE_CHAR: u64 = 1 << 6;
    pub const MAKE_DIR: u64 = 1 << 7;
    pub const MAKE_REG: u64 = 1 << 8;
    pub const MAKE_SOCK: u64 = 1 << 9;
    pub const MAKE_FIFO: u64 = 1 << 10;
    pub const MAKE_BLOCK: u64 = 1 << 11;
    pub const MAKE_SYM: u64 = 1 << 12;
    /// ABI 2.
    pub const REFER: u64 = 1 << 13;
    /// ABI 3.
    pub const TRUNCATE: u64 = 1 << 14;
    /// ABI 5.
    pub const IOCTL_DEV: u64 = 1 << 15;

    pub const NAMES: [(u64, &str); 16] = [
        (EXECUTE, "execute"),
        (WRITE_FILE, "write_file"),
        (READ_FILE, "read_file"),
        (READ_DIR, "read_dir"),
        (REMOVE_DIR, "remove_dir"),
        (REMOVE_FILE, "remove_file"),
        (MAKE_CHAR, "make_char"),
        (MAKE_DIR, "make_dir"),
        (MAKE_REG, "make_reg"),
        (MAKE_SOCK, "make_sock"),
        (MAKE_FIFO, "make_fifo"),
        (MAKE_BLOCK, "make_block"),
        (MAKE_SYM, "make_sym"),
        (REFER, "refer"),
        (TRUNCATE, "truncate"),
        (IOCTL_DEV, "ioctl_dev"),
    ];

    /// Rights that make sense on a non-directory; the kernel rejects others on file rules.
    pub const FILE_RIGHTS: u64 = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV;
    pub const READ_EXECUTE: u64 = EXECUTE | READ_FILE | READ_DIR;
}

/// Scopes (`LANDLOCK_SCOPE_*`, ABI 6).
pub mod scope {
    pub const ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
    pub const SIGNAL: u64 = 1 << 1;
}

/// Every filesystem right the given ABI knows.
pub fn fs_rights_of_abi(abi: u32) -> u64 {
    let mut rights = (1 << 13) - 1;
    if abi >= 2 {
        rights |= fs_access::REFER;
    }
    if abi >= 3 {
        rights |= fs_access::TRUNCATE;
    }
    if abi >= 5 {
        rights |= fs_access::IOCTL_DEV;
    }
    rights
}

/// The running kernel's Landlock ABI version, or why there is none.
pub fn probe_abi() -> std::result::Result<u32, String> {
    match sys::landlock_abi_version() {
        Ok(abi) => Ok(abi),
        Err(errno) if errno.0 == libc::ENOSYS => Err("the kernel was built without Landlock (ENOSYS)".into()),
        Err(errno) if errno.0 == libc::EOPNOTSUPP => {
            Err("Landlock is disabled at boot (EOPNOTSUPP): add `landlock` to the `lsm=` kernel parameter".into())
        }
        Err(errno) => Err(format!("landlock_create_ruleset failed: {}", errno.into_io())),
    }
}

/// One path rule: `access` beneath `path`.
#[derive(Clone, Debug, Serialize)]
pub struct PathRule {
    pub path: PathBuf,
    #[serde(serialize_with = "serialize_rights")]
    pub access: u64,
}

/// The Landlock part of a plan.
#[derive(Clone, Debug, Serialize)]
pub struct LandlockPlan {
    pub abi: u32,
    #[serde(serialize_with = "serialize_rights")]
    pub handled: u64,
    #[serde(serialize_with = "serialize_scopes")]
    pub scoped: u64,
    pub rules: Vec<PathRule>,
    /// Protections this kernel's ABI cannot give (best-effort features left out).
    pub not_enforced: Vec<String>,
}

impl LandlockPlan {
    /// Plans a ruleset that allows `read` rights beneath each readable root and every right
    /// beneath each writable root (and on `/dev/null`).
    pub fn new(abi: u32, readable: &[PathBuf], writable: &[PathBuf]) -> LandlockPlan {
        use fs_access::*;
        let handled = fs_rights_of_abi(abi);
        let mut rules: Vec<PathRule> = readable
            .iter()
            .map(|path| PathRule {
                path: path.clone(),
                access: READ_EXECUTE & handled,
            })
            .collect();
        rules.push(PathRule {
            path: "/dev/null".into(),
            access: (READ_FILE | WRITE_FILE | TRUNCATE | IOCTL_DEV) & handled,
        });
        rules.extend(writable.iter().map(|path| PathRule {
            path: path.clone(),
            access: handled,
        }));

        let mut not_enforced = Vec::new();
        if abi < 2 {
            not_enforced.push("ABI < 2: renames and links across directories are always refused (no `refer` right)".into());
        }
        if abi < 3 {
            not_enforced
                .push("ABI < 3: truncate(2) outside the writable roots is not restricted".into());
        }
        if abi < 5 {
            not_enforced
                .push("ABI < 5: ioctl on devices opened in the sandbox is not restricted".into());
        }
        let scoped = if abi >= 6 {
            scope::ABSTRACT_UNIX_SOCKET | scope::SIGNAL
        } else {
            0
        };
        if abi < 6 {
            not_enforced.push(
                "ABI < 6: signals to processes outside the sandbox and abstract unix sockets are not scoped".into(),
            );
        }
        LandlockPlan {
            abi,
            handled,
            scoped,
            rules,
            not_enforced,
        }
    }

    /// Creates the ruleset in the kernel. Every rule path must exist: a rule we cannot add
    /// would leave that root without access, and a root that vanished since planning is a
    /// reason to stop, not to guess.
    pub(crate) fn create(&self) -> Result<Ruleset> {
        let attr = sys::LandlockRulesetAttr {
            handled_access_fs: self.handled,
            handled_access_net: 0,
            scoped: self.scoped,
        };
        let size = match self.abi {
            1..=3 => 8,
            4..=5 => 16,
            _ => 24,
        };
        let fd = sys::landlock_create_ruleset(&attr, size).map_err(|errno| Error::Setup {
            stage: "create the Landlock ruleset",
            source: errno.into_io(),
            hint: "",
        })?;
        // SAFETY: landlock_create_ruleset returned a fresh descriptor that nothing else owns.
        let ruleset = Ruleset(unsafe { OwnedFd::from_raw_fd(fd) });
        for rule in &self.rules {
            let path = CString::new(rule.path.as_os_str().as_bytes()).map_err(|_| {
                Error::Internal(format!("NUL byte in rule path {}", rule.path.display()))
            })?;
            let parent = sys::open(&path, libc::O_PATH).map_err(|errno| {
                Error::path(
                    "cannot open Landlock rule path",
                    &rule.path,
                    errno.into_io(),
                )
            })?;
            // SAFETY: open returned a fresh descriptor that nothing else owns.
            let parent = unsafe { OwnedFd::from_raw_fd(parent) };
            let is_dir = sys::fstat(parent.as_raw_fd())
                .map(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
                .map_err(|errno| {
                    Error::path(
                        "cannot inspect Landlock rule path",
                        &rule.path,
                        errno.into_io(),
                    )
                })?;
            let allowed = if is_dir {
                rule.access
            } else {
                rule.access & fs_access::FILE_RIGHTS
            };
            let attr = sys::LandlockPathBeneathAttr {
                allowed_access: allowed,
                parent_fd: parent.as_raw_fd(),
            };
            sys::landlock_add_path_rule(ruleset.0.as_raw_fd(), &attr).map_err(|errno| {
                Error::path("cannot add Landlock rule for", &rule.path, errno.into_io())
            })?;
        }
        Ok(ruleset)
    }
}

/// A ruleset descriptor ready for `landlock_restrict_self` in the child.
pub(crate) struct Ruleset(OwnedFd);

impl Ruleset {
    pub(crate) fn raw_fd(&self) -> i32 {
        self.0.as_raw_fd()
    }
}

fn serialize_rights<S: serde::Serializer>(
    rights: &u64,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    let names: Vec<&str> = fs_access::NAMES
        .iter()
        .filter(|(bit, _)| rights & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    names.serialize(serializer)
}

fn serialize_scopes<S: serde::Serializer>(
    scoped: &u64,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    let mut names = Vec::new();
    if scoped & scope::ABSTRACT_UNIX_SOCKET != 0 {
        names.push("abstract_unix_socket");
    }
    if scoped & scope::SIGNAL != 0 {
        names.push("signal");
    }
    names.serialize(serializer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn rights_grow_with_abi() {
        assert_eq!(fs_rights_of_abi(1), (1 << 13) - 1);
        assert_eq!(fs_rights_of_abi(2) & fs_access::REFER, fs_access::REFER);
        assert_eq!(fs_rights_of_abi(2) & fs_access::TRUNCATE, 0);
        assert_eq!(fs_rights_of_abi(7), (1 << 16) - 1);
    }

    #[test]
    fn plan_masks_rights_to_the_abi_and_reports_gaps() {
        let plan = LandlockPlan::new(1, &["/".into()], &["/w".into()]);
        assert!(
            plan.rules
                .iter()
                .all(|rule| rule.access & !fs_rights_of_abi(1) == 0)
        );
        assert_eq!(plan.scoped, 0);
        assert!(plan.not_enforced.iter().any(|gap| gap.contains("truncate")));
        let plan = LandlockPlan::new(7, &["/".into()], &["/w".into()]);
        assert_eq!(plan.scoped, scope::ABSTRACT_UNIX_SOCKET | scope::SIGNAL);
        assert!(plan.not_enforced.is_empty());
        let writable = plan
            .rules
            .iter()
            .find(|rule| rule.path == Path::new("/w"))
            .unwrap();
        assert_eq!(writable.access, plan.handled);
    }
}
