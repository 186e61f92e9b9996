//! The second executor of a `bwrap` plan: an installed bubblewrap, given the plan's view as
//! arguments ([`crate::plan::bwrap_args`]) and its seccomp program through `--seccomp FD`.
//! It exists so users can prefer upstream bubblewrap and so tests can run one plan through
//! both executors and compare. Works with Debian 12's bwrap 0.8.0 (no `--argv0` needed).
//! bwrap applies no Landlock layer; `prepare` says so in the plan's warnings.

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

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
    image::protected_targets(plan, placeholders, options.fd_floor)?;
    let seccomp = plan.seccomp().map(|s| seccomp_memfd(&s.program, options.fd_floor)).transpose()?;
    let fd = seccomp.as_ref().map(|memfd| memfd.as_raw_fd().to_string());
    let mut argv: Vec<std::ffi::OsString> =
        bwrap_args::command_line(plan, bwrap, fd.as_deref()).into_iter().map(Into::into).collect();
    argv.extend(plan.exec.argv.iter().cloned());
    // bwrap does the isolation; this process only starts it.
    let outer = plan.bwrap_launcher(bwrap, argv);
    let mut pass_fds = options.pass_fds.to_vec();
    pass_fds.extend(seccomp.as_ref().map(AsRawFd::as_raw_fd));
    let outer_options = LaunchOptions { pass_fds: &pass_fds, fd_map: options.fd_map.clone(), ..*options };
    launch::launch(&outer, &outer_options, placeholders)
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
