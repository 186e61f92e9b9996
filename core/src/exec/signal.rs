//! Delivering a caller's signal to a sandboxed command.
//!
//! On the namespace pipeline the spawning process holds the sandbox's init (PID 1), which
//! forwards every catchable signal to the command. SIGSTOP cannot be caught: sent to init it
//! would stop init alone while the command ran on. So SIGSTOP goes to the command itself —
//! the child of init whose pid inside the sandbox is 2 (the first process init forks), found
//! through `/proc` and pinned with a pidfd before it is checked, so a recycled pid can never be
//! signalled. SIGCONT needs nothing special: init forwards it.
//!
//! On the landlock pipeline init is a subreaper in the host's PID namespace, which the kernel
//! does not end with it: SIGKILL sent to init would leave the command's descendants running
//! (the command itself dies with its parent). So SIGKILL goes to the command too — init then
//! kills and reaps what is left before it exits. The command is init's first child: the
//! kernel lists children in the order they became children, and every other child of init is
//! an orphan re-parented to it after the command was forked.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use crate::sys;

/// Sends `signal` to the command behind `pidfd` (the child the launcher created, `pid`);
/// `via_init` says that child is the sandbox's init.
pub fn deliver(pidfd: BorrowedFd<'_>, pid: libc::pid_t, via_init: bool, signal: i32) -> io::Result<()> {
    if via_init && matches!(signal, libc::SIGSTOP | libc::SIGKILL) {
        match command_under_init(pid)? {
            // In a PID namespace SIGKILL to init ends everything: it goes to init below.
            Some((command, Namespace::Own)) if signal == libc::SIGKILL => drop(command),
            Some((command, _)) => {
                return match sys::pidfd_send_signal(command.as_raw_fd(), signal) {
                    // Exited since it was found: init is ending the rest.
                    Err(errno) if errno.0 == libc::ESRCH => Ok(()),
                    sent => sent.map_err(sys::Errno::into_io),
                };
            }
            // The command has exited; init is reaping what is left and about to exit.
            None => return Ok(()),
        }
    }
    sys::pidfd_send_signal(pidfd.as_raw_fd(), signal).map_err(sys::Errno::into_io)
}

/// Whether the command runs in a PID namespace of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Namespace {
    /// The namespace pipeline: pid 2 of the sandbox's namespace.
    Own,
    /// The landlock pipeline: the host's (init is a subreaper).
    Host,
}

/// A pidfd for the command running under init `init_pid`, or `None` when it has exited.
pub(crate) fn command_under_init(init_pid: libc::pid_t) -> io::Result<Option<(OwnedFd, Namespace)>> {
    let children = std::fs::read_to_string(format!("/proc/{init_pid}/task/{init_pid}/children"))?;
    for (index, pid) in children.split_whitespace().filter_map(|pid| pid.parse::<libc::pid_t>().ok()).enumerate() {
        if which_command(pid, init_pid, index).is_none() {
            continue;
        }
        let Ok(pidfd) = sys::pidfd_open(pid) else { continue };
        // The pidfd pins the process: checked again now, the answer cannot go stale.
        if let Some(namespace) = which_command(pid, init_pid, index) {
            return Ok(Some((pidfd, namespace)));
        }
    }
    Ok(None)
}

/// Whether `pid`, the child of `init_pid` listed at `index`, is the command: pid 2 of the
/// sandbox's PID namespace, or, in this process's namespace, init's first child.
fn which_command(pid: libc::pid_t, init_pid: libc::pid_t, index: usize) -> Option<Namespace> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status.lines().find_map(|line| line.strip_prefix(name)).map(|rest| rest.split_whitespace().collect::<Vec<_>>())
    };
    if field("PPid:").is_none_or(|ppid| ppid.first() != Some(&init_pid.to_string().as_str())) {
        return None;
    }
    // NSpid lists the pid in each namespace from this process's down: the last is the
    // command's own.
    match field("NSpid:")?.as_slice() {
        [_, .., "2"] => Some(Namespace::Own),
        [_] if index == 0 => Some(Namespace::Host),
        _ => None,
    }
}
