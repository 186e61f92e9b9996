//! Parent side of a spawn: build the [`ChildImage`], clone, and learn from the report pipe
//! whether the child reached `execve`.

use std::ffi::CString;
use std::io;
use std::net::TcpListener;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

use super::bridge::Bridge;
use super::cgroup::{CgroupLimit, RunCgroup};
use super::child::image::{
    BrokerImage, ChildImage, ExecImage, FdImage, InitImage, ProxyListeners, RootImage, Subreaper, SupervisorImage,
};
use super::image::{self, c_path, c_strings, pointer_array};
use super::placeholder::Placeholder;
use super::{child, report};
use crate::error::{Error, Result};
use crate::plan::{Pipeline, SandboxPlan};
use crate::proxy::{BridgeRoute, ProxyPlan, ProxyRoute};
use crate::sys;

/// What a successful launch hands to [`super::Child`].
pub(crate) struct Launched {
    pub pid: libc::pid_t,
    pub pidfd: Option<OwnedFd>,
    /// Read end of init's status pipe (the sandbox has an init).
    pub status: Option<OwnedFd>,
    /// Proxy mode on the namespace pipeline: the bridge serving the sandbox's listeners.
    pub bridge: Option<Bridge>,
    /// An installed bwrap's status report (set by `system_bwrap`).
    pub bwrap_status: Option<super::system_bwrap::BwrapStatus>,
    /// The run's pids cgroup, which the sandbox's first process entered before it went on.
    pub cgroup: Option<RunCgroup>,
    /// The sandbox's init is a subreaper here, not the PID 1 of a namespace of its own.
    pub init_is_subreaper: bool,
}

/// Descriptors and flags that come from the caller rather than the plan.
pub(crate) struct LaunchOptions<'a> {
    /// `(number in the command, source)`, sources at `fd_floor` or above.
    pub fd_map: Vec<(RawFd, RawFd)>,
    /// Standard streams the command inherits from this process.
    pub inherit: [bool; 3],
    pub pass_fds: &'a [RawFd],
    /// Every descriptor the launch creates is put at this number or above: above the standard
    /// streams and above every number the command's descriptors are mapped to, so the child's
    /// `dup2`s can clobber none of them.
    pub fd_floor: RawFd,
    pub die_with_parent: bool,
}

pub(crate) fn launch(
    plan: &SandboxPlan,
    options: &LaunchOptions,
    placeholders: &mut Vec<Placeholder>,
) -> Result<Launched> {
    let floor = options.fd_floor;
    let targets = image::protected_targets(plan, placeholders, floor)?;
    // The budget as a cgroup of the run's own: the child waits on `launcher_gate` until it is in.
    let mut cgroup_limits = Vec::new();
    if let (Some(parent), Some(budget)) = (&plan.process.pids_cgroup, plan.process.max_processes) {
        cgroup_limits.push((parent, CgroupLimit::Pids(budget)));
    }
    if let Some(memory) = &plan.process.limits.memory_cgroup {
        cgroup_limits.push((&memory.cgroup, CgroupLimit::Memory(memory.max_bytes)));
    }
    let cgroup = if cgroup_limits.is_empty() { None } else { Some(RunCgroup::create(&cgroup_limits)?) };
    let (report_read, report_write) = pipe("create the report pipe", floor)?;
    // Both pipelines run the command under an init of the sandbox's own; the seccomp-only
    // and unsandboxed plans run it directly.
    let with_init = matches!(plan.pipeline(), Pipeline::Bwrap | Pipeline::Landlock) || plan.init_around_bwrap;
    let status_pipe = if with_init { Some(pipe("create the status pipe", floor)?) } else { None };
    let bridge_routes = match plan.proxy() {
        Some(ProxyPlan { route: ProxyRoute::Bridge { routes }, .. }) if plan.pipeline() == Pipeline::Bwrap => {
            Some(routes)
        }
        _ => None,
    };
    let control = bridge_routes.map(|_| control_socketpair(floor)).transpose()?;
    let landlock = plan.landlock().map(|landlock| image::landlock(landlock, floor)).transpose()?;
    let (supervisor, supervisor_sockets) =
        match with_init.then(|| metadata_supervisor(plan, floor, landlock.as_ref())).transpose()?.flatten() {
            Some((image, sockets)) => (Some(image), Some(sockets)),
            None => (None, None),
        };
    let init = status_pipe.as_ref().map(|(_, status_write)| {
        let mut keep_fds: Vec<RawFd> = placeholders.iter().map(Placeholder::lock_fd).collect();
        keep_fds.push(status_write.as_raw_fd());
        if let Some(supervisor) = &supervisor {
            keep_fds.push(supervisor.init_socket);
            keep_fds.extend(supervisor.roots.iter().map(|root| root.fd.as_raw_fd()));
            keep_fds.extend(supervisor.broker.as_ref().and_then(|broker| broker.landlock_ruleset));
        }
        keep_fds.sort_unstable();
        // Without a PID namespace of its own init is a subreaper, which needs room to read
        // its children list after the command exits (nothing is allocated after the clone).
        // (The landlock pipeline's init is PID 1 instead where its view has a fresh /proc.)
        let own_pid_namespace = plan.mounts().iter().any(|op| matches!(op, crate::plan::mounts::MountOp::Proc));
        // An installed bwrap runs under our init: a subreaper, so bwrap's own PID 1, re-parented
        // to it when bwrap exits, is reaped (its namespace empty) before init reports.
        let subreaper = ((plan.pipeline() == Pipeline::Landlock && !own_pid_namespace) || plan.init_around_bwrap)
            .then(|| Subreaper { children: std::cell::RefCell::new(vec![0u8; 64 * 1024].into_boxed_slice()) });
        InitImage {
            status_fd: status_write.as_raw_fd(),
            keep_fds,
            subreaper,
            wall_time_ms: plan.process.limits.wall_time_ms,
        }
    });
    let init_is_subreaper = init.as_ref().is_some_and(|init| init.subreaper.is_some());
    let namespaces = match plan.pipeline() {
        Pipeline::Bwrap => {
            let mut namespaces = image::namespaces(plan, &targets)?;
            if let (Some(routes), Some((_, child_end))) = (bridge_routes, &control) {
                let ports = routes.iter().map(|route| route.port).collect();
                namespaces.proxy_listeners = Some(ProxyListeners { control_fd: child_end.as_raw_fd(), ports });
            }
            Some(namespaces)
        }
        // The read-only view where user namespaces are available; without them only the
        // protected paths need a namespace (and planning refused them without one).
        Pipeline::Landlock if !plan.mounts().is_empty() => Some(image::namespaces(plan, &targets)?),
        Pipeline::Landlock if !targets.is_empty() => Some(image::bind_only_namespaces(plan, targets)?),
        _ => None,
    };
    let clone_flags = clone_flags(namespaces.as_ref().map(|ns| (ns.pid_namespace, ns.loopback)));
    // A command that switches ids in a user namespace needs both ids mapped, which only the
    // launcher (root outside) may write; the child then writes none.
    let launcher_maps = plan.process.ids.as_ref().filter(|_| namespaces.is_some()).map(image::launcher_id_maps);
    // The child waits on this until the launcher has done its part after the clone.
    let launcher_gate = (cgroup.is_some() || launcher_maps.is_some())
        .then(|| pipe("create the launcher's gate pipe", floor))
        .transpose()?;

    let argv_storage = c_strings(plan.exec.argv.iter().map(|a| a.as_bytes().to_vec()))?;
    let env_storage = c_strings(plan.exec.env.iter().map(|(k, v)| [k.as_bytes(), b"=", v.as_bytes()].concat()))?;
    let mut keep: Vec<RawFd> = options.pass_fds.to_vec();
    // The ruleset is close-on-exec: kept through the close of everything else until enforced.
    keep.extend(landlock.as_ref().map(|l| l.ruleset.as_raw_fd()));
    keep.extend(options.fd_map.iter().map(|(target, _)| *target).filter(|target| *target >= 3));
    keep.push(report_write.as_raw_fd());
    keep.extend(supervisor.as_ref().map(|s| s.command_socket));
    keep.sort_unstable();
    keep.dedup();
    let image = ChildImage {
        exec: ExecImage {
            argv: pointer_array(&argv_storage),
            envp: pointer_array(&env_storage),
            candidates: plan.exec.candidates.iter().map(|p| c_path(p)).collect::<Result<_>>()?,
            cwd: c_path(&plan.exec.cwd)?,
        },
        fds: FdImage { map: options.fd_map.clone(), inherit: options.inherit, keep, pass: options.pass_fds.to_vec() },
        report_fd: report_write.as_raw_fd(),
        report_read_fd: report_read.as_raw_fd(),
        die_with_parent: options.die_with_parent.then(sys::getpid),
        namespaces,
        init,
        drop_capabilities: plan.process.drop_capabilities,
        no_new_privs: plan.process.no_new_privs,
        new_session: plan.process.new_session,
        // RLIMIT_NPROC where it counts the sandbox apart; the cgroup does it otherwise.
        max_processes: plan.process.max_processes.filter(|_| plan.process.pids_cgroup.is_none()),
        launcher_gate: launcher_gate.as_ref().map(|(read, write)| (read.as_raw_fd(), write.as_raw_fd())),
        switch_ids: plan.process.ids.map(|ids| (ids.uid, ids.gid)),
        rlimits: plan
            .process
            .limits
            .rlimits
            .iter()
            .map(|r| (r.resource as sys::RlimitResource, r.soft, r.hard))
            .collect(),
        landlock,
        seccomp: plan.seccomp().map(|s| s.program.clone()),
        supervisor,
        fd_limit: sys::fd_limit(),
    };

    child::panic::install();
    let saved_mask = sys::block_all_signals();
    // SAFETY: the child branch only runs `child::run`, which is async-signal-safe and never
    // returns; every value it reads was built above and stays alive in its copy of memory.
    let cloned = unsafe { sys::clone_process(clone_flags) };
    if let Ok((0, _)) = cloned {
        child::run(&image);
    }
    sys::set_signal_mask(&saved_mask);
    drop(report_write);
    let status = status_pipe.map(|(read, _write)| read);
    let control = control.map(|(parent_end, _child_end)| parent_end);
    let (pid, pidfd) = cloned.map_err(|errno| clone_error(errno, clone_flags))?;
    if let Some((gate_read, gate_write)) = launcher_gate {
        drop(gate_read);
        // The child does nothing until this byte arrives; closing instead ends it.
        let ready = cgroup
            .as_ref()
            .map_or(Ok(()), |run_cgroup| run_cgroup.add(pid))
            .and_then(|()| launcher_maps.as_ref().map_or(Ok(()), |maps| write_id_maps(pidfd.as_ref(), maps)))
            .and_then(|()| {
                sys::write_all(gate_write.as_raw_fd(), &[1])
                    .map_err(|errno| Error::setup("let the sandbox go on", errno.into_io()))
            });
        drop(gate_write);
        if let Err(error) = ready {
            let _ = sys::kill(pid, libc::SIGKILL);
            let _ = sys::waitpid(pid, 0);
            if let Some(cgroup) = cgroup {
                cgroup.remove();
            }
            return Err(error);
        }
    }
    // The image points into these strings; keep them until the child has exec'd or failed.
    let outcome = report::read(report_read.as_raw_fd());
    drop((image, argv_storage, env_storage, supervisor_sockets));
    let kill_and_reap = || {
        let _ = sys::kill(pid, libc::SIGKILL);
        let _ = sys::waitpid(pid, 0);
    };
    match outcome {
        Ok(None) => {
            let bridge = match (bridge_routes, control) {
                (Some(routes), Some(control)) => match start_bridge(routes, &control) {
                    Ok(bridge) => Some(bridge),
                    Err(error) => {
                        kill_and_reap();
                        if let Some(cgroup) = cgroup {
                            cgroup.remove();
                        }
                        return Err(error);
                    }
                },
                _ => None,
            };
            Ok(Launched { pid, pidfd, status, bridge, bwrap_status: None, cgroup, init_is_subreaper })
        }
        Ok(Some(failure)) => {
            let _ = sys::waitpid(pid, 0);
            if let Some(cgroup) = cgroup {
                cgroup.remove();
            }
            Err(report::into_error(plan, failure))
        }
        Err(errno) => {
            kill_and_reap();
            if let Some(cgroup) = cgroup {
                cgroup.remove();
            }
            Err(Error::setup("read the child's report", errno.into_io()))
        }
    }
}

/// Writes the uid and gid maps of the child's user namespace (`setgroups` stays allowed: the
/// child clears its supplementary groups when it switches ids). Each map in one write, as the
/// kernel requires. The maps give a namespace the caller's root: they are written only into
/// the directory of the process behind `pidfd`, never by a pid number alone (see
/// [`proc_dir_of`]).
fn write_id_maps(pidfd: Option<&OwnedFd>, (uid_map, gid_map): &(Vec<u8>, Vec<u8>)) -> Result<()> {
    let pidfd = pidfd.ok_or_else(|| {
        Error::setup("write the sandbox's id maps", io::Error::other("the kernel gave no pidfd for the sandbox"))
    })?;
    let dir = proc_dir_of(pidfd.as_fd())?;
    for (name, map, stage) in
        [(c"uid_map", uid_map, "write the sandbox's uid map"), (c"gid_map", gid_map, "write the sandbox's gid map")]
    {
        let written =
            sys::openat(dir.as_raw_fd(), name, libc::O_WRONLY).and_then(|file| sys::write_all(file.as_raw_fd(), map));
        written.map_err(|errno| Error::setup(stage, errno.into_io()))?;
    }
    Ok(())
}

/// The `/proc` directory of the process behind `pidfd`: its pid as this `/proc` numbers it
/// (the pidfd's fdinfo, right even where `/proc` belongs to another PID namespace), and the
/// pidfd checked alive after the directory is open, so the directory cannot be a recycled pid's
/// (a caller that ignores SIGCHLD has a killed child reaped at once).
fn proc_dir_of(pidfd: BorrowedFd<'_>) -> Result<OwnedFd> {
    let fail = |errno: sys::Errno| Error::setup("open the sandbox's /proc directory", errno.into_io());
    let pid = sys::pidfd_pid(pidfd.as_raw_fd()).map_err(fail)?;
    let path = CString::new(format!("/proc/{pid}")).map_err(|_| fail(sys::Errno(libc::EINVAL)))?;
    let dir = sys::open(&path, libc::O_PATH | libc::O_DIRECTORY).map_err(fail)?;
    sys::pidfd_send_signal(pidfd.as_raw_fd(), 0).map_err(fail)?;
    Ok(dir)
}

/// The supervisor's image, when the plan has one (the metadata supervisor, the connect broker
/// or both): the socket pair (both ends at `floor` or above), the writable roots, each opened
/// as Landlock's rule paths are, and the granted sockets.
fn metadata_supervisor(
    plan: &SandboxPlan,
    floor: RawFd,
    landlock: Option<&super::child::image::LandlockImage>,
) -> Result<Option<(SupervisorImage, (OwnedFd, OwnedFd))>> {
    let metadata = matches!(plan.metadata_guard(), Some(crate::plan::MetadataGuard::Supervisor { .. }));
    let broker = plan.seccomp().is_some_and(crate::seccomp::SeccompPlan::brokers_connect);
    if !metadata && !broker {
        return Ok(None);
    }
    let stage = "create the metadata supervisor's socket pair";
    let (init_end, command_end) = sys::socketpair_seqpacket().map_err(|errno| Error::setup(stage, errno.into_io()))?;
    let (init_end, command_end) = (renumber(init_end, floor, stage)?, renumber(command_end, floor, stage)?);
    let broker = broker.then(|| connect_broker(plan, landlock)).transpose()?;
    let mut roots = Vec::new();
    for root in plan.filesystem.writable_roots.iter().filter(|_| metadata) {
        let path = c_path(&root.path)?;
        let fd = super::child::paths::open_without_symlinks(
            &super::child::kernel::Live,
            &path,
            &super::child::paths::RULE_PATH,
        )
        .map_err(|errno| Error::path("cannot open a writable root", &root.path, errno.into_io()))?;
        roots.push(RootImage { path, fd: renumber(fd, floor, "open the writable roots")? });
    }
    let image = SupervisorImage {
        init_socket: init_end.as_raw_fd(),
        command_socket: command_end.as_raw_fd(),
        roots,
        value: std::cell::RefCell::new(vec![0u8; if metadata { 64 * 1024 } else { 0 }].into_boxed_slice()),
        broker,
    };
    Ok(Some((image, (init_end, command_end))))
}

/// The connect broker's image: each granted socket's device and inode, from our own descriptor
/// of its canonical path (opened without following symlinks, as Landlock's rule paths are): a
/// socket replaced since planning is refused here rather than granted.
fn connect_broker(plan: &SandboxPlan, landlock: Option<&super::child::image::LandlockImage>) -> Result<BrokerImage> {
    let mut granted = Vec::new();
    for path in &plan.unix_sockets().granted_paths {
        let opened = super::child::paths::open_without_symlinks(
            &super::child::kernel::Live,
            &c_path(path)?,
            &super::child::paths::RULE_PATH,
        )
        .and_then(|fd| sys::fstat(fd.as_raw_fd()));
        let st = opened.map_err(|errno| Error::path("cannot open a granted unix socket", path, errno.into_io()))?;
        if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
            return Err(Error::path(
                "a granted unix socket is no longer a socket",
                path,
                io::Error::from_raw_os_error(libc::ENOTSOCK),
            ));
        }
        granted.push((st.st_dev, st.st_ino));
    }
    let tcp_rules = plan.landlock().is_some_and(|landlock| landlock.tcp_connect_ports.is_some());
    Ok(BrokerImage {
        granted,
        unix_only: plan.network() == crate::seccomp::NetworkMode::Restricted,
        listen_answer: plan.seccomp().and_then(|seccomp| seccomp.broker_listen_answer),
        landlock_ruleset: landlock.filter(|_| tcp_rules).map(|landlock| landlock.ruleset.as_raw_fd()),
    })
}

/// `clone` flags for the sandbox: `(with PID 1, with a network namespace)` when it gets
/// namespaces.
fn clone_flags(namespaces: Option<(bool, bool)>) -> u64 {
    let mut flags = libc::CLONE_PIDFD as u64;
    if let Some((pid_one, network)) = namespaces {
        flags |= (libc::CLONE_NEWUSER | libc::CLONE_NEWNS) as u64;
        if pid_one {
            // The sandbox's own PID, IPC (System V and POSIX message queues and shared memory
            // of the host's processes stay out of reach), UTS and cgroup namespaces.
            flags |= (libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS | libc::CLONE_NEWCGROUP) as u64;
        }
        if network {
            flags |= libc::CLONE_NEWNET as u64;
        }
    }
    flags
}

/// A socketpair whose second end the child uses to hand over its listening sockets.
fn control_socketpair(floor: RawFd) -> Result<(OwnedFd, OwnedFd)> {
    let stage = "create the proxy control socket";
    let (a, b) = sys::socketpair_seqpacket().map_err(|errno| Error::setup(stage, errno.into_io()))?;
    Ok((renumber(a, floor, stage)?, renumber(b, floor, stage)?))
}

/// Collects the listening sockets the child sent (all queued before it exec'd the command) and
/// starts the bridge on them.
fn start_bridge(routes: &[BridgeRoute], control: &OwnedFd) -> Result<Bridge> {
    let setup = |source: io::Error| Error::setup("start the proxy bridge", source);
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

fn clone_error(errno: sys::Errno, flags: u64) -> Error {
    let uses_namespaces = flags & libc::CLONE_NEWUSER as u64 != 0;
    if uses_namespaces && matches!(errno.0, libc::EPERM | libc::ENOSPC | libc::EINVAL | libc::EUSERS | libc::EACCES) {
        let hint = crate::probe::namespace_hint(errno.0, &crate::probe::Evidence::gather());
        let check = "create the sandbox's user and mount namespaces (clone with CLONE_NEWUSER)";
        return Error::host_refused("the sandbox's namespaces", crate::probe::Refusal::new(check, Some(errno.0), hint));
    }
    Error::setup("clone the sandbox process", errno.into_io())
}

/// A close-on-exec pipe with both ends at `floor` or above.
pub(crate) fn pipe(stage: &'static str, floor: RawFd) -> Result<(OwnedFd, OwnedFd)> {
    let (read, write) = sys::pipe().map_err(|errno| Error::setup(stage, errno.into_io()))?;
    Ok((renumber(read, floor, stage)?, renumber(write, floor, stage)?))
}

pub(crate) fn renumber(fd: OwnedFd, floor: RawFd, stage: &'static str) -> Result<OwnedFd> {
    sys::renumber_above(fd, floor).map_err(|errno| Error::setup(stage, errno.into_io()))
}
