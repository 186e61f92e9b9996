//! Child side of the namespaces: id maps, the filesystem view ([`crate::plan::mounts`] operations,
//! executed with the new mount API), the loopback interface, and the sandbox's PID 1.
//!
//! Async-signal-safe like the rest of the child: every path and option string was prepared by
//! the parent; the only mutable state is the descriptor slots, preallocated as `Cell`s.

use std::cell::Cell;
use std::ffi::{CStr, CString};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};

use super::{self as child, BindTarget, Failure, Stage, Step, at};
use crate::plan::mounts::DEV_NODES;
use crate::sys::{self, Errno};

/// One prepared mount operation (see [`crate::plan::mounts::MountOp`]).
pub(crate) enum PreparedOp {
    ReadOnlyRoot,
    /// Mount a tmpfs on `staging` (any directory of the old view) and make it the root.
    EmptyRoot {
        staging: CString,
    },
    /// Attach the clone in `slot` at `target`, read-only (`read_only`) or as it is.
    Attach {
        target: CString,
        slot: usize,
        is_dir: bool,
        read_only: bool,
    },
    Symlink {
        link: CString,
        target: CString,
    },
    /// Bind the directory over itself as it is, so that it cannot be renamed.
    Pin(BindTarget),
    ReadOnlyBind(BindTarget),
    Dev {
        node_slots: [usize; DEV_NODES.len()],
        host_shm_slot: Option<usize>,
    },
    Proc,
    Mask(CString),
    Sysfs,
    SealRoot,
}

/// A tree cloned from the host's view before the view changes (the root becomes read-only or
/// is replaced): writable and readable roots, device nodes, the host's /dev/shm.
pub(crate) struct CloneSource {
    pub target: BindTarget,
    /// Checked against the planned inode; device nodes (which some hosts lack) are not.
    pub checked: bool,
    pub slot: usize,
}

/// Runs as the sandbox's PID 1.
pub(crate) struct InitImage {
    /// Write end of the pipe on which init reports the command's raw wait status.
    pub status_fd: RawFd,
    /// Descriptors init keeps until the sandbox ends, the status pipe's included, ascending:
    /// the placeholders' shared locks, so that they outlive a launcher that dies or lets go.
    pub keep_fds: Vec<RawFd>,
}

pub(crate) struct NamespaceImage {
    /// `(uid_map, gid_map)` contents: the caller's own ids, mapped to themselves.
    pub id_maps: (Vec<u8>, Vec<u8>),
    pub ops: Vec<PreparedOp>,
    pub clone_first: Vec<CloneSource>,
    /// Descriptor slots for the clones (filled and consumed by the child).
    pub slots: Vec<Cell<RawFd>>,
    /// Bring `lo` up (new network namespace).
    pub loopback: bool,
    /// Present when the child is PID 1 of a new PID namespace.
    pub init: Option<InitImage>,
    /// Proxy mode: listen on these ports at 127.0.0.1 and ::1 and hand each listening socket,
    /// tagged with its route index, to the spawning process over `control_fd`.
    pub proxy_listeners: Option<ProxyListeners>,
}

pub(crate) struct ProxyListeners {
    pub control_fd: RawFd,
    pub ports: Vec<u16>,
}

/// Sets up the namespaces the child was cloned into.
pub(crate) fn enter(ns: &NamespaceImage) -> Step {
    write_file(c"/proc/self/setgroups", b"deny", Stage::SetgroupsDeny)?;
    write_file(c"/proc/self/uid_map", &ns.id_maps.0, Stage::UidMap)?;
    write_file(c"/proc/self/gid_map", &ns.id_maps.1, Stage::GidMap)?;
    // Private, not slave: mounts the host makes later (automounts, FUSE, removable media) must
    // not appear in the sandbox with their own, writable, flags; and nothing propagates back.
    at(Stage::MountPropagation, sys::mount_propagation(c"/", libc::MS_REC | libc::MS_PRIVATE))?;
    if ns.loopback {
        // Best effort: a host that refuses it (gVisor, AppArmor) leaves `lo` as it is.
        let _ = sys::bring_up_loopback();
    }
    if let Some(proxy) = &ns.proxy_listeners {
        hand_over_proxy_listeners(proxy)?;
    }
    for source in &ns.clone_first {
        let fd = if source.checked {
            open_checked(&source.target)?
        } else {
            match sys::open(&source.target.path, libc::O_PATH | libc::O_NOFOLLOW) {
                Ok(fd) => fd,
                Err(_) => continue, // a device node this host lacks is left out
            }
        };
        let tree = sys::open_tree(fd, sys::OPEN_TREE_CLONE | sys::OPEN_TREE_CLOEXEC | libc::AT_RECURSIVE as u32);
        sys::close(fd);
        ns.slots[source.slot].set(at(Stage::ProtectClone, tree)?);
    }
    for (index, op) in ns.ops.iter().enumerate() {
        run_op(ns, op).map_err(|failure| failure.at(index))?;
    }
    Ok(())
}

/// Creates the in-sandbox end of each proxy route and passes it to the bridge outside. IPv4 is
/// required; IPv6 is skipped when the namespace has no `::1` (IPv6 disabled).
fn hand_over_proxy_listeners(proxy: &ProxyListeners) -> Step {
    for (index, port) in proxy.ports.iter().enumerate() {
        for ipv6 in [false, true] {
            let fd = match sys::listen_loopback(ipv6, *port) {
                Ok(fd) => fd,
                Err(errno) if ipv6 && matches!(errno.0, libc::EADDRNOTAVAIL | libc::EAFNOSUPPORT) => continue,
                Err(errno) => return Err(Failure::new(Stage::ProxyListen, errno).at(index)),
            };
            let sent = sys::send_fd(proxy.control_fd, index as u32, fd);
            sys::close(fd);
            at(Stage::ProxyListen, sent).map_err(|failure| failure.at(index))?;
        }
    }
    Ok(())
}

fn run_op(ns: &NamespaceImage, op: &PreparedOp) -> Step {
    let read_only = sys::MountAttr { attr_set: sys::MOUNT_ATTR_RDONLY, ..Default::default() };
    match op {
        PreparedOp::ReadOnlyRoot => set_attr(c"/", libc::AT_RECURSIVE as u32, &read_only, Stage::ReadOnlyRoot),
        PreparedOp::EmptyRoot { staging } => switch_to_empty_root(staging),
        PreparedOp::Attach { target, slot, is_dir, read_only: make_read_only } => {
            let tree = ns.slots[*slot].replace(-1);
            let result = attach(tree, target, *is_dir, make_read_only.then_some(&read_only));
            sys::close(tree);
            result
        }
        PreparedOp::Symlink { link, target } => {
            ensure_parents(link)?;
            at(Stage::WritableBind, sys::symlink(target, link))
        }
        PreparedOp::Pin(target) => {
            let fd = open_checked(target)?;
            let tree = sys::open_tree(fd, sys::OPEN_TREE_CLONE | sys::OPEN_TREE_CLOEXEC | libc::AT_RECURSIVE as u32);
            let result = at(Stage::ProtectClone, tree).and_then(|tree| {
                let attached = at(Stage::ProtectAttach, sys::move_mount(tree, fd));
                sys::close(tree);
                attached
            });
            sys::close(fd);
            result
        }
        PreparedOp::ReadOnlyBind(target) => bind_read_only(target),
        PreparedOp::Dev { node_slots, host_shm_slot } => {
            let nodes = node_slots.map(|slot| ns.slots[slot].replace(-1));
            set_up_dev(nodes, host_shm_slot.map(|slot| ns.slots[slot].replace(-1)))
        }
        PreparedOp::Proc => {
            ensure_mountpoint(c"/proc", true)?;
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
            ensure_mountpoint(c"/sys", true)?;
            let flags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
            match sys::mount(c"sysfs", c"/sys", c"sysfs", flags, None) {
                Ok(()) => Ok(()),
                Err(_) => mask(c"/sys"),
            }
        }
        PreparedOp::SealRoot => set_attr(c"/", 0, &read_only, Stage::ReadOnlyRoot),
    }
}

fn set_attr(path: &CStr, flags: u32, attr: &sys::MountAttr, stage: Stage) -> Step {
    let fd = at(stage, sys::open(path, libc::O_PATH | libc::O_DIRECTORY))?;
    let result = sys::mount_setattr(fd, flags, attr);
    sys::close(fd);
    at(stage, result)
}

/// Makes a new tmpfs the root: mount it on `staging`, `pivot_root(".", ".")` into it, and
/// detach the old root that now sits on top.
fn switch_to_empty_root(staging: &CStr) -> Step {
    let stage = Stage::ReadOnlyRoot;
    at(stage, sys::mount(c"tmpfs", staging, c"tmpfs", libc::MS_NOSUID | libc::MS_NODEV, Some(c"mode=0755")))?;
    at(stage, sys::chdir(staging))?;
    at(stage, sys::pivot_root_here())?;
    at(stage, sys::detach_mount(c"."))?;
    at(stage, sys::chdir(c"/"))
}

/// Attaches `tree` at `target`, creating the mount point when the view lacks it (an empty
/// root), optionally making the tree read-only first.
fn attach(tree: RawFd, target: &CStr, is_dir: bool, read_only: Option<&sys::MountAttr>) -> Step {
    if tree < 0 {
        return Err(Failure::new(Stage::WritableBind, Errno(libc::EBADF)));
    }
    if let Some(attr) = read_only {
        at(Stage::ProtectReadOnly, sys::mount_setattr(tree, libc::AT_RECURSIVE as u32, attr))?;
    }
    ensure_mountpoint(target, is_dir)?;
    let how = sys::OpenHow {
        flags: (libc::O_PATH | libc::O_CLOEXEC | libc::O_NOFOLLOW) as u64,
        mode: 0,
        resolve: sys::RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_MAGICLINKS,
    };
    let fd = at(Stage::ProtectOpen, sys::openat2(target, &how))?;
    let result = sys::move_mount(tree, fd);
    sys::close(fd);
    at(Stage::ProtectAttach, result)
}

/// Creates the missing parent directories of `path` (an absolute path).
fn ensure_parents(path: &CStr) -> Step {
    let bytes = path.to_bytes();
    let mut buffer = [0u8; libc::PATH_MAX as usize];
    if bytes.len() >= buffer.len() {
        return Err(Failure::new(Stage::ProtectOpen, Errno(libc::ENAMETOOLONG)));
    }
    buffer[..bytes.len()].copy_from_slice(bytes);
    for end in 1..bytes.len() {
        if bytes[end] == b'/' {
            buffer[end] = 0;
            let prefix = CStr::from_bytes_until_nul(&buffer)
                .map_err(|_| Failure::new(Stage::ProtectOpen, Errno(libc::EINVAL)))?;
            match sys::mkdir(prefix, 0o755) {
                Ok(()) => {}
                Err(errno) if errno.0 == libc::EEXIST => {}
                Err(errno) => return Err(Failure::new(Stage::ProtectOpen, errno)),
            }
            buffer[end] = b'/';
        }
    }
    Ok(())
}

/// Makes sure `path` exists to be mounted on: a directory, or an empty file.
fn ensure_mountpoint(path: &CStr, is_dir: bool) -> Step {
    ensure_parents(path)?;
    let created = if is_dir { sys::mkdir(path, 0o755) } else { sys::create_file(path, 0o644).map(sys::close) };
    match created {
        Ok(()) => Ok(()),
        Err(errno) if errno.0 == libc::EEXIST => Ok(()),
        // A read-only view already holding the path answers EROFS for mkdir on it.
        Err(errno) if errno.0 == libc::EROFS => Ok(()),
        Err(errno) => Err(Failure::new(Stage::ProtectOpen, errno)),
    }
}

fn mask(path: &CStr) -> Step {
    ensure_mountpoint(path, true)?;
    let flags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    at(Stage::Mask, sys::mount(c"tmpfs", path, c"tmpfs", flags, Some(c"mode=0555,size=4k")))
}

/// A minimal `/dev`: the host's harmless device nodes (cloned before the view changed) bound
/// onto files of a new tmpfs, a private devpts, the usual links, and `/dev/shm`; then the tmpfs
/// is made read-only.
fn set_up_dev(nodes: [RawFd; DEV_NODES.len()], host_shm: Option<RawFd>) -> Step {
    let dev = Stage::Dev;
    ensure_mountpoint(c"/dev", true)?;
    at(dev, sys::mount(c"tmpfs", c"/dev", c"tmpfs", libc::MS_NOSUID | libc::MS_NOEXEC, Some(c"mode=0755,size=64k")))?;
    for (tree, path) in nodes.iter().zip(DEV_NODE_PATHS) {
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
    let read_only = sys::MountAttr { attr_set: sys::MOUNT_ATTR_RDONLY, ..Default::default() };
    set_attr(c"/dev", 0, &read_only, dev)
}

/// Paths of [`DEV_NODES`], in the same order.
pub(crate) const DEV_NODE_PATHS: [&CStr; DEV_NODES.len()] =
    [c"/dev/null", c"/dev/zero", c"/dev/full", c"/dev/random", c"/dev/urandom", c"/dev/tty"];

/// Opens `target` without following any symlink and checks it is the planned inode.
fn open_checked(target: &BindTarget) -> Step<RawFd> {
    let how = sys::OpenHow {
        flags: (libc::O_PATH | libc::O_CLOEXEC | libc::O_NOFOLLOW) as u64,
        mode: 0,
        resolve: sys::RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_MAGICLINKS,
    };
    let fd = at(Stage::ProtectOpen, sys::openat2(&target.path, &how))?;
    match sys::fstat(fd) {
        // With O_PATH|O_NOFOLLOW a trailing symlink is opened itself rather than refused, and
        // a freed inode number can come back as that symlink's: never mount over a symlink.
        Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFLNK => {
            sys::close(fd);
            Err(Failure::new(Stage::ProtectVerify, Errno(libc::ESTALE)))
        }
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

/// Whether init passes `signal` on to the command. The kernel drops any signal sent to a PID
/// namespace's init from outside unless init has a handler for it, so every signal a caller
/// may send gets the forwarding handler (a plain `kill`, which is async-signal-safe) — all but
/// SIGCHLD (init's own business), SIGKILL and SIGSTOP (cannot be caught; SIGKILL ends the whole
/// sandbox), and the signals of init's own faults, which must keep their default action.
fn forwarded(signal: i32) -> bool {
    !matches!(
        signal,
        libc::SIGCHLD
            | libc::SIGKILL
            | libc::SIGSTOP
            | libc::SIGSEGV
            | libc::SIGBUS
            | libc::SIGILL
            | libc::SIGFPE
            | libc::SIGTRAP
            | libc::SIGSYS
    )
}

extern "C" fn forward_signal(signal: libc::c_int) {
    let pid = COMMAND_PID.load(Ordering::Relaxed);
    if pid > 0 {
        let _ = sys::kill(pid, signal);
    }
}

/// Forks the command. Returns in the command's process; in this process (PID 1) it runs the
/// init loop and never returns.
pub(crate) fn fork_command_under_init(init: &InitImage, error_fd: RawFd, fd_limit: RawFd) -> Step {
    // SAFETY: this process is single-threaded (a fresh clone); both sides continue with
    // async-signal-safe code only.
    let (pid, _) = at(Stage::Fork, unsafe { sys::clone_process(0) })?;
    if pid == 0 {
        return Ok(());
    }
    COMMAND_PID.store(pid, Ordering::Relaxed);
    // Handlers the host installed must not run here, and a host that ignores SIGCHLD would
    // make waitpid fail: start from the defaults, then forward.
    sys::reset_signal_handlers();
    for signal in (1..=libc::SIGRTMAX()).filter(|signal| forwarded(*signal)) {
        sys::set_signal_handler(signal, forward_signal);
    }
    // Init runs without Landlock or seccomp. Not dumpable, its memory (`/proc/1/mem`) and
    // descriptors are out of the command's reach even where neither Landlock nor Yama would
    // stop a same-uid process: that takes CAP_SYS_PTRACE in the host's user namespace.
    let _ = sys::prctl(libc::PR_SET_DUMPABLE, 0);
    // Init keeps nothing of the command's: the report pipe must close when the command execs,
    // and its stdio must close when the command and its children are done.
    let _ = child::close_other_fds(&init.keep_fds, fd_limit);
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
