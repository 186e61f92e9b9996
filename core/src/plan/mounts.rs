//! The filesystem view of the namespace pipeline, as a list of operations.
//!
//! Planning is pure: [`plan`] turns the resolved policy into [`MountOp`]s, which `--explain`
//! prints, the embedded launcher executes in the child (`exec::child::view`), and
//! [`super::bwrap_args`] renders for a system `bwrap`, so both executors run the same plan.
//!
//! The order is bubblewrap's: the whole tree read-only, writable roots bound
//! writable (shallowest first), protected paths re-bound read-only after them, then a minimal
//! `/dev`, a fresh `/proc` (or a mask), and a fresh `/sys` when the sandbox has its own network
//! namespace (the host's `/sys/class/net` would list the host's interfaces).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::resolve::{DenyKind, FilesystemView, ProtectedPath, ReadScope};

/// One step of the filesystem view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum MountOp {
    /// Every mount of the tree, recursively, read-only.
    ReadOnlyRoot,
    /// A new, empty tmpfs becomes the root (restricted read access); what may be read is bound
    /// into it, mount points are created as needed, and [`MountOp::SealRoot`] makes it
    /// read-only at the end.
    EmptyRoot,
    /// A readable root bound read-only from the host's view into the empty root.
    ReadableBind { path: PathBuf },
    /// A symlink recreated in the empty root (`/bin -> usr/bin`).
    Symlink { link: PathBuf, target: PathBuf },
    /// The empty root becomes read-only.
    SealRoot,
    /// `path` bound writable over itself; the source is the host's view, taken before the root
    /// became read-only.
    WritableBind { path: PathBuf },
    /// `path` bound over itself as it is, so that it cannot be renamed.
    Pin { path: PathBuf },
    /// `path` bound read-only over itself (checked to be the planned inode first).
    ReadOnlyBind { path: PathBuf },
    /// A new read-only tmpfs at `/dev` holding `null zero full random urandom tty` (bound from
    /// the host), a private devpts at `/dev/pts` with `/dev/ptmx`, the `fd`/`stdin`/`stdout`/
    /// `stderr` links, and `/dev/shm`: the host's, writable, when it is a writable root,
    /// otherwise an empty read-only directory.
    Dev { host_shm: bool },
    /// A fresh procfs at `/proc`: only the sandbox's own processes. Its [`PROC_READ_ONLY`]
    /// parts are bound read-only over themselves: a fresh procfs still shows the host's
    /// sysctls, which the sandbox's root (mapped to the host's uid 0) could otherwise write.
    Proc,
    /// An empty read-only tmpfs over `path`.
    Mask { path: PathBuf },
    /// An empty read-only file (`/dev/null`) over the non-directory `path`.
    MaskFile { path: PathBuf },
    /// A fresh, read-only sysfs at `/sys` (network namespace only).
    Sysfs,
}

/// The parts of a fresh `/proc` that stay read-only: the kernel's tunables, the magic SysRq
/// trigger, interrupt affinities, bus devices (what bubblewrap covers), and the writable knobs
/// of filesystems, ACPI, SCSI and sound (what container runtimes cover too).
pub const PROC_READ_ONLY: [&std::ffi::CStr; 8] = [
    c"/proc/sys",
    c"/proc/sysrq-trigger",
    c"/proc/irq",
    c"/proc/bus",
    c"/proc/fs",
    c"/proc/acpi",
    c"/proc/scsi",
    c"/proc/asound",
];

impl std::fmt::Display for MountOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MountOp::ReadOnlyRoot => write!(f, "read-only /"),
            MountOp::EmptyRoot => write!(f, "empty root"),
            MountOp::ReadableBind { path } => write!(f, "readable bind of {}", path.display()),
            MountOp::Symlink { link, .. } => write!(f, "symlink {}", link.display()),
            MountOp::SealRoot => write!(f, "read-only empty root"),
            MountOp::WritableBind { path } => write!(f, "writable bind of {}", path.display()),
            MountOp::Pin { path } => write!(f, "pin of {}", path.display()),
            MountOp::ReadOnlyBind { path } => write!(f, "read-only bind of {}", path.display()),
            MountOp::Dev { .. } => write!(f, "/dev"),
            MountOp::Proc => write!(f, "/proc"),
            MountOp::Mask { path } => write!(f, "mask over {}", path.display()),
            MountOp::MaskFile { path } => write!(f, "mask over {}", path.display()),
            MountOp::Sysfs => write!(f, "/sys"),
        }
    }
}

/// Options that shape the view beyond the policy.
#[derive(Clone, Copy, Debug, Default)]
pub struct ViewOptions {
    /// Mask `/proc` instead of mounting a fresh one (`--no-proc`).
    pub no_proc: bool,
    /// The sandbox gets its own network namespace.
    pub new_netns: bool,
}

/// The landlock pipeline's view, where user namespaces are available: the host's tree as it
/// is, all of it read-only but the writable roots (bound writable over themselves), then the
/// pins and the protected paths as on the namespace pipeline. Landlock stays the filesystem
/// policy; the read-only mounts are what refuses metadata changes outside the writable roots
/// (mode bits including set-uid, owner, xattrs, timestamps), for which Landlock has no rights.
/// The host's `/dev` and `/sys` stay (read-only; Landlock decides what opens there), and so
/// does its `/proc` unless the planner appends a fresh one ([`MountOp::Proc`], with a PID
/// namespace).
/// Host unix sockets are not masked: `socket(AF_UNIX)` is refused unless every unix socket is
/// granted (`crate::policy::UnixSockets`), and then all of them are meant.
pub fn landlock_view(view: &FilesystemView, pins: &[PathBuf], read_only_binds: &[ProtectedPath]) -> Vec<MountOp> {
    let mut writable: Vec<&Path> = view.writable_roots.iter().map(|root| root.path.as_path()).collect();
    writable.sort_by_key(|path| path.components().count());
    let mut ops = vec![MountOp::ReadOnlyRoot];
    ops.extend(writable.iter().map(|path| MountOp::WritableBind { path: path.to_path_buf() }));
    ops.extend(
        pins.iter().filter(|pin| !writable.contains(&pin.as_path())).map(|pin| MountOp::Pin { path: pin.clone() }),
    );
    let mut protected: Vec<&ProtectedPath> = read_only_binds.iter().collect();
    protected.sort_by_key(|p| p.path.components().count());
    ops.extend(protected.into_iter().map(|p| MountOp::ReadOnlyBind { path: p.path.clone() }));
    ops
}

/// Plans the view. `pins` are directories to bind over themselves before the protected paths
/// inside writable roots (`read_only_binds`) are bound read-only. Host unix sockets are not
/// masked: with the unix-socket capability `none` no socket of the command's can reach them,
/// and `all` means all of them (a fixed list of known names could never be complete).
pub fn plan(
    view: &FilesystemView,
    pins: &[PathBuf],
    read_only_binds: &[ProtectedPath],
    options: ViewOptions,
) -> (Vec<MountOp>, Vec<String>) {
    let mut warnings = Vec::new();
    let shm = Path::new("/dev/shm");
    let mut host_shm = false;
    let mut writable: Vec<&Path> = view.writable_roots.iter().map(|root| root.path.as_path()).collect();
    writable.sort_by_key(|path| path.components().count());
    let special = |path: &Path| ["/dev", "/proc", "/sys"].iter().any(|dir| path.starts_with(dir));

    if view.full_write {
        // Nothing to restrict on the filesystem (a full-write policy in proxy mode): only the
        // namespaces' own /proc and /sys.
        let mut ops = vec![if options.no_proc { MountOp::Mask { path: "/proc".into() } } else { MountOp::Proc }];
        if options.new_netns {
            ops.push(MountOp::Sysfs);
        }
        return (ops, warnings);
    }
    let mut ops = match &view.read {
        ReadScope::Full => vec![MountOp::ReadOnlyRoot],
        ReadScope::Restricted { roots, links, .. } => {
            let mut ops = vec![MountOp::EmptyRoot];
            ops.extend(
                links.iter().map(|(link, target)| MountOp::Symlink { link: link.clone(), target: target.clone() }),
            );
            let mut readable: Vec<&Path> = roots
                .iter()
                .map(PathBuf::as_path)
                // Inside a writable root it is bound writable below; /dev, /proc, /sys are built.
                .filter(|root| !writable.iter().any(|w| root.starts_with(w)) && !special(root))
                .collect();
            readable.sort_by_key(|path| path.components().count());
            ops.extend(readable.into_iter().map(|path| MountOp::ReadableBind { path: path.to_path_buf() }));
            ops
        }
    };
    for path in writable {
        if path == shm {
            host_shm = true;
        } else if special(path) {
            warnings.push(format!(
                "writable root `{}` lies in a filesystem the sandbox replaces; it is not writable there",
                path.display()
            ));
        } else {
            ops.push(MountOp::WritableBind { path: path.to_path_buf() });
        }
    }
    // A writable root is a mount point already.
    let bound = |path: &Path| ops.iter().any(|op| matches!(op, MountOp::WritableBind { path: p } if p == path));
    let pins: Vec<MountOp> =
        pins.iter().filter(|pin| !bound(pin)).map(|pin| MountOp::Pin { path: pin.clone() }).collect();
    ops.extend(pins);
    let mut protected: Vec<&ProtectedPath> = read_only_binds.iter().collect();
    protected.sort_by_key(|p| p.path.components().count());
    ops.extend(protected.into_iter().map(|p| MountOp::ReadOnlyBind { path: p.path.clone() }));
    // Deny-read paths, after the binds they may lie in (shallowest first, as resolved).
    ops.extend(view.deny_read.iter().map(|deny| match deny.kind {
        DenyKind::Directory => MountOp::Mask { path: deny.path.clone() },
        DenyKind::File => MountOp::MaskFile { path: deny.path.clone() },
    }));
    ops.push(MountOp::Dev { host_shm });
    ops.push(if options.no_proc { MountOp::Mask { path: "/proc".into() } } else { MountOp::Proc });
    if options.new_netns {
        ops.push(MountOp::Sysfs);
    }
    if ops.first() == Some(&MountOp::EmptyRoot) {
        ops.push(MountOp::SealRoot);
    }
    (ops, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::bwrap_args::bwrap_args;
    use crate::resolve::{ProtectedKind, RootSource, WritableRoot};

    fn view(roots: &[&str]) -> FilesystemView {
        FilesystemView {
            full_write: false,
            read: ReadScope::Full,
            writable_roots: roots
                .iter()
                .map(|r| WritableRoot {
                    path: r.into(),
                    source: RootSource::Explicit,
                    protected: vec![],
                    protected_names: vec![],
                })
                .collect(),
            skipped_roots: vec![],
            ..Default::default()
        }
    }

    fn protected(path: &str) -> ProtectedPath {
        ProtectedPath {
            path: path.into(),
            kind: ProtectedKind::Directory,
            reason: String::new(),
            identity: None,
            placeholder_if_missing: false,
        }
    }

    #[test]
    fn order_is_root_writable_protected_dev_proc() {
        let (ops, warnings) = plan(
            &view(&["/w/deep/er", "/w", "/dev/shm"]),
            &["/w".into(), "/w/.git/modules".into()],
            &[protected("/w/.git/modules/x"), protected("/w/.git")],
            ViewOptions { no_proc: false, new_netns: true },
        );
        assert!(warnings.is_empty());
        assert_eq!(
            ops,
            vec![
                MountOp::ReadOnlyRoot,
                MountOp::WritableBind { path: "/w".into() },
                MountOp::WritableBind { path: "/w/deep/er".into() },
                MountOp::Pin { path: "/w/.git/modules".into() },
                MountOp::ReadOnlyBind { path: "/w/.git".into() },
                MountOp::ReadOnlyBind { path: "/w/.git/modules/x".into() },
                MountOp::Dev { host_shm: true },
                MountOp::Proc,
                MountOp::Sysfs,
            ]
        );
        assert_eq!(
            bwrap_args(&ops).join(" "),
            "--ro-bind / / --bind /w /w --bind /w/deep/er /w/deep/er --bind /w/.git/modules /w/.git/modules \
             --ro-bind /w/.git /w/.git \
             --ro-bind /w/.git/modules/x /w/.git/modules/x --dev /dev --bind /dev/shm /dev/shm --remount-ro /dev \
             --proc /proc --ro-bind-try /proc/sys /proc/sys --ro-bind-try /proc/sysrq-trigger /proc/sysrq-trigger \
             --ro-bind-try /proc/irq /proc/irq --ro-bind-try /proc/bus /proc/bus \
             --ro-bind-try /proc/fs /proc/fs --ro-bind-try /proc/acpi /proc/acpi --ro-bind-try /proc/scsi /proc/scsi \
             --ro-bind-try /proc/asound /proc/asound \
             --tmpfs /sys --remount-ro /sys"
        );
    }

    #[test]
    fn restricted_read_builds_an_empty_root() {
        let mut view = view(&["/w"]);
        view.read = ReadScope::Restricted {
            roots: vec!["/usr".into(), "/w".into(), "/w/sub".into(), "/opt/tools".into(), "/proc".into()],
            links: vec![("/bin".into(), "usr/bin".into())],
            platform_defaults: vec![],
            skipped: vec![],
        };
        let (ops, _) = plan(&view, &[], &[], ViewOptions { no_proc: false, new_netns: false });
        assert_eq!(
            ops,
            vec![
                MountOp::EmptyRoot,
                MountOp::Symlink { link: "/bin".into(), target: "usr/bin".into() },
                MountOp::ReadableBind { path: "/usr".into() },
                MountOp::ReadableBind { path: "/opt/tools".into() },
                MountOp::WritableBind { path: "/w".into() },
                MountOp::Dev { host_shm: false },
                MountOp::Proc,
                MountOp::SealRoot,
            ]
        );
        assert_eq!(
            bwrap_args(&ops).join(" "),
            "--symlink usr/bin /bin --ro-bind /usr /usr --ro-bind /opt/tools /opt/tools --bind /w /w --dev /dev \
             --remount-ro /dev --proc /proc --ro-bind-try /proc/sys /proc/sys --ro-bind-try /proc/sysrq-trigger \
             /proc/sysrq-trigger --ro-bind-try /proc/irq /proc/irq --ro-bind-try /proc/bus /proc/bus --ro-bind-try /proc/fs \
             /proc/fs --ro-bind-try /proc/acpi /proc/acpi --ro-bind-try /proc/scsi /proc/scsi --ro-bind-try /proc/asound \
             /proc/asound --remount-ro /"
        );
    }

    #[test]
    fn no_proc_masks_and_special_roots_are_reported() {
        let (ops, warnings) = plan(&view(&["/proc/self"]), &[], &[], ViewOptions { no_proc: true, new_netns: false });
        assert_eq!(
            ops,
            vec![MountOp::ReadOnlyRoot, MountOp::Dev { host_shm: false }, MountOp::Mask { path: "/proc".into() }]
        );
        assert_eq!(warnings.len(), 1);
    }
}
