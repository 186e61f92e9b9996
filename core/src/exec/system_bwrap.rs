//! The second executor of a `bwrap` plan: an installed bubblewrap, given the plan's view as
//! arguments ([`crate::plan::bwrap_args`]) and its seccomp program through `--seccomp FD`.
//! It exists so users can prefer upstream bubblewrap and so tests can run one plan through
//! both executors and compare. Works with Debian 12's bwrap 0.8.0 (no `--argv0` needed).
//! bwrap applies no Landlock layer; `prepare` says so in the plan's warnings.

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::ExitStatus;
use super::image;
use super::launch::{self, LaunchOptions, Launched};
use super::placeholder::Placeholder;
use crate::error::{Error, Result};
use crate::plan::{SandboxPlan, bwrap_args};
use crate::sys;

pub(crate) fn launch(
    plan: &SandboxPlan,
    bwrap: &Path,
    options: &LaunchOptions,
    placeholders: &mut Vec<Placeholder>,
) -> Result<Launched> {
    // bwrap binds the protected paths itself; the placeholders of missing ones must exist
    // (and stay locked) for as long as it runs.
    check_command(plan)?;
    image::protected_targets(plan, placeholders, options.fd_floor)?;
    let seccomp = plan.seccomp().map(|s| seccomp_memfd(&s.program, options.fd_floor)).transpose()?;
    let fd = seccomp.as_ref().map(|memfd| memfd.as_raw_fd().to_string());
    let (status_read, status_write) = launch::pipe("create bwrap's status pipe", options.fd_floor)?;
    sys::set_nonblocking(status_read.as_raw_fd(), true)
        .map_err(|errno| Error::setup("create bwrap's status pipe", errno.into_io()))?;
    let status_fd = status_write.as_raw_fd().to_string();
    let mut argv: Vec<std::ffi::OsString> =
        bwrap_args::command_line(plan, bwrap, fd.as_deref(), &status_fd).into_iter().map(Into::into).collect();
    argv.extend(plan.exec.argv.iter().cloned());
    // bwrap does the isolation; this process only starts it.
    let outer = plan.bwrap_launcher(bwrap, argv);
    let mut pass_fds = options.pass_fds.to_vec();
    pass_fds.extend(seccomp.as_ref().map(AsRawFd::as_raw_fd));
    pass_fds.push(status_write.as_raw_fd());
    let outer_options = LaunchOptions { pass_fds: &pass_fds, fd_map: options.fd_map.clone(), ..*options };
    let mut launched = launch::launch(&outer, &outer_options, placeholders)?;
    launched.bwrap_status = Some(BwrapStatus { read: status_read, bwrap: bwrap.to_path_buf() });
    Ok(launched)
}

/// bwrap's `--json-status-fd` report, read once bwrap has exited.
#[derive(Debug)]
pub(crate) struct BwrapStatus {
    read: OwnedFd,
    bwrap: PathBuf,
}

impl BwrapStatus {
    /// The setup failure bwrap's exit `status` stands for, if it is one: bwrap writes
    /// `exit-code` only once the command has run, so without it bwrap stopped in its setup
    /// (and printed why on stderr) and its exit code (1) is not the command's.
    pub(crate) fn setup_failure(&self, status: ExitStatus) -> Option<Error> {
        let ExitStatus::Exited(code) = status else { return None };
        let mut report = Vec::new();
        let mut chunk = [0u8; 512];
        // Non-blocking: bwrap has exited, so all it wrote is in the pipe.
        while let Ok(n @ 1..) = sys::read(self.read.as_raw_fd(), &mut chunk) {
            report.extend_from_slice(&chunk[..n]);
        }
        if String::from_utf8_lossy(&report).contains("\"exit-code\"") {
            return None;
        }
        Some(Error::Setup {
            stage: "set up the sandbox with the installed bwrap (its own message is above)",
            subject: Some(format!("{} exited with {code} before starting the command", self.bwrap.display())),
            source: std::io::Error::other("no exit-code in its --json-status-fd report"),
            hint: " (without --bwrap-path the embedded launcher names the failing step with its errno and a remedy; \
                   `codex-linux-sandbox doctor` checks this host)",
        })
    }
}

/// What the embedded launcher reports as 127 and 126 (bwrap would exit 1 either way): the
/// command is looked up here, in the view bwrap binds from, the way `execvp` would.
fn check_command(plan: &SandboxPlan) -> Result<()> {
    let mut denied = None;
    for candidate in &plan.exec.candidates {
        match std::fs::metadata(candidate) {
            Ok(metadata) if metadata.is_file() && metadata.permissions().mode() & 0o111 != 0 => return Ok(()),
            Ok(_) => denied = Some(std::io::Error::from_raw_os_error(libc::EACCES)),
            Err(error) if matches!(error.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {}
            Err(error) => {
                denied.get_or_insert(error);
            }
        }
    }
    let program = plan.process.argv.first().cloned().unwrap_or_default();
    Err(match denied {
        Some(source) => Error::CommandNotExecutable { program, source },
        None => Error::CommandNotFound { program },
    })
}

/// The BPF program as bwrap reads it: `struct sock_filter` records, native endian.
fn seccomp_memfd(program: &[sys::SockFilter], fd_floor: std::os::fd::RawFd) -> Result<OwnedFd> {
    let memfd = sys::memfd_create(c"codex-sandbox-seccomp")
        .map_err(|errno| Error::setup("create the seccomp memfd", errno.into_io()))?;
    let memfd = launch::renumber(memfd, fd_floor, "create the seccomp memfd")?;
    let mut file = std::fs::File::from(memfd);
    let mut bytes = Vec::with_capacity(program.len() * 8);
    for instruction in program {
        bytes.extend_from_slice(&instruction.code.to_ne_bytes());
        bytes.extend_from_slice(&[instruction.jt, instruction.jf]);
        bytes.extend_from_slice(&instruction.k.to_ne_bytes());
    }
    let io_error = |source| Error::setup("write the seccomp memfd", source);
    file.write_all(&bytes).map_err(io_error)?;
    std::io::Seek::rewind(&mut file).map_err(io_error)?;
    Ok(file.into())
}
