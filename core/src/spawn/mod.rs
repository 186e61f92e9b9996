//! `spawn`: runs a [`SandboxPlan`].
//!
//! The parent turns the plan into a [`ChildImage`] (C strings, descriptor numbers, id maps, the
//! Landlock ruleset, the BPF program), blocks signals, clones, and waits on a close-on-exec pipe
//! until the child has either executed the command (end of file) or reported the stage at which
//! it failed. Nothing is spawned when the plan cannot be carried out: a setup failure in the
//! child is returned as an error after the child has been reaped.

mod child;
mod forward;
mod placeholder;

pub use forward::{FORWARDED_SIGNALS, SignalForwarder};

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

use crate::error::{Error, Result};
use crate::plan::SandboxPlan;
use crate::sys;
use child::{BindTarget, ChildImage, Stage};
use placeholder::Placeholder;

/// Where one of the child's standard streams goes.
#[derive(Debug, Default)]
pub enum Stdio {
    /// The parent's own descriptor.
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
    placeholders: Vec<Placeholder>,
}

impl Child {
    pub fn id(&self) -> u32 {
        self.pid as u32
    }

    /// A pidfd for the child (Linux ≥ 5.2), e.g. to poll for its exit from an event loop.
    pub fn pidfd(&self) -> Option<BorrowedFd<'_>> {
        self.pidfd.as_ref().map(AsFd::as_fd)
    }

    /// Sends `signal` to the command (through the pidfd, so never to a recycled pid).
    pub fn kill(&mut self, signal: i32) -> io::Result<()> {
        if self.status.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the child has already been reaped",
            ));
        }
        match &self.pidfd {
            Some(pidfd) => sys::pidfd_send_signal(pidfd.as_raw_fd(), signal),
            None => sys::kill(self.pid, signal),
        }
        .map_err(sys::Errno::into_io)
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
        let status = ExitStatus::from_raw(raw);
        self.status = Some(status);
        for placeholder in self.placeholders.drain(..) {
            placeholder.release();
        }
        status
    }
}

/// Starts the command described by `plan`.
pub fn spawn(plan: &SandboxPlan, options: SpawnOptions) -> Result<Child> {
    let mut parent_ends: [Option<File>; 3] = [None, None, None];
    let mut child_ends: Vec<OwnedFd> = Vec::new();
    let mut stdio = [-1; 3];
    for (index, request) in [options.stdin, options.stdout, options.stderr]
        .into_iter()
        .enumerate()
    {
        let child_end = match request {
            Stdio::Inherit => continue,
            Stdio::Null => open_dev_null()?,
            Stdio::Fd(fd) => fd,
            Stdio::Pipe => {
                let [read, write] = sys::pipe_cloexec().map_err(|errno| Error::Setup {
                    stage: "create a pipe",
                    source: errno.into_io(),
                    hint: "",
                })?;
                // SAFETY: pipe2 returned two fresh descriptors that nothing else owns.
                let (read, write) =
                    unsafe { (OwnedFd::from_raw_fd(read), OwnedFd::from_raw_fd(write)) };
                let (parent, child) = if index == 0 {
                    (write, read)
                } else {
                    (read, write)
                };
                parent_ends[index] = Some(File::from(parent));
                child
            }
        };
        stdio[index] = child_end.as_raw_fd();
        child_ends.push(child_end);
    }
    for fd in &options.pass_fds {
        if *fd < 3 {
            return Err(Error::argument(
                "pass_fds",
                format!("descriptor {fd} is a standard stream; use stdin/stdout/stderr"),
            ));
        }
        sys::fstat(*fd).map_err(|errno| {
            Error::argument("pass_fds", format!("descriptor {fd}: {}", errno.into_io()))
        })?;
    }

    let mut placeholders = Vec::new();
    let result = spawn_with_placeholders(
        plan,
        stdio,
        &options.pass_fds,
        options.die_with_parent,
        &mut placeholders,
    );
    drop(child_ends);
    match result {
        Ok((pid, pidfd)) => {
            let [stdin, stdout, stderr] = parent_ends;
            Ok(Child {
                pid,
                pidfd,
                stdin,
                stdout,
                stderr,
                status: None,
                placeholders,
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

fn spawn_with_placeholders(
    plan: &SandboxPlan,
    stdio: [RawFd; 3],
    pass_fds: &[RawFd],
    die_with_parent: bool,
    placeholders: &mut Vec<Placeholder>,
) -> Result<(libc::pid_t, Option<OwnedFd>)> {
    let mut binds = Vec::new();
    let mut ordered: Vec<_> = plan.read_only_binds.iter().collect();
    ordered.sort_by_key(|p| p.path.components().count());
    for protected in ordered {
        let reuse_or_create = protected.placeholder_if_missing
            && matches!(
                Placeholder::inspect(&protected.path)?,
                placeholder::Found::Placeholder
            );
        let (dev, ino) = if reuse_or_create {
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
        binds.push(BindTarget {
            path: c_path(&protected.path)?,
            dev,
            ino,
        });
    }

    let ruleset = plan
        .landlock
        .as_ref()
        .map(|landlock| landlock.create())
        .transpose()?;
    let [error_read, error_write] = sys::pipe_cloexec().map_err(|errno| Error::Setup {
        stage: "create the status pipe",
        source: errno.into_io(),
        hint: "",
    })?;
    // SAFETY: pipe2 returned two fresh descriptors that nothing else owns.
    let (error_read, error_write) = unsafe {
        (
            OwnedFd::from_raw_fd(error_read),
            OwnedFd::from_raw_fd(error_write),
        )
    };

    let argv_storage = c_strings(plan.exec.argv.iter().map(|a| a.as_bytes().to_vec()))?;
    let env_storage = c_strings(
        plan.exec
            .env
            .iter()
            .map(|(k, v)| [k.as_bytes(), b"=", v.as_bytes()].concat()),
    )?;
    let mut keep_fds: Vec<RawFd> = pass_fds.to_vec();
    keep_fds.push(error_write.as_raw_fd());
    if let Some(ruleset) = &ruleset {
        keep_fds.push(ruleset.raw_fd());
    }
    keep_fds.sort_unstable();
    keep_fds.dedup();

    let id_maps = if binds.is_empty() {
        None
    } else {
        // SAFETY: getuid/getgid cannot fail.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        Some((
            format!("{uid} {uid} 1\n").into_bytes(),
            format!("{gid} {gid} 1\n").into_bytes(),
        ))
    };
    let clone_flags = libc::CLONE_PIDFD as u64
        | if id_maps.is_some() {
            (libc::CLONE_NEWUSER | libc::CLONE_NEWNS) as u64
        } else {
            0
        };

    let image = ChildImage {
        argv: pointer_array(&argv_storage),
        envp: pointer_array(&env_storage),
        candidates: plan
            .exec
            .candidates
            .iter()
            .map(|p| c_path(p))
            .collect::<Result<_>>()?,
        cwd: c_path(&plan.exec.cwd)?,
        stdio,
        keep_fds,
        pass_fds: pass_fds.to_vec(),
        error_fd: error_write.as_raw_fd(),
        die_with_parent: die_with_parent.then(sys::getpid),
        id_maps,
        binds,
        drop_capabilities: plan.process.drop_capabilities,
        no_new_privs: plan.process.no_new_privs,
        landlock_fd: ruleset.as_ref().map(|r| r.raw_fd()),
        seccomp: plan.seccomp.as_ref().map(|s| s.program.clone()),
        fd_limit: fd_limit(),
    };

    let mut pidfd: RawFd = -1;
    let saved_mask = sys::block_all_signals();
    // SAFETY: the child branch only runs `child::run`, which is async-signal-safe and never
    // returns; every value it reads was built above and stays alive in its copy of memory.
    let cloned = unsafe { sys::clone_process(clone_flags, &mut pidfd) };
    if let Ok(0) = cloned {
        child::run(&image);
    }
    sys::set_signal_mask(&saved_mask);
    drop(error_write);
    drop(ruleset);
    let pid = cloned.map_err(|errno| clone_error(errno, clone_flags))?;
    // SAFETY: with CLONE_PIDFD the kernel stored a fresh descriptor that nothing else owns.
    let pidfd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) });
    // Keep the strings alive until the child has exec'd or failed; the image points into them.
    let outcome = read_child_report(error_read.as_raw_fd());
    drop((argv_storage, env_storage, image));
    match outcome {
        Ok(None) => Ok((pid, pidfd)),
        Ok(Some((stage, errno))) => {
            let _ = sys::waitpid(pid, 0);
            Err(child_error(plan, stage, errno))
        }
        Err(errno) => {
            let _ = sys::kill(pid, libc::SIGKILL);
            let _ = sys::waitpid(pid, 0);
            Err(Error::Setup {
                stage: "read the child's status",
                source: errno.into_io(),
                hint: "",
            })
        }
    }
}

/// Reads the child's failure report, or `None` when the pipe closed because `execve` worked.
fn read_child_report(fd: RawFd) -> std::result::Result<Option<(Stage, i32)>, sys::Errno> {
    let mut message = [0u8; 8];
    let mut filled = 0;
    while filled < message.len() {
        match sys::read(fd, &mut message[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    if filled == 0 {
        return Ok(None);
    }
    if filled != message.len() {
        return Err(sys::Errno(libc::EPROTO));
    }
    let stage = u32::from_ne_bytes(message[..4].try_into().unwrap_or_default());
    let errno = i32::from_ne_bytes(message[4..].try_into().unwrap_or_default());
    Ok(Some((
        Stage::from_u32(stage).ok_or(sys::Errno(libc::EPROTO))?,
        errno,
    )))
}

fn child_error(plan: &SandboxPlan, stage: Stage, errno: i32) -> Error {
    let source = io::Error::from_raw_os_error(errno);
    let program = plan.process.argv.first().cloned().unwrap_or_default();
    match (stage, errno) {
        (Stage::Exec, libc::ENOENT) | (Stage::Exec, libc::ENOTDIR) => {
            Error::CommandNotFound { program }
        }
        (Stage::Exec, _) => Error::CommandNotExecutable { program, source },
        (Stage::ProtectVerify, libc::ESTALE) => Error::Setup {
            stage: stage.describe(),
            source,
            hint: " (a protected path was replaced while the sandbox was being set up; refusing to run)",
        },
        (Stage::SetgroupsDeny | Stage::UidMap | Stage::GidMap | Stage::MountPropagation, _)
        | (Stage::ProtectClone | Stage::ProtectReadOnly | Stage::ProtectAttach, _) => {
            Error::Setup {
                stage: stage.describe(),
                source,
                hint: NAMESPACE_HINT,
            }
        }
        _ => Error::Setup {
            stage: stage.describe(),
            source,
            hint: "",
        },
    }
}

const NAMESPACE_HINT: &str = " (protected paths such as .git and .codex are kept read-only with a private user+mount \
namespace; this host refused it. Allow unprivileged user namespaces — sysctl user.max_user_namespaces > 0, \
kernel.unprivileged_userns_clone=1, kernel.apparmor_restrict_unprivileged_userns=0 — or use a read-only policy)";

fn clone_error(errno: sys::Errno, flags: u64) -> Error {
    let uses_namespaces = flags & libc::CLONE_NEWUSER as u64 != 0;
    if uses_namespaces
        && matches!(
            errno.0,
            libc::EPERM | libc::ENOSPC | libc::EINVAL | libc::EUSERS
        )
    {
        return Error::Unsupported {
            what: "keeping protected paths (.git, .codex) read-only".into(),
            reason: format!(
                "cannot create a user namespace: {}{NAMESPACE_HINT}",
                errno.into_io()
            ),
        };
    }
    Error::Setup {
        stage: "clone the sandbox process",
        source: errno.into_io(),
        hint: "",
    }
}

fn open_dev_null() -> Result<OwnedFd> {
    let fd = sys::open(c"/dev/null", libc::O_RDWR).map_err(|errno| Error::Setup {
        stage: "open /dev/null",
        source: errno.into_io(),
        hint: "",
    })?;
    // SAFETY: open returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn c_path(path: &std::path::Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::Internal(format!("NUL byte in {}", path.display())))
}

fn c_strings(items: impl Iterator<Item = Vec<u8>>) -> Result<Vec<CString>> {
    items
        .map(|bytes| {
            CString::new(bytes).map_err(|_| Error::Internal("NUL byte in argv or env".into()))
        })
        .collect()
}

fn pointer_array(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// The highest descriptor number the fallback close loop must reach.
fn fd_limit() -> RawFd {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: limit is a valid out parameter.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    if ok {
        limit.rlim_cur.min(1 << 20) as RawFd
    } else {
        1 << 16
    }
}
