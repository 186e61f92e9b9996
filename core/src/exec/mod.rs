//! The executor: everything that creates or manages processes.
//!
//! [`spawn`] turns a [`SandboxPlan`] into a `ChildImage` (`image`: C strings, descriptor
//! numbers, id maps, the Landlock ruleset's bytes, the BPF program), blocks signals, clones
//! (`launch`), and waits on a close-on-exec pipe until the child (`child`) has either executed
//! the command (end of file) or reported the stage at which it failed (`report`). Nothing is
//! spawned when the plan cannot be carried out: a setup failure in the child is returned as an
//! error after the child has been reaped. [`Child`] waits for and signals the command; the
//! placeholders of missing protected paths, the installed-bwrap executor and the proxy bridge
//! live here too.

pub(crate) mod bridge;
mod cgroup;
pub(crate) mod child;
pub mod fault;
mod forward;
mod image;
mod launch;
mod placeholder;
mod report;
pub mod signal;
pub mod sweep;
mod system_bwrap;

pub use forward::{FORWARDED_SIGNALS, SignalForwarder};

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use crate::error::{Error, Result};
use crate::exec::bridge::Bridge;
use crate::plan::{Executor, SandboxPlan};
use crate::sys;
use launch::{LaunchOptions, Launched};
use placeholder::Placeholder;

/// Where one of the child's standard streams goes.
#[derive(Debug, Default)]
pub enum Stdio {
    /// The parent's own descriptor, as it is (even when marked close-on-exec, as libuv does).
    #[default]
    Inherit,
    /// `/dev/null`.
    Null,
    /// A new pipe; the parent's end is in [`Child::stdin`] / `stdout` / `stderr`.
    Pipe,
    /// This descriptor (consumed; the parent's copy is closed after the spawn).
    Fd(OwnedFd),
}

/// How to start the child, beyond what the plan says.
#[derive(Debug)]
pub struct SpawnOptions {
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
    /// Further descriptors of the command: each source (consumed) appears at the given number,
    /// which must be 3 or above (Node's `stdio[3]`, an IPC channel).
    pub extra_fds: Vec<(RawFd, OwnedFd)>,
    /// Descriptors the command inherits at the same numbers; everything else ≥ 3 is closed.
    pub pass_fds: Vec<RawFd>,
    /// Kill the sandbox (SIGKILL) when the thread that spawned it exits. Linux ties the
    /// parent-death signal to the spawning *thread*: spawn from a long-lived thread.
    pub die_with_parent: bool,
}

impl Default for SpawnOptions {
    fn default() -> Self {
        SpawnOptions {
            stdin: Stdio::Inherit,
            stdout: Stdio::Inherit,
            stderr: Stdio::Inherit,
            extra_fds: Vec::new(),
            pass_fds: Vec::new(),
            die_with_parent: true,
        }
    }
}

/// How the command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(i32),
    Signaled(i32),
}

impl ExitStatus {
    fn from_raw(status: libc::c_int) -> ExitStatus {
        if libc::WIFSIGNALED(status) {
            ExitStatus::Signaled(libc::WTERMSIG(status))
        } else {
            ExitStatus::Exited(libc::WEXITSTATUS(status))
        }
    }

    pub fn code(self) -> Option<i32> {
        match self {
            ExitStatus::Exited(code) => Some(code),
            ExitStatus::Signaled(_) => None,
        }
    }

    pub fn signal(self) -> Option<i32> {
        match self {
            ExitStatus::Exited(_) => None,
            ExitStatus::Signaled(signal) => Some(signal),
        }
    }

    /// The shell convention: the exit code, or 128 + the signal number.
    pub fn shell_code(self) -> i32 {
        match self {
            ExitStatus::Exited(code) => code,
            ExitStatus::Signaled(signal) => 128 + signal,
        }
    }
}

/// A running (or finished) sandboxed command.
#[derive(Debug)]
pub struct Child {
    pid: libc::pid_t,
    pidfd: Option<OwnedFd>,
    pub stdin: Option<File>,
    pub stdout: Option<File>,
    pub stderr: Option<File>,
    status: Option<ExitStatus>,
    /// The sandbox's init reports the command's own wait status here.
    init_status: Option<OwnedFd>,
    /// `pid` is the sandbox's init (both pipelines, not the seccomp-only plan).
    via_init: bool,
    /// That init is a subreaper in this PID namespace (not the PID 1 of its own), which ends
    /// the run's other processes itself before it reports.
    init_is_subreaper: bool,
    /// Proxy mode: relays the sandbox's connections to the proxies until the sandbox is
    /// reaped or this handle is dropped.
    bridge: Option<Bridge>,
    placeholders: Vec<Placeholder>,
    /// An installed bwrap's status report, read when it exits.
    bwrap_status: Option<system_bwrap::BwrapStatus>,
    /// Set when the installed bwrap stopped in its setup (the status is then 125).
    setup_failure: Option<Error>,
    /// The protected names present before the run, checked again once it is over.
    sweep: Option<sweep::Sweep>,
    /// Set when the sweep found protected names the command created.
    protected_name_violation: Option<Error>,
    /// Init ended the run because its wall-clock limit expired.
    wall_time_exceeded: bool,
    /// The run's pids cgroup, removed once it is reaped.
    cgroup: Option<cgroup::RunCgroup>,
}

impl Drop for Child {
    /// A child dropped before it was reaped may still be running: its placeholders stay locked
    /// (never removed under it) for the rest of this process's life. Its proxy bridge stops.
    fn drop(&mut self) {
        for placeholder in self.placeholders.drain(..) {
            placeholder.hold_forever();
        }
    }
}

impl Child {
    pub fn id(&self) -> u32 {
        self.pid as u32
    }

    /// A pidfd for the child (Linux ≥ 5.2), e.g. to poll for its exit from an event loop.
    pub fn pidfd(&self) -> Option<BorrowedFd<'_>> {
        self.pidfd.as_ref().map(AsFd::as_fd)
    }

    /// Whether [`Child::id`] is the sandbox's init (PID 1 of its namespace, or a subreaper: the
    /// landlock pipeline's without a PID namespace, and the one an installed bwrap runs under),
    /// which forwards signals to the command, rather than the command itself.
    pub fn is_sandbox_init(&self) -> bool {
        self.via_init
    }

    /// The command's own pid: [`Child::id`] without an init (seccomp only); under an init its
    /// first child (pid 2 in the sandbox's PID namespace; the installed bwrap itself under
    /// `--bwrap-path`), or `None` once it has exited.
    pub fn command_pid(&self) -> io::Result<Option<u32>> {
        if !self.via_init {
            return Ok(Some(self.pid as u32));
        }
        signal::command_under_init(self.pid)?
            .map(|(pidfd, _)| sys::pidfd_pid(pidfd.as_raw_fd()).map_err(sys::Errno::into_io))
            .transpose()
    }

    /// Sends `signal` to the command (through a pidfd, so never to a recycled pid). Under an
    /// init, init forwards it; SIGSTOP, which init cannot catch, goes to the command directly,
    /// and so does SIGKILL on the landlock pipeline, whose init then ends the descendants (see
    /// [`signal::deliver`]).
    pub fn kill(&mut self, signal: i32) -> io::Result<()> {
        if self.status.is_some() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "the child has already been reaped"));
        }
        match &self.pidfd {
            Some(pidfd) => signal::deliver(pidfd.as_fd(), self.pid, self.is_sandbox_init(), signal),
            None => sys::kill(self.pid, signal).map_err(sys::Errno::into_io),
        }
    }

    /// Waits for the command to exit. Closes the child's stdin first, so a command reading it
    /// sees end of file.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        if let Some(status) = self.status {
            return Ok(status);
        }
        let (_, raw) = sys::waitpid(self.pid, 0).map_err(sys::Errno::into_io)?;
        Ok(self.finish(raw))
    }

    /// Why the sandbox was never set up, when an installed bwrap (`--bwrap-path`) stopped in
    /// its setup: known once reaped, when the status is 125. (The embedded launcher reports
    /// its setup failures from `spawn` itself.)
    pub fn setup_failure(&self) -> Option<&Error> {
        self.setup_failure.as_ref()
    }

    /// Protected names the command created in a writable root (`sub/.git`, an added name),
    /// found once the run was over and every process of it gone, and removed: the run failed
    /// ([`crate::ErrorKind::ProtectedNameCreated`]; the CLI exits 123), whatever the command's
    /// own status. Also set when the check could not cover everything. Known once reaped.
    pub fn protected_name_violation(&self) -> Option<&Error> {
        self.protected_name_violation.as_ref()
    }

    /// Whether the run was ended by its wall-clock limit (`ResourceLimits::wall_time`): the
    /// sandbox's init killed the command (its status is then SIGKILL) and every other process
    /// of the run. Known once reaped.
    pub fn wall_time_exceeded(&self) -> bool {
        self.wall_time_exceeded
    }

    /// Reaps the command if it has exited.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        match sys::waitpid(self.pid, libc::WNOHANG).map_err(sys::Errno::into_io)? {
            (0, _) => Ok(None),
            (_, raw) => Ok(Some(self.finish(raw))),
        }
    }

    fn finish(&mut self, raw: libc::c_int) -> ExitStatus {
        // Under an init `pid` is the sandbox's init, which exits with 128+N
        // when the command died of signal N; init's report restores the real status. Without
        // a report (init itself was killed) init's own status stands.
        // The report: the command's wait status, then init's flags (one write of 8 bytes).
        let reported = self.init_status.take().and_then(|fd| {
            let mut report = [0u8; 8];
            matches!(sys::read(fd.as_raw_fd(), &mut report), Ok(8)).then(|| {
                let [a, b, c, d, e, f, g, h] = report;
                (libc::c_int::from_ne_bytes([a, b, c, d]), u32::from_ne_bytes([e, f, g, h]))
            })
        });
        let (reported, flags) = (reported.map(|(status, _)| status), reported.map_or(0, |(_, flags)| flags));
        self.wall_time_exceeded = flags & child::init::REPORT_WALL_TIME_EXCEEDED != 0;
        let mut status = ExitStatus::from_raw(reported.unwrap_or(raw));
        if let Some(failure) = self.bwrap_status.take().and_then(|report| report.setup_failure(status)) {
            // As the embedded launcher's setup failures: 125, with the error kept.
            status = ExitStatus::Exited(125);
            self.setup_failure = Some(failure);
        }
        if let Some(mut bridge) = self.bridge.take() {
            bridge.stop();
        }
        self.status = Some(status);
        for placeholder in self.placeholders.drain(..) {
            placeholder.release();
        }
        // Every process of the run is gone (the PID namespace's init has exited, or the
        // subreaper has ended every descendant before reporting), so nothing can race the walk.
        // A subreaper that ended without its report was killed from outside before it could
        // end the rest: the walk would race what is left, so the run is not fully checked. A
        // panic in the walk fails the run too: the status is already set, so a caller that
        // caught the panic and waited again would otherwise see a clean run.
        if let Some(sweep) = self.sweep.take() {
            let outcome = if self.init_is_subreaper && reported.is_none() {
                sweep::Outcome::not_checked(
                    "the sandbox's init was killed before it had ended every process of the run",
                )
            } else {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sweep.after()))
                    .unwrap_or_else(|_| sweep::Outcome::not_checked("the check after the run panicked"))
            };
            self.protected_name_violation = outcome.into_error();
        }
        if let Some(cgroup) = self.cgroup.take() {
            cgroup.remove();
        }
        status
    }

    /// The run's own cgroups (where the plan limits it with them), until it is reaped.
    pub fn cgroups(&self) -> &[std::path::PathBuf] {
        self.cgroup.as_ref().map_or(&[], cgroup::RunCgroup::paths)
    }
}

/// Starts the command described by `plan`.
pub fn spawn(plan: &SandboxPlan, options: SpawnOptions) -> Result<Child> {
    let fd_floor = fd_floor(&options)?;
    let mut parent_ends: [Option<File>; 3] = [None, None, None];
    // The command's descriptors, each source renumbered to `fd_floor` or above; dropped (closed
    // here) once the child has them.
    let mut sources: Vec<(RawFd, OwnedFd)> = Vec::new();
    let mut inherit = [false; 3];
    for ((target, request), inherited) in (0..).zip([options.stdin, options.stdout, options.stderr]).zip(&mut inherit) {
        let source = match request {
            Stdio::Inherit => {
                *inherited = true;
                continue;
            }
            Stdio::Null => open_dev_null()?,
            Stdio::Fd(fd) => fd,
            Stdio::Pipe => {
                let (read, write) = launch::pipe("create a pipe", fd_floor)?;
                let (parent, child) = if target == 0 { (write, read) } else { (read, write) };
                if let Some(end) = usize::try_from(target).ok().and_then(|i| parent_ends.get_mut(i)) {
                    *end = Some(File::from(parent));
                }
                child
            }
        };
        sources.push((target, launch::renumber(source, fd_floor, "set up the command's descriptors")?));
    }
    for (target, source) in options.extra_fds {
        sources.push((target, launch::renumber(source, fd_floor, "set up the command's descriptors")?));
    }
    for fd in &options.pass_fds {
        sys::fstat(*fd)
            .map_err(|errno| Error::argument("pass_fds", format!("descriptor {fd}: {}", errno.into_io())))?;
    }

    // Before any placeholder exists: those are this run's own, gone again before the check.
    let sweep = match plan.sweep_scope() {
        Some(scope) => Some(sweep::Sweep::before(&scope.roots, scope.names, &scope.skip)?),
        None => None,
    };
    let mut placeholders = Vec::new();
    let launch_options = LaunchOptions {
        fd_map: sources.iter().map(|(target, source)| (*target, source.as_raw_fd())).collect(),
        inherit,
        pass_fds: &options.pass_fds,
        fd_floor,
        die_with_parent: options.die_with_parent,
    };
    let result = match plan.executor() {
        Executor::Embedded => launch::launch(plan, &launch_options, &mut placeholders),
        Executor::SystemBwrap { path, .. } => system_bwrap::launch(plan, path, &launch_options, &mut placeholders),
    };
    drop(sources);
    match result {
        Ok(Launched { pid, pidfd, status, bridge, bwrap_status, cgroup, init_is_subreaper }) => {
            let [stdin, stdout, stderr] = parent_ends;
            let via_init = status.is_some();
            Ok(Child {
                pid,
                pidfd,
                stdin,
                stdout,
                stderr,
                status: None,
                init_status: status,
                via_init,
                init_is_subreaper,
                bridge,
                placeholders,
                bwrap_status,
                setup_failure: None,
                sweep,
                protected_name_violation: None,
                wall_time_exceeded: false,
                cgroup,
            })
        }
        Err(error) => {
            for placeholder in placeholders {
                placeholder.release();
            }
            Err(error)
        }
    }
}

/// The lowest number the launch may give a descriptor it creates: above the standard streams
/// and every number the caller maps a descriptor to. Checks the caller's numbers on the way.
fn fd_floor(options: &SpawnOptions) -> Result<RawFd> {
    let mut floor = 3;
    for fd in &options.pass_fds {
        if *fd < 3 {
            return Err(Error::argument(
                "pass_fds",
                format!("descriptor {fd} is a standard stream; use stdin/stdout/stderr"),
            ));
        }
    }
    for (index, (target, _)) in options.extra_fds.iter().enumerate() {
        let field = || format!("extra_fds[{index}]");
        if *target < 3 {
            return Err(Error::argument(
                field(),
                format!("descriptor {target} is a standard stream; use stdin/stdout/stderr"),
            ));
        }
        if options.pass_fds.contains(target) || options.extra_fds.iter().take(index).any(|(other, _)| other == target) {
            return Err(Error::argument(field(), format!("descriptor {target} is given twice")));
        }
        // Far above any real number: the child's close loop and dup2 stay bounded.
        if *target >= 1 << 20 {
            return Err(Error::argument(field(), format!("descriptor {target} is out of range")));
        }
        floor = floor.max(target + 1);
    }
    Ok(floor)
}

fn open_dev_null() -> Result<OwnedFd> {
    sys::open(c"/dev/null", libc::O_RDWR).map_err(|errno| Error::setup("open /dev/null", errno.into_io()))
}
