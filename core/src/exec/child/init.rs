//! The sandbox's PID 1 (namespace pipeline): forks the command, forwards signals to it, reaps
//! every orphan, and exits with the command's status — which makes the kernel kill whatever
//! is left in the PID namespace.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};

use super::confine::drop_capabilities;
use super::fds::{close_other_fds, close_span};
use super::image::InitImage;
use super::kernel::Kernel;
use crate::exec::report::{Stage, Step, at};
use crate::sys;

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
pub(crate) fn fork_command(k: &impl Kernel, init: &InitImage, fd_limit: RawFd) -> Step {
    // SAFETY: this process is single-threaded (a fresh clone); both sides continue with
    // async-signal-safe code only.
    let (pid, _) = at(Stage::Fork, unsafe { k.clone_process(0) })?;
    if pid == 0 {
        return Ok(());
    }
    COMMAND_PID.store(pid, Ordering::Relaxed);
    // Handlers the host installed must not run here, and a host that ignores SIGCHLD would
    // make waitpid fail: start from the defaults, then forward.
    k.reset_signal_handlers();
    for signal in (1..=libc::SIGRTMAX()).filter(|signal| forwarded(*signal)) {
        k.set_signal_handler(signal, forward_signal);
    }
    // Init runs without Landlock or seccomp. Not dumpable, its memory (`/proc/1/mem`) and
    // descriptors are out of the command's reach even where neither Landlock nor Yama would
    // stop a same-uid process: that takes CAP_SYS_PTRACE in the host's user namespace.
    let _ = k.prctl(libc::PR_SET_DUMPABLE, 0);
    // Init keeps nothing of the command's — its standard streams, its other descriptors, the
    // report pipe (which must close when the command execs) — only the status pipe and the
    // placeholder locks, all at 3 or above.
    let _ = close_other_fds(k, &init.keep_fds, fd_limit);
    let _ = close_span(k, 0, 2, fd_limit);
    // Init needs no privilege to reap and forward: drop it, like the command will.
    let _ = drop_capabilities(k);
    let _ = k.prctl(libc::PR_SET_NO_NEW_PRIVS, 1);
    k.unblock_all_signals();
    reap_until_command_exits(pid, init.status_fd)
}

/// Reaps every process of the sandbox (orphans are re-parented to PID 1) until the command
/// exits, then reports its status and exits.
fn reap_until_command_exits(command: libc::pid_t, status_fd: RawFd) -> ! {
    loop {
        match sys::waitpid(-1, 0) {
            Ok((pid, status)) if pid == command => {
                let _ = sys::write_all(status_fd, &status.to_ne_bytes());
                let code = if libc::WIFSIGNALED(status) {
                    libc::WTERMSIG(status).saturating_add(128)
                } else {
                    libc::WEXITSTATUS(status)
                };
                sys::exit_immediately(code)
            }
            Ok(_) => {}
            Err(_) => sys::exit_immediately(125),
        }
    }
}
