//! Parent side of a spawn: turn the plan into a [`ChildImage`], clone, and learn from the
//! report pipe whether the child reached `execve`.

use std::cell::Cell;
use std::ffi::CString;
use std::fs;
use std::io;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::child::view::{CloneSource, DEV_NODE_PATHS, InitImage, NamespaceImage, PreparedOp, ProxyListeners};
use super::child::{self, BindTarget, ChildImage, ExecImage, Failure, Stage};
use super::placeholder::{Found, Placeholder};
use crate::error::{Error, Result};
use crate::exec::bridge::Bridge;
use crate::plan::mounts::{DEV_NODES, MountOp};
use crate::plan::{Pipeline, SandboxPlan};
use crate::proxy::{BridgeRoute, ProxyPlan, ProxyRoute};
use crate::sys;

/// What a successful launch hands to [`super::Child`].
pub(crate) struct Launched {
    pub pid: libc::pid_t,
    pub pidfd: Option<OwnedFd>,
    /// Read end of init's status pipe (namespace pipeline).
    pub status: Option<OwnedFd>,
    /// Proxy mode on the namespace pipeline: the bridge serving the sandbox's listeners.
    pub bridge: Option<Bridge>,
}

/// Descriptors and flags that come from the caller rather than the plan.
pub(crate) struct LaunchOptions<'a> {
    pub stdio: [RawFd; 3],
    pub pass_fds: &'a [RawFd],
    pub die_with_parent: bool,
}

pub(crate) fn launch(
    plan: &SandboxPlan,
    options: &LaunchOptions,
    placeholders: &mut Vec<Placeholder>,
) -> Result<Launched> {
    let targets = protected_targets(plan, placeholders)?;
    let (error_read, error_write) = pipe("create the report pipe")?;
    let status_pipe = if plan.pipeline == Pipeline::Bwrap { Some(pipe("create the status pipe")?) } else { None };
    let bridge_routes = match &plan.proxy {
        Some(ProxyPlan { route: ProxyRoute::Bridge { routes }, .. }) if plan.pipeline == Pipeline::Bwrap => {
            Some(routes)
        }
        _ => None,
    };
    let control = bridge_routes.map(|_| control_socketpair()).transpose()?;
    let namespaces = match plan.pipeline {
        Pipeline::Bwrap => {
            let locks: Vec<RawFd> = placeholders.iter().map(Placeholder::lock_fd).collect();
            let mut image = namespace_image(plan, &targets, status_pipe.as_ref().map(|(_, w)| w.as_raw_fd()), &locks)?;
            if let (Some(routes), Some((_, child_end))) = (bridge_routes, &control) {
                let ports = routes.iter().map(|route| route.port).collect();
                image.proxy_listeners = Some(ProxyListeners { control_fd: child_end.as_raw_fd(), ports });
            }
            Some(image)
        }
        Pipeline::Landlock if !targets.is_empty() => Some(bind_only_image(plan, targets)?),
        _ => None,
    };
    let mut clone_flags = libc::CLONE_PIDFD as u64;
    if let Some(ns) = &namespaces {
        clone_flags |= (libc::CLONE_NEWUSER | libc::CLONE_NEWNS) as u64;
        if ns.init.is_some() {
            // The sandbox's own PID, IPC (System V and POSIX message queues and shared memory
            // of the host's processes stay out of reach), UTS and cgroup namespaces.
            clone_flags |=
                (libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS | libc::CLONE_NEWCGROUP) as u64;
        }
        if ns.loopback {
            clone_flags |= libc::CLONE_NEWNET as u64;
        }
    }

    let argv_storage = c_strings(plan.exec.argv.iter().map(|a| a.as_bytes().to_vec()))?;
    let env_storage = c_strings(plan.exec.env.iter().map(|(k, v)| [k.as_bytes(), b"=", v.as_bytes()].concat()))?;
    let mut keep_fds: Vec<RawFd> = options.pass_fds.to_vec();
    keep_fds.push(error_write.as_raw_fd());
    keep_fds.sort_unstable();
    keep_fds.dedup();
    let image = ChildImage {
        exec: ExecImage {
            argv: pointer_array(&argv_storage),
            envp: pointer_array(&env_storage),
            candidates: plan.exec.candidates.iter().map(|p| c_path(p)).collect::<Result<_>>()?,
            cwd: c_path(&plan.exec.cwd)?,
        },
        stdio: options.stdio,
        keep_fds,
        pass_fds: options.pass_fds.to_vec(),
        error_fd: error_write.as_raw_fd(),
        die_with_parent: options.die_with_parent.then(sys::getpid),
        namespaces,
        drop_capabilities: plan.process.drop_capabilities,
        no_new_privs: plan.process.no_new_privs,
        landlock: plan.landlock.as_ref().map(|l| l.image()).transpose()?,
        seccomp: plan.seccomp.as_ref().map(|s| s.program.clone()),
        fd_limit: sys::fd_limit(),
    };

    let saved_mask = sys::block_all_signals();
    // SAFETY: the child branch only runs `child::run`, which is async-signal-safe and never
    // returns; every value it reads was built above and stays alive in its copy of memory.
    let cloned = unsafe { sys::clone_process(clone_flags) };
    if let Ok((0, _)) = cloned {
        child::run(&image);
    }
    sys::set_signal_mask(&saved_mask);
    drop(error_write);
    let status = status_pipe.map(|(read, _write)| read);
    let control = control.map(|(parent_end, _child_end)| parent_end);
    let (pid, pidfd) = cloned.map_err(|errno| clone_error(errno, clone_flags))?;
    // The image points into these strings; keep them until the child has exec'd or failed.
    let outcome = read_report(error_read.as_raw_fd());
    drop((image, argv_storage, env_storage));
    match outcome {
        Ok(None) => {
            let bridge = match (bridge_routes, control) {
                (Some(routes), Some(control)) => match start_bridge(routes, &control) {
                    Ok(bridge) => Some(bridge),
                    Err(error) => {
                        let _ = sys::kill(pid, libc::SIGKILL);
                        let _ = sys::waitpid(pid, 0);
                        return Err(error);
                    }
                },
                _ => None,
            };
            Ok(Launched { pid, pidfd, status, bridge })
        }
        Ok(Some(failure)) => {
            let _ = sys::waitpid(pid, 0);
            Err(failure_error(plan, failure))
        }
        Err(errno) => {
            let _ = sys::kill(pid, libc::SIGKILL);
            let _ = sys::waitpid(pid, 0);
            Err(Error::Setup { stage: "read the child's report", source: errno.into_io(), hint: "" })
        }
    }
}

/// A socketpair whose second end the child uses to hand over its listening sockets.
fn control_socketpair() -> Result<(OwnedFd, OwnedFd)> {
    sys::socketpair_seqpacket().map_err(|errno| Error::Setup {
        stage: "create the proxy control socket",
        source: errno.into_io(),
        hint: "",
    })
}

/// Collects the listening sockets the child sent (all queued before it exec'd the command) and
/// starts the bridge on them.
fn start_bridge(routes: &[BridgeRoute], control: &OwnedFd) -> Result<Bridge> {
    let setup = |source: io::Error| Error::Setup { stage: "start the proxy bridge", source, hint: "" };
    let mut listeners = Vec::new();
    while let Some((index, fd)) = sys::recv_fd(control.as_raw_fd()).map_err(|errno| setup(errno.into_io()))? {
        let listener = TcpListener::from(fd);
        let route = routes.get(index as usize).ok_or_else(|| setup(io::Error::from_raw_os_error(libc::EPROTO)))?;
        listeners.push((listener, route.upstream));
    }
    if listeners.len() < routes.len() {
        return Err(setup(io::Error::other("the sandbox handed over fewer listeners than proxy routes")));
    }
    Bridge::start(listeners).map_err(setup)
}

/// Bind targets for the protected paths, in the plan's order, creating or joining placeholders
/// for missing ones.
fn protected_targets(plan: &SandboxPlan, placeholders: &mut Vec<Placeholder>) -> Result<Vec<BindTarget>> {
    let mut targets = Vec::new();
    for protected in &plan.read_only_binds {
        // `.codex` in the policy cwd, missing or a directory: create or join a placeholder
        // (which may be the user's own directory; it is then protected and left alone).
        let use_placeholder =
            protected.placeholder_if_missing && matches!(Placeholder::inspect(&protected.path)?, Found::Placeholder);
        let (dev, ino) = if use_placeholder {
            let placeholder = Placeholder::acquire(&protected.path)?;
            let identity = placeholder.identity();
            placeholders.push(placeholder);
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
fn bind_only_image(plan: &SandboxPlan, targets: Vec<BindTarget>) -> Result<NamespaceImage> {
    let mut ops = Vec::new();
    for pin in &plan.pinned_directories {
        ops.push(PreparedOp::Pin(identify(pin)?.0));
    }
    ops.extend(targets.into_iter().map(PreparedOp::ReadOnlyBind));
    Ok(NamespaceImage {
        id_maps: id_maps(),
        ops,
        clone_first: Vec::new(),
        slots: Vec::new(),
        loopback: false,
        init: None,
        proxy_listeners: None,
    })
}

/// The namespace pipeline's image: every [`MountOp`] of the plan, prepared.
fn namespace_image(
    plan: &SandboxPlan,
    targets: &[BindTarget],
    status_fd: Option<RawFd>,
    placeholder_locks: &[RawFd],
) -> Result<NamespaceImage> {
    let mut ops = Vec::new();
    let mut clone_first: Vec<CloneSource> = Vec::new();
    let mut clone = |target: BindTarget, checked: bool| {
        let slot = clone_first.len();
        clone_first.push(CloneSource { target, checked, slot });
        slot
    };
    for op in &plan.mounts {
        ops.push(match op {
            MountOp::ReadOnlyRoot => PreparedOp::ReadOnlyRoot,
            MountOp::EmptyRoot => PreparedOp::EmptyRoot { staging: c_path(staging_dir())? },
            MountOp::ReadableBind { path } | MountOp::WritableBind { path } => {
                let (target, is_dir) = identify(path)?;
                let read_only = matches!(op, MountOp::ReadableBind { .. });
                PreparedOp::Attach { target: target.path.clone(), slot: clone(target, true), is_dir, read_only }
            }
            MountOp::Pin { path } => PreparedOp::Pin(identify(path)?.0),
            MountOp::Symlink { link, target } => PreparedOp::Symlink { link: c_path(link)?, target: c_path(target)? },
            MountOp::ReadOnlyBind { path } => {
                let index = plan.read_only_binds.iter().position(|p| &p.path == path).ok_or_else(|| {
                    Error::Internal(format!("mount plan names {} which is not a protected path", path.display()))
                })?;
                let target = &targets[index];
                PreparedOp::ReadOnlyBind(BindTarget { path: target.path.clone(), dev: target.dev, ino: target.ino })
            }
            MountOp::Dev { host_shm } => {
                let mut node_slots = [0; DEV_NODES.len()];
                for (slot, node) in node_slots.iter_mut().zip(DEV_NODE_PATHS) {
                    *slot = clone(BindTarget { path: node.to_owned(), dev: 0, ino: 0 }, false);
                }
                let host_shm_slot =
                    if *host_shm { Some(clone(identify(Path::new("/dev/shm"))?.0, true)) } else { None };
                PreparedOp::Dev { node_slots, host_shm_slot }
            }
            MountOp::Proc => PreparedOp::Proc,
            MountOp::Mask { path } => PreparedOp::Mask(c_path(path)?),
            MountOp::MaskFile { path } => {
                let null = clone(BindTarget { path: c"/dev/null".to_owned(), dev: 0, ino: 0 }, false);
                PreparedOp::Attach { target: c_path(path)?, slot: null, is_dir: false, read_only: true }
            }
            MountOp::Sysfs => PreparedOp::Sysfs,
            MountOp::SealRoot => PreparedOp::SealRoot,
        });
    }
    let slots = (0..clone_first.len()).map(|_| Cell::new(-1)).collect();
    Ok(NamespaceImage {
        id_maps: id_maps(),
        ops,
        clone_first,
        slots,
        loopback: plan.namespaces.as_ref().is_some_and(|ns| ns.network),
        init: status_fd.map(|status_fd| {
            let mut keep_fds: Vec<RawFd> = placeholder_locks.to_vec();
            keep_fds.push(status_fd);
            keep_fds.sort_unstable();
            InitImage { status_fd, keep_fds }
        }),
        proxy_listeners: None,
    })
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

fn id_maps() -> (Vec<u8>, Vec<u8>) {
    let (uid, gid) = (sys::getuid(), sys::getgid());
    (format!("{uid} {uid} 1\n").into_bytes(), format!("{gid} {gid} 1\n").into_bytes())
}

/// Reads the child's failure report, or `None` when the pipe closed because `execve` worked.
fn read_report(fd: RawFd) -> std::result::Result<Option<Failure>, sys::Errno> {
    let mut message = [0u8; Failure::WIRE_SIZE];
    let mut filled = 0;
    while filled < message.len() {
        match sys::read(fd, &mut message[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    match filled {
        0 => Ok(None),
        Failure::WIRE_SIZE => Failure::decode(&message).map(Some).ok_or(sys::Errno(libc::EPROTO)),
        _ => Err(sys::Errno(libc::EPROTO)),
    }
}

/// Turns a child's report into an error that names what failed.
fn failure_error(plan: &SandboxPlan, failure: Failure) -> Error {
    let Failure { stage, errno, index } = failure;
    let source = io::Error::from_raw_os_error(errno.0);
    let program = plan.process.argv.first().cloned().unwrap_or_default();
    let subject = index.and_then(|i| match stage {
        Stage::Landlock => plan.landlock.as_ref().and_then(|l| l.rules.get(i)).map(|r| r.path.display().to_string()),
        _ if plan.pipeline == Pipeline::Bwrap => plan.mounts.get(i).map(ToString::to_string),
        // The landlock pipeline's operations: the pins, then the protected paths.
        _ => {
            let pins = plan.pinned_directories.iter();
            pins.chain(plan.read_only_binds.iter().map(|p| &p.path)).nth(i).map(|p| p.display().to_string())
        }
    });
    let hint = match (stage, errno.0) {
        (Stage::ProtectVerify, libc::ESTALE) => {
            " (a path was replaced while the sandbox was being set up; refusing to run)"
        }
        (Stage::SetgroupsDeny | Stage::UidMap | Stage::GidMap | Stage::MountPropagation, _) => NAMESPACE_HINT,
        (Stage::ProtectClone | Stage::ProtectReadOnly | Stage::ProtectAttach, _) => NAMESPACE_HINT,
        _ => "",
    };
    match (stage, errno.0) {
        (Stage::Exec, libc::ENOENT | libc::ENOTDIR) => Error::CommandNotFound { program },
        (Stage::Exec, _) => Error::CommandNotExecutable { program, source },
        _ => match subject {
            Some(subject) => Error::Setup {
                stage: stage.describe(),
                source: io::Error::new(source.kind(), format!("{subject}: {source}")),
                hint,
            },
            None => Error::Setup { stage: stage.describe(), source, hint },
        },
    }
}

const NAMESPACE_HINT: &str = " (the sandbox uses a private user+mount namespace, which this host refused. \
Allow unprivileged user namespaces — sysctl user.max_user_namespaces > 0, \
kernel.unprivileged_userns_clone=1, kernel.apparmor_restrict_unprivileged_userns=0 — or use a read-only policy \
with --pipeline landlock)";

fn clone_error(errno: sys::Errno, flags: u64) -> Error {
    let uses_namespaces = flags & libc::CLONE_NEWUSER as u64 != 0;
    if uses_namespaces && matches!(errno.0, libc::EPERM | libc::ENOSPC | libc::EINVAL | libc::EUSERS) {
        return Error::Unsupported {
            what: "the sandbox's namespaces".into(),
            reason: format!("cannot create a user namespace: {}{NAMESPACE_HINT}", errno.into_io()),
        };
    }
    Error::Setup { stage: "clone the sandbox process", source: errno.into_io(), hint: "" }
}

fn pipe(stage: &'static str) -> Result<(OwnedFd, OwnedFd)> {
    sys::pipe().map_err(|errno| Error::Setup { stage, source: errno.into_io(), hint: "" })
}

pub(crate) fn c_path(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::Internal(format!("NUL byte in {}", path.display())))
}

fn c_strings(items: impl Iterator<Item = Vec<u8>>) -> Result<Vec<CString>> {
    items.map(|bytes| CString::new(bytes).map_err(|_| Error::Internal("NUL byte in argv or env".into()))).collect()
}

fn pointer_array(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings.iter().map(|s| s.as_ptr()).chain(std::iter::once(std::ptr::null())).collect()
}
