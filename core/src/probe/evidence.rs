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

/// The files [`Evidence::gather_from`] reads: the host's own (`LiveHost`), or a simulated host
/// in unit tests (procfs files cannot be created, and no AppArmor runs on every test machine).
pub(crate) trait HostView {
    /// The text of the file at `path`, when it can be read.
    fn read(&self, path: &str) -> Option<String>;
    /// `(st_dev, st_ino)` of `path` (followed), when it can be stat'ed.
    fn identity(&self, path: &str) -> Option<(u64, u64)>;
}

/// The running host.
struct LiveHost;

impl HostView for LiveHost {
    fn read(&self, path: &str) -> Option<String> {
        fs::read_to_string(path).ok()
    }

    fn identity(&self, path: &str) -> Option<(u64, u64)> {
        fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }
}

impl Evidence {
    /// Reads the evidence now (a few small files under `/proc`).
    pub fn gather() -> Evidence {
        Evidence::gather_from(&LiveHost)
    }

    /// The evidence `host` shows.
    pub(crate) fn gather_from(host: &impl HostView) -> Evidence {
        let status = host.read("/proc/self/status").unwrap_or_default();
        let status_field =
            |name: &str| status.lines().find_map(|line| line.strip_prefix(name)?.trim().parse::<u32>().ok());
        let sysctl = |path: &str| host.read(path).map(|value| value.trim().to_owned());
        let max_user_namespaces = sysctl("/proc/sys/user/max_user_namespaces").and_then(|v| v.parse().ok());
        let apparmor_label = ["/proc/self/attr/apparmor/current", "/proc/self/attr/current"]
            .iter()
            .find_map(|path| host.read(path))
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
            proc_mounted: host.identity("/proc/self").is_some(),
            chroot: chroot(host),
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

/// Whether this process runs in a chroot, as the kernel decides it when it refuses a user
/// namespace (EPERM): its root is not the root of its mount namespace. `None` when nothing
/// readable here tells. In order:
///
/// 1. No mount in `/proc/self/mountinfo` sits at `/`: the root is a plain directory, which a
///    namespace's root never is (any uid can read this).
/// 2. The mount at our `/` is, in PID 1's `/proc/1/mountinfo` (readable by any uid), mounted
///    somewhere else than PID 1's `/`: chrooted into a mount point. Mount ids are unique across
///    namespaces, so PID 1 in another mount namespace (a container's `/proc` of the host) does
///    not list it, and this says nothing.
/// 3. `/` and `/proc/1/root` differ (root only: reading PID 1's root needs ptrace access).
fn chroot(host: &impl HostView) -> Option<bool> {
    if let Some(ours) = host.read("/proc/self/mountinfo") {
        let Some(root_mount) = mount_at(&ours, "/") else {
            return Some(true);
        };
        if let Some(init) = host.read("/proc/1/mountinfo") {
            let init_root = mount_at(&init, "/");
            if init_root == Some(root_mount) {
                return Some(false);
            }
            if mount_ids(&init).any(|(id, _)| id == root_mount) {
                return Some(true);
            }
        }
    }
    let ours = host.identity("/")?;
    let init = host.identity("/proc/1/root/")?;
    Some(ours != init)
}

/// The id of the topmost mount whose mount point is `point` in `mountinfo`.
fn mount_at(mountinfo: &str, point: &str) -> Option<u64> {
    mount_ids(mountinfo).filter(|(_, mount_point)| *mount_point == point).map(|(id, _)| id).last()
}

/// `(mount id, mount point)` of each line of a mountinfo file (fields 1 and 5; the mount point
/// is escaped by the kernel, which matters only for comparing it with `/`).
fn mount_ids(mountinfo: &str) -> impl Iterator<Item = (u64, &str)> {
    mountinfo.lines().filter_map(|line| {
        let mut fields = line.split(' ');
        let id = fields.next()?.parse().ok()?;
        Some((id, fields.nth(3)?))
    })
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// A simulated host: the files it shows, and the `(dev, ino)` of the paths it can stat.
    #[derive(Default)]
    struct SimulatedHost {
        files: HashMap<&'static str, String>,
        identities: HashMap<&'static str, (u64, u64)>,
    }

    impl SimulatedHost {
        /// procfs mounted, uid 1000, unconfined, no filter, nothing in `/proc/1` readable.
        fn unprivileged() -> SimulatedHost {
            let mut host = SimulatedHost::default();
            host.files.insert("/proc/self/status", "Name:\tx\nNoNewPrivs:\t0\nSeccomp:\t0\n".into());
            host.files.insert("/proc/sys/user/max_user_namespaces", "63432\n".into());
            host.files.insert("/proc/self/attr/current", "unconfined\n".into());
            host.identities.insert("/proc/self", (22, 1));
            host.identities.insert("/", (254, 2));
            host
        }

        fn with(mut self, path: &'static str, text: &str) -> SimulatedHost {
            self.files.insert(path, text.to_owned());
            self
        }
    }

    impl HostView for SimulatedHost {
        fn read(&self, path: &str) -> Option<String> {
            self.files.get(path).cloned()
        }

        fn identity(&self, path: &str) -> Option<(u64, u64)> {
            self.identities.get(path).copied()
        }
    }

    const RESTRICT: &str = "/proc/sys/kernel/apparmor_restrict_unprivileged_userns";
    const INIT_MOUNTS: &str = "22 27 0:21 / /proc rw - proc proc rw\n27 1 254:0 / / rw - ext4 /dev/vda rw\n\
                               40 27 254:0 /srv/chroot /srv/chroot rw - ext4 /dev/vda rw\n";

    #[test]
    fn ubuntu_restricting_unconfined_user_namespaces_names_the_sysctl_and_the_profile_remedy() {
        let host = SimulatedHost::unprivileged().with(RESTRICT, "1\n");
        let evidence = Evidence::gather_from(&host);
        assert_eq!(evidence.apparmor_label, None, "`unconfined` is no label");
        assert_eq!(
            evidence.blocking_sysctls,
            [(
                "kernel.apparmor_restrict_unprivileged_userns".to_owned(),
                "1".to_owned(),
                "0, or an AppArmor profile for this program granting `userns,`".to_owned()
            )]
        );
        for errno in [libc::EACCES, libc::EPERM] {
            let hint = namespace_hint(errno, &evidence);
            assert!(
                hint.contains("kernel.apparmor_restrict_unprivileged_userns is 1 (set it to 0, or an AppArmor"),
                "{hint}"
            );
            assert!(hint.contains("--bwrap-path /usr/bin/bwrap"), "Ubuntu's bwrap profile grants it: {hint}");
            assert!(!hint.contains("unprivileged_userns_clone"), "{hint}");
        }
    }

    #[test]
    fn under_an_apparmor_profile_the_restriction_is_the_profiles_and_the_hint_names_the_label() {
        let host = SimulatedHost::unprivileged()
            .with(RESTRICT, "1\n")
            .with("/proc/self/attr/apparmor/current", "codex-agent (enforce)\n");
        let evidence = Evidence::gather_from(&host);
        assert_eq!(evidence.apparmor_label.as_deref(), Some("codex-agent (enforce)"));
        assert!(evidence.blocking_sysctls.is_empty(), "a profile decides, not the sysctl: {evidence:?}");
        let hint = namespace_hint(libc::EACCES, &evidence);
        assert!(hint.starts_with("AppArmor confines this process as `codex-agent (enforce)`"), "{hint}");
        // An unconfined label in the newer file is no label either.
        let host = SimulatedHost::unprivileged()
            .with(RESTRICT, "1\n")
            .with("/proc/self/attr/apparmor/current", "unconfined\n");
        assert_eq!(Evidence::gather_from(&host).apparmor_label, None);
    }

    #[test]
    fn the_apparmor_sysctl_off_or_absent_blocks_nothing() {
        for host in [SimulatedHost::unprivileged().with(RESTRICT, "0\n"), SimulatedHost::unprivileged()] {
            let evidence = Evidence::gather_from(&host);
            assert!(evidence.blocking_sysctls.is_empty(), "{evidence:?}");
            assert!(namespace_hint(libc::EPERM, &evidence).starts_with("nothing found on this host explains it"));
        }
    }

    #[test]
    fn a_root_that_is_no_mount_point_is_a_chroot_for_any_uid() {
        // chroot(2) into a plain directory: the mounts above the new root are not listed.
        let host = SimulatedHost::unprivileged()
            .with("/proc/self/mountinfo", "60 40 0:21 / /proc rw - proc proc rw\n")
            .with("/proc/1/mountinfo", INIT_MOUNTS);
        let evidence = Evidence::gather_from(&host);
        assert_eq!(evidence.chroot, Some(true));
        assert!(namespace_hint(libc::EPERM, &evidence).starts_with("this process runs in a chroot"));
    }

    #[test]
    fn a_root_mounted_elsewhere_in_pid_1s_view_is_a_chroot() {
        // chroot(2) into a mount point (/srv/chroot, mount 40).
        let host = SimulatedHost::unprivileged()
            .with("/proc/self/mountinfo", "40 27 254:0 /srv/chroot / rw - ext4 /dev/vda rw\n")
            .with("/proc/1/mountinfo", INIT_MOUNTS);
        assert_eq!(Evidence::gather_from(&host).chroot, Some(true));
    }

    #[test]
    fn the_root_pid_1_has_is_no_chroot() {
        let host = SimulatedHost::unprivileged()
            .with("/proc/self/mountinfo", INIT_MOUNTS)
            .with("/proc/1/mountinfo", INIT_MOUNTS);
        assert_eq!(Evidence::gather_from(&host).chroot, Some(false));
    }

    #[test]
    fn in_another_mount_namespace_only_pid_1s_root_tells_and_only_when_readable() {
        // A private mount namespace: its mounts are copies with new ids.
        let mut host = SimulatedHost::unprivileged()
            .with("/proc/self/mountinfo", "90 89 254:0 / / rw - ext4 /dev/vda rw\n")
            .with("/proc/1/mountinfo", INIT_MOUNTS);
        assert_eq!(Evidence::gather_from(&host).chroot, None, "unprivileged: /proc/1/root unreadable");
        host.identities.insert("/proc/1/root/", (254, 2));
        assert_eq!(Evidence::gather_from(&host).chroot, Some(false));
        host.identities.insert("/proc/1/root/", (254, 1_234));
        assert_eq!(Evidence::gather_from(&host).chroot, Some(true));
    }

    #[test]
    fn without_proc_nothing_is_claimed() {
        let mut host = SimulatedHost::default();
        host.identities.insert("/", (254, 2));
        let evidence = Evidence::gather_from(&host);
        assert!(!evidence.proc_mounted);
        assert_eq!(evidence.chroot, None);
        assert!(namespace_hint(libc::ENOENT, &evidence).starts_with("/proc is not mounted here"));
    }
}
