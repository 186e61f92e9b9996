//! Delivering a caller's signal to a sandboxed command.
//!
//! On the namespace pipeline the spawning process holds the sandbox's init (PID 1), which
//! forwards every catchable signal to the command. SIGSTOP cannot be caught: sent to init it
//! would stop init alone while the command ran on. So SIGSTOP goes to the command itself —
//! the child of init whose pid inside the sandbox is 2 (the first process init forks), found
//! through `/proc` and pinned with a pidfd before it is checked, so a recycled pid can never be
//! signalled. SIGCONT needs nothing special: init forwards it.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use crate::sys;

/// Sends `signal` to the command behind `pidfd` (the child the launcher created, `pid`);
/// `via_init` says that child is the sandbox's init.
pub fn deliver(pidfd: BorrowedFd<'_>, pid: libc::pid_t, via_init: bool, signal: i32) -> io::Result<()> {
    if via_init && signal == libc::SIGSTOP {
        return match command_under_init(pid)? {
            Some(command) => sys::pidfd_send_signal(command.as_raw_fd(), signal).map_err(sys::Errno::into_io),
            // The command has exited; init is reaping what is left and about to exit.
            None => Ok(()),
        };
    }
    sys::pidfd_send_signal(pidfd.as_raw_fd(), signal).map_err(sys::Errno::into_io)
}

/// A pidfd for the command running under init `init_pid`, or `None` when it has exited.
pub(crate) fn command_under_init(init_pid: libc::pid_t) -> io::Result<Option<OwnedFd>> {
    let children = std::fs::read_to_string(format!("/proc/{init_pid}/task/{init_pid}/children"))?;
    for pid in children.split_whitespace().filter_map(|pid| pid.parse::<libc::pid_t>().ok()) {
        if !is_the_command(pid, init_pid) {
            continue;
        }
        let Ok(pidfd) = sys::pidfd_open(pid) else { continue };
        // The pidfd pins the process: checked again now, the answer cannot go stale.
        if is_the_command(pid, init_pid) {
            return Ok(Some(pidfd));
        }
    }
    Ok(None)
}

/// Whether `pid` is a child of `init_pid` with pid 2 in the sandbox's PID namespace.
fn is_the_command(pid: libc::pid_t, init_pid: libc::pid_t) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { return false };
    let field = |name: &str| {
        status.lines().find_map(|line| line.strip_prefix(name)).map(|rest| rest.split_whitespace().collect::<Vec<_>>())
    };
    let parent_is_init = field("PPid:").is_some_and(|ppid| ppid.first() == Some(&init_pid.to_string().as_str()));
    // NSpid lists the pid in each namespace from the host's down: the last is the sandbox's.
    let second_in_sandbox = field("NSpid:").is_some_and(|pids| pids.len() >= 2 && pids.last() == Some(&"2"));
    parent_is_init && second_in_sandbox
}
