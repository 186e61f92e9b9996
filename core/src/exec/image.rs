//! Parent side of a spawn, before `clone`: turns a plan into the [`ChildImage`] the child
//! reads — C strings, prepared mount operations with their planned inodes, the Landlock
//! ruleset's bytes, descriptor numbers.

use std::cell::Cell;
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::child::image::{
    BindTarget, ClassicMounts, CloneSource, LandlockImage, LandlockRuleImage, NamespaceImage, PreparedOp,
};
use super::child::kernel::Live;
use super::child::paths::{RULE_PATH, open_without_symlinks};
use super::placeholder::{Found, Placeholder};
use crate::error::{Error, Result};
use crate::plan::devices::{DEVICE_COUNT, DEVICES};
use crate::plan::landlock::{LandlockPlan, fs_access};
use crate::plan::mounts::MountOp;
use crate::plan::{MountApi, SandboxPlan};
use crate::sys;

/// Bind targets for the protected paths, in the plan's order, creating or joining placeholders
/// for missing ones (their locks at `fd_floor` or above).
pub(crate) fn protected_targets(
    plan: &SandboxPlan,
    placeholders: &mut Vec<Placeholder>,
    fd_floor: RawFd,
) -> Result<Vec<BindTarget>> {
    let mut targets = Vec::new();
    for protected in plan.read_only_binds() {
        // A protected name, missing or a directory: create or join a placeholder
        // (which may be the user's own directory; it is then protected and left alone).
        let use_placeholder =
            protected.placeholder_if_missing && matches!(Placeholder::inspect(&protected.path)?, Found::Placeholder);
        let (dev, ino) = if use_placeholder {
            let placeholder = Placeholder::acquire(&protected.path, fd_floor)?;
            let identity = placeholder.identity();
            placeholders.push(placeholder);
            // A directory that existed when planned is joined only if it is still that
            // directory, or a placeholder (concurrent runs replace one another's as the last
            // user removes its own): any other directory swapped in since is refused, as the
            // child refuses a swapped bind.
            let swapped = protected.identity.is_some_and(|planned| planned != identity);
            if swapped && !placeholders.last().is_some_and(Placeholder::is_a_placeholder) {
                return Err(Error::path(
                    "a path changed between planning and mounting",
                    &protected.path,
                    io::Error::from_raw_os_error(libc::ESTALE),
                ));
            }
            identity
        } else {
            // A real path: the child checks it is still the inode planned here. One that was
            // missing when planned and exists now has no planned inode and is refused.
            protected.identity.ok_or_else(|| {
                Error::path(
                    "protected path appeared while the sandbox was starting",
                    &protected.path,
                    io::Error::from_raw_os_error(libc::EEXIST),
                )
            })?
        };
        targets.push(BindTarget { path: c_path(&protected.path)?, dev, ino });
    }
    Ok(targets)
}

/// The Landlock pipeline's namespaces: only pins and read-only binds of the protected paths.
pub(crate) fn bind_only_namespaces(plan: &SandboxPlan, targets: Vec<BindTarget>) -> Result<NamespaceImage> {
    let mut ops = Vec::new();
    for pin in &plan.protected().pins {
        ops.push(PreparedOp::Pin(identify(pin)?.0));
    }
    ops.extend(targets.into_iter().map(PreparedOp::ReadOnlyBind));
    Ok(NamespaceImage {
        id_maps: child_id_maps(plan),
        ops,
        clone_first: Vec::new(),
        loopback: false,
        pid_namespace: false,
        proxy_listeners: None,
        classic: classic_mounts(plan, false)?,
    })
}

/// Every [`MountOp`] of the plan, prepared: the namespace pipeline's view under its PID 1, or
/// the landlock pipeline's read-only view (in the host's PID namespace).
pub(crate) fn namespaces(plan: &SandboxPlan, targets: &[BindTarget]) -> Result<NamespaceImage> {
    // The landlock pipeline has a PID namespace of its own where its view mounts a fresh /proc.
    let pid_namespace =
        plan.pipeline() == crate::plan::Pipeline::Bwrap || plan.mounts().iter().any(|op| matches!(op, MountOp::Proc));
    let mut ops = Vec::new();
    let mut clone_first: Vec<CloneSource> = Vec::new();
    let mut clone = |target: BindTarget, checked: bool| {
        clone_first.push(CloneSource { target, checked, tree: Cell::new(None) });
        clone_first.len() - 1
    };
    let plain = |path: &std::ffi::CStr| BindTarget { path: path.to_owned(), dev: 0, ino: 0 };
    for op in plan.mounts() {
        ops.push(match op {
            MountOp::ReadOnlyRoot => PreparedOp::ReadOnlyRoot,
            MountOp::EmptyRoot => PreparedOp::EmptyRoot { staging: c_path(staging_dir())? },
            MountOp::ReadableBind { path } | MountOp::WritableBind { path } => {
                let (target, is_dir) = identify(path)?;
                let attr = if matches!(op, MountOp::ReadableBind { .. }) { sys::MOUNT_ATTR_RDONLY } else { 0 };
                PreparedOp::Attach { target: target.path.clone(), slot: clone(target, true), is_dir, attr }
            }
            MountOp::Pin { path } => PreparedOp::Pin(identify(path)?.0),
            MountOp::Symlink { link, target } => PreparedOp::Symlink { link: c_path(link)?, target: c_path(target)? },
            MountOp::ReadOnlyBind { path } => {
                let target = plan
                    .read_only_binds()
                    .iter()
                    .position(|p| &p.path == path)
                    .and_then(|index| targets.get(index))
                    .ok_or_else(|| {
                        Error::Internal(format!("mount plan names {} which is not a protected path", path.display()))
                    })?;
                PreparedOp::ReadOnlyBind(BindTarget { path: target.path.clone(), dev: target.dev, ino: target.ino })
            }
            MountOp::Dev { host_shm } => {
                let mut node_slots = [0; DEVICE_COUNT];
                for (slot, device) in node_slots.iter_mut().zip(DEVICES) {
                    *slot = clone(plain(device.path), false);
                }
                let host_shm_slot =
                    if *host_shm { Some(clone(identify(Path::new("/dev/shm"))?.0, true)) } else { None };
                PreparedOp::Dev { node_slots, host_shm_slot }
            }
            MountOp::Proc => PreparedOp::Proc,
            MountOp::Mask { path } => PreparedOp::Mask(c_path(path)?),
            MountOp::MaskFile { path } => {
                let null = clone(plain(c"/dev/null"), false);
                // No device access through it either: opening the mask fails (EACCES) rather
                // than reading as an empty file.
                let attr =
                    sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NODEV | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NOEXEC;
                PreparedOp::Attach { target: c_path(path)?, slot: null, is_dir: false, attr }
            }
            MountOp::Sysfs => PreparedOp::Sysfs,
            MountOp::SealRoot => PreparedOp::SealRoot,
        });
    }
    Ok(NamespaceImage {
        id_maps: child_id_maps(plan),
        ops,
        clone_first,
        loopback: plan.namespaces().is_some_and(|ns| ns.network),
        pid_namespace,
        proxy_listeners: None,
        // A read-only root is staged on the classic path, on both pipelines.
        classic: classic_mounts(plan, true)?,
    })
}

/// What the classic mount sequence needs, when the plan takes it.
fn classic_mounts(plan: &SandboxPlan, staged: bool) -> Result<Option<ClassicMounts>> {
    if plan.launcher().is_none_or(|launcher| launcher.mount_api != MountApi::Classic) {
        return Ok(None);
    }
    // Room for the table as it is now, the copies the view adds (a recursive bind of `/`
    // doubles it) and some more.
    let current = fs::read("/proc/self/mountinfo").map(|table| table.len()).unwrap_or(0);
    let size = current.saturating_mul(4).saturating_add(256 * 1024);
    Ok(Some(ClassicMounts {
        staged,
        base: c_path(staging_dir())?,
        mountinfo: std::cell::RefCell::new(vec![0u8; size].into_boxed_slice()),
    }))
}

/// The Landlock ruleset, created here with every rule whose inode is the host's; the child
/// adds the rules of its own view and enforces it.
///
/// The plan already fitted the rights to this host's ABI (what it cannot enforce is listed in
/// the plan), so the ruleset is built with the crate's hard-requirement level: if the kernel
/// cannot enforce every planned right, nothing is spawned, rather than a weaker ruleset than
/// `--explain` showed. The rule paths are opened without following any symlink.
pub(crate) fn landlock(plan: &LandlockPlan, fd_floor: RawFd) -> Result<LandlockImage> {
    use landlock::{
        AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath, Ruleset, RulesetAttr,
        RulesetCreatedAttr, Scope,
    };
    let refused = |error: landlock::RulesetError| Error::Unsupported {
        what: format!("the planned Landlock ruleset (ABI {})", plan.abi),
        reason: error.to_string(),
    };
    let rights = |bits: u64| {
        BitFlags::<AccessFs>::from_bits(bits)
            .map_err(|_| Error::Internal(format!("Landlock rights {bits:#x} unknown to the landlock crate")))
    };
    let mut ruleset = Ruleset::default().set_compatibility(CompatLevel::HardRequirement);
    if plan.handled != 0 {
        ruleset = ruleset.handle_access(rights(plan.handled)?).map_err(refused)?;
    }
    if plan.tcp_connect_ports.is_some() {
        ruleset = ruleset.handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp).map_err(refused)?;
    }
    if plan.scoped != 0 {
        let scopes = BitFlags::<Scope>::from_bits(plan.scoped).map_err(|_| {
            Error::Internal(format!("Landlock scopes {:#x} unknown to the landlock crate", plan.scoped))
        })?;
        ruleset = ruleset.scope(scopes).map_err(refused)?;
    }
    let mut created = ruleset.create().map_err(refused)?;
    let mut in_sandbox_view = Vec::new();
    for rule in &plan.rules {
        if rule.sandbox_view {
            in_sandbox_view.push(LandlockRuleImage {
                path: c_path(&rule.path)?,
                access: rule.access,
                file_access: rule.access & fs_access::FILE_RIGHTS,
                optional: rule.optional,
            });
            continue;
        }
        // openat2, or the component walk on kernels before 5.6.
        let fd = match open_without_symlinks(&Live, &c_path(&rule.path)?, &RULE_PATH) {
            Ok(fd) => fd,
            Err(errno) if rule.optional && errno.0 == libc::ENOENT => continue,
            Err(errno) => return Err(Error::path("cannot open a Landlock rule's path", &rule.path, errno.into_io())),
        };
        let st = sys::fstat(fd.as_raw_fd())
            .map_err(|errno| Error::path("cannot inspect a Landlock rule's path", &rule.path, errno.into_io()))?;
        let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
        let access = if is_dir { rule.access } else { rule.access & fs_access::FILE_RIGHTS };
        created = created.add_rule(PathBeneath::new(fd, rights(access)?)).map_err(refused)?;
    }
    for port in plan.tcp_connect_ports.iter().flatten() {
        created = created.add_rule(NetPort::new(*port, AccessNet::ConnectTcp)).map_err(refused)?;
    }
    let ruleset: Option<OwnedFd> = created.into();
    let ruleset = ruleset.ok_or_else(|| Error::Internal("the landlock crate enforced nothing".into()))?;
    let ruleset = sys::renumber_above(ruleset, fd_floor)
        .map_err(|errno| Error::setup("create the Landlock ruleset", errno.into_io()))?;
    Ok(LandlockImage { ruleset, rules: in_sandbox_view })
}

/// A directory of the host's view to mount the empty root on before pivoting into it; the
/// mount happens in the sandbox's private mount namespace and is gone with the old root.
fn staging_dir() -> &'static Path {
    ["/tmp", "/mnt", "/proc"].into_iter().map(Path::new).find(|dir| dir.is_dir()).unwrap_or(Path::new("/proc"))
}

/// The bind target for `path` as it is now, and whether it is a directory.
fn identify(path: &Path) -> Result<(BindTarget, bool)> {
    let metadata = fs::metadata(path).map_err(|e| Error::path("cannot inspect", path, e))?;
    Ok((BindTarget { path: c_path(path)?, dev: metadata.dev(), ino: metadata.ino() }, metadata.is_dir()))
}

/// The uid and gid maps the child writes into its new user namespace: the caller's effective
/// ids (the kernel's rule for an unprivileged writer), mapped to themselves. None when the
/// command switches ids: the launcher writes [`launcher_id_maps`] then.
fn child_id_maps(plan: &SandboxPlan) -> Option<(Vec<u8>, Vec<u8>)> {
    if plan.process.ids.is_some() {
        return None;
    }
    let (uid, gid) = (sys::geteuid(), sys::getegid());
    Some((format!("{uid} {uid} 1\n").into_bytes(), format!("{gid} {gid} 1\n").into_bytes()))
}

/// The maps the launcher (root) writes for a command that switches ids: the caller's ids and
/// the command's, each mapped to itself, so the child can set up the view as the caller and
/// then switch, and the command's files belong to its ids on the host.
pub(crate) fn launcher_id_maps(ids: &crate::plan::SwitchIds) -> (Vec<u8>, Vec<u8>) {
    let map = |own: u32, target: u32| {
        let mut map = format!("{own} {own} 1\n");
        if target != own {
            map.push_str(&format!("{target} {target} 1\n"));
        }
        map.into_bytes()
    };
    (map(sys::geteuid(), ids.uid), map(sys::getegid(), ids.gid))
}

pub(crate) fn c_path(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::Internal(format!("NUL byte in {}", path.display())))
}

pub(crate) fn c_strings(items: impl Iterator<Item = Vec<u8>>) -> Result<Vec<CString>> {
    items.map(|bytes| CString::new(bytes).map_err(|_| Error::Internal("NUL byte in argv or env".into()))).collect()
}

pub(crate) fn pointer_array(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings.iter().map(|s| s.as_ptr()).chain(std::iter::once(std::ptr::null())).collect()
}
