//! Child side of the namespaces: id maps, the filesystem view ([`crate::mounts`] operations,
//! executed with the new mount API), the loopback interface, and the sandbox's PID 1.
//!
//! Async-signal-safe like the rest of the child: every path and option string was prepared by
//! the parent; the only mutable state is the descriptor slots, preallocated as `Cell`s.

use std::cell::Cell;
use std::ffi::{CStr, CString};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};

use super::child::{self, BindTarget, Failure, Stage, Step, at};
use crate::mounts::DEV_NODES;
use crate::sys::{self, Errno};

/// One prepared mount operation (see [`crate::mounts::MountOp`]).
pub(crate) enum PreparedOp {
    ReadOnlyRoot,
    /// Attach the clone in `slot` over `target` (re-opened and checked like a protected path).
    WritableBind {
        target: BindTarget,
        slot: usize,
    },
    ReadOnlyBind(BindTarget),
    Dev {
        host_shm_slot: Option<usize>,
    },
    Proc,
    Mask(CString),
    Sysfs,
}

/// Runs as the sandbox's PID 1.
pub(crate) struct InitImage {
    /// Write end of the pipe on which init reports the command's raw wait status.
    pub status_fd: RawFd,
}

pub(crate) struct NamespaceImage {
    /// `(uid_map, gid_map)` contents: the caller's own ids, mapped to themselves.
    pub id_maps: (Vec<u8>, Vec<u8>),
    pub ops: Vec<PreparedOp>,
    /// Sources of writable binds, cloned before the root becomes read-only: `(path, slot)`.
    pub clone_first: Vec<(BindTarget, usize)>,
    /// Descriptor slots for the clones (filled and consumed by the child).
    pub slots: Vec<Cell<RawFd>>,
    /// Bring `lo` up (new network namespace).
    pub loopback: bool,
    /// Present when the child is PID 1 of a new PID namespace.
    pub init: Option<InitImage>,
    /// Device node paths (`/dev/null`, ...) and their `/dev` directory, prepared.
    pub dev_nodes: [CString; DEV_NODES.len()],
}

/// Sets up the namespaces the child was cloned into.
pub(crate) fn enter(ns: &NamespaceImage) -> Step {
    write_file(c"/proc/self/setgroups", b"deny", Stage::SetgroupsDeny)?;
    write_file(c"/proc/self/uid_map", &ns.id_maps.0, Stage::UidMap)?;
    write_file(c"/proc/self/gid_map", &ns.id_maps.1, Stage::GidMap)?;
    // Mount events must never propagate back to the host (they cannot from a user namespace,
    // but this states it and costs one system call).
    at(Stage::MountPropagation, sys::mount_propagation(c"/", libc::MS_REC | libc::MS_SLAVE))?;
    if ns.loopback {
        // Best effort: a host that refuses it (gVisor, AppArmor) leaves `lo` as it is.
        let _ = sys::bring_up_loopback();
    }
    for (target, slot) in &ns.clone_first {
        let fd = open_checked(target)?;
        let tree = sys::open_tree(fd, sys::OPEN_TREE_CLONE | sys::OPEN_TREE_CLOEXEC | libc::AT_RECURSIVE as u32);
        sys::close(fd);
        ns.slots[*slot].set(at(Stage::ProtectClone, tree)?);
    }
    for (index, op) in ns.ops.iter().enumerate() {
        run_op(ns, op).map_err(|failure| failure.at(index))?;
    }
    Ok(())
}

fn run_op(ns: &NamespaceImage, op: &PreparedOp) -> Step {
    match op {
        PreparedOp::ReadOnlyRoot => {
            let root = at(Stage::ReadOnlyRoot, sys::open(c"/", libc::O_PATH | libc::O_DIRECTORY))?;
            let attr = sys::MountAttr { attr_set: sys::MOUNT_ATTR_RDONLY, ..Default::default() };
            let result = sys::mount_setattr(root, libc::AT_RECURSIVE as u32, &attr);
            sys::close(root);
            at(Stage::ReadOnlyRoot, result)
        }
        PreparedOp::WritableBind { target, slot } => {
            let tree = ns.slots[*slot].replace(-1);
            let fd = open_checked(target)?;
            let result = sys::move_mount(tree, fd);
            sys::close(fd);
            sys::close(tree);
            at(Stage::WritableBind, result)
        }
        PreparedOp::ReadOnlyBind(target) => bind_read_only(target),
        PreparedOp::Dev { host_shm_slot } => set_up_dev(ns, host_shm_slot.map(|slot| ns.slots[slot].replace(-1))),
        PreparedOp::Proc => {
            let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
            match sys::mount(c"proc", c"/proc", c"proc", flags, None) {
                Ok(()) => Ok(()),
                // A host whose /proc has locked over-mounts (a container's masked paths)
                // forbids a fresh procfs: hide the host's instead of showing its processes.
                Err(errno) if matches!(errno.0, libc::EPERM | libc::EINVAL | libc::EACCES) => mask(c"/proc"),
                Err(errno) => Err(Failure::new(Stage::Proc, errno)),
            }
        }
        PreparedOp::Mask(path) => mask(path),
        PreparedOp::Sysfs => {
            let flags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
            match sys::mount(c"sysfs", c"/sys", c"sysfs", flags, None) {
                Ok(()) => Ok(()),
                Err(_) => mask(c"/sys"),
            }
        }
    }
}

fn mask(path: &CStr) -> Step {
    let flags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    at(Stage::Mask, sys::mount(c"tmpfs", path, c"tmpfs", flags, Some(c"mode=0555,size=4k")))
}

/// A minimal `/dev`: the host's harmless device nodes bound onto files of a new tmpfs, a private
/// devpts, the usual links, and `/dev/shm`; then the tmpfs is made read-only.
fn set_up_dev(ns: &NamespaceImage, host_shm: Option<RawFd>) -> Step {
    let dev = Stage::Dev;
    // Clone the nodes before the tmpfs hides them. A node the host lacks is left out.
    let mut nodes = [-1; DEV_NODES.len()];
    for (slot, path) in nodes.iter_mut().zip(&ns.dev_nodes) {
        if let Ok(fd) = sys::open(path, libc::O_PATH | libc::O_NOFOLLOW) {
            *slot = sys::open_tree(fd, sys::OPEN_TREE_CLONE | sys::OPEN_TREE_CLOEXEC).unwrap_or(-1);
            sys::close(fd);
        }
    }
    at(dev, sys::mount(c"tmpfs", c"/dev", c"tmpfs", libc::MS_NOSUID | libc::MS_NOEXEC, Some(c"mode=0755,size=64k")))?;
    for (tree, path) in nodes.iter().zip(&ns.dev_nodes) {
        if *tree >= 0 {
            let file = at(dev, sys::create_file(path, 0o666))?;
            let result = sys::move_mount(*tree, file);
            sys::close(file);
            sys::close(*tree);
            at(dev, result)?;
        }
    }
    at(dev, sys::mkdir(c"/dev/pts", 0o755))?;
    let devpts_flags = libc::MS_NOSUID | libc::MS_NOEXEC;
    // Without a devpts instance the command gets no new terminals, nothing worse.
    if sys::mount(c"devpts", c"/dev/pts", c"devpts", devpts_flags, Some(c"newinstance,ptmxmode=0666,mode=0620")).is_ok()
    {
        at(dev, sys::symlink(c"pts/ptmx", c"/dev/ptmx"))?;
    }
    for (target, link) in [
        (c"/proc/self/fd", c"/dev/fd"),
        (c"/proc/self/fd/0", c"/dev/stdin"),
        (c"/proc/self/fd/1", c"/dev/stdout"),
        (c"/proc/self/fd/2", c"/dev/stderr"),
    ] {
        at(dev, sys::symlink(target, link))?;
    }
    at(dev, sys::mkdir(c"/dev/shm", 0o755))?;
    if let Some(tree) = host_shm {
        let target = at(dev, sys::open(c"/dev/shm", libc::O_PATH | libc::O_DIRECTORY))?;
        let result = sys::move_mount(tree, target);
        sys::close(target);
        sys::close(tree);
        at(dev, result)?;
    }
    let dev_dir = at(dev, sys::open(c"/dev", libc::O_PATH | libc::O_DIRECTORY))?;
    let attr = sys::MountAttr { attr_set: sys::MOUNT_ATTR_RDONLY, ..Default::default() };
    let result = sys::mount_setattr(dev_dir, 0, &attr);
    sys::close(dev_dir);
    at(dev, result)
}

/// Opens `target` without following any symlink and checks it is the planned inode.
fn open_checked(target: &BindTarget) -> Step<RawFd> {
    let how = sys::OpenHow {
        flags: (libc::O_PATH | libc::O_CLOEXEC | libc::O_NOFOLLOW) as u64,
        mode: 0,
        resolve: sys::RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_MAGICLINKS,
    };
    let fd = at(Stage::ProtectOpen, sys::openat2(&target.path, &how))?;
    match sys::fstat(fd) {
        Ok(st) if st.st_dev == target.dev && st.st_ino == target.ino => Ok(fd),
        Ok(_) => {
            sys::close(fd);
            Err(Failure::new(Stage::ProtectVerify, Errno(libc::ESTALE)))
        }
        Err(errno) => {
            sys::close(fd);
            Err(Failure::new(Stage::ProtectVerify, errno))
        }
    }
}

/// Re-binds `target` read-only over itself. The path is reopened here, inside the new mount
/// namespace, refusing every symlink, and must still be the inode the parent planned with: a
/// path swapped since then (a directory replaced by a symlink to elsewhere) is refused, not
/// followed. The bind is made read-only while still detached, so it is never visible writable.
pub(crate) fn bind_read_only(target: &BindTarget) -> Step {
    let fd = open_checked(target)?;
    let result = clone_read_only(fd).and_then(|tree| {
        let attached = at(Stage::ProtectAttach, sys::move_mount(tree, fd));
        sys::close(tree);
        attached
    });
    sys::close(fd);
    result
}

fn clone_read_only(fd: RawFd) -> Step<RawFd> {
    let tree = at(
        Stage::ProtectClone,
        sys::open_tree(fd, sys::OPEN_TREE_CLONE | sys::OPEN_TREE_CLOEXEC | libc::AT_RECURSIVE as u32),
    )?;
    let read_only = sys::MountAttr { attr_set: sys::MOUNT_ATTR_RDONLY, ..Default::default() };
    match sys::mount_setattr(tree, libc::AT_RECURSIVE as u32, &read_only) {
        Ok(()) => Ok(tree),
        Err(errno) => {
            sys::close(tree);
            Err(Failure::new(Stage::ProtectReadOnly, errno))
        }
    }
}

fn write_file(path: &CStr, contents: &[u8], stage: Stage) -> Step {
    let fd = at(stage, sys::open(path, libc::O_WRONLY))?;
    let result = sys::write_all(fd, contents);
    sys::close(fd);
    at(stage, result)
}

// ---------------------------------------------------------------------------------------------
// PID 1.

/// The command's pid, for the forwarding signal handler.
static COMMAND_PID: AtomicI32 = AtomicI32::new(0);

/// Signals init passes on to the command. PID 1 only receives signals it has a handler for,
/// so each gets this handler (a plain `kill`, which is async-signal-safe).
const FORWARDED: [i32; 7] =
    [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGTERM, libc::SIGUSR1, libc::SIGUSR2, libc::SIGWINCH];

extern "C" fn forward_signal(signal: libc::c_int) {
    let pid = COMMAND_PID.load(Ordering::Relaxed);
    if pid > 0 {
        let _ = sys::kill(pid, signal);
    }
}

/// Forks the command. Returns in the command's process; in this process (PID 1) it runs the
/// init loop and never returns.
pub(crate) fn fork_command_under_init(init: &InitImage, error_fd: RawFd, fd_limit: RawFd) -> Step {
    let mut unused_pidfd = -1;
    // SAFETY: this process is single-threaded (a fresh clone); both sides continue with
    // async-signal-safe code only.
    let pid = at(Stage::Fork, unsafe { sys::clone_process(0, &mut unused_pidfd) })?;
    if pid == 0 {
        return Ok(());
    }
    COMMAND_PID.store(pid, Ordering::Relaxed);
    for signal in FORWARDED {
        sys::set_signal_handler(signal, forward_signal);
    }
    // Init keeps nothing of the command's: the report pipe must close when the command execs,
    // and its stdio must close when the command and its children are done.
    let _ = child::close_other_fds(&[init.status_fd], fd_limit);
    let _ = error_fd;
    for fd in 0..3 {
        sys::close(fd);
    }
    // Init needs no privilege to reap and forward: drop it, like the command will.
    let _ = child::drop_capabilities();
    let _ = sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1);
    sys::unblock_all_signals();
    reap_until_command_exits(pid, init.status_fd)
}

/// Reaps every process of the sandbox (orphans are re-parented to PID 1) until the command
/// exits, then reports its status and exits, which makes the kernel kill whatever is left.
fn reap_until_command_exits(command: libc::pid_t, status_fd: RawFd) -> ! {
    loop {
        match sys::waitpid(-1, 0) {
            Ok((pid, status)) if pid == command => {
                let _ = sys::write_all(status_fd, &status.to_ne_bytes());
                let code =
                    if libc::WIFSIGNALED(status) { 128 + libc::WTERMSIG(status) } else { libc::WEXITSTATUS(status) };
                sys::exit_immediately(code)
            }
            Ok(_) => {}
            Err(_) => sys::exit_immediately(125),
        }
    }
}
