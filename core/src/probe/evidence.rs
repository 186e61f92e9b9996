//! Why a host refused: the evidence a hint is chosen from, and the hints.
//!
//! A refused `clone`, id map or mount has many causes with different remedies (a sysctl, a
//! chroot, an AppArmor profile, the seccomp filter of a container, systemd unit or outer
//! sandbox, no `/proc`), and the errno alone does not tell them apart. [`Evidence::gather`]
//! reads what does — each item only from the file that shows it — and the hint functions
//! name the cause the evidence points to and a remedy that applies there, or say that
//! nothing found explains it. Nothing here guesses from the kernel version.

use std::fs;
use std::os::unix::fs::MetadataExt;

use serde::Serialize;

/// What the host shows about why it might refuse.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// `/proc/self` exists (procfs is mounted).
    pub proc_mounted: bool,
    /// `/` is not the root of PID 1 (`/proc/1/root`), when that can be read.
    pub chroot: Option<bool>,
    /// The AppArmor label confining this process (`/proc/self/attr/current`), when confined.
    pub apparmor_label: Option<String>,
    /// `NoNewPrivs: 1` in `/proc/self/status`: an outer sandbox or unit set it.
    pub no_new_privs: bool,
    /// `Seccomp:` in `/proc/self/status`: 2 when a seccomp filter already applies.
    pub seccomp_mode: Option<u32>,
    /// The user-namespace sysctls that read as blocking: `(name, value, what to set)`.
    pub blocking_sysctls: Vec<(String, String, String)>,
    /// `user.max_user_namespaces` as read here (an outer `bwrap --disable-userns` sets 1).
    pub max_user_namespaces: Option<u64>,
}

impl Evidence {
    /// Reads the evidence now (a few small files under `/proc`).
    pub fn gather() -> Evidence {
        let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
        let status_field =
            |name: &str| status.lines().find_map(|line| line.strip_prefix(name)?.trim().parse::<u32>().ok());
        let sysctl = |path: &str| fs::read_to_string(path).ok().map(|value| value.trim().to_owned());
        let max_user_namespaces = sysctl("/proc/sys/user/max_user_namespaces").and_then(|v| v.parse().ok());
        let apparmor_label = ["/proc/self/attr/apparmor/current", "/proc/self/attr/current"]
            .iter()
            .find_map(|path| fs::read_to_string(path).ok())
            .map(|label| label.trim_end_matches(['\n', '\0']).to_owned())
            .filter(|label| !label.is_empty() && label != "unconfined" && !label.ends_with("(unconfined)"));
        let mut blocking_sysctls = Vec::new();
        if max_user_namespaces == Some(0) {
            blocking_sysctls.push(("user.max_user_namespaces".into(), "0".into(), "a positive limit".into()));
        }
        if let Some(value) = sysctl("/proc/sys/kernel/unprivileged_userns_clone").filter(|v| v == "0") {
            blocking_sysctls.push(("kernel.unprivileged_userns_clone".into(), value, "1".into()));
        }
        // Ubuntu 23.10+: blocking only for processes no AppArmor profile grants `userns`.
        let restricted = sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").filter(|v| v == "1");
        if let Some(value) = restricted.filter(|_| apparmor_label.is_none()) {
            blocking_sysctls.push((
                "kernel.apparmor_restrict_unprivileged_userns".into(),
                value,
                "0, or an AppArmor profile for this program granting `userns,`".into(),
            ));
        }
        Evidence {
            proc_mounted: fs::metadata("/proc/self").is_ok(),
            chroot: chroot(),
            apparmor_label,
            no_new_privs: status_field("NoNewPrivs:") == Some(1),
            seccomp_mode: status_field("Seccomp:"),
            blocking_sysctls,
            max_user_namespaces,
        }
    }

    /// A seccomp filter already applies to this process.
    pub fn filtered(&self) -> bool {
        self.seccomp_mode == Some(2)
    }
}

/// Whether this process runs in a chroot: its `/` is not PID 1's (readable as root only).
fn chroot() -> Option<bool> {
    let ours = fs::metadata("/").ok()?;
    let init = fs::metadata("/proc/1/root/").ok()?;
    Some((ours.dev(), ours.ino()) != (init.dev(), init.ino()))
}

/// The symbolic name of `errno` (`EPERM`), for tables and messages.
pub fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EACCES => "EACCES",
        libc::EINVAL => "EINVAL",
        libc::ENOSPC => "ENOSPC",
        libc::ENOSYS => "ENOSYS",
        libc::EUSERS => "EUSERS",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EROFS => "EROFS",
        libc::EBUSY => "EBUSY",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::E2BIG => "E2BIG",
        libc::ELOOP => "ELOOP",
        libc::ESTALE => "ESTALE",
        _ => "errno",
    }
}

const LANDLOCK_INSTEAD: &str = "read-only policies need no namespace (--pipeline landlock)";

/// What to do when a namespace step (`clone`, an id map, a mount) failed with `errno`.
pub fn namespace_hint(errno: i32, evidence: &Evidence) -> String {
    if !evidence.proc_mounted {
        return format!(
            "/proc is not mounted here, and the sandbox maps its ids through /proc/self/uid_map: mount procfs on \
             /proc (in a container, do not mask it); {LANDLOCK_INSTEAD}"
        );
    }
    if evidence.chroot == Some(true) {
        return format!(
            "this process runs in a chroot, where the kernel refuses new user namespaces: run outside the chroot \
             (a container or mount namespace gives the same isolation); {LANDLOCK_INSTEAD}"
        );
    }
    if errno == libc::ENOSPC || errno == libc::EUSERS {
        let limit = evidence.max_user_namespaces.map_or("unreadable".to_owned(), |n| n.to_string());
        return format!(
            "no more user namespaces may be created from here: an outer sandbox forbids nesting (`bwrap \
             --disable-userns` does), or user.max_user_namespaces ({limit} as read here) is used up; run outside \
             that sandbox or raise the limit where it is set; {LANDLOCK_INSTEAD}"
        );
    }
    if !evidence.blocking_sysctls.is_empty() {
        let settings: Vec<String> = evidence
            .blocking_sysctls
            .iter()
            .map(|(name, value, wanted)| format!("{name} is {value} (set it to {wanted})"))
            .collect();
        return format!(
            "the host forbids unprivileged user namespaces: {}; or use an installed bwrap that is allowed them \
             (--bwrap-path /usr/bin/bwrap); {LANDLOCK_INSTEAD}",
            settings.join(", ")
        );
    }
    if let Some(label) = evidence.apparmor_label.as_ref().filter(|_| matches!(errno, libc::EACCES | libc::EPERM)) {
        return format!(
            "AppArmor confines this process as `{label}`, which denies it: run it under a profile that allows \
             `userns,` and `mount` (Ubuntu ships one for /usr/bin/bwrap: --bwrap-path /usr/bin/bwrap), or \
             unconfined; {LANDLOCK_INSTEAD}"
        );
    }
    if (evidence.filtered() || evidence.no_new_privs) && matches!(errno, libc::EPERM | libc::ENOSYS | libc::EACCES) {
        return format!(
            "the sysctls allow user namespaces, but this process already runs confined ({}in /proc/self/status): a \
             container's or systemd unit's seccomp filter (Docker: --security-opt seccomp=PROFILE allowing \
             clone/unshare with CLONE_NEWUSER and mount; Kubernetes: securityContext.seccompProfile; systemd: \
             RestrictNamespaces=, SystemCallFilter=), or an outer sandbox's seccomp filter or Landlock ruleset (a \
             nested codex-linux-sandbox, bwrap, Flatpak) refuses it. Allow it there or run outside it; \
             {LANDLOCK_INSTEAD}",
            match (evidence.seccomp_mode, evidence.no_new_privs) {
                (Some(2), true) => "Seccomp: 2, NoNewPrivs: 1 ",
                (Some(2), false) => "Seccomp: 2 ",
                _ => "NoNewPrivs: 1 ",
            }
        );
    }
    format!(
        "nothing found on this host explains it (the user-namespace sysctls allow it, no seccomp filter or AppArmor \
         label applies, /proc is mounted); {LANDLOCK_INSTEAD}"
    )
}

/// What to do when Landlock is unavailable (`landlock_create_ruleset` failed with `errno`).
pub fn landlock_hint(errno: i32, kernel: &str, evidence: &Evidence) -> String {
    match errno {
        libc::EOPNOTSUPP => {
            "Landlock is built in but disabled at boot: add `landlock` to the `lsm=` kernel parameter".to_owned()
        }
        libc::EPERM => "a seccomp profile that predates Landlock refuses its system calls (a container runtime's \
                        older default profile): update the runtime or allow landlock_create_ruleset, \
                        landlock_add_rule and landlock_restrict_self in its profile"
            .to_owned(),
        libc::ENOSYS if evidence.filtered() => format!(
            "kernel {kernel} or the seccomp filter this process runs under (Seccomp: 2) lacks Landlock: it needs Linux \
             ≥ 5.13 built with CONFIG_SECURITY_LANDLOCK=y and `landlock` in `lsm=`, and a profile that allows \
             landlock_*"
        ),
        _ => format!(
            "kernel {kernel} has no Landlock: it needs Linux ≥ 5.13 built with CONFIG_SECURITY_LANDLOCK=y and \
             `landlock` in the `lsm=` kernel parameter"
        ),
    }
}

/// What to do when `lo` cannot be brought up in a new network namespace.
pub fn loopback_hint(errno: i32, evidence: &Evidence) -> String {
    let label = evidence.apparmor_label.as_deref().map(|l| format!(" (AppArmor label `{l}`)")).unwrap_or_default();
    format!(
        "setting IFF_UP on lo (SIOCSIFFLAGS) in the sandbox's network namespace was refused ({}){label}: the proxy \
         could not be reached there. The landlock pipeline (ABI ≥ 4) reaches it without a network namespace \
         (--pipeline landlock); or allow the interface change where it is refused",
        errno_name(errno)
    )
}
