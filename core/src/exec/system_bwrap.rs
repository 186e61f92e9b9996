//! The second executor of a `bwrap` plan: an installed bubblewrap, given the plan's view as
//! arguments ([`crate::plan::mounts::bwrap_args`]) and its seccomp program through `--seccomp FD`.
//! It exists so users can prefer upstream bubblewrap and so tests can run one plan through
//! both executors and compare. Works with Debian 12's bwrap 0.8.0 (no `--argv0` needed).
//! bwrap applies no Landlock layer; `prepare` says so in the plan's warnings.

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use super::launch::{self, LaunchOptions, Launched};
use super::placeholder::Placeholder;
use crate::error::{Error, Result};
use crate::plan::mounts;
use crate::plan::{Pipeline, SandboxPlan};
use crate::sys;

/// The `bwrap` command line for `plan` (without the command), with the seccomp program read
/// from `seccomp_fd` (a descriptor number, or a placeholder for `--explain`).
pub(crate) fn command_line(plan: &SandboxPlan, bwrap: &Path, seccomp_fd: Option<&str>) -> Vec<String> {
    let mut args = vec![bwrap.to_string_lossy().into_owned()];
    let mut push = |items: &[&str]| args.extend(items.iter().map(|s| s.to_string()));
    push(&[
        "--new-session",
        "--die-with-parent",
        "--unshare-user",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--cap-drop",
        "ALL",
    ]);
    if plan.namespaces.as_ref().is_some_and(|ns| ns.network) {
        push(&["--unshare-net"]);
    }
    args.extend(mounts::bwrap_args(&plan.mounts));
    args.push("--chdir".into());
    args.push(plan.exec.cwd.to_string_lossy().into_owned());
    if let Some(fd) = seccomp_fd {
        args.push("--seccomp".into());
        args.push(fd.to_string());
    }
    args.push("--".into());
    args
}

pub(crate) fn launch(
    plan: &SandboxPlan,
    bwrap: &Path,
    options: &LaunchOptions,
    placeholders: &mut Vec<Placeholder>,
) -> Result<Launched> {
    let seccomp = plan.seccomp.as_ref().map(|s| seccomp_memfd(&s.program)).transpose()?;
    let fd = seccomp.as_ref().map(|memfd| memfd.as_raw_fd().to_string());
    let mut argv: Vec<std::ffi::OsString> =
        command_line(plan, bwrap, fd.as_deref()).into_iter().map(Into::into).collect();
    argv.extend(plan.exec.argv.iter().cloned());

    // bwrap does the isolation; this process only starts it (and keeps the placeholders of
    // missing protected paths alive, which `launch` creates from `read_only_binds`).
    let mut outer = plan.clone();
    outer.pipeline = Pipeline::Unsandboxed;
    outer.landlock = None;
    outer.seccomp = None;
    outer.process.no_new_privs = false;
    outer.process.drop_capabilities = false;
    outer.exec.argv = argv;
    outer.exec.candidates = vec![bwrap.to_path_buf()];
    let mut pass_fds = options.pass_fds.to_vec();
    pass_fds.extend(seccomp.as_ref().map(AsRawFd::as_raw_fd));
    let outer_options =
        LaunchOptions { stdio: options.stdio, pass_fds: &pass_fds, die_with_parent: options.die_with_parent };
    launch::launch(&outer, &outer_options, placeholders)
}

/// The BPF program as bwrap reads it: `struct sock_filter` records, native endian.
fn seccomp_memfd(program: &[sys::SockFilter]) -> Result<OwnedFd> {
    let memfd = sys::memfd_create(c"codex-sandbox-seccomp").map_err(|errno| Error::Setup {
        stage: "create the seccomp memfd",
        source: errno.into_io(),
        hint: "",
    })?;
    let mut file = std::fs::File::from(memfd);
    let mut bytes = Vec::with_capacity(program.len() * 8);
    for instruction in program {
        bytes.extend_from_slice(&instruction.code.to_ne_bytes());
        bytes.extend_from_slice(&[instruction.jt, instruction.jf]);
        bytes.extend_from_slice(&instruction.k.to_ne_bytes());
    }
    let io_error = |source| Error::Setup { stage: "write the seccomp memfd", source, hint: "" };
    file.write_all(&bytes).map_err(io_error)?;
    std::io::Seek::rewind(&mut file).map_err(io_error)?;
    Ok(file.into())
}
