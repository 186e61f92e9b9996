//! The filesystem view on kernels without the new mount API (`open_tree`, `move_mount`,
//! `mount_setattr`: Linux 5.12; or a container whose seccomp profile hides them), built with
//! the classic `mount(2)` sequence bubblewrap uses, with the same result and the same checks.
//!
//! Without detached mount trees, the host's view cannot be cloned aside before the root
//! becomes read-only, so the view is staged instead: a tmpfs becomes the root for the time
//! of the setup, with the host's tree at [`OLD_ROOT`] and the sandbox's view assembled at
//! [`NEW_ROOT`] (binds from the untouched host tree), which becomes the root at the end. The
//! Landlock pipeline's binds (no staging) are made in place.
//!
//! - read-only: `MS_BIND|MS_REMOUNT|MS_RDONLY` on every mount of the bound tree, found in
//!   `/proc/self/mountinfo`, read here into the buffer the parent allocated (no allocation),
//!   keeping the flags the kernel locks (`nosuid`, `nodev`, `noexec`, from `fstatfs`);
//! - no symlink is followed: every path is opened one component at a time with `O_NOFOLLOW`
//!   ([`open_no_symlinks`]), checked against the planned device and inode where the parent
//!   planned one, and mounts are made through `/proc/self/fd/N` of those descriptors, so a
//!   path swapped after the check is not what gets mounted.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, OwnedFd};

use super::image::{BindTarget, ClassicMounts, NamespaceImage, PreparedOp};
use super::kernel::Kernel;
use super::paths::{ensure_mountpoint, ensure_parents, open_no_symlinks};
use crate::exec::report::{Failure, Stage, Step, at};
use crate::plan::devices::DEVICES;
use crate::plan::mounts::PROC_READ_ONLY;
use crate::sys::{self, Errno};

/// Where the sandbox's view is assembled while staging.
pub(crate) const NEW_ROOT: &[u8] = b"/newroot";
/// Where the host's tree sits while staging.
pub(crate) const OLD_ROOT: &[u8] = b"/oldroot";

const PATH_CAPACITY: usize = libc::PATH_MAX as usize;

/// A NUL-terminated path assembled on the stack.
pub(crate) struct CPath {
    bytes: [u8; PATH_CAPACITY],
}

impl CPath {
    /// `parts` concatenated; ENAMETOOLONG (at `stage`) when they do not fit.
    pub(crate) fn join(stage: Stage, parts: &[&[u8]]) -> Step<CPath> {
        let mut path = CPath { bytes: [0; PATH_CAPACITY] };
        let mut slots = path.bytes.iter_mut();
        for byte in parts.iter().flat_map(|part| part.iter()) {
            match slots.next() {
                Some(slot) => *slot = *byte,
                None => return Err(Failure::new(stage, Errno(libc::ENAMETOOLONG))),
            }
        }
        // The terminating NUL (the buffer started zeroed) must still fit.
        if slots.next().is_none() {
            return Err(Failure::new(stage, Errno(libc::ENAMETOOLONG)));
        }
        Ok(path)
    }

    pub(crate) fn as_cstr(&self) -> &CStr {
        CStr::from_bytes_until_nul(&self.bytes).unwrap_or(c"")
    }
}

/// The directories of one classic build: where the view and the host's tree are reached.
struct Roots {
    /// Prefix of the sandbox's paths (`/newroot` while staging, empty in place).
    view: &'static [u8],
    /// Prefix of the host's paths.
    host: &'static [u8],
}

impl Roots {
    fn view_path(&self, stage: Stage, path: &CStr) -> Step<CPath> {
        under(stage, self.view, path.to_bytes())
    }

    fn host_path(&self, stage: Stage, path: &CStr) -> Step<CPath> {
        under(stage, self.host, path.to_bytes())
    }

    /// `/proc/self/fd/N` of `fd`, through the host's procfs (the only one mounted).
    fn fd_path(&self, stage: Stage, fd: &OwnedFd) -> Step<CPath> {
        let mut digits = [0u8; 12];
        let number = decimal(fd.as_raw_fd().unsigned_abs(), &mut digits);
        CPath::join(stage, &[self.host, b"/proc/self/fd/", number])
    }
}

/// `path` (absolute) below `prefix` (empty, or absolute without a trailing slash).
fn under(stage: Stage, prefix: &[u8], path: &[u8]) -> Step<CPath> {
    if path == b"/" && !prefix.is_empty() {
        return CPath::join(stage, &[prefix]);
    }
    CPath::join(stage, &[prefix, path])
}

/// `n` in decimal, written at the end of `buffer`.
fn decimal(mut n: u32, buffer: &mut [u8; 12]) -> &[u8] {
    let mut start = buffer.len();
    for slot in buffer.iter_mut().rev() {
        *slot = b'0'.wrapping_add((n % 10) as u8);
        n /= 10;
        start = start.saturating_sub(1);
        if n == 0 {
            break;
        }
    }
    buffer.get(start..).unwrap_or(&[])
}

/// Opens `path` without following symlinks and checks it is the planned inode (ESTALE). Planned
/// paths are canonical, so a symlink anywhere on the way means the path changed since.
fn open_checked(k: &impl Kernel, path: &CStr, target: &BindTarget) -> Step<OwnedFd> {
    let fd = match open_no_symlinks(k, path) {
        Ok(fd) => fd,
        Err(errno) if errno.0 == libc::ELOOP => return Err(Failure::new(Stage::ProtectVerify, Errno(libc::ESTALE))),
        Err(errno) => return Err(Failure::new(Stage::ProtectOpen, errno)),
    };
    let st = at(Stage::ProtectVerify, k.fstat(fd.as_raw_fd()))?;
    if st.st_dev != target.dev || st.st_ino != target.ino {
        return Err(Failure::new(Stage::ProtectVerify, Errno(libc::ESTALE)));
    }
    Ok(fd)
}

/// Builds the view of `ns` with classic mounts. Runs after the ids are mapped and the mount
/// tree made private.
pub(crate) fn build_view(k: &impl Kernel, ns: &NamespaceImage, classic: &ClassicMounts) -> Step {
    let roots = if classic.staged {
        stage_roots(k, &classic.base)?;
        Roots { view: NEW_ROOT, host: OLD_ROOT }
    } else {
        Roots { view: b"", host: b"" }
    };
    for (index, op) in ns.ops.iter().enumerate() {
        run_op(k, ns, classic, &roots, op).map_err(|failure| failure.at(index))?;
    }
    if classic.staged {
        // The view becomes the root; the staging tmpfs, with the host's tree in it, is
        // detached from under it.
        let stage = Stage::ReadOnlyRoot;
        at(stage, k.chdir(c"/newroot"))?;
        at(stage, k.pivot_root_here())?;
        at(stage, k.detach_mount(c"."))?;
        at(stage, k.chdir(c"/"))?;
    }
    Ok(())
}

/// A tmpfs on `base` becomes the root, holding the host's tree at `/oldroot` and an empty
/// `/newroot` for the view.
fn stage_roots(k: &impl Kernel, base: &CStr) -> Step {
    let stage = Stage::ReadOnlyRoot;
    at(stage, k.mount(c"tmpfs", base, c"tmpfs", libc::MS_NOSUID | libc::MS_NODEV, Some(c"mode=0755")))?;
    at(stage, k.chdir(base))?;
    at(stage, k.mkdir(c"newroot", 0o755))?;
    at(stage, k.mkdir(c"oldroot", 0o755))?;
    at(stage, k.pivot_root(c".", c"oldroot"))?;
    at(stage, k.chdir(c"/"))
}

fn run_op(k: &impl Kernel, ns: &NamespaceImage, classic: &ClassicMounts, roots: &Roots, op: &PreparedOp) -> Step {
    match op {
        PreparedOp::ReadOnlyRoot => {
            let stage = Stage::ReadOnlyRoot;
            let view = CPath::join(stage, &[NEW_ROOT])?;
            at(stage, k.bind_mount(c"/oldroot", view.as_cstr(), libc::MS_REC))?;
            remount_tree(k, classic, roots, view.as_cstr(), libc::MS_RDONLY, stage)
        }
        PreparedOp::EmptyRoot { .. } => {
            let flags = libc::MS_NOSUID | libc::MS_NODEV;
            at(Stage::ReadOnlyRoot, k.mount(c"tmpfs", c"/newroot", c"tmpfs", flags, Some(c"mode=0755")))
        }
        PreparedOp::Attach { target, slot, is_dir, attr } => {
            let stage = Stage::WritableBind;
            let source = ns.clone_first.get(*slot).ok_or(Failure::new(stage, Errno(libc::EBADF)))?;
            let from = roots.host_path(stage, &source.target.path)?;
            let from = if source.checked {
                open_checked(k, from.as_cstr(), &source.target)?
            } else {
                at(Stage::ProtectOpen, open_no_symlinks(k, from.as_cstr()))?
            };
            let to = roots.view_path(stage, target)?;
            ensure_mountpoint(k, to.as_cstr(), *is_dir)?;
            let onto = at(Stage::ProtectOpen, open_no_symlinks(k, to.as_cstr()))?;
            bind_fds(k, roots, &from, &onto, stage)?;
            if *attr == 0 {
                return Ok(());
            }
            remount_tree(k, classic, roots, to.as_cstr(), ms_flags(*attr), Stage::ProtectReadOnly)
        }
        PreparedOp::Symlink { link, target } => {
            let link = roots.view_path(Stage::WritableBind, link)?;
            ensure_parents(k, link.as_cstr())?;
            at(Stage::WritableBind, k.symlink(target, link.as_cstr()))
        }
        PreparedOp::Pin(target) => {
            let path = roots.view_path(Stage::ProtectOpen, &target.path)?;
            let fd = open_checked(k, path.as_cstr(), target)?;
            bind_fds(k, roots, &fd, &fd, Stage::ProtectAttach)
        }
        PreparedOp::ReadOnlyBind(target) => {
            let path = roots.view_path(Stage::ProtectOpen, &target.path)?;
            let fd = open_checked(k, path.as_cstr(), target)?;
            bind_fds(k, roots, &fd, &fd, Stage::ProtectAttach)?;
            remount_tree(k, classic, roots, path.as_cstr(), libc::MS_RDONLY, Stage::ProtectReadOnly)
        }
        PreparedOp::Dev { node_slots, host_shm_slot } => set_up_dev(k, ns, roots, node_slots, *host_shm_slot),
        PreparedOp::Proc => {
            let proc = roots.view_path(Stage::Proc, c"/proc")?;
            ensure_mountpoint(k, proc.as_cstr(), true)?;
            let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
            match k.mount(c"proc", proc.as_cstr(), c"proc", flags, None) {
                Ok(()) => cover_proc(k, roots),
                // As on the new mount API: a host whose /proc has locked over-mounts forbids a
                // fresh procfs; the host's is hidden instead.
                Err(errno) if matches!(errno.0, libc::EPERM | libc::EINVAL | libc::EACCES) => mask(k, proc.as_cstr()),
                Err(errno) => Err(Failure::new(Stage::Proc, errno)),
            }
        }
        PreparedOp::Mask(path) => mask(k, roots.view_path(Stage::Mask, path)?.as_cstr()),
        PreparedOp::Sysfs => {
            let sys_dir = roots.view_path(Stage::Mask, c"/sys")?;
            ensure_mountpoint(k, sys_dir.as_cstr(), true)?;
            let flags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
            match k.mount(c"sysfs", sys_dir.as_cstr(), c"sysfs", flags, None) {
                Ok(()) => Ok(()),
                Err(_) => mask(k, sys_dir.as_cstr()),
            }
        }
        PreparedOp::SealRoot => {
            let root = CPath::join(Stage::ReadOnlyRoot, &[NEW_ROOT])?;
            let fd = at(Stage::ReadOnlyRoot, open_no_symlinks(k, root.as_cstr()))?;
            remount_one(k, roots, &fd, libc::MS_RDONLY, Stage::ReadOnlyRoot)
        }
    }
}

/// Binds the [`PROC_READ_ONLY`] parts of the fresh procfs read-only over themselves, as the
/// new-mount-API view does: the sandbox's root would otherwise write the host's sysctls.
fn cover_proc(k: &impl Kernel, roots: &Roots) -> Step {
    let sealed = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    for path in PROC_READ_ONLY {
        let in_view = roots.view_path(Stage::Proc, path)?;
        let fd = match open_no_symlinks(k, in_view.as_cstr()) {
            Ok(fd) => fd,
            Err(errno) if errno.0 == libc::ENOENT => continue,
            Err(errno) => return Err(Failure::new(Stage::Proc, errno)),
        };
        bind_fds(k, roots, &fd, &fd, Stage::Proc)?;
        // Opened again, the path is the new bind's root (a single mount: nothing below it).
        let bound = at(Stage::Proc, open_no_symlinks(k, in_view.as_cstr()))?;
        remount_one(k, roots, &bound, sealed, Stage::Proc)?;
    }
    Ok(())
}

/// `MOUNT_ATTR_*` bits as `MS_*` flags (the same values for these four).
fn ms_flags(attr: u64) -> libc::c_ulong {
    let mut flags = 0;
    for (attribute, flag) in [
        (sys::MOUNT_ATTR_RDONLY, libc::MS_RDONLY),
        (sys::MOUNT_ATTR_NOSUID, libc::MS_NOSUID),
        (sys::MOUNT_ATTR_NODEV, libc::MS_NODEV),
        (sys::MOUNT_ATTR_NOEXEC, libc::MS_NOEXEC),
    ] {
        if attr & attribute != 0 {
            flags |= flag;
        }
    }
    flags
}

/// Binds the tree at `from` (recursively) onto `onto`, both named by their descriptors.
fn bind_fds(k: &impl Kernel, roots: &Roots, from: &OwnedFd, onto: &OwnedFd, stage: Stage) -> Step {
    let from = roots.fd_path(stage, from)?;
    let onto = roots.fd_path(stage, onto)?;
    at(stage, k.bind_mount(from.as_cstr(), onto.as_cstr(), libc::MS_REC))
}

/// Remounts the mount whose root `fd` is with `flags` added, keeping the flags an unprivileged
/// remount may not clear.
fn remount_one(k: &impl Kernel, roots: &Roots, fd: &OwnedFd, flags: libc::c_ulong, stage: Stage) -> Step {
    let current = at(stage, k.mount_flags(fd.as_raw_fd()))?;
    let mut kept = 0;
    for (st, ms) in [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_RDONLY, libc::MS_RDONLY),
        (ST_NOSYMFOLLOW, libc::MS_NOSYMFOLLOW),
    ] {
        if current & st != 0 {
            kept |= ms;
        }
    }
    // Without atime flags the kernel keeps the mount's own (which may be locked).
    let path = roots.fd_path(stage, fd)?;
    at(stage, k.mount_propagation(path.as_cstr(), libc::MS_BIND | libc::MS_REMOUNT | flags | kept))
}

const ST_NOSYMFOLLOW: u64 = 0x2000;

/// Remounts every mount at or below `prefix` with `flags` added: the mount table is read from
/// `/proc/self/mountinfo` into the preallocated buffer. A mount whose path cannot be reached
/// (ENOENT, EACCES: covered by a later mount) is not reachable by the command either; a
/// symlink on its path refuses the setup.
fn remount_tree(
    k: &impl Kernel,
    classic: &ClassicMounts,
    roots: &Roots,
    prefix: &CStr,
    flags: libc::c_ulong,
    stage: Stage,
) -> Step {
    let mut buffer = classic.mountinfo.try_borrow_mut().map_err(|_| Failure::new(stage, Errno(libc::EBUSY)))?;
    let mountinfo = roots.host_path(stage, c"/proc/self/mountinfo")?;
    let file = at(stage, k.open(mountinfo.as_cstr(), libc::O_RDONLY))?;
    let mut filled = 0usize;
    loop {
        let rest = buffer.get_mut(filled..).unwrap_or(&mut []);
        if rest.is_empty() {
            // The table outgrew the buffer: some mounts would stay writable.
            return Err(Failure::new(stage, Errno(libc::E2BIG)));
        }
        match at(stage, k.read(file.as_raw_fd(), rest))? {
            0 => break,
            n => filled = filled.saturating_add(n),
        }
    }
    let prefix = prefix.to_bytes();
    let mut remounted = 0u32;
    for line in buffer.get(..filled).unwrap_or(&[]).split(|byte| *byte == b'\n') {
        // `id parent major:minor root mount-point options ...`
        let Some(escaped) = line.split(|byte| *byte == b' ').nth(4) else { continue };
        let mount_point = unescape(stage, escaped)?;
        let bytes = mount_point.as_cstr().to_bytes();
        let below = bytes.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.first() == Some(&b'/'));
        if !below {
            continue;
        }
        let fd = match open_no_symlinks(k, mount_point.as_cstr()) {
            Ok(fd) => fd,
            Err(errno) if matches!(errno.0, libc::ENOENT | libc::EACCES) => continue,
            Err(errno) => return Err(Failure::new(stage, errno)),
        };
        remount_one(k, roots, &fd, flags, stage)?;
        remounted = remounted.saturating_add(1);
    }
    // The tree just bound is itself a mount: finding none means the table was not read right.
    if remounted == 0 {
        return Err(Failure::new(stage, Errno(libc::ENOENT)));
    }
    Ok(())
}

/// A mountinfo path with its octal escapes (`\040` for a space) decoded.
fn unescape(stage: Stage, escaped: &[u8]) -> Step<CPath> {
    let mut path = CPath::join(stage, &[])?;
    let mut slots = path.bytes.iter_mut();
    let mut bytes = escaped.iter();
    while let Some(byte) = bytes.next() {
        let value = if *byte == b'\\' {
            let mut value = 0u8;
            for _ in 0..3 {
                let digit = bytes.next().map_or(0, |d| d.wrapping_sub(b'0') & 7);
                value = value.wrapping_mul(8).wrapping_add(digit);
            }
            value
        } else {
            *byte
        };
        *slots.next().ok_or(Failure::new(stage, Errno(libc::ENAMETOOLONG)))? = value;
    }
    if slots.next().is_none() {
        return Err(Failure::new(stage, Errno(libc::ENAMETOOLONG)));
    }
    Ok(path)
}

fn mask(k: &impl Kernel, path: &CStr) -> Step {
    ensure_mountpoint(k, path, true)?;
    let flags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    at(Stage::Mask, k.mount(c"tmpfs", path, c"tmpfs", flags, Some(c"mode=0555,size=4k")))
}

/// The same minimal `/dev` as on the new mount API, its device nodes bound from the host's.
fn set_up_dev(
    k: &impl Kernel,
    ns: &NamespaceImage,
    roots: &Roots,
    node_slots: &[usize],
    host_shm_slot: Option<usize>,
) -> Step {
    let dev = Stage::Dev;
    let dev_dir = roots.view_path(dev, c"/dev")?;
    ensure_mountpoint(k, dev_dir.as_cstr(), true)?;
    let tmpfs_flags = libc::MS_NOSUID | libc::MS_NOEXEC;
    at(dev, k.mount(c"tmpfs", dev_dir.as_cstr(), c"tmpfs", tmpfs_flags, Some(c"mode=0755,size=64k")))?;
    for (slot, device) in node_slots.iter().zip(DEVICES) {
        let Some(source) = ns.clone_first.get(*slot) else { continue };
        let from = roots.host_path(dev, &source.target.path)?;
        // A device node this host lacks is left out.
        let Ok(from) = open_no_symlinks(k, from.as_cstr()) else { continue };
        let node = roots.view_path(dev, device.path)?;
        let onto = at(dev, k.create_file(node.as_cstr(), 0o666))?;
        bind_fds(k, roots, &from, &onto, dev)?;
    }
    let pts = roots.view_path(dev, c"/dev/pts")?;
    at(dev, k.mkdir(pts.as_cstr(), 0o755))?;
    let devpts_flags = libc::MS_NOSUID | libc::MS_NOEXEC;
    let devpts_options = Some(c"newinstance,ptmxmode=0666,mode=0620");
    if k.mount(c"devpts", pts.as_cstr(), c"devpts", devpts_flags, devpts_options).is_ok() {
        at(dev, k.symlink(c"pts/ptmx", roots.view_path(dev, c"/dev/ptmx")?.as_cstr()))?;
    }
    for (target, link) in [
        (c"/proc/self/fd", c"/dev/fd"),
        (c"/proc/self/fd/0", c"/dev/stdin"),
        (c"/proc/self/fd/1", c"/dev/stdout"),
        (c"/proc/self/fd/2", c"/dev/stderr"),
    ] {
        at(dev, k.symlink(target, roots.view_path(dev, link)?.as_cstr()))?;
    }
    let shm = roots.view_path(dev, c"/dev/shm")?;
    at(dev, k.mkdir(shm.as_cstr(), 0o755))?;
    if let Some(source) = host_shm_slot.and_then(|slot| ns.clone_first.get(slot)) {
        let from = roots.host_path(dev, &source.target.path)?;
        let from = open_checked(k, from.as_cstr(), &source.target)?;
        let onto = at(dev, open_no_symlinks(k, shm.as_cstr()))?;
        bind_fds(k, roots, &from, &onto, dev)?;
    }
    let dev_fd = at(dev, open_no_symlinks(k, dev_dir.as_cstr()))?;
    remount_one(k, roots, &dev_fd, libc::MS_RDONLY, dev)
}
