//! Child side of the namespaces: id maps, the filesystem view ([`crate::plan::mounts`]
//! operations, executed with the new mount API), the loopback interface, and the proxy
//! listeners. Every path and option string was prepared by the parent; the only mutable state
//! is the cloned trees' slots, preallocated as `Cell`s.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, OwnedFd};

use super::image::{BindTarget, NamespaceImage, PreparedOp, ProxyListeners};
use super::kernel::Kernel;
use super::paths::{ensure_mountpoint, ensure_parents, open_without_symlinks};
use crate::exec::report::{Failure, Stage, Step, at};
use crate::plan::devices::{DEVICE_COUNT, DEVICES};
use crate::plan::mounts::PROC_READ_ONLY;
use crate::sys::{self, Errno};

const READ_ONLY: sys::MountAttr =
    sys::MountAttr { attr_set: sys::MOUNT_ATTR_RDONLY, attr_clr: 0, propagation: 0, userns_fd: 0 };
const CLONE_TREE: u32 = sys::OPEN_TREE_CLONE | sys::OPEN_TREE_CLOEXEC | libc::AT_RECURSIVE as u32;
/// `openat2` resolution for paths the sandbox mounts on or binds: no symlink anywhere.
const NO_SYMLINKS: sys::OpenHow = sys::OpenHow {
    flags: (libc::O_PATH | libc::O_CLOEXEC | libc::O_NOFOLLOW) as u64,
    mode: 0,
    resolve: sys::RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_MAGICLINKS,
};

/// Sets up the namespaces the child was cloned into.
pub(crate) fn enter(k: &impl Kernel, ns: &NamespaceImage) -> Step {
    if let Some((uid_map, gid_map)) = &ns.id_maps {
        write_file(k, c"/proc/self/setgroups", b"deny", Stage::SetgroupsDeny)?;
        write_file(k, c"/proc/self/uid_map", uid_map, Stage::UidMap)?;
        write_file(k, c"/proc/self/gid_map", gid_map, Stage::GidMap)?;
    }
    // Private, not slave: mounts the host makes later (automounts, FUSE, removable media) must
    // not appear in the sandbox with their own, writable, flags; and nothing propagates back.
    at(Stage::MountPropagation, k.mount_propagation(c"/", libc::MS_REC | libc::MS_PRIVATE))?;
    if ns.loopback {
        // Proxy mode serves its routes on `lo`: down, they are unreachable, so it is required
        // then. Otherwise best effort: a host that refuses it (gVisor, AppArmor) leaves `lo`
        // as it is, and nothing the command could reach depends on it.
        let up = k.bring_up_loopback();
        if ns.proxy_listeners.is_some() {
            at(Stage::Loopback, up)?;
        }
    }
    if let Some(proxy) = &ns.proxy_listeners {
        hand_over_proxy_listeners(k, proxy)?;
    }
    if let Some(classic) = &ns.classic {
        return super::classic::build_view(k, ns, classic);
    }
    for source in &ns.clone_first {
        let fd = if source.checked {
            open_checked(k, &source.target)?
        } else {
            match k.open(&source.target.path, libc::O_PATH | libc::O_NOFOLLOW) {
                Ok(fd) => fd,
                Err(_) => continue, // a device node this host lacks is left out
            }
        };
        source.tree.set(Some(at(Stage::ProtectClone, k.open_tree(fd.as_raw_fd(), CLONE_TREE))?));
    }
    for (index, op) in ns.ops.iter().enumerate() {
        run_op(k, ns, op).map_err(|failure| failure.at(index))?;
    }
    Ok(())
}

/// Creates the in-sandbox end of each proxy route and passes it to the bridge outside. IPv4 is
/// required; IPv6 is skipped when the namespace has no `::1` (IPv6 disabled).
fn hand_over_proxy_listeners(k: &impl Kernel, proxy: &ProxyListeners) -> Step {
    for (index, port) in proxy.ports.iter().enumerate() {
        let tag = u32::try_from(index).unwrap_or(u32::MAX);
        for ipv6 in [false, true] {
            let listener = match k.listen_loopback(ipv6, *port) {
                Ok(fd) => fd,
                Err(errno) if ipv6 && matches!(errno.0, libc::EADDRNOTAVAIL | libc::EAFNOSUPPORT) => continue,
                Err(errno) => return Err(Failure::new(Stage::ProxyListen, errno).at(index)),
            };
            let sent = k.send_fd(proxy.control_fd, tag, listener.as_raw_fd());
            at(Stage::ProxyListen, sent).map_err(|failure| failure.at(index))?;
        }
    }
    Ok(())
}

/// Takes the tree cloned into `slot`.
fn take_tree(ns: &NamespaceImage, slot: usize) -> Option<OwnedFd> {
    ns.clone_first.get(slot).and_then(|source| source.tree.take())
}

fn run_op(k: &impl Kernel, ns: &NamespaceImage, op: &PreparedOp) -> Step {
    match op {
        PreparedOp::ReadOnlyRoot => set_attr(k, c"/", libc::AT_RECURSIVE as u32, Stage::ReadOnlyRoot),
        PreparedOp::EmptyRoot { staging } => switch_to_empty_root(k, staging),
        PreparedOp::Attach { target, slot, is_dir, attr } => {
            let tree = take_tree(ns, *slot).ok_or(Failure::new(Stage::WritableBind, Errno(libc::EBADF)))?;
            attach(k, &tree, target, *is_dir, *attr)
        }
        PreparedOp::Symlink { link, target } => {
            ensure_parents(k, link)?;
            at(Stage::WritableBind, k.symlink(target, link))
        }
        PreparedOp::Pin(target) => {
            let fd = open_checked(k, target)?;
            let tree = at(Stage::ProtectClone, k.open_tree(fd.as_raw_fd(), CLONE_TREE))?;
            at(Stage::ProtectAttach, k.move_mount(tree.as_raw_fd(), fd.as_raw_fd()))
        }
        PreparedOp::ReadOnlyBind(target) => bind_read_only(k, target),
        PreparedOp::Dev { node_slots, host_shm_slot } => {
            let nodes = node_slots.map(|slot| take_tree(ns, slot));
            set_up_dev(k, nodes, host_shm_slot.and_then(|slot| take_tree(ns, slot)))
        }
        PreparedOp::Proc => {
            ensure_mountpoint(k, c"/proc", true)?;
            let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
            match k.mount(c"proc", c"/proc", c"proc", flags, None) {
                Ok(()) => cover_proc(k),
                // A host whose /proc has locked over-mounts (a container's masked paths)
                // forbids a fresh procfs: hide the host's instead of showing its processes.
                Err(errno) if matches!(errno.0, libc::EPERM | libc::EINVAL | libc::EACCES) => mask(k, c"/proc"),
                Err(errno) => Err(Failure::new(Stage::Proc, errno)),
            }
        }
        PreparedOp::Mask(path) => mask(k, path),
        PreparedOp::Sysfs => {
            ensure_mountpoint(k, c"/sys", true)?;
            let flags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
            match k.mount(c"sysfs", c"/sys", c"sysfs", flags, None) {
                Ok(()) => Ok(()),
                Err(_) => mask(k, c"/sys"),
            }
        }
        PreparedOp::SealRoot => set_attr(k, c"/", 0, Stage::ReadOnlyRoot),
    }
}

/// Binds the [`PROC_READ_ONLY`] parts of the fresh procfs read-only over themselves (those
/// this kernel has).
fn cover_proc(k: &impl Kernel) -> Step {
    let sealed = sys::MountAttr {
        attr_set: sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV | sys::MOUNT_ATTR_NOEXEC,
        ..READ_ONLY
    };
    for path in PROC_READ_ONLY {
        let fd = match k.open(path, libc::O_PATH | libc::O_NOFOLLOW) {
            Ok(fd) => fd,
            Err(errno) if errno.0 == libc::ENOENT => continue,
            Err(errno) => return Err(Failure::new(Stage::Proc, errno)),
        };
        let tree = at(Stage::Proc, k.open_tree(fd.as_raw_fd(), CLONE_TREE))?;
        at(Stage::Proc, k.mount_setattr(tree.as_raw_fd(), libc::AT_RECURSIVE as u32, &sealed))?;
        at(Stage::Proc, k.move_mount(tree.as_raw_fd(), fd.as_raw_fd()))?;
    }
    Ok(())
}

/// Makes the mount at `path` (recursively, with `AT_RECURSIVE`) read-only.
fn set_attr(k: &impl Kernel, path: &CStr, flags: u32, stage: Stage) -> Step {
    let fd = at(stage, k.open(path, libc::O_PATH | libc::O_DIRECTORY))?;
    at(stage, k.mount_setattr(fd.as_raw_fd(), flags, &READ_ONLY))
}

/// Makes a new tmpfs the root: mount it on `staging`, `pivot_root(".", ".")` into it, and
/// detach the old root that now sits on top.
fn switch_to_empty_root(k: &impl Kernel, staging: &CStr) -> Step {
    let stage = Stage::ReadOnlyRoot;
    at(stage, k.mount(c"tmpfs", staging, c"tmpfs", libc::MS_NOSUID | libc::MS_NODEV, Some(c"mode=0755")))?;
    at(stage, k.chdir(staging))?;
    at(stage, k.pivot_root_here())?;
    at(stage, k.detach_mount(c"."))?;
    at(stage, k.chdir(c"/"))
}

/// Attaches `tree` at `target`, creating the mount point when the view lacks it (an empty
/// root), with the attributes `attr` set first (while the tree is still detached, so it is
/// never visible without them).
fn attach(k: &impl Kernel, tree: &OwnedFd, target: &CStr, is_dir: bool, attr: u64) -> Step {
    if attr != 0 {
        let attr = sys::MountAttr { attr_set: attr, ..READ_ONLY };
        at(Stage::ProtectReadOnly, k.mount_setattr(tree.as_raw_fd(), libc::AT_RECURSIVE as u32, &attr))?;
    }
    ensure_mountpoint(k, target, is_dir)?;
    let fd = at(Stage::ProtectOpen, open_without_symlinks(k, target, &NO_SYMLINKS))?;
    at(Stage::ProtectAttach, k.move_mount(tree.as_raw_fd(), fd.as_raw_fd()))
}

fn mask(k: &impl Kernel, path: &CStr) -> Step {
    ensure_mountpoint(k, path, true)?;
    let flags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    at(Stage::Mask, k.mount(c"tmpfs", path, c"tmpfs", flags, Some(c"mode=0555,size=4k")))
}

/// A minimal `/dev`: the host's harmless device nodes (cloned before the view changed) bound
/// onto files of a new tmpfs, a private devpts, the usual links, and `/dev/shm`; then the tmpfs
/// is made read-only.
fn set_up_dev(k: &impl Kernel, nodes: [Option<OwnedFd>; DEVICE_COUNT], host_shm: Option<OwnedFd>) -> Step {
    let dev = Stage::Dev;
    ensure_mountpoint(k, c"/dev", true)?;
    at(dev, k.mount(c"tmpfs", c"/dev", c"tmpfs", libc::MS_NOSUID | libc::MS_NOEXEC, Some(c"mode=0755,size=64k")))?;
    for (tree, device) in nodes.iter().zip(DEVICES) {
        if let Some(tree) = tree {
            let file = at(dev, k.create_file(device.path, 0o666))?;
            at(dev, k.move_mount(tree.as_raw_fd(), file.as_raw_fd()))?;
        }
    }
    at(dev, k.mkdir(c"/dev/pts", 0o755))?;
    let devpts_flags = libc::MS_NOSUID | libc::MS_NOEXEC;
    // Without a devpts instance the command gets no new terminals, nothing worse.
    if k.mount(c"devpts", c"/dev/pts", c"devpts", devpts_flags, Some(c"newinstance,ptmxmode=0666,mode=0620")).is_ok() {
        at(dev, k.symlink(c"pts/ptmx", c"/dev/ptmx"))?;
    }
    for (target, link) in [
        (c"/proc/self/fd", c"/dev/fd"),
        (c"/proc/self/fd/0", c"/dev/stdin"),
        (c"/proc/self/fd/1", c"/dev/stdout"),
        (c"/proc/self/fd/2", c"/dev/stderr"),
    ] {
        at(dev, k.symlink(target, link))?;
    }
    at(dev, k.mkdir(c"/dev/shm", 0o755))?;
    if let Some(tree) = host_shm {
        let target = at(dev, k.open(c"/dev/shm", libc::O_PATH | libc::O_DIRECTORY))?;
        at(dev, k.move_mount(tree.as_raw_fd(), target.as_raw_fd()))?;
    }
    set_attr(k, c"/dev", 0, dev)
}

/// Opens `target` without following any symlink and checks it is the planned inode.
fn open_checked(k: &impl Kernel, target: &BindTarget) -> Step<OwnedFd> {
    let fd = at(Stage::ProtectOpen, open_without_symlinks(k, &target.path, &NO_SYMLINKS))?;
    let st = at(Stage::ProtectVerify, k.fstat(fd.as_raw_fd()))?;
    // With O_PATH|O_NOFOLLOW a trailing symlink is opened itself rather than refused, and a
    // freed inode number can come back as that symlink's: never mount over a symlink.
    let is_symlink = st.st_mode & libc::S_IFMT == libc::S_IFLNK;
    if is_symlink || st.st_dev != target.dev || st.st_ino != target.ino {
        return Err(Failure::new(Stage::ProtectVerify, Errno(libc::ESTALE)));
    }
    Ok(fd)
}

/// Re-binds `target` read-only over itself. The path is reopened here, inside the new mount
/// namespace, refusing every symlink, and must still be the inode the parent planned with: a
/// path swapped since then (a directory replaced by a symlink to elsewhere) is refused, not
/// followed. The bind is made read-only while still detached, so it is never visible writable.
pub(crate) fn bind_read_only(k: &impl Kernel, target: &BindTarget) -> Step {
    let fd = open_checked(k, target)?;
    let tree = at(Stage::ProtectClone, k.open_tree(fd.as_raw_fd(), CLONE_TREE))?;
    at(Stage::ProtectReadOnly, k.mount_setattr(tree.as_raw_fd(), libc::AT_RECURSIVE as u32, &READ_ONLY))?;
    at(Stage::ProtectAttach, k.move_mount(tree.as_raw_fd(), fd.as_raw_fd()))
}

fn write_file(k: &impl Kernel, path: &CStr, contents: &[u8], stage: Stage) -> Step {
    let fd = at(stage, k.open(path, libc::O_WRONLY))?;
    at(stage, k.write_all(fd.as_raw_fd(), contents))
}
