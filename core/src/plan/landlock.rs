//! Landlock: path-based access control applied by the child to itself.
//!
//! Which rights exist depends on the kernel's Landlock ABI. This module makes the split explicit:
//! restricting writes (and reads, when the policy restricts them) is a **hard requirement** —
//! without Landlock the pipeline refuses to run — while rights added by later ABIs (truncate,
//! device ioctl, signal and abstract-socket scoping) are **best effort** and listed in the plan
//! as enforced or not.
//!
//! This module plans the rules; the child builds and enforces the ruleset after its mounts
//! (`exec::child::confine`), because some rules name inodes that exist only in the sandbox's
//! view (a private devpts, the empty root of a restricted-read view).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::devices::DEVICES;

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

/// Network access rights (`LANDLOCK_ACCESS_NET_*`, ABI 4).
pub mod net_access {
    pub const BIND_TCP: u64 = 1 << 0;
    pub const CONNECT_TCP: u64 = 1 << 1;
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

/// One path rule: `access` beneath `path`.
#[derive(Clone, Debug, Serialize)]
pub struct PathRule {
    pub path: PathBuf,
    #[serde(serialize_with = "serialize_rights")]
    pub access: u64,
    /// Skipped when the path does not exist in the sandbox (device nodes some hosts lack).
    /// Every other rule is required: a root that vanished since planning stops the run.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
    /// The inode exists only in the sandbox's view (a private devpts, the empty root of a
    /// restricted-read view): the child adds this rule itself, after its mounts. Every other
    /// rule's inode is the host's, and the rule is added before the clone.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sandbox_view: bool,
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
    /// TCP: when present, binding is refused and connecting is allowed to these ports only
    /// (proxy mode on the landlock pipeline; ABI 4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_connect_ports: Option<Vec<u16>>,
    /// Protections this kernel's ABI cannot give (best-effort features left out).
    pub not_enforced: Vec<String>,
}

impl LandlockPlan {
    /// Plans a ruleset that allows read and execute beneath each readable root, every right
    /// beneath each writable root, and reading and writing the [`DEVICES`] and any
    /// `extra_writable` paths that exist (they are taken to be in the sandbox's own view: a
    /// private devpts).
    pub fn new(abi: u32, readable: &[PathBuf], writable: &[PathBuf], extra_writable: &[&str]) -> LandlockPlan {
        use fs_access::*;
        let handled = fs_rights_of_abi(abi);
        let rule = |path: &Path, access: u64, optional: bool| PathRule {
            path: path.to_path_buf(),
            access: access & handled,
            optional,
            sandbox_view: false,
        };
        let mut rules: Vec<PathRule> = readable.iter().map(|path| rule(path, READ_EXECUTE, false)).collect();
        let device_access = READ_FILE | WRITE_FILE | TRUNCATE | IOCTL_DEV;
        rules.extend(DEVICES.iter().map(|device| rule(Path::new(device.path_str()), device_access, true)));
        rules.extend(
            extra_writable.iter().map(|path| PathRule { sandbox_view: true, ..rule(Path::new(path), handled, true) }),
        );
        rules.extend(writable.iter().map(|path| rule(path, handled, false)));

        let mut not_enforced = Vec::new();
        if abi < 2 {
            not_enforced
                .push("ABI < 2: renames and links across directories are always refused (no `refer` right)".into());
        }
        if abi < 3 {
            not_enforced.push("ABI < 3: truncate(2) outside the writable roots is not restricted".into());
        }
        if abi < 5 {
            not_enforced.push("ABI < 5: ioctl on devices opened in the sandbox is not restricted".into());
        }
        let scoped = if abi >= 6 { scope::ABSTRACT_UNIX_SOCKET | scope::SIGNAL } else { 0 };
        if abi < 6 {
            not_enforced.push(
                "ABI < 6: signals to processes outside the sandbox and abstract unix sockets are not scoped (abstract \
                 sockets stay out of reach through seccomp's refusal of socket(AF_UNIX) unless every unix socket is \
                 granted)"
                    .into(),
            );
        }
        LandlockPlan { abi, handled, scoped, rules, tcp_connect_ports: None, not_enforced }
    }

    /// Marks the rules on `paths` as naming inodes of the sandbox's own view.
    pub fn in_sandbox_view(mut self, paths: &[&Path]) -> LandlockPlan {
        for rule in &mut self.rules {
            if paths.contains(&rule.path.as_path()) {
                rule.sandbox_view = true;
            }
        }
        self
    }

    /// Leaves abstract unix sockets unscoped: every unix socket is granted (`UnixSockets::All`),
    /// abstract ones of the command's network namespace included. Without that grant the
    /// scope stays as a second layer behind seccomp's refusal of `socket(AF_UNIX)`.
    pub fn without_abstract_unix_scope(mut self) -> LandlockPlan {
        self.scoped &= !scope::ABSTRACT_UNIX_SOCKET;
        self
    }

    /// A ruleset that restricts nothing on the filesystem (a full-write policy) — only what
    /// [`LandlockPlan::with_tcp_connect_only`] and the scopes add.
    /// Takes `/dev` out of a read grant on `/`: Landlock cannot subtract a subtree from a
    /// rule, so the rule on `/` becomes `read_dir` only (listing names, which `ls /` and path
    /// walks need; no file under it can be opened by that right) plus read and execute on each
    /// other entry of `/` (`top_level`; symlinks such as `/bin` are left out: their targets
    /// are entries too, and rule paths are opened without following symlinks). The devices of
    /// [`DEVICES`] keep their own rules, and each of `terminals` (the command's own terminal)
    /// gets one. Other terminals (`/dev/pts/N`, `/dev/vcs*`), input and memory devices then
    /// open with EACCES.
    pub fn without_dev_reads(mut self, top_level: &[PathBuf], terminals: &[PathBuf]) -> LandlockPlan {
        use fs_access::*;
        let root = Path::new("/");
        let Some(index) = self.rules.iter().position(|rule| rule.path == root && rule.access & READ_FILE != 0) else {
            return self;
        };
        let access = self.rules.get(index).map_or(0, |rule| rule.access);
        if let Some(rule) = self.rules.get_mut(index) {
            rule.access = access & READ_DIR;
        }
        let dev = Path::new("/dev");
        let entries = top_level.iter().filter(|path| path.as_path() != dev && path.parent() == Some(root));
        let read = entries.map(|path| PathRule { path: path.clone(), access, optional: true, sandbox_view: false });
        let device_access = (READ_FILE | WRITE_FILE | TRUNCATE | IOCTL_DEV) & self.handled;
        let own = terminals.iter().filter(|path| path.starts_with(dev)).map(|path| PathRule {
            path: path.clone(),
            access: device_access,
            optional: true,
            sandbox_view: false,
        });
        let after_root: Vec<PathRule> = read.chain(own).collect();
        let tail = self.rules.split_off(index.saturating_add(1));
        self.rules.extend(after_root);
        self.rules.extend(tail);
        self
    }

    pub fn network_only(abi: u32) -> LandlockPlan {
        let mut plan = LandlockPlan::new(abi, &[], &[], &[]);
        plan.handled = 0;
        plan.rules.clear();
        plan.not_enforced.retain(|gap| gap.contains("ABI < 6"));
        plan
    }

    /// Refuses every TCP bind and every TCP connect but to `ports`. A hard requirement: an
    /// ABI below 4 cannot, and the caller must refuse to run.
    pub fn with_tcp_connect_only(mut self, ports: Vec<u16>) -> std::result::Result<LandlockPlan, String> {
        if self.abi < 4 {
            return Err(format!("Landlock ABI {} cannot restrict TCP connections (ABI 4, Linux 6.7, can)", self.abi));
        }
        self.tcp_connect_ports = Some(ports);
        Ok(self)
    }
}

/// The entries of `/` that are not symlinks, for [`LandlockPlan::without_dev_reads`].
pub fn top_level_entries() -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir("/")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.file_type().is_ok_and(|kind| !kind.is_symlink()))
        .map(|entry| Path::new("/").join(entry.file_name()))
        .collect();
    entries.sort();
    entries
}

/// The terminals on the launcher's standard streams (which the command inherits unless the
/// launcher redirects them): the command may reopen its own terminal by name.
pub fn own_terminals() -> Vec<PathBuf> {
    use std::io::IsTerminal;
    let streams = [std::io::stdin().is_terminal(), std::io::stdout().is_terminal(), std::io::stderr().is_terminal()];
    let mut terminals: Vec<PathBuf> = (0..)
        .zip(streams)
        .filter(|(_, is_terminal)| *is_terminal)
        .filter_map(|(fd, _)| std::fs::read_link(format!("/proc/self/fd/{fd}")).ok())
        .filter(|path| path.starts_with("/dev/"))
        .collect();
    terminals.sort();
    terminals.dedup();
    terminals
}

fn serialize_rights<S: serde::Serializer>(rights: &u64, serializer: S) -> std::result::Result<S::Ok, S::Error> {
    let names: Vec<&str> =
        fs_access::NAMES.iter().filter(|(bit, _)| rights & bit != 0).map(|(_, name)| *name).collect();
    names.serialize(serializer)
}

fn serialize_scopes<S: serde::Serializer>(scoped: &u64, serializer: S) -> std::result::Result<S::Ok, S::Error> {
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

    #[test]
    fn tcp_rules_need_abi_4() {
        let refused = LandlockPlan::new(3, &["/".into()], &[], &[]).with_tcp_connect_only(vec![3128]);
        assert!(refused.unwrap_err().contains("ABI 3 cannot restrict TCP"));
        let plan = LandlockPlan::network_only(4).with_tcp_connect_only(vec![3128]).unwrap();
        assert_eq!(plan.handled, 0, "a full-write policy restricts no file access");
        assert!(plan.rules.is_empty());
        assert_eq!(plan.tcp_connect_ports, Some(vec![3128]));
    }

    #[test]
    fn dev_is_taken_out_of_a_read_grant_on_root() {
        use fs_access::*;
        let plan = LandlockPlan::new(5, &["/".into()], &["/work".into()], &[]);
        let top: Vec<PathBuf> = ["/dev", "/etc", "/usr", "/work"].iter().map(PathBuf::from).collect();
        let plan = plan.without_dev_reads(&top, &["/dev/pts/3".into(), "/etc/not-a-terminal".into()]);
        let access =
            |path: &str| plan.rules.iter().filter(|r| r.path == Path::new(path)).map(|r| r.access).collect::<Vec<_>>();
        assert_eq!(access("/"), [READ_DIR]);
        assert_eq!(access("/etc"), [READ_EXECUTE]);
        assert_eq!(access("/usr"), [READ_EXECUTE]);
        assert!(access("/dev").is_empty(), "no rule grants /dev");
        assert_eq!(access("/dev/pts/3"), [READ_FILE | WRITE_FILE | TRUNCATE | IOCTL_DEV]);
        assert!(access("/etc/not-a-terminal").is_empty());
        for device in DEVICES {
            assert_eq!(
                access(device.path_str()),
                [READ_FILE | WRITE_FILE | TRUNCATE | IOCTL_DEV],
                "{}",
                device.path_str()
            );
        }
        // The writable root keeps its full rights.
        assert_eq!(access("/work").iter().fold(0, |a, b| a | b) & WRITE_FILE, WRITE_FILE);

        // A restricted read (no rule on `/`) is left as it is.
        let restricted = LandlockPlan::new(5, &["/usr".into()], &[], &[]);
        let count = restricted.rules.len();
        assert_eq!(restricted.without_dev_reads(&top, &[]).rules.len(), count);
    }

    #[test]
    fn rights_grow_with_abi() {
        assert_eq!(fs_rights_of_abi(1), (1 << 13) - 1);
        assert_eq!(fs_rights_of_abi(2) & fs_access::REFER, fs_access::REFER);
        assert_eq!(fs_rights_of_abi(2) & fs_access::TRUNCATE, 0);
        assert_eq!(fs_rights_of_abi(7), (1 << 16) - 1);
    }

    #[test]
    fn plan_masks_rights_to_the_abi_and_reports_gaps() {
        let plan = LandlockPlan::new(1, &["/".into()], &["/w".into()], &[]);
        assert!(plan.rules.iter().all(|rule| rule.access & !fs_rights_of_abi(1) == 0));
        assert_eq!(plan.scoped, 0);
        assert!(plan.not_enforced.iter().any(|gap| gap.contains("truncate")));
        let plan = LandlockPlan::new(7, &["/".into()], &["/w".into()], &[]);
        assert_eq!(plan.scoped, scope::ABSTRACT_UNIX_SOCKET | scope::SIGNAL);
        assert!(plan.not_enforced.is_empty());
        let writable = plan.rules.iter().find(|rule| rule.path == Path::new("/w")).unwrap();
        assert_eq!(writable.access, plan.handled);
    }
}
