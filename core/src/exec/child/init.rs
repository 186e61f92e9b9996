//! The sandbox's init: forks the command, forwards signals to it, reaps every orphan, and exits
//! with the command's status.
//!
//! On the namespace pipeline it is PID 1 of the sandbox's PID namespace: its exit makes the
//! kernel kill whatever is left there. On the landlock pipeline there is no PID namespace (it
//! may not be available at all), so init is a subreaper (`PR_SET_CHILD_SUBREAPER`): every
//! orphan of the sandbox is re-parented to it, not to the host's init. When the command exits
//! it kills its children, listed by `/proc/thread-self/children`, and reaps them, round after
//! round (the children of a killed process become its own) until it has no child left —
//! which, for a subreaper, means no descendant is left. Only then does it report and exit,
//! and only then are the placeholders released. Pids are safe to kill: a child is not reaped
//! (its pid not freed for reuse) until init itself waits for it.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};

use super::confine::drop_capabilities;
use super::fds::{close_other_fds, close_span};
use super::image::{InitImage, Subreaper, SupervisorImage};
use super::kernel::Kernel;
use crate::exec::report::{Stage, Step, at};
use crate::sys;

/// The command's pid, for the forwarding signal handler.
static COMMAND_PID: AtomicI32 = AtomicI32::new(0);

/// The wall-clock deadline (`CLOCK_MONOTONIC`, ms), 0 without one; and whether it expired while
/// the command ran (the command was killed for it).
static DEADLINE_MS: AtomicU64 = AtomicU64::new(0);
static EXPIRED: AtomicBool = AtomicBool::new(false);

/// Flags of init's status report, after the command's wait status.
pub(crate) const REPORT_WALL_TIME_EXCEEDED: u32 = 1;

/// A subreaper's launcher, when the sandbox dies with it: its death is announced by
/// [`LAUNCHER_GONE`] (not SIGKILL, which would end init and leave the descendants running),
/// and the handler turns it into SIGKILL for the command, after which init ends the rest.
static LAUNCHER: AtomicI32 = AtomicI32::new(0);
const LAUNCHER_GONE: libc::c_int = libc::SIGTERM;

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
    let launcher = LAUNCHER.load(Ordering::Relaxed);
    let signal =
        if signal == LAUNCHER_GONE && launcher > 0 && sys::getppid() != launcher { libc::SIGKILL } else { signal };
    if pid > 0 {
        let _ = sys::kill(pid, signal);
    }
}

/// SIGALRM with a wall-clock limit: at or after the deadline (init's own timer), the command
/// is killed and the run marked as ended by its limit, once; before it (a SIGALRM someone else
/// sent), forwarded like any other signal.
extern "C" fn wall_clock_alarm(signal: libc::c_int) {
    let deadline = DEADLINE_MS.load(Ordering::Relaxed);
    if deadline == 0 || sys::monotonic_ms() < deadline {
        return forward_signal(signal);
    }
    if EXPIRED.swap(true, Ordering::Relaxed) {
        return;
    }
    let pid = COMMAND_PID.load(Ordering::Relaxed);
    if pid > 0 {
        // SIGKILL: nothing of the command's can delay its end. Init then ends the rest of the
        // tree (PID 1's exit empties its namespace; a subreaper kills every descendant).
        let _ = sys::kill(pid, libc::SIGKILL);
    }
}

/// Forks the command. Returns in the command's process; in this process (PID 1) it runs the
/// init loop and never returns.
/// `die_with_parent` is the launcher whose death must end the sandbox.
pub(crate) fn fork_command(
    k: &impl Kernel,
    init: &InitImage,
    fd_limit: RawFd,
    die_with_parent: Option<libc::pid_t>,
    supervisor: Option<&SupervisorImage>,
) -> Step {
    if init.subreaper.is_some() {
        at(Stage::Subreaper, k.prctl(libc::PR_SET_CHILD_SUBREAPER, 1))?;
        // Without the children list the descendants could not be found once the command
        // exits: refuse now, before anything runs.
        at(Stage::Subreaper, k.open(CHILDREN, libc::O_RDONLY))?;
    }
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
    if let Some(ms) = init.wall_time_ms {
        // Armed while signals are blocked: the first SIGALRM is handled once they are unblocked.
        DEADLINE_MS.store(sys::monotonic_ms().saturating_add(ms), Ordering::Relaxed);
        k.set_signal_handler(libc::SIGALRM, wall_clock_alarm);
        if k.arm_alarm_ms(ms).is_err() {
            // A limit that cannot be enforced must not let the command run.
            let _ = sys::kill(pid, libc::SIGKILL);
            sys::exit_immediately(125);
        }
    }
    if let (Some(_), Some(launcher)) = (&init.subreaper, die_with_parent) {
        // Signals are still blocked: the handler runs once they are unblocked below.
        LAUNCHER.store(launcher, Ordering::Relaxed);
        let _ = k.prctl(libc::PR_SET_PDEATHSIG, LAUNCHER_GONE as libc::c_ulong);
        if k.getppid() != launcher {
            // Gone before the signal was re-armed.
            let _ = sys::kill(pid, libc::SIGKILL);
        }
    }
    // Init runs without Landlock or seccomp. Not dumpable, its memory (`/proc/1/mem`) and
    // descriptors are out of the command's reach even where neither Landlock nor Yama would
    // stop a same-uid process: that takes CAP_SYS_PTRACE in the host's user namespace.
    // Init keeps nothing of the command's — its standard streams, its other descriptors, the
    // report pipe (which must close when the command execs) — only the status pipe and the
    // placeholder locks, all at 3 or above. Init needs no privilege to reap and forward: it
    // drops it, like the command will. If any of this fails, init must not run on weaker than
    // planned: the command is killed (before or just after its exec) and the sandbox ends 125.
    let hardened = k.prctl(libc::PR_SET_DUMPABLE, 0).is_ok()
        && close_other_fds(k, &init.keep_fds, fd_limit).is_ok()
        && close_span(k, 0, 2, fd_limit).is_ok()
        && drop_capabilities(k).is_ok()
        && k.prctl(libc::PR_SET_NO_NEW_PRIVS, 1).is_ok();
    if !hardened {
        let _ = sys::kill(pid, libc::SIGKILL);
        sys::exit_immediately(125);
    }
    k.unblock_all_signals();
    match supervisor {
        Some(supervisor) => supervise_until_command_exits(pid, init.status_fd, init.subreaper.as_ref(), supervisor),
        None => reap_until_command_exits(pid, init.status_fd, init.subreaper.as_ref()),
    }
}

/// [`reap_until_command_exits`] while answering the command's metadata calls
/// ([`super::supervisor`]): init waits on SIGCHLD (a signalfd), on the socket the command's
/// listener arrives on, and on the listener, so that neither a call nor an exit waits for the
/// other. A call waits until init answers it: init must never block elsewhere meanwhile.
fn supervise_until_command_exits(
    command: libc::pid_t,
    status_fd: RawFd,
    subreaper: Option<&Subreaper>,
    supervisor: &SupervisorImage,
) -> ! {
    use std::os::fd::AsRawFd;
    // SIGCHLD stays blocked from here on and is read from the signalfd; a child that exited
    // before is a zombie the first round below reaps.
    let Ok((children, _)) = sys::block_into_signalfd(&[libc::SIGCHLD]) else { fail_and_end(command) };
    let mut socket = supervisor.init_socket;
    let mut listener: Option<std::os::fd::OwnedFd> = None;
    loop {
        loop {
            match sys::waitpid(-1, libc::WNOHANG) {
                Ok((0, _)) => break,
                Ok((pid, status)) if pid == command => finish(status, status_fd, subreaper),
                Ok(_) => {}
                Err(errno) if errno.0 == libc::EINTR => {}
                Err(_) => sys::exit_immediately(125),
            }
        }
        let listener_fd = listener.as_ref().map_or(-1, AsRawFd::as_raw_fd);
        let mut fds = [
            libc::pollfd { fd: children.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: socket, events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: listener_fd, events: libc::POLLIN, revents: 0 },
        ];
        match sys::poll_once(&mut fds, -1) {
            Ok(_) => {}
            Err(errno) if errno.0 == libc::EINTR => continue,
            Err(_) => fail_and_end(command),
        }
        let [signals, handover, calls] = fds;
        if signals.revents & libc::POLLIN != 0 {
            let _ = sys::read_signalfd(children.as_raw_fd());
        }
        if handover.revents != 0 {
            match sys::recv_fd(socket) {
                Ok(Some((_, fd))) if listener.is_none() => listener = Some(fd),
                // Nothing more can come: the command has exec'd, or failed before.
                Ok(None) if handover.revents & (libc::POLLHUP | libc::POLLERR) != 0 => socket = -1,
                Ok(None) => {}
                Ok(Some(_)) | Err(_) => fail_and_end(command),
            }
        }
        if calls.revents & libc::POLLIN != 0 {
            super::supervisor::handle_one(listener_fd, supervisor);
        } else if calls.revents != 0 {
            // Every filtered process is gone (POLLHUP): nothing more will arrive.
            listener = None;
        }
    }
}

/// Init cannot go on supervising: the command must not run unsupervised (its metadata calls
/// would wait for ever), so the sandbox ends.
fn fail_and_end(command: libc::pid_t) -> ! {
    let _ = sys::kill(command, libc::SIGKILL);
    sys::exit_immediately(125)
}

/// The command exited with `status`: end what is left (a subreaper), report, exit.
fn finish(status: libc::c_int, status_fd: RawFd, subreaper: Option<&Subreaper>) -> ! {
    // Reaped: its pid may be reused from now on, so no handler may signal it.
    COMMAND_PID.store(0, Ordering::Relaxed);
    let flags = if EXPIRED.load(Ordering::Relaxed) { REPORT_WALL_TIME_EXCEEDED } else { 0 };
    if let Some(subreaper) = subreaper
        && !end_descendants(subreaper)
    {
        // Some descendant may still run: no status, so the launcher reports init's failure
        // rather than the command's exit.
        sys::exit_immediately(125)
    }
    let mut report = [0u8; 8];
    let (word, rest) = report.split_at_mut(4);
    word.copy_from_slice(&status.to_ne_bytes());
    rest.copy_from_slice(&flags.to_ne_bytes());
    // One write of 8 bytes (below PIPE_BUF): the launcher reads it whole.
    let _ = sys::write_all(status_fd, &report);
    let code =
        if libc::WIFSIGNALED(status) { libc::WTERMSIG(status).saturating_add(128) } else { libc::WEXITSTATUS(status) };
    sys::exit_immediately(code)
}

/// The children of this (single-threaded) process.
const CHILDREN: &std::ffi::CStr = c"/proc/thread-self/children";

/// Rounds of killing and reaping before a subreaper gives up on a tree that keeps growing.
/// Each round reaps at least one process, so this bounds the processes a run may leave
/// (`RLIMIT_NPROC` bounds them too).
const MAX_REAP_ROUNDS: u32 = 1 << 16;

/// Reaps every process of the sandbox (orphans are re-parented to init) until the command
/// exits; a subreaper then ends every descendant. Reports the command's status and exits.
fn reap_until_command_exits(command: libc::pid_t, status_fd: RawFd, subreaper: Option<&Subreaper>) -> ! {
    loop {
        match sys::waitpid(-1, 0) {
            Ok((pid, status)) if pid == command => finish(status, status_fd, subreaper),
            Ok(_) => {}
            Err(errno) if errno.0 == libc::EINTR => {}
            Err(_) => sys::exit_immediately(125),
        }
    }
}

/// Kills and reaps every child until none is left; `false` when that cannot be verified.
fn end_descendants(subreaper: &Subreaper) -> bool {
    let Ok(mut buffer) = subreaper.children.try_borrow_mut() else { return false };
    for _ in 0..MAX_REAP_ROUNDS {
        // Children first (not reaped yet, so their pids cannot have been reused), then wait.
        let Ok(file) = sys::open(CHILDREN, libc::O_RDONLY) else { return false };
        let read = sys::read(std::os::fd::AsRawFd::as_raw_fd(&file), &mut buffer);
        drop(file);
        let Ok(length) = read else { return false };
        for pid in pids(buffer.get(..length).unwrap_or_default()) {
            let _ = sys::kill(pid, libc::SIGKILL);
        }
        match sys::waitpid(-1, 0) {
            Ok(_) => {}
            Err(errno) if errno.0 == libc::ECHILD => return true,
            Err(errno) if errno.0 == libc::EINTR => {}
            Err(_) => return false,
        }
    }
    false
}

/// The pids of a children list: decimal numbers separated by spaces. A number cut off at the
/// end of a full buffer is dropped (it is read again in the next round).
fn pids(list: &[u8]) -> impl Iterator<Item = libc::pid_t> + '_ {
    let complete = match list.iter().rposition(|b| *b == b' ') {
        Some(last_space) => list.get(..last_space).unwrap_or_default(),
        None => list,
    };
    complete.split(|b| *b == b' ').filter_map(|digits| {
        let mut pid: libc::pid_t = 0;
        if digits.is_empty() {
            return None;
        }
        for digit in digits {
            if !digit.is_ascii_digit() {
                return None;
            }
            pid = pid.checked_mul(10)?.checked_add(libc::pid_t::from(digit.wrapping_sub(b'0')))?;
        }
        (pid > 0).then_some(pid)
    })
}

#[cfg(test)]
mod pid_list_tests {
    #[test]
    fn parses_the_kernels_children_list() {
        assert_eq!(super::pids(b"12 345 6 ").collect::<Vec<_>>(), [12, 345, 6]);
        // A final number without its separator may have been cut off by a full buffer.
        assert_eq!(super::pids(b"12 34").collect::<Vec<_>>(), [12]);
        assert_eq!(super::pids(b"").count(), 0);
        assert_eq!(super::pids(b"0 x1 99999999999 7 ").collect::<Vec<_>>(), [7]);
    }
}
